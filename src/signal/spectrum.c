/*
 * One-sided power spectrum of a real window, in float64 (fft.c).
 *
 * The window is first scaled by the power of two that brings its largest
 * magnitude into [1, 2). The scaling is exact and keeps squares of values
 * near the float64 limits from overflowing or underflowing. The scaled
 * window is then centred on the sample nearest to its mean, so the
 * transform carries only the variation around the level (a constant window
 * gives exact zeros). Bin 0 is put back as window * centre + the
 * transform's own bin 0.
 *
 * Even windows (w = 2h) use a complex transform of length h over the pairs
 * z_j = x_2j + i x_2j+1. With Z = FFT(z), E_k = (Z_k + conj Z_h-k) / 2 and
 * O_k = (Z_k - conj Z_h-k) / 2i are the transforms of the even and odd
 * samples, and X_k = E_k + exp(-2 pi i k / w) O_k for k = 0..h. Odd windows
 * use a complex transform of length w.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "signal/engine.h"
#include "signal/internal.h"

struct verge_spectrum {
    size_t window;
    verge_fft *fft; /* length window / 2 (even windows) or window (odd) */
    double *data;   /* the transform's real parts, then its imaginary parts */
    double *post;   /* even windows: exp(-2 pi i k / window), k = 0..window/2, split */
};

verge_status verge_spectrum_create(size_t window, verge_spectrum **out)
{
    verge_spectrum *s;
    verge_status status;

    *out = NULL;
    if (window < 1 || window > VERGE_WINDOW_MAX)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "FFT of %zu points: expected 1 to %zu",
                          window, (size_t)VERGE_WINDOW_MAX);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "FFT of %zu points: out of memory", window);
    s->window = window;

    const bool even = window % 2 == 0;
    const size_t length = even ? window / 2 : window;
    status = verge_fft_create(length, &s->fft);
    if (status != VERGE_OK)
        goto fail;
    s->data = malloc(length * 2 * sizeof(double));
    if (even)
        s->post = malloc((window / 2 + 1) * 2 * sizeof(double));
    if (s->data == NULL || (even && s->post == NULL)) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "FFT of %zu points: out of memory", window);
        goto fail;
    }
    if (even) {
        const size_t bins = window / 2 + 1;
        for (size_t k = 0; k < bins; k++)
            verge_fft_root(k, window, &s->post[k], &s->post[bins + k]);
    }
    *out = s;
    return VERGE_OK;

fail:
    verge_spectrum_destroy(s);
    return status;
}

void verge_spectrum_destroy(verge_spectrum *s)
{
    if (s == NULL)
        return;
    verge_fft_destroy(s->fft);
    free(s->data);
    free(s->post);
    free(s);
}

/* Returns the largest |x[i]| (NaN does not count). Four lanes, so that it vectorizes. */
VERGE_VECTOR_CLONES static double largest_magnitude(const double *restrict x, size_t count)
{
    double top[4] = {0, 0, 0, 0};
    size_t i = 0;

    for (; i + 4 <= count; i += 4)
        for (int lane = 0; lane < 4; lane++) {
            const double a = fabs(x[i + lane]);
            top[lane] = a > top[lane] ? a : top[lane];
        }
    for (; i < count; i++) {
        const double a = fabs(x[i]);
        top[0] = a > top[0] ? a : top[0];
    }
    const double ab = top[0] > top[1] ? top[0] : top[1];
    const double cd = top[2] > top[3] ? top[2] : top[3];
    return ab > cd ? ab : cd;
}

/*
 * Returns a scaled sample scale * x[i] nearest to the mean of the scaled
 * samples. Any sample would centre a constant window exactly. The nearest
 * one is also within a standard deviation of the mean, so the rounding of
 * the transform stays at the size of the variation around the mean.
 */
VERGE_VECTOR_CLONES static double scaled_centre(const double *restrict x, size_t count,
                                                double scale)
{
    double sum[4] = {0, 0, 0, 0};
    size_t i = 0;

    for (; i + 4 <= count; i += 4)
        for (int lane = 0; lane < 4; lane++)
            sum[lane] += x[i + lane] * scale;
    for (; i < count; i++)
        sum[0] += x[i] * scale;
    const double mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / (double)count;

    /* Per lane the nearest so far, chosen with selects rather than branches. */
    double best[4], distance[4];
    for (int lane = 0; lane < 4; lane++) {
        best[lane] = x[0] * scale;
        distance[lane] = fabs(best[lane] - mean);
    }
    for (i = 0; i + 4 <= count; i += 4)
        for (int lane = 0; lane < 4; lane++) {
            const double y = x[i + lane] * scale;
            const double d = fabs(y - mean);
            const bool nearer = d < distance[lane];
            best[lane] = nearer ? y : best[lane];
            distance[lane] = nearer ? d : distance[lane];
        }
    for (; i < count; i++) {
        const double y = x[i] * scale;
        if (fabs(y - mean) < distance[0]) {
            distance[0] = fabs(y - mean);
            best[0] = y;
        }
    }
    int nearest = 0;
    for (int lane = 1; lane < 4; lane++)
        nearest = distance[lane] < distance[nearest] ? lane : nearest;
    return best[nearest];
}

/* z_j = (x_2j, x_2j+1) * scale - centre (1 + i), split into re and im. */
VERGE_VECTOR_CLONES static void pack_pairs(const double *restrict x, size_t half, double scale,
                                           double centre, double *restrict re,
                                           double *restrict im)
{
    for (size_t j = 0; j < half; j++) {
        re[j] = x[2 * j] * scale - centre;
        im[j] = x[2 * j + 1] * scale - centre;
    }
}

/*
 * Power of bins 1 .. half - 1 of an even window from Z, the transform of
 * the packed pairs: X_k = E_k + exp(-2 pi i k / w) O_k with
 * E_k = (Z_k + conj Z_h-k) / 2 and O_k = (Z_k - conj Z_h-k) / 2i.
 */
VERGE_VECTOR_CLONES static void unpack_power(const double *restrict re, const double *restrict im,
                                             const double *restrict post_re,
                                             const double *restrict post_im, size_t half,
                                             double *restrict power)
{
    for (size_t k = 1; k < half; k++) {
        const size_t mirror = half - k;
        const double zr = re[k], zi = im[k];
        const double cr = re[mirror], ci = -im[mirror]; /* conj Z_h-k */
        const double er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci);
        const double orr = 0.5 * (zi - ci), oi = -0.5 * (zr - cr);
        const double wr = post_re[k], wi = post_im[k];
        const double xr = er + (orr * wr - oi * wi);
        const double xi = ei + (orr * wi + oi * wr);
        power[k] = 2.0 * (xr * xr + xi * xi);
    }
}

int verge_spectrum_power(verge_spectrum *s, const double *x, double *power)
{
    const size_t w = s->window;
    const size_t half = w / 2;
    const double top = largest_magnitude(x, w);

    if (!(top <= DBL_MAX)) {
        /* An infinity: the spectrum is not defined. */
        for (size_t k = 0; k <= half; k++)
            power[k] = NAN;
        return 0;
    }
    const int shift = verge_scale_shift(top);
    const double scale = ldexp(1.0, shift);
    const double centre = scaled_centre(x, w, scale);
    double bin0;

    if (w % 2 == 0) {
        double *re = s->data, *im = s->data + half;
        pack_pairs(x, half, scale, centre, re, im);
        verge_fft_forward(s->fft, re, im);
        bin0 = re[0] + im[0];
        power[half] = (re[0] - im[0]) * (re[0] - im[0]);
        unpack_power(re, im, s->post, s->post + half + 1, half, power);
    } else {
        double *re = s->data, *im = s->data + w;
        for (size_t i = 0; i < w; i++) {
            re[i] = x[i] * scale - centre;
            im[i] = 0.0;
        }
        verge_fft_forward(s->fft, re, im);
        bin0 = re[0];
        for (size_t k = 1; k <= half; k++)
            power[k] = 2.0 * (re[k] * re[k] + im[k] * im[k]);
    }
    /* X_0 = sum x = w * centre + sum (x - centre). */
    const double sum = (double)w * centre + bin0;
    power[0] = sum * sum;
    return -2 * shift;
}
