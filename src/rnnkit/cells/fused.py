"""Fused element-wise step kernels (``fused_steps.c``), compiled on first use, with a fallback.

A step of an LSTM or GRU is one matrix product and a dozen element-wise operations. At the
sizes recurrent nets are trained at, PyTorch runs each of those operations as a separate pass
over memory on one thread, and they cost more than the product. ``fused_steps.c`` does them in
one vectorised loop. It is compiled here, once per machine, with the C compiler that builds
Python extensions (``cc``), into ``~/.cache/rnnkit`` (or ``$RNNKIT_CACHE``), and loaded with
ctypes; no PyTorch headers are needed, so it builds in about a second.

Where there is no compiler, the build fails, or ``RNNKIT_KERNELS=off``, :data:`KERNELS` is
``None`` and the engines use the same equations written with PyTorch operations.
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

_SOURCE = Path(__file__).with_name("fused_steps.c")
_FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp", "-fPIC", "-shared"]
_INT, _PTR = ctypes.c_int, ctypes.c_void_p
_SIGNATURES = {
    "lstm_forward_step": [_INT, _INT] + [_PTR] * 7,
    "lstm_backward_step": [_INT, _INT] + [_PTR] * 8,
    "gru_forward_step": [_INT, _INT] + [_PTR] * 7,
    "gru_backward_step": [_INT, _INT] + [_PTR] * 9,
}


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
    source = _SOURCE.read_bytes()
    key = source + " ".join(_FLAGS).encode() + compiler.encode() + _cpu_features()
    digest = hashlib.sha1(key).hexdigest()
    library = _cache_dir() / f"fused_steps-{digest[:16]}.so"
    if not library.exists():
        library.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target and rename: a concurrent or interrupted build never leaves a
        # half-written library behind.
        handle, partial = tempfile.mkstemp(suffix=".so", dir=library.parent)
        os.close(handle)
        try:
            subprocess.run(
                [compiler, *_FLAGS, str(_SOURCE), "-o", partial, "-lm"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            os.replace(partial, library)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    lib = ctypes.CDLL(str(library))
    for name, argtypes in _SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, None
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
            f"rnnkit: could not build the fused step kernels ({error}); using PyTorch "
            "operations instead (slower at small sizes, same results)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


KERNELS = _load()


def usable(*tensors: Tensor) -> bool:
    """Whether the fused kernels can run on these tensors (float32 on the CPU)."""
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
        raise ValueError("fused kernels need contiguous float32 tensors")  # an engine bug
    return tensor.data_ptr()


def lstm_forward_step(recurrent, projected, cell_prev, peephole, act, cell, hidden) -> None:
    """Equations (1)–(5) of the LSTM for one step, in one pass (see ``fused_steps.c``):
    ``a_t = recurrent + projected``; ``peephole`` is ``(3, H)``, zeros for a plain LSTM."""
    rows, hidden_size = cell_prev.shape
    KERNELS.lstm_forward_step(
        rows, hidden_size, _ptr(recurrent), _ptr(projected), _ptr(cell_prev), _ptr(peephole),
        _ptr(act), _ptr(cell), _ptr(hidden),
    )  # fmt: skip


def lstm_backward_step(
    act, cell, cell_prev, peephole, grad_recurrent, grad_out, grad_cell, grad_pre
) -> None:
    """Equations (B5)–(B2) of the LSTM for one step, in one pass: δh_t = grad_recurrent +
    grad_out; ``grad_cell`` is updated in place from δc_t to δc_{t-1}."""
    rows, hidden_size = cell.shape
    KERNELS.lstm_backward_step(
        rows, hidden_size, _ptr(act), _ptr(cell), _ptr(cell_prev), _ptr(peephole),
        _ptr(grad_recurrent), _ptr(grad_out), _ptr(grad_cell), _ptr(grad_pre),
    )  # fmt: skip


def gru_forward_step(recurrent, projected, input_n, hidden_prev, act, recurrent_n, hidden) -> None:
    """Equations (2)–(4) of the GRU for one step, in one pass."""
    rows, hidden_size = hidden_prev.shape
    KERNELS.gru_forward_step(
        rows, hidden_size, _ptr(recurrent), _ptr(projected), _ptr(input_n), _ptr(hidden_prev),
        _ptr(act), _ptr(recurrent_n), _ptr(hidden),
    )  # fmt: skip


def gru_backward_step(
    act, recurrent_n, hidden_prev, grad_recurrent, grad_direct, grad_out,
    grad_pre_recurrent, grad_input_n, grad_direct_out,
) -> None:  # fmt: skip
    """Equations (B4)–(B1) of the GRU for one step, in one pass: δh_t = grad_recurrent +
    grad_direct + grad_out."""
    rows, hidden_size = hidden_prev.shape
    KERNELS.gru_backward_step(
        rows, hidden_size, _ptr(act), _ptr(recurrent_n), _ptr(hidden_prev),
        _ptr(grad_recurrent), _ptr(grad_direct), _ptr(grad_out),
        _ptr(grad_pre_recurrent), _ptr(grad_input_n), _ptr(grad_direct_out),
    )  # fmt: skip
