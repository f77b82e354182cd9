/*
 * RELU, RELU6 and RELU_N1_TO_1, float32 reference kernels: element-wise
 * clamps to [0, inf), [0, 6] and [-1, 1]. The output has the input's shape.
 * Prepare picks a bit-identical fast path when the CPU has one (src/ops/fast.h).
 */
#include "core/core.h"
#include "ops/common.h"
#include "ops/fast.h"

static verge_status verge_relu_prepare(verge_op_context *ctx, const verge_node *node)
{
    verge_tensor *input;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 1, 1, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK ||
        (status = verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32,
                                         input->rank, input->dims)) != VERGE_OK)
        return status;
    return verge_unary_fast_prepare(ctx, node);
}

static void relu_run(verge_op_context *ctx, const verge_node *node, verge_activation activation)
{
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const float *input = input_tensor->data;
    float *output = verge_node_output(ctx, node, 0)->data;
    const size_t count = verge_tensor_count(input_tensor);

    if (ctx->node_data != NULL) {
        verge_elementwise_fast_invoke(ctx, node);
        return;
    }
    for (size_t i = 0; i < count; i++)
        output[i] = verge_activate(input[i], activation);
}

static verge_status verge_relu_f32(verge_op_context *ctx, const verge_node *node)
{
    relu_run(ctx, node, VERGE_ACT_RELU);
    return VERGE_OK;
}

static verge_status verge_relu6_f32(verge_op_context *ctx, const verge_node *node)
{
    relu_run(ctx, node, VERGE_ACT_RELU6);
    return VERGE_OK;
}

static verge_status verge_relu_n1_to_1_f32(verge_op_context *ctx, const verge_node *node)
{
    relu_run(ctx, node, VERGE_ACT_RELU_N1_TO_1);
    return VERGE_OK;
}

const verge_kernel verge_relu_kernel = {
    .op = VERGE_OP_RELU,
    .dtypes = "float32",
    .prepare = verge_relu_prepare,
    .invoke = verge_relu_f32,
};

const verge_kernel verge_relu6_kernel = {
    .op = VERGE_OP_RELU6,
    .dtypes = "float32",
    .prepare = verge_relu_prepare,
    .invoke = verge_relu6_f32,
};

const verge_kernel verge_relu_n1_to_1_kernel = {
    .op = VERGE_OP_RELU_N1_TO_1,
    .dtypes = "float32",
    .prepare = verge_relu_prepare,
    .invoke = verge_relu_n1_to_1_f32,
};
