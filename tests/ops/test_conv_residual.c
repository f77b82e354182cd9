/*
 * CONV_2D with a residual (params.conv.residual and input 3), as the
 * interpreter's fusion pass builds it from CONV_2D -> ADD -> RELU: on the
 * reference kernel and on every fast path, its output has exactly the bits
 * of the convolution alone followed by the addition and the clamp, also
 * when the residual has fewer channels than the output (the rest read as
 * +0.0f). Bad residuals are rejected at prepare.
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/cpu.h"
#include "ops/op_test.h"

static uint32_t rng = 12345;

static float *random_floats(size_t count)
{
    float *data = malloc(sizeof(float) * (count ? count : 1));

    for (size_t i = 0; i < count; i++) {
        rng = rng * 1664525u + 1013904223u;
        data[i] = (float)(rng >> 8) / (float)(1u << 23) - 1.0f;
    }
    return data;
}

static int uniform(int lo, int hi)
{
    rng = rng * 1664525u + 1013904223u;
    return lo + (int)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

typedef struct conv_case {
    int32_t in_dims[4], filter_dims[4], residual_c;
    verge_conv_params params;
    float *in, *filter, *bias, *residual;
} conv_case;

/* Runs the convolution, with the residual when `fused`; returns its output (owned) and shape. */
static float *run_conv(const conv_case *c, bool fused, const char *cpu, int32_t out_dims[4],
                       bool *fast)
{
    op_test t;
    float *copy = NULL;
    size_t count;

    setenv("VERGE_CPU", cpu, 1);
    op_test_init(&t, VERGE_OP_CONV_2D);
    t.node.params.conv = c->params;
    t.node.params.conv.residual = fused;
    if (!fused)
        t.node.params.conv.activation = VERGE_ACT_NONE;
    op_test_input_f32(&t, 4, c->in_dims, c->in);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 4, c->filter_dims, c->filter, VERGE_STORAGE_CONSTANT);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, 1, &c->filter_dims[0], c->bias,
                  VERGE_STORAGE_CONSTANT);
    if (fused) {
        int32_t residual_dims[4];

        /* The caller passes the output shape in out_dims. */
        memcpy(residual_dims, out_dims, sizeof(residual_dims));
        residual_dims[3] = c->residual_c;
        op_test_input_f32(&t, 4, residual_dims, c->residual);
    }
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    *fast = t.ctx.node_data != NULL;
    memcpy(out_dims, op_test_out(&t)->dims, sizeof(int32_t) * 4);
    count = verge_tensor_count(op_test_out(&t));
    if (op_test_out(&t)->data != NULL) {
        copy = malloc(sizeof(float) * (count ? count : 1));
        memcpy(copy, op_test_out(&t)->data, sizeof(float) * count);
    }
    op_test_free(&t);
    unsetenv("VERGE_CPU");
    return copy;
}

static void fused_equals_conv_then_add(void)
{
    static const verge_activation activations[] = {VERGE_ACT_NONE, VERGE_ACT_RELU,
                                                   VERGE_ACT_RELU6, VERGE_ACT_RELU_N1_TO_1};
    const char *cpus[4] = {"scalar"};
    int num_cpus = 1;

    if (verge_cpu_isa_available(VERGE_CPU_AVX2))
        cpus[num_cpus++] = "avx2";
    if (verge_cpu_isa_available(VERGE_CPU_AVX512))
        cpus[num_cpus++] = "avx512";
    if (verge_cpu_isa_available(VERGE_CPU_NEON))
        cpus[num_cpus++] = "neon";

    for (int i = 0; i < 60; i++) {
        int k = uniform(0, 2) ? 1 : 3, out_c = uniform(1, 40);
        conv_case c = {
            .in_dims = {1, uniform(1, 9), uniform(1, 9), uniform(1, 20)},
            .params = {.padding = VERGE_PADDING_SAME, .stride_h = 1, .stride_w = 1,
                       .dilation_h = 1, .dilation_w = 1, .depth_multiplier = 1,
                       .activation = activations[i % 4]},
        };
        size_t out_count;

        memcpy(c.filter_dims, (int32_t[]){out_c, k, k, c.in_dims[3]}, sizeof(c.filter_dims));
        c.residual_c = i % 3 == 0 ? uniform(1, out_c) : out_c;
        c.in = random_floats((size_t)c.in_dims[1] * c.in_dims[2] * c.in_dims[3]);
        c.filter = random_floats((size_t)out_c * k * k * c.in_dims[3]);
        c.bias = random_floats((size_t)out_c);
        /* SAME padding and stride 1: the output is in_h x in_w. */
        out_count = (size_t)c.in_dims[1] * c.in_dims[2];
        c.residual = random_floats(out_count * (size_t)c.residual_c);

        for (int p = 0; p < num_cpus; p++) {
            int32_t out_dims[4] = {1, c.in_dims[1], c.in_dims[2], out_c};
            bool fast_plain, fast_fused;
            float *plain = run_conv(&c, false, cpus[p], out_dims, &fast_plain);
            float *fused = run_conv(&c, true, cpus[p], out_dims, &fast_fused);
            size_t bad = 0;

            CHECK_MSG(fast_plain == fast_fused && fast_fused == (p > 0),
                      "case %d, %s: fast path use %d (plain) %d (fused)", i, cpus[p], fast_plain,
                      fast_fused);
            for (size_t px = 0; plain != NULL && fused != NULL && px < out_count; px++) {
                for (int oc = 0; oc < out_c; oc++) {
                    float add = oc < c.residual_c ? c.residual[px * (size_t)c.residual_c + oc]
                                                  : 0.0f;
                    float expected = verge_activate(plain[px * (size_t)out_c + oc] + add,
                                                    c.params.activation);
                    float got = fused[px * (size_t)out_c + oc];

                    bad += memcmp(&expected, &got, sizeof(float)) != 0;
                }
            }
            CHECK_MSG(plain != NULL && fused != NULL && bad == 0,
                      "case %d, %s, residual %d of %d channels: %zu outputs differ from the "
                      "convolution followed by ADD", i, cpus[p], (int)c.residual_c, out_c, bad);
            free(plain);
            free(fused);
        }
        free(c.in);
        free(c.filter);
        free(c.bias);
        free(c.residual);
    }
}

static void bad_residuals_rejected(void)
{
    static const struct {
        int32_t dims[4];
        const char *message;
    } cases[] = {
        {{1, 4, 5, 3}, "input 3 (residual) has shape [1,4,5,3]"},   /* width 5, output 4 */
        {{1, 4, 4, 7}, "input 3 (residual) has shape [1,4,4,7]"},   /* more channels than 6 */
        {{2, 4, 4, 6}, "input 3 (residual) has shape [2,4,4,6]"},   /* batch */
    };
    float in[4 * 4 * 2] = {0}, filter[6 * 2] = {0}, residual[2 * 4 * 5 * 7] = {0};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        op_test t;

        op_test_init(&t, VERGE_OP_CONV_2D);
        t.node.params.conv = (verge_conv_params){.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                                 .dilation_w = 1, .depth_multiplier = 1,
                                                 .residual = true};
        op_test_input_f32(&t, 4, (int32_t[]){1, 4, 4, 2}, in);
        op_test_input(&t, VERGE_DTYPE_FLOAT32, 4, (int32_t[]){6, 1, 1, 2}, filter,
                      VERGE_STORAGE_CONSTANT);
        op_test_no_input(&t);
        op_test_input_f32(&t, 4, cases[i].dims, residual);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
        CHECK_MSG(strstr(verge_error_message(), cases[i].message) != NULL, "message '%s'",
                  verge_error_message());
        op_test_free(&t);
    }

    /* Without the flag, a fourth input is one too many, as in TFLite. */
    {
        op_test t;

        op_test_init(&t, VERGE_OP_CONV_2D);
        t.node.params.conv = (verge_conv_params){.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                                 .dilation_w = 1, .depth_multiplier = 1};
        op_test_input_f32(&t, 4, (int32_t[]){1, 4, 4, 2}, in);
        op_test_input(&t, VERGE_DTYPE_FLOAT32, 4, (int32_t[]){6, 1, 1, 2}, filter,
                      VERGE_STORAGE_CONSTANT);
        op_test_no_input(&t);
        op_test_input_f32(&t, 4, (int32_t[]){1, 4, 4, 6}, residual);
        op_test_output(&t);
        CHECK_STATUS(op_test_prepare(&t), VERGE_STATUS_INVALID_MODEL);
        op_test_free(&t);
    }
}

int main(void)
{
    RUN(fused_equals_conv_then_add);
    RUN(bad_residuals_rejected);
    return check_summary();
}
