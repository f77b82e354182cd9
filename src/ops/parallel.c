#include "ops/parallel.h"

/* Ranges per thread: more than one, so that a thread the OS delays holds back little work. */
enum { RANGES_PER_THREAD = 4 };

typedef struct range_job {
    verge_ops_range_fn fn;
    void *arg;
    size_t count;
    size_t blocks;       /* count in units of grain, rounded up */
    size_t grain;
    int ranges;
} range_job;

static void run_range(void *data, int index)
{
    const range_job *job = data;
    size_t first = job->blocks * (size_t)index / (size_t)job->ranges;
    size_t last = job->blocks * ((size_t)index + 1) / (size_t)job->ranges;
    size_t begin = first * job->grain, end = last * job->grain;

    if (end > job->count)
        end = job->count;
    if (begin < end)
        job->fn(job->arg, begin, end);
}

void verge_ops_parallel(const verge_op_context *ctx, size_t count, size_t grain,
                        verge_ops_range_fn fn, void *arg)
{
    int threads = verge_threadpool_threads(ctx->pool);
    range_job job = {.fn = fn, .arg = arg, .count = count, .grain = grain ? grain : 1};

    if (count == 0)
        return;
    job.blocks = (count + job.grain - 1) / job.grain;
    if (threads < 2 || job.blocks < 2) {
        fn(arg, 0, count);
        return;
    }
    job.ranges = threads * RANGES_PER_THREAD;
    if ((size_t)job.ranges > job.blocks)
        job.ranges = (int)job.blocks;
    verge_threadpool_run(ctx->pool, job.ranges, run_range, &job);
}
