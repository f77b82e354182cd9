/*
 * Graph rewrites at prepare time, on small graphs built by hand:
 *   - a PAD of height and width folds into the CONV_2D or DEPTHWISE_CONV_2D
 *     that reads it (src/model/fuse.h), and the outputs keep every bit of
 *     the unfolded run on every kernel path, also with uneven padding;
 *   - a PAD stays where folding would change the graph's meaning: a second
 *     reader, a graph output, padded channels or batches, a fill value;
 *   - RESHAPE, SQUEEZE and EXPAND_DIMS become views that share their
 *     input's bytes (src/model/interpreter.c), so the node no longer runs
 *     and the arena shrinks. The shared bytes stay alive while any reader
 *     needs them. Graph inputs and outputs keep their own bytes.
 * VERGE_FUSE=0 turns every rewrite off and gives the reference runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/cpu.h"
#include "model/fuse.h"
#include "model/graph.h"
#include "verge/interpreter.h"

enum { MAX_TENSORS = 24, MAX_NODES = 12, MAX_IO = 4, MAX_DATA = 4096 };

/* PADV2 (pads with the value of input 2); verge has no kernel for it. */
enum { OP_PADV2 = 60 };

typedef struct graph_builder {
    struct verge_model model;
    verge_graph graph;
    verge_tensor tensors[MAX_TENSORS];
    verge_node nodes[MAX_NODES];
    int32_t io[MAX_NODES][MAX_IO + 1];
    int32_t inputs[2];
    int32_t outputs[2];
    float constants[MAX_TENSORS][MAX_DATA]; /* data of constant tensors */
} graph_builder;

static uint32_t rng_state = 12345;

static float random_float(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 23) - 1.0f;
}

static graph_builder *builder_create(void)
{
    graph_builder *g = calloc(1, sizeof(*g));

    g->model.path = "hand-built";
    g->model.num_graphs = 1;
    g->model.graphs = &g->graph;
    g->graph.name = "main";
    g->graph.tensors = g->tensors;
    g->graph.nodes = g->nodes;
    g->graph.inputs = g->inputs;
    g->graph.outputs = g->outputs;
    return g;
}

/* Adds a tensor; dims has `rank` entries. Arena storage unless made constant. */
static int add_tensor(graph_builder *g, verge_dtype dtype, int rank, const int32_t *dims)
{
    int t = g->graph.num_tensors++;
    verge_tensor *tensor = &g->tensors[t];
    size_t bytes = verge_dtype_size(dtype);

    tensor->name = "t";
    tensor->dtype = dtype;
    tensor->rank = rank;
    for (int d = 0; d < rank; d++) {
        tensor->dims[d] = dims[d];
        bytes *= (size_t)dims[d];
    }
    tensor->bytes = bytes;
    tensor->storage = VERGE_STORAGE_ARENA;
    return t;
}

static int add_f32(graph_builder *g, int rank, const int32_t *dims)
{
    return add_tensor(g, VERGE_DTYPE_FLOAT32, rank, dims);
}

/* A constant float32 tensor of random values in [-1, 1). */
static int add_random_constant(graph_builder *g, int rank, const int32_t *dims)
{
    int t = add_f32(g, rank, dims);

    for (size_t i = 0; i < g->tensors[t].bytes / sizeof(float); i++)
        g->constants[t][i] = random_float();
    g->tensors[t].storage = VERGE_STORAGE_CONSTANT;
    g->tensors[t].data = g->constants[t];
    return t;
}

/* A constant int32 tensor holding `count` values. */
static int add_int32_constant(graph_builder *g, int rank, const int32_t *dims,
                              const int32_t *values, int count)
{
    int t = add_tensor(g, VERGE_DTYPE_INT32, rank, dims);

    memcpy(g->constants[t], values, sizeof(int32_t) * (size_t)count);
    g->tensors[t].storage = VERGE_STORAGE_CONSTANT;
    g->tensors[t].data = g->constants[t];
    return t;
}

/* PAD paddings [4, 2]: before and after each of N, H, W, C. */
static int add_paddings(graph_builder *g, const int32_t amounts[8])
{
    return add_int32_constant(g, 2, (const int32_t[]){4, 2}, amounts, 8);
}

static verge_node *add_node(graph_builder *g, int op, int num_inputs, const int32_t *inputs,
                            int output)
{
    int n = g->graph.num_nodes++;
    verge_node *node = &g->nodes[n];

    node->op = op;
    node->version = 1;
    node->num_inputs = num_inputs;
    node->inputs = g->io[n];
    node->num_outputs = 1;
    node->outputs = g->io[n] + MAX_IO;
    memcpy(node->inputs, inputs, sizeof(int32_t) * (size_t)num_inputs);
    node->outputs[0] = output;
    return node;
}

/* A PAD node of `input` [n, h, w, c] by `amounts`; returns its output tensor. */
static int add_pad(graph_builder *g, int input, const int32_t amounts[8])
{
    const verge_tensor *in = &g->tensors[input];
    int32_t dims[4];
    int paddings = add_paddings(g, amounts);
    int out;

    for (int d = 0; d < 4; d++)
        dims[d] = in->dims[d] + amounts[2 * d] + amounts[2 * d + 1];
    out = add_f32(g, 4, dims);
    add_node(g, VERGE_OP_PAD, 2, (const int32_t[]){input, paddings}, out);
    return out;
}

/* Output size of one axis for TFLite's SAME or VALID padding. */
static int32_t window_out(verge_padding padding, int32_t in, int32_t k, int stride, int dilation)
{
    int32_t effective = (k - 1) * dilation + 1;

    return padding == VERGE_PADDING_SAME ? (in + stride - 1) / stride
                                         : (in - effective + stride) / stride;
}

/*
 * Adds a CONV_2D with out_c output channels, or with `depthwise` a
 * DEPTHWISE_CONV_2D of multiplier 1, of `input` with a random k x k filter
 * and bias. Returns its output tensor.
 */
static int add_conv(graph_builder *g, int input, bool depthwise, int32_t out_c, int32_t k,
                    const verge_conv_params *params)
{
    const verge_tensor *in = &g->tensors[input];
    const int32_t in_c = in->dims[3];
    int filter, bias, out;
    verge_node *node;

    if (depthwise)
        out_c = in_c;
    filter = add_random_constant(g, 4, (const int32_t[]){depthwise ? 1 : out_c, k, k, in_c});
    bias = add_random_constant(g, 1, (const int32_t[]){out_c});
    out = add_f32(g, 4, (const int32_t[]){
        in->dims[0], window_out(params->padding, in->dims[1], k, params->stride_h,
                                params->dilation_h),
        window_out(params->padding, in->dims[2], k, params->stride_w, params->dilation_w), out_c});
    node = add_node(g, depthwise ? VERGE_OP_DEPTHWISE_CONV_2D : VERGE_OP_CONV_2D, 3,
                    (const int32_t[]){input, filter, bias}, out);
    node->params.conv = *params;
    node->params.conv.depth_multiplier = 1;
    return out;
}

static void set_io(graph_builder *g, int input, int output)
{
    g->inputs[0] = input;
    g->graph.num_inputs = 1;
    g->outputs[0] = output;
    g->graph.num_outputs = 1;
}

/* Operators that ran in one invoke, counted by the profiling hook. */
typedef struct op_counts {
    int pad, conv, depthwise, add, relu, reshape, squeeze, expand_dims, explicit_padding;
} op_counts;

static void count_hook(void *user, const verge_node_timing *timing)
{
    op_counts *counts = user;
    const verge_node *node = timing->op;
    const verge_conv_params *conv = &node->params.conv;
    const bool is_conv = node->op == VERGE_OP_CONV_2D || node->op == VERGE_OP_DEPTHWISE_CONV_2D;

    counts->pad += node->op == VERGE_OP_PAD;
    counts->conv += node->op == VERGE_OP_CONV_2D;
    counts->depthwise += node->op == VERGE_OP_DEPTHWISE_CONV_2D;
    counts->add += node->op == VERGE_OP_ADD;
    counts->relu += node->op == VERGE_OP_RELU || node->op == VERGE_OP_RELU6;
    counts->reshape += node->op == VERGE_OP_RESHAPE;
    counts->squeeze += node->op == VERGE_OP_SQUEEZE;
    counts->expand_dims += node->op == VERGE_OP_EXPAND_DIMS;
    counts->explicit_padding +=
        is_conv && (conv->pad_top || conv->pad_bottom || conv->pad_left || conv->pad_right);
}

/* One run of a graph: output 0 copied out, the operators counted, the arena size. */
typedef struct graph_run {
    float *out;                 /* NULL when the interpreter could not be created */
    size_t count;
    op_counts counts;
    size_t arena;
} graph_run;

/*
 * Runs `g` once with VERGE_FUSE=`fuse` and VERGE_CPU=`cpu` on input 0
 * filled from a fixed seed. The outputs named by the graph are read after
 * the invoke.
 */
static graph_run run_graph(graph_builder *g, const char *fuse, const char *cpu)
{
    graph_run run = {0};
    verge_interpreter *it = NULL;
    uint32_t saved = rng_state;

    setenv("VERGE_FUSE", fuse, 1);
    setenv("VERGE_CPU", cpu, 1);
    CHECK_OK(verge_interpreter_create(&g->model, NULL, &it));
    unsetenv("VERGE_FUSE");
    unsetenv("VERGE_CPU");
    if (it == NULL)
        return run;

    rng_state = 777;
    {
        verge_tensor *in = verge_interpreter_input(it, 0);

        for (size_t i = 0; i < in->bytes / sizeof(float); i++)
            ((float *)in->data)[i] = random_float();
    }
    rng_state = saved;
    verge_interpreter_set_profile_hook(it, count_hook, &run.counts);
    CHECK_OK(verge_interpreter_invoke(it));
    {
        const verge_tensor *out = verge_interpreter_output(it, 0);

        run.count = out->bytes / sizeof(float);
        run.out = malloc(out->bytes ? out->bytes : 1);
        memcpy(run.out, out->data, out->bytes);
    }
    run.arena = verge_interpreter_arena_size(it);
    verge_interpreter_destroy(it);
    return run;
}

/*
 * True when the fusion planner, given the graph's own shapes, drops the
 * graph's first PAD node. A plan that the kernels then reject falls back to
 * the unfused graph, so the runs alone would not show a wrong plan.
 */
static bool plan_drops_pad(const graph_builder *g)
{
    verge_fusion fusion;
    bool dropped = false;

    CHECK_OK(verge_fusion_plan(&g->graph, g->tensors, &fusion));
    for (int n = 0; fusion.dropped != NULL && n < g->graph.num_nodes; n++) {
        if (g->nodes[n].op == VERGE_OP_PAD) {
            dropped = fusion.dropped[n];
            break;
        }
    }
    verge_fusion_free(&fusion);
    return dropped;
}

/*
 * Runs `g` unfused and fused on every kernel path this CPU has. Checks that
 * both give the same bits, that the unfused run has `pads` PAD nodes and
 * the fused run `fused_pads`. Returns false if a run failed.
 */
static bool same_bits_on_every_path(graph_builder *g, const char *label, int pads,
                                    int fused_pads)
{
    static const verge_cpu_isa cpus[] = {VERGE_CPU_SCALAR, VERGE_CPU_AVX2, VERGE_CPU_AVX512,
                                         VERGE_CPU_NEON};
    bool ok = true;

    CHECK_MSG(plan_drops_pad(g) == (fused_pads < pads), "%s: the plan %s the PAD", label,
              fused_pads < pads ? "keeps" : "drops");
    for (size_t c = 0; c < sizeof(cpus) / sizeof(cpus[0]); c++) {
        const char *cpu = verge_cpu_isa_name(cpus[c]);
        graph_run plain, fused;

        if (!verge_cpu_isa_available(cpus[c]))
            continue;
        plain = run_graph(g, "0", cpu);
        fused = run_graph(g, "1", cpu);
        CHECK_MSG(plain.out != NULL && fused.out != NULL && plain.count == fused.count &&
                      memcmp(plain.out, fused.out, sizeof(float) * plain.count) == 0,
                  "%s, VERGE_CPU=%s: folded outputs differ from unfolded ones", label, cpu);
        CHECK_MSG(plain.counts.pad == pads && fused.counts.pad == fused_pads,
                  "%s, VERGE_CPU=%s: %d PAD nodes ran unfused and %d fused, expected %d and %d",
                  label, cpu, plain.counts.pad, fused.counts.pad, pads, fused_pads);
        CHECK_MSG(plain.counts.explicit_padding == 0 &&
                      fused.counts.explicit_padding == pads - fused_pads,
                  "%s, VERGE_CPU=%s: %d convolutions ran with explicit padding", label, cpu,
                  fused.counts.explicit_padding);
        ok = ok && plain.out != NULL && fused.out != NULL;
        free(plain.out);
        free(fused.out);
    }
    return ok;
}

/* A PAD by `amounts` feeding one convolution folds, on every kernel path. */
static void pad_folds_into_convolutions(void)
{
    static const struct {
        const char *label;
        bool depthwise;
        int32_t h, w, c, out_c, k;
        int32_t amounts[8];     /* before and after N, H, W, C */
        verge_padding padding;
        int stride, dilation;
        verge_activation activation;
    } cases[] = {
        /*
         * TensorFlow's SAME padding of an even size for a stride 2 filter adds
         * its one cell after the data, so an explicit PAD of it pads only the
         * bottom and right.
         */
        {"stem: bottom/right only, 3x3 stride 2", false, 9, 11, 3, 8, 3,
         {0, 0, 0, 1, 0, 1, 0, 0}, VERGE_PADDING_VALID, 2, 1, VERGE_ACT_RELU6},
        {"uneven on all sides, then SAME", false, 7, 10, 5, 17, 3,
         {0, 0, 2, 0, 1, 3, 0, 0}, VERGE_PADDING_SAME, 1, 1, VERGE_ACT_NONE},
        {"1x1 with padding after the data", false, 5, 6, 4, 7, 1,
         {0, 0, 0, 1, 0, 2, 0, 0}, VERGE_PADDING_VALID, 1, 1, VERGE_ACT_RELU},
        {"5x5 dilated, wide left", false, 12, 13, 6, 9, 5,
         {0, 0, 1, 1, 4, 0, 0, 0}, VERGE_PADDING_VALID, 1, 2, VERGE_ACT_NONE},
        {"depthwise 3x3, even, channel tail", true, 11, 13, 20, 0, 3,
         {0, 0, 1, 1, 1, 1, 0, 0}, VERGE_PADDING_VALID, 1, 1, VERGE_ACT_RELU6},
        {"depthwise 3x3 stride 2, bottom/right", true, 16, 16, 32, 0, 3,
         {0, 0, 0, 1, 0, 1, 0, 0}, VERGE_PADDING_VALID, 2, 1, VERGE_ACT_NONE},
        {"depthwise 5x5 stride 2, uneven", true, 14, 21, 16, 0, 5,
         {0, 0, 1, 2, 2, 1, 0, 0}, VERGE_PADDING_VALID, 2, 1, VERGE_ACT_RELU},
        {"depthwise 3x3, rows and columns of padding only", true, 6, 9, 8, 0, 3,
         {0, 0, 0, 4, 5, 4, 0, 0}, VERGE_PADDING_VALID, 1, 1, VERGE_ACT_NONE},
        {"depthwise 5x5 narrow, 3 channels", true, 5, 4, 3, 0, 5,
         {0, 0, 2, 2, 2, 2, 0, 0}, VERGE_PADDING_VALID, 1, 1, VERGE_ACT_NONE},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        graph_builder *g = builder_create();
        const verge_conv_params params = {
            .padding = cases[i].padding, .stride_h = cases[i].stride,
            .stride_w = cases[i].stride, .dilation_h = cases[i].dilation,
            .dilation_w = cases[i].dilation, .activation = cases[i].activation};
        int in = add_f32(g, 4, (const int32_t[]){1, cases[i].h, cases[i].w, cases[i].c});
        int padded = add_pad(g, in, cases[i].amounts);
        int out = add_conv(g, padded, cases[i].depthwise, cases[i].out_c, cases[i].k, &params);

        set_io(g, in, out);
        same_bits_on_every_path(g, cases[i].label, 1, 0);
        free(g);
    }
}

/* PAD -> CONV_2D -> ADD -> RELU: the PAD folds and the ADD and RELU merge as well. */
static void folded_pad_merges_with_residual(void)
{
    graph_builder *g = builder_create();
    const verge_conv_params params = {.padding = VERGE_PADDING_VALID, .stride_h = 1,
                                      .stride_w = 1, .dilation_h = 1, .dilation_w = 1};
    int in = add_f32(g, 4, (const int32_t[]){1, 8, 8, 16});
    int padded = add_pad(g, in, (const int32_t[]){0, 0, 1, 1, 1, 1, 0, 0});
    int conv = add_conv(g, padded, false, 16, 3, &params);
    int sum = add_f32(g, 4, (const int32_t[]){1, 8, 8, 16});
    int out = add_f32(g, 4, (const int32_t[]){1, 8, 8, 16});
    graph_run fused;

    add_node(g, VERGE_OP_ADD, 2, (const int32_t[]){conv, in}, sum);
    add_node(g, VERGE_OP_RELU, 1, (const int32_t[]){sum}, out);
    set_io(g, in, out);
    if (!same_bits_on_every_path(g, "PAD, CONV_2D, ADD, RELU", 1, 0)) {
        free(g);
        return;
    }
    fused = run_graph(g, "1", "auto");
    CHECK_EQ_INT(fused.counts.conv, 1);
    CHECK_EQ_INT(fused.counts.add, 0);
    CHECK_EQ_INT(fused.counts.relu, 0);
    free(fused.out);
    free(g);
}

/* A PAD with a second reader stays: both convolutions read the padded tensor. */
static void pad_with_two_readers_stays(void)
{
    graph_builder *g = builder_create();
    const verge_conv_params params = {.padding = VERGE_PADDING_VALID, .stride_h = 1,
                                      .stride_w = 1, .dilation_h = 1, .dilation_w = 1};
    int in = add_f32(g, 4, (const int32_t[]){1, 6, 6, 8});
    int padded = add_pad(g, in, (const int32_t[]){0, 0, 1, 1, 1, 1, 0, 0});
    int a = add_conv(g, padded, true, 0, 3, &params);
    int b = add_conv(g, padded, false, 8, 3, &params);
    int out = add_f32(g, 4, (const int32_t[]){1, 6, 6, 8});

    add_node(g, VERGE_OP_ADD, 2, (const int32_t[]){a, b}, out);
    set_io(g, in, out);
    same_bits_on_every_path(g, "PAD read by two convolutions", 1, 1);
    free(g);
}

/* A PAD whose output is also a graph output stays: the caller reads the padded tensor. */
static void pad_that_is_a_graph_output_stays(void)
{
    graph_builder *g = builder_create();
    const verge_conv_params params = {.padding = VERGE_PADDING_VALID, .stride_h = 1,
                                      .stride_w = 1, .dilation_h = 1, .dilation_w = 1};
    int in = add_f32(g, 4, (const int32_t[]){1, 6, 6, 8});
    int padded = add_pad(g, in, (const int32_t[]){0, 0, 1, 1, 1, 1, 0, 0});
    int out = add_conv(g, padded, true, 0, 3, &params);

    set_io(g, in, out);
    g->outputs[1] = padded;
    g->graph.num_outputs = 2;
    same_bits_on_every_path(g, "PAD that is a graph output", 1, 1);
    free(g);
}

/* Padding along channels or batches is no spatial padding: the PAD stays. */
static void pad_of_channels_or_batches_stays(void)
{
    static const int32_t amounts[][8] = {
        {0, 0, 1, 1, 1, 1, 0, 2}, /* channels too */
        {0, 1, 1, 1, 1, 1, 0, 0}, /* batches too */
    };
    const verge_conv_params params = {.padding = VERGE_PADDING_VALID, .stride_h = 1,
                                      .stride_w = 1, .dilation_h = 1, .dilation_w = 1};

    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        graph_builder *g = builder_create();
        int in = add_f32(g, 4, (const int32_t[]){1, 6, 7, 5});
        int padded = add_pad(g, in, amounts[i]);
        int out = add_conv(g, padded, false, 4, 3, &params);

        set_io(g, in, out);
        same_bits_on_every_path(g, i == 0 ? "PAD of channels" : "PAD of batches", 1, 1);
        free(g);
    }
}

/*
 * A PADV2 fills with its input 2, here 1.0: folding it would read zeros
 * instead. verge has no PADV2 kernel, so this test calls the fusion
 * planner directly on the graph's shapes, and checks that the same graph
 * with a PAD does fold.
 */
static void pad_with_a_fill_value_stays(void)
{
    graph_builder *g = builder_create();
    const verge_conv_params params = {.padding = VERGE_PADDING_VALID, .stride_h = 1,
                                      .stride_w = 1, .dilation_h = 1, .dilation_w = 1};
    int in = add_f32(g, 4, (const int32_t[]){1, 6, 6, 8});
    int padded = add_pad(g, in, (const int32_t[]){0, 0, 1, 1, 1, 1, 0, 0});
    int out = add_conv(g, padded, true, 0, 3, &params);
    int fill = add_random_constant(g, 0, NULL);
    verge_node *pad = &g->nodes[0];
    verge_fusion fusion;

    set_io(g, in, out);
    g->constants[fill][0] = 1.0f;
    CHECK_OK(verge_fusion_plan(&g->graph, g->tensors, &fusion));
    CHECK_EQ_INT(fusion.num_merged, 1);
    verge_fusion_free(&fusion);

    pad->op = OP_PADV2;
    pad->inputs[2] = fill;
    pad->num_inputs = 3;
    CHECK_OK(verge_fusion_plan(&g->graph, g->tensors, &fusion));
    CHECK(fusion.nodes == NULL);
    CHECK_EQ_INT(fusion.num_merged, 0);
    verge_fusion_free(&fusion);
    free(g);
}

/*
 * in -> RELU -> t1 -> RESHAPE -> t2 -> EXPAND_DIMS -> t3 -> SQUEEZE -> t4
 * -> FULLY_CONNECTED -> out: the three shape operators become views of t1
 * and stop running, so t2..t4 read t1's bytes. As copies, each needed its
 * input and output at once.
 */
static void shape_operators_become_views(void)
{
    graph_builder *g = builder_create();
    int in = add_f32(g, 3, (const int32_t[]){2, 3, 4});
    int t1 = add_f32(g, 3, (const int32_t[]){2, 3, 4});
    int t2 = add_f32(g, 2, (const int32_t[]){4, 6});
    int axis = add_int32_constant(g, 1, (const int32_t[]){1}, (const int32_t[]){1}, 1);
    int t3 = add_f32(g, 3, (const int32_t[]){4, 1, 6});
    int t4 = add_f32(g, 2, (const int32_t[]){4, 6});
    int weights = add_random_constant(g, 2, (const int32_t[]){2, 6});
    int out = add_f32(g, 2, (const int32_t[]){4, 2});
    verge_node *reshape, *squeeze;
    graph_run plain, fused;

    add_node(g, VERGE_OP_RELU, 1, (const int32_t[]){in}, t1);
    reshape = add_node(g, VERGE_OP_RESHAPE, 1, (const int32_t[]){t1}, t2);
    reshape->params.reshape = (verge_reshape_params){.has_shape = true, .rank = 2,
                                                     .shape = {4, -1}};
    add_node(g, VERGE_OP_EXPAND_DIMS, 2, (const int32_t[]){t2, axis}, t3);
    squeeze = add_node(g, VERGE_OP_SQUEEZE, 1, (const int32_t[]){t3}, t4);
    squeeze->params.squeeze = (verge_squeeze_params){.num_dims = 1, .dims = {1}};
    add_node(g, VERGE_OP_FULLY_CONNECTED, 2, (const int32_t[]){t4, weights}, out);
    set_io(g, in, out);

    plain = run_graph(g, "0", "auto");
    fused = run_graph(g, "1", "auto");
    if (plain.out != NULL && fused.out != NULL) {
        CHECK_EQ_INT(fused.count, 8);
        CHECK(memcmp(plain.out, fused.out, sizeof(float) * 8) == 0);
        CHECK_EQ_INT(plain.counts.reshape + plain.counts.expand_dims + plain.counts.squeeze, 3);
        CHECK_EQ_INT(fused.counts.reshape + fused.counts.expand_dims + fused.counts.squeeze, 0);
        CHECK_EQ_INT(fused.counts.relu, 1);
        /*
         * 96 bytes round up to 128, 32 to 64. Copies: the input, a shape
         * operator's input and its output at once. Views: the input, t1
         * and the output.
         */
        CHECK_EQ_INT(plain.arena, 3 * 128);
        CHECK_EQ_INT(fused.arena, 2 * 128 + 64);
    }
    free(plain.out);
    free(fused.out);
    free(g);
}

/*
 * The view t2 of t1 is read last, after three other tensors were made:
 * t1's bytes must live until then, or those tensors would overwrite them.
 *   t1 = RELU(x); t2 = RESHAPE(t1); t3 = RELU6(x); t4 = t3 + t3;
 *   t5 = t4 + x; out = t2 + t5 = relu(x) + 2 relu6(x) + x
 */
static void view_keeps_its_bytes_alive(void)
{
    graph_builder *g = builder_create();
    const int32_t flat[1] = {64}, square[2] = {8, 8};
    int in = add_f32(g, 2, square);
    int t1 = add_f32(g, 2, square);
    int t2 = add_f32(g, 1, flat);
    int t3 = add_f32(g, 1, flat);
    int t4 = add_f32(g, 1, flat);
    int flat_in = add_f32(g, 1, flat);
    int t5 = add_f32(g, 1, flat);
    int out = add_f32(g, 1, flat);
    int shape = add_int32_constant(g, 1, (const int32_t[]){1}, flat, 1);
    graph_run plain, fused;

    add_node(g, VERGE_OP_RELU, 1, (const int32_t[]){in}, t1);
    add_node(g, VERGE_OP_RESHAPE, 2, (const int32_t[]){t1, shape}, t2);
    /* A RESHAPE of the graph input keeps its own bytes. */
    add_node(g, VERGE_OP_RESHAPE, 2, (const int32_t[]){in, shape}, flat_in);
    add_node(g, VERGE_OP_RELU6, 1, (const int32_t[]){flat_in}, t3);
    add_node(g, VERGE_OP_ADD, 2, (const int32_t[]){t3, t3}, t4);
    add_node(g, VERGE_OP_ADD, 2, (const int32_t[]){t4, flat_in}, t5);
    add_node(g, VERGE_OP_ADD, 2, (const int32_t[]){t2, t5}, out);
    set_io(g, in, out);

    plain = run_graph(g, "0", "auto");
    fused = run_graph(g, "1", "auto");
    if (plain.out != NULL && fused.out != NULL) {
        uint32_t saved = rng_state;

        rng_state = 777;
        for (int i = 0; i < 64; i++) {
            float x = random_float();
            float relu = x > 0.0f ? x : 0.0f;
            float relu6 = relu > 6.0f ? 6.0f : relu;
            float expected = relu + ((relu6 + relu6) + x);

            CHECK_MSG(fused.out[i] == expected, "output %d is %.9g, expected %.9g", i,
                      fused.out[i], expected);
        }
        rng_state = saved;
        CHECK(memcmp(plain.out, fused.out, sizeof(float) * 64) == 0);
        CHECK_EQ_INT(plain.counts.reshape, 2);
        CHECK_EQ_INT(fused.counts.reshape, 1);
    }
    free(plain.out);
    free(fused.out);
    free(g);
}

/*
 * A RESHAPE whose output is a graph output, or whose input is one, keeps
 * its own bytes: the caller reads both.
 */
static void graph_outputs_keep_their_bytes(void)
{
    for (int which = 0; which < 2; which++) {
        graph_builder *g = builder_create();
        int in = add_f32(g, 2, (const int32_t[]){4, 6});
        int t1 = add_f32(g, 2, (const int32_t[]){4, 6});
        int t2 = add_f32(g, 1, (const int32_t[]){24});
        verge_node *reshape;
        graph_run fused;

        add_node(g, VERGE_OP_RELU, 1, (const int32_t[]){in}, t1);
        reshape = add_node(g, VERGE_OP_RESHAPE, 1, (const int32_t[]){t1}, t2);
        reshape->params.reshape = (verge_reshape_params){.has_shape = true, .rank = 1,
                                                         .shape = {24}};
        if (which == 0) {
            set_io(g, in, t2);
        } else {
            int out = add_f32(g, 1, (const int32_t[]){24});

            add_node(g, VERGE_OP_RELU6, 1, (const int32_t[]){t2}, out);
            set_io(g, in, out);
            g->outputs[1] = t1;
            g->graph.num_outputs = 2;
        }
        fused = run_graph(g, "1", "auto");
        CHECK_MSG(fused.counts.reshape == 1, "%s: RESHAPE ran %d times, expected once",
                  which == 0 ? "output is a graph output" : "input is a graph output",
                  fused.counts.reshape);
        free(fused.out);
        free(g);
    }
}

int main(void)
{
    RUN(pad_folds_into_convolutions);
    RUN(folded_pad_merges_with_residual);
    RUN(pad_with_two_readers_stays);
    RUN(pad_that_is_a_graph_output_stays);
    RUN(pad_of_channels_or_batches_stays);
    RUN(pad_with_a_fill_value_stays);
    RUN(shape_operators_become_views);
    RUN(view_keeps_its_bytes_alive);
    RUN(graph_outputs_keep_their_bytes);
    return check_summary();
}
