"""Reader of univariate series stored one a line, the label first: the UCR archive's format.

::

    1	-0.64789	-0.64199	-0.63819	...        (GunPoint_TRAIN.tsv, UCR 2018: tabs)
    2,-0.78077,-0.77382,-0.77034,...              (UCR 2015: commas, no file suffix)
      1.0000000e+00  -6.4788e-01  -6.4199e-01 ... (older .txt copies: spaces)

Each line is one example: its label (the first field), then the values of one series, one
value a time step. Fields are separated by tabs, else commas, else runs of spaces. Series
may differ in length; UCR 2018 pads the shorter ones of a variable-length set with ``NaN``
to the longest one's length, and that padding is dropped. A label written as a
whole number in float form (``1.0000000e+00``) reads as ``1``.

The same table as pandas writes it (``df.to_csv()``) has a header row naming the columns
(``t0,t1,...,label``): the label is then the column named ``label`` (``label_column``; or,
that not there, one named ``class``, ``target`` or ``y``) wherever it stands, every other
column is a time step, and a first column unnamed (pandas' index) or named ``index``, ``id``
or ``idx`` is left out.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from rnnkit.data.readers import LABEL_NAMES, decode_line, is_number, named_column, raw_lines
from rnnkit.data.sequences import SequenceSet

__all__ = ["looks_like_rows", "read_rows"]

_MISSING = frozenset({"nan", "?", ""})


def _fields(line: str) -> list[str]:
    line = line.strip("\r\n ")  # not tabs: a leading one opens an empty first field
    if "\t" in line:
        return [field.strip() for field in line.split("\t")]
    if "," in line:
        return [field.strip() for field in line.split(",")]
    return line.split()


def _first_lines(path: str | os.PathLike[str], count: int) -> list[list[str]]:
    """The fields of the first ``count`` lines (fewer if the file is shorter or unreadable)."""
    lines: list[list[str]] = []
    try:
        with open(path, "rb") as file:
            for _ in range(count):
                raw = file.readline(1 << 20)
                if not raw:
                    break
                fields = _fields(raw.decode("utf-8-sig"))
                while fields and not fields[-1]:
                    fields.pop()  # a delimiter closing the line
                lines.append(fields)
    except (OSError, UnicodeDecodeError):
        return []
    return lines


def _series_like(values: list[str]) -> bool:
    """Numbers, one of them written with a decimal point or an exponent (so that a line of
    token ids, ``0 12 55 3``, stays a text)."""
    return all(is_number(value) for value in values) and any(
        not re.fullmatch(r"[+-]?\d+", value) for value in values
    )


def _label_index(header: list[str], label_column: str | None) -> int | None:
    """Where the label column of ``header`` is: ``label_column``, else a usual name."""
    return named_column(header, label_column or "label", LABEL_NAMES)


def looks_like_rows(
    path: str | os.PathLike[str], label_column: str | None = None, *, labelled: bool = True
) -> bool:
    """Whether ``path`` looks like series a line: its first line a UCR series (the label, then
    numbers), or a header naming a label column over lines of numbers (pandas' layout; with
    ``labelled=False``, series to predict from, the header need not name one)."""
    lines = _first_lines(path, 2)
    if not lines:
        return False
    first = lines[0]
    if all(is_number(field) for field in first):  # the label, then at least two values
        return len(first) >= 3 and _series_like(first[1:])
    index = _label_index(first, label_column)
    # (fewer cells on the second line: a shorter series, its padding written as empty cells
    # by pandas, which they were read without)
    if (index is None and labelled) or len(lines) < 2 or len(lines[1]) > len(first):
        return False
    if len(first) < 3:
        return False
    values = [f for i, f in enumerate(lines[1]) if i != index and f.lower() not in _MISSING]
    return len(values) >= 2 and _series_like(values)


def _label(field: str) -> str:
    """``1.0000000e+00`` as ``1``; other labels as written."""
    try:
        value = float(field)
    except ValueError:
        return field
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else field


def read_rows(
    path: str | os.PathLike[str], label_column: str | None = None, *, labelled: bool = True
) -> SequenceSet:
    """The examples of a file of one series a line (see the module docstring), each a float32
    ``(T_i, 1)`` array.

    ``labelled=False`` reads series to predict from: with a header, a label column is then
    not needed (left out if there), and every label is ``""``; without one, the first field
    is still the label (as UCR's files have it).

    Raises:
        ValueError: the file is missing or not UTF-8, a header names no label column, a line
            has no value after its label, a value is not a number, or a value is missing
            before the end of its series; the message names ``FILE:LINE``.
    """
    path = Path(path)
    features: list[np.ndarray] = []
    labels: list[str] = []
    # a header's label column, the columns left out, and the names
    layout: tuple[int | None, set[int], list[str]] | None = None
    for number, raw in enumerate(raw_lines(path), start=1):
        line = decode_line(raw, path, number)
        if not line.strip():
            continue
        fields = _fields(line)
        if number == 1 and not all(is_number(field) for field in fields if field):
            layout = _header_layout(path, fields, label_column, labelled)
            continue
        if layout is not None:
            index, dropped, names = layout
            label = fields[index] if index is not None and index < len(fields) else ""
            kept = [i for i in range(len(fields)) if i not in dropped]
            cells = [fields[i] for i in kept]
            for i in kept:
                if fields[i] and not is_number(fields[i]):
                    column = names[i] if i < len(names) else f"number {i + 1}"
                    raise ValueError(
                        f"{path}:{number}: column {column!r}: {fields[i]!r} is not a number "
                        "(every column but the label is a time step: leave out other ones, "
                        "such as identifiers)"
                    )
        else:
            label, *cells = fields
        while cells and cells[-1].lower() in _MISSING:
            cells.pop()  # padding to the longest series (and a delimiter closing the line)
        if not cells:
            where = f"after the label {label!r}" if label else "in this row"
            raise ValueError(f"{path}:{number}: no values {where}")
        values = []
        for step, cell in enumerate(cells, start=1):
            try:
                value = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}:{number}: step {step}: {cell!r} is not a number"
                ) from None
            if not math.isfinite(value):
                raise ValueError(
                    f"{path}:{number}: step {step}: missing value {cell!r} (missing values are "
                    "read only as the padding that ends a series)"
                )
            values.append(value)
        features.append(np.asarray(values, dtype=np.float32)[:, None])
        labels.append(_label(label) if labelled else "")
    if not features:
        raise ValueError(f"{path}: no examples (the file is empty)")
    return SequenceSet(features, labels, str(path)).check()


_INDEX_NAMES = ("", "unnamed: 0", "index", "id", "idx")  # a first column that numbers rows


def _header_layout(
    path: Path, header: list[str], label_column: str | None, labelled: bool
) -> tuple[int | None, set[int], list[str]]:
    """A header row's label column, the columns that are not time steps (it, and a first
    column named as pandas or people name an index: unnamed, index, id), and the names."""
    index = _label_index(header, label_column)
    if index is None and labelled:
        wanted = label_column or "label"
        raise ValueError(
            f"{path}:1: a header row without a {wanted!r} column (the labels); columns are "
            f"{', '.join(header[:6])}{', ...' if len(header) > 6 else ''}; name the label "
            "column with --label-column"
        )
    dropped = {index} if index is not None else set()
    if header and header[0].strip().lower() in _INDEX_NAMES:
        dropped.add(0)
    return index, dropped, header
