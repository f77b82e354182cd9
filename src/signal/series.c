/*
 * Series readers: CSV (RFC 4180 quoting, LF or CRLF line ends, optional
 * UTF-8 byte order mark), raw little-endian float32/float64, and .npy.
 *
 * CSV and raw input are read through a growing byte buffer with read(2), so
 * a pipe delivers rows as soon as they arrive. Every field is bounds-checked
 * against the bytes read; a record that is not complete yet waits for more
 * input. Lines are counted from 1, the header being line 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "verge/npy.h"
#include "verge/signal.h"

enum {
    READ_SIZE = 1 << 20,          /* bytes requested from read(2) at a time */
    RECORD_MAX = 64 << 20,        /* longest CSV record accepted */
    CHUNK_ROWS = 1 << 16,         /* samples returned per verge_series_reader_next() */
    MESSAGE_MAX = 512,
    NAME_LIST_MAX = 256,
};

struct verge_series_reader {
    char *name; /* input name for messages */
    verge_series_format format;
    char *column;      /* requested value column, or NULL */
    char *time_column; /* requested time column, or NULL */
    bool skip_bad_rows;

    /* Byte source: a file descriptor, or a copy of caller memory. */
    int fd;
    bool close_fd;
    bool at_eof;
    unsigned char *memory;
    size_t memory_size;
    size_t memory_at;

    /* Unparsed input bytes: input[input_at .. input_length). */
    char *input;
    size_t input_capacity;
    size_t input_length;
    size_t input_at;
    uint64_t input_offset; /* stream offset of input[0] */
    bool started; /* the byte order mark check is done */

    /*
     * A record that needed more input is not scanned again until its end may
     * have arrived (see record_may_end()), so a long record that trickles in
     * through a pipe costs linear time. The search for its end resumes where
     * the last read left it.
     */
    uint64_t wait_record;   /* stream offset of that record, UINT64_MAX for none */
    size_t wait_scanned;    /* bytes of it searched so far */
    int wait_state;         /* a seek_state */
    bool dropping_line;     /* skipping the rest of a bad line (after a bad quote) */

    /* CSV layout, known after the header. */
    bool have_header;
    size_t field_count;
    size_t value_field;
    size_t time_field; /* SIZE_MAX when there is none */
    char *value_name;
    char *time_name;
    uint64_t line; /* line number of input[input_at] */
    char *unquoted; /* scratch for quoted fields with "" escapes, input_capacity bytes */

    /* Counters. */
    uint64_t rows;
    uint64_t skipped;
    char first_skip[MESSAGE_MAX + 32];

    /* The chunk being returned. */
    double *values;
    size_t count;
    char *time_text;
    size_t time_text_length;
    size_t time_text_capacity;
    size_t *time_offsets;

    /* .npy input, read whole. */
    verge_array array;
    bool array_loaded;
    size_t array_rows;
    size_t array_columns;
    size_t array_column;
    size_t array_at;
};

static char *copy_string(const char *text)
{
    if (text == NULL)
        return NULL;
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    if (copy != NULL)
        memcpy(copy, text, length + 1);
    return copy;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t a = strlen(text);
    size_t b = strlen(suffix);
    return a >= b && strcmp(text + a - b, suffix) == 0;
}

static verge_status reader_create(const char *name, const verge_series_options *options,
                                  verge_series_reader **out)
{
    verge_series_reader *r;
    verge_series_format format = options != NULL ? options->format : VERGE_SERIES_AUTO;

    *out = NULL;
    if ((unsigned)format > VERGE_SERIES_NPY)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: input format %d is unknown", name,
                          (int)format);
    if (format == VERGE_SERIES_AUTO) {
        format = ends_with(name, ".npy")   ? VERGE_SERIES_NPY
                 : ends_with(name, ".f32") ? VERGE_SERIES_F32
                 : ends_with(name, ".f64") ? VERGE_SERIES_F64
                                           : VERGE_SERIES_CSV;
    }
    if (options != NULL && options->time_column != NULL && format != VERGE_SERIES_CSV)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: a time column needs CSV input, but the input is %s", name,
                          format == VERGE_SERIES_NPY ? ".npy" : "raw binary");
    if (options != NULL && options->column != NULL &&
        (format == VERGE_SERIES_F32 || format == VERGE_SERIES_F64))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: raw binary input has one column, so a column cannot be chosen",
                          name);

    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", name);
    r->fd = -1;
    r->format = format;
    r->time_field = SIZE_MAX;
    r->wait_record = UINT64_MAX;
    r->line = 1;
    r->skip_bad_rows = options != NULL && options->skip_bad_rows;
    r->name = copy_string(name);
    r->column = options != NULL ? copy_string(options->column) : NULL;
    r->time_column = options != NULL ? copy_string(options->time_column) : NULL;
    r->values = malloc(CHUNK_ROWS * sizeof(*r->values));
    if (r->name == NULL || r->values == NULL ||
        (options != NULL && options->column != NULL && r->column == NULL) ||
        (options != NULL && options->time_column != NULL && r->time_column == NULL)) {
        verge_series_reader_close(r);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", name);
    }
    if (r->time_column != NULL) {
        r->time_offsets = malloc((CHUNK_ROWS + 1) * sizeof(*r->time_offsets));
        if (r->time_offsets == NULL) {
            verge_series_reader_close(r);
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", name);
        }
    }
    *out = r;
    return VERGE_OK;
}

/* Reads the whole byte source into memory (for .npy). */
static verge_status read_all(verge_series_reader *r, unsigned char **data, size_t *size)
{
    if (r->memory != NULL) {
        *data = r->memory;
        *size = r->memory_size;
        r->memory = NULL;
        return VERGE_OK;
    }

    size_t capacity = READ_SIZE;
    size_t length = 0;
    unsigned char *buffer = malloc(capacity);
    if (buffer == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->name);
    for (;;) {
        if (length == capacity) {
            if (capacity >= ((size_t)1 << 30)) {
                free(buffer);
                return verge_fail(VERGE_STATUS_INVALID_DATA,
                                  "%s: .npy input is larger than 1 GiB", r->name);
            }
            unsigned char *grown = realloc(buffer, capacity * 2);
            if (grown == NULL) {
                free(buffer);
                return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->name);
            }
            buffer = grown;
            capacity *= 2;
        }
        ssize_t n = read(r->fd, buffer + length, capacity - length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int error = errno;
            free(buffer);
            return verge_fail(VERGE_STATUS_IO_ERROR, "%s: read failed: %s", r->name,
                              strerror(error));
        }
        if (n == 0)
            break;
        length += (size_t)n;
    }
    *data = buffer;
    *size = length;
    return VERGE_OK;
}

static verge_status load_npy(verge_series_reader *r)
{
    unsigned char *data = NULL;
    size_t size = 0;
    verge_status status = read_all(r, &data, &size);

    if (status != VERGE_OK)
        return status;
    status = verge_npy_parse(data, size, r->name, &r->array);
    free(data);
    if (status != VERGE_OK)
        return status;
    r->array_loaded = true;

    const verge_array *a = &r->array;
    if (a->dtype != VERGE_DTYPE_FLOAT32 && a->dtype != VERGE_DTYPE_FLOAT64 &&
        a->dtype != VERGE_DTYPE_INT8 && a->dtype != VERGE_DTYPE_UINT8 &&
        a->dtype != VERGE_DTYPE_INT32 && a->dtype != VERGE_DTYPE_INT64 &&
        a->dtype != VERGE_DTYPE_BOOL)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "%s: .npy dtype %s is not a numeric series type", r->name,
                          verge_dtype_name(a->dtype));
    if (a->rank == 1) {
        r->array_rows = (size_t)a->dims[0];
        r->array_columns = 1;
    } else if (a->rank == 2) {
        r->array_rows = (size_t)a->dims[0];
        r->array_columns = (size_t)a->dims[1];
    } else {
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "%s: .npy array has %d dimensions: expected 1 (samples) or 2 (samples "
                          "x columns)",
                          r->name, a->rank);
    }

    if (r->column == NULL) {
        if (r->array_columns != 1)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "%s: .npy array has %zu columns: choose one with a column index",
                              r->name, r->array_columns);
        r->array_column = 0;
    } else {
        char *end = NULL;
        unsigned long long index = strtoull(r->column, &end, 10);
        if (r->column[0] < '0' || r->column[0] > '9' || *end != '\0' ||
            index >= r->array_columns)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "%s: column '%s' is not an index from 0 to %zu of the .npy array",
                              r->name, r->column, r->array_columns - 1);
        r->array_column = (size_t)index;
    }
    if (r->array_rows == 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: .npy array has no samples", r->name);
    return VERGE_OK;
}

static double array_value(const verge_array *a, size_t index)
{
    switch (a->dtype) {
    case VERGE_DTYPE_FLOAT32: return ((const float *)a->data)[index];
    case VERGE_DTYPE_FLOAT64: return ((const double *)a->data)[index];
    case VERGE_DTYPE_INT8: return ((const int8_t *)a->data)[index];
    case VERGE_DTYPE_UINT8: return ((const uint8_t *)a->data)[index];
    case VERGE_DTYPE_INT32: return ((const int32_t *)a->data)[index];
    case VERGE_DTYPE_INT64: return (double)((const int64_t *)a->data)[index];
    case VERGE_DTYPE_BOOL: return ((const uint8_t *)a->data)[index]; /* 0 or 1, checked on load */
    default: return NAN;
    }
}

static verge_status next_npy(verge_series_reader *r, verge_series_chunk *chunk)
{
    if (!r->array_loaded) {
        verge_status status = load_npy(r);
        if (status != VERGE_OK)
            return status;
    }
    if (r->array_at == r->array_rows)
        return VERGE_STATUS_END_OF_STREAM;

    size_t n = r->array_rows - r->array_at;
    if (n > CHUNK_ROWS)
        n = CHUNK_ROWS;
    for (size_t i = 0; i < n; i++)
        r->values[i] = array_value(&r->array, (r->array_at + i) * r->array_columns + r->array_column);
    r->array_at += n;
    r->rows += n;
    chunk->values = r->values;
    chunk->count = n;
    return VERGE_OK;
}

/*
 * Reads more bytes after input[input_length], keeping unparsed bytes.
 * Sets at_eof at the end of the input.
 */
static verge_status fill_input(verge_series_reader *r)
{
    if (r->input_at > 0) {
        memmove(r->input, r->input + r->input_at, r->input_length - r->input_at);
        r->input_offset += r->input_at;
        r->input_length -= r->input_at;
        r->input_at = 0;
    }
    if (r->input_capacity - r->input_length < READ_SIZE / 2) {
        size_t capacity = r->input_capacity == 0 ? READ_SIZE : r->input_capacity * 2;
        if (capacity > RECORD_MAX + READ_SIZE)
            return verge_fail(VERGE_STATUS_INVALID_DATA,
                              "%s: line %llu: a record is longer than %d MiB", r->name,
                              (unsigned long long)r->line, RECORD_MAX >> 20);
        /* Unescaped fields never outgrow the record they come from, so a scratch buffer as
           large as the input is never reallocated while fields point into it. */
        char *scratch = realloc(r->unquoted, capacity);
        if (scratch == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->name);
        r->unquoted = scratch;
        char *grown = realloc(r->input, capacity);
        if (grown == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->name);
        r->input = grown;
        r->input_capacity = capacity;
    }

    size_t room = r->input_capacity - r->input_length;
    if (r->memory != NULL) {
        size_t n = r->memory_size - r->memory_at;
        if (n > room)
            n = room;
        memcpy(r->input + r->input_length, r->memory + r->memory_at, n);
        r->memory_at += n;
        r->input_length += n;
        r->at_eof = r->memory_at == r->memory_size;
        return VERGE_OK;
    }
    for (;;) {
        ssize_t n = read(r->fd, r->input + r->input_length, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return verge_fail(VERGE_STATUS_IO_ERROR, "%s: read failed: %s", r->name,
                              strerror(errno));
        if (n == 0)
            r->at_eof = true;
        r->input_length += (size_t)n;
        return VERGE_OK;
    }
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static verge_status next_raw(verge_series_reader *r, verge_series_chunk *chunk)
{
    const size_t size = r->format == VERGE_SERIES_F32 ? 4 : 8;

    for (;;) {
        size_t available = (r->input_length - r->input_at) / size;
        if (available > 0) {
            const unsigned char *p = (const unsigned char *)r->input + r->input_at;
            size_t n = available < CHUNK_ROWS ? available : CHUNK_ROWS;
            for (size_t i = 0; i < n; i++, p += size) {
                if (size == 4) {
                    uint32_t bits = load_le32(p);
                    float f;
                    memcpy(&f, &bits, sizeof(f));
                    r->values[i] = f;
                } else {
                    uint64_t bits = load_le64(p);
                    memcpy(&r->values[i], &bits, sizeof(double));
                }
            }
            r->input_at += n * size;
            r->rows += n;
            chunk->values = r->values;
            chunk->count = n;
            return VERGE_OK;
        }
        if (r->at_eof) {
            size_t left = r->input_length - r->input_at;
            if (left > 0)
                return verge_fail(VERGE_STATUS_INVALID_DATA,
                                  "%s: input ends with %zu bytes, not a whole float%d sample: "
                                  "the input is truncated or not raw float%d",
                                  r->name, left, (int)size * 8, (int)size * 8);
            if (r->rows == 0)
                return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: input is empty", r->name);
            return VERGE_STATUS_END_OF_STREAM;
        }
        verge_status status = fill_input(r);
        if (status != VERGE_OK)
            return status;
    }
}

/* ------------------------------------------------------------------- CSV */

/* One field of a record: text[0..length), unescaped. */
typedef struct field {
    const char *text;
    size_t length;
} field;

typedef enum scan_result { SCAN_RECORD, SCAN_NEED_MORE, SCAN_BAD_QUOTE } scan_result;

/* Returns the offset of the first ',' or line feed in base[p..stop), or stop. */
static inline size_t find_delimiter(const char *base, size_t p, size_t stop)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Eight bytes at a time: a byte equal to c is a zero byte of word ^ (c * ones), and
       (v - ones) & ~v & highs marks the lowest zero byte of v exactly. */
    const uint64_t ones = 0x0101010101010101u;
    const uint64_t highs = 0x8080808080808080u;
    while (stop - p >= 8) {
        uint64_t word;
        memcpy(&word, base + p, sizeof(word));
        const uint64_t comma = word ^ (ones * ',');
        const uint64_t newline = word ^ (ones * '\n');
        const uint64_t found =
            ((comma - ones) & ~comma & highs) | ((newline - ones) & ~newline & highs);
        if (found != 0)
            return p + (size_t)(__builtin_ctzll(found) >> 3);
        p += 8;
    }
#endif
    while (p < stop && base[p] != ',' && base[p] != '\n')
        p++;
    return p;
}

/*
 * Scans one record starting at input[input_at]. Stores the fields the
 * reader wants (all of them for the header) and the field count. A quoted
 * field with "" escapes is unescaped into r->unquoted, so `wanted` fields
 * stay valid until the next scan. *end receives the offset after the
 * record's line end, *lines the line ends inside it.
 */
static scan_result scan_record(verge_series_reader *r, bool header, field *wanted,
                               size_t wanted_capacity, size_t *field_count, size_t *end,
                               uint64_t *lines)
{
    const char *base = r->input;
    size_t p = r->input_at;
    const size_t stop = r->input_length;
    size_t index = 0;
    size_t unquoted_used = 0;

    *lines = 0;
    for (;;) {
        field f;

        if (p < stop && base[p] == '"') {
            size_t q = p + 1;
            bool escaped = false;
            for (;;) {
                if (q >= stop)
                    return r->at_eof ? SCAN_BAD_QUOTE : SCAN_NEED_MORE;
                if (base[q] == '"') {
                    if (q + 1 < stop && base[q + 1] == '"') {
                        escaped = true;
                        q += 2;
                        continue;
                    }
                    if (q + 1 >= stop && !r->at_eof)
                        return SCAN_NEED_MORE;
                    break;
                }
                if (base[q] == '\n')
                    (*lines)++;
                q++;
            }
            f.text = base + p + 1;
            f.length = q - p - 1;
            p = q + 1;
            if (p < stop && base[p] != ',' && base[p] != '\n' && base[p] != '\r')
                return SCAN_BAD_QUOTE;
            if (escaped && (header || index == r->value_field || index == r->time_field)) {
                /* Unescape "" into the scratch buffer, which is as large as the input. */
                char *dst = r->unquoted + unquoted_used;
                size_t n = 0;
                for (size_t i = 0; i < f.length; i++) {
                    dst[n++] = f.text[i];
                    if (f.text[i] == '"')
                        i++;
                }
                f.text = dst;
                f.length = n;
                unquoted_used += n;
            }
        } else {
            const size_t q = find_delimiter(base, p, stop);
            if (q >= stop && !r->at_eof)
                return SCAN_NEED_MORE;
            f.text = base + p;
            f.length = q - p;
            if (f.length > 0 && q < stop && base[q] == '\n' && f.text[f.length - 1] == '\r')
                f.length--;
            else if (f.length > 0 && q >= stop && f.text[f.length - 1] == '\r')
                f.length--;
            p = q;
        }

        if (header) {
            if (index < wanted_capacity)
                wanted[index] = f;
        } else if (index == r->value_field) {
            wanted[0] = f;
        } else if (index == r->time_field) {
            wanted[1] = f;
        }
        index++;

        if (p < stop && base[p] == ',') {
            p++;
            continue;
        }
        if (p < stop && base[p] == '\r')
            p++;
        if (p < stop && base[p] == '\n') {
            p++;
            (*lines)++;
        } else if (p < stop) {
            return SCAN_BAD_QUOTE; /* a lone carriage return after a quoted field */
        }
        *field_count = index;
        *end = p;
        return SCAN_RECORD;
    }
}

/*
 * The search for the end of a record that needs more input. It follows the
 * structure scan_record() reads, so it stops (SEEK_DONE) at the first byte
 * where scan_record() could finish: the line feed that ends the record, or
 * the byte after a closing quote that is not a comma (a line end or a
 * misplaced quote). SEEK_LINE looks for the next line feed only.
 */
typedef enum seek_state {
    SEEK_FIELD,    /* at the start of a field */
    SEEK_UNQUOTED, /* inside an unquoted field */
    SEEK_QUOTED,   /* inside a quoted field */
    SEEK_QUOTE,    /* after a quote inside a quoted field: "" or the closing one */
    SEEK_LINE,     /* skipping to the next line feed */
    SEEK_DONE,
} seek_state;

/* Remembers that the record at input_at needs more input; `state` is SEEK_FIELD or SEEK_LINE. */
static void wait_for_more(verge_series_reader *r, seek_state state)
{
    r->wait_record = r->input_offset + r->input_at;
    r->wait_scanned = 0;
    r->wait_state = (int)state;
}

/*
 * Whether the record at input_at may be complete: true when no wait is set
 * for it, at the end of the input, or when its end has arrived. Searches
 * only the bytes that arrived since the last call.
 */
static bool record_may_end(verge_series_reader *r)
{
    if (r->at_eof || r->wait_record != r->input_offset + r->input_at)
        return true;

    const char *base = r->input + r->input_at;
    const size_t stop = r->input_length - r->input_at;
    size_t p = r->wait_scanned;
    seek_state state = (seek_state)r->wait_state;

    while (p < stop && state != SEEK_DONE) {
        switch (state) {
        case SEEK_FIELD:
            if (base[p] == '"') {
                state = SEEK_QUOTED;
                p++;
            } else {
                state = SEEK_UNQUOTED;
            }
            break;
        case SEEK_UNQUOTED:
            p = find_delimiter(base, p, stop);
            if (p < stop) {
                state = base[p] == ',' ? SEEK_FIELD : SEEK_DONE;
                p += state == SEEK_FIELD;
            }
            break;
        case SEEK_QUOTED: {
            const char *quote = memchr(base + p, '"', stop - p);
            p = quote != NULL ? (size_t)(quote - base) + 1 : stop;
            if (quote != NULL)
                state = SEEK_QUOTE;
            break;
        }
        case SEEK_QUOTE:
            /* "" continues the field, a comma starts the next one, anything else ends the scan. */
            if (base[p] == '"')
                state = SEEK_QUOTED;
            else if (base[p] == ',')
                state = SEEK_FIELD;
            else
                state = SEEK_DONE;
            if (state != SEEK_DONE)
                p++;
            break;
        case SEEK_LINE: {
            const char *newline = memchr(base + p, '\n', stop - p);
            p = newline != NULL ? (size_t)(newline - base) : stop;
            if (newline != NULL)
                state = SEEK_DONE;
            break;
        }
        case SEEK_DONE:
            break;
        }
    }
    r->wait_scanned = p;
    r->wait_state = (int)state;
    return state == SEEK_DONE;
}

/* Whether the record at input_at is an empty line; sets *end past it. */
static bool blank_line(const verge_series_reader *r, size_t *end)
{
    size_t p = r->input_at;
    if (p < r->input_length && r->input[p] == '\r')
        p++;
    if (p < r->input_length && r->input[p] == '\n') {
        *end = p + 1;
        return true;
    }
    return false;
}

/* Formats the header names as "a, b, c" for messages. */
static void list_names(const field *names, size_t count, char *buffer, size_t size)
{
    size_t used = 0;

    buffer[0] = '\0';
    for (size_t i = 0; i < count && used + 1 < size; i++) {
        int n = snprintf(buffer + used, size - used, "%s'%.*s'", i == 0 ? "" : ", ",
                         (int)(names[i].length > 40 ? 40 : names[i].length), names[i].text);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used >= size && size > 4)
        memcpy(buffer + size - 4, "...", 4);
}

static verge_status find_column(verge_series_reader *r, const field *names, size_t count,
                                const char *wanted, const char *role, size_t *index)
{
    char list[NAME_LIST_MAX];

    for (size_t i = 0; i < count; i++) {
        if (names[i].length == strlen(wanted) && memcmp(names[i].text, wanted, names[i].length) == 0) {
            *index = i;
            return VERGE_OK;
        }
    }
    if (wanted[0] >= '0' && wanted[0] <= '9') {
        char *end = NULL;
        unsigned long long value = strtoull(wanted, &end, 10);
        if (*end == '\0' && value < count) {
            *index = (size_t)value;
            return VERGE_OK;
        }
    }
    list_names(names, count, list, sizeof(list));
    return verge_fail(VERGE_STATUS_INVALID_DATA,
                      "%s: line %llu: %s column '%s' is not in the header: the columns are %s "
                      "(or give a 0-based index below %zu)",
                      r->name, (unsigned long long)r->line, role, wanted, list, count);
}

static char *copy_field(field f)
{
    char *copy = malloc(f.length + 1);
    if (copy != NULL) {
        memcpy(copy, f.text, f.length);
        copy[f.length] = '\0';
    }
    return copy;
}

static verge_status read_header(verge_series_reader *r)
{
    enum { HEADER_FIELDS_MAX = 4096 };
    field *names = malloc(HEADER_FIELDS_MAX * sizeof(*names));
    size_t count = 0;
    size_t end = 0;
    uint64_t lines = 0;
    verge_status status;

    if (names == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->name);
    scan_result result = scan_record(r, true, names, HEADER_FIELDS_MAX, &count, &end, &lines);
    if (result != SCAN_RECORD) {
        free(names);
        if (result == SCAN_NEED_MORE) {
            wait_for_more(r, SEEK_FIELD);
            return VERGE_STATUS_END_OF_STREAM; /* caller reads more */
        }
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "%s: line %llu: header has an unterminated or misplaced quote",
                          r->name, (unsigned long long)r->line);
    }
    if (count > HEADER_FIELDS_MAX) {
        free(names);
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: line %llu: header has %zu columns, "
                          "more than %d", r->name, (unsigned long long)r->line, count,
                          HEADER_FIELDS_MAX);
    }

    status = find_column(r, names, count, r->column != NULL ? r->column : "value", "value",
                         &r->value_field);
    if (status == VERGE_OK && r->time_column != NULL) {
        status = find_column(r, names, count, r->time_column, "time", &r->time_field);
        if (status == VERGE_OK && r->time_field == r->value_field)
            status = verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                                "%s: the time column and the value column are both '%s'",
                                r->name, r->time_column);
    }
    if (status == VERGE_OK) {
        r->value_name = copy_field(names[r->value_field]);
        if (r->time_field != SIZE_MAX)
            r->time_name = copy_field(names[r->time_field]);
        if (r->value_name == NULL || (r->time_field != SIZE_MAX && r->time_name == NULL))
            status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->name);
    }
    r->field_count = count;
    r->have_header = true;
    r->line += lines;
    r->input_at = end;
    free(names);
    return status;
}

/* Records a bad row: fails, or counts it when skipping. */
static verge_status bad_row(verge_series_reader *r, const char *fmt, ...) VERGE_PRINTF(2, 3);

static verge_status bad_row(verge_series_reader *r, const char *fmt, ...)
{
    char message[MESSAGE_MAX];
    va_list args;

    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    if (!r->skip_bad_rows)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: line %llu: %s", r->name,
                          (unsigned long long)r->line, message);
    if (r->skipped == 0)
        snprintf(r->first_skip, sizeof(r->first_skip), "line %llu: %s",
                 (unsigned long long)r->line, message);
    r->skipped++;
    return VERGE_OK;
}

/*
 * Writes the first CELL_SHOWN bytes of a cell for a message, NUL-terminated:
 * control bytes, DEL and backslash escaped as \xNN and \\, and "..." when
 * the cell is longer. `out` has room for CELL_SHOWN * 4 + 4 bytes.
 */
enum { CELL_SHOWN = 64 };

static void describe_cell(field f, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const size_t shown = f.length < CELL_SHOWN ? f.length : CELL_SHOWN;
    char *p = out;

    for (size_t i = 0; i < shown; i++) {
        const unsigned char c = (unsigned char)f.text[i];
        if (c == '\\') {
            *p++ = '\\';
            *p++ = '\\';
        } else if (c < 0x20 || c == 0x7f) {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    if (shown < f.length) {
        memcpy(p, "...", 3);
        p += 3;
    }
    *p = '\0';
}

/* Records a value cell that is not a number, shown escaped, and cut with its length when long. */
static verge_status bad_number(verge_series_reader *r, field f)
{
    char shown[CELL_SHOWN * 4 + 4];
    size_t from = 0, to = f.length;

    describe_cell(f, shown);
    while (from < to && (f.text[from] == ' ' || f.text[from] == '\t'))
        from++;
    while (to > from && (f.text[to - 1] == ' ' || f.text[to - 1] == '\t'))
        to--;
    if (to - from > VERGE_NUMBER_TEXT_MAX)
        return bad_row(r, "column '%s': '%s' (%zu characters) is too long to be a number (at "
                          "most %d characters)",
                       r->value_name, shown, f.length, VERGE_NUMBER_TEXT_MAX);
    if (f.length > CELL_SHOWN)
        return bad_row(r, "column '%s': '%s' (%zu characters) is not a number", r->value_name,
                       shown, f.length);
    return bad_row(r, "column '%s': '%s' is not a number", r->value_name, shown);
}

static verge_status append_time(verge_series_reader *r, field f)
{
    if (r->time_text_length + f.length > r->time_text_capacity) {
        size_t capacity = (r->time_text_length + f.length) * 2 + 4096;
        char *grown = realloc(r->time_text, capacity);
        if (grown == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->name);
        r->time_text = grown;
        r->time_text_capacity = capacity;
    }
    memcpy(r->time_text + r->time_text_length, f.text, f.length);
    r->time_text_length += f.length;
    return VERGE_OK;
}

/* Parses complete records into the chunk until it is full or the bytes run out. */
static verge_status parse_rows(verge_series_reader *r)
{
    while (r->count < CHUNK_ROWS) {
        field wanted[2];
        size_t fields = 0;
        size_t end = 0;
        uint64_t lines = 0;

        if (r->input_at == r->input_length || !record_may_end(r))
            return VERGE_OK;
        if (r->dropping_line) {
            /* The rest of a line with a bad quote, counted when it was found. */
            const char *newline = memchr(r->input + r->input_at, '\n',
                                         r->input_length - r->input_at);
            r->input_at = newline != NULL ? (size_t)(newline - r->input) + 1 : r->input_length;
            r->line++;
            r->dropping_line = false;
            continue;
        }
        if (blank_line(r, &end)) {
            r->input_at = end;
            r->line++;
            continue;
        }
        if (!r->have_header) {
            verge_status status = read_header(r);
            if (status == VERGE_STATUS_END_OF_STREAM)
                return VERGE_OK;
            if (status != VERGE_OK)
                return status;
            continue;
        }

        wanted[0].text = wanted[1].text = "";
        wanted[0].length = wanted[1].length = 0;
        scan_result result = scan_record(r, false, wanted, 2, &fields, &end, &lines);
        if (result == SCAN_NEED_MORE) {
            wait_for_more(r, SEEK_FIELD);
            return VERGE_OK;
        }

        verge_status status = VERGE_OK;
        if (result == SCAN_BAD_QUOTE) {
            /* Drop the rest of the physical line and go on, or stop. */
            status = bad_row(r, "unterminated or misplaced quote");
            if (status != VERGE_OK)
                return status;
            r->dropping_line = true;
            wait_for_more(r, SEEK_LINE);
            continue;
        }

        double value = NAN;
        if (fields != r->field_count) {
            status = bad_row(r, "%zu fields, but the header has %zu", fields, r->field_count);
        } else {
            verge_number_kind kind = verge_parse_double(wanted[0].text, wanted[0].length, &value);
            if (kind == VERGE_NUMBER_INVALID)
                status = bad_number(r, wanted[0]);
            else if (r->time_field != SIZE_MAX) {
                if (r->count == 0)
                    r->time_offsets[0] = 0;
                status = append_time(r, wanted[1]);
                if (status == VERGE_OK)
                    r->time_offsets[r->count + 1] = r->time_text_length;
            }
            if (status == VERGE_OK && kind != VERGE_NUMBER_INVALID) {
                r->values[r->count++] = value;
                r->rows++;
            }
        }
        if (status != VERGE_OK)
            return status;
        r->line += lines;
        r->input_at = end;
    }
    return VERGE_OK;
}

static verge_status next_csv(verge_series_reader *r, verge_series_chunk *chunk)
{
    r->count = 0;
    r->time_text_length = 0;

    for (;;) {
        if (!r->started && (r->input_length - r->input_at >= 3 || r->at_eof)) {
            r->started = true;
            if (r->input_length - r->input_at >= 3 &&
                memcmp(r->input + r->input_at, "\xEF\xBB\xBF", 3) == 0)
                r->input_at += 3;
        }
        if (r->started) {
            verge_status status = parse_rows(r);
            if (status != VERGE_OK)
                return status;
        }
        if (r->count > 0) {
            chunk->values = r->values;
            chunk->count = r->count;
            if (r->time_field != SIZE_MAX) {
                chunk->time_text = r->time_text;
                chunk->time_offsets = r->time_offsets;
            }
            return VERGE_OK;
        }
        if (r->at_eof && r->input_at == r->input_length) {
            if (!r->have_header)
                return verge_fail(VERGE_STATUS_INVALID_DATA,
                                  "%s: input is empty: expected a header line such as "
                                  "'time,value'",
                                  r->name);
            if (r->rows == 0 && r->skipped == 0)
                return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: no data rows after the header",
                                  r->name);
            if (r->rows == 0)
                return verge_fail(VERGE_STATUS_INVALID_DATA,
                                  "%s: all %llu data rows are bad (first: %s)", r->name,
                                  (unsigned long long)r->skipped, r->first_skip);
            return VERGE_STATUS_END_OF_STREAM;
        }
        verge_status status = fill_input(r);
        if (status != VERGE_OK)
            return status;
    }
}

/* ------------------------------------------------------------ public API */

verge_status verge_series_reader_open(const char *path, const verge_series_options *options,
                                      verge_series_reader **out)
{
    verge_series_reader *r;
    const bool standard_input = strcmp(path, "-") == 0;
    verge_status status = reader_create(standard_input ? "<stdin>" : path, options, &r);

    *out = NULL;
    if (status != VERGE_OK)
        return status;
    if (standard_input) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            int error = errno;
            verge_series_reader_close(r);
            return verge_fail(error == ENOENT ? VERGE_STATUS_NOT_FOUND : VERGE_STATUS_IO_ERROR,
                              "%s: cannot open: %s", path, strerror(error));
        }
        r->close_fd = true;
    }
    *out = r;
    return VERGE_OK;
}

verge_status verge_series_reader_open_memory(const void *data, size_t size, const char *name,
                                             const verge_series_options *options,
                                             verge_series_reader **out)
{
    verge_series_reader *r;
    verge_status status = reader_create(name != NULL ? name : "<memory>", options, &r);

    *out = NULL;
    if (status != VERGE_OK)
        return status;
    r->memory = malloc(size > 0 ? size : 1);
    if (r->memory == NULL) {
        verge_series_reader_close(r);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory", name);
    }
    if (size > 0)
        memcpy(r->memory, data, size);
    r->memory_size = size;
    r->at_eof = size == 0;
    *out = r;
    return VERGE_OK;
}

verge_status verge_series_reader_next(verge_series_reader *r, verge_series_chunk *chunk)
{
    memset(chunk, 0, sizeof(*chunk));
    switch (r->format) {
    case VERGE_SERIES_NPY:
        return next_npy(r, chunk);
    case VERGE_SERIES_F32:
    case VERGE_SERIES_F64:
        return next_raw(r, chunk);
    case VERGE_SERIES_CSV:
    case VERGE_SERIES_AUTO:
        break;
    }
    return next_csv(r, chunk);
}

void verge_series_reader_info(const verge_series_reader *r, verge_series_info *info)
{
    memset(info, 0, sizeof(*info));
    info->column_name = r->value_name != NULL ? r->value_name : "value";
    info->time_column_name = r->time_name;
    info->rows = r->rows;
    info->skipped_rows = r->skipped;
    info->first_skip = r->first_skip;
}

void verge_series_reader_close(verge_series_reader *r)
{
    if (r == NULL)
        return;
    if (r->close_fd && r->fd >= 0)
        close(r->fd);
    free(r->name);
    free(r->column);
    free(r->time_column);
    free(r->memory);
    free(r->input);
    free(r->value_name);
    free(r->time_name);
    free(r->unquoted);
    free(r->values);
    free(r->time_text);
    free(r->time_offsets);
    verge_array_free(&r->array);
    free(r);
}
