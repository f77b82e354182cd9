/*
 * The worker against a real Mosquitto, with a small handler: every job gets
 * exactly one result on its response topic with its correlation data;
 * malformed, truncated, random, oversized and unknown-model payloads each
 * get an error result naming the job, and the worker keeps serving; a
 * message without a response topic is dropped; a stop finishes the jobs
 * in hand and clears the worker's presence; a worker never takes more
 * jobs from the broker than its concurrency; a handler thread that cannot
 * start is named with its own reason. Also the submitting client with local
 * failures (missing file, no worker for the model, no broker).
 */
#include <pthread.h>

#include "check.h"
#include "core/core.h"
#include "net/mqtt_broker.h"
#include "verge/net.h"

static const char *const models[] = {"echo_model"};

/* Jobs whose body starts with "hold" wait in the handler until the test releases them. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_changed = PTHREAD_COND_INITIALIZER;
static int hold_entered;      /* "hold" jobs that reached the handler */
static bool hold_released;

static void hold_job(void)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20; /* a failing test must not hang */
    pthread_mutex_lock(&hold_lock);
    hold_entered++;
    pthread_cond_broadcast(&hold_changed);
    while (!hold_released && pthread_cond_timedwait(&hold_changed, &hold_lock, &until) == 0)
        continue;
    pthread_mutex_unlock(&hold_lock);
}

/*
 * Returns {"job":ID,"bytes":N}; a body that starts with "fail" fails, "slow"
 * sleeps 0.3 s first, "hold" waits for the test.
 */
static verge_status echo_handle(void *state, const verge_job *job, char **result)
{
    char text[256];

    (void)state;
    if (job->body_size >= 4 && memcmp(job->body, "hold", 4) == 0)
        hold_job();
    if (job->body_size >= 4 && memcmp(job->body, "fail", 4) == 0) {
        *result = NULL;
        return VERGE_STATUS_INVALID_DATA; /* without verge_fail: the worker words it */
    }
    if (job->body_size >= 4 && memcmp(job->body, "slow", 4) == 0)
        broker_sleep(0.3);
    snprintf(text, sizeof(text), "{\"job\":\"%s\",\"bytes\":%zu}", job->id, job->body_size);
    *result = strdup(text);
    return *result != NULL ? VERGE_OK : VERGE_STATUS_OUT_OF_MEMORY;
}

typedef struct running_worker {
    verge_worker_options options;
    volatile sig_atomic_t stop;
    verge_status status;
    verge_worker_stats stats;
    pthread_t thread;
} running_worker;

static void *worker_main(void *arg)
{
    running_worker *w = arg;

    w->status = verge_worker_run(&w->options, &w->stop, &w->stats);
    return NULL;
}

static void worker_start(running_worker *w, const char *url, int threads, size_t max_payload)
{
    memset(w, 0, sizeof(*w));
    verge_mqtt_options_init(&w->options.mqtt);
    w->options.mqtt.url = url;
    w->options.mqtt.connect_timeout = 5;
    w->options.models = models;
    w->options.num_models = 1;
    w->options.threads = threads;
    w->options.concurrency = threads * 2;
    w->options.max_payload = max_payload;
    w->options.handle = echo_handle;
    CHECK(pthread_create(&w->thread, NULL, worker_main, w) == 0);
}

static void worker_finish(running_worker *w)
{
    w->stop = 1;
    pthread_join(w->thread, NULL);
    CHECK_OK(w->status);
}

/* A raw client: sends arbitrary payloads to the job topic and collects the answers. */
typedef struct answer {
    char correlation[80];
    char payload[1024];
    char status[16];
} answer;

typedef struct raw_client {
    verge_mqtt *mqtt;
    answer answers[64];
    int count;
    int presence_messages;
    char presence[512];
} raw_client;

static void raw_on_connect(void *user, verge_mqtt *mqtt)
{
    (void)user;
    verge_mqtt_subscribe(mqtt, "test/answers");
    verge_mqtt_subscribe(mqtt, "verge/workers/+");
}

static void raw_on_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    raw_client *c = user;

    (void)mqtt;
    if (strncmp(message->topic, "verge/workers/", 14) == 0) {
        c->presence_messages++;
        snprintf(c->presence, sizeof(c->presence), "%.*s", (int)message->size,
                 (const char *)message->payload);
        return;
    }
    if (c->count < 64) {
        answer *a = &c->answers[c->count++];

        snprintf(a->correlation, sizeof(a->correlation), "%.*s", (int)message->correlation_size,
                 message->correlation != NULL ? (const char *)message->correlation : "");
        snprintf(a->payload, sizeof(a->payload), "%.*s", (int)message->size,
                 (const char *)message->payload);
        snprintf(a->status, sizeof(a->status), "%s",
                 message->status != NULL ? message->status : "");
    }
}

static void raw_service(raw_client *c, double seconds, int until_count)
{
    double until = broker_now() + seconds;

    while (broker_now() < until && (until_count <= 0 || c->count < until_count))
        verge_mqtt_service(c->mqtt, 20, true);
}

static void raw_send(raw_client *c, const char *correlation, const void *payload, size_t size,
                     bool with_response_topic)
{
    verge_mqtt_publish_options publish = {0};

    publish.response_topic = with_response_topic ? "test/answers" : NULL;
    publish.correlation = correlation;
    publish.correlation_size = correlation != NULL ? strlen(correlation) : 0;
    CHECK_OK(verge_mqtt_publish(c->mqtt, "verge/jobs/echo_model", payload, size, 1, false,
                                &publish, NULL));
}

static const answer *find_answer(const raw_client *c, const char *correlation, int *copies)
{
    const answer *found = NULL;

    *copies = 0;
    for (int i = 0; i < c->count; i++) {
        if (strcmp(c->answers[i].correlation, correlation) == 0) {
            found = &c->answers[i];
            (*copies)++;
        }
    }
    return found;
}

static uint8_t *make_job_from(const char *id, const char *model, const char *source,
                              const char *body, size_t *size)
{
    verge_job job = {0};
    uint8_t *envelope = NULL;

    job.kind = VERGE_JOB_IMAGE;
    job.id = id;
    job.model = model;
    job.source = source;
    job.score = 0.5f;
    job.iou = 0.3f;
    job.body = (const uint8_t *)body;
    job.body_size = strlen(body);
    CHECK_OK(verge_job_encode(&job, &envelope, size));
    return envelope;
}

static uint8_t *make_job(const char *id, const char *model, const char *body, size_t *size)
{
    return make_job_from(id, model, "test", body, size);
}

static void check_error_answer(const raw_client *c, const char *id, const char *words)
{
    int copies;
    const answer *a = find_answer(c, id, &copies);

    CHECK_MSG(copies == 1, "job %s: %d answers", id, copies);
    if (a == NULL)
        return;
    CHECK_MSG(strcmp(a->status, "error") == 0, "job %s: status '%s'", id, a->status);
    CHECK_MSG(strstr(a->payload, words) != NULL, "job %s: answer %s lacks '%s'", id, a->payload,
              words);
    CHECK_MSG(a->payload[0] == '{' && a->payload[strlen(a->payload) - 1] == '}',
              "job %s: answer %s", id, a->payload);
}

static void hostile_jobs_get_error_results(void)
{
    test_broker broker;
    running_worker worker;
    raw_client client = {0};
    verge_mqtt_options options;
    verge_mqtt_callbacks callbacks = {raw_on_connect, NULL, raw_on_message, NULL, &client};
    uint8_t *good, *other_model, *failing, *big;
    size_t good_size, other_size, failing_size, big_size;
    char body[3000];
    uint8_t noise[500];
    int copies;

    broker_init(&broker, "verge-worker");
    CHECK(broker_start(&broker) == 0);
    worker_start(&worker, broker.url, 2, 2048);

    verge_mqtt_options_init(&options);
    options.url = broker.url;
    options.connect_timeout = 5;
    CHECK_OK(verge_mqtt_create(&options, &callbacks, &client.mqtt));
    if (client.mqtt == NULL)
        goto done;
    CHECK_OK(verge_mqtt_connect(client.mqtt, NULL));
    raw_service(&client, 0.5, 0);
    CHECK_MSG(strstr(client.presence, "\"models\":[\"echo_model\"]") != NULL, "presence: %s",
              client.presence);

    good = make_job("good-1", "echo_model", "hello", &good_size);
    /* Its source's password must not come back in the error result. */
    other_model = make_job_from("other-1", "no_such_model", "rtsp://cam:secret@10.0.0.5/live",
                                "hello", &other_size);
    failing = make_job("fail-1", "echo_model", "fail now", &failing_size);
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    big = make_job("big-1", "echo_model", body, &big_size);
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (uint8_t)(i * 151 + 7);

    raw_send(&client, "empty-1", "", 0, true);
    raw_send(&client, "json-1", "{\"job\":\"json-1\",\"image\":\"base64...\"}", 36, true);
    raw_send(&client, "noise-1", noise, sizeof(noise), true);
    if (good != NULL) {
        raw_send(&client, "cut-1", good, good_size - 3, true);
        raw_send(&client, "good-1", good, good_size, true);
    }
    if (other_model != NULL)
        raw_send(&client, "other-1", other_model, other_size, true);
    if (failing != NULL)
        raw_send(&client, "fail-1", failing, failing_size, true);
    if (big != NULL)
        raw_send(&client, "big-1", big, big_size, true);
    raw_send(&client, "silent-1", good, good_size, false);
    raw_send(&client, NULL, "x", 1, true); /* no correlation data: answered with "job":"" */
    raw_service(&client, 5, 9);

    check_error_answer(&client, "empty-1", "shorter than the 24-byte header");
    check_error_answer(&client, "json-1", "not a verge job");
    check_error_answer(&client, "noise-1", "job envelope");
    check_error_answer(&client, "cut-1", "add up to");
    check_error_answer(&client, "other-1", "unknown model 'no_such_model'");
    check_error_answer(&client, "other-1", "serves echo_model");
    check_error_answer(&client, "other-1", "\"source\":\"rtsp://cam:***@10.0.0.5/live\"");
    {
        const answer *a = find_answer(&client, "other-1", &copies);

        CHECK_MSG(a == NULL || strstr(a->payload, "secret") == NULL, "answer: %s", a->payload);
    }
    check_error_answer(&client, "fail-1", "\"status\":\"invalid data\"");
    check_error_answer(&client, "big-1", "exceeds this worker's --max-payload of 2048 bytes");
    check_error_answer(&client, "", "job envelope");
    {
        const answer *a = find_answer(&client, "good-1", &copies);

        CHECK_EQ_INT(copies, 1);
        if (a != NULL) {
            CHECK(strcmp(a->status, "ok") == 0);
            CHECK(strcmp(a->payload, "{\"job\":\"good-1\",\"bytes\":5}") == 0);
        }
    }
    find_answer(&client, "silent-1", &copies);
    CHECK_EQ_INT(copies, 0);
    CHECK_EQ_INT(client.count, 9);

    /* Still serving after all that. */
    if (good != NULL) {
        raw_send(&client, "good-2", good, good_size, true);
        raw_service(&client, 3, 10);
        find_answer(&client, "good-2", &copies);
        CHECK_EQ_INT(copies, 1);
    }

    /* A stop answers the jobs in hand first, then clears the presence. */
    if (good != NULL) {
        size_t slow_size;
        uint8_t *slow = make_job("slow-1", "echo_model", "slow job", &slow_size);

        if (slow != NULL) {
            raw_send(&client, "slow-1", slow, slow_size, true);
            raw_service(&client, 0.1, 0);
            worker.stop = 1;
            raw_service(&client, 2, 11);
            find_answer(&client, "slow-1", &copies);
            CHECK_EQ_INT(copies, 1);
        }
        free(slow);
    }
    worker_finish(&worker);
    raw_service(&client, 0.3, 0);
    CHECK_MSG(client.presence[0] == '\0', "presence after stop: %s", client.presence);
    CHECK_EQ_INT(worker.stats.dropped, 1);
    CHECK_EQ_INT(worker.stats.errors, 8);
    CHECK_EQ_INT(worker.stats.jobs, 11);
    free(good);
    free(other_model);
    free(failing);
    free(big);
    verge_mqtt_destroy(client.mqtt);
done:
    if (client.mqtt == NULL)
        worker_finish(&worker);
    broker_cleanup(&broker);
}

/*
 * Bytes that arrived from the broker and are not yet read, over every TCP
 * connection of this machine to `port` (from /proc/net/tcp).
 */
static long unread_from_broker(int port)
{
    FILE *file = fopen("/proc/net/tcp", "r");
    char line[512];
    long total = 0;

    if (file == NULL)
        return -1;
    while (fgets(line, sizeof(line), file) != NULL) {
        unsigned remote_port, tx, rx;

        if (sscanf(line, " %*d: %*x:%*x %*x:%x %*x %x:%x", &remote_port, &tx, &rx) == 3 &&
            (int)remote_port == port)
            total += (long)rx;
    }
    fclose(file);
    return total;
}

/*
 * With --concurrency 2 and one thread, the broker hands the worker at most
 * two jobs: one running, one waiting unread in the second slot's socket.
 * Every further job stays with the broker until a result goes out, and
 * every job gets one result in the end. libmosquitto acknowledges a job
 * when it reads it, so a worker that did not defer that acknowledgement
 * took all six jobs here.
 */
static void worker_holds_at_most_its_concurrency(void)
{
    enum { JOBS = 6 };
    test_broker broker;
    running_worker worker;
    raw_client client = {0};
    verge_mqtt_options options;
    verge_mqtt_callbacks callbacks = {raw_on_connect, NULL, raw_on_message, NULL, &client};
    char body[4001];
    uint8_t *jobs[JOBS] = {0};
    size_t size = 0;
    long unread;
    int entered, taken;

    broker_init(&broker, "verge-worker-hold");
    CHECK(broker_start(&broker) == 0);
    hold_entered = 0;
    hold_released = false;
    worker_start(&worker, broker.url, 1, 0);
    CHECK_EQ_INT(worker.options.concurrency, 2);

    verge_mqtt_options_init(&options);
    options.url = broker.url;
    options.connect_timeout = 5;
    CHECK_OK(verge_mqtt_create(&options, &callbacks, &client.mqtt));
    if (client.mqtt == NULL)
        goto done;
    CHECK_OK(verge_mqtt_connect(client.mqtt, NULL));
    raw_service(&client, 0.5, 0);

    memset(body, 'h', sizeof(body) - 1);
    memcpy(body, "hold", 4);
    body[sizeof(body) - 1] = '\0';
    for (int i = 0; i < JOBS; i++) {
        char id[32];

        snprintf(id, sizeof(id), "hold-%d", i);
        jobs[i] = make_job(id, "echo_model", body, &size);
        if (jobs[i] != NULL)
            raw_send(&client, id, jobs[i], size, true);
    }
    /* Wait for the first job to run, then give the broker time to send whatever it would. */
    for (double until = broker_now() + 10; broker_now() < until;) {
        pthread_mutex_lock(&hold_lock);
        entered = hold_entered;
        pthread_mutex_unlock(&hold_lock);
        if (entered > 0)
            break;
        raw_service(&client, 0.02, 0);
    }
    raw_service(&client, 0.5, 0);
    pthread_mutex_lock(&hold_lock);
    entered = hold_entered;
    pthread_mutex_unlock(&hold_lock);
    unread = unread_from_broker(broker.port);
    taken = entered + (int)(unread / (long)size);
    CHECK_EQ_INT(entered, 1);
    CHECK(unread >= 0);
    CHECK_MSG(taken <= 2,
              "the worker took %d jobs (%d running, %ld bytes unread); concurrency is 2", taken,
              entered, unread);

    pthread_mutex_lock(&hold_lock);
    hold_released = true;
    pthread_cond_broadcast(&hold_changed);
    pthread_mutex_unlock(&hold_lock);
    raw_service(&client, 10, JOBS);
    for (int i = 0; i < JOBS; i++) {
        char id[32];
        int copies;

        snprintf(id, sizeof(id), "hold-%d", i);
        find_answer(&client, id, &copies);
        CHECK_MSG(copies == 1, "%s: %d answers", id, copies);
    }
    verge_mqtt_destroy(client.mqtt);
done:
    pthread_mutex_lock(&hold_lock);
    hold_released = true;
    pthread_cond_broadcast(&hold_changed);
    pthread_mutex_unlock(&hold_lock);
    worker_finish(&worker);
    for (int i = 0; i < JOBS; i++)
        free(jobs[i]);
    broker_cleanup(&broker);
}

typedef struct collected {
    int results, errors;
    char last_error[512];
} collected;

static void collect(void *user, size_t index, const char *line, size_t length, bool error)
{
    collected *c = user;

    (void)index;
    c->results++;
    if (error) {
        c->errors++;
        snprintf(c->last_error, sizeof(c->last_error), "%.*s", (int)length, line);
    }
}

static void client_reports_every_job(void)
{
    test_broker broker;
    running_worker worker;
    verge_client_options options;
    verge_client_stats stats;
    collected got = {0};
    char path[300];
    FILE *file;
    verge_client_job jobs[3];

    broker_init(&broker, "verge-client");
    CHECK(broker_start(&broker) == 0);
    snprintf(path, sizeof(path), "%s/small.bin", broker.dir);
    file = fopen(path, "wb");
    if (file != NULL) {
        fputs("twelve bytes", file);
        fclose(file);
    }
    jobs[0] = (verge_client_job){VERGE_JOB_IMAGE, path};
    jobs[1] = (verge_client_job){VERGE_JOB_IMAGE, "/nonexistent/photo.jpg"};
    jobs[2] = (verge_client_job){VERGE_JOB_URI, "file:/some/where.jpg"};

    memset(&options, 0, sizeof(options));
    verge_mqtt_options_init(&options.mqtt);
    options.mqtt.url = broker.url;
    options.mqtt.connect_timeout = 5;
    options.model = "echo_model";
    options.score = 0.5f;
    options.iou = 0.3f;
    options.wait_workers = 1;
    options.on_result = collect;
    options.user = &got;

    /* No worker yet: every job fails after wait_workers, saying so. */
    CHECK_OK(verge_client_run(&options, jobs, 3, NULL, &stats));
    CHECK_EQ_INT(got.results, 3);
    CHECK_EQ_INT(stats.failed, 3);
    CHECK_MSG(strstr(got.last_error, "no worker serves model 'echo_model'") != NULL ||
                  strstr(got.last_error, "cannot read") != NULL,
              "%s", got.last_error);

    worker_start(&worker, broker.url, 1, 0);
    broker_sleep(0.5);
    memset(&got, 0, sizeof(got));
    CHECK_OK(verge_client_run(&options, jobs, 3, NULL, &stats));
    CHECK_EQ_INT(got.results, 3);
    CHECK_EQ_INT(stats.ok, 2);
    CHECK_EQ_INT(stats.failed, 1);
    CHECK_EQ_INT(stats.answered, 2); /* the missing file failed here, not in a worker */
    CHECK(strstr(got.last_error, "/nonexistent/photo.jpg: cannot read") != NULL);
    CHECK_EQ_INT(stats.duplicates, 0);
    CHECK(stats.p50_ms > 0);
    CHECK(stats.p50_ms <= stats.p99_ms);
    worker_finish(&worker);
    broker_cleanup(&broker);
}

/* Fails like a handler thread whose model cannot run, with verge_fail() or silently. */
static void *failing_thread_create(void *user, int index)
{
    if (user != NULL)
        verge_fail(VERGE_STATUS_INVALID_MODEL, "model echo_model: thread %d has no interpreter",
                   index);
    return NULL;
}

/*
 * The worker's message quotes the thread's reason once, intact (it is
 * copied before the worker formats its own message into the same buffer),
 * and the stats are written although nothing ran.
 */
static void thread_start_failure_is_reported_once(void)
{
    verge_worker_options options;
    verge_worker_stats stats;
    volatile sig_atomic_t stop = 0;
    int user = 1;

    memset(&options, 0, sizeof(options));
    verge_mqtt_options_init(&options.mqtt);
    options.mqtt.url = "mqtt://127.0.0.1:1"; /* never reached: the threads fail first */
    options.models = models;
    options.num_models = 1;
    options.threads = 1;
    options.concurrency = 1;
    options.handle = echo_handle;
    options.thread_create = failing_thread_create;
    options.user = &user;
    memset(&stats, 0x5a, sizeof(stats));
    CHECK_STATUS(verge_worker_run(&options, &stop, &stats), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_MSG(strcmp(verge_error_message(), "handler thread 0 could not start: model echo_model: "
                                            "thread 0 has no interpreter") == 0,
              "message: %s", verge_error_message());
    CHECK_EQ_INT(stats.jobs, 0);
    CHECK_EQ_INT(stats.errors, 0);
    CHECK_EQ_INT(stats.dropped, 0);
    CHECK_EQ_INT(stats.reconnects, 0);

    options.user = NULL;
    verge_fail(VERGE_STATUS_IO_ERROR, "an older failure");
    CHECK_STATUS(verge_worker_run(&options, &stop, &stats), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_MSG(strcmp(verge_error_message(), "handler thread 0 could not start: no reason given") ==
                  0, "message: %s", verge_error_message());

    /* Bad options fail before anything starts, and the stats are still written. */
    options.group = "a/b";
    memset(&stats, 0x5a, sizeof(stats));
    CHECK_STATUS(verge_worker_run(&options, &stop, &stats), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_EQ_INT(stats.jobs, 0);
    CHECK_EQ_INT(stats.reconnects, 0);
}

/*
 * Without a broker every job gets an error line that names the broker and
 * counts as failed, the time spent trying is reported, and no result comes
 * from a worker. Bad options leave zeroed stats.
 */
static void client_without_broker(void)
{
    verge_client_options options;
    verge_client_stats stats;
    collected got = {0};
    verge_client_job jobs[2] = {{VERGE_JOB_IMAGE, "/nonexistent/a.jpg"},
                                {VERGE_JOB_URI, "rtsp://127.0.0.1:1/x"}};
    int port = broker_free_port();
    char url[64];

    snprintf(url, sizeof(url), "mqtt://127.0.0.1:%d", port);
    memset(&options, 0, sizeof(options));
    verge_mqtt_options_init(&options.mqtt);
    options.mqtt.url = url;
    options.mqtt.connect_timeout = 0.3;
    options.model = "echo_model";
    options.on_result = collect;
    options.user = &got;
    memset(&stats, 0x5a, sizeof(stats));
    CHECK_STATUS(verge_client_run(&options, jobs, 2, NULL, &stats), VERGE_STATUS_IO_ERROR);
    CHECK(strstr(verge_error_message(), "is the broker running") != NULL);
    CHECK_EQ_INT(got.results, 2);
    CHECK_EQ_INT(got.errors, 2);
    CHECK_MSG(strstr(got.last_error, "no connection within") != NULL, "%s", got.last_error);
    CHECK_EQ_INT(stats.jobs, 2);
    CHECK_EQ_INT(stats.ok, 0);
    CHECK_EQ_INT(stats.failed, 2);
    CHECK_EQ_INT(stats.answered, 0);
    CHECK(stats.seconds > 0);

    options.prefix = "a/b";
    memset(&stats, 0x5a, sizeof(stats));
    CHECK_STATUS(verge_client_run(&options, jobs, 2, NULL, &stats),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_EQ_INT(stats.jobs, 2);
    CHECK_EQ_INT(stats.ok, 0);
    CHECK_EQ_INT(stats.failed, 0);
    CHECK(stats.seconds == 0);
}

int main(void)
{
    RUN(thread_start_failure_is_reported_once);
    RUN(client_without_broker);
    RUN(hostile_jobs_get_error_results);
    RUN(worker_holds_at_most_its_concurrency);
    RUN(client_reports_every_job);
    return check_summary();
}
