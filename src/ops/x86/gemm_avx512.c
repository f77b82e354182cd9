/*
 * The GEMM micro-kernel for AVX-512F (built with -mavx512f -mavx2 -mfma,
 * called only when the CPU has all three). See verge_gemm_args in
 * src/ops/fast.h; the packed layout is the AVX2 kernel's.
 *
 * Two 16-wide panels at a time keep rows x 32 outputs in 2 * rows zmm
 * accumulators; a last odd panel runs alone. Each output gets the same
 * fused multiply-adds in the same order as in the AVX2 kernel, so both give
 * the same bits.
 */
#include <immintrin.h>

#include "ops/fast.h"

static inline __attribute__((always_inline)) __m512 clamp16(__m512 x, __m512 lo, __m512 hi)
{
    /* max/min return their second operand when either is NaN: NaN passes through. */
    return _mm512_min_ps(hi, _mm512_max_ps(lo, x));
}

static inline __attribute__((always_inline)) void store16(float *out, __m512 v, int valid)
{
    if (valid >= 16)
        _mm512_storeu_ps(out, v);
    else
        _mm512_mask_storeu_ps(out, (__mmask16)((1u << valid) - 1), v);
}

/* Residual columns col .. col + 15 of one row: zeros at and past residual_c. */
static inline __attribute__((always_inline)) __m512 load_residual(const float *row, int col,
                                                                  int residual_c)
{
    if (col + 16 <= residual_c)
        return _mm512_loadu_ps(row + col);
    if (col >= residual_c)
        return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps((__mmask16)((1u << (residual_c - col)) - 1), row + col);
}

/* Columns of panel `panel` that exist, 0..16. */
static inline int panel_valid(const verge_gemm_args *g, int panel)
{
    int valid = g->out_c - panel * VERGE_FAST_PANEL;

    return valid > VERGE_FAST_PANEL ? VERGE_FAST_PANEL : valid;
}

/* Panels `panel` and `panel + 1` for R rows (R constant in every caller). */
static inline __attribute__((always_inline)) void two_panels(const verge_gemm_args *g, int R,
                                                             int panel)
{
    const int taps = g->taps, channels = g->channels;
    const size_t k_total = (size_t)taps * channels;
    const float *w0 = g->packed + (size_t)panel * k_total * VERGE_FAST_PANEL;
    const float *w1 = w0 + k_total * VERGE_FAST_PANEL;
    const __m512 b0 = _mm512_loadu_ps(g->bias + panel * VERGE_FAST_PANEL);
    const __m512 b1 = _mm512_loadu_ps(g->bias + (panel + 1) * VERGE_FAST_PANEL);
    __m512 acc0[VERGE_FAST_ROWS], acc1[VERGE_FAST_ROWS];

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
            const __m512 x0 = _mm512_load_ps(w0), x1 = _mm512_load_ps(w1);

            w0 += VERGE_FAST_PANEL;
            w1 += VERGE_FAST_PANEL;
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                const __m512 x = _mm512_set1_ps(row[r][c]);

                acc0[r] = _mm512_fmadd_ps(x, x0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(x, x1, acc1[r]);
            }
        }
    }
    if (g->residual != NULL) {
        const int col = panel * VERGE_FAST_PANEL;

#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const float *row = g->residual + (size_t)r * g->residual_stride;

            acc0[r] = _mm512_add_ps(acc0[r], load_residual(row, col, g->residual_c));
            acc1[r] = _mm512_add_ps(acc1[r],
                                    load_residual(row, col + VERGE_FAST_PANEL, g->residual_c));
        }
    }
    if (g->clamp) {
        const __m512 lo = _mm512_set1_ps(g->lo), hi = _mm512_set1_ps(g->hi);

#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            acc0[r] = clamp16(acc0[r], lo, hi);
            acc1[r] = clamp16(acc1[r], lo, hi);
        }
    }
    {
        const int valid1 = panel_valid(g, panel + 1);
        float *out = g->out + panel * VERGE_FAST_PANEL;

#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            _mm512_storeu_ps(out + (size_t)r * g->out_stride, acc0[r]);
            store16(out + (size_t)r * g->out_stride + VERGE_FAST_PANEL, acc1[r], valid1);
        }
    }
}

/* One panel for R rows. */
static inline __attribute__((always_inline)) void one_panel(const verge_gemm_args *g, int R,
                                                            int panel)
{
    const int taps = g->taps, channels = g->channels;
    const float *w = g->packed + (size_t)panel * taps * channels * VERGE_FAST_PANEL;
    const __m512 b = _mm512_loadu_ps(g->bias + panel * VERGE_FAST_PANEL);
    __m512 acc[VERGE_FAST_ROWS];

#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
        acc[r] = b;
    for (int t = 0; t < taps; t++) {
        const float *const *a = g->a + t * VERGE_FAST_ROWS;
        const float *row[VERGE_FAST_ROWS];

#pragma GCC unroll 6
        for (int r = 0; r < R; r++)
            row[r] = a[r];
        for (int c = 0; c < channels; c++) {
            const __m512 x0 = _mm512_load_ps(w);

            w += VERGE_FAST_PANEL;
#pragma GCC unroll 6
            for (int r = 0; r < R; r++)
                acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(row[r][c]), x0, acc[r]);
        }
    }
    if (g->residual != NULL) {
#pragma GCC unroll 6
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_add_ps(acc[r],
                                   load_residual(g->residual + (size_t)r * g->residual_stride,
                                                 panel * VERGE_FAST_PANEL, g->residual_c));
    }
    if (g->clamp) {
        const __m512 lo = _mm512_set1_ps(g->lo), hi = _mm512_set1_ps(g->hi);

#pragma GCC unroll 6
        for (int r = 0; r < R; r++)
            acc[r] = clamp16(acc[r], lo, hi);
    }
    {
        const int valid = panel_valid(g, panel);

#pragma GCC unroll 6
        for (int r = 0; r < R; r++)
            store16(g->out + (size_t)r * g->out_stride + panel * VERGE_FAST_PANEL, acc[r], valid);
    }
}

#define DEFINE_ROWS(R)                                                                   \
    static void panels_##R(const verge_gemm_args *g)                                     \
    {                                                                                    \
        int p = g->panel_begin;                                                          \
                                                                                         \
        for (; p + 2 <= g->panel_end; p += 2)                                            \
            two_panels(g, R, p);                                                         \
        if (p < g->panel_end)                                                            \
            one_panel(g, R, p);                                                          \
    }

DEFINE_ROWS(1)
DEFINE_ROWS(2)
DEFINE_ROWS(3)
DEFINE_ROWS(4)
DEFINE_ROWS(5)
DEFINE_ROWS(6)

void verge_gemm_f32_avx512(const verge_gemm_args *args)
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
