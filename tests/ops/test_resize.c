/*
 * RESIZE_BILINEAR: each coordinate mode against source coordinates worked
 * out by hand from TFLite's formulas, a 2-D two-channel case, and errors.
 */
#include "check.h"
#include "ops/op_test.h"

/* Resizes a [1,1,in_w,1] row to out_w and checks it against expected. */
static void resize_row(const float *in, int in_w, int out_w, bool align_corners,
                       bool half_pixel_centers, const double *expected)
{
    int32_t size[2] = {1, out_w};
    op_test t;

    op_test_init(&t, VERGE_OP_RESIZE_BILINEAR);
    t.node.params.resize.align_corners = align_corners;
    t.node.params.resize.half_pixel_centers = half_pixel_centers;
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, in_w, 1}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, size, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 1, out_w, 1}));
    for (int i = 0; i < out_w; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 1e-5);
    op_test_free(&t);
}

static void resize_default_mode(void)
{
    /* scale 4/3; source x = {0, 1.333, 2.667}. */
    const float in[4] = {0, 10, 30, 60};
    const double expected[3] = {0, 10 + 20 / 3.0, 30 + 30 * 2 / 3.0};

    resize_row(in, 4, 3, false, false, expected);
}

static void resize_align_corners(void)
{
    /* scale (4-1)/(3-1) = 1.5; source x = {0, 1.5, 3}: the corners map onto each other. */
    const float in[4] = {0, 10, 30, 60};
    const double expected[3] = {0, 20, 60};

    resize_row(in, 4, 3, true, false, expected);
}

static void resize_half_pixel_centers(void)
{
    /* scale 4/3; source x = (x + 0.5) * 4/3 - 0.5 = {0.167, 1.5, 2.833}. */
    const float in[4] = {0, 10, 30, 60};
    const double expected[3] = {10 / 6.0, 20, 30 + 30 * 5 / 6.0};

    resize_row(in, 4, 3, false, true, expected);
}

static void resize_half_pixel_clamps_edges(void)
{
    /*
     * Upscaling 4 -> 6: source x = (x + 0.5) * 2/3 - 0.5 =
     * {-0.167, 0.5, 1.167, 1.833, 2.5, 3.167}. The first clamps to cell 0
     * (floor -1 -> 0, ceil -0 -> 0) and the last to cell 3 (ceil 4 -> 3).
     */
    const float in[4] = {5, 10, 30, 60};
    const double expected[6] = {5, 7.5, 10 + 20 / 6.0, 10 + 20 * 5 / 6.0, 45, 60};

    resize_row(in, 4, 6, false, true, expected);
}

static void resize_2d_two_channels(void)
{
    /* 2x2 -> 3x3, default mode: source y and x = {0, 2/3, 4/3 (clamped to row/column 1)}. */
    const float in[8] = {1, -1, 2, -2, 10, -10, 30, -30};
    int32_t size[2] = {3, 3};
    const double w = 2 / 3.0;
    const double centre = (1 - w) * (1 - w) * 1 + w * (1 - w) * 10 + (1 - w) * w * 2 + w * w * 30;
    const double expected[9] = {
        1,         1 + w,       2,
        1 + 9 * w, centre,      2 + 28 * w,
        10,        10 + 20 * w, 30,
    };
    op_test t;

    op_test_init(&t, VERGE_OP_RESIZE_BILINEAR);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 2}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, size, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 3, 3, 2}));
    for (int i = 0; i < 9; i++) {
        CHECK_NEAR(((float *)op_test_out(&t)->data)[2 * i], expected[i], 1e-5);
        CHECK_NEAR(((float *)op_test_out(&t)->data)[2 * i + 1], -expected[i], 1e-5);
    }
    op_test_free(&t);
}

static void resize_prepare_errors(void)
{
    static float in[4];
    int32_t size[2] = {2, 2};
    int32_t zero_size[2] = {0, 2};
    int64_t size64[2] = {2, 2};
    op_test t;

    op_test_init(&t, VERGE_OP_RESIZE_BILINEAR);
    t.node.params.resize.align_corners = true;
    t.node.params.resize.half_pixel_centers = true;
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, size, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_RESIZE_BILINEAR);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, size, VERGE_STORAGE_ARENA);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);

    op_test_init(&t, VERGE_OP_RESIZE_BILINEAR);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, in);
    op_test_input(&t, VERGE_DTYPE_INT64, 1, (int32_t[]){2}, size64, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_RESIZE_BILINEAR);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, zero_size, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_RESIZE_BILINEAR);
    op_test_input_f32(&t, 3, (int32_t[]){2, 2, 1}, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, size, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    op_test_init(&t, VERGE_OP_RESIZE_BILINEAR);
    op_test_input(&t, VERGE_DTYPE_INT8, 4, (int32_t[]){1, 2, 2, 1}, in, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, size, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
}

int main(void)
{
    RUN(resize_default_mode);
    RUN(resize_align_corners);
    RUN(resize_half_pixel_centers);
    RUN(resize_half_pixel_clamps_edges);
    RUN(resize_2d_two_channels);
    RUN(resize_prepare_errors);
    return check_summary();
}
