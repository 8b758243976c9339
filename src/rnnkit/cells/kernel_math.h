/* The activation functions of the compiled time loops (lstm_loops.c, gru_loops.c, rnn_loops.c).
 *
 * exp is computed here (Cephes' single-precision polynomial, relative error ~1e-7) rather than
 * by libm, so that the loops vectorise without -ffast-math (which would also break the
 * rounding trick in it).
 */
#ifndef RNNKIT_KERNEL_MATH_H
#define RNNKIT_KERNEL_MATH_H
#include <stdint.h>

#define R restrict

static inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float t = x * 1.44269504088896341f;            /* x / ln 2 */
    float n = (t + 12582912.0f) - 12582912.0f;     /* round to nearest (1.5 * 2^23 trick) */
    float r = x - n * 0.693359375f + n * 2.12194440e-4f; /* x - n ln 2, in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } scale;
    scale.i = ((int32_t)n + 127) << 23;            /* 2^n from its IEEE-754 bits */
    return p * scale.f;
}

static inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

static inline float tanh_approx(float x) { return 1.0f - 2.0f / (1.0f + exp_approx(2.0f * x)); }

#endif
