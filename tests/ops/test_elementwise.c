/* LOGISTIC, RSQRT, LOG, HARD_SWISH and LEAKY_RELU against float64 formulas, and errors. */
#include "check.h"
#include "ops/op_test.h"

static const float inputs[] = {-100, -20, -9.5f, -3, -2.5f, -1, -0.125f, 0,
                               0.125f, 1, 2.5f, 3, 4, 9.5f, 20, 100};
enum { NUM_INPUTS = sizeof(inputs) / sizeof(inputs[0]) };

/* Runs `op` on `inputs` shaped [2,2,4] and returns the output (freed by op_test_free). */
static const float *elementwise_run(op_test *t, int op)
{
    op_test_init(t, op);
    op_test_input_f32(t, 3, (int32_t[]){2, 2, 4}, inputs);
    op_test_output(t);
    CHECK_OK(op_test_run(t));
    CHECK(op_test_shape_is(t, 3, (int32_t[]){2, 2, 4}));
    return op_test_out(t)->data;
}

/* Checks out[i] against want within `relative` of |want| (plus 1e-37 for values near zero). */
static void check_close(const char *op, const float *out, const double *want, double relative)
{
    for (int i = 0; i < NUM_INPUTS; i++) {
        double tolerance = relative * fabs(want[i]) + 1e-37;

        CHECK_MSG(fabs(out[i] - want[i]) <= tolerance, "%s(%g) = %.9g, expected %.9g", op,
                  inputs[i], out[i], want[i]);
    }
}

static void logistic_values(void)
{
    double want[NUM_INPUTS];
    op_test t;
    const float *out = elementwise_run(&t, VERGE_OP_LOGISTIC);

    for (int i = 0; i < NUM_INPUTS; i++)
        want[i] = 1.0 / (1.0 + exp(-(double)inputs[i]));
    check_close("LOGISTIC", out, want, 1e-6);
    /* The tails saturate without overflow or NaN. */
    CHECK_NEAR(out[NUM_INPUTS - 1], 1, 0);
    CHECK(out[0] >= 0);
    CHECK(out[0] < 1e-40);
    CHECK_NEAR(out[7], 0.5, 0);
    op_test_free(&t);
}

static void rsqrt_and_log_values(void)
{
    /* Positive inputs against float64; zero and negative inputs give IEEE 754 results. */
    float x[5] = {0.25f, 1, 4, 100, 1e-30f};
    float special[2] = {0, -1};
    op_test t;

    op_test_init(&t, VERGE_OP_RSQRT);
    op_test_input_f32(&t, 1, (int32_t[]){5}, x);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], 1.0 / sqrt(x[i]),
                   1e-6 / sqrt(x[i]));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[2], 0.5, 0);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_RSQRT);
    op_test_input_f32(&t, 1, (int32_t[]){2}, special);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(isinf(((float *)op_test_out(&t)->data)[0]));
    CHECK(((float *)op_test_out(&t)->data)[0] > 0);
    CHECK(isnan(((float *)op_test_out(&t)->data)[1]));
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_LOG);
    op_test_input_f32(&t, 1, (int32_t[]){5}, x);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], log(x[i]), 1e-6 * fabs(log(x[i])) + 1e-7);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[1], 0, 0);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_LOG);
    op_test_input_f32(&t, 1, (int32_t[]){2}, special);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(isinf(((float *)op_test_out(&t)->data)[0]));
    CHECK(((float *)op_test_out(&t)->data)[0] < 0);
    CHECK(isnan(((float *)op_test_out(&t)->data)[1]));
    op_test_free(&t);
}

static void hard_swish_values(void)
{
    double want[NUM_INPUTS];
    op_test t;
    const float *out = elementwise_run(&t, VERGE_OP_HARD_SWISH);

    for (int i = 0; i < NUM_INPUTS; i++) {
        double x = inputs[i];
        double gate = x + 3 < 0 ? 0 : (x + 3 > 6 ? 6 : x + 3);

        want[i] = x * gate / 6;
    }
    check_close("HARD_SWISH", out, want, 1e-6);
    /* Hand-checked points: 0 at and below -3, x itself at and above 3, -1/3 at x = -1. */
    CHECK_NEAR(out[3], 0, 0);
    CHECK_NEAR(out[11], 3, 0);
    CHECK_NEAR(out[5], -1.0 / 3.0, 1e-7);
    CHECK_NEAR(out[4], -2.5 * 0.5 / 6, 1e-7);
    op_test_free(&t);
}

static void leaky_relu_values(void)
{
    static const float alphas[] = {0.2f, 0, -1.5f};

    for (size_t k = 0; k < sizeof(alphas) / sizeof(alphas[0]); k++) {
        double want[NUM_INPUTS];
        op_test t;

        op_test_init(&t, VERGE_OP_LEAKY_RELU);
        t.node.params.leaky_relu.alpha = alphas[k];
        op_test_input_f32(&t, 1, (int32_t[]){NUM_INPUTS}, inputs);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        for (int i = 0; i < NUM_INPUTS; i++)
            want[i] = inputs[i] > 0 ? inputs[i] : (double)alphas[k] * inputs[i];
        check_close("LEAKY_RELU", op_test_out(&t)->data, want, 1e-7);
        op_test_free(&t);
    }
}

static void elementwise_scalar_and_empty(void)
{
    float x[1] = {2};
    op_test t;

    op_test_init(&t, VERGE_OP_LOGISTIC);
    op_test_input_f32(&t, 0, NULL, x);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(op_test_out(&t)->rank, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 1.0 / (1.0 + exp(-2.0)), 1e-7);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_HARD_SWISH);
    op_test_input_f32(&t, 2, (int32_t[]){0, 3}, x);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(op_test_out(&t)->bytes, 0);
    op_test_free(&t);
}

static void elementwise_prepare_errors(void)
{
    static const int ops[] = {VERGE_OP_LOGISTIC, VERGE_OP_RSQRT, VERGE_OP_LOG,
                              VERGE_OP_HARD_SWISH, VERGE_OP_LEAKY_RELU};
    static int8_t quantized[4];
    static float dummy[4];
    op_test t;

    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        op_test_init(&t, ops[k]);
        op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){4}, quantized, VERGE_STORAGE_ARENA);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
        CHECK_MSG(strstr(verge_error_message(), "int8") != NULL, "%s message: %s",
                  verge_op_name(ops[k]), verge_error_message());

        op_test_init(&t, ops[k]);
        op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
        op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    }

    op_test_init(&t, VERGE_OP_LEAKY_RELU);
    t.node.params.leaky_relu.alpha = NAN;
    op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "alpha") != NULL, "message: %s",
              verge_error_message());
}

int main(void)
{
    RUN(logistic_values);
    RUN(rsqrt_and_log_values);
    RUN(hard_swish_values);
    RUN(leaky_relu_values);
    RUN(elementwise_scalar_and_empty);
    RUN(elementwise_prepare_errors);
    return check_summary();
}
