/*
 * Convolution2DTransposeBias, MediaPipe's custom operator, float32 reference
 * kernel: a transposed convolution (the gradient of CONV_2D with respect to
 * its input) plus a bias.
 *
 * Layouts:
 *   input    [batches, in_h, in_w, in_c]          NHWC, in_h and in_w >= 1
 *   weights  [out_c, kh, kw, in_c]
 *   bias     [out_c]
 *   output   [batches, out_h, out_w, out_c]
 *
 * Custom options: exactly 12 bytes, three little-endian int32 values laid
 * out as TFLite's TfLiteTransposeConvParams: padding (1 = SAME, 2 = VALID,
 * TFLite's TfLitePadding), stride_width (>= 1), stride_height (>= 1).
 *
 * Sizes per spatial axis, as MediaPipe's transpose_conv_bias.cc computes
 * them (the output size is not an input, unlike TFLite's TRANSPOSE_CONV):
 *   total padding = SAME ? max(0, k - (in - 1) % stride - 1) : 0
 *   out = stride * (in - 1) + k - total padding
 *   leading padding = total padding / 2
 * With k > (in - 1) % stride, SAME gives out = stride * (in - 1) +
 * (in - 1) % stride + 1. That is in * stride for even sizes at stride 2,
 * as in the selfie-segmentation models, but not in general: in = 3,
 * stride 2, k = 4 gives 5.
 *
 * Each input pixel scatters in[y][x][ic] * w[oc][fy][fx][ic] onto
 * out[y * stride - pad + fy][x * stride - pad + fx][oc], dropping what falls
 * outside the output, on top of the bias. The loops run in MediaPipe's
 * order (input row, column, channel, filter row, column, output channel),
 * so the float32 sums round as MediaPipe's do.
 *
 * Prepare picks a fast path when the CPU has one (src/ops/fast_misc.h),
 * which differs from this kernel by rounding only.
 */
#include <string.h>

#include "core/core.h"
#include "ops/common.h"
#include "ops/fast_misc.h"

/* TfLitePadding values in the custom options. */
enum { TCONV_PADDING_SAME = 1, TCONV_PADDING_VALID = 2 };

enum { TCONV_OPTIONS_SIZE = 12 };

typedef struct tconv_options {
    int32_t padding;
    int32_t stride_w, stride_h;
} tconv_options;

typedef struct tconv_axis {
    int32_t out;
    int32_t pad_before;
} tconv_axis;

static int32_t read_le_i32(const uint8_t *bytes)
{
    uint32_t value = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
                     (uint32_t)bytes[3] << 24;
    int32_t result;

    /* memcpy converts the two's-complement bits without implementation-defined casts. */
    memcpy(&result, &value, sizeof(result));
    return result;
}

/* Reads the options of a node whose options prepare has checked. */
static tconv_options tconv_options_read(const verge_node *node)
{
    tconv_options options = {
        .padding = read_le_i32(node->custom_options),
        .stride_w = read_le_i32(node->custom_options + 4),
        .stride_h = read_le_i32(node->custom_options + 8),
    };
    return options;
}

/* Computes one spatial axis; `in` >= 1, `filter` >= 1 and `stride` >= 1. */
static void tconv_axis_size(int32_t padding, int32_t in, int32_t filter, int32_t stride,
                            int64_t *out, int64_t *pad_before)
{
    int64_t total = 0;

    if (padding == TCONV_PADDING_SAME) {
        total = (int64_t)filter - (in - 1) % stride - 1;
        if (total < 0)
            total = 0;
    }
    *out = (int64_t)stride * (in - 1) + filter - total;
    *pad_before = total / 2;
}

static verge_status tconv_options_check(const verge_node *node, tconv_options *options)
{
    if (node->custom_options == NULL || node->custom_options_size != TCONV_OPTIONS_SIZE)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "custom options are %zu bytes, expected %d (int32 padding, "
                          "stride_width, stride_height)",
                          node->custom_options == NULL ? (size_t)0 : node->custom_options_size,
                          TCONV_OPTIONS_SIZE);

    *options = tconv_options_read(node);
    if (options->padding != TCONV_PADDING_SAME && options->padding != TCONV_PADDING_VALID)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "custom option padding is %d, expected 1 (SAME) or 2 (VALID)",
                          (int)options->padding);
    if (options->stride_w < 1 || options->stride_h < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "custom option strides are %d (width) and %d (height), expected >= 1",
                          (int)options->stride_w, (int)options->stride_h);
    return VERGE_OK;
}

static verge_status verge_transpose_conv_bias_prepare(verge_op_context *ctx,
                                                      const verge_node *node)
{
    char input_shape[VERGE_SHAPE_STR_SIZE], weights_shape[VERGE_SHAPE_STR_SIZE];
    char bias_shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input, *weights, *bias;
    tconv_options options = {0};
    int64_t out_h, out_w, pad_top, pad_left;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 3, 3, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "weights", &weights)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 2, "bias", &bias)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK ||
        (status = verge_ops_check_float32(weights, 1, "weights")) != VERGE_OK ||
        (status = verge_ops_check_float32(bias, 2, "bias")) != VERGE_OK ||
        (status = verge_ops_check_rank(input, 0, "input", 4)) != VERGE_OK ||
        (status = verge_ops_check_rank(weights, 1, "weights", 4)) != VERGE_OK ||
        (status = verge_ops_check_rank(bias, 2, "bias", 1)) != VERGE_OK ||
        (status = tconv_options_check(node, &options)) != VERGE_OK)
        return status;

    verge_shape_str(input->dims, input->rank, input_shape, sizeof(input_shape));
    verge_shape_str(weights->dims, weights->rank, weights_shape, sizeof(weights_shape));
    verge_shape_str(bias->dims, bias->rank, bias_shape, sizeof(bias_shape));
    if (weights->dims[3] != input->dims[3])
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (weights) has shape %s, but input 0 (input) of shape %s has "
                          "%d channels; weights are [out_c, kh, kw, in_c]",
                          weights_shape, input_shape, (int)input->dims[3]);
    if (bias->dims[0] != weights->dims[0])
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 2 (bias) has shape %s, but the weights %s have %d output "
                          "channels",
                          bias_shape, weights_shape, (int)weights->dims[0]);
    if (input->dims[1] < 1 || input->dims[2] < 1 || weights->dims[1] < 1 || weights->dims[2] < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input shape %s and weights shape %s need a height and width of at "
                          "least 1",
                          input_shape, weights_shape);

    tconv_axis_size(options.padding, input->dims[1], weights->dims[1], options.stride_h, &out_h,
                    &pad_top);
    tconv_axis_size(options.padding, input->dims[2], weights->dims[2], options.stride_w, &out_w,
                    &pad_left);
    if (out_h > INT32_MAX || out_w > INT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input shape %s with strides %d x %d gives an output of %lld x %lld, "
                          "too large to address",
                          input_shape, (int)options.stride_h, (int)options.stride_w,
                          (long long)out_h, (long long)out_w);

    status = verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32, 4,
                                    (const int32_t[]){input->dims[0], (int32_t)out_h,
                                                      (int32_t)out_w, weights->dims[0]});
    if (status != VERGE_OK)
        return status;
    /* The leading paddings are below the filter sizes, so they fit int32_t. */
    verge_transpose_conv_bias_fast_prepare(ctx, node, options.stride_h, options.stride_w,
                                           (int32_t)pad_top, (int32_t)pad_left);
    return VERGE_OK;
}

static verge_status verge_transpose_conv_bias_f32(verge_op_context *ctx, const verge_node *node)
{
    const tconv_options options = tconv_options_read(node);
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *weights_tensor = verge_node_input(ctx, node, 1);
    const float *input = input_tensor->data;
    const float *weights = weights_tensor->data;
    const float *bias = verge_node_input(ctx, node, 2)->data;
    const verge_tensor *output_tensor = verge_node_output(ctx, node, 0);
    float *output = output_tensor->data;
    const int32_t batches = input_tensor->dims[0];
    const int32_t in_h = input_tensor->dims[1], in_w = input_tensor->dims[2];
    const int32_t in_c = input_tensor->dims[3];
    const int32_t filter_h = weights_tensor->dims[1], filter_w = weights_tensor->dims[2];
    const int32_t out_h = output_tensor->dims[1], out_w = output_tensor->dims[2];
    const int32_t out_c = output_tensor->dims[3];
    int64_t unused, pad_top, pad_left;

    if (ctx->node_data != NULL)
        return verge_transpose_conv_bias_fast_invoke(ctx, node);
    tconv_axis_size(options.padding, in_h, filter_h, options.stride_h, &unused, &pad_top);
    tconv_axis_size(options.padding, in_w, filter_w, options.stride_w, &unused, &pad_left);

    for (int32_t b = 0; b < batches; b++) {
        float *out_image = output + (size_t)b * out_h * out_w * out_c;

        for (size_t i = 0; i < (size_t)out_h * out_w; i++) {
            for (int32_t oc = 0; oc < out_c; oc++)
                out_image[i * out_c + oc] = bias[oc];
        }

        for (int32_t iy = 0; iy < in_h; iy++) {
            for (int32_t ix = 0; ix < in_w; ix++) {
                const float *in_px = input + (((size_t)b * in_h + iy) * in_w + ix) * in_c;
                const int64_t oy0 = (int64_t)iy * options.stride_h - pad_top;
                const int64_t ox0 = (int64_t)ix * options.stride_w - pad_left;

                for (int32_t ic = 0; ic < in_c; ic++) {
                    for (int32_t fy = 0; fy < filter_h; fy++) {
                        const int64_t oy = oy0 + fy;

                        if (oy < 0 || oy >= out_h)
                            continue;
                        for (int32_t fx = 0; fx < filter_w; fx++) {
                            const int64_t ox = ox0 + fx;
                            float *out_px;

                            if (ox < 0 || ox >= out_w)
                                continue;
                            out_px = out_image + ((size_t)oy * out_w + (size_t)ox) * out_c;
                            for (int32_t oc = 0; oc < out_c; oc++)
                                out_px[oc] += in_px[ic] *
                                              weights[(((size_t)oc * filter_h + fy) * filter_w +
                                                       fx) * in_c + ic];
                        }
                    }
                }
            }
        }
    }
    return VERGE_OK;
}

const verge_kernel verge_transpose_conv_bias_kernel = {
    .op = VERGE_OP_CUSTOM,
    .custom_name = "Convolution2DTransposeBias",
    .dtypes = "float32",
    .prepare = verge_transpose_conv_bias_prepare,
    .invoke = verge_transpose_conv_bias_f32,
};
