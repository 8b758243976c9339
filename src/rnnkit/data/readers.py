"""Readers of the plain text formats the ``rnnkit`` command takes.

Every problem with a file is a ``ValueError`` (or ``OSError`` for an unreadable file) whose
one-line message starts with ``FILE`` or ``FILE:LINE``, so the command can print it as is.

Formats:

* labelled text, one example a line: ``LABEL<space>TEXT`` (as the SST files,
  ``1 a gripping film .``); the label is the first whitespace-separated field, the text is
  the rest of the line, stripped.
* plain text, one text a line (the input of ``rnnkit predict``).

Files must be UTF-8. Blank lines in a labelled file are skipped (line numbers in messages stay
those of the file); in a plain-text input they are an error, since each line gets one output.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LabeledLine",
    "decode_line",
    "is_number",
    "iter_lines",
    "raw_lines",
    "read_bytes",
    "read_labeled_lines",
    "read_text_lines",
]


@dataclass(frozen=True)
class LabeledLine:
    """One example of a labelled text file: its label, its text and its 1-based line."""

    label: str
    text: str
    line: int


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a float (``"1e-3"``, ``"nan"`` and ``"inf"`` included)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


LABEL_NAMES = ("label", "class", "target", "y", "sentiment", "category", "polarity")
"""Usual names of a header's label column, in the order they are looked for."""

TEXT_NAMES = ("text", "sentence", "review", "content", "comment", "tweet", "document", "body")
"""Usual names of a header's text column, in the order they are looked for."""


# Cells (in lower case) that mean "no value" in every table reader: empty, R's NA, pandas'
# NaN, spreadsheets' #N/A, databases' NULL; each reader adds the marks of its own kind.
NA_MARKS = frozenset({"", "na", "n/a", "#n/a", "nan", "null"})


def named_column(header: Sequence[str], wanted: str, usual: Sequence[str]) -> int | None:
    """Where the column ``wanted`` is in ``header`` (case and surrounding blanks aside); if
    ``wanted`` is the first of the ``usual`` names (the default, ``label``) and absent, the
    first other usual name the header has (``Sentiment``, ``review``): a name one gives is
    the only one looked for."""
    names = [name.strip().lower() for name in header]
    wanted = wanted.strip().lower()
    for name in (wanted, *usual) if usual and wanted == usual[0] else (wanted,):
        if name in names:
            return names.index(name)
    return None


def read_bytes(path: Path, expected: str = "a text file") -> bytes:
    """The bytes of a text file as UTF-8: a gzip-compressed file decompressed (``.csv.gz``, as
    pandas reads it), UTF-16 with its byte order mark re-encoded, and UTF-8 byte order marks
    dropped wherever they are (files joined with ``cat`` carry one at each join, which would
    stick to a label). ``ValueError`` naming the file if it is missing, a directory,
    unreadable, damaged gzip or a Python pickle (never unpickled: it runs code)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, expected {expected}") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot read: {err.strerror or err}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: damaged gzip data: {err}") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeError:
            raise ValueError(f"{path}: not UTF-16 text, although it starts as such") from None
    elif len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5:
        raise ValueError(
            f"{path}: a Python pickle, which rnnkit does not read (unpickling runs code from "
            "the file): save the data as .npz (numpy.savez) or as text"
        )
    return data.replace(b"\xef\xbb\xbf", b"")


def raw_lines(path: Path, *, trailing_blanks: bool = False) -> list[bytes]:
    """The undecoded lines of a file: split on ``\n`` only (``str.splitlines`` would also
    split on ``\x0b``, ``\x1c``, U+2028, ... and shift every later line), a UTF-8 byte order
    mark dropped, the final newline ending the last line rather than starting an empty one,
    and (unless ``trailing_blanks``) the blank lines at its end dropped, which editors
    leave."""
    lines = read_bytes(path).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    while lines and not trailing_blanks and not lines[-1].strip():
        lines.pop()
    return lines


def decode_line(raw: bytes, path: Path, number: int) -> str:
    """One raw line as text without its ``\r``; ``ValueError`` naming ``FILE:LINE`` and the
    bad byte if it is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path}:{number}: not UTF-8 text (byte {raw[err.start]:#04x} at column "
            f"{err.start + 1})"
        ) from None
    return text.removesuffix("\r")


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, decoded line without its end)`` of a UTF-8 file."""
    for number, raw in enumerate(raw_lines(path), start=1):
        yield number, decode_line(raw, path, number)


def read_labeled_lines(path: str | os.PathLike[str]) -> list[LabeledLine]:
    """The examples of a ``LABEL<space>TEXT`` file, in file order.

    Raises:
        ValueError: the file is missing, not UTF-8, has no examples, or a line has a label
            but no text; the message names ``FILE:LINE``. Blank lines are skipped.
    """
    path = Path(path)
    examples = []
    for number, line in iter_lines(path):
        fields = line.strip().split(maxsplit=1)
        if not fields:  # e.g. a trailing empty line
            continue
        if len(fields) == 1:
            raise ValueError(
                f"{path}:{number}: no text after the label {fields[0]!r}, expected 'LABEL TEXT'"
            )
        examples.append(LabeledLine(fields[0], fields[1].strip(), number))
    if not examples:
        raise ValueError(f"{path}: no examples (the file is empty)")
    return examples


def read_text_lines(path: str | os.PathLike[str]) -> list[str]:
    """The texts of a one-text-a-line file, stripped, in file order.

    Raises:
        ValueError: the file is missing, not UTF-8, empty, or a line is blank; the message
            names ``FILE:LINE``.
    """
    path = Path(path)
    texts = []
    for number, line in iter_lines(path):
        text = line.strip()
        if not text:
            raise ValueError(f"{path}:{number}: blank line, expected a text")
        texts.append(text)
    if not texts:
        raise ValueError(f"{path}: no texts (the file is empty)")
    return texts
