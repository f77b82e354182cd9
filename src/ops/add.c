/*
 * ADD, float32 reference kernel: output = activation(a + b).
 *
 * The inputs broadcast as in NumPy and TFLite. Shapes align at the last
 * dimension, and a missing or size-1 dimension repeats along the other
 * input's. The output has the broadcast shape, of rank up to VERGE_MAX_RANK,
 * so a rank-1 bias broadcasts against a rank-4 activation. Prepare picks a
 * bit-identical fast path when the CPU has one and the broadcast is simple
 * (src/ops/fast.h).
 */
#include "core/core.h"
#include "ops/common.h"
#include "ops/fast.h"

static verge_status verge_add_prepare(verge_op_context *ctx, const verge_node *node)
{
    verge_tensor *a, *b;
    int32_t dims[VERGE_MAX_RANK];
    int rank;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, 2, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "a", &a)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "b", &b)) != VERGE_OK ||
        (status = verge_ops_check_float32(a, 0, "a")) != VERGE_OK ||
        (status = verge_ops_check_float32(b, 1, "b")) != VERGE_OK ||
        (status = verge_ops_check_activation(node->params.activation.activation)) != VERGE_OK ||
        (status = verge_ops_broadcast_shape(a, b, &rank, dims)) != VERGE_OK ||
        (status = verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32,
                                         rank, dims)) != VERGE_OK)
        return status;
    return verge_binary_fast_prepare(ctx, node);
}

static verge_status verge_add_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_activation activation = node->params.activation.activation;
    const verge_tensor *a_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *b_tensor = verge_node_input(ctx, node, 1);
    verge_tensor *out_tensor = verge_node_output(ctx, node, 0);
    const float *a = a_tensor->data;
    const float *b = b_tensor->data;
    float *out = out_tensor->data;
    const int rank = out_tensor->rank;
    const size_t count = verge_tensor_count(out_tensor);
    size_t stride_a[VERGE_MAX_RANK], stride_b[VERGE_MAX_RANK];
    int32_t index[VERGE_MAX_RANK] = {0};
    size_t offset_a = 0, offset_b = 0;

    if (ctx->node_data != NULL)
        return verge_elementwise_fast_invoke(ctx, node);
    verge_ops_broadcast_strides(a_tensor, rank, out_tensor->dims, stride_a);
    verge_ops_broadcast_strides(b_tensor, rank, out_tensor->dims, stride_b);

    for (size_t i = 0; i < count; i++) {
        out[i] = verge_activate(a[offset_a] + b[offset_b], activation);

        /* Step the output index like an odometer and move both input offsets with it. */
        for (int d = rank - 1; d >= 0; d--) {
            index[d]++;
            offset_a += stride_a[d];
            offset_b += stride_b[d];
            if (index[d] < out_tensor->dims[d])
                break;
            offset_a -= stride_a[d] * (size_t)out_tensor->dims[d];
            offset_b -= stride_b[d] * (size_t)out_tensor->dims[d];
            index[d] = 0;
        }
    }
    return VERGE_OK;
}

const verge_kernel verge_add_kernel = {
    .op = VERGE_OP_ADD,
    .dtypes = "float32",
    .prepare = verge_add_prepare,
    .invoke = verge_add_f32,
};
