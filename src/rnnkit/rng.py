"""The state of every random generator a training run draws from, without pickle.

Python's ``random``, NumPy's global generator, torch's CPU (and CUDA) generators and,
optionally, a data-order ``torch.Generator``: captured as tensors and plain values, so that a
checkpoint stores them in safetensors and JSON, and restored exactly.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every generator's state; ``generator`` (the data order) under ``"data"`` if given."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {
            "version": version,
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(keys.astype(np.int64)),  # uint32 values, exact in int64
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if generator is not None:
        state["data"] = generator.get_state()
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any], generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` captured (``generator`` from ``"data"`` if both exist)."""
    python, numpy_state = state["python"], state["numpy"]
    internal = tuple(int(v) for v in python["internal"].tolist())
    random.setstate((python["version"], internal, python["gauss"]))
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if generator is not None and "data" in state:
        generator.set_state(state["data"])
    # CUDA states of a GPU run are skipped on a machine without (as many) GPUs.
    if "cuda" in state and torch.cuda.is_available():
        count = min(len(state["cuda"]), torch.cuda.device_count())
        for device, cuda_state in enumerate(state["cuda"][:count]):
            torch.cuda.set_rng_state(cuda_state, device)
