#include <string.h>

#include "core/core.h"
#include "ops/common.h"

verge_status verge_tensor_set_shape(verge_tensor *tensor, verge_dtype dtype, int rank,
                                    const int32_t *dims)
{
    char shape[VERGE_SHAPE_STR_SIZE];
    size_t bytes = verge_dtype_size(dtype);

    if (rank < 0 || rank > VERGE_MAX_RANK)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "tensor '%s': rank %d is outside 0..%d", tensor->name, rank,
                          VERGE_MAX_RANK);
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "tensor '%s': shape %s has a negative dimension", tensor->name,
                              verge_shape_str(dims, rank, shape, sizeof(shape)));
        if (!verge_size_mul(bytes, (size_t)dims[i], &bytes))
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "tensor '%s': shape %s of %s is too large to address",
                              tensor->name, verge_shape_str(dims, rank, shape, sizeof(shape)),
                              verge_dtype_name(dtype));
    }

    /* Everything is checked, so a failure above leaves the tensor untouched. */
    tensor->dtype = dtype;
    tensor->rank = rank;
    for (int i = 0; i < VERGE_MAX_RANK; i++)
        tensor->dims[i] = i < rank ? dims[i] : 0;
    tensor->bytes = bytes;
    return VERGE_OK;
}

verge_status verge_ops_check_arity(const verge_node *node, int min_inputs, int max_inputs,
                                   int num_outputs)
{
    if (node->num_inputs < min_inputs || node->num_inputs > max_inputs) {
        if (min_inputs == max_inputs)
            return verge_fail(VERGE_STATUS_INVALID_MODEL, "has %d inputs, expected %d",
                              node->num_inputs, min_inputs);
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "has %d inputs, expected %d to %d",
                          node->num_inputs, min_inputs, max_inputs);
    }
    if (node->num_outputs != num_outputs)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "has %d outputs, expected %d",
                          node->num_outputs, num_outputs);
    return VERGE_OK;
}

verge_status verge_ops_require_input(verge_op_context *ctx, const verge_node *node, int index,
                                     const char *role, verge_tensor **tensor)
{
    *tensor = verge_node_input(ctx, node, index);
    if (*tensor == NULL)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "input %d (%s) is missing", index, role);
    return VERGE_OK;
}

verge_status verge_ops_check_float32(const verge_tensor *tensor, int index, const char *role)
{
    if (tensor->dtype != VERGE_DTYPE_FLOAT32)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "input %d (%s) is %s, but this build implements only float32 here",
                          index, role, verge_dtype_name(tensor->dtype));
    return VERGE_OK;
}

verge_status verge_ops_check_rank(const verge_tensor *tensor, int index, const char *role,
                                  int rank)
{
    char shape[VERGE_SHAPE_STR_SIZE];

    if (tensor->rank != rank)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input %d (%s) has shape %s of rank %d, expected rank %d", index, role,
                          verge_shape_str(tensor->dims, tensor->rank, shape, sizeof(shape)),
                          tensor->rank, rank);
    return VERGE_OK;
}

verge_status verge_ops_check_constant(const verge_tensor *tensor, int index, const char *role)
{
    size_t bytes;

    if (tensor->storage != VERGE_STORAGE_CONSTANT || tensor->data == NULL)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "input %d (%s) is tensor '%s', which is computed at run time; this "
                          "build needs a constant there",
                          index, role, tensor->name);
    if (!verge_size_mul(verge_tensor_count(tensor), verge_dtype_size(tensor->dtype), &bytes) ||
        tensor->bytes < bytes)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input %d (%s) is constant tensor '%s' with %zu bytes of data, too "
                          "few for its shape",
                          index, role, tensor->name, tensor->bytes);
    return VERGE_OK;
}

const char *verge_ops_activation_name(verge_activation activation)
{
    switch (activation) {
    case VERGE_ACT_NONE: return "NONE";
    case VERGE_ACT_RELU: return "RELU";
    case VERGE_ACT_RELU_N1_TO_1: return "RELU_N1_TO_1";
    case VERGE_ACT_RELU6: return "RELU6";
    case VERGE_ACT_TANH: return "TANH";
    case VERGE_ACT_SIGN_BIT: return "SIGN_BIT";
    }
    return "unknown";
}

verge_status verge_ops_check_activation(verge_activation activation)
{
    switch (activation) {
    case VERGE_ACT_NONE:
    case VERGE_ACT_RELU:
    case VERGE_ACT_RELU_N1_TO_1:
    case VERGE_ACT_RELU6:
    case VERGE_ACT_TANH:
        return VERGE_OK;
    case VERGE_ACT_SIGN_BIT:
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "fused activation SIGN_BIT is not defined for this operator");
    }
    return verge_fail(VERGE_STATUS_INVALID_MODEL,
                      "fused activation %d is not a TFLite activation type (0 to 5)",
                      (int)activation);
}

verge_status verge_ops_check_factor(const char *name, int value)
{
    if (value < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "%s is %d, expected at least 1", name,
                          value);
    return VERGE_OK;
}

void verge_ops_window(verge_padding padding, int32_t in, int32_t filter, int stride,
                      int dilation, int64_t *out_size, int64_t *pad_before)
{
    int64_t effective = ((int64_t)filter - 1) * dilation + 1;
    int64_t out;
    int64_t total;

    if (padding == VERGE_PADDING_SAME)
        out = ((int64_t)in + stride - 1) / stride;
    else
        out = ((int64_t)in - effective + stride) / stride;

    total = (out - 1) * stride + effective - in;
    *out_size = out;
    *pad_before = total > 0 ? total / 2 : 0;
}

verge_status verge_ops_window_checked(verge_padding padding, int32_t in, int32_t filter,
                                      int stride, int dilation, const char *axis,
                                      int32_t *out_size, int32_t *pad_before)
{
    int64_t out;
    int64_t pad;

    if (padding != VERGE_PADDING_SAME && padding != VERGE_PADDING_VALID)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "padding %d is neither SAME (0) nor VALID (1)", (int)padding);
    if (stride < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "stride along %s is %d, expected >= 1",
                          axis, stride);
    if (dilation < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "dilation along %s is %d, expected >= 1",
                          axis, dilation);
    if (filter < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "filter %s is %d, expected >= 1", axis,
                          (int)filter);

    if (((int64_t)filter - 1) * dilation + 1 > INT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "filter %s %d with dilation %d spans more than %d cells", axis,
                          (int)filter, dilation, INT32_MAX);

    verge_ops_window(padding, in, filter, stride, dilation, &out, &pad);
    if (out < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "the output %s is %lld: filter %s %d (dilation %d) over input %s %d "
                          "with %s padding",
                          axis, (long long)out, axis, (int)filter, dilation, axis, (int)in,
                          padding == VERGE_PADDING_SAME ? "SAME" : "VALID");
    if (pad > INT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "SAME padding along %s needs %lld cells, too many to address", axis,
                          (long long)pad);
    *out_size = (int32_t)out;
    *pad_before = (int32_t)pad;
    return VERGE_OK;
}

void verge_ops_conv_window(const verge_conv_params *params, bool height, int32_t in,
                           int32_t filter, int64_t *out_size, int64_t *pad_before)
{
    const int before = height ? params->pad_top : params->pad_left;
    const int after = height ? params->pad_bottom : params->pad_right;

    verge_ops_window(params->padding, (int32_t)((int64_t)in + before + after), filter,
                     height ? params->stride_h : params->stride_w,
                     height ? params->dilation_h : params->dilation_w, out_size, pad_before);
    *pad_before += before;
}

verge_status verge_ops_conv_window_checked(const verge_conv_params *params, bool height,
                                           int32_t in, int32_t filter, int32_t *out_size,
                                           int32_t *pad_before)
{
    const char *axis = height ? "height" : "width";
    const int before = height ? params->pad_top : params->pad_left;
    const int after = height ? params->pad_bottom : params->pad_right;
    const int64_t padded = (int64_t)in + before + after;
    int32_t pad;
    verge_status status;

    if (before < 0 || after < 0)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "explicit padding along %s is %d before and %d after, expected >= 0",
                          axis, before, after);
    if (padded > INT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input %s %d with %d + %d cells of explicit padding is too large", axis,
                          (int)in, before, after);

    status = verge_ops_window_checked(params->padding, (int32_t)padded, filter,
                                      height ? params->stride_h : params->stride_w,
                                      height ? params->dilation_h : params->dilation_w, axis,
                                      out_size, &pad);
    if (status != VERGE_OK)
        return status;
    if ((int64_t)pad + before > INT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "padding along %s needs %lld cells, too many to address", axis,
                          (long long)pad + before);
    *pad_before = pad + before;
    return VERGE_OK;
}

verge_status verge_ops_broadcast_shape(const verge_tensor *a, const verge_tensor *b, int *rank,
                                       int32_t dims[VERGE_MAX_RANK])
{
    char shape_a[VERGE_SHAPE_STR_SIZE];
    char shape_b[VERGE_SHAPE_STR_SIZE];
    int out_rank = a->rank > b->rank ? a->rank : b->rank;

    for (int i = 0; i < out_rank; i++) {
        /* Dimension i of the output aligns with dimension i - (out_rank - rank) of each input. */
        int ia = i - (out_rank - a->rank);
        int ib = i - (out_rank - b->rank);
        int32_t da = ia >= 0 ? a->dims[ia] : 1;
        int32_t db = ib >= 0 ? b->dims[ib] : 1;

        if (da == db || db == 1)
            dims[i] = da;
        else if (da == 1)
            dims[i] = db;
        else
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input shapes %s and %s do not broadcast: dimension %d is %d "
                              "against %d",
                              verge_shape_str(a->dims, a->rank, shape_a, sizeof(shape_a)),
                              verge_shape_str(b->dims, b->rank, shape_b, sizeof(shape_b)), i,
                              (int)da, (int)db);
    }
    *rank = out_rank;
    return VERGE_OK;
}

void verge_ops_broadcast_strides(const verge_tensor *tensor, int rank,
                                 const int32_t dims[VERGE_MAX_RANK],
                                 size_t strides[VERGE_MAX_RANK])
{
    size_t stride = 1;

    for (int i = rank - 1; i >= 0; i--) {
        int own = i - (rank - tensor->rank);
        int32_t dim = own >= 0 ? tensor->dims[own] : 1;

        strides[i] = dim == 1 && dims[i] != 1 ? 0 : stride;
        stride *= (size_t)dim;
    }
}

size_t verge_ops_dims_product(const int32_t *dims, int begin, int end)
{
    size_t product = 1;

    for (int i = begin; i < end; i++)
        product *= (size_t)dims[i];
    return product;
}
