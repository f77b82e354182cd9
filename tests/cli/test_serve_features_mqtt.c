/*
 * `verge serve --features` with its own Mosquitto: readings published per
 * device come back as window features per device (values checked by hand),
 * numbers with line ends around them are read, payloads that are not
 * numbers are skipped without stopping the node and summed up, a failed
 * subscription stops the node, and bad options (topic filters among them)
 * are usage errors.
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
    const char *lines[] = {"4\n", "5\r\n", " 6 \n", "\r\n7\t\r\n"};
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
    /* As `echo 4 | mosquitto_pub -s` sends them: line ends around the number. */
    for (size_t i = 0; i < 4; i++)
        publish(mqtt, "sensors/c/value", lines[i], strlen(lines[i]));

    /* Hostile and odd payloads for device b: skipped, or a missing sample. */
    memset(binary, 0xff, sizeof(binary));
    publish(mqtt, "sensors/b/value", "oops", 4);
    publish(mqtt, "sensors/b/value", (const char *)binary, sizeof(binary));
    /* Ten that are not numbers in all: five logged, then a summary at the tenth. */
    for (int i = 0; i < 8; i++)
        publish(mqtt, "sensors/d/value", "x1", 2);
    publish(mqtt, "sensors/b/value", "1e999999", 8);
    publish(mqtt, "sensors/b/value", " 10 ", 4);
    publish(mqtt, "sensors/b/value", "NaN", 3);
    publish(mqtt, "sensors/b/value", "30", 2);
    publish(mqtt, "sensors/b/value", "-40.5", 5);
    service(mqtt, 5, &box, 4);

    CHECK_EQ_INT(box.count, 4);
    CHECK_MSG(has_line(&box, "verge/features/sensors/c/value {\"topic\":\"sensors/c/value\","
                             "\"window\":0,\"end\":3,\"mean\":5.5,\"max\":7.0}"),
              "no window of sensors/c/value");
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
    CHECK_EQ_INT(cli_count_lines(log, "is not a number, skipped"), 5);
    CHECK_MSG(strstr(log, "10 payloads that are not numbers skipped so far (5 since the last "
                          "report; the last on sensors/d/value)") != NULL, "%s", log);
    CHECK(strstr(log, "windows published, 10 invalid payloads") != NULL);
    free(log);
    broker_cleanup(&broker);
}

/*
 * Runs "$VERGE_BIN args..." like cli_run(), but kills it after `seconds`
 * (status -1), so that a command that must fail at once cannot hang the test.
 */
static cli_result run_briefly(const char *const *args, double seconds)
{
    const char *bin = getenv("VERGE_BIN");
    const char *argv[16];
    cli_result result = {-1, NULL, NULL};
    char out[600], err[600];
    int argc = 0, status;
    pid_t pid;

    snprintf(out, sizeof(out), "%s/brief.out", work_dir);
    snprintf(err, sizeof(err), "%s/brief.err", work_dir);
    argv[argc++] = bin;
    for (int i = 0; args[i] != NULL && argc < 15; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(o, 1);
        dup2(e, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (double until = broker_now() + seconds; pid > 0; broker_sleep(0.02)) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (broker_now() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
    }
    result.out = cli_read_file(out);
    result.err = cli_read_file(err);
    return result;
}

/* A subscription that fails while running stops the node (exit status 1), never "ready". */
static void subscription_failure_stops_the_node(void)
{
    test_broker broker;
    char filter[400];
    cli_result r;

    broker_init(&broker, "verge-features-small");
    broker.max_packet_size = 200;
    CHECK(broker_start(&broker) == 0);
    memset(filter, 'a', sizeof(filter) - 1);
    memcpy(filter, "sensors/", 8);
    filter[sizeof(filter) - 3] = '/';
    filter[sizeof(filter) - 2] = '+';
    filter[sizeof(filter) - 1] = '\0';
    {
        const char *args[] = {"serve", "--broker", broker.url, "--features", "--topic", filter,
                              NULL};

        r = run_briefly(args, 30);
    }
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.err, "cannot subscribe to 'sensors/aaa") != NULL, "%s", r.err);
    CHECK_MSG(strstr(r.err, " ready") == NULL, "%s", r.err);
    cli_result_free(&r);
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
    {
        static const char *const filters[] = {"#/a", "sensors/a+", "s/#/x", ""};

        for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
            const char *args[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--features",
                                  "--topic", filters[i], NULL};

            r = run_briefly(args, 30);
            CHECK_MSG(r.status == 2, "--topic '%s': status %d", filters[i], r.status);
            CHECK_MSG(strstr(r.err, "--topic: topic filter") != NULL, "%s", r.err);
            CHECK_MSG(strstr(r.err, "ready") == NULL, "%s", r.err);
            cli_result_free(&r);
        }
    }
    {
        const char *with_model[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--features",
                                    "--topic", "s/+", "--model", "x.tflite", NULL};
        const char *without_features[] = {"serve", "--broker", "mqtt://127.0.0.1:1", "--model",
                                          "x.tflite", "--window", "4", NULL};

        r = run_briefly(with_model, 30);
        CHECK_EQ_INT(r.status, 2);
        CHECK_MSG(strstr(r.err, "--model is for detection jobs") != NULL, "%s", r.err);
        cli_result_free(&r);
        r = run_briefly(without_features, 30);
        CHECK_EQ_INT(r.status, 2);
        CHECK_MSG(strstr(r.err, "--window is for sensor streams") != NULL, "%s", r.err);
        cli_result_free(&r);
    }
}

int main(void)
{
    char command[600];

    if (mkdtemp(work_dir) == NULL) {
        perror(work_dir);
        return 2;
    }
    RUN(windows_per_device);
    RUN(subscription_failure_stops_the_node);
    RUN(usage_errors);
    snprintf(command, sizeof(command), "rm -rf %s", work_dir);
    broker_shell(command);
    return check_summary();
}
