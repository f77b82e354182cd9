/*
 * PAD, float32 reference kernel: surrounds the input with zeros.
 *
 * Input 0 is the tensor (float32, rank 0 to VERGE_MAX_RANK). Input 1 is the
 * paddings, a constant int32 or int64 tensor of shape [rank, 2] whose row d
 * gives the number of cells (>= 0) to add before and after dimension d.
 * Output dimension d is dims[d] + before + after.
 */
#include <string.h>

#include "core/core.h"
#include "ops/common.h"

/* Returns paddings[dim][side] (side 0: before, 1: after) from an int32 or int64 tensor. */
static int64_t pad_amount(const verge_tensor *paddings, int dim, int side)
{
    size_t i = (size_t)dim * 2 + (size_t)side;

    if (paddings->dtype == VERGE_DTYPE_INT64)
        return ((const int64_t *)paddings->data)[i];
    return ((const int32_t *)paddings->data)[i];
}

static verge_status verge_pad_prepare(verge_op_context *ctx, const verge_node *node)
{
    char shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input, *paddings;
    int32_t dims[VERGE_MAX_RANK];
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, 2, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "paddings", &paddings)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK)
        return status;

    if (paddings->dtype != VERGE_DTYPE_INT32 && paddings->dtype != VERGE_DTYPE_INT64)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (paddings) is %s, expected int32 or int64",
                          verge_dtype_name(paddings->dtype));
    if (paddings->rank != 2 || paddings->dims[0] != input->rank || paddings->dims[1] != 2)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (paddings) has shape %s, expected [%d,2] for an input of "
                          "rank %d",
                          verge_shape_str(paddings->dims, paddings->rank, shape, sizeof(shape)),
                          input->rank, input->rank);
    if ((status = verge_ops_check_constant(paddings, 1, "paddings")) != VERGE_OK)
        return status;

    for (int d = 0; d < input->rank; d++) {
        int64_t before = pad_amount(paddings, d, 0);
        int64_t after = pad_amount(paddings, d, 1);
        int64_t size;

        if (before < 0 || after < 0)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 1 (paddings) gives dimension %d the paddings [%lld,%lld]; "
                              "they must be >= 0",
                              d, (long long)before, (long long)after);
        /* The sum runs only with both paddings <= INT32_MAX, so it fits in int64. */
        if (before > INT32_MAX || after > INT32_MAX ||
            (size = input->dims[d] + before + after) > INT32_MAX)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 1 (paddings) grows dimension %d of size %d by [%lld,%lld], "
                              "beyond %d",
                              d, (int)input->dims[d], (long long)before, (long long)after,
                              INT32_MAX);
        dims[d] = (int32_t)size;
    }

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32,
                                  input->rank, dims);
}

static verge_status verge_pad_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *paddings = verge_node_input(ctx, node, 1);
    verge_tensor *output_tensor = verge_node_output(ctx, node, 0);
    const float *input = input_tensor->data;
    float *output = output_tensor->data;
    const int rank = input_tensor->rank;
    size_t out_strides[VERGE_MAX_RANK];
    size_t rows, row_length;

    if (output_tensor->bytes == 0)
        return VERGE_OK;

    /* All-zero bytes are +0.0f, so one memset writes every padding cell. */
    memset(output, 0, output_tensor->bytes);
    if (rank == 0) {
        output[0] = input[0];
        return VERGE_OK;
    }

    out_strides[rank - 1] = 1;
    for (int d = rank - 2; d >= 0; d--)
        out_strides[d] = out_strides[d + 1] * (size_t)output_tensor->dims[d + 1];

    /* Copy the input one innermost row at a time to its place inside the output. */
    rows = verge_ops_dims_product(input_tensor->dims, 0, rank - 1);
    row_length = (size_t)input_tensor->dims[rank - 1];
    if (row_length == 0)
        return VERGE_OK;
    for (size_t row = 0; row < rows; row++) {
        size_t offset = (size_t)pad_amount(paddings, rank - 1, 0);
        size_t rest = row;

        for (int d = rank - 2; d >= 0; d--) {
            size_t index = rest % (size_t)input_tensor->dims[d];

            rest /= (size_t)input_tensor->dims[d];
            offset += (index + (size_t)pad_amount(paddings, d, 0)) * out_strides[d];
        }
        memcpy(output + offset, input + row * row_length, row_length * sizeof(float));
    }
    return VERGE_OK;
}

const verge_kernel verge_pad_kernel = {
    .op = VERGE_OP_PAD,
    .dtypes = "float32",
    .prepare = verge_pad_prepare,
    .invoke = verge_pad_f32,
};
