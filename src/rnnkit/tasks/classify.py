"""Text classification from ``LABEL<space>TEXT`` files, end to end, into a run directory.

::

    rnnkit train classify --train train.txt --valid dev.txt --test test.txt --out runs/sst

The vocabulary is built from the training examples only (tokens seen ``min_freq`` times;
others read as ``<unk>``), the label map from the labels of the training file (strings, in
sorted order). Without ``valid`` a seeded 10 % of the training file is held out (the same
split every time: ``evaluate`` and ``--resume`` rebuild it from ``config.json``).

The run directory (:class:`~rnnkit.runs.RunDir`) gets ``config.json`` (every option),
``vocab.json``, ``labels.json``, ``log.csv`` (a row per epoch), ``checkpoints/last`` (every
epoch) and ``checkpoints/best`` (when the validation loss improves), and at the end
``model.safetensors`` and ``metrics.json`` (valid and test loss and accuracy).

``resume`` continues from ``checkpoints/last`` exactly: weights, optimizer, epoch, history and
every random generator, so training 2 epochs and resuming to 4 gives the weights of a straight
4-epoch run. Ctrl-C saves ``checkpoints/last`` before leaving; inside an epoch that state is
the partly trained model, and resuming repeats the interrupted epoch from it.

Under ``torchrun`` the run is data-parallel (:mod:`rnnkit.distributed`): ``--batch-size`` is
the global batch, split over the processes, and only rank 0 writes the run directory.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from rnnkit import __version__, distributed
from rnnkit.checks import is_int, is_number
from rnnkit.data.padding import pad_sequences
from rnnkit.data.readers import LabeledLine, read_labeled_lines, read_text_lines
from rnnkit.inspect import find_recurrent_layer, gate_activations, layer_input
from rnnkit.plots import plot_curves, plot_gates
from rnnkit.runs import RunDir, RunDirError
from rnnkit.structures.classifier import SequenceClassifier
from rnnkit.summary import summary
from rnnkit.tasks import TaskInterrupted
from rnnkit.text.vocab import Vocab
from rnnkit.train import Callback, TrainConfig, Trainer, seed_everything

__all__ = [
    "DEFAULTS",
    "RESUMABLE",
    "evaluate_run",
    "predict_file",
    "summarize_run",
    "train",
]

TASK = "classify"
VOCAB_FILE = "vocab.json"
LABELS_FILE = "labels.json"
HOLDOUT_FRACTION = 0.1
LOG_COLUMNS = (
    "epoch",
    "train_loss",
    "valid_loss",
    "valid_accuracy",
    "lr",
    "time",
    "examples_per_s",
)

# Every option of a classify run and its default; config.json holds all of them.
DEFAULTS: dict[str, Any] = {
    "train": None,
    "valid": None,
    "test": None,
    "tokens": "word",
    "min_freq": 1,
    "cell": "lstm",
    "hidden_size": 128,
    "layers": 1,
    "bidirectional": False,
    "dropout": 0.0,
    "embedding_dim": 64,
    "pooling": "last",
    "epochs": 10,
    "lr": 1e-3,
    "optimizer": "adam",
    "batch_size": 32,
    "clip_norm": 5.0,
    "seed": 0,
    "patience": None,
    "device": "cpu",
}
# Options that may change when a run is resumed; the rest define the run.
RESUMABLE = ("epochs", "device")
TOKENS = ("word", "char")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def tokenize(text: str, tokens: str) -> list[str]:
    """Words (split on whitespace) or characters (spaces included) of ``text``."""
    if tokens == "word":
        return text.split()
    if tokens == "char":
        return list(text)
    raise ValueError(f"{_option('tokens')}: expected one of {', '.join(TOKENS)}, got {tokens!r}")


# ---------------------------------------------------------------------- data
@dataclass
class Examples:
    """Encoded examples: token ids and class ids, with the file they came from."""

    ids: list[list[int]]
    targets: list[int]
    source: str

    def __len__(self) -> int:
        return len(self.targets)


class Batches:
    """Re-iterable padded batches ``{"x", "targets", "lengths"}``, shuffled each pass with
    ``generator`` (the trainer's, so the order is part of a checkpoint) if given."""

    def __init__(
        self,
        examples: Examples,
        batch_size: int,
        pad_index: int,
        generator: torch.Generator | None = None,
    ) -> None:
        self.examples, self.batch_size = examples, batch_size
        self.pad_index, self.generator = pad_index, generator

    def __len__(self) -> int:
        return math.ceil(len(self.examples) / self.batch_size)

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        n = len(self.examples)
        order = (
            torch.randperm(n, generator=self.generator).tolist()
            if self.generator is not None
            else list(range(n))
        )
        for start in range(0, n, self.batch_size):
            chosen = order[start : start + self.batch_size]
            x, lengths = pad_sequences(
                [self.examples.ids[i] for i in chosen],
                padding_value=self.pad_index,
                dtype=torch.long,
            )
            targets = torch.tensor([self.examples.targets[i] for i in chosen], dtype=torch.long)
            yield {"x": x, "targets": targets, "lengths": lengths}


def _holdout(count: int, seed: int, source: str) -> tuple[list[int], list[int]]:
    """Seeded split of ``range(count)`` into (train, held-out) indices, 10 % held out."""
    held = max(1, round(count * HOLDOUT_FRACTION))
    if count - held < 1:
        raise ValueError(
            f"{source}: {count} example(s) cannot be split into train and validation; "
            f"give more examples or {_option('valid')}"
        )
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(order[held:]), sorted(order[:held])


def _encode(
    lines: Sequence[LabeledLine], source: str, vocab: Vocab, labels: Sequence[str], tokens: str
) -> Examples:
    index = {label: i for i, label in enumerate(labels)}
    ids, targets = [], []
    for example in lines:
        if example.label not in index:
            raise ValueError(
                f"{source}:{example.line}: unknown label {example.label!r} "
                f"(the training labels are {', '.join(labels)})"
            )
        ids.append(vocab.encode(tokenize(example.text, tokens)))
        targets.append(index[example.label])
    return Examples(ids, targets, source)


@dataclass
class _Splits:
    labels: list[str]  # every label of the training file, sorted
    train_lines: list[LabeledLine]
    valid_lines: list[LabeledLine]
    valid_source: str
    test_lines: list[LabeledLine] | None


def _read_splits(config: Mapping[str, Any]) -> _Splits:
    """The train, valid (given or held out) and test examples of a run's files."""
    train_path = str(config["train"])
    train_lines = read_labeled_lines(train_path)
    labels = sorted({example.label for example in train_lines})
    if config["valid"] is not None:
        valid_lines = read_labeled_lines(config["valid"])
        valid_source = str(config["valid"])
    else:
        kept, held = _holdout(len(train_lines), config["seed"], train_path)
        valid_lines = [train_lines[i] for i in held]
        train_lines = [train_lines[i] for i in kept]
        valid_source = train_path
    test_lines = read_labeled_lines(config["test"]) if config["test"] is not None else None
    return _Splits(labels, train_lines, valid_lines, valid_source, test_lines)


# ---------------------------------------------------------------------- model and metrics
def build_model(config: Mapping[str, Any], vocab: Vocab, num_classes: int) -> SequenceClassifier:
    """The classifier ``config`` describes, for ``vocab`` and ``num_classes`` labels."""
    return SequenceClassifier(
        num_classes,
        vocab_size=len(vocab),
        embedding_dim=config["embedding_dim"],
        padding_idx=vocab.pad_index,
        cell=config["cell"],
        hidden_size=config["hidden_size"],
        num_layers=config["layers"],
        bidirectional=config["bidirectional"],
        dropout=config["dropout"],
        pooling=config["pooling"],
    )


def classification_metrics(model: nn.Module, batches: Any) -> dict[str, float]:
    """Mean cross entropy and accuracy over ``batches`` (called without autograd)."""
    total, correct, count = 0.0, 0, 0
    for batch in batches:
        logits = model(batch["x"], batch["lengths"])
        targets = batch["targets"]
        total += float(F.cross_entropy(logits, targets, reduction="sum"))
        correct += int((logits.argmax(1) == targets).sum())
        count += len(targets)
    if count == 0:
        raise ValueError("no examples to evaluate")
    return {"loss": total / count, "accuracy": correct / count}


def _evaluate(model: nn.Module, examples: Examples, batch_size: int, pad: int) -> dict[str, float]:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            moved = (
                {key: value.to(device) for key, value in batch.items()}
                for batch in Batches(examples, batch_size, pad)
            )
            return classification_metrics(model, moved)
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------- callbacks
class RunCallback(Callback):
    """Every epoch: ``checkpoints/last`` (and ``best`` on improvement), then a ``log.csv`` row."""

    def __init__(self, run: RunDir) -> None:
        self.run = run

    def save_last(self, trainer: Trainer) -> Path:
        """Write the model and the whole trainer state to ``checkpoints/last.safetensors``."""
        return self.run.save_checkpoint(
            "last", trainer.model, trainer_state=trainer.state_dict(), rng=False
        )

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        self.save_last(trainer)
        if trainer.history.best_epoch == row["epoch"]:
            best = {"epoch": trainer.epoch, trainer.config.monitor: trainer.history.best_value}
            self.run.save_checkpoint("best", trainer.model, trainer_state=best, rng=False)
        self.run.append_log({key: row.get(key) for key in LOG_COLUMNS})


class ProgressCallback(Callback):
    """A tqdm bar per epoch (loss, examples/s) on a terminal, and one line per epoch."""

    def __init__(self, examples: int, log: Callable[[str], None]) -> None:
        self.examples, self.log = examples, log
        self.bar: tqdm | None = None

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.bar = tqdm(
            total=self.examples,
            desc=f"epoch {epoch}/{trainer.config.epochs}",
            unit="ex",
            leave=False,
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
        )

    def on_step_end(self, trainer: Trainer, loss: float, count: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            self.bar.update(count)

    def close(self) -> None:
        """Remove the bar (also on an interruption)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        self.close()
        speed = row.get("examples_per_s")
        self.log(
            f"epoch {int(row['epoch'])}/{trainer.config.epochs}"
            f"  train loss {row['train_loss']:.4f}"
            f"  valid loss {row['valid_loss']:.4f}"
            f"  valid accuracy {row['valid_accuracy']:.2%}"
            + (f"  ({speed:,.0f} examples/s)" if speed is not None else "")
        )


# ---------------------------------------------------------------------- train


# What each option must hold (a hand-edited config.json is checked before it is used).
_CHECKS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "train": ("a file path", lambda v: isinstance(v, str) and bool(v)),
    "valid": ("a file path or null", lambda v: v is None or (isinstance(v, str) and bool(v))),
    "test": ("a file path or null", lambda v: v is None or (isinstance(v, str) and bool(v))),
    "tokens": (f"one of {', '.join(TOKENS)}", lambda v: v in TOKENS),
    "cell": ("one of rnn, lstm, gru", lambda v: v in ("rnn", "lstm", "gru")),
    "pooling": ("one of last, mean, max", lambda v: v in ("last", "mean", "max")),
    "optimizer": ("one of adam, adamw, sgd", lambda v: v in ("adam", "adamw", "sgd")),
    "device": ("one of cpu, cuda", lambda v: v in ("cpu", "cuda")),
    "bidirectional": ("true or false", lambda v: isinstance(v, bool)),
    "dropout": ("a number in [0, 1)", lambda v: is_number(v) and 0 <= v < 1),
    "lr": ("a number > 0", lambda v: is_number(v) and v > 0),
    "clip_norm": ("a number >= 0", lambda v: is_number(v) and v >= 0),
    "seed": ("an integer in [0, 2**32)", lambda v: is_int(v) and 0 <= v < 2**32),
    "patience": ("a positive integer or null", lambda v: v is None or (is_int(v) and v > 0)),
    **{
        name: ("a positive integer", lambda v: is_int(v) and v > 0)
        for name in ("min_freq", "hidden_size", "layers", "embedding_dim", "epochs", "batch_size")
    },
}


def _check_config(config: Mapping[str, Any], where: str) -> None:
    """Every option present and of the right kind; ``where`` names the source in errors."""
    missing = [key for key in DEFAULTS if key not in config]
    if missing:
        raise ValueError(f"{where}: missing options {', '.join(missing)}")
    if config["train"] is None:
        raise ValueError(f"{_option('train')} is required")
    for name, (expected, ok) in _CHECKS.items():
        if not ok(config[name]):
            raise ValueError(f"{where}: {_option(name)} must be {expected}, got {config[name]!r}")


def _train_config(config: Mapping[str, Any]) -> TrainConfig:
    if config["device"] == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{_option('device')} cuda: CUDA is not available here; use cpu")
    try:
        return TrainConfig(
            epochs=config["epochs"],
            optimizer=config["optimizer"],
            lr=config["lr"],
            clip_norm=config["clip_norm"] or None,
            early_stopping_patience=config["patience"],
            monitor="valid_loss",
            mode="min",
            seed=config["seed"],
            device=config["device"],
        )
    except ValueError as err:
        raise ValueError(f"bad option: {err}") from None


def _read_labels(run: RunDir) -> list[str]:
    labels = run.read_json(LABELS_FILE)
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(label, str) for label in labels)
    ):
        raise RunDirError(f"{run.path / LABELS_FILE}: expected a JSON array of label strings")
    return labels


def _load_vocab(run: RunDir) -> Vocab:
    path = run.path / VOCAB_FILE
    if not path.is_file():
        raise RunDirError(f"{path}: file not found")
    return Vocab.load(path)


def _finished(run: RunDir, epochs: int) -> bool:
    """Whether ``run`` wrote its final files after ``epochs`` epochs (metrics.json is last)."""
    if not run.metrics_path.is_file():
        return False
    metrics = run.read_json(run.METRICS)
    return isinstance(metrics, dict) and metrics.get("epochs") == epochs


def train(
    options: Mapping[str, Any],
    *,
    out: str | None = None,
    resume: str | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train a classifier into a new run directory ``out``, or continue the run ``resume``.

    Args:
        options: the options given (keys of :data:`DEFAULTS`); the others take their
            defaults, or with ``resume`` the run's values (only :data:`RESUMABLE` may change).
        out: the new run directory; refused if it exists and is not empty, unless
            ``overwrite`` (and it is a run directory).
        resume: an existing run directory to continue to its (or the given) ``epochs``.
        log: receives the per-epoch lines.

    Returns:
        The final metrics (also in ``metrics.json``).

    Raises:
        ValueError: a bad option, a malformed file or run directory (one-line message naming
            the option, file or ``FILE:LINE``); nothing is written before all inputs check out.
        TaskInterrupted: Ctrl-C, after ``checkpoints/last`` was saved.
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown options: {', '.join(map(_option, unknown))}")
    if resume is not None:
        if out is not None:
            raise ValueError(f"{_option('out')} cannot be combined with {_option('resume')}")
        fixed = [key for key in options if key not in RESUMABLE]
        if fixed:
            raise ValueError(
                f"{_option(fixed[0])} cannot be changed when resuming; only "
                f"{', '.join(map(_option, RESUMABLE))} can"
            )
        run = RunDir.open(resume)
        config = run.read_config()
        if config.get("task") != TASK:
            raise RunDirError(f"{run.config_path}: not a {TASK} run (task {config.get('task')!r})")
        config.update(options)
        _check_config(config, str(run.config_path))
        vocab, labels = _load_vocab(run), _read_labels(run)
    else:
        if out is None:
            raise ValueError(f"{_option('out')} is required (or {_option('resume')} RUN_DIR)")
        config = {"task": TASK, "rnnkit_version": __version__, **DEFAULTS, **options}
        for key in ("train", "valid", "test"):
            if config[key] is not None:
                config[key] = str(Path(config[key]).resolve())
        _check_config(config, "options")
        run, vocab, labels = RunDir(out), None, None
        if run.path.is_dir() and any(run.path.iterdir()) and not overwrite:
            raise RunDirError(
                f"{run.path}: run directory already exists and is not empty; "
                f"use {_option('resume')} or --overwrite"
            )
    train_config = _train_config(config)
    # Under torchrun: join the job; only rank 0 writes the run directory and prints.
    context = distributed.init_from_env(config["device"])

    splits = _read_splits(config)
    if labels is None:
        labels = splits.labels
    if vocab is None:
        try:
            vocab = Vocab.build(
                (tokenize(ex.text, config["tokens"]) for ex in splits.train_lines),
                min_freq=config["min_freq"],
            )
        except ValueError as err:
            raise ValueError(f"{config['train']}: {err}") from None
    tokens = config["tokens"]
    train_set = _encode(splits.train_lines, config["train"], vocab, labels, tokens)
    valid_set = _encode(splits.valid_lines, splits.valid_source, vocab, labels, tokens)
    test_set = (
        _encode(splits.test_lines, config["test"], vocab, labels, tokens)
        if splits.test_lines is not None
        else None
    )

    seed_everything(config["seed"])
    model = build_model(config, vocab, len(labels)).to(train_config.device)  # before DDP
    loss_fn = distributed.loss_fn(distributed.wrap(model, context))
    run_callback = RunCallback(run)
    progress = ProgressCallback(len(train_set), log)
    callbacks = [run_callback, progress] if context.is_main else []
    trainer = Trainer(model, train_config, loss_fn, callbacks=callbacks)
    # Checked (by shard) before anything is written; the generator's state is set in place.
    train_batches = distributed.shard(
        Batches(train_set, config["batch_size"], vocab.pad_index, generator=trainer.generator),
        context,
        batch_size=config["batch_size"],
        num_examples=len(train_set),
    )
    if resume is not None:
        if not run.has_checkpoint("last"):
            raise RunDirError(f"{run.checkpoint_path('last')}: file not found; nothing to resume")
        state = run.load_checkpoint("last", trainer.model, restore_rng=False)
        try:
            trainer.load_state_dict(state)
        except (KeyError, TypeError, ValueError) as err:
            raise RunDirError(
                f"{run.checkpoint_path('last')}: corrupt trainer state: {err}"
            ) from None
        # A run killed after its last checkpoint but before its metrics.json (written after
        # model.safetensors) is not finished: resuming it writes the final files.
        if trainer.epoch >= config["epochs"] and _finished(run, trainer.epoch):
            raise ValueError(
                f"{run.path}: already trained {trainer.epoch} epochs; "
                f"give {_option('epochs')} above {trainer.epoch} to continue"
            )
        if context.is_main:
            run.write_config(config)
            # A kill between checkpoints/last and its log.csv row leaves the log a row short:
            # the log becomes the checkpoint's history, the rows the resumed run goes on from.
            run.write_log(
                [{key: row.get(key) for key in LOG_COLUMNS} for row in trainer.history.rows]
            )
    elif context.is_main:
        run.create(config, overwrite=overwrite)
        run.write_json(VOCAB_FILE, vocab.to_dict())
        run.write_json(LABELS_FILE, labels)

    pad = vocab.pad_index
    valid_batches = Batches(valid_set, config["batch_size"], pad)
    try:
        trainer.fit(train_batches, valid_batches, evaluate=classification_metrics)
    except KeyboardInterrupt:
        progress.close()
        if not context.is_main:
            raise TaskInterrupted(f"interrupted in epoch {trainer.epoch + 1}") from None
        path = run_callback.save_last(trainer)
        raise TaskInterrupted(
            f"interrupted in epoch {trainer.epoch + 1}; saved {path}; continue with: "
            f"rnnkit train {TASK} --resume {run.path}"
        ) from None
    finally:
        progress.close()

    if not context.is_main:  # wait for rank 0 to finish the run directory, then leave
        distributed.barrier(context)
        distributed.cleanup(context)
        return {}
    run.save_weights(trainer.model)
    metrics: dict[str, Any] = {"epochs": trainer.epoch, "best_epoch": trainer.history.best_epoch}
    for name, examples in (("valid", valid_set), ("test", test_set)):
        if examples is not None:
            values = _evaluate(trainer.model, examples, config["batch_size"], pad)
            metrics.update({f"{name}_{key}": value for key, value in values.items()})
            metrics[f"{name}_examples"] = len(examples)
    run.write_metrics(metrics)
    write_plots(run, trainer.history.rows, trainer.model, valid_set, pad, log)
    distributed.barrier(context)
    distributed.cleanup(context)
    shown = "  ".join(
        f"{key} {metrics[key]:.4f}"
        for key in ("valid_loss", "valid_accuracy", "test_loss", "test_accuracy")
        if key in metrics
    )
    log(f"done: {shown}; run directory {run.path}")
    return metrics


def write_plots(
    run: RunDir, rows: list[dict], model: SequenceClassifier, examples: Examples, pad: int, log
) -> None:
    """``RUN_DIR/plots/``: the training curves, and for the first validation example the gate
    and hidden-state heatmaps of the first recurrent layer. The weights and metrics are saved
    before this, so a picture that cannot be drawn costs one warning line, not the run."""
    plots_dir = run.path / "plots"
    model = model.cpu().eval()
    try:
        plot_curves(rows, plots_dir / "curves.png")
        x, lengths = pad_sequences([examples.ids[0]], padding_value=pad, dtype=torch.long)
        layer = find_recurrent_layer(model)
        features = layer_input(model, layer, x, lengths=lengths)[0]  # (T, I) of one example
        plot_gates(gate_activations(layer, features), plots_dir / "gates.png")
    except (ValueError, OSError, RuntimeError) as err:
        log(f"warning: plots not written ({' '.join(str(err).splitlines())})")


# ---------------------------------------------------------------------- using a run
@dataclass
class LoadedRun:
    """A finished run: its options, vocabulary, labels and model (in eval mode, on the CPU)."""

    run: RunDir
    config: dict[str, Any]
    vocab: Vocab
    labels: list[str]
    model: SequenceClassifier


def load_run(path: str) -> LoadedRun:
    """Open a classify run directory and load its final weights (``model.safetensors``)."""
    run = RunDir.open(path)
    config = run.read_config()
    if config.get("task") != TASK:
        raise RunDirError(f"{run.config_path}: not a {TASK} run (task {config.get('task')!r})")
    _check_config(config, str(run.config_path))
    vocab, labels = _load_vocab(run), _read_labels(run)
    try:
        model = build_model(config, vocab, len(labels))
    except (TypeError, ValueError) as err:
        raise RunDirError(f"{run.config_path}: bad model options: {err}") from None
    run.load_weights(model)
    model.eval()
    return LoadedRun(run, config, vocab, labels, model)


def evaluate_run(path: str, data: str | None = None) -> dict[str, Any]:
    """Loss and accuracy of a run's model on ``data`` (default: the run's test file, else its
    validation data, the held-out part of train if there was no valid file)."""
    loaded = load_run(path)
    config = loaded.config
    if data is not None:
        lines, source = read_labeled_lines(data), str(data)
    elif config["test"] is not None:
        lines, source = read_labeled_lines(config["test"]), str(config["test"])
    else:
        splits = _read_splits(config)
        lines, source = splits.valid_lines, splits.valid_source
    examples = _encode(lines, source, loaded.vocab, loaded.labels, config["tokens"])
    metrics = _evaluate(loaded.model, examples, config["batch_size"], loaded.vocab.pad_index)
    return {"data": source, "examples": len(examples), **metrics}


def predict_file(path: str, input_path: str) -> list[str]:
    """The predicted label of each line of ``input_path`` (one text a line)."""
    loaded = load_run(path)
    texts = read_text_lines(input_path)
    config, vocab = loaded.config, loaded.vocab
    ids = [vocab.encode(tokenize(text, config["tokens"])) for text in texts]
    examples = Examples(ids, [0] * len(ids), str(input_path))
    predictions: list[str] = []
    with torch.no_grad():
        for batch in Batches(examples, config["batch_size"], vocab.pad_index):
            chosen = loaded.model.predict(batch["x"], batch["lengths"]).tolist()
            predictions.extend(loaded.labels[i] for i in chosen)
    return predictions


def summarize_run(path: str) -> str:
    """The architecture and parameter counts of a run's model (:func:`rnnkit.summary`)."""
    loaded = load_run(path)
    return str(summary(loaded.model))
