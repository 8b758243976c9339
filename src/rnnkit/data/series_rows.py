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
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from rnnkit.data.readers import decode_line, is_number, raw_lines
from rnnkit.data.sequences import SequenceSet

__all__ = ["looks_like_rows", "read_rows"]

_MISSING = frozenset({"nan", "?", ""})


def _fields(line: str) -> list[str]:
    line = line.strip()
    if "\t" in line:
        return [field.strip() for field in line.split("\t")]
    if "," in line:
        return [field.strip() for field in line.split(",")]
    return line.split()


def looks_like_rows(path: str | os.PathLike[str]) -> bool:
    """Whether the first line of ``path`` looks like a UCR series: at least three fields, every
    one a number (or ``NaN``), and a value past the label written with a decimal point or an
    exponent (so that a line of token ids, ``0 12 55 3``, stays a text)."""
    try:
        with open(path, "rb") as file:
            first = file.readline(1 << 20)
    except OSError:
        return False
    try:
        fields = _fields(first.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return False
    while fields and not fields[-1]:
        fields.pop()  # a delimiter closing the line
    if len(fields) < 3 or not all(is_number(field) for field in fields):
        return False
    return any(not re.fullmatch(r"[+-]?\d+", field) for field in fields[1:])


def _label(field: str) -> str:
    """``1.0000000e+00`` as ``1``; other labels as written."""
    try:
        value = float(field)
    except ValueError:
        return field
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else field


def read_rows(path: str | os.PathLike[str]) -> SequenceSet:
    """The examples of a file of one series a line (see the module docstring), each a float32
    ``(T_i, 1)`` array.

    Raises:
        ValueError: the file is missing or not UTF-8, a line has no value after its label, a
            value is not a number, or a value is missing before the end of its series; the
            message names ``FILE:LINE``.
    """
    path = Path(path)
    features: list[np.ndarray] = []
    labels: list[str] = []
    for number, raw in enumerate(raw_lines(path), start=1):
        line = decode_line(raw, path, number)
        if not line.strip():
            continue
        label, *cells = _fields(line)
        while cells and cells[-1].lower() in _MISSING:
            cells.pop()  # padding to the longest series (and a delimiter closing the line)
        if not cells:
            raise ValueError(f"{path}:{number}: no values after the label {label!r}")
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
        labels.append(_label(label))
    if not features:
        raise ValueError(f"{path}: no examples (the file is empty)")
    return SequenceSet(features, labels, str(path)).check()
