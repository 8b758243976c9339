"""The layers and cells under PyTorch's own machinery, as a torch.nn user calls them:
``torch.compile``, ``torch.autocast``, parametrized and pruned weights, an empty batch."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils import prune
from torch.nn.utils.parametrizations import weight_norm

import rnnkit
from rnnkit.backend import choose_backend

pytestmark = pytest.mark.usefixtures("one_thread")

LAYERS = {"rnn": rnnkit.RNN, "lstm": rnnkit.LSTM, "gru": rnnkit.GRU}
CELLS = {"rnn": rnnkit.RNNCell, "lstm": rnnkit.LSTMCell, "gru": rnnkit.GRUCell}


def first(output):
    return output[0] if isinstance(output, tuple) else output


@pytest.mark.parametrize("backend", ["rnnkit", "auto"])
@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru", "peephole"])
def test_compiled_layers_give_the_eager_outputs_and_gradients(mode: str, backend: str) -> None:
    """Before, the compiled loops' raw data pointers were traced on the compiler's placeholder
    tensors: NaN or 1e30 out of a compiled GRU. The engine now runs eagerly inside a
    compiled model (a graph break); ``aot_eager`` also compiles the backward around it."""
    torch.manual_seed(0)
    kwargs = {"peephole": True} if mode == "peephole" else {}
    layer = LAYERS["lstm" if mode == "peephole" else mode](8, 16, backend=backend, **kwargs)
    x = torch.randn(4, 10, 8, requires_grad=True)
    out, _ = layer(x, lengths=[10, 3, 7, 1])
    expected = torch.autograd.grad(out.square().sum(), [x, *layer.parameters()])
    torch._dynamo.reset()
    compiled = torch.compile(layer, backend="aot_eager")
    out_c, _ = compiled(x, lengths=[10, 3, 7, 1])
    torch.testing.assert_close(out_c, out, atol=1e-6, rtol=1e-6)
    grads = torch.autograd.grad(out_c.square().sum(), [x, *layer.parameters()])
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x)[0], layer(x)[0], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_compiled_cells_give_the_eager_state(mode: str) -> None:
    torch.manual_seed(0)
    cell = CELLS[mode](8, 16)
    x = torch.randn(4, 8)
    torch._dynamo.reset()
    torch.testing.assert_close(first(torch.compile(cell, backend="eager")(x)), first(cell(x)))


@pytest.mark.parametrize("backend", ["auto", "rnnkit", "torch"])
@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru", "peephole"])
def test_autocast_runs_and_trains(mode: str, backend: str) -> None:
    """A bfloat16 input from a layer before, under ``torch.autocast``: ``auto`` hands the
    call to torch.nn, which runs in bfloat16; the engine (asked for, or for peepholes,
    which torch.nn lacks) runs in its weights' float32. Before, RNN and GRU stopped with
    "compiled loops need contiguous float32 tensors"."""
    if mode == "peephole" and backend == "torch":
        pytest.skip("torch.nn has no peepholes")
    torch.manual_seed(0)
    kwargs = {"peephole": True} if mode == "peephole" else {}
    layer = LAYERS["lstm" if mode == "peephole" else mode](8, 16, backend=backend, **kwargs)
    before = nn.Linear(8, 8)
    x = torch.randn(4, 10, 8)
    reference, _ = layer(before(x))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = layer(before(x), lengths=[10, 3, 7, 1])
        assert before(x).dtype == torch.bfloat16
        if mode != "peephole":
            picked = choose_backend(layer, before(x).transpose(0, 1), None)
            assert picked == ("torch" if backend == "auto" else backend)
    low_precision = backend == "torch" or (backend == "auto" and mode != "peephole")
    assert out.dtype == (torch.bfloat16 if low_precision else torch.float32)
    out.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())
    full = torch.tensor([0])  # the first sequence has every step: compare it
    torch.testing.assert_close(out.float()[full], reference[full], atol=0.05, rtol=0.05)


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_cells_under_autocast_run_in_float32(mode: str) -> None:
    cell = CELLS[mode](8, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        state = first(cell(nn.Linear(8, 8)(torch.randn(4, 8))))
    assert state.dtype == torch.float32 and state.shape == (4, 16)


@pytest.mark.parametrize("backend", ["auto", "rnnkit", "torch"])
@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_weight_norm_and_pruning_work_on_every_backend(mode: str, backend: str) -> None:
    """A parametrized weight is computed on attribute access: torch.nn's kernel used to be
    given the names of ``named_parameters()`` ("parametrizations.weight_hh_l0.original"),
    so evaluation (where ``auto`` picks it for an LSTM) stopped."""
    torch.manual_seed(0)
    ours = weight_norm(LAYERS[mode](8, 16, backend=backend), "weight_hh_l0")
    peer = weight_norm(getattr(nn, mode.upper())(8, 16, batch_first=True), "weight_hh_l0")
    peer.load_state_dict(ours.state_dict())
    x = torch.randn(4, 10, 8)
    torch.testing.assert_close(ours(x)[0], peer(x)[0], atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], peer(x)[0], atol=1e-5, rtol=1e-5)
    pruned = prune.l1_unstructured(LAYERS[mode](8, 16, backend=backend), "weight_ih_l0", 0.5)
    mask = pruned.weight_ih_l0_mask
    reference = LAYERS[mode](8, 16, backend=backend)
    state = {k: v for k, v in pruned.state_dict().items() if not k.endswith("_mask")}
    state["weight_ih_l0"] = state.pop("weight_ih_l0_orig") * mask
    reference.load_state_dict(state)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x)[0], reference(x)[0])


@pytest.mark.parametrize("backend", ["auto", "rnnkit", "torch"])
@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_an_empty_batch_gives_empty_outputs(mode: str, backend: str) -> None:
    """As torch.nn: a batch of 0 sequences (the last batch of a filtered data set). Before,
    the engine's RNN and GRU stopped reshaping 0 elements."""
    layer = LAYERS[mode](8, 16, num_layers=2, bidirectional=True, backend=backend)
    x = torch.randn(0, 10, 8, requires_grad=True)
    out, state = layer(x)
    assert out.shape == (0, 10, 32) and first(state).shape == (4, 0, 16)
    out.sum().backward()
    with torch.no_grad():
        assert layer(x, lengths=[])[0].shape == (0, 10, 32)
    cell = CELLS[mode](8, 16)
    assert first(cell(torch.randn(0, 8))).shape == (0, 16)


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_cells_take_torch_nn_arguments_in_torch_nn_order(mode: str) -> None:
    head = ("relu",) if mode == "rnn" else ()  # RNNCell(I, H, bias, nonlinearity, ...)
    peer = getattr(nn, f"{mode.upper()}Cell")(3, 4, False, *head, "cpu", torch.float64)
    ours = CELLS[mode](3, 4, False, *head, "cpu", torch.float64)
    ours.load_state_dict(peer.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64)
    torch.testing.assert_close(first(ours(x)), first(peer(x)))
    assert all(p.is_meta for p in CELLS[mode](3, 4, device="meta").parameters())


@pytest.mark.parametrize("enforce_sorted", [False, True], ids=["unsorted", "sorted"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch-first", "time-major"])
@pytest.mark.parametrize("backend", ["rnnkit", "torch"])
@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_a_packed_sequence_is_taken_and_given_back_as_torch_nn_does(
    mode: str, backend: str, batch_first: bool, enforce_sorted: bool
) -> None:
    from torch.nn.utils.rnn import pack_padded_sequence

    torch.manual_seed(0)
    ours = LAYERS[mode](3, 5, 2, batch_first=batch_first, bidirectional=True, backend=backend)
    peer = getattr(nn, mode.upper())(3, 5, 2, batch_first=batch_first, bidirectional=True)
    peer.load_state_dict(ours.state_dict())
    lengths = [6, 4, 4, 1] if enforce_sorted else [4, 6, 1, 4]
    x = torch.randn(4, 6, 3) if batch_first else torch.randn(6, 4, 3)
    packed = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=enforce_sorted)
    h0 = torch.randn(4, 4, 5)  # in the batch's order, as torch.nn takes it
    state = (h0, torch.randn(4, 4, 5)) if mode == "lstm" else h0
    out, final = ours(packed, state)
    expected_out, expected_final = peer(packed, state)
    assert torch.equal(out.batch_sizes, expected_out.batch_sizes)
    for a, b in ((out.sorted_indices, expected_out.sorted_indices),
                 (out.unsorted_indices, expected_out.unsorted_indices)):  # fmt: skip
        assert (a is None and b is None) or torch.equal(a, b)
    torch.testing.assert_close(out.data, expected_out.data, atol=1e-5, rtol=1e-5)
    for a, b in zip(
        final if mode == "lstm" else (final,),
        expected_final if mode == "lstm" else (expected_final,),
        strict=True,
    ):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    grad = torch.autograd.grad(out.data.sum(), ours.weight_ih_l0)[0]
    expected_grad = torch.autograd.grad(expected_out.data.sum(), peer.weight_ih_l0)[0]
    torch.testing.assert_close(grad, expected_grad, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="a PackedSequence carries its own"):
        ours(packed, lengths=lengths)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn"])
def test_a_gradient_of_a_gradient_is_refused_not_silently_lost(mode: str) -> None:
    """A gradient penalty through the hand-written backward came back as a constant (its own
    gradient silently lost, the weights' gradients off by up to 6.6); now it is an error, and
    backend="torch" computes it."""
    torch.manual_seed(0)
    layer = rnnkit.make_recurrent(mode, 3, 4, backend="rnnkit")
    x = torch.randn(2, 5, 3, requires_grad=True)
    out, _ = layer(x)
    with pytest.raises(RuntimeError, match=r"create_graph=True.*backend='torch'"):
        torch.autograd.grad(out.sum(), x, create_graph=True)
    out, _ = layer(x)
    (grad,) = torch.autograd.grad(out.sum(), x)  # once: as before
    torch_layer = rnnkit.make_recurrent(mode, 3, 4, backend="torch")
    torch_layer.load_state_dict(layer.state_dict())
    out, _ = torch_layer(x)
    (twice,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    assert twice.requires_grad
    torch.testing.assert_close(twice.detach(), grad)


@pytest.mark.filterwarnings("ignore:There is a performance drop")  # (torch.nn's LSTM in vmap)
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn"])
def test_torch_func_transforms_run_on_auto_and_are_refused_by_the_engine(mode: str) -> None:
    """``torch.func.grad`` and per-sample gradients (``vmap``) failed inside the engine's
    autograd.Function with PyTorch's message about ``setup_context``: ``auto`` now gives
    such calls to torch.nn, and the engine itself says what to do."""
    torch.manual_seed(0)
    layer = rnnkit.make_recurrent(mode, 3, 4)
    x = torch.randn(2, 5, 3)
    params = dict(layer.named_parameters())

    def loss(p, inputs):
        return torch.func.functional_call(layer, p, (inputs,))[0].square().sum()

    grads = torch.func.grad(loss)(params, x)
    expected = torch.autograd.grad(loss(params, x), list(params.values()))
    for got, want in zip(grads.values(), expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    per_sample = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0))(params, x[:, None])
    first_sample = torch.autograd.grad(loss(params, x[:1]), list(params.values()))
    torch.testing.assert_close(per_sample["weight_hh_l0"][0], first_sample[1], atol=1e-5, rtol=1e-5)
    engine = rnnkit.make_recurrent(mode, 3, 4, backend="rnnkit")
    with pytest.raises(RuntimeError, match=r"torch.func transform.*backend='torch'"):
        torch.func.grad(lambda p: torch.func.functional_call(engine, p, (x,))[0].sum())(
            dict(engine.named_parameters())
        )
    with pytest.raises(RuntimeError, match=r"torch.func transform"):
        torch.func.grad(
            lambda h: CELLS[mode](3, 4)(x[:, 0], h if mode != "lstm" else (h, h))[0].sum()
        )(torch.zeros(2, 4))


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("mode", ["gru", "rnn"])
def test_the_output_may_be_changed_in_place_as_torch_nn_allows(mode: str, batch_first: bool):
    """An in-place dropout or ReLU after a one-way GRU/RNN failed ("Output 0 of GRUFunction
    is a view ... modified inplace"); torch.nn's output is a tensor of its own."""
    torch.manual_seed(0)
    ours = LAYERS[mode](3, 4, batch_first=batch_first, backend="rnnkit")
    peer = getattr(nn, mode.upper())(3, 4, batch_first=batch_first)
    peer.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 3)
    grads = []
    for layer in (ours, peer):
        torch.manual_seed(1)
        out, _ = layer(x)
        nn.Dropout(0.5, inplace=True)(out).relu_().sum().backward()
        grads.append([p.grad for p in layer.parameters()])
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("backend", ["auto", "rnnkit", "torch"])
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn"])
def test_a_sequence_of_no_steps_returns_the_initial_state(mode, backend, dtype) -> None:
    """T = 0 returned h_0 on one engine, raised an IndexError in another's backward and
    torch.nn's "Expected sequence length to be larger than 0" on a third: now every engine
    gives no output and the initial state, with its gradient."""
    layer = LAYERS[mode](3, 4, backend=backend, dtype=dtype)
    x = torch.randn(2, 0, 3, dtype=dtype, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=dtype, requires_grad=True)
    out, state = layer(x, (h0, h0) if mode == "lstm" else h0)
    h_n = state[0] if mode == "lstm" else state
    assert out.shape == (2, 0, 4)
    torch.testing.assert_close(h_n, h0)
    h_n.sum().backward()
    torch.testing.assert_close(h0.grad, torch.ones_like(h0))


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn"])
def test_saturated_units_pass_no_gradient_as_in_torch_nn(mode: str) -> None:
    """The compiled tanh stopped at tanh(8) < 1, so a saturated unit kept a slope of ~1e-7,
    and with an unscaled input of 1e7 every step added ~10 to the weight gradient where
    torch.nn's is 0."""
    torch.manual_seed(0)
    ours = LAYERS[mode](1, 4, backend="rnnkit")
    peer = getattr(nn, mode.upper())(1, 4, batch_first=True)
    peer.load_state_dict(ours.state_dict())
    x = torch.full((1, 3, 1), 1e7)
    for layer in (ours, peer):
        out, _ = layer(x)
        out.sum().backward()
    torch.testing.assert_close(ours.weight_ih_l0.grad, peer.weight_ih_l0.grad, atol=1e-3, rtol=0)


def test_layers_and_cells_speak_torch_nn() -> None:
    """torch.nn's names: ``hx=``, ``mode``, ``proj_size``; NumPy integers for sizes; the
    warning for dropout with one layer (never from a structure, which drops it there)."""
    x = torch.randn(2, 5, 3)
    h0 = torch.randn(1, 2, 4)
    layer = rnnkit.GRU(3, 4)
    torch.testing.assert_close(layer(x, hx=h0)[0], layer(x, h0)[0])
    cell = rnnkit.LSTMCell(3, 4)  # x[:, 0], a slice: the compiled loop read it as contiguous
    torch.testing.assert_close(
        cell(x[:, 0], hx=(h0[0], h0[0]))[0], cell(x[:, 0], (h0[0], h0[0]))[0]
    )
    assert rnnkit.RNN(3, 4, nonlinearity="relu").mode == "RNN_RELU"
    assert rnnkit.LSTM(3, 4).proj_size == 0
    with pytest.warns(UserWarning, match="with num_layers=1 it does nothing"):
        rnnkit.LSTM(3, 4, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rnnkit.make_recurrent("gru", 3, 4, dropout=0.2).dropout == 0.0
        assert rnnkit.make_recurrent("gru", 3, 4, 2, dropout=0.2).dropout == 0.2
    with pytest.raises(ValueError, match=r"^state has dtype torch.int64 but x is torch.float32"):
        rnnkit.GRUCell(3, 4)(x[:, 0], torch.zeros(2, 4, dtype=torch.long))
    assert "bias=False" in repr(rnnkit.RNNCell(3, 4, bias=False))


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore:`torch.jit.trace")
def test_tracing_the_engine_names_the_torch_nn_twins() -> None:
    """torch.jit.trace failed in PyTorch's own sanity check, far from the cause."""
    layer = rnnkit.GRU(3, 4, backend="rnnkit")
    with pytest.raises(RuntimeError, match=r"cannot be traced.*with_torch_layers"):
        torch.jit.trace(layer, torch.randn(2, 5, 3))
