"""The matrix products of the engines, on the fastest kernel this machine has.

On x86 CPUs PyTorch's ``torch.mm`` calls MKL, whose float32 GEMM can run well below the CPU's
peak (on AMD processors it takes an AVX2 path even where AVX-512 is available); oneDNN, which
torch.nn's fused LSTM uses, reaches the peak. ``torch.ops.mkldnn._linear_pointwise`` gives us
oneDNN's GEMM; it is an internal operator, so we use it only for float32 on CPU, only where
it exists, and fall back to ``torch.mm`` everywhere else. ``RNNKIT_MATMUL=torch`` forces the
fallback (the tests run both).
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from rnnkit.cells import fused


def _onednn_linear():
    if os.environ.get("RNNKIT_MATMUL", "auto") == "torch":
        return None
    try:
        if not torch.backends.mkldnn.is_available():
            return None
        op = torch.ops.mkldnn._linear_pointwise
        probe = op(torch.ones(2, 3), torch.ones(4, 3), None, "none", [], "")
        op.binary(torch.ones(2, 3), torch.ones(2, 4), torch.ones(4, 3), None, "add")
    except (AttributeError, RuntimeError):
        return None
    return op if probe.shape == (2, 4) and bool((probe == 3).all()) else None


_LINEAR = _onednn_linear()


def onednn_available() -> bool:
    """Whether the products run on oneDNN's GEMM (else on ``torch.mm``)."""
    return _LINEAR is not None


# oneDNN's operator costs ~20 µs a call more than torch.addmm; below this many multiply-adds
# (about B=32, H=128 for an LSTM step) that outweighs its faster arithmetic.
_MIN_WORK = 2_500_000


def _fast(a: Tensor, b: Tensor, work: int) -> bool:
    return (
        _LINEAR is not None
        and work >= _MIN_WORK
        and a.dtype == b.dtype == torch.float32
        and a.device.type == b.device.type == "cpu"
    )


def linear(x: Tensor, weight: Tensor, add: Tensor | None = None) -> Tensor:
    """``x @ weightᵀ (+ add)``: ``x (M, K)``, ``weight (N, K)``, ``add (M, N)`` or ``(N,)``."""
    if _fast(x, weight, x.shape[0] * x.shape[1] * weight.shape[0]):
        if add is None:
            return _LINEAR(x, weight, None, "none", [], "")
        if add.dim() == 1:
            return _LINEAR(x, weight, add, "none", [], "")
        return _LINEAR.binary(x, add, weight, None, "add")
    if add is None:
        return x.mm(weight.t())
    return torch.addmm(add, x, weight.t())


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` for the backward's products: ``a (M, K)``, ``b (K, N)`` (either may be a
    transposed view)."""
    if _fast(a, b, a.shape[0] * a.shape[1] * b.shape[1]):
        return _LINEAR(a, b.t(), None, "none", [], "")
    return a.mm(b)


# Above this many multiply-adds the weight gradients come from the compiled blocked product
# (weight_grads.c), which reads δa and the inputs as they lie in memory: measured 1.04-1.4x
# faster than oneDNN's product (with the inputs transposed for it) for T·B = 6400 from
# H = I = 256, and slower at small sizes (0.5-0.9x at I = 28, H = 128), where packing the
# operands costs more.
_BLOCKED_WORK = 1 << 30


def _blocked(grad: Tensor, inputs: list[Tensor], work: int) -> bool:
    return (
        work >= _BLOCKED_WORK
        and len(inputs) <= 2
        and fused.usable(grad, *inputs)
        and all(t.is_contiguous() for t in (grad, *inputs))
    )


def weight_grad(grad: Tensor, inputs: Tensor) -> Tensor:
    """``gradᵀ @ inputs`` over all T·B rows: the gradient of a weight, ``(N, K)``, from
    ``grad (M, N)`` and ``inputs (M, K)``."""
    return weight_grads(grad, [inputs])[0]


def weight_grads(grad: Tensor, inputs: list[Tensor]) -> list[Tensor]:
    """``gradᵀ @ inputs[i]`` for each ``inputs[i] (M, K_i)``: the gradients of the weights
    that share one pre-activation (an LSTM's ``W_ih`` and ``W_hh``), ``(N, K_i)`` each.

    They come from one product over the inputs side by side, ``gradᵀ [x | h]``: ``grad``, the
    largest array of a backward, is then read from memory once rather than once a weight, and
    a narrow input (small ``I``) no longer makes a product of its own that is too thin to run
    at full speed.
    """
    widths = [t.shape[1] for t in inputs]
    rows, total = grad.shape[0], sum(widths)
    if _blocked(grad, inputs, rows * grad.shape[1] * total):
        return fused.weight_grads(grad, *inputs, *([None] * (2 - len(inputs))))
    if _fast(grad, inputs[0], grad.shape[0] * grad.shape[1] * total):
        # oneDNN is fastest with both operands' long (M) dimension contiguous in memory; it
        # copies a transposed `inputs` itself, but on one thread (the compiled one is faster).
        if fused.usable(*inputs) and all(t.is_contiguous() for t in inputs):
            stacked = grad.new_empty(total, rows)  # [x | h]ᵀ
            for block, t in zip(stacked.split(widths), inputs, strict=True):
                fused.transposed(t, out=block)
            product = _LINEAR(stacked, grad.t(), None, "none", [], "")  # (ΣK, N)
            return [fused.transposed(block) for block in product.split(widths)]
        stacked = torch.cat(inputs, 1) if len(inputs) > 1 else inputs[0]
        product = _LINEAR(stacked.t(), grad.t(), None, "none", [], "")
        return [block.t().contiguous() for block in product.split(widths)]
    stacked = torch.cat(inputs, 1) if len(inputs) > 1 else inputs[0]
    product = grad.t().mm(stacked)
    if len(inputs) == 1:
        return [product]
    return [block.contiguous() for block in product.split(widths, 1)]
