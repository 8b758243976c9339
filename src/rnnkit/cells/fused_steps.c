/* One time step of each gated cell, forward and backward, fused into a single pass.
 *
 * These are the element-wise halves of the steps in lstm.py and gru.py, with the same equation
 * numbers: the matrix products stay in PyTorch (oneDNN), and what is left of a step (a dozen
 * element-wise operations, each a separate pass over memory and a separate dispatch in
 * PyTorch) becomes one loop that the compiler vectorises. All arrays are float32, row-major
 * and contiguous; `rows` is the number of sequences still running, H the hidden size.
 *
 * exp is computed here (Cephes' single-precision polynomial, relative error ~1e-7) rather than
 * by libm, so that the loops vectorise without -ffast-math (which would also break the
 * rounding trick in it). Pointers that are never NULL: the caller passes zeros for absent
 * peepholes, so the loops have no branches.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

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

/* LSTM forward, equations (1)-(5). The pre-activations a_t = [a_i a_f a_g a_o] are the sum of
 * recurrent (rows, 4H) = W_hh h_{t-1} and projected (rows, 4H) = W_ih x_t + b, added here;
 * peephole: (3, H), zeros for none. Writes act: (rows, 4H) = [i f g o], cell and hidden: (rows, H). */
void lstm_forward_step(int rows, int H, const float *R recurrent, const float *R projected,
                       const float *R cell_prev,
                       const float *R peephole, float *R act, float *R cell, float *R hidden) {
    const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
    for (int b = 0; b < rows; b++) {
        const float *u = recurrent + (int64_t)b * 4 * H;
        const float *a = projected + (int64_t)b * 4 * H;
        const float *c_prev = cell_prev + (int64_t)b * H;
        float *g4 = act + (int64_t)b * 4 * H;
        float *c = cell + (int64_t)b * H;
        float *h = hidden + (int64_t)b * H;
        for (int j = 0; j < H; j++) {
            float i = sigmoid(a[j] + u[j] + p_i[j] * c_prev[j]);
            float f = sigmoid(a[H + j] + u[H + j] + p_f[j] * c_prev[j]);
            float g = tanh_approx(a[2 * H + j] + u[2 * H + j]);
            float c_t = f * c_prev[j] + i * g;
            float o = sigmoid(a[3 * H + j] + u[3 * H + j] + p_o[j] * c_t);
            g4[j] = i; g4[H + j] = f; g4[2 * H + j] = g; g4[3 * H + j] = o;
            c[j] = c_t;
            h[j] = o * tanh_approx(c_t);
        }
    }
}

/* LSTM backward, equations (B5)-(B2). act: (rows, 4H) = [i f g o]; cell, cell_prev: (rows, H);
 * δh_t is the sum of grad_recurrent (rows, H), from step t+1 or the final state, and grad_out
 * (rows, H), from the output y_t, added here; grad_cell: (rows, H), δc_t in, δc_{t-1} out.
 * Writes grad_pre: (rows, 4H) = δa_t. */
void lstm_backward_step(int rows, int H, const float *R act, const float *R cell,
                        const float *R cell_prev, const float *R peephole,
                        const float *R grad_recurrent, const float *R grad_out,
                        float *R grad_cell, float *R grad_pre) {
    const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
    for (int b = 0; b < rows; b++) {
        const float *g4 = act + (int64_t)b * 4 * H;
        const float *c = cell + (int64_t)b * H;
        const float *c_prev = cell_prev + (int64_t)b * H;
        const float *dh_rec = grad_recurrent + (int64_t)b * H;
        const float *dy = grad_out + (int64_t)b * H;
        float *dc = grad_cell + (int64_t)b * H;
        float *da = grad_pre + (int64_t)b * 4 * H;
        for (int j = 0; j < H; j++) {
            float i = g4[j], f = g4[H + j], g = g4[2 * H + j], o = g4[3 * H + j];
            float dh = dh_rec[j] + dy[j];
            float tanh_c = tanh_approx(c[j]);
            float da_o = dh * tanh_c * o * (1.0f - o);                              /* (B5) */
            float dc_t = dc[j] + dh * o * (1.0f - tanh_c * tanh_c) + da_o * p_o[j];  /* (B4) */
            float da_i = dc_t * g * i * (1.0f - i);                                  /* (B3) */
            float da_f = dc_t * c_prev[j] * f * (1.0f - f);
            float da_g = dc_t * i * (1.0f - g * g);
            dc[j] = dc_t * f + da_i * p_i[j] + da_f * p_f[j];                        /* (B2) */
            da[j] = da_i; da[H + j] = da_f; da[2 * H + j] = da_g; da[3 * H + j] = da_o;
        }
    }
}

/* GRU forward, equations (2)-(4). recurrent: (rows, 3H) = W_hh h_{t-1}; projected: (rows, 3H) =
 * [a_r + b_hr, a_z + b_hz, b_hn] (so their sum is [a_r + u_r, a_z + u_z, u_n]); input_n,
 * hidden_prev: (rows, H). Writes act: (rows, 3H) = [r z n], recurrent_n: (rows, H) = u_n (if
 * not NULL) and hidden. */
void gru_forward_step(int rows, int H, const float *R recurrent, const float *R projected,
                      const float *R input_n,
                      const float *R hidden_prev, float *R act, float *R recurrent_n,
                      float *R hidden) {
    for (int b = 0; b < rows; b++) {
        const float *w = recurrent + (int64_t)b * 3 * H;
        const float *a = projected + (int64_t)b * 3 * H;
        const float *a_n = input_n + (int64_t)b * H;
        float *u_n_out = recurrent_n ? recurrent_n + (int64_t)b * H : 0;
        const float *h_prev = hidden_prev + (int64_t)b * H;
        float *g3 = act + (int64_t)b * 3 * H;
        float *h = hidden + (int64_t)b * H;
        for (int j = 0; j < H; j++) {
            float r = sigmoid(a[j] + w[j]);
            float z = sigmoid(a[H + j] + w[H + j]);
            float u_n = a[2 * H + j] + w[2 * H + j];
            float n = tanh_approx(a_n[j] + r * u_n);
            g3[j] = r; g3[H + j] = z; g3[2 * H + j] = n;
            h[j] = n + z * (h_prev[j] - n);
            if (u_n_out) u_n_out[j] = u_n;
        }
    }
}

/* GRU backward, equations (B4)-(B1). act: (rows, 3H) = [r z n]; recurrent_n, hidden_prev: (rows, H).
 * δh_t is the sum of grad_recurrent = δu_{t+1} W_hh (or the final state's gradient), grad_direct =
 * δh_{t+1} ⊙ z_{t+1} (the path of (4) that skips W_hh) and grad_out = δy_t, each (rows, H).
 * Writes grad_pre_recurrent: (rows, 3H) = δu_t, grad_input_n: (rows, H) = δa_n, and
 * grad_direct_out: (rows, H) = δh_t ⊙ z_t for the step before. */
void gru_backward_step(int rows, int H, const float *R act, const float *R recurrent_n,
                       const float *R hidden_prev, const float *R grad_recurrent,
                       const float *R grad_direct, const float *R grad_out,
                       float *R grad_pre_recurrent, float *R grad_input_n,
                       float *R grad_direct_out) {
    for (int b = 0; b < rows; b++) {
        const float *g3 = act + (int64_t)b * 3 * H;
        const float *u_n = recurrent_n + (int64_t)b * H;
        const float *h_prev = hidden_prev + (int64_t)b * H;
        const float *dh_rec = grad_recurrent + (int64_t)b * H;
        const float *dh_dir = grad_direct + (int64_t)b * H;
        const float *dy = grad_out + (int64_t)b * H;
        float *du = grad_pre_recurrent + (int64_t)b * 3 * H;
        float *da_n = grad_input_n + (int64_t)b * H;
        float *direct = grad_direct_out + (int64_t)b * H;
        for (int j = 0; j < H; j++) {
            float r = g3[j], z = g3[H + j], n = g3[2 * H + j];
            float dh = dh_rec[j] + dh_dir[j] + dy[j];
            float dz = dh * (h_prev[j] - n);                 /* (B4) */
            float dn = dh * (1.0f - z);
            float dpre_n = dn * (1.0f - n * n);              /* (B3) */
            float dr = dpre_n * u_n[j];
            du[j] = dr * r * (1.0f - r);                     /* (B2) */
            du[H + j] = dz * z * (1.0f - z);
            du[2 * H + j] = dpre_n * r;
            da_n[j] = dpre_n;
            direct[j] = dh * z;                              /* (B1), the path that skips W_hh */
        }
    }
}
