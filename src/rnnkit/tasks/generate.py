"""Generation (one-to-many, next-step models): text, polyphonic music, and images by rows
given their class.

::

    rnnkit train generate --train input.txt --tokens char --bptt 100 --out runs/shakespeare
    rnnkit generate runs/shakespeare --prime "ROMEO:" --length 500 --temperature 0.8 --top-k 40
    rnnkit train generate --recipe jsb-chorales --data-dir ../shared/data --out runs/jsb
    rnnkit generate runs/jsb --length 64 --output chorale      # chorale.png and chorale.mid
    rnnkit train generate --train my_midi_folder/ --out runs/music
    rnnkit generate runs/mnist --condition 7 --count 16 --output sevens   # sevens.png

Formats (``--format``, by default told from the ``--train`` file name):

- ``text``: plain UTF-8 text read as one stream of characters (``--tokens char``, Chinese
  as well as English) or words (``--tokens word``, line ends kept as tokens; in raw text,
  where over 2 % of the words have punctuation attached, ``--tokenize auto`` splits it off
  the words, ``"be,"`` → ``be ,``, and generated text has it joined back). The first
  part of the file trains; the last ``--valid-fraction`` (and before it ``--test-fraction``)
  validate and test, unless ``--valid``/``--test`` files are given. Trained as char-rnn:
  ``--batch-size`` parallel streams, truncated BPTT over ``--bptt`` steps, the state carried
  from batch to batch. Metrics: loss in nats per token, and ``bpc`` (bits per character) or,
  for words, ``ppl`` (perplexity).
- ``pianoroll``: a ``.mat`` file (``traindata``/``validdata``/``testdata``, as the
  Boulanger-Lewandowski files) or an ``.npz`` of ``train_<i>``/``valid_<i>``/``test_<i>``
  (T, P) 0/1 arrays (``valid_<i>``/``test_<i>`` may be left out: pieces are then held out
  of train as below); or MIDI files, a folder of ``.mid``/``.midi`` files (any depth) or
  one file, each a piece, quantised by the beat into ``--steps-per-beat`` steps a quarter
  note over the 88 piano keys from ``--lowest-pitch`` (percussion and notes outside them
  left out, as the log says; ``rnnkit.data.midi``); ``--valid``/``--test`` folders, or
  seeded ``--valid-fraction``/``--test-fraction`` pieces held out of ``--train``. A
  next-step model with P independent Bernoulli outputs; metric ``nll``: the negative
  log-likelihood per time step, summed over the P outputs (nats).
- ``idx``: IDX images with ``--train-labels`` (MNIST), generated row by row given their
  class (``--condition-mode first``: the class sets the initial state; ``every``: it is fed
  at every step). ``--valid-fraction`` of the training images are held out (seeded).
  Metric ``nll``: per row (nats). ``--judge RUN_DIR`` (a ``classify`` run on the same
  images) labels ``--judge-samples`` generated images: ``test_judged_accuracy`` is the share
  labelled as the class asked for.

``rnnkit generate`` prints text (``--output FILE`` writes it), writes music as a piano-roll
PNG and a MIDI file, and images as a PNG grid (``--output`` names the files' stem).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.batches import Batches, holdout, seeded_parts
from rnnkit.data.midi import MIDI_SUFFIXES
from rnnkit.data.padding import pad_sequences
from rnnkit.data.text_stream import StreamBatches, read_text, split_by_fraction, tokenize_stream
from rnnkit.losses.sequence_loss import lengths_to_mask
from rnnkit.metrics.music import frame_nll
from rnnkit.structures.generator import SequenceGenerator, shift_right
from rnnkit.tasks.base import Prepared, Recipe, Task, vocab_artifact
from rnnkit.tasks.budget import min_updates_option
from rnnkit.tasks.options import Option, check_holdout, data_file, flag, idx_labels, option_name
from rnnkit.text.tokenize import RAW_TEXT_SHARE, auto_split, join_marks
from rnnkit.text.vocab import UNK, Vocab
from rnnkit.train import evaluating

__all__ = ["TASK", "Frames", "GenerateTask", "TextStream", "detect_format", "frame_batches"]

FORMATS = ("auto", "text", "pianoroll", "idx")
TOKENS = ("char", "word")
SPLITS = ("auto", "space", "punct")  # --tokenize
NEWLINE = "\n"
DEFAULT_LENGTH = {"text": 500, "pianoroll": 128}
MIDI_PITCHES = 88  # a roll read from MIDI files spans the piano's keys from --lowest-pitch
SEPARATOR = "-" * 40  # between text samples


def detect_format(path: str) -> str:
    """The format a data file's name suggests (``text`` when nothing else fits); a folder is
    read as MIDI files."""
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith((".mat", ".npz", *MIDI_SUFFIXES)) or Path(path).is_dir():
        return "pianoroll"
    if "-ubyte" in name or name.endswith((".idx", ".idx1", ".idx3")):
        return "idx"
    return "text"


def _format_of(config: Mapping[str, Any]) -> str:
    return config["format"] if config["format"] != "auto" else detect_format(config["train"])


# ---------------------------------------------------------------------- data
@dataclass
class TextStream:
    """A split of a text as one stream of token ids."""

    ids: Tensor
    source: str

    @property
    def num_tokens(self) -> int:
        return len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Frames:
    """Sequences of binary frames ``(T, P)`` (pieces, or images by rows), with their class
    ids if the run is conditional."""

    frames: list[Tensor]
    conditions: list[int] | None
    source: str

    def __len__(self) -> int:
        return len(self.frames)


def frame_batches(
    examples: Frames, batch_size: int, generator: torch.Generator | None = None
) -> Batches[dict[str, Tensor]]:
    """Re-iterable padded batches ``{"inputs", "targets", "lengths"}`` (and ``"condition"``):
    the targets are the frames, the inputs the frames shifted right behind a zero frame;
    shuffled each pass with ``generator`` if given."""

    def collate(chosen: list[int]) -> dict[str, Tensor]:
        targets, lengths = pad_sequences([examples.frames[i] for i in chosen], dtype=torch.float32)
        batch = {"inputs": shift_right(targets), "targets": targets, "lengths": lengths}
        if examples.conditions is not None:
            batch["condition"] = torch.tensor(
                [examples.conditions[i] for i in chosen], dtype=torch.long
            )
        return batch

    return Batches(len(examples), batch_size, collate, generator)


def _text_splits(config: Mapping[str, Any], train_text: str) -> dict[str, tuple[list[str], str]]:
    """The tokens of each split and where they come from: files, or fractions of the text of
    --train (``train_text``)."""
    train_path = config["train"]
    tokens = _stream_tokens(train_text, config)
    cut = {"valid": config["valid"] is None, "test": config["test"] is None}
    fractions = {
        "valid": config["valid_fraction"] if cut["valid"] else 0.0,
        "test": config["test_fraction"] if cut["test"] else 0.0,
    }
    # The file's order: train, then test, then valid last (nanoGPT: the last 10 % validate).
    names = ["train"] + [name for name in ("test", "valid") if fractions[name] > 0]
    shares = [1 - fractions["valid"] - fractions["test"]] + [fractions[n] for n in names[1:]]
    parts = split_by_fraction(tokens, shares)
    splits: dict[str, tuple[list[str], str]] = {}
    for name, part in zip(names, parts, strict=True):
        where = train_path if name == "train" else f"{train_path} (last part, {name})"
        splits[name] = (part, where)
    for name in ("valid", "test"):
        if config[name] is not None:
            splits[name] = (_stream_tokens(read_text(config[name]), config), config[name])
    return splits


def _stream_tokens(text: str, config: Mapping[str, Any]) -> list[str]:
    """``text`` as the run's tokens (words split at punctuation with ``--tokenize punct``)."""
    return tokenize_stream(text, config["tokens"], punct=config["tokenize"] == "punct")


# Words seen once in training read as <unk> by default, so that <unk> is a target the model
# learns (as the Penn Treebank's vocabulary does): a word unseen in training then costs what
# a rare word costs, not 14-16 nats (a helper's Indonesian news: validation ppl 690, of which
# 19 % of the loss went to the 7.8 % of words unseen in training).
WORD_MIN_FREQ = 2


def _encode_text(tokens: Sequence[str], vocab: Vocab) -> Tensor:
    return torch.tensor(vocab.encode(tokens), dtype=torch.long)


def _is_roll_file(path: str) -> bool:
    """A ``.mat``/``.npz`` file holding all three splits (else MIDI: a file or a folder)."""
    return Path(path).suffix.lower() in (".mat", ".npz")


def _frames(rolls: Sequence[np.ndarray], source: str) -> Frames:
    return Frames([torch.from_numpy(r) for r in rolls], None, source)


def _read_rolls(config: Mapping[str, Any]) -> tuple[dict[str, Frames | None], str | None]:
    """Each split's pieces, and a line on what MIDI reading left out (or ``None``)."""
    from rnnkit.data.piano_roll import read_piano_rolls

    train = config["train"]
    if _is_roll_file(train):
        rolls = read_piano_rolls(train)
        # an .npz of train_<i> only (or without test_<i>): pieces held out as of MIDI files
        given = {name: rolls[name] for name in ("valid", "test") if rolls[name]}
        return _held_out(config, rolls["train"], given, "pieces"), None
    from rnnkit.data.midi import MidiReport, read_midi_folder

    read = functools.partial(
        read_midi_folder, steps_per_beat=config["steps_per_beat"],
        lowest_pitch=config["lowest_pitch"], pitches=MIDI_PITCHES,
    )  # fmt: skip
    report = MidiReport()
    rolls, _, found = read(train)
    report.add(found)
    given = {}
    for name in ("valid", "test"):
        if config[name] is not None:
            given[name], _, found = read(config[name])
            report.add(found)
    return _held_out(config, rolls, given, "MIDI pieces"), report.describe()


def _held_out(
    config: Mapping[str, Any], rolls: list[np.ndarray], given: Mapping[str, Any], what: str
) -> dict[str, Frames | None]:
    """The train, valid and test pieces: those ``given`` for a split (from its file or its
    own arrays), else seeded pieces of ``rolls``: ``--valid-fraction`` and ``--test-fraction``
    of them each (at least one; no test at a fraction of 0), the same for the same seed."""
    train = config["train"]
    count = len(rolls)
    sizes = {
        name: max(1, round(count * config[f"{name}_fraction"]))
        for name in ("test", "valid")
        if name not in given and config[f"{name}_fraction"] > 0
    }
    if count - sum(sizes.values()) < 1:
        raise ValueError(
            f"{train}: {count} {what} cannot be split into train, "
            f"{' and '.join(sizes)}; give more, smaller fractions, or --valid/--test"
        )
    *held, kept = seeded_parts(count, list(sizes.values()), config["seed"])
    parts = dict(zip(sizes, held, strict=True))
    splits: dict[str, Frames | None] = {"train": _frames([rolls[i] for i in kept], train)}
    for name in ("valid", "test"):
        if name in given:
            splits[name] = _frames(given[name], config[name] or f"{train} ({name})")
        elif name in parts:
            pieces = [rolls[i] for i in parts[name]]
            splits[name] = _frames(pieces, f"{train} (held out, {name})")
        else:
            splits[name] = None
    return splits


def _check_shares(config: Mapping[str, Any], where: str) -> None:
    """The shares of --train held out for validation and test leave some to train on."""
    share = config["valid_fraction"] * (config["valid"] is None) + config["test_fraction"] * (
        config["test"] is None
    )
    if share >= 1:
        raise ValueError(f"{where}: --valid-fraction plus --test-fraction must be < 1")


def _read_images(path: str, labels_path: str, binarize: bool) -> tuple[list[np.ndarray], list[str]]:
    from rnnkit.data.idx import read_idx_images

    images = read_idx_images(path, labels_path)
    pixels = [np.asarray(x, dtype=np.float32) for x in images.features]
    if binarize:  # binarized MNIST: a pixel is ink when at least half dark
        pixels = [(x >= 0.5).astype(np.float32) for x in pixels]
    return pixels, list(images.labels)


def _image_frames(
    pixels: Sequence[np.ndarray], labels: Sequence[str], known: Sequence[str], source: str
) -> Frames:
    index = {label: i for i, label in enumerate(known)}
    for number, label in enumerate(labels):
        if label not in index:
            raise ValueError(
                f"{source}: image {number} has label {label!r}, not among the training "
                f"labels {', '.join(known)}"
            )
    frames = [torch.from_numpy(np.ascontiguousarray(x)) for x in pixels]
    return Frames(frames, [index[label] for label in labels], source)


# ---------------------------------------------------------------------- the task
class GenerateTask(Task):
    """Next-step generation of text streams, piano rolls and class-conditional images."""

    name = "generate"
    task_options = (
        data_file(
            "train",
            "training text, piano-roll file, MIDI files (a folder) or IDX images",
            "path",
            required=True,
        ),
        data_file(
            "valid", "validation file (or MIDI folder); default: a fraction of --train", "path"
        ),
        data_file("test", "test file (or MIDI folder); default: a fraction of --train", "path"),
        Option(
            "format",
            "auto",
            "choice",
            "data format; auto: from the file name (.mat/.npz/.mid or a folder: pianoroll, "
            "-ubyte: idx)",
            "data",
            choices=FORMATS,
        ),
        *idx_labels("idx: the labels"),
        Option("tokens", "char", "choice", "text: characters or words", "data", choices=TOKENS),
        Option(
            "tokenize",
            "auto",
            "choice",
            'text --tokens word: split punctuation off words (punct: "be," -> be ,) or not '
            f"(space); auto: punct where over {RAW_TEXT_SHARE:.0%} of the training words have "
            "punctuation attached (raw text), else space",
            "data",
            choices=SPLITS,
            absent="space",
        ),
        Option(
            "min_freq",
            None,
            "positive_int",
            "text: keep tokens seen this often in train, the others read as <unk>; default: 2 "
            "for words (so that <unk>, which every word unseen in training reads as, is learnt: "
            "with 1 a validation word unseen in training cost 14-16 nats), 1 for characters",
            "data",
            nullable=True,
            absent=1,
        ),
        Option(
            "valid_fraction",
            0.1,
            "fraction",
            "held out of --train without --valid (text: its end; idx, MIDI: seeded)",
            "data",
        ),
        Option(
            "test_fraction",
            0.0,
            "fraction",
            "held out of --train without --test (text: the part before the validation part; "
            "MIDI: seeded pieces)",
            "data",
        ),
        flag("binarize", True, "idx: pixels >= 0.5 are 1, the others 0", "data"),
        Option("lowest_pitch", 21, "non_negative_int", "pianoroll: MIDI pitch of column 0", "data"),
        Option(
            "steps_per_beat",
            4,
            "positive_int",
            "MIDI files: time steps a quarter note (4: sixteenth notes)",
            "data",
            absent=4,
        ),
        Option("bptt", 100, "positive_int", "text: truncated BPTT steps of a batch", "training"),
        Option("embedding_dim", 64, "positive_int", "text: token embedding size"),
        Option(
            "condition_mode",
            "every",
            "choice",
            "idx: the class sets the first state, or is fed at every step",
            choices=("first", "every"),
        ),
        Option(
            "judge", None, "dir", "idx: a classify run that labels generated images", "data", True
        ),
        Option("judge_samples", 1000, "positive_int", "idx: images the judge labels", "data"),
        Option(
            "judge_temperature", 1.0, "positive_float", "idx: temperature of those samples", "data"
        ),
        min_updates_option(),
    )
    common_defaults: ClassVar[Mapping[str, Any]] = {
        "layers": 2,
        "hidden_size": 256,
        "lr": 2e-3,
        "epochs": 20,
        "patience": 5,
    }
    sized_by_data = ("epochs", "patience")
    monitor = ("valid_loss", "min")
    shown_metrics = ("bpc", "ppl")
    examples = """\
  rnnkit train generate --train input.txt --tokens char --bptt 100 --out runs/text
  rnnkit generate runs/text --prime "ROMEO:" --length 500 --temperature 0.8 --top-k 40
  rnnkit train generate --recipe jsb-chorales --data-dir ../shared/data --out runs/jsb
  rnnkit generate runs/jsb --length 64 --count 2 --output chorale
  rnnkit train generate --train midi_folder/ --test-fraction 0.1 --out runs/music
  rnnkit train generate --recipe mnist-conditional --data-dir ../shared/data --out runs/digits
  rnnkit generate runs/digits --condition 7 --count 16 --output sevens"""

    def check(self, config: Mapping[str, Any], where: str) -> None:
        kind = _format_of(config)
        if kind == "text":
            check_holdout(config, where)
            _check_shares(config, where)
        if kind == "pianoroll" and _is_roll_file(config["train"]):
            for name in ("valid", "test"):
                if config[name] is not None:
                    raise ValueError(
                        f"{option_name(name)}: a piano-roll file holds all three splits; "
                        "give it as --train only"
                    )
        elif kind == "pianoroll":  # MIDI files
            check_holdout(config, where)
            _check_shares(config, where)
            if config["lowest_pitch"] + MIDI_PITCHES - 1 > 127:
                raise ValueError(
                    f"--lowest-pitch {config['lowest_pitch']}: a roll read from MIDI spans "
                    f"{MIDI_PITCHES} keys, so it can be at most {128 - MIDI_PITCHES}"
                )
        if kind == "idx":
            for name in ("train", "valid", "test"):
                if config[name] is not None and config[f"{name}_labels"] is None:
                    raise ValueError(
                        f"{option_name(name + '_labels')} is required with --format idx"
                    )
            check_holdout(config, where)
        elif config["judge"] is not None:
            raise ValueError(f"{option_name('judge')}: only image runs (--format idx) are judged")

    def resumable(self) -> tuple[str, ...]:
        return ("epochs", "device", "judge", "judge_samples", "judge_temperature")

    def artifact_names(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        kind = _format_of(config)
        if kind == "text":
            return ("vocab",)
        if kind == "pianoroll":
            return ("roll",)
        return ("labels", "image")

    def bptt(self, config: Mapping[str, Any]) -> int | None:
        return config["bptt"] if _format_of(config) == "text" else None

    # ------------------------------------------------------------------ data
    def prepare(self, config: Mapping[str, Any], artifacts: Mapping[str, Any] | None) -> Prepared:
        kind = _format_of(config)
        if kind == "text":
            return self._prepare_text(config, artifacts)
        if kind == "pianoroll":
            splits, dropped = _read_rolls(config)
            width = int(splits["train"].frames[0].shape[1])
            if config["lowest_pitch"] + width - 1 > 127:
                raise ValueError(
                    f"--lowest-pitch {config['lowest_pitch']}: with {width} pitches the top "
                    "key leaves MIDI's 0-127"
                )
            if artifacts is None:
                artifacts = {"roll": {"pitches": width}}
            elif artifacts["roll"]["pitches"] != width:
                raise ValueError(
                    f"{config['train']}: {width} pitches, but the run has "
                    f"{artifacts['roll']['pitches']}"
                )
            info = {
                name: f"{len(frames)} pieces, {sum(len(f) for f in frames.frames)} steps"
                f" from {frames.source}"
                for name, frames in splits.items()
                if frames is not None
            }
            if dropped is not None:
                info["midi"] = dropped
            return Prepared(splits["train"], splits["valid"], splits["test"], dict(artifacts), info)
        return self._prepare_images(config, artifacts)

    def _prepare_text(
        self, config: Mapping[str, Any], artifacts: Mapping[str, Any] | None
    ) -> Prepared:
        chosen, told = {}, None
        text = read_text(config["train"])
        if config["tokenize"] == "auto" and config["tokens"] == "word":  # then kept
            chosen["tokenize"], told = auto_split(text.split())
            config = {**config, **chosen}
        splits = _text_splits(config, text)
        if config["min_freq"] is None:  # told from the tokens, then kept in the run's config
            chosen["min_freq"] = WORD_MIN_FREQ if config["tokens"] == "word" else 1
        min_freq = chosen.get("min_freq", config["min_freq"])
        if artifacts is None:
            train_tokens = splits["train"][0]
            vocab = Vocab.build([train_tokens], min_freq=min_freq, specials=[UNK])
            artifacts = {"vocab": vocab.to_dict()}
        vocab = vocab_artifact(artifacts)
        streams = {
            name: TextStream(_encode_text(tokens, vocab), where)
            for name, (tokens, where) in splits.items()
        }
        B, K = config["batch_size"], config["bptt"]
        train = streams["train"]
        if len(train) - K < B:  # StreamBatches' random offset needs K tokens beyond B streams
            raise ValueError(
                f"{config['train']}: {len(train)} training tokens are too few for "
                f"--batch-size {B} streams with --bptt {K}"
            )
        for name in ("valid", "test"):
            if name in streams and len(streams[name]) < 2:
                raise ValueError(f"{streams[name].source}: fewer than 2 tokens to {name}ate on")
        info = {
            name: f"{len(stream):,} {config['tokens']}s from {stream.source}"
            for name, stream in streams.items()
        }
        info["vocab"] = f"{len(vocab)} tokens"
        if told is not None:
            info["tokenize"] = told
        for name in ("valid", "test"):  # what the loss pays for words training never kept
            if name in streams:
                unknown = int((streams[name].ids == vocab.unk_index).sum())
                if unknown:
                    info[name] += (
                        f"; {unknown:,} ({unknown / len(streams[name]):.1%}) read as <unk>"
                    )
        return Prepared(
            train, streams["valid"], streams.get("test"), dict(artifacts), info, chosen=chosen
        )

    def _prepare_images(
        self, config: Mapping[str, Any], artifacts: Mapping[str, Any] | None
    ) -> Prepared:
        pixels, labels = _read_images(config["train"], config["train_labels"], config["binarize"])
        if config["valid"] is None:
            kept, held = holdout(
                len(labels), config["valid_fraction"], config["seed"], config["train"], "images"
            )
            valid_pixels, valid_labels = [pixels[i] for i in held], [labels[i] for i in held]
            pixels, labels = [pixels[i] for i in kept], [labels[i] for i in kept]
            valid_source = f"{config['train']} (held out)"
        else:
            valid_pixels, valid_labels = _read_images(
                config["valid"], config["valid_labels"], config["binarize"]
            )
            valid_source = config["valid"]
        if artifacts is None:
            height, width = pixels[0].shape
            artifacts = {
                "labels": sorted(set(labels), key=_label_order),
                "image": {"height": int(height), "width": int(width)},
            }
        known = artifacts["labels"]
        train = _image_frames(pixels, labels, known, config["train"])
        valid = _image_frames(valid_pixels, valid_labels, known, valid_source)
        test = None
        if config["test"] is not None:
            test_pixels, test_labels = _read_images(
                config["test"], config["test_labels"], config["binarize"]
            )
            test = _image_frames(test_pixels, test_labels, known, config["test"])
        width = artifacts["image"]["width"]
        for split in (train, valid, test):
            if split is not None and any(f.shape[1] != width for f in split.frames):
                raise ValueError(f"{split.source}: images are not {width} pixels wide")
        info = {
            name: f"{len(split)} images from {split.source}"
            for name, split in (("train", train), ("valid", valid), ("test", test))
            if split is not None
        }
        return Prepared(train, valid, test, dict(artifacts), info)

    # ------------------------------------------------------------------ model
    def build_model(self, config: Mapping[str, Any], artifacts: Mapping[str, Any]) -> nn.Module:
        return build_model(config, artifacts)

    def batches(
        self,
        config: Mapping[str, Any],
        examples: Any,
        generator: torch.Generator | None = None,
    ) -> Any:
        if isinstance(examples, TextStream):
            # Evaluation streams may be short: fewer streams rather than an error.
            batch_size = config["batch_size"]
            if generator is None:
                batch_size = min(batch_size, len(examples) - 1)
            return StreamBatches(examples.ids, batch_size, config["bptt"], generator)
        return frame_batches(examples, config["batch_size"], generator)

    def updates_per_epoch(self, config: Mapping[str, Any], examples: Any) -> int | None:
        if isinstance(examples, TextStream):  # an update a chunk of --bptt steps
            return len(self.batches(config, examples, generator=torch.Generator()))
        return None

    def stream_loss(self, model: nn.Module, chunk: Any, state: Any) -> tuple[Tensor, Any]:
        return model.loss(chunk["inputs"], chunk["targets"], state=state, return_state=True)

    def evaluate(self, model: nn.Module, batches: Any) -> dict[str, float]:
        return evaluate_batches(model, batches)

    def final_metrics(
        self, model: nn.Module, prepared: Prepared, config: Mapping[str, Any], log: Any
    ) -> dict[str, Any]:
        from rnnkit.tasks.base import evaluate_examples

        kind = _format_of(config)
        metrics: dict[str, Any] = {}
        unit = {"text": f"{config['tokens']}s", "pianoroll": "steps", "idx": "images"}[kind]
        for split, examples in (("valid", prepared.valid), ("test", prepared.test)):
            if examples is None:
                continue
            values = evaluate_examples(self, model, config, examples)
            metrics.update({f"{split}_{key}": value for key, value in values.items()})
            count = len(examples) if kind != "pianoroll" else sum(len(f) for f in examples.frames)
            metrics[f"{split}_{unit}"] = count
        if kind == "idx" and config["judge"] is not None:
            accuracy = judged_accuracy(
                model,
                config,
                prepared.artifacts,
                judge=config["judge"],
                samples=config["judge_samples"],
                temperature=config["judge_temperature"],
                seed=config["seed"],
            )
            metrics["test_judged_accuracy"] = accuracy
            log(f"judge {config['judge']}: {accuracy:.2%} of the generated images as asked")
        return metrics

    def write_plots(
        self,
        plots_dir: Path,
        rows: list[dict[str, Any]],
        model: nn.Module,
        prepared: Prepared,
        config: Mapping[str, Any],
    ) -> list[Path]:
        """Music: a generated piece as a piano roll; images: a grid of generated ones."""
        kind = _format_of(config)
        generator = torch.Generator().manual_seed(config["seed"])
        if kind == "pianoroll":
            from rnnkit.music import plot_piano_roll

            roll = model.generate(max_length=64, generator=generator)[0]
            path = plots_dir / "sample.png"
            title = "a generated piece (64 steps)"
            return [plot_piano_roll(roll, path, title, lowest_pitch=config["lowest_pitch"])]
        if kind == "idx":
            return [_image_grid(model, prepared.artifacts, None, 8, 1.0, generator,
                                plots_dir / "samples.png")]  # fmt: skip
        return []

    # ------------------------------------------------------------------ using a run
    def evaluate_file(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        data: str | None,
    ) -> dict[str, Any]:
        """Loss (and bpc or nll) on ``data``: a text, a piano-roll file (its test split) or
        IDX images with the run's ``--test-labels``; default: the run's test split, else its
        validation split."""
        from rnnkit.tasks.base import evaluate_examples

        kind = _format_of(config)
        if data is None:
            prepared = self.prepare(config, artifacts)
            examples = prepared.test if prepared.test is not None else prepared.valid
        elif kind == "text":
            vocab = vocab_artifact(artifacts)
            tokens = _stream_tokens(read_text(data), config)
            examples = TextStream(_encode_text(tokens, vocab), data)
            if len(examples) < 2:
                raise ValueError(f"{data}: fewer than 2 tokens to evaluate on")
        elif kind == "pianoroll":
            if _is_roll_file(data):
                from rnnkit.data.piano_roll import read_piano_rolls

                rolls = read_piano_rolls(data)  # its test pieces, or else all it has
                split = "test" if rolls["test"] else "train"
                examples = _frames(rolls[split], f"{data} ({split})")
            else:  # MIDI files: every piece
                from rnnkit.data.midi import read_midi_folder

                rolls, _, report = read_midi_folder(
                    data, config["steps_per_beat"], config["lowest_pitch"], MIDI_PITCHES
                )
                if report.describe() is not None:  # as training's log says it
                    print(f"rnnkit: note: {data}: {report.describe()}", file=sys.stderr)
                examples = _frames(rolls, data)
            rolls = examples.frames
            if rolls[0].shape[1] != artifacts["roll"]["pitches"]:
                raise ValueError(
                    f"{data}: {rolls[0].shape[1]} pitches, the run has "
                    f"{artifacts['roll']['pitches']}"
                )
        else:
            from rnnkit.data.idx import labels_file_for

            # the labels given with these images, else those beside them (the run's
            # --test-labels were read for any images, matching or not)
            splits = [(config[n], config[f"{n}_labels"]) for n in ("test", "valid", "train")]
            labels_file = labels_file_for(data, splits)
            pixels, labels = _read_images(data, labels_file, config["binarize"])
            examples = _image_frames(pixels, labels, artifacts["labels"], data)
        metrics = evaluate_examples(self, model, config, examples)
        if kind == "idx" and config["judge"] is not None:
            metrics["judged_accuracy"] = judged_accuracy(
                model,
                config,
                artifacts,
                judge=config["judge"],
                samples=config["judge_samples"],
                temperature=config["judge_temperature"],
                seed=config["seed"],
            )
        return {"data": examples.source, "examples": len(examples), **metrics}

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
        kind = _format_of(config)
        if kind == "text":
            if condition is not None:
                raise ValueError("--condition: a text run has no classes; use --prime")
            samples = generate_text(
                model,
                config,
                artifacts,
                prime=prime,
                length=length or DEFAULT_LENGTH["text"],
                temperature=temperature,
                top_k=top_k,
                count=count,
                generator=generator,
            )
            if output is None:
                return _joined(samples)
            text = "\n".join(_joined(samples)) + "\n"
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as err:
                raise ValueError(
                    f"--output {output}: cannot write: {err.strerror or err}"
                ) from None
            return [f"wrote {output}"]
        for name, value in (("prime", prime), ("top_k", top_k)):
            if value is not None:
                raise ValueError(f"{option_name(name)} applies to text runs only")
        if output is None:
            raise ValueError("--output is required: this run writes pictures (and MIDI) files")
        stem = _stem(output)
        if kind == "pianoroll":
            if condition is not None:
                raise ValueError("--condition: a piano-roll run has no classes")
            return _write_music(
                model, config, stem, length or DEFAULT_LENGTH["pianoroll"], temperature, count,
                generator,
            )  # fmt: skip
        length = length or artifacts["image"]["height"]
        path = _image_grid(
            model, artifacts, condition, count, temperature, generator, Path(f"{stem}.png"),
            length=length,
        )  # fmt: skip
        return [f"wrote {path}"]

    def example_inputs(
        self, model: nn.Module, config: Mapping[str, Any], artifacts: Mapping[str, Any]
    ) -> tuple[Tensor, ...]:
        generator = torch.Generator().manual_seed(0)
        if isinstance(model.head, nn.Linear) and model.output == "softmax":
            return (torch.randint(model.num_outputs, (3, 7), generator=generator),)
        frames = (torch.rand(3, 7, model.num_outputs, generator=generator) > 0.5).float()
        if model.condition is not None:
            return frames, torch.tensor([0, 1, 0]) % model.num_conditions
        return (frames,)


# ---------------------------------------------------------------------- model, metrics
def _label_order(label: str) -> tuple[int, float | str]:
    """Numbers in numeric order (``"2"`` before ``"10"``), then other labels by name."""
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


def build_model(config: Mapping[str, Any], artifacts: Mapping[str, Any]) -> SequenceGenerator:
    """The generator ``config`` describes, for the run's vocabulary, pitches or images."""
    common = {
        "cell": config["cell"],
        "hidden_size": config["hidden_size"],
        "num_layers": config["layers"],
        "dropout": config["dropout"],
    }
    if "vocab" in artifacts:
        vocab = vocab_artifact(artifacts)
        model = SequenceGenerator(len(vocab), embedding_dim=config["embedding_dim"], **common)
        model.token_unit = config["tokens"]  # what evaluate_batches scores: see there
        return model
    if "roll" in artifacts:
        return SequenceGenerator(
            output="bernoulli", output_size=int(artifacts["roll"]["pitches"]), **common
        )
    return SequenceGenerator(
        output="bernoulli",
        output_size=int(artifacts["image"]["width"]),
        condition="class",
        num_conditions=len(artifacts["labels"]),
        condition_mode=config["condition_mode"],
        **common,
    )


def evaluate_batches(model: nn.Module, batches: Any) -> dict[str, float]:
    """Validation metrics (called without autograd): for text streams the loss in nats per
    token and ``bpc`` (its value in bits) for characters or ``ppl`` (perplexity, e^loss) for
    words (``model.token_unit``), the state carried from batch to batch as in training; for
    frames ``nll`` per time step summed over the outputs (also the loss)."""
    total, count, state = 0.0, 0, None
    streams = False
    for batch in batches:
        if "lengths" not in batch:  # a text stream batch
            streams = True
            logits, state = model(batch["inputs"], state=state)  # (B, L, V)
            targets = batch["targets"]
            total += float(
                F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")
            )
            count += targets.numel()
            continue
        logits, _ = model(batch["inputs"], batch.get("condition"), batch["lengths"])
        mask = lengths_to_mask(batch["lengths"], batch["inputs"].shape[1])
        nll, steps = frame_nll(logits, batch["targets"], mask)
        total, count = total + nll, count + steps
    if count == 0:
        raise ValueError("no examples to evaluate")
    loss = total / count
    if streams and getattr(model, "token_unit", "char") == "word":
        return {"loss": loss, "ppl": math.exp(loss)}  # a word model's perplexity
    if streams:
        return {"loss": loss, "bpc": loss / math.log(2)}
    return {"loss": loss, "nll": loss}


# ---------------------------------------------------------------------- generation
def _stem(output: str) -> str:
    """``output`` without a ``.png``/``.mid`` suffix: the stem of the files to write."""
    for suffix in (".png", ".mid", ".midi"):
        if output.lower().endswith(suffix):
            return output[: -len(suffix)]
    return output


def _joined(samples: list[str]) -> list[str]:
    lines: list[str] = []
    for number, sample in enumerate(samples):
        if number:
            lines.append(SEPARATOR)
        lines.append(sample)
    return lines


def _detokenize(tokens: Sequence[str], unit: str, punct: bool = False) -> str:
    """Text from generated tokens: characters joined, words separated by spaces, or with
    ``punct`` the marks joined back to their words (:func:`rnnkit.text.tokenize.join_marks`),
    line by line."""
    if unit == "char":
        return "".join(tokens)
    lines, line = [], []
    for token in tokens:
        if token == NEWLINE:
            lines.append(line)
            line = []
        else:
            line.append(token)
    join = join_marks if punct else " ".join
    return NEWLINE.join(join(words) for words in [*lines, line])


def generate_text(
    model: nn.Module,
    config: Mapping[str, Any],
    artifacts: Mapping[str, Any],
    *,
    prime: str | None,
    length: int,
    temperature: float,
    top_k: int | None,
    count: int,
    generator: torch.Generator,
) -> list[str]:
    """``count`` texts: ``prime`` followed by ``length`` sampled tokens each. Without a prime
    the model starts after a line end (or its commonest token), which is not shown."""
    vocab = vocab_artifact(artifacts)
    unit = config["tokens"]
    punct = config["tokenize"] == "punct"
    if prime:
        tokens = _stream_tokens(prime, config)
        unknown = list(dict.fromkeys(t for t in tokens if t not in vocab))
        if unknown and unit == "char":
            rare = f" (or fewer than --min-freq {config['min_freq']} times)"
            raise ValueError(
                f"--prime: {unknown[0]!r} is not in the run's vocabulary: it never occurs in "
                f"the training text{rare if config['min_freq'] > 1 else ''}"
            )
        if unknown:  # as rare training words did, they read as <unk>: said, not refused
            shown_words = ", ".join(map(repr, unknown[:5])) + (", ..." if len(unknown) > 5 else "")
            print(
                f"rnnkit: note: --prime words not in the run's vocabulary read as {UNK}: "
                f"{shown_words}",
                file=sys.stderr,
            )
        if not tokens:
            raise ValueError("--prime: no tokens in it")
        ids, shown = vocab.encode(tokens), prime
    else:
        start = NEWLINE if NEWLINE in vocab else vocab.index_to_token(len(vocab.specials))
        ids, shown = [vocab.index(start)], ""
    prime_ids = torch.tensor([ids] * count, dtype=torch.long)
    generated = model.generate(
        prime=prime_ids,
        max_length=length,
        temperature=temperature,
        top_k=top_k,
        generator=generator,
        # <pad> and <unk> are no text to print (a flat distribution would pick them)
        suppress_tokens=range(len(vocab.specials)),
    )
    return [
        shown + _continuation(vocab.decode(row, strip_specials=False), unit, shown, punct)
        for row in generated
    ]


def _continuation(tokens: list[str], unit: str, shown: str, punct: bool = False) -> str:
    text = _detokenize(tokens, unit, punct)
    if (
        unit == "word"
        and shown
        and not shown.endswith((NEWLINE, " "))
        and not text.startswith(NEWLINE)
        and not (punct and tokens and join_marks([shown, tokens[0]]) == shown + tokens[0])
    ):
        return " " + text
    return text


def _write_music(
    model: nn.Module,
    config: Mapping[str, Any],
    stem: str,
    length: int,
    temperature: float,
    count: int,
    generator: torch.Generator,
) -> list[str]:
    from rnnkit.music import piano_roll_to_midi, plot_piano_roll

    rolls = model.generate(
        batch_size=count, max_length=length, temperature=temperature, generator=generator
    )
    # a roll read from MIDI by beats is written with its own steps a beat, at 120 beats a
    # minute; one from a .mat/.npz file, whose step is not known, one step a beat (0.25 s)
    timing = {}
    if not _is_roll_file(config["train"]):
        steps = config["steps_per_beat"]
        timing = {"step_seconds": 0.5 / steps, "steps_per_beat": steps}
    written = []
    for number, roll in enumerate(rolls):
        name = stem if count == 1 else f"{stem}-{number + 1}"
        title = f"generated piece {number + 1} ({length} steps)"
        png = plot_piano_roll(roll, f"{name}.png", title, lowest_pitch=config["lowest_pitch"])
        midi = piano_roll_to_midi(roll, f"{name}.mid", config["lowest_pitch"], **timing)
        written += [f"wrote {png}", f"wrote {midi}"]
    return written


def sample_images(
    model: nn.Module,
    classes: Tensor,
    length: int,
    temperature: float,
    generator: torch.Generator,
) -> Tensor:
    """Images ``(N, length, W)`` of 0/1 generated row by row for the class ids ``(N,)``."""
    return model.generate(classes, max_length=length, temperature=temperature, generator=generator)


def _class_ids(artifacts: Mapping[str, Any], condition: str | None) -> list[int]:
    labels = artifacts["labels"]
    if condition is None:
        return list(range(len(labels)))
    if condition not in labels:
        raise ValueError(f"--condition {condition}: not a class of this run ({', '.join(labels)})")
    return [labels.index(condition)]


def _image_grid(
    model: nn.Module,
    artifacts: Mapping[str, Any],
    condition: str | None,
    count: int,
    temperature: float,
    generator: torch.Generator,
    path: Path,
    length: int | None = None,
) -> Path:
    """``count`` generated images of the class ``condition`` (default: of every class, a grid
    row each) as a PNG grid."""
    from rnnkit.plots import plot_image_grid

    chosen = _class_ids(artifacts, condition)
    classes = torch.tensor(chosen, dtype=torch.long).repeat_interleave(count)
    images = sample_images(
        model, classes, length or artifacts["image"]["height"], temperature, generator
    )
    labels = artifacts["labels"]
    if condition is None:
        return plot_image_grid(images, path, columns=count, row_labels=[labels[c] for c in chosen])
    return plot_image_grid(images, path, title=f"generated {condition}")


def judged_accuracy(
    model: nn.Module,
    config: Mapping[str, Any],
    artifacts: Mapping[str, Any],
    *,
    judge: str,
    samples: int,
    temperature: float,
    seed: int,
) -> float:
    """The share of ``samples`` generated images (the classes in turn) that the classifier
    of the run ``judge`` labels as the class they were generated for."""
    from rnnkit.tasks.runner import load_run

    judged = load_run(judge)
    if judged.task.name != "classify":
        raise ValueError(f"--judge {judge}: not a classify run (task {judged.task.name!r})")
    judge_labels = judged.artifacts["labels"]
    labels = artifacts["labels"]
    missing = [label for label in labels if label not in judge_labels]
    if missing:
        raise ValueError(f"--judge {judge}: the judge does not know the class {missing[0]!r}")
    scaler = judged.artifacts.get("scaler")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    correct = 0
    with evaluating(model):
        for start in range(0, samples, 250):
            n = min(250, samples - start)
            classes = torch.arange(start, start + n) % len(labels)
            images = sample_images(
                model, classes.to(device), artifacts["image"]["height"], temperature, generator
            ).cpu()
            if scaler is not None:
                mean = torch.tensor(scaler["mean"], dtype=torch.float32)
                images = (images - mean) / torch.tensor(scaler["std"], dtype=torch.float32)
            lengths = torch.full((n,), images.shape[1], dtype=torch.long)
            predicted = judged.model(images, lengths).argmax(1)
            asked = torch.tensor([judge_labels.index(labels[c]) for c in classes.tolist()])
            correct += int((predicted == asked).sum())
    return correct / samples


# ---------------------------------------------------------------------- recipes
RECIPES = {
    "tinyshakespeare": Recipe(
        "tinyshakespeare",
        {
            "format": "text",
            "tokens": "char",
            "valid_fraction": 0.1,
            "cell": "lstm",
            "hidden_size": 512,
            "layers": 2,
            "dropout": 0.1,
            "embedding_dim": 64,
            "bptt": 64,
            "batch_size": 32,
            "lr": 2e-3,
            "schedule": "cosine",
            "epochs": 4,
            "patience": None,  # every epoch of the cosine, the last kept
        },
        {"train": "tinyshakespeare/input.txt"},
        "nanoGPT split (first 90 % train, last 10 % val): a 2-3 layer LSTM reaches about "
        "1.4-1.5 nats/char; bar: val loss <= 1.50 within 45 minutes of training",
        bars={"valid_loss": 1.50},
    ),
    "jsb-chorales": Recipe(
        "jsb-chorales",
        {
            "format": "pianoroll",
            "cell": "gru",
            "hidden_size": 200,
            "layers": 1,
            # Chosen on validation NLL: dropout 0.5 with weight decay 1e-5 gave 8.39, against
            # 8.48 for dropout 0.3 alone and 8.60 for hidden 150, dropout 0.2, lr 2e-3.
            "dropout": 0.5,
            "weight_decay": 1e-5,
            "batch_size": 8,
            "lr": 3e-3,
            "epochs": 200,
            "patience": 15,
        },
        {"train": "jsb_chorales/JSB_Chorales.mat"},
        "Chung et al. 2014 Table 2, test NLL per time step: GRU 8.54, LSTM 8.67, tanh 9.19",
        bars={"test_nll": 8.54},
    ),
    "mnist-conditional": Recipe(
        "mnist-conditional",
        {
            "format": "idx",
            "cell": "lstm",
            "hidden_size": 256,
            "layers": 1,
            "condition_mode": "every",
            "valid_fraction": 5000 / 60000,
            "batch_size": 128,
            "lr": 2e-3,
            "epochs": 8,
            "patience": None,  # the last epoch is kept
        },
        {
            "train": "mnist/train-images-idx3-ubyte.gz",
            "train_labels": "mnist/train-labels-idx1-ubyte.gz",
            "test": "mnist/t10k-images-idx3-ubyte.gz",
            "test_labels": "mnist/t10k-labels-idx1-ubyte.gz",
        },
        "digits generated row by row given the class; bar: the mnist-rows classifier "
        "(--judge RUN_DIR) labels >= 90 % of 1000 samples as the digit asked for",
        bars={"test_judged_accuracy": 0.90},
        uses={"judge": "mnist-rows"},
    ),
}

TASK = GenerateTask()
TASK.recipes = RECIPES
