/*
 * MEAN for AVX-512F (built with -mavx512f -mavx2 -mfma, called only when
 * the CPU has them). See verge_mean_args in src/ops/fast_misc.h: up to 64
 * outputs at a time, eight float64 sums of 8 lanes, each adding its
 * channel's values in input order as the reference kernel does, so the bits
 * match.
 */
#include <immintrin.h>

#include "ops/fast_misc.h"

static __m256i lane_mask(int valid)
{
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};

    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid),
                              _mm256_loadu_si256((const __m256i *)ramp));
}

/*
 * Computes out[0, width) from in[r * inner + (0, width)] for r in [0, reduced), with
 * VECTORS = ceil(width / 8) (a constant in every caller, so the sums stay
 * in registers). The last vector loads and stores its lanes under a mask.
 */
static inline __attribute__((always_inline)) void mean_columns(const float *in, float *out,
                                                               size_t reduced, size_t inner,
                                                               int width, const int VECTORS)
{
    const __m256i last = lane_mask(width - 8 * (VECTORS - 1));
    const __m512d count = _mm512_set1_pd((double)reduced);
    __m512d sums[8];

    for (int k = 0; k < VECTORS; k++)
        sums[k] = _mm512_setzero_pd();
    for (size_t r = 0; r < reduced; r++, in += inner) {
        for (int k = 0; k < VECTORS - 1; k++)
            sums[k] = _mm512_add_pd(sums[k], _mm512_cvtps_pd(_mm256_loadu_ps(in + 8 * k)));
        sums[VECTORS - 1] =
            _mm512_add_pd(sums[VECTORS - 1],
                          _mm512_cvtps_pd(_mm256_maskload_ps(in + 8 * (VECTORS - 1), last)));
    }
    for (int k = 0; k < VECTORS - 1; k++)
        _mm256_storeu_ps(out + 8 * k, _mm512_cvtpd_ps(_mm512_div_pd(sums[k], count)));
    _mm256_maskstore_ps(out + 8 * (VECTORS - 1), last,
                        _mm512_cvtpd_ps(_mm512_div_pd(sums[VECTORS - 1], count)));
}

void verge_mean_f32_avx512(const verge_mean_args *a, size_t begin, size_t end)
{
    const size_t blocks = (a->inner + VERGE_MEAN_BLOCK - 1) / VERGE_MEAN_BLOCK;

    for (size_t unit = begin; unit < end; unit++) {
        const size_t o = unit / blocks, i0 = unit % blocks * VERGE_MEAN_BLOCK;
        const size_t left = a->inner - i0;
        const int width = (int)(left < VERGE_MEAN_BLOCK ? left : VERGE_MEAN_BLOCK);
        const float *in = a->in + o * a->reduced * a->inner + i0;
        float *out = a->out + o * a->inner + i0;

        switch ((width + 7) / 8) {
        case 1: mean_columns(in, out, a->reduced, a->inner, width, 1); break;
        case 2: mean_columns(in, out, a->reduced, a->inner, width, 2); break;
        case 3: mean_columns(in, out, a->reduced, a->inner, width, 3); break;
        case 4: mean_columns(in, out, a->reduced, a->inner, width, 4); break;
        case 5: mean_columns(in, out, a->reduced, a->inner, width, 5); break;
        case 6: mean_columns(in, out, a->reduced, a->inner, width, 6); break;
        case 7: mean_columns(in, out, a->reduced, a->inner, width, 7); break;
        default: mean_columns(in, out, a->reduced, a->inner, width, 8); break;
        }
    }
}
