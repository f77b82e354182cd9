/*
 * RESHAPE, for every dtype with a fixed element size: the same elements in
 * the same order under a new shape.
 *
 * The target shape comes, as in TFLite, from input 1 when it is an int32
 * vector, otherwise from the new_shape option. A legacy option of [0] means
 * a scalar. One dimension may be -1, inferred so that the element count
 * stays the same, and every other dimension must be >= 0.
 */
#include <string.h>

#include "core/core.h"
#include "ops/common.h"

/*
 * Stores the requested shape, which may contain one -1, in *rank and dims.
 * A shape input that is an int32 vector takes precedence over the option.
 * When that input is computed at run time, the option is used if the file
 * has one.
 */
static verge_status reshape_target(verge_op_context *ctx, const verge_node *node, int *rank,
                                   int32_t dims[VERGE_MAX_RANK])
{
    const verge_reshape_params *params = &node->params.reshape;
    const verge_tensor *shape = node->num_inputs > 1 ? verge_node_input(ctx, node, 1) : NULL;
    bool shape_is_vector = shape != NULL && shape->rank == 1 && shape->dtype == VERGE_DTYPE_INT32;
    verge_status status;

    if (shape_is_vector && (shape->storage == VERGE_STORAGE_CONSTANT || !params->has_shape)) {
        if ((status = verge_ops_check_constant(shape, 1, "shape")) != VERGE_OK)
            return status;
        if (shape->dims[0] > VERGE_MAX_RANK)
            return verge_fail(VERGE_STATUS_UNSUPPORTED,
                              "input 1 (shape) has %d elements, but tensors have at most %d "
                              "dimensions",
                              (int)shape->dims[0], VERGE_MAX_RANK);
        *rank = shape->dims[0];
        memcpy(dims, shape->data, sizeof(int32_t) * (size_t)*rank);
        return VERGE_OK;
    }

    if (!params->has_shape)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "has neither an int32 vector as input 1 (shape) nor a new_shape option");
    if (params->rank < 0 || params->rank > VERGE_MAX_RANK)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "new_shape has %d dimensions, expected 0 to %d", params->rank,
                          VERGE_MAX_RANK);

    /* Old converters wrote [0] for a scalar. */
    *rank = params->rank == 1 && params->shape[0] == 0 ? 0 : params->rank;
    memcpy(dims, params->shape, sizeof(int32_t) * (size_t)*rank);
    return VERGE_OK;
}

static verge_status verge_reshape_prepare(verge_op_context *ctx, const verge_node *node)
{
    char requested[VERGE_SHAPE_STR_SIZE], input_shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input;
    int32_t dims[VERGE_MAX_RANK];
    int rank = 0, inferred = -1;
    size_t known = 1, count;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 1, 2, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = reshape_target(ctx, node, &rank, dims)) != VERGE_OK)
        return status;
    if (verge_dtype_size(input->dtype) == 0)
        return verge_fail(VERGE_STATUS_UNSUPPORTED, "input 0 (input) has dtype %s, which has no "
                          "fixed element size", verge_dtype_name(input->dtype));

    verge_shape_str(dims, rank, requested, sizeof(requested));
    verge_shape_str(input->dims, input->rank, input_shape, sizeof(input_shape));
    count = verge_tensor_count(input);

    for (int d = 0; d < rank; d++) {
        if (dims[d] == -1 && inferred < 0) {
            inferred = d;
            continue;
        }
        if (dims[d] < 0)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "target shape %s has dimension %d = %d; only one -1 is allowed "
                              "and other dimensions must be >= 0",
                              requested, d, (int)dims[d]);
        if (!verge_size_mul(known, (size_t)dims[d], &known))
            return verge_fail(VERGE_STATUS_INVALID_MODEL, "target shape %s is too large",
                              requested);
    }

    if (inferred >= 0) {
        if (known == 0 || count % known != 0 || count / known > INT32_MAX)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "cannot infer the -1 in target shape %s from input shape %s "
                              "(%zu elements)",
                              requested, input_shape, count);
        dims[inferred] = (int32_t)(count / known);
        known = count;
    }
    if (known != count)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "target shape %s has %zu elements, but input shape %s has %zu",
                          requested, known, input_shape, count);

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), input->dtype, rank, dims);
}

static verge_status verge_reshape_any(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    verge_tensor *output = verge_node_output(ctx, node, 0);

    /* memmove, because a memory planner may let the output overlap the input. */
    if (output->bytes > 0 && output->data != input->data)
        memmove(output->data, input->data, output->bytes);
    return VERGE_OK;
}

const verge_kernel verge_reshape_kernel = {
    .op = VERGE_OP_RESHAPE,
    .dtypes = "any fixed-size type",
    .prepare = verge_reshape_prepare,
    .invoke = verge_reshape_any,
};
