/*
 * The worker: one network thread (the caller's) owns the broker connection;
 * handler threads take jobs from a queue, run them and queue results, which
 * the network thread publishes. The network thread stops reading its
 * socket while `concurrency` jobs are held, so that the broker (bound by
 * the receive maximum) keeps further jobs for other workers.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "net/net_internal.h"

enum { DEFAULT_MAX_PAYLOAD = 16 << 20, MAX_MODELS = 16, DRAIN_TIMEOUT_S = 30 };

typedef struct worker_job {
    struct worker_job *next;
    uint8_t *payload;
    size_t size;
    char *response_topic;
    uint8_t *correlation;
    size_t correlation_size;
    char *result;           /* JSON line to publish */
    bool error;
    bool answered;          /* published, or failed for good (logged) */
    bool acknowledge;       /* published: its PUBACK is to come */
} worker_job;

typedef struct job_queue {
    worker_job *head, *tail;
} job_queue;

typedef struct worker {
    const verge_worker_options *options;
    const char *prefix;
    const char *group;
    size_t max_payload;
    verge_mqtt *mqtt;
    verge_worker_stats stats;
    char presence_topic[NET_TOPIC_MAX];
    char *presence;

    pthread_mutex_t lock;
    pthread_cond_t ready;
    job_queue pending;      /* for handler threads */
    job_queue done;         /* results for the network thread */
    bool quit;

    /* Network thread only. */
    int held;               /* jobs received and not yet answered */
    int unacked;            /* results published and not yet acknowledged; may dip below 0
                               when a PUBACK overtakes the handler's report of the publish */
    bool draining;
    int presence_mid;       /* message id of the presence message in flight, 0 when none */
} worker;

typedef struct handler_thread {
    worker *w;
    void *state;
    pthread_t thread;
    bool started;
} handler_thread;

static void queue_push(job_queue *queue, worker_job *job)
{
    job->next = NULL;
    if (queue->tail != NULL)
        queue->tail->next = job;
    else
        queue->head = job;
    queue->tail = job;
}

static worker_job *queue_pop(job_queue *queue)
{
    worker_job *job = queue->head;

    if (job != NULL) {
        queue->head = job->next;
        if (queue->head == NULL)
            queue->tail = NULL;
        job->next = NULL;
    }
    return job;
}

static void job_free(worker_job *job)
{
    if (job == NULL)
        return;
    free(job->payload);
    free(job->response_topic);
    free(job->correlation);
    free(job->result);
    free(job);
}

/* The id to name in an error result: the envelope's when it decoded, else the correlation data's. */
static void job_label(const worker_job *job, const char *decoded_id, char *id, size_t size)
{
    id[0] = '\0';
    if (decoded_id != NULL && decoded_id[0] != '\0') {
        snprintf(id, size, "%s", decoded_id);
        return;
    }
    if (job->correlation != NULL && job->correlation_size < size) {
        memcpy(id, job->correlation, job->correlation_size);
        id[job->correlation_size] = '\0';
        if (!verge_job_id_valid(id))
            id[0] = '\0';
    }
}

/* Stores an error result: {"job":ID,"source":SOURCE,"error":MESSAGE,"status":WORDS}. */
static void job_set_error(worker_job *job, const char *id, const char *source,
                          verge_status status, const char *message)
{
    net_buf buf = {0};

    net_buf_append(&buf, "{\"job\":", 7);
    net_buf_json_string(&buf, id);
    net_buf_append(&buf, ",\"source\":", 10);
    net_buf_json_string(&buf, source != NULL ? source : "");
    net_buf_append(&buf, ",\"error\":", 9);
    net_buf_json_string(&buf, message);
    net_buf_append(&buf, ",\"status\":", 10);
    net_buf_json_string(&buf, verge_status_str(status));
    net_buf_append(&buf, "}", 1);
    free(job->result);
    job->result = buf.failed ? NULL : buf.data;
    if (buf.failed) {
        net_buf_free(&buf);
        job->result = strdup("{\"job\":\"\",\"error\":\"out of memory\",\"status\":\"out of memory\"}");
    }
    job->error = true;
}

static bool model_served(const worker *w, const char *model)
{
    for (int i = 0; i < w->options->num_models; i++)
        if (strcmp(w->options->models[i], model) == 0)
            return true;
    return false;
}

/* Decodes and runs one job on a handler thread, leaving its result in job->result. */
static void job_run(worker *w, void *state, worker_job *job)
{
    verge_job_strings *strings = malloc(sizeof(*strings));
    verge_job decoded;
    char id[VERGE_JOB_ID_MAX + 1];
    char message[1024];
    verge_status status;

    if (strings == NULL) {
        job_label(job, NULL, id, sizeof(id));
        job_set_error(job, id, "", VERGE_STATUS_OUT_OF_MEMORY, "worker out of memory");
        return;
    }
    status = verge_job_decode(job->payload, job->size, &decoded, strings);
    if (status != VERGE_OK) {
        job_label(job, NULL, id, sizeof(id));
        job_set_error(job, id, "", status, verge_error_message());
        free(strings);
        return;
    }
    if (!model_served(w, decoded.model)) {
        net_buf served = {0};

        for (int i = 0; i < w->options->num_models; i++)
            net_buf_printf(&served, "%s%s", i ? ", " : "", w->options->models[i]);
        snprintf(message, sizeof(message), "job %s: unknown model '%s'; this worker serves %s",
                 decoded.id, decoded.model, served.data != NULL ? served.data : "nothing");
        net_buf_free(&served);
        job_set_error(job, decoded.id, decoded.source, VERGE_STATUS_NOT_FOUND, message);
        free(strings);
        return;
    }

    verge_error_clear();
    status = w->options->handle(state, &decoded, &job->result);
    if (status != VERGE_OK || job->result == NULL) {
        snprintf(message, sizeof(message), "%s",
                 verge_error_message()[0] != '\0' ? verge_error_message() : "the job failed");
        job_set_error(job, decoded.id, decoded.source,
                      status != VERGE_OK ? status : VERGE_STATUS_INTERNAL, message);
    }
    free(strings);
}

/*
 * Publishes a job's result. Handler threads call it as soon as a result is
 * ready (libmosquitto serializes socket writes), which saves the network
 * thread's wake-up on the way out; what cannot go out now (disconnected) is
 * left for the network thread to send after reconnecting.
 */
static void job_publish(worker *w, worker_job *job)
{
    verge_mqtt_publish_options publish = {0};
    verge_status status;

    if (!verge_mqtt_connected(w->mqtt))
        return;
    publish.correlation = job->correlation;
    publish.correlation_size = job->correlation_size;
    publish.status = job->error ? "error" : "ok";
    publish.content_type = "application/json";
    status = verge_mqtt_publish(w->mqtt, job->response_topic, job->result,
                                job->result != NULL ? strlen(job->result) : 0, 1, false, &publish,
                                NULL);
    if (status == VERGE_STATUS_IO_ERROR)
        return;
    if (status != VERGE_OK)
        verge_log(VERGE_LOG_ERROR, "cannot answer on '%s': %s", job->response_topic,
                  verge_error_message());
    job->answered = true;
    job->acknowledge = status == VERGE_OK;
}

static void *handler_main(void *arg)
{
    handler_thread *t = arg;
    worker *w = t->w;

    for (;;) {
        worker_job *job;

        pthread_mutex_lock(&w->lock);
        while (w->pending.head == NULL && !w->quit)
            pthread_cond_wait(&w->ready, &w->lock);
        job = queue_pop(&w->pending);
        pthread_mutex_unlock(&w->lock);
        if (job == NULL)
            break; /* quit */

        /* The payload is not needed after the run; free it early to bound memory. */
        job_run(w, t->state, job);
        free(job->payload);
        job->payload = NULL;
        job_publish(w, job);

        pthread_mutex_lock(&w->lock);
        queue_push(&w->done, job);
        pthread_mutex_unlock(&w->lock);
        verge_mqtt_wake(w->mqtt);
    }
    return NULL;
}

static void on_connect(void *user, verge_mqtt *mqtt)
{
    worker *w = user;
    char filter[NET_TOPIC_MAX];

    if (w->draining)
        return;
    for (int i = 0; i < w->options->num_models; i++) {
        snprintf(filter, sizeof(filter), "$share/%s/%s/jobs/%s", w->group, w->prefix,
                 w->options->models[i]);
        if (verge_mqtt_subscribe(mqtt, filter) != VERGE_OK)
            verge_log(VERGE_LOG_ERROR, "%s", verge_error_message());
    }
    if (verge_mqtt_publish(mqtt, w->presence_topic, w->presence, strlen(w->presence), 1, true, NULL,
                           &w->presence_mid) != VERGE_OK)
        verge_log(VERGE_LOG_WARNING, "cannot announce the worker: %s",
                  verge_error_message());
}

static void on_disconnect(void *user, verge_mqtt *mqtt)
{
    worker *w = user;

    (void)mqtt;
    w->stats.reconnects++;
    /* Results in flight are sent again by libmosquitto after the reconnection. */
}

static void on_publish(void *user, verge_mqtt *mqtt, int mid)
{
    worker *w = user;

    (void)mqtt;
    if (mid == w->presence_mid) {
        w->presence_mid = 0; /* not a result */
        return;
    }
    w->unacked--;
}

static void on_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    worker *w = user;
    worker_job *job = calloc(1, sizeof(*job));
    char id[VERGE_JOB_ID_MAX + 1];
    char text[256];

    (void)mqtt;
    if (job == NULL) {
        verge_log(VERGE_LOG_ERROR, "out of memory: job on %s dropped", message->topic);
        return;
    }
    if (message->response_topic == NULL || message->response_topic[0] == '\0' ||
        strchr(message->response_topic, '+') != NULL ||
        strchr(message->response_topic, '#') != NULL) {
        w->stats.dropped++;
        verge_log(VERGE_LOG_WARNING,
                  "message of %zu bytes on %s has no usable response topic: "
                  "nobody to answer, dropped", message->size, message->topic);
        free(job);
        return;
    }
    job->response_topic = strdup(message->response_topic);
    if (message->correlation != NULL && message->correlation_size > 0) {
        job->correlation = malloc(message->correlation_size);
        if (job->correlation != NULL) {
            memcpy(job->correlation, message->correlation, message->correlation_size);
            job->correlation_size = message->correlation_size;
        }
    }
    w->held++;

    if (message->size > w->max_payload) {
        job_label(job, NULL, id, sizeof(id));
        snprintf(text, sizeof(text),
                 "job of %zu bytes exceeds this worker's --max-payload of %zu bytes", message->size,
                 w->max_payload);
        job_set_error(job, id, "", VERGE_STATUS_INVALID_ARGUMENT, text);
        pthread_mutex_lock(&w->lock);
        queue_push(&w->done, job);
        pthread_mutex_unlock(&w->lock);
        return;
    }
    job->payload = malloc(message->size > 0 ? message->size : 1);
    if (job->response_topic == NULL || job->payload == NULL) {
        job_label(job, NULL, id, sizeof(id));
        job_set_error(job, id, "", VERGE_STATUS_OUT_OF_MEMORY, "worker out of memory");
        pthread_mutex_lock(&w->lock);
        queue_push(&w->done, job);
        pthread_mutex_unlock(&w->lock);
        return;
    }
    if (message->size > 0)
        memcpy(job->payload, message->payload, message->size);
    job->size = message->size;
    pthread_mutex_lock(&w->lock);
    queue_push(&w->pending, job);
    pthread_cond_signal(&w->ready);
    pthread_mutex_unlock(&w->lock);
}

/* Accounts for answered jobs and publishes the results that could not go out before. */
static void publish_results(worker *w)
{
    for (;;) {
        worker_job *job;

        pthread_mutex_lock(&w->lock);
        job = queue_pop(&w->done);
        pthread_mutex_unlock(&w->lock);
        if (job == NULL)
            return;
        if (!job->answered)
            job_publish(w, job);
        if (!job->answered) {
            /* Disconnected: put it back in front and try after reconnecting. */
            pthread_mutex_lock(&w->lock);
            job->next = w->done.head;
            w->done.head = job;
            if (w->done.tail == NULL)
                w->done.tail = job;
            pthread_mutex_unlock(&w->lock);
            return;
        }
        w->unacked += job->acknowledge;
        w->stats.jobs++;
        w->stats.errors += job->error;
        if (job->error)
            verge_log(VERGE_LOG_INFO, "error result: %s", job->result);
        w->held--;
        job_free(job);
    }
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
    if (options->concurrency < options->threads || options->concurrency > 65535)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "concurrency %d outside %d (the threads)..65535", options->concurrency,
                          options->threads);
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
             verge_mqtt_client_id(w->mqtt));
    net_buf_append(&buf, "{\"worker\":", 10);
    net_buf_json_string(&buf, verge_mqtt_client_id(w->mqtt));
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

verge_status verge_worker_run(const verge_worker_options *options, volatile sig_atomic_t *stop,
                              verge_worker_stats *stats)
{
    worker w;
    verge_mqtt_options mqtt_options;
    verge_mqtt_callbacks callbacks = {on_connect, on_disconnect, on_message, on_publish, NULL};
    handler_thread *threads = NULL;
    sigset_t blocked, previous;
    verge_status status;
    double drain_start = 0;
    char filter[NET_TOPIC_MAX];
    bool sync_made = false;

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
    callbacks.user = &w;

    mqtt_options = options->mqtt;
    mqtt_options.receive_maximum = options->concurrency;
    if (mqtt_options.role == NULL)
        mqtt_options.role = "serve";
    /*
     * No MQTT maximum packet size by default: jobs above max_payload must
     * arrive to get their error result. With Mosquitto 2.0.11, a job the
     * broker dropped for exceeding a worker's maximum packet size left that
     * worker's session without jobs afterwards (seen with receive maximum 1),
     * so the broker's own message_size_limit is the place to cap sizes.
     */
    status = verge_mqtt_create(&mqtt_options, &callbacks, &w.mqtt);
    if (status != VERGE_OK)
        return status;
    status = build_presence(&w);
    if (status != VERGE_OK)
        goto cleanup;
    status = verge_mqtt_set_will(w.mqtt, w.presence_topic, NULL, 0, true);
    if (status != VERGE_OK)
        goto cleanup;

    if (pthread_mutex_init(&w.lock, NULL) != 0 || pthread_cond_init(&w.ready, NULL) != 0) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot create a lock");
        goto cleanup;
    }
    sync_made = true;
    threads = calloc((size_t)options->threads, sizeof(*threads));
    if (threads == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate %d threads",
                            options->threads);
        goto cleanup;
    }
    for (int i = 0; i < options->threads; i++) {
        threads[i].w = &w;
        if (options->thread_create != NULL) {
            threads[i].state = options->thread_create(options->user, i);
            if (threads[i].state == NULL) {
                status = verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                                    "handler thread %d could not start: %s", i,
                                    verge_error_message());
                goto cleanup;
            }
        }
    }
    /* Signals go to the network thread, whose poll() they interrupt. */
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    for (int i = 0; i < options->threads; i++) {
        if (pthread_create(&threads[i].thread, NULL, handler_main, &threads[i]) != 0) {
            pthread_sigmask(SIG_SETMASK, &previous, NULL);
            status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot start handler thread %d", i);
            goto cleanup;
        }
        threads[i].started = true;
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);

    status = verge_mqtt_connect(w.mqtt, stop);
    if (status != VERGE_OK) {
        if (*stop)
            status = VERGE_OK;
        goto cleanup;
    }
    verge_log(VERGE_LOG_INFO, "worker %s ready", verge_mqtt_client_id(w.mqtt));

    for (;;) {
        status = verge_mqtt_service(w.mqtt, 200, w.held < options->concurrency);
        if (status != VERGE_OK)
            break;
        publish_results(&w);
        if (*stop && !w.draining) {
            w.draining = true;
            drain_start = net_now();
            for (int i = 0; i < options->num_models; i++) {
                snprintf(filter, sizeof(filter), "$share/%s/%s/jobs/%s", w.group, w.prefix,
                         options->models[i]);
                verge_mqtt_unsubscribe(w.mqtt, filter);
            }
            verge_log(VERGE_LOG_INFO, "stopping after %d jobs in hand", w.held);
        }
        if (w.draining) {
            double waited = net_now() - drain_start;

            if ((w.held == 0 && w.unacked == 0 && waited > 0.2) || waited > DRAIN_TIMEOUT_S) {
                if (w.held > 0)
                    verge_log(VERGE_LOG_WARNING,
                              "gave up on %d jobs after %d s; their submitters "
                              "will send them again", w.held, DRAIN_TIMEOUT_S);
                break;
            }
        }
    }
    if (verge_mqtt_connected(w.mqtt))
        verge_mqtt_publish(w.mqtt, w.presence_topic, NULL, 0, 1, true, NULL, NULL);
    verge_mqtt_disconnect(w.mqtt, 2000);

cleanup:
    if (sync_made) {
        pthread_mutex_lock(&w.lock);
        w.quit = true;
        pthread_cond_broadcast(&w.ready);
        pthread_mutex_unlock(&w.lock);
    }
    for (int i = 0; threads != NULL && i < options->threads; i++) {
        if (threads[i].started)
            pthread_join(threads[i].thread, NULL);
        if (threads[i].state != NULL && options->thread_destroy != NULL)
            options->thread_destroy(options->user, threads[i].state);
    }
    free(threads);
    if (sync_made) {
        worker_job *job;

        while ((job = queue_pop(&w.pending)) != NULL)
            job_free(job);
        while ((job = queue_pop(&w.done)) != NULL)
            job_free(job);
        pthread_mutex_destroy(&w.lock);
        pthread_cond_destroy(&w.ready);
    }
    free(w.presence);
    verge_mqtt_destroy(w.mqtt);
    if (stats != NULL)
        *stats = w.stats;
    return status;
}
