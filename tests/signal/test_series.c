/*
 * Series readers on well-formed, malformed and hostile input: CSV quoting,
 * line ends, column choice, bad cells with line numbers, skipping, raw
 * binary and .npy input, and a chunked pipe.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "reference.h"
#include "verge/npy.h"
#include "verge/signal.h"

typedef struct read_result {
    verge_status status; /* the status that ended reading */
    double values[256];
    char times[256][32];
    size_t count;
    verge_series_info info;
    char message[512];
} read_result;

static void read_text(const char *text, size_t size, verge_series_options options, read_result *out)
{
    verge_series_reader *reader = NULL;
    verge_series_chunk chunk;

    memset(out, 0, sizeof(*out));
    out->status = verge_series_reader_open_memory(text, size, "test.csv", &options, &reader);
    if (out->status != VERGE_OK) {
        snprintf(out->message, sizeof(out->message), "%s", verge_error_message());
        return;
    }
    while ((out->status = verge_series_reader_next(reader, &chunk)) == VERGE_OK) {
        for (size_t i = 0; i < chunk.count && out->count < 256; i++, out->count++) {
            out->values[out->count] = chunk.values[i];
            if (chunk.time_offsets != NULL) {
                size_t length = chunk.time_offsets[i + 1] - chunk.time_offsets[i];
                snprintf(out->times[out->count], 32, "%.*s", (int)length,
                         chunk.time_text + chunk.time_offsets[i]);
            }
        }
    }
    snprintf(out->message, sizeof(out->message), "%s", verge_error_message());
    verge_series_reader_info(reader, &out->info);
    /* Copy what info points to before the reader goes away. */
    verge_series_reader_close(reader);
    out->info.column_name = NULL;
    out->info.time_column_name = NULL;
    out->info.first_skip = NULL;
}

static verge_series_options csv_options(const char *column, const char *time_column, bool skip)
{
    verge_series_options options = {VERGE_SERIES_CSV, column, time_column, skip};
    return options;
}

static void csv_basic(void)
{
    static read_result r;
    const char text[] = "time,value\n2024-01-01,1.5\n2024-01-02,\n2024-01-03,NA\n2024-01-04,-2e3\n";

    read_text(text, strlen(text), csv_options(NULL, "time", false), &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_END_OF_STREAM);
    CHECK_EQ_INT(r.count, 4);
    CHECK(r.values[0] == 1.5);
    CHECK(isnan(r.values[1]));
    CHECK(isnan(r.values[2]));
    CHECK(r.values[3] == -2000);
    CHECK(strcmp(r.times[0], "2024-01-01") == 0);
    CHECK(strcmp(r.times[3], "2024-01-04") == 0);
    CHECK_EQ_INT(r.info.rows, 4);
}

static void csv_quotes_crlf_bom_blank_lines(void)
{
    static read_result r;
    const char text[] = "\xEF\xBB\xBF"
                        "\"id\",\"temp, C\",note\r\n"
                        "a,\"1.25\",\"say \"\"hi\"\"\"\r\n"
                        "\r\n"
                        "\"b,c\",2,\"two\r\nlines\"\r\n"
                        "d,3,x";

    read_text(text, strlen(text), csv_options("temp, C", "id", false), &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_END_OF_STREAM);
    CHECK_EQ_INT(r.count, 3);
    CHECK(r.values[0] == 1.25);
    CHECK(r.values[1] == 2);
    CHECK(r.values[2] == 3);
    CHECK(strcmp(r.times[1], "b,c") == 0);
    CHECK(strcmp(r.times[2], "d") == 0);

    /* Column by index, and an escaped quote inside the chosen time column. */
    read_text(text, strlen(text), csv_options("1", "note", false), &r);
    CHECK_EQ_INT(r.count, 3);
    CHECK(strcmp(r.times[0], "say \"hi\"") == 0);
    CHECK(strcmp(r.times[1], "two\r\nlines") == 0);
}

static void csv_bad_input_names_the_line(void)
{
    static read_result r;
    static const struct {
        const char *text;
        const char *column;
        const char *message; /* part of the expected error */
    } cases[] = {
        {"", NULL, "input is empty"},
        {"\n\n", NULL, "input is empty"},
        {"time,value\n", NULL, "no data rows"},
        {"time,reading\n1,2\n", NULL, "value column 'value' is not in the header: the columns are 'time', 'reading'"},
        {"time,value\n1,2\n2,abc\n", NULL, "line 3: column 'value': 'abc' is not a number"},
        {"time,value\n1,2\n2,3,4\n", NULL, "line 3: 3 fields, but the header has 2"},
        {"time,value\n1,2\n2\n", NULL, "line 3: 1 fields, but the header has 2"},
        {"time,value\n1,\"2\n", NULL, "line 2: unterminated or misplaced quote"},
        {"time,value\n1,\"2\"x\n", NULL, "line 2: unterminated or misplaced quote"},
        {"a,b\n1,2\n", "5", "value column '5' is not in the header"},
        {"a,b\n\n\n1,2\n3,0x10\n", "b", "line 5: column 'b': '0x10' is not a number"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        read_text(cases[i].text, strlen(cases[i].text), csv_options(cases[i].column, NULL, false),
                  &r);
        CHECK_MSG(r.status == VERGE_STATUS_INVALID_DATA, "case %zu: status %d", i, (int)r.status);
        CHECK_MSG(strstr(r.message, cases[i].message) != NULL, "case %zu: '%s' lacks '%s'", i,
                  r.message, cases[i].message);
        CHECK_MSG(strncmp(r.message, "test.csv: ", 10) == 0, "case %zu: '%s'", i, r.message);
    }
}

/* A bad cell is shown with control bytes escaped, and a long one cut and measured. */
static void csv_bad_cell_messages(void)
{
    static read_result r;
    static char text[1024];
    const char nul[] = "value\n1\0.5\n";

    read_text(nul, sizeof(nul) - 1, csv_options(NULL, NULL, false), &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_INVALID_DATA);
    CHECK_MSG(strstr(r.message, "line 2: column 'value': '1\\x00.5' is not a number") != NULL,
              "%s", r.message);

    const char tab[] = "value\n\\\x01\x7f\n";
    read_text(tab, sizeof(tab) - 1, csv_options(NULL, NULL, false), &r);
    CHECK_MSG(strstr(r.message, "'\\\\\\x01\\x7f' is not a number") != NULL, "%s", r.message);

    /* 100 characters: cut to 64 with "..." and the length. */
    memcpy(text, "value\n", 6);
    memset(text + 6, 'x', 100);
    memcpy(text + 106, "\n", 2);
    read_text(text, strlen(text), csv_options(NULL, NULL, false), &r);
    CHECK_MSG(strstr(r.message, "xxxx...' (100 characters) is not a number") != NULL, "%s",
              r.message);
    char cut[80] = "'";
    memset(cut + 1, 'x', 64);
    memcpy(cut + 65, "...'", 5);
    CHECK_MSG(strstr(r.message, cut) != NULL, "%s", r.message);

    /* 600 digits would be a number, but longer than any the parser takes. */
    memset(text + 6, '7', 600);
    memcpy(text + 606, "\n", 2);
    read_text(text, strlen(text), csv_options(NULL, NULL, false), &r);
    CHECK_MSG(strstr(r.message, "(600 characters) is too long to be a number (at most 511 "
                                "characters)") != NULL,
              "%s", r.message);
}

static void csv_skip_bad_rows(void)
{
    static read_result r;
    const char text[] = "t,value\n1,1\n2,oops\n3,3,3\n4,4\n5,\"5\n";

    read_text(text, strlen(text), csv_options(NULL, NULL, true), &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_END_OF_STREAM);
    CHECK_EQ_INT(r.count, 2);
    CHECK(r.values[0] == 1 && r.values[1] == 4);
    CHECK_EQ_INT(r.info.skipped_rows, 3);

    const char all_bad[] = "value\nx\ny\n";
    read_text(all_bad, strlen(all_bad), csv_options(NULL, NULL, true), &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_INVALID_DATA);
    CHECK(strstr(r.message, "all 2 data rows are bad (first: line 2:") != NULL);
}

/* Truncating a valid file at every byte must never crash, and either read or fail cleanly. */
static void csv_truncated_everywhere(void)
{
    static read_result r;
    const char text[] = "time,value\n\"2024-01-01\",1.5\r\n2024-01-02,\"2\"\n2024-01-03,-inf\n";

    for (size_t size = 0; size <= strlen(text); size++) {
        read_text(text, size, csv_options(NULL, "time", false), &r);
        CHECK(r.status == VERGE_STATUS_END_OF_STREAM || r.status == VERGE_STATUS_INVALID_DATA);
    }
    read_text(text, strlen(text), csv_options(NULL, "time", false), &r);
    CHECK_EQ_INT(r.count, 3);
    CHECK(r.values[2] == -INFINITY);
}

/* Random bytes: no crash, no hang (run under AddressSanitizer in CI). */
static void csv_random_bytes(void)
{
    static read_result r;
    static const char alphabet[] = "0123456789.,-+e\"\r\nabNA ";
    ref_random rng = {3};
    char text[300];

    for (int trial = 0; trial < 3000; trial++) {
        size_t size = (size_t)(ref_next(&rng) % sizeof(text));
        for (size_t i = 0; i < size; i++)
            text[i] = alphabet[ref_next(&rng) % (sizeof(alphabet) - 1)];
        read_text(text, size, csv_options(trial % 2 ? "0" : "1", NULL, trial % 3 == 0), &r);
        CHECK(r.status != VERGE_OK);
    }
}

static void raw_binary(void)
{
    static read_result r;
    unsigned char bytes[8 * 3 + 3];
    const double values[] = {1.5, -0.25, 1e300};

    for (int i = 0; i < 3; i++) {
        uint64_t bits;
        memcpy(&bits, &values[i], 8);
        for (int b = 0; b < 8; b++)
            bytes[i * 8 + b] = (unsigned char)(bits >> (8 * b));
    }
    verge_series_options options = {VERGE_SERIES_F64, NULL, NULL, false};
    read_text((const char *)bytes, 24, options, &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_END_OF_STREAM);
    CHECK_EQ_INT(r.count, 3);
    CHECK(r.values[0] == 1.5 && r.values[1] == -0.25 && r.values[2] == 1e300);

    read_text((const char *)bytes, 27, options, &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_INVALID_DATA);
    CHECK(strstr(r.message, "3 bytes") != NULL);

    const float f[] = {2.5f, -1.0f};
    unsigned char fbytes[8];
    for (int i = 0; i < 2; i++) {
        uint32_t bits;
        memcpy(&bits, &f[i], 4);
        for (int b = 0; b < 4; b++)
            fbytes[i * 4 + b] = (unsigned char)(bits >> (8 * b));
    }
    options.format = VERGE_SERIES_F32;
    read_text((const char *)fbytes, 8, options, &r);
    CHECK_EQ_INT(r.count, 2);
    CHECK(r.values[0] == 2.5 && r.values[1] == -1.0);
    read_text((const char *)fbytes, 0, options, &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_INVALID_DATA);

    options.time_column = "t";
    read_text((const char *)fbytes, 8, options, &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_INVALID_ARGUMENT);
}

static void npy_input(void)
{
    static read_result r;
    char path[] = "/tmp/verge_series_test_XXXXXX.npy";
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);

    const double data[6] = {1, 10, 2, 20, 3, 30};
    const int32_t dims[2] = {3, 2};
    CHECK_OK(verge_npy_write(path, VERGE_DTYPE_FLOAT64, 2, dims, data));

    FILE *file = fopen(path, "rb");
    char bytes[512];
    size_t size = fread(bytes, 1, sizeof(bytes), file);
    fclose(file);

    verge_series_options options = {VERGE_SERIES_NPY, "1", NULL, false};
    read_text(bytes, size, options, &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_END_OF_STREAM);
    CHECK_EQ_INT(r.count, 3);
    CHECK(r.values[0] == 10 && r.values[2] == 30);

    options.column = NULL;
    read_text(bytes, size, options, &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_INVALID_ARGUMENT);
    options.column = "2";
    read_text(bytes, size, options, &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_INVALID_ARGUMENT);
    options.column = "0";
    read_text(bytes, size / 2, options, &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_INVALID_DATA);

    /* Through the file path, with the format taken from the name. */
    verge_series_reader *reader = NULL;
    verge_series_chunk chunk;
    options.format = VERGE_SERIES_AUTO;
    CHECK_OK(verge_series_reader_open(path, &options, &reader));
    CHECK_OK(verge_series_reader_next(reader, &chunk));
    CHECK(chunk.count == 3 && chunk.values[1] == 2);
    CHECK_EQ_INT(verge_series_reader_next(reader, &chunk), VERGE_STATUS_END_OF_STREAM);
    verge_series_reader_close(reader);
    unlink(path);

    CHECK_STATUS(verge_series_reader_open("/nonexistent/verge.csv", NULL, &reader),
                 VERGE_STATUS_NOT_FOUND);

    /* bool, which the .npy loader offers, is read as 0 and 1. */
    const uint8_t flags[4] = {1, 0, 0, 1};
    const int32_t flag_dims[1] = {4};
    char flag_path[] = "/tmp/verge_series_bool_XXXXXX.npy";
    fd = mkstemps(flag_path, 4);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    CHECK_OK(verge_npy_write(flag_path, VERGE_DTYPE_BOOL, 1, flag_dims, flags));
    CHECK_OK(verge_series_reader_open(flag_path, NULL, &reader));
    CHECK_OK(verge_series_reader_next(reader, &chunk));
    CHECK_EQ_INT(chunk.count, 4);
    CHECK(chunk.values[0] == 1);
    CHECK(chunk.values[1] == 0);
    CHECK(chunk.values[3] == 1);
    verge_series_reader_close(reader);
    unlink(flag_path);
}

/* A pipe that delivers rows slowly: each next() returns what has arrived. */
static void pipe_delivers_rows_early(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    int saved = dup(STDIN_FILENO);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);

    verge_series_reader *reader = NULL;
    verge_series_chunk chunk;
    verge_series_options options = {VERGE_SERIES_CSV, NULL, NULL, false};
    CHECK_OK(verge_series_reader_open("-", &options, &reader));

    const char *part1 = "value\n1\n2\n3";
    CHECK(write(fds[1], part1, strlen(part1)) == (ssize_t)strlen(part1));
    CHECK_OK(verge_series_reader_next(reader, &chunk));
    CHECK_EQ_INT(chunk.count, 2); /* "3" may continue, so it waits */

    const char *part2 = "4\n5\n";
    CHECK(write(fds[1], part2, strlen(part2)) == (ssize_t)strlen(part2));
    CHECK_OK(verge_series_reader_next(reader, &chunk));
    CHECK_EQ_INT(chunk.count, 2);
    CHECK(chunk.values[0] == 34 && chunk.values[1] == 5);
    close(fds[1]);
    CHECK_EQ_INT(verge_series_reader_next(reader, &chunk), VERGE_STATUS_END_OF_STREAM);
    verge_series_reader_close(reader);

    dup2(saved, STDIN_FILENO);
    close(saved);
}

/*
 * Reads `text` from a pipe that a child process writes one byte at a time,
 * so records arrive split at many places (where exactly depends on timing;
 * every split must give the same result). Returns the values read.
 */
static void read_trickled(const char *text, verge_series_options options, read_result *out)
{
    int fds[2];
    memset(out, 0, sizeof(*out));
    out->status = VERGE_STATUS_IO_ERROR;
    if (pipe(fds) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        for (size_t i = 0; text[i] != '\0'; i++) {
            if (write(fds[1], text + i, 1) != 1)
                _exit(1);
            usleep(200);
        }
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);

    verge_series_reader *reader = NULL;
    verge_series_chunk chunk;
    out->status = verge_series_reader_open("-", &options, &reader);
    if (out->status == VERGE_OK) {
        while ((out->status = verge_series_reader_next(reader, &chunk)) == VERGE_OK) {
            for (size_t i = 0; i < chunk.count && out->count < 256; i++) {
                if (chunk.time_offsets != NULL)
                    snprintf(out->times[out->count], 32, "%.*s",
                             (int)(chunk.time_offsets[i + 1] - chunk.time_offsets[i]),
                             chunk.time_text + chunk.time_offsets[i]);
                out->values[out->count++] = chunk.values[i];
            }
        }
        snprintf(out->message, sizeof(out->message), "%s", verge_error_message());
        verge_series_reader_info(reader, &out->info);
        out->info.first_skip = NULL;
        out->info.column_name = NULL;
        out->info.time_column_name = NULL;
        verge_series_reader_close(reader);
    }
    dup2(saved, STDIN_FILENO);
    close(saved);
    waitpid(pid, NULL, 0);
}

/*
 * Records that trickle in through a pipe: a record that needs more input is
 * only scanned again once its end may have arrived, which must not lose or
 * repeat anything: quoted fields with line ends, "" escapes and commas, CRLF,
 * a misplaced quote skipped (and counted once), and a last line without a
 * line end.
 */
static void pipe_split_records(void)
{
    static read_result r;
    const char text[] = "\"t\",value\r\n"
                        "\"a\nb\",1\r\n"
                        "\"c\"\"d,\n\",\"2\"\n"
                        "e,\"3\"x\n"
                        "\n"
                        "f,\"4\"\r\n"
                        "\"g\",5";

    read_trickled(text, csv_options(NULL, "t", true), &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_END_OF_STREAM);
    CHECK_EQ_INT(r.count, 4);
    CHECK(r.values[0] == 1);
    CHECK(r.values[1] == 2);
    CHECK(r.values[2] == 4);
    CHECK(r.values[3] == 5);
    CHECK(strcmp(r.times[0], "a\nb") == 0);
    CHECK(strcmp(r.times[1], "c\"d,\n") == 0);
    CHECK(strcmp(r.times[3], "g") == 0);
    CHECK_EQ_INT(r.info.skipped_rows, 1);

    /* The same text from memory, read at once. */
    static read_result whole;
    read_text(text, strlen(text), csv_options(NULL, "t", true), &whole);
    CHECK_EQ_INT(whole.count, 4);
    CHECK_EQ_INT(whole.info.skipped_rows, 1);

    /* Without skipping, the misplaced quote names its line. */
    read_trickled(text, csv_options(NULL, "t", false), &r);
    CHECK_EQ_INT(r.status, VERGE_STATUS_INVALID_DATA);
    CHECK_MSG(strstr(r.message, "line 6: unterminated or misplaced quote") != NULL, "%s",
              r.message);
}

int main(void)
{
    RUN(csv_basic);
    RUN(csv_quotes_crlf_bom_blank_lines);
    RUN(csv_bad_input_names_the_line);
    RUN(csv_bad_cell_messages);
    RUN(csv_skip_bad_rows);
    RUN(csv_truncated_everywhere);
    RUN(csv_random_bytes);
    RUN(raw_binary);
    RUN(npy_input);
    RUN(pipe_delivers_rows_early);
    RUN(pipe_split_records);
    return check_summary();
}
