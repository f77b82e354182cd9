/*
 * FULLY_CONNECTED, float32 reference kernel:
 *
 *     out[b][u] = activation(sum_k in[b][k] * weights[u][k] + bias[u])
 *
 * Layouts (TFLite, DEFAULT weights format):
 *   input    any shape whose element count is a multiple of `depth`; it is
 *            read as [batches, depth] in row-major order
 *   weights  [units, depth]
 *   bias     optional (input 2 absent or VERGE_NO_TENSOR), `units` elements
 *            of any shape
 *   output   [batches, units]; with keep_num_dims, the input's shape with
 *            the last dimension replaced by units (the input's last
 *            dimension must then be depth)
 *
 * Parameters come from node->params.fully_connected. The SHUFFLED4x16INT8
 * weights format (int8 weights only) is rejected as unsupported, and so are
 * quantized weights with float32 input (TFLite's hybrid mode).
 *
 * The sum runs over k in order and the bias is added last, as in TFLite's
 * reference kernel. With a thread pool, units are split among the threads;
 * each output is computed the same way in any split. Prepare also packs the
 * weights for a fast path (src/ops/fast.h) when one fits; invoke then runs
 * that instead.
 */
#include "core/core.h"
#include "ops/common.h"
#include "ops/fast.h"
#include "ops/parallel.h"

static verge_status fully_connected_check(verge_op_context *ctx, const verge_node *node)
{
    const verge_fully_connected_params *params = &node->params.fully_connected;
    char shape[VERGE_SHAPE_STR_SIZE], weights_shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input, *weights, *bias;
    int32_t dims[VERGE_MAX_RANK];
    int32_t units, depth;
    size_t count, batches;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, 3, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "weights", &weights)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK ||
        (status = verge_ops_check_float32(weights, 1, "weights")) != VERGE_OK ||
        (status = verge_ops_check_rank(weights, 1, "weights", 2)) != VERGE_OK ||
        (status = verge_ops_check_activation(params->activation)) != VERGE_OK)
        return status;

    if (params->weights_format == VERGE_FULLY_CONNECTED_WEIGHTS_SHUFFLED4X16INT8)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "weights_format SHUFFLED4x16INT8 is not supported; this build reads "
                          "only the DEFAULT format");
    if (params->weights_format != VERGE_FULLY_CONNECTED_WEIGHTS_DEFAULT)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "weights_format %d is not a TFLite weights format (0 or 1)",
                          (int)params->weights_format);

    units = weights->dims[0];
    depth = weights->dims[1];
    verge_shape_str(input->dims, input->rank, shape, sizeof(shape));
    verge_shape_str(weights->dims, weights->rank, weights_shape, sizeof(weights_shape));
    count = verge_tensor_count(input);
    if (depth < 1 || count % (size_t)depth != 0)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (weights) has shape %s, but input 0 (input) of shape %s "
                          "has %zu elements, not a whole number of rows of %d",
                          weights_shape, shape, count, (int)depth);
    batches = count / (size_t)depth;

    bias = node->num_inputs > 2 ? verge_node_input(ctx, node, 2) : NULL;
    if (bias != NULL) {
        if ((status = verge_ops_check_float32(bias, 2, "bias")) != VERGE_OK)
            return status;
        if (verge_tensor_count(bias) != (size_t)units)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 2 (bias) has shape %s, but the weights %s have %d units",
                              verge_shape_str(bias->dims, bias->rank, shape, sizeof(shape)),
                              weights_shape, (int)units);
    }

    if (params->keep_num_dims) {
        if (input->rank < 1 || input->dims[input->rank - 1] != depth)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "keep_num_dims is set, so the last dimension of input 0 (input) "
                              "of shape %s must equal the %d columns of the weights %s",
                              shape, (int)depth, weights_shape);
        for (int d = 0; d < input->rank; d++)
            dims[d] = input->dims[d];
        dims[input->rank - 1] = units;
        return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32,
                                      input->rank, dims);
    }

    if (batches > INT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 0 (input) of shape %s gives %zu rows, more than %d", shape,
                          batches, INT32_MAX);
    dims[0] = (int32_t)batches;
    dims[1] = units;
    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32, 2, dims);
}

/* One node's operands, shared by the tasks that compute ranges of its units. */
typedef struct fc_job {
    verge_activation activation;
    const float *input, *weights, *bias;
    float *output;
    size_t units, depth, batches;
} fc_job;

/* Computes units [begin, end) of every batch row. */
static void fully_connected_units(void *arg, size_t begin, size_t end)
{
    const fc_job *job = arg;
    const verge_activation activation = job->activation;
    const float *input = job->input, *weights = job->weights, *bias = job->bias;
    float *output = job->output;
    const size_t units = job->units, depth = job->depth;

    for (size_t b = 0; b < job->batches; b++) {
        const float *row = input + b * depth;

        for (size_t u = begin; u < end; u++) {
            const float *w = weights + u * depth;
            float sum = 0.0f;

            for (size_t k = 0; k < depth; k++)
                sum += row[k] * w[k];
            if (bias != NULL)
                sum += bias[u];
            output[b * units + u] = verge_activate(sum, activation);
        }
    }
}

static verge_status verge_fully_connected_prepare(verge_op_context *ctx, const verge_node *node)
{
    verge_status status = fully_connected_check(ctx, node);

    return status == VERGE_OK ? verge_fully_connected_fast_prepare(ctx, node) : status;
}

static verge_status verge_fully_connected_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    const verge_tensor *weights = verge_node_input(ctx, node, 1);
    const verge_tensor *bias = node->num_inputs > 2 ? verge_node_input(ctx, node, 2) : NULL;
    fc_job job = {
        .activation = node->params.fully_connected.activation,
        .input = input->data,
        .weights = weights->data,
        .bias = bias != NULL ? bias->data : NULL,
        .output = verge_node_output(ctx, node, 0)->data,
        .units = (size_t)weights->dims[0],
        .depth = (size_t)weights->dims[1],
    };

    if (ctx->node_data != NULL)
        return verge_fast_invoke(ctx, node);
    job.batches = verge_tensor_count(input) / job.depth;
    /* Small layers are not worth waking the workers for: 16 units at least per range. */
    verge_ops_parallel(ctx, job.units, 16, fully_connected_units, &job);
    return VERGE_OK;
}

const verge_kernel verge_fully_connected_kernel = {
    .op = VERGE_OP_FULLY_CONNECTED,
    .dtypes = "float32",
    .prepare = verge_fully_connected_prepare,
    .invoke = verge_fully_connected_f32,
};
