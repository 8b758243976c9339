r"""The LSTM cell: its step equations and its backpropagation through time, written out.

Notation (PyTorch's gate order ``i, f, g, o``; ``σ`` is the logistic sigmoid, ``⊙`` the
element-wise product, ``p_i, p_f, p_o`` the optional peephole weights)::

    (1) a_t   = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        pre-activations, (B, 4H)
    (2) i_t   = σ(a_i + p_i ⊙ c_{t-1})                       input gate
        f_t   = σ(a_f + p_f ⊙ c_{t-1})                       forget gate
        g_t   = tanh(a_g)                                    candidate cell
    (3) c_t   = f_t ⊙ c_{t-1} + i_t ⊙ g_t                    cell state
    (4) o_t   = σ(a_o + p_o ⊙ c_t)                           output gate
    (5) h_t   = o_t ⊙ tanh(c_t)                              hidden state

Backward, for one step, given δh_t (from the output and from step t+1) and δc_t (from t+1)::

    (B5) δo_t   = δh_t ⊙ tanh(c_t)              δa_o = δo_t ⊙ o_t(1 - o_t)
    (B4) δc_t  += δh_t ⊙ o_t ⊙ (1 - tanh²c_t)  + δa_o ⊙ p_o
    (B3) δi_t   = δc_t ⊙ g_t                    δa_i = δi_t ⊙ i_t(1 - i_t)
         δf_t   = δc_t ⊙ c_{t-1}                δa_f = δf_t ⊙ f_t(1 - f_t)
         δg_t   = δc_t ⊙ i_t                    δa_g = δg_t ⊙ (1 - g_t²)
    (B2) δc_{t-1} = δc_t ⊙ f_t + δa_i ⊙ p_i + δa_f ⊙ p_f
    (B1) δh_{t-1} = δa_t W_hh

and after the loop, over all steps at once: δW_hh = Σ_t δa_tᵀ h_{t-1}, δW_ih = Σ_t δa_tᵀ x_t,
δb = Σ_t δa_t, δx_t = δa_t W_ih, δp_i = Σ δa_i ⊙ c_{t-1}, δp_f = Σ δa_f ⊙ c_{t-1},
δp_o = Σ δa_o ⊙ c_t.

Where the compiled kernels are available (float32 on the CPU, see ``fused.py``), both loops
run in C (``lstm_loops.c``: the same equations, with their numbers, one call for all steps).
Otherwise they run with PyTorch operations below: every factor that multiplies δh_t or δc_t
depends only on the forward pass, so the backward computes all of them for all steps in a few
large operations before the loop, and the loop itself is then five element-wise products and
one matrix product a step.
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
    empty_parameter,
    engine_entry,
    final_states,
    init_uniform,
    input_projection,
    shared_pre_activation_grads,
    without_gc,
)
from rnnkit.cells.matmul import linear


@without_gc
def lstm_forward(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    peephole: Tensor | None,
    sizes: BatchSizes,
    save: bool,
) -> tuple[Tensor | None, Tensor, Tensor]:
    """The forward loop, equations (1)–(5): returns the activated gates of every step (only if
    ``save``, for the backward), and ``hidden``, ``cell`` of shape ``(T+1, B, H)`` (index 0 is
    the initial state)."""
    T, B, input_size = x.shape
    H = weight_hh.shape[1]
    store = torch.zeros if sizes.variable else torch.empty
    bias = None if bias_ih is None else bias_ih + bias_hh
    hidden = store(T + 1, B, H, dtype=x.dtype, device=x.device)  # h_0 … h_T
    cell = store(T + 1, B, H, dtype=x.dtype, device=x.device)  # c_0 … c_T
    hidden[0] = h0
    cell[0] = c0
    if fused.usable(x):  # the whole loop in compiled code (lstm_loops.c)
        # the kernel takes zeros for "no peepholes" rather than branching
        peep = peephole.contiguous() if peephole is not None else x.new_zeros(3, H)
        if fused.projection_in_loop(B, H, input_size):  # (1) made by the loop, tile by tile
            gates_x = store(T, B, 4 * H, dtype=x.dtype, device=x.device) if save else None
            inputs = (x, weight_ih, bias)
        else:  # (1) the input half of a_t for every step at once: one large matrix product
            gates_x, inputs = input_projection(x, weight_ih, bias), None  # (T, B, 4H)
        # i, f, g, o replace a_t in gates_x as they are computed
        fused.lstm_forward_loop(
            gates_x, weight_hh.contiguous(), peep, sizes, hidden, cell, save, inputs
        )
        if not save:
            return None, hidden, cell
        if sizes.variable:  # steps past a sequence's end hold no gates (nor gradients)
            gates_x.mul_(sizes.mask(x.device))
        return gates_x, hidden, cell
    gates_x = input_projection(x, weight_ih, bias)  # (1) for every step: one product
    # activated i, f, g, o: every step's when the backward needs them, else one step's
    gates = store(T if save else 1, B, 4 * H, dtype=x.dtype, device=x.device)
    if peephole is not None:
        peep_if = peephole[:2].unsqueeze(0)  # (1, 2, H)
        peep_o = peephole[2]
    for t in range(T):
        b = sizes[t]
        h_prev, c_prev = hidden[t, :b], cell[t, :b]
        act = gates[t if save else 0, :b]
        pre = linear(h_prev, weight_hh, add=gates_x[t, :b])  # (1) a_t, (b, 4H)
        if peephole is not None:
            pre.view(b, 4, H)[:, :2].addcmul_(peep_if, c_prev.unsqueeze(1))  # (2)
        input_gate, forget_gate, candidate, output_gate = act.chunk(4, 1)
        torch.sigmoid(pre[:, : 2 * H], out=act[:, : 2 * H])  # (2) i and f in one call
        torch.tanh(pre[:, 2 * H : 3 * H], out=candidate)
        c = cell[t + 1, :b]
        torch.mul(input_gate, candidate, out=c)  # (3)
        c.addcmul_(forget_gate, c_prev)
        pre_o = pre[:, 3 * H :]
        if peephole is not None:
            pre_o.addcmul_(peep_o, c)  # (4)
        torch.sigmoid(pre_o, out=output_gate)
        torch.mul(output_gate, torch.tanh(c), out=hidden[t + 1, :b])  # (5)
    return (gates if save else None), hidden, cell


@without_gc
def lstm_backward(weight_hh, peephole, gates, cell, sizes, grad_y, grad_h_n, grad_c_n):
    """The backward loop, equations (B5)–(B1), with PyTorch operations: returns δa for every
    step ``(T, B, 4H)``, δh_0, δc_0, and the gradients of the bias (Σ δa_t) and peepholes."""
    T, B, H = grad_y.shape
    i, f, g, o = gates.view(T, B, 4, H).unbind(2)
    c, c_prev = cell[1:], cell[:-1]
    tanh_c = torch.tanh(c)

    # Per-step factors for all steps at once. `factors` becomes δa in place in the loop:
    # δa = [δc, δc, δc, δh] ⊙ [i(1-i)g, f(1-f)c_{t-1}, (1-g²)i, o(1-o)tanh c]  (B3, B5)
    factors = torch.empty_like(gates).view(T, B, 4, H)
    torch.mul(i * (1 - i), g, out=factors[:, :, 0])
    torch.mul(f * (1 - f), c_prev, out=factors[:, :, 1])
    torch.mul(1 - g * g, i, out=factors[:, :, 2])
    torch.mul(o * (1 - o), tanh_c, out=factors[:, :, 3])
    dh_to_dc = o * (1 - tanh_c * tanh_c)  # (B4)
    dc_to_dc_prev = f  # (B2)
    if peephole is not None:
        dh_to_dc.addcmul_(factors[:, :, 3], peephole[2])
        dc_to_dc_prev = f + factors[:, :, 0] * peephole[0] + factors[:, :, 1] * peephole[1]

    grad_gates = factors.view(T, B, 4 * H)
    weight_hh_t = weight_hh.t().contiguous()  # (H, 4H): δh_{t-1} = δa_t W_hh
    b = sizes[T - 1]
    dh = grad_h_n[:b] + grad_y[T - 1, :b]  # δh_t of the b sequences still running at t
    dc = grad_c_n[:b].clone()
    for t in range(T - 1, -1, -1):
        b = sizes[t]
        dc.addcmul_(dh, dh_to_dc[t, :b])  # (B4)
        da = factors[t, :b]  # (b, 4, H)
        da[:, :3].mul_(dc.unsqueeze(1))  # (B3) δa_i, δa_f, δa_g
        da[:, 3].mul_(dh)  # (B5) δa_o
        dc.mul_(dc_to_dc_prev[t, :b])  # (B2)
        grad_out = grad_y[t - 1, :b] if t > 0 else None  # δh_{t-1} also gets δy_{t-1}
        dh = linear(grad_gates[t, :b], weight_hh_t, add=grad_out)  # (B1)
        rows = sizes[t - 1] if t > 0 else B
        dh = sizes.grow(dh, rows, grad_h_n, grad_y[t - 1] if t > 0 else None)
        dc = sizes.grow(dc, rows, grad_c_n)
    grad_bias = grad_gates.sum((0, 1))
    grad_peephole = None
    if peephole is not None:  # factors now holds δa, (T, B, 4, H)
        c, c_prev = cell[1:], cell[:-1]
        grad_peephole = torch.stack(
            [(factors[:, :, 0] * c_prev).sum((0, 1)), (factors[:, :, 1] * c_prev).sum((0, 1)),
             (factors[:, :, 3] * c).sum((0, 1))]
        )  # fmt: skip
    return grad_gates, dh, dc, grad_bias, grad_peephole


def lstm_backward_fused(weight_hh, peephole, gates, cell, sizes, grad_y, grad_h_n, grad_c_n):
    """:func:`lstm_backward` with the whole loop in compiled code (``lstm_loops.c``)."""
    T, B, H = grad_y.shape
    grad_gates = gates.new_zeros(T, B, 4 * H) if sizes.variable else torch.empty_like(gates)
    dh, dc = grad_h_n.clone(), grad_c_n.clone()
    grad_bias, grad_peephole = fused.lstm_backward_loop(
        weight_hh.contiguous(), peephole, gates, cell, sizes, grad_y, dh, dc, grad_gates
    )
    return grad_gates, dh, dc, grad_bias, grad_peephole


def lstm_backward_with_weights(
    x, weight_ih, weight_hh, peephole, gates, hidden, cell, sizes, grad_y, grad_h_n, grad_c_n,
    need_x,
):  # fmt: skip
    """The compiled backward loop making the weight gradients as it goes (δa_t never leaves
    the cache, see ``fused.weight_grads_in_loop``): returns δx (``None`` unless ``need_x``),
    δh_0, δc_0, δW_ih, δW_hh, and the bias and peephole gradients."""
    grad_x = None
    if need_x:
        grad_x = x.new_zeros(x.shape) if sizes.variable else torch.empty_like(x)
    grad_w_ih, grad_w_hh = torch.empty_like(weight_ih), torch.empty_like(weight_hh)
    dh, dc = grad_h_n.clone(), grad_c_n.clone()
    grad_bias, grad_peephole = fused.lstm_backward_loop(
        weight_hh.contiguous(), peephole, gates, cell, sizes, grad_y, dh, dc, None,
        (x, weight_ih, hidden, grad_x, grad_w_ih, grad_w_hh),
    )  # fmt: skip
    return grad_x, dh, dc, grad_w_ih, grad_w_hh, grad_bias, grad_peephole


class LSTMFunction(torch.autograd.Function):
    """One layer, one direction of LSTM over a whole (time-major) sequence.

    Arguments of ``apply``: ``x (T, B, I)``, ``h0 (B, H)``, ``c0 (B, H)``, ``weight_ih (4H, I)``,
    ``weight_hh (4H, H)``, ``bias_ih (4H) | None``, ``bias_hh (4H) | None``,
    ``peephole (3, H) | None`` and ``batch_sizes`` — ``None`` when every sequence has length T,
    otherwise a list giving, for each step t, how many sequences are still running; the batch
    must then be sorted by decreasing length (``rnnkit.LSTM`` does that).

    Returns ``y (T, B, H)`` (zero past each sequence's end), ``h_n (B, H)``, ``c_n (B, H)``.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, peephole, batch_sizes):
        sizes = BatchSizes(batch_sizes, x.shape[0], x.shape[1])
        gates, hidden, cell = lstm_forward(
            x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, peephole, sizes, save=True
        )
        ctx.sizes = sizes
        ctx.has_bias = bias_ih is not None
        ctx.save_for_backward(x, weight_ih, weight_hh, peephole, gates, hidden, cell)
        h_n, c_n = final_states(sizes, hidden, cell)
        return hidden[1:], h_n, c_n

    @staticmethod
    @differentiable_once
    def backward(ctx, grad_y, grad_h_n, grad_c_n):
        x, weight_ih, weight_hh, peephole, gates, hidden, cell = ctx.saved_tensors
        T, B, H = grad_y.shape
        grads = (grad_y.contiguous(), grad_h_n.contiguous(), grad_c_n.contiguous())
        need = ctx.needs_input_grad
        in_loop = need[3] and need[4] and fused.weight_grads_in_loop(B, H, x.shape[2])
        if fused.usable(gates) and in_loop:
            saved = (x, weight_ih, weight_hh, peephole, gates, hidden, cell, ctx.sizes)
            grad_x, dh, dc, grad_w_ih, grad_w_hh, grad_bias, grad_peephole = (
                lstm_backward_with_weights(*saved, *grads, need[0])
            )
        else:
            loop = lstm_backward_fused if fused.usable(gates) else lstm_backward
            grad_gates, dh, dc, grad_bias, grad_peephole = loop(
                weight_hh, peephole, gates, cell, ctx.sizes, *grads
            )
            grad_x, grad_w_ih, grad_w_hh = shared_pre_activation_grads(
                grad_gates.view(T * B, 4 * H), x, hidden[:-1].view(T * B, H), weight_ih,
                (need[0], need[3], need[4]),
            )  # fmt: skip
        if peephole is None or not ctx.needs_input_grad[7]:
            grad_peephole = None
        grad_bias_ih = grad_bias if ctx.has_bias and ctx.needs_input_grad[5] else None
        grad_bias_hh = grad_bias if ctx.has_bias and ctx.needs_input_grad[6] else None
        return (
            grad_x,
            dh,
            dc,
            grad_w_ih,
            grad_w_hh,
            grad_bias_ih,
            grad_bias_hh,
            grad_peephole,
            None,
        )


@engine_entry
def lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    peephole: Tensor | None = None,
    batch_sizes: list[int] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One layer, one direction over a time-major sequence (see :class:`LSTMFunction` for the
    arguments): through the hand-written backward when a gradient is needed, otherwise the
    same forward loop without keeping what only the backward needs."""
    x = x.contiguous()  # the compiled loop may read x itself (a cell's x may be a slice)
    inputs = (x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, peephole)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
        return LSTMFunction.apply(*inputs, batch_sizes)
    with torch.no_grad():
        sizes = BatchSizes(batch_sizes, x.shape[0], x.shape[1])
        _, hidden, cell = lstm_forward(*inputs, sizes, save=False)
        h_n, c_n = final_states(sizes, hidden, cell)
        return hidden[1:], h_n, c_n


class LSTMCell(nn.Module):
    r"""One LSTM step, ``(h_t, c_t) = cell(x_t, (h_{t-1}, c_{t-1}))``.

    .. math::
        i = σ(W_{ii} x + b_{ii} + W_{hi} h + b_{hi} + p_i ⊙ c) \\
        f = σ(W_{if} x + b_{if} + W_{hf} h + b_{hf} + p_f ⊙ c) \\
        g = \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
        c' = f ⊙ c + i ⊙ g \\
        o = σ(W_{io} x + b_{io} + W_{ho} h + b_{ho} + p_o ⊙ c') \\
        h' = o ⊙ \tanh(c')

    Parameters are named and shaped as ``torch.nn.LSTMCell``'s (``weight_ih (4H, I)``,
    ``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh``), plus ``weight_peephole (3, H)`` when
    ``peephole=True``. The step runs on the same hand-written forward/backward as
    :class:`rnnkit.LSTM`, with T = 1.

    Example:
        >>> cell = LSTMCell(8, 16)
        >>> h, c = cell(torch.randn(4, 8))          # state defaults to zeros
        >>> h, c = cell(torch.randn(4, 8), (h, c))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        peephole: bool = False,
    ) -> None:
        # the positional order is torch.nn.LSTMCell's
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.peephole = peephole
        weights = cell_parameters(4 * hidden_size, input_size, hidden_size, bias, device, dtype)
        self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh = weights
        self.weight_peephole = (
            empty_parameter(3, hidden_size, device=device, dtype=dtype) if peephole else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/√H, 1/√H), as torch.nn."""
        init_uniform(self, self.hidden_size)

    def forward(
        self,
        x: Tensor,
        state: tuple[Tensor, Tensor] | None = None,
        *,
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Advance one step: ``x (B, I)`` or ``(I,)``; returns ``(h, c)``, each ``(B, H)``
        (``(H,)`` unbatched). ``state`` (or ``hx``, torch.nn's name): ``(h, c)``, zeros if
        not given."""
        x, unbatched = check_cell_input(x, self.input_size)
        h0, c0 = cell_state(x, state, hx, 2, self.hidden_size, unbatched)
        _, h, c = lstm(
            x.unsqueeze(0), h0, c0, self.weight_ih, self.weight_hh,
            self.bias_ih, self.bias_hh, self.weight_peephole,
        )  # fmt: skip
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, peephole={self.peephole}"
