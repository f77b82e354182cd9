/*
 * RESIZE_BILINEAR, float32 reference kernel.
 *
 * Input 0 is the image [batches, in_h, in_w, channels] (NHWC). Input 1 is the
 * output size, a constant int32 tensor [2] containing {out_h, out_w}, both >= 1.
 * Output: [batches, out_h, out_w, channels].
 *
 * Source coordinates follow TFLite's reference kernel (reference_ops::
 * ResizeBilinear) step by step, in float32:
 *   scale = in / out, or (in - 1) / (out - 1) with align_corners and out > 1
 *   src   = (dst + 0.5) * scale - 0.5 with half_pixel_centers, else dst * scale
 *   lower = max(floor(src), 0), upper = min(ceil(src), in - 1)
 * and the weights use the unclamped src, so a clamped edge row gets weights
 * such as 1.25 and -0.25 on the same cell, as in TFLite. align_corners and
 * half_pixel_centers together are invalid, as in TFLite.
 *
 * Prepare picks a fast path when the CPU has one (src/ops/fast_misc.h). It
 * gives the same bits as this kernel.
 */
#include <math.h>

#include "core/core.h"
#include "ops/common.h"
#include "ops/fast_misc.h"

enum { RESIZE_MAX_SIZE = 1 << 24 };

static verge_status verge_resize_bilinear_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_resize_params *params = &node->params.resize;
    char shape[VERGE_SHAPE_STR_SIZE];
    verge_tensor *input, *size;
    const int32_t *out_size;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 2, 2, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "input", &input)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 1, "size", &size)) != VERGE_OK ||
        (status = verge_ops_check_float32(input, 0, "input")) != VERGE_OK ||
        (status = verge_ops_check_rank(input, 0, "input", 4)) != VERGE_OK)
        return status;

    if (params->align_corners && params->half_pixel_centers)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "align_corners and half_pixel_centers are both set; at most one may be");
    if (size->dtype != VERGE_DTYPE_INT32 || size->rank != 1 || size->dims[0] != 2)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (size) is %s of shape %s, expected int32 of shape [2]",
                          verge_dtype_name(size->dtype),
                          verge_shape_str(size->dims, size->rank, shape, sizeof(shape)));
    if ((status = verge_ops_check_constant(size, 1, "size")) != VERGE_OK)
        return status;

    out_size = size->data;
    if (out_size[0] < 1 || out_size[1] < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 1 (size) is [%d,%d]; both sizes must be >= 1", (int)out_size[0],
                          (int)out_size[1]);
    if (input->dims[1] < 1 || input->dims[2] < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 0 (input) has shape %s, an empty image",
                          verge_shape_str(input->dims, input->rank, shape, sizeof(shape)));

    /* Coordinates are float32 as in TFLite. Up to 2^24 they are exact and fit int32. */
    if (input->dims[1] > RESIZE_MAX_SIZE || input->dims[2] > RESIZE_MAX_SIZE ||
        out_size[0] > RESIZE_MAX_SIZE || out_size[1] > RESIZE_MAX_SIZE)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "resizing %s to [%d,%d]: heights and widths above %d are not supported",
                          verge_shape_str(input->dims, input->rank, shape, sizeof(shape)),
                          (int)out_size[0], (int)out_size[1], RESIZE_MAX_SIZE);

    status = verge_tensor_set_shape(verge_node_output(ctx, node, 0), VERGE_DTYPE_FLOAT32, 4,
                                    (const int32_t[]){input->dims[0], out_size[0], out_size[1],
                                                      input->dims[3]});
    if (status != VERGE_OK)
        return status;
    verge_resize_bilinear_fast_prepare(ctx, node);
    return VERGE_OK;
}

/* Returns the ratio that maps output coordinates to input ones along one axis. */
static float resize_scale(int32_t in, int32_t out, bool align_corners)
{
    if (align_corners && out > 1)
        return (float)(in - 1) / (float)(out - 1);
    return (float)in / (float)out;
}

/* Computes the source coordinate of output cell `dst` and its two neighbours along one axis. */
static void resize_source(int32_t dst, float scale, bool half_pixel_centers, int32_t in,
                          float *src, int32_t *lower, int32_t *upper)
{
    int32_t floor_value, ceil_value;

    if (half_pixel_centers)
        *src = ((float)dst + 0.5f) * scale - 0.5f;
    else
        *src = (float)dst * scale;

    floor_value = (int32_t)floorf(*src);
    ceil_value = (int32_t)ceilf(*src);
    *lower = floor_value > 0 ? floor_value : 0;
    *upper = ceil_value < in - 1 ? ceil_value : in - 1;
}

void verge_resize_tap_compute(int32_t dst, int32_t in, int32_t out,
                              const verge_resize_params *params, verge_resize_tap *tap)
{
    float src;

    resize_source(dst, resize_scale(in, out, params->align_corners), params->half_pixel_centers,
                  in, &src, &tap->lower, &tap->upper);
    /* The reference's weight expressions, rounded the same way. */
    tap->weight_upper = src - (float)tap->lower;
    tap->weight_lower = 1 - (src - (float)tap->lower);
}

static verge_status verge_resize_bilinear_f32(verge_op_context *ctx, const verge_node *node)
{
    const verge_resize_params *params = &node->params.resize;
    const verge_tensor *input_tensor = verge_node_input(ctx, node, 0);
    const verge_tensor *output_tensor = verge_node_output(ctx, node, 0);
    const float *input = input_tensor->data;
    float *output = output_tensor->data;
    const int32_t batches = input_tensor->dims[0];
    const int32_t in_h = input_tensor->dims[1];
    const int32_t in_w = input_tensor->dims[2];
    const int32_t channels = input_tensor->dims[3];
    const int32_t out_h = output_tensor->dims[1];
    const int32_t out_w = output_tensor->dims[2];
    const float scale_y = resize_scale(in_h, out_h, params->align_corners);
    const float scale_x = resize_scale(in_w, out_w, params->align_corners);

    if (ctx->node_data != NULL)
        return verge_resize_bilinear_fast_invoke(ctx, node);
    for (int32_t b = 0; b < batches; b++) {
        const float *image = input + (size_t)b * in_h * in_w * channels;

        for (int32_t oy = 0; oy < out_h; oy++) {
            float sy;
            int32_t y0, y1;

            resize_source(oy, scale_y, params->half_pixel_centers, in_h, &sy, &y0, &y1);
            for (int32_t ox = 0; ox < out_w; ox++) {
                float sx;
                int32_t x0, x1;
                const float *p00, *p01, *p10, *p11;
                float *out_px;

                resize_source(ox, scale_x, params->half_pixel_centers, in_w, &sx, &x0, &x1);
                p00 = image + ((size_t)y0 * in_w + x0) * channels;
                p01 = image + ((size_t)y0 * in_w + x1) * channels;
                p10 = image + ((size_t)y1 * in_w + x0) * channels;
                p11 = image + ((size_t)y1 * in_w + x1) * channels;
                out_px = output + (((size_t)b * out_h + oy) * out_w + ox) * channels;

                /*
                 * Same terms, factors and order as TFLite's reference kernel.
                 * TFLite also adds its rounding offset, 0.0f for float, which turns
                 * a -0 sum into +0. The last term does the same here.
                 */
                for (int32_t c = 0; c < channels; c++)
                    out_px[c] = p00[c] * (1 - (sy - (float)y0)) * (1 - (sx - (float)x0)) +
                                p10[c] * (sy - (float)y0) * (1 - (sx - (float)x0)) +
                                p01[c] * (1 - (sy - (float)y0)) * (sx - (float)x0) +
                                p11[c] * (sy - (float)y0) * (sx - (float)x0) + 0.0f;
            }
        }
    }
    return VERGE_OK;
}

const verge_kernel verge_resize_bilinear_kernel = {
    .op = VERGE_OP_RESIZE_BILINEAR,
    .dtypes = "float32",
    .prepare = verge_resize_bilinear_prepare,
    .invoke = verge_resize_bilinear_f32,
};
