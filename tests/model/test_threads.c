/*
 * Inference on several threads: zoo models give the same output bits for
 * any thread count, on every kernel path (VERGE_CPU), and thread counts out
 * of range are rejected. Also checks the profiling hook.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/cpu.h"
#include "model/graph.h"
#include "verge/interpreter.h"
#include "verge/model.h"

static const char *const zoo[] = {
    "hand_landmark_full.tflite",        /* CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED */
    "face_detection_full_range.tflite",
    "embedding_model.tflite",
    "alexa_v0.1.tflite",                /* FULLY_CONNECTED heavy */
    "hey_jarvis_v0.1.tflite",           /* IF branches */
};

/* Every kernel path; the ones this CPU lacks are skipped. */
static const verge_cpu_isa cpus[] = {VERGE_CPU_SCALAR, VERGE_CPU_AVX2, VERGE_CPU_AVX512,
                                     VERGE_CPU_NEON};

static void fill_inputs(verge_interpreter *it)
{
    uint32_t state = 12345;

    for (int i = 0; i < verge_interpreter_input_count(it); i++) {
        verge_tensor *in = verge_interpreter_input(it, i);

        if (in->dtype != VERGE_DTYPE_FLOAT32) {
            memset(in->data, 0, in->bytes);
            continue;
        }
        for (size_t k = 0; k < in->bytes / sizeof(float); k++) {
            state = state * 1664525u + 1013904223u;
            ((float *)in->data)[k] = (float)(state >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
        }
    }
}

/* Runs `model` on `threads` threads and returns a copy of all outputs, concatenated. */
static uint8_t *run_outputs(const verge_model *model, int threads, size_t *size)
{
    verge_interpreter_options options = {.threads = threads};
    verge_interpreter *it = NULL;
    uint8_t *copy = NULL;
    size_t total = 0;

    *size = 0;
    CHECK_OK(verge_interpreter_create(model, &options, &it));
    if (it == NULL)
        return NULL;
    fill_inputs(it);
    CHECK_OK(verge_interpreter_invoke(it));
    /* A second run on the same pool must give the same again. */
    CHECK_OK(verge_interpreter_invoke(it));
    for (int o = 0; o < verge_interpreter_output_count(it); o++)
        total += verge_interpreter_output(it, o)->bytes;
    copy = malloc(total ? total : 1);
    for (int o = 0, at = 0; copy != NULL && o < verge_interpreter_output_count(it); o++) {
        const verge_tensor *out = verge_interpreter_output(it, o);

        memcpy(copy + at, out->data, out->bytes);
        at += (int)out->bytes;
    }
    *size = total;
    verge_interpreter_destroy(it);
    return copy;
}

static void outputs_identical_for_any_thread_count(void)
{
    static const int thread_counts[] = {2, 3, 4, 7};

    for (size_t c = 0; c < sizeof(cpus) / sizeof(cpus[0]); c++) {
        if (!verge_cpu_isa_available(cpus[c]))
            continue;
        setenv("VERGE_CPU", verge_cpu_isa_name(cpus[c]), 1);
        for (size_t m = 0; m < sizeof(zoo) / sizeof(zoo[0]); m++) {
            char path[512];
            verge_model *model = NULL;
            uint8_t *single;
            size_t single_size;

            CHECK_OK(verge_model_load(check_model_path(zoo[m], path), &model));
            if (model == NULL)
                continue;
            single = run_outputs(model, 1, &single_size);
            for (size_t t = 0; single != NULL && t < sizeof(thread_counts) / sizeof(int); t++) {
                size_t size;
                uint8_t *multi = run_outputs(model, thread_counts[t], &size);

                CHECK_MSG(multi != NULL && size == single_size &&
                              memcmp(multi, single, size) == 0,
                          "%s, VERGE_CPU=%s: %d threads differ from 1 thread", zoo[m],
                          verge_cpu_isa_name(cpus[c]), thread_counts[t]);
                free(multi);
            }
            free(single);
            verge_model_free(model);
        }
    }
    unsetenv("VERGE_CPU");
}

static void thread_counts_out_of_range_fail(void)
{
    char path[512];
    verge_model *model = NULL;
    verge_interpreter *it = NULL;
    verge_interpreter_options options = {.threads = -1};

    CHECK_OK(verge_model_load(check_model_path(zoo[0], path), &model));
    if (model == NULL)
        return;
    CHECK_STATUS(verge_interpreter_create(model, &options, &it), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(it == NULL);
    options.threads = 257;
    CHECK_STATUS(verge_interpreter_create(model, &options, &it), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "257") != NULL);
    options.threads = 0;
    CHECK_OK(verge_interpreter_create(model, &options, &it));
    verge_interpreter_destroy(it);
    verge_model_free(model);
}

typedef struct hook_log {
    int calls;
    int conv_calls;
    int branch_calls;
    uint64_t total_ns;
    bool shapes_ok;
} hook_log;

static void log_hook(void *user, const verge_node_timing *timing)
{
    hook_log *log = user;
    const verge_tensor *out = &timing->tensors[timing->op->outputs[0]];

    log->calls++;
    log->total_ns += timing->ns;
    log->branch_calls += timing->graph > 0;
    if (timing->op->op == VERGE_OP_CONV_2D) {
        log->conv_calls++;
        log->shapes_ok = log->shapes_ok && out->rank == 4 && out->dims[0] == 1;
    }
}

static void profile_hook_sees_every_node(void)
{
    char path[512];
    verge_model *model = NULL;
    verge_interpreter *it = NULL;
    hook_log log = {.shapes_ok = true};
    int conv_nodes = 0;

    CHECK_OK(verge_model_load(check_model_path("face_detection_short_range.tflite", path),
                              &model));
    if (model == NULL)
        return;
    CHECK_OK(verge_interpreter_create(model, NULL, &it));
    for (int n = 0; n < model->graphs[0].num_nodes; n++)
        conv_nodes += model->graphs[0].nodes[n].op == VERGE_OP_CONV_2D;
    fill_inputs(it);

    verge_interpreter_set_profile_hook(it, log_hook, &log);
    CHECK_OK(verge_interpreter_invoke(it));
    CHECK_EQ_INT(log.conv_calls, conv_nodes);
    CHECK(log.calls >= conv_nodes && log.calls <= model->graphs[0].num_nodes);
    CHECK(log.total_ns > 0);
    CHECK(log.shapes_ok);
    CHECK_OK(verge_interpreter_invoke(it));
    CHECK_EQ_INT(log.conv_calls, 2 * conv_nodes);

    verge_interpreter_set_profile_hook(it, NULL, NULL);
    CHECK_OK(verge_interpreter_invoke(it));
    CHECK_EQ_INT(log.conv_calls, 2 * conv_nodes);
    verge_interpreter_destroy(it);
    verge_model_free(model);

    /* hey_jarvis runs IF branches: their nodes are reported with their subgraph. */
    memset(&log, 0, sizeof(log));
    CHECK_OK(verge_model_load(check_model_path("hey_jarvis_v0.1.tflite", path), &model));
    if (model == NULL)
        return;
    CHECK_OK(verge_interpreter_create(model, NULL, &it));
    if (it != NULL) {
        fill_inputs(it);
        verge_interpreter_set_profile_hook(it, log_hook, &log);
        CHECK_OK(verge_interpreter_invoke(it));
        CHECK(log.calls > 0);
        CHECK(log.branch_calls > 0);
    }
    verge_interpreter_destroy(it);
    verge_model_free(model);
}

int main(void)
{
    RUN(outputs_identical_for_any_thread_count);
    RUN(thread_counts_out_of_range_fail);
    RUN(profile_hook_sees_every_node);
    return check_summary();
}
