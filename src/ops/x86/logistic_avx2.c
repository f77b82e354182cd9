/*
 * LOGISTIC for AVX2 (built with -mavx2 -mfma, called only when the CPU has
 * both): 1 / (1 + exp(-x)), 8 lanes at a time, the last ones under a mask.
 *
 * exp(z) = 2^n * p(r) with n = round(z / ln 2) and r = z - n ln 2 in about
 * [-ln 2 / 2, ln 2 / 2], computed with fused multiply-adds and ln 2 split
 * into a float32 head and tail. p is the degree-6 polynomial that
 * interpolates exp at the 7 Chebyshev nodes of that interval, with
 * coefficients rounded to float32. Evaluated in float32, it is within 7.7e-8
 * relative of exp (measured at 4 million points). 2^n is built in the
 * exponent field as 2 * 2^(n - 1), so that n = 128 still gives a finite
 * factor.
 *
 * z = -x is clamped to [-87, 89] first. Below -87, exp(z) < 1.7e-38 and the
 * result is 1 either way. Above 88.73 the product overflows to infinity and
 * the result is 0, as the reference's expf() overflows to infinity there.
 * NaN stays NaN. Measured on every 7th float32 bit pattern, the result is
 * within 1.65e-7 relative of the exact sigmoid and 2.74e-7 of the
 * reference 1.0f / (1.0f + expf(-x)) with glibc 2.36's expf, for outputs of at
 * least FLT_MIN. Smaller outputs differ from the reference by at most
 * 1.4e-45.
 */
#include <immintrin.h>

#include "ops/fast_misc.h"

static __m256i lane_mask(int valid)
{
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};

    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid),
                              _mm256_loadu_si256((const __m256i *)ramp));
}

static inline __attribute__((always_inline)) __m256 logistic8(__m256 x)
{
    /* min and max return their second operand when either is NaN: NaN passes through. */
    __m256 z = _mm256_max_ps(_mm256_set1_ps(-87.0f),
                             _mm256_min_ps(_mm256_set1_ps(89.0f),
                                           _mm256_sub_ps(_mm256_setzero_ps(), x)));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(z, _mm256_set1_ps(0x1.715476p+0f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e43p-1f), z);
    __m256 p = _mm256_set1_ps(0x1.6d7532p-10f), e;
    __m256i scale;

    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-0x1.05c61p-29f), r);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.126fa6p-7f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.5554acp-5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.555404p-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* A NaN n converts to INT32_MIN; the scale is then meaningless, but p is NaN. */
    scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
    e = _mm256_mul_ps(_mm256_add_ps(p, p), _mm256_castsi256_ps(scale));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

void verge_logistic_f32_avx2(const float *in, float *out, size_t count)
{
    size_t i = 0;

    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(out + i, logistic8(_mm256_loadu_ps(in + i)));
    if (i < count) {
        const __m256i rest = lane_mask((int)(count - i));

        _mm256_maskstore_ps(out + i, rest, logistic8(_mm256_maskload_ps(in + i, rest)));
    }
}
