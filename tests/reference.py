"""A plain-autograd reference of the three recurrent cells, written from their equations.

Nothing here imports rnnkit: each step is the textbook equation in PyTorch's gate order, built
from ordinary differentiable operations, so autograd through a Python loop over these steps
is an oracle for the hand-written forward and backward of the engine (including peepholes,
which torch.nn does not have, and variable lengths).

State is always a tuple: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

State = tuple[Tensor, ...]
Step = Callable[[Tensor, State], State]


def affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``x Wᵀ + b`` for a batch of rows."""
    out = x @ weight.T
    return out if bias is None else out + bias


def lstm_step(
    x: Tensor,
    state: State,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    peephole: Tensor | None = None,
) -> State:
    """i = σ(a_i + p_i⊙c), f = σ(a_f + p_f⊙c), g = tanh(a_g), c' = f⊙c + i⊙g,
    o = σ(a_o + p_o⊙c'), h' = o⊙tanh(c'); the peephole terms vanish when ``peephole`` is None."""
    h, c = state
    pre = affine(x, weight_ih, bias_ih) + affine(h, weight_hh, bias_hh)
    a_i, a_f, a_g, a_o = pre.chunk(4, -1)
    if peephole is not None:
        a_i = a_i + peephole[0] * c
        a_f = a_f + peephole[1] * c
    i, f, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g)
    c_new = f * c + i * g
    if peephole is not None:
        a_o = a_o + peephole[2] * c_new
    h_new = torch.sigmoid(a_o) * torch.tanh(c_new)
    return h_new, c_new


def gru_step(
    x: Tensor,
    state: State,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> State:
    """r = σ(a_r + u_r), z = σ(a_z + u_z), n = tanh(a_n + r⊙u_n), h' = (1-z)⊙n + z⊙h, with
    a = W_ih x + b_ih and u = W_hh h + b_hh."""
    (h,) = state
    a_r, a_z, a_n = affine(x, weight_ih, bias_ih).chunk(3, -1)
    u_r, u_z, u_n = affine(h, weight_hh, bias_hh).chunk(3, -1)
    r = torch.sigmoid(a_r + u_r)
    z = torch.sigmoid(a_z + u_z)
    n = torch.tanh(a_n + r * u_n)
    return ((1 - z) * n + z * h,)


def rnn_step(
    x: Tensor,
    state: State,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> State:
    """h' = g(W_ih x + b_ih + W_hh h + b_hh), g = tanh or relu."""
    (h,) = state
    pre = affine(x, weight_ih, bias_ih) + affine(h, weight_hh, bias_hh)
    activation = {"tanh": torch.tanh, "relu": torch.relu}[nonlinearity]
    return (activation(pre),)


def run(
    step: Step, x: Tensor, state: State, lengths: Sequence[int] | None = None
) -> tuple[Tensor, State]:
    """Loop ``step`` over a time-major ``x (T, B, I)``.

    Sequence b advances only while ``t < lengths[b]``: its outputs are zero afterwards and its
    final state is the one after its last valid step (the initial state for a length of 0).
    Returns ``(y (T, B, H), final state)``.
    """
    T, B = x.shape[0], x.shape[1]
    lengths = [T] * B if lengths is None else list(lengths)
    outputs = []
    for t in range(T):
        running = torch.tensor([t < length for length in lengths]).unsqueeze(1)  # (B, 1)
        new = step(x[t], state)
        state = tuple(torch.where(running, n, s) for n, s in zip(new, state, strict=True))
        outputs.append(torch.where(running, new[0], torch.zeros_like(new[0])))
    return torch.stack(outputs), state


def reverse_within(seq: Tensor, lengths: Sequence[int]) -> Tensor:
    """Reverse each sequence of a time-major ``(T, B, ...)`` tensor within its own length;
    the steps past a length stay where they are."""
    T, B = seq.shape[0], seq.shape[1]
    index = torch.tensor([[length - 1 - t if t < length else t for length in lengths]
                          for t in range(T)])  # fmt: skip
    return seq[index, torch.arange(B)]


def stacked(
    steps: Sequence[Sequence[Step]],
    x: Tensor,
    state: State,
    lengths: Sequence[int] | None = None,
) -> tuple[Tensor, State]:
    """A multi-layer, optionally bidirectional network over time-major ``x (T, B, I)``.

    ``steps[layer][direction]`` is the step of that layer and direction (one or two per layer);
    each tensor of ``state`` is ``(num_layers·num_directions, B, H)``. The reverse direction
    reads each sequence backwards from its last valid step, and each layer's input is the
    concatenation of the directions' outputs of the layer below. Returns ``(y (T, B, D·H),
    final state)`` in the layout of ``state``.
    """
    lengths = [x.shape[0]] * x.shape[1] if lengths is None else list(lengths)
    finals: list[State] = []
    layer_input = x
    for layer_steps in steps:
        outputs = []
        for direction, step in enumerate(layer_steps):
            index = len(finals)
            initial = tuple(s[index] for s in state)
            if direction == 0:
                out, final = run(step, layer_input, initial, lengths)
            else:
                out, final = run(step, reverse_within(layer_input, lengths), initial, lengths)
                out = reverse_within(out, lengths)
            outputs.append(out)
            finals.append(final)
        layer_input = torch.cat(outputs, 2)
    return layer_input, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
