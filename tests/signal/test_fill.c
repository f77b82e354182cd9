/*
 * Imputation: fill rule parsing, the exact median (pandas semantics), the
 * mean, and every streaming fill rule including gaps at both edges.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "reference.h"
#include "signal/internal.h"
#include "verge/signal.h"

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median by sorting, as pandas computes it: NaN skipped, even counts average the middle two. */
static double sorted_median(const double *x, size_t n)
{
    double *v = malloc(n * sizeof(*v));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(x[i]))
            v[m++] = x[i];
    }
    qsort(v, m, sizeof(*v), compare);
    double median = m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
    free(v);
    return median;
}

static void median_small_cases(void)
{
    const double odd[] = {5, NAN, 1, 3};
    const double even[] = {4, 1, NAN, 3, 2};
    const double with_inf[] = {INFINITY, 1, -INFINITY, 2, INFINITY};
    const double single[] = {NAN, 7.5, NAN};
    const double missing[] = {NAN, NAN};
    double m;

    CHECK_OK(verge_series_median(odd, 4, &m));
    CHECK(m == 3);
    CHECK_OK(verge_series_median(even, 5, &m));
    CHECK(m == 2.5);
    CHECK_OK(verge_series_median(with_inf, 5, &m));
    CHECK(m == 2);
    CHECK_OK(verge_series_median(single, 3, &m));
    CHECK(m == 7.5);
    CHECK_STATUS(verge_series_median(missing, 2, &m), VERGE_STATUS_INVALID_DATA);
    CHECK_STATUS(verge_series_median(missing, 0, &m), VERGE_STATUS_INVALID_DATA);

    /* Averaging two huge middle values must not overflow. */
    const double huge[] = {DBL_MAX, DBL_MAX * 0.75};
    CHECK_OK(verge_series_median(huge, 2, &m));
    CHECK(m == DBL_MAX * 0.875);
}

/* Random arrays, including heavy duplication that forces every radix pass. */
static void median_matches_sorting(void)
{
    ref_random rng = {8};
    static const size_t sizes[] = {1, 2, 3, 10, 1001, 20000, 300000};

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        const size_t n = sizes[s];
        double *x = malloc(n * sizeof(*x));
        for (int kind = 0; kind < 4; kind++) {
            for (size_t i = 0; i < n; i++) {
                switch (kind) {
                case 0: x[i] = ref_normal(&rng) * 1e3; break;
                case 1: x[i] = (double)(ref_next(&rng) % 3) - 1.0; break; /* duplicates, -1 0 1 */
                case 2: x[i] = 1e9 + (double)(ref_next(&rng) % 1000) * 0.25; break;
                default: x[i] = ref_uniform(&rng) < 0.5 ? -0.0 : ref_uniform(&rng) - 0.5; break;
                }
                if (ref_uniform(&rng) < 0.05)
                    x[i] = NAN;
            }
            bool any = false;
            for (size_t i = 0; i < n; i++)
                any |= !isnan(x[i]);
            if (!any)
                continue;
            double got = 0;
            double want = sorted_median(x, n);
            CHECK_OK(verge_series_median(x, n, &got));
            CHECK_MSG(got == want, "n=%zu kind %d: median %.17g, expected %.17g", n, kind, got,
                      want);
        }
        free(x);
    }
}

static void mean_skips_missing(void)
{
    const double x[] = {1, NAN, 2, 3, NAN};
    double m;
    CHECK_OK(verge_series_mean(x, 5, &m));
    CHECK(m == 2);
    const double missing[] = {NAN};
    CHECK_STATUS(verge_series_mean(missing, 1, &m), VERGE_STATUS_INVALID_DATA);
}

static void fill_rule_parsing(void)
{
    verge_fill fill;

    CHECK_OK(verge_fill_parse("median", &fill));
    CHECK_EQ_INT(fill.method, VERGE_FILL_MEDIAN);
    CHECK_OK(verge_fill_parse("linear", &fill));
    CHECK_EQ_INT(fill.method, VERGE_FILL_LINEAR);
    CHECK_OK(verge_fill_parse("constant:-2.5", &fill));
    CHECK_EQ_INT(fill.method, VERGE_FILL_CONSTANT);
    CHECK(fill.value == -2.5);
    CHECK_OK(verge_fill_parse("median:25", &fill));
    CHECK_EQ_INT(fill.method, VERGE_FILL_RUNNING_MEDIAN);
    CHECK_EQ_INT(fill.k, 25);

    static const char *const bad[] = {"", "Median", "constant", "constant:", "constant:x",
                                      "median:", "median:0", "median:-3", "median:5x",
                                      "median:99999999999999999999", "zero"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(verge_fill_parse(bad[i], &fill) == VERGE_STATUS_INVALID_ARGUMENT,
                  "'%s' was accepted", bad[i]);
}

typedef struct sink {
    double values[64];
    size_t count;
} sink;

static verge_status collect(void *user, const double *samples, size_t count)
{
    sink *s = user;
    for (size_t i = 0; i < count && s->count < 64; i++)
        s->values[s->count++] = samples[i];
    return VERGE_OK;
}

/* Runs a fill rule over x, whole and one sample at a time; both must give `expected`. */
static void check_fill(const char *rule, const double *x, size_t n, const double *expected,
                       verge_status finish_status)
{
    for (int one_by_one = 0; one_by_one < 2; one_by_one++) {
        verge_fill fill;
        verge_imputer imputer;
        sink out = {{0}, 0};

        CHECK_OK(verge_fill_parse(rule, &fill));
        CHECK_OK(verge_imputer_init(&imputer, &fill, collect, &out));
        if (one_by_one) {
            for (size_t i = 0; i < n; i++)
                CHECK_OK(verge_imputer_push(&imputer, x + i, 1));
        } else {
            CHECK_OK(verge_imputer_push(&imputer, x, n));
        }
        verge_status status = verge_imputer_finish(&imputer);
        CHECK_MSG(status == finish_status, "%s: finish returned %d (%s)", rule, (int)status,
                  verge_error_message());
        verge_imputer_free(&imputer);
        if (finish_status != VERGE_OK)
            continue;

        CHECK_MSG(out.count == n, "%s: %zu samples out, expected %zu", rule, out.count, n);
        for (size_t i = 0; i < n && i < out.count; i++) {
            const bool same = (isnan(expected[i]) && isnan(out.values[i])) ||
                              out.values[i] == expected[i];
            CHECK_MSG(same, "%s (%s): sample %zu = %g, expected %g", rule,
                      one_by_one ? "one by one" : "whole", i, out.values[i], expected[i]);
        }
    }
}

static void fill_rules_with_edge_gaps(void)
{
    const double x[] = {NAN, NAN, 1, NAN, NAN, 4, 6, NAN};

    const double ffill[] = {1, 1, 1, 1, 1, 4, 6, 6};
    const double bfill[] = {1, 1, 1, 4, 4, 4, 6, 6};
    const double linear[] = {1, 1, 1, 2, 3, 4, 6, 6};
    const double constant[] = {9, 9, 1, 9, 9, 4, 6, 9};
    const double none[] = {NAN, NAN, 1, NAN, NAN, 4, 6, NAN};
    check_fill("ffill", x, 8, ffill, VERGE_OK);
    check_fill("bfill", x, 8, bfill, VERGE_OK);
    check_fill("linear", x, 8, linear, VERGE_OK);
    check_fill("constant:9", x, 8, constant, VERGE_OK);
    check_fill("none", x, 8, none, VERGE_OK);

    /* Running median of the last K non-NaN samples before each gap. */
    const double y[] = {NAN, 5, 1, 3, NAN, 10, NAN, NAN};
    const double median3[] = {5, 5, 1, 3, 3, 10, 3, 3};
    const double median2[] = {5, 5, 1, 3, 2, 10, 6.5, 6.5};
    check_fill("median:3", y, 8, median3, VERGE_OK);
    check_fill("median:2", y, 8, median2, VERGE_OK);

    /* All missing: nothing to fill from, except for constant and none. */
    const double missing[] = {NAN, NAN, NAN};
    const double nines[] = {9, 9, 9};
    check_fill("ffill", missing, 3, NULL, VERGE_STATUS_INVALID_DATA);
    check_fill("bfill", missing, 3, NULL, VERGE_STATUS_INVALID_DATA);
    check_fill("linear", missing, 3, NULL, VERGE_STATUS_INVALID_DATA);
    check_fill("median:4", missing, 3, NULL, VERGE_STATUS_INVALID_DATA);
    check_fill("constant:9", missing, 3, nines, VERGE_OK);
    check_fill("none", missing, 3, missing, VERGE_OK);

    /* Interpolation over a longer gap uses NumPy's slope * i + start. */
    const double z[] = {0, NAN, NAN, NAN, NAN, NAN, NAN, 0.7};
    double expected[8];
    for (int i = 0; i < 8; i++)
        expected[i] = i == 0 ? 0 : i == 7 ? 0.7 : (0.7 - 0.0) / 7.0 * i + 0.0;
    check_fill("linear", z, 8, expected, VERGE_OK);

    verge_fill fill = {VERGE_FILL_MEDIAN, 0, 0};
    verge_imputer imputer;
    CHECK_STATUS(verge_imputer_init(&imputer, &fill, collect, NULL), VERGE_STATUS_INVALID_ARGUMENT);
}

/* verge_select_kth on adversarial orders. */
static void select_kth_orders(void)
{
    const size_t n = 5001;
    double *v = malloc(n * sizeof(*v));
    for (int order = 0; order < 4; order++) {
        for (size_t k = 0; k < n; k += 1250) {
            for (size_t i = 0; i < n; i++)
                v[i] = order == 0 ? (double)i : order == 1 ? (double)(n - i) : order == 2 ? 1.0
                                                                               : (double)(i % 2);
            double want = order == 0 ? (double)k : order == 1 ? (double)(k + 1) : order == 2 ? 1.0
                                                                                   : (k <= n / 2 ? 0.0 : 1.0);
            CHECK_MSG(verge_select_kth(v, n, k) == want, "order %d k %zu", order, k);
        }
    }
    free(v);
}

int main(void)
{
    RUN(median_small_cases);
    RUN(median_matches_sorting);
    RUN(mean_skips_missing);
    RUN(fill_rule_parsing);
    RUN(fill_rules_with_edge_gaps);
    RUN(select_kth_orders);
    return check_summary();
}
