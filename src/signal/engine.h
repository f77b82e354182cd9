/*
 * The window engine shared by the batch call and the stream (engine.c).
 * Internal to the signal module.
 *
 * The engine computes the features of blocks of up to max_windows
 * consecutive windows over a contiguous array of samples and keeps the
 * running sums from one block to the next.
 */
#ifndef VERGE_SIGNAL_ENGINE_H
#define VERGE_SIGNAL_ENGINE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "signal/internal.h"

enum {
    VERGE_BLOCK_WINDOWS = 1024, /* windows per block at step 1 */
    VERGE_BLOCK_SAMPLES = 1024, /* new samples per block: windows per block = this / step */
};

/* Running sums of (x - anchor)^p and bounds of their accumulated rounding error. */
typedef struct verge_moments {
    double anchor;
    double s[5]; /* s[p] for p = 1..4 */
    double e[5];
} verge_moments;

typedef struct verge_engine {
    verge_features_config config;
    size_t columns;
    size_t max_windows; /* windows per block */
    size_t max_span;    /* samples per block */

    /* What the feature list needs. */
    bool need_moments;
    bool need_order4;
    bool need_mean_check;
    bool need_var_check;
    bool need_sumsq_check;
    bool need_minmax;
    bool need_zero_crossings;
    bool need_spectrum;
    bool known_plain;   /* the caller checked that every sample is plain (verge_is_plain()) */
    bool prefetch_next; /* the samples after the block exist (batch calls) */

    /* Running state, valid for the window that ends at sample state_end. */
    bool have_state;
    uint64_t state_end;
    verge_moments state;

    double *terms; /* window samples for recomputation */

    /* Per-window arrays of one block. */
    double *anchor;
    double *deltas;      /* per-step changes of (S1, S2), two per window (step 1) */
    double *sum_pairs;   /* (S1, S2) of each window, two per window */
    double *bound_pairs; /* (E1, E2) of each window */
    double *sums[5];     /* S3 and S4 of each window, for skew and kurtosis */
    double *bounds[5];
    double *mean;
    double *var;
    double *std;
    double *energy; /* window * sum x^2 */
    double *column_buffers; /* feature_count arrays of max_windows values */
    double *rows;           /* max_windows rows of one block */
    double *skew;
    double *kurtosis;
    double *bad; /* 0 where every bound is within TOLERANCE; double so the check loop vectorizes */

    /* Per-sample arrays of one block. */
    double *prefix_min;
    double *suffix_min;
    double *prefix_max;
    double *suffix_max;
    int32_t *crossings; /* prefix counts, max_span + 1 entries */
    int32_t *nan_count; /* prefix counts over the block, max_span + 1 entries each */
    int32_t *pos_inf_count;
    int32_t *neg_inf_count;
    int32_t *huge_count;  /* finite, |x| >= VERGE_PLAIN_MAX */
    int32_t *tiny_count;  /* not zero, |x| < VERGE_PLAIN_MIN */
    int32_t *sized_count; /* VERGE_PLAIN_MIN <= |x| < VERGE_PLAIN_MAX */

    verge_spectrum *spectrum;
    double *power;
    size_t *band_edges; /* per band_energy feature: bands + 1 bin edges */

    verge_features_stats stats;
} verge_engine;


/* Prepares an engine for a checked configuration; frees everything on failure. */
verge_status verge_engine_init(verge_engine *e, const verge_features_config *config);

void verge_engine_free(verge_engine *e);

/*
 * Computes m windows (m <= max_windows) into rows (row-major). x is the
 * block's sample array: window j covers x[j*step .. j*step + window - 1];
 * when the running sums continue from the previous block, the `behind`
 * samples x[-behind .. -1] are valid too (behind = step when windows
 * overlap). first_end is the global sample index of window 0's last sample.
 */
void verge_engine_run_block(verge_engine *e, const double *x, size_t behind, uint64_t first_end,
                            size_t m, double *rows);

/*
 * Samples whose powers up to the fourth stay well inside the float64 range
 * are "plain": zero, or 2^-200 <= |x| < 2^200. The running sums take plain
 * samples only. A window with a sample of 2^200 or more, or with nothing
 * but zeros and samples under 2^-200, has its moments computed from its
 * samples scaled by a power of two (engine.c, exact_moments()).
 */
#define VERGE_PLAIN_MIN 0x1p-200
#define VERGE_PLAIN_MAX 0x1p200

static inline bool verge_is_plain(double x)
{
    return x == 0 || (fabs(x) >= VERGE_PLAIN_MIN && fabs(x) < VERGE_PLAIN_MAX);
}

/* Returns whether x[0..count) are all plain (so also neither NaN nor infinite). */
bool verge_all_plain(const double *x, size_t count);

#endif
