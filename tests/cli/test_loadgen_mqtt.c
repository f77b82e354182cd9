/*
 * `verge loadgen` against its own Mosquitto: a few hundred devices for a
 * few seconds with delivery measured on the subscribing side (the full
 * 10 000-device run is a benchmark, bench/mqtt/), an image payload, and
 * the two limits it must name: the broker's max_connections and this
 * process's open-file limit; bad options are usage errors.
 */
#include "check.h"
#include "cli/cli_run.h"
#include "net/mqtt_broker.h"

static char work_dir[] = "/tmp/verge-loadgen-cli-XXXXXX";

/* Reads the integer after "\"key\":" in a JSON line, or -1. */
static long long json_int(const char *text, const char *key)
{
    char needle[64];
    const char *at;

    snprintf(needle, sizeof(needle), "\"%s\":", key);
    at = text != NULL ? strstr(text, needle) : NULL;
    return at != NULL ? strtoll(at + strlen(needle), NULL, 10) : -1;
}

static void fleet_without_loss(void)
{
    test_broker broker;
    cli_result r;

    broker_init(&broker, "verge-loadgen");
    CHECK(broker_start(&broker) == 0);
    {
        const char *args[] = {"loadgen", "--broker", broker.url, "--devices", "300", "--rate",
                              "2", "--duration", "3", "--subscribe", NULL};

        r = cli_run(work_dir, NULL, args);
    }
    CHECK_MSG(r.status == 0, "status %d: %s", r.status, r.err);
    CHECK_EQ_INT(cli_count_lines(r.out, "{\"devices\":300,"), 1);
    CHECK_EQ_INT(json_int(r.out, "connected"), 300);
    CHECK_EQ_INT(json_int(r.out, "failed"), 0);
    CHECK_EQ_INT(json_int(r.out, "sent"), 1800);
    CHECK_EQ_INT(json_int(r.out, "acked"), 1800);
    CHECK_EQ_INT(json_int(r.out, "lost"), 0);
    CHECK_EQ_INT(json_int(r.out, "received"), 1800);
    CHECK_EQ_INT(json_int(r.out, "missing"), 0);
    CHECK(strstr(r.out, "\"ack_ms\":{\"p50\":") != NULL);
    CHECK(strstr(r.err, "300 of 300 devices connected") != NULL);
    CHECK(strstr(r.err, "publish to delivery: p50") != NULL);
    cli_result_free(&r);

    /* Devices that send a photo, on a topic of the user's choice. */
    {
        char photo[512];
        const char *args[] = {"loadgen", "--broker", broker.url, "--devices", "20", "--rate", "5",
                              "--duration", "1", "--topic", "cameras/{device}/frame",
                              "--payload",
                              check_env_path("VERGE_TEST_DATA", "images/grace_hopper.jpg", photo,
                                             sizeof(photo)),
                              "--subscribe", NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_MSG(r.status == 0, "status %d: %s", r.status, r.err);
        CHECK_EQ_INT(json_int(r.out, "sent"), 100);
        CHECK_EQ_INT(json_int(r.out, "received"), 100);
        cli_result_free(&r);
    }
    broker_cleanup(&broker);
}

/* Bad options are usage errors (exit status 2), named before anything connects. */
static void usage_errors(void)
{
    static const char *const topics[] = {"sensors/+/x", "a/#/{device}", "a/{device}x",
                                         "$SYS/{device}", "a/{device}/b\x01"};
    cli_result r;

    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        const char *args[] = {"loadgen", "--broker", "mqtt://127.0.0.1:1", "--topic", topics[i],
                              "--devices", "1", NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_MSG(r.status == 2, "--topic %s: status %d", topics[i], r.status);
        CHECK_MSG(strstr(r.err, "topic '") != NULL, "--topic %s: %s", topics[i], r.err);
        CHECK_MSG(strstr(r.err, "connecting") == NULL, "--topic %s: %s", topics[i], r.err);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"loadgen", "--broker", "http://127.0.0.1:1", NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 2);
        CHECK(strstr(r.err, "must start with mqtt://") != NULL);
        CHECK(strstr(r.err, "connecting") == NULL);
        cli_result_free(&r);
    }
    {
        const char *args[] = {"loadgen", "--broker", "mqtt://127.0.0.1:1", "--payload",
                              "/nonexistent/photo.jpg", NULL};

        r = cli_run(work_dir, NULL, args);
        CHECK_EQ_INT(r.status, 2);
        CHECK(strstr(r.err, "cannot read --payload /nonexistent/photo.jpg") != NULL);
        cli_result_free(&r);
    }
}

static void broker_connection_limit_is_named(void)
{
    test_broker broker;
    cli_result r;
    long long connected;
    char expected[128];

    broker_init(&broker, "verge-loadgen");
    broker.max_connections = 50;
    CHECK(broker_start(&broker) == 0);
    {
        const char *args[] = {"loadgen", "--broker", broker.url, "--devices", "80", "--duration",
                              "1", "--drain", "1", NULL};

        r = cli_run(work_dir, NULL, args);
    }
    CHECK_EQ_INT(r.status, 1);
    /* Mosquitto 2.0.11 admits max_connections + 1 clients. */
    connected = json_int(r.out, "connected");
    CHECK_MSG(connected >= 50 && connected <= 51, "%lld connected", connected);
    CHECK_EQ_INT(json_int(r.out, "failed"), 80 - connected);
    CHECK_EQ_INT(json_int(r.out, "lost"), 0);
    snprintf(expected, sizeof(expected), "%lld of 80 devices could not connect", 80 - connected);
    CHECK_MSG(strstr(r.err, expected) != NULL && strstr(r.err, "max_connections") != NULL,
              "%s", r.err);
    cli_result_free(&r);
    broker_cleanup(&broker);
}

static void open_file_limit_is_named(void)
{
    test_broker broker;
    char command[2000], out_path[600], err_path[600];
    char *out, *err;
    int status;

    broker_init(&broker, "verge-loadgen");
    CHECK(broker_start(&broker) == 0);
    /* The shell lowers both limits for loadgen alone, which then cannot raise them. */
    snprintf(out_path, sizeof(out_path), "%s/limit.out", work_dir);
    snprintf(err_path, sizeof(err_path), "%s/limit.err", work_dir);
    snprintf(command, sizeof(command),
             "ulimit -n 64 && exec \"$VERGE_BIN\" loadgen --broker %s --devices 100 --duration 1 "
             "--drain 1 --processes 1 > %s 2> %s", broker.url, out_path, err_path);
    status = broker_shell(command);
    out = cli_read_file(out_path);
    err = cli_read_file(err_path);
    if (json_int(out, "open_file_limit") != 64) {
        /* A process with CAP_SYS_RESOURCE raised its hard limit again: every device fits. */
        CHECK_EQ_INT(status, 0);
        CHECK_EQ_INT(json_int(out, "connected"), 100);
    } else {
        CHECK_EQ_INT(status, 1);
        CHECK(json_int(out, "connected") > 0);
        CHECK(json_int(out, "connected") < 64 / 3);
        CHECK_MSG(strstr(err, "open-file limit (64) ran out") != NULL, "%s", err);
        CHECK_MSG(strstr(err, "the open-file limit 64 allows about 9 devices per process (3 "
                              "descriptors each)") != NULL, "%s", err);
    }
    free(out);
    free(err);

    /* Without --processes, loadgen splits the fleet over processes that each fit the limit. */
    snprintf(command, sizeof(command),
             "ulimit -n 64 && exec \"$VERGE_BIN\" loadgen --broker %s --devices 60 --duration 2 "
             "--subscribe > %s 2> %s", broker.url, out_path, err_path);
    status = broker_shell(command);
    out = cli_read_file(out_path);
    err = cli_read_file(err_path);
    CHECK_MSG(status == 0, "status %d: %s", status, err);
    CHECK_EQ_INT(json_int(out, "connected"), 60);
    CHECK(json_int(out, "processes") >= 7);
    CHECK_EQ_INT(json_int(out, "sent"), 120);
    CHECK_EQ_INT(json_int(out, "acked"), 120);
    CHECK_EQ_INT(json_int(out, "received"), 120);
    CHECK_EQ_INT(json_int(out, "missing"), 0);
    free(out);
    free(err);
    broker_cleanup(&broker);
}

int main(void)
{
    char command[600];

    if (mkdtemp(work_dir) == NULL) {
        perror(work_dir);
        return 2;
    }
    RUN(usage_errors);
    RUN(fleet_without_loss);
    RUN(broker_connection_limit_is_named);
    RUN(open_file_limit_is_named);
    snprintf(command, sizeof(command), "rm -rf %s", work_dir);
    broker_shell(command);
    return check_summary();
}
