"""Rolling-origin ARIMA (:func:`rnnkit.baselines.rolling_arima_forecasts`): fitted once on
everything before the first origin, then forecasting from each origin with the whole true
history before it, as statsmodels gives it origin by origin."""

from __future__ import annotations

import numpy as np
import pytest
from series_data import ar1

from rnnkit.baselines import fit_arima, mse, naive, rolling_arima_forecasts


@pytest.mark.parametrize(("horizon", "order"), [(1, (1, 0, 0)), (3, (1, 1, 0))])
def test_rolling_forecasts_equal_statsmodels_origin_by_origin(horizon: int, order: tuple) -> None:
    series = ar1(260, 0.6, seed=4)
    if order[1]:
        series = np.cumsum(series)
    origins = np.arange(200, 261 - horizon, 5)
    forecast = rolling_arima_forecasts(series, origins, horizon, order=order)
    assert forecast.shape == (len(origins), horizon)
    fitted = fit_arima(series[:200], order=order, max_points=None)  # before the first origin
    for k, t in enumerate(origins):
        expected = fitted.apply(series[:t]).forecast(horizon)
        np.testing.assert_allclose(forecast[k], expected, atol=1e-8)
    # what follows an origin never changes its forecast
    changed = series.copy()
    changed[origins[-1] :] += 100.0
    again = rolling_arima_forecasts(changed, origins, horizon, order=order)
    np.testing.assert_allclose(again, forecast, atol=1e-8)


def test_one_step_arima_beats_naive_on_ar1() -> None:
    # y_t = 0.5 y_{t-1} + e: the best one-step forecast has MSE 1, the naive one 4/3
    series = ar1(700, 0.5, seed=3)
    origins = np.arange(200, 700)
    forecast = rolling_arima_forecasts(series, origins, 1)  # order by AIC
    truth = series[200:, None]
    history = series[199:-1, None]  # (N, 1): each origin's last value
    assert mse(truth, forecast) < 0.85 * mse(truth, naive(history, 1))


def test_rolling_origins_are_checked() -> None:
    series = ar1(50, 0.5, seed=1)
    with pytest.raises(ValueError, match="rising"):
        rolling_arima_forecasts(series, np.array([30, 30]), 1, order=(1, 0, 0))
    with pytest.raises(ValueError, match="need a series of 51"):
        rolling_arima_forecasts(series, np.array([30, 49]), 2, order=(1, 0, 0))


def test_a_counter_or_a_constant_series_gets_an_arima_order() -> None:
    """Longley's YEAR, copper's TIME: differences that are all 1 made statsmodels' KPSS test
    fail ("cannot convert float NaN to integer") after a whole training run."""
    from rnnkit.baselines import select_arima_order

    for series in (np.arange(1947.0, 1963.0), np.arange(40.0), np.full(30, 3.5)):
        order, seasonal = select_arima_order(series)
        assert len(order) == 3 and seasonal == (0, 0, 0, 0)
