"""The compiled time loops: the build, its fallbacks, and the guard on what they are given."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from rnnkit.cells import fused
from rnnkit.cells.common import BatchSizes

PROBE = (
    "import warnings, torch, rnnkit\n"
    "from rnnkit.cells import fused\n"
    "print('kernels', fused.KERNELS is not None)\n"
    "out, _ = rnnkit.LSTM(3, 4, backend='rnnkit')(torch.randn(2, 5, 3))\n"
    "print('shape', tuple(out.shape))\n"
)


def run_probe(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RNNKIT_CACHE": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=environment, check=True
    )


def test_builds_into_the_cache_directory(tmp_path) -> None:
    result = run_probe(tmp_path)
    if "kernels True" not in result.stdout:
        pytest.skip(f"no C compiler here: {result.stderr.strip()[:200]}")
    built = [path.name for path in (tmp_path / "rnnkit").iterdir()]
    assert len(built) == 1 and built[0].startswith("time_loops-"), built  # no partial file


def test_without_a_compiler_it_warns_and_falls_back(tmp_path) -> None:
    result = run_probe(tmp_path, CC=str(tmp_path / "no-such-compiler"))
    assert "kernels False" in result.stdout and "shape (2, 5, 4)" in result.stdout
    assert "could not build the compiled time loops" in result.stderr


def test_switched_off_by_the_environment(tmp_path) -> None:
    result = run_probe(tmp_path, RNNKIT_KERNELS="off")
    assert "kernels False" in result.stdout and "shape (2, 5, 4)" in result.stdout


@pytest.mark.skipif(fused.KERNELS is None, reason="no compiled loops on this machine")
def test_refuses_memory_it_cannot_read_as_rows() -> None:
    T, B, H = 2, 3, 4
    sizes = BatchSizes(None, T, B)
    states = torch.zeros(T + 1, B, H)
    strided = torch.zeros(T, B, 8 * H)[:, :, ::2]  # (T, B, 4H) but not contiguous
    with pytest.raises(ValueError, match="contiguous float32"):
        fused.lstm_forward_loop(
            strided, torch.zeros(4 * H, H), torch.zeros(3, H), sizes, states, states.clone(), False
        )
    with pytest.raises(ValueError, match="contiguous float32"):
        fused.lstm_forward_loop(
            torch.zeros(T, B, 4 * H, dtype=torch.float64), torch.zeros(4 * H, H),
            torch.zeros(3, H), sizes, states, states.clone(), False,
        )  # fmt: skip
