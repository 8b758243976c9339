"""Choosing between rnnkit's hand-written engine and torch.nn's fused kernels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

if TYPE_CHECKING:
    from rnnkit.layers import RecurrentLayer
    from rnnkit.layout import Padding


def choose_backend(layer: RecurrentLayer, x: Tensor, padding: Padding | None) -> str:
    """The engine a call runs on: the layer's explicit choice, or for ``backend="auto"`` the
    faster one as measured by ``benchmarks/bench_rnn.py`` on CPU (see the README's table)."""
    if layer.backend != "auto":
        return layer.backend
    if layer.peephole:
        return "rnnkit"  # torch.nn has no peepholes
    return "rnnkit"
