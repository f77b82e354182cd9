/*
 * Which instruction set the operator kernels use (internal).
 *
 * Kernels with a fast path call verge_cpu_isa_selected() at prepare time.
 * By default it returns the best instruction set that both this CPU
 * (cpuid through __builtin_cpu_supports on x86, getauxval(AT_HWCAP) on
 * AArch64 Linux) and this build support.
 * The environment variable VERGE_CPU overrides that for tests and
 * comparisons:
 *   scalar   the portable reference kernels only
 *   avx2     AVX2 + FMA fast paths (x86-64)
 *   avx512   AVX-512F for convolutions, FULLY_CONNECTED, Convolution2DTransposeBias,
 *            RESIZE_BILINEAR, MEAN and LOGISTIC; AVX2 + FMA for the rest
 *   neon     Advanced SIMD (AArch64)
 *   auto     the default (also when VERGE_CPU is unset or empty)
 * A value naming an instruction set that this CPU or build lacks selects
 * the best one below it and logs one warning. An unknown value logs a
 * warning and selects the default.
 */
#ifndef VERGE_CORE_CPU_H
#define VERGE_CORE_CPU_H

#include <stdbool.h>

typedef enum verge_cpu_isa {
    VERGE_CPU_SCALAR = 0,
    VERGE_CPU_AVX2 = 1,      /* AVX2 and FMA3 */
    VERGE_CPU_AVX512 = 2,    /* AVX-512F, AVX2 and FMA3 */
    VERGE_CPU_NEON = 3,      /* AArch64 Advanced SIMD */
} verge_cpu_isa;

/* Returns true when this CPU can run `isa` and this build has kernels for it. */
bool verge_cpu_isa_available(verge_cpu_isa isa);

/* Returns the instruction set to use now, after VERGE_CPU (read on every call). */
verge_cpu_isa verge_cpu_isa_selected(void);

/* Returns "scalar", "avx2", "avx512" or "neon". */
const char *verge_cpu_isa_name(verge_cpu_isa isa);

#endif
