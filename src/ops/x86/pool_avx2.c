/*
 * MAX_POOL_2D and AVERAGE_POOL_2D for AVX2 (built with -mavx2 -mfma, called
 * only when the CPU has both). See verge_pool_args in src/ops/fast.h: the
 * cells of a window are visited in the reference kernel's order with the
 * same comparisons and additions, 8 channels at a time.
 */
#include <float.h>
#include <immintrin.h>
#include <stdbool.h>

#include "ops/fast.h"

static __m256i lane_mask(int valid)
{
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};

    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid),
                              _mm256_loadu_si256((const __m256i *)ramp));
}

/* The reference's verge_activate() for the clamps, on 8 lanes. */
static __m256 activate8(__m256 x, verge_activation act)
{
    const __m256 zero = _mm256_setzero_ps();

    switch (act) {
    case VERGE_ACT_RELU:
        return _mm256_blendv_ps(x, zero, _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    case VERGE_ACT_RELU_N1_TO_1: {
        const __m256 one = _mm256_set1_ps(1.0f), minus_one = _mm256_set1_ps(-1.0f);
        __m256 y = _mm256_blendv_ps(x, one, _mm256_cmp_ps(x, one, _CMP_GT_OQ));

        return _mm256_blendv_ps(y, minus_one, _mm256_cmp_ps(x, minus_one, _CMP_LT_OQ));
    }
    case VERGE_ACT_RELU6: {
        const __m256 six = _mm256_set1_ps(6.0f);
        __m256 y = _mm256_blendv_ps(x, six, _mm256_cmp_ps(x, six, _CMP_GT_OQ));

        return _mm256_blendv_ps(y, zero, _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    }
    default:
        return x;
    }
}

static inline __attribute__((always_inline)) void pool_block(const verge_pool_args *p,
                                                             const float *in_b, int32_t y0,
                                                             int32_t y1, int32_t x0, int32_t x1,
                                                             float *out, int32_t c, bool masked,
                                                             __m256i mask)
{
    const int32_t C = p->channels;
    __m256 acc = p->average ? _mm256_setzero_ps() : _mm256_set1_ps(-FLT_MAX);

    for (int32_t iy = y0; iy < y1; iy++) {
        for (int32_t ix = x0; ix < x1; ix++) {
            const float *cell = in_b + ((size_t)iy * p->in_w + ix) * C + c;
            const __m256 v = masked ? _mm256_maskload_ps(cell, mask) : _mm256_loadu_ps(cell);

            /* max_ps(v, acc) is v > acc ? v : acc, which is the reference's acc < v ? v : acc. */
            acc = p->average ? _mm256_add_ps(acc, v) : _mm256_max_ps(v, acc);
        }
    }
    if (p->average)
        acc = _mm256_div_ps(acc, _mm256_set1_ps((float)((size_t)(y1 - y0) * (size_t)(x1 - x0))));
    acc = activate8(acc, p->activation);
    if (masked)
        _mm256_maskstore_ps(out + c, mask, acc);
    else
        _mm256_storeu_ps(out + c, acc);
}

void verge_pool_f32_avx2(const verge_pool_args *p, size_t row_begin, size_t row_end)
{
    const int32_t C = p->channels;
    const __m256i tail_mask = lane_mask(C % 8);
    const int32_t full = C - C % 8;

    for (size_t row = row_begin; row < row_end; row++) {
        const int32_t b = (int32_t)(row / (size_t)p->out_h);
        const int32_t oy = (int32_t)(row % (size_t)p->out_h);
        const float *in_b = p->in + (size_t)b * p->in_h * p->in_w * C;
        int32_t y0 = oy * p->stride_h - p->pad_top, y1 = y0 + p->filter_h;

        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > p->in_h ? p->in_h : y1;
        for (int32_t ox = 0; ox < p->out_w; ox++) {
            float *out = p->out + (row * (size_t)p->out_w + (size_t)ox) * C;
            int32_t x0 = ox * p->stride_w - p->pad_left, x1 = x0 + p->filter_w;

            x0 = x0 < 0 ? 0 : x0;
            x1 = x1 > p->in_w ? p->in_w : x1;
            for (int32_t c = 0; c < full; c += 8)
                pool_block(p, in_b, y0, y1, x0, x1, out, c, false, tail_mask);
            if (full < C)
                pool_block(p, in_b, y0, y1, x0, x1, out, full, true, tail_mask);
        }
    }
}
