/*
 * Element-wise math of one input, float32 reference kernels. The output has
 * the input's shape.
 *
 *   LOGISTIC    1 / (1 + exp(-x))
 *   RSQRT       1 / sqrt(x)          (NaN below 0, +inf at +0, as IEEE 754 gives)
 *   LOG         log(x)               (NaN below 0, -inf at 0)
 *   HARD_SWISH  x * min(max(x + 3, 0), 6) / 6
 *   LEAKY_RELU  x > 0 ? x : alpha * x, alpha from node->params.leaky_relu
 *
 * Prepare picks a bit-identical fast path for HARD_SWISH and LEAKY_RELU when
 * the CPU has one (src/ops/fast.h), and for LOGISTIC one that differs by a
 * few units in the last place (src/ops/fast_misc.h).
 *
 * NOTE: TFLite's reference LOGISTIC returns exp(x) below x = -9 and 1 above
 * x = 16.62; this kernel evaluates the formula everywhere, which differs
 * from that by less than 1.3e-4 relative below -9.
 */
#include <math.h>

#include "core/core.h"
#include "ops/common.h"
#include "ops/fast.h"
#include "ops/fast_misc.h"

static verge_status elementwise_prepare(verge_op_context *ctx, const verge_node *node)
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

static verge_status verge_logistic_prepare(verge_op_context *ctx, const verge_node *node)
{
    verge_status status = elementwise_prepare(ctx, node);

    if (status != VERGE_OK)
        return status;
    verge_logistic_fast_prepare(ctx, node);
    return VERGE_OK;
}

static verge_status verge_leaky_relu_prepare(verge_op_context *ctx, const verge_node *node)
{
    const float alpha = node->params.leaky_relu.alpha;

    if (!isfinite(alpha))
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "alpha is %g, expected a finite number",
                          (double)alpha);
    return elementwise_prepare(ctx, node);
}

static verge_status verge_elementwise_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const float *input = input_tensor->data;
    float *output = verge_node_output(ctx, node, 0)->data;
    const size_t count = verge_tensor_count(input_tensor);

    if (ctx->node_data != NULL && node->op == VERGE_OP_LOGISTIC)
        return verge_logistic_fast_invoke(ctx, node);
    if (ctx->node_data != NULL)
        return verge_elementwise_fast_invoke(ctx, node);
    switch (node->op) {
    case VERGE_OP_LOGISTIC:
        for (size_t i = 0; i < count; i++)
            output[i] = 1.0f / (1.0f + expf(-input[i]));
        break;
    case VERGE_OP_RSQRT:
        for (size_t i = 0; i < count; i++)
            output[i] = 1.0f / sqrtf(input[i]);
        break;
    case VERGE_OP_LOG:
        for (size_t i = 0; i < count; i++)
            output[i] = logf(input[i]);
        break;
    case VERGE_OP_HARD_SWISH:
        for (size_t i = 0; i < count; i++) {
            float x = input[i];
            float gate = fminf(fmaxf(x + 3.0f, 0.0f), 6.0f);

            /* Multiply before dividing, in the order of TFLite's reference kernel. */
            output[i] = x * gate / 6.0f;
        }
        break;
    case VERGE_OP_LEAKY_RELU: {
        const float alpha = node->params.leaky_relu.alpha;

        for (size_t i = 0; i < count; i++)
            output[i] = input[i] > 0.0f ? input[i] : input[i] * alpha;
        break;
    }
    }
    return VERGE_OK;
}

const verge_kernel verge_logistic_kernel = {
    .op = VERGE_OP_LOGISTIC,
    .dtypes = "float32",
    .prepare = verge_logistic_prepare,
    .invoke = verge_elementwise_f32,
};

const verge_kernel verge_rsqrt_kernel = {
    .op = VERGE_OP_RSQRT,
    .dtypes = "float32",
    .prepare = elementwise_prepare,
    .invoke = verge_elementwise_f32,
};

const verge_kernel verge_log_kernel = {
    .op = VERGE_OP_LOG,
    .dtypes = "float32",
    .prepare = elementwise_prepare,
    .invoke = verge_elementwise_f32,
};

const verge_kernel verge_hard_swish_kernel = {
    .op = VERGE_OP_HARD_SWISH,
    .dtypes = "float32",
    .prepare = elementwise_prepare,
    .invoke = verge_elementwise_f32,
};

const verge_kernel verge_leaky_relu_kernel = {
    .op = VERGE_OP_LEAKY_RELU,
    .dtypes = "float32",
    .prepare = verge_leaky_relu_prepare,
    .invoke = verge_elementwise_f32,
};
