/*
 * `verge bench` as a user runs it: the report's fields on real models, in
 * text and JSON, with random and .npy inputs, and the exit status of bad
 * invocations. Times are printed but never checked.
 */
#include <stdlib.h>

#include "check.h"
#include "cli/cli_run.h"

static char work_dir[] = "/tmp/verge-bench-XXXXXX";

static const char *model(const char *name)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];

    check_env_path("VERGE_MODEL_DIR", name, path, sizeof(paths[0]));
    return path;
}

/* Returns the number after "key": in a JSON text, or NAN when it is missing. */
static double json_number(const char *text, const char *key)
{
    char pattern[128];
    const char *at;

    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    at = strstr(text, pattern);
    if (at == NULL)
        return NAN;
    at += strlen(pattern);
    if (*at == '{' || *at == '[' || *at == '"' || *at == 'n')
        return NAN;
    return strtod(at, NULL);
}

static void json_report_has_every_field(void)
{
    const char *args[] = {"bench", model("face_detection_short_range.tflite"), "--runs", "3",
                          "--warmup", "1", "--json", NULL};
    cli_result r = cli_run(work_dir, NULL, args);
    double min, median, p90, p99;

    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"model\":"), 1);
    CHECK(strstr(r.out, "\"threads\":1,\"kernels\":\"") != NULL);
    CHECK(strstr(r.out, "\"runs\":3,\"warmup\":1") != NULL);
    CHECK(strstr(r.out, "\"inputs\":[{\"name\":\"input\",\"shape\":[1,128,128,3],"
                        "\"dtype\":\"float32\",\"source\":\"random\"}]") != NULL);
    min = json_number(r.out, "min");
    median = json_number(r.out, "median");
    p90 = json_number(r.out, "p90");
    p99 = json_number(r.out, "p99");
    CHECK(min > 0);
    CHECK(min <= median);
    CHECK(median <= p90);
    CHECK(p90 <= p99);
    CHECK(json_number(r.out, "mean") >= min);
    CHECK(json_number(r.out, "throughput_per_s") > 0);
    /* 21 CONV_2D and 5 DEPTHWISE_CONV_2D nodes: about 61.5 million FLOPs, fixed by the shapes. */
    CHECK_NEAR(json_number(r.out, "flops_per_inference"), 61521920, 0);
    CHECK(json_number(r.out, "gflops") > 0);
    CHECK(json_number(r.out, "arena_bytes") > 0);
    CHECK(json_number(r.out, "peak_rss_bytes") > json_number(r.out, "arena_bytes"));
    CHECK(strstr(r.out, "\"profile\"") == NULL);
    cli_result_free(&r);
}

static void profile_lists_operators_and_slowest_nodes(void)
{
    const char *text[] = {"bench", model("hand_landmark_lite.tflite"), "--runs", "3",
                          "--warmup", "0", "--profile", NULL};
    const char *json[] = {"bench", model("hand_landmark_lite.tflite"), "--runs", "3",
                          "--warmup", "0", "--profile", "--json", "--threads", "2", NULL};
    cli_result r = cli_run(work_dir, NULL, text);
    const char *slowest;

    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "latency ms:  min ") != NULL);
    CHECK(strstr(r.out, "time per operator type") != NULL);
    slowest = strstr(r.out, "slowest nodes");
    CHECK(slowest != NULL);
    if (slowest == NULL) {
        cli_result_free(&r);
        return;
    }
    /* Each operator type once in the table above the slowest nodes. */
    CHECK_EQ_INT(cli_count_lines(r.out, "  CONV_2D ") - cli_count_lines(slowest, "  CONV_2D "),
                 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "  DEPTHWISE_CONV_2D ") -
                     cli_count_lines(slowest, "  DEPTHWISE_CONV_2D "),
                 1);
    /* Ten nodes follow the header, each with its output shape. */
    CHECK_EQ_INT(cli_count_lines(slowest, "[1,"), 10);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, json);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "\"threads\":2") != NULL);
    CHECK(strstr(r.out, "\"profile\":{\"operators\":[{\"op\":") != NULL);
    CHECK(strstr(r.out, "{\"op\":\"CONV_2D\",\"nodes\":") != NULL);
    CHECK(strstr(r.out, "\"slowest\":[{\"subgraph\":0,\"node\":") != NULL);
    CHECK_EQ_INT(cli_count_lines(r.out, "{"), 1);
    cli_result_free(&r);
}

static void npy_input_and_input_shape(void)
{
    char input[512];
    const char *with_npy[] = {"bench", model("embedding_model.tflite"), "--runs", "3", "--json",
                              "--input", NULL, NULL};
    const char *resized[] = {"bench", model("melspectrogram.tflite"), "--runs", "3", "--json",
                             "--input-shape", "0=1,1280", NULL};
    cli_result r;

    with_npy[6] = check_data_path("golden/rand1/embedding_model.tflite/input_0.npy", input);
    r = cli_run(work_dir, NULL, with_npy);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "input_0.npy\"}]") != NULL);
    cli_result_free(&r);

    r = cli_run(work_dir, NULL, resized);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "\"shape\":[1,1280]") != NULL);
    cli_result_free(&r);
}

static void bad_invocations_fail_with_status(void)
{
    const char *face = model("face_detection_short_range.tflite");
    static const struct {
        const char *args[8];
        int status;
        const char *message;
    } cases[] = {
        {{"bench", NULL}, 2, "usage: verge bench"},
        {{"bench", "MODEL", "--runs", "0", NULL}, 2, "invalid value '0' for --runs"},
        {{"bench", "MODEL", "--threads", "x", NULL}, 2, "invalid value 'x' for --threads"},
        {{"bench", "MODEL", "--warmup", "-1", NULL}, 2, "invalid value '-1' for --warmup"},
        {{"bench", "MODEL", "--frobnicate", NULL}, 2, "unknown option '--frobnicate'"},
        {{"bench", "MODEL", "--input-shape", "nosuch=1,2", NULL}, 2, "no input named 'nosuch'"},
        {{"bench", "MODEL", "--input", "a.npy", "--input", "b.npy", NULL}, 2,
         "has 1 input, but 2 --input files"},
        {{"bench", "MODEL", "--input", "/nonexistent/x.npy", NULL}, 1, "/nonexistent/x.npy"},
        {{"bench", "MODEL", "--input-shape", "0=1,128,128", NULL}, 1, "expected rank 4"},
        {{"bench", "/nonexistent/model.tflite", NULL}, 1, "/nonexistent/model.tflite"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[8];
        cli_result r;

        for (int a = 0; a < 8; a++)
            args[a] = cases[i].args[a] != NULL && strcmp(cases[i].args[a], "MODEL") == 0
                          ? face
                          : cases[i].args[a];
        r = cli_run(work_dir, NULL, args);
        CHECK_MSG(r.status == cases[i].status, "case %zu: status %d, expected %d (%s)", i,
                  r.status, cases[i].status, r.err);
        CHECK_MSG(strstr(r.err, cases[i].message) != NULL, "case %zu: stderr '%s' lacks '%s'", i,
                  r.err, cases[i].message);
        CHECK_EQ_INT(strlen(r.out), 0);
        cli_result_free(&r);
    }
}

/* VERGE_CPU=scalar selects the reference kernels, and the report names them. */
static void kernels_follow_verge_cpu(void)
{
    const char *args[] = {"bench", model("alexa_v0.1.tflite"), "--runs", "3", "--json", NULL};
    cli_result r;

    setenv("VERGE_CPU", "scalar", 1);
    r = cli_run(work_dir, NULL, args);
    unsetenv("VERGE_CPU");
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "\"kernels\":\"scalar\"") != NULL);
    cli_result_free(&r);
}

static void help_exits_zero(void)
{
    const char *args[] = {"bench", "--help", NULL};
    cli_result r = cli_run(work_dir, NULL, args);

    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "--profile") != NULL);
    CHECK(strstr(r.out, "--threads N") != NULL);
    cli_result_free(&r);
}

int main(void)
{
    if (mkdtemp(work_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(json_report_has_every_field);
    RUN(profile_lists_operators_and_slowest_nodes);
    RUN(npy_input_and_input_shape);
    RUN(bad_invocations_fail_with_status);
    RUN(kernels_follow_verge_cpu);
    RUN(help_exits_zero);
    {
        char path[600];

        snprintf(path, sizeof(path), "%s/stdout.txt", work_dir);
        remove(path);
        snprintf(path, sizeof(path), "%s/stderr.txt", work_dir);
        remove(path);
        rmdir(work_dir);
    }
    return check_summary();
}
