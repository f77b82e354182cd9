/* DEPTH_TO_SPACE: TFLite's NHWC channel order with block 2, and prepare errors. */
#include "check.h"
#include "ops/op_test.h"

static void depth_to_space_single_pixel(void)
{
    /* [1,1,1,4] {1,2,3,4} -> [1,2,2,1] {{1,2},{3,4}}. */
    float in[4] = {1, 2, 3, 4};
    op_test t;

    op_test_init(&t, VERGE_OP_DEPTH_TO_SPACE);
    t.node.params.depth_to_space.block_size = 2;
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, 1, 4}, in);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 2, 1}));
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], in[i], 0);
    op_test_free(&t);
}

static void depth_to_space_block2_two_channels(void)
{
    /*
     * [2,1,2,8] with value 1000 * batch + 100 * x + channel -> [2,2,4,2]. Input
     * channels 0-1 fill the patch's top left, 2-3 top right, 4-5 bottom left,
     * 6-7 bottom right.
     */
    float in[32];
    const float patch[8] = {0, 1, 2, 3, 100, 101, 102, 103};
    const float lower[8] = {4, 5, 6, 7, 104, 105, 106, 107};
    op_test t;

    for (int b = 0; b < 2; b++)
        for (int x = 0; x < 2; x++)
            for (int c = 0; c < 8; c++)
                in[(b * 2 + x) * 8 + c] = (float)(1000 * b + 100 * x + c);
    op_test_init(&t, VERGE_OP_DEPTH_TO_SPACE);
    t.node.params.depth_to_space.block_size = 2;
    op_test_input_f32(&t, 4, (int32_t[]){2, 1, 2, 8}, in);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){2, 2, 4, 2}));
    const float *out = op_test_out(&t)->data;
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 8; i++) {
            CHECK_NEAR(out[b * 16 + i], patch[i] + 1000 * b, 0);
            CHECK_NEAR(out[b * 16 + 8 + i], lower[i] + 1000 * b, 0);
        }
    op_test_free(&t);
}

static verge_status depth_to_space_prepare(verge_dtype dtype, int rank, const int32_t *dims,
                                           int block)
{
    static float dummy[1];
    op_test t;

    op_test_init(&t, VERGE_OP_DEPTH_TO_SPACE);
    t.node.params.depth_to_space.block_size = block;
    op_test_input(&t, dtype, rank, dims, dummy, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    return op_test_prepare(&t);
}

static void depth_to_space_prepare_errors(void)
{
    CHECK_STATUS(depth_to_space_prepare(VERGE_DTYPE_FLOAT32, 4, (int32_t[]){1, 2, 2, 6}, 2),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "6 channels") != NULL, "message: %s",
              verge_error_message());
    CHECK_STATUS(depth_to_space_prepare(VERGE_DTYPE_FLOAT32, 4, (int32_t[]){1, 2, 2, 4}, 0),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_STATUS(depth_to_space_prepare(VERGE_DTYPE_FLOAT32, 3, (int32_t[]){2, 2, 4}, 2),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_STATUS(depth_to_space_prepare(VERGE_DTYPE_INT8, 4, (int32_t[]){1, 2, 2, 4}, 2),
                 VERGE_STATUS_UNSUPPORTED);
    CHECK_STATUS(depth_to_space_prepare(VERGE_DTYPE_FLOAT32, 4,
                                        (int32_t[]){1, 1 << 30, 1, 4}, 2),
                 VERGE_STATUS_INVALID_MODEL);
}

int main(void)
{
    RUN(depth_to_space_single_pixel);
    RUN(depth_to_space_block2_two_channels);
    RUN(depth_to_space_prepare_errors);
    return check_summary();
}
