/*
 * `verge features INPUT`: fills missing samples of one column of a sensor
 * series and writes sliding-window features, one row per window, as CSV,
 * JSON Lines or .npy.
 *
 * Fills that need the whole series (median, mean) read the input first;
 * every other fill streams: rows are written as soon as their window is
 * complete, and flushed after every read when the input is a pipe.
 */
/* sync_file_range() is a GNU extension of fcntl.h. */
#define _GNU_SOURCE
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
enum { NPY_HEADER = 128, TEXT_SLOT = VERGE_DOUBLE_TEXT_MAX };

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

/* Parses a whole number in min..max into a size; prints a usage error otherwise. */
static int parse_count(const char *text, const char *option, long long min, long long max,
                       size_t *value)
{
    long long parsed;

    if (cli_parse_integer("verge features", text, option, min, max, &parsed) != 0)
        return -1;
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
            if (parse_count(optarg, "--step", 1, 1LL << 40, &options->config.step) != 0)
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

    if (cli_check_positional("verge features", argc, argv, optind, 1,
                             "INPUT (a file, or '-' for standard input)") != 0)
        return -1;
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
 * The output pipeline. Rows arrive from the stream in blocks and are copied
 * into a ring of batches (values, and the time texts they need). A batch is
 * turned into text by whichever thread is free: the formatting thread, or
 * the main thread while it would otherwise wait for a free batch. The
 * writer thread writes the batches in order. Formatting the numbers costs
 * more than reading, filling and computing together, so with two cores it
 * runs on both, beside the write(2) calls.
 */

/*
 * Large output files stream through a bounded part of the page cache. From
 * DROP_START bytes on, each DROP_PIECE goes to the disk as soon as it is
 * written. Pieces more than DROP_LAG behind are waited for and dropped from
 * the cache (writer_drop_behind()).
 */
#define DROP_START ((uint64_t)16 << 20)
#define DROP_PIECE ((uint64_t)4 << 20)
#define DROP_LAG ((uint64_t)16 << 20)

enum {
    BATCH_COUNT = 8,          /* batches in the ring */
    BATCH_VALUES = 1 << 15,   /* values per batch: rows = this / columns, at least 1 */
    SLOT_COUNT = 1024,        /* numbers formatted ahead into fixed slots */
};

typedef enum batch_state {
    BATCH_FREE,       /* owned by the main thread, being filled or empty */
    BATCH_READY,      /* complete, waits for formatting */
    BATCH_FORMATTING, /* a thread formats it */
    BATCH_FORMATTED,  /* waits for the writer */
    BATCH_WRITING,    /* the writer writes it */
} batch_state;

/* Text that grows as needed. `failed` is set when an allocation failed. */
typedef struct text_buffer {
    char *data;
    size_t length;
    size_t capacity;
    bool failed;
} text_buffer;

typedef struct batch {
    batch_state state;
    bool preformatted; /* `text` is already the output (the header) */
    size_t rows;
    double *values;    /* rows * columns */
    text_buffer times; /* time texts of the rows, back to back */
    size_t *time_ends; /* rows: end offset of each row's time text in `times` */
    text_buffer text;  /* the output bytes */
} batch;

/* One formatting thread's scratch: numbers formatted ahead into fixed slots. */
typedef struct slots {
    char *texts; /* SLOT_COUNT * TEXT_SLOT bytes */
    unsigned char lengths[SLOT_COUNT];
} slots;

typedef struct writer {
    int fd;
    const char *name;
    int format;
    size_t columns;
    char **column_names;   /* JSON keys, quoted, with ':' */
    const char *time_name; /* NULL without a time column */
    const verge_features_config *config;
    bool header_written;
    time_store times;
    size_t batch_rows;
    bool failed; /* a write failed or memory ran out; reported once */
    uint64_t rows;
    uint64_t filled; /* batches handed over; batch `filled % BATCH_COUNT` is the open one */
    slots main_slots;

    /* Shared with the threads, under `lock`. */
    batch batches[BATCH_COUNT];
    uint64_t formatting; /* next batch to format */
    uint64_t written;    /* next batch to write */
    pthread_t writer_thread;
    pthread_t format_thread;
    bool writer_started;
    bool format_started;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int error;       /* errno of the first failed write, or ENOMEM */
    bool stop;       /* no batch will be added */

    /* Writer thread only: drop-behind of a regular output file. */
    bool drop_behind;
    off_t base;          /* file offset of the first byte written */
    uint64_t bytes;      /* bytes written */
    uint64_t flushing;   /* bytes handed to the disk, a multiple of DROP_PIECE */
    uint64_t dropped;    /* bytes dropped from the page cache */
} writer;

static char *text_reserve(text_buffer *t, size_t bytes)
{
    if (t->capacity - t->length < bytes) {
        size_t capacity = t->capacity * 2;
        if (capacity < t->length + bytes)
            capacity = t->length + bytes;
        if (capacity < 4096)
            capacity = 4096;
        char *grown = realloc(t->data, capacity);
        if (grown == NULL) {
            t->failed = true;
            return NULL;
        }
        t->data = grown;
        t->capacity = capacity;
    }
    return t->data + t->length;
}

static void text_append(text_buffer *t, const char *bytes, size_t length)
{
    char *p = text_reserve(t, length);
    if (p != NULL) {
        memcpy(p, bytes, length);
        t->length += length;
    }
}

/* Appends a CSV field, quoted when it contains a comma, quote or line end. */
static void text_csv_field(text_buffer *t, const char *text, size_t length)
{
    if (memchr(text, ',', length) == NULL && memchr(text, '"', length) == NULL &&
        memchr(text, '\n', length) == NULL && memchr(text, '\r', length) == NULL) {
        text_append(t, text, length);
        return;
    }
    char *p = text_reserve(t, 2 * length + 2);
    if (p == NULL)
        return;
    *p++ = '"';
    for (size_t i = 0; i < length; i++) {
        *p++ = text[i];
        if (text[i] == '"')
            *p++ = '"';
    }
    *p++ = '"';
    t->length = (size_t)(p - t->data);
}

/*
 * Returns the length (2 to 4) of the well-formed UTF-8 sequence at text[0],
 * a byte of 0x80 or more, within `available` bytes, or 0 when it is not one:
 * a stray continuation byte, a cut sequence, an overlong form, a surrogate
 * or a code point above U+10FFFF. The same rule as src/cli/json.c.
 */
static size_t utf8_sequence_length(const unsigned char *text, size_t available)
{
    size_t length;
    unsigned min, code;

    if (text[0] >= 0xc2 && text[0] <= 0xdf) {
        length = 2;
        min = 0x80;
        code = text[0] & 0x1fu;
    } else if (text[0] >= 0xe0 && text[0] <= 0xef) {
        length = 3;
        min = 0x800;
        code = text[0] & 0x0fu;
    } else if (text[0] >= 0xf0 && text[0] <= 0xf4) {
        length = 4;
        min = 0x10000;
        code = text[0] & 0x07u;
    } else {
        return 0;
    }
    if (length > available)
        return 0;
    for (size_t i = 1; i < length; i++) {
        if ((text[i] & 0xc0) != 0x80)
            return 0;
        code = code << 6 | (text[i] & 0x3fu);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return 0;
    return length;
}

/*
 * Appends a JSON string literal (RFC 8259 escapes). JSON text must be UTF-8,
 * so each byte that is not part of a well-formed sequence becomes U+FFFD.
 */
static void text_json_string(text_buffer *t, const char *text, size_t length)
{
    static const char hex[] = "0123456789abcdef";
    char *p = text_reserve(t, 6 * length + 2);

    if (p == NULL)
        return;
    *p++ = '"';
    for (size_t i = 0; i < length; i++) {
        const unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else if (c < 0x80) {
            *p++ = (char)c;
        } else {
            const size_t n = utf8_sequence_length((const unsigned char *)text + i, length - i);
            if (n == 0) {
                memcpy(p, "\\ufffd", 6);
                p += 6;
            } else {
                memcpy(p, text + i, n);
                p += n;
                i += n - 1;
            }
        }
    }
    *p++ = '"';
    t->length = (size_t)(p - t->data);
}

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

/* Returns the time text of row `row` of a batch. */
static const char *batch_time(const batch *b, size_t row, size_t *length)
{
    const size_t start = row > 0 ? b->time_ends[row - 1] : 0;
    *length = b->time_ends[row] - start;
    return b->times.data + start;
}

/*
 * Appends values from .. from + count - 1 of a CSV or JSON Lines batch (in
 * row-major order, count <= SLOT_COUNT) to its text. The numbers are
 * formatted into fixed slots first: formatting one number then does not
 * wait for the length of the one before, so the CPU overlaps them.
 */
static void format_values(const writer *w, batch *b, size_t from, size_t count, slots *s)
{
    const size_t columns = w->columns;
    const double *values = b->values + from;
    text_buffer *t = &b->text;
    size_t row = from / columns;
    size_t column = from % columns;

    for (size_t i = 0; i < count; i++)
        s->lengths[i] = (unsigned char)verge_format_double(values[i], s->texts + i * TEXT_SLOT);

    for (size_t i = 0; i < count; i++) {
        if (column == 0) {
            size_t time_length = 0;
            const char *time = w->time_name != NULL ? batch_time(b, row, &time_length) : NULL;
            if (w->format == OUTPUT_CSV && time != NULL) {
                text_csv_field(t, time, time_length);
                text_append(t, ",", 1);
            } else if (w->format == OUTPUT_JSONL) {
                text_append(t, "{", 1);
                if (time != NULL) {
                    text_json_string(t, w->time_name, strlen(w->time_name));
                    text_append(t, ":", 1);
                    text_json_string(t, time, time_length);
                    text_append(t, ",", 1);
                }
            }
        }
        const bool last = column + 1 == columns;
        /* A number takes at most 24 bytes; its slot is copied 32 bytes at a time. */
        if (w->format == OUTPUT_CSV) {
            char *p = text_reserve(t, 32 + 1);
            if (p == NULL)
                return;
            memcpy(p, s->texts + i * TEXT_SLOT, 32);
            p[s->lengths[i]] = last ? '\n' : ',';
            t->length += s->lengths[i] + 1;
        } else {
            const size_t key = strlen(w->column_names[column]);
            char *p = text_reserve(t, key + 32 + 2);
            if (p == NULL)
                return;
            memcpy(p, w->column_names[column], key);
            p += key;
            /* JSON has no NaN or infinity. */
            if (values[i] - values[i] == 0) {
                memcpy(p, s->texts + i * TEXT_SLOT, 32);
                p += s->lengths[i];
            } else {
                memcpy(p, "null", 4);
                p += 4;
            }
            if (last) {
                memcpy(p, "}\n", 2);
                p += 2;
            } else {
                *p++ = ',';
            }
            t->length = (size_t)(p - t->data);
        }
        column = last ? 0 : column + 1;
        row += last;
    }
}

/* Turns a batch's rows into its output bytes. */
static void format_batch(const writer *w, batch *b, slots *s)
{
    const size_t count = b->rows * w->columns;

    if (b->preformatted)
        return;
    b->text.length = 0;
    if (w->format == OUTPUT_NPY) {
        char *p = text_reserve(&b->text, count * sizeof(double));
        if (p == NULL)
            return;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(p, b->values, count * sizeof(double));
#else
        for (size_t i = 0; i < count; i++) {
            uint64_t bits;
            memcpy(&bits, &b->values[i], 8);
            for (int byte = 0; byte < 8; byte++)
                p[i * 8 + byte] = (char)(bits >> (8 * byte));
        }
#endif
        b->text.length = count * sizeof(double);
        return;
    }
    for (size_t from = 0; from < count && !b->text.failed; from += SLOT_COUNT)
        format_values(w, b, from, count - from < SLOT_COUNT ? count - from : SLOT_COUNT, s);
}

/*
 * Formats the next ready batch, if there is one; called with the lock held,
 * which it releases while formatting. Returns whether it formatted one.
 */
static bool format_next(writer *w, slots *s)
{
    batch *b = &w->batches[w->formatting % BATCH_COUNT];

    if (w->formatting == w->filled || b->state != BATCH_READY)
        return false;
    /* After a failure nothing more is written, so there is nothing to format either. */
    const bool skip = w->error != 0;
    b->state = BATCH_FORMATTING;
    w->formatting++;
    pthread_mutex_unlock(&w->lock);
    if (!skip)
        format_batch(w, b, s);
    pthread_mutex_lock(&w->lock);
    if (b->text.failed && w->error == 0)
        w->error = ENOMEM;
    b->state = BATCH_FORMATTED;
    pthread_cond_broadcast(&w->changed);
    return true;
}

static void *format_thread(void *argument)
{
    writer *w = argument;
    slots s;

    s.texts = malloc(SLOT_COUNT * TEXT_SLOT);
    pthread_mutex_lock(&w->lock);
    /* Without scratch memory this thread leaves the formatting to the main thread. */
    while (s.texts != NULL) {
        if (format_next(w, &s))
            continue;
        if (w->stop && w->formatting == w->filled)
            break;
        pthread_cond_wait(&w->changed, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    free(s.texts);
    return NULL;
}

/*
 * Keeps a large output file from filling the page cache. A write through
 * the cache takes a fresh page for every 4 KiB of output, and the pages stay
 * dirty until the kernel writes them back. So a 500 MB output would take
 * 500 MB of memory and pay the first touch of every page, which is slow in
 * virtual machines that hand free memory back to the host. Once DROP_START
 * bytes are out, each complete DROP_PIECE goes to the disk at once
 * (sync_file_range without waiting). A piece more than DROP_LAG behind is
 * waited for and dropped (posix_fadvise DONTNEED). The cache then holds at
 * most DROP_LAG + 2 DROP_PIECE of the output, and its pages are reused. The
 * sizes are small so that few fresh pages are taken before that starts. A
 * disk slower than the command paces it, as the kernel's dirty page limit
 * would for an output larger than that limit anyway. Both calls are advice,
 * so their errors are ignored: write errors still come from write(2).
 */
static void writer_drop_behind(writer *w)
{
#if defined(__linux__)
    if (!w->drop_behind || w->bytes < DROP_START)
        return;
    while (w->bytes - w->flushing >= DROP_PIECE) {
        sync_file_range(w->fd, w->base + (off_t)w->flushing, (off_t)DROP_PIECE,
                        SYNC_FILE_RANGE_WRITE);
        w->flushing += DROP_PIECE;
    }
    while (w->flushing - w->dropped >= DROP_LAG + DROP_PIECE) {
        const off_t at = w->base + (off_t)w->dropped;
        sync_file_range(w->fd, at, (off_t)DROP_PIECE,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER);
        posix_fadvise(w->fd, at, (off_t)DROP_PIECE, POSIX_FADV_DONTNEED);
        w->dropped += DROP_PIECE;
    }
#else
    (void)w;
#endif
}

static void *writer_thread(void *argument)
{
    writer *w = argument;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        batch *b = &w->batches[w->written % BATCH_COUNT];
        if (w->written < w->filled && b->state == BATCH_FORMATTED) {
            const bool skip = w->error != 0;
            b->state = BATCH_WRITING;
            pthread_mutex_unlock(&w->lock);
            const int error = skip ? 0 : write_all(w->fd, b->text.data, b->text.length);
            if (!skip && error == 0) {
                w->bytes += b->text.length;
                writer_drop_behind(w);
            }
            pthread_mutex_lock(&w->lock);
            if (error != 0 && w->error == 0)
                w->error = error;
            b->state = BATCH_FREE;
            w->written++;
            pthread_cond_broadcast(&w->changed);
            continue;
        }
        if (w->stop && w->written == w->filled)
            break;
        pthread_cond_wait(&w->changed, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Prepares the batches and starts the threads; false when out of memory or threads. */
static bool writer_start(writer *w)
{
    w->batch_rows = BATCH_VALUES / w->columns > 0 ? BATCH_VALUES / w->columns : 1;
    w->main_slots.texts = malloc(SLOT_COUNT * TEXT_SLOT);
    if (w->main_slots.texts == NULL)
        return false;
    for (size_t i = 0; i < BATCH_COUNT; i++) {
        batch *b = &w->batches[i];
        b->values = malloc(w->batch_rows * w->columns * sizeof(double));
        b->time_ends = malloc(w->batch_rows * sizeof(size_t));
        if (b->values == NULL || b->time_ends == NULL)
            return false;
    }
    /* Drop-behind suits a regular file written from a known offset (not one opened to append). */
    struct stat st;
    const int flags = fcntl(w->fd, F_GETFL);
    w->base = lseek(w->fd, 0, SEEK_CUR);
    w->drop_behind = fstat(w->fd, &st) == 0 && S_ISREG(st.st_mode) && flags >= 0 &&
                     (flags & O_APPEND) == 0 && w->base >= 0;

    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
    w->writer_started = pthread_create(&w->writer_thread, NULL, writer_thread, w) == 0;
    if (!w->writer_started)
        return false;
    /* On one core the main thread formats everything itself. */
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
        w->format_started = pthread_create(&w->format_thread, NULL, format_thread, w) == 0;
    return true;
}

/* Reports a write or memory error of the threads once, as `failed`. */
static void writer_check(writer *w, int error)
{
    if (error != 0 && !w->failed) {
        fprintf(stderr, "verge features: %s: write failed: %s\n", w->name, strerror(error));
        w->failed = true;
    }
}

/*
 * Hands the open batch over for formatting and writing, and waits until the
 * next one is free, formatting ready batches meanwhile.
 */
static void writer_flush(writer *w)
{
    batch *b = &w->batches[w->filled % BATCH_COUNT];

    if (b->rows == 0 && !b->preformatted)
        return;
    pthread_mutex_lock(&w->lock);
    b->state = BATCH_READY;
    w->filled++;
    pthread_cond_broadcast(&w->changed);
    batch *next = &w->batches[w->filled % BATCH_COUNT];
    while (next->state != BATCH_FREE || w->written + BATCH_COUNT <= w->filled) {
        if (!format_next(w, &w->main_slots))
            pthread_cond_wait(&w->changed, &w->lock);
    }
    /* Without a formatting thread, what was handed over is formatted now, not when the ring is full. */
    while (!w->format_started && format_next(w, &w->main_slots))
        ;
    const int error = w->error;
    pthread_mutex_unlock(&w->lock);
    next->rows = 0;
    next->preformatted = false;
    next->times.length = 0;
    writer_check(w, error);
}

/* Writes out everything and stops the threads; returns false after a write error. */
static bool writer_finish(writer *w)
{
    if (!w->writer_started)
        return false;
    writer_flush(w);
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->changed);
    while (w->written < w->filled) {
        if (!format_next(w, &w->main_slots))
            pthread_cond_wait(&w->changed, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->writer_thread, NULL);
    w->writer_started = false;
    if (w->format_started) {
        pthread_join(w->format_thread, NULL);
        w->format_started = false;
    }
    writer_check(w, w->error);
    return !w->failed;
}

/* Stops the threads (after a failure, unwritten batches are dropped) and frees the batches. */
static void writer_free(writer *w)
{
    if (w->writer_started || w->format_started) {
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        /* Batches nobody formatted count as written, so that the threads can stop. */
        if (w->error == 0)
            w->error = ECANCELED;
        pthread_cond_broadcast(&w->changed);
        while (w->written < w->filled) {
            if (!format_next(w, &w->main_slots))
                pthread_cond_wait(&w->changed, &w->lock);
        }
        pthread_mutex_unlock(&w->lock);
        if (w->writer_started)
            pthread_join(w->writer_thread, NULL);
        if (w->format_started)
            pthread_join(w->format_thread, NULL);
        w->writer_started = w->format_started = false;
    }
    for (size_t i = 0; i < BATCH_COUNT; i++) {
        batch *b = &w->batches[i];
        free(b->values);
        free(b->time_ends);
        free(b->times.data);
        free(b->text.data);
    }
    free(w->main_slots.texts);
    memset(w->batches, 0, sizeof(w->batches));
    w->main_slots.texts = NULL;
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

/* Builds the JSON Lines keys of the feature columns. */
static bool prepare_column_names(writer *w, const verge_features_config *config)
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
    return true;
}

/*
 * Queues the header line (CSV) or the provisional .npy header as the first
 * output, once. It waits for the first row, or for a successful end without
 * rows, so that a failed job leaves no header without rows behind.
 */
static bool write_header(writer *w)
{
    batch *b = &w->batches[w->filled % BATCH_COUNT];
    text_buffer *t = &b->text;

    if (w->header_written)
        return true;
    w->header_written = true;
    t->length = 0;
    if (w->format == OUTPUT_NPY) {
        char header[NPY_HEADER];
        format_npy_header(header, 0, w->columns);
        text_append(t, header, sizeof(header));
    } else if (w->format == OUTPUT_CSV) {
        char name[64];

        if (w->time_name != NULL) {
            text_csv_field(t, w->time_name, strlen(w->time_name));
            text_append(t, ",", 1);
        }
        for (size_t c = 0; c < w->columns; c++) {
            verge_features_column_name(w->config, c, name, sizeof(name));
            text_append(t, name, strlen(name));
            text_append(t, c + 1 < w->columns ? "," : "\n", 1);
        }
    }
    if (t->failed) {
        fprintf(stderr, "verge features: %s: out of memory\n", w->name);
        w->failed = true;
        return false;
    }
    b->preformatted = true;
    writer_flush(w);
    return !w->failed;
}

/* The stream's sink: copies rows, and the time texts they need, into batches. */
static verge_status write_rows(void *user, const verge_features_block *block)
{
    writer *w = user;
    const size_t columns = block->columns;

    if (block->rows > 0 && !write_header(w))
        return VERGE_STATUS_IO_ERROR;
    for (size_t r = 0; r < block->rows;) {
        batch *b = &w->batches[w->filled % BATCH_COUNT];
        size_t take = w->batch_rows - b->rows;
        if (take > block->rows - r)
            take = block->rows - r;
        memcpy(b->values + b->rows * columns, block->values + r * columns,
               take * columns * sizeof(double));
        if (w->time_name != NULL) {
            const time_store *s = &w->times;
            for (size_t i = 0; i < take; i++) {
                const uint64_t end = block->first_end + (r + i) * block->step;
                const size_t at = s->head + (size_t)(end - (s->first_index + s->head));
                text_append(&b->times, s->text + s->start[at], s->start[at + 1] - s->start[at]);
                b->time_ends[b->rows + i] = b->times.length;
            }
            if (b->times.failed) {
                fprintf(stderr, "verge features: %s: out of memory\n", w->name);
                w->failed = true;
                return VERGE_STATUS_OUT_OF_MEMORY;
            }
        }
        b->rows += take;
        r += take;
        if (b->rows == w->batch_rows)
            writer_flush(w);
        if (w->failed)
            return VERGE_STATUS_IO_ERROR;
    }
    w->rows += block->rows;
    if (w->time_name != NULL && block->rows > 0)
        time_store_drop_before(&w->times, block->first_end + (block->rows - 1) * block->step + 1);
    return VERGE_OK;
}

/* ------------------------------------------------------------- the job */

/* Whether the input is a pipe or terminal, whose rows should be flushed as they come. */
static bool input_is_live(const char *path)
{
    struct stat st;
    int result = strcmp(path, "-") == 0 ? fstat(STDIN_FILENO, &st) : stat(path, &st);
    return result == 0 && !S_ISREG(st.st_mode);
}

/*
 * Whether the output file descriptor is the input file itself (the same
 * device and inode, so other names and links of it count). Writing there
 * would destroy the input or read back the rows being written. Only a
 * regular input can be that: a terminal may well be standard input and
 * output at once.
 */
static bool output_is_input(const char *input, int out_fd)
{
    struct stat in, out;
    const int result = strcmp(input, "-") == 0 ? fstat(STDIN_FILENO, &in) : stat(input, &in);

    return result == 0 && S_ISREG(in.st_mode) && fstat(out_fd, &out) == 0 &&
           in.st_dev == out.st_dev && in.st_ino == out.st_ino;
}

/* Prints a failure; adds the --on-error hint when a bad row stopped the job. */
static void report_failure(const features_options *options, verge_status status)
{
    const char *message = verge_error_message();
    const bool bad_row = status == VERGE_STATUS_INVALID_DATA && !options->series.skip_bad_rows &&
                         (strstr(message, "is not a number") != NULL ||
                          strstr(message, "to be a number") != NULL ||
                          strstr(message, "fields, but the header") != NULL ||
                          strstr(message, "quote") != NULL);

    fprintf(stderr, "verge features: %s%s\n", message,
            bad_row ? " (--on-error skip drops bad rows and counts them)" : "");
}

/* Prints that --output names the input file; returns the exit status 2. */
static int report_output_is_input(const char *output, const char *input_name)
{
    fprintf(stderr, "verge features: --output '%s' is the input file %s: writing it would "
                    "destroy the input; choose another output file\n",
            output, input_name);
    return 2;
}

/*
 * Creates the temporary file that open_output() writes in place of a
 * regular output file: "OUTPUT.verge-XXXXXX", in the same folder so that
 * rename() can replace the output, with the mode the output has or would
 * get. `existing` is the output's lstat() or NULL when it does not exist.
 * Returns 0, 1 (failed), 2 (the output is the input) or -1 when the folder
 * takes no new file (no write permission, read-only file system), so that
 * the output is written in place instead.
 */
static int open_temporary_output(const features_options *options, const char *input_name,
                                 const struct stat *existing, int *fd, char **temp_path)
{
    const char *output = options->output;
    const size_t length = strlen(output);
    mode_t mask;

    if (existing != NULL) {
        int current = open(output, O_RDONLY | O_CLOEXEC);
        const bool same = current >= 0 && output_is_input(options->input, current);

        if (current >= 0)
            close(current);
        if (same) {
            return report_output_is_input(output, input_name);
        }
    }
    *temp_path = malloc(length + sizeof(".verge-XXXXXX"));
    if (*temp_path == NULL) {
        fprintf(stderr, "verge features: out of memory\n");
        return 1;
    }
    memcpy(*temp_path, output, length);
    memcpy(*temp_path + length, ".verge-XXXXXX", sizeof(".verge-XXXXXX"));
    *fd = mkostemp(*temp_path, O_CLOEXEC);
    if (*fd < 0) {
        const int error = errno;

        free(*temp_path);
        *temp_path = NULL;
        if (existing != NULL && (error == EACCES || error == EROFS || error == EPERM))
            return -1;
        fprintf(stderr, "verge features: %s: cannot create: %s\n", output, strerror(error));
        return 1;
    }
    /* mkostemp() creates mode 0600. */
    mask = umask(0);
    umask(mask);
    if (fchmod(*fd, existing != NULL ? existing->st_mode & 07777 : 0666 & ~mask) != 0) {
        fprintf(stderr, "verge features: %s: cannot set the mode: %s\n", *temp_path,
                strerror(errno));
        return 1;
    }
    return 0;
}

/*
 * Opens --output for writing into *fd. A regular file (or a new one) read
 * from a file input is written as a temporary file beside it, which the
 * caller renames over it on success (*temp_path, to free) and removes on
 * failure: a failed job then leaves the previous file as it was. Live input
 * (a pipe or terminal) is written in place so that rows appear as they come,
 * as are links, files that are not regular (a FIFO, /dev/stdout) and files
 * in a folder where no new file can be made.
 * Returns 0, 1 (cannot open) or 2 (the output is the input).
 */
static int open_output(const features_options *options, const char *input_name, bool live,
                       int *fd, char **temp_path)
{
    struct stat st;
    const char *output = options->output;
    const bool exists = lstat(output, &st) == 0;

    if (!live && (!exists || S_ISREG(st.st_mode))) {
        int status = open_temporary_output(options, input_name, exists ? &st : NULL, fd,
                                           temp_path);
        if (status >= 0)
            return status;
    }

    /* No O_TRUNC: the file must not be emptied before it is known not to be the input. */
    *fd = open(output, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0) {
        fprintf(stderr, "verge features: %s: cannot create: %s\n", output, strerror(errno));
        return 1;
    }
    if (output_is_input(options->input, *fd)) {
        return report_output_is_input(output, input_name);
    }
    if (fstat(*fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(*fd, 0) != 0) {
        fprintf(stderr, "verge features: %s: cannot truncate: %s\n", output, strerror(errno));
        return 1;
    }
    return 0;
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
    char *temp_path = NULL;
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
        exit_code = open_output(options, input_name, live, &w.fd, &temp_path);
        if (exit_code != 0)
            goto cleanup;
        exit_code = 1;
    } else if (output_is_input(options->input, STDOUT_FILENO)) {
        fprintf(stderr, "verge features: standard output is the input file %s: the rows would "
                        "be written into the file being read (if it was redirected with '>', "
                        "the shell has already emptied it); choose another output file\n",
                input_name);
        exit_code = 2;
        goto cleanup;
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
    w.config = &options->config;
    if (!prepare_column_names(&w, &options->config)) {
        fprintf(stderr, "verge features: out of memory\n");
        goto cleanup;
    }

    if (whole_series) {
        /* Median and mean need every sample before the first row. */
        do {
            if (!sample_array_append(&whole, chunk.values, chunk.count) ||
                (w.time_name != NULL && !time_store_append(&w.times, &chunk))) {
                fprintf(stderr, "verge features: out of memory after %zu %s\n", whole.count,
                        cli_plural((long long)whole.count, "sample", "samples"));
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
    if (status == VERGE_OK && !write_header(&w))
        status = VERGE_STATUS_IO_ERROR;
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
        fprintf(stderr, "verge features: %s: skipped %llu bad %s (first: %s)\n", input_name,
                (unsigned long long)info.skipped_rows,
                cli_plural((long long)info.skipped_rows, "row", "rows"), info.first_skip);
    if (stats.nan_windows > 0 || stats.inf_windows > 0)
        fprintf(stderr, "verge features: %llu %s NaN (all %s features are NaN) and %llu "
                        "contained +-inf without NaN\n",
                (unsigned long long)stats.nan_windows,
                cli_plural((long long)stats.nan_windows, "window contained", "windows contained"),
                cli_plural((long long)stats.nan_windows, "its", "their"),
                (unsigned long long)stats.inf_windows);
    exit_code = 0;

cleanup:
    writer_free(&w);
    if (w.fd >= 0 && w.fd != STDOUT_FILENO && close(w.fd) != 0 && exit_code == 0) {
        fprintf(stderr, "verge features: %s: close failed: %s\n", w.name, strerror(errno));
        exit_code = 1;
    }
    if (temp_path != NULL) {
        if (exit_code == 0 && rename(temp_path, options->output) != 0) {
            fprintf(stderr, "verge features: cannot rename %s to %s: %s\n", temp_path,
                    options->output, strerror(errno));
            exit_code = 1;
        }
        if (exit_code != 0)
            unlink(temp_path);
        free(temp_path);
    }
    if (w.column_names != NULL) {
        for (size_t c = 0; c < w.columns; c++)
            free(w.column_names[c]);
        free(w.column_names);
    }
    free(w.times.text);
    free(w.times.start);
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
        fprintf(stderr, "usage: verge features INPUT [options]; see --help\n");
        return 2;
    }
    return run_job(&options);
}
