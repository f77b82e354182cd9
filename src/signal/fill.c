/*
 * Imputation: parsing fill rules, exact median and mean of a series, and the
 * streaming imputer used by verge_features_stream.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "signal/internal.h"

/* ------------------------------------------------------------- fill rules */

static const char fill_forms[] =
    "median, mean, ffill, bfill, linear, constant:V, none or median:K (K >= 1)";

verge_status verge_fill_parse(const char *text, verge_fill *fill)
{
    static const struct {
        const char *name;
        verge_fill_method method;
    } plain[] = {
        {"median", VERGE_FILL_MEDIAN}, {"mean", VERGE_FILL_MEAN},     {"ffill", VERGE_FILL_FFILL},
        {"bfill", VERGE_FILL_BFILL},   {"linear", VERGE_FILL_LINEAR}, {"none", VERGE_FILL_NONE},
    };

    if (text == NULL || fill == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "fill rule: NULL argument");
    memset(fill, 0, sizeof(*fill));
    for (size_t i = 0; i < VERGE_ARRAY_SIZE(plain); i++) {
        if (strcmp(text, plain[i].name) == 0) {
            fill->method = plain[i].method;
            return VERGE_OK;
        }
    }

    if (strncmp(text, "constant:", 9) == 0) {
        const char *number = text + 9;
        double value;

        if (verge_parse_double(number, strlen(number), &value) != VERGE_NUMBER_VALUE)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "fill rule '%s': '%s' is not a number", text, number);
        fill->method = VERGE_FILL_CONSTANT;
        fill->value = value;
        return VERGE_OK;
    }
    if (strncmp(text, "median:", 7) == 0) {
        const char *digits = text + 7;
        char *end = NULL;
        unsigned long long k;

        errno = 0;
        k = strtoull(digits, &end, 10);
        if (digits[0] < '0' || digits[0] > '9' || *end != '\0' || errno != 0 || k < 1 ||
            k > VERGE_WINDOW_MAX)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "fill rule '%s': K must be a whole number from 1 to %zu", text,
                              (size_t)VERGE_WINDOW_MAX);
        fill->method = VERGE_FILL_RUNNING_MEDIAN;
        fill->k = (size_t)k;
        return VERGE_OK;
    }
    return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "unknown fill rule '%s': expected %s", text,
                      fill_forms);
}

/* -------------------------------------------------------------- selection */

static inline void swap_doubles(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

double verge_select_kth(double *values, size_t count, size_t k)
{
    size_t lo = 0;
    size_t hi = count - 1;
    int budget = 2 * 64; /* partitions allowed before sorting instead, which bounds bad pivots */

    while (hi > lo) {
        if (budget-- == 0) {
            qsort(values + lo, hi - lo + 1, sizeof(*values), compare_doubles);
            return values[k];
        }

        /* Median of three as the pivot, then Hoare partition. */
        size_t mid = lo + (hi - lo) / 2;
        if (values[mid] < values[lo])
            swap_doubles(&values[mid], &values[lo]);
        if (values[hi] < values[lo])
            swap_doubles(&values[hi], &values[lo]);
        if (values[hi] < values[mid])
            swap_doubles(&values[hi], &values[mid]);
        double pivot = values[mid];

        size_t i = lo;
        size_t j = hi;
        for (;;) {
            while (values[i] < pivot)
                i++;
            while (pivot < values[j])
                j--;
            if (i >= j)
                break;
            swap_doubles(&values[i], &values[j]);
            i++;
            j--;
        }
        /* Now values[lo..j] <= pivot <= values[j+1..hi]. */
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
    return values[k];
}

/* Maps a non-NaN double to an unsigned key with the same order. */
static inline uint64_t order_key(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    return (bits >> 63) != 0 ? ~bits : bits | ((uint64_t)1 << 63);
}

static inline double key_value(uint64_t key)
{
    uint64_t bits = (key >> 63) != 0 ? key & ~((uint64_t)1 << 63) : ~key;
    double x;
    memcpy(&x, &bits, sizeof(x));
    return x;
}

enum { RADIX_BITS = 16, RADIX_BUCKETS = 1 << RADIX_BITS, GATHER_MAX = 1 << 14 };

/*
 * Finds the rank-th smallest (0-based) non-NaN sample without reordering the
 * input: most-significant-digit radix selection over order keys, 16 bits per
 * pass, until the bucket that holds the rank is small enough to gather and
 * select in memory. Typical data needs two passes plus the gathering pass.
 */
static verge_status select_rank(const double *samples, size_t count, uint64_t rank, double *out)
{
    uint64_t *histogram = malloc(RADIX_BUCKETS * sizeof(*histogram));
    double *gathered = NULL;
    uint64_t prefix = 0;
    int shift = 64;
    verge_status status = VERGE_OK;

    if (histogram == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "median: out of memory");

    while (shift > 0) {
        const int high = shift; /* bits above `high` must equal prefix */
        shift -= RADIX_BITS;
        memset(histogram, 0, RADIX_BUCKETS * sizeof(*histogram));
        for (size_t i = 0; i < count; i++) {
            if (samples[i] != samples[i])
                continue;
            const uint64_t key = order_key(samples[i]);
            if (high == 64 || (key >> high) == prefix)
                histogram[(key >> shift) & (RADIX_BUCKETS - 1)]++;
        }

        uint64_t digit = 0;
        while (rank >= histogram[digit]) {
            rank -= histogram[digit];
            digit++;
        }
        prefix = (prefix << RADIX_BITS) | digit;
        if (shift == 0) {
            *out = key_value(prefix);
            goto cleanup;
        }

        const uint64_t in_bucket = histogram[digit];
        if (in_bucket <= GATHER_MAX) {
            size_t n = 0;

            gathered = malloc((size_t)in_bucket * sizeof(*gathered));
            if (gathered == NULL) {
                status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "median: out of memory");
                goto cleanup;
            }
            for (size_t i = 0; i < count; i++) {
                if (samples[i] == samples[i] && (order_key(samples[i]) >> shift) == prefix)
                    gathered[n++] = samples[i];
            }
            *out = verge_select_kth(gathered, n, (size_t)rank);
            goto cleanup;
        }
    }

cleanup:
    free(gathered);
    free(histogram);
    return status;
}

enum { SAMPLE_SIZE = 8192 };

/*
 * Finds the two middle non-NaN samples (*low, *high: equal for an odd
 * count) and their count *valid in one pass over the data, in the manner of
 * Floyd and Rivest: the middle of a random sample brackets the median
 * between two values, and the samples between them are gathered and
 * selected exactly. Returns false, with nothing found, when the bracket
 * misses (rare) or the series is too small to pay off; the caller then
 * uses select_rank().
 */
static bool select_median_by_sampling(const double *samples, size_t count, size_t *valid,
                                      double *low, double *high)
{
    double *sample = NULL;
    double *gathered = NULL;
    size_t sampled = 0;
    bool found = false;
    uint64_t random = 0x9e3779b97f4a7c15u;

    if (count < 16 * SAMPLE_SIZE)
        return false;
    sample = malloc(SAMPLE_SIZE * sizeof(*sample));
    if (sample == NULL)
        return false;
    for (size_t draw = 0; draw < 4 * SAMPLE_SIZE && sampled < SAMPLE_SIZE; draw++) {
        random ^= random >> 12;
        random ^= random << 25;
        random ^= random >> 27;
        const double x = samples[(random * 0x2545f4914f6cdd1du) % count];
        if (x == x)
            sample[sampled++] = x;
    }
    if (sampled < SAMPLE_SIZE / 2)
        goto cleanup;
    qsort(sample, sampled, sizeof(*sample), compare_doubles);

    /* The median's position in the sample is binomial: allow about five standard deviations. */
    const double margin = 5.0 * sqrt((double)sampled * 0.25) + 8.0;
    const double center = 0.5 * (double)(sampled - 1);
    const double from = center - margin;
    const double to = center + 1.0 + margin;
    const double lower = sample[(size_t)from];
    const double upper = sample[(size_t)to];
    const size_t capacity = (size_t)(2.0 * (to - from + 1.0) / (double)sampled * (double)count);

    gathered = malloc((capacity + 1) * sizeof(*gathered));
    if (gathered == NULL)
        goto cleanup;
    size_t below = 0;
    size_t inside = 0;
    size_t numbers = 0;
    for (size_t i = 0; i < count; i++) {
        /* Branch-free: every sample is stored, and kept only when inside the bracket
           (NaN compares false both ways). */
        const double x = samples[i];
        numbers += x == x;
        below += x < lower;
        gathered[inside] = x;
        inside += (x >= lower) & (x <= upper);
        if (inside == capacity)
            goto cleanup;
    }
    const size_t rank_low = (numbers - 1) / 2;
    const size_t rank_high = numbers / 2;
    if (rank_low < below || rank_high >= below + inside)
        goto cleanup;

    *valid = numbers;
    *low = verge_select_kth(gathered, inside, rank_low - below);
    *high = *low;
    if (rank_high != rank_low) {
        /* After selection the elements past rank_low are all >= low: the next rank is their minimum. */
        double next = INFINITY;
        for (size_t i = rank_low - below + 1; i < inside; i++)
            next = gathered[i] < next ? gathered[i] : next;
        *high = next;
    }
    found = true;

cleanup:
    free(sample);
    free(gathered);
    return found;
}

/* Counts the non-NaN samples; integer-only, so it vectorizes. */
static size_t count_valid(const double *samples, size_t count)
{
    const int64_t infinity_bits = (int64_t)0x7ff << 52;
    size_t nan_count = 0;

    for (size_t i = 0; i < count; i++) {
        int64_t bits;
        memcpy(&bits, &samples[i], sizeof(bits));
        nan_count += (bits & INT64_MAX) > infinity_bits;
    }
    return count - nan_count;
}

verge_status verge_series_median(const double *samples, size_t count, double *median)
{
    size_t valid = 0;
    double low = 0;
    double high = 0;
    verge_status status;

    if (select_median_by_sampling(samples, count, &valid, &low, &high)) {
        const double sum = low + high;
        *median = isinf(sum) && !isinf(low) && !isinf(high) ? low / 2 + high / 2 : sum / 2;
        return VERGE_OK;
    }

    valid = count_valid(samples, count);
    if (valid == 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "median: all %zu samples are missing, so there is no median", count);
    status = select_rank(samples, count, (valid - 1) / 2, &low);
    if (status != VERGE_OK)
        return status;
    if (valid % 2 == 1) {
        *median = low;
        return VERGE_OK;
    }

    /* Even count: the upper middle value is low again, or the smallest sample above it. */
    const uint64_t low_key = order_key(low);
    size_t at_most_low = 0;
    high = INFINITY;
    for (size_t i = 0; i < count; i++) {
        if (samples[i] != samples[i])
            continue;
        if (order_key(samples[i]) <= low_key)
            at_most_low++;
        else if (samples[i] < high)
            high = samples[i];
    }
    if (at_most_low > valid / 2)
        high = low;

    /* pandas (through NumPy) averages the two middle values as (a + b) / 2. */
    double sum = low + high;
    *median = isinf(sum) && !isinf(low) && !isinf(high) ? low / 2 + high / 2 : sum / 2;
    return VERGE_OK;
}

/* Sums the non-NaN samples pairwise, which keeps the rounding error O(log n). */
static double sum_pairwise(const double *samples, size_t count, size_t *valid)
{
    if (count <= 128) {
        double sum = 0;
        for (size_t i = 0; i < count; i++) {
            if (samples[i] == samples[i]) {
                sum += samples[i];
                (*valid)++;
            }
        }
        return sum;
    }
    size_t half = count / 2;
    return sum_pairwise(samples, half, valid) + sum_pairwise(samples + half, count - half, valid);
}

verge_status verge_series_mean(const double *samples, size_t count, double *mean)
{
    size_t valid = 0;
    double sum = sum_pairwise(samples, count, &valid);

    if (valid == 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "mean: all %zu samples are missing, so there is no mean", count);
    *mean = sum / (double)valid;
    return VERGE_OK;
}

/* ------------------------------------------------------ streaming imputer */

verge_status verge_imputer_init(verge_imputer *imputer, const verge_fill *fill,
                                verge_imputer_output output, void *user)
{
    memset(imputer, 0, sizeof(*imputer));
    imputer->fill = *fill;
    imputer->output = output;
    imputer->user = user;

    if (fill->method == VERGE_FILL_MEDIAN || fill->method == VERGE_FILL_MEAN)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "fill rule '%s' needs the whole series and cannot run on a stream: use "
                          "median:K, or compute the value first and fill with constant:V",
                          fill->method == VERGE_FILL_MEDIAN ? "median" : "mean");
    if (fill->method == VERGE_FILL_RUNNING_MEDIAN) {
        size_t bytes;

        if (fill->k < 1 || fill->k > VERGE_WINDOW_MAX)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "fill rule median:%zu: K must be from 1 to %zu", fill->k,
                              (size_t)VERGE_WINDOW_MAX);
        if (!verge_size_mul(fill->k, sizeof(double), &bytes))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "median:%zu: K is too large",
                              fill->k);
        imputer->recent = malloc(bytes);
        imputer->scratch = malloc(bytes);
        if (imputer->recent == NULL || imputer->scratch == NULL) {
            verge_imputer_free(imputer);
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "median:%zu: out of memory", fill->k);
        }
    }
    return VERGE_OK;
}

void verge_imputer_free(verge_imputer *imputer)
{
    if (imputer == NULL)
        return;
    free(imputer->recent);
    free(imputer->scratch);
    imputer->recent = NULL;
    imputer->scratch = NULL;
}

/* Sends `count` copies of value. */
static verge_status output_repeated(verge_imputer *imputer, double value, uint64_t count)
{
    double run[256];
    size_t filled_run = 0;

    while (count > 0) {
        size_t n = count < VERGE_ARRAY_SIZE(run) ? (size_t)count : VERGE_ARRAY_SIZE(run);
        while (filled_run < n)
            run[filled_run++] = value;
        verge_status status = imputer->output(imputer->user, run, n);
        if (status != VERGE_OK)
            return status;
        count -= n;
    }
    return VERGE_OK;
}

/* Sends the linear interpolation between `from` and `to` across `count` missing samples. */
static verge_status output_linear(verge_imputer *imputer, double from, double to, uint64_t count)
{
    /* The same formula as NumPy's interp, which pandas' interpolate() uses: slope * i + from. */
    const double slope = (to - from) / ((double)count + 1);
    double run[256];
    uint64_t done = 0;

    while (done < count) {
        size_t n = count - done < VERGE_ARRAY_SIZE(run) ? (size_t)(count - done)
                                                         : VERGE_ARRAY_SIZE(run);
        for (size_t i = 0; i < n; i++)
            run[i] = slope * (double)(done + i + 1) + from;
        verge_status status = imputer->output(imputer->user, run, n);
        if (status != VERGE_OK)
            return status;
        done += n;
    }
    return VERGE_OK;
}

static double running_median(verge_imputer *imputer)
{
    const size_t n = imputer->recent_count;
    double *values = imputer->scratch;

    memcpy(values, imputer->recent, n * sizeof(*values));
    double low = verge_select_kth(values, n, (n - 1) / 2);
    if (n % 2 == 1)
        return low;
    /* After selection, values[(n-1)/2 + 1 ..] are all >= low: the upper middle is their minimum. */
    double high = values[n / 2];
    for (size_t i = n / 2 + 1; i < n; i++) {
        if (values[i] < high)
            high = values[i];
    }
    return (low + high) / 2;
}

/* Handles `count` missing samples that arrive now. */
static verge_status take_missing(verge_imputer *imputer, size_t count)
{
    switch (imputer->fill.method) {
    case VERGE_FILL_NONE:
        return output_repeated(imputer, NAN, count);
    case VERGE_FILL_CONSTANT:
        imputer->filled += count;
        return output_repeated(imputer, imputer->fill.value, count);
    case VERGE_FILL_FFILL:
        if (!imputer->have_last)
            break;
        imputer->filled += count;
        return output_repeated(imputer, imputer->last, count);
    case VERGE_FILL_RUNNING_MEDIAN:
        if (!imputer->have_last)
            break;
        if (!imputer->gap_value_known) {
            imputer->gap_value = running_median(imputer);
            imputer->gap_value_known = true;
        }
        imputer->filled += count;
        return output_repeated(imputer, imputer->gap_value, count);
    case VERGE_FILL_BFILL:
    case VERGE_FILL_LINEAR:
    case VERGE_FILL_MEDIAN:
    case VERGE_FILL_MEAN:
        break;
    }
    imputer->pending += count;
    return VERGE_OK;
}

/* Fills the waiting gap now that the next non-NaN sample `next` is known. */
static verge_status resolve_pending(verge_imputer *imputer, double next)
{
    const uint64_t count = imputer->pending;
    verge_status status;

    imputer->pending = 0;
    imputer->filled += count;
    if (imputer->fill.method == VERGE_FILL_LINEAR && imputer->have_last)
        status = output_linear(imputer, imputer->last, next, count);
    else
        status = output_repeated(imputer, next, count); /* bfill, or any leading gap */
    return status;
}

static void remember_valid(verge_imputer *imputer, const double *values, size_t count)
{
    imputer->last = values[count - 1];
    imputer->have_last = true;
    imputer->gap_value_known = false;
    if (imputer->recent == NULL)
        return;

    const size_t k = imputer->fill.k;
    size_t from = count > k ? count - k : 0;
    for (size_t i = from; i < count; i++) {
        imputer->recent[imputer->recent_next] = values[i];
        imputer->recent_next = imputer->recent_next + 1 == k ? 0 : imputer->recent_next + 1;
    }
    imputer->recent_count += count - from;
    if (imputer->recent_count > k)
        imputer->recent_count = k;
}

verge_status verge_imputer_push(verge_imputer *imputer, const double *samples, size_t count)
{
    size_t i = 0;
    verge_status status;

    while (i < count) {
        size_t j = i;
        while (j < count && samples[j] == samples[j])
            j++;
        if (j > i) {
            if (imputer->pending > 0) {
                status = resolve_pending(imputer, samples[i]);
                if (status != VERGE_OK)
                    return status;
            }
            status = imputer->output(imputer->user, samples + i, j - i);
            if (status != VERGE_OK)
                return status;
            remember_valid(imputer, samples + i, j - i);
            i = j;
        }

        while (j < count && samples[j] != samples[j])
            j++;
        if (j > i) {
            status = take_missing(imputer, j - i);
            if (status != VERGE_OK)
                return status;
            i = j;
        }
    }
    return VERGE_OK;
}

verge_status verge_imputer_finish(verge_imputer *imputer)
{
    const uint64_t count = imputer->pending;

    if (count == 0)
        return VERGE_OK;
    if (!imputer->have_last)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "all %llu samples are missing, so there is no value to fill them from",
                          (unsigned long long)count);
    /* A trailing gap (bfill, linear) takes the last non-NaN sample. */
    imputer->pending = 0;
    imputer->filled += count;
    return output_repeated(imputer, imputer->last, count);
}
