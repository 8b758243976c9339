"""Options of a task, each declared once: its default, what it must hold, and its help.

The same declaration serves the command line (``rnnkit train TASK --hidden-size 128``) and
the check of a ``config.json`` read back for ``--resume``, ``evaluate`` or ``predict`` (a
hand-edited file is checked before it is used), so the two can never disagree.
"""

from __future__ import annotations

import argparse
import math
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.checks import is_int, is_number

__all__ = [
    "COMMON",
    "KINDS",
    "OFF",
    "Option",
    "check_config",
    "check_holdout",
    "data_file",
    "fill_absent",
    "flag",
    "given_value",
    "idx_labels",
    "option_name",
    "parser_of",
]


def option_name(name: str) -> str:
    """The command-line spelling of a config key: ``hidden_size`` -> ``--hidden-size``."""
    return "--" + name.replace("_", "-")


# kind -> (what it must hold, test of a config value, parser of a command-line string)
def _parse_number(kind: type, expected: str, ok: Callable[[Any], bool]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def _finite(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


def _found(text: str) -> str | None:
    """``"dir"``, ``"file"`` or ``None`` (nothing there); a path that cannot be looked at (a
    folder on the way one may not enter) is an error saying so, where Python's
    ``Path.exists`` raises."""
    try:
        mode = os.stat(text).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise argparse.ArgumentTypeError(f"{text}: cannot read: {err.strerror or err}") from None
    return "dir" if stat.S_ISDIR(mode) else "file"


def _parse_file(text: str) -> str:
    found = _found(text)
    if found == "dir":
        raise argparse.ArgumentTypeError(f"{text}: is a directory, expected a file")
    if found is None:
        raise argparse.ArgumentTypeError(f"{text}: file not found")
    return text


def _named(kind: str) -> tuple[str, Mapping[str, Any]]:
    """What a named-or-file option kind reads, in words, and its names."""
    if kind == "lexicon":
        from rnnkit.text.lexicon import LEXICONS

        return "lexicon", LEXICONS
    from rnnkit.text.vectors import VECTOR_SETS

    return "vector set", VECTOR_SETS


def _parts(text: str, kind: str) -> list[str]:
    if kind == "lexicon":  # several, comma-separated
        from rnnkit.text.lexicon import lexicon_sources

        return lexicon_sources(text)
    return [text]


def vectors_value(text: str, kind: str = "vectors") -> str:
    """A ``vectors`` (or ``lexicon``) option's value as a run keeps it: a known set's name as
    it is, an existing file as an absolute path (a relative one could later read as a name,
    and the run's config.json should say which file it was), anything else unchanged; each
    of a ``lexicon``'s comma-separated parts likewise."""
    names = _named(kind)[1]
    parts = [
        str(Path(part).resolve()) if part not in names and _found(part) == "file" else part
        for part in _parts(text, kind)
    ]
    return ",".join(parts) if len(parts) > 1 else parts[0]


def _parse_named(kind: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        what, names = _named(kind)
        if not _parts(text, kind):
            raise argparse.ArgumentTypeError(f"{text!r}: names no {what}")
        for part in _parts(text, kind):
            if part not in names and _found(part) != "file":
                raise argparse.ArgumentTypeError(
                    f"{part}: neither a file nor a known {what} ({', '.join(sorted(names))})"
                )
        return vectors_value(text, kind)

    return parse


def _parse_path(text: str) -> str:
    if _found(text) is None:
        raise argparse.ArgumentTypeError(f"{text}: file or directory not found")
    return text


def _parse_dir(text: str) -> str:
    if _found(text) != "dir":
        raise argparse.ArgumentTypeError(f"{text}: directory not found")
    return text


def _path_value(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


_KIND_TABLE: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "positive_int": ("a positive integer", lambda v: is_int(v) and v > 0),
    "non_negative_int": ("an integer >= 0", lambda v: is_int(v) and v >= 0),
    "positive_float": ("a number > 0", lambda v: _finite(v) and v > 0),
    "non_negative_float": ("a number >= 0", lambda v: _finite(v) and v >= 0),
    "fraction": ("a number in [0, 1)", lambda v: _finite(v) and 0 <= v < 1),
    "probability": ("a number in [0, 1]", lambda v: _finite(v) and 0 <= v <= 1),
    "seed": ("an integer in [0, 2**32)", lambda v: is_int(v) and 0 <= v < 2**32),
    "text": ("a non-empty string", lambda v: isinstance(v, str) and bool(v)),
    "file": ("a file path", _path_value),
    "dir": ("a directory path", _path_value),
    "path": ("a file or directory path", _path_value),
    "vectors": ("a word vectors file or vector set name", _path_value),
    "lexicon": ("a lexicon file or name", _path_value),
    "flag": ("true or false", lambda v: isinstance(v, bool)),
}
KINDS = (*_KIND_TABLE, "choice")


def parser_of(kind: str) -> Callable[[str], Any] | None:
    """The command-line parser of an option kind (``None`` for flags and choices)."""
    expected, ok = _KIND_TABLE[kind]
    if kind in ("positive_int", "non_negative_int", "seed"):
        return _parse_number(int, expected, ok)
    if kind in ("positive_float", "non_negative_float", "fraction", "probability"):
        return _parse_number(float, expected, ok)
    if kind == "file":
        return _parse_file
    if kind == "dir":
        return _parse_dir
    if kind == "path":
        return _parse_path
    if kind in ("vectors", "lexicon"):
        return _parse_named(kind)
    if kind == "text":
        return _parse_number(str, expected, ok)
    return None


REQUIRED = object()  # Option.absent: a config.json must hold the option


# What `--NAME off` parses to: None (off) as given, where argparse's None means "not given".
OFF = object()


def given_value(value: Any) -> Any:
    """A parsed command-line value as a config holds it (``OFF`` is ``None``)."""
    return None if value is OFF else value


def _or_off(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_or_off(text: str) -> Any:
        return OFF if text.strip().lower() == "off" else parse(text)

    return parse_or_off


@dataclass(frozen=True)
class Option:
    """One option of a task.

    Attributes:
        name: the config key (``hidden_size``); the command line says ``--hidden-size``.
        default: the value when not given (``None`` for "absent" where ``nullable``).
        kind: one of :data:`KINDS`; ``"choice"`` takes one of ``choices``.
        help: one line for ``--help``.
        group: the ``--help`` section: ``"data"``, ``"model"`` or ``"training"``.
        nullable: whether ``None`` (absent) is a valid value.
        choices: the values of a ``"choice"`` option.

    ``file``, ``dir`` and ``path`` (either) options are made absolute when a run is created;
    ``vectors`` (a word vectors file or the name of a packaged vector set,
    :mod:`rnnkit.text.vectors`) and ``lexicon`` (likewise, :mod:`rnnkit.text.lexicon`) are
    made absolute when parsed, if they are files.
    ``required``: a (nullable) data path a run cannot do without; not given, it stops the
    run with ``--name is required``.
    ``absent``: for an option added after runs were made, the value that gives those runs'
    behaviour; a ``config.json`` without the option reads as having it (else it is refused).
    """

    name: str
    default: Any
    kind: str
    help: str
    group: str = "model"
    nullable: bool = False
    choices: tuple[str, ...] = ()
    absent: Any = REQUIRED
    required: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name}: unknown kind {self.kind!r}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"option {self.name}: choices go with kind 'choice' only")

    @property
    def expected(self) -> str:
        text = (
            f"one of {', '.join(self.choices)}"
            if self.kind == "choice"
            else _KIND_TABLE[self.kind][0]
        )
        return text + (" or null" if self.nullable else "")

    def valid(self, value: Any) -> bool:
        """Whether ``value`` is one this option may hold (in a config)."""
        if value is None:
            return self.nullable
        if self.kind == "choice":
            return value in self.choices
        return _KIND_TABLE[self.kind][1](value)

    def add_to(self, group: argparse._ArgumentGroup) -> None:
        """Declare the option on an argparse group; not given parses as ``None``."""
        shown = "off" if self.default is None else str(self.default).lower()
        if "default:" in self.help:
            help_text = self.help
        else:
            help_text = f"{self.help}; default: {shown}" if self.help else f"default: {shown}"
        help_text = help_text.replace("%", "%%")
        flag_name = option_name(self.name)
        if self.kind == "flag":
            group.add_argument(
                flag_name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        elif self.kind == "choice":
            group.add_argument(flag_name, choices=self.choices, default=None, help=help_text)
        else:
            parse = parser_of(self.kind)
            if self.nullable and self.default is not None:  # on by default: `off` turns it off
                parse = _or_off(parse)
                help_text = help_text.replace("; default:", "; off turns it off; default:", 1)
            elif self.nullable and self.kind in ("vectors", "lexicon"):  # a recipe's, say
                parse = _or_off(parse)
                help_text = help_text.replace("; default:", "; off for none; default:", 1)
            metavar = {
                "file": "FILE",
                "dir": "DIR",
                "path": "PATH",
                "text": "TEXT",
                "vectors": "FILE|NAME",
                "lexicon": "FILE|NAME",
            }.get(
                self.kind,
                "X" if "float" in self.kind or self.kind in ("fraction", "probability") else "N",
            )
            group.add_argument(
                flag_name,
                type=parse,
                default=None,
                metavar=metavar,
                help=help_text,
            )


def flag(
    name: str,
    default: bool,
    help: str,
    group: str = "model",
    absent: Any = REQUIRED,
) -> Option:
    """A yes/no option (``--name`` / ``--no-name``)."""
    return Option(name, default, "flag", help, group, absent=absent)


def fill_absent(config: dict[str, Any], options: Iterable[Option]) -> None:
    """Give a ``config.json`` read back the options added since it was written, as
    :attr:`Option.absent` says (the behaviour of the runs made before them)."""
    for option in options:
        if option.name not in config and option.absent is not REQUIRED:
            config[option.name] = option.absent


def data_file(
    name: str,
    help: str,
    kind: str = "file",
    required: bool = False,
    absent: Any = REQUIRED,
) -> Option:
    """A data path option (``--train``, ``--valid``, ``--test`` ...), absent unless given
    (``absent``: as for :class:`Option`, for one added after runs were made)."""
    return Option(name, None, kind, help, "data", nullable=True, required=required, absent=absent)


def check_holdout(config: Mapping[str, Any], where: str) -> None:
    """Without ``--valid`` the validation examples are held out of ``--train``: a
    ``--valid-fraction`` of 0 would leave none."""
    if config["valid"] is None and config["valid_fraction"] == 0:
        raise ValueError(f"{where}: --valid-fraction must be > 0 without --valid")


def idx_labels(what: str = "IDX labels") -> tuple[Option, ...]:
    """``--train-labels``, ``--valid-labels``, ``--test-labels``: the IDX label files that go
    with IDX image files."""
    return tuple(data_file(f"{split}_labels", f"{what} of --{split}") for split in SPLITS)


def check_config(config: Mapping[str, Any], options: Iterable[Option], where: str) -> None:
    """Every option present in ``config`` and holding a valid value; ``where`` names the
    source (``options`` or a ``config.json`` path) in the one-line ``ValueError``."""
    options = list(options)
    missing = [
        option.name for option in options if option.name not in config and option.absent is REQUIRED
    ]
    if missing:
        raise ValueError(f"{where}: missing options {', '.join(missing)}")
    for option in options:
        if option.name not in config:  # an option added later; fill_absent gives its value
            continue
        value = config[option.name]
        if option.required and value is None:
            raise ValueError(f"{option_name(option.name)} is required")
        if not option.valid(value):
            raise ValueError(
                f"{where}: {option_name(option.name)} must be {option.expected}, got {value!r}"
            )


SPLITS = ("train", "valid", "test")

# The options every task has: the recurrent network and the training loop.
COMMON: tuple[Option, ...] = (
    Option("cell", "lstm", "choice", "recurrent cell", choices=("rnn", "lstm", "gru")),
    Option("hidden_size", 128, "positive_int", "hidden units per layer and direction"),
    Option("layers", 1, "positive_int", "stacked recurrent layers"),
    Option("dropout", 0.0, "fraction", "dropout between layers and before the output"),
    Option("epochs", 10, "positive_int", "passes over the training data", group="training"),
    Option("lr", 1e-3, "positive_float", "peak learning rate", group="training"),
    Option(
        "optimizer",
        "adam",
        "choice",
        "optimizer",
        group="training",
        choices=("adam", "adamw", "sgd"),
    ),
    Option(
        "schedule",
        "none",
        "choice",
        "learning-rate schedule after the warm-up",
        group="training",
        choices=("none", "cosine", "plateau"),
    ),
    Option("warmup_steps", 0, "non_negative_int", "linear warm-up steps", group="training"),
    Option("weight_decay", 0.0, "non_negative_float", "weight decay", group="training"),
    Option("batch_size", 32, "positive_int", "examples per batch", group="training"),
    Option(
        "clip_norm",
        5.0,
        "non_negative_float",
        "gradient norm clipping, 0 is off",
        group="training",
    ),
    Option("seed", 0, "seed", "seeds the weights and the data order", group="training"),
    Option(
        "patience",
        None,
        "positive_int",
        "early stopping after this many epochs without improvement",
        group="training",
        nullable=True,
    ),
    Option("device", "cpu", "choice", "device", group="training", choices=("cpu", "cuda")),
)


def refit_option() -> Option:
    """``--refit`` (``forecast``, ``classify``): after early stopping has chosen the epoch
    count, a fresh model on train + validation for that many epochs is the one kept."""
    return Option(
        "refit",
        False,
        "flag",
        "after choosing the epoch count on validation, train a fresh model on train + "
        "validation for that many epochs and keep it",
        "training",
        absent=False,
    )


def check_refit(config: Mapping[str, Any]) -> None:
    """``--refit`` trains without validation, which a plateau schedule watches."""
    if config["refit"] and config["schedule"] == "plateau":
        raise ValueError(
            f"{option_name('refit')} cannot be combined with {option_name('schedule')} plateau"
        )
