/*
 * Fast float32 paths of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, and
 * of the cheap element-wise operators around them (internal to src/ops/).
 *
 * The reference kernels stay the oracle and run whenever no fast path fits.
 * At prepare time, after the reference kernel has checked the node,
 * verge_*_fast_prepare() decides whether a fast path applies (the CPU has
 * one, see src/core/cpu.h; the weights and bias are constants; the
 * activation is NONE, RELU, RELU_N1_TO_1 or RELU6; no grouped convolution;
 * depth multiplier 1) and, if so, packs the weights once into one
 * allocation stored in ctx->node_data (freed with free()). Invoke then calls
 * verge_fast_invoke(), which splits the outputs among the context's threads.
 *
 * Each output of a fast path is bias + sum of products, accumulated with
 * fused multiply-adds in a fixed order (filter row, column, input channel),
 * then clamped. That order does not depend on how outputs are tiled or
 * split among threads, so results are bit-identical for any thread count.
 * Against the reference kernel (plain multiplies and adds, bias last) they
 * differ by rounding only: tests allow 1e-5 of the sum of the products'
 * absolute values.
 */
#ifndef VERGE_OPS_FAST_H
#define VERGE_OPS_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* Output channels per packed weight panel, and rows per micro-kernel call. */
#define VERGE_FAST_PANEL 16
#define VERGE_FAST_ROWS 6

/*
 * One call of the GEMM micro-kernel:
 *   out[r * out_stride + n] = clamp(bias[n] + sum over t, c of
 *                                   a[t * VERGE_FAST_ROWS + r][c] * w(t * channels + c, n))
 * for r in [0, rows) and every column n of panels [panel_begin, panel_end)
 * below out_c. w(k, n) = packed[(n / 16 * K + k) * 16 + n % 16] with
 * K = taps * channels. `a` contains one pointer per tap and row (a padding
 * tap points at `channels` zeros). With a `residual`, residual[r *
 * residual_stride + n] (+0.0f for n >= residual_c) is added before the
 * clamp. clamp applies [lo, hi] when `clamp` is set, keeping NaN.
 */
typedef struct verge_gemm_args {
    int rows;                   /* 1..VERGE_FAST_ROWS */
    int taps;                   /* >= 1 */
    int channels;               /* >= 1 */
    const float *const *a;      /* taps * VERGE_FAST_ROWS pointers */
    const float *packed;
    const float *bias;          /* panels * 16 values, zero past out_c */
    int panel_begin, panel_end;
    int out_c;
    float *out;
    size_t out_stride;
    const float *residual;      /* NULL: none */
    size_t residual_stride;
    int residual_c;
    int clamp;
    float lo, hi;
} verge_gemm_args;

/*
 * One range of a depthwise convolution (depth multiplier 1), rows
 * [row_begin, row_end) of the output, row = batch * out_h + y:
 *   out[b, y, x, c] = clamp(bias[c] + sum over valid ky, kx of
 *                           in[b, y*sh - pad_top + ky*dh, x*sw - pad_left + kx*dw, c] *
 *                           w[(ky * kw + kx) * channels + c])
 */
typedef struct verge_dwconv_args {
    const float *in;
    const float *w;             /* [kh, kw, channels] */
    const float *bias;          /* channels values (zeros when the node has none) */
    float *out;
    int32_t in_h, in_w, channels, out_h, out_w;
    int32_t kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int clamp;
    float lo, hi;
} verge_dwconv_args;

/* How an input of an element-wise operator maps onto output element i. */
typedef enum verge_fast_layout {
    VERGE_FAST_FULL = 0,        /* element i */
    VERGE_FAST_SCALAR,          /* element 0 */
    VERGE_FAST_ROW,             /* element i % period: a per-channel vector */
} verge_fast_layout;

/*
 * Element-wise operators of two inputs: out[i] = act(a op b) for ADD, SUB,
 * MUL; a > b ? a : b (MAXIMUM); a < b ? a : b (MINIMUM). act is NONE, RELU,
 * RELU_N1_TO_1 or RELU6, with the reference kernels' comparisons, so results
 * are bit-identical to theirs.
 */
typedef struct verge_binary_args {
    int op;
    verge_activation activation;
    const float *a, *b;
    verge_fast_layout layout_a, layout_b;
    size_t period;              /* >= 1; the length of a ROW input */
    float *out;
} verge_binary_args;

/*
 * Element-wise operators of one input, bit-identical to the reference
 * kernels: RELU, RELU6, RELU_N1_TO_1 (clamps), LEAKY_RELU
 * (x > 0 ? x : x * alpha) and HARD_SWISH (x * min(max(x + 3, 0), 6) / 6).
 */
typedef struct verge_unary_args {
    int op;
    float alpha;
    const float *in;
    float *out;
} verge_unary_args;

/*
 * MAX_POOL_2D and AVERAGE_POOL_2D over output rows [row_begin, row_end),
 * row = batch * out_h + y, bit-identical to the reference kernel: the
 * maximum starts at -FLT_MAX and takes a cell when max < cell (NaN cells
 * are skipped); the average adds the in-bounds cells row by row in float
 * and divides by their count; then the fused activation.
 */
typedef struct verge_pool_args {
    const float *in;
    float *out;
    int average;
    verge_activation activation;
    int32_t in_h, in_w, channels, out_h, out_w;
    int32_t filter_h, filter_w, stride_h, stride_w, pad_top, pad_left;
} verge_pool_args;

void verge_gemm_f32_avx2(const verge_gemm_args *args);
void verge_gemm_f32_avx512(const verge_gemm_args *args);
void verge_dwconv_f32_avx2(const verge_dwconv_args *args, size_t row_begin, size_t row_end);
void verge_dwconv_f32_avx512(const verge_dwconv_args *args, size_t row_begin, size_t row_end);
void verge_binary_f32_avx2(const verge_binary_args *args, size_t begin, size_t end);
void verge_unary_f32_avx2(const verge_unary_args *args, size_t begin, size_t end);
void verge_pool_f32_avx2(const verge_pool_args *args, size_t row_begin, size_t row_end);
void verge_gemm_f32_neon(const verge_gemm_args *args);
void verge_dwconv_f32_neon(const verge_dwconv_args *args, size_t row_begin, size_t row_end);
void verge_binary_f32_neon(const verge_binary_args *args, size_t begin, size_t end);
void verge_unary_f32_neon(const verge_unary_args *args, size_t begin, size_t end);
void verge_pool_f32_neon(const verge_pool_args *args, size_t row_begin, size_t row_end);

/* Packs the node's weights for a fast path into ctx->node_data when one applies. */
verge_status verge_conv2d_fast_prepare(verge_op_context *ctx, const verge_node *node);
verge_status verge_depthwise_conv2d_fast_prepare(verge_op_context *ctx, const verge_node *node);
verge_status verge_fully_connected_fast_prepare(verge_op_context *ctx, const verge_node *node);

/*
 * Element-wise fast paths, bit-identical to the reference kernels: ADD, SUB,
 * MUL, MAXIMUM, MINIMUM (each input the output's shape, a scalar, or a
 * vector along the last dimensions) and RELU, RELU6, RELU_N1_TO_1,
 * LEAKY_RELU, HARD_SWISH; also MAX_POOL_2D and AVERAGE_POOL_2D. Other
 * operators and layouts keep the reference. verge_elementwise_fast_invoke()
 * runs all of them.
 */
verge_status verge_binary_fast_prepare(verge_op_context *ctx, const verge_node *node);
verge_status verge_unary_fast_prepare(verge_op_context *ctx, const verge_node *node);
verge_status verge_pool_fast_prepare(verge_op_context *ctx, const verge_node *node);

/* Runs a node whose prepare stored fast-path state in ctx->node_data. */
verge_status verge_fast_invoke(verge_op_context *ctx, const verge_node *node);
verge_status verge_elementwise_fast_invoke(verge_op_context *ctx, const verge_node *node);

#endif
