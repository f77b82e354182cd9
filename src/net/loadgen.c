/*
 * The load generator: thousands of MQTT clients, each its own TCP
 * connection, driven by one thread over epoll. Sends are spread evenly:
 * with N devices at rate r, send number j goes to device j mod N at
 * start + j / (N r), so every device publishes at r and the broker sees a
 * steady N r messages per second rather than bursts.
 *
 * Every message carries the user property t = "DEVICE:SEQ:NANOSECONDS"
 * (monotonic clock), from which acknowledgement and delivery latencies,
 * duplicates and missing messages are counted.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "core/core.h"
#include "net/net_checks.h"
#include "net/net_internal.h"

enum {
    PENDING_SLOTS = 8,          /* send times remembered per device, by message id */
    MAX_CONNECTING = 256,       /* connections waiting for CONNACK at once */
    EVENTS = 1024,
    FD_RESERVE = 32,            /* descriptors kept for the process's other needs */
    /* Descriptors per device: its socket, and the socket pair libmosquitto 2.0 opens per client. */
    FDS_PER_DEVICE = 3,
    MAX_PROCESSES = 64,
};

typedef struct device device;

typedef struct loadgen {
    const verge_loadgen_options *options;
    net_broker broker;
    int epoll_fd;
    device *devices;
    int count;                  /* devices created */
    device *subscriber;
    int64_t expected_per_device; /* messages each device sends at most */
    char id_prefix[96];
    int name_width;
    int first_device;           /* global index of devices[0] (several processes split the fleet) */
    int connecting;
    net_samples ack_latency;
    net_samples delivery_latency;
    verge_loadgen_report *report;
    int refused;                /* connections the broker closed before CONNACK */
    int fd_exhausted;
    int connect_errors;
    char last_connect_error[128];
} loadgen;

struct device {
    loadgen *lg;
    struct mosquitto *mosq;
    int index;                  /* -1 for the subscriber */
    uint32_t events;            /* epoll interest registered */
    bool registered;
    bool connected;
    bool done;                  /* failed or disconnected: no more sends */
    int64_t seq;
    double value;
    int pending_mid[PENDING_SLOTS];
    int64_t pending_seq[PENDING_SLOTS];
    int64_t pending_ns[PENDING_SLOTS];
    uint8_t *acked;             /* bit per sequence number */
    uint8_t *received;          /* bit per sequence number (with subscribe) */
};

static bool bit_get(const uint8_t *bits, int64_t i)
{
    return (bits[i >> 3] >> (i & 7)) & 1;
}

static void bit_set(uint8_t *bits, int64_t i)
{
    bits[i >> 3] = (uint8_t)(bits[i >> 3] | (1u << (i & 7)));
}

static void device_update_events(device *d)
{
    loadgen *lg = d->lg;
    int fd = mosquitto_socket(d->mosq);
    uint32_t events;
    struct epoll_event event;

    if (fd < 0) {
        d->registered = false;
        return;
    }
    events = EPOLLIN | (mosquitto_want_write(d->mosq) ? EPOLLOUT : 0);
    if (d->registered && events == d->events)
        return;
    event.events = events;
    event.data.ptr = d;
    if (epoll_ctl(lg->epoll_fd, d->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event) == 0 ||
        (errno == EEXIST && epoll_ctl(lg->epoll_fd, EPOLL_CTL_MOD, fd, &event) == 0) ||
        (errno == ENOENT && epoll_ctl(lg->epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0)) {
        d->registered = true;
        d->events = events;
    }
}

static void on_connect(struct mosquitto *mosq, void *user, int reason, int flags,
                       const mosquitto_property *properties)
{
    device *d = user;
    loadgen *lg = d->lg;

    (void)flags;
    (void)properties;
    lg->connecting--;
    if (reason != 0) {
        d->done = true;
        lg->refused++;
        snprintf(lg->last_connect_error, sizeof(lg->last_connect_error), "broker refused: %s",
                 mosquitto_reason_string(reason));
        return;
    }
    d->connected = true;
    if (d->index < 0) {
        char filter[NET_TOPIC_MAX];
        const char *topic = lg->options->topic;
        const char *mark = strstr(topic, "{device}");

        snprintf(filter, sizeof(filter), "%.*s+%s", (int)(mark - topic), topic, mark + 8);
        mosquitto_subscribe_v5(mosq, NULL, filter, 1, 0, NULL);
        return;
    }
    lg->report->devices_connected++;
    if (lg->report->devices_connected > lg->report->peak_connected)
        lg->report->peak_connected = lg->report->devices_connected;
}

static void on_disconnect(struct mosquitto *mosq, void *user, int rc,
                          const mosquitto_property *properties)
{
    device *d = user;
    loadgen *lg = d->lg;

    (void)mosq;
    (void)properties;
    d->registered = false; /* libmosquitto closed the socket, which leaves the epoll set */
    if (!d->connected) {
        if (!d->done) {
            lg->connecting--;
            lg->refused++;
            snprintf(lg->last_connect_error, sizeof(lg->last_connect_error),
                     "closed before CONNACK");
            (void)rc;
        }
        d->done = true;
        return;
    }
    d->connected = false;
    d->done = true;
    if (rc != 0 && d->index >= 0) {
        lg->report->disconnects++;
        lg->report->devices_connected--;
    }
}

static void on_publish(struct mosquitto *mosq, void *user, int mid, int reason,
                       const mosquitto_property *properties)
{
    device *d = user;
    loadgen *lg = d->lg;
    int slot = mid % PENDING_SLOTS;

    (void)mosq;
    (void)properties;
    if (reason >= 0x80)
        return; /* rejected: not acknowledged */
    if (d->pending_mid[slot] == mid) {
        int64_t seq = d->pending_seq[slot];

        d->pending_mid[slot] = 0;
        if (seq >= 0 && seq < lg->expected_per_device && !bit_get(d->acked, seq)) {
            bit_set(d->acked, seq);
            lg->report->acked++;
            net_samples_add(&lg->ack_latency, (double)(net_now_ns() - d->pending_ns[slot]) / 1e6);
        }
    } else {
        /* More than PENDING_SLOTS in flight: counted, its latency unknown. */
        lg->report->acked++;
    }
}

static void on_message(struct mosquitto *mosq, void *user, const struct mosquitto_message *message,
                       const mosquitto_property *properties)
{
    device *subscriber = user;
    loadgen *lg = subscriber->lg;
    char *name = NULL, *value = NULL;
    long long device_index, seq, sent_ns;
    const mosquitto_property *at;

    (void)mosq;
    (void)message;
    at = mosquitto_property_read_string_pair(properties, MQTT_PROP_USER_PROPERTY, &name, &value,
                                             false);
    while (at != NULL && (name == NULL || strcmp(name, "t") != 0)) {
        free(name);
        free(value);
        name = value = NULL;
        at = mosquitto_property_read_string_pair(at, MQTT_PROP_USER_PROPERTY, &name, &value, true);
    }
    if (value != NULL && sscanf(value, "%lld:%lld:%lld", &device_index, &seq, &sent_ns) == 3 &&
        device_index >= lg->first_device && device_index < lg->first_device + lg->count &&
        seq >= 0 && seq < lg->expected_per_device) {
        device *d = &lg->devices[device_index - lg->first_device];

        if (bit_get(d->received, seq)) {
            lg->report->duplicates++;
        } else {
            bit_set(d->received, seq);
            lg->report->received++;
            net_samples_add(&lg->delivery_latency, (double)(net_now_ns() - sent_ns) / 1e6);
        }
    }
    free(name);
    free(value);
}

static verge_status device_start(loadgen *lg, device *d, const char *id)
{
    const verge_loadgen_options *options = lg->options;
    int rc;

    d->lg = lg;
    d->mosq = mosquitto_new(id, true, d);
    if (d->mosq == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot create MQTT client %s", id);
    if (net_client_configure(d->mosq, &options->mqtt, &lg->broker) != VERGE_OK)
        return VERGE_STATUS_INVALID_ARGUMENT;
    mosquitto_connect_v5_callback_set(d->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(d->mosq, on_disconnect);
    mosquitto_publish_v5_callback_set(d->mosq, on_publish);
    if (d->index < 0)
        mosquitto_message_v5_callback_set(d->mosq, on_message);

    rc = mosquitto_connect_bind_v5(d->mosq, lg->broker.host, lg->broker.port,
                                   options->mqtt.keepalive > 0 ? options->mqtt.keepalive : 60, NULL,
                                   NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        int error = errno;

        d->done = true;
        if (rc == MOSQ_ERR_ERRNO && (error == EMFILE || error == ENFILE)) {
            lg->fd_exhausted++;
        } else {
            lg->connect_errors++;
            snprintf(lg->last_connect_error, sizeof(lg->last_connect_error), "%s",
                     net_mosquitto_error(rc));
        }
        return VERGE_STATUS_IO_ERROR;
    }
    lg->connecting++;
    device_update_events(d);
    return VERGE_OK;
}

static void device_send(loadgen *lg, device *d)
{
    const verge_loadgen_options *options = lg->options;
    mosquitto_property *properties = NULL;
    char topic[NET_TOPIC_MAX], name[32], stamp[96], reading[32];
    const char *mark = strstr(options->topic, "{device}");
    const void *payload;
    int length, mid = 0, rc;
    int64_t now_ns = net_now_ns();
    int64_t seq = d->seq++;

    if (seq >= lg->expected_per_device)
        return;
    snprintf(name, sizeof(name), "d%0*d", lg->name_width, lg->first_device + d->index);
    snprintf(topic, sizeof(topic), "%.*s%s%s", (int)(mark - options->topic), options->topic, name,
             mark + 8);
    snprintf(stamp, sizeof(stamp), "%d:%lld:%lld", lg->first_device + d->index, (long long)seq,
             (long long)now_ns);
    if (options->payload != NULL) {
        payload = options->payload;
        length = (int)options->payload_size;
    } else {
        /* A temperature-like random walk. */
        d->value += ((double)((now_ns >> 10) % 2001) - 1000.0) / 10000.0;
        length = snprintf(reading, sizeof(reading), "%.3f", d->value);
        payload = reading;
    }
    if (mosquitto_property_add_string_pair(&properties, MQTT_PROP_USER_PROPERTY, "t", stamp) !=
        MOSQ_ERR_SUCCESS)
        return;
    rc = mosquitto_publish_v5(d->mosq, &mid, topic, length, payload, 1, false, properties);
    mosquitto_property_free_all(&properties);
    if (rc != MOSQ_ERR_SUCCESS)
        return;
    lg->report->sent++;
    d->pending_mid[mid % PENDING_SLOTS] = mid;
    d->pending_seq[mid % PENDING_SLOTS] = seq;
    d->pending_ns[mid % PENDING_SLOTS] = now_ns;
    device_update_events(d);
}

/* Handles socket events for up to `timeout_ms`. */
static void poll_events(loadgen *lg, int timeout_ms)
{
    struct epoll_event events[EVENTS];
    int ready = epoll_wait(lg->epoll_fd, events, EVENTS, timeout_ms);

    for (int i = 0; i < ready; i++) {
        device *d = events[i].data.ptr;

        if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
            int pending = 0;

            mosquitto_loop_read(d->mosq, 1);
            /*
             * libmosquitto reads about one packet per call. The subscriber gets every
             * device's messages, so it reads on while bytes wait; falling behind would
             * let the broker's queue for it overflow (Mosquitto drops QoS 1 messages
             * past max_queued_messages, 1000 by default).
             */
            for (int k = 0; d->index < 0 && k < 4096 && mosquitto_socket(d->mosq) >= 0 &&
                            ioctl(mosquitto_socket(d->mosq), FIONREAD, &pending) == 0 &&
                            pending > 0;
                 k++)
                mosquitto_loop_read(d->mosq, 1);
        }
        if ((events[i].events & EPOLLOUT) != 0 && mosquitto_socket(d->mosq) >= 0)
            mosquitto_loop_write(d->mosq, 1);
        device_update_events(d);
    }
}

/* Keepalive work for a slice of the devices, so that all are visited about once a second. */
static void misc_slice(loadgen *lg, int *cursor, int slice)
{
    for (int k = 0; k < slice && lg->count > 0; k++) {
        device *d = &lg->devices[*cursor];

        *cursor = (*cursor + 1) % lg->count;
        if (d->mosq != NULL && mosquitto_socket(d->mosq) >= 0) {
            mosquitto_loop_misc(d->mosq);
            device_update_events(d);
        }
    }
}

/*
 * Raises the open-file limit to what `needed` descriptors take: the soft
 * limit up to the hard limit, and the hard limit too where the process may
 * (root, up to fs.nr_open). Returns the soft limit in force.
 */
static int raise_file_limit(rlim_t needed)
{
    struct rlimit limit;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return -1;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
        struct rlimit wider = {needed, needed};

        if (setrlimit(RLIMIT_NOFILE, &wider) == 0)
            limit = wider;
    }
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    return limit.rlim_cur > INT32_MAX ? INT32_MAX : (int)limit.rlim_cur;
}

verge_status net_loadgen_check(const verge_loadgen_options *options)
{
    if (options == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "net_loadgen_check: NULL argument");
    if (options->devices < 1 || options->devices > 1000000)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "devices %d outside 1..1000000",
                          options->devices);
    if (!(options->rate > 0 && options->rate <= 1000))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "rate %g messages/s per device outside (0, 1000]", options->rate);
    if (!(options->duration > 0 && options->duration <= 86400))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "duration %g s outside (0, 86400]",
                          options->duration);
    if (options->topic != NULL) {
        const char *mark = strstr(options->topic, "{device}");
        char sample[300];

        if (mark == NULL || strlen(options->topic) > 256 || strchr(options->topic, '+') != NULL ||
            strchr(options->topic, '#') != NULL ||
            (mark != options->topic && mark[-1] != '/') || (mark[8] != '\0' && mark[8] != '/'))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "topic '%s' must contain {device} as a whole level, e.g. "
                              "sensors/{device}/value, and no wildcards", options->topic);
        /* The topic as a device publishes it: valid UTF-8, no '$' start (broker topics). */
        snprintf(sample, sizeof(sample), "%.*sd00000%s", (int)(mark - options->topic),
                 options->topic, mark + 8);
        if (sample[0] == '$' || mosquitto_validate_utf8(sample, (int)strlen(sample)) !=
                                    MOSQ_ERR_SUCCESS ||
            mosquitto_pub_topic_check(sample) != MOSQ_ERR_SUCCESS)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "topic '%s' is not a topic devices can publish to (UTF-8 without "
                              "control characters, not starting with '$')", options->topic);
    }
    if (options->payload != NULL && (options->payload_size == 0 ||
                                      options->payload_size > 64u << 20))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "payload of %zu bytes outside 1..64 MiB",
                          options->payload_size);
    return VERGE_OK;
}

static void write_limit_message(loadgen *lg, int wanted)
{
    verge_loadgen_report *report = lg->report;

    if (lg->fd_exhausted > 0)
        snprintf(report->limit_message, sizeof(report->limit_message),
                 "%d of %d devices could not connect: this process's open-file limit (%d) ran "
                 "out at %d descriptors per device; raise it (ulimit -n, or LimitNOFILE= for a "
                 "service)", lg->fd_exhausted, wanted, report->open_file_limit, FDS_PER_DEVICE);
    else if (lg->refused > 0)
        snprintf(report->limit_message, sizeof(report->limit_message),
                 "%d of %d devices could not connect: the broker closed or refused them (%.60s); "
                 "check its max_connections and its own open-file limit", lg->refused, wanted,
                 lg->last_connect_error);
    else if (lg->connect_errors > 0)
        snprintf(report->limit_message, sizeof(report->limit_message),
                 "%d of %d devices could not connect: %.120s", lg->connect_errors, wanted,
                 lg->last_connect_error);
}

/*
 * Runs devices first .. first + options->devices - 1 of a fleet of `total`
 * in this process. With keep_ack, the acknowledgement latencies are moved
 * there for the caller to merge.
 */
static verge_status run_range(const verge_loadgen_options *input, int first, int total,
                              verge_loadgen_report *report, net_samples *keep_ack)
{
    verge_loadgen_options options = *input;
    loadgen lg;
    verge_status status;
    double start, now, connect_deadline, send_start, send_end, drain_end, next_misc;
    int64_t sends = 0, total_sends;
    int cursor = 0, wanted = options.devices, slice, bits_bytes;
    char id[160];

    memset(&lg, 0, sizeof(lg));
    lg.options = &options;
    lg.report = report;
    lg.epoll_fd = -1;
    lg.first_device = first;
    report->open_file_limit = raise_file_limit(0);
    report->processes = 1;
    status = net_broker_parse(options.mqtt.url, &lg.broker);
    if (status != VERGE_OK)
        return status;

    lg.expected_per_device = (int64_t)ceil(options.rate * options.duration) + 1;
    bits_bytes = (int)((lg.expected_per_device + 7) / 8);
    lg.devices = calloc((size_t)wanted, sizeof(*lg.devices));
    lg.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (lg.devices == NULL || lg.epoll_fd < 0) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot set up %d devices", wanted);
        goto cleanup;
    }
    lg.name_width = 1;
    for (int n = total - 1; n >= 10; n /= 10)
        lg.name_width++;
    if (options.mqtt.client_id != NULL)
        snprintf(lg.id_prefix, sizeof(lg.id_prefix), "%s", options.mqtt.client_id);
    else
        net_client_id("loadgen", lg.id_prefix, sizeof(lg.id_prefix));

    if (options.subscribe) {
        lg.subscriber = calloc(1, sizeof(*lg.subscriber));
        if (lg.subscriber == NULL) {
            status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate the subscriber");
            goto cleanup;
        }
        lg.subscriber->index = -1;
        snprintf(id, sizeof(id), "%s-sub", lg.id_prefix);
        status = device_start(&lg, lg.subscriber, id);
        if (status != VERGE_OK) {
            status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: the subscriber cannot connect: %s",
                                options.mqtt.url, lg.last_connect_error);
            goto cleanup;
        }
        /* Subscribe before any device sends, so that nothing is missed for lack of a subscription. */
        for (double until = net_now() + 10; !lg.subscriber->connected && !lg.subscriber->done &&
                                            net_now() < until;)
            poll_events(&lg, 50);
        if (!lg.subscriber->connected) {
            status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: the subscriber got no CONNACK: %s",
                                options.mqtt.url, lg.last_connect_error);
            goto cleanup;
        }
        for (double until = net_now() + 0.3; net_now() < until;)
            poll_events(&lg, 20);
    }

    /* Connect the devices at connect_rate, with at most MAX_CONNECTING awaiting CONNACK. */
    start = net_now();
    connect_deadline = start + wanted / options.connect_rate + 30;
    while (lg.count < wanted) {
        device *d;
        double due;

        if (options.stop != NULL && *options.stop)
            break;
        now = net_now();
        if (now > connect_deadline)
            break;
        due = start + lg.count / options.connect_rate;
        if (now < due || lg.connecting >= MAX_CONNECTING) {
            poll_events(&lg, 1);
            continue;
        }
        if (lg.fd_exhausted > 0) {
            lg.fd_exhausted += wanted - lg.count; /* the rest cannot connect either */
            break;
        }
        d = &lg.devices[lg.count];
        d->index = lg.count;
        d->acked = calloc(1, (size_t)bits_bytes);
        d->received = calloc(1, (size_t)bits_bytes);
        if (d->acked == NULL || d->received == NULL) {
            status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot track device %d", lg.count);
            goto cleanup;
        }
        d->value = 20.0 + (lg.count % 100) / 10.0;
        snprintf(id, sizeof(id), "%s-d%0*d", lg.id_prefix, lg.name_width, first + lg.count);
        lg.count++;
        status = device_start(&lg, d, id);
        if (status == VERGE_STATUS_OUT_OF_MEMORY || status == VERGE_STATUS_INVALID_ARGUMENT)
            goto cleanup;
        status = VERGE_OK;
    }
    /* Wait for the last CONNACKs. */
    for (double until = net_now() + 10; lg.connecting > 0 && net_now() < until;)
        poll_events(&lg, 10);
    report->devices_failed = wanted - report->devices_connected;
    write_limit_message(&lg, wanted);
    if (report->devices_connected == 0) {
        status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: no device could connect%s%s",
                            options.mqtt.url, report->limit_message[0] != '\0' ? ": " : "",
                            report->limit_message);
        goto cleanup;
    }

    /* Send phase. */
    total_sends = (int64_t)floor(options.rate * options.duration * lg.count + 0.5);
    send_start = net_now();
    send_end = send_start + options.duration;
    /* Keepalive work: a hundredth of the devices every 10 ms, so each about once a second. */
    slice = lg.count / 100 + 1;
    next_misc = send_start;
    while (sends < total_sends) {
        double next_due;

        if (options.stop != NULL && *options.stop)
            break;
        now = net_now();
        while (sends < total_sends &&
               send_start + (double)sends / (options.rate * lg.count) <= now) {
            device *d = &lg.devices[sends % lg.count];

            if (d->connected)
                device_send(&lg, d);
            sends++;
        }
        if (now >= next_misc) {
            misc_slice(&lg, &cursor, slice);
            next_misc += 0.01;
        }
        /* Sleep at least 1 ms: sends that fall due meanwhile go out together. */
        next_due = send_start + (double)sends / (options.rate * lg.count);
        poll_events(&lg, (int)fmax(1.0, fmin((next_due - now) * 1000.0, 10.0)));
        if (now > send_end + options.duration)
            break; /* far behind schedule: the machine cannot keep up; report what was sent */
    }
    report->send_seconds = net_now() - send_start;

    /* Drain: wait for acknowledgements and deliveries. */
    drain_end = net_now() + options.drain;
    while (net_now() < drain_end) {
        if (report->acked >= report->sent &&
            (!options.subscribe || report->received + report->duplicates >= report->acked))
            break;
        misc_slice(&lg, &cursor, slice);
        poll_events(&lg, 10);
    }
    report->lost = report->sent - report->acked;
    if (options.subscribe) {
        for (int i = 0; i < lg.count; i++)
            for (int64_t s = 0; s < lg.expected_per_device; s++)
                if (bit_get(lg.devices[i].acked, s) && !bit_get(lg.devices[i].received, s))
                    report->missing++;
    }
    if (keep_ack != NULL) {
        *keep_ack = lg.ack_latency;
        memset(&lg.ack_latency, 0, sizeof(lg.ack_latency));
    }
    report->ack_p50_ms = net_samples_quantile(&lg.ack_latency, 0.50);
    report->ack_p99_ms = net_samples_quantile(&lg.ack_latency, 0.99);
    report->ack_max_ms = net_samples_quantile(&lg.ack_latency, 1.0);
    report->delivery_p50_ms = net_samples_quantile(&lg.delivery_latency, 0.50);
    report->delivery_p99_ms = net_samples_quantile(&lg.delivery_latency, 0.99);
    report->delivery_max_ms = net_samples_quantile(&lg.delivery_latency, 1.0);
    status = VERGE_OK;

cleanup:
    for (int i = 0; lg.devices != NULL && i < lg.count; i++) {
        device *d = &lg.devices[i];

        if (d->mosq != NULL) {
            if (d->connected) {
                mosquitto_disconnect(d->mosq);
                mosquitto_loop_write(d->mosq, 1);
            }
            d->connected = false;
            d->done = true;
            mosquitto_destroy(d->mosq);
        }
        free(d->acked);
        free(d->received);
    }
    if (lg.subscriber != NULL) {
        if (lg.subscriber->mosq != NULL) {
            lg.subscriber->done = true;
            lg.subscriber->connected = false;
            mosquitto_disconnect(lg.subscriber->mosq);
            mosquitto_loop_write(lg.subscriber->mosq, 1);
            mosquitto_destroy(lg.subscriber->mosq);
        }
        free(lg.subscriber);
    }
    free(lg.devices);
    if (lg.epoll_fd >= 0)
        close(lg.epoll_fd);
    net_samples_free(&lg.ack_latency);
    net_samples_free(&lg.delivery_latency);
    return status;
}

/* What a child process sends back: its status, message, report and latency samples. */
typedef struct child_result {
    int status;
    char message[256];
    verge_loadgen_report report;
    uint64_t samples;
} child_result;

static bool write_all(int fd, const void *data, size_t size)
{
    const uint8_t *at = data;

    while (size > 0) {
        ssize_t n = write(fd, at, size);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        at += n;
        size -= (size_t)n;
    }
    return true;
}

static bool read_all(int fd, void *data, size_t size)
{
    uint8_t *at = data;

    while (size > 0) {
        ssize_t n = read(fd, at, size);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        at += n;
        size -= (size_t)n;
    }
    return true;
}

static void run_child(const verge_loadgen_options *options, int first, int count, int total,
                      int fd)
{
    verge_loadgen_options mine = *options;
    child_result result;
    net_samples ack = {0};

    memset(&result, 0, sizeof(result));
    mine.devices = count;
    mine.subscribe = false;
    result.status = (int)run_range(&mine, first, total, &result.report, &ack);
    if (result.status != VERGE_OK)
        snprintf(result.message, sizeof(result.message), "%s", verge_error_message());
    result.samples = ack.count;
    if (write_all(fd, &result, sizeof(result)))
        write_all(fd, ack.values, ack.count * sizeof(double));
    close(fd);
    _exit(0);
}

/*
 * Splits the fleet over `processes` child processes, each with its own
 * open-file limit; this process subscribes and counts deliveries.
 */
static verge_status run_split(const verge_loadgen_options *options, int processes,
                              verge_loadgen_report *report)
{
    int total = options->devices;
    loadgen lg;
    verge_loadgen_report delivered;
    net_samples ack = {0};
    pid_t *pids = calloc((size_t)processes, sizeof(*pids));
    int *pipes = calloc((size_t)processes, sizeof(*pipes));
    verge_status status = VERGE_OK;
    int64_t acked = 0;
    char id[160];

    memset(&lg, 0, sizeof(lg));
    memset(&delivered, 0, sizeof(delivered));
    lg.options = options;
    lg.report = &delivered;
    lg.epoll_fd = -1;
    if (pids == NULL || pipes == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot track %d processes", processes);
        goto cleanup;
    }
    for (int k = 0; k < processes; k++)
        pipes[k] = -1;

    if (options->subscribe) {
        int bits_bytes;

        status = net_broker_parse(options->mqtt.url, &lg.broker);
        if (status != VERGE_OK)
            goto cleanup;
        lg.expected_per_device = (int64_t)ceil(options->rate * options->duration) + 1;
        bits_bytes = (int)((lg.expected_per_device + 7) / 8);
        lg.devices = calloc((size_t)total, sizeof(*lg.devices));
        lg.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        lg.subscriber = calloc(1, sizeof(*lg.subscriber));
        if (lg.devices == NULL || lg.epoll_fd < 0 || lg.subscriber == NULL) {
            status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot set up the subscriber");
            goto cleanup;
        }
        for (int i = 0; i < total; i++) {
            lg.devices[i].index = i;
            lg.devices[i].received = calloc(1, (size_t)bits_bytes);
            if (lg.devices[i].received == NULL) {
                status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot track device %d", i);
                goto cleanup;
            }
        }
        lg.count = total;
        lg.subscriber->index = -1;
        net_client_id("loadgen", id, sizeof(id) - 4);
        strcat(id, "-sub");
        if (device_start(&lg, lg.subscriber, id) != VERGE_OK) {
            status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: the subscriber cannot connect: %s",
                                options->mqtt.url, lg.last_connect_error);
            goto cleanup;
        }
        for (double until = net_now() + 10; !lg.subscriber->connected && !lg.subscriber->done &&
                                            net_now() < until;)
            poll_events(&lg, 50);
        if (!lg.subscriber->connected) {
            status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: the subscriber got no CONNACK",
                                options->mqtt.url);
            goto cleanup;
        }
        for (double until = net_now() + 0.3; net_now() < until;)
            poll_events(&lg, 20);
    }

    for (int k = 0; k < processes; k++) {
        int first = (int)((int64_t)k * total / processes);
        int count = (int)((int64_t)(k + 1) * total / processes) - first;
        int fds[2];

        if (pipe(fds) != 0) {
            status = verge_fail(VERGE_STATUS_IO_ERROR, "cannot create a pipe: %s",
                                strerror(errno));
            goto cleanup;
        }
        fflush(NULL);
        pids[k] = fork();
        if (pids[k] == 0) {
            close(fds[0]);
            run_child(options, first, count, total, fds[1]);
        }
        close(fds[1]);
        if (pids[k] < 0) {
            close(fds[0]);
            status = verge_fail(VERGE_STATUS_IO_ERROR, "cannot start a process: %s",
                                strerror(errno));
            goto cleanup;
        }
        pipes[k] = fds[0];
        fcntl(pipes[k], F_SETFL, O_NONBLOCK);
    }

    /* Count deliveries while the children run; each reports when it is done. */
    for (int open_pipes = processes; open_pipes > 0;) {
        if (options->subscribe)
            poll_events(&lg, 10);
        else
            usleep(10000);
        for (int k = 0; k < processes; k++) {
            child_result result;
            ssize_t n;

            if (pipes[k] < 0)
                continue;
            n = read(pipes[k], &result, 1);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n == 1) {
                fcntl(pipes[k], F_SETFL, 0);
                if (read_all(pipes[k], (uint8_t *)&result + 1, sizeof(result) - 1)) {
                    for (uint64_t i = 0; i < result.samples; i++) {
                        double value;

                        if (!read_all(pipes[k], &value, sizeof(value)))
                            break;
                        net_samples_add(&ack, value);
                    }
                    if (result.status != VERGE_OK && report->limit_message[0] == '\0')
                        snprintf(report->limit_message, sizeof(report->limit_message), "%s",
                                 result.message);
                    report->devices_connected += result.report.devices_connected;
                    report->devices_failed += result.report.devices_failed;
                    report->peak_connected += result.report.peak_connected;
                    report->sent += result.report.sent;
                    report->acked += result.report.acked;
                    report->disconnects += result.report.disconnects;
                    report->open_file_limit = result.report.open_file_limit;
                    if (result.report.send_seconds > report->send_seconds)
                        report->send_seconds = result.report.send_seconds;
                    if (report->limit_message[0] == '\0')
                        snprintf(report->limit_message, sizeof(report->limit_message), "%s",
                                 result.report.limit_message);
                } else {
                    report->devices_failed += (int)((int64_t)(k + 1) * total / processes) -
                                              (int)((int64_t)k * total / processes);
                }
            }
            close(pipes[k]);
            pipes[k] = -1;
            open_pipes--;
        }
    }
    acked = report->acked;
    report->lost = report->sent - report->acked;

    if (options->subscribe) {
        for (double until = net_now() + options->drain;
             delivered.received + delivered.duplicates < acked && net_now() < until;)
            poll_events(&lg, 10);
        report->received = delivered.received;
        report->duplicates = delivered.duplicates;
        /* NOTE: counted, not matched message by message: acknowledged minus delivered. */
        report->missing = acked > delivered.received ? acked - delivered.received : 0;
        report->delivery_p50_ms = net_samples_quantile(&lg.delivery_latency, 0.50);
        report->delivery_p99_ms = net_samples_quantile(&lg.delivery_latency, 0.99);
        report->delivery_max_ms = net_samples_quantile(&lg.delivery_latency, 1.0);
    }
    report->ack_p50_ms = net_samples_quantile(&ack, 0.50);
    report->ack_p99_ms = net_samples_quantile(&ack, 0.99);
    report->ack_max_ms = net_samples_quantile(&ack, 1.0);
    if (report->devices_connected == 0)
        status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: no device could connect%s%s",
                            options->mqtt.url, report->limit_message[0] != '\0' ? ": " : "",
                            report->limit_message);

cleanup:
    for (int k = 0; pipes != NULL && k < processes; k++)
        if (pipes[k] >= 0)
            close(pipes[k]);
    for (int k = 0; pids != NULL && k < processes; k++)
        if (pids[k] > 0)
            waitpid(pids[k], NULL, 0);
    if (lg.subscriber != NULL) {
        if (lg.subscriber->mosq != NULL) {
            lg.subscriber->done = true;
            lg.subscriber->connected = false;
            mosquitto_disconnect(lg.subscriber->mosq);
            mosquitto_loop_write(lg.subscriber->mosq, 1);
            mosquitto_destroy(lg.subscriber->mosq);
        }
        free(lg.subscriber);
    }
    for (int i = 0; lg.devices != NULL && i < total; i++)
        free(lg.devices[i].received);
    free(lg.devices);
    if (lg.epoll_fd >= 0)
        close(lg.epoll_fd);
    net_samples_free(&lg.delivery_latency);
    net_samples_free(&ack);
    free(pids);
    free(pipes);
    return status;
}

verge_status verge_loadgen_run(const verge_loadgen_options *input, verge_loadgen_report *report)
{
    verge_loadgen_options options;
    verge_status status;
    int processes, per_process, limit;

    if (input == NULL || report == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_loadgen_run: NULL argument");
    memset(report, 0, sizeof(*report));
    status = net_loadgen_check(input);
    if (status != VERGE_OK)
        return status;
    options = *input;
    if (options.topic == NULL)
        options.topic = "sensors/{device}/value";
    if (options.connect_rate <= 0)
        options.connect_rate = 2000;
    if (options.drain <= 0)
        options.drain = 5;
    net_library_init();

    limit = raise_file_limit((rlim_t)(options.devices + 1) * FDS_PER_DEVICE + FD_RESERVE);
    per_process = limit > 0 ? (limit - FD_RESERVE) / FDS_PER_DEVICE - 1 : options.devices;
    if (per_process < 1)
        per_process = 1;
    processes = options.processes > 0 ? options.processes
                                       : (options.devices + per_process - 1) / per_process;
    if (processes > MAX_PROCESSES)
        processes = MAX_PROCESSES;
    if (processes > options.devices)
        processes = options.devices;
    if ((int64_t)per_process * processes < options.devices)
        verge_log(VERGE_LOG_WARNING,
                  "the open-file limit %d allows about %d devices per process (%d descriptors "
                  "each), not %d; raise it (ulimit -n, or LimitNOFILE= for a service)",
                  limit, per_process, FDS_PER_DEVICE,
                  (options.devices + processes - 1) / processes);
    if (processes <= 1)
        return run_range(&options, 0, options.devices, report, NULL);
    verge_log(VERGE_LOG_INFO, "%d devices in %d processes (open-file limit %d each)",
              options.devices, processes, limit);
    status = run_split(&options, processes, report);
    report->processes = processes;
    report->open_file_limit = limit;
    return status;
}
