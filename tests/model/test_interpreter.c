/*
 * Interpreter tests on small graphs built by hand: the memory plan, constant
 * folding, and the errors for unsupported operators and broken dataflow.
 */
#include <string.h>

#include "check.h"
#include "model/graph.h"
#include "verge/interpreter.h"

enum { MAX_TENSORS = 8, MAX_NODES = 8 };

typedef struct test_model {
    struct verge_model model;
    verge_graph graph;
    verge_tensor tensors[MAX_TENSORS];
    verge_node nodes[MAX_NODES];
    int32_t io[MAX_NODES][4];
    int32_t inputs[2];
    int32_t outputs[2];
} test_model;

static void init_model(test_model *m, int num_tensors, int elements)
{
    memset(m, 0, sizeof(*m));
    m->model.path = "hand-built";
    m->model.num_graphs = 1;
    m->model.graphs = &m->graph;
    m->graph.name = "main";
    m->graph.tensors = m->tensors;
    m->graph.num_tensors = num_tensors;
    m->graph.nodes = m->nodes;
    m->graph.inputs = m->inputs;
    m->graph.outputs = m->outputs;
    for (int t = 0; t < num_tensors; t++) {
        m->tensors[t].name = "t";
        m->tensors[t].dtype = VERGE_DTYPE_FLOAT32;
        m->tensors[t].rank = 1;
        m->tensors[t].dims[0] = elements;
        m->tensors[t].bytes = (size_t)elements * sizeof(float);
        m->tensors[t].storage = VERGE_STORAGE_ARENA;
    }
}

static void add_node(test_model *m, int op, int input0, int input1, int output)
{
    int n = m->graph.num_nodes++;
    verge_node *node = &m->nodes[n];

    node->op = op;
    node->version = 1;
    node->inputs = m->io[n];
    node->outputs = m->io[n] + 2;
    node->inputs[0] = input0;
    node->inputs[1] = input1;
    node->num_inputs = input1 == -2 ? 1 : 2;
    node->outputs[0] = output;
    node->num_outputs = 1;
}

/*
 * in -> RELU -> t1 -> RELU -> t2 -> RELU -> out. The input stays alive
 * throughout, t1 and out can share a buffer, so three buffers suffice.
 */
static void chain_reuses_memory(void)
{
    test_model m;
    verge_interpreter *it = NULL;
    const int elements = 100;

    init_model(&m, 4, elements);
    add_node(&m, VERGE_OP_RELU, 0, -2, 1);
    add_node(&m, VERGE_OP_RELU, 1, -2, 2);
    add_node(&m, VERGE_OP_RELU, 2, -2, 3);
    m.inputs[0] = 0;
    m.graph.num_inputs = 1;
    m.outputs[0] = 3;
    m.graph.num_outputs = 1;

    CHECK_OK(verge_interpreter_create(&m.model, NULL, &it));
    if (it == NULL)
        return;
    /* 400 bytes round up to 448 (64-byte alignment). */
    CHECK_EQ_INT(verge_interpreter_arena_size(it), 3 * 448);
    {
        float *x = verge_interpreter_input(it, 0)->data;
        for (int i = 0; i < elements; i++)
            x[i] = (float)(i - 50);
    }
    CHECK_OK(verge_interpreter_invoke(it));
    {
        const float *y = verge_interpreter_output(it, 0)->data;
        CHECK_NEAR(y[0], 0, 0);
        CHECK_NEAR(y[99], 49, 0);
    }
    verge_interpreter_destroy(it);
}

/* Tensors alive at the same step never share bytes. */
static void live_tensors_do_not_overlap(void)
{
    test_model m;
    verge_interpreter *it = NULL;

    /* t0 (input) -> RELU -> t1; ADD(t0, t1) -> t2; ADD(t2, t1) -> t3 */
    init_model(&m, 4, 16);
    add_node(&m, VERGE_OP_RELU, 0, -2, 1);
    add_node(&m, VERGE_OP_ADD, 0, 1, 2);
    add_node(&m, VERGE_OP_ADD, 2, 1, 3);
    m.inputs[0] = 0;
    m.graph.num_inputs = 1;
    m.outputs[0] = 3;
    m.graph.num_outputs = 1;

    CHECK_OK(verge_interpreter_create(&m.model, NULL, &it));
    if (it == NULL)
        return;
    {
        float *x = verge_interpreter_input(it, 0)->data;
        for (int i = 0; i < 16; i++)
            x[i] = (float)i - 8.0f;
    }
    CHECK_OK(verge_interpreter_invoke(it));
    {
        const float *y = verge_interpreter_output(it, 0)->data;
        for (int i = 0; i < 16; i++) {
            float x = (float)i - 8.0f;
            float relu = x > 0 ? x : 0;
            CHECK_NEAR(y[i], x + 2 * relu, 0);
        }
    }
    verge_interpreter_destroy(it);
}

/* ADD of two constants runs once at create time; only the second ADD runs per invoke. */
static void constants_are_folded(void)
{
    test_model m;
    verge_interpreter *it = NULL;
    float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};

    init_model(&m, 5, 4);
    m.tensors[0].storage = VERGE_STORAGE_CONSTANT;
    m.tensors[0].data = a;
    m.tensors[1].storage = VERGE_STORAGE_CONSTANT;
    m.tensors[1].data = b;
    add_node(&m, VERGE_OP_ADD, 0, 1, 2);
    add_node(&m, VERGE_OP_ADD, 2, 3, 4);
    m.inputs[0] = 3;
    m.graph.num_inputs = 1;
    m.outputs[0] = 4;
    m.graph.num_outputs = 1;

    CHECK_OK(verge_interpreter_create(&m.model, NULL, &it));
    if (it == NULL)
        return;
    /* Only the input and the output are in the arena: 2 x 64 bytes. */
    CHECK_EQ_INT(verge_interpreter_arena_size(it), 128);
    {
        float *x = verge_interpreter_input(it, 0)->data;
        for (int i = 0; i < 4; i++)
            x[i] = 0.5f;
    }
    CHECK_OK(verge_interpreter_invoke(it));
    {
        const float *y = verge_interpreter_output(it, 0)->data;
        CHECK_NEAR(y[0], 11.5, 0);
        CHECK_NEAR(y[3], 44.5, 0);
    }
    verge_interpreter_destroy(it);
}

static void unsupported_operator_is_named(void)
{
    test_model m;
    verge_interpreter *it = NULL;

    init_model(&m, 2, 4);
    add_node(&m, 160, 0, -2, 1); /* BITWISE_XOR */
    m.inputs[0] = 0;
    m.graph.num_inputs = 1;
    m.outputs[0] = 1;
    m.graph.num_outputs = 1;
    CHECK_STATUS(verge_interpreter_create(&m.model, NULL, &it), VERGE_STATUS_UNSUPPORTED);
    CHECK(it == NULL);
    CHECK_MSG(strstr(verge_error_message(), "node 0 (BITWISE_XOR)") != NULL, "message: %s",
              verge_error_message());

    m.nodes[0].op = VERGE_OP_CUSTOM;
    m.nodes[0].custom_name = "MyFancyOp";
    CHECK_STATUS(verge_interpreter_create(&m.model, NULL, &it), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "custom operator 'MyFancyOp'") != NULL, "message: %s",
              verge_error_message());
}

static void broken_dataflow_is_rejected(void)
{
    test_model m;
    verge_interpreter *it = NULL;

    /* Node 0 reads t2, which node 1 produces later. */
    init_model(&m, 3, 4);
    add_node(&m, VERGE_OP_RELU, 2, -2, 1);
    add_node(&m, VERGE_OP_RELU, 0, -2, 2);
    m.inputs[0] = 0;
    m.graph.num_inputs = 1;
    m.outputs[0] = 1;
    m.graph.num_outputs = 1;
    CHECK_STATUS(verge_interpreter_create(&m.model, NULL, &it), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "no earlier node produces") != NULL, "message: %s",
              verge_error_message());

    /* Two nodes write the same tensor. */
    init_model(&m, 2, 4);
    add_node(&m, VERGE_OP_RELU, 0, -2, 1);
    add_node(&m, VERGE_OP_RELU, 0, -2, 1);
    m.inputs[0] = 0;
    m.graph.num_inputs = 1;
    m.outputs[0] = 1;
    m.graph.num_outputs = 1;
    CHECK_STATUS(verge_interpreter_create(&m.model, NULL, &it), VERGE_STATUS_INVALID_MODEL);

    /* An output nobody produces. */
    init_model(&m, 3, 4);
    add_node(&m, VERGE_OP_RELU, 0, -2, 1);
    m.inputs[0] = 0;
    m.graph.num_inputs = 1;
    m.outputs[0] = 2;
    m.graph.num_outputs = 1;
    CHECK_STATUS(verge_interpreter_create(&m.model, NULL, &it), VERGE_STATUS_INVALID_MODEL);
}

static void arena_cap_is_enforced(void)
{
    test_model m;
    verge_interpreter *it = NULL;
    verge_interpreter_options options = {.max_arena_bytes = 1000};

    init_model(&m, 2, 1000);
    add_node(&m, VERGE_OP_RELU, 0, -2, 1);
    m.inputs[0] = 0;
    m.graph.num_inputs = 1;
    m.outputs[0] = 1;
    m.graph.num_outputs = 1;
    CHECK_STATUS(verge_interpreter_create(&m.model, &options, &it), VERGE_STATUS_OUT_OF_MEMORY);
    CHECK(it == NULL);
}

/*
 * IF picks a branch per invoke: graph 1 (then) applies RELU, graph 2 (else)
 * passes its input through unchanged.
 */
static void if_runs_the_chosen_branch(void)
{
    test_model main_graph, then_graph, else_graph;
    verge_graph graphs[3];
    verge_interpreter *it = NULL;
    verge_node_failure failure;
    int32_t if_io[3] = {1, 0, 2};

    /* Main: inputs t0 (float [4]) and t1 (bool [1]); IF(t1, t0) -> t2. */
    init_model(&main_graph, 3, 4);
    main_graph.tensors[1].dtype = VERGE_DTYPE_BOOL;
    main_graph.tensors[1].dims[0] = 1;
    main_graph.tensors[1].bytes = 1;
    main_graph.nodes[0] = (verge_node){.op = VERGE_OP_IF, .version = 1, .num_inputs = 2,
                                       .num_outputs = 1, .inputs = if_io, .outputs = if_io + 2};
    main_graph.nodes[0].params.if_graphs = (verge_if_params){.then_graph = 1, .else_graph = 2};
    main_graph.graph.num_nodes = 1;
    main_graph.inputs[0] = 0;
    main_graph.inputs[1] = 1;
    main_graph.graph.num_inputs = 2;
    main_graph.outputs[0] = 2;
    main_graph.graph.num_outputs = 1;

    init_model(&then_graph, 2, 4);
    add_node(&then_graph, VERGE_OP_RELU, 0, -2, 1);
    then_graph.inputs[0] = 0;
    then_graph.graph.num_inputs = 1;
    then_graph.outputs[0] = 1;
    then_graph.graph.num_outputs = 1;

    init_model(&else_graph, 1, 4);
    else_graph.inputs[0] = 0;
    else_graph.graph.num_inputs = 1;
    else_graph.outputs[0] = 0;
    else_graph.graph.num_outputs = 1;

    graphs[0] = main_graph.graph;
    graphs[1] = then_graph.graph;
    graphs[2] = else_graph.graph;
    main_graph.model.graphs = graphs;
    main_graph.model.num_graphs = 3;

    CHECK_OK(verge_interpreter_create(&main_graph.model, NULL, &it));
    if (it == NULL)
        return;
    for (int cond = 0; cond < 2; cond++) {
        float *x = verge_interpreter_input(it, 0)->data;
        const float *y;

        for (int i = 0; i < 4; i++)
            x[i] = (float)i - 2.0f;
        *(uint8_t *)verge_interpreter_input(it, 1)->data = (uint8_t)cond;
        CHECK_OK(verge_interpreter_invoke(it));
        y = verge_interpreter_output(it, 0)->data;
        CHECK_NEAR(y[0], cond ? 0.0 : -2.0, 0);
        CHECK_NEAR(y[1], cond ? 0.0 : -1.0, 0);
        CHECK_NEAR(y[3], 1.0, 0);
    }
    verge_interpreter_destroy(it);

    /* A node of a branch that cannot run is reported as that node, not as the IF. */
    then_graph.nodes[0].op = VERGE_OP_CUSTOM;
    then_graph.nodes[0].custom_name = "NoSuchOp";
    graphs[1] = then_graph.graph;
    CHECK_STATUS(verge_interpreter_create(&main_graph.model, NULL, &it),
                 VERGE_STATUS_UNSUPPORTED);
    verge_interpreter_last_failure(&failure);
    CHECK_EQ_INT(failure.graph, 1);
    CHECK_EQ_INT(failure.node, 0);
    CHECK_MSG(strstr(failure.reason, "'NoSuchOp'") != NULL, "reason: %s", failure.reason);
    CHECK_MSG(strstr(failure.reason, "node") == NULL, "reason: %s", failure.reason);
    CHECK_MSG(strstr(verge_error_message(), "node 0 (IF)") != NULL, "message: %s",
              verge_error_message());

    /* A branch that names the main graph would recurse: rejected, not followed. */
    then_graph.nodes[0].op = VERGE_OP_RELU;
    then_graph.nodes[0].custom_name = NULL;
    graphs[1] = then_graph.graph;
    main_graph.nodes[0].params.if_graphs.else_graph = 0;
    graphs[0] = main_graph.graph;
    CHECK_STATUS(verge_interpreter_create(&main_graph.model, NULL, &it),
                 VERGE_STATUS_INVALID_MODEL);
    verge_interpreter_last_failure(&failure);
    CHECK_EQ_INT(failure.graph, 0);
    CHECK_EQ_INT(failure.node, 0);

    /* A failure before the first node names no node. */
    CHECK_STATUS(verge_interpreter_create(NULL, NULL, &it), VERGE_STATUS_INVALID_ARGUMENT);
    verge_interpreter_last_failure(&failure);
    CHECK_EQ_INT(failure.graph, -1);
    CHECK_EQ_INT(failure.node, -1);
}

int main(void)
{
    RUN(chain_reuses_memory);
    RUN(live_tensors_do_not_overlap);
    RUN(constants_are_folded);
    RUN(unsupported_operator_is_named);
    RUN(broken_dataflow_is_rejected);
    RUN(arena_cap_is_enforced);
    RUN(if_runs_the_chosen_branch);
    return check_summary();
}
