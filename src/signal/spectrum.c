/*
 * One-sided power spectrum of a window through KISS FFT. Debian 12 ships
 * KISS FFT built for float32 only, so the window is centred on its float64
 * mean first: the large mean part is then exact (bin 0 is computed from the
 * mean in float64) and float32 carries only the variation around it.
 */
#include <stdlib.h>

#include <kissfft/kiss_fft.h>
#include <kissfft/kiss_fftr.h>

#include "core/core.h"
#include "signal/internal.h"

struct verge_spectrum {
    size_t window;
    kiss_fftr_cfg real_cfg;   /* even windows */
    kiss_fft_cfg complex_cfg; /* odd windows */
    float *time;              /* window samples for the real transform */
    kiss_fft_cpx *time_cpx;   /* window samples for the complex transform */
    kiss_fft_cpx *freq;       /* window/2 + 1 bins (real), or window bins (complex) */
};

verge_status verge_spectrum_create(size_t window, verge_spectrum **out)
{
    verge_spectrum *s;

    *out = NULL;
    if (window < 1 || window > VERGE_WINDOW_MAX)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "FFT of %zu points: expected 1 to %zu",
                          window, (size_t)VERGE_WINDOW_MAX);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "FFT of %zu points: out of memory", window);
    s->window = window;
    if (window % 2 == 0) {
        s->real_cfg = kiss_fftr_alloc((int)window, 0, NULL, NULL);
        s->time = malloc(window * sizeof(*s->time));
        s->freq = malloc((window / 2 + 1) * sizeof(*s->freq));
        if (s->real_cfg == NULL || s->time == NULL || s->freq == NULL)
            goto fail;
    } else {
        s->complex_cfg = kiss_fft_alloc((int)window, 0, NULL, NULL);
        s->time_cpx = malloc(window * sizeof(*s->time_cpx));
        s->freq = malloc(window * sizeof(*s->freq));
        if (s->complex_cfg == NULL || s->time_cpx == NULL || s->freq == NULL)
            goto fail;
    }
    *out = s;
    return VERGE_OK;

fail:
    verge_spectrum_destroy(s);
    return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "FFT of %zu points: out of memory", window);
}

void verge_spectrum_destroy(verge_spectrum *s)
{
    if (s == NULL)
        return;
    if (s->real_cfg != NULL)
        kiss_fftr_free(s->real_cfg);
    if (s->complex_cfg != NULL)
        kiss_fft_free(s->complex_cfg);
    free(s->time);
    free(s->time_cpx);
    free(s->freq);
    free(s);
}

void verge_spectrum_power(verge_spectrum *s, const double *x, double mean, double *power)
{
    const size_t w = s->window;
    const size_t half = w / 2;

    if (s->real_cfg != NULL) {
        for (size_t i = 0; i < w; i++)
            s->time[i] = (float)(x[i] - mean);
        kiss_fftr(s->real_cfg, s->time, s->freq);
    } else {
        for (size_t i = 0; i < w; i++) {
            s->time_cpx[i].r = (float)(x[i] - mean);
            s->time_cpx[i].i = 0;
        }
        kiss_fft(s->complex_cfg, s->time_cpx, s->freq);
    }

    const double sum = mean * (double)w;
    power[0] = sum * sum;
    for (size_t k = 1; k <= half; k++) {
        const double re = s->freq[k].r;
        const double im = s->freq[k].i;
        /* The Nyquist bin of an even window has no mirror bin; every other bin has one. */
        const double mirrors = (w % 2 == 0 && k == half) ? 1.0 : 2.0;
        power[k] = mirrors * (re * re + im * im);
    }
}
