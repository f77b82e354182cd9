/*
 * `verge info` and `verge run` as a user runs them: reports on real models,
 * outputs written as .npy and compared with the reference runtime's, and
 * errors for bad inputs.
 */
#include <sys/stat.h>

#include "check.h"
#include "cli/cli_run.h"
#include "verge/npy.h"

static char work_dir[] = "/tmp/verge-info-run-XXXXXX";

#define model(name) cli_model(name)
#define data(name) cli_data(name)
#define work(name) cli_join(work_dir, name)

static void info_describes_face_model(void)
{
    const char *text[] = {"info", model("face_detection_short_range.tflite"), NULL};
    const char *json[] = {"info", "--json", model("face_detection_short_range.tflite"), NULL};
    cli_result r = cli_run(work_dir, NULL, text);

    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "regressors") != NULL);
    CHECK(strstr(r.out, "[1,896,16]") != NULL);
    CHECK(strstr(r.out, "CONV_2D                      21") != NULL);
    CHECK(strstr(r.out, "float16    101390 values, 202780 bytes") != NULL);
    CHECK(strstr(r.out, "unsupported: none") != NULL);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, json);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "\"inputs\":[{\"name\":\"input\",\"shape\":[1,128,128,3],"
                        "\"dtype\":\"float32\"}]") != NULL);
    CHECK(strstr(r.out, "\"unsupported\":[]") != NULL);
    CHECK(strstr(r.out, "\"arena_bytes\":null") == NULL);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"model\":"), 1);
    cli_result_free(&r);
}

/* Every TFLite model of the pinned zoo: nothing unsupported, exit 0. */
static void info_supports_every_zoo_model(void)
{
    static const char *const zoo[] = {
        "face_detection_short_range.tflite", "face_detection_full_range.tflite",
        "face_detection_full_range_sparse.tflite", "hand_landmark_lite.tflite",
        "hand_landmark_full.tflite", "selfie_segmentation.tflite",
        "selfie_segmentation_landscape.tflite", "embedding_model.tflite", "alexa_v0.1.tflite",
        "hey_jarvis_v0.1.tflite", "hey_mycroft_v0.1.tflite", "hey_rhasspy_v0.1.tflite",
        "timer_v0.1.tflite", "weather_v0.1.tflite",
    };

    for (size_t i = 0; i < sizeof(zoo) / sizeof(zoo[0]); i++) {
        const char *args[] = {"info", model(zoo[i]), NULL};
        cli_result r = cli_run(work_dir, NULL, args);

        CHECK_MSG(r.status == 0 && strstr(r.out, "unsupported: none") != NULL,
                  "%s: status %d\n%s%s", zoo[i], r.status, r.out, r.err);
        cli_result_free(&r);
    }

    /* melspectrogram declares input [1,1]; users feed audio of any length. */
    {
        const char *args[] = {"info", "--json", "--input-shape", "serving_default_input:0=1,1280",
                              model("melspectrogram.tflite"), NULL};
        cli_result r = cli_run(work_dir, NULL, args);

        CHECK_EQ_INT(r.status, 0);
        CHECK_MSG(strstr(r.out, "\"unsupported\":[]") != NULL, "%s%s", r.out, r.err);
        cli_result_free(&r);
    }
}

/* Returns the first occurrence of `needle` in `size` bytes at `data`, or NULL. */
static char *find_bytes(char *data, size_t size, const char *needle)
{
    size_t length = strlen(needle);

    for (size_t i = 0; i + length <= size; i++) {
        if (memcmp(data + i, needle, length) == 0)
            return data + i;
    }
    return NULL;
}

/*
 * A copy of selfie_segmentation.tflite whose custom operator is renamed to
 * one nobody knows: exactly that operator is listed, and the exit status is 1.
 */
static void info_lists_unknown_custom_op(void)
{
    const char *path = model("selfie_segmentation.tflite");
    char *bytes = cli_read_file(path);
    struct stat st;
    char *found;
    FILE *file;
    const char *args[] = {"info", "--json", work("custom.tflite"), NULL};
    cli_result r;

    stat(path, &st);
    found = find_bytes(bytes, (size_t)st.st_size, "Convolution2DTransposeBias");
    CHECK(found != NULL);
    if (found == NULL) {
        free(bytes);
        return;
    }
    memcpy(found, "Convolution2DTransposeBlah", 26);
    file = fopen(work("custom.tflite"), "wb");
    fwrite(bytes, 1, (size_t)st.st_size, file);
    fclose(file);
    free(bytes);

    r = cli_run(work_dir, NULL, args);
    CHECK_EQ_INT(r.status, 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"operator\":\"Convolution2DTransposeBlah\""), 1);
    CHECK_MSG(strstr(r.out, "\"unsupported\":[{\"subgraph\":0,\"node\":244,"
                            "\"operator\":\"Convolution2DTransposeBlah\"") != NULL,
              "stdout: %s", r.out);
    cli_result_free(&r);
}

static void run_writes_and_compares(void)
{
    const char *args[] = {"run", model("face_detection_full_range.tflite"), "--input",
                          data("golden/rand1/face_detection_full_range.tflite/input_0.npy"),
                          "--output-dir", work("out"), "--compare",
                          data("golden/rand1/face_detection_full_range.tflite"), NULL};
    cli_result r = cli_run(work_dir, NULL, args);
    verge_array array;
    char *json;

    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"pass\":true"), 2);
    cli_result_free(&r);

    CHECK_OK(verge_npy_read(work("out/output_0.npy"), &array));
    CHECK_EQ_INT(array.rank, 3);
    CHECK_EQ_INT(array.dims[1], 2304);
    CHECK_EQ_INT(array.dims[2], 16);
    verge_array_free(&array);
    json = cli_read_file(work("out/outputs.json"));
    CHECK(strstr(json, "\"name\":\"reshaped_regressor_face_4\",\"shape\":[1,2304,16],"
                       "\"dtype\":\"float32\"") != NULL);
    free(json);

    /* Against another model's reference, the comparison fails with exit 1. */
    {
        const char *wrong[] = {"run", model("face_detection_full_range.tflite"), "--input",
                               data("golden/rand1/face_detection_full_range.tflite/input_0.npy"),
                               "--compare",
                               data("golden/const/face_detection_full_range.tflite"), NULL};

        r = cli_run(work_dir, NULL, wrong);
        CHECK_EQ_INT(r.status, 1);
        CHECK(cli_count_lines(r.out, "\"pass\":false") >= 1);
        CHECK(strstr(r.err, "beyond the tolerance") != NULL);
        cli_result_free(&r);
    }

    /* With neither --output-dir nor --compare, a summary line per output. */
    {
        const char *plain[] = {"run", model("face_detection_full_range.tflite"), "--input",
                               data("golden/rand1/face_detection_full_range.tflite/input_0.npy"),
                               NULL};

        r = cli_run(work_dir, NULL, plain);
        CHECK_EQ_INT(r.status, 0);
        CHECK_EQ_INT(cli_count_lines(r.out, "\"min\":"), 2);
        CHECK(strstr(r.out, "\"name\":\"reshaped_classifier_face_4\",\"shape\":[1,2304,1],"
                            "\"dtype\":\"float32\"") != NULL);
        CHECK(strstr(r.out, "\"nan\":0}") != NULL);
        cli_result_free(&r);
    }

    /* Writing the outputs into the reference folder would make --compare pass on anything. */
    {
        const char *same[] = {"run", model("face_detection_full_range.tflite"), "--input",
                              data("golden/rand1/face_detection_full_range.tflite/input_0.npy"),
                              "--output-dir", work("out"), "--compare", work("out/."), NULL};

        r = cli_run(work_dir, NULL, same);
        CHECK_EQ_INT(r.status, 2);
        CHECK_MSG(strstr(r.err, "the same folder") != NULL, "stderr: %s", r.err);
        cli_result_free(&r);
    }
}

static void run_rejects_bad_inputs(void)
{
    FILE *file = fopen(work("junk.npy"), "wb");
    const char *junk[] = {"run", model("face_detection_short_range.tflite"), "--input",
                          work("junk.npy"), NULL};
    const char *wrong_shape[] = {"run", model("face_detection_short_range.tflite"), "--input",
                                 work("rgba.npy"), NULL};
    const int32_t rgba_dims[] = {1, 128, 128, 4};
    float *rgba = calloc(128 * 128 * 4, sizeof(float));
    const char *count[] = {"run", model("face_detection_short_range.tflite"), NULL};
    const char *bad_shape[] = {"run", model("face_detection_short_range.tflite"), "--input",
                               work("junk.npy"), "--input-shape", "nosuch=1,2", NULL};
    cli_result r;

    fputs("\x93NUMPY garbage", file);
    fclose(file);

    r = cli_run(work_dir, NULL, junk);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.err, "junk.npy") != NULL, "stderr: %s", r.err);
    cli_result_free(&r);

    /* A 4-channel input resizes the model's input; the first convolution then rejects it. */
    CHECK_OK(verge_npy_write(work("rgba.npy"), VERGE_DTYPE_FLOAT32, 4, rgba_dims, rgba));
    free(rgba);
    r = cli_run(work_dir, NULL, wrong_shape);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.err, "node 2 (CONV_2D)") != NULL && strstr(r.err, "4 channels") != NULL,
              "stderr: %s", r.err);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, count);
    CHECK_EQ_INT(r.status, 2);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, bad_shape);
    CHECK_EQ_INT(r.status, 2);
    CHECK_MSG(strstr(r.err, "no input named 'nosuch'") != NULL, "stderr: %s", r.err);
    cli_result_free(&r);
}

/* "verge help COMMAND" shows that command's help; an unknown one is a usage error. */
static void help_names_a_command(void)
{
    const char *run_help[] = {"help", "run", NULL};
    const char *bogus[] = {"help", "bogus", NULL};
    cli_result r = cli_run(work_dir, NULL, run_help);

    CHECK_EQ_INT(r.status, 0);
    CHECK_MSG(strncmp(r.out, "usage: verge run ", 17) == 0, "stdout: %s", r.out);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, bogus);
    CHECK_EQ_INT(r.status, 2);
    CHECK(strstr(r.err, "unknown command 'bogus'") != NULL);
    cli_result_free(&r);
}

int main(void)
{
    char command[600];

    if (mkdtemp(work_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(info_describes_face_model);
    RUN(info_supports_every_zoo_model);
    RUN(info_lists_unknown_custom_op);
    RUN(run_writes_and_compares);
    RUN(run_rejects_bad_inputs);
    RUN(help_names_a_command);

    snprintf(command, sizeof(command), "rm -rf '%s'", work_dir);
    if (system(command) != 0)
        fprintf(stderr, "cannot remove %s\n", work_dir);
    return check_summary();
}
