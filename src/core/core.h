/*
 * Internal helpers shared by every module: error reporting, logging and
 * overflow-checked size arithmetic. Not part of the public API.
 */
#ifndef VERGE_CORE_CORE_H
#define VERGE_CORE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verge/status.h"

#if defined(__GNUC__)
#define VERGE_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define VERGE_PRINTF(fmt_index, first_arg)
#endif

/*
 * Records a formatted message as this thread's last error and returns
 * `status`, so that a failure reads `return verge_fail(STATUS, "...", ...);`.
 */
verge_status verge_fail(verge_status status, const char *fmt, ...) VERGE_PRINTF(2, 3);

/*
 * Prepends "prefix: " to this thread's last error message and returns
 * `status`. Used to add context (a file name) when a failure passes upward.
 */
verge_status verge_fail_prefix(verge_status status, const char *fmt, ...) VERGE_PRINTF(2, 3);

void verge_log(verge_log_level level, const char *fmt, ...) VERGE_PRINTF(2, 3);

/* Stores a * b in *out and returns true, or returns false on overflow. */
static inline bool verge_size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Stores a + b in *out and returns true, or returns false on overflow. */
static inline bool verge_size_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/*
 * Returns true for "scheme://..." other than file:, which FFmpeg reads
 * through a network protocol. verge_uri_redact() (verge/media.h) hides the
 * password of such a URI.
 */
bool verge_uri_is_network(const char *uri);

#define VERGE_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Hot loops that vectorize are built for baseline x86-64 (SSE2), x86-64-v3
 * (AVX2) and x86-64-v4 (AVX-512), and the loader picks the best the CPU runs
 * (GCC function multi-versioning through ifunc). No FMA contraction happens
 * in ISO C mode, so every version computes the same values. Other targets
 * and compilers get the one build.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define VERGE_VECTOR_CLONES                                                                        \
    __attribute__((noinline, target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define VERGE_VECTOR_CLONES __attribute__((noinline))
#endif

#endif
