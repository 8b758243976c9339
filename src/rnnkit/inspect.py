"""Measurements of what happens inside a recurrent layer — numbers only, no plotting.

* :func:`gradient_through_time`: for a loss at the last step, the norm of the gradient with
  respect to the hidden state ``h_t`` at every earlier step, ``‖∂L/∂h_t‖`` against ``t`` —
  the vanishing (or exploding) gradient made visible.
* :func:`compare_gradient_flow`: that measurement for untrained RNN, LSTM and GRU layers on the
  same input, the classic picture.
* :func:`gate_activations`: every gate's value at every step for one example.

Why not hook the layer's output? ``out.retain_grad()`` on ``out (B, T, H)`` gives the
gradient that reaches ``y_t`` *directly*; with a loss on ``y_{T-1}`` only, that is zero at every
earlier step, because the path from ``h_t`` to the loss runs through the recurrence inside the
layer's (hand-written) backward, which never surfaces as the gradient of ``out``. The total
derivative ``∂L/∂h_t`` is instead measured as the gradient with respect to the *initial
state* of the layer continuing from ``h_t``: run the layer from the state it reached at step t
over the rest of the sequence, and ``∂L/∂state`` is exactly ``∂L/∂h_t``. All T continuations
are run at once as one batch of variable-length sequences, by the layer itself (its own engine
and weights), so nothing is re-implemented.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import RNNCell
from rnnkit.layers import RecurrentLayer, make_recurrent

LossFn = Callable[[Tensor], Tensor]
"""Maps the last step's hidden output ``(B, H)`` to a scalar loss."""


def sum_loss(last: Tensor) -> Tensor:
    """The default loss: the sum of the last hidden output, so ``∂L/∂h_{T-1}`` is all ones and
    every earlier ``‖∂L/∂h_t‖`` reads directly as "how much of that reaches step t"."""
    return last.sum()


def find_recurrent_layer(model: nn.Module) -> RecurrentLayer:
    """The first :class:`~rnnkit.layers.RecurrentLayer` in ``model`` (``model`` itself if it is
    one); ``ValueError`` if there is none."""
    for module in model.modules():
        if isinstance(module, RecurrentLayer):
            return module
    raise ValueError(f"{type(model).__name__} contains no rnnkit RNN/LSTM/GRU layer")


def layer_input(model: nn.Module, layer: RecurrentLayer, *args, **kwargs) -> Tensor:
    """The input ``layer`` receives when ``model(*args, **kwargs)`` runs (first call), as a
    detached ``(B, T, I)`` tensor; the model runs without gradients."""
    captured: list[Tensor] = []

    def grab(_module: nn.Module, inputs: tuple) -> None:
        if not captured:
            captured.append(inputs[0].detach())

    handle = layer.register_forward_pre_hook(grab)
    try:
        with torch.no_grad():
            model(*args, **kwargs)
    finally:
        handle.remove()
    if not captured:
        raise ValueError(f"running {type(model).__name__} never called its recurrent layer")
    x = captured[0]
    return x if layer.batch_first else x.transpose(0, 1)


def _final_states(layer: RecurrentLayer, x: Tensor) -> tuple[Tensor, ...]:
    """The state the layer reaches after each step: for ``x (B, T, I)``, a tuple (``(h, c)``
    for an LSTM) of ``(L, T, B, H)`` tensors, index t being the state after step t."""
    B, T, _ = x.shape
    prefixes = x.unsqueeze(0).expand(T, B, T, x.shape[2]).reshape(T * B, T, -1)
    lengths = torch.arange(1, T + 1).repeat_interleave(B)  # copy t stops after step t
    if not layer.batch_first:
        prefixes = prefixes.transpose(0, 1)
    with torch.no_grad():
        _, state = layer(prefixes, lengths=lengths)
    states = state if isinstance(state, tuple) else (state,)
    return tuple(s.reshape(s.shape[0], T, B, -1) for s in states)


def gradient_through_time(
    model_or_layer: nn.Module,
    x: Tensor,
    loss_fn: LossFn = sum_loss,
) -> Tensor:
    """``‖∂L/∂h_t‖`` for ``t = 0 … T-1``, averaged over the batch, for a loss at the last step.

    What is measured: ``L = loss_fn(y_{T-1})`` depends only on the layer's output at the final
    step (``y_t`` is ``h_t`` of the top layer). For every earlier step t, the gradient of L
    with respect to the top layer's hidden state ``h_t`` — the total derivative, through every
    later step of the recurrence — is taken for each example; its Euclidean norm is averaged
    over the batch. For an LSTM, ``h_t`` is the hidden state (the cell state ``c_t`` is held
    as the separate variable it is). The value at ``T-1`` is ``‖∂L/∂y_{T-1}‖`` itself; a
    curve falling by orders of magnitude towards ``t = 0`` is a vanishing gradient.

    Args:
        model_or_layer: an ``rnnkit.RNN/LSTM/GRU`` layer, or a model containing one: then its
            first recurrent layer is measured, on the input the model gives it for ``x``.
        x: for a layer, its input ``(B, T, I)`` (time-major if the layer is not
            ``batch_first``); for a model, whatever ``model(x)`` takes.
        loss_fn: maps the last step's output ``(B, H)`` to a scalar; default: its sum.

    Returns:
        ``(T,)`` tensor of gradient norms. The layer's parameters get no gradient.

    The layer must be unidirectional (a reverse direction at step t depends on later inputs).
    Dropout between stacked layers, in training mode, draws different masks for the runs.
    """
    layer = find_recurrent_layer(model_or_layer)
    if layer.bidirectional:
        raise ValueError("gradient_through_time needs a unidirectional layer")
    if model_or_layer is not layer:
        x = layer_input(model_or_layer, layer, x)
    elif not layer.batch_first:
        x = x.transpose(0, 1)
    if x.dim() != 3:
        raise ValueError(f"x must have shape (B, T, I), got {tuple(x.shape)}")
    x = x.detach()
    B, T, _ = x.shape
    # state after step t, for t = 0 … T-1, each (L, T·B, H); copy (t, b) continues from it
    starts = [s.reshape(s.shape[0], T * B, -1).clone().requires_grad_(True)
              for s in _final_states(layer, x)]  # fmt: skip
    # continuation t runs steps t+1 … T-1, i.e. T-1-t steps, packed at the start of the row
    rest = torch.zeros(T, B, T, x.shape[2], dtype=x.dtype, device=x.device)
    for t in range(T - 1):
        rest[t, :, : T - 1 - t] = x[:, t + 1 :]
    rest = rest.reshape(T * B, T, -1)
    lengths = (T - 1 - torch.arange(T)).repeat_interleave(B)
    if not layer.batch_first:
        rest = rest.transpose(0, 1)
    state = tuple(starts) if layer.cell_name == "lstm" else starts[0]
    with torch.enable_grad():
        _, final = layer(rest, state=state, lengths=lengths)
        h_last = (final[0] if layer.cell_name == "lstm" else final)[-1]  # top layer, (T·B, H)
        # each copy is its own example: summing the per-copy losses keeps their gradients apart
        loss = sum(loss_fn(chunk) for chunk in h_last.reshape(T, B, -1))
        (grad,) = torch.autograd.grad(loss, starts[0])
    return grad[-1].reshape(T, B, -1).norm(dim=2).mean(dim=1).detach()


def compare_gradient_flow(
    cells: Sequence[str] = ("rnn", "lstm", "gru"),
    hidden_size: int = 64,
    steps: int = 100,
    seed: int = 0,
    batch_size: int = 8,
    input_size: int = 8,
    carry_bias: float = 1.0,
) -> dict[str, Tensor]:
    """:func:`gradient_through_time` of untrained one-layer layers of each cell on one random
    input ``(batch_size, steps, input_size)``; keys are the cell names in upper case.

    Weights have the default initialisation, Uniform(±1/√H), except the bias of the gate that
    carries the state forward — the LSTM's forget gate, the GRU's update gate — whose input
    half is set to ``carry_bias`` (the usual "forget bias 1"; with 0 those gates sit near 0.5
    and an untrained LSTM's gradient vanishes almost as fast as the RNN's). Computed in
    float64 so the RNN's tiny values do not underflow. With the defaults the RNN's gradient
    at t = 0 is about 1e-22 of its value at the last step, the LSTM's and GRU's about 1e-8.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, steps, input_size, generator=generator, dtype=torch.float64)
    curves = {}
    for cell in cells:
        torch.manual_seed(seed)
        layer = make_recurrent(cell, input_size, hidden_size).double()
        if cell in ("lstm", "gru"):  # gate order i, f, g, o and r, z, n: the second block
            with torch.no_grad():
                layer.bias_ih_l0[hidden_size : 2 * hidden_size] = carry_bias
                layer.bias_hh_l0[hidden_size : 2 * hidden_size] = 0.0
        curves[cell.upper()] = gradient_through_time(layer, x)
    return curves


# ------------------------------------------------------------------ gate activations
def _cell_for(layer: nn.Module) -> nn.Module:
    """The one-step cell carrying ``layer``'s first-layer (forward direction) weights."""
    if isinstance(layer, (LSTMCell, GRUCell, RNNCell)):
        return layer
    if not isinstance(layer, RecurrentLayer):
        raise ValueError(f"expected an rnnkit cell or layer, got {type(layer).__name__}")
    I, H = layer.input_size, layer.hidden_size
    if layer.cell_name == "lstm":
        cell = LSTMCell(I, H, bias=layer.bias, peephole=layer.peephole)
    elif layer.cell_name == "gru":
        cell = GRUCell(I, H, bias=layer.bias)
    else:
        cell = RNNCell(I, H, bias=layer.bias, nonlinearity=layer.nonlinearity)
    weights = {name: getattr(layer, name + "_l0")
               for name, _ in cell.named_parameters()}  # fmt: skip
    cell.load_state_dict(weights)
    return cell.to(layer.weight_ih_l0)


def _pre_activations(cell: nn.Module, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
    """``W_ih x + b_ih`` and ``W_hh h + b_hh`` of one step."""
    a = x @ cell.weight_ih.T
    u = h @ cell.weight_hh.T
    if cell.bias:
        a, u = a + cell.bias_ih, u + cell.bias_hh
    return a, u


def _lstm_gates(cell: LSTMCell, x: Tensor) -> dict[str, Tensor]:
    H = cell.hidden_size
    names = ("input_gate", "forget_gate", "candidate", "output_gate", "cell", "hidden")
    out: dict[str, list[Tensor]] = {name: [] for name in names}
    h, c = x.new_zeros(H), x.new_zeros(H)
    p = cell.weight_peephole if cell.peephole else x.new_zeros(3, H)
    for x_t in x:
        a, u = _pre_activations(cell, x_t, h)
        a_i, a_f, a_g, a_o = (a + u).chunk(4)  # (1)
        i = torch.sigmoid(a_i + p[0] * c)  # (2)
        f = torch.sigmoid(a_f + p[1] * c)
        g = torch.tanh(a_g)
        c_new = f * c + i * g  # (3)
        o = torch.sigmoid(a_o + p[2] * c_new)  # (4)
        h_new = o * torch.tanh(c_new)  # (5)
        h_cell, c_cell = cell(x_t, (h, c))  # the engine's step, to continue from
        torch.testing.assert_close(h_new, h_cell)
        h, c = h_cell, c_cell
        for name, value in zip(names, (i, f, g, o, c_new, h_new), strict=True):
            out[name].append(value)
    return {name: torch.stack(values) for name, values in out.items()}


def _gru_gates(cell: GRUCell, x: Tensor) -> dict[str, Tensor]:
    H = cell.hidden_size
    names = ("reset_gate", "update_gate", "candidate", "hidden")
    out: dict[str, list[Tensor]] = {name: [] for name in names}
    h = x.new_zeros(H)
    for x_t in x:
        a, u = _pre_activations(cell, x_t, h)
        a_r, a_z, a_n = a.chunk(3)  # (1)
        u_r, u_z, u_n = u.chunk(3)
        r = torch.sigmoid(a_r + u_r)  # (2)
        z = torch.sigmoid(a_z + u_z)
        n = torch.tanh(a_n + r * u_n)  # (3)
        h_new = (1 - z) * n + z * h  # (4)
        h_cell = cell(x_t, h)
        torch.testing.assert_close(h_new, h_cell)
        h = h_cell
        for name, value in zip(names, (r, z, n, h_new), strict=True):
            out[name].append(value)
    return {name: torch.stack(values) for name, values in out.items()}


def _rnn_gates(cell: RNNCell, x: Tensor) -> dict[str, Tensor]:
    g = torch.tanh if cell.nonlinearity == "tanh" else torch.relu
    h = x.new_zeros(cell.hidden_size)
    hidden = []
    for x_t in x:
        a, u = _pre_activations(cell, x_t, h)
        h_new = g(a + u)  # (1), (2)
        h = cell(x_t, h)
        torch.testing.assert_close(h_new, h)
        hidden.append(h_new)
    return {"hidden": torch.stack(hidden)}


def gate_activations(cell_or_layer: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """Every gate's value at every step for one example ``x (T, I)``: a dict of ``(T, H)``.

    Keys — LSTM: ``input_gate``, ``forget_gate``, ``candidate``, ``output_gate``, ``cell``,
    ``hidden``; GRU: ``reset_gate``, ``update_gate``, ``candidate``, ``hidden``; RNN:
    ``hidden``. The values are recomputed from the equations in the cell modules
    (:mod:`rnnkit.cells.lstm`, ``.gru``, ``.rnn``; peepholes included), starting from a zero
    state, while the matching ``rnnkit`` cell steps alongside with the same weights; each
    recomputed ``h_t`` is checked against the cell's (``AssertionError`` if they differ). For
    a layer, its first layer (forward direction) is used: ``hidden`` then equals that layer's
    output when it has one layer and one direction.
    """
    if x.dim() != 2:
        raise ValueError(f"x must be one example of shape (T, I), got {tuple(x.shape)}")
    cell = _cell_for(cell_or_layer)
    with torch.no_grad():
        if isinstance(cell, LSTMCell):
            return _lstm_gates(cell, x)
        if isinstance(cell, GRUCell):
            return _gru_gates(cell, x)
        return _rnn_gates(cell, x)
