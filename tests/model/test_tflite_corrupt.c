/*
 * The loader against broken files. Part one corrupts the real short-range
 * face model. It truncates it at every offset of the first 4 KiB, at a stride
 * through the rest and over the last bytes. It also overwrites the structure
 * bytes (tables, vtables, offsets, lengths) with 0xFF, 0x7F, 0x80 and 0x00
 * patterns. Every case must fail with a status other than VERGE_OK or give a
 * model whose invariants hold. In the sanitizer build, AddressSanitizer and
 * UBSan catch any read outside memory, and LeakSanitizer any leak.
 *
 * Part two builds small TFLite FlatBuffers by hand, each wrong in one
 * specific way, and checks the status and the message.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/graph.h"
#include "model_invariants.h"
#include "verge/model.h"

/* ---- part one: the real model, corrupted --------------------------------------------------- */

static unsigned char *model_bytes;
static size_t model_size;
static unsigned char *scratch;
static int cases_loaded;
static int cases_rejected;

static bool read_model(void)
{
    char path[4096];
    FILE *file;
    long size;

    check_model_path("face_detection_short_range.tflite", path);
    file = fopen(path, "rb");
    CHECK_MSG(file != NULL, "cannot open %s", path);
    if (file == NULL)
        return false;
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    model_size = (size_t)size;
    model_bytes = malloc(model_size);
    scratch = malloc(model_size);
    CHECK(model_bytes != NULL);
    CHECK(scratch != NULL);
    if (model_bytes == NULL || scratch == NULL) {
        fclose(file);
        return false;
    }
    CHECK(fread(model_bytes, 1, model_size, file) == model_size);
    fclose(file);
    return true;
}

/* Loads `size` bytes of scratch; a model that loads must keep every invariant. */
static void load_case(size_t size, const char *change, size_t where)
{
    verge_model *model = NULL;
    verge_status status = verge_model_load_buffer(scratch, size, "corrupt.tflite", &model);

    if (status != VERGE_OK) {
        cases_rejected++;
        /* Every failure names the file. */
        CHECK_MSG(strncmp(verge_error_message(), "corrupt.tflite: ", 16) == 0,
                  "%s at %zu: message '%s'", change, where, verge_error_message());
        CHECK_MSG(model == NULL, "%s at %zu: model set on failure", change, where);
        CHECK_MSG(status == VERGE_STATUS_INVALID_MODEL || status == VERGE_STATUS_UNSUPPORTED ||
                      status == VERGE_STATUS_OUT_OF_MEMORY,
                  "%s at %zu: status %d", change, where, (int)status);
        return;
    }
    cases_loaded++;
    CHECK_MSG(model_invariants_hold(model), "%s at %zu: %s", change, where, model_invariant_error);
    verge_model_free(model);
}

static void truncated_model_is_rejected(void)
{
    if (model_bytes == NULL)
        return;
    memcpy(scratch, model_bytes, model_size);
    for (size_t size = 1; size < 4096 && size < model_size; size++)
        load_case(size, "truncated", size);
    for (size_t size = 4096; size < model_size; size += 211)
        load_case(size, "truncated", size);
    for (size_t cut = 1; cut <= 300 && cut < model_size; cut++)
        load_case(model_size - cut, "truncated", model_size - cut);
}

/*
 * Marks the bytes of constant data, found through a clean load, so that the
 * overwrites go to the structure instead: changing a weight changes nothing
 * the loader checks.
 */
static unsigned char *data_map(void)
{
    unsigned char *is_data = calloc(1, model_size);
    verge_model *model = NULL;

    CHECK_OK(verge_model_load_buffer(model_bytes, model_size, "clean.tflite", &model));
    if (model == NULL || is_data == NULL) {
        verge_model_free(model);
        return is_data;
    }
    /* The loader copies the buffer, so map data pointers back through the copy's base. */
    for (int i = 0; i < model->graphs[0].num_tensors; i++) {
        const verge_tensor *t = &model->graphs[0].tensors[i];
        const unsigned char *data = t->data;

        if (t->storage != VERGE_STORAGE_CONSTANT || data < model->file ||
            data + t->bytes > model->file + model->file_size)
            continue;
        memset(is_data + (data - model->file), 1, t->bytes);
    }
    verge_model_free(model);
    return is_data;
}

static void overwritten_model_is_rejected_or_valid(void)
{
    static const uint32_t words[] = {0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u, 0x00000000u,
                                     0x7FFF7FFFu, 0x00010000u};
    static const unsigned char bytes[] = {0xFF, 0x7F, 0x80, 0x00, 0x01};
    unsigned char *is_data;
    size_t structure = 0;

    if (model_bytes == NULL)
        return;
    is_data = data_map();
    if (is_data == NULL)
        return;
    /* Each case changes scratch and restores it before the next. */
    memcpy(scratch, model_bytes, model_size);

    for (size_t pos = 0; pos + 4 <= model_size; pos += 4) {
        if (is_data[pos] && is_data[pos + 3]) {
            /* A sample of the data words still runs, in case the map is wrong. */
            if (pos % 4096 != 0)
                continue;
        } else {
            structure++;
        }
        /* Each structure word gets two patterns, chosen by position so all of them occur. */
        for (int k = 0; k < 2; k++) {
            uint32_t word = words[(pos / 4 + (size_t)k * 3) % (sizeof(words) / sizeof(words[0]))];

            memcpy(scratch + pos, &word, 4);
            load_case(model_size, "word overwrite", pos);
        }
        memcpy(scratch + pos, model_bytes + pos, 4);
    }
    /*
     * Single bytes at odd positions hit the high halves of uint16 vtable
     * entries; a stride of 6 alternates between positions 1 and 3 modulo 4.
     */
    for (size_t pos = 1; pos < model_size; pos += 6) {
        if (is_data[pos])
            continue;
        scratch[pos] = bytes[(pos / 2) % sizeof(bytes)];
        load_case(model_size, "byte overwrite", pos);
        scratch[pos] = model_bytes[pos];
    }
    CHECK_MSG(structure > 1000, "only %zu structure words", structure);
    free(is_data);
}

/* ---- part two: hand-built FlatBuffers ------------------------------------------------------ */

/*
 * A forward FlatBuffer builder: a parent is written first with zero offset
 * fields, then its children after it, and fb_link() fills each offset once
 * the child's position is known. All offsets therefore point forward, as the
 * format requires.
 */
typedef struct fb_builder {
    unsigned char *buf;
    size_t size;
    size_t cap;
} fb_builder;

static void fb_reserve(fb_builder *b, size_t extra)
{
    if (b->size + extra <= b->cap)
        return;
    while (b->size + extra > b->cap)
        b->cap = b->cap ? b->cap * 2 : 1024;
    b->buf = realloc(b->buf, b->cap);
    if (b->buf == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
}

static size_t fb_put(fb_builder *b, const void *data, size_t size)
{
    size_t pos = b->size;

    fb_reserve(b, size);
    if (data != NULL)
        memcpy(b->buf + pos, data, size);
    else
        memset(b->buf + pos, 0, size);
    b->size += size;
    return pos;
}

/* Pads with zeros until size % align == rest. */
static void fb_pad(fb_builder *b, size_t align, size_t rest)
{
    while (b->size % align != rest)
        fb_put(b, "\0", 1);
}

static void fb_set_u32(fb_builder *b, size_t pos, uint32_t value)
{
    memcpy(b->buf + pos, &value, 4);
}

/* Makes the uoffset_t at `field` point at `target`. */
static void fb_link(fb_builder *b, size_t field, size_t target)
{
    fb_set_u32(b, field, (uint32_t)(target - field));
}

typedef struct fb_field {
    int id;
    int size;          /* 1, 2, 4 or 8 bytes; offsets are 4-byte fields linked later */
    uint64_t value;
} fb_field;

/*
 * Writes a vtable and then a table with `count` fields; pos[i] receives the
 * position of field i. The table starts 8-aligned and fields are naturally
 * aligned within it.
 */
static size_t fb_table(fb_builder *b, const fb_field *fields, int count, size_t *pos)
{
    uint16_t offsets[32] = {0};
    uint16_t header[2];
    int num_ids = 0;
    size_t end = 4;
    size_t vtable;
    size_t table;
    int32_t soffset;

    for (int i = 0; i < count; i++) {
        size_t size = (size_t)fields[i].size;

        end = (end + size - 1) / size * size;
        offsets[fields[i].id] = (uint16_t)end;
        end += size;
        if (fields[i].id + 1 > num_ids)
            num_ids = fields[i].id + 1;
    }
    fb_pad(b, 2, 0);
    header[0] = (uint16_t)(4 + 2 * num_ids);
    header[1] = (uint16_t)end;
    vtable = fb_put(b, header, 4);
    fb_put(b, offsets, 2 * (size_t)num_ids);
    fb_pad(b, 8, 0);
    table = fb_put(b, NULL, end);
    soffset = (int32_t)(table - vtable);
    memcpy(b->buf + table, &soffset, 4);
    for (int i = 0; i < count; i++) {
        size_t at = table + offsets[fields[i].id];

        memcpy(b->buf + at, &fields[i].value, (size_t)fields[i].size);
        if (pos != NULL)
            pos[i] = at;
    }
    return table;
}

/* Writes a vector whose elements start at a position that is `shift` modulo 8. */
static size_t fb_vector_shifted(fb_builder *b, const void *elems, uint32_t count,
                                size_t elem_size, size_t shift)
{
    size_t pos;

    fb_pad(b, 8, (shift + 4) % 8);
    pos = fb_put(b, &count, 4);
    fb_put(b, elems, (size_t)count * elem_size);
    return pos;
}

static size_t fb_vector(fb_builder *b, const void *elems, uint32_t count, size_t elem_size)
{
    return fb_vector_shifted(b, elems, count, elem_size, 0);
}

static size_t fb_string(fb_builder *b, const char *text)
{
    uint32_t length = (uint32_t)strlen(text);
    size_t pos;

    fb_pad(b, 4, 0);
    pos = fb_put(b, &length, 4);
    fb_put(b, text, length + 1);
    return pos;
}

/* Writes a vector of `count` offsets and returns the position of element 0. */
static size_t fb_offset_vector(fb_builder *b, uint32_t count)
{
    return fb_vector(b, NULL, count, 4) + 4;
}

/* What the hand-built model looks like; a zeroed spec plus defaults() is a valid model. */
typedef struct model_spec {
    uint32_t version;
    int32_t input_dims[2];       /* tensor 0 */
    int32_t op_input;            /* the operator's second input */
    int op_code;                 /* ADD, CONV_2D, or any code without options */
    bool legacy_opcode;          /* only deprecated_builtin_code, as files before 2.4 had */
    const char *custom_name;     /* custom_code of the operator code, or NULL */
    const fb_field *options;     /* scalar fields of the builtin options table, overriding the */
    int num_options;             /* ADD and CONV_2D tables built from the fields above */
    int custom_options;          /* CUSTOM_OPTIONS_NONE, _INLINE or _LARGE */
    uint64_t large_options_size; /* CUSTOM_OPTIONS_LARGE: large_custom_options_size */
    int options_type;
    int activation;
    int32_t stride;              /* CONV_2D only */
    uint32_t weight_count;       /* float32 values in buffer 1 */
    bool misaligned_weights;
    bool external_weights;       /* buffer 1 through offset/size after the FlatBuffer */
    uint64_t external_size;
    int sparse;                  /* 0: dense weights [4]; else sparse [2,4], see sparse_case */
    int scale_count;             /* quantization of the weights; 0 for none */
    int zero_point_count;
    uint32_t shared_buffers;     /* > 0: that many buffer entries all point at one large buffer */
} model_spec;

/* Where an operator's custom options are: absent, in custom_options, or after the FlatBuffer. */
enum { CUSTOM_OPTIONS_NONE = 0, CUSTOM_OPTIONS_INLINE, CUSTOM_OPTIONS_LARGE };

enum { SPARSE_NONE = 0, SPARSE_VALID, SPARSE_INDEX_OUT_OF_RANGE, SPARSE_SEGMENT_PAST_INDICES,
       SPARSE_SEGMENTS_DECREASING, SPARSE_NOT_PERMUTATION, SPARSE_TOO_MANY_VALUES };

/* Positions in the built file that hostile cases overwrite. */
typedef struct built_model {
    fb_builder b;
    size_t root_table;
    size_t input_name;           /* the string 'input' (its length field) */
    size_t input_shape;          /* the shape vector of tensor 0 (its length field) */
    size_t weight_data;          /* buffer 1's data vector (its length field) */
} built_model;

static void defaults(model_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->version = 3;
    s->input_dims[0] = 1;
    s->input_dims[1] = 4;
    s->op_input = 1;
    s->op_code = VERGE_OP_ADD;
    s->options_type = 11;
    s->activation = 1;
    s->stride = 1;
    s->weight_count = 4;
}

static size_t put_index_vector(fb_builder *b, const uint8_t *values, uint32_t count)
{
    size_t field;
    size_t table = fb_table(b, (fb_field[]){{0, 4, 0}}, 1, &field);

    fb_link(b, field, fb_vector(b, values, count, 1));
    return table;
}

/* SparsityParameters for a [2,4] tensor: row 0 has columns {0,2}, row 1 has {1}. */
static size_t put_sparsity(fb_builder *b, int sparse_case)
{
    int32_t order[2] = {0, 1};
    uint8_t segments[3] = {0, 2, 3};
    uint8_t indices[3] = {0, 2, 1};
    size_t fields[2];
    size_t dims;
    size_t csr_fields[5];
    size_t table;

    if (sparse_case == SPARSE_INDEX_OUT_OF_RANGE)
        indices[1] = 7;
    if (sparse_case == SPARSE_SEGMENT_PAST_INDICES)
        segments[2] = 5;
    if (sparse_case == SPARSE_SEGMENTS_DECREASING)
        segments[1] = 3, segments[2] = 2;
    if (sparse_case == SPARSE_NOT_PERMUTATION)
        order[1] = 0;

    table = fb_table(b, (fb_field[]){{0, 4, 0}, {2, 4, 0}}, 2, fields);
    fb_link(b, fields[0], fb_vector(b, order, 2, 4));
    dims = fb_offset_vector(b, 2);
    fb_link(b, fields[1], dims - 4);
    /* Level 0: dense, size 2. */
    fb_link(b, dims, fb_table(b, (fb_field[]){{0, 1, 0}, {1, 4, 2}}, 2, NULL));
    /* Level 1: CSR with Uint8Vector (union member 3) segments and indices. */
    fb_link(b, dims + 4,
            fb_table(b, (fb_field[]){{0, 1, 1}, {2, 1, 3}, {3, 4, 0}, {4, 1, 3}, {5, 4, 0}}, 5,
                     csr_fields));
    fb_link(b, csr_fields[2], put_index_vector(b, segments, 3));
    fb_link(b, csr_fields[4], put_index_vector(b, indices, 3));
    return table;
}

static size_t put_quantization(fb_builder *b, const model_spec *s)
{
    float scales[4] = {0.5f, 0.25f, 0.125f, 1.0f};
    int64_t zero_points[4] = {0, 1, 2, 3};
    size_t fields[2];
    size_t table = fb_table(b, (fb_field[]){{2, 4, 0}, {3, 4, 0}}, 2, fields);

    fb_link(b, fields[0], fb_vector(b, scales, (uint32_t)s->scale_count, 4));
    fb_link(b, fields[1], fb_vector(b, zero_points, (uint32_t)s->zero_point_count, 8));
    return table;
}

static size_t put_tensor(fb_builder *b, const model_spec *s, const char *name,
                         const int32_t *shape, uint32_t rank, uint32_t buffer, int sparse,
                         bool quantized, size_t *name_pos, size_t *shape_pos)
{
    /* Fields: shape, type (float32), buffer, name, and optionally quantization and sparsity. */
    fb_field list[6] = {{0, 4, 0}, {1, 1, 0}, {2, 4, buffer}, {3, 4, 0}};
    size_t fields[6];
    int count = 4;
    int quant_field = -1;
    int sparse_field = -1;
    size_t at;
    size_t table;

    if (quantized) {
        quant_field = count;
        list[count++] = (fb_field){4, 4, 0};
    }
    if (sparse != SPARSE_NONE) {
        sparse_field = count;
        list[count++] = (fb_field){6, 4, 0};
    }
    table = fb_table(b, list, count, fields);

    at = fb_vector(b, shape, rank, 4);
    fb_link(b, fields[0], at);
    if (shape_pos != NULL)
        *shape_pos = at;
    at = fb_string(b, name);
    fb_link(b, fields[3], at);
    if (name_pos != NULL)
        *name_pos = at;
    if (quant_field >= 0)
        fb_link(b, fields[quant_field], put_quantization(b, s));
    if (sparse_field >= 0)
        fb_link(b, fields[sparse_field], put_sparsity(b, sparse));
    return table;
}

static void build_model(const model_spec *s, built_model *out)
{
    fb_builder *b = &out->b;
    static const float weights[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    int32_t weight_shape[2] = {4, 0};
    uint32_t weight_rank = 1;
    int32_t out_shape[2] = {1, 4};
    size_t model_fields[5];
    size_t subgraph_fields[5];
    static const uint8_t custom_bytes[5] = {10, 20, 30, 40, 50};
    size_t op_fields[7];
    size_t large_options_link = 0;
    size_t pos;
    size_t external_link = 0;
    uint32_t num_buffers = s->shared_buffers > 0 ? s->shared_buffers : 2;

    memset(out, 0, sizeof(*out));
    if (s->sparse != SPARSE_NONE) {
        weight_shape[0] = 2;
        weight_shape[1] = 4;
        weight_rank = 2;
    }

    fb_put(b, NULL, 4);
    fb_put(b, "TFL3", 4);
    out->root_table = fb_table(b, (fb_field[]){{0, 4, s->version}, {1, 4, 0}, {2, 4, 0},
                                               {3, 4, 0}, {4, 4, 0}},
                               5, model_fields);
    fb_link(b, 0, out->root_table);

    /*
     * operator_codes: one entry. Current converters write the code to both
     * fields, or 127 (PLACEHOLDER_FOR_GREATER_OP_CODES) to the byte-sized
     * deprecated_builtin_code for codes above it; old files have only that byte.
     */
    pos = fb_offset_vector(b, 1);
    fb_link(b, model_fields[1], pos - 4);
    {
        uint64_t deprecated_code = (uint64_t)(s->op_code < 127 ? s->op_code : 127);
        fb_field code[4] = {{0, 1, deprecated_code}, {2, 4, 1}};
        size_t code_fields[4];
        int count = 2;

        if (!s->legacy_opcode)
            code[count++] = (fb_field){3, 4, (uint64_t)s->op_code};
        if (s->custom_name != NULL)
            code[count++] = (fb_field){1, 4, 0};
        fb_link(b, pos, fb_table(b, code, count, code_fields));
        if (s->custom_name != NULL)
            fb_link(b, code_fields[count - 1], fb_string(b, s->custom_name));
    }

    /* subgraphs: one. */
    pos = fb_offset_vector(b, 1);
    fb_link(b, model_fields[2], pos - 4);
    fb_link(b, pos, fb_table(b, (fb_field[]){{0, 4, 0}, {1, 4, 0}, {2, 4, 0}, {3, 4, 0},
                                             {4, 4, 0}},
                             5, subgraph_fields));
    {
        size_t tensors = fb_offset_vector(b, 3);
        int32_t inputs[1] = {0};
        int32_t outputs[1] = {2};

        fb_link(b, subgraph_fields[0], tensors - 4);
        fb_link(b, tensors, put_tensor(b, s, "input", s->input_dims, 2, 0, SPARSE_NONE, false,
                                       &out->input_name, &out->input_shape));
        fb_link(b, tensors + 4, put_tensor(b, s, "weights", weight_shape, weight_rank, 1, s->sparse,
                                           s->scale_count > 0 || s->zero_point_count > 0, NULL,
                                           NULL));
        fb_link(b, tensors + 8, put_tensor(b, s, "output", out_shape, 2, 0, SPARSE_NONE, false,
                                           NULL, NULL));
        fb_link(b, subgraph_fields[1], fb_vector(b, inputs, 1, 4));
        fb_link(b, subgraph_fields[2], fb_vector(b, outputs, 1, 4));
    }
    pos = fb_offset_vector(b, 1);
    fb_link(b, subgraph_fields[3], pos - 4);
    {
        fb_field op[7] = {{0, 4, 0}, {1, 4, 0}, {2, 4, 0}, {3, 1, (uint64_t)s->options_type},
                          {4, 4, 0}};
        int count = 5;

        if (s->custom_options == CUSTOM_OPTIONS_INLINE)
            op[count++] = (fb_field){5, 4, 0};
        if (s->custom_options == CUSTOM_OPTIONS_LARGE) {
            op[count++] = (fb_field){9, 8, 0};
            op[count++] = (fb_field){10, 8, s->large_options_size};
        }
        fb_link(b, pos, fb_table(b, op, count, op_fields));
        if (s->custom_options == CUSTOM_OPTIONS_INLINE)
            fb_link(b, op_fields[5], fb_vector(b, custom_bytes, sizeof(custom_bytes), 1));
        if (s->custom_options == CUSTOM_OPTIONS_LARGE)
            large_options_link = op_fields[5];
    }
    {
        int32_t op_inputs[3] = {0, s->op_input, -1};
        int32_t op_outputs[1] = {2};

        uint32_t num_inputs = s->op_code == VERGE_OP_CONV_2D ? 3 : 2;

        fb_link(b, op_fields[1], fb_vector(b, op_inputs, num_inputs, 4));
        fb_link(b, op_fields[2], fb_vector(b, op_outputs, 1, 4));
        if (s->options != NULL)
            fb_link(b, op_fields[4], fb_table(b, s->options, s->num_options, NULL));
        else if (s->op_code == VERGE_OP_CONV_2D)
            fb_link(b, op_fields[4],
                    fb_table(b, (fb_field[]){{1, 4, (uint64_t)(uint32_t)s->stride},
                                             {2, 4, (uint64_t)(uint32_t)s->stride},
                                             {3, 1, (uint64_t)s->activation}},
                             3, NULL));
        else
            fb_link(b, op_fields[4],
                    fb_table(b, (fb_field[]){{0, 1, (uint64_t)s->activation}}, 1, NULL));
    }
    fb_link(b, subgraph_fields[4], fb_string(b, "main"));
    fb_link(b, model_fields[3], fb_string(b, "hand-built"));

    /* buffers: [empty, weights], or many entries that all share one large buffer. */
    pos = fb_offset_vector(b, num_buffers);
    fb_link(b, model_fields[4], pos - 4);
    fb_link(b, pos, fb_table(b, NULL, 0, NULL));
    if (s->shared_buffers > 0) {
        size_t data_field;
        size_t shared = fb_table(b, (fb_field[]){{0, 4, 0}}, 1, &data_field);

        for (uint32_t i = 1; i < num_buffers; i++)
            fb_link(b, pos + 4 * (size_t)i, shared);
        fb_link(b, data_field, fb_vector(b, NULL, 1 << 16, 1));
    } else if (s->external_weights) {
        size_t fields[2];

        fb_link(b, pos + 4, fb_table(b, (fb_field[]){{1, 8, 0}, {2, 8, s->external_size}}, 2,
                                     fields));
        external_link = fields[0];
    } else {
        size_t data_field;

        fb_link(b, pos + 4, fb_table(b, (fb_field[]){{0, 4, 0}}, 1, &data_field));
        out->weight_data = fb_vector_shifted(b, weights, s->weight_count * 4, 1,
                                             s->misaligned_weights ? 2 : 0);
        fb_link(b, data_field, out->weight_data);
    }

    if (s->external_weights) {
        /* Models over 2 GB keep buffers after the FlatBuffer, addressed from the file start. */
        uint64_t offset;

        fb_pad(b, 16, 0);
        offset = fb_put(b, weights, sizeof(float) * 4);
        memcpy(b->buf + external_link, &offset, 8);
    }
    if (s->custom_options == CUSTOM_OPTIONS_LARGE) {
        uint64_t offset = fb_put(b, custom_bytes, sizeof(custom_bytes));

        memcpy(b->buf + large_options_link, &offset, 8);
    }
}

/* Loads a built model, expects `status` and a message containing `needle`. */
static void expect_failure(built_model *m, verge_status status, const char *needle)
{
    verge_model *model = NULL;

    CHECK_STATUS(verge_model_load_buffer(m->b.buf, m->b.size, "hostile.tflite", &model), status);
    CHECK(model == NULL);
    CHECK_MSG(strstr(verge_error_message(), needle) != NULL, "message '%s' lacks '%s'",
              verge_error_message(), needle);
    CHECK_MSG(strncmp(verge_error_message(), "hostile.tflite: ", 16) == 0, "message '%s'",
              verge_error_message());
    verge_model_free(model);
    free(m->b.buf);
}

static verge_model *expect_success(built_model *m)
{
    verge_model *model = NULL;

    CHECK_OK(verge_model_load_buffer(m->b.buf, m->b.size, "built.tflite", &model));
    if (model != NULL)
        CHECK_MSG(model_invariants_hold(model), "%s", model_invariant_error);
    return model;
}

static void valid_hand_built_model_loads(void)
{
    model_spec s;
    built_model m;
    verge_model *model;

    defaults(&s);
    build_model(&s, &m);
    model = expect_success(&m);
    if (model != NULL) {
        const verge_graph *g = &model->graphs[0];

        CHECK(strcmp(model->description, "hand-built") == 0);
        CHECK(strcmp(g->name, "main") == 0);
        CHECK_EQ_INT(g->num_tensors, 3);
        CHECK_EQ_INT(g->num_nodes, 1);
        CHECK(strcmp(g->tensors[1].name, "weights") == 0);
        CHECK_EQ_INT(g->tensors[1].storage, VERGE_STORAGE_CONSTANT);
        CHECK_EQ_INT(g->tensors[0].storage, VERGE_STORAGE_ARENA);
        CHECK_EQ_INT(g->tensors[1].bytes, 16);
        CHECK_NEAR(((const float *)g->tensors[1].data)[3], 4.0, 0);
        CHECK_EQ_INT(g->nodes[0].op, VERGE_OP_ADD);
        CHECK_EQ_INT(g->nodes[0].params.activation.activation, VERGE_ACT_RELU);
        CHECK_EQ_INT(g->inputs[0], 0);
        CHECK_EQ_INT(g->outputs[0], 2);
        /* Aligned data is used in place. */
        CHECK((const unsigned char *)g->tensors[1].data >= model->file &&
              (const unsigned char *)g->tensors[1].data < model->file + model->file_size);
    }
    verge_model_free(model);
    free(m.b.buf);
}

static void operator_codes_are_resolved(void)
{
    model_spec s;
    built_model m;
    verge_model *model;

    defaults(&s);
    s.op_code = VERGE_OP_CONV_2D;
    s.options_type = 1;
    s.stride = 2;
    s.legacy_opcode = true;
    build_model(&s, &m);
    model = expect_success(&m);
    if (model != NULL) {
        const verge_node *n = &model->graphs[0].nodes[0];

        CHECK_EQ_INT(n->op, VERGE_OP_CONV_2D);
        CHECK_EQ_INT(n->params.conv.stride_h, 2);
        CHECK_EQ_INT(n->params.conv.dilation_w, 1);
        CHECK_EQ_INT(n->params.conv.activation, VERGE_ACT_RELU);
        CHECK_EQ_INT(n->num_inputs, 3);
        CHECK_EQ_INT(n->inputs[2], VERGE_NO_TENSOR);
    }
    verge_model_free(model);
    free(m.b.buf);

    /* GELU (150) only fits the 32-bit builtin_code field. */
    defaults(&s);
    s.op_code = 150;
    build_model(&s, &m);
    model = expect_success(&m);
    if (model != NULL)
        CHECK_EQ_INT(model->graphs[0].nodes[0].op, 150);
    verge_model_free(model);
    free(m.b.buf);
}

static void custom_operators_are_read(void)
{
    model_spec s;
    built_model m;
    verge_model *model;

    defaults(&s);
    s.op_code = VERGE_OP_CUSTOM;
    s.options_type = 0;
    s.custom_name = "MyOp";
    s.custom_options = CUSTOM_OPTIONS_INLINE;
    build_model(&s, &m);
    model = expect_success(&m);
    if (model != NULL) {
        const verge_node *n = &model->graphs[0].nodes[0];

        CHECK_EQ_INT(n->op, VERGE_OP_CUSTOM);
        CHECK(n->custom_name != NULL);
        if (n->custom_name != NULL)
            CHECK(strcmp(n->custom_name, "MyOp") == 0);
        CHECK_EQ_INT(n->custom_options_size, 5);
        CHECK(n->custom_options != NULL);
        if (n->custom_options != NULL)
            CHECK_EQ_INT(n->custom_options[4], 50);
    }
    verge_model_free(model);
    free(m.b.buf);

    /* Large models keep custom options after the FlatBuffer. */
    s.custom_options = CUSTOM_OPTIONS_LARGE;
    s.large_options_size = 5;
    build_model(&s, &m);
    model = expect_success(&m);
    if (model != NULL) {
        const verge_node *n = &model->graphs[0].nodes[0];

        CHECK_EQ_INT(n->custom_options_size, 5);
        CHECK(n->custom_options != NULL);
        if (n->custom_options != NULL)
            CHECK_EQ_INT(n->custom_options[0], 10);
    }
    verge_model_free(model);
    free(m.b.buf);

    s.large_options_size = 6;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "operator 0 (CUSTOM 'MyOp'): custom options at offset");

    s.custom_name = NULL;
    s.custom_options = CUSTOM_OPTIONS_NONE;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "operator code 0 (CUSTOM): custom_code, the custom operator's name, is "
                   "missing");
}

static void misaligned_constants_are_copied(void)
{
    model_spec s;
    built_model m;
    verge_model *model;

    defaults(&s);
    s.misaligned_weights = true;
    build_model(&s, &m);
    CHECK_EQ_INT((m.weight_data + 4) % 4, 2);
    model = expect_success(&m);
    if (model != NULL) {
        const verge_tensor *t = &model->graphs[0].tensors[1];
        const float *w = t->data;

        CHECK((uintptr_t)t->data % 4 == 0);
        CHECK(!((const unsigned char *)t->data >= model->file &&
                (const unsigned char *)t->data < model->file + model->file_size));
        CHECK_NEAR(w[0], 1.0, 0);
        CHECK_NEAR(w[3], 4.0, 0);
    }
    verge_model_free(model);
    free(m.b.buf);
}

static void external_buffers_are_read(void)
{
    model_spec s;
    built_model m;
    verge_model *model;

    defaults(&s);
    s.external_weights = true;
    s.external_size = 16;
    build_model(&s, &m);
    model = expect_success(&m);
    if (model != NULL)
        CHECK_NEAR(((const float *)model->graphs[0].tensors[1].data)[2], 3.0, 0);
    verge_model_free(model);
    free(m.b.buf);

    s.external_size = 1 << 20;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "buffer 1: data at offset");
}

static void hostile_structure_is_rejected(void)
{
    model_spec s;
    built_model m;
    uint32_t word;

    defaults(&s);

    /* The root table's vtable before the start of the file. */
    build_model(&s, &m);
    word = 0x7FFFFFF0u;
    memcpy(m.b.buf + m.root_table, &word, 4);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "outside the file");

    /* ... and past its end. */
    build_model(&s, &m);
    word = (uint32_t)-0x100000;
    memcpy(m.b.buf + m.root_table, &word, 4);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "outside the file");

    /* An odd vtable position. */
    build_model(&s, &m);
    memcpy(&word, m.b.buf + m.root_table, 4);
    word += 1;
    memcpy(m.b.buf + m.root_table, &word, 4);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "misaligned vtable");

    /* A vector length whose byte size (4 * 0xFFFFFFFF) runs far past the end. */
    build_model(&s, &m);
    fb_set_u32(&m.b, m.input_shape, 0xFFFFFFFFu);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "'shape': vector at byte");

    build_model(&s, &m);
    fb_set_u32(&m.b, m.weight_data, 0xFFFFFFF0u);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "buffer 1: 'data': vector at byte");

    /* A string whose NUL is overwritten, and one whose length passes the end. */
    build_model(&s, &m);
    m.b.buf[m.input_name + 4 + strlen("input")] = 'X';
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "is not NUL-terminated");

    build_model(&s, &m);
    fb_set_u32(&m.b, m.input_name, 0x7FFFFFFFu);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "subgraph 0 tensor 0: 'name': string at byte");
}

static void hostile_contents_are_rejected(void)
{
    model_spec s;
    built_model m;

    defaults(&s);
    s.op_input = 900;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "subgraph 0 operator 0 (ADD): input 1 is tensor 900, but the subgraph has 3 "
                   "tensors");

    defaults(&s);
    s.op_input = -2;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "input 1 is tensor -2");

    defaults(&s);
    s.input_dims[0] = -3;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "subgraph 0 tensor 0 'input': dimension 0 is negative (-3)");

    defaults(&s);
    s.input_dims[1] = -1;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_UNSUPPORTED, "dimension 1 has unknown size (-1)");

    defaults(&s);
    s.weight_count = 3;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "subgraph 0 tensor 1 'weights': buffer 1 has 12 bytes, expected 16 (shape [4], "
                   "float32)");

    defaults(&s);
    s.version = 2;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_UNSUPPORTED, "schema version 2 is not supported");

    defaults(&s);
    s.activation = 9;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "fused activation 9 is unknown");

    defaults(&s);
    s.options_type = 1;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "builtin options have union type 1, expected 11");

    defaults(&s);
    s.op_code = VERGE_OP_CONV_2D;
    s.options_type = 1;
    s.stride = 0;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "(CONV_2D): stride_w is 0, expected 1 or more");

    defaults(&s);
    s.scale_count = 2;
    s.zero_point_count = 1;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "quantization has 2 scales but 1 zero points");

    defaults(&s);
    s.scale_count = 3;
    s.zero_point_count = 3;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "3 per-channel scales, but dimension 0 has size 4");

    /* Options of other operators, each with one bad field. */
    defaults(&s);
    s.op_code = VERGE_OP_IF;
    s.options_type = 92;
    s.options = (fb_field[]){{0, 4, 0}, {1, 4, 5}};
    s.num_options = 2;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "(IF): then_subgraph_index 0 and else_subgraph_index 5 must both lie in 1..0");

    defaults(&s);
    s.op_code = VERGE_OP_SOFTMAX;
    s.options_type = 9;
    s.options = (fb_field[]){{0, 4, 0x7FC00000u}}; /* a float NaN */
    s.num_options = 1;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "(SOFTMAX): beta is nan, expected a finite");

    defaults(&s);
    s.op_code = VERGE_OP_FULLY_CONNECTED;
    s.options_type = 8;
    s.options = (fb_field[]){{0, 1, 1}, {1, 1, 5}};
    s.num_options = 2;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "(FULLY_CONNECTED): weights_format 5 is not DEFAULT (0) or SHUFFLED4x16INT8");

    defaults(&s);
    s.op_code = VERGE_OP_MEAN;
    s.options_type = 29;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "(MEAN): builtin options have union type 29, "
                   "expected 27");

    /* Many buffer entries sharing one 64 KiB buffer: each read counts against the budget. */
    defaults(&s);
    s.shared_buffers = 20000;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "refers to the same data too many times");
}

static void quantization_is_read(void)
{
    model_spec s;
    built_model m;
    verge_model *model;

    defaults(&s);
    s.scale_count = 4;
    s.zero_point_count = 4;
    build_model(&s, &m);
    model = expect_success(&m);
    if (model != NULL) {
        const verge_quantization *q = &model->graphs[0].tensors[1].quant;

        CHECK_EQ_INT(q->count, 4);
        CHECK_EQ_INT(q->axis, 0);
        CHECK_NEAR(q->scale[2], 0.125, 0);
        CHECK_EQ_INT(q->zero_point[3], 3);
    }
    verge_model_free(model);
    free(m.b.buf);
}

static void sparse_tensors_are_checked(void)
{
    model_spec s;
    built_model m;
    verge_model *model;

    defaults(&s);
    s.sparse = SPARSE_VALID;
    s.weight_count = 3;
    build_model(&s, &m);
    model = expect_success(&m);
    if (model != NULL) {
        const verge_tensor *t = &model->graphs[0].tensors[1];
        const verge_sparsity *sp = t->sparsity;

        CHECK(sp != NULL);
        CHECK_EQ_INT(t->bytes, 12);
        CHECK_EQ_INT(t->storage, VERGE_STORAGE_CONSTANT);
        if (sp != NULL) {
            CHECK_EQ_INT(sp->num_dims, 2);
            CHECK_EQ_INT(sp->num_values, 3);
            CHECK_EQ_INT(sp->dims[0].format, 0);
            CHECK_EQ_INT(sp->dims[0].dense_size, 2);
            CHECK_EQ_INT(sp->dims[1].format, 1);
            CHECK_EQ_INT(sp->dims[1].num_segments, 3);
            CHECK_EQ_INT(sp->dims[1].segments[1], 2);
            CHECK_EQ_INT(sp->dims[1].num_indices, 3);
            CHECK_EQ_INT(sp->dims[1].indices[1], 2);
            CHECK_EQ_INT(sp->dims[1].indices[2], 1);
        }
    }
    verge_model_free(model);
    free(m.b.buf);

    s.sparse = SPARSE_INDEX_OUT_OF_RANGE;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "tensor 1 'weights': sparsity: dim_metadata[1] array_indices[1] = 7 is outside "
                   "the dimension (size 4)");

    s.sparse = SPARSE_SEGMENT_PAST_INDICES;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "array_segments ends at 5, but there are 3 array_indices");

    s.sparse = SPARSE_SEGMENTS_DECREASING;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "array_segments[2] = 2 is below");

    s.sparse = SPARSE_NOT_PERMUTATION;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL, "traversal_order is not a permutation");

    s.sparse = SPARSE_VALID;
    s.weight_count = 4;
    build_model(&s, &m);
    expect_failure(&m, VERGE_STATUS_INVALID_MODEL,
                   "the encoding addresses 3 values, but the buffer holds 4 float32 values");
}

int main(void)
{
    if (read_model()) {
        RUN(truncated_model_is_rejected);
        RUN(overwritten_model_is_rejected_or_valid);
        printf("corrupted copies: %d rejected, %d loaded and valid\n", cases_rejected,
               cases_loaded);
    }
    RUN(valid_hand_built_model_loads);
    RUN(operator_codes_are_resolved);
    RUN(custom_operators_are_read);
    RUN(misaligned_constants_are_copied);
    RUN(external_buffers_are_read);
    RUN(quantization_is_read);
    RUN(sparse_tensors_are_checked);
    RUN(hostile_structure_is_rejected);
    RUN(hostile_contents_are_rejected);
    free(model_bytes);
    free(scratch);
    return check_summary();
}
