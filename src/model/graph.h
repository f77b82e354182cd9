/*
 * The in-memory model: a format-independent graph of tensors and nodes.
 *
 * A loader (TFLite today) verifies a file completely and builds a verge_model.
 * After that, every index in a node is a valid tensor index, every constant's
 * data lies inside memory the model owns and has exactly `bytes` bytes, and
 * every parameter is in its documented range. The interpreter relies on this
 * and does not check again.
 */
#ifndef VERGE_MODEL_GRAPH_H
#define VERGE_MODEL_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "ops/params.h"
#include "verge/tensor.h"

/* Optional node inputs are marked with this tensor index, as in TFLite. */
#define VERGE_NO_TENSOR (-1)

/* One dimension of a sparse tensor in TFLite's TACO-based encoding. */
typedef struct verge_sparse_dim {
    int format;              /* 0 = dense, 1 = sparse CSR */
    int32_t dense_size;      /* dense dimensions only */
    int32_t *segments;       /* sparse: num_segments entries, non-decreasing */
    int32_t *indices;        /* sparse: num_indices entries */
    size_t num_segments;
    size_t num_indices;
} verge_sparse_dim;

/*
 * Sparse constant (TFLite SparsityParameters). Dimensions are listed in
 * traversal order: the first `rank` entries of traversal_order permute the
 * dense dimensions, the remaining `num_dims - rank` traverse the blocks, and
 * block_map[k] names the dense dimension that block dimension k subdivides.
 * Index arrays are widened to int32 at load time. The loader checks that
 * every segment and index stays inside the dense shape. A sparse tensor's
 * data holds only the stored values, so its `bytes` is num_values * element
 * size, not the size of the dense shape.
 */
struct verge_sparsity {
    int num_dims;                            /* rank + number of block dimensions */
    int32_t traversal_order[2 * VERGE_MAX_RANK];
    int num_block_dims;
    int32_t block_map[VERGE_MAX_RANK];
    verge_sparse_dim dims[2 * VERGE_MAX_RANK];
    size_t num_values;      /* values stored in the tensor's data: its `bytes` / element size */
};

typedef struct verge_node {
    int op;                         /* a verge_op code */
    int version;                    /* the operator version given in the file */
    const char *custom_name;        /* VERGE_OP_CUSTOM only, else NULL */
    int num_inputs;
    int num_outputs;
    int32_t *inputs;                /* tensor indices or VERGE_NO_TENSOR */
    int32_t *outputs;               /* tensor indices */
    verge_op_params params;
    const uint8_t *custom_options;  /* raw custom options (may be NULL) */
    size_t custom_options_size;
} verge_node;

typedef struct verge_graph {
    const char *name;
    int num_tensors;
    verge_tensor *tensors;
    int num_nodes;
    verge_node *nodes;              /* in execution order */
    int num_inputs;
    int32_t *inputs;
    int num_outputs;
    int32_t *outputs;
} verge_graph;

struct verge_model {
    char *path;                     /* as given to verge_model_load, for messages */
    const uint8_t *file;            /* the mapped or copied file */
    size_t file_size;
    int file_mapped;                /* 1: munmap on free, 0: free() */
    uint32_t format_version;        /* TFLite schema version */
    const char *description;
    int num_graphs;
    verge_graph *graphs;            /* graphs[0] is the main graph */
    void *storage;                  /* loader-owned allocations (see model_storage.c) */
};

#endif
