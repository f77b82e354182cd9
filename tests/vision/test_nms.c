/*
 * IoU edge cases and non-maximum suppression: weighted averages computed
 * by hand, hard NMS, the strict threshold, caps, NaN scores, zero-area
 * leaders, class-aware mode and independence from the input order.
 */
#include <string.h>

#include "check.h"
#include "verge/vision.h"

static verge_detection make(float score, float x0, float y0, float x1, float y1, float kx, float ky)
{
    verge_detection d;

    memset(&d, 0, sizeof(d));
    d.score = score;
    d.box[0] = x0, d.box[1] = y0, d.box[2] = x1, d.box[3] = y1;
    d.num_keypoints = 1;
    d.keypoints[0][0] = kx;
    d.keypoints[0][1] = ky;
    return d;
}

static float iou(float a0, float a1, float a2, float a3, float b0, float b1, float b2, float b3)
{
    const float a[4] = { a0, a1, a2, a3 };
    const float b[4] = { b0, b1, b2, b3 };
    return verge_box_iou(a, b);
}

static void iou_cases(void)
{
    CHECK_NEAR(iou(0, 0, 2, 2, 0, 0, 2, 2), 1.0, 0);                 /* identical */
    CHECK_NEAR(iou(0, 0, 2, 2, 1, 1, 3, 3), 1.0 / 7.0, 1e-7);        /* 1 / (4 + 4 - 1) */
    CHECK_NEAR(iou(0, 0, 4, 4, 1, 1, 3, 3), 0.25, 1e-7);             /* nested: 4 / 16 */
    CHECK_NEAR(iou(1, 1, 3, 3, 0, 0, 4, 4), 0.25, 1e-7);             /* symmetric */
    CHECK_NEAR(iou(0, 0, 1, 1, 5, 5, 6, 6), 0.0, 0);                 /* disjoint */
    CHECK_NEAR(iou(0, 0, 1, 1, 1, 0, 2, 1), 0.0, 0);                 /* sharing an edge */
    CHECK_NEAR(iou(0, 0, 1, 1, 1, 1, 2, 2), 0.0, 0);                 /* sharing a corner */
    CHECK_NEAR(iou(1, 1, 1, 3, 0, 0, 2, 4), 0.0, 0);                 /* zero width inside */
    CHECK_NEAR(iou(1, 1, 1, 1, 1, 1, 1, 1), 0.0, 0);                 /* two identical points */
    CHECK_NEAR(iou(2, 2, 0, 0, 0, 0, 2, 2), 0.0, 0);                 /* inverted */
    CHECK_NEAR(iou(NAN, 0, 2, 2, 0, 0, 2, 2), 0.0, 0);
    CHECK_NEAR(iou(0, 0, 2, 2, 0, 0, 2, NAN), 0.0, 0);
    CHECK_NEAR(iou(0, 0, INFINITY, 2, 0, 0, 2, 2), 0.0, 0);
    CHECK_NEAR(iou(-INFINITY, 0, INFINITY, 2, -INFINITY, 0, INFINITY, 2), 0.0, 0);
}

/*
 * A (0.9, [0,0,10,10], keypoint (1,1)) and B (0.6, [1,1,11,11], (2,3)) overlap
 * with IoU 81 / 119 = 0.68 > 0.3; C (0.8, [20,20,30,30], (25,25)) is apart.
 * Weighted: A's cluster {A, B} has weights 0.9 + 0.6 = 1.5:
 *   x_min = (0 * 0.9 + 1 * 0.6) / 1.5 = 0.4, x_max = (10 * 0.9 + 11 * 0.6) / 1.5 = 10.4
 *   keypoint x = (1 * 0.9 + 2 * 0.6) / 1.5 = 1.4, y = (0.9 + 3 * 0.6) / 1.5 = 1.8
 * and keeps A's score 0.9. Output order: A', C.
 */
static void weighted_by_hand(void)
{
    verge_detection d[3] = {
        make(0.6f, 1, 1, 11, 11, 2, 3),
        make(0.8f, 20, 20, 30, 30, 25, 25),
        make(0.9f, 0, 0, 10, 10, 1, 1),
    };
    verge_nms_options o = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f };
    size_t kept;

    CHECK_OK(verge_nms_run(&o, d, 3, &kept));
    CHECK_EQ_INT(kept, 2);
    CHECK_NEAR(d[0].score, 0.9f, 0);
    CHECK_NEAR(d[0].box[0], 0.4, 1e-6);
    CHECK_NEAR(d[0].box[1], 0.4, 1e-6);
    CHECK_NEAR(d[0].box[2], 10.4, 1e-5);
    CHECK_NEAR(d[0].box[3], 10.4, 1e-5);
    CHECK_NEAR(d[0].keypoints[0][0], 1.4, 1e-6);
    CHECK_NEAR(d[0].keypoints[0][1], 1.8, 1e-6);
    CHECK_NEAR(d[1].score, 0.8f, 0);
    CHECK_NEAR(d[1].box[0], 20, 0);
    CHECK_NEAR(d[1].keypoints[0][0], 25, 0);
}

/*
 * A cluster of three: L (0.5, [0,0,4,4]), M (0.3, [0,0,4,5]), N (0.2, [1,0,4,4]).
 * IoU(L,M) = 16/20 = 0.8, IoU(L,N) = 12/16 = 0.75. Weights sum 1.0:
 *   x_min = (0 + 0 + 0.2) = 0.2, y_max = 4 * 0.5 + 5 * 0.3 + 4 * 0.2 = 4.3.
 */
static void weighted_three(void)
{
    verge_detection d[3] = {
        make(0.2f, 1, 0, 4, 4, 0, 0),
        make(0.5f, 0, 0, 4, 4, 0, 0),
        make(0.3f, 0, 0, 4, 5, 0, 10),
    };
    verge_nms_options o = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f };
    size_t kept;

    CHECK_OK(verge_nms_run(&o, d, 3, &kept));
    CHECK_EQ_INT(kept, 1);
    CHECK_NEAR(d[0].score, 0.5f, 0);
    CHECK_NEAR(d[0].box[0], 0.2, 1e-6);
    CHECK_NEAR(d[0].box[1], 0.0, 0);
    CHECK_NEAR(d[0].box[2], 4.0, 1e-6);
    CHECK_NEAR(d[0].box[3], 4.3, 1e-6);
    CHECK_NEAR(d[0].keypoints[0][1], 3.0, 1e-6);
}

/* Identical boxes merge; the box stays, keypoints are averaged (0.9 * 0 + 0.3 * 4) / 1.2 = 1. */
static void identical_boxes(void)
{
    verge_detection d[2] = { make(0.3f, 5, 5, 9, 9, 4, 8), make(0.9f, 5, 5, 9, 9, 0, 0) };
    verge_nms_options o = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f };
    size_t kept;

    CHECK_OK(verge_nms_run(&o, d, 2, &kept));
    CHECK_EQ_INT(kept, 1);
    CHECK_NEAR(d[0].box[0], 5, 1e-6);
    CHECK_NEAR(d[0].box[3], 9, 1e-6);
    CHECK_NEAR(d[0].keypoints[0][0], 1.0, 1e-6);
    CHECK_NEAR(d[0].keypoints[0][1], 2.0, 1e-6);
}

/* Hard NMS on the first example drops B and leaves A unchanged. */
static void hard(void)
{
    verge_detection d[3] = {
        make(0.6f, 1, 1, 11, 11, 2, 3),
        make(0.8f, 20, 20, 30, 30, 25, 25),
        make(0.9f, 0, 0, 10, 10, 1, 1),
    };
    verge_nms_options o = { .algorithm = VERGE_NMS_HARD, .iou_threshold = 0.3f };
    size_t kept;

    CHECK_OK(verge_nms_run(&o, d, 3, &kept));
    CHECK_EQ_INT(kept, 2);
    CHECK_NEAR(d[0].box[0], 0, 0);
    CHECK_NEAR(d[0].box[2], 10, 0);
    CHECK_NEAR(d[0].keypoints[0][0], 1, 0);
    CHECK_NEAR(d[1].score, 0.8f, 0);

    /*
     * Chain: X overlaps Y, Y overlaps Z, X and Z are apart. Y is dropped by
     * X, so it cannot drop Z (greedy NMS keeps X and Z).
     */
    verge_detection c[3] = {
        make(0.9f, 0, 0, 2, 1, 0, 0),
        make(0.8f, 1, 0, 3, 1, 0, 0),
        make(0.7f, 2, 0, 4, 1, 0, 0),
    };
    CHECK_OK(verge_nms_run(&o, c, 3, &kept));
    CHECK_EQ_INT(kept, 2);
    CHECK_NEAR(c[0].box[0], 0, 0);
    CHECK_NEAR(c[1].box[0], 2, 0);
}

/* Suppression needs IoU > threshold: at exactly the threshold both stay. */
static void threshold_is_strict(void)
{
    verge_detection d[2] = { make(0.9f, 0, 0, 2, 1, 0, 0), make(0.8f, 1, 0, 3, 1, 0, 0) };
    verge_nms_options o = { .algorithm = VERGE_NMS_HARD, .iou_threshold = 1.0f / 3.0f };
    size_t kept;

    CHECK_NEAR(verge_box_iou(d[0].box, d[1].box), 1.0f / 3.0f, 0);
    CHECK_OK(verge_nms_run(&o, d, 2, &kept));
    CHECK_EQ_INT(kept, 2);
    o.iou_threshold = 0.33f;
    CHECK_OK(verge_nms_run(&o, d, 2, &kept));
    CHECK_EQ_INT(kept, 1);
}

/* max_detections keeps the best ones; 0 keeps all. */
static void max_detections(void)
{
    verge_detection d[4];
    verge_nms_options o = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f,
                            .max_detections = 2 };
    size_t kept;

    for (int i = 0; i < 4; i++)
        d[i] = make(0.1f * (float)(i + 1), 10.0f * i, 0, 10.0f * i + 5, 5, 0, 0);
    CHECK_OK(verge_nms_run(&o, d, 4, &kept));
    CHECK_EQ_INT(kept, 2);
    CHECK_NEAR(d[0].score, 0.4f, 0);
    CHECK_NEAR(d[1].score, 0.3f, 0);

    for (int i = 0; i < 4; i++)
        d[i] = make(0.1f * (float)(i + 1), 10.0f * i, 0, 10.0f * i + 5, 5, 0, 0);
    o.max_detections = 0;
    CHECK_OK(verge_nms_run(&o, d, 4, &kept));
    CHECK_EQ_INT(kept, 4);
}

/* NaN scores are dropped; a NaN box never suppresses or is suppressed. */
static void nan_scores_and_boxes(void)
{
    verge_detection d[4] = {
        make(NAN, 0, 0, 10, 10, 0, 0),
        make(0.7f, 0, 0, 10, 10, 0, 0),
        make(0.9f, NAN, 0, 10, 10, 0, 0),
        make(0.5f, 1, 1, 10, 10, 0, 0),
    };
    verge_nms_options o = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f };
    size_t kept;

    CHECK_OK(verge_nms_run(&o, d, 4, &kept));
    CHECK_EQ_INT(kept, 2);
    CHECK_NEAR(d[0].score, 0.9f, 0);
    CHECK(isnan(d[0].box[0]));
    CHECK_NEAR(d[1].score, 0.7f, 0);
    CHECK_NEAR(d[1].box[0], 0.5 / 1.2, 1e-6); /* (0 * 0.7 + 1 * 0.5) / 1.2 */

    verge_detection all_nan[2] = { make(NAN, 0, 0, 1, 1, 0, 0), make(NAN, 0, 0, 1, 1, 0, 0) };
    CHECK_OK(verge_nms_run(&o, all_nan, 2, &kept));
    CHECK_EQ_INT(kept, 0);
}

/*
 * A zero-area leader overlaps nothing, so it stays as it is and the pass goes
 * on to the next leader. MediaPipe would stop here (see vision.h).
 */
static void zero_area_leader(void)
{
    verge_detection d[3] = {
        make(0.95f, 3, 3, 3, 3, 0, 0),
        make(0.9f, 0, 0, 10, 10, 0, 0),
        make(0.6f, 0, 0, 10, 11, 0, 0),
    };
    verge_nms_options o = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f };
    size_t kept;

    CHECK_OK(verge_nms_run(&o, d, 3, &kept));
    CHECK_EQ_INT(kept, 2);
    CHECK_NEAR(d[0].box[0], 3, 0);
    CHECK_NEAR(d[0].box[2], 3, 0);
    CHECK_NEAR(d[1].box[3], (10 * 0.9 + 11 * 0.6) / 1.5, 1e-5);
}

/* Class-aware mode keeps overlapping detections of different classes apart. */
static void class_aware(void)
{
    verge_detection d[2] = { make(0.9f, 0, 0, 10, 10, 0, 0), make(0.8f, 0, 0, 10, 10, 0, 0) };
    verge_nms_options o = { .algorithm = VERGE_NMS_HARD, .iou_threshold = 0.3f, .class_aware = true };
    size_t kept;

    d[1].class_id = 3;
    CHECK_OK(verge_nms_run(&o, d, 2, &kept));
    CHECK_EQ_INT(kept, 2);
    o.class_aware = false;
    CHECK_OK(verge_nms_run(&o, d, 2, &kept));
    CHECK_EQ_INT(kept, 1);
}

/* The result does not depend on the input order, ties included. */
static void order_independent(void)
{
    enum { N = 12 };
    verge_detection base[N], shuffled[N];
    verge_nms_options o = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f };
    size_t kept_a, kept_b;
    unsigned seed = 7;

    for (int i = 0; i < N; i++)
        base[i] = make(i % 3 == 0 ? 0.5f : 0.1f * (float)(i % 5 + 1), (float)(i % 4) * 3,
                       (float)(i / 4) * 3, (float)(i % 4) * 3 + 4, (float)(i / 4) * 3 + 4,
                       (float)i, (float)-i);
    memcpy(shuffled, base, sizeof(base));
    for (int i = N - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        int j = (int)((seed >> 8) % (unsigned)(i + 1));
        verge_detection t = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = t;
    }
    CHECK_OK(verge_nms_run(&o, base, N, &kept_a));
    CHECK_OK(verge_nms_run(&o, shuffled, N, &kept_b));
    CHECK_EQ_INT(kept_a, kept_b);
    CHECK(memcmp(base, shuffled, kept_a * sizeof(base[0])) == 0);
    for (size_t i = 1; i < kept_a; i++)
        CHECK(base[i - 1].score >= base[i].score);
}

static void bad_options(void)
{
    verge_detection d[1] = { make(0.9f, 0, 0, 1, 1, 0, 0) };
    verge_nms_options o = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f };
    size_t kept = 5;

    CHECK_OK(verge_nms_run(&o, NULL, 0, &kept));
    CHECK_EQ_INT(kept, 0);
    o.iou_threshold = 1.5f;
    CHECK_STATUS(verge_nms_run(&o, d, 1, &kept), VERGE_STATUS_INVALID_ARGUMENT);
    o.iou_threshold = NAN;
    CHECK_STATUS(verge_nms_run(&o, d, 1, &kept), VERGE_STATUS_INVALID_ARGUMENT);
    o.iou_threshold = 0.3f;
    o.max_detections = -1;
    CHECK_STATUS(verge_nms_run(&o, d, 1, &kept), VERGE_STATUS_INVALID_ARGUMENT);
    o.max_detections = 0;
    o.algorithm = (verge_nms_algorithm)9;
    CHECK_STATUS(verge_nms_run(&o, d, 1, &kept), VERGE_STATUS_INVALID_ARGUMENT);
    o.algorithm = VERGE_NMS_HARD;
    d[0].num_keypoints = VERGE_MAX_KEYPOINTS + 1;
    CHECK_STATUS(verge_nms_run(&o, d, 1, &kept), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_nms_run(NULL, d, 1, &kept), VERGE_STATUS_INVALID_ARGUMENT);
}

int main(void)
{
    RUN(iou_cases);
    RUN(weighted_by_hand);
    RUN(weighted_three);
    RUN(identical_boxes);
    RUN(hard);
    RUN(threshold_is_strict);
    RUN(max_detections);
    RUN(nan_scores_and_boxes);
    RUN(zero_area_leader);
    RUN(class_aware);
    RUN(order_independent);
    RUN(bad_options);
    return check_summary();
}
