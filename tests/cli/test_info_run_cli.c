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

/* Little-endian reads and the few FlatBuffers steps needed to edit a model in place. */
static uint32_t le32(const unsigned char *b, size_t at)
{
    return (uint32_t)b[at] | (uint32_t)b[at + 1] << 8 | (uint32_t)b[at + 2] << 16 |
           (uint32_t)b[at + 3] << 24;
}

/* Position of field `field` of the table at `table`, or 0 when the field is absent. */
static size_t fb_field(const unsigned char *b, size_t table, int field)
{
    size_t vtable = table - (size_t)(int32_t)le32(b, table);
    size_t vtable_size = (size_t)b[vtable] | (size_t)b[vtable + 1] << 8;
    size_t offset;

    if (4 + 2 * (size_t)field >= vtable_size)
        return 0;
    offset = (size_t)b[vtable + 4 + 2 * field] | (size_t)b[vtable + 5 + 2 * field] << 8;
    return offset ? table + offset : 0;
}

/* Table `index` of the vector of tables in field `field` of `table`. */
static size_t fb_vector_table(const unsigned char *b, size_t table, int field, int index)
{
    size_t at = fb_field(b, table, field);
    size_t element;

    at += le32(b, at);
    element = at + 4 + 4 * (size_t)index;
    return element + le32(b, element);
}

/* Operator `index` of the main subgraph (Model field 2 subgraphs, SubGraph field 3 operators). */
static size_t fb_operator(const unsigned char *b, int index)
{
    size_t root = le32(b, 0);

    return fb_vector_table(b, fb_vector_table(b, root, 2, 0), 3, index);
}

/* Reads a zoo model, lets `edit` change its bytes and writes the copy to the work folder. */
static void write_edited_model(const char *name, const char *copy,
                               void (*edit)(unsigned char *bytes))
{
    const char *path = model(name);
    unsigned char *bytes = (unsigned char *)cli_read_file(path);
    struct stat st;
    FILE *file;

    CHECK(stat(path, &st) == 0);
    edit(bytes);
    file = fopen(work(copy), "wb");
    CHECK(file != NULL);
    if (file != NULL) {
        fwrite(bytes, 1, (size_t)st.st_size, file);
        fclose(file);
    }
    free(bytes);
}

/* Changes the code of melspectrogram's node 19 (LOG) to builtin 200, which TFLite does not define. */
static void edit_unknown_builtin(unsigned char *b)
{
    size_t op = fb_operator(b, 19);
    size_t code_index = fb_field(b, op, 0);
    size_t code = fb_vector_table(b, le32(b, 0), 1, code_index ? (int)le32(b, code_index) : 0);
    size_t builtin = fb_field(b, code, 3);

    CHECK(builtin != 0);
    CHECK(builtin == 0 || le32(b, builtin) == 73);
    if (builtin != 0) {
        b[builtin] = 200;
        b[builtin + 1] = b[builtin + 2] = b[builtin + 3] = 0;
    }
}

/* Changes the fused RELU of alexa's node 1 (FULLY_CONNECTED) to SIGN_BIT (5). */
static void edit_sign_bit_activation(unsigned char *b)
{
    size_t op = fb_operator(b, 1);
    size_t options = fb_field(b, op, 4);
    size_t activation;

    options += le32(b, options);
    activation = fb_field(b, options, 0);
    CHECK(activation != 0);
    CHECK(activation == 0 || b[activation] == 1);
    if (activation != 0)
        b[activation] = 5;
}

/* Points alexa's tensor 3 (Const_3, float32 [128]) at the buffer of tensor 2 (Const_1, [128]). */
static void edit_shared_buffer(unsigned char *b)
{
    size_t subgraph = fb_vector_table(b, le32(b, 0), 2, 0);
    size_t first = fb_field(b, fb_vector_table(b, subgraph, 0, 2), 2);
    size_t second = fb_field(b, fb_vector_table(b, subgraph, 0, 3), 2);

    CHECK(first != 0);
    CHECK(second != 0);
    if (first != 0 && second != 0)
        memcpy(b + second, b + first, 4);
}

/* Two tensors on one buffer are one set of parameters: 128 float32 values fewer than alexa's. */
static void info_counts_shared_buffer_once(void)
{
    const char *args[] = {"info", work("shared.tflite"), NULL};
    cli_result r;

    write_edited_model("alexa_v0.1.tflite", "shared.tflite", edit_shared_buffer);
    r = cli_run(work_dir, NULL, args);
    CHECK_EQ_INT(r.status, 0);
    CHECK_MSG(strstr(r.out, "float32    213249 values, 852996 bytes") != NULL, "stdout: %s",
              r.out);
    cli_result_free(&r);
}

/*
 * An undefined operator code is listed with its number. A fused activation
 * that the kernel cannot apply makes its node unsupported, with the
 * kernel's reason, rather than a failed preparation.
 */
static void info_lists_unsupported_nodes(void)
{
    const char *unknown[] = {"info", "--json", "--input-shape", "0=1,1280",
                             work("unknown_builtin.tflite"), NULL};
    const char *sign_bit[] = {"info", "--json", work("sign_bit.tflite"), NULL};
    const char *sign_bit_text[] = {"info", work("sign_bit.tflite"), NULL};
    cli_result r;

    write_edited_model("melspectrogram.tflite", "unknown_builtin.tflite", edit_unknown_builtin);
    r = cli_run(work_dir, NULL, unknown);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.out, "\"unsupported\":[{\"subgraph\":0,\"node\":19,"
                            "\"operator\":\"UNKNOWN(200)\"") != NULL, "stdout: %s", r.out);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"operator\":"), 1);
    CHECK(strstr(r.out, "\"UNKNOWN(200)\":1") != NULL);
    cli_result_free(&r);

    write_edited_model("alexa_v0.1.tflite", "sign_bit.tflite", edit_sign_bit_activation);
    r = cli_run(work_dir, NULL, sign_bit);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.out, "\"prepare_error\":null,\"unsupported\":[{\"subgraph\":0,\"node\":1,"
                            "\"operator\":\"FULLY_CONNECTED\",\"reason\":\"fused activation "
                            "SIGN_BIT") != NULL, "stdout: %s", r.out);
    CHECK_MSG(strstr(r.err, "--input-shape") == NULL, "stderr: %s", r.err);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, sign_bit_text);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.out, "unsupported: 1\n  subgraph 0 node 1 (FULLY_CONNECTED): fused "
                            "activation SIGN_BIT") != NULL, "stdout: %s", r.out);
    cli_result_free(&r);
}

/*
 * With --input-shape, info shows the shapes the model runs with: the input
 * as given and the outputs as propagated. One input named twice is an error.
 */
static void info_shows_resized_shapes(void)
{
    const char *json[] = {"info", "--json", "--input-shape", "serving_default_input:0=1,1280",
                          model("melspectrogram.tflite"), NULL};
    const char *twice[] = {"info", "--input-shape", "0=1,1280", "--input-shape",
                           "serving_default_input:0=1,2560", model("melspectrogram.tflite"),
                           NULL};
    const char *impossible[] = {"info", "--input-shape", "0=1,100",
                                model("melspectrogram.tflite"), NULL};
    cli_result r = cli_run(work_dir, NULL, json);

    CHECK_EQ_INT(r.status, 0);
    CHECK_MSG(strstr(r.out, "\"inputs\":[{\"name\":\"serving_default_input:0\",\"shape\":[1,1280]"
                            ",\"dtype\":\"float32\"}],\"outputs\":[{\"name\":\"PartitionedCall:0\","
                            "\"shape\":[1,1,5,32]") != NULL, "stdout: %s", r.out);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, twice);
    CHECK_EQ_INT(r.status, 2);
    CHECK_MSG(strstr(r.err, "give it once") != NULL, "stderr: %s", r.err);
    cli_result_free(&r);

    /* 100 samples are fewer than the 512-wide filter: the message names that node. */
    r = cli_run(work_dir, NULL, impossible);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.out, "prepare failed: ") != NULL, "stdout: %s", r.out);
    CHECK_MSG(strstr(r.out, "node 3 (CONV_2D): the output width is -1") != NULL, "stdout: %s",
              r.out);
    cli_result_free(&r);
}

/*
 * --compare checks each reference's shape and dtype before its values, and
 * reports every output even when one reference is missing.
 */
static void run_compare_checks_references(void)
{
    char input[1024];
    verge_array out;
    cli_result r;

    /* A copy: data() returns one of a few rotating buffers, and later calls reuse them. */
    snprintf(input, sizeof(input), "%s",
             data("golden/const/melspectrogram_1x1280.tflite/input_0.npy"));
    {
        const char *write[] = {"run", model("melspectrogram.tflite"), "--input", input,
                               "--output-dir", work("mel"), NULL};

        r = cli_run(work_dir, NULL, write);
    }
    CHECK_EQ_INT(r.status, 0);
    cli_result_free(&r);
    CHECK_OK(verge_npy_read(work("mel/output_0.npy"), &out));
    CHECK_EQ_INT(out.rank, 4);
    if (out.data == NULL || out.rank != 4)
        return;

    /* The same values as [1,1,32,5], as float64 and as int32 (of the same shape). */
    {
        static const struct {
            const char *dir;
            int32_t dims[4];
            verge_dtype dtype;
            int status;
            const char *expected;
        } cases[] = {
            {"ref_transposed", {1, 1, 32, 5}, VERGE_DTYPE_FLOAT32, 1, "has shape [1,1,32,5], but "
             "the output has shape [1,1,5,32]"},
            {"ref_float64", {1, 1, 5, 32}, VERGE_DTYPE_FLOAT64, 0, "\"pass\":true"},
            {"ref_int32", {1, 1, 5, 32}, VERGE_DTYPE_INT32, 1, "is int32, but the output is "
             "float32"},
        };
        const float *values = out.data;
        double as_double[160];
        int32_t as_int[160];

        for (int i = 0; i < 160; i++) {
            as_double[i] = values[i];
            as_int[i] = (int32_t)values[i];
        }
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            char dir[64], file[96];
            const void *payload = cases[c].dtype == VERGE_DTYPE_FLOAT32   ? (const void *)values
                                  : cases[c].dtype == VERGE_DTYPE_FLOAT64 ? (const void *)as_double
                                                                          : (const void *)as_int;
            const char *args[] = {"run", model("melspectrogram.tflite"), "--input", input,
                                  "--compare", dir, NULL};

            snprintf(dir, sizeof(dir), "%s", work(cases[c].dir));
            snprintf(file, sizeof(file), "%s/output_0.npy", dir);
            mkdir(dir, 0777);
            CHECK_OK(verge_npy_write(file, cases[c].dtype, 4, cases[c].dims, payload));
            r = cli_run(work_dir, NULL, args);
            CHECK_MSG(r.status == cases[c].status, "%s: status %d", cases[c].dir, r.status);
            CHECK_MSG(strstr(r.out, cases[c].expected) != NULL, "%s: stdout %s", cases[c].dir,
                      r.out);
            CHECK_EQ_INT(cli_count_lines(r.out, "{\"output\":0,"), 1);
            cli_result_free(&r);
        }
    }
    verge_array_free(&out);

    /* Only output 0 of a two-output model has a reference: 1 fails, 0 is still compared. */
    {
        const char *golden = "golden/rand1/face_detection_full_range.tflite";
        const char *args[] = {"run", model("face_detection_full_range.tflite"), "--input",
                              data("golden/rand1/face_detection_full_range.tflite/input_0.npy"),
                              "--compare", work("half"), NULL};
        char command[1024];

        mkdir(work("half"), 0777);
        snprintf(command, sizeof(command), "cp '%s/%s/output_0.npy' '%s'", getenv("VERGE_TEST_DATA"),
                 golden, work("half/output_0.npy"));
        CHECK(system(command) == 0);
        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.out, "{\"output\":0,") != NULL, "stdout: %s", r.out);
        CHECK_MSG(strstr(r.out, "\"pass\":true") != NULL, "stdout: %s", r.out);
        CHECK_MSG(strstr(r.out, "{\"output\":1,") != NULL, "stdout: %s", r.out);
        CHECK_MSG(strstr(r.out, "output_1.npy: cannot open") != NULL, "stdout: %s", r.out);
        CHECK_MSG(strstr(r.err, "verge run: 1 output failed the comparison") != NULL, "stderr: %s",
                  r.err);
        cli_result_free(&r);
    }
}

/* A failed preparation names the input that took its .npy file's shape. */
static void run_names_resized_input(void)
{
    const float samples[1280] = {0};
    const char *args[] = {"run", model("melspectrogram.tflite"), "--input", work("flat.npy"),
                          NULL};
    cli_result r;

    CHECK_OK(verge_npy_write(work("flat.npy"), VERGE_DTYPE_FLOAT32, 1, (const int32_t[]){1280},
                             samples));
    r = cli_run(work_dir, NULL, args);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.err, "node 1 (TRANSPOSE)") != NULL, "stderr: %s", r.err);
    CHECK_MSG(strstr(r.err, "was resized to [1280], the shape of") != NULL, "stderr: %s", r.err);
    CHECK_MSG(strstr(r.err, "the model declares [1,1]") != NULL, "stderr: %s", r.err);
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
        CHECK(strstr(r.err, "failed the comparison") != NULL);
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

/* True when `text` contains `word` as an item of a list: "nan (", ", mean," or "min, ". */
static bool names_word(const char *text, const char *word)
{
    for (const char *at = strstr(text, word); at != NULL; at = strstr(at + 1, word)) {
        char before = at > text ? at[-1] : ' ', after = at[strlen(word)];

        if (before != '\0' && after != '\0' && strchr(" ,\n", before) != NULL &&
            strchr(" ,.()\n", after) != NULL)
            return true;
    }
    return false;
}

/*
 * The help of `verge run` names every field of its summary lines: each key
 * of a real line is looked up in the help text.
 */
static void run_help_names_every_summary_field(void)
{
    const char *plain[] = {"run", model("face_detection_full_range.tflite"), "--input",
                           data("golden/rand1/face_detection_full_range.tflite/input_0.npy"),
                           NULL};
    const char *help[] = {"run", "--help", NULL};
    cli_result line = cli_run(work_dir, NULL, plain);
    cli_result text = cli_run(work_dir, NULL, help);
    int keys = 0;

    CHECK_EQ_INT(line.status, 0);
    CHECK_EQ_INT(text.status, 0);
    /* Keys are the quoted words before a ':' in the first line (tensor names hold no '"'). */
    for (const char *at = strchr(line.out, '"'); at != NULL && at < strchr(line.out, '\n');
         at = strchr(at + 1, '"')) {
        const char *end = strchr(at + 1, '"');
        char word[64];

        if (end == NULL || end[1] != ':' || end - at >= (long)sizeof(word))
            continue;
        snprintf(word, sizeof(word), "%.*s", (int)(end - at - 1), at + 1);
        CHECK_MSG(names_word(text.out, word), "field '%s' of `verge run` is not in its help:\n%s",
                  word, text.out);
        keys++;
        at = end;
    }
    CHECK_MSG(keys == 8, "%d keys in %s", keys, line.out);
    cli_result_free(&line);
    cli_result_free(&text);
}

/*
 * The hint about --input-shape comes only after a preparation that failed
 * for a shape reason, with no --input-shape given, in `verge bench` as in
 * `verge info`: not for an operator this build cannot run.
 */
static void bench_shape_hint_only_for_shape_failures(void)
{
    const char *sign_bit[] = {"bench", work("sign_bit.tflite"), "--runs", "1", NULL};
    const char *custom[] = {"bench", work("custom.tflite"), "--runs", "1", NULL};
    const char *open_size[] = {"bench", model("melspectrogram.tflite"), "--runs", "1", NULL};
    const char *info_open_size[] = {"info", model("melspectrogram.tflite"), NULL};
    cli_result r;

    write_edited_model("alexa_v0.1.tflite", "sign_bit.tflite", edit_sign_bit_activation);
    r = cli_run(work_dir, NULL, sign_bit);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.err, "SIGN_BIT") != NULL, "stderr: %s", r.err);
    CHECK_MSG(strstr(r.err, "--input-shape") == NULL, "stderr: %s", r.err);
    cli_result_free(&r);

    /* A custom operator without a kernel (custom.tflite of info_lists_unknown_custom_op). */
    r = cli_run(work_dir, NULL, custom);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.err, "Convolution2DTransposeBlah") != NULL, "stderr: %s", r.err);
    CHECK_MSG(strstr(r.err, "--input-shape") == NULL, "stderr: %s", r.err);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, open_size);
    CHECK_EQ_INT(r.status, 1);
    CHECK_EQ_INT(cli_count_lines(r.err, "verge bench: if an input takes data of any size"), 1);
    cli_result_free(&r);
    r = cli_run(work_dir, NULL, info_open_size);
    CHECK_EQ_INT(r.status, 1);
    CHECK_EQ_INT(cli_count_lines(r.err, "verge info: if an input takes data of any size"), 1);
    cli_result_free(&r);
}

/*
 * "verge help COMMAND" shows that command's help, and "verge help help" the
 * general one; an unknown command is a usage error.
 */
static void help_names_a_command(void)
{
    const char *run_help[] = {"help", "run", NULL};
    const char *help_help[] = {"help", "help", NULL};
    const char *bogus[] = {"help", "bogus", NULL};
    cli_result r = cli_run(work_dir, NULL, run_help);

    CHECK_EQ_INT(r.status, 0);
    CHECK_MSG(strncmp(r.out, "usage: verge run ", 17) == 0, "stdout: %s", r.out);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, help_help);
    CHECK_EQ_INT(r.status, 0);
    CHECK_MSG(strncmp(r.out, "usage: verge COMMAND", 20) == 0, "stdout: %s", r.out);
    CHECK_MSG(r.err[0] == '\0', "stderr: %s", r.err);
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
    RUN(info_lists_unsupported_nodes);
    RUN(info_shows_resized_shapes);
    RUN(info_counts_shared_buffer_once);
    RUN(run_writes_and_compares);
    RUN(run_rejects_bad_inputs);
    RUN(run_compare_checks_references);
    RUN(run_names_resized_input);
    RUN(run_help_names_every_summary_field);
    RUN(bench_shape_hint_only_for_shape_failures);
    RUN(help_names_a_command);

    snprintf(command, sizeof(command), "rm -rf '%s'", work_dir);
    if (system(command) != 0)
        fprintf(stderr, "cannot remove %s\n", work_dir);
    return check_summary();
}
