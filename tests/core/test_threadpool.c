/*
 * The worker pool: every task runs exactly once for any thread and task
 * count, many short jobs in a row never lose a wake-up, work really spreads
 * over threads, and idle workers sleep instead of spinning.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/threadpool.h"
#include "verge/status.h"

enum { MAX_TASKS = 4096 };

typedef struct counters {
    atomic_int runs[MAX_TASKS];
} counters;

static void count_task(void *arg, int index)
{
    counters *c = arg;

    atomic_fetch_add(&c->runs[index], 1);
}

static void every_task_runs_once(void)
{
    static const int counts[] = {0, 1, 2, 3, 7, 64, 1000, MAX_TASKS};
    static counters c;

    for (int threads = 1; threads <= 4; threads++) {
        verge_threadpool *pool = NULL;

        CHECK_OK(verge_threadpool_create(threads, &pool));
        CHECK_EQ_INT(verge_threadpool_threads(pool), threads);
        for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
            int wrong = 0;

            for (int i = 0; i < MAX_TASKS; i++)
                atomic_store(&c.runs[i], 0);
            verge_threadpool_run(pool, counts[k], count_task, &c);
            for (int i = 0; i < MAX_TASKS; i++)
                wrong += atomic_load(&c.runs[i]) != (i < counts[k] ? 1 : 0);
            CHECK_MSG(wrong == 0, "%d threads, %d tasks: %d tasks ran a wrong number of times",
                      threads, counts[k], wrong);
        }
        verge_threadpool_destroy(pool);
    }
}

typedef struct order {
    int seen[16];
    int length;
} order;

static void record_task(void *arg, int index)
{
    order *o = arg;

    o->seen[o->length++] = index;
}

static void null_pool_runs_in_order(void)
{
    order o = {0};

    CHECK_EQ_INT(verge_threadpool_threads(NULL), 1);
    verge_threadpool_run(NULL, 5, record_task, &o);
    CHECK_EQ_INT(o.length, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(o.seen[i], i);
    verge_threadpool_destroy(NULL);
}

static void bad_thread_counts_fail(void)
{
    verge_threadpool *pool = (verge_threadpool *)&pool;

    CHECK_STATUS(verge_threadpool_create(0, &pool), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(pool == NULL);
    CHECK_STATUS(verge_threadpool_create(VERGE_THREADPOOL_MAX_THREADS + 1, &pool),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "257") != NULL);
}

static void sum_task(void *arg, int index)
{
    atomic_long *sum = arg;

    atomic_fetch_add(sum, index + 1);
}

/* Short jobs back to back, as the operators of one inference come: none may hang or be lost. */
static void many_short_jobs(void)
{
    verge_threadpool *pool = NULL;
    atomic_long sum;
    long expected = 0;

    atomic_init(&sum, 0);
    CHECK_OK(verge_threadpool_create(3, &pool));
    for (int job = 0; job < 20000; job++) {
        int count = job % 5 + 1;

        verge_threadpool_run(pool, count, sum_task, &sum);
        expected += (long)count * (count + 1) / 2;
        if (job % 5000 == 4999)
            usleep(2000); /* let the workers fall asleep, then wake them again */
    }
    CHECK_EQ_INT(atomic_load(&sum), expected);
    verge_threadpool_destroy(pool);
}

typedef struct threads_seen {
    pthread_t ids[64];
    atomic_int count;
} threads_seen;

static void slow_task(void *arg, int index)
{
    threads_seen *seen = arg;

    seen->ids[index] = pthread_self();
    atomic_fetch_add(&seen->count, 1);
    usleep(2000);
}

/*
 * Tasks of 2 ms each: a worker gets some of them. On a busy machine the OS
 * may keep the worker off a core for a while, so up to 50 jobs may pass
 * before one of its tasks shows.
 */
static void work_spreads_over_threads(void)
{
    verge_threadpool *pool = NULL;
    int elsewhere = 0;

    CHECK_OK(verge_threadpool_create(2, &pool));
    for (int job = 0; job < 50 && elsewhere == 0; job++) {
        threads_seen seen = {0};

        verge_threadpool_run(pool, 40, slow_task, &seen);
        CHECK_EQ_INT(atomic_load(&seen.count), 40);
        for (int i = 0; i < 40; i++)
            elsewhere += !pthread_equal(seen.ids[i], pthread_self());
    }
    CHECK_MSG(elsewhere > 0, "in 50 jobs of 40 tasks of 2 ms, the worker ran none");
    verge_threadpool_destroy(pool);
}

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Between inferences the workers sleep: a pool left idle uses almost no CPU time. */
static void idle_workers_sleep(void)
{
    verge_threadpool *pool = NULL;
    atomic_long sum;
    double before;

    atomic_init(&sum, 0);
    CHECK_OK(verge_threadpool_create(4, &pool));
    verge_threadpool_run(pool, 8, sum_task, &sum);
    before = cpu_seconds();
    usleep(300000);
    /* Three spinning workers would burn up to 0.9 s here, while sleeping ones use almost none. */
    CHECK_MSG(cpu_seconds() - before < 0.2, "idle pool used %.3f s of CPU in 0.3 s",
              cpu_seconds() - before);
    verge_threadpool_run(pool, 8, sum_task, &sum);
    CHECK_EQ_INT(atomic_load(&sum), 72);
    verge_threadpool_destroy(pool);
}

int main(void)
{
    RUN(every_task_runs_once);
    RUN(null_pool_runs_in_order);
    RUN(bad_thread_counts_fail);
    RUN(many_short_jobs);
    RUN(work_spreads_over_threads);
    RUN(idle_workers_sleep);
    return check_summary();
}
