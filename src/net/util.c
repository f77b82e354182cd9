#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "net/net_internal.h"

double net_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t net_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool buf_reserve(net_buf *buf, size_t extra)
{
    size_t need, capacity;
    char *grown;

    if (buf->failed)
        return false;
    if (!verge_size_add(buf->length, extra, &need) || !verge_size_add(need, 1, &need)) {
        buf->failed = true;
        return false;
    }
    if (need <= buf->capacity)
        return true;
    capacity = buf->capacity > 0 ? buf->capacity : 256;
    while (capacity < need) {
        if (capacity > SIZE_MAX / 2) {
            buf->failed = true;
            return false;
        }
        capacity *= 2;
    }
    grown = realloc(buf->data, capacity);
    if (grown == NULL) {
        buf->failed = true;
        return false;
    }
    buf->data = grown;
    buf->capacity = capacity;
    return true;
}

void net_buf_append(net_buf *buf, const char *text, size_t length)
{
    if (!buf_reserve(buf, length))
        return;
    memcpy(buf->data + buf->length, text, length);
    buf->length += length;
    buf->data[buf->length] = '\0';
}

void net_buf_printf(net_buf *buf, const char *fmt, ...)
{
    va_list args;
    int length;

    va_start(args, fmt);
    length = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (length < 0 || !buf_reserve(buf, (size_t)length))
        return;
    va_start(args, fmt);
    vsnprintf(buf->data + buf->length, (size_t)length + 1, fmt, args);
    va_end(args);
    buf->length += (size_t)length;
}

void net_buf_json_string(net_buf *buf, const char *text)
{
    net_buf_append(buf, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        char escaped[8];

        switch (*p) {
        case '"': net_buf_append(buf, "\\\"", 2); break;
        case '\\': net_buf_append(buf, "\\\\", 2); break;
        case '\n': net_buf_append(buf, "\\n", 2); break;
        case '\r': net_buf_append(buf, "\\r", 2); break;
        case '\t': net_buf_append(buf, "\\t", 2); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(escaped, sizeof(escaped), "\\u%04x", *p);
                net_buf_append(buf, escaped, 6);
            } else {
                net_buf_append(buf, (const char *)p, 1);
            }
        }
    }
    net_buf_append(buf, "\"", 1);
}

void net_buf_free(net_buf *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

void net_samples_add(net_samples *samples, double value)
{
    if (samples->count == samples->capacity) {
        size_t capacity = samples->capacity > 0 ? samples->capacity * 2 : 1024;
        double *grown = realloc(samples->values, capacity * sizeof(*grown));

        if (grown == NULL)
            return; /* a lost sample only blurs a percentile */
        samples->values = grown;
        samples->capacity = capacity;
    }
    samples->values[samples->count++] = value;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double net_samples_quantile(net_samples *samples, double q)
{
    size_t rank;

    if (samples->count == 0)
        return 0.0;
    qsort(samples->values, samples->count, sizeof(double), compare_doubles);
    rank = (size_t)(q * (double)samples->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > samples->count)
        rank = samples->count;
    return samples->values[rank - 1];
}

void net_samples_free(net_samples *samples)
{
    free(samples->values);
    memset(samples, 0, sizeof(*samples));
}

verge_status net_broker_parse(const char *url, net_broker *broker)
{
    const char *rest, *at, *host_end, *port_text = NULL;
    size_t host_length;

    memset(broker, 0, sizeof(*broker));
    if (url == NULL || url[0] == '\0')
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "no broker given: use --broker mqtt://HOST[:PORT]");
    if (strncmp(url, "mqtt://", 7) == 0) {
        rest = url + 7;
        broker->port = 1883;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        rest = url + 8;
        broker->port = 8883;
        broker->tls = true;
    } else {
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "broker URL '%s' must start with mqtt:// or mqtts://", url);
    }

    at = strrchr(rest, '@');
    if (at != NULL) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t user_length = colon != NULL ? (size_t)(colon - rest) : (size_t)(at - rest);
        size_t pass_length = colon != NULL ? (size_t)(at - colon - 1) : 0;

        if (user_length == 0 || user_length >= sizeof(broker->username) ||
            pass_length >= sizeof(broker->password))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "broker URL: user name must have 1..255 characters, password "
                              "at most 255");
        memcpy(broker->username, rest, user_length);
        if (colon != NULL)
            memcpy(broker->password, colon + 1, pass_length);
        broker->has_credentials = true;
        rest = at + 1;
    }

    if (rest[0] == '[') {
        host_end = strchr(rest, ']');
        if (host_end == NULL)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "broker URL '%s': '[' of an IPv6 address without ']'", url);
        rest++;
        host_length = (size_t)(host_end - rest);
        host_end++;
    } else {
        host_end = rest + strcspn(rest, ":/");
        host_length = (size_t)(host_end - rest);
    }
    if (host_length == 0 || host_length >= sizeof(broker->host))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "broker URL '%s' has no host", url);
    memcpy(broker->host, rest, host_length);

    if (*host_end == ':') {
        char *end;
        long port;

        port_text = host_end + 1;
        errno = 0;
        port = strtol(port_text, &end, 10);
        if (errno != 0 || end == port_text || port < 1 || port > 65535 ||
            (*end != '\0' && strcmp(end, "/") != 0))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "broker URL '%s': port must be a number in 1..65535", url);
        broker->port = (int)port;
    } else if (*host_end != '\0' && strcmp(host_end, "/") != 0) {
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "broker URL '%s': unexpected '%s' after the host", url, host_end);
    }
    return VERGE_OK;
}

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void library_init_once(void)
{
    mosquitto_lib_init();
}

void net_library_init(void)
{
    pthread_once(&library_once, library_init_once);
}

const char *net_mosquitto_error(int rc)
{
    if (rc == MOSQ_ERR_ERRNO)
        return strerror(errno);
    return mosquitto_strerror(rc);
}

static verge_status file_readable(const char *what, const char *path)
{
    if (path != NULL && access(path, R_OK) != 0)
        return verge_fail(errno == ENOENT ? VERGE_STATUS_NOT_FOUND : VERGE_STATUS_IO_ERROR,
                          "%s %s: %s", what, path, strerror(errno));
    return VERGE_OK;
}

verge_status net_client_configure(struct mosquitto *mosq, const verge_mqtt_options *options,
                                  const net_broker *broker)
{
    const char *username = options->username != NULL ? options->username
                           : broker->has_credentials ? broker->username : NULL;
    const bool system_store = options->ca_file == NULL && options->ca_path == NULL;
    const char *ca_path = options->ca_path;
    const char *password = options->username != NULL ? options->password
                           : broker->has_credentials ? broker->password : NULL;
    int rc;

    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (options->receive_maximum > 0 &&
        mosquitto_int_option(mosq, MOSQ_OPT_RECEIVE_MAXIMUM, options->receive_maximum) !=
            MOSQ_ERR_SUCCESS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "receive maximum %d outside 1..65535",
                          options->receive_maximum);
    if (username != NULL && mosquitto_username_pw_set(mosq, username, password) != MOSQ_ERR_SUCCESS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "invalid user name or password");

    if (!broker->tls) {
        if (options->ca_file != NULL || options->cert_file != NULL)
            verge_log(VERGE_LOG_WARNING,
                      "%s: certificate options are ignored without TLS (use mqtts://)",
                      options->url);
        return VERGE_OK;
    }
    if (file_readable("CA file", options->ca_file) != VERGE_OK ||
        file_readable("client certificate", options->cert_file) != VERGE_OK ||
        file_readable("client key", options->key_file) != VERGE_OK)
        return verge_fail_prefix(VERGE_STATUS_NOT_FOUND, "%s", options->url);
    if ((options->cert_file == NULL) != (options->key_file == NULL))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "a client certificate needs both --cert and --key");
    if (system_store) {
        rc = mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
        if (rc != MOSQ_ERR_SUCCESS)
            return verge_fail(VERGE_STATUS_UNSUPPORTED,
                              "%s: cannot use the system's CA certificates: %s; give --cafile",
                              options->url, mosquitto_strerror(rc));
        /*
         * The system's store alone turns TLS on. mosquitto_tls_set(), needed
         * for a client certificate, rejects a call without a CA file or
         * folder, so it gets the system's folder, which OpenSSL reads anyway.
         */
        ca_path = getenv("SSL_CERT_DIR") != NULL ? getenv("SSL_CERT_DIR") : "/etc/ssl/certs";
    }
    if (!system_store || options->cert_file != NULL) {
        rc = mosquitto_tls_set(mosq, options->ca_file, ca_path, options->cert_file,
                               options->key_file, NULL);
        if (rc != MOSQ_ERR_SUCCESS)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: TLS setup failed: %s",
                              options->url, mosquitto_strerror(rc));
    }
    if (options->tls_insecure)
        mosquitto_tls_insecure_set(mosq, true);
    return VERGE_OK;
}

void net_client_id(const char *role, char *id, size_t size)
{
    char host[64] = "host";
    unsigned random = 0;
    FILE *urandom = fopen("/dev/urandom", "rb");

    if (urandom != NULL) {
        if (fread(&random, sizeof(random), 1, urandom) != 1)
            random = (unsigned)net_now_ns();
        fclose(urandom);
    } else {
        random = (unsigned)net_now_ns();
    }
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-'))
            *p = '-';
    snprintf(id, size, "verge-%s-%s-%d-%04x", role != NULL ? role : "client", host, (int)getpid(),
             random & 0xffff);
}
