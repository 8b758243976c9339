"""Reader of the sktime / UEA ``.ts`` time-series classification format.

A ``.ts`` file is a header of ``@key value`` lines, then ``@data`` and one example a line::

    # comment
    @problemName JapaneseVowels
    @univariate false
    @dimensions 12
    @equalLength false
    @classLabel true 1 2 3
    @data
    1.8,1.9,1.7:-0.2,-0.1,-0.3:...:1

Dimensions are separated by ``:``, the class label follows the last ``:``, the values of one
dimension are separated by ``,``. Each example may have its own length, but all the
dimensions of one example have the same length. Missing values (``?`` or ``NaN``) are read
only where they end a dimension, as the padding of a shorter example to the longest one's
length (dropped); elsewhere they are an error, as are time stamps.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from rnnkit.data.readers import iter_lines
from rnnkit.data.sequences import SequenceSet

__all__ = ["read_ts"]

# Header keys (lower case: the archive spells them inconsistently, e.g. @problemname).
_KEYS = {
    "@problemname",
    "@timestamps",
    "@missing",
    "@univariate",
    "@dimensions",
    "@equallength",
    "@serieslength",
    "@classlabel",
    "@targetlabel",
    "@data",
}


def _bool(path: Path, number: int, key: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ValueError(f"{path}:{number}: {key} must be true or false, got {value!r}")
    return value.lower() == "true"


def _positive_int(path: Path, number: int, key: str, value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{path}:{number}: {key} must be a positive integer, got {value!r}")
    return count


def _dimension(path: Path, number: int, index: int, text: str) -> list[float]:
    """The values of dimension ``index`` (0-based) of the example on line ``number``, without
    the missing values (``?`` or ``NaN``) that end it: the padding of a variable-length
    example to the longest one's length. A missing value before a number is an error."""
    fields = [field.strip() for field in text.split(",")]
    while fields and (fields[-1] == "?" or fields[-1].lower() == "nan"):
        fields.pop()  # padding
    if not "".join(fields):
        raise ValueError(f"{path}:{number}: dimension {index + 1} has no values")
    values = []
    for position, field in enumerate(fields, start=1):
        try:
            value = float("nan" if field == "?" else field)
        except ValueError:
            raise ValueError(
                f"{path}:{number}: dimension {index + 1}: {field!r} is not a number"
            ) from None
        if not math.isfinite(value):
            raise ValueError(
                f"{path}:{number}: dimension {index + 1}: missing value {field!r} at step "
                f"{position} (missing values are read only as the padding that ends a series)"
            )
        values.append(value)
    return values


def read_ts(path: str | os.PathLike[str], *, labelled: bool = True) -> SequenceSet:
    """The examples of a ``.ts`` classification file, each a float32 ``(T_i, D)`` array.

    ``labelled=False`` reads the examples of a file to predict from: ``@classLabel false``
    (no label after the last dimension) is then accepted, a label is not read, and every
    label is ``""``. Comment lines start with ``#`` (or ``%``, as in ARFF files, which some
    archive files keep).

    Raises:
        ValueError: the file is missing or malformed: unknown or bad header, no ``@data``,
            a regression file (``@classLabel false``), time stamps, missing values (other
            than the padding that ends a dimension), a label
            not declared by ``@classLabel``, dimensions of different lengths, a number of
            dimensions other than ``@dimensions`` or another example's; the message names
            ``FILE:LINE``.
    """
    path = Path(path)
    classes: list[str] | None = None
    dimensions: int | None = None
    series_length: int | None = None
    in_data = False
    features: list[np.ndarray] = []
    labels: list[str] = []
    for number, raw in iter_lines(path):
        line = raw.strip()
        if not line or line.startswith(("#", "%")):
            continue
        if not in_data:
            key, _, value = line.partition(" ")
            key, value = key.lower(), value.strip()
            if not key.startswith("@"):
                raise ValueError(f"{path}:{number}: data before @data (expected a header line)")
            if key not in _KEYS:
                raise ValueError(f"{path}:{number}: unknown header {key!r}")
            if key == "@data":
                if classes is None:
                    raise ValueError(f"{path}:{number}: @data before any @classLabel header")
                in_data = True
            elif key == "@timestamps" and _bool(path, number, key, value):
                raise ValueError(f"{path}:{number}: time stamps are not supported")
            elif key == "@univariate" and _bool(path, number, key, value):
                if dimensions not in (None, 1):
                    raise ValueError(f"{path}:{number}: @univariate true but @dimensions > 1")
                dimensions = 1
            elif key == "@dimensions":
                count = _positive_int(path, number, key, value)
                if dimensions is not None and dimensions != count:
                    raise ValueError(f"{path}:{number}: @dimensions {count} but univariate")
                dimensions = count
            elif key == "@serieslength":
                series_length = _positive_int(path, number, key, value)
            elif key == "@targetlabel":
                raise ValueError(f"{path}:{number}: a regression file, expected @classLabel true")
            elif key == "@classlabel":
                flag, *names = value.split()
                has_labels = _bool(path, number, key, flag or "?")
                if not labelled:
                    classes = names if has_labels else []
                    continue
                if not has_labels:
                    raise ValueError(
                        f"{path}:{number}: @classLabel false (a regression file), expected "
                        "@classLabel true followed by the class labels"
                    )
                if not names:
                    raise ValueError(f"{path}:{number}: @classLabel true without class labels")
                classes = names
            continue

        assert classes is not None
        if not labelled:
            dims = line.split(":")
            if classes:  # a label follows the last dimension: not read
                dims = dims[:-1]
            label = ""
        else:
            *dims, label = line.split(":")
            label = label.strip()
        if not dims:
            raise ValueError(f"{path}:{number}: no ':' before the class label")
        if labelled and label not in classes:
            raise ValueError(
                f"{path}:{number}: label {label!r} is not one of the @classLabel labels "
                f"{' '.join(classes)}"
            )
        if dimensions is None:
            dimensions = len(dims)  # no header: the first example decides
        if len(dims) != dimensions:
            raise ValueError(f"{path}:{number}: {len(dims)} dimensions, expected {dimensions}")
        series = [_dimension(path, number, i, text) for i, text in enumerate(dims)]
        lengths = {len(values) for values in series}
        if len(lengths) > 1:
            raise ValueError(
                f"{path}:{number}: dimensions of different lengths "
                f"({', '.join(str(len(values)) for values in series)})"
            )
        if series_length is not None and len(series[0]) != series_length:
            raise ValueError(
                f"{path}:{number}: {len(series[0])} values per dimension, @seriesLength is "
                f"{series_length}"
            )
        features.append(np.asarray(series, dtype=np.float32).T.copy())
        labels.append(label)
    if not in_data:
        raise ValueError(f"{path}: no @data line (not a .ts file?)")
    if not features:
        raise ValueError(f"{path}: no examples after @data")
    return SequenceSet(features, labels, str(path)).check()
