/* The vanilla RNN's time loops in C, equations (1)-(2) and (B2)-(B1) of rnn.py, on the drivers
 * of time_loop.h. gates_x (T, B, H) is W_ih x_t + b for every step; hidden is (T+1, B, H) with
 * h_0 at index 0; `relu` chooses g = relu over tanh.
 */
#include "time_loop.h"

/* Equations (1)-(2) for n units of `rows` sequences: pre = W_hh h_{t-1} (a vector a
 * sequence), ax = W_ih x_t + b and h at unit 0 of rows of H. */
__attribute__((noinline)) static void rnn_forward_rows(int rows, int n, int H, int relu,
                                                       const float *R pre, const float *R ax,
                                                       float *R h) {
    for (int r = 0; r < rows; r++, pre += LANES, ax += H, h += H) {
        if (relu)
            for (int l = 0; l < n; l++) {
                float a = pre[l] + ax[l];                                         /* (1) */
                h[l] = a > 0.0f ? a : 0.0f;                                       /* (2) */
            }
        else
            for (int l = 0; l < n; l++) h[l] = tanh_approx(pre[l] + ax[l]);      /* (1), (2) */
    }
}

static void rnn_forward_units(const Loop *L, int t, int64_t row, int rows, int j, int n,
                              const float *pre) {
    int64_t BH = (int64_t)L->B * L->H, at = t * BH + row * L->H + j; /* (t, row, j) */
    rnn_forward_rows(rows, n, L->H, L->relu, pre, L->gates_x + at, L->hidden + at + BH);
}

/* Equation (B2) for units j0 … j1-1: δa_t = (dh + dy) ⊙ g'(a_t), with g' read off h_t:
 * 1 - h_t² for tanh, [h_t > 0] for relu. */
__attribute__((noinline)) static void rnn_backward_row(int j0, int j1, int relu,
                                                       const float *R h, const float *R dh,
                                                       const float *R dy, float *R da) {
    if (relu)
        for (int j = j0; j < j1; j++) da[j] = h[j] > 0.0f ? dh[j] + dy[j] : 0.0f;
    else
        for (int j = j0; j < j1; j++) da[j] = (dh[j] + dy[j]) * tanh_slope(h[j]);
}

static void rnn_backward_units(const Loop *L, int t, int64_t row_begin, int64_t row_end,
                               int j0, int j1, float *da, float *sums) {
    int64_t BH = (int64_t)L->B * L->H, at = t * BH + row_begin * L->H; /* (t, row_begin, 0) */
    for (int64_t b = 0; b < row_end - row_begin; b++) {
        int64_t here = at + b * L->H;
        rnn_backward_row(j0, j1, L->relu, L->hidden + here + BH, L->dh + (row_begin + b) * L->H,
                         L->grad_y + here, da + b * L->H);
    }
    (void)sums; /* the driver sums δb = Σ δa_t */
}

int rnn_forward_loop(int T, int B, int H, int threads, int relu, const int *sizes,
                     const float *w_hh, const float *gates_x, float *hidden) {
    Loop L = {.T = T, .B = B, .H = H, .G = 1, .sizes = sizes, .w_hh = w_hh,
              .gates_x = (float *)gates_x, .hidden = hidden, .relu = relu};
    return run_forward(&L, threads, rnn_forward_units);
}

/* hidden from the forward; grad_y (T, B, H) = δy; dh (B, H): the final state's gradient on
 * entry, the initial state's on return; grad_pre (T, B, H) receives δa_t (rows past a
 * sequence's end are left as they are: zeros from the caller) and sums (H) the bias gradient. */
int rnn_backward_loop(int T, int B, int H, int threads, int relu, const int *sizes,
                      const float *w_hh, const float *hidden, const float *grad_y, float *dh,
                      float *grad_pre, float *sums) {
    Loop L = {.T = T, .B = B, .H = H, .G = 1, .sizes = sizes, .w_hh = w_hh,
              .hidden = (float *)hidden, .relu = relu, .grad_y = grad_y, .dh = dh,
              .grad_gates = grad_pre};
    return run_backward(&L, threads, rnn_backward_units, 0, H, sums);
}
