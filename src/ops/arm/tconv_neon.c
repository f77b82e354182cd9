/*
 * Convolution2DTransposeBias for AArch64 Advanced SIMD. See
 * verge_tconv_args in src/ops/fast_misc.h and the AVX2 version
 * (src/ops/x86/tconv_avx2.c): the same scheme with 4 input channels per
 * vector, the last in_c % 4 channels in scalar code, and 4 output values
 * per lane reduction.
 */
#include <arm_neon.h>
#include <stdbool.h>

#include "ops/fast_misc.h"

/*
 * Adds the products of x[0, C) and f[0, C) to acc (4-channel groups) and
 * *tail (the last C % 4 channels).
 */
static inline __attribute__((always_inline)) float32x4_t dot_add(const float *x, const float *f,
                                                                 int32_t C, float32x4_t acc,
                                                                 float *tail)
{
    int32_t c = 0;

    for (; c + 4 <= C; c += 4)
        acc = vfmaq_f32(acc, vld1q_f32(x + c), vld1q_f32(f + c));
    for (; c < C; c++)
        *tail += x[c] * f[c];
    return acc;
}

void verge_tconv_f32_neon(const verge_tconv_args *a, size_t row_begin, size_t row_end)
{
    const float *const in = a->in, *const w = a->w, *const bias = a->bias_repeated;
    const verge_tconv_column *const columns = a->columns;
    const int32_t C = a->in_c, out_c = a->out_c, kw = a->kw;
    const int64_t in_h = a->in_h, out_h = a->out_h, kh = a->kh, stride_h = a->stride_h;
    const int64_t pad_top = a->pad_top;
    const size_t row_len = (size_t)a->out_w * out_c;
    const ptrdiff_t in_row_step = (ptrdiff_t)a->in_w * C;
    const ptrdiff_t w_row_step = (ptrdiff_t)a->stride_h * kw * C;
    const ptrdiff_t w_column_step = (ptrdiff_t)a->stride_w * C;
    const ptrdiff_t w_oc_step = (ptrdiff_t)a->kh * kw * C;
    /* Filters as large as the strides tile the output: every output has exactly one tap. */
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

        for (size_t e0 = 0; e0 < row_len; e0 += 4) {
            const size_t n = row_len - e0 < 4 ? row_len - e0 : 4;
            const int32_t oc0 = (int32_t)(e0 % (size_t)out_c);
            float32x4_t sums[4], result;
            float tails[4] = {0.0f, 0.0f, 0.0f, 0.0f};

            for (size_t l = 0; l < 4; l++)
                sums[l] = vdupq_n_f32(0.0f);
            if (tiled) {
                /* Output e is input column ix, filter column fx, channel oc with
                   e + pad_left * out_c = (ix * kw + fx) * out_c + oc. */
                const size_t q = e0 + (size_t)a->pad_left * out_c, per_pixel = (size_t)kw * out_c;
                const float *x = in + in_first + (ptrdiff_t)(q / per_pixel) * C;
                int32_t fx = (int32_t)(q % per_pixel / (size_t)out_c), oc = oc0;
                ptrdiff_t w_oc = (ptrdiff_t)oc * w_oc_step;

                for (size_t l = 0; l < n; l++) {
                    sums[l] = dot_add(x, w + w_first + w_oc + (ptrdiff_t)fx * C, C, sums[l],
                                      &tails[l]);
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

                    for (int64_t ty = 0; ty < taps_h; ty++) {
                        const ptrdiff_t in_tap =
                            in_first + (ptrdiff_t)ty * in_row_step + column.in_offset;
                        const ptrdiff_t w_tap = w_first - (ptrdiff_t)ty * w_row_step +
                                                (ptrdiff_t)oc * w_oc_step + column.w_offset;

                        for (int32_t j = 0; j < column.count; j++)
                            sums[l] = dot_add(in + in_tap + (ptrdiff_t)j * C,
                                              w + w_tap - (ptrdiff_t)j * w_column_step, C,
                                              sums[l], &tails[l]);
                    }
                    if (++oc == out_c) {
                        oc = 0;
                        ox++;
                    }
                }
            }

            result = vpaddq_f32(vpaddq_f32(sums[0], sums[1]), vpaddq_f32(sums[2], sums[3]));
            result = vaddq_f32(vaddq_f32(result, vld1q_f32(tails)), vld1q_f32(bias + oc0));
            if (n == 4) {
                vst1q_f32(out_row + e0, result);
            } else {
                float lanes[4];

                vst1q_f32(lanes, result);
                for (size_t l = 0; l < n; l++)
                    out_row[e0 + l] = lanes[l];
            }
        }
    }
}
