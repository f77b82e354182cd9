/*
 * The GEMM micro-kernel for AVX2 + FMA (built with -mavx2 -mfma, called
 * only when the CPU has both). See verge_gemm_args in src/ops/fast.h.
 *
 * Each call keeps rows x 16 outputs in 2 * rows 8-lane accumulators
 * (12 of the 16 ymm registers at 6 rows) and, for every k, loads 16
 * weights and broadcasts one input value per row.
 */
#include <immintrin.h>

#include "ops/fast.h"

/* Lanes of the last, partial 8-lane group: all set below `valid`. */
static __m256i lane_mask(int valid)
{
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};

    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid),
                              _mm256_loadu_si256((const __m256i *)ramp));
}

static inline __attribute__((always_inline)) __m256 clamp8(__m256 x, __m256 lo, __m256 hi)
{
    /* max/min return their second operand when either is NaN: NaN passes through. */
    return _mm256_min_ps(hi, _mm256_max_ps(lo, x));
}

/* Residual columns col .. col + 7 of one row: zeros at and past residual_c. */
static inline __attribute__((always_inline)) __m256 load_residual(const float *row, int col,
                                                                  int residual_c)
{
    if (col + 8 <= residual_c)
        return _mm256_loadu_ps(row + col);
    if (col >= residual_c)
        return _mm256_setzero_ps();
    return _mm256_maskload_ps(row + col, lane_mask(residual_c - col));
}

static inline __attribute__((always_inline)) void store16(float *out, __m256 a, __m256 b,
                                                          int valid)
{
    if (valid >= 16) {
        _mm256_storeu_ps(out, a);
        _mm256_storeu_ps(out + 8, b);
    } else if (valid > 8) {
        _mm256_storeu_ps(out, a);
        _mm256_maskstore_ps(out + 8, lane_mask(valid - 8), b);
    } else {
        _mm256_maskstore_ps(out, lane_mask(valid), a);
    }
}

/* One panel for R rows; R is a constant in every caller, so the row loops unroll. */
static inline __attribute__((always_inline)) void panel_rows(const verge_gemm_args *g, int R,
                                                             int panel)
{
    const int taps = g->taps, channels = g->channels;
    const float *w = g->packed + (size_t)panel * taps * channels * VERGE_FAST_PANEL;
    __m256 acc0[VERGE_FAST_ROWS], acc1[VERGE_FAST_ROWS];
    const __m256 b0 = _mm256_loadu_ps(g->bias + panel * VERGE_FAST_PANEL);
    const __m256 b1 = _mm256_loadu_ps(g->bias + panel * VERGE_FAST_PANEL + 8);
    int valid = g->out_c - panel * VERGE_FAST_PANEL;

#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        acc0[r] = b0;
        acc1[r] = b1;
    }
    for (int t = 0; t < taps; t++) {
        const float *const *a = g->a + t * VERGE_FAST_ROWS;
        const float *row[VERGE_FAST_ROWS];

#pragma GCC unroll 6
        for (int r = 0; r < R; r++)
            row[r] = a[r];
        for (int c = 0; c < channels; c++) {
            const __m256 w0 = _mm256_load_ps(w);
            const __m256 w1 = _mm256_load_ps(w + 8);

            w += VERGE_FAST_PANEL;
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                const __m256 x = _mm256_broadcast_ss(row[r] + c);

                acc0[r] = _mm256_fmadd_ps(x, w0, acc0[r]);
                acc1[r] = _mm256_fmadd_ps(x, w1, acc1[r]);
            }
        }
    }

    if (g->residual != NULL) {
        const int col = panel * VERGE_FAST_PANEL;

#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const float *row = g->residual + (size_t)r * g->residual_stride;

            acc0[r] = _mm256_add_ps(acc0[r], load_residual(row, col, g->residual_c));
            acc1[r] = _mm256_add_ps(acc1[r], load_residual(row, col + 8, g->residual_c));
        }
    }
    if (g->clamp) {
        const __m256 lo = _mm256_set1_ps(g->lo), hi = _mm256_set1_ps(g->hi);

#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            acc0[r] = clamp8(acc0[r], lo, hi);
            acc1[r] = clamp8(acc1[r], lo, hi);
        }
    }
    if (valid > VERGE_FAST_PANEL)
        valid = VERGE_FAST_PANEL;
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
        store16(g->out + (size_t)r * g->out_stride + panel * VERGE_FAST_PANEL, acc0[r], acc1[r],
                valid);
}

#define DEFINE_ROWS(R)                                                                   \
    static void panels_##R(const verge_gemm_args *g)                                     \
    {                                                                                    \
        for (int p = g->panel_begin; p < g->panel_end; p++)                              \
            panel_rows(g, R, p);                                                         \
    }

DEFINE_ROWS(1)
DEFINE_ROWS(2)
DEFINE_ROWS(3)
DEFINE_ROWS(4)
DEFINE_ROWS(5)
DEFINE_ROWS(6)

void verge_gemm_f32_avx2(const verge_gemm_args *args)
{
    switch (args->rows) {
    case 1: panels_1(args); break;
    case 2: panels_2(args); break;
    case 3: panels_3(args); break;
    case 4: panels_4(args); break;
    case 5: panels_5(args); break;
    default: panels_6(args); break;
    }
}
