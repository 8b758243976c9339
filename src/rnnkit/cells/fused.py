"""The compiled time loops of the three cells (``*_loops.c``), built on first use, with a fallback.

A step of a recurrent layer is one small matrix product and a few element-wise operations;
called from Python, each costs microseconds of dispatch, and at the sizes recurrent nets are
trained at that is most of a step. ``lstm_loops.c``, ``gru_loops.c`` and ``rnn_loops.c`` run
each cell's whole loop over time in one call (forward, and backward through time), on the
shared machinery of ``time_loop.h``: a register-tiled product over packed W_hh fused with the
cell's equations, threads from the OpenMP runtime PyTorch has already loaded. They are
compiled here, once per machine, with the C compiler that builds Python extensions (``cc``),
into ``~/.cache/rnnkit`` (or ``$RNNKIT_CACHE``), and loaded with ctypes; no PyTorch headers
are needed, so the build takes a few seconds.

Where there is no compiler, the build fails, or ``RNNKIT_KERNELS=off``, :data:`KERNELS` is
``None`` and the engines run the same equations with PyTorch operations, a step at a time.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor

_HERE = Path(__file__).parent
_SOURCES = [
    _HERE / f
    for f in ("lstm_loops.c", "gru_loops.c", "rnn_loops.c", "transpose.c", "weight_grads.c")
]
_HEADERS = [_HERE / "kernel_math.h", _HERE / "time_loop.h"]
_FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp", "-fPIC", "-shared"]
_INT, _PTR = ctypes.c_int, ctypes.c_void_p
_SIGNATURES = {
    "lstm_forward_loop": [_INT] * 6 + [_PTR] * 9,
    "lstm_backward_loop": [_INT] * 6 + [_PTR] * 16,
    "gru_forward_loop": [_INT] * 4 + [_PTR] * 7,
    "gru_backward_loop": [_INT] * 4 + [_PTR] * 10,
    "rnn_forward_loop": [_INT] * 5 + [_PTR] * 4,
    "rnn_backward_loop": [_INT] * 5 + [_PTR] * 7,
    "transpose": [_INT] * 3 + [_PTR] * 2,
    "weight_grads": [_INT] * 5 + [_PTR] * 5,
}
_RETURNS = {"transpose": None}


def _cache_dir() -> Path:
    root = os.environ.get("RNNKIT_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(root) / "rnnkit" if root else Path.home() / ".cache" / "rnnkit"


def _cpu_features() -> bytes:
    """What -march=native compiles for: a library built on one CPU may not run on another
    that shares the cache directory (a home directory on a cluster, say)."""
    try:
        with open("/proc/cpuinfo", "rb") as info:
            for line in info:
                if line.startswith((b"flags", b"Features")):
                    return line
    except OSError:
        pass
    return platform.machine().encode() + platform.processor().encode()


def _build() -> ctypes.CDLL | None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    source = b"".join(path.read_bytes() for path in _SOURCES + _HEADERS)
    key = source + " ".join(_FLAGS).encode() + compiler.encode() + _cpu_features()
    digest = hashlib.sha1(key).hexdigest()
    library = _cache_dir() / f"time_loops-{digest[:16]}.so"
    if not library.exists():
        library.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target and rename: a concurrent or interrupted build never leaves a
        # half-written library behind.
        handle, partial = tempfile.mkstemp(suffix=".so", dir=library.parent)
        os.close(handle)
        try:
            subprocess.run(
                [compiler, *_FLAGS, *map(str, _SOURCES), "-o", partial, "-lm"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            os.replace(partial, library)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    lib = ctypes.CDLL(str(library))
    for name, argtypes in _SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, _RETURNS.get(name, ctypes.c_int)
    return lib


def _load() -> ctypes.CDLL | None:
    if os.environ.get("RNNKIT_KERNELS", "on").lower() in ("off", "0", "false", "no"):
        return None
    if sys.byteorder != "little":  # the kernels build 2^n from IEEE-754 bits
        return None
    try:
        return _build()
    except (OSError, subprocess.SubprocessError) as error:
        warnings.warn(
            f"rnnkit: could not build the compiled time loops ({error}); using PyTorch "
            "operations instead (slower at small sizes, same results)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


KERNELS = _load()


def usable(*tensors: Tensor) -> bool:
    """Whether the compiled loops can run on these tensors (float32 on the CPU)."""
    return KERNELS is not None and all(
        t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors
    )


def _ptr(tensor: Tensor) -> int:
    # The kernels read raw memory: a wrong layout would be silent corruption, so refuse it.
    if (
        not isinstance(tensor, Tensor)
        or not tensor.is_contiguous()
        or tensor.dtype != torch.float32
    ):
        raise ValueError("compiled loops need contiguous float32 tensors")  # an engine bug
    return tensor.data_ptr()


# A loop whose steps each do fewer multiply-adds than this runs on one thread: the barrier that
# ends every step of a multi-threaded loop would cost more than the second thread saves.
_PARALLEL_LOOP_WORK = 1 << 16


# A core's cache (L2) on the machines we measured: 1 MiB.
_CACHE_BYTES = 1 << 20


def _threads(work_per_step: int) -> int:
    return torch.get_num_threads() if work_per_step >= _PARALLEL_LOOP_WORK else 1


def _batch_sizes(sizes, steps: int) -> Tensor:
    return torch.tensor([sizes[t] for t in range(steps)], dtype=torch.int32)


def _check(status: int) -> None:
    if status != 0:
        raise MemoryError("rnnkit: out of memory for the compiled loops' packed weights")


def lstm_forward_loop(
    gates_x, weight_hh, peephole, sizes, hidden, cell, keep: bool, inputs=None
) -> None:
    """Equations (1)–(5) of the LSTM for every step (``lstm_loops.c``): ``gates_x (T, B, 4H)``
    is the input half of a_t and, if ``keep``, receives the activated gates i, f, g, o in its
    place; ``hidden``/``cell`` ``(T+1, B, H)`` hold the initial state at index 0 and receive
    the rest; ``peephole`` is ``(3, H)``, zeros for a plain LSTM.

    With ``inputs = (x, weight_ih, bias)`` (``bias`` ``(4H,)`` or ``None``) the loop makes the
    input half itself, in the same register tiles as ``W_hh h_{t-1}`` (see
    :func:`projection_in_loop`), and ``gates_x`` need not hold anything on entry (``None``
    when not ``keep``: there is then no ``(T, B, 4H)`` array at all)."""
    T, B, H = hidden.shape[0] - 1, hidden.shape[1], hidden.shape[2]
    steps = _batch_sizes(sizes, T)  # kept alive: the kernel reads it
    input_size, x_p, w_ih_p, bias_p = 0, None, None, None
    if inputs is not None:
        x, weight_ih, bias = inputs
        # kept alive: the kernel reads them (zeros for no bias rather than a branch)
        weight_ih = weight_ih.contiguous()
        bias = bias.contiguous() if bias is not None else x.new_zeros(4 * H)
        input_size, x_p, w_ih_p, bias_p = x.shape[2], _ptr(x), _ptr(weight_ih), _ptr(bias)
    _check(
        KERNELS.lstm_forward_loop(
            T, B, H, input_size, _threads(B * 4 * H * H), int(keep), _ptr_int(steps),
            _ptr(weight_hh), x_p, w_ih_p, bias_p, None if gates_x is None else _ptr(gates_x),
            _ptr(peephole), _ptr(hidden), _ptr(cell),
        )
    )  # fmt: skip


def projection_in_loop(batch: int, hidden_size: int, input_size: int) -> bool:
    """Whether the LSTM's forward loop should make the input projection ``W_ih x_t`` itself,
    in the register tiles of ``W_hh h_{t-1}``, rather than one product before the loop: with
    a few sequences a thread to share each pass over the packed ``W_ih`` (measured: 4–6 %
    faster training at B = 64 and 128 up to H = 512; 60 % slower inference at B = 1, where the
    product before the loop reads ``W_ih`` once and the loop would read it every step)."""
    threads = _threads(batch * 4 * hidden_size * hidden_size)
    return threads == 1 or batch >= 8 * threads


def lstm_backward_loop(
    weight_hh, peephole, act, cell, sizes, grad_y, dh, dc, grad_gates, weights=None
) -> tuple[Tensor, Tensor | None]:
    """Equations (B5)–(B1) of the LSTM for every step, backward (``lstm_loops.c``): ``dh``,
    ``dc`` ``(B, H)`` hold δh_T, δc_T (the final state's gradients) on entry and δh_0, δc_0 on
    return; ``grad_gates (T, B, 4H)`` receives δa_t (rows past a sequence's end untouched).
    ``peephole`` is ``(3, H)`` or ``None``. Returns the bias gradient Σ δa_t ``(4H,)`` and
    the peepholes' ``(3, H)`` (``None`` without peepholes).

    With ``weights = (x, weight_ih, hidden, grad_x, grad_w_ih, grad_w_hh)`` the loop makes the
    weight gradients too, into the last three (``grad_x`` may be ``None``), and ``grad_gates``
    is ``None``: δa_t never leaves the cache (see :func:`weight_grads_in_loop`)."""
    T, B, H = grad_y.shape
    sums = grad_y.new_empty(7 * H)
    steps = _batch_sizes(sizes, T)  # kept alive: the kernel reads it
    # the kernel takes zeros for "no peepholes" rather than branching in its equations
    peepholes = peephole.contiguous() if peephole is not None else grad_y.new_zeros(3, H)
    if weights is None:
        input_size, pointers = 0, [_ptr(grad_gates)] + [None] * 6
    else:
        x, weight_ih, hidden, grad_x, grad_w_ih, grad_w_hh = weights
        input_size = x.shape[2]
        weight_ih = weight_ih.contiguous()  # kept alive: the kernel reads it
        pointers = [
            None,
            None if grad_x is None else _ptr(grad_x),
            _ptr(grad_w_ih),
            _ptr(grad_w_hh),
            _ptr(x),
            _ptr(weight_ih),
            _ptr(hidden),
        ]
    grad_gates_p, grad_x_p, dw_ih_p, dw_hh_p, x_p, w_ih_p, hidden_p = pointers
    _check(
        KERNELS.lstm_backward_loop(
            T, B, H, input_size, _threads(B * 4 * H * H), int(peephole is not None),
            _ptr_int(steps), _ptr(weight_hh), w_ih_p, _ptr(peepholes), _ptr(act), _ptr(cell),
            hidden_p, x_p, _ptr(grad_y), _ptr(dh), _ptr(dc), grad_gates_p, grad_x_p, dw_ih_p,
            dw_hh_p, _ptr(sums),
        )
    )  # fmt: skip
    return sums[: 4 * H], None if peephole is None else sums[4 * H :].view(3, H)


def weight_grads_in_loop(batch: int, hidden_size: int, input_size: int) -> bool:
    """Whether the LSTM's backward loop should make its weight gradients itself (δa_t then
    never goes to memory; see ``run_backward`` in ``time_loop.h``): when each thread's packed
    ``W_hh`` and ``W_ih`` and its own sum of ``δW`` fit in a core's cache together, and each
    thread gets enough sequences to fill a tile of the products."""
    threads = _threads(batch * 4 * hidden_size * hidden_size)
    if threads > 1 and batch < 16 * threads:
        return False
    padded = -(-hidden_size // 16) * 16 + -(-input_size // 16) * 16
    return 4 * (2 * 4 * hidden_size * padded) <= _CACHE_BYTES


def _ptr_int(tensor: Tensor) -> int:
    if not tensor.is_contiguous() or tensor.dtype != torch.int32:
        raise ValueError("compiled loops need contiguous int32 batch sizes")  # an engine bug
    return tensor.data_ptr()


def gru_forward_loop(gates_x, weight_hh, bias_hh, sizes, hidden, act, recurrent_n) -> None:
    """Equations (1)–(4) of the GRU for every step (``gru_loops.c``): ``gates_x (T, B, 3H)`` is
    a_t = W_ih x_t + b_ih, ``bias_hh (3H)`` (zeros for none); ``hidden (T+1, B, H)`` holds h_0
    and receives the rest; ``act (T, B, 3H)`` and ``recurrent_n (T, B, H)`` receive r, z, n
    and u_n unless ``None``."""
    T, B, H = hidden.shape[0] - 1, hidden.shape[1], hidden.shape[2]
    steps = _batch_sizes(sizes, T)  # kept alive: the kernel reads it
    _check(
        KERNELS.gru_forward_loop(
            T, B, H, _threads(B * 3 * H * H), _ptr_int(steps),
            _ptr(weight_hh), _ptr(gates_x), _ptr(bias_hh), _ptr(hidden),
            None if act is None else _ptr(act),
            None if recurrent_n is None else _ptr(recurrent_n),
        )
    )  # fmt: skip


def gru_backward_loop(
    weight_hh, act, recurrent_n, hidden, sizes, grad_y, dh, grad_gates_h, grad_gates_x
) -> tuple[Tensor, Tensor]:
    """Equations (B4)–(B1) of the GRU for every step, backward (``gru_loops.c``): ``dh (B, H)``
    holds δh_T on entry and δh_0 on return; ``grad_gates_h``/``grad_gates_x`` ``(T, B, 3H)``
    receive δu_t and δa_t (rows past a sequence's end untouched). Returns the gradients of
    b_hh = Σ δu_t and b_ih = Σ δa_t, each ``(3H,)``."""
    T, B, H = grad_y.shape
    sums = grad_y.new_empty(6 * H)
    steps = _batch_sizes(sizes, T)  # kept alive: the kernel reads it
    _check(
        KERNELS.gru_backward_loop(
            T, B, H, _threads(B * 3 * H * H), _ptr_int(steps),
            _ptr(weight_hh), _ptr(act), _ptr(recurrent_n), _ptr(hidden), _ptr(grad_y),
            _ptr(dh), _ptr(grad_gates_h), _ptr(grad_gates_x), _ptr(sums),
        )
    )  # fmt: skip
    return sums[: 3 * H], sums[3 * H :]


def rnn_forward_loop(gates_x, weight_hh, relu, sizes, hidden) -> None:
    """Equations (1)–(2) of the vanilla RNN for every step (``rnn_loops.c``): ``gates_x
    (T, B, H)`` = W_ih x_t + b, ``hidden (T+1, B, H)`` holds h_0 and receives the rest."""
    T, B, H = hidden.shape[0] - 1, hidden.shape[1], hidden.shape[2]
    steps = _batch_sizes(sizes, T)  # kept alive: the kernel reads it
    _check(
        KERNELS.rnn_forward_loop(
            T, B, H, _threads(B * H * H), int(relu), _ptr_int(steps),
            _ptr(weight_hh), _ptr(gates_x), _ptr(hidden),
        )
    )  # fmt: skip


def rnn_backward_loop(weight_hh, relu, hidden, sizes, grad_y, dh, grad_pre) -> Tensor:
    """Equations (B2)–(B1) of the vanilla RNN for every step, backward (``rnn_loops.c``):
    ``dh (B, H)`` holds δh_T on entry and δh_0 on return; ``grad_pre (T, B, H)`` receives δa_t
    (rows past a sequence's end untouched). Returns the bias gradient Σ δa_t ``(H,)``."""
    T, B, H = grad_y.shape
    sums = grad_y.new_empty(H)
    steps = _batch_sizes(sizes, T)  # kept alive: the kernel reads it
    _check(
        KERNELS.rnn_backward_loop(
            T, B, H, _threads(B * H * H), int(relu), _ptr_int(steps),
            _ptr(weight_hh), _ptr(hidden), _ptr(grad_y), _ptr(dh), _ptr(grad_pre), _ptr(sums),
        )
    )  # fmt: skip
    return sums


def transposed(matrix: Tensor, out: Tensor | None = None) -> Tensor:
    """``matrix.t().contiguous()`` for a contiguous float32 ``(rows, cols)`` matrix, in blocks
    shared between threads (``transpose.c``), into ``out`` (contiguous ``(cols, rows)``) if
    given; callers check :func:`usable` first."""
    rows, cols = matrix.shape
    if out is None:
        out = matrix.new_empty(cols, rows)
    elif out.shape != (cols, rows):
        raise ValueError(f"transposed: out must be {(cols, rows)}, got {tuple(out.shape)}")
    threads = _threads(rows * cols)
    KERNELS.transpose(rows, cols, threads, _ptr(matrix), _ptr(out))
    return out


def weight_grads(grad: Tensor, x: Tensor, h: Tensor | None) -> list[Tensor]:
    """``[gradᵀ x, gradᵀ h]`` (or ``[gradᵀ x]``) over all rows: the weight gradients of a layer,
    ``grad (M, N)``, ``x (M, I)``, ``h (M, H)``, all contiguous (``weight_grads.c``)."""
    rows, width = grad.shape
    input_size = x.shape[1]
    hidden_size = 0 if h is None else h.shape[1]
    grad_x = grad.new_empty(width, input_size)
    grad_h = grad.new_empty(width, hidden_size)
    threads = _threads(rows * width)
    _check(
        KERNELS.weight_grads(
            rows, width, input_size, hidden_size, threads, _ptr(grad), _ptr(x),
            _ptr(h) if h is not None else None, _ptr(grad_x), _ptr(grad_h),
        )
    )  # fmt: skip
    return [grad_x] if h is None else [grad_x, grad_h]
