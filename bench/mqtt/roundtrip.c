/*
 * Job round trip against a raw MQTT request/response through the same
 * broker, one message at a time.
 *
 *     bench_mqtt_roundtrip URL MODEL IMAGE COUNT [ROUNDS]
 *
 * needs `verge serve --model MODEL` running on URL. Four kinds of round
 * trip, measured in ROUNDS (default 10) interleaved rounds of COUNT / ROUNDS
 * each, so that a change of machine load hits all of them alike:
 *
 *   raw      an echo process responds to each request. The request is as
 *            large as the job's envelope for IMAGE and carries a response
 *            topic and correlation data of the same lengths. The response
 *            is as large as a result line and carries the result's
 *            properties. QoS 1 both ways, like jobs.
 *   no-op    a job to a worker process of this program (verge_worker_run)
 *            whose handler returns a result line of the same size at once:
 *            what verge's worker and client add to a raw round trip.
 *   busy no-op  the same with the handler busy for the median compute
 *            time first, minus that time.
 *   serve    a job to `verge serve`, which decodes IMAGE and runs MODEL.
 *            Its compute (the decode, preprocess, inference and postprocess
 *            times of the result line) is reported on its own; the
 *            overhead is each job's round trip minus its compute.
 *   busy raw the raw round trip with the echo busy (spinning on a core) for
 *            the median compute time before it responds, minus that time:
 *            what the same broker and machine cost when a core works
 *            between request and response, as in a real job.
 *
 * Prints medians and p99 in milliseconds, the ratios to the raw round trip
 * (target: at most 2), and the load average before and after.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "verge/net.h"

enum { MAX_IMAGE = 1 << 22, WARM_UP = 20 };

/* "noop" and "busy" padded with '_' to the length of MODEL, so that their jobs are as large. */
static char noop_model[VERGE_JOB_MODEL_MAX + 1] = "noop";
static char busy_model[VERGE_JOB_MODEL_MAX + 1] = "busy";
static volatile sig_atomic_t child_stop;

static void on_child_signal(int signal_number)
{
    (void)signal_number;
    child_stop = 1;
}

static void child_signals(void)
{
    struct sigaction action;

    memset(&action, 0, sizeof(action));
    action.sa_handler = on_child_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
}

static void busy_wait(double seconds)
{
    for (double until = net_now() + seconds; seconds > 0 && net_now() < until;)
        continue;
}

/* ---- The echo process: responds to bench/ping/BUSY_US with a result-sized message ---- */

typedef struct echo {
    char *response;
    size_t response_size;
} echo;

static void echo_connect(void *user, verge_mqtt *mqtt)
{
    (void)user;
    verge_mqtt_subscribe(mqtt, "bench/ping/+");
}

static void echo_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    echo *e = user;
    verge_mqtt_publish_options publish = {0};
    const char *level = strrchr(message->topic, '/');
    double busy_s = level != NULL ? strtod(level + 1, NULL) * 1e-6 : 0;

    /* Busy, not asleep: a worker keeps a core working while it computes. */
    busy_wait(busy_s);
    if (message->response_topic == NULL)
        return;
    publish.correlation = message->correlation;
    publish.correlation_size = message->correlation_size;
    publish.status = "ok";
    publish.content_type = "application/json";
    verge_mqtt_publish(mqtt, message->response_topic, e->response, e->response_size, 1, false,
                       &publish, NULL);
}

static int echo_main(const char *url, size_t response_size)
{
    verge_mqtt_options options;
    verge_mqtt_callbacks callbacks = {echo_connect, NULL, echo_message, NULL, NULL};
    verge_mqtt *mqtt = NULL;
    echo e;

    e.response = malloc(response_size);
    e.response_size = response_size;
    if (e.response == NULL)
        return 1;
    memset(e.response, 'x', response_size);
    verge_mqtt_options_init(&options);
    options.url = url;
    options.connect_timeout = 5;
    options.role = "bench-echo";
    callbacks.user = &e;
    if (verge_mqtt_create(&options, &callbacks, &mqtt) != VERGE_OK ||
        verge_mqtt_connect(mqtt, &child_stop) != VERGE_OK) {
        fprintf(stderr, "echo: %s\n", verge_error_message());
        return 1;
    }
    while (!child_stop)
        verge_mqtt_service(mqtt, 200, true);
    verge_mqtt_disconnect(mqtt, 500);
    verge_mqtt_destroy(mqtt);
    free(e.response);
    return 0;
}

/* ---- The no-op worker process ---- */

static size_t noop_result_size;
static double noop_busy_s;     /* how long jobs for busy_model keep the handler busy */

/* {"job":"ID","pad":"xx..."}, noop_result_size bytes long. */
static verge_status noop_handle(void *state, const verge_job *job, char **result)
{
    size_t size = noop_result_size;
    int head;

    (void)state;
    if (strcmp(job->model, busy_model) == 0)
        busy_wait(noop_busy_s);
    *result = malloc(size + 1);
    if (*result == NULL)
        return VERGE_STATUS_OUT_OF_MEMORY;
    head = snprintf(*result, size + 1, "{\"job\":\"%s\",\"pad\":\"", job->id);
    if (head < 0 || (size_t)head + 2 > size)
        return VERGE_OK; /* too short to pad: the head alone, cut */
    memset(*result + head, 'x', size - (size_t)head - 2);
    memcpy(*result + size - 2, "\"}", 3);
    return VERGE_OK;
}

static int noop_worker_main(const char *url, size_t response_size)
{
    verge_worker_options options;
    verge_worker_stats stats;
    const char *models[] = {noop_model, busy_model};

    noop_result_size = response_size;
    memset(&options, 0, sizeof(options));
    verge_mqtt_options_init(&options.mqtt);
    options.mqtt.url = url;
    options.mqtt.connect_timeout = 5;
    options.models = models;
    options.num_models = 2;
    options.threads = 1;
    options.concurrency = 1;
    options.handle = noop_handle;
    if (verge_worker_run(&options, &child_stop, &stats) != VERGE_OK) {
        fprintf(stderr, "no-op worker: %s\n", verge_error_message());
        return 1;
    }
    return 0;
}

static pid_t start_child(int (*main_function)(const char *, size_t), const char *url,
                         size_t response_size)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        child_signals();
        _exit(main_function(url, response_size));
    }
    return pid;
}

static void stop_child(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* ---- Raw round trips ---- */

typedef struct requester {
    verge_mqtt *mqtt;
    char response_topic[NET_TOPIC_MAX];
    volatile int responses;
} requester;

static void requester_connect(void *user, verge_mqtt *mqtt)
{
    requester *r = user;

    verge_mqtt_subscribe(mqtt, r->response_topic);
}

static void requester_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    requester *r = user;

    (void)mqtt;
    (void)message;
    r->responses++;
}

/*
 * Runs `count` request/response round trips of `request` (as large as a
 * job), each response sent after `busy_us` of work. Adds each round trip
 * minus the work, in milliseconds, to `samples`.
 */
static int raw_round_trips(requester *r, const char *topic_pattern, const uint8_t *request,
                           size_t request_size, int count, double busy_us, net_samples *samples)
{
    verge_mqtt_publish_options publish = {0};
    char topic[NET_TOPIC_MAX];

    /* The topic is as long as the job topic; its last level is the echo's work time in microseconds. */
    snprintf(topic, sizeof(topic), topic_pattern, (long)busy_us);
    publish.response_topic = r->response_topic;
    publish.correlation = "0123abcd-1234";
    publish.correlation_size = 13;
    for (int i = 0; i < count; i++) {
        int before = r->responses;
        double start = net_now();

        if (verge_mqtt_publish(r->mqtt, topic, request, request_size, 1, false, &publish, NULL) !=
            VERGE_OK) {
            fprintf(stderr, "raw: %s\n", verge_error_message());
            return -1;
        }
        while (r->responses == before && net_now() - start < 5)
            verge_mqtt_service(r->mqtt, 20, true);
        if (r->responses == before) {
            fprintf(stderr, "raw: no response within 5 s\n");
            return -1;
        }
        net_samples_add(samples, (net_now() - start) * 1e3 - busy_us * 1e-3);
    }
    return 0;
}

/* ---- Job round trips ---- */

typedef struct job_timing {
    net_samples trip, compute, overhead;
    net_samples stage[4];
    double last;
    size_t result_bytes;
    bool measure_compute;
} job_timing;

static const char *const stage_names[4] = {"decode", "preprocess", "inference", "postprocess"};

/* The four stage times of a result line's "timing_ms"; false when it has none. */
static bool result_stages(const char *line, size_t length, double stages[4])
{
    char *text = strndup(line, length);
    const char *timing = text != NULL ? strstr(text, "\"timing_ms\":") : NULL;
    bool found = timing != NULL;

    for (int s = 0; found && s < 4; s++) {
        char key[32];
        const char *at;

        snprintf(key, sizeof(key), "\"%s\":", stage_names[s]);
        at = strstr(timing, key);
        found = at != NULL;
        stages[s] = found ? strtod(at + strlen(key), NULL) : 0;
    }
    free(text);
    return found;
}

/* With one job in flight, the time between two results is one job's round trip. */
static void on_result(void *user, size_t index, const char *line, size_t length, bool error)
{
    job_timing *t = user;
    double now = net_now();
    double stages[4] = {0}, compute = 0;

    t->result_bytes = length;
    if (!error && index > 0) {
        double trip = (now - t->last) * 1e3;

        net_samples_add(&t->trip, trip);
        if (t->measure_compute && result_stages(line, length, stages)) {
            for (int s = 0; s < 4; s++) {
                compute += stages[s];
                net_samples_add(&t->stage[s], stages[s]);
            }
            net_samples_add(&t->compute, compute);
            net_samples_add(&t->overhead, trip - compute);
        }
    }
    t->last = now;
}

/* Sends `count` + 1 jobs one at a time (the first only starts the clock). */
static int job_round_trips(const char *url, const char *model, const char *image, int count,
                           job_timing *timing)
{
    verge_client_options client;
    verge_client_stats stats;
    verge_client_job *jobs = calloc((size_t)count + 1, sizeof(*jobs));
    int status = 0;

    if (jobs == NULL)
        return -1;
    for (int i = 0; i <= count; i++)
        jobs[i] = (verge_client_job){VERGE_JOB_IMAGE, image};
    memset(&client, 0, sizeof(client));
    verge_mqtt_options_init(&client.mqtt);
    client.mqtt.url = url;
    client.mqtt.connect_timeout = 5;
    client.model = model;
    client.score = 0.5f;
    client.iou = 0.3f;
    client.window = 1;
    client.on_result = on_result;
    client.user = timing;
    if (verge_client_run(&client, jobs, (size_t)count + 1, NULL, &stats) != VERGE_OK ||
        stats.ok != count + 1) {
        fprintf(stderr, "%s jobs failed: %s (%lld ok)\n", model, verge_error_message(),
                (long long)stats.ok);
        status = -1;
    }
    free(jobs);
    return status;
}

static void job_timing_free(job_timing *t)
{
    net_samples_free(&t->trip);
    net_samples_free(&t->compute);
    net_samples_free(&t->overhead);
    for (int s = 0; s < 4; s++)
        net_samples_free(&t->stage[s]);
}

static void print_line(const char *label, net_samples *samples)
{
    printf("%-44s p50 %7.3f ms   p99 %7.3f ms   (%zu)\n", label,
           net_samples_quantile(samples, 0.5), net_samples_quantile(samples, 0.99),
           samples->count);
}

static double load_average(void)
{
    FILE *file = fopen("/proc/loadavg", "r");
    double load = -1;

    if (file != NULL) {
        if (fscanf(file, "%lf", &load) != 1)
            load = -1;
        fclose(file);
    }
    return load;
}

/* Encodes the envelope a job for `image` gets, to size the raw request like it. */
static uint8_t *job_sized_request(const char *model, const char *image, size_t *size)
{
    static uint8_t bytes[MAX_IMAGE];
    FILE *file = fopen(image, "rb");
    verge_job job = {0};
    uint8_t *envelope = NULL;
    size_t length;

    if (file == NULL)
        return NULL;
    length = fread(bytes, 1, sizeof(bytes), file);
    fclose(file);
    job.kind = VERGE_JOB_IMAGE;
    job.id = "0123abcd-1234";
    job.model = model;
    job.source = image;
    job.score = 0.5f;
    job.iou = 0.3f;
    job.body = bytes;
    job.body_size = length;
    if (length == 0 || verge_job_encode(&job, &envelope, size) != VERGE_OK)
        return NULL;
    return envelope;
}

int main(int argc, char **argv)
{
    const char *url, *model, *image;
    int count, rounds, per_round;
    uint8_t *request;
    size_t request_size;
    job_timing warm = {0}, noop = {0}, busy_noop = {0}, serve = {0};
    net_samples raw = {0}, busy = {0};
    requester r = {0};
    verge_mqtt_options options;
    verge_mqtt_callbacks callbacks = {requester_connect, NULL, requester_message, NULL, NULL};
    char topic_pattern[NET_TOPIC_MAX];
    pid_t echo_pid = -1, noop_pid = -1;
    double load_before = load_average(), compute_us;
    int status = 1;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: bench_mqtt_roundtrip URL MODEL IMAGE COUNT [ROUNDS]\n");
        return 2;
    }
    url = argv[1];
    model = argv[2];
    image = argv[3];
    count = atoi(argv[4]);
    rounds = argc == 6 ? atoi(argv[5]) : 10;
    if (count < 10 || rounds < 1 || rounds > count / 2) {
        fprintf(stderr, "COUNT must be at least 10 and ROUNDS 1..COUNT/2\n");
        return 2;
    }
    per_round = count / rounds;
    for (size_t i = strlen(noop_model); i < strlen(model) && i < VERGE_JOB_MODEL_MAX; i++)
        noop_model[i] = busy_model[i] = '_';
    request = job_sized_request(model, image, &request_size);
    if (request == NULL) {
        fprintf(stderr, "cannot make a job envelope of %s: %s\n", image, verge_error_message());
        return 2;
    }
    /* "bench/ping/" plus digits as long as "verge/jobs/MODEL". */
    snprintf(topic_pattern, sizeof(topic_pattern), "bench/ping/%%0%dld",
             (int)strlen(model) > 8 ? (int)strlen(model) : 8);

    /* Warm-up: the result size and the compute time of `verge serve`. */
    warm.measure_compute = true;
    if (job_round_trips(url, model, image, WARM_UP, &warm) != 0)
        goto done;
    compute_us = net_samples_quantile(&warm.compute, 0.5) * 1e3;
    noop_busy_s = compute_us * 1e-6;

    echo_pid = start_child(echo_main, url, warm.result_bytes);
    noop_pid = start_child(noop_worker_main, url, warm.result_bytes);
    verge_mqtt_options_init(&options);
    options.url = url;
    options.connect_timeout = 5;
    options.role = "submit"; /* the same length of client id, hence of response topic, as a job's */
    callbacks.user = &r;
    if (verge_mqtt_create(&options, &callbacks, &r.mqtt) != VERGE_OK) {
        fprintf(stderr, "%s\n", verge_error_message());
        goto done;
    }
    snprintf(r.response_topic, sizeof(r.response_topic), "verge/results/%s",
             verge_mqtt_client_id(r.mqtt));
    if (verge_mqtt_connect(r.mqtt, NULL) != VERGE_OK) {
        fprintf(stderr, "%s\n", verge_error_message());
        goto done;
    }
    /* Until the echo has subscribed and the no-op worker announced itself. */
    for (double until = net_now() + 1.0; net_now() < until;)
        verge_mqtt_service(r.mqtt, 20, true);

    serve.measure_compute = true;
    for (int round = 0; round < rounds; round++) {
        if (raw_round_trips(&r, topic_pattern, request, request_size, per_round, 0, &raw) != 0 ||
            job_round_trips(url, noop_model, image, per_round, &noop) != 0 ||
            job_round_trips(url, busy_model, image, per_round, &busy_noop) != 0 ||
            job_round_trips(url, model, image, per_round, &serve) != 0 ||
            raw_round_trips(&r, topic_pattern, request, request_size, per_round, compute_us,
                            &busy) != 0)
            goto done;
    }

    printf("request %zu bytes (a job's envelope), response %zu bytes (a result line), QoS 1 both "
           "ways; %d rounds of %d\n", request_size, warm.result_bytes, rounds, per_round);
    for (size_t i = 0; i < busy_noop.trip.count; i++)
        busy_noop.trip.values[i] -= compute_us * 1e-3;
    printf("compute time used for the busy rounds: %.3f ms (median of %d warm-up jobs)\n",
           compute_us * 1e-3, WARM_UP);
    print_line("raw round trip", &raw);
    print_line("raw round trip, echo busy first (- busy)", &busy);
    print_line("no-op job round trip", &noop.trip);
    print_line("no-op job, handler busy first (- busy)", &busy_noop.trip);
    print_line("verge serve job round trip", &serve.trip);
    print_line("  compute (the four stages)", &serve.compute);
    for (int s = 0; s < 4; s++) {
        char label[64];

        snprintf(label, sizeof(label), "    %s", stage_names[s]);
        print_line(label, &serve.stage[s]);
    }
    print_line("  overhead (round trip - compute)", &serve.overhead);
    {
        double raw_p50 = net_samples_quantile(&raw, 0.5);
        double busy_p50 = net_samples_quantile(&busy, 0.5);
        double noop_p50 = net_samples_quantile(&noop.trip, 0.5);
        double busy_noop_p50 = net_samples_quantile(&busy_noop.trip, 0.5);
        double overhead_p50 = net_samples_quantile(&serve.overhead, 0.5);

        printf("no-op job / raw:                       %.2f (target <= 2)\n", noop_p50 / raw_p50);
        printf("busy no-op job / busy raw:             %.2f\n", busy_noop_p50 / busy_p50);
        printf("serve overhead / raw:                  %.2f (target <= 2)\n",
               overhead_p50 / raw_p50);
        printf("serve overhead / raw with busy echo:   %.2f\n", overhead_p50 / busy_p50);
    }
    printf("load average: %.2f before, %.2f after\n", load_before, load_average());
    status = 0;

done:
    if (r.mqtt != NULL)
        verge_mqtt_disconnect(r.mqtt, 500);
    verge_mqtt_destroy(r.mqtt);
    stop_child(echo_pid);
    stop_child(noop_pid);
    job_timing_free(&warm);
    job_timing_free(&noop);
    job_timing_free(&busy_noop);
    job_timing_free(&serve);
    net_samples_free(&raw);
    net_samples_free(&busy);
    free(request);
    return status;
}
