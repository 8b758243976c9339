/* The machinery the compiled time loops of the three cells share (lstm_loops.c, gru_loops.c,
 * rnn_loops.c): a small matrix product for the recurrent term, and a forward and a backward
 * driver that run a cell's equations, given as a function, over every step.
 *
 * Why: the Python loops of lstm.py, gru.py and rnn.py call a matrix product and an element-wise
 * kernel per step; each call costs microseconds, and at the sizes recurrent nets are trained at
 * those are most of a step. Here the loop over t runs in C. The recurrent product W_hh h_{t-1}
 * is a register-tiled GEMM over W_hh packed once per call, and each tile of its result goes
 * straight into the cell's equations while it is still in cache. The input projection and the
 * weight gradients are single large products in PyTorch before and after the loop, except
 * where the LSTM's drivers make them inside it (run_forward and run_backward say when).
 *
 * Threads: one OpenMP team lives for the whole loop. Either the blocks of hidden units are
 * shared out (a thread then needs only its own rows of W_hh, which stay in its cache, but all
 * of h_{t-1}: the team meets at one barrier per step), or, when there are enough sequences and
 * W_hh fits in a core's cache, the sequences are (they are independent: no barrier at all).
 * The backward shares the same way; with units shared, δh_{t-1} = δa_t W_hh for a thread's
 * units needs all of δa_t, hence one barrier per step between the element-wise part and the
 * product.
 *
 * Layout: time-major, row-major, float32, contiguous. hidden is (T+1, B, H) with the initial
 * state at index 0; sizes[t] is how many sequences (the longest first) still run at step t:
 * rows past it are neither read nor written.
 */
#ifndef RNNKIT_TIME_LOOP_H
#define RNNKIT_TIME_LOOP_H

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_math.h"

#define LANES 16 /* floats in one vector: the width of a block of hidden units */

typedef float vec __attribute__((vector_size(4 * LANES)));
typedef float vec_unaligned __attribute__((vector_size(4 * LANES), aligned(4)));

static inline vec load(const float *p) { return *(const vec_unaligned *)p; }
static inline void store(float *p, vec v) { *(vec_unaligned *)p = v; }

static inline int min_int(int a, int b) { return a < b ? a : b; }

/* `count` floats on a cache line's boundary (C11's aligned_alloc wants a whole number of
 * lines). */
static inline float *alloc_floats(int64_t count) {
    size_t bytes = ((size_t)count * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

#define DEFINE_TILE(ROWS, VECS)                                                               \
    static void tile_##ROWS##_##VECS(int K, const float *R a, int64_t lda,                   \
                                     const float *R panel, int64_t k_stride,                 \
                                     int64_t vec_stride, float *R out, int add) {            \
        vec acc[ROWS][VECS], odd[ROWS][VECS];                                                 \
        for (int r = 0; r < ROWS; r++)                                                        \
            for (int v = 0; v < VECS; v++) {                                                  \
                acc[r][v] = add ? load(out + (r * VECS + v) * LANES) : (vec){0};              \
                odd[r][v] = (vec){0};                                                         \
            }                                                                                 \
        int k = 0;                                                                            \
        if (ROWS * VECS < 8) {                                                                \
            for (; k + 1 < K; k += 2) {                                                       \
                const float *p0 = panel + k * k_stride, *p1 = p0 + k_stride;                  \
                for (int v = 0; v < VECS; v++) {                                              \
                    vec w0 = load(p0 + v * vec_stride), w1 = load(p1 + v * vec_stride);       \
                    for (int r = 0; r < ROWS; r++) {                                          \
                        acc[r][v] += a[r * lda + k] * w0;                                     \
                        odd[r][v] += a[r * lda + k + 1] * w1;                                 \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (; k < K; k++) {                                                                  \
            const float *p = panel + k * k_stride;                                            \
            vec w[VECS];                                                                      \
            for (int v = 0; v < VECS; v++) w[v] = load(p + v * vec_stride);                   \
            for (int r = 0; r < ROWS; r++) {                                                  \
                float x = a[r * lda + k];                                                     \
                for (int v = 0; v < VECS; v++) acc[r][v] += x * w[v];                         \
            }                                                                                 \
        }                                                                                     \
        for (int r = 0; r < ROWS; r++)                                                        \
            for (int v = 0; v < VECS; v++)                                                    \
                store(out + (r * VECS + v) * LANES, acc[r][v] + odd[r][v]);                   \
    }

/* out[r][v][l] (+)= sum_k a[r][k] * panel[k][v][l] for r < ROWS, v < VECS (`add`: onto what
 * out holds): a register tile of the product, one function per shape so that the
 * accumulators live in registers. The packed
 * panel holds, for each k, VECS vectors `vec_stride` floats apart, and `k_stride` floats
 * separate successive k. With fewer than 8 accumulators a second set takes the odd k, so that
 * the multiply-adds do not wait on each other's latency. */
DEFINE_TILE(1, 4) DEFINE_TILE(2, 4) DEFINE_TILE(3, 4) DEFINE_TILE(4, 4)
DEFINE_TILE(5, 4) DEFINE_TILE(6, 4)
DEFINE_TILE(1, 3) DEFINE_TILE(2, 3) DEFINE_TILE(3, 3) DEFINE_TILE(4, 3)
DEFINE_TILE(5, 3) DEFINE_TILE(6, 3)
DEFINE_TILE(1, 1) DEFINE_TILE(2, 1) DEFINE_TILE(3, 1) DEFINE_TILE(4, 1)
DEFINE_TILE(5, 1) DEFINE_TILE(6, 1) DEFINE_TILE(7, 1) DEFINE_TILE(8, 1)
DEFINE_TILE(1, 2) DEFINE_TILE(2, 2) DEFINE_TILE(3, 2) DEFINE_TILE(4, 2)
DEFINE_TILE(5, 2) DEFINE_TILE(6, 2) DEFINE_TILE(7, 2) DEFINE_TILE(8, 2)

/* The forward tile: up to `forward_rows(G)` sequences by one block of units, the G gates of
 * each (24, 18 or 8 accumulators). */
static inline int forward_rows(int G) { return G == 1 ? 8 : 6; }

static void forward_tile(int G, int rows, int K, const float *a, int64_t lda,
                         const float *panel, float *out, int add) {
    int64_t ks = (int64_t)G * LANES;
#define CASE(N)                                                                                \
    case N:                                                                                    \
        if (G == 4) tile_##N##_4(K, a, lda, panel, ks, LANES, out, add);                       \
        else if (G == 3) tile_##N##_3(K, a, lda, panel, ks, LANES, out, add);                  \
        else tile_##N##_1(K, a, lda, panel, ks, LANES, out, add);                              \
        break;
    switch (rows) {
    case 8: tile_8_1(K, a, lda, panel, ks, LANES, out, add); break;
    case 7: tile_7_1(K, a, lda, panel, ks, LANES, out, add); break;
    CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) default: CASE(1)
    }
#undef CASE
}

/* The backward tile: up to 8 sequences by one or two blocks of units (16 accumulators). */
#define BACKWARD_ROWS 8

static void backward_tile(int rows, int vecs, int K, const float *a, int64_t lda,
                          const float *panel, int64_t vec_stride, float *out) {
#define CASE(N)                                                                                \
    case N:                                                                                    \
        if (vecs == 2) tile_##N##_2(K, a, lda, panel, LANES, vec_stride, out, 0);              \
        else tile_##N##_1(K, a, lda, panel, LANES, vec_stride, out, 0);                        \
        break;
    switch (rows) { CASE(8) CASE(7) CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) default: CASE(1) }
#undef CASE
}

#define DEFINE_ACCUMULATE_TILE(ROWS, VECS)                                                    \
    static void accumulate_##ROWS##_##VECS(int K, const float *R a, int64_t a_k,               \
                                           const float *R panel, int64_t k_stride, float *R c, \
                                           int64_t c_row) {                                    \
        vec acc[ROWS][VECS];                                                                  \
        for (int r = 0; r < ROWS; r++)                                                        \
            for (int v = 0; v < VECS; v++) acc[r][v] = load(c + r * c_row + v * LANES);       \
        for (int k = 0; k < K; k++) {                                                         \
            const float *p = panel + k * k_stride;                                            \
            vec w[VECS];                                                                      \
            for (int v = 0; v < VECS; v++) w[v] = load(p + v * LANES);                        \
            for (int r = 0; r < ROWS; r++) {                                                  \
                float x = a[r + k * a_k];                                                     \
                for (int v = 0; v < VECS; v++) acc[r][v] += x * w[v];                         \
            }                                                                                 \
        }                                                                                     \
        for (int r = 0; r < ROWS; r++)                                                        \
            for (int v = 0; v < VECS; v++) store(c + r * c_row + v * LANES, acc[r][v]);       \
    }

/* c[r][v][l] += sum_k a[r + k a_k] * panel[k][v][l] for r < ROWS, v < VECS: a register tile
 * of a weight gradient, δW += δa_tᵀ [h_{t-1} | x_t], summed over a step's sequences (k), with
 * c a tile of the gradient (rows c_row floats apart) and a = δa_t read across its rows. */
DEFINE_ACCUMULATE_TILE(1, 1) DEFINE_ACCUMULATE_TILE(1, 2) DEFINE_ACCUMULATE_TILE(1, 3)
DEFINE_ACCUMULATE_TILE(1, 4) DEFINE_ACCUMULATE_TILE(2, 1) DEFINE_ACCUMULATE_TILE(2, 2)
DEFINE_ACCUMULATE_TILE(2, 3) DEFINE_ACCUMULATE_TILE(2, 4) DEFINE_ACCUMULATE_TILE(3, 1)
DEFINE_ACCUMULATE_TILE(3, 2) DEFINE_ACCUMULATE_TILE(3, 3) DEFINE_ACCUMULATE_TILE(3, 4)
DEFINE_ACCUMULATE_TILE(4, 1) DEFINE_ACCUMULATE_TILE(4, 2) DEFINE_ACCUMULATE_TILE(4, 3)
DEFINE_ACCUMULATE_TILE(4, 4) DEFINE_ACCUMULATE_TILE(5, 1) DEFINE_ACCUMULATE_TILE(5, 2)
DEFINE_ACCUMULATE_TILE(5, 3) DEFINE_ACCUMULATE_TILE(5, 4) DEFINE_ACCUMULATE_TILE(6, 1)
DEFINE_ACCUMULATE_TILE(6, 2) DEFINE_ACCUMULATE_TILE(6, 3) DEFINE_ACCUMULATE_TILE(6, 4)

#define ACCUMULATE_ROWS 6 /* gradient rows a tile; by up to 4 vectors: 24 accumulators */

static void accumulate_tile(int rows, int vecs, int K, const float *a, int64_t a_k,
                            const float *panel, int64_t k_stride, float *c, int64_t c_row) {
#define CASE(N)                                                                                \
    case N:                                                                                    \
        if (vecs == 4) accumulate_##N##_4(K, a, a_k, panel, k_stride, c, c_row);               \
        else if (vecs == 3) accumulate_##N##_3(K, a, a_k, panel, k_stride, c, c_row);          \
        else if (vecs == 2) accumulate_##N##_2(K, a, a_k, panel, k_stride, c, c_row);          \
        else accumulate_##N##_1(K, a, a_k, panel, k_stride, c, c_row);                         \
        break;
    switch (rows) { CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) default: CASE(1) }
#undef CASE
}

/* Which blocks of units and which sequences a thread takes (see the header). */
typedef struct {
    int unit_begin, unit_end; /* blocks of LANES units */
    int row_begin, row_end;   /* sequences */
    int by_units;             /* whether threads share units (and so meet at a barrier) */
} Share;

static Share share_work(int G, int H, int K, int B, int rows_multiple, int force_rows) {
    Share s;
    int blocks = (H + LANES - 1) / LANES;
    int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    /* Sharing sequences needs no barrier and moves no activations between the cores' caches,
     * but every thread then reads all of the packed weights every step: do it when there are
     * enough sequences and the weights (GH x K: W_hh, K = H, or [W_hh | W_ih], K = H + I) fit
     * in a core's cache (measured: 1.7x faster LSTM backward at H = 128). */
    int by_rows = force_rows ||
                  (B >= 2 * rows_multiple * threads && (int64_t)4 * G * H * K <= ((int64_t)1 << 20));
    s.by_units = threads > 1 && blocks >= threads && !by_rows;
    if (threads == 1 || s.by_units) {
        s.unit_begin = (int)((int64_t)blocks * thread / threads);
        s.unit_end = (int)((int64_t)blocks * (thread + 1) / threads);
        s.row_begin = 0, s.row_end = B;
    } else {
        s.unit_begin = 0, s.unit_end = blocks;
        s.row_begin = (int)((int64_t)B * thread / threads);
        s.row_end = (int)((int64_t)B * (thread + 1) / threads);
    }
    return s;
}

/* The forward panel of a (GH, K) weight (W_hh, K = H; or W_ih, K = I) for the units of block
 * u: for each k, the G gates' rows of those units side by side, panel[k][q][l] =
 * w[q H + 16 u + l][k], zeros past H. */
static void pack_forward_block(int G, int H, int K, int u, const float *R w, float *R panel) {
    for (int q = 0; q < G; q++)
        for (int l = 0; l < LANES; l++) {
            int j = u * LANES + l;
            for (int k = 0; k < K; k++)
                panel[(k * G + q) * LANES + l] = j < H ? w[((int64_t)q * H + j) * K + k] : 0.0f;
        }
}

/* The backward panel for block u of a (K, cols) weight (W_hh, or W_ih for δx): its columns
 * 16 u … 16 u + 15 over all K = GH rows, panel[k][l] = w[k][16 u + l], zeros past cols. */
static void pack_backward_block(int64_t K, int cols, int u, const float *R w, float *R panel) {
    int width = min_int(LANES, cols - u * LANES);
    for (int64_t k = 0; k < K; k++) {
        memcpy(panel + k * LANES, w + k * cols + u * LANES, 4 * width);
        memset(panel + k * LANES + width, 0, 4 * (LANES - width));
    }
}

/* One call's arguments: the sizes and, for each cell, the buffers its equations read and
 * write (those a cell does not use are NULL). */
typedef struct {
    int T, B, H, G; /* G: the gates stacked in W_hh (4 LSTM, 3 GRU, 1 RNN) */
    const int *sizes;
    const float *w_hh, *peephole, *bias_hh, *bias_ih;
    float *gates_x, *hidden, *cell, *act, *recurrent_n;
    int relu; /* RNN: g = relu rather than tanh */
    int keep; /* LSTM: the forward leaves the activated gates in gates_x for the backward;
                 the backward sums the peepholes' gradients */
    const float *grad_y;
    float *dh, *dc, *grad_gates, *grad_gates_x;
    /* The input projection inside the forward loop (run_forward: x, W_ih, bias_ih = b_ih +
     * b_hh) and the weight gradients inside the backward loop (run_backward): x (T, B, I) and
     * W_ih (GH, I) in; δx (T, B, I, or NULL), δW_ih (GH, I) and δW_hh (GH, H) out. */
    int I;
    const float *x, *w_ih;
    float *grad_x, *dw_ih, *dw_hh;
} Loop;

/* A cell's forward equations for units j … j+n-1 of sequences row … row+rows-1 at step t;
 * `pre` holds W_hh h_{t-1} for them, for each sequence G vectors of LANES (one per gate). */
typedef void (*ForwardUnits)(const Loop *loop, int t, int64_t row, int rows, int j, int n,
                             const float *pre);

/* A cell's backward equations for units j0 … j1-1 of sequences row_begin … row_end-1 at step
 * t: from δh_t (dh plus δy_t) they write the rows of δa_t that multiply W_hh to `da` (the
 * first sequence's row, GH floats a row), and may set dh to a part of δh_{t-1} that skips
 * W_hh (then `accumulate` adds the product to it).
 * The driver adds those rows to sums[0 … GH) (the bias gradient Σ δa_t, so no pass over δa is
 * needed after the loop); a cell with more to sum (peepholes, a second bias) adds it to `sums`
 * past GH: the calling thread's own row of partial sums. */
typedef void (*BackwardUnits)(const Loop *loop, int t, int64_t row_begin, int64_t row_end,
                              int j0, int j1, float *da, float *sums);

/* The forward loop over t = 0 … T-1. Returns 0, or -1 when out of memory.
 *
 * With L->x set, the input half of a_t, W_ih x_t, is made here too, in the same tile as
 * W_hh h_{t-1} (the cell then adds L->bias_ih rather than reading gates_x), instead of by one
 * product before the loop whose (T, B, GH) result goes to memory and comes back: at small
 * sizes that traffic costs more than the product. */
static int run_forward(const Loop *L, int threads, ForwardUnits units) {
    int G = L->G, H = L->H, B = L->B, I = L->x ? L->I : 0, blocks = (H + LANES - 1) / LANES;
    int64_t panel_size = (int64_t)H * G * LANES, x_panel_size = (int64_t)I * G * LANES;
    int64_t BH = (int64_t)B * H;
    float *panels = alloc_floats((panel_size + x_panel_size) * blocks);
    if (!panels) return -1;
    float *x_panels = panels + panel_size * blocks;
#pragma omp parallel num_threads(threads)
    {
        float out[8 * LANES * 4] __attribute__((aligned(64)));
        int step_rows = forward_rows(G);
        Share s = share_work(G, H, H + I, B, step_rows, 0);
#pragma omp for schedule(static)
        for (int u = 0; u < blocks; u++) {
            pack_forward_block(G, H, H, u, L->w_hh, panels + u * panel_size);
            if (I) pack_forward_block(G, H, I, u, L->w_ih, x_panels + u * x_panel_size);
        }
        for (int t = 0; t < L->T; t++) {
            const float *h_prev = L->hidden + t * BH;
            int row_end = min_int(s.row_end, L->sizes[t]);
            for (int u = s.unit_begin; u < s.unit_end; u++) {
                int j = u * LANES, n = min_int(LANES, H - j);
                for (int b = s.row_begin; b < row_end; b += step_rows) {
                    int rows = min_int(step_rows, row_end - b);
                    if (I) /* W_ih x_t, then W_hh h_{t-1} added in the same registers */
                        forward_tile(G, rows, I, L->x + ((int64_t)t * B + b) * I, I,
                                     x_panels + u * x_panel_size, out, 0);
                    forward_tile(G, rows, H, h_prev + (int64_t)b * H, H, panels + u * panel_size,
                                 out, I > 0);
                    units(L, t, b, rows, j, n, out);
                }
            }
            if (s.by_units) {
#pragma omp barrier
            }
        }
    }
    free(panels);
    return 0;
}

/* sums[q H + j] += da[r][q H + j] over `rows` rows of GH (G gates) and units j0 … j1-1: one
 * call a step (a call a row costs more than the additions at small sizes), a loop per gate
 * and row (GCC vectorises a loop whose sums sit at one offset). */
__attribute__((noinline)) static void add_gates(int G, int H, int j0, int j1, int64_t rows,
                                                const float *R da, float *R sums) {
    for (int q = 0; q < G; q++) {
        float *total = sums + (int64_t)q * H;
        for (int64_t r = 0; r < rows; r++) {
            const float *d = da + r * G * H + (int64_t)q * H;
            for (int j = j0; j < j1; j++) total[j] += d[j];
        }
    }
}

/* δh_{t-1} (+)= δa_t W_hh, or δx_t = δa_t W_ih, for sequences b0 … b1-1 and the blocks of
 * columns u0 … u1-1 of the packed weight: da holds sequence b0's row of δa_t (K floats a row),
 * out is sequence b0's row of the result (`width` floats a row, `cols` of them real). */
static void backward_product(int64_t K, int b0, int b1, int u0, int u1, const float *da,
                             const float *panels, int cols, float *out, int64_t width,
                             int accumulate) {
    float tile[BACKWARD_ROWS * 2 * LANES] __attribute__((aligned(64)));
    int64_t panel_size = K * LANES;
    for (int u = u0; u < u1; u += 2) {
        int vecs = min_int(2, u1 - u);
        for (int b = b0; b < b1; b += BACKWARD_ROWS) {
            int rows = min_int(BACKWARD_ROWS, b1 - b);
            backward_tile(rows, vecs, (int)K, da + (b - b0) * K, K, panels + u * panel_size,
                          panel_size, tile);
            for (int r = 0; r < rows; r++)
                for (int v = 0; v < vecs; v++) {
                    int j = (u + v) * LANES, n = min_int(LANES, cols - j);
                    float *dst = out + (int64_t)(b - b0 + r) * width + j;
                    const float *product = tile + (r * vecs + v) * LANES;
                    if (accumulate)
                        for (int l = 0; l < n; l++) dst[l] += product[l];
                    else
                        memcpy(dst, product, 4 * n);
                }
        }
    }
}

/* δW_hh and δW_ih += δa_tᵀ [h_{t-1} | x_t] over `rows` sequences, into a thread's own (K, W)
 * sums: `inputs` holds the sequences' [h_{t-1} | x_t] rows, W floats each (h zero-padded to a
 * whole number of vectors, then x likewise). */
static void accumulate_weight_grads(int64_t K, int rows, const float *da, const float *inputs,
                                    int W, float *grads) {
    int vecs = W / LANES;
    for (int64_t g = 0; g < K; g += ACCUMULATE_ROWS) {
        int n = (int)(K - g < ACCUMULATE_ROWS ? K - g : ACCUMULATE_ROWS);
        for (int v = 0; v < vecs; v += 4)
            accumulate_tile(n, min_int(4, vecs - v), rows, da + g, K, inputs + v * LANES, W,
                            grads + g * W + v * LANES, W);
    }
}

/* The rows the backward keeps of δa_t and [h_{t-1} | x_t] before it makes the weight gradients
 * of several steps at once (at least one step's): the products' tiles then run over many rows
 * rather than a step's few, and each thread's sum of δW is read and written once per batch of
 * steps rather than every step. */
#define GRADIENT_ROWS 96

/* The backward loop over t = T-1 … 0: the cell's equations, then (B1) δh_{t-1} (+)= δa_t W_hh
 * for this thread's units and sequences. L->dh holds the final state's gradient on entry (a
 * sequence's row keeps it until the step where it ends, going backward) and δh_0 on return.
 * `sums` (width floats) receives the sums the cell's equations accumulate, added up over the
 * threads in a fixed order (the same result for the same number of threads).
 *
 * With L->dw_hh set, the weight gradients are made here too, while δa_t is still in the
 * core's cache: δx_t = δa_t W_ih and δW += δa_tᵀ [h_{t-1} | x_t] (each thread its own sum of
 * δW, added up at the end), and δa_t is never written to memory. After the loop those would be
 * three passes over the layer's largest array, which at small sizes cost more than the
 * products. Each thread then takes whole sequences (it needs all of a sequence's δa_t), and
 * keeps the rows of a few steps (GRADIENT_ROWS) to make their gradients together. */
static int run_backward(const Loop *L, int threads, BackwardUnits units, int accumulate,
                        int width, float *sums) {
    int G = L->G, H = L->H, B = L->B, I = L->I, blocks = (H + LANES - 1) / LANES;
    int in_loop = L->dw_hh != NULL, x_blocks = in_loop ? (I + LANES - 1) / LANES : 0;
    int W = (blocks + x_blocks) * LANES; /* a row of [h_{t-1} | x_t], each part padded */
    int64_t K = (int64_t)G * H, panel_size = K * LANES, BH = (int64_t)B * H;
    /* a thread's rows kept: a step's (all B of them if the team is smaller) or more */
    int64_t capacity = B > GRADIENT_ROWS ? B : GRADIENT_ROWS;
    int64_t dx_rows = L->grad_x ? capacity : 0;
    float *panels = alloc_floats(panel_size * (blocks + x_blocks));
    float *partial = calloc((size_t)threads * width, sizeof(float));
    /* per thread, with the weight gradients in the loop: the kept rows of δa_t, of
     * [h_{t-1} | x_t] and of δx_t, and its sum of [δW_hh | δW_ih] */
    int64_t grads_at = capacity * (K + W) + dx_rows * I;
    int64_t scratch = in_loop ? grads_at + K * W : 0;
    float *scratches = in_loop ? alloc_floats(scratch * threads) : NULL;
    int *slots = in_loop ? malloc(sizeof(int) * 3 * capacity * threads) : NULL;
    if (!panels || !partial || (in_loop && (!scratches || !slots))) {
        free(panels);
        free(partial);
        free(scratches);
        free(slots);
        return -1;
    }
    int team = 1;
#pragma omp parallel num_threads(threads)
    {
        Share s = share_work(G, H, H, B, BACKWARD_ROWS, in_loop);
        int j0 = s.unit_begin * LANES, j1 = min_int(H, s.unit_end * LANES);
        int thread = omp_get_thread_num();
        float *own_sums = partial + (int64_t)thread * width;
        float *kept_da = NULL, *inputs = NULL, *kept_dx = NULL, *grads = NULL;
        int *own_slots = NULL, filled = 0, steps = 0; /* kept rows; steps: (t, rows, at) */
        /* this thread's rows kept: a step's, or GRADIENT_ROWS if that holds several steps (the
         * buffers are sized for a team of one) */
        int own_capacity = s.row_end - s.row_begin > GRADIENT_ROWS ? s.row_end - s.row_begin
                                                                   : GRADIENT_ROWS;
        if (in_loop) {
            kept_da = scratches + (int64_t)thread * scratch;
            inputs = kept_da + capacity * K;
            kept_dx = inputs + capacity * W;
            grads = kept_da + grads_at;
            own_slots = slots + (int64_t)3 * capacity * thread;
            memset(inputs, 0, sizeof(float) * capacity * W); /* the padding stays 0 */
            memset(grads, 0, sizeof(float) * K * W);
        }
#pragma omp single
        team = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int u = 0; u < blocks + x_blocks; u++) {
            if (u < blocks) pack_backward_block(K, H, u, L->w_hh, panels + u * panel_size);
            else pack_backward_block(K, I, u - blocks, L->w_ih, panels + u * panel_size);
        }
        for (int t = L->T - 1; t >= -1; t--) {
            int row_end = t >= 0 ? min_int(s.row_end, L->sizes[t]) : s.row_begin;
            int rows = row_end > s.row_begin ? row_end - s.row_begin : 0;
            if (in_loop && filled > 0 && (filled + rows > own_capacity || t < 0)) {
                /* the kept steps' δx and δW, then room for more */
                if (L->grad_x) {
                    backward_product(K, 0, filled, 0, x_blocks, kept_da,
                                     panels + blocks * panel_size, I, kept_dx, I, 0);
                    for (int k = 0; k < steps; k++) {
                        int step = own_slots[3 * k], n = own_slots[3 * k + 1];
                        memcpy(L->grad_x + ((int64_t)step * B + s.row_begin) * I,
                               kept_dx + (int64_t)own_slots[3 * k + 2] * I, 4 * (size_t)n * I);
                    }
                }
                accumulate_weight_grads(K, filled, kept_da, inputs, W, grads);
                filled = steps = 0;
            }
            if (t < 0) break;
            float *da = in_loop ? kept_da + (int64_t)filled * K
                                : L->grad_gates + (t * BH + s.row_begin * H) * G;
            if (rows > 0) {
                units(L, t, s.row_begin, row_end, j0, j1, da, own_sums);
                add_gates(G, H, j0, j1, rows, da, own_sums);
            }
            if (s.by_units) {
#pragma omp barrier
            }
            if (!in_loop) {
                backward_product(K, s.row_begin, row_end, s.unit_begin, s.unit_end,
                                 L->grad_gates + (t * BH + s.row_begin * H) * G, panels, H,
                                 L->dh + (int64_t)s.row_begin * H, H, accumulate);
                continue;
            }
            if (rows == 0) continue;
            backward_product(K, s.row_begin, row_end, 0, blocks, da, panels, H,
                             L->dh + (int64_t)s.row_begin * H, H, accumulate);
            int64_t x_at = ((int64_t)t * B + s.row_begin) * I;
            for (int r = 0; r < rows; r++) {
                float *row = inputs + (int64_t)(filled + r) * W;
                memcpy(row, L->hidden + t * BH + ((int64_t)s.row_begin + r) * H, 4 * (size_t)H);
                memcpy(row + blocks * LANES, L->x + x_at + (int64_t)r * I, 4 * (size_t)I);
            }
            own_slots[3 * steps] = t, own_slots[3 * steps + 1] = rows;
            own_slots[3 * steps + 2] = filled;
            steps++, filled += rows;
        }
    }
    for (int k = 0; k < width; k++) {
        float total = 0.0f;
        for (int thread = 0; thread < team; thread++) total += partial[(int64_t)thread * width + k];
        sums[k] = total;
    }
    if (in_loop) /* the threads' sums of δW, added in a fixed order; then split into W_hh, W_ih */
        for (int64_t g = 0; g < K; g++)
            for (int k = 0; k < H + I; k++) {
                int col = k < H ? k : blocks * LANES + (k - H);
                float total = 0.0f;
                for (int thread = 0; thread < team; thread++)
                    total += scratches[(int64_t)thread * scratch + grads_at + g * W + col];
                if (k < H) L->dw_hh[g * H + k] = total;
                else L->dw_ih[g * I + (k - H)] = total;
            }
    free(panels);
    free(partial);
    free(scratches);
    free(slots);
    return 0;
}

#endif
