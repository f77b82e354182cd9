/*
 * `verge bench MODEL [options]`: how fast a model runs here.
 *
 * Prepares the model once, runs --warmup untimed inferences, then --runs
 * timed ones on the same inputs (random by default, or .npy files). Reports
 * latency (min, median, p90, p99, mean, in milliseconds), throughput, the
 * planned arena, the process's peak resident memory and the achieved
 * GFLOP/s. FLOPs count the multiply-adds of CONV_2D,
 * DEPTHWISE_CONV_2D, FULLY_CONNECTED, BATCH_MATMUL and transposed
 * convolutions as 2 each; other operators count none. --profile adds the
 * time per operator type and the ten slowest nodes, measured through the
 * interpreter's profiling hook (two clock reads per node). "kernels" names
 * the instruction set of the fast paths in use (VERGE_CPU, see src/core/cpu.h).
 *
 * Exit status: 0 on success, 1 when the model cannot be loaded, prepared or
 * run, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/json.h"
#include "cli/model_args.h"
#include "core/cpu.h"
#include "model/graph.h"
#include "verge/interpreter.h"
#include "verge/model.h"
#include "verge/npy.h"

enum { SLOWEST_NODES = 10, MAX_OP_TYPES = 256 };

typedef struct bench_options {
    const char *model_path;
    model_inputs inputs;
    int threads;
    int runs;
    int warmup;
    uint64_t seed;
    bool profile;
    bool json;
} bench_options;

/* What the profiling hook gathers for one node. */
typedef struct node_stats {
    int graph;
    int node;
    const char *op;
    char shape[96];           /* output 0's shape */
    double flops;             /* per run */
    uint64_t total_ns;        /* over the profiled runs */
    int calls;
} node_stats;

typedef struct profile {
    const verge_model *model;
    int *first_index;         /* per graph: index of its node 0 in `nodes` */
    node_stats *nodes;        /* every node of every graph */
    int num_nodes;
    bool seen_flops;          /* FLOPs of the nodes that ran are known */
} profile;

typedef struct op_total {
    const char *op;
    int nodes;
    uint64_t ns;
    double flops;
} op_total;

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: verge bench MODEL [options]\n"
            "\n"
            "Measures inference latency, throughput, memory and GFLOP/s. Inputs are\n"
            "uniform random numbers unless .npy files are given.\n"
            "\n"
            "options:\n"
            "  --threads N                  threads for inference (default 1)\n"
            "  --runs N                     timed inferences (default 50)\n"
            "  --warmup N                   untimed inferences first (default 5)\n"
            "  --input FILE                 a .npy input, once per model input, in order\n"
            "  --input-shape NAME=D0,D1...  use this shape for an input (name or index)\n"
            "  --seed S                     seed of the random inputs (default 1)\n"
            "  --profile                    add time per operator type and the 10 slowest nodes\n"
            "  --json                       one JSON object on stdout instead of text\n");
}

/* Returns 0, 1 for a usage error that was reported, or 2 for --help. */
static int parse_options(int argc, char **argv, bench_options *options)
{
    enum { OPT_INPUT = 256, OPT_SHAPE, OPT_THREADS, OPT_RUNS, OPT_WARMUP, OPT_SEED, OPT_PROFILE,
           OPT_JSON, OPT_HELP };
    static const struct option long_options[] = {
        {"input", required_argument, NULL, OPT_INPUT},
        {"input-shape", required_argument, NULL, OPT_SHAPE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"runs", required_argument, NULL, OPT_RUNS},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"seed", required_argument, NULL, OPT_SEED},
        {"profile", no_argument, NULL, OPT_PROFILE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *command = "verge bench";
    long long value;
    int option;

    *options = (bench_options){.threads = 1, .runs = 50, .warmup = 5, .seed = 1};
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        switch (option) {
        case OPT_INPUT:
            if (model_inputs_add_path("verge bench", &options->inputs, optarg) != 0)
                return 1;
            break;
        case OPT_SHAPE:
            if (model_inputs_add_shape("verge bench", &options->inputs, optarg) != 0)
                return 1;
            break;
        case OPT_THREADS:
            if (cli_parse_integer(command, optarg, "--threads", 1, 256, &value) != 0)
                return 1;
            options->threads = (int)value;
            break;
        case OPT_RUNS:
            if (cli_parse_integer(command, optarg, "--runs", 1, 1000000, &value) != 0)
                return 1;
            options->runs = (int)value;
            break;
        case OPT_WARMUP:
            if (cli_parse_integer(command, optarg, "--warmup", 0, 1000000, &value) != 0)
                return 1;
            options->warmup = (int)value;
            break;
        case OPT_SEED:
            if (cli_parse_integer(command, optarg, "--seed", 0, INT32_MAX, &value) != 0)
                return 1;
            options->seed = (uint64_t)value;
            break;
        case OPT_PROFILE:
            options->profile = true;
            break;
        case OPT_JSON:
            options->json = true;
            break;
        case OPT_HELP:
        case 'h':
            return 2;
        case ':':
            fprintf(stderr, "verge bench: option %s needs a value\n", argv[optind - 1]);
            return 1;
        default:
            cli_report_unknown_option("verge bench", argv);
            return 1;
        }
    }
    if (cli_check_positional(command, argc, argv, optind, 1, "MODEL") != 0) {
        fprintf(stderr, "usage: verge bench MODEL [options]; see --help\n");
        return 1;
    }
    options->model_path = argv[optind];
    return 0;
}

/* splitmix64: a small, well-mixed generator, so that a seed gives the same inputs everywhere. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Fills a tensor with uniform values: floats in [-1, 1), integers in their type's small range. */
static void fill_random(verge_tensor *tensor, uint64_t *state)
{
    size_t size = verge_dtype_size(tensor->dtype);
    size_t count = size ? tensor->bytes / size : 0;

    for (size_t i = 0; i < count; i++) {
        uint64_t r = next_random(state);

        switch (tensor->dtype) {
        case VERGE_DTYPE_FLOAT32:
            ((float *)tensor->data)[i] = (float)((double)(r >> 40) / (double)(1u << 23) - 1.0);
            break;
        case VERGE_DTYPE_INT32: ((int32_t *)tensor->data)[i] = (int32_t)(r % 10); break;
        case VERGE_DTYPE_INT64: ((int64_t *)tensor->data)[i] = (int64_t)(r % 10); break;
        case VERGE_DTYPE_INT8: ((int8_t *)tensor->data)[i] = (int8_t)(r & 0xff); break;
        case VERGE_DTYPE_UINT8: ((uint8_t *)tensor->data)[i] = (uint8_t)(r & 0xff); break;
        case VERGE_DTYPE_BOOL: ((uint8_t *)tensor->data)[i] = (uint8_t)(r & 1); break;
        default: memset(tensor->data, 0, tensor->bytes); return;
        }
    }
}

/* Multiply-adds of one node, times 2; 0 for operators that are not products. */
static double node_flops(const verge_node *node, const verge_tensor *tensors)
{
    const verge_tensor *out = &tensors[node->outputs[0]];
    const verge_tensor *in, *filter;
    double out_count = (double)verge_tensor_count(out);

    if (node->num_inputs < 2 || node->inputs[0] == VERGE_NO_TENSOR ||
        node->inputs[1] == VERGE_NO_TENSOR)
        return 0;
    in = &tensors[node->inputs[0]];
    filter = &tensors[node->inputs[1]];
    switch (node->op) {
    case VERGE_OP_CONV_2D:
        /* filter [out_c, kh, kw, filter_c]: every output sums kh * kw * filter_c products. */
        if (filter->rank != 4)
            return 0;
        return 2.0 * out_count * filter->dims[1] * filter->dims[2] * filter->dims[3];
    case VERGE_OP_DEPTHWISE_CONV_2D:
        if (filter->rank != 4)
            return 0;
        return 2.0 * out_count * filter->dims[1] * filter->dims[2];
    case VERGE_OP_FULLY_CONNECTED:
        if (filter->rank != 2)
            return 0;
        return 2.0 * out_count * filter->dims[1];
    case VERGE_OP_BATCH_MATMUL:
        if (in->rank < 2)
            return 0;
        return 2.0 * out_count *
               in->dims[node->params.batch_matmul.adj_x ? in->rank - 2 : in->rank - 1];
    case VERGE_OP_CUSTOM:
        /* Convolution2DTransposeBias: each input value meets kh * kw * out_c weights. */
        if (node->custom_name == NULL ||
            strcmp(node->custom_name, "Convolution2DTransposeBias") != 0 || filter->rank != 4 ||
            in->rank != 4)
            return 0;
        return 2.0 * (double)verge_tensor_count(in) * filter->dims[0] * filter->dims[1] *
               filter->dims[2];
    default:
        return 0;
    }
}

static const char *op_label(const verge_node *node)
{
    const char *name = verge_op_name(node->op);

    if (node->op == VERGE_OP_CUSTOM)
        return node->custom_name != NULL ? node->custom_name : "CUSTOM";
    return name != NULL ? name : "UNKNOWN";
}

static int profile_init(profile *p, const verge_model *model)
{
    memset(p, 0, sizeof(*p));
    p->model = model;
    p->first_index = calloc((size_t)model->num_graphs + 1, sizeof(*p->first_index));
    if (p->first_index == NULL)
        return -1;
    for (int g = 0; g < model->num_graphs; g++) {
        p->first_index[g] = p->num_nodes;
        p->num_nodes += model->graphs[g].num_nodes;
    }
    p->nodes = calloc((size_t)p->num_nodes + 1, sizeof(*p->nodes));
    if (p->nodes == NULL)
        return -1;
    for (int g = 0; g < model->num_graphs; g++) {
        for (int n = 0; n < model->graphs[g].num_nodes; n++) {
            node_stats *s = &p->nodes[p->first_index[g] + n];

            s->graph = g;
            s->node = n;
            s->op = op_label(&model->graphs[g].nodes[n]);
            s->flops = -1;
        }
    }
    return 0;
}

static void profile_free(profile *p)
{
    free(p->first_index);
    free(p->nodes);
}

static void profile_hook(void *user, const verge_node_timing *timing)
{
    profile *p = user;
    node_stats *s;

    if (timing->graph < 0 || timing->graph >= p->model->num_graphs ||
        timing->node < 0 || timing->node >= p->model->graphs[timing->graph].num_nodes)
        return;
    s = &p->nodes[p->first_index[timing->graph] + timing->node];
    if (s->flops < 0) {
        const verge_tensor *out = &timing->tensors[timing->op->outputs[0]];

        s->flops = node_flops(timing->op, timing->tensors);
        verge_shape_str(out->dims, out->rank, s->shape, sizeof(s->shape));
    }
    s->total_ns += timing->ns;
    s->calls++;
}

/* FLOPs of one inference: the nodes that ran in the profiled runs, weighted by how often. */
static double flops_per_run(const profile *p, int runs)
{
    double total = 0;

    for (int i = 0; i < p->num_nodes; i++) {
        if (p->nodes[i].calls > 0 && p->nodes[i].flops > 0)
            total += p->nodes[i].flops * p->nodes[i].calls;
    }
    return runs > 0 ? total / runs : 0;
}

static void reset_times(profile *p)
{
    for (int i = 0; i < p->num_nodes; i++) {
        p->nodes[i].total_ns = 0;
        p->nodes[i].calls = 0;
    }
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static int compare_node_time(const void *a, const void *b)
{
    const node_stats *x = *(const node_stats *const *)a;
    const node_stats *y = *(const node_stats *const *)b;

    if (x->total_ns != y->total_ns)
        return x->total_ns < y->total_ns ? 1 : -1;
    return (x > y) - (x < y);
}

static int compare_op_time(const void *a, const void *b)
{
    const op_total *x = a, *y = b;

    if (x->ns != y->ns)
        return x->ns < y->ns ? 1 : -1;
    return strcmp(x->op, y->op);
}

/* The value at quantile q (0..1) of `count` sorted values, by nearest rank. */
static double quantile(const double *sorted, int count, double q)
{
    int rank = (int)ceil(q * count);

    if (rank < 1)
        rank = 1;
    return sorted[rank > count ? count - 1 : rank - 1];
}

static double median(const double *sorted, int count)
{
    return count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t peak_rss_bytes(void)
{
    struct rusage usage;

    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return (size_t)usage.ru_maxrss * 1024; /* Linux reports KiB */
}

typedef struct bench_result {
    double min, median, p90, p99, mean; /* milliseconds */
    double flops;                       /* per inference */
    size_t arena;
    size_t peak_rss;
} bench_result;

/* Sums the profile by operator type into `totals`, slowest first; returns their count. */
static int sum_by_op(const profile *p, op_total *totals)
{
    int count = 0;

    for (int i = 0; i < p->num_nodes; i++) {
        const node_stats *s = &p->nodes[i];
        int t;

        if (s->calls == 0)
            continue;
        for (t = 0; t < count && strcmp(totals[t].op, s->op) != 0; t++)
            ;
        if (t == count) {
            if (count == MAX_OP_TYPES)
                continue;
            totals[count++] = (op_total){.op = s->op};
        }
        totals[t].nodes++;
        totals[t].ns += s->total_ns;
        totals[t].flops += s->flops > 0 ? s->flops * s->calls : 0;
    }
    qsort(totals, (size_t)count, sizeof(*totals), compare_op_time);
    return count;
}

/* Fills `slowest` with up to SLOWEST_NODES nodes, slowest first; returns their count. */
static int slowest_nodes(const profile *p, const node_stats **slowest, const node_stats **all)
{
    int count = 0;

    for (int i = 0; i < p->num_nodes; i++) {
        if (p->nodes[i].calls > 0)
            all[count++] = &p->nodes[i];
    }
    qsort(all, (size_t)count, sizeof(*all), compare_node_time);
    if (count > SLOWEST_NODES)
        count = SLOWEST_NODES;
    memcpy(slowest, all, sizeof(*slowest) * (size_t)count);
    return count;
}

static double gflops(double flops, double ns)
{
    return ns > 0 ? flops / ns : 0;
}

static void print_text(const bench_options *options, const verge_interpreter *interpreter,
                       const bench_result *r, const profile *p, const op_total *totals,
                       int num_totals, const node_stats *const *slowest, int num_slowest,
                       double run_ns)
{
    char shape[96];

    printf("model:       %s\n", options->model_path);
    printf("threads:     %d\n", options->threads);
    printf("kernels:     %s\n", verge_cpu_isa_name(verge_cpu_isa_selected()));
    for (int i = 0; i < verge_interpreter_input_count(interpreter); i++) {
        const verge_tensor *in = verge_interpreter_input((verge_interpreter *)interpreter, i);

        printf("input %d:     %s %s %s (%s)\n", i, in->name, verge_dtype_name(in->dtype),
               verge_shape_str(in->dims, in->rank, shape, sizeof(shape)),
               options->inputs.num_paths ? options->inputs.paths[i] : "random");
    }
    printf("runs:        %d after %d warm-up %s\n", options->runs, options->warmup,
           cli_plural(options->warmup, "run", "runs"));
    printf("latency ms:  min %.3f  median %.3f  p90 %.3f  p99 %.3f  mean %.3f\n", r->min,
           r->median, r->p90, r->p99, r->mean);
    printf("throughput:  %.2f inferences/s\n", r->mean > 0 ? 1000.0 / r->mean : 0.0);
    printf("compute:     %.4f GFLOP per inference, %.2f GFLOP/s at the median\n",
           r->flops / 1e9, gflops(r->flops, r->median * 1e6));
    printf("arena:       %zu %s\n", r->arena, cli_plural((long long)r->arena, "byte", "bytes"));
    printf("peak RSS:    %zu %s\n", r->peak_rss,
           cli_plural((long long)r->peak_rss, "byte", "bytes"));
    if (!options->profile)
        return;

    printf("\ntime per operator type (ms per inference, mean of %d %s):\n", options->runs,
           cli_plural(options->runs, "run", "runs"));
    printf("  %-28s %6s %10s %7s %9s\n", "operator", "nodes", "ms", "share", "GFLOP/s");
    for (int t = 0; t < num_totals; t++) {
        double ms = totals[t].ns / 1e6 / options->runs;

        printf("  %-28s %6d %10.3f %6.1f%% %9.2f\n", totals[t].op, totals[t].nodes, ms,
               run_ns > 0 ? 100.0 * totals[t].ns / run_ns : 0.0,
               gflops(totals[t].flops, (double)totals[t].ns));
    }
    printf("\nslowest nodes (ms per call, mean):\n");
    printf("  %-12s %-28s %-20s %10s %9s\n", "node", "operator", "output", "ms", "GFLOP/s");
    for (int i = 0; i < num_slowest; i++) {
        const node_stats *s = slowest[i];
        char where[32];

        if (s->graph == 0)
            snprintf(where, sizeof(where), "%d", s->node);
        else
            snprintf(where, sizeof(where), "%d:%d", s->graph, s->node);
        printf("  %-12s %-28s %-20s %10.3f %9.2f\n", where, s->op, s->shape,
               s->total_ns / 1e6 / s->calls,
               gflops(s->flops > 0 ? s->flops * s->calls : 0, (double)s->total_ns));
    }
    (void)p;
}

static void print_json(const bench_options *options, const verge_interpreter *interpreter,
                       const bench_result *r, const op_total *totals, int num_totals,
                       const node_stats *const *slowest, int num_slowest, double run_ns)
{
    printf("{\"model\":");
    json_write_string(stdout, options->model_path);
    printf(",\"threads\":%d,\"kernels\":\"%s\",\"runs\":%d,\"warmup\":%d,\"inputs\":[",
           options->threads, verge_cpu_isa_name(verge_cpu_isa_selected()), options->runs,
           options->warmup);
    for (int i = 0; i < verge_interpreter_input_count(interpreter); i++) {
        const verge_tensor *in = verge_interpreter_input((verge_interpreter *)interpreter, i);

        printf("%s{\"name\":", i ? "," : "");
        json_write_string(stdout, in->name);
        printf(",\"shape\":[");
        for (int d = 0; d < in->rank; d++)
            printf(d ? ",%d" : "%d", (int)in->dims[d]);
        printf("],\"dtype\":\"%s\",\"source\":", verge_dtype_name(in->dtype));
        json_write_string(stdout, options->inputs.num_paths ? options->inputs.paths[i] : "random");
        putchar('}');
    }
    printf("],\"latency_ms\":{\"min\":");
    json_write_number(stdout, r->min, 6);
    printf(",\"median\":");
    json_write_number(stdout, r->median, 6);
    printf(",\"p90\":");
    json_write_number(stdout, r->p90, 6);
    printf(",\"p99\":");
    json_write_number(stdout, r->p99, 6);
    printf(",\"mean\":");
    json_write_number(stdout, r->mean, 6);
    printf("},\"throughput_per_s\":");
    json_write_number(stdout, r->mean > 0 ? 1000.0 / r->mean : 0.0, 6);
    printf(",\"flops_per_inference\":%.0f,\"gflops\":", r->flops);
    json_write_number(stdout, gflops(r->flops, r->median * 1e6), 5);
    printf(",\"arena_bytes\":%zu,\"peak_rss_bytes\":%zu", r->arena, r->peak_rss);
    if (options->profile) {
        printf(",\"profile\":{\"operators\":[");
        for (int t = 0; t < num_totals; t++) {
            printf("%s{\"op\":", t ? "," : "");
            json_write_string(stdout, totals[t].op);
            printf(",\"nodes\":%d,\"ms\":", totals[t].nodes);
            json_write_number(stdout, totals[t].ns / 1e6 / options->runs, 6);
            printf(",\"share\":");
            json_write_number(stdout, run_ns > 0 ? totals[t].ns / run_ns : 0.0, 4);
            printf(",\"gflops\":");
            json_write_number(stdout, gflops(totals[t].flops, (double)totals[t].ns), 5);
            putchar('}');
        }
        printf("],\"slowest\":[");
        for (int i = 0; i < num_slowest; i++) {
            const node_stats *s = slowest[i];

            printf("%s{\"subgraph\":%d,\"node\":%d,\"op\":", i ? "," : "", s->graph, s->node);
            json_write_string(stdout, s->op);
            printf(",\"output_shape\":");
            json_write_string(stdout, s->shape);
            printf(",\"flops\":%.0f,\"ms\":", s->flops > 0 ? s->flops : 0.0);
            json_write_number(stdout, s->total_ns / 1e6 / s->calls, 6);
            printf(",\"gflops\":");
            json_write_number(stdout,
                              gflops(s->flops > 0 ? s->flops * s->calls : 0, (double)s->total_ns),
                              5);
            putchar('}');
        }
        printf("]}");
    }
    printf("}\n");
}

/* Loads the inputs (or random ones) and runs the measurement; returns the exit status. */
static int run_bench(bench_options *options, verge_model *model)
{
    verge_interpreter_options interpreter_options = {.threads = options->threads};
    verge_interpreter *interpreter = NULL;
    model_inputs *inputs = &options->inputs;
    const node_stats **all = NULL, *slowest[SLOWEST_NODES];
    op_total *totals = NULL;
    double *times = NULL;
    int num_totals = 0, num_slowest = 0, status = 1;
    uint64_t state = options->seed, profiled_ns = 0;
    bench_result result = {0};
    verge_status created;
    profile p;

    if (profile_init(&p, model) != 0) {
        fprintf(stderr, "verge bench: out of memory\n");
        goto done;
    }
    status = model_inputs_load("verge bench", inputs, model, options->model_path, false);
    if (status != 0)
        goto done;
    status = 1;

    interpreter_options.input_shapes = inputs->shapes;
    interpreter_options.num_input_shapes = inputs->num_shapes;
    created = verge_interpreter_create(model, &interpreter_options, &interpreter);
    if (created != VERGE_OK) {
        bool unsupported = model_args_unsupported_node(created, model, NULL);

        fprintf(stderr, "verge bench: %s\n", verge_error_message());
        if (!unsupported && inputs->num_shapes == 0)
            model_args_print_shape_hint("verge bench", model);
        goto done;
    }
    for (int i = 0; i < verge_interpreter_input_count(interpreter); i++) {
        verge_tensor *input = verge_interpreter_input(interpreter, i);

        if (i >= inputs->num_arrays)
            fill_random(input, &state);
        else if (model_inputs_fill("verge bench", inputs, i, input) != 0)
            goto done;
    }

    times = malloc(sizeof(*times) * (size_t)options->runs);
    all = malloc(sizeof(*all) * ((size_t)p.num_nodes + 1));
    totals = malloc(sizeof(*totals) * MAX_OP_TYPES);
    if (times == NULL || all == NULL || totals == NULL) {
        fprintf(stderr, "verge bench: out of memory\n");
        goto done;
    }

    /* One profiled run learns the FLOPs of every node that runs; it is not timed. */
    verge_interpreter_set_profile_hook(interpreter, profile_hook, &p);
    for (int i = 0; i < (options->warmup > 0 ? options->warmup : 1); i++) {
        if (verge_interpreter_invoke(interpreter) != VERGE_OK) {
            fprintf(stderr, "verge bench: %s\n", verge_error_message());
            goto done;
        }
        if (i == 0) {
            result.flops = flops_per_run(&p, 1);
            if (!options->profile)
                verge_interpreter_set_profile_hook(interpreter, NULL, NULL);
        }
    }
    reset_times(&p);

    for (int i = 0; i < options->runs; i++) {
        uint64_t start = now_ns(), elapsed;

        if (verge_interpreter_invoke(interpreter) != VERGE_OK) {
            fprintf(stderr, "verge bench: %s\n", verge_error_message());
            goto done;
        }
        elapsed = now_ns() - start;
        times[i] = (double)elapsed / 1e6;
        profiled_ns += elapsed;
    }
    verge_interpreter_set_profile_hook(interpreter, NULL, NULL);

    result.mean = 0;
    for (int i = 0; i < options->runs; i++)
        result.mean += times[i];
    result.mean /= options->runs;
    qsort(times, (size_t)options->runs, sizeof(*times), compare_double);
    result.min = times[0];
    result.median = median(times, options->runs);
    result.p90 = quantile(times, options->runs, 0.90);
    result.p99 = quantile(times, options->runs, 0.99);
    result.arena = verge_interpreter_arena_size(interpreter);
    result.peak_rss = peak_rss_bytes();
    if (options->profile) {
        num_totals = sum_by_op(&p, totals);
        num_slowest = slowest_nodes(&p, slowest, all);
    }

    if (options->json)
        print_json(options, interpreter, &result, totals, num_totals, slowest, num_slowest,
                   (double)profiled_ns);
    else
        print_text(options, interpreter, &result, &p, totals, num_totals, slowest, num_slowest,
                   (double)profiled_ns);
    status = 0;

done:
    model_inputs_free(inputs);
    free(times);
    free(all);
    free(totals);
    profile_free(&p);
    verge_interpreter_destroy(interpreter);
    return status;
}

int verge_cmd_bench(int argc, char **argv)
{
    bench_options options;
    verge_model *model = NULL;
    int parsed, status;

    parsed = parse_options(argc, argv, &options);
    if (parsed == 2) {
        print_help(stdout);
        return 0;
    }
    if (parsed != 0)
        return 2;

    if (verge_model_load(options.model_path, &model) != VERGE_OK) {
        fprintf(stderr, "verge bench: %s\n", verge_error_message());
        return 1;
    }
    status = run_bench(&options, model);
    verge_model_free(model);
    return status;
}
