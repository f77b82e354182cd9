/*
 * `verge serve --features` with its own Mosquitto: readings published per
 * device come back as window features per device (values checked by hand),
 * payloads that are not numbers are skipped without stopping the node, and
 * bad options are usage errors.
 */
#include <signal.h>

#include "check.h"
#include "cli/cli_run.h"
#include "net/mqtt_broker.h"
#include "verge/net.h"

static char work_dir[] = "/tmp/verge-features-mqtt-XXXXXX";

typedef struct inbox {
    char lines[16][512];
    int count;
} inbox;

static void on_connect(void *user, verge_mqtt *mqtt)
{
    (void)user;
    verge_mqtt_subscribe(mqtt, "verge/features/#");
}

static void on_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    inbox *box = user;

    (void)mqtt;
    if (box->count < 16)
        snprintf(box->lines[box->count++], sizeof(box->lines[0]), "%s %.*s", message->topic,
                 (int)message->size, (const char *)message->payload);
}

static void service(verge_mqtt *mqtt, double seconds, inbox *box, int until_count)
{
    for (double until = broker_now() + seconds;
         broker_now() < until && (until_count <= 0 || box->count < until_count);)
        verge_mqtt_service(mqtt, 20, true);
}

static void publish(verge_mqtt *mqtt, const char *topic, const char *text, size_t size)
{
    CHECK_OK(verge_mqtt_publish(mqtt, topic, text, size, 1, false, NULL, NULL));
}

static bool has_line(const inbox *box, const char *line)
{
    for (int i = 0; i < box->count; i++)
        if (strcmp(box->lines[i], line) == 0)
            return true;
    return false;
}

static void windows_per_device(void)
{
    test_broker broker;
    inbox box = {0};
    verge_mqtt_options options;
    verge_mqtt_callbacks callbacks = {on_connect, NULL, on_message, NULL, &box};
    verge_mqtt *mqtt = NULL;
    char out[600], err[600];
    const char *values[] = {"1", "2", "3", "4", "5", "6"};
    uint8_t binary[300];
    pid_t node;
    int status;
    char *log;

    broker_init(&broker, "verge-features");
    CHECK(broker_start(&broker) == 0);
    snprintf(out, sizeof(out), "%s/node.out", work_dir);
    snprintf(err, sizeof(err), "%s/node.err", work_dir);
    {
        const char *bin = getenv("VERGE_BIN");

        fflush(stdout);
        node = fork();
        if (node == 0) {
            int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

            dup2(o, 1);
            dup2(e, 2);
            execl(bin, bin, "serve", "--broker", broker.url, "--features", "--topic",
                  "sensors/+/value", "--window", "4", "--step", "2", "--list", "mean,max",
                  (char *)NULL);
            _exit(127);
        }
    }
    for (double until = broker_now() + 10; broker_now() < until; broker_sleep(0.02)) {
        char *text = cli_read_file(err);
        bool ready = strstr(text, " ready") != NULL;

        free(text);
        if (ready)
            break;
    }

    verge_mqtt_options_init(&options);
    options.url = broker.url;
    options.connect_timeout = 5;
    CHECK_OK(verge_mqtt_create(&options, &callbacks, &mqtt));
    if (mqtt == NULL)
        goto done;
    CHECK_OK(verge_mqtt_connect(mqtt, NULL));
    service(mqtt, 0.3, &box, 0);

    for (size_t i = 0; i < 6; i++)
        publish(mqtt, "sensors/a/value", values[i], strlen(values[i]));
    /* Hostile and odd payloads for device b: skipped, or a missing sample. */
    memset(binary, 0xff, sizeof(binary));
    publish(mqtt, "sensors/b/value", "oops", 4);
    publish(mqtt, "sensors/b/value", (const char *)binary, sizeof(binary));
    publish(mqtt, "sensors/b/value", "1e999999", 8);
    publish(mqtt, "sensors/b/value", " 10 ", 4);
    publish(mqtt, "sensors/b/value", "NaN", 3);
    publish(mqtt, "sensors/b/value", "30", 2);
    publish(mqtt, "sensors/b/value", "-40.5", 5);
    service(mqtt, 5, &box, 3);

    CHECK_EQ_INT(box.count, 3);
    CHECK_MSG(has_line(&box, "verge/features/sensors/a/value {\"topic\":\"sensors/a/value\","
                             "\"window\":0,\"end\":3,\"mean\":2.5,\"max\":4.0}"),
              "got: %s", box.lines[0]);
    CHECK(has_line(&box, "verge/features/sensors/a/value {\"topic\":\"sensors/a/value\","
                         "\"window\":1,\"end\":5,\"mean\":4.5,\"max\":6.0}"));
    /* b: 10, NaN filled forward with 10, 30, -40.5 (1e999999 is +inf: a value, not skipped). */
    {
        bool found = false;

        for (int i = 0; i < box.count; i++)
            found = found || strstr(box.lines[i], "sensors/b/value\",\"window\":0,\"end\":3") != NULL;
        CHECK(found);
    }
    CHECK(kill(node, 0) == 0);
    verge_mqtt_destroy(mqtt);

done:
    kill(node, SIGTERM);
    waitpid(node, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    log = cli_read_file(err);
    CHECK_MSG(strstr(log, "sensors/b/value: payload of 4 bytes is not a number, skipped") != NULL,
              "%s", log);
    CHECK(strstr(log, "payload of 300 bytes is not a number") != NULL);
    CHECK(strstr(log, "windows published, 2 invalid payloads") != NULL);
    free(log);
    broker_cleanup(&broker);
}

static void usage_errors(void)
{
    const char *no_topic[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--features", NULL};
    const char *batch_fill[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--features",
                                "--topic", "s/+", "--fill", "median", NULL};
    const char *bad_list[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--features",
                              "--topic", "s/+", "--list", "mean,bogus", NULL};
    cli_result r;

    r = cli_run(work_dir, NULL, no_topic);
    CHECK_EQ_INT(r.status, 2);
    CHECK_EQ_INT(cli_count_lines(r.err, "--features needs --topic"), 1);
    cli_result_free(&r);
    r = cli_run(work_dir, NULL, batch_fill);
    CHECK_EQ_INT(r.status, 2);
    CHECK(strstr(r.err, "need the whole series") != NULL);
    cli_result_free(&r);
    r = cli_run(work_dir, NULL, bad_list);
    CHECK_EQ_INT(r.status, 2);
    CHECK(strstr(r.err, "bogus") != NULL);
    cli_result_free(&r);
}

int main(void)
{
    char command[600];

    if (mkdtemp(work_dir) == NULL) {
        perror(work_dir);
        return 2;
    }
    RUN(windows_per_device);
    RUN(usage_errors);
    snprintf(command, sizeof(command), "rm -rf %s", work_dir);
    broker_shell(command);
    return check_summary();
}
