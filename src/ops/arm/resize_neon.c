/*
 * RESIZE_BILINEAR for AArch64 Advanced SIMD. See verge_resize_args in
 * src/ops/fast_misc.h: 4 channels per vector, the last channels in scalar
 * code, each computing the reference's float32 expression with the same
 * multiplies and additions in the same order, so the bits match. Fused
 * multiply-adds would change them: the intrinsics below are separate
 * multiplies and additions, and -std=c11 keeps the compiler from
 * contracting the scalar tail.
 */
#include <arm_neon.h>

#include "ops/fast_misc.h"

void verge_resize_f32_neon(const verge_resize_args *a, size_t row_begin, size_t row_end)
{
    const int32_t C = a->channels;

    for (size_t row = row_begin; row < row_end; row++) {
        const size_t b = row / (size_t)a->out_h;
        const verge_resize_tap ty = a->rows[row % (size_t)a->out_h];
        const float *row0 = a->in + (b * a->in_h + (size_t)ty.lower) * a->in_w * C;
        const float *row1 = a->in + (b * a->in_h + (size_t)ty.upper) * a->in_w * C;
        const float32x4_t wy0 = vdupq_n_f32(ty.weight_lower), wy1 = vdupq_n_f32(ty.weight_upper);
        const float32x4_t zero = vdupq_n_f32(0.0f);
        float *out = a->out + row * a->out_w * C;

        for (int32_t ox = 0; ox < a->out_w; ox++, out += C) {
            const verge_resize_tap tx = a->columns[ox];
            const float32x4_t wx0 = vdupq_n_f32(tx.weight_lower);
            const float32x4_t wx1 = vdupq_n_f32(tx.weight_upper);
            const float *p00 = row0 + (size_t)tx.lower * C, *p01 = row0 + (size_t)tx.upper * C;
            const float *p10 = row1 + (size_t)tx.lower * C, *p11 = row1 + (size_t)tx.upper * C;
            int32_t c = 0;

            for (; c + 4 <= C; c += 4) {
                float32x4_t sum =
                    vaddq_f32(vmulq_f32(vmulq_f32(vld1q_f32(p00 + c), wy0), wx0),
                              vmulq_f32(vmulq_f32(vld1q_f32(p10 + c), wy1), wx0));

                sum = vaddq_f32(sum, vmulq_f32(vmulq_f32(vld1q_f32(p01 + c), wy0), wx1));
                sum = vaddq_f32(sum, vmulq_f32(vmulq_f32(vld1q_f32(p11 + c), wy1), wx1));
                /* The reference adds 0.0f last, which turns a -0 sum into +0. */
                vst1q_f32(out + c, vaddq_f32(sum, zero));
            }
            for (; c < C; c++)
                out[c] = p00[c] * ty.weight_lower * tx.weight_lower +
                         p10[c] * ty.weight_upper * tx.weight_lower +
                         p01[c] * ty.weight_lower * tx.weight_upper +
                         p11[c] * ty.weight_upper * tx.weight_upper + 0.0f;
        }
    }
}
