/*
 * `verge loadgen --broker URL --devices N --rate R --duration S`: plays a
 * fleet of N devices, each its own MQTT connection, publishing at R
 * messages per second for S seconds at QoS 1, and reports connections,
 * messages sent / acknowledged / lost and latency percentiles.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/mqtt_args.h"
#include "net/net_checks.h"
#include "verge/net.h"

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: verge loadgen --broker URL [--devices N] [--rate R] [--duration S] [options]\n"
            "\n"
            "Simulates N devices, each with its own MQTT connection, publishing R messages\n"
            "per second each for S seconds at QoS 1 (a sensor reading, or --payload FILE).\n"
            "Prints a report on stderr and the same as one JSON line on stdout. Exit status\n"
            "0 when every device connected and no message was lost, 1 otherwise, 2 on a\n"
            "usage error (reported before anything connects).\n"
            "\n"
            "options:\n"
            "  --devices N        simulated devices (default 100)\n"
            "  --rate R           messages per second per device (default 1)\n"
            "  --duration S       seconds of sending after all devices connected (default 10)\n"
            "  --topic T          topic with {device} as one level (default\n"
            "                     sensors/{device}/value)\n"
            "  --payload FILE     send FILE's bytes (e.g. a JPEG) instead of a reading\n"
            "  --subscribe        also subscribe to all device topics and measure delivery:\n"
            "                     received, duplicates, acknowledged but never delivered\n"
            "  --connect-rate R   new connections per second while ramping up (default 2000)\n"
            "  --drain S          seconds to wait for late acknowledgements (default 5)\n"
            "  --processes N      split the devices over N processes (default: as many as the\n"
            "                     open-file limit needs, each device taking 3 descriptors)\n"
            "\n"
            "loadgen raises its open-file limit as far as it may. A device takes 3 descriptors\n"
            "here (libmosquitto opens a socket pair per client) and 1 in the broker (see the\n"
            "broker's max_connections and its own open-file limit).\n"
            "\n");
    mqtt_args_help(out);
}

static unsigned char *read_payload(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    unsigned char *bytes = NULL;
    long length;

    if (file == NULL)
        return NULL;
    if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) > 0 && length <= (64L << 20) &&
        fseek(file, 0, SEEK_SET) == 0) {
        bytes = malloc((size_t)length);
        if (bytes != NULL && fread(bytes, 1, (size_t)length, file) == (size_t)length) {
            *size = (size_t)length;
        } else {
            free(bytes);
            bytes = NULL;
        }
    }
    fclose(file);
    return bytes;
}

static const char usage_line[] =
    "usage: verge loadgen --broker URL [--devices N] [--rate R] [--duration S] [options]; see "
    "--help\n";

/* Returns 0, 1 for --help, or -1 after printing a usage error. */
static int parse_options(int argc, char **argv, verge_loadgen_options *options,
                         const char **payload_path)
{
    enum { OPT_DEVICES = 256, OPT_RATE, OPT_DURATION, OPT_TOPIC, OPT_PAYLOAD, OPT_SUBSCRIBE,
           OPT_CONNECT_RATE, OPT_DRAIN, OPT_PROCESSES, OPT_HELP };
    static const struct option long_options[] = {
        {"devices", required_argument, NULL, OPT_DEVICES},
        {"rate", required_argument, NULL, OPT_RATE},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"payload", required_argument, NULL, OPT_PAYLOAD},
        {"subscribe", no_argument, NULL, OPT_SUBSCRIBE},
        {"connect-rate", required_argument, NULL, OPT_CONNECT_RATE},
        {"drain", required_argument, NULL, OPT_DRAIN},
        {"processes", required_argument, NULL, OPT_PROCESSES},
        {"help", no_argument, NULL, OPT_HELP},
        MQTT_ARGS_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *command = "verge loadgen";
    long long count;
    double value;
    int option, handled;

    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "+:h", long_options, NULL)) != -1) {
        handled = mqtt_args_handle(command, option, optarg, &options->mqtt);
        if (handled < 0)
            return -1;
        if (handled > 0)
            continue;
        switch (option) {
        case OPT_DEVICES:
            if (cli_parse_integer(command, optarg, "--devices", 1, 1000000, &count) != 0)
                return -1;
            options->devices = (int)count;
            break;
        case OPT_RATE:
            if (cli_parse_number(command, optarg, "--rate", 0.001, 1000, &value) != 0)
                return -1;
            options->rate = value;
            break;
        case OPT_DURATION:
            if (cli_parse_number(command, optarg, "--duration", 0.1, 86400, &value) != 0)
                return -1;
            options->duration = value;
            break;
        case OPT_TOPIC: options->topic = optarg; break;
        case OPT_PAYLOAD: *payload_path = optarg; break;
        case OPT_SUBSCRIBE: options->subscribe = true; break;
        case OPT_CONNECT_RATE:
            if (cli_parse_number(command, optarg, "--connect-rate", 1, 1e6, &value) != 0)
                return -1;
            options->connect_rate = value;
            break;
        case OPT_DRAIN:
            if (cli_parse_number(command, optarg, "--drain", 0.1, 3600, &value) != 0)
                return -1;
            options->drain = value;
            break;
        case OPT_PROCESSES:
            if (cli_parse_integer(command, optarg, "--processes", 1, 64, &count) != 0)
                return -1;
            options->processes = (int)count;
            break;
        case OPT_HELP:
        case 'h':
            return 1;
        case ':':
            fprintf(stderr, "%s: option %s needs a value\n", command, argv[optind - 1]);
            return -1;
        default:
            cli_report_unknown_option(command, argv);
            return -1;
        }
    }
    if (cli_check_positional(command, argc, argv, optind, 0, "") != 0)
        return -1;
    return mqtt_args_finish(command, &options->mqtt);
}

int verge_cmd_loadgen(int argc, char **argv)
{
    const char *command = "verge loadgen";
    verge_loadgen_options options;
    verge_loadgen_report report;
    unsigned char *payload = NULL;
    const char *payload_path = NULL;
    verge_status status;
    int parsed, result = 1;

    memset(&options, 0, sizeof(options));
    verge_mqtt_options_init(&options.mqtt);
    options.devices = 100;
    options.rate = 1;
    options.duration = 10;
    parsed = parse_options(argc, argv, &options, &payload_path);
    if (parsed == 1) {
        print_help(stdout);
        return 0;
    }
    if (parsed != 0) {
        fputs(usage_line, stderr);
        return 2;
    }
    if (payload_path != NULL) {
        payload = read_payload(payload_path, &options.payload_size);
        if (payload == NULL) {
            fprintf(stderr, "%s: cannot read --payload %s (1 byte to 64 MiB)\n", command,
                    payload_path);
            return 2;
        }
        options.payload = payload;
    }
    if (net_loadgen_check(&options) != VERGE_OK) {
        mqtt_args_print_error(command, verge_error_message());
        fputs(usage_line, stderr);
        free(payload);
        return 2;
    }

    verge_log_set_callback(cli_log_to_stderr, (void *)"verge loadgen", VERGE_LOG_WARNING);
    cli_catch_stop_signals();
    options.stop = &cli_stop_requested;
    options.mqtt.role = "loadgen";

    fprintf(stderr, "verge loadgen: connecting %d %s to %s\n", options.devices,
            cli_plural(options.devices, "device", "devices"), mqtt_args_shown_url());
    status = verge_loadgen_run(&options, &report);
    if (status != VERGE_OK) {
        mqtt_args_print_error(command, verge_error_message());
        free(payload);
        return 1;
    }
    fprintf(stderr,
            "verge loadgen: %lld of %d %s connected (%d %s, open-file limit %d%s), %lld "
            "disconnected while sending\n"
            "  sent %lld, acknowledged %lld, lost %lld in %.2f s (%.0f messages/s)\n"
            "  publish to PUBACK: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
            (long long)report.devices_connected + report.disconnects, options.devices,
            cli_plural(options.devices, "device", "devices"), report.processes,
            cli_plural(report.processes, "process", "processes"), report.open_file_limit,
            report.processes == 1 ? "" : " each", (long long)report.disconnects,
            (long long)report.sent,
            (long long)report.acked, (long long)report.lost, report.send_seconds,
            report.send_seconds > 0 ? (double)report.sent / report.send_seconds : 0.0,
            report.ack_p50_ms, report.ack_p99_ms, report.ack_max_ms);
    if (options.subscribe)
        fprintf(stderr,
                "  received %lld, duplicates %lld, acknowledged but not delivered %lld\n"
                "  publish to delivery: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
                (long long)report.received, (long long)report.duplicates,
                (long long)report.missing, report.delivery_p50_ms, report.delivery_p99_ms,
                report.delivery_max_ms);
    if (report.limit_message[0] != '\0')
        mqtt_args_print_error(command, report.limit_message);

    printf("{\"devices\":%d,\"connected\":%lld,\"failed\":%lld,\"disconnects\":%lld,"
           "\"processes\":%d,\"open_file_limit\":%d,\"rate\":%g,\"duration\":%g,\"sent\":%lld,\"acked\":%lld,"
           "\"lost\":%lld,\"send_seconds\":%.3f,\"ack_ms\":{\"p50\":%.3f,\"p99\":%.3f,"
           "\"max\":%.3f}",
           options.devices, (long long)(report.devices_connected + report.disconnects),
           (long long)report.devices_failed, (long long)report.disconnects, report.processes,
           report.open_file_limit,
           options.rate, options.duration, (long long)report.sent, (long long)report.acked,
           (long long)report.lost, report.send_seconds, report.ack_p50_ms, report.ack_p99_ms,
           report.ack_max_ms);
    if (options.subscribe)
        printf(",\"received\":%lld,\"duplicates\":%lld,\"missing\":%lld,\"delivery_ms\":{"
               "\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
               (long long)report.received, (long long)report.duplicates,
               (long long)report.missing, report.delivery_p50_ms, report.delivery_p99_ms,
               report.delivery_max_ms);
    printf("}\n");
    fflush(stdout);

    result = report.devices_failed == 0 && report.lost == 0 && report.disconnects == 0 &&
                     report.missing == 0
                 ? 0
                 : 1;
    free(payload);
    return result;
}
