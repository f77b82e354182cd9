/*
 * Prepare-time packing and invoke-time tiling of the fast float32 paths.
 * The instruction-set code lives in src/ops/x86/; this file is portable.
 *
 * A CONV_2D runs as an "indirect" GEMM: each output pixel is a row whose
 * K = kh * kw * in_c values are gathered tap by tap through pointers (into
 * the input, or at a block of zeros for taps in the padding), so 1x1, KxK,
 * strided and dilated convolutions share one micro-kernel and nothing is
 * copied. Where a group of output pixels lies wholly inside the input's
 * width (no dilation along it), each filter row's kw taps are kw * in_c
 * consecutive floats, and the group runs with one pointer per filter row
 * instead: the same products in the same order, with less pointer work (the
 * stems, whose in_c is 3, gain most). FULLY_CONNECTED is the same GEMM with
 * one tap per row.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/cpu.h"
#include "ops/common.h"
#include "ops/fast.h"
#include "ops/parallel.h"

enum {
    FAST_ALIGN = 64,
    MAX_TAPS = 64,       /* pointers per row: filters of up to 64 taps, or 64 rows when merged */
    CONV_GRAIN = 4,      /* micro-kernel row groups per range of work, at least */
    /*
     * Multiply-adds per range of work, at least: waking a worker costs a few
     * microseconds, so smaller operators run on the calling thread alone.
     */
    MIN_RANGE_WORK = 1 << 17,
};

typedef enum fast_kind { FAST_CONV, FAST_DEPTHWISE, FAST_FULLY_CONNECTED } fast_kind;

typedef void (*gemm_fn)(const verge_gemm_args *args);
typedef void (*dwconv_fn)(const verge_dwconv_args *args, size_t row_begin, size_t row_end);

/* State kept in node_data: this header, then the packed weights, bias and zeros. */
typedef struct fast_state {
    fast_kind kind;
    gemm_fn gemm;
    dwconv_fn dwconv;
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int32_t panels;
    int32_t k;               /* values per GEMM row: kh * kw * in_c, or depth */
    int32_t residual_c;      /* channels of a fused CONV_2D's residual (input 3), else 0 */
    int clamp;
    float lo, hi;
    float *packed;           /* [panels][k][16] (GEMM kinds) */
    float *bias;             /* panels * 16 or channels values, zero-padded */
    float *zeros;            /* kw * in_c zeros for padding taps (CONV_2D) */
} fast_state;

static size_t round_up(size_t value)
{
    return (value + FAST_ALIGN - 1) / FAST_ALIGN * FAST_ALIGN;
}

/* Copies the shapes, strides, dilations and leading padding of a convolution into `s`. */
static void set_geometry(fast_state *s, const verge_tensor *input, const verge_tensor *filter,
                         const verge_tensor *output, const verge_conv_params *params)
{
    int64_t out_size, pad_top, pad_left;

    s->batches = input->dims[0];
    s->in_h = input->dims[1];
    s->in_w = input->dims[2];
    s->in_c = input->dims[3];
    s->out_h = output->dims[1];
    s->out_w = output->dims[2];
    s->out_c = output->dims[3];
    s->kh = filter->dims[1];
    s->kw = filter->dims[2];
    s->stride_h = params->stride_h;
    s->stride_w = params->stride_w;
    s->dilation_h = params->dilation_h;
    s->dilation_w = params->dilation_w;
    verge_ops_conv_window(params, true, s->in_h, s->kh, &out_size, &pad_top);
    verge_ops_conv_window(params, false, s->in_w, s->kw, &out_size, &pad_left);
    s->pad_top = (int32_t)pad_top;
    s->pad_left = (int32_t)pad_left;
}

/* Maps a fused activation to a clamp; returns false for those without a fast path. */
static bool activation_clamp(verge_activation activation, fast_state *s)
{
    s->clamp = 1;
    switch (activation) {
    case VERGE_ACT_NONE: s->clamp = 0; s->lo = -INFINITY; s->hi = INFINITY; return true;
    case VERGE_ACT_RELU: s->lo = 0.0f; s->hi = INFINITY; return true;
    case VERGE_ACT_RELU_N1_TO_1: s->lo = -1.0f; s->hi = 1.0f; return true;
    case VERGE_ACT_RELU6: s->lo = 0.0f; s->hi = 6.0f; return true;
    default: return false;
    }
}

static bool is_constant(const verge_tensor *tensor)
{
    return tensor == NULL ||
           (tensor->storage == VERGE_STORAGE_CONSTANT && tensor->data != NULL);
}

/*
 * Allocates the state with room for `packed` + `bias` + `zeros` floats,
 * each 64-byte aligned. Returns VERGE_STATUS_OUT_OF_MEMORY when memory is
 * short; prepare then keeps the reference kernel.
 */
static verge_status state_alloc(size_t packed, size_t bias, size_t zeros, fast_state **out)
{
    size_t header = round_up(sizeof(fast_state)), total = header, sizes[3] = {packed, bias, zeros};
    size_t offsets[3];
    uint8_t *block;

    for (int i = 0; i < 3; i++) {
        size_t bytes;

        if (!verge_size_mul(sizes[i], sizeof(float), &bytes) ||
            !verge_size_add(total, round_up(bytes ? bytes : 1), &total))
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "packed weights overflow size_t");
        offsets[i] = total - round_up(bytes ? bytes : 1);
    }
    block = aligned_alloc(FAST_ALIGN, total);
    if (block == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                          "cannot allocate %zu bytes of packed weights", total);
    memset(block, 0, total);
    *out = (fast_state *)block;
    (*out)->packed = (float *)(block + offsets[0]);
    (*out)->bias = (float *)(block + offsets[1]);
    (*out)->zeros = (float *)(block + offsets[2]);
    return VERGE_OK;
}

/* Picks the micro-kernels of the selected instruction set; false when there are none. */
static bool select_kernels(fast_state *s)
{
    switch (verge_cpu_isa_selected()) {
#ifdef VERGE_HAVE_AVX512
    case VERGE_CPU_AVX512:
        s->gemm = verge_gemm_f32_avx512;
        s->dwconv = verge_dwconv_f32_avx512;
        return true;
#endif
#ifdef VERGE_HAVE_AVX2
    case VERGE_CPU_AVX2:
        s->gemm = verge_gemm_f32_avx2;
        s->dwconv = verge_dwconv_f32_avx2;
        return true;
#endif
#ifdef VERGE_HAVE_NEON
    case VERGE_CPU_NEON:
        s->gemm = verge_gemm_f32_neon;
        s->dwconv = verge_dwconv_f32_neon;
        return true;
#endif
    default:
        return false;
    }
}

/*
 * Packs weights[n][k] (row-major, rows of `k` values, n rows) into
 * panels of 16 rows: packed[(n / 16 * k + kk) * 16 + n % 16]. Rows past n
 * stay zero.
 */
static void pack_panels(const float *weights, int32_t n, int32_t k, float *packed)
{
    for (int32_t row = 0; row < n; row++) {
        float *panel = packed + (size_t)(row / VERGE_FAST_PANEL) * k * VERGE_FAST_PANEL +
                       row % VERGE_FAST_PANEL;

        for (int32_t kk = 0; kk < k; kk++)
            panel[(size_t)kk * VERGE_FAST_PANEL] = weights[(size_t)row * k + kk];
    }
}

verge_status verge_conv2d_fast_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_conv_params *params = &node->params.conv;
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    const verge_tensor *filter = verge_node_input(ctx, node, 1);
    const verge_tensor *bias = node->num_inputs > 2 ? verge_node_input(ctx, node, 2) : NULL;
    const verge_tensor *output = verge_node_output(ctx, node, 0);
    fast_state probe = {0}, *s;
    int64_t out_size, pad_left;
    size_t k;
    verge_status status;

    if (!select_kernels(&probe) || !activation_clamp(params->activation, &probe) ||
        !is_constant(filter) || !is_constant(bias) || filter->dims[3] != input->dims[3] ||
        verge_tensor_count(output) == 0)
        return VERGE_OK;

    /* More taps than pointers fit only when every output pixel can use merged rows. */
    verge_ops_conv_window(params, false, input->dims[2], filter->dims[2], &out_size, &pad_left);
    if ((int64_t)filter->dims[1] * filter->dims[2] > MAX_TAPS &&
        (filter->dims[1] > MAX_TAPS || params->dilation_w != 1 || pad_left != 0 ||
         (int64_t)(output->dims[2] - 1) * params->stride_w + filter->dims[2] > input->dims[2]))
        return VERGE_OK;

    k = (size_t)filter->dims[1] * filter->dims[2] * filter->dims[3];
    if (k > INT32_MAX)
        return VERGE_OK;
    probe.panels = (filter->dims[0] + VERGE_FAST_PANEL - 1) / VERGE_FAST_PANEL;
    status = state_alloc((size_t)probe.panels * k * VERGE_FAST_PANEL,
                         (size_t)probe.panels * VERGE_FAST_PANEL,
                         (size_t)filter->dims[2] * input->dims[3], &s);
    if (status != VERGE_OK)
        return VERGE_OK; /* the reference kernel needs no extra memory: run that */
    ctx->node_data = s;

    s->kind = FAST_CONV;
    s->gemm = probe.gemm;
    if (params->residual)
        s->residual_c = verge_node_input(ctx, node, 3)->dims[3];
    s->clamp = probe.clamp;
    s->lo = probe.lo;
    s->hi = probe.hi;
    s->panels = probe.panels;
    s->k = (int32_t)k;
    set_geometry(s, input, filter, output, params);

    /* filter [out_c][kh][kw][in_c] is already [out_c][k] with k in tap, channel order. */
    pack_panels(filter->data, s->out_c, s->k, s->packed);
    if (bias != NULL)
        memcpy(s->bias, bias->data, sizeof(float) * (size_t)s->out_c);
    return VERGE_OK;
}

verge_status verge_depthwise_conv2d_fast_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_conv_params *params = &node->params.conv;
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    const verge_tensor *filter = verge_node_input(ctx, node, 1);
    const verge_tensor *bias = node->num_inputs > 2 ? verge_node_input(ctx, node, 2) : NULL;
    const verge_tensor *output = verge_node_output(ctx, node, 0);
    fast_state probe = {0}, *s;
    verge_status status;

    if (!select_kernels(&probe) || !activation_clamp(params->activation, &probe) ||
        !is_constant(filter) || !is_constant(bias) || params->depth_multiplier != 1 ||
        (int64_t)filter->dims[1] * filter->dims[2] > MAX_TAPS ||
        verge_tensor_count(output) == 0)
        return VERGE_OK;

    status = state_alloc(0, (size_t)input->dims[3], 0, &s);
    if (status != VERGE_OK)
        return VERGE_OK; /* the reference kernel needs no extra memory: run that */
    ctx->node_data = s;

    s->kind = FAST_DEPTHWISE;
    s->dwconv = probe.dwconv;
#if defined(VERGE_HAVE_AVX2) && defined(VERGE_HAVE_AVX512)
    /*
     * Masked loads and stores of the last channels cost more than they save:
     * with a multiple of 8 channels that is not one of 16, 8-lane vectors do
     * the same work without masks. Both kernels give the same bits.
     */
    if (s->dwconv == verge_dwconv_f32_avx512 && input->dims[3] % 16 != 0 &&
        input->dims[3] % 8 == 0)
        s->dwconv = verge_dwconv_f32_avx2;
#endif
    s->clamp = probe.clamp;
    s->lo = probe.lo;
    s->hi = probe.hi;
    set_geometry(s, input, filter, output, params);
    if (bias != NULL)
        memcpy(s->bias, bias->data, sizeof(float) * (size_t)s->in_c);
    return VERGE_OK;
}

verge_status verge_fully_connected_fast_prepare(verge_op_context *ctx, const verge_node *node)
{
    const verge_tensor *input = verge_node_input(ctx, node, 0);
    const verge_tensor *weights = verge_node_input(ctx, node, 1);
    const verge_tensor *bias = node->num_inputs > 2 ? verge_node_input(ctx, node, 2) : NULL;
    fast_state probe = {0}, *s;
    size_t batches;
    verge_status status;

    if (!select_kernels(&probe) ||
        !activation_clamp(node->params.fully_connected.activation, &probe) ||
        !is_constant(weights) || !is_constant(bias) || weights->dims[0] < 1)
        return VERGE_OK;
    batches = verge_tensor_count(input) / (size_t)weights->dims[1];
    if (batches == 0 || batches > INT32_MAX)
        return VERGE_OK;

    probe.panels = (weights->dims[0] + VERGE_FAST_PANEL - 1) / VERGE_FAST_PANEL;
    status = state_alloc((size_t)probe.panels * weights->dims[1] * VERGE_FAST_PANEL,
                         (size_t)probe.panels * VERGE_FAST_PANEL, 0, &s);
    if (status != VERGE_OK)
        return VERGE_OK; /* the reference kernel needs no extra memory: run that */
    ctx->node_data = s;

    s->kind = FAST_FULLY_CONNECTED;
    s->gemm = probe.gemm;
    s->clamp = probe.clamp;
    s->lo = probe.lo;
    s->hi = probe.hi;
    s->panels = probe.panels;
    s->batches = (int32_t)batches;
    s->out_c = weights->dims[0];
    s->k = weights->dims[1];
    pack_panels(weights->data, s->out_c, s->k, s->packed);
    if (bias != NULL)
        memcpy(s->bias, bias->data, sizeof(float) * (size_t)s->out_c);
    return VERGE_OK;
}

typedef struct fast_job {
    const fast_state *s;
    const float *in;
    const float *w;          /* depthwise: the filter tensor's data */
    const float *residual;   /* fused CONV_2D: input 3's data, else NULL */
    float *out;
} fast_job;

static void gemm_args_init(const fast_state *s, verge_gemm_args *g)
{
    *g = (verge_gemm_args){
        .packed = s->packed,
        .bias = s->bias,
        .panel_begin = 0,
        .panel_end = s->panels,
        .out_c = s->out_c,
        .out_stride = (size_t)s->out_c,
        .clamp = s->clamp,
        .lo = s->lo,
        .hi = s->hi,
    };
}

/* Output pixels [begin, end) of a CONV_2D, pixel = (batch * out_h + y) * out_w + x. */
static void conv_pixels(void *arg, size_t begin, size_t end)
{
    const fast_job *job = arg;
    const fast_state *s = job->s;
    const float *rows[MAX_TAPS * VERGE_FAST_ROWS];
    verge_gemm_args g;

    const bool pointwise = s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 &&
                           s->pad_top == 0 && s->pad_left == 0 && s->out_h == s->in_h &&
                           s->out_w == s->in_w;
    /* The pixel p0 at the start of each group, as batch, y and x, stepped without divisions. */
    size_t b = begin / ((size_t)s->out_w * s->out_h);
    int32_t oy = (int32_t)(begin / (size_t)s->out_w % (size_t)s->out_h);
    int32_t ox = (int32_t)(begin % (size_t)s->out_w);

    gemm_args_init(s, &g);
    g.a = rows;
    for (size_t p0 = begin; p0 < end; p0 += VERGE_FAST_ROWS) {
        const float *image[VERGE_FAST_ROWS];
        int32_t iy0[VERGE_FAST_ROWS], ix0[VERGE_FAST_ROWS];
        bool merged = s->dilation_w == 1;

        g.rows = end - p0 < VERGE_FAST_ROWS ? (int)(end - p0) : VERGE_FAST_ROWS;
        g.out = job->out + p0 * (size_t)s->out_c;
        if (job->residual != NULL) {
            g.residual = job->residual + p0 * (size_t)s->residual_c;
            g.residual_stride = (size_t)s->residual_c;
            g.residual_c = s->residual_c;
        }
        if (pointwise) {
            /*
             * A 1x1 convolution with stride 1 and no padding reads consecutive pixels
             * (explicit padding after the data makes the output larger than the input).
             */
            g.taps = 1;
            g.channels = s->in_c;
            for (int r = 0; r < g.rows; r++)
                rows[r] = job->in + (p0 + (size_t)r) * s->in_c;
            s->gemm(&g);
            continue;
        }
        for (int r = 0; r < g.rows; r++) {
            iy0[r] = oy * s->stride_h - s->pad_top;
            ix0[r] = ox * s->stride_w - s->pad_left;
            image[r] = job->in + b * s->in_h * s->in_w * s->in_c;
            merged = merged && ix0[r] >= 0 && ix0[r] + s->kw <= s->in_w;
            if (++ox == s->out_w) {
                ox = 0;
                if (++oy == s->out_h) {
                    oy = 0;
                    b++;
                }
            }
        }

        /* Both ways give each output the same products in the same order. */
        g.taps = merged ? s->kh : s->kh * s->kw;
        g.channels = merged ? s->kw * s->in_c : s->in_c;
        for (int r = 0; r < g.rows; r++) {
            for (int32_t ky = 0; ky < s->kh; ky++) {
                int32_t iy = iy0[r] + ky * s->dilation_h;
                bool row_inside = iy >= 0 && iy < s->in_h;

                if (merged) {
                    rows[ky * VERGE_FAST_ROWS + r] =
                        row_inside ? image[r] + ((size_t)iy * s->in_w + ix0[r]) * s->in_c
                                   : s->zeros;
                    continue;
                }
                for (int32_t kx = 0; kx < s->kw; kx++) {
                    int32_t ix = ix0[r] + kx * s->dilation_w;
                    const float **slot = &rows[(ky * s->kw + kx) * VERGE_FAST_ROWS + r];

                    if (!row_inside || ix < 0 || ix >= s->in_w)
                        *slot = s->zeros;
                    else
                        *slot = image[r] + ((size_t)iy * s->in_w + ix) * s->in_c;
                }
            }
        }
        s->gemm(&g);
    }
}

/* Panels [begin, end) of a FULLY_CONNECTED, for every batch row. */
static void fc_panels(void *arg, size_t begin, size_t end)
{
    const fast_job *job = arg;
    const fast_state *s = job->s;
    const float *rows[VERGE_FAST_ROWS];
    verge_gemm_args g;

    gemm_args_init(s, &g);
    g.taps = 1;
    g.channels = s->k;
    g.a = rows;
    g.panel_begin = (int)begin;
    g.panel_end = (int)end;
    for (int32_t b0 = 0; b0 < s->batches; b0 += VERGE_FAST_ROWS) {
        g.rows = s->batches - b0 < VERGE_FAST_ROWS ? s->batches - b0 : VERGE_FAST_ROWS;
        for (int r = 0; r < g.rows; r++)
            rows[r] = job->in + (size_t)(b0 + r) * s->k;
        g.out = job->out + (size_t)b0 * s->out_c;
        s->gemm(&g);
    }
}

/* Output rows [begin, end) of a DEPTHWISE_CONV_2D, row = batch * out_h + y. */
static void depthwise_rows(void *arg, size_t begin, size_t end)
{
    const fast_job *job = arg;
    const fast_state *s = job->s;
    const verge_dwconv_args d = {
        .in = job->in, .w = job->w, .bias = s->bias, .out = job->out,
        .in_h = s->in_h, .in_w = s->in_w, .channels = s->in_c, .out_h = s->out_h,
        .out_w = s->out_w, .kh = s->kh, .kw = s->kw, .stride_h = s->stride_h,
        .stride_w = s->stride_w, .dilation_h = s->dilation_h, .dilation_w = s->dilation_w,
        .pad_top = s->pad_top, .pad_left = s->pad_left, .clamp = s->clamp, .lo = s->lo,
        .hi = s->hi,
    };

    s->dwconv(&d, begin, end);
}

/* A range size (in units of `unit_work` multiply-adds) that carries MIN_RANGE_WORK, at least `grain`. */
static size_t work_grain(size_t unit_work, size_t grain)
{
    size_t units = MIN_RANGE_WORK / (unit_work ? unit_work : 1);

    return units > grain ? (units + grain - 1) / grain * grain : grain;
}

verge_status verge_fast_invoke(verge_op_context *ctx, const verge_node *node)
{
    const fast_state *s = ctx->node_data;
    fast_job job = {
        .s = s,
        .in = verge_node_input(ctx, node, 0)->data,
        .w = verge_node_input(ctx, node, 1)->data,
        .out = verge_node_output(ctx, node, 0)->data,
    };

    if (s->residual_c > 0)
        job.residual = verge_node_input(ctx, node, 3)->data;
    switch (s->kind) {
    case FAST_CONV:
        verge_ops_parallel(ctx, (size_t)s->batches * s->out_h * s->out_w,
                           work_grain((size_t)s->k * s->out_c, CONV_GRAIN * VERGE_FAST_ROWS),
                           conv_pixels, &job);
        break;
    case FAST_DEPTHWISE:
        verge_ops_parallel(ctx, (size_t)s->batches * s->out_h,
                           work_grain((size_t)s->out_w * s->in_c * s->kh * s->kw, 1),
                           depthwise_rows, &job);
        break;
    case FAST_FULLY_CONNECTED:
        verge_ops_parallel(ctx, (size_t)s->panels,
                           work_grain((size_t)s->batches * s->k * VERGE_FAST_PANEL, 1), fc_panels,
                           &job);
        break;
    }
    return VERGE_OK;
}
