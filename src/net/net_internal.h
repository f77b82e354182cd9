/*
 * Helpers shared by the net module's files: clocks, a growable text buffer
 * with JSON escaping, latency samples, broker URL parsing and libmosquitto
 * client setup. Not part of the public API.
 */
#ifndef VERGE_NET_INTERNAL_H
#define VERGE_NET_INTERNAL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>

#include "verge/net.h"

/* Seconds on the monotonic clock. */
double net_now(void);

/* Nanoseconds on the monotonic clock (shared by processes on one machine). */
int64_t net_now_ns(void);

/* A growable NUL-terminated text buffer; on allocation failure `failed` is set and appends stop. */
typedef struct net_buf {
    char *data;
    size_t length;
    size_t capacity;
    bool failed;
} net_buf;

void net_buf_append(net_buf *buf, const char *text, size_t length);
void net_buf_printf(net_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `text` as a JSON string literal, quotes included; bytes below 0x20 become \u00XX. */
void net_buf_json_string(net_buf *buf, const char *text);
void net_buf_free(net_buf *buf);

/* Latency samples in milliseconds, for percentiles. */
typedef struct net_samples {
    double *values;
    size_t count;
    size_t capacity;
} net_samples;

void net_samples_add(net_samples *samples, double value);
/* Sorts the samples and returns the q-th quantile (0..1, nearest rank), 0 when empty. */
double net_samples_quantile(net_samples *samples, double q);
void net_samples_free(net_samples *samples);

/* A parsed broker URL. */
typedef struct net_broker {
    char host[256];
    int port;
    bool tls;
    char username[256];
    char password[256];
    bool has_credentials;
} net_broker;

/* Parses mqtt://[USER:PASS@]HOST[:PORT] or mqtts://...; fails with INVALID_ARGUMENT naming the URL. */
verge_status net_broker_parse(const char *url, net_broker *broker);

/* Calls mosquitto_lib_init() once per process. */
void net_library_init(void);

/*
 * Applies MQTT v5, TCP_NODELAY, receive maximum, credentials and TLS from
 * `options` and `broker` to a new libmosquitto client.
 */
verge_status net_client_configure(struct mosquitto *mosq, const verge_mqtt_options *options,
                                  const net_broker *broker);

/* Writes a client id "verge-ROLE-HOST-PID-XXXX" into id (size >= 96). */
void net_client_id(const char *role, char *id, size_t size);

/* Text for a libmosquitto error code that includes errno for MOSQ_ERR_ERRNO. */
const char *net_mosquitto_error(int rc);

/*
 * Services `count` connections with one poll() over their sockets and wake
 * pipes, as verge_mqtt_service(mqtt, timeout_ms, true) does for one. `fds`
 * is the caller's room for 2 * count entries. Returns VERGE_OK,
 * VERGE_STATUS_IO_ERROR (poll failed) or VERGE_STATUS_INVALID_ARGUMENT (the
 * broker refused one of them for good).
 */
verge_status net_mqtt_service_set(verge_mqtt *const *set, int count, struct pollfd *fds,
                                  int timeout_ms);

/*
 * Makes libmosquitto queue everything it sends (libmosquitto's "threaded"
 * mode) so that only verge_mqtt_service() and verge_mqtt_disconnect() write,
 * after the callbacks of a read have run. libmosquitto 2.0 queues the
 * acknowledgement (PUBACK) of a QoS 1 message before its message callback
 * runs. Deferred, it leaves together with what the callback published, so a
 * worker that publishes a job's result inside the callback acknowledges the
 * job with it. Call before verge_mqtt_connect(). A publish from another thread
 * then waits for the servicing thread (verge_mqtt_wake() it).
 */
void net_mqtt_defer_writes(verge_mqtt *mqtt);

/* The connection's socket, or -1 while disconnected (tests check its options). */
int net_mqtt_socket(const verge_mqtt *mqtt);

/* Topic helpers: "PREFIX/jobs/MODEL", "PREFIX/results/CLIENT", "PREFIX/workers/ID". */
enum { NET_TOPIC_MAX = 512 };

#endif
