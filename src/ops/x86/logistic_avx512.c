/*
 * LOGISTIC for AVX-512F (built with -mavx512f -mavx2 -mfma, called only
 * when the CPU has them): 1 / (1 + exp(-x)), 16 lanes at a time, the
 * last ones under a mask. The steps and constants are those of the AVX2
 * version (logistic_avx2.c), which explains them; both give the same bits.
 */
#include <immintrin.h>

#include "ops/fast_misc.h"

static inline __attribute__((always_inline)) __m512 logistic16(__m512 x)
{
    /* min and max return their second operand when either is NaN: NaN passes through. */
    __m512 z = _mm512_max_ps(_mm512_set1_ps(-87.0f),
                             _mm512_min_ps(_mm512_set1_ps(89.0f),
                                           _mm512_sub_ps(_mm512_setzero_ps(), x)));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(z, _mm512_set1_ps(0x1.715476p+0f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e43p-1f), z);
    __m512 p = _mm512_set1_ps(0x1.6d7532p-10f), e;
    __m512i scale;

    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-0x1.05c61p-29f), r);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0x1.126fa6p-7f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0x1.5554acp-5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0x1.555404p-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    scale = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(126)), 23);
    e = _mm512_mul_ps(_mm512_add_ps(p, p), _mm512_castsi512_ps(scale));
    return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

void verge_logistic_f32_avx512(const float *in, float *out, size_t count)
{
    size_t i = 0;

    for (; i + 16 <= count; i += 16)
        _mm512_storeu_ps(out + i, logistic16(_mm512_loadu_ps(in + i)));
    if (i < count) {
        const __mmask16 rest = (__mmask16)((1u << (count - i)) - 1);

        _mm512_mask_storeu_ps(out + i, rest, logistic16(_mm512_maskz_loadu_ps(rest, in + i)));
    }
}
