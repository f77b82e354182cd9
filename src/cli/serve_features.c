/*
 * `verge serve --features`: window features over sensor streams. Subscribes
 * to a topic filter, keeps one feature stream (verge/signal.h) per topic,
 * and publishes each window's features as JSON to PREFIX/features/TOPIC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/mqtt_args.h"
#include "cli/options.h"
#include "cli/serve_features.h"
#include "core/core.h"
#include "verge/net.h"
#include "verge/signal.h"

enum { MAX_READING_BYTES = 64, WARNINGS_LOGGED = 5 };

/* Seconds between summaries of skipped messages at most (summaries also come at 10, 100, ...). */
static const double SKIP_REPORT_S = 60.0;

/* Messages skipped for one reason: the first few are logged, later ones summed up. */
typedef struct skip_counter {
    const char *what;         /* "payloads that are not numbers" */
    int64_t count;
    int64_t reported;         /* count at the last log line */
    double last_report;       /* monotonic seconds */
    char last_topic[256];
} skip_counter;

typedef struct topic_stream {
    char *topic;
    verge_features_stream *stream;
    struct features_node *node;
} topic_stream;

typedef struct features_node {
    const serve_features_options *options;
    verge_mqtt *mqtt;
    topic_stream *table;      /* open addressing by topic hash */
    size_t capacity;
    size_t count;
    char column_names[VERGE_FEATURES_MAX * 4][48];
    size_t columns;
    int64_t readings, windows, publish_failures;
    skip_counter invalid, refused;
    verge_status failure;     /* VERGE_OK, or why the node must stop (a subscription failed) */
    char failure_text[512];
} features_node;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool power_of_ten(int64_t n)
{
    while (n >= 10 && n % 10 == 0)
        n /= 10;
    return n == 1;
}

static void skip_summary(skip_counter *counter, double now)
{
    verge_log(VERGE_LOG_WARNING, "%lld %s skipped so far (%lld since the last report; the "
              "last on %s)", (long long)counter->count, counter->what,
              (long long)(counter->count - counter->reported), counter->last_topic);
    counter->reported = counter->count;
    counter->last_report = now;
}

/* Counts a skipped message; logs `detail` for the first few, then summaries (see SKIP_REPORT_S). */
static void skip_note(skip_counter *counter, const char *topic, const char *detail)
{
    snprintf(counter->last_topic, sizeof(counter->last_topic), "%s", topic);
    counter->count++;
    if (counter->count <= WARNINGS_LOGGED) {
        verge_log(VERGE_LOG_WARNING, "%s: %s%s", topic, detail,
                  counter->count == WARNINGS_LOGGED
                      ? " (further ones are counted and summed up now and then)" : "");
        counter->reported = counter->count;
        counter->last_report = now_s();
    } else if (power_of_ten(counter->count)) {
        skip_summary(counter, now_s());
    }
}

/* Logs a summary when messages were skipped since the last line and SKIP_REPORT_S passed. */
static void skip_report_due(skip_counter *counter, double now)
{
    if (counter->count > counter->reported && now - counter->last_report >= SKIP_REPORT_S)
        skip_summary(counter, now);
}

/* The payload without the spaces, tabs and line ends around it ("4\n", "\r\n 7 \r\n"). */
static void trim_payload(const char **text, size_t *size)
{
    static const char space[] = " \t\r\n\v\f";

    while (*size > 0 && strchr(space, (*text)[0]) != NULL) {
        (*text)++;
        (*size)--;
    }
    while (*size > 0 && strchr(space, (*text)[*size - 1]) != NULL)
        (*size)--;
}

static uint64_t hash_topic(const char *topic)
{
    uint64_t hash = 1469598103934665603u; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)topic; *p != '\0'; p++)
        hash = (hash ^ *p) * 1099511628211u;
    return hash;
}

/* Publishes each row of a block as {"topic":T,"window":W,"end":E,"mean":...}. */
static verge_status publish_rows(void *user, const verge_features_block *block)
{
    topic_stream *entry = user;
    features_node *node = entry->node;
    char topic[1024];
    char number[VERGE_DOUBLE_TEXT_MAX];

    snprintf(topic, sizeof(topic), "%s/features/%s", node->options->prefix, entry->topic);
    for (size_t row = 0; row < block->rows; row++) {
        char text[4096];
        size_t used = 0;

        used += (size_t)snprintf(text + used, sizeof(text) - used,
                                 "{\"topic\":\"%s\",\"window\":%llu,\"end\":%llu", entry->topic,
                                 (unsigned long long)(block->first_window + row),
                                 (unsigned long long)(block->first_end + row * block->step));
        for (size_t c = 0; c < block->columns && used < sizeof(text); c++) {
            double value = block->values[row * block->columns + c];

            if (value != value || value - value != 0) {
                snprintf(number, sizeof(number), "null"); /* NaN or inf: not JSON numbers */
            } else {
                verge_format_double(value, number);
            }
            used += (size_t)snprintf(text + used, sizeof(text) - used, ",\"%s\":%s",
                                     node->column_names[c], number);
        }
        if (used + 2 > sizeof(text))
            return verge_fail(VERGE_STATUS_INTERNAL, "feature row too long");
        text[used++] = '}';
        text[used] = '\0';
        if (verge_mqtt_publish(node->mqtt, topic, text, used, 1, false, NULL, NULL) != VERGE_OK)
            node->publish_failures++;
        node->windows++;
    }
    return VERGE_OK;
}

/* Finds or creates the stream of `topic`; NULL when the table is full or memory ran out. */
static topic_stream *stream_for(features_node *node, const char *topic)
{
    size_t mask = node->capacity - 1, at = hash_topic(topic) & mask;
    topic_stream *entry;

    while (node->table[at].topic != NULL) {
        if (strcmp(node->table[at].topic, topic) == 0)
            return &node->table[at];
        at = (at + 1) & mask;
    }
    if (node->count >= node->options->max_topics)
        return NULL;
    entry = &node->table[at];
    entry->topic = strdup(topic);
    entry->node = node;
    if (entry->topic == NULL ||
        verge_features_stream_create(&node->options->config, publish_rows, entry,
                                     &entry->stream) != VERGE_OK) {
        free(entry->topic);
        entry->topic = NULL;
        return NULL;
    }
    node->count++;
    return entry;
}

static void on_connect(void *user, verge_mqtt *mqtt)
{
    features_node *node = user;
    verge_status status = verge_mqtt_subscribe(mqtt, node->options->topic);

    /* Without its subscription the node would idle forever: stop it. */
    if (status != VERGE_OK && node->failure == VERGE_OK) {
        node->failure = status;
        snprintf(node->failure_text, sizeof(node->failure_text), "%s", verge_error_message());
    }
}

static void on_message(void *user, verge_mqtt *mqtt, const verge_mqtt_message *message)
{
    features_node *node = user;
    topic_stream *entry;
    double value;
    verge_number_kind kind = VERGE_NUMBER_INVALID;
    const char *text = message->payload;
    size_t size = message->size;
    char detail[128];

    (void)mqtt;
    /* Our own output may match a broad filter such as '#'. */
    if (strncmp(message->topic, node->options->prefix, strlen(node->options->prefix)) == 0 &&
        strncmp(message->topic + strlen(node->options->prefix), "/features/", 10) == 0)
        return;
    if (size <= MAX_READING_BYTES) {
        trim_payload(&text, &size);
        kind = verge_parse_double(text, size, &value);
    }
    if (kind == VERGE_NUMBER_INVALID) {
        snprintf(detail, sizeof(detail), "payload of %zu %s is not a number, skipped",
                 message->size, cli_plural((long long)message->size, "byte", "bytes"));
        skip_note(&node->invalid, message->topic, detail);
        return;
    }
    entry = stream_for(node, message->topic);
    if (entry == NULL) {
        snprintf(detail, sizeof(detail), "not tracked: already %zu %s (raise --max-topics)",
                 node->count, cli_plural((long long)node->count, "topic", "topics"));
        skip_note(&node->refused, message->topic, detail);
        return;
    }
    node->readings++;
    if (verge_features_stream_push(entry->stream, &value, 1) != VERGE_OK)
        verge_log(VERGE_LOG_ERROR, "%s: %s", message->topic, verge_error_message());
}

int serve_features_run(const serve_features_options *options, volatile sig_atomic_t *stop)
{
    verge_mqtt_callbacks callbacks = {on_connect, NULL, on_message, NULL, NULL};
    features_node node;
    verge_mqtt_options mqtt_options = options->mqtt;
    int result = 1;

    memset(&node, 0, sizeof(node));
    node.options = options;
    node.invalid.what = "payloads that are not numbers";
    node.refused.what = "messages of topics not tracked (--max-topics)";
    callbacks.user = &node;
    node.columns = verge_features_columns(&options->config);
    if (node.columns > VERGE_FEATURES_MAX * 4)
        node.columns = VERGE_FEATURES_MAX * 4;
    for (size_t c = 0; c < node.columns; c++)
        verge_features_column_name(&options->config, c, node.column_names[c],
                                   sizeof(node.column_names[c]));
    for (node.capacity = 64; node.capacity < options->max_topics * 2;)
        node.capacity *= 2;
    node.table = calloc(node.capacity, sizeof(*node.table));
    if (node.table == NULL) {
        fprintf(stderr, "verge serve: cannot track %zu %s\n", options->max_topics,
                cli_plural((long long)options->max_topics, "topic", "topics"));
        return 1;
    }

    mqtt_options.role = "features";
    if (verge_mqtt_create(&mqtt_options, &callbacks, &node.mqtt) != VERGE_OK ||
        verge_mqtt_connect(node.mqtt, stop) != VERGE_OK) {
        if (!*stop) {
            mqtt_args_print_error("verge serve", verge_error_message());
            goto done;
        }
    }
    if (!*stop && node.failure == VERGE_OK)
        verge_log(VERGE_LOG_INFO, "features of %s ready, publishing to %s/features/...",
                  options->topic, options->prefix);
    while (!*stop) {
        double now;

        if (node.failure != VERGE_OK) {
            mqtt_args_print_error("verge serve", node.failure_text);
            goto done;
        }
        if (verge_mqtt_service(node.mqtt, 200, true) != VERGE_OK) {
            mqtt_args_print_error("verge serve", verge_error_message());
            goto done;
        }
        now = now_s();
        skip_report_due(&node.invalid, now);
        skip_report_due(&node.refused, now);
    }
    verge_mqtt_disconnect(node.mqtt, 2000);
    result = 0;

done:
    fprintf(stderr, "verge serve: %lld %s from %zu %s, %lld %s published, %lld invalid %s, %lld "
                    "%s not tracked\n",
            (long long)node.readings, cli_plural(node.readings, "reading", "readings"),
            node.count, cli_plural((long long)node.count, "topic", "topics"),
            (long long)node.windows, cli_plural(node.windows, "window", "windows"),
            (long long)node.invalid.count, cli_plural(node.invalid.count, "payload", "payloads"),
            (long long)node.refused.count,
            cli_plural(node.refused.count, "topic", "topics"));
    for (size_t i = 0; i < node.capacity; i++) {
        free(node.table[i].topic);
        verge_features_stream_destroy(node.table[i].stream);
    }
    free(node.table);
    verge_mqtt_destroy(node.mqtt);
    return result;
}
