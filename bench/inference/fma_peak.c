/*
 * Measures this machine's single-thread peak of fused multiply-adds in
 * GFLOP/s (one FMA = 2 FLOPs) for AVX2 (8 lanes) and, where the CPU has
 * it, AVX-512 (16 lanes): 12 independent accumulator chains, enough to
 * cover the FMA latency on current x86 cores; best of 5 runs of about
 * 0.1 s each. Prints one JSON object: {"avx2_gflops":G,"avx512_gflops":G|null}.
 *
 *   cc -O2 bench/inference/fma_peak.c -o fma_peak && ./fma_peak
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

enum { CHAINS = 12, ITERATIONS = 20000000, REPEATS = 5 };

#define FMA12(fmadd)                                                                      \
    do {                                                                                  \
        acc[0] = fmadd(acc[0], a, b);                                                     \
        acc[1] = fmadd(acc[1], a, b);                                                     \
        acc[2] = fmadd(acc[2], a, b);                                                     \
        acc[3] = fmadd(acc[3], a, b);                                                     \
        acc[4] = fmadd(acc[4], a, b);                                                     \
        acc[5] = fmadd(acc[5], a, b);                                                     \
        acc[6] = fmadd(acc[6], a, b);                                                     \
        acc[7] = fmadd(acc[7], a, b);                                                     \
        acc[8] = fmadd(acc[8], a, b);                                                     \
        acc[9] = fmadd(acc[9], a, b);                                                     \
        acc[10] = fmadd(acc[10], a, b);                                                   \
        acc[11] = fmadd(acc[11], a, b);                                                   \
    } while (0)

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((target("avx2,fma"))) static double avx2_peak(void)
{
    double best = 0;

    for (int rep = 0; rep < REPEATS; rep++) {
        __m256 acc[CHAINS];
        const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
        float sink[8];
        double start, elapsed;

        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm256_set1_ps((float)c);
        start = seconds();
        /* Written out (FMA12): the chains must live in registers, not in memory. */
        for (long i = 0; i < ITERATIONS / 4; i++)
            FMA12(_mm256_fmadd_ps);
        elapsed = seconds() - start;
        for (int c = 1; c < CHAINS; c++)
            acc[0] = _mm256_add_ps(acc[0], acc[c]);
        _mm256_storeu_ps(sink, acc[0]);
        if (sink[0] == 12345.0f)
            puts("");
        if (2.0 * 8 * CHAINS * (ITERATIONS / 4) / elapsed / 1e9 > best)
            best = 2.0 * 8 * CHAINS * (ITERATIONS / 4) / elapsed / 1e9;
    }
    return best;
}

__attribute__((target("avx512f"))) static double avx512_peak(void)
{
    double best = 0;

    for (int rep = 0; rep < REPEATS; rep++) {
        __m512 acc[CHAINS];
        const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
        float sink[16];
        double start, elapsed;

        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_set1_ps((float)c);
        start = seconds();
        for (long i = 0; i < ITERATIONS / 8; i++)
            FMA12(_mm512_fmadd_ps);
        elapsed = seconds() - start;
        for (int c = 1; c < CHAINS; c++)
            acc[0] = _mm512_add_ps(acc[0], acc[c]);
        _mm512_storeu_ps(sink, acc[0]);
        if (sink[0] == 12345.0f)
            puts("");
        if (2.0 * 16 * CHAINS * (ITERATIONS / 8) / elapsed / 1e9 > best)
            best = 2.0 * 16 * CHAINS * (ITERATIONS / 8) / elapsed / 1e9;
    }
    return best;
}

int main(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        puts("{\"avx2_gflops\":null,\"avx512_gflops\":null}");
        return 0;
    }
    printf("{\"avx2_gflops\":%.1f,", avx2_peak());
    if (__builtin_cpu_supports("avx512f"))
        printf("\"avx512_gflops\":%.1f}\n", avx512_peak());
    else
        puts("\"avx512_gflops\":null}");
    return 0;
}
