/*
 * Sensor series: reading numbers from CSV, raw or .npy input, filling missing
 * samples, and sliding-window features.
 *
 * A series is a sequence of float64 samples in which NaN marks a missing
 * value. Windows hold `window` consecutive samples; the first window ends at
 * sample window-1 (0-based) and each next one ends `step` samples later, so a
 * series of n samples gives (n - window) / step + 1 windows when
 * n >= window and none otherwise. Each window gives one row of feature
 * values, in the order of the feature list.
 *
 * Batch use over an array:
 *
 *     verge_features_config config;
 *     verge_features_config_default(&config);          // window 10, step 1,
 *     config.window = 256;                             // median fill,
 *     size_t rows = verge_features_rows(&config, n);   // mean,std,energy
 *     double *out = malloc(rows * verge_features_columns(&config) * sizeof *out);
 *     verge_status status = verge_features_compute(&config, x, n, out, rows, NULL);
 *
 * Streaming use: verge_features_stream_create() with a sink callback, then
 * verge_features_stream_push() with chunks of any size as they arrive, and
 * verge_features_stream_finish() at the end. The sink receives each window
 * as soon as its last sample and any fill value it depends on are known.
 *
 * Accuracy: mean, std, var, rms, energy, skew and kurtosis come from running
 * sums of x - K, where K is an anchor value near the window mean, updated
 * in O(1) per step. Each step also tracks a bound on the rounding error of
 * those sums; when the bound passes 1e-10 of a requested result (after a
 * large value leaves the window, or when the sums have run for long) the
 * sums are recomputed from the window with a new anchor, and K moves along
 * when the level drifts. Results are therefore within about 1e-10 relative
 * of a two-pass float64 computation over each window (relative to the
 * window's standard deviation for a mean near zero, and to 1 for skew and
 * kurtosis). min, max, p2p and zero_crossings are exact.
 * band_energy and dominant_freq come from verge's own float64 FFT (any
 * window length). A band is within 1e-9 relative of a float64 DFT, plus the
 * rounding floor of any float64 transform: about 1e-13 * sqrt(band * E),
 * with E the window's energy around its mean. That floor matters only for
 * bands that contain less than about 1e-8 of E.
 *
 * Large and small finite values: a window with a sample of 2^200 or more,
 * or one with nothing but zeros and samples under 2^-200, has its moments
 * computed from samples scaled by a power of two, so every feature is within
 * 1e-9 of the true value, and +inf only where the true value is beyond
 * float64 (var and energy of a window with a 1e200 sample, p2p of
 * -1e308 .. 1e308), while std, rms, mean, skew and kurtosis of the same
 * window stay finite. Later windows are not affected.
 *
 * Non-finite samples: a window that contains a NaN (possible with fill
 * "none") gives NaN for every feature. A window that contains +inf or -inf
 * and no NaN gives what the float64 formula gives: +inf or -inf for mean,
 * min, max, rms and energy where the sign is unambiguous, NaN where it is
 * not (var, std, skew, kurtosis, band_energy, dominant_freq, and mean with
 * both signs). Later windows are not affected. The counts are in
 * verge_features_stats.
 */
#ifndef VERGE_SIGNAL_H
#define VERGE_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- numbers */

/*
 * Bytes verge_format_double() may write: the text (at most 24 characters),
 * its NUL, and scratch bytes after them.
 */
#define VERGE_DOUBLE_TEXT_MAX 48

typedef enum verge_number_kind {
    VERGE_NUMBER_VALUE = 0, /* a number, or +-inf ("inf", "Infinity", any case) */
    VERGE_NUMBER_MISSING,   /* a missing-value marker; *value is set to NaN */
    VERGE_NUMBER_INVALID,   /* anything else */
} verge_number_kind;

/*
 * Parses text[0..length) (no NUL needed) as a decimal float64, rounded to
 * nearest-even like strtod. Spaces and tabs around the number are ignored.
 * Accepted: [+-]digits[.digits][(e|E)[+-]digits], with digits on at least one
 * side of the point, and [+-]inf / infinity in any case. Missing markers are
 * the empty string and pandas' default NA strings: "NA", "N/A", "n/a", "NaN",
 * "nan", "-NaN", "-nan", "NULL", "null", "None", "<NA>", "#N/A", "#N/A N/A",
 * "#NA", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN". Hexadecimal floats and
 * numbers longer than VERGE_NUMBER_TEXT_MAX characters (spaces around them
 * not counted) are VERGE_NUMBER_INVALID. Numbers beyond the float64 range
 * give +-inf, like strtod.
 */
#define VERGE_NUMBER_TEXT_MAX 511

verge_number_kind verge_parse_double(const char *text, size_t length, double *value);

/*
 * Writes the shortest decimal text that reads back as exactly `value`
 * (round trip through verge_parse_double or strtod), in the layout of
 * Python's repr(): "316.1", "2.0", "0.0001", "1e-05", "1.5e+16", "-0.0",
 * "nan", "inf", "-inf". Among equally short candidates the one nearest to
 * `value` is chosen. `buffer` needs VERGE_DOUBLE_TEXT_MAX bytes; the text is
 * NUL-terminated and its length (without the NUL) is returned.
 */
size_t verge_format_double(double value, char *buffer);

/* ------------------------------------------------------------ imputation */

typedef enum verge_fill_method {
    VERGE_FILL_MEDIAN = 0,     /* median of all non-NaN samples (batch only) */
    VERGE_FILL_MEAN,           /* mean of all non-NaN samples (batch only) */
    VERGE_FILL_FFILL,          /* previous non-NaN sample */
    VERGE_FILL_BFILL,          /* next non-NaN sample */
    VERGE_FILL_LINEAR,         /* linear interpolation between the two neighbours */
    VERGE_FILL_CONSTANT,       /* verge_fill.value */
    VERGE_FILL_NONE,           /* NaN stays; windows that contain it give NaN */
    VERGE_FILL_RUNNING_MEDIAN, /* median of the last verge_fill.k non-NaN samples */
} verge_fill_method;

/*
 * How missing (NaN) samples are replaced.
 *
 * Gaps at the edges: ffill, linear and running median fill a leading gap
 * (before the first non-NaN sample) with the first non-NaN sample; bfill and
 * linear fill a trailing gap with the last non-NaN sample. A series with no
 * non-NaN sample at all cannot be filled by median, mean, ffill, bfill,
 * linear or running median: verge_features_compute() and
 * verge_features_stream_finish() return VERGE_STATUS_INVALID_DATA.
 * Median and mean include +-inf samples, as pandas does.
 */
typedef struct verge_fill {
    verge_fill_method method;
    double value; /* VERGE_FILL_CONSTANT: the fill value (any float64) */
    size_t k;     /* VERGE_FILL_RUNNING_MEDIAN: samples in the running window, >= 1 */
} verge_fill;

/*
 * Parses "median", "mean", "ffill", "bfill", "linear", "constant:V", "none"
 * or "median:K" into *fill. Returns VERGE_STATUS_INVALID_ARGUMENT with a
 * message that lists the accepted forms otherwise.
 */
verge_status verge_fill_parse(const char *text, verge_fill *fill);

/*
 * Stores the median of the non-NaN samples in *median, exactly as pandas'
 * Series.median(): with an even count, the mean of the two middle values.
 * Runs in O(count) time without changing `samples`; it allocates a small
 * sample and the values near the median (a few percent of count).
 * Returns VERGE_STATUS_INVALID_DATA when no sample is non-NaN, or
 * VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_series_median(const double *samples, size_t count, double *median);

/*
 * Stores the mean of the non-NaN samples in *mean (pairwise summation).
 * Returns VERGE_STATUS_INVALID_DATA when no sample is non-NaN.
 */
verge_status verge_series_mean(const double *samples, size_t count, double *mean);

/* -------------------------------------------------------------- features */

typedef enum verge_feature_kind {
    VERGE_FEATURE_MEAN = 0,
    VERGE_FEATURE_STD,            /* population standard deviation (divides by window) */
    VERGE_FEATURE_VAR,            /* population variance */
    VERGE_FEATURE_MIN,
    VERGE_FEATURE_MAX,
    VERGE_FEATURE_RMS,            /* sqrt(sum(x^2) / window) */
    VERGE_FEATURE_P2P,            /* max - min */
    VERGE_FEATURE_ENERGY,         /* sum |FFT(x)|^2 = window * sum(x^2) (Parseval, no FFT) */
    VERGE_FEATURE_ZERO_CROSSINGS, /* neighbour pairs inside the window where (x < 0) changes */
    VERGE_FEATURE_SKEW,           /* m3 / m2^1.5 with population moments */
    VERGE_FEATURE_KURTOSIS,       /* excess kurtosis m4 / m2^2 - 3 with population moments */
    VERGE_FEATURE_BAND_ENERGY,    /* `bands` columns, see below */
    VERGE_FEATURE_DOMINANT_FREQ,  /* see below */
} verge_feature_kind;

/*
 * One entry of a feature list.
 *
 * band_energy:B splits the one-sided spectrum, bins 0 .. window/2 of the
 * window's DFT, into B bands of consecutive bins: band b holds bins
 * floor(b * nbins / B) .. floor((b + 1) * nbins / B) - 1 with
 * nbins = window/2 + 1, so B may be at most nbins. Each bin adds |X_k|^2,
 * twice for bins that have a mirror bin in the two-sided spectrum, so the
 * bands add up to `energy`.
 *
 * dominant_freq is the frequency k * sample_rate / window of the bin
 * k in 1 .. window/2 with the largest |X_k| (the lowest such k on ties; the
 * mean, bin 0, is left out); 0 when all those bins are zero, or when the
 * window is 1.
 */
typedef struct verge_feature {
    verge_feature_kind kind;
    uint32_t bands; /* VERGE_FEATURE_BAND_ENERGY: number of bands, >= 1 */
} verge_feature;

#define VERGE_FEATURES_MAX 32 /* entries in one feature list */
#define VERGE_WINDOW_MAX ((size_t)1 << 26) /* largest window, in samples */

typedef struct verge_features_config {
    size_t window; /* samples per window, 1 .. VERGE_WINDOW_MAX */
    size_t step;   /* samples between the ends of consecutive windows, >= 1 */
    verge_fill fill;
    verge_feature features[VERGE_FEATURES_MAX];
    size_t feature_count; /* >= 1 */
    double sample_rate;   /* samples per second (> 0), for dominant_freq; 1 gives cycles per sample */
} verge_features_config;

/* Fills *config with the defaults: window 10, step 1, median fill, mean,std,energy, rate 1. */
void verge_features_config_default(verge_features_config *config);

/*
 * Parses a comma-separated feature list ("mean,std,band_energy:4") into
 * config->features and config->feature_count. Names are those of the
 * verge_feature_kind values in lower case; "band_energy" needs ":B".
 * Returns VERGE_STATUS_INVALID_ARGUMENT naming the bad entry otherwise
 * (unknown name, repeated name, bad band count, more than VERGE_FEATURES_MAX).
 */
verge_status verge_features_parse_list(const char *text, verge_features_config *config);

/*
 * Checks every field of *config, including that band counts fit the window.
 * Returns VERGE_OK or VERGE_STATUS_INVALID_ARGUMENT with a message.
 */
verge_status verge_features_config_check(const verge_features_config *config);

/* Returns the number of output columns: one per feature, B per band_energy:B. */
size_t verge_features_columns(const verge_features_config *config);

/*
 * Writes the name of output column `column` ("mean", "band_energy_2") into
 * buffer (NUL-terminated, truncated to size) and returns buffer.
 */
const char *verge_features_column_name(const verge_features_config *config, size_t column,
                                       char *buffer, size_t size);

/* Returns the number of windows in a series of `count` samples (0 when count < window). */
size_t verge_features_rows(const verge_features_config *config, size_t count);

/* Counters of a batch call or a stream. */
typedef struct verge_features_stats {
    uint64_t samples;     /* samples received */
    uint64_t missing;     /* of those, NaN */
    uint64_t filled;      /* missing samples replaced by the fill rule */
    uint64_t inf_samples; /* samples that are +inf or -inf */
    uint64_t windows;     /* rows produced */
    uint64_t nan_windows; /* windows that contained a NaN (all their features are NaN) */
    uint64_t inf_windows; /* windows that contained +-inf and no NaN */
    uint64_t reanchors;   /* times the running sums were recomputed from the window */
    double fill_value;    /* median or mean used by those fills; NaN for other fills */
} verge_features_stats;

/*
 * Fills the missing samples of samples[0..count) according to config->fill
 * (the input is not changed) and writes out_rows rows of
 * verge_features_columns() values each to `out`, row-major. out_rows must
 * equal verge_features_rows(config, count). `stats` may be NULL.
 *
 * Returns VERGE_OK; VERGE_STATUS_INVALID_ARGUMENT for a bad config, a
 * series shorter than the window or a wrong out_rows;
 * VERGE_STATUS_INVALID_DATA when nothing can be filled (see verge_fill);
 * VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_features_compute(const verge_features_config *config, const double *samples,
                                    size_t count, double *out, size_t out_rows,
                                    verge_features_stats *stats);

/* Consecutive rows handed to a stream's sink. */
typedef struct verge_features_block {
    const double *values; /* rows * columns values, row-major; valid during the call */
    size_t rows;
    size_t columns;
    uint64_t first_window; /* 0-based index of the first row's window */
    uint64_t first_end;    /* 0-based sample index of the last sample of the first row's window */
    uint64_t step;         /* sample distance between the ends of consecutive rows */
} verge_features_block;

/* Receives rows; a status other than VERGE_OK stops the stream and is returned by push/finish. */
typedef verge_status (*verge_features_sink)(void *user, const verge_features_block *block);

typedef struct verge_features_stream verge_features_stream;

/*
 * Creates a stream. Median and mean fills need the whole series and are
 * rejected (VERGE_STATUS_INVALID_ARGUMENT): use median:K, or compute the
 * value with verge_series_median() and pass it as a constant fill.
 * Memory is O(window) plus the longest run of missing samples that waits
 * for its fill value (bfill and linear wait for the next non-NaN sample;
 * ffill and running median wait only at the start of the series): such a
 * run is kept as a count, but the rows of windows that overlap it are
 * delayed until the value is known.
 */
verge_status verge_features_stream_create(const verge_features_config *config,
                                          verge_features_sink sink, void *user,
                                          verge_features_stream **stream);

/*
 * Adds count samples (NaN = missing) and hands every window that is now
 * complete to the sink, in blocks of up to a few thousand rows. Returns
 * VERGE_OK, the sink's status, or VERGE_STATUS_INVALID_ARGUMENT after finish.
 */
verge_status verge_features_stream_push(verge_features_stream *stream, const double *samples,
                                        size_t count);

/*
 * Ends the series: fills a trailing gap and hands the remaining windows to
 * the sink. Returns VERGE_STATUS_INVALID_DATA when the series had fewer
 * samples than the window, or when all samples were missing and the fill
 * needs a non-NaN sample; otherwise like push.
 */
verge_status verge_features_stream_finish(verge_features_stream *stream);

void verge_features_stream_stats(const verge_features_stream *stream, verge_features_stats *stats);

/* Frees a stream. NULL is allowed. */
void verge_features_stream_destroy(verge_features_stream *stream);

/* ---------------------------------------------------------- series input */

typedef enum verge_series_format {
    VERGE_SERIES_AUTO = 0, /* from the file name: .npy, .f32, .f64, otherwise CSV */
    VERGE_SERIES_CSV,      /* text with a header line, RFC 4180 quoting, LF or CRLF */
    VERGE_SERIES_F32,      /* raw little-endian float32 samples */
    VERGE_SERIES_F64,      /* raw little-endian float64 samples */
    VERGE_SERIES_NPY,      /* NumPy .npy, 1-D, or 2-D with a column chosen by index; float32,
                              float64, int8, uint8, int32, int64 or bool (0 and 1) */
} verge_series_format;

typedef struct verge_series_options {
    verge_series_format format;
    /* CSV: a header name, or else a 0-based index written in digits; NULL means "value".
       .npy with two dimensions: the 0-based column index (NULL means 0 when there is one column). */
    const char *column;
    const char *time_column; /* CSV only: a column copied to the output as text; NULL for none */
    bool skip_bad_rows;      /* drop and count bad CSV rows instead of failing */
} verge_series_options;

/* Samples read by one verge_series_reader_next() call, valid until the next call. */
typedef struct verge_series_chunk {
    const double *values; /* NaN where the cell was a missing marker */
    size_t count;
    /* With a time column: the text of row i is time_text[time_offsets[i] .. time_offsets[i+1]);
       NULL otherwise. */
    const char *time_text;
    const size_t *time_offsets;
} verge_series_chunk;

typedef struct verge_series_info {
    const char *column_name;      /* header name of the value column (CSV), or "value" */
    const char *time_column_name; /* header name of the time column, or NULL */
    uint64_t rows;                /* data rows (CSV) or samples read so far */
    uint64_t skipped_rows;        /* rows dropped by skip_bad_rows */
    const char *first_skip;       /* message about the first dropped row, or "" */
} verge_series_info;

typedef struct verge_series_reader verge_series_reader;

/*
 * Opens `path` ("-" for standard input) for reading. CSV and raw input are
 * read in chunks, so standard input may be an endless stream: each
 * verge_series_reader_next() call returns as soon as at least one complete
 * row has arrived. A .npy file is read whole (at most 1 GiB).
 * Returns VERGE_STATUS_NOT_FOUND, VERGE_STATUS_IO_ERROR,
 * VERGE_STATUS_INVALID_ARGUMENT (options) or VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_series_reader_open(const char *path, const verge_series_options *options,
                                      verge_series_reader **reader);

/* Like verge_series_reader_open() over `size` bytes in memory (copied); `name` is used in messages. */
verge_status verge_series_reader_open_memory(const void *data, size_t size, const char *name,
                                             const verge_series_options *options,
                                             verge_series_reader **reader);

/*
 * Reads the next samples into *chunk (count >= 1). Returns VERGE_OK,
 * VERGE_STATUS_END_OF_STREAM after the last sample, or
 * VERGE_STATUS_INVALID_DATA with a message that names the input, the line
 * and the value: an empty input, a value column or time column that is not
 * in the header, a row with a different number of fields than the header, a
 * cell that is not a number, an input with no data rows, a truncated binary
 * input. With skip_bad_rows, bad rows are counted instead (see
 * verge_series_reader_info()). Also VERGE_STATUS_IO_ERROR and
 * VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_series_reader_next(verge_series_reader *reader, verge_series_chunk *chunk);

/* Describes the input; the strings stay valid until the reader is closed. */
void verge_series_reader_info(const verge_series_reader *reader, verge_series_info *info);

/* Closes the input and frees the reader. NULL is allowed. */
void verge_series_reader_close(verge_series_reader *reader);

#ifdef __cplusplus
}
#endif

#endif
