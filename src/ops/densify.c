/*
 * DENSIFY reference kernel: expands a sparse constant (float32 or float16)
 * into a dense tensor of the same dtype and shape, with zeros elsewhere.
 *
 * Input 0 carries the dense shape in dims, its stored values in data
 * (`bytes` = number of stored values * element size) and the encoding in
 * `sparsity` (TFLite's SparsityParameters, see src/model/graph.h):
 *
 *   - The encoding has rank + B levels, B the number of block dimensions.
 *     Level L walks dimension traversal_order[L]. Values below rank are
 *     dense dimensions, divided into blocks when block_map names them.
 *     Value rank + k is block dimension k, which subdivides dense dimension
 *     block_map[k] into blocks of dims[L].dense_size cells.
 *   - A dense level has dense_size entries. A sparse level (CSR) lists, for
 *     parent position p, the coordinates indices[segments[p] ..
 *     segments[p + 1]), and position numbers carry on to the next level.
 *   - Stored values appear in traversal order, one per leaf.
 *
 * A dense coordinate is block_index * block_size + index_in_block. Block
 * levels must be dense, as in TFLite's converter.
 */
#include <string.h>

#include "core/core.h"
#include "ops/common.h"

/* How each level maps onto the dense tensor. */
typedef struct densify_layout {
    int rank;
    int num_levels;
    int level_dim[2 * VERGE_MAX_RANK];      /* dense dimension the level indexes */
    bool level_is_block[2 * VERGE_MAX_RANK]; /* indexes inside a block, not the block */
    int32_t block_size[VERGE_MAX_RANK];     /* per dense dimension; 1 when not blocked */
    size_t strides[VERGE_MAX_RANK];         /* dense element strides */
} densify_layout;

/* Walk state while writing one tensor. */
typedef struct densify_walk {
    const densify_layout *layout;
    const verge_sparsity *sparsity;
    const uint8_t *values;
    uint8_t *dense;
    size_t element_size;
    size_t next_value;
    int32_t block_index[VERGE_MAX_RANK];
    int32_t in_block[VERGE_MAX_RANK];
} densify_walk;

/* Fills *layout from a sparsity that densify_check_levels() has accepted. */
static void densify_layout_read(const verge_tensor *input, densify_layout *layout)
{
    const verge_sparsity *sp = input->sparsity;
    const int rank = input->rank;

    layout->rank = rank;
    layout->num_levels = sp->num_dims;
    for (int d = 0; d < rank; d++)
        layout->block_size[d] = 1;
    for (int level = 0; level < sp->num_dims; level++) {
        int dim = sp->traversal_order[level];

        if (dim < rank) {
            layout->level_dim[level] = dim;
            layout->level_is_block[level] = false;
        } else {
            int dense_dim = sp->block_map[dim - rank];

            layout->level_dim[level] = dense_dim;
            layout->level_is_block[level] = true;
            layout->block_size[dense_dim] = sp->dims[level].dense_size;
        }
    }
    if (rank > 0)
        layout->strides[rank - 1] = 1;
    for (int d = rank - 2; d >= 0; d--)
        layout->strides[d] = layout->strides[d + 1] * (size_t)input->dims[d + 1];
}

/* Returns the number of coordinates level `level` can take. */
static int32_t densify_level_size(const densify_layout *layout, const verge_tensor *input,
                                  int level)
{
    int dim = layout->level_dim[level];

    if (layout->level_is_block[level])
        return layout->block_size[dim];
    return input->dims[dim] / layout->block_size[dim];
}

/* Checks the level structure: traversal order, block map and block sizes. */
static verge_status densify_check_levels(const verge_tensor *input, densify_layout *layout)
{
    const verge_sparsity *sp = input->sparsity;
    const int rank = input->rank;
    bool seen[2 * VERGE_MAX_RANK] = {false};
    bool blocked[VERGE_MAX_RANK] = {false};

    if (sp->num_dims < rank || sp->num_dims > 2 * rank ||
        sp->num_block_dims != sp->num_dims - rank)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 0 (sparse) has rank %d, but its sparsity has %d dimensions "
                          "and %d block dimensions",
                          rank, sp->num_dims, sp->num_block_dims);

    for (int level = 0; level < sp->num_dims; level++) {
        int dim = sp->traversal_order[level];

        if (dim < 0 || dim >= sp->num_dims || seen[dim] || (level < rank) != (dim < rank))
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 0 (sparse) has traversal order entry %d = %d; the first %d "
                              "entries must permute the dense dimensions and the rest the "
                              "block dimensions",
                              level, dim, rank);
        seen[dim] = true;
    }
    for (int k = 0; k < sp->num_block_dims; k++) {
        int dim = sp->block_map[k];

        if (dim < 0 || dim >= rank || blocked[dim])
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 0 (sparse) has block map entry %d = %d, not a dense "
                              "dimension without another block",
                              k, dim);
        blocked[dim] = true;
    }

    for (int level = rank; level < sp->num_dims; level++) {
        const verge_sparse_dim *meta = &sp->dims[level];
        int dim = sp->block_map[sp->traversal_order[level] - rank];

        if (meta->format != 0)
            return verge_fail(VERGE_STATUS_UNSUPPORTED,
                              "input 0 (sparse) has a sparse block level %d; only dense blocks "
                              "are supported, as in TFLite",
                              level);
        if (meta->dense_size < 1 || input->dims[dim] % meta->dense_size != 0)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 0 (sparse) splits dimension %d of size %d into blocks of "
                              "%d",
                              dim, (int)input->dims[dim], (int)meta->dense_size);
    }

    densify_layout_read(input, layout);
    return VERGE_OK;
}

/*
 * Checks every level's metadata against the dense shape and stores the
 * number of stored values the encoding describes in *num_values.
 */
static verge_status densify_check_metadata(const verge_tensor *input,
                                           const densify_layout *layout, size_t *num_values)
{
    const verge_sparsity *sp = input->sparsity;
    size_t positions = 1; /* nodes at the current level of the traversal tree */

    for (int level = 0; level < sp->num_dims; level++) {
        const verge_sparse_dim *meta = &sp->dims[level];
        int32_t size = densify_level_size(layout, input, level);

        if (meta->format == 0) {
            if (meta->dense_size != size)
                return verge_fail(VERGE_STATUS_INVALID_MODEL,
                                  "input 0 (sparse) level %d is dense with size %d, expected %d",
                                  level, (int)meta->dense_size, (int)size);
            if (!verge_size_mul(positions, (size_t)size, &positions))
                return verge_fail(VERGE_STATUS_INVALID_MODEL,
                                  "input 0 (sparse) level %d has too many positions", level);
            continue;
        }
        if (meta->format != 1)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 0 (sparse) level %d has format %d, expected 0 (dense) or "
                              "1 (CSR)",
                              level, meta->format);

        if (meta->num_segments != positions + 1 || meta->segments == NULL ||
            meta->segments[0] != 0)
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 0 (sparse) level %d has %zu segments, expected %zu "
                              "starting at 0",
                              level, meta->num_segments, positions + 1);
        for (size_t p = 0; p < positions; p++) {
            if (meta->segments[p + 1] < meta->segments[p])
                return verge_fail(VERGE_STATUS_INVALID_MODEL,
                                  "input 0 (sparse) level %d has decreasing segments %d, %d at "
                                  "%zu",
                                  level, (int)meta->segments[p], (int)meta->segments[p + 1], p);
        }
        positions = (size_t)meta->segments[positions];
        if (positions > meta->num_indices || (positions > 0 && meta->indices == NULL))
            return verge_fail(VERGE_STATUS_INVALID_MODEL,
                              "input 0 (sparse) level %d ends its segments at %zu, beyond its "
                              "%zu indices",
                              level, positions, meta->num_indices);
        for (size_t i = 0; i < positions; i++) {
            if (meta->indices[i] < 0 || meta->indices[i] >= size)
                return verge_fail(VERGE_STATUS_INVALID_MODEL,
                                  "input 0 (sparse) level %d has index %d at %zu, outside "
                                  "[0, %d)",
                                  level, (int)meta->indices[i], i, (int)size);
        }
    }
    *num_values = positions;
    return VERGE_OK;
}

static verge_status verge_densify_prepare(verge_op_context *ctx, const verge_node *node)
{
    verge_tensor *input;
    densify_layout layout;
    size_t num_values = 0, value_bytes;
    verge_status status;

    if ((status = verge_ops_check_arity(node, 1, 1, 1)) != VERGE_OK ||
        (status = verge_ops_require_input(ctx, node, 0, "sparse", &input)) != VERGE_OK)
        return status;

    if (input->dtype != VERGE_DTYPE_FLOAT32 && input->dtype != VERGE_DTYPE_FLOAT16)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "input 0 (sparse) is %s, but this build densifies only float32 and "
                          "float16",
                          verge_dtype_name(input->dtype));
    if (input->storage != VERGE_STORAGE_CONSTANT || input->sparsity == NULL)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 0 (sparse) is tensor '%s', which is not a sparse constant",
                          input->name);

    if ((status = densify_check_levels(input, &layout)) != VERGE_OK ||
        (status = densify_check_metadata(input, &layout, &num_values)) != VERGE_OK)
        return status;

    if (!verge_size_mul(num_values, verge_dtype_size(input->dtype), &value_bytes) ||
        input->bytes != value_bytes || (value_bytes > 0 && input->data == NULL))
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "input 0 (sparse) holds %zu bytes, but its sparsity describes %zu "
                          "%s values",
                          input->bytes, num_values, verge_dtype_name(input->dtype));

    return verge_tensor_set_shape(verge_node_output(ctx, node, 0), input->dtype, input->rank,
                                  input->dims);
}

/* Visits the subtree below `position` at `level`, writing each leaf's value. */
static void densify_visit(densify_walk *walk, int level, size_t position)
{
    const densify_layout *layout = walk->layout;
    const verge_sparse_dim *meta;
    int32_t *coordinate;

    if (level == layout->num_levels) {
        size_t offset = 0;

        for (int d = 0; d < layout->rank; d++) {
            size_t index = (size_t)walk->block_index[d] * (size_t)layout->block_size[d] +
                           (size_t)walk->in_block[d];

            offset += index * layout->strides[d];
        }
        memcpy(walk->dense + offset * walk->element_size,
               walk->values + walk->next_value * walk->element_size, walk->element_size);
        walk->next_value++;
        return;
    }

    meta = &walk->sparsity->dims[level];
    coordinate = layout->level_is_block[level] ? &walk->in_block[layout->level_dim[level]]
                                               : &walk->block_index[layout->level_dim[level]];
    if (meta->format == 0) {
        for (int32_t i = 0; i < meta->dense_size; i++) {
            *coordinate = i;
            densify_visit(walk, level + 1, position * (size_t)meta->dense_size + (size_t)i);
        }
    } else {
        for (int32_t k = meta->segments[position]; k < meta->segments[position + 1]; k++) {
            *coordinate = meta->indices[k];
            densify_visit(walk, level + 1, (size_t)k);
        }
    }
}

static verge_status verge_densify_invoke(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    verge_tensor *output = verge_node_output(ctx, node, 0);
    densify_layout layout;
    densify_walk walk = {0};

    if (output->bytes == 0)
        return VERGE_OK;

    /* All-zero bytes are +0.0 in both float32 and float16. */
    memset(output->data, 0, output->bytes);

    densify_layout_read(input, &layout);
    walk.layout = &layout;
    walk.sparsity = input->sparsity;
    walk.values = input->data;
    walk.dense = output->data;
    walk.element_size = verge_dtype_size(input->dtype);
    densify_visit(&walk, 0, 0);
    return VERGE_OK;
}

const verge_kernel verge_densify_kernel = {
    .op = VERGE_OP_DENSIFY,
    .dtypes = "float32, float16",
    .prepare = verge_densify_prepare,
    .invoke = verge_densify_invoke,
};
