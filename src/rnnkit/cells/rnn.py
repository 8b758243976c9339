r"""The vanilla (Elman) RNN cell: its step equation and its backpropagation through time.

Notation (``g`` is ``tanh`` or ``relu``)::

    (1) a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh      (B, H)
    (2) h_t = g(a_t)

Backward, for one step, given δh_t (from the output and from step t+1)::

    (B2) δa_t = δh_t ⊙ g'(a_t)        g' = 1 - h_t² for tanh,  [h_t > 0] for relu
    (B1) δh_{t-1} = δa_t W_hh

g'(a_t) is read off h_t, so it is computed for all steps at once before the loop. Repeated
multiplication by W_hh (and by g' ≤ 1) in (B1) is what makes the gradient vanish or explode over
long spans — the problem LSTM and GRU were designed to fix. After the loop:
δW_hh = Σ_t δa_tᵀ h_{t-1}, δW_ih = Σ_t δa_tᵀ x_t, δb = Σ_t δa_t, δx_t = δa_t W_ih.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells import fused
from rnnkit.cells.common import (
    BatchSizes,
    cell_parameters,
    cell_state,
    check_cell_input,
    differentiable_once,
    engine_entry,
    final_states,
    init_uniform,
    input_projection,
    shared_pre_activation_grads,
    without_gc,
)
from rnnkit.cells.matmul import linear

NONLINEARITIES = ("tanh", "relu")


@without_gc
def rnn_forward(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    nonlinearity: str,
    sizes: BatchSizes,
) -> Tensor:
    """The forward loop, equations (1)–(2): returns ``hidden (T+1, B, H)`` (index 0 is the
    initial state), which is also all the backward needs."""
    T, B, _ = x.shape
    H = weight_hh.shape[1]
    bias = None if bias_ih is None else bias_ih + bias_hh
    gates_x = input_projection(x, weight_ih, bias)  # (1) input half, all steps at once
    store = torch.zeros if sizes.variable else torch.empty
    hidden = store(T + 1, B, H, dtype=x.dtype, device=x.device)
    hidden[0] = h0
    if fused.usable(x):  # the whole loop in compiled code (rnn_loops.c)
        relu = nonlinearity == "relu"
        fused.rnn_forward_loop(gates_x, weight_hh.contiguous(), relu, sizes, hidden)
        return hidden
    for t in range(T):
        b = sizes[t]
        pre = linear(hidden[t, :b], weight_hh, add=gates_x[t, :b])  # (1)
        if nonlinearity == "tanh":
            torch.tanh(pre, out=hidden[t + 1, :b])  # (2)
        else:
            torch.clamp(pre, min=0, out=hidden[t + 1, :b])  # (2) relu
    return hidden


@without_gc
def rnn_backward(weight_hh, hidden, sizes, nonlinearity, grad_y, grad_h_n):
    """The backward loop, equations (B2)–(B1), with PyTorch operations: returns δa for every
    step ``(T, B, H)`` and δh_0."""
    T, B = grad_y.shape[:2]
    h = hidden[1:]
    # g'(a_t) for all steps at once (B2); becomes δa_t in place in the loop.
    if nonlinearity == "tanh":
        grad_pre = 1 - h * h
        if sizes.variable:  # rows past a sequence's end hold h = 0, where 1 - h² is not 0
            grad_pre.mul_(sizes.mask(h.device))
    else:
        grad_pre = (h > 0).to(h.dtype)
    weight_hh_t = weight_hh.t().contiguous()  # (H, H): δh_{t-1} = δa_t W_hh
    b = sizes[T - 1]
    dh = grad_h_n[:b] + grad_y[T - 1, :b]  # δh_t of the b sequences still running at t
    for t in range(T - 1, -1, -1):
        b = sizes[t]
        da = grad_pre[t, :b].mul_(dh)  # (B2)
        grad_out = grad_y[t - 1, :b] if t > 0 else None  # δh_{t-1} also gets δy_{t-1}
        dh = linear(da, weight_hh_t, add=grad_out)  # (B1)
        rows = sizes[t - 1] if t > 0 else B
        dh = sizes.grow(dh, rows, grad_h_n, grad_y[t - 1] if t > 0 else None)
    return grad_pre, dh


class RNNFunction(torch.autograd.Function):
    """One layer, one direction of a vanilla RNN over a whole (time-major) sequence.

    Arguments of ``apply``: ``x (T, B, I)``, ``h0 (B, H)``, ``weight_ih (H, I)``,
    ``weight_hh (H, H)``, ``bias_ih (H) | None``, ``bias_hh (H) | None``, ``nonlinearity``
    (``"tanh"`` or ``"relu"``), ``batch_sizes`` (see :class:`rnnkit.cells.lstm.LSTMFunction`).
    Returns ``y (T, B, H)`` and ``h_n (B, H)``.
    """

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity, batch_sizes):
        sizes = BatchSizes(batch_sizes, x.shape[0], x.shape[1])
        hidden = rnn_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity, sizes)
        ctx.sizes = sizes
        ctx.has_bias = bias_ih is not None
        ctx.nonlinearity = nonlinearity
        ctx.save_for_backward(x, weight_ih, weight_hh, hidden)
        (h_n,) = final_states(sizes, hidden)
        # y as a tensor of its own: torch.nn's RNN output may be changed in place (an
        # in-place dropout or ReLU after it), which autograd refuses for a Function's view
        return hidden[1:].clone(), h_n

    @staticmethod
    @differentiable_once
    def backward(ctx, grad_y, grad_h_n):
        x, weight_ih, weight_hh, hidden = ctx.saved_tensors
        sizes: BatchSizes = ctx.sizes
        T, B, H = grad_y.shape
        if fused.usable(hidden):  # the whole loop in compiled code (rnn_loops.c)
            new = hidden.new_zeros if sizes.variable else hidden.new_empty
            grad_pre, dh = new(T, B, H), grad_h_n.contiguous().clone()
            relu = ctx.nonlinearity == "relu"
            grad_bias = fused.rnn_backward_loop(
                weight_hh.contiguous(), relu, hidden, sizes, grad_y.contiguous(), dh, grad_pre
            )
        else:
            nonlinearity = ctx.nonlinearity
            grad_pre, dh = rnn_backward(weight_hh, hidden, sizes, nonlinearity, grad_y, grad_h_n)
            grad_bias = grad_pre.sum((0, 1))

        need = ctx.needs_input_grad
        grad_x, grad_w_ih, grad_w_hh = shared_pre_activation_grads(
            grad_pre.view(T * B, H), x, hidden[:-1].view(T * B, H), weight_ih,
            (need[0], need[2], need[3]),
        )  # fmt: skip
        grad_b_ih = grad_bias if ctx.has_bias and need[4] else None
        grad_b_hh = grad_bias if ctx.has_bias and need[5] else None
        return grad_x, dh, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, None, None


def check_nonlinearity(nonlinearity: str) -> None:
    """Refuse anything but the two activations the RNN cell supports."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")


@engine_entry
def rnn(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
    batch_sizes: list[int] | None = None,
) -> tuple[Tensor, Tensor]:
    """One layer, one direction over a time-major sequence (see :class:`RNNFunction` for the
    arguments), through the hand-written backward when a gradient is needed."""
    inputs = (x, h0, weight_ih, weight_hh, bias_ih, bias_hh)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
        return RNNFunction.apply(*inputs, nonlinearity, batch_sizes)
    with torch.no_grad():
        sizes = BatchSizes(batch_sizes, x.shape[0], x.shape[1])
        hidden = rnn_forward(*inputs, nonlinearity, sizes)
        (h_n,) = final_states(sizes, hidden)
        return hidden[1:], h_n


class RNNCell(nn.Module):
    r"""One vanilla RNN step, ``h_t = cell(x_t, h_{t-1})``.

    .. math::
        h' = g(W_{ih} x + b_{ih} + W_{hh} h + b_{hh}), \quad g ∈ \{\tanh, \mathrm{relu}\}

    Parameters are named and shaped as ``torch.nn.RNNCell``'s. The step runs on the same
    hand-written forward/backward as :class:`rnnkit.RNN`, with T = 1.

    Example:
        >>> cell = RNNCell(8, 16, nonlinearity="relu")
        >>> h = cell(torch.randn(4, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_nonlinearity(nonlinearity)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.nonlinearity = nonlinearity
        weights = cell_parameters(hidden_size, input_size, hidden_size, bias, device, dtype)
        self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh = weights
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/√H, 1/√H), as torch.nn."""
        init_uniform(self, self.hidden_size)

    def forward(
        self, x: Tensor, state: Tensor | None = None, *, hx: Tensor | None = None
    ) -> Tensor:
        """Advance one step: ``x (B, I)`` or ``(I,)``; returns ``h (B, H)`` (``(H,)``
        unbatched). ``state`` (or ``hx``, torch.nn's name): ``h``, zeros if not given."""
        x, unbatched = check_cell_input(x, self.input_size)
        (h0,) = cell_state(x, state, hx, 1, self.hidden_size, unbatched)
        _, h = rnn(
            x.unsqueeze(0), h0, self.weight_ih, self.weight_hh,
            self.bias_ih, self.bias_hh, self.nonlinearity,
        )  # fmt: skip
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, bias={self.bias}, "
            f"nonlinearity={self.nonlinearity!r}"
        )
