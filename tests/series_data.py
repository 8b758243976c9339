"""Synthetic series for the forecasting tests."""

from __future__ import annotations

import numpy as np


def ar1(n: int, phi: float, seed: int) -> np.ndarray:
    """``n`` points of x_t = phi x_{t-1} + ε_t, ε ~ N(0, 1), from x_0 = 0."""
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.normal()
    return x
