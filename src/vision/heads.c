/*
 * Detection heads: built-in presets for known SSD detectors, matching a
 * preset to a model's tensor shapes, and the per-model runner that chains
 * preprocessing, decoding, NMS and the mapping back to frame pixels.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "verge/vision.h"
#include "vision/detect_internal.h"

/*
 * Values from MediaPipe's face detection graphs (mediapipe/modules/face_detection/):
 * face_detection.pbtxt (SsdAnchorsCalculator: min_scale 0.1484375, max_scale
 * 0.75, anchor offsets 0.5, aspect_ratios 1.0, fixed_anchor_size;
 * TensorsToDetectionsCalculator: 16 coords, keypoints at 4, 6 keypoints,
 * sigmoid, score_clipping_thresh 100, reverse_output_order;
 * NonMaxSuppressionCalculator: IoU 0.3, WEIGHTED), face_detection_short_range.pbtxt
 * and face_detection_full_range.pbtxt (sizes, strides, interpolated scale
 * aspect ratio, num_boxes, x/y/w/h scales, min_score_thresh). The input
 * normalisation x / 127.5 - 1 is the graph's output_tensor_float_range -1..1.
 *
 * The resize filter is not MediaPipe's, whose CPU path warps without
 * antialiasing. Antialiased bilinear reproduces tests/data/expected/faces.json
 * (astronaut.png within 0.1 px, where plain bilinear is off by about 2 px)
 * and keeps detail from large frames.
 */
static const char *const face_classes[] = {"face"};

static const verge_head_spec presets[] = {
    {
        .name = "blazeface_short_range",
        .description = "MediaPipe BlazeFace short range (face_detection_short_range.tflite), "
                       "128x128, faces within about 2 m",
        .class_names = face_classes,
        .num_class_names = 1,
        .preprocess = { .width = 128, .height = 128, .mode = VERGE_RESIZE_LETTERBOX,
                        .filter = VERGE_FILTER_BILINEAR_ANTIALIAS,
                        .mul = 1.0f / 127.5f, .add = -1.0f, .pad_rgb = { 0, 0, 0 } },
        .anchors = { .num_layers = 4, .min_scale = 0.1484375f, .max_scale = 0.75f,
                     .input_width = 128, .input_height = 128,
                     .anchor_offset_x = 0.5f, .anchor_offset_y = 0.5f,
                     .strides = { 8, 16, 16, 16 },
                     .num_aspect_ratios = 1, .aspect_ratios = { 1.0f },
                     .interpolated_scale_aspect_ratio = 1.0f,
                     .reduce_boxes_in_lowest_layer = false, .fixed_anchor_size = true },
        .decode = { .num_boxes = 896, .num_coords = 16, .num_classes = 1,
                    .box_coord_offset = 0, .keypoint_coord_offset = 4, .num_keypoints = 6,
                    .box_format = VERGE_BOX_XYWH,
                    .x_scale = 128.0f, .y_scale = 128.0f, .w_scale = 128.0f, .h_scale = 128.0f,
                    .apply_exponential_on_box_size = false, .sigmoid_score = true,
                    .score_clipping_thresh = 100.0f, .min_score = 0.5f },
        .nms = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f, .max_detections = 0,
                 .class_aware = false },
    },
    {
        .name = "blazeface_full_range",
        .description = "MediaPipe BlazeFace full range (face_detection_full_range.tflite and "
                       "_sparse), 192x192, faces within about 5 m",
        .class_names = face_classes,
        .num_class_names = 1,
        .preprocess = { .width = 192, .height = 192, .mode = VERGE_RESIZE_LETTERBOX,
                        .filter = VERGE_FILTER_BILINEAR_ANTIALIAS,
                        .mul = 1.0f / 127.5f, .add = -1.0f, .pad_rgb = { 0, 0, 0 } },
        .anchors = { .num_layers = 1, .min_scale = 0.1484375f, .max_scale = 0.75f,
                     .input_width = 192, .input_height = 192,
                     .anchor_offset_x = 0.5f, .anchor_offset_y = 0.5f,
                     .strides = { 4 },
                     .num_aspect_ratios = 1, .aspect_ratios = { 1.0f },
                     .interpolated_scale_aspect_ratio = 0.0f,
                     .reduce_boxes_in_lowest_layer = false, .fixed_anchor_size = true },
        .decode = { .num_boxes = 2304, .num_coords = 16, .num_classes = 1,
                    .box_coord_offset = 0, .keypoint_coord_offset = 4, .num_keypoints = 6,
                    .box_format = VERGE_BOX_XYWH,
                    .x_scale = 192.0f, .y_scale = 192.0f, .w_scale = 192.0f, .h_scale = 192.0f,
                    .apply_exponential_on_box_size = false, .sigmoid_score = true,
                    .score_clipping_thresh = 100.0f, .min_score = 0.6f },
        .nms = { .algorithm = VERGE_NMS_WEIGHTED, .iou_threshold = 0.3f, .max_detections = 0,
                 .class_aware = false },
    },
};

int verge_head_preset_count(void)
{
    return (int)VERGE_ARRAY_SIZE(presets);
}

const verge_head_spec *verge_head_preset(int index)
{
    if (index < 0 || index >= verge_head_preset_count())
        return NULL;
    return &presets[index];
}

/* A growing message buffer; text past the end is cut, never overrun. */
typedef struct message {
    char text[2048];
    size_t length;
} message;

static void message_add(message *m, const char *fmt, ...) VERGE_PRINTF(2, 3);

static void message_add(message *m, const char *fmt, ...)
{
    va_list args;
    int written;

    if (m->length >= sizeof(m->text) - 1)
        return;
    va_start(args, fmt);
    written = vsnprintf(m->text + m->length, sizeof(m->text) - m->length, fmt, args);
    va_end(args);
    if (written > 0)
        m->length += (size_t)written;
    if (m->length > sizeof(m->text) - 1)
        m->length = sizeof(m->text) - 1;
}

static void message_add_dims(message *m, const verge_dims *d)
{
    char buf[96];

    if (d == NULL || d->rank < 0 || d->rank > VERGE_MAX_RANK) {
        message_add(m, "(invalid shape)");
        return;
    }
    message_add(m, "%s", verge_shape_str(d->dims, d->rank, buf, sizeof(buf)));
}

/* Appends "NAME (input [1,H,W,3], outputs [1,N,C] and [1,N,K])". */
static void message_add_head(message *m, const verge_head_spec *spec)
{
    message_add(m, "%s (input [1,%d,%d,3], outputs [1,%d,%d] and [1,%d,%d])",
                spec->name ? spec->name : "(unnamed)", spec->preprocess.height,
                spec->preprocess.width, spec->decode.num_boxes, spec->decode.num_coords,
                spec->decode.num_boxes, spec->decode.num_classes);
}

static void message_add_model(message *m, const verge_dims *input, const verge_dims *outputs,
                              int num_outputs)
{
    message_add(m, "input ");
    message_add_dims(m, input);
    message_add(m, num_outputs == 1 ? ", output" : ", outputs");
    for (int i = 0; i < num_outputs; i++) {
        message_add(m, " ");
        message_add_dims(m, &outputs[i]);
    }
    if (num_outputs <= 0)
        message_add(m, " (none)");
}

/*
 * Reads the last `tail` dimensions of `d` into `out` when every dimension
 * before them is 1. Returns false otherwise.
 */
static bool trailing_dims(const verge_dims *d, int tail, int32_t *out)
{
    if (d == NULL || d->rank < tail || d->rank > VERGE_MAX_RANK)
        return false;
    for (int i = 0; i < d->rank - tail; i++)
        if (d->dims[i] != 1)
            return false;
    for (int i = 0; i < tail; i++)
        out[i] = d->dims[d->rank - tail + i];
    return true;
}

/* Returns true when `spec` fits the shapes; stores the output roles. Records no error. */
static bool head_fits(const verge_head_spec *spec, const verge_dims *input,
                      const verge_dims *outputs, int num_outputs, int *box_output,
                      int *score_output)
{
    int32_t hwc[3];
    int box = -1;
    int score = -1;

    if (!trailing_dims(input, 3, hwc) || hwc[0] != spec->preprocess.height ||
        hwc[1] != spec->preprocess.width || hwc[2] != 3)
        return false;
    if (outputs == NULL || num_outputs != 2)
        return false;
    for (int i = 0; i < num_outputs; i++) {
        int32_t nc[2];

        if (!trailing_dims(&outputs[i], 2, nc) || nc[0] != spec->decode.num_boxes)
            return false;
        if (nc[1] == spec->decode.num_coords && box < 0)
            box = i;
        else if (nc[1] == spec->decode.num_classes && score < 0)
            score = i;
        else
            return false;
    }
    if (box < 0 || score < 0)
        return false;
    *box_output = box;
    *score_output = score;
    return true;
}

verge_status verge_head_find(const char *name, const verge_head_spec **spec)
{
    message m = { .length = 0 };

    *spec = NULL;
    for (int i = 0; name != NULL && i < verge_head_preset_count(); i++) {
        if (strcmp(presets[i].name, name) == 0) {
            *spec = &presets[i];
            return VERGE_OK;
        }
    }
    for (int i = 0; i < verge_head_preset_count(); i++)
        message_add(&m, "%s%s", i ? ", " : "", presets[i].name);
    return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "unknown detection head '%s'; known heads: %s",
                      name ? name : "(null)", m.text);
}

verge_status verge_head_check(const verge_head_spec *spec, const verge_dims *input,
                              const verge_dims *outputs, int num_outputs, int *box_output,
                              int *score_output)
{
    message m = { .length = 0 };
    int box, score;

    if (spec == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "detection head spec is NULL");
    if (head_fits(spec, input, outputs, num_outputs, &box, &score)) {
        if (box_output != NULL)
            *box_output = box;
        if (score_output != NULL)
            *score_output = score;
        return VERGE_OK;
    }
    message_add(&m, "detection head ");
    message_add_head(&m, spec);
    message_add(&m, " does not fit the model, which has ");
    message_add_model(&m, input, outputs, num_outputs);
    return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s", m.text);
}

verge_status verge_head_detect_among(const verge_head_spec *specs, int num_specs,
                                     const verge_dims *input, const verge_dims *outputs,
                                     int num_outputs, const verge_head_spec **spec)
{
    message m = { .length = 0 };
    int matches = 0;
    int box, score;

    *spec = NULL;
    if (specs == NULL || num_specs < 0)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "no detection heads to choose from");
    for (int i = 0; i < num_specs; i++) {
        if (head_fits(&specs[i], input, outputs, num_outputs, &box, &score)) {
            if (matches == 0)
                *spec = &specs[i];
            matches++;
        }
    }
    if (matches == 1)
        return VERGE_OK;

    *spec = NULL;
    if (matches == 0) {
        message_add(&m, "no known detection head fits the model (");
        message_add_model(&m, input, outputs, num_outputs);
        message_add(&m, "); known heads: ");
        for (int i = 0; i < num_specs; i++) {
            message_add(&m, "%s", i ? "; " : "");
            message_add_head(&m, &specs[i]);
        }
        message_add(&m, "; pass --head NAME for one of them if the model is a variant");
    } else {
        message_add(&m, "%d detection heads fit the model (", matches);
        message_add_model(&m, input, outputs, num_outputs);
        message_add(&m, "): ");
        for (int i = 0, listed = 0; i < num_specs; i++) {
            if (!head_fits(&specs[i], input, outputs, num_outputs, &box, &score))
                continue;
            message_add(&m, "%s%s", listed++ ? ", " : "", specs[i].name ? specs[i].name : "(unnamed)");
        }
        message_add(&m, "; pick one with --head NAME");
    }
    return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s", m.text);
}

verge_status verge_head_detect(const verge_dims *input, const verge_dims *outputs,
                               int num_outputs, const verge_head_spec **spec)
{
    return verge_head_detect_among(presets, verge_head_preset_count(), input, outputs,
                                   num_outputs, spec);
}

struct verge_head {
    verge_head_spec spec;
    int box_output;
    int score_output;
    verge_preprocessor *preprocessor;
    verge_anchor *anchors;        /* spec.decode.num_boxes entries */
    verge_detection *candidates;  /* spec.decode.num_boxes entries: decode and NMS work here */
};

verge_status verge_head_create(const verge_head_spec *spec, const verge_dims *input,
                               const verge_dims *outputs, int num_outputs, verge_head **head)
{
    verge_head *h = NULL;
    size_t anchor_count;
    verge_status status;
    int box, score;

    *head = NULL;
    status = verge_head_check(spec, input, outputs, num_outputs, &box, &score);
    if (status != VERGE_OK)
        return status;
    status = verge_ssd_anchors_count(&spec->anchors, &anchor_count);
    if (status != VERGE_OK)
        return status;
    if (anchor_count != (size_t)spec->decode.num_boxes)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "detection head %s: its anchor options give %zu anchors but "
                          "num_boxes is %d",
                          spec->name ? spec->name : "(unnamed)", anchor_count,
                          spec->decode.num_boxes);
    status = verge_ssd_decode_check(&spec->decode);
    if (status != VERGE_OK)
        return status;
    status = verge_nms_check(&spec->nms);
    if (status != VERGE_OK)
        return status;
    if (spec->decode.num_coords == spec->decode.num_classes)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "detection head %s: num_coords and num_classes are both %d, so its "
                          "outputs cannot be told apart",
                          spec->name ? spec->name : "(unnamed)", spec->decode.num_coords);

    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate a detection head");
        goto fail;
    }
    h->spec = *spec;
    h->box_output = box;
    h->score_output = score;
    status = verge_preprocess_create(&spec->preprocess, &h->preprocessor);
    if (status != VERGE_OK)
        goto fail;
    h->anchors = calloc(anchor_count, sizeof(*h->anchors));
    h->candidates = calloc(anchor_count, sizeof(*h->candidates));
    if (h->anchors == NULL || h->candidates == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                            "cannot allocate %zu anchors for detection head %s", anchor_count,
                            spec->name ? spec->name : "(unnamed)");
        goto fail;
    }
    status = verge_ssd_anchors_generate(&spec->anchors, h->anchors, anchor_count, &anchor_count);
    if (status != VERGE_OK)
        goto fail;

    *head = h;
    return VERGE_OK;

fail:
    verge_head_destroy(h);
    return status;
}

void verge_head_destroy(verge_head *head)
{
    if (head == NULL)
        return;
    verge_preprocess_destroy(head->preprocessor);
    free(head->anchors);
    free(head->candidates);
    free(head);
}

const verge_head_spec *verge_head_get_spec(const verge_head *head)
{
    return &head->spec;
}

verge_status verge_head_preprocess(verge_head *head, const verge_image *frame, float *out,
                                   size_t out_count, verge_letterbox *map)
{
    if (head == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "detection head is NULL");
    return verge_preprocess_run(head->preprocessor, frame, out, out_count, map);
}

verge_status verge_head_decode(verge_head *head, const float *const *outputs,
                               const verge_letterbox *map, verge_detection *out, size_t capacity,
                               size_t *count)
{
    size_t decoded, kept;
    verge_status status;

    *count = 0;
    if (head == NULL || outputs == NULL || (out == NULL && capacity > 0))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "detection head, outputs or result array is NULL");
    if (outputs[head->box_output] == NULL || outputs[head->score_output] == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "detection head: an output's data is NULL");

    status = verge_ssd_decode(&head->spec.decode, head->anchors, outputs[head->box_output],
                              outputs[head->score_output], head->candidates,
                              (size_t)head->spec.decode.num_boxes, &decoded);
    if (status != VERGE_OK)
        return status;
    status = verge_nms_run(&head->spec.nms, head->candidates, decoded, &kept);
    if (status != VERGE_OK)
        return status;

    if (kept > capacity)
        kept = capacity;
    for (size_t i = 0; i < kept; i++) {
        out[i] = head->candidates[i];
        if (map != NULL)
            verge_letterbox_detection_to_frame(map, &out[i]);
    }
    *count = kept;
    return VERGE_OK;
}
