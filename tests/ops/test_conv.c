/* CONV_2D and DEPTHWISE_CONV_2D: hand-checked cases, a float64 oracle and prepare errors. */
#include "check.h"
#include "core/cpu.h"
#include "ops/op_test.h"

static verge_conv_params conv_params(verge_padding padding, int stride, int dilation,
                                     verge_activation activation)
{
    verge_conv_params p = {
        .padding = padding,
        .stride_w = stride,
        .stride_h = stride,
        .dilation_w = dilation,
        .dilation_h = dilation,
        .depth_multiplier = 1,
        .activation = activation,
    };
    return p;
}

/* Fills data[i] = i (a ramp), which makes window sums easy to add up by hand. */
static void ramp(float *data, int count)
{
    for (int i = 0; i < count; i++)
        data[i] = (float)i;
}

/* Deterministic values in [-1, 1) without a library generator. */
static void pseudo_random(float *data, int count, unsigned seed)
{
    for (int i = 0; i < count; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static double activate64(double x, verge_activation activation)
{
    switch (activation) {
    case VERGE_ACT_RELU: return x < 0 ? 0 : x;
    case VERGE_ACT_RELU_N1_TO_1: return x < -1 ? -1 : (x > 1 ? 1 : x);
    case VERGE_ACT_RELU6: return x < 0 ? 0 : (x > 6 ? 6 : x);
    case VERGE_ACT_TANH: return tanh(x);
    default: return x;
    }
}

/*
 * float64 oracle for CONV_2D (groups = in_c / filter_c) and, with
 * `depthwise`, DEPTHWISE_CONV_2D. Padding is passed in explicitly as the
 * test computed it by hand.
 */
static void conv_reference(const float *in, const int32_t *in_dims, const float *filter,
                           const int32_t *f_dims, const float *bias, int stride, int dilation,
                           int pad_top, int pad_left, int out_h, int out_w, bool depthwise,
                           int multiplier, verge_activation activation, double *out)
{
    int n = in_dims[0], h = in_dims[1], w = in_dims[2], c = in_dims[3];
    int kh = f_dims[1], kw = f_dims[2], fc = f_dims[3];
    int out_c = depthwise ? fc : f_dims[0];
    int groups = depthwise ? 1 : c / fc;
    int per_group = out_c / groups;

    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < out_h; oy++)
            for (int ox = 0; ox < out_w; ox++)
                for (int oc = 0; oc < out_c; oc++) {
                    double sum = bias ? bias[oc] : 0.0;

                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++) {
                            int iy = oy * stride - pad_top + ky * dilation;
                            int ix = ox * stride - pad_left + kx * dilation;

                            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                continue;
                            if (depthwise) {
                                int ic = oc / multiplier;
                                sum += (double)in[((b * h + iy) * w + ix) * c + ic] *
                                       filter[(ky * kw + kx) * fc + oc];
                            } else {
                                int first = oc / per_group * fc;
                                for (int ic = 0; ic < fc; ic++)
                                    sum += (double)in[((b * h + iy) * w + ix) * c + first + ic] *
                                           filter[((oc * kh + ky) * kw + kx) * fc + ic];
                            }
                        }
                    out[((b * out_h + oy) * out_w + ox) * out_c + oc] = activate64(sum, activation);
                }
}

static void conv_valid_with_bias(void)
{
    /* 3x3 ramp 1..9, 2x2 filter {1,2,3,4}: each output is a dot product checked by hand. */
    float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float filter[4] = {1, 2, 3, 4};
    float bias[1] = {1};
    op_test t;

    op_test_init(&t, VERGE_OP_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_VALID, 1, 1, VERGE_ACT_NONE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 3, 3, 1}, in);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, filter);
    op_test_input_f32(&t, 1, (int32_t[]){1}, bias);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 2, 1}));
    const float *out = op_test_out(&t)->data;
    CHECK_NEAR(out[0], 1 * 1 + 2 * 2 + 4 * 3 + 5 * 4 + 1, 0); /* 38 */
    CHECK_NEAR(out[1], 2 * 1 + 3 * 2 + 5 * 3 + 6 * 4 + 1, 0); /* 48 */
    CHECK_NEAR(out[2], 4 * 1 + 5 * 2 + 7 * 3 + 8 * 4 + 1, 0); /* 68 */
    CHECK_NEAR(out[3], 5 * 1 + 6 * 2 + 8 * 3 + 9 * 4 + 1, 0); /* 78 */
    op_test_free(&t);
}

static void conv_same_stride2_no_bias(void)
{
    /* 5x5 ramp, 3x3 ones, stride 2, SAME: out 3x3, total padding 2 -> 1 on each side. */
    float in[25], filter[9];
    op_test t;

    ramp(in, 25);
    for (int i = 0; i < 9; i++)
        filter[i] = 1;
    op_test_init(&t, VERGE_OP_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_SAME, 2, 1, VERGE_ACT_NONE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 5, 5, 1}, in);
    op_test_input_f32(&t, 4, (int32_t[]){1, 3, 3, 1}, filter);
    op_test_no_input(&t);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 3, 3, 1}));
    const float *out = op_test_out(&t)->data;
    CHECK_NEAR(out[0], 0 + 1 + 5 + 6, 0);                      /* rows 0-1, cols 0-1 */
    CHECK_NEAR(out[1], 1 + 2 + 3 + 6 + 7 + 8, 0);              /* rows 0-1, cols 1-3 */
    CHECK_NEAR(out[4], 6 + 7 + 8 + 11 + 12 + 13 + 16 + 17 + 18, 0); /* rows 1-3, cols 1-3 */
    CHECK_NEAR(out[8], 18 + 19 + 23 + 24, 0);                  /* rows 3-4, cols 3-4 */
    op_test_free(&t);
}

static void conv_odd_padding_goes_after(void)
{
    /* 4x4 ramp, 3x3 ones, stride 2, SAME: total padding 1 -> 0 before, 1 after. */
    float in[16], filter[9];
    op_test t;

    ramp(in, 16);
    for (int i = 0; i < 9; i++)
        filter[i] = 1;
    op_test_init(&t, VERGE_OP_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_SAME, 2, 1, VERGE_ACT_NONE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 4, 4, 1}, in);
    op_test_input_f32(&t, 4, (int32_t[]){1, 3, 3, 1}, filter);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 2, 2, 1}));
    const float *out = op_test_out(&t)->data;
    CHECK_NEAR(out[0], 0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10, 0); /* rows 0-2, cols 0-2 */
    CHECK_NEAR(out[1], 2 + 3 + 6 + 7 + 10 + 11, 0);            /* rows 0-2, cols 2-3 */
    CHECK_NEAR(out[2], 8 + 9 + 10 + 12 + 13 + 14, 0);          /* rows 2-3, cols 0-2 */
    CHECK_NEAR(out[3], 10 + 11 + 14 + 15, 0);                  /* rows 2-3, cols 2-3 */
    op_test_free(&t);
}

static void conv_dilation2(void)
{
    /* 5x5 ramp, 3x3 ones dilated by 2 (spans 5 cells). */
    float in[25], filter[9];
    op_test t;

    ramp(in, 25);
    for (int i = 0; i < 9; i++)
        filter[i] = 1;

    /* VALID: one output over rows and columns {0, 2, 4}. */
    op_test_init(&t, VERGE_OP_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_VALID, 1, 2, VERGE_ACT_NONE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 5, 5, 1}, in);
    op_test_input_f32(&t, 4, (int32_t[]){1, 3, 3, 1}, filter);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 1, 1, 1}));
    CHECK_NEAR(((float *)op_test_out(&t)->data)[0], 0 + 2 + 4 + 10 + 12 + 14 + 20 + 22 + 24, 0);
    op_test_free(&t);

    /* SAME, stride 1: total padding 4 -> 2 before; output (0,0) taps rows/cols {-2, 0, 2}. */
    op_test_init(&t, VERGE_OP_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_SAME, 1, 2, VERGE_ACT_NONE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 5, 5, 1}, in);
    op_test_input_f32(&t, 4, (int32_t[]){1, 3, 3, 1}, filter);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 5, 5, 1}));
    const float *out = op_test_out(&t)->data;
    CHECK_NEAR(out[0], 0 + 2 + 10 + 12, 0);
    /* The centre output reads all 9 taps. */
    CHECK_NEAR(out[12], 0 + 2 + 4 + 10 + 12 + 14 + 20 + 22 + 24, 0);
    CHECK_NEAR(out[24], 12 + 14 + 22 + 24, 0);
    op_test_free(&t);
}

static void conv_grouped(void)
{
    /* 4 input channels, filter with 2 channels -> 2 groups; out c0 reads c0-1, c1 reads c2-3. */
    float in[4] = {1, 2, 3, 4};
    float filter[4] = {10, 20, 30, 40};
    op_test t;

    op_test_init(&t, VERGE_OP_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_VALID, 1, 1, VERGE_ACT_NONE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, 1, 4}, in);
    op_test_input_f32(&t, 4, (int32_t[]){2, 1, 1, 2}, filter);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 1, 1, 2}));
    const float *out = op_test_out(&t)->data;
    CHECK_NEAR(out[0], 1 * 10 + 2 * 20, 0);
    CHECK_NEAR(out[1], 3 * 30 + 4 * 40, 0);
    op_test_free(&t);
}

static void conv_each_activation(void)
{
    /* A 1x1 identity convolution shows the activation alone. */
    static const verge_activation acts[] = {VERGE_ACT_NONE, VERGE_ACT_RELU,
                                            VERGE_ACT_RELU_N1_TO_1, VERGE_ACT_RELU6,
                                            VERGE_ACT_TANH};
    static const double expected[][4] = {
        {-7, -0.5, 0.5, 7},
        {0, 0, 0.5, 7},
        {-1, -0.5, 0.5, 1},
        {0, 0, 0.5, 6},
        {-0.999998336943945, -0.46211715726000974, 0.46211715726000974, 0.999998336943945},
    };
    float in[4] = {-7, -0.5f, 0.5f, 7};
    float filter[1] = {1};

    for (size_t a = 0; a < sizeof(acts) / sizeof(acts[0]); a++) {
        op_test t;

        op_test_init(&t, VERGE_OP_CONV_2D);
        t.node.params.conv = conv_params(VERGE_PADDING_VALID, 1, 1, acts[a]);
        op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 1}, in);
        op_test_input_f32(&t, 4, (int32_t[]){1, 1, 1, 1}, filter);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[a][i], 1e-6);
        op_test_free(&t);
    }
}

static void conv_matches_float64_oracle(void)
{
    /*
     * [2,7,6,3] input, [4,3,3,3] filter, stride 2, dilation 2, SAME:
     * out = ceil(7/2) x ceil(6/2) = 4 x 3; total padding rows (3*2+5-7)=4 -> 2,
     * cols (2*2+5-6)=3 -> 1 before (the odd cell after).
     */
    enum { N = 2, H = 7, W = 6, C = 3, OC = 4, OH = 4, OW = 3 };
    static const verge_activation acts[] = {VERGE_ACT_NONE, VERGE_ACT_RELU6, VERGE_ACT_TANH};
    float in[N * H * W * C], filter[OC * 3 * 3 * C], bias[OC];
    double expected[N * OH * OW * OC];

    pseudo_random(in, N * H * W * C, 1);
    pseudo_random(filter, OC * 3 * 3 * C, 2);
    pseudo_random(bias, OC, 3);
    for (size_t a = 0; a < sizeof(acts) / sizeof(acts[0]); a++) {
        op_test t;

        conv_reference(in, (int32_t[]){N, H, W, C}, filter, (int32_t[]){OC, 3, 3, C}, bias, 2, 2,
                       2, 1, OH, OW, false, 1, acts[a], expected);
        op_test_init(&t, VERGE_OP_CONV_2D);
        t.node.params.conv = conv_params(VERGE_PADDING_SAME, 2, 2, acts[a]);
        op_test_input_f32(&t, 4, (int32_t[]){N, H, W, C}, in);
        op_test_input_f32(&t, 4, (int32_t[]){OC, 3, 3, C}, filter);
        op_test_input_f32(&t, 1, (int32_t[]){OC}, bias);
        op_test_output(&t);
        CHECK_OK(op_test_run(&t));
        CHECK(op_test_shape_is(&t, 4, (int32_t[]){N, OH, OW, OC}));
        for (int i = 0; i < N * OH * OW * OC; i++)
            CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 1e-5);
        op_test_free(&t);
    }
}

static void depthwise_multiplier2(void)
{
    /*
     * Input 2x2 with channels {a, b}; filter [1,2,2,4] with out channel
     * oc = ic * 2 + m. VALID gives one pixel: out[oc] = sum over the 4 taps
     * of in[tap][oc / 2] * f[tap][oc].
     */
    float in[8] = {1, 10, 2, 20, 3, 30, 4, 40};
    float filter[16] = {1, 2, 3, 4, /* tap (0,0) */
                        5, 6, 7, 8, /* tap (0,1) */
                        1, 1, 1, 1, /* tap (1,0) */
                        0, 0, 0, 2 /* tap (1,1) */};
    float bias[4] = {0.5f, 0, 0, -1};
    op_test t;

    op_test_init(&t, VERGE_OP_DEPTHWISE_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_VALID, 1, 1, VERGE_ACT_NONE);
    t.node.params.conv.depth_multiplier = 2;
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 2}, in);
    op_test_input_f32(&t, 4, (int32_t[]){1, 2, 2, 4}, filter);
    op_test_input_f32(&t, 1, (int32_t[]){4}, bias);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 1, 1, 4}));
    const float *out = op_test_out(&t)->data;
    CHECK_NEAR(out[0], 1 * 1 + 2 * 5 + 3 * 1 + 4 * 0 + 0.5, 0);
    CHECK_NEAR(out[1], 1 * 2 + 2 * 6 + 3 * 1 + 4 * 0, 0);
    CHECK_NEAR(out[2], 10 * 3 + 20 * 7 + 30 * 1 + 40 * 0, 0);
    CHECK_NEAR(out[3], 10 * 4 + 20 * 8 + 30 * 1 + 40 * 2 - 1, 0);
    op_test_free(&t);
}

static void depthwise_matches_float64_oracle(void)
{
    /*
     * [1,6,5,2] input, multiplier 2, 3x3 filter, stride 2, dilation 2, SAME:
     * out 3x3; rows total (2*2+5-6)=3 -> 1 before, cols (2*2+5-5)=4 -> 2.
     */
    enum { H = 6, W = 5, C = 2, M = 2, OH = 3, OW = 3 };
    float in[H * W * C], filter[3 * 3 * C * M];
    double expected[OH * OW * C * M];
    op_test t;

    pseudo_random(in, H * W * C, 4);
    pseudo_random(filter, 3 * 3 * C * M, 5);
    conv_reference(in, (int32_t[]){1, H, W, C}, filter, (int32_t[]){1, 3, 3, C * M}, NULL, 2, 2,
                   1, 2, OH, OW, true, M, VERGE_ACT_RELU, expected);
    op_test_init(&t, VERGE_OP_DEPTHWISE_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_SAME, 2, 2, VERGE_ACT_RELU);
    t.node.params.conv.depth_multiplier = M;
    op_test_input_f32(&t, 4, (int32_t[]){1, H, W, C}, in);
    op_test_input_f32(&t, 4, (int32_t[]){1, 3, 3, C * M}, filter);
    op_test_no_input(&t);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, OH, OW, C * M}));
    for (int i = 0; i < OH * OW * C * M; i++)
        CHECK_NEAR(((float *)op_test_out(&t)->data)[i], expected[i], 1e-5);
    op_test_free(&t);
}

/*
 * Explicit padding (set by the fusion pass when it folds a PAD) on every
 * kernel path against the float64 oracle: uneven amounts, on its own
 * (VALID) and added to SAME, for CONV_2D and DEPTHWISE_CONV_2D, with
 * output rows and columns that see only padding.
 */
static void explicit_padding_matches_oracle(void)
{
    static const verge_cpu_isa cpus[] = {VERGE_CPU_SCALAR, VERGE_CPU_AVX2, VERGE_CPU_AVX512,
                                         VERGE_CPU_NEON};
    static const struct {
        bool depthwise;
        int32_t h, w, c, oc, k, stride;
        verge_padding padding;
        int top, bottom, left, right;
    } cases[] = {
        {false, 9, 11, 3, 8, 3, 2, VERGE_PADDING_VALID, 0, 1, 0, 1},
        {false, 6, 7, 5, 17, 3, 1, VERGE_PADDING_SAME, 2, 0, 1, 3},
        {false, 4, 5, 4, 6, 1, 1, VERGE_PADDING_VALID, 0, 2, 1, 3},
        {true, 10, 19, 24, 24, 3, 1, VERGE_PADDING_VALID, 1, 1, 1, 1},
        {true, 7, 13, 16, 16, 5, 2, VERGE_PADDING_SAME, 0, 3, 2, 0},
        {true, 5, 9, 9, 9, 3, 1, VERGE_PADDING_VALID, 4, 0, 0, 6},
    };
    enum { MAX_IN = 10 * 19 * 24, MAX_OUT = 10 * 19 * 24, MAX_FILTER = 17 * 3 * 3 * 5 };
    static float in[MAX_IN], filter[MAX_FILTER], bias[32];
    static double expected[MAX_OUT];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const int32_t in_dims[4] = {1, cases[i].h, cases[i].w, cases[i].c};
        const int32_t f_dims[4] = {cases[i].depthwise ? 1 : cases[i].oc, cases[i].k, cases[i].k,
                                   cases[i].depthwise ? cases[i].oc : cases[i].c};
        verge_conv_params params =
            conv_params(cases[i].padding, cases[i].stride, 1, VERGE_ACT_NONE);
        const int32_t padded_h = cases[i].h + cases[i].top + cases[i].bottom;
        const int32_t padded_w = cases[i].w + cases[i].left + cases[i].right;
        int32_t out_h, out_w, same_top = 0, same_left = 0;

        /* SAME on the padded size, as TFLite computes it; VALID adds nothing. */
        if (cases[i].padding == VERGE_PADDING_SAME) {
            out_h = (padded_h + cases[i].stride - 1) / cases[i].stride;
            out_w = (padded_w + cases[i].stride - 1) / cases[i].stride;
            same_top = ((out_h - 1) * cases[i].stride + cases[i].k - padded_h) / 2;
            same_left = ((out_w - 1) * cases[i].stride + cases[i].k - padded_w) / 2;
        } else {
            out_h = (padded_h - cases[i].k) / cases[i].stride + 1;
            out_w = (padded_w - cases[i].k) / cases[i].stride + 1;
        }
        params.pad_top = cases[i].top;
        params.pad_bottom = cases[i].bottom;
        params.pad_left = cases[i].left;
        params.pad_right = cases[i].right;
        pseudo_random(in, cases[i].h * cases[i].w * cases[i].c, 11 + (unsigned)i);
        pseudo_random(filter, f_dims[0] * f_dims[1] * f_dims[2] * f_dims[3], 23 + (unsigned)i);
        pseudo_random(bias, cases[i].oc, 37 + (unsigned)i);
        conv_reference(in, in_dims, filter, f_dims, bias, cases[i].stride, 1,
                       cases[i].top + same_top, cases[i].left + same_left, out_h, out_w,
                       cases[i].depthwise, 1, VERGE_ACT_NONE, expected);

        for (size_t c = 0; c < sizeof(cpus) / sizeof(cpus[0]); c++) {
            const char *cpu = verge_cpu_isa_name(cpus[c]);
            size_t bad = 0;
            op_test t;

            if (!verge_cpu_isa_available(cpus[c]))
                continue;
            setenv("VERGE_CPU", cpu, 1);
            op_test_init(&t, cases[i].depthwise ? VERGE_OP_DEPTHWISE_CONV_2D : VERGE_OP_CONV_2D);
            t.node.params.conv = params;
            op_test_input_f32(&t, 4, in_dims, in);
            op_test_input_f32(&t, 4, f_dims, filter);
            op_test_input_f32(&t, 1, (int32_t[]){cases[i].oc}, bias);
            op_test_output(&t);
            CHECK_OK(op_test_run(&t));
            unsetenv("VERGE_CPU");
            CHECK_MSG(op_test_shape_is(&t, 4, (int32_t[]){1, out_h, out_w, cases[i].oc}),
                      "case %zu, VERGE_CPU=%s: wrong output shape", i, cpu);
            for (int o = 0; op_test_out(&t)->data != NULL && o < out_h * out_w * cases[i].oc;
                 o++)
                bad += fabs(((float *)op_test_out(&t)->data)[o] - expected[o]) > 1e-5;
            CHECK_MSG(bad == 0, "case %zu, VERGE_CPU=%s: %zu outputs differ from the oracle", i,
                      cpu, bad);
            op_test_free(&t);
        }
    }
}

/* Runs prepare on a CONV_2D node with the given shapes and returns its status. */
static verge_status conv_prepare_shapes(int op, verge_dtype in_dtype, int in_rank,
                                        const int32_t *in_dims, const int32_t *f_dims,
                                        const int32_t *bias_dims, verge_conv_params params)
{
    static float dummy[1];
    op_test t;

    op_test_init(&t, op);
    t.node.params.conv = params;
    op_test_input(&t, in_dtype, in_rank, in_dims, dummy, VERGE_STORAGE_ARENA);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 4, f_dims, dummy, VERGE_STORAGE_CONSTANT);
    if (bias_dims != NULL)
        op_test_input(&t, VERGE_DTYPE_FLOAT32, 1, bias_dims, dummy, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    return op_test_prepare(&t);
}

static void conv_prepare_errors(void)
{
    verge_conv_params same = conv_params(VERGE_PADDING_SAME, 1, 1, VERGE_ACT_NONE);
    verge_conv_params valid = conv_params(VERGE_PADDING_VALID, 1, 1, VERGE_ACT_NONE);

    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){8, 3, 3, 4}, NULL, same),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "[8,3,3,4]") != NULL &&
                  strstr(verge_error_message(), "3 channels") != NULL,
              "message: %s", verge_error_message());

    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 3,
                                     (int32_t[]){8, 8, 3}, (int32_t[]){8, 3, 3, 3}, NULL, same),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "rank 3") != NULL, "message: %s",
              verge_error_message());

    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_INT8, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){8, 3, 3, 3}, NULL, same),
                 VERGE_STATUS_UNSUPPORTED);
    CHECK_MSG(strstr(verge_error_message(), "int8") != NULL, "message: %s",
              verge_error_message());

    /* Bias length must equal the output channels. */
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){8, 3, 3, 3},
                                     (int32_t[]){7}, same),
                 VERGE_STATUS_INVALID_MODEL);

    /* 6 output channels cannot split into the 3 groups of a 3-channel filter on 9 channels... */
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 8, 8, 9}, (int32_t[]){4, 3, 3, 3}, NULL, same),
                 VERGE_STATUS_INVALID_MODEL);
    /* ...but 6 can. */
    CHECK_OK(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                 (int32_t[]){1, 8, 8, 9}, (int32_t[]){6, 3, 3, 3}, NULL, same));

    /* VALID with a 5x5 filter on a 4x4 input has no output. */
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 4, 4, 1}, (int32_t[]){1, 5, 5, 1}, NULL, valid),
                 VERGE_STATUS_INVALID_MODEL);

    same.stride_h = 0;
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){8, 3, 3, 3}, NULL, same),
                 VERGE_STATUS_INVALID_MODEL);
    same.stride_h = 1;

    same.activation = VERGE_ACT_SIGN_BIT;
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){8, 3, 3, 3}, NULL, same),
                 VERGE_STATUS_UNSUPPORTED);
    same.activation = (verge_activation)9;
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){8, 3, 3, 3}, NULL, same),
                 VERGE_STATUS_INVALID_MODEL);
    same.activation = VERGE_ACT_NONE;

    /* Explicit padding must not be negative. */
    valid.pad_bottom = -1;
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){8, 3, 3, 3}, NULL, valid),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "explicit padding along height is 0 before and -1 "
                                            "after") != NULL,
              "message: %s", verge_error_message());
    valid.pad_bottom = 0;
    /* Explicit padding can make room for a filter wider than the input. */
    {
        static float in[15], filter[25];
        op_test t;

        op_test_init(&t, VERGE_OP_CONV_2D);
        t.node.params.conv = valid;
        t.node.params.conv.pad_left = 1;
        t.node.params.conv.pad_right = 1;
        op_test_input_f32(&t, 4, (int32_t[]){1, 5, 3, 1}, in);
        op_test_input_f32(&t, 4, (int32_t[]){1, 5, 5, 1}, filter);
        op_test_output(&t);
        CHECK_OK(op_test_prepare(&t));
        CHECK(op_test_shape_is(&t, 4, (int32_t[]){1, 1, 1, 1}));
        op_test_free(&t);
    }

    /* Depthwise: filter channels must be in_c * depth_multiplier, filter dim 0 must be 1. */
    same.depth_multiplier = 2;
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_DEPTHWISE_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){1, 3, 3, 3}, NULL, same),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "depth_multiplier is 2") != NULL, "message: %s",
              verge_error_message());
    CHECK_OK(conv_prepare_shapes(VERGE_OP_DEPTHWISE_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                 (int32_t[]){1, 8, 8, 3}, (int32_t[]){1, 3, 3, 6}, NULL, same));
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_DEPTHWISE_CONV_2D, VERGE_DTYPE_FLOAT32, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){2, 3, 3, 6}, NULL, same),
                 VERGE_STATUS_INVALID_MODEL);
    CHECK_STATUS(conv_prepare_shapes(VERGE_OP_DEPTHWISE_CONV_2D, VERGE_DTYPE_INT8, 4,
                                     (int32_t[]){1, 8, 8, 3}, (int32_t[]){1, 3, 3, 6}, NULL, same),
                 VERGE_STATUS_UNSUPPORTED);
}

static void conv_prepare_input_count(void)
{
    static float dummy[1];
    op_test t;

    op_test_init(&t, VERGE_OP_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_SAME, 1, 1, VERGE_ACT_NONE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, 1, 1}, dummy);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);

    /* A missing required filter is reported as such. */
    op_test_init(&t, VERGE_OP_CONV_2D);
    t.node.params.conv = conv_params(VERGE_PADDING_SAME, 1, 1, VERGE_ACT_NONE);
    op_test_input_f32(&t, 4, (int32_t[]){1, 1, 1, 1}, dummy);
    op_test_no_input(&t);
    op_test_output(&t);
    CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
    CHECK_MSG(strstr(verge_error_message(), "filter") != NULL, "message: %s",
              verge_error_message());
}

int main(void)
{
    RUN(conv_valid_with_bias);
    RUN(conv_same_stride2_no_bias);
    RUN(conv_odd_padding_goes_after);
    RUN(conv_dilation2);
    RUN(conv_grouped);
    RUN(conv_each_activation);
    RUN(conv_matches_float64_oracle);
    RUN(depthwise_multiplier2);
    RUN(depthwise_matches_float64_oracle);
    RUN(explicit_padding_matches_oracle);
    RUN(conv_prepare_errors);
    RUN(conv_prepare_input_count);
    return check_summary();
}
