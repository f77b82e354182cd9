/*
 * Prepare and invoke of the fast paths of Convolution2DTransposeBias,
 * RESIZE_BILINEAR, MEAN and LOGISTIC (see src/ops/fast_misc.h). Prepare
 * stores the chosen micro-kernel, the geometry and the tables in one
 * allocation. Invoke fills in the data pointers and splits the work among
 * the threads. The instruction-set code lives in src/ops/x86/ and
 * src/ops/arm/; this file is portable.
 */
#include <stdlib.h>

#include "core/core.h"
#include "core/cpu.h"
#include "ops/fast_misc.h"
#include "ops/parallel.h"

enum {
    /*
     * Work per range, at least, in multiply-adds or elements: waking a worker
     * costs a few microseconds, so smaller operators run on the calling
     * thread alone.
     */
    MIN_RANGE_WORK = 1 << 17,
    MIN_RANGE_ELEMENTS = 16384,
    /* LOGISTIC costs about 20 vector instructions per element. */
    MIN_RANGE_LOGISTIC = 8192,
};

typedef void (*tconv_fn)(const verge_tconv_args *args, size_t row_begin, size_t row_end);
typedef void (*resize_fn)(const verge_resize_args *args, size_t row_begin, size_t row_end);
typedef void (*mean_fn)(const verge_mean_args *args, size_t begin, size_t end);
typedef void (*logistic_fn)(const float *in, float *out, size_t count);

typedef struct tconv_state {
    tconv_fn fn;
    verge_tconv_args args;      /* in, w and out are filled in at invoke */
    size_t rows, grain;
} tconv_state;

typedef struct resize_state {
    resize_fn fn;
    verge_resize_args args;     /* in and out are filled in at invoke */
    size_t rows, grain;
} resize_state;

typedef struct mean_state {
    mean_fn fn;
    verge_mean_args args;       /* in and out are filled in at invoke */
    size_t units, grain;
} mean_state;

typedef struct logistic_state {
    logistic_fn fn;
    size_t count;
} logistic_state;

/*
 * Allocates `header` bytes followed by `table_bytes` bytes, zeroed, and
 * points *table at the latter. Returns NULL when the size overflows or
 * memory is short: the caller then keeps the reference kernel, which needs
 * no extra memory.
 */
static void *state_alloc(size_t header, size_t table_bytes, void **table)
{
    const size_t align = sizeof(double);
    size_t offset = (header + align - 1) / align * align, total;
    unsigned char *block;

    if (!verge_size_add(offset, table_bytes, &total))
        return NULL;
    block = calloc(1, total);
    if (block != NULL && table != NULL)
        *table = block + offset;
    return block;
}

/* Returns the range size, in units of `unit_work`, that carries `min_work` (1 or more units). */
static size_t work_grain(size_t unit_work, size_t min_work)
{
    size_t units = min_work / (unit_work ? unit_work : 1);

    return units > 1 ? units : 1;
}

static tconv_fn select_tconv(void)
{
    switch (verge_cpu_isa_selected()) {
#ifdef VERGE_HAVE_AVX512
    case VERGE_CPU_AVX512: return verge_tconv_f32_avx512;
#endif
#ifdef VERGE_HAVE_AVX2
    case VERGE_CPU_AVX2: return verge_tconv_f32_avx2;
#endif
#ifdef VERGE_HAVE_NEON
    case VERGE_CPU_NEON: return verge_tconv_f32_neon;
#endif
    default: return NULL;
    }
}

static resize_fn select_resize(void)
{
    switch (verge_cpu_isa_selected()) {
#ifdef VERGE_HAVE_AVX512
    case VERGE_CPU_AVX512: return verge_resize_f32_avx512;
#endif
#ifdef VERGE_HAVE_AVX2
    case VERGE_CPU_AVX2: return verge_resize_f32_avx2;
#endif
#ifdef VERGE_HAVE_NEON
    case VERGE_CPU_NEON: return verge_resize_f32_neon;
#endif
    default: return NULL;
    }
}

static mean_fn select_mean(void)
{
    switch (verge_cpu_isa_selected()) {
#ifdef VERGE_HAVE_AVX512
    case VERGE_CPU_AVX512: return verge_mean_f32_avx512;
#endif
#ifdef VERGE_HAVE_AVX2
    case VERGE_CPU_AVX2: return verge_mean_f32_avx2;
#endif
#ifdef VERGE_HAVE_NEON
    case VERGE_CPU_NEON: return verge_mean_f32_neon;
#endif
    default: return NULL;
    }
}

static logistic_fn select_logistic(void)
{
    switch (verge_cpu_isa_selected()) {
#ifdef VERGE_HAVE_AVX512
    case VERGE_CPU_AVX512: return verge_logistic_f32_avx512;
#endif
#ifdef VERGE_HAVE_AVX2
    case VERGE_CPU_AVX2: return verge_logistic_f32_avx2;
#endif
#ifdef VERGE_HAVE_NEON
    case VERGE_CPU_NEON: return verge_logistic_f32_neon;
#endif
    default: return NULL;
    }
}

/*
 * Lists the taps of output column ox: input columns ix with ox + pad_left
 * = ix * stride + fx for some fx in [0, kw) and ix in [0, in_w).
 */
static verge_tconv_column tconv_column(int32_t ox, int32_t pad_left, int32_t stride, int32_t kw,
                                       int32_t in_w, int32_t in_c)
{
    const int64_t t = (int64_t)ox + pad_left;
    const int64_t first_num = t - kw + 1;
    int64_t first = first_num <= 0 ? 0 : (first_num + stride - 1) / stride;
    int64_t last = t / stride < in_w - 1 ? t / stride : in_w - 1;
    verge_tconv_column column = {0, 0, 0};

    if (last >= first) {
        column.in_offset = (ptrdiff_t)(first * in_c);
        column.w_offset = (ptrdiff_t)((t - first * stride) * in_c);
        column.count = (int32_t)(last - first + 1);
    }
    return column;
}

void verge_transpose_conv_bias_fast_prepare(verge_op_context *ctx, const verge_node *node,
                                            int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                            int32_t pad_left)
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    const verge_tensor *weights = verge_node_input(ctx, node, 1);
    const verge_tensor *bias = verge_node_input(ctx, node, 2);
    const verge_tensor *output = verge_node_output(ctx, node, 0);
    const tconv_fn fn = select_tconv();
    const int32_t out_c = output->dims[3], out_w = output->dims[2];
    size_t bias_entries, column_bytes, table_bytes, taps_h, taps_w, row_work;
    tconv_state *s;
    void *table;
    float *bias_repeated;
    verge_tconv_column *columns;

    if (fn == NULL || bias->storage != VERGE_STORAGE_CONSTANT || bias->data == NULL ||
        verge_tensor_count(output) == 0)
        return;

    /* The column table, then bias_repeated (out_c + MAX_LANES floats). */
    bias_entries = (size_t)out_c + VERGE_FAST_MAX_LANES;
    if (!verge_size_mul((size_t)out_w, sizeof(verge_tconv_column), &column_bytes) ||
        !verge_size_mul(bias_entries, sizeof(float), &table_bytes) ||
        !verge_size_add(table_bytes, column_bytes, &table_bytes))
        return;
    s = state_alloc(sizeof(*s), table_bytes, &table);
    if (s == NULL)
        return;
    columns = table;
    bias_repeated = (float *)((unsigned char *)table + column_bytes);
    for (size_t i = 0; i < bias_entries; i++)
        bias_repeated[i] = ((const float *)bias->data)[i % (size_t)out_c];
    for (int32_t ox = 0; ox < out_w; ox++)
        columns[ox] = tconv_column(ox, pad_left, stride_w, weights->dims[2], input->dims[2],
                                   input->dims[3]);

    s->fn = fn;
    s->args = (verge_tconv_args){
        .bias_repeated = bias_repeated,
        .columns = columns,
        .in_h = input->dims[1], .in_w = input->dims[2], .in_c = input->dims[3],
        .out_h = output->dims[1], .out_w = out_w, .out_c = out_c,
        .kh = weights->dims[1], .kw = weights->dims[2],
        .stride_h = stride_h, .stride_w = stride_w, .pad_top = pad_top, .pad_left = pad_left,
    };
    s->rows = (size_t)output->dims[0] * output->dims[1];
    taps_h = ((size_t)weights->dims[1] + stride_h - 1) / stride_h;
    taps_w = ((size_t)weights->dims[2] + stride_w - 1) / stride_w;
    /* Multiply-adds per output row. Where that overflows, each row is a range of its own. */
    if (!verge_size_mul((size_t)out_w * out_c, (size_t)input->dims[3], &row_work) ||
        !verge_size_mul(row_work, taps_h * taps_w, &row_work))
        row_work = MIN_RANGE_WORK;
    s->grain = work_grain(row_work, MIN_RANGE_WORK);
    ctx->node_data = s;
}

typedef struct tconv_job {
    const tconv_state *s;
    verge_tconv_args args;
} tconv_job;

static void tconv_rows(void *arg, size_t begin, size_t end)
{
    const tconv_job *job = arg;

    job->s->fn(&job->args, begin, end);
}

verge_status verge_transpose_conv_bias_fast_invoke(verge_op_context *ctx, const verge_node *node)
{
    const tconv_state *s = ctx->node_data;
    tconv_job job = {.s = s, .args = s->args};

    job.args.in = verge_node_input(ctx, node, 0)->data;
    job.args.w = verge_node_input(ctx, node, 1)->data;
    job.args.out = verge_node_output(ctx, node, 0)->data;
    verge_ops_parallel(ctx, s->rows, s->grain, tconv_rows, &job);
    return VERGE_OK;
}

void verge_resize_bilinear_fast_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    const verge_tensor *output = verge_node_output(ctx, node, 0);
    const resize_fn fn = select_resize();
    const int32_t in_h = input->dims[1], in_w = input->dims[2];
    const int32_t out_h = output->dims[1], out_w = output->dims[2];
    resize_state *s;
    void *table;
    verge_resize_tap *rows;

    if (fn == NULL || verge_tensor_count(output) == 0)
        return;
    s = state_alloc(sizeof(*s), ((size_t)out_h + (size_t)out_w) * sizeof(verge_resize_tap), &table);
    if (s == NULL)
        return;
    rows = table;
    for (int32_t oy = 0; oy < out_h; oy++)
        verge_resize_tap_compute(oy, in_h, out_h, &node->params.resize, &rows[oy]);
    for (int32_t ox = 0; ox < out_w; ox++)
        verge_resize_tap_compute(ox, in_w, out_w, &node->params.resize, &rows[out_h + ox]);

    s->fn = fn;
    s->args = (verge_resize_args){
        .rows = rows,
        .columns = rows + out_h,
        .in_h = in_h, .in_w = in_w, .channels = input->dims[3],
        .out_h = out_h, .out_w = out_w,
    };
    s->rows = (size_t)output->dims[0] * out_h;
    s->grain = work_grain((size_t)out_w * input->dims[3], MIN_RANGE_ELEMENTS);
    ctx->node_data = s;
}

typedef struct resize_job {
    const resize_state *s;
    verge_resize_args args;
} resize_job;

static void resize_rows(void *arg, size_t begin, size_t end)
{
    const resize_job *job = arg;

    job->s->fn(&job->args, begin, end);
}

verge_status verge_resize_bilinear_fast_invoke(verge_op_context *ctx, const verge_node *node)
{
    const resize_state *s = ctx->node_data;
    resize_job job = {.s = s, .args = s->args};

    job.args.in = verge_node_input(ctx, node, 0)->data;
    job.args.out = verge_node_output(ctx, node, 0)->data;
    verge_ops_parallel(ctx, s->rows, s->grain, resize_rows, &job);
    return VERGE_OK;
}

void verge_mean_fast_prepare(verge_op_context *ctx, const verge_node *node,
                             const bool reduced[VERGE_MAX_RANK])
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    const mean_fn fn = select_mean();
    int first = -1, last = -1;
    bool gap = false;
    size_t outer = 1, count = 1, inner = 1, blocks;
    mean_state *s;

    if (fn == NULL || verge_tensor_count(input) == 0)
        return;

    /*
     * Dimensions of size 1 change neither the order of the elements nor the
     * order of the sums, so only the others must form one run of reduced
     * dimensions. The input is then [outer, count, inner].
     */
    for (int d = 0; d < input->rank; d++) {
        if (input->dims[d] == 1)
            continue;
        if (!reduced[d]) {
            gap = first >= 0;
            continue;
        }
        if (gap)
            return;
        if (first < 0)
            first = d;
        last = d;
    }
    if (first < 0)
        return; /* nothing of size above 1 is reduced: the reference copies */
    for (int d = 0; d < input->rank; d++) {
        if (d < first)
            outer *= (size_t)input->dims[d];
        else if (d <= last)
            count *= (size_t)input->dims[d];
        else
            inner *= (size_t)input->dims[d];
    }

    s = state_alloc(sizeof(*s), 0, NULL);
    if (s == NULL)
        return;
    blocks = (inner + VERGE_MEAN_BLOCK - 1) / VERGE_MEAN_BLOCK;
    s->fn = fn;
    s->args = (verge_mean_args){.reduced = count, .inner = inner};
    s->units = outer * blocks;
    s->grain = work_grain(count * (inner < VERGE_MEAN_BLOCK ? inner : VERGE_MEAN_BLOCK),
                          MIN_RANGE_ELEMENTS);
    ctx->node_data = s;
}

typedef struct mean_job {
    const mean_state *s;
    verge_mean_args args;
} mean_job;

static void mean_units(void *arg, size_t begin, size_t end)
{
    const mean_job *job = arg;

    job->s->fn(&job->args, begin, end);
}

verge_status verge_mean_fast_invoke(verge_op_context *ctx, const verge_node *node)
{
    const mean_state *s = ctx->node_data;
    mean_job job = {.s = s, .args = s->args};

    job.args.in = verge_node_input(ctx, node, 0)->data;
    job.args.out = verge_node_output(ctx, node, 0)->data;
    verge_ops_parallel(ctx, s->units, s->grain, mean_units, &job);
    return VERGE_OK;
}

void verge_logistic_fast_prepare(verge_op_context *ctx, const verge_node *node)
{
    const logistic_fn fn = select_logistic();
    logistic_state *s;

    if (fn == NULL || verge_tensor_count(verge_node_output(ctx, node, 0)) == 0)
        return;
    s = state_alloc(sizeof(*s), 0, NULL);
    if (s == NULL)
        return;
    s->fn = fn;
    s->count = verge_tensor_count(verge_node_output(ctx, node, 0));
    ctx->node_data = s;
}

typedef struct logistic_job {
    logistic_fn fn;
    const float *in;
    float *out;
} logistic_job;

static void logistic_range(void *arg, size_t begin, size_t end)
{
    const logistic_job *job = arg;

    job->fn(job->in + begin, job->out + begin, end - begin);
}

verge_status verge_logistic_fast_invoke(verge_op_context *ctx, const verge_node *node)
{
    const logistic_state *s = ctx->node_data;
    logistic_job job = {
        .fn = s->fn,
        .in = verge_node_input(ctx, node, 0)->data,
        .out = verge_node_output(ctx, node, 0)->data,
    };

    verge_ops_parallel(ctx, s->count, MIN_RANGE_LOGISTIC, logistic_range, &job);
    return VERGE_OK;
}
