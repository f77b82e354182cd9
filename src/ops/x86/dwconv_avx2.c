/*
 * Depthwise convolution (depth multiplier 1) for AVX2 + FMA (built with
 * -mavx2 -mfma, called only when the CPU has both). See verge_dwconv_args
 * in src/ops/fast.h.
 *
 * NHWC keeps the channels of a pixel next to each other, so each filter tap
 * is one multiply-add per 8 channels. Taps that fall into the padding are
 * skipped, which gives the same sums as multiplying by zeros.
 *
 * 3x3 and 5x5 filters with stride 1 or 2 along the width and no dilation
 * go through a kernel that unrolls the filter and computes 8 pixels at a
 * time, loading each input vector once for all of them. Near the edges it
 * skips the filter rows and columns that fall outside the input. Other
 * filters go one pixel at a time through a general loop. All add the taps
 * in the same order (filter row, then column), so every output has the
 * same bits whichever computed it.
 */
#include <immintrin.h>
#include <stdbool.h>

#include "ops/fast.h"

enum {
    PIXELS = 8,         /* output pixels per register block */
    MAX_TAPS = 64,      /* filters of up to 64 taps (the fast path's limit, see fast.c) */
};

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

/* Loads 8 floats, or the first lanes of `mask` when MASKED (a constant in every caller). */
static inline __attribute__((always_inline)) __m256 load8(const float *p, bool masked,
                                                          __m256i mask)
{
    return masked ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

static inline __attribute__((always_inline)) void store8(float *p, __m256 v, bool masked,
                                                         __m256i mask)
{
    if (masked)
        _mm256_maskstore_ps(p, mask, v);
    else
        _mm256_storeu_ps(p, v);
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

/*
 * Channels c .. c + 7 of one output pixel from the `taps` valid taps, whose
 * input and weight offsets (in floats, channel 0) are listed in filter order.
 */
static inline __attribute__((always_inline)) void dw_taps(const verge_dwconv_args *d,
                                                          const float *in_b, float *out,
                                                          const size_t *in_offset,
                                                          const size_t *w_offset, int taps,
                                                          int32_t c, bool masked, __m256i mask)
{
    __m256 a = load8(d->bias + c, masked, mask);

    for (int t = 0; t < taps; t++)
        a = _mm256_fmadd_ps(load8(in_b + in_offset[t] + c, masked, mask),
                            load8(d->w + w_offset[t] + c, masked, mask), a);
    if (d->clamp)
        a = clamp8(a, _mm256_set1_ps(d->lo), _mm256_set1_ps(d->hi));
    store8(out + c, a, masked, mask);
}

/* One output pixel, all channels, any filter: taps outside the input are skipped. */
static void dw_pixel(const verge_dwconv_args *d, const float *in_b, int32_t iy0,
                     int32_t ky_begin, int32_t ky_end, int32_t ox, float *out, __m256i tail_mask)
{
    const int32_t C = d->channels;
    const int32_t ix0 = ox * d->stride_w - d->pad_left;
    const int32_t full = C - C % 8;
    size_t in_offset[MAX_TAPS], w_offset[MAX_TAPS];
    int32_t kx_begin, kx_end;
    int taps = 0;

    valid_taps(ix0, d->in_w, d->kw, d->dilation_w, &kx_begin, &kx_end);
#pragma GCC unroll 5
    for (int32_t ky = ky_begin; ky < ky_end; ky++) {
        for (int32_t kx = kx_begin; kx < kx_end; kx++, taps++) {
            in_offset[taps] =
                ((size_t)(iy0 + ky * d->dilation_h) * d->in_w + (size_t)(ix0 + kx * d->dilation_w)) *
                C;
            w_offset[taps] = ((size_t)ky * d->kw + (size_t)kx) * C;
        }
    }
    for (int32_t c = 0; c < full; c += 8)
        dw_taps(d, in_b, out, in_offset, w_offset, taps, c, false, _mm256_set1_epi32(-1));
    if (full < C)
        dw_taps(d, in_b, out, in_offset, w_offset, taps, full, true, tail_mask);
}

/*
 * N consecutive pixels ox .. ox + N - 1 of one output row, channels
 * c .. c + 7, for a K x K filter with stride S and no dilation. N, K, S,
 * EDGE and MASKED are constants in every caller, so the loops unroll and
 * the accumulators stay in registers. `in_b` is the batch's input and iy0
 * the input row under filter row 0. Only filter rows [ky_begin, ky_end) are
 * read: the others fall into the padding above or below the input. With
 * EDGE, input columns left or right of the input are skipped; without it,
 * every window must lie inside the input's width.
 *
 * Along a filter row, input column j feeds output p through tap kx = j - S * p,
 * so each input vector is loaded once and used by up to ceil(K / S) outputs.
 * Output p still adds its taps in the order kx = 0, 1, ..., as dw_pixel does,
 * and skips the same taps.
 */
static inline __attribute__((always_inline)) void
dw_block(const verge_dwconv_args *d, const float *in_b, int32_t iy0, int32_t ky_begin,
         int32_t ky_end, int32_t ox, float *out_row, int N, int K, int S, bool edge, int32_t c,
         bool masked, __m256i mask)
{
    const int32_t C = d->channels;
    const int32_t ix0 = ox * S - d->pad_left;
    const __m256 bias = load8(d->bias + c, masked, mask);
    __m256 acc[PIXELS];

#pragma GCC unroll 8
    for (int p = 0; p < N; p++)
        acc[p] = bias;
#pragma GCC unroll 5
    for (int32_t ky = ky_begin; ky < ky_end; ky++) {
        const float *in = in_b + (size_t)(iy0 + ky) * d->in_w * C + c;
        __m256 w[5];

#pragma GCC unroll 5
        for (int kx = 0; kx < K; kx++)
            w[kx] = load8(d->w + (size_t)(ky * K + kx) * C + c, masked, mask);
#pragma GCC unroll 20
        for (int j = 0; j < S * (N - 1) + K; j++) {
            __m256 v;

            if (edge && (ix0 + j < 0 || ix0 + j >= d->in_w))
                continue;
            v = load8(in + (size_t)(ix0 + j) * C, masked, mask);
#pragma GCC unroll 8
            for (int p = 0; p < N; p++) {
                const int kx = j - S * p;

                if (kx >= 0 && kx < K)
                    acc[p] = _mm256_fmadd_ps(v, w[kx], acc[p]);
            }
        }
    }
    if (d->clamp) {
        const __m256 lo = _mm256_set1_ps(d->lo), hi = _mm256_set1_ps(d->hi);

#pragma GCC unroll 8
        for (int p = 0; p < N; p++)
            acc[p] = clamp8(acc[p], lo, hi);
    }
#pragma GCC unroll 8
    for (int p = 0; p < N; p++)
        store8(out_row + (size_t)(ox + p) * C + c, acc[p], masked, mask);
}

/* dw_block() over every channel of pixels ox .. ox + N - 1. */
static inline __attribute__((always_inline)) void
dw_blocks(const verge_dwconv_args *d, const float *in_b, int32_t iy0, int32_t ky_begin,
          int32_t ky_end, int32_t ox, float *out_row, int N, int K, int S, bool edge,
          __m256i tail_mask)
{
    const int32_t full = d->channels - d->channels % 8;

    for (int32_t c = 0; c < full; c += 8)
        dw_block(d, in_b, iy0, ky_begin, ky_end, ox, out_row, N, K, S, edge, c, false,
                 _mm256_set1_epi32(-1));
    if (full < d->channels)
        dw_block(d, in_b, iy0, ky_begin, ky_end, ox, out_row, N, K, S, edge, full, true,
                 tail_mask);
}

/*
 * One output row of a K x K filter with stride S and no dilation, reading
 * filter rows [ky_begin, ky_end), 8 pixels at a time. When the width is not
 * a multiple of 8, the last block starts 8 pixels before the end and
 * computes a few pixels again, with the same bits. Blocks inside output
 * columns [x_lo, x_hi), whose windows lie inside the input's width, skip
 * the edge checks when INTERIOR is set. Pixels go outside, channels inside,
 * so that the input window of a few pixels stays in the L1 cache across all
 * channels.
 */
static inline __attribute__((always_inline)) void
dw_row(const verge_dwconv_args *d, const float *in_b, int32_t iy0, int32_t ky_begin,
       int32_t ky_end, int32_t x_lo, int32_t x_hi, float *out_row, int K, int S, bool interior,
       __m256i tail_mask)
{
    if (d->out_w < PIXELS) {
        for (int32_t ox = 0; ox < d->out_w; ox++)
            dw_blocks(d, in_b, iy0, ky_begin, ky_end, ox, out_row, 1, K, S, true, tail_mask);
        return;
    }
    for (int32_t next = 0; next < d->out_w; next += PIXELS) {
        const int32_t ox = next + PIXELS <= d->out_w ? next : d->out_w - PIXELS;

        if (interior && ox >= x_lo && ox + PIXELS <= x_hi)
            dw_blocks(d, in_b, iy0, ky_begin, ky_end, ox, out_row, PIXELS, K, S, false,
                      tail_mask);
        else
            dw_blocks(d, in_b, iy0, ky_begin, ky_end, ox, out_row, PIXELS, K, S, true,
                      tail_mask);
    }
}

/* Rows that read every filter row take constant filter rows, so that the loops unroll. */
#define DEFINE_ROW(K, S)                                                                  \
    static void dw_row_##K##_##S(const verge_dwconv_args *d, const float *in_b,           \
                                 int32_t iy0, int32_t ky_begin, int32_t ky_end,           \
                                 int32_t x_lo, int32_t x_hi, float *out_row,              \
                                 __m256i tail_mask)                                       \
    {                                                                                     \
        if (ky_begin == 0 && ky_end == K)                                                 \
            dw_row(d, in_b, iy0, 0, K, x_lo, x_hi, out_row, K, S, true, tail_mask);       \
        else                                                                              \
            dw_row(d, in_b, iy0, ky_begin, ky_end, x_lo, x_hi, out_row, K, S, false,      \
                   tail_mask);                                                            \
    }

DEFINE_ROW(3, 1)
DEFINE_ROW(3, 2)
DEFINE_ROW(5, 1)
DEFINE_ROW(5, 2)

void verge_dwconv_f32_avx2(const verge_dwconv_args *d, size_t row_begin, size_t row_end)
{
    const int32_t C = d->channels;
    const __m256i tail_mask = lane_mask(C % 8 ? C % 8 : 8);
    const bool square = d->kh == d->kw && (d->kh == 3 || d->kh == 5) && d->dilation_h == 1 &&
                        d->dilation_w == 1 && (d->stride_w == 1 || d->stride_w == 2);
    int32_t x_lo = 0, x_hi = 0;

    /* Output columns whose window lies inside the input: ix0 >= 0 and ix0 + kw <= in_w. */
    if (square) {
        x_lo = (d->pad_left + d->stride_w - 1) / d->stride_w;
        x_hi = d->in_w + d->pad_left - d->kw < 0 ? 0
                                                  : (d->in_w + d->pad_left - d->kw) / d->stride_w + 1;
        if (x_hi > d->out_w)
            x_hi = d->out_w;
        if (x_lo > x_hi)
            x_lo = x_hi;
    }

    for (size_t row = row_begin; row < row_end; row++) {
        const int32_t b = (int32_t)(row / (size_t)d->out_h);
        const int32_t oy = (int32_t)(row % (size_t)d->out_h);
        const int32_t iy0 = oy * d->stride_h - d->pad_top;
        const float *in_b = d->in + (size_t)b * d->in_h * d->in_w * C;
        float *out = d->out + row * (size_t)d->out_w * C;
        int32_t ky_begin, ky_end;

        valid_taps(iy0, d->in_h, d->kh, d->dilation_h, &ky_begin, &ky_end);
        if (!square) {
            for (int32_t ox = 0; ox < d->out_w; ox++)
                dw_pixel(d, in_b, iy0, ky_begin, ky_end, ox, out + (size_t)ox * C, tail_mask);
        } else if (d->kh == 3 && d->stride_w == 1) {
            dw_row_3_1(d, in_b, iy0, ky_begin, ky_end, x_lo, x_hi, out, tail_mask);
        } else if (d->kh == 3) {
            dw_row_3_2(d, in_b, iy0, ky_begin, ky_end, x_lo, x_hi, out, tail_mask);
        } else if (d->stride_w == 1) {
            dw_row_5_1(d, in_b, iy0, ky_begin, ky_end, x_lo, x_hi, out, tail_mask);
        } else {
            dw_row_5_2(d, in_b, iy0, ky_begin, ky_end, x_lo, x_hi, out, tail_mask);
        }
    }
}
