"""What the cell engines share: batch-size bookkeeping, the input projection and its gradients."""

from __future__ import annotations

import functools
import gc
import math
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from rnnkit.cells.matmul import linear, matmul, weight_grad, weight_grads

Loop = TypeVar("Loop", bound=Callable)


def engine_entry(run: Loop) -> Loop:
    """Mark a function that runs a cell's hand-written engine over a sequence.

    - ``torch.compile`` does not trace into it (a graph break): the compiled loops read raw
      data pointers, which the compiler's placeholder tensors do not have, so a traced call
      computed garbage. It runs eagerly, with its own backward.
    - Under ``torch.autocast`` it runs in the precision of its widest input (the weights',
      float32), as autocast runs the ops it keeps in float32: the engine computes in one
      dtype, and a low-precision input from an autocast layer before would not match them.
    - Traced (``torch.jit.trace``, ONNX export) it refuses, naming
      ``rnnkit.export.with_torch_layers``.
    - Under a ``torch.func`` transform (``grad``, ``vmap``, ``jacrev``, ``jvp``) it refuses
      to run, naming the way out: the transforms hand the backward wrapped tensors that have
      no memory for compiled loops to read, and a hand-written backward has no batching or
      forward-mode rule (``backend="auto"`` gives such calls to torch.nn before this).
    """

    def widest(args: tuple) -> torch.dtype | None:
        dtypes = [a.dtype for a in args if isinstance(a, Tensor) and a.is_floating_point()]
        return functools.reduce(torch.promote_types, dtypes) if dtypes else None

    def eager(x: Tensor, *args, **kwargs):
        if not torch.is_autocast_enabled(x.device.type):
            return run(x, *args, **kwargs)
        dtype = widest((x, *args))
        cast = [a.to(dtype) if isinstance(a, Tensor) and a.is_floating_point() else a
                for a in (x, *args)]  # fmt: skip
        with torch.autocast(x.device.type, enabled=False):
            return run(*cast, **kwargs)

    # made when first compiled: torch.compiler.disable imports the compiler (a second of
    # start-up that a program which never compiles should not pay)
    disabled: list[Callable] = []

    @functools.wraps(run)
    def entry(x: Tensor, *args, **kwargs):
        if torch.jit.is_tracing():  # (a trace would record raw pointers of this call's data)
            raise RuntimeError(
                "rnnkit: the hand-written engine cannot be traced (torch.jit.trace, ONNX "
                "export): swap the model's layers for torch.nn twins with the same weights "
                "first, rnnkit.export.with_torch_layers(model)"
            )
        if functorch_active():
            raise RuntimeError(
                "rnnkit: the hand-written engine cannot run under a torch.func transform "
                "(grad, vmap, jacrev, jvp): build the layer with backend='torch' or 'auto' "
                "(a cell: use torch.nn's, which takes the same weights; peepholes have no "
                "torch.nn kernel)"
            )
        if torch.compiler.is_compiling():
            if not disabled:
                disabled.append(torch.compiler.disable(eager))
            return disabled[0](x, *args, **kwargs)
        return eager(x, *args, **kwargs)

    return entry  # type: ignore[return-value]


def functorch_active() -> bool:
    """Whether a ``torch.func`` transform (``grad``, ``vmap``, ``jvp``, ...) is running."""
    return torch._C._are_functorch_transforms_active()


def differentiable_once(backward: Loop) -> Loop:
    """``once_differentiable`` for a hand-written backward, refusing a gradient of a gradient.

    With ``create_graph=True`` (a gradient penalty, meta-learning) PyTorch's
    ``once_differentiable`` raises only when the gradients it returned are differentiated
    again, and only if the incoming gradients required grad; from a plain ``loss.backward``
    they do not (``sum``'s are constants), so its gradients came back as constants and the
    penalty's own gradient was silently lost. Here the backward refuses to run at all when
    asked to build a graph.
    """
    once = once_differentiable(backward)

    @functools.wraps(backward)
    def run(ctx, *grads):
        if torch.is_grad_enabled():  # autograd enables it only for create_graph=True
            raise RuntimeError(
                "rnnkit: a gradient of a gradient (create_graph=True) cannot go through the "
                "hand-written backward, which is differentiable once: build the layer with "
                "backend='torch' (torch.nn's kernels) for it"
            )
        return once(ctx, *grads)

    return run  # type: ignore[return-value]


def without_gc(loop: Loop) -> Loop:
    """Run a time loop with Python's cyclic garbage collector paused.

    A loop over time creates a few tensor views and products per step, all freed by reference
    counting; but their number alone triggers collections that walk every object of the
    process (measured: a fifth of a training step at T=200). Nothing the loop makes is cyclic,
    so pausing the collector loses nothing; it resumes, as it was, when the loop returns.
    """

    @functools.wraps(loop)
    def run(*args, **kwargs):
        if not gc.isenabled():
            return loop(*args, **kwargs)
        gc.disable()
        try:
            return loop(*args, **kwargs)
        finally:
            gc.enable()

    return run  # type: ignore[return-value]


class BatchSizes:
    """How many sequences are still running at each step (the batch sorted by length, longest
    first), as in a ``PackedSequence``. ``None`` means every sequence runs all T steps."""

    def __init__(self, batch_sizes: list[int] | None, steps: int, batch: int) -> None:
        self.variable = batch_sizes is not None
        self._sizes = batch_sizes if batch_sizes is not None else [batch] * steps
        self.batch = batch

    def __getitem__(self, t: int) -> int:
        return self._sizes[t]

    def lengths(self, device: torch.device) -> Tensor:
        """Length of each (sorted) sequence, ``(B,)``."""
        sizes = torch.tensor(self._sizes, dtype=torch.long, device=device)
        rows = torch.arange(self.batch, device=device)
        return (sizes.unsqueeze(1) > rows).sum(0)

    def steps(self, tensor: Tensor, offset: int = 0) -> list[Tensor]:
        """The views ``tensor[t + offset, :b_t]`` for t = 0 … T-1, made once before a loop
        (indexing a tensor inside the loop costs microseconds a step)."""
        views = tensor.unbind(0)
        T = len(self._sizes)
        if not self.variable:
            return list(views[offset : offset + T])
        return [views[t + offset][:b] for t, b in enumerate(self._sizes)]

    def grow(
        self, carried: Tensor, rows: int, initial: Tensor, extra: Tensor | None = None
    ) -> Tensor:
        """Going backward in time the running batch grows: rows ``len(carried):rows`` join
        here with their gradient from the final state (``initial``, plus ``extra`` if given)."""
        start = carried.shape[0]
        if start == rows:
            return carried
        joining = initial[start:rows]
        if extra is not None:
            joining = joining + extra[start:rows]
        return torch.cat([carried, joining])

    def mask(self, device: torch.device) -> Tensor:
        """``(T, B, 1)``: 1 where step t of sequence b is valid, else 0."""
        sizes = torch.tensor(self._sizes, device=device)
        rows = torch.arange(self.batch, device=device)
        return (rows < sizes.unsqueeze(1)).unsqueeze(2)


def final_states(sizes: BatchSizes, *per_step: Tensor) -> tuple[Tensor, ...]:
    """Each sequence's state after its last valid step, from buffers ``(T+1, B, H)`` holding
    the states at every step (index 0 is the initial state, so a length of 0 gives it back)."""
    if not sizes.variable:
        return tuple(s[-1].clone() for s in per_step)
    lengths = sizes.lengths(per_step[0].device)
    rows = torch.arange(sizes.batch, device=lengths.device)
    return tuple(s[lengths, rows] for s in per_step)


def input_projection(x: Tensor, weight_ih: Tensor, bias: Tensor | None) -> Tensor:
    """``W_ih x_t + b`` for every step in one matrix product: ``(T, B, I) -> (T, B, G)``."""
    T, B, input_size = x.shape
    # the gate size spelt out: a batch of 0 sequences has no elements to infer it from
    return linear(x.reshape(T * B, input_size), weight_ih, add=bias).view(T, B, weight_ih.shape[0])


def input_weight_grads(
    grad_pre: Tensor, x: Tensor, weight_ih: Tensor, need_x: bool, need_w: bool
) -> tuple[Tensor | None, Tensor | None]:
    """Gradients through the input projection, each one product over all T·B rows:
    ``δx = δa W_ih``, ``δW_ih = δaᵀ x`` (``grad_pre`` is ``(T·B, G)``; the bias gradient
    Σ δa comes from the time loops, which sum it as they go)."""
    T, B, input_size = x.shape
    grad_x = matmul(grad_pre, weight_ih).view(T, B, input_size) if need_x else None
    grad_w = weight_grad(grad_pre, x.reshape(T * B, input_size)) if need_w else None
    return grad_x, grad_w


def shared_pre_activation_grads(
    grad_pre: Tensor, x: Tensor, h_prev: Tensor, weight_ih: Tensor, need: tuple[bool, bool, bool]
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """``δx = δa W_ih``, ``δW_ih = δaᵀ x`` and ``δW_hh = δaᵀ h_{t-1}`` for a cell whose two
    weights feed one pre-activation a_t (LSTM, vanilla RNN), ``need`` saying which: the two
    weight gradients come from one product (:func:`~rnnkit.cells.matmul.weight_grads`).
    ``grad_pre`` is ``(T·B, G)``, ``x (T, B, I)``, ``h_prev (T·B, H)``."""
    T, B, input_size = x.shape
    grad_x = matmul(grad_pre, weight_ih).view(T, B, input_size) if need[0] else None
    inputs = [x.reshape(T * B, input_size)] if need[1] else []
    inputs += [h_prev] if need[2] else []
    grads = iter(weight_grads(grad_pre, inputs) if inputs else [])
    grad_w_ih = next(grads) if need[1] else None
    grad_w_hh = next(grads) if need[2] else None
    return grad_x, grad_w_ih, grad_w_hh


def empty_parameter(
    *shape: int, device: torch.device | str | None, dtype: torch.dtype | None
) -> nn.Parameter:
    """An uninitialised parameter of ``shape`` on ``device`` in ``dtype`` (as torch.nn's
    factory arguments take them)."""
    return nn.Parameter(torch.empty(*shape, device=device, dtype=dtype))


def cell_parameters(
    gate_size: int,
    input_size: int,
    hidden_size: int,
    bias: bool,
    device: torch.device | str | None,
    dtype: torch.dtype | None,
) -> tuple[nn.Parameter, nn.Parameter, nn.Parameter | None, nn.Parameter | None]:
    """A cell's uninitialised ``weight_ih (G, I)``, ``weight_hh (G, H)`` and, with ``bias``,
    ``bias_ih (G)`` and ``bias_hh (G)``, made on ``device`` in ``dtype`` (a cell's, or one
    layer and direction's)."""
    parameter = functools.partial(empty_parameter, device=device, dtype=dtype)
    biases = (parameter(gate_size), parameter(gate_size)) if bias else (None, None)
    return parameter(gate_size, input_size), parameter(gate_size, hidden_size), *biases


def init_uniform(module: nn.Module, hidden_size: int) -> None:
    """torch.nn's initialisation of recurrent weights: Uniform(-1/√H, 1/√H) for every one."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    with torch.no_grad():
        for weight in module.parameters():
            weight.uniform_(-bound, bound)


def state_or_hx(state: object, hx: object) -> object:
    """The initial state given as ``state`` or as ``hx``, torch.nn's name for it."""
    if hx is None:
        return state
    if state is not None:
        raise ValueError("give the state as state or as hx (torch.nn's name), not both")
    return hx


def cell_state(
    x: Tensor,
    state: Tensor | tuple[Tensor, ...] | None,
    hx: Tensor | tuple[Tensor, ...] | None,
    parts: int,
    hidden_size: int,
    unbatched: bool,
) -> tuple[Tensor, ...]:
    """A cell's incoming state as ``parts`` tensors ``(B, H)`` (an LSTM's ``(h, c)``: 2),
    zeros when none is given. ``state`` or torch.nn's name for it, ``hx``; each part must be a
    tensor in ``x``'s dtype, ``(H,)`` for an unbatched ``x`` (``x`` is already ``(B, I)``)."""
    state = state_or_hx(state, hx)
    B, H = x.shape[0], hidden_size
    if state is None:
        return tuple(x.new_zeros(B, H) for _ in range(parts))
    names = ("state[0] (h)", "state[1] (c)") if parts == 2 else ("state",)
    if parts == 2 and not (isinstance(state, (tuple, list)) and len(state) == 2):
        raise ValueError("state of an LSTM cell must be a tuple (h, c)")
    given = tuple(state) if parts == 2 else (state,)
    for name, s in zip(names, given, strict=True):
        if not isinstance(s, Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(s).__name__}")
        if s.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(f"{name} has dtype {s.dtype} but x is {x.dtype}")
        expected = (H,) if unbatched else (B, H)
        if tuple(s.shape) != expected:
            raise ValueError(f"{name} must have shape {expected}, got {tuple(s.shape)}")
    return tuple(s.unsqueeze(0) for s in given) if unbatched else given


def check_cell_input(x: Tensor, input_size: int) -> tuple[Tensor, bool]:
    """Validate a cell's ``x``: ``(B, I)`` or unbatched ``(I,)``; returns 2-D ``x`` and
    whether it was unbatched."""
    if x.dim() not in (1, 2):
        raise ValueError(
            f"x must have shape (B, {input_size}) or ({input_size},), got {tuple(x.shape)}"
        )
    if x.shape[-1] != input_size:
        raise ValueError(
            f"x must have {input_size} features (last dim), got shape {tuple(x.shape)}"
        )
    unbatched = x.dim() == 1
    return (x.unsqueeze(0) if unbatched else x), unbatched
