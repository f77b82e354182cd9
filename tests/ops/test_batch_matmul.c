/*
 * BATCH_MATMUL: every adj_x/adj_y combination, broadcast batch dimensions
 * and ranks, all against a float64 loop, and prepare errors.
 */
#include "check.h"
#include "ops/op_test.h"

/* Fills n values with a deterministic pattern of small non-integers. */
static void fill(float *x, int n, int seed)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)(((i * 37 + seed * 11) % 23) - 11) * 0.125f;
}

/*
 * Computes the batched product in float64 for the output batch shape
 * [b0, b1] (rank-2 batch; 1 where absent). x_b* and y_b* give each input's
 * batch dimensions aligned to the output's (1 where the input repeats).
 */
static void matmul_reference(const float *x, const float *y, int b0, int b1, int x_b0, int x_b1,
                             int y_b0, int y_b1, int m, int k, int n, bool adj_x, bool adj_y,
                             double *out)
{
    for (int i0 = 0; i0 < b0; i0++)
        for (int i1 = 0; i1 < b1; i1++) {
            const float *xm = x + ((i0 % x_b0) * x_b1 + (i1 % x_b1)) * m * k;
            const float *ym = y + ((i0 % y_b0) * y_b1 + (i1 % y_b1)) * k * n;
            double *om = out + (i0 * b1 + i1) * m * n;

            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double sum = 0;

                    for (int p = 0; p < k; p++) {
                        double a = adj_x ? xm[p * m + i] : xm[i * k + p];
                        double b = adj_y ? ym[j * k + p] : ym[p * n + j];

                        sum += a * b;
                    }
                    om[i * n + j] = sum;
                }
        }
}

static void batch_matmul_hand_checked(void)
{
    /* [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]. */
    float x[4] = {1, 2, 3, 4};
    float y[4] = {5, 6, 7, 8};
    const float expected[4] = {19, 22, 43, 50};
    op_test t;

    op_test_init(&t, VERGE_OP_BATCH_MATMUL);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, x);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, y);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 2}));
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);
}

static void batch_matmul_adjoint_combinations(void)
{
    /* x [2,3,4] (M=3, K=4) and y [2,4,5] (N=5), each read transposed when its flag is set. */
    enum { B = 2, M = 3, K = 4, N = 5 };
    float x[B * M * K], y[B * K * N];
    double want[B * M * N];

    fill(x, B * M * K, 1);
    fill(y, B * K * N, 2);
    for (int combo = 0; combo < 4; combo++) {
        const bool adj_x = combo & 1, adj_y = combo & 2;
        op_test t;

        op_test_init(&t, VERGE_OP_BATCH_MATMUL);
        t.node.params.batch_matmul.adj_x = adj_x;
        t.node.params.batch_matmul.adj_y = adj_y;
        op_test_input_f32(&t, 3, adj_x ? (int32_t[]){B, K, M} : (int32_t[]){B, M, K}, x);
        op_test_input_f32(&t, 3, adj_y ? (int32_t[]){B, N, K} : (int32_t[]){B, K, N}, y);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        CHECK_MSG(op_test_shape_is(&t, 3, (int32_t[]){B, M, N}), "adj_x %d adj_y %d", adj_x,
                  adj_y);
        matmul_reference(x, y, 1, B, 1, B, 1, B, M, K, N, adj_x, adj_y, want);
        for (int i = 0; i < B * M * N; i++)
            CHECK_MSG(fabs(((float *)op_test_out(&t)->data)[i] - want[i]) <= 1e-5,
                      "adj_x %d adj_y %d element %d: %g, expected %g", adj_x, adj_y, i,
                      ((float *)op_test_out(&t)->data)[i], want[i]);
        op_test_free(&t);
    }
}

static void batch_matmul_broadcast_batches(void)
{
    /* x [2,1,3,4] against y [3,4,2] -> [2,3,3,2]: x repeats along dim 1, y along dim 0. */
    enum { M = 3, K = 4, N = 2 };
    float x[2 * M * K], y[3 * K * N];
    double want[2 * 3 * M * N];

    fill(x, 2 * M * K, 3);
    fill(y, 3 * K * N, 4);
    for (int combo = 0; combo < 4; combo++) {
        const bool adj_x = combo & 1, adj_y = combo & 2;
        op_test t;

        op_test_init(&t, VERGE_OP_BATCH_MATMUL);
        t.node.params.batch_matmul.adj_x = adj_x;
        t.node.params.batch_matmul.adj_y = adj_y;
        op_test_input_f32(&t, 4, adj_x ? (int32_t[]){2, 1, K, M} : (int32_t[]){2, 1, M, K}, x);
        op_test_input_f32(&t, 3, adj_y ? (int32_t[]){3, N, K} : (int32_t[]){3, K, N}, y);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        CHECK(op_test_shape_is(&t, 4, (int32_t[]){2, 3, M, N}));
        matmul_reference(x, y, 2, 3, 2, 1, 1, 3, M, K, N, adj_x, adj_y, want);
        for (int i = 0; i < 2 * 3 * M * N; i++)
            CHECK_MSG(fabs(((float *)op_test_out(&t)->data)[i] - want[i]) <= 1e-5,
                      "adj_x %d adj_y %d element %d: %g, expected %g", adj_x, adj_y, i,
                      ((float *)op_test_out(&t)->data)[i], want[i]);
        op_test_free(&t);
    }
}

static void batch_matmul_zoo_shape(void)
{
    /* The zoo's [1,1,1,257] x constant [257,32] -> [1,1,1,32] (a rank-2 y broadcast). */
    static float x[257], y[257 * 32];
    static double want[32];
    op_test t;

    fill(x, 257, 5);
    fill(y, 257 * 32, 6);
    matmul_reference(x, y, 1, 1, 1, 1, 1, 1, 1, 257, 32, false, false, want);
    op_test_init(&t, VERGE_OP_BATCH_MATMUL);
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, 1, 257}, x);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 2, (int32_t[]){257, 32}, y, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 1, 1, 32}));
    for (int i = 0; i < 32; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], want[i], 1e-4);
    op_test_free(&t);
}

static void batch_matmul_prepare_errors(void)
{
    static float dummy[64];
    static int8_t quantized[64];
    op_test t;

    /* K of 3 against 4. */
    op_test_init(&t, VERGE_OP_BATCH_MATMUL);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){4, 2}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[2,3]") != NULL &&
                  strstr(verge_error_message(), "[4,2]") != NULL,
              "message: %s", verge_error_message());

    /* adj_y makes the same shapes agree. */
    op_test_init(&t, VERGE_OP_BATCH_MATMUL);
    t.node.params.batch_matmul.adj_y = true;
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){4, 3}, dummy);
    op_test_output(&t);
    CHECK_OK(op_test_prepare(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){2, 4}));

    /* Batch dimensions 2 against 3. */
    op_test_init(&t, VERGE_OP_BATCH_MATMUL);
    op_test_input_f32(&t, 3, (int32_t[]){2, 2, 3}, dummy);
    op_test_input_f32(&t, 3, (int32_t[]){3, 3, 2}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "batch") != NULL, "message: %s",
              verge_error_message());

    /* A vector operand. */
    op_test_init(&t, VERGE_OP_BATCH_MATMUL);
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_input_f32(&t, 2, (int32_t[]){3, 2}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_BATCH_MATMUL);
    op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){2, 3}, quantized, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){3, 2}, quantized, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

    op_test_init(&t, VERGE_OP_BATCH_MATMUL);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
}

int main(void)
{
    RUN(batch_matmul_hand_checked);
    RUN(batch_matmul_adjoint_combinations);
    RUN(batch_matmul_broadcast_batches);
    RUN(batch_matmul_zoo_shape);
    RUN(batch_matmul_prepare_errors);
    return check_summary();
}
