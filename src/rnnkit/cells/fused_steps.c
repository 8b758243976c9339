/* One time step of the GRU, forward and backward, fused into a single pass (the LSTM's whole
 * time loop is in time_loops.c).
 *
 * These are the element-wise halves of the steps in gru.py, with the same equation
 * numbers: the matrix products stay in PyTorch (oneDNN), and what is left of a step (a dozen
 * element-wise operations, each a separate pass over memory and a separate dispatch in
 * PyTorch) becomes one loop that the compiler vectorises. All arrays are float32, row-major
 * and contiguous; `rows` is the number of sequences still running, H the hidden size.
 *
 * Activations come from kernel_math.h.
 *
 * Each kernel is a function of one row (one sequence), vectorised over the hidden units, and a
 * loop over rows that OpenMP shares between threads when there is enough work. The compiled
 * library links to the OpenMP runtime PyTorch has already loaded, so both use one thread pool.
 */
#include <stdint.h>

#include "kernel_math.h"

/* Below this many elements a step runs on one thread: waking another costs more. */
#define PARALLEL_WORK 16384

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
