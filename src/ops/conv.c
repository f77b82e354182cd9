/*
 * CONV_2D and DEPTHWISE_CONV_2D, float32 reference kernels.
 *
 * Layouts (TFLite):
 *   input   [batches, in_h, in_w, in_c]                     NHWC
 *   filter  CONV_2D:           [out_c, kh, kw, filter_c]    filter_c divides in_c
 *           DEPTHWISE_CONV_2D: [1, kh, kw, in_c * depth_multiplier]
 *   bias    [out_c], optional (input 2 absent or VERGE_NO_TENSOR)
 *   output  [batches, out_h, out_w, out_c]
 *
 * CONV_2D with filter_c < in_c is a grouped convolution: groups = in_c /
 * filter_c, and output channel oc reads input channels
 * [g * filter_c, (g + 1) * filter_c) with g = oc / (out_c / groups).
 * DEPTHWISE_CONV_2D output channel ic * depth_multiplier + m reads input
 * channel ic only.
 *
 * Explicit padding (params.conv.pad_top, pad_bottom, pad_left, pad_right,
 * set when the fusion pass folds a PAD into the node) surrounds the input
 * with zeros before the padding mode applies. The kernels skip the taps
 * that fall on those zeros, as they skip SAME padding.
 *
 * A CONV_2D with params.conv.residual (set only by the interpreter's fusion
 * pass, which merged a following ADD into it) has input 3, the residual
 * [batches, out_h, out_w, res_c] with 1 <= res_c <= out_c. Output channel oc
 * gets residual channel oc added after the bias (+0.0f for oc >= res_c,
 * where the merged ADD read zeros from a PAD), then the activation.
 *
 * Sums run over filter rows, then columns, then input channels, and the bias
 * is added last, in the order of TFLite's reference kernels. Results then
 * round as TFLite's do, unless the compiler fuses multiply-adds (FMA).
 *
 * With a thread pool, output rows (batch, y) are split among the threads;
 * each output is computed the same way in any split.
 *
 * Prepare also packs the weights for a fast path (src/ops/fast.h) when the
 * CPU has one and the node fits it; invoke then runs that instead.
 */
#include "core/core.h"
#include "ops/common.h"
#include "ops/fast.h"
#include "ops/parallel.h"

typedef struct conv_shape {
    int32_t batches, in_h, in_w, in_c;
    int32_t filter_h, filter_w, filter_c;
    int32_t out_h, out_w, out_c;
    int32_t pad_top, pad_left;
} conv_shape;

/* Reads the geometry of a node whose shapes prepare has checked. */
static void conv_shape_read(const verge_tensor *input, const verge_tensor *filter,
                            const verge_conv_params *params, conv_shape *shape)
{
    int64_t out_h, out_w, pad_top, pad_left;

    shape->batches = input->dims[0];
    shape->in_h = input->dims[1];
    shape->in_w = input->dims[2];
    shape->in_c = input->dims[3];
    shape->filter_h = filter->dims[1];
    shape->filter_w = filter->dims[2];
    shape->filter_c = filter->dims[3];
    verge_ops_conv_window(params, true, shape->in_h, shape->filter_h, &out_h, &pad_top);
    verge_ops_conv_window(params, false, shape->in_w, shape->filter_w, &out_w, &pad_left);
    shape->out_h = (int32_t)out_h;
    shape->out_w = (int32_t)out_w;
    shape->pad_top = (int32_t)pad_top;
    shape->pad_left = (int32_t)pad_left;
}

/*
 * Checks the bias, the activation and the window, which CONV_2D and
 * DEPTHWISE_CONV_2D share, and shapes the output. out_c is the number of
 * output channels the filter defines.
 */
static verge_status conv_prepare_common(verge_op_context *ctx, const verge_node *node,
                                        const verge_tensor *input, const verge_tensor *filter,
                                        int32_t out_c)
{
    const verge_conv_params *params = &node->params.conv;
    char shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *bias, *output;
    int32_t out_h, out_w, pad_top, pad_left;
    verge_status status;

    bias = node->num_inputs > 2 ? verge_node_input(ctx, node, 2) : NULL;

    if (bias != NULL) {
        if ((status = verge_ops_check_float32(bias, 2, "bias")) != VERGE_OK ||
            (status = verge_ops_check_rank(bias, 2, "bias", 1)) != VERGE_OK)
            return status;
        if (bias->dims[0] != out_c)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 2 (bias) has shape %s, but the filter has %d output channels",
                              verge_shape_str(bias->dims, bias->rank, shape, sizeof(shape)),
                              (int)out_c);
    }

    if ((status = verge_ops_check_activation(params->activation)) != VERGE_OK)
        return status;
    if ((status = verge_ops_conv_window_checked(params, true, input->dims[1], filter->dims[1],
                                                &out_h, &pad_top)) != VERGE_OK ||
        (status = verge_ops_conv_window_checked(params, false, input->dims[2], filter->dims[2],
                                                &out_w, &pad_left)) != VERGE_OK)
        return status;

    output = verge_node_output(ctx, node, 0);
    return verge_tensor_set_shape(output, VERGE_DTYPE_FLOAT32, 4,
                                  (const int32_t[]){input->dims[0], out_h, out_w, out_c});
}

/* Stores input 0 and the filter after checking their dtypes and ranks. */
static verge_status conv_require_inputs(verge_op_context *ctx, const verge_node *node,
                                        verge_tensor **input, verge_tensor **filter)
{
    const int max_inputs = node->op == VERGE_OP_CONV_2D && node->params.conv.residual ? 4 : 3;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, max_inputs, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", input)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "filter", filter)) != VERGE_OK ||
        (status = verge_ops_check_float32(*input, 0, "input")) != VERGE_OK ||
        (status = verge_ops_check_float32(*filter, 1, "filter")) != VERGE_OK ||
        (status = verge_ops_check_rank(*input, 0, "input", 4)) != VERGE_OK ||
        (status = verge_ops_check_rank(*filter, 1, "filter", 4)) != VERGE_OK)
        return status;
    return VERGE_OK;
}

/* Checks input 3 (residual) of a fused CONV_2D against the output shaped by prepare. */
static verge_status conv2d_check_residual(verge_op_context *ctx, const verge_node *node,
                                         int32_t out_c)
{
    const verge_tensor *output = verge_node_output(ctx, node, 0);
    char shape[VERGE_SHAPE_STR_SIZE], out_shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *residual;
    verge_status status;

    if ((status = verge_ops_require_input(ctx, node, 3, "residual", &residual)) != VERGE_OK ||
        (status = verge_ops_check_float32(residual, 3, "residual")) != VERGE_OK ||
        (status = verge_ops_check_rank(residual, 3, "residual", 4)) != VERGE_OK)
        return status;
    if (residual->dims[0] != output->dims[0] || residual->dims[1] != output->dims[1] ||
        residual->dims[2] != output->dims[2] || residual->dims[3] < 1 ||
        residual->dims[3] > out_c)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 3 (residual) has shape %s, which does not fit the output %s",
                          verge_shape_str(residual->dims, 4, shape, sizeof(shape)),
                          verge_shape_str(output->dims, 4, out_shape, sizeof(out_shape)));
    return VERGE_OK;
}

static verge_status conv2d_check(verge_op_context *ctx, const verge_node *node)
{
    char filter_shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input, *filter;
    int32_t in_c, filter_c, out_c, groups;
    verge_status status;

    if ((status = conv_require_inputs(ctx, node, &input, &filter)) != VERGE_OK)
        return status;

    in_c = input->dims[3];
    filter_c = filter->dims[3];
    out_c = filter->dims[0];
    verge_shape_str(filter->dims, filter->rank, filter_shape, sizeof(filter_shape));
    if (in_c < 1 || filter_c < 1 || in_c % filter_c != 0)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (filter) has shape %s, but the input has %d channels",
                          filter_shape, (int)in_c);

    /* TFLite reads a filter with fewer channels than the input as a grouped convolution. */
    groups = in_c / filter_c;
    if (out_c < 1 || out_c % groups != 0)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (filter) has shape %s: its %d output channels do not split "
                          "into the %d groups that %d input channels / %d filter channels make",
                          filter_shape, (int)out_c, (int)groups, (int)in_c, (int)filter_c);

    if ((status = conv_prepare_common(ctx, node, input, filter, out_c)) != VERGE_OK)
        return status;
    return node->params.conv.residual ? conv2d_check_residual(ctx, node, out_c) : VERGE_OK;
}

/* One node's operands, shared by the tasks that compute ranges of its output rows. */
typedef struct conv_job {
    const verge_conv_params *params;
    conv_shape s;
    const float *input, *filter, *bias;
    const float *residual;      /* fused CONV_2D only, else NULL */
    int32_t residual_c;
    float *output;
} conv_job;

/* Reads the operands of a prepared CONV_2D or DEPTHWISE_CONV_2D node; out_c from the filter. */
static void conv_job_read(verge_op_context *ctx, const verge_node *node, int32_t out_c_dim,
                          conv_job *job)
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    const verge_tensor *filter = verge_node_input(ctx, node, 1);
    const verge_tensor *bias = node->num_inputs > 2 ? verge_node_input(ctx, node, 2) : NULL;

    job->params = &node->params.conv;
    conv_shape_read(input, filter, job->params, &job->s);
    job->s.out_c = filter->dims[out_c_dim];
    job->input = input->data;
    job->filter = filter->data;
    job->bias = bias != NULL ? bias->data : NULL;
    job->output = verge_node_output(ctx, node, 0)->data;
    job->residual = NULL;
    job->residual_c = 0;
    if (node->op == VERGE_OP_CONV_2D && job->params->residual) {
        const verge_tensor *residual = verge_node_input(ctx, node, 3);

        job->residual = residual->data;
        job->residual_c = residual->dims[3];
    }
}

/* Computes output rows [begin, end) of a CONV_2D; row = batch * out_h + y. */
static void conv2d_rows(void *arg, size_t begin, size_t end)
{
    const conv_job *job = arg;
    const verge_conv_params *params = job->params;
    const conv_shape s = job->s;
    const float *input = job->input, *filter = job->filter, *bias = job->bias;
    float *output = job->output;
    const int32_t groups = s.in_c / s.filter_c;
    const int32_t filters_per_group = s.out_c / groups;

    for (size_t row = begin; row < end; row++) {
        const int32_t b = (int32_t)(row / (size_t)s.out_h);
        const int32_t oy = (int32_t)(row % (size_t)s.out_h);

        for (int32_t ox = 0; ox < s.out_w; ox++) {
            for (int32_t oc = 0; oc < s.out_c; oc++) {
                int32_t first_in_c = oc / filters_per_group * s.filter_c;
                float sum = 0.0f;

                for (int32_t ky = 0; ky < s.filter_h; ky++) {
                    int64_t iy = (int64_t)oy * params->stride_h - s.pad_top +
                                 (int64_t)ky * params->dilation_h;

                    if (iy < 0 || iy >= s.in_h)
                        continue;
                    for (int32_t kx = 0; kx < s.filter_w; kx++) {
                        int64_t ix = (int64_t)ox * params->stride_w - s.pad_left +
                                     (int64_t)kx * params->dilation_w;
                        const float *in_px, *f_px;

                        if (ix < 0 || ix >= s.in_w)
                            continue;
                        in_px = input + (((size_t)b * s.in_h + iy) * s.in_w + ix) * s.in_c +
                                first_in_c;
                        f_px = filter + (((size_t)oc * s.filter_h + ky) * s.filter_w + kx) *
                                            s.filter_c;
                        for (int32_t ic = 0; ic < s.filter_c; ic++)
                            sum += in_px[ic] * f_px[ic];
                    }
                }
                if (bias != NULL)
                    sum += bias[oc];
                if (job->residual != NULL) {
                    size_t pixel = ((size_t)b * s.out_h + oy) * s.out_w + ox;

                    sum += oc < job->residual_c
                               ? job->residual[pixel * (size_t)job->residual_c + oc]
                               : 0.0f;
                }
                output[(((size_t)b * s.out_h + oy) * s.out_w + ox) * s.out_c + oc] =
                    verge_activate(sum, params->activation);
            }
        }
    }
}

static verge_status verge_conv2d_prepare(verge_op_context *ctx, const verge_node *node)
{
    verge_status status = conv2d_check(ctx, node);

    return status == VERGE_OK ? verge_conv2d_fast_prepare(ctx, node) : status;
}

static verge_status verge_conv2d_f32(verge_op_context *ctx, const verge_node *node)
{
    conv_job job;

    if (ctx->node_data != NULL)
        return verge_fast_invoke(ctx, node);

    conv_job_read(ctx, node, 0, &job);
    verge_ops_parallel(ctx, (size_t)job.s.batches * (size_t)job.s.out_h, 1, conv2d_rows, &job);
    return VERGE_OK;
}

static verge_status depthwise_conv2d_check(verge_op_context *ctx, const verge_node *node)
{
    const verge_conv_params *params = &node->params.conv;
    char filter_shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input, *filter;
    int64_t expected_c;
    verge_status status;

    if ((status = conv_require_inputs(ctx, node, &input, &filter)) != VERGE_OK)
        return status;
    if ((status = verge_ops_check_factor("depth_multiplier", params->depth_multiplier)) !=
        VERGE_OK)
        return status;

    verge_shape_str(filter->dims, filter->rank, filter_shape, sizeof(filter_shape));
    if (filter->dims[0] != 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (filter) has shape %s, expected [1,kh,kw,channels]",
                          filter_shape);

    /* TFLite requires the redundant depth_multiplier option to match the filter. */
    expected_c = (int64_t)input->dims[3] * params->depth_multiplier;
    if (input->dims[3] < 1 || filter->dims[3] != expected_c)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (filter) has shape %s, but the input has %d channels and "
                          "depth_multiplier is %d, so the filter needs %lld channels",
                          filter_shape, (int)input->dims[3], params->depth_multiplier,
                          (long long)expected_c);

    return conv_prepare_common(ctx, node, input, filter, filter->dims[3]);
}

/* Computes output rows [begin, end) of a DEPTHWISE_CONV_2D; row = batch * out_h + y. */
static void depthwise_conv2d_rows(void *arg, size_t begin, size_t end)
{
    const conv_job *job = arg;
    const verge_conv_params *params = job->params;
    const conv_shape s = job->s;
    const float *input = job->input, *filter = job->filter, *bias = job->bias;
    float *output = job->output;
    const int multiplier = params->depth_multiplier;

    for (size_t row = begin; row < end; row++) {
        const int32_t b = (int32_t)(row / (size_t)s.out_h);
        const int32_t oy = (int32_t)(row % (size_t)s.out_h);

        for (int32_t ox = 0; ox < s.out_w; ox++) {
            for (int32_t ic = 0; ic < s.in_c; ic++) {
                for (int m = 0; m < multiplier; m++) {
                    int32_t oc = ic * multiplier + m;
                    float sum = 0.0f;

                    for (int32_t ky = 0; ky < s.filter_h; ky++) {
                        int64_t iy = (int64_t)oy * params->stride_h - s.pad_top +
                                     (int64_t)ky * params->dilation_h;

                        if (iy < 0 || iy >= s.in_h)
                            continue;
                        for (int32_t kx = 0; kx < s.filter_w; kx++) {
                            int64_t ix = (int64_t)ox * params->stride_w - s.pad_left +
                                         (int64_t)kx * params->dilation_w;

                            if (ix < 0 || ix >= s.in_w)
                                continue;
                            sum += input[(((size_t)b * s.in_h + iy) * s.in_w + ix) * s.in_c +
                                         ic] *
                                   filter[((size_t)ky * s.filter_w + kx) * s.out_c + oc];
                        }
                    }
                    if (bias != NULL)
                        sum += bias[oc];
                    output[(((size_t)b * s.out_h + oy) * s.out_w + ox) * s.out_c + oc] =
                        verge_activate(sum, params->activation);
                }
            }
        }
    }
}

static verge_status verge_depthwise_conv2d_prepare(verge_op_context *ctx, const verge_node *node)
{
    verge_status status = depthwise_conv2d_check(ctx, node);

    return status == VERGE_OK ? verge_depthwise_conv2d_fast_prepare(ctx, node) : status;
}

static verge_status verge_depthwise_conv2d_f32(verge_op_context *ctx, const verge_node *node)
{
    conv_job job;

    if (ctx->node_data != NULL)
        return verge_fast_invoke(ctx, node);

    conv_job_read(ctx, node, 3, &job);
    verge_ops_parallel(ctx, (size_t)job.s.batches * (size_t)job.s.out_h, 1,
                       depthwise_conv2d_rows, &job);
    return VERGE_OK;
}

const verge_kernel verge_conv2d_kernel = {
    .op = VERGE_OP_CONV_2D,
    .dtypes = "float32",
    .prepare = verge_conv2d_prepare,
    .invoke = verge_conv2d_f32,
};

const verge_kernel verge_depthwise_conv2d_kernel = {
    .op = VERGE_OP_DEPTHWISE_CONV_2D,
    .dtypes = "float32",
    .prepare = verge_depthwise_conv2d_prepare,
    .invoke = verge_depthwise_conv2d_f32,
};
