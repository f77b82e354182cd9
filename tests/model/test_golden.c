/*
 * Runs the face detection models on the reference inputs and compares every
 * output with the reference runtime's output (TFLite, XNNPACK, 1 thread).
 * Pass rule per output tensor: max|out - ref| <= 1e-6 + 1e-4 * max|ref|.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "verge/interpreter.h"
#include "verge/model.h"
#include "verge/npy.h"

static const char *const models[] = {
    "face_detection_short_range.tflite",
    "face_detection_full_range.tflite",
    "face_detection_full_range_sparse.tflite",
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

static void run_model(const char *file)
{
    char path[512], name[512];
    verge_model *model = NULL;
    verge_interpreter *it = NULL;

    CHECK_OK(verge_model_load(check_model_path(file, path), &model));
    if (model == NULL)
        return;
    CHECK_OK(verge_interpreter_create(model, NULL, &it));
    if (it == NULL) {
        verge_model_free(model);
        return;
    }
    CHECK_EQ_INT(verge_interpreter_input_count(it), 1);
    CHECK_EQ_INT(verge_interpreter_output_count(it), 2);

    for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
        verge_array input;
        verge_tensor *in = verge_interpreter_input(it, 0);

        snprintf(name, sizeof(name), "golden/%s/%s/input_0.npy", sets[s], file);
        CHECK_OK(verge_npy_read(check_data_path(name, path), &input));
        CHECK(input.bytes == in->bytes);
        if (input.bytes != in->bytes) {
            verge_array_free(&input);
            continue;
        }
        memcpy(in->data, input.data, input.bytes);
        verge_array_free(&input);

        CHECK_OK(verge_interpreter_invoke(it));
        for (int o = 0; o < verge_interpreter_output_count(it); o++) {
            verge_array ref;
            char label[600];

            snprintf(name, sizeof(name), "golden/%s/%s/output_%d.npy", sets[s], file, o);
            CHECK_OK(verge_npy_read(check_data_path(name, path), &ref));
            snprintf(label, sizeof(label), "%s %s output %d", file, sets[s], o);
            compare_output(label, verge_interpreter_output(it, o), &ref);
            verge_array_free(&ref);
        }
    }
    verge_interpreter_destroy(it);
    verge_model_free(model);
}

static void face_models_match_reference(void)
{
    for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
        run_model(models[m]);
}

static void second_invoke_repeats_result(void)
{
    char path[512];
    verge_model *model = NULL;
    verge_interpreter *it = NULL;
    float first[64];

    CHECK_OK(verge_model_load(check_model_path(models[0], path), &model));
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
    RUN(face_models_match_reference);
    RUN(second_invoke_repeats_result);
    return check_summary();
}
