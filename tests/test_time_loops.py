"""The compiled time loops with two threads, in both ways of sharing the work.

The other engine tests use sizes so small that a loop runs on one thread. Here the sizes are
chosen so that the team of two threads shares the sequences (W_hh fits in a core's cache and
there are enough of them: no barrier) or the blocks of hidden units (a large W_hh, or B = 1:
one barrier a step, activations exchanged between the cores), with hidden sizes that are not
multiples of the 16-unit blocks, and with sequences of different lengths. Each is held to
torch.nn with the same weights, and to the same loop on one thread.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.cells import fused

pytestmark = pytest.mark.skipif(fused.KERNELS is None, reason="no compiled loops here")

CELLS = {
    "lstm": (rnnkit.LSTM, nn.LSTM, {}),
    "gru": (rnnkit.GRU, nn.GRU, {}),
    "rnn_tanh": (rnnkit.RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnnkit.RNN, nn.RNN, {"nonlinearity": "relu"}),
}
SHAPES = {  # (B, T, I, H): how two threads share the work
    "sequences": (40, 6, 5, 72),  # W_hh fits a core's cache, enough sequences
    "units": (3, 5, 4, 300),  # a W_hh too large for one core's cache: blocks of units
    "one_sequence": (1, 7, 6, 260),  # B = 1: units, with a partial last block
}


@pytest.fixture
def two_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def run(layer: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None):
    """Outputs, final state and every gradient (input and parameters) of one layer."""
    x = x.detach().requires_grad_()
    if isinstance(layer, rnnkit.RNN | rnnkit.LSTM | rnnkit.GRU):
        out, state = layer(x, lengths=lengths)
    elif lengths is None:
        out, state = layer(x)
    else:
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)  # fmt: skip
        out, state = layer(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    states = state if isinstance(state, tuple) else (state,)
    weights = torch.linspace(-1, 1, out.numel()).view_as(out)  # every output matters
    loss = (out * weights).sum() + sum((s * s).sum() for s in states)
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    return [out.detach(), *(s.detach() for s in states), *grads]


@pytest.mark.parametrize("variable", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
@pytest.mark.parametrize("cell", list(CELLS), ids=list(CELLS))
def test_two_threads_match_torch_nn_and_one_thread(
    cell: str, shape: str, variable: bool, two_threads: None
) -> None:
    ours_class, peer_class, kwargs = CELLS[cell]
    B, T, I, H = SHAPES[shape]
    torch.manual_seed(0)
    peer = peer_class(I, H, batch_first=True, **kwargs)
    ours = ours_class(I, H, backend="rnnkit", **kwargs)
    ours.load_state_dict(peer.state_dict())
    x = torch.randn(B, T, I)
    lengths = torch.randint(1, T + 1, (B,)) if variable else None
    if lengths is not None:
        lengths[0] = T  # at least one full-length sequence, as pad_packed_sequence needs

    expected = run(peer, x, lengths)
    two = run(ours, x, lengths)
    for index, (a, e) in enumerate(zip(two, expected, strict=True)):
        torch.testing.assert_close(a, e, atol=1e-5, rtol=1e-4, msg=f"item {index}")
    torch.set_num_threads(1)
    one = run(ours, x, lengths)
    for index, (a, b) in enumerate(zip(two, one, strict=True)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=f"item {index}")


def test_peephole_lstm_with_two_threads_matches_one(two_threads: None) -> None:
    torch.manual_seed(0)
    for B, T, I, H in SHAPES.values():
        layer = rnnkit.LSTM(I, H, peephole=True, backend="rnnkit")
        x = torch.randn(B, T, I)
        lengths = torch.randint(0, T + 1, (B,))  # a length of 0 too
        torch.set_num_threads(2)
        two = run(layer, x, lengths)
        torch.set_num_threads(1)
        one = run(layer, x, lengths)
        for index, (a, b) in enumerate(zip(two, one, strict=True)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=f"{B, H}: item {index}")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
def test_lstm_weight_grads_in_the_loop_match_the_products_after_it(
    threads: int, peephole: bool, two_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The LSTM backward makes δx, δW_ih and δW_hh inside the loop when they fit a core's
    cache (``fused.weight_grads_in_loop``), else with products after it: both agree, with
    sequences of different lengths (a length of 0 too) and an input that needs no gradient."""
    torch.set_num_threads(threads)
    B, T, I, H = 40, 6, 21, 72  # I and H not multiples of the 16-unit blocks
    assert fused.weight_grads_in_loop(B, H, I)
    torch.manual_seed(0)
    layer = rnnkit.LSTM(I, H, peephole=peephole, backend="rnnkit")
    x = torch.randn(B, T, I)
    lengths = torch.randint(0, T + 1, (B,))
    inside = run(layer, x, lengths)
    monkeypatch.setattr(fused, "weight_grads_in_loop", lambda *sizes: False)
    after = run(layer, x, lengths)
    for index, (a, b) in enumerate(zip(inside, after, strict=True)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=f"item {index}")
    assert inside[-1].abs().sum() > 0  # the gradients are not all zero
    # the input without a gradient: the loop skips δx
    monkeypatch.undo()
    out, _ = layer(x, lengths=lengths)
    grads = torch.autograd.grad(out.sum(), list(layer.parameters()))
    monkeypatch.setattr(fused, "weight_grads_in_loop", lambda *sizes: False)
    out, _ = layer(x, lengths=lengths)
    for a, b in zip(grads, torch.autograd.grad(out.sum(), list(layer.parameters())), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_the_loops_activations_are_tanh_and_the_sigmoid_to_float32_precision() -> None:
    """kernel_math.h's rational tanh (and the sigmoid made from it) over [-20, 20], read
    through one step of each cell with W_hh = 0 and h_0 = 0: the RNN's h = tanh(a), the GRU's
    h = (1 - z) n with n = tanh(a_n) and z = σ(a_z), against float64."""
    a = torch.linspace(-20, 20, 4001)
    with torch.no_grad():
        rnn = rnnkit.RNN(1, 4001, bias=True)
        rnn.weight_ih_l0.zero_(), rnn.weight_hh_l0.zero_(), rnn.bias_hh_l0.zero_()
        rnn.bias_ih_l0.copy_(a)
        h, _ = rnn(torch.zeros(1, 1, 1))
        assert (h.double().view(-1) - torch.tanh(a.double())).abs().max() < 4e-7
        # past |a| = 9 (the clamp) rounding may give 1 + 1 ulp: the backward's slopes stop at 0
        assert h.abs().max() <= 1.0 + 2.4e-7
        gru = rnnkit.GRU(1, 4001, bias=True)
        gru.weight_ih_l0.zero_(), gru.weight_hh_l0.zero_(), gru.bias_hh_l0.zero_()
        # gates r, z, n: r does not matter (b_hn = 0), z = σ(a), n = tanh(1) = 0.7616
        gru.bias_ih_l0.copy_(torch.cat([torch.zeros(4001), a, torch.ones(4001)]))
        h, _ = gru(torch.zeros(1, 1, 1))
        expected = (1 - torch.sigmoid(a.double())) * torch.tanh(torch.tensor(1.0).double())
        assert (h.double().view(-1) - expected).abs().max() < 4e-7


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "sizes",
    [(1100, 37, 28, 13), (513, 7, 5, 0), (1025, 130, 100, 33), (3, 6, 1, 1), (600, 1, 17, 16)],
    ids=["odd", "one_input", "several_chunks", "tiny", "one_row"],
)
def test_blocked_weight_grads_match_float64(
    sizes: tuple[int, int, int, int], threads: int, two_threads: None
) -> None:
    """``weight_grads.c``, δW = δaᵀ [x | h], against float64: rows (M) not a whole number of
    its 512-row blocks, pre-activations (N) not whole tiles of 6 nor chunks of 96, widths not
    multiples of 16, and a single input (H = 0)."""
    torch.set_num_threads(threads)
    M, N, I, H = sizes
    torch.manual_seed(0)
    grad, x = torch.randn(M, N), torch.randn(M, I)
    h = torch.randn(M, H) if H else None
    got = fused.weight_grads(grad, x, h)
    inputs = [x] if h is None else [x, h]
    assert len(got) == len(inputs)
    for product, inputs_ in zip(got, inputs, strict=True):
        expected = grad.double().t() @ inputs_.double()
        torch.testing.assert_close(product.double(), expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_layers_with_the_blocked_weight_grads_match_torch_nn(
    cell: str, two_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The layers' backward with every weight gradient from the blocked product (used above
    ``matmul._BLOCKED_WORK`` multiply-adds: here from the first), with sequences of different
    lengths, against torch.nn with the same weights."""
    from rnnkit.cells import matmul

    monkeypatch.setattr(matmul, "_BLOCKED_WORK", 0)
    monkeypatch.setattr(fused, "weight_grads_in_loop", lambda *sizes: False)
    ours_class, peer_class, kwargs = CELLS[cell]
    B, T, I, H = 9, 7, 20, 37
    torch.manual_seed(0)
    peer = peer_class(I, H, batch_first=True, **kwargs)
    ours = ours_class(I, H, backend="rnnkit", **kwargs)
    ours.load_state_dict(peer.state_dict())
    x = torch.randn(B, T, I)
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0] = T
    calls = []
    blocked = fused.weight_grads
    monkeypatch.setattr(fused, "weight_grads", lambda *a: calls.append(1) or blocked(*a))
    for index, (a, e) in enumerate(zip(run(ours, x, lengths), run(peer, x, lengths), strict=True)):
        torch.testing.assert_close(a, e, atol=1e-5, rtol=1e-4, msg=f"item {index}")
    assert calls  # the blocked product made the weight gradients
