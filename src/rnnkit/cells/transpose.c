/* A matrix transpose for the weight gradients, dst (cols, rows) = src (rows, cols)ᵀ.
 *
 * Why: δW = δaᵀ x over all T·B rows is fastest on oneDNN with x transposed in memory, and
 * PyTorch's copy of a transposed view runs on one thread without blocking for the cache (at
 * T·B = 6400, I = 512 it takes a fifth of the product). Here 16 x 16 blocks, which stay in
 * the cache between the read and the write, are shared between threads.
 */
#include <omp.h>
#include <stdint.h>

#define BLOCK 16

void transpose(int rows, int cols, int threads, const float *restrict src, float *restrict dst) {
    int row_blocks = (rows + BLOCK - 1) / BLOCK, col_blocks = (cols + BLOCK - 1) / BLOCK;
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
    for (int rb = 0; rb < row_blocks; rb++)
        for (int cb = 0; cb < col_blocks; cb++) {
            int r1 = rb * BLOCK + BLOCK < rows ? rb * BLOCK + BLOCK : rows;
            int c1 = cb * BLOCK + BLOCK < cols ? cb * BLOCK + BLOCK : cols;
            for (int c = cb * BLOCK; c < c1; c++)
                for (int r = rb * BLOCK; r < r1; r++)
                    dst[(int64_t)c * rows + r] = src[(int64_t)r * cols + c];
        }
}
