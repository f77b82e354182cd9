/*
 * One broker connection driven by the caller's thread: poll() on the socket
 * and a wake-up pipe, libmosquitto's read/write/misc steps, and reconnection
 * with exponential backoff. libmosquitto's own thread is not used, so that a
 * busy worker can stop reading (leaving jobs with the broker) while it keeps
 * writing results and pings.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "core/core.h"
#include "net/net_internal.h"

enum { CONNACK_TIMEOUT_S = 10, SUBSCRIPTIONS_TRACKED = 8 };

struct verge_mqtt {
    struct mosquitto *mosq;
    net_broker broker;
    char url[300];            /* for log lines, without credentials */
    char client_id[128];
    int keepalive;
    double reconnect_min, reconnect_max, connect_timeout;
    mosquitto_property *connect_properties;
    verge_mqtt_callbacks callbacks;
    int wake[2];

    bool socket_open;         /* a TCP connection exists (CONNACK may be pending) */
    bool connected;           /* CONNACK accepted */
    bool ever_connected;
    bool stopped;             /* verge_mqtt_disconnect() was called: no more reconnects */
    double socket_opened_at;
    double next_attempt;      /* when to try connecting again */
    double backoff;
    double last_read;
    int failures;             /* attempts since the last success, for log lines */

    bool host_set;            /* the first connect call was made */
    bool refused_now;         /* the last CONNACK was a refusal */
    bool refused;             /* the broker refused us for good */
    char refusal[640];
    char last_log[256];       /* libmosquitto's last error line (TLS errors come this way) */
    int last_rc;
    struct {                  /* recent SUBSCRIBEs, to name the filter of a rejected one */
        int mid;
        char filter[256];
    } subscriptions[SUBSCRIPTIONS_TRACKED];
    int next_subscription;
};

static void on_log(struct mosquitto *mosq, void *user, int level, const char *text)
{
    verge_mqtt *m = user;

    (void)mosq;
    if ((level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) != 0)
        snprintf(m->last_log, sizeof(m->last_log), "%s", text);
}

static bool reason_is_final(int reason)
{
    switch (reason) {
    case MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION:
    case MQTT_RC_CLIENTID_NOT_VALID:
    case MQTT_RC_BAD_USERNAME_OR_PASSWORD:
    case MQTT_RC_NOT_AUTHORIZED:
    case MQTT_RC_BANNED:
    case MQTT_RC_BAD_AUTHENTICATION_METHOD:
        return true;
    default:
        return false;
    }
}

static void schedule_retry(verge_mqtt *m, const char *what)
{
    double now = net_now();

    m->failures++;
    m->next_attempt = now + m->backoff;
    /* Every failure is a warning: the backoff keeps them to one per reconnect_max at most. */
    verge_log(VERGE_LOG_WARNING, "%s: %s; retrying in %.1f s (attempt %d)", m->url, what,
              m->backoff, m->failures);
    m->backoff *= 2;
    if (m->backoff > m->reconnect_max)
        m->backoff = m->reconnect_max;
}

static void on_connect(struct mosquitto *mosq, void *user, int reason, int flags,
                       const mosquitto_property *properties)
{
    verge_mqtt *m = user;
    char text[256];

    (void)mosq;
    (void)flags;
    (void)properties;
    if (reason != 0) {
        /* libmosquitto closes the socket next and calls on_disconnect, which schedules a retry. */
        snprintf(text, sizeof(text), "broker refused the connection: %s",
                 mosquitto_reason_string(reason));
        snprintf(m->last_log, sizeof(m->last_log), "%s", text);
        m->refused_now = true;
        if (reason_is_final(reason)) {
            m->refused = true;
            snprintf(m->refusal, sizeof(m->refusal), "%s: %s (check the user name, password and "
                     "the broker's access rules)", m->url, text);
        }
        return;
    }
    if (m->ever_connected || m->failures > 0)
        verge_log(VERGE_LOG_WARNING, "%s: connected again", m->url);
    __atomic_store_n(&m->connected, true, __ATOMIC_RELEASE);
    m->ever_connected = true;
    m->failures = 0;
    m->backoff = m->reconnect_min;
    if (m->callbacks.on_connect != NULL)
        m->callbacks.on_connect(m->callbacks.user, m);
}

static void on_disconnect(struct mosquitto *mosq, void *user, int rc,
                          const mosquitto_property *properties)
{
    verge_mqtt *m = user;
    bool was_connected = m->connected;
    char text[400];

    (void)mosq;
    (void)properties;
    m->socket_open = false;
    __atomic_store_n(&m->connected, false, __ATOMIC_RELEASE);
    m->last_rc = rc;
    if (m->stopped)
        return;
    if (m->refused_now)
        was_connected = false;
    m->refused_now = false;
    if (m->refused_now)
        snprintf(text, sizeof(text), "%s", m->last_log);
    else if ((rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_ERRNO) && m->last_log[0] != '\0')
        snprintf(text, sizeof(text), "connection lost: %s", m->last_log);
    else
        snprintf(text, sizeof(text), "connection lost: %s", mosquitto_strerror(rc));
    if (was_connected) {
        m->failures = 0;
        m->backoff = m->reconnect_min;
    }
    schedule_retry(m, text);
    if (was_connected && m->callbacks.on_disconnect != NULL)
        m->callbacks.on_disconnect(m->callbacks.user, m);
}

static void on_message(struct mosquitto *mosq, void *user, const struct mosquitto_message *msg,
                       const mosquitto_property *properties)
{
    verge_mqtt *m = user;
    verge_mqtt_message message = {0};
    void *correlation = NULL;
    uint16_t correlation_size = 0;
    char *response = NULL;
    char *name = NULL, *value = NULL, *status = NULL;
    const mosquitto_property *at;

    (void)mosq;
    m->last_read = net_now();
    if (m->callbacks.on_message == NULL)
        return;
    mosquitto_property_read_binary(properties, MQTT_PROP_CORRELATION_DATA, &correlation,
                                   &correlation_size, false);
    mosquitto_property_read_string(properties, MQTT_PROP_RESPONSE_TOPIC, &response, false);
    at = mosquitto_property_read_string_pair(properties, MQTT_PROP_USER_PROPERTY, &name, &value,
                                             false);
    while (at != NULL) {
        if (status == NULL && name != NULL && strcmp(name, "status") == 0) {
            status = value;
            value = NULL;
        }
        free(name);
        free(value);
        name = value = NULL;
        at = mosquitto_property_read_string_pair(at, MQTT_PROP_USER_PROPERTY, &name, &value, true);
    }

    message.topic = msg->topic;
    message.payload = msg->payload;
    message.size = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    message.retain = msg->retain;
    message.correlation = correlation;
    message.correlation_size = correlation != NULL ? correlation_size : 0;
    message.response_topic = response;
    message.status = status;
    m->callbacks.on_message(m->callbacks.user, m, &message);
    free(correlation);
    free(response);
    free(status);
}

static void on_publish(struct mosquitto *mosq, void *user, int mid, int reason,
                       const mosquitto_property *properties)
{
    verge_mqtt *m = user;

    (void)mosq;
    (void)properties;
    if (reason >= 0x80)
        verge_log(VERGE_LOG_WARNING, "%s: broker rejected message %d: %s", m->url,
                  mid, mosquitto_reason_string(reason));
    if (m->callbacks.on_publish != NULL)
        m->callbacks.on_publish(m->callbacks.user, m, mid);
}

/* A rejected subscription is final, like a rejected connection: its messages never come. */
static void on_subscribe(struct mosquitto *mosq, void *user, int mid, int count,
                         const int *granted, const mosquitto_property *properties)
{
    verge_mqtt *m = user;
    const char *filter = "?";

    (void)mosq;
    (void)properties;
    for (int i = 0; i < SUBSCRIPTIONS_TRACKED; i++)
        if (m->subscriptions[i].mid == mid && m->subscriptions[i].filter[0] != '\0')
            filter = m->subscriptions[i].filter;
    for (int i = 0; i < count; i++) {
        if (granted[i] >= 0x80 && !m->refused) {
            m->refused = true;
            snprintf(m->refusal, sizeof(m->refusal),
                     "%s: the broker rejected the subscription to '%s': %s (check the broker's "
                     "access rules)", m->url, filter, mosquitto_reason_string(granted[i]));
        }
    }
}

void verge_mqtt_options_init(verge_mqtt_options *options)
{
    memset(options, 0, sizeof(*options));
}

verge_status verge_mqtt_create(const verge_mqtt_options *options,
                               const verge_mqtt_callbacks *callbacks, verge_mqtt **out)
{
    verge_mqtt *m;
    verge_status status;

    if (out == NULL || options == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_mqtt_create: NULL argument");
    *out = NULL;
    if (options->keepalive != 0 && (options->keepalive < 5 || options->keepalive > 65535))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "keepalive %d s outside 5..65535",
                          options->keepalive);
    net_library_init();

    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate a broker connection");
    m->wake[0] = m->wake[1] = -1;
    status = net_broker_parse(options->url, &m->broker);
    if (status != VERGE_OK)
        goto cleanup;
    snprintf(m->url, sizeof(m->url), "%s://%s%s%s:%d", m->broker.tls ? "mqtts" : "mqtt",
             strchr(m->broker.host, ':') != NULL ? "[" : "", m->broker.host,
             strchr(m->broker.host, ':') != NULL ? "]" : "", m->broker.port);
    if (options->client_id != NULL && options->client_id[0] != '\0')
        snprintf(m->client_id, sizeof(m->client_id), "%s", options->client_id);
    else
        net_client_id(options->role, m->client_id, sizeof(m->client_id));
    m->keepalive = options->keepalive > 0 ? options->keepalive : 30;
    m->reconnect_min = options->reconnect_min > 0 ? options->reconnect_min : 0.5;
    m->reconnect_max = options->reconnect_max > 0 ? options->reconnect_max : 30.0;
    if (m->reconnect_max < m->reconnect_min)
        m->reconnect_max = m->reconnect_min;
    m->backoff = m->reconnect_min;
    m->connect_timeout = options->connect_timeout;
    if (callbacks != NULL)
        m->callbacks = *callbacks;

    if (pipe(m->wake) != 0) {
        status = verge_fail(VERGE_STATUS_IO_ERROR, "cannot create a pipe: %s", strerror(errno));
        goto cleanup;
    }
    fcntl(m->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(m->wake[1], F_SETFL, O_NONBLOCK);
    fcntl(m->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(m->wake[1], F_SETFD, FD_CLOEXEC);

    m->mosq = mosquitto_new(m->client_id, true, m);
    if (m->mosq == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot create an MQTT client");
        goto cleanup;
    }
    status = net_client_configure(m->mosq, options, &m->broker);
    if (status != VERGE_OK)
        goto cleanup;
    if (options->max_packet_size > 0 &&
        mosquitto_property_add_int32(&m->connect_properties, MQTT_PROP_MAXIMUM_PACKET_SIZE,
                                     options->max_packet_size) != MOSQ_ERR_SUCCESS) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot store connect properties");
        goto cleanup;
    }
    mosquitto_connect_v5_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(m->mosq, on_message);
    mosquitto_publish_v5_callback_set(m->mosq, on_publish);
    mosquitto_subscribe_v5_callback_set(m->mosq, on_subscribe);
    mosquitto_log_callback_set(m->mosq, on_log);
    *out = m;
    return VERGE_OK;

cleanup:
    verge_mqtt_destroy(m);
    return status;
}

verge_status verge_mqtt_set_will(verge_mqtt *m, const char *topic, const void *payload,
                                 size_t size, bool retain)
{
    int rc;

    if (size > INT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "will message too large");
    rc = mosquitto_will_set_v5(m->mosq, topic, (int)size, payload, 1, retain, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "cannot set will on '%s': %s", topic,
                          mosquitto_strerror(rc));
    return VERGE_OK;
}

/* Opens the TCP (and TLS) connection and sends CONNECT; CONNACK comes through service. */
static void attempt_connect(verge_mqtt *m)
{
    int rc;

    m->last_log[0] = '\0';
    if (!m->host_set) {
        m->host_set = true;
        rc = mosquitto_connect_bind_v5(m->mosq, m->broker.host, m->broker.port, m->keepalive, NULL,
                                       m->connect_properties);
    } else {
        rc = mosquitto_reconnect(m->mosq);
    }
    m->last_rc = rc == MOSQ_ERR_SUCCESS ? -1 : rc;
    if (rc != MOSQ_ERR_SUCCESS) {
        char text[400];

        if (rc == MOSQ_ERR_TLS && m->last_log[0] != '\0')
            snprintf(text, sizeof(text), "TLS: %s", m->last_log);
        else
            snprintf(text, sizeof(text), "cannot connect: %s", net_mosquitto_error(rc));
        schedule_retry(m, text);
        return;
    }
    m->socket_open = true;
    m->socket_opened_at = net_now();
    m->last_read = m->socket_opened_at;
}

static void drain_wake(verge_mqtt *m)
{
    char bytes[64];

    while (read(m->wake[0], bytes, sizeof(bytes)) > 0)
        continue;
}

/*
 * Fills fds[0] (wake pipe) and fds[1] (socket, when open) for one poll() and
 * lowers *timeout_ms to what reconnection and keepalive need. Returns the
 * number of entries used (1 or 2).
 */
static int service_prepare(verge_mqtt *m, struct pollfd fds[2], int *timeout_ms, bool read)
{
    double now = net_now();
    int count = 1;

    if (!m->socket_open && !m->stopped && now >= m->next_attempt) {
        attempt_connect(m);
        now = net_now();
    }
    if (m->socket_open && !m->connected && now - m->socket_opened_at > CONNACK_TIMEOUT_S) {
        /* A broker that accepts TCP but never answers CONNECT. */
        mosquitto_disconnect(m->mosq);
        m->socket_open = false;
        schedule_retry(m, "no CONNACK within 10 s");
    }

    fds[0].fd = m->wake[0];
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    fds[1].fd = -1;
    fds[1].events = 0;
    fds[1].revents = 0;
    if (m->socket_open && mosquitto_socket(m->mosq) >= 0) {
        /* Read anyway now and then, so that pings are answered while a worker is saturated. */
        bool must_read = read || !m->connected || now - m->last_read > m->keepalive / 2.0;

        fds[1].fd = mosquitto_socket(m->mosq);
        fds[1].events = (short)((must_read ? POLLIN : 0) |
                                (mosquitto_want_write(m->mosq) ? POLLOUT : 0));
        count = 2;
    } else if (!m->stopped && !m->socket_open) {
        double wait_ms = (m->next_attempt - now) * 1000.0;

        if (wait_ms < *timeout_ms)
            *timeout_ms = wait_ms < 0 ? 0 : (int)wait_ms + 1;
    }
    if (m->socket_open && *timeout_ms > 1000)
        *timeout_ms = 1000; /* keepalive checks in loop_misc */
    return count;
}

/*
 * Handles what poll() reported for one connection (revents all zero after a
 * timeout): reads (callbacks run here), writes, pings.
 */
static void service_handle(verge_mqtt *m, const struct pollfd fds[2], int count)
{
    int rc;

    if ((fds[0].revents & POLLIN) != 0)
        drain_wake(m);
    if (count == 2 && m->socket_open) {
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            m->last_read = net_now();
            rc = mosquitto_loop_read(m->mosq, 1);
            if (rc != MOSQ_ERR_SUCCESS && m->socket_open && mosquitto_socket(m->mosq) < 0) {
                /* Closed without on_disconnect (not expected): follow it all the same. */
                m->socket_open = false;
                __atomic_store_n(&m->connected, false, __ATOMIC_RELEASE);
                schedule_retry(m, net_mosquitto_error(rc));
            }
        }
        if (m->socket_open && (fds[1].revents & POLLOUT) != 0)
            mosquitto_loop_write(m->mosq, 1);
    }
    if (m->socket_open) {
        /* What the callbacks queued (results, and acknowledgements when deferred) goes out now. */
        if (mosquitto_want_write(m->mosq))
            mosquitto_loop_write(m->mosq, 1);
        mosquitto_loop_misc(m->mosq);
    }
}

verge_status verge_mqtt_service(verge_mqtt *m, int timeout_ms, bool read)
{
    struct pollfd fds[2];
    int count, ready;

    if (m->refused)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s", m->refusal);
    count = service_prepare(m, fds, &timeout_ms, read);
    ready = poll(fds, (nfds_t)count, timeout_ms);
    if (ready < 0 && errno != EINTR)
        return verge_fail(VERGE_STATUS_IO_ERROR, "poll failed: %s", strerror(errno));
    service_handle(m, fds, count);
    if (m->refused)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s", m->refusal);
    return VERGE_OK;
}

verge_status net_mqtt_service_set(verge_mqtt *const *set, int count, struct pollfd *fds,
                                  int timeout_ms)
{
    int ready;

    for (int i = 0; i < count; i++) {
        if (set[i]->refused)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s", set[i]->refusal);
        service_prepare(set[i], fds + 2 * i, &timeout_ms, true);
    }
    ready = poll(fds, (nfds_t)(2 * count), timeout_ms);
    if (ready < 0 && errno != EINTR)
        return verge_fail(VERGE_STATUS_IO_ERROR, "poll failed: %s", strerror(errno));
    for (int i = 0; i < count; i++) {
        const struct pollfd *pair = fds + 2 * i;

        service_handle(set[i], pair, pair[1].fd >= 0 ? 2 : 1);
        if (set[i]->refused)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s", set[i]->refusal);
    }
    return VERGE_OK;
}

void net_mqtt_defer_writes(verge_mqtt *m)
{
    mosquitto_threaded_set(m->mosq, true);
}

verge_status verge_mqtt_connect(verge_mqtt *m, volatile sig_atomic_t *stop)
{
    double start = net_now();

    m->stopped = false;
    while (!m->connected) {
        verge_status status;

        if (stop != NULL && *stop)
            return verge_fail(VERGE_STATUS_IO_ERROR, "%s: stopped before connecting", m->url);
        if (m->connect_timeout > 0 && net_now() - start > m->connect_timeout)
            return verge_fail(VERGE_STATUS_IO_ERROR,
                              "%s: no connection within %g s%s%s (is the broker running and "
                              "reachable?)",
                              m->url, m->connect_timeout, m->last_log[0] != '\0' ? ": " : "",
                              m->last_log);
        /* A rejected certificate does not get better by retrying. */
        if (m->last_rc == MOSQ_ERR_TLS && m->failures > 0)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: TLS failed: %s", m->url,
                              m->last_log[0] != '\0' ? m->last_log : "handshake error");
        status = verge_mqtt_service(m, 200, true);
        if (status != VERGE_OK)
            return status;
    }
    return VERGE_OK;
}

void verge_mqtt_wake(verge_mqtt *m)
{
    const char byte = 1;

    if (m != NULL && write(m->wake[1], &byte, 1) < 0) {
        /* A full pipe already contains a wake-up. */
    }
}

bool verge_mqtt_connected(const verge_mqtt *m)
{
    return __atomic_load_n(&m->connected, __ATOMIC_ACQUIRE);
}

int net_mqtt_socket(const verge_mqtt *m)
{
    return m->socket_open ? mosquitto_socket(m->mosq) : -1;
}

const char *verge_mqtt_client_id(const verge_mqtt *m)
{
    return m->client_id;
}

verge_status verge_mqtt_publish(verge_mqtt *m, const char *topic, const void *payload, size_t size,
                                int qos, bool retain, const verge_mqtt_publish_options *options,
                                int *mid)
{
    mosquitto_property *properties = NULL;
    int rc = MOSQ_ERR_SUCCESS;

    if (!verge_mqtt_connected(m))
        return verge_fail(VERGE_STATUS_IO_ERROR, "%s: not connected", m->url);
    if (size > 268435455u)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "message of %zu bytes exceeds MQTT's 256 MiB", size);
    if (options != NULL) {
        if (options->response_topic != NULL)
            rc = mosquitto_property_add_string(&properties, MQTT_PROP_RESPONSE_TOPIC,
                                               options->response_topic);
        if (rc == MOSQ_ERR_SUCCESS && options->correlation != NULL) {
            if (options->correlation_size > UINT16_MAX) {
                mosquitto_property_free_all(&properties);
                return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                                  "correlation data of %zu bytes exceeds 65535",
                                  options->correlation_size);
            }
            rc = mosquitto_property_add_binary(&properties, MQTT_PROP_CORRELATION_DATA,
                                               options->correlation,
                                               (uint16_t)options->correlation_size);
        }
        if (rc == MOSQ_ERR_SUCCESS && options->status != NULL)
            rc = mosquitto_property_add_string_pair(&properties, MQTT_PROP_USER_PROPERTY, "status",
                                                    options->status);
        if (rc == MOSQ_ERR_SUCCESS && options->content_type != NULL)
            rc = mosquitto_property_add_string(&properties, MQTT_PROP_CONTENT_TYPE,
                                               options->content_type);
        if (rc != MOSQ_ERR_SUCCESS) {
            mosquitto_property_free_all(&properties);
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot build message properties");
        }
    }
    rc = mosquitto_publish_v5(m->mosq, mid, topic, (int)size, payload, qos, retain, properties);
    mosquitto_property_free_all(&properties);
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
        return verge_fail(VERGE_STATUS_IO_ERROR, "%s: not connected", m->url);
    if (rc == MOSQ_ERR_NOMEM)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot queue a message");
    if (rc != MOSQ_ERR_SUCCESS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "cannot publish to '%s': %s", topic,
                          net_mosquitto_error(rc));
    return VERGE_OK;
}

verge_status verge_mqtt_subscribe(verge_mqtt *m, const char *filter)
{
    int mid = 0;
    int rc = mosquitto_subscribe_v5(m->mosq, &mid, filter, 1, 0, NULL);

    if (rc == MOSQ_ERR_NO_CONN)
        return verge_fail(VERGE_STATUS_IO_ERROR, "%s: not connected", m->url);
    if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_MALFORMED_UTF8)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "cannot subscribe to '%s': not a valid topic filter ('+' and '#' fill "
                          "whole levels, '#' comes last)", filter);
    if (rc != MOSQ_ERR_SUCCESS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "cannot subscribe to '%s': %s", filter,
                          net_mosquitto_error(rc));
    m->subscriptions[m->next_subscription].mid = mid;
    snprintf(m->subscriptions[m->next_subscription].filter,
             sizeof(m->subscriptions[0].filter), "%s", filter);
    m->next_subscription = (m->next_subscription + 1) % SUBSCRIPTIONS_TRACKED;
    return VERGE_OK;
}

verge_status verge_mqtt_unsubscribe(verge_mqtt *m, const char *filter)
{
    int rc = mosquitto_unsubscribe_v5(m->mosq, NULL, filter, NULL);

    if (rc != MOSQ_ERR_SUCCESS)
        return verge_fail(VERGE_STATUS_IO_ERROR, "cannot unsubscribe from '%s': %s", filter,
                          net_mosquitto_error(rc));
    return VERGE_OK;
}

void verge_mqtt_disconnect(verge_mqtt *m, int timeout_ms)
{
    double deadline = net_now() + timeout_ms / 1000.0;

    if (m == NULL)
        return;
    /* Flush what is queued, then say goodbye so that the will is not published. */
    while (m->socket_open && mosquitto_want_write(m->mosq) && net_now() < deadline)
        verge_mqtt_service(m, 50, true);
    m->stopped = true;
    if (m->socket_open) {
        mosquitto_disconnect(m->mosq);
        while (m->socket_open && mosquitto_want_write(m->mosq) && net_now() < deadline)
            verge_mqtt_service(m, 50, false);
        /* Our DISCONNECT went out; the broker closes its side, and we ours. */
        mosquitto_loop_write(m->mosq, 1);
    }
    m->socket_open = false;
    __atomic_store_n(&m->connected, false, __ATOMIC_RELEASE);
}

void verge_mqtt_destroy(verge_mqtt *m)
{
    if (m == NULL)
        return;
    if (m->mosq != NULL) {
        m->stopped = true;
        mosquitto_destroy(m->mosq);
    }
    mosquitto_property_free_all(&m->connect_properties);
    if (m->wake[0] >= 0)
        close(m->wake[0]);
    if (m->wake[1] >= 0)
        close(m->wake[1]);
    free(m);
}
