/*
 * Window features against a two-pass float64 reference: random series with
 * 5% NaN, numerically hard series, NaN and infinity handling, streaming in
 * chunks, configuration errors, and the real weekly CO2 series.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "reference.h"
#include "verge/signal.h"

static const char all_moments[] =
    "mean,std,var,min,max,rms,p2p,energy,zero_crossings,skew,kurtosis";

static void configure(verge_features_config *config, size_t window, size_t step,
                      const char *features)
{
    verge_features_config_default(config);
    config->window = window;
    config->step = step;
    config->fill.method = VERGE_FILL_NONE;
    CHECK_OK(verge_features_parse_list(features, config));
}

/* Replaces NaN with the median of the other samples, as pandas' fillna(median()) does. */
static double fill_with_median(double *x, size_t n)
{
    double *sorted = malloc(n * sizeof(*sorted));
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(x[i]))
            sorted[valid++] = x[i];
    }
    for (size_t i = 1; i < valid; i++) { /* insertion sort is fine for test sizes */
        double v = sorted[i];
        size_t j = i;
        while (j > 0 && sorted[j - 1] > v) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = v;
    }
    double median = valid % 2 ? sorted[valid / 2] : (sorted[valid / 2 - 1] + sorted[valid / 2]) / 2;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            x[i] = median;
    }
    free(sorted);
    return median;
}

/* Random series with 5% NaN, median fill: every feature, many window shapes. */
static void random_series_with_gaps(void)
{
    static const struct {
        size_t window, step;
    } shapes[] = {{1, 1}, {2, 1}, {3, 2}, {10, 1}, {10, 3}, {256, 1}, {256, 64}, {7, 10}, {50, 50}};
    const size_t n = 6000;
    double *raw = malloc(n * sizeof(*raw));
    double *filled = malloc(n * sizeof(*filled));
    ref_random rng = {12345};

    for (size_t i = 0; i < n; i++) {
        raw[i] = 20.0 + 5.0 * sin((double)i * 0.01) + ref_normal(&rng);
        if (ref_uniform(&rng) < 0.05)
            raw[i] = NAN;
    }
    memcpy(filled, raw, n * sizeof(*raw));
    const double median = fill_with_median(filled, n);

    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        verge_features_config config;
        char label[64];
        configure(&config, shapes[s].window, shapes[s].step, all_moments);
        snprintf(label, sizeof(label), "random 5%% NaN");
        ref_check_series(&config, filled, n, label);

        /* The library's own median fill must give the same rows as filling first. */
        const size_t rows = verge_features_rows(&config, n);
        const size_t columns = verge_features_columns(&config);
        double *a = malloc(rows * columns * sizeof(*a));
        double *b = malloc(rows * columns * sizeof(*b));
        verge_features_stats stats;
        CHECK_OK(verge_features_compute(&config, filled, n, a, rows, NULL));
        config.fill.method = VERGE_FILL_MEDIAN;
        CHECK_OK(verge_features_compute(&config, raw, n, b, rows, &stats));
        CHECK(memcmp(a, b, rows * columns * sizeof(*a)) == 0);
        CHECK(stats.fill_value == median);
        CHECK(stats.missing > 0);
        CHECK_EQ_INT(stats.filled, stats.missing);
        free(a);
        free(b);
    }
    free(raw);
    free(filled);
}

/* Gaps that start only after many clean blocks: the fill must still apply to them. */
static void late_gaps(void)
{
    const size_t n = 30000;
    double *raw = malloc(n * sizeof(*raw));
    double *filled = malloc(n * sizeof(*filled));
    ref_random rng = {31337};

    for (size_t i = 0; i < n; i++) {
        raw[i] = 5.0 + ref_normal(&rng);
        if (i > 20000 && ref_uniform(&rng) < 0.05)
            raw[i] = NAN;
    }
    raw[n - 1] = INFINITY;
    memcpy(filled, raw, n * sizeof(*raw));
    const double median = fill_with_median(filled, n);

    verge_features_config config;
    configure(&config, 10, 1, "mean,std,max");
    ref_check_series(&config, filled, n, "late gaps, filled first");

    const size_t rows = verge_features_rows(&config, n);
    double *a = malloc(rows * 3 * sizeof(*a));
    double *b = malloc(rows * 3 * sizeof(*b));
    verge_features_stats stats;
    CHECK_OK(verge_features_compute(&config, filled, n, a, rows, NULL));
    config.fill.method = VERGE_FILL_MEDIAN;
    CHECK_OK(verge_features_compute(&config, raw, n, b, rows, &stats));
    CHECK(memcmp(a, b, rows * 3 * sizeof(*a)) == 0);
    CHECK(stats.fill_value == median);
    CHECK(stats.missing > 400);
    CHECK_EQ_INT(stats.filled, stats.missing);
    CHECK_EQ_INT(stats.inf_samples, 1);
    CHECK_EQ_INT(stats.inf_windows, 1); /* only the last window holds the last sample */
    free(a);
    free(b);
    free(raw);
    free(filled);
}

static void spectrum_features(void)
{
    static const struct {
        size_t window, step;
        const char *features;
    } cases[] = {
        {10, 1, "band_energy:4,dominant_freq,energy"},
        {9, 2, "band_energy:5,dominant_freq,energy"},
        {256, 64, "band_energy:8,dominant_freq,energy"},
        {1, 1, "band_energy:1,dominant_freq"},
        {2, 1, "band_energy:2,dominant_freq"},
        {64, 16, "dominant_freq,band_energy:33"},
    };
    const size_t n = 3000;
    double *x = malloc(n * sizeof(*x));
    ref_random rng = {777};

    /* A level, two tones and noise; a second pass adds a 1e9 offset to test the centring. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++)
            x[i] = (pass ? 1e9 : 3.0) + 2.0 * sin((double)i * 0.9) + 0.5 * cos((double)i * 2.2) +
                   0.1 * ref_normal(&rng);
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            verge_features_config config;
            configure(&config, cases[c].window, cases[c].step, cases[c].features);
            config.sample_rate = 100.0;
            ref_check_series(&config, x, n, pass ? "tones around 1e9" : "tones");
        }
    }

    /* A pure tone in a window of 64: bin 5 must win. */
    verge_features_config config;
    configure(&config, 64, 64, "dominant_freq");
    config.sample_rate = 128.0;
    for (size_t i = 0; i < 64; i++)
        x[i] = sin(6.283185307179586 * 5.0 * (double)i / 64.0);
    double freq = -1;
    CHECK_OK(verge_features_compute(&config, x, 64, &freq, 1, NULL));
    CHECK_NEAR(freq, 5.0 * 128.0 / 64.0, 1e-12);

    /* A constant window has no dominant frequency. */
    for (size_t i = 0; i < 64; i++)
        x[i] = 7.0;
    CHECK_OK(verge_features_compute(&config, x, 64, &freq, 1, NULL));
    CHECK(freq == 0.0);
    free(x);
}

/* The case where E[x^2] - E[x]^2 goes negative. */
static void large_offset_small_spread(void)
{
    const double x[] = {1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16};
    verge_features_config config;
    double out[3];

    configure(&config, 4, 1, "var,std,mean");
    CHECK_OK(verge_features_compute(&config, x, 4, out, 1, NULL));
    CHECK_NEAR(out[0], 22.5, 22.5 * 1e-12);
    CHECK_NEAR(out[1], sqrt(22.5), 1e-12);
    CHECK(out[2] == 1e9 + 10);

    /* The spectrum around the mean 1e9 + 10 is exact too: bins (4e9 + 40)^2, 2 * 162, 36. */
    double bands[3];
    configure(&config, 4, 1, "band_energy:3");
    CHECK_OK(verge_features_compute(&config, x, 4, bands, 1, NULL));
    CHECK_NEAR(bands[0], (4e9 + 40) * (4e9 + 40), 1e-15 * (4e9 + 40) * (4e9 + 40));
    CHECK_NEAR(bands[1], 324.0, 324.0 * 1e-12);
    CHECK_NEAR(bands[2], 36.0, 36.0 * 1e-12);

    /* The naive formula really fails here, so this case can catch it. */
    double sum = 0, sumsq = 0;
    for (int i = 0; i < 4; i++) {
        sum += x[i];
        sumsq += x[i] * x[i];
    }
    double naive = sumsq / 4 - (sum / 4) * (sum / 4);
    CHECK(fabs(naive - 22.5) > 1.0);
}

/* Values around 1e9 with unit variance, over many windows. */
static void offset_1e9_unit_variance(void)
{
    const size_t n = 100000;
    double *x = malloc(n * sizeof(*x));
    ref_random rng = {99};

    for (size_t i = 0; i < n; i++)
        x[i] = 1e9 + ref_normal(&rng);
    for (size_t w = 10; w <= 256; w += 246) {
        verge_features_config config;
        configure(&config, w, 1, all_moments);
        ref_check_series(&config, x, n, "1e9 + N(0,1)");
    }
    /* The spectrum, on odd, prime and power-of-two windows. */
    static const size_t spectrum_windows[] = {9, 97, 256, 257};
    for (size_t i = 0; i < sizeof(spectrum_windows) / sizeof(spectrum_windows[0]); i++) {
        verge_features_config config;
        configure(&config, spectrum_windows[i], 61, "band_energy:5,dominant_freq,energy");
        ref_check_series(&config, x, 20000, "1e9 + N(0,1), spectrum");
    }
    free(x);
}

/* A 1e12 spike must not leave the std stuck after it leaves the window. */
static void spike_leaves_window(void)
{
    const size_t n = 20000;
    double *x = malloc(n * sizeof(*x));
    ref_random rng = {4242};

    for (size_t i = 0; i < n; i++)
        x[i] = ref_normal(&rng);
    x[1000] = 1e12;
    x[5000] = -1e12;
    x[5003] = 3e11;
    x[12000] = 1e15;
    for (size_t w = 10; w <= 256; w += 246) {
        verge_features_config config;
        verge_features_stats stats;
        configure(&config, w, 1, all_moments);
        ref_check_series(&config, x, n, "spikes");

        /* Right after the spike: std back to about 1, not 0 or 1e5. */
        const size_t rows = verge_features_rows(&config, n);
        double *out = malloc(rows * 11 * sizeof(*out));
        CHECK_OK(verge_features_compute(&config, x, n, out, rows, &stats));
        const double std_after = out[(1001) * 11 + 1];
        CHECK_MSG(std_after > 0.3 && std_after < 3, "std after the spike: %g", std_after);
        CHECK(stats.reanchors >= 4);
        free(out);
    }
    /* The spectrum before, with and after the spikes, on odd, prime and power-of-two windows. */
    static const size_t spectrum_windows[] = {15, 64, 127};
    for (size_t i = 0; i < sizeof(spectrum_windows) / sizeof(spectrum_windows[0]); i++) {
        verge_features_config config;
        configure(&config, spectrum_windows[i], 7, "band_energy:4,dominant_freq,energy,std");
        ref_check_series(&config, x, n, "spikes, spectrum");
    }
    free(x);
}

/* Slow drift across a large range, sums re-anchored as the level moves. */
static void drifting_level(void)
{
    const size_t n = 60000;
    double *x = malloc(n * sizeof(*x));
    ref_random rng = {31};

    for (size_t i = 0; i < n; i++)
        x[i] = 1e7 * sin((double)i * 1e-4) + 1e-3 * ref_normal(&rng);
    verge_features_config config;
    configure(&config, 32, 1, all_moments);
    ref_check_series(&config, x, n, "drift");
    configure(&config, 32, 5, all_moments);
    ref_check_series(&config, x, n, "drift step 5");
    free(x);
}

/* A smooth signal with little noise: the mean moves many standard deviations per window. */
static void smooth_signal_small_noise(void)
{
    static const size_t windows[] = {3, 10, 64, 257};
    const size_t n = 50000;
    double *x = malloc(n * sizeof(*x));
    ref_random rng = {606};

    for (size_t i = 0; i < n; i++)
        x[i] = 20.0 + 5.0 * sin((double)i / 100.0) + 1e-3 * ref_uniform(&rng);
    for (size_t k = 0; k < sizeof(windows) / sizeof(windows[0]); k++) {
        verge_features_config config;
        configure(&config, windows[k], 1, all_moments);
        ref_check_series(&config, x, n, "smooth signal");
    }
    free(x);
}

static void constant_series(void)
{
    double x[40];
    verge_features_config config;
    double out[31 * 5];

    for (int i = 0; i < 40; i++)
        x[i] = i < 20 ? 0.1 : -3.7;
    configure(&config, 10, 1, "std,var,mean,skew,p2p");
    CHECK_OK(verge_features_compute(&config, x, 40, out, 31, NULL));
    for (int j = 0; j < 31; j++) {
        if (j + 9 < 20 || j >= 20) {
            CHECK_MSG(out[j * 5] == 0.0 && out[j * 5 + 1] == 0.0, "window %d: std %g var %g", j,
                      out[j * 5], out[j * 5 + 1]);
            CHECK(out[j * 5 + 2] == (j < 20 ? 0.1 : -3.7));
            CHECK(isnan(out[j * 5 + 3]));
            CHECK(out[j * 5 + 4] == 0.0);
        }
    }
}

/* NaN and infinity affect only the windows that contain them. */
static void nonfinite_windows(void)
{
    const size_t n = 1000;
    const size_t w = 10;
    double *x = malloc(n * sizeof(*x));
    ref_random rng = {5};
    verge_features_config config;
    verge_features_stats stats;

    for (size_t i = 0; i < n; i++)
        x[i] = 3.0 + ref_normal(&rng);
    x[100] = NAN;
    x[300] = INFINITY;
    x[500] = -INFINITY;
    x[700] = INFINITY;
    x[703] = -INFINITY;
    x[900] = INFINITY;
    x[902] = NAN;

    configure(&config, w, 1, "mean,std,min,max,rms,energy,p2p,zero_crossings,band_energy:2");
    const size_t rows = verge_features_rows(&config, n);
    const size_t columns = verge_features_columns(&config);
    double *out = malloc(rows * columns * sizeof(*out));
    CHECK_OK(verge_features_compute(&config, x, n, out, rows, &stats));

    size_t nan_windows = 0, inf_windows = 0;
    int budget = 5, bad = 0;
    double *power = malloc((w / 2 + 1) * sizeof(*power));
    for (size_t j = 0; j < rows; j++) {
        const double *row = out + j * columns;
        bool has_nan = false, has_pos = false, has_neg = false;
        for (size_t i = j; i < j + w; i++) {
            has_nan |= isnan(x[i]);
            has_pos |= x[i] == INFINITY;
            has_neg |= x[i] == -INFINITY;
        }
        if (has_nan) {
            nan_windows++;
            for (size_t c = 0; c < columns; c++)
                CHECK_MSG(isnan(row[c]), "window %zu column %zu: %g, expected NaN", j, c, row[c]);
        } else if (has_pos || has_neg) {
            inf_windows++;
            const double mean = has_pos && has_neg ? NAN : has_pos ? INFINITY : -INFINITY;
            CHECK(isnan(mean) ? isnan(row[0]) : row[0] == mean);
            CHECK(isnan(row[1]));
            CHECK(row[2] == (has_neg ? -INFINITY : row[2]));
            CHECK(row[3] == (has_pos ? INFINITY : row[3]));
            CHECK(row[4] == INFINITY && row[5] == INFINITY);
            CHECK(row[6] == INFINITY);
            CHECK(isnan(row[8]) && isnan(row[9]));
        } else {
            char where[64];
            ref_features f;
            snprintf(where, sizeof(where), "finite window %zu", j);
            ref_window(x + j, w, power, &f);
            bad += ref_compare_row(&config, row, &f, where, &budget);
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(stats.nan_windows, nan_windows);
    CHECK_EQ_INT(stats.inf_windows, inf_windows);
    CHECK_EQ_INT(stats.missing, 2);
    CHECK_EQ_INT(stats.inf_samples, 5);
    free(power);
    free(out);
    free(x);
}

typedef struct collected {
    double *values;
    size_t rows;
    size_t columns;
    uint64_t next_window;
    int order_errors;
} collected;

static verge_status collect_rows(void *user, const verge_features_block *block)
{
    collected *c = user;
    if (block->first_window != c->next_window)
        c->order_errors++;
    memcpy(c->values + c->rows * c->columns, block->values,
           block->rows * block->columns * sizeof(double));
    c->rows += block->rows;
    c->next_window += block->rows;
    return VERGE_OK;
}

/*
 * Values so large that their squares overflow float64. var and energy of a
 * window with a 1e200 spike are +inf, since the true values are beyond
 * float64. std, rms, mean, skew and kurtosis are finite and right, and the
 * windows after the spike are exact again. Checked for every feature at
 * steps 1 and 3, and through the stream.
 */
static void overflowing_values(void)
{
    static const char features[] =
        "mean,std,var,min,max,rms,p2p,energy,zero_crossings,skew,kurtosis,band_energy:3,"
        "dominant_freq";
    const size_t n = 3000;
    double *x = malloc(n * sizeof(*x));
    ref_random rng = {8086};

    for (size_t i = 0; i < n; i++)
        x[i] = (double)(i % 7) + ref_normal(&rng);
    x[20] = 1e200;
    x[500] = -1e200;
    x[900] = 1.7e308;
    x[902] = -1.7e308; /* p2p overflows, the mean does not */
    x[1500] = 1e300;
    x[1504] = 1e300; /* every moment but the mean overflows or is fine by scaling alone */
    x[2000] = 0x1p200; /* the smallest value that leaves the running sums */
    x[2100] = 0x1p200 * (1 - 0x1p-53); /* the largest that stays in them */
    for (size_t w = 10; w <= 64; w += 54) {
        for (size_t step = 1; step <= 3; step += 2) {
            verge_features_config config;
            configure(&config, w, step, features);
            ref_check_series(&config, x, n, "huge values");
        }
    }

    /* The stream, fed in chunks of 97 samples, gives the same rows. */
    {
        verge_features_config stream_config;
        configure(&stream_config, 10, 1, features);
        const size_t rows = verge_features_rows(&stream_config, n);
        const size_t columns = verge_features_columns(&stream_config);
        double *batch = malloc(rows * columns * sizeof(*batch));
        collected got = {malloc(rows * columns * sizeof(double)), 0, columns, 0, 0};
        verge_features_stream *stream = NULL;
        CHECK_OK(verge_features_compute(&stream_config, x, n, batch, rows, NULL));
        CHECK_OK(verge_features_stream_create(&stream_config, collect_rows, &got, &stream));
        for (size_t at = 0; stream != NULL && at < n; at += 97)
            CHECK_OK(verge_features_stream_push(stream, x + at, n - at < 97 ? n - at : 97));
        if (stream != NULL)
            CHECK_OK(verge_features_stream_finish(stream));
        verge_features_stream_destroy(stream);
        CHECK_EQ_INT(got.rows, rows);
        int differ = 0;
        for (size_t i = 0; i < rows * columns && got.rows == rows; i++) {
            const double a = batch[i], b = got.values[i];
            const bool same = (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= 1e-11 * fabs(a);
            if (!same && differ++ < 3)
                CHECK_MSG(0, "value %zu: batch %.17g, stream %.17g", i, a, b);
        }
        CHECK_EQ_INT(differ, 0);
        free(batch);
        free(got.values);
    }

    /* The windows around the first spike, spelled out. */
    verge_features_config config;
    configure(&config, 10, 1, "var,energy,std,rms,mean,skew,kurtosis");
    const size_t rows = verge_features_rows(&config, n);
    double *out = malloc(rows * 7 * sizeof(*out));
    CHECK_OK(verge_features_compute(&config, x, n, out, rows, NULL));
    for (size_t j = 11; j <= 20; j++) {
        const double *row = out + j * 7;
        CHECK_MSG(row[0] == INFINITY && row[1] == INFINITY, "window %zu: var %g, energy %g", j,
                  row[0], row[1]);
        /* One spike s among small values: std ~ s * 3 / 10, rms ~ s / sqrt(10). */
        CHECK_MSG(fabs(row[2] - 3e199) < 1e-6 * 3e199, "window %zu: std %g", j, row[2]);
        CHECK_MSG(fabs(row[3] - 1e200 / sqrt(10.0)) < 1e-6 * 1e200, "window %zu: rms %g", j,
                  row[3]);
        CHECK_MSG(fabs(row[4] - 1e199) < 1e-6 * 1e199, "window %zu: mean %g", j, row[4]);
        CHECK_MSG(fabs(row[5] - 8.0 / 3.0) < 1e-6, "window %zu: skew %g", j, row[5]);
        CHECK_MSG(fabs(row[6] - (73.0 / 9.0 - 3.0)) < 1e-6, "window %zu: kurtosis %g", j, row[6]);
    }
    for (size_t j = 21; j < 30; j++)
        CHECK_MSG(isfinite(out[j * 7]) && out[j * 7] < 100, "window %zu after the spike: var %g",
                  j, out[j * 7]);
    free(out);
    free(x);
}

/* Samples so small that their squares underflow: the scaled path keeps std and rms exact. */
static void underflowing_values(void)
{
    const size_t n = 3000;
    double *x = malloc(n * sizeof(*x));
    ref_random rng = {4004};

    for (size_t i = 0; i < n; i++) {
        const double noise = 3.0 + ref_normal(&rng);
        x[i] = i < 1000 ? 1e-300 * noise                 /* all tiny */
               : i < 2000 ? (i % 5 == 0 ? 0.0 : 1e-310 * noise) /* subnormal, and zeros */
                          : noise;                       /* plain again */
    }
    x[2500] = 1e-320;
    for (size_t w = 10; w <= 64; w += 54) {
        verge_features_config config;
        configure(&config, w, 1, all_moments);
        ref_check_series(&config, x, n, "tiny values");
        configure(&config, w, 4, "std,rms,band_energy:2,dominant_freq");
        ref_check_series(&config, x, n, "tiny values, spectrum");
    }

    /* std of N(3, 1) * 1e-300 is about 1e-300, not 0 (the square of 1e-300 underflows). */
    verge_features_config config;
    double out[2];
    configure(&config, 100, 100, "std,var");
    CHECK_OK(verge_features_compute(&config, x, 100, out, 1, NULL));
    CHECK_MSG(out[0] > 0.5e-300 && out[0] < 2e-300, "std %g", out[0]);
    CHECK(out[1] == 0.0);
    free(x);
}

/* Pushing in random chunks gives the rows of the batch call. */
static void stream_matches_batch(void)
{
    static const struct {
        size_t window, step;
        const char *fill;
    } cases[] = {{10, 1, "ffill"},     {256, 1, "linear"},  {5, 3, "bfill"},
                 {7, 20, "median:5"}, {64, 16, "constant:0"}, {1, 1, "none"}};
    const size_t n = 20000;
    double *x = malloc(n * sizeof(*x));
    ref_random rng = {2024};

    for (size_t i = 0; i < n; i++) {
        x[i] = 1e4 + 100 * sin((double)i * 0.003) + ref_normal(&rng);
        if (ref_uniform(&rng) < 0.05)
            x[i] = NAN;
        if (i > 3000 && i < 3040)
            x[i] = NAN; /* a long gap */
    }
    x[0] = x[1] = NAN; /* a leading gap */
    x[n - 1] = NAN;    /* a trailing gap */

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        verge_features_config config;
        configure(&config, cases[c].window, cases[c].step,
                  cases[c].window >= 2 ? "mean,std,min,max,energy,zero_crossings,skew,band_energy:2"
                                       : "mean,std,min,max,energy,zero_crossings,skew,band_energy:1");
        CHECK_OK(verge_fill_parse(cases[c].fill, &config.fill));

        const size_t rows = verge_features_rows(&config, n);
        const size_t columns = verge_features_columns(&config);
        double *batch = malloc(rows * columns * sizeof(*batch));
        collected got = {malloc(rows * columns * sizeof(double)), 0, columns, 0, 0};
        verge_features_stats batch_stats, stream_stats;
        CHECK_OK(verge_features_compute(&config, x, n, batch, rows, &batch_stats));

        verge_features_stream *stream = NULL;
        CHECK_OK(verge_features_stream_create(&config, collect_rows, &got, &stream));
        if (stream == NULL)
            continue;
        for (size_t at = 0; at < n;) {
            size_t chunk = 1 + (size_t)(ref_next(&rng) % (c % 2 ? 5 : 3000));
            if (chunk > n - at)
                chunk = n - at;
            CHECK_OK(verge_features_stream_push(stream, x + at, chunk));
            at += chunk;
        }
        CHECK_OK(verge_features_stream_finish(stream));
        verge_features_stream_stats(stream, &stream_stats);
        CHECK_STATUS(verge_features_stream_push(stream, x, 1), VERGE_STATUS_INVALID_ARGUMENT);
        verge_features_stream_destroy(stream);

        CHECK_EQ_INT(got.rows, rows);
        CHECK_EQ_INT(got.order_errors, 0);
        CHECK_EQ_INT(stream_stats.windows, batch_stats.windows);
        CHECK_EQ_INT(stream_stats.filled, batch_stats.filled);
        CHECK_EQ_INT(stream_stats.missing, batch_stats.missing);
        int differ = 0;
        for (size_t i = 0; i < rows * columns && got.rows == rows; i++) {
            const double a = batch[i], b = got.values[i];
            if (!((isnan(a) && isnan(b)) || fabs(a - b) <= 1e-11 * fabs(a) + 1e-9) && differ++ < 3)
                CHECK_MSG(0, "fill %s: value %zu: batch %.17g, stream %.17g", cases[c].fill, i,
                          a, b);
        }
        CHECK_EQ_INT(differ, 0);
        free(batch);
        free(got.values);
    }
    free(x);
}

static verge_status failing_sink(void *user, const verge_features_block *block)
{
    (void)block;
    int *calls = user;
    (*calls)++;
    return verge_fail(VERGE_STATUS_IO_ERROR, "sink: disk full");
}

static void stream_errors(void)
{
    verge_features_config config;
    verge_features_stream *stream = NULL;
    double x[20];
    int calls = 0;

    for (int i = 0; i < 20; i++)
        x[i] = i;
    configure(&config, 10, 1, "mean");

    config.fill.method = VERGE_FILL_MEDIAN;
    CHECK_STATUS(verge_features_stream_create(&config, failing_sink, &calls, &stream),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(stream == NULL);
    CHECK(strstr(verge_error_message(), "median:K") != NULL);

    config.fill.method = VERGE_FILL_NONE;
    CHECK_OK(verge_features_stream_create(&config, failing_sink, &calls, &stream));
    CHECK_STATUS(verge_features_stream_push(stream, x, 20), VERGE_STATUS_IO_ERROR);
    CHECK_STATUS(verge_features_stream_push(stream, x, 20), VERGE_STATUS_IO_ERROR);
    CHECK_EQ_INT(calls, 1);
    verge_features_stream_destroy(stream);

    /* Fewer samples than the window. */
    collected got = {malloc(16 * sizeof(double)), 0, 1, 0, 0};
    CHECK_OK(verge_features_stream_create(&config, collect_rows, &got, &stream));
    CHECK_OK(verge_features_stream_push(stream, x, 7));
    CHECK_STATUS(verge_features_stream_finish(stream), VERGE_STATUS_INVALID_DATA);
    CHECK(strstr(verge_error_message(), "7 samples") != NULL);
    verge_features_stream_destroy(stream);

    /* All missing with ffill. */
    double missing[12];
    for (int i = 0; i < 12; i++)
        missing[i] = NAN;
    config.fill.method = VERGE_FILL_FFILL;
    CHECK_OK(verge_features_stream_create(&config, collect_rows, &got, &stream));
    CHECK_OK(verge_features_stream_push(stream, missing, 12));
    CHECK_STATUS(verge_features_stream_finish(stream), VERGE_STATUS_INVALID_DATA);
    verge_features_stream_destroy(stream);
    free(got.values);
    verge_features_stream_destroy(NULL);
}

static void configuration_errors(void)
{
    verge_features_config config;
    char name[32];
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double out[64];

    verge_features_config_default(&config);
    CHECK_EQ_INT(config.window, 10);
    CHECK_EQ_INT(config.step, 1);
    CHECK_EQ_INT(config.fill.method, VERGE_FILL_MEDIAN);
    CHECK_EQ_INT(verge_features_columns(&config), 3);
    CHECK(strcmp(verge_features_column_name(&config, 0, name, sizeof(name)), "mean") == 0);
    CHECK(strcmp(verge_features_column_name(&config, 2, name, sizeof(name)), "energy") == 0);

    CHECK_OK(verge_features_parse_list("band_energy:4,dominant_freq,mean", &config));
    CHECK_EQ_INT(verge_features_columns(&config), 6);
    CHECK(strcmp(verge_features_column_name(&config, 3, name, sizeof(name)), "band_energy_3") == 0);
    CHECK(strcmp(verge_features_column_name(&config, 4, name, sizeof(name)), "dominant_freq") == 0);
    CHECK_OK(verge_features_config_check(&config));

    static const char *const bad_lists[] = {
        "", "mean,", ",mean", "mean,mean", "median", "band_energy", "band_energy:0",
        "band_energy:x", "band_energy:4x", "mean:3", "std,,var",
    };
    for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++)
        CHECK_MSG(verge_features_parse_list(bad_lists[i], &config) == VERGE_STATUS_INVALID_ARGUMENT,
                  "'%s' was accepted", bad_lists[i]);

    verge_features_config_default(&config);
    config.window = 0;
    CHECK_STATUS(verge_features_config_check(&config), VERGE_STATUS_INVALID_ARGUMENT);
    config.window = 10;
    config.step = 0;
    CHECK_STATUS(verge_features_config_check(&config), VERGE_STATUS_INVALID_ARGUMENT);
    config.step = 1;
    config.sample_rate = 0;
    CHECK_STATUS(verge_features_config_check(&config), VERGE_STATUS_INVALID_ARGUMENT);
    config.sample_rate = 1;
    CHECK_OK(verge_features_parse_list("band_energy:7", &config));
    CHECK_STATUS(verge_features_config_check(&config), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "1 to 6 bands") != NULL);

    /* Series shorter than the window, and a wrong row count. */
    verge_features_config_default(&config);
    CHECK_EQ_INT(verge_features_rows(&config, 8), 0);
    CHECK_STATUS(verge_features_compute(&config, x, 8, out, 0, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "larger than the series (8 samples)") != NULL);
    config.window = 4;
    CHECK_EQ_INT(verge_features_rows(&config, 8), 5);
    CHECK_STATUS(verge_features_compute(&config, x, 8, out, 4, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_OK(verge_features_compute(&config, x, 8, out, 5, NULL));
    config.step = 3;
    CHECK_EQ_INT(verge_features_rows(&config, 8), 2);

    /* All missing with median fill. */
    double missing[12];
    for (int i = 0; i < 12; i++)
        missing[i] = NAN;
    verge_features_config_default(&config);
    CHECK_STATUS(verge_features_compute(&config, missing, 12, out, 3, NULL),
                 VERGE_STATUS_INVALID_DATA);
    config.fill.method = VERGE_FILL_NONE;
    CHECK_OK(verge_features_compute(&config, missing, 12, out, 3, NULL));
    CHECK(isnan(out[0]) && isnan(out[8]));
}

/* The real weekly CO2 series: 2284 weeks, 59 missing, an 18-week gap. */
static void co2_series(void)
{
    char path[512];
    verge_series_options options = {VERGE_SERIES_AUTO, "value", "timestamp", false};
    verge_series_reader *reader = NULL;
    verge_series_chunk chunk;
    double *x = NULL;
    size_t n = 0;
    verge_status status;

    check_data_path("sensors/co2_mauna_loa_weekly.csv", path);
    CHECK_OK(verge_series_reader_open(path, &options, &reader));
    if (reader == NULL)
        return;
    while ((status = verge_series_reader_next(reader, &chunk)) == VERGE_OK) {
        x = realloc(x, (n + chunk.count) * sizeof(*x));
        memcpy(x + n, chunk.values, chunk.count * sizeof(*x));
        n += chunk.count;
    }
    CHECK_EQ_INT(status, VERGE_STATUS_END_OF_STREAM);
    verge_series_reader_close(reader);
    CHECK_EQ_INT(n, 2284);

    size_t missing = 0, longest = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        run = isnan(x[i]) ? run + 1 : 0;
        missing += isnan(x[i]);
        longest = run > longest ? run : longest;
    }
    CHECK_EQ_INT(missing, 59);
    CHECK_EQ_INT(longest, 18);

    /* pandas 1.5.3: pd.read_csv(...).value.median() == 338.3 */
    double median = 0;
    CHECK_OK(verge_series_median(x, n, &median));
    CHECK(median == 338.3);

    double *filled = malloc(n * sizeof(*filled));
    memcpy(filled, x, n * sizeof(*x));
    fill_with_median(filled, n);
    verge_features_config config;
    configure(&config, 10, 1, all_moments);
    ref_check_series(&config, filled, n, "CO2 median fill");
    configure(&config, 52, 4, "mean,std,energy,band_energy:4,dominant_freq");
    ref_check_series(&config, filled, n, "CO2 yearly windows");

    /* Linear fill across the gaps, against interpolation written out here. */
    memcpy(filled, x, n * sizeof(*x));
    for (size_t i = 0; i < n; i++) {
        if (!isnan(filled[i]))
            continue;
        size_t end = i;
        while (end < n && isnan(x[end]))
            end++;
        for (size_t k = i; k < end; k++) {
            if (i == 0)
                filled[k] = x[end];
            else if (end == n)
                filled[k] = x[i - 1];
            else
                filled[k] = (x[end] - x[i - 1]) / (double)(end - i + 1) * (double)(k - i + 1) +
                            x[i - 1];
        }
        i = end;
    }
    configure(&config, 10, 1, "mean,std,min,max");
    config.fill.method = VERGE_FILL_LINEAR;
    const size_t rows = verge_features_rows(&config, n);
    double *out = malloc(rows * 4 * sizeof(*out));
    CHECK_OK(verge_features_compute(&config, x, n, out, rows, NULL));
    config.fill.method = VERGE_FILL_NONE;
    int budget = 5, bad = 0;
    for (size_t j = 0; j < rows; j++) {
        ref_features f;
        ref_window(filled + j, 10, NULL, &f);
        bad += ref_compare_row(&config, out + j * 4, &f, "CO2 linear fill", &budget);
    }
    CHECK_EQ_INT(bad, 0);
    free(out);
    free(filled);
    free(x);
}

int main(void)
{
    RUN(random_series_with_gaps);
    RUN(late_gaps);
    RUN(spectrum_features);
    RUN(large_offset_small_spread);
    RUN(offset_1e9_unit_variance);
    RUN(spike_leaves_window);
    RUN(drifting_level);
    RUN(smooth_signal_small_noise);
    RUN(constant_series);
    RUN(nonfinite_windows);
    RUN(overflowing_values);
    RUN(underflowing_values);
    RUN(stream_matches_batch);
    RUN(stream_errors);
    RUN(configuration_errors);
    RUN(co2_series);
    return check_summary();
}
