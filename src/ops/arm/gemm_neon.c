/*
 * The GEMM micro-kernel for AArch64 Advanced SIMD. See verge_gemm_args in
 * src/ops/fast.h; the packed layout is the x86 kernels'. A 16-wide panel is
 * 4 vectors per row, so 6 rows keep 24 accumulators in the 32 registers.
 * Each output gets the same fused multiply-adds in the same order as in the
 * x86 kernels.
 */
#include <arm_neon.h>
#include <string.h>

#include "ops/fast.h"

/* Residual columns col .. col + 3 of one row: zeros at and past residual_c. */
static inline float32x4_t load_residual(const float *row, int col, int residual_c)
{
    float lanes[4] = {0.0f, 0.0f, 0.0f, 0.0f};

    if (col + 4 <= residual_c)
        return vld1q_f32(row + col);
    for (int i = 0; col + i < residual_c && i < 4; i++)
        lanes[i] = row[col + i];
    return vld1q_f32(lanes);
}

/* Stores the first `valid` (0..4) lanes. */
static inline void store4(float *out, float32x4_t v, int valid)
{
    float lanes[4];

    if (valid >= 4) {
        vst1q_f32(out, v);
        return;
    }
    vst1q_f32(lanes, v);
    memcpy(out, lanes, sizeof(float) * (size_t)(valid > 0 ? valid : 0));
}

static inline __attribute__((always_inline)) void panel_rows(const verge_gemm_args *g, int R,
                                                             int panel)
{
    const int taps = g->taps, channels = g->channels;
    const float *w = g->packed + (size_t)panel * taps * channels * VERGE_FAST_PANEL;
    const float *bias = g->bias + panel * VERGE_FAST_PANEL;
    float32x4_t acc[VERGE_FAST_ROWS][4];
    int valid = g->out_c - panel * VERGE_FAST_PANEL;

#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        for (int j = 0; j < 4; j++)
            acc[r][j] = vld1q_f32(bias + 4 * j);
    }
    for (int t = 0; t < taps; t++) {
        const float *const *a = g->a + t * VERGE_FAST_ROWS;
        const float *row[VERGE_FAST_ROWS];

#pragma GCC unroll 6
        for (int r = 0; r < R; r++)
            row[r] = a[r];
        for (int c = 0; c < channels; c++) {
            const float32x4_t w0 = vld1q_f32(w), w1 = vld1q_f32(w + 4);
            const float32x4_t w2 = vld1q_f32(w + 8), w3 = vld1q_f32(w + 12);

            w += VERGE_FAST_PANEL;
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                const float32x4_t x = vdupq_n_f32(row[r][c]);

                acc[r][0] = vfmaq_f32(acc[r][0], x, w0);
                acc[r][1] = vfmaq_f32(acc[r][1], x, w1);
                acc[r][2] = vfmaq_f32(acc[r][2], x, w2);
                acc[r][3] = vfmaq_f32(acc[r][3], x, w3);
            }
        }
    }

    if (g->residual != NULL) {
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const float *row = g->residual + (size_t)r * g->residual_stride;

            for (int j = 0; j < 4; j++)
                acc[r][j] = vaddq_f32(acc[r][j], load_residual(row, panel * VERGE_FAST_PANEL +
                                                                        4 * j,
                                                               g->residual_c));
        }
    }
    if (g->clamp) {
        /* FMAX and FMIN return NaN when an operand is NaN: NaN passes through. */
        const float32x4_t lo = vdupq_n_f32(g->lo), hi = vdupq_n_f32(g->hi);

#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            for (int j = 0; j < 4; j++)
                acc[r][j] = vminq_f32(hi, vmaxq_f32(lo, acc[r][j]));
        }
    }
    if (valid > VERGE_FAST_PANEL)
        valid = VERGE_FAST_PANEL;
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        float *out = g->out + (size_t)r * g->out_stride + panel * VERGE_FAST_PANEL;

        for (int j = 0; j < 4; j++)
            store4(out + 4 * j, acc[r][j], valid - 4 * j);
    }
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

void verge_gemm_f32_neon(const verge_gemm_args *args)
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
