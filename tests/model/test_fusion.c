/*
 * The interpreter's fusion pass (src/model/fuse.h): on zoo models it merges
 * ADD, RELU and channel-appending PAD nodes into the convolutions before
 * them, folds spatial PAD nodes into the convolutions after them, and turns
 * inner RESHAPEs into views. The outputs keep every bit of the unfused run,
 * on the reference kernels and on the fast paths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/cpu.h"
#include "model/graph.h"
#include "verge/interpreter.h"
#include "verge/model.h"

typedef struct op_counts {
    int add, relu, pad, conv, fused_conv, reshape, padded_conv;
} op_counts;

static void count_hook(void *user, const verge_node_timing *timing)
{
    op_counts *counts = user;
    const verge_node *node = timing->op;

    counts->add += node->op == VERGE_OP_ADD;
    counts->relu += node->op == VERGE_OP_RELU || node->op == VERGE_OP_RELU6;
    counts->pad += node->op == VERGE_OP_PAD;
    counts->conv += node->op == VERGE_OP_CONV_2D;
    counts->fused_conv += node->op == VERGE_OP_CONV_2D && node->params.conv.residual;
    counts->reshape += node->op == VERGE_OP_RESHAPE;
    counts->padded_conv += (node->op == VERGE_OP_CONV_2D ||
                            node->op == VERGE_OP_DEPTHWISE_CONV_2D) &&
                           (node->params.conv.pad_top || node->params.conv.pad_bottom ||
                            node->params.conv.pad_left || node->params.conv.pad_right);
}

/*
 * Runs `file` once with VERGE_FUSE=`fuse` and VERGE_CPU=`cpu` on fixed
 * pseudo-random inputs; returns all outputs concatenated and counts the
 * operators that ran.
 */
static uint8_t *run_model(const char *file, const char *fuse, const char *cpu, size_t *size,
                          op_counts *counts)
{
    char path[512];
    verge_model *model = NULL;
    verge_interpreter *it = NULL;
    uint8_t *outputs = NULL;
    uint32_t state = 7;
    size_t total = 0, at = 0;

    *size = 0;
    memset(counts, 0, sizeof(*counts));
    setenv("VERGE_FUSE", fuse, 1);
    setenv("VERGE_CPU", cpu, 1);
    CHECK_OK(verge_model_load(check_model_path(file, path), &model));
    if (model != NULL)
        CHECK_OK(verge_interpreter_create(model, NULL, &it));
    unsetenv("VERGE_FUSE");
    unsetenv("VERGE_CPU");
    if (it == NULL) {
        verge_model_free(model);
        return NULL;
    }

    for (int i = 0; i < verge_interpreter_input_count(it); i++) {
        verge_tensor *in = verge_interpreter_input(it, i);

        for (size_t k = 0; in->dtype == VERGE_DTYPE_FLOAT32 && k < in->bytes / sizeof(float); k++) {
            state = state * 1664525u + 1013904223u;
            ((float *)in->data)[k] = (float)(state >> 8) / (float)(1u << 23) - 1.0f;
        }
    }
    verge_interpreter_set_profile_hook(it, count_hook, counts);
    CHECK_OK(verge_interpreter_invoke(it));

    for (int o = 0; o < verge_interpreter_output_count(it); o++)
        total += verge_interpreter_output(it, o)->bytes;
    outputs = malloc(total ? total : 1);
    for (int o = 0; outputs != NULL && o < verge_interpreter_output_count(it); o++) {
        const verge_tensor *out = verge_interpreter_output(it, o);

        memcpy(outputs + at, out->data, out->bytes);
        at += out->bytes;
    }
    *size = total;
    verge_interpreter_destroy(it);
    verge_model_free(model);
    return outputs;
}

/* Fused and unfused runs give the same bits on every kernel path. */
static void fused_outputs_keep_every_bit(void)
{
    static const char *const models[] = {
        "face_detection_short_range.tflite", "face_detection_full_range.tflite",
        "face_detection_full_range_sparse.tflite", "hand_landmark_full.tflite",
        "selfie_segmentation.tflite", "embedding_model.tflite", "hey_jarvis_v0.1.tflite",
    };
    static const verge_cpu_isa cpus[] = {VERGE_CPU_SCALAR, VERGE_CPU_AVX2, VERGE_CPU_AVX512,
                                         VERGE_CPU_NEON};

    for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
        for (size_t c = 0; c < sizeof(cpus) / sizeof(cpus[0]); c++) {
            const char *cpu = verge_cpu_isa_name(cpus[c]);
            op_counts plain_counts, fused_counts;
            size_t plain_size, fused_size;
            uint8_t *plain, *fused;

            if (!verge_cpu_isa_available(cpus[c]))
                continue;
            plain = run_model(models[m], "0", cpu, &plain_size, &plain_counts);
            fused = run_model(models[m], "1", cpu, &fused_size, &fused_counts);

            CHECK_MSG(plain != NULL && fused != NULL && plain_size == fused_size &&
                          memcmp(plain, fused, plain_size) == 0,
                      "%s, VERGE_CPU=%s: fused outputs differ from unfused ones", models[m], cpu);
            CHECK_EQ_INT(plain_counts.fused_conv, 0);
            free(plain);
            free(fused);
        }
    }
}

/*
 * face_detection_short_range: each of its 16 residual blocks ends in
 * CONV_2D -> ADD -> RELU, 11 of them with a PAD that appends channels to
 * the shortcut. All of that merges into the 16 convolutions.
 */
static void face_blocks_merge_into_convolutions(void)
{
    op_counts plain, fused;
    size_t size;

    free(run_model("face_detection_short_range.tflite", "0", "auto", &size, &plain));
    free(run_model("face_detection_short_range.tflite", "1", "auto", &size, &fused));
    CHECK_EQ_INT(plain.add, 16);
    CHECK_EQ_INT(plain.relu, 17);
    CHECK_EQ_INT(plain.pad, 11);
    CHECK_EQ_INT(fused.add, 0);
    CHECK_EQ_INT(fused.relu, 0);
    CHECK_EQ_INT(fused.pad, 0);
    CHECK_EQ_INT(fused.conv, plain.conv);
    CHECK_EQ_INT(fused.fused_conv, 16);
}

/*
 * face_detection_full_range_sparse pads height and width by one cell on
 * each side before 43 of its convolutions; every PAD folds into its
 * convolution. Its 2 RESHAPEs write graph outputs and still run.
 */
static void spatial_pads_fold_into_convolutions(void)
{
    op_counts plain, fused;
    size_t size;

    free(run_model("face_detection_full_range_sparse.tflite", "0", "auto", &size, &plain));
    free(run_model("face_detection_full_range_sparse.tflite", "1", "auto", &size, &fused));
    CHECK_EQ_INT(plain.pad, 43);
    CHECK_EQ_INT(plain.padded_conv, 0);
    CHECK_EQ_INT(fused.pad, 0);
    CHECK_EQ_INT(fused.padded_conv, 43);
    CHECK_EQ_INT(fused.conv, plain.conv);
    CHECK_EQ_INT(plain.reshape, 2);
    CHECK_EQ_INT(fused.reshape, 2);
}

/* face_detection_short_range's 4 RESHAPEs feed CONCATENATIONs: all become views. */
static void inner_reshapes_become_views(void)
{
    op_counts plain, fused;
    size_t size;

    free(run_model("face_detection_short_range.tflite", "0", "auto", &size, &plain));
    free(run_model("face_detection_short_range.tflite", "1", "auto", &size, &fused));
    CHECK_EQ_INT(plain.reshape, 4);
    CHECK_EQ_INT(fused.reshape, 0);
}

/* hand_landmark_full's ADDs read a tensor that other nodes read too: they still merge. */
static void shared_shortcut_still_merges(void)
{
    op_counts plain, fused;
    size_t size;

    free(run_model("hand_landmark_full.tflite", "0", "auto", &size, &plain));
    free(run_model("hand_landmark_full.tflite", "1", "auto", &size, &fused));
    CHECK_EQ_INT(plain.add, 9);
    CHECK_EQ_INT(fused.add, 0);
    CHECK_EQ_INT(fused.fused_conv, 9);
}

int main(void)
{
    RUN(fused_outputs_keep_every_bit);
    RUN(face_blocks_merge_into_convolutions);
    RUN(shared_shortcut_still_merges);
    RUN(spatial_pads_fold_into_convolutions);
    RUN(inner_reshapes_become_views);
    return check_summary();
}
