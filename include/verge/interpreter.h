/*
 * Running a model.
 *
 * verge_interpreter_create() prepares a model once: it resolves a kernel for
 * every operator, checks and propagates shapes, expands constant subgraphs
 * (float16 weights behind DEQUANTIZE, sparse weights behind DENSIFY), merges
 * an ADD, a RELU and a channel-appending PAD into the convolution before
 * them where the result keeps every bit (the environment variable
 * VERGE_FUSE=0 turns that off) and plans one arena for all activations from
 * tensor lifetimes. After that, verge_interpreter_invoke() runs the graph
 * without allocating.
 *
 * Typical use:
 *
 *     verge_interpreter *it;
 *     if (verge_interpreter_create(model, NULL, &it) != VERGE_OK)
 *         fprintf(stderr, "%s\n", verge_error_message());
 *     verge_tensor *in = verge_interpreter_input(it, 0);
 *     memcpy(in->data, pixels, in->bytes);
 *     verge_interpreter_invoke(it);
 *     const verge_tensor *out = verge_interpreter_output(it, 0);
 */
#ifndef VERGE_INTERPRETER_H
#define VERGE_INTERPRETER_H

#include <stddef.h>
#include <stdint.h>

#include "verge/model.h"
#include "verge/status.h"
#include "verge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct verge_interpreter verge_interpreter;

/* A shape for one model input, replacing the one in the file. */
typedef struct verge_input_shape {
    int index;                       /* input index, 0-based, model order */
    int rank;                        /* 0..VERGE_MAX_RANK */
    int32_t dims[VERGE_MAX_RANK];    /* each >= 0 */
} verge_input_shape;

typedef struct verge_interpreter_options {
    /*
     * Threads that run the operators, the caller's included: 0 or 1 runs
     * on the caller's thread only, N > 1 (at most 256) starts N - 1 workers
     * that sleep between inferences. CONV_2D, DEPTHWISE_CONV_2D and
     * FULLY_CONNECTED split their outputs among them; results are the same,
     * bit for bit, for any thread count.
     */
    int threads;
    size_t max_arena_bytes;  /* cap on the activation arena; 0 selects VERGE_DEFAULT_MAX_ARENA */
    const verge_input_shape *input_shapes; /* shapes to use instead of the file's; may be NULL */
    int num_input_shapes;
} verge_interpreter_options;

/* Default cap on the activation arena: 1 GiB, far above any edge model. */
#define VERGE_DEFAULT_MAX_ARENA ((size_t)1 << 30)

/*
 * Prepares `model` for execution. `options` may be NULL for defaults.
 * Returns VERGE_OK; VERGE_STATUS_INVALID_ARGUMENT for a thread count out of
 * range; VERGE_STATUS_UNSUPPORTED naming the first operator this
 * build cannot run (its node index, operator name and the reason);
 * VERGE_STATUS_INVALID_MODEL when shapes do not fit together;
 * VERGE_STATUS_OUT_OF_MEMORY when the arena passes the cap or allocation fails.
 */
verge_status verge_interpreter_create(const verge_model *model,
                                      const verge_interpreter_options *options,
                                      verge_interpreter **interpreter);

/*
 * Changes the shape of input `index` and prepares the graph again: shapes
 * are propagated through every node and the arena is planned anew, so
 * tensor data pointers change. On failure (for example a RESHAPE whose
 * target no longer fits, named in the message) the interpreter keeps its
 * previous shapes. Returns VERGE_OK, VERGE_STATUS_INVALID_ARGUMENT,
 * VERGE_STATUS_INVALID_MODEL, VERGE_STATUS_UNSUPPORTED or
 * VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_interpreter_resize_input(verge_interpreter *interpreter, int index, int rank,
                                            const int32_t *dims);

/* The node where a create, resize or invoke failed. */
typedef struct verge_node_failure {
    int graph;         /* 0: the main graph; > 0: an IF branch; -1: the failure was not at a node */
    int node;          /* node index in that graph; -1 with graph -1 */
    char reason[512];  /* the node's own message, without the model path and node in front */
} verge_node_failure;

/*
 * Reports where the last verge_interpreter_create(),
 * verge_interpreter_resize_input() or verge_interpreter_invoke() of the
 * calling thread stopped, when it failed at a node. Inside an IF branch this
 * is the branch's node, not the IF. verge_error_message() has the full text.
 */
void verge_interpreter_last_failure(verge_node_failure *failure);

/* Frees an interpreter. NULL is allowed. The model must outlive it. */
void verge_interpreter_destroy(verge_interpreter *interpreter);

int verge_interpreter_input_count(const verge_interpreter *interpreter);
int verge_interpreter_output_count(const verge_interpreter *interpreter);

/* Returns input `index` (0-based, model order), whose data the caller fills; NULL if out of range. */
verge_tensor *verge_interpreter_input(verge_interpreter *interpreter, int index);

/* Returns output `index`, valid until the next invoke; NULL if out of range. */
const verge_tensor *verge_interpreter_output(const verge_interpreter *interpreter, int index);

/* One node's run, as reported to a profiling hook. */
typedef struct verge_node_timing {
    int graph;                       /* 0: the main graph; > 0: a subgraph (an IF branch) */
    int node;                        /* index of the node in that graph */
    const struct verge_node *op;     /* the node (see src/model/graph.h) */
    const verge_tensor *tensors;     /* that graph's tensors, with their prepared shapes */
    uint64_t ns;                     /* wall-clock time of the node's kernel, in nanoseconds */
} verge_node_timing;

typedef void (*verge_profile_hook)(void *user, const verge_node_timing *timing);

/*
 * Sets a hook that verge_interpreter_invoke() calls after each operator
 * node it runs, on the invoking thread, with the node's time. An IF node is
 * not reported itself; the nodes of the branch it takes are. A NULL hook
 * turns profiling off; the clock is read only while a hook is set.
 */
void verge_interpreter_set_profile_hook(verge_interpreter *interpreter, verge_profile_hook hook,
                                        void *user);

/* Returns the size in bytes of the planned activation arena. */
size_t verge_interpreter_arena_size(const verge_interpreter *interpreter);

/*
 * Runs the graph once on the current input data. Inputs are left unchanged,
 * so invoking again without refilling them gives the same outputs.
 */
verge_status verge_interpreter_invoke(verge_interpreter *interpreter);

#ifdef __cplusplus
}
#endif

#endif
