/*
 * SSD anchor generation as MediaPipe's SsdAnchorsCalculator does it
 * (mediapipe/calculators/tflite/ssd_anchors_calculator.cc, strides form).
 *
 * Consecutive layers with the same stride share one feature map: their
 * anchor shapes are collected into one list and emitted together per cell.
 * The scale of layer i of n is min_scale + (max_scale - min_scale) * i / (n - 1),
 * or the mean of the two when n == 1.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "verge/vision.h"

/* Most anchor shapes one group of same-stride layers can produce. */
enum { MAX_SHAPES = VERGE_SSD_MAX_LAYERS * (VERGE_SSD_MAX_ASPECT_RATIOS + 3) };

static verge_status check_options(const verge_ssd_anchor_options *o)
{
    if (o == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "anchor options are NULL");
    if (o->num_layers < 1 || o->num_layers > VERGE_SSD_MAX_LAYERS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "anchors: num_layers %d is outside 1..%d", o->num_layers,
                          VERGE_SSD_MAX_LAYERS);
    if (o->input_width < 1 || o->input_height < 1 || o->input_width > VERGE_PREPROCESS_MAX_SIDE ||
        o->input_height > VERGE_PREPROCESS_MAX_SIDE)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "anchors: input size %dx%d is outside 1..%d pixels per side",
                          o->input_width, o->input_height, VERGE_PREPROCESS_MAX_SIDE);
    for (int i = 0; i < o->num_layers; i++)
        if (o->strides[i] < 1)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "anchors: stride %d of layer %d must be positive", o->strides[i], i);
    if (o->num_aspect_ratios < 0 || o->num_aspect_ratios > VERGE_SSD_MAX_ASPECT_RATIOS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "anchors: num_aspect_ratios %d is outside 0..%d", o->num_aspect_ratios,
                          VERGE_SSD_MAX_ASPECT_RATIOS);
    for (int i = 0; i < o->num_aspect_ratios; i++)
        if (!(o->aspect_ratios[i] > 0.0f) || !isfinite(o->aspect_ratios[i]))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "anchors: aspect ratio %d is %g; it must be positive", i,
                              (double)o->aspect_ratios[i]);
    if (!isfinite(o->min_scale) || !isfinite(o->max_scale) ||
        !isfinite(o->interpolated_scale_aspect_ratio) || !isfinite(o->anchor_offset_x) ||
        !isfinite(o->anchor_offset_y))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "anchors: scales, offsets and the interpolated aspect ratio must be finite");
    return VERGE_OK;
}

static float layer_scale(const verge_ssd_anchor_options *o, int layer)
{
    if (o->num_layers == 1)
        return (o->min_scale + o->max_scale) * 0.5f;
    /* MediaPipe computes this in double (its formula multiplies by 1.0) and stores a float. */
    return (float)(o->min_scale +
                   (o->max_scale - o->min_scale) * 1.0 * layer / (o->num_layers - 1.0f));
}

/*
 * Collects the anchor shapes (width, height) of the layer group that starts
 * at `first` and returns the index just past the group.
 */
static int group_shapes(const verge_ssd_anchor_options *o, int first, float *widths,
                        float *heights, int *num_shapes)
{
    float ratios[MAX_SHAPES];
    float scales[MAX_SHAPES];
    int n = 0;
    int layer = first;

    while (layer < o->num_layers && o->strides[layer] == o->strides[first]) {
        const float scale = layer_scale(o, layer);

        if (layer == 0 && o->reduce_boxes_in_lowest_layer) {
            ratios[n] = 1.0f, scales[n++] = 0.1f;
            ratios[n] = 2.0f, scales[n++] = scale;
            ratios[n] = 0.5f, scales[n++] = scale;
        } else {
            for (int r = 0; r < o->num_aspect_ratios; r++)
                ratios[n] = o->aspect_ratios[r], scales[n++] = scale;
            if (o->interpolated_scale_aspect_ratio > 0.0f) {
                const float next =
                    layer == o->num_layers - 1 ? 1.0f : layer_scale(o, layer + 1);
                ratios[n] = o->interpolated_scale_aspect_ratio;
                scales[n++] = sqrtf(scale * next);
            }
        }
        layer++;
    }

    for (int i = 0; i < n; i++) {
        const float ratio_sqrt = sqrtf(ratios[i]);
        heights[i] = scales[i] / ratio_sqrt;
        widths[i] = scales[i] * ratio_sqrt;
    }
    *num_shapes = n;
    return layer;
}

/* Feature-map side for a stride: ceil(input / stride), computed in float as MediaPipe does. */
static int feature_map_side(int input, int stride)
{
    return (int)ceilf(1.0f * (float)input / (float)stride);
}

/*
 * Walks all anchors; writes them to `anchors` when it is not NULL (at most
 * `capacity`) and returns the total count in *count.
 */
static void walk_anchors(const verge_ssd_anchor_options *o, verge_anchor *anchors,
                         size_t capacity, size_t *count)
{
    float widths[MAX_SHAPES];
    float heights[MAX_SHAPES];
    size_t total = 0;
    int layer = 0;

    while (layer < o->num_layers) {
        int num_shapes;
        const int next = group_shapes(o, layer, widths, heights, &num_shapes);
        const int fm_h = feature_map_side(o->input_height, o->strides[layer]);
        const int fm_w = feature_map_side(o->input_width, o->strides[layer]);

        if (anchors == NULL) {
            total += (size_t)fm_h * (size_t)fm_w * (size_t)num_shapes;
            layer = next;
            continue;
        }
        for (int y = 0; y < fm_h; y++) {
            for (int x = 0; x < fm_w; x++) {
                for (int s = 0; s < num_shapes; s++, total++) {
                    if (total >= capacity)
                        continue;
                    verge_anchor *a = &anchors[total];
                    a->x_center = ((float)x + o->anchor_offset_x) * 1.0f / (float)fm_w;
                    a->y_center = ((float)y + o->anchor_offset_y) * 1.0f / (float)fm_h;
                    a->w = o->fixed_anchor_size ? 1.0f : widths[s];
                    a->h = o->fixed_anchor_size ? 1.0f : heights[s];
                }
            }
        }
        layer = next;
    }
    *count = total;
}

verge_status verge_ssd_anchors_count(const verge_ssd_anchor_options *options, size_t *count)
{
    verge_status status = check_options(options);

    *count = 0;
    if (status != VERGE_OK)
        return status;
    walk_anchors(options, NULL, 0, count);
    return VERGE_OK;
}

verge_status verge_ssd_anchors_generate(const verge_ssd_anchor_options *options,
                                        verge_anchor *anchors, size_t capacity, size_t *count)
{
    size_t needed;
    verge_status status = verge_ssd_anchors_count(options, &needed);

    *count = 0;
    if (status != VERGE_OK)
        return status;
    if (anchors == NULL || capacity < needed)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "anchors: room for %zu anchors, but the options generate %zu",
                          anchors == NULL ? (size_t)0 : capacity, needed);
    walk_anchors(options, anchors, capacity, count);
    return VERGE_OK;
}
