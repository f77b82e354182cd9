/*
 * `verge features INPUT`: fills missing samples of one column of a sensor
 * series and writes sliding-window features, one row per window, as CSV,
 * JSON Lines or .npy.
 *
 * Fills that need the whole series (median, mean) read the input first;
 * every other fill streams: rows are written as soon as their window is
 * complete, and flushed after every read when the input is a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "verge/signal.h"

enum { OUTPUT_CSV, OUTPUT_JSONL, OUTPUT_NPY };
enum { WRITE_BUFFER = 1 << 20, NPY_HEADER = 128, TEXT_SLOT = VERGE_DOUBLE_TEXT_MAX };

typedef struct features_options {
    const char *input;
    const char *output; /* NULL: stdout */
    int output_format;
    verge_series_options series;
    verge_features_config config;
} features_options;

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: verge features INPUT [options]\n"
            "\n"
            "Fills missing samples of one column of a sensor series and writes features of\n"
            "sliding windows, one row per complete window. INPUT is a CSV file with a header\n"
            "line, a .npy file, raw little-endian float32/float64 samples, or '-' for standard\n"
            "input. Empty cells and NA markers (NA, NaN, null, ...) are missing samples.\n"
            "\n"
            "options:\n"
            "  --column NAME|INDEX       value column (default: value); an index counts from 0\n"
            "  --time-column NAME|INDEX  copy this column to each row: the text of the\n"
            "                            window's last sample\n"
            "  --input-format FORMAT     csv, f32, f64 or npy (default: .npy, .f32 and .f64\n"
            "                            by file name, otherwise csv)\n"
            "  --window N                samples per window (default 10)\n"
            "  --step N                  samples from one window to the next (default 1)\n"
            "  --fill RULE               how missing samples are filled (default median):\n"
            "                            median, mean (both read the whole input first),\n"
            "                            ffill, bfill, linear, constant:V, none (NaN stays),\n"
            "                            median:K (median of the last K samples)\n"
            "  --features LIST           comma-separated (default mean,std,energy) from: mean,\n"
            "                            std, var, min, max, rms, p2p, energy, zero_crossings,\n"
            "                            skew, kurtosis, band_energy:B, dominant_freq\n"
            "  --sample-rate HZ          samples per second, for dominant_freq (default 1,\n"
            "                            which gives cycles per sample)\n"
            "  --output FILE             write to FILE instead of standard output\n"
            "  --output-format FORMAT    csv, jsonl or npy (default: from the --output name,\n"
            "                            otherwise csv)\n"
            "  --on-error fail|skip      a bad CSV row stops the command (default), or is\n"
            "                            skipped and counted on standard error\n"
            "\n"
            "See docs/features.md for the fill rules at the edges and the output formats.\n");
}

/* Parses a whole number in [min, max]; prints a usage error otherwise. */
static int parse_count(const char *text, const char *option, unsigned long long min,
                       unsigned long long max, size_t *value)
{
    char *end = NULL;
    unsigned long long parsed;

    errno = 0;
    parsed = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || parsed < min ||
        parsed > max) {
        fprintf(stderr, "verge features: invalid value '%s' for %s: expected a whole number from "
                        "%llu to %llu\n",
                text, option, min, max);
        return -1;
    }
    *value = (size_t)parsed;
    return 0;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t a = strlen(text), b = strlen(suffix);
    return a >= b && strcmp(text + a - b, suffix) == 0;
}

/* Returns 0, 1 for --help, or -1 after printing a usage error. */
static int parse_options(int argc, char **argv, features_options *options)
{
    enum { OPT_COLUMN = 256, OPT_TIME_COLUMN, OPT_INPUT_FORMAT, OPT_WINDOW, OPT_STEP, OPT_FILL,
           OPT_FEATURES, OPT_SAMPLE_RATE, OPT_OUTPUT, OPT_OUTPUT_FORMAT, OPT_ON_ERROR, OPT_HELP };
    static const struct option long_options[] = {
        {"column", required_argument, NULL, OPT_COLUMN},
        {"time-column", required_argument, NULL, OPT_TIME_COLUMN},
        {"input-format", required_argument, NULL, OPT_INPUT_FORMAT},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"step", required_argument, NULL, OPT_STEP},
        {"fill", required_argument, NULL, OPT_FILL},
        {"features", required_argument, NULL, OPT_FEATURES},
        {"sample-rate", required_argument, NULL, OPT_SAMPLE_RATE},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"output-format", required_argument, NULL, OPT_OUTPUT_FORMAT},
        {"on-error", required_argument, NULL, OPT_ON_ERROR},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *output_format = NULL;
    int option;

    memset(options, 0, sizeof(*options));
    verge_features_config_default(&options->config);
    options->series.format = VERGE_SERIES_AUTO;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        switch (option) {
        case OPT_COLUMN:
            options->series.column = optarg;
            break;
        case OPT_TIME_COLUMN:
            options->series.time_column = optarg;
            break;
        case OPT_INPUT_FORMAT:
            if (strcmp(optarg, "csv") == 0)
                options->series.format = VERGE_SERIES_CSV;
            else if (strcmp(optarg, "f32") == 0)
                options->series.format = VERGE_SERIES_F32;
            else if (strcmp(optarg, "f64") == 0)
                options->series.format = VERGE_SERIES_F64;
            else if (strcmp(optarg, "npy") == 0)
                options->series.format = VERGE_SERIES_NPY;
            else {
                fprintf(stderr, "verge features: unknown --input-format '%s': expected csv, f32, "
                                "f64 or npy\n",
                        optarg);
                return -1;
            }
            break;
        case OPT_WINDOW:
            if (parse_count(optarg, "--window", 1, VERGE_WINDOW_MAX, &options->config.window) != 0)
                return -1;
            break;
        case OPT_STEP:
            if (parse_count(optarg, "--step", 1, (unsigned long long)1 << 40,
                            &options->config.step) != 0)
                return -1;
            break;
        case OPT_FILL:
            if (verge_fill_parse(optarg, &options->config.fill) != VERGE_OK) {
                fprintf(stderr, "verge features: --fill: %s\n", verge_error_message());
                return -1;
            }
            break;
        case OPT_FEATURES:
            if (verge_features_parse_list(optarg, &options->config) != VERGE_OK) {
                fprintf(stderr, "verge features: --features: %s\n", verge_error_message());
                return -1;
            }
            break;
        case OPT_SAMPLE_RATE: {
            double rate;
            if (verge_parse_double(optarg, strlen(optarg), &rate) != VERGE_NUMBER_VALUE ||
                !(rate > 0) || isinf(rate)) {
                fprintf(stderr, "verge features: invalid value '%s' for --sample-rate: expected "
                                "a positive number of samples per second\n",
                        optarg);
                return -1;
            }
            options->config.sample_rate = rate;
            break;
        }
        case OPT_OUTPUT:
            options->output = strcmp(optarg, "-") == 0 ? NULL : optarg;
            break;
        case OPT_OUTPUT_FORMAT:
            output_format = optarg;
            break;
        case OPT_ON_ERROR:
            if (strcmp(optarg, "fail") == 0)
                options->series.skip_bad_rows = false;
            else if (strcmp(optarg, "skip") == 0)
                options->series.skip_bad_rows = true;
            else {
                fprintf(stderr, "verge features: unknown --on-error '%s': expected fail or skip\n",
                        optarg);
                return -1;
            }
            break;
        case OPT_HELP:
        case 'h':
            return 1;
        case ':':
            fprintf(stderr, "verge features: %s needs a value\n", argv[optind - 1]);
            return -1;
        default:
            cli_report_unknown_option("verge features", argv);
            return -1;
        }
    }

    if (optind >= argc) {
        fprintf(stderr, "verge features: missing INPUT (a file, or '-' for standard input)\n");
        return -1;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "verge features: one INPUT expected, got %d ('%s', '%s', ...)\n",
                argc - optind, argv[optind], argv[optind + 1]);
        return -1;
    }
    options->input = argv[optind];

    if (output_format == NULL)
        output_format = options->output != NULL && ends_with(options->output, ".npy")     ? "npy"
                        : options->output != NULL && (ends_with(options->output, ".jsonl") ||
                                                      ends_with(options->output, ".json")) ? "jsonl"
                                                                                            : "csv";
    if (strcmp(output_format, "csv") == 0)
        options->output_format = OUTPUT_CSV;
    else if (strcmp(output_format, "jsonl") == 0)
        options->output_format = OUTPUT_JSONL;
    else if (strcmp(output_format, "npy") == 0)
        options->output_format = OUTPUT_NPY;
    else {
        fprintf(stderr, "verge features: unknown --output-format '%s': expected csv, jsonl or npy\n",
                output_format);
        return -1;
    }
    if (options->output_format == OUTPUT_NPY && options->series.time_column != NULL) {
        fprintf(stderr, "verge features: .npy output holds numbers only, so it cannot carry "
                        "--time-column: use csv or jsonl output\n");
        return -1;
    }
    if (verge_features_config_check(&options->config) != VERGE_OK) {
        fprintf(stderr, "verge features: %s\n", verge_error_message());
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ time texts */

/* Time texts of samples first_index .. first_index + count - 1 that rows may still need. */
typedef struct time_store {
    char *text;
    size_t text_length;
    size_t text_capacity;
    size_t *start; /* count + 1 offsets into text, from entry `head` on */
    size_t capacity;
    size_t head;
    size_t count;
    uint64_t first_index;
} time_store;

static bool time_store_append(time_store *s, const verge_series_chunk *chunk)
{
    const size_t bytes = chunk->time_offsets[chunk->count];

    if (s->count + chunk->count + 1 > s->capacity) {
        size_t capacity = (s->count + chunk->count + 1) * 2;
        size_t *grown = realloc(s->start, capacity * sizeof(*grown));
        if (grown == NULL)
            return false;
        s->start = grown;
        s->capacity = capacity;
    }
    if (s->text_length + bytes > s->text_capacity) {
        size_t capacity = (s->text_length + bytes) * 2 + 4096;
        char *grown = realloc(s->text, capacity);
        if (grown == NULL)
            return false;
        s->text = grown;
        s->text_capacity = capacity;
    }
    if (s->count == 0)
        s->start[0] = s->text_length;
    memcpy(s->text + s->text_length, chunk->time_text, bytes);
    for (size_t i = 0; i < chunk->count; i++)
        s->start[s->count + i + 1] = s->text_length + chunk->time_offsets[i + 1];
    s->text_length += bytes;
    s->count += chunk->count;
    return true;
}

/* Forgets samples before `index`; compacts when more than half is dead. */
static void time_store_drop_before(time_store *s, uint64_t index)
{
    if (index <= s->first_index + s->head)
        return;
    size_t drop = (size_t)(index - (s->first_index + s->head));
    if (drop > s->count - s->head)
        drop = s->count - s->head;
    s->head += drop;
    if (s->head > 4096 && s->head * 2 > s->count) {
        const size_t live = s->count - s->head;
        const size_t text_from = s->start[s->head];
        memmove(s->text, s->text + text_from, s->text_length - text_from);
        s->text_length -= text_from;
        for (size_t i = 0; i <= live; i++)
            s->start[i] = s->start[s->head + i] - text_from;
        s->first_index += s->head;
        s->count = live;
        s->head = 0;
    }
}

/* ---------------------------------------------------------------- output */

/*
 * Buffered output. Full buffers go to a writer thread, so that the write(2)
 * calls (copying into the page cache costs as much as formatting the rows)
 * overlap with parsing, computing and formatting the next rows.
 */
typedef struct writer {
    int fd;
    const char *name;
    int format;
    char *buffer; /* the buffer being filled */
    size_t length;
    bool failed;  /* a write failed; reported once */
    uint64_t rows;
    size_t columns;
    char **column_names;   /* JSON keys, quoted, with ':' */
    const char *time_name; /* NULL without a time column */
    time_store times;
    char *texts;           /* the numbers of one block as text, TEXT_SLOT bytes each */
    unsigned char *text_lengths;
    size_t text_capacity;  /* numbers */

    /* Shared with the writer thread, under `lock`. */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    char *spare;   /* the free buffer, NULL while the thread writes it */
    char *pending; /* handed to the thread, NULL when there is nothing to write */
    size_t pending_length;
    int error; /* errno of the first failed write */
    bool stop;
} writer;

static int write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

static void *writer_thread(void *argument)
{
    writer *w = argument;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->pending == NULL && !w->stop)
            pthread_cond_wait(&w->changed, &w->lock);
        if (w->pending == NULL)
            break;
        char *data = w->pending;
        const size_t length = w->pending_length;
        const bool skip = w->error != 0;

        pthread_mutex_unlock(&w->lock);
        const int error = skip ? 0 : write_all(w->fd, data, length);
        pthread_mutex_lock(&w->lock);
        if (error != 0 && w->error == 0)
            w->error = error;
        w->pending = NULL;
        w->spare = data;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static bool writer_start(writer *w)
{
    w->buffer = malloc(WRITE_BUFFER);
    w->spare = malloc(WRITE_BUFFER);
    if (w->buffer == NULL || w->spare == NULL)
        return false;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
    w->thread_started = pthread_create(&w->thread, NULL, writer_thread, w) == 0;
    return w->thread_started;
}

/* Reports a write error of the thread once, as `failed`. */
static void writer_check(writer *w, int error)
{
    if (error != 0 && !w->failed) {
        fprintf(stderr, "verge features: %s: write failed: %s\n", w->name, strerror(error));
        w->failed = true;
    }
}

/* Hands the filled buffer to the writer thread (which writes it at once) and takes the other. */
static void writer_flush(writer *w)
{
    if (w->length == 0)
        return;
    pthread_mutex_lock(&w->lock);
    while (w->spare == NULL)
        pthread_cond_wait(&w->changed, &w->lock);
    w->pending = w->buffer;
    w->pending_length = w->length;
    w->buffer = w->spare;
    w->spare = NULL;
    pthread_cond_broadcast(&w->changed);
    const int error = w->error;
    pthread_mutex_unlock(&w->lock);
    w->length = 0;
    writer_check(w, error);
}

/* Writes out everything and stops the thread; returns false after a write error. */
static bool writer_finish(writer *w)
{
    if (!w->thread_started)
        return false;
    writer_flush(w);
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->thread_started = false;
    writer_check(w, w->error);
    return !w->failed;
}

static void writer_free(writer *w)
{
    if (w->thread_started) {
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_broadcast(&w->changed);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        w->thread_started = false;
    }
    /* One of the two buffers is `buffer`, the other `spare` once the thread has stopped. */
    free(w->buffer);
    free(w->spare);
    w->buffer = w->spare = NULL;
}

static inline char *writer_reserve(writer *w, size_t bytes)
{
    if (WRITE_BUFFER - w->length < bytes)
        writer_flush(w);
    return w->buffer + w->length;
}

static void write_bytes(writer *w, const char *text, size_t length)
{
    while (length > 0) {
        size_t room = WRITE_BUFFER - w->length;
        if (room == 0) {
            writer_flush(w);
            room = WRITE_BUFFER;
        }
        size_t n = length < room ? length : room;
        memcpy(w->buffer + w->length, text, n);
        w->length += n;
        text += n;
        length -= n;
    }
}

/* Writes a CSV field, quoted when it contains a comma, quote or line end. */
static void write_csv_text(writer *w, const char *text, size_t length)
{
    if (memchr(text, ',', length) == NULL && memchr(text, '"', length) == NULL &&
        memchr(text, '\n', length) == NULL && memchr(text, '\r', length) == NULL) {
        write_bytes(w, text, length);
        return;
    }
    write_bytes(w, "\"", 1);
    for (size_t i = 0; i < length; i++) {
        write_bytes(w, text + i, 1);
        if (text[i] == '"')
            write_bytes(w, "\"", 1);
    }
    write_bytes(w, "\"", 1);
}

/* Writes a JSON string literal (RFC 8259 escapes). */
static void write_json_text(writer *w, const char *text, size_t length)
{
    static const char hex[] = "0123456789abcdef";

    write_bytes(w, "\"", 1);
    for (size_t i = 0; i < length; i++) {
        const unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            char escaped[2] = {'\\', (char)c};
            write_bytes(w, escaped, 2);
        } else if (c < 0x20) {
            char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            write_bytes(w, escaped, 6);
        } else {
            write_bytes(w, (const char *)&c, 1);
        }
    }
    write_bytes(w, "\"", 1);
}

/* Fills the 128-byte .npy header (format 1.0, float64, C order) for rows x columns. */
static void format_npy_header(char *header, uint64_t rows, size_t columns)
{
    int length;

    memset(header, ' ', NPY_HEADER);
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    header[8] = (char)((NPY_HEADER - 10) & 0xff);
    header[9] = (char)((NPY_HEADER - 10) >> 8);
    length = snprintf(header + 10, NPY_HEADER - 10,
                      "{'descr': '<f8', 'fortran_order': False, 'shape': (%llu, %zu), }",
                      (unsigned long long)rows, columns);
    header[10 + length] = ' '; /* snprintf's NUL becomes padding */
    header[NPY_HEADER - 1] = '\n';
}

/*
 * Formats the block's numbers into fixed slots first: formatting one number
 * does not then wait for the length of the one before, so the CPU overlaps
 * them. Returns false when out of memory.
 */
static bool format_block(writer *w, const verge_features_block *block)
{
    const size_t count = block->rows * block->columns;

    if (count > w->text_capacity) {
        char *texts = realloc(w->texts, count * TEXT_SLOT);
        unsigned char *lengths = realloc(w->text_lengths, count);
        if (texts != NULL)
            w->texts = texts;
        if (lengths != NULL)
            w->text_lengths = lengths;
        if (texts == NULL || lengths == NULL)
            return false;
        w->text_capacity = count;
    }
    for (size_t i = 0; i < count; i++)
        w->text_lengths[i] = (unsigned char)verge_format_double(block->values[i],
                                                                w->texts + i * TEXT_SLOT);
    return true;
}

static verge_status write_rows(void *user, const verge_features_block *block)
{
    writer *w = user;
    const size_t columns = block->columns;

    if (w->format != OUTPUT_NPY && !format_block(w, block)) {
        fprintf(stderr, "verge features: %s: out of memory\n", w->name);
        w->failed = true;
        return VERGE_STATUS_OUT_OF_MEMORY;
    }

    for (size_t r = 0; r < block->rows; r++) {
        const double *row = block->values + r * columns;
        const uint64_t end = block->first_end + r * block->step;
        const char *time = NULL;
        size_t time_length = 0;

        if (w->time_name != NULL) {
            const time_store *s = &w->times;
            const size_t at = s->head + (size_t)(end - (s->first_index + s->head));
            time = s->text + s->start[at];
            time_length = s->start[at + 1] - s->start[at];
        }

        if (w->format == OUTPUT_NPY) {
            char *p = writer_reserve(w, columns * sizeof(double));
            if (columns * sizeof(double) <= WRITE_BUFFER) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                memcpy(p, row, columns * sizeof(double));
                w->length += columns * sizeof(double);
#else
                for (size_t c = 0; c < columns; c++) {
                    uint64_t bits;
                    memcpy(&bits, &row[c], 8);
                    for (int b = 0; b < 8; b++)
                        p[c * 8 + b] = (char)(bits >> (8 * b));
                }
                w->length += columns * sizeof(double);
#endif
            } else {
                write_bytes(w, (const char *)row, columns * sizeof(double));
            }
        } else if (w->format == OUTPUT_CSV) {
            if (time != NULL) {
                write_csv_text(w, time, time_length);
                write_bytes(w, ",", 1);
            }
            for (size_t c = 0; c < columns; c++) {
                const size_t i = r * columns + c;
                const size_t n = w->text_lengths[i];
                char *p = writer_reserve(w, 32 + 1);
                memcpy(p, w->texts + i * TEXT_SLOT, 32); /* fixed size: at most 24 are text */
                p[n] = c + 1 < columns ? ',' : '\n';
                w->length += n + 1;
            }
        } else {
            write_bytes(w, "{", 1);
            if (time != NULL) {
                write_json_text(w, w->time_name, strlen(w->time_name));
                write_bytes(w, ":", 1);
                write_json_text(w, time, time_length);
                write_bytes(w, ",", 1);
            }
            for (size_t c = 0; c < columns; c++) {
                write_bytes(w, w->column_names[c], strlen(w->column_names[c]));
                const size_t i = r * columns + c;
                char *p = writer_reserve(w, 32 + 1);
                size_t n;
                /* JSON has no NaN or infinity. */
                if (row[c] - row[c] == 0) {
                    n = w->text_lengths[i];
                    memcpy(p, w->texts + i * TEXT_SLOT, 32);
                } else {
                    memcpy(p, "null", 4);
                    n = 4;
                }
                p[n] = c + 1 < columns ? ',' : '}';
                w->length += n + 1;
            }
            write_bytes(w, "\n", 1);
        }
    }
    w->rows += block->rows;
    if (w->time_name != NULL && block->rows > 0)
        time_store_drop_before(&w->times, block->first_end + (block->rows - 1) * block->step + 1);
    return w->failed ? VERGE_STATUS_IO_ERROR : VERGE_OK;
}

static bool write_header(writer *w, const verge_features_config *config)
{
    char name[64];

    w->column_names = calloc(w->columns, sizeof(*w->column_names));
    if (w->column_names == NULL)
        return false;
    for (size_t c = 0; c < w->columns; c++) {
        verge_features_column_name(config, c, name, sizeof(name));
        w->column_names[c] = malloc(strlen(name) + 4);
        if (w->column_names[c] == NULL)
            return false;
        sprintf(w->column_names[c], "\"%s\":", name);
    }

    if (w->format == OUTPUT_NPY) {
        char header[NPY_HEADER];
        format_npy_header(header, 0, w->columns);
        write_bytes(w, header, sizeof(header));
    } else if (w->format == OUTPUT_CSV) {
        if (w->time_name != NULL) {
            write_csv_text(w, w->time_name, strlen(w->time_name));
            write_bytes(w, ",", 1);
        }
        for (size_t c = 0; c < w->columns; c++) {
            verge_features_column_name(config, c, name, sizeof(name));
            write_bytes(w, name, strlen(name));
            write_bytes(w, c + 1 < w->columns ? "," : "\n", 1);
        }
    }
    return true;
}

/* ------------------------------------------------------------- the job */

/* Whether the input is a pipe or terminal, whose rows should be flushed as they come. */
static bool input_is_live(const char *path)
{
    struct stat st;
    int result = strcmp(path, "-") == 0 ? fstat(STDIN_FILENO, &st) : stat(path, &st);
    return result == 0 && !S_ISREG(st.st_mode);
}

/* Prints a failure; adds the --on-error hint when a bad row stopped the job. */
static void report_failure(const features_options *options, verge_status status)
{
    const char *message = verge_error_message();
    const bool bad_row = status == VERGE_STATUS_INVALID_DATA && !options->series.skip_bad_rows &&
                         (strstr(message, "is not a number") != NULL ||
                          strstr(message, "fields, but the header") != NULL ||
                          strstr(message, "quote") != NULL);

    fprintf(stderr, "verge features: %s%s\n", message,
            bad_row ? " (--on-error skip drops bad rows and counts them)" : "");
}

typedef struct sample_array {
    double *values;
    size_t count;
    size_t capacity;
} sample_array;

static bool sample_array_append(sample_array *a, const double *values, size_t count)
{
    if (a->count + count > a->capacity) {
        size_t capacity = (a->count + count) * 2 + 65536;
        double *grown = realloc(a->values, capacity * sizeof(*grown));
        if (grown == NULL)
            return false;
        a->values = grown;
        a->capacity = capacity;
    }
    memcpy(a->values + a->count, values, count * sizeof(*values));
    a->count += count;
    return true;
}

static int run_job(features_options *options)
{
    verge_series_reader *reader = NULL;
    verge_features_stream *stream = NULL;
    verge_series_info info;
    verge_series_chunk chunk;
    verge_features_stats stats;
    sample_array whole = {NULL, 0, 0};
    writer w;
    int exit_code = 1;
    verge_status status;
    const char *input_name = strcmp(options->input, "-") == 0 ? "<stdin>" : options->input;
    const bool whole_series = options->config.fill.method == VERGE_FILL_MEDIAN ||
                              options->config.fill.method == VERGE_FILL_MEAN;
    const bool live = !whole_series && input_is_live(options->input);

    memset(&w, 0, sizeof(w));
    w.fd = STDOUT_FILENO;
    w.name = options->output != NULL ? options->output : "<stdout>";
    w.format = options->output_format;
    w.columns = verge_features_columns(&options->config);

    status = verge_series_reader_open(options->input, &options->series, &reader);
    if (status != VERGE_OK) {
        report_failure(options, status);
        goto cleanup;
    }
    if (options->output != NULL) {
        w.fd = open(options->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w.fd < 0) {
            fprintf(stderr, "verge features: %s: cannot create: %s\n", options->output,
                    strerror(errno));
            goto cleanup;
        }
    }
    if (w.format == OUTPUT_NPY) {
        struct stat st;
        if (fstat(w.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "verge features: .npy output needs a regular file (its header "
                            "holds the row count, written last): use --output FILE.npy\n");
            goto cleanup;
        }
    }

    if (!writer_start(&w)) {
        fprintf(stderr, "verge features: cannot start the output thread\n");
        goto cleanup;
    }

    /* The first chunk contains the header names, so read it before writing anything. */
    status = verge_series_reader_next(reader, &chunk);
    if (status != VERGE_OK) {
        report_failure(options, status);
        goto cleanup;
    }
    verge_series_reader_info(reader, &info);
    w.time_name = info.time_column_name;
    if (!write_header(&w, &options->config)) {
        fprintf(stderr, "verge features: out of memory\n");
        goto cleanup;
    }

    if (whole_series) {
        /* Median and mean need every sample before the first row. */
        do {
            if (!sample_array_append(&whole, chunk.values, chunk.count) ||
                (w.time_name != NULL && !time_store_append(&w.times, &chunk))) {
                fprintf(stderr, "verge features: out of memory after %zu samples\n", whole.count);
                goto cleanup;
            }
        } while ((status = verge_series_reader_next(reader, &chunk)) == VERGE_OK);
        if (status != VERGE_STATUS_END_OF_STREAM) {
            report_failure(options, status);
            goto cleanup;
        }

        double value = 0;
        const bool median = options->config.fill.method == VERGE_FILL_MEDIAN;
        bool missing = false;
        for (size_t i = 0; i < whole.count && !missing; i++)
            missing = whole.values[i] != whole.values[i];
        if (missing) {
            status = median ? verge_series_median(whole.values, whole.count, &value)
                            : verge_series_mean(whole.values, whole.count, &value);
            if (status != VERGE_OK) {
                fprintf(stderr, "verge features: %s: column '%s': %s\n", input_name,
                        info.column_name, verge_error_message());
                goto cleanup;
            }
        }
        options->config.fill.method = VERGE_FILL_CONSTANT;
        options->config.fill.value = value;
    }

    status = verge_features_stream_create(&options->config, write_rows, &w, &stream);
    if (status != VERGE_OK) {
        fprintf(stderr, "verge features: %s\n", verge_error_message());
        goto cleanup;
    }
    if (whole_series) {
        status = verge_features_stream_push(stream, whole.values, whole.count);
        if (status != VERGE_OK && !w.failed)
            report_failure(options, status);
    } else {
        do {
            if (w.time_name != NULL && !time_store_append(&w.times, &chunk)) {
                fprintf(stderr, "verge features: out of memory\n");
                goto cleanup;
            }
            status = verge_features_stream_push(stream, chunk.values, chunk.count);
            if (status != VERGE_OK)
                break;
            if (live)
                writer_flush(&w);
        } while ((status = verge_series_reader_next(reader, &chunk)) == VERGE_OK);
        if (status == VERGE_STATUS_END_OF_STREAM)
            status = VERGE_OK;
        else if (status != VERGE_STATUS_IO_ERROR || !w.failed)
            report_failure(options, status);
    }
    if (status == VERGE_OK) {
        status = verge_features_stream_finish(stream);
        if (status != VERGE_OK && !w.failed)
            fprintf(stderr, "verge features: %s: %s\n", input_name, verge_error_message());
    }
    if (!writer_finish(&w) || status != VERGE_OK)
        goto cleanup;

    if (w.format == OUTPUT_NPY) {
        char header[NPY_HEADER];
        format_npy_header(header, w.rows, w.columns);
        if (pwrite(w.fd, header, sizeof(header), 0) != (ssize_t)sizeof(header)) {
            fprintf(stderr, "verge features: %s: cannot rewrite the .npy header: %s\n", w.name,
                    strerror(errno));
            goto cleanup;
        }
    }

    verge_series_reader_info(reader, &info);
    verge_features_stream_stats(stream, &stats);
    if (info.skipped_rows > 0)
        fprintf(stderr, "verge features: %s: skipped %llu bad rows (first: %s)\n", input_name,
                (unsigned long long)info.skipped_rows, info.first_skip);
    if (stats.nan_windows > 0 || stats.inf_windows > 0)
        fprintf(stderr, "verge features: %llu windows contained NaN (all their features are "
                        "NaN) and %llu contained +-inf without NaN\n",
                (unsigned long long)stats.nan_windows, (unsigned long long)stats.inf_windows);
    exit_code = 0;

cleanup:
    writer_free(&w);
    if (w.fd >= 0 && w.fd != STDOUT_FILENO && close(w.fd) != 0 && exit_code == 0) {
        fprintf(stderr, "verge features: %s: close failed: %s\n", w.name, strerror(errno));
        exit_code = 1;
    }
    if (w.column_names != NULL) {
        for (size_t c = 0; c < w.columns; c++)
            free(w.column_names[c]);
        free(w.column_names);
    }
    free(w.times.text);
    free(w.times.start);
    free(w.texts);
    free(w.text_lengths);
    free(whole.values);
    verge_features_stream_destroy(stream);
    verge_series_reader_close(reader);
    return exit_code;
}

int verge_cmd_features(int argc, char **argv)
{
    features_options options;
    int parsed = parse_options(argc, argv, &options);

    if (parsed == 1) {
        print_help(stdout);
        return 0;
    }
    if (parsed != 0) {
        fprintf(stderr, "Run 'verge features --help' for the options.\n");
        return 2;
    }
    return run_job(&options);
}
