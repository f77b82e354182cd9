/* PAD: zero padding with int32 and int64 paddings, and prepare errors. */
#include "check.h"
#include "ops/op_test.h"

static void pad_2d_int32(void)
{
    /* [2,3] padded by rows [1,0] and columns [2,1] -> [3,6]. */
    float in[6] = {1, 2, 3, 4, 5, 6};
    int32_t paddings[4] = {1, 0, 2, 1};
    const float expected[18] = {0, 0, 0, 0, 0, 0,
                                0, 0, 1, 2, 3, 0,
                                0, 0, 4, 5, 6, 0};
    op_test t;

    op_test_init(&t, VERGE_OP_PAD);
    op_test_input_f32(&t, 2, (int32_t[]){2, 3}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 2, (int32_t[]){2, 2}, paddings, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 2, (int32_t[]){3, 6}));
    for (int i = 0; i < 18; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);
}

static void pad_nhwc_int64(void)
{
    /* [1,2,2,2] padded by one cell on each side of H and W -> [1,4,4,2]. */
    float in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t paddings[8] = {0, 0, 1, 1, 1, 1, 0, 0};
    op_test t;

    op_test_init(&t, VERGE_OP_PAD);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 2}, in);
    op_test_input(&t, VERGE_DTYPE_INT64, 2, (int32_t[]){4, 2}, paddings, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 4, 4, 2}));
    const float *out = op_test_out(&t)->data;
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 2; c++) {
                bool inside = y >= 1 && y <= 2 && x >= 1 && x <= 2;
                float want = inside ? in[((y - 1) * 2 + (x - 1)) * 2 + c] : 0.0f;

                CHECK_NEAR(out[(y * 4 + x) * 2 + c], want, 0);
            }
    op_test_free(&t);
}

static void pad_prepare_errors(void)
{
    static float in[4];
    int32_t paddings[4] = {0, 0, 1, 1};
    int32_t negative[4] = {0, -1, 0, 0};
    int32_t wrong_rank[6] = {0};
    float float_paddings[4] = {0};
    op_test t;

    /* Paddings computed at run time. */
    op_test_init(&t, VERGE_OP_PAD);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 2, (int32_t[]){2, 2}, paddings, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "paddings") != NULL &&
                  strstr(verge_error_message(), "constant") != NULL,
              "message: %s", verge_error_message());

    op_test_init(&t, VERGE_OP_PAD);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 2, (int32_t[]){2, 2}, negative, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_PAD);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 2, (int32_t[]){3, 2}, wrong_rank,
                  VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[3,2]") != NULL, "message: %s",
              verge_error_message());

    op_test_init(&t, VERGE_OP_PAD);
    op_test_input_f32(&t, 2, (int32_t[]){2, 2}, in);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 2, (int32_t[]){2, 2}, float_paddings,
                  VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_PAD);
    op_test_input(&t, VERGE_DTYPE_INT8, 2, (int32_t[]){2, 2}, in, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT32, 2, (int32_t[]){2, 2}, paddings, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "int8") != NULL, "message: %s",
              verge_error_message());
}

int main(void)
{
    RUN(pad_2d_int32);
    RUN(pad_nhwc_int64);
    RUN(pad_prepare_errors);
    return check_summary();
}
