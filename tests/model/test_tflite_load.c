/*
 * Loads the three pinned MediaPipe face detectors and checks what the loader
 * read against facts established without it: input and output names and
 * shapes from the reference runtime's golden files
 * (tests/data/golden/const/<model>/inputs.json, outputs.json), and operator
 * counts, constant dtypes, sparsity and options as dumped by flatc 2.0.8
 * (`flatc --json --raw-binary` with TFLite's schema). Also loads every other
 * pinned model, and covers the file errors (missing, empty, not TFLite, a
 * directory) and loading from memory.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "model/graph.h"
#include "model_invariants.h"
#include "verge/model.h"

static const char *const model_names[] = {
    "face_detection_short_range.tflite",
    "face_detection_full_range.tflite",
    "face_detection_full_range_sparse.tflite",
};

enum { SHORT_RANGE = 0, FULL_RANGE = 1, FULL_RANGE_SPARSE = 2, NUM_MODELS = 3 };

typedef struct op_count {
    int op;
    int count;
} op_count;

/* Operator counts of subgraph 0, from flatc's JSON dump of each file. */
static const op_count expected_ops[NUM_MODELS][10] = {
    [SHORT_RANGE] = {{VERGE_OP_ADD, 16}, {VERGE_OP_CONCATENATION, 2}, {VERGE_OP_CONV_2D, 21},
                     {VERGE_OP_DEPTHWISE_CONV_2D, 16}, {VERGE_OP_DEQUANTIZE, 74},
                     {VERGE_OP_MAX_POOL_2D, 3}, {VERGE_OP_RELU, 17}, {VERGE_OP_RESHAPE, 4},
                     {VERGE_OP_PAD, 11}, {-1, 0}},
    [FULL_RANGE] = {{VERGE_OP_ADD, 23}, {VERGE_OP_CONV_2D, 49}, {VERGE_OP_DEPTHWISE_CONV_2D, 40},
                    {VERGE_OP_DEQUANTIZE, 178}, {VERGE_OP_MAX_POOL_2D, 4}, {VERGE_OP_RELU, 47},
                    {VERGE_OP_RESHAPE, 2}, {VERGE_OP_RESIZE_BILINEAR, 3}, {VERGE_OP_PAD, 8},
                    {-1, 0}},
    [FULL_RANGE_SPARSE] = {{VERGE_OP_ADD, 19}, {VERGE_OP_CONV_2D, 49},
                           {VERGE_OP_DEPTHWISE_CONV_2D, 42}, {VERGE_OP_DEPTH_TO_SPACE, 2},
                           {VERGE_OP_DEQUANTIZE, 182}, {VERGE_OP_RESHAPE, 2},
                           {VERGE_OP_RESIZE_BILINEAR, 3}, {VERGE_OP_PAD, 43},
                           {VERGE_OP_DENSIFY, 46}, {-1, 0}},
};

static const int expected_nodes[NUM_MODELS] = {164, 354, 388};
static const int expected_tensors[NUM_MODELS] = {250, 544, 577};
/* Constant tensors by dtype: {float16, int32}; no other dtype has constants. */
static const int expected_constants[NUM_MODELS][2] = {{74, 11}, {178, 11}, {182, 6}};

static verge_model *load_model(int index)
{
    char path[4096];
    verge_model *model = NULL;

    check_model_path(model_names[index], path);
    CHECK_OK(verge_model_load(path, &model));
    return model;
}

/* ---- golden inputs.json / outputs.json ----------------------------------------------------- */

typedef struct io_spec {
    char name[128];
    int rank;
    int32_t dims[VERGE_MAX_RANK];
    char dtype[16];
} io_spec;

static char *read_text(const char *path)
{
    FILE *file = fopen(path, "rb");
    char *text;
    long size;

    if (file == NULL)
        return NULL;
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    text = calloc(1, (size_t)size + 1);
    if (text != NULL && fread(text, 1, (size_t)size, file) != (size_t)size) {
        free(text);
        text = NULL;
    }
    fclose(file);
    return text;
}

/* Copies the string value after `"key": "` at or after `from` into out; returns the end or NULL. */
static const char *json_string_after(const char *from, const char *key, char *out, size_t size)
{
    char pattern[64];
    const char *start;
    const char *end;

    snprintf(pattern, sizeof(pattern), "\"%s\": \"", key);
    start = strstr(from, pattern);
    if (start == NULL)
        return NULL;
    start += strlen(pattern);
    end = strchr(start, '"');
    if (end == NULL || (size_t)(end - start) >= size)
        return NULL;
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return end;
}

/*
 * Reads the entries "0", "1", ... of a golden inputs.json or outputs.json.
 * Each entry has "name", "shape" and "dtype" keys in that order, which is how
 * the reference script writes them.
 */
static int read_io_specs(const char *model, const char *file, io_spec *specs, int max)
{
    char path[4096];
    char relative[512];
    char *text;
    const char *cursor;
    int count = 0;

    snprintf(relative, sizeof(relative), "golden/const/%s/%s", model, file);
    check_data_path(relative, path);
    text = read_text(path);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (text == NULL)
        return 0;

    cursor = text;
    while (count < max) {
        char key[16];
        char pattern[24];
        io_spec *spec = &specs[count];
        const char *shape;

        snprintf(key, sizeof(key), "%d", count);
        snprintf(pattern, sizeof(pattern), "\"%s\": {", key);
        cursor = strstr(cursor, pattern);
        if (cursor == NULL)
            break;
        cursor = json_string_after(cursor, "name", spec->name, sizeof(spec->name));
        if (cursor == NULL)
            break;
        shape = strstr(cursor, "\"shape\": [");
        if (shape == NULL)
            break;
        shape += strlen("\"shape\": [");
        spec->rank = 0;
        while (*shape != ']' && spec->rank < VERGE_MAX_RANK) {
            char *next;

            spec->dims[spec->rank++] = (int32_t)strtol(shape, &next, 10);
            shape = next;
            while (*shape == ',' || *shape == ' ' || *shape == '\n')
                shape++;
        }
        cursor = json_string_after(shape, "dtype", spec->dtype, sizeof(spec->dtype));
        if (cursor == NULL)
            break;
        count++;
    }
    free(text);
    return count;
}

static void check_io(const verge_graph *graph, const int32_t *indices, int count, const char *model,
                     const char *file)
{
    io_spec specs[4];
    int expected = read_io_specs(model, file, specs, 4);

    CHECK_MSG(expected > 0, "%s/%s: no entries", model, file);
    CHECK_EQ_INT(count, expected);
    for (int i = 0; i < count && i < expected; i++) {
        const verge_tensor *t = &graph->tensors[indices[i]];

        CHECK_MSG(strcmp(t->name, specs[i].name) == 0, "%s %s %d: name '%s', expected '%s'",
                  model, file, i, t->name, specs[i].name);
        CHECK_MSG(strcmp(verge_dtype_name(t->dtype), specs[i].dtype) == 0,
                  "%s %s %d: dtype %s, expected %s", model, file, i, verge_dtype_name(t->dtype),
                  specs[i].dtype);
        CHECK_EQ_INT(t->rank, specs[i].rank);
        for (int d = 0; d < t->rank && d < specs[i].rank; d++)
            CHECK_EQ_INT(t->dims[d], specs[i].dims[d]);
        CHECK_EQ_INT(t->storage, VERGE_STORAGE_ARENA);
        CHECK(t->data == NULL);
    }
}

/* ---- tests --------------------------------------------------------------------------------- */

static void face_models_match_golden_inputs_and_outputs(void)
{
    for (int m = 0; m < NUM_MODELS; m++) {
        verge_model *model = load_model(m);

        if (model == NULL)
            continue;
        CHECK_EQ_INT(model->num_graphs, 1);
        CHECK_EQ_INT(model->format_version, 3);
        check_io(&model->graphs[0], model->graphs[0].inputs, model->graphs[0].num_inputs,
                 model_names[m], "inputs.json");
        check_io(&model->graphs[0], model->graphs[0].outputs, model->graphs[0].num_outputs,
                 model_names[m], "outputs.json");
        verge_model_free(model);
    }
}

static void face_models_have_expected_operators_and_constants(void)
{
    for (int m = 0; m < NUM_MODELS; m++) {
        verge_model *model = load_model(m);
        const verge_graph *g;
        int counted = 0;
        int constants[2] = {0, 0};

        if (model == NULL)
            continue;
        g = &model->graphs[0];
        CHECK_EQ_INT(g->num_nodes, expected_nodes[m]);
        CHECK_EQ_INT(g->num_tensors, expected_tensors[m]);
        for (const op_count *e = expected_ops[m]; e->op >= 0; e++) {
            int count = 0;

            for (int i = 0; i < g->num_nodes; i++)
                count += g->nodes[i].op == e->op;
            CHECK_MSG(count == e->count, "%s: %d %s nodes, expected %d", model_names[m], count,
                      verge_op_name(e->op), e->count);
            counted += count;
        }
        /* The listed operators are all there is. */
        CHECK_EQ_INT(counted, g->num_nodes);

        for (int i = 0; i < g->num_tensors; i++) {
            const verge_tensor *t = &g->tensors[i];

            if (t->storage != VERGE_STORAGE_CONSTANT)
                continue;
            CHECK_MSG(t->dtype == VERGE_DTYPE_FLOAT16 || t->dtype == VERGE_DTYPE_INT32,
                      "%s tensor %d: constant of dtype %s", model_names[m], i,
                      verge_dtype_name(t->dtype));
            constants[t->dtype == VERGE_DTYPE_INT32]++;
            CHECK(t->quant.count == 0);
        }
        CHECK_EQ_INT(constants[0], expected_constants[m][0]);
        CHECK_EQ_INT(constants[1], expected_constants[m][1]);
        CHECK_MSG(model_invariants_hold(model), "%s: %s", model_names[m], model_invariant_error);
        verge_model_free(model);
    }
}

/* Returns the node whose output 0 is `tensor`, or NULL. */
static const verge_node *producer(const verge_graph *g, int32_t tensor)
{
    for (int i = 0; i < g->num_nodes; i++)
        if (g->nodes[i].num_outputs > 0 && g->nodes[i].outputs[0] == tensor)
            return &g->nodes[i];
    return NULL;
}

static void dequantize_inputs_are_float16_constants(void)
{
    for (int m = 0; m < NUM_MODELS; m++) {
        verge_model *model = load_model(m);
        const verge_graph *g;
        int from_densify = 0;

        if (model == NULL)
            continue;
        g = &model->graphs[0];
        for (int i = 0; i < g->num_nodes; i++) {
            const verge_node *n = &g->nodes[i];
            const verge_tensor *in;
            const verge_tensor *out;

            if (n->op != VERGE_OP_DEQUANTIZE)
                continue;
            CHECK_EQ_INT(n->num_inputs, 1);
            CHECK_EQ_INT(n->num_outputs, 1);
            in = &g->tensors[n->inputs[0]];
            out = &g->tensors[n->outputs[0]];
            CHECK_EQ_INT(in->dtype, VERGE_DTYPE_FLOAT16);
            CHECK_EQ_INT(out->dtype, VERGE_DTYPE_FLOAT32);
            CHECK_EQ_INT(in->rank, out->rank);
            if (in->storage == VERGE_STORAGE_CONSTANT) {
                CHECK(in->sparsity == NULL);
                CHECK_EQ_INT(in->bytes, verge_tensor_count(in) * 2);
            } else {
                /* In the sparse model, float16 weights come out of DENSIFY. */
                const verge_node *p = producer(g, n->inputs[0]);

                CHECK(p != NULL);
                if (p != NULL) {
                    CHECK_EQ_INT(p->op, VERGE_OP_DENSIFY);
                    CHECK(g->tensors[p->inputs[0]].sparsity != NULL);
                }
                from_densify++;
            }
        }
        CHECK_EQ_INT(from_densify, m == FULL_RANGE_SPARSE ? 46 : 0);
        verge_model_free(model);
    }
}

static void sparse_model_has_valid_sparse_tensors(void)
{
    verge_model *model = load_model(FULL_RANGE_SPARSE);
    const verge_graph *g;
    const verge_tensor *t;
    int sparse = 0;

    if (model == NULL)
        return;
    g = &model->graphs[0];
    for (int i = 0; i < g->num_tensors; i++) {
        const verge_sparsity *s = g->tensors[i].sparsity;

        if (s == NULL)
            continue;
        sparse++;
        t = &g->tensors[i];
        CHECK_EQ_INT(t->storage, VERGE_STORAGE_CONSTANT);
        CHECK_EQ_INT(t->dtype, VERGE_DTYPE_FLOAT16);
        CHECK_EQ_INT(t->rank, 4);
        /* flatc: traversal_order [0,1,2,3], no block_map, three dense levels and a CSR one. */
        CHECK_EQ_INT(s->num_dims, 4);
        CHECK_EQ_INT(s->num_block_dims, 0);
        for (int d = 0; d < 4; d++)
            CHECK_EQ_INT(s->traversal_order[d], d);
        for (int d = 0; d < 3; d++) {
            CHECK_EQ_INT(s->dims[d].format, 0);
            CHECK_EQ_INT(s->dims[d].dense_size, t->dims[d]);
        }
        CHECK_EQ_INT(s->dims[3].format, 1);
        CHECK_EQ_INT(s->dims[3].num_segments,
                     (size_t)t->dims[0] * (size_t)t->dims[1] * (size_t)t->dims[2] + 1);
        CHECK_EQ_INT(s->num_values * 2, t->bytes);
        CHECK(s->num_values < verge_tensor_count(t));
    }
    CHECK_EQ_INT(sparse, 46);

    /* Tensor 14, per flatc: shape [8,1,1,32], segments 9 (Uint8Vector), indices 77, 154 bytes. */
    t = &g->tensors[14];
    CHECK_MSG(strcmp(t->name, "model_1/model/conv2d_1/Conv2D_dequantize") == 0, "name '%s'",
              t->name);
    CHECK(t->sparsity != NULL);
    if (t->sparsity != NULL) {
        const verge_sparse_dim *csr = &t->sparsity->dims[3];

        CHECK_EQ_INT(t->dims[0], 8);
        CHECK_EQ_INT(t->dims[3], 32);
        CHECK_EQ_INT(csr->num_segments, 9);
        CHECK_EQ_INT(csr->num_indices, 77);
        CHECK_EQ_INT(t->bytes, 154);
        CHECK_EQ_INT(csr->segments[0], 0);
        CHECK_EQ_INT(csr->segments[8], 77);
    }
    CHECK_MSG(model_invariants_hold(model), "%s", model_invariant_error);
    verge_model_free(model);
}

static void options_are_parsed(void)
{
    verge_model *model = load_model(SHORT_RANGE);
    const verge_node *n;

    if (model != NULL) {
        const verge_graph *g = &model->graphs[0];

        /* flatc: node 2 CONV_2D {stride_w 2, stride_h 2}, everything else default. */
        n = &g->nodes[2];
        CHECK_EQ_INT(n->op, VERGE_OP_CONV_2D);
        CHECK_EQ_INT(n->params.conv.padding, VERGE_PADDING_SAME);
        CHECK_EQ_INT(n->params.conv.stride_w, 2);
        CHECK_EQ_INT(n->params.conv.stride_h, 2);
        CHECK_EQ_INT(n->params.conv.dilation_w, 1);
        CHECK_EQ_INT(n->params.conv.dilation_h, 1);
        CHECK_EQ_INT(n->params.conv.activation, VERGE_ACT_NONE);
        CHECK_EQ_INT(n->num_inputs, 3);
        CHECK_EQ_INT(n->inputs[0], 0);
        CHECK_EQ_INT(n->inputs[1], 224);
        CHECK_EQ_INT(n->inputs[2], 193);
        CHECK_EQ_INT(n->outputs[0], 3);
        CHECK_EQ_INT(n->version, 1);

        /* node 6 DEPTHWISE_CONV_2D {stride 1, depth_multiplier 1}. */
        n = &g->nodes[6];
        CHECK_EQ_INT(n->op, VERGE_OP_DEPTHWISE_CONV_2D);
        CHECK_EQ_INT(n->params.conv.stride_w, 1);
        CHECK_EQ_INT(n->params.conv.depth_multiplier, 1);
        CHECK_EQ_INT(n->params.conv.padding, VERGE_PADDING_SAME);

        /* node 24 MAX_POOL_2D {stride 2, filter 2x2}. */
        n = &g->nodes[24];
        CHECK_EQ_INT(n->op, VERGE_OP_MAX_POOL_2D);
        CHECK_EQ_INT(n->params.pool.stride_w, 2);
        CHECK_EQ_INT(n->params.pool.stride_h, 2);
        CHECK_EQ_INT(n->params.pool.filter_w, 2);
        CHECK_EQ_INT(n->params.pool.filter_h, 2);
        CHECK_EQ_INT(n->params.pool.padding, VERGE_PADDING_SAME);

        /* node 158 RESHAPE {new_shape [1,-1,1]}, node 162 CONCATENATION {axis 1}. */
        n = &g->nodes[158];
        CHECK_EQ_INT(n->op, VERGE_OP_RESHAPE);
        CHECK(n->params.reshape.has_shape);
        CHECK_EQ_INT(n->params.reshape.rank, 3);
        CHECK_EQ_INT(n->params.reshape.shape[0], 1);
        CHECK_EQ_INT(n->params.reshape.shape[1], -1);
        CHECK_EQ_INT(n->params.reshape.shape[2], 1);
        n = &g->nodes[162];
        CHECK_EQ_INT(n->op, VERGE_OP_CONCATENATION);
        CHECK_EQ_INT(n->params.concat.axis, 1);
        CHECK_EQ_INT(n->params.concat.activation, VERGE_ACT_NONE);

        /* DEQUANTIZE has version 2 in this file. */
        CHECK_EQ_INT(g->nodes[0].op, VERGE_OP_DEQUANTIZE);
        CHECK_EQ_INT(g->nodes[0].version, 2);
        CHECK(g->nodes[0].custom_name == NULL);
        CHECK(g->nodes[0].custom_options == NULL);
        verge_model_free(model);
    }

    model = load_model(FULL_RANGE_SPARSE);
    if (model != NULL) {
        const verge_graph *g = &model->graphs[0];

        /* node 3 CONV_2D {padding VALID, stride 2, RELU}; node 7 DEPTHWISE {VALID, stride 1}. */
        n = &g->nodes[3];
        CHECK_EQ_INT(n->op, VERGE_OP_CONV_2D);
        CHECK_EQ_INT(n->params.conv.padding, VERGE_PADDING_VALID);
        CHECK_EQ_INT(n->params.conv.stride_w, 2);
        CHECK_EQ_INT(n->params.conv.activation, VERGE_ACT_RELU);
        n = &g->nodes[7];
        CHECK_EQ_INT(n->op, VERGE_OP_DEPTHWISE_CONV_2D);
        CHECK_EQ_INT(n->params.conv.padding, VERGE_PADDING_VALID);
        CHECK_EQ_INT(n->params.conv.stride_h, 1);
        /* node 20 ADD {RELU}; node 271 RESIZE_BILINEAR {half_pixel_centers}. */
        n = &g->nodes[20];
        CHECK_EQ_INT(n->op, VERGE_OP_ADD);
        CHECK_EQ_INT(n->params.activation.activation, VERGE_ACT_RELU);
        n = &g->nodes[271];
        CHECK_EQ_INT(n->op, VERGE_OP_RESIZE_BILINEAR);
        CHECK(n->params.resize.half_pixel_centers);
        CHECK(!n->params.resize.align_corners);
        CHECK_EQ_INT(n->version, 3);
        /* node 377 DEPTH_TO_SPACE {block_size 2}; node 378 RESHAPE without options. */
        n = &g->nodes[377];
        CHECK_EQ_INT(n->op, VERGE_OP_DEPTH_TO_SPACE);
        CHECK_EQ_INT(n->params.depth_to_space.block_size, 2);
        n = &g->nodes[378];
        CHECK_EQ_INT(n->op, VERGE_OP_RESHAPE);
        CHECK(!n->params.reshape.has_shape);
        CHECK_EQ_INT(n->num_inputs, 2);
        verge_model_free(model);
    }
}

/* Writes `size` bytes to a new temporary file and stores its path. */
static void write_temp(const void *data, size_t size, const char *suffix, char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    FILE *file;

    snprintf(path, cap, "%s/verge_test_%d_%s", dir != NULL && dir[0] ? dir : "/tmp", (int)getpid(),
             suffix);
    file = fopen(path, "wb");
    CHECK_MSG(file != NULL, "cannot create %s", path);
    if (file == NULL)
        return;
    if (size > 0)
        CHECK(fwrite(data, 1, size, file) == size);
    fclose(file);
}

static void file_errors_are_reported(void)
{
    char path[4096];
    verge_model *model = (verge_model *)&model; /* must be reset to NULL on failure */

    check_model_path("no_such_model.tflite", path);
    CHECK_STATUS(verge_model_load(path, &model), VERGE_STATUS_NOT_FOUND);
    CHECK(model == NULL);
    CHECK(strstr(verge_error_message(), "no_such_model.tflite") != NULL);

    write_temp("", 0, "empty.tflite", path, sizeof(path));
    CHECK_STATUS(verge_model_load(path, &model), VERGE_STATUS_INVALID_MODEL);
    CHECK(strstr(verge_error_message(), "empty") != NULL);
    CHECK(strstr(verge_error_message(), "empty.tflite") != NULL);
    CHECK(model == NULL);
    unlink(path);

    {
        static const char text[] = "# not a model, just text that is long enough\n";
        char expected[4200];

        write_temp(text, sizeof(text) - 1, "x.bin", path, sizeof(path));
        CHECK_STATUS(verge_model_load(path, &model), VERGE_STATUS_UNSUPPORTED);
        snprintf(expected, sizeof(expected),
                 "%s: not a TFLite model (no TFL3 identifier); verge reads .tflite files", path);
        CHECK_MSG(strcmp(verge_error_message(), expected) == 0, "message '%s'",
                  verge_error_message());
        unlink(path);

        /* Shorter than the identifier. */
        write_temp("abc", 3, "tiny.bin", path, sizeof(path));
        CHECK_STATUS(verge_model_load(path, &model), VERGE_STATUS_UNSUPPORTED);
        unlink(path);
    }

    /* A directory opens but is not a model file. */
    {
        const char *dir = getenv("TMPDIR");

        snprintf(path, sizeof(path), "%s", dir != NULL && dir[0] ? dir : "/tmp");
        CHECK_STATUS(verge_model_load(path, &model), VERGE_STATUS_IO_ERROR);
        CHECK(strstr(verge_error_message(), "not a regular file") != NULL);
    }

    CHECK_STATUS(verge_model_load(NULL, &model), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_model_load_buffer(NULL, 0, "nothing", &model), VERGE_STATUS_INVALID_MODEL);
    CHECK(strstr(verge_error_message(), "nothing: the file is empty") != NULL);
    verge_model_free(NULL);
}

static void load_buffer_matches_load(void)
{
    char path[4096];
    verge_model *from_file = load_model(SHORT_RANGE);
    verge_model *from_buffer = NULL;
    unsigned char *bytes;
    long size;
    FILE *file;

    if (from_file == NULL)
        return;
    CHECK(strstr(verge_model_path(from_file), model_names[SHORT_RANGE]) != NULL);
    check_model_path(model_names[SHORT_RANGE], path);
    file = fopen(path, "rb");
    CHECK(file != NULL);
    if (file == NULL) {
        verge_model_free(from_file);
        return;
    }
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    /* One spare byte lets the source start at an odd address: the loader copies it anyway. */
    bytes = malloc((size_t)size + 1);
    CHECK(bytes != NULL);
    if (bytes == NULL) {
        fclose(file);
        verge_model_free(from_file);
        return;
    }
    CHECK(fread(bytes + 1, 1, (size_t)size, file) == (size_t)size);
    fclose(file);

    CHECK_OK(verge_model_load_buffer(bytes + 1, (size_t)size, "in-memory", &from_buffer));
    if (from_buffer != NULL) {
        const verge_graph *a = &from_file->graphs[0];
        const verge_graph *b = &from_buffer->graphs[0];

        CHECK(strcmp(verge_model_path(from_buffer), "in-memory") == 0);
        CHECK_EQ_INT(b->num_tensors, a->num_tensors);
        CHECK_EQ_INT(b->num_nodes, a->num_nodes);
        for (int i = 0; i < a->num_tensors && i < b->num_tensors; i++) {
            CHECK_EQ_INT(b->tensors[i].bytes, a->tensors[i].bytes);
            CHECK_EQ_INT(b->tensors[i].storage, a->tensors[i].storage);
            if (a->tensors[i].storage == VERGE_STORAGE_CONSTANT)
                CHECK(memcmp(a->tensors[i].data, b->tensors[i].data, a->tensors[i].bytes) == 0);
            CHECK(strcmp(a->tensors[i].name, b->tensors[i].name) == 0);
        }
        for (int i = 0; i < a->num_nodes && i < b->num_nodes; i++) {
            CHECK_EQ_INT(b->nodes[i].op, a->nodes[i].op);
            CHECK(memcmp(&a->nodes[i].params, &b->nodes[i].params, sizeof(verge_op_params)) == 0);
        }
        CHECK_MSG(model_invariants_hold(from_buffer), "%s", model_invariant_error);
    }

    /* The buffer is copied: the caller may free it right away. */
    memset(bytes, 0, (size_t)size + 1);
    free(bytes);
    if (from_buffer != NULL)
        CHECK_MSG(model_invariants_hold(from_buffer), "%s", model_invariant_error);
    verge_model_free(from_buffer);
    verge_model_free(from_file);
}

/* Options of the other operators, from the pinned wake-word and audio models (flatc's dump). */
static void other_models_options_are_parsed(void)
{
    char path[4096];
    verge_model *model = NULL;
    const verge_node *n;

    /* hey_jarvis: node 1 FULLY_CONNECTED {}, node 2 MEAN {keep_dims}, node 25 IF {then 2, else 1}. */
    check_model_path("hey_jarvis_v0.1.tflite", path);
    CHECK_OK(verge_model_load(path, &model));
    if (model != NULL) {
        CHECK_EQ_INT(model->num_graphs, 3);
        n = &model->graphs[0].nodes[1];
        CHECK_EQ_INT(n->op, VERGE_OP_FULLY_CONNECTED);
        CHECK_EQ_INT(n->params.fully_connected.activation, VERGE_ACT_NONE);
        CHECK_EQ_INT(n->params.fully_connected.weights_format,
                     VERGE_FULLY_CONNECTED_WEIGHTS_DEFAULT);
        CHECK(!n->params.fully_connected.keep_num_dims);
        n = &model->graphs[0].nodes[2];
        CHECK_EQ_INT(n->op, VERGE_OP_MEAN);
        CHECK(n->params.reducer.keep_dims);
        n = &model->graphs[0].nodes[25];
        CHECK_EQ_INT(n->op, VERGE_OP_IF);
        CHECK_EQ_INT(n->params.if_graphs.then_graph, 2);
        CHECK_EQ_INT(n->params.if_graphs.else_graph, 1);
        verge_model_free(model);
    }

    /* melspectrogram: node 4 SQUEEZE {[-3]}, node 16 BATCH_MATMUL {}, node 23 REDUCE_MAX {}. */
    check_model_path("melspectrogram.tflite", path);
    CHECK_OK(verge_model_load(path, &model));
    if (model != NULL) {
        n = &model->graphs[0].nodes[4];
        CHECK_EQ_INT(n->op, VERGE_OP_SQUEEZE);
        CHECK_EQ_INT(n->params.squeeze.num_dims, 1);
        CHECK_EQ_INT(n->params.squeeze.dims[0], -3);
        n = &model->graphs[0].nodes[16];
        CHECK_EQ_INT(n->op, VERGE_OP_BATCH_MATMUL);
        CHECK(!n->params.batch_matmul.adj_x);
        CHECK(!n->params.batch_matmul.adj_y);
        n = &model->graphs[0].nodes[23];
        CHECK_EQ_INT(n->op, VERGE_OP_REDUCE_MAX);
        CHECK(!n->params.reducer.keep_dims);
        verge_model_free(model);
    }

    /* embedding_model: node 2 LEAKY_RELU {alpha 0.2}. */
    check_model_path("embedding_model.tflite", path);
    CHECK_OK(verge_model_load(path, &model));
    if (model != NULL) {
        n = &model->graphs[0].nodes[2];
        CHECK_EQ_INT(n->op, VERGE_OP_LEAKY_RELU);
        CHECK_NEAR(n->params.leaky_relu.alpha, 0.2, 1e-7);
        verge_model_free(model);
    }

    /* timer: node 1 FULLY_CONNECTED {RELU}, node 4 SOFTMAX {beta 1.0}. */
    check_model_path("timer_v0.1.tflite", path);
    CHECK_OK(verge_model_load(path, &model));
    if (model != NULL) {
        n = &model->graphs[0].nodes[1];
        CHECK_EQ_INT(n->op, VERGE_OP_FULLY_CONNECTED);
        CHECK_EQ_INT(n->params.fully_connected.activation, VERGE_ACT_RELU);
        n = &model->graphs[0].nodes[4];
        CHECK_EQ_INT(n->op, VERGE_OP_SOFTMAX);
        CHECK_NEAR(n->params.softmax.beta, 1.0, 0);
        verge_model_free(model);
    }
}

/* Every .tflite in the model folder (all pinned models, not only the face detectors) loads. */
static void every_pinned_model_loads(void)
{
    char dir_path[4096];
    DIR *dir;
    struct dirent *entry;
    int loaded = 0;

    check_model_path("", dir_path);
    dir = opendir(dir_path);
    CHECK_MSG(dir != NULL, "cannot list %s", dir_path);
    if (dir == NULL)
        return;
    while ((entry = readdir(dir)) != NULL) {
        size_t length = strlen(entry->d_name);
        char path[4096 + 256];
        verge_model *model = NULL;

        if (length < 7 || strcmp(entry->d_name + length - 7, ".tflite") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir_path, entry->d_name);
        CHECK_OK(verge_model_load(path, &model));
        if (model == NULL)
            continue;
        CHECK_MSG(model_invariants_hold(model), "%s: %s", entry->d_name, model_invariant_error);
        verge_model_free(model);
        loaded++;
    }
    closedir(dir);
    CHECK_MSG(loaded >= NUM_MODELS, "only %d models in %s", loaded, dir_path);
}

int main(void)
{
    RUN(face_models_match_golden_inputs_and_outputs);
    RUN(face_models_have_expected_operators_and_constants);
    RUN(dequantize_inputs_are_float16_constants);
    RUN(sparse_model_has_valid_sparse_tensors);
    RUN(options_are_parsed);
    RUN(other_models_options_are_parsed);
    RUN(every_pinned_model_loads);
    RUN(file_errors_are_reported);
    RUN(load_buffer_matches_load);
    return check_summary();
}
