/*
 * A small fixture for kernel tests: builds one node over hand-made tensors,
 * runs its registered kernel's prepare and invoke, and owns the output
 * buffers.
 *
 *     op_test t;
 *     op_test_init(&t, VERGE_OP_ADD);
 *     op_test_input(&t, VERGE_DTYPE_FLOAT32, 4, (int32_t[]){1, 2, 2, 3}, a, VERGE_STORAGE_ARENA);
 *     op_test_input(&t, VERGE_DTYPE_FLOAT32, 1, (int32_t[]){3}, b, VERGE_STORAGE_CONSTANT);
 *     op_test_output(&t);
 *     CHECK_OK(op_test_run(&t));
 *     const float *y = op_test_out(&t)->data;
 *     op_test_free(&t);
 *
 * Input data is borrowed: it must stay alive until op_test_free().
 */
#ifndef VERGE_TESTS_OPS_OP_TEST_H
#define VERGE_TESTS_OPS_OP_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

enum { OP_TEST_MAX_TENSORS = 16 };

typedef struct op_test {
    verge_tensor tensors[OP_TEST_MAX_TENSORS];
    int32_t inputs[OP_TEST_MAX_TENSORS];
    int32_t outputs[2];
    int num_tensors;
    verge_node node;
    verge_op_context ctx;
    const verge_kernel *kernel;
} op_test;

static inline void op_test_init(op_test *t, int op)
{
    memset(t, 0, sizeof(*t));
    t->node.op = op;
    t->node.version = 1;
    t->node.inputs = t->inputs;
    t->node.outputs = t->outputs;
    t->ctx.tensors = t->tensors;
    t->kernel = verge_kernel_find(op, NULL);
}

static inline verge_tensor *op_test_new_tensor(op_test *t, verge_dtype dtype, int rank,
                                               const int32_t *dims, const void *data,
                                               verge_tensor_storage storage)
{
    verge_tensor *tensor = &t->tensors[t->num_tensors++];
    size_t bytes = verge_dtype_size(dtype);

    tensor->name = "test";
    tensor->dtype = dtype;
    tensor->rank = rank;
    for (int i = 0; i < rank; i++) {
        tensor->dims[i] = dims[i];
        bytes *= (size_t)dims[i];
    }
    tensor->data = (void *)data;
    tensor->bytes = bytes;
    tensor->storage = storage;
    t->ctx.num_tensors = t->num_tensors;
    return tensor;
}

/* Appends an input tensor and returns it (for setting quantization or sparsity). */
static inline verge_tensor *op_test_input(op_test *t, verge_dtype dtype, int rank,
                                          const int32_t *dims, const void *data,
                                          verge_tensor_storage storage)
{
    t->inputs[t->node.num_inputs++] = t->num_tensors;
    return op_test_new_tensor(t, dtype, rank, dims, data, storage);
}

static inline verge_tensor *op_test_input_f32(op_test *t, int rank, const int32_t *dims,
                                              const float *data)
{
    return op_test_input(t, VERGE_DTYPE_FLOAT32, rank, dims, data, VERGE_STORAGE_ARENA);
}

/* Appends an absent optional input. */
static inline void op_test_no_input(op_test *t)
{
    t->inputs[t->node.num_inputs++] = VERGE_NO_TENSOR;
}

/* Appends the output tensor; prepare gives it a shape. */
static inline void op_test_output(op_test *t)
{
    t->outputs[t->node.num_outputs++] = t->num_tensors;
    op_test_new_tensor(t, VERGE_DTYPE_INT8, 0, NULL, NULL, VERGE_STORAGE_ARENA);
    t->tensors[t->outputs[t->node.num_outputs - 1]].name = "output";
}

static inline verge_tensor *op_test_out(op_test *t)
{
    return &t->tensors[t->outputs[0]];
}

static inline verge_status op_test_prepare(op_test *t)
{
    if (t->kernel == NULL)
        return VERGE_STATUS_NOT_FOUND;
    return t->kernel->prepare(&t->ctx, &t->node);
}

/*
 * Prepares, allocates the outputs (filled with a NaN pattern, so unwritten
 * cells show up) and invokes.
 */
static inline verge_status op_test_run(op_test *t)
{
    verge_status status = op_test_prepare(t);

    if (status != VERGE_OK)
        return status;
    for (int o = 0; o < t->node.num_outputs; o++) {
        verge_tensor *out = &t->tensors[t->outputs[o]];

        out->data = malloc(out->bytes ? out->bytes : 1);
        if (out->data == NULL)
            return VERGE_STATUS_OUT_OF_MEMORY;
        memset(out->data, 0xff, out->bytes);
    }
    return t->kernel->invoke(&t->ctx, &t->node);
}

static inline void op_test_free(op_test *t)
{
    if (t->ctx.node_data != NULL && t->kernel != NULL) {
        if (t->kernel->release != NULL)
            t->kernel->release(t->ctx.node_data);
        else
            free(t->ctx.node_data);
        t->ctx.node_data = NULL;
    }
    for (int o = 0; o < t->node.num_outputs; o++) {
        free(t->tensors[t->outputs[o]].data);
        t->tensors[t->outputs[o]].data = NULL;
    }
}

/* Returns true when the output has exactly the given shape. */
static inline bool op_test_shape_is(op_test *t, int rank, const int32_t *dims)
{
    const verge_tensor *out = op_test_out(t);

    if (out->rank != rank)
        return false;
    for (int i = 0; i < rank; i++) {
        if (out->dims[i] != dims[i])
            return false;
    }
    return true;
}

#endif
