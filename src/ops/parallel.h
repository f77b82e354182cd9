/*
 * Splitting a kernel's outputs among the interpreter's threads (internal to
 * src/ops/).
 *
 * verge_ops_parallel() cuts [0, count) into contiguous ranges of at least
 * `grain` items, with range boundaries on multiples of `grain` (except the
 * end), and calls fn(arg, begin, end) once per range on the context's pool.
 * A kernel passes output rows or channels, and computes every output the
 * same way whatever range contains it, so results do not depend on the
 * thread count.
 */
#ifndef VERGE_OPS_PARALLEL_H
#define VERGE_OPS_PARALLEL_H

#include <stddef.h>

#include "ops/ops.h"

typedef void (*verge_ops_range_fn)(void *arg, size_t begin, size_t end);

/*
 * Runs fn over [0, count) split into ranges as described above. Without a
 * pool, or with fewer than 2 * grain items, one call covers everything on
 * the calling thread. grain >= 1.
 */
void verge_ops_parallel(const verge_op_context *ctx, size_t count, size_t grain,
                        verge_ops_range_fn fn, void *arg);

#endif
