r"""The GRU cell: its step equations and its backpropagation through time, written out.

Notation (PyTorch's gate order ``r, z, n``; ``σ`` is the logistic sigmoid, ``⊙`` the
element-wise product)::

    (1) a_t = W_ih x_t + b_ih,   u_t = W_hh h_{t-1} + b_hh       (B, 3H) each
    (2) r_t = σ(a_r + u_r)                                     reset gate
        z_t = σ(a_z + u_z)                                     update gate
    (3) n_t = tanh(a_n + r_t ⊙ u_n)                             candidate state
    (4) h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}  = lerp(n_t, h_{t-1}, z_t)

Backward, for one step, given δh_t (from the output and from step t+1)::

    (B4) δz_t = δh_t ⊙ (h_{t-1} - n_t)        δn_t = δh_t ⊙ (1 - z_t)
    (B3) δa_n = δn_t ⊙ (1 - n_t²)             δu_n = δa_n ⊙ r_t       δr_t = δa_n ⊙ u_n
    (B2) δa_r = δu_r = δr_t ⊙ r_t(1 - r_t)     δa_z = δu_z = δz_t ⊙ z_t(1 - z_t)
    (B1) δh_{t-1} = δh_t ⊙ z_t + δu_t W_hh

so both δu_t and δa_t are δh_t times factors that depend only on the forward pass; they are
computed for all steps at once before the loop, which is then three element-wise operations
and one matrix product a step. After the loop: δW_hh = Σ_t δu_tᵀ h_{t-1}, δb_hh = Σ_t δu_t,
δW_ih = Σ_t δa_tᵀ x_t, δb_ih = Σ_t δa_t, δx_t = δa_t W_ih.
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
    input_weight_grads,
    without_gc,
)
from rnnkit.cells.matmul import linear, weight_grad


@without_gc
def gru_forward(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    sizes: BatchSizes,
    save: bool,
) -> tuple[Tensor | None, Tensor | None, Tensor]:
    """The forward loop, equations (1)–(4): returns the gates r, z, n and the recurrent part
    u_n of every step (only if ``save``, for the backward) and ``hidden (T+1, B, H)``."""
    T, B, _ = x.shape
    H = weight_hh.shape[1]
    store = torch.zeros if sizes.variable else torch.empty
    gates_x = input_projection(x, weight_ih, bias_ih)  # (1) a_t for all t, (T, B, 3H)
    steps = T if save else 1  # the backward needs every step's gates; inference one
    gates = store(steps, B, 3 * H, dtype=x.dtype, device=x.device)  # r, z, n
    recurrent_n = store(steps, B, H, dtype=x.dtype, device=x.device)  # u_n
    hidden = store(T + 1, B, H, dtype=x.dtype, device=x.device)
    hidden[0] = h0
    if fused.usable(x):  # the whole loop in compiled code (gru_loops.c)
        bias = bias_hh.contiguous() if bias_hh is not None else x.new_zeros(3 * H)
        fused.gru_forward_loop(
            gates_x, weight_hh.contiguous(), bias, sizes, hidden,
            gates if save else None, recurrent_n if save else None,
        )  # fmt: skip
        return (gates, recurrent_n, hidden) if save else (None, None, hidden)
    # The recurrent product is added to [a_r + b_hr, a_z + b_hz, b_hn]; a_n is kept apart
    # because r_t multiplies only the recurrent part of the candidate (3).
    input_n = gates_x[:, :, 2 * H :].clone()  # a_n, (T, B, H)
    if bias_hh is None:
        gates_x[:, :, 2 * H :] = 0
    else:
        gates_x[:, :, : 2 * H] += bias_hh[: 2 * H]
        gates_x[:, :, 2 * H :] = bias_hh[2 * H :]
    for t in range(T):
        b = sizes[t]
        step = t if save else 0
        h_prev, act = hidden[t, :b], gates[step, :b]
        pre = linear(h_prev, weight_hh, add=gates_x[t, :b])  # (1) [a_r+u_r, a_z+u_z, u_n]
        reset_gate, update_gate, candidate = act.chunk(3, 1)
        torch.sigmoid(pre[:, : 2 * H], out=act[:, : 2 * H])  # (2) r and z in one call
        u_n = recurrent_n[step, :b]
        u_n.copy_(pre[:, 2 * H :])
        torch.addcmul(input_n[t, :b], reset_gate, u_n, out=candidate).tanh_()  # (3)
        torch.lerp(candidate, h_prev, update_gate, out=hidden[t + 1, :b])  # (4)
    return (gates, recurrent_n, hidden) if save else (None, None, hidden)


@without_gc
def gru_backward(weight_hh, gates, u_n, hidden, sizes, grad_y, grad_h_n):
    """The backward loop, equations (B4)–(B1), with PyTorch operations: returns δu and δa for
    every step, each ``(T, B, 3H)``, δh_0, and the bias gradients Σ δu_t (b_hh), Σ δa_t (b_ih)."""
    T, B, H = grad_y.shape
    r, z, n = gates.view(T, B, 3, H).unbind(2)
    h_prev = hidden[:-1]

    # δu_t = δh_t ⊙ [δr factor, δz factor, δu_n factor]  (B2–B4); becomes δu in the loop.
    dn_pre = (1 - z) * (1 - n * n)  # ∂a_n/∂h_t: (B4) then (B3)
    factors = torch.empty_like(gates).view(T, B, 3, H)
    torch.mul(dn_pre * u_n, r * (1 - r), out=factors[:, :, 0])
    torch.mul(h_prev - n, z * (1 - z), out=factors[:, :, 1])
    torch.mul(dn_pre, r, out=factors[:, :, 2])

    grad_gates_h = factors.view(T, B, 3 * H)
    grad_hidden = torch.zeros_like(grad_y) if sizes.variable else torch.empty_like(grad_y)
    weight_hh_t = weight_hh.t().contiguous()  # (H, 3H): δh_{t-1} gets δu_t W_hh
    b = sizes[T - 1]
    torch.add(grad_h_n[:b], grad_y[T - 1, :b], out=grad_hidden[T - 1, :b])
    for t in range(T - 1, -1, -1):
        b = sizes[t]
        dh = grad_hidden[t, :b]  # δh_t of the b sequences still running at t
        factors[t, :b].mul_(dh.unsqueeze(1))  # δu_t
        grad_out = grad_y[t - 1, :b] if t > 0 else None  # δh_{t-1} also gets δy_{t-1}
        recurrent = linear(grad_gates_h[t, :b], weight_hh_t, add=grad_out)  # δu_t W_hh
        if t == 0:
            grad_h0 = sizes.grow(torch.addcmul(recurrent, dh, z[0, :b]), B, grad_h_n)  # (B1)
            break
        torch.addcmul(recurrent, dh, z[t, :b], out=grad_hidden[t - 1, :b])  # (B1)
        rows = sizes[t - 1]
        if rows > b:  # sequences whose last step is t-1 join with their final-state grad
            torch.add(grad_h_n[b:rows], grad_y[t - 1, b:rows], out=grad_hidden[t - 1, b:rows])

    # δa_t equals δu_t except in the candidate slot, where δa_n = δu_n / r_t = δh_t ⊙ dn_pre.
    grad_gates_x = grad_gates_h.clone()
    torch.mul(grad_hidden, dn_pre, out=grad_gates_x.view(T, B, 3, H)[:, :, 2])
    return grad_gates_h, grad_gates_x, grad_h0, grad_gates_h.sum((0, 1)), grad_gates_x.sum((0, 1))


def gru_backward_fused(weight_hh, gates, u_n, hidden, sizes, grad_y, grad_h_n):
    """:func:`gru_backward` with the whole loop in compiled code (``gru_loops.c``)."""
    T, B, H = grad_y.shape
    new = gates.new_zeros if sizes.variable else gates.new_empty
    grad_gates_h, grad_gates_x = new(T, B, 3 * H), new(T, B, 3 * H)  # δu_t, δa_t
    dh = grad_h_n.clone()
    grad_b_hh, grad_b_ih = fused.gru_backward_loop(
        weight_hh.contiguous(), gates, u_n, hidden, sizes, grad_y, dh, grad_gates_h, grad_gates_x
    )
    return grad_gates_h, grad_gates_x, dh, grad_b_hh, grad_b_ih


class GRUFunction(torch.autograd.Function):
    """One layer, one direction of GRU over a whole (time-major) sequence.

    Arguments of ``apply``: ``x (T, B, I)``, ``h0 (B, H)``, ``weight_ih (3H, I)``,
    ``weight_hh (3H, H)``, ``bias_ih (3H) | None``, ``bias_hh (3H) | None``, ``batch_sizes``
    (see :class:`rnnkit.cells.lstm.LSTMFunction`). Returns ``y (T, B, H)`` and ``h_n (B, H)``.
    """

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih, bias_hh, batch_sizes):
        sizes = BatchSizes(batch_sizes, x.shape[0], x.shape[1])
        gates, recurrent_n, hidden = gru_forward(
            x, h0, weight_ih, weight_hh, bias_ih, bias_hh, sizes, save=True
        )
        ctx.sizes = sizes
        ctx.has_bias = bias_ih is not None
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, recurrent_n, hidden)
        (h_n,) = final_states(sizes, hidden)
        # y as a tensor of its own: torch.nn's GRU output may be changed in place (an
        # in-place dropout or ReLU after it), which autograd refuses for a Function's view
        return hidden[1:].clone(), h_n

    @staticmethod
    @differentiable_once
    def backward(ctx, grad_y, grad_h_n):
        x, weight_ih, weight_hh, gates, u_n, hidden = ctx.saved_tensors
        sizes: BatchSizes = ctx.sizes
        T, B, H = grad_y.shape
        grads = (grad_y.contiguous(), grad_h_n.contiguous())
        loop = gru_backward_fused if fused.usable(gates) else gru_backward
        grad_gates_h, grad_gates_x, grad_h0, grad_b_hh, grad_b_ih = loop(
            weight_hh, gates, u_n, hidden, sizes, *grads
        )
        h_prev = hidden[:-1]
        flat_x = grad_gates_x.view(T * B, 3 * H)
        flat_h = grad_gates_h.view(T * B, 3 * H)
        need = ctx.needs_input_grad
        grad_x, grad_w_ih = input_weight_grads(flat_x, x, weight_ih, need[0], need[2])
        grad_w_hh = weight_grad(flat_h, h_prev.reshape(T * B, H)) if need[3] else None
        grad_b_ih = grad_b_ih if ctx.has_bias and need[4] else None
        grad_b_hh = grad_b_hh if ctx.has_bias and need[5] else None
        return grad_x, grad_h0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, None


@engine_entry
def gru(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    batch_sizes: list[int] | None = None,
) -> tuple[Tensor, Tensor]:
    """One layer, one direction over a time-major sequence (see :class:`GRUFunction` for the
    arguments): through the hand-written backward when a gradient is needed, otherwise the
    same forward loop without keeping what only the backward needs."""
    inputs = (x, h0, weight_ih, weight_hh, bias_ih, bias_hh)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
        return GRUFunction.apply(*inputs, batch_sizes)
    with torch.no_grad():
        sizes = BatchSizes(batch_sizes, x.shape[0], x.shape[1])
        _, _, hidden = gru_forward(*inputs, sizes, save=False)
        (h_n,) = final_states(sizes, hidden)
        return hidden[1:], h_n


class GRUCell(nn.Module):
    r"""One GRU step, ``h_t = cell(x_t, h_{t-1})``.

    .. math::
        r = σ(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z = σ(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n = \tanh(W_{in} x + b_{in} + r ⊙ (W_{hn} h + b_{hn})) \\
        h' = (1 - z) ⊙ n + z ⊙ h

    Parameters are named and shaped as ``torch.nn.GRUCell``'s. The step runs on the same
    hand-written forward/backward as :class:`rnnkit.GRU`, with T = 1.

    Example:
        >>> cell = GRUCell(8, 16)
        >>> h = cell(torch.randn(4, 8))   # state defaults to zeros
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        weights = cell_parameters(3 * hidden_size, input_size, hidden_size, bias, device, dtype)
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
        _, h = gru(x.unsqueeze(0), h0, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"
