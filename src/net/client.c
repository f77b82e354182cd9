/*
 * The submitting client: keeps up to `window` jobs in flight, sends a job
 * again when its result is late, drops duplicate results, and reports each
 * job's result once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "net/net_internal.h"

enum {
    DEFAULT_WINDOW = 64,
    DEFAULT_MAX_ATTEMPTS = 10,
    DEFAULT_MAX_PAYLOAD = 16 << 20,
    MAX_RESULT_BYTES = 1 << 20,
    MAX_WORKERS_TRACKED = 4096,
};

typedef enum job_state { JOB_WAITING = 0, JOB_IN_FLIGHT, JOB_DONE } job_state;

typedef struct client_job {
    uint8_t *envelope;      /* built when first sent, freed when done */
    size_t size;
    double first_sent;
    double last_sent;
    int attempts;
    job_state state;
} client_job;

typedef struct client {
    const verge_client_options *options;
    const verge_client_job *jobs;
    size_t count;
    client_job *state;
    size_t *in_flight;      /* indices of jobs in flight */
    size_t num_in_flight;
    size_t next;            /* next job to start */
    size_t done;
    int window;
    double job_timeout;
    int max_attempts;
    double wait_workers;
    size_t max_payload;
    const char *prefix;
    char token[16];         /* job ids are TOKEN-INDEX */
    char job_topic[NET_TOPIC_MAX];
    char result_topic[NET_TOPIC_MAX];
    char presence_filter[NET_TOPIC_MAX];
    verge_mqtt *mqtt;
    bool resend_all;        /* after a reconnection */
    int awaiting_ack;       /* jobs published whose PUBACK has not come yet */
    double connected_at;
    char *workers[MAX_WORKERS_TRACKED]; /* ids of present workers that serve the model */
    int num_workers;
    bool worker_seen;
    net_samples latency;
    verge_client_stats stats;
    verge_status subscribe_status; /* VERGE_OK, or why a subscription failed */
    char subscribe_error[512];
} client;

static void job_id(const client *c, size_t index, char *id, size_t size)
{
    snprintf(id, size, "%s-%zu", c->token, index);
}

static void report(client *c, size_t index, const char *line, size_t length, bool error)
{
    client_job *job = &c->state[index];

    job->state = JOB_DONE;
    free(job->envelope);
    job->envelope = NULL;
    c->done++;
    if (error)
        c->stats.failed++;
    else
        c->stats.ok++;
    if (c->options->on_result != NULL)
        c->options->on_result(c->options->user, index, line, length, error);
}

/* Reports a failure found here (file unreadable, no worker, out of attempts) as an error line. */
static void report_local_error(client *c, size_t index, verge_status status, const char *message)
{
    net_buf buf = {0};
    char id[VERGE_JOB_ID_MAX + 1];

    job_id(c, index, id, sizeof(id));
    net_buf_append(&buf, "{\"job\":", 7);
    net_buf_json_string(&buf, id);
    net_buf_append(&buf, ",\"source\":", 10);
    net_buf_json_string(&buf, c->jobs[index].source);
    net_buf_append(&buf, ",\"error\":", 9);
    net_buf_json_string(&buf, message);
    net_buf_append(&buf, ",\"status\":", 10);
    net_buf_json_string(&buf, verge_status_str(status));
    net_buf_append(&buf, "}", 1);
    report(c, index, buf.failed ? "{\"error\":\"out of memory\"}" : buf.data,
           buf.failed ? 25 : buf.length, true);
    net_buf_free(&buf);
}

static void remove_in_flight(client *c, size_t index)
{
    for (size_t i = 0; i < c->num_in_flight; i++) {
        if (c->in_flight[i] == index) {
            c->in_flight[i] = c->in_flight[--c->num_in_flight];
            return;
        }
    }
}

/* Reads an image file for a job; NULL with an error message on failure. */
static uint8_t *read_file(const char *path, size_t max, size_t *size, char *error, size_t error_size)
{
    FILE *file = fopen(path, "rb");
    struct stat info;
    uint8_t *bytes;

    if (file == NULL) {
        snprintf(error, error_size, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        snprintf(error, error_size, "%s: not a regular file", path);
        fclose(file);
        return NULL;
    }
    if ((uint64_t)info.st_size > max || info.st_size == 0) {
        snprintf(error, error_size,
                 info.st_size == 0 ? "%s: empty file" : "%s: file of %lld bytes exceeds "
                 "--max-payload of %zu bytes", path, (long long)info.st_size, max);
        fclose(file);
        return NULL;
    }
    bytes = malloc((size_t)info.st_size);
    if (bytes == NULL || fread(bytes, 1, (size_t)info.st_size, file) != (size_t)info.st_size) {
        snprintf(error, error_size, "%s: cannot read %lld bytes", path, (long long)info.st_size);
        free(bytes);
        fclose(file);
        return NULL;
    }
    fclose(file);
    *size = (size_t)info.st_size;
    return bytes;
}

/* Builds a job's envelope. Returns false after reporting the job as failed. */
static bool job_prepare(client *c, size_t index)
{
    const verge_client_job *source = &c->jobs[index];
    client_job *job = &c->state[index];
    verge_job envelope = {0};
    char id[VERGE_JOB_ID_MAX + 1];
    char error[512];
    uint8_t *bytes = NULL;
    size_t size = 0;
    verge_status status;

    job_id(c, index, id, sizeof(id));
    if (source->kind == VERGE_JOB_IMAGE) {
        bytes = read_file(source->source, c->max_payload, &size, error, sizeof(error));
        if (bytes == NULL) {
            report_local_error(c, index, VERGE_STATUS_INVALID_ARGUMENT, error);
            return false;
        }
        envelope.body = bytes;
        envelope.body_size = size;
    } else {
        envelope.body = (const uint8_t *)source->source;
        envelope.body_size = strlen(source->source);
    }
    envelope.kind = source->kind;
    envelope.id = id;
    envelope.model = c->options->model;
    envelope.source = source->source;
    envelope.score = c->options->score;
    envelope.iou = c->options->iou;
    envelope.nms = c->options->nms;
    status = verge_job_encode(&envelope, &job->envelope, &job->size);
    free(bytes);
    if (status != VERGE_OK) {
        snprintf(error, sizeof(error), "%s", verge_error_message());
        report_local_error(c, index, status, error);
        return false;
    }
    return true;
}

/* Publishes a job (again). Returns false when the connection is down (try later). */
static bool job_send(client *c, size_t index)
{
    client_job *job = &c->state[index];
    verge_mqtt_publish_options publish = {0};
    char id[VERGE_JOB_ID_MAX + 1];
    double now = net_now();
    verge_status status;

    job_id(c, index, id, sizeof(id));
    publish.response_topic = c->result_topic;
    publish.correlation = id;
    publish.correlation_size = strlen(id);
    status = verge_mqtt_publish(c->mqtt, c->job_topic, job->envelope, job->size, 1, false, &publish,
                                NULL);
    if (status == VERGE_STATUS_IO_ERROR)
        return false;
    if (status != VERGE_OK) {
        char error[512];

        snprintf(error, sizeof(error), "%s", verge_error_message());
        remove_in_flight(c, index);
        report_local_error(c, index, status, error);
        return true;
    }
    c->awaiting_ack++;
    if (job->attempts == 0)
        job->first_sent = now;
    else
        c->stats.retries++;
    job->attempts++;
    job->last_sent = now;
    return true;
}

static void on_publish(void *user, verge_mqtt *mqtt, int mid)
{
    client *c = user;

    (void)mqtt;
    (void)mid;
    if (c->awaiting_ack > 0)
        c->awaiting_ack--;
}

static void on_connect(void *user, verge_mqtt *mqtt)
{
    client *c = user;

    c->awaiting_ack = 0; /* what was in flight is sent again below, or by libmosquitto */
    if (verge_mqtt_subscribe(mqtt, c->result_topic) != VERGE_OK ||
        verge_mqtt_subscribe(mqtt, c->presence_filter) != VERGE_OK) {
        /* Without its subscriptions the run would wait for results that cannot come. */
        c->subscribe_status = VERGE_STATUS_IO_ERROR;
        snprintf(c->subscribe_error, sizeof(c->subscribe_error), "%s", verge_error_message());
    }
    if (c->connected_at > 0) {
        /* Results sent while we were away are gone (clean session): send what is pending again. */
        c->resend_all = true;
        c->stats.reconnects++;
    } else {
        c->connected_at = net_now();
    }
}

/* True when a presence payload's "models" array names `model`. */
static bool presence_serves(const char *payload, size_t size, const char *model)
{
    char *text = malloc(size + 1);
    char quoted[VERGE_JOB_MODEL_MAX + 3];
    const char *models, *end, *hit;
    bool serves = false;

    if (text == NULL)
        return false;
    memcpy(text, payload, size);
    text[size] = '\0';
    snprintf(quoted, sizeof(quoted), "\"%s\"", model);
    models = strstr(text, "\"models\":[");
    if (models != NULL) {
        end = strchr(models, ']');
        hit = strstr(models, quoted);
        serves = end != NULL && hit != NULL && hit < end;
    }
    free(text);
    return serves;
}

static void track_worker(client *c, const char *topic, const void *payload, size_t size)
{
    const char *id = strrchr(topic, '/');
    int found = -1;

    id = id != NULL ? id + 1 : topic;
    for (int i = 0; i < c->num_workers; i++)
        if (strcmp(c->workers[i], id) == 0)
            found = i;
    if (size > 0 && size < 65536 && presence_serves(payload, size, c->options->model)) {
        c->worker_seen = true;
        if (found < 0 && c->num_workers < MAX_WORKERS_TRACKED) {
            c->workers[c->num_workers] = strdup(id);
            if (c->workers[c->num_workers] != NULL)
                c->num_workers++;
        }
    } else if (found >= 0) {
        free(c->workers[found]);
        c->workers[found] = c->workers[--c->num_workers];
    }
}

/* A worker's result must be one JSON object on one line before it is printed. */
static bool result_well_formed(const uint8_t *payload, size_t size)
{
    if (size < 2 || size > MAX_RESULT_BYTES || payload[0] != '{' || payload[size - 1] != '}')
        return false;
    for (size_t i = 0; i < size; i++)
        if (payload[i] < 0x20)
            return false;
    return true;
}

static void on_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    client *c = user;
    char id[VERGE_JOB_ID_MAX + 1];
    size_t token_length = strlen(c->token);
    unsigned long long index;
    char *end;
    client_job *job;

    (void)mqtt;
    if (strcmp(message->topic, c->result_topic) != 0) {
        track_worker(c, message->topic, message->payload, message->size);
        return;
    }
    if (message->correlation == NULL || message->correlation_size >= sizeof(id)) {
        verge_log(VERGE_LOG_WARNING, "result without a job id dropped");
        return;
    }
    memcpy(id, message->correlation, message->correlation_size);
    id[message->correlation_size] = '\0';
    errno = 0;
    if (strncmp(id, c->token, token_length) != 0 || id[token_length] != '-' ||
        (index = strtoull(id + token_length + 1, &end, 10), errno != 0) || *end != '\0' ||
        end == id + token_length + 1 || index >= c->count) {
        verge_log(VERGE_LOG_WARNING, "result for unknown job '%s' dropped", id);
        return;
    }
    job = &c->state[index];
    if (job->state == JOB_DONE) {
        c->stats.duplicates++;
        return;
    }
    if (job->attempts == 0)
        return; /* cannot happen with our ids: a result before the job was sent */
    remove_in_flight(c, (size_t)index);
    net_samples_add(&c->latency, (net_now() - job->first_sent) * 1e3);
    c->stats.answered++;
    if (result_well_formed(message->payload, message->size)) {
        bool error = message->status != NULL && strcmp(message->status, "error") == 0;

        report(c, (size_t)index, message->payload, message->size, error);
    } else {
        report_local_error(c, (size_t)index, VERGE_STATUS_INVALID_DATA,
                           "the worker's result is not one JSON object on one line");
    }
}

static verge_status client_check_options(const verge_client_options *options)
{
    if (!verge_job_model_name_valid(options->model))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "invalid model name '%s'",
                          options->model != NULL ? options->model : "(null)");
    if (options->window < 0 || options->window > 65535 || options->max_attempts < 0 ||
        options->job_timeout < 0 || options->wait_workers < 0)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "window, attempts and timeouts must not be negative");
    if (options->prefix != NULL && !verge_job_model_name_valid(options->prefix))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "topic prefix allows A-Z a-z 0-9 . _ - only");
    return VERGE_OK;
}

/* One pass over the jobs in flight: late ones are sent again or given up. */
static void check_timeouts(client *c, double now)
{
    for (size_t i = 0; i < c->num_in_flight;) {
        size_t index = c->in_flight[i];
        client_job *job = &c->state[index];

        if (!c->resend_all && now - job->last_sent < c->job_timeout) {
            i++;
            continue;
        }
        if (job->attempts >= c->max_attempts) {
            char error[256];

            snprintf(error, sizeof(error), "no result after %d attempts of %g s each",
                     job->attempts, c->job_timeout);
            c->in_flight[i] = c->in_flight[--c->num_in_flight];
            report_local_error(c, index, VERGE_STATUS_IO_ERROR, error);
            continue;
        }
        if (!job_send(c, index))
            return; /* disconnected: later */
        if (job->state == JOB_DONE)
            continue; /* failed for good and removed */
        i++;
    }
    c->resend_all = false;
}

static void start_jobs(client *c)
{
    while (c->num_in_flight < (size_t)c->window && c->next < c->count) {
        size_t index = c->next;

        if (c->state[index].state == JOB_DONE ||
            (c->state[index].envelope == NULL && !job_prepare(c, index))) {
            c->next++;
            continue;
        }
        if (!job_send(c, index))
            return;
        c->next++;
        if (c->state[index].state != JOB_DONE) {
            c->state[index].state = JOB_IN_FLIGHT;
            c->in_flight[c->num_in_flight++] = index;
        }
    }
}

/*
 * Reads and encodes the next job ahead, so that sending it later costs only
 * the publish. Not while the broker has yet to acknowledge a job: it would
 * take the CPU from the broker and the worker, which are busy passing the
 * job on just then.
 */
static void prepare_next(client *c)
{
    if (c->awaiting_ack > 0)
        return;
    if (c->next < c->count && c->state[c->next].state == JOB_WAITING &&
        c->state[c->next].envelope == NULL)
        job_prepare(c, c->next);
}

static void fail_all_pending(client *c, verge_status status, const char *message)
{
    for (size_t index = 0; index < c->count; index++) {
        if (c->state[index].state != JOB_DONE) {
            remove_in_flight(c, index);
            report_local_error(c, index, status, message);
        }
    }
    c->next = c->count;
}

verge_status verge_client_run(const verge_client_options *options, const verge_client_job *jobs,
                              size_t count, volatile sig_atomic_t *stop, verge_client_stats *stats)
{
    client c;
    verge_mqtt_options mqtt_options;
    verge_mqtt_callbacks callbacks = {on_connect, NULL, on_message, on_publish, NULL};
    verge_status status;
    unsigned random_bits;
    double started;

    if (stats != NULL) {
        memset(stats, 0, sizeof(*stats));
        stats->jobs = (int64_t)count;
    }
    if (options == NULL || (jobs == NULL && count > 0))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_client_run: NULL argument");
    status = client_check_options(options);
    if (status != VERGE_OK)
        return status;

    memset(&c, 0, sizeof(c));
    started = net_now();
    c.options = options;
    c.jobs = jobs;
    c.count = count;
    c.window = options->window > 0 ? options->window : DEFAULT_WINDOW;
    c.job_timeout = options->job_timeout > 0 ? options->job_timeout : 30.0;
    c.max_attempts = options->max_attempts > 0 ? options->max_attempts : DEFAULT_MAX_ATTEMPTS;
    c.wait_workers = options->wait_workers > 0 ? options->wait_workers : 10.0;
    c.max_payload = options->max_payload > 0 ? options->max_payload : DEFAULT_MAX_PAYLOAD;
    c.prefix = options->prefix != NULL ? options->prefix : "verge";
    c.stats.jobs = (int64_t)count;
    callbacks.user = &c;

    c.state = calloc(count > 0 ? count : 1, sizeof(*c.state));
    c.in_flight = calloc((size_t)c.window, sizeof(*c.in_flight));
    if (c.state == NULL || c.in_flight == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot track %zu jobs", count);
        goto cleanup;
    }
    mqtt_options = options->mqtt;
    if (mqtt_options.role == NULL)
        mqtt_options.role = "submit";
    status = verge_mqtt_create(&mqtt_options, &callbacks, &c.mqtt);
    if (status != VERGE_OK)
        goto cleanup;
    /* Job ids must differ between submitters that share a broker: a random token per run. */
    random_bits = (unsigned)net_now_ns() ^ ((unsigned)getpid() << 16);
    snprintf(c.token, sizeof(c.token), "%08x", random_bits * 2654435761u);
    snprintf(c.job_topic, sizeof(c.job_topic), "%s/jobs/%s", c.prefix, options->model);
    snprintf(c.result_topic, sizeof(c.result_topic), "%s/results/%s", c.prefix,
             verge_mqtt_client_id(c.mqtt));
    snprintf(c.presence_filter, sizeof(c.presence_filter), "%s/workers/+", c.prefix);

    status = verge_mqtt_connect(c.mqtt, stop);
    if (status != VERGE_OK) {
        if (stop == NULL || !*stop) {
            /* Every job gets its line: it failed because the broker could not be reached. */
            char message[1024];

            snprintf(message, sizeof(message), "%s", verge_error_message());
            fail_all_pending(&c, status, message);
            verge_fail(status, "%s", message);
        }
        goto cleanup;
    }

    while (c.done < c.count) {
        double now;

        if (stop != NULL && *stop) {
            status = verge_fail(VERGE_STATUS_IO_ERROR, "stopped with %zu of %zu jobs answered",
                                c.done, c.count);
            break;
        }
        status = verge_mqtt_service(c.mqtt, 20, true);
        if (status == VERGE_OK && c.subscribe_status != VERGE_OK)
            status = verge_fail(c.subscribe_status, "%s", c.subscribe_error);
        if (status != VERGE_OK)
            break;
        now = net_now();
        if (!c.worker_seen && now - c.connected_at > c.wait_workers) {
            char message[512];

            snprintf(message, sizeof(message),
                     "no worker serves model '%s' on the broker (none announced itself within "
                     "%g s; start one with: verge serve --model %s.tflite)",
                     options->model, c.wait_workers, options->model);
            fail_all_pending(&c, VERGE_STATUS_NOT_FOUND, message);
            break;
        }
        if (!verge_mqtt_connected(c.mqtt))
            continue;
        check_timeouts(&c, now);
        start_jobs(&c);
        prepare_next(&c);
    }
    if (status == VERGE_OK)
        verge_mqtt_disconnect(c.mqtt, 1000);

cleanup:
    c.stats.seconds = net_now() - started;
    c.stats.p50_ms = net_samples_quantile(&c.latency, 0.50);
    c.stats.p99_ms = net_samples_quantile(&c.latency, 0.99);
    c.stats.max_ms = net_samples_quantile(&c.latency, 1.0);
    if (stats != NULL)
        *stats = c.stats;
    for (size_t i = 0; c.state != NULL && i < count; i++)
        free(c.state[i].envelope);
    for (int i = 0; i < c.num_workers; i++)
        free(c.workers[i]);
    net_samples_free(&c.latency);
    free(c.state);
    free(c.in_flight);
    verge_mqtt_destroy(c.mqtt);
    return status;
}
