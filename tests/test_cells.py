"""Tests of the cell engines: the hand-written forward and backward through time of
``LSTMFunction``, ``GRUFunction`` and ``RNNFunction``, and the one-step cell modules.

The oracles are ``torch.autograd.gradcheck`` (float64) and autograd through a plain loop of the
reference step equations in ``tests/reference.py``, which also covers peepholes and variable
lengths, where torch.nn has nothing to compare with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
import torch
from reference import gru_step, lstm_step, rnn_step, run
from torch import Tensor, nn
from torch.autograd import gradcheck
from torch.func import functional_call

from rnnkit.cells.gru import GRUCell, GRUFunction
from rnnkit.cells.lstm import LSTMCell, LSTMFunction
from rnnkit.cells.rnn import RNNCell, RNNFunction

T, B, I, H = 4, 4, 3, 2  # sizes used throughout: steps, batch, input and hidden features
F64 = torch.float64


@dataclass(frozen=True)
class Cell:
    """One configuration of one cell family."""

    mode: str  # "lstm", "gru" or "rnn"
    bias: bool = True
    peephole: bool = False
    nonlinearity: str = "tanh"

    def __str__(self) -> str:
        text = self.mode + ("" if self.bias else "-nobias") + ("-peephole" if self.peephole else "")
        return text + ("-relu" if self.nonlinearity == "relu" else "")

    @property
    def num_states(self) -> int:
        return 2 if self.mode == "lstm" else 1

    @property
    def gates(self) -> int:
        return {"lstm": 4, "gru": 3, "rnn": 1}[self.mode]

    @property
    def weight_names(self) -> list[str]:
        """The parameters in the order the engine takes them, named as in the cell modules."""
        names = ["weight_ih", "weight_hh"]
        names += ["bias_ih", "bias_hh"] if self.bias else []
        return names + (["weight_peephole"] if self.peephole else [])

    def weight_shapes(self, input_size: int, hidden_size: int) -> list[tuple[int, ...]]:
        G = self.gates * hidden_size
        shapes = [(G, input_size), (G, hidden_size)]
        shapes += [(G,), (G,)] if self.bias else []
        return shapes + ([(3, hidden_size)] if self.peephole else [])

    def module(self, input_size: int = I, hidden_size: int = H) -> nn.Module:
        if self.mode == "lstm":
            return LSTMCell(input_size, hidden_size, bias=self.bias, peephole=self.peephole)
        if self.mode == "gru":
            return GRUCell(input_size, hidden_size, bias=self.bias)
        return RNNCell(input_size, hidden_size, bias=self.bias, nonlinearity=self.nonlinearity)

    def torch_module(self, input_size: int = I, hidden_size: int = H) -> nn.Module:
        """torch.nn's cell of the same configuration (there is none with peepholes)."""
        assert not self.peephole
        if self.mode == "lstm":
            return nn.LSTMCell(input_size, hidden_size, bias=self.bias)
        if self.mode == "gru":
            return nn.GRUCell(input_size, hidden_size, bias=self.bias)
        return nn.RNNCell(input_size, hidden_size, bias=self.bias, nonlinearity=self.nonlinearity)


CELLS = [
    Cell("lstm"),
    Cell("lstm", bias=False),
    Cell("lstm", peephole=True),
    Cell("lstm", bias=False, peephole=True),
    Cell("gru"),
    Cell("gru", bias=False),
    Cell("rnn"),
    Cell("rnn", bias=False),
    Cell("rnn", nonlinearity="relu"),
    Cell("rnn", bias=False, nonlinearity="relu"),
]
TORCH_CELLS = [cell for cell in CELLS if not cell.peephole]
BIASED_CELLS = [cell for cell in CELLS if cell.bias]
# Sorted by decreasing length, as the engine requires: every sequence full (no batch_sizes),
# ragged, and ragged with a length 0 and steps that no sequence reaches.
LENGTHS = [None, [4, 3, 3, 1], [2, 2, 1, 0]]


@dataclass
class Inputs:
    """Everything the engine differentiates, in its argument order."""

    x: Tensor  # (T, B, I), or (B, I) for one step
    state: tuple[Tensor, ...]  # (h,) or (h, c), each (B, H)
    weights: tuple[Tensor, ...]  # in the order of Cell.weight_names

    def tensors(self) -> tuple[Tensor, ...]:
        return (self.x, *self.state, *self.weights)


def make_inputs(cell: Cell, shape: Sequence[int], seed: int = 0, dtype=F64) -> Inputs:
    """Random inputs (x of ``shape``), nonzero initial states and weights, all requiring grad.
    Weights are N(0, 0.5²), wider than torch.nn's initialisation, so the gates take values
    across their range rather than all near 0.5."""
    g = torch.Generator().manual_seed(seed)

    def rand(*size: int, scale: float = 1.0) -> Tensor:
        return (scale * torch.randn(*size, generator=g, dtype=dtype)).requires_grad_()

    batch = tuple(shape[:-1])[-1:]  # (B,) or () when unbatched
    return Inputs(
        x=rand(*shape),
        state=tuple(rand(*batch, H, scale=0.5) for _ in range(cell.num_states)),
        weights=tuple(rand(*s, scale=0.5) for s in cell.weight_shapes(shape[-1], H)),
    )


def split(cell: Cell, tensors: Sequence[Tensor]):
    """``(x, state, weight_ih, weight_hh, bias_ih, bias_hh, peephole)`` from a flat sequence."""
    n = cell.num_states
    x, state, rest = tensors[0], tuple(tensors[1 : 1 + n]), tensors[1 + n :]
    named = dict(zip(cell.weight_names, rest, strict=True))
    return (x, state, named["weight_ih"], named["weight_hh"], named.get("bias_ih"),
            named.get("bias_hh"), named.get("weight_peephole"))  # fmt: skip


def engine(cell: Cell, tensors: Sequence[Tensor], batch_sizes: list[int] | None):
    """The engine over a whole sequence: ``(y, h_n)`` or ``(y, h_n, c_n)``."""
    x, state, w_ih, w_hh, b_ih, b_hh, peephole = split(cell, tensors)
    if cell.mode == "lstm":
        return LSTMFunction.apply(x, *state, w_ih, w_hh, b_ih, b_hh, peephole, batch_sizes)
    if cell.mode == "gru":
        return GRUFunction.apply(x, *state, w_ih, w_hh, b_ih, b_hh, batch_sizes)
    return RNNFunction.apply(x, *state, w_ih, w_hh, b_ih, b_hh, cell.nonlinearity, batch_sizes)


def reference_step(cell: Cell, weights: Sequence[Tensor]):
    """The reference step of ``cell`` with these weights: ``step(x_t, state) -> state``."""
    named = dict(zip(cell.weight_names, weights, strict=True))
    b_ih, b_hh = named.get("bias_ih"), named.get("bias_hh")
    w_ih, w_hh = named["weight_ih"], named["weight_hh"]
    if cell.mode == "lstm":
        peephole = named.get("weight_peephole")
        return lambda x, s: lstm_step(x, s, w_ih, w_hh, b_ih, b_hh, peephole)
    if cell.mode == "gru":
        return lambda x, s: gru_step(x, s, w_ih, w_hh, b_ih, b_hh)
    return lambda x, s: rnn_step(x, s, w_ih, w_hh, b_ih, b_hh, cell.nonlinearity)


def reference(cell: Cell, inputs: Inputs, lengths: Sequence[int] | None):
    """The reference loop, with the engine's output layout."""
    y, final = run(reference_step(cell, inputs.weights), inputs.x, inputs.state, lengths)
    return (y, *final)


def batch_sizes_of(lengths: Sequence[int] | None, steps: int = T) -> list[int] | None:
    """For each step, how many of the (decreasingly sorted) sequences are still running."""
    if lengths is None:
        return None
    return [sum(length > t for length in lengths) for t in range(steps)]


def weighted_sum(outputs: Sequence[Tensor], seed: int = 1) -> Tensor:
    """A loss that touches every output with its own random weights, so that every gradient
    path (through y, h_n and c_n) contributes and errors cannot cancel out."""
    g = torch.Generator().manual_seed(seed)
    return sum(
        (out * torch.randn(out.shape, generator=g, dtype=F64).to(out.dtype)).sum()
        for out in outputs
    )


def grads(outputs: Sequence[Tensor], tensors: Sequence[Tensor]) -> tuple[Tensor, ...]:
    return torch.autograd.grad(weighted_sum(outputs), tensors)


def as_tuple(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def step_module(cell: Cell, module: nn.Module, weights: Sequence[Tensor], x: Tensor, state):
    """One step of the cell module with the given weights (differentiable in them)."""
    params = dict(zip(cell.weight_names, weights, strict=True))
    call_state = None if state is None else (state if cell.mode == "lstm" else state[0])
    return as_tuple(functional_call(module, params, (x, call_state)))


def assert_all_close(actual: Sequence[Tensor], expected: Sequence[Tensor], **tolerance) -> None:
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
        torch.testing.assert_close(a, e, msg=lambda m, i=index: f"item {i}: {m}", **tolerance)


# ---------------------------------------------------------------------------------------------
# The engines over whole sequences
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lengths", LENGTHS, ids=str)
@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_engine_passes_gradcheck(cell: Cell, lengths: list[int] | None) -> None:
    inputs = make_inputs(cell, (T, B, I))
    batch_sizes = batch_sizes_of(lengths)
    assert gradcheck(lambda *t: engine(cell, t, batch_sizes), inputs.tensors())


@pytest.mark.parametrize("lengths", LENGTHS, ids=str)
@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_engine_matches_autograd_through_the_reference_loop(
    cell: Cell, lengths: list[int] | None
) -> None:
    inputs = make_inputs(cell, (T, B, I))
    tensors = inputs.tensors()
    actual = engine(cell, tensors, batch_sizes_of(lengths))
    expected = reference(cell, inputs, lengths)
    assert_all_close(actual, expected)
    assert_all_close(grads(actual, tensors), grads(expected, tensors))


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_engine_outputs_are_zero_past_each_length_and_states_are_taken_at_it(cell: Cell) -> None:
    """Checked directly (not only against the reference): y is zero after each sequence's end,
    the final state equals y at its last valid step, and a length of 0 returns the state."""
    lengths = [3, 1, 0]
    inputs = make_inputs(cell, (T, 3, I))
    y, h_n, *_ = engine(cell, inputs.tensors(), batch_sizes_of(lengths))
    for b, length in enumerate(lengths):
        assert (y[length:, b] == 0).all()
        expected = y[length - 1, b] if length else inputs.state[0][b]
        torch.testing.assert_close(h_n[b], expected)


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_engine_float32_matches_float64(cell: Cell) -> None:
    inputs = make_inputs(cell, (T, B, I))
    lengths = LENGTHS[1]
    exact = engine(cell, inputs.tensors(), batch_sizes_of(lengths))
    single = [t.detach().float().requires_grad_() for t in inputs.tensors()]
    approx = engine(cell, single, batch_sizes_of(lengths))
    assert all(out.dtype == torch.float32 for out in approx)
    assert_all_close([a.double() for a in approx], exact, atol=1e-5, rtol=1e-4)
    expected_grads = grads(exact, inputs.tensors())
    assert_all_close([g.double() for g in grads(approx, single)], expected_grads, atol=1e-5,
                     rtol=1e-4)  # fmt: skip


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_engine_gradient_of_each_input_alone(cell: Cell) -> None:
    """With only one input requiring grad, the engine skips the other gradients: the one it
    computes must not change."""
    inputs = make_inputs(cell, (T, B, I))
    tensors = inputs.tensors()
    batch_sizes = batch_sizes_of(LENGTHS[1])
    expected = grads(engine(cell, tensors, batch_sizes), tensors)
    for index in range(len(tensors)):
        alone = [t.detach().requires_grad_(i == index) for i, t in enumerate(tensors)]
        (actual,) = grads(engine(cell, alone, batch_sizes), [alone[index]])
        torch.testing.assert_close(actual, expected[index], msg=f"input {index}")


# ---------------------------------------------------------------------------------------------
# The one-step cell modules
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell_module_passes_gradcheck(cell: Cell) -> None:
    module = cell.module().double()
    inputs = make_inputs(cell, (B, I))

    def step(x: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        state, weights = rest[: cell.num_states], rest[cell.num_states :]
        return step_module(cell, module, weights, x, state)

    assert gradcheck(step, inputs.tensors())


@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell_module_matches_the_reference_step(cell: Cell, unbatched: bool) -> None:
    module = cell.module().double()
    inputs = make_inputs(cell, (I,) if unbatched else (B, I))
    tensors = inputs.tensors()
    actual = step_module(cell, module, inputs.weights, inputs.x, inputs.state)
    expected = reference_step(cell, inputs.weights)(inputs.x, inputs.state)
    if unbatched:
        assert all(out.shape == (H,) for out in actual)
    assert_all_close(actual, expected)
    assert_all_close(grads(actual, tensors), grads(expected, tensors))


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_engine_matches_autograd_through_a_loop_of_the_cell_module(cell: Cell) -> None:
    module = cell.module().double()
    inputs = make_inputs(cell, (T, B, I))
    tensors = inputs.tensors()
    state, outputs = inputs.state, []
    for t in range(T):
        state = step_module(cell, module, inputs.weights, inputs.x[t], state)
        outputs.append(state[0])
    looped = (torch.stack(outputs), *state)
    whole = engine(cell, tensors, None)
    assert_all_close(whole, looped)
    assert_all_close(grads(whole, tensors), grads(looped, tensors))


@pytest.mark.parametrize("cell", TORCH_CELLS, ids=str)
def test_cell_module_matches_torch_nn_cell_after_load_state_dict(cell: Cell) -> None:
    torch.manual_seed(0)
    ours, theirs = cell.module(), cell.torch_module()
    ours.load_state_dict(theirs.state_dict())
    inputs = make_inputs(cell, (B, I), dtype=torch.float32)
    state = inputs.state if cell.mode == "lstm" else inputs.state[0]
    actual, expected = as_tuple(ours(inputs.x, state)), as_tuple(theirs(inputs.x, state))
    assert_all_close(actual, expected, atol=1e-6, rtol=1e-5)
    actual_grads = grads(actual, [inputs.x, *inputs.state, *ours.parameters()])
    expected_grads = grads(expected, [inputs.x, *inputs.state, *theirs.parameters()])
    assert_all_close(actual_grads, expected_grads, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell_module_parameters_are_named_and_shaped_as_documented(cell: Cell) -> None:
    module = cell.module(5, 7)
    shapes = {name: tuple(p.shape) for name, p in module.named_parameters()}
    assert shapes == dict(zip(cell.weight_names, cell.weight_shapes(5, 7), strict=True))
    bound = 1 / 7**0.5
    assert all(p.abs().max() <= bound for p in module.parameters())


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell_module_state_defaults_to_zeros(cell: Cell) -> None:
    module = cell.module()
    x = torch.randn(B, I)
    zeros = tuple(torch.zeros(B, H) for _ in range(cell.num_states))
    default = as_tuple(module(x))
    assert_all_close(default, as_tuple(module(x, zeros if cell.mode == "lstm" else zeros[0])))
    unbatched = as_tuple(module(x[0]))
    assert_all_close(unbatched, [s[0] for s in default])


@pytest.mark.parametrize("cell", BIASED_CELLS, ids=str)
def test_cell_module_gradients_accumulate_without_aliasing(cell: Cell) -> None:
    """Two backward passes add up in ``.grad`` of every parameter, and no two parameters share
    a gradient tensor (the engine computes one bias gradient for both biases)."""
    module = cell.module()
    x = torch.randn(B, I)
    weighted_sum(as_tuple(module(x))).backward()
    once = {name: p.grad.clone() for name, p in module.named_parameters()}
    weighted_sum(as_tuple(module(x))).backward()
    for name, p in module.named_parameters():
        torch.testing.assert_close(p.grad, 2 * once[name], msg=name)
    pointers = [p.grad.data_ptr() for p in module.parameters()]
    assert len(set(pointers)) == len(pointers)


# ---------------------------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell_module_refuses_x_of_wrong_rank_or_size(cell: Cell) -> None:
    module = cell.module()
    with pytest.raises(ValueError, match=r"^x must have shape \(B, 3\)"):
        module(torch.randn(2, B, I))
    with pytest.raises(ValueError, match=r"^x must have 3 features"):
        module(torch.randn(B, I + 1))


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell_module_refuses_state_of_wrong_shape(cell: Cell) -> None:
    module = cell.module()
    good, bad = torch.zeros(B, H), torch.zeros(B, H + 1)
    if cell.mode == "lstm":
        with pytest.raises(ValueError, match=r"^state\[0\] \(h\) must have shape \(4, 2\)"):
            module(torch.randn(B, I), (bad, good))
        with pytest.raises(ValueError, match=r"^state\[1\] \(c\) must have shape \(4, 2\)"):
            module(torch.randn(B, I), (good, bad))
    else:
        with pytest.raises(ValueError, match=r"^state must have shape \(4, 2\)"):
            module(torch.randn(B, I), bad)


def test_rnn_cell_refuses_unknown_nonlinearity() -> None:
    with pytest.raises(ValueError, match=r"^nonlinearity must be one of \('tanh', 'relu'\)"):
        RNNCell(I, H, nonlinearity="sigmoid")
