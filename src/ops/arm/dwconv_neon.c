/*
 * Depthwise convolution (depth multiplier 1) for AArch64 Advanced SIMD. See
 * verge_dwconv_args in src/ops/fast.h. Per output pixel, the valid taps
 * (those inside the input) are listed once. Then blocks of 16 channels, of
 * 4 and finally single channels add them in filter order with fused
 * multiply-adds, as the x86 kernels do, so results have the same bits.
 */
#include <arm_neon.h>
#include <math.h>
#include <stdbool.h>

#include "ops/fast.h"

enum { MAX_TAPS = 64 }; /* the fast path's limit on kh * kw (see fast.c) */

/* The first and one-past-last filter index whose input position lies in [0, size). */
static void valid_taps(int32_t origin, int32_t size, int32_t taps, int32_t dilation,
                       int32_t *begin, int32_t *end)
{
    int32_t first = origin < 0 ? (-origin + dilation - 1) / dilation : 0;
    int32_t last = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;

    *begin = first;
    *end = last < taps ? last : taps;
    if (*end < *begin)
        *end = *begin;
}

/* The clamp of the fast paths on one value: NaN passes through, as FMAX and FMIN let it. */
static inline float clamp1(float x, float lo, float hi)
{
    if (isnan(x))
        return x;
    return x < lo ? lo : (x > hi ? hi : x);
}

void verge_dwconv_f32_neon(const verge_dwconv_args *d, size_t row_begin, size_t row_end)
{
    const int32_t C = d->channels;
    const float32x4_t lo = vdupq_n_f32(d->lo), hi = vdupq_n_f32(d->hi);

    for (size_t row = row_begin; row < row_end; row++) {
        const int32_t b = (int32_t)(row / (size_t)d->out_h);
        const int32_t oy = (int32_t)(row % (size_t)d->out_h);
        const int32_t iy0 = oy * d->stride_h - d->pad_top;
        const float *in_b = d->in + (size_t)b * d->in_h * d->in_w * C;
        int32_t ky_begin, ky_end;

        valid_taps(iy0, d->in_h, d->kh, d->dilation_h, &ky_begin, &ky_end);
        for (int32_t ox = 0; ox < d->out_w; ox++) {
            const int32_t ix0 = ox * d->stride_w - d->pad_left;
            float *out = d->out + (row * (size_t)d->out_w + (size_t)ox) * C;
            size_t in_offset[MAX_TAPS], w_offset[MAX_TAPS];
            int32_t kx_begin, kx_end, c = 0;
            int taps = 0;

            valid_taps(ix0, d->in_w, d->kw, d->dilation_w, &kx_begin, &kx_end);
            for (int32_t ky = ky_begin; ky < ky_end; ky++) {
                for (int32_t kx = kx_begin; kx < kx_end; kx++, taps++) {
                    in_offset[taps] = ((size_t)(iy0 + ky * d->dilation_h) * d->in_w +
                                       (size_t)(ix0 + kx * d->dilation_w)) *
                                      C;
                    w_offset[taps] = ((size_t)ky * d->kw + (size_t)kx) * C;
                }
            }

            for (; c + 16 <= C; c += 16) {
                float32x4_t a[4];

                for (int j = 0; j < 4; j++)
                    a[j] = vld1q_f32(d->bias + c + 4 * j);
                for (int t = 0; t < taps; t++) {
                    const float *x = in_b + in_offset[t] + c, *w = d->w + w_offset[t] + c;

                    for (int j = 0; j < 4; j++)
                        a[j] = vfmaq_f32(a[j], vld1q_f32(x + 4 * j), vld1q_f32(w + 4 * j));
                }
                for (int j = 0; j < 4; j++)
                    vst1q_f32(out + c + 4 * j,
                              d->clamp ? vminq_f32(hi, vmaxq_f32(lo, a[j])) : a[j]);
            }
            for (; c + 4 <= C; c += 4) {
                float32x4_t a = vld1q_f32(d->bias + c);

                for (int t = 0; t < taps; t++)
                    a = vfmaq_f32(a, vld1q_f32(in_b + in_offset[t] + c),
                                  vld1q_f32(d->w + w_offset[t] + c));
                vst1q_f32(out + c, d->clamp ? vminq_f32(hi, vmaxq_f32(lo, a)) : a);
            }
            for (; c < C; c++) {
                float a = d->bias[c];

                for (int t = 0; t < taps; t++)
                    a = fmaf(in_b[in_offset[t] + c], d->w[w_offset[t] + c], a);
                out[c] = d->clamp ? clamp1(a, d->lo, d->hi) : a;
            }
        }
    }
}
