/* RELU, RELU6 and RELU_N1_TO_1: clamps on every element, shape kept, int8 rejected. */
#include "check.h"
#include "ops/op_test.h"

static const float inputs[8] = {-INFINITY, -7, -1, -0.5f, 0, 0.5f, 1.5f, 7};

static void run_clamp(int op, const float *expected)
{
    op_test t;

    op_test_init(&t, op);
    op_test_input_f32(&t, 3, (int32_t[]){2, 2, 2}, inputs);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 3, (int32_t[]){2, 2, 2}));
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);
}

static void relu_clamps_below_zero(void)
{
    run_clamp(VERGE_OP_RELU, (const float[]){0, 0, 0, 0, 0, 0.5f, 1.5f, 7});
}

static void relu6_clamps_to_six(void)
{
    run_clamp(VERGE_OP_RELU6, (const float[]){0, 0, 0, 0, 0, 0.5f, 1.5f, 6});
}

static void relu_n1_to_1_clamps(void)
{
    run_clamp(VERGE_OP_RELU_N1_TO_1, (const float[]){-1, -1, -1, -0.5f, 0, 0.5f, 1, 1});
}

static void relu_rejects_int8(void)
{
    static int8_t data[4];
    static const int ops[] = {VERGE_OP_RELU, VERGE_OP_RELU6, VERGE_OP_RELU_N1_TO_1};

    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        op_test t;

        op_test_init(&t, ops[i]);
        op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){4}, data, VERGE_STORAGE_ARENA);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
        CHECK_MSG(strstr(verge_error_message(), "int8") != NULL, "message: %s",
                  verge_error_message());
    }
}

int main(void)
{
    RUN(relu_clamps_below_zero);
    RUN(relu6_clamps_to_six);
    RUN(relu_n1_to_1_clamps);
    RUN(relu_rejects_int8);
    return check_summary();
}
