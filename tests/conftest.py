"""Shared fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny models: a second intra-op thread only adds synchronisation, which on a shared
    2-core machine slows such tests by an order of magnitude."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def data_dir():
    """The shared real data sets (``$RNNKIT_DATA_DIR``, else ``../shared/data`` beside the
    project, where CI puts them)."""
    import os
    from pathlib import Path

    path = Path(
        os.environ.get("RNNKIT_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared/data"
    )
    if not path.is_dir():
        pytest.fail(f"data directory {path} not found: set RNNKIT_DATA_DIR")
    return path
