/*
 * Reference window features for the signal tests: a plain two-pass float64
 * computation per window and a direct O(w^2) DFT, written for clarity, plus
 * the comparison rules that the library's results must meet. Both work on
 * the samples scaled by a power of two, so that values near the float64
 * limits give the true result.
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
    /*
     * The spectrum is kept in the window's scaled units: the samples times
     * 2^shift (largest magnitude in [1, 2)), so that it neither overflows nor
     * underflows. A bin's power is power[k] * 2^(-2 shift).
     */
    int shift;
    double ac_scaled; /* w * sum (y - mean y)^2, y the scaled samples: the energy around the mean */
    double *power;    /* one-sided power of y, window/2 + 1 bins (direct DFT), or NULL */
} ref_features;

/* Returns log2(w) + 1, the depth that FFT rounding errors grow with. */
static inline double ref_depth(size_t w)
{
    return log2((double)w) + 1.0;
}

/*
 * Two-pass float64 features of x[0..w) (finite samples). Everything is
 * computed from y = x * 2^shift, with the largest |y| in [1, 2), and scaled
 * back at the end, so that a result is +-inf only where its true value is
 * beyond float64. `power` receives the spectrum of y when not NULL: a direct
 * DFT of y - mean(y) with compensated sums; bin 0 is (sum y)^2.
 */
static inline void ref_window(const double *x, size_t w, double *power, ref_features *f)
{
    double max_abs = 0;
    f->min = x[0];
    f->max = x[0];
    for (size_t i = 0; i < w; i++) {
        if (x[i] < f->min)
            f->min = x[i];
        if (x[i] > f->max)
            f->max = x[i];
        if (fabs(x[i]) > max_abs)
            max_abs = fabs(x[i]);
    }
    int shift = max_abs > 0 ? -ilogb(max_abs) : 0;
    if (shift < -1000)
        shift = -1000;
    if (shift > 1000)
        shift = 1000;

    double sum = 0;
    for (size_t i = 0; i < w; i++)
        sum += ldexp(x[i], shift);
    const double mean = sum / (double)w;
    double m2 = 0, m3 = 0, m4 = 0, sumsq = 0, centred_sum = 0;
    for (size_t i = 0; i < w; i++) {
        const double y = ldexp(x[i], shift);
        const double d = y - mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
        sumsq += y * y;
        centred_sum += d;
    }
    m2 /= (double)w;
    m3 /= (double)w;
    m4 /= (double)w;
    f->mean = ldexp(mean, -shift);
    f->var = ldexp(m2, -2 * shift);
    f->std = ldexp(sqrt(m2), -shift);
    f->rms = ldexp(sqrt(sumsq / (double)w), -shift);
    f->p2p = f->max - f->min;
    f->energy = ldexp((double)w * sumsq, -2 * shift);
    f->skew = m3 / pow(m2, 1.5);
    f->kurtosis = m4 / (m2 * m2) - 3.0;
    f->max_abs = max_abs;
    f->shift = shift;
    f->ac_scaled = (double)w * (double)w * m2;

    double crossings = 0;
    for (size_t i = 1; i < w; i++)
        crossings += (x[i] < 0) != (x[i - 1] < 0);
    f->zero_crossings = crossings;

    f->power = power;
    if (power != NULL) {
        for (size_t k = 0; k <= w / 2; k++) {
            /* Neumaier-compensated sums of the terms (y_n - mean) e^(-2 pi i k n / w). */
            double re = 0, re_carry = 0, im = 0, im_carry = 0;
            for (size_t n = 0; n < w; n++) {
                const double angle = -6.283185307179586 * (double)((k * n) % w) / (double)w;
                const double d = ldexp(x[n], shift) - mean;
                const double terms[2] = {d * cos(angle), d * sin(angle)};
                for (int part = 0; part < 2; part++) {
                    double *total = part == 0 ? &re : &im;
                    double *carry = part == 0 ? &re_carry : &im_carry;
                    const double next = *total + terms[part];
                    *carry += fabs(*total) >= fabs(terms[part]) ? (*total - next) + terms[part]
                                                                : (terms[part] - next) + *total;
                    *total = next;
                }
            }
            re += re_carry;
            im += im_carry;
            const double mirrors = (k == 0 || (w % 2 == 0 && k == w / 2)) ? 1.0 : 2.0;
            power[k] = mirrors * (re * re + im * im);
        }
        const double x0 = (double)w * mean + centred_sum;
        power[0] = x0 * x0;
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
 * Returns the allowed error of a band of (scaled) power p: 1e-9 relative,
 * plus the rounding floor of any float64 transform, 64 * 2^-53 * depth *
 * sqrt(p * E) with E the energy around the mean. The floor only matters for
 * bands that contain less than about 1e-8 of E.
 */
static inline double ref_band_tolerance(double p, const ref_features *f, size_t w)
{
    const double floor = 64 * REF_U * ref_depth(w);
    return REF_TOLERANCE * p + floor * sqrt(p * f->ac_scaled) + floor * floor * f->ac_scaled;
}

/* Returns whether got matches want within tolerance. An infinite want must be met exactly. */
static inline bool ref_matches(double got, double want, double tolerance)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= tolerance;
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
            const size_t w = config->window;
            const size_t bins = w / 2 + 1;
            const int unscale = -2 * f->shift;
            double total = 0, total_tolerance = 0;
            for (uint32_t b = 0; b < feature->bands; b++) {
                double expected = 0;
                for (size_t k = b * bins / feature->bands; k < (b + 1) * bins / feature->bands; k++)
                    expected += f->power[k];
                const double tol = ref_band_tolerance(expected, f, w);
                const double want_b = ldexp(expected, unscale);
                /* The smallest subnormal covers values that underflow when scaled back. */
                const double tol_b = ldexp(tol, unscale) + 0x1p-1074;
                total += row[c + b];
                total_tolerance += tol_b;
                if (!ref_matches(row[c + b], want_b, tol_b)) {
                    bad++;
                    if ((*budget)-- > 0)
                        CHECK_MSG(0, "%s: band_energy_%u = %.17g, expected %.17g +- %.3g", where, b,
                                  row[c + b], want_b, tol_b);
                }
            }
            /* By Parseval the bands add up to energy. */
            if (!ref_matches(total, f->energy, total_tolerance + REF_TOLERANCE * f->energy)) {
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
            const double tol = ref_band_tolerance(best, f, w);
            bool ok = fabs(bin - (double)k) < 1e-6 && k <= w / 2;
            /* Bins within rounding of the strongest one may win, and none at all gives 0. */
            if (ok && best > tol)
                ok = k >= 1 && f->power[k] >= best - 2 * tol;
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
        if (!(got == want || ref_matches(got, want, tolerance))) {
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
