/*
 * The interpreter: prepares a graph once and runs it many times.
 *
 * Preparation walks the nodes in execution order. For each node it resolves
 * a kernel and lets the kernel check the node and shape its outputs. When
 * every input is a constant, the node runs right away and its outputs become
 * new constants. This constant folding is how float16 weights behind
 * DEQUANTIZE and sparse weights behind DENSIFY are expanded once. The
 * remaining nodes form the execution plan. Their tensors share one arena,
 * laid out from tensor lifetimes so that tensors alive at the same time
 * never overlap.
 *
 * After a first preparation has given every tensor its shape, the fusion
 * pass (model/fuse.h) may merge nodes, such as an ADD and a RELU into the
 * CONV_2D before them. The runner then prepares its rewritten copy of the
 * nodes instead, and falls back to the graph's own nodes if that fails.
 *
 * RESHAPE, SQUEEZE and EXPAND_DIMS only give the same bytes a new shape.
 * Where their input and output are arena tensors and neither is a graph
 * input or output, the output becomes a view that shares the input's
 * bytes, and the node leaves the plan. The shared buffer then lives as long
 * as either tensor is read. VERGE_FUSE=0 turns this off along with fusion.
 *
 * Each graph runs in a graph_runner. An IF node owns one child runner per
 * branch subgraph. The child's inputs are bound to the IF node's input
 * tensors without a copy, and the chosen branch's outputs are copied into
 * the IF node's outputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/threadpool.h"
#include "model/fuse.h"
#include "model/graph.h"
#include "ops/ops.h"
#include "verge/interpreter.h"

enum {
    ARENA_ALIGNMENT = 64,
    MAX_GRAPH_DEPTH = 8, /* nesting of IF branches; deeper models are rejected */
};

typedef struct graph_runner graph_runner;

/* What every runner of one interpreter shares: the workers and the profiling hook. */
typedef struct runner_shared {
    verge_threadpool *pool;          /* NULL: one thread */
    verge_profile_hook hook;         /* NULL: no profiling */
    void *hook_user;
} runner_shared;

struct graph_runner {
    const verge_model *model;
    const verge_graph *graph;
    int graph_index;
    int depth;
    const runner_shared *shared;
    bool inputs_bound;               /* input data is set by the parent before each run */
    const verge_node *nodes;         /* the nodes that run: graph->nodes or fusion.nodes */
    verge_fusion fusion;             /* merged nodes; empty when nothing was fused */
    verge_tensor *tensors;           /* this runner's copy of the graph's tensors */
    const verge_kernel **kernels;    /* per node; NULL for IF nodes */
    void **node_data;                /* per node: the state its kernel's prepare kept */
    graph_runner **branches;         /* per node: [2 * n] then, [2 * n + 1] else (IF only) */
    int *plan;                       /* indices of the nodes that run at invoke */
    int plan_length;
    int32_t *view_of;                /* per tensor: the tensor whose bytes it shares, or
                                        VERGE_NO_TENSOR; NULL when there are no views */
    void **folded;                   /* buffers of constant-folded outputs */
    int num_folded;
    uint8_t *arena;
    size_t arena_size;
    size_t max_arena_bytes;
    verge_op_context context;
};

struct verge_interpreter {
    graph_runner *main;
    runner_shared shared;
};

/* Lifetime of an arena tensor in plan steps: produced at `first`, last read at `last`. */
typedef struct tensor_lifetime {
    int tensor;
    int first;
    int last;
    size_t bytes;
    size_t offset;
} tensor_lifetime;

static verge_status runner_create(const verge_model *model, int graph_index, int depth,
                                  size_t max_arena_bytes, const verge_tensor *inputs, bool bound,
                                  const runner_shared *shared, graph_runner **out);
static void runner_destroy(graph_runner *runner);
static verge_status runner_run(graph_runner *runner);

static size_t align_up(size_t value, size_t alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

static const char *node_op_name(const verge_node *node)
{
    const char *name;

    if (node->op == VERGE_OP_CUSTOM && node->custom_name != NULL)
        return node->custom_name;
    name = verge_op_name(node->op);
    return name != NULL ? name : "unknown operator";
}

/* The node at which the last failing create, resize or invoke of this thread stopped. */
static _Thread_local verge_node_failure last_failure = {.graph = -1, .node = -1};

static void forget_failure(void)
{
    last_failure.graph = -1;
    last_failure.node = -1;
    last_failure.reason[0] = '\0';
}

/*
 * Puts the model path and the node in front of the error message. The first
 * call after forget_failure() is the innermost node (an IF passes its
 * branch's failure up), so that one is recorded with the message as it was.
 */
static verge_status node_failure(const graph_runner *r, int index, verge_status status)
{
    const verge_node *node = &r->nodes[index];

    if (last_failure.graph < 0) {
        last_failure.graph = r->graph_index;
        last_failure.node = index;
        snprintf(last_failure.reason, sizeof(last_failure.reason), "%s", verge_error_message());
    }
    if (r->graph_index == 0)
        return verge_fail_prefix(status, "%s: node %d (%s)", verge_model_path(r->model), index,
                                 node_op_name(node));
    return verge_fail_prefix(status, "%s: subgraph %d node %d (%s)", verge_model_path(r->model),
                             r->graph_index, index, node_op_name(node));
}

/* Frees what the previous preparation built, keeping the tensors' input shapes. */
static void runner_reset(graph_runner *r)
{
    if (r->branches != NULL) {
        for (int i = 0; i < 2 * r->graph->num_nodes; i++)
            runner_destroy(r->branches[i]);
    }
    for (int n = 0; r->node_data != NULL && n < r->graph->num_nodes; n++) {
        if (r->node_data[n] == NULL)
            continue;
        if (r->kernels[n]->release != NULL)
            r->kernels[n]->release(r->node_data[n]);
        else
            free(r->node_data[n]);
    }
    free(r->node_data);
    verge_fusion_free(&r->fusion);
    r->nodes = r->graph->nodes;
    for (int i = 0; i < r->num_folded; i++)
        free(r->folded[i]);
    free(r->folded);
    free(r->arena);
    free(r->plan);
    free(r->view_of);
    free(r->kernels);
    free(r->branches);
    r->folded = NULL;
    r->num_folded = 0;
    r->arena = NULL;
    r->arena_size = 0;
    r->plan = NULL;
    r->plan_length = 0;
    r->view_of = NULL;
    r->kernels = NULL;
    r->node_data = NULL;
    r->branches = NULL;
}

/* Allocates owned memory for the outputs of node `index`, which is about to run once. */
static verge_status allocate_constant_outputs(graph_runner *r, const verge_node *node)
{
    void **grown;

    grown = realloc(r->folded, sizeof(*grown) * (size_t)(r->num_folded + node->num_outputs));
    if (grown == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate folded constants");
    r->folded = grown;

    for (int o = 0; o < node->num_outputs; o++) {
        verge_tensor *out = &r->tensors[node->outputs[o]];
        void *data = aligned_alloc(ARENA_ALIGNMENT, align_up(out->bytes ? out->bytes : 1,
                                                             ARENA_ALIGNMENT));

        if (data == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                              "cannot allocate %zu bytes for constant tensor '%s'", out->bytes,
                              out->name);
        r->folded[r->num_folded++] = data;
        out->data = data;
    }
    return VERGE_OK;
}

/* Runs a node whose inputs are all constants and keeps its outputs as constants. */
static verge_status fold_node(graph_runner *r, int index)
{
    const verge_node *node = &r->nodes[index];
    verge_status status = allocate_constant_outputs(r, node);

    if (status != VERGE_OK)
        return status;
    r->context.node_data = r->node_data[index];
    status = r->kernels[index]->invoke(&r->context, node);
    if (status != VERGE_OK)
        return status;
    for (int o = 0; o < node->num_outputs; o++)
        r->tensors[node->outputs[o]].storage = VERGE_STORAGE_CONSTANT;
    return VERGE_OK;
}

/*
 * Checks that every input of node `index` is available (a constant, a graph
 * input or an output of an earlier node) and that its outputs are written
 * only here. `produced` marks tensors that have a value.
 */
static verge_status check_dataflow(const graph_runner *r, int index, bool *produced)
{
    const verge_node *node = &r->nodes[index];

    for (int i = 0; i < node->num_inputs; i++) {
        int t = node->inputs[i];

        if (t != VERGE_NO_TENSOR && !produced[t])
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input %d is tensor %d '%s', which no earlier node produces", i, t,
                              r->tensors[t].name);
    }
    for (int o = 0; o < node->num_outputs; o++) {
        int t = node->outputs[o];

        if (produced[t])
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "output %d is tensor %d '%s', which already has a value "
                              "(a constant, a graph input or another node's output)",
                              o, t, r->tensors[t].name);
        produced[t] = true;
    }
    return VERGE_OK;
}

/*
 * Prepares an IF node: condition, then one child runner per branch whose
 * inputs take the shapes of the node's remaining inputs. Both branches must
 * give outputs of the same dtype and shape, which become the node's.
 */
static verge_status prepare_if(graph_runner *r, int index)
{
    const verge_node *node = &r->nodes[index];
    const verge_if_params *p = &node->params.if_graphs;
    const int branch_graphs[2] = {p->then_graph, p->else_graph};
    const verge_tensor *cond;
    verge_status status;

    if (node->num_inputs < 1 || node->inputs[0] == VERGE_NO_TENSOR)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "IF needs a condition input");
    cond = &r->tensors[node->inputs[0]];
    if (cond->dtype != VERGE_DTYPE_BOOL || verge_tensor_count(cond) != 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "the condition '%s' must be one bool value, not %s with %zu elements",
                          cond->name, verge_dtype_name(cond->dtype), verge_tensor_count(cond));
    if (r->depth + 1 >= MAX_GRAPH_DEPTH)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "IF branches nest deeper than %d levels (or call themselves)",
                          MAX_GRAPH_DEPTH);

    for (int b = 0; b < 2; b++) {
        const verge_graph *branch;
        verge_tensor bound[VERGE_MAX_RANK * 8];
        int g = branch_graphs[b];

        if (g <= 0 || g >= r->model->num_graphs)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "%s subgraph index %d is out of range 1..%d", b ? "else" : "then",
                              g, r->model->num_graphs - 1);
        branch = &r->model->graphs[g];
        if (branch->num_inputs != node->num_inputs - 1 ||
            branch->num_outputs != node->num_outputs)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "subgraph %d has %d inputs and %d outputs, but the IF node passes "
                              "%d and expects %d", g, branch->num_inputs, branch->num_outputs,
                              node->num_inputs - 1, node->num_outputs);
        if (branch->num_inputs > (int)VERGE_ARRAY_SIZE(bound))
            return verge_fail(VERGE_STATUS_UNSUPPORTED, "IF passes %d inputs; the limit is %d",
                              branch->num_inputs, (int)VERGE_ARRAY_SIZE(bound));
        for (int i = 0; i < branch->num_inputs; i++) {
            if (node->inputs[i + 1] == VERGE_NO_TENSOR)
                return verge_fail(VERGE_STATUS_INVALID_MODEL, "IF input %d is missing", i + 1);
            bound[i] = r->tensors[node->inputs[i + 1]];
        }
        status = runner_create(r->model, g, r->depth + 1, r->max_arena_bytes, bound, true,
                               r->shared, &r->branches[2 * index + b]);
        if (status != VERGE_OK)
            return status;
    }

    for (int o = 0; o < node->num_outputs; o++) {
        const graph_runner *then_branch = r->branches[2 * index];
        const graph_runner *else_branch = r->branches[2 * index + 1];
        const verge_tensor *a = &then_branch->tensors[then_branch->graph->outputs[o]];
        const verge_tensor *e = &else_branch->tensors[else_branch->graph->outputs[o]];

        if (a->dtype != e->dtype || a->rank != e->rank ||
            memcmp(a->dims, e->dims, sizeof(a->dims[0]) * (size_t)a->rank) != 0)
            return verge_fail(VERGE_STATUS_UNSUPPORTED,
                              "output %d has a different dtype or shape in each branch; "
                              "dynamic shapes are not supported", o);
        status = verge_tensor_set_shape(&r->tensors[node->outputs[o]], a->dtype, a->rank, a->dims);
        if (status != VERGE_OK)
            return status;
    }
    return VERGE_OK;
}

static verge_status run_if(graph_runner *r, const verge_node *node, int index)
{
    bool cond = *(const uint8_t *)r->tensors[node->inputs[0]].data != 0;
    graph_runner *branch = r->branches[2 * index + (cond ? 0 : 1)];
    verge_status status;

    for (int i = 0; i < branch->graph->num_inputs; i++)
        branch->tensors[branch->graph->inputs[i]].data = r->tensors[node->inputs[i + 1]].data;
    status = runner_run(branch);
    if (status != VERGE_OK)
        return status;
    for (int o = 0; o < node->num_outputs; o++) {
        const verge_tensor *from = &branch->tensors[branch->graph->outputs[o]];
        verge_tensor *to = &r->tensors[node->outputs[o]];

        memmove(to->data, from->data, to->bytes);
    }
    return VERGE_OK;
}

static verge_status prepare_nodes(graph_runner *r)
{
    const verge_graph *graph = r->graph;
    bool *produced;
    verge_status status = VERGE_OK;

    produced = calloc((size_t)graph->num_tensors + 1, sizeof(*produced));
    r->plan = malloc(sizeof(*r->plan) * ((size_t)graph->num_nodes + 1));
    r->kernels = calloc((size_t)graph->num_nodes + 1, sizeof(*r->kernels));
    r->node_data = calloc((size_t)graph->num_nodes + 1, sizeof(*r->node_data));
    r->branches = calloc(2 * (size_t)graph->num_nodes + 1, sizeof(*r->branches));
    if (produced == NULL || r->plan == NULL || r->kernels == NULL || r->node_data == NULL ||
        r->branches == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate the execution plan");
        goto done;
    }

    for (int t = 0; t < graph->num_tensors; t++)
        produced[t] = r->tensors[t].storage == VERGE_STORAGE_CONSTANT;
    for (int i = 0; i < graph->num_inputs; i++)
        produced[graph->inputs[i]] = true;

    /*
     * A tensor with no elements that no node writes (TFLite files use an
     * empty int32 [0] vector as RESHAPE's shape for a scalar) is a constant:
     * an empty one.
     */
    for (int t = 0; t < graph->num_tensors; t++) {
        static const int64_t empty;
        verge_tensor *tensor = &r->tensors[t];

        if (produced[t] || tensor->storage != VERGE_STORAGE_ARENA || verge_tensor_count(tensor) != 0)
            continue;
        for (int n = 0; n < graph->num_nodes && !produced[t]; n++) {
            for (int o = 0; o < r->nodes[n].num_outputs; o++)
                produced[t] = produced[t] || r->nodes[n].outputs[o] == t;
        }
        if (produced[t]) {
            produced[t] = false;
            continue;
        }
        tensor->storage = VERGE_STORAGE_CONSTANT;
        tensor->data = (void *)&empty;
        produced[t] = true;
    }

    for (int n = 0; n < graph->num_nodes; n++) {
        const verge_node *node = &r->nodes[n];
        bool all_constant = node->num_inputs > 0;

        if (r->fusion.dropped != NULL && r->fusion.dropped[n])
            continue;

        if (node->op == VERGE_OP_IF) {
            status = check_dataflow(r, n, produced);
            if (status == VERGE_OK)
                status = prepare_if(r, n);
            if (status != VERGE_OK) {
                status = node_failure(r, n, status);
                goto done;
            }
            r->plan[r->plan_length++] = n;
            continue;
        }

        r->kernels[n] = verge_kernel_find(node->op, node->custom_name);
        if (r->kernels[n] == NULL) {
            if (node->op == VERGE_OP_CUSTOM)
                status = verge_fail(VERGE_STATUS_UNSUPPORTED,
                                    "custom operator '%s' is not supported by this build",
                                    node->custom_name ? node->custom_name : "");
            else
                status = verge_fail(VERGE_STATUS_UNSUPPORTED,
                                    "operator %s (code %d) is not supported by this build",
                                    verge_op_name(node->op) ? verge_op_name(node->op) : "unknown",
                                    node->op);
            status = node_failure(r, n, status);
            goto done;
        }

        status = check_dataflow(r, n, produced);
        if (status == VERGE_OK) {
            r->context.node_data = NULL;
            status = r->kernels[n]->prepare(&r->context, node);
            r->node_data[n] = r->context.node_data; /* kept even on failure, to be freed */
        }
        if (status != VERGE_OK) {
            status = node_failure(r, n, status);
            goto done;
        }

        for (int i = 0; i < node->num_inputs; i++) {
            int t = node->inputs[i];

            if (t != VERGE_NO_TENSOR && r->tensors[t].storage != VERGE_STORAGE_CONSTANT)
                all_constant = false;
        }
        if (all_constant) {
            status = fold_node(r, n);
            if (status != VERGE_OK) {
                status = node_failure(r, n, status);
                goto done;
            }
        } else {
            r->plan[r->plan_length++] = n;
        }
    }

    for (int i = 0; i < graph->num_outputs; i++) {
        int t = graph->outputs[i];

        if (!produced[t]) {
            status = verge_fail(VERGE_STATUS_INVALID_MODEL,
                                "%s: graph output %d is tensor %d '%s', which no node produces",
                                verge_model_path(r->model), i, t, r->tensors[t].name);
            goto done;
        }
    }

done:
    free(produced);
    return status;
}

static int compare_by_size_desc(const void *a, const void *b)
{
    const tensor_lifetime *x = a;
    const tensor_lifetime *y = b;

    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    return x->tensor - y->tensor;
}

/*
 * Places each arena tensor, largest first, at the lowest offset where it does
 * not overlap a tensor already placed whose lifetime intersects its own.
 */
static verge_status place_tensors(tensor_lifetime *items, int count, size_t *arena_size)
{
    size_t end;

    qsort(items, (size_t)count, sizeof(*items), compare_by_size_desc);
    for (int i = 0; i < count; i++) {
        size_t offset = 0;
        size_t need = align_up(items[i].bytes, ARENA_ALIGNMENT);
        bool moved = true;

        /* Move past every conflicting placed tensor until a gap fits. */
        while (moved) {
            moved = false;
            for (int j = 0; j < i; j++) {
                const tensor_lifetime *other = &items[j];
                size_t other_end = other->offset + align_up(other->bytes, ARENA_ALIGNMENT);

                if (other->last < items[i].first || items[i].last < other->first)
                    continue;
                if (offset < other_end && other->offset < offset + need) {
                    offset = other_end;
                    moved = true;
                }
            }
        }
        items[i].offset = offset;
        if (!verge_size_add(offset, need, &end))
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "the arena size overflows size_t");
        if (end > *arena_size)
            *arena_size = end;
    }
    return VERGE_OK;
}

/* The tensor that owns the bytes of tensor t: t itself unless t is a view. */
static int view_root(const graph_runner *r, int t)
{
    return r->view_of != NULL && r->view_of[t] != VERGE_NO_TENSOR ? r->view_of[t] : t;
}

/*
 * Turns the RESHAPE, SQUEEZE and EXPAND_DIMS nodes of the plan whose kernel
 * would only copy into views (see the top of this file) and takes them out
 * of the plan.
 */
static verge_status plan_views(graph_runner *r)
{
    const verge_graph *graph = r->graph;
    bool *graph_io;
    int remaining = 0;

    if (!verge_fusion_enabled())
        return VERGE_OK;
    graph_io = calloc((size_t)graph->num_tensors + 1, sizeof(*graph_io));
    r->view_of = malloc(sizeof(*r->view_of) * ((size_t)graph->num_tensors + 1));
    if (graph_io == NULL || r->view_of == NULL) {
        free(graph_io);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate the tensor views");
    }
    for (int t = 0; t < graph->num_tensors; t++)
        r->view_of[t] = VERGE_NO_TENSOR;
    for (int i = 0; i < graph->num_inputs; i++)
        graph_io[graph->inputs[i]] = true;
    for (int i = 0; i < graph->num_outputs; i++)
        graph_io[graph->outputs[i]] = true;

    for (int step = 0; step < r->plan_length; step++) {
        const verge_node *node = &r->nodes[r->plan[step]];
        const verge_tensor *in, *out;
        int32_t from, to;

        if ((node->op == VERGE_OP_RESHAPE || node->op == VERGE_OP_SQUEEZE ||
             node->op == VERGE_OP_EXPAND_DIMS) &&
            node->num_inputs >= 1 && node->num_outputs == 1 &&
            node->inputs[0] != VERGE_NO_TENSOR) {
            from = node->inputs[0];
            to = node->outputs[0];
            in = &r->tensors[from];
            out = &r->tensors[to];
            if (from != to && !graph_io[from] && !graph_io[to] &&
                in->storage == VERGE_STORAGE_ARENA && out->storage == VERGE_STORAGE_ARENA &&
                in->dtype == out->dtype && in->bytes == out->bytes) {
                r->view_of[to] = view_root(r, from);
                continue;
            }
        }
        r->plan[remaining++] = r->plan[step];
    }
    r->plan_length = remaining;
    free(graph_io);
    return VERGE_OK;
}

static verge_status plan_arena(graph_runner *r)
{
    const verge_graph *graph = r->graph;
    int *first = NULL;
    int *last = NULL;
    tensor_lifetime *items = NULL;
    int count = 0;
    size_t size = 0;
    verge_status status = VERGE_OK;

    first = malloc(sizeof(*first) * ((size_t)graph->num_tensors + 1));
    last = malloc(sizeof(*last) * ((size_t)graph->num_tensors + 1));
    items = malloc(sizeof(*items) * ((size_t)graph->num_tensors + 1));
    if (first == NULL || last == NULL || items == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate the memory plan");
        goto done;
    }
    for (int t = 0; t < graph->num_tensors; t++) {
        first[t] = -2;
        last[t] = -2;
    }

    /*
     * Graph inputs live from before the first step to after the last, so
     * invoking again without refilling them gives the same result. Outputs
     * live until after the last step. Bound inputs belong to the parent graph.
     */
    for (int i = 0; i < graph->num_inputs && !r->inputs_bound; i++) {
        first[graph->inputs[i]] = -1;
        last[graph->inputs[i]] = r->plan_length;
    }
    for (int step = 0; step < r->plan_length; step++) {
        const verge_node *node = &r->nodes[r->plan[step]];

        /* Reading a view keeps the bytes it shares alive. */
        for (int i = 0; i < node->num_inputs; i++) {
            int t = node->inputs[i] == VERGE_NO_TENSOR ? VERGE_NO_TENSOR
                                                       : view_root(r, node->inputs[i]);

            if (t != VERGE_NO_TENSOR && r->tensors[t].storage == VERGE_STORAGE_ARENA &&
                last[t] < step)
                last[t] = step;
        }
        for (int o = 0; o < node->num_outputs; o++) {
            int t = node->outputs[o];

            first[t] = step;
            if (last[t] < step)
                last[t] = step;
        }
    }
    for (int i = 0; i < graph->num_outputs; i++) {
        int t = graph->outputs[i];

        if (r->tensors[t].storage == VERGE_STORAGE_ARENA && first[t] != -2)
            last[t] = r->plan_length;
    }

    for (int t = 0; t < graph->num_tensors; t++) {
        if (first[t] == -2 || r->tensors[t].storage != VERGE_STORAGE_ARENA ||
            view_root(r, t) != t)
            continue;
        items[count++] = (tensor_lifetime){
            .tensor = t, .first = first[t], .last = last[t], .bytes = r->tensors[t].bytes};
    }

    status = place_tensors(items, count, &size);
    if (status != VERGE_OK)
        goto done;
    if (size > r->max_arena_bytes) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                            "%s: the activation arena needs %zu bytes, above the cap of %zu",
                            verge_model_path(r->model), size, r->max_arena_bytes);
        goto done;
    }

    r->arena_size = size;
    r->arena = aligned_alloc(ARENA_ALIGNMENT, size ? size : ARENA_ALIGNMENT);
    if (r->arena == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate a %zu-byte arena", size);
        goto done;
    }
    memset(r->arena, 0, size);
    for (int i = 0; i < count; i++)
        r->tensors[items[i].tensor].data = r->arena + items[i].offset;
    for (int t = 0; t < graph->num_tensors; t++) {
        if (view_root(r, t) != t)
            r->tensors[t].data = r->tensors[view_root(r, t)].data;
    }

done:
    free(first);
    free(last);
    free(items);
    return status;
}

/* Frees the previous preparation and restores every tensor except the graph inputs. */
static void runner_restore(graph_runner *r)
{
    const verge_graph *graph = r->graph;

    runner_reset(r);
    for (int t = 0; t < graph->num_tensors; t++) {
        bool is_input = false;

        for (int i = 0; i < graph->num_inputs; i++)
            is_input = is_input || graph->inputs[i] == t;
        if (is_input)
            continue;
        r->tensors[t] = graph->tensors[t];
        if (r->tensors[t].storage == VERGE_STORAGE_ARENA)
            r->tensors[t].data = NULL;
    }
}

/*
 * Prepares the graph's nodes merged as the fusion pass plans from the
 * prepared shapes. If nothing merges, the first preparation is kept. If the
 * merged nodes fail to prepare, the graph's own nodes are prepared again.
 */
static verge_status runner_fuse(graph_runner *r)
{
    verge_fusion fusion;
    verge_status status = verge_fusion_plan(r->graph, r->tensors, &fusion);

    if (status != VERGE_OK || fusion.nodes == NULL)
        return status;
    runner_restore(r);
    r->fusion = fusion;
    r->nodes = fusion.nodes;
    status = prepare_nodes(r);
    if (status != VERGE_OK) {
        /* A merged node that its kernel rejects is a bug in the fusion pass, not in the model. */
        verge_log(VERGE_LOG_WARNING, "%s: merged nodes failed to prepare (%s); running them "
                  "unmerged", verge_model_path(r->model), verge_error_message());
        runner_restore(r);
        status = prepare_nodes(r);
    }
    return status;
}

/* Restores the tensors, then prepares the nodes, merges what fuses and plans the arena. */
static verge_status runner_prepare(graph_runner *r)
{
    verge_status status;

    runner_restore(r);
    status = prepare_nodes(r);
    if (status == VERGE_OK)
        status = runner_fuse(r);
    if (status == VERGE_OK)
        status = plan_views(r);
    if (status == VERGE_OK)
        status = plan_arena(r);
    return status;
}

/*
 * Creates a runner for graph `graph_index`. With `inputs`, the graph's inputs
 * take those tensors' dtypes and shapes. With `bound` as well, they also take
 * their storage, and the caller sets their data pointers before each run.
 */
static verge_status runner_create(const verge_model *model, int graph_index, int depth,
                                  size_t max_arena_bytes, const verge_tensor *inputs, bool bound,
                                  const runner_shared *shared, graph_runner **out)
{
    const verge_graph *graph = &model->graphs[graph_index];
    graph_runner *r;
    verge_status status;

    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate an interpreter");
    r->model = model;
    r->graph = graph;
    r->graph_index = graph_index;
    r->depth = depth;
    r->shared = shared;
    r->nodes = graph->nodes;
    r->max_arena_bytes = max_arena_bytes;
    r->inputs_bound = bound;
    r->tensors = malloc(sizeof(*r->tensors) * ((size_t)graph->num_tensors + 1));
    if (r->tensors == NULL) {
        runner_destroy(r);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate tensors");
    }
    memcpy(r->tensors, graph->tensors, sizeof(*r->tensors) * (size_t)graph->num_tensors);
    for (int i = 0; i < graph->num_inputs; i++) {
        verge_tensor *in = &r->tensors[graph->inputs[i]];
        const verge_tensor *from = inputs != NULL ? &inputs[i] : in;

        if (from->dtype != in->dtype) {
            runner_destroy(r);
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "%s: subgraph %d input %d '%s' is %s, but %s is passed",
                              verge_model_path(model), graph_index, i, in->name,
                              verge_dtype_name(in->dtype), verge_dtype_name(from->dtype));
        }
        if (!bound && in->storage == VERGE_STORAGE_CONSTANT) {
            runner_destroy(r);
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "%s: graph input %d is tensor %d '%s', which is a constant",
                              verge_model_path(model), i, graph->inputs[i], in->name);
        }
        in->rank = from->rank;
        memcpy(in->dims, from->dims, sizeof(in->dims));
        in->bytes = from->bytes;
        in->data = NULL;
        in->storage = VERGE_STORAGE_ARENA;
        if (bound && from->storage == VERGE_STORAGE_CONSTANT) {
            in->data = from->data;
            in->storage = VERGE_STORAGE_CONSTANT;
        } else if (bound) {
            in->storage = VERGE_STORAGE_NONE;
        }
    }
    r->context.tensors = r->tensors;
    r->context.num_tensors = graph->num_tensors;
    r->context.pool = shared->pool;

    status = runner_prepare(r);
    if (status != VERGE_OK) {
        runner_destroy(r);
        return status;
    }
    *out = r;
    return VERGE_OK;
}

static void runner_destroy(graph_runner *r)
{
    if (r == NULL)
        return;
    runner_reset(r);
    free(r->tensors);
    free(r);
}

static uint64_t clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Runs one kernel node and reports its time to the profiling hook. */
static verge_status run_profiled(graph_runner *r, const verge_node *node, int n)
{
    verge_node_timing timing = {.graph = r->graph_index, .node = n, .op = node,
                                .tensors = r->tensors};
    uint64_t start = clock_ns();
    verge_status status = r->kernels[n]->invoke(&r->context, node);

    timing.ns = clock_ns() - start;
    r->shared->hook(r->shared->hook_user, &timing);
    return status;
}

static verge_status runner_run(graph_runner *r)
{
    for (int step = 0; step < r->plan_length; step++) {
        int n = r->plan[step];
        const verge_node *node = &r->nodes[n];
        verge_status status;

        r->context.node_data = r->node_data[n];
        if (node->op == VERGE_OP_IF && r->kernels[n] == NULL)
            status = run_if(r, node, n);
        else if (r->shared->hook != NULL)
            status = run_profiled(r, node, n);
        else
            status = r->kernels[n]->invoke(&r->context, node);
        if (status != VERGE_OK)
            return node_failure(r, n, status);
    }
    return VERGE_OK;
}

verge_status verge_interpreter_create(const verge_model *model,
                                      const verge_interpreter_options *options,
                                      verge_interpreter **interpreter)
{
    verge_interpreter_options defaults = {0};
    verge_interpreter *it;
    const verge_graph *graph;
    verge_tensor *inputs = NULL;
    size_t cap;
    verge_status status;

    *interpreter = NULL;
    forget_failure();
    if (model == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "no model given");
    if (options == NULL)
        options = &defaults;
    if (model->num_graphs < 1)
        return verge_fail(VERGE_STATUS_INVALID_MODEL, "%s: the model has no graph",
                          verge_model_path(model));
    if (options->threads < 0 || options->threads > VERGE_THREADPOOL_MAX_THREADS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: thread count %d is out of range "
                          "0..%d", verge_model_path(model), options->threads,
                          VERGE_THREADPOOL_MAX_THREADS);
    graph = &model->graphs[0];
    cap = options->max_arena_bytes ? options->max_arena_bytes : VERGE_DEFAULT_MAX_ARENA;

    /* The main graph's inputs: the file's shapes, replaced by any the caller gives. */
    inputs = malloc(sizeof(*inputs) * ((size_t)graph->num_inputs + 1));
    if (inputs == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate input tensors");
    for (int i = 0; i < graph->num_inputs; i++)
        inputs[i] = graph->tensors[graph->inputs[i]];
    for (int i = 0; i < options->num_input_shapes; i++) {
        const verge_input_shape *shape = &options->input_shapes[i];

        if (shape->index < 0 || shape->index >= graph->num_inputs) {
            free(inputs);
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "%s: input index %d is out of range; the model has %d inputs",
                              verge_model_path(model), shape->index, graph->num_inputs);
        }
        status = verge_tensor_set_shape(&inputs[shape->index], inputs[shape->index].dtype,
                                        shape->rank, shape->dims);
        if (status != VERGE_OK) {
            free(inputs);
            return verge_fail_prefix(VERGE_STATUS_INVALID_ARGUMENT, "%s: input %d",
                                     verge_model_path(model), shape->index);
        }
    }

    it = calloc(1, sizeof(*it));
    if (it == NULL) {
        free(inputs);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate an interpreter");
    }
    if (options->threads > 1) {
        status = verge_threadpool_create(options->threads, &it->shared.pool);
        if (status != VERGE_OK) {
            free(inputs);
            free(it);
            return verge_fail_prefix(status, "%s", verge_model_path(model));
        }
    }
    status = runner_create(model, 0, 0, cap, inputs, false, &it->shared, &it->main);
    free(inputs);
    if (status != VERGE_OK) {
        verge_threadpool_destroy(it->shared.pool);
        free(it);
        return status;
    }
    *interpreter = it;
    return VERGE_OK;
}

verge_status verge_interpreter_resize_input(verge_interpreter *it, int index, int rank,
                                            const int32_t *dims)
{
    graph_runner *r = it->main;
    verge_tensor *input;
    verge_tensor saved;
    verge_status status;

    forget_failure();
    if (index < 0 || index >= r->graph->num_inputs)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: input index %d is out of range; the model has %d inputs",
                          verge_model_path(r->model), index, r->graph->num_inputs);
    input = &r->tensors[r->graph->inputs[index]];
    saved = *input;
    status = verge_tensor_set_shape(input, input->dtype, rank, dims);
    if (status == VERGE_OK)
        status = runner_prepare(r);
    if (status != VERGE_OK) {
        /* Go back to the shapes that worked, so that the interpreter stays usable. */
        *input = saved;
        if (runner_prepare(r) != VERGE_OK)
            return verge_fail(VERGE_STATUS_INTERNAL, "%s: cannot restore the previous shapes",
                              verge_model_path(r->model));
        return status;
    }
    return VERGE_OK;
}

void verge_interpreter_destroy(verge_interpreter *it)
{
    if (it == NULL)
        return;
    runner_destroy(it->main);
    verge_threadpool_destroy(it->shared.pool);
    free(it);
}

void verge_interpreter_set_profile_hook(verge_interpreter *it, verge_profile_hook hook,
                                        void *user)
{
    it->shared.hook = hook;
    it->shared.hook_user = user;
}

int verge_interpreter_input_count(const verge_interpreter *it)
{
    return it->main->graph->num_inputs;
}

int verge_interpreter_output_count(const verge_interpreter *it)
{
    return it->main->graph->num_outputs;
}

verge_tensor *verge_interpreter_input(verge_interpreter *it, int index)
{
    if (index < 0 || index >= it->main->graph->num_inputs)
        return NULL;
    return &it->main->tensors[it->main->graph->inputs[index]];
}

const verge_tensor *verge_interpreter_output(const verge_interpreter *it, int index)
{
    if (index < 0 || index >= it->main->graph->num_outputs)
        return NULL;
    return &it->main->tensors[it->main->graph->outputs[index]];
}

size_t verge_interpreter_arena_size(const verge_interpreter *it)
{
    return it->main->arena_size;
}

verge_status verge_interpreter_invoke(verge_interpreter *it)
{
    forget_failure();
    return runner_run(it->main);
}

void verge_interpreter_last_failure(verge_node_failure *failure)
{
    *failure = last_failure;
}
