"""Choosing between rnnkit's hand-written engine and torch.nn's fused kernels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from rnnkit.cells import fused, matmul
from rnnkit.cells.common import functorch_active

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


# LSTM training is on par between the two engines (0.94–1.12× over two runs of the benchmark):
# from this many hidden values a step (B·H; 65 536 at (128,50,512,512)) torch.nn's kernel was
# ahead in both runs; below it the lead changed from run to run.
_LSTM_TRAINING_ROWS = 65_536


def choose_backend(layer: RecurrentLayer, x: Tensor, padding: Padding | None) -> str:
    """The engine a call runs on: the layer's explicit choice, or for ``backend="auto"`` the
    faster one, by the ratios ``benchmarks/bench_rnn.py`` measured (the README's table):

    - peepholes: only rnnkit has them;
    - off the CPU, in float64, under ``torch.autocast``, under a ``torch.func`` transform or
      without the compiled loops: torch.nn (cuDNN on a GPU);
    - GRU and vanilla RNN: rnnkit, 1.9–4.5× torch.nn in training and 1.9–3.4× in inference;
    - LSTM: rnnkit for a single sequence with 2 threads or more (B = 1 latency 1.4×; with
      one thread 0.7×) and for training steps of B·H < 65 536 (on par: 0.96–1.12×);
      torch.nn's oneDNN kernel for larger training steps and for batched inference (rnnkit
      0.84–1.05× there).
    """
    if layer.backend != "auto":
        return layer.backend
    if layer.peephole:
        return "rnnkit"
    if not engine_is_fast(x) or torch.is_autocast_enabled(x.device.type) or functorch_active():
        # (under autocast torch.nn runs in the lower precision asked for; torch.func's
        # transforms need PyTorch's own kernels, which have batching and forward-mode rules)
        return "torch"
    if layer.cell_name != "lstm":
        return "rnnkit"
    batch = x.shape[1]
    training = torch.is_grad_enabled() and (
        x.requires_grad or any(p.requires_grad for p in layer.parameters())
    )
    if training and batch * layer.hidden_size < _LSTM_TRAINING_ROWS:
        return "rnnkit"
    # One sequence: rnnkit 1.37x with 2 threads, but 0.71x with one, where W_hh (1 MB at
    # H = 256) no longer fits a core's L2 and streams from L3 every step (B=1, T=100, H=256)
    if batch == 1 and torch.get_num_threads() > 1:
        return "rnnkit"
    return "torch"
