/*
 * Element-wise operators and pooling for AArch64 Advanced SIMD. See
 * verge_binary_args, verge_unary_args and verge_pool_args in
 * src/ops/fast.h. As on x86, every lane computes what the reference kernel
 * computes for that element: the same IEEE operations in the same order.
 * Clamps are the reference's comparisons with bit selects, so that -0 and
 * NaN come out as they do there. Tails run the same formulas in
 * scalar code.
 */
#include <arm_neon.h>
#include <float.h>

#include "ops/fast.h"

/* The reference's verge_activate() for the clamps, on 4 lanes. */
static inline float32x4_t activate4(float32x4_t x, verge_activation act)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);

    switch (act) {
    case VERGE_ACT_RELU: /* x < 0 ? 0 : x */
        return vbslq_f32(vcltq_f32(x, zero), zero, x);
    case VERGE_ACT_RELU_N1_TO_1: { /* x < -1 ? -1 : (x > 1 ? 1 : x) */
        const float32x4_t one = vdupq_n_f32(1.0f), minus_one = vdupq_n_f32(-1.0f);
        float32x4_t y = vbslq_f32(vcgtq_f32(x, one), one, x);

        return vbslq_f32(vcltq_f32(x, minus_one), minus_one, y);
    }
    case VERGE_ACT_RELU6: { /* x < 0 ? 0 : (x > 6 ? 6 : x) */
        const float32x4_t six = vdupq_n_f32(6.0f);
        float32x4_t y = vbslq_f32(vcgtq_f32(x, six), six, x);

        return vbslq_f32(vcltq_f32(x, zero), zero, y);
    }
    default:
        return x;
    }
}

static inline float32x4_t binary4(int op, float32x4_t a, float32x4_t b)
{
    switch (op) {
    case VERGE_OP_ADD: return vaddq_f32(a, b);
    case VERGE_OP_SUB: return vsubq_f32(a, b);
    case VERGE_OP_MUL: return vmulq_f32(a, b);
    case VERGE_OP_MAXIMUM: return vbslq_f32(vcgtq_f32(a, b), a, b);
    default: return vbslq_f32(vcltq_f32(a, b), a, b); /* MINIMUM */
    }
}

static inline float binary1(int op, verge_activation act, float a, float b)
{
    switch (op) {
    case VERGE_OP_ADD: return verge_activate(a + b, act);
    case VERGE_OP_SUB: return verge_activate(a - b, act);
    case VERGE_OP_MUL: return verge_activate(a * b, act);
    case VERGE_OP_MAXIMUM: return a > b ? a : b;
    default: return a < b ? a : b;
    }
}

/* n outputs from a and b, each read with step 1 or (scalar) step 0. */
static void binary_span(int op, verge_activation act, const float *a, int a_step, const float *b,
                        int b_step, float *out, size_t n)
{
    const float32x4_t a_all = vdupq_n_f32(a[0]), b_all = vdupq_n_f32(b[0]);
    size_t i = 0;

    for (; i + 4 <= n; i += 4) {
        float32x4_t x = a_step ? vld1q_f32(a + i) : a_all;
        float32x4_t y = b_step ? vld1q_f32(b + i) : b_all;

        vst1q_f32(out + i, activate4(binary4(op, x, y), act));
    }
    for (; i < n; i++)
        out[i] = binary1(op, act, a[a_step ? i : 0], b[b_step ? i : 0]);
}

void verge_binary_f32_neon(const verge_binary_args *g, size_t begin, size_t end)
{
    const int a_step = g->layout_a != VERGE_FAST_SCALAR, b_step = g->layout_b != VERGE_FAST_SCALAR;
    const verge_activation act = g->activation;
    size_t i = begin;

    if (g->layout_a != VERGE_FAST_ROW && g->layout_b != VERGE_FAST_ROW) {
        binary_span(g->op, act, g->a + (a_step ? begin : 0), a_step, g->b + (b_step ? begin : 0),
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

        binary_span(g->op, act, a, a_step, b, b_step, g->out + i, n);
        i += n;
    }
}

void verge_unary_f32_neon(const verge_unary_args *u, size_t begin, size_t end)
{
    const float32x4_t zero = vdupq_n_f32(0.0f), alpha = vdupq_n_f32(u->alpha);
    const float32x4_t three = vdupq_n_f32(3.0f), six = vdupq_n_f32(6.0f);
    const float *in = u->in;
    float *out = u->out;
    size_t i = begin;

    for (; i + 4 <= end; i += 4) {
        const float32x4_t x = vld1q_f32(in + i);
        float32x4_t y;

        switch (u->op) {
        case VERGE_OP_RELU: y = activate4(x, VERGE_ACT_RELU); break;
        case VERGE_OP_RELU6: y = activate4(x, VERGE_ACT_RELU6); break;
        case VERGE_OP_RELU_N1_TO_1: y = activate4(x, VERGE_ACT_RELU_N1_TO_1); break;
        case VERGE_OP_LEAKY_RELU: /* x > 0 ? x : x * alpha */
            y = vbslq_f32(vcgtq_f32(x, zero), x, vmulq_f32(x, alpha));
            break;
        default: { /* HARD_SWISH: x * fminf(fmaxf(x + 3, 0), 6) / 6 */
            /* FMAXNM and FMINNM return the number when one operand is NaN, as fmaxf does. */
            float32x4_t gate = vminnmq_f32(vmaxnmq_f32(vaddq_f32(x, three), zero), six);

            y = vdivq_f32(vmulq_f32(x, gate), six);
            break;
        }
        }
        vst1q_f32(out + i, y);
    }
    for (; i < end; i++) {
        const float x = in[i];

        switch (u->op) {
        case VERGE_OP_RELU: out[i] = verge_activate(x, VERGE_ACT_RELU); break;
        case VERGE_OP_RELU6: out[i] = verge_activate(x, VERGE_ACT_RELU6); break;
        case VERGE_OP_RELU_N1_TO_1: out[i] = verge_activate(x, VERGE_ACT_RELU_N1_TO_1); break;
        case VERGE_OP_LEAKY_RELU: out[i] = x > 0.0f ? x : x * u->alpha; break;
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

void verge_pool_f32_neon(const verge_pool_args *p, size_t row_begin, size_t row_end)
{
    const int32_t C = p->channels;

    for (size_t row = row_begin; row < row_end; row++) {
        const int32_t b = (int32_t)(row / (size_t)p->out_h);
        const int32_t oy = (int32_t)(row % (size_t)p->out_h);
        const float *in_b = p->in + (size_t)b * p->in_h * p->in_w * C;
        int32_t y0 = oy * p->stride_h - p->pad_top, y1 = y0 + p->filter_h;

        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > p->in_h ? p->in_h : y1;
        for (int32_t ox = 0; ox < p->out_w; ox++) {
            float *out = p->out + (row * (size_t)p->out_w + (size_t)ox) * C;
            int32_t x0 = ox * p->stride_w - p->pad_left, x1 = x0 + p->filter_w, c = 0;
            float count;

            x0 = x0 < 0 ? 0 : x0;
            x1 = x1 > p->in_w ? p->in_w : x1;
            count = (float)((size_t)(y1 - y0) * (size_t)(x1 - x0));
            for (; c + 4 <= C; c += 4) {
                float32x4_t acc = p->average ? vdupq_n_f32(0.0f) : vdupq_n_f32(-FLT_MAX);

                for (int32_t iy = y0; iy < y1; iy++) {
                    for (int32_t ix = x0; ix < x1; ix++) {
                        const float32x4_t v =
                            vld1q_f32(in_b + ((size_t)iy * p->in_w + ix) * C + c);

                        /* The reference's acc < v ? v : acc; NaN cells lose the comparison. */
                        acc = p->average ? vaddq_f32(acc, v)
                                         : vbslq_f32(vcltq_f32(acc, v), v, acc);
                    }
                }
                if (p->average)
                    acc = vdivq_f32(acc, vdupq_n_f32(count));
                vst1q_f32(out + c, activate4(acc, p->activation));
            }
            for (; c < C; c++) {
                float acc = p->average ? 0.0f : -FLT_MAX;

                for (int32_t iy = y0; iy < y1; iy++) {
                    for (int32_t ix = x0; ix < x1; ix++) {
                        float v = in_b[((size_t)iy * p->in_w + ix) * C + c];

                        if (p->average)
                            acc += v;
                        else if (acc < v)
                            acc = v;
                    }
                }
                out[c] = verge_activate(p->average ? acc / count : acc, p->activation);
            }
        }
    }
}
