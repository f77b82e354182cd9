/*
 * SOFTMAX, float32 reference kernel: along the last axis,
 *
 *     out[i] = exp(beta * x[i]) / sum_j exp(beta * x[j])
 *
 * with beta from node->params.softmax (finite; 0 gives a uniform row). The
 * input has rank 1 to VERGE_MAX_RANK and the output its shape.
 *
 * Each row is shifted by its maximum (by its minimum when beta < 0) before
 * exp(), so the largest exponent is 0 and nothing overflows, however large
 * the inputs. For beta > 0 this is TFLite's reference computation.
 */
#include <math.h>

#include "core/core.h"
#include "ops/common.h"

static verge_status verge_softmax_prepare(verge_op_context *ctx, const verge_node *node)
{
    const float beta = node->params.softmax.beta;
    verge_tensor *input;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 1, 1, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK)
        return status;
    if (input->rank < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 0 (input) is a scalar, but softmax needs at least one axis");
    if (!isfinite(beta))
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "beta is %g, expected a finite number",
                          (double)beta);

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32,
                                  input->rank, input->dims);
}

static verge_status verge_softmax_f32(verge_op_context *ctx, const verge_node *node)
{
    const float beta = node->params.softmax.beta;
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const float *input = input_tensor->data;
    float *output = verge_node_output(ctx, node, 0)->data;
    const size_t depth = (size_t)input_tensor->dims[input_tensor->rank - 1];
    const size_t rows = depth > 0 ? verge_tensor_count(input_tensor) / depth : 0;

    for (size_t r = 0; r < rows; r++) {
        const float *x = input + r * depth;
        float *y = output + r * depth;
        float shift = x[0];
        float sum = 0.0f;

        /* The element that makes beta * x largest: the maximum, or the minimum for beta < 0. */
        for (size_t c = 1; c < depth; c++) {
            if (beta >= 0.0f ? x[c] > shift : x[c] < shift)
                shift = x[c];
        }
        for (size_t c = 0; c < depth; c++) {
            y[c] = expf((x[c] - shift) * beta);
            sum += y[c];
        }
        for (size_t c = 0; c < depth; c++)
            y[c] /= sum;
    }
    return VERGE_OK;
}

const verge_kernel verge_softmax_kernel = {
    .op = VERGE_OP_SOFTMAX,
    .dtypes = "float32",
    .prepare = verge_softmax_prepare,
    .invoke = verge_softmax_f32,
};
