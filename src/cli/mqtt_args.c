#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mqtt_args.h"

int cli_parse_number(const char *command, const char *text, const char *option, double min,
                     double max, double *value)
{
    char *end;

    errno = 0;
    *value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(*value >= min && *value <= max)) {
        fprintf(stderr, "%s: invalid value '%s' for %s: expected a number in %g..%g\n", command,
                text, option, min, max);
        return -1;
    }
    return 0;
}

int cli_parse_bytes(const char *command, const char *text, const char *option, size_t *value)
{
    char *end;
    double number, scale = 1;

    errno = 0;
    number = strtod(text, &end);
    if (end != text && (*end == 'K' || *end == 'k'))
        scale = 1024, end++;
    else if (end != text && (*end == 'M' || *end == 'm'))
        scale = 1024.0 * 1024, end++;
    else if (end != text && (*end == 'G' || *end == 'g'))
        scale = 1024.0 * 1024 * 1024, end++;
    number *= scale;
    if (errno != 0 || end == text || *end != '\0' || !(number >= 1 && number <= 268435455.0)) {
        fprintf(stderr, "%s: invalid value '%s' for %s: expected 1 to 256M bytes (suffix K, M)\n",
                command, text, option);
        return -1;
    }
    *value = (size_t)floor(number);
    return 0;
}

int mqtt_args_handle(const char *command, int code, const char *value, verge_mqtt_options *options)
{
    double number;

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
        if (cli_parse_number(command, value, "--keepalive", 5, 65535, &number) != 0)
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
        fprintf(stderr, "%s: %s\n", command, verge_error_message());
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

    if (level >= VERGE_LOG_ERROR)
        fprintf(stderr, "%s: error: %s\n", command, message);
    else if (level == VERGE_LOG_WARNING)
        fprintf(stderr, "%s: warning: %s\n", command, message);
    else
        fprintf(stderr, "%s: %s\n", command, message);
}
