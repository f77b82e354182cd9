/*
 * `verge submit --broker URL --model MODEL SOURCE...`: sends one detection
 * job per source to the workers behind the broker and prints one JSON line
 * per result as results arrive (verge detect's schema plus "job"), then a
 * summary on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/mqtt_args.h"
#include "verge/net.h"

typedef struct submit_options {
    verge_client_options client;
    char model[VERGE_JOB_MODEL_MAX + 1];
    const char *model_arg;
    const char *list_path;
    bool by_reference;
} submit_options;

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: verge submit --broker URL --model MODEL SOURCE... [options]\n"
            "\n"
            "Sends one detection job per SOURCE to the workers (verge serve) of MODEL and\n"
            "prints one JSON line per result as it arrives, in verge detect's schema with a\n"
            "\"job\" field; failed jobs print {\"job\",\"source\",\"error\",\"status\"}. A job whose\n"
            "result is late is sent again; duplicate results are dropped, so every job prints\n"
            "exactly one line. A summary goes to stderr. Exit status 0 when every job\n"
            "succeeded, 1 otherwise, 2 on a usage error (reported before anything connects).\n"
            "\n"
            "SOURCE is an image file (its bytes are sent) or a URI with a scheme (rtsp://...,\n"
            "http://...), which the worker opens itself (it must allow it with --allow-uri).\n"
            "\n"
            "options:\n"
            "  --model NAME       model name or file (face_detection_short_range.tflite)\n"
            "  --list FILE        read more sources from FILE, one per line ('-': stdin)\n"
            "  --by-reference     send file paths instead of file contents (workers must\n"
            "                     see the same files and allow them with --allow-uri)\n"
            "  --score P          minimum detection score, 0..1 (default 0.5)\n"
            "  --iou T            NMS overlap threshold, 0..1 (default 0.3)\n"
            "  --nms NAME         weighted (default) or hard\n"
            "  --job-timeout S    send a job again when its result is not back after S\n"
            "                     seconds (default 30)\n"
            "  --max-attempts N   sends per job before it fails (default 10)\n"
            "  --window N         jobs in flight at once (default 64)\n"
            "  --wait-workers S   fail when no worker of MODEL shows up within S seconds\n"
            "                     (default 10)\n"
            "  --connect-timeout S  give up when the broker cannot be reached for S seconds\n"
            "                     (default 30)\n"
            "  --max-payload B    files above B bytes fail without being sent (default 16M;\n"
            "                     K, M suffixes)\n"
            "  --prefix NAME      topic prefix (default verge)\n"
            "\n");
    mqtt_args_help(out);
}

static int parse_options(int argc, char **argv, submit_options *options)
{
    enum { OPT_MODEL = 256, OPT_LIST, OPT_BY_REFERENCE, OPT_SCORE, OPT_IOU, OPT_NMS,
           OPT_JOB_TIMEOUT, OPT_MAX_ATTEMPTS, OPT_WINDOW, OPT_WAIT_WORKERS, OPT_CONNECT_TIMEOUT,
           OPT_MAX_PAYLOAD, OPT_PREFIX, OPT_HELP };
    static const struct option long_options[] = {
        {"model", required_argument, NULL, OPT_MODEL},
        {"list", required_argument, NULL, OPT_LIST},
        {"by-reference", no_argument, NULL, OPT_BY_REFERENCE},
        {"score", required_argument, NULL, OPT_SCORE},
        {"iou", required_argument, NULL, OPT_IOU},
        {"nms", required_argument, NULL, OPT_NMS},
        {"job-timeout", required_argument, NULL, OPT_JOB_TIMEOUT},
        {"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"wait-workers", required_argument, NULL, OPT_WAIT_WORKERS},
        {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
        {"max-payload", required_argument, NULL, OPT_MAX_PAYLOAD},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"help", no_argument, NULL, OPT_HELP},
        MQTT_ARGS_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *command = "verge submit";
    verge_client_options *client = &options->client;
    long long count;
    double value;
    int option, handled;

    optind = 1;
    opterr = 0;
    /* No "+": sources and options may be mixed. */
    while ((option = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        handled = mqtt_args_handle(command, option, optarg, &client->mqtt);
        if (handled < 0)
            return -1;
        if (handled > 0)
            continue;
        switch (option) {
        case OPT_MODEL: options->model_arg = optarg; break;
        case OPT_LIST: options->list_path = optarg; break;
        case OPT_BY_REFERENCE: options->by_reference = true; break;
        case OPT_SCORE:
            if (cli_parse_number(command, optarg, "--score", 0, 1, &value) != 0)
                return -1;
            client->score = (float)value;
            break;
        case OPT_IOU:
            if (cli_parse_number(command, optarg, "--iou", 0, 1, &value) != 0)
                return -1;
            client->iou = (float)value;
            break;
        case OPT_NMS:
            if (strcmp(optarg, "weighted") == 0) {
                client->nms = 0;
            } else if (strcmp(optarg, "hard") == 0) {
                client->nms = 1;
            } else {
                fprintf(stderr, "%s: invalid --nms '%s': use weighted or hard\n", command, optarg);
                return -1;
            }
            break;
        case OPT_JOB_TIMEOUT:
            if (cli_parse_number(command, optarg, "--job-timeout", 0.01, 86400, &value) != 0)
                return -1;
            client->job_timeout = value;
            break;
        case OPT_MAX_ATTEMPTS:
            if (cli_parse_integer(command, optarg, "--max-attempts", 1, 1000000, &count) != 0)
                return -1;
            client->max_attempts = (int)count;
            break;
        case OPT_WINDOW:
            if (cli_parse_integer(command, optarg, "--window", 1, 65535, &count) != 0)
                return -1;
            client->window = (int)count;
            break;
        case OPT_WAIT_WORKERS:
            if (cli_parse_number(command, optarg, "--wait-workers", 0.01, 86400, &value) != 0)
                return -1;
            client->wait_workers = value;
            break;
        case OPT_CONNECT_TIMEOUT:
            if (cli_parse_number(command, optarg, "--connect-timeout", 0.01, 86400, &value) != 0)
                return -1;
            client->mqtt.connect_timeout = value;
            break;
        case OPT_MAX_PAYLOAD:
            if (cli_parse_bytes(command, optarg, "--max-payload", &client->max_payload) != 0)
                return -1;
            break;
        case OPT_PREFIX: client->prefix = optarg; break;
        case OPT_HELP:
        case 'h':
            return -2;
        case ':':
            fprintf(stderr, "%s: option %s needs a value\n", command, argv[optind - 1]);
            return -1;
        default:
            cli_report_unknown_option(command, argv);
            return -1;
        }
    }
    if (options->model_arg == NULL) {
        fprintf(stderr, "%s: --model is required\n", command);
        return -1;
    }
    if (verge_job_model_name(options->model_arg, options->model, sizeof(options->model)) !=
        VERGE_OK) {
        fprintf(stderr, "%s: %s\n", command, verge_error_message());
        return -1;
    }
    client->model = options->model;
    if (client->prefix != NULL && !verge_job_model_name_valid(client->prefix)) {
        fprintf(stderr, "%s: invalid --prefix '%s': use 1..%d of A-Z a-z 0-9 . _ - (it becomes "
                        "one topic level)\n", command, client->prefix, VERGE_JOB_MODEL_MAX);
        return -1;
    }
    return mqtt_args_finish(command, &client->mqtt);
}

typedef struct source_list {
    verge_client_job *jobs;
    char **owned;            /* lines read from --list */
    size_t count, capacity, num_owned;
} source_list;

static int list_add(source_list *list, const char *source, bool by_reference)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity > 0 ? list->capacity * 2 : 64;
        verge_client_job *grown = realloc(list->jobs, capacity * sizeof(*grown));

        if (grown == NULL)
            return -1;
        list->jobs = grown;
        list->capacity = capacity;
    }
    list->jobs[list->count].source = source;
    list->jobs[list->count].kind =
        by_reference || strstr(source, "://") != NULL ? VERGE_JOB_URI : VERGE_JOB_IMAGE;
    list->count++;
    return 0;
}

static int list_read_file(source_list *list, const char *path, bool by_reference)
{
    FILE *file = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    int result = 0;

    if (file == NULL) {
        fprintf(stderr, "verge submit: --list %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((length = getline(&line, &capacity, file)) >= 0) {
        char **grown;

        while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
            line[--length] = '\0';
        if (length == 0)
            continue;
        grown = realloc(list->owned, (list->num_owned + 1) * sizeof(*grown));
        if (grown == NULL || (grown[list->num_owned] = strdup(line)) == NULL) {
            if (grown != NULL)
                list->owned = grown;
            result = -1;
            break;
        }
        list->owned = grown;
        if (list_add(list, list->owned[list->num_owned++], by_reference) != 0) {
            result = -1;
            break;
        }
    }
    if (result == 0 && ferror(file)) {
        fprintf(stderr, "verge submit: --list %s: %s\n", path, strerror(errno));
        result = -1;
    } else if (result != 0) {
        fprintf(stderr, "verge submit: --list %s: out of memory\n", path);
    }
    free(line);
    if (file != stdin)
        fclose(file);
    return result;
}

static void print_result(void *user, size_t index, const char *line, size_t length, bool error)
{
    (void)user;
    (void)index;
    (void)error;
    fwrite(line, 1, length, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

int verge_cmd_submit(int argc, char **argv)
{
    submit_options options;
    source_list list = {0};
    verge_client_stats stats;
    verge_status status;
    int parsed, result = 1;

    memset(&options, 0, sizeof(options));
    verge_mqtt_options_init(&options.client.mqtt);
    options.client.score = 0.5f;
    options.client.iou = 0.3f;
    options.client.mqtt.connect_timeout = 30;
    parsed = parse_options(argc, argv, &options);
    if (parsed == -2) {
        print_help(stdout);
        return 0;
    }
    if (parsed != 0) {
        fprintf(stderr, "usage: verge submit --broker URL --model MODEL SOURCE... [options]; "
                        "see --help\n");
        return 2;
    }
    for (int i = optind; i < argc; i++) {
        if (list_add(&list, argv[i], options.by_reference) != 0) {
            fprintf(stderr, "verge submit: out of memory for %d %s\n", argc - optind,
                    cli_plural(argc - optind, "source", "sources"));
            goto done;
        }
    }
    if (options.list_path != NULL && list_read_file(&list, options.list_path,
                                                    options.by_reference) != 0) {
        result = 2;
        goto done;
    }
    if (list.count == 0) {
        fprintf(stderr, "verge submit: no sources given\n");
        result = 2;
        goto done;
    }

    verge_log_set_callback(cli_log_to_stderr, (void *)"verge submit", VERGE_LOG_WARNING);
    cli_catch_stop_signals();

    options.client.on_result = print_result;
    memset(&stats, 0, sizeof(stats));
    status = verge_client_run(&options.client, list.jobs, list.count, &cli_stop_requested,
                              &stats);
    fprintf(stderr,
            "verge submit: %lld %s: %lld ok, %lld failed; %lld %s, %lld %s dropped, %lld %s; ",
            (long long)stats.jobs, cli_plural(stats.jobs, "job", "jobs"), (long long)stats.ok,
            (long long)stats.failed, (long long)stats.retries,
            cli_plural(stats.retries, "retry", "retries"), (long long)stats.duplicates,
            cli_plural(stats.duplicates, "duplicate", "duplicates"), (long long)stats.reconnects,
            cli_plural(stats.reconnects, "reconnection", "reconnections"));
    /* Latency is measured only for jobs whose result came from a worker. */
    if (stats.answered > 0)
        fprintf(stderr, "latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; ", stats.p50_ms,
                stats.p99_ms, stats.max_ms);
    fprintf(stderr, "%.2f s", stats.seconds);
    /* A rate of jobs that failed here (unreadable files, no broker) would measure nothing. */
    if (stats.answered > 0 && stats.seconds > 0)
        fprintf(stderr, " (%.1f jobs/s)", (double)stats.answered / stats.seconds);
    fputc('\n', stderr);
    if (status != VERGE_OK) {
        mqtt_args_print_error("verge submit", verge_error_message());
        goto done;
    }
    result = stats.failed == 0 ? 0 : 1;

done:
    for (size_t i = 0; i < list.num_owned; i++)
        free(list.owned[i]);
    free(list.owned);
    free(list.jobs);
    return result;
}
