/*
 * Distributed work over an MQTT v5 broker: the job envelope, the broker
 * connection, a worker that takes jobs from a shared subscription, a client
 * that submits jobs and collects their results, and a load generator that
 * plays a fleet of devices. The broker (Mosquitto, or any MQTT v5 broker
 * cluster) is the distributed engine; verge nodes are its clients. The
 * transport is libmosquitto. docs/distributed.md describes the same from the
 * user's side.
 *
 * Topics (PREFIX is "verge" unless options say otherwise):
 *
 *     PREFIX/jobs/MODEL          jobs for MODEL; workers subscribe to
 *                                $share/GROUP/PREFIX/jobs/MODEL, so the broker hands
 *                                each job to one worker of the group
 *     PREFIX/results/CLIENT      a submitter's results (the jobs' response topic)
 *     PREFIX/workers/WORKER      a worker's presence: a retained JSON object while it
 *                                runs, cleared (empty retained message) when it stops
 *                                or dies (its will)
 *
 * MODEL is the model file's base name without ".tflite"
 * (face_detection_short_range); names are 1..128 characters of
 * [A-Za-z0-9._-], so they never contain MQTT wildcards or separators.
 *
 * Every message is QoS 1. A job carries its id as MQTT v5 correlation data
 * and names its response topic; the worker publishes the result there with
 * the same correlation data. The submitter re-publishes a job whose result
 * has not arrived within the job timeout and drops duplicate results, so
 * each job yields exactly one result line although the broker delivers at
 * least once.
 *
 * Threads: a verge_mqtt connection is serviced from one thread;
 * verge_mqtt_wake(), verge_mqtt_connected() and verge_mqtt_publish() may
 * be called from any thread (libmosquitto serializes socket writes). The run functions block the
 * calling thread until they finish or *stop becomes non-zero.
 */
#ifndef VERGE_NET_H
#define VERGE_NET_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Job envelope ------------------------------------------------------- */

/*
 * A job is a small binary envelope (all integers little-endian):
 *
 *     offset  size  field
 *     0       4     magic "VJOB"
 *     4       1     version, 1
 *     5       1     kind: 1 = image bytes in the body, 2 = URI or path in the body
 *     6       1     nms: 0 = weighted, 1 = hard
 *     7       1     id length I, 1..VERGE_JOB_ID_MAX
 *     8       1     model length M, 1..VERGE_JOB_MODEL_MAX
 *     9       1     reserved, 0
 *     10      2     source length S, 0..VERGE_JOB_SOURCE_MAX
 *     12      4     score threshold, float32 in 0..1
 *     16      4     IoU threshold, float32 in 0..1
 *     20      4     body length B, >= 1
 *     24      I     job id: [A-Za-z0-9._:-]
 *     24+I    M     model name: [A-Za-z0-9._-]
 *     ..      S     source name shown in the result (file name or URI), UTF-8, no control bytes
 *     ..      B     body: the encoded image (kind 1) or the URI, no control bytes (kind 2)
 *
 * and nothing after the body. Binary rather than JSON because the body is an
 * encoded image of up to megabytes: JSON would need base64 (a third larger,
 * plus an encode and a decode pass), while this header costs 24 bytes and
 * one bounds-checked pass. Results are JSON (see verge_worker_run()), because
 * they are small and printed as they are.
 */
enum {
    VERGE_JOB_HEADER_SIZE = 24,
    VERGE_JOB_ID_MAX = 64,
    VERGE_JOB_MODEL_MAX = 128,
    VERGE_JOB_SOURCE_MAX = 4096,
    VERGE_JOB_URI_MAX = 4096,
};

typedef enum verge_job_kind {
    VERGE_JOB_IMAGE = 1, /* the body is an encoded image (or a short video) */
    VERGE_JOB_URI = 2,   /* the body is a path or URI that the worker opens */
} verge_job_kind;

/* A job; when it comes from verge_job_decode(), its pointers point into the envelope. */
typedef struct verge_job {
    verge_job_kind kind;
    const char *id;        /* NUL-terminated copies (see verge_job_decode) */
    const char *model;
    const char *source;    /* "" when the envelope has none */
    float score;           /* 0..1 */
    float iou;             /* 0..1 */
    int nms;               /* 0 weighted, 1 hard */
    const uint8_t *body;
    size_t body_size;
} verge_job;

/* Returns true when `name` is a valid model name (1..VERGE_JOB_MODEL_MAX of [A-Za-z0-9._-]). */
bool verge_job_model_name_valid(const char *name);

/* Returns true when `id` is a valid job id (1..VERGE_JOB_ID_MAX of [A-Za-z0-9._:-]). */
bool verge_job_id_valid(const char *id);

/*
 * Writes the model name for a model file path into `name` (capacity
 * VERGE_JOB_MODEL_MAX + 1): the base name without a ".tflite" extension.
 * Returns VERGE_OK or VERGE_STATUS_INVALID_ARGUMENT when the result is not a
 * valid model name (the message names the character).
 */
verge_status verge_job_model_name(const char *path, char *name, size_t size);

/*
 * Encodes `job` into a new buffer (free() it) of *size bytes. Returns
 * VERGE_OK, VERGE_STATUS_INVALID_ARGUMENT (a field out of its range, named in
 * the message) or VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_job_encode(const verge_job *job, uint8_t **envelope, size_t *size);

/* Room verge_job_decode() needs for the NUL-terminated id, model and source. */
typedef struct verge_job_strings {
    char id[VERGE_JOB_ID_MAX + 1];
    char model[VERGE_JOB_MODEL_MAX + 1];
    char source[VERGE_JOB_SOURCE_MAX + 1];
} verge_job_strings;

/*
 * Decodes `size` bytes of untrusted envelope. Every length is checked
 * against the bytes present before it is used. On success *job's strings
 * point into *strings and its body into `data`. Returns VERGE_OK or
 * VERGE_STATUS_INVALID_DATA with a message naming the field and value
 * ("job envelope: id length 0 ..."), VERGE_STATUS_UNSUPPORTED for an unknown
 * version or kind.
 */
verge_status verge_job_decode(const void *data, size_t size, verge_job *job,
                              verge_job_strings *strings);

/* ---- Broker connection -------------------------------------------------- */

typedef struct verge_mqtt_options {
    /*
     * "mqtt://HOST[:PORT]" (TCP, port 1883) or "mqtts://HOST[:PORT]" (TLS,
     * port 8883). HOST may be a name, an IPv4 address or [IPv6]. A
     * "USER:PASSWORD@" before HOST sets the credentials too.
     */
    const char *url;
    const char *client_id;   /* NULL: generated, "verge-ROLE-HOST-PID-RANDOM" */
    const char *username;    /* NULL: none (or the URL's) */
    const char *password;
    const char *ca_file;     /* mqtts: PEM file of trusted CAs; NULL with ca_path NULL: the system's */
    const char *ca_path;     /* mqtts: folder of hashed CA certificates */
    const char *cert_file;   /* mqtts: client certificate (PEM), with key_file */
    const char *key_file;
    bool tls_insecure;       /* mqtts: do not check the server's host name (tests only) */
    int keepalive;           /* seconds, 5..65535; 0 selects 30 */
    int receive_maximum;     /* QoS 1 messages the broker may have unacknowledged, 1..65535; 0: 65535 */
    uint32_t max_packet_size; /* largest packet the broker may send us; 0: no limit */
    double reconnect_min;    /* first retry delay in seconds after a failure; 0 selects 0.5 */
    double reconnect_max;    /* the delay doubles up to this; 0 selects 30 */
    double connect_timeout;  /* verge_mqtt_connect() gives up after this many seconds; 0: never */
    const char *role;        /* word used in generated client ids: "serve", "submit", ... */
} verge_mqtt_options;

/* Fills *options with the defaults above (url NULL). */
void verge_mqtt_options_init(verge_mqtt_options *options);

/* A received message; valid during the callback only. */
typedef struct verge_mqtt_message {
    const char *topic;
    const void *payload;
    size_t size;
    bool retain;
    const void *correlation;     /* MQTT v5 correlation data, NULL when absent */
    size_t correlation_size;
    const char *response_topic;  /* NULL when absent */
    const char *status;          /* user property "status" ("ok", "error"), NULL when absent */
} verge_mqtt_message;

/* Properties of an outgoing message; any field may be NULL / 0. */
typedef struct verge_mqtt_publish_options {
    const char *response_topic;
    const void *correlation;
    size_t correlation_size;     /* <= 65535 */
    const char *status;          /* sent as user property "status" */
    const char *content_type;
} verge_mqtt_publish_options;

typedef struct verge_mqtt verge_mqtt;

typedef struct verge_mqtt_callbacks {
    /* After every successful (re)connection: subscribe here. */
    void (*on_connect)(void *user, verge_mqtt *mqtt);
    /* After the connection was lost; the connection retries by itself. */
    void (*on_disconnect)(void *user, verge_mqtt *mqtt);
    void (*on_message)(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message);
    /* The broker acknowledged our QoS 1 message `mid`. */
    void (*on_publish)(void *user, verge_mqtt *mqtt, int mid);
    void *user;
} verge_mqtt_callbacks;

/*
 * Creates a connection (not yet connected). Sets TCP_NODELAY (without it a
 * request/response round trip on loopback takes 40-90 ms instead of a
 * fraction of one), MQTT v5, clean start, TLS and credentials from `options`. Returns VERGE_OK, VERGE_STATUS_INVALID_ARGUMENT (bad URL or option,
 * named), VERGE_STATUS_NOT_FOUND (a certificate file is missing) or
 * VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_mqtt_create(const verge_mqtt_options *options,
                               const verge_mqtt_callbacks *callbacks, verge_mqtt **mqtt);

/*
 * Sets the message the broker publishes on our behalf when the connection
 * dies without a DISCONNECT (QoS 1). Call before verge_mqtt_connect().
 */
verge_status verge_mqtt_set_will(verge_mqtt *mqtt, const char *topic, const void *payload,
                                 size_t size, bool retain);

/*
 * Connects and waits for the broker's CONNACK. An unreachable broker is
 * retried with exponential backoff (each failure logged as a warning,
 * sleeping in between, never spinning) until options.connect_timeout passes or *stop
 * becomes non-zero (stop may be NULL). Returns VERGE_OK,
 * VERGE_STATUS_IO_ERROR (gave up, or stopped), or
 * VERGE_STATUS_INVALID_ARGUMENT when the broker refused us for good (bad
 * credentials, not authorized, TLS certificate rejected).
 */
verge_status verge_mqtt_connect(verge_mqtt *mqtt, volatile sig_atomic_t *stop);

/*
 * Runs the connection for up to `timeout_ms` milliseconds: waits for the
 * socket (reading only when `read` is true, so that a busy worker leaves
 * jobs with the broker), for verge_mqtt_wake() or for the timeout; handles
 * what arrived (callbacks run here), writes what is queued, sends keepalive
 * pings, and reconnects a lost connection with backoff. Returns VERGE_OK or
 * VERGE_STATUS_INVALID_ARGUMENT when the broker refused a reconnection for
 * good or rejected a subscription (SUBACK with a failure reason).
 */
verge_status verge_mqtt_service(verge_mqtt *mqtt, int timeout_ms, bool read);

/* Makes a verge_mqtt_service() in progress on another thread return early. Thread-safe. */
void verge_mqtt_wake(verge_mqtt *mqtt);

/* True while the connection is up (CONNACK received, not lost since). */
bool verge_mqtt_connected(const verge_mqtt *mqtt);

/* The client id in use (generated or given). */
const char *verge_mqtt_client_id(const verge_mqtt *mqtt);

/*
 * Queues a QoS 1 message (qos 0 or 1) and writes it at once when the socket
 * takes it. Thread-safe. *mid (may be NULL) receives its id
 * for on_publish. Returns VERGE_OK, VERGE_STATUS_IO_ERROR when not
 * connected (nothing is queued), VERGE_STATUS_INVALID_ARGUMENT (bad topic,
 * payload over 256 MiB) or VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_mqtt_publish(verge_mqtt *mqtt, const char *topic, const void *payload,
                                size_t size, int qos, bool retain,
                                const verge_mqtt_publish_options *options, int *mid);

/* Subscribes to a topic filter at QoS 1. Returns like verge_mqtt_publish(). */
verge_status verge_mqtt_subscribe(verge_mqtt *mqtt, const char *filter);

/* Unsubscribes from a topic filter. */
verge_status verge_mqtt_unsubscribe(verge_mqtt *mqtt, const char *filter);

/*
 * Sends DISCONNECT after the queued messages (for up to `timeout_ms`), so
 * that the broker does not publish the will. The connection does not
 * reconnect afterwards.
 */
void verge_mqtt_disconnect(verge_mqtt *mqtt, int timeout_ms);

/* Closes the connection and frees it. NULL is allowed. */
void verge_mqtt_destroy(verge_mqtt *mqtt);

/* ---- Worker ------------------------------------------------------------- */

/*
 * Runs one job on a handler thread. `job` has been decoded and checked (its
 * model is one the worker serves). On success the handler stores in *result
 * a malloc'ed NUL-terminated JSON object on one line that starts with
 * {"job":"ID", and returns VERGE_OK; on failure it returns the status with
 * verge_fail(), and the worker publishes an error result with that message.
 */
typedef verge_status (*verge_job_handler)(void *thread_state, const verge_job *job,
                                          char **result);

typedef struct verge_worker_options {
    verge_mqtt_options mqtt;
    const char *prefix;          /* topic prefix; NULL: "verge" */
    const char *group;           /* shared-subscription group; NULL: "verge" */
    const char *const *models;   /* model names served (see verge_job_model_name) */
    int num_models;              /* 1..16 */
    int threads;                 /* handler threads, 1..256 */
    int concurrency;             /* jobs held at once, threads..256: one connection each */
    size_t max_payload;          /* larger jobs get an error result without decoding; 0: 16 MiB */
    /* mqtt.max_packet_size stays 0 unless set: see verge_worker_run(). */
    /* Creates one handler thread's state (e.g. a model interpreter); NULL return fails the start. */
    void *(*thread_create)(void *user, int index);
    void (*thread_destroy)(void *user, void *state);
    verge_job_handler handle;
    void *user;
} verge_worker_options;

typedef struct verge_worker_stats {
    int64_t jobs;        /* results published */
    int64_t errors;      /* of which error results */
    int64_t dropped;     /* jobs without a response topic: nobody to answer */
    int64_t reconnects;
} verge_worker_stats;

/*
 * Serves jobs until *stop becomes non-zero. The worker opens `concurrency`
 * job slots, each a broker connection of its own (client id WORKER-0,
 * WORKER-1, ...) with an MQTT receive maximum of 1 that subscribes to
 * $share/GROUP/PREFIX/jobs/MODEL for every model, plus a control connection
 * (client id WORKER) that carries the worker's presence and will. Slot i
 * belongs to handler thread i % threads, which reads the slot's job, runs
 * it and publishes the result (QoS 1) to the job's response topic with the
 * job's correlation data and the user property status=ok|error. A job's
 * acknowledgement (PUBACK) leaves together with its result, so the broker
 * sends a slot its next job only after the result: the worker holds at most
 * `concurrency` jobs, each running or waiting unread in its slot while the
 * slot's thread runs another. A result that is an error reads
 *
 *     {"job":"ID","source":"NAME","error":"MESSAGE","status":"invalid data"}
 *
 * Jobs with a malformed envelope, an unknown model, a payload over
 * max_payload, or a handler failure get such a result; the worker goes on.
 * Jobs of any size up to MQTT's 256 MiB reach the worker (and are held in
 * memory once) unless mqtt.max_packet_size is set; cap them at the broker
 * (Mosquitto: message_size_limit), because a job that the broker drops for
 * exceeding a client's maximum packet size gets no answer at all. Each
 * connection takes 5 file descriptors; the soft open-file limit is raised
 * towards the hard one when they need it.
 *
 * When *stop becomes non-zero the worker unsubscribes and finishes the jobs
 * it holds and those the broker had already queued for its slots (until
 * none came for 0.2 s, at most 30 s). Then it clears its presence and
 * disconnects.
 * Returns VERGE_OK after such a stop, VERGE_STATUS_IO_ERROR when a first
 * connection could not be made, VERGE_STATUS_INVALID_ARGUMENT for bad
 * options or a refusal by the broker, VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_worker_run(const verge_worker_options *options, volatile sig_atomic_t *stop,
                              verge_worker_stats *stats);

/* ---- Submitting client -------------------------------------------------- */

/* One job for verge_client_run(): the envelope is made when the job is first sent. */
typedef struct verge_client_job {
    verge_job_kind kind;
    const char *source;    /* file path (kind IMAGE: read when sent) or URI (kind URI) */
} verge_client_job;

typedef struct verge_client_options {
    verge_mqtt_options mqtt;
    const char *prefix;          /* NULL: "verge" */
    const char *model;           /* model name */
    float score, iou;
    int nms;
    int window;                  /* jobs in flight at once, 1..65535; 0 selects 64 */
    double job_timeout;          /* seconds before a job is sent again; 0 selects 30 */
    int max_attempts;            /* sends per job before it fails; 0 selects 10 */
    double wait_workers;         /* seconds to wait for a worker of the model; 0 selects 10 */
    size_t max_payload;          /* larger files fail without being sent; 0: 16 MiB */
    /*
     * Called once per job, in the order results arrive, with the result line
     * (a JSON object, no newline) and whether it is an error result.
     */
    void (*on_result)(void *user, size_t index, const char *line, size_t length, bool error);
    void *user;
} verge_client_options;

typedef struct verge_client_stats {
    int64_t jobs;          /* jobs given */
    int64_t ok;            /* results without error */
    int64_t failed;        /* error results, local failures and jobs that ran out of attempts */
    int64_t answered;      /* results that came from a worker (ok or error) */
    int64_t retries;       /* sends after the first */
    int64_t duplicates;    /* results dropped because the job already had one */
    int64_t reconnects;
    double p50_ms, p99_ms, max_ms; /* first send to result, over answered jobs */
    double seconds;        /* wall time from the start of the run (connecting) to the last result */
} verge_client_stats;

/*
 * Sends the jobs and waits for one result per job. Returns VERGE_OK when
 * every job has its result (some may be errors: see stats->failed),
 * VERGE_STATUS_IO_ERROR when the broker could not be reached at first (every
 * job then gets an error result naming the broker) or *stop was raised,
 * VERGE_STATUS_INVALID_ARGUMENT for bad options. *stats is always written.
 */
verge_status verge_client_run(const verge_client_options *options, const verge_client_job *jobs,
                              size_t count, volatile sig_atomic_t *stop, verge_client_stats *stats);

/* ---- Load generator ----------------------------------------------------- */

typedef struct verge_loadgen_options {
    verge_mqtt_options mqtt;     /* client_id is used as a prefix for the devices' ids */
    int devices;                 /* 1..1000000 */
    double rate;                 /* messages per second per device, > 0 */
    double duration;             /* seconds of sending, after every device connected */
    double connect_rate;         /* new connections per second while ramping up; 0 selects 2000 */
    const char *topic;           /* with "{device}" for the device's name; NULL: "sensors/{device}/value" */
    const void *payload;         /* bytes sent by every device (an image); NULL: a sensor reading */
    size_t payload_size;
    bool subscribe;              /* also subscribe to every device topic and measure delivery */
    double drain;                /* seconds to wait for acks and deliveries after sending; 0 selects 5 */
    int processes;               /* processes to split the devices over; 0: as the open-file limit needs */
    volatile sig_atomic_t *stop; /* may be NULL */
} verge_loadgen_options;

typedef struct verge_loadgen_report {
    int64_t devices_connected;   /* that got CONNACK */
    int64_t devices_failed;      /* that could not connect (see limit_message) */
    int64_t peak_connected;
    int64_t sent, acked, lost;   /* lost = sent - acked after the drain */
    int64_t received, duplicates, missing; /* with subscribe: deliveries, repeats, acked never delivered */
    int64_t disconnects;         /* connections the broker closed while sending */
    double ack_p50_ms, ack_p99_ms, ack_max_ms;          /* publish to PUBACK */
    double delivery_p50_ms, delivery_p99_ms, delivery_max_ms; /* publish to delivery (subscribe) */
    double send_seconds;         /* time spent in the sending phase */
    int open_file_limit;         /* RLIMIT_NOFILE soft limit in force (per process) */
    int processes;               /* processes the devices ran in */
    char limit_message[256];     /* why devices could not connect, "" when all did */
} verge_loadgen_report;

/*
 * Connects options->devices MQTT clients (each its own TCP connection, one
 * thread and epoll per process), then each publishes at `rate` for
 * `duration` seconds at QoS 1, with its sequence number and send time in a
 * user property. Each device takes 3 file descriptors (its socket and the
 * socket pair libmosquitto 2.0 opens per client). The open-file limit is
 * raised as far as allowed first; when it still cannot hold every device,
 * the devices are split over child processes (fork), each with its own
 * limit, and this process only subscribes (counting missing messages as
 * acknowledged minus delivered). When the limit or the broker
 * (max_connections, refused connections) stops devices from connecting,
 * limit_message says which and the run goes on with the devices that did
 * connect. Returns VERGE_OK, VERGE_STATUS_IO_ERROR when no device
 * could connect, VERGE_STATUS_INVALID_ARGUMENT for bad options.
 */
verge_status verge_loadgen_run(const verge_loadgen_options *options, verge_loadgen_report *report);

#ifdef __cplusplus
}
#endif

#endif
