#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#endif

#include "core/core.h"
#include "core/cpu.h"

bool verge_cpu_isa_available(verge_cpu_isa isa)
{
    switch (isa) {
    case VERGE_CPU_SCALAR:
        return true;
    case VERGE_CPU_AVX2:
#if defined(VERGE_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        return false;
#endif
    case VERGE_CPU_AVX512:
#if defined(VERGE_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#else
        return false;
#endif
    case VERGE_CPU_NEON:
#if defined(VERGE_HAVE_NEON) && defined(__aarch64__) && defined(__linux__)
        /* Every AArch64 Linux system has Advanced SIMD, and the kernel reports it in HWCAP. */
        return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#elif defined(VERGE_HAVE_NEON) && defined(__aarch64__)
        return true;
#else
        return false;
#endif
    }
    return false;
}

const char *verge_cpu_isa_name(verge_cpu_isa isa)
{
    switch (isa) {
    case VERGE_CPU_SCALAR: return "scalar";
    case VERGE_CPU_AVX2: return "avx2";
    case VERGE_CPU_AVX512: return "avx512";
    case VERGE_CPU_NEON: return "neon";
    }
    return "unknown";
}

/* The instruction set to use instead of `isa` when it is missing: the next smaller one. */
static verge_cpu_isa fallback(verge_cpu_isa isa)
{
    return isa == VERGE_CPU_AVX512 ? VERGE_CPU_AVX2 : VERGE_CPU_SCALAR;
}

static verge_cpu_isa best_up_to(verge_cpu_isa isa)
{
    while (isa != VERGE_CPU_SCALAR && !verge_cpu_isa_available(isa))
        isa = fallback(isa);
    return isa;
}

verge_cpu_isa verge_cpu_isa_selected(void)
{
    static const verge_cpu_isa named[] = {VERGE_CPU_SCALAR, VERGE_CPU_AVX2, VERGE_CPU_AVX512,
                                          VERGE_CPU_NEON};
    static atomic_bool warned;
    const char *wanted = getenv("VERGE_CPU");
    verge_cpu_isa best = verge_cpu_isa_available(VERGE_CPU_NEON) ? VERGE_CPU_NEON
                                                                   : best_up_to(VERGE_CPU_AVX512);

    if (wanted == NULL || wanted[0] == '\0' || strcmp(wanted, "auto") == 0)
        return best;
    for (size_t i = 0; i < VERGE_ARRAY_SIZE(named); i++) {
        verge_cpu_isa got;

        if (strcmp(wanted, verge_cpu_isa_name(named[i])) != 0)
            continue;
        got = best_up_to(named[i]);
        if (got != named[i] && !atomic_exchange(&warned, true))
            verge_log(VERGE_LOG_WARNING, "VERGE_CPU=%s: this CPU or build lacks it; using the %s "
                                         "kernels", wanted, verge_cpu_isa_name(got));
        return got;
    }
    if (!atomic_exchange(&warned, true))
        verge_log(VERGE_LOG_WARNING,
                  "VERGE_CPU='%s' is not one of scalar, avx2, avx512, neon, auto; using %s",
                  wanted, verge_cpu_isa_name(best));
    return best;
}
