/*
 * EXPAND_DIMS and SQUEEZE, float32 reference kernels: the same elements in
 * the same order under a shape with a size-1 dimension added or removed.
 *
 * EXPAND_DIMS: input 1 is the axis, a constant int32 or int64 tensor of one
 * element in [-(rank + 1), rank]; a negative axis counts from the end, so
 * -1 appends a dimension. The output has rank + 1 <= VERGE_MAX_RANK
 * dimensions, with a 1 at the axis.
 *
 * SQUEEZE: node->params.squeeze lists the dimensions to remove, each in
 * [-rank, rank), counted from the end when negative, of size 1, and
 * possibly repeated. An empty list removes every size-1 dimension.
 */
#include <string.h>

#include "core/core.h"
#include "ops/common.h"

static verge_status verge_expand_dims_prepare(verge_op_context *ctx, const verge_node *node)
{
    char shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input, *axis_tensor;
    int32_t dims[VERGE_MAX_RANK];
    int64_t axis;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, 2, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "axis", &axis_tensor)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK)
        return status;

    if (axis_tensor->dtype != VERGE_DTYPE_INT32 && axis_tensor->dtype != VERGE_DTYPE_INT64)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (axis) is %s, expected int32 or int64",
                          verge_dtype_name(axis_tensor->dtype));
    if (verge_tensor_count(axis_tensor) != 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (axis) has shape %s, expected one element",
                          verge_shape_str(axis_tensor->dims, axis_tensor->rank, shape,
                                          sizeof(shape)));
    if ((status = verge_ops_check_constant(axis_tensor, 1, "axis")) != VERGE_OK)
        return status;

    if (input->rank >= VERGE_MAX_RANK)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "input 0 (input) already has %d dimensions, the most a tensor can "
                          "have in this build",
                          input->rank);
    axis = axis_tensor->dtype == VERGE_DTYPE_INT64 ? *(const int64_t *)axis_tensor->data
                                                   : *(const int32_t *)axis_tensor->data;
    if (axis < -(input->rank + 1) || axis > input->rank)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (axis) is %lld, outside [%d, %d] for input shape %s",
                          (long long)axis, -(input->rank + 1), input->rank,
                          verge_shape_str(input->dims, input->rank, shape, sizeof(shape)));
    if (axis < 0)
        axis += input->rank + 1;

    for (int d = 0, source = 0; d <= input->rank; d++)
        dims[d] = d == axis ? 1 : input->dims[source++];
    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32,
                                  input->rank + 1, dims);
}

static verge_status verge_squeeze_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_squeeze_params *params = &node->params.squeeze;
    char shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input;
    bool squeezed[VERGE_MAX_RANK] = {false};
    int32_t dims[VERGE_MAX_RANK];
    int rank = 0;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 1, 1, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK)
        return status;
    if (params->num_dims < 0 || params->num_dims > VERGE_MAX_RANK)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "squeeze_dims has %d entries, expected 0 to %d", params->num_dims,
                          VERGE_MAX_RANK);

    verge_shape_str(input->dims, input->rank, shape, sizeof(shape));
    for (int i = 0; i < params->num_dims; i++) {
        int32_t dim = params->dims[i];
        int32_t resolved = dim < 0 ? dim + input->rank : dim;

        if (dim < -input->rank || dim >= input->rank)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "squeeze_dims entry %d is %d, outside [-%d, %d) for input shape "
                              "%s",
                              i, (int)dim, input->rank, input->rank, shape);
        if (input->dims[resolved] != 1)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "squeeze_dims entry %d names dimension %d of input shape %s, "
                              "which has size %d, not 1",
                              i, (int)resolved, shape, (int)input->dims[resolved]);
        squeezed[resolved] = true;
    }
    for (int d = 0; d < input->rank; d++) {
        bool remove = params->num_dims > 0 ? squeezed[d] : input->dims[d] == 1;

        if (!remove)
            dims[rank++] = input->dims[d];
    }

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32, rank,
                                  dims);
}

static verge_status verge_shape_copy_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    verge_tensor *output = verge_node_output(ctx, node, 0);

    /* memmove, because a memory planner may let the output share the input's memory. */
    if (output->bytes > 0 && output->data != input->data)
        memmove(output->data, input->data, output->bytes);
    return VERGE_OK;
}

const verge_kernel verge_expand_dims_kernel = {
    .op = VERGE_OP_EXPAND_DIMS,
    .dtypes = "float32",
    .prepare = verge_expand_dims_prepare,
    .invoke = verge_shape_copy_f32,
};

const verge_kernel verge_squeeze_kernel = {
    .op = VERGE_OP_SQUEEZE,
    .dtypes = "float32",
    .prepare = verge_squeeze_prepare,
    .invoke = verge_shape_copy_f32,
};
