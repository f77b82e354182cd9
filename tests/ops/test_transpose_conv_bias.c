/*
 * Convolution2DTransposeBias (MediaPipe's custom operator): output sizes,
 * results against a direct float64 scatter loop for SAME and VALID padding
 * at strides 1 and 2, and prepare errors, custom options included.
 */
#include "check.h"
#include "ops/op_test.h"

enum { SAME = 1, VALID = 2 };

/* Writes the 12-byte custom options: little-endian int32 padding, stride_w, stride_h. */
static void options_write(uint8_t options[12], int32_t padding, int32_t stride_w,
                          int32_t stride_h)
{
    const int32_t values[3] = {padding, stride_w, stride_h};

    for (int v = 0; v < 3; v++) {
        uint32_t bits = (uint32_t)values[v];

        for (int b = 0; b < 4; b++)
            options[v * 4 + b] = (uint8_t)(bits >> (8 * b));
    }
}

static void tconv_init(op_test *t, const uint8_t *options, size_t options_size)
{
    op_test_init(t, VERGE_OP_CUSTOM);
    t->node.custom_name = "Convolution2DTransposeBias";
    t->node.custom_options = options;
    t->node.custom_options_size = options_size;
    t->kernel = verge_kernel_find(VERGE_OP_CUSTOM, "Convolution2DTransposeBias");
}

static void tconv_registered(void)
{
    const verge_kernel *kernel = verge_kernel_find(VERGE_OP_CUSTOM, "Convolution2DTransposeBias");

    CHECK(kernel != NULL);
    if (kernel == NULL)
        return;
    CHECK_EQ_INT(kernel->op, VERGE_OP_CUSTOM);
    CHECK(kernel->custom_name != NULL);
    CHECK(kernel->custom_name != NULL &&
          strcmp(kernel->custom_name, "Convolution2DTransposeBias") == 0);
}

static void tconv_hand_checked(void)
{
    /*
     * Stride 2, SAME, 2x2 weights over a 2x2 image: total padding
     * max(0, 2 - 1 % 2 - 1) = 0, so the output is 4x4 and pixel (y, x)
     * fills the block at (2y, 2x) with in[y][x] * w, plus the bias.
     */
    float in[4] = {1, 2, 3, 4};
    float w[4] = {1, 10, 100, 1000};
    float bias[1] = {0.5f};
    const float expected[16] = {
        1.5f,   10.5f,   2.5f,   20.5f,
        100.5f, 1000.5f, 200.5f, 2000.5f,
        3.5f,   30.5f,   4.5f,   40.5f,
        300.5f, 3000.5f, 400.5f, 4000.5f,
    };
    uint8_t options[12];
    op_test t;

    options_write(options, SAME, 2, 2);
    tconv_init(&t, options, sizeof(options));
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, in);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 4, (int32_t[]){1, 2, 2, 1}, w, VERGE_STORAGE_CONSTANT);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 1, (int32_t[]){1}, bias, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 4, 4, 1}));
    for (int i = 0; i < 16; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 0);
    op_test_free(&t);
}

typedef struct size_case {
    int32_t padding, stride, in, k;
    int32_t out;
} size_case;

static void tconv_output_sizes(void)
{
    /* Sizes worked out by hand from MediaPipe's formula (see the kernel's header). */
    static const size_case cases[] = {
        {SAME, 2, 4, 3, 8},   {VALID, 2, 4, 3, 9}, {SAME, 1, 4, 3, 4},  {VALID, 1, 4, 3, 6},
        {SAME, 2, 4, 1, 7},   {SAME, 2, 3, 4, 5},  {SAME, 2, 128, 2, 256},
        {SAME, 2, 72, 2, 144}, {VALID, 3, 1, 2, 2}, {SAME, 3, 5, 2, 14},
    };
    static float dummy[4096];
    uint8_t options[12];

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const size_case *sc = &cases[c];
        op_test t;

        /* Height takes the case; width stays 1 with a 1-wide filter and stride 1. */
        options_write(options, sc->padding, 1, sc->stride);
        tconv_init(&t, options, sizeof(options));
        op_test_input_f32(&t, 4, (int32_t[]){1, sc->in, 1, 1}, dummy);
        op_test_input_f32(&t, 4, (int32_t[]){2, sc->k, 1, 1}, dummy);
        op_test_input_f32(&t, 1, (int32_t[]){2}, dummy);
        op_test_output(&t);
        CHECK_OK(op_test_prepare(&t));
        CHECK_MSG(op_test_shape_is(&t, 4, (int32_t[]){1, sc->out, 1, 2}),
                  "case %zu: padding %d stride %d in %d k %d gives height %d, expected %d", c,
                  sc->padding, sc->stride, sc->in, sc->k, op_test_out(&t)->dims[1], sc->out);
    }
}

/* Computes the transposed convolution by scattering every input pixel, in float64. */
static void tconv_reference(const float *in, const float *w, const float *bias, int batches,
                            int in_h, int in_w, int in_c, int kh, int kw, int out_c, int padding,
                            int stride_h, int stride_w, int out_h, int out_w, double *out)
{
    int pad_h = 0, pad_w = 0;

    if (padding == SAME) {
        int total_h = kh - (in_h - 1) % stride_h - 1;
        int total_w = kw - (in_w - 1) % stride_w - 1;

        pad_h = total_h > 0 ? total_h / 2 : 0;
        pad_w = total_w > 0 ? total_w / 2 : 0;
    }
    for (int i = 0; i < batches * out_h * out_w * out_c; i++)
        out[i] = bias[i % out_c];
    for (int b = 0; b < batches; b++)
        for (int y = 0; y < in_h; y++)
            for (int x = 0; x < in_w; x++)
                for (int oc = 0; oc < out_c; oc++)
                    for (int fy = 0; fy < kh; fy++)
                        for (int fx = 0; fx < kw; fx++) {
                            int oy = y * stride_h - pad_h + fy;
                            int ox = x * stride_w - pad_w + fx;

                            if (oy < 0 || oy >= out_h || ox < 0 || ox >= out_w)
                                continue;
                            for (int ic = 0; ic < in_c; ic++)
                                out[((b * out_h + oy) * out_w + ox) * out_c + oc] +=
                                    (double)in[((b * in_h + y) * in_w + x) * in_c + ic] *
                                    w[((oc * kh + fy) * kw + fx) * in_c + ic];
                        }
}

static void tconv_against_scatter(void)
{
    enum { BATCHES = 2, IN_H = 3, IN_W = 4, IN_C = 3, OUT_C = 2 };
    static const int kernels[][2] = {{3, 3}, {2, 2}, {1, 1}, {4, 3}, {2, 5}};
    static float in[BATCHES * IN_H * IN_W * IN_C];
    static float w[OUT_C * 5 * 5 * IN_C];
    float bias[OUT_C] = {0.25f, -1};
    static double want[BATCHES * 20 * 20 * OUT_C];
    uint8_t options[12];

    for (int i = 0; i < BATCHES * IN_H * IN_W * IN_C; i++)
        in[i] = (float)sin(i * 0.7 + 0.3);
    for (int i = 0; i < OUT_C * 5 * 5 * IN_C; i++)
        w[i] = (float)cos(i * 1.3) * 0.5f;

    for (int padding = SAME; padding <= VALID; padding++) {
        for (int stride = 1; stride <= 2; stride++) {
            for (size_t k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
                const int kh = kernels[k][0], kw = kernels[k][1];
                int out_h, out_w;
                op_test t;

                /* Vary the strides per axis too: height uses `stride`, width 3 - stride. */
                options_write(options, padding, 3 - stride, stride);
                tconv_init(&t, options, sizeof(options));
                op_test_input_f32(&t, 4, (int32_t[]){BATCHES, IN_H, IN_W, IN_C}, in);
                op_test_input_f32(&t, 4, (int32_t[]){OUT_C, kh, kw, IN_C}, w);
                op_test_input_f32(&t, 1, (int32_t[]){OUT_C}, bias);
                op_test_output(&t);
                CHECK_OK(op_test_run(&t));
                out_h = op_test_out(&t)->dims[1];
                out_w = op_test_out(&t)->dims[2];
                CHECK_EQ_INT(op_test_out(&t)->dims[0], BATCHES);
                CHECK_EQ_INT(op_test_out(&t)->dims[3], OUT_C);
                if (padding == VALID) {
                    CHECK_EQ_INT(out_h, stride * (IN_H - 1) + kh);
                    CHECK_EQ_INT(out_w, (3 - stride) * (IN_W - 1) + kw);
                }
                tconv_reference(in, w, bias, BATCHES, IN_H, IN_W, IN_C, kh, kw, OUT_C, padding,
                                stride, 3 - stride, out_h, out_w, want);
                for (int i = 0; i < BATCHES * out_h * out_w * OUT_C; i++)
                    CHECK_MSG(fabs(((float *)op_test_out(&t)->data)[i] - want[i]) <= 1e-5,
                              "padding %d stride %d kernel %dx%d element %d: %g, expected %g",
                              padding, stride, kh, kw, i, ((float *)op_test_out(&t)->data)[i],
                              want[i]);
                op_test_free(&t);
            }
        }
    }
}

static void tconv_prepare_errors(void)
{
    static float dummy[256];
    static int8_t quantized[256];
    uint8_t options[16];
    op_test t;

    /* Custom options of 8 and 16 bytes, and none at all. */
    options_write(options, SAME, 2, 2);
    const size_t bad_sizes[] = {8, 16, 0};
    for (size_t s = 0; s < 3; s++) {
        tconv_init(&t, bad_sizes[s] == 0 ? NULL : options, bad_sizes[s]);
        op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, dummy);
        op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, dummy);
        op_test_input_f32(&t, 1, (int32_t[]){1}, dummy);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
        CHECK_MSG(strstr(verge_error_message(), "12") != NULL, "message: %s",
                  verge_error_message());
    }

    /* Padding 0 (TFLite's unknown) and 3, a zero stride and a negative one. */
    const int32_t bad_options[][3] = {{0, 2, 2}, {3, 2, 2}, {SAME, 0, 2}, {VALID, 1, -2}};
    for (size_t b = 0; b < 4; b++) {
        options_write(options, bad_options[b][0], bad_options[b][1], bad_options[b][2]);
        tconv_init(&t, options, 12);
        op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, dummy);
        op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, dummy);
        op_test_input_f32(&t, 1, (int32_t[]){1}, dummy);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    }

    options_write(options, SAME, 2, 2);

    /* Weights with 2 input channels against a 3-channel input. */
    tconv_init(&t, options, 12);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 3}, dummy);
    op_test_input_f32(&t, 4, (int32_t[]){4, 2, 2, 2}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[4,2,2,2]") != NULL, "message: %s",
              verge_error_message());

    /* Bias of 3 against 4 output channels. */
    tconv_init(&t, options, 12);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 3}, dummy);
    op_test_input_f32(&t, 4, (int32_t[]){4, 2, 2, 3}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){3}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* An empty image, a rank-3 input and a missing bias. */
    tconv_init(&t, options, 12);
    op_test_input_f32(&t, 4, (int32_t[]){1, 0, 2, 3}, dummy);
    op_test_input_f32(&t, 4, (int32_t[]){4, 2, 2, 3}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    tconv_init(&t, options, 12);
    op_test_input_f32(&t, 3, (int32_t[]){2, 2, 3}, dummy);
    op_test_input_f32(&t, 4, (int32_t[]){4, 2, 2, 3}, dummy);
    op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    tconv_init(&t, options, 12);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 3}, dummy);
    op_test_input_f32(&t, 4, (int32_t[]){4, 2, 2, 3}, dummy);
    op_test_no_input(&t);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    tconv_init(&t, options, 12);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 3}, dummy);
    op_test_input_f32(&t, 4, (int32_t[]){4, 2, 2, 3}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* int8 input and weights. */
    tconv_init(&t, options, 12);
    op_test_input(&t, VERGE_DTYPE_INT8, 4, (int32_t[]){1, 2, 2, 3}, quantized,
                  VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_INT8, 4, (int32_t[]){4, 2, 2, 3}, quantized,
                  VERGE_STORAGE_CONSTANT);
    op_test_input_f32(&t, 1, (int32_t[]){4}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_UNSUPPORTED);
}

int main(void)
{
    RUN(tconv_registered);
    RUN(tconv_hand_checked);
    RUN(tconv_output_sizes);
    RUN(tconv_against_scatter);
    RUN(tconv_prepare_errors);
    return check_summary();
}
