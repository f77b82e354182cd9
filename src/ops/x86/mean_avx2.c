/*
 * MEAN for AVX2 (built with -mavx2 -mfma, called only when the CPU has
 * both). See verge_mean_args in src/ops/fast_misc.h: up to 32 outputs at a
 * time, eight float64 sums of 4 lanes, each adding its channel's values in
 * input order as the reference kernel does, so the bits match.
 */
#include <immintrin.h>

#include "ops/fast_misc.h"

enum { PASS_WIDTH = 32 };

static __m128i lane_mask(int valid)
{
    return _mm_cmpgt_epi32(_mm_set1_epi32(valid), _mm_setr_epi32(0, 1, 2, 3));
}

/*
 * Computes out[0, width) from in[r * inner + (0, width)] for r in [0, reduced), with
 * VECTORS = ceil(width / 4) (a constant in every caller, so the sums stay
 * in registers). The last vector loads and stores its lanes under a mask.
 */
static inline __attribute__((always_inline)) void mean_columns(const float *in, float *out,
                                                               size_t reduced, size_t inner,
                                                               int width, const int VECTORS)
{
    const __m128i last = lane_mask(width - 4 * (VECTORS - 1));
    const __m256d count = _mm256_set1_pd((double)reduced);
    __m256d sums[8];

    for (int k = 0; k < VECTORS; k++)
        sums[k] = _mm256_setzero_pd();
    for (size_t r = 0; r < reduced; r++, in += inner) {
        for (int k = 0; k < VECTORS - 1; k++)
            sums[k] = _mm256_add_pd(sums[k], _mm256_cvtps_pd(_mm_loadu_ps(in + 4 * k)));
        sums[VECTORS - 1] =
            _mm256_add_pd(sums[VECTORS - 1],
                          _mm256_cvtps_pd(_mm_maskload_ps(in + 4 * (VECTORS - 1), last)));
    }
    for (int k = 0; k < VECTORS - 1; k++)
        _mm_storeu_ps(out + 4 * k, _mm256_cvtpd_ps(_mm256_div_pd(sums[k], count)));
    _mm_maskstore_ps(out + 4 * (VECTORS - 1), last,
                     _mm256_cvtpd_ps(_mm256_div_pd(sums[VECTORS - 1], count)));
}

void verge_mean_f32_avx2(const verge_mean_args *a, size_t begin, size_t end)
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

            switch ((width + 3) / 4) {
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
}
