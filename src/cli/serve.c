/*
 * `verge serve --broker URL --model MODEL.tflite`: a worker node. Takes
 * detection jobs for its models from a shared subscription, runs them and
 * publishes each result to the job's response topic (see verge/net.h and
 * docs/distributed.md).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/detector.h"
#include "cli/mqtt_args.h"
#include "cli/serve_features.h"
#include "core/core.h"
#include "net/net_checks.h"
#include "verge/net.h"

enum { MAX_MODELS = 16 };

typedef struct serve_options {
    verge_mqtt_options mqtt;
    const char *model_paths[MAX_MODELS];
    char model_names[MAX_MODELS][VERGE_JOB_MODEL_MAX + 1];
    const char *names[MAX_MODELS];
    int num_models;
    const char *head_name;
    net_uri_allow allow;            /* --allow-uri entries, resolved */
    int threads;
    int concurrency;
    const char *group;
    const char *prefix;
    size_t max_payload;
    verge_model *models[MAX_MODELS];
    bool features;                  /* --features: window features over sensor streams */
    serve_features_options stream;
    const char *detect_option;      /* the first option given that only detection jobs use */
    const char *features_option;    /* the first option given that only --features uses */
} serve_options;

typedef struct serve_thread {
    const serve_options *options;
    cli_detector detectors[MAX_MODELS];
} serve_thread;

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: verge serve --broker URL --model MODEL.tflite [options]\n"
            "\n"
            "Runs a worker: takes detection jobs for MODEL from the broker (a shared\n"
            "subscription, so the broker spreads jobs over all workers of a group), runs them\n"
            "and publishes each result to the job's response topic. Stops cleanly on Ctrl-C or\n"
            "SIGTERM after answering the jobs it holds.\n"
            "\n"
            "options:\n"
            "  --model FILE       model to serve (repeat for up to 16 models); jobs name the\n"
            "                     model by its file name without .tflite\n"
            "  --threads N        jobs run at once, each on its own interpreter (default 1)\n"
            "  --concurrency N    jobs held at once, running or waiting (default: threads,\n"
            "                     at most 256); one broker connection per job, each with\n"
            "                     MQTT receive maximum 1 and acknowledged with its result\n"
            "  --group NAME       shared-subscription group (default verge); workers in one\n"
            "                     group share the jobs, each group gets every job\n"
            "  --prefix NAME      topic prefix (default verge)\n"
            "  --max-payload B    jobs above B bytes get an error result (default 16M; K, M\n"
            "                     suffixes)\n"
            "  --allow-uri WHERE  run jobs that name a file in folder WHERE (or file WHERE),\n"
            "                     or a URI that starts with WHERE (scheme://host/...);\n"
            "                     repeatable; paths are compared after resolving '..' and\n"
            "                     symbolic links. Without it only jobs that carry the image run\n"
            "  --head NAME        decoder preset (default: detected from the model's shapes)\n"
            "\n"
            "usage: verge serve --broker URL --features --topic FILTER [options]\n"
            "\n"
            "Subscribes to FILTER (e.g. 'sensors/+/value'), reads each message as one number\n"
            "(a missing marker such as NaN or an empty message is a missing sample), keeps\n"
            "one sliding window per topic and publishes each window's features as a JSON\n"
            "object to PREFIX/features/TOPIC. Not a shared subscription: every reading of a\n"
            "topic must reach the same node.\n"
            "\n"
            "  --window N         samples per window (default 10)\n"
            "  --step N           samples between consecutive windows (default 1)\n"
            "  --list NAMES       features, e.g. mean,std,min,max,rms,p2p,energy,\n"
            "                     zero_crossings,skew,kurtosis,band_energy:B,dominant_freq\n"
            "                     (default mean,std,energy)\n"
            "  --fill RULE        missing samples: ffill (default), bfill, linear, none,\n"
            "                     constant:V, median:K (running median of K samples)\n"
            "  --sample-rate HZ   samples per second, for dominant_freq (default 1)\n"
            "  --max-topics N     topics tracked at most (default 100000)\n"
            "\n");
    mqtt_args_help(out);
}

/*
 * Tells whether a usage error belongs to `verge serve --features`, for the
 * usage line: parsing stops at the first error, maybe before --features.
 */
static bool features_mode(int argc, char **argv, const serve_options *options)
{
    if (options->features)
        return true;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--features") == 0)
            return true;
    return false;
}

/* Adds a --model; jobs name a model by its file name, so two models may not share one. */
static int add_model(const char *command, serve_options *options, const char *path)
{
    int n = options->num_models;

    if (n == MAX_MODELS) {
        fprintf(stderr, "%s: at most %d models per worker\n", command, MAX_MODELS);
        return -1;
    }
    if (verge_job_model_name(path, options->model_names[n], sizeof(options->model_names[n])) !=
        VERGE_OK) {
        fprintf(stderr, "%s: --model %s\n", command, verge_error_message());
        return -1;
    }
    for (int m = 0; m < n; m++) {
        if (strcmp(options->model_names[m], options->model_names[n]) == 0) {
            fprintf(stderr, "%s: --model %s: %s names model '%s' already; jobs tell models "
                            "apart by file name only\n", command, path,
                    strcmp(options->model_paths[m], path) == 0 ? "an earlier --model"
                                                              : options->model_paths[m],
                    options->model_names[n]);
            return -1;
        }
    }
    options->model_paths[n] = path;
    options->names[n] = options->model_names[n];
    options->num_models++;
    return 0;
}

static int parse_options(int argc, char **argv, serve_options *options)
{
    enum { OPT_MODEL = 256, OPT_THREADS, OPT_CONCURRENCY, OPT_GROUP, OPT_PREFIX, OPT_MAX_PAYLOAD,
           OPT_ALLOW_URI, OPT_HEAD, OPT_FEATURES, OPT_WINDOW, OPT_STEP, OPT_LIST, OPT_FILL,
           OPT_TOPIC, OPT_SAMPLE_RATE, OPT_MAX_TOPICS, OPT_HELP };
    static const struct option long_options[] = {
        {"model", required_argument, NULL, OPT_MODEL},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
        {"group", required_argument, NULL, OPT_GROUP},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"max-payload", required_argument, NULL, OPT_MAX_PAYLOAD},
        {"allow-uri", required_argument, NULL, OPT_ALLOW_URI},
        {"head", required_argument, NULL, OPT_HEAD},
        {"features", no_argument, NULL, OPT_FEATURES},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"step", required_argument, NULL, OPT_STEP},
        {"list", required_argument, NULL, OPT_LIST},
        {"fill", required_argument, NULL, OPT_FILL},
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"sample-rate", required_argument, NULL, OPT_SAMPLE_RATE},
        {"max-topics", required_argument, NULL, OPT_MAX_TOPICS},
        {"help", no_argument, NULL, OPT_HELP},
        MQTT_ARGS_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *command = "verge serve";
    long long count;
    double value;
    int option, handled, long_index = 0;

    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "+:h", long_options, &long_index)) != -1) {
        handled = mqtt_args_handle(command, option, optarg, &options->mqtt);
        if (handled < 0)
            return -1;
        if (handled > 0)
            continue;
        if (option >= OPT_MODEL && option <= OPT_HEAD && option != OPT_PREFIX &&
            options->detect_option == NULL)
            options->detect_option = long_options[long_index].name;
        if (option >= OPT_WINDOW && option <= OPT_MAX_TOPICS && options->features_option == NULL)
            options->features_option = long_options[long_index].name;
        switch (option) {
        case OPT_MODEL:
            if (add_model(command, options, optarg) != 0)
                return -1;
            break;
        case OPT_THREADS:
            if (cli_parse_integer(command, optarg, "--threads", 1, 256, &count) != 0)
                return -1;
            options->threads = (int)count;
            break;
        case OPT_CONCURRENCY:
            if (cli_parse_integer(command, optarg, "--concurrency", 1, 256, &count) != 0)
                return -1;
            options->concurrency = (int)count;
            break;
        case OPT_GROUP: options->group = optarg; break;
        case OPT_PREFIX: options->prefix = optarg; break;
        case OPT_MAX_PAYLOAD:
            if (cli_parse_bytes(command, optarg, "--max-payload", &options->max_payload) != 0)
                return -1;
            break;
        case OPT_ALLOW_URI:
            if (net_uri_allow_add(&options->allow, optarg) != VERGE_OK) {
                fprintf(stderr, "%s: --allow-uri %s\n", command, verge_error_message());
                return -1;
            }
            break;
        case OPT_HEAD: {
            const verge_head_spec *spec;

            if (verge_head_find(optarg, &spec) != VERGE_OK) {
                fprintf(stderr, "%s: --head: %s\n", command, verge_error_message());
                return -1;
            }
            options->head_name = optarg;
            break;
        }
        case OPT_FEATURES: options->features = true; break;
        case OPT_WINDOW:
            if (cli_parse_integer(command, optarg, "--window", 1, VERGE_WINDOW_MAX, &count) != 0)
                return -1;
            options->stream.config.window = (size_t)count;
            break;
        case OPT_STEP:
            if (cli_parse_integer(command, optarg, "--step", 1, VERGE_WINDOW_MAX, &count) != 0)
                return -1;
            options->stream.config.step = (size_t)count;
            break;
        case OPT_LIST:
            if (verge_features_parse_list(optarg, &options->stream.config) != VERGE_OK) {
                fprintf(stderr, "%s: --list: %s\n", command, verge_error_message());
                return -1;
            }
            break;
        case OPT_FILL:
            if (verge_fill_parse(optarg, &options->stream.config.fill) != VERGE_OK) {
                fprintf(stderr, "%s: --fill: %s\n", command, verge_error_message());
                return -1;
            }
            break;
        case OPT_TOPIC: options->stream.topic = optarg; break;
        case OPT_SAMPLE_RATE:
            if (cli_parse_number(command, optarg, "--sample-rate", 1e-9, 1e12, &value) != 0)
                return -1;
            options->stream.config.sample_rate = value;
            break;
        case OPT_MAX_TOPICS:
            if (cli_parse_integer(command, optarg, "--max-topics", 1, 10000000, &count) != 0)
                return -1;
            options->stream.max_topics = (size_t)count;
            break;
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
    if (cli_check_positional(command, argc, argv, optind, 0, "") != 0) {
        if (!options->features)
            fprintf(stderr, "%s: give each model with --model FILE\n", command);
        return -1;
    }
    if (options->prefix != NULL && !verge_job_model_name_valid(options->prefix)) {
        fprintf(stderr, "%s: invalid --prefix '%s': use 1..%d of A-Z a-z 0-9 . _ - (it becomes "
                        "one topic level)\n", command, options->prefix, VERGE_JOB_MODEL_MAX);
        return -1;
    }
    if (options->features) {
        if (options->detect_option != NULL) {
            fprintf(stderr, "%s: --%s is for detection jobs; --features does not use it\n",
                    command, options->detect_option);
            return -1;
        }
        if (options->stream.topic == NULL) {
            fprintf(stderr, "%s: --features needs --topic FILTER (e.g. 'sensors/+/value')\n",
                    command);
            return -1;
        }
        if (options->stream.config.fill.method == VERGE_FILL_MEDIAN ||
            options->stream.config.fill.method == VERGE_FILL_MEAN) {
            fprintf(stderr, "%s: --fill median and mean need the whole series; a stream can "
                            "use median:K, ffill, bfill, linear, constant:V or none\n", command);
            return -1;
        }
        if (verge_features_config_check(&options->stream.config) != VERGE_OK) {
            fprintf(stderr, "%s: %s\n", command, verge_error_message());
            return -1;
        }
        if (net_topic_filter_check(options->stream.topic) != VERGE_OK) {
            fprintf(stderr, "%s: --topic: %s\n", command, verge_error_message());
            return -1;
        }
        return mqtt_args_finish(command, &options->mqtt);
    }
    if (options->features_option != NULL) {
        fprintf(stderr, "%s: --%s is for sensor streams; add --features\n", command,
                options->features_option);
        return -1;
    }
    if (options->group != NULL && !verge_job_model_name_valid(options->group)) {
        fprintf(stderr, "%s: invalid --group '%s': use 1..%d of A-Z a-z 0-9 . _ - (it becomes "
                        "one topic level)\n", command, options->group, VERGE_JOB_MODEL_MAX);
        return -1;
    }
    if (options->num_models == 0) {
        fprintf(stderr, "%s: --model FILE is required (or --features for sensor streams)\n",
                command);
        return -1;
    }
    if (options->concurrency == 0)
        options->concurrency = options->threads;
    if (options->concurrency < options->threads) {
        fprintf(stderr, "%s: --concurrency %d is below --threads %d; each thread needs a job\n",
                command, options->concurrency, options->threads);
        return -1;
    }
    return mqtt_args_finish(command, &options->mqtt);
}

static void *thread_create(void *user, int index)
{
    const serve_options *options = user;
    serve_thread *t = calloc(1, sizeof(*t));

    (void)index;
    if (t == NULL)
        return NULL;
    t->options = options;
    for (int m = 0; m < options->num_models; m++) {
        if (cli_detector_open(&t->detectors[m], "verge serve", options->model_paths[m],
                              options->models[m], options->head_name, 0.5f, 0.3f,
                              VERGE_NMS_WEIGHTED, 1) != 0) {
            /* cli_detector_open() printed why; the worker's message needs a reason of its own. */
            verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: cannot set up the detector (see above)",
                       options->model_paths[m]);
            for (int k = 0; k <= m; k++)
                cli_detector_close(&t->detectors[k]);
            free(t);
            return NULL;
        }
    }
    return t;
}

static void thread_destroy(void *user, void *state)
{
    serve_thread *t = state;

    (void)user;
    for (int m = 0; m < t->options->num_models; m++)
        cli_detector_close(&t->detectors[m]);
    free(t);
}

static verge_status serve_handle(void *state, const verge_job *job, char **result)
{
    serve_thread *t = state;
    const serve_options *options = t->options;
    cli_detector *detector = NULL;
    verge_source_options source_options;
    verge_source *source = NULL;
    verge_detection detections[CLI_DETECTOR_MAX_DETECTIONS];
    verge_frame frame;
    char uri[VERGE_JOB_URI_MAX + 1];
    char open_uri[NET_URI_OPEN_MAX];
    char name[VERGE_JOB_SOURCE_MAX + 64];
    const char *manifest;
    double timing[4];
    size_t count = 0, size = 0;
    FILE *out;
    verge_status status;
    struct timespec a, b;

    *result = NULL;
    for (int m = 0; m < options->num_models; m++)
        if (strcmp(options->names[m], job->model) == 0)
            detector = &t->detectors[m];
    if (detector == NULL)
        return verge_fail(VERGE_STATUS_NOT_FOUND, "job %s: unknown model '%s'", job->id,
                          job->model);
    status = cli_detector_set_thresholds(detector, job->score, job->iou,
                                         job->nms == 1 ? VERGE_NMS_HARD : VERGE_NMS_WEIGHTED);
    if (status != VERGE_OK)
        return status;

    /* The name goes into messages and the result, so a network URI loses its password. */
    if (job->source[0] != '\0')
        verge_uri_redact(job->source, name, sizeof(name));
    else
        snprintf(name, sizeof(name), "job %s", job->id);
    verge_source_options_init(&source_options);
    source_options.max_frames = 1;
    source_options.threads = 1;

    clock_gettime(CLOCK_MONOTONIC, &a);
    if (job->kind == VERGE_JOB_URI) {
        memcpy(uri, job->body, job->body_size);
        uri[job->body_size] = '\0';
        if (options->allow.count == 0) {
            char redacted[VERGE_JOB_URI_MAX + sizeof("***")];

            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "job %s: '%s': this worker does not open paths or URIs sent in "
                              "jobs (start it with --allow-uri PREFIX), send the image instead",
                              job->id, verge_uri_redact(uri, redacted, sizeof(redacted)));
        }
        status = net_uri_allow_check(&options->allow, uri, open_uri, sizeof(open_uri));
        if (status != VERGE_OK)
            return verge_fail_prefix(status, "job %s", job->id);
        /* What a local file names (a playlist's segments, say) may not come from the network. */
        if (open_uri[0] == '/')
            source_options.input_options = "protocol_whitelist=file";
        status = verge_source_open(open_uri, &source_options, &source);
    } else {
        /*
         * FFmpeg's HLS demuxer fails with "Cannot allocate memory" on a playlist
         * in memory, because it has no URL to resolve segments against. Name it instead.
         */
        manifest = net_media_manifest(job->body, job->body_size < 4096 ? job->body_size : 4096);
        if (manifest != NULL)
            return verge_fail(VERGE_STATUS_INVALID_DATA,
                              "job %s: %s: the body is %s, which names its video in further "
                              "files or URLs; a job's body must hold the picture or video itself",
                              job->id, name, manifest);
        /* Bytes from a job may not make FFmpeg open anything else: no protocol at all. */
        source_options.input_options = "protocol_whitelist=none";
        status = verge_source_open_buffer(job->body, job->body_size, name, &source_options,
                                          &source);
    }
    if (status == VERGE_OK)
        status = verge_source_read(source, &frame);
    if (status == VERGE_STATUS_END_OF_STREAM)
        status = verge_fail(VERGE_STATUS_INVALID_DATA, "%s: no picture in the job", name);
    clock_gettime(CLOCK_MONOTONIC, &b);
    timing[0] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    if (status == VERGE_OK)
        status = cli_detector_run(detector, &frame.image, detections, CLI_DETECTOR_MAX_DETECTIONS,
                                  &count, timing + 1);
    if (status != VERGE_OK) {
        verge_source_close(source);
        return status;
    }

    /*
     * Closing the decoder is part of decoding, so its time counts as decode.
     * The result needs the frame's index, time and size, not its pixels.
     */
    clock_gettime(CLOCK_MONOTONIC, &a);
    verge_source_close(source);
    clock_gettime(CLOCK_MONOTONIC, &b);
    timing[0] += (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    frame.image.data = NULL;

    out = open_memstream(result, &size);
    if (out == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "job %s: cannot build the result", job->id);
    cli_write_frame_json(out, job->id, name, &frame, verge_head_get_spec(detector->head),
                         detections, count, timing);
    if (fclose(out) != 0 || *result == NULL) {
        free(*result);
        *result = NULL;
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "job %s: cannot build the result", job->id);
    }
    /* One line without its newline: the submitter adds it. */
    if (size > 0 && (*result)[size - 1] == '\n')
        (*result)[size - 1] = '\0';
    return VERGE_OK;
}

int verge_cmd_serve(int argc, char **argv)
{
    serve_options options;
    verge_worker_options worker;
    verge_worker_stats stats;
    verge_status status;
    int parsed, result = 1;

    memset(&options, 0, sizeof(options));
    verge_mqtt_options_init(&options.mqtt);
    options.threads = 1;
    verge_features_config_default(&options.stream.config);
    options.stream.config.fill.method = VERGE_FILL_FFILL; /* the default median needs the whole series */
    options.stream.max_topics = 100000;
    parsed = parse_options(argc, argv, &options);
    if (parsed != 0)
        net_uri_allow_free(&options.allow);
    if (parsed == -2) {
        print_help(stdout);
        return 0;
    }
    if (parsed != 0) {
        fprintf(stderr, "usage: verge serve --broker URL %s [options]; see --help\n",
                features_mode(argc, argv, &options) ? "--features --topic FILTER"
                                                    : "--model MODEL.tflite");
        return 2;
    }
    verge_log_set_callback(cli_log_to_stderr, (void *)"verge serve", VERGE_LOG_INFO);
    if (options.features) {
        cli_catch_stop_signals();
        options.stream.mqtt = options.mqtt;
        options.stream.prefix = options.prefix != NULL ? options.prefix : "verge";
        return serve_features_run(&options.stream, &cli_stop_requested);
    }

    /* Each model must load and fit a detection head before the worker announces it. */
    for (int m = 0; m < options.num_models; m++) {
        cli_detector check;
        int opened;

        if (verge_model_load(options.model_paths[m], &options.models[m]) != VERGE_OK) {
            fprintf(stderr, "verge serve: %s\n", verge_error_message());
            goto done;
        }
        opened = cli_detector_open(&check, "verge serve", options.model_paths[m],
                                   options.models[m], options.head_name, 0.5f, 0.3f,
                                   VERGE_NMS_WEIGHTED, 1);
        cli_detector_close(&check);
        if (opened != 0)
            goto done;
    }

    cli_catch_stop_signals();

    memset(&worker, 0, sizeof(worker));
    worker.mqtt = options.mqtt;
    worker.mqtt.role = "serve";
    worker.mqtt.keepalive = options.mqtt.keepalive > 0 ? options.mqtt.keepalive : 60;
    worker.prefix = options.prefix;
    worker.group = options.group;
    worker.models = options.names;
    worker.num_models = options.num_models;
    worker.threads = options.threads;
    worker.concurrency = options.concurrency;
    worker.max_payload = options.max_payload;
    worker.thread_create = thread_create;
    worker.thread_destroy = thread_destroy;
    worker.handle = serve_handle;
    worker.user = &options;

    fprintf(stderr, "verge serve: serving %s", options.names[0]);
    for (int m = 1; m < options.num_models; m++)
        fprintf(stderr, ", %s", options.names[m]);
    fprintf(stderr, " from %s (group %s, %d %s, %d %s at once)\n", mqtt_args_shown_url(),
            options.group != NULL ? options.group : "verge", options.threads,
            cli_plural(options.threads, "thread", "threads"), options.concurrency,
            cli_plural(options.concurrency, "job", "jobs"));
    memset(&stats, 0, sizeof(stats));
    status = verge_worker_run(&worker, &cli_stop_requested, &stats);
    fprintf(stderr, "verge serve: stopped after %lld %s (%lld %s, %lld dropped), %lld %s\n",
            (long long)stats.jobs, cli_plural(stats.jobs, "job", "jobs"),
            (long long)stats.errors, cli_plural(stats.errors, "error", "errors"),
            (long long)stats.dropped, (long long)stats.reconnects,
            cli_plural(stats.reconnects, "reconnection", "reconnections"));
    if (status != VERGE_OK) {
        mqtt_args_print_error("verge serve", verge_error_message());
        goto done;
    }
    result = 0;

done:
    for (int m = 0; m < options.num_models; m++)
        verge_model_free(options.models[m]);
    net_uri_allow_free(&options.allow);
    return result;
}
