/* RESHAPE: shape from the input tensor or the options, -1 inference, legacy scalar, errors. */
#include "check.h"
#include "ops/op_test.h"

static const float values[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

static void reshape_from_shape_input_with_minus1(void)
{
    int32_t shape[3] = {2, -1, 3};
    op_test t;

    op_test_init(&t, VERGE_OP_RESHAPE);
    op_test_input_f32(&t, 2, (int32_t[]){3, 4}, values);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){3}, shape, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 3, (int32_t[]){2, 2, 3}));
    CHECK_EQ_INT(op_test_out(&t)->bytes, 48);
    for (int i = 0; i < 12; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], values[i], 0);
    op_test_free(&t);
}

static void reshape_from_options(void)
{
    op_test t;

    op_test_init(&t, VERGE_OP_RESHAPE);
    t.node.params.reshape = (verge_reshape_params){.has_shape = true, .rank = 2, .shape = {-1, 6}};
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 3}, values);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 6}));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[11], 11, 0);
    op_test_free(&t);
}

static void reshape_shape_input_wins_over_options(void)
{
    int32_t shape[2] = {6, 2};
    op_test t;

    op_test_init(&t, VERGE_OP_RESHAPE);
    t.node.params.reshape = (verge_reshape_params){.has_shape = true, .rank = 2, .shape = {2, 6}};
    op_test_input_f32(&t, 1, (int32_t[]){12}, values);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, shape, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_prepare(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){6, 2}));

    /* A shape computed at run time falls back to the options. */
    t.tensors[t.inputs[1]].storage = VERGE_STORAGE_ARENA;
    CHECK_OK(op_test_prepare(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 6}));

    /* ...and without options it cannot be sized. */
    t.node.params.reshape.has_shape = false;
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
}

static void reshape_to_scalar(void)
{
    float one[1] = {42};
    op_test t;

    /* Old converters wrote new_shape [0] for a scalar. */
    op_test_init(&t, VERGE_OP_RESHAPE);
    t.node.params.reshape = (verge_reshape_params){.has_shape = true, .rank = 1, .shape = {0}};
    op_test_input_f32(&t, 2, (int32_t[]){1, 1}, one);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(op_test_out(&t)->rank, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 42, 0);
    op_test_free(&t);
}

static verge_status reshape_prepare_option(int rank, const int32_t *dims, int target_rank,
                                           const int32_t *target)
{
    op_test t;

    op_test_init(&t, VERGE_OP_RESHAPE);
    t.node.params.reshape.has_shape = true;
    t.node.params.reshape.rank = target_rank;
    memcpy(t.node.params.reshape.shape, target, sizeof(int32_t) * (size_t)target_rank);
    op_test_input_f32(&t, rank, dims, values);
    op_test_output(&t);
    return op_test_prepare(&t);
}

static void reshape_prepare_errors(void)
{
    op_test t;

    CHECK_STATUS(reshape_prepare_option(2, (int32_t[]){3, 4}, 2, (int32_t[]){5, 2}),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[5,2]") != NULL &&
                  strstr(verge_error_message(), "[3,4]") != NULL,
              "message: %s", verge_error_message());
    CHECK_STATUS(reshape_prepare_option(2, (int32_t[]){3, 4}, 2, (int32_t[]){-1, -1}),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_STATUS(reshape_prepare_option(2, (int32_t[]){3, 4}, 2, (int32_t[]){-1, 5}),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_STATUS(reshape_prepare_option(2, (int32_t[]){3, 4}, 2, (int32_t[]){-2, 6}),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_STATUS(reshape_prepare_option(2, (int32_t[]){3, 4}, 2, (int32_t[]){0, -1}),
                 VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_RESHAPE);
    op_test_input_f32(&t, 2, (int32_t[]){3, 4}, values);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* Any dtype with a fixed element size reshapes (IF conditions are bool); strings do not. */
    op_test_init(&t, VERGE_OP_RESHAPE);
    t.node.params.reshape = (verge_reshape_params){.has_shape = true, .rank = 1, .shape = {-1}};
    op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){3, 4}, values, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_OK(op_test_prepare(&t));
    CHECK_EQ_INT(op_test_out(&t)->dtype, VERGE_DTYPE_INT8);
    CHECK_EQ_INT(op_test_out(&t)->dims[0], 12);

    op_test_init(&t, VERGE_OP_RESHAPE);
    t.node.params.reshape = (verge_reshape_params){.has_shape = true, .rank = 1, .shape = {-1}};
    op_test_input(&t, VERGE_DTYPE_STRING, 2, (int32_t[]){3, 4}, values, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "string") != NULL, "message: %s",
              verge_error_message());
}

int main(void)
{
    RUN(reshape_from_shape_input_with_minus1);
    RUN(reshape_from_options);
    RUN(reshape_shape_input_wins_over_options);
    RUN(reshape_to_scalar);
    RUN(reshape_prepare_errors);
    return check_summary();
}
