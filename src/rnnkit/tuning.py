"""Process-wide settings that make recurrent training faster on CPU; opt-in for library users.

A recurrent engine allocates a few tensors per time step. Those of more than 128 KiB (one
LSTM step's gates at B=128, H=128) are served by glibc with ``mmap`` and given back on free, so
every step pays for fresh zeroed pages — in measurements here, as much as the matrix product
itself. :func:`tune_malloc` keeps such blocks in the heap instead, as PyTorch's performance
guide recommends (there via jemalloc or tcmalloc). The ``rnnkit`` command and the benchmarks
call it; a program that uses rnnkit as a library can call it too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MAX_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling on 64-bit machines


def tune_malloc() -> bool:
    """Serve allocations up to 32 MiB from the heap and keep freed memory for reuse.

    Returns whether the setting took effect (only with glibc, and not if
    ``MALLOC_MMAP_THRESHOLD_`` is set, which is the user's own choice).
    """
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
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
    trimmed = mallopt(_M_TRIM_THRESHOLD, 2 * _MAX_MMAP_THRESHOLD)
    return bool(mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD) and trimmed)
