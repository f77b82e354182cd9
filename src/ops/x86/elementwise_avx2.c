/*
 * Element-wise operators for AVX2 (built with -mavx2 -mfma, called only when
 * the CPU has both). See verge_binary_args and verge_unary_args in
 * src/ops/fast.h.
 *
 * Every lane computes exactly what the reference kernel computes for that
 * element: the same IEEE operations in the same order (no fused
 * multiply-add), and clamps written as the reference's comparisons with
 * blends, so that -0 and NaN come out as they do there. Tails run the
 * same formulas in scalar code.
 */
#include <immintrin.h>

#include "ops/fast.h"

/* The reference's verge_activate() for the clamps, on 8 lanes. */
static inline __attribute__((always_inline)) __m256 activate8(__m256 x, verge_activation act)
{
    const __m256 zero = _mm256_setzero_ps();

    switch (act) {
    case VERGE_ACT_RELU: /* x < 0 ? 0 : x */
        return _mm256_blendv_ps(x, zero, _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    case VERGE_ACT_RELU_N1_TO_1: { /* x < -1 ? -1 : (x > 1 ? 1 : x) */
        const __m256 one = _mm256_set1_ps(1.0f), minus_one = _mm256_set1_ps(-1.0f);
        __m256 y = _mm256_blendv_ps(x, one, _mm256_cmp_ps(x, one, _CMP_GT_OQ));

        return _mm256_blendv_ps(y, minus_one, _mm256_cmp_ps(x, minus_one, _CMP_LT_OQ));
    }
    case VERGE_ACT_RELU6: { /* x < 0 ? 0 : (x > 6 ? 6 : x) */
        const __m256 six = _mm256_set1_ps(6.0f);
        __m256 y = _mm256_blendv_ps(x, six, _mm256_cmp_ps(x, six, _CMP_GT_OQ));

        return _mm256_blendv_ps(y, zero, _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    }
    default:
        return x;
    }
}

static inline __attribute__((always_inline)) __m256 binary8(int op, __m256 a, __m256 b)
{
    switch (op) {
    case VERGE_OP_ADD: return _mm256_add_ps(a, b);
    case VERGE_OP_SUB: return _mm256_sub_ps(a, b);
    case VERGE_OP_MUL: return _mm256_mul_ps(a, b);
    case VERGE_OP_MAXIMUM: return _mm256_blendv_ps(b, a, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
    default: return _mm256_blendv_ps(b, a, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); /* MINIMUM */
    }
}

static inline __attribute__((always_inline)) float binary1(int op, verge_activation act, float a,
                                                           float b)
{
    switch (op) {
    case VERGE_OP_ADD: return verge_activate(a + b, act);
    case VERGE_OP_SUB: return verge_activate(a - b, act);
    case VERGE_OP_MUL: return verge_activate(a * b, act);
    case VERGE_OP_MAXIMUM: return a > b ? a : b;
    default: return a < b ? a : b;
    }
}

/*
 * n outputs from a and b, each read with step 1 or (scalar) step 0. OP and
 * ACT are constants in every caller, so each instance is a plain loop.
 */
static inline __attribute__((always_inline)) void binary_span(int op, verge_activation act,
                                                              const float *a, int a_step,
                                                              const float *b, int b_step,
                                                              float *out, size_t n)
{
    const __m256 a_all = _mm256_set1_ps(a[0]), b_all = _mm256_set1_ps(b[0]);
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        __m256 x = a_step ? _mm256_loadu_ps(a + i) : a_all;
        __m256 y = b_step ? _mm256_loadu_ps(b + i) : b_all;

        _mm256_storeu_ps(out + i, activate8(binary8(op, x, y), act));
    }
    for (; i < n; i++)
        out[i] = binary1(op, act, a[a_step ? i : 0], b[b_step ? i : 0]);
}

/* One range of outputs for one operator and activation. */
static inline __attribute__((always_inline)) void binary_range(const verge_binary_args *g, int op,
                                                               verge_activation act, size_t begin,
                                                               size_t end)
{
    const int a_step = g->layout_a != VERGE_FAST_SCALAR, b_step = g->layout_b != VERGE_FAST_SCALAR;
    size_t i = begin;

    if (g->layout_a != VERGE_FAST_ROW && g->layout_b != VERGE_FAST_ROW) {
        binary_span(op, act, g->a + (a_step ? begin : 0), a_step, g->b + (b_step ? begin : 0),
                    b_step, g->out + begin, end - begin);
        return;
    }
    /* A per-channel input: go row by row so that its index restarts at each row. */
    while (i < end) {
        size_t in_row = i % g->period;
        size_t n = g->period - in_row < end - i ? g->period - in_row : end - i;
        const float *a = g->a + (g->layout_a == VERGE_FAST_FULL  ? i
                                 : g->layout_a == VERGE_FAST_ROW ? in_row
                                                                 : 0);
        const float *b = g->b + (g->layout_b == VERGE_FAST_FULL  ? i
                                 : g->layout_b == VERGE_FAST_ROW ? in_row
                                                                 : 0);

        binary_span(op, act, a, a_step, b, b_step, g->out + i, n);
        i += n;
    }
}

#define BINARY_ACTS(OP)                                                               \
    static void binary_##OP(const verge_binary_args *g, size_t begin, size_t end)     \
    {                                                                                 \
        switch (g->activation) {                                                      \
        case VERGE_ACT_RELU: binary_range(g, VERGE_OP_##OP, VERGE_ACT_RELU, begin, end); break; \
        case VERGE_ACT_RELU6: binary_range(g, VERGE_OP_##OP, VERGE_ACT_RELU6, begin, end); break; \
        case VERGE_ACT_RELU_N1_TO_1:                                                  \
            binary_range(g, VERGE_OP_##OP, VERGE_ACT_RELU_N1_TO_1, begin, end);       \
            break;                                                                    \
        default: binary_range(g, VERGE_OP_##OP, VERGE_ACT_NONE, begin, end); break;   \
        }                                                                             \
    }

BINARY_ACTS(ADD)
BINARY_ACTS(SUB)
BINARY_ACTS(MUL)

void verge_binary_f32_avx2(const verge_binary_args *args, size_t begin, size_t end)
{
    switch (args->op) {
    case VERGE_OP_ADD: binary_ADD(args, begin, end); break;
    case VERGE_OP_SUB: binary_SUB(args, begin, end); break;
    case VERGE_OP_MUL: binary_MUL(args, begin, end); break;
    case VERGE_OP_MAXIMUM: binary_range(args, VERGE_OP_MAXIMUM, VERGE_ACT_NONE, begin, end); break;
    default: binary_range(args, VERGE_OP_MINIMUM, VERGE_ACT_NONE, begin, end); break;
    }
}

static inline __attribute__((always_inline)) void unary_loop(int op, float alpha, const float *in,
                                                             float *out, size_t n)
{
    const __m256 zero = _mm256_setzero_ps(), alpha8 = _mm256_set1_ps(alpha);
    const __m256 three = _mm256_set1_ps(3.0f), six = _mm256_set1_ps(6.0f);
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(in + i);
        __m256 y;

        switch (op) {
        case VERGE_OP_RELU: y = activate8(x, VERGE_ACT_RELU); break;
        case VERGE_OP_RELU6: y = activate8(x, VERGE_ACT_RELU6); break;
        case VERGE_OP_RELU_N1_TO_1: y = activate8(x, VERGE_ACT_RELU_N1_TO_1); break;
        case VERGE_OP_LEAKY_RELU: /* x > 0 ? x : x * alpha */
            y = _mm256_blendv_ps(_mm256_mul_ps(x, alpha8), x, _mm256_cmp_ps(x, zero, _CMP_GT_OQ));
            break;
        default: { /* HARD_SWISH: x * fminf(fmaxf(x + 3, 0), 6) / 6 */
            /* max_ps(v, 0) gives 0 for a NaN v, as fmaxf does; v + 3 is never -0. */
            __m256 gate = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(x, three), zero), six);

            y = _mm256_div_ps(_mm256_mul_ps(x, gate), six);
            break;
        }
        }
        _mm256_storeu_ps(out + i, y);
    }
    for (; i < n; i++) {
        const float x = in[i];

        switch (op) {
        case VERGE_OP_RELU: out[i] = verge_activate(x, VERGE_ACT_RELU); break;
        case VERGE_OP_RELU6: out[i] = verge_activate(x, VERGE_ACT_RELU6); break;
        case VERGE_OP_RELU_N1_TO_1: out[i] = verge_activate(x, VERGE_ACT_RELU_N1_TO_1); break;
        case VERGE_OP_LEAKY_RELU: out[i] = x > 0.0f ? x : x * alpha; break;
        default: {
            float gate = x + 3.0f;

            gate = gate > 0.0f ? gate : 0.0f; /* fmaxf(gate, 0): NaN gives 0 */
            gate = gate < 6.0f ? gate : 6.0f;
            out[i] = x * gate / 6.0f;
            break;
        }
        }
    }
}

void verge_unary_f32_avx2(const verge_unary_args *args, size_t begin, size_t end)
{
    const float *in = args->in + begin;
    float *out = args->out + begin;
    const size_t n = end - begin;

    switch (args->op) {
    case VERGE_OP_RELU: unary_loop(VERGE_OP_RELU, 0, in, out, n); break;
    case VERGE_OP_RELU6: unary_loop(VERGE_OP_RELU6, 0, in, out, n); break;
    case VERGE_OP_RELU_N1_TO_1: unary_loop(VERGE_OP_RELU_N1_TO_1, 0, in, out, n); break;
    case VERGE_OP_LEAKY_RELU: unary_loop(VERGE_OP_LEAKY_RELU, args->alpha, in, out, n); break;
    default: unary_loop(VERGE_OP_HARD_SWISH, 0, in, out, n); break;
    }
}
