/* Whole time loops of the LSTM, forward and backward, in one call each.
 *
 * lstm.py's loops (equations (1)-(5) and (B5)-(B1) there) call a matrix product and a fused
 * element-wise kernel per step; each call from Python costs microseconds, and at the sizes
 * recurrent nets are trained at those microseconds are most of a step. Here the loop over t
 * runs in C: the recurrent product W_hh h_{t-1} is a small GEMM written for it (the input
 * projection before the loop and the weight gradients after it stay single large products in
 * PyTorch), and each tile of its result goes straight into the gate equations while it is
 * still in cache.
 *
 * Threads: the hidden units are shared out between the threads of one OpenMP team that lives
 * for the whole loop. A thread computes the gates of its own units for every sequence, which
 * needs its own rows of W_hh only (they stay in its cache across steps), and the whole of
 * h_{t-1}; so the team meets at one barrier per step. When there are fewer blocks of units than
 * threads, the sequences are shared out instead, and no barrier is needed at all (sequences
 * are independent). The backward loop shares the same way: δh_{t-1} = δa_t W_hh for a thread's
 * units needs all of δa_t, hence one barrier per step between the element-wise part and the
 * product.
 *
 * Layout: time-major and row-major, float32, contiguous. hidden and cell are (T+1, B, H) with
 * the initial state at index 0; `sizes[t]` is how many sequences (the longest first) are still
 * running at step t, so rows past it are neither read nor written.
 */
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

/* The activations of kernel_math.h on whole vectors, for the forward tile that keeps its
 * results in registers (written out here because GCC does not vectorise across a tile). */
typedef int32_t ivec __attribute__((vector_size(4 * LANES)));

static inline vec clamp(vec x, float lo, float hi) {
    ivec below = x < lo, above = x > hi; /* all-ones lanes where true */
    ivec bits = (ivec)x, lo_bits = (ivec)((vec){0} + lo), hi_bits = (ivec)((vec){0} + hi);
    bits = (bits & ~below) | (lo_bits & below);
    return (vec)((bits & ~above) | (hi_bits & above));
}

static inline vec exp_vec(vec x) {
    x = clamp(x, -87.0f, 88.0f);
    vec n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    vec r = x - n * 0.693359375f + n * 2.12194440e-4f;
    vec p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    ivec scale = (__builtin_convertvector(n, ivec) + 127) << 23;
    return p * (vec)scale;
}

/* 1 / d: one Newton step on the CPU's 14-bit reciprocal where it has one (the division it
 * replaces is the slowest instruction of the step), else a division. */
static inline vec reciprocal(vec d) {
#if defined(__AVX512F__) && LANES == 16
    vec r = (vec)__builtin_ia32_rcp14ps512_mask((vec)d, (vec){0}, (uint16_t)-1);
    return r * (2.0f - d * r);
#else
    return 1.0f / d;
#endif
}

static inline vec sigmoid_vec(vec x) { return reciprocal(1.0f + exp_vec(-x)); }

static inline vec tanh_vec(vec x) { return 1.0f - 2.0f * reciprocal(1.0f + exp_vec(2.0f * x)); }

#define DEFINE_TILE(ROWS, VECS)                                                               \
    static void tile_##ROWS##_##VECS(int K, const float *R a, int64_t lda,                   \
                                     const float *R panel, int64_t k_stride,                 \
                                     int64_t vec_stride, float *R out) {                     \
        vec acc[ROWS][VECS], odd[ROWS][VECS];                                                 \
        for (int r = 0; r < ROWS; r++)                                                        \
            for (int v = 0; v < VECS; v++) acc[r][v] = odd[r][v] = (vec){0};                  \
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

/* out[r][v][l] = sum_k a[r][k] * panel[k][v][l] for r < ROWS, v < VECS: a register tile of the
 * product, one function per shape so that the accumulators live in registers. The packed
 * panel holds, for each k, VECS vectors `vec_stride` floats apart, and `k_stride` floats
 * separate successive k. With fewer than 8 accumulators a second set takes the odd k, so that
 * the multiply-adds do not wait on each other's latency. */
DEFINE_TILE(1, 4) DEFINE_TILE(2, 4) DEFINE_TILE(3, 4) DEFINE_TILE(4, 4)
DEFINE_TILE(5, 4) DEFINE_TILE(6, 4)
DEFINE_TILE(1, 1) DEFINE_TILE(2, 1) DEFINE_TILE(3, 1) DEFINE_TILE(4, 1)
DEFINE_TILE(5, 1) DEFINE_TILE(6, 1) DEFINE_TILE(7, 1) DEFINE_TILE(8, 1)
DEFINE_TILE(1, 2) DEFINE_TILE(2, 2) DEFINE_TILE(3, 2) DEFINE_TILE(4, 2)
DEFINE_TILE(5, 2) DEFINE_TILE(6, 2) DEFINE_TILE(7, 2) DEFINE_TILE(8, 2)

/* The forward tile: up to 6 sequences by one block of units, the 4 gates of each (24
 * accumulators, and 4 registers for the weights). */
static void forward_tile(int rows, int K, const float *a, int64_t lda, const float *panel,
                         float *out) {
    switch (rows) {
    case 6: tile_6_4(K, a, lda, panel, 4 * LANES, LANES, out); break;
    case 5: tile_5_4(K, a, lda, panel, 4 * LANES, LANES, out); break;
    case 4: tile_4_4(K, a, lda, panel, 4 * LANES, LANES, out); break;
    case 3: tile_3_4(K, a, lda, panel, 4 * LANES, LANES, out); break;
    case 2: tile_2_4(K, a, lda, panel, 4 * LANES, LANES, out); break;
    default: tile_1_4(K, a, lda, panel, 4 * LANES, LANES, out); break;
    }
}
#define FORWARD_ROWS 6

/* The backward tile: up to 8 sequences by one or two blocks of units (16 accumulators). */
static void backward_tile(int rows, int vecs, int K, const float *a, int64_t lda,
                          const float *panel, int64_t vec_stride, float *out) {
#define CASE(N)                                                                    \
    case N:                                                                        \
        if (vecs == 2) tile_##N##_2(K, a, lda, panel, LANES, vec_stride, out);     \
        else tile_##N##_1(K, a, lda, panel, LANES, vec_stride, out);               \
        break;
    switch (rows) { CASE(8) CASE(7) CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) default: CASE(1) }
#undef CASE
}
#define BACKWARD_ROWS 8

/* Which blocks of units and which sequences a thread takes (see the header). */
typedef struct {
    int unit_begin, unit_end; /* blocks of LANES units */
    int row_begin, row_end;   /* sequences */
    int by_units;             /* whether threads share units (and so meet at a barrier) */
} Share;

static Share share_work(int blocks, int B, int H, int rows_multiple) {
    Share s;
    int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    /* Sharing sequences needs no barrier and moves no activations between the cores' caches,
     * but every thread then reads all of W_hh: do it when there are enough sequences and
     * W_hh (4H x H) fits in a core's cache (measured: 1.7x faster backward at H = 128). */
    int by_rows = B >= 2 * rows_multiple * threads && (int64_t)16 * H * H <= ((int64_t)1 << 20);
    s.by_units = threads > 1 && blocks >= threads && !by_rows;
    if (threads == 1 || s.by_units) {
        s.unit_begin = (int)((int64_t)blocks * thread / threads);
        s.unit_end = (int)((int64_t)blocks * (thread + 1) / threads);
        s.row_begin = 0, s.row_end = B;
    } else {
        int chunks = (B + rows_multiple - 1) / rows_multiple;
        s.unit_begin = 0, s.unit_end = blocks;
        s.row_begin = min_int(B, (int)((int64_t)chunks * thread / threads) * rows_multiple);
        s.row_end = min_int(B, (int)((int64_t)chunks * (thread + 1) / threads) * rows_multiple);
    }
    return s;
}

/* The forward panel of W_hh (4H, H) for the units of block u: for each k, the 4 gates' rows
 * of those units side by side, panel[k][q][l] = W_hh[q H + 16 u + l][k], zeros past H. */
static void pack_forward_block(int H, int u, const float *R w_hh, float *R panel) {
    for (int q = 0; q < 4; q++)
        for (int l = 0; l < LANES; l++) {
            int j = u * LANES + l;
            const float *row = w_hh + ((int64_t)q * H + j) * H;
            for (int k = 0; k < H; k++) panel[(k * 4 + q) * LANES + l] = j < H ? row[k] : 0.0f;
        }
}

/* The backward panel for block u: columns 16 u … 16 u + 15 of W_hh over all 4H rows,
 * panel[k][l] = W_hh[k][16 u + l], zeros past H. */
static void pack_backward_block(int H, int u, const float *R w_hh, float *R panel) {
    int width = min_int(LANES, H - u * LANES);
    for (int k = 0; k < 4 * H; k++) {
        memcpy(panel + (int64_t)k * LANES, w_hh + (int64_t)k * H + u * LANES, 4 * width);
        memset(panel + (int64_t)k * LANES + width, 0, 4 * (LANES - width));
    }
}

/* Equations (1)-(5) for `n` units of one sequence: pre holds W_hh h_{t-1} for them as 4 vectors
 * (i, f, g, o); ax, act point at unit j of gate i in rows of 4H (gate q at +qH); peephole at
 * unit j of (3, H). act is NULL when nothing is kept for a backward. */
#define LSTM_UNITS_BODY(KEEP)                                                                 \
    for (int l = 0; l < n; l++) {                                                             \
        float i = sigmoid(pre[l] + ax[l] + p_i[l] * c_prev[l]);                 /* (1), (2) */ \
        float f = sigmoid(pre[LANES + l] + ax[H + l] + p_f[l] * c_prev[l]);                   \
        float g = tanh_approx(pre[2 * LANES + l] + ax[2 * H + l]);                            \
        float c_t = f * c_prev[l] + i * g;                                      /* (3) */      \
        float o = sigmoid(pre[3 * LANES + l] + ax[3 * H + l] + p_o[l] * c_t);   /* (4) */      \
        c[l] = c_t;                                                                           \
        h[l] = o * tanh_approx(c_t);                                            /* (5) */      \
        if (KEEP) { act[l] = i; act[H + l] = f; act[2 * H + l] = g; act[3 * H + l] = o; }     \
    }

static inline void lstm_units(int n, int H, const float *R pre, const float *ax,
                              const float *R c_prev, const float *R peephole, float *act,
                              float *R c, float *R h) {
    const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
    if (act) {
        LSTM_UNITS_BODY(1)
    } else {
        LSTM_UNITS_BODY(0)
    }
}

/* lstm_units for a whole block of LANES units, on vectors. */
static inline void lstm_block(int H, const float *R pre, const float *ax,
                              const float *R c_prev, const float *R peephole, float *act,
                              float *R c, float *R h) {
    vec c_p = load(c_prev);
    vec i = sigmoid_vec(load(pre) + load(ax) + load(peephole) * c_p);              /* (1), (2) */
    vec f = sigmoid_vec(load(pre + LANES) + load(ax + H) + load(peephole + H) * c_p);
    vec g = tanh_vec(load(pre + 2 * LANES) + load(ax + 2 * H));
    vec c_t = f * c_p + i * g;                                                      /* (3) */
    vec o = sigmoid_vec(load(pre + 3 * LANES) + load(ax + 3 * H) + load(peephole + 2 * H) * c_t);
    store(c, c_t);
    store(h, o * tanh_vec(c_t));                                                    /* (5) */
    if (act) {
        store(act, i); store(act + H, f); store(act + 2 * H, g); store(act + 3 * H, o);
    }
}

static inline void lstm_block_n(int n, int H, const float *R pre, const float *ax,
                                const float *R c_prev, const float *R peephole, float *act,
                                float *R c, float *R h) {
    (void)n;
    lstm_block(H, pre, ax, c_prev, peephole, act, c, h);
}

/* The LSTM forward loop, equations (1)-(5) for t = 0 … T-1. gates_x (T, B, 4H) = W_ih x_t + b;
 * peephole (3, H), zeros for none; hidden, cell (T+1, B, H) with h_0, c_0 at index 0; act
 * (T, B, 4H) receives i, f, g, o when not NULL. Returns 0, or -1 if out of memory. */
int lstm_forward_loop(int T, int B, int H, int threads, const int *sizes, const float *w_hh,
                      const float *gates_x, const float *peephole, float *hidden, float *cell,
                      float *act) {
    int blocks = (H + LANES - 1) / LANES;
    int64_t panel_size = (int64_t)H * 4 * LANES, BH = (int64_t)B * H;
    float *panels = aligned_alloc(64, sizeof(float) * panel_size * blocks);
    if (!panels) return -1;
#pragma omp parallel num_threads(threads)
    {
        float out[FORWARD_ROWS * 4 * LANES] __attribute__((aligned(64)));
        Share s = share_work(blocks, B, H, FORWARD_ROWS);
#pragma omp for schedule(static)
        for (int u = 0; u < blocks; u++) pack_forward_block(H, u, w_hh, panels + u * panel_size);
        for (int t = 0; t < T; t++) {
            const float *h_prev = hidden + t * BH, *c_prev = cell + t * BH;
            const float *ax = gates_x + 4 * t * BH;
            float *h = hidden + (t + 1) * BH, *c = cell + (t + 1) * BH;
            float *a_t = act ? act + 4 * t * BH : NULL;
            int row_end = min_int(s.row_end, sizes[t]);
            for (int u = s.unit_begin; u < s.unit_end; u++) {
                int j = u * LANES, n = min_int(LANES, H - j);
                for (int b = s.row_begin; b < row_end; b += FORWARD_ROWS) {
                    int rows = min_int(FORWARD_ROWS, row_end - b);
                    /* what the gate equations read after the product: fetched meanwhile */
                    for (int r = 0; r < rows; r++)
                        for (int q = 0; q < 4; q++)
                            __builtin_prefetch(ax + (int64_t)(b + r) * 4 * H + q * H + j, 1);
                    forward_tile(rows, H, h_prev + b * H, H, panels + u * panel_size, out);
                    for (int r = 0; r < rows; r++) {
                        int64_t row = b + r;
                        (n == LANES ? lstm_block_n : lstm_units)(n, H, out + r * 4 * LANES, ax + row * 4 * H + j,
                                   c_prev + row * H + j, peephole + j,
                                   a_t ? a_t + row * 4 * H + j : NULL, c + row * H + j,
                                   h + row * H + j);
                    }
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

/* Equations (B5)-(B2) for units j0 … j1-1 of one sequence (see lstm.py): δh_t = dh + dy; dc
 * holds δc_t and becomes δc_{t-1}; da (4H) receives δa_t. */
static inline void lstm_backward_units(int j0, int j1, int H, const float *R act,
                                       const float *R c, const float *R c_prev,
                                       const float *R peephole, const float *R dh,
                                       const float *R dy, float *R dc, float *R da) {
    const float *p_i = peephole, *p_f = peephole + H, *p_o = peephole + 2 * H;
    for (int j = j0; j < j1; j++) {
        float i = act[j], f = act[H + j], g = act[2 * H + j], o = act[3 * H + j];
        float dh_t = dh[j] + dy[j];
        float tanh_c = tanh_approx(c[j]);
        float da_o = dh_t * tanh_c * o * (1.0f - o);                                /* (B5) */
        float dc_t = dc[j] + dh_t * o * (1.0f - tanh_c * tanh_c) + da_o * p_o[j];   /* (B4) */
        float da_i = dc_t * g * i * (1.0f - i);                                     /* (B3) */
        float da_f = dc_t * c_prev[j] * f * (1.0f - f);
        float da_g = dc_t * i * (1.0f - g * g);
        dc[j] = dc_t * f + da_i * p_i[j] + da_f * p_f[j];                           /* (B2) */
        da[j] = da_i; da[H + j] = da_f; da[2 * H + j] = da_g; da[3 * H + j] = da_o;
    }
}

/* The LSTM backward loop, equations (B5)-(B1) for t = T-1 … 0. act (T, B, 4H) and cell
 * (T+1, B, H) from the forward; grad_y (T, B, H) = δy. dh, dc (B, H) hold the gradients of the
 * final state on entry and those of the initial state on return (a sequence's rows take its
 * final-state gradient until the step where it ends, going backward). grad_gates (T, B, 4H)
 * receives δa_t (rows past sizes[t] are left as they are: zeros from the caller). */
int lstm_backward_loop(int T, int B, int H, int threads, const int *sizes, const float *w_hh,
                       const float *peephole, const float *act, const float *cell,
                       const float *grad_y, float *dh, float *dc, float *grad_gates) {
    int blocks = (H + LANES - 1) / LANES;
    int64_t panel_size = (int64_t)4 * H * LANES, BH = (int64_t)B * H;
    float *panels = aligned_alloc(64, sizeof(float) * panel_size * blocks);
    if (!panels) return -1;
#pragma omp parallel num_threads(threads)
    {
        float out[BACKWARD_ROWS * 2 * LANES] __attribute__((aligned(64)));
        Share s = share_work(blocks, B, H, BACKWARD_ROWS);
        int j0 = s.unit_begin * LANES, j1 = min_int(H, s.unit_end * LANES);
#pragma omp for schedule(static)
        for (int u = 0; u < blocks; u++) pack_backward_block(H, u, w_hh, panels + u * panel_size);
        for (int t = T - 1; t >= 0; t--) {
            const float *a_t = act + 4 * t * BH, *c = cell + (t + 1) * BH, *c_prev = cell + t * BH;
            const float *dy = grad_y + t * BH;
            float *da = grad_gates + 4 * t * BH;
            int row_end = min_int(s.row_end, sizes[t]);
            for (int64_t b = s.row_begin; b < row_end; b++)
                lstm_backward_units(j0, j1, H, a_t + b * 4 * H, c + b * H, c_prev + b * H,
                                    peephole, dh + b * H, dy + b * H, dc + b * H, da + b * 4 * H);
            if (s.by_units) {
#pragma omp barrier
            }
            /* (B1) δh_{t-1} = δa_t W_hh, for this thread's units and rows */
            for (int u = s.unit_begin; u < s.unit_end; u += 2) {
                int vecs = min_int(2, s.unit_end - u);
                for (int b = s.row_begin; b < row_end; b += BACKWARD_ROWS) {
                    int rows = min_int(BACKWARD_ROWS, row_end - b);
                    backward_tile(rows, vecs, 4 * H, da + (int64_t)b * 4 * H, 4 * H,
                                  panels + u * panel_size, panel_size, out);
                    for (int r = 0; r < rows; r++)
                        for (int v = 0; v < vecs; v++) {
                            int j = (u + v) * LANES, n = min_int(LANES, H - j);
                            memcpy(dh + (int64_t)(b + r) * H + j, out + (r * vecs + v) * LANES,
                                   4 * n);
                        }
                }
            }
        }
    }
    free(panels);
    return 0;
}
