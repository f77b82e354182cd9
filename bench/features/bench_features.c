/*
 * Features from memory: points per second of verge_features_compute() and
 * of the streaming API on a series held in memory, single-threaded.
 *
 *   bench_features [POINTS] [RUNS] [MATCH]   (defaults 10000000, 7, every case)
 *   bench_features --write-csv FILE POINTS
 *
 * The second form writes the same series as a CSV file for the command-line
 * benchmark: a header "t,value", an integer time and the value with three
 * decimals, 5% of the values left empty (missing).
 *
 * Prints one line per case (only those whose name contains MATCH, when
 * given) with the median, minimum and maximum of RUNS timed runs. The series is 20 + 5 sin(i / 100) + N(0, 1), so it has a
 * level, a slow swing and noise; "5% NaN" cases blank 5% of the samples at
 * random and fill them with the median.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verge/signal.h"

static uint64_t rng_state = 0x243f6a8885a308d3u;

static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545f4914f6cdd1du) >> 11) * 0x1p-53;
}

static double normal(void)
{
    double u = uniform();
    return sqrt(-2.0 * log(u > 1e-300 ? u : 1e-300)) * cos(6.283185307179586 * uniform());
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static verge_status discard_rows(void *user, const verge_features_block *block)
{
    double *checksum = user;
    *checksum += block->values[0];
    return VERGE_OK;
}

typedef struct bench_case {
    const char *name;
    size_t window;
    size_t step;
    const char *features;
    bool gaps;
    bool stream;
} bench_case;

/* Writes the benchmark series as CSV; returns the process exit status. */
static int write_csv(const char *path, size_t points)
{
    FILE *file = fopen(path, "w");
    if (file == NULL) {
        perror(path);
        return 1;
    }
    fputs("t,value\n", file);
    for (size_t i = 0; i < points; i++) {
        const double value = 20.0 + 5.0 * sin((double)i / 100.0) + normal();
        if (uniform() < 0.05)
            fprintf(file, "%zu,\n", i);
        else
            fprintf(file, "%zu,%.3f\n", i, value);
    }
    if (fclose(file) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--write-csv") == 0)
        return write_csv(argv[2], (size_t)strtoull(argv[3], NULL, 10));

    const size_t points = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 10000000;
    const int runs = argc > 2 ? atoi(argv[2]) : 7;
    const char *match = argc > 3 ? argv[3] : "";
    static const bench_case cases[] = {
        {"w=10   mean,std,energy", 10, 1, "mean,std,energy", false, false},
        {"w=256  mean,std,energy", 256, 1, "mean,std,energy", false, false},
        {"w=10   mean,std,energy, 5% NaN median fill", 10, 1, "mean,std,energy", true, false},
        {"w=256  mean,std,energy, 5% NaN median fill", 256, 1, "mean,std,energy", true, false},
        {"w=10   mean,std,energy, stream API, 64Ki chunks", 10, 1, "mean,std,energy", false, true},
        {"w=256  mean,std,var,min,max,rms,p2p,energy,zero_crossings", 256, 1,
         "mean,std,var,min,max,rms,p2p,energy,zero_crossings", false, false},
        {"w=256  skew,kurtosis", 256, 1, "skew,kurtosis", false, false},
        {"w=256 step=64  band_energy:4,dominant_freq", 256, 64, "band_energy:4,dominant_freq",
         false, false},
        {"w=257 step=64  band_energy:4,dominant_freq (Bluestein)", 257, 64,
         "band_energy:4,dominant_freq", false, false},
    };
    double *clean = malloc(points * sizeof(*clean));
    double *gappy = malloc(points * sizeof(*gappy));
    double *times = malloc((size_t)runs * sizeof(*times));

    if (clean == NULL || gappy == NULL || times == NULL || points < 1000 || runs < 1) {
        fprintf(stderr, "usage: bench_features [POINTS >= 1000] [RUNS >= 1]\n");
        return 2;
    }
    for (size_t i = 0; i < points; i++) {
        clean[i] = 20.0 + 5.0 * sin((double)i / 100.0) + normal();
        gappy[i] = uniform() < 0.05 ? NAN : clean[i];
    }

    printf("points: %zu, runs per case: %d (median [min, max]), single thread\n", points, runs);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        if (strstr(cases[c].name, match) == NULL)
            continue;
        verge_features_config config;
        verge_features_config_default(&config);
        config.window = cases[c].window;
        config.step = cases[c].step;
        if (verge_features_parse_list(cases[c].features, &config) != VERGE_OK) {
            fprintf(stderr, "%s\n", verge_error_message());
            return 1;
        }
        const size_t rows = verge_features_rows(&config, points);
        const size_t columns = verge_features_columns(&config);
        double *out = malloc(rows * columns * sizeof(*out));
        const double *input = cases[c].gaps ? gappy : clean;
        double checksum = 0;

        for (int run = 0; run < runs; run++) {
            const double start = seconds();
            verge_status status;
            if (cases[c].stream) {
                verge_features_stream *stream = NULL;
                config.fill.method = VERGE_FILL_FFILL;
                status = verge_features_stream_create(&config, discard_rows, &checksum, &stream);
                for (size_t at = 0; status == VERGE_OK && at < points; at += 65536)
                    status = verge_features_stream_push(stream, input + at,
                                                        points - at < 65536 ? points - at : 65536);
                if (status == VERGE_OK)
                    status = verge_features_stream_finish(stream);
                verge_features_stream_destroy(stream);
            } else {
                status = verge_features_compute(&config, input, points, out, rows, NULL);
                checksum += out[rows * columns - 1];
            }
            times[run] = seconds() - start;
            if (status != VERGE_OK) {
                fprintf(stderr, "%s: %s\n", cases[c].name, verge_error_message());
                return 1;
            }
        }
        qsort(times, (size_t)runs, sizeof(*times), compare);
        const double median = times[runs / 2];
        printf("%-62s %8.1f M points/s  [%.1f, %.1f]  (%.4f s, checksum %.6g)\n", cases[c].name,
               (double)points / median / 1e6, (double)points / times[runs - 1] / 1e6,
               (double)points / times[0] / 1e6, median, checksum);
        free(out);
    }
    free(clean);
    free(gappy);
    free(times);
    return 0;
}
