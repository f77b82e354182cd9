/* MAX_POOL_2D and AVERAGE_POOL_2D: SAME/VALID windows, in-bounds averaging, activations, errors. */
#include "check.h"
#include "ops/op_test.h"

static verge_pool_params pool_params(verge_padding padding, int stride, int filter,
                                     verge_activation activation)
{
    verge_pool_params p = {
        .padding = padding,
        .stride_w = stride,
        .stride_h = stride,
        .filter_w = filter,
        .filter_h = filter,
        .activation = activation,
    };
    return p;
}

static void pool_run(op_test *t, int op, verge_pool_params params, int rank, const int32_t *dims,
                     const float *in)
{
    op_test_init(t, op);
    t->node.params.pool = params;
    op_test_input_f32(t, rank, dims, in);
    op_test_output(t);
    CHECK_OK(op_test_run(t));
}

static void pool_same_stride2(void)
{
    /* 5x5 ramp, 3x3 window, stride 2, SAME: 1 padding cell before and after. */
    float in[25];
    op_test t;

    for (int i = 0; i < 25; i++)
        in[i] = (float)i;

    pool_run(&t, VERGE_OP_AVERAGE_POOL_2D, pool_params(VERGE_PADDING_SAME, 2, 3, VERGE_ACT_NONE),
             4, (int32_t[]){1, 5, 5, 1}, in);
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 3, 3, 1}));
    const float *avg = op_test_out(&t)->data;
    /* Averages over in-bounds cells only: a corner window contains 4 of its 9 cells. */
    CHECK_NEAR(avg[0], (0 + 1 + 5 + 6) / 4.0, 1e-6);
    CHECK_NEAR(avg[1], (1 + 2 + 3 + 6 + 7 + 8) / 6.0, 1e-6);
    CHECK_NEAR(avg[4], (6 + 7 + 8 + 11 + 12 + 13 + 16 + 17 + 18) / 9.0, 1e-6);
    CHECK_NEAR(avg[8], (18 + 19 + 23 + 24) / 4.0, 1e-6);
    op_test_free(&t);

    pool_run(&t, VERGE_OP_MAX_POOL_2D, pool_params(VERGE_PADDING_SAME, 2, 3, VERGE_ACT_NONE), 4,
             (int32_t[]){1, 5, 5, 1}, in);
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 3, 3, 1}));
    const float *max = op_test_out(&t)->data;
    CHECK_NEAR(max[0], 6, 0);
    CHECK_NEAR(max[1], 8, 0);
    CHECK_NEAR(max[4], 18, 0);
    CHECK_NEAR(max[8], 24, 0);
    op_test_free(&t);
}

static void pool_odd_padding_goes_after(void)
{
    /* 4x4 ramp, 3x3 window, stride 2, SAME: 0 padding before, 1 after. */
    float in[16];
    op_test t;

    for (int i = 0; i < 16; i++)
        in[i] = (float)i;
    pool_run(&t, VERGE_OP_AVERAGE_POOL_2D, pool_params(VERGE_PADDING_SAME, 2, 3, VERGE_ACT_NONE),
             4, (int32_t[]){1, 4, 4, 1}, in);
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 2, 1}));
    const float *out = op_test_out(&t)->data;
    CHECK_NEAR(out[0], (0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9.0, 1e-6);
    CHECK_NEAR(out[1], (2 + 3 + 6 + 7 + 10 + 11) / 6.0, 1e-6);
    CHECK_NEAR(out[2], (8 + 9 + 10 + 12 + 13 + 14) / 6.0, 1e-6);
    CHECK_NEAR(out[3], (10 + 11 + 14 + 15) / 4.0, 1e-6);
    op_test_free(&t);
}

static void pool_valid_two_channels(void)
{
    /* [1,4,4,2]: channel 0 is the ramp, channel 1 its negation; 2x2 windows, stride 2. */
    float in[32];
    op_test t;

    for (int i = 0; i < 16; i++) {
        in[2 * i] = (float)i;
        in[2 * i + 1] = -(float)i;
    }
    pool_run(&t, VERGE_OP_MAX_POOL_2D, pool_params(VERGE_PADDING_VALID, 2, 2, VERGE_ACT_NONE), 4,
             (int32_t[]){1, 4, 4, 2}, in);
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 2, 2}));
    const float *out = op_test_out(&t)->data;
    static const float expected[8] = {5, 0, 7, -2, 13, -8, 15, -10};
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(out[i], expected[i], 0);
    op_test_free(&t);
}

static void pool_max_ignores_padding(void)
{
    /* All values negative: a padded zero must not win the maximum. */
    float in[9] = {-9, -8, -7, -6, -5, -4, -3, -2, -1};
    op_test t;

    pool_run(&t, VERGE_OP_MAX_POOL_2D, pool_params(VERGE_PADDING_SAME, 1, 3, VERGE_ACT_NONE), 4,
             (int32_t[]){1, 3, 3, 1}, in);
    const float *out = op_test_out(&t)->data;
    CHECK_NEAR(out[0], -5, 0);
    CHECK_NEAR(out[4], -1, 0);
    CHECK_NEAR(out[8], -1, 0);
    op_test_free(&t);
}

static void pool_each_activation(void)
{
    static const verge_activation acts[] = {VERGE_ACT_NONE, VERGE_ACT_RELU,
                                            VERGE_ACT_RELU_N1_TO_1, VERGE_ACT_RELU6,
                                            VERGE_ACT_TANH};
    const double expected[][4] = {
        {-7, -0.5, 0.5, 7},
        {0, 0, 0.5, 7},
        {-1, -0.5, 0.5, 1},
        {0, 0, 0.5, 6},
        {tanh(-7), tanh(-0.5), tanh(0.5), tanh(7)},
    };
    float in[4] = {-7, -0.5f, 0.5f, 7};

    for (size_t a = 0; a < sizeof(acts) / sizeof(acts[0]); a++) {
        for (int op = 0; op < 2; op++) {
            op_test t;

            pool_run(&t, op ? VERGE_OP_MAX_POOL_2D : VERGE_OP_AVERAGE_POOL_2D,
                     pool_params(VERGE_PADDING_VALID, 1, 1, acts[a]), 4,
                     (int32_t[]){1, 2, 2, 1}, in);
            for (int i = 0; i < 4; i++)
                CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[a][i], 1e-6);
            op_test_free(&t);
        }
    }
}

static verge_status pool_prepare(verge_dtype dtype, int rank, const int32_t *dims,
                                 verge_pool_params params)
{
    static float dummy[1];
    op_test t;

    op_test_init(&t, VERGE_OP_MAX_POOL_2D);
    t.node.params.pool = params;
    op_test_input(&t, dtype, rank, dims, dummy, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    return op_test_prepare(&t);
}

static void pool_prepare_errors(void)
{
    verge_pool_params valid = pool_params(VERGE_PADDING_VALID, 1, 3, VERGE_ACT_NONE);

    CHECK_STATUS(pool_prepare(VERGE_DTYPE_FLOAT32, 3, (int32_t[]){4, 4, 1}, valid),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_STATUS(pool_prepare(VERGE_DTYPE_INT8, 4, (int32_t[]){1, 4, 4, 1}, valid),
                 VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "int8") != NULL, "message: %s",
              verge_error_message());
    CHECK_STATUS(pool_prepare(VERGE_DTYPE_FLOAT32, 4, (int32_t[]){1, 2, 2, 1}, valid),
                 VERGE_STATUS_INVALID_MODEL);
    valid.filter_w = 0;
    CHECK_STATUS(pool_prepare(VERGE_DTYPE_FLOAT32, 4, (int32_t[]){1, 4, 4, 1}, valid),
                 VERGE_STATUS_INVALID_MODEL);
    valid.filter_w = 3;
    valid.padding = (verge_padding)7;
    CHECK_STATUS(pool_prepare(VERGE_DTYPE_FLOAT32, 4, (int32_t[]){1, 4, 4, 1}, valid),
                 VERGE_STATUS_INVALID_MODEL);
}

int main(void)
{
    RUN(pool_same_stride2);
    RUN(pool_odd_padding_goes_after);
    RUN(pool_valid_two_channels);
    RUN(pool_max_ignores_padding);
    RUN(pool_each_activation);
    RUN(pool_prepare_errors);
    return check_summary();
}
