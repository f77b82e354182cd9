/*
 * Runs every TFLite model of the pinned zoo that has reference data on the
 * reference inputs and compares each output with the reference runtime's
 * output (TFLite, XNNPACK, 1 thread).
 * Pass rule per output tensor: max|out - ref| <= 1e-6 + 1e-4 * max|ref|.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "verge/interpreter.h"
#include "verge/model.h"
#include "verge/npy.h"

/* Model files and the folders of their reference data. */
static const struct {
    const char *file;
    const char *golden;
} models[] = {
    {"face_detection_short_range.tflite", "face_detection_short_range.tflite"},
    {"face_detection_full_range.tflite", "face_detection_full_range.tflite"},
    {"face_detection_full_range_sparse.tflite", "face_detection_full_range_sparse.tflite"},
    {"hand_landmark_lite.tflite", "hand_landmark_lite.tflite"},
    {"hand_landmark_full.tflite", "hand_landmark_full.tflite"},
    /* The shipped file declares input [1,1]; the reference fed [1,1280]. */
    {"melspectrogram.tflite", "melspectrogram_1x1280.tflite"},
    {"embedding_model.tflite", "embedding_model.tflite"},
    {"alexa_v0.1.tflite", "alexa_v0.1.tflite"},
    {"hey_jarvis_v0.1.tflite", "hey_jarvis_v0.1.tflite"},
    {"hey_mycroft_v0.1.tflite", "hey_mycroft_v0.1.tflite"},
    {"hey_rhasspy_v0.1.tflite", "hey_rhasspy_v0.1.tflite"},
    {"timer_v0.1.tflite", "timer_v0.1.tflite"},
    {"weather_v0.1.tflite", "weather_v0.1.tflite"},
};

static const char *const sets[] = {"const", "rand1"};

static void compare_output(const char *label, const verge_tensor *out, const verge_array *ref)
{
    double max_diff = 0, max_ref = 0;
    size_t count;

    CHECK_MSG(out->dtype == VERGE_DTYPE_FLOAT32 && ref->dtype == VERGE_DTYPE_FLOAT32,
              "%s: dtype %d vs reference %d", label, out->dtype, ref->dtype);
    CHECK_MSG(out->bytes == ref->bytes, "%s: %zu bytes vs reference %zu", label, out->bytes,
              ref->bytes);
    if (out->bytes != ref->bytes || out->dtype != VERGE_DTYPE_FLOAT32)
        return;

    count = out->bytes / sizeof(float);
    for (size_t i = 0; i < count; i++) {
        double o = ((const float *)out->data)[i];
        double r = ((const float *)ref->data)[i];

        if (!(fabs(o - r) <= max_diff))
            max_diff = isnan(o) ? INFINITY : fabs(o - r);
        if (fabs(r) > max_ref)
            max_ref = fabs(r);
    }
    CHECK_MSG(max_diff <= 1e-6 + 1e-4 * max_ref, "%s: max|out - ref| = %g, allowed %g", label,
              max_diff, 1e-6 + 1e-4 * max_ref);
    printf("%s: max|out - ref| = %.3g (%.3g of max|ref| %.4g)\n", label, max_diff,
           max_diff / max_ref, max_ref);
}

/* Runs one model on both reference input sets, resizing its input to the reference's shape. */
static void run_model(const char *file, const char *golden)
{
    char path[512], name[512];
    verge_model *model = NULL;

    CHECK_OK(verge_model_load(check_model_path(file, path), &model));
    if (model == NULL)
        return;

    for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
        verge_array input;
        verge_input_shape shape = {0};
        verge_interpreter_options options = {.input_shapes = &shape, .num_input_shapes = 1};
        verge_interpreter *it = NULL;
        verge_tensor *in;

        snprintf(name, sizeof(name), "golden/%s/%s/input_0.npy", sets[s], golden);
        CHECK_OK(verge_npy_read(check_data_path(name, path), &input));
        if (input.data == NULL)
            continue;
        shape.rank = input.rank;
        memcpy(shape.dims, input.dims, sizeof(shape.dims));
        CHECK_OK(verge_interpreter_create(model, &options, &it));
        if (it == NULL) {
            verge_array_free(&input);
            continue;
        }
        CHECK_EQ_INT(verge_interpreter_input_count(it), 1);
        in = verge_interpreter_input(it, 0);
        CHECK(input.bytes == in->bytes && input.dtype == in->dtype);
        if (input.bytes == in->bytes)
            memcpy(in->data, input.data, input.bytes);
        verge_array_free(&input);

        CHECK_OK(verge_interpreter_invoke(it));
        for (int o = 0; o < verge_interpreter_output_count(it); o++) {
            verge_array ref;
            char label[600];

            snprintf(name, sizeof(name), "golden/%s/%s/output_%d.npy", sets[s], golden, o);
            CHECK_OK(verge_npy_read(check_data_path(name, path), &ref));
            snprintf(label, sizeof(label), "%s %s output %d", file, sets[s], o);
            compare_output(label, verge_interpreter_output(it, o), &ref);
            verge_array_free(&ref);
        }
        verge_interpreter_destroy(it);
    }
    verge_model_free(model);
}

static void zoo_models_match_reference(void)
{
    for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
        run_model(models[m].file, models[m].golden);
}

static void second_invoke_repeats_result(void)
{
    char path[512];
    verge_model *model = NULL;
    verge_interpreter *it = NULL;
    float first[64];

    CHECK_OK(verge_model_load(check_model_path(models[0].file, path), &model));
    CHECK_OK(verge_interpreter_create(model, NULL, &it));
    if (it == NULL) {
        verge_model_free(model);
        return;
    }
    {
        verge_tensor *in = verge_interpreter_input(it, 0);
        float *x = in->data;

        for (size_t i = 0; i < in->bytes / sizeof(float); i++)
            x[i] = (float)((i * 7919) % 255) / 127.5f - 1.0f;
    }
    CHECK_OK(verge_interpreter_invoke(it));
    memcpy(first, verge_interpreter_output(it, 0)->data, sizeof(first));
    CHECK_OK(verge_interpreter_invoke(it));
    CHECK(memcmp(first, verge_interpreter_output(it, 0)->data, sizeof(first)) == 0);
    CHECK(verge_interpreter_arena_size(it) > 0);
    verge_interpreter_destroy(it);
    verge_model_free(model);
}

int main(void)
{
    RUN(zoo_models_match_reference);
    RUN(second_invoke_repeats_result);
    return check_summary();
}
