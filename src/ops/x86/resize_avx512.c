/*
 * RESIZE_BILINEAR for AVX-512F (built with -mavx512f -mavx2 -mfma, called
 * only when the CPU has them). See verge_resize_args in
 * src/ops/fast_misc.h: 16 channels per vector, the last ones under a mask,
 * each lane computing the reference's float32 expression with the same
 * multiplies and additions in the same order (no fused multiply-add, which
 * -std=c11 keeps the compiler from forming), so the bits match.
 */
#include <immintrin.h>

#include "ops/fast_misc.h"

static inline __attribute__((always_inline)) __m512 blend16(__m512 p00, __m512 p10, __m512 p01,
                                                            __m512 p11, __m512 wy0, __m512 wy1,
                                                            __m512 wx0, __m512 wx1)
{
    __m512 sum = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p00, wy0), wx0),
                               _mm512_mul_ps(_mm512_mul_ps(p10, wy1), wx0));

    sum = _mm512_add_ps(sum, _mm512_mul_ps(_mm512_mul_ps(p01, wy0), wx1));
    sum = _mm512_add_ps(sum, _mm512_mul_ps(_mm512_mul_ps(p11, wy1), wx1));
    /* The reference adds 0.0f last, which turns a -0 sum into +0. */
    return _mm512_add_ps(sum, _mm512_setzero_ps());
}

void verge_resize_f32_avx512(const verge_resize_args *a, size_t row_begin, size_t row_end)
{
    const int32_t C = a->channels, full = C / 16;
    const __mmask16 rest = (__mmask16)((1u << (C % 16)) - 1);

    for (size_t row = row_begin; row < row_end; row++) {
        const size_t b = row / (size_t)a->out_h;
        const verge_resize_tap ty = a->rows[row % (size_t)a->out_h];
        const float *row0 = a->in + (b * a->in_h + (size_t)ty.lower) * a->in_w * C;
        const float *row1 = a->in + (b * a->in_h + (size_t)ty.upper) * a->in_w * C;
        const __m512 wy0 = _mm512_set1_ps(ty.weight_lower), wy1 = _mm512_set1_ps(ty.weight_upper);
        float *out = a->out + row * a->out_w * C;

        for (int32_t ox = 0; ox < a->out_w; ox++, out += C) {
            const verge_resize_tap tx = a->columns[ox];
            const __m512 wx0 = _mm512_set1_ps(tx.weight_lower);
            const __m512 wx1 = _mm512_set1_ps(tx.weight_upper);
            const float *p00 = row0 + (size_t)tx.lower * C, *p01 = row0 + (size_t)tx.upper * C;
            const float *p10 = row1 + (size_t)tx.lower * C, *p11 = row1 + (size_t)tx.upper * C;
            int32_t k = 0;

            for (; k < full; k++) {
                const int32_t c = 16 * k;

                _mm512_storeu_ps(out + c,
                                 blend16(_mm512_loadu_ps(p00 + c), _mm512_loadu_ps(p10 + c),
                                         _mm512_loadu_ps(p01 + c), _mm512_loadu_ps(p11 + c), wy0,
                                         wy1, wx0, wx1));
            }
            if (rest) {
                const int32_t c = 16 * k;

                _mm512_mask_storeu_ps(out + c, rest,
                                      blend16(_mm512_maskz_loadu_ps(rest, p00 + c),
                                              _mm512_maskz_loadu_ps(rest, p10 + c),
                                              _mm512_maskz_loadu_ps(rest, p01 + c),
                                              _mm512_maskz_loadu_ps(rest, p11 + c), wy0, wy1,
                                              wx0, wx1));
            }
        }
    }
}
