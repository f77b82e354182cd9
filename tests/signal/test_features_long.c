/*
 * 10^8 samples through the streaming API: the running sums must not drift.
 * The series has a level near 10^6 that wanders by +-10^3, uniform noise of
 * unit size, and a 10^12 spike every 10^7 samples. Every 997th window, and
 * every window right after a spike leaves, is compared with a two-pass
 * float64 computation over the same samples.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "reference.h"
#include "verge/signal.h"

enum { WINDOW = 64, HISTORY = 1 << 20, CHUNK = 1 << 16 };
#define SAMPLES 100000000ull
#define SPIKE_EVERY 10000000ull

typedef struct long_run {
    double history[HISTORY]; /* sample i at history[i % HISTORY] */
    uint64_t checked;
    int bad;
    int budget;
    uint64_t rows;
} long_run;

static double sample_at(uint64_t i, ref_random *rng)
{
    if (i % SPIKE_EVERY == SPIKE_EVERY / 2)
        return 1e12;
    return 1e6 + 1e3 * sin((double)i * 1e-6) + (ref_uniform(rng) * 2.0 - 1.0);
}

static verge_status check_rows(void *user, const verge_features_block *block)
{
    long_run *run = user;
    double window[WINDOW];
    char where[96];

    for (size_t r = 0; r < block->rows; r++) {
        const uint64_t end = block->first_end + r * block->step;
        const uint64_t since_spike = (end + SPIKE_EVERY - SPIKE_EVERY / 2) % SPIKE_EVERY;
        if (end % 997 != 0 && since_spike != WINDOW)
            continue;

        for (int i = 0; i < WINDOW; i++)
            window[i] = run->history[(end - WINDOW + 1 + (uint64_t)i) % HISTORY];
        ref_features f;
        ref_window(window, WINDOW, NULL, &f);

        verge_features_config config;
        verge_features_config_default(&config);
        config.window = WINDOW;
        verge_features_parse_list("mean,std,var,rms,energy,min,max", &config);
        snprintf(where, sizeof(where), "window ending at sample %llu",
                 (unsigned long long)end);
        run->bad += ref_compare_row(&config, block->values + r * block->columns, &f, where,
                                    &run->budget);
        run->checked++;
    }
    run->rows += block->rows;
    return VERGE_OK;
}

static void hundred_million_samples(void)
{
    long_run *run = calloc(1, sizeof(*run));
    double *chunk = malloc(CHUNK * sizeof(*chunk));
    ref_random rng = {77};
    verge_features_config config;
    verge_features_stream *stream = NULL;
    verge_features_stats stats;

    run->budget = 5;
    verge_features_config_default(&config);
    config.window = WINDOW;
    config.fill.method = VERGE_FILL_FFILL;
    CHECK_OK(verge_features_parse_list("mean,std,var,rms,energy,min,max", &config));
    CHECK_OK(verge_features_stream_create(&config, check_rows, run, &stream));
    if (stream == NULL)
        return;

    for (uint64_t at = 0; at < SAMPLES; at += CHUNK) {
        const size_t n = SAMPLES - at < CHUNK ? (size_t)(SAMPLES - at) : CHUNK;
        for (size_t i = 0; i < n; i++) {
            chunk[i] = sample_at(at + i, &rng);
            run->history[(at + i) % HISTORY] = chunk[i];
        }
        verge_status status = verge_features_stream_push(stream, chunk, n);
        if (status != VERGE_OK) {
            CHECK_OK(status);
            break;
        }
    }
    CHECK_OK(verge_features_stream_finish(stream));
    verge_features_stream_stats(stream, &stats);
    verge_features_stream_destroy(stream);

    CHECK_EQ_INT(run->rows, SAMPLES - WINDOW + 1);
    CHECK_EQ_INT(stats.windows, SAMPLES - WINDOW + 1);
    CHECK_MSG(run->checked > 100000, "only %llu windows checked",
              (unsigned long long)run->checked);
    CHECK_EQ_INT(run->bad, 0);
    /* Recomputing from the window stays rare: the cost stays O(1) per sample. */
    CHECK_MSG(stats.reanchors < SAMPLES / 1000, "%llu recomputations",
              (unsigned long long)stats.reanchors);
    printf("checked %llu windows, %llu recomputations\n", (unsigned long long)run->checked,
           (unsigned long long)stats.reanchors);
    free(chunk);
    free(run);
}

int main(void)
{
    RUN(hundred_million_samples);
    return check_summary();
}
