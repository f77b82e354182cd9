/*
 * Internal parts of the signal module, shared by its source files and its
 * unit tests. Not part of the public API.
 */
#ifndef VERGE_SIGNAL_INTERNAL_H
#define VERGE_SIGNAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verge/signal.h"

/* ------------------------------------------------------------ imputation */

/* Receives filled samples in order; a status other than VERGE_OK stops the imputer. */
typedef verge_status (*verge_imputer_output)(void *user, const double *samples, size_t count);

/*
 * Streaming imputation. Missing samples whose value is not known yet (a
 * leading gap, or any gap for bfill and linear) are kept as a count, so the
 * state is O(1), plus k samples for the running median.
 */
typedef struct verge_imputer {
    verge_fill fill; /* never VERGE_FILL_MEDIAN or VERGE_FILL_MEAN: those arrive as constants */
    uint64_t pending;
    double last; /* last non-NaN sample, when have_last */
    bool have_last;
    double *recent; /* running median: ring of the last fill.k non-NaN samples */
    double *scratch;
    size_t recent_count;
    size_t recent_next;
    bool gap_value_known; /* running median: gap_value holds the median for the current gap */
    double gap_value;
    uint64_t filled;
    verge_imputer_output output;
    void *user;
} verge_imputer;

verge_status verge_imputer_init(verge_imputer *imputer, const verge_fill *fill,
                                verge_imputer_output output, void *user);
verge_status verge_imputer_push(verge_imputer *imputer, const double *samples, size_t count);
/* Fills a trailing gap; VERGE_STATUS_INVALID_DATA when the series had no non-NaN sample to fill from. */
verge_status verge_imputer_finish(verge_imputer *imputer);
void verge_imputer_free(verge_imputer *imputer);

/*
 * Returns the k-th smallest (0-based) of values[0..count), reordering
 * `values`. The values must not be NaN.
 */
double verge_select_kth(double *values, size_t count, size_t k);

/* -------------------------------------------------------------- spectrum */

typedef struct verge_spectrum verge_spectrum;

/* Prepares a real FFT of `window` points (any window >= 1). */
verge_status verge_spectrum_create(size_t window, verge_spectrum **spectrum);
void verge_spectrum_destroy(verge_spectrum *spectrum);

/*
 * Computes the one-sided power of x[0..window) into power[0..window/2]: bin 0
 * is (sum x)^2 computed in float64 from `mean`, the others |X_k|^2 from a
 * float32 FFT of x - mean, doubled for bins with a mirror bin, so that the
 * bins add up to window * sum(x^2).
 */
void verge_spectrum_power(verge_spectrum *spectrum, const double *x, double mean, double *power);

#endif
