/*
 * SSD decoding: handcrafted regressor rows decoded by hand with the
 * BlazeFace short-range options (XYWH, scales 128, fixed anchor size),
 * score sigmoid and clipping, the row filters, YXHW order, exponential
 * sizes, several classes, and bad options.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "verge/vision.h"

enum { ROWS = 896, COORDS = 16 };

static verge_anchor anchors[ROWS];
static float boxes[ROWS * COORDS];
static float scores[ROWS];
static verge_detection out[ROWS];
static verge_ssd_decode_options options;

/* Resets the tensors to "nothing here" (score logit -5 -> 0.0067) and the short-range options. */
static void reset(void)
{
    const verge_head_spec *spec;
    size_t count;

    CHECK_OK(verge_head_find("blazeface_short_range", &spec));
    options = spec->decode;
    CHECK_OK(verge_ssd_anchors_generate(&spec->anchors, anchors, ROWS, &count));
    memset(boxes, 0, sizeof(boxes));
    for (int i = 0; i < ROWS; i++)
        scores[i] = -5.0f;
}

/*
 * Row 0, anchor (0.03125, 0.03125, 1, 1): x = 12.8, y = -6.4, w = 25.6,
 * h = 38.4, keypoint 0 = (3.2, 6.4), others 0. Divided by 128:
 * centre (0.1 + 0.03125, -0.05 + 0.03125) = (0.13125, -0.01875), size
 * 0.2 x 0.3, box [0.03125, -0.16875, 0.23125, 0.13125]; keypoint 0 =
 * (0.025 + 0.03125, 0.05 + 0.03125) = (0.05625, 0.08125); the others sit on
 * the anchor centre. Logit 2 -> sigmoid 0.8807971.
 */
static void blazeface_row(void)
{
    size_t count;

    reset();
    const float row[COORDS] = { 12.8f, -6.4f, 25.6f, 38.4f, 3.2f, 6.4f };
    memcpy(boxes, row, sizeof(row));
    scores[0] = 2.0f;

    CHECK_OK(verge_ssd_decode(&options, anchors, boxes, scores, out, ROWS, &count));
    CHECK_EQ_INT(count, 1);
    CHECK_EQ_INT(out[0].class_id, 0);
    CHECK_NEAR(out[0].score, 0.8807971, 1e-6);
    CHECK_NEAR(out[0].box[0], 0.03125, 1e-6);
    CHECK_NEAR(out[0].box[1], -0.16875, 1e-6);
    CHECK_NEAR(out[0].box[2], 0.23125, 1e-6);
    CHECK_NEAR(out[0].box[3], 0.13125, 1e-6);
    CHECK_EQ_INT(out[0].num_keypoints, 6);
    CHECK_NEAR(out[0].keypoints[0][0], 0.05625, 1e-6);
    CHECK_NEAR(out[0].keypoints[0][1], 0.08125, 1e-6);
    for (int k = 1; k < 6; k++) {
        CHECK_NEAR(out[0].keypoints[k][0], 0.03125, 1e-7);
        CHECK_NEAR(out[0].keypoints[k][1], 0.03125, 1e-7);
    }

    /* The same row on anchor 895 (0.9375, 0.9375) moves by the anchor offset only. */
    memcpy(boxes + 895 * COORDS, row, sizeof(row));
    scores[895] = 3.0f;
    CHECK_OK(verge_ssd_decode(&options, anchors, boxes, scores, out, ROWS, &count));
    CHECK_EQ_INT(count, 2);
    CHECK_NEAR(out[1].score, 0.9525741, 1e-6);
    CHECK_NEAR(out[1].box[0], 0.13125 + (0.9375 - 0.03125) - 0.1, 1e-6);
    CHECK_NEAR(out[1].box[3], -0.01875 + (0.9375 - 0.03125) + 0.15, 1e-6);
}

/* YXHW order reads y, x, h, w and keypoints as y, x. */
static void yxhw_order(void)
{
    size_t count;

    reset();
    options.box_format = VERGE_BOX_YXHW;
    const float row[COORDS] = { -6.4f, 12.8f, 38.4f, 25.6f, 6.4f, 3.2f };
    memcpy(boxes, row, sizeof(row));
    scores[0] = 2.0f;
    CHECK_OK(verge_ssd_decode(&options, anchors, boxes, scores, out, ROWS, &count));
    CHECK_EQ_INT(count, 1);
    CHECK_NEAR(out[0].box[0], 0.03125, 1e-6);
    CHECK_NEAR(out[0].box[1], -0.16875, 1e-6);
    CHECK_NEAR(out[0].box[2], 0.23125, 1e-6);
    CHECK_NEAR(out[0].box[3], 0.13125, 1e-6);
    CHECK_NEAR(out[0].keypoints[0][0], 0.05625, 1e-6);
    CHECK_NEAR(out[0].keypoints[0][1], 0.08125, 1e-6);
}

/*
 * Scores: a logit of exactly 0 gives 0.5, which passes min_score 0.5 (the
 * test is score < min_score -> drop, as in MediaPipe). Clipping at 100
 * turns +1000 and +inf into sigmoid(100) = 1 and -inf into sigmoid(-100),
 * which min_score drops. NaN never passes.
 */
static void scores_and_clipping(void)
{
    size_t count;

    reset();
    for (int i = 0; i < 5; i++)
        boxes[i * COORDS + 2] = boxes[i * COORDS + 3] = 12.8f;
    scores[0] = 0.0f;
    scores[1] = 1000.0f;
    scores[2] = -INFINITY;
    scores[3] = NAN;
    scores[4] = INFINITY;
    CHECK_OK(verge_ssd_decode(&options, anchors, boxes, scores, out, ROWS, &count));
    CHECK_EQ_INT(count, 3);
    CHECK_NEAR(out[0].score, 0.5, 0);
    CHECK_NEAR(out[1].score, 1.0, 0);
    CHECK_NEAR(out[2].score, 1.0, 0);

    options.min_score = 0.0f;
    CHECK_OK(verge_ssd_decode(&options, anchors, boxes, scores, out, ROWS, &count));
    CHECK_EQ_INT(count, ROWS - 1); /* every row but the NaN one */
    /* expf(100) overflows float to infinity, so sigmoid(-100) is exactly 0 here. */
    CHECK_NEAR(out[2].score, 0.0, 0);

    /* Without sigmoid the raw value is the score. */
    options.sigmoid_score = false;
    options.min_score = 0.5f;
    scores[0] = 0.7f;
    CHECK_OK(verge_ssd_decode(&options, anchors, boxes, scores, out, ROWS, &count));
    CHECK_EQ_INT(count, 3); /* 0.7, 1000, +inf */
    CHECK_NEAR(out[0].score, 0.7f, 0);
}

/* Negative sizes, NaN and infinite values drop the row; a zero size is kept, as in MediaPipe. */
static void row_filters(void)
{
    size_t count;

    reset();
    for (int i = 0; i < 6; i++) {
        boxes[i * COORDS + 2] = boxes[i * COORDS + 3] = 12.8f;
        scores[i] = 4.0f;
    }
    boxes[0 * COORDS + 2] = -1.0f;           /* negative width */
    boxes[1 * COORDS + 3] = NAN;             /* NaN height */
    boxes[2 * COORDS + 0] = INFINITY;        /* infinite x */
    boxes[3 * COORDS + 4 + 2 * 5 + 1] = NAN; /* NaN in the last keypoint */
    boxes[4 * COORDS + 2] = 0.0f;            /* zero width: kept */
    CHECK_OK(verge_ssd_decode(&options, anchors, boxes, scores, out, ROWS, &count));
    CHECK_EQ_INT(count, 2);
    CHECK_NEAR(out[0].box[2] - out[0].box[0], 0, 0);
    CHECK_NEAR(out[1].box[2] - out[1].box[0], 0.1, 1e-6);
}

/* Exponential sizes: raw w = 128 ln 2 -> w = 2 * anchor.w. */
static void exponential_sizes(void)
{
    size_t count;

    reset();
    options.apply_exponential_on_box_size = true;
    boxes[2] = 128.0f * logf(2.0f);
    boxes[3] = 0.0f;
    scores[0] = 3.0f;
    CHECK_OK(verge_ssd_decode(&options, anchors, boxes, scores, out, ROWS, &count));
    CHECK_EQ_INT(count, 1);
    CHECK_NEAR(out[0].box[2] - out[0].box[0], 2.0, 1e-5);
    CHECK_NEAR(out[0].box[3] - out[0].box[1], 1.0, 1e-6);
}

/* Three classes, raw scores used as they are: the best class wins. */
static void several_classes(void)
{
    verge_anchor a[2] = { { 0.5f, 0.5f, 1.0f, 1.0f }, { 0.25f, 0.25f, 1.0f, 1.0f } };
    float b[2 * 4] = { 0, 0, 10, 10, 0, 0, 10, 10 };
    float s[2 * 3] = { 0.1f, 0.9f, 0.3f, 0.2f, 0.1f, 0.05f };
    verge_ssd_decode_options o = { .num_boxes = 2, .num_coords = 4, .num_classes = 3,
                                   .box_format = VERGE_BOX_XYWH, .x_scale = 10, .y_scale = 10,
                                   .w_scale = 10, .h_scale = 10, .min_score = 0.15f };
    verge_detection d[2];
    size_t count;

    CHECK_OK(verge_ssd_decode(&o, a, b, s, d, 2, &count));
    CHECK_EQ_INT(count, 2);
    CHECK_EQ_INT(d[0].class_id, 1);
    CHECK_NEAR(d[0].score, 0.9f, 0);
    CHECK_EQ_INT(d[1].class_id, 0);
    CHECK_NEAR(d[1].box[0], -0.25, 1e-6);
    CHECK_NEAR(d[1].box[2], 0.75, 1e-6);
    CHECK_EQ_INT(d[1].num_keypoints, 0);

    /* Capacity 1 is too small for 2 passing rows: the message gives both numbers. */
    CHECK_STATUS(verge_ssd_decode(&o, a, b, s, d, 1, &count), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "2 rows") != NULL);
    CHECK_EQ_INT(count, 0);
}

static void bad_options(void)
{
    size_t count;
    verge_ssd_decode_options o;

    reset();
    o = options;
    o.num_keypoints = 7; /* 4 + 14 > 16 */
    CHECK_STATUS(verge_ssd_decode(&o, anchors, boxes, scores, out, ROWS, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);
    o = options;
    o.num_keypoints = VERGE_MAX_KEYPOINTS + 1;
    o.num_coords = 100;
    CHECK_STATUS(verge_ssd_decode(&o, anchors, boxes, scores, out, ROWS, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);
    o = options;
    o.box_coord_offset = 13;
    CHECK_STATUS(verge_ssd_decode(&o, anchors, boxes, scores, out, ROWS, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);
    o = options;
    o.x_scale = 0.0f;
    CHECK_STATUS(verge_ssd_decode(&o, anchors, boxes, scores, out, ROWS, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);
    o = options;
    o.num_classes = 0;
    CHECK_STATUS(verge_ssd_decode(&o, anchors, boxes, scores, out, ROWS, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);
    o = options;
    o.box_format = (verge_box_format)5;
    CHECK_STATUS(verge_ssd_decode(&o, anchors, boxes, scores, out, ROWS, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);
    o = options;
    o.min_score = NAN;
    CHECK_STATUS(verge_ssd_decode(&o, anchors, boxes, scores, out, ROWS, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_ssd_decode(&options, anchors, NULL, scores, out, ROWS, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);
}

int main(void)
{
    RUN(blazeface_row);
    RUN(yxhw_order);
    RUN(scores_and_clipping);
    RUN(row_filters);
    RUN(exponential_sizes);
    RUN(several_classes);
    RUN(bad_options);
    return check_summary();
}
