/*
 * Sliding-window features: the batch call over an array and the streaming
 * state, both on top of the window engine (engine.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "core/core.h"
#include "signal/engine.h"
#include "signal/internal.h"

/* ------------------------------------------------------------ batch call */

/*
 * Copies rows into the caller's (large) output with non-temporal stores
 * where the CPU has AVX-512 or AVX, and with memcpy elsewhere. The output
 * is not read again soon, so skipping the read-for-ownership of each output
 * cache line saves a third of the memory traffic of a batch call.
 */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void stream_copy_avx512(double *dst, const double *src,
                                                                  size_t count)
{
    size_t i = 0;
    while (i < count && ((uintptr_t)(dst + i) & 63) != 0) {
        dst[i] = src[i];
        i++;
    }
    for (; i + 8 <= count; i += 8)
        _mm512_stream_pd(dst + i, _mm512_loadu_pd(src + i));
    for (; i < count; i++)
        dst[i] = src[i];
}

__attribute__((target("avx"))) static void stream_copy_avx(double *dst, const double *src,
                                                           size_t count)
{
    size_t i = 0;
    while (i < count && ((uintptr_t)(dst + i) & 31) != 0) {
        dst[i] = src[i];
        i++;
    }
    for (; i + 4 <= count; i += 4)
        _mm256_stream_pd(dst + i, _mm256_loadu_pd(src + i));
    for (; i < count; i++)
        dst[i] = src[i];
}

static void stream_copy(double *dst, const double *src, size_t count)
{
    if (__builtin_cpu_supports("avx512f"))
        stream_copy_avx512(dst, src, count);
    else if (__builtin_cpu_supports("avx"))
        stream_copy_avx(dst, src, count);
    else
        memcpy(dst, src, count * sizeof(*dst));
}

/* Orders the non-temporal stores before anything the caller does next. */
static void stream_fence(void)
{
    _mm_sfence();
}
#else
static void stream_copy(double *dst, const double *src, size_t count)
{
    memcpy(dst, src, count * sizeof(*dst));
}

static void stream_fence(void)
{
}
#endif


typedef struct fill_target {
    double *at;
} fill_target;

static verge_status write_filled(void *user, const double *samples, size_t count)
{
    fill_target *target = user;
    memcpy(target->at, samples, count * sizeof(*samples));
    target->at += count;
    return VERGE_OK;
}

/*
 * Counts NaN and infinite samples, and finite samples that are not plain
 * (verge_is_plain()) into *extreme when it is not NULL. Integer-only, so it
 * vectorizes.
 */
VERGE_VECTOR_CLONES static void count_special(const double *samples, size_t count,
                                              uint64_t *missing, uint64_t *inf, uint64_t *extreme)
{
    const int64_t infinity_bits = (int64_t)0x7ff << 52;
    uint64_t nan_total = 0;
    uint64_t inf_total = 0;
    uint64_t extreme_total = 0;

    for (size_t i = 0; i < count; i++) {
        int64_t bits;
        memcpy(&bits, &samples[i], sizeof(bits));
        bits &= INT64_MAX; /* drop the sign */
        nan_total += bits > infinity_bits;
        inf_total += bits == infinity_bits;
        /* Biased exponents 823 .. 1222 are plain, and 2047 is NaN or infinity. */
        const uint64_t exponent = (uint64_t)bits >> 52;
        extreme_total += (uint64_t)(exponent - 823 >= 400) & (uint64_t)(bits != 0) &
                         (uint64_t)(exponent != 0x7ff);
    }
    *missing += nan_total;
    *inf += inf_total;
    if (extreme != NULL)
        *extreme += extreme_total;
}

/* Copies count samples, replacing NaN with value; a select per sample, so it vectorizes. */
VERGE_VECTOR_CLONES static void fill_constant(double *restrict out, const double *restrict in,
                                              size_t count, double value)
{
    for (size_t i = 0; i < count; i++)
        out[i] = in[i] == in[i] ? in[i] : value;
}

/*
 * Counts the NaN and infinite samples of the whole series and prepares the
 * fill: median and mean become a constant; a constant fill is applied block
 * by block into a block-sized buffer (*fill_blocks); the other rules fill a
 * copy of the series (*data). Sets e->known_plain for what follows.
 */
static verge_status prepare_fill(verge_engine *e, const double *samples, size_t count,
                                 verge_fill *fill, verge_imputer *imputer, double **filled,
                                 const double **data, bool *fill_blocks)
{
    const verge_features_config *config = &e->config;
    verge_status status;

    uint64_t extreme = 0;

    e->stats.missing = 0;
    e->stats.inf_samples = 0;
    count_special(samples, count, &e->stats.missing, &e->stats.inf_samples, &extreme);

    if (fill->method == VERGE_FILL_MEDIAN || fill->method == VERGE_FILL_MEAN) {
        double value = NAN;
        if (e->stats.missing > 0) {
            status = fill->method == VERGE_FILL_MEDIAN ? verge_series_median(samples, count, &value)
                                                       : verge_series_mean(samples, count, &value);
            if (status != VERGE_OK)
                return status;
        }
        e->stats.fill_value = value;
        fill->method = VERGE_FILL_CONSTANT;
        fill->value = value;
    }

    *fill_blocks = e->stats.missing > 0 && fill->method == VERGE_FILL_CONSTANT;
    if (*fill_blocks) {
        /* One block of samples and the step before it. */
        *filled = malloc((e->max_span + config->step) * sizeof(**filled));
        if (*filled == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "features: out of memory");
        e->stats.filled = e->stats.missing;
    } else if (e->stats.missing > 0 && fill->method != VERGE_FILL_NONE) {
        fill_target target;
        size_t bytes;

        if (!verge_size_mul(count, sizeof(**filled), &bytes) || (*filled = malloc(bytes)) == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                              "features: out of memory for %zu filled samples", count);
        target.at = *filled;
        status = verge_imputer_init(imputer, fill, write_filled, &target);
        if (status == VERGE_OK)
            status = verge_imputer_push(imputer, samples, count);
        if (status == VERGE_OK)
            status = verge_imputer_finish(imputer);
        if (status != VERGE_OK)
            return status;
        e->stats.filled = imputer->filled;
        *data = *filled;
    }

    /*
     * A constant fill adds one known value. The other rules put values from
     * the series in the gaps, but linear interpolation can round to a value
     * under VERGE_PLAIN_MIN, so their blocks are checked one by one.
     */
    e->known_plain = e->stats.inf_samples == 0 && extreme == 0 &&
                     (e->stats.missing == 0 ||
                      (fill->method == VERGE_FILL_CONSTANT && verge_is_plain(fill->value)));
    return VERGE_OK;
}

verge_status verge_features_compute(const verge_features_config *config, const double *samples,
                                    size_t count, double *out, size_t out_rows,
                                    verge_features_stats *stats)
{
    verge_engine e;
    verge_imputer imputer;
    verge_fill fill;
    double *filled = NULL;
    const double *data = samples;
    verge_status status = verge_features_config_check(config);

    if (status != VERGE_OK)
        return status;
    const size_t rows = verge_features_rows(config, count);
    if (rows == 0)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "window of %zu samples is larger than the series (%zu samples)",
                          config->window, count);
    if (out_rows != rows)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "output has room for %zu rows, but %zu samples give %zu windows",
                          out_rows, count, rows);

    status = verge_engine_init(&e, config);
    if (status != VERGE_OK)
        return status;
    memset(&imputer, 0, sizeof(imputer));
    e.stats.samples = count;
    fill = config->fill;

    /*
     * With overlapping or touching windows, every sample up to the last
     * window's end is in some block, so each block checks its own samples
     * (which also brings them into the cache). Only when a block holds a
     * sample that is not plain (NaN, infinite, or outside 2^-200 .. 2^200)
     * is the whole series counted and filled, before that block: the blocks
     * before it hold plain samples only, whose rows no fill changes. Windows
     * with gaps between them are checked up front.
     */
    bool prepared = false;
    bool fill_blocks = false;
    if (config->step > config->window) {
        status = prepare_fill(&e, samples, count, &fill, &imputer, &filled, &data, &fill_blocks);
        if (status != VERGE_OK)
            goto cleanup;
        prepared = true;
    }
    for (size_t done = 0; done < rows;) {
        const size_t m = rows - done < e.max_windows ? rows - done : e.max_windows;
        const size_t first = done * config->step;
        /* Samples before the block that leave the running sums (none when windows do not overlap). */
        const size_t behind = config->step >= config->window ? 0
                              : first < config->step       ? first
                                                           : config->step;
        const size_t span = (m - 1) * config->step + config->window;
        const double *x = data + first;

        if (!prepared) {
            if (verge_all_plain(samples + first - behind, behind + span)) {
                e.known_plain = true;
            } else {
                status = prepare_fill(&e, samples, count, &fill, &imputer, &filled, &data,
                                      &fill_blocks);
                if (status != VERGE_OK)
                    goto cleanup;
                prepared = true;
                x = data + first;
            }
        }
        if (fill_blocks) {
            fill_constant(filled, samples + first - behind, behind + span, fill.value);
            x = filled + behind;
        }
        /* Prefetching reads past the block, so only when a further block follows. */
        e.prefetch_next = !fill_blocks && rows - done > 2 * e.max_windows;
        verge_engine_run_block(&e, x, behind, (uint64_t)(first + config->window - 1), m, e.rows);
        stream_copy(out + done * e.columns, e.rows, m * e.columns);
        done += m;
    }
    if (!prepared) {
        /* All windows were finite; samples after the last window's end still count. */
        const size_t covered = (rows - 1) * config->step + config->window;
        count_special(samples + covered, count - covered, &e.stats.missing, &e.stats.inf_samples,
                      NULL);
    }
    stream_fence();
    if (stats != NULL)
        *stats = e.stats;

cleanup:
    verge_imputer_free(&imputer);
    free(filled);
    verge_engine_free(&e);
    return status;
}

/* ---------------------------------------------------------------- stream */

struct verge_features_stream {
    verge_engine engine;
    verge_imputer imputer;
    verge_features_sink sink;
    void *user;
    bool finished;
    verge_status failure; /* a sink error stops the stream for good */

    /* Samples buffer_start .. buffer_start + length - 1 (global indices). */
    double *buffer;
    size_t capacity;
    size_t length;
    uint64_t buffer_start;
    uint64_t next_end; /* global index of the last sample of the next window */
};

/* First global sample index that later windows or the running sums still read. */
static uint64_t retain_from(const verge_features_stream *s)
{
    const uint64_t w = s->engine.config.window;
    const uint64_t step = s->engine.config.step;
    const uint64_t start = s->next_end + 1 - w;
    const uint64_t behind = step < w ? step : 0;

    return start > behind ? start - behind : 0;
}

static void compact(verge_features_stream *s)
{
    const uint64_t keep = retain_from(s);

    if (keep <= s->buffer_start)
        return;
    uint64_t drop = keep - s->buffer_start;
    if (drop > s->length)
        drop = s->length;
    memmove(s->buffer, s->buffer + drop, (s->length - (size_t)drop) * sizeof(*s->buffer));
    s->length -= (size_t)drop;
    s->buffer_start += drop;
}

/* Computes every window that the buffer completes and hands the rows to the sink. */
static verge_status process_buffer(verge_features_stream *s)
{
    verge_engine *e = &s->engine;
    const size_t w = e->config.window;
    const size_t step = e->config.step;
    const uint64_t buffer_end = s->buffer_start + s->length;

    while (buffer_end > s->next_end) {
        const uint64_t available = (buffer_end - 1 - s->next_end) / step + 1;
        const size_t m = available < e->max_windows ? (size_t)available : e->max_windows;
        const uint64_t first_start = s->next_end + 1 - w;
        const size_t offset = (size_t)(first_start - s->buffer_start);
        const size_t behind = offset < step ? offset : step;
        verge_features_block block;

        verge_engine_run_block(e, s->buffer + offset, behind, s->next_end, m, e->rows);
        block.values = e->rows;
        block.rows = m;
        block.columns = e->columns;
        block.first_window = (s->next_end - (w - 1)) / step;
        block.first_end = s->next_end;
        block.step = step;
        s->next_end += (uint64_t)m * step;

        verge_status status = s->sink(s->user, &block);
        if (status != VERGE_OK) {
            s->failure = status;
            return status;
        }
    }
    compact(s);
    return VERGE_OK;
}

/* Receives filled samples from the imputer. */
static verge_status append_samples(void *user, const double *samples, size_t count)
{
    verge_features_stream *s = user;

    while (count > 0) {
        const uint64_t incoming = s->buffer_start + s->length;
        const uint64_t keep = retain_from(s);

        if (s->length == 0 && incoming < keep) {
            /* Samples between windows (step > window) are never read. */
            const uint64_t skip64 = keep - incoming;
            const size_t skip = skip64 < count ? (size_t)skip64 : count;
            s->buffer_start += skip;
            samples += skip;
            count -= skip;
            continue;
        }
        if (s->length == s->capacity) {
            verge_status status = process_buffer(s);
            if (status != VERGE_OK)
                return status;
            if (s->length == s->capacity)
                return verge_fail(VERGE_STATUS_INTERNAL, "features stream: buffer did not drain");
            continue;
        }
        const size_t room = s->capacity - s->length;
        const size_t n = count < room ? count : room;
        memcpy(s->buffer + s->length, samples, n * sizeof(*samples));
        s->length += n;
        samples += n;
        count -= n;
    }
    return VERGE_OK;
}

verge_status verge_features_stream_create(const verge_features_config *config,
                                          verge_features_sink sink, void *user,
                                          verge_features_stream **out)
{
    verge_features_stream *s;
    verge_status status;

    *out = NULL;
    status = verge_features_config_check(config);
    if (status != VERGE_OK)
        return status;
    if (sink == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "features stream: NULL sink");
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "features stream: out of memory");

    status = verge_imputer_init(&s->imputer, &config->fill, append_samples, s);
    if (status != VERGE_OK) {
        free(s);
        return status;
    }
    status = verge_engine_init(&s->engine, config);
    if (status != VERGE_OK) {
        verge_imputer_free(&s->imputer);
        free(s);
        return status;
    }
    s->sink = sink;
    s->user = user;
    s->next_end = config->window - 1;
    /* Room for one block past the retained samples (at most window - 1 + step of them). */
    s->capacity = 2 * config->window + VERGE_BLOCK_SAMPLES + (config->step < config->window ? config->step : 0);
    s->buffer = malloc(s->capacity * sizeof(*s->buffer));
    if (s->buffer == NULL) {
        verge_features_stream_destroy(s);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "features stream: out of memory");
    }
    *out = s;
    return VERGE_OK;
}

verge_status verge_features_stream_push(verge_features_stream *s, const double *samples,
                                        size_t count)
{
    verge_status status;

    if (s->failure != VERGE_OK)
        return verge_fail(s->failure, "features stream: stopped by an earlier error");
    if (s->finished)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "features stream: push after finish");

    s->engine.stats.samples += count;
    count_special(samples, count, &s->engine.stats.missing, &s->engine.stats.inf_samples, NULL);
    status = verge_imputer_push(&s->imputer, samples, count);
    if (status == VERGE_OK)
        status = process_buffer(s);
    if (status != VERGE_OK && s->failure == VERGE_OK)
        s->failure = status;
    return status;
}

verge_status verge_features_stream_finish(verge_features_stream *s)
{
    verge_status status;

    if (s->failure != VERGE_OK)
        return verge_fail(s->failure, "features stream: stopped by an earlier error");
    if (s->finished)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "features stream: finished twice");
    s->finished = true;

    status = verge_imputer_finish(&s->imputer);
    if (status == VERGE_OK)
        status = process_buffer(s);
    if (status != VERGE_OK)
        return status;
    if (s->engine.stats.windows == 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "window of %zu samples is larger than the series (%llu samples)",
                          s->engine.config.window, (unsigned long long)s->engine.stats.samples);
    return VERGE_OK;
}

void verge_features_stream_stats(const verge_features_stream *s, verge_features_stats *stats)
{
    *stats = s->engine.stats;
    stats->filled = s->imputer.filled;
    if (s->engine.config.fill.method == VERGE_FILL_CONSTANT)
        stats->fill_value = s->engine.config.fill.value;
}

void verge_features_stream_destroy(verge_features_stream *s)
{
    if (s == NULL)
        return;
    verge_imputer_free(&s->imputer);
    verge_engine_free(&s->engine);
    free(s->buffer);
    free(s);
}
