/*
 * --threads in `verge run` and `verge detect`: two threads give the same
 * output files and detections as one, and bad thread counts are usage
 * errors.
 */
#include <stdlib.h>

#include "check.h"
#include "cli/cli_run.h"

static char work_dir[] = "/tmp/verge-threads-XXXXXX";

static char *read_all(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    char *data = NULL;
    long length;

    *size = 0;
    if (file == NULL)
        return NULL;
    fseek(file, 0, SEEK_END);
    length = ftell(file);
    fseek(file, 0, SEEK_SET);
    data = malloc((size_t)length + 1);
    if (data != NULL && fread(data, 1, (size_t)length, file) == (size_t)length)
        *size = (size_t)length;
    fclose(file);
    return data;
}

static void run_outputs_same_on_two_threads(void)
{
    char model[512], input[512], dir[2][600], file[2][1300];
    const char *threads[2] = {"1", "2"};
    char *data[2];
    size_t size[2];

    check_model_path("hand_landmark_full.tflite", model);
    check_data_path("golden/rand1/hand_landmark_full.tflite/input_0.npy", input);
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"run", model, "--input", input, "--threads", threads[i],
                              "--output-dir", dir[i], NULL};
        cli_result r;

        snprintf(dir[i], sizeof(dir[i]), "%s/threads_%s", work_dir, threads[i]);
        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 0);
        cli_result_free(&r);
        snprintf(file[i], sizeof(file[i]), "%s/output_0.npy", dir[i]);
        data[i] = read_all(file[i], &size[i]);
    }
    CHECK(size[0] > 0);
    CHECK_EQ_INT(size[1], size[0]);
    CHECK(data[0] != NULL);
    CHECK(data[1] != NULL);
    if (data[0] != NULL && data[1] != NULL)
        CHECK(memcmp(data[0], data[1], size[0]) == 0);
    for (int i = 0; i < 2; i++) {
        free(data[i]);
        remove(file[i]);
        snprintf(file[i], sizeof(file[i]), "%s/outputs.json", dir[i]);
        remove(file[i]);
        rmdir(dir[i]);
    }
}

static void detect_same_on_two_threads(void)
{
    char model[512], image[512];
    const char *threads[2] = {"1", "2"};
    char *detections[2] = {NULL, NULL};

    check_model_path("face_detection_short_range.tflite", model);
    check_data_path("images/grace_hopper.jpg", image);
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"detect", model, image, "--threads", threads[i], NULL};
        cli_result r = cli_run(work_dir, NULL, args);
        char *start = strstr(r.out, "\"detections\":");
        char *end = start != NULL ? strstr(start, "\"timing_ms\"") : NULL;

        CHECK_EQ_INT(r.status, 0);
        if (start != NULL && end != NULL)
            detections[i] = strndup(start, (size_t)(end - start));
        cli_result_free(&r);
    }
    CHECK(detections[0] != NULL);
    CHECK(detections[1] != NULL);
    if (detections[0] != NULL && detections[1] != NULL) {
        CHECK(strstr(detections[0], "\"class\":\"face\"") != NULL);
        CHECK(strcmp(detections[0], detections[1]) == 0);
    }
    free(detections[0]);
    free(detections[1]);
}

static void bad_thread_counts_are_usage_errors(void)
{
    char model[512];
    static const char *const commands[] = {"run", "detect", "bench"};
    static const char *const counts[] = {"0", "257", "two"};

    check_model_path("alexa_v0.1.tflite", model);
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        for (size_t n = 0; n < sizeof(counts) / sizeof(counts[0]); n++) {
            const char *args[] = {commands[c], model, "x.npy", "--threads", counts[n], NULL};
            cli_result r = cli_run(work_dir, NULL, args);

            CHECK_MSG(r.status == 2, "verge %s --threads %s: status %d, expected 2", commands[c],
                      counts[n], r.status);
            CHECK_MSG(strstr(r.err, "--threads") != NULL, "verge %s --threads %s: stderr '%s'",
                      commands[c], counts[n], r.err);
            cli_result_free(&r);
        }
    }
}

int main(void)
{
    char path[600];

    if (mkdtemp(work_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(run_outputs_same_on_two_threads);
    RUN(detect_same_on_two_threads);
    RUN(bad_thread_counts_are_usage_errors);
    snprintf(path, sizeof(path), "%s/stdout.txt", work_dir);
    remove(path);
    snprintf(path, sizeof(path), "%s/stderr.txt", work_dir);
    remove(path);
    rmdir(work_dir);
    return check_summary();
}
