/* One time step of each gated cell, forward and backward, fused into a single pass.
 *
 * These are the element-wise halves of the steps in lstm.py and gru.py, with the same equation
 * numbers: the matrix products stay in PyTorch (oneDNN), and what is left of a step (a dozen
 * element-wise operations, each a separate pass over memory and a separate dispatch in
 * PyTorch) becomes one loop that the compiler vectorises. All arrays are float32, row-major
 * and contiguous; `rows` is the number of sequences still running, H the hidden size.
 *
 * exp is computed here (Cephes' single-precision polynomial, relative error ~1e-7) rather than
 * by libm, so that the loops vectorise without -ffast-math.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float exp_approx(float x) {
    x = fminf(fmaxf(x, -87.0f), 88.0f);
    float n = floorf(x * 1.44269504088896341f + 0.5f); /* round(x / ln 2) */
    float r = x - n * 0.693359375f + n * 2.12194440e-4f; /* x - n ln 2, in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

static inline float tanh_approx(float x) { return 1.0f - 2.0f / (1.0f + exp_approx(2.0f * x)); }

/* LSTM forward, equations (2)-(5). pre: (rows, 4H) pre-activations a_t = [a_i a_f a_g a_o];
 * peephole: (3, H) or NULL. Writes act: (rows, 4H) = [i f g o], cell and hidden: (rows, H). */
void lstm_forward_step(int rows, int H, const float *pre, const float *cell_prev,
                       const float *peephole, float *act, float *cell, float *hidden) {
    for (int b = 0; b < rows; b++) {
        const float *a = pre + (int64_t)b * 4 * H;
        const float *c_prev = cell_prev + (int64_t)b * H;
        float *g4 = act + (int64_t)b * 4 * H;
        float *c = cell + (int64_t)b * H;
        float *h = hidden + (int64_t)b * H;
        if (peephole) {
            const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
            for (int j = 0; j < H; j++) {
                float i = sigmoid(a[j] + p_i[j] * c_prev[j]);
                float f = sigmoid(a[H + j] + p_f[j] * c_prev[j]);
                float g = tanh_approx(a[2 * H + j]);
                float c_t = f * c_prev[j] + i * g;
                float o = sigmoid(a[3 * H + j] + p_o[j] * c_t);
                g4[j] = i; g4[H + j] = f; g4[2 * H + j] = g; g4[3 * H + j] = o;
                c[j] = c_t;
                h[j] = o * tanh_approx(c_t);
            }
        } else {
            for (int j = 0; j < H; j++) {
                float i = sigmoid(a[j]);
                float f = sigmoid(a[H + j]);
                float g = tanh_approx(a[2 * H + j]);
                float o = sigmoid(a[3 * H + j]);
                float c_t = f * c_prev[j] + i * g;
                g4[j] = i; g4[H + j] = f; g4[2 * H + j] = g; g4[3 * H + j] = o;
                c[j] = c_t;
                h[j] = o * tanh_approx(c_t);
            }
        }
    }
}

/* LSTM backward, equations (B5)-(B2). act: (rows, 4H) = [i f g o]; cell, cell_prev, grad_hidden:
 * (rows, H); grad_cell: (rows, H), δc_t in, δc_{t-1} out. Writes grad_pre: (rows, 4H) = δa_t. */
void lstm_backward_step(int rows, int H, const float *act, const float *cell,
                        const float *cell_prev, const float *peephole, const float *grad_hidden,
                        float *grad_cell, float *grad_pre) {
    for (int b = 0; b < rows; b++) {
        const float *g4 = act + (int64_t)b * 4 * H;
        const float *c = cell + (int64_t)b * H;
        const float *c_prev = cell_prev + (int64_t)b * H;
        const float *dh = grad_hidden + (int64_t)b * H;
        float *dc = grad_cell + (int64_t)b * H;
        float *da = grad_pre + (int64_t)b * 4 * H;
        for (int j = 0; j < H; j++) {
            float i = g4[j], f = g4[H + j], g = g4[2 * H + j], o = g4[3 * H + j];
            float p_i = 0.0f, p_f = 0.0f, p_o = 0.0f;
            if (peephole) {
                p_i = peephole[j]; p_f = peephole[H + j]; p_o = peephole[2 * H + j];
            }
            float tanh_c = tanh_approx(c[j]);
            float da_o = dh[j] * tanh_c * o * (1.0f - o);                           /* (B5) */
            float dc_t = dc[j] + dh[j] * o * (1.0f - tanh_c * tanh_c) + da_o * p_o;  /* (B4) */
            float da_i = dc_t * g * i * (1.0f - i);                                  /* (B3) */
            float da_f = dc_t * c_prev[j] * f * (1.0f - f);
            float da_g = dc_t * i * (1.0f - g * g);
            dc[j] = dc_t * f + da_i * p_i + da_f * p_f;                              /* (B2) */
            da[j] = da_i; da[H + j] = da_f; da[2 * H + j] = da_g; da[3 * H + j] = da_o;
        }
    }
}

/* GRU forward, equations (2)-(4). pre: (rows, 3H) = [a_r + u_r, a_z + u_z, u_n]; input_n, hidden_prev:
 * (rows, H). Writes act: (rows, 3H) = [r z n], recurrent_n: (rows, H) = u_n (if not NULL), hidden. */
void gru_forward_step(int rows, int H, const float *pre, const float *input_n,
                      const float *hidden_prev, float *act, float *recurrent_n, float *hidden) {
    for (int b = 0; b < rows; b++) {
        const float *a = pre + (int64_t)b * 3 * H;
        const float *a_n = input_n + (int64_t)b * H;
        const float *h_prev = hidden_prev + (int64_t)b * H;
        float *g3 = act + (int64_t)b * 3 * H;
        float *h = hidden + (int64_t)b * H;
        for (int j = 0; j < H; j++) {
            float r = sigmoid(a[j]);
            float z = sigmoid(a[H + j]);
            float u_n = a[2 * H + j];
            float n = tanh_approx(a_n[j] + r * u_n);
            g3[j] = r; g3[H + j] = z; g3[2 * H + j] = n;
            h[j] = n + z * (h_prev[j] - n);
        }
        if (recurrent_n) memcpy(recurrent_n + (int64_t)b * H, a + 2 * H, sizeof(float) * H);
    }
}

/* GRU backward, equations (B4)-(B1). act: (rows, 3H) = [r z n]; recurrent_n, hidden_prev,
 * grad_hidden: (rows, H); grad_out_prev: δy_{t-1} (rows, H) or NULL. Writes grad_recurrent:
 * (rows, 3H) = δu_t, grad_input_n: (rows, H) = δa_n, and grad_direct: (rows, H) =
 * δh_t ⊙ z_t + δy_{t-1}, the part of δh_{t-1} that does not go through W_hh. */
void gru_backward_step(int rows, int H, const float *act, const float *recurrent_n,
                       const float *hidden_prev, const float *grad_hidden,
                       const float *grad_out_prev, float *grad_recurrent, float *grad_input_n,
                       float *grad_direct) {
    for (int b = 0; b < rows; b++) {
        const float *g3 = act + (int64_t)b * 3 * H;
        const float *u_n = recurrent_n + (int64_t)b * H;
        const float *h_prev = hidden_prev + (int64_t)b * H;
        const float *dh = grad_hidden + (int64_t)b * H;
        float *du = grad_recurrent + (int64_t)b * 3 * H;
        float *da_n = grad_input_n + (int64_t)b * H;
        float *direct = grad_direct + (int64_t)b * H;
        const float *dy = grad_out_prev ? grad_out_prev + (int64_t)b * H : 0;
        for (int j = 0; j < H; j++) {
            float r = g3[j], z = g3[H + j], n = g3[2 * H + j];
            float dz = dh[j] * (h_prev[j] - n);              /* (B4) */
            float dn = dh[j] * (1.0f - z);
            float dpre_n = dn * (1.0f - n * n);              /* (B3) */
            float dr = dpre_n * u_n[j];
            du[j] = dr * r * (1.0f - r);                     /* (B2) */
            du[H + j] = dz * z * (1.0f - z);
            du[2 * H + j] = dpre_n * r;
            da_n[j] = dpre_n;
            direct[j] = dh[j] * z + (dy ? dy[j] : 0.0f);     /* (B1), the direct path */
        }
    }
}
