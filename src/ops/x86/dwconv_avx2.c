/*
 * Depthwise convolution (depth multiplier 1) for AVX2 + FMA (built with
 * -mavx2 -mfma, called only when the CPU has both). See verge_dwconv_args
 * in src/ops/fast.h.
 *
 * NHWC keeps the channels of a pixel next to each other, so each filter tap
 * is one multiply-add per 8 channels. Taps that fall into the padding are
 * skipped, which gives the same sums as multiplying by zeros.
 */
#include <immintrin.h>

#include "ops/fast.h"

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

void verge_dwconv_f32_avx2(const verge_dwconv_args *d, size_t row_begin, size_t row_end)
{
    const int32_t C = d->channels;
    const __m256 lo = _mm256_set1_ps(d->lo), hi = _mm256_set1_ps(d->hi);
    const __m256i tail_mask = lane_mask(C % 8);

    for (size_t row = row_begin; row < row_end; row++) {
        const int32_t b = (int32_t)(row / (size_t)d->out_h);
        const int32_t oy = (int32_t)(row % (size_t)d->out_h);
        const int32_t iy0 = oy * d->stride_h - d->pad_top;
        const float *in_b = d->in + (size_t)b * d->in_h * d->in_w * C;
        float *out = d->out + row * (size_t)d->out_w * C;
        int32_t ky_begin, ky_end;

        valid_taps(iy0, d->in_h, d->kh, d->dilation_h, &ky_begin, &ky_end);
        for (int32_t ox = 0; ox < d->out_w; ox++, out += C) {
            const int32_t ix0 = ox * d->stride_w - d->pad_left;
            int32_t kx_begin, kx_end, c = 0;

            valid_taps(ix0, d->in_w, d->kw, d->dilation_w, &kx_begin, &kx_end);

            /* 32 channels at a time, then 8, then the masked rest. */
            for (; c + 32 <= C; c += 32) {
                __m256 a0 = _mm256_loadu_ps(d->bias + c), a1 = _mm256_loadu_ps(d->bias + c + 8);
                __m256 a2 = _mm256_loadu_ps(d->bias + c + 16);
                __m256 a3 = _mm256_loadu_ps(d->bias + c + 24);

                for (int32_t ky = ky_begin; ky < ky_end; ky++) {
                    const float *in_row =
                        in_b + ((size_t)(iy0 + ky * d->dilation_h) * d->in_w) * C + c;
                    const float *w_row = d->w + (size_t)ky * d->kw * C + c;

                    for (int32_t kx = kx_begin; kx < kx_end; kx++) {
                        const float *x = in_row + (size_t)(ix0 + kx * d->dilation_w) * C;
                        const float *w = w_row + (size_t)kx * C;

                        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(w), a0);
                        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), _mm256_loadu_ps(w + 8), a1);
                        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(w + 16),
                                             a2);
                        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), _mm256_loadu_ps(w + 24),
                                             a3);
                    }
                }
                if (d->clamp) {
                    a0 = clamp8(a0, lo, hi);
                    a1 = clamp8(a1, lo, hi);
                    a2 = clamp8(a2, lo, hi);
                    a3 = clamp8(a3, lo, hi);
                }
                _mm256_storeu_ps(out + c, a0);
                _mm256_storeu_ps(out + c + 8, a1);
                _mm256_storeu_ps(out + c + 16, a2);
                _mm256_storeu_ps(out + c + 24, a3);
            }
            for (; c + 8 <= C; c += 8) {
                __m256 a = _mm256_loadu_ps(d->bias + c);

                for (int32_t ky = ky_begin; ky < ky_end; ky++) {
                    const float *in_row =
                        in_b + ((size_t)(iy0 + ky * d->dilation_h) * d->in_w) * C + c;
                    const float *w_row = d->w + (size_t)ky * d->kw * C + c;

                    for (int32_t kx = kx_begin; kx < kx_end; kx++)
                        a = _mm256_fmadd_ps(
                            _mm256_loadu_ps(in_row + (size_t)(ix0 + kx * d->dilation_w) * C),
                            _mm256_loadu_ps(w_row + (size_t)kx * C), a);
                }
                if (d->clamp)
                    a = clamp8(a, lo, hi);
                _mm256_storeu_ps(out + c, a);
            }
            if (c < C) {
                /* Masked loads and stores are slow on some CPUs: only for the last channels. */
                __m256 a = _mm256_maskload_ps(d->bias + c, tail_mask);

                for (int32_t ky = ky_begin; ky < ky_end; ky++) {
                    const float *in_row =
                        in_b + ((size_t)(iy0 + ky * d->dilation_h) * d->in_w) * C + c;
                    const float *w_row = d->w + (size_t)ky * d->kw * C + c;

                    for (int32_t kx = kx_begin; kx < kx_end; kx++)
                        a = _mm256_fmadd_ps(
                            _mm256_maskload_ps(in_row + (size_t)(ix0 + kx * d->dilation_w) * C,
                                               tail_mask),
                            _mm256_maskload_ps(w_row + (size_t)kx * C, tail_mask), a);
                }
                if (d->clamp)
                    a = clamp8(a, lo, hi);
                _mm256_maskstore_ps(out + c, tail_mask, a);
            }
        }
    }
}
