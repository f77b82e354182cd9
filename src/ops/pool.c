/*
 * MAX_POOL_2D and AVERAGE_POOL_2D, float32 reference kernels.
 *
 * Layout: input [batches, in_h, in_w, channels] (NHWC), output
 * [batches, out_h, out_w, channels]. Output size and padding follow TFLite's
 * SAME/VALID rules with dilation 1. Padded cells take no part: the maximum
 * and the average are over the window's in-bounds cells only, as in TFLite.
 * With valid options every window contains at least one in-bounds cell.
 * Prepare picks a bit-identical fast path when the CPU has one
 * (src/ops/fast.h).
 */
#include <float.h>

#include "core/core.h"
#include "ops/common.h"
#include "ops/fast.h"

typedef struct pool_shape {
    int32_t batches, in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t pad_top, pad_left;
} pool_shape;

static void pool_shape_read(const verge_tensor *input, const verge_pool_params *params,
                            pool_shape *shape)
{
    int64_t out_h, out_w, pad_top, pad_left;

    shape->batches = input->dims[0];
    shape->in_h = input->dims[1];
    shape->in_w = input->dims[2];
    shape->channels = input->dims[3];
    verge_ops_window(params->padding, shape->in_h, params->filter_h, params->stride_h, 1, &out_h,
                     &pad_top);
    verge_ops_window(params->padding, shape->in_w, params->filter_w, params->stride_w, 1, &out_w,
                     &pad_left);
    shape->out_h = (int32_t)out_h;
    shape->out_w = (int32_t)out_w;
    shape->pad_top = (int32_t)pad_top;
    shape->pad_left = (int32_t)pad_left;
}

static verge_status verge_pool2d_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_pool_params *params = &node->params.pool;
    verge_tensor *input;
    int32_t out_h, out_w, pad_top, pad_left;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 1, 1, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK ||
        (status = verge_ops_check_rank(input, 0, "input", 4)) != VERGE_OK ||
        (status = verge_ops_check_activation(params->activation)) != VERGE_OK)
        return status;

    if ((status = verge_ops_window_checked(params->padding, input->dims[1], params->filter_h,
                                           params->stride_h, 1, "height", &out_h, &pad_top)) !=
            VERGE_OK ||
        (status = verge_ops_window_checked(params->padding, input->dims[2], params->filter_w,
                                           params->stride_w, 1, "width", &out_w, &pad_left)) !=
            VERGE_OK)
        return status;

    status = verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32, 4,
                                    (const int32_t[]){input->dims[0], out_h, out_w,
                                                      input->dims[3]});
    return status == VERGE_OK ? verge_pool_fast_prepare(ctx, node) : status;
}

/*
 * Runs one pooling kernel: `average` selects the mean of the in-bounds
 * cells, otherwise their maximum.
 */
static void pool2d_run(verge_op_context *ctx, const verge_node *node, bool average)
{
    const verge_pool_params *params = &node->params.pool;
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const float *input = input_tensor->data;
    float *output = verge_node_output(ctx, node, 0)->data;
    pool_shape s;

    if (ctx->node_data != NULL) {
        verge_elementwise_fast_invoke(ctx, node);
        return;
    }
    pool_shape_read(input_tensor, params, &s);

    for (int32_t b = 0; b < s.batches; b++) {
        for (int32_t oy = 0; oy < s.out_h; oy++) {
            /* Clip the window to the input, so only in-bounds cells are visited. */
            int64_t y_origin = (int64_t)oy * params->stride_h - s.pad_top;
            int64_t y_begin = y_origin < 0 ? 0 : y_origin;
            int64_t y_end = y_origin + params->filter_h;

            if (y_end > s.in_h)
                y_end = s.in_h;
            for (int32_t ox = 0; ox < s.out_w; ox++) {
                int64_t x_origin = (int64_t)ox * params->stride_w - s.pad_left;
                int64_t x_begin = x_origin < 0 ? 0 : x_origin;
                int64_t x_end = x_origin + params->filter_w;

                if (x_end > s.in_w)
                    x_end = s.in_w;
                for (int32_t c = 0; c < s.channels; c++) {
                    float sum = 0.0f;
                    float max = -FLT_MAX;
                    size_t count = 0;
                    float value;

                    for (int64_t iy = y_begin; iy < y_end; iy++) {
                        for (int64_t ix = x_begin; ix < x_end; ix++) {
                            float v = input[(((size_t)b * s.in_h + iy) * s.in_w + ix) *
                                                s.channels +
                                            c];

                            sum += v;
                            if (max < v)
                                max = v;
                            count++;
                        }
                    }
                    value = average ? sum / (float)count : max;
                    output[(((size_t)b * s.out_h + oy) * s.out_w + ox) * s.channels + c] =
                        verge_activate(value, params->activation);
                }
            }
        }
    }
}

static verge_status verge_max_pool2d_f32(verge_op_context *ctx, const verge_node *node)
{
    pool2d_run(ctx, node, false);
    return VERGE_OK;
}

static verge_status verge_average_pool2d_f32(verge_op_context *ctx, const verge_node *node)
{
    pool2d_run(ctx, node, true);
    return VERGE_OK;
}

const verge_kernel verge_max_pool2d_kernel = {
    .op = VERGE_OP_MAX_POOL_2D,
    .dtypes = "float32",
    .prepare = verge_pool2d_prepare,
    .invoke = verge_max_pool2d_f32,
};

const verge_kernel verge_average_pool2d_kernel = {
    .op = VERGE_OP_AVERAGE_POOL_2D,
    .dtypes = "float32",
    .prepare = verge_pool2d_prepare,
    .invoke = verge_average_pool2d_f32,
};
