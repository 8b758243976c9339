"""Classic forecasts to compare a recurrent forecaster with, on the same windows.

* :func:`naive` — the last observed value, repeated.
* :func:`seasonal_naive` — the value one season earlier.
* :func:`arima_forecasts` — ARIMA (statsmodels) fitted on the training part, its order chosen
  by AIC over a small grid when not given, then run on each window's history.
* :func:`holdout_forecast` — the last ``k`` points of one series from everything before them
  (the customary Airline evaluation).
* :func:`rolling_arima_forecasts` — ARIMA fitted once on every point before the first origin,
  then forecasting from each origin with the whole true history before it (rolling origin,
  e.g. the one-step-ahead evaluation of yearly sunspots).
* :func:`mse`, :func:`mae`.

History arrays are one series ``(T,)`` or windows with time on axis 1: ``(N, T)`` or
``(N, T, C)`` (the ``X`` of :func:`rnnkit.data.series.make_windows`); forecasts have the same
shape with ``T`` replaced by ``horizon``.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np

__all__ = [
    "arima_forecasts",
    "fit_arima",
    "holdout_forecast",
    "mae",
    "mse",
    "naive",
    "rolling_arima_forecasts",
    "seasonal_naive",
    "select_arima_order",
]

METHODS = ("naive", "seasonal_naive", "arima")


def _time_axis(history: np.ndarray) -> int:
    if history.ndim not in (1, 2, 3):
        raise ValueError(f"history must be (T,), (N, T) or (N, T, C), got shape {history.shape}")
    return 0 if history.ndim == 1 else 1


def naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last value of each history, repeated ``horizon`` times."""
    history = np.asarray(history, dtype=np.float64)
    axis = _time_axis(history)
    last = np.take(history, [-1], axis=axis)
    return np.repeat(last, horizon, axis=axis)


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Step ``h`` (1-based) of the forecast is the value one season before it:
    ``history[T - season + (h - 1) % season]``."""
    history = np.asarray(history, dtype=np.float64)
    axis = _time_axis(history)
    length = history.shape[axis]
    if season < 1 or season > length:
        raise ValueError(f"--season {season}: must be between 1 and the history length {length}")
    index = length - season + np.arange(horizon) % season
    return np.take(history, index, axis=axis)


def _quiet_fit(series: np.ndarray, order, seasonal_order) -> Any:
    """One ARIMA fit; statsmodels' start-parameter and convergence chatter is not news here."""
    from statsmodels.tsa.arima.model import ARIMA

    d = order[1] + seasonal_order[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ARIMA(series, order=order, seasonal_order=seasonal_order,
                      trend="c" if d == 0 else "n")  # fmt: skip
        return model.fit()


def _differences(series: np.ndarray) -> int:
    """How many first differences (0–2) make ``series`` level-stationary by the KPSS test."""
    from statsmodels.tsa.stattools import kpss

    for d in range(3):
        if len(series) < 10 or np.ptp(series) == 0:
            return d  # too short to test; or constant (a counter's differences): stationary
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # p-values outside the table are clipped: fine here
            p_value = kpss(series, regression="c", nlags="auto")[1]
        if not p_value <= 0.05 or d == 2:  # (a NaN p-value: nothing to reject)
            return d
        series = np.diff(series)
    return 2


def select_arima_order(
    train_series: np.ndarray, season: int | None = None
) -> tuple[tuple[int, int, int], tuple[int, int, int, int]]:
    """``(order, seasonal_order)`` with the smallest AIC.

    As auto-ARIMA does, the number of differences comes from a unit-root test (KPSS; with a
    ``season``, one seasonal difference first) because AICs of differently differenced series
    are not comparable; then ``p, q ∈ {0, 1, 2}`` and, with a season, ``(P, Q) ∈ {(0,1), (1,0)}``.
    """
    series = np.asarray(train_series, dtype=np.float64)
    seasonal_d = 1 if season else 0
    stationary = series[season:] - series[:-season] if season else series
    d = _differences(stationary)
    seasonal = (
        [(0, seasonal_d, 1, season), (1, seasonal_d, 0, season)] if season else [(0, 0, 0, 0)]
    )
    best, best_aic = None, np.inf
    for p, q, s_order in itertools.product(range(3), range(3), seasonal):
        try:
            aic = _quiet_fit(series, (p, d, q), s_order).aic
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.isfinite(aic) and aic < best_aic:
            best, best_aic = ((p, d, q), s_order), aic
    if best is None:
        raise ValueError("no ARIMA order could be fitted to the training series")
    return best


MAX_POINTS = 2000  # the most (last) training points an ARIMA is fitted to: see fit_arima


def fit_arima(
    train_series: np.ndarray,
    order: tuple[int, int, int] | None = None,
    seasonal_order: tuple[int, int, int, int] | None = None,
    season: int | None = None,
    max_points: int | None = MAX_POINTS,
) -> Any:
    """A fitted statsmodels ``ARIMAResults`` on the last ``max_points`` training points (a
    long hourly series adds fitting time, not information about a low-order model);
    ``order`` by :func:`select_arima_order` when ``None``."""
    series = np.asarray(train_series, dtype=np.float64)
    if series.ndim != 1 or len(series) < 4:
        raise ValueError(
            f"ARIMA needs a 1-D training series of at least 4 points, got {series.shape}"
        )
    if max_points is not None:
        series = series[-max_points:]
    if order is None:
        order, chosen_seasonal = select_arima_order(series, season)
        seasonal_order = seasonal_order or chosen_seasonal
    return _quiet_fit(series, tuple(order), tuple(seasonal_order or (0, 0, 0, 0)))


# A seasonal ARIMA costs about season² times more per point than a plain one: fitted to
# several test windows it sees at most this many seasons of the training series (ETTh1's
# daily season: 20 days; 88 s an order search on 2000 hourly points, about 20 s on these).
SEASONS_FITTED = 20


def arima_forecasts(
    train_series: np.ndarray,
    test_windows_or_series: np.ndarray,
    horizon: int,
    order: tuple[int, int, int] | None = None,
    seasonal_order: tuple[int, int, int, int] | None = None,
    season: int | None = None,
) -> np.ndarray:
    """ARIMA fitted once on ``train_series`` (seasonal with a ``season``, on its last
    :data:`SEASONS_FITTED` seasons), then run with those parameters on each history.

    ``test_windows_or_series`` is one history ``(T,)`` (result ``(horizon,)``) or ``N``
    windows ``(N, T)`` (result ``(N, horizon)``), e.g. ``X[..., 0]`` of the test windows: each
    forecast sees only its window, as the recurrent model does. For fixed parameters the
    Kalman-filter forecast is an affine function of the window, ``f = A w + b``, so ``A`` and
    ``b`` are found from ``T + 1`` filter runs and all windows cost one matrix product.
    """
    history = np.asarray(test_windows_or_series, dtype=np.float64)
    if history.ndim not in (1, 2):
        raise ValueError(f"ARIMA histories must be (T,) or (N, T), got shape {history.shape}")
    points = MAX_POINTS if season is None else min(MAX_POINTS, SEASONS_FITTED * season)
    fitted = fit_arima(train_series, order, seasonal_order, season=season, max_points=points)
    windows = history.reshape(-1, history.shape[-1])
    length = windows.shape[1]

    def forecast(window: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(fitted.apply(window).forecast(horizon), dtype=np.float64)

    if len(windows) <= length + 1:  # few windows: run each one directly
        result = np.stack([forecast(w) for w in windows])
    else:
        offset = forecast(np.zeros(length))
        basis = np.stack([forecast(e) - offset for e in np.eye(length)], axis=1)  # (horizon, T)
        result = windows @ basis.T + offset
    return result[0] if history.ndim == 1 else result


def holdout_forecast(
    series: np.ndarray,
    test_size: int,
    method: str,
    season: int | None = None,
    order: tuple[int, int, int] | None = None,
    seasonal_order: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Forecast the last ``test_size`` points of ``series`` from everything before them.

    ``method`` is ``"naive"``, ``"seasonal_naive"`` (needs ``season``) or ``"arima"`` (order by
    AIC unless ``order`` is given; seasonal when ``season`` is given). Returns ``(test_size,)``.
    """
    series = np.asarray(series, dtype=np.float64)
    if series.ndim != 1:
        raise ValueError(f"holdout_forecast needs a 1-D series, got shape {series.shape}")
    if not 1 <= test_size < len(series):
        raise ValueError(f"--test-size {test_size}: must be between 1 and {len(series) - 1}")
    train = series[:-test_size]
    if method == "naive":
        return naive(train, test_size)
    if method == "seasonal_naive":
        if season is None:
            raise ValueError("--season is needed for the seasonal_naive method")
        return seasonal_naive(train, test_size, season)
    if method == "arima":
        fitted = fit_arima(train, order, seasonal_order, season=season, max_points=None)
        return np.asarray(fitted.forecast(test_size), dtype=np.float64)
    raise ValueError(f"--method {method!r}: expected one of {', '.join(METHODS)}")


def rolling_arima_forecasts(
    series: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    season: int | None = None,
    order: tuple[int, int, int] | None = None,
    seasonal_order: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """ARIMA forecasts ``(N, horizon)`` of ``series`` from each of ``N`` rising ``origins``.

    The model (order by AIC unless ``order`` is given, as in :func:`holdout_forecast`;
    seasonal when ``season`` is given) is fitted once to ``series[:origins[0]]``; the forecast
    from origin ``t`` runs the fitted model, parameters fixed, over the true history
    ``series[:t]`` (statsmodels ``apply``), so with ``horizon`` 1 each forecast is the
    one-step-ahead prediction from every value before it.
    """
    series = np.asarray(series, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    if series.ndim != 1:
        raise ValueError(f"rolling_arima_forecasts needs a 1-D series, got shape {series.shape}")
    if len(origins) == 0 or np.any(np.diff(origins) <= 0):
        raise ValueError("the origins must be a non-empty rising sequence")
    if origins[0] < 4 or origins[-1] + horizon > len(series):
        raise ValueError(
            f"origins {origins[0]}..{origins[-1]} with horizon {horizon} need a series of "
            f"{origins[-1] + horizon} points starting with at least 4, got {len(series)}"
        )
    fitted = fit_arima(series[: origins[0]], order, seasonal_order, season=season,
                       max_points=None)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if horizon == 1:
            # one filter pass: its in-sample predictions are the one-step-ahead forecasts
            applied = fitted.apply(series[: origins[-1] + 1])
            return np.asarray(applied.predict(start=origins[0], end=origins[-1]))[
                origins - origins[0], None
            ]
        return np.stack([np.asarray(fitted.apply(series[:t]).forecast(horizon)) for t in origins])


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shapes differ: truth {y_true.shape}, forecast {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("no values to score")
    return y_true, y_pred


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error over every element."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean((y_true - y_pred) ** 2))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over every element."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))
