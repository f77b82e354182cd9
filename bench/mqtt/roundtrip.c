/*
 * Job round-trip overhead against a raw MQTT round trip through the same
 * broker.
 *
 *     bench_mqtt_roundtrip URL MODEL IMAGE COUNT
 *
 * Raw: an echo client (its own thread and connection) answers each QoS 1
 * message on bench/ping with a 400-byte QoS 1 message on bench/pong; the
 * ping carries IMAGE's bytes, like a job. Jobs: COUNT jobs of IMAGE, one at
 * a time, to the `verge serve` workers of MODEL; a job's overhead is its
 * round trip minus the worker's own decode + preprocess + inference +
 * postprocess time from the result line. Prints medians and the ratio
 * overhead / raw round trip (target: at most 2).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/net_internal.h"
#include "verge/net.h"

typedef struct echo {
    verge_mqtt *mqtt;
    volatile sig_atomic_t stop;
    volatile int ready;
    double delay_ms;     /* "work" before answering, like a worker's inference */
} echo;

static char reply[400];

static void echo_connect(void *user, verge_mqtt *mqtt)
{
    echo *e = user;

    verge_mqtt_subscribe(mqtt, "bench/ping");
    e->ready = 1;
}

static void echo_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    echo *e = user;

    (void)message;
    if (e->delay_ms > 0) {
        struct timespec pause = {0, (long)(e->delay_ms * 1e6)};

        nanosleep(&pause, NULL);
    }
    verge_mqtt_publish(mqtt, "bench/pong", reply, sizeof(reply), 1, false, NULL, NULL);
}

static void *echo_main(void *arg)
{
    echo *e = arg;

    while (!e->stop)
        verge_mqtt_service(e->mqtt, 100, true);
    return NULL;
}

static volatile int pongs;

static void ping_connect(void *user, verge_mqtt *mqtt)
{
    (void)user;
    verge_mqtt_subscribe(mqtt, "bench/pong");
}

static void ping_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    (void)user;
    (void)mqtt;
    (void)message;
    pongs++;
}

typedef struct job_timing {
    net_samples work;
    net_samples overhead;
    net_samples round_trip;
    double last;
} job_timing;

/* Sum of the four stage times in a result line's "timing_ms". */
static double worker_ms(const char *line, size_t length)
{
    static const char *const stages[] = {"\"decode\":", "\"preprocess\":", "\"inference\":",
                                         "\"postprocess\":"};
    char *text = strndup(line, length);
    const char *timing = text != NULL ? strstr(text, "\"timing_ms\":") : NULL;
    double sum = 0;

    for (int s = 0; timing != NULL && s < 4; s++) {
        const char *at = strstr(timing, stages[s]);

        if (at != NULL)
            sum += strtod(at + strlen(stages[s]), NULL);
    }
    free(text);
    return sum;
}

static void on_result(void *user, size_t index, const char *line, size_t length, bool error)
{
    job_timing *t = user;
    double now = net_now();

    if (!error && index > 0) {
        double trip = (now - t->last) * 1e3;

        double work = worker_ms(line, length);

        net_samples_add(&t->round_trip, trip);
        net_samples_add(&t->work, work);
        net_samples_add(&t->overhead, trip - work);
    }
    t->last = now;
}

/* Round trips of IMAGE-sized pings answered after `delay_ms`; returns the samples minus the delay. */
static int raw_round_trips(const char *url, const uint8_t *image, size_t image_size, int count,
                           double delay_ms, net_samples *raw)
{
    verge_mqtt_options options;
    verge_mqtt_callbacks echo_callbacks = {echo_connect, NULL, echo_message, NULL, NULL};
    verge_mqtt_callbacks ping_callbacks = {ping_connect, NULL, ping_message, NULL, NULL};
    verge_mqtt *ping = NULL;
    echo e = {0};
    pthread_t thread;

    verge_mqtt_options_init(&options);
    options.url = url;
    options.connect_timeout = 5;
    e.delay_ms = delay_ms;
    echo_callbacks.user = &e;
    if (verge_mqtt_create(&options, &echo_callbacks, &e.mqtt) != VERGE_OK ||
        verge_mqtt_connect(e.mqtt, NULL) != VERGE_OK ||
        verge_mqtt_create(&options, &ping_callbacks, &ping) != VERGE_OK ||
        verge_mqtt_connect(ping, NULL) != VERGE_OK) {
        fprintf(stderr, "%s\n", verge_error_message());
        return -1;
    }
    pthread_create(&thread, NULL, echo_main, &e);
    for (double until = net_now() + 0.5; net_now() < until;)
        verge_mqtt_service(ping, 10, true);
    for (int i = 0; i < count; i++) {
        int before = pongs;
        double start = net_now();

        verge_mqtt_publish(ping, "bench/ping", image, image_size, 1, false, NULL, NULL);
        while (pongs == before && net_now() - start < 5)
            verge_mqtt_service(ping, 5, true);
        net_samples_add(raw, (net_now() - start) * 1e3 - delay_ms);
    }
    e.stop = 1;
    pthread_join(thread, NULL);
    verge_mqtt_destroy(e.mqtt);
    verge_mqtt_destroy(ping);
    return 0;
}

int main(int argc, char **argv)
{
    verge_client_options client;
    verge_client_stats stats;
    verge_client_job *jobs;
    net_samples raw = {0}, paced = {0};
    job_timing timing = {0};
    FILE *file;
    static uint8_t image[1 << 22];
    size_t image_size;
    int count;
    double raw_p50, paced_p50, work_p50, overhead_p50;

    if (argc != 5) {
        fprintf(stderr, "usage: bench_mqtt_roundtrip URL MODEL IMAGE COUNT\n");
        return 2;
    }
    count = atoi(argv[4]);
    file = fopen(argv[3], "rb");
    if (file == NULL || count < 2) {
        fprintf(stderr, "cannot read %s, or COUNT below 2\n", argv[3]);
        return 2;
    }
    image_size = fread(image, 1, sizeof(image), file);
    fclose(file);
    memset(reply, '{', sizeof(reply));

    /* Back-to-back raw round trips. */
    if (raw_round_trips(argv[1], image, image_size, count, 0, &raw) != 0)
        return 1;

    /* Job round trips, one at a time. */
    jobs = calloc((size_t)count + 1, sizeof(*jobs));
    for (int i = 0; i <= count; i++)
        jobs[i] = (verge_client_job){VERGE_JOB_IMAGE, argv[3]};
    memset(&client, 0, sizeof(client));
    verge_mqtt_options_init(&client.mqtt);
    client.mqtt.url = argv[1];
    client.mqtt.connect_timeout = 5;
    client.model = argv[2];
    client.score = 0.5f;
    client.iou = 0.3f;
    client.window = 1;
    client.on_result = on_result;
    client.user = &timing;
    if (verge_client_run(&client, jobs, (size_t)count + 1, NULL, &stats) != VERGE_OK ||
        stats.ok != count + 1) {
        fprintf(stderr, "jobs failed: %s (%lld ok)\n", verge_error_message(), (long long)stats.ok);
        return 1;
    }

    /*
     * The same raw round trip with the echo idle for the worker's median
     * stage time before answering: after 20 ms of idling, waking the broker
     * and the clients costs more (idle CPUs, more so in a VM), in both paths.
     */
    work_p50 = net_samples_quantile(&timing.work, 0.5);
    if (raw_round_trips(argv[1], image, image_size, count, work_p50, &paced) != 0)
        return 1;

    raw_p50 = net_samples_quantile(&raw, 0.5);
    paced_p50 = net_samples_quantile(&paced, 0.5);
    overhead_p50 = net_samples_quantile(&timing.overhead, 0.5);
    printf("image %zu bytes, %d round trips each\n", image_size, count);
    printf("raw MQTT round trip:     p50 %.3f ms  p99 %.3f ms\n", raw_p50,
           net_samples_quantile(&raw, 0.99));
    printf("job round trip:          p50 %.3f ms  p99 %.3f ms\n",
           net_samples_quantile(&timing.round_trip, 0.5),
           net_samples_quantile(&timing.round_trip, 0.99));
    printf("job overhead (trip - worker stages): p50 %.3f ms  p99 %.3f ms\n", overhead_p50,
           net_samples_quantile(&timing.overhead, 0.99));
    printf("raw round trip, answered after %.1f ms idle: p50 %.3f ms  p99 %.3f ms\n", work_p50,
           paced_p50, net_samples_quantile(&paced, 0.99));
    printf("overhead / raw round trip: %.2f back to back, %.2f with the same idle time "
           "(target <= 2)\n",
           raw_p50 > 0 ? overhead_p50 / raw_p50 : 0.0,
           paced_p50 > 0 ? overhead_p50 / paced_p50 : 0.0);
    net_samples_free(&raw);
    net_samples_free(&paced);
    net_samples_free(&timing.work);
    net_samples_free(&timing.overhead);
    net_samples_free(&timing.round_trip);
    free(jobs);
    return 0;
}
