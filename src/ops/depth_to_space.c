/*
 * DEPTH_TO_SPACE, float32 reference kernel, NHWC as in TFLite.
 *
 * Input [batches, h, w, c] with c divisible by block_size^2, output
 * [batches, h * block_size, w * block_size, c / block_size^2] where
 *   output[b][y][x][k] = input[b][y / bs][x / bs][((y % bs) * bs + x % bs) * (c / bs^2) + k]
 * so each input pixel's channels fill a bs x bs patch row by row.
 */
#include "core/core.h"
#include "ops/common.h"

static verge_status verge_depth_to_space_prepare(verge_op_context *ctx, const verge_node *node)
{
    const int block = node->params.depth_to_space.block_size;
    char shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input;
    int64_t out_h, out_w, cells;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 1, 1, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK ||
        (status = verge_ops_check_rank(input, 0, "input", 4)) != VERGE_OK ||
        (status = verge_ops_check_factor("block_size", block)) != VERGE_OK)
        return status;

    verge_shape_str(input->dims, input->rank, shape, sizeof(shape));
    cells = (int64_t)block * block;
    if (input->dims[3] % cells != 0)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 0 (input) has shape %s; its %d channels are not a multiple of "
                          "block_size^2 = %lld",
                          shape, (int)input->dims[3], (long long)cells);
    out_h = (int64_t)input->dims[1] * block;
    out_w = (int64_t)input->dims[2] * block;
    if (out_h > INT32_MAX || out_w > INT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 0 (input) of shape %s with block_size %d gives an output "
                          "%lld x %lld, too large",
                          shape, block, (long long)out_h, (long long)out_w);

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32, 4,
                                  (const int32_t[]){input->dims[0], (int32_t)out_h,
                                                    (int32_t)out_w,
                                                    (int32_t)(input->dims[3] / cells)});
}

static verge_status verge_depth_to_space_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *output_tensor = verge_node_output(ctx, node, 0);
    const float *input = input_tensor->data;
    float *output = output_tensor->data;
    const int32_t block = node->params.depth_to_space.block_size;
    const int32_t in_h = input_tensor->dims[1];
    const int32_t in_w = input_tensor->dims[2];
    const int32_t in_c = input_tensor->dims[3];
    const int32_t out_h = output_tensor->dims[1];
    const int32_t out_w = output_tensor->dims[2];
    const int32_t out_c = output_tensor->dims[3];
    size_t o = 0;

    for (int32_t b = 0; b < output_tensor->dims[0]; b++) {
        for (int32_t y = 0; y < out_h; y++) {
            for (int32_t x = 0; x < out_w; x++) {
                const float *in_px = input + (((size_t)b * in_h + y / block) * in_w + x / block) *
                                                 in_c;
                size_t first = ((size_t)(y % block) * block + (size_t)(x % block)) * out_c;

                for (int32_t k = 0; k < out_c; k++)
                    output[o++] = in_px[first + k];
            }
        }
    }
    return VERGE_OK;
}

const verge_kernel verge_depth_to_space_kernel = {
    .op = VERGE_OP_DEPTH_TO_SPACE,
    .dtypes = "float32",
    .prepare = verge_depth_to_space_prepare,
    .invoke = verge_depth_to_space_f32,
};
