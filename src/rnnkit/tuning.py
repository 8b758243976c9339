"""Process-wide settings that make recurrent training faster on CPU; opt-in for library users.

A training step allocates large tensors (a layer's gates for every step, their gradients) and
frees them at the end of the step. glibc serves every block of more than 128 KiB (one LSTM
step's gates at B=128, H=128) with ``mmap`` and gives it back on free, so every step pays for
fresh zeroed pages: at (B, T, H) = (128, 50, 512) some 36 000 page faults a step, a tenth of
its time, and more for torch.nn's LSTM. :func:`tune_malloc` serves all blocks from the heap
and keeps what is freed for the next step instead, as PyTorch's performance guide recommends
(there via jemalloc or tcmalloc). The ``rnnkit`` command and the benchmarks call it; a program
that uses rnnkit as a library can call it too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_KEEP = 1 << 30  # free memory at the top of the heap kept for reuse, bytes


def tune_malloc() -> bool:
    """Serve every allocation from the heap, and keep up to 1 GiB of freed memory for reuse.

    The process's resident memory then stays near its peak rather than falling between steps.
    Returns whether the setting took effect (only with glibc, and not if
    ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_MMAP_MAX_`` or ``MALLOC_TRIM_THRESHOLD_`` is set:
    the user's own choice).
    """
    chosen = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")
    if not sys.platform.startswith("linux") or any(name in os.environ for name in chosen):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    kept = mallopt(_M_TRIM_THRESHOLD, _KEEP)
    return bool(mallopt(_M_MMAP_MAX, 0) and kept)
