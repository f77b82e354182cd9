/* The kernel registry and verge_tensor_set_shape. */
#include "check.h"
#include "ops/op_test.h"

static void registry_lists_every_kernel(void)
{
    static const int expected_ops[] = {
        VERGE_OP_ADD, VERGE_OP_AVERAGE_POOL_2D, VERGE_OP_BATCH_MATMUL, VERGE_OP_CONCATENATION,
        VERGE_OP_CONV_2D, VERGE_OP_DENSIFY, VERGE_OP_DEPTH_TO_SPACE, VERGE_OP_DEPTHWISE_CONV_2D,
        VERGE_OP_DEQUANTIZE, VERGE_OP_EXPAND_DIMS, VERGE_OP_FULLY_CONNECTED,
        VERGE_OP_GREATER_EQUAL, VERGE_OP_HARD_SWISH, VERGE_OP_LEAKY_RELU, VERGE_OP_LOG,
        VERGE_OP_LOGISTIC, VERGE_OP_MAX_POOL_2D, VERGE_OP_MAXIMUM, VERGE_OP_MEAN,
        VERGE_OP_MINIMUM, VERGE_OP_MUL, VERGE_OP_PAD, VERGE_OP_PRELU, VERGE_OP_REDUCE_MAX,
        VERGE_OP_RELU, VERGE_OP_RELU6, VERGE_OP_RELU_N1_TO_1, VERGE_OP_RESHAPE,
        VERGE_OP_RESIZE_BILINEAR, VERGE_OP_RSQRT, VERGE_OP_SOFTMAX, VERGE_OP_SQUEEZE,
        VERGE_OP_SUB, VERGE_OP_TRANSPOSE,
    };
    /* Custom operators, found by their custom code. */
    static const char *const expected_custom[] = {"Convolution2DTransposeBias"};
    size_t count = 0;

    for (size_t i = 0; verge_kernel_at(i) != NULL; i++) {
        const verge_kernel *kernel = verge_kernel_at(i);

        count++;
        CHECK_MSG(kernel->prepare != NULL && kernel->invoke != NULL, "entry %zu", i);
        CHECK_MSG(kernel->dtypes != NULL && kernel->dtypes[0] != '\0', "entry %zu", i);
        CHECK_MSG(verge_op_name(kernel->op) != NULL, "entry %zu has op %d", i, kernel->op);
        /* Each builtin appears once, so verge_kernel_find returns this entry. */
        CHECK(verge_kernel_find(kernel->op, kernel->custom_name) == kernel);
    }
    CHECK_EQ_INT(count, sizeof(expected_ops) / sizeof(expected_ops[0]) +
                            sizeof(expected_custom) / sizeof(expected_custom[0]));
    for (size_t i = 0; i < sizeof(expected_ops) / sizeof(expected_ops[0]); i++)
        CHECK_MSG(verge_kernel_find(expected_ops[i], NULL) != NULL, "no kernel for %s",
                  verge_op_name(expected_ops[i]));
    for (size_t i = 0; i < sizeof(expected_custom) / sizeof(expected_custom[0]); i++)
        CHECK_MSG(verge_kernel_find(VERGE_OP_CUSTOM, expected_custom[i]) != NULL,
                  "no kernel for custom operator %s", expected_custom[i]);
}

static void registry_misses_are_null(void)
{
    CHECK(verge_kernel_find(16 /* LSTM */, NULL) == NULL);
    CHECK(verge_kernel_find(-1, NULL) == NULL);
    CHECK(verge_kernel_find(VERGE_OP_CUSTOM, "NoSuchOp") == NULL);
    CHECK(verge_kernel_find(VERGE_OP_CUSTOM, NULL) == NULL);
    CHECK(verge_kernel_at((size_t)-1) == NULL);
}

static void set_shape_computes_bytes(void)
{
    verge_tensor tensor = {.name = "x"};

    CHECK_OK(verge_tensor_set_shape(&tensor, VERGE_DTYPE_FLOAT32, 4, (int32_t[]){1, 2, 3, 4}));
    CHECK_EQ_INT(tensor.rank, 4);
    CHECK_EQ_INT(tensor.dims[3], 4);
    CHECK_EQ_INT(tensor.bytes, 96);
    CHECK_EQ_INT(tensor.dtype, VERGE_DTYPE_FLOAT32);

    CHECK_OK(verge_tensor_set_shape(&tensor, VERGE_DTYPE_FLOAT16, 0, NULL));
    CHECK_EQ_INT(tensor.rank, 0);
    CHECK_EQ_INT(tensor.bytes, 2);
    CHECK_EQ_INT(tensor.dims[0], 0);

    CHECK_OK(verge_tensor_set_shape(&tensor, VERGE_DTYPE_INT8, 2, (int32_t[]){0, 5}));
    CHECK_EQ_INT(tensor.bytes, 0);
}

static void set_shape_rejects_bad_shapes(void)
{
    verge_tensor tensor = {.name = "x"};
    const int32_t big[6] = {INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX};

    CHECK_OK(verge_tensor_set_shape(&tensor, VERGE_DTYPE_FLOAT32, 1, (int32_t[]){3}));
    CHECK_STATUS(verge_tensor_set_shape(&tensor, VERGE_DTYPE_FLOAT32, 2, (int32_t[]){2, -1}),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[2,-1]") != NULL, "message: %s",
              verge_error_message());
    CHECK_STATUS(verge_tensor_set_shape(&tensor, VERGE_DTYPE_FLOAT32, VERGE_MAX_RANK + 1, big),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_STATUS(verge_tensor_set_shape(&tensor, VERGE_DTYPE_FLOAT32, -1, big),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_STATUS(verge_tensor_set_shape(&tensor, VERGE_DTYPE_FLOAT32, 6, big),
                 VERGE_STATUS_INVALID_MODEL);

    /* A failed call leaves the tensor as it was. */
    CHECK_EQ_INT(tensor.rank, 1);
    CHECK_EQ_INT(tensor.dims[0], 3);
    CHECK_EQ_INT(tensor.bytes, 12);
}

int main(void)
{
    RUN(registry_lists_every_kernel);
    RUN(registry_misses_are_null);
    RUN(set_shape_computes_bytes);
    RUN(set_shape_rejects_bad_shapes);
    return check_summary();
}
