"""Time-series forecasting (many-to-many): the next ``--horizon`` rows from the last ``--window``.

::

    rnnkit train forecast --series ETTh1.csv --target OT --window 96 --horizon 24 --out runs/ett
    rnnkit train forecast --series Airline.csv --split 120,12,12 --horizon 12 --season 12 ...
    rnnkit train forecast --recipe etth1-uni --horizon 48 --data-dir ../shared/data --out runs/e

Data: a CSV file with a header row, an optional date column (``--date-column``, by default told
from the first column: not numeric, named like a date, or unnamed as pandas writes its index;
else a column named like a date wherever it stands; ``year,quarter`` or ``year,month,day,hour``
columns together; seconds since 1970 in a column named ``epoch``, ``unix`` or ``timestamp``;
English month names, ``YYYYMMDD`` numbers and pandas' periods such as ``2009Q3`` are read as
dates), a first column of row numbers (``No``, ``index``, ``id``, or pandas' unnamed index) left
out, and numbers everywhere else: no empty cells in the columns a run uses (fill gaps first;
other columns may have them, and text), rows oldest first (numeric, ISO and day- or month-first
dates such as ``31/12/2016 23:00`` are checked); a header without a comma may use tabs or ``;``
(then with decimal commas) instead. ``--target COL`` is forecast from its own past (univariate;
default: the last column of numbers); ``--features all`` forecasts every column from every
column (multivariate). ``--split`` cuts the rows into train, validation and test parts in time
order, by counts (``8640,2880,2880``), fractions (``0.7,0.1,0.2``) or ``informer`` (the ETTh
split). Each column is standardised with the mean and standard deviation of the TRAINING rows
only; a split's windows may read up to ``--window`` rows of the split before it (the known
past), as in Informer. Left out, ``--horizon`` is 24 steps and ``--window`` 96, or less where
the parts are short (the horizon at most half the validation or test part, the window a third of
the training part, at least ``--season``): the log and ``config.json`` give the sizes chosen.

Models (``--model``): ``direct`` (default for ``--horizon`` > 1) reads the window with a
recurrent encoder and a multi-output linear head gives all ``H`` steps at once; ``seq2seq``
is an encoder–decoder that feeds each forecast step back (optional ``--attention``);
``nextstep`` (default for ``--horizon 1``) predicts the next row at every step of the window
and is rolled out for longer horizons. ``--residual last`` (default) adds the forecast to
the window's last value, so the network learns the change from a naive forecast (``season``:
from the value one ``--season`` earlier); the output layer starts at zero, so training starts
from that classic forecast. ``--norm mean`` (default; RevIN-style per-window normalisation)
subtracts each window's mean from its rows and adds it back to the forecast (``last``: its
last row; ``revin``: also divides by the window's std), so a test period at a level the
training rows never reached is no harder than any other; ``--norm none`` suits a stationary
series whose level is information (sunspots). ``--transform log`` learns the logarithm of
the series (multiplicative seasonality, as in Airline). ``--ensemble K`` averages ``K``
models trained side by side from different initial weights.

Metrics: MSE and MAE on the standardised scale (``test_mse``, ``test_mae``, as Informer
reports them: errors in original units over each column's training std, also with
``--transform log``, so runs with and without it and the baselines share one scale; the
recipes' bars use it) and in the original units (``test_mse_original``,
``test_mae_original``). Early stopping watches the standardised validation MSE and keeps the
best epoch's weights.
With ``--baselines all`` (default) the naive, seasonal-naive (with ``--season``) and ARIMA
forecasts of the same test windows are scored too (``test_mse_naive``, ...; in original units
``test_mse_original_naive``, ...), and ``test_mse_ratio_to_best_baseline`` is the model's MSE
over the best of them. When the test part holds a single forecast (the customary hold-out of
Airline) ARIMA is fitted to every row before it; with several test forecasts and ``--refit``
(the model then learnt from every row before the test part) ARIMA is fitted to every row before
the test part too (order by AIC, seasonal with ``--season``) and forecasts from each origin
with the whole true history before it — with ``--horizon 1`` the classic one-step-ahead
evaluation (sunspots); otherwise it is fitted to the training rows (seasonal with
``--season``, on the last 20 seasons of them) and run on each window.
Naive and seasonal naive always forecast from the window the model reads, from the same
origins.

``--refit``: after training has chosen the epoch count ``E`` on the validation part (the
best epoch of early stopping), a FRESH model (same options and seed) is trained on the
training and validation windows together for exactly ``E`` epochs, without validation or
early stopping, and that model is saved, scored, plotted and used by ``predict`` — as a
classic model is refitted on every row before the test. Its ``valid_*`` metrics in
``metrics.json`` then describe a model that saw the validation windows (in-sample errors,
not a choice criterion); the held-out validation errors of the chosen epoch stay in
``log.csv`` (row ``best_epoch``); ``refit_windows`` counts the windows the refit trained on
for ``best_epoch`` epochs.

``rnnkit predict RUN --input CSV`` forecasts the ``H`` rows after the last ``--window`` rows
of CSV (one line per step, the target columns comma-separated, original units);
``rnnkit evaluate RUN --data CSV`` scores every window of CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit import baselines
from rnnkit.data.batches import Batches
from rnnkit.data.series import (
    SeriesTable,
    Standardizer,
    informer_split,
    make_windows,
    read_series_csv,
    select_columns,
    split_bounds,
)
from rnnkit.plots import plot_forecast
from rnnkit.structures.forecaster import MODELS, NORMS, RESIDUALS, ForecastEnsemble, Forecaster
from rnnkit.tasks.base import Prepared, Recipe, Task
from rnnkit.tasks.budget import min_updates_option
from rnnkit.tasks.options import Option, check_refit, data_file, option_name, refit_option
from rnnkit.train import History, evaluating

__all__ = ["TASK", "ForecastTask", "Windows", "forecast_metrics"]

TRANSFORMS = ("none", "log")
SPLITS = ("train", "valid", "test")


# ---------------------------------------------------------------------- data
@dataclass
class Windows:
    """The forecast windows of one split: ``x (N, W, F_in)`` and ``y (N, H, F_out)`` on the
    model's scale (standardised, after ``--transform``), ``y_original`` in original units.

    ``origins`` are the row indices of each forecast's first step; ``decoding`` maps the
    model's scale back to original units (:func:`to_original`) and holds ``scale``, the
    target columns' training standard deviations in original units, by which errors are
    standardised for the metrics; ``history`` the target columns in original units of every
    row before the split's end and ``train_end`` the end of the training rows (for the
    baselines).
    """

    x: Tensor
    y: Tensor
    y_original: Tensor
    origins: np.ndarray
    decoding: dict[str, Any]
    source: str
    history: np.ndarray
    train_end: int
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)  # baselines, original units

    def __len__(self) -> int:
        return len(self.x)


def joined(first: Windows, second: Windows) -> Windows:
    """The windows of ``first`` then ``second`` (consecutive splits of one series), as one
    set: ``second``'s history, which holds every row before its end."""
    return Windows(
        torch.cat([first.x, second.x]),
        torch.cat([first.y, second.y]),
        torch.cat([first.y_original, second.y_original]),
        np.concatenate([first.origins, second.origins]),
        second.decoding,
        f"{first.source} + {second.source}",
        second.history,
        second.train_end,
    )


def make_batches(
    windows: Windows, batch_size: int, generator: torch.Generator | None = None
) -> Batches[dict[str, Any]]:
    """Re-iterable batches ``{"x", "y", "y_original", **decoding}``, shuffled each pass with
    ``generator``."""

    def collate(chosen: list[int]) -> dict[str, Any]:
        return {
            "x": windows.x[chosen],
            "y": windows.y[chosen],
            "y_original": windows.y_original[chosen],
            **windows.decoding,
        }

    return Batches(len(windows), batch_size, collate, generator)


def _bounds(config: Mapping[str, Any], rows: int) -> list[tuple[int, int]]:
    if config["split"] == "informer":
        return informer_split(rows)
    return split_bounds(rows, config["split"])


DEFAULT_WINDOW, DEFAULT_HORIZON = 96, 24  # Informer's input length and shortest horizon


def _chosen_sizes(config: Mapping[str, Any], bounds: list[tuple[int, int]]) -> dict[str, int]:
    """``--window`` and ``--horizon`` where they were left to the task (``None``): the
    horizon is 24 steps, or half of the validation or test part if that is shorter (each then
    holds several forecasts); the window is a third of the training rows, at most 96 (the
    training part then holds at least twice as many windows as a window has steps, minus the
    horizon), and at least ``--season``."""
    chosen = {}
    (train_start, train_end), valid, test = bounds
    if config["horizon"] is None:
        parts = [end - start for start, end in (valid, test) if end > start]
        chosen["horizon"] = max(1, min([DEFAULT_HORIZON] + [rows // 2 for rows in parts]))
    if config["window"] is None:
        window = max(1, min(DEFAULT_WINDOW, (train_end - train_start) // 3))
        chosen["window"] = max(window, config["season"] or 1)
    return chosen


def _read(config: Mapping[str, Any], path: str) -> SeriesTable:
    date_column = config["date_column"]
    # gaps are allowed in the columns a run does not use (checked by the callers)
    return read_series_csv(path, None if date_column == "none" else date_column, allow_empty=True)


def _columns(table: SeriesTable, names: list[str], start: int = 0) -> np.ndarray:
    """The named columns of ``table`` (a file of a run must have the run's columns), with no
    value missing from row ``start`` on."""
    missing = [name for name in names if name not in table.columns]
    if missing and missing[0] in table.text_columns:  # a cell that is not a number
        raise ValueError(table.text_columns[missing[0]])
    if missing:
        raise ValueError(
            f"{table.source}: no column {missing[0]!r}; the run was trained on "
            f"{', '.join(names)} (the file has {', '.join(table.columns)})"
        )
    table.require_complete(names, start)
    return table.values[:, [table.columns.index(name) for name in names]]


def _transformed(values: np.ndarray, transform: str, names: list[str], source: str) -> np.ndarray:
    """``values`` on the scale the model learns: as they are, or their logarithm (a
    multiplicative seasonality becomes additive); a value the log cannot take is a
    ``ValueError`` naming the file, row and column."""
    if transform == "none":
        return values
    bad = np.argwhere(values <= 0)
    if len(bad):
        row, column = bad[0]
        raise ValueError(
            f"{source}: data row {row + 1}: column {names[column]!r}: {option_name('transform')} "
            f"log needs positive values, got {values[row, column]:g}"
        )
    return np.log(values)


def _check_not_constant(
    table: SeriesTable, column: int, start: int, end: int, by_default: bool
) -> None:
    """A univariate target that never changes in the training rows leaves nothing to learn
    (and the naive forecast is exact there): a ``ValueError`` naming the column."""
    rows = table.values[start:end, column]
    if np.all(rows == rows[0]):
        chosen = " (the last column, by default)" if by_default else ""
        raise ValueError(
            f"{table.source}: {option_name('target')} {table.columns[column]!r}{chosen} is "
            f"constant ({rows[0]:g}) over the {end - start} training rows: nothing to learn; "
            f"choose another {option_name('target')}"
        )


def _decoding(scaler: Mapping[str, Any]) -> dict[str, Any]:
    """How a forecast on the model's scale returns to original units, and the scale of
    the metrics: the target columns' ``center``/``spread`` (the standardiser, on the
    transformed values), ``log`` and ``scale`` (the training std in original units)."""
    names = scaler["columns"]
    index = [names.index(c) for c in scaler["targets"]]
    metric_std = scaler.get("metric_std", scaler["std"])

    def pick(stats: list[float]) -> Tensor:
        return torch.tensor([stats[i] for i in index], dtype=torch.float64)

    return {
        "center": pick(scaler["mean"]),
        "spread": pick(scaler["std"]),
        "scale": pick(metric_std),
        "log": scaler.get("transform", "none") == "log",
    }


def to_original(forecast: Tensor, center: Tensor, spread: Tensor, log: bool, **_: Any) -> Tensor:
    """A forecast on the model's scale in original units (float64)."""
    values = forecast.double() * spread + center
    return values.exp() if log else values


def _windows(
    values: np.ndarray,
    config: Mapping[str, Any],
    scaler: Mapping[str, Any],
    bounds: list[tuple[int, int]],
    split: int,
    where: str,
) -> Windows:
    """Windows with targets in rows ``[start, end)`` of ``values`` (the run's columns,
    original units)."""
    names = scaler["columns"]
    inputs = [names.index(c) for c in scaler["inputs"]]
    targets = [names.index(c) for c in scaler["targets"]]
    transform = scaler.get("transform", "none")
    model_values = _transformed(values, transform, names, where)
    standard = Standardizer(scaler["mean"], scaler["std"]).transform(model_values)
    start, end = bounds[split]
    window, horizon = config["window"], config["horizon"]
    try:
        x, y = make_windows(standard, window, horizon, start, end, inputs, targets)
    except ValueError as err:
        # every part's size, so one message is enough to choose --window and --horizon
        sizes = ", ".join(str(b - a) for a, b in bounds if b > a)
        raise ValueError(f"{err} ({where}; the parts have {sizes} rows)") from None
    first = max(start, window)
    origins = np.arange(first, first + len(x))
    y_rows = origins[:, None] + np.arange(horizon)
    return Windows(
        torch.from_numpy(x),
        torch.from_numpy(y),
        torch.from_numpy(values[:, targets][y_rows]),
        origins,
        _decoding(scaler),
        where,
        values[:end, targets],
        bounds[0][1],
    )


def forecast_metrics(model: nn.Module, batches: Any) -> dict[str, float]:
    """MSE and MAE over every forecast value in original units and standardised (the
    original-unit errors over each target column's training std ``scale``, whatever
    ``--transform``; ``loss`` is the standardised MSE)."""
    squared = absolute = squared_original = absolute_original = 0.0
    count = 0
    for batch in batches:
        original = to_original(model(batch["x"]), **batch) - batch["y_original"]  # (B, H, F)
        error = original / batch["scale"]
        squared += float((error**2).sum())
        absolute += float(error.abs().sum())
        squared_original += float((original**2).sum())
        absolute_original += float(original.abs().sum())
        count += error.numel()
    if count == 0:
        raise ValueError("no windows to evaluate")
    mse = squared / count
    return {
        "loss": mse,
        "mse": mse,
        "mae": absolute / count,
        "mse_original": squared_original / count,
        "mae_original": absolute_original / count,
    }


def _predict(model: nn.Module, windows: Windows, batch_size: int) -> np.ndarray:
    """The model's forecasts ``(N, H, F_out)`` of ``windows`` in original units."""
    with evaluating(model):
        parts = [model(windows.x[i : i + batch_size]) for i in range(0, len(windows), batch_size)]
    return to_original(torch.cat(parts), **windows.decoding).numpy()


# ---------------------------------------------------------------------- baselines
def baseline_forecasts(
    windows: Windows, config: Mapping[str, Any], arima: bool = True
) -> dict[str, np.ndarray]:
    """Naive, seasonal-naive (with ``--season``) and ARIMA (if ``arima``) forecasts
    ``(N, H, F_out)`` of ``windows``, in original units; naive and seasonal naive from the
    window the model reads, ARIMA as the module docstring says."""
    horizon, season = config["horizon"], config["season"]
    rows = windows.origins[:, None] + np.arange(-config["window"], 0)  # (N, W)
    past = windows.history[rows]  # (N, W, F_out): the targets' past, original units
    found = {"naive": baselines.naive(past, horizon)}
    if season is not None:
        found["seasonal_naive"] = baselines.seasonal_naive(past, horizon, season)
    if not arima:
        return found
    columns = range(past.shape[2])
    if len(windows) == 1:
        # The customary hold-out: one forecast from every row before it, order by AIC.
        origin = int(windows.origins[0])
        arima = [
            baselines.holdout_forecast(
                windows.history[: origin + horizon, c], horizon, "arima", season=season
            )
            for c in columns
        ]
        found["arima"] = np.stack(arima, axis=-1)[None]  # (1, H, F_out)
    elif config["refit"]:
        # The model learnt from every row before the test part, so ARIMA does too, and it
        # forecasts from each origin with the whole true history before it (the rolling
        # one-step-ahead evaluation of sunspots with --horizon 1).
        arima = [
            baselines.rolling_arima_forecasts(
                windows.history[:, c], windows.origins, horizon, season=season
            )
            for c in columns
        ]
        found["arima"] = np.stack(arima, axis=-1)
    else:
        arima = [
            baselines.arima_forecasts(
                windows.history[: windows.train_end, c], past[..., c], horizon, season=season
            )
            for c in columns
        ]
        found["arima"] = np.stack(arima, axis=-1)
    return found


# ---------------------------------------------------------------------- the task
class ForecastTask(Task):
    """Forecasting the next rows of a numeric series from a window of its past."""

    name = "forecast"
    task_options = (
        data_file("series", "the CSV file of the series (a header row)", required=True),
        Option(
            "date_column",
            "auto",
            "text",
            "the date column's name, 'none', or 'auto' (the first column if it is not numeric, "
            "is named like date/Month/YEAR or has no name; else one named so elsewhere)",
            "data",
        ),
        Option(
            "target",
            None,
            "text",
            "the column to forecast; default: the last of numbers",
            "data",
            True,
        ),
        Option(
            "features",
            "target",
            "choice",
            "inputs and outputs: the target only, or all columns (multivariate)",
            "data",
            choices=("target", "all"),
        ),
        Option(
            "window",
            None,
            "positive_int",
            f"input steps of each forecast; default: a third of the training rows, at most "
            f"{DEFAULT_WINDOW}",
            "data",
            nullable=True,
        ),
        Option(
            "horizon",
            None,
            "positive_int",
            f"steps forecast; default: {DEFAULT_HORIZON}, or half the validation or test part "
            "if that is shorter",
            "data",
            nullable=True,
        ),
        Option(
            "split",
            "0.7,0.1,0.2",
            "text",
            "train,valid,test parts in time order: row counts, fractions or 'informer'",
            "data",
        ),
        Option(
            "season",
            None,
            "positive_int",
            "steps per season (seasonal naive, seasonal ARIMA, --residual season)",
            "data",
            True,
        ),
        Option(
            "baselines",
            "all",
            "choice",
            "classic forecasts scored on the test windows: naive, seasonal naive and ARIMA "
            "(all), the first two (naive), or none",
            "data",
            choices=("all", "naive", "none"),
        ),
        Option(
            "model",
            "auto",
            "choice",
            "direct: multi-output head; seq2seq: encoder-decoder; nextstep: next-row model "
            "rolled out; auto: nextstep for --horizon 1, else direct",
            choices=MODELS,
        ),
        Option(
            "residual",
            "last",
            "choice",
            "forecast the change from the window's last value, from one season earlier, or "
            "the values themselves",
            choices=RESIDUALS,
        ),
        Option(
            "attention",
            "none",
            "choice",
            "seq2seq decoder attention",
            choices=("none", "bahdanau", "luong-general"),
        ),
        Option("teacher_forcing", 0.5, "probability", "seq2seq: teacher-forcing ratio in training"),
        Option(
            "norm",
            "mean",
            "choice",
            "per-window normalisation: subtract each window's last row or mean (revin: and "
            "divide by its std) and add it back to the forecast",
            choices=NORMS,
            absent="none",
        ),
        Option(
            "transform",
            "none",
            "choice",
            "learn the log of the series (multiplicative seasonality); metrics stay in "
            "original units",
            "data",
            choices=TRANSFORMS,
            absent="none",
        ),
        Option(
            "ensemble",
            1,
            "positive_int",
            "train this many models from different initial weights and average them",
            absent=1,
        ),
        refit_option(),
        min_updates_option(),
    )
    # Series are often short (a few hundred rows: a few batches an epoch), and 20 epochs with
    # patience 5 stopped at the naive forecast on 4 of 8 series none of us had tuned on
    # (statsmodels' and scikit-learn's sets); 200 with patience 30 lowered the validation MSE
    # on 7 of them (nile 0.66 -> 0.32, sunspots 1.45 -> 0.39) and matched it on the last.
    # Shorter still (Nile's 100 years, R's AirPassengers and nottem: two updates an epoch),
    # 200 epochs kept the first epoch or ran out still improving; grown to --min-updates
    # (1500 epochs, patience 250 there) the validation MSE fell 0.66 -> 0.35, 0.137 -> 0.066
    # and 0.139 -> 0.066.
    sized_by_data = ("epochs", "patience")
    common_defaults: ClassVar[Mapping[str, Any]] = {
        "hidden_size": 64,
        "epochs": 200,
        "patience": 30,
    }
    monitor = ("valid_loss", "min")
    shown_metrics = ("mae", "mse_original")
    examples = """\
  rnnkit train forecast --series ETTh1.csv --target OT --window 96 --horizon 24 --out runs/ett
  rnnkit train forecast --series ETTh1.csv --features all --split informer --out runs/ett-m
  rnnkit train forecast --series Airline.csv --split 120,12,12 --window 36 --horizon 12 \\
      --season 12 --out runs/airline
  rnnkit train forecast --recipe etth1-uni --horizon 48 --data-dir ../shared/data --out runs/e
  rnnkit predict runs/ett --input recent.csv"""

    def check(self, config: Mapping[str, Any], where: str) -> None:
        season = config["season"]
        if config["residual"] == "season" and season is None:
            raise ValueError(f"{option_name('residual')} season needs {option_name('season')}")
        if season is not None and config["window"] is not None and season > config["window"]:
            raise ValueError(
                f"{option_name('season')} {season}: must not exceed "
                f"{option_name('window')} {config['window']}"
            )
        if config["split"] != "informer":
            split_bounds(10**9, config["split"])  # the spelling; the sizes are checked later

        check_refit(config)

    def artifact_names(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return ("scaler",)

    def prepare(self, config: Mapping[str, Any], artifacts: Mapping[str, Any] | None) -> Prepared:
        table = _read(config, config["series"])
        bounds = _bounds(config, len(table))
        if bounds[1][0] == bounds[1][1]:
            raise ValueError(f"--split {config['split']}: the validation part must not be empty")
        chosen = _chosen_sizes(config, bounds)
        if chosen:
            config = {**config, **chosen}
            self.check(config, "options")  # --season against the window chosen
        artifacts_built = artifacts is None
        if artifacts is None:
            inputs, targets = select_columns(table, config["target"], config["features"])
            used = sorted(set(inputs) | set(targets))
            names = [table.columns[i] for i in used]
            start, end = bounds[0]
            values = _columns(table, names)  # checked: these columns have no gaps
            if config["features"] == "target":
                _check_not_constant(table, targets[0], start, end, config["target"] is None)
            model_values = _transformed(values, config["transform"], names, table.source)
            standard = Standardizer.fit(model_values[start:end])
            artifacts = {
                "scaler": {
                    "columns": names,
                    "inputs": [table.columns[i] for i in inputs],
                    "targets": [table.columns[i] for i in targets],
                    "transform": config["transform"],
                    **standard.to_dict(),
                    # errors are standardised by the training std in original units
                    "metric_std": Standardizer.fit(values[start:end]).std.tolist(),
                }
            }
        else:
            values = _columns(table, artifacts["scaler"]["columns"])
        scaler = artifacts["scaler"]
        # a window left out but made a season long: the season, not --window, is to shorten
        grown = chosen.get("window") == config["season"] and config["season"] is not None
        by_season = f", --window not given: as long as {option_name('season')}" * grown
        splits = [
            _windows(
                values, config, scaler, bounds, i, f"{option_name('split')} {name} part{by_season}"
            )
            for i, name in enumerate(SPLITS)
        ]
        for windows, (start, end) in zip(splits, bounds, strict=True):
            windows.source = f"{table.source} rows {start}-{end - 1}"
        info = {
            name: f"{len(w)} windows of {config['window']} -> {config['horizon']} steps, {w.source}"
            for name, w in zip(SPLITS, splits, strict=True)
        }
        if chosen:
            info["chosen"] = ", ".join(f"{option_name(k)} {v}" for k, v in chosen.items())
        if table.text_columns:
            info["not numbers, not used"] = ", ".join(map(repr, table.text_columns))
        if table.row_numbers is not None:
            info["row numbers, not used"] = repr(table.row_numbers or "")
        if config["season"] is None and table.rhythm is not None:
            step, season = table.rhythm
            info["hint"] = (
                f"the rows are {step} apart: {option_name('season')} {season} would add the "
                f"seasonal-naive baseline and allow {option_name('residual')} season"
            )
        if config["target"] is None and config["features"] == "target":
            info["target"] = f"{scaler['targets'][0]!r} (by default the last value column)"
        warnings = [f"{table.source}: {table.time_gaps}"] if table.time_gaps else []
        if config["features"] == "all" and artifacts_built:
            start, end = bounds[0]
            flat = [c for c in scaler["columns"]
                    if np.all(table.values[start:end, table.columns.index(c)]
                              == table.values[start, table.columns.index(c)])]  # fmt: skip
            if flat:  # scored with no error, they flatter the multivariate metrics
                warnings.append(
                    f"{', '.join(map(repr, flat))} constant over the training rows: forecast "
                    "and scored as any column (drop it from the file to leave it out)"
                )
        if config["features"] == "all" and config["target"] is not None:
            warnings.append(
                f"{option_name('target')} {config['target']} is not used with "
                f"{option_name('features')} all: every column is forecast from every column"
            )
        if bounds[-1][1] < len(table):  # e.g. --split 70,10,20 meant as percentages
            warnings.append(
                f"{option_name('split')} {config['split']} leaves rows {bounds[-1][1]}-"
                f"{len(table) - 1} of {table.source} in no part"
            )
        if warnings:
            info["warning"] = "; ".join(warnings)
        return Prepared(*splits, artifacts=dict(artifacts), info=info, chosen=chosen)

    def build_model(self, config: Mapping[str, Any], artifacts: Mapping[str, Any]) -> nn.Module:
        return build_model(config, artifacts)

    def batches(
        self,
        config: Mapping[str, Any],
        examples: Windows,
        generator: torch.Generator | None = None,
    ) -> Batches[dict[str, Any]]:
        return make_batches(examples, config["batch_size"], generator)

    def loss(self, model: nn.Module, batch: Any) -> Tensor:
        return model.loss(batch["x"], batch["y"])

    def evaluate(self, model: nn.Module, batches: Any) -> dict[str, float]:
        return forecast_metrics(model, batches)

    def refit(
        self,
        model: nn.Module,
        prepared: Prepared,
        config: Mapping[str, Any],
        history: History,
        log: Any,
    ) -> nn.Module:
        """With ``--refit``: a fresh model (same options, same seed) trained on the training
        and validation windows for the best epoch's count, without early stopping; else
        ``model``."""
        if not config["refit"]:
            return model
        from rnnkit.tasks.runner import refit_model  # the runner imports the tasks

        windows = joined(prepared.train, prepared.valid)
        return refit_model(self, config, prepared, windows, history, log)

    def final_metrics(
        self, model: nn.Module, prepared: Prepared, config: Mapping[str, Any], log: Any
    ) -> dict[str, Any]:
        metrics = super().final_metrics(model, prepared, config, log)
        if config["refit"]:
            # trained on these windows for best_epoch epochs (the module docstring)
            metrics["refit_windows"] = len(prepared.train) + len(prepared.valid)
        metrics.pop("valid_loss", None)
        metrics.pop("test_loss", None)
        if config["baselines"] == "none":
            return metrics
        test: Windows = prepared.test
        arima = config["baselines"] == "all"
        if arima:  # (a season of 52 weeks takes minutes: say what is running)
            # to what (see baseline_forecasts): the one forecast's history, or with --refit
            # every row before the test part, as the model; else the training rows
            rows = (
                "every row before the test part"
                if len(test) == 1 or config["refit"]
                else "the training rows"
            )
            log(f"baselines: fitting ARIMA to {rows} (orders by AIC) ...")
        try:
            found = baseline_forecasts(test, config, arima=arima)
        except Exception as err:  # statsmodels raises many kinds
            # a comparison is never worth the trained run it would stop
            log(f"baselines: ARIMA failed ({type(err).__name__}: {err}); naive ones only")
            found = baseline_forecasts(test, config, arima=False)
        test.forecasts = found
        # the model's scale of errors: original units over the training std
        scale = test.decoding["scale"].numpy()
        original = test.y_original.numpy()
        truth = original / scale
        scores = {}
        for method, forecast in found.items():
            standardised = forecast / scale
            scores[method] = baselines.mse(truth, standardised)
            metrics[f"test_mse_{method}"] = scores[method]
            metrics[f"test_mae_{method}"] = baselines.mae(truth, standardised)
            # the original units too, beside the model's test_mse_original
            metrics[f"test_mse_original_{method}"] = baselines.mse(original, forecast)
            metrics[f"test_mae_original_{method}"] = baselines.mae(original, forecast)
        best = min(scores, key=scores.get)
        metrics["test_best_baseline"] = best
        metrics["test_mse_ratio_to_best_baseline"] = _ratio(metrics["test_mse"], scores[best])
        log(
            "baselines (test mse): "
            + ", ".join(f"{m} {s:.4f}" for m, s in scores.items())
            + f"; model {metrics['test_mse']:.4f}"
        )
        return metrics

    def write_plots(
        self,
        plots_dir: Path,
        rows: list[dict[str, Any]],
        model: nn.Module,
        prepared: Prepared,
        config: Mapping[str, Any],
    ) -> list[Path]:
        """``forecast_K.png``: the forecast of the (first) target against the truth, in
        original units, for up to 3 test windows spread over the test part, with the
        baselines' forecasts of the same window."""
        test: Windows = prepared.test
        scaler = prepared.artifacts["scaler"]
        target = (
            scaler["targets"].index(config["target"])
            if config["target"] in scaler["targets"]
            else len(scaler["targets"]) - 1
        )
        count = min(3, len(test))
        chosen = np.unique(np.linspace(0, len(test) - 1, count).round().astype(int))
        forecasts = _predict(model, test, config["batch_size"])[chosen, :, target]
        paths = []
        for k, (i, forecast) in enumerate(zip(chosen, forecasts, strict=True), start=1):
            origin = int(test.origins[i])
            shown = min(origin, max(config["window"], 2 * config["horizon"]))
            history = test.history[origin - shown : origin, target]
            truth = test.y_original[i, :, target].numpy()
            lines = {f"{_model_kind(config)} model": forecast}
            lines.update({name: f[i, :, target] for name, f in test.forecasts.items()})
            title = (
                f"{scaler['targets'][target]}: {config['horizon']} steps from row {origin} "
                f"(test window {i + 1} of {len(test)})"
            )
            paths.append(plot_forecast(history, truth, lines, plots_dir / f"forecast_{k}.png",
                                       title))  # fmt: skip
        return paths

    # ------------------------------------------------------------------ using a run
    def evaluate_file(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        data: str | None,
    ) -> dict[str, Any]:
        """MSE and MAE (standardised and original units) of every window of ``data`` (a CSV
        with the run's columns; default: the run's test part)."""
        if data is None:
            windows = self.prepare(config, artifacts).test
        else:
            table = _read(config, data)
            values = _columns(table, artifacts["scaler"]["columns"])
            needed = config["window"] + config["horizon"]
            if len(values) < needed:
                raise ValueError(
                    f"{data}: {len(values)} rows, scoring the run needs at least {needed} "
                    f"({option_name('window')} {config['window']} + {option_name('horizon')} "
                    f"{config['horizon']})"
                )
            bounds = [(0, 0), (0, 0), (0, len(values))]
            windows = _windows(values, config, artifacts["scaler"], bounds, 2, str(data))
            windows.source = str(data)
        metrics = forecast_metrics(model, make_batches(windows, config["batch_size"]))
        metrics.pop("loss")
        return {"data": windows.source, "windows": len(windows), **metrics}

    def predict_file(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        input_path: str,
    ) -> list[str]:
        """The ``--horizon`` rows after the last ``--window`` rows of ``input_path``: one line
        per step, the target columns comma-separated, in original units."""
        scaler = artifacts["scaler"]
        table = _read(config, input_path)
        window = config["window"]
        # only the last window is read: a gap before it is no concern of this forecast
        values = _columns(table, scaler["columns"], max(0, len(table) - window))
        if len(values) < window:
            raise ValueError(
                f"{input_path}: {len(values)} rows, the run reads {option_name('window')} "
                f"{window} rows"
            )
        names = scaler["columns"]
        inputs = [names.index(c) for c in scaler["inputs"]]
        recent = _transformed(values[-window:], scaler.get("transform", "none"), names, input_path)
        x = Standardizer(scaler["mean"], scaler["std"]).transform(recent)[:, inputs]
        with evaluating(model):
            forecast = model(torch.tensor(x[None], dtype=torch.float32))[0]
        original = to_original(forecast, **_decoding(scaler)).numpy()  # (H, F)
        # float32's precision (9 digits): 6 turned 3714412.5 into 3.71441e+06
        return [",".join(f"{v:.9g}" for v in row) for row in original]

    def example_inputs(
        self, model: nn.Module, config: Mapping[str, Any], artifacts: Mapping[str, Any]
    ) -> tuple[Tensor, ...]:
        width = len(artifacts["scaler"]["inputs"])
        generator = torch.Generator().manual_seed(0)
        return (torch.randn(3, config["window"], width, generator=generator),)


def _ratio(model_mse: float, baseline_mse: float) -> float:
    """``model_mse / baseline_mse``; a baseline without error (a flat test part that naive
    forecasts exactly) gives 1 for an exact model too and infinity (``null`` in
    ``metrics.json``) otherwise, rather than a division by zero."""
    if baseline_mse > 0:
        return model_mse / baseline_mse
    return 1.0 if model_mse == 0 else float("inf")


def _model_kind(config: Mapping[str, Any]) -> str:
    if config["model"] != "auto":
        return config["model"]
    return "nextstep" if config["horizon"] == 1 else "direct"


def build_model(
    config: Mapping[str, Any], artifacts: Mapping[str, Any]
) -> Forecaster | ForecastEnsemble:
    """The forecaster ``config`` describes, for the run's columns (an ensemble of
    ``--ensemble`` of them, each initialised in turn from the seeded generator)."""
    scaler = artifacts["scaler"]
    inputs, targets = scaler["inputs"], scaler["targets"]
    missing = [c for c in targets if c not in inputs]
    if missing:
        raise ValueError(f"target column {missing[0]!r} is not among the input columns")
    members = [_forecaster(config, inputs, targets) for _ in range(config["ensemble"])]
    return members[0] if len(members) == 1 else ForecastEnsemble(members)


def _forecaster(config: Mapping[str, Any], inputs: list[str], targets: list[str]) -> Forecaster:
    return Forecaster(
        _model_kind(config),
        input_size=len(inputs),
        output_size=len(targets),
        window=config["window"],
        horizon=config["horizon"],
        target_index=[inputs.index(c) for c in targets],
        residual=config["residual"],
        season=config["season"],
        norm=config["norm"],
        cell=config["cell"],
        hidden_size=config["hidden_size"],
        num_layers=config["layers"],
        dropout=config["dropout"],
        attention=config["attention"],
        teacher_forcing=config["teacher_forcing"],
    )


HORIZONS = (24, 48, 168, 336, 720)
LSTMA_UNI = (0.114, 0.193, 0.236, 0.580, 0.683)
LSTMA_MULTI = (0.650, 0.702, 1.212, 1.424, 1.960)
_ETT = {
    "split": "informer",
    "window": 96,
    "season": 24,
    "target": "OT",
    "date_column": "date",
    "epochs": 10,
    "patience": 3,
}

RECIPES = {
    "etth1-uni": Recipe(
        "etth1-uni",
        {**_ETT, "features": "target", "model": "direct", "residual": "last"},
        {"series": "ett/ETTh1.csv"},
        "Informer (AAAI 2021) Table 1, ETTh1 univariate OT: LSTMa MSE "
        + "/".join(map(str, LSTMA_UNI))
        + " at horizons 24/48/168/336/720",
        {f"test_mse|horizon={h}": bar for h, bar in zip(HORIZONS, LSTMA_UNI, strict=True)},
        {"horizon": HORIZONS},
    ),
    "etth1-multi": Recipe(
        "etth1-multi",
        {**_ETT, "target": None, "features": "all", "model": "direct", "residual": "last"},
        {"series": "ett/ETTh1.csv"},
        "Informer (AAAI 2021) Table 2, ETTh1 multivariate: LSTMa MSE "
        + "/".join(map(str, LSTMA_MULTI))
        + " at horizons 24/48/168/336/720",
        {f"test_mse|horizon={h}": bar for h, bar in zip(HORIZONS, LSTMA_MULTI, strict=True)},
        {"horizon": HORIZONS},
    ),
    "airline": Recipe(
        "airline",
        {
            # Rolling-origin validation: the 24 months before the test hold 13 forecasts
            # (from each month of 1958 and January 1959), enough to choose by; one would not be.
            "split": "108,24,12",
            "window": 36,
            "horizon": 12,
            "season": 12,
            # The network learns the year-over-year change of log passengers (a correction
            # to seasonal naive), which is what a seasonal ARIMA models.
            "residual": "season",
            "transform": "log",
            "norm": "none",
            # Chosen on the validation windows: seq2seq beat direct (0.043 vs 0.049), and
            # five small members average away the seed-to-seed spread (0.042-0.052 alone).
            "model": "seq2seq",
            "hidden_size": 16,
            "ensemble": 5,
            "batch_size": 16,
            "epochs": 200,
            "patience": 30,
            # the epoch count chosen on validation, then trained on train + valid (as ARIMA
            # is fitted to every row before the test): test ratio 2.30 -> 1.34
            "refit": True,
            # Also compared on validation (seasonal naive 0.152, ARIMA 0.094 there): norm
            # last/mean, lr 3e-4 or 1e-4, window 24/48, hidden 8/32, GRU, batch 8, weight
            # decay, teacher forcing 0/1 all 0.040-0.045 (seed-to-seed spread 0.003); direct
            # 0.049; nextstep 0.28+. Every curve has the same shape: the validation loss
            # bottoms out early, then rises to about 0.13 as the learnt growth reaches the
            # training years' (the validation years 1958-59 grew little).
        },
        {"series": "classic_ts/Airline.csv"},
        "AirPassengers, last 12 months held out: beat seasonal naive and ARIMA (same run)",
        {"test_mse_ratio_to_best_baseline": 0.999},
    ),
    "sunspots": Recipe(
        "sunspots",
        {
            # One-step-ahead over the last 30 years, as the classic sunspot studies evaluate
            # (Zhang 2003): each year is forecast from the true history before it, and so are
            # seasonal naive (the value 11 years earlier) and ARIMA (fitted to every row before
            # the test, run over the true history). The 60 years before the test (1919-1978)
            # are the validation part: 60 one-step forecasts; training ends at 1918.
            "split": "219,60,30",
            "window": 20,
            "horizon": 1,
            "season": 11,
            # Chosen on the validation MSE (seasonal naive 0.98, ARIMA fitted on the training
            # rows 0.32): GRU 0.21 vs LSTM 0.26 (window 60); windows 12-24 0.21-0.22 vs 60
            # 0.26; residual last 0.19-0.20 vs none 0.22 (seeds 0, 1); 5-member ensemble 0.20.
            "model": "direct",
            "cell": "gru",
            "residual": "last",
            # A stationary cycle: its level is information, so no per-window normalisation.
            "norm": "none",
            "dropout": 0.2,
            "batch_size": 16,
            "epochs": 200,
            "patience": 30,
            # the epoch count chosen on validation, then trained on train + valid (as ARIMA
            # is fitted to every row before the test)
            "refit": True,
        },
        {"series": "classic_ts/sunspots.csv"},
        "Yearly sunspots, one-step-ahead over the last 30 years (each from the true history "
        "before it): beat seasonal naive and ARIMA, same origins, same run",
        {"test_mse_ratio_to_best_baseline": 0.999},
    ),
}

TASK = ForecastTask()
TASK.recipes = RECIPES
