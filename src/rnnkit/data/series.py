"""Time series from CSV files, and the windows a forecaster learns from.

* :func:`read_series_csv` — a header row, an optional date column, numbers everywhere else.
* :func:`select_columns` — which columns go in and which come out (univariate: the target
  only; multivariate: every column in and out, Informer's "M" setting).
* :func:`split_bounds` / :func:`informer_split` — train/valid/test row ranges.
* :class:`Standardizer` — per-column z-scores fitted on the training rows only.
* :func:`make_windows` — ``(X, Y)`` pairs of ``window`` input rows and the ``horizon`` rows
  after them, for every forecast origin whose target rows lie inside one split.

Every problem with a file or an option is a one-line ``ValueError`` naming ``FILE:LINE`` or
the option (``--split``, ``--target`` …), so the command can print it as is.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "INFORMER_ETTH_SPLIT",
    "SeriesTable",
    "Standardizer",
    "informer_split",
    "make_windows",
    "read_series_csv",
    "select_columns",
    "split_bounds",
]

DATE_NAMES = frozenset(
    {"date", "datetime", "time", "timestamp", "year", "month", "week", "day", "quarter", "period"}
)
"""Header names that ``date_column="auto"`` treats as the time index even when their values
are numbers (sunspots' ``YEAR`` column is 1700, 1701, … and is not a feature)."""

INFORMER_ETTH_SPLIT = (12 * 30 * 24, 4 * 30 * 24, 4 * 30 * 24)
"""Rows of the Informer ETTh split: 12 months train, 4 valid, 4 test (8640, 2880, 2880)."""


@dataclass
class SeriesTable:
    """A multivariate series: ``values`` is ``(N, C)`` float64, one column per name in
    ``columns``; ``dates`` are the date column's strings (or ``None``); ``source`` is the file."""

    values: np.ndarray
    columns: list[str]
    dates: list[str] | None
    source: str

    def __len__(self) -> int:
        return len(self.values)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, expected a CSV file") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        return data.decode("utf-8-sig")  # tolerate a byte order mark
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text") from None


def read_series_csv(path: str | os.PathLike[str], date_column: str | None = "auto") -> SeriesTable:
    """The numeric columns of a CSV file with a header row.

    ``date_column``: ``"auto"`` takes the first column as the date column if its first value
    does not parse as a number or its header is a time name (``date``, ``Month``, ``YEAR``, …,
    see :data:`DATE_NAMES`); a column name forces that column; ``None`` means every column is
    numeric. Blank lines are skipped. Every other cell must be a finite number.

    Raises:
        ValueError: missing/unreadable file, no header, duplicate or empty column names, a row
            with the wrong number of cells, a cell that is not a number
            (``FILE:LINE: column 'OT': expected a number, got 'abc'``), fewer than 2 rows.
    """
    path = Path(path)
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(io.StringIO(_read_text(path))), start=1)
        if any(cell.strip() for cell in row)
    ]
    if not rows:
        raise ValueError(f"{path}: empty file, expected a header row and at least 2 rows")
    header_line, header = rows[0]
    header = [name.strip() for name in header]
    for i, name in enumerate(header):
        if not name:
            raise ValueError(f"{path}:{header_line}: column {i + 1} has an empty name")
        if name in header[:i]:
            raise ValueError(f"{path}:{header_line}: column name {name!r} appears twice")
    body = rows[1:]
    if len(body) < 2:
        raise ValueError(f"{path}: {len(body)} data row(s), expected at least 2")

    if date_column == "auto":
        first = body[0][1][0].strip() if body[0][1] else ""
        is_date = header[0].lower() in DATE_NAMES or not _is_number(first)
        date_index = 0 if is_date and len(header) > 1 else None
    elif date_column is None:
        date_index = None
    else:
        if date_column not in header:
            raise ValueError(
                f"--date-column {date_column!r}: no such column in {path}; "
                f"available: {', '.join(header)}"
            )
        date_index = header.index(date_column)
    numeric = [i for i in range(len(header)) if i != date_index]
    if not numeric:
        raise ValueError(f"{path}:{header_line}: no numeric column besides the date column")

    values = np.empty((len(body), len(numeric)), dtype=np.float64)
    dates: list[str] | None = [] if date_index is not None else None
    for r, (number, row) in enumerate(body):
        if len(row) != len(header):
            raise ValueError(f"{path}:{number}: expected {len(header)} columns, got {len(row)}")
        for c, i in enumerate(numeric):
            cell = row[i].strip()
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(
                    f"{path}:{number}: column {header[i]!r}: expected a number, got {cell!r}"
                )
            values[r, c] = value
        if dates is not None:
            dates.append(row[date_index].strip())
    return SeriesTable(values, [header[i] for i in numeric], dates, str(path))


def select_columns(
    table: SeriesTable, target: str | None = None, features: str = "target"
) -> tuple[list[int], list[int]]:
    """``(input column indices, target column indices)`` into ``table.values``.

    ``target`` names the column to forecast (default: the last column, ``OT`` in ETT);
    ``features="target"`` is univariate (the target's own past predicts it),
    ``features="all"`` is multivariate: every column in and every column out.
    """
    if target is None:
        target = table.columns[-1]
    if target not in table.columns:
        raise ValueError(
            f"--target {target!r}: no such column in {table.source}; "
            f"available: {', '.join(table.columns)}"
        )
    if features == "target":
        t = table.columns.index(target)
        return [t], [t]
    if features == "all":
        every = list(range(len(table.columns)))
        return every, list(every)
    raise ValueError(f"--features {features!r}: expected 'target' or 'all'")


def split_bounds(n: int, spec: str | Sequence[float]) -> list[tuple[int, int]]:
    """Train, valid and test row ranges ``[(0, a), (a, b), (b, c)]`` of a series of ``n`` rows.

    ``spec`` is three counts (``"8640,2880,2880"``; rows after them are unused) or three
    fractions (``"0.7,0.1,0.2"``; train and valid are rounded down, and when the fractions
    sum to 1 the test part takes the rest). Train and test must be non-empty; valid may be 0.
    """
    text = spec if isinstance(spec, str) else ",".join(str(p) for p in spec)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise ValueError(
            f"--split {text!r}: expected 3 comma-separated parts train,valid,test, got {len(parts)}"
        )
    if all(p.isdigit() for p in parts):
        sizes = [int(p) for p in parts]
        if sum(sizes) > n:
            raise ValueError(f"--split {text!r}: {sum(sizes)} rows asked for, the series has {n}")
    else:
        try:
            fractions = [float(p) for p in parts]
        except ValueError:
            raise ValueError(
                f"--split {text!r}: expected row counts (8640,2880,2880) or fractions (0.7,0.1,0.2)"
            ) from None
        if not all(0.0 <= f <= 1.0 for f in fractions) or sum(fractions) > 1.0 + 1e-9:
            raise ValueError(f"--split {text!r}: fractions must lie in [0, 1] and sum to at most 1")
        train, valid = (math.floor(n * f + 1e-9) for f in fractions[:2])
        if abs(sum(fractions) - 1.0) <= 1e-9:
            test = n - train - valid
        else:
            test = math.floor(n * fractions[2] + 1e-9)
        sizes = [train, valid, test]
    if sizes[0] == 0 or sizes[2] == 0:
        raise ValueError(f"--split {text!r}: the train and test parts must not be empty (n={n})")
    a, b = sizes[0], sizes[0] + sizes[1]
    return [(0, a), (a, b), (b, b + sizes[2])]


def informer_split(n_rows: int) -> list[tuple[int, int]]:
    """The Informer ETTh split: train ``[0, 8640)``, valid ``[8640, 11520)``, test
    ``[11520, 14400)``; the later rows are unused."""
    return split_bounds(n_rows, ",".join(str(s) for s in INFORMER_ETTH_SPLIT))


class Standardizer:
    """Per-column z-scores ``(x - mean) / std``, fitted on training rows only so no statistic
    of the valid/test rows leaks into training. A constant column gets std 1."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            raise ValueError("Standardizer: mean and std must be 1-D of the same length")

    @classmethod
    def fit(cls, train_values: np.ndarray) -> Standardizer:
        """Mean and (population) std of each column of the ``(N, C)`` training rows."""
        train_values = np.asarray(train_values, dtype=np.float64)
        if train_values.ndim != 2 or len(train_values) == 0:
            raise ValueError("Standardizer.fit needs a non-empty (N, C) array of training rows")
        std = train_values.std(axis=0)
        return cls(train_values.mean(axis=0), np.where(std > 0, std, 1.0))

    def _stats(self, columns: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray]:
        if columns is None:
            return self.mean, self.std
        index = list(columns)
        return self.mean[index], self.std[index]

    def transform(self, values: np.ndarray, columns: Sequence[int] | None = None) -> np.ndarray:
        """``(values - mean) / std`` over the last axis; ``columns`` picks the statistics of
        those columns when ``values`` holds only some (e.g. the target columns)."""
        mean, std = self._stats(columns)
        return (np.asarray(values, dtype=np.float64) - mean) / std

    def inverse_transform(
        self, values: np.ndarray, columns: Sequence[int] | None = None
    ) -> np.ndarray:
        """``values * std + mean``: back to the original units."""
        mean, std = self._stats(columns)
        return np.asarray(values, dtype=np.float64) * std + mean

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-safe ``{"mean": [...], "std": [...]}``."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[float]]) -> Standardizer:
        """The inverse of :meth:`to_dict`."""
        return cls(data["mean"], data["std"])


def make_windows(
    values: np.ndarray,
    window: int,
    horizon: int,
    start: int,
    end: int,
    input_columns: Sequence[int],
    target_columns: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(X, Y)`` pair whose target rows lie in ``[start, end)``, stride 1.

    ``X`` is ``(N, window, len(input_columns))``: rows ``[t - window, t)``; ``Y`` is
    ``(N, horizon, len(target_columns))``: rows ``[t, t + horizon)``, for forecast origins
    ``t = max(start, window) … end - horizon``. As in Informer, a split's inputs may reach
    back ``window`` rows before ``start`` (into the previous split, which is the past and
    known at forecast time), so its first target row is ``start`` itself.
    """
    values = np.asarray(values)
    if window < 1:
        raise ValueError(f"--window {window}: must be at least 1")
    if horizon < 1:
        raise ValueError(f"--horizon {horizon}: must be at least 1")
    if not 0 <= start <= end <= len(values):
        raise ValueError(f"rows [{start}, {end}) are not inside the series of {len(values)} rows")
    first = max(start, window)
    count = end - first - horizon + 1
    if count < 1:
        raise ValueError(
            f"--window {window} --horizon {horizon}: no window fits in rows [{start}, {end})"
            f" (needs {window} input rows before and {horizon} target rows inside)"
        )
    origins = np.arange(first, first + count)
    x_rows = origins[:, None] + np.arange(-window, 0)  # (N, window)
    y_rows = origins[:, None] + np.arange(horizon)  # (N, horizon)
    inputs = values[:, list(input_columns)].astype(np.float32)
    targets = values[:, list(target_columns)].astype(np.float32)
    return inputs[x_rows], targets[y_rows]
