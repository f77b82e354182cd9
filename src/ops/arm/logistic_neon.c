/*
 * LOGISTIC for AArch64 Advanced SIMD: 1 / (1 + exp(-x)), 4 lanes at a
 * time. The last count % 4 elements go through the same vector code from a
 * zero-padded copy. The steps, constants and accuracy are those of the AVX2
 * version (src/ops/x86/logistic_avx2.c), which explains them; both give the
 * same bits.
 */
#include <arm_neon.h>
#include <string.h>

#include "ops/fast_misc.h"

static inline float32x4_t logistic4(float32x4_t x)
{
    /* FMIN and FMAX return NaN when either operand is NaN: NaN passes through. */
    const float32x4_t z =
        vmaxq_f32(vdupq_n_f32(-87.0f), vminq_f32(vdupq_n_f32(89.0f), vnegq_f32(x)));
    const float32x4_t n = vrndnq_f32(vmulq_f32(z, vdupq_n_f32(0x1.715476p+0f)));
    float32x4_t r = vfmsq_f32(z, n, vdupq_n_f32(0x1.62e43p-1f));
    float32x4_t p = vdupq_n_f32(0x1.6d7532p-10f), e;
    int32x4_t scale;

    r = vfmsq_f32(r, n, vdupq_n_f32(-0x1.05c61p-29f));
    p = vfmaq_f32(vdupq_n_f32(0x1.126fa6p-7f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0x1.5554acp-5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0x1.555404p-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    /* A NaN n converts to 0; p is NaN then, so e is too. */
    scale = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(126)), 23);
    e = vmulq_f32(vaddq_f32(p, p), vreinterpretq_f32_s32(scale));
    return vdivq_f32(vdupq_n_f32(1.0f), vaddq_f32(vdupq_n_f32(1.0f), e));
}

void verge_logistic_f32_neon(const float *in, float *out, size_t count)
{
    size_t i = 0;

    for (; i + 4 <= count; i += 4)
        vst1q_f32(out + i, logistic4(vld1q_f32(in + i)));
    if (i < count) {
        float lanes[4] = {0.0f, 0.0f, 0.0f, 0.0f};

        memcpy(lanes, in + i, sizeof(float) * (count - i));
        vst1q_f32(lanes, logistic4(vld1q_f32(lanes)));
        memcpy(out + i, lanes, sizeof(float) * (count - i));
    }
}
