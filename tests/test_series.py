"""Tests of the forecasting building blocks: :mod:`rnnkit.data.series` (CSV reading, column
selection, splits, standardisation, windows), :mod:`rnnkit.baselines` and
:func:`rnnkit.plots.plot_forecast`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from series_data import ar1

from rnnkit.baselines import (
    arima_forecasts,
    fit_arima,
    holdout_forecast,
    mae,
    mse,
    naive,
    seasonal_naive,
)
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


def write(tmp_path, text: str, name: str = "s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ reading
def test_read_ett_head(data_dir, tmp_path):
    table = read_series_csv(data_dir / "ett/ETTh1.csv")
    assert table.values.shape == (17420, 7)
    assert table.values.dtype == np.float64
    assert table.columns == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert table.dates[0] == "2016-07-01 00:00:00"
    assert table.values[0, -1] == pytest.approx(30.5310001373291)
    assert table.values[1, 0] == pytest.approx(5.692999839782715)


def test_read_classic_sets(data_dir):
    airline = read_series_csv(data_dir / "classic_ts/Airline.csv")
    assert airline.columns == ["Passengers"] and airline.values.shape == (144, 1)
    assert airline.dates[:2] == ["1949-01", "1949-02"]
    assert airline.values[:3, 0].tolist() == [112, 118, 132]
    # YEAR holds numbers but is the time index, not a feature
    sunspots = read_series_csv(data_dir / "classic_ts/sunspots.csv")
    assert sunspots.columns == ["SUNACTIVITY"] and sunspots.values.shape == (309, 1)
    assert sunspots.dates[0] == "1700" and sunspots.values[-1, 0] == pytest.approx(2.9)
    forced = read_series_csv(data_dir / "classic_ts/sunspots.csv", date_column=None)
    assert forced.columns == ["YEAR", "SUNACTIVITY"] and forced.dates is None


def test_date_column_choices(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,x\n3,4,y\n")
    table = read_series_csv(path, date_column="c")
    assert table.columns == ["a", "b"] and table.dates == ["x", "y"]
    assert read_series_csv(write(tmp_path, "a,b\n1,2\n3,4\n", "n.csv")).columns == ["a", "b"]
    with pytest.raises(ValueError, match=r"--date-column 'zz'.*available: a, b, c"):
        read_series_csv(path, date_column="zz")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,OT\nd1,1.5\nd2,abc\n", r"s\.csv:3: column 'OT': expected a number, got 'abc'"),
        (
            "date,OT\nd1,1.5\nd2,\n",
            r"s\.csv:3: column 'OT': missing value \(an empty cell or NA; 1 in",
        ),
        ("date,OT\nd1,nan\nd2,1\n", r"s\.csv:2: column 'OT': expected a number, got 'nan'"),
        ("date,a,b\nd1,1,2\nd2,3\n", r"s\.csv:3: expected 3 columns, got 2"),
        ("date,OT\nd1,1.5\n", r"1 data row\(s\), expected at least 2"),
        ("", r"empty file"),
        ("a,a\n1,2\n3,4\n", r"column name 'a' appears twice"),
        # rows out of time order
        ("date,v\n2000-01-03,1\n2000-01-02,2\n2000-01-01,3\n", r"s\.csv:3: .*reverse its rows"),
        ("YEAR,v\n1701,1\n1702,2\n1700,3\n1701,4\n", r"s\.csv:4: 'YEAR' '1700'.*several series"),
        ("year,quarter,v\n1959,1,1\n1959,3,2\n1959,2,3\n", r"s\.csv:4: 'year'/'quarter'"),
        # day first or month first (both are tried: every reading runs back here)
        ("date,v\n02/09/2016 11:00,1\n02/09/2016 10:00,2\n01/09/2016 23:00,3\n", r"s\.csv:3: "),
        ("date,v\n13.09.2016,1\n12.09.2016,2\n", r"s\.csv:3: .*reverse its rows"),
    ],
)
def test_read_errors_name_file_and_line(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_series_csv(write(tmp_path, text))


def test_a_column_named_like_a_date_is_the_date_wherever_it_stands(tmp_path):
    path = write(tmp_path, "value,date\n1.5,2000-01-01\n2.5,2000-01-02\n")
    assert read_series_csv(path).columns == ["value"]
    assert read_series_csv(path, date_column="date").columns == ["value"]
    # so the time order is checked: newest first, or series stacked in long format beside an
    # id column, are refused rather than read as one series
    path = write(tmp_path, "value,date\n2.5,2000-01-02\n1.5,2000-01-01\n")
    with pytest.raises(ValueError, match="the file runs newest first"):
        read_series_csv(path)
    long = "id,date,value\nA,2000-01-01,1\nA,2000-01-02,2\nB,2000-01-01,3\nB,2000-01-02,4\n"
    with pytest.raises(ValueError, match=r"s\.csv:4: .*several series stacked in one file"):
        read_series_csv(write(tmp_path, long), allow_empty=True)  # as forecast reads it


@pytest.mark.parametrize(
    "text",
    [
        ",value,b\n0,1.5,2\n1,2.5,3\n2,3.5,4\n",  # pandas' to_csv() with its index
        "date;value;b\n2000-01-01;1.5;2\n2000-01-02;2.5;3\n2000-01-03;3.5;4\n",
        "date\tvalue\tb\n2000-01-01\t1.5\t2\n2000-01-02\t2.5\t3\n2000-01-03\t3.5\t4\n",
    ],
)
def test_pandas_index_and_other_delimiters_read_as_csv(tmp_path, text):
    table = read_series_csv(write(tmp_path, text))
    # pandas' index of row numbers is neither a value nor the time
    assert table.columns == ["value", "b"] and (table.dates is not None) is text.startswith("d")
    np.testing.assert_array_equal(table.values, [[1.5, 2], [2.5, 3], [3.5, 4]])


def test_decimal_commas_with_semicolons_and_a_hint_otherwise(tmp_path):
    table = read_series_csv(write(tmp_path, "date;v\n2000-01-01;1,5\n2000-01-02;-2,25\n"))
    np.testing.assert_array_equal(table.values[:, 0], [1.5, -2.25])
    with pytest.raises(ValueError, match=r"got '1,234.5' \(write numbers without thousands"):
        read_series_csv(write(tmp_path, 'date,v\n2000-01-01,1\n2000-01-02,"1,234.5"\n'))
    # decimal commas make dots thousands separators (30.531 was read as 30.531, 1000x off)
    text = "date;v;w\n2000-01-01;1,5;30.531\n2000-01-02;2,0;1.234,25\n2000-01-03;3,5;12\n"
    np.testing.assert_array_equal(read_series_csv(write(tmp_path, text)).values[:, 1],
                                  [30531, 1234.25, 12])  # fmt: skip
    dots = read_series_csv(write(tmp_path, "date;v\n2000-01-01;30.531\n2000-01-02;1.5\n"))
    np.testing.assert_array_equal(dots.values[:, 0], [30.531, 1.5])  # no comma: decimal points


def test_an_empty_date_is_an_error_naming_its_line(tmp_path):
    """It read as "a format not read", which turned off the order and gap checks."""
    text = "date,v\n2000-01-01,1\n,2\n2000-01-03,3\nNA,4\n"
    with pytest.raises(ValueError, match=r":3: date column 'date' is empty \(and in 1 more rows\)"):
        read_series_csv(write(tmp_path, text))


def test_year_and_quarter_columns_form_the_date(tmp_path):
    text = "year,quarter,gdp,cpi\n1959,1,2710.3,28.9\n1959,2,2778.8,29.1\n1959,3,2775.4,29.3\n"
    table = read_series_csv(write(tmp_path, text))
    assert table.columns == ["gdp", "cpi"]  # the quarter is not a value to forecast
    assert table.dates == ["1959 1", "1959 2", "1959 3"]


def test_day_first_and_month_first_dates_in_order_are_read(tmp_path):
    """01/09 then 02/09: 1 and 2 September read day first, 9 January and 9 February month
    first; both run forward. 13/09 then 01/10 parses day first only, and runs forward."""
    for text in ("date,v\n01/09/2016,1\n02/09/2016,2\n", "date,v\n13/09/2016,1\n01/10/2016,2\n"):
        assert read_series_csv(write(tmp_path, text)).values.shape == (2, 1)


def test_dates_in_other_formats_are_read_unchecked(tmp_path):
    table = read_series_csv(write(tmp_path, "DATE,v\nJan-1-1995,1\nFeb-1-1995,2\nDec-1-1994,3\n"))
    assert table.dates == ["Jan-1-1995", "Feb-1-1995", "Dec-1-1994"] and table.columns == ["v"]


def dated(dates) -> str:
    return "date,v\n" + "".join(f"{d},{i}\n" for i, d in enumerate(dates))


def test_gaps_and_repeated_times_are_noticed_but_a_calendar_rhythm_is_not(tmp_path):
    """Months of 28-31 days and business days (a Monday after a weekend, a Tuesday after a
    long one) are the series' rhythm; a missing month, a missing day of an hourly series or
    a date that repeats (several series in long format) is said in the log."""
    months = [f"{y}-{m:02d}" for y in range(1949, 1961) for m in range(1, 13)]
    assert read_series_csv(write(tmp_path, dated(months))).time_gaps is None
    gappy = read_series_csv(write(tmp_path, dated(months[:30] + months[32:]))).time_gaps
    assert gappy.startswith("1 gap in the times (the widest: '1951-06' to '1951-09', line 32;")
    assert "most rows are a step apart as '1949-01' to '1949-02'" in gappy
    days = np.arange("2024-01-01", "2024-12-31", dtype="datetime64[D]")
    business = [str(d) for d in days if d.astype(object).weekday() < 5 and str(d) != "2024-05-27"]
    assert read_series_csv(write(tmp_path, dated(business))).time_gaps is None
    hours = np.arange("2016-07-01T00", "2016-07-11T00", dtype="datetime64[h]").astype(str)
    hourly = [h.replace("T", " ") + ":00" for h in hours]
    gaps = read_series_csv(write(tmp_path, dated(hourly[:50] + hourly[74:80] + hourly[81:])))
    assert gaps.time_gaps.startswith("2 gaps in the times (the widest: '2016-07-03 01:00' to")
    stores = [d for d in months[:12] for _ in range(3)]  # date,store,sales sorted by date
    repeated = read_series_csv(write(tmp_path, dated(stores))).time_gaps
    assert repeated.startswith("24 rows have the time of the row before (first: line 3, ")
    assert read_series_csv(write(tmp_path, dated(range(1700, 1800)))).time_gaps is None


def test_gaps_and_repeats_of_a_year_and_quarter_index_are_noticed(tmp_path):
    quarters = [(y, q) for y in range(1959, 1969) for q in range(1, 5)]

    def gaps(rows) -> str | None:
        text = "year,quarter,gdp\n" + "".join(f"{y},{q},{i}\n" for i, (y, q) in enumerate(rows))
        return read_series_csv(write(tmp_path, text)).time_gaps

    assert gaps(quarters) is None
    assert gaps(quarters[:9] + quarters[10:]).startswith(
        "1 gap in the times (the widest: '1961 1' to '1961 3'"
    )
    assert gaps(quarters[:9] + quarters[8:]).startswith("1 row has the time of the row before")
    assert gaps(quarters[:8] + quarters[12:]).startswith(
        "1 gap in the times (the widest: '1960 4' to '1962 1'"
    )


def test_the_default_target_passes_over_columns_named_like_time(tmp_path):
    """Longley ends its rows with YEAR, copper with TIME: counters, not the series."""
    text = "Obs,TOTEMP,POP,YEAR\n1,60323,107608,1947\n2,61122,108632,1948\n"
    table = read_series_csv(write(tmp_path, text))  # YEAR is the time index: not a value
    assert table.last_column == "POP" and table.columns == ["Obs", "TOTEMP", "POP"]
    only = read_series_csv(write(tmp_path, "week,time\n1,1\n2,2\n"), date_column=None)
    assert only.last_column == "time"  # nothing else to forecast
    # nor over a column of text after the readings (as forecast reads: text allowed, unused)
    text = "date,co2,city\n2000-01-01,1.5,Oslo\n2000-01-02,2.5,Oslo\n"
    assert read_series_csv(write(tmp_path, text), allow_empty=True).last_column == "co2"


def test_missing_values_allowed_are_nan_until_a_used_column_has_one(tmp_path):
    path = write(tmp_path, "date,a,b\nd1,1,\nd2,2,5\nd3,3,NA\n")
    with pytest.raises(ValueError, match=r"s\.csv:2: column 'b': missing value \(.*2 in this"):
        read_series_csv(path)
    table = read_series_csv(path, allow_empty=True)
    np.testing.assert_array_equal(table.values[:, 0], [1, 2, 3])
    assert np.isnan(table.values[[0, 2], 1]).all() and table.lines == [2, 3, 4]
    table.require_complete(["a"])
    with pytest.raises(ValueError, match=r"s\.csv:2: column 'b': missing value \(.*2 in this"):
        table.require_complete(["a", "b"])
    texts = read_series_csv(write(tmp_path, "date,a,b\nd1,1,\nd2,2,x\n"), allow_empty=True)
    with pytest.raises(ValueError, match=r"s\.csv:3: column 'b': expected a number, got 'x'"):
        select_columns(texts, "b")


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        read_series_csv(tmp_path / "nope.csv")


# ------------------------------------------------------------------ columns and splits
def table_of(columns):
    return SeriesTable(np.zeros((3, len(columns))), list(columns), None, "t.csv")


def test_select_columns():
    table = table_of(["HUFL", "HULL", "OT"])
    assert select_columns(table, "OT", "target") == ([2], [2])
    assert select_columns(table, None, "target") == ([2], [2])  # the last column by default
    assert select_columns(table, "HULL", "target") == ([1], [1])
    assert select_columns(table, "OT", "all") == ([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match=r"--target 'XX'.*available: HUFL, HULL, OT"):
        select_columns(table, "XX")
    with pytest.raises(ValueError, match="--features 'some'"):
        select_columns(table, "OT", "some")


def test_split_bounds_counts_and_fractions():
    assert split_bounds(17420, "8640,2880,2880") == [(0, 8640), (8640, 11520), (11520, 14400)]
    assert informer_split(17420) == [(0, 8640), (8640, 11520), (11520, 14400)]
    # 0.7 / 0.1 rounded down, the test part takes the rest
    assert split_bounds(1001, "0.7,0.1,0.2") == [(0, 700), (700, 800), (800, 1001)]
    assert split_bounds(1000, [0.5, 0.0, 0.25]) == [(0, 500), (500, 500), (500, 750)]


@pytest.mark.parametrize(
    "spec", ["8640,2880", "a,b,c", "0.7,0.2,0.2", "9000,9000,9000", "0,10,10", "0.5,-0.1,0.2"]
)
def test_split_bounds_errors_name_the_option(spec):
    with pytest.raises(ValueError, match="--split"):
        split_bounds(17420, spec)


def test_informer_split_needs_enough_rows():
    with pytest.raises(ValueError, match="--split"):
        informer_split(10000)


# ------------------------------------------------------------------ standardizer
def test_standardizer_uses_train_rows_only():
    rng = np.random.default_rng(0)
    values = np.c_[rng.normal(3, 2, 100), np.full(100, 7.0)]
    values[80:] += 1000  # test rows far away: must not move the statistics
    scaler = Standardizer.fit(values[:80])
    np.testing.assert_allclose(scaler.mean, [values[:80, 0].mean(), 7.0])
    np.testing.assert_allclose(scaler.std, [values[:80, 0].std(), 1.0])  # constant -> std 1
    z = scaler.transform(values)
    np.testing.assert_allclose(z[:80].mean(axis=0), [0, 0], atol=1e-12)
    np.testing.assert_allclose(z[:80, 0].std(), 1.0)
    assert z[80:, 0].mean() > 100
    np.testing.assert_allclose(scaler.inverse_transform(z), values)
    # one column's statistics for a target-only array
    np.testing.assert_allclose(scaler.inverse_transform(z[:, [1]], columns=[1]), values[:, [1]])
    again = Standardizer.from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_array_equal(again.transform(values), z)


# ------------------------------------------------------------------ windows
def test_windows_by_hand():
    values = np.arange(20, dtype=float).reshape(10, 2)  # row r = (2r, 2r+1)
    X, Y = make_windows(values, window=3, horizon=2, start=5, end=9,
                        input_columns=[0, 1], target_columns=[1])  # fmt: skip
    assert X.dtype == np.float32 and Y.dtype == np.float32
    assert X.shape == (3, 3, 2) and Y.shape == (3, 2, 1)  # origins 5, 6, 7
    np.testing.assert_array_equal(X[0], values[2:5])  # inputs reach back before start
    np.testing.assert_array_equal(Y[0, :, 0], [11, 13])  # first target row is start (row 5)
    np.testing.assert_array_equal(Y[-1, :, 0], [15, 17])  # last target row is end - 1 (row 8)
    # the first split cannot reach back: its first target row is `window`
    X0, Y0 = make_windows(values, 3, 2, 0, 5, [0], [0])
    assert Y0[0, 0, 0] == values[3, 0] and len(X0) == 1
    with pytest.raises(ValueError, match="no window fits"):
        make_windows(values, 3, 5, 5, 9, [0], [0])


@pytest.mark.parametrize(
    ("window", "horizon", "start", "end", "message"),
    [
        (96, 24, 0, 70, r"at most --window 46 fits with this --horizon"),
        (16, 24, 142, 162, r"the part has 20 rows, fewer than --horizon 24"),
    ],
)
def test_no_window_fits_says_what_would(window, horizon, start, end, message):
    values = np.zeros((200, 1))
    with pytest.raises(ValueError, match=message):
        make_windows(values, window, horizon, start, end, [0], [0])
    # the suggested window does fit
    if "at most" in message:
        assert len(make_windows(values, 46, horizon, start, end, [0], [0])[0]) == 1
    with pytest.raises(ValueError, match="--window"):
        make_windows(values, 0, 1, 5, 9, [0], [0])


def test_etth1_informer_window_counts(data_dir):
    table = read_series_csv(data_dir / "ett/ETTh1.csv")
    bounds = informer_split(len(table))
    inputs, targets = select_columns(table, "OT", "target")
    counts = []
    for start, end in bounds:
        X, Y = make_windows(table.values, 96, 24, start, end, inputs, targets)
        assert X.shape[1:] == (96, 1) and Y.shape[1:] == (24, 1)
        first = max(start, 96)
        assert Y[0, 0, 0] == np.float32(table.values[first, 6])
        assert X[0, -1, 0] == np.float32(table.values[first - 1, 6])
        assert Y[-1, -1, 0] == np.float32(table.values[end - 1, 6])
        counts.append(len(X))
    assert counts == [8521, 2857, 2857]  # Informer's ETTh1 lengths for seq_len 96, pred_len 24
    inputs, targets = select_columns(table, "OT", "all")
    X, Y = make_windows(table.values, 96, 24, *bounds[2], inputs, targets)
    assert X.shape == (2857, 96, 7) and Y.shape == (2857, 24, 7)


# ------------------------------------------------------------------ baselines
def test_naive_and_seasonal_naive_by_hand():
    history = np.array([1.0, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(naive(history, 3), [7, 7, 7])
    np.testing.assert_array_equal(seasonal_naive(history, 5, 3), [5, 6, 7, 5, 6])
    windows = np.stack([history, 10 * history])[:, :, None]  # (N, T, C)
    np.testing.assert_array_equal(naive(windows, 2)[:, :, 0], [[7, 7], [70, 70]])
    np.testing.assert_array_equal(seasonal_naive(windows, 2, 2)[:, :, 0], [[6, 7], [60, 70]])
    with pytest.raises(ValueError, match="--season"):
        seasonal_naive(history, 2, 8)


def test_metrics_by_hand():
    assert mse([1, 2, 3], [1, 4, 0]) == pytest.approx((0 + 4 + 9) / 3)
    assert mae([1, 2, 3], [1, 4, 0]) == pytest.approx((0 + 2 + 3) / 3)
    with pytest.raises(ValueError, match="shapes differ"):
        mse([1, 2], [1, 2, 3])


def test_holdout_forecast_methods_by_hand():
    series = np.arange(1.0, 13.0)
    np.testing.assert_array_equal(holdout_forecast(series, 3, "naive"), [9, 9, 9])
    np.testing.assert_array_equal(holdout_forecast(series, 3, "seasonal_naive", 4), [6, 7, 8])
    with pytest.raises(ValueError, match="--method"):
        holdout_forecast(series, 3, "prophet")
    with pytest.raises(ValueError, match="--season"):
        holdout_forecast(series, 3, "seasonal_naive")


def test_arima_beats_naive_on_ar1():
    # y_t = 0.5 y_{t-1} + e, var e = 1: the best one-step forecast 0.5 y_{t-1} has MSE 1, the
    # naive one E(y_t - y_{t-1})^2 = 2 / (1 + 0.5) = 4/3
    series = ar1(800, 0.5, seed=3)
    fitted = fit_arima(series[:200])  # order by AIC
    order = fitted.model.order
    assert order[1] == 0 and order[0] + order[2] >= 1  # KPSS: stationary; not white noise
    windows = np.lib.stride_tricks.sliding_window_view(series[200:], 21)  # (580, 21)
    history, truth = windows[:, :20], windows[:, 20:]
    forecast = arima_forecasts(series[:200], history, horizon=1, order=order)
    assert forecast.shape == (580, 1)
    arima_mse, naive_mse = mse(truth, forecast), mse(truth, naive(history, 1))
    assert arima_mse < 0.85 * naive_mse
    assert arima_mse == pytest.approx(1.0, abs=0.2)
    # hold-out setting: the last 5 points from everything before them
    tail = holdout_forecast(series[:305], 5, "arima", order=(1, 0, 0))
    expected = fit_arima(series[:300], order=(1, 0, 0), max_points=None).forecast(5)
    np.testing.assert_allclose(tail, expected)


def test_arima_window_forecasts_equal_statsmodels_per_window():
    # the affine shortcut must give what statsmodels gives window by window (d = 1 here)
    series = np.cumsum(ar1(260, 0.4, seed=5))
    windows = np.lib.stride_tricks.sliding_window_view(series[200:], 12)  # 49 windows > T + 1
    forecast = arima_forecasts(series[:200], windows, horizon=3, order=(1, 1, 0))
    fitted = fit_arima(series[:200], order=(1, 1, 0))
    for k in (0, 20, 48):
        np.testing.assert_allclose(forecast[k], fitted.apply(windows[k]).forecast(3), atol=1e-8)
    single = arima_forecasts(series[:200], windows[7], horizon=3, order=(1, 1, 0))
    np.testing.assert_allclose(single, forecast[7], atol=1e-8)


def test_arima_window_forecasts_are_seasonal_with_a_season():
    # a season of 12 irregular values on a trend: a non-seasonal ARIMA of the windows cannot
    # follow the season ahead, the seasonal one (order chosen by AIC) nearly can
    rng = np.random.default_rng(4)
    steps = np.arange(240)
    profile = rng.normal(0, 2, 12)
    series = 0.05 * steps + profile[steps % 12] + rng.normal(0, 0.3, 240)
    windows = np.lib.stride_tricks.sliding_window_view(series[144:], 36 + 6)[::5]
    history, truth = windows[:, :36], windows[:, 36:]
    plain = arima_forecasts(series[:144], history, horizon=6)
    seasonal = arima_forecasts(series[:144], history, horizon=6, season=12)
    assert mse(truth, seasonal) < 0.5 * mse(truth, plain)
    assert mse(truth, seasonal) < mse(truth, seasonal_naive(history, 6, 12))


# ------------------------------------------------------------------ plot
def test_plot_forecast(tmp_path):
    history = np.sin(np.arange(40) / 3)
    truth = np.sin(np.arange(40, 52) / 3)
    path = plot_forecast(history, truth, {"naive": naive(history, 12), "good": truth + 0.05},
                         tmp_path / "out" / "f.png", title="sine")  # fmt: skip
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 10  # not blank
    with pytest.raises(ValueError, match="has 3 steps"):
        plot_forecast(history, truth, {"short": truth[:3]}, tmp_path / "g.png")
    with pytest.raises(ValueError, match="at least one forecast"):
        plot_forecast(history, truth, {}, tmp_path / "h.png")


def test_a_column_of_text_is_left_out_until_a_run_asks_for_it(tmp_path):
    text = "date,weekday,v,OT\n2016-07-01,Friday,1,2\n2016-07-02,Saturday,3,4\n"
    table = read_series_csv(write(tmp_path, text), allow_empty=True)
    assert table.columns == ["v", "OT"] and list(table.text_columns) == ["weekday"]
    assert select_columns(table, "OT") == ([1], [1])
    with pytest.raises(ValueError, match=r"column 'weekday': expected a number"):
        select_columns(table, None, "all")  # every column: that one too
    with pytest.raises(ValueError, match=r"s\.csv:2: column 'weekday': expected a number, got"):
        select_columns(table, "weekday")
    with pytest.raises(ValueError, match=r"s\.csv:2: column 'weekday': expected a number"):
        read_series_csv(write(tmp_path, text))  # strict: every column is a number
    last = read_series_csv(write(tmp_path, "date,v,note\nd1,1,ok\nd2,2,fine\n"), allow_empty=True)
    assert select_columns(last, None) == ([0], [0])  # the default target: the last of numbers


def test_a_delimiter_closing_every_line_is_not_a_column(tmp_path):
    table = read_series_csv(write(tmp_path, "date,a,OT,\nd1,1,2,\nd2,3,4,\n"))
    assert table.columns == ["a", "OT"] and table.values.tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match=r"s\.csv:1: column 4 has an empty name"):
        read_series_csv(write(tmp_path, "date,a,OT,\nd1,1,2,5\nd2,3,4,\n"))  # it has a cell


def test_hours_unix_times_and_row_numbers_are_not_values(tmp_path):
    """UCI's Beijing PM2.5 file opens with a row number and the time split over four columns
    (the hour was read as a value, the row number too); seconds since 1970 in an ``epoch``
    column were read as a value."""
    text = "No,year,month,day,hour,pm2.5,DEWP\n1,2010,1,1,0,129,-21\n2,2010,1,1,1,148,-20\n"
    table = read_series_csv(write(tmp_path, text + "3,2010,1,1,2,159,-21\n"))
    assert table.columns == ["pm2.5", "DEWP"] and table.row_numbers == "No"
    assert table.dates == ["2010 1 1 0", "2010 1 1 1", "2010 1 1 2"]
    with pytest.raises(ValueError, match="the file runs newest first"):  # the hour is time
        read_series_csv(write(tmp_path, text.replace(",0,129", ",5,129")))
    table = read_series_csv(write(tmp_path, "epoch,load\n1700000000,5\n1700003600,6\n"))
    assert table.columns == ["load"] and table.dates == ["1700000000", "1700003600"]
    # a first column named like a row number that does not count up by one is a value
    table = read_series_csv(write(tmp_path, "id,load\n7,5\n3,6\n"))
    assert table.columns == ["id", "load"] and table.row_numbers is None


def test_pandas_index_before_a_date_column_leaves_the_date_the_time(tmp_path):
    """``df.to_csv(f)`` writes row numbers first: they were the time, the date column after
    them only a second key, so a newest-first file or stacked series went unnoticed, and a
    YEAR column not next to the index became a value."""
    newest_first = ",date,v\n0,2000-01-03,1\n1,2000-01-02,2\n2,2000-01-01,3\n"
    with pytest.raises(ValueError, match="the file runs newest first"):
        read_series_csv(write(tmp_path, newest_first))
    stacked = ",symbol,date,price\n0,A,2000-01-01,1\n1,A,2000-01-02,2\n2,B,2000-01-01,3\n"
    with pytest.raises(ValueError, match="several series stacked"):
        read_series_csv(write(tmp_path, stacked), allow_empty=True)
    longley = ",TOTEMP,GNP,YEAR\n0,60323,234289,1947\n1,61122,259426,1948\n2,60171,258054,1949\n"
    table = read_series_csv(write(tmp_path, longley))
    assert table.columns == ["TOTEMP", "GNP"] and table.row_numbers == ""
    assert table.dates == ["1947", "1948", "1949"]


@pytest.mark.parametrize(
    "dates",
    [
        ["Jan 1 2000", "Feb 1 2000", "Mar 1 2000"],
        ["01 Apr 2008", "01 May 2008", "01 Jun 2008"],
        ["April 2008", "May 2008", "June 2008"],
        ["2009Q3", "2009Q4", "2010Q1"],
        ["2002-04-15/2002-04-21", "2002-04-22/2002-04-28", "2002-04-29/2002-05-05"],
    ],
)
def test_dates_with_month_names_and_pandas_periods_are_read_and_checked(tmp_path, dates):
    """These were not read, so their order was never checked (a reversed file trained)."""
    text = "date,v\n" + "".join(f"{d},{i}\n" for i, d in enumerate(dates))
    assert read_series_csv(write(tmp_path, text)).time_gaps is None
    reversed_text = "date,v\n" + "".join(f"{d},{i}\n" for i, d in enumerate(dates[::-1]))
    with pytest.raises(ValueError, match="the file runs newest first"):
        read_series_csv(write(tmp_path, reversed_text))


def test_yyyymmdd_numbers_are_dates_and_unread_dates_are_said(tmp_path):
    """20121231 to 20130101 is a day, not a gap of 8870; dates in a format not read are said
    in the log rather than silently left unchecked."""
    days = ["20121230", "20121231", "20130101", "20130102"]
    text = "date,v\n" + "".join(f"{d},{i}\n" for i, d in enumerate(days))
    assert read_series_csv(write(tmp_path, text)).time_gaps is None
    table = read_series_csv(write(tmp_path, "date,v\nwk-a,1\nwk-b,2\nwk-c,3\n"))
    assert "format not read: their order and gaps are not checked" in table.time_gaps


@pytest.mark.parametrize(
    ("dates", "rhythm"),
    [
        (["1949-01", "1949-02", "1949-03", "1949-04"], ("a month", 12)),
        (["2016-07-01 00:00", "2016-07-01 01:00", "2016-07-01 02:00"], ("an hour", 24)),
        (["2012-01-01", "2012-01-02", "2012-01-03"], ("a day", 7)),
        (["2009Q3", "2009Q4", "2010Q1"], ("a quarter", 4)),
        (["Q3 2009", "Q4 2009", "Q1 2010"], ("a quarter", 4)),  # pmdarima's woolyrnq
        (["1700", "1701", "1702"], None),  # years: no season in them
        # trading days (a stock): a week is 5 rows, not 7 (seasonal naive MSE 2.37 -> 0.046)
        ([str(d.date()) for d in pd.bdate_range("2020-01-01", periods=12)], ("a working day", 5)),
        (["2016-07-01 00:00", "2016-07-01 00:30", "2016-07-01 01:00"], ("half an hour", 48)),
        (["2016-07-01 00:00", "2016-07-01 00:15", "2016-07-01 00:30"], ("15 minutes", 96)),
    ],
)
def test_the_rows_rhythm_suggests_a_season(tmp_path, dates, rhythm):
    """UKgas (quarterly) with the defaults: test MSE 1.87 against ARIMA's 0.25; with --season 4
    --residual season, 0.105. The log now suggests the season the dates imply."""
    text = "date,v\n" + "".join(f"{d},{i}\n" for i, d in enumerate(dates))
    assert read_series_csv(write(tmp_path, text)).rhythm == rhythm
    quarters = "year,quarter,v\n1959,1,1\n1959,2,2\n1959,3,3\n1959,4,4\n"
    assert read_series_csv(write(tmp_path, quarters)).rhythm == ("a quarter", 4)
