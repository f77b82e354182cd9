/* SOFTMAX: rows of the last axis, beta, inputs large enough to overflow exp(), errors. */
#include "check.h"
#include "ops/op_test.h"

/* Computes softmax(beta * x) of one row in float64, shifted by the row's largest beta * x. */
static void softmax_reference(const float *x, int n, double beta, double *out)
{
    double top = beta * x[0], sum = 0;

    for (int i = 1; i < n; i++)
        top = beta * x[i] > top ? beta * x[i] : top;
    for (int i = 0; i < n; i++) {
        out[i] = exp(beta * x[i] - top);
        sum += out[i];
    }
    for (int i = 0; i < n; i++)
        out[i] /= sum;
}

/* Runs SOFTMAX on `x` of shape dims and checks every row against the float64 reference. */
static void softmax_check(const float *x, int rank, const int32_t *dims, float beta)
{
    const int n = dims[rank - 1];
    int count = 1;
    op_test t;

    for (int d = 0; d < rank; d++)
        count *= dims[d];
    op_test_init(&t, VERGE_OP_SOFTMAX);
    t.node.params.softmax.beta = beta;
    op_test_input_f32(&t, rank, dims, x);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, rank, dims));
    for (int row = 0; row < count / n; row++) {
        const float *out = (const float *)op_test_out(&t)->data + row * n;
        double want[16], sum = 0;

        softmax_reference(x + row * n, n, beta, want);
        for (int i = 0; i < n; i++) {
            CHECK_MSG(fabs(out[i] - want[i]) <= 1e-6, "beta %g row %d element %d: %.9g, "
                      "expected %.9g", beta, row, i, out[i], want[i]);
            sum += out[i];
        }
        CHECK_NEAR(sum, 1, 1e-6);
    }
    op_test_free(&t);
}

static void softmax_hand_checked(void)
{
    /* [0, ln 3] -> [1/4, 3/4]; a row of equal values -> uniform. */
    float x[4] = {0, (float)log(3.0), 7, 7};
    op_test t;

    op_test_init(&t, VERGE_OP_SOFTMAX);
    t.node.params.softmax.beta = 1;
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, x);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 0.25, 1e-7);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[1], 0.75, 1e-7);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[2], 0.5, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[3], 0.5, 0);
    op_test_free(&t);
}

static void softmax_rows_of_last_axis(void)
{
    float x[24];

    for (int i = 0; i < 24; i++)
        x[i] = (float)((i * 7) % 11) * 0.5f - 2;
    softmax_check(x, 3, (int32_t[]){2, 3, 4}, 1);
    softmax_check(x, 1, (int32_t[]){7}, 1);
    softmax_check(x, 4, (int32_t[]){1, 2, 1, 12}, 1);
    /* The zoo's [1,7] classifier head. */
    softmax_check(x, 2, (int32_t[]){1, 7}, 1);
}

static void softmax_large_inputs(void)
{
    /* exp(1000) overflows float32 and float64; the shifted kernel must not. */
    float x[6] = {1000, 1001, 1002, -1000, -1001, -3000};
    const float *out;
    op_test t;

    op_test_init(&t, VERGE_OP_SOFTMAX);
    t.node.params.softmax.beta = 1;
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, x);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    out = op_test_out(&t)->data;
    /* softmax([0,1,2]) = e^k / (1 + e + e^2). */
    for (int k = 0; k < 3; k++)
        CHECK_NEAR(out[k], exp(k) / (1 + exp(1) + exp(2)), 1e-6);
    CHECK_NEAR(out[3], 1 / (1 + exp(-1)), 1e-6);
    CHECK_NEAR(out[4], exp(-1) / (1 + exp(-1)), 1e-6);
    CHECK_NEAR(out[5], 0, 0);
    for (int i = 0; i < 6; i++)
        CHECK(isfinite(out[i]));
    op_test_free(&t);

    /* float32's extremes: one element takes everything. */
    float extreme[3] = {3e38f, -3e38f, 0};

    op_test_init(&t, VERGE_OP_SOFTMAX);
    t.node.params.softmax.beta = 1;
    op_test_input_f32(&t, 1, (int32_t[]){3}, extreme);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 1, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[1], 0, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[2], 0, 0);
    op_test_free(&t);
}

static void softmax_beta(void)
{
    float x[8] = {1, 2, 3, 4, -500, 250, 0, 1000};

    softmax_check(x, 2, (int32_t[]){2, 4}, 0.5f);
    softmax_check(x, 2, (int32_t[]){2, 4}, 2);
    /* A negative beta favours the smallest input and still must not overflow. */
    softmax_check(x, 2, (int32_t[]){2, 4}, -1);
    softmax_check(x, 2, (int32_t[]){2, 4}, -0.01f);
    /* beta = 0, the schema default: a uniform row. */
    softmax_check(x, 2, (int32_t[]){2, 4}, 0);
}

static void softmax_prepare_errors(void)
{
    static float dummy[4];
    static int8_t quantized[4];
    op_test t;

    op_test_init(&t, VERGE_OP_SOFTMAX);
    t.node.params.softmax.beta = 1;
    op_test_input_f32(&t, 0, NULL, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_SOFTMAX);
    t.node.params.softmax.beta = 1;
    op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){4}, quantized, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

    op_test_init(&t, VERGE_OP_SOFTMAX);
    t.node.params.softmax.beta = INFINITY;
    op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "beta") != NULL, "message: %s",
              verge_error_message());

    op_test_init(&t, VERGE_OP_SOFTMAX);
    t.node.params.softmax.beta = 1;
    op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
}

int main(void)
{
    RUN(softmax_hand_checked);
    RUN(softmax_rows_of_last_axis);
    RUN(softmax_large_inputs);
    RUN(softmax_beta);
    RUN(softmax_prepare_errors);
    return check_summary();
}
