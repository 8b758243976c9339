"""``rnnkit export``: ONNX and TorchScript files of classify runs, loaded on their own
(onnxruntime, torch.jit.load without rnnkit) and compared with the run's PyTorch model (rnnkit's
engine) on batches of other sizes, lengths and orders; refused models and unwritable paths."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

import rnnkit.export
from rnnkit import LSTM, RNN
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import RNNCell
from rnnkit.cli import main
from rnnkit.export import TorchRecurrent, with_torch_layers
from rnnkit.structures.classifier import SequenceClassifier
from rnnkit.tasks import classify
from rnnkit.tasks.runner import load_run

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning"),
]

WORDS = ("good", "bad", "film", "plot", "very", "dull", "fine", "the")
# name: (cell, bidirectional, pooling)
RUNS = {
    "lstm": ("lstm", False, "last"),
    "lstm-bi": ("lstm", True, "mean"),
    "gru-bi": ("gru", True, "last"),
    "rnn": ("rnn", False, "max"),
}
TINY = ["--format", "text", "--hidden-size", "8", "--embedding-dim", "4", "--epochs", "2"]


def write_toy(path: Path, count: int = 24) -> Path:
    """``count`` lines "pos|neg TEXT" of 1 to 6 words (so batches have varied lengths)."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(count):
        words = rng.choice(WORDS, size=1 + i % 6)
        label = "pos" if "good" in words else "neg"
        lines.append(f"{label} {' '.join(words)}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def train(root: Path, name: str, cell: str, bidirectional: bool, pooling: str) -> Path:
    out = root / name
    argv = ["train", "classify", "--train", str(root / "train.txt"), *TINY, "--cell", cell]
    argv += ["--pooling", pooling, "--out", str(out)]
    if bidirectional:
        argv.append("--bidirectional")
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny trained classify run per entry of RUNS."""
    root = tmp_path_factory.mktemp("export")
    write_toy(root / "train.txt")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {name: train(root, name, *spec) for name, spec in RUNS.items()}
    finally:
        torch.set_num_threads(threads)


def new_batches(vocab_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches unlike the example (3 × 7): other sizes, unsorted lengths, padding, B = 1."""
    generator = torch.Generator().manual_seed(5)
    shapes = [([9, 1, 4, 7, 2, 5], 9), ([2], 2), ([12, 12, 3, 12], 12)]
    batches = []
    for lengths, steps in shapes:
        x = torch.randint(1, vocab_size, (len(lengths), steps), generator=generator)
        for row, length in enumerate(lengths):
            x[row, length:] = 0  # padding, as the task's batches have it
        batches.append((x, torch.tensor(lengths)))
    return batches


def reference(run: Path) -> tuple[torch.nn.Module, int]:
    model = load_run(str(run)).model
    return model, model.inputs.vocab_size


def export(run: Path, fmt: str, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    capsys.readouterr()
    assert run_cli(["export", str(run), "--format", fmt, *extra]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    return json.loads(out[0])


@pytest.mark.parametrize("name", RUNS)
def test_onnx_file_matches_the_model(runs, name, capsys) -> None:
    report = export(runs[name], "onnx", capsys)
    path = runs[name] / "model.onnx"
    assert report["format"] == "onnx" and report["path"] == str(path)
    assert 0 <= report["max_abs_diff"] <= 1e-4
    assert report["inputs"][0] == {"x": [3, 7], "lengths": [3]}
    assert report["inputs"][1]["x"] != [3, 7]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model, vocab_size = reference(runs[name])
    for x, lengths in new_batches(vocab_size):
        (got,) = session.run(None, {"x": x.numpy(), "lengths": lengths.numpy()})
        with torch.no_grad():
            want = model(x, lengths).numpy()
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
        # each sequence alone gives its row: padding and batch mates do not leak in
        alone = session.run(
            None, {"x": x[:1, : lengths[0]].numpy(), "lengths": lengths[:1].numpy()}
        )
        np.testing.assert_allclose(alone[0], want[:1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", RUNS)
def test_torchscript_file_matches_the_model(runs, name, capsys, tmp_path) -> None:
    path = tmp_path / "classifier.pt"
    report = export(runs[name], "torchscript", capsys, "--output", str(path))
    assert report["format"] == "torchscript" and report["path"] == str(path)
    assert report["max_abs_diff"] <= 1e-4
    assert not (runs[name] / "model.pt").exists()
    loaded = torch.jit.load(str(path))
    model, vocab_size = reference(runs[name])
    for x, lengths in new_batches(vocab_size):
        with torch.no_grad():
            torch.testing.assert_close(loaded(x, lengths), model(x, lengths), atol=1e-5, rtol=0)


def test_files_run_without_rnnkit(runs, capsys, tmp_path) -> None:
    """A fresh interpreter where ``import rnnkit`` fails runs both files."""
    run = runs["gru-bi"]
    export(run, "onnx", capsys)
    export(run, "torchscript", capsys)
    model, vocab_size = reference(run)
    x, lengths = new_batches(vocab_size)[0]
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "lengths.npy", lengths.numpy())
    script = f"""
import sys
sys.modules["rnnkit"] = None  # any import of rnnkit now raises ImportError
import json, numpy as np, onnxruntime, torch
x, lengths = np.load({str(tmp_path / "x.npy")!r}), np.load({str(tmp_path / "lengths.npy")!r})
session = onnxruntime.InferenceSession({str(run / "model.onnx")!r})
onnx_out = session.run(None, {{"x": x, "lengths": lengths}})[0]
module = torch.jit.load({str(run / "model.pt")!r})
ts_out = module(torch.from_numpy(x), torch.from_numpy(lengths)).numpy()
print(json.dumps([onnx_out.tolist(), ts_out.tolist()]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    onnx_out, ts_out = json.loads(done.stdout.strip().splitlines()[-1])
    with torch.no_grad():
        want = model(x, lengths).numpy()
    np.testing.assert_allclose(onnx_out, want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(ts_out, want, atol=1e-5, rtol=0)


def test_peephole_run_is_refused(tmp_path, monkeypatch, capsys) -> None:
    peephole = functools.partial(SequenceClassifier, peephole=True)
    monkeypatch.setattr(classify, "SequenceClassifier", peephole)
    write_toy(tmp_path / "train.txt")
    run = train(tmp_path, "peephole", "lstm", False, "last")
    assert "rnn.weight_peephole_l0" in load_run(str(run)).model.state_dict()
    capsys.readouterr()
    assert run_cli(["export", str(run), "--format", "onnx"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("rnnkit: error:") and "peephole" in err and "'rnn'" in err
    assert not (run / "model.onnx").exists()


def test_bad_output_paths(runs, tmp_path, capsys) -> None:
    run = runs["lstm"]
    for output in (tmp_path / "missing" / "m.onnx", tmp_path):
        capsys.readouterr()
        assert run_cli(["export", str(run), "--format", "onnx", "--output", str(output)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert err.startswith(f"rnnkit: error: --output {output}")
    assert run_cli(["export", str(run), "--format", "keras"]) == 2  # argparse refuses it


def test_failed_check_writes_nothing(runs, tmp_path, monkeypatch, capsys) -> None:
    """A mismatch leaves no file and no temp file behind, and the previous file as it was."""
    monkeypatch.setattr(rnnkit.export, "TOLERANCE", -1.0)  # every check now fails
    path = tmp_path / "model.pt"
    path.write_bytes(b"previous")
    capsys.readouterr()
    code = run_cli(["export", str(runs["rnn"]), "--format", "torchscript", "--output", str(path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "differ from the PyTorch model's" in err and len(err.strip().splitlines()) == 1
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


# ---------------------------------------------------------------- the twins themselves
def test_torch_twin_of_a_layer_keeps_empty_sequences_and_states() -> None:
    """The twin gives the layer's outputs and final (h, c) for lengths 0 and an initial state."""
    torch.manual_seed(0)
    layer = LSTM(3, 5, num_layers=2, bidirectional=True, backend="rnnkit").eval()
    twin = TorchRecurrent(layer)
    x, lengths = torch.randn(4, 6, 3), torch.tensor([6, 0, 2, 5])
    state = (torch.randn(4, 4, 5), torch.randn(4, 4, 5))
    with torch.no_grad():
        want_out, (want_h, want_c) = layer(x, state, lengths=lengths)
        got_out, (got_h, got_c) = twin(x, state, lengths=lengths)
    for got, want in ((got_out, want_out), (got_h, want_h), (got_c, want_c)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    rnn = RNN(3, 4, nonlinearity="relu", backend="rnnkit").eval()
    with torch.no_grad():
        torch.testing.assert_close(TorchRecurrent(rnn)(x)[0], rnn(x)[0], atol=1e-5, rtol=0)


def test_torch_twins_of_cells() -> None:
    torch.manual_seed(0)
    model = torch.nn.ModuleDict(
        {"lstm": LSTMCell(3, 4), "gru": GRUCell(3, 4), "rnn": RNNCell(3, 4, nonlinearity="relu")}
    )
    twins = with_torch_layers(model)
    assert isinstance(twins["lstm"], torch.nn.LSTMCell) and isinstance(model["lstm"], LSTMCell)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    with torch.no_grad():
        for name in ("gru", "rnn"):
            torch.testing.assert_close(twins[name](x, h), model[name](x, h))
        torch.testing.assert_close(twins["lstm"](x, (h, h)), model["lstm"](x, (h, h)))
    with pytest.raises(ValueError, match=r"'cell'.*peephole"):
        with_torch_layers(torch.nn.ModuleDict({"cell": LSTMCell(3, 4, peephole=True)}))


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_model_of_numeric_sequences(tmp_path, fmt) -> None:
    """Float features (B, T, F), two stacked GRU layers: the file matches the model."""
    torch.manual_seed(0)
    model = SequenceClassifier(3, input_size=4, cell="gru", hidden_size=6, num_layers=2).eval()
    example = (torch.randn(3, 7, 4), torch.tensor([7, 5, 3]))
    report = rnnkit.export.export_model(model, example, fmt, tmp_path / "m")
    assert report["inputs"][0] == {"x": [3, 7, 4], "lengths": [3]}
    x, lengths = torch.randn(5, 10, 4), torch.tensor([3, 10, 1, 8, 6])
    with torch.no_grad():
        want = model(x, lengths).numpy()
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(tmp_path / "m"))
        (got,) = session.run(None, {"x": x.numpy(), "lengths": lengths.numpy()})
    else:
        got = torch.jit.load(str(tmp_path / "m"))(x, lengths).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
