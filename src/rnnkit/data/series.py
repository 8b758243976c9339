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
import itertools
import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from rnnkit.data.readers import NA_MARKS, is_number, read_bytes

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
    {"date", "datetime", "date_time", "time", "timestamp", "time_stamp", "ds",
     "epoch", "unix", "unixtime", "unix_time",
     "year", "quarter", "month", "week", "day", "hour", "minute", "second", "period"}
)  # fmt: skip
"""Header names that ``date_column="auto"`` treats as the time index even when their values
are numbers (sunspots' ``YEAR`` column is 1700, 1701, …, seconds since 1970 in an ``epoch``
column, an ``hour`` after ``year,month,day``: none of them is a feature; ``ds`` is Prophet's)."""

ROW_NUMBER_NAMES = frozenset({"index", "id", "idx", "no", "no.", "#", "row"})
"""Names of a first column that, when its cells count up by one, numbers the rows (a
spreadsheet's ``No``): not a value."""

MISSING = NA_MARKS | {"none"}
"""Cells (compared in lower case) that mean a missing value when ``allow_empty`` is set
(empty, R's ``NA``, pandas' ``NaN``, spreadsheets' ``#N/A``, databases' ``NULL``)."""

INFORMER_ETTH_SPLIT = (12 * 30 * 24, 4 * 30 * 24, 4 * 30 * 24)
"""Rows of the Informer ETTh split: 12 months train, 4 valid, 4 test (8640, 2880, 2880)."""


@dataclass
class SeriesTable:
    """A multivariate series: ``values`` is ``(N, C)`` float64, one column per name in
    ``columns``; ``dates`` are the date column's strings (or ``None``); ``source`` is the file;
    ``lines`` the file line of each row (for messages). ``values`` is NaN where a cell was empty
    if it was read with ``allow_empty=True``: empty, or a missing-value mark such as ``NA``."""

    values: np.ndarray
    columns: list[str]
    dates: list[str] | None
    source: str
    lines: list[int] | None = None
    #: columns left out because a cell is not a number (read with ``allow_empty``), each with
    #: the message that names that cell, raised if a run asks for the column
    text_columns: dict[str, str] = field(default_factory=dict)
    #: the file's last column besides the date and columns named like time (the default
    #: target), numeric or not
    last_column: str | None = None
    #: what is irregular in the dates (gaps, repeated times), for the log; ``None`` if nothing
    time_gaps: str | None = None
    #: a first column that numbers the rows (see :data:`ROW_NUMBER_NAMES`), left out
    row_numbers: str | None = None
    #: the rows' usual step in words and the season that goes with it (``("a month", 12)``),
    #: for a hint in the log; ``None`` where the times say no such thing
    rhythm: tuple[str, int] | None = None

    def __len__(self) -> int:
        return len(self.values)

    def require_complete(self, names: Sequence[str], start: int = 0) -> None:
        """Raise a ``ValueError`` naming ``FILE:LINE`` and the column of the first missing
        value of the columns ``names`` (the ones a run uses; the others may have gaps) from
        row ``start`` on (a forecast reads only the last rows)."""
        for name in names:
            column = self.values[:, self.columns.index(name)]
            missing = np.flatnonzero(np.isnan(column[start:])) + start
            if missing.size:
                row = int(missing[0])
                line = self.lines[row] if self.lines is not None else f"data row {row + 1}"
                raise ValueError(f"{self.source}:{line}: {_empty_message(name, missing.size)}")


def _read_text(path: Path) -> str:
    data = read_bytes(path, "a CSV file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text") from None


def _delimiter(header_line: str) -> str:
    """The cell separator, told from the header line: ``,`` whenever the header holds one
    (so every file that reads as CSV reads as before), else a tab, ``;`` or ``|`` if the
    header holds one (a TSV or a European-locale export), else ``,`` (one column)."""
    if "," in header_line:
        return ","
    return next((d for d in "\t;|" if d in header_line), ",")


def _date_indices(header: list[str], first_row: list[str], date_column: str | None) -> list[int]:
    """The columns that hold the time index rather than values (see :func:`read_series_csv`)."""
    if date_column is None:
        return []
    if date_column != "auto":
        return [header.index(date_column)]
    if len(header) < 2:
        return []
    first = first_row[0].strip() if first_row else ""
    named = [i for i, name in enumerate(header) if name.lower() in DATE_NAMES]
    # an unnamed first column is the index pandas writes with ``to_csv()``
    if header[0].lower() in DATE_NAMES or header[0] == "":
        start = 0
    elif named:  # a column named like a date, wherever it stands (an id column before it)
        start = named[0]
    elif not is_number(first):
        start = 0
    else:
        return []
    found = [start]
    # a time index split over several columns (``year,quarter,...``): not values either
    while found[-1] + 1 < len(header) and header[found[-1] + 1].lower() in DATE_NAMES:
        found.append(found[-1] + 1)
    if len(found) == len(header):  # every column a time: the last is the values
        found.pop()
    return found


# Dates as spreadsheets and other exports write them besides ISO 8601. Day-first and
# month-first are both tried: the rows are refused only if every reading of the column that
# parses runs back in time.
_DATE_FORMATS = tuple(
    f"{day}{time}"
    for day in (
        "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%Y/%m/%d",
        # with the month's name, in English: Jan 1 2000, 1 Jan 2000, 01-Apr-2008, April 2008
        "%b %d %Y", "%b %d, %Y", "%B %d %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%d-%b-%Y",
        "%d-%b-%y", "%b %Y", "%B %Y", "%b-%Y", "%b-%y", "%Y %b", "%Y-%b",
    )
    for time in ("", " %H:%M", " %H:%M:%S")
)  # fmt: skip

# pandas' period labels: a quarter (2009Q3), a week or other span (2002-04-15/2002-04-21)
_QUARTER = re.compile(r"(\d{4})Q([1-4])")
_QUARTER_FIRST = re.compile(r"Q([1-4])[ -](\d{4})")  # R's and spreadsheets': Q1 1965
_SPAN = re.compile(r"(\d{4}-\d\d-\d\d)/\d{4}-\d\d-\d\d")


_EPOCH = datetime(1970, 1, 1)  # naive: no time zone, so no daylight-saving jumps


def _readings(cells: list[str]) -> list[np.ndarray]:
    """The ways of reading a date column as comparable numbers: as numbers (whole numbers of
    eight digits as ``YYYYMMDD`` dates first, whose steps over a month's end are a day),
    pandas' quarters (2009Q3, or Q3 2009) and spans (their first day), ISO 8601 dates and
    times, or by each of :data:`_DATE_FORMATS` that parses every cell."""
    try:
        numbers = np.array([float(c) for c in cells])
    except ValueError:
        numbers = None
    if numbers is not None:
        if all(len(c) == 8 and c.isdigit() for c in cells):
            try:
                days = [(datetime.strptime(c, "%Y%m%d") - _EPOCH).total_seconds() for c in cells]
                return [np.array(days), numbers]
            except ValueError:
                pass
        return [numbers]
    quarters = [_QUARTER.fullmatch(c) for c in cells]
    if all(quarters):  # each quarter's first day
        cells = [f"{m[1]}-{3 * int(m[2]) - 2:02d}-01" for m in quarters]
    quarters = [_QUARTER_FIRST.fullmatch(c) for c in cells]
    if all(quarters):
        cells = [f"{m[2]}-{3 * int(m[1]) - 2:02d}-01" for m in quarters]
    spans = [_SPAN.fullmatch(c) for c in cells]
    if all(spans):
        cells = [m[1] for m in spans]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. numpy's notice about time zones
            stamps = np.array(cells, dtype="datetime64[s]")
        if not np.isnat(stamps).any():  # NaT: an empty cell
            return [stamps.astype(np.int64).astype(np.float64)]
    except (ValueError, TypeError, OverflowError):
        pass
    found = []
    for form in _DATE_FORMATS:
        try:
            found.append(
                np.array([(datetime.strptime(c, form) - _EPOCH).total_seconds() for c in cells])
            )
        except ValueError:
            continue
    return found


def _time_keys(columns: list[list[str]]) -> list[list[tuple]]:
    """Comparable keys of each row's date cells, one list for each way of reading them (see
    :func:`_readings`); none if a column cannot be read (the order is then not checked)."""
    readings = [_readings(cells) for cells in columns]
    return [
        list(zip(*(column.tolist() for column in choice), strict=True))
        for choice in itertools.product(*readings)
    ]


def _check_time_order(
    path: Path, lines: list[int], names: list[str], columns: list[list[str]]
) -> list[tuple] | None:
    """Rows must run forward in time: a date before the previous row's is a ``ValueError``
    (a newest-first download, or several series stacked in one file). Returns the rows'
    time keys (a reading that runs forward), or ``None`` if the dates cannot be read."""
    readings = _time_keys(columns)
    forward = [keys for keys in readings if all(a <= b for a, b in itertools.pairwise(keys))]
    if not readings:
        return None
    if forward:
        return forward[0]
    keys = readings[0]
    for r in range(1, len(keys)):
        if keys[r] < keys[r - 1]:
            shown = " ".join(c[r] for c in columns)
            before = " ".join(c[r - 1] for c in columns)
            hint = (
                "the file runs newest first: reverse its rows"
                if all(keys[k] <= keys[k - 1] for k in range(1, len(keys)))
                else "several series stacked in one file? give each its own column"
            )
            raise ValueError(
                f"{path}:{lines[r]}: {'/'.join(map(repr, names))} {shown!r} comes before the "
                f"previous row's {before!r}: the rows must be in time order ({hint})"
            )


# A step between rows is part of the series' rhythm if at least this share of the steps
# have it (a month of 28 days, a Monday after a weekend); a gap is a step half again longer
# than the longest of those (a missing month; a Tuesday after a long weekend is not).
_USUAL_STEP_SHARE = 0.05
_GAP_FACTOR = 1.5


def _one_time(keys: list[tuple]) -> np.ndarray | None:
    """The rows' times as one number each: a single date column's, or a year with a quarter
    (1-4) or month (1-12) column counted in quarters or months; ``None`` for other splits of
    the time over columns."""
    if all(len(key) == 1 for key in keys):
        return np.array([key[0] for key in keys], dtype=np.float64)
    if not all(len(key) == 2 for key in keys):
        return None
    year, part = (np.array(column, dtype=np.float64) for column in zip(*keys, strict=True))
    periods = int(part.max()) if len(part) else 0
    whole = np.array_equal(part, np.round(part)) and np.array_equal(year, np.round(year))
    if periods not in (4, 12) or part.min() < 1 or not whole:
        return None
    return year * periods + part - 1


# A step between rows (seconds, as dates read) -> that step in words and the season of the
# calendar it suggests: a day in a week, an hour in a day, a month or a quarter in a year.
_RHYTHMS = (
    (600, 600, "10 minutes", 144),  # a day's rows (shorter steps: a day is too many rows)
    (900, 900, "15 minutes", 96),
    (1800, 1800, "half an hour", 48),
    (3600, 3600, "an hour", 24),
    (86400, 86400, "a day", 7),
    (7 * 86400, 7 * 86400, "a week", 52),
    (28 * 86400, 31 * 86400, "a month", 12),
    (89 * 86400, 92 * 86400, "a quarter", 4),
)


def _rhythm(keys: list[tuple]) -> tuple[str, int] | None:
    """The rows' usual step and the season it suggests (see :attr:`SeriesTable.rhythm`): a
    ``year,quarter`` or ``year,month`` time, or dates whose median step is 10, 15 or 30
    minutes, an hour, a working day (weekends left out), a day, a week, a month or a
    quarter."""
    times = _one_time(keys)
    if times is None or len(times) < 3:
        return None
    if len(keys[0]) == 2:  # a year and its quarter (1-4) or month (1-12)
        periods = int(max(key[1] for key in keys))
        return ("a quarter", 4) if periods == 4 else ("a month", 12)
    steps = np.diff(times)
    step = float(np.median(steps))
    if step == 86400 and np.mean(steps == 3 * 86400) >= 0.1:  # Friday to Monday: a week is 5
        return "a working day", 5
    for low, high, words, season in _RHYTHMS:
        if low <= step <= high:
            return words, season
    return None


def _time_gaps(lines: list[int], dates: list[str], keys: list[tuple]) -> str | None:
    """What is irregular in the rows' times, for the log: rows sharing the previous row's time
    (several series in one column, as a long-format export writes them) or gaps (missing rows,
    which windows span as if the rows were evenly spaced); ``None`` if nothing is."""
    times = _one_time(keys)
    if times is None or len(times) < 3:
        return None
    steps = np.diff(times)
    if not np.isfinite(steps).all():
        return None
    repeated = np.flatnonzero(steps == 0)
    if repeated.size:
        r = int(repeated[0]) + 1
        rows = f"{repeated.size} row{'s have' if repeated.size > 1 else ' has'}"
        return (
            f"{rows} the time of the row before (first: line {lines[r]}, {dates[r]!r}): "
            "several series in one column? give each its own column"
        )
    values, counts = np.unique(steps, return_counts=True)
    usual = values[counts >= _USUAL_STEP_SHARE * steps.size]
    if not usual.size:
        return None  # no rhythm to depart from (times of events)
    gaps = np.flatnonzero(steps > _GAP_FACTOR * usual.max())
    if not gaps.size:
        return None
    widest = int(gaps[np.argmax(steps[gaps])])
    common = int(np.flatnonzero(steps == values[np.argmax(counts)])[0])
    count = f"{gaps.size} gap{'s' if gaps.size > 1 else ''}"
    return (
        f"{count} in the times (the widest: {dates[widest]!r} to {dates[widest + 1]!r}, "
        f"line {lines[widest + 1]}; most rows are a step apart as {dates[common]!r} to "
        f"{dates[common + 1]!r}): windows span them as if the rows were evenly spaced"
    )


def read_series_csv(
    path: str | os.PathLike[str], date_column: str | None = "auto", *, allow_empty: bool = False
) -> SeriesTable:
    """The numeric columns of a CSV file with a header row.

    The cells are separated by ``,`` (or, when the header line holds no comma, by the tab,
    ``;`` or ``|`` it holds; with ``;`` a number may have a decimal comma, ``1,5``).

    A first column named like a row number (``No``, ``index``, ``id``: see
    :data:`ROW_NUMBER_NAMES`) or not named (pandas' index) whose cells count up by one is left
    out (:attr:`SeriesTable.row_numbers`), and the time is told from the columns after it.

    ``date_column``: ``"auto"`` takes the first column as the date column if its first value
    does not parse as a number, its header is a time name (``date``, ``Month``, ``YEAR``, …,
    see :data:`DATE_NAMES`) or it has no name (the index pandas writes); else, if a column
    elsewhere has a time name, that one (an identifier or value column may come first); and
    the columns right after it named like time too (``year,quarter``: their cells are joined
    into one date); a
    column name forces that column; ``None`` means every column is numeric. When the dates are
    numbers, ISO 8601 dates or dates as spreadsheets write them (``31/12/2016 23:00``,
    ``12/31/2016``, ``31.12.2016``: see :data:`_DATE_FORMATS`), they must not go back in time
    from one row to the next.

    Blank lines are skipped. Every other cell must be a finite number (no missing values: fill
    gaps before), or, with ``allow_empty``, be empty or a mark of :data:`MISSING` such as
    ``NA`` (read as NaN; a caller then checks the columns it uses with
    :meth:`SeriesTable.require_complete`); with ``allow_empty`` a column holding text is left
    out too (:attr:`SeriesTable.text_columns`: :func:`select_columns` refuses it when asked).

    Raises:
        ValueError: missing/unreadable file, no header, duplicate or empty column names, a row
            with the wrong number of cells, a cell that is not a number
            (``FILE:LINE: column 'OT': expected a number, got 'abc'``), an empty cell, dates
            out of order, fewer than 2 rows.
    """
    path = Path(path)
    text = _read_text(path)
    header_text = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = _delimiter(header_text)
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1)
        if any(cell.strip() for cell in row)
    ]
    if not rows:
        raise ValueError(f"{path}: empty file, expected a header row and at least 2 rows")
    header_line, header = rows[0]
    header = [name.strip() for name in header]
    body = rows[1:]
    # a delimiter closing every line, as Excel writes: an unnamed last column with no cells
    while (
        len(header) > 1
        and not header[-1]
        and all(len(row) == len(header) and not row[-1].strip() for _, row in body)
    ):
        header.pop()
        body = [(number, row[:-1]) for number, row in body]
    if len(body) < 2:
        raise ValueError(f"{path}: {len(body)} data row(s), expected at least 2")

    if date_column not in (None, "auto") and date_column not in header:
        raise ValueError(
            f"--date-column {date_column!r}: no such column in {path}; "
            f"available: {', '.join(header)}"
        )
    row_numbers = _row_number_column(header, body, date_column)
    skip = 1 if row_numbers is not None else 0  # the time is told from the columns after it
    date_indices = [skip + i for i in _date_indices(header[skip:], body[0][1][skip:], date_column)]
    for i, name in enumerate(header):
        if not name and i not in date_indices and not (i == 0 and skip):
            raise ValueError(f"{path}:{header_line}: column {i + 1} has an empty name")
        if name in header[:i]:
            raise ValueError(f"{path}:{header_line}: column name {name!r} appears twice")
    left_out = date_indices + ([0] if skip else [])
    numeric = [i for i in range(len(header)) if i not in left_out]
    if not numeric:
        raise ValueError(f"{path}:{header_line}: no numeric column besides the date column")

    values = np.empty((len(body), len(numeric)), dtype=np.float64)
    text_columns: dict[str, str] = {}
    # A ';' file whose numbers have decimal commas (1,5) writes thousands with dots
    # (30.531,5 or 30.531: thirty thousand), as a spreadsheet set to such a locale does.
    decimal_comma = delimiter == ";" and any(
        _DECIMAL_COMMA.fullmatch(row[i].strip()) for _, row in body[:1000] for i in numeric
    )
    for r, (number, row) in enumerate(body):
        if len(row) != len(header):
            raise ValueError(
                f"{path}:{number}: expected {len(header)} columns, got {len(row)}"
                + (f" (cells separated by {delimiter!r})" if len(header) == 1 else "")
            )
        for c, i in enumerate(numeric):
            if header[i] in text_columns:
                continue
            cell = row[i].strip()
            if allow_empty and cell.lower() in MISSING:
                values[r, c] = math.nan
                continue
            if decimal_comma and _THOUSANDS_DOTS.fullmatch(cell):
                cell = cell.replace(".", "").replace(",", ".")
            elif delimiter == ";" and cell.count(",") == 1 and "." not in cell:
                cell = cell.replace(",", ".")  # a decimal comma, as ';'-separated exports write
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                message = _bad_cell(path, number, header, i, cell, body)
                if not allow_empty or not cell:
                    raise ValueError(message)
                text_columns[header[i]] = message  # an error only if a run uses it
            values[r, c] = value
    lines = [number for number, _ in body]
    dates: list[str] | None = None
    time_gaps: str | None = None
    rhythm: tuple[str, int] | None = None
    if date_indices:
        date_cells = [[row[i].strip() for _, row in body] for i in date_indices]
        names = [header[i] for i in date_indices]
        for name, cells in zip(names, date_cells, strict=True):
            empty = [r for r, cell in enumerate(cells) if cell.lower() in MISSING]
            if empty:  # (read as a format not read, it turned off every check of the times)
                raise ValueError(
                    f"{path}:{lines[empty[0]]}: date column {name!r} is empty"
                    + (f" (and in {len(empty) - 1} more rows)" if len(empty) > 1 else "")
                    + ": give every row its time"
                )
        keys = _check_time_order(path, lines, names, date_cells)
        dates = [" ".join(cells) for cells in zip(*date_cells, strict=True)]
        time_gaps = (
            f"the times ({dates[0]!r}, {dates[1]!r}, ...) are in a format not read: their "
            "order and gaps are not checked (ISO 8601 dates are)"
            if keys is None
            else _time_gaps(lines, dates, keys)
        )
        rhythm = None if keys is None else _rhythm(keys)
    kept = [c for c, i in enumerate(numeric) if header[i] not in text_columns]
    if not kept:
        raise ValueError(next(iter(text_columns.values())))
    return SeriesTable(
        values[:, kept], [header[numeric[c]] for c in kept], dates, str(path), lines,
        text_columns, _default_target(header, [numeric[c] for c in kept]), time_gaps,
        row_numbers, rhythm,
    )  # fmt: skip


def _row_number_column(
    header: list[str], body: list[tuple[int, list[str]]], date_column: str | None
) -> str | None:
    """The first column's name if it numbers the rows: named so (``No``, ``index``, ``id``)
    or not named (the index ``to_csv()`` writes), and counting up by one from its first cell
    (neither a value nor the time: a date column after it is the time)."""
    named = header and (header[0].lower() in ROW_NUMBER_NAMES or header[0] == "")
    if (
        not named
        or len(header) < 2
        or (date_column not in (None, "auto") and header[0] == date_column)
    ):
        return None
    try:
        cells = [int(row[0].strip()) for _, row in body if row]
    except ValueError:
        return None
    counting = all(b - a == 1 for a, b in itertools.pairwise(cells))
    return header[0] if counting and len(cells) == len(body) else None


def _default_target(header: list[str], numeric: list[int]) -> str:
    """The last column of numbers besides the date, passing over columns named like time
    (Longley's ``YEAR``, copper's ``TIME`` at the end of the row are counters, not the
    series) and columns of text (a city's name after its readings)."""
    named = [i for i in numeric if header[i].lower() not in DATE_NAMES]
    return header[(named or numeric)[-1]]


def _empty_message(name: str, count: int) -> str:
    return (
        f"column {name!r}: missing value (an empty cell or NA; {count} in this column): every "
        "value is needed, fill the gaps first (e.g. interpolate) or drop those rows"
    )


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_THOUSANDS_DOTS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")


def _bad_cell(path: Path, line: int, header: list[str], column: int, cell: str, body: list) -> str:
    """The message for a cell that is not a finite number, with the likely fix."""
    where = f"{path}:{line}: column {header[column]!r}"
    if not cell:
        empty = sum(1 for _, row in body if row[column].strip().lower() in MISSING)
        return f"{path}:{line}: {_empty_message(header[column], empty)}"
    hint = ""
    if "," in cell and is_number(cell.replace(",", "")):
        hint = " (write numbers without thousands separators, with a decimal point)"
    elif is_number(cell):  # inf, nan: a number, not a finite one
        hint = " (a finite number)"
    elif header[column].lower() in DATE_NAMES or not is_number(body[0][1][column].strip()):
        hint = f" (if it is the date column, say so: --date-column {header[column]!r})"
    return f"{where}: expected a number, got {cell!r}{hint}"


def select_columns(
    table: SeriesTable, target: str | None = None, features: str = "target"
) -> tuple[list[int], list[int]]:
    """``(input column indices, target column indices)`` into ``table.values``.

    ``target`` names the column to forecast (default: the last column, ``OT`` in ETT);
    ``features="target"`` is univariate (the target's own past predicts it),
    ``features="all"`` is multivariate: every column in and every column out.
    """
    if target is None:
        target = table.last_column or table.columns[-1]
    if target in table.text_columns:
        raise ValueError(table.text_columns[target])
    if target not in table.columns:
        raise ValueError(
            f"--target {target!r}: no such column in {table.source}; "
            f"available: {', '.join(table.columns)}"
        )
    if features == "target":
        t = table.columns.index(target)
        return [t], [t]
    if features == "all":
        if table.text_columns:  # every column means that one too
            raise ValueError(next(iter(table.text_columns.values())))
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
        # say which bound is short and what would fit, so a short series gets a usable hint
        if end - start < horizon:
            fix = f"the part has {end - start} rows, fewer than --horizon {horizon}"
        else:
            fix = (
                f"its last forecast starts at row {end - horizon}, before --window {window} "
                f"rows of past exist; at most --window {end - horizon} fits with this --horizon"
            )
        raise ValueError(
            f"--window {window} --horizon {horizon}: no window fits in rows [{start}, {end})"
            f" (needs {window} input rows before and {horizon} target rows inside: {fix}; "
            "use a smaller --window/--horizon or give the part more rows with --split)"
        )
    origins = np.arange(first, first + count)
    x_rows = origins[:, None] + np.arange(-window, 0)  # (N, window)
    y_rows = origins[:, None] + np.arange(horizon)  # (N, horizon)
    inputs = values[:, list(input_columns)].astype(np.float32)
    targets = values[:, list(target_columns)].astype(np.float32)
    return inputs[x_rows], targets[y_rows]
