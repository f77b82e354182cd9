/*
 * FULLY_CONNECTED: products against a float64 loop, optional bias, every
 * fused activation, flattening and keep_num_dims, and prepare errors.
 */
#include "check.h"
#include "ops/op_test.h"

/* Computes out[b][u] = sum_k in[b][k] * w[u][k] (+ bias[u]) in float64. */
static void fc_reference(const float *in, const float *w, const float *bias, int batches,
                         int units, int depth, double *out)
{
    for (int b = 0; b < batches; b++)
        for (int u = 0; u < units; u++) {
            double sum = bias != NULL ? bias[u] : 0;

            for (int k = 0; k < depth; k++)
                sum += (double)in[b * depth + k] * w[u * depth + k];
            out[b * units + u] = sum;
        }
}

static void fc_hand_checked(void)
{
    /* [1,3] x [2,3]^T + [0.5,-1]: rows (1,2,3).(1,0,-1) = -2 and (1,2,3).(2,1,0) = 4. */
    float in[3] = {1, 2, 3};
    float w[6] = {1, 0, -1, 2, 1, 0};
    float bias[2] = {0.5f, -1};
    op_test t;

    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input_f32(&t, 2, (int32_t[]){1, 3}, in);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 2, (int32_t[]){2, 3}, w, VERGE_STORAGE_CONSTANT);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 1, (int32_t[]){2}, bias, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){1, 2}));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], -1.5, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[1], 3, 0);
    op_test_free(&t);
}

static void fc_without_bias(void)
{
    /* The bias is absent either as a missing third input or as VERGE_NO_TENSOR. */
    float in[4] = {1, -1, 2, 0.5f};
    float w[4] = {3, 4, -2, 1};
    const double want[4] = {-1, -3, 8, -3.5};

    for (int absent = 0; absent < 2; absent++) {
        op_test t;

        op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
        op_test_input_f32(&t, 2, (int32_t[]){2, 2}, in);
        op_test_input_f32(&t, 2, (int32_t[]){2, 2}, w);
        if (absent == 1)
            op_test_no_input(&t);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 2}));
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(((float *)op_test_out(&t)->data)[i], want[i], 0);
        op_test_free(&t);
    }
}

static void fc_each_activation(void)
{
    static const verge_activation acts[] = {VERGE_ACT_NONE, VERGE_ACT_RELU,
                                            VERGE_ACT_RELU_N1_TO_1, VERGE_ACT_RELU6,
                                            VERGE_ACT_TANH};
    /* One input row against five units whose sums are {-8, -0.5, 0.25, 3, 9}. */
    float in[2] = {1, 1};
    float w[10] = {-4, -4, -0.25f, -0.25f, 0, 0.25f, 1, 2, 4, 5};

    for (size_t k = 0; k < sizeof(acts) / sizeof(acts[0]); k++) {
        const double raw[5] = {-8, -0.5, 0.25, 3, 9};
        op_test t;

        op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
        t.node.params.fully_connected.activation = acts[k];
        op_test_input_f32(&t, 2, (int32_t[]){1, 2}, in);
        op_test_input_f32(&t, 2, (int32_t[]){5, 2}, w);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        for (int i = 0; i < 5; i++) {
            double want = raw[i];

            if (acts[k] == VERGE_ACT_RELU)
                want = want < 0 ? 0 : want;
            else if (acts[k] == VERGE_ACT_RELU_N1_TO_1)
                want = want < -1 ? -1 : (want > 1 ? 1 : want);
            else if (acts[k] == VERGE_ACT_RELU6)
                want = want < 0 ? 0 : (want > 6 ? 6 : want);
            else if (acts[k] == VERGE_ACT_TANH)
                want = tanh(want);
            CHECK_MSG(fabs(((float *)op_test_out(&t)->data)[i] - want) <= 1e-6,
                      "activation %d unit %d: %g, expected %g", (int)acts[k], i,
                      ((float *)op_test_out(&t)->data)[i], want);
        }
        op_test_free(&t);
    }
}

static void fc_flattens_and_keeps_dims(void)
{
    /* Input [2,2,3] against weights [4,3]: four rows of three, or [2,2,4] with keep_num_dims. */
    float in[12], w[12], bias[4] = {0.5f, -0.5f, 1, 0};
    double want[16];

    for (int i = 0; i < 12; i++) {
        in[i] = (float)(i % 5) - 1.5f;
        w[i] = (float)((i * 7) % 9) * 0.25f - 1;
    }
    fc_reference(in, w, bias, 4, 4, 3, want);
    for (int keep = 0; keep < 2; keep++) {
        op_test t;

        op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
        t.node.params.fully_connected.keep_num_dims = keep;
        op_test_input_f32(&t, 3, (int32_t[]){2, 2, 3}, in);
        op_test_input_f32(&t, 2, (int32_t[]){4, 3}, w);
        op_test_input_f32(&t, 1, (int32_t[]){4}, bias);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        if (keep)
            CHECK(op_test_shape_is(&t, 3, (int32_t[]){2, 2, 4}));
        else
            CHECK(op_test_shape_is(&t, 2, (int32_t[]){4, 4}));
        for (int i = 0; i < 16; i++)
            CHECK_NEAR(((float *)op_test_out(&t)->data)[i], want[i], 1e-6);
        op_test_free(&t);
    }

    /* Without keep_num_dims the rows need not follow the last dimension: [1,2,3] by depth 2. */
    float in6[6] = {1, 2, 3, 4, 5, 6};
    float w2[2] = {1, -1};
    op_test t;

    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input_f32(&t, 3, (int32_t[]){1, 2, 3}, in6);
    op_test_input_f32(&t, 2, (int32_t[]){1, 2}, w2);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){3, 1}));
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], -1, 0);
    op_test_free(&t);
}

static void fc_larger_against_float64(void)
{
    /* The zoo's [1,1536] x [128,1536] shape, scaled down to [3,96] x [16,96]. */
    static float in[3 * 96], w[16 * 96], bias[16];
    static double want[3 * 16];
    op_test t;

    for (int i = 0; i < 3 * 96; i++)
        in[i] = (float)sin(i * 0.37);
    for (int i = 0; i < 16 * 96; i++)
        w[i] = (float)cos(i * 0.11) * 0.1f;
    for (int i = 0; i < 16; i++)
        bias[i] = (float)i * 0.01f - 0.05f;
    fc_reference(in, w, bias, 3, 16, 96, want);

    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input_f32(&t, 2, (int32_t[]){3, 96}, in);
    op_test_input_f32(&t, 2, (int32_t[]){16, 96}, w);
    op_test_input_f32(&t, 1, (int32_t[]){16}, bias);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    for (int i = 0; i < 3 * 16; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], want[i], 1e-5);
    op_test_free(&t);
}

static void fc_prepare_errors(void)
{
    static float dummy[32];
    static int8_t quantized[32];
    op_test t;

    /* The shuffled int8 weights format. */
    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    t.node.params.fully_connected.weights_format = VERGE_FULLY_CONNECTED_WEIGHTS_SHUFFLED4X16INT8;
    op_test_input_f32(&t, 2, (int32_t[]){1, 4}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){2, 4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "SHUFFLED4x16INT8") != NULL, "message: %s",
              verge_error_message());

    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    t.node.params.fully_connected.weights_format = (verge_fully_connected_weights_format)7;
    op_test_input_f32(&t, 2, (int32_t[]){1, 4}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){2, 4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* 5 elements do not split into rows of 4. */
    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input_f32(&t, 1, (int32_t[]){5}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){2, 4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[2,4]") != NULL &&
                  strstr(verge_error_message(), "[5]") != NULL,
              "message: %s", verge_error_message());

    /* keep_num_dims needs the last dimension to be the depth. */
    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    t.node.params.fully_connected.keep_num_dims = true;
    op_test_input_f32(&t, 2, (int32_t[]){4, 2}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){3, 4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "keep_num_dims") != NULL, "message: %s",
              verge_error_message());

    /* Bias of the wrong length. */
    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input_f32(&t, 2, (int32_t[]){1, 4}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){2, 4}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* Weights of rank 3, and weights with zero columns. */
    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input_f32(&t, 2, (int32_t[]){1, 4}, dummy);
    op_test_input_f32(&t, 3, (int32_t[]){1, 2, 4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input_f32(&t, 2, (int32_t[]){1, 4}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){2, 0}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* int8 input, and int8 weights with float32 input (TFLite's hybrid mode). */
    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){1, 4}, quantized, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){2, 4}, quantized, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input_f32(&t, 2, (int32_t[]){1, 4}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){2, 4}, quantized, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "weights") != NULL, "message: %s",
              verge_error_message());

    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    t.node.params.fully_connected.activation = VERGE_ACT_SIGN_BIT;
    op_test_input_f32(&t, 2, (int32_t[]){1, 4}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){2, 4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

    op_test_init(&t, VERGE_OP_FULLY_CONNECTED);
    op_test_input_f32(&t, 2, (int32_t[]){1, 4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
}

int main(void)
{
    RUN(fc_hand_checked);
    RUN(fc_without_bias);
    RUN(fc_each_activation);
    RUN(fc_flattens_and_keeps_dims);
    RUN(fc_larger_against_float64);
    RUN(fc_prepare_errors);
    return check_summary();
}
