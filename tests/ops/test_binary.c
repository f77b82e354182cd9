/*
 * SUB, MUL, MAXIMUM, MINIMUM, PRELU and GREATER_EQUAL: broadcasting across
 * ranks and size-1 dimensions, fused activations, dtypes and errors.
 */
#include "check.h"
#include "ops/op_test.h"

/* Returns the expected value of a float32 operator on one pair, in float64. */
static double binary_expected(int op, double a, double b)
{
    switch (op) {
    case VERGE_OP_SUB: return a - b;
    case VERGE_OP_MUL: return a * b;
    case VERGE_OP_MAXIMUM: return a > b ? a : b;
    case VERGE_OP_MINIMUM: return a < b ? a : b;
    case VERGE_OP_PRELU: return a >= 0 ? a : a * b;
    }
    return NAN;
}

static void binary_same_shape(void)
{
    static const int ops[] = {VERGE_OP_SUB, VERGE_OP_MUL, VERGE_OP_MAXIMUM, VERGE_OP_MINIMUM,
                              VERGE_OP_PRELU};
    float a[6] = {1, -2, 3.5f, -4, 0, 6};
    float b[6] = {10, 0.5f, -3, -5, 2, 6};

    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        op_test t;

        op_test_init(&t, ops[k]);
        op_test_input_f32(&t, 2, (int32_t[]){2, 3}, a);
        op_test_input_f32(&t, 2, (int32_t[]){2, 3}, b);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 3}));
        CHECK_EQ_INT(op_test_out(&t)->dtype, VERGE_DTYPE_FLOAT32);
        for (int i = 0; i < 6; i++)
            CHECK_MSG(((float *)op_test_out(&t)->data)[i] == binary_expected(ops[k], a[i], b[i]),
                      "%s element %d: %g", verge_op_name(ops[k]), i,
                      ((float *)op_test_out(&t)->data)[i]);
        op_test_free(&t);
    }
}

static void binary_rank1_against_rank4(void)
{
    /* A per-channel vector [3] against an NHWC activation [1,2,2,3], in both input orders. */
    static const int ops[] = {VERGE_OP_SUB, VERGE_OP_MUL, VERGE_OP_MAXIMUM, VERGE_OP_MINIMUM};
    float x[12], v[3] = {5, -1, 2.5f};

    for (int i = 0; i < 12; i++)
        x[i] = (float)(i - 6);
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        for (int order = 0; order < 2; order++) {
            op_test t;

            op_test_init(&t, ops[k]);
            if (order == 0) {
                op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 3}, x);
                op_test_input_f32(&t, 1, (int32_t[]){3}, v);
            } else {
                op_test_input_f32(&t, 1, (int32_t[]){3}, v);
                op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 3}, x);
            }
            op_test_output(&t);
            CHECK_OK(op_test_run(&t));
            CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 2, 3}));
            for (int i = 0; i < 12; i++) {
                double want = order == 0 ? binary_expected(ops[k], x[i], v[i % 3])
                                         : binary_expected(ops[k], v[i % 3], x[i]);

                CHECK_MSG(((float *)op_test_out(&t)->data)[i] == want,
                          "%s order %d element %d: %g, expected %g", verge_op_name(ops[k]),
                          order, i, ((float *)op_test_out(&t)->data)[i], want);
            }
            op_test_free(&t);
        }
    }
}

static void binary_size1_dims_both_sides(void)
{
    /* [2,1,3] - [4,1] -> [2,4,3]: a repeats along dim 1, b along dims 0 and 2. */
    float a[6] = {1, 2, 3, 4, 5, 6};
    float b[4] = {10, 20, 30, 40};
    op_test t;

    op_test_init(&t, VERGE_OP_SUB);
    op_test_input_f32(&t, 3, (int32_t[]){2, 1, 3}, a);
    op_test_input_f32(&t, 2, (int32_t[]){4, 1}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 3, (int32_t[]){2, 4, 3}));
    const float *out = op_test_out(&t)->data;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++)
                CHECK_NEAR(out[(i * 4 + j) * 3 + k], a[i * 3 + k] - b[j], 0);
    op_test_free(&t);

    /* [1,1,1,4] * [1,3,1,1] -> [1,3,1,4]: the last dimension repeats in b. */
    float c[4] = {1, 2, 3, 4};
    float d[3] = {-1, 0.5f, 10};

    op_test_init(&t, VERGE_OP_MUL);
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, 1, 4}, c);
    op_test_input_f32(&t, 4, (int32_t[]){1, 3, 1, 1}, d);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 3, 1, 4}));
    out = op_test_out(&t)->data;
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
            CHECK_NEAR(out[j * 4 + k], c[k] * d[j], 0);
    op_test_free(&t);
}

static void binary_scalar_operand(void)
{
    /* A rank-0 constant, as the zoo's MAXIMUM(x, 0) and MUL(x, scale) nodes use. */
    float x[4] = {-2, -0.5f, 0.25f, 3};
    float zero[1] = {0}, scale[1] = {-2};
    op_test t;

    op_test_init(&t, VERGE_OP_MAXIMUM);
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, 2, 2}, x);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 0, NULL, zero, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 1, 2, 2}));
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], x[i] > 0 ? x[i] : 0, 0);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_MUL);
    op_test_input_f32(&t, 0, NULL, scale);
    op_test_input_f32(&t, 1, (int32_t[]){4}, x);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 1, (int32_t[]){4}));
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], -2.0 * x[i], 0);
    op_test_free(&t);

    /* Two scalars give a scalar. */
    op_test_init(&t, VERGE_OP_SUB);
    op_test_input_f32(&t, 0, NULL, scale);
    op_test_input_f32(&t, 0, NULL, zero);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(op_test_out(&t)->rank, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], -2, 0);
    op_test_free(&t);
}

static void binary_each_activation(void)
{
    static const verge_activation acts[] = {VERGE_ACT_NONE, VERGE_ACT_RELU,
                                            VERGE_ACT_RELU_N1_TO_1, VERGE_ACT_RELU6,
                                            VERGE_ACT_TANH};
    static const int ops[] = {VERGE_OP_SUB, VERGE_OP_MUL};
    float a[5] = {-9, -1, 0.5f, 8, 2};
    float b[5] = {1, 0.75f, 0.25f, 1, -0.5f};

    for (size_t o = 0; o < 2; o++) {
        for (size_t k = 0; k < sizeof(acts) / sizeof(acts[0]); k++) {
            op_test t;

            op_test_init(&t, ops[o]);
            t.node.params.activation.activation = acts[k];
            op_test_input_f32(&t, 1, (int32_t[]){5}, a);
            op_test_input_f32(&t, 1, (int32_t[]){5}, b);
            op_test_output(&t);
            CHECK_OK(op_test_run(&t));
            for (int i = 0; i < 5; i++) {
                double raw = binary_expected(ops[o], a[i], b[i]);
                double want = raw;

                if (acts[k] == VERGE_ACT_RELU)
                    want = raw < 0 ? 0 : raw;
                else if (acts[k] == VERGE_ACT_RELU_N1_TO_1)
                    want = raw < -1 ? -1 : (raw > 1 ? 1 : raw);
                else if (acts[k] == VERGE_ACT_RELU6)
                    want = raw < 0 ? 0 : (raw > 6 ? 6 : raw);
                else if (acts[k] == VERGE_ACT_TANH)
                    want = tanh(raw);
                CHECK_MSG(fabs(((float *)op_test_out(&t)->data)[i] - want) <= 1e-6,
                          "%s activation %d element %d: %g, expected %g", verge_op_name(ops[o]),
                          (int)acts[k], i, ((float *)op_test_out(&t)->data)[i], want);
            }
            op_test_free(&t);
        }
    }
}

static void maximum_minimum_nan(void)
{
    /* TFLite's kernels compute a > b ? a : b and a < b ? a : b, so a NaN in a yields b. */
    float a[2] = {NAN, 1};
    float b[2] = {2, NAN};
    op_test t;

    op_test_init(&t, VERGE_OP_MAXIMUM);
    op_test_input_f32(&t, 1, (int32_t[]){2}, a);
    op_test_input_f32(&t, 1, (int32_t[]){2}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 2, 0);
    CHECK(isnan(((float *)op_test_out(&t)->data)[1]));
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_MINIMUM);
    op_test_input_f32(&t, 1, (int32_t[]){2}, a);
    op_test_input_f32(&t, 1, (int32_t[]){2}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 2, 0);
    CHECK(isnan(((float *)op_test_out(&t)->data)[1]));
    op_test_free(&t);
}

static void prelu_alpha_broadcast(void)
{
    /* Per-channel alpha [1,1,2] against [1,2,2,2], as Keras exports PReLU with shared axes. */
    float x[8] = {-4, -4, 2, -2, 0, -1, 3, 5};
    float alpha[2] = {0.25f, -0.5f};
    const float expected[8] = {-1, 2, 2, 1, 0, 0.5f, 3, 5};
    op_test t;

    op_test_init(&t, VERGE_OP_PRELU);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 2}, x);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 3, (int32_t[]){1, 1, 2}, alpha,
                  VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 2, 2}));
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);

    /* Alpha of a larger shape than the input: the output takes the broadcast shape. */
    float y[2] = {-1, 1};
    float alpha2[4] = {1, 2, 3, 4};

    op_test_init(&t, VERGE_OP_PRELU);
    op_test_input_f32(&t, 1, (int32_t[]){2}, y);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, alpha2);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 2}));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], -1, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[1], 1, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[2], -3, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[3], 1, 0);
    op_test_free(&t);
}

static void greater_equal_float_bool_output(void)
{
    /* [1,1] >= scalar constant, the zoo's case, and a [2,3] against [3] broadcast. */
    float x[1] = {0.5f}, threshold[1] = {0.5f};
    float a[6] = {1, 2, 3, -1, -2, 0};
    float b[3] = {1, 3, -1};
    const uint8_t expected[6] = {1, 0, 1, 0, 0, 1};
    op_test t;

    op_test_init(&t, VERGE_OP_GREATER_EQUAL);
    op_test_input_f32(&t, 2, (int32_t[]){1, 1}, x);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 0, NULL, threshold, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(op_test_out(&t)->dtype, VERGE_DTYPE_BOOL);
    CHECK_EQ_INT(op_test_out(&t)->bytes, 1);
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){1, 1}));
    CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[0], 1);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_GREATER_EQUAL);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, a);
    op_test_input_f32(&t, 1, (int32_t[]){3}, b);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 3}));
    CHECK_EQ_INT(op_test_out(&t)->bytes, 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[i], expected[i]);
    op_test_free(&t);

    /* NaN compares false. */
    float nan_value[1] = {NAN};

    op_test_init(&t, VERGE_OP_GREATER_EQUAL);
    op_test_input_f32(&t, 1, (int32_t[]){1}, nan_value);
    op_test_input_f32(&t, 1, (int32_t[]){1}, nan_value);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[0], 0);
    op_test_free(&t);
}

static void greater_equal_integers(void)
{
    int32_t a32[4] = {INT32_MIN, -1, 7, INT32_MAX};
    int32_t b32[2] = {-1, 7};
    int64_t a64[3] = {INT64_MIN, 5, INT64_MAX};
    int64_t b64[1] = {5};
    op_test t;

    /* [2,2] >= [2]: rows {MIN,-1} and {7,MAX} against {-1,7}. */
    op_test_init(&t, VERGE_OP_GREATER_EQUAL);
    op_test_input(&t, VERGE_DTYPE_INT32, 2, (int32_t[]){2, 2}, a32, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, b32, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(op_test_out(&t)->dtype, VERGE_DTYPE_BOOL);
    CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[0], 0);
    CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[1], 0);
    CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[2], 1);
    CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[3], 1);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_GREATER_EQUAL);
    op_test_input(&t, VERGE_DTYPE_INT64, 1, (int32_t[]){3}, a64, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT64, 1, (int32_t[]){1}, b64, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[0], 0);
    CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[1], 1);
    CHECK_EQ_INT(((uint8_t *)op_test_out(&t)->data)[2], 1);
    op_test_free(&t);
}

static void binary_prepare_errors(void)
{
    static const int ops[] = {VERGE_OP_SUB, VERGE_OP_MUL, VERGE_OP_MAXIMUM, VERGE_OP_MINIMUM,
                              VERGE_OP_PRELU, VERGE_OP_GREATER_EQUAL};
    static float dummy[16];
    static int32_t dummy_i32[4];
    op_test t;

    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        /* Shapes that do not broadcast. */
        op_test_init(&t, ops[k]);
        op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
        op_test_input_f32(&t, 2, (int32_t[]){4, 3}, dummy);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
        CHECK_MSG(strstr(verge_error_message(), "[2,3]") != NULL &&
                      strstr(verge_error_message(), "[4,3]") != NULL,
                  "%s message: %s", verge_op_name(ops[k]), verge_error_message());

        /* Quantized int8 inputs. */
        op_test_init(&t, ops[k]);
        op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){3}, dummy, VERGE_STORAGE_ARENA);
        op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){3}, dummy, VERGE_STORAGE_ARENA);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
        CHECK_MSG(strstr(verge_error_message(), "int8") != NULL, "%s message: %s",
                  verge_op_name(ops[k]), verge_error_message());

        /* One input only. */
        op_test_init(&t, ops[k]);
        op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    }

    /* SUB and MUL check their fused activation. */
    op_test_init(&t, VERGE_OP_MUL);
    t.node.params.activation.activation = VERGE_ACT_SIGN_BIT;
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

    op_test_init(&t, VERGE_OP_SUB);
    t.node.params.activation.activation = (verge_activation)9;
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* A float32 operand against an int32 one. */
    op_test_init(&t, VERGE_OP_SUB);
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){3}, dummy_i32, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

    op_test_init(&t, VERGE_OP_GREATER_EQUAL);
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){3}, dummy_i32, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "int32") != NULL &&
                  strstr(verge_error_message(), "float32") != NULL,
              "message: %s", verge_error_message());
}

int main(void)
{
    RUN(binary_same_shape);
    RUN(binary_rank1_against_rank4);
    RUN(binary_size1_dims_both_sides);
    RUN(binary_scalar_operand);
    RUN(binary_each_activation);
    RUN(maximum_minimum_nan);
    RUN(prelu_alpha_broadcast);
    RUN(greater_equal_float_bool_output);
    RUN(greater_equal_integers);
    RUN(binary_prepare_errors);
    return check_summary();
}
