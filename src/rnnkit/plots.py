"""PNG pictures of training and of what a recurrent network does inside.

Every function draws on its own :class:`matplotlib.figure.Figure` rendered by the Agg canvas —
no ``pyplot``, so no global state, no display needed and no backend chosen for the user — and
writes the file atomically (a temporary file in the same directory, then ``os.replace``),
creating the parent directories. Each returns the path it wrote.

* :func:`plot_curves` — loss and metrics per epoch (from ``History.rows`` or a run's log).
* :func:`plot_gradient_through_time` — ``‖∂L/∂h_t‖`` against t, one line per model.
* :func:`plot_gates` — one heatmap per gate (time × unit) for one example.
* :func:`plot_attention` — the attention weights of one seq2seq translation.

The measurements come from :mod:`rnnkit.inspect`.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor

PathLike = str | os.PathLike


def save_figure(fig: Figure, path: PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically, creating parent directories."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    try:
        with os.fdopen(handle, "wb") as file:
            fig.savefig(file, format="png", dpi=dpi)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a picture is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _numpy(values: Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=float)


# ------------------------------------------------------------------ training curves
NOT_METRICS = ("epoch", "lr", "time", "examples_per_s", "tokens_per_s")
"""Row keys that :func:`plot_curves` never draws as metrics unless asked to."""


def _number(value: object) -> float | None:
    """``value`` as a float if it is a number or a string holding one (``log.csv`` cells)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _series(rows: Sequence[Mapping[str, object]], key: str) -> tuple[list[float], list[float]]:
    """The epochs at which ``key`` has a finite number, and those numbers; the epoch is the
    row's ``"epoch"`` if present, else its position 1, 2, …"""
    xs, ys = [], []
    for i, row in enumerate(rows):
        y = _number(row.get(key))
        if y is not None and math.isfinite(y):
            x = _number(row.get("epoch"))
            xs.append(x if x is not None else float(i + 1))
            ys.append(y)
    return xs, ys


MARKED_EPOCHS = 60  # curves of up to this many epochs mark each one


def plot_curves(
    rows: Sequence[Mapping[str, object]],
    path: PathLike,
    metrics: Sequence[str] | None = None,
    kept_epoch: int | None = None,
) -> Path:
    """Loss and metric curves against the epoch.

    ``rows`` are per-epoch dicts: ``History.rows``, or ``RunDir.read_log()`` (strings are
    parsed). Keys containing ``"loss"`` (``train_loss``, ``valid_loss`` …) are drawn on the left
    axis; the ``metrics`` (default: every other numeric key but ``epoch``, ``lr`` and the
    timings of :data:`NOT_METRICS`) dashed on a right axis, logarithmic where they span more
    than a factor of 100. ``kept_epoch`` (the one whose weights a run kept) is marked by a
    vertical line. Each epoch gets a marker up to :data:`MARKED_EPOCHS` epochs; the legend
    sits below the axes, where it hides no curve.
    """
    if not rows:
        raise ValueError("plot_curves needs at least one row")
    keys = [k for k in dict.fromkeys(k for row in rows for k in row) if _series(rows, k)[0]]
    losses = [k for k in keys if "loss" in k]
    if metrics is None:
        metrics = [k for k in keys if k not in losses and k not in NOT_METRICS]
    fig = Figure(figsize=(7, 5))
    ax = fig.add_subplot()
    lines = []
    marked = len(rows) <= MARKED_EPOCHS  # thousands of markers are a smear
    for key in losses:
        lines += ax.plot(*_series(rows, key), marker="o" if marked else None, markersize=3,
                         label=key)  # fmt: skip
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    title = "Training curves: loss (left axis, solid)"
    if metrics:
        right = ax.twinx()
        colors = ["tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive"]
        for i, key in enumerate(metrics):
            lines += right.plot(*_series(rows, key), linestyle="--",
                                marker="s" if marked else None, markersize=3,
                                color=colors[i % len(colors)], label=key)  # fmt: skip
        right.set_ylabel(", ".join(metrics) if len(metrics) <= 2 else "metrics")
        values = [v for key in metrics for v in _series(rows, key)[1]]
        if values and min(values) > 0 and max(values) > 100 * min(values):
            right.set_yscale("log")  # e.g. errors in standardised and in original units
        title += ", metrics (right axis, dashed)"
    if kept_epoch is not None:
        lines.append(ax.axvline(kept_epoch, color="gray", linestyle=":", linewidth=1.5,
                                label=f"kept epoch {kept_epoch}"))  # fmt: skip
    if lines:  # below the axes: inside, at an accuracy of 1.0, it hid the curves
        ax.legend(lines, [line.get_label() for line in lines], loc="upper center",
                  bbox_to_anchor=(0.5, -0.13), ncol=min(len(lines), 4), fontsize="small",
                  frameon=False)  # fmt: skip
    ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, path)


# ------------------------------------------------------------------ gradient through time
def plot_gradient_through_time(
    curves: Mapping[str, Tensor | np.ndarray | Sequence[float]],
    path: PathLike,
    log_scale: bool = True,
) -> Path:
    """One line per model of ``‖∂L/∂h_t‖`` against t (from
    :func:`rnnkit.inspect.gradient_through_time`), the loss being at the last step; a log
    y axis by default, on which exponential vanishing is a straight falling line. Values that
    are not positive (underflow) are left out of a log plot."""
    if not curves:
        raise ValueError("plot_gradient_through_time needs at least one curve")
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for label, values in curves.items():
        y = _numpy(values)
        if log_scale:
            y = np.where(y > 0, y, np.nan)
        ax.plot(np.arange(len(y)), y, label=label, linewidth=1.8)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("time step t  (the loss is at the last step)")
    ax.set_ylabel("‖∂L/∂h_t‖" + ("  (log scale)" if log_scale else ""))
    ax.set_title("How much gradient reaches each step: ‖∂L/∂h_t‖ for a loss at the last step")
    ax.title.set_fontsize("medium")
    ax.grid(alpha=0.3, which="both" if not log_scale else "major")
    ax.legend(loc="best")
    fig.tight_layout()
    return save_figure(fig, path)


# ------------------------------------------------------------------ heatmaps
def _integer_ticks(ax) -> None:
    """Whole-number ticks on both axes: steps, units and positions are not fractional."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def plot_gates(activations: Mapping[str, Tensor | np.ndarray], path: PathLike) -> Path:
    """One heatmap per entry of ``activations`` (from :func:`rnnkit.inspect.gate_activations`,
    each ``(T, H)``): time on x, hidden unit on y, with a colour bar. Gates are drawn on their
    range [0, 1], the other values on [-1, 1] (tanh range) or their own range if wider."""
    if not activations:
        raise ValueError("plot_gates needs at least one activation")
    names = list(activations)
    cols = 2 if len(names) > 1 else 1
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(6 * cols, 2.8 * rows + 0.6))
    for i, name in enumerate(names):
        values = _numpy(activations[name])  # (T, H)
        ax = fig.add_subplot(rows, cols, i + 1)
        if name.endswith("gate"):
            vmin, vmax, cmap, label = 0.0, 1.0, "viridis", "0 = closed, 1 = open"
        else:
            bound = max(1.0, float(np.abs(values).max()) if values.size else 1.0)
            vmin, vmax, cmap, label = -bound, bound, "RdBu_r", "value"
        image = ax.imshow(values.T, aspect="auto", origin="lower", interpolation="nearest",
                          cmap=cmap, vmin=vmin, vmax=vmax)  # fmt: skip
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("time step t")
        ax.set_ylabel("hidden unit")
        _integer_ticks(ax)
        fig.colorbar(image, ax=ax, label=label)
    fig.suptitle("Gate activations and states for one example (time →, unit ↑)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_attention(
    weights: Tensor | np.ndarray,
    path: PathLike,
    source_tokens: Sequence[str] | None = None,
    target_tokens: Sequence[str] | None = None,
) -> Path:
    """The attention weights of one example, ``(T_tgt, S)`` (one row of
    ``Seq2Seq.greedy_decode``'s ``(B, T, S)``): source positions on x, target steps on y
    (top to bottom, the order they were produced), each row summing to 1."""
    values = _numpy(weights)
    if values.ndim != 2:
        raise ValueError(f"weights must have shape (T_tgt, S), got {values.shape}")
    T, S = values.shape
    for name, tokens, size in (("source_tokens", source_tokens, S),
                               ("target_tokens", target_tokens, T)):  # fmt: skip
        if tokens is not None and len(tokens) != size:
            raise ValueError(f"{name} has {len(tokens)} entries, weights need {size}")
    fig = Figure(figsize=(min(12, 2 + 0.45 * S), min(10, 1.8 + 0.4 * T)))
    ax = fig.add_subplot()
    # 0 … the largest weight: an untrained model's near-uniform attention stays visible
    top = float(values.max()) if values.size and values.max() > 0 else 1.0
    image = ax.imshow(values, aspect="auto", cmap="Greys", vmin=0.0, vmax=top,
                      interpolation="nearest")  # fmt: skip
    _integer_ticks(ax)
    if source_tokens is not None:
        ax.set_xticks(range(S), list(source_tokens), rotation=60, ha="right")
    if target_tokens is not None:
        ax.set_yticks(range(T), list(target_tokens))
    ax.set_xlabel("source position" if source_tokens is None else "source token")
    ax.set_ylabel("output step" if target_tokens is None else "output token")
    ax.set_title("Attention: where each output step looks in the source")
    ax.title.set_fontsize("medium")
    fig.colorbar(image, ax=ax, label="attention weight (each row sums to 1)")
    fig.tight_layout()
    return save_figure(fig, path)


# ------------------------------------------------------------------ forecasts
def plot_forecast(
    history: np.ndarray,
    truth: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    path: PathLike,
    title: str | None = None,
) -> Path:
    """One series' past, what came next and each forecast of it.

    ``history`` ``(T,)`` is drawn at steps ``0 … T-1``; ``truth`` and every forecast
    ``(horizon,)`` at ``T … T+horizon-1``, each forecast in its own colour, with a dotted
    vertical line where the forecast starts. ``(n, 1)`` arrays are taken as ``(n,)``.
    """
    if not forecasts:
        raise ValueError("plot_forecast needs at least one forecast")

    def series(name: str, values: np.ndarray) -> np.ndarray:
        y = _numpy(values)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"{name} must be one series (n,), got shape {y.shape}")
        return y

    past = series("history", history)
    future = series("truth", truth)
    start = len(past)
    steps = np.arange(start, start + len(future))
    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    ax.plot(np.arange(start), past, color="0.45", linewidth=1.4, label="history")
    # the truth continues from the last observed point, so the line does not break
    ax.plot(np.r_[start - 1, steps] if start else steps,
            np.r_[past[-1:], future] if start else future,
            color="black", linewidth=1.8, label="truth")  # fmt: skip
    colors = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown",
              "tab:pink", "tab:olive", "tab:cyan"]  # fmt: skip
    for i, (label, values) in enumerate(forecasts.items()):
        y = series(f"forecast {label!r}", values)
        if len(y) != len(future):
            raise ValueError(f"forecast {label!r} has {len(y)} steps, truth has {len(future)}")
        ax.plot(steps, y, color=colors[i % len(colors)], linewidth=1.6, linestyle="--",
                marker="o" if len(y) <= 40 else None, markersize=3, label=label)  # fmt: skip
    ax.axvline(start - 0.5, color="0.3", linestyle=":", linewidth=1.2)
    ax.annotate("forecast start", xy=(start - 0.5, 1.0), xycoords=("data", "axes fraction"),
                xytext=(4, -12), textcoords="offset points", fontsize="small",
                color="0.3")  # fmt: skip
    ax.set_xlabel("time step")
    ax.set_ylabel("value")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    ax.set_title(title or "Forecast against the truth", fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, path)


# ------------------------------------------------------------------ image grid
def plot_image_grid(
    images: Tensor | np.ndarray,
    path: PathLike,
    columns: int | None = None,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Images ``(N, H, W)`` of values in ``[0, 1]`` as one grid, ink dark on white.

    The images fill the grid row by row, ``columns`` a row (default: about a square); a
    ``row_labels[i]`` is written left of grid row ``i`` (e.g. the digit a row was asked for).
    """
    pixels = _numpy(images)
    if pixels.ndim != 3 or pixels.shape[0] < 1:
        raise ValueError(f"images must be (N, H, W) with N >= 1, got shape {pixels.shape}")
    n, height, width = pixels.shape
    columns = columns or math.ceil(math.sqrt(n))
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    rows = math.ceil(n / columns)
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for a grid of {rows} rows")
    gap = 2  # white pixels between the images
    mosaic = np.zeros((rows * (height + gap) - gap, columns * (width + gap) - gap))
    for i in range(n):
        top, left = (i // columns) * (height + gap), (i % columns) * (width + gap)
        mosaic[top : top + height, left : left + width] = pixels[i]
    scale = 0.5 * max(max(height, width) / 28, 1.0)  # inches an image: 0.5 for MNIST
    fig = Figure(figsize=(max(columns * scale + 0.6, 2.5), max(rows * scale + 0.4, 1.5)))
    ax = fig.add_subplot()
    ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    if row_labels is not None:
        ax.set_yticks([r * (height + gap) + height / 2 for r in range(rows)])
        ax.set_yticklabels(list(row_labels))
        ax.tick_params(axis="y", length=0)
    else:
        ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, path)
