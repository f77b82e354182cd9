/*
 * MEAN and REDUCE_MAX, float32 reference kernels: reduce the input over a
 * set of axes.
 *
 * Input 0 is the data (float32, rank 0 to VERGE_MAX_RANK). Input 1 is the
 * axes, a constant int32 or int64 scalar or vector. Each axis lies in
 * [-rank, rank) and counts from the end when negative. Repeated axes count
 * once, and no axes at all leave the data as it is. With
 * node->params.reducer.keep_dims the output keeps the input's rank with
 * the reduced dimensions set to 1; without it they are removed (the output
 * is a scalar when every dimension is reduced).
 *
 * MEAN sums in double in input order and divides by the number of reduced
 * elements (an empty reduction gives 0); TFLite's reference kernel sums in
 * float32, so results may differ in the last bits. REDUCE_MAX starts from
 * -FLT_MAX, as TFLite's does, so NaN inputs are skipped.
 *
 * MEAN's prepare picks a fast path when the CPU has one and the reduced
 * dimensions are consecutive (src/ops/fast_misc.h). It gives the same bits
 * as this kernel.
 */
#include <float.h>
#include <stddef.h>

#include "core/core.h"
#include "ops/common.h"
#include "ops/fast_misc.h"

/* Returns element `i` of an int32 or int64 tensor. */
static int64_t axes_value(const verge_tensor *axes, size_t i)
{
    if (axes->dtype == VERGE_DTYPE_INT64)
        return ((const int64_t *)axes->data)[i];
    return ((const int32_t *)axes->data)[i];
}

/* Marks in reduced[0..rank) the input dimensions that the axes input names. */
static void reduce_axes_read(const verge_tensor *axes, int rank, bool reduced[VERGE_MAX_RANK])
{
    const size_t count = verge_tensor_count(axes);

    for (int d = 0; d < VERGE_MAX_RANK; d++)
        reduced[d] = false;
    for (size_t i = 0; i < count; i++) {
        int64_t axis = axes_value(axes, i);

        reduced[axis < 0 ? axis + rank : axis] = true;
    }
}

static verge_status verge_reduce_prepare(verge_op_context *ctx, const verge_node *node)
{
    char shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input, *axes;
    bool reduced[VERGE_MAX_RANK];
    int32_t dims[VERGE_MAX_RANK];
    int rank = 0;
    size_t count;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, 2, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "axes", &axes)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK)
        return status;

    if (axes->dtype != VERGE_DTYPE_INT32 && axes->dtype != VERGE_DTYPE_INT64)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (axes) is %s, expected int32 or int64",
                          verge_dtype_name(axes->dtype));
    if (axes->rank > 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (axes) has shape %s, expected a scalar or a vector",
                          verge_shape_str(axes->dims, axes->rank, shape, sizeof(shape)));
    if ((status = verge_ops_check_constant(axes, 1, "axes")) != VERGE_OK)
        return status;

    count = verge_tensor_count(axes);
    for (size_t i = 0; i < count; i++) {
        int64_t axis = axes_value(axes, i);

        if (axis < -input->rank || axis >= input->rank)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 1 (axes) element %zu is %lld, outside [-%d, %d) for input "
                              "shape %s",
                              i, (long long)axis, input->rank, input->rank,
                              verge_shape_str(input->dims, input->rank, shape, sizeof(shape)));
    }

    reduce_axes_read(axes, input->rank, reduced);
    for (int d = 0; d < input->rank; d++) {
        if (!reduced[d])
            dims[rank++] = input->dims[d];
        else if (node->params.reducer.keep_dims)
            dims[rank++] = 1;
    }

    status = verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32, rank,
                                    dims);
    if (status != VERGE_OK)
        return status;
    if (node->op == VERGE_OP_MEAN)
        verge_mean_fast_prepare(ctx, node, reduced);
    return VERGE_OK;
}

/* Advances a counter over the dimensions listed in dims[0..n) and returns the change in offset. */
static ptrdiff_t reduce_step(int32_t *index, const int *dims_list, int n, const int32_t *dims,
                             const size_t *stride)
{
    ptrdiff_t delta = 0;

    for (int k = n - 1; k >= 0; k--) {
        int d = dims_list[k];

        index[k]++;
        delta += (ptrdiff_t)stride[d];
        if (index[k] < dims[d])
            return delta;
        delta -= (ptrdiff_t)(stride[d] * (size_t)dims[d]);
        index[k] = 0;
    }
    return delta;
}

static verge_status verge_reduce_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *axes = verge_node_input(ctx, node, 1);
    const verge_tensor *output_tensor = verge_node_output(ctx, node, 0);
    const float *input = input_tensor->data;
    float *output = output_tensor->data;
    const int32_t *dims = input_tensor->dims;
    const int rank = input_tensor->rank;
    const size_t out_count = verge_tensor_count(output_tensor);
    const bool is_mean = node->op == VERGE_OP_MEAN;
    bool reduced[VERGE_MAX_RANK];
    size_t in_stride[VERGE_MAX_RANK];
    int kept_dims[VERGE_MAX_RANK], reduced_dims[VERGE_MAX_RANK];
    int32_t kept_index[VERGE_MAX_RANK] = {0};
    int num_kept = 0, num_reduced = 0;
    size_t stride = 1, reduced_count = 1, base = 0;

    if (ctx->node_data != NULL)
        return verge_mean_fast_invoke(ctx, node);
    if (verge_tensor_count(input_tensor) == 0) {
        for (size_t o = 0; o < out_count; o++)
            output[o] = is_mean ? 0.0f : -FLT_MAX;
        return VERGE_OK;
    }

    reduce_axes_read(axes, rank, reduced);
    for (int d = rank - 1; d >= 0; d--) {
        in_stride[d] = stride;
        stride *= (size_t)dims[d];
    }
    for (int d = 0; d < rank; d++) {
        if (reduced[d]) {
            reduced_dims[num_reduced++] = d;
            reduced_count *= (size_t)dims[d];
        } else {
            kept_dims[num_kept++] = d;
        }
    }

    /*
     * Each output element walks its reduced elements in input order. MEAN
     * sums in double, so long reductions (a 72x128 spatial mean) keep full
     * float32 accuracy.
     */
    for (size_t o = 0; o < out_count; o++) {
        int32_t reduced_index[VERGE_MAX_RANK] = {0};
        size_t offset = base;
        double sum = 0.0;
        float max = -FLT_MAX;

        for (size_t r = 0; r < reduced_count; r++) {
            float x = input[offset];

            if (is_mean)
                sum += x;
            else if (x > max)
                max = x;
            offset += (size_t)reduce_step(reduced_index, reduced_dims, num_reduced, dims,
                                          in_stride);
        }
        output[o] = is_mean ? (float)(sum / (double)reduced_count) : max;
        base += (size_t)reduce_step(kept_index, kept_dims, num_kept, dims, in_stride);
    }
    return VERGE_OK;
}

const verge_kernel verge_mean_kernel = {
    .op = VERGE_OP_MEAN,
    .dtypes = "float32",
    .prepare = verge_reduce_prepare,
    .invoke = verge_reduce_f32,
};

const verge_kernel verge_reduce_max_kernel = {
    .op = VERGE_OP_REDUCE_MAX,
    .dtypes = "float32",
    .prepare = verge_reduce_prepare,
    .invoke = verge_reduce_f32,
};
