"""Choosing between rnnkit's hand-written engine and torch.nn's fused kernels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from rnnkit.cells import fused, matmul

if TYPE_CHECKING:
    from rnnkit.layers import RecurrentLayer
    from rnnkit.layout import Padding

def engine_is_fast(x: Tensor) -> bool:
    """Whether rnnkit's engine runs at full speed on ``x``: float32 on the CPU, with oneDNN's
    GEMM and the compiled time loops available."""
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
    - off the CPU, in float64 or without the compiled loops: torch.nn (cuDNN on a GPU);
    - GRU and vanilla RNN: rnnkit, 1.8–4.4× torch.nn in training and 2–3.3× in inference;
    - LSTM: rnnkit when training (1.0–1.4×) and for a single sequence (B = 1 latency 1.3×);
      torch.nn's oneDNN kernel for batched inference (rnnkit 0.9–1.1× there).
    """
    if layer.backend != "auto":
        return layer.backend
    if layer.peephole:
        return "rnnkit"
    if not engine_is_fast(x):
        return "torch"
    if layer.mode != "lstm":
        return "rnnkit"
    training = torch.is_grad_enabled() and (
        x.requires_grad or any(p.requires_grad for p in layer.parameters())
    )
    return "rnnkit" if training or x.shape[1] == 1 else "torch"
