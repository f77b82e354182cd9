/*
 * Decoding of raw SSD outputs (box regressors relative to anchors, class
 * logits) into detections, as the CPU path of MediaPipe's
 * TensorsToDetectionsCalculator does it
 * (mediapipe/calculators/tensor/tensors_to_detections_calculator.cc).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "verge/vision.h"
#include "vision/detect_internal.h"

verge_status verge_ssd_decode_check(const verge_ssd_decode_options *o)
{
    if (o == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "decode options are NULL");
    if (o->num_boxes < 1 || o->num_coords < 1 || o->num_classes < 1)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "decode: num_boxes %d, num_coords %d and num_classes %d must be positive",
                          o->num_boxes, o->num_coords, o->num_classes);
    if (o->box_coord_offset < 0 || o->box_coord_offset + 4 > o->num_coords)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "decode: box values at %d..%d do not fit in %d coordinates per row",
                          o->box_coord_offset, o->box_coord_offset + 3, o->num_coords);
    if (o->num_keypoints < 0 || o->num_keypoints > VERGE_MAX_KEYPOINTS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "decode: num_keypoints %d is outside 0..%d", o->num_keypoints,
                          VERGE_MAX_KEYPOINTS);
    if (o->num_keypoints > 0 &&
        (o->keypoint_coord_offset < 0 ||
         o->keypoint_coord_offset + 2 * o->num_keypoints > o->num_coords))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "decode: %d keypoints from offset %d do not fit in %d coordinates per row",
                          o->num_keypoints, o->keypoint_coord_offset, o->num_coords);
    if (o->box_format != VERGE_BOX_YXHW && o->box_format != VERGE_BOX_XYWH)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "decode: box format %d is unknown (0 = YXHW, 1 = XYWH)",
                          (int)o->box_format);
    if (!(o->x_scale > 0.0f) || !(o->y_scale > 0.0f) || !(o->w_scale > 0.0f) ||
        !(o->h_scale > 0.0f))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "decode: x/y/w/h scales %g/%g/%g/%g must be positive",
                          (double)o->x_scale, (double)o->y_scale, (double)o->w_scale,
                          (double)o->h_scale);
    if (isnan(o->min_score) || isnan(o->score_clipping_thresh))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "decode: min_score and score_clipping_thresh must not be NaN");
    return VERGE_OK;
}

/* Returns the best class score of one row and its class index in *class_id (-1 if all are NaN). */
static float best_score(const verge_ssd_decode_options *o, const float *row, int *class_id)
{
    const float clip = o->score_clipping_thresh;
    float best = -FLT_MAX;

    *class_id = -1;
    for (int c = 0; c < o->num_classes; c++) {
        float score = row[c];

        if (o->sigmoid_score) {
            if (clip > 0.0f) {
                score = score < -clip ? -clip : score;
                score = score > clip ? clip : score;
            }
            score = 1.0f / (1.0f + expf(-score));
        }
        /* A NaN score never compares greater, so it can never win. */
        if (score > best) {
            best = score;
            *class_id = c;
        }
    }
    return best;
}

static bool all_finite(const verge_detection *d)
{
    for (int i = 0; i < 4; i++)
        if (!isfinite(d->box[i]))
            return false;
    for (int k = 0; k < d->num_keypoints; k++)
        if (!isfinite(d->keypoints[k][0]) || !isfinite(d->keypoints[k][1]))
            return false;
    return true;
}

verge_status verge_ssd_decode(const verge_ssd_decode_options *options, const verge_anchor *anchors,
                              const float *boxes, const float *scores, verge_detection *out,
                              size_t capacity, size_t *count)
{
    verge_status status = verge_ssd_decode_check(options);
    size_t written = 0;
    size_t passed = 0;

    *count = 0;
    if (status != VERGE_OK)
        return status;
    if (anchors == NULL || boxes == NULL || scores == NULL || (out == NULL && capacity > 0))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "decode: anchors, boxes, scores or output is NULL");

    const verge_ssd_decode_options *o = options;
    const bool xy_first = o->box_format == VERGE_BOX_XYWH;

    for (int i = 0; i < o->num_boxes; i++) {
        int class_id;
        const float score = best_score(o, scores + (size_t)i * o->num_classes, &class_id);

        if (class_id < 0 || !(score >= o->min_score))
            continue;

        const float *row = boxes + (size_t)i * o->num_coords;
        const float *raw = row + o->box_coord_offset;
        const verge_anchor *a = &anchors[i];
        float x_center = xy_first ? raw[0] : raw[1];
        float y_center = xy_first ? raw[1] : raw[0];
        float w = xy_first ? raw[2] : raw[3];
        float h = xy_first ? raw[3] : raw[2];

        x_center = x_center / o->x_scale * a->w + a->x_center;
        y_center = y_center / o->y_scale * a->h + a->y_center;
        if (o->apply_exponential_on_box_size) {
            h = expf(h / o->h_scale) * a->h;
            w = expf(w / o->w_scale) * a->w;
        } else {
            h = h / o->h_scale * a->h;
            w = w / o->w_scale * a->w;
        }
        /* MediaPipe drops negative and NaN sizes, which a model can predict. */
        if (!(w >= 0.0f) || !(h >= 0.0f))
            continue;

        verge_detection d;
        memset(&d, 0, sizeof(d));
        d.class_id = class_id;
        d.score = score;
        d.box[0] = x_center - w / 2.0f;
        d.box[1] = y_center - h / 2.0f;
        d.box[2] = x_center + w / 2.0f;
        d.box[3] = y_center + h / 2.0f;
        d.num_keypoints = o->num_keypoints;
        for (int k = 0; k < o->num_keypoints; k++) {
            const float *kp = row + o->keypoint_coord_offset + 2 * k;
            const float kx = xy_first ? kp[0] : kp[1];
            const float ky = xy_first ? kp[1] : kp[0];
            d.keypoints[k][0] = kx / o->x_scale * a->w + a->x_center;
            d.keypoints[k][1] = ky / o->y_scale * a->h + a->y_center;
        }
        if (!all_finite(&d))
            continue;

        passed++;
        if (written < capacity)
            out[written++] = d;
    }

    if (passed > capacity)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "decode: %zu rows passed min_score %g but the output holds %zu; "
                          "give room for num_boxes (%d)",
                          passed, (double)o->min_score, capacity, o->num_boxes);
    *count = written;
    return VERGE_OK;
}
