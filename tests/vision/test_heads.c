/*
 * Detection heads. The tests pick a preset from the model's shapes (short
 * range, full range, either output order, unknown and ambiguous models) and
 * check a head given by name. They also run the whole decode path of a head
 * on handcrafted outputs and map the result back to frame pixels.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "verge/vision.h"

static verge_dims dims3(int a, int b, int c)
{
    verge_dims d = { .rank = 3, .dims = { a, b, c } };
    return d;
}

static verge_dims dims4(int a, int b, int c, int e)
{
    verge_dims d = { .rank = 4, .dims = { a, b, c, e } };
    return d;
}

static void has(const char *needle)
{
    CHECK_MSG(strstr(verge_error_message(), needle) != NULL, "message lacks '%s': %s", needle,
              verge_error_message());
}

static void presets(void)
{
    const verge_head_spec *spec;

    CHECK_EQ_INT(verge_head_preset_count(), 2);
    CHECK(verge_head_preset(-1) == NULL);
    CHECK(verge_head_preset(2) == NULL);
    CHECK_OK(verge_head_find("blazeface_full_range", &spec));
    CHECK(spec == verge_head_preset(1));
    CHECK_EQ_INT(spec->decode.num_boxes, 2304);
    CHECK_NEAR(spec->decode.min_score, 0.6f, 0);

    CHECK_STATUS(verge_head_find("yolo", &spec), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(spec == NULL);
    has("'yolo'");
    has("blazeface_short_range");
    has("blazeface_full_range");
    CHECK_STATUS(verge_head_find(NULL, &spec), VERGE_STATUS_INVALID_ARGUMENT);
}

static void detect_short_and_full(void)
{
    const verge_head_spec *spec;
    int box = -1, score = -1;

    verge_dims in = dims4(1, 128, 128, 3);
    verge_dims out[2] = { dims3(1, 896, 16), dims3(1, 896, 1) };
    CHECK_OK(verge_head_detect(&in, out, 2, &spec));
    CHECK(spec != NULL);
    CHECK(spec != NULL && strcmp(spec->name, "blazeface_short_range") == 0);
    CHECK_OK(verge_head_check(spec, &in, out, 2, &box, &score));
    CHECK_EQ_INT(box, 0);
    CHECK_EQ_INT(score, 1);

    /* Scores first: found by the last dimension. */
    verge_dims swapped[2] = { dims3(1, 896, 1), dims3(1, 896, 16) };
    CHECK_OK(verge_head_detect(&in, swapped, 2, &spec));
    CHECK(spec != NULL);
    CHECK(spec != NULL && strcmp(spec->name, "blazeface_short_range") == 0);
    CHECK_OK(verge_head_check(spec, &in, swapped, 2, &box, &score));
    CHECK_EQ_INT(box, 1);
    CHECK_EQ_INT(score, 0);

    verge_dims full_in = dims4(1, 192, 192, 3);
    verge_dims full_out[2] = { dims3(1, 2304, 16), dims3(1, 2304, 1) };
    CHECK_OK(verge_head_detect(&full_in, full_out, 2, &spec));
    CHECK(spec != NULL);
    CHECK(spec != NULL && strcmp(spec->name, "blazeface_full_range") == 0);

    /* Leading 1s may be dropped or added. */
    verge_dims flat[2] = { { .rank = 2, .dims = { 2304, 16 } }, dims4(1, 1, 2304, 1) };
    CHECK_OK(verge_head_detect(&full_in, flat, 2, &spec));
    CHECK(spec != NULL);
    CHECK(spec != NULL && strcmp(spec->name, "blazeface_full_range") == 0);
}

static void detect_unknown(void)
{
    const verge_head_spec *spec = (const verge_head_spec *)1;

    /* hand_landmark: [1,224,224,3] -> [1,63], [1,1] */
    verge_dims in = dims4(1, 224, 224, 3);
    verge_dims out[2] = { { .rank = 2, .dims = { 1, 63 } }, { .rank = 2, .dims = { 1, 1 } } };
    CHECK_STATUS(verge_head_detect(&in, out, 2, &spec), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(spec == NULL);
    has("[1,224,224,3]");
    has("[1,63]");
    has("blazeface_short_range (input [1,128,128,3], outputs [1,896,16] and [1,896,1])");
    has("blazeface_full_range (input [1,192,192,3], outputs [1,2304,16] and [1,2304,1])");
    has("--head");

    /* Right input, wrong anchor count; a batch of 2; three outputs; no outputs. */
    verge_dims short_in = dims4(1, 128, 128, 3);
    verge_dims wrong_count[2] = { dims3(1, 900, 16), dims3(1, 900, 1) };
    CHECK_STATUS(verge_head_detect(&short_in, wrong_count, 2, &spec), VERGE_STATUS_INVALID_ARGUMENT);
    verge_dims batch[2] = { dims3(2, 896, 16), dims3(2, 896, 1) };
    CHECK_STATUS(verge_head_detect(&short_in, batch, 2, &spec), VERGE_STATUS_INVALID_ARGUMENT);
    verge_dims three[3] = { dims3(1, 896, 16), dims3(1, 896, 1), dims3(1, 896, 1) };
    CHECK_STATUS(verge_head_detect(&short_in, three, 3, &spec), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_head_detect(&short_in, NULL, 0, &spec), VERGE_STATUS_INVALID_ARGUMENT);
    has("(none)");
    /* Two box tensors and no score tensor. */
    verge_dims two_boxes[2] = { dims3(1, 896, 16), dims3(1, 896, 16) };
    CHECK_STATUS(verge_head_detect(&short_in, two_boxes, 2, &spec), VERGE_STATUS_INVALID_ARGUMENT);
    /* Grayscale input. */
    verge_dims gray = dims4(1, 128, 128, 1);
    verge_dims out_ok[2] = { dims3(1, 896, 16), dims3(1, 896, 1) };
    CHECK_STATUS(verge_head_detect(&gray, out_ok, 2, &spec), VERGE_STATUS_INVALID_ARGUMENT);
    /* A rank beyond the limit is reported, not read. */
    verge_dims broken = { .rank = 99 };
    CHECK_STATUS(verge_head_detect(&broken, out_ok, 2, &spec), VERGE_STATUS_INVALID_ARGUMENT);
    has("(invalid shape)");
}

static void detect_ambiguous(void)
{
    verge_head_spec specs[3];
    const verge_head_spec *spec;

    specs[0] = *verge_head_preset(0);
    specs[1] = *verge_head_preset(0);
    specs[1].name = "faces_tuned";
    specs[2] = *verge_head_preset(1);

    verge_dims in = dims4(1, 128, 128, 3);
    verge_dims out[2] = { dims3(1, 896, 16), dims3(1, 896, 1) };
    CHECK_STATUS(verge_head_detect_among(specs, 3, &in, out, 2, &spec),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(spec == NULL);
    has("2 detection heads fit");
    has("blazeface_short_range, faces_tuned");
    has("--head");

    /* Among the last two only one fits. */
    CHECK_OK(verge_head_detect_among(specs + 1, 2, &in, out, 2, &spec));
    CHECK(spec == &specs[1]);
}

static void check_by_name_wrong_shapes(void)
{
    const verge_head_spec *spec;
    verge_dims in = dims4(1, 192, 192, 3);
    verge_dims out[2] = { dims3(1, 2304, 16), dims3(1, 2304, 1) };

    CHECK_OK(verge_head_find("blazeface_short_range", &spec));
    CHECK_STATUS(verge_head_check(spec, &in, out, 2, NULL, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    has("blazeface_short_range");
    has("[1,128,128,3]");
    has("[1,896,16]");
    has("[1,192,192,3]");
    has("[1,2304,16] [1,2304,1]");

    verge_head *head = (verge_head *)1;
    CHECK_STATUS(verge_head_create(spec, &in, out, 2, &head), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(head == NULL);
}

/*
 * The whole path on handcrafted outputs of the short-range model, scores
 * first. Rows 512 and 513 share anchor (0.0625, 0.0625) and predict
 * overlapping boxes: row 512 centre offset (+25.6, +25.6)/128 = +0.2,
 * size 0.25; row 513 centre +0.21, size 0.25 (IoU 0.85). Row 895 (anchor
 * (0.9375, 0.9375)) scores below 0.5 and is dropped.
 */
static void decode_through_head(void)
{
    const verge_head_spec *spec;
    verge_head *head;
    verge_letterbox map;
    verge_detection dets[4];
    size_t count;
    float *boxes = calloc(896 * 16, sizeof(float));
    float *scores = malloc(896 * sizeof(float));

    for (int i = 0; i < 896; i++)
        scores[i] = -10.0f;
    boxes[512 * 16 + 0] = 25.6f, boxes[512 * 16 + 1] = 25.6f;
    boxes[512 * 16 + 2] = 32.0f, boxes[512 * 16 + 3] = 32.0f;
    boxes[513 * 16 + 0] = 26.88f, boxes[513 * 16 + 1] = 26.88f;
    boxes[513 * 16 + 2] = 32.0f, boxes[513 * 16 + 3] = 32.0f;
    scores[512] = 2.0f;  /* 0.880797 */
    scores[513] = 0.0f;  /* 0.5, passes min_score 0.5 */
    scores[895] = -0.1f; /* 0.475 */

    verge_dims in = dims4(1, 128, 128, 3);
    verge_dims out[2] = { dims3(1, 896, 1), dims3(1, 896, 16) };
    CHECK_OK(verge_head_find("blazeface_short_range", &spec));
    CHECK_OK(verge_head_create(spec, &in, out, 2, &head));
    CHECK(strcmp(verge_head_get_spec(head)->name, "blazeface_short_range") == 0);

    /* A 256x512 frame: scale 0.25, pad_x = (128 - 64) / 2 = 32. */
    verge_image frame;
    float *input = malloc(128 * 128 * 3 * sizeof(float));
    CHECK_OK(verge_image_create(256, 512, &frame));
    CHECK_OK(verge_head_preprocess(head, &frame, input, 128 * 128 * 3, &map));
    CHECK_NEAR(map.pad_x, 32, 0);
    CHECK_NEAR(input[0], -1.0, 0);

    const float *outputs[2] = { scores, boxes };
    CHECK_OK(verge_head_decode(head, outputs, NULL, dets, 4, &count));
    CHECK_EQ_INT(count, 1);
    /*
     * Weighted: x_min = (0.1375 * 0.880797 + 0.1475 * 0.5) / 1.380797, where
     * x_min of row 512 = 0.0625 + 0.2 - 0.125 = 0.1375 and of row 513 0.1475.
     */
    const double w0 = 1.0 / (1.0 + exp(-2.0)), w1 = 0.5;
    const double x_min = (0.1375 * w0 + 0.1475 * w1) / (w0 + w1);
    CHECK_NEAR(dets[0].score, w0, 1e-6);
    CHECK_NEAR(dets[0].box[0], x_min, 1e-6);
    CHECK_NEAR(dets[0].box[2], x_min + 0.25, 1e-6);
    CHECK_EQ_INT(dets[0].num_keypoints, 6);
    CHECK_NEAR(dets[0].keypoints[0][0], 0.0625, 1e-6);

    /* Mapped to frame pixels: x = (n * 128 - 32) / 0.25, y = n * 128 / 0.25. */
    CHECK_OK(verge_head_decode(head, outputs, &map, dets, 4, &count));
    CHECK_EQ_INT(count, 1);
    CHECK_NEAR(dets[0].box[0], (x_min * 128 - 32) * 4, 1e-3);
    CHECK_NEAR(dets[0].box[1], x_min * 128 * 4, 1e-3);
    CHECK_NEAR(dets[0].box[3], (x_min + 0.25) * 128 * 4, 1e-3);
    CHECK_NEAR(dets[0].keypoints[5][0], (0.0625 * 128 - 32) * 4, 1e-3);

    /* Capacity 0 returns nothing and is not an error. */
    CHECK_OK(verge_head_decode(head, outputs, &map, NULL, 0, &count));
    CHECK_EQ_INT(count, 0);
    CHECK_STATUS(verge_head_decode(head, NULL, &map, dets, 4, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);

    verge_head_destroy(head);
    verge_head_destroy(NULL);
    verge_image_free(&frame);
    free(input);
    free(boxes);
    free(scores);
}

/* A spec whose anchors do not give num_boxes anchors, or with bad options, fails at create time. */
static void bad_specs(void)
{
    verge_head_spec spec = *verge_head_preset(0);
    verge_head *head;
    verge_dims in = dims4(1, 128, 128, 3);
    verge_dims out[2] = { dims3(1, 896, 16), dims3(1, 896, 1) };

    spec.anchors.strides[0] = 16;
    CHECK_STATUS(verge_head_create(&spec, &in, out, 2, &head), VERGE_STATUS_INVALID_ARGUMENT);
    has("num_boxes is 896");

    spec = *verge_head_preset(0);
    spec.nms.iou_threshold = -0.5f;
    CHECK_STATUS(verge_head_create(&spec, &in, out, 2, &head), VERGE_STATUS_INVALID_ARGUMENT);

    spec = *verge_head_preset(0);
    spec.decode.num_keypoints = 9;
    CHECK_STATUS(verge_head_create(&spec, &in, out, 2, &head), VERGE_STATUS_INVALID_ARGUMENT);

    /* A tuned copy (higher threshold, hard NMS, cap of 1) creates fine. */
    spec = *verge_head_preset(0);
    spec.decode.min_score = 0.75f;
    spec.nms.algorithm = VERGE_NMS_HARD;
    spec.nms.max_detections = 1;
    CHECK_OK(verge_head_create(&spec, &in, out, 2, &head));
    verge_head_destroy(head);
}

int main(void)
{
    RUN(presets);
    RUN(detect_short_and_full);
    RUN(detect_unknown);
    RUN(detect_ambiguous);
    RUN(check_by_name_wrong_shapes);
    RUN(decode_through_head);
    RUN(bad_specs);
    return check_summary();
}
