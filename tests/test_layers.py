"""Tests of the recurrent layers ``RNN``, ``LSTM`` and ``GRU``: parity with torch.nn over random
configurations (hypothesis), variable and zero lengths, cells against layers, peepholes against
the reference equations, dropout, truncated BPTT, unbatched input, float64 and bad arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from reference import lstm_step, stacked
from torch import Tensor, nn
from torch.autograd import gradcheck
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import RNNCell
from rnnkit.layers import GRU, LSTM, RNN, RecurrentLayer

MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]  # the configurations torch.nn also has
ALL_MODES = [*MODES, "lstm_peephole"]
OURS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}  # float32 parity with torch.nn


def family(mode: str) -> tuple[str, dict]:
    """``"rnn_relu"`` -> ``("rnn", {"nonlinearity": "relu"})``, ``"lstm_peephole"`` ->
    ``("lstm", {"peephole": True})``, ``"gru"`` -> ``("gru", {})``."""
    name, _, variant = mode.partition("_")
    if variant == "peephole":
        return name, {"peephole": True}
    return name, ({"nonlinearity": variant} if variant else {})


def build(mode: str, input_size: int, hidden_size: int, *, torch_nn: bool = False, **kwargs):
    """Our layer of ``mode`` (or torch.nn's with ``torch_nn``), seeded initialisation."""
    name, options = family(mode)
    torch.manual_seed(0)
    return (TORCH if torch_nn else OURS)[name](input_size, hidden_size, **options, **kwargs)


def num_states(mode: str) -> int:
    return 2 if family(mode)[0] == "lstm" else 1


def pack_state(mode: str, parts: Sequence[Tensor]) -> Tensor | tuple[Tensor, ...]:
    """The layers' state layout: ``(h, c)`` for LSTM, ``h`` otherwise."""
    return tuple(parts) if num_states(mode) == 2 else parts[0]


def unpack_state(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def randn(*shape: int, seed: int, dtype=torch.float32, grad: bool = True) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype).requires_grad_(grad)


def loss_weights(tensors: Sequence[Tensor], seed: int = 1234) -> list[Tensor]:
    """Fixed random weights, one tensor for each of ``tensors``, all different."""
    return [
        randn(*t.shape, seed=seed + k, dtype=t.dtype, grad=False) for k, t in enumerate(tensors)
    ]


def weighted_sum(tensors: Sequence[Tensor]) -> Tensor:
    """A loss with its own random weight on every element of every tensor (outputs and final
    states), so that every gradient path contributes and errors cannot cancel out."""
    return sum((t * w).sum() for t, w in zip(tensors, loss_weights(tensors), strict=True))


def assert_all_close(actual: Sequence[Tensor], expected: Sequence[Tensor], names=None, **tol):
    assert len(actual) == len(expected)
    names = names or [str(i) for i in range(len(actual))]
    for name, a, e in zip(names, actual, expected, strict=True):
        torch.testing.assert_close(a, e, msg=lambda m, n=name: f"{n}: {m}", **tol)


def run_torch(module: nn.RNNBase, x: Tensor, state, lengths: Sequence[int] | None):
    """torch.nn as the oracle; variable lengths through a packed sequence."""
    if lengths is None:
        return module(x, state)
    packed = pack_padded_sequence(
        x, torch.as_tensor(lengths), batch_first=module.batch_first, enforce_sorted=False
    )
    out, final = module(packed, state)
    T = x.shape[1] if module.batch_first else x.shape[0]
    out, _ = pad_packed_sequence(out, batch_first=module.batch_first, total_length=T)
    return out, final


# ---------------------------------------------------------------------------------------------
# Parity with torch.nn over random configurations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    mode: str
    num_layers: int
    bidirectional: bool
    batch_first: bool
    bias: bool
    steps: int
    batch: int
    input_size: int
    hidden_size: int
    lengths: tuple[int, ...] | None  # any order, with ties; None = all full
    lengths_as_tensor: bool
    with_state: bool
    copy_from_torch: bool  # load_state_dict torch.nn -> ours, else ours -> torch.nn
    seed: int


@st.composite
def configs(draw) -> Config:
    steps, batch = draw(st.integers(1, 7)), draw(st.integers(1, 5))
    # torch.nn refuses a length of 0, so the oracle sees 1..T here (0 is tested below)
    lengths = draw(st.none() | st.lists(st.integers(1, steps), min_size=batch, max_size=batch))
    return Config(
        mode=draw(st.sampled_from(MODES)),
        num_layers=draw(st.integers(1, 3)),
        bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bias=draw(st.booleans()),
        steps=steps,
        batch=batch,
        input_size=draw(st.integers(1, 5)),
        hidden_size=draw(st.integers(1, 8)),
        lengths=None if lengths is None else tuple(lengths),
        lengths_as_tensor=draw(st.booleans()),
        with_state=draw(st.booleans()),
        copy_from_torch=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


def check_parity_with_torch(config: Config, backend: str) -> None:
    c = config
    options = dict(num_layers=c.num_layers, bias=c.bias, batch_first=c.batch_first,
                   bidirectional=c.bidirectional)  # fmt: skip
    ours = build(c.mode, c.input_size, c.hidden_size, backend=backend, **options)
    theirs = build(c.mode, c.input_size, c.hidden_size, torch_nn=True, **options)
    if c.copy_from_torch:
        ours.load_state_dict(theirs.state_dict())
    else:
        theirs.load_state_dict(ours.state_dict())

    shape = (c.batch, c.steps) if c.batch_first else (c.steps, c.batch)
    x = randn(*shape, c.input_size, seed=c.seed)
    state_shape = (c.num_layers * (2 if c.bidirectional else 1), c.batch, c.hidden_size)
    parts = [randn(*state_shape, seed=c.seed + 1 + k) for k in range(num_states(c.mode))]
    state = pack_state(c.mode, parts) if c.with_state else None
    lengths = c.lengths
    if lengths is not None and c.lengths_as_tensor:
        lengths = torch.tensor(lengths)

    out, final = ours(x, state, lengths=lengths)
    expected_out, expected_final = run_torch(theirs, x, state, c.lengths)
    finals, expected_finals = unpack_state(final), unpack_state(expected_final)
    assert_all_close([out, *finals], [expected_out, *expected_finals], **TOLERANCE)

    names = [name for name, _ in ours.named_parameters()]
    their_params = dict(theirs.named_parameters())
    inputs = [x, *parts] if c.with_state else [x]
    actual = torch.autograd.grad(weighted_sum([out, *finals]), [*inputs, *ours.parameters()])
    expected = torch.autograd.grad(
        weighted_sum([expected_out, *expected_finals]),
        [*inputs, *(their_params[name] for name in names)],
    )
    input_names = ["x", "h0", "c0"][: len(inputs)]
    assert_all_close(actual, expected, [*input_names, *names], **TOLERANCE)


def config(mode: str, lengths: tuple[int, ...] | None, **fields) -> Config:
    """A hand-picked configuration: 2 layers, both directions, batch first, bias, initial state
    and weights copied from torch.nn unless ``fields`` say otherwise."""
    steps = max(lengths) if lengths else 6
    batch = len(lengths) if lengths else 3
    defaults = dict(num_layers=2, bidirectional=True, batch_first=True, bias=True, steps=steps,
                    batch=batch, input_size=3, hidden_size=4, lengths_as_tensor=False,
                    with_state=True, copy_from_torch=True, seed=0)  # fmt: skip
    return Config(mode=mode, lengths=lengths, **{**defaults, **fields})


# Always tried, whatever hypothesis draws: unsorted lengths with ties, both layouts, both ways
# of copying the weights, with and without bias and initial state, 3 layers.
TIES = config("lstm", (3, 1, 3, 4, 1))
TIES_TIME_MAJOR = config(
    "gru", (2, 5, 2, 1), num_layers=3, batch_first=False, bias=False, lengths_as_tensor=True,
    with_state=False, copy_from_torch=False,
)  # fmt: skip
RELU_FULL = config("rnn_relu", None, bidirectional=False, copy_from_torch=False)


@settings(max_examples=40, deadline=None)
@example(TIES)
@example(TIES_TIME_MAJOR)
@example(RELU_FULL)
@given(configs())
def test_rnnkit_backend_matches_torch_nn(config: Config) -> None:
    check_parity_with_torch(config, "rnnkit")


@settings(max_examples=12, deadline=None)
@given(configs(), st.sampled_from(["torch", "auto"]))
def test_torch_and_auto_backends_match_torch_nn(config: Config, backend: str) -> None:
    check_parity_with_torch(config, backend)


# ---------------------------------------------------------------------------------------------
# Length 0
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lengths", [[3, 0, 4, 0, 1], [0, 0]], ids=str)
@pytest.mark.parametrize("backend", ["rnnkit", "torch"])
@pytest.mark.parametrize("mode", MODES)
def test_length_zero_returns_initial_state_and_zero_outputs(
    mode: str, backend: str, lengths: list[int]
) -> None:
    T, B, I, H = 4, len(lengths), 3, 2
    options = dict(num_layers=2, bidirectional=True)
    layer = build(mode, I, H, backend=backend, **options)
    x = randn(B, T, I, seed=0)
    parts = [randn(4, B, H, seed=1 + k) for k in range(num_states(mode))]
    out, final = layer(x, pack_state(mode, parts), lengths=lengths)
    finals = unpack_state(final)
    empty = torch.tensor(lengths) == 0

    assert (out[empty] == 0).all()
    for s, s0 in zip(finals, parts, strict=True):
        assert torch.equal(s[:, empty], s0[:, empty])
    # The final state of an empty sequence is its initial state: the gradient is the identity,
    # and its input gets none.
    _, *weights = loss_weights([out, *finals])
    x_grad, *state_grads = torch.autograd.grad(weighted_sum([out, *finals]), [x, *parts])
    assert (x_grad[empty] == 0).all()
    for grad, weight in zip(state_grads, weights, strict=True):
        torch.testing.assert_close(grad[:, empty], weight[:, empty])

    # The other sequences are as torch.nn computes them without the empty ones.
    keep = ~empty
    if keep.any():
        theirs = build(mode, I, H, torch_nn=True, batch_first=True, **options)
        theirs.load_state_dict(layer.state_dict())
        kept_state = pack_state(mode, [p[:, keep] for p in parts])
        kept_lengths = [n for n in lengths if n]
        expected_out, expected_final = run_torch(theirs, x[keep], kept_state, kept_lengths)
        kept_finals = [s[:, keep] for s in finals]
        assert_all_close([out[keep], *kept_finals], [expected_out, *unpack_state(expected_final)],
                         **TOLERANCE)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Cells against layers, peepholes against the reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ALL_MODES)
def test_looping_the_cell_equals_the_one_layer_network(mode: str) -> None:
    T, B, I, H = 5, 3, 3, 4
    name, options = family(mode)
    torch.manual_seed(0)
    cell = CELLS[name](I, H, **options)
    layer = OURS[name](I, H, batch_first=False, **options)
    layer.load_state_dict({f"{key}_l0": value for key, value in cell.state_dict().items()})
    x = randn(T, B, I, seed=0)
    parts = [randn(B, H, seed=1 + k) for k in range(num_states(mode))]

    state, outputs = pack_state(mode, parts), []
    for t in range(T):
        state = cell(x[t], state)
        outputs.append(unpack_state(state)[0])
    looped = [torch.stack(outputs), *(s.unsqueeze(0) for s in unpack_state(state))]
    out, final = layer(x, pack_state(mode, [p.unsqueeze(0) for p in parts]))
    whole = [out, *unpack_state(final)]
    assert_all_close(whole, looped, atol=1e-6, rtol=1e-5)

    inputs = [x, *parts]
    assert_all_close(
        torch.autograd.grad(weighted_sum(whole), [*inputs, *layer.parameters()]),
        torch.autograd.grad(weighted_sum(looped), [*inputs, *cell.parameters()]),
        atol=1e-6,
        rtol=1e-5,
    )


def test_peephole_lstm_layer_matches_the_reference_network() -> None:
    """Two layers, both directions, unsorted lengths with a 0: outputs, final states and the
    gradients of x, the initial state and every parameter, against autograd through the
    reference equations (torch.nn has no peepholes to compare with)."""
    T, I, H, lengths = 4, 3, 2, [2, 4, 0, 3, 4]
    layer = LSTM(I, H, num_layers=2, bidirectional=True, peephole=True, batch_first=False)
    layer = layer.double()
    x = randn(T, len(lengths), I, seed=0, dtype=torch.float64)
    parts = [randn(4, len(lengths), H, seed=1 + k, dtype=torch.float64) for k in range(2)]
    out, (h_n, c_n) = layer(x, tuple(parts), lengths=lengths)

    def step(layer_index: int, suffix: str):
        names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_peephole"]
        weights = [getattr(layer, f"{name}_l{layer_index}{suffix}") for name in names]
        return lambda x_t, s: lstm_step(x_t, s, *weights)

    steps = [[step(k, ""), step(k, "_reverse")] for k in range(2)]
    expected_out, expected_final = stacked(steps, x, tuple(parts), lengths)
    assert_all_close([out, h_n, c_n], [expected_out, *expected_final])
    inputs = [x, *parts, *layer.parameters()]
    assert_all_close(
        torch.autograd.grad(weighted_sum([out, h_n, c_n]), inputs),
        torch.autograd.grad(weighted_sum([expected_out, *expected_final]), inputs),
        ["x", "h0", "c0", *(name for name, _ in layer.named_parameters())],
    )


@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
def test_float64_layer_passes_gradcheck(peephole: bool) -> None:
    T, I, H, lengths = 4, 2, 2, [3, 1, 4, 0]
    layer = LSTM(I, H, num_layers=2, bidirectional=True, peephole=peephole).double()
    names = [name for name, _ in layer.named_parameters()]
    x = randn(len(lengths), T, I, seed=0, dtype=torch.float64)
    h0, c0 = (randn(4, len(lengths), H, seed=1 + k, dtype=torch.float64) for k in range(2))

    def forward(x: Tensor, h0: Tensor, c0: Tensor, *params: Tensor) -> tuple[Tensor, ...]:
        args = (x, (h0, c0))
        out, (h_n, c_n) = functional_call(layer, dict(zip(names, params, strict=True)), args,
                                          {"lengths": lengths})  # fmt: skip
        assert out.dtype == torch.float64
        return out, h_n, c_n

    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert gradcheck(forward, (x, h0, c0, *params))


# ---------------------------------------------------------------------------------------------
# Dropout, truncated BPTT, unbatched input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["rnnkit", "torch"])
@pytest.mark.parametrize("mode", MODES)
def test_dropout_is_active_only_in_training(mode: str, backend: str) -> None:
    layer = build(mode, 3, 8, num_layers=2, dropout=0.5, backend=backend)
    plain = build(mode, 3, 8, num_layers=2, backend=backend)
    plain.load_state_dict(layer.state_dict())
    x = randn(4, 5, 3, seed=0, grad=False)

    first, _ = layer.train()(x)
    second, _ = layer(x)
    assert not torch.allclose(first, second)
    assert not torch.allclose(first, plain(x)[0])

    layer.eval()
    first, state = layer(x)
    second, _ = layer(x)
    assert torch.equal(first, second)
    expected, expected_state = plain(x)
    assert_all_close([first, *unpack_state(state)], [expected, *unpack_state(expected_state)])


@pytest.mark.parametrize(
    ("mode", "backend"),
    [*((mode, "rnnkit") for mode in ALL_MODES), *((mode, "torch") for mode in MODES)],
)
def test_truncated_bptt_with_detached_state_equals_one_call(mode: str, backend: str) -> None:
    layer = build(mode, 3, 4, num_layers=2, backend=backend)
    x = randn(3, 7, 3, seed=0, grad=False)
    state = pack_state(mode, [randn(2, 3, 4, seed=1 + k) for k in range(num_states(mode))])
    whole, whole_final = layer(x, state)

    chunks = []
    for start, stop in [(0, 3), (3, 5), (5, 7)]:
        out, state = layer(x[:, start:stop], state)
        state = pack_state(mode, [s.detach() for s in unpack_state(state)])
        chunks.append(out)
    assert_all_close([torch.cat(chunks, 1), *unpack_state(state)],
                     [whole, *unpack_state(whole_final)], atol=1e-6, rtol=1e-5)  # fmt: skip


@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch-first", "time-major"])
@pytest.mark.parametrize("mode", MODES)
def test_unbatched_input_works_like_torch_nn(mode: str, batch_first: bool, with_state: bool):
    options = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    ours = build(mode, 3, 4, **options)
    theirs = build(mode, 3, 4, torch_nn=True, **options)
    theirs.load_state_dict(ours.state_dict())
    x = randn(5, 3, seed=0)
    parts = [randn(4, 4, seed=1 + k) for k in range(num_states(mode))]
    state = pack_state(mode, parts) if with_state else None

    out, final = ours(x, state)
    expected_out, expected_final = theirs(x, state)
    assert out.shape == expected_out.shape == (5, 8)
    assert_all_close([out, *unpack_state(final)], [expected_out, *unpack_state(expected_final)],
                     **TOLERANCE)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------------------------

SHAPE = r"\(num_layers\*num_directions, B, H\)"
BAD_CONSTRUCTIONS = {
    "I=0": (lambda: GRU(0, 4), r"^input_size must be a positive integer, got 0"),
    "H<0": (lambda: RNN(3, -2), r"^hidden_size must be a positive integer, got -2"),
    "L=0": (lambda: LSTM(3, 4, 0), r"^num_layers must be an integer >= 1, got 0"),
    "p<0": (lambda: GRU(3, 4, dropout=-0.1), r"^dropout must be in \[0, 1\], got -0.1"),
    "p>1": (lambda: LSTM(3, 4, dropout=1.5), r"^dropout must be in \[0, 1\], got 1.5"),
    "backend": (lambda: RNN(3, 4, backend="cuda"), r"^backend must be one of .*got 'cuda'"),
    "peephole-torch": (
        lambda: LSTM(3, 4, peephole=True, backend="torch"),
        r"^backend='torch' cannot run peephole=True",
    ),
    "nonlinearity": (
        lambda: RNN(3, 4, nonlinearity="gelu"),
        r"^nonlinearity must be one of \('tanh', 'relu'\), got 'gelu'",
    ),
    "L-float": (lambda: LSTM(3, 4, 2.0), r"^num_layers must be an integer, got 2.0"),
    "proj_size": (lambda: LSTM(3, 4, proj_size=2), r"^proj_size: rnnkit has no projected LSTM"),
    "proj_size-gru": (
        lambda: GRU(3, 4, proj_size=2),
        r"^proj_size exists only for LSTM, not GRU",
    ),
}


@pytest.mark.parametrize(
    ("construct", "message"), BAD_CONSTRUCTIONS.values(), ids=BAD_CONSTRUCTIONS.keys()
)
def test_bad_constructor_arguments_are_refused(construct, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        construct()


@pytest.mark.parametrize("mode", ["rnn_relu", "lstm", "gru"])
def test_the_constructor_takes_torch_nn_arguments_in_torch_nn_order(mode: str) -> None:
    """Code written for torch.nn: positional bias / batch_first / dropout / bidirectional
    (and RNN's nonlinearity before them), ``device=`` and ``dtype=``, ``flatten_parameters()``
    and ``all_weights``."""
    name, options = family(mode)
    head = (options["nonlinearity"],) if name == "rnn" else ()
    args = (3, 4, numpy.int64(2), *head, False, False, 1.0, True, 0, "cpu", torch.float64)
    ours = OURS[name](*args)
    peer = TORCH[name](*args)
    assert (ours.mode, ours.proj_size) == (peer.mode, peer.proj_size)
    assert (ours.bias, ours.batch_first, ours.dropout, ours.bidirectional) == (
        False, False, 1.0, True
    )  # fmt: skip
    assert {n: p.dtype for n, p in ours.named_parameters()} == {
        n: p.dtype for n, p in peer.named_parameters()
    }
    ours.load_state_dict(peer.state_dict())
    ours.flatten_parameters()
    assert [[w.shape for w in ws] for ws in ours.all_weights] == [
        [w.shape for w in ws] for ws in peer.all_weights
    ]
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    ours.train(), peer.train()  # dropout 1.0 between the layers: the second layer sees zeros
    torch.testing.assert_close(ours(x)[0], peer(x)[0])
    meta = OURS[name](3, 4, device="meta")
    assert all(p.is_meta for p in meta.parameters())


@pytest.mark.parametrize("layer_class", [RNN, GRU])
def test_peephole_is_refused_outside_the_lstm(layer_class: type[RecurrentLayer]) -> None:
    """Only the LSTM has peepholes; anything else would register a parameter nothing uses."""
    with pytest.raises((TypeError, ValueError), match="peephole"):
        layer_class(3, 4, peephole=True)


def call(mode: str, x_shape: tuple[int, ...], state=None, lengths=None, batch_first=True):
    """Call a fresh 1-layer layer (I=3, H=4) of ``mode`` on zeros of ``x_shape``."""
    layer: RecurrentLayer = build(mode, 3, 4, batch_first=batch_first)
    return layer(torch.zeros(x_shape), state, lengths=lengths)


def zeros(*shape: int) -> Tensor:
    return torch.zeros(shape)


BAD_CALLS = {
    "x-float32-layer-float64": (
        lambda: LSTM(3, 4).double()(torch.randn(2, 5, 3)),
        r"^x has dtype torch.float32 but the layer's weights are torch.float64: convert x",
    ),
    "x-float64-layer-float32": (
        lambda: GRU(3, 4)(torch.randn(2, 5, 3, dtype=torch.float64)),
        r"^x has dtype torch.float64 but .* or the layer \(layer.to\(torch.float64\)\)",
    ),
    "x-rank-4": (
        lambda: call("gru", (2, 5, 3, 1)),
        r"^x must have shape \(B, T, I\) with I=3 .*got \(2, 5, 3, 1\)",
    ),
    "x-rank-1": (
        lambda: call("gru", (3,), batch_first=False),
        r"^x must have shape \(T, B, I\) with I=3 .*got \(3,\)",
    ),
    "x-features": (
        lambda: call("rnn", (2, 5, 2)),
        r"^x must have 3 features in its last dimension .*got \(2, 5, 2\)",
    ),
    "lengths>T": (
        lambda: call("lstm", (2, 5, 3), lengths=[6, 1]),
        r"^lengths must lie in \[0, T\] = \[0, 5\], got min 1 and max 6",
    ),
    "lengths<0": (
        lambda: call("gru", (2, 5, 3), lengths=torch.tensor([-1, 2])),
        r"^lengths must lie in \[0, T\] = \[0, 5\], got min -1",
    ),
    "lengths-count": (
        lambda: call("rnn", (2, 5, 3), lengths=[5]),
        r"^lengths must have shape \(B,\) = \(2,\), got \(1,\)",
    ),
    "lengths-float": (
        lambda: call("lstm", (2, 5, 3), lengths=[2.0, 3.0]),
        r"^lengths must be integers",
    ),
    "lengths-float-tensor": (
        lambda: call("gru", (2, 5, 3), lengths=torch.tensor([2.0, 3.0])),
        r"^lengths must be integers",
    ),
    "state-size": (
        lambda: call("gru", (2, 5, 3), state=zeros(1, 2, 5)),
        rf"^state must have shape {SHAPE} = \(1, 2, 4\), got \(1, 2, 5\)",
    ),
    "state-layers": (
        lambda: call("rnn", (2, 5, 3), state=zeros(2, 2, 4)),
        rf"^state must have shape {SHAPE} = \(1, 2, 4\), got \(2, 2, 4\)",
    ),
    "lstm-h-shape": (
        lambda: call("lstm", (2, 5, 3), state=(zeros(1, 3, 4), zeros(1, 2, 4))),
        rf"^state\[0\] \(h\) must have shape {SHAPE} = \(1, 2, 4\)",
    ),
    "lstm-c-shape": (
        lambda: call("lstm", (2, 5, 3), state=(zeros(1, 2, 4), zeros(2, 4))),
        rf"^state\[1\] \(c\) must have shape {SHAPE} = \(1, 2, 4\)",
    ),
    "lstm-state-tensor": (
        lambda: call("lstm", (2, 5, 3), state=zeros(1, 2, 4)),
        r"^state of an LSTM must be a tuple \(h, c\)",
    ),
    "lstm-state-triple": (
        lambda: call("lstm", (2, 5, 3), state=(zeros(1, 2, 4),) * 3),
        r"^state of an LSTM must be a tuple \(h, c\)",
    ),
    "gru-state-tuple": (
        lambda: call("gru", (2, 5, 3), state=(zeros(1, 2, 4),)),
        r"^state must be a tensor of shape \(1, 2, 4\)",
    ),
    "state-dtype": (  # (auto gave float64 to torch.nn's C++ check without a gradient)
        lambda: call("gru", (2, 5, 3), state=zeros(1, 2, 4).double()),
        r"^state has dtype torch.float64 but x is torch.float32",
    ),
    "lstm-c-dtype": (
        lambda: call("lstm", (2, 5, 3), state=(zeros(1, 2, 4), zeros(1, 2, 4).long())),
        r"^state\[1\] \(c\) has dtype torch.int64 but x is torch.float32",
    ),
    "unbatched-3d-state": (
        lambda: call("rnn", (5, 3), state=zeros(1, 1, 4)),
        r"^state must have shape \(num_layers\*num_directions, H\) = \(1, 4\) for an unbatched",
    ),
    "state-and-hx": (
        lambda: GRU(3, 4)(torch.randn(2, 5, 3), zeros(1, 2, 4), hx=zeros(1, 2, 4)),
        r"^give the state as state or as hx",
    ),
    "lengths-none": (
        lambda: call("lstm", (3, 5, 3), lengths=[1, None, 2]),
        r"^lengths must be B integers, got \[1, None, 2\]",
    ),
}


@pytest.mark.parametrize(("bad_call", "message"), BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_call_arguments_are_refused(bad_call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bad_call()


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru", "peephole"])
def test_inference_path_matches_the_training_path(mode: str) -> None:
    """Without a gradient the engine runs its forward loop without keeping the backward's
    tensors; the results must be those of the autograd path."""
    torch.manual_seed(3)
    cls = {"rnn": rnnkit.RNN, "lstm": rnnkit.LSTM, "gru": rnnkit.GRU, "peephole": rnnkit.LSTM}
    kwargs = {"peephole": True} if mode == "peephole" else {}
    layer = cls[mode](3, 5, 2, bidirectional=True, backend="rnnkit", **kwargs)
    x, lengths = torch.randn(4, 6, 3), [6, 0, 2, 5]
    out, state = layer(x, lengths=lengths)
    assert out.requires_grad
    with torch.no_grad():
        out_inf, state_inf = layer(x, lengths=lengths)
    assert not out_inf.requires_grad
    torch.testing.assert_close(out_inf, out.detach(), atol=1e-6, rtol=1e-6)
    for a, b in zip(rnnkit.state_to_tensor(state_inf), rnnkit.state_to_tensor(state), strict=True):
        torch.testing.assert_close(a, b.detach(), atol=1e-6, rtol=1e-6)


def test_auto_backend_follows_the_measured_rules() -> None:
    from rnnkit.backend import choose_backend, engine_is_fast

    x = torch.randn(4, 6, 3)
    x_time_major = x.transpose(0, 1)  # what the layers pass on: (T, B, I)
    fast = engine_is_fast(x_time_major)
    expected = {
        LSTM(3, 5): "rnnkit" if fast else "torch",  # training: parameters require grad
        LSTM(3, 5, peephole=True): "rnnkit",
        GRU(3, 5): "rnnkit" if fast else "torch",
        RNN(3, 5): "rnnkit" if fast else "torch",
        LSTM(3, 5, backend="rnnkit"): "rnnkit",
        GRU(3, 5, backend="torch"): "torch",
    }
    for layer, backend in expected.items():
        assert choose_backend(layer, x_time_major, None) == backend, layer
    big_step = torch.randn(6, 128, 3)  # B·H = 128 · 512: torch.nn's kernel trains as fast
    assert choose_backend(LSTM(3, 512), big_step, None) == "torch"
    with torch.no_grad():  # batched LSTM inference: torch.nn's oneDNN kernel
        assert choose_backend(LSTM(3, 5), x_time_major, None) == "torch"
        assert choose_backend(RNN(3, 5), x_time_major, None) == ("rnnkit" if fast else "torch")
        one_sequence = x_time_major[:, :1]  # B = 1: rnnkit's loop has the lower latency
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(2)
            assert choose_backend(LSTM(3, 5), one_sequence, None) == ("rnnkit" if fast else "torch")
            torch.set_num_threads(1)  # ... but not on one thread (W_hh streams from L3)
            assert choose_backend(LSTM(3, 5), one_sequence, None) == "torch"
        finally:
            torch.set_num_threads(threads)
    assert choose_backend(GRU(3, 5).double(), x_time_major.double(), None) == "torch"
