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
 *
 * Each kernel is a function of one row (one sequence), vectorised over the hidden units, and a
 * loop over rows that OpenMP shares between threads when there is enough work. The compiled
 * library links to the OpenMP runtime PyTorch has already loaded, so both use one thread pool.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define R restrict
/* Below this many elements a step runs on one thread: waking another costs more. */
#define PARALLEL_WORK 16384

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

/* LSTM forward, equations (1)-(5), one row. The pre-activations a_t = [a_i a_f a_g a_o] are the
 * sum of u (4H) = W_hh h_{t-1} and a (4H) = W_ih x_t + b, added here; peephole: (3, H), zeros
 * for none. Writes g4 (4H) = [i f g o], c and h (H). */
static void lstm_forward_row(int H, const float *R u, const float *R a, const float *R c_prev,
                             const float *R peephole, float *R g4, float *R c, float *R h) {
    const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
    for (int j = 0; j < H; j++) {
        float i = sigmoid(a[j] + u[j] + p_i[j] * c_prev[j]);                 /* (1), (2) */
        float f = sigmoid(a[H + j] + u[H + j] + p_f[j] * c_prev[j]);
        float g = tanh_approx(a[2 * H + j] + u[2 * H + j]);
        float c_t = f * c_prev[j] + i * g;                                   /* (3) */
        float o = sigmoid(a[3 * H + j] + u[3 * H + j] + p_o[j] * c_t);       /* (4) */
        g4[j] = i; g4[H + j] = f; g4[2 * H + j] = g; g4[3 * H + j] = o;
        c[j] = c_t;
        h[j] = o * tanh_approx(c_t);                                         /* (5) */
    }
}

void lstm_forward_step(int rows, int H, const float *recurrent, const float *projected,
                       const float *cell_prev, const float *peephole, float *act, float *cell,
                       float *hidden) {
#pragma omp parallel for schedule(static) if (rows * H >= PARALLEL_WORK)
    for (int b = 0; b < rows; b++) {
        int64_t r4 = (int64_t)b * 4 * H, r1 = (int64_t)b * H;
        lstm_forward_row(H, recurrent + r4, projected + r4, cell_prev + r1, peephole, act + r4,
                         cell + r1, hidden + r1);
    }
}

/* LSTM backward, equations (B5)-(B2), one row. g4 (4H) = [i f g o]; c, c_prev (H); δh_t is the
 * sum of dh_rec (H), from step t+1 or the final state, and dy (H), from the output y_t; dc (H):
 * δc_t in, δc_{t-1} out. Writes da (4H) = δa_t. */
static void lstm_backward_row(int H, const float *R g4, const float *R c,
                              const float *R c_prev, const float *R peephole,
                              const float *R dh_rec, const float *R dy, float *R dc,
                              float *R da) {
    const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
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

void lstm_backward_step(int rows, int H, const float *act, const float *cell,
                        const float *cell_prev, const float *peephole,
                        const float *grad_recurrent, const float *grad_out, float *grad_cell,
                        float *grad_pre) {
#pragma omp parallel for schedule(static) if (rows * H >= PARALLEL_WORK)
    for (int b = 0; b < rows; b++) {
        int64_t r4 = (int64_t)b * 4 * H, r1 = (int64_t)b * H;
        lstm_backward_row(H, act + r4, cell + r1, cell_prev + r1, peephole, grad_recurrent + r1,
                          grad_out + r1, grad_cell + r1, grad_pre + r4);
    }
}

/* GRU forward, equations (2)-(4), one row. w (3H) = W_hh h_{t-1}; a (3H) = [a_r + b_hr,
 * a_z + b_hz, b_hn] (so w + a = [a_r + u_r, a_z + u_z, u_n]); a_n, h_prev (H). Writes g3 (3H) =
 * [r z n], u_n_out (H) = u_n and h (H). */
static void gru_forward_row(int H, const float *R w, const float *R a, const float *R a_n,
                            const float *R h_prev, float *R g3, float *R u_n_out, float *R h) {
    for (int j = 0; j < H; j++) {
        float r = sigmoid(a[j] + w[j]);                                      /* (2) */
        float z = sigmoid(a[H + j] + w[H + j]);
        float u_n = a[2 * H + j] + w[2 * H + j];
        float n = tanh_approx(a_n[j] + r * u_n);                             /* (3) */
        g3[j] = r; g3[H + j] = z; g3[2 * H + j] = n;
        h[j] = n + z * (h_prev[j] - n);                                      /* (4) */
        u_n_out[j] = u_n;
    }
}

void gru_forward_step(int rows, int H, const float *recurrent, const float *projected,
                      const float *input_n, const float *hidden_prev, float *act,
                      float *recurrent_n, float *hidden) {
#pragma omp parallel for schedule(static) if (rows * H >= PARALLEL_WORK)
    for (int b = 0; b < rows; b++) {
        int64_t r3 = (int64_t)b * 3 * H, r1 = (int64_t)b * H;
        gru_forward_row(H, recurrent + r3, projected + r3, input_n + r1, hidden_prev + r1,
                        act + r3, recurrent_n + r1, hidden + r1);
    }
}

/* GRU backward, equations (B4)-(B1), one row. g3 (3H) = [r z n]; u_n, h_prev (H). δh_t is the
 * sum of dh_rec = δu_{t+1} W_hh (or the final state's gradient), dh_dir = δh_{t+1} ⊙ z_{t+1}
 * (the path of (4) that skips W_hh) and dy = δy_t, each (H). Writes du (3H) = δu_t,
 * da_n (H) = δa_n, and direct (H) = δh_t ⊙ z_t for the step before. */
static void gru_backward_row(int H, const float *R g3, const float *R u_n, const float *R h_prev,
                             const float *R dh_rec, const float *R dh_dir, const float *R dy,
                             float *R du, float *R da_n, float *R direct) {
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

void gru_backward_step(int rows, int H, const float *act, const float *recurrent_n,
                       const float *hidden_prev, const float *grad_recurrent,
                       const float *grad_direct, const float *grad_out,
                       float *grad_pre_recurrent, float *grad_input_n, float *grad_direct_out) {
#pragma omp parallel for schedule(static) if (rows * H >= PARALLEL_WORK)
    for (int b = 0; b < rows; b++) {
        int64_t r3 = (int64_t)b * 3 * H, r1 = (int64_t)b * H;
        gru_backward_row(H, act + r3, recurrent_n + r1, hidden_prev + r1, grad_recurrent + r1,
                         grad_direct + r1, grad_out + r1, grad_pre_recurrent + r3,
                         grad_input_n + r1, grad_direct_out + r1);
    }
}
