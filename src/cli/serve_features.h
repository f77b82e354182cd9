/* `verge serve --features`: window features over MQTT sensor streams. */
#ifndef VERGE_CLI_SERVE_FEATURES_H
#define VERGE_CLI_SERVE_FEATURES_H

#include <signal.h>
#include <stddef.h>

#include "verge/net.h"
#include "verge/signal.h"

typedef struct serve_features_options {
    verge_mqtt_options mqtt;
    const char *topic;               /* subscription filter, e.g. sensors/+/value */
    const char *prefix;              /* output goes to PREFIX/features/TOPIC */
    verge_features_config config;    /* window, step, fill (a streaming one), feature list */
    size_t max_topics;               /* streams kept at most, one per topic */
} serve_features_options;

/*
 * Subscribes to options->topic (a valid filter: see net_topic_filter_check),
 * reads each message as one number (text; spaces, tabs and line ends around
 * it are ignored; a missing marker such as "NaN" or "" counts as a missing
 * sample), keeps a feature stream per topic and publishes each window as
 * JSON at QoS 1 until *stop. Payloads that are not numbers are counted and
 * skipped: the first five are logged, later ones summed up when their count
 * reaches 10, 100, 1000, ... and at most every 60 s, and the total is
 * printed on exit. Returns the exit status: 0 after a stop, 1 on failure
 * (also when the broker refuses the subscription).
 */
int serve_features_run(const serve_features_options *options, volatile sig_atomic_t *stop);

#endif
