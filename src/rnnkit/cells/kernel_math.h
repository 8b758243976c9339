/* The activation functions of the compiled time loops (lstm_loops.c, gru_loops.c, rnn_loops.c).
 *
 * tanh is a rational function, x P(x²) / Q(x²) with P of degree 6 and Q of degree 3, fitted
 * on [-9, 9] (benchmarks/fit_tanh.py: reweighted least squares towards the minimax error,
 * 6e-9 in exact arithmetic) and used there, x clamped to it; its result is clamped to
 * [-1, 1], where float32 rounding may take it a hair past 1 near 9. So a saturated unit
 * is exactly ±1, and the derivatives the backward makes from it, 1 - y² and σ(1 - σ), are
 * exactly 0, as float32 tanh gives from |x| ≈ 9: a slope left at 1e-7 multiplied every
 * saturated step by an input of 1e7 (an unscaled timestamp) made weight gradients of 10 where
 * torch.nn's are 0. The sigmoid is 0.5 + 0.5 tanh(x/2). Largest error in float32 against
 * float64 over [-20, 20]: 3.4e-7 (tanh), 2.0e-7 (sigmoid).
 *
 * Why not exp: 1 / (1 + e^-x) costs an exp (a degree-7 polynomial, a range reduction and the
 * exponent's bits) and a division per value; this is 14 operations and one division. The
 * activations are a fifth of the LSTM's forward loop at small sizes, and this made that loop
 * 8 % faster.
 * Plain C that GCC vectorises without -ffast-math.
 */
#ifndef RNNKIT_KERNEL_MATH_H
#define RNNKIT_KERNEL_MATH_H
#include <stdint.h>

#define R restrict

static inline float tanh_approx(float x) {
    x = x < -9.0f ? -9.0f : (x > 9.0f ? 9.0f : x);
    float x2 = x * x;
    float p = -8.285238291e-14f;
    p = p * x2 + 5.191701726e-11f;
    p = p * x2 - 2.003042111e-08f;
    p = p * x2 + 1.110267269e-05f;
    p = p * x2 + 3.098775690e-03f;
    p = p * x2 + 1.307928524e-01f;
    p = p * x2 + 9.999999702e-01f;
    float q = 2.538753451e-04f;
    q = q * x2 + 2.447428493e-02f;
    q = q * x2 + 4.641260596e-01f;
    q = q * x2 + 1.000000000e+00f;
    float y = x * p / q;
    return y > 1.0f ? 1.0f : (y < -1.0f ? -1.0f : y);
}

static inline float sigmoid(float x) { return 0.5f + 0.5f * tanh_approx(0.5f * x); }

#endif
