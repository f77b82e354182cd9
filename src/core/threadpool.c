/*
 * The worker pool. Each job publishes a new claim word (see below). The
 * caller and the workers claim task indices from it until none is left, and
 * the thread that finishes the last task wakes the caller if it sleeps.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "core/core.h"
#include "core/threadpool.h"

/* How long an idle worker, or a caller waiting for workers, spins before it sleeps. */
#define SPIN_NS 50000

struct verge_threadpool {
    int threads;
    int num_workers;
    pthread_t *workers;

    pthread_mutex_t lock;
    pthread_cond_t wake;        /* workers sleep here between jobs */
    pthread_cond_t done;        /* the caller sleeps here until every task has finished */
    atomic_bool stop;

    /*
     * The current job's claim word: generation (32 bits), task count (16
     * bits), next task index (16 bits). A thread claims a task with a
     * compare-and-swap that fails once the generation moved on, so a worker
     * that wakes late never takes a task of a later job by mistake.
     */
    _Atomic uint64_t claim;
    atomic_int completed;       /* tasks of the current job that have finished */

    /* The current job; fixed while any of its tasks is claimed and unfinished. */
    verge_threadpool_task task;
    void *arg;
};

enum { MAX_JOB_TASKS = 0xffff };

static inline uint32_t claim_generation(uint64_t claim)
{
    return (uint32_t)(claim >> 32);
}

static inline int claim_count(uint64_t claim)
{
    return (int)((claim >> 16) & 0xffff);
}

static inline int claim_index(uint64_t claim)
{
    return (int)(claim & 0xffff);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spins until the claim word's generation differs from `seen` or SPIN_NS pass. */
static bool spin_for_job(verge_threadpool *pool, uint32_t seen)
{
    uint64_t start = now_ns();

    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (claim_generation(atomic_load_explicit(&pool->claim, memory_order_acquire)) !=
                seen)
                return true;
            cpu_relax();
        }
        if (now_ns() - start > SPIN_NS)
            return false;
    }
}

/* Spins until `count` tasks have finished or SPIN_NS pass. */
static bool spin_for_completion(verge_threadpool *pool, int count)
{
    uint64_t start = now_ns();

    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(&pool->completed, memory_order_acquire) == count)
                return true;
            cpu_relax();
        }
        if (now_ns() - start > SPIN_NS)
            return false;
    }
}

/* Claims and runs tasks of job `generation` until none is left. */
static void run_tasks(verge_threadpool *pool, uint32_t generation)
{
    uint64_t claim = atomic_load_explicit(&pool->claim, memory_order_acquire);

    while (claim_generation(claim) == generation && claim_index(claim) < claim_count(claim)) {
        int count = claim_count(claim);

        if (!atomic_compare_exchange_weak_explicit(&pool->claim, &claim, claim + 1,
                                                   memory_order_acq_rel, memory_order_acquire))
            continue;
        /* The claimed task keeps the job alive, so task and arg are this job's. */
        pool->task(pool->arg, claim_index(claim));
        if (atomic_fetch_add_explicit(&pool->completed, 1, memory_order_acq_rel) + 1 == count) {
            /* Taking the lock orders this signal after the caller's check of `completed`. */
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->lock);
        }
        claim = atomic_load_explicit(&pool->claim, memory_order_acquire);
    }
}

static void *worker_main(void *data)
{
    verge_threadpool *pool = data;
    uint32_t seen = 0;

    for (;;) {
        if (!spin_for_job(pool, seen)) {
            pthread_mutex_lock(&pool->lock);
            while (claim_generation(atomic_load(&pool->claim)) == seen &&
                   !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->wake, &pool->lock);
            pthread_mutex_unlock(&pool->lock);
        }
        if (atomic_load(&pool->stop))
            return NULL;
        seen = claim_generation(atomic_load_explicit(&pool->claim, memory_order_acquire));
        run_tasks(pool, seen);
    }
}

verge_status verge_threadpool_create(int threads, verge_threadpool **out)
{
    verge_threadpool *pool;
    verge_status status = VERGE_OK;

    *out = NULL;
    if (threads < 1 || threads > VERGE_THREADPOOL_MAX_THREADS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "thread count %d is out of range 1..%d",
                          threads, VERGE_THREADPOOL_MAX_THREADS);
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate a thread pool");
    pool->threads = threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    atomic_init(&pool->stop, false);
    atomic_init(&pool->claim, 0);
    atomic_init(&pool->completed, 0);

    if (threads > 1) {
        pool->workers = calloc((size_t)threads - 1, sizeof(*pool->workers));
        if (pool->workers == NULL) {
            status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate a thread pool");
            goto fail;
        }
    }
    for (int i = 0; i < threads - 1; i++) {
        if (pthread_create(&pool->workers[i], NULL, worker_main, pool) != 0) {
            status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                                "cannot start worker thread %d of %d", i + 1, threads - 1);
            goto fail;
        }
        pool->num_workers++;
    }
    *out = pool;
    return VERGE_OK;

fail:
    verge_threadpool_destroy(pool);
    return status;
}

void verge_threadpool_destroy(verge_threadpool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stop, true);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->num_workers; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->lock);
    free(pool->workers);
    free(pool);
}

int verge_threadpool_threads(const verge_threadpool *pool)
{
    return pool != NULL ? pool->threads : 1;
}

/* A part of a job with more than MAX_JOB_TASKS tasks: indices shifted by `first`. */
typedef struct offset_job {
    verge_threadpool_task task;
    void *arg;
    int first;
} offset_job;

static void run_offset(void *data, int index)
{
    const offset_job *job = data;

    job->task(job->arg, job->first + index);
}

/* Runs one job of 2..MAX_JOB_TASKS tasks on the workers and the calling thread. */
static void run_job(verge_threadpool *pool, int count, verge_threadpool_task task, void *arg)
{
    uint32_t generation = claim_generation(atomic_load(&pool->claim)) + 1;

    pthread_mutex_lock(&pool->lock);
    pool->task = task;
    pool->arg = arg;
    atomic_store_explicit(&pool->completed, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->claim,
                          (uint64_t)generation << 32 | (uint64_t)count << 16,
                          memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);

    run_tasks(pool, generation);

    /* Only unfinished tasks are waited for: a worker that never woke up delays nothing. */
    if (!spin_for_completion(pool, count)) {
        pthread_mutex_lock(&pool->lock);
        while (atomic_load(&pool->completed) != count)
            pthread_cond_wait(&pool->done, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    }
}

void verge_threadpool_run(verge_threadpool *pool, int count, verge_threadpool_task task,
                          void *arg)
{
    if (count <= 0)
        return;
    if (pool == NULL || pool->num_workers == 0 || count == 1) {
        for (int i = 0; i < count; i++)
            task(arg, i);
        return;
    }
    /* The claim word contains 16-bit task indices: larger jobs run in parts. */
    for (int first = 0; first < count; first += MAX_JOB_TASKS) {
        int part = count - first < MAX_JOB_TASKS ? count - first : MAX_JOB_TASKS;

        if (first == 0 && part == count) {
            run_job(pool, count, task, arg);
        } else {
            offset_job offset = {task, arg, first};

            run_job(pool, part, run_offset, &offset);
        }
    }
}
