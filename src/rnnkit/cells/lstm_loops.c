/* The LSTM's time loops in C, equations (1)-(5) and (B5)-(B1) of lstm.py, on the drivers of
 * time_loop.h. gates_x (T, B, 4H) is W_ih x_t + b for every step (or, where the forward makes
 * the projection itself, nothing on entry); peephole (3, H) holds the
 * input, forget and output gates' diagonal weights (zeros for a plain LSTM, so no branches);
 * hidden and cell are (T+1, B, H) with h_0, c_0 at index 0. For the backward, the forward
 * overwrites gates_x with the activated gates i, f, g, o (each value is read before its place
 * is written): one (T, B, 4H) array, the layer's largest, instead of two.
 *
 * The equations are functions with restrict pointers, called once for a few sequences: GCC
 * vectorises a loop over several arrays only when it knows they do not overlap, and a call a
 * sequence would cost as much as the equations at small sizes.
 */
#include "time_loop.h"

/* Equations (1)-(5) for n units of `rows` sequences: pre = W_hh h_{t-1} (and W_ih x_t when
 * the loop makes it) as 4 vectors (i, f, g, o) a sequence; the rest of a_t is read from IN
 * (gate q at +qH): gates_x, or the bias; ax points at gate i of a row of 4H and receives i, f,
 * g, o if `keep`; peephole at unit 0 of (3, H); c_prev, c, h at unit 0 of rows of H. */
#define LSTM_FORWARD(KEEP, IN)                                                                 \
    for (int l = 0; l < n; l++) {                                                              \
        float i = sigmoid(pre[l] + IN[l] + p_i[l] * c_prev[l]);                  /* (1), (2) */ \
        float f = sigmoid(pre[LANES + l] + IN[H + l] + p_f[l] * c_prev[l]);                    \
        float g = tanh_approx(pre[2 * LANES + l] + IN[2 * H + l]);                             \
        float c_t = f * c_prev[l] + i * g;                                       /* (3) */      \
        float o = sigmoid(pre[3 * LANES + l] + IN[3 * H + l] + p_o[l] * c_t);    /* (4) */      \
        c[l] = c_t;                                                                            \
        h[l] = o * tanh_approx(c_t);                                             /* (5) */      \
        if (KEEP) { ax[l] = i; ax[H + l] = f; ax[2 * H + l] = g; ax[3 * H + l] = o; }          \
    }

/* ... with a_t's input half in gates_x (ax), replaced by the gates */
__attribute__((noinline)) static void lstm_forward_rows(
    int rows, int n, int H, int keep, const float *R pre, float *R ax, const float *R c_prev,
    const float *R peephole, float *R c, float *R h) {
    const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
    for (int r = 0; r < rows; r++, pre += 4 * LANES, ax += 4 * H, c_prev += H, c += H, h += H) {
        if (keep) {
            LSTM_FORWARD(1, ax)
        } else {
            LSTM_FORWARD(0, ax)
        }
    }
}

/* ... with W_ih x_t already in pre: a_t adds the bias (two pointers: a function apiece, each
 * with arrays that do not overlap, which GCC needs to vectorise) */
__attribute__((noinline)) static void lstm_forward_rows_bias(
    int rows, int n, int H, int keep, const float *R pre, const float *R bias, float *R ax,
    const float *R c_prev, const float *R peephole, float *R c, float *R h) {
    const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
    for (int r = 0; r < rows; r++, pre += 4 * LANES, ax += 4 * H, c_prev += H, c += H, h += H) {
        if (keep) {
            LSTM_FORWARD(1, bias)
        } else {
            LSTM_FORWARD(0, bias)
        }
    }
}

static void lstm_forward_units(const Loop *L, int t, int64_t row, int rows, int j, int n,
                               const float *pre) {
    int64_t BH = (int64_t)L->B * L->H, at = t * BH + row * L->H + j; /* (t, row, j) */
    int64_t gate_at = 4 * (t * BH + row * L->H) + j;                   /* (t, row, i_j) */
    float *ax = L->gates_x ? L->gates_x + gate_at : NULL; /* NULL: nothing to keep */
    if (L->x)
        lstm_forward_rows_bias(rows, n, L->H, L->keep, pre, L->bias_ih + j, ax, L->cell + at,
                               L->peephole + j, L->cell + at + BH, L->hidden + at + BH);
    else
        lstm_forward_rows(rows, n, L->H, L->keep, pre, ax, L->cell + at, L->peephole + j,
                          L->cell + at + BH, L->hidden + at + BH);
}

/* Equations (B5)-(B2) for units j0 … j1-1 of one sequence: δh_t = dh + dy; dc holds δc_t and
 * becomes δc_{t-1}; g4 holds i, f, g, o; da receives δa_t. */
__attribute__((noinline)) static void lstm_backward_row(
    int j0, int j1, int H, const float *R g4, const float *R c, const float *R c_prev,
    const float *R peephole, const float *R dh, const float *R dy, float *R dc, float *R da) {
    const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
    for (int j = j0; j < j1; j++) {
        float i = g4[j], f = g4[H + j], g = g4[2 * H + j], o = g4[3 * H + j];
        float dh_t = dh[j] + dy[j];
        float tanh_c = tanh_approx(c[j]);
        float da_o = dh_t * tanh_c * sigmoid_slope(o);                            /* (B5) */
        float dc_t = dc[j] + dh_t * o * tanh_slope(tanh_c) + da_o * p_o[j];       /* (B4) */
        float da_i = dc_t * g * sigmoid_slope(i);                                 /* (B3) */
        float da_f = dc_t * c_prev[j] * sigmoid_slope(f);
        float da_g = dc_t * i * tanh_slope(g);
        dc[j] = dc_t * f + da_i * p_i[j] + da_f * p_f[j];                         /* (B2) */
        da[j] = da_i; da[H + j] = da_f; da[2 * H + j] = da_g; da[3 * H + j] = da_o;
    }
}

/* The peepholes' gradients over `rows` sequences, summed: δp_i += δa_i ⊙ c_{t-1},
 * δp_f += δa_f ⊙ c_{t-1}, δp_o += δa_o ⊙ c_t (a loop each: GCC vectorises a loop whose sums
 * sit at one offset). */
__attribute__((noinline)) static void lstm_peephole_sums(
    int j0, int j1, int H, int64_t rows, const float *R da, const float *R c,
    const float *R c_prev, float *R p_i, float *R p_f, float *R p_o) {
    for (int64_t r = 0; r < rows; r++, da += 4 * H, c += H, c_prev += H) {
        for (int j = j0; j < j1; j++) p_i[j] += da[j] * c_prev[j];
        for (int j = j0; j < j1; j++) p_f[j] += da[H + j] * c_prev[j];
        for (int j = j0; j < j1; j++) p_o[j] += da[3 * H + j] * c[j];
    }
}

static void lstm_backward_units(const Loop *L, int t, int64_t row_begin, int64_t row_end,
                                int j0, int j1, float *da, float *sums) {
    int H = L->H;
    int64_t BH = (int64_t)L->B * H, at = t * BH + row_begin * H; /* (t, row_begin, 0) */
    for (int64_t b = 0; b < row_end - row_begin; b++)
        lstm_backward_row(j0, j1, H, L->act + 4 * (at + b * H), L->cell + at + BH + b * H,
                          L->cell + at + b * H, L->peephole, L->dh + (row_begin + b) * H,
                          L->grad_y + at + b * H, L->dc + (row_begin + b) * H, da + 4 * b * H);
    if (!L->keep) return; /* no peepholes to learn */
    float *peephole_sums = sums + 4 * H; /* after the bias's 4H, which the driver sums */
    lstm_peephole_sums(j0, j1, H, row_end - row_begin, da, L->cell + at + BH, L->cell + at,
                       peephole_sums, peephole_sums + H, peephole_sums + 2 * H);
}

/* keep: whether gates_x receives the activated gates (for a backward). With x not NULL the
 * loop makes W_ih x_t itself (time_loop.h: run_forward) and adds bias: x (T, B, I), w_ih
 * (4H, I), bias (4H; zeros for none), and gates_x holds nothing on entry (and may be NULL
 * when not `keep`); else it holds W_ih x_t + b. */
int lstm_forward_loop(int T, int B, int H, int I, int threads, int keep, const int *sizes,
                      const float *w_hh, const float *x, const float *w_ih, const float *bias,
                      float *gates_x, const float *peephole, float *hidden, float *cell) {
    Loop L = {.T = T, .B = B, .H = H, .G = 4, .sizes = sizes, .w_hh = w_hh, .gates_x = gates_x,
              .peephole = peephole, .hidden = hidden, .cell = cell, .keep = keep, .I = I,
              .x = x, .w_ih = w_ih, .bias_ih = bias};
    return run_forward(&L, threads, lstm_forward_units);
}

/* act (the activated gates), cell from the forward; grad_y (T, B, H) = δy. dh, dc (B, H):
 * the final state's gradients on entry, the initial state's on return. grad_gates (T, B, 4H)
 * receives δa_t (rows past a sequence's end are left as they are: zeros from the caller), and
 * sums (7H) the bias gradient (4H) and, if `peepholes`, the peepholes' (3H; else zeros). The
 * forward's values are only read: a graph kept for a second backward stays valid.
 *
 * With dw_hh not NULL the weight gradients are made in the loop instead (time_loop.h:
 * run_backward) and grad_gates is not used: x (T, B, I), w_ih (4H, I) and hidden (T+1, B, H)
 * in; grad_x (T, B, I; NULL when not wanted; rows past a sequence's end untouched), dw_ih
 * (4H, I) and dw_hh (4H, H) out. */
int lstm_backward_loop(int T, int B, int H, int I, int threads, int peepholes,
                       const int *sizes, const float *w_hh, const float *w_ih,
                       const float *peephole, const float *act, const float *cell,
                       const float *hidden, const float *x, const float *grad_y, float *dh,
                       float *dc, float *grad_gates, float *grad_x, float *dw_ih, float *dw_hh,
                       float *sums) {
    /* `keep` says here whether the peepholes' gradients are wanted */
    Loop L = {.T = T, .B = B, .H = H, .G = 4, .sizes = sizes, .w_hh = w_hh,
              .peephole = peephole, .act = (float *)act, .cell = (float *)cell,
              .hidden = (float *)hidden, .grad_y = grad_y, .dh = dh, .dc = dc,
              .grad_gates = grad_gates, .keep = peepholes, .I = I, .x = x, .w_ih = w_ih,
              .grad_x = grad_x, .dw_ih = dw_ih, .dw_hh = dw_hh};
    return run_backward(&L, threads, lstm_backward_units, 0, 7 * H, sums);
}
