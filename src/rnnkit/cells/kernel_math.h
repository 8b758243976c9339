/* The activation functions of the compiled time loops (lstm_loops.c, gru_loops.c, rnn_loops.c).
 *
 * tanh is a rational function, x P(x²) / Q(x²) with P of degree 6 and Q of degree 3, fitted
 * on [-9, 9] (benchmarks/fit_tanh.py: reweighted least squares towards the minimax error,
 * 6e-9 in exact arithmetic) and used there, x clamped to it. At 9 float32 rounding gives 1
 * or a hair above, and the slopes the backward makes from the values, 1 - y² and
 * σ(1 - σ), are clamped at 0 (tanh_slope, sigmoid_slope): a saturated unit passes no
 * gradient, as float32 tanh gives from |x| ≈ 9. (A clamp at 8 left a slope of 1e-7, which an
 * input of 1e7, an unscaled timestamp, turned into weight gradients of 10 where torch.nn's
 * are 0. Clamping the result to [-1, 1] instead cost 6-7 % of the forward loop.) The
 * sigmoid is 0.5 + 0.5 tanh(x/2). Largest error in float32 against float64 over [-20, 20]:
 * 3.4e-7 (tanh), 2.0e-7 (sigmoid).
 *
 * Why not exp: 1 / (1 + e^-x) costs an exp (a degree-7 polynomial, a range reduction and the
 * exponent's bits) and a division per value; this is 12 operations and one division. The
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
    return x * p / q;
}

static inline float sigmoid(float x) { return 0.5f + 0.5f * tanh_approx(0.5f * x); }

/* The slopes the backward makes from an activation's value, never below 0: at the clamp
 * point (|x| >= 9) tanh_approx rounds to 1 or a hair above, where the slope is then 0. */
static inline float tanh_slope(float t) {
    float d = 1.0f - t * t;
    return d > 0.0f ? d : 0.0f;
}

static inline float sigmoid_slope(float s) {
    float d = s * (1.0f - s);
    return d > 0.0f ? d : 0.0f;
}

#endif
