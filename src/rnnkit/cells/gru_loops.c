/* The GRU's time loops in C, equations (1)-(4) and (B4)-(B1) of gru.py, on the drivers of
 * time_loop.h. gates_x (T, B, 3H) is a_t = W_ih x_t + b_ih for every step; bias_hh (3H) is
 * b_hh (zeros when there is no bias); hidden is (T+1, B, H) with h_0 at index 0. For the
 * backward, act (T, B, 3H) receives r, z, n and recurrent_n (T, B, H) u_n; both are NULL for
 * inference.
 */
#include "time_loop.h"

/* Equations (2)-(4) for n units of `rows` sequences: pre = W_hh h_{t-1} as 3 vectors (r, z, n)
 * a sequence; ax, act and bias point at gate r of a row of 3H (gate q at +qH); h_prev, u_n_out
 * and h at unit 0 of rows of H. */
#define GRU_FORWARD(KEEP)                                                                      \
    for (int l = 0; l < n; l++) {                                                              \
        float u_n = pre[2 * LANES + l] + bias[2 * H + l];                        /* (1) */      \
        float r = sigmoid(ax[l] + pre[l] + bias[l]);                             /* (2) */      \
        float z = sigmoid(ax[H + l] + pre[LANES + l] + bias[H + l]);                           \
        float c = tanh_approx(ax[2 * H + l] + r * u_n);                          /* (3) */      \
        h[l] = c + z * (h_prev[l] - c);                                          /* (4) */      \
        if (KEEP) { act[l] = r; act[H + l] = z; act[2 * H + l] = c; u_n_out[l] = u_n; }        \
    }

__attribute__((noinline)) static void gru_forward_rows(
    int rows, int n, int H, const float *R pre, const float *R ax, const float *R bias,
    const float *R h_prev, float *R act, float *R u_n_out, float *R h) {
    for (int r = 0; r < rows; r++, pre += 3 * LANES, ax += 3 * H, h_prev += H, h += H) {
        if (act) {
            GRU_FORWARD(1)
            act += 3 * H, u_n_out += H;
        } else {
            GRU_FORWARD(0)
        }
    }
}

static void gru_forward_units(const Loop *L, int t, int64_t row, int rows, int j, int n,
                              const float *pre) {
    int64_t BH = (int64_t)L->B * L->H, at = t * BH + row * L->H + j; /* (t, row, j) */
    int64_t gate_at = 3 * (t * BH + row * L->H) + j;                   /* (t, row, r_j) */
    gru_forward_rows(rows, n, L->H, pre, L->gates_x + gate_at, L->bias_hh + j, L->hidden + at,
                     L->act ? L->act + gate_at : NULL,
                     L->recurrent_n ? L->recurrent_n + at : NULL, L->hidden + at + BH);
}

/* Equations (B4)-(B2) for units j0 … j1-1 of one sequence: δh_t = dh + dy. Writes du = δu_t
 * (what multiplies W_hh), da = δa_t (δu_t but δa_n in the candidate's slot), and sets dh to
 * δh_t ⊙ z_t, the part of δh_{t-1} that skips W_hh in (B1); the product is added to it. */
__attribute__((noinline)) static void gru_backward_row(
    int j0, int j1, int H, const float *R g3, const float *R u_n, const float *R h_prev,
    float *R dh, const float *R dy, float *R du, float *R da) {
    for (int j = j0; j < j1; j++) {
        float r = g3[j], z = g3[H + j], n = g3[2 * H + j];
        float dh_t = dh[j] + dy[j];
        float dz = dh_t * (h_prev[j] - n);                                        /* (B4) */
        float dn = dh_t * (1.0f - z);
        float da_n = dn * tanh_slope(n);                                          /* (B3) */
        float dr = da_n * u_n[j];
        float du_r = dr * sigmoid_slope(r), du_z = dz * sigmoid_slope(z);         /* (B2) */
        du[j] = du_r; du[H + j] = du_z; du[2 * H + j] = da_n * r;
        da[j] = du_r; da[H + j] = du_z; da[2 * H + j] = da_n;
        dh[j] = dh_t * z;                                                         /* (B1) */
    }
}

static void gru_backward_units(const Loop *L, int t, int64_t row_begin, int64_t row_end,
                               int j0, int j1, float *du, float *sums) {
    int H = L->H;
    int64_t BH = (int64_t)L->B * H, at = t * BH + row_begin * H; /* (t, row_begin, 0) */
    for (int64_t b = 0; b < row_end - row_begin; b++) {
        int64_t here = at + b * H;
        gru_backward_row(j0, j1, H, L->act + 3 * here, L->recurrent_n + here, L->hidden + here,
                         L->dh + (row_begin + b) * H, L->grad_y + here,
                         du + 3 * b * H, L->grad_gates_x + 3 * here);
    }
    /* δb_ih = Σ δa_t, after δb_hh = Σ δu_t (3H), which the driver sums */
    add_gates(3, H, j0, j1, row_end - row_begin, L->grad_gates_x + 3 * at, sums + 3 * H);
}

int gru_forward_loop(int T, int B, int H, int threads, const int *sizes, const float *w_hh,
                     const float *gates_x, const float *bias_hh, float *hidden, float *act,
                     float *recurrent_n) {
    Loop L = {.T = T, .B = B, .H = H, .G = 3, .sizes = sizes, .w_hh = w_hh,
              .gates_x = (float *)gates_x, .bias_hh = bias_hh, .hidden = hidden, .act = act,
              .recurrent_n = recurrent_n};
    return run_forward(&L, threads, gru_forward_units);
}

/* act, recurrent_n, hidden from the forward; grad_y (T, B, H) = δy; dh (B, H): the final
 * state's gradient on entry, the initial state's on return. grad_gates_h and grad_gates_x
 * (T, B, 3H) receive δu_t and δa_t (rows past a sequence's end are left as they are: zeros
 * from the caller), sums (6H) the gradients of b_hh = Σ δu_t and b_ih = Σ δa_t. */
int gru_backward_loop(int T, int B, int H, int threads, const int *sizes, const float *w_hh,
                      const float *act, const float *recurrent_n, const float *hidden,
                      const float *grad_y, float *dh, float *grad_gates_h, float *grad_gates_x,
                      float *sums) {
    Loop L = {.T = T, .B = B, .H = H, .G = 3, .sizes = sizes, .w_hh = w_hh,
              .act = (float *)act, .recurrent_n = (float *)recurrent_n,
              .hidden = (float *)hidden, .grad_y = grad_y, .dh = dh,
              .grad_gates = grad_gates_h, .grad_gates_x = grad_gates_x};
    return run_backward(&L, threads, gru_backward_units, 1, 6 * H, sums);
}
