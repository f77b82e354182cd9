/* TRANSPOSE: permutations of rank 1 to 6, both index types, and prepare errors. */
#include "check.h"
#include "ops/op_test.h"

static void transpose_matrix(void)
{
    float in[6] = {1, 2, 3, 4, 5, 6};
    int32_t perm[2] = {1, 0};
    const float expected[6] = {1, 4, 2, 5, 3, 6};
    op_test t;

    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, perm, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){3, 2}));
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);
}

static void transpose_zoo_shapes(void)
{
    /* The zoo's [1,1,257,1] with perm [0,1,3,2] -> [1,1,1,257] keeps the element order. */
    float in[257];
    int64_t perm[4] = {0, 1, 3, 2};
    op_test t;

    for (int i = 0; i < 257; i++)
        in[i] = (float)i;
    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, 257, 1}, in);
    op_test_input(&t, VERGE_DTYPE_INT64, 1, (int32_t[]){4}, perm, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 1, 1, 257}));
    for (int i = 0; i < 257; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], i, 0);
    op_test_free(&t);
}

static void transpose_nhwc_to_nchw(void)
{
    /* [1,2,3,4] NHWC -> [1,4,2,3] NCHW: out[0][c][h][w] = in[0][h][w][c]. */
    float in[24];
    int32_t perm[4] = {0, 3, 1, 2};
    op_test t;

    for (int i = 0; i < 24; i++)
        in[i] = (float)i;
    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 3, 4}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){4}, perm, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 4, 2, 3}));
    const float *out = op_test_out(&t)->data;
    for (int c = 0; c < 4; c++)
        for (int h = 0; h < 2; h++)
            for (int w = 0; w < 3; w++)
                CHECK_NEAR(out[(c * 2 + h) * 3 + w], in[(h * 3 + w) * 4 + c], 0);
    op_test_free(&t);
}

static void transpose_rank6(void)
{
    /* Input [2,3,1,2,4,3], perm [4,2,0,5,1,3] -> output [4,1,2,3,3,2]. */
    enum { COUNT = 2 * 3 * 1 * 2 * 4 * 3 };
    const int32_t in_dims[6] = {2, 3, 1, 2, 4, 3};
    int32_t perm[6] = {4, 2, 0, 5, 1, 3};
    static float in[COUNT];
    op_test t;

    for (int i = 0; i < COUNT; i++)
        in[i] = (float)i;
    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input_f32(&t, 6, in_dims, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){6}, perm, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 6, (int32_t[]){4, 1, 2, 3, 3, 2}));

    /* Walk every output index and read the input at the index that the permutation names. */
    const float *out = op_test_out(&t)->data;
    int o = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 1; b++)
            for (int c = 0; c < 2; c++)
                for (int d = 0; d < 3; d++)
                    for (int e = 0; e < 3; e++)
                        for (int f = 0; f < 2; f++, o++) {
                            /* Output dims (a..f) are input dims (4,2,0,5,1,3). */
                            int j0 = c, j1 = e, j2 = b, j3 = f, j4 = a, j5 = d;
                            int i = ((((j0 * 3 + j1) * 1 + j2) * 2 + j3) * 4 + j4) * 3 + j5;

                            CHECK_MSG(out[o] == in[i], "output %d = %g, expected input %d", o,
                                      out[o], i);
                        }
    op_test_free(&t);
}

static void transpose_identity_and_scalar(void)
{
    float in[3] = {7, 8, 9};
    int32_t perm[1] = {0};
    int32_t empty_perm[1] = {0};
    op_test t;

    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input_f32(&t, 1, (int32_t[]){3}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){1}, perm, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], in[i], 0);
    op_test_free(&t);

    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input_f32(&t, 0, NULL, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){0}, empty_perm, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK_EQ_INT(op_test_out(&t)->rank, 0);
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 7, 0);
    op_test_free(&t);
}

static void transpose_prepare_errors(void)
{
    static float dummy[24];
    static int8_t quantized[24];
    int32_t perm[3] = {2, 0, 1};
    int32_t repeated[3] = {0, 1, 1};
    int32_t negative[3] = {-1, 0, 1};
    int32_t too_large[3] = {0, 1, 3};
    int32_t short_perm[2] = {1, 0};
    float float_perm[3] = {2, 0, 1};
    op_test t;

    /* A permutation computed at run time. */
    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){3}, perm, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "perm") != NULL, "message: %s",
              verge_error_message());

    const int32_t *bad[] = {repeated, negative, too_large};
    for (int k = 0; k < 3; k++) {
        op_test_init(&t, VERGE_OP_TRANSPOSE);
        op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
        op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){3}, bad[k], VERGE_STORAGE_CONSTANT);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    }

    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, short_perm, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input_f32(&t, 3, (int32_t[]){2, 3, 4}, dummy);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 1, (int32_t[]){3}, float_perm,
                  VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_TRANSPOSE);
    op_test_input(&t, VERGE_DTYPE_INT8, 3, (int32_t[]){2, 3, 4}, quantized, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){3}, perm, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
}

int main(void)
{
    RUN(transpose_matrix);
    RUN(transpose_zoo_shapes);
    RUN(transpose_nhwc_to_nchw);
    RUN(transpose_rank6);
    RUN(transpose_identity_and_scalar);
    RUN(transpose_prepare_errors);
    return check_summary();
}
