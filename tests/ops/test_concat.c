/* CONCATENATION: every axis, negative axes, three inputs, fused activation, errors. */
#include "check.h"
#include "ops/op_test.h"

static void concat_last_axis_negative(void)
{
    /* [2,2] and [2,1] along axis -1 -> [2,3]. */
    float a[4] = {1, 2, 3, 4};
    float b[2] = {10, 20};
    const float expected[6] = {1, 2, 10, 3, 4, 20};
    op_test t;

    op_test_init(&t, VERGE_OP_CONCATENATION);
    t.node.params.concat.axis = -1;
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, a);
    op_test_input_f32(&t, 2, (int32_t[]){2, 1}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 3}));
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);
}

static void concat_three_inputs_middle_axis(void)
{
    /* [1,1,2], [1,2,2], [1,1,2] along axis 1 (also written -2) -> [1,4,2]. */
    float a[2] = {1, 2}, b[4] = {3, 4, 5, 6}, c[2] = {7, 8};

    for (int axis = 1; axis >= -2; axis -= 3) {
        op_test t;

        op_test_init(&t, VERGE_OP_CONCATENATION);
        t.node.params.concat.axis = axis;
        op_test_input_f32(&t, 3, (int32_t[]){1, 1, 2}, a);
        op_test_input_f32(&t, 3, (int32_t[]){1, 2, 2}, b);
        op_test_input_f32(&t, 3, (int32_t[]){1, 1, 2}, c);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        CHECK(op_test_shape_is(&t, 3, (int32_t[]){1, 4, 2}));
        for (int i = 0; i < 8; i++)
            CHECK_NEAR(((float *)op_test_out(&t)->data)[i], i + 1, 0);
        op_test_free(&t);
    }
}

static void concat_first_axis_with_relu6(void)
{
    /* [1,3] and [2,3] along axis 0 -> [3,3], clamped to [0, 6]. */
    float a[3] = {-1, 3, 9};
    float b[6] = {0.5f, -2, 6.5f, 4, 5, 6};
    const float expected[9] = {0, 3, 6, 0.5f, 0, 6, 4, 5, 6};
    op_test t;

    op_test_init(&t, VERGE_OP_CONCATENATION);
    t.node.params.concat.axis = 0;
    t.node.params.concat.activation = VERGE_ACT_RELU6;
    op_test_input_f32(&t, 2, (int32_t[]){1, 3}, a);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){3, 3}));
    for (int i = 0; i < 9; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);
}

static void concat_nhwc_channels_with_tanh(void)
{
    /* [1,2,1,1] and [1,2,1,2] along channels (axis 3) -> [1,2,1,3], then tanh. */
    float a[2] = {0.5f, -0.5f};
    float b[4] = {1, 2, -1, -2};
    const double expected[6] = {tanh(0.5), tanh(1), tanh(2), tanh(-0.5), tanh(-1), tanh(-2)};
    op_test t;

    op_test_init(&t, VERGE_OP_CONCATENATION);
    t.node.params.concat.axis = 3;
    t.node.params.concat.activation = VERGE_ACT_TANH;
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 1, 1}, a);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 1, 2}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 1, 3}));
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 1e-6);
    op_test_free(&t);
}

static void concat_prepare_errors(void)
{
    static float dummy[8];
    op_test t;

    /* Other dimensions differ. */
    op_test_init(&t, VERGE_OP_CONCATENATION);
    t.node.params.concat.axis = 1;
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){3, 2}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[3,2]") != NULL, "message: %s",
              verge_error_message());

    /* Ranks differ. */
    op_test_init(&t, VERGE_OP_CONCATENATION);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){2}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* Axis out of range, both ways. */
    for (int axis = -3; axis <= 2; axis += 5) {
        op_test_init(&t, VERGE_OP_CONCATENATION);
        t.node.params.concat.axis = axis;
        op_test_input_f32(&t, 2, (int32_t[]){2, 2}, dummy);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    }

    op_test_init(&t, VERGE_OP_CONCATENATION);
    op_test_input_f32(&t, 1, (int32_t[]){2}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){2}, dummy, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "input 1") != NULL &&
                  strstr(verge_error_message(), "int8") != NULL,
              "message: %s", verge_error_message());

    op_test_init(&t, VERGE_OP_CONCATENATION);
    t.node.params.concat.activation = VERGE_ACT_SIGN_BIT;
    op_test_input_f32(&t, 1, (int32_t[]){2}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

    op_test_init(&t, VERGE_OP_CONCATENATION);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
}

int main(void)
{
    RUN(concat_last_axis_negative);
    RUN(concat_three_inputs_middle_axis);
    RUN(concat_first_axis_with_relu6);
    RUN(concat_nhwc_channels_with_tanh);
    RUN(concat_prepare_errors);
    return check_summary();
}
