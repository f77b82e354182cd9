/*
 * TRANSPOSE, float32 reference kernel: permutes the dimensions of a tensor.
 *
 * Input 0 is the data (float32, rank 0 to VERGE_MAX_RANK). Input 1 is the
 * permutation, a constant int32 or int64 vector of `rank` elements that
 * contains each of 0 .. rank-1 once (TFLite accepts no negative entries).
 * Output dimension d is input dimension perm[d], and
 * out[i0, ..., i(r-1)] = in[j] with j[perm[d]] = i[d].
 */
#include "core/core.h"
#include "ops/common.h"

/* Returns perm[i] from an int32 or int64 tensor. */
static int64_t perm_value(const verge_tensor *perm, int i)
{
    if (perm->dtype == VERGE_DTYPE_INT64)
        return ((const int64_t *)perm->data)[i];
    return ((const int32_t *)perm->data)[i];
}

static verge_status verge_transpose_prepare(verge_op_context *ctx, const verge_node *node)
{
    char shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input, *perm;
    bool used[VERGE_MAX_RANK] = {false};
    int32_t dims[VERGE_MAX_RANK];
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, 2, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "perm", &perm)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK)
        return status;

    if (perm->dtype != VERGE_DTYPE_INT32 && perm->dtype != VERGE_DTYPE_INT64)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (perm) is %s, expected int32 or int64",
                          verge_dtype_name(perm->dtype));
    if (perm->rank != 1 || perm->dims[0] != input->rank)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (perm) has shape %s, expected [%d] for an input of rank %d",
                          verge_shape_str(perm->dims, perm->rank, shape, sizeof(shape)),
                          input->rank, input->rank);
    if ((status = verge_ops_check_constant(perm, 1, "perm")) != VERGE_OK)
        return status;

    for (int d = 0; d < input->rank; d++) {
        int64_t source = perm_value(perm, d);

        if (source < 0 || source >= input->rank || used[source])
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 1 (perm) element %d is %lld, but a permutation of rank %d "
                              "contains each of 0 to %d once",
                              d, (long long)source, input->rank, input->rank - 1);
        used[source] = true;
        dims[d] = input->dims[source];
    }

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32,
                                  input->rank, dims);
}

static verge_status verge_transpose_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *perm = verge_node_input(ctx, node, 1);
    const verge_tensor *output_tensor = verge_node_output(ctx, node, 0);
    const float *input = input_tensor->data;
    float *output = output_tensor->data;
    const int rank = input_tensor->rank;
    const size_t count = verge_tensor_count(output_tensor);
    size_t in_stride[VERGE_MAX_RANK], stride[VERGE_MAX_RANK];
    int32_t index[VERGE_MAX_RANK] = {0};
    size_t offset = 0;

    if (rank == 0) {
        output[0] = input[0];
        return VERGE_OK;
    }

    in_stride[rank - 1] = 1;
    for (int d = rank - 2; d >= 0; d--)
        in_stride[d] = in_stride[d + 1] * (size_t)input_tensor->dims[d + 1];
    /* Stepping output dimension d moves through the input along dimension perm[d]. */
    for (int d = 0; d < rank; d++)
        stride[d] = in_stride[perm_value(perm, d)];

    for (size_t o = 0; o < count; o++) {
        output[o] = input[offset];

        for (int d = rank - 1; d >= 0; d--) {
            index[d]++;
            offset += stride[d];
            if (index[d] < output_tensor->dims[d])
                break;
            offset -= stride[d] * (size_t)output_tensor->dims[d];
            index[d] = 0;
        }
    }
    return VERGE_OK;
}

const verge_kernel verge_transpose_kernel = {
    .op = VERGE_OP_TRANSPOSE,
    .dtypes = "float32",
    .prepare = verge_transpose_prepare,
    .invoke = verge_transpose_f32,
};
