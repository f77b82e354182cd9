/*
 * `verge detect MODEL SOURCE...`: runs an SSD-style detector on images,
 * video files, cameras and streams. Prints one JSON line per processed frame
 * on stdout and, with --out, writes annotated copies: an image per input
 * image and an MP4 per video or stream.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/detector.h"
#include "cli/options.h"
#include "verge/interpreter.h"
#include "verge/media.h"
#include "verge/model.h"
#include "verge/vision.h"

typedef struct detect_options {
    const char *model_path;
    const char *head_name;     /* NULL: pick from the model's shapes */
    const char *out_dir;       /* NULL: no annotated output */
    float score;
    float iou;
    verge_nms_algorithm nms;
    int64_t max_frames;        /* per source; 0 = all */
    int every;
    int threads;
    int max_detections;        /* per frame, the highest scores */
    int64_t max_pixels;        /* largest picture decoded; 0 = the library's default */
} detect_options;

typedef struct detector {
    const detect_options *options;
    cli_detector pipeline;
    char **used_names;         /* annotated file names already written, to keep them distinct */
    int num_used_names;
    char **sources;            /* every source of the command, which --out must not replace */
    int num_sources;
    bool output_failed;        /* stdout cannot be written: stop */
} detector;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: verge detect MODEL SOURCE... [options]\n"
            "\n"
            "Runs a detector on each SOURCE: an image (JPEG, PNG, BMP), a video file, a\n"
            "camera (/dev/video0), a network stream (rtsp://...) or '-' for standard input.\n"
            "Prints one JSON line per processed frame on stdout.\n"
            "\n"
            "options:\n"
            "  --score P        minimum detection score, 0..1 (default 0.5)\n"
            "  --iou T          NMS overlap threshold, 0..1 (default 0.3)\n"
            "  --nms NAME       weighted (MediaPipe's, default) or hard\n"
            "  --max-frames N   process at most N frames of each source (default: all)\n"
            "  --every N        process every Nth video frame (default 1)\n"
            "  --max-detections N  report at most N detections per frame, the highest\n"
            "                   scores first (default 256)\n"
            "  --max-pixels N   reject a picture or frame larger than N pixels before it is\n"
            "                   decoded (default 67108864, 8192x8192)\n"
            "  --threads N      threads for inference (default 1), for video decoding\n"
            "                   (default: chosen by FFmpeg) and for encoding annotated\n"
            "                   MP4 videos (default 2; at most 16)\n"
            "  --out DIR        write annotated images and MP4 videos into DIR, created\n"
            "                   with its parent folders when missing\n"
            "  --head NAME      decoder preset (default: detected from the model's shapes):\n");
    for (int i = 0; i < verge_head_preset_count(); i++) {
        const verge_head_spec *spec = verge_head_preset(i);
        fprintf(out, "    %s\n        %s\n", spec->name, spec->description);
    }
    fprintf(out,
            "\n"
            "Exit status: 0 when every source was processed, 1 when one failed (the others\n"
            "are still processed), 2 on a usage error, 130 when stopped by Ctrl-C or\n"
            "SIGTERM (the annotated video being written is finished first).\n");
}

static int parse_number(const char *text, const char *option, double min, double max,
                        double *value)
{
    char *end;

    errno = 0;
    *value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(*value >= min && *value <= max)) {
        fprintf(stderr,
                "verge detect: invalid value '%s' for %s: expected a number in %.15g..%.15g\n",
                text, option, min, max);
        return -1;
    }
    return 0;
}

static int parse_integer(const char *text, const char *option, long long min, long long max,
                         long long *value)
{
    char *end;

    errno = 0;
    *value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || *value < min || *value > max ||
        !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9'))) {
        fprintf(stderr,
                "verge detect: invalid value '%s' for %s: expected an integer in %lld..%lld\n",
                text, option, min, max);
        return -1;
    }
    return 0;
}

/*
 * Parses options. Returns the index of the first positional argument, -1 for
 * a usage error or -2 for --help.
 */
static int parse_options(int argc, char **argv, detect_options *options)
{
    enum { OPT_SCORE = 256, OPT_IOU, OPT_NMS, OPT_MAX_FRAMES, OPT_EVERY, OPT_THREADS, OPT_OUT,
           OPT_HEAD, OPT_MAX_DETECTIONS, OPT_MAX_PIXELS, OPT_HELP };
    static const struct option long_options[] = {
        {"score", required_argument, NULL, OPT_SCORE},
        {"iou", required_argument, NULL, OPT_IOU},
        {"nms", required_argument, NULL, OPT_NMS},
        {"max-frames", required_argument, NULL, OPT_MAX_FRAMES},
        {"every", required_argument, NULL, OPT_EVERY},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"out", required_argument, NULL, OPT_OUT},
        {"head", required_argument, NULL, OPT_HEAD},
        {"max-detections", required_argument, NULL, OPT_MAX_DETECTIONS},
        {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int option;
    double value;
    long long count;

    *options = (detect_options){.score = 0.5f, .iou = 0.3f, .every = 1,
                                .max_detections = CLI_DETECTOR_MAX_DETECTIONS};
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "+:h", long_options, NULL)) != -1) {
        switch (option) {
        case OPT_SCORE:
            if (parse_number(optarg, "--score", 0, 1, &value) != 0)
                return -1;
            options->score = (float)value;
            break;
        case OPT_IOU:
            if (parse_number(optarg, "--iou", 0, 1, &value) != 0)
                return -1;
            options->iou = (float)value;
            break;
        case OPT_NMS:
            if (strcmp(optarg, "weighted") == 0) {
                options->nms = VERGE_NMS_WEIGHTED;
            } else if (strcmp(optarg, "hard") == 0) {
                options->nms = VERGE_NMS_HARD;
            } else {
                fprintf(stderr, "verge detect: invalid --nms '%s': use weighted or hard\n", optarg);
                return -1;
            }
            break;
        case OPT_MAX_FRAMES:
            if (parse_integer(optarg, "--max-frames", 1, INT64_MAX, &count) != 0)
                return -1;
            options->max_frames = count;
            break;
        case OPT_EVERY:
            if (parse_integer(optarg, "--every", 1, INT_MAX, &count) != 0)
                return -1;
            options->every = (int)count;
            break;
        case OPT_THREADS:
            if (parse_integer(optarg, "--threads", 1, 256, &count) != 0)
                return -1;
            options->threads = (int)count;
            break;
        case OPT_MAX_DETECTIONS:
            if (parse_integer(optarg, "--max-detections", 1, 100000, &count) != 0)
                return -1;
            options->max_detections = (int)count;
            break;
        case OPT_MAX_PIXELS:
            /* Frames are at most 32768 pixels on a side. */
            if (parse_integer(optarg, "--max-pixels", 1, (long long)32768 * 32768, &count) != 0)
                return -1;
            options->max_pixels = count;
            break;
        case OPT_OUT:
            options->out_dir = optarg;
            break;
        case OPT_HEAD:
            options->head_name = optarg;
            break;
        case OPT_HELP:
        case 'h':
            return -2;
        case ':':
            fprintf(stderr, "verge detect: option %s needs a value\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "verge detect: unknown option '%s'\n", argv[optind - 1]);
            return -1;
        }
    }
    return optind;
}

/*
 * Separates options from positional arguments so that they may be mixed in
 * any order ("verge detect m.tflite a.jpg --score 0.7 b.jpg"); "-" stays a
 * positional argument (standard input). Returns the number of positionals
 * moved to the end of argv, or -1 on a usage error, -2 for help.
 */
static int split_arguments(int argc, char **argv, detect_options *options, char **positional)
{
    char **flags = calloc((size_t)argc + 1, sizeof(*flags));
    int num_flags = 1, num_positional = 0, first;

    if (flags == NULL)
        return -1;
    flags[0] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--") == 0) {
            for (i++; i < argc; i++)
                positional[num_positional++] = argv[i];
            break;
        }
        if (arg[0] == '-' && arg[1] != '-' && arg[1] != '\0' && arg[2] != '\0') {
            fprintf(stderr, "verge detect: unknown option '%s': long options start with '--' "
                            "(--%s); a file whose name starts with '-' can be given as ./%s\n",
                    arg, arg + 1, arg);
            free(flags);
            return -1;
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            flags[num_flags++] = argv[i];
            /* Options that take a value in the next argument. */
            if (strncmp(arg, "--", 2) == 0 && strchr(arg, '=') == NULL &&
                strcmp(arg, "--help") != 0 && i + 1 < argc)
                flags[num_flags++] = argv[++i];
        } else {
            positional[num_positional++] = argv[i];
        }
    }
    first = parse_options(num_flags, flags, options);
    free(flags);
    if (first < 0)
        return first;
    return num_positional;
}

/*
 * Reads the file status of the file behind a source: standard input for "-",
 * and the path after "file:", which is how FFmpeg's file protocol reads it.
 * Returns 0 on success, like stat().
 */
static int source_stat(const char *uri, struct stat *info)
{
    if (strcmp(uri, "-") == 0)
        return fstat(STDIN_FILENO, info);
    if (strncmp(uri, "file:", 5) == 0)
        return stat(uri + 5, info);
    return stat(uri, info);
}

/* Returns true when `path` exists and is the same file as one of the sources. */
static bool overwrites_source(const detector *d, const char *path)
{
    struct stat out, in;

    if (stat(path, &out) != 0)
        return false;
    for (int i = 0; i < d->num_sources; i++) {
        if (source_stat(d->sources[i], &in) == 0 && in.st_dev == out.st_dev &&
            in.st_ino == out.st_ino)
            return true;
    }
    return false;
}

/* Returns true for "scheme://...", where the scheme is a letter then letters, digits, '+', '-', '.'. */
static bool uri_has_scheme(const char *uri)
{
    const char *separator = strstr(uri, "://");

    if (separator == NULL || separator == uri || !isalpha((unsigned char)uri[0]))
        return false;
    for (const char *p = uri; p < separator; p++) {
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return false;
    }
    return true;
}

/*
 * Finds the last path component of the `length` bytes at `path` that is not
 * empty, "." or "..". Returns its start and stores its length, or returns NULL.
 */
static const char *last_path_component(const char *path, size_t length, size_t *component_length)
{
    const char *end = path + length;

    while (end > path) {
        const char *start = end;
        size_t size;

        while (start > path && start[-1] != '/')
            start--;
        size = (size_t)(end - start);
        if (size > 0 && !(size == 1 && start[0] == '.') &&
            !(size == 2 && start[0] == '.' && start[1] == '.')) {
            *component_length = size;
            return start;
        }
        end = start > path ? start - 1 : path;
    }
    return NULL;
}

/*
 * Finds the host of the URI part after "://" (`length` bytes up to the path):
 * without user information before '@', a port after ':' or the brackets of
 * an IPv6 address. Returns its start and stores its length, 0 when empty.
 */
static const char *uri_host(const char *authority, size_t length, size_t *host_length)
{
    const char *host = authority;
    const char *end = authority + length;
    const char *colon;

    for (const char *p = authority; p < end; p++) {
        if (*p == '@')
            host = p + 1;
    }
    if (host < end && *host == '[') {
        const char *bracket = memchr(host, ']', (size_t)(end - host));

        host++;
        end = bracket != NULL ? bracket : end;
    } else if ((colon = memchr(host, ':', (size_t)(end - host))) != NULL) {
        end = colon;
    }
    *host_length = (size_t)(end - host);
    return host;
}

/*
 * Writes the name the annotated copy of `uri` starts from into `name`. For
 * a file it is the last component of its path, and "stdin" for "-". For a
 * URI it is the last non-empty component of the path without the query
 * ("rtsp://cam/live/" gives "live"), else the host ("rtsp://user@cam:554/"
 * gives "cam"), else the scheme. In a name from a URI, every character other
 * than letters, digits, '.', '-' and '_' becomes '_'. Returns true when the
 * name comes from a path, so that a dot in it starts an extension, and false
 * for a host, a scheme or "stdin".
 */
static bool source_base_name(const char *uri, char *name, size_t size)
{
    bool from_path = true;
    const char *component;
    size_t length;

    if (strcmp(uri, "-") == 0) {
        snprintf(name, size, "stdin");
        return false;
    }
    if (!uri_has_scheme(uri)) {
        component = last_path_component(uri, strlen(uri), &length);
        if (component == NULL) {
            snprintf(name, size, "stdin");
            return false;
        }
        snprintf(name, size, "%.*s", (int)length, component);
        return true;
    }

    {
        const char *authority = strstr(uri, "://") + 3;
        size_t authority_length = strcspn(authority, "/?#");
        const char *path = authority + authority_length;
        size_t path_length = path[0] == '/' ? strcspn(path, "?#") : 0;

        component = last_path_component(path, path_length, &length);
        if (component == NULL) {
            component = uri_host(authority, authority_length, &length);
            from_path = false;
        }
        if (length == 0) {
            component = uri;
            length = (size_t)(strstr(uri, "://") - uri);
        }
    }
    snprintf(name, size, "%.*s", (int)length, component);
    for (char *p = name; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            *p = '_';
    }
    /* A name from the network must not become a hidden file. */
    if (name[0] == '.')
        name[0] = '_';
    return from_path;
}

/* Builds DIR/NAME for the annotated copy of `uri`, distinct from earlier names. */
static int annotated_path(detector *d, const char *uri, bool still, char *path, size_t size)
{
    /* Leaves room for a suffix such as "-12" and ".jpeg" in a file name of at most 255 bytes. */
    char stem[224];
    char extension[16] = ".mp4";
    char candidate[PATH_MAX];
    char **grown;
    char *dot = NULL;

    /* A host name such as 10.0.0.7 has no extension. */
    if (source_base_name(uri, stem, sizeof(stem)))
        dot = strrchr(stem, '.');

    /* Images keep their format when the writer supports it, else become PNG; videos become MP4. */
    if (still) {
        if (dot != NULL && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
                            strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".bmp") == 0))
            snprintf(extension, sizeof(extension), "%s", dot);
        else
            snprintf(extension, sizeof(extension), ".png");
    }
    if (dot != NULL && dot != stem)
        *dot = '\0';
    for (char *p = stem; *p != '\0'; p++) {
        if (*p == ':' || *p == '?' || *p == '&' || *p == '=')
            *p = '_';
    }

    for (int attempt = 1;; attempt++) {
        bool in_use = false;

        if (attempt == 1)
            snprintf(candidate, sizeof(candidate), "%s/%s%s", d->options->out_dir, stem, extension);
        else
            snprintf(candidate, sizeof(candidate), "%s/%s-%d%s", d->options->out_dir, stem,
                     attempt, extension);
        for (int i = 0; i < d->num_used_names; i++)
            in_use = in_use || strcmp(d->used_names[i], candidate) == 0;
        if (!in_use)
            break;
    }
    grown = realloc(d->used_names, sizeof(*grown) * (size_t)(d->num_used_names + 1));
    if (grown == NULL)
        return -1;
    d->used_names = grown;
    d->used_names[d->num_used_names] = strdup(candidate);
    if (d->used_names[d->num_used_names] == NULL)
        return -1;
    d->num_used_names++;
    snprintf(path, size, "%s", candidate);
    return 0;
}

static void annotate(verge_image *image, const verge_head_spec *spec,
                     const verge_detection *detections, size_t count)
{
    const verge_color green = {0, 230, 64};
    int thickness = (image->width + image->height) / 400 + 1;

    for (size_t i = 0; i < count; i++)
        verge_draw_detection(image, &detections[i], cli_class_label(spec, detections[i].class_id),
                             thickness, green);
}

/*
 * Returns the thread count for the MP4 encoder: --threads up to 16, else 2.
 * Each libx264 frame thread keeps frames of its own in memory, so the count
 * stays low for edge boxes with 1-2 GB.
 */
static int encoder_threads(const detect_options *options)
{
    if (options->threads <= 0)
        return 2;
    return options->threads < 16 ? options->threads : 16;
}

/* Runs the detector on every frame of one source. Returns 0 on success, 1 on failure. */
static int run_source(detector *d, const char *uri)
{
    const detect_options *options = d->options;
    verge_source_options source_options;
    verge_source *source = NULL;
    verge_video_writer *writer = NULL;
    const verge_source_info *info;
    verge_detection *detections = malloc(sizeof(*detections) * (size_t)options->max_detections);
    /* The source in messages and JSON lines, without the password of a network URI. */
    char *redacted_uri = cli_redacted_uri(uri);
    char out_path[PATH_MAX];
    int64_t frames = 0;
    int result = 1;

    if (detections == NULL || redacted_uri == NULL) {
        fprintf(stderr, "verge detect: out of memory for %d detections\n",
                options->max_detections);
        free(detections);
        free(redacted_uri);
        return 1;
    }
    verge_source_options_init(&source_options);
    source_options.every = options->every;
    source_options.max_frames = options->max_frames;
    source_options.max_pixels = options->max_pixels;
    /* FFmpeg warns about more than 16 decoder threads, which decoding cannot use. */
    source_options.threads = options->threads < 16 ? options->threads : 16;
    if (verge_source_open(uri, &source_options, &source) != VERGE_OK) {
        fprintf(stderr, "verge detect: %s\n", verge_error_message());
        free(detections);
        free(redacted_uri);
        return 1;
    }
    info = verge_source_get_info(source);
    if (options->out_dir != NULL && annotated_path(d, uri, info->is_still, out_path,
                                                   sizeof(out_path)) != 0) {
        fprintf(stderr, "verge detect: out of memory\n");
        goto done;
    }
    if (options->out_dir != NULL && overwrites_source(d, out_path)) {
        fprintf(stderr, "verge detect: %s: the annotated copy %s would replace a source file; "
                        "choose another --out folder\n", uri, out_path);
        goto done;
    }

    for (;;) {
        verge_frame frame;
        size_t count = 0;
        double timing[4], start;
        verge_status status;

        /* Ctrl-C ends a camera or stream here, so that its annotated MP4 is finished. */
        if (cli_stop_requested)
            break;
        start = now_ms();
        status = verge_source_read(source, &frame);

        if (status == VERGE_STATUS_END_OF_STREAM)
            break;
        if (status != VERGE_OK) {
            fprintf(stderr, "verge detect: %s\n", verge_error_message());
            goto done;
        }
        timing[0] = now_ms() - start;

        status = cli_detector_run(&d->pipeline, &frame.image, detections,
                                  (size_t)options->max_detections, &count, timing + 1);
        if (status != VERGE_OK) {
            fprintf(stderr, "verge detect: %s: frame %lld: %s\n", redacted_uri,
                    (long long)frame.index, verge_error_message());
            goto done;
        }
        frames++;
        cli_write_frame_json(stdout, NULL, redacted_uri, &frame, verge_head_get_spec(d->pipeline.head),
                             detections, count, timing);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "verge detect: cannot write to standard output: %s\n",
                    strerror(errno));
            d->output_failed = true;
            goto done;
        }

        if (options->out_dir == NULL)
            continue;
        annotate(&frame.image, verge_head_get_spec(d->pipeline.head), detections, count);
        if (info->is_still) {
            status = verge_image_write(out_path, &frame.image);
        } else {
            if (writer == NULL) {
                double fps = info->fps > 0 ? info->fps / options->every : 25.0;

                /* The writer takes up to 1000 fps, so high-speed camera video plays slower. */
                if (fps > 1000)
                    fps = 1000;
                status = verge_video_writer_open_threads(out_path, frame.image.width,
                                                         frame.image.height, fps,
                                                         encoder_threads(options), &writer);
            }
            if (status == VERGE_OK)
                status = verge_video_writer_write(writer, &frame.image);
        }
        if (status != VERGE_OK) {
            fprintf(stderr, "verge detect: %s\n", verge_error_message());
            goto done;
        }
    }
    if (frames == 0 && !cli_stop_requested) {
        fprintf(stderr, "verge detect: %s: no frame could be decoded%s\n", redacted_uri,
                strcmp(uri, "-") == 0 ? " (MP4 cannot be read from a pipe: send MPEG-TS, "
                                        "Matroska or MJPEG)" : "");
        goto done;
    }
    result = 0;

done:
    if (writer != NULL && verge_video_writer_close(writer) != VERGE_OK) {
        fprintf(stderr, "verge detect: %s\n", verge_error_message());
        result = 1;
    }
    verge_source_close(source);
    free(detections);
    free(redacted_uri);
    return result;
}

/*
 * Creates the --out folder and its missing parents like `mkdir -p`, with
 * mode 0777 less the umask. Returns 0, or prints why not and returns the exit
 * status: 2 when the path names a file where a folder must be (a usage
 * error, like any other argument that cannot be right), 1 when creating a
 * folder failed.
 */
static int out_folder_create(const char *folder)
{
    char path[PATH_MAX];
    size_t length = strlen(folder);

    if (length == 0) {
        fprintf(stderr, "verge detect: --out needs a folder name\n");
        return 2;
    }
    if (length >= sizeof(path)) {
        fprintf(stderr, "verge detect: --out %.64s...: the path is longer than %d bytes\n",
                folder, PATH_MAX - 1);
        return 2;
    }
    memcpy(path, folder, length + 1);

    /* Each prefix that ends before a '/' or at the end, skipping a leading '/'. */
    for (size_t end = 1; end <= length; end++) {
        struct stat info;
        int error;

        if (path[end] != '/' && path[end] != '\0')
            continue;
        path[end] = '\0';
        /* Any failure on an existing folder is fine: EEXIST, or EACCES and EROFS on some systems. */
        if (mkdir(path, 0777) != 0) {
            error = errno;
            if (stat(path, &info) != 0) {
                fprintf(stderr, "verge detect: cannot create output folder %s: %s\n", path,
                        strerror(error));
                return 1;
            }
            if (!S_ISDIR(info.st_mode) && end == length) {
                fprintf(stderr, "verge detect: --out %s is not a folder; name a folder to write "
                                "the annotated copies into\n", folder);
                return 2;
            }
            if (!S_ISDIR(info.st_mode)) {
                fprintf(stderr, "verge detect: --out %s: %s is not a folder, so the folders "
                                "under it cannot be created\n", folder, path);
                return 2;
            }
        }
        path[end] = folder[end];
    }
    return 0;
}

/*
 * Creates and removes an empty file in the --out folder, so that a folder
 * that cannot be written is reported before any source is processed: one
 * without write permission, on a read-only file system or in /proc or /sys.
 * access(2) would pass most of these for root. Returns 0, or prints why
 * not and returns 1.
 */
static int out_folder_check_writable(const char *folder)
{
    char probe[PATH_MAX];
    int fd;

    if ((size_t)snprintf(probe, sizeof(probe), "%s/.verge-write-test-XXXXXX", folder) >=
        sizeof(probe)) {
        fprintf(stderr, "verge detect: --out %.64s...: the path is too long\n", folder);
        return 2;
    }
    fd = mkstemp(probe);
    if (fd < 0) {
        fprintf(stderr, "verge detect: cannot write into the --out folder %s: %s; check its "
                        "permissions or choose another folder\n", folder, strerror(errno));
        return 1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

/* Loads the model, prepares the interpreter and picks the head. Returns 0 on success. */
static int detector_open(detector *d, const detect_options *options)
{
    memset(d, 0, sizeof(*d));
    d->options = options;
    return cli_detector_open(&d->pipeline, "verge detect", options->model_path, NULL,
                             options->head_name, options->score, options->iou, options->nms,
                             options->threads > 0 ? options->threads : 1);
}

static void detector_close(detector *d)
{
    cli_detector_close(&d->pipeline);
    for (int i = 0; i < d->num_used_names; i++)
        free(d->used_names[i]);
    free(d->used_names);
}

int verge_cmd_detect(int argc, char **argv)
{
    detect_options options;
    detector d;
    char **positional = calloc((size_t)argc + 1, sizeof(*positional));
    int count, failures = 0;

    if (positional == NULL)
        return 1;
    count = split_arguments(argc, argv, &options, positional);
    if (count == -2) {
        print_help(stdout);
        free(positional);
        return 0;
    }
    if (count < 2) {
        if (count >= 0)
            fprintf(stderr, "verge detect: expected a model and at least one source\n");
        fprintf(stderr, "usage: verge detect MODEL SOURCE... [options]; see --help\n");
        free(positional);
        return 2;
    }
    options.model_path = positional[0];

    if (options.out_dir != NULL) {
        int result = out_folder_create(options.out_dir);

        if (result == 0)
            result = out_folder_check_writable(options.out_dir);
        if (result != 0) {
            free(positional);
            return result;
        }
    }

    if (options.head_name != NULL) {
        const verge_head_spec *spec;

        if (verge_head_find(options.head_name, &spec) != VERGE_OK) {
            fprintf(stderr, "verge detect: %s\n", verge_error_message());
            free(positional);
            return 2;
        }
    }

    if (detector_open(&d, &options) != 0) {
        detector_close(&d);
        free(positional);
        return 1;
    }
    d.sources = positional + 1;
    d.num_sources = count - 1;
    /*
     * SIGINT and SIGTERM stop after the current frame, and a closed standard
     * output becomes a write error instead of SIGPIPE. In both cases the
     * annotated video being written is finished, so it stays playable.
     */
    cli_catch_stop_signals();
    for (int i = 1; i < count && !d.output_failed && !cli_stop_requested; i++)
        failures += run_source(&d, positional[i]);
    detector_close(&d);
    free(positional);
    if (cli_stop_requested) {
        fprintf(stderr, "verge detect: stopped by a signal\n");
        return 130;
    }
    return failures == 0 ? 0 : 1;
}
