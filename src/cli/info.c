/*
 * `verge info MODEL [--json] [--input-shape NAME=D0,D1,...]`: what a user
 * needs to know before deploying a model. It lists every operator that has
 * no kernel in this build before any kernel is invoked. The exit status is 1
 * when there is one, or when preparing the model fails.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/json.h"
#include "cli/model_args.h"
#include "model/graph.h"
#include "ops/ops.h"
#include "verge/interpreter.h"
#include "verge/model.h"

enum { MAX_OP_KINDS = 512, MAX_PROBLEMS = 256, NUM_DTYPES = VERGE_DTYPE_FLOAT64 + 1 };

enum { OP_LABEL_SIZE = 64 };

typedef struct op_count {
    char name[OP_LABEL_SIZE];
    int count;
} op_count;

typedef struct problem {
    int graph;
    int node;
    char op[OP_LABEL_SIZE];
    char reason[512];
} problem;

typedef struct model_report {
    op_count ops[MAX_OP_KINDS];
    int num_ops;
    size_t params[NUM_DTYPES];    /* elements of constant tensors by dtype */
    size_t param_bytes[NUM_DTYPES];
    problem problems[MAX_PROBLEMS];
    int num_problems;
    int total_problems;
    size_t arena;
    char prepare_error[1024];     /* empty when the interpreter was created */
    verge_interpreter *interpreter; /* the prepared model, or NULL */
} model_report;

/*
 * Writes the operator's name into label: TFLite's builtin name, the custom
 * code, or "UNKNOWN(code)" for a builtin code this build has no name for,
 * so that two unknown operators stay apart.
 */
static void op_label(const verge_node *node, char label[OP_LABEL_SIZE])
{
    const char *name = verge_op_name(node->op);

    if (node->op == VERGE_OP_CUSTOM)
        snprintf(label, OP_LABEL_SIZE, "%s", node->custom_name != NULL ? node->custom_name
                                                                      : "CUSTOM");
    else if (name != NULL)
        snprintf(label, OP_LABEL_SIZE, "%s", name);
    else
        snprintf(label, OP_LABEL_SIZE, "UNKNOWN(%d)", node->op);
}

static void count_op(model_report *report, const char *name)
{
    for (int i = 0; i < report->num_ops; i++) {
        if (strcmp(report->ops[i].name, name) == 0) {
            report->ops[i].count++;
            return;
        }
    }
    if (report->num_ops < MAX_OP_KINDS) {
        snprintf(report->ops[report->num_ops].name, OP_LABEL_SIZE, "%s", name);
        report->ops[report->num_ops++].count = 1;
    }
}

static void add_problem(model_report *report, int graph, int node, const char *op,
                        const char *reason)
{
    problem *p;

    report->total_problems++;
    if (report->num_problems == MAX_PROBLEMS)
        return;
    p = &report->problems[report->num_problems];
    p->graph = graph;
    p->node = node;
    snprintf(p->op, sizeof(p->op), "%s", op);
    snprintf(p->reason, sizeof(p->reason), "%s", reason);
    report->num_problems++;
}

/* Orders constant tensors by data address, then size, so that shared data sits together. */
static int compare_constants(const void *a, const void *b)
{
    const verge_tensor *x = *(const verge_tensor *const *)a;
    const verge_tensor *y = *(const verge_tensor *const *)b;
    uintptr_t dx = (uintptr_t)x->data, dy = (uintptr_t)y->data;

    if (dx != dy)
        return dx < dy ? -1 : 1;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? -1 : 1;
    return (int)x->dtype - (int)y->dtype;
}

/*
 * Adds up the constant tensors of every graph by dtype. Tensors that share
 * one buffer (a file may point several tensors, in one graph or in IF
 * branches, at the same data) count once.
 */
static void count_parameters(const verge_model *model, model_report *report)
{
    const verge_tensor **constants;
    size_t total = 0, count = 0;

    for (int g = 0; g < model->num_graphs; g++)
        total += (size_t)model->graphs[g].num_tensors;
    constants = malloc(sizeof(*constants) * (total + 1));
    if (constants == NULL) {
        fprintf(stderr, "verge info: out of memory, so the parameter counts are left out\n");
        return;
    }
    for (int g = 0; g < model->num_graphs; g++) {
        for (int t = 0; t < model->graphs[g].num_tensors; t++) {
            const verge_tensor *tensor = &model->graphs[g].tensors[t];

            if (tensor->storage == VERGE_STORAGE_CONSTANT && (int)tensor->dtype < NUM_DTYPES)
                constants[count++] = tensor;
        }
    }
    qsort(constants, count, sizeof(*constants), compare_constants);

    for (size_t i = 0; i < count; i++) {
        const verge_tensor *tensor = constants[i];
        size_t size = verge_dtype_size(tensor->dtype);

        if (i > 0 && tensor->data != NULL && compare_constants(&constants[i - 1], &tensor) == 0)
            continue;
        report->param_bytes[tensor->dtype] += tensor->bytes;
        if (size > 0)
            report->params[tensor->dtype] += tensor->bytes / size;
    }
    free(constants);
}

static void build_report(const verge_model *model, const verge_interpreter_options *options,
                         model_report *report)
{
    verge_interpreter *interpreter = NULL;

    for (int g = 0; g < model->num_graphs; g++) {
        const verge_graph *graph = &model->graphs[g];

        for (int n = 0; n < graph->num_nodes; n++) {
            const verge_node *node = &graph->nodes[n];
            char name[OP_LABEL_SIZE];

            op_label(node, name);
            count_op(report, name);
            if (node->op == VERGE_OP_IF || verge_kernel_find(node->op, node->custom_name) != NULL)
                continue;
            if (node->op == VERGE_OP_CUSTOM)
                add_problem(report, g, n, name, "custom operator without a kernel in this build");
            else
                add_problem(report, g, n, name, "operator without a kernel in this build");
        }
    }
    count_parameters(model, report);

    /*
     * Kernels exist for every node: shapes, dtypes and parameters are checked
     * by preparing. A kernel that cannot run its node (an int8 input, a
     * SIGN_BIT activation) fails with VERGE_STATUS_UNSUPPORTED and names the
     * node, which is then listed as unsupported. Preparation stops there, so
     * it is the first such node in execution order.
     */
    if (report->total_problems == 0) {
        verge_status status = verge_interpreter_create(model, options, &interpreter);
        verge_node_failure failure;

        if (status == VERGE_OK) {
            report->arena = verge_interpreter_arena_size(interpreter);
            report->interpreter = interpreter;
        } else if (model_args_unsupported_node(status, model, &failure)) {
            char op[OP_LABEL_SIZE];

            op_label(&model->graphs[failure.graph].nodes[failure.node], op);
            add_problem(report, failure.graph, failure.node, op, failure.reason);
        } else {
            snprintf(report->prepare_error, sizeof(report->prepare_error), "%s",
                     verge_error_message());
        }
    }
}

/* Input or output `index` of the main graph, with the prepared shape when there is one. */
static const verge_tensor *main_tensor(const verge_model *model, const model_report *report,
                                       bool input, int index)
{
    const verge_graph *main = &model->graphs[0];

    if (report->interpreter != NULL)
        return input ? verge_interpreter_input(report->interpreter, index)
                     : verge_interpreter_output(report->interpreter, index);
    return &main->tensors[input ? main->inputs[index] : main->outputs[index]];
}

static void print_tensor_text(const verge_tensor *tensor, int index)
{
    char shape[96];

    printf("  %d  %-32s %-10s %s", index, tensor->name, verge_dtype_name(tensor->dtype),
           verge_shape_str(tensor->dims, tensor->rank, shape, sizeof(shape)));
    if (tensor->quant.count == 1)
        printf("  scale %g zero point %lld", tensor->quant.scale[0],
               (long long)tensor->quant.zero_point[0]);
    else if (tensor->quant.count > 1)
        printf("  per-channel quantization on axis %d (%d scales)", tensor->quant.axis,
               tensor->quant.count);
    putchar('\n');
}

static void print_text(const verge_model *model, const model_report *report)
{
    const verge_graph *main = &model->graphs[0];
    size_t total = 0, total_bytes = 0;

    printf("model:       %s\n", verge_model_path(model));
    printf("file size:   %zu %s\n", model->file_size,
           cli_plural((long long)model->file_size, "byte", "bytes"));
    printf("format:      TFLite schema version %u\n", (unsigned)model->format_version);
    if (model->description != NULL && model->description[0] != '\0')
        printf("description: %s\n", model->description);
    printf("subgraphs:   %d\n", model->num_graphs);

    printf("inputs:\n");
    for (int i = 0; i < main->num_inputs; i++)
        print_tensor_text(main_tensor(model, report, true, i), i);
    printf("outputs:\n");
    for (int i = 0; i < main->num_outputs; i++)
        print_tensor_text(main_tensor(model, report, false, i), i);

    printf("operators:\n");
    for (int i = 0; i < report->num_ops; i++)
        printf("  %-28s %d\n", report->ops[i].name, report->ops[i].count);

    printf("parameters:\n");
    for (int d = 0; d < NUM_DTYPES; d++) {
        if (report->param_bytes[d] == 0)
            continue;
        printf("  %-10s %zu %s, %zu %s\n", verge_dtype_name((verge_dtype)d), report->params[d],
               cli_plural((long long)report->params[d], "value", "values"),
               report->param_bytes[d], cli_plural((long long)report->param_bytes[d], "byte",
                                                  "bytes"));
        total += report->params[d];
        total_bytes += report->param_bytes[d];
    }
    printf("  total      %zu %s, %zu %s\n", total, cli_plural((long long)total, "value", "values"),
           total_bytes, cli_plural((long long)total_bytes, "byte", "bytes"));

    if (report->total_problems == 0 && report->prepare_error[0] == '\0')
        printf("arena:       %zu %s\nunsupported: none\n", report->arena,
               cli_plural((long long)report->arena, "byte", "bytes"));
    else if (report->total_problems == 0)
        printf("arena:       unknown\nprepare failed: %s\n", report->prepare_error);
    else
        printf("arena:       unknown\nunsupported: %d\n", report->total_problems);
    for (int i = 0; i < report->num_problems; i++)
        printf("  subgraph %d node %d (%s): %s\n", report->problems[i].graph,
               report->problems[i].node, report->problems[i].op, report->problems[i].reason);
}

static void print_tensor_json(const verge_tensor *tensor)
{
    fputs("{\"name\":", stdout);
    json_write_string(stdout, tensor->name);
    fputs(",\"shape\":[", stdout);
    for (int d = 0; d < tensor->rank; d++)
        printf(d ? ",%d" : "%d", (int)tensor->dims[d]);
    printf("],\"dtype\":\"%s\"", verge_dtype_name(tensor->dtype));
    if (tensor->quant.count > 0) {
        printf(",\"quantization\":{\"axis\":%d,\"scale\":[", tensor->quant.axis);
        for (int q = 0; q < tensor->quant.count; q++) {
            if (q)
                fputc(',', stdout);
            json_write_number(stdout, tensor->quant.scale[q], 9);
        }
        fputs("],\"zero_point\":[", stdout);
        for (int q = 0; q < tensor->quant.count; q++)
            printf(q ? ",%lld" : "%lld", (long long)tensor->quant.zero_point[q]);
        fputs("]}", stdout);
    }
    fputc('}', stdout);
}

static void print_json(const verge_model *model, const model_report *report)
{
    const verge_graph *main = &model->graphs[0];

    fputs("{\"model\":", stdout);
    json_write_string(stdout, verge_model_path(model));
    printf(",\"file_size\":%zu,\"format\":\"tflite\",\"format_version\":%u,\"description\":",
           model->file_size, (unsigned)model->format_version);
    json_write_string(stdout, model->description != NULL ? model->description : "");
    printf(",\"subgraphs\":%d,\"inputs\":[", model->num_graphs);
    for (int i = 0; i < main->num_inputs; i++) {
        if (i)
            fputc(',', stdout);
        print_tensor_json(main_tensor(model, report, true, i));
    }
    fputs("],\"outputs\":[", stdout);
    for (int i = 0; i < main->num_outputs; i++) {
        if (i)
            fputc(',', stdout);
        print_tensor_json(main_tensor(model, report, false, i));
    }
    fputs("],\"operators\":{", stdout);
    for (int i = 0; i < report->num_ops; i++) {
        if (i)
            fputc(',', stdout);
        json_write_string(stdout, report->ops[i].name);
        printf(":%d", report->ops[i].count);
    }
    fputs("},\"parameters\":{", stdout);
    for (int d = 0, first = 1; d < NUM_DTYPES; d++) {
        if (report->param_bytes[d] == 0)
            continue;
        printf("%s\"%s\":{\"values\":%zu,\"bytes\":%zu}", first ? "" : ",",
               verge_dtype_name((verge_dtype)d), report->params[d], report->param_bytes[d]);
        first = 0;
    }
    fputs("},\"arena_bytes\":", stdout);
    if (report->total_problems == 0 && report->prepare_error[0] == '\0')
        printf("%zu", report->arena);
    else
        fputs("null", stdout);
    fputs(",\"prepare_error\":", stdout);
    if (report->prepare_error[0] != '\0')
        json_write_string(stdout, report->prepare_error);
    else
        fputs("null", stdout);
    fputs(",\"unsupported\":[", stdout);
    for (int i = 0; i < report->num_problems; i++) {
        printf("%s{\"subgraph\":%d,\"node\":%d,\"operator\":", i ? "," : "",
               report->problems[i].graph, report->problems[i].node);
        json_write_string(stdout, report->problems[i].op);
        fputs(",\"reason\":", stdout);
        json_write_string(stdout, report->problems[i].reason);
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
}

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: verge info MODEL [--json] [--input-shape NAME=D0,D1,...]...\n"
            "\n"
            "Prints the model's inputs and outputs (with the shapes that --input-shape gives\n"
            "and the output shapes that follow from them), operator counts, parameters by\n"
            "type, the planned activation arena and every operator this build cannot run.\n"
            "Exits with 1 when an operator is unsupported or the model cannot be prepared.\n"
            "\n"
            "options:\n"
            "  --json                       one JSON object on stdout\n"
            "  --input-shape NAME=D0,D1...  use this shape for an input (name or index)\n");
}

int verge_cmd_info(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_SHAPE, OPT_HELP };
    static const struct option long_options[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"input-shape", required_argument, NULL, OPT_SHAPE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *shape_texts[MODEL_ARGS_MAX_SHAPES];
    verge_input_shape shapes[MODEL_ARGS_MAX_SHAPES];
    verge_interpreter_options options = {0};
    int num_shapes = 0, option, result;
    bool json = false;
    verge_model *model = NULL;
    model_report *report;

    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        switch (option) {
        case OPT_JSON:
            json = true;
            break;
        case OPT_SHAPE:
            if (num_shapes == MODEL_ARGS_MAX_SHAPES) {
                fprintf(stderr, "verge info: more than %d --input-shape options\n",
                        MODEL_ARGS_MAX_SHAPES);
                return 2;
            }
            shape_texts[num_shapes++] = optarg;
            break;
        case OPT_HELP:
        case 'h':
            print_help(stdout);
            return 0;
        case ':':
            fprintf(stderr, "verge info: option %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            cli_report_unknown_option("verge info", argv);
            return 2;
        }
    }
    if (cli_check_positional("verge info", argc, argv, optind, 1, "MODEL") != 0) {
        fprintf(stderr, "usage: verge info MODEL [--json] [--input-shape NAME=D0,D1,...]...; see "
                        "--help\n");
        return 2;
    }

    if (verge_model_load(argv[optind], &model) != VERGE_OK) {
        fprintf(stderr, "verge info: %s\n", verge_error_message());
        return 1;
    }
    if (model_args_parse_input_shapes("verge info", &model->graphs[0], shape_texts, num_shapes,
                                      shapes) != 0) {
        verge_model_free(model);
        return 2;
    }
    options.input_shapes = shapes;
    options.num_input_shapes = num_shapes;

    report = calloc(1, sizeof(*report));
    if (report == NULL) {
        verge_model_free(model);
        fprintf(stderr, "verge info: out of memory\n");
        return 1;
    }
    build_report(model, &options, report);
    if (json)
        print_json(model, report);
    else
        print_text(model, report);
    /* build_report() lists an unsupported node as a problem, not as a failed preparation. */
    if (report->prepare_error[0] != '\0' && num_shapes == 0)
        model_args_print_shape_hint("verge info", model);
    result = report->total_problems == 0 && report->prepare_error[0] == '\0' ? 0 : 1;
    verge_interpreter_destroy(report->interpreter);
    free(report);
    verge_model_free(model);
    return result;
}
