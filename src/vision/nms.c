/*
 * Non-maximum suppression: MediaPipe's weighted algorithm and greedy hard
 * NMS (mediapipe/calculators/util/non_max_suppression_calculator.cc), with
 * IoU as MediaPipe's INTERSECTION_OVER_UNION overlap type computes it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "verge/vision.h"
#include "vision/detect_internal.h"

float verge_box_iou(const float a[4], const float b[4])
{
    const float a_w = a[2] - a[0];
    const float a_h = a[3] - a[1];
    const float b_w = b[2] - b[0];
    const float b_h = b[3] - b[1];

    /* Written as !(x > 0) so that NaN sizes are rejected too. */
    if (!(a_w > 0.0f) || !(a_h > 0.0f) || !(b_w > 0.0f) || !(b_h > 0.0f))
        return 0.0f;

    const float inter_w = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    const float inter_h = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);

    if (!(inter_w > 0.0f) || !(inter_h > 0.0f))
        return 0.0f;

    const float inter = inter_w * inter_h;
    const float uni = a_w * a_h + b_w * b_h - inter;
    const float iou = inter / uni;

    /* An infinite coordinate gives inf / inf; treat such boxes as disjoint. */
    if (!(uni > 0.0f) || !isfinite(iou))
        return 0.0f;
    return iou;
}

/* Orders by decreasing score, then by the record's bytes, so that ties sort the same on every platform. */
static int compare_detections(const void *pa, const void *pb)
{
    const verge_detection *a = pa;
    const verge_detection *b = pb;

    if (a->score > b->score)
        return -1;
    if (a->score < b->score)
        return 1;
    return memcmp(a, b, sizeof(*a));
}

/* Replaces the leader's box and keypoints with the score-weighted means of its cluster. */
typedef struct cluster_sum {
    float box[4];
    float keypoints[VERGE_MAX_KEYPOINTS][2];
    float total_score;
} cluster_sum;

static void cluster_add(cluster_sum *sum, const verge_detection *d, int num_keypoints)
{
    const float s = d->score;

    sum->total_score += s;
    for (int i = 0; i < 4; i++)
        sum->box[i] += d->box[i] * s;
    for (int k = 0; k < num_keypoints; k++) {
        sum->keypoints[k][0] += d->keypoints[k][0] * s;
        sum->keypoints[k][1] += d->keypoints[k][1] * s;
    }
}

static void cluster_write(const cluster_sum *sum, verge_detection *leader)
{
    /* Scores that sum to zero or less give no weights: the leader keeps its own location. */
    if (!(sum->total_score > 0.0f))
        return;
    for (int i = 0; i < 4; i++)
        leader->box[i] = sum->box[i] / sum->total_score;
    for (int k = 0; k < leader->num_keypoints; k++) {
        leader->keypoints[k][0] = sum->keypoints[k][0] / sum->total_score;
        leader->keypoints[k][1] = sum->keypoints[k][1] / sum->total_score;
    }
}

verge_status verge_nms_check(const verge_nms_options *options)
{
    if (options == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "nms: options are NULL");
    if (options->algorithm != VERGE_NMS_WEIGHTED && options->algorithm != VERGE_NMS_HARD)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "nms: algorithm %d is unknown (0 = weighted, 1 = hard)",
                          (int)options->algorithm);
    if (!(options->iou_threshold >= 0.0f && options->iou_threshold <= 1.0f))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "nms: IoU threshold %g is outside 0..1", (double)options->iou_threshold);
    if (options->max_detections < 0)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "nms: max_detections %d is negative (0 keeps all)",
                          options->max_detections);
    return VERGE_OK;
}

verge_status verge_nms_run(const verge_nms_options *options, verge_detection *detections,
                           size_t count, size_t *kept)
{
    verge_status status;
    size_t n = 0;

    *kept = 0;
    if (options == NULL || (detections == NULL && count > 0))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "nms: options or detections are NULL");
    status = verge_nms_check(options);
    if (status != VERGE_OK)
        return status;
    for (size_t i = 0; i < count; i++)
        if (detections[i].num_keypoints < 0 || detections[i].num_keypoints > VERGE_MAX_KEYPOINTS)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "nms: detection %zu has %d keypoints; the range is 0..%d", i,
                              detections[i].num_keypoints, VERGE_MAX_KEYPOINTS);

    for (size_t i = 0; i < count; i++)
        if (!isnan(detections[i].score))
            detections[n++] = detections[i];
    if (n > 1)
        qsort(detections, n, sizeof(*detections), compare_detections);

    const bool weighted = options->algorithm == VERGE_NMS_WEIGHTED;
    const size_t limit = options->max_detections > 0 ? (size_t)options->max_detections : n;
    const float threshold = options->iou_threshold;
    size_t leaders = 0;

    /*
     * detections[0, leaders) are finished and detections[leaders, n) remain,
     * still in decreasing score order. The next leader is detections[leaders].
     * The survivors of its pass are compacted in order behind it.
     */
    while (leaders < n && leaders < limit) {
        verge_detection *leader = &detections[leaders];
        cluster_sum sum;
        size_t write = leaders + 1;

        memset(&sum, 0, sizeof(sum));
        cluster_add(&sum, leader, leader->num_keypoints);
        for (size_t j = leaders + 1; j < n; j++) {
            const verge_detection *other = &detections[j];
            const bool same_class = !options->class_aware || other->class_id == leader->class_id;

            if (!same_class || !(verge_box_iou(leader->box, other->box) > threshold)) {
                if (write != j)
                    detections[write] = *other;
                write++;
                continue;
            }
            if (weighted)
                cluster_add(&sum, other, leader->num_keypoints);
        }
        if (weighted)
            cluster_write(&sum, leader);
        n = write;
        leaders++;
    }

    *kept = leaders;
    return VERGE_OK;
}
