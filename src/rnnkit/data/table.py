"""Reader of labelled texts in a CSV or TSV table: one example a record, two named columns.

Columns are picked by header name or by 0-based index. A string such as ``"1"`` is an
index only if the file has a header row with no column called ``"1"``; it never makes the
first record a header by itself (in a headerless file whose first label is ``1``, column
``"1"`` is the second column, not the column that holds ``1``). Without a column given by
name, the first record is a header when the csv sniffer says so and its label cell is not
one of the other records' labels. The delimiter is a tab for ``.tsv``
files, otherwise it is guessed from the start of the file (``,`` if unsure). Quoted fields
may hold delimiters and newlines; an example's line number is the line its record starts on.
Labels are kept as written (``"1"`` stays the string ``"1"``); labels and texts are stripped.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from rnnkit.data.readers import (
    LABEL_NAMES,
    NA_MARKS,
    TEXT_NAMES,
    LabeledLine,
    is_number,
    named_column,
    read_bytes,
)

__all__ = ["read_table", "table_columns"]

_SNIFF_BYTES = 64 * 1024
# A missing label as pandas writes or reads it (its default NA strings), and UCI's "?" (not
# "none", which may be a class).
MISSING_LABELS = NA_MARKS | {"-nan", "<na>", "?"}
_DELIMITERS = ",\t;|"


def _read_text(path: Path) -> str:
    data = read_bytes(path, "a CSV/TSV file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte {data[err.start]:#04x})") from None


def _delimiter(path: Path, text: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_BYTES], delimiters=_DELIMITERS).delimiter
    except csv.Error:  # e.g. a single line the sniffer cannot decide on
        return ","


def _records(path: Path, text: str, delimiter: str, quoting: int = csv.QUOTE_MINIMAL):
    """``(starting line, fields)`` of each non-blank record."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise ValueError(f"{path}:{start}: {err}") from None
        if fields:  # csv gives [] for a blank line
            yield start, fields


def _column(
    path: Path, spec: int | str, header: list[str] | None, option: str, usual: Sequence[str]
) -> int:
    """The 0-based index that ``spec`` (a name or an index) designates; the default name (the
    first of the ``usual`` names) also finds a column by another usual name, any name in any
    case (see :func:`named_column`: ``Review``, ``sentiment``)."""
    if isinstance(spec, str):
        spec = spec.strip()
        if header is not None and header.count(spec) > 1:
            raise ValueError(
                f"{path}:1: {option} {spec!r}: two columns of the header have that name"
            )
        if header is not None and spec in header:
            return header.index(spec)
        found = None if header is None else named_column(header, spec, usual)
        if found is not None:
            return found
        if not spec.strip().lstrip("-").isdigit():
            if header is None:
                raise ValueError(
                    f"{path}: {option} {spec!r} is a column name, which needs a header row"
                )
            words = [name for name in header if not is_number(name)]
            hint = ""
            if not words:
                hint = " (a first row of numbers: a series a line? --format rows)"
            elif len(words) == 1 and len(header) >= 3:  # a label column over numbered steps
                hint = (
                    " (numbered columns: a series a line, labelled by "
                    f"{words[0]!r}? --label-column {words[0]})"
                )
            raise ValueError(
                f"{path}:1: {option} {spec!r}: no such column in the header "
                f"({', '.join(map(repr, header[:8]))}{', ...' if len(header) > 8 else ''}){hint}"
            )
        spec = int(spec)
    if spec < 0:
        raise ValueError(f"{path}: {option} {spec}: column indices start at 0")
    return spec


def _read_records(path: Path, delimiter: str | None) -> tuple[str, str, list]:
    """A table file's text, its delimiter (``delimiter`` or told from the file) and records."""
    text = _read_text(path)
    if delimiter is None:
        delimiter = _delimiter(path, text)
    try:
        records = list(_records(path, text, delimiter))
    except ValueError:  # (a runaway quote may also make a field past csv's size limit)
        records = None
    if '"' in text and (records is None or _quotes_joined_lines(text, records)):
        # A text opening with a quote mark (tokenised corpora: `" the film ...`, GLUE's
        # TSVs) is not CSV quoting: read that way, it swallows every line up to the next
        # quote mark. When the file read without quoting has one number of fields on every
        # line, that is its layout; else the quotes are real (a quoted newline).
        unquoted = list(_records(path, text, delimiter, csv.QUOTE_NONE))
        if len({len(fields) for _, fields in unquoted}) == 1:
            records = unquoted
    if records is None:
        records = list(_records(path, text, delimiter))  # raises, naming the line
    if not records:
        raise ValueError(f"{path}: no examples (the file is empty)")
    return text, delimiter, records


def _quotes_joined_lines(text: str, records: list) -> bool:
    """Whether quoting joined lines: fewer records than non-blank lines."""
    return len(records) < sum(1 for line in text.splitlines() if line.strip())


def table_columns(
    path: str | os.PathLike[str],
    text_column: int | str,
    label_column: int | str,
    header: bool | None = None,
) -> tuple[bool, str, str]:
    """How :func:`read_table` reads ``path``: whether its first record is a header (``header``,
    or, when not told, a column given by name or the csv sniffer's guess) and the text and
    label columns it takes (``'review'``, or ``column 1`` without a header). A run keeps the
    header decision its training file gave, so that ``predict``, which has no label column to
    judge by, reads alike; the log names the columns (a usual name may stand for the default)."""
    path = Path(path)
    text, _, records = _read_records(path, None)
    header, names, text_index, label_index = _layout(
        path, text, records, text_column, label_column, header
    )
    shown = [repr(names[i]) if names and i < len(names) else f"column {i}"
             for i in (text_index, label_index)]  # fmt: skip
    return header, shown[0], shown[1]


def _layout(
    path: Path,
    text: str,
    records: list,
    text_column: int | str,
    label_column: int | str,
    header: bool | None,
) -> tuple[bool, list[str] | None, int, int]:
    """Whether the first record is a header (``header``, or when not told: a column given by
    name, or the csv sniffer's guess), its names, and the text and label columns' indices."""
    if header is None:
        named = _is_name(text_column) or _is_name(label_column)
        header = named or _sniffed_header(text, records, label_column)
    names = [name.strip() for name in records[0][1]] if header else None  # "id, review ,label"
    text_index = _column(path, text_column, names, "text column", TEXT_NAMES)
    label_index = (
        text_index  # (predict reads the text column alone)
        if label_column == text_column
        else _column(path, label_column, names, "label column", LABEL_NAMES)
    )
    return header, names, text_index, label_index


def _is_name(spec: int | str) -> bool:
    """Whether ``spec`` must be a header name: a string that is not an integer."""
    return isinstance(spec, str) and not spec.strip().lstrip("-").isdigit()


def _sniffed_header(text: str, records: list, label_column: int | str) -> bool:
    """Whether the first record looks like a header to the csv sniffer and its label cell is
    not a label of the records after it (a header's "label" or "sentiment" is not a class;
    a headerless file's first label usually is)."""
    try:
        if not csv.Sniffer().has_header(text[:_SNIFF_BYTES]):
            return False
    except csv.Error:
        return False
    column = int(label_column)
    first = records[0][1]
    if column < 0 or column >= len(first):
        return True  # _column and the record checks report it
    return all(len(f) <= column or f[column] != first[column] for _, f in records[1:])


def read_table(
    path: str | os.PathLike[str],
    text_column: int | str,
    label_column: int | str,
    delimiter: str | None = None,
    *,
    header: bool | None = None,
    skipped: list[int] | None = None,
) -> list[LabeledLine]:
    """The ``(label, text, line)`` examples of a CSV/TSV file, in file order.

    ``header``: whether the first record is a header row. By default it is when a column is
    given by name, otherwise the csv sniffer decides from the start of the file.
    ``skipped``: if given, a record with an empty label or text (a review with no body) is
    left out and its line appended to this list, instead of being an error.

    Raises:
        ValueError: the file is missing or not UTF-8, a column name is unknown or given
            without a header, a record has too few columns, or a label or text is empty
            (without ``skipped``), or no record is left; the message names ``FILE:LINE``
            (or ``FILE`` and the column option).
    """
    path = Path(path)
    text, delimiter, records = _read_records(path, delimiter)
    header, _, text_index, label_index = _layout(
        path, text, records, text_column, label_column, header
    )
    if text_index == label_index and text_column != label_column:  # (predict reads one)
        raise ValueError(
            f"{path}: the text column ({text_column!r}) and the label column "
            f"({label_column!r}) are the same column, {text_index}"
        )
    width = len(records[0][1])  # the header's, or the first record's
    if header:
        records = records[1:]
    needed = max(text_index, label_index) + 1
    examples = []
    for line, fields in records:
        if len(fields) < needed:
            raise ValueError(
                f"{path}:{line}: {len(fields)} columns, expected at least {needed} "
                f"(delimiter {delimiter!r})"
            )
        if len(fields) > width and any(field.strip() for field in fields[width:]):
            # (a delimiter inside an unquoted text: which part is the label is a guess)
            raise ValueError(
                f"{path}:{line}: {len(fields)} columns, but the "
                f"{'header' if header else 'first record'} has {width} (delimiter "
                f"{delimiter!r}: quote a text that holds one)"
            )
        label, example_text = fields[label_index].strip(), fields[text_index].strip()
        if label.lower() in MISSING_LABELS:
            label = ""  # how pandas and spreadsheets write a missing label
        if skipped is not None and not (label and example_text):
            skipped.append(line)
            continue
        if not label:
            raise ValueError(f"{path}:{line}: empty label (column {label_index})")
        if not example_text:
            raise ValueError(f"{path}:{line}: empty text (column {text_index})")
        examples.append(LabeledLine(label, example_text, line))
    if not examples:
        if skipped:
            raise ValueError(f"{path}: no examples (every record has an empty label or text)")
        raise ValueError(f"{path}: no examples (only a header row)")
    return examples
