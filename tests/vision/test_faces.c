/*
 * End to end on real photos: decode with FFmpeg, letterbox, run the face
 * detection models, decode and NMS, and compare with the reference boxes in
 * tests/data/expected/faces.json (computed with the same preprocessing and
 * decoding on the ONNX twin of face_detection_short_range.tflite).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "verge/interpreter.h"
#include "verge/media.h"
#include "verge/model.h"
#include "verge/vision.h"

enum { MAX_FACES = 16 };

typedef struct reference_face {
    float box[4];
    float keypoints[6][2];
} reference_face;

static char *read_text(const char *path)
{
    FILE *file = fopen(path, "rb");
    char *text;
    long size;

    if (file == NULL)
        return NULL;
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    text = calloc(1, (size_t)size + 1);
    if (text != NULL && fread(text, 1, (size_t)size, file) != (size_t)size) {
        free(text);
        text = NULL;
    }
    fclose(file);
    return text;
}

/* Reads `count` numbers that follow `key` after `from`, skipping brackets and commas. */
static const char *read_numbers(const char *from, const char *key, float *values, int count)
{
    const char *at = strstr(from, key);

    if (at == NULL)
        return NULL;
    at += strlen(key);
    for (int i = 0; i < count; i++) {
        char *end;

        while (*at != '\0' && strchr(" \n\r\t:[],", *at) != NULL)
            at++;
        values[i] = strtof(at, &end);
        if (end == at)
            return NULL;
        at = end;
    }
    return at;
}

/* Finds the reference faces of `image` in faces.json; returns their number or -1. */
static int load_reference(const char *json, const char *image, reference_face *faces)
{
    char key[128];
    const char *entry, *list, *next_image;
    int count = 0;

    snprintf(key, sizeof(key), "\"%s\"", image);
    entry = strstr(json, key);
    if (entry == NULL)
        return -1;
    list = strstr(entry, "\"faces\"");
    if (list == NULL)
        return -1;
    /* The entry ends where the next image's "width" key starts. */
    next_image = strstr(list, "\"width\"");
    for (const char *at = list;; count++) {
        const char *box = strstr(at, "\"box\"");

        if (box == NULL || (next_image != NULL && box > next_image) || count == MAX_FACES)
            break;
        at = read_numbers(box, "\"box\"", faces[count].box, 4);
        if (at == NULL)
            return -1;
        at = read_numbers(at, "\"keypoints\"", &faces[count].keypoints[0][0], 12);
        if (at == NULL)
            return -1;
    }
    return count;
}

typedef struct face_detector {
    verge_model *model;
    verge_interpreter *interpreter;
    verge_head *head;
} face_detector;

static int detector_open(face_detector *d, const char *model_file)
{
    char path[512];
    verge_dims input_dims, output_dims[2];
    const verge_head_spec *spec = NULL;

    memset(d, 0, sizeof(*d));
    CHECK_OK(verge_model_load(check_model_path(model_file, path), &d->model));
    if (d->model == NULL)
        return -1;
    CHECK_OK(verge_interpreter_create(d->model, NULL, &d->interpreter));
    if (d->interpreter == NULL)
        return -1;

    {
        const verge_tensor *in = verge_interpreter_input(d->interpreter, 0);
        input_dims.rank = in->rank;
        memcpy(input_dims.dims, in->dims, sizeof(in->dims));
    }
    for (int o = 0; o < 2; o++) {
        const verge_tensor *out = verge_interpreter_output(d->interpreter, o);
        output_dims[o].rank = out->rank;
        memcpy(output_dims[o].dims, out->dims, sizeof(out->dims));
    }
    CHECK_OK(verge_head_detect(&input_dims, output_dims, 2, &spec));
    if (spec == NULL)
        return -1;
    CHECK_OK(verge_head_create(spec, &input_dims, output_dims, 2, &d->head));
    return d->head != NULL ? 0 : -1;
}

static void detector_close(face_detector *d)
{
    verge_head_destroy(d->head);
    verge_interpreter_destroy(d->interpreter);
    verge_model_free(d->model);
}

/* Runs the detector on one photo; returns the number of faces or -1. */
static int detect_photo(face_detector *d, const char *image, verge_detection *faces,
                        int *width, int *height)
{
    char path[512], name[256];
    verge_source *source = NULL;
    verge_frame frame;
    verge_letterbox map;
    const float *outputs[2];
    verge_tensor *in = verge_interpreter_input(d->interpreter, 0);
    size_t count = 0;

    snprintf(name, sizeof(name), "images/%s", image);
    CHECK_OK(verge_source_open(check_data_path(name, path), NULL, &source));
    if (source == NULL)
        return -1;
    CHECK_OK(verge_source_read(source, &frame));
    *width = frame.image.width;
    *height = frame.image.height;
    CHECK_OK(verge_head_preprocess(d->head, &frame.image, in->data, in->bytes / sizeof(float),
                                   &map));
    CHECK_OK(verge_interpreter_invoke(d->interpreter));
    outputs[0] = verge_interpreter_output(d->interpreter, 0)->data;
    outputs[1] = verge_interpreter_output(d->interpreter, 1)->data;
    CHECK_OK(verge_head_decode(d->head, outputs, &map, faces, MAX_FACES, &count));
    verge_source_close(source);
    return (int)count;
}

static void short_range_matches_reference(void)
{
    static const char *const images[] = {"grace_hopper.jpg", "astronaut.png", "coffee.png",
                                         "car1.jpg"};
    char path[512];
    char *json = read_text(check_data_path("expected/faces.json", path));
    face_detector d;

    CHECK(json != NULL);
    if (json == NULL || detector_open(&d, "face_detection_short_range.tflite") != 0) {
        free(json);
        return;
    }
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
        reference_face expected[MAX_FACES];
        verge_detection found[MAX_FACES];
        int width = 0, height = 0;
        int num_expected = load_reference(json, images[i], expected);
        int num_found = detect_photo(&d, images[i], found, &width, &height);

        CHECK_MSG(num_expected >= 0, "%s: no reference in faces.json", images[i]);
        CHECK_MSG(num_found == num_expected, "%s: found %d faces, expected %d", images[i],
                  num_found, num_expected);
        if (num_found != num_expected || num_found <= 0)
            continue;

        /* Every coordinate within 3% of the image size of the reference. */
        for (int k = 0; k < 4; k++) {
            float size = (float)(k % 2 == 0 ? width : height);
            CHECK_MSG(fabsf(found[0].box[k] - expected[0].box[k]) <= 0.03f * size,
                      "%s: box[%d] = %.1f, reference %.1f", images[i], k, found[0].box[k],
                      expected[0].box[k]);
        }
        CHECK_EQ_INT(found[0].num_keypoints, 6);
        for (int k = 0; k < 6; k++) {
            CHECK_MSG(fabsf(found[0].keypoints[k][0] - expected[0].keypoints[k][0]) <=
                              0.03f * (float)width &&
                          fabsf(found[0].keypoints[k][1] - expected[0].keypoints[k][1]) <=
                              0.03f * (float)height,
                      "%s: keypoint %d = (%.1f, %.1f), reference (%.1f, %.1f)", images[i], k,
                      found[0].keypoints[k][0], found[0].keypoints[k][1],
                      expected[0].keypoints[k][0], expected[0].keypoints[k][1]);
        }
        CHECK_MSG(found[0].score >= 0.5f && found[0].score <= 1.0f, "%s: score %.3f",
                  images[i], found[0].score);
    }
    detector_close(&d);
    free(json);
}

/* The full-range models find the same face where the short-range reference puts it. */
static void full_range_agrees(void)
{
    static const char *const models[] = {"face_detection_full_range.tflite",
                                         "face_detection_full_range_sparse.tflite"};
    char path[512];
    char *json = read_text(check_data_path("expected/faces.json", path));

    for (size_t m = 0; m < sizeof(models) / sizeof(models[0]) && json != NULL; m++) {
        face_detector d;
        reference_face expected[MAX_FACES];
        verge_detection found[MAX_FACES];
        int width, height, num_found;

        if (detector_open(&d, models[m]) != 0) {
            detector_close(&d);
            continue;
        }
        CHECK(load_reference(json, "grace_hopper.jpg", expected) == 1);
        num_found = detect_photo(&d, "grace_hopper.jpg", found, &width, &height);
        CHECK_MSG(num_found == 1, "%s: found %d faces on grace_hopper.jpg, expected 1", models[m],
                  num_found);
        if (num_found == 1) {
            float iou = verge_box_iou(found[0].box, expected[0].box);
            CHECK_MSG(iou >= 0.6f, "%s: IoU with the reference box is %.2f", models[m], iou);
        }
        num_found = detect_photo(&d, "coffee.png", found, &width, &height);
        CHECK_MSG(num_found == 0, "%s: found %d faces on coffee.png", models[m], num_found);
        detector_close(&d);
    }
    free(json);
}

int main(void)
{
    RUN(short_range_matches_reference);
    RUN(full_range_agrees);
    return check_summary();
}
