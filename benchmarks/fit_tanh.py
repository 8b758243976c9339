"""Fit the rational tanh of the compiled loops (``src/rnnkit/cells/kernel_math.h``).

tanh(x) ≈ x P(x²) / Q(x²), P of degree 6, Q of degree 3 with Q(0) = 1, on [0, 9] (tanh is
odd). The error x P / Q - tanh x is linear in the coefficients once multiplied by Q, so each
round solves a weighted least-squares problem, dividing by the previous round's Q (so that
the residual is the true error) and raising the weights where the error is largest (Lawson's
iteration towards the minimax fit). ``v = x² / 81`` keeps the powers in [0, 1].

Prints the C lines of P and Q and the largest errors of the float32 evaluation the C code
does (clamped to [-9, 9]) against float64, over [-20, 20], for tanh and the sigmoid
0.5 + 0.5 tanh(x / 2). Run: ``python benchmarks/fit_tanh.py``.
"""

from __future__ import annotations

import numpy as np

FIT_RANGE = 9.0  # fitted on [0, 9]
CLAMP = 9.0  # used on [-9, 9]: past it the result is 1 (or 1 ulp above), the slope 0
P_DEGREE, Q_DEGREE = 6, 3


def fit(rounds: int = 200) -> tuple[np.ndarray, np.ndarray, float]:
    """Coefficients of P and Q, lowest power first, and the largest error in float64."""
    x = np.linspace(1e-4, FIT_RANGE, 40001)
    scale = FIT_RANGE * FIT_RANGE
    v = x * x / scale
    target = np.tanh(x) / x
    powers_p = np.stack([v**k for k in range(P_DEGREE + 1)], 1)
    powers_q = np.stack([v**k for k in range(1, Q_DEGREE + 1)], 1)
    system = np.concatenate([powers_p, -target[:, None] * powers_q], 1)
    q_previous, weights = np.ones_like(x), np.ones_like(x)
    best = (np.inf, None)
    for _ in range(rounds):
        row_weights = weights * x / q_previous
        solution, *_ = np.linalg.lstsq(system * row_weights[:, None], target * row_weights,
                                       rcond=None)  # fmt: skip
        p = powers_p @ solution[: P_DEGREE + 1]
        q = 1 + powers_q @ solution[P_DEGREE + 1 :]
        if q.min() <= 0:  # a pole inside the range: keep the best fit so far
            break
        error = np.abs(x * p / q - np.tanh(x))
        if error.max() < best[0]:
            best = (error.max(), solution)
        q_previous = q
        weights = weights * (error / error.max() + 1e-3)
        weights /= weights.mean()
    largest, solution = best
    p_coef = np.array([solution[k] / scale**k for k in range(P_DEGREE + 1)])
    q_coef = np.array([1.0] + [solution[P_DEGREE + k] / scale**k for k in range(1, Q_DEGREE + 1)])
    return p_coef, q_coef, largest


def tanh_float32(x: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """What the C code computes, step by step in float32 (Horner's rule)."""
    x = np.clip(x.astype(np.float32), np.float32(-CLAMP), np.float32(CLAMP))
    x2 = x * x
    num = np.float32(p[-1])
    for c in p[-2::-1]:
        num = num * x2 + np.float32(c)
    den = np.float32(q[-1])
    for c in q[-2::-1]:
        den = den * x2 + np.float32(c)
    return x * num / den


def main() -> None:
    p, q, largest = fit()
    print(f"largest error in float64 on [0, {FIT_RANGE:g}]: {largest:.2e}")
    for name, coef in (("p", p), ("q", q)):
        print(f"    float {name} = {coef[-1]:.9e}f;")
        for c in coef[-2::-1]:
            sign = "-" if c < 0 else "+"
            print(f"    {name} = {name} * x2 {sign} {abs(c):.9e}f;")
    grid = np.linspace(-20, 20, 4_000_001).astype(np.float32)
    exact = grid.astype(np.float64)
    tanh = tanh_float32(grid, p, q)
    sigmoid = np.float32(0.5) + np.float32(0.5) * tanh_float32(np.float32(0.5) * grid, p, q)
    print(f"float32 tanh: largest error {np.abs(tanh - np.tanh(exact)).max():.2e}, "
          f"largest |tanh| {np.abs(tanh).max():.9f}")  # fmt: skip
    sigmoid_error = np.abs(sigmoid - 1 / (1 + np.exp(-exact))).max()
    print(f"float32 sigmoid: largest error {sigmoid_error:.2e}, largest {sigmoid.max():.9f}")


if __name__ == "__main__":
    main()
