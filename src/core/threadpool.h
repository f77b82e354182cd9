/*
 * A fixed pool of worker threads that splits one job into numbered tasks
 * (internal; kernels reach it through verge_op_context.pool).
 *
 * A pool of N threads owns N - 1 workers. The thread that calls
 * verge_threadpool_run() takes tasks as well, so a 1-thread pool starts no
 * thread at all. Tasks are handed out one at a time from a shared counter,
 * so a worker that the OS delays does not hold the others back.
 *
 * Idle workers spin for a short while after a job (about 50 microseconds,
 * so that the next operator of the same inference starts at once) and then
 * sleep on a condition variable: between inferences the pool uses no CPU.
 *
 * Which thread runs which task is not fixed. A kernel that wants results
 * independent of the thread count gives every task a fixed range of outputs
 * and computes each output the same way whatever range holds it.
 *
 * One job runs at a time per pool: verge_threadpool_run() is not reentrant
 * and must not be called from two threads at once on the same pool (each
 * interpreter owns its pool).
 */
#ifndef VERGE_CORE_THREADPOOL_H
#define VERGE_CORE_THREADPOOL_H

#include "verge/status.h"

typedef struct verge_threadpool verge_threadpool;

/* One task of a job: `index` is in [0, count). */
typedef void (*verge_threadpool_task)(void *arg, int index);

/* Maximum number of threads in a pool. */
#define VERGE_THREADPOOL_MAX_THREADS 256

/*
 * Creates a pool of `threads` threads in all (1..VERGE_THREADPOOL_MAX_THREADS),
 * the caller's included. Returns VERGE_OK, VERGE_STATUS_INVALID_ARGUMENT for
 * a count out of range, or VERGE_STATUS_OUT_OF_MEMORY when memory or a
 * thread cannot be had. On failure *pool is NULL.
 */
verge_status verge_threadpool_create(int threads, verge_threadpool **pool);

/* Stops and joins the workers and frees the pool. NULL is allowed. */
void verge_threadpool_destroy(verge_threadpool *pool);

/* Returns the pool's thread count, the caller's included; 1 for NULL. */
int verge_threadpool_threads(const verge_threadpool *pool);

/*
 * Runs task(arg, i) once for every i in [0, count) and returns when all
 * have finished. With a NULL pool, a 1-thread pool or count 1 the tasks run
 * in order on the calling thread. count <= 0 does nothing.
 */
void verge_threadpool_run(verge_threadpool *pool, int count, verge_threadpool_task task,
                          void *arg);

#endif
