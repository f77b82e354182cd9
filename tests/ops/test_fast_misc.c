/*
 * The fast paths of Convolution2DTransposeBias, RESIZE_BILINEAR, MEAN and
 * LOGISTIC (src/ops/fast_misc.h) against the reference kernels, on every
 * fast path this CPU and build have (avx2, avx512, neon), on 1 and 3
 * threads:
 *
 *   Convolution2DTransposeBias  random shapes, strides, paddings, filters
 *       as large as the strides and not; |fast - reference| <= 1e-5 * S +
 *       1e-6, where S is the sum of the absolute values of the products and
 *       the bias that make that output (the reference kernel run on |input|,
 *       |weights| and |bias|).
 *   RESIZE_BILINEAR  random shapes with each valid flag combination, on data
 *       full of signed zeros, NaN, infinities and subnormals: the
 *       reference's bits (any NaN counts as the same).
 *   MEAN  random shapes and axes, keep_dims on and off: the reference's bits,
 *       and a fast path exactly when the reduced dimensions of size above 1
 *       are consecutive.
 *   LOGISTIC  about a million float32 bit patterns spread over the whole
 *       range, plus the special values: |fast - reference| <= 4.8e-7 *
 *       |reference| + 1e-44, and within 2e-7 relative of the float64
 *       sigmoid for outputs of at least FLT_MIN; NaN stays NaN.
 *
 * Every fast path must give the same bits on 1 and 3 threads.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/cpu.h"
#include "core/threadpool.h"
#include "ops/op_random.h"
#include "ops/op_test.h"

enum { SAME = 1, VALID = 2 };


/* Values that tell implementations apart: signed zeros, NaN, infinities, subnormals. */
static float *special_floats(size_t count)
{
    static const float specials[] = {0.0f, -0.0f, NAN, -NAN, INFINITY, -INFINITY, 1e-40f,
                                     -1e-40f, FLT_MAX, -FLT_MAX, 1.0f, -1.0f};
    float *data = random_floats(count, 8.0f);

    for (size_t i = 0; i < count; i++) {
        if (next_u32() % 4 == 0)
            data[i] = specials[next_u32() % (sizeof(specials) / sizeof(specials[0]))];
    }
    return data;
}

/* The fast instruction sets this CPU and build have (VERGE_CPU values); set by main(). */
static const char *fast_cpus[3];
static int num_fast_cpus;
static verge_threadpool *pool;

typedef struct run_result {
    float *out;       /* owned copy */
    size_t count;
    bool fast;        /* prepare kept fast-path state */
} run_result;

/* Runs a copy of the test node `shape` with VERGE_CPU=`cpu` on `threads` (NULL: the caller). */
static run_result run_node(const op_test *shape, const char *cpu, verge_threadpool *threads)
{
    op_test t = *shape;
    run_result result = {0};

    setenv("VERGE_CPU", cpu, 1);
    t.ctx.tensors = t.tensors;
    t.node.inputs = t.inputs;
    t.node.outputs = t.outputs;
    t.ctx.pool = threads;
    CHECK_OK(op_test_run(&t));
    result.fast = t.ctx.node_data != NULL;
    result.count = verge_tensor_count(op_test_out(&t));
    result.out = malloc(sizeof(float) * (result.count ? result.count : 1));
    if (op_test_out(&t)->data != NULL)
        memcpy(result.out, op_test_out(&t)->data, sizeof(float) * result.count);
    op_test_free(&t);
    unsetenv("VERGE_CPU");
    return result;
}

/* Counts outputs whose bits differ, any two NaN counting as equal. */
static size_t bits_differ(const float *a, const float *b, size_t count, size_t *first)
{
    size_t bad = 0;

    for (size_t i = 0; i < count; i++) {
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0 && !(isnan(a[i]) && isnan(b[i]))) {
            if (bad++ == 0)
                *first = i;
        }
    }
    return bad;
}

/*
 * Runs the node on the reference and on every fast path (1 and 3 threads)
 * and checks that each gives the reference's bits. `want_fast` is true
 * when the fast paths should apply.
 */
static void compare_bits(const op_test *shape, const char *label, bool want_fast)
{
    run_result ref = run_node(shape, "scalar", NULL);

    CHECK_MSG(!ref.fast, "%s: VERGE_CPU=scalar kept fast-path state", label);
    for (int k = 0; k < num_fast_cpus; k++) {
        run_result single = run_node(shape, fast_cpus[k], NULL);
        run_result threaded = run_node(shape, fast_cpus[k], pool);
        size_t first = 0, bad;

        CHECK_MSG(single.fast == want_fast, "%s, %s: fast path %d, expected %d", label,
                  fast_cpus[k], single.fast, want_fast);
        CHECK_EQ_INT(single.count, ref.count);
        if (single.count == ref.count) {
            bad = bits_differ(ref.out, single.out, ref.count, &first);
            CHECK_MSG(bad == 0, "%s, %s: %zu of %zu outputs differ; output %zu fast %.9g "
                      "reference %.9g", label, fast_cpus[k], bad, ref.count, first,
                      single.out[first], ref.out[first]);
            bad = bits_differ(single.out, threaded.out, ref.count, &first);
            CHECK_MSG(bad == 0, "%s, %s: 3 threads differ from 1 thread in %zu outputs", label,
                      fast_cpus[k], bad);
        }
        free(single.out);
        free(threaded.out);
    }
    free(ref.out);
}

/* ---- Convolution2DTransposeBias ---- */

typedef struct tconv_case {
    int32_t padding, stride_h, stride_w;
    int32_t in_dims[4], w_dims[4];
    float *in, *w, *bias;
} tconv_case;

static void options_write(uint8_t *options, int32_t padding, int32_t stride_w, int32_t stride_h)
{
    const int32_t values[3] = {padding, stride_w, stride_h};

    for (int v = 0; v < 3; v++)
        for (int b = 0; b < 4; b++)
            options[v * 4 + b] = (uint8_t)((uint32_t)values[v] >> (8 * b));
}

/* Sets up the node; `options` must stay alive as long as `t`. */
static void tconv_setup(op_test *t, const tconv_case *c, const float *in, const float *w,
                        const float *bias, uint8_t options[12], bool bias_constant)
{
    options_write(options, c->padding, c->stride_w, c->stride_h);
    op_test_init(t, VERGE_OP_CUSTOM);
    t->kernel = verge_kernel_find(VERGE_OP_CUSTOM, "Convolution2DTransposeBias");
    t->node.custom_name = "Convolution2DTransposeBias";
    t->node.custom_options = options;
    t->node.custom_options_size = 12;
    op_test_input_f32(t, 4, c->in_dims, in);
    op_test_input(t, VERGE_DTYPE_FLOAT32, 4, c->w_dims, w, VERGE_STORAGE_CONSTANT);
    op_test_input(t, VERGE_DTYPE_FLOAT32, 1, c->w_dims, bias,
                  bias_constant ? VERGE_STORAGE_CONSTANT : VERGE_STORAGE_ARENA);
    op_test_output(t);
}

static float *absolute(const float *data, size_t count)
{
    float *copy = malloc(sizeof(float) * (count ? count : 1));

    for (size_t i = 0; i < count; i++)
        copy[i] = fabsf(data[i]);
    return copy;
}

/*
 * Compares every fast path with the reference within the tolerance above and
 * returns the largest error as a fraction of its allowance.
 */
static double tconv_compare(const tconv_case *c, const char *label)
{
    const size_t in_count = (size_t)c->in_dims[0] * c->in_dims[1] * c->in_dims[2] * c->in_dims[3];
    const size_t w_count = (size_t)c->w_dims[0] * c->w_dims[1] * c->w_dims[2] * c->w_dims[3];
    float *abs_in = absolute(c->in, in_count), *abs_w = absolute(c->w, w_count);
    float *abs_bias = absolute(c->bias, (size_t)c->w_dims[0]);
    uint8_t options[12], abs_options[12];
    op_test t, magnitude;
    run_result ref, bound;
    double worst = 0;

    tconv_setup(&t, c, c->in, c->w, c->bias, options, true);
    tconv_setup(&magnitude, c, abs_in, abs_w, abs_bias, abs_options, true);
    ref = run_node(&t, "scalar", NULL);
    bound = run_node(&magnitude, "scalar", NULL);
    CHECK_MSG(!ref.fast, "%s: VERGE_CPU=scalar kept fast-path state", label);
    for (int k = 0; k < num_fast_cpus; k++) {
        run_result single = run_node(&t, fast_cpus[k], NULL);
        run_result threaded = run_node(&t, fast_cpus[k], pool);
        size_t bad = 0, first = 0;

        CHECK_MSG(single.fast, "%s, %s: no fast path was prepared", label, fast_cpus[k]);
        CHECK_EQ_INT(single.count, ref.count);
        for (size_t i = 0; single.count == ref.count && i < ref.count; i++) {
            const double allowed = 1e-5 * bound.out[i] + 1e-6;
            const double error = fabs((double)single.out[i] - ref.out[i]);

            if (!(error <= allowed) && bad++ == 0)
                first = i;
            if (error / allowed > worst)
                worst = error / allowed;
        }
        CHECK_MSG(bad == 0, "%s, %s: %zu of %zu outputs off; output %zu fast %.9g reference "
                  "%.9g allowed %.3g", label, fast_cpus[k], bad, ref.count, first,
                  single.out[first], ref.out[first], 1e-5 * bound.out[first] + 1e-6);
        CHECK_MSG(single.count == threaded.count &&
                      memcmp(single.out, threaded.out, sizeof(float) * single.count) == 0,
                  "%s, %s: 3 threads differ from 1 thread", label, fast_cpus[k]);
        free(single.out);
        free(threaded.out);
    }
    free(ref.out);
    free(bound.out);
    free(abs_in);
    free(abs_w);
    free(abs_bias);
    return worst;
}

static void tconv_case_fill(tconv_case *c)
{
    const size_t in_count = (size_t)c->in_dims[0] * c->in_dims[1] * c->in_dims[2] * c->in_dims[3];
    const size_t w_count = (size_t)c->w_dims[0] * c->w_dims[1] * c->w_dims[2] * c->w_dims[3];

    c->in = random_floats(in_count, 2.0f);
    c->w = random_floats(w_count, 1.0f);
    c->bias = random_floats((size_t)c->w_dims[0], 1.0f);
}

static void tconv_case_free(tconv_case *c)
{
    free(c->in);
    free(c->w);
    free(c->bias);
}

static void tconv_random_cases(void)
{
    double worst = 0;

    for (int i = 0; i < 300; i++) {
        tconv_case c = {0};
        const int32_t in_c = uniform(1, 40);
        char label[200];
        double w;

        c.padding = uniform(0, 1) ? SAME : VALID;
        c.stride_h = uniform(1, 3);
        c.stride_w = uniform(0, 2) ? c.stride_h : uniform(1, 3);
        memcpy(c.in_dims, (int32_t[]){uniform(1, 4) == 1 ? 2 : 1, uniform(1, 9), uniform(1, 9),
                                      in_c}, sizeof(c.in_dims));
        memcpy(c.w_dims, (int32_t[]){uniform(1, 20), uniform(1, 5), uniform(1, 5), in_c},
               sizeof(c.w_dims));
        /* A third with filters as large as the strides: the tiled layout. */
        if (i % 3 == 0) {
            c.w_dims[1] = c.stride_h;
            c.w_dims[2] = c.stride_w;
        }
        tconv_case_fill(&c);
        snprintf(label, sizeof(label),
                 "case %d in [%d,%d,%d,%d] weights [%d,%d,%d,%d] %s stride %dx%d", i,
                 (int)c.in_dims[0], (int)c.in_dims[1], (int)c.in_dims[2], (int)c.in_dims[3],
                 (int)c.w_dims[0], (int)c.w_dims[1], (int)c.w_dims[2], (int)c.w_dims[3],
                 c.padding == SAME ? "SAME" : "VALID", (int)c.stride_h, (int)c.stride_w);
        w = tconv_compare(&c, label);
        if (w > worst)
            worst = w;
        tconv_case_free(&c);
    }
    printf("Convolution2DTransposeBias: largest error %.3f of the allowance\n", worst);
}

/* The selfie segmentation models' decoder heads, at full size. */
static void tconv_zoo_shapes(void)
{
    static const int32_t shapes[][4] = {{1, 128, 128, 16}, {1, 72, 128, 16}, {1, 63, 17, 24}};

    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        tconv_case c = {.padding = SAME, .stride_h = 2, .stride_w = 2};
        char label[100];

        memcpy(c.in_dims, shapes[s], sizeof(c.in_dims));
        memcpy(c.w_dims, (int32_t[]){1, 2, 2, shapes[s][3]}, sizeof(c.w_dims));
        tconv_case_fill(&c);
        snprintf(label, sizeof(label), "zoo shape %zu", s);
        tconv_compare(&c, label);
        tconv_case_free(&c);
    }
}

/* A bias computed at run time keeps the reference kernel. */
static void tconv_computed_bias_uses_reference(void)
{
    tconv_case c = {.padding = SAME, .stride_h = 2, .stride_w = 2, .in_dims = {1, 4, 4, 8},
                    .w_dims = {3, 2, 2, 8}};
    uint8_t options[12];
    op_test t;
    run_result r;

    tconv_case_fill(&c);
    tconv_setup(&t, &c, c.in, c.w, c.bias, options, false);
    r = run_node(&t, fast_cpus[0], NULL);
    CHECK(!r.fast);
    CHECK_EQ_INT(r.count, 8 * 8 * 3);
    free(r.out);
    tconv_case_free(&c);
}

/* ---- RESIZE_BILINEAR ---- */

static void resize_case(const int32_t in_dims[4], const int32_t size[2], bool align_corners,
                        bool half_pixel_centers, const char *label)
{
    const size_t count = (size_t)in_dims[0] * in_dims[1] * in_dims[2] * in_dims[3];
    float *in = special_floats(count);
    op_test t;

    op_test_init(&t, VERGE_OP_RESIZE_BILINEAR);
    t.node.params.resize.align_corners = align_corners;
    t.node.params.resize.half_pixel_centers = half_pixel_centers;
    op_test_input_f32(&t, 4, in_dims, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){2}, size, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    compare_bits(&t, label, true);
    free(in);
}

static void resize_bit_identical(void)
{
    static const bool flags[3][2] = {{false, false}, {true, false}, {false, true}};

    for (int i = 0; i < 240; i++) {
        const int32_t in_dims[4] = {uniform(1, 2), uniform(1, 12), uniform(1, 12), uniform(1, 40)};
        const int32_t size[2] = {uniform(1, 25), uniform(1, 25)};
        const bool *f = flags[i % 3];
        char label[160];

        snprintf(label, sizeof(label),
                 "RESIZE_BILINEAR [%d,%d,%d,%d] to %dx%d align_corners %d half_pixel_centers %d",
                 (int)in_dims[0], (int)in_dims[1], (int)in_dims[2], (int)in_dims[3],
                 (int)size[0], (int)size[1], f[0], f[1]);
        resize_case(in_dims, size, f[0], f[1], label);
    }
    /* The selfie segmentation decoders' upsamplings, large enough to split among threads. */
    for (int f = 0; f < 3; f++) {
        resize_case((const int32_t[]){1, 64, 64, 16}, (const int32_t[]){128, 128}, flags[f][0],
                    flags[f][1], "RESIZE_BILINEAR [1,64,64,16] to 128x128");
        resize_case((const int32_t[]){1, 9, 16, 128}, (const int32_t[]){18, 32}, flags[f][0],
                    flags[f][1], "RESIZE_BILINEAR [1,9,16,128] to 18x32");
    }
}

/* ---- MEAN ---- */

/* Whether the reduced dimensions of size above 1 are consecutive (the fast path's condition). */
static bool reduced_consecutive(int rank, const int32_t *dims, const bool *reduced)
{
    int first = -1;
    bool gap = false;

    for (int d = 0; d < rank; d++) {
        if (dims[d] == 1)
            continue;
        if (!reduced[d]) {
            gap = first >= 0;
            continue;
        }
        if (gap)
            return false;
        if (first < 0)
            first = d;
    }
    return first >= 0;
}

static void mean_case(int rank, const int32_t *dims, int num_axes, const int32_t *axes,
                      bool keep_dims, const char *label)
{
    size_t count = 1;
    bool reduced[VERGE_MAX_RANK] = {false};
    float *in;
    op_test t;

    for (int d = 0; d < rank; d++)
        count *= (size_t)dims[d];
    for (int a = 0; a < num_axes; a++)
        reduced[axes[a] < 0 ? axes[a] + rank : axes[a]] = true;
    in = random_floats(count, 4.0f);
    /* A few NaN and infinities, which the sums carry through. */
    for (size_t i = 0; i < count; i++) {
        if (next_u32() % 97 == 0)
            in[i] = next_u32() % 2 ? NAN : -INFINITY;
    }

    op_test_init(&t, VERGE_OP_MEAN);
    t.node.params.reducer.keep_dims = keep_dims;
    op_test_input_f32(&t, rank, dims, in);
    op_test_input(&t, VERGE_DTYPE_INT32, 1, (int32_t[]){num_axes}, axes, VERGE_STORAGE_CONSTANT);
    op_test_output(&t);
    compare_bits(&t, label, count > 0 && reduced_consecutive(rank, dims, reduced));
    free(in);
}

static void mean_bit_identical(void)
{
    for (int i = 0; i < 300; i++) {
        const int rank = uniform(1, 5);
        int32_t dims[5], axes[5];
        int num_axes = uniform(0, rank);
        char label[200];
        int n;

        for (int d = 0; d < rank; d++)
            dims[d] = uniform(0, 4) == 0 ? 1 : uniform(1, 9);
        if (i % 5 == 0)
            dims[rank - 1] = uniform(60, 140); /* wide rows: full and partial blocks */
        for (int a = 0; a < num_axes; a++) {
            axes[a] = uniform(0, rank - 1);
            if (uniform(0, 1))
                axes[a] -= rank; /* negative, counted from the end */
        }
        n = snprintf(label, sizeof(label), "MEAN case %d dims [", i);
        for (int d = 0; d < rank; d++)
            n += snprintf(label + n, sizeof(label) - (size_t)n, "%s%d", d ? "," : "", (int)dims[d]);
        n += snprintf(label + n, sizeof(label) - (size_t)n, "] axes {");
        for (int a = 0; a < num_axes; a++)
            n += snprintf(label + n, sizeof(label) - (size_t)n, "%s%d", a ? "," : "", (int)axes[a]);
        snprintf(label + n, sizeof(label) - (size_t)n, "} keep_dims %d", i % 2);
        mean_case(rank, dims, num_axes, axes, i % 2, label);
    }

    /* The zoo's spatial means, and one large enough to split among threads. */
    mean_case(4, (const int32_t[]){1, 72, 128, 16}, 2, (const int32_t[]){1, 2}, true,
              "MEAN [1,72,128,16] axes {1,2}");
    mean_case(4, (const int32_t[]){1, 9, 16, 96}, 2, (const int32_t[]){1, 2}, true,
              "MEAN [1,9,16,96] axes {1,2}");
    mean_case(4, (const int32_t[]){1, 7, 7, 1152}, 2, (const int32_t[]){1, 2}, false,
              "MEAN [1,7,7,1152] axes {1,2}");
    mean_case(4, (const int32_t[]){4, 32, 32, 200}, 2, (const int32_t[]){2, 1}, false,
              "MEAN [4,32,32,200] axes {2,1}");
    /* Not consecutive: the reference runs. */
    mean_case(4, (const int32_t[]){2, 5, 6, 7}, 2, (const int32_t[]){1, 3}, true,
              "MEAN [2,5,6,7] axes {1,3}");
    /* An empty input keeps the reference, which writes zeros. */
    mean_case(4, (const int32_t[]){1, 0, 4, 3}, 2, (const int32_t[]){1, 2}, true,
              "MEAN [1,0,4,3] axes {1,2}");
}

/* ---- LOGISTIC ---- */

static void logistic_accuracy(void)
{
    static const float specials[] = {0.0f, -0.0f, NAN, -NAN, INFINITY, -INFINITY, 1e-40f,
                                     -1e-40f, FLT_MAX, -FLT_MAX, 88.72f, 88.73f, -88.72f,
                                     -88.73f, 87.0f, -87.0f, 89.0f, -89.0f, 16.6f, -16.6f,
                                     -103.0f, -104.0f};
    const size_t num_specials = sizeof(specials) / sizeof(specials[0]);
    /* Every 4099th bit pattern (4099 is prime, so the low bits vary too), then the specials. */
    const size_t count = (size_t)(UINT32_C(0xffffffff) / 4099) + 1 + num_specials;
    float *in = malloc(sizeof(float) * count);
    run_result ref;
    op_test t;

    for (size_t i = 0; i + num_specials < count; i++) {
        const uint32_t bits = (uint32_t)(i * 4099u);

        memcpy(&in[i], &bits, sizeof(float));
    }
    memcpy(in + count - num_specials, specials, sizeof(specials));

    op_test_init(&t, VERGE_OP_LOGISTIC);
    op_test_input_f32(&t, 1, (int32_t[]){(int32_t)count}, in);
    op_test_output(&t);
    ref = run_node(&t, "scalar", NULL);
    CHECK(!ref.fast);
    for (int k = 0; k < num_fast_cpus; k++) {
        run_result single = run_node(&t, fast_cpus[k], NULL);
        run_result threaded = run_node(&t, fast_cpus[k], pool);
        double worst_ref = 0, worst_exact = 0, worst_small = 0;
        size_t bad_ref = 0, bad_exact = 0, bad_nan = 0, first_ref = 0, first_exact = 0;
        size_t first = 0;

        CHECK_MSG(single.fast, "LOGISTIC, %s: no fast path was prepared", fast_cpus[k]);
        for (size_t i = 0; i < count; i++) {
            const double x = in[i], f = single.out[i], r = ref.out[i];
            const double exact = 1.0 / (1.0 + exp(-x));

            if (isnan(x)) {
                bad_nan += !isnan(f);
                continue;
            }
            if (!(fabs(f - r) <= 4.8e-7 * fabs(r) + 1e-44) && bad_ref++ == 0)
                first_ref = i;
            if (r >= FLT_MIN) {
                if (fabs(f - r) / r > worst_ref)
                    worst_ref = fabs(f - r) / r;
                if (fabs(f - exact) / exact > worst_exact)
                    worst_exact = fabs(f - exact) / exact;
                if (!(fabs(f - exact) <= 2e-7 * exact) && bad_exact++ == 0)
                    first_exact = i;
            } else if (fabs(f - r) > worst_small) {
                worst_small = fabs(f - r);
            }
        }
        CHECK_MSG(bad_ref == 0, "LOGISTIC, %s: %zu outputs off the reference; x %.9g fast %.9g "
                  "reference %.9g", fast_cpus[k], bad_ref, in[first_ref], single.out[first_ref],
                  ref.out[first_ref]);
        CHECK_MSG(bad_exact == 0, "LOGISTIC, %s: %zu outputs off the float64 sigmoid; x %.9g "
                  "fast %.9g", fast_cpus[k], bad_exact, in[first_exact], single.out[first_exact]);
        CHECK_MSG(bad_nan == 0, "LOGISTIC, %s: %zu NaN inputs gave numbers", fast_cpus[k],
                  bad_nan);
        CHECK_MSG(bits_differ(single.out, threaded.out, count, &first) == 0,
                  "LOGISTIC, %s: 3 threads differ from 1 thread at x %.9g", fast_cpus[k],
                  in[first]);
        printf("LOGISTIC, %s: largest relative error %.3g against the reference, %.3g against "
               "float64; below FLT_MIN %.3g absolute\n", fast_cpus[k], worst_ref, worst_exact,
               worst_small);
        free(single.out);
        free(threaded.out);
    }
    free(ref.out);
    free(in);
}

/* Exact values at the ends and the middle, and the tails of vectors. */
static void logistic_limits(void)
{
    /* Inputs cycle through 0, 200, -200 and -0, whose sigmoids are 0.5, 1, 0 and 0.5. */
    static const float inputs[4] = {0.0f, 200.0f, -200.0f, -0.0f};
    static const float sigmoids[4] = {0.5f, 1.0f, 0.0f, 0.5f};

    for (int k = 0; k < num_fast_cpus; k++) {
        for (int32_t n = 1; n <= 40; n++) {
            float in[40];
            op_test t;
            run_result r;

            for (int32_t i = 0; i < n; i++)
                in[i] = inputs[i % 4];
            op_test_init(&t, VERGE_OP_LOGISTIC);
            op_test_input_f32(&t, 1, &n, in);
            op_test_output(&t);
            r = run_node(&t, fast_cpus[k], NULL);
            for (int32_t i = 0; i < n; i++) {
                const float want = sigmoids[i % 4];

                CHECK_MSG(r.out[i] == want, "%s, %d elements: logistic(%g) = %.9g, expected %g",
                          fast_cpus[k], (int)n, in[i], r.out[i], want);
            }
            free(r.out);
        }
    }
}

/* The x86 fast paths give the same bits where their headers state that they do. */
static void logistic_paths_agree(void)
{
    enum { COUNT = 100003 };
    float *in;
    op_test t;
    run_result first;

    if (num_fast_cpus < 2)
        return;
    in = special_floats(COUNT);
    for (size_t i = 0; i < COUNT; i += 2)
        in[i] = (float)uniform(-100000, 100000) / 1000.0f;
    op_test_init(&t, VERGE_OP_LOGISTIC);
    op_test_input_f32(&t, 1, (int32_t[]){COUNT}, in);
    op_test_output(&t);
    first = run_node(&t, fast_cpus[0], NULL);
    for (int k = 1; k < num_fast_cpus; k++) {
        run_result other = run_node(&t, fast_cpus[k], NULL);
        size_t at = 0;

        CHECK_MSG(bits_differ(first.out, other.out, COUNT, &at) == 0,
                  "LOGISTIC: %s and %s differ at x %.9g: %.9g and %.9g", fast_cpus[0],
                  fast_cpus[k], in[at], first.out[at], other.out[at]);
        free(other.out);
    }
    free(first.out);
    free(in);
}

int main(void)
{
    int status;

    if (verge_cpu_isa_available(VERGE_CPU_AVX2))
        fast_cpus[num_fast_cpus++] = "avx2";
    if (verge_cpu_isa_available(VERGE_CPU_AVX512))
        fast_cpus[num_fast_cpus++] = "avx512";
    if (verge_cpu_isa_available(VERGE_CPU_NEON))
        fast_cpus[num_fast_cpus++] = "neon";
    if (num_fast_cpus == 0) {
        /* Nothing to compare on this CPU or build; the reference kernels have their own tests. */
        printf("no fast path is built for this CPU or can run on it; skipped\n");
        return 77;
    }
    printf("fast paths tested:");
    for (int k = 0; k < num_fast_cpus; k++)
        printf(" %s", fast_cpus[k]);
    printf("\n");
    CHECK_OK(verge_threadpool_create(3, &pool));

    RUN(tconv_random_cases);
    RUN(tconv_zoo_shapes);
    RUN(tconv_computed_bias_uses_reference);
    RUN(resize_bit_identical);
    RUN(mean_bit_identical);
    RUN(logistic_accuracy);
    RUN(logistic_limits);
    RUN(logistic_paths_agree);

    verge_threadpool_destroy(pool);
    status = check_summary();
    return status;
}
