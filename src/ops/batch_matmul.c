/*
 * BATCH_MATMUL, float32 reference kernel: a matrix product for every index
 * of the leading (batch) dimensions.
 *
 * Layouts (TFLite):
 *   x       [..., M, K], or [..., K, M] with adj_x (read transposed)
 *   y       [..., K, N], or [..., N, K] with adj_y (read transposed)
 *   output  [..., M, N]
 *
 * Both inputs have rank 2 to VERGE_MAX_RANK. Their batch dimensions (all
 * but the last two) broadcast as in NumPy, so a [K,N] weight matrix
 * multiplies every matrix of a [B,M,K] input, and the output's batch
 * dimensions are the broadcast shape. adj_x and adj_y come from
 * node->params.batch_matmul. Sums run over k in ascending order.
 */
#include "core/core.h"
#include "ops/common.h"

/* A tensor's batch dimensions as a tensor of rank - 2, for the broadcast helpers. */
static verge_tensor batch_view(const verge_tensor *tensor)
{
    verge_tensor view = {.name = tensor->name, .dtype = tensor->dtype, .rank = tensor->rank - 2};

    for (int d = 0; d < view.rank; d++)
        view.dims[d] = tensor->dims[d];
    return view;
}

static verge_status verge_batch_matmul_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_batch_matmul_params *params = &node->params.batch_matmul;
    char x_shape[VERGE_SHAPE_STR_SIZE], y_shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *x, *y;
    verge_tensor x_batch, y_batch;
    int32_t dims[VERGE_MAX_RANK];
    int32_t m, k_x, k_y, n;
    int rank;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, 2, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "x", &x)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "y", &y)) != VERGE_OK ||
        (status = verge_ops_check_float32(x, 0, "x")) != VERGE_OK ||
        (status = verge_ops_check_float32(y, 1, "y")) != VERGE_OK)
        return status;

    verge_shape_str(x->dims, x->rank, x_shape, sizeof(x_shape));
    verge_shape_str(y->dims, y->rank, y_shape, sizeof(y_shape));
    if (x->rank < 2 || y->rank < 2)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "inputs have shapes %s and %s; both need rank 2 or more", x_shape,
                          y_shape);

    m = params->adj_x ? x->dims[x->rank - 1] : x->dims[x->rank - 2];
    k_x = params->adj_x ? x->dims[x->rank - 2] : x->dims[x->rank - 1];
    k_y = params->adj_y ? y->dims[y->rank - 1] : y->dims[y->rank - 2];
    n = params->adj_y ? y->dims[y->rank - 2] : y->dims[y->rank - 1];
    if (k_x != k_y)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input shapes %s (adj_x %s) and %s (adj_y %s) do not multiply: %d "
                          "columns against %d rows",
                          x_shape, params->adj_x ? "true" : "false", y_shape,
                          params->adj_y ? "true" : "false", (int)k_x, (int)k_y);

    x_batch = batch_view(x);
    y_batch = batch_view(y);
    if ((status = verge_ops_broadcast_shape(&x_batch, &y_batch, &rank, dims)) != VERGE_OK)
        return verge_fail_prefix(status, "batch dimensions of %s and %s", x_shape, y_shape);
    dims[rank] = m;
    dims[rank + 1] = n;

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32, rank + 2,
                                  dims);
}

static verge_status verge_batch_matmul_f32(verge_op_context *ctx, const verge_node *node)
{
    const bool adj_x = node->params.batch_matmul.adj_x;
    const bool adj_y = node->params.batch_matmul.adj_y;
    const verge_tensor *x_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *y_tensor = verge_node_input(ctx, node, 1);
    const verge_tensor *out_tensor = verge_node_output(ctx, node, 0);
    const float *x = x_tensor->data;
    const float *y = y_tensor->data;
    float *out = out_tensor->data;
    const int batch_rank = out_tensor->rank - 2;
    const size_t m = (size_t)out_tensor->dims[batch_rank];
    const size_t n = (size_t)out_tensor->dims[batch_rank + 1];
    const size_t k = (size_t)(adj_x ? x_tensor->dims[x_tensor->rank - 2]
                                    : x_tensor->dims[x_tensor->rank - 1]);
    const size_t batches = verge_ops_dims_product(out_tensor->dims, 0, batch_rank);
    const verge_tensor x_batch = batch_view(x_tensor);
    const verge_tensor y_batch = batch_view(y_tensor);
    size_t x_stride[VERGE_MAX_RANK], y_stride[VERGE_MAX_RANK];
    int32_t index[VERGE_MAX_RANK] = {0};
    size_t x_offset = 0, y_offset = 0;

    /* Strides count whole matrices; a broadcast batch dimension has stride 0. */
    verge_ops_broadcast_strides(&x_batch, batch_rank, out_tensor->dims, x_stride);
    verge_ops_broadcast_strides(&y_batch, batch_rank, out_tensor->dims, y_stride);

    for (size_t batch = 0; batch < batches; batch++) {
        const float *xm = x + x_offset * m * k;
        const float *ym = y + y_offset * k * n;
        float *om = out + batch * m * n;

        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < n; j++) {
                float sum = 0.0f;

                for (size_t p = 0; p < k; p++) {
                    float a = adj_x ? xm[p * m + i] : xm[i * k + p];
                    float b = adj_y ? ym[j * k + p] : ym[p * n + j];

                    sum += a * b;
                }
                om[i * n + j] = sum;
            }
        }

        for (int d = batch_rank - 1; d >= 0; d--) {
            index[d]++;
            x_offset += x_stride[d];
            y_offset += y_stride[d];
            if (index[d] < out_tensor->dims[d])
                break;
            x_offset -= x_stride[d] * (size_t)out_tensor->dims[d];
            y_offset -= y_stride[d] * (size_t)out_tensor->dims[d];
            index[d] = 0;
        }
    }
    return VERGE_OK;
}

const verge_kernel verge_batch_matmul_kernel = {
    .op = VERGE_OP_BATCH_MATMUL,
    .dtypes = "float32",
    .prepare = verge_batch_matmul_prepare,
    .invoke = verge_batch_matmul_f32,
};
