/*
 * Fast float32 paths of Convolution2DTransposeBias, RESIZE_BILINEAR, MEAN
 * and LOGISTIC (internal to src/ops/). Once the convolutions are fast,
 * these operators take much of the selfie-segmentation models' time.
 *
 * Each operator's prepare, after the reference kernel has checked the
 * node, calls its verge_*_fast_prepare(). That picks the micro-kernel of
 * the instruction set that verge_cpu_isa_selected() returns (none for
 * "scalar", which keeps the reference kernel) and stores it with
 * precomputed tables in ctx->node_data, freed with free(). Invoke then
 * calls verge_*_fast_invoke(), which splits large operators among the
 * context's threads. Each output is computed the same way whatever range
 * contains it, so results do not depend on the thread count.
 *
 * Accuracy against the reference kernels:
 *   RESIZE_BILINEAR  bit-identical: the same float32 operations in the same
 *                    order, channels side by side in vector lanes.
 *   MEAN             bit-identical: the same float64 sums in input order.
 *   Convolution2DTransposeBias
 *                    rounding only: each output is its bias plus a sum of
 *                    products accumulated with fused multiply-adds, channels
 *                    in lanes and the lanes added in a tree. Tests allow
 *                    1e-5 of the sum of the products' and the bias's
 *                    absolute values, plus 1e-6.
 *   LOGISTIC         1 / (1 + exp(-x)) with exp from a polynomial. For
 *                    outputs of at least FLT_MIN it is within 1.65e-7
 *                    relative of the exact sigmoid and 2.74e-7 of the
 *                    reference; smaller outputs differ from the reference
 *                    by at most 1.4e-45 (measured on every 7th float32 bit
 *                    pattern, see src/ops/x86/logistic_avx2.c). Tests allow
 *                    2e-7 and 4.8e-7 relative.
 */
#ifndef VERGE_OPS_FAST_MISC_H
#define VERGE_OPS_FAST_MISC_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* The widest vector of any kernel here, in floats: tables are padded by this much. */
#define VERGE_FAST_MAX_LANES 16

/*
 * The input columns that feed output column ox of a transposed
 * convolution: `count` taps j in [0, count), input column ix0 + j with
 * filter column fx0 - j * stride_w, all inside the input and the filter.
 * The offsets are in floats: ix0 * in_c and fx0 * in_c.
 */
typedef struct verge_tconv_column {
    ptrdiff_t in_offset, w_offset;
    int32_t count;
} verge_tconv_column;

/*
 * Output rows [row_begin, row_end) of Convolution2DTransposeBias, row =
 * batch * out_h + oy, as a gather: output (oy, ox, oc) is bias[oc] plus
 * the sum over every input pixel (iy, ix) with oy = iy * stride_h - pad_top
 * + fy and ox = ix * stride_w - pad_left + fx (0 <= fy < kh, 0 <= fx < kw)
 * and every input channel ic of in[iy][ix][ic] * w[oc][fy][fx][ic]. Each
 * (oy, ox, oc) is one dot product along ic, so in_c sets the vector work.
 */
typedef struct verge_tconv_args {
    const float *in;                    /* [batches, in_h, in_w, in_c] */
    const float *w;                     /* [out_c, kh, kw, in_c] */
    const float *bias_repeated;         /* bias[i % out_c], i in [0, out_c + MAX_LANES) */
    const verge_tconv_column *columns;  /* out_w entries */
    float *out;                         /* [batches, out_h, out_w, out_c] */
    int32_t in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t kh, kw, stride_h, stride_w, pad_top, pad_left;
} verge_tconv_args;

/*
 * One output coordinate of RESIZE_BILINEAR along one axis: the two input
 * cells and their weights, as the reference kernel computes them:
 * weight_lower = 1 - (src - lower), weight_upper = src - lower.
 */
typedef struct verge_resize_tap {
    int32_t lower, upper;
    float weight_lower, weight_upper;
} verge_resize_tap;

/*
 * Computes output cell `dst`'s tap along an axis of `in` cells resized to
 * `out`, with the reference kernel's float32 steps (src/ops/resize.c).
 */
void verge_resize_tap_compute(int32_t dst, int32_t in, int32_t out,
                              const verge_resize_params *params, verge_resize_tap *tap);

/*
 * Output rows [row_begin, row_end) of RESIZE_BILINEAR, row = batch * out_h
 * + oy. Each channel is, in float32 and in this order,
 *   in[y0][x0] * wy0 * wx0 + in[y1][x0] * wy1 * wx0 + in[y0][x1] * wy0 * wx1
 *   + in[y1][x1] * wy1 * wx1 + 0
 * with (y0, y1, wy0, wy1) = rows[oy] and (x0, x1, wx0, wx1) = columns[ox].
 */
typedef struct verge_resize_args {
    const float *in;                    /* [batches, in_h, in_w, channels] */
    float *out;                         /* [batches, out_h, out_w, channels] */
    const verge_resize_tap *rows;       /* out_h entries */
    const verge_resize_tap *columns;    /* out_w entries */
    int32_t in_h, in_w, channels, out_h, out_w;
} verge_resize_args;

/*
 * MEAN with the input seen as [outer, reduced, inner] and the output as
 * [outer, inner]: out[o][i] = (float)(sum / reduced), where sum adds
 * (double)in[o][r][i] for r = 0, 1, ... in float64. This call computes
 * out[o][i] for the units [begin, end), unit = o * blocks + i /
 * VERGE_MEAN_BLOCK with blocks = ceil(inner / VERGE_MEAN_BLOCK).
 */
#define VERGE_MEAN_BLOCK 64

typedef struct verge_mean_args {
    const float *in;
    float *out;
    size_t reduced, inner;              /* reduced >= 1, inner >= 1 */
} verge_mean_args;

void verge_tconv_f32_avx2(const verge_tconv_args *args, size_t row_begin, size_t row_end);
void verge_tconv_f32_avx512(const verge_tconv_args *args, size_t row_begin, size_t row_end);
void verge_tconv_f32_neon(const verge_tconv_args *args, size_t row_begin, size_t row_end);
void verge_resize_f32_avx2(const verge_resize_args *args, size_t row_begin, size_t row_end);
void verge_resize_f32_avx512(const verge_resize_args *args, size_t row_begin, size_t row_end);
void verge_resize_f32_neon(const verge_resize_args *args, size_t row_begin, size_t row_end);
void verge_mean_f32_avx2(const verge_mean_args *args, size_t begin, size_t end);
void verge_mean_f32_avx512(const verge_mean_args *args, size_t begin, size_t end);
void verge_mean_f32_neon(const verge_mean_args *args, size_t begin, size_t end);
/* out[i] = 1 / (1 + exp(-in[i])) for i in [0, count); see the accuracy above. */
void verge_logistic_f32_avx2(const float *in, float *out, size_t count);
void verge_logistic_f32_avx512(const float *in, float *out, size_t count);
void verge_logistic_f32_neon(const float *in, float *out, size_t count);

/*
 * Prepare-time selection: each stores fast-path state in ctx->node_data
 * when one applies, and otherwise (also when memory is short) leaves it
 * NULL, so that the reference kernel runs.
 *   transpose conv: a constant bias.
 *   resize: any node the reference accepts.
 *   mean: a non-empty input whose reduced dimensions of size above 1 are
 *         consecutive (dimensions of size 1 may lie between them).
 *   logistic: any node the reference accepts.
 * The transposed convolution's strides and leading paddings are the ones
 * the reference computes from the custom options.
 */
void verge_transpose_conv_bias_fast_prepare(verge_op_context *ctx, const verge_node *node,
                                            int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                            int32_t pad_left);
void verge_resize_bilinear_fast_prepare(verge_op_context *ctx, const verge_node *node);
void verge_mean_fast_prepare(verge_op_context *ctx, const verge_node *node,
                             const bool reduced[VERGE_MAX_RANK]);
void verge_logistic_fast_prepare(verge_op_context *ctx, const verge_node *node);

/* Run a node whose prepare stored fast-path state in ctx->node_data. */
verge_status verge_transpose_conv_bias_fast_invoke(verge_op_context *ctx, const verge_node *node);
verge_status verge_resize_bilinear_fast_invoke(verge_op_context *ctx, const verge_node *node);
verge_status verge_mean_fast_invoke(verge_op_context *ctx, const verge_node *node);
verge_status verge_logistic_fast_invoke(verge_op_context *ctx, const verge_node *node);

#endif
