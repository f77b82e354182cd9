/*
 * The float64 FFT (mixed radix 2, 3, 4, 5 and Bluestein) and the power
 * spectrum of real windows, against a direct O(n^2) DFT in float64 with
 * compensated sums. Lengths: every one up to 130, and odd, prime,
 * power-of-two and mixed ones up to 6000. Values: ordinary, around 1e9 with
 * unit spread, near the float64 limits, and a 1e200 spike.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "reference.h"
#include "signal/internal.h"

static const size_t long_lengths[] = {
    131,  243,  250,  255,  256,  257,  360,  509,  512,  625,  1000, 1009,
    1021, 1024, 2018, 2048, 2187, 3125, 4093, 4096, 4099, 5000, 6000, 7 * 11 * 13,
};

/* Direct DFT of the complex x[0..n) into out, with Neumaier-compensated sums. */
static void direct_dft(const double *x, size_t n, double *out)
{
    double *c = malloc(n * sizeof(*c));
    double *s = malloc(n * sizeof(*s));

    for (size_t t = 0; t < n; t++) {
        const double angle = -6.283185307179586 * (double)t / (double)n;
        c[t] = cos(angle);
        s[t] = sin(angle);
    }
    for (size_t k = 0; k < n; k++) {
        double re = 0, re_c = 0, im = 0, im_c = 0;
        for (size_t j = 0; j < n; j++) {
            const size_t t = (size_t)(((uint64_t)j * k) % n);
            const double terms[2][2] = {{x[2 * j] * c[t], -x[2 * j + 1] * s[t]},
                                        {x[2 * j] * s[t], x[2 * j + 1] * c[t]}};
            for (int i = 0; i < 2; i++) {
                double *sum = i == 0 ? &re : &im;
                double *carry = i == 0 ? &re_c : &im_c;
                for (int h = 0; h < 2; h++) {
                    const double a = terms[i][h];
                    const double t2 = *sum + a;
                    *carry += fabs(*sum) >= fabs(a) ? (*sum - t2) + a : (a - t2) + *sum;
                    *sum = t2;
                }
            }
        }
        out[2 * k] = re + re_c;
        out[2 * k + 1] = im + im_c;
    }
    free(c);
    free(s);
}

/* Returns log2(n) + 1, the depth that FFT rounding errors grow with. */
static double depth(size_t n)
{
    return log2((double)n) + 1.0;
}

/* Runs the library's transform on interleaved (re, im) pairs, through its split layout. */
static void library_fft(verge_fft *fft, double *x, size_t n)
{
    double *re = malloc(n * sizeof(*re));
    double *im = malloc(n * sizeof(*im));
    for (size_t j = 0; j < n; j++) {
        re[j] = x[2 * j];
        im[j] = x[2 * j + 1];
    }
    verge_fft_forward(fft, re, im);
    for (size_t k = 0; k < n; k++) {
        x[2 * k] = re[k];
        x[2 * k + 1] = im[k];
    }
    free(re);
    free(im);
}

/* The complex FFT agrees with the DFT to within rounding of the whole vector's size. */
static void check_complex_length(size_t n, ref_random *rng)
{
    double *x = malloc(2 * n * sizeof(*x));
    double *want = malloc(2 * n * sizeof(*want));
    verge_fft *fft = NULL;
    double norm = 0;

    for (size_t i = 0; i < 2 * n; i++) {
        x[i] = ref_normal(rng);
        norm += x[i] * x[i];
    }
    direct_dft(x, n, want);
    CHECK_OK(verge_fft_create(n, &fft));
    if (fft == NULL)
        goto done;
    CHECK_EQ_INT(verge_fft_length(fft), n);
    library_fft(fft, x, n);
    /* Each |X_k| is about sqrt(n * norm), and both sides round to a few units of 2^-53 of it. */
    const double tolerance = 8 * REF_U * depth(n) * sqrt((double)n * norm);
    double worst = 0;
    for (size_t k = 0; k < n; k++) {
        const double err = hypot(x[2 * k] - want[2 * k], x[2 * k + 1] - want[2 * k + 1]);
        worst = err > worst ? err : worst;
    }
    CHECK_MSG(worst <= tolerance, "n = %zu: largest error %.3g, allowed %.3g", n, worst,
              tolerance);
    /* Far from the allowance too, so that a slightly wrong twiddle would show. */
    CHECK_MSG(worst <= 0.1 * tolerance || n < 8, "n = %zu: error %.3g is close to %.3g", n,
              worst, tolerance);
done:
    verge_fft_destroy(fft);
    free(x);
    free(want);
}

static void complex_transform(void)
{
    ref_random rng = {2718};
    for (size_t n = 1; n <= 130; n++)
        check_complex_length(n, &rng);
    for (size_t i = 0; i < sizeof(long_lengths) / sizeof(long_lengths[0]); i++)
        check_complex_length(long_lengths[i], &rng);
}

/* Known transforms: an impulse and one complex tone. */
static void exact_cases(void)
{
    static const size_t lengths[] = {1, 2, 3, 5, 7, 12, 64, 97, 100};
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        const size_t n = lengths[i];
        double *x = calloc(2 * n, sizeof(*x));
        verge_fft *fft = NULL;
        CHECK_OK(verge_fft_create(n, &fft));
        if (fft == NULL) {
            free(x);
            continue;
        }
        x[0] = 1.0; /* impulse: every bin is 1 */
        library_fft(fft, x, n);
        for (size_t k = 0; k < n; k++)
            CHECK_MSG(fabs(x[2 * k] - 1) < 1e-14 && fabs(x[2 * k + 1]) < 1e-14,
                      "impulse, n = %zu, bin %zu: %g%+gi", n, k, x[2 * k], x[2 * k + 1]);

        const size_t tone = n / 3;
        for (size_t j = 0; j < n; j++) /* exp(2 pi i tone j / n) lands in bin `tone` */
            verge_fft_root((uint64_t)(n - tone) * j, n, &x[2 * j], &x[2 * j + 1]);
        library_fft(fft, x, n);
        for (size_t k = 0; k < n; k++) {
            const double want = k == tone ? (double)n : 0.0;
            CHECK_MSG(fabs(x[2 * k] - want) < 1e-12 * (double)n && fabs(x[2 * k + 1]) < 1e-12 * n,
                      "tone %zu, n = %zu, bin %zu: %g%+gi", tone, n, k, x[2 * k], x[2 * k + 1]);
        }
        verge_fft_destroy(fft);
        free(x);
    }

    verge_fft *fft = NULL;
    CHECK_STATUS(verge_fft_create(0, &fft), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(fft == NULL);
    verge_fft_destroy(NULL);
}

/*
 * Checks the one-sided power of a real window against the DFT of the same
 * window, scaled by the same power of two and centred on its mean. A bin of
 * power P must be within 1e-9 P plus the rounding floor of a float64
 * transform, 2^-53 * depth * sqrt(P * E) with E the window's energy around
 * its mean. Returns the number of bins that differ.
 */
static int check_power(const double *x, size_t w, const char *label)
{
    verge_spectrum *spectrum = NULL;
    const size_t half = w / 2;
    double *power = malloc((half + 1) * sizeof(*power));
    double *z = malloc(2 * w * sizeof(*z));
    double *want = malloc(2 * w * sizeof(*want));
    int bad = 0;

    CHECK_OK(verge_spectrum_create(w, &spectrum));
    if (spectrum == NULL)
        goto done;
    const int exponent = verge_spectrum_power(spectrum, x, power);

    double top = 0;
    for (size_t i = 0; i < w; i++)
        top = fabs(x[i]) > top ? fabs(x[i]) : top;
    int shift = top > 0 ? -ilogb(top) : 0;
    if (shift < -1000)
        shift = -1000;
    if (shift > 1000)
        shift = 1000;
    double sum = 0;
    for (size_t i = 0; i < w; i++)
        sum += ldexp(x[i], shift);
    const double mean = sum / (double)w;
    double spread = 0, centred_sum = 0;
    for (size_t i = 0; i < w; i++) {
        z[2 * i] = ldexp(x[i], shift) - mean;
        z[2 * i + 1] = 0;
        spread += z[2 * i] * z[2 * i];
        centred_sum += z[2 * i];
    }
    direct_dft(z, w, want);
    const double energy = (double)w * spread; /* around the mean, in scaled units */

    for (size_t k = 0; k <= half; k++) {
        const double mirrors = (k == 0 || (w % 2 == 0 && k == half)) ? 1.0 : 2.0;
        double expected = mirrors * (want[2 * k] * want[2 * k] + want[2 * k + 1] * want[2 * k + 1]);
        if (k == 0) {
            const double x0 = (double)w * mean + centred_sum;
            expected = x0 * x0;
        }
        /* The library's bins in the reference's scale. */
        const double got = ldexp(power[k], exponent + 2 * shift);
        const double tolerance = 1e-9 * expected + 32 * REF_U * depth(w) * sqrt(expected * energy) +
                                 (64 * REF_U * depth(w)) * (64 * REF_U * depth(w)) * energy;
        if (!(fabs(got - expected) <= tolerance) && bad++ < 3)
            CHECK_MSG(0, "%s, w = %zu, bin %zu: %.17g, expected %.17g +- %.3g", label, w, k, got,
                      expected, tolerance);
    }
done:
    CHECK_MSG(bad == 0, "%s, w = %zu: %d bins differ", label, w, bad);
    verge_spectrum_destroy(spectrum);
    free(power);
    free(z);
    free(want);
    return bad;
}

static void real_windows(void)
{
    const size_t longest = 6000;
    double *x = malloc(longest * sizeof(*x));
    ref_random rng = {161803};

    for (int kind = 0; kind < 5; kind++) {
        static const char *const labels[] = {"tones and noise", "1e9 + N(0,1)", "values near 1e300",
                                             "values near 1e-300", "1e200 spike in unit noise"};
        for (size_t i = 0; i < longest; i++) {
            const double noise = ref_normal(&rng);
            const double tones = 3.0 + 2.0 * sin((double)i * 0.9) + 0.5 * cos((double)i * 2.2);
            switch (kind) {
            case 0:
                x[i] = tones + 0.1 * noise;
                break;
            case 1:
                x[i] = 1e9 + noise;
                break;
            case 2:
                x[i] = 1e300 * (tones + noise);
                break;
            case 3:
                x[i] = 1e-300 * (tones + noise);
                break;
            default:
                x[i] = i % 37 == 5 ? 1e200 : noise;
                break;
            }
        }
        for (size_t w = 1; w <= 130; w++)
            check_power(x, w, labels[kind]);
        for (size_t i = 0; i < sizeof(long_lengths) / sizeof(long_lengths[0]); i++)
            check_power(x, long_lengths[i], labels[kind]);
    }
    free(x);
}

/* Scaling keeps huge and tiny windows exact; a constant window has only bin 0. */
static void limits_and_constants(void)
{
    static const size_t lengths[] = {1, 2, 3, 10, 97, 256};
    double x[256], power[129];
    verge_spectrum *spectrum = NULL;

    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        const size_t w = lengths[i];
        CHECK_OK(verge_spectrum_create(w, &spectrum));
        if (spectrum == NULL)
            continue;

        for (size_t j = 0; j < w; j++)
            x[j] = 0.1;
        int exponent = verge_spectrum_power(spectrum, x, power);
        const double sum = ldexp(sqrt(power[0]), exponent / 2);
        CHECK_MSG(fabs(sum - 0.1 * (double)w) <= 4 * REF_U * 0.1 * (double)w,
                  "constant 0.1, w = %zu: bin 0 %.17g", w, sum);
        for (size_t k = 1; k <= w / 2; k++)
            CHECK_MSG(power[k] == 0.0, "constant 0.1, w = %zu: bin %zu = %g", w, k, power[k]);

        /* Every value DBL_MAX: the power overflows float64, the scaled bins do not. */
        for (size_t j = 0; j < w; j++)
            x[j] = DBL_MAX;
        exponent = verge_spectrum_power(spectrum, x, power);
        CHECK(isfinite(power[0]));
        CHECK(power[0] > 0);
        CHECK(isinf(ldexp(power[0], exponent)));

        /* The smallest subnormal in bin 0: (w * 2^-1074)^2 underflows, scaled it does not. */
        for (size_t j = 0; j < w; j++)
            x[j] = j == 0 ? 0x1p-1074 : 0.0;
        exponent = verge_spectrum_power(spectrum, x, power);
        for (size_t k = 0; k <= w / 2; k++) {
            const double want = (k == 0 || (w % 2 == 0 && k == w / 2)) ? 1.0 : 2.0;
            CHECK_MSG(fabs(ldexp(power[k], exponent + 2148) - want) < 1e-14,
                      "impulse 2^-1074, w = %zu, bin %zu: %.17g", w, k,
                      ldexp(power[k], exponent + 2148));
        }

        x[0] = INFINITY;
        verge_spectrum_power(spectrum, x, power);
        CHECK(isnan(power[0]));
        verge_spectrum_destroy(spectrum);
        spectrum = NULL;
    }
    CHECK_STATUS(verge_spectrum_create(0, &spectrum), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_spectrum_create(VERGE_WINDOW_MAX + 1, &spectrum),
                 VERGE_STATUS_INVALID_ARGUMENT);
}

int main(void)
{
    RUN(complex_transform);
    RUN(exact_cases);
    RUN(real_windows);
    RUN(limits_and_constants);
    return check_summary();
}
