/*
 * The worker. Each job slot is a broker connection of its own with a
 * receive maximum of 1. Each handler thread owns some of the slots: it polls
 * their sockets, reads a job, runs it inside the message callback and
 * publishes the result there. The slot's writes are deferred
 * (net_mqtt_defer_writes), so the job's acknowledgement (PUBACK), which
 * libmosquitto queues when it reads the job, leaves together with the
 * result. The broker therefore sends a slot its next job only after the
 * result, and the worker never holds more than `concurrency` jobs. One
 * thread reads, runs and publishes each job, without a hand-off.
 *
 * The calling thread keeps a control connection: it announces the worker (a
 * retained presence message, cleared by a will when the process dies), and
 * it starts the stop.
 *
 * NOTE: while a thread runs a job, it services none of its slots. A job
 * longer than 1.5 times the keepalive (90 s for verge serve) makes the
 * broker drop those connections. libmosquitto should send the result again
 * after the reconnection (not tested), and the submitter's retry covers it
 * either way.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/core.h"
#include "net/net_internal.h"
#include "verge/media.h"

enum {
    DEFAULT_MAX_PAYLOAD = 16 << 20,
    MAX_MODELS = 16,
    MAX_CONCURRENCY = 256,
    DRAIN_TIMEOUT_S = 30,
    /* Descriptors per connection: its socket, libmosquitto's socket pair, our wake pipe. */
    FILES_PER_CONNECTION = 5,
};

/* A stop ends when no job came for this long (jobs still queued for a slot keep coming). */
static const double DRAIN_QUIET_S = 0.2;

typedef struct worker worker;
typedef struct handler_thread handler_thread;

typedef struct slot {
    worker *w;
    handler_thread *thread;
    verge_mqtt *mqtt;
    int unacked;               /* results published whose PUBACK has not come yet */
} slot;

struct handler_thread {
    worker *w;
    void *state;               /* options->thread_create()'s */
    verge_mqtt **connections;  /* of its slots */
    struct pollfd *fds;        /* 2 per slot, for net_mqtt_service_set() */
    slot **slots;
    int num_slots;
    pthread_t thread;
    bool started;
    double last_job;           /* when it last published a result */
    int64_t jobs, errors, dropped;
    verge_status status;       /* VERGE_OK, or why the thread stopped early */
    char error[512];
};

struct worker {
    const verge_worker_options *options;
    const char *prefix;
    const char *group;
    size_t max_payload;
    verge_mqtt *control;
    slot *slots;
    int num_slots;
    handler_thread *threads;
    int num_threads;
    char presence_topic[NET_TOPIC_MAX];
    char *presence;
    int64_t reconnects;        /* of the control connection */
    int draining;              /* set by the calling thread, read by the handler threads */
    int failed;                /* a handler thread stopped on an error */
};

/* The id to name in an error result: the envelope's when it decoded, else the correlation data's. */
static void job_label(const verge_mqtt_message *message, const char *decoded_id, char *id,
                      size_t size)
{
    id[0] = '\0';
    if (decoded_id != NULL && decoded_id[0] != '\0') {
        snprintf(id, size, "%s", decoded_id);
        return;
    }
    if (message->correlation != NULL && message->correlation_size < size) {
        memcpy(id, message->correlation, message->correlation_size);
        id[message->correlation_size] = '\0';
        if (!verge_job_id_valid(id))
            id[0] = '\0';
    }
}

/*
 * Builds an error result: {"job":ID,"source":SOURCE,"error":MESSAGE,"status":WORDS},
 * with the password of a network SOURCE as ***. Returns NULL when out of memory.
 */
static char *error_result(const char *id, const char *source, verge_status status,
                          const char *message)
{
    net_buf buf = {0};

    net_buf_append(&buf, "{\"job\":", 7);
    net_buf_json_string(&buf, id);
    net_buf_append(&buf, ",\"source\":", 10);
    if (source != NULL && verge_uri_is_network(source)) {
        /* Without its password, as in the detection results. */
        size_t room = strlen(source) + sizeof("***");
        char *redacted = malloc(room);

        if (redacted == NULL) {
            net_buf_free(&buf);
            return NULL;
        }
        net_buf_json_string(&buf, verge_uri_redact(source, redacted, room));
        free(redacted);
    } else {
        net_buf_json_string(&buf, source != NULL ? source : "");
    }
    net_buf_append(&buf, ",\"error\":", 9);
    net_buf_json_string(&buf, message);
    net_buf_append(&buf, ",\"status\":", 10);
    net_buf_json_string(&buf, verge_status_str(status));
    net_buf_append(&buf, "}", 1);
    if (buf.failed) {
        net_buf_free(&buf);
        return NULL;
    }
    return buf.data;
}

static bool model_served(const worker *w, const char *model)
{
    for (int i = 0; i < w->options->num_models; i++)
        if (strcmp(w->options->models[i], model) == 0)
            return true;
    return false;
}

/*
 * Runs one job: checks its size, decodes the envelope and calls the
 * handler. Returns the result line (malloc'ed; NULL when out of memory) and
 * sets *error for an error result.
 */
static char *job_answer(worker *w, void *state, const verge_mqtt_message *message, bool *error)
{
    verge_job_strings *strings = NULL;
    verge_job decoded;
    char id[VERGE_JOB_ID_MAX + 1];
    char text[1024];
    char *result = NULL;
    verge_status status;

    *error = true;
    if (message->size > w->max_payload) {
        job_label(message, NULL, id, sizeof(id));
        snprintf(text, sizeof(text),
                 "job of %zu bytes exceeds this worker's --max-payload of %zu bytes", message->size,
                 w->max_payload);
        return error_result(id, "", VERGE_STATUS_INVALID_ARGUMENT, text);
    }
    strings = malloc(sizeof(*strings));
    if (strings == NULL) {
        job_label(message, NULL, id, sizeof(id));
        return error_result(id, "", VERGE_STATUS_OUT_OF_MEMORY, "worker out of memory");
    }
    status = verge_job_decode(message->payload, message->size, &decoded, strings);
    if (status != VERGE_OK) {
        job_label(message, NULL, id, sizeof(id));
        result = error_result(id, "", status, verge_error_message());
        goto cleanup;
    }
    if (!model_served(w, decoded.model)) {
        net_buf served = {0};

        for (int i = 0; i < w->options->num_models; i++)
            net_buf_printf(&served, "%s%s", i ? ", " : "", w->options->models[i]);
        snprintf(text, sizeof(text), "job %s: unknown model '%s'; this worker serves %s",
                 decoded.id, decoded.model, served.data != NULL ? served.data : "nothing");
        net_buf_free(&served);
        result = error_result(decoded.id, decoded.source, VERGE_STATUS_NOT_FOUND, text);
        goto cleanup;
    }

    verge_error_clear();
    status = w->options->handle(state, &decoded, &result);
    if (status == VERGE_OK && result != NULL) {
        *error = false;
        goto cleanup;
    }
    free(result);
    snprintf(text, sizeof(text), "%s",
             verge_error_message()[0] != '\0' ? verge_error_message() : "the job failed");
    result = error_result(decoded.id, decoded.source,
                          status != VERGE_OK ? status : VERGE_STATUS_INTERNAL, text);

cleanup:
    free(strings);
    return result;
}

/*
 * A job arrived on a slot: runs it on this thread and publishes the result.
 * The slot's writes are deferred, so the PUBACK that libmosquitto queued for
 * the job goes out with the result, after this returns.
 */
static void slot_on_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    slot *s = user;
    handler_thread *t = s->thread;
    verge_mqtt_publish_options publish = {0};
    static const char out_of_memory[] =
        "{\"job\":\"\",\"error\":\"worker out of memory\",\"status\":\"out of memory\"}";
    const char *line;
    char *result;
    bool error;
    verge_status status;

    if (message->response_topic == NULL || message->response_topic[0] == '\0' ||
        strchr(message->response_topic, '+') != NULL ||
        strchr(message->response_topic, '#') != NULL) {
        t->dropped++;
        verge_log(VERGE_LOG_WARNING,
                  "message of %zu bytes on %s has no usable response topic: "
                  "nobody to answer, dropped", message->size, message->topic);
        return;
    }
    result = job_answer(s->w, t->state, message, &error);
    line = result != NULL ? result : out_of_memory;
    error = error || result == NULL;

    publish.correlation = message->correlation;
    publish.correlation_size = message->correlation_size;
    publish.status = error ? "error" : "ok";
    publish.content_type = "application/json";
    status = verge_mqtt_publish(mqtt, message->response_topic, line, strlen(line), 1, false,
                                &publish, NULL);
    if (status == VERGE_OK)
        s->unacked++;
    else
        verge_log(VERGE_LOG_ERROR, "cannot publish the result to '%s': %s (the submitter will "
                  "send the job again)", message->response_topic, verge_error_message());
    t->jobs++;
    t->errors += error;
    t->last_job = net_now();
    if (error)
        verge_log(VERGE_LOG_INFO, "error result: %s", line);
    free(result);
}

static void slot_on_connect(void *user, verge_mqtt *mqtt)
{
    slot *s = user;
    worker *w = s->w;
    char filter[NET_TOPIC_MAX];

    /* A result cut off with the old connection is sent again by libmosquitto, or by the submitter. */
    s->unacked = 0;
    if (__atomic_load_n(&w->draining, __ATOMIC_ACQUIRE))
        return;
    for (int i = 0; i < w->options->num_models; i++) {
        verge_status status;

        snprintf(filter, sizeof(filter), "$share/%s/%s/jobs/%s", w->group, w->prefix,
                 w->options->models[i]);
        status = verge_mqtt_subscribe(mqtt, filter);
        /* A slot without its subscription would never get a job: stop the worker. */
        if (status != VERGE_OK && s->thread->status == VERGE_OK) {
            s->thread->status = status;
            snprintf(s->thread->error, sizeof(s->thread->error), "%s", verge_error_message());
        }
    }
}

static void slot_on_publish(void *user, verge_mqtt *mqtt, int mid)
{
    slot *s = user;

    (void)mqtt;
    (void)mid;
    if (s->unacked > 0)
        s->unacked--;
}

static void control_on_connect(void *user, verge_mqtt *mqtt)
{
    worker *w = user;

    if (__atomic_load_n(&w->draining, __ATOMIC_ACQUIRE))
        return;
    if (verge_mqtt_publish(mqtt, w->presence_topic, w->presence, strlen(w->presence), 1, true,
                           NULL, NULL) != VERGE_OK)
        verge_log(VERGE_LOG_WARNING, "cannot announce the worker: %s", verge_error_message());
}

static void control_on_disconnect(void *user, verge_mqtt *mqtt)
{
    worker *w = user;

    (void)mqtt;
    w->reconnects++;
}

static void unsubscribe_all(worker *w, verge_mqtt *mqtt)
{
    char filter[NET_TOPIC_MAX];

    for (int i = 0; i < w->options->num_models; i++) {
        snprintf(filter, sizeof(filter), "$share/%s/%s/jobs/%s", w->group, w->prefix,
                 w->options->models[i]);
        verge_mqtt_unsubscribe(mqtt, filter);
    }
}

/*
 * A handler thread: services its slots until the stop. On the stop it
 * unsubscribes them and keeps running what still arrives (jobs the broker
 * had queued for these sessions) until none came for DRAIN_QUIET_S and
 * every result is acknowledged, or DRAIN_TIMEOUT_S passed.
 */
static void *handler_main(void *arg)
{
    handler_thread *t = arg;
    worker *w = t->w;
    bool draining = false;
    double drain_start = 0;

    for (;;) {
        verge_status status = net_mqtt_service_set(t->connections, t->num_slots, t->fds, 200);

        if (status != VERGE_OK || t->status != VERGE_OK) {
            if (t->status == VERGE_OK) {
                t->status = status;
                snprintf(t->error, sizeof(t->error), "%s", verge_error_message());
            }
            __atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
            verge_mqtt_wake(w->control);
            break;
        }
        if (!draining && __atomic_load_n(&w->draining, __ATOMIC_ACQUIRE)) {
            draining = true;
            drain_start = net_now();
            for (int i = 0; i < t->num_slots; i++)
                unsubscribe_all(w, t->connections[i]);
        }
        if (draining) {
            double now = net_now();
            bool acknowledged = true;

            /* A result on a lost connection waits for the reconnection: not worth holding the stop. */
            for (int i = 0; i < t->num_slots; i++)
                acknowledged = acknowledged && (t->slots[i]->unacked == 0 ||
                                                !verge_mqtt_connected(t->connections[i]));
            if (acknowledged && now - drain_start > DRAIN_QUIET_S &&
                now - t->last_job > DRAIN_QUIET_S)
                break;
            if (now - drain_start > DRAIN_TIMEOUT_S) {
                verge_log(VERGE_LOG_WARNING,
                          "stopping although jobs still arrive or results are unacknowledged "
                          "after %d s; their submitters will send them again", DRAIN_TIMEOUT_S);
                break;
            }
        }
    }
    for (int i = 0; i < t->num_slots; i++)
        verge_mqtt_disconnect(t->connections[i], 2000);
    return NULL;
}

static verge_status worker_check_options(const verge_worker_options *options)
{
    if (options->num_models < 1 || options->num_models > MAX_MODELS || options->models == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "a worker serves 1..%d models, not %d",
                          MAX_MODELS, options->num_models);
    for (int i = 0; i < options->num_models; i++)
        if (!verge_job_model_name_valid(options->models[i]))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "invalid model name '%s'",
                              options->models[i] != NULL ? options->models[i] : "(null)");
    if (options->threads < 1 || options->threads > 256)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "threads %d outside 1..256",
                          options->threads);
    if (options->concurrency < options->threads || options->concurrency > MAX_CONCURRENCY)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "concurrency %d outside %d (the threads)..%d", options->concurrency,
                          options->threads, MAX_CONCURRENCY);
    if (options->handle == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_worker_run: no job handler");
    if ((options->prefix != NULL && !verge_job_model_name_valid(options->prefix)) ||
        (options->group != NULL && !verge_job_model_name_valid(options->group)))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "topic prefix and group allow A-Z a-z 0-9 . _ - only");
    return VERGE_OK;
}

static verge_status build_presence(worker *w)
{
    net_buf buf = {0};

    snprintf(w->presence_topic, sizeof(w->presence_topic), "%s/workers/%s", w->prefix,
             verge_mqtt_client_id(w->control));
    net_buf_append(&buf, "{\"worker\":", 10);
    net_buf_json_string(&buf, verge_mqtt_client_id(w->control));
    net_buf_append(&buf, ",\"models\":[", 11);
    for (int i = 0; i < w->options->num_models; i++) {
        if (i)
            net_buf_append(&buf, ",", 1);
        net_buf_json_string(&buf, w->options->models[i]);
    }
    net_buf_append(&buf, "],\"group\":", 10);
    net_buf_json_string(&buf, w->group);
    net_buf_printf(&buf, ",\"threads\":%d,\"concurrency\":%d}", w->options->threads,
                   w->options->concurrency);
    if (buf.failed) {
        net_buf_free(&buf);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot build the presence message");
    }
    w->presence = buf.data;
    return VERGE_OK;
}

/* Raises the soft open-file limit towards the hard one when the connections need more. */
static void make_room_for_files(int connections)
{
    struct rlimit limit;
    rlim_t needed = (rlim_t)connections * FILES_PER_CONNECTION + 256;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed)
        return;
    limit.rlim_cur = limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed ? limit.rlim_max
                                                                                 : needed;
    setrlimit(RLIMIT_NOFILE, &limit);
}

/* Creates the slots' connections and assigns the slots to the threads (slot i to thread i % T). */
static verge_status create_slots(worker *w, const verge_mqtt_options *control_options)
{
    verge_mqtt_options options = *control_options;
    verge_mqtt_callbacks callbacks = {slot_on_connect, NULL, slot_on_message, slot_on_publish,
                                      NULL};
    char id[160];
    verge_status status;

    options.receive_maximum = 1;
    options.client_id = id;
    for (int i = 0; i < w->num_slots; i++) {
        slot *s = &w->slots[i];
        handler_thread *t = &w->threads[i % w->num_threads];

        s->w = w;
        s->thread = t;
        callbacks.user = s;
        snprintf(id, sizeof(id), "%s-%d", verge_mqtt_client_id(w->control), i);
        status = verge_mqtt_create(&options, &callbacks, &s->mqtt);
        if (status != VERGE_OK)
            return verge_fail_prefix(status, "job slot %d of %d (each takes %d file descriptors)",
                                     i + 1, w->num_slots, FILES_PER_CONNECTION);
        net_mqtt_defer_writes(s->mqtt);
        t->connections[t->num_slots] = s->mqtt;
        t->slots[t->num_slots] = s;
        t->num_slots++;
    }
    return VERGE_OK;
}

/* Allocates the threads' tables and makes each thread's state. */
static verge_status create_threads(worker *w)
{
    const verge_worker_options *options = w->options;

    for (int i = 0; i < w->num_threads; i++) {
        handler_thread *t = &w->threads[i];
        int max_slots = (w->num_slots + w->num_threads - 1) / w->num_threads;

        t->w = w;
        t->connections = calloc((size_t)max_slots, sizeof(*t->connections));
        t->slots = calloc((size_t)max_slots, sizeof(*t->slots));
        t->fds = calloc((size_t)max_slots * 2, sizeof(*t->fds));
        if (t->connections == NULL || t->slots == NULL || t->fds == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate handler thread %d", i);
        if (options->thread_create != NULL) {
            verge_error_clear();
            t->state = options->thread_create(options->user, i);
            if (t->state == NULL) {
                /* verge_fail() writes the buffer that verge_error_message() returns: copy first. */
                char reason[512];

                snprintf(reason, sizeof(reason), "%s",
                         verge_error_message()[0] != '\0' ? verge_error_message()
                                                          : "no reason given");
                return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                                  "handler thread %d could not start: %s", i, reason);
            }
        }
    }
    return VERGE_OK;
}

static verge_status start_threads(worker *w)
{
    sigset_t blocked, previous;
    verge_status status = VERGE_OK;

    /* Signals go to the calling thread, whose poll() they interrupt. */
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    for (int i = 0; i < w->num_threads; i++) {
        if (pthread_create(&w->threads[i].thread, NULL, handler_main, &w->threads[i]) != 0) {
            status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot start handler thread %d", i);
            break;
        }
        w->threads[i].started = true;
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return status;
}

/* Stops the handler threads (they finish the jobs they hold first) and adds up their counts. */
static void stop_threads(worker *w, verge_worker_stats *stats)
{
    __atomic_store_n(&w->draining, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < w->num_threads; i++)
        if (w->threads[i].num_slots > 0)
            verge_mqtt_wake(w->threads[i].connections[0]);
    for (int i = 0; i < w->num_threads; i++) {
        handler_thread *t = &w->threads[i];

        if (!t->started)
            continue;
        pthread_join(t->thread, NULL);
        t->started = false;
        stats->jobs += t->jobs;
        stats->errors += t->errors;
        stats->dropped += t->dropped;
    }
}

verge_status verge_worker_run(const verge_worker_options *options, volatile sig_atomic_t *stop,
                              verge_worker_stats *stats)
{
    worker w;
    verge_worker_stats counts = {0};
    verge_mqtt_options control_options;
    verge_mqtt_callbacks callbacks = {control_on_connect, control_on_disconnect, NULL, NULL, NULL};
    verge_status status;

    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));
    if (options == NULL || stop == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_worker_run: NULL argument");
    status = worker_check_options(options);
    if (status != VERGE_OK)
        return status;

    memset(&w, 0, sizeof(w));
    w.options = options;
    w.prefix = options->prefix != NULL ? options->prefix : "verge";
    w.group = options->group != NULL ? options->group : "verge";
    w.max_payload = options->max_payload > 0 ? options->max_payload : DEFAULT_MAX_PAYLOAD;
    w.num_slots = options->concurrency;
    w.num_threads = options->threads;
    callbacks.user = &w;

    control_options = options->mqtt;
    if (control_options.role == NULL)
        control_options.role = "serve";
    /*
     * No MQTT maximum packet size by default: jobs above max_payload must
     * arrive to get their error result. With Mosquitto 2.0.11, a job the
     * broker dropped for exceeding a worker's maximum packet size left that
     * worker's session without jobs afterwards (seen with receive maximum 1),
     * so the broker's own message_size_limit is the place to cap sizes.
     */
    make_room_for_files(w.num_slots + 1);
    status = verge_mqtt_create(&control_options, &callbacks, &w.control);
    if (status != VERGE_OK)
        return status;
    status = build_presence(&w);
    if (status != VERGE_OK)
        goto cleanup;
    status = verge_mqtt_set_will(w.control, w.presence_topic, NULL, 0, true);
    if (status != VERGE_OK)
        goto cleanup;

    w.slots = calloc((size_t)w.num_slots, sizeof(*w.slots));
    w.threads = calloc((size_t)w.num_threads, sizeof(*w.threads));
    if (w.slots == NULL || w.threads == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate %d job slots",
                            w.num_slots);
        goto cleanup;
    }
    status = create_threads(&w);
    if (status == VERGE_OK)
        status = create_slots(&w, &control_options);
    if (status != VERGE_OK)
        goto cleanup;

    /* The slots subscribe when they connect; the presence follows once all of them can take jobs. */
    for (int i = 0; i < w.num_slots && status == VERGE_OK; i++)
        status = verge_mqtt_connect(w.slots[i].mqtt, stop);
    if (status == VERGE_OK)
        status = verge_mqtt_connect(w.control, stop);
    if (status != VERGE_OK) {
        if (*stop)
            status = VERGE_OK;
        goto cleanup;
    }
    for (int i = 0; i < w.num_threads; i++)
        if (w.threads[i].status != VERGE_OK) {
            /* A slot could not subscribe when it connected. */
            status = verge_fail(w.threads[i].status, "%s", w.threads[i].error);
            goto cleanup;
        }
    status = start_threads(&w);
    if (status != VERGE_OK)
        goto cleanup;
    verge_log(VERGE_LOG_INFO, "worker %s ready", verge_mqtt_client_id(w.control));

    while (!*stop && !__atomic_load_n(&w.failed, __ATOMIC_ACQUIRE)) {
        status = verge_mqtt_service(w.control, 200, true);
        if (status != VERGE_OK)
            break;
    }
    if (status == VERGE_OK && !__atomic_load_n(&w.failed, __ATOMIC_ACQUIRE))
        verge_log(VERGE_LOG_INFO, "stopping: answering the jobs in hand first");
    stop_threads(&w, &counts);
    for (int i = 0; i < w.num_threads && status == VERGE_OK; i++)
        if (w.threads[i].status != VERGE_OK)
            status = verge_fail(w.threads[i].status, "%s", w.threads[i].error);
    if (verge_mqtt_connected(w.control))
        verge_mqtt_publish(w.control, w.presence_topic, NULL, 0, 1, true, NULL, NULL);
    verge_mqtt_disconnect(w.control, 2000);

cleanup:
    if (w.threads != NULL) {
        stop_threads(&w, &counts);
        for (int i = 0; i < w.num_threads; i++) {
            handler_thread *t = &w.threads[i];

            if (t->state != NULL && options->thread_destroy != NULL)
                options->thread_destroy(options->user, t->state);
            free(t->connections);
            free(t->slots);
            free(t->fds);
        }
    }
    for (int i = 0; w.slots != NULL && i < w.num_slots; i++)
        verge_mqtt_destroy(w.slots[i].mqtt);
    free(w.slots);
    free(w.threads);
    free(w.presence);
    verge_mqtt_destroy(w.control);
    counts.reconnects = w.reconnects;
    if (stats != NULL)
        *stats = counts;
    return status;
}
