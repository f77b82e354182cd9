/* ADD: broadcasting across ranks and size-1 dimensions, fused activations, errors. */
#include "check.h"
#include "ops/op_test.h"

static void add_same_shape(void)
{
    float a[4] = {1, 2, 3, 4};
    float b[4] = {10, 20, 30, 40};
    op_test t;

    op_test_init(&t, VERGE_OP_ADD);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, a);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 2}));
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], a[i] + b[i], 0);
    op_test_free(&t);
}

static void add_rank1_against_rank4(void)
{
    /* A per-channel bias [3] against an NHWC activation [1,2,2,3], in both input orders. */
    float x[12], bias[3] = {100, 200, 300};

    for (int i = 0; i < 12; i++)
        x[i] = (float)i;
    for (int order = 0; order < 2; order++) {
        op_test t;

        op_test_init(&t, VERGE_OP_ADD);
        if (order == 0) {
            op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 3}, x);
            op_test_input_f32(&t, 1, (int32_t[]){3}, bias);
        } else {
            op_test_input_f32(&t, 1, (int32_t[]){3}, bias);
            op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 3}, x);
        }
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 2, 3}));
        for (int i = 0; i < 12; i++)
            CHECK_NEAR(((float *)op_test_out(&t)->data)[i], i + 100 * (i % 3 + 1), 0);
        op_test_free(&t);
    }
}

static void add_size1_dims_both_sides(void)
{
    /* [2,1,3] + [4,1] -> [2,4,3]: a repeats along dim 1, b along dims 0 and 2. */
    float a[6] = {1, 2, 3, 4, 5, 6};
    float b[4] = {10, 20, 30, 40};
    op_test t;

    op_test_init(&t, VERGE_OP_ADD);
    op_test_input_f32(&t, 3, (int32_t[]){2, 1, 3}, a);
    op_test_input_f32(&t, 2, (int32_t[]){4, 1}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 3, (int32_t[]){2, 4, 3}));
    const float *out = op_test_out(&t)->data;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++)
                CHECK_NEAR(out[(i * 4 + j) * 3 + k], a[i * 3 + k] + b[j], 0);
    op_test_free(&t);
}

static void add_rank6_and_scalar(void)
{
    /* [2,1,2,1,1,2] + [3,1,1] -> [2,1,2,3,1,2]. */
    float a[8], b[3] = {0.5f, 1.5f, 2.5f}, s[1] = {-1};
    op_test t;

    for (int i = 0; i < 8; i++)
        a[i] = (float)(i * 10);
    op_test_init(&t, VERGE_OP_ADD);
    op_test_input_f32(&t, 6, (int32_t[]){2, 1, 2, 1, 1, 2}, a);
    op_test_input_f32(&t, 3, (int32_t[]){3, 1, 1}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 6, (int32_t[]){2, 1, 2, 3, 1, 2}));
    const float *out = op_test_out(&t)->data;
    for (int i0 = 0; i0 < 2; i0++)
        for (int i2 = 0; i2 < 2; i2++)
            for (int i3 = 0; i3 < 3; i3++)
                for (int i5 = 0; i5 < 2; i5++)
                    CHECK_NEAR(out[((i0 * 2 + i2) * 3 + i3) * 2 + i5],
                               a[(i0 * 2 + i2) * 2 + i5] + b[i3], 0);
    op_test_free(&t);

    /* A rank-0 scalar broadcasts against anything. */
    op_test_init(&t, VERGE_OP_ADD);
    op_test_input_f32(&t, 0, NULL, s);
    op_test_input_f32(&t, 1, (int32_t[]){3}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 1, (int32_t[]){3}));
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], b[i] - 1, 0);
    op_test_free(&t);
}

static void add_each_activation(void)
{
    static const verge_activation acts[] = {VERGE_ACT_NONE, VERGE_ACT_RELU,
                                            VERGE_ACT_RELU_N1_TO_1, VERGE_ACT_RELU6,
                                            VERGE_ACT_TANH};
    /* The sums are {-8, -0.25, 0.75, 9}. */
    const double expected[][4] = {
        {-8, -0.25, 0.75, 9},
        {0, 0, 0.75, 9},
        {-1, -0.25, 0.75, 1},
        {0, 0, 0.75, 6},
        {tanh(-8), tanh(-0.25), tanh(0.75), tanh(9)},
    };
    float a[4] = {-9, -1, 0.5f, 8};
    float b[4] = {1, 0.75f, 0.25f, 1};

    for (size_t k = 0; k < sizeof(acts) / sizeof(acts[0]); k++) {
        op_test t;

        op_test_init(&t, VERGE_OP_ADD);
        t.node.params.activation.activation = acts[k];
        op_test_input_f32(&t, 1, (int32_t[]){4}, a);
        op_test_input_f32(&t, 1, (int32_t[]){4}, b);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[k][i], 1e-6);
        op_test_free(&t);
    }
}

static void add_prepare_errors(void)
{
    static float dummy[8];
    op_test t;

    op_test_init(&t, VERGE_OP_ADD);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){4, 3}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[2,3]") != NULL &&
                  strstr(verge_error_message(), "[4,3]") != NULL,
              "message: %s", verge_error_message());

    op_test_init(&t, VERGE_OP_ADD);
    op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){3}, dummy, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){3}, dummy, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "int8") != NULL, "message: %s",
              verge_error_message());

    op_test_init(&t, VERGE_OP_ADD);
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_ADD);
    t.node.params.activation.activation = VERGE_ACT_SIGN_BIT;
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
}

int main(void)
{
    RUN(add_same_shape);
    RUN(add_rank1_against_rank4);
    RUN(add_size1_dims_both_sides);
    RUN(add_rank6_and_scalar);
    RUN(add_each_activation);
    RUN(add_prepare_errors);
    return check_summary();
}
