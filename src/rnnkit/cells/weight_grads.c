/* The weight gradients of a layer over all its steps at once, δW = δaᵀ [x | h]: δa (M, N)
 * (M = T·B rows, N = G·H pre-activations), x (M, I) and h (M, H; H = 0 for none) row-major;
 * out δW_ih (N, I) and δW_hh (N, H).
 *
 * Why not oneDNN's GEMM: it is fastest with both operands' long dimension (M) contiguous, so
 * δa, the layer's largest array, and the inputs would have to be transposed in memory first;
 * fed the arrays as they are (the inputs transposed) it ran this product at 275-345 GFLOP/s
 * at M = 6400, N = 2048, I = H = 512, where this code ran it 1.09-1.18x faster in the same
 * runs (benchmarks of the layers: see matmul.weight_grads for where each is used).
 *
 * How: the classic blocked product. M is cut into blocks of KC rows. For each block the threads
 * pack its rows of [x | h] together, by groups of GROUP columns (a group's KC rows contiguous:
 * one tile's operand, read from the core's L2 cache), and meet at a barrier; then each thread,
 * which owns its own rows of δW (so nothing is summed across threads), packs its rows of δa
 * for the block MC at a time and adds their products into its rows of δW with the accumulate
 * tiles of time_loop.h. Two packing buffers for [x | h] take turns, so one barrier a block is
 * enough. δW is kept tile by tile in memory order (it does not fit in a core's cache) and the
 * next tile's sums are fetched while a tile computes.
 */
#include "time_loop.h"

#define KC 512            /* rows of δa and [x | h] a block (measured: 128 and 256 slower) */
#define GROUP (4 * LANES) /* columns of [x | h] a tile */
#define MC 96             /* rows of δW packed at once (a multiple of ACCUMULATE_ROWS) */

/* Columns c0 … c0+GROUP-1 of row k of [x | h] (x padded with zeros to Ip columns, then h,
 * then zeros): copies of the runs each part has in the group. */
static void pack_group_row(int c0, int64_t k, int I, int Ip, const float *R x, int H,
                           const float *R h, float *R dst) {
    memset(dst, 0, sizeof(float) * GROUP);
    if (c0 < I) memcpy(dst, x + k * I + c0, sizeof(float) * min_int(GROUP, I - c0));
    int from = c0 > Ip ? c0 : Ip, to = min_int(c0 + GROUP, Ip + H); /* h's columns here */
    if (from < to)
        memcpy(dst + (from - c0), h + k * H + (from - Ip), sizeof(float) * (to - from));
}

/* Where row g of δW's columns group … group+GROUP-1 is kept: by group, then by tile of rows,
 * each tile's rows contiguous, so that the tiles a thread adds to one after the other sit one
 * after the other in memory. */
static inline float *tile_sums(float *sums, int row_groups, int group, int g) {
    return sums + ((int64_t)group * row_groups * ACCUMULATE_ROWS + g) * GROUP;
}

int weight_grads(int M, int N, int I, int H, int threads, const float *da, const float *x,
                 const float *h, float *dw_ih, float *dw_hh) {
    int Ip = (I + LANES - 1) / LANES * LANES, Hp = (H + LANES - 1) / LANES * LANES;
    int groups = (Ip + Hp + GROUP - 1) / GROUP, width = groups * GROUP; /* δW's padded row */
    int64_t panel = (int64_t)KC * GROUP, packed_b = panel * groups;
    int row_groups = (N + ACCUMULATE_ROWS - 1) / ACCUMULATE_ROWS;
    float *sums = alloc_floats((int64_t)row_groups * ACCUMULATE_ROWS * width);
    float *unpacked = alloc_floats((int64_t)threads * width);
    float *b_buffers = alloc_floats(2 * packed_b);
    float *a_buffers = alloc_floats((int64_t)threads * MC * KC);
    if (!sums || !unpacked || !b_buffers || !a_buffers) {
        free(sums);
        free(unpacked);
        free(b_buffers);
        free(a_buffers);
        return -1;
    }
    memset(sums, 0, sizeof(float) * (size_t)row_groups * ACCUMULATE_ROWS * width);
#pragma omp parallel num_threads(threads)
    {
        int thread = omp_get_thread_num(), team = omp_get_num_threads();
        /* this thread's rows of δW: whole tiles of ACCUMULATE_ROWS */
        int g_begin = (int)((int64_t)row_groups * thread / team) * ACCUMULATE_ROWS;
        int g_end = (int)((int64_t)row_groups * (thread + 1) / team) * ACCUMULATE_ROWS;
        g_end = min_int(N, g_end);
        float *packed_a = a_buffers + (int64_t)thread * MC * KC;
        for (int64_t k0 = 0, block = 0; k0 < M; k0 += KC, block++) {
            int kc = (int)(M - k0 < KC ? M - k0 : KC);
            float *packed = b_buffers + (block & 1) * packed_b;
            /* [x | h] rows k0 … k0+kc-1, group by group, shared out by rows */
            for (int k = kc * thread / team; k < kc * (thread + 1) / team; k++)
                for (int group = 0; group < groups; group++)
                    pack_group_row(group * GROUP, k0 + k, I, Ip, x, H, h,
                                   packed + group * panel + (int64_t)k * GROUP);
#pragma omp barrier
            /* this thread's rows in chunks of MC: pack the chunk's rows of δa for the block
             * (for each tile of rows, a[k][r]), then add its product with each group */
            for (int c0 = g_begin; c0 < g_end; c0 += MC) {
                int c1 = min_int(g_end, c0 + MC);
                for (int g = c0; g < c1; g += ACCUMULATE_ROWS) {
                    int rows = min_int(ACCUMULATE_ROWS, c1 - g);
                    float *a = packed_a + (int64_t)(g - c0) * KC;
                    for (int k = 0; k < kc; k++) {
                        const float *row = da + (k0 + k) * N + g;
                        for (int r = 0; r < rows; r++) a[k * ACCUMULATE_ROWS + r] = row[r];
                    }
                }
                for (int group = 0; group < groups; group++)
                    for (int g = c0; g < c1; g += ACCUMULATE_ROWS) {
                        /* the next tile's sums, from memory while this one computes */
                        int next_g = g + ACCUMULATE_ROWS < c1 ? g + ACCUMULATE_ROWS : c0;
                        int next_group = next_g == c0 ? group + 1 : group;
                        if (next_group < groups) {
                            const char *next = (const char *)tile_sums(sums, row_groups,
                                                                       next_group, next_g);
                            for (int line = 0; line < ACCUMULATE_ROWS * GROUP * 4; line += 64)
                                __builtin_prefetch(next + line, 1, 3);
                        }
                        accumulate_tile(min_int(ACCUMULATE_ROWS, c1 - g), 4, kc,
                                        packed_a + (int64_t)(g - c0) * KC, ACCUMULATE_ROWS,
                                        packed + group * panel, GROUP,
                                        tile_sums(sums, row_groups, group, g), GROUP);
                    }
            }
        }
        /* this thread's rows out to δW_ih and δW_hh */
        float *row = unpacked + (int64_t)thread * width;
        for (int g = g_begin; g < g_end; g++) {
            for (int group = 0; group < groups; group++)
                memcpy(row + group * GROUP, tile_sums(sums, row_groups, group, g),
                       sizeof(float) * GROUP);
            memcpy(dw_ih + (int64_t)g * I, row, sizeof(float) * I);
            if (H) memcpy(dw_hh + (int64_t)g * H, row + Ip, sizeof(float) * H);
        }
    }
    free(sums);
    free(unpacked);
    free(b_buffers);
    free(a_buffers);
    return 0;
}
