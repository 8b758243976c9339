"""Choosing between rnnkit's hand-written engine and torch.nn's fused kernels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from rnnkit.cells import fused, matmul

if TYPE_CHECKING:
    from rnnkit.layers import RecurrentLayer
    from rnnkit.layout import Padding

# From this many multiply-adds a step (B·H·(I+H)), rnnkit's RNN engine is faster than torch.nn's
# even without a gradient (1.3× at (64,100,256,256); 0.94× at (128,28,28,128)).
_RNN_INFERENCE_WORK = 4_000_000


def engine_is_fast(x: Tensor) -> bool:
    """Whether rnnkit's engine runs at full speed on ``x``: float32 on the CPU, with oneDNN's
    GEMM and the fused step kernels available."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and fused.usable(x)
        and matmul.onednn_available()
    )


def choose_backend(layer: RecurrentLayer, x: Tensor, padding: Padding | None) -> str:
    """The engine a call runs on: the layer's explicit choice, or for ``backend="auto"`` the
    faster one, by the ratios ``benchmarks/bench_rnn.py`` measured (the README's table):

    - peepholes: only rnnkit has them;
    - off the CPU, in float64 or without the fast paths: torch.nn (cuDNN on a GPU);
    - LSTM: torch.nn, whose oneDNN kernel is as fast or faster at every measured shape;
    - GRU: rnnkit, 1.1–1.9× torch.nn in training and inference;
    - RNN: rnnkit when training (1.1–1.7×) or for steps of B·H·(I+H) ≥ 4·10⁶ multiply-adds
      without a gradient; torch.nn for small inference calls, where its single call wins.
    """
    if layer.backend != "auto":
        return layer.backend
    if layer.peephole:
        return "rnnkit"
    if not engine_is_fast(x) or layer.mode == "lstm":
        return "torch"
    if layer.mode == "gru":
        return "rnnkit"
    training = torch.is_grad_enabled() and (
        x.requires_grad or any(p.requires_grad for p in layer.parameters())
    )
    return (
        "rnnkit" if training or x.shape[1] * layer.hidden_size >= _RNN_INFERENCE_WORK else "torch"
    )
