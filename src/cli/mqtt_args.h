/*
 * Broker options shared by `verge serve`, `verge submit` and `verge
 * loadgen`: --broker, TLS files, credentials, client id and keepalive.
 */
#ifndef VERGE_CLI_MQTT_ARGS_H
#define VERGE_CLI_MQTT_ARGS_H

#include <getopt.h>
#include <stdio.h>

#include "cli/options.h"
#include "verge/net.h"

/* getopt_long codes of the shared options; command-specific codes start below 1000. */
enum {
    MQTT_ARG_BROKER = 1000,
    MQTT_ARG_CAFILE,
    MQTT_ARG_CAPATH,
    MQTT_ARG_CERT,
    MQTT_ARG_KEY,
    MQTT_ARG_INSECURE,
    MQTT_ARG_USERNAME,
    MQTT_ARG_PASSWORD,
    MQTT_ARG_CLIENT_ID,
    MQTT_ARG_KEEPALIVE,
};

/* Entries for a getopt_long table, to place before its terminating NULL entry. */
#define MQTT_ARGS_LONG_OPTIONS                                       \
    {"broker", required_argument, NULL, MQTT_ARG_BROKER},           \
    {"cafile", required_argument, NULL, MQTT_ARG_CAFILE},           \
    {"capath", required_argument, NULL, MQTT_ARG_CAPATH},           \
    {"cert", required_argument, NULL, MQTT_ARG_CERT},               \
    {"key", required_argument, NULL, MQTT_ARG_KEY},                 \
    {"insecure", no_argument, NULL, MQTT_ARG_INSECURE},             \
    {"username", required_argument, NULL, MQTT_ARG_USERNAME},       \
    {"password", required_argument, NULL, MQTT_ARG_PASSWORD},       \
    {"client-id", required_argument, NULL, MQTT_ARG_CLIENT_ID},     \
    {"keepalive", required_argument, NULL, MQTT_ARG_KEEPALIVE}

/*
 * Applies one shared option. Returns 1 when `code` is one of them (0 when
 * it is not, -1 after printing a message for a bad value).
 */
int mqtt_args_handle(const char *command, int code, const char *value, verge_mqtt_options *options);

/*
 * Checks that --broker was given, fills the password from
 * $VERGE_MQTT_PASSWORD when --username came without --password, and checks
 * the broker URL, keepalive and TLS files (without connecting). Records the
 * URL for mqtt_args_shown_url(). Returns 0, or -1 after printing a message
 * (a usage error: exit status 2).
 */
int mqtt_args_finish(const char *command, verge_mqtt_options *options);

/* Prints the help lines of the shared options. */
void mqtt_args_help(FILE *out);

/*
 * The broker URL as it may be printed: its password replaced by "***" (see
 * verge_uri_redact()). Valid after mqtt_args_finish() has run, "" before.
 */
const char *mqtt_args_shown_url(void);

/*
 * Prints "COMMAND: MESSAGE" and a line end on stderr, with every copy of the
 * --broker URL in MESSAGE shown as mqtt_args_shown_url(): library messages
 * quote the URL as given, password included.
 */
void mqtt_args_print_error(const char *command, const char *message);

/*
 * A verge_log callback that writes "COMMAND: [error: |warning: ]message"
 * lines, the broker URL shown as in mqtt_args_print_error(); user is the
 * command name.
 */
void cli_log_to_stderr(verge_log_level level, const char *message, void *user);

#endif
