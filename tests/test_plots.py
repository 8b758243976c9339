"""Tests of :mod:`rnnkit.inspect` (gradient through time, gate activations) and of the PNG
pictures of :mod:`rnnkit.plots`, each opened as an image and checked for content."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from torch import nn

from rnnkit import GRU, LSTM, RNN, SequenceClassifier
from rnnkit.inspect import compare_gradient_flow, gate_activations, gradient_through_time
from rnnkit.plots import plot_attention, plot_curves, plot_gates, plot_gradient_through_time

LAYERS = {
    "rnn_tanh": lambda: RNN(3, 5, num_layers=2),
    "rnn_relu": lambda: RNN(3, 5, nonlinearity="relu"),
    "lstm": lambda: LSTM(3, 5, num_layers=2),
    "lstm_peephole": lambda: LSTM(3, 5, peephole=True),
    "gru": lambda: GRU(3, 5, num_layers=2),
}


def stepped_gradients(layer, x: torch.Tensor) -> torch.Tensor:
    """Reference: run the layer one step at a time, keep every top-layer h_t, loss = Σ h_{T-1}."""
    B, T, _ = x.shape
    zeros = torch.zeros(layer.num_layers, B, layer.hidden_size)
    state = (zeros, zeros) if layer.cell_name == "lstm" else zeros
    kept = []
    for t in range(T):
        _, state = layer(x[:, t : t + 1], state=state)
        h = state[0] if layer.cell_name == "lstm" else state
        h.retain_grad()
        kept.append(h)
    kept[-1][-1].sum().backward()
    return torch.stack([h.grad[-1].norm(dim=1).mean() for h in kept])


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradient_through_time_equals_stepped_reference(name, one_thread):
    torch.manual_seed(0)
    layer = LAYERS[name]()
    x = torch.randn(4, 7, 3)
    measured = gradient_through_time(layer, x)
    assert measured.shape == (7,)
    assert all(p.grad is None for p in layer.parameters())  # a measurement, not a training step
    torch.testing.assert_close(measured, stepped_gradients(layer, x), atol=1e-6, rtol=1e-5)
    # the last step gets ∂(Σ h)/∂h = ones: norm √H; earlier steps get something, not nothing
    assert measured[-1].item() == pytest.approx(math.sqrt(5))
    assert (measured[:-1] > 0).all()


def test_gradient_through_time_of_a_model_measures_its_layer(one_thread):
    torch.manual_seed(1)
    model = SequenceClassifier(3, input_size=4, cell="gru", hidden_size=6)
    x = torch.randn(2, 9, 4)
    found = [m for m in model.modules() if isinstance(m, GRU)]
    assert len(found) == 1
    layer = found[0]
    captured = []
    handle = layer.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
    with torch.no_grad():
        model(x)
    handle.remove()
    expected = gradient_through_time(layer, captured[0])
    torch.testing.assert_close(gradient_through_time(model, x), expected)


def test_gradient_through_time_time_major_and_custom_loss(one_thread):
    torch.manual_seed(2)
    layer = LSTM(3, 5, batch_first=False)
    x = torch.randn(6, 2, 3)  # (T, B, I)
    target = torch.randn(2, 5)

    def loss(h):
        return 0.5 * ((h - target) ** 2).sum()

    measured = gradient_through_time(layer, x, loss)
    with torch.no_grad():
        _, (h_n, _) = layer(x)
    assert measured.shape == (6,)
    expected_last = (h_n[-1] - target).norm(dim=1).mean()
    torch.testing.assert_close(measured[-1], expected_last)


def test_gradient_through_time_refuses_what_it_cannot_measure():
    with pytest.raises(ValueError, match="unidirectional"):
        gradient_through_time(GRU(3, 4, bidirectional=True), torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="no rnnkit"):
        gradient_through_time(nn.Linear(3, 3), torch.randn(2, 5, 3))


def test_rnn_gradient_vanishes_far_faster_than_lstm_and_gru(one_thread):
    curves = compare_gradient_flow(steps=60, hidden_size=32)
    assert list(curves) == ["RNN", "LSTM", "GRU"]
    decay = {name: (c[0] / c[-1]).item() for name, c in curves.items()}
    assert all(c.shape == (60,) for c in curves.values())
    assert decay["RNN"] < 1e-4 * decay["LSTM"]
    assert decay["RNN"] < 1e-4 * decay["GRU"]
    assert decay["RNN"] > 0  # float64: measured, not underflowed


@pytest.mark.parametrize("name", list(LAYERS))
def test_gate_activations_reproduce_the_layer_output(name, one_thread):
    torch.manual_seed(3)
    layer = LAYERS[name]()
    if layer.num_layers > 1:  # the gates are the first layer's: compare with a 1-layer twin
        twin = type(layer)(3, 5)
        twin.load_state_dict({k: v for k, v in layer.state_dict().items() if k.endswith("l0")})
        layer = twin
    x = torch.randn(8, 3)
    gates = gate_activations(layer, x)
    expected = {
        "rnn": ["hidden"],
        "lstm": ["input_gate", "forget_gate", "candidate", "output_gate", "cell", "hidden"],
        "gru": ["reset_gate", "update_gate", "candidate", "hidden"],
    }[layer.cell_name]
    assert list(gates) == expected
    assert all(v.shape == (8, 5) for v in gates.values())
    for key, value in gates.items():
        if key.endswith("gate"):
            assert ((value > 0) & (value < 1)).all()
    with torch.no_grad():
        out, _ = layer(x.unsqueeze(0))
    torch.testing.assert_close(gates["hidden"], out[0], atol=1e-5, rtol=0)


def test_gate_activations_of_a_peephole_lstm_depend_on_the_peepholes(one_thread):
    torch.manual_seed(4)
    layer = LSTM(3, 5, peephole=True)
    x = torch.randn(6, 3)
    before = gate_activations(layer, x)
    with torch.no_grad():
        layer.weight_peephole_l0.add_(2.0)
    after = gate_activations(layer, x)
    out, _ = layer(x.unsqueeze(0))
    torch.testing.assert_close(after["hidden"], out[0].detach(), atol=1e-5, rtol=0)
    assert not torch.allclose(before["forget_gate"][1:], after["forget_gate"][1:])


def test_gate_activations_reject_a_batch():
    with pytest.raises(ValueError, match=r"\(T, I\)"):
        gate_activations(GRU(3, 4), torch.randn(2, 5, 3))


# ------------------------------------------------------------------ pictures
def check_png(path: Path, size: tuple[float, float], dpi: int = 100) -> np.ndarray:
    """Open the PNG, check its size is ``size`` inches at ``dpi`` (±15 %) and that it is not one
    flat colour; no temporary file is left beside it."""
    assert path.is_file()
    image = imread(path)
    height, width = image.shape[:2]
    assert width == pytest.approx(size[0] * dpi, rel=0.15)
    assert height == pytest.approx(size[1] * dpi, rel=0.15)
    assert image[..., :3].std() > 0.05
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    return image


ROWS = [
    {"epoch": e, "train_loss": 2 * math.exp(-e / 4), "valid_loss": 2 * math.exp(-e / 5) + 0.2,
     "valid_accuracy": 1 - 0.8 * math.exp(-e / 3), "lr": 1e-3, "time": 0.5}
    for e in range(1, 11)
]  # fmt: skip


def test_plot_curves(tmp_path):
    path = plot_curves(ROWS, tmp_path / "plots" / "curves.png")
    assert path == tmp_path / "plots" / "curves.png"
    check_png(path, (7, 5))


def test_plot_curves_from_a_log_of_strings_matches_the_numbers(tmp_path):
    as_strings = [{k: str(v) for k, v in row.items()} for row in ROWS]
    a = check_png(plot_curves(ROWS, tmp_path / "a.png"), (7, 5))
    b = check_png(plot_curves(as_strings, tmp_path / "b.png"), (7, 5))
    np.testing.assert_array_equal(a, b)
    c = check_png(plot_curves(ROWS, tmp_path / "c.png", metrics=[]), (7, 5))
    assert not np.array_equal(a, c)  # without the metric axis the picture differs
    with pytest.raises(ValueError):
        plot_curves([], tmp_path / "d.png")


def test_the_kept_epoch_is_marked_and_long_runs_lose_their_markers(tmp_path, monkeypatch):
    import rnnkit.plots as plots

    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig) or path)
    plot_curves(ROWS, tmp_path / "short.png", kept_epoch=7)
    long_rows = [{**ROWS[0], "epoch": e} for e in range(1, 201)]
    plot_curves(long_rows, tmp_path / "long.png")
    short, long = (fig.axes[0] for fig in figures)
    assert [t.get_text() for t in short.get_legend().get_texts()][-1] == "kept epoch 7"
    assert short.lines[0].get_marker() == "o" and long.lines[0].get_marker() in (None, "None")


def test_metrics_of_very_different_sizes_share_a_logarithmic_axis(tmp_path, monkeypatch):
    """A forecast's errors in standardised units (about 0.1) and in original units (about
    500): on a linear axis the first were a flat line at 0."""
    import rnnkit.plots as plots

    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig) or path)
    rows = [
        {"epoch": e, "train_loss": 1 / e, "valid_mse": 0.1 / e, "valid_mse_original": 500 / e}
        for e in range(1, 6)
    ]
    plot_curves(rows, tmp_path / "forecast.png")
    plot_curves(ROWS, tmp_path / "classify.png")
    assert [figure.axes[1].get_yscale() for figure in figures] == ["log", "linear"]


def test_plot_gradient_through_time(tmp_path):
    curves = {"RNN": torch.logspace(-20, 0, 30), "LSTM": torch.logspace(-6, 0, 30)}
    curves["GRU"] = np.concatenate([[0.0], np.logspace(-8, 0, 29)])  # an underflowed value
    check_png(plot_gradient_through_time(curves, tmp_path / "grad.png"), (7, 4.5))
    linear = plot_gradient_through_time(curves, tmp_path / "lin.png", log_scale=False)
    check_png(linear, (7, 4.5))


@pytest.mark.parametrize("name", ["lstm_peephole", "gru", "rnn_tanh"])
def test_plot_gates(tmp_path, name, one_thread):
    torch.manual_seed(5)
    gates = gate_activations(LAYERS[name](), torch.randn(12, 3))
    rows = math.ceil(len(gates) / 2)
    width = 12 if len(gates) > 1 else 6
    check_png(plot_gates(gates, tmp_path / "gates.png"), (width, 2.8 * rows + 0.6))


def test_plot_attention(tmp_path):
    logits = -((torch.arange(5.0)[:, None] - torch.arange(6.0)[None, :]) ** 2)
    weights = logits.softmax(1)  # (T_tgt=5, S=6), near-diagonal
    path = plot_attention(weights, tmp_path / "att.png", list("abcdef"), list("vwxyz"))
    check_png(path, (2 + 0.45 * 6, 1.8 + 0.4 * 5))
    check_png(plot_attention(weights.numpy(), tmp_path / "plain.png"), (4.7, 3.8))
    with pytest.raises(ValueError, match="source_tokens"):
        plot_attention(weights, tmp_path / "bad.png", source_tokens=["a"])
