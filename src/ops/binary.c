/*
 * Element-wise operators of two broadcast inputs, float32 reference kernels:
 *
 *   SUB            activation(a - b)
 *   MUL            activation(a * b)
 *   MAXIMUM        a > b ? a : b      (a NaN in `a` gives b, as TFLite's kernel does)
 *   MINIMUM        a < b ? a : b      (likewise)
 *   PRELU          a >= 0 ? a : a * alpha, with input 1 as alpha
 *   GREATER_EQUAL  a >= b, on float32, int32 or int64 inputs of one dtype;
 *                  the output is bool, one byte holding 0 or 1
 *
 * The inputs broadcast as in NumPy and TFLite (see verge_ops_broadcast_shape):
 * shapes align at the last dimension, and a missing or size-1 dimension
 * repeats along the other input's, so a rank-1 alpha or bias broadcasts
 * against a rank-4 activation. The output has the broadcast shape.
 * SUB and MUL read the fused activation from node->params.activation.
 * Prepare picks a bit-identical fast path for SUB, MUL, MAXIMUM and MINIMUM
 * when the CPU has one and the broadcast is simple (src/ops/fast.h).
 */
#include "core/core.h"
#include "ops/common.h"
#include "ops/fast.h"

/*
 * An iterator over the output's rows (its last dimension). Each row reads
 * `length` elements of a and b, `step_a` and `step_b` apart (0 where that
 * input repeats along the row, 1 otherwise), starting at offset_a and
 * offset_b.
 */
typedef struct binary_rows {
    int rank;
    const int32_t *dims;
    size_t stride_a[VERGE_MAX_RANK], stride_b[VERGE_MAX_RANK];
    int32_t index[VERGE_MAX_RANK];
    size_t rows, length, step_a, step_b;
    size_t offset_a, offset_b;
} binary_rows;

static void binary_rows_init(binary_rows *it, const verge_tensor *a, const verge_tensor *b,
                             const verge_tensor *out)
{
    const int rank = out->rank;

    it->rank = rank;
    it->dims = out->dims;
    verge_ops_broadcast_strides(a, rank, out->dims, it->stride_a);
    verge_ops_broadcast_strides(b, rank, out->dims, it->stride_b);
    for (int d = 0; d < VERGE_MAX_RANK; d++)
        it->index[d] = 0;
    it->length = rank > 0 ? (size_t)out->dims[rank - 1] : 1;
    it->step_a = rank > 0 ? it->stride_a[rank - 1] : 0;
    it->step_b = rank > 0 ? it->stride_b[rank - 1] : 0;
    it->rows = it->length > 0 ? verge_tensor_count(out) / it->length : 0;
    it->offset_a = 0;
    it->offset_b = 0;
}

/* Moves both input offsets to the start of the next row, stepping the outer index like an odometer. */
static void binary_rows_next(binary_rows *it)
{
    for (int d = it->rank - 2; d >= 0; d--) {
        it->index[d]++;
        it->offset_a += it->stride_a[d];
        it->offset_b += it->stride_b[d];
        if (it->index[d] < it->dims[d])
            return;
        it->offset_a -= it->stride_a[d] * (size_t)it->dims[d];
        it->offset_b -= it->stride_b[d] * (size_t)it->dims[d];
        it->index[d] = 0;
    }
}

/* Checks for two inputs and one output and stores the inputs and their broadcast shape. */
static verge_status binary_prepare_inputs(verge_op_context *ctx, const verge_node *node,
                                          const char *role_a, const char *role_b,
                                          verge_tensor **a, verge_tensor **b, int *rank,
                                          int32_t dims[VERGE_MAX_RANK])
{
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, 2, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, role_a, a)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, role_b, b)) != VERGE_OK)
        return status;
    return verge_ops_broadcast_shape(*a, *b, rank, dims);
}

static verge_status binary_float_prepare(verge_op_context *ctx, const verge_node *node,
                                         const char *role_a, const char *role_b,
                                         bool fused_activation)
{
    verge_tensor *a, *b;
    int32_t dims[VERGE_MAX_RANK];
    int rank;
    verge_status status;

    if ((status = binary_prepare_inputs(ctx, node, role_a, role_b, &a, &b, &rank, dims)) !=
            VERGE_OK ||
        (status = verge_ops_check_float32(a, 0, role_a)) != VERGE_OK ||
        (status = verge_ops_check_float32(b, 1, role_b)) != VERGE_OK)
        return status;
    if (fused_activation &&
        (status = verge_ops_check_activation(node->params.activation.activation)) != VERGE_OK)
        return status;

    status = verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32, rank,
                                    dims);
    return status == VERGE_OK ? verge_binary_fast_prepare(ctx, node) : status;
}

static verge_status verge_sub_mul_prepare(verge_op_context *ctx, const verge_node *node)
{
    return binary_float_prepare(ctx, node, "a", "b", true);
}

static verge_status verge_maximum_minimum_prepare(verge_op_context *ctx, const verge_node *node)
{
    return binary_float_prepare(ctx, node, "a", "b", false);
}

static verge_status verge_prelu_prepare(verge_op_context *ctx, const verge_node *node)
{
    return binary_float_prepare(ctx, node, "input", "alpha", false);
}

/* Computes one output row of a float32 operator, so the switch runs once per row. */
static void binary_row_f32(int op, verge_activation activation, const float *a, size_t step_a,
                           const float *b, size_t step_b, float *out, size_t length)
{
    switch (op) {
    case VERGE_OP_SUB:
        for (size_t i = 0; i < length; i++)
            out[i] = verge_activate(a[i * step_a] - b[i * step_b], activation);
        break;
    case VERGE_OP_MUL:
        for (size_t i = 0; i < length; i++)
            out[i] = verge_activate(a[i * step_a] * b[i * step_b], activation);
        break;
    case VERGE_OP_MAXIMUM:
        for (size_t i = 0; i < length; i++) {
            float x = a[i * step_a], y = b[i * step_b];

            out[i] = x > y ? x : y;
        }
        break;
    case VERGE_OP_MINIMUM:
        for (size_t i = 0; i < length; i++) {
            float x = a[i * step_a], y = b[i * step_b];

            out[i] = x < y ? x : y;
        }
        break;
    case VERGE_OP_PRELU:
        for (size_t i = 0; i < length; i++) {
            float x = a[i * step_a];

            out[i] = x >= 0.0f ? x : x * b[i * step_b];
        }
        break;
    }
}

static verge_status binary_run_f32(verge_op_context *ctx, const verge_node *node,
                                   verge_activation activation)
{
    const verge_tensor *a_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *b_tensor = verge_node_input(ctx, node, 1);
    verge_tensor *out_tensor = verge_node_output(ctx, node, 0);
    const float *a = a_tensor->data;
    const float *b = b_tensor->data;
    float *out = out_tensor->data;
    binary_rows it;

    if (ctx->node_data != NULL)
        return verge_elementwise_fast_invoke(ctx, node);
    binary_rows_init(&it, a_tensor, b_tensor, out_tensor);
    for (size_t row = 0; row < it.rows; row++) {
        binary_row_f32(node->op, activation, a + it.offset_a, it.step_a, b + it.offset_b,
                       it.step_b, out + row * it.length, it.length);
        binary_rows_next(&it);
    }
    return VERGE_OK;
}

static verge_status verge_sub_mul_f32(verge_op_context *ctx, const verge_node *node)
{
    return binary_run_f32(ctx, node, node->params.activation.activation);
}

static verge_status verge_binary_f32(verge_op_context *ctx, const verge_node *node)
{
    return binary_run_f32(ctx, node, VERGE_ACT_NONE);
}

static verge_status verge_greater_equal_prepare(verge_op_context *ctx, const verge_node *node)
{
    verge_tensor *a, *b;
    int32_t dims[VERGE_MAX_RANK];
    int rank;
    verge_status status;

    if ((status = binary_prepare_inputs(ctx, node, "a", "b", &a, &b, &rank, dims)) != VERGE_OK)
        return status;
    if (a->dtype != VERGE_DTYPE_FLOAT32 && a->dtype != VERGE_DTYPE_INT32 &&
        a->dtype != VERGE_DTYPE_INT64)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "input 0 (a) is %s, but this build compares only float32, int32 and "
                          "int64 here",
                          verge_dtype_name(a->dtype));
    if (b->dtype != a->dtype)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (b) is %s, but input 0 (a) is %s; both must have one dtype",
                          verge_dtype_name(b->dtype), verge_dtype_name(a->dtype));

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_BOOL, rank, dims);
}

static verge_status verge_greater_equal_run(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *a_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *b_tensor = verge_node_input(ctx, node, 1);
    verge_tensor *out_tensor = verge_node_output(ctx, node, 0);
    const verge_dtype dtype = a_tensor->dtype;
    uint8_t *out = out_tensor->data;
    binary_rows it;

    binary_rows_init(&it, a_tensor, b_tensor, out_tensor);
    for (size_t row = 0; row < it.rows; row++) {
        uint8_t *out_row = out + row * it.length;

        if (dtype == VERGE_DTYPE_FLOAT32) {
            const float *a = (const float *)a_tensor->data + it.offset_a;
            const float *b = (const float *)b_tensor->data + it.offset_b;

            for (size_t i = 0; i < it.length; i++)
                out_row[i] = a[i * it.step_a] >= b[i * it.step_b];
        } else if (dtype == VERGE_DTYPE_INT32) {
            const int32_t *a = (const int32_t *)a_tensor->data + it.offset_a;
            const int32_t *b = (const int32_t *)b_tensor->data + it.offset_b;

            for (size_t i = 0; i < it.length; i++)
                out_row[i] = a[i * it.step_a] >= b[i * it.step_b];
        } else {
            const int64_t *a = (const int64_t *)a_tensor->data + it.offset_a;
            const int64_t *b = (const int64_t *)b_tensor->data + it.offset_b;

            for (size_t i = 0; i < it.length; i++)
                out_row[i] = a[i * it.step_a] >= b[i * it.step_b];
        }
        binary_rows_next(&it);
    }
    return VERGE_OK;
}

const verge_kernel verge_sub_kernel = {
    .op = VERGE_OP_SUB,
    .dtypes = "float32",
    .prepare = verge_sub_mul_prepare,
    .invoke = verge_sub_mul_f32,
};

const verge_kernel verge_mul_kernel = {
    .op = VERGE_OP_MUL,
    .dtypes = "float32",
    .prepare = verge_sub_mul_prepare,
    .invoke = verge_sub_mul_f32,
};

const verge_kernel verge_maximum_kernel = {
    .op = VERGE_OP_MAXIMUM,
    .dtypes = "float32",
    .prepare = verge_maximum_minimum_prepare,
    .invoke = verge_binary_f32,
};

const verge_kernel verge_minimum_kernel = {
    .op = VERGE_OP_MINIMUM,
    .dtypes = "float32",
    .prepare = verge_maximum_minimum_prepare,
    .invoke = verge_binary_f32,
};

const verge_kernel verge_prelu_kernel = {
    .op = VERGE_OP_PRELU,
    .dtypes = "float32",
    .prepare = verge_prelu_prepare,
    .invoke = verge_binary_f32,
};

const verge_kernel verge_greater_equal_kernel = {
    .op = VERGE_OP_GREATER_EQUAL,
    .dtypes = "float32, int32, int64",
    .prepare = verge_greater_equal_prepare,
    .invoke = verge_greater_equal_run,
};
