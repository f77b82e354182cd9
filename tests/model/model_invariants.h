/*
 * An independent check of the invariants that src/model/graph.h promises for
 * a loaded model. Every index is in range, and every constant's data is
 * readable for exactly `bytes` bytes and aligned for its dtype. Every
 * parameter is in its documented range, and every sparse encoding stays
 * inside the dense shape. Tests call it on every model that loads, including
 * corrupted files that happen to stay valid. It reads every byte of constant
 * data and custom options, so that AddressSanitizer flags any pointer that
 * leaves its memory.
 */
#ifndef VERGE_TESTS_MODEL_INVARIANTS_H
#define VERGE_TESTS_MODEL_INVARIANTS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model/graph.h"
#include "verge/model.h"

/* Stores the first broken invariant; read after model_invariants_hold() returns false. */
static char model_invariant_error[256];

/* Sums bytes so that the compiler cannot drop the reads. */
static volatile unsigned model_invariant_sink;

#define INVARIANT(cond, ...)                                                                  \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            snprintf(model_invariant_error, sizeof(model_invariant_error), __VA_ARGS__);      \
            return false;                                                                     \
        }                                                                                     \
    } while (0)

/*
 * Reads every byte of [data, data + size). Copying through memcpy() lets
 * AddressSanitizer check each chunk as one range, far faster than per byte.
 */
static void touch_bytes(const void *data, size_t size)
{
    static unsigned char chunk[4096];
    const unsigned char *bytes = data;

    for (size_t done = 0; done < size; done += sizeof(chunk)) {
        size_t n = size - done < sizeof(chunk) ? size - done : sizeof(chunk);

        memcpy(chunk, bytes + done, n);
        model_invariant_sink += chunk[0] + chunk[n - 1];
    }
}

static bool aligned_for(const void *pointer, size_t alignment)
{
    return alignment <= 1 || (uintptr_t)pointer % alignment == 0;
}

static bool sparsity_holds(const verge_tensor *t)
{
    const verge_sparsity *s = t->sparsity;
    int32_t sizes[2 * VERGE_MAX_RANK];
    size_t positions = 1;
    bool seen[2 * VERGE_MAX_RANK] = {false};

    INVARIANT(s->num_dims >= t->rank && s->num_dims <= 2 * t->rank, "sparse num_dims %d",
              s->num_dims);
    INVARIANT(s->num_block_dims == s->num_dims - t->rank, "sparse block dims %d",
              s->num_block_dims);
    for (int d = 0; d < t->rank; d++)
        sizes[d] = t->dims[d];
    for (int b = 0; b < s->num_block_dims; b++) {
        int32_t dense = s->block_map[b];
        int level = -1;

        INVARIANT(dense >= 0 && dense < t->rank, "block_map[%d] = %d", b, (int)dense);
        for (int i = 0; i < s->num_dims; i++)
            if (s->traversal_order[i] == t->rank + b)
                level = i;
        INVARIANT(level >= 0 && s->dims[level].format == 0 && s->dims[level].dense_size > 0,
                  "block %d has no dense level", b);
        INVARIANT(t->dims[dense] % s->dims[level].dense_size == 0, "block %d does not divide", b);
        sizes[dense] = t->dims[dense] / s->dims[level].dense_size;
        sizes[t->rank + b] = s->dims[level].dense_size;
    }
    for (int i = 0; i < s->num_dims; i++) {
        int32_t d = s->traversal_order[i];

        INVARIANT(d >= 0 && d < s->num_dims && !seen[d], "traversal_order[%d] = %d", i, (int)d);
        seen[d] = true;
    }
    for (int i = 0; i < s->num_dims; i++) {
        const verge_sparse_dim *dim = &s->dims[i];
        int32_t size = sizes[s->traversal_order[i]];

        if (dim->format == 0) {
            INVARIANT(dim->dense_size == size, "level %d dense_size %d != %d", i,
                      (int)dim->dense_size, (int)size);
            positions *= (size_t)size;
            continue;
        }
        INVARIANT(dim->format == 1, "level %d format %d", i, dim->format);
        INVARIANT(dim->num_segments == positions + 1, "level %d segments", i);
        INVARIANT(dim->segments[0] == 0, "level %d first segment", i);
        for (size_t k = 1; k < dim->num_segments; k++)
            INVARIANT(dim->segments[k] >= dim->segments[k - 1], "level %d segment %zu", i, k);
        INVARIANT((size_t)dim->segments[dim->num_segments - 1] == dim->num_indices,
                  "level %d last segment", i);
        for (size_t k = 0; k < dim->num_indices; k++)
            INVARIANT(dim->indices[k] >= 0 && dim->indices[k] < size, "level %d index %zu", i,
                      k);
        positions = dim->num_indices;
    }
    INVARIANT(positions == s->num_values, "sparse values %zu != %zu", positions, s->num_values);
    INVARIANT(s->num_values * verge_dtype_size(t->dtype) == t->bytes, "sparse bytes");
    return true;
}

static bool tensor_holds(const verge_tensor *t)
{
    size_t count = 1;

    INVARIANT(t->name != NULL, "NULL name");
    touch_bytes(t->name, strlen(t->name));
    INVARIANT(t->rank >= 0 && t->rank <= VERGE_MAX_RANK, "rank %d", t->rank);
    INVARIANT((int)t->dtype >= 0 && (int)t->dtype <= VERGE_DTYPE_FLOAT64, "dtype %d",
              (int)t->dtype);
    for (int d = 0; d < t->rank; d++) {
        INVARIANT(t->dims[d] >= 0, "dim %d is %d", d, (int)t->dims[d]);
        INVARIANT(!__builtin_mul_overflow(count, (size_t)t->dims[d], &count), "count overflow");
    }
    if (t->sparsity == NULL) {
        size_t bytes;

        INVARIANT(!__builtin_mul_overflow(count, verge_dtype_size(t->dtype), &bytes) &&
                      bytes == t->bytes, "bytes %zu", t->bytes);
    } else if (!sparsity_holds(t)) {
        return false;
    }
    INVARIANT(t->storage == VERGE_STORAGE_ARENA || t->storage == VERGE_STORAGE_CONSTANT,
              "storage %d", (int)t->storage);
    if (t->storage == VERGE_STORAGE_CONSTANT) {
        size_t alignment = t->dtype == VERGE_DTYPE_COMPLEX64 ? 4 : verge_dtype_size(t->dtype);

        INVARIANT(t->data != NULL, "constant without data");
        INVARIANT(aligned_for(t->data, alignment), "misaligned %s constant",
                  verge_dtype_name(t->dtype));
        touch_bytes(t->data, t->bytes);
    } else {
        INVARIANT(t->data == NULL && t->sparsity == NULL, "arena tensor with data");
    }
    if (t->quant.count > 0) {
        INVARIANT(t->quant.scale != NULL && t->quant.zero_point != NULL, "quantization arrays");
        INVARIANT(aligned_for(t->quant.scale, 4) && aligned_for(t->quant.zero_point, 8),
                  "misaligned quantization arrays");
        for (int i = 0; i < t->quant.count; i++) {
            INVARIANT(t->quant.scale[i] >= 0.0f && t->quant.scale[i] < __builtin_inff(),
                      "scale %d", i);
            touch_bytes(&t->quant.zero_point[i], sizeof(int64_t));
        }
        if (t->quant.count > 1)
            INVARIANT(t->quant.axis >= 0 && t->quant.axis < t->rank &&
                          t->dims[t->quant.axis] == t->quant.count, "per-channel axis");
    } else {
        INVARIANT(t->quant.count == 0, "quantization count %d", t->quant.count);
    }
    return true;
}

static bool activation_ok(verge_activation act)
{
    return (int)act >= VERGE_ACT_NONE && (int)act <= VERGE_ACT_SIGN_BIT;
}

static bool node_holds(const verge_model *m, const verge_graph *g, const verge_node *n)
{
    const verge_op_params *p = &n->params;

    INVARIANT(n->op >= 0, "op %d", n->op);
    INVARIANT(n->version >= 1, "version %d", n->version);
    INVARIANT((n->op == VERGE_OP_CUSTOM) == (n->custom_name != NULL), "custom name");
    INVARIANT(n->num_inputs >= 0 && n->num_outputs >= 0, "counts");
    INVARIANT(n->num_inputs == 0 || n->inputs != NULL, "inputs");
    INVARIANT(n->num_outputs == 0 || n->outputs != NULL, "outputs");
    for (int i = 0; i < n->num_inputs; i++)
        INVARIANT(n->inputs[i] == VERGE_NO_TENSOR ||
                      (n->inputs[i] >= 0 && n->inputs[i] < g->num_tensors),
                  "input %d = %d", i, (int)n->inputs[i]);
    for (int i = 0; i < n->num_outputs; i++)
        INVARIANT(n->outputs[i] >= 0 && n->outputs[i] < g->num_tensors, "output %d = %d", i,
                  (int)n->outputs[i]);
    if (n->custom_options != NULL)
        touch_bytes(n->custom_options, n->custom_options_size);
    else
        INVARIANT(n->custom_options_size == 0, "custom options size without data");

    switch (n->op) {
    case VERGE_OP_CONV_2D:
    case VERGE_OP_DEPTHWISE_CONV_2D:
        INVARIANT(p->conv.padding == VERGE_PADDING_SAME || p->conv.padding == VERGE_PADDING_VALID,
                  "conv padding");
        INVARIANT(p->conv.stride_w >= 1 && p->conv.stride_h >= 1, "conv stride");
        INVARIANT(p->conv.dilation_w >= 1 && p->conv.dilation_h >= 1, "conv dilation");
        INVARIANT(p->conv.depth_multiplier >= 1, "depth multiplier");
        INVARIANT(activation_ok(p->conv.activation), "conv activation");
        break;
    case VERGE_OP_AVERAGE_POOL_2D:
    case VERGE_OP_MAX_POOL_2D:
        INVARIANT(p->pool.padding == VERGE_PADDING_SAME || p->pool.padding == VERGE_PADDING_VALID,
                  "pool padding");
        INVARIANT(p->pool.stride_w >= 1 && p->pool.stride_h >= 1, "pool stride");
        INVARIANT(p->pool.filter_w >= 1 && p->pool.filter_h >= 1, "pool filter");
        INVARIANT(activation_ok(p->pool.activation), "pool activation");
        break;
    case VERGE_OP_CONCATENATION:
        INVARIANT(activation_ok(p->concat.activation), "concat activation");
        break;
    case VERGE_OP_RESHAPE:
        if (p->reshape.has_shape) {
            INVARIANT(p->reshape.rank >= 0 && p->reshape.rank <= VERGE_MAX_RANK, "reshape rank");
            for (int d = 0; d < p->reshape.rank; d++)
                INVARIANT(p->reshape.shape[d] >= -1, "reshape dim");
        }
        break;
    case VERGE_OP_RESIZE_BILINEAR:
        INVARIANT(!(p->resize.align_corners && p->resize.half_pixel_centers), "resize flags");
        break;
    case VERGE_OP_DEPTH_TO_SPACE:
        INVARIANT(p->depth_to_space.block_size >= 1, "block size");
        break;
    case VERGE_OP_ADD:
    case VERGE_OP_SUB:
    case VERGE_OP_MUL:
    case VERGE_OP_DIV:
        INVARIANT(activation_ok(p->activation.activation), "activation");
        break;
    case VERGE_OP_FULLY_CONNECTED:
        INVARIANT(activation_ok(p->fully_connected.activation), "fully connected activation");
        INVARIANT((int)p->fully_connected.weights_format == 0 ||
                      (int)p->fully_connected.weights_format == 1, "weights format");
        break;
    case VERGE_OP_SOFTMAX:
        INVARIANT(isfinite(p->softmax.beta), "softmax beta");
        break;
    case VERGE_OP_LEAKY_RELU:
        INVARIANT(isfinite(p->leaky_relu.alpha), "leaky relu alpha");
        break;
    case VERGE_OP_SQUEEZE:
        INVARIANT(p->squeeze.num_dims >= 0 && p->squeeze.num_dims <= VERGE_MAX_RANK,
                  "squeeze dims");
        break;
    case VERGE_OP_IF:
        INVARIANT(p->if_graphs.then_graph > 0 && p->if_graphs.then_graph < m->num_graphs,
                  "then graph %d", p->if_graphs.then_graph);
        INVARIANT(p->if_graphs.else_graph > 0 && p->if_graphs.else_graph < m->num_graphs,
                  "else graph %d", p->if_graphs.else_graph);
        break;
    default:
        break;
    }
    return true;
}

/* Returns true when every invariant holds, else false with the reason in model_invariant_error. */
static bool model_invariants_hold(const verge_model *m)
{
    INVARIANT(m->num_graphs >= 1 && m->graphs != NULL, "no graphs");
    INVARIANT(m->path != NULL && m->description != NULL, "path or description");
    touch_bytes(m->description, strlen(m->description));
    for (int gi = 0; gi < m->num_graphs; gi++) {
        const verge_graph *g = &m->graphs[gi];

        INVARIANT(g->name != NULL, "graph name");
        INVARIANT(g->num_tensors >= 0 && (g->num_tensors == 0 || g->tensors != NULL), "tensors");
        INVARIANT(g->num_nodes >= 0 && (g->num_nodes == 0 || g->nodes != NULL), "nodes");
        for (int i = 0; i < g->num_tensors; i++) {
            if (!tensor_holds(&g->tensors[i])) {
                char inner[sizeof(model_invariant_error)];

                memcpy(inner, model_invariant_error, sizeof(inner));
                snprintf(model_invariant_error, sizeof(model_invariant_error),
                         "graph %d tensor %d: %.200s", gi, i, inner);
                return false;
            }
        }
        for (int i = 0; i < g->num_nodes; i++) {
            if (!node_holds(m, g, &g->nodes[i])) {
                char inner[sizeof(model_invariant_error)];

                memcpy(inner, model_invariant_error, sizeof(inner));
                snprintf(model_invariant_error, sizeof(model_invariant_error),
                         "graph %d node %d: %.200s", gi, i, inner);
                return false;
            }
        }
        for (int i = 0; i < g->num_inputs; i++)
            INVARIANT(g->inputs[i] >= 0 && g->inputs[i] < g->num_tensors, "graph input %d", i);
        for (int i = 0; i < g->num_outputs; i++)
            INVARIANT(g->outputs[i] >= 0 && g->outputs[i] < g->num_tensors, "graph output %d",
                      i);
    }
    return true;
}

#undef INVARIANT

#endif
