/*
 * Convolution2DTransposeBias for AVX2 (built with -mavx2 -mfma, called only
 * when the CPU has both). See verge_tconv_args in src/ops/fast_misc.h and
 * the AVX-512 version (tconv_avx512.c): the same scheme with 8 input
 * channels per vector and 8 output values per lane reduction.
 */
#include <immintrin.h>
#include <stdbool.h>

#include "ops/fast_misc.h"

static __m256i lane_mask(int valid)
{
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};

    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid),
                              _mm256_loadu_si256((const __m256i *)ramp));
}

/* Returns [sum of v[0]'s lanes, ..., sum of v[7]'s lanes]. */
static inline __attribute__((always_inline)) __m256 lane_sums8(const __m256 v[8])
{
    __m256 a = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    __m256 b = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));

    /* a: the sums of v[0..3]'s lanes 0-3 in its low half, of lanes 4-7 in its high half. */
    return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

/* Returns acc plus the products of x[0, C) and f[0, C): `full` whole vectors, then the rest. */
static inline __attribute__((always_inline)) __m256 dot_add(const float *x, const float *f,
                                                            int32_t full, int partial,
                                                            __m256i rest, __m256 acc)
{
    int32_t k = 0;

    for (; k < full; k++)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8 * k), _mm256_loadu_ps(f + 8 * k), acc);
    if (partial)
        acc = _mm256_fmadd_ps(_mm256_maskload_ps(x + 8 * k, rest),
                              _mm256_maskload_ps(f + 8 * k, rest), acc);
    return acc;
}

void verge_tconv_f32_avx2(const verge_tconv_args *a, size_t row_begin, size_t row_end)
{
    /* Locals, because every vector store may alias the argument block for the compiler. */
    const float *const in = a->in, *const w = a->w, *const bias = a->bias_repeated;
    const verge_tconv_column *const columns = a->columns;
    const int32_t C = a->in_c, full = C / 8, out_c = a->out_c, kw = a->kw;
    const __m256i rest = lane_mask(C % 8);
    const int64_t in_h = a->in_h, out_h = a->out_h, kh = a->kh, stride_h = a->stride_h;
    const int64_t pad_top = a->pad_top;
    const size_t row_len = (size_t)a->out_w * out_c;
    const ptrdiff_t in_row_step = (ptrdiff_t)a->in_w * C;
    const ptrdiff_t w_row_step = (ptrdiff_t)a->stride_h * kw * C;
    const ptrdiff_t w_column_step = (ptrdiff_t)a->stride_w * C;
    const ptrdiff_t w_oc_step = (ptrdiff_t)a->kh * kw * C;
    /*
     * Filters as large as the strides tile the output: every output has
     * exactly one tap, and an input pixel's kw * out_c outputs of a row are
     * consecutive.
     */
    const bool tiled = a->kh == a->stride_h && kw == a->stride_w;

    for (size_t row = row_begin; row < row_end; row++) {
        const int64_t b = (int64_t)(row / (size_t)out_h);
        const int64_t t = (int64_t)(row % (size_t)out_h) + pad_top;
        const int64_t first_num = t - kh + 1;
        const int64_t iy_first = first_num <= 0 ? 0 : (first_num + stride_h - 1) / stride_h;
        const int64_t iy_last = t / stride_h < in_h - 1 ? t / stride_h : in_h - 1;
        const int64_t taps_h = iy_last >= iy_first ? iy_last - iy_first + 1 : 0;
        /* Offsets of the first tap row: input row iy_first, filter row t - iy_first * stride_h. */
        const ptrdiff_t in_first =
            taps_h > 0 ? (ptrdiff_t)((b * in_h + iy_first) * in_row_step) : 0;
        const ptrdiff_t w_first = taps_h > 0 ? (ptrdiff_t)((t - iy_first * stride_h) * kw * C) : 0;
        float *out_row = a->out + row * row_len;

        for (size_t e0 = 0; e0 < row_len; e0 += 8) {
            const size_t n = row_len - e0 < 8 ? row_len - e0 : 8;
            const int32_t oc0 = (int32_t)(e0 % (size_t)out_c);
            __m256 sums[8], result;

            if (tiled) {
                /* Output e is input column ix, filter column fx, channel oc with
                   e + pad_left * out_c = (ix * kw + fx) * out_c + oc. */
                const size_t q = e0 + (size_t)a->pad_left * out_c, per_pixel = (size_t)kw * out_c;
                const float *x = in + in_first + (ptrdiff_t)(q / per_pixel) * C;
                int32_t fx = (int32_t)(q % per_pixel / (size_t)out_c), oc = oc0;
                ptrdiff_t w_oc = (ptrdiff_t)oc * w_oc_step;

                for (size_t l = 0; l < n; l++) {
                    sums[l] = dot_add(x, w + w_first + w_oc + (ptrdiff_t)fx * C, full, C % 8 != 0,
                                      rest, _mm256_setzero_ps());
                    if (++oc < out_c) {
                        w_oc += w_oc_step;
                        continue;
                    }
                    oc = 0;
                    w_oc = 0;
                    if (++fx == kw) {
                        fx = 0;
                        x += C;
                    }
                }
            } else {
                int32_t ox = (int32_t)(e0 / (size_t)out_c), oc = oc0;

                for (size_t l = 0; l < n; l++) {
                    const verge_tconv_column column = columns[ox];
                    __m256 acc = _mm256_setzero_ps();

                    for (int64_t ty = 0; ty < taps_h; ty++) {
                        const ptrdiff_t in_tap =
                            in_first + (ptrdiff_t)ty * in_row_step + column.in_offset;
                        const ptrdiff_t w_tap = w_first - (ptrdiff_t)ty * w_row_step +
                                                (ptrdiff_t)oc * w_oc_step + column.w_offset;

                        for (int32_t j = 0; j < column.count; j++)
                            acc = dot_add(in + in_tap + (ptrdiff_t)j * C,
                                          w + w_tap - (ptrdiff_t)j * w_column_step, full,
                                          C % 8 != 0, rest, acc);
                    }
                    sums[l] = acc;
                    if (++oc == out_c) {
                        oc = 0;
                        ox++;
                    }
                }
            }

            for (size_t l = n; l < 8; l++)
                sums[l] = _mm256_setzero_ps();

            result = _mm256_add_ps(lane_sums8(sums), _mm256_loadu_ps(bias + oc0));
            if (n == 8)
                _mm256_storeu_ps(out_row + e0, result);
            else
                _mm256_maskstore_ps(out_row + e0, lane_mask((int)n), result);
        }
    }
}
