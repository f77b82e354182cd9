/*
 * Prepare and invoke of the element-wise and pooling fast paths (see
 * src/ops/fast.h). Prepare stores a small state with the chosen kernel and
 * the inputs' layouts or the window geometry; invoke splits large tensors
 * among the threads.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/cpu.h"
#include "ops/common.h"
#include "ops/fast.h"
#include "ops/parallel.h"

/* Elements per range of work: smaller tensors are not worth waking the workers for. */
enum { ELEMENTWISE_GRAIN = 16384 };

typedef void (*binary_fn)(const verge_binary_args *args, size_t begin, size_t end);
typedef void (*unary_fn)(const verge_unary_args *args, size_t begin, size_t end);
typedef void (*pool_fn)(const verge_pool_args *args, size_t row_begin, size_t row_end);

typedef enum elementwise_kind { KIND_UNARY, KIND_BINARY, KIND_POOL } elementwise_kind;

typedef struct elementwise_state {
    elementwise_kind kind;
    binary_fn binary_fn;
    unary_fn unary_fn;
    pool_fn pool_fn;
    verge_binary_args b;        /* data pointers are filled in at invoke */
    verge_unary_args u;
    verge_pool_args p;
    size_t count;               /* elements, or output rows for pooling */
    size_t grain;               /* of `count` per range of work */
} elementwise_state;

static bool fast_activation(verge_activation activation)
{
    return activation == VERGE_ACT_NONE || activation == VERGE_ACT_RELU ||
           activation == VERGE_ACT_RELU_N1_TO_1 || activation == VERGE_ACT_RELU6;
}

/*
 * How `input` maps onto `out`: FULL when it has as many elements, SCALAR
 * for one element, ROW when its dimensions (leading 1s aside) equal the
 * output's last ones; *period is then their product. Returns false for any
 * other broadcast.
 */
static bool input_layout(const verge_tensor *input, const verge_tensor *out,
                         verge_fast_layout *layout, size_t *period)
{
    size_t count = verge_tensor_count(input);
    int first = 0, k;

    if (count == verge_tensor_count(out)) {
        *layout = VERGE_FAST_FULL;
        return true;
    }
    if (count == 1) {
        *layout = VERGE_FAST_SCALAR;
        return true;
    }
    while (first < input->rank && input->dims[first] == 1)
        first++;
    k = input->rank - first;
    if (k < 1 || k > out->rank)
        return false;
    for (int d = 0; d < k; d++) {
        if (input->dims[first + d] != out->dims[out->rank - k + d])
            return false;
    }
    *layout = VERGE_FAST_ROW;
    *period = count;
    return true;
}

/* The micro-kernels of the selected instruction set, or NULL when it has none. */
static binary_fn select_binary(void)
{
#ifdef VERGE_HAVE_AVX2
    verge_cpu_isa isa = verge_cpu_isa_selected();

    if (isa == VERGE_CPU_AVX2 || isa == VERGE_CPU_AVX512)
        return verge_binary_f32_avx2;
#endif
#ifdef VERGE_HAVE_NEON
    if (verge_cpu_isa_selected() == VERGE_CPU_NEON)
        return verge_binary_f32_neon;
#endif
    return NULL;
}

static unary_fn select_unary(void)
{
#ifdef VERGE_HAVE_AVX2
    verge_cpu_isa isa = verge_cpu_isa_selected();

    if (isa == VERGE_CPU_AVX2 || isa == VERGE_CPU_AVX512)
        return verge_unary_f32_avx2;
#endif
#ifdef VERGE_HAVE_NEON
    if (verge_cpu_isa_selected() == VERGE_CPU_NEON)
        return verge_unary_f32_neon;
#endif
    return NULL;
}

static pool_fn select_pool(void)
{
#ifdef VERGE_HAVE_AVX2
    verge_cpu_isa isa = verge_cpu_isa_selected();

    if (isa == VERGE_CPU_AVX2 || isa == VERGE_CPU_AVX512)
        return verge_pool_f32_avx2;
#endif
#ifdef VERGE_HAVE_NEON
    if (verge_cpu_isa_selected() == VERGE_CPU_NEON)
        return verge_pool_f32_neon;
#endif
    return NULL;
}

static elementwise_state *state_new(verge_op_context *ctx)
{
    elementwise_state *s = calloc(1, sizeof(*s));

    if (s == NULL)
        verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate element-wise kernel state");
    ctx->node_data = s;
    return s;
}

verge_status verge_binary_fast_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *a = verge_node_input(ctx, node, 0);
    const verge_tensor *b = verge_node_input(ctx, node, 1);
    const verge_tensor *out = verge_node_output(ctx, node, 0);
    verge_activation activation = VERGE_ACT_NONE;
    verge_fast_layout layout_a, layout_b;
    size_t period_a = 1, period_b = 1;
    binary_fn fn;
    elementwise_state *s;

    if (node->op == VERGE_OP_ADD || node->op == VERGE_OP_SUB || node->op == VERGE_OP_MUL)
        activation = node->params.activation.activation;
    else if (node->op != VERGE_OP_MAXIMUM && node->op != VERGE_OP_MINIMUM)
        return VERGE_OK;
    if ((fn = select_binary()) == NULL || !fast_activation(activation) ||
        verge_tensor_count(out) == 0 || !input_layout(a, out, &layout_a, &period_a) ||
        !input_layout(b, out, &layout_b, &period_b))
        return VERGE_OK;
    if (layout_a == VERGE_FAST_ROW && layout_b == VERGE_FAST_ROW && period_a != period_b)
        return VERGE_OK;

    if ((s = state_new(ctx)) == NULL)
        return VERGE_STATUS_OUT_OF_MEMORY;
    s->kind = KIND_BINARY;
    s->binary_fn = fn;
    s->count = verge_tensor_count(out);
    s->grain = ELEMENTWISE_GRAIN;
    s->b = (verge_binary_args){
        .op = node->op,
        .activation = activation,
        .layout_a = layout_a,
        .layout_b = layout_b,
        .period = layout_a == VERGE_FAST_ROW ? period_a : period_b,
    };
    return VERGE_OK;
}

verge_status verge_unary_fast_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *out = verge_node_output(ctx, node, 0);
    unary_fn fn;
    elementwise_state *s;

    if (node->op != VERGE_OP_RELU && node->op != VERGE_OP_RELU6 &&
        node->op != VERGE_OP_RELU_N1_TO_1 && node->op != VERGE_OP_LEAKY_RELU &&
        node->op != VERGE_OP_HARD_SWISH)
        return VERGE_OK;
    if ((fn = select_unary()) == NULL || verge_tensor_count(out) == 0)
        return VERGE_OK;

    if ((s = state_new(ctx)) == NULL)
        return VERGE_STATUS_OUT_OF_MEMORY;
    s->kind = KIND_UNARY;
    s->unary_fn = fn;
    s->count = verge_tensor_count(out);
    s->grain = ELEMENTWISE_GRAIN;
    s->u = (verge_unary_args){
        .op = node->op,
        .alpha = node->op == VERGE_OP_LEAKY_RELU ? node->params.leaky_relu.alpha : 0.0f,
    };
    return VERGE_OK;
}

verge_status verge_pool_fast_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_pool_params *params = &node->params.pool;
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    const verge_tensor *out = verge_node_output(ctx, node, 0);
    int64_t out_size, pad_top, pad_left;
    size_t row_cells;
    pool_fn fn;
    elementwise_state *s;

    if ((node->op != VERGE_OP_MAX_POOL_2D && node->op != VERGE_OP_AVERAGE_POOL_2D) ||
        (fn = select_pool()) == NULL || !fast_activation(params->activation) ||
        verge_tensor_count(out) == 0)
        return VERGE_OK;

    if ((s = state_new(ctx)) == NULL)
        return VERGE_STATUS_OUT_OF_MEMORY;
    verge_ops_window(params->padding, input->dims[1], params->filter_h, params->stride_h, 1,
                     &out_size, &pad_top);
    verge_ops_window(params->padding, input->dims[2], params->filter_w, params->stride_w, 1,
                     &out_size, &pad_left);
    s->kind = KIND_POOL;
    s->pool_fn = fn;
    s->count = (size_t)out->dims[0] * out->dims[1];
    row_cells = (size_t)out->dims[2] * out->dims[3] * params->filter_h * params->filter_w;
    s->grain = row_cells >= ELEMENTWISE_GRAIN ? 1 : ELEMENTWISE_GRAIN / (row_cells ? row_cells : 1);
    s->p = (verge_pool_args){
        .average = node->op == VERGE_OP_AVERAGE_POOL_2D,
        .activation = params->activation,
        .in_h = input->dims[1], .in_w = input->dims[2], .channels = input->dims[3],
        .out_h = out->dims[1], .out_w = out->dims[2],
        .filter_h = params->filter_h, .filter_w = params->filter_w,
        .stride_h = params->stride_h, .stride_w = params->stride_w,
        .pad_top = (int32_t)pad_top, .pad_left = (int32_t)pad_left,
    };
    return VERGE_OK;
}

typedef struct elementwise_job {
    const elementwise_state *s;
    verge_binary_args b;
    verge_unary_args u;
    verge_pool_args p;
} elementwise_job;

static void elementwise_range(void *arg, size_t begin, size_t end)
{
    const elementwise_job *job = arg;

    switch (job->s->kind) {
    case KIND_BINARY: job->s->binary_fn(&job->b, begin, end); break;
    case KIND_UNARY: job->s->unary_fn(&job->u, begin, end); break;
    case KIND_POOL: job->s->pool_fn(&job->p, begin, end); break;
    }
}

verge_status verge_elementwise_fast_invoke(verge_op_context *ctx, const verge_node *node)
{
    const elementwise_state *s = ctx->node_data;
    elementwise_job job = {.s = s, .b = s->b, .u = s->u, .p = s->p};

    switch (s->kind) {
    case KIND_BINARY:
        job.b.a = verge_node_input(ctx, node, 0)->data;
        job.b.b = verge_node_input(ctx, node, 1)->data;
        job.b.out = verge_node_output(ctx, node, 0)->data;
        break;
    case KIND_UNARY:
        job.u.in = verge_node_input(ctx, node, 0)->data;
        job.u.out = verge_node_output(ctx, node, 0)->data;
        break;
    case KIND_POOL:
        job.p.in = verge_node_input(ctx, node, 0)->data;
        job.p.out = verge_node_output(ctx, node, 0)->data;
        break;
    }
    verge_ops_parallel(ctx, s->count, s->grain, elementwise_range, &job);
    return VERGE_OK;
}
