/*
 * Reference window features for the signal tests: a plain two-pass float64
 * computation per window and a direct O(w^2) DFT, written for clarity, plus
 * the comparison rules that the library's results must meet.
 */
#ifndef VERGE_TESTS_SIGNAL_REFERENCE_H
#define VERGE_TESTS_SIGNAL_REFERENCE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "verge/signal.h"

#define REF_U 0x1p-53

/* xorshift64*: fixed, portable random numbers. */
typedef struct ref_random {
    uint64_t state;
} ref_random;

static inline uint64_t ref_next(ref_random *r)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return r->state * 0x2545f4914f6cdd1du;
}

/* Uniform in [0, 1). */
static inline double ref_uniform(ref_random *r)
{
    return (double)(ref_next(r) >> 11) * 0x1p-53;
}

/* Standard normal (Box-Muller). */
static inline double ref_normal(ref_random *r)
{
    double u1 = ref_uniform(r);
    double u2 = ref_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

typedef struct ref_features {
    double mean, var, std, min, max, rms, p2p, energy, zero_crossings, skew, kurtosis;
    double max_abs; /* largest |x| in the window, the scale of the reference's own rounding */
    double ac_energy; /* w * sum (x - mean)^2: the part of the spectrum around the mean */
    double *power; /* one-sided power, window/2 + 1 bins (direct DFT), or NULL */
} ref_features;

/* Two-pass float64 features of x[0..w). `power` receives the spectrum when not NULL. */
static inline void ref_window(const double *x, size_t w, double *power, ref_features *f)
{
    double sum = 0, max_abs = 0;
    f->min = x[0];
    f->max = x[0];
    for (size_t i = 0; i < w; i++) {
        sum += x[i];
        if (x[i] < f->min)
            f->min = x[i];
        if (x[i] > f->max)
            f->max = x[i];
        if (fabs(x[i]) > max_abs)
            max_abs = fabs(x[i]);
    }
    const double mean = sum / (double)w;
    double m2 = 0, m3 = 0, m4 = 0, sumsq = 0;
    for (size_t i = 0; i < w; i++) {
        const double d = x[i] - mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
        sumsq += x[i] * x[i];
    }
    m2 /= (double)w;
    m3 /= (double)w;
    m4 /= (double)w;
    f->mean = mean;
    f->var = m2;
    f->std = sqrt(m2);
    f->rms = sqrt(sumsq / (double)w);
    f->p2p = f->max - f->min;
    f->energy = (double)w * sumsq;
    f->skew = m3 / pow(m2, 1.5);
    f->kurtosis = m4 / (m2 * m2) - 3.0;
    f->max_abs = max_abs;
    f->ac_energy = (double)w * (double)w * m2;

    double crossings = 0;
    for (size_t i = 1; i < w; i++)
        crossings += (x[i] < 0) != (x[i - 1] < 0);
    f->zero_crossings = crossings;

    f->power = power;
    if (power != NULL) {
        for (size_t k = 0; k <= w / 2; k++) {
            double re = 0, im = 0;
            for (size_t n = 0; n < w; n++) {
                const double angle = -6.283185307179586 * (double)((k * n) % w) / (double)w;
                re += x[n] * cos(angle);
                im += x[n] * sin(angle);
            }
            const double mirrors = (k == 0 || (w % 2 == 0 && k == w / 2)) ? 1.0 : 2.0;
            power[k] = mirrors * (re * re + im * im);
        }
    }
}

/* Relative accuracy the library promises against the reference. */
#define REF_TOLERANCE 1e-9

/* Slack for the reference's own float64 rounding, which grows with the window's magnitude. */
static inline double ref_slack(const ref_features *f)
{
    return 16 * REF_U * f->max_abs;
}

/*
 * Compares one row against the reference for the configured features.
 * Returns the number of mismatches (each is reported, up to *budget).
 */
static inline int ref_compare_row(const verge_features_config *config, const double *row,
                                  const ref_features *f, const char *where, int *budget)
{
    int bad = 0;
    size_t c = 0;
    const double slack = ref_slack(f);
    /* Moments are meaningful for shape only when the spread is above the rounding noise. */
    const bool has_spread = f->std > 1e-6 * f->max_abs;

    for (size_t i = 0; i < config->feature_count; i++) {
        const verge_feature *feature = &config->features[i];
        const char *name = "?";
        double got = row[c], want = NAN, tolerance = 0;
        bool skip = false;

        switch (feature->kind) {
        case VERGE_FEATURE_MEAN:
            name = "mean", want = f->mean;
            tolerance = REF_TOLERANCE * (fabs(want) + f->std) + slack;
            break;
        case VERGE_FEATURE_STD:
            name = "std", want = f->std;
            tolerance = REF_TOLERANCE * want + slack;
            break;
        case VERGE_FEATURE_VAR:
            name = "var", want = f->var;
            tolerance = 2 * REF_TOLERANCE * want + 2 * slack * f->std + slack * slack;
            break;
        case VERGE_FEATURE_MIN:
            name = "min", want = f->min;
            break;
        case VERGE_FEATURE_MAX:
            name = "max", want = f->max;
            break;
        case VERGE_FEATURE_P2P:
            name = "p2p", want = f->p2p;
            break;
        case VERGE_FEATURE_RMS:
            name = "rms", want = f->rms;
            tolerance = REF_TOLERANCE * want + 1e-300;
            break;
        case VERGE_FEATURE_ENERGY:
            name = "energy", want = f->energy;
            tolerance = REF_TOLERANCE * want + 1e-300;
            break;
        case VERGE_FEATURE_ZERO_CROSSINGS:
            name = "zero_crossings", want = f->zero_crossings;
            break;
        case VERGE_FEATURE_SKEW:
            name = "skew", want = f->skew;
            skip = !has_spread;
            tolerance = REF_TOLERANCE * (1 + fabs(want)) + 32 * REF_U * f->max_abs / f->std;
            break;
        case VERGE_FEATURE_KURTOSIS:
            name = "kurtosis", want = f->kurtosis;
            skip = !has_spread;
            tolerance = REF_TOLERANCE * (3 + fabs(want)) + 64 * REF_U * f->max_abs / f->std;
            break;
        case VERGE_FEATURE_BAND_ENERGY: {
            /* float32 FFT around a float64 mean: accurate to ~1e-6 of the AC energy. */
            const size_t bins = config->window / 2 + 1;
            double total = 0;
            for (uint32_t b = 0; b < feature->bands; b++) {
                double expected = 0;
                for (size_t k = b * bins / feature->bands; k < (b + 1) * bins / feature->bands; k++)
                    expected += f->power[k];
                const double tol = 1e-5 * f->ac_energy + 1e-9 * expected + 1e-300;
                total += row[c + b];
                if (!(fabs(row[c + b] - expected) <= tol)) {
                    bad++;
                    if ((*budget)-- > 0)
                        CHECK_MSG(0, "%s: band_energy_%u = %.17g, expected %.17g +- %.3g", where, b,
                                  row[c + b], expected, tol);
                }
            }
            const double tol = 1e-5 * f->ac_energy + 1e-9 * f->energy + 1e-300;
            if (!(fabs(total - f->energy) <= tol)) {
                bad++;
                if ((*budget)-- > 0)
                    CHECK_MSG(0, "%s: bands add up to %.17g, energy is %.17g", where, total,
                              f->energy);
            }
            c += feature->bands;
            continue;
        }
        case VERGE_FEATURE_DOMINANT_FREQ: {
            const size_t w = config->window;
            double best = 0;
            for (size_t k = 1; k <= w / 2; k++)
                best = f->power[k] > best ? f->power[k] : best;
            const double bin = got * (double)w / config->sample_rate;
            const size_t k = (size_t)llround(bin);
            bool ok = fabs(bin - (double)k) < 1e-6 && k <= w / 2;
            if (ok && best > 1e-5 * f->ac_energy)
                ok = k >= 1 && f->power[k] >= best - 1e-5 * f->ac_energy;
            if (!ok) {
                bad++;
                if ((*budget)-- > 0)
                    CHECK_MSG(0, "%s: dominant_freq = %g (bin %.3f), strongest bin has %g", where,
                              got, bin, best);
            }
            c++;
            continue;
        }
        }
        c++;
        if (skip)
            continue;
        const bool same = (isnan(got) && isnan(want)) || got == want ||
                          fabs(got - want) <= tolerance;
        if (!same) {
            bad++;
            if ((*budget)-- > 0)
                CHECK_MSG(0, "%s: %s = %.17g, expected %.17g +- %.3g", where, name, got, want,
                          tolerance);
        }
    }
    return bad;
}

/*
 * Computes the features of x[0..n) with the library and compares every row
 * with the reference (series already filled: the config's fill is used as
 * given). Returns the number of mismatching values.
 */
static inline int ref_check_series(const verge_features_config *config, const double *x, size_t n,
                                   const char *label)
{
    const size_t rows = verge_features_rows(config, n);
    const size_t columns = verge_features_columns(config);
    double *out = malloc(rows * columns * sizeof(*out));
    double *power = malloc((config->window / 2 + 1) * sizeof(*power));
    int bad = 0;
    int budget = 5;
    char where[160];
    verge_features_stats stats;

    bool spectrum = false;
    for (size_t i = 0; i < config->feature_count; i++)
        spectrum |= config->features[i].kind == VERGE_FEATURE_BAND_ENERGY ||
                    config->features[i].kind == VERGE_FEATURE_DOMINANT_FREQ;

    CHECK_OK(verge_features_compute(config, x, n, out, rows, &stats));
    CHECK_EQ_INT(stats.windows, rows);
    for (size_t j = 0; j < rows; j++) {
        ref_features f;
        ref_window(x + j * config->step, config->window, spectrum ? power : NULL, &f);
        snprintf(where, sizeof(where), "%s, window %zu (w=%zu, step=%zu)", label, j,
                 config->window, config->step);
        bad += ref_compare_row(config, out + j * columns, &f, where, &budget);
    }
    CHECK_MSG(bad == 0, "%s: %d values differ from the two-pass reference", label, bad);
    free(out);
    free(power);
    return bad;
}

#endif
