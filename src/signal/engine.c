/*
 * The window engine: sliding sums with error bounds for the moments, and
 * the other features of a block of windows.
 *
 * Moments (mean, std, var, rms, energy, skew, kurtosis) come from running
 * sums S_p = sum (x - K)^p over the window (p = 1, 2, and 3, 4 for skew and
 * kurtosis). K, the anchor, is the sample nearest to the window mean when
 * the sums were last computed from the window, so a window of equal values
 * sums to exactly zero. Next to each S_p runs E_p, a bound on the rounding
 * error the additions have left in it (error <= u * E_p, u = 2^-53).
 *
 * For each block:
 *   1. The sums slide one sample at a time. At step 1 over finite samples
 *      (the common case) the per-sample changes are computed vectorized and
 *      added up in two interleaved chains. When the window mean drifts away
 *      from K, the sums are moved to a new anchor algebraically.
 *   2. The moments and their error bounds are computed for every window of
 *      the run in a loop without branches that the compiler vectorizes.
 *   3. The first window whose bound passes TOLERANCE of its result is
 *      recomputed from its samples (two passes, pairwise sums), which
 *      re-anchors the sums, and the windows after it are computed again.
 *      Sums whose bound approaches the limit are recomputed before that.
 *
 * min and max use the van Herk / Gil-Werman method (prefix and suffix minima
 * over chunks of `window` samples, three comparisons per sample), and
 * zero_crossings a prefix count, so every feature except the FFT ones costs
 * O(1) per sample whatever the window.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "signal/engine.h"

enum {
    RETRY_RUN = 8, /* windows checked right after a recomputation */
    PIECE = 128,   /* windows summed between anchor moves at step 1 */
};

#define ROUNDING 0x1p-53 /* unit roundoff of float64 */
/* Largest accepted error bound, relative to the moment it bounds. */
#define TOLERANCE 1e-10
/* Sums are recomputed ahead of time when their bound is already this large. */
#define PRECHECK (TOLERANCE / 4)


void verge_engine_free(verge_engine *e)
{
    free(e->terms);
    free(e->anchor);
    free(e->deltas);
    free(e->sum_pairs);
    free(e->bound_pairs);
    for (int p = 1; p <= 4; p++) {
        free(e->sums[p]);
        free(e->bounds[p]);
    }
    free(e->mean);
    free(e->var);
    free(e->std);
    free(e->energy);
    free(e->column_buffers);
    free(e->rows);
    free(e->skew);
    free(e->kurtosis);
    free(e->bad);
    free(e->prefix_min);
    free(e->suffix_min);
    free(e->prefix_max);
    free(e->suffix_max);
    free(e->crossings);
    free(e->nan_count);
    free(e->pos_inf_count);
    free(e->neg_inf_count);
    free(e->huge_count);
    free(e->tiny_count);
    free(e->sized_count);
    verge_spectrum_destroy(e->spectrum);
    free(e->power);
    free(e->band_edges);
    memset(e, 0, sizeof(*e));
}

verge_status verge_engine_init(verge_engine *e, const verge_features_config *config)
{
    memset(e, 0, sizeof(*e));
    e->config = *config;
    e->columns = verge_features_columns(config);
    e->stats.fill_value = NAN;

    const size_t w = config->window;
    const size_t step = config->step;
    e->max_windows = step >= VERGE_BLOCK_SAMPLES ? 1 : VERGE_BLOCK_SAMPLES / step;
    if (e->max_windows > VERGE_BLOCK_WINDOWS)
        e->max_windows = VERGE_BLOCK_WINDOWS;
    /* Samples under one block: (windows - 1) * step + window. */
    e->max_span = (e->max_windows - 1) * step + w;

    size_t band_edge_count = 0;
    for (size_t i = 0; i < config->feature_count; i++) {
        switch (config->features[i].kind) {
        case VERGE_FEATURE_MEAN:
            e->need_moments = e->need_mean_check = true;
            break;
        case VERGE_FEATURE_STD:
        case VERGE_FEATURE_VAR:
            e->need_moments = e->need_var_check = true;
            break;
        case VERGE_FEATURE_RMS:
        case VERGE_FEATURE_ENERGY:
            e->need_moments = e->need_sumsq_check = true;
            break;
        case VERGE_FEATURE_SKEW:
        case VERGE_FEATURE_KURTOSIS:
            e->need_moments = e->need_var_check = e->need_order4 = true;
            break;
        case VERGE_FEATURE_MIN:
        case VERGE_FEATURE_MAX:
        case VERGE_FEATURE_P2P:
            e->need_minmax = true;
            break;
        case VERGE_FEATURE_ZERO_CROSSINGS:
            e->need_zero_crossings = true;
            break;
        case VERGE_FEATURE_BAND_ENERGY:
            e->need_spectrum = true;
            band_edge_count += config->features[i].bands + 1;
            break;
        case VERGE_FEATURE_DOMINANT_FREQ:
            e->need_spectrum = true;
            break;
        }
    }

    const size_t m = e->max_windows;
    const size_t span = e->max_span;
    bool ok = true;
#define ALLOCATE(field, count)                                                                     \
    do {                                                                                           \
        e->field = malloc((count) * sizeof(*e->field));                                            \
        ok = ok && e->field != NULL;                                                               \
    } while (0)

    if (e->need_moments) {
        ALLOCATE(terms, w);
        ALLOCATE(anchor, m);
        ALLOCATE(deltas, 2 * m);
        ALLOCATE(sum_pairs, 2 * m);
        ALLOCATE(bound_pairs, 2 * m);
        for (int p = 3; p <= (e->need_order4 ? 4 : 0); p++) {
            ALLOCATE(sums[p], m);
            ALLOCATE(bounds[p], m);
        }
        ALLOCATE(mean, m);
        ALLOCATE(var, m);
        ALLOCATE(std, m);
        ALLOCATE(energy, m);
        ALLOCATE(bad, m);
        if (e->need_order4) {
            ALLOCATE(skew, m);
            ALLOCATE(kurtosis, m);
        }
    }
    ALLOCATE(column_buffers, config->feature_count * m);
    ALLOCATE(rows, e->columns * m);
    if (e->need_minmax) {
        ALLOCATE(prefix_min, span);
        ALLOCATE(suffix_min, span);
        ALLOCATE(prefix_max, span);
        ALLOCATE(suffix_max, span);
    }
    if (e->need_zero_crossings)
        ALLOCATE(crossings, span + 1);
    ALLOCATE(nan_count, span + 1);
    ALLOCATE(pos_inf_count, span + 1);
    ALLOCATE(neg_inf_count, span + 1);
    ALLOCATE(huge_count, span + 1);
    ALLOCATE(tiny_count, span + 1);
    ALLOCATE(sized_count, span + 1);
    if (e->need_spectrum) {
        ALLOCATE(power, w / 2 + 1);
        if (band_edge_count > 0)
            ALLOCATE(band_edges, band_edge_count);
    }
#undef ALLOCATE
    if (!ok) {
        verge_engine_free(e);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                          "features: out of memory for a window of %zu samples", w);
    }

    if (e->need_spectrum) {
        verge_status status = verge_spectrum_create(w, &e->spectrum);
        if (status != VERGE_OK) {
            verge_engine_free(e);
            return status;
        }
        /* Band b holds bins floor(b * bins / B) .. floor((b + 1) * bins / B) - 1. */
        const size_t bins = w / 2 + 1;
        size_t *edge = e->band_edges;
        for (size_t i = 0; i < config->feature_count; i++) {
            if (config->features[i].kind != VERGE_FEATURE_BAND_ENERGY)
                continue;
            const size_t bands = config->features[i].bands;
            for (size_t b = 0; b <= bands; b++)
                *edge++ = (size_t)(((unsigned __int128)b * bins) / bands);
        }
    }
    return VERGE_OK;
}

/* Sums the terms pairwise; also returns the sum of their magnitudes in *magnitude. */
static double sum_pairwise(const double *terms, size_t count, double *magnitude)
{
    if (count <= 16) {
        double sum = 0;
        double size = 0;
        for (size_t i = 0; i < count; i++) {
            sum += terms[i];
            size += fabs(terms[i]);
        }
        *magnitude += size;
        return sum;
    }
    const size_t half = count / 2;
    return sum_pairwise(terms, half, magnitude) + sum_pairwise(terms + half, count - half, magnitude);
}

/* Rounding error factor of sum_pairwise: 15 sequential additions, then one per level. */
static double pairwise_levels(size_t count)
{
    double levels = 16;
    while (count > 16) {
        count = (count + 1) / 2;
        levels += 1;
    }
    return levels;
}

/*
 * Recomputes the running sums from the window x[0..window): the mean of the
 * samples under VERGE_PLAIN_MAX (pairwise), the one of them nearest to it as
 * the anchor, then each power sum pairwise. NaN, infinite and huge samples
 * count as x = anchor, as in the sliding update. The windows that contain
 * them are finished elsewhere (apply_nonfinite(), exact_moments()).
 */
static void reanchor(verge_engine *e, const double *x)
{
    const size_t w = e->config.window;
    const int order = e->need_order4 ? 4 : 2;
    double *terms = e->terms;
    double ignored = 0;
    size_t finite = 0;

    for (size_t i = 0; i < w; i++) {
        const bool ok = fabs(x[i]) < VERGE_PLAIN_MAX;
        terms[i] = ok ? x[i] : 0.0;
        finite += ok;
    }
    const double sum = sum_pairwise(terms, w, &ignored);

    double anchor = 0;
    if (finite > 0) {
        const double mean = sum / (double)finite;
        double best = INFINITY;
        bool found = false;
        for (size_t i = 0; i < w; i++) {
            const double distance = fabs(x[i] - mean);
            if (fabs(x[i]) < VERGE_PLAIN_MAX && (!found || distance < best)) {
                best = distance;
                anchor = x[i];
                found = true;
            }
        }
    }

    verge_moments *m = &e->state;
    const double levels = pairwise_levels(w);
    m->anchor = anchor;
    for (int p = 1; p <= order; p++) {
        double magnitude = 0;
        for (size_t i = 0; i < w; i++) {
            const double d = fabs(x[i]) < VERGE_PLAIN_MAX ? x[i] - anchor : 0.0;
            const double d2 = d * d;
            terms[i] = p == 1 ? d : p == 2 ? d2 : p == 3 ? d2 * d : d2 * d2;
        }
        m->s[p] = sum_pairwise(terms, w, &magnitude);
        m->e[p] = levels * magnitude;
    }
    e->stats.reanchors++;
}

/*
 * Moves the anchor of p <= 2 sums to the current window mean without
 * recomputing them: with delta = K' - K, S1' = S1 - w delta and
 * S2' = S2 - delta (2 S1 - w delta). Called when the mean has drifted more
 * far from the anchor (see slide_fast() and slide_one() for the limits), where
 * S2 would otherwise grow with the drift and its rounding error with it.
 * The bounds grow by the rounding of the shift itself, by delta's own
 * rounding, and by the samples in the window entering with the old anchor
 * but leaving with the new one.
 */
static inline void shift_anchor(double *anchor, double *s1, double *s2, double *e1, double *e2,
                                double wd)
{
    const double next = *anchor + *s1 / wd;
    const double delta = next - *anchor;
    const double c = delta * (2.0 * *s1 - wd * delta);
    const double s1_new = *s1 - wd * delta;
    const double s2_new = *s2 - c;
    const double spread = sqrt(wd * (fabs(*s2) + fabs(s2_new)));

    *e1 += fabs(*s1) + 3.0 * wd * fabs(delta) + fabs(s1_new) + 2.0 * spread;
    *e2 += fabs(*s2) + 4.0 * fabs(c) + 2.0 * fabs(delta) * (fabs(*s1) + wd * fabs(delta)) +
           fabs(s2_new) + 3.0 * (fabs(*s2) + fabs(s2_new));
    *anchor = next;
    *s1 = s1_new;
    *s2 = s2_new;
}

/* Moves the running sums one sample: x_in enters, x_out leaves. */
static inline void slide_one(verge_moments *m, double x_in, double x_out, bool order4, double wd)
{
    /* NaN fails the comparison too. */
    const double din = fabs(x_in) < VERGE_PLAIN_MAX ? x_in - m->anchor : 0.0;
    const double dout = fabs(x_out) < VERGE_PLAIN_MAX ? x_out - m->anchor : 0.0;
    const double a1 = din - dout;
    const double in2 = din * din;
    const double out2 = dout * dout;
    const double a2 = in2 - out2;

    m->s[1] += a1;
    m->e[1] += fabs(a1) + fabs(m->s[1]);
    m->s[2] += a2;
    m->e[2] += fabs(a2) + fabs(m->s[2]);
    if (order4) {
        const double a3 = in2 * din - out2 * dout;
        const double a4 = in2 * in2 - out2 * out2;
        m->s[3] += a3;
        m->e[3] += fabs(a3) + fabs(m->s[3]);
        m->s[4] += a4;
        m->e[4] += fabs(a4) + fabs(m->s[4]);
    } else if (m->s[1] * m->s[1] > 0.96 * wd * m->s[2]) {
        shift_anchor(&m->anchor, &m->s[1], &m->s[2], &m->e[1], &m->e[2], wd);
    }
}

static inline void record_state(verge_engine *e, size_t j)
{
    const int order = e->need_order4 ? 4 : 2;

    e->anchor[j] = e->state.anchor;
    e->sum_pairs[2 * j] = e->state.s[1];
    e->sum_pairs[2 * j + 1] = e->state.s[2];
    e->bound_pairs[2 * j] = e->state.e[1];
    e->bound_pairs[2 * j + 1] = e->state.e[2];
    for (int p = 3; p <= order; p++) {
        e->sums[p][j] = e->state.s[p];
        e->bounds[p][j] = e->state.e[p];
    }
}

/*
 * Returns true when the error bound of sums (s1, s2) about `anchor` with
 * bounds (e1, e2) has grown past PRECHECK for a moment the features need,
 * so that the sums are better recomputed before going on.
 */
static bool sums_are_stale(const verge_engine *e, double anchor, double s1, double s2, double e1,
                           double e2)
{
    const double wd = (double)e->config.window;
    const double m2 = s2 - s1 * s1 / wd;
    const double mean = anchor + s1 / wd;
    const double err_m2 =
        ROUNDING * (e2 + 6.0 * s2 + 3.0 * s1 * s1 / wd + 2.0 * fabs(s1) * e1 / wd);
    const double err_mean = ROUNDING * (e1 / wd + 3.0 * fabs(s1 / wd) + 2.0 * fabs(anchor));
    const double err_sumsq = ROUNDING * (e2 + 8.0 * s2 + 2.0 * fabs(anchor) * e1 +
                                         8.0 * fabs(anchor * s1) + 5.0 * wd * anchor * anchor);
    const double sumsq = s2 + anchor * (2.0 * s1 + wd * anchor);

    if (e->need_var_check && !(err_m2 <= PRECHECK * m2))
        return true;
    if (e->need_sumsq_check && !(err_sumsq <= PRECHECK * sumsq))
        return true;
    /* The mean's scale includes the spread, so a window of equal values is never stale. */
    return e->need_mean_check && !(err_mean <= PRECHECK * (fabs(mean) + sqrt(fabs(m2) / wd)));
}

static bool state_is_stale(const verge_engine *e)
{
    const verge_moments *m = &e->state;
    return sums_are_stale(e, m->anchor, m->s[1], m->s[2], m->e[1], m->e[2]);
}

/* Per-step changes of (S1, S2) with a fixed anchor, as pairs: independent steps, so they vectorize. */
VERGE_VECTOR_CLONES static void step_deltas(size_t count, double anchor,
                                            const double *restrict in,
                                            const double *restrict out, double *restrict deltas)
{
    for (size_t j = 0; j < count; j++) {
        const double din = in[j] - anchor;
        const double dout = out[j] - anchor;
        deltas[2 * j] = din - dout;
        deltas[2 * j + 1] = din * din - dout * dout;
    }
}

/*
 * Finishes the second summing chain of slide_fast(), which started from
 * zero: adds the first chain's total (carry1, carry2) to its sums and turns
 * its running sums of |S| into bounds. The rounding error of a chain after
 * window i is at most u * 3 t[i], t[i] being the chain's sum of |S| so far:
 * each addition S += a rounds by u |S|, and the change a, computed with
 * rounding u |a|, satisfies |a| <= |S_i| + |S_i-1|. Adding the carry rounds
 * by u |S| once more, and the carry brings its own bound.
 */
VERGE_VECTOR_CLONES static void finish_second_chain(double *restrict sums, double *restrict bounds,
                                                    size_t count, double carry1, double carry2,
                                                    double carry_bound1, double carry_bound2)
{
    for (size_t i = 0; i < count; i++) {
        sums[2 * i] += carry1;
        sums[2 * i + 1] += carry2;
        bounds[2 * i] = carry_bound1 + 3.0 * bounds[2 * i] + fabs(sums[2 * i]);
        bounds[2 * i + 1] = carry_bound2 + 3.0 * bounds[2 * i + 1] + fabs(sums[2 * i + 1]);
    }
}

typedef double verge_pair __attribute__((vector_size(16)));
typedef uint64_t verge_pair_bits __attribute__((vector_size(16)));

static inline verge_pair pair_load(const double *p)
{
    verge_pair v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void pair_store(double *p, verge_pair v)
{
    memcpy(p, &v, sizeof(v));
}

static inline verge_pair pair_abs(verge_pair v)
{
    const verge_pair_bits mask = {~((uint64_t)1 << 63), ~((uint64_t)1 << 63)};
    return (verge_pair)((verge_pair_bits)v & mask);
}

/*
 * Step 1 with finite samples and p <= 2: the hot path. in[j] enters and
 * out[j] leaves for window j. The changes of (S1, S2) are computed for a
 * piece of the run at once; adding them up is the only serial part, done
 * as two chains (the second half starts from zero and gets the first half's
 * total added afterwards) so that two additions are in flight, and the
 * chains track only sum |S| for the bound (see finish_second_chain()).
 * When the level drifts, the anchor moves between pieces.
 */
static void slide_fast(verge_engine *e, const double *in, const double *out, size_t j0, size_t count)
{
    const double wd = (double)e->config.window;
    /* Between pieces the anchor moves to the mean once it is a standard deviation away
       (S1^2 > 1/2 w S2). Inside a piece of at most PIECE windows the mean may drift
       further; the bound check catches what that costs in accuracy. */
    const double shift_limit = 0.5 * wd;
    const verge_pair three = {3.0, 3.0};
    double anchor = e->state.anchor;
    verge_pair sum = {e->state.s[1], e->state.s[2]};
    verge_pair bound = {e->state.e[1], e->state.e[2]};
    double *restrict anchors = e->anchor + j0;
    double *restrict sums = e->sum_pairs + 2 * j0;
    double *restrict bounds = e->bound_pairs + 2 * j0;
    double *restrict deltas = e->deltas;

    for (size_t j = 0; j < count;) {
        const size_t stop = count - j < PIECE ? count : j + PIECE;

        if (j > 0 && sums_are_stale(e, anchor, sum[0], sum[1], bound[0], bound[1])) {
            /* Recompute window j - 1, whose samples are in[j - 1 - w + 1 .. j - 1]. */
            reanchor(e, in + j - e->config.window);
            anchor = e->state.anchor;
            sum = (verge_pair){e->state.s[1], e->state.s[2]};
            bound = (verge_pair){e->state.e[1], e->state.e[2]};
        }
        /* The first chain takes the odd window, so it is never empty. */
        const size_t half = (stop - j + 1) / 2;
        const size_t second = j + half;
        const size_t both = stop - second;
        const verge_pair bound0 = bound;
        verge_pair sum_b = {0, 0};
        verge_pair total = pair_abs(sum); /* the sum before the first change also bounds it */
        verge_pair total_b = {0, 0};

        step_deltas(stop - j, anchor, in + j, out + j, deltas + 2 * j);
        for (size_t i = 0; i < both; i++) {
            sum += pair_load(deltas + 2 * (j + i));
            sum_b += pair_load(deltas + 2 * (second + i));
            total += pair_abs(sum);
            total_b += pair_abs(sum_b);
            pair_store(sums + 2 * (j + i), sum);
            pair_store(bounds + 2 * (j + i), bound0 + three * total);
            pair_store(sums + 2 * (second + i), sum_b);
            pair_store(bounds + 2 * (second + i), total_b);
        }
        if (both < half) { /* odd count: the first chain has one more */
            sum += pair_load(deltas + 2 * (j + both));
            total += pair_abs(sum);
            pair_store(sums + 2 * (j + both), sum);
            pair_store(bounds + 2 * (j + both), bound0 + three * total);
        }
        const verge_pair carry_bound = bound0 + three * total;
        finish_second_chain(sums + 2 * second, bounds + 2 * second, both, sum[0], sum[1],
                            carry_bound[0], carry_bound[1]);
        for (size_t i = j; i < stop; i++)
            anchors[i] = anchor;

        sum = pair_load(sums + 2 * (stop - 1));
        bound = pair_load(bounds + 2 * (stop - 1));
        j = stop;
        if (sum[0] * sum[0] > shift_limit * sum[1]) {
            /* Recenter for the next piece; the recorded windows keep the old anchor. */
            double s1 = sum[0], s2 = sum[1], e1 = bound[0], e2 = bound[1];
            shift_anchor(&anchor, &s1, &s2, &e1, &e2, wd);
            sum = (verge_pair){s1, s2};
            bound = (verge_pair){e1, e2};
        }
    }
    e->state.anchor = anchor;
    e->state.s[1] = sum[0];
    e->state.s[2] = sum[1];
    e->state.e[1] = bound[0];
    e->state.e[2] = bound[1];
}

/*
 * Computes mean, var, std, energy = w sum x^2 and the bound check of `count` windows
 * from their recorded sums. A separate function with restrict arguments, so
 * that the compiler vectorizes the loop.
 *
 * Error bounds (first order, u = 2^-53), in units of sums over the window:
 *   S1 is off by at most u * (E1 + sum|d|), S2 by u * (E2 + 3 S2);
 *   M2 = S2 - S1^2 / w by u * (E2 + 6 S2 + 3 S1^2 / w + 2 |S1| E1 / w),
 *   using 2 |S1| sum|d| / w <= S1^2 / w + S2 (Cauchy-Schwarz, then AM-GM);
 *   mean = K + S1 / w by u * (E1 / w + 3 std + 3 |S1 / w| + 2 |K|);
 *   sum x^2 = S2 + K (2 S1 + w K) by u * (E2 + 8 S2 + 2 |K| E1 + 8 |K S1| + 5 w K^2).
 */
VERGE_VECTOR_CLONES static void moments_kernel(
    size_t count, double wd, double check_mean, double check_var, double check_sumsq,
    const double *restrict anchors, const double *restrict sums, const double *restrict bounds,
    double *restrict means,
    double *restrict vars, double *restrict stds, double *restrict energies, double *restrict bad)
{
    const double winv = 1.0 / wd;
    const double u = ROUNDING;
    const double tol = TOLERANCE;

    for (size_t j = 0; j < count; j++) {
        const double k = anchors[j];
        const double s1 = sums[2 * j];
        const double s2 = sums[2 * j + 1];
        const double e1 = bounds[2 * j];
        const double e2 = bounds[2 * j + 1];
        const double mu = s1 * winv;
        const double m2 = s2 - s1 * mu;
        const double var_raw = m2 * winv;
        /* max(var_raw, 0) that keeps NaN, written without a branch so the loop vectorizes. */
        const double var = 0.5 * var_raw + 0.5 * fabs(var_raw);
        const double std = sqrt(var);
        const double mean = k + mu;
        const double sumsq = s2 + k * (2.0 * s1 + wd * k);
        const double abs_k = fabs(k);

        const double err_m2 = u * (e2 + 6.0 * s2 + 3.0 * s1 * mu + 2.0 * fabs(s1) * e1 * winv);
        const double err_mean = u * (e1 * winv + 3.0 * std + 3.0 * fabs(mu) + 2.0 * abs_k);
        const double err_sumsq =
            u * (e2 + 8.0 * s2 + 2.0 * abs_k * e1 + 8.0 * abs_k * fabs(s1) + 5.0 * wd * k * k);

        /* A NaN bound fails the comparison and counts as too large. */
        const double mean_bad = err_mean <= tol * (fabs(mean) + std) ? 0.0 : check_mean;
        const double var_bad = err_m2 <= tol * m2 ? 0.0 : check_var;
        const double sumsq_bad = err_sumsq <= tol * sumsq ? 0.0 : check_sumsq;

        means[j] = mean;
        vars[j] = var;
        stds[j] = std;
        energies[j] = wd * (0.5 * sumsq + 0.5 * fabs(sumsq));
        bad[j] = mean_bad + var_bad + sumsq_bad;
    }
}

/*
 * Fills the moments and bad[] for windows j0..j1-1 of the block from the
 * recorded sums; bad[j] is set where an error bound is above TOLERANCE.
 */
static void compute_moments(verge_engine *e, size_t j0, size_t j1)
{
    const double wd = (double)e->config.window;
    const double winv = 1.0 / wd;
    const double u = ROUNDING;
    const double tol = TOLERANCE;
    const double *restrict pairs = e->sum_pairs;
    const double *restrict bound_pairs = e->bound_pairs;
    double *restrict bad = e->bad;

    moments_kernel(j1 - j0, wd, e->need_mean_check ? 1.0 : 0.0, e->need_var_check ? 1.0 : 0.0,
                   e->need_sumsq_check ? 1.0 : 0.0, e->anchor + j0, pairs + 2 * j0,
                   bound_pairs + 2 * j0, e->mean + j0, e->var + j0, e->std + j0,
                   e->energy + j0, bad + j0);

    if (!e->need_order4)
        return;

    /*
     * Third and fourth central moments from the sums about K (R_p = S_p / w,
     * mu = R_1): m3 = R3 - 3 mu R2 + 2 mu^3, m4 = R4 - 4 mu R3 + 6 mu^2 R2 - 3 mu^4,
     * with first-order error propagation from the bounds of R_1..R_4.
     */
    const double *restrict sums3 = e->sums[3];
    const double *restrict sums4 = e->sums[4];
    const double *restrict bounds3 = e->bounds[3];
    const double *restrict bounds4 = e->bounds[4];
    for (size_t j = j0; j < j1; j++) {
        const double s2 = pairs[2 * j + 1];
        const double mu = pairs[2 * j] * winv;
        const double r2 = s2 * winv;
        const double r3 = sums3[j] * winv;
        const double r4 = sums4[j] * winv;
        const double m2 = r2 - mu * mu;
        const double m3 = r3 - mu * (3.0 * r2 - 2.0 * mu * mu);
        const double m4 = r4 - mu * (4.0 * r3 - mu * (6.0 * r2 - 3.0 * mu * mu));
        const double am = fabs(mu);
        const double ar3 = fabs(r3);

        const double er1 = u * (bound_pairs[2 * j] + sqrt(wd * s2)) * winv;
        const double er2 = u * (bound_pairs[2 * j + 1] + 3.0 * s2) * winv;
        const double er3 = u * (bounds3[j] + 4.0 * sqrt(s2 * sums4[j])) * winv;
        const double er4 = u * (bounds4[j] + 5.0 * sums4[j]) * winv;
        const double err_m3 = er3 + 3.0 * am * er2 + (3.0 * r2 + 6.0 * am * am) * er1 +
                              4.0 * u * (ar3 + 3.0 * am * r2 + 2.0 * am * am * am);
        const double err_m4 = er4 + 4.0 * am * er3 + 6.0 * am * am * er2 +
                              (4.0 * ar3 + 12.0 * am * r2 + 12.0 * am * am * am) * er1 +
                              6.0 * u * (r4 + 4.0 * am * ar3 + 6.0 * am * am * r2 +
                                         3.0 * am * am * am * am);
        const double m2_pos = 0.5 * m2 + 0.5 * fabs(m2);
        const double scale3 = m2_pos * sqrt(m2_pos);
        const double scale4 = m2_pos * m2_pos;

        e->skew[j] = m3 / scale3;
        e->kurtosis[j] = m4 / scale4 - 3.0;
        bad[j] += (err_m3 <= tol * scale3 ? 0.0 : 1.0) + (err_m4 <= tol * scale4 ? 0.0 : 1.0);
    }
}

/*
 * Records the running sums for windows j0..j1-1 of a block. x is the block's
 * sample array: window j covers x[j*step .. j*step + window - 1], and x[-i]
 * is valid back to the previous window's start when the state continues.
 * first_end is the global index of window 0's last sample.
 */
static void slide_windows(verge_engine *e, const double *x, uint64_t first_end, size_t j0, size_t j1,
                          bool all_plain)
{
    const size_t w = e->config.window;
    const size_t step = e->config.step;
    const bool order4 = e->need_order4;
    size_t j = j0;

    if (e->have_state && state_is_stale(e))
        e->have_state = false;

    while (j < j1) {
        const uint64_t end = first_end + (uint64_t)j * step;
        const size_t local_end = j * step + w - 1; /* index of window j's last sample in x */

        if (!e->have_state || end - e->state_end >= w) {
            reanchor(e, x + j * step);
            e->have_state = true;
            e->state_end = end;
            record_state(e, j);
            j++;
            continue;
        }
        if (step == 1 && all_plain && !order4 && end == e->state_end + 1) {
            const size_t count = j1 - j;
            slide_fast(e, x + local_end, x + ((ptrdiff_t)local_end - (ptrdiff_t)w), j, count);
            e->state_end = end + count - 1;
            j = j1;
            continue;
        }
        /* Samples state_end+1 .. end enter; those w earlier leave. */
        const size_t first_in = local_end - (size_t)(end - e->state_end) + 1;
        for (size_t i = first_in; i <= local_end; i++)
            slide_one(&e->state, x[i], x[(ptrdiff_t)i - (ptrdiff_t)w], order4, (double)w);
        e->state_end = end;
        record_state(e, j);
        j++;
    }
}

/* Returns the index of the first non-zero value of flags[0..count), or count. */
static size_t first_nonzero(const double *flags, size_t count)
{
    size_t at = 0;

    /* Whole pieces are tested with an integer OR of the bits, which vectorizes. */
    while (count - at >= 64) {
        uint64_t any = 0;
        for (size_t i = at; i < at + 64; i++) {
            uint64_t bits;
            memcpy(&bits, &flags[i], sizeof(bits));
            any |= bits;
        }
        if (any != 0)
            break;
        at += 64;
    }
    while (at < count && flags[at] == 0)
        at++;
    return at;
}

/* Computes the moments of windows 0..m-1, recomputing any window whose bound is too large. */
static void block_moments(verge_engine *e, const double *x, uint64_t first_end, size_t m,
                          bool all_plain)
{
    const size_t step = e->config.step;
    size_t j0 = 0;
    size_t run = m;

    while (j0 < m) {
        const size_t j1 = j0 + run < m ? j0 + run : m;

        slide_windows(e, x, first_end, j0, j1, all_plain);
        compute_moments(e, j0, j1);

        const size_t failed = j0 + first_nonzero(e->bad + j0, j1 - j0);
        if (failed == j1) {
            j0 = j1;
            run = run * 2 < m ? run * 2 : m;
            continue;
        }

        /* Recompute the failed window from its samples and accept the result as is. */
        reanchor(e, x + failed * step);
        e->have_state = true;
        e->state_end = first_end + (uint64_t)failed * step;
        record_state(e, failed);
        compute_moments(e, failed, failed + 1);
        j0 = failed + 1;
        run = RETRY_RUN;
    }
}

/* van Herk / Gil-Werman running minimum and maximum over x[0..span). */
static void block_minmax(verge_engine *e, const double *x, size_t span)
{
    const size_t w = e->config.window;
    double *restrict pmin = e->prefix_min;
    double *restrict smin = e->suffix_min;
    double *restrict pmax = e->prefix_max;
    double *restrict smax = e->suffix_max;

    for (size_t start = 0; start < span; start += w) {
        const size_t end = start + w < span ? start + w : span;

        pmin[start] = pmax[start] = x[start];
        for (size_t i = start + 1; i < end; i++) {
            pmin[i] = x[i] < pmin[i - 1] ? x[i] : pmin[i - 1];
            pmax[i] = x[i] > pmax[i - 1] ? x[i] : pmax[i - 1];
        }
        smin[end - 1] = smax[end - 1] = x[end - 1];
        for (size_t i = end - 1; i-- > start;) {
            smin[i] = x[i] < smin[i + 1] ? x[i] : smin[i + 1];
            smax[i] = x[i] > smax[i + 1] ? x[i] : smax[i + 1];
        }
    }
}

static inline double window_min(const verge_engine *e, size_t first)
{
    const size_t last = first + e->config.window - 1;
    const double a = e->suffix_min[first];
    const double b = e->prefix_min[last];
    return b < a ? b : a;
}

static inline double window_max(const verge_engine *e, size_t first)
{
    const size_t last = first + e->config.window - 1;
    const double a = e->suffix_max[first];
    const double b = e->prefix_max[last];
    return b > a ? b : a;
}

VERGE_VECTOR_CLONES bool verge_all_plain(const double *x, size_t count)
{
    /* Biased exponents 823 .. 1222 are 2^-200 <= |x| < 2^200. */
    const uint64_t lowest = 1023 - 200;
    const uint64_t range = 400;
    uint64_t found = 0;

    /* Integer-only, so it vectorizes. */
    for (size_t i = 0; i < count; i++) {
        uint64_t bits;
        memcpy(&bits, &x[i], sizeof(bits));
        const uint64_t exponent = (bits >> 52) & 0x7ff;
        found |= (uint64_t)(exponent - lowest >= range) & (uint64_t)((bits << 1) != 0);
    }
    return found == 0;
}

/*
 * Counts the samples of x[0..span) that are not plain into prefix arrays.
 * Returns false, and counts nothing, when every sample is plain.
 */
static bool block_classify(verge_engine *e, const double *x, size_t span)
{
    if (verge_all_plain(x, span))
        return false;

    e->nan_count[0] = e->pos_inf_count[0] = e->neg_inf_count[0] = 0;
    e->huge_count[0] = e->tiny_count[0] = e->sized_count[0] = 0;
    for (size_t i = 0; i < span; i++) {
        const double a = fabs(x[i]);
        e->nan_count[i + 1] = e->nan_count[i] + (x[i] != x[i]);
        e->pos_inf_count[i + 1] = e->pos_inf_count[i] + (x[i] == INFINITY);
        e->neg_inf_count[i + 1] = e->neg_inf_count[i] + (x[i] == -INFINITY);
        e->huge_count[i + 1] = e->huge_count[i] + (a >= VERGE_PLAIN_MAX && a < INFINITY);
        e->tiny_count[i + 1] = e->tiny_count[i] + (a > 0 && a < VERGE_PLAIN_MIN);
        e->sized_count[i + 1] = e->sized_count[i] + (a >= VERGE_PLAIN_MIN && a < VERGE_PLAIN_MAX);
    }
    return true;
}

/* Returns the number of samples of window `first` counted in a prefix array. */
static inline int32_t window_count(const verge_engine *e, const int32_t *prefix, size_t first)
{
    return prefix[first + e->config.window] - prefix[first];
}

/*
 * Writes the moments of a finite window whose powers would leave the float64
 * range in the running sums: one with a sample of 2^200 or more, or one
 * with nothing but zeros and samples under 2^-200. The samples are scaled
 * by the power of two (exact) that brings the largest magnitude into
 * [1, 2). Two passes with pairwise sums about the sample nearest to the
 * mean give the central moments, and the results are scaled back. A result
 * is therefore +inf only where its true value is beyond float64 (var and
 * energy of a 1e200 spike), while std, rms, mean, skew and kurtosis of the
 * same window stay finite.
 */
static void exact_moments(verge_engine *e, const double *x, double *row)
{
    const size_t w = e->config.window;
    const double wd = (double)w;
    double *terms = e->terms;
    double ignored = 0;
    double top = 0;

    for (size_t i = 0; i < w; i++)
        top = fabs(x[i]) > top ? fabs(x[i]) : top;
    const int shift = verge_scale_shift(top);
    const double scale = ldexp(1.0, shift);

    for (size_t i = 0; i < w; i++)
        terms[i] = x[i] * scale;
    const double rough_mean = sum_pairwise(terms, w, &ignored) / wd;
    double anchor = terms[0];
    for (size_t i = 1; i < w; i++)
        if (fabs(terms[i] - rough_mean) < fabs(anchor - rough_mean))
            anchor = terms[i];

    for (size_t i = 0; i < w; i++)
        terms[i] = x[i] * scale - anchor;
    const double offset = sum_pairwise(terms, w, &ignored) / wd; /* mean - anchor */
    double moments[5] = {0, 0, 0, 0, 0};
    for (int p = 2; p <= 4; p++) {
        for (size_t i = 0; i < w; i++) {
            const double d = (x[i] * scale - anchor) - offset;
            const double square = d * d;
            if (p == 2)
                terms[i] = square;
            else if (p == 3)
                terms[i] = square * d;
            else
                terms[i] = square * square;
        }
        moments[p] = sum_pairwise(terms, w, &ignored) / wd;
    }
    for (size_t i = 0; i < w; i++)
        terms[i] = (x[i] * scale) * (x[i] * scale);
    const double sumsq = sum_pairwise(terms, w, &ignored);

    const double m2 = moments[2];
    size_t column = 0;
    for (size_t f = 0; f < e->config.feature_count; f++) {
        const verge_feature *feature = &e->config.features[f];
        double *out = &row[column];

        column += feature->kind == VERGE_FEATURE_BAND_ENERGY ? feature->bands : 1;
        switch (feature->kind) {
        case VERGE_FEATURE_MEAN:
            *out = ldexp(anchor + offset, -shift);
            break;
        case VERGE_FEATURE_VAR:
            *out = ldexp(m2, -2 * shift);
            break;
        case VERGE_FEATURE_STD:
            *out = ldexp(sqrt(m2), -shift);
            break;
        case VERGE_FEATURE_RMS:
            *out = ldexp(sqrt(sumsq / wd), -shift);
            break;
        case VERGE_FEATURE_ENERGY:
            *out = ldexp(wd * sumsq, -2 * shift);
            break;
        case VERGE_FEATURE_SKEW:
            *out = moments[3] / (m2 * sqrt(m2));
            break;
        case VERGE_FEATURE_KURTOSIS:
            *out = moments[4] / (m2 * m2) - 3.0;
            break;
        default:
            break; /* comparisons and the spectrum handle the range themselves */
        }
    }
}

/* Writes the band energies and the dominant frequency of the window at x into the row. */
static void spectrum_features(verge_engine *e, const double *x, double *row)
{
    const size_t w = e->config.window;
    const size_t half = w / 2;
    /* The bins are scaled by 2^exponent. Band sums are scaled back once, and comparisons need not. */
    const int exponent = verge_spectrum_power(e->spectrum, x, e->power);

    size_t column = 0;
    const size_t *edges = e->band_edges;
    for (size_t f = 0; f < e->config.feature_count; f++) {
        const verge_feature *feature = &e->config.features[f];

        if (feature->kind == VERGE_FEATURE_BAND_ENERGY) {
            for (uint32_t b = 0; b < feature->bands; b++) {
                double energy = 0;
                for (size_t k = edges[b]; k < edges[b + 1]; k++)
                    energy += e->power[k];
                row[column + b] = ldexp(energy, exponent);
            }
            edges += feature->bands + 1;
            column += feature->bands;
            continue;
        }
        if (feature->kind == VERGE_FEATURE_DOMINANT_FREQ) {
            size_t best = 0;
            double best_power = 0;
            for (size_t k = 1; k <= half; k++) {
                if (e->power[k] > best_power) {
                    best_power = e->power[k];
                    best = k;
                }
            }
            row[column] = (double)best * e->config.sample_rate / (double)w;
        }
        column++;
    }
}

/*
 * Overwrites the features of window j (row) that a NaN or infinity in the
 * window decides, following what the float64 formulas give.
 */
static void apply_nonfinite(const verge_engine *e, size_t first, double *row)
{
    const size_t w = e->config.window;
    const int32_t nans = e->nan_count[first + w] - e->nan_count[first];
    const int32_t pos = e->pos_inf_count[first + w] - e->pos_inf_count[first];
    const int32_t neg = e->neg_inf_count[first + w] - e->neg_inf_count[first];
    size_t column = 0;

    for (size_t f = 0; f < e->config.feature_count; f++) {
        const verge_feature *feature = &e->config.features[f];
        const size_t width = feature->kind == VERGE_FEATURE_BAND_ENERGY ? feature->bands : 1;

        for (size_t c = column; c < column + width; c++) {
            if (nans > 0) {
                row[c] = NAN;
                continue;
            }
            switch (feature->kind) {
            case VERGE_FEATURE_MEAN:
                row[c] = pos > 0 && neg > 0 ? NAN : pos > 0 ? INFINITY : -INFINITY;
                break;
            case VERGE_FEATURE_RMS:
            case VERGE_FEATURE_ENERGY:
                row[c] = INFINITY;
                break;
            case VERGE_FEATURE_MIN:
            case VERGE_FEATURE_MAX:
            case VERGE_FEATURE_P2P:
            case VERGE_FEATURE_ZERO_CROSSINGS:
                break; /* computed from comparisons, already right */
            case VERGE_FEATURE_STD:
            case VERGE_FEATURE_VAR:
            case VERGE_FEATURE_SKEW:
            case VERGE_FEATURE_KURTOSIS:
            case VERGE_FEATURE_BAND_ENERGY:
            case VERGE_FEATURE_DOMINANT_FREQ:
                row[c] = NAN;
                break;
            }
        }
        column += width;
    }
}

/*
 * Writes rows[j * columns + source_columns[i]] = sources[i][j] for m rows.
 * The common shapes (every column from a source, 1 to 4 columns) have
 * fixed-stride loops that the compiler turns into vector shuffles.
 */
VERGE_VECTOR_CLONES static void interleave_rows(double *restrict rows, size_t columns,
                                                const double *const *sources,
                                                const size_t *source_columns, size_t count,
                                                size_t m)
{
    const bool dense = count == columns;

    if (dense && columns == 1) {
        memcpy(rows, sources[0], m * sizeof(*rows));
    } else if (dense && columns == 2) {
        const double *restrict a = sources[0], *restrict b = sources[1];
        for (size_t j = 0; j < m; j++) {
            rows[2 * j] = a[j];
            rows[2 * j + 1] = b[j];
        }
    } else if (dense && columns == 3) {
        const double *restrict a = sources[0], *restrict b = sources[1], *restrict c = sources[2];
        for (size_t j = 0; j < m; j++) {
            rows[3 * j] = a[j];
            rows[3 * j + 1] = b[j];
            rows[3 * j + 2] = c[j];
        }
    } else if (dense && columns == 4) {
        const double *restrict a = sources[0], *restrict b = sources[1], *restrict c = sources[2],
                               *restrict d = sources[3];
        for (size_t j = 0; j < m; j++) {
            rows[4 * j] = a[j];
            rows[4 * j + 1] = b[j];
            rows[4 * j + 2] = c[j];
            rows[4 * j + 3] = d[j];
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            const double *restrict source = sources[i];
            double *restrict out = rows + source_columns[i];
            for (size_t j = 0; j < m; j++)
                out[j * columns] = source[j];
        }
    }
}

void verge_engine_run_block(verge_engine *e, const double *x, size_t behind, uint64_t first_end,
                            size_t m, double *rows)
{
    const size_t w = e->config.window;
    const size_t step = e->config.step;
    const size_t span = (m - 1) * step + w;
    const size_t columns = e->columns;
    const bool has_special = !e->known_plain && block_classify(e, x, span);

    /* Start loading the next block's samples, which in a batch call come from main memory. */
    if (e->prefetch_next)
        for (size_t i = 0; i < m * step; i += 8)
            __builtin_prefetch(x + span + i, 0, 0);

    if (e->need_moments) {
        const bool all_plain =
            e->known_plain || (!has_special && verge_all_plain(x - behind, behind));
        block_moments(e, x, first_end, m, all_plain);
    }
    if (e->need_minmax)
        block_minmax(e, x, span);
    if (e->need_zero_crossings) {
        e->crossings[0] = 0;
        e->crossings[1] = 0;
        for (size_t i = 1; i < span; i++)
            e->crossings[i + 1] = e->crossings[i] + ((x[i] < 0) != (x[i - 1] < 0));
    }

    /* Each plain feature gets a contiguous array for the block, then all are interleaved. */
    const double wd = (double)w;
    const double winv = 1.0 / wd;
    const double *sources[VERGE_FEATURES_MAX];
    size_t source_columns[VERGE_FEATURES_MAX];
    size_t source_count = 0;
    size_t column = 0;
    for (size_t f = 0; f < e->config.feature_count; f++) {
        const verge_feature *feature = &e->config.features[f];
        double *restrict buffer = e->column_buffers + f * e->max_windows;
        const double *source = buffer;

        switch (feature->kind) {
        case VERGE_FEATURE_MEAN:
            source = e->mean;
            break;
        case VERGE_FEATURE_STD:
            source = e->std;
            break;
        case VERGE_FEATURE_VAR:
            source = e->var;
            break;
        case VERGE_FEATURE_ENERGY:
            source = e->energy;
            break;
        case VERGE_FEATURE_SKEW:
            source = e->skew;
            break;
        case VERGE_FEATURE_KURTOSIS:
            source = e->kurtosis;
            break;
        case VERGE_FEATURE_RMS:
            for (size_t j = 0; j < m; j++)
                buffer[j] = sqrt(e->energy[j] * winv * winv);
            break;
        case VERGE_FEATURE_MIN:
            for (size_t j = 0; j < m; j++)
                buffer[j] = window_min(e, j * step);
            break;
        case VERGE_FEATURE_MAX:
            for (size_t j = 0; j < m; j++)
                buffer[j] = window_max(e, j * step);
            break;
        case VERGE_FEATURE_P2P:
            for (size_t j = 0; j < m; j++)
                buffer[j] = window_max(e, j * step) - window_min(e, j * step);
            break;
        case VERGE_FEATURE_ZERO_CROSSINGS:
            for (size_t j = 0; j < m; j++) {
                const size_t first = j * step;
                buffer[j] = (double)(e->crossings[first + w] - e->crossings[first + 1]);
            }
            break;
        case VERGE_FEATURE_BAND_ENERGY:
        case VERGE_FEATURE_DOMINANT_FREQ:
            source = NULL; /* below, one FFT per window for all spectrum features */
            break;
        }
        if (source != NULL) {
            sources[source_count] = source;
            source_columns[source_count] = column;
            source_count++;
        }
        column += feature->kind == VERGE_FEATURE_BAND_ENERGY ? feature->bands : 1;
    }
    interleave_rows(rows, columns, sources, source_columns, source_count, m);
    if (e->need_spectrum) {
        for (size_t j = 0; j < m; j++)
            spectrum_features(e, x + j * step, rows + j * columns);
    }

    if (has_special) {
        for (size_t j = 0; j < m; j++) {
            const size_t first = j * step;
            const int32_t nans = window_count(e, e->nan_count, first);
            const int32_t infs = window_count(e, e->pos_inf_count, first) +
                                 window_count(e, e->neg_inf_count, first);
            if (nans > 0 || infs > 0) {
                apply_nonfinite(e, first, rows + j * columns);
                if (nans > 0)
                    e->stats.nan_windows++;
                else
                    e->stats.inf_windows++;
                continue;
            }
            const bool huge = window_count(e, e->huge_count, first) > 0;
            const bool all_tiny = window_count(e, e->tiny_count, first) > 0 &&
                                  window_count(e, e->sized_count, first) == 0;
            if (e->need_moments && (huge || all_tiny))
                exact_moments(e, x + first, rows + j * columns);
        }
    }
    e->stats.windows += m;
}
