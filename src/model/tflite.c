/*
 * TFLite reader and verifier.
 *
 * Field ids and union member numbers follow TFLite's schema.fbs (schema
 * version 3, tensorflow/lite/schema/schema.fbs). Every item is checked when it
 * is first read, so that a model that loads satisfies the invariants listed
 * in model/graph.h.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "model/flatbuffer.h"
#include "model/graph.h"
#include "model/model_storage.h"
#include "model/tflite.h"
#include "ops/params.h"

/* The schema version that verge reads (Model.version). */
#define TFLITE_SCHEMA_VERSION 3u

/* Field ids of the tables verge reads. */
enum { MODEL_VERSION = 0, MODEL_OPERATOR_CODES = 1, MODEL_SUBGRAPHS = 2, MODEL_DESCRIPTION = 3,
       MODEL_BUFFERS = 4 };
enum { OPCODE_DEPRECATED_BUILTIN_CODE = 0, OPCODE_CUSTOM_CODE = 1, OPCODE_VERSION = 2,
       OPCODE_BUILTIN_CODE = 3 };
enum { SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3,
       SUBGRAPH_NAME = 4 };
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };
enum { TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3,
       TENSOR_QUANTIZATION = 4, TENSOR_SPARSITY = 6 };
enum { QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DETAILS_TYPE = 4, QUANT_DIMENSION = 6 };
enum { SPARSITY_TRAVERSAL_ORDER = 0, SPARSITY_BLOCK_MAP = 1, SPARSITY_DIM_METADATA = 2 };
enum { DIM_FORMAT = 0, DIM_DENSE_SIZE = 1, DIM_SEGMENTS_TYPE = 2, DIM_INDICES_TYPE = 4 };
enum { INDEX_VECTOR_VALUES = 0 };
enum { OPERATOR_OPCODE_INDEX = 0, OPERATOR_INPUTS = 1, OPERATOR_OUTPUTS = 2,
       OPERATOR_BUILTIN_OPTIONS_TYPE = 3, OPERATOR_CUSTOM_OPTIONS = 5,
       OPERATOR_LARGE_CUSTOM_OPTIONS_OFFSET = 9, OPERATOR_LARGE_CUSTOM_OPTIONS_SIZE = 10 };

/* SparseIndexVector union members. */
enum { SPARSE_INDEX_INT32 = 1, SPARSE_INDEX_UINT16 = 2, SPARSE_INDEX_UINT8 = 3 };

/* DimensionType. */
enum { DIMENSION_DENSE = 0, DIMENSION_SPARSE_CSR = 1 };

/* BuiltinOptions union members of the options verge parses. */
enum {
    OPTIONS_CONV_2D = 1,
    OPTIONS_DEPTHWISE_CONV_2D = 2,
    OPTIONS_POOL_2D = 5,
    OPTIONS_FULLY_CONNECTED = 8,
    OPTIONS_SOFTMAX = 9,
    OPTIONS_CONCATENATION = 10,
    OPTIONS_ADD = 11,
    OPTIONS_RESIZE_BILINEAR = 15,
    OPTIONS_RESHAPE = 17,
    OPTIONS_MUL = 21,
    OPTIONS_REDUCER = 27,
    OPTIONS_SUB = 28,
    OPTIONS_DIV = 29,
    OPTIONS_SQUEEZE = 30,
    OPTIONS_LEAKY_RELU = 75,
    OPTIONS_IF = 92,
    OPTIONS_DEPTH_TO_SPACE = 94,
    OPTIONS_BATCH_MATMUL = 101,
};

/* BuiltinOperator codes that verge_op does not name but whose options verge reads. */
enum { TFLITE_SUM = 74, TFLITE_REDUCE_PROD = 81, TFLITE_REDUCE_MIN = 89, TFLITE_REDUCE_ANY = 91,
       TFLITE_REDUCE_ALL = 140 };

/* Buffers are resolved once, so that tensors sharing a buffer share one aligned copy. */
typedef struct buffer_info {
    const uint8_t *data;    /* inside the file, NULL when empty */
    size_t size;
    void *aligned_copy;     /* made on first need when data is misaligned for some dtype */
} buffer_info;

typedef struct opcode_info {
    int code;
    int version;
    const char *custom_name;
} opcode_info;

/*
 * The item being read, named at the start of every message. It is formatted
 * only when a check fails, because loading a model sets it hundreds of times.
 */
typedef struct item {
    int graph;              /* subgraph index, or -1 */
    const char *kind;       /* "tensor", "operator", "buffer", "operator code" or NULL */
    int index;
    const char *name;       /* tensor name, or NULL */
    int op;                 /* operator code, or -1 */
    const char *custom_op;  /* custom operator name, or NULL */
} item;

typedef struct loader {
    verge_model *model;
    verge_fb fb;
    int num_opcodes;
    opcode_info *opcodes;
    uint32_t num_buffers;
    buffer_info *buffers;
    item where;
} loader;

/* Reads touch each byte of a well-formed file a few times; the budget allows far more. */
static size_t read_budget(size_t file_size)
{
    size_t budget;

    if (!verge_size_mul(file_size, 64, &budget) || !verge_size_add(budget, 1 << 20, &budget))
        return SIZE_MAX;
    return budget;
}

/* Names the item that the next messages are about: the file itself when kind is NULL. */
static void set_where(loader *ld, int graph, const char *kind, int index)
{
    ld->where = (item){.graph = graph, .kind = kind, .index = index, .op = -1};
}

/* Formats the current item, e.g. "face.tflite: subgraph 0 tensor 17 'conv1/w'". */
static void format_where(const loader *ld, char *buf, size_t size)
{
    const item *w = &ld->where;
    size_t used = (size_t)snprintf(buf, size, "%s", ld->model->path);

    if (used < size && w->graph >= 0)
        used += (size_t)snprintf(buf + used, size - used, ": subgraph %d", w->graph);
    if (used < size && w->kind != NULL)
        used += (size_t)snprintf(buf + used, size - used, "%s%s %d", w->graph >= 0 ? " " : ": ",
                                 w->kind, w->index);
    if (used < size && w->name != NULL)
        used += (size_t)snprintf(buf + used, size - used, " '%.100s'", w->name);
    if (used >= size)
        return;
    if (w->custom_op != NULL)
        snprintf(buf + used, size - used, " (CUSTOM '%.100s')", w->custom_op);
    else if (w->op >= 0 && verge_op_name(w->op) != NULL)
        snprintf(buf + used, size - used, " (%s)", verge_op_name(w->op));
    else if (w->op >= 0)
        snprintf(buf + used, size - used, " (builtin code %d)", w->op);
}

/* Fails with "<item>: <message>". */
static verge_status fail(const loader *ld, verge_status status, const char *fmt, ...)
    VERGE_PRINTF(3, 4);

static verge_status fail(const loader *ld, verge_status status, const char *fmt, ...)
{
    char where[512];
    char message[512];
    va_list args;

    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    format_where(ld, where, sizeof(where));
    return verge_fail(status, "%s: %s", where, message);
}

/* Adds the current item to a message set by the FlatBuffers reader. */
static verge_status in_context(const loader *ld, verge_status status)
{
    char where[512];

    if (status == VERGE_OK)
        return status;
    format_where(ld, where, sizeof(where));
    return verge_fail_prefix(status, "%s", where);
}

static verge_status out_of_memory(const loader *ld, const char *purpose)
{
    return fail(ld, VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate memory for %s", purpose);
}

static void *alloc_array(loader *ld, size_t count, size_t elem_size)
{
    verge_model_storage *storage = ld->model->storage;
    void *block = verge_model_storage_array(&storage, count, elem_size);

    ld->model->storage = storage;
    return block;
}

/* TFLite TensorType names of the types without a verge_dtype. */
static const char *tflite_type_name(int type)
{
    switch (type) {
    case 11: return "COMPLEX128";
    case 12: return "UINT64";
    case 13: return "RESOURCE";
    case 14: return "VARIANT";
    case 15: return "UINT32";
    case 16: return "UINT16";
    case 17: return "INT4";
    }
    return NULL;
}

/* Alignment that kernels need to read elements of `dtype` through a typed pointer. */
static size_t dtype_alignment(verge_dtype dtype)
{
    switch (dtype) {
    case VERGE_DTYPE_COMPLEX64: return 4;
    case VERGE_DTYPE_STRING: return 1;
    default: return verge_dtype_size(dtype);
    }
}

static bool is_aligned(const void *pointer, size_t alignment)
{
    return alignment <= 1 || (uintptr_t)pointer % alignment == 0;
}

/*
 * Returns `count` elements of `elem_size` bytes at `src` (inside the file) as
 * a pointer that is aligned for `alignment`: `src` itself when it already is,
 * else an owned copy. Returns NULL for count 0 and on allocation failure
 * (*status is VERGE_OK only in the first case).
 */
static const void *aligned_elements(loader *ld, const uint8_t *src, size_t count,
                                    size_t elem_size, size_t alignment, const char *purpose,
                                    verge_status *status)
{
    void *copy;

    *status = VERGE_OK;
    if (count == 0)
        return NULL;
    if (is_aligned(src, alignment))
        return src;
    copy = alloc_array(ld, count, elem_size);
    if (copy == NULL) {
        *status = out_of_memory(ld, purpose);
        return NULL;
    }
    memcpy(copy, src, count * elem_size);
    return copy;
}

/* Copies an int32 vector field into owned memory: *count entries, *out NULL when empty. */
static verge_status read_int_list(loader *ld, const verge_fb_table *table, int field,
                                  const char *name, int32_t **out, int *count)
{
    verge_fb_vector vector;
    verge_status status;

    *out = NULL;
    *count = 0;
    status = verge_fb_vector_field(&ld->fb, table, field, 4, name, &vector, NULL);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (vector.length > INT_MAX)
        return fail(ld, VERGE_STATUS_INVALID_MODEL, "'%s' has %" PRIu32 " entries", name,
                    vector.length);
    if (vector.length == 0)
        return VERGE_OK;
    *out = alloc_array(ld, vector.length, sizeof(int32_t));
    if (*out == NULL)
        return out_of_memory(ld, name);
    memcpy(*out, verge_fb_vector_data(&ld->fb, &vector), (size_t)vector.length * 4);
    *count = (int)vector.length;
    return VERGE_OK;
}

/* ---- operator codes and buffers ---------------------------------------------------------- */

static verge_status parse_opcodes(loader *ld, const verge_fb_table *root)
{
    verge_fb_vector codes;
    verge_status status;

    set_where(ld, -1, NULL, 0);
    status = verge_fb_vector_field(&ld->fb, root, MODEL_OPERATOR_CODES, 4, "operator_codes",
                                   &codes, NULL);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (codes.length > INT_MAX)
        return fail(ld, VERGE_STATUS_INVALID_MODEL, "%" PRIu32 " operator codes are too many",
                    codes.length);

    ld->num_opcodes = (int)codes.length;
    ld->opcodes = alloc_array(ld, codes.length, sizeof(opcode_info));
    if (ld->opcodes == NULL && codes.length > 0)
        return out_of_memory(ld, "operator codes");

    for (uint32_t i = 0; i < codes.length; i++) {
        opcode_info *info = &ld->opcodes[i];
        verge_fb_table code;
        int8_t deprecated_code;
        int32_t builtin_code;
        int32_t version;
        const char *custom;

        set_where(ld, -1, "operator code", (int)i);
        status = verge_fb_vector_table(&ld->fb, &codes, i, "operator code", &code);
        if (status == VERGE_OK)
            status = verge_fb_i8(&ld->fb, &code, OPCODE_DEPRECATED_BUILTIN_CODE, 0,
                                 "deprecated_builtin_code", &deprecated_code);
        if (status == VERGE_OK)
            status = verge_fb_i32(&ld->fb, &code, OPCODE_BUILTIN_CODE, 0, "builtin_code",
                                  &builtin_code);
        if (status == VERGE_OK)
            status = verge_fb_i32(&ld->fb, &code, OPCODE_VERSION, 1, "version", &version);
        if (status == VERGE_OK)
            status = verge_fb_string_field(&ld->fb, &code, OPCODE_CUSTOM_CODE, "custom_code",
                                           &custom, NULL);
        if (status != VERGE_OK)
            return in_context(ld, status);

        /* Files written before builtin_code existed only set the byte-sized field. */
        info->code = builtin_code > deprecated_code ? builtin_code : deprecated_code;
        if (info->code < 0)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "builtin code %d is negative (deprecated_builtin_code %d, "
                        "builtin_code %" PRId32 ")",
                        info->code, deprecated_code, builtin_code);
        ld->where.op = info->code;
        if (version < 1)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "version %" PRId32 ", expected 1 or more", version);
        info->version = version;
        if (info->code == VERGE_OP_CUSTOM) {
            if (custom == NULL)
                return fail(ld, VERGE_STATUS_INVALID_MODEL,
                            "custom_code, the custom operator's name, is missing");
            info->custom_name = custom;
        }
    }
    return VERGE_OK;
}

static verge_status parse_buffers(loader *ld, const verge_fb_table *root)
{
    verge_fb_vector buffers;
    verge_status status;

    set_where(ld, -1, NULL, 0);
    status = verge_fb_vector_field(&ld->fb, root, MODEL_BUFFERS, 4, "buffers", &buffers, NULL);
    if (status != VERGE_OK)
        return in_context(ld, status);

    ld->num_buffers = buffers.length;
    ld->buffers = alloc_array(ld, buffers.length, sizeof(buffer_info));
    if (ld->buffers == NULL && buffers.length > 0)
        return out_of_memory(ld, "buffers");

    for (uint32_t i = 0; i < buffers.length; i++) {
        buffer_info *info = &ld->buffers[i];
        verge_fb_table buffer;
        verge_fb_vector data;
        uint64_t offset;
        uint64_t size;

        set_where(ld, -1, "buffer", (int)i);
        status = verge_fb_vector_table(&ld->fb, &buffers, i, "buffer", &buffer);
        if (status == VERGE_OK)
            status = verge_fb_u64(&ld->fb, &buffer, BUFFER_OFFSET, 0, "offset", &offset);
        if (status == VERGE_OK)
            status = verge_fb_u64(&ld->fb, &buffer, BUFFER_SIZE, 0, "size", &size);
        if (status != VERGE_OK)
            return in_context(ld, status);

        /* Models over 2 GB keep data after the FlatBuffer; offset 0 and 1 mean "not used". */
        if (offset > 1) {
            if (offset > ld->model->file_size || size > ld->model->file_size - offset)
                return fail(ld, VERGE_STATUS_INVALID_MODEL,
                            "data at offset %" PRIu64 " with size %" PRIu64
                            " runs past the end of the file (%zu bytes)",
                            offset, size, ld->model->file_size);
            info->data = size > 0 ? ld->model->file + offset : NULL;
            info->size = (size_t)size;
            continue;
        }

        status = verge_fb_vector_field(&ld->fb, &buffer, BUFFER_DATA, 1, "data", &data, NULL);
        if (status != VERGE_OK)
            return in_context(ld, status);
        info->data = data.length > 0 ? verge_fb_vector_data(&ld->fb, &data) : NULL;
        info->size = data.length;
    }
    return VERGE_OK;
}

/* Returns the data of buffer `index` aligned for `alignment`, copying it once when needed. */
static const void *buffer_data(loader *ld, uint32_t index, size_t alignment, verge_status *status)
{
    buffer_info *info = &ld->buffers[index];

    *status = VERGE_OK;
    if (is_aligned(info->data, alignment))
        return info->data;
    if (info->aligned_copy == NULL) {
        /* Storage blocks are aligned for every dtype, so one copy serves all tensors. */
        info->aligned_copy = alloc_array(ld, info->size, 1);
        if (info->aligned_copy == NULL) {
            *status = out_of_memory(ld, "an aligned copy of the tensor data");
            return NULL;
        }
        memcpy(info->aligned_copy, info->data, info->size);
    }
    return info->aligned_copy;
}

/* ---- tensors ----------------------------------------------------------------------------- */

static verge_status parse_quantization(loader *ld, const verge_fb_table *table,
                                       verge_tensor *tensor)
{
    verge_fb_vector scale;
    verge_fb_vector zero_point;
    uint8_t details_type;
    int32_t dimension;
    const float *scales;
    verge_status status;

    status = verge_fb_u8(&ld->fb, table, QUANT_DETAILS_TYPE, 0, "details_type", &details_type);
    if (status == VERGE_OK)
        status = verge_fb_vector_field(&ld->fb, table, QUANT_SCALE, 4, "scale", &scale, NULL);
    if (status == VERGE_OK)
        status = verge_fb_vector_field(&ld->fb, table, QUANT_ZERO_POINT, 8, "zero_point",
                                       &zero_point, NULL);
    if (status == VERGE_OK)
        status = verge_fb_i32(&ld->fb, table, QUANT_DIMENSION, 0, "quantized_dimension",
                              &dimension);
    if (status != VERGE_OK)
        return in_context(ld, status);

    if (details_type != 0)
        return fail(ld, VERGE_STATUS_UNSUPPORTED,
                    "custom quantization (details type %u) is not supported",
                    (unsigned)details_type);
    /* Without scales the tensor is not quantized; min and max alone are only for training tools. */
    if (scale.length == 0)
        return VERGE_OK;
    if (zero_point.length != scale.length)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "quantization has %" PRIu32 " scales but %" PRIu32 " zero points",
                    scale.length, zero_point.length);
    if (dimension < 0 || (tensor->rank > 0 && dimension >= tensor->rank) ||
        (tensor->rank == 0 && dimension != 0))
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "quantized_dimension %" PRId32 " is out of range for rank %d", dimension,
                    tensor->rank);
    if (scale.length > 1 &&
        (tensor->rank == 0 || (uint32_t)tensor->dims[dimension] != scale.length))
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "%" PRIu32 " per-channel scales, but dimension %" PRId32 " has size %d",
                    scale.length, dimension, tensor->rank > 0 ? (int)tensor->dims[dimension] : 1);

    scales = aligned_elements(ld, verge_fb_vector_data(&ld->fb, &scale), scale.length, 4, 4,
                              "quantization scales", &status);
    if (status != VERGE_OK)
        return status;
    for (uint32_t i = 0; i < scale.length; i++) {
        if (!isfinite(scales[i]) || scales[i] < 0.0f)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "quantization scale %" PRIu32 " is %g; scales must be finite and >= 0",
                        i, (double)scales[i]);
    }
    tensor->quant.zero_point = aligned_elements(ld, verge_fb_vector_data(&ld->fb, &zero_point),
                                                zero_point.length, 8, 8,
                                                "quantization zero points", &status);
    if (status != VERGE_OK)
        return status;
    tensor->quant.scale = scales;
    tensor->quant.count = (int)scale.length;
    tensor->quant.axis = dimension;
    return VERGE_OK;
}

/* Reads one SparseIndexVector union and widens its values to int32. */
static verge_status read_index_vector(loader *ld, const verge_fb_table *dim, int type_field,
                                      const char *name, int32_t **out, size_t *count)
{
    static const size_t elem_sizes[] = {0, 4, 2, 1};
    verge_fb_table values_table;
    verge_fb_vector values;
    uint8_t type;
    bool present;
    verge_status status;

    *out = NULL;
    *count = 0;
    status = verge_fb_union(&ld->fb, dim, type_field, name, &type, &values_table, &present);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (type < SPARSE_INDEX_INT32 || type > SPARSE_INDEX_UINT8 || !present)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "'%s' of a SPARSE_CSR dimension is missing or has unknown type %u", name,
                    (unsigned)type);
    status = verge_fb_vector_field(&ld->fb, &values_table, INDEX_VECTOR_VALUES, elem_sizes[type],
                                   name, &values, NULL);
    if (status != VERGE_OK)
        return in_context(ld, status);

    *out = alloc_array(ld, values.length, sizeof(int32_t));
    if (*out == NULL)
        return out_of_memory(ld, name);
    for (uint32_t i = 0; i < values.length; i++) {
        switch (type) {
        case SPARSE_INDEX_INT32: (*out)[i] = verge_fb_vector_i32(&ld->fb, &values, i); break;
        case SPARSE_INDEX_UINT16: (*out)[i] = verge_fb_vector_u16(&ld->fb, &values, i); break;
        default: (*out)[i] = verge_fb_vector_u8(&ld->fb, &values, i); break;
        }
    }
    *count = values.length;
    return VERGE_OK;
}

/* Checks a permutation of [first, first + count) stored at order[0..count). */
static bool is_permutation(const int32_t *order, int count, int first)
{
    bool seen[2 * VERGE_MAX_RANK] = {false};

    for (int i = 0; i < count; i++) {
        int32_t value = order[i] - first;

        if (value < 0 || value >= count || seen[value])
            return false;
        seen[value] = true;
    }
    return true;
}

/*
 * Verifies a CSR dimension at traversal level `level` whose parent levels
 * hold `parents` positions and whose indices range over [0, size).
 */
static verge_status check_sparse_dim(const loader *ld, int level, const verge_sparse_dim *dim,
                                     size_t parents, int32_t size)
{
    if (parents == SIZE_MAX || dim->num_segments != parents + 1)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "sparsity: dim_metadata[%d] has %zu array_segments, expected %zu "
                    "(one per position of the outer dimensions, plus one)",
                    level, dim->num_segments, parents + 1);
    if (dim->segments[0] != 0)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "sparsity: dim_metadata[%d] array_segments starts at %" PRId32
                    ", expected 0", level, dim->segments[0]);
    for (size_t i = 1; i < dim->num_segments; i++) {
        if (dim->segments[i] < dim->segments[i - 1])
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "sparsity: dim_metadata[%d] array_segments[%zu] = %" PRId32
                        " is below array_segments[%zu] = %" PRId32,
                        level, i, dim->segments[i], i - 1, dim->segments[i - 1]);
    }
    if ((size_t)dim->segments[dim->num_segments - 1] != dim->num_indices)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "sparsity: dim_metadata[%d] array_segments ends at %" PRId32
                    ", but there are %zu array_indices",
                    level, dim->segments[dim->num_segments - 1], dim->num_indices);
    for (size_t i = 0; i < dim->num_indices; i++) {
        if (dim->indices[i] < 0 || dim->indices[i] >= size)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "sparsity: dim_metadata[%d] array_indices[%zu] = %" PRId32
                        " is outside the dimension (size %" PRId32 ")",
                        level, i, dim->indices[i], size);
    }
    return VERGE_OK;
}

/*
 * Verifies SparsityParameters against the tensor's dense shape and the
 * number of values stored in its buffer, and fills *sparsity.
 */
static verge_status parse_sparsity(loader *ld, const verge_fb_table *table,
                                   const verge_tensor *tensor, size_t stored_values,
                                   verge_sparsity *sparsity)
{
    const int rank = tensor->rank;
    verge_fb_vector order;
    verge_fb_vector block_map;
    verge_fb_vector metadata;
    int32_t level_size[2 * VERGE_MAX_RANK]; /* size of each dimension in blocked form */
    size_t positions = 1;
    int num_dims;
    int num_blocks;
    verge_status status;

    status = verge_fb_vector_field(&ld->fb, table, SPARSITY_TRAVERSAL_ORDER, 4,
                                   "traversal_order", &order, NULL);
    if (status == VERGE_OK)
        status = verge_fb_vector_field(&ld->fb, table, SPARSITY_BLOCK_MAP, 4, "block_map",
                                       &block_map, NULL);
    if (status == VERGE_OK)
        status = verge_fb_vector_field(&ld->fb, table, SPARSITY_DIM_METADATA, 4, "dim_metadata",
                                       &metadata, NULL);
    if (status != VERGE_OK)
        return in_context(ld, status);

    if (order.length < (uint32_t)rank || order.length > 2 * (uint32_t)rank)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "sparsity: traversal_order has %" PRIu32 " entries, expected %d to %d "
                    "for a rank-%d tensor", order.length, rank, 2 * rank, rank);
    num_dims = (int)order.length;
    num_blocks = num_dims - rank;
    if (block_map.length != (uint32_t)num_blocks)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "sparsity: block_map has %" PRIu32 " entries, but traversal_order implies %d "
                    "block dimensions", block_map.length, num_blocks);
    if (metadata.length != (uint32_t)num_dims)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "sparsity: dim_metadata has %" PRIu32 " entries, expected %d (one per "
                    "traversal_order entry)", metadata.length, num_dims);

    sparsity->num_dims = num_dims;
    sparsity->num_block_dims = num_blocks;
    for (int i = 0; i < num_dims; i++)
        sparsity->traversal_order[i] = verge_fb_vector_i32(&ld->fb, &order, (uint32_t)i);
    for (int i = 0; i < num_blocks; i++)
        sparsity->block_map[i] = verge_fb_vector_i32(&ld->fb, &block_map, (uint32_t)i);

    if (!is_permutation(sparsity->traversal_order, rank, 0) ||
        !is_permutation(sparsity->traversal_order + rank, num_blocks, rank))
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "sparsity: traversal_order is not a permutation of the %d dimensions followed "
                    "by a permutation of the %d block dimensions", rank, num_blocks);
    for (int i = 0; i < num_blocks; i++) {
        int32_t dense_dim = sparsity->block_map[i];

        if (dense_dim < 0 || dense_dim >= rank)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "sparsity: block_map[%d] = %" PRId32 " is not a dimension of the "
                        "rank-%d tensor", i, dense_dim, rank);
        for (int j = 0; j < i; j++) {
            if (sparsity->block_map[j] == dense_dim)
                return fail(ld, VERGE_STATUS_INVALID_MODEL,
                            "sparsity: dimension %" PRId32 " is blocked twice in block_map",
                            dense_dim);
        }
    }

    /* Formats and dense sizes first: the block sizes come from the block dimensions' metadata. */
    for (int level = 0; level < num_dims; level++) {
        verge_sparse_dim *dim = &sparsity->dims[level];
        verge_fb_table entry;
        int8_t format;

        status = verge_fb_vector_table(&ld->fb, &metadata, (uint32_t)level, "dim_metadata",
                                       &entry);
        if (status == VERGE_OK)
            status = verge_fb_i8(&ld->fb, &entry, DIM_FORMAT, DIMENSION_DENSE, "format", &format);
        if (status == VERGE_OK)
            status = verge_fb_i32(&ld->fb, &entry, DIM_DENSE_SIZE, 0, "dense_size",
                                  &dim->dense_size);
        if (status != VERGE_OK)
            return in_context(ld, status);
        if (format != DIMENSION_DENSE && format != DIMENSION_SPARSE_CSR)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "sparsity: dim_metadata[%d] has unknown format %d", level, format);
        dim->format = format;
        if (format == DIMENSION_DENSE && dim->dense_size < 0)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "sparsity: dim_metadata[%d] has dense_size %" PRId32, level,
                        dim->dense_size);
        if (format == DIMENSION_SPARSE_CSR) {
            status = read_index_vector(ld, &entry, DIM_SEGMENTS_TYPE, "array_segments",
                                       &dim->segments, &dim->num_segments);
            if (status == VERGE_OK)
                status = read_index_vector(ld, &entry, DIM_INDICES_TYPE, "array_indices",
                                           &dim->indices, &dim->num_indices);
            if (status != VERGE_OK)
                return status;
        }
    }

    for (int d = 0; d < rank; d++)
        level_size[d] = tensor->dims[d];
    for (int i = 0; i < num_blocks; i++) {
        int32_t dense_dim = sparsity->block_map[i];
        int level = 0;
        int32_t block;

        while (sparsity->traversal_order[level] != rank + i)
            level++;
        if (sparsity->dims[level].format != DIMENSION_DENSE)
            return fail(ld, VERGE_STATUS_UNSUPPORTED,
                        "sparsity: block dimension %d is stored as SPARSE_CSR; verge reads "
                        "dense block dimensions only", i);
        block = sparsity->dims[level].dense_size;
        if (block < 1 || tensor->dims[dense_dim] % block != 0)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "sparsity: block size %" PRId32 " of dimension %" PRId32
                        " does not divide its size %" PRId32,
                        block, dense_dim, tensor->dims[dense_dim]);
        level_size[dense_dim] = tensor->dims[dense_dim] / block;
        level_size[rank + i] = block;
    }

    for (int level = 0; level < num_dims; level++) {
        verge_sparse_dim *dim = &sparsity->dims[level];
        int32_t size = level_size[sparsity->traversal_order[level]];

        if (dim->format == DIMENSION_DENSE) {
            if (dim->dense_size != size)
                return fail(ld, VERGE_STATUS_INVALID_MODEL,
                            "sparsity: dim_metadata[%d] has dense_size %" PRId32
                            ", but the dimension it traverses has size %" PRId32,
                            level, dim->dense_size, size);
            if (!verge_size_mul(positions, (size_t)size, &positions))
                return fail(ld, VERGE_STATUS_INVALID_MODEL, "sparsity: the size overflows");
        } else {
            status = check_sparse_dim(ld, level, dim, positions, size);
            if (status != VERGE_OK)
                return status;
            positions = dim->num_indices;
        }
    }

    if (positions != stored_values)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "sparsity: the encoding addresses %zu values, but the buffer holds %zu %s "
                    "values", positions, stored_values, verge_dtype_name(tensor->dtype));
    sparsity->num_values = stored_values;
    return VERGE_OK;
}

/* Reads the shape field into tensor->rank and tensor->dims. */
static verge_status parse_shape(loader *ld, const verge_fb_table *table, verge_tensor *tensor)
{
    verge_fb_vector shape;
    verge_status status;

    status = verge_fb_vector_field(&ld->fb, table, TENSOR_SHAPE, 4, "shape", &shape, NULL);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (shape.length > VERGE_MAX_RANK)
        return fail(ld, VERGE_STATUS_UNSUPPORTED, "rank %" PRIu32 " exceeds verge's maximum of %d",
                    shape.length, VERGE_MAX_RANK);
    tensor->rank = (int)shape.length;
    for (int d = 0; d < tensor->rank; d++) {
        int32_t dim = verge_fb_vector_i32(&ld->fb, &shape, (uint32_t)d);

        if (dim == -1)
            return fail(ld, VERGE_STATUS_UNSUPPORTED,
                        "dimension %d has unknown size (-1); verge runs models with static "
                        "shapes only: convert the model with a fixed input shape", d);
        if (dim < 0)
            return fail(ld, VERGE_STATUS_INVALID_MODEL, "dimension %d is negative (%" PRId32 ")",
                        d, dim);
        tensor->dims[d] = dim;
    }
    return VERGE_OK;
}

static verge_status parse_dtype(loader *ld, const verge_fb_table *table, verge_tensor *tensor)
{
    int8_t type;
    verge_status status = verge_fb_i8(&ld->fb, table, TENSOR_TYPE, 0, "type", &type);

    if (status != VERGE_OK)
        return in_context(ld, status);
    if (type >= VERGE_DTYPE_FLOAT32 && type <= VERGE_DTYPE_FLOAT64) {
        tensor->dtype = (verge_dtype)type;
        return VERGE_OK;
    }
    if (tflite_type_name(type) != NULL)
        return fail(ld, VERGE_STATUS_UNSUPPORTED, "tensor type %s is not supported",
                    tflite_type_name(type));
    return fail(ld, VERGE_STATUS_INVALID_MODEL, "unknown tensor type %d", type);
}

static verge_status parse_tensor(loader *ld, int graph_index, int tensor_index,
                                 const verge_fb_table *table, verge_tensor *tensor)
{
    size_t count = 1;
    size_t elem_size;
    uint32_t buffer_index;
    verge_fb_table quantization;
    verge_fb_table sparsity;
    bool has_quantization;
    bool has_sparsity;
    const buffer_info *buffer;
    char shape_text[96];
    verge_status status;

    set_where(ld, graph_index, "tensor", tensor_index);
    status = verge_fb_string_field(&ld->fb, table, TENSOR_NAME, "name", &tensor->name, NULL);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (tensor->name == NULL)
        tensor->name = "";
    ld->where.name = tensor->name;

    status = parse_shape(ld, table, tensor);
    if (status == VERGE_OK)
        status = parse_dtype(ld, table, tensor);
    if (status != VERGE_OK)
        return status;

    elem_size = verge_dtype_size(tensor->dtype);
    for (int d = 0; d < tensor->rank; d++) {
        if (!verge_size_mul(count, (size_t)tensor->dims[d], &count))
            return fail(ld, VERGE_STATUS_INVALID_MODEL, "shape %s has too many elements",
                        verge_shape_str(tensor->dims, tensor->rank, shape_text,
                                        sizeof(shape_text)));
    }
    if (!verge_size_mul(count, elem_size, &tensor->bytes))
        return fail(ld, VERGE_STATUS_INVALID_MODEL, "shape %s of %s elements has too many bytes",
                    verge_shape_str(tensor->dims, tensor->rank, shape_text, sizeof(shape_text)),
                    verge_dtype_name(tensor->dtype));

    status = verge_fb_u32(&ld->fb, table, TENSOR_BUFFER, 0, "buffer", &buffer_index);
    if (status == VERGE_OK)
        status = verge_fb_table_field(&ld->fb, table, TENSOR_QUANTIZATION, "quantization",
                                      &quantization, &has_quantization);
    if (status == VERGE_OK)
        status = verge_fb_table_field(&ld->fb, table, TENSOR_SPARSITY, "sparsity", &sparsity,
                                      &has_sparsity);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (buffer_index >= ld->num_buffers)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "buffer index %" PRIu32 " is out of range (the model has %" PRIu32
                    " buffers)", buffer_index, ld->num_buffers);
    buffer = &ld->buffers[buffer_index];

    if (has_quantization) {
        status = parse_quantization(ld, &quantization, tensor);
        if (status != VERGE_OK)
            return status;
    }

    tensor->storage = VERGE_STORAGE_ARENA;
    if (has_sparsity) {
        verge_sparsity *sparse;

        if (elem_size == 0 || buffer->size % elem_size != 0)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "buffer %" PRIu32 " of a sparse %s tensor has %zu bytes, not a whole "
                        "number of elements", buffer_index, verge_dtype_name(tensor->dtype),
                        buffer->size);
        sparse = alloc_array(ld, 1, sizeof(*sparse));
        if (sparse == NULL)
            return out_of_memory(ld, "sparsity parameters");
        status = parse_sparsity(ld, &sparsity, tensor, buffer->size / elem_size, sparse);
        if (status != VERGE_OK)
            return status;
        tensor->sparsity = sparse;
        tensor->storage = VERGE_STORAGE_CONSTANT;
        tensor->bytes = buffer->size;
        if (buffer->size == 0) {
            /* No stored values: any valid address will do, kernels read 0 bytes from it. */
            tensor->data = (void *)ld->model->file;
            return VERGE_OK;
        }
    } else if (buffer->size == 0) {
        return VERGE_OK;
    } else if (tensor->dtype == VERGE_DTYPE_STRING) {
        return fail(ld, VERGE_STATUS_UNSUPPORTED, "constant string tensors are not supported");
    } else if (buffer->size != tensor->bytes) {
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "buffer %" PRIu32 " has %zu bytes, expected %zu (shape %s, %s)", buffer_index,
                    buffer->size, tensor->bytes,
                    verge_shape_str(tensor->dims, tensor->rank, shape_text, sizeof(shape_text)),
                    verge_dtype_name(tensor->dtype));
    }

    /*
     * NOTE: a variable tensor (is_variable) with an initial value also loads
     * as CONSTANT, which is read-only; none of the pinned models has one.
     */
    tensor->storage = VERGE_STORAGE_CONSTANT;
    /* The model is immutable, and kernels only read constants through this pointer. */
    tensor->data = (void *)buffer_data(ld, buffer_index, dtype_alignment(tensor->dtype), &status);
    return status;
}

/* ---- operators --------------------------------------------------------------------------- */

static verge_status read_padding(loader *ld, const verge_fb_table *options, int field,
                                 verge_padding *out)
{
    int8_t value;
    verge_status status = verge_fb_i8(&ld->fb, options, field, 0, "padding", &value);

    if (status != VERGE_OK)
        return in_context(ld, status);
    if (value != VERGE_PADDING_SAME && value != VERGE_PADDING_VALID)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "padding %d is not SAME (0) or VALID (1)", value);
    *out = (verge_padding)value;
    return VERGE_OK;
}

static verge_status read_activation(loader *ld, const verge_fb_table *options, int field,
                                    verge_activation *out)
{
    int8_t value;
    verge_status status = verge_fb_i8(&ld->fb, options, field, 0, "fused_activation_function",
                                      &value);

    if (status != VERGE_OK)
        return in_context(ld, status);
    if (value < VERGE_ACT_NONE || value > VERGE_ACT_SIGN_BIT)
        return fail(ld, VERGE_STATUS_INVALID_MODEL, "fused activation %d is unknown", value);
    *out = (verge_activation)value;
    return VERGE_OK;
}

/* Reads an int field that must be at least `min` (`fallback` when absent). */
static verge_status read_at_least(loader *ld, const verge_fb_table *options, int field,
                                  int32_t fallback, int32_t min, const char *name, int *out)
{
    int32_t value;
    verge_status status = verge_fb_i32(&ld->fb, options, field, fallback, name, &value);

    if (status != VERGE_OK)
        return in_context(ld, status);
    if (value < min)
        return fail(ld, VERGE_STATUS_INVALID_MODEL, "%s is %" PRId32 ", expected %" PRId32
                    " or more", name, value, min);
    *out = (int)value;
    return VERGE_OK;
}

static verge_status parse_conv_options(loader *ld, const verge_fb_table *options, bool depthwise,
                                       verge_conv_params *conv)
{
    /* DepthwiseConv2DOptions inserts depth_multiplier before the activation. */
    const int extra = depthwise ? 1 : 0;
    verge_status status;

    status = read_padding(ld, options, 0, &conv->padding);
    if (status == VERGE_OK)
        status = read_at_least(ld, options, 1, 0, 1, "stride_w", &conv->stride_w);
    if (status == VERGE_OK)
        status = read_at_least(ld, options, 2, 0, 1, "stride_h", &conv->stride_h);
    conv->depth_multiplier = 1;
    if (status == VERGE_OK && depthwise) {
        status = read_at_least(ld, options, 3, 0, 0, "depth_multiplier",
                               &conv->depth_multiplier);
        /* TFLite writes 0 when the multiplier is implied by the channel counts. */
        if (conv->depth_multiplier == 0)
            conv->depth_multiplier = 1;
    }
    if (status == VERGE_OK)
        status = read_activation(ld, options, 3 + extra, &conv->activation);
    if (status == VERGE_OK)
        status = read_at_least(ld, options, 4 + extra, 1, 1, "dilation_w_factor",
                               &conv->dilation_w);
    if (status == VERGE_OK)
        status = read_at_least(ld, options, 5 + extra, 1, 1, "dilation_h_factor",
                               &conv->dilation_h);
    return status;
}

static verge_status parse_pool_options(loader *ld, const verge_fb_table *options,
                                       verge_pool_params *pool)
{
    verge_status status = read_padding(ld, options, 0, &pool->padding);

    if (status == VERGE_OK)
        status = read_at_least(ld, options, 1, 0, 1, "stride_w", &pool->stride_w);
    if (status == VERGE_OK)
        status = read_at_least(ld, options, 2, 0, 1, "stride_h", &pool->stride_h);
    if (status == VERGE_OK)
        status = read_at_least(ld, options, 3, 0, 1, "filter_width", &pool->filter_w);
    if (status == VERGE_OK)
        status = read_at_least(ld, options, 4, 0, 1, "filter_height", &pool->filter_h);
    if (status == VERGE_OK)
        status = read_activation(ld, options, 5, &pool->activation);
    return status;
}

static verge_status parse_reshape_options(loader *ld, const verge_fb_table *options,
                                          verge_reshape_params *reshape)
{
    verge_fb_vector shape;
    bool present;
    int unknown = 0;
    verge_status status;

    status = verge_fb_vector_field(&ld->fb, options, 0, 4, "new_shape", &shape, &present);
    if (status != VERGE_OK)
        return in_context(ld, status);
    reshape->has_shape = present;
    if (!present)
        return VERGE_OK;
    if (shape.length > VERGE_MAX_RANK)
        return fail(ld, VERGE_STATUS_UNSUPPORTED,
                    "new_shape has rank %" PRIu32 ", above verge's maximum of %d", shape.length,
                    VERGE_MAX_RANK);
    reshape->rank = (int)shape.length;
    for (int d = 0; d < reshape->rank; d++) {
        int32_t dim = verge_fb_vector_i32(&ld->fb, &shape, (uint32_t)d);

        if (dim < -1 || (dim == -1 && ++unknown > 1))
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "new_shape dimension %d is %" PRId32 "; dimensions must be >= 0, with "
                        "at most one -1", d, dim);
        reshape->shape[d] = dim;
    }
    return VERGE_OK;
}

static verge_status parse_resize_options(loader *ld, const verge_fb_table *options,
                                         verge_resize_params *resize)
{
    /* Fields 0 and 1 are the deprecated new_height and new_width. */
    verge_status status = verge_fb_bool(&ld->fb, options, 2, false, "align_corners",
                                        &resize->align_corners);

    if (status == VERGE_OK)
        status = verge_fb_bool(&ld->fb, options, 3, false, "half_pixel_centers",
                               &resize->half_pixel_centers);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (resize->align_corners && resize->half_pixel_centers)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "align_corners and half_pixel_centers are both set; at most one may be");
    return VERGE_OK;
}

/* Reads a float field that must be finite (`fallback` when absent). */
static verge_status read_finite(loader *ld, const verge_fb_table *options, int field,
                                float fallback, const char *name, float *out)
{
    verge_status status = verge_fb_f32(&ld->fb, options, field, fallback, name, out);

    if (status != VERGE_OK)
        return in_context(ld, status);
    if (!isfinite(*out))
        return fail(ld, VERGE_STATUS_INVALID_MODEL, "%s is %g, expected a finite number", name,
                    (double)*out);
    return VERGE_OK;
}

static verge_status parse_fully_connected_options(loader *ld, const verge_fb_table *options,
                                                  verge_fully_connected_params *fc)
{
    int8_t format;
    verge_status status = read_activation(ld, options, 0, &fc->activation);

    if (status != VERGE_OK)
        return status;
    status = verge_fb_i8(&ld->fb, options, 1, VERGE_FULLY_CONNECTED_WEIGHTS_DEFAULT,
                         "weights_format", &format);
    if (status == VERGE_OK)
        status = verge_fb_bool(&ld->fb, options, 2, false, "keep_num_dims", &fc->keep_num_dims);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (format != VERGE_FULLY_CONNECTED_WEIGHTS_DEFAULT &&
        format != VERGE_FULLY_CONNECTED_WEIGHTS_SHUFFLED4X16INT8)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "weights_format %d is not DEFAULT (0) or SHUFFLED4x16INT8 (1)", format);
    fc->weights_format = (verge_fully_connected_weights_format)format;
    return VERGE_OK;
}

static verge_status parse_squeeze_options(loader *ld, const verge_fb_table *options,
                                          verge_squeeze_params *squeeze)
{
    verge_fb_vector dims;
    verge_status status = verge_fb_vector_field(&ld->fb, options, 0, 4, "squeeze_dims", &dims,
                                                NULL);

    if (status != VERGE_OK)
        return in_context(ld, status);
    if (dims.length > VERGE_MAX_RANK)
        return fail(ld, VERGE_STATUS_UNSUPPORTED,
                    "squeeze_dims has %" PRIu32 " entries, more than verge's maximum rank %d",
                    dims.length, VERGE_MAX_RANK);
    squeeze->num_dims = (int)dims.length;
    for (int i = 0; i < squeeze->num_dims; i++)
        squeeze->dims[i] = verge_fb_vector_i32(&ld->fb, &dims, (uint32_t)i);
    return VERGE_OK;
}

/*
 * IF branches are subgraphs 1..n-1, never the main graph 0. Branches that
 * call each other are left to the interpreter's nesting limit.
 */
static verge_status parse_if_options(loader *ld, const verge_fb_table *options,
                                     verge_if_params *branches)
{
    const int num_graphs = ld->model->num_graphs;
    int32_t then_graph;
    int32_t else_graph;
    verge_status status;

    status = verge_fb_i32(&ld->fb, options, 0, 0, "then_subgraph_index", &then_graph);
    if (status == VERGE_OK)
        status = verge_fb_i32(&ld->fb, options, 1, 0, "else_subgraph_index", &else_graph);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (then_graph <= 0 || then_graph >= num_graphs || else_graph <= 0 ||
        else_graph >= num_graphs)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "then_subgraph_index %" PRId32 " and else_subgraph_index %" PRId32
                    " must both lie in 1..%d (the model has %d subgraphs)",
                    then_graph, else_graph, num_graphs - 1, num_graphs);
    branches->then_graph = (int)then_graph;
    branches->else_graph = (int)else_graph;
    return VERGE_OK;
}

/* Returns the BuiltinOptions member that carries the parameters of `op`, or 0 for none. */
static int options_type_of(int op)
{
    switch (op) {
    case VERGE_OP_FULLY_CONNECTED: return OPTIONS_FULLY_CONNECTED;
    case VERGE_OP_SOFTMAX: return OPTIONS_SOFTMAX;
    case VERGE_OP_MEAN:
    case TFLITE_SUM:
    case TFLITE_REDUCE_PROD:
    case VERGE_OP_REDUCE_MAX:
    case TFLITE_REDUCE_MIN:
    case TFLITE_REDUCE_ANY:
    case TFLITE_REDUCE_ALL: return OPTIONS_REDUCER;
    case VERGE_OP_SQUEEZE: return OPTIONS_SQUEEZE;
    case VERGE_OP_LEAKY_RELU: return OPTIONS_LEAKY_RELU;
    case VERGE_OP_IF: return OPTIONS_IF;
    case VERGE_OP_BATCH_MATMUL: return OPTIONS_BATCH_MATMUL;
    case VERGE_OP_CONV_2D: return OPTIONS_CONV_2D;
    case VERGE_OP_DEPTHWISE_CONV_2D: return OPTIONS_DEPTHWISE_CONV_2D;
    case VERGE_OP_AVERAGE_POOL_2D: return OPTIONS_POOL_2D;
    case VERGE_OP_MAX_POOL_2D: return OPTIONS_POOL_2D;
    case VERGE_OP_CONCATENATION: return OPTIONS_CONCATENATION;
    case VERGE_OP_RESHAPE: return OPTIONS_RESHAPE;
    case VERGE_OP_RESIZE_BILINEAR: return OPTIONS_RESIZE_BILINEAR;
    case VERGE_OP_DEPTH_TO_SPACE: return OPTIONS_DEPTH_TO_SPACE;
    case VERGE_OP_ADD: return OPTIONS_ADD;
    case VERGE_OP_SUB: return OPTIONS_SUB;
    case VERGE_OP_MUL: return OPTIONS_MUL;
    case VERGE_OP_DIV: return OPTIONS_DIV;
    }
    return 0;
}

/* Fills node->params from the operator's builtin options (schema defaults when absent). */
static verge_status parse_builtin_options(loader *ld, const verge_fb_table *op, verge_node *node)
{
    const int expected = options_type_of(node->op);
    verge_op_params *params = &node->params;
    verge_fb_table options;
    uint8_t type;
    bool present;
    verge_status status;

    if (expected == 0)
        return VERGE_OK;
    status = verge_fb_union(&ld->fb, op, OPERATOR_BUILTIN_OPTIONS_TYPE, "builtin_options", &type,
                            &options, &present);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (type != 0 && type != expected)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "builtin options have union type %u, expected %d", (unsigned)type, expected);
    /* An absent table reads like an empty one: every field takes its schema default. */
    if (!present)
        memset(&options, 0, sizeof(options));

    switch (node->op) {
    case VERGE_OP_CONV_2D:
        return parse_conv_options(ld, &options, false, &params->conv);
    case VERGE_OP_DEPTHWISE_CONV_2D:
        return parse_conv_options(ld, &options, true, &params->conv);
    case VERGE_OP_AVERAGE_POOL_2D:
    case VERGE_OP_MAX_POOL_2D:
        return parse_pool_options(ld, &options, &params->pool);
    case VERGE_OP_CONCATENATION: {
        int32_t axis;

        status = verge_fb_i32(&ld->fb, &options, 0, 0, "axis", &axis);
        if (status != VERGE_OK)
            return in_context(ld, status);
        params->concat.axis = axis;
        return read_activation(ld, &options, 1, &params->concat.activation);
    }
    case VERGE_OP_RESHAPE:
        return parse_reshape_options(ld, &options, &params->reshape);
    case VERGE_OP_RESIZE_BILINEAR:
        return parse_resize_options(ld, &options, &params->resize);
    case VERGE_OP_DEPTH_TO_SPACE:
        return read_at_least(ld, &options, 0, 0, 1, "block_size",
                             &params->depth_to_space.block_size);
    case VERGE_OP_FULLY_CONNECTED:
        return parse_fully_connected_options(ld, &options, &params->fully_connected);
    case VERGE_OP_SOFTMAX:
        return read_finite(ld, &options, 0, 0.0f, "beta", &params->softmax.beta);
    case VERGE_OP_LEAKY_RELU:
        return read_finite(ld, &options, 0, 0.0f, "alpha", &params->leaky_relu.alpha);
    case VERGE_OP_SQUEEZE:
        return parse_squeeze_options(ld, &options, &params->squeeze);
    case VERGE_OP_IF:
        return parse_if_options(ld, &options, &params->if_graphs);
    case VERGE_OP_BATCH_MATMUL:
        status = verge_fb_bool(&ld->fb, &options, 0, false, "adj_x", &params->batch_matmul.adj_x);
        if (status == VERGE_OK)
            status = verge_fb_bool(&ld->fb, &options, 1, false, "adj_y",
                                   &params->batch_matmul.adj_y);
        return in_context(ld, status);
    case VERGE_OP_ADD:
    case VERGE_OP_SUB:
    case VERGE_OP_MUL:
    case VERGE_OP_DIV:
        /* The activation is field 0 of AddOptions, SubOptions, MulOptions and DivOptions. */
        return read_activation(ld, &options, 0, &params->activation.activation);
    default:
        /* The reductions: ReducerOptions. */
        status = verge_fb_bool(&ld->fb, &options, 0, false, "keep_dims",
                               &params->reducer.keep_dims);
        return in_context(ld, status);
    }
}

static verge_status parse_custom_options(loader *ld, const verge_fb_table *op, verge_node *node)
{
    verge_fb_vector custom;
    uint64_t offset;
    uint64_t size;
    verge_status status;

    status = verge_fb_vector_field(&ld->fb, op, OPERATOR_CUSTOM_OPTIONS, 1, "custom_options",
                                   &custom, NULL);
    if (status == VERGE_OK)
        status = verge_fb_u64(&ld->fb, op, OPERATOR_LARGE_CUSTOM_OPTIONS_OFFSET, 0,
                              "large_custom_options_offset", &offset);
    if (status == VERGE_OK)
        status = verge_fb_u64(&ld->fb, op, OPERATOR_LARGE_CUSTOM_OPTIONS_SIZE, 0,
                              "large_custom_options_size", &size);
    if (status != VERGE_OK)
        return in_context(ld, status);

    /* As for buffers, the large fields count only when the offset is above 1. */
    if (offset > 1) {
        if (offset > ld->model->file_size || size > ld->model->file_size - offset)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "custom options at offset %" PRIu64 " with size %" PRIu64
                        " run past the end of the file (%zu bytes)",
                        offset, size, ld->model->file_size);
        node->custom_options = size > 0 ? ld->model->file + offset : NULL;
        node->custom_options_size = (size_t)size;
    } else if (custom.length > 0) {
        node->custom_options = verge_fb_vector_data(&ld->fb, &custom);
        node->custom_options_size = custom.length;
    }
    return VERGE_OK;
}

static verge_status parse_operator(loader *ld, int graph_index, int op_index,
                                   const verge_fb_table *op, const verge_graph *graph,
                                   verge_node *node)
{
    const opcode_info *code;
    uint32_t opcode_index;
    verge_status status;

    set_where(ld, graph_index, "operator", op_index);
    status = verge_fb_u32(&ld->fb, op, OPERATOR_OPCODE_INDEX, 0, "opcode_index", &opcode_index);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (opcode_index >= (uint32_t)ld->num_opcodes)
        return fail(ld, VERGE_STATUS_INVALID_MODEL,
                    "opcode_index %" PRIu32 " is out of range (the model has %d operator codes)",
                    opcode_index, ld->num_opcodes);
    code = &ld->opcodes[opcode_index];
    node->op = code->code;
    node->version = code->version;
    node->custom_name = code->custom_name;
    ld->where.op = code->code;
    ld->where.custom_op = code->custom_name;

    status = read_int_list(ld, op, OPERATOR_INPUTS, "inputs", &node->inputs, &node->num_inputs);
    if (status == VERGE_OK)
        status = read_int_list(ld, op, OPERATOR_OUTPUTS, "outputs", &node->outputs,
                               &node->num_outputs);
    if (status != VERGE_OK)
        return status;
    for (int i = 0; i < node->num_inputs; i++) {
        int32_t t = node->inputs[i];

        if (t != VERGE_NO_TENSOR && (t < 0 || t >= graph->num_tensors))
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "input %d is tensor %" PRId32 ", but the subgraph has %d tensors", i, t,
                        graph->num_tensors);
    }
    for (int i = 0; i < node->num_outputs; i++) {
        int32_t t = node->outputs[i];

        if (t < 0 || t >= graph->num_tensors)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "output %d is tensor %" PRId32 ", but the subgraph has %d tensors", i, t,
                        graph->num_tensors);
    }

    status = parse_builtin_options(ld, op, node);
    if (status == VERGE_OK)
        status = parse_custom_options(ld, op, node);
    return status;
}

/* ---- subgraphs and the model ------------------------------------------------------------- */

/* Reads a subgraph's input or output list and checks every index. */
static verge_status parse_graph_io(loader *ld, const verge_fb_table *table, int field,
                                   const char *name, const verge_graph *graph, int32_t **out,
                                   int *count)
{
    verge_status status = read_int_list(ld, table, field, name, out, count);

    if (status != VERGE_OK)
        return status;
    for (int i = 0; i < *count; i++) {
        int32_t t = (*out)[i];

        if (t < 0 || t >= graph->num_tensors)
            return fail(ld, VERGE_STATUS_INVALID_MODEL,
                        "%s %d is tensor %" PRId32 ", but the subgraph has %d tensors", name, i,
                        t, graph->num_tensors);
    }
    return VERGE_OK;
}

static verge_status parse_graph(loader *ld, int graph_index, const verge_fb_table *table,
                                verge_graph *graph)
{
    verge_fb_vector tensors;
    verge_fb_vector operators;
    verge_status status;

    set_where(ld, graph_index, NULL, 0);
    status = verge_fb_string_field(&ld->fb, table, SUBGRAPH_NAME, "name", &graph->name, NULL);
    if (status == VERGE_OK)
        status = verge_fb_vector_field(&ld->fb, table, SUBGRAPH_TENSORS, 4, "tensors", &tensors,
                                       NULL);
    if (status == VERGE_OK)
        status = verge_fb_vector_field(&ld->fb, table, SUBGRAPH_OPERATORS, 4, "operators",
                                       &operators, NULL);
    if (status != VERGE_OK)
        return in_context(ld, status);
    if (graph->name == NULL)
        graph->name = "";
    if (tensors.length > INT_MAX || operators.length > INT_MAX)
        return fail(ld, VERGE_STATUS_INVALID_MODEL, "%" PRIu32 " tensors and %" PRIu32
                    " operators are too many", tensors.length, operators.length);

    graph->num_tensors = (int)tensors.length;
    graph->tensors = alloc_array(ld, tensors.length, sizeof(verge_tensor));
    graph->num_nodes = (int)operators.length;
    graph->nodes = alloc_array(ld, operators.length, sizeof(verge_node));
    if (graph->tensors == NULL || graph->nodes == NULL)
        return out_of_memory(ld, "tensors and operators");

    for (int i = 0; i < graph->num_tensors; i++) {
        verge_fb_table tensor;

        set_where(ld, graph_index, "tensor", i);
        status = verge_fb_vector_table(&ld->fb, &tensors, (uint32_t)i, "tensor", &tensor);
        if (status != VERGE_OK)
            return in_context(ld, status);
        status = parse_tensor(ld, graph_index, i, &tensor, &graph->tensors[i]);
        if (status != VERGE_OK)
            return status;
    }

    set_where(ld, graph_index, NULL, 0);
    status = parse_graph_io(ld, table, SUBGRAPH_INPUTS, "input", graph, &graph->inputs,
                            &graph->num_inputs);
    if (status == VERGE_OK)
        status = parse_graph_io(ld, table, SUBGRAPH_OUTPUTS, "output", graph, &graph->outputs,
                                &graph->num_outputs);
    if (status != VERGE_OK)
        return status;

    for (int i = 0; i < graph->num_nodes; i++) {
        verge_fb_table op;

        set_where(ld, graph_index, "operator", i);
        status = verge_fb_vector_table(&ld->fb, &operators, (uint32_t)i, "operator", &op);
        if (status != VERGE_OK)
            return in_context(ld, status);
        status = parse_operator(ld, graph_index, i, &op, graph, &graph->nodes[i]);
        if (status != VERGE_OK)
            return status;
    }
    return VERGE_OK;
}

bool verge_tflite_identify(const uint8_t *data, size_t size)
{
    return size >= 8 && memcmp(data + 4, "TFL3", 4) == 0;
}

verge_status verge_tflite_parse(verge_model *model)
{
    loader ld;
    verge_fb_table root;
    verge_fb_vector subgraphs;
    verge_status status;

    memset(&ld, 0, sizeof(ld));
    ld.model = model;
    set_where(&ld, -1, NULL, 0);
    if (!verge_tflite_identify(model->file, model->file_size))
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "%s: not a TFLite model (no TFL3 identifier); verge reads .tflite files",
                          model->path);
    verge_fb_init(&ld.fb, model->file, model->file_size, read_budget(model->file_size));

    status = verge_fb_root(&ld.fb, &root);
    if (status == VERGE_OK)
        status = verge_fb_u32(&ld.fb, &root, MODEL_VERSION, 0, "version", &model->format_version);
    if (status != VERGE_OK)
        return in_context(&ld, status);
    if (model->format_version != TFLITE_SCHEMA_VERSION)
        return fail(&ld, VERGE_STATUS_UNSUPPORTED,
                    "TFLite schema version %" PRIu32 " is not supported; verge reads version %u",
                    model->format_version, TFLITE_SCHEMA_VERSION);

    status = verge_fb_string_field(&ld.fb, &root, MODEL_DESCRIPTION, "description",
                                   &model->description, NULL);
    if (status != VERGE_OK)
        return in_context(&ld, status);
    if (model->description == NULL)
        model->description = "";

    status = parse_opcodes(&ld, &root);
    if (status == VERGE_OK)
        status = parse_buffers(&ld, &root);
    if (status != VERGE_OK)
        return status;

    set_where(&ld, -1, NULL, 0);
    status = verge_fb_vector_field(&ld.fb, &root, MODEL_SUBGRAPHS, 4, "subgraphs", &subgraphs,
                                   NULL);
    if (status != VERGE_OK)
        return in_context(&ld, status);
    if (subgraphs.length == 0)
        return fail(&ld, VERGE_STATUS_INVALID_MODEL, "the model has no subgraphs");
    if (subgraphs.length > INT_MAX)
        return fail(&ld, VERGE_STATUS_INVALID_MODEL, "%" PRIu32 " subgraphs are too many",
                    subgraphs.length);
    model->graphs = alloc_array(&ld, subgraphs.length, sizeof(verge_graph));
    if (model->graphs == NULL)
        return out_of_memory(&ld, "subgraphs");
    model->num_graphs = (int)subgraphs.length;

    for (int g = 0; g < model->num_graphs; g++) {
        verge_fb_table graph;

        set_where(&ld, g, NULL, 0);
        status = verge_fb_vector_table(&ld.fb, &subgraphs, (uint32_t)g, "subgraph", &graph);
        if (status != VERGE_OK)
            return in_context(&ld, status);
        status = parse_graph(&ld, g, &graph, &model->graphs[g]);
        if (status != VERGE_OK)
            return status;
    }
    return VERGE_OK;
}
