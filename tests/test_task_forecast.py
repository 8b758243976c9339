"""The ``forecast`` task through ``rnnkit.cli.main``: train / evaluate / predict / resume on
slices of the real series, the baselines against hand-computed values, each recipe's data
preparation on the shared data, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit import baselines
from rnnkit.cli import main
from rnnkit.structures.forecaster import ForecastEnsemble, Forecaster
from rnnkit.tasks.forecast import RECIPES, TASK, joined
from rnnkit.tasks.runner import _train_config, load_run, make_config
from rnnkit.train import Trainer, seed_everything

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--hidden-size", "8", "--batch-size", "64", "--epochs", "1"]
ETT_ARGS = ["--window", "24", "--horizon", "6", "--split", "400,100,100", "--date-column", "date"]


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


@pytest.fixture(scope="module")
def ett(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 600 rows of ETTh1."""
    path = tmp_path_factory.mktemp("ett") / "ett600.csv"
    lines = (data_dir / "ett/ETTh1.csv").read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:601]))
    return path


@pytest.fixture(scope="module")
def uni_run(ett: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A univariate OT run on the slice (1 epoch, no baselines)."""
    out = tmp_path_factory.mktemp("uni") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        argv = ["train", "forecast", "--series", str(ett), "--target", "OT", *ETT_ARGS]
        assert main([*argv, *TINY, "--baselines", "none", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    return out


def test_univariate_run_writes_metrics_scaler_and_plots(uni_run: Path, ett: Path) -> None:
    metrics = json.loads((uni_run / "metrics.json").read_text())
    for key in ("test_mse", "test_mae", "test_mse_original", "test_mae_original", "valid_mse"):
        assert np.isfinite(metrics[key]), key
    assert "test_mse_naive" not in metrics  # --no-baselines
    # the statistics come from the 400 training rows only
    ot = pd.read_csv(ett)["OT"].to_numpy()
    scaler = json.loads((uni_run / "scaler.json").read_text())
    assert scaler["columns"] == scaler["inputs"] == scaler["targets"] == ["OT"]
    np.testing.assert_allclose(scaler["mean"], [ot[:400].mean()])
    np.testing.assert_allclose(scaler["std"], [ot[:400].std()])
    # one column: the original-unit errors are the standardised ones times std (squared)
    std = scaler["std"][0]
    assert metrics["test_mse_original"] == pytest.approx(metrics["test_mse"] * std**2, rel=1e-4)
    assert metrics["test_mae_original"] == pytest.approx(metrics["test_mae"] * std, rel=1e-4)
    # test windows: targets in rows [500, 600), horizon 6 -> origins 500..594
    assert metrics["test_examples"] == 95
    assert {p.name for p in (uni_run / "plots").iterdir()} >= {"curves.png", "forecast_1.png"}


def test_evaluate_and_predict_agree_with_the_model_by_hand(
    uni_run: Path, ett: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = json.loads((uni_run / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(uni_run)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["windows"] == 95
    assert evaluated["mse"] == pytest.approx(metrics["test_mse"], rel=1e-5)

    # the first 530 rows: predict forecasts rows 530..535 from rows 506..529
    frame = pd.read_csv(ett)
    head = tmp_path / "head.csv"
    frame.iloc[:530].to_csv(head, index=False)
    assert main(["predict", str(uni_run), "--input", str(head)]) == 0
    lines = capsys.readouterr().out.splitlines()
    stray = frame.iloc[:530].astype({"OT": object})
    stray.loc[100, "OT"] = "error"  # was "no column 'OT'" (a text column is left out)
    stray.to_csv(tmp_path / "stray.csv", index=False)
    assert main(["predict", str(uni_run), "--input", str(tmp_path / "stray.csv")]) == 2
    assert "stray.csv:102: column 'OT': expected a number, got 'error'" in capsys.readouterr().err
    assert len(lines) == 6 and all("," not in line for line in lines)
    loaded = load_run(str(uni_run))
    mean, std = frame["OT"][:400].mean(), frame["OT"][:400].std(ddof=0)
    x = torch.tensor(((frame["OT"][506:530].to_numpy() - mean) / std)[None, :, None])
    with torch.no_grad():
        expected = loaded.model(x.float())[0, :, 0].numpy() * std + mean
    np.testing.assert_allclose([float(v) for v in lines], expected, rtol=1e-7)  # 9 digits
    # a gap before the window read is no concern of the forecast (it was refused); in it is
    gappy = frame.iloc[:530].astype({"OT": object})
    gappy.loc[10, "OT"] = ""
    gappy.to_csv(head, index=False)
    assert main(["predict", str(uni_run), "--input", str(head)]) == 0
    assert capsys.readouterr().out.splitlines() == lines
    gappy.loc[520, "OT"] = ""
    gappy.to_csv(head, index=False)
    assert main(["predict", str(uni_run), "--input", str(head)]) == 2
    assert "head.csv:522: " in capsys.readouterr().err

    # evaluate --data scores every window of a file: rows 24.. of the first 60 -> 31 windows
    part = tmp_path / "part.csv"
    frame.iloc[:60].to_csv(part, index=False)
    assert main(["evaluate", str(uni_run), "--data", str(part)]) == 0
    assert json.loads(capsys.readouterr().out)["windows"] == 60 - 24 - 6 + 1


def test_resume_equals_a_straight_run(ett: Path, tmp_path: Path) -> None:
    argv = ["train", "forecast", "--series", str(ett), *ETT_ARGS, *TINY[:4], "--baselines", "none"]
    assert main([*argv, "--epochs", "2", "--out", str(tmp_path / "straight")]) == 0
    assert main([*argv, "--epochs", "1", "--out", str(tmp_path / "resumed")]) == 0
    assert main(["train", "forecast", "--resume", str(tmp_path / "resumed"), "--epochs", "2"]) == 0
    straight = json.loads((tmp_path / "straight/metrics.json").read_text())
    resumed = json.loads((tmp_path / "resumed/metrics.json").read_text())
    assert resumed["epochs"] == 2
    assert resumed["test_mse"] == pytest.approx(straight["test_mse"], rel=1e-6)


def _manual_fit(config: dict, prepared: object, windows: object, epochs: int) -> torch.nn.Module:
    """A fresh model trained by hand on ``windows`` for ``epochs`` epochs, as --refit should."""
    train_config = dataclasses.replace(
        _train_config(TASK, config), epochs=epochs, early_stopping_patience=None
    )
    seed_everything(config["seed"])
    model = TASK.build_model(config, prepared.artifacts)
    trainer = Trainer(model, train_config, TASK.loss)
    trainer.fit(TASK.batches(config, windows, generator=trainer.generator))
    return trainer.model


def test_refit_trains_a_fresh_model_on_train_and_valid(
    ett: Path, uni_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "refit"
    argv = ["train", "forecast", "--series", str(ett), "--target", "OT", *ETT_ARGS, *TINY[:4]]
    argv += ["--epochs", "3", "--baselines", "none", "--refit", "--out", str(out)]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    epochs = metrics["best_epoch"]
    assert 1 <= epochs <= 3
    assert metrics["refit_windows"] == 371 + 95  # train origins 24..394, valid 400..494
    saved = load_run(str(out))
    config, prepared = saved.config, TASK.prepare(saved.config, saved.artifacts)
    by_hand = _manual_fit(config, prepared, joined(prepared.train, prepared.valid), epochs)
    on_train = _manual_fit(config, prepared, prepared.train, epochs)
    plain = load_run(str(uni_run)).model  # the same options without --refit, 1 epoch
    for name, tensor in saved.model.state_dict().items():
        torch.testing.assert_close(tensor, by_hand.state_dict()[name], rtol=0, atol=0)
    differs = [
        not torch.equal(tensor, other.state_dict()[name])
        for other in (on_train, plain)
        for name, tensor in saved.model.state_dict().items()
    ]
    assert any(differs[: len(differs) // 2]) and any(differs[len(differs) // 2 :])
    # the saved model is the one scored: evaluate reproduces metrics.json's test_mse
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["mse"] == pytest.approx(metrics["test_mse"], rel=1e-5)


def test_a_target_beside_features_all_and_rows_in_no_part_are_said(
    ett: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "forecast", "--series", str(ett), "--features", "all", "--target", "OT"]
    argv += ["--window", "12", "--horizon", "2", "--split", "300,100,100", *TINY]
    capsys.readouterr()
    assert main([*argv, "--baselines", "none", "--out", str(tmp_path / "run")]) == 0
    log = capsys.readouterr().out
    assert "--target OT is not used with --features all" in log
    # a constant column among all: said, as its error-free forecast flatters the metrics
    frame = pd.read_csv(ett)
    frame["flat"] = 1.0
    flat = tmp_path / "flat.csv"
    frame.to_csv(flat, index=False)
    argv = ["train", "forecast", "--series", str(flat), "--features", "all", "--window", "12"]
    argv += ["--horizon", "2", *TINY, "--baselines", "none", "--out", str(tmp_path / "flat")]
    assert main(argv) == 0
    assert "'flat' constant over the training rows" in capsys.readouterr().out
    assert "--split 300,100,100 leaves rows 500-599 of" in log and "in no part" in log


@pytest.mark.parametrize(
    ("model", "horizon", "extra"),
    [("seq2seq", 4, ["--attention", "bahdanau"]), ("auto", 1, []), ("nextstep", 3, [])],
)
def test_multivariate_models_predict_every_column(
    ett: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model: str,
    horizon: int,
    extra: list[str],
) -> None:
    out = tmp_path / "run"
    argv = ["train", "forecast", "--series", str(ett), "--features", "all", "--window", "12"]
    argv += ["--split", "0.6,0.2,0.2", "--horizon", str(horizon), "--model", model, *extra]
    assert main([*argv, *TINY, "--baselines", "none", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["predict", str(out), "--input", str(ett)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == horizon and all(len(line.split(",")) == 7 for line in lines)
    kind = load_run(str(out)).model.kind
    assert kind == ("nextstep" if model == "auto" else model)


def test_airline_baselines_by_hand(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "air"
    argv = ["train", "forecast", "--recipe", "airline", "--data-dir", str(data_dir)]
    assert main([*argv, *TINY, "--baselines", "naive", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    y = pd.read_csv(data_dir / "classic_ts/Airline.csv")["Passengers"].to_numpy(float)
    mean, std = y[:108].mean(), y[:108].std()  # the recipe trains on 108 months
    # --transform log (the recipe's): the model learns standardised log values ...
    scaler = json.loads((out / "scaler.json").read_text())
    assert scaler["transform"] == "log"
    np.testing.assert_allclose(scaler["mean"], [np.log(y[:108]).mean()])
    np.testing.assert_allclose(scaler["metric_std"], [std])
    # ... and is scored in original units over the raw training std, as the baselines are
    head = tmp_path / "head.csv"
    pd.read_csv(data_dir / "classic_ts/Airline.csv").iloc[:132].to_csv(head, index=False)
    capsys.readouterr()
    assert main(["predict", str(out), "--input", str(head)]) == 0
    forecast = np.array([float(v) for v in capsys.readouterr().out.split()])
    assert metrics["test_mse"] == pytest.approx(np.mean(((forecast - y[132:]) / std) ** 2), 1e-4)
    assert metrics["test_mse_original"] == pytest.approx(np.mean((forecast - y[132:]) ** 2), 1e-4)
    truth = (y[132:] - mean) / std
    naive = (np.full(12, y[131]) - mean) / std
    seasonal = (y[120:132] - mean) / std
    assert metrics["test_examples"] == 1
    assert metrics["test_mse_naive"] == pytest.approx(np.mean((truth - naive) ** 2))
    assert metrics["test_mse_seasonal_naive"] == pytest.approx(np.mean((truth - seasonal) ** 2))
    assert metrics["test_mae_seasonal_naive"] == pytest.approx(np.mean(np.abs(truth - seasonal)))
    assert "test_mse_arima" not in metrics  # --baselines naive: ARIMA's order search is slow
    best = min(metrics[f"test_mse_{m}"] for m in ("naive", "seasonal_naive"))
    assert metrics["test_mse_ratio_to_best_baseline"] == pytest.approx(metrics["test_mse"] / best)
    assert (out / "plots/forecast_1.png").is_file()


def test_one_step_baselines_use_the_model_origins_and_every_row_before(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sunspots' protocol on its first 130 years: one-step-ahead from each of the last 30
    frame = pd.read_csv(data_dir / "classic_ts/sunspots.csv").iloc[:130]
    series = tmp_path / "sun130.csv"
    frame.to_csv(series, index=False)
    out = tmp_path / "run"
    argv = ["train", "forecast", "--series", str(series), "--split", "70,30,30", "--window", "20"]
    argv += ["--horizon", "1", "--season", "11", "--refit", *TINY, "--out", str(out)]
    capsys.readouterr()
    assert main(argv) == 0
    # the log says what ARIMA is fitted to (it said "the training rows" in every case)
    assert "fitting ARIMA to every row before the test part" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    y = frame["SUNACTIVITY"].to_numpy(float)
    std = y[:70].std()
    truth = y[100:]
    assert metrics["test_examples"] == 30
    # naive: the year before; seasonal naive: 11 years before; both from the true history
    assert metrics["test_mse_naive"] == pytest.approx(np.mean(((y[99:129] - truth) / std) ** 2))
    seasonal = (y[89:119] - truth) / std
    assert metrics["test_mse_seasonal_naive"] == pytest.approx(np.mean(seasonal**2))
    # ARIMA (seasonal, order by AIC) fitted to the 100 rows before the test, then one step
    # ahead from each origin's whole history, parameters fixed
    fitted = baselines.fit_arima(y[:100], season=11, max_points=None)
    arima = [fitted.apply(y[:t]).forecast(1)[0] for t in range(100, 130)]
    assert metrics["test_mse_arima"] == pytest.approx(np.mean(((arima - truth) / std) ** 2))


def test_residual_bases_by_hand() -> None:
    x = torch.arange(10.0).view(1, 5, 2)  # rows (0,1) (2,3) ... (8,9)
    common = dict(input_size=2, output_size=1, window=5, horizon=4, target_index=[1])
    last = Forecaster("direct", residual="last", **common)
    season = Forecaster("direct", residual="season", season=2, **common)
    none = Forecaster("direct", residual="none", **common)
    assert last.base(x)[0, :, 0].tolist() == [9, 9, 9, 9]
    assert season.base(x)[0, :, 0].tolist() == [7, 9, 7, 9]
    assert none.base(x)[0, :, 0].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"residual": "seasonal"}, r"residual must be one of none, last, season"),
        ({"output_size": 3}, r"target_index names 1 columns but output_size is 3"),
        ({"target_index": [2]}, r"target_index must lie in \[0, input_size=2\)"),
    ],
)
def test_forecaster_arguments_are_checked_when_built(changes, message) -> None:
    """They failed late (a TypeError in forward, an IndexError) or not at all (three output
    columns broadcast from one target)."""
    common = dict(input_size=2, output_size=1, window=5, horizon=4, target_index=[1])
    with pytest.raises(ValueError, match=message):
        Forecaster("direct", **{**common, **changes})
    season = Forecaster("direct", residual="season", season=4, **common)
    with pytest.raises(ValueError, match=r"a window of 3 rows is shorter than season=4"):
        season(torch.zeros(1, 3, 2))  # (its indices wrapped around)


def _untrained(norm: str, **options: object) -> Forecaster:
    """A direct forecaster whose (zero-initialised) output layer got random weights."""
    torch.manual_seed(0)
    common = dict(input_size=2, output_size=1, window=6, horizon=3, target_index=[1])
    model = Forecaster("direct", norm=norm, hidden_size=8, **{**common, **options}).eval()
    torch.nn.init.normal_(model.net.head.weight)
    torch.nn.init.normal_(model.net.head.bias)
    return model


@pytest.mark.parametrize("norm", ["last", "mean", "revin"])
def test_per_window_normalisation_is_shift_equivariant(norm: str) -> None:
    x = torch.randn(4, 6, 2, generator=torch.Generator().manual_seed(1))
    model, plain = _untrained(norm), _untrained("none")
    with torch.no_grad():
        forecast, shifted = model(x), model(x + 10.0)
        np.testing.assert_allclose(shifted.numpy(), (forecast + 10.0).numpy(), atol=1e-4)
        if norm == "revin":  # and scale-equivariant
            np.testing.assert_allclose(model(3 * x).numpy(), (3 * forecast).numpy(), atol=1e-4)
        # without normalisation a shift is not simply passed on
        assert not torch.allclose(plain(x + 10.0), plain(x) + 10.0, atol=1e-2)


@pytest.mark.parametrize(("residual", "expected"), [("last", [11, 11, 11]), ("season", [9, 11, 9])])
def test_an_untrained_forecaster_gives_the_classic_forecast(residual: str, expected: list) -> None:
    x = torch.arange(12.0).view(1, 6, 2)  # the target column holds 1, 3, ..., 11
    for norm in ("none", "mean", "revin"):
        model = Forecaster("direct", input_size=2, output_size=1, window=6, horizon=3,
                           target_index=[1], residual=residual, season=2, norm=norm)  # fmt: skip
        with torch.no_grad():
            np.testing.assert_allclose(model(x)[0, :, 0].numpy(), expected, atol=1e-4)


def test_an_ensemble_averages_its_members(ett: Path, tmp_path: Path) -> None:
    out = tmp_path / "ens"
    argv = ["train", "forecast", "--series", str(ett), *ETT_ARGS, *TINY, "--baselines", "none"]
    assert main([*argv, "--ensemble", "3", "--out", str(out)]) == 0
    model = load_run(str(out)).model
    assert isinstance(model, ForecastEnsemble) and len(model.members) == 3
    x = torch.randn(2, 24, 1)
    with torch.no_grad():
        members = [member(x) for member in model.members]
        assert not torch.allclose(members[0], members[1])  # different initial weights
        np.testing.assert_allclose(model(x).numpy(), (sum(members) / 3).numpy(), atol=1e-6)


@pytest.mark.parametrize("name", list(RECIPES))
def test_each_recipe_prepares_the_shared_data(name: str, data_dir: Path) -> None:
    options = {"horizon": 24} if RECIPES[name].sweep else {}
    config = make_config(TASK, options, recipe=name, data_dir=str(data_dir))
    prepared = TASK.prepare(config, None)
    scaler = prepared.artifacts["scaler"]
    if name.startswith("etth1"):
        frame = pd.read_csv(data_dir / "ett/ETTh1.csv")
        assert len(prepared.test) == 2880 - 24 + 1 and len(prepared.train) == 8640 - 96 - 24 + 1
        assert prepared.test.origins[0] == 11520
        columns = list(frame.columns[1:]) if name == "etth1-multi" else ["OT"]
        assert scaler["columns"] == columns
        np.testing.assert_allclose(scaler["mean"], frame[columns][:8640].mean().to_numpy())
    elif name == "airline":
        # the last 12 months from one origin
        assert len(prepared.test) == 1 and prepared.test.y.shape[1] == 12
        assert prepared.test.origins.tolist() == [144 - 12]
        # rolling-origin validation: one forecast from each origin of the validation part
        assert len(prepared.valid) == 13
    else:
        # sunspots: one-step-ahead from each of the last 30 years, and of the 60 before them
        assert prepared.test.y.shape[1:] == (1, 1)
        assert prepared.test.origins.tolist() == list(range(279, 309))
        assert prepared.valid.origins.tolist() == list(range(219, 279))


def _bad_cell(tmp_path: Path, ett: Path) -> Path:
    lines = ett.read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace(lines[5].split(",")[3], "abc", 1)
    path = tmp_path / "bad.csv"
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("cell", "bad.csv:6: column 'MUFL': expected a number, got 'abc'"),
        ("target", "--target 'XYZ': no such column"),
        ("window", "--window 450"),
        ("split", "--split '1,2'"),
        ("log", "--transform log needs positive values"),
        ("refit", "--refit cannot be combined with --schedule plateau"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    case: str,
    expected: str,
    ett: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    series = _bad_cell(tmp_path, ett) if case == "cell" else ett
    if case == "log":  # MULL holds values <= 0
        series = tmp_path / "two.csv"
        pd.read_csv(ett)[["date", "MULL", "OT"]].to_csv(series, index=False)
    argv = ["train", "forecast", "--series", str(series), *ETT_ARGS, "--baselines", "none"]
    argv += ["--out", str(tmp_path / "r")]
    argv += {
        "cell": ["--features", "all"],  # (a univariate run leaves the column out)
        "target": ["--target", "XYZ"],
        "window": ["--window", "450"],
        "split": ["--split", "1,2"],
        "log": ["--transform", "log", "--features", "all"],
        "refit": ["--refit", "--schedule", "plateau"],
    }[case]
    capsys.readouterr()
    assert run_cli([*argv, *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ data nobody tuned on
def _synthetic(tmp_path: Path, values: dict[str, np.ndarray]) -> Path:
    """A daily CSV of ``values`` (ISO dates first)."""
    n = len(next(iter(values.values())))
    frame = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n).strftime("%Y-%m-%d")})
    path = tmp_path / "series.csv"
    frame.assign(**values).to_csv(path, index=False)
    return path


def test_a_constant_target_is_one_line_but_a_constant_input_column_trains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    series = _synthetic(tmp_path, {"value": rng.normal(size=120), "flag": np.ones(120)})
    argv = ["train", "forecast", "--series", str(series), "--window", "8", "--horizon", "2"]
    argv += [*TINY, "--baselines", "naive"]
    capsys.readouterr()
    assert run_cli([*argv, "--out", str(tmp_path / "r")]) == 2  # the last column, by default
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--target 'flag' (the last column, by default)" in err, err
    assert "constant (1) over the 84 training rows" in err and not (tmp_path / "r").exists()
    # multivariate, the constant column is one input (and output) among others
    assert run_cli([*argv, "--features", "all", "--out", str(tmp_path / "m")]) == 0
    assert np.isfinite(json.loads((tmp_path / "m/metrics.json").read_text())["test_mse"])


def test_baselines_in_both_scales_and_an_exact_baseline_gives_no_division_error(
    tmp_path: Path,
) -> None:
    # the series moves in the training rows, then stays flat from the last validation rows on:
    # naive forecasts the test windows exactly
    rng = np.random.default_rng(1)
    values = np.r_[rng.normal(10, 2, size=90), np.full(50, 7.0)]
    series = _synthetic(tmp_path, {"value": values})
    out = tmp_path / "r"
    argv = ["train", "forecast", "--series", str(series), "--window", "8", "--horizon", "2"]
    argv += ["--split", "70,30,40", *TINY, "--baselines", "naive", "--out", str(out)]
    assert run_cli(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_mse_naive"] == 0.0 and metrics["test_mse_original_naive"] == 0.0
    assert metrics["test_mse"] > 0
    assert metrics["test_mse_ratio_to_best_baseline"] is None  # infinite: null in the JSON
    # with an inexact baseline the two scales differ by the training variance
    values[90:] = rng.normal(7, 2, size=50)
    series = _synthetic(tmp_path, {"value": values})
    assert run_cli([*argv, "--overwrite"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    variance = values[:70].var()
    assert metrics["test_mse_original_naive"] == pytest.approx(
        metrics["test_mse_naive"] * variance, rel=1e-9
    )
    assert metrics["test_mae_original_naive"] == pytest.approx(
        metrics["test_mae_naive"] * variance**0.5, rel=1e-9
    )
    assert metrics["test_mse_ratio_to_best_baseline"] == pytest.approx(
        metrics["test_mse"] / metrics["test_mse_naive"]
    )


def test_gaps_in_a_column_the_run_does_not_use_are_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(2)
    other = rng.normal(size=120)
    other[[5, 50]] = np.nan  # written as empty cells
    series = _synthetic(tmp_path, {"other": other, "value": rng.normal(size=120)})
    argv = ["train", "forecast", "--series", str(series), "--window", "8", "--horizon", "2"]
    argv += [*TINY, "--baselines", "none"]
    assert run_cli([*argv, "--out", str(tmp_path / "u")]) == 0  # univariate 'value'
    capsys.readouterr()
    assert run_cli(["predict", str(tmp_path / "u"), "--input", str(series)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    # every column in: the first gap is named, file line 7 (header, then rows 1-5)
    assert run_cli([*argv, "--features", "all", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "series.csv:7: column 'other': missing value" in err, err
    assert "2 in this column" in err and not (tmp_path / "m").exists()


def test_a_failing_arima_baseline_costs_the_run_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A baseline is a comparison: its failure is logged, the naive ones are scored and the
    run's metrics and plots are written all the same."""

    def fails(*args: object, **kwargs: object) -> None:
        raise ValueError("no ARIMA order could be fitted to the training series")

    monkeypatch.setattr(baselines, "arima_forecasts", fails)
    rng = np.random.default_rng(4)
    series = _synthetic(tmp_path, {"value": rng.normal(size=120)})
    argv = ["train", "forecast", "--series", str(series), "--window", "8", "--horizon", "2"]
    capsys.readouterr()
    assert run_cli([*argv, *TINY, "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "baselines: ARIMA failed (ValueError: no ARIMA order could be fitted" in out, out
    assert "target: 'value' (by default the last value column)" in out
    metrics = json.loads((tmp_path / "r/metrics.json").read_text())
    assert "test_mse_naive" in metrics and "test_mse_arima" not in metrics
    assert (tmp_path / "r/plots").is_dir()


def test_a_gap_in_the_dates_is_said_in_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(3)
    series = _synthetic(tmp_path, {"value": rng.normal(size=120)})
    lines = series.read_text().splitlines(keepends=True)
    series.write_text("".join(lines[:41] + lines[45:]))  # four days missing after line 41
    argv = ["train", "forecast", "--series", str(series), "--window", "8", "--horizon", "2"]
    capsys.readouterr()
    assert run_cli([*argv, *TINY, "--baselines", "none", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert f"warning: {series}: 1 gap in the times (the widest: '2000-02-09' to" in out, out


def test_a_short_series_gets_one_line_saying_what_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(3)
    series = _synthetic(tmp_path, {"value": rng.normal(size=100)})  # like the yearly Nile
    argv = ["train", "forecast", "--series", str(series), *TINY, "--baselines", "none"]
    capsys.readouterr()
    # left to the task, the sizes fit the parts (70, 10, 20 rows) and the log says so
    assert run_cli([*argv, "--out", str(tmp_path / "auto")]) == 0
    assert "chosen: --horizon 5, --window 23" in capsys.readouterr().out
    config = json.loads((tmp_path / "auto" / "config.json").read_text())
    assert (config["window"], config["horizon"]) == (23, 5)
    assert run_cli([*argv, "--window", "96", "--horizon", "24", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at most --window 46 fits with this --horizon" in err, err
    assert "(--split train part; the parts have 70, 10, 20 rows)" in err
    argv += ["--horizon", "24"]
    assert run_cli([*argv, "--window", "40", "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert "the part has 10 rows, fewer than --horizon 24" in err and "valid part" in err, err
    # a run scores a file only if it holds one window
    out = tmp_path / "r"
    assert run_cli([*argv[:-2], "--window", "8", "--horizon", "2", "--out", str(out)]) == 0
    short = tmp_path / "short.csv"
    short.write_text("".join(series.read_text().splitlines(keepends=True)[:10]))  # 9 rows
    capsys.readouterr()
    assert run_cli(["evaluate", str(out), "--data", str(short)]) == 2
    err = capsys.readouterr().err
    assert "short.csv: 9 rows, scoring the run needs at least 10 (--window 8 + --horizon 2)" in err


def test_a_short_series_gets_epochs_and_patience_for_min_updates(tmp_path: Path) -> None:
    """Nile's 100 years make two updates an epoch: 200 epochs with patience 30 kept the first
    epoch (the naive forecast, validation MSE 0.66); grown to 3000 updates, 0.35. Recipes and
    a given --epochs keep their own."""
    from rnnkit.tasks.budget import sized_budget

    series = tmp_path / "nile.csv"
    years = np.arange(1871, 1971)
    series.write_text("year,volume\n" + "".join(f"{y},{1000 + y % 7}\n" for y in years))
    config = make_config(TASK, {"series": str(series)})
    assert config["sized_by_data"] == ["epochs", "patience"]
    prepared = TASK.prepare(config, None)
    assert sized_budget(config, len(prepared.train)) == {"epochs": 1500, "patience": 250}
    given = make_config(TASK, {"series": str(series), "epochs": 50})
    assert given["sized_by_data"] == ["patience"]
    for recipe in RECIPES.values():  # each gives its own budget: their results stand
        assert {"epochs", "patience"} <= set(recipe.options), recipe.name


def test_a_window_made_a_season_long_says_so_when_it_does_not_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--season 80 on 100 rows: the error blamed a --window the user never gave."""
    series = tmp_path / "s.csv"
    series.write_text("year,v\n" + "".join(f"{1871 + i},{i % 7}\n" for i in range(100)))
    argv = ["train", "forecast", "--series", str(series), "--season", "80", *TINY]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    assert "--window not given: as long as --season" in capsys.readouterr().err
