/*
 * The kernel registry and the contract every operator kernel follows.
 *
 * A kernel has two steps:
 *   prepare: runs once when an interpreter is created. It checks the node
 *            completely (input count, dtypes, ranks, shapes that must agree,
 *            parameter values) and sets each output's dtype, rank, dims and
 *            bytes with verge_tensor_set_shape(). It must not read tensor
 *            data unless that input is a constant (storage CONSTANT). On
 *            failure it returns a status with a message that names the
 *            offending input and value; the interpreter prefixes the node
 *            index and operator name.
 *   invoke:  runs on every inference with all data in place. It does not
 *            re-check what prepare checked and never allocates.
 *   release: optional; frees the per-node state that prepare kept in
 *            verge_op_context.node_data.
 *
 * Every kernel registered here is the scalar reference implementation:
 * short, obvious, and the oracle against which faster paths are tested.
 * Where the CPU has a fast path (src/ops/fast.h, src/ops/fast_misc.h),
 * prepare selects it and keeps its state in node_data. VERGE_CPU=scalar
 * keeps the reference.
 */
#ifndef VERGE_OPS_OPS_H
#define VERGE_OPS_OPS_H

#include <stddef.h>

#include "core/threadpool.h"
#include "model/graph.h"
#include "ops/params.h"
#include "verge/status.h"
#include "verge/tensor.h"

typedef struct verge_op_context {
    verge_tensor *tensors; /* all tensors of the graph being run */
    int num_tensors;
    /*
     * The interpreter's worker threads, or NULL: invoke may split its work
     * with verge_threadpool_run() (NULL runs every task on the calling
     * thread). A kernel that splits must give the same bits for any thread
     * count.
     */
    verge_threadpool *pool;
    /*
     * Per-node kernel state. The interpreter sets it to NULL before prepare;
     * prepare may store an allocation here (weights packed for a fast path),
     * and every later invoke of that node finds it again, read-only. The
     * interpreter frees it with the kernel's `release` when the node is
     * prepared again or the interpreter is destroyed, also after a failed
     * prepare.
     */
    void *node_data;
} verge_op_context;

typedef struct verge_kernel {
    int op;                   /* verge_op code */
    const char *custom_name;  /* for VERGE_OP_CUSTOM, the custom code; else NULL */
    const char *dtypes;       /* supported input types, for docs: "float32" */
    verge_status (*prepare)(verge_op_context *ctx, const verge_node *node);
    verge_status (*invoke)(verge_op_context *ctx, const verge_node *node);
    void (*release)(void *node_data); /* frees what prepare stored; NULL: free() */
} verge_kernel;

/* Returns the kernel for a builtin op (custom_name NULL) or a custom op, or NULL. */
const verge_kernel *verge_kernel_find(int op, const char *custom_name);

/* Returns registry entry `index` (0-based), or NULL past the end: for listings. */
const verge_kernel *verge_kernel_at(size_t index);

/* Returns the input tensor `i` of `node`, or NULL if it is optional and absent. */
static inline verge_tensor *verge_node_input(verge_op_context *ctx, const verge_node *node, int i)
{
    int32_t t = node->inputs[i];
    return t == VERGE_NO_TENSOR ? NULL : &ctx->tensors[t];
}

static inline verge_tensor *verge_node_output(verge_op_context *ctx, const verge_node *node, int i)
{
    return &ctx->tensors[node->outputs[i]];
}

/*
 * Sets dtype, rank, dims and bytes of `tensor`. Fails with
 * VERGE_STATUS_INVALID_MODEL on a negative dimension, a rank above
 * VERGE_MAX_RANK or a byte size that overflows size_t.
 */
verge_status verge_tensor_set_shape(verge_tensor *tensor, verge_dtype dtype, int rank,
                                    const int32_t *dims);

/* Applies a fused activation to one value. */
static inline float verge_activate(float x, verge_activation act)
{
    switch (act) {
    case VERGE_ACT_NONE: return x;
    case VERGE_ACT_RELU: return x < 0.0f ? 0.0f : x;
    case VERGE_ACT_RELU_N1_TO_1: return x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x);
    case VERGE_ACT_RELU6: return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case VERGE_ACT_TANH: return __builtin_tanhf(x);
    case VERGE_ACT_SIGN_BIT: return __builtin_signbit(x) ? 1.0f : 0.0f;
    }
    return x;
}

#endif
