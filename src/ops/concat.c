/*
 * CONCATENATION, float32 reference kernel: joins N >= 1 inputs along one
 * axis, then applies the fused activation.
 *
 * Every input has the same rank and the same dimensions except along
 * `axis`, which may be negative (counted from the end, -1 is the last). The
 * output's size along the axis is the sum of the inputs'.
 *
 * NOTE: TFLite's own kernel rejects any fused activation other than NONE,
 * while this one applies what the options name.
 */
#include <string.h>

#include "core/core.h"
#include "ops/common.h"

/* Returns the axis of a node whose inputs have `rank` dimensions, in [0, rank) once checked. */
static int concat_axis(const verge_node *node, int rank)
{
    int axis = node->params.concat.axis;

    return axis < 0 ? axis + rank : axis;
}

static verge_status verge_concatenation_prepare(verge_op_context *ctx, const verge_node *node)
{
    char first_shape[VERGE_SHAPE_STR_SIZE], shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *first;
    int32_t dims[VERGE_MAX_RANK];
    int64_t axis_size = 0;
    int axis;
    verge_status status;

    if (node->num_inputs < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "has no inputs, expected at least 1");
    if ((status = verge_ops_check_arity(node, 1, node->num_inputs, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &first)) != VERGE_OK ||
        (status = verge_ops_check_activation(node->params.concat.activation)) != VERGE_OK)
        return status;

    axis = concat_axis(node, first->rank);
    if (axis < 0 || axis >= first->rank)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "axis %d is outside [%d, %d) for inputs of rank %d",
                          node->params.concat.axis, -first->rank, first->rank, first->rank);
    verge_shape_str(first->dims, first->rank, first_shape, sizeof(first_shape));

    for (int i = 0; i < node->num_inputs; i++) {
        verge_tensor *input;

        if ((status = verge_ops_require_input(ctx, node, i, "input", &input)) != VERGE_OK ||
            (status = verge_ops_check_float32(input, i, "input")) != VERGE_OK)
            return status;

        verge_shape_str(input->dims, input->rank, shape, sizeof(shape));
        if (input->rank != first->rank)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input %d has shape %s, but input 0 has shape %s of another rank",
                              i, shape, first_shape);
        for (int d = 0; d < first->rank; d++) {
            if (d != axis && input->dims[d] != first->dims[d])
                return verge_fail(VERGE_STATUS_INVALID_MODEL,
                                  "input %d has shape %s, but input 0 has shape %s; they may "
                                  "differ only along axis %d",
                                  i, shape, first_shape, axis);
        }
        axis_size += input->dims[axis];
    }

    if (axis_size > INT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "the output would have %lld elements along axis %d, beyond %d",
                          (long long)axis_size, axis, INT32_MAX);
    memcpy(dims, first->dims, sizeof(dims));
    dims[axis] = (int32_t)axis_size;
    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32,
                                  first->rank, dims);
}

static verge_status verge_concatenation_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_activation activation = node->params.concat.activation;
    verge_tensor *output_tensor = verge_node_output(ctx, node, 0);
    float *output = output_tensor->data;
    const int rank = output_tensor->rank;
    const int axis = concat_axis(node, rank);
    /* The output is `outer` slabs, each containing one slab of every input in input order. */
    const size_t outer = verge_ops_dims_product(output_tensor->dims, 0, axis);
    const size_t inner = verge_ops_dims_product(output_tensor->dims, axis + 1, rank);
    const size_t count = verge_tensor_count(output_tensor);
    size_t written = 0;

    for (size_t o = 0; o < outer; o++) {
        for (int i = 0; i < node->num_inputs; i++) {
            const verge_tensor *input = verge_node_input(ctx, node, i);
            size_t slab = (size_t)input->dims[axis] * inner;

            if (slab == 0)
                continue;
            memcpy(output + written, (const float *)input->data + o * slab,
                   slab * sizeof(float));
            written += slab;
        }
    }

    if (activation != VERGE_ACT_NONE) {
        for (size_t i = 0; i < count; i++)
            output[i] = verge_activate(output[i], activation);
    }
    return VERGE_OK;
}

const verge_kernel verge_concatenation_kernel = {
    .op = VERGE_OP_CONCATENATION,
    .dtypes = "float32",
    .prepare = verge_concatenation_prepare,
    .invoke = verge_concatenation_f32,
};
