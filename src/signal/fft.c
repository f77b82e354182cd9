/*
 * Complex float64 FFT of any length, for the spectrum features.
 *
 * Complex values are kept split: real parts in one array, imaginary parts in
 * another, so that the loops below vectorize without shuffles.
 *
 * Lengths whose prime factors are 2, 3 and 5 run as a Stockham autosort
 * transform: one pass per radix-4, -2, -3 or -5 stage, ping-ponging between
 * the data and a scratch array, so the result lands in natural order
 * without a bit-reversal pass. A stage of radix p over the current length L
 * (L = n at the first stage, divided by p after each one) reads
 * src[q + S (q1 + j L/p)] for j = 0..p-1, where S is the product of the
 * radices before it, and writes
 *     dst[q + S (p q1 + k)] = exp(-2 pi i q1 k / L) * sum_j src[..j] w_p^(jk)
 * for q < S, q1 < L/p and k < p. The loop over q runs over consecutive
 * elements and is the one that vectorizes; the first stage (S = 1) runs
 * over q1 instead.
 *
 * Other lengths n use Bluestein's chirp-z identity
 * jk = (j^2 + k^2 - (k - j)^2) / 2, which turns the transform into a
 * circular convolution with the chirp c_t = exp(i pi t^2 / n), done with
 * 2, 3, 5 transforms of the smallest such length M >= 2n - 1.
 *
 * Every twiddle factor and the transformed chirp are computed once, when the
 * plan is made; a transform only reads them and allocates nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "signal/engine.h"
#include "signal/internal.h"

enum { STAGES_MAX = 64 };

struct verge_fft {
    size_t n;
    int stage_count;
    unsigned radix[STAGES_MAX];
    /*
     * Per stage of radix p over length L, with m = L / p: (p - 1) * m real
     * parts, then as many imaginary parts, of exp(-2 pi i q1 k / L) at
     * index (k - 1) * m + q1.
     */
    double *twiddles;
    double *scratch; /* 2n: real parts, then imaginary parts */

    /* Bluestein only (inner != NULL). */
    verge_fft *inner; /* plan of the convolution length M */
    double *chirp;    /* 2n: exp(i pi j^2 / n), real parts then imaginary parts */
    double *kernel;   /* 2M: the transformed chirp sequence divided by M, split the same way */
    double *padded;   /* 2M */
};

/* Reduces the angle to |a| <= pi/4 first, so that cos and sin see a small argument. */
void verge_fft_root(uint64_t t, uint64_t n, double *re, double *im)
{
    t %= n;
    /* t / n = quarter / 4 + r with |r| <= 1/8; the numerator 4t - quarter n is exact. */
    const uint64_t quarter = (8 * t + n) / (2 * n); /* round(4t / n), 0 to 4 */
    const double r = (double)((int64_t)(4 * t) - (int64_t)(quarter * n)) / (double)(4 * n);
    const double a = 6.283185307179586476925 * r;
    const double c = cos(a);
    const double s = sin(a);

    /* exp(-2 pi i t / n) = (-i)^quarter * (c - i s). */
    switch (quarter & 3) {
    case 0:
        *re = c, *im = -s;
        break;
    case 1:
        *re = -s, *im = -c;
        break;
    case 2:
        *re = -c, *im = s;
        break;
    default:
        *re = s, *im = c;
        break;
    }
}

/* Returns whether n > 0 has no prime factor above 5. */
static bool is_smooth(size_t n)
{
    static const size_t primes[] = {2, 3, 5};
    for (size_t i = 0; i < VERGE_ARRAY_SIZE(primes); i++)
        while (n % primes[i] == 0)
            n /= primes[i];
    return n == 1;
}

/* Returns the smallest 2^a 3^b 5^c >= target (target <= 2^60). */
static size_t smooth_at_least(size_t target)
{
    size_t best = SIZE_MAX;
    for (size_t f5 = 1;; f5 *= 5) {
        for (size_t f3 = f5;; f3 *= 3) {
            size_t f = f3;
            while (f < target)
                f *= 2;
            if (f < best)
                best = f;
            if (f3 >= target)
                break;
        }
        if (f5 >= target)
            break;
    }
    return best;
}

void verge_fft_destroy(verge_fft *fft)
{
    if (fft == NULL)
        return;
    free(fft->twiddles);
    free(fft->scratch);
    verge_fft_destroy(fft->inner);
    free(fft->chirp);
    free(fft->kernel);
    free(fft->padded);
    free(fft);
}

/* Allocates count complex values (2 * count doubles); NULL on overflow or out of memory. */
static double *complex_array(size_t count)
{
    size_t bytes;
    if (!verge_size_mul(count, 2 * sizeof(double), &bytes))
        return NULL;
    return malloc(bytes > 0 ? bytes : 1);
}

/* Prepares the stages of a 2, 3, 5 length. */
static bool plan_stages(verge_fft *fft)
{
    size_t rest = fft->n;
    size_t total = 0;

    /* Radix 4 first, then 2, 3 and 5; the order does not change the result. */
    while (rest > 1) {
        unsigned p = 5;

        if (rest % 4 == 0)
            p = 4;
        else if (rest % 2 == 0)
            p = 2;
        else if (rest % 3 == 0)
            p = 3;
        fft->radix[fft->stage_count++] = p;
        rest /= p;
    }
    size_t length = fft->n;
    for (int s = 0; s < fft->stage_count; s++) {
        const unsigned p = fft->radix[s];
        total += (length / p) * (p - 1);
        length /= p;
    }
    fft->twiddles = complex_array(total);
    fft->scratch = complex_array(fft->n);
    if (fft->twiddles == NULL || fft->scratch == NULL)
        return false;

    double *tw = fft->twiddles;
    length = fft->n;
    for (int s = 0; s < fft->stage_count; s++) {
        const unsigned p = fft->radix[s];
        const size_t m = length / p;
        const size_t count = m * (p - 1);
        for (unsigned k = 1; k < p; k++)
            for (size_t q1 = 0; q1 < m; q1++)
                verge_fft_root((uint64_t)q1 * k, length, &tw[(k - 1) * m + q1],
                               &tw[count + (k - 1) * m + q1]);
        tw += 2 * count;
        length = m;
    }
    return true;
}

/* Prepares a Bluestein plan for a length with a prime factor above 5. */
static verge_status plan_bluestein(verge_fft *fft)
{
    const size_t n = fft->n;
    const size_t big = smooth_at_least(2 * n - 1);
    verge_status status = verge_fft_create(big, &fft->inner);

    if (status != VERGE_OK)
        return status;
    fft->chirp = complex_array(n);
    fft->kernel = complex_array(big);
    fft->padded = complex_array(big);
    if (fft->chirp == NULL || fft->kernel == NULL || fft->padded == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "FFT of %zu points: out of memory for "
                          "the chirp of %zu points", n, big);

    /* c_j = exp(i pi j^2 / n) = exp(-2 pi i (2n - j^2 mod 2n) / 2n). */
    double *c_re = fft->chirp, *c_im = fft->chirp + n;
    const uint64_t period = 2 * (uint64_t)n;
    for (size_t j = 0; j < n; j++) {
        const uint64_t square = ((uint64_t)j * j) % period;
        verge_fft_root((period - square) % period, period, &c_re[j], &c_im[j]);
    }

    /* Kernel b_t = c_t for |t| < n, wrapped around the length M, transformed, divided by M. */
    double *b_re = fft->kernel, *b_im = fft->kernel + big;
    memset(fft->kernel, 0, big * 2 * sizeof(double));
    for (size_t t = 0; t < n; t++) {
        b_re[t] = c_re[t];
        b_im[t] = c_im[t];
        if (t > 0) {
            b_re[big - t] = c_re[t];
            b_im[big - t] = c_im[t];
        }
    }
    verge_fft_forward(fft->inner, b_re, b_im);
    const double scale = 1.0 / (double)big;
    for (size_t i = 0; i < 2 * big; i++)
        fft->kernel[i] *= scale;
    return VERGE_OK;
}

verge_status verge_fft_create(size_t n, verge_fft **out)
{
    verge_fft *fft;
    verge_status status = VERGE_OK;

    *out = NULL;
    /* Indices stay below 2^32, so that j^2 and 8 t fit in 64 bits. */
    if (n < 1 || (uint64_t)n > ((uint64_t)1 << 32))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "FFT of %zu points: expected 1 to 2^32",
                          n);
    fft = calloc(1, sizeof(*fft));
    if (fft == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "FFT of %zu points: out of memory", n);
    fft->n = n;
    if (is_smooth(n)) {
        if (!plan_stages(fft))
            status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                                "FFT of %zu points: out of memory for twiddle factors", n);
    } else {
        status = plan_bluestein(fft);
    }
    if (status != VERGE_OK) {
        verge_fft_destroy(fft);
        return status;
    }
    *out = fft;
    return VERGE_OK;
}

/*
 * The butterflies. Each macro computes the p outputs b0..b(p-1) of one
 * butterfly from inputs a0..a(p-1) (real and imaginary parts in
 * a<j>r, a<j>i), before the twiddle factors.
 */
#define TWIDDLE(br, bi, wr, wi, out_r, out_i)                                                       \
    do {                                                                                            \
        out_r = (br) * (wr) - (bi) * (wi);                                                          \
        out_i = (br) * (wi) + (bi) * (wr);                                                          \
    } while (0)

/*
 * One stage: the body (the macro's argument) reads the inputs of butterfly (q1, q) from src at
 * q + s (q1 + j m) and writes its outputs to dst at q + s (p q1 + k).
 * With s = 1 the loop over q1 is the inner one (it is the only one).
 */
#define STAGE_LOOPS(...)                                                                            \
    do {                                                                                            \
        if (s == 1) {                                                                               \
            const size_t q = 0;                                                                     \
            for (size_t q1 = 0; q1 < m; q1++) {                                                     \
                __VA_ARGS__                                                                         \
            }                                                                                       \
        } else {                                                                                    \
            for (size_t q1 = 0; q1 < m; q1++) {                                                     \
                for (size_t q = 0; q < s; q++) {                                                    \
                    __VA_ARGS__                                                                     \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    } while (0)

VERGE_VECTOR_CLONES static void stage2(size_t s, size_t m, const double *restrict tw_re,
                                       const double *restrict tw_im, const double *restrict src_re,
                                       const double *restrict src_im, double *restrict dst_re,
                                       double *restrict dst_im)
{
    STAGE_LOOPS({
        const size_t in = q + s * q1, out = q + s * 2 * q1;
        const double a0r = src_re[in], a0i = src_im[in];
        const double a1r = src_re[in + s * m], a1i = src_im[in + s * m];
        dst_re[out] = a0r + a1r;
        dst_im[out] = a0i + a1i;
        TWIDDLE(a0r - a1r, a0i - a1i, tw_re[q1], tw_im[q1], dst_re[out + s], dst_im[out + s]);
    });
}

VERGE_VECTOR_CLONES static void stage3(size_t s, size_t m, const double *restrict tw_re,
                                       const double *restrict tw_im, const double *restrict src_re,
                                       const double *restrict src_im, double *restrict dst_re,
                                       double *restrict dst_im)
{
    const double h = 0.86602540378443864676; /* sin(2 pi / 3) */
    STAGE_LOOPS({
        const size_t in = q + s * q1, out = q + s * 3 * q1, sm = s * m;
        const double a0r = src_re[in], a0i = src_im[in];
        const double a1r = src_re[in + sm], a1i = src_im[in + sm];
        const double a2r = src_re[in + 2 * sm], a2i = src_im[in + 2 * sm];
        const double tr = a1r + a2r, ti = a1i + a2i;
        const double dr = a1r - a2r, di = a1i - a2i;
        const double cr = a0r - 0.5 * tr, ci = a0i - 0.5 * ti;
        /* b1 = c - i h d, b2 = c + i h d */
        dst_re[out] = a0r + tr;
        dst_im[out] = a0i + ti;
        TWIDDLE(cr + h * di, ci - h * dr, tw_re[q1], tw_im[q1], dst_re[out + s], dst_im[out + s]);
        TWIDDLE(cr - h * di, ci + h * dr, tw_re[m + q1], tw_im[m + q1], dst_re[out + 2 * s],
                dst_im[out + 2 * s]);
    });
}

VERGE_VECTOR_CLONES static void stage4(size_t s, size_t m, const double *restrict tw_re,
                                       const double *restrict tw_im, const double *restrict src_re,
                                       const double *restrict src_im, double *restrict dst_re,
                                       double *restrict dst_im)
{
    STAGE_LOOPS({
        const size_t in = q + s * q1, out = q + s * 4 * q1, sm = s * m;
        const double a0r = src_re[in], a0i = src_im[in];
        const double a1r = src_re[in + sm], a1i = src_im[in + sm];
        const double a2r = src_re[in + 2 * sm], a2i = src_im[in + 2 * sm];
        const double a3r = src_re[in + 3 * sm], a3i = src_im[in + 3 * sm];
        const double t0r = a0r + a2r, t0i = a0i + a2i;
        const double t1r = a0r - a2r, t1i = a0i - a2i;
        const double t2r = a1r + a3r, t2i = a1i + a3i;
        const double t3r = a1r - a3r, t3i = a1i - a3i;
        /* b1 = t1 - i t3, b2 = t0 - t2, b3 = t1 + i t3 */
        dst_re[out] = t0r + t2r;
        dst_im[out] = t0i + t2i;
        TWIDDLE(t1r + t3i, t1i - t3r, tw_re[q1], tw_im[q1], dst_re[out + s], dst_im[out + s]);
        TWIDDLE(t0r - t2r, t0i - t2i, tw_re[m + q1], tw_im[m + q1], dst_re[out + 2 * s],
                dst_im[out + 2 * s]);
        TWIDDLE(t1r - t3i, t1i + t3r, tw_re[2 * m + q1], tw_im[2 * m + q1], dst_re[out + 3 * s],
                dst_im[out + 3 * s]);
    });
}

VERGE_VECTOR_CLONES static void stage5(size_t s, size_t m, const double *restrict tw_re,
                                       const double *restrict tw_im, const double *restrict src_re,
                                       const double *restrict src_im, double *restrict dst_re,
                                       double *restrict dst_im)
{
    const double c1 = 0.30901699437494742410;  /* cos(2 pi / 5) */
    const double c2 = -0.80901699437494742410; /* cos(4 pi / 5) */
    const double s1 = 0.95105651629515357212;  /* sin(2 pi / 5) */
    const double s2 = 0.58778525229247312917;  /* sin(4 pi / 5) */
    STAGE_LOOPS({
        const size_t in = q + s * q1, out = q + s * 5 * q1, sm = s * m;
        const double a0r = src_re[in], a0i = src_im[in];
        const double a1r = src_re[in + sm], a1i = src_im[in + sm];
        const double a2r = src_re[in + 2 * sm], a2i = src_im[in + 2 * sm];
        const double a3r = src_re[in + 3 * sm], a3i = src_im[in + 3 * sm];
        const double a4r = src_re[in + 4 * sm], a4i = src_im[in + 4 * sm];
        const double t1r = a1r + a4r, t1i = a1i + a4i;
        const double t2r = a2r + a3r, t2i = a2i + a3i;
        const double d1r = a1r - a4r, d1i = a1i - a4i;
        const double d2r = a2r - a3r, d2i = a2i - a3i;
        const double e1r = a0r + c1 * t1r + c2 * t2r, e1i = a0i + c1 * t1i + c2 * t2i;
        const double e2r = a0r + c2 * t1r + c1 * t2r, e2i = a0i + c2 * t1i + c1 * t2i;
        /* f1 = s1 d1 + s2 d2 and f2 = s2 d1 - s1 d2, to be multiplied by -i or +i. */
        const double f1r = s1 * d1r + s2 * d2r, f1i = s1 * d1i + s2 * d2i;
        const double f2r = s2 * d1r - s1 * d2r, f2i = s2 * d1i - s1 * d2i;
        dst_re[out] = a0r + t1r + t2r;
        dst_im[out] = a0i + t1i + t2i;
        /* b1 = e1 - i f1, b2 = e2 - i f2, b3 = e2 + i f2, b4 = e1 + i f1 */
        TWIDDLE(e1r + f1i, e1i - f1r, tw_re[q1], tw_im[q1], dst_re[out + s], dst_im[out + s]);
        TWIDDLE(e2r + f2i, e2i - f2r, tw_re[m + q1], tw_im[m + q1], dst_re[out + 2 * s],
                dst_im[out + 2 * s]);
        TWIDDLE(e2r - f2i, e2i + f2r, tw_re[2 * m + q1], tw_im[2 * m + q1], dst_re[out + 3 * s],
                dst_im[out + 3 * s]);
        TWIDDLE(e1r - f1i, e1i + f1r, tw_re[3 * m + q1], tw_im[3 * m + q1], dst_re[out + 4 * s],
                dst_im[out + 4 * s]);
    });
}

#undef STAGE_LOOPS
#undef TWIDDLE

static void forward_stages(verge_fft *fft, double *re, double *im)
{
    const size_t n = fft->n;
    double *src_re = re, *src_im = im;
    double *dst_re = fft->scratch, *dst_im = fft->scratch + n;
    const double *tw = fft->twiddles;
    size_t s = 1;
    size_t length = n;

    for (int stage = 0; stage < fft->stage_count; stage++) {
        const unsigned p = fft->radix[stage];
        const size_t m = length / p;
        const size_t count = m * (p - 1);
        switch (p) {
        case 2:
            stage2(s, m, tw, tw + count, src_re, src_im, dst_re, dst_im);
            break;
        case 3:
            stage3(s, m, tw, tw + count, src_re, src_im, dst_re, dst_im);
            break;
        case 4:
            stage4(s, m, tw, tw + count, src_re, src_im, dst_re, dst_im);
            break;
        default:
            stage5(s, m, tw, tw + count, src_re, src_im, dst_re, dst_im);
            break;
        }
        tw += 2 * count;
        s *= p;
        length = m;
        double *swap_re = src_re, *swap_im = src_im;
        src_re = dst_re, src_im = dst_im;
        dst_re = swap_re, dst_im = swap_im;
    }
    if (src_re != re) {
        memcpy(re, src_re, n * sizeof(double));
        memcpy(im, src_im, n * sizeof(double));
    }
}

static void forward_bluestein(verge_fft *fft, double *re, double *im)
{
    const size_t n = fft->n;
    const size_t big = fft->inner->n;
    const double *c_re = fft->chirp, *c_im = fft->chirp + n;
    const double *b_re = fft->kernel, *b_im = fft->kernel + big;
    double *a_re = fft->padded, *a_im = fft->padded + big;

    /* a_j = x_j conj(c_j), zero-padded to M. */
    for (size_t j = 0; j < n; j++) {
        a_re[j] = re[j] * c_re[j] + im[j] * c_im[j];
        a_im[j] = im[j] * c_re[j] - re[j] * c_im[j];
    }
    memset(a_re + n, 0, (big - n) * sizeof(double));
    memset(a_im + n, 0, (big - n) * sizeof(double));
    verge_fft_forward(fft->inner, a_re, a_im);

    /* The inverse transform of A * B as conj(FFT(conj(A * B))); B already carries the 1/M. */
    for (size_t k = 0; k < big; k++) {
        const double ar = a_re[k], ai = a_im[k];
        a_re[k] = ar * b_re[k] - ai * b_im[k];
        a_im[k] = -(ar * b_im[k] + ai * b_re[k]);
    }
    verge_fft_forward(fft->inner, a_re, a_im);

    /* X_k = conj(c_k) * conv_k, and conv_k = conj(a_k). */
    for (size_t k = 0; k < n; k++) {
        const double vr = a_re[k], vi = -a_im[k];
        re[k] = vr * c_re[k] + vi * c_im[k];
        im[k] = vi * c_re[k] - vr * c_im[k];
    }
}

void verge_fft_forward(verge_fft *fft, double *re, double *im)
{
    if (fft->inner != NULL)
        forward_bluestein(fft, re, im);
    else
        forward_stages(fft, re, im);
}

size_t verge_fft_length(const verge_fft *fft)
{
    return fft->n;
}
