/* EXPAND_DIMS and SQUEEZE: positive and negative axes, repeats, defaults and errors. */
#include "check.h"
#include "ops/op_test.h"

static const float values[6] = {1, 2, 3, 4, 5, 6};

/* Runs EXPAND_DIMS on `values` of shape dims with an int32 or int64 axis and checks the copy. */
static void expand_dims_check(int rank, const int32_t *dims, int64_t axis, bool axis_int64,
                              int out_rank, const int32_t *out_dims)
{
    int32_t axis32[1] = {(int32_t)axis};
    int64_t axis64[1] = {axis};
    op_test t;

    op_test_init(&t, VERGE_OP_EXPAND_DIMS);
    op_test_input_f32(&t, rank, dims, values);
    if (axis_int64)
        op_test_input(&t, VERGE_DTYPE_INT64, 0, NULL, axis64, VERGE_STORAGE_CONSTANT);
    else
        op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){1}, axis32, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_MSG(op_test_shape_is(&t, out_rank, out_dims), "axis %lld: output rank %d",
              (long long)axis, op_test_out(&t)->rank);
    for (size_t i = 0; i < verge_tensor_count(op_test_out(&t)); i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], values[i], 0);
    op_test_free(&t);
}

static void expand_dims_axes(void)
{
    const int32_t dims[2] = {2, 3};

    expand_dims_check(2, dims, 0, false, 3, (int32_t[]){1, 2, 3});
    expand_dims_check(2, dims, 1, false, 3, (int32_t[]){2, 1, 3});
    expand_dims_check(2, dims, 2, true, 3, (int32_t[]){2, 3, 1});
    /* Negative axes count from the end of the output: -1 appends, -3 prepends. */
    expand_dims_check(2, dims, -1, false, 3, (int32_t[]){2, 3, 1});
    expand_dims_check(2, dims, -2, true, 3, (int32_t[]){2, 1, 3});
    expand_dims_check(2, dims, -3, false, 3, (int32_t[]){1, 2, 3});
    /* The zoo's [1,1,1] with axis -3, and a scalar made a vector. */
    expand_dims_check(3, (int32_t[]){1, 1, 1}, -3, false, 4, (int32_t[]){1, 1, 1, 1});
    expand_dims_check(0, NULL, 0, false, 1, (int32_t[]){1});
    /* Up to rank 6. */
    expand_dims_check(5, (int32_t[]){1, 2, 1, 3, 1}, 5, false, 6, (int32_t[]){1, 2, 1, 3, 1, 1});
}

static void expand_dims_prepare_errors(void)
{
    static float dummy[6];
    int32_t axis[2] = {3, 0};
    int32_t negative[1] = {-4};
    float float_axis[1] = {0};
    op_test t;

    /* Axis outside [-(rank + 1), rank] for rank 2. */
    op_test_init(&t, VERGE_OP_EXPAND_DIMS);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT32, 0, NULL, axis, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "3") != NULL, "message: %s", verge_error_message());

    op_test_init(&t, VERGE_OP_EXPAND_DIMS);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT32, 0, NULL, negative, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* Two axis values. */
    op_test_init(&t, VERGE_OP_EXPAND_DIMS);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, axis, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* An axis computed at run time. */
    op_test_init(&t, VERGE_OP_EXPAND_DIMS);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT32, 0, NULL, axis + 1, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "axis") != NULL, "message: %s",
              verge_error_message());

    op_test_init(&t, VERGE_OP_EXPAND_DIMS);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 0, NULL, float_axis, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* A rank-6 input has no room for another dimension. */
    op_test_init(&t, VERGE_OP_EXPAND_DIMS);
    op_test_input_f32(&t, 6, (int32_t[]){1, 1, 1, 1, 2, 3}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT32, 0, NULL, axis + 1, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

    op_test_init(&t, VERGE_OP_EXPAND_DIMS);
    op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){6}, dummy, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT32, 0, NULL, axis + 1, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
}

/* Runs SQUEEZE on `values` of shape dims with the given squeeze_dims. */
static verge_status squeeze_run(op_test *t, int rank, const int32_t *dims, int num_squeeze,
                                const int32_t *squeeze)
{
    op_test_init(t, VERGE_OP_SQUEEZE);
    t->node.params.squeeze.num_dims = num_squeeze;
    for (int i = 0; i < num_squeeze; i++)
        t->node.params.squeeze.dims[i] = squeeze[i];
    op_test_input_f32(t, rank, dims, values);
    op_test_output(t);
    return op_test_run(t);
}

static void squeeze_dims_cases(void)
{
    const int32_t dims[5] = {1, 2, 1, 3, 1};
    op_test t;

    /* No squeeze_dims: every size-1 dimension goes. */
    CHECK_OK(squeeze_run(&t, 5, dims, 0, NULL));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 3}));
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], values[i], 0);
    op_test_free(&t);

    CHECK_OK(squeeze_run(&t, 5, dims, 1, (int32_t[]){2}));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 3, 1}));
    op_test_free(&t);

    /* Negative dims count from the end; repeats count once. */
    CHECK_OK(squeeze_run(&t, 5, dims, 2, (int32_t[]){-1, 0}));
    CHECK(op_test_shape_is(&t, 3, (int32_t[]){2, 1, 3}));
    op_test_free(&t);

    CHECK_OK(squeeze_run(&t, 5, dims, 4, (int32_t[]){4, -1, -5, 0}));
    CHECK(op_test_shape_is(&t, 3, (int32_t[]){2, 1, 3}));
    op_test_free(&t);

    /* The zoo's [1,1,1,257] squeezed at dim 1 and an all-ones shape squeezed to a scalar. */
    static float row[257];
    op_test_init(&t, VERGE_OP_SQUEEZE);
    t.node.params.squeeze.num_dims = 1;
    t.node.params.squeeze.dims[0] = 1;
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, 1, 257}, row);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 3, (int32_t[]){1, 1, 257}));
    op_test_free(&t);

    CHECK_OK(squeeze_run(&t, 3, (int32_t[]){1, 1, 1}, 0, NULL));
    CHECK_EQ_INT(op_test_out(&t)->rank, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 1, 0);
    op_test_free(&t);
}

static void squeeze_prepare_errors(void)
{
    static int8_t quantized[6];
    const int32_t dims[3] = {1, 6, 1};
    op_test t;

    /* Dimension 1 has size 6. */
    CHECK_STATUS(squeeze_run(&t, 3, dims, 1, (int32_t[]){1}), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[1,6,1]") != NULL, "message: %s",
              verge_error_message());
    op_test_free(&t);

    CHECK_STATUS(squeeze_run(&t, 3, dims, 1, (int32_t[]){3}), VERGE_STATUS_INVALID_MODEL);
    op_test_free(&t);
    CHECK_STATUS(squeeze_run(&t, 3, dims, 1, (int32_t[]){-4}), VERGE_STATUS_INVALID_MODEL);
    op_test_free(&t);
    CHECK_STATUS(squeeze_run(&t, 3, dims, -1, NULL), VERGE_STATUS_INVALID_MODEL);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_SQUEEZE);
    t.node.params.squeeze.num_dims = VERGE_MAX_RANK + 1;
    op_test_input_f32(&t, 3, dims, values);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_SQUEEZE);
    op_test_input(&t, VERGE_DTYPE_INT8, 3, dims, quantized, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
}

int main(void)
{
    RUN(expand_dims_axes);
    RUN(expand_dims_prepare_errors);
    RUN(squeeze_dims_cases);
    RUN(squeeze_prepare_errors);
    return check_summary();
}
