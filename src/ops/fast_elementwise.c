/*
 * Prepare and invoke of the element-wise fast paths (see src/ops/fast.h).
 * Prepare stores a small state with the chosen micro-kernel and the inputs'
 * layouts; invoke splits large tensors among the threads.
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

typedef struct elementwise_state {
    bool binary;
    binary_fn binary_fn;
    unary_fn unary_fn;
    verge_binary_args b;        /* data pointers are filled in at invoke */
    verge_unary_args u;
    size_t count;
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
    if (verge_cpu_isa_selected() >= VERGE_CPU_AVX2)
        return verge_binary_f32_avx2;
#endif
    return NULL;
}

static unary_fn select_unary(void)
{
#ifdef VERGE_HAVE_AVX2
    if (verge_cpu_isa_selected() >= VERGE_CPU_AVX2)
        return verge_unary_f32_avx2;
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
    s->binary = true;
    s->binary_fn = fn;
    s->count = verge_tensor_count(out);
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
    s->unary_fn = fn;
    s->count = verge_tensor_count(out);
    s->u = (verge_unary_args){
        .op = node->op,
        .alpha = node->op == VERGE_OP_LEAKY_RELU ? node->params.leaky_relu.alpha : 0.0f,
    };
    return VERGE_OK;
}

typedef struct elementwise_job {
    const elementwise_state *s;
    verge_binary_args b;
    verge_unary_args u;
} elementwise_job;

static void elementwise_range(void *arg, size_t begin, size_t end)
{
    const elementwise_job *job = arg;

    if (job->s->binary)
        job->s->binary_fn(&job->b, begin, end);
    else
        job->s->unary_fn(&job->u, begin, end);
}

verge_status verge_elementwise_fast_invoke(verge_op_context *ctx, const verge_node *node)
{
    const elementwise_state *s = ctx->node_data;
    elementwise_job job = {.s = s, .b = s->b, .u = s->u};

    if (s->binary) {
        job.b.a = verge_node_input(ctx, node, 0)->data;
        job.b.b = verge_node_input(ctx, node, 1)->data;
        job.b.out = verge_node_output(ctx, node, 0)->data;
    } else {
        job.u.in = verge_node_input(ctx, node, 0)->data;
        job.u.out = verge_node_output(ctx, node, 0)->data;
    }
    verge_ops_parallel(ctx, s->count, ELEMENTWISE_GRAIN, elementwise_range, &job);
    return VERGE_OK;
}
