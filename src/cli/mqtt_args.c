#include <stdlib.h>
#include <string.h>

#include "cli/mqtt_args.h"
#include "verge/media.h"

/* The --broker URL as given, and as it may be printed; both set by mqtt_args_finish(). */
static const char *given_url;
static char shown_url[2048];

/*
 * Stores `url` and its printable form. verge_uri_redact() ends the user
 * information at the first '/', '?' or '#', but the broker URL parser reads
 * up to the last '@', so a password that contains one of them is hidden here.
 */
static void record_url(const char *url)
{
    const char *rest = strstr(url, "://"), *at, *colon;

    given_url = url;
    verge_uri_redact(url, shown_url, sizeof(shown_url));
    if (rest == NULL || strcmp(shown_url, url) != 0)
        return;
    rest += 3;
    at = strrchr(rest, '@');
    colon = at != NULL ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
    if (colon != NULL && colon + 1 < at)
        snprintf(shown_url, sizeof(shown_url), "%.*s***%s", (int)(colon + 1 - url), url, at);
}

const char *mqtt_args_shown_url(void)
{
    return shown_url;
}

/* Writes `text` to `out` with each copy of the given URL replaced by the shown one. */
static void put_redacted(FILE *out, const char *text)
{
    const char *at;

    if (given_url == NULL || given_url[0] == '\0' || strcmp(given_url, shown_url) == 0) {
        fputs(text, out);
        return;
    }
    while ((at = strstr(text, given_url)) != NULL) {
        fwrite(text, 1, (size_t)(at - text), out);
        fputs(shown_url, out);
        text = at + strlen(given_url);
    }
    fputs(text, out);
}

void mqtt_args_print_error(const char *command, const char *message)
{
    flockfile(stderr);
    fprintf(stderr, "%s: ", command);
    put_redacted(stderr, message);
    fputc('\n', stderr);
    funlockfile(stderr);
}

int mqtt_args_handle(const char *command, int code, const char *value, verge_mqtt_options *options)
{
    long long number;

    switch (code) {
    case MQTT_ARG_BROKER: options->url = value; return 1;
    case MQTT_ARG_CAFILE: options->ca_file = value; return 1;
    case MQTT_ARG_CAPATH: options->ca_path = value; return 1;
    case MQTT_ARG_CERT: options->cert_file = value; return 1;
    case MQTT_ARG_KEY: options->key_file = value; return 1;
    case MQTT_ARG_INSECURE: options->tls_insecure = true; return 1;
    case MQTT_ARG_USERNAME: options->username = value; return 1;
    case MQTT_ARG_PASSWORD: options->password = value; return 1;
    case MQTT_ARG_CLIENT_ID: options->client_id = value; return 1;
    case MQTT_ARG_KEEPALIVE:
        if (cli_parse_integer(command, value, "--keepalive", 5, 65535, &number) != 0)
            return -1;
        options->keepalive = (int)number;
        return 1;
    default:
        return 0;
    }
}

static void drop_log(verge_log_level level, const char *message, void *user)
{
    (void)level;
    (void)message;
    (void)user;
}

int mqtt_args_finish(const char *command, verge_mqtt_options *options)
{
    verge_mqtt *mqtt;
    verge_status status;

    if (options->url == NULL) {
        fprintf(stderr, "%s: --broker mqtt://HOST[:PORT] is required\n", command);
        return -1;
    }
    record_url(options->url);
    if (options->username != NULL && options->password == NULL)
        options->password = getenv("VERGE_MQTT_PASSWORD");
    /*
     * A connection object checks the URL, keepalive and TLS files without
     * connecting. Its warnings are dropped, because the real connection logs
     * them again. The commands set their own log callback after parsing, so
     * restoring the default one here loses nothing.
     */
    mqtt = NULL;
    verge_log_set_callback(drop_log, NULL, VERGE_LOG_ERROR);
    status = verge_mqtt_create(options, NULL, &mqtt);
    verge_log_set_callback(NULL, NULL, VERGE_LOG_WARNING);
    if (status != VERGE_OK) {
        mqtt_args_print_error(command, verge_error_message());
        return -1;
    }
    verge_mqtt_destroy(mqtt);
    return 0;
}

void mqtt_args_help(FILE *out)
{
    fprintf(out,
            "broker options:\n"
            "  --broker URL       mqtt://HOST[:PORT] (default port 1883) or mqtts://HOST[:PORT]\n"
            "                     (TLS, default port 8883); required\n"
            "  --username NAME    user name for the broker\n"
            "  --password TEXT    its password; the environment variable VERGE_MQTT_PASSWORD\n"
            "                     keeps it out of the process list (ps)\n"
            "  --cafile FILE      mqtts: trusted CA certificates (PEM); default: the system's\n"
            "  --capath DIR       mqtts: folder of hashed CA certificates\n"
            "  --cert FILE        mqtts: client certificate (PEM), with --key FILE\n"
            "  --key FILE\n"
            "  --insecure         mqtts: do not check the broker's host name (testing only)\n"
            "  --client-id ID     MQTT client id (default: verge-COMMAND-HOST-PID-RANDOM)\n"
            "  --keepalive S      seconds between keepalive pings, 5..65535\n");
}

void cli_log_to_stderr(verge_log_level level, const char *message, void *user)
{
    const char *command = user;
    const char *prefix = "";

    if (level >= VERGE_LOG_ERROR)
        prefix = "error: ";
    else if (level == VERGE_LOG_WARNING)
        prefix = "warning: ";
    /* Worker threads log too: one lock keeps each line whole. */
    flockfile(stderr);
    fprintf(stderr, "%s: %s", command, prefix);
    put_redacted(stderr, message);
    fputc('\n', stderr);
    funlockfile(stderr);
}
