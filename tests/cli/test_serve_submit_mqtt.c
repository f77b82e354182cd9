/*
 * `verge serve` and `verge submit` as a user runs them, each test with its
 * own Mosquitto on a free loopback port: results equal `verge detect`'s;
 * bad input gets an error line per job while workers keep running;
 * --allow-uri keeps jobs in its folders; usage errors come before anything
 * connects; 1000
 * jobs all come back exactly once when a worker is killed with SIGKILL and
 * never restarted, when a killed worker is replaced, and when the broker
 * restarts (persistence on); TLS with a CA, and a password.
 */
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "check.h"
#include "cli/cli_run.h"
#include "net/mqtt_broker.h"

#if defined(__SANITIZE_ADDRESS__)
/* Inference takes about 0.5 s under the sanitizers (Debug): fewer jobs, fewer in flight. */
enum { MANY_JOBS = 40 };
static const char *const job_window = "4";
static const char *const job_timeout = "10";
#else
enum { MANY_JOBS = 1000 };
static const char *const job_window = "32";
static const char *const job_timeout = "3";
#endif

static char work_dir[] = "/tmp/verge-mqtt-cli-XXXXXX";
static char model[512];

static const char *data(const char *name)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];

    check_env_path("VERGE_TEST_DATA", name, path, sizeof(paths[0]));
    return path;
}

static const char *work(const char *name)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];

    snprintf(path, sizeof(paths[0]), "%s/%s", work_dir, name);
    return path;
}

static pid_t start_worker(const char *url, const char *name, const char *const *extra)
{
    const char *args[32] = {"serve", "--broker", url, "--model", model};
    char out[600], err[600];
    int n = 5;

    for (int i = 0; extra != NULL && extra[i] != NULL && n < 30; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    snprintf(out, sizeof(out), "%s/%s.out", work_dir, name);
    snprintf(err, sizeof(err), "%s/%s.err", work_dir, name);
    return cli_spawn(args, out, err);
}

/* Waits until `path` says "ready" (the worker subscribed), up to 10 s. */
static bool wait_ready(const char *name)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/%s.err", work_dir, name);
    for (double until = broker_now() + 10; broker_now() < until; broker_sleep(0.02)) {
        char *text = cli_read_file(path);
        bool ready = text != NULL && strstr(text, " ready") != NULL;

        free(text);
        if (ready)
            return true;
    }
    return false;
}

static void stop_process(pid_t pid, int signal_number)
{
    if (pid > 0) {
        kill(pid, signal_number);
        waitpid(pid, NULL, 0);
    }
}

static int count_lines_in(const char *path)
{
    char *text = cli_read_file(path);
    int lines = 0;

    for (const char *p = text; p != NULL && *p != '\0'; p++)
        lines += *p == '\n';
    free(text);
    return lines;
}

/* Waits for a child to exit (up to `seconds`); returns its exit status, or -1 and kills it. */
static int wait_exit(pid_t pid, double seconds)
{
    for (double until = broker_now() + seconds; broker_now() < until; broker_sleep(0.02)) {
        int status;

        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    stop_process(pid, SIGKILL);
    return -1;
}

/*
 * Runs "$VERGE_BIN args..." like cli_run(), but kills it after `seconds`
 * (status -1), so that a command that must fail at once cannot hang the test.
 */
static cli_result run_briefly(const char *const *args, double seconds)
{
    cli_result result;
    char out[600], err[600];

    snprintf(out, sizeof(out), "%s/brief.out", work_dir);
    snprintf(err, sizeof(err), "%s/brief.err", work_dir);
    result.status = wait_exit(cli_spawn(args, out, err), seconds);
    result.out = cli_read_file(out);
    result.err = cli_read_file(err);
    return result;
}

static bool alive(pid_t pid)
{
    return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, 0) == 0;
}

/* The part of a result line from "frame" up to the timings, which vary. */
static char *detections_of(const char *text, const char *source)
{
    char needle[600];
    const char *line, *start, *end;

    snprintf(needle, sizeof(needle), "\"source\":\"%s\",", source);
    line = strstr(text, needle);
    if (line == NULL)
        return NULL;
    start = strstr(line, "\"frame\":");
    end = strstr(line, ",\"timing_ms\"");
    if (start == NULL || end == NULL || end < start)
        return NULL;
    return strndup(start, (size_t)(end - start));
}

static void results_match_verge_detect(void)
{
    test_broker broker;
    const char *photos[] = {"images/grace_hopper.jpg", "images/astronaut.png",
                            "images/coffee.png", "images/car1.jpg"};
    const char *detect_args[] = {"detect", model, data(photos[0]), data(photos[1]),
                                 data(photos[2]), data(photos[3]), NULL};
    cli_result expected, got;
    pid_t worker;

    broker_init(&broker, "verge-mqtt-cli");
    CHECK(broker_start(&broker) == 0);
    worker = start_worker(broker.url, "w-match", (const char *[]){"--threads", "2", NULL});
    CHECK(wait_ready("w-match"));

    expected = cli_run(work_dir, NULL, detect_args);
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model,
                              data(photos[0]), data(photos[1]), data(photos[2]),
                              data(photos[3]), NULL};

        got = cli_run(work_dir, NULL, args);
    }
    CHECK_EQ_INT(expected.status, 0);
    CHECK_EQ_INT(got.status, 0);
    CHECK_EQ_INT(cli_count_lines(got.out, "{\"job\":\""), 4);
    CHECK_EQ_INT(cli_count_lines(got.out, "\"class\":\"face\""), 2);
    for (size_t i = 0; i < 4; i++) {
        char *a = detections_of(expected.out, data(photos[i]));
        char *b = detections_of(got.out, data(photos[i]));

        CHECK_MSG(a != NULL && b != NULL && strcmp(a, b) == 0,
                  "%s: detect gave %s, the worker %s", photos[i], a ? a : "nothing",
                  b ? b : "nothing");
        free(a);
        free(b);
    }
    CHECK(strstr(got.err, "4 jobs: 4 ok, 0 failed") != NULL);
    CHECK(strstr(got.err, "latency p50") != NULL);
    cli_result_free(&expected);
    cli_result_free(&got);

    /* Thresholds travel with the job: --score 0.95 leaves no face (scores are 0.92-0.95). */
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model, "--score", "0.99",
                              data(photos[0]), NULL};

        got = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(got.status, 0);
        CHECK_EQ_INT(cli_count_lines(got.out, "\"detections\":[]"), 1);
        cli_result_free(&got);
    }
    stop_process(worker, SIGTERM);
    broker_cleanup(&broker);
}

static void bad_input_gets_error_lines(void)
{
    test_broker broker;
    cli_result r;
    pid_t worker;
    FILE *file;
    char allow[600];

    broker_init(&broker, "verge-mqtt-cli");
    CHECK(broker_start(&broker) == 0);
    snprintf(allow, sizeof(allow), "%s/", work_dir);
    worker = start_worker(broker.url, "w-bad",
                          (const char *[]){"--max-payload", "100K", "--allow-uri", allow, NULL});
    CHECK(wait_ready("w-bad"));

    file = fopen(work("not-an-image.jpg"), "w");
    if (file != NULL) {
        fputs("this is text, not a JPEG\n", file);
        fclose(file);
    }
    /* The first 1000 bytes of a real JPEG: headers, no picture. */
    {
        char command[1200];

        snprintf(command, sizeof(command), "head -c 1000 %s > %s", data("images/car1.jpg"),
                 work("cut.jpg"));
        CHECK(broker_shell(command) == 0);
        snprintf(command, sizeof(command), "cp %s %s", data("images/grace_hopper.jpg"),
                 work("shared.jpg"));
        CHECK(broker_shell(command) == 0);
    }
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model,
                              work("not-an-image.jpg"), work("cut.jpg"), data("images/car1.jpg"),
                              "/nonexistent/photo.jpg", data("images/grace_hopper.jpg"),
                              "rtsp://127.0.0.1:1/stream", "--job-timeout", "10",
                              "--max-attempts", "1", NULL};

        r = cli_run(work_dir, NULL, args);
    }
    CHECK_EQ_INT(r.status, 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"job\":\""), 6);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"error\":"), 5);
    CHECK_EQ_INT(cli_count_lines(r.out, "not-an-image.jpg\",\"error\":"), 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "cut.jpg\",\"error\":"), 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "exceeds this worker's --max-payload of 102400 bytes"), 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "/nonexistent/photo.jpg: cannot read"), 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "does not start with a URI prefix this worker allows"),
                 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 1);
    CHECK(strstr(r.err, "6 jobs: 1 ok, 5 failed") != NULL);
    cli_result_free(&r);
    CHECK(alive(worker));

    /* A path the worker allows, sent by reference. */
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model,
                              "--by-reference", work("shared.jpg"), NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 0);
        CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 1);
        cli_result_free(&r);
    }

    /* A model no worker serves: each job fails, naming the model. */
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", "hand_landmark_lite",
                              "--wait-workers", "0.5", data("images/grace_hopper.jpg"), NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 1);
        CHECK_EQ_INT(cli_count_lines(r.out, "no worker serves model 'hand_landmark_lite'"), 1);
        cli_result_free(&r);
    }
    /* Usage errors. */
    {
        const char *args[] = {"submit", "--model", model, data("images/coffee.png"), NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 2);
        CHECK(strstr(r.err, "--broker") != NULL);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"serve", "--broker", broker.url, "--model", model, "--threads",
                              "4", "--concurrency", "2", NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 2);
        CHECK(strstr(r.err, "--concurrency 2 is below --threads 4") != NULL);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"submit", "--broker", "mqtt://127.0.0.1:1", "--connect-timeout",
                              "0.5", "--model", model, data("images/coffee.png"), NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 1);
        CHECK(strstr(r.err, "is the broker running") != NULL);
        /* The job fails with a line of its own, and the summary counts it. */
        CHECK_EQ_INT(cli_count_lines(r.out, "no connection within 0.5 s"), 1);
        CHECK_MSG(strstr(r.err, "1 job: 0 ok, 1 failed") != NULL, "%s", r.err);
        CHECK_MSG(strstr(r.err, " 0.00 s") == NULL, "%s", r.err);
        CHECK_MSG(strstr(r.err, "jobs/s") == NULL, "%s", r.err);
        cli_result_free(&r);
    }
    /* Every job failed here: no rate, which would only measure how fast files are missing. */
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model,
                              "/nonexistent/a.jpg", "/nonexistent/b.jpg", NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "2 jobs: 0 ok, 2 failed") != NULL, "%s", r.err);
        CHECK_MSG(strstr(r.err, "jobs/s") == NULL, "%s", r.err);
        cli_result_free(&r);
    }
    CHECK(alive(worker));
    stop_process(worker, SIGTERM);
    broker_cleanup(&broker);
}

static void copy_file(const char *from, const char *to)
{
    char command[1400];

    snprintf(command, sizeof(command), "cp %s %s", from, to);
    CHECK(broker_shell(command) == 0);
}

/*
 * --allow-uri names folders. A path that leaves them through '..' or a
 * symbolic link gets an error result, and so do a sibling folder that
 * shares the name's start, a device, a folder and a playlist. The allowed
 * file runs. Bodies that make FFmpeg open further files get an error
 * result too.
 */
static void allow_uri_stays_in_its_folders(void)
{
    test_broker broker;
    cli_result r;
    pid_t worker;
    char allow[600], uri[8][700];
    FILE *file;

    broker_init(&broker, "verge-mqtt-cli");
    CHECK(broker_start(&broker) == 0);
    CHECK(mkdir(work("allowed"), 0755) == 0);
    CHECK(mkdir(work("allowed2"), 0755) == 0);
    CHECK(mkdir(work("outside"), 0755) == 0);
    copy_file(data("images/grace_hopper.jpg"), work("allowed/in.jpg"));
    copy_file(data("images/grace_hopper.jpg"), work("allowed2/x.jpg"));
    copy_file(data("images/grace_hopper.jpg"), work("outside/x.jpg"));
    CHECK(symlink(work("outside/x.jpg"), work("allowed/link.jpg")) == 0);
    file = fopen(work("allowed/play.m3u8"), "w");
    if (file != NULL) {
        fprintf(file, "#EXTM3U\n#EXTINF:1.0,\n%s\n#EXT-X-ENDLIST\n", work("outside/x.jpg"));
        fclose(file);
    }
    snprintf(allow, sizeof(allow), "%s/", work("allowed"));
    worker = start_worker(broker.url, "w-allow", (const char *[]){"--allow-uri", allow, NULL});
    CHECK(wait_ready("w-allow"));

    snprintf(uri[0], sizeof(uri[0]), "%s/../outside/x.jpg", work("allowed"));
    snprintf(uri[1], sizeof(uri[1]), "%s/../allowed2/x.jpg", work("allowed"));
    snprintf(uri[2], sizeof(uri[2]), "%s/../../../../../../../dev/zero", work("allowed"));
    snprintf(uri[3], sizeof(uri[3]), "file:%s/../outside/x.jpg", work("allowed"));
    snprintf(uri[4], sizeof(uri[4]), "file:%s", work("allowed/in.jpg"));
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model,
                              "--by-reference", work("allowed/in.jpg"), uri[4], uri[0], uri[1],
                              work("allowed2/x.jpg"), work("allowed/link.jpg"), uri[2], uri[3],
                              "/dev/zero", work("allowed"), work("allowed/play.m3u8"),
                              "--job-timeout", "10", "--max-attempts", "1", NULL};

        r = cli_run(work_dir, NULL, args);
    }
    CHECK_EQ_INT(r.status, 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"job\":\""), 11);
    CHECK_MSG(cli_count_lines(r.out, "\"class\":\"face\"") == 2, "%s", r.out);
    CHECK_MSG(cli_count_lines(r.out, "not in a folder this worker allows") == 7, "%s", r.out);
    CHECK_EQ_INT(cli_count_lines(r.out, "is not a regular file"), 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "is an HLS playlist"), 1);
    CHECK(strstr(r.err, "11 jobs: 2 ok, 9 failed") != NULL);
    cli_result_free(&r);

    /* Bodies that name further files: FFmpeg may open none of them. */
    file = fopen(work("play.m3u8"), "w");
    if (file != NULL) {
        fprintf(file, "#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:1.0,\n%s\n#EXT-X-ENDLIST\n",
                data("video/vtest_10s.mp4"));
        fclose(file);
    }
    /* A DASH manifest marked beyond what the worker reads: the protocol whitelist stops it. */
    file = fopen(work("late.mpd"), "w");
    if (file != NULL) {
        fprintf(file, "<?xml version=\"1.0\"?>\n<!-- ");
        for (int i = 0; i < 5000; i++)
            fputc('x', file);
        fprintf(file, " -->\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" "
                      "mediaPresentationDuration=\"PT2S\" minBufferTime=\"PT1S\" "
                      "profiles=\"urn:mpeg:dash:profile:isoff-on-demand:2011\"><Period>"
                      "<AdaptationSet mimeType=\"video/mp4\"><Representation id=\"1\" "
                      "bandwidth=\"1000\" width=\"768\" height=\"576\" codecs=\"avc1\">"
                      "<BaseURL>file:%s</BaseURL></Representation></AdaptationSet></Period>"
                      "</MPD>\n", data("video/vtest_10s.mp4"));
        fclose(file);
    }
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model,
                              work("play.m3u8"), work("late.mpd"), "--job-timeout", "10",
                              "--max-attempts", "1", NULL};

        r = cli_run(work_dir, NULL, args);
    }
    CHECK_EQ_INT(r.status, 1);
    CHECK_EQ_INT(cli_count_lines(r.out, "\"error\":"), 2);
    CHECK_MSG(cli_count_lines(r.out, "the body is an HLS playlist") == 1, "%s", r.out);
    CHECK_MSG(strstr(r.out, "out of memory") == NULL, "%s", r.out);
    CHECK_MSG(cli_count_lines(r.out, "late.mpd\",\"error\":") == 1, "%s", r.out);
    cli_result_free(&r);
    CHECK(alive(worker));
    stop_process(worker, SIGTERM);
    broker_cleanup(&broker);
}

/* Bad options are usage errors (exit status 2), reported before anything prints or connects. */
static void usage_errors_before_connecting(void)
{
    char hand[512];
    cli_result r;

    check_model_path("hand_landmark_lite.tflite", hand);
    {
        const char *args[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--model", model,
                              "--group", "a/b", NULL};

        r = run_briefly(args, 60);
        CHECK_EQ_INT(r.status, 2);
        CHECK_MSG(strstr(r.err, "invalid --group 'a/b'") != NULL, "%s", r.err);
        CHECK_MSG(strstr(r.err, "serving") == NULL && strstr(r.err, "stopped after") == NULL,
                  "%s", r.err);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"submit", "--broker", "mqtt://127.0.0.1:1", "--model", model,
                              "--prefix", "a/b", data("images/coffee.png"), NULL};

        r = run_briefly(args, 60);
        CHECK_EQ_INT(r.status, 2);
        CHECK_MSG(strstr(r.err, "invalid --prefix 'a/b'") != NULL, "%s", r.err);
        CHECK_MSG(strstr(r.err, " jobs:") == NULL, "%s", r.err);
        cli_result_free(&r);
    }
    {
        static const char *const urls[] = {"http://127.0.0.1:1", "mqtt://127.0.0.1:99999"};

        for (int i = 0; i < 2; i++) {
            const char *args[] = {"submit", "--broker", urls[i], "--model", model,
                                  data("images/coffee.png"), NULL};

            r = run_briefly(args, 60);
            CHECK_EQ_INT(r.status, 2);
            CHECK_MSG(strstr(r.err, "broker URL") != NULL, "%s", r.err);
            CHECK_MSG(strstr(r.err, " jobs:") == NULL, "%s", r.err);
            cli_result_free(&r);
        }
    }
    {
        const char *args[] = {"submit", "--broker", "mqtt://127.0.0.1:1", "--model", model,
                              "--list", "/nonexistent/list.txt", NULL};

        r = run_briefly(args, 60);
        CHECK_EQ_INT(r.status, 2);
        CHECK_MSG(strstr(r.err, "verge submit: --list /nonexistent/list.txt: No such file") !=
                      NULL, "%s", r.err);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--model", model,
                              "--model", model, NULL};

        r = run_briefly(args, 60);
        CHECK_EQ_INT(r.status, 2);
        CHECK_MSG(strstr(r.err, "names model 'face_detection_short_range' already") != NULL,
                  "%s", r.err);
        cli_result_free(&r);
    }
    {
        static const char *const entries[] = {"/nonexistent/folder/", "pipe:", "/dev/zero"};

        for (int i = 0; i < 3; i++) {
            const char *args[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--model", model,
                                  "--allow-uri", entries[i], NULL};

            r = run_briefly(args, 60);
            CHECK_MSG(r.status == 2, "--allow-uri %s: status %d", entries[i], r.status);
            CHECK_MSG(strstr(r.err, "--allow-uri '") != NULL, "%s", r.err);
            cli_result_free(&r);
        }
    }
    {
        const char *args[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--model", model,
                              "--head", "no_such_head", NULL};

        r = run_briefly(args, 60);
        CHECK_EQ_INT(r.status, 2);
        CHECK_MSG(strstr(r.err, "no_such_head") != NULL, "%s", r.err);
        cli_result_free(&r);
    }
    /* A model that is no detector: its reason once, before the worker announces anything. */
    {
        const char *args[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--model", hand, NULL};

        r = run_briefly(args, 60);
        CHECK_EQ_INT(r.status, 1);
        CHECK_EQ_INT(cli_count_lines(r.err, "no known detection head fits the model"), 1);
        CHECK_MSG(strstr(r.err, "handler thread") == NULL && strstr(r.err, "serving") == NULL,
                  "%s", r.err);
        cli_result_free(&r);
    }
}

/* Writes MANY_JOBS copies of one photo's path into a --list file. */
static const char *many_jobs_list(void)
{
    const char *path = work("many.txt");
    FILE *file = fopen(path, "w");

    if (file != NULL) {
        for (int i = 0; i < MANY_JOBS; i++)
            fprintf(file, "%s\n", data("images/grace_hopper.jpg"));
        fclose(file);
    }
    return path;
}

/* Checks that every job 0..MANY_JOBS-1 has exactly one line and none failed. */
static void check_each_job_once(const char *out_path, const char *what)
{
    char *text = cli_read_file(out_path);
    int *seen = calloc(MANY_JOBS, sizeof(int));
    int lines = 0, bad = 0, repeated = 0, missing = 0;

    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        const char *dash = strchr(line, '-');
        long index = dash != NULL ? strtol(dash + 1, NULL, 10) : -1;

        lines++;
        if (strncmp(line, "{\"job\":\"", 8) != 0 || index < 0 || index >= MANY_JOBS ||
            strstr(line, "\"error\"") != NULL)
            bad++;
        else if (seen != NULL && seen[index]++ > 0)
            repeated++;
        line = end != NULL ? end + 1 : line + strlen(line);
    }
    for (int i = 0; seen != NULL && i < MANY_JOBS; i++)
        missing += seen[i] == 0;
    CHECK_MSG(lines == MANY_JOBS && bad == 0 && repeated == 0 && missing == 0,
              "%s: %d lines for %d jobs: %d bad, %d repeated, %d missing", what, lines, MANY_JOBS,
              bad, repeated, missing);
    free(seen);
    free(text);
}

typedef enum disruption { KILL_WORKER, REPLACE_WORKER, RESTART_BROKER } disruption;

static void many_jobs_survive(disruption kind)
{
    static const char *const names[] = {"kill -9 a worker", "replace a killed worker",
                                        "restart the broker"};
    test_broker broker;
    pid_t workers[4] = {0};
    int num_workers = kind == KILL_WORKER ? 3 : 2;
    const char *list = many_jobs_list();
    char out[600], err[600], name[32];
    pid_t submit;
    int status;
    char *summary;

    broker_init(&broker, "verge-mqtt-cli");
    broker.persistence = kind == RESTART_BROKER;
    CHECK(broker_start(&broker) == 0);
    for (int i = 0; i < num_workers; i++) {
        snprintf(name, sizeof(name), "w-many-%d-%d", (int)kind, i);
        workers[i] = start_worker(broker.url, name, NULL);
        CHECK(wait_ready(name));
    }
    snprintf(out, sizeof(out), "%s/many-%d.out", work_dir, (int)kind);
    snprintf(err, sizeof(err), "%s/many-%d.err", work_dir, (int)kind);
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model, "--list", list,
                              "--job-timeout", job_timeout, "--window", job_window, NULL};

        submit = cli_spawn(args, out, err);
    }

    /* Disrupt once a fifth of the results are in. */
    for (double until = broker_now() + 60;
         count_lines_in(out) < MANY_JOBS / 5 && broker_now() < until;)
        broker_sleep(0.01);
    switch (kind) {
    case KILL_WORKER:
        stop_process(workers[0], SIGKILL);
        workers[0] = 0;
        break;
    case REPLACE_WORKER:
        stop_process(workers[0], SIGKILL);
        snprintf(name, sizeof(name), "w-many-%d-new", (int)kind);
        workers[0] = start_worker(broker.url, name, NULL);
        break;
    case RESTART_BROKER:
        broker_stop(&broker);
        broker_sleep(0.3);
        CHECK(broker_start(&broker) == 0);
        break;
    }
    CHECK_MSG(count_lines_in(out) < MANY_JOBS, "%s: all results were in before the disruption",
              names[kind]);

    status = wait_exit(submit, 180);
    CHECK_MSG(status == 0, "%s: submit exited with %d", names[kind], status);
    check_each_job_once(out, names[kind]);
    summary = cli_read_file(err);
    CHECK_MSG(summary != NULL && strstr(summary, "failed") != NULL, "%s: no summary",
              names[kind]);
    if (kind == RESTART_BROKER)
        CHECK_MSG(summary != NULL && strstr(summary, " 0 reconnections") == NULL,
                  "%s: %s", names[kind], summary);
    if (summary != NULL)
        printf("%s: %s", names[kind], strstr(summary, "verge submit: ") ? strstr(summary,
               "verge submit: ") : summary);
    free(summary);
    for (int i = 0; i < num_workers; i++) {
        if (workers[i] > 0) {
            CHECK_MSG(alive(workers[i]), "%s: worker %d died", names[kind], i);
            stop_process(workers[i], SIGTERM);
        }
    }
    broker_cleanup(&broker);
}

static void many_jobs_survive_a_killed_worker(void)
{
    many_jobs_survive(KILL_WORKER);
}

static void many_jobs_survive_a_replaced_worker(void)
{
    many_jobs_survive(REPLACE_WORKER);
}

static void many_jobs_survive_a_broker_restart(void)
{
    many_jobs_survive(RESTART_BROKER);
}

static void tls_and_password(void)
{
    test_broker broker;
    cli_result r;
    pid_t worker;

    broker_init(&broker, "verge-mqtt-cli-tls");
    CHECK_MSG(broker_make_certificates(&broker) == 0, "openssl failed; see %s/openssl.log",
              broker.dir);
    broker.tls = true;
    broker.passwords = true;
    CHECK(broker_start(&broker) == 0);
    setenv("VERGE_MQTT_PASSWORD", "secret", 1);
    worker = start_worker(broker.url, "w-tls",
                          (const char *[]){"--cafile", broker_file(&broker, "ca.pem"),
                                           "--username", "verge", NULL});
    CHECK(wait_ready("w-tls"));
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model, "--cafile",
                              broker_file(&broker, "ca.pem"), "--username", "verge",
                              data("images/grace_hopper.jpg"), NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 0);
        CHECK_EQ_INT(cli_count_lines(r.out, "\"class\":\"face\""), 1);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model, "--cafile",
                              broker_file(&broker, "other-ca.pem"), "--username", "verge",
                              data("images/grace_hopper.jpg"), NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "TLS") != NULL, "%s", r.err);
        cli_result_free(&r);
    }
    unsetenv("VERGE_MQTT_PASSWORD");
    {
        const char *args[] = {"submit", "--broker", broker.url, "--model", model, "--cafile",
                              broker_file(&broker, "ca.pem"), "--username", "verge", "--password",
                              "wrong", data("images/grace_hopper.jpg"), NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 1);
        CHECK_MSG(strstr(r.err, "user name") != NULL, "%s", r.err);
        cli_result_free(&r);
    }
    stop_process(worker, SIGTERM);
    broker_cleanup(&broker);
}

int main(void)
{
    char command[600];

    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(work_dir) == NULL) {
        perror(work_dir);
        return 2;
    }
    check_model_path("face_detection_short_range.tflite", model);

    RUN(usage_errors_before_connecting);
    RUN(results_match_verge_detect);
    RUN(bad_input_gets_error_lines);
    RUN(allow_uri_stays_in_its_folders);
    RUN(many_jobs_survive_a_killed_worker);
    RUN(many_jobs_survive_a_replaced_worker);
    RUN(many_jobs_survive_a_broker_restart);
    RUN(tls_and_password);

    snprintf(command, sizeof(command), "rm -rf %s", work_dir);
    broker_shell(command);
    return check_summary();
}
