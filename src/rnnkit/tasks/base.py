"""What a task is: a thin binding of readers, a structure and metrics.

A task (``classify``, ``forecast``, ``tag``, ``translate``, ``generate``) subclasses
:class:`Task` and says only what is its own: its options, how its files become examples,
which model it trains, how a batch is formed and scored. Everything a run shares — the run
directory, checkpoints and resume, progress, Ctrl-C, data-parallel training — lives in
:mod:`rnnkit.tasks.runner`, written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.tasks.options import COMMON, Option
from rnnkit.text.lexicon import Lexicon
from rnnkit.text.vocab import Vocab
from rnnkit.train import evaluating

__all__ = [
    "Prepared",
    "Recipe",
    "Task",
    "embedding_dim",
    "evaluate_examples",
    "grown_vocab",
    "lexicon_column",
    "pretrained_vectors",
    "vector_words",
    "vectors_vocab",
    "vocab_artifact",
]

Batch = Any
Log = Callable[[str], None]


@dataclass
class Prepared:
    """A task's data, ready for training.

    Attributes:
        train, valid, test: the examples of each split (``test`` may be ``None``); each has a
            ``len()`` (examples, or streams for language models).
        artifacts: what must be kept to use the model later, by name; each value is
            JSON-able and is written to ``RUN_DIR/{name}.json`` (``vocab``, ``labels``,
            ``scaler``...). A resumed or loaded run gets them back as they were written.
        info: facts for the log (e.g. ``{"train": "4478 sentences"}``); not saved.
        initial: starting values of a new model's parameters, by parameter name (e.g.
            pretrained word vectors as ``"words.weight"``); copied in after the model is
            built, so they cost no artifact file (a resumed run's checkpoint replaces them).
        chosen: values the task chose from the data for options left to it (``None`` in the
            config, e.g. a forecast's ``window`` for a short series); the runner puts them in
            the run's config before it builds the model and writes ``config.json``.
    """

    train: Any
    valid: Any
    test: Any | None
    artifacts: dict[str, Any] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)
    initial: dict[str, Tensor] = field(default_factory=dict)
    chosen: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """A named configuration that reproduces a published result on a shared data set.

    Attributes:
        name: what ``--recipe`` takes (``mnist-rows``).
        options: option values (anything not given takes the task's default).
        files: options naming data files, as paths relative to the data directory.
        anchor: the published result to reach, in words.
        bars: ``metrics.json`` key -> the value to reach (at least, or at most for losses,
            errors and perplexities); a key ``"test_mse|horizon=24"`` holds for that variant
            of the sweep only. ``benchmarks/run_recipes.py`` reports each as met or not.
        sweep: option -> values; the recipe runs once per value (e.g. forecast horizons).
        uses: option -> the name of another recipe whose run directory the option takes
            (``{"judge": "mnist-rows"}``); ``run_recipes.py`` passes it, a user gives it.
    """

    name: str
    options: Mapping[str, Any]
    files: Mapping[str, str]
    anchor: str = ""
    bars: Mapping[str, float] = field(default_factory=dict)
    sweep: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    uses: Mapping[str, str] = field(default_factory=dict)


class Task:
    """The part of a training pipeline that belongs to one task. Subclasses set the class
    attributes and implement the methods that raise ``NotImplementedError``."""

    #: the name of ``rnnkit train NAME``
    name: str = ""
    #: the task's own options (data formats, model details); :data:`COMMON` come with them
    task_options: tuple[Option, ...] = ()
    #: overrides of the common defaults, e.g. ``{"epochs": 20}``
    common_defaults: Mapping[str, Any] = {}
    #: ``epochs``/``patience`` where the runner may grow them for a small training split
    #: (:mod:`rnnkit.tasks.budget`; the task needs the ``min_updates`` option) when neither
    #: the user nor the recipe gave them; a new run's config lists those as ``"sized_by_data"``
    sized_by_data: tuple[str, ...] = ()
    #: named configurations (``--recipe``)
    recipes: Mapping[str, Recipe] = {}
    #: the history column early stopping and the plateau schedule watch, and its direction
    monitor: tuple[str, str] = ("valid_loss", "min")
    #: validation metrics shown in each epoch's line, by their name without ``valid_``
    shown_metrics: tuple[str, ...] = ()
    #: examples for ``--help``
    examples: str = ""

    # ------------------------------------------------------------------ options
    def options(self) -> tuple[Option, ...]:
        """Every option of the task: its own, then the common ones (with its defaults)."""
        own = {option.name for option in self.task_options}
        common = tuple(
            Option(
                o.name,
                self.common_defaults.get(o.name, o.default),
                o.kind,
                o.help,
                o.group,
                o.nullable,
                o.choices,
            )
            for o in COMMON
            if o.name not in own
        )
        return (*self.task_options, *common)

    def defaults(self) -> dict[str, Any]:
        """Every option's default value."""
        return {option.name: option.default for option in self.options()}

    def check(self, config: Mapping[str, Any], where: str) -> None:
        """Checks between options, after each was checked alone (``ValueError``, one line)."""

    def monitor_of(self, config: Mapping[str, Any]) -> tuple[str, str]:
        """The history column early stopping, the plateau schedule and ``checkpoints/best``
        watch for a run with ``config``, and its direction (default: :attr:`monitor`)."""
        return self.monitor

    def resumable(self) -> tuple[str, ...]:
        """Options that may change when a run is resumed; the others define the run."""
        return ("epochs", "device")

    def artifact_names(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        """The names of the :attr:`Prepared.artifacts` a run with ``config`` keeps."""
        return ()

    def bptt(self, config: Mapping[str, Any]) -> int | None:
        """Truncated BPTT chunk length, or ``None`` for full BPTT."""
        return None

    # ------------------------------------------------------------------ training
    def prepare(self, config: Mapping[str, Any], artifacts: Mapping[str, Any] | None) -> Prepared:
        """Read the run's files into examples. ``artifacts`` is ``None`` for a new run (build
        the vocabularies, label maps, scalers from the training data) and the saved ones
        when resuming (use them as they are)."""
        raise NotImplementedError

    def build_model(self, config: Mapping[str, Any], artifacts: Mapping[str, Any]) -> nn.Module:
        """The model ``config`` describes."""
        raise NotImplementedError

    def batches(
        self,
        config: Mapping[str, Any],
        examples: Any,
        generator: torch.Generator | None = None,
    ) -> Iterable[Batch]:
        """Re-iterable batches of ``examples``; shuffled with ``generator`` when given (the
        training batches; the trainer owns it, so the order is part of a checkpoint)."""
        raise NotImplementedError

    def updates_per_epoch(self, config: Mapping[str, Any], examples: Any) -> int | None:
        """Optimizer updates an epoch over the training ``examples``, for the training budget
        (:mod:`rnnkit.tasks.budget`); ``None``: one a batch of ``batch_size`` examples."""
        return None

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        """The training loss of one batch (default: ``model.loss(**batch)``)."""
        return model.loss(**batch)

    def stream_loss(self, model: nn.Module, chunk: Batch, state: Any) -> tuple[Tensor, Any]:
        """With truncated BPTT: the loss of one chunk starting from ``state``, and the state
        to carry into the next chunk."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
        """Validation metrics over ``batches`` (called in eval mode, without autograd); must
        include ``loss``."""
        raise NotImplementedError

    def refit(
        self,
        model: nn.Module,
        prepared: Prepared,
        config: Mapping[str, Any],
        history: Any,
        log: Log,
    ) -> nn.Module:
        """The model the run keeps, after training chose ``model`` (the best epoch's weights;
        ``history`` is the trainer's :class:`~rnnkit.train.History`). The default keeps it; a
        task may train a fresh model on more data here (e.g. train + validation for
        ``history.best_epoch`` epochs). The returned model is saved, scored and plotted."""
        return model

    def final_metrics(
        self, model: nn.Module, prepared: Prepared, config: Mapping[str, Any], log: Log
    ) -> dict[str, Any]:
        """The metrics written to ``metrics.json`` after training: by default
        :meth:`evaluate` on the validation and test examples, as ``valid_*`` and ``test_*``."""
        metrics: dict[str, Any] = {}
        for split, examples in (("valid", prepared.valid), ("test", prepared.test)):
            if examples is None:
                continue
            values = evaluate_examples(self, model, config, examples)
            metrics.update({f"{split}_{key}": value for key, value in values.items()})
            metrics[f"{split}_examples"] = len(examples)
        return metrics

    def write_plots(
        self,
        plots_dir: Path,
        rows: list[dict[str, Any]],
        model: nn.Module,
        prepared: Prepared,
        config: Mapping[str, Any],
    ) -> list[Path]:
        """Pictures of the finished run in ``plots_dir``; the curves are drawn by the runner."""
        return []

    # ------------------------------------------------------------------ using a run
    def evaluate_file(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        data: str | None,
    ) -> dict[str, Any]:
        """Metrics of a trained model on ``data`` (default: the run's test split)."""
        raise ValueError(f"rnnkit evaluate is not available for task {self.name!r}")

    def predict_file(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        input_path: str,
    ) -> list[str]:
        """One output line per input example of ``input_path``."""
        raise ValueError(f"rnnkit predict is not available for task {self.name!r}")

    def generate(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        *,
        prime: str | None,
        condition: str | None,
        length: int | None,
        temperature: float,
        top_k: int | None,
        count: int,
        generator: torch.Generator,
        output: str | None,
    ) -> list[str]:
        """Samples: the text lines to print, or lines naming the files written to ``output``."""
        raise ValueError(
            f"rnnkit generate samples from runs of the generate task, not {self.name!r}"
        )

    def example_inputs(
        self, model: nn.Module, config: Mapping[str, Any], artifacts: Mapping[str, Any]
    ) -> tuple[Tensor, ...]:
        """Inputs of ``model.forward`` for ``rnnkit export`` to trace and check: batch-first
        tensors with time on dimension 1, and a 1-D integer tensor for ``lengths`` (the export
        check builds a second input of another batch size and length by that convention)."""
        raise ValueError(f"rnnkit export is not available for task {self.name!r}")


def vocab_artifact(artifacts: Mapping[str, Any], name: str = "vocab") -> Vocab:
    """The vocabulary a run keeps as the artifact ``name`` (``RUN_DIR/{name}.json``)."""
    return Vocab.from_dict(artifacts[name], f"{name}.json")


def vectors_vocab(source: str, vocab: Vocab, count: int) -> Vocab:
    """``vocab`` grown by the first ``count`` words of the pretrained vectors ``source`` (as
    :func:`pretrained_vectors` takes it) that it lacks (``--embeddings-vocab``): the specials
    and ``vocab``'s own tokens keep their ids, the new words follow in the vectors' order
    (most frequent first), so a word never seen in training keeps its pretrained vector
    instead of reading as ``<unk>``. ``count`` 0 gives ``vocab`` itself.

    Raises:
        ValueError: naming ``--embeddings-vocab`` if ``count`` is negative, or
            ``--embeddings`` as :func:`pretrained_vectors` does.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"--embeddings-vocab: expected an integer >= 0, got {count!r}")
    if count == 0:
        return vocab
    return grown_vocab(vocab, _vector_words(source, count))


def vector_words(source: str) -> list[str]:
    """Every word of the pretrained vectors ``source`` (as :func:`pretrained_vectors` takes
    it), in their order; errors name ``--embeddings``."""
    return _vector_words(source, None)


def grown_vocab(vocab: Vocab, words: Iterable[str]) -> Vocab:
    """``vocab`` with the ``words`` it lacks appended: the specials and ``vocab``'s own
    tokens keep their ids and counts, the new words follow in the order given."""
    tokens = dict.fromkeys(vocab.tokens[len(vocab.specials) :])
    for word in words:
        if word and word not in vocab:
            tokens.setdefault(word)
    return Vocab(
        tokens, specials=vocab.specials, counts=vocab.counts, normalizers=vocab.normalizers
    )


def lexicon_column(vocab: Vocab, lexicon: Lexicon) -> Tensor:
    """The ``(len(vocab), 1)`` column of each token's score in ``lexicon`` (its own entry,
    else its lowercase form's; 0 for the specials and unlisted tokens)."""
    specials = len(vocab.specials)
    scores = [0.0] * specials + [lexicon.score(t) or 0.0 for t in vocab.tokens[specials:]]
    return torch.tensor(scores).unsqueeze(1)


def _vector_words(source: str, count: int | None) -> list[str]:
    """The first ``count`` words (all with None) of the pretrained vectors ``source``."""
    from rnnkit.text.embedding import vector_words as file_words

    if _vector_source(source) == "set":
        words = _read_set(source)[0]
        return words if count is None else words[:count]
    return file_words(source, count)


def pretrained_vectors(
    source: str, vocab: Vocab, seed: int, *, added: int = 0, announced: int | None = None
) -> tuple[Tensor, dict[str, Any]]:
    """The starting word vectors of a new model (``--embeddings``), one row per token of
    ``vocab``, and the ``embedding`` artifact that records them: ``{"file", "dim",
    "coverage"}``, or ``{"vectors", "package", "dim", "coverage"}`` for a named set.

    ``source`` is the name of a vector set of :data:`rnnkit.text.vectors.VECTOR_SETS` (read
    from its installed package) or a word2vec or GloVe text file; a name wins over a file of
    the same name in the working directory (write ``./NAME`` for the file). Tokens the
    vectors lack (and the specials) get seeded random vectors on the scale of the loaded
    ones; the ``<pad>`` row is zero. The vectors keep their own width, whatever
    ``--embedding-dim`` says: a loaded run reads its size back from the artifact
    (:func:`embedding_dim`). ``added``: how many of ``vocab``'s last tokens came from the
    vectors (:func:`vectors_vocab`); the coverage counts the others, and the artifact
    records them as ``"added"``. ``announced``: how many of them the coverage line names as
    "more words from the vectors" (default all; a lexicon's words are named in its own line).

    Raises:
        ValueError: naming ``--embeddings`` if ``source`` is neither a file nor a known name,
            or the named set's package is not installed (saying how to install it).
    """
    from rnnkit.text.embedding import Embedding
    from rnnkit.text.vectors import VECTOR_SETS

    generator = torch.Generator().manual_seed(seed)
    record: dict[str, Any]
    if _vector_source(source) == "set":
        words, matrix = _read_set(source)
        loaded = Embedding.from_pretrained_vectors(
            words, matrix, vocab, source=source, generator=generator
        )
        record = {"vectors": source, "package": VECTOR_SETS[source].requirement}
    else:
        loaded = Embedding.from_pretrained_file(source, vocab, generator=generator)
        record = {"file": source}
    vectors = loaded.weight.detach().clone()
    vectors[vocab.pad_index] = 0.0  # padding stays the zero vector
    coverage = loaded.coverage
    if added and coverage is not None:
        # The added words are the vectors' own, so each matched exactly: count the others.
        coverage = replace(coverage, found=coverage.found - added, total=coverage.total - added)
        record["added"] = added
    artifact = {**record, "dim": loaded.embedding_dim, "coverage": str(coverage)}
    announced = added if announced is None else announced
    if announced:
        artifact["coverage"] += f"; {announced} more words from the vectors"
    return vectors, artifact


def _vector_source(source: str) -> str:
    """``"set"`` if ``source`` names a known vector set, ``"file"`` if it is a file."""
    from rnnkit.text.vectors import VECTOR_SETS

    if source in VECTOR_SETS:
        return "set"
    if Path(source).is_file():
        return "file"
    what = "a directory" if Path(source).is_dir() else "neither a file nor a known vector set"
    raise ValueError(
        f"--embeddings {source}: {what}; expected a word2vec/GloVe text file or one of "
        f"{', '.join(sorted(VECTOR_SETS))}"
    )


def _read_set(source: str) -> tuple[list[str], Any]:
    """The words and vectors of the named set ``source``, errors naming ``--embeddings``."""
    from rnnkit.text.vectors import read_vector_set

    try:
        return read_vector_set(source)
    except ValueError as err:
        where = "" if str(err).startswith(f"{source}: ") else f"{source}: "
        raise ValueError(f"--embeddings {where}{err}") from None


def embedding_dim(config: Mapping[str, Any], artifacts: Mapping[str, Any]) -> int:
    """The word vector size of a run: that of its pretrained vectors (the ``embedding``
    artifact of :func:`pretrained_vectors`) if it has them, else ``--embedding-dim``; plus a
    column for a ``--lexicon``'s scores (the ``lexicon`` artifact)."""
    lexicon = int(artifacts["lexicon"]["columns"]) if "lexicon" in artifacts else 0
    if "embedding" in artifacts:
        return int(artifacts["embedding"]["dim"]) + lexicon
    return int(config["embedding_dim"]) + lexicon


def evaluate_examples(
    task: Task, model: nn.Module, config: Mapping[str, Any], examples: Any
) -> dict[str, float]:
    """``task.evaluate`` over ``examples`` in eval mode without autograd, on the model's
    device; the model's training mode is restored afterwards."""
    device = next(model.parameters()).device
    with evaluating(model):
        batches = (_to(batch, device) for batch in task.batches(config, examples))
        return task.evaluate(model, batches)


def _to(batch: Batch, device: torch.device) -> Batch:
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: _to(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(value, device) for value in batch)
    return batch
