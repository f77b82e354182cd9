/*
 * Internal parts of the signal module, shared by its source files and its
 * unit tests. Not part of the public API.
 */
#ifndef VERGE_SIGNAL_INTERNAL_H
#define VERGE_SIGNAL_INTERNAL_H

#include <math.h>
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

/* ------------------------------------------------------------------- FFT */

/*
 * Complex float64 FFT of a fixed length n (1 to 2^32), any n: lengths with
 * prime factors 2, 3 and 5 only run in mixed radix, others through
 * Bluestein's chirp-z method. Twiddle factors are computed when the plan is
 * made; a transform allocates nothing. A plan contains scratch memory, so one
 * plan serves one thread at a time.
 */
typedef struct verge_fft verge_fft;

/* VERGE_STATUS_INVALID_ARGUMENT for n out of range, VERGE_STATUS_OUT_OF_MEMORY. */
verge_status verge_fft_create(size_t n, verge_fft **fft);
void verge_fft_destroy(verge_fft *fft);
size_t verge_fft_length(const verge_fft *fft);

/*
 * In place: x_j = re[j] + i im[j] (j < n) become
 * X_k = sum_j x_j exp(-2 pi i j k / n). Rounding error: about
 * 2^-53 * log2(n) * sqrt(n * sum |x_j|^2) in each X_k.
 */
void verge_fft_forward(verge_fft *fft, double *re, double *im);

/* Sets (*re, *im) = exp(-2 pi i t / n), for n <= 2^32, to within about 1e-16. */
void verge_fft_root(uint64_t t, uint64_t n, double *re, double *im);

/*
 * Returns the exponent s for which 2^s * largest lies in [1, 2), limited to
 * -1000 .. 1000 so that 2^s is itself a normal number (0 when largest is
 * 0). Scaling by 2^s is exact, so it lets squares of values near the float64
 * limits be computed without overflow or underflow.
 */
static inline int verge_scale_shift(double largest)
{
    if (largest == 0)
        return 0;
    const int shift = -ilogb(largest);
    if (shift < -1000)
        return -1000;
    if (shift > 1000)
        return 1000;
    return shift;
}

/* -------------------------------------------------------------- spectrum */

typedef struct verge_spectrum verge_spectrum;

/* Prepares the power spectrum of windows of `window` samples (1 to VERGE_WINDOW_MAX). */
verge_status verge_spectrum_create(size_t window, verge_spectrum **spectrum);
void verge_spectrum_destroy(verge_spectrum *spectrum);

/*
 * Computes the one-sided power of x[0..window) into power[0..window/2],
 * scaled by a power of two: the returned exponent e gives the power of bin
 * k as power[k] * 2^e, i.e. |X_k|^2, doubled for bins with a mirror bin so
 * that the bins add up to window * sum(x^2). The scaling keeps values near
 * the float64 limits exact (see spectrum.c). A window with an infinity gives
 * NaN bins; one with a NaN gives NaN bins as well.
 */
int verge_spectrum_power(verge_spectrum *spectrum, const double *x, double *power);

#endif
