/*
 * RESIZE_BILINEAR for AVX2 (built with -mavx2 -mfma, called only when the
 * CPU has both). See verge_resize_args in src/ops/fast_misc.h: 8 channels
 * per vector, the last ones under a mask, each lane computing the
 * reference's float32 expression with the same multiplies and additions in
 * the same order (no fused multiply-add, which -std=c11 keeps the compiler
 * from forming), so the bits match.
 */
#include <immintrin.h>

#include "ops/fast_misc.h"

static __m256i lane_mask(int valid)
{
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};

    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid),
                              _mm256_loadu_si256((const __m256i *)ramp));
}

static inline __attribute__((always_inline)) __m256 blend8(__m256 p00, __m256 p10, __m256 p01,
                                                           __m256 p11, __m256 wy0, __m256 wy1,
                                                           __m256 wx0, __m256 wx1)
{
    __m256 sum = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p00, wy0), wx0),
                               _mm256_mul_ps(_mm256_mul_ps(p10, wy1), wx0));

    sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_mul_ps(p01, wy0), wx1));
    sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_mul_ps(p11, wy1), wx1));
    /* The reference adds 0.0f last, which turns a -0 sum into +0. */
    return _mm256_add_ps(sum, _mm256_setzero_ps());
}

void verge_resize_f32_avx2(const verge_resize_args *a, size_t row_begin, size_t row_end)
{
    const int32_t C = a->channels, full = C / 8;
    const __m256i rest = lane_mask(C % 8);

    for (size_t row = row_begin; row < row_end; row++) {
        const size_t b = row / (size_t)a->out_h;
        const verge_resize_tap ty = a->rows[row % (size_t)a->out_h];
        const float *row0 = a->in + (b * a->in_h + (size_t)ty.lower) * a->in_w * C;
        const float *row1 = a->in + (b * a->in_h + (size_t)ty.upper) * a->in_w * C;
        const __m256 wy0 = _mm256_set1_ps(ty.weight_lower), wy1 = _mm256_set1_ps(ty.weight_upper);
        float *out = a->out + row * a->out_w * C;

        for (int32_t ox = 0; ox < a->out_w; ox++, out += C) {
            const verge_resize_tap tx = a->columns[ox];
            const __m256 wx0 = _mm256_set1_ps(tx.weight_lower);
            const __m256 wx1 = _mm256_set1_ps(tx.weight_upper);
            const float *p00 = row0 + (size_t)tx.lower * C, *p01 = row0 + (size_t)tx.upper * C;
            const float *p10 = row1 + (size_t)tx.lower * C, *p11 = row1 + (size_t)tx.upper * C;
            int32_t k = 0;

            for (; k < full; k++) {
                const int32_t c = 8 * k;

                _mm256_storeu_ps(out + c, blend8(_mm256_loadu_ps(p00 + c), _mm256_loadu_ps(p10 + c),
                                                 _mm256_loadu_ps(p01 + c), _mm256_loadu_ps(p11 + c),
                                                 wy0, wy1, wx0, wx1));
            }
            if (C % 8 != 0) {
                const int32_t c = 8 * k;

                _mm256_maskstore_ps(out + c, rest,
                                    blend8(_mm256_maskload_ps(p00 + c, rest),
                                           _mm256_maskload_ps(p10 + c, rest),
                                           _mm256_maskload_ps(p01 + c, rest),
                                           _mm256_maskload_ps(p11 + c, rest), wy0, wy1, wx0,
                                           wx1));
            }
        }
    }
}
