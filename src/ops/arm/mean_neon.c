/*
 * MEAN for AArch64 Advanced SIMD. See verge_mean_args in
 * src/ops/fast_misc.h: up to 32 outputs at a time, sixteen float64 sums of
 * 2 lanes, each adding its channel's values in input order as the reference
 * kernel does, so the bits match. The last width % 4 channels of a block
 * run in scalar code.
 */
#include <arm_neon.h>

#include "ops/fast_misc.h"

enum { PASS_WIDTH = 32 };

/*
 * Computes out[0, 4 * VECTORS) from in[r * inner + (0, 4 * VECTORS)] for r in
 * [0, reduced). VECTORS is a constant in every caller, so the sums stay in
 * registers.
 */
static inline __attribute__((always_inline)) void mean_columns(const float *in, float *out,
                                                               size_t reduced, size_t inner,
                                                               const int VECTORS)
{
    const float64x2_t count = vdupq_n_f64((double)reduced);
    float64x2_t low[8], high[8];

    for (int k = 0; k < VECTORS; k++)
        low[k] = high[k] = vdupq_n_f64(0.0);
    for (size_t r = 0; r < reduced; r++, in += inner) {
        for (int k = 0; k < VECTORS; k++) {
            const float32x4_t v = vld1q_f32(in + 4 * k);

            low[k] = vaddq_f64(low[k], vcvt_f64_f32(vget_low_f32(v)));
            high[k] = vaddq_f64(high[k], vcvt_high_f64_f32(v));
        }
    }
    for (int k = 0; k < VECTORS; k++)
        vst1q_f32(out + 4 * k, vcvt_high_f32_f64(vcvt_f32_f64(vdivq_f64(low[k], count)),
                                                 vdivq_f64(high[k], count)));
}

/* Computes one channel with the reference kernel's loop. */
static void mean_column(const float *in, float *out, size_t reduced, size_t inner)
{
    double sum = 0.0;

    for (size_t r = 0; r < reduced; r++)
        sum += in[r * inner];
    *out = (float)(sum / (double)reduced);
}

void verge_mean_f32_neon(const verge_mean_args *a, size_t begin, size_t end)
{
    const size_t blocks = (a->inner + VERGE_MEAN_BLOCK - 1) / VERGE_MEAN_BLOCK;

    for (size_t unit = begin; unit < end; unit++) {
        const size_t o = unit / blocks, i0 = unit % blocks * VERGE_MEAN_BLOCK;
        const size_t block_end =
            a->inner - i0 < VERGE_MEAN_BLOCK ? a->inner : i0 + VERGE_MEAN_BLOCK;

        for (size_t i = i0; i < block_end; i += PASS_WIDTH) {
            const int width = (int)(block_end - i < PASS_WIDTH ? block_end - i : PASS_WIDTH);
            const float *in = a->in + o * a->reduced * a->inner + i;
            float *out = a->out + o * a->inner + i;

            switch (width / 4) {
            case 0: break;
            case 1: mean_columns(in, out, a->reduced, a->inner, 1); break;
            case 2: mean_columns(in, out, a->reduced, a->inner, 2); break;
            case 3: mean_columns(in, out, a->reduced, a->inner, 3); break;
            case 4: mean_columns(in, out, a->reduced, a->inner, 4); break;
            case 5: mean_columns(in, out, a->reduced, a->inner, 5); break;
            case 6: mean_columns(in, out, a->reduced, a->inner, 6); break;
            case 7: mean_columns(in, out, a->reduced, a->inner, 7); break;
            default: mean_columns(in, out, a->reduced, a->inner, 8); break;
            }
            for (int c = width / 4 * 4; c < width; c++)
                mean_column(in + c, out + c, a->reduced, a->inner);
        }
    }
}
