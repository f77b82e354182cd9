/*
 * The fast float32 paths of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED
 * (src/ops/fast.h) against the reference kernels, on random shapes,
 * strides, dilations, paddings, activations, with and without bias.
 *
 * Tolerance per output: |fast - reference| <= 1e-5 * S + 1e-6, where S is
 * the sum of the absolute values of the products and the bias that make
 * that output (the reference kernel run on |input|, |weights| and |bias|).
 * Both sides round each step to float32; they differ only in fused
 * multiply-adds and in where the bias is added.
 *
 * Every fast path (avx2, avx512, neon) that this CPU has runs; they must give the
 * same bits as each other, and on 1 and 3 threads. Also: NaN passes
 * through the activations as in the reference, and nodes that a fast path
 * does not cover (grouped convolution, depth multiplier 2, TANH, weights
 * computed at run time) keep the reference kernel.
 *
 * The element-wise fast paths (ADD, SUB, MUL, MAXIMUM, MINIMUM, RELU, RELU6,
 * RELU_N1_TO_1, LEAKY_RELU, HARD_SWISH) and the pooling ones (MAX_POOL_2D,
 * AVERAGE_POOL_2D) must give the reference's bits
 * exactly, on data full of signed zeros, NaN, infinities and subnormals
 * (any NaN counts as the same).
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/cpu.h"
#include "core/threadpool.h"
#include "ops/op_random.h"
#include "ops/op_test.h"

enum { CASES = 400 };


static float *absolute(const float *data, size_t count)
{
    float *copy = malloc(sizeof(float) * (count ? count : 1));

    for (size_t i = 0; i < count; i++)
        copy[i] = fabsf(data[i]);
    return copy;
}

static const verge_activation activations[] = {VERGE_ACT_NONE, VERGE_ACT_RELU,
                                               VERGE_ACT_RELU_N1_TO_1, VERGE_ACT_RELU6};

/* One node to run: op, parameters and inputs (input 0 computed, the rest constants). */
typedef struct node_case {
    int op;
    verge_op_params params;
    int rank[3];
    int32_t dims[3][4];
    const float *data[3];       /* data[2] NULL: no bias */
    bool weights_computed;      /* weights as a computed tensor instead of a constant */
} node_case;

typedef struct node_result {
    float *out;                 /* owned copy; NULL when the run failed */
    size_t count;
    bool fast;                  /* prepare kept fast-path state */
} node_result;

/* Runs the case with VERGE_CPU=`cpu` on `pool` (may be NULL). */
static node_result run_case(const node_case *c, const char *cpu, verge_threadpool *pool)
{
    node_result result = {0};
    op_test t;

    setenv("VERGE_CPU", cpu, 1);
    op_test_init(&t, c->op);
    t.node.params = c->params;
    t.ctx.pool = pool;
    op_test_input_f32(&t, c->rank[0], c->dims[0], c->data[0]);
    op_test_input(&t, VERGE_DTYPE_FLOAT32, c->rank[1], c->dims[1], c->data[1],
                  c->weights_computed ? VERGE_STORAGE_ARENA : VERGE_STORAGE_CONSTANT);
    if (c->data[2] != NULL)
        op_test_input(&t, VERGE_DTYPE_FLOAT32, c->rank[2], c->dims[2], c->data[2],
                      VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    CHECK_OK(op_test_run(&t));
    result.fast = t.ctx.node_data != NULL;
    result.count = verge_tensor_count(op_test_out(&t));
    if (op_test_out(&t)->data != NULL) {
        result.out = malloc(sizeof(float) * (result.count ? result.count : 1));
        memcpy(result.out, op_test_out(&t)->data, sizeof(float) * result.count);
    }
    op_test_free(&t);
    unsetenv("VERGE_CPU");
    return result;
}

/* The fast instruction sets this CPU and build have (VERGE_CPU values); set by main(). */
static const char *fast_cpus[3];
static int num_fast_cpus;

/*
 * Runs the case on the reference kernel, on each fast path (1 and 3
 * threads), and on |operands| for the tolerance; checks every output, and
 * that all fast paths give the same bits. Returns the largest error as a
 * fraction of its allowance.
 */
static double compare_case(const node_case *c, const char *label, verge_threadpool *pool)
{
    node_case magnitude = *c;
    node_result ref, bound, first = {0};
    size_t counts[3];
    float *abs_data[3] = {NULL, NULL, NULL};
    double worst = 0;

    for (int i = 0; i < 3; i++) {
        counts[i] = 1;
        for (int d = 0; d < c->rank[i]; d++)
            counts[i] *= (size_t)c->dims[i][d];
        if (c->data[i] != NULL)
            abs_data[i] = absolute(c->data[i], counts[i]);
        magnitude.data[i] = abs_data[i];
    }
    magnitude.params.conv.activation = VERGE_ACT_NONE;
    if (c->op == VERGE_OP_FULLY_CONNECTED)
        magnitude.params.fully_connected.activation = VERGE_ACT_NONE;

    ref = run_case(c, "scalar", NULL);
    bound = run_case(&magnitude, "scalar", NULL);
    CHECK_MSG(!ref.fast, "%s: VERGE_CPU=scalar kept fast-path state", label);
    for (int k = 0; k < num_fast_cpus; k++) {
        node_result fast = run_case(c, fast_cpus[k], NULL);
        node_result threaded = run_case(c, fast_cpus[k], pool);

        CHECK_MSG(fast.fast, "%s, %s: no fast path was prepared", label, fast_cpus[k]);
        if (ref.out != NULL && fast.out != NULL && threaded.out != NULL && bound.out != NULL &&
            ref.count == fast.count) {
            size_t bad = 0, first_bad = 0;

            for (size_t i = 0; i < ref.count; i++) {
                double allowed = 1e-5 * bound.out[i] + 1e-6;
                double error = fabs((double)fast.out[i] - ref.out[i]);

                if (!(error <= allowed) && bad++ == 0)
                    first_bad = i;
                if (error / allowed > worst)
                    worst = error / allowed;
            }
            CHECK_MSG(bad == 0, "%s, %s: %zu of %zu outputs off; output %zu fast %.9g reference "
                      "%.9g allowed %.3g", label, fast_cpus[k], bad, ref.count, first_bad,
                      fast.out[first_bad], ref.out[first_bad],
                      1e-5 * bound.out[first_bad] + 1e-6);
            CHECK_MSG(memcmp(fast.out, threaded.out, sizeof(float) * fast.count) == 0,
                      "%s, %s: 3 threads differ from 1 thread", label, fast_cpus[k]);
            if (first.out != NULL)
                CHECK_MSG(memcmp(fast.out, first.out, sizeof(float) * fast.count) == 0,
                          "%s: %s differs from %s", label, fast_cpus[k], fast_cpus[0]);
        }
        free(threaded.out);
        if (first.out == NULL)
            first = fast;
        else
            free(fast.out);
    }
    free(first.out);
    free(ref.out);
    free(bound.out);
    for (int i = 0; i < 3; i++)
        free(abs_data[i]);
    return worst;
}

/* A random CONV_2D or DEPTHWISE_CONV_2D case; the caller frees data[0..2]. */
static void random_conv(node_case *c, bool depthwise)
{
    verge_conv_params *p = &c->params.conv;
    int kh = uniform(1, 5), kw = uniform(1, 9), in_c = uniform(1, 40);
    int out_c = depthwise ? in_c : uniform(1, 40);
    size_t in_count, filter_count;

    /* The zoo's shapes are mostly square 1x1, 3x3 and 5x5. */
    if (uniform(0, 2) == 0)
        kw = kh = uniform(0, 1) ? 1 : (uniform(0, 1) ? 3 : 5);
    memset(c, 0, sizeof(*c));
    c->op = depthwise ? VERGE_OP_DEPTHWISE_CONV_2D : VERGE_OP_CONV_2D;
    p->padding = uniform(0, 1) ? VERGE_PADDING_SAME : VERGE_PADDING_VALID;
    p->stride_h = uniform(1, 3);
    p->stride_w = uniform(0, 3) ? p->stride_h : uniform(1, 3);
    p->dilation_h = uniform(0, 3) ? 1 : 2;
    p->dilation_w = uniform(0, 3) ? p->dilation_h : uniform(1, 2);
    p->depth_multiplier = 1;
    p->activation = activations[uniform(0, 3)];

    c->rank[0] = 4;
    c->dims[0][0] = uniform(1, 4) == 1 ? 2 : 1;
    /* Big enough for the dilated filter, so that VALID padding has an output. */
    c->dims[0][1] = (kh - 1) * p->dilation_h + 1 + uniform(0, 12);
    c->dims[0][2] = (kw - 1) * p->dilation_w + 1 + uniform(0, 12);
    c->dims[0][3] = in_c;
    c->rank[1] = 4;
    c->dims[1][0] = depthwise ? 1 : out_c;
    c->dims[1][1] = kh;
    c->dims[1][2] = kw;
    c->dims[1][3] = in_c;
    c->rank[2] = 1;
    c->dims[2][0] = out_c;

    in_count = (size_t)c->dims[0][0] * c->dims[0][1] * c->dims[0][2] * in_c;
    filter_count = (size_t)c->dims[1][0] * kh * kw * c->dims[1][3];
    c->data[0] = random_floats(in_count, 2.0f);
    c->data[1] = random_floats(filter_count, 1.0f);
    c->data[2] = uniform(0, 3) ? random_floats((size_t)out_c, 1.0f) : NULL;
}

static void random_fully_connected(node_case *c)
{
    int batches = uniform(1, 3) == 1 ? uniform(2, 13) : 1;
    int depth = uniform(1, 300), units = uniform(1, 70);

    memset(c, 0, sizeof(*c));
    c->op = VERGE_OP_FULLY_CONNECTED;
    c->params.fully_connected.activation = activations[uniform(0, 3)];
    c->rank[0] = 2;
    c->dims[0][0] = batches;
    c->dims[0][1] = depth;
    c->rank[1] = 2;
    c->dims[1][0] = units;
    c->dims[1][1] = depth;
    c->rank[2] = 1;
    c->dims[2][0] = units;
    c->data[0] = random_floats((size_t)batches * depth, 2.0f);
    c->data[1] = random_floats((size_t)units * depth, 1.0f);
    c->data[2] = uniform(0, 3) ? random_floats((size_t)units, 1.0f) : NULL;
}

static void free_case(node_case *c)
{
    for (int i = 0; i < 3; i++)
        free((void *)c->data[i]);
}

static void describe(const node_case *c, int index, char *label, size_t size)
{
    const verge_conv_params *p = &c->params.conv;

    if (c->op == VERGE_OP_FULLY_CONNECTED)
        snprintf(label, size, "case %d FULLY_CONNECTED in [%d,%d] units %d act %d bias %d",
                 index, (int)c->dims[0][0], (int)c->dims[0][1], (int)c->dims[1][0],
                 (int)c->params.fully_connected.activation, c->data[2] != NULL);
    else
        snprintf(label, size,
                 "case %d %s in [%d,%d,%d,%d] filter [%d,%d,%d,%d] %s stride %dx%d "
                 "dilation %dx%d act %d bias %d",
                 index, c->op == VERGE_OP_CONV_2D ? "CONV_2D" : "DEPTHWISE_CONV_2D",
                 (int)c->dims[0][0], (int)c->dims[0][1], (int)c->dims[0][2], (int)c->dims[0][3],
                 (int)c->dims[1][0], (int)c->dims[1][1], (int)c->dims[1][2], (int)c->dims[1][3],
                 p->padding == VERGE_PADDING_SAME ? "SAME" : "VALID", p->stride_h, p->stride_w,
                 p->dilation_h, p->dilation_w, (int)p->activation, c->data[2] != NULL);
}

static void random_cases_match_reference(void)
{
    verge_threadpool *pool = NULL;
    double worst[3] = {0, 0, 0};

    CHECK_OK(verge_threadpool_create(3, &pool));
    for (int i = 0; i < CASES; i++) {
        node_case c;
        char label[256];
        int kind = i % 3;
        double w;

        if (kind == 2)
            random_fully_connected(&c);
        else
            random_conv(&c, kind == 1);
        describe(&c, i, label, sizeof(label));
        w = compare_case(&c, label, pool);
        if (w > worst[kind])
            worst[kind] = w;
        free_case(&c);
    }
    printf("largest error as a fraction of the allowance: CONV_2D %.3f, DEPTHWISE_CONV_2D "
           "%.3f, FULLY_CONNECTED %.3f\n", worst[0], worst[1], worst[2]);
    verge_threadpool_destroy(pool);
}

/* The shapes that dominate the zoo's time, at full size. */
static void zoo_shapes_match_reference(void)
{
    static const struct {
        bool depthwise;
        int h, w, in_c, out_c, k, stride;
        verge_padding padding;
    } shapes[] = {
        {false, 224, 224, 3, 24, 3, 2, VERGE_PADDING_SAME},    /* hand_landmark stem */
        {false, 128, 128, 3, 24, 5, 2, VERGE_PADDING_SAME},    /* face_detection stem */
        {false, 56, 56, 24, 144, 1, 1, VERGE_PADDING_VALID},   /* expansion 1x1 */
        {false, 14, 14, 672, 112, 1, 1, VERGE_PADDING_VALID},  /* projection 1x1 */
        {true, 112, 112, 24, 24, 3, 1, VERGE_PADDING_SAME},
        {true, 56, 56, 144, 144, 5, 2, VERGE_PADDING_SAME},
        {true, 14, 14, 672, 672, 5, 1, VERGE_PADDING_SAME},
    };
    verge_threadpool *pool = NULL;

    CHECK_OK(verge_threadpool_create(2, &pool));
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        node_case c = {0};
        verge_conv_params *p = &c.params.conv;
        char label[256];

        c.op = shapes[i].depthwise ? VERGE_OP_DEPTHWISE_CONV_2D : VERGE_OP_CONV_2D;
        *p = (verge_conv_params){.padding = shapes[i].padding, .stride_h = shapes[i].stride,
                                 .stride_w = shapes[i].stride, .dilation_h = 1, .dilation_w = 1,
                                 .depth_multiplier = 1, .activation = VERGE_ACT_RELU6};
        c.rank[0] = c.rank[1] = 4;
        c.rank[2] = 1;
        memcpy(c.dims[0], (int32_t[]){1, shapes[i].h, shapes[i].w, shapes[i].in_c},
               sizeof(c.dims[0]));
        memcpy(c.dims[1], (int32_t[]){shapes[i].depthwise ? 1 : shapes[i].out_c, shapes[i].k,
                                      shapes[i].k, shapes[i].in_c}, sizeof(c.dims[1]));
        c.dims[2][0] = shapes[i].out_c;
        c.data[0] = random_floats((size_t)shapes[i].h * shapes[i].w * shapes[i].in_c, 2.0f);
        c.data[1] = random_floats((size_t)c.dims[1][0] * shapes[i].k * shapes[i].k *
                                      shapes[i].in_c, 0.5f);
        c.data[2] = random_floats((size_t)shapes[i].out_c, 1.0f);
        describe(&c, (int)i, label, sizeof(label));
        compare_case(&c, label, pool);
        free_case(&c);
    }

    /* melspectrogram's STFT: a 1x512 filter, stride 256: more taps than pointers, rows merged. */
    {
        node_case c = {.op = VERGE_OP_CONV_2D, .rank = {4, 4, 1},
                       .dims = {{1, 1, 1280, 1}, {257, 1, 512, 1}, {257}}};
        char label[256];

        c.params.conv = (verge_conv_params){.padding = VERGE_PADDING_VALID, .stride_h = 1,
                                            .stride_w = 256, .dilation_h = 1, .dilation_w = 1,
                                            .depth_multiplier = 1};
        c.data[0] = random_floats(1280, 1.0f);
        c.data[1] = random_floats(257 * 512, 1.0f);
        c.data[2] = random_floats(257, 1.0f);
        describe(&c, 99, label, sizeof(label));
        compare_case(&c, label, pool);
        free_case(&c);
    }
    verge_threadpool_destroy(pool);
}

/* NaN in the input stays NaN through every clamp, as in the reference kernel. */
static void nan_passes_through(void)
{
    for (int a = 0; a < 4; a++) {
        node_case c;
        node_result ref, fast;
        float *in;

        random_conv(&c, a % 2 == 1);
        c.params.conv.activation = activations[a];
        in = (float *)c.data[0];
        for (size_t i = 0; i < (size_t)c.dims[0][0] * c.dims[0][1] * c.dims[0][2] * c.dims[0][3];
             i++)
            in[i] = NAN;
        ref = run_case(&c, "scalar", NULL);
        fast = run_case(&c, fast_cpus[num_fast_cpus - 1], NULL);
        for (size_t i = 0; ref.out != NULL && fast.out != NULL && i < ref.count; i++) {
            if (isnan(ref.out[i]) != isnan(fast.out[i])) {
                CHECK_MSG(false, "activation %d output %zu: reference %g, fast %g", a, i,
                          ref.out[i], fast.out[i]);
                break;
            }
        }
        CHECK(ref.count > 0);
        CHECK(fast.out != NULL && isnan(fast.out[0]));
        free(ref.out);
        free(fast.out);
        free_case(&c);
    }
}

/* Nodes without a fast path keep the reference kernel (and still compute). */
static void uncovered_nodes_use_reference(void)
{
    node_case c;
    node_result r;

    random_conv(&c, false);
    c.params.conv.activation = VERGE_ACT_TANH;
    r = run_case(&c, fast_cpus[0], NULL);
    CHECK(!r.fast);
    CHECK(r.out != NULL);
    free(r.out);
    c.params.conv.activation = VERGE_ACT_NONE;
    c.weights_computed = true;
    r = run_case(&c, fast_cpus[0], NULL);
    CHECK(!r.fast);
    CHECK(r.out != NULL);
    free(r.out);
    free_case(&c);

    /* Grouped: 8 input channels, filters of 4 channels. */
    {
        float in[1 * 3 * 3 * 8], filter[4 * 1 * 1 * 4];
        node_case g = {.op = VERGE_OP_CONV_2D, .rank = {4, 4, 0},
                       .dims = {{1, 3, 3, 8}, {4, 1, 1, 4}}, .data = {in, filter, NULL}};

        g.params.conv = (verge_conv_params){.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                            .dilation_w = 1, .depth_multiplier = 1};
        memset(in, 0, sizeof(in));
        memset(filter, 0, sizeof(filter));
        r = run_case(&g, fast_cpus[0], NULL);
        CHECK(!r.fast);
        CHECK_EQ_INT(r.count, 36);
        free(r.out);
    }

    /* Depthwise with depth multiplier 2. */
    {
        float in[1 * 4 * 4 * 3], filter[1 * 3 * 3 * 6];
        node_case d = {.op = VERGE_OP_DEPTHWISE_CONV_2D, .rank = {4, 4, 0},
                       .dims = {{1, 4, 4, 3}, {1, 3, 3, 6}}, .data = {in, filter, NULL}};

        d.params.conv = (verge_conv_params){.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                            .dilation_w = 1, .depth_multiplier = 2};
        memset(in, 0, sizeof(in));
        memset(filter, 0, sizeof(filter));
        r = run_case(&d, fast_cpus[0], NULL);
        CHECK(!r.fast);
        CHECK_EQ_INT(r.count, 96);
        free(r.out);
    }
}

/* Values that tell implementations apart: signed zeros, NaN, infinities, subnormals, ties. */
static float *special_floats(size_t count)
{
    static const float specials[] = {0.0f, -0.0f, NAN, -NAN, INFINITY, -INFINITY, 1e-40f,
                                     -1e-40f, 6.0f, -3.0f, 1.0f, -1.0f, 3.0f, -6.0f, 6.5f,
                                     -1.5f};
    float *data = random_floats(count, 8.0f);

    for (size_t i = 0; i < count; i++) {
        if (next_u32() % 4 == 0)
            data[i] = specials[next_u32() % (sizeof(specials) / sizeof(specials[0]))];
    }
    return data;
}

/* Runs one element-wise node on the reference and the fast path (1 and 3 threads): same bits. */
static void compare_elementwise(op_test *shape, const char *label, verge_threadpool *pool)
{
    float *out[3] = {NULL, NULL, NULL};
    bool fast[3] = {false, false, false};
    size_t count = 0;
    const char *const cpu[3] = {"scalar", fast_cpus[0], fast_cpus[0]};

    for (int run = 0; run < 3; run++) {
        op_test t = *shape;

        setenv("VERGE_CPU", cpu[run], 1);
        t.ctx.tensors = t.tensors;
        t.node.inputs = t.inputs;
        t.node.outputs = t.outputs;
        t.ctx.pool = run == 2 ? pool : NULL;
        CHECK_OK(op_test_run(&t));
        fast[run] = t.ctx.node_data != NULL;
        count = verge_tensor_count(op_test_out(&t));
        out[run] = malloc(sizeof(float) * (count ? count : 1));
        memcpy(out[run], op_test_out(&t)->data, sizeof(float) * count);
        op_test_free(&t);
    }
    unsetenv("VERGE_CPU");
    CHECK_MSG(!fast[0] && fast[1] && fast[2], "%s: fast path use %d %d %d, expected 0 1 1",
              label, fast[0], fast[1], fast[2]);
    for (int run = 1; run < 3; run++) {
        size_t bad = 0;

        /*
         * NaN in, NaN out, but which of two NaN inputs' payload and sign comes
         * out is the compiler's choice (it may swap the operands of + and *).
         */
        for (size_t i = 0; i < count; i++)
            bad += memcmp(&out[0][i], &out[run][i], sizeof(float)) != 0 &&
                   !(isnan(out[0][i]) && isnan(out[run][i]));
        CHECK_MSG(bad == 0, "%s (%s): %zu of %zu outputs differ from the reference in their bits",
                  label, run == 2 ? "3 threads" : "1 thread", bad, count);
    }
    for (int run = 0; run < 3; run++)
        free(out[run]);
}

static void elementwise_bit_identical(void)
{
    static const int binary_ops[] = {VERGE_OP_ADD, VERGE_OP_SUB, VERGE_OP_MUL, VERGE_OP_MAXIMUM,
                                     VERGE_OP_MINIMUM};
    static const int unary_ops[] = {VERGE_OP_RELU, VERGE_OP_RELU6, VERGE_OP_RELU_N1_TO_1,
                                    VERGE_OP_LEAKY_RELU, VERGE_OP_HARD_SWISH};
    /* Output [2,37,23,19]: 32338 elements, enough for two ranges of work; odd sizes for tails. */
    static const int32_t full[4] = {2, 37, 23, 19};
    static const struct {
        int rank;
        int32_t dims[4];
        const char *name;
    } layouts[] = {
        {4, {2, 37, 23, 19}, "same shape"},
        {1, {1}, "scalar"},
        {1, {19}, "per channel"},
        {3, {1, 23, 19}, "last two dimensions"},
    };
    verge_threadpool *pool = NULL;
    float *a = special_floats(32338), *b = special_floats(32338);

    CHECK_OK(verge_threadpool_create(3, &pool));
    for (size_t o = 0; o < sizeof(binary_ops) / sizeof(binary_ops[0]); o++) {
        for (size_t l = 0; l < sizeof(layouts) / sizeof(layouts[0]); l++) {
            for (int swap = 0; swap < 2; swap++) {
                for (int act = 0; act < 4; act++) {
                    op_test t;
                    char label[160];

                    if (act > 0 && (binary_ops[o] == VERGE_OP_MAXIMUM ||
                                    binary_ops[o] == VERGE_OP_MINIMUM))
                        break;
                    op_test_init(&t, binary_ops[o]);
                    t.node.params.activation.activation = activations[act];
                    if (swap) {
                        op_test_input_f32(&t, layouts[l].rank, layouts[l].dims, b);
                        op_test_input_f32(&t, 4, full, a);
                    } else {
                        op_test_input_f32(&t, 4, full, a);
                        op_test_input_f32(&t, layouts[l].rank, layouts[l].dims, b);
                    }
                    op_test_output(&t);
                    snprintf(label, sizeof(label), "op %d, b %s%s, activation %d", binary_ops[o],
                             layouts[l].name, swap ? " as a" : "", (int)activations[act]);
                    compare_elementwise(&t, label, pool);
                }
            }
        }
    }
    for (size_t o = 0; o < sizeof(unary_ops) / sizeof(unary_ops[0]); o++) {
        op_test t;
        char label[64];

        op_test_init(&t, unary_ops[o]);
        t.node.params.leaky_relu.alpha = 0.2f;
        op_test_input_f32(&t, 4, full, a);
        op_test_output(&t);
        snprintf(label, sizeof(label), "unary op %d", unary_ops[o]);
        compare_elementwise(&t, label, pool);
    }
    verge_threadpool_destroy(pool);
    free(a);
    free(b);
}

static void pooling_bit_identical(void)
{
    verge_threadpool *pool = NULL;

    CHECK_OK(verge_threadpool_create(3, &pool));
    for (int i = 0; i < 120; i++) {
        verge_pool_params *p;
        op_test t;
        char label[160];
        int32_t dims[4] = {uniform(1, 2), uniform(1, 12), uniform(1, 12), uniform(1, 40)};
        float *in;

        op_test_init(&t, i % 2 ? VERGE_OP_AVERAGE_POOL_2D : VERGE_OP_MAX_POOL_2D);
        p = &t.node.params.pool;
        p->filter_h = uniform(1, 4);
        p->filter_w = uniform(1, 4);
        p->stride_h = uniform(1, 3);
        p->stride_w = uniform(1, 3);
        p->padding = p->filter_h <= dims[1] && p->filter_w <= dims[2] && uniform(0, 1)
                         ? VERGE_PADDING_VALID
                         : VERGE_PADDING_SAME;
        p->activation = activations[uniform(0, 3)];
        in = special_floats((size_t)dims[0] * dims[1] * dims[2] * dims[3]);
        op_test_input_f32(&t, 4, dims, in);
        op_test_output(&t);
        snprintf(label, sizeof(label), "%s in [%d,%d,%d,%d] filter %dx%d stride %dx%d %s act %d",
                 i % 2 ? "AVERAGE_POOL_2D" : "MAX_POOL_2D", (int)dims[0], (int)dims[1],
                 (int)dims[2], (int)dims[3], p->filter_h, p->filter_w, p->stride_h, p->stride_w,
                 p->padding == VERGE_PADDING_SAME ? "SAME" : "VALID", (int)p->activation);
        compare_elementwise(&t, label, pool);
        free(in);
    }
    verge_threadpool_destroy(pool);
}

int main(void)
{
    op_random_seed(0x2545f4914f6cdd1du);
    if (verge_cpu_isa_available(VERGE_CPU_AVX2))
        fast_cpus[num_fast_cpus++] = "avx2";
    if (verge_cpu_isa_available(VERGE_CPU_AVX512))
        fast_cpus[num_fast_cpus++] = "avx512";
    if (verge_cpu_isa_available(VERGE_CPU_NEON))
        fast_cpus[num_fast_cpus++] = "neon";
    if (num_fast_cpus == 0) {
        /* Nothing to compare on this CPU or build; the scalar kernels have their own tests. */
        printf("no fast path is built for this CPU or can run on it; skipped\n");
        return 77;
    }
    printf("fast paths tested:");
    for (int k = 0; k < num_fast_cpus; k++)
        printf(" %s", fast_cpus[k]);
    printf("\n");
    RUN(random_cases_match_reference);
    RUN(zoo_shapes_match_reference);
    RUN(nan_passes_through);
    RUN(uncovered_nodes_use_reference);
    RUN(elementwise_bit_identical);
    RUN(pooling_bit_identical);
    return check_summary();
}
