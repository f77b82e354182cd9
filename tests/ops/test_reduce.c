/*
 * MEAN and REDUCE_MAX: axes of both integer types, negative and repeated
 * axes, keep_dims on and off, scalars, empty reductions and errors.
 */
#include <float.h>

#include "check.h"
#include "ops/op_test.h"

/* Input [2,3,4] with x[i][j][k] = 100 i - 10 j + k (k reversed in odd rows for REDUCE_MAX). */
static float cube[24];

static void cube_fill(void)
{
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                cube[(i * 3 + j) * 4 + k] = (float)(100 * i - 10 * j + ((i + j) % 2 ? 3 - k : k));
}

/*
 * Computes the float64 reduction of `cube` over the dimensions set in
 * `reduced`, into out in row-major order of the kept dimensions.
 */
static void cube_reference(int op, const bool reduced[3], double *out)
{
    const int dims[3] = {2, 3, 4};
    double count[24] = {0};
    int n = 0;

    for (int o = 0; o < 24; o++)
        out[o] = op == VERGE_OP_MEAN ? 0 : -INFINITY;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                const int index[3] = {i, j, k};
                int o = 0;

                for (int d = 0; d < 3; d++)
                    if (!reduced[d])
                        o = o * dims[d] + index[d];
                double v = cube[(i * 3 + j) * 4 + k];
                if (op == VERGE_OP_MEAN)
                    out[o] += v;
                else if (v > out[o])
                    out[o] = v;
                count[o]++;
                n = o + 1 > n ? o + 1 : n;
            }
    if (op == VERGE_OP_MEAN)
        for (int o = 0; o < n; o++)
            out[o] /= count[o];
}

typedef struct reduce_case {
    int num_axes;
    int32_t axes[4];
    bool keep_dims;
    int out_rank;
    int32_t out_dims[3];
    bool reduced[3];
} reduce_case;

static const reduce_case cases[] = {
    {1, {1}, false, 2, {2, 4}, {false, true, false}},
    {1, {1}, true, 3, {2, 1, 4}, {false, true, false}},
    /* Negative axes count from the end: -1 is the last. */
    {1, {-1}, false, 2, {2, 3}, {false, false, true}},
    {2, {0, -1}, true, 3, {1, 3, 1}, {true, false, true}},
    /* Repeated axes, spelled both ways, reduce once. */
    {3, {2, -1, 2}, false, 2, {2, 3}, {false, false, true}},
    {4, {1, 2, -2, -1}, true, 3, {2, 1, 1}, {false, true, true}},
    /* Every axis: a scalar, or [1,1,1] with keep_dims. */
    {3, {0, 1, 2}, false, 0, {0}, {true, true, true}},
    {3, {-3, -2, -1}, true, 3, {1, 1, 1}, {true, true, true}},
};

static void reduce_axes_cases(void)
{
    static const int ops[] = {VERGE_OP_MEAN, VERGE_OP_REDUCE_MAX};

    cube_fill();
    for (size_t o = 0; o < 2; o++) {
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            const reduce_case *rc = &cases[c];
            double want[24];
            size_t count = 1;
            op_test t;

            op_test_init(&t, ops[o]);
            t.node.params.reducer.keep_dims = rc->keep_dims;
            op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, cube);
            op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){rc->num_axes}, rc->axes,
                          VERGE_STORAGE_CONSTANT);
            op_test_output(&t);
            CHECK_OK(op_test_run(&t));
            CHECK_MSG(op_test_shape_is(&t, rc->out_rank, rc->out_dims), "%s case %zu: rank %d",
                      verge_op_name(ops[o]), c, op_test_out(&t)->rank);
            cube_reference(ops[o], rc->reduced, want);
            for (int d = 0; d < rc->out_rank; d++)
                count *= (size_t)rc->out_dims[d];
            for (size_t i = 0; i < count; i++)
                CHECK_MSG(fabs(((float *)op_test_out(&t)->data)[i] - want[i]) <= 1e-5,
                          "%s case %zu element %zu: %g, expected %g", verge_op_name(ops[o]), c,
                          i, ((float *)op_test_out(&t)->data)[i], want[i]);
            op_test_free(&t);
        }
    }
}

static void reduce_nhwc_spatial_mean(void)
{
    /* The zoo's squeeze-excite pattern: MEAN over H and W of [1,2,2,2], keep_dims, int64 axes. */
    float x[8] = {1, 10, 2, 20, 3, 30, 6, 60};
    int64_t axes[2] = {1, 2};
    op_test t;

    op_test_init(&t, VERGE_OP_MEAN);
    t.node.params.reducer.keep_dims = true;
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 2}, x);
    op_test_input(&t, VERGE_DTYPE_INT64, 1, (int32_t[]){2}, axes, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 1, 1, 2}));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 3, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[1], 30, 0);
    op_test_free(&t);
}

static void reduce_scalar_axis(void)
{
    /* A rank-0 axis tensor, as in the zoo's MEAN of [1,64] over axis -1 with keep_dims. */
    float x[6] = {1, 2, 3, -4, 8, 2};
    int32_t axis[1] = {-1};
    op_test t;

    op_test_init(&t, VERGE_OP_MEAN);
    t.node.params.reducer.keep_dims = true;
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, x);
    op_test_input(&t, VERGE_DTYPE_INT32, 0, NULL, axis, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 1}));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 2, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[1], 2, 0);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_REDUCE_MAX);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, x);
    op_test_input(&t, VERGE_DTYPE_INT32, 0, NULL, axis, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 1, (int32_t[]){2}));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 3, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[1], 8, 0);
    op_test_free(&t);
}

static void reduce_no_axes_and_empty(void)
{
    float x[3] = {1, -2, 5};
    int32_t no_axes[1] = {0};
    int32_t axis0[1] = {0};
    op_test t;

    /* No axes: the output is the input. */
    op_test_init(&t, VERGE_OP_MEAN);
    op_test_input_f32(&t, 1, (int32_t[]){3}, x);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){0}, no_axes, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 1, (int32_t[]){3}));
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], x[i], 0);
    op_test_free(&t);

    /* Reducing a size-0 axis: MEAN gives 0 and REDUCE_MAX the lowest float, as TFLite. */
    op_test_init(&t, VERGE_OP_MEAN);
    op_test_input_f32(&t, 2, (int32_t[]){0, 2}, x);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){1}, axis0, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 1, (int32_t[]){2}));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 0, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[1], 0, 0);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_REDUCE_MAX);
    op_test_input_f32(&t, 2, (int32_t[]){0, 2}, x);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){1}, axis0, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], -FLT_MAX, 0);
    op_test_free(&t);
}

static void reduce_max_skips_nan(void)
{
    float x[3] = {NAN, -7, -3};
    int32_t axis[1] = {0};
    op_test t;

    op_test_init(&t, VERGE_OP_REDUCE_MAX);
    op_test_input_f32(&t, 1, (int32_t[]){3}, x);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){1}, axis, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(op_test_out(&t)->rank, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], -3, 0);
    op_test_free(&t);
}

static void reduce_prepare_errors(void)
{
    static float dummy[24];
    static int8_t quantized[4];
    int32_t axis1[1] = {1};
    int32_t out_of_range[2] = {0, 3};
    int32_t too_negative[1] = {-4};
    int64_t too_large[1] = {(int64_t)1 << 40};
    float float_axes[1] = {1};
    int32_t matrix_axes[4] = {0, 1, 0, 1};
    static const int ops[] = {VERGE_OP_MEAN, VERGE_OP_REDUCE_MAX};
    op_test t;

    for (size_t o = 0; o < 2; o++) {
        /* Axes computed at run time. */
        op_test_init(&t, ops[o]);
        op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
        op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){1}, axis1, VERGE_STORAGE_ARENA);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
        CHECK_MSG(strstr(verge_error_message(), "axes") != NULL &&
                      strstr(verge_error_message(), "constant") != NULL,
                  "message: %s", verge_error_message());

        op_test_init(&t, ops[o]);
        op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
        op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, out_of_range,
                      VERGE_STORAGE_CONSTANT);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
        CHECK_MSG(strstr(verge_error_message(), "3") != NULL, "message: %s",
                  verge_error_message());

        op_test_init(&t, ops[o]);
        op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
        op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){1}, too_negative,
                      VERGE_STORAGE_CONSTANT);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

        op_test_init(&t, ops[o]);
        op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
        op_test_input(&t, VERGE_DTYPE_INT64, 1, (int32_t[]){1}, too_large,
                      VERGE_STORAGE_CONSTANT);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

        op_test_init(&t, ops[o]);
        op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
        op_test_input(&t, VERGE_DTYPE_FLOAT32, 1, (int32_t[]){1}, float_axes,
                      VERGE_STORAGE_CONSTANT);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

        op_test_init(&t, ops[o]);
        op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
        op_test_input(&t, VERGE_DTYPE_INT32, 2, (int32_t[]){2, 2}, matrix_axes,
                      VERGE_STORAGE_CONSTANT);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

        op_test_init(&t, ops[o]);
        op_test_input(&t, VERGE_DTYPE_INT8, 1, (int32_t[]){4}, quantized, VERGE_STORAGE_ARENA);
        op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){1}, axis1, VERGE_STORAGE_CONSTANT);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

        op_test_init(&t, ops[o]);
        op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    }
}

int main(void)
{
    RUN(reduce_axes_cases);
    RUN(reduce_nhwc_spatial_mean);
    RUN(reduce_scalar_axis);
    RUN(reduce_no_axes_and_empty);
    RUN(reduce_max_skips_nan);
    RUN(reduce_prepare_errors);
    return check_summary();
}
