/*
 * `verge run MODEL --input a.npy [--input b.npy ...]`: raw inference with
 * NumPy files. Inputs are given in model input order. Writes
 * DIR/output_<i>.npy and DIR/outputs.json with --output-dir, and with
 * --compare DIR checks each output against DIR/output_<i>.npy under
 * max|out - ref| <= atol + rtol * max|ref|, printing one JSON line per output.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/json.h"
#include "cli/model_args.h"
#include "model/graph.h"
#include "verge/interpreter.h"
#include "verge/model.h"
#include "verge/npy.h"

typedef struct run_options {
    const char *model_path;
    const char *output_dir;
    const char *compare_dir;
    double atol;
    double rtol;
    int threads;
} run_options;

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: verge run MODEL --input a.npy [--input b.npy ...] [options]\n"
            "\n"
            "Runs the model once on .npy inputs (in model input order). An input whose\n"
            "shape differs from the model's resizes that model input. Without --output-dir\n"
            "or --compare, prints one JSON line per output: output (its index), name, shape,\n"
            "dtype, min, max, mean (over the values that are not NaN; null when all are)\n"
            "and nan (how many values are NaN).\n"
            "\n"
            "options:\n"
            "  --input FILE                 a .npy input (float32, float64, int8, uint8,\n"
            "                               int32, int64 or bool), once per model input\n"
            "  --input-shape NAME=D0,D1...  use this shape for an input (name or index)\n"
            "  --output-dir DIR             write DIR/output_<i>.npy and DIR/outputs.json\n"
            "  --compare DIR                compare with DIR/output_<i>.npy; exit 1 on failure\n"
            "  --atol A                     absolute tolerance for --compare (default 1e-6)\n"
            "  --rtol R                     tolerance relative to max|reference| (default 1e-4)\n"
            "  --threads N                  threads for inference (default 1)\n");
}

static int parse_tolerance(const char *text, const char *option, double *value)
{
    char *end;

    errno = 0;
    *value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(*value >= 0) || !isfinite(*value)) {
        fprintf(stderr, "verge run: invalid value '%s' for %s: expected a finite number >= 0\n",
                text, option);
        return -1;
    }
    return 0;
}

/*
 * Returns 0, 1 for a usage error that was reported, or 2 for --help. The
 * --input and --input-shape options go into *inputs.
 */
static int parse_options(int argc, char **argv, run_options *options, model_inputs *inputs)
{
    enum { OPT_INPUT = 256, OPT_SHAPE, OPT_OUTPUT_DIR, OPT_COMPARE, OPT_ATOL, OPT_RTOL,
           OPT_THREADS, OPT_HELP };
    static const struct option long_options[] = {
        {"input", required_argument, NULL, OPT_INPUT},
        {"input-shape", required_argument, NULL, OPT_SHAPE},
        {"output-dir", required_argument, NULL, OPT_OUTPUT_DIR},
        {"compare", required_argument, NULL, OPT_COMPARE},
        {"atol", required_argument, NULL, OPT_ATOL},
        {"rtol", required_argument, NULL, OPT_RTOL},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int option;

    *options = (run_options){.atol = 1e-6, .rtol = 1e-4, .threads = 1};
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        switch (option) {
        case OPT_INPUT:
            if (model_inputs_add_path("verge run", inputs, optarg) != 0)
                return 1;
            break;
        case OPT_SHAPE:
            if (model_inputs_add_shape("verge run", inputs, optarg) != 0)
                return 1;
            break;
        case OPT_OUTPUT_DIR:
            options->output_dir = optarg;
            break;
        case OPT_COMPARE:
            options->compare_dir = optarg;
            break;
        case OPT_ATOL:
            if (parse_tolerance(optarg, "--atol", &options->atol) != 0)
                return 1;
            break;
        case OPT_RTOL:
            if (parse_tolerance(optarg, "--rtol", &options->rtol) != 0)
                return 1;
            break;
        case OPT_THREADS: {
            long long threads;

            if (cli_parse_integer("verge run", optarg, "--threads", 1, 256, &threads) != 0)
                return 1;
            options->threads = (int)threads;
            break;
        }
        case OPT_HELP:
        case 'h':
            return 2;
        case ':':
            fprintf(stderr, "verge run: option %s needs a value\n", argv[optind - 1]);
            return 1;
        default:
            cli_report_unknown_option("verge run", argv);
            return 1;
        }
    }
    if (cli_check_positional("verge run", argc, argv, optind, 1, "MODEL") != 0) {
        fprintf(stderr, "usage: verge run MODEL --input a.npy [--input b.npy ...]; see --help\n");
        return 1;
    }
    options->model_path = argv[optind];
    return 0;
}

static int write_outputs(const verge_interpreter *interpreter, const char *dir)
{
    char path[4096];
    FILE *json;

    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "verge run: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int o = 0; o < verge_interpreter_output_count(interpreter); o++) {
        const verge_tensor *out = verge_interpreter_output(interpreter, o);

        snprintf(path, sizeof(path), "%s/output_%d.npy", dir, o);
        if (verge_npy_write(path, out->dtype, out->rank, out->dims, out->data) != VERGE_OK) {
            fprintf(stderr, "verge run: %s\n", verge_error_message());
            return -1;
        }
    }

    snprintf(path, sizeof(path), "%s/outputs.json", dir);
    json = fopen(path, "w");
    if (json == NULL) {
        fprintf(stderr, "verge run: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputc('[', json);
    for (int o = 0; o < verge_interpreter_output_count(interpreter); o++) {
        const verge_tensor *out = verge_interpreter_output(interpreter, o);

        fprintf(json, "%s{\"index\":%d,\"name\":", o ? "," : "", o);
        json_write_string(json, out->name);
        fputs(",\"shape\":[", json);
        for (int d = 0; d < out->rank; d++)
            fprintf(json, d ? ",%d" : "%d", (int)out->dims[d]);
        fprintf(json, "],\"dtype\":\"%s\",\"file\":\"output_%d.npy\"}",
                verge_dtype_name(out->dtype), o);
    }
    fputs("]\n", json);
    if (fclose(json) != 0) {
        fprintf(stderr, "verge run: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* Reads element `i` of a numeric array as a double. */
static double element(verge_dtype dtype, const void *data, size_t i)
{
    switch (dtype) {
    case VERGE_DTYPE_FLOAT32: return ((const float *)data)[i];
    case VERGE_DTYPE_FLOAT64: return ((const double *)data)[i];
    case VERGE_DTYPE_INT32: return ((const int32_t *)data)[i];
    case VERGE_DTYPE_INT64: return (double)((const int64_t *)data)[i];
    case VERGE_DTYPE_INT8: return ((const int8_t *)data)[i];
    case VERGE_DTYPE_UINT8:
    case VERGE_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    default: return NAN;
    }
}

/* Prints one JSON line per output with its shape and value range, for a quick look. */
static void print_summaries(const verge_interpreter *interpreter)
{
    for (int o = 0; o < verge_interpreter_output_count(interpreter); o++) {
        const verge_tensor *out = verge_interpreter_output(interpreter, o);
        size_t count = verge_tensor_count(out), nans = 0;
        double min = INFINITY, max = -INFINITY, sum = 0;

        for (size_t i = 0; i < count; i++) {
            double x = element(out->dtype, out->data, i);

            if (isnan(x)) {
                nans++;
                continue;
            }
            min = x < min ? x : min;
            max = x > max ? x : max;
            sum += x;
        }
        printf("{\"output\":%d,\"name\":", o);
        json_write_string(stdout, out->name);
        fputs(",\"shape\":[", stdout);
        for (int d = 0; d < out->rank; d++)
            printf(d ? ",%d" : "%d", (int)out->dims[d]);
        printf("],\"dtype\":\"%s\",\"min\":", verge_dtype_name(out->dtype));
        json_write_number(stdout, count > nans ? min : NAN, 9);
        fputs(",\"max\":", stdout);
        json_write_number(stdout, count > nans ? max : NAN, 9);
        fputs(",\"mean\":", stdout);
        json_write_number(stdout, count > nans ? sum / (double)(count - nans) : NAN, 9);
        printf(",\"nan\":%zu}\n", nans);
    }
}

static bool is_float(verge_dtype dtype)
{
    return dtype == VERGE_DTYPE_FLOAT32 || dtype == VERGE_DTYPE_FLOAT64;
}

/* Prints the JSON line of an output that could not be compared, and the reason on stderr. */
static void print_not_compared(int index, const verge_tensor *out, const char *reason)
{
    fprintf(stderr, "verge run: output %d '%s': %s\n", index, out->name, reason);
    printf("{\"output\":%d,\"name\":", index);
    json_write_string(stdout, out->name);
    fputs(",\"error\":", stdout);
    json_write_string(stdout, reason);
    fputs(",\"pass\":false}\n", stdout);
}

/*
 * Compares output `index` with the reference file at `path`. The reference
 * must have the output's shape, and its dtype, except that float32 and
 * float64 compare with each other. Prints one JSON line and returns true
 * when the output passes.
 */
static bool compare_output(int index, const verge_tensor *out, const char *path,
                           const run_options *options)
{
    char reason[4096 + 256], a[96], b[96];
    verge_array ref;
    size_t count = verge_tensor_count(out);
    double max_diff = 0, max_ref = 0, allowed;
    bool pass;

    if (verge_npy_read(path, &ref) != VERGE_OK) {
        print_not_compared(index, out, verge_error_message());
        return false;
    }
    if (ref.rank != out->rank ||
        memcmp(ref.dims, out->dims, sizeof(out->dims[0]) * (size_t)out->rank) != 0) {
        snprintf(reason, sizeof(reason), "the reference %s has shape %s, but the output has shape %s",
                 path, verge_shape_str(ref.dims, ref.rank, a, sizeof(a)),
                 verge_shape_str(out->dims, out->rank, b, sizeof(b)));
        verge_array_free(&ref);
        print_not_compared(index, out, reason);
        return false;
    }
    if (ref.dtype != out->dtype && !(is_float(ref.dtype) && is_float(out->dtype))) {
        snprintf(reason, sizeof(reason), "the reference %s is %s, but the output is %s", path,
                 verge_dtype_name(ref.dtype), verge_dtype_name(out->dtype));
        verge_array_free(&ref);
        print_not_compared(index, out, reason);
        return false;
    }

    for (size_t i = 0; i < count; i++) {
        double x = element(out->dtype, out->data, i);
        double r = element(ref.dtype, ref.data, i);
        double diff = fabs(x - r);

        /* NaN where the reference has none (or the other way round) fails the output. */
        if (isnan(x) != isnan(r))
            diff = INFINITY;
        else if (isnan(x))
            diff = 0;
        if (diff > max_diff)
            max_diff = diff;
        if (fabs(r) > max_ref)
            max_ref = fabs(r);
    }
    verge_array_free(&ref);

    allowed = options->atol + options->rtol * max_ref;
    pass = max_diff <= allowed;
    printf("{\"output\":%d,\"name\":", index);
    json_write_string(stdout, out->name);
    fputs(",\"max_abs_diff\":", stdout);
    json_write_number(stdout, max_diff, 6);
    fputs(",\"max_abs_ref\":", stdout);
    json_write_number(stdout, max_ref, 6);
    fputs(",\"allowed\":", stdout);
    json_write_number(stdout, allowed, 6);
    printf(",\"pass\":%s}\n", pass ? "true" : "false");
    return pass;
}

/*
 * Compares every output with DIR/output_<i>.npy, one JSON line each, and
 * returns the number that failed: beyond the tolerance, or with a
 * reference that is missing, unreadable or of another shape or dtype.
 */
static int compare_outputs(const verge_interpreter *interpreter, const run_options *options)
{
    int failed = 0;

    for (int o = 0; o < verge_interpreter_output_count(interpreter); o++) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/output_%d.npy", options->compare_dir, o);
        if (!compare_output(o, verge_interpreter_output(interpreter, o), path, options))
            failed++;
    }
    return failed;
}

/*
 * After a failed preparation, names the inputs that took the shape of their
 * .npy file instead of the model's, since that is often why it failed.
 */
static void print_resized_inputs(const model_inputs *inputs, const verge_model *model)
{
    const verge_graph *graph = &model->graphs[0];

    for (int s = inputs->num_shape_texts; s < inputs->num_shapes; s++) {
        const verge_input_shape *shape = &inputs->shapes[s];
        const verge_tensor *declared = &graph->tensors[graph->inputs[shape->index]];
        char a[96], b[96];

        fprintf(stderr, "verge run: note: input %d '%s' was resized to %s, the shape of %s; the "
                        "model declares %s\n", shape->index, declared->name,
                verge_shape_str(shape->dims, shape->rank, a, sizeof(a)),
                inputs->paths[shape->index],
                verge_shape_str(declared->dims, declared->rank, b, sizeof(b)));
    }
}

/* Returns true when both paths name one existing folder (by device and inode, not by text). */
static bool same_folder(const char *a, const char *b)
{
    struct stat first, second;

    if (a == NULL || b == NULL || stat(a, &first) != 0 || stat(b, &second) != 0)
        return false;
    return first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

int verge_cmd_run(int argc, char **argv)
{
    run_options options;
    model_inputs inputs = {0};
    verge_interpreter_options interpreter_options = {0};
    verge_model *model = NULL;
    verge_interpreter *interpreter = NULL;
    int status = 1, parsed;

    parsed = parse_options(argc, argv, &options, &inputs);
    if (parsed == 2) {
        print_help(stdout);
        return 0;
    }
    if (parsed != 0)
        return 2;
    if (same_folder(options.output_dir, options.compare_dir)) {
        fprintf(stderr, "verge run: --output-dir and --compare name the same folder %s; the "
                        "outputs would replace the references\n", options.compare_dir);
        return 2;
    }

    if (verge_model_load(options.model_path, &model) != VERGE_OK) {
        fprintf(stderr, "verge run: %s\n", verge_error_message());
        return 1;
    }
    status = model_inputs_load("verge run", &inputs, model, options.model_path, true);
    if (status != 0)
        goto done;
    status = 1;

    interpreter_options.input_shapes = inputs.shapes;
    interpreter_options.num_input_shapes = inputs.num_shapes;
    interpreter_options.threads = options.threads;
    if (verge_interpreter_create(model, &interpreter_options, &interpreter) != VERGE_OK) {
        fprintf(stderr, "verge run: %s\n", verge_error_message());
        print_resized_inputs(&inputs, model);
        goto done;
    }
    for (int i = 0; i < inputs.num_arrays; i++) {
        verge_tensor *input = verge_interpreter_input(interpreter, i);

        if (model_inputs_fill("verge run", &inputs, i, input) != 0)
            goto done;
    }

    if (verge_interpreter_invoke(interpreter) != VERGE_OK) {
        fprintf(stderr, "verge run: %s\n", verge_error_message());
        goto done;
    }
    if (options.output_dir == NULL && options.compare_dir == NULL)
        print_summaries(interpreter);
    if (options.output_dir != NULL && write_outputs(interpreter, options.output_dir) != 0)
        goto done;
    if (options.compare_dir != NULL) {
        int failed = compare_outputs(interpreter, &options);

        if (failed != 0) {
            fprintf(stderr, "verge run: %d %s the comparison with %s\n", failed,
                    cli_plural(failed, "output failed", "outputs failed"), options.compare_dir);
            goto done;
        }
    }
    status = 0;

done:
    model_inputs_free(&inputs);
    verge_interpreter_destroy(interpreter);
    verge_model_free(model);
    return status;
}
