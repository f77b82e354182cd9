/*
 * MediaPipe's selfie-segmentation models, checked without a reference runtime.
 *
 * TFLite, the reference runtime of tests/data/golden, lacks MediaPipe's custom
 * operator Convolution2DTransposeBias, so these two models have no reference
 * outputs. This test checks them in two ways.
 *
 * 1. Against a float64 evaluation of the same graph written here with plain
 *    loops. It follows TFLite's reference semantics for the builtin operators
 *    and MediaPipe's transpose_conv_bias.cc for the custom one. It shares no
 *    code with verge's kernels. It widens the float16 weights with its own
 *    conversion and derives every output shape from the operator parameters.
 *    Inputs are a photo preprocessed as MediaPipe's selfie-segmentation graph
 *    does (stretched to the input size with bilinear filtering, RGB scaled to
 *    0..1) and uniform pseudo-random values in [0, 1). Pass rule per output,
 *    the same as for the rest of the model zoo:
 *    max|verge - float64| <= 1e-6 + 1e-4 * max|float64|. Since noise gives a
 *    mask of values near 1e-8, which that rule accepts whatever they are,
 *    the logits before the final LOGISTIC are compared as well (see
 *    compare_with_float64).
 * 2. On two portraits, the mask resized back to the photo covers the face
 *    and the body and leaves the background out. On a photo without a
 *    person the mask stays low.
 *
 * Set VERGE_TEST_MASK_DIR to an existing folder to get each mask of part 2
 * as a PNG file there, the photo dimmed where the mask is low.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/graph.h"
#include "verge/interpreter.h"
#include "verge/media.h"
#include "verge/model.h"
#include "verge/vision.h"

#define SQUARE_MODEL "selfie_segmentation.tflite"
#define LANDSCAPE_MODEL "selfie_segmentation_landscape.tflite"

/* ------------------------------------------------------------------------ */
/* float64 evaluation of a graph                                            */
/* ------------------------------------------------------------------------ */

/* One tensor's value: every dtype is held as double, int32 constants too (exactly). */
typedef struct ref_value {
    bool ready;
    int rank;
    int32_t dims[VERGE_MAX_RANK];
    size_t count;
    double *data;
} ref_value;

typedef struct ref_graph {
    const verge_graph *graph;
    ref_value *values; /* graph->num_tensors entries */
    int node;          /* the node being evaluated, for messages */
} ref_graph;

/* Records a failure naming the node and returns false from the calling function. */
#define REF_FAIL(r, ...)                                                                       \
    do {                                                                                       \
        char ref_message_[256];                                                                \
        snprintf(ref_message_, sizeof(ref_message_), __VA_ARGS__);                             \
        CHECK_FAIL_AT(__FILE__, __LINE__, "float64 evaluation, node %d: %s", (r)->node,        \
                      ref_message_);                                                           \
        return false;                                                                          \
    } while (0)

/* Converts IEEE 754 binary16 to double, which represents every binary16 value exactly. */
static double half_to_double(uint16_t half)
{
    const int exponent = (half >> 10) & 0x1f;
    const int mantissa = half & 0x3ff;
    double magnitude;

    if (exponent == 0)
        magnitude = ldexp(mantissa, -24); /* zero or subnormal: mantissa * 2^-24 */
    else if (exponent == 31)
        magnitude = mantissa == 0 ? INFINITY : NAN;
    else
        magnitude = ldexp(1024 + mantissa, exponent - 25); /* (1 + m / 1024) * 2^(e - 15) */
    return (half & 0x8000) ? -magnitude : magnitude;
}

static size_t shape_count(int rank, const int32_t *dims)
{
    size_t count = 1;

    for (int i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    return count;
}

/* Allocates the value of tensor `t` with the given shape; NULL when out of memory. */
static double *ref_alloc(ref_graph *r, int32_t t, int rank, const int32_t *dims)
{
    ref_value *v = &r->values[t];

    free(v->data);
    v->rank = rank;
    memset(v->dims, 0, sizeof(v->dims));
    memcpy(v->dims, dims, (size_t)rank * sizeof(dims[0]));
    v->count = shape_count(rank, dims);
    v->data = calloc(v->count > 0 ? v->count : 1, sizeof(double));
    v->ready = v->data != NULL;
    return v->data;
}

/* Converts a constant tensor's data into doubles (read with memcpy: no alignment assumed). */
static bool ref_constant(ref_graph *r, int32_t t)
{
    const verge_tensor *tensor = &r->graph->tensors[t];
    const uint8_t *bytes = tensor->data;
    double *out;
    size_t count;

    if (tensor->storage != VERGE_STORAGE_CONSTANT || tensor->data == NULL)
        REF_FAIL(r, "tensor %d '%s' is read before it is computed", (int)t, tensor->name);
    if (tensor->sparsity != NULL)
        REF_FAIL(r, "tensor %d '%s' is sparse, which this evaluator does not expand", (int)t,
                 tensor->name);
    out = ref_alloc(r, t, tensor->rank, tensor->dims);
    if (out == NULL)
        REF_FAIL(r, "out of memory");
    count = r->values[t].count;
    if (tensor->bytes != count * verge_dtype_size(tensor->dtype))
        REF_FAIL(r, "tensor %d has %zu bytes for %zu elements of %s", (int)t, tensor->bytes,
                 count, verge_dtype_name(tensor->dtype));

    for (size_t i = 0; i < count; i++) {
        if (tensor->dtype == VERGE_DTYPE_FLOAT32) {
            float f;
            memcpy(&f, bytes + 4 * i, 4);
            out[i] = f;
        } else if (tensor->dtype == VERGE_DTYPE_FLOAT16) {
            uint16_t h;
            memcpy(&h, bytes + 2 * i, 2);
            out[i] = half_to_double(h);
        } else if (tensor->dtype == VERGE_DTYPE_INT32) {
            int32_t n;
            memcpy(&n, bytes + 4 * i, 4);
            out[i] = n;
        } else {
            REF_FAIL(r, "constant tensor %d has dtype %s, not handled here", (int)t,
                     verge_dtype_name(tensor->dtype));
        }
    }
    return true;
}

/* Stores in *value the value of input `k` of `node`, converting constants on first use. */
static bool ref_input(ref_graph *r, const verge_node *node, int k, const ref_value **value)
{
    int32_t t;

    if (k >= node->num_inputs || node->inputs[k] == VERGE_NO_TENSOR)
        REF_FAIL(r, "input %d is missing", k);
    t = node->inputs[k];
    if (!r->values[t].ready && !ref_constant(r, t))
        return false;
    *value = &r->values[t];
    return true;
}

static bool ref_check_rank(ref_graph *r, const ref_value *v, const char *label, int rank)
{
    if (v->rank != rank)
        REF_FAIL(r, "%s has rank %d, expected %d", label, v->rank, rank);
    return true;
}

static bool ref_activation(ref_graph *r, verge_activation activation, double *data,
                           size_t count)
{
    double low, high;

    switch (activation) {
    case VERGE_ACT_NONE:
        return true;
    case VERGE_ACT_RELU:
        low = 0, high = INFINITY;
        break;
    case VERGE_ACT_RELU_N1_TO_1:
        low = -1, high = 1;
        break;
    case VERGE_ACT_RELU6:
        low = 0, high = 6;
        break;
    default:
        REF_FAIL(r, "fused activation %d is not handled here", (int)activation);
    }
    for (size_t i = 0; i < count; i++)
        data[i] = fmin(fmax(data[i], low), high);
    return true;
}

/*
 * Computes the output size and leading padding along one axis of a
 * convolution or pool as TFLite does. SAME gives ceil(in / stride) and VALID
 * ceil((in - effective filter + 1) / stride). The total padding that makes
 * the last window fit is split with the smaller half first.
 */
static bool ref_window_axis(ref_graph *r, verge_padding padding, int32_t in, int32_t filter,
                            int32_t stride, int32_t dilation, int32_t *out, int32_t *pad)
{
    const int64_t effective = (int64_t)(filter - 1) * dilation + 1;
    int64_t size, total;

    if (padding == VERGE_PADDING_SAME)
        size = ((int64_t)in + stride - 1) / stride;
    else if (padding == VERGE_PADDING_VALID)
        size = ((int64_t)in - effective + stride) / stride;
    else
        REF_FAIL(r, "padding %d is not SAME or VALID", (int)padding);
    if (size < 1)
        REF_FAIL(r, "window of %lld over %d gives no output", (long long)effective, (int)in);
    total = (size - 1) * stride + effective - in;
    *out = (int32_t)size;
    *pad = total > 0 ? (int32_t)(total / 2) : 0;
    return true;
}

/* CONV_2D (weights [oc, kh, kw, ic]) and DEPTHWISE_CONV_2D (weights [1, kh, kw, ic * dm]). */
static bool ref_conv(ref_graph *r, const verge_node *node, bool depthwise)
{
    const verge_conv_params *p = &node->params.conv;
    const ref_value *in, *w, *bias = NULL;
    int32_t out_h, out_w, pad_top, pad_left, out_c, multiplier = 1;
    double *out;

    if (!ref_input(r, node, 0, &in) || !ref_input(r, node, 1, &w) ||
        !ref_check_rank(r, in, "input", 4) || !ref_check_rank(r, w, "weights", 4))
        return false;
    if (node->num_inputs > 2 && node->inputs[2] != VERGE_NO_TENSOR &&
        !ref_input(r, node, 2, &bias))
        return false;

    const int32_t batches = in->dims[0], in_h = in->dims[1], in_w = in->dims[2];
    const int32_t in_c = in->dims[3], kh = w->dims[1], kw = w->dims[2];

    if (depthwise) {
        multiplier = p->depth_multiplier;
        out_c = w->dims[3];
        if (w->dims[0] != 1 || out_c != in_c * multiplier)
            REF_FAIL(r, "depthwise weights [%d,%d,%d,%d] do not fit %d channels x multiplier %d",
                     (int)w->dims[0], (int)kh, (int)kw, (int)out_c, (int)in_c, (int)multiplier);
    } else {
        out_c = w->dims[0];
        if (w->dims[3] != in_c)
            REF_FAIL(r, "weights have %d input channels, the input %d", (int)w->dims[3],
                     (int)in_c);
    }
    if (bias != NULL && (bias->count != (size_t)out_c))
        REF_FAIL(r, "bias has %zu values for %d output channels", bias->count, (int)out_c);
    if (!ref_window_axis(r, p->padding, in_h, kh, p->stride_h, p->dilation_h, &out_h, &pad_top) ||
        !ref_window_axis(r, p->padding, in_w, kw, p->stride_w, p->dilation_w, &out_w, &pad_left))
        return false;
    out = ref_alloc(r, node->outputs[0], 4, (const int32_t[]){batches, out_h, out_w, out_c});
    if (out == NULL)
        REF_FAIL(r, "out of memory");

    for (int32_t b = 0; b < batches; b++)
        for (int32_t oy = 0; oy < out_h; oy++)
            for (int32_t ox = 0; ox < out_w; ox++)
                for (int32_t oc = 0; oc < out_c; oc++) {
                    double sum = bias != NULL ? bias->data[oc] : 0.0;

                    for (int32_t fy = 0; fy < kh; fy++) {
                        const int32_t iy = oy * p->stride_h - pad_top + fy * p->dilation_h;

                        if (iy < 0 || iy >= in_h)
                            continue;
                        for (int32_t fx = 0; fx < kw; fx++) {
                            const int32_t ix = ox * p->stride_w - pad_left + fx * p->dilation_w;
                            const double *px;

                            if (ix < 0 || ix >= in_w)
                                continue;
                            px = in->data + (((size_t)b * in_h + iy) * in_w + ix) * in_c;
                            if (depthwise) {
                                sum += px[oc / multiplier] *
                                       w->data[((size_t)fy * kw + fx) * out_c + oc];
                            } else {
                                const double *wk =
                                    w->data + (((size_t)oc * kh + fy) * kw + fx) * in_c;

                                for (int32_t ic = 0; ic < in_c; ic++)
                                    sum += px[ic] * wk[ic];
                            }
                        }
                    }
                    out[(((size_t)b * out_h + oy) * out_w + ox) * out_c + oc] = sum;
                }
    return ref_activation(r, p->activation, out, r->values[node->outputs[0]].count);
}

/* AVERAGE_POOL_2D: the mean over the window's positions that lie inside the input. */
static bool ref_average_pool(ref_graph *r, const verge_node *node)
{
    const verge_pool_params *p = &node->params.pool;
    const ref_value *in;
    int32_t out_h, out_w, pad_top, pad_left;
    double *out;

    if (!ref_input(r, node, 0, &in) || !ref_check_rank(r, in, "input", 4))
        return false;

    const int32_t batches = in->dims[0], in_h = in->dims[1], in_w = in->dims[2];
    const int32_t channels = in->dims[3];

    if (!ref_window_axis(r, p->padding, in_h, p->filter_h, p->stride_h, 1, &out_h, &pad_top) ||
        !ref_window_axis(r, p->padding, in_w, p->filter_w, p->stride_w, 1, &out_w, &pad_left))
        return false;
    out = ref_alloc(r, node->outputs[0], 4, (const int32_t[]){batches, out_h, out_w, channels});
    if (out == NULL)
        REF_FAIL(r, "out of memory");

    for (int32_t b = 0; b < batches; b++)
        for (int32_t oy = 0; oy < out_h; oy++)
            for (int32_t ox = 0; ox < out_w; ox++)
                for (int32_t c = 0; c < channels; c++) {
                    double sum = 0;
                    int inside = 0;

                    for (int32_t fy = 0; fy < p->filter_h; fy++)
                        for (int32_t fx = 0; fx < p->filter_w; fx++) {
                            const int32_t iy = oy * p->stride_h - pad_top + fy;
                            const int32_t ix = ox * p->stride_w - pad_left + fx;

                            if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w)
                                continue;
                            sum += in->data[(((size_t)b * in_h + iy) * in_w + ix) * channels + c];
                            inside++;
                        }
                    out[(((size_t)b * out_h + oy) * out_w + ox) * channels + c] =
                        inside > 0 ? sum / inside : 0.0;
                }
    return ref_activation(r, p->activation, out, r->values[node->outputs[0]].count);
}

/* ADD and MUL with NumPy broadcasting: shapes align at the last dimension. */
static bool ref_binary(ref_graph *r, const verge_node *node, bool multiply)
{
    const ref_value *a, *b;
    int32_t dims[VERGE_MAX_RANK];
    size_t stride_a[VERGE_MAX_RANK], stride_b[VERGE_MAX_RANK];
    size_t step_a = 1, step_b = 1;
    int rank;
    double *out;

    if (!ref_input(r, node, 0, &a) || !ref_input(r, node, 1, &b))
        return false;
    rank = a->rank > b->rank ? a->rank : b->rank;

    /* Walks the dimensions from the last; a missing or size-1 dimension broadcasts (stride 0). */
    for (int i = rank - 1; i >= 0; i--) {
        const int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        const int32_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;

        if (da != db && da != 1 && db != 1)
            REF_FAIL(r, "dimension %d: %d and %d do not broadcast", i, (int)da, (int)db);
        dims[i] = da == 1 ? db : da;
        stride_a[i] = da == 1 ? 0 : step_a;
        stride_b[i] = db == 1 ? 0 : step_b;
        step_a *= (size_t)da;
        step_b *= (size_t)db;
    }
    out = ref_alloc(r, node->outputs[0], rank, dims);
    if (out == NULL)
        REF_FAIL(r, "out of memory");

    for (size_t o = 0; o < r->values[node->outputs[0]].count; o++) {
        size_t rest = o, offset_a = 0, offset_b = 0;

        for (int i = rank - 1; i >= 0; i--) {
            const size_t coord = rest % (size_t)dims[i];

            rest /= (size_t)dims[i];
            offset_a += coord * stride_a[i];
            offset_b += coord * stride_b[i];
        }
        out[o] = multiply ? a->data[offset_a] * b->data[offset_b]
                          : a->data[offset_a] + b->data[offset_b];
    }
    return ref_activation(r, node->params.activation.activation, out,
                          r->values[node->outputs[0]].count);
}

/* LOGISTIC, RELU, HARD_SWISH and DEQUANTIZE (the constant is already widened to double). */
static bool ref_unary(ref_graph *r, const verge_node *node)
{
    const ref_value *in;
    double *out;

    if (!ref_input(r, node, 0, &in))
        return false;
    if (node->op == VERGE_OP_DEQUANTIZE) {
        const verge_tensor *source = &r->graph->tensors[node->inputs[0]];

        if (source->dtype != VERGE_DTYPE_FLOAT16)
            REF_FAIL(r, "DEQUANTIZE of %s is not handled here", verge_dtype_name(source->dtype));
    }
    out = ref_alloc(r, node->outputs[0], in->rank, in->dims);
    if (out == NULL)
        REF_FAIL(r, "out of memory");

    for (size_t i = 0; i < in->count; i++) {
        const double x = in->data[i];

        switch (node->op) {
        case VERGE_OP_LOGISTIC:
            out[i] = 1.0 / (1.0 + exp(-x));
            break;
        case VERGE_OP_RELU:
            out[i] = x > 0 ? x : 0.0;
            break;
        case VERGE_OP_HARD_SWISH:
            out[i] = x * fmin(fmax(x + 3.0, 0.0), 6.0) / 6.0;
            break;
        default: /* DEQUANTIZE */
            out[i] = x;
            break;
        }
    }
    return true;
}

/*
 * Finds the two input neighbours of output index `o` along one axis of
 * RESIZE_BILINEAR, as TFLite's reference kernel does. With
 * half_pixel_centers, output index o samples input coordinate
 * (o + 0.5) * scale - 0.5, otherwise o * scale. The scale is
 * (in - 1) / (out - 1) with align_corners (out > 1), else in / out. The
 * neighbours are floor (at least 0) and ceil (at most in - 1), and *frac is
 * the distance from the lower one.
 */
static void ref_resize_axis(int32_t in, int32_t out_size, int32_t o, bool align_corners,
                            bool half_pixel, int32_t *low, int32_t *high, double *frac)
{
    const double scale = align_corners && out_size > 1 ? (double)(in - 1) / (out_size - 1)
                                                       : (double)in / out_size;
    const double x = half_pixel ? (o + 0.5) * scale - 0.5 : o * scale;
    const double lower = floor(x);

    *low = lower > 0 ? (int32_t)lower : 0;
    *high = (int32_t)ceil(x) < in - 1 ? (int32_t)ceil(x) : in - 1;
    *frac = x - *low;
}

static bool ref_resize_bilinear(ref_graph *r, const verge_node *node)
{
    const verge_resize_params *p = &node->params.resize;
    const ref_value *in, *size;
    double *out;

    if (!ref_input(r, node, 0, &in) || !ref_input(r, node, 1, &size) ||
        !ref_check_rank(r, in, "input", 4))
        return false;
    if (size->count != 2 || size->data[0] < 1 || size->data[1] < 1)
        REF_FAIL(r, "size input has %zu values, expected 2 positive", size->count);
    if (p->align_corners && p->half_pixel_centers)
        REF_FAIL(r, "align_corners and half_pixel_centers are both set");

    const int32_t batches = in->dims[0], in_h = in->dims[1], in_w = in->dims[2];
    const int32_t channels = in->dims[3];
    const int32_t out_h = (int32_t)size->data[0], out_w = (int32_t)size->data[1];

    out = ref_alloc(r, node->outputs[0], 4, (const int32_t[]){batches, out_h, out_w, channels});
    if (out == NULL)
        REF_FAIL(r, "out of memory");

    for (int32_t b = 0; b < batches; b++)
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t y0, y1;
            double fy;

            ref_resize_axis(in_h, out_h, oy, p->align_corners, p->half_pixel_centers, &y0, &y1,
                            &fy);
            for (int32_t ox = 0; ox < out_w; ox++) {
                int32_t x0, x1;
                double fx;

                ref_resize_axis(in_w, out_w, ox, p->align_corners, p->half_pixel_centers, &x0,
                                &x1, &fx);
                for (int32_t c = 0; c < channels; c++) {
#define AT(y, x) in->data[(((size_t)b * in_h + (y)) * in_w + (x)) * channels + c]
                    out[(((size_t)b * out_h + oy) * out_w + ox) * channels + c] =
                        AT(y0, x0) * (1 - fy) * (1 - fx) + AT(y1, x0) * fy * (1 - fx) +
                        AT(y0, x1) * (1 - fy) * fx + AT(y1, x1) * fy * fx;
#undef AT
                }
            }
        }
    return true;
}

/* MEAN over the axes in input 1 (negative counts from the end); keep_dims keeps them as 1. */
static bool ref_mean(ref_graph *r, const verge_node *node)
{
    const ref_value *in, *axes;
    bool reduced[VERGE_MAX_RANK] = {false};
    int32_t dims[VERGE_MAX_RANK];
    size_t out_stride[VERGE_MAX_RANK], step = 1, group = 1;
    int rank = 0;
    double *out;

    if (!ref_input(r, node, 0, &in) || !ref_input(r, node, 1, &axes))
        return false;
    for (size_t i = 0; i < axes->count; i++) {
        int axis = (int)axes->data[i];

        if (axis < -in->rank || axis >= in->rank)
            REF_FAIL(r, "axis %d is outside rank %d", axis, in->rank);
        reduced[axis < 0 ? axis + in->rank : axis] = true;
    }
    for (int i = 0; i < in->rank; i++) {
        if (!reduced[i])
            dims[rank++] = in->dims[i];
        else if (node->params.reducer.keep_dims)
            dims[rank++] = 1;
    }
    /* Strides into the output for each input dimension; reduced dimensions do not move. */
    for (int i = in->rank - 1; i >= 0; i--) {
        out_stride[i] = reduced[i] ? 0 : step;
        if (reduced[i])
            group *= (size_t)in->dims[i];
        else
            step *= (size_t)in->dims[i];
    }
    out = ref_alloc(r, node->outputs[0], rank, dims);
    if (out == NULL)
        REF_FAIL(r, "out of memory");

    for (size_t i = 0; i < in->count; i++) {
        size_t rest = i, offset = 0;

        for (int d = in->rank - 1; d >= 0; d--) {
            offset += (rest % (size_t)in->dims[d]) * out_stride[d];
            rest /= (size_t)in->dims[d];
        }
        out[offset] += in->data[i];
    }
    for (size_t o = 0; o < r->values[node->outputs[0]].count; o++)
        out[o] /= (double)group;
    return true;
}

static int32_t read_le_int32(const uint8_t *bytes)
{
    const uint32_t u = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
                       (uint32_t)bytes[3] << 24;
    int32_t value;

    memcpy(&value, &u, sizeof(value));
    return value;
}

/*
 * Evaluates MediaPipe's Convolution2DTransposeBias as
 * mediapipe/util/tflite/operations/transpose_conv_bias.cc defines it. The
 * custom options are three int32 values: padding (1 = SAME, 2 = VALID),
 * stride_w and stride_h. Per axis, the total padding is
 * max(0, k - (in - 1) % stride - 1) for SAME and 0 for VALID. The output size
 * is stride * (in - 1) + k - total padding, and the leading padding is
 * total / 2. Input pixel iy feeds output rows iy * stride - pad + fy.
 * MediaPipe scatters each input pixel. This evaluator gathers instead: for
 * each output pixel it sums the taps with iy * stride - pad + fy = oy, which
 * are the same products.
 */
static bool ref_transpose_conv_bias(ref_graph *r, const verge_node *node)
{
    const ref_value *in, *w, *bias;
    int32_t padding, stride_w, stride_h, out_h, out_w, pad_top, pad_left;
    double *out;

    if (node->custom_options == NULL || node->custom_options_size != 12)
        REF_FAIL(r, "custom options are %zu bytes, expected 12", node->custom_options_size);
    padding = read_le_int32(node->custom_options);
    stride_w = read_le_int32(node->custom_options + 4);
    stride_h = read_le_int32(node->custom_options + 8);
    if ((padding != 1 && padding != 2) || stride_w < 1 || stride_h < 1)
        REF_FAIL(r, "custom options padding %d, strides %d x %d", (int)padding, (int)stride_w,
                 (int)stride_h);
    if (!ref_input(r, node, 0, &in) || !ref_input(r, node, 1, &w) ||
        !ref_input(r, node, 2, &bias) || !ref_check_rank(r, in, "input", 4) ||
        !ref_check_rank(r, w, "weights", 4))
        return false;

    const int32_t batches = in->dims[0], in_h = in->dims[1], in_w = in->dims[2];
    const int32_t in_c = in->dims[3], out_c = w->dims[0], kh = w->dims[1], kw = w->dims[2];
    const int32_t total_h = padding == 1 ? kh - (in_h - 1) % stride_h - 1 : 0;
    const int32_t total_w = padding == 1 ? kw - (in_w - 1) % stride_w - 1 : 0;

    if (w->dims[3] != in_c || bias->count != (size_t)out_c)
        REF_FAIL(r, "weights [%d,%d,%d,%d] or bias of %zu do not fit %d input channels",
                 (int)out_c, (int)kh, (int)kw, (int)w->dims[3], bias->count, (int)in_c);
    out_h = stride_h * (in_h - 1) + kh - (total_h > 0 ? total_h : 0);
    out_w = stride_w * (in_w - 1) + kw - (total_w > 0 ? total_w : 0);
    pad_top = (total_h > 0 ? total_h : 0) / 2;
    pad_left = (total_w > 0 ? total_w : 0) / 2;
    out = ref_alloc(r, node->outputs[0], 4, (const int32_t[]){batches, out_h, out_w, out_c});
    if (out == NULL)
        REF_FAIL(r, "out of memory");

    for (int32_t b = 0; b < batches; b++)
        for (int32_t oy = 0; oy < out_h; oy++)
            for (int32_t ox = 0; ox < out_w; ox++)
                for (int32_t oc = 0; oc < out_c; oc++) {
                    double sum = bias->data[oc];

                    for (int32_t fy = 0; fy < kh; fy++) {
                        const int32_t ty = oy + pad_top - fy, iy = ty / stride_h;

                        if (ty < 0 || ty % stride_h != 0 || iy >= in_h)
                            continue;
                        for (int32_t fx = 0; fx < kw; fx++) {
                            const int32_t tx = ox + pad_left - fx, ix = tx / stride_w;
                            const double *px, *wk;

                            if (tx < 0 || tx % stride_w != 0 || ix >= in_w)
                                continue;
                            px = in->data + (((size_t)b * in_h + iy) * in_w + ix) * in_c;
                            wk = w->data + (((size_t)oc * kh + fy) * kw + fx) * in_c;
                            for (int32_t ic = 0; ic < in_c; ic++)
                                sum += px[ic] * wk[ic];
                        }
                    }
                    out[(((size_t)b * out_h + oy) * out_w + ox) * out_c + oc] = sum;
                }
    return true;
}

static bool ref_node(ref_graph *r, const verge_node *node)
{
    if (node->num_outputs != 1)
        REF_FAIL(r, "%d outputs, expected 1", node->num_outputs);
    switch (node->op) {
    case VERGE_OP_CONV_2D:
        return ref_conv(r, node, false);
    case VERGE_OP_DEPTHWISE_CONV_2D:
        return ref_conv(r, node, true);
    case VERGE_OP_AVERAGE_POOL_2D:
        return ref_average_pool(r, node);
    case VERGE_OP_ADD:
        return ref_binary(r, node, false);
    case VERGE_OP_MUL:
        return ref_binary(r, node, true);
    case VERGE_OP_DEQUANTIZE:
    case VERGE_OP_LOGISTIC:
    case VERGE_OP_RELU:
    case VERGE_OP_HARD_SWISH:
        return ref_unary(r, node);
    case VERGE_OP_RESIZE_BILINEAR:
        return ref_resize_bilinear(r, node);
    case VERGE_OP_MEAN:
        return ref_mean(r, node);
    case VERGE_OP_CUSTOM:
        if (node->custom_name != NULL && strcmp(node->custom_name, "Convolution2DTransposeBias") == 0)
            return ref_transpose_conv_bias(r, node);
        break;
    default:
        break;
    }
    REF_FAIL(r, "operator %s is not handled here",
             node->custom_name != NULL ? node->custom_name : verge_op_name(node->op));
}

static void ref_free(ref_graph *r)
{
    if (r->values != NULL) {
        for (int t = 0; t < r->graph->num_tensors; t++)
            free(r->values[t].data);
    }
    free(r->values);
    r->values = NULL;
}

/*
 * Evaluates the main graph of `model` in float64 on one float32 input of
 * `input_count` values, shaped as the model's input. On success the outputs
 * are in r->values[graph->outputs[i]]; free them with ref_free().
 */
static bool ref_run(const verge_model *model, const float *input, size_t input_count,
                    ref_graph *r)
{
    const verge_graph *g = &model->graphs[0];
    const verge_tensor *in_tensor;
    double *data;

    r->graph = g;
    r->node = -1;
    r->values = calloc((size_t)g->num_tensors, sizeof(ref_value));
    if (r->values == NULL)
        REF_FAIL(r, "out of memory");
    if (g->num_inputs != 1)
        REF_FAIL(r, "the graph has %d inputs, expected 1", g->num_inputs);
    in_tensor = &g->tensors[g->inputs[0]];
    if (shape_count(in_tensor->rank, in_tensor->dims) != input_count)
        REF_FAIL(r, "input has %zu values for the file's shape", input_count);
    data = ref_alloc(r, g->inputs[0], in_tensor->rank, in_tensor->dims);
    if (data == NULL)
        REF_FAIL(r, "out of memory");
    for (size_t i = 0; i < input_count; i++)
        data[i] = input[i];

    for (r->node = 0; r->node < g->num_nodes; r->node++) {
        if (!ref_node(r, &g->nodes[r->node]))
            return false;
    }
    for (int o = 0; o < g->num_outputs; o++) {
        if (!r->values[g->outputs[o]].ready)
            REF_FAIL(r, "output %d was never computed", o);
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Decodes tests/data/images/<name> into *image (the caller frees it). */
static bool load_photo(const char *name, verge_image *image)
{
    char file[256], path[512];
    verge_source *source = NULL;
    verge_frame frame;
    bool ok = false;

    memset(image, 0, sizeof(*image));
    snprintf(file, sizeof(file), "images/%s", name);
    CHECK_OK(verge_source_open(check_data_path(file, path), NULL, &source));
    if (source == NULL)
        return false;
    CHECK_OK(verge_source_read(source, &frame));
    if (frame.image.data != NULL &&
        verge_image_create(frame.image.width, frame.image.height, image) == VERGE_OK) {
        for (int y = 0; y < image->height; y++)
            memcpy(image->data + (size_t)y * image->stride,
                   frame.image.data + (size_t)y * frame.image.stride, 3 * (size_t)image->width);
        ok = true;
    }
    verge_source_close(source);
    return ok;
}

/* MediaPipe's preprocessing for these models: stretch to the input size, RGB in 0..1. */
static bool fill_from_photo(verge_tensor *in, const verge_image *photo)
{
    const verge_preprocess_options options = {
        .width = in->dims[2],
        .height = in->dims[1],
        .mode = VERGE_RESIZE_STRETCH,
        .filter = VERGE_FILTER_BILINEAR,
        .mul = 1.0f / 255.0f,
        .add = 0.0f,
    };
    verge_status status =
        verge_preprocess_image(&options, photo, in->data, in->bytes / sizeof(float), NULL);

    CHECK_OK(status);
    return status == VERGE_OK;
}

/* Fills the input with uniform values in [0, 1) from xorshift32, the same for every run. */
static void fill_pseudo_random(verge_tensor *in, uint32_t seed)
{
    float *x = in->data;
    uint32_t state = seed;

    for (size_t i = 0; i < in->bytes / sizeof(float); i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        x[i] = (float)(state >> 8) / 16777216.0f;
    }
}

/* Opens a model and an interpreter for it; returns false (after reporting) on failure. */
static bool open_model(const char *file, verge_model **model, verge_interpreter **it)
{
    char path[512];

    *model = NULL;
    *it = NULL;
    CHECK_OK(verge_model_load(check_model_path(file, path), model));
    if (*model == NULL)
        return false;
    CHECK_OK(verge_interpreter_create(*model, NULL, it));
    if (*it == NULL) {
        verge_model_free(*model);
        *model = NULL;
        return false;
    }
    CHECK_EQ_INT(verge_interpreter_input_count(*it), 1);
    CHECK_EQ_INT(verge_interpreter_output_count(*it), 1);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Part 1: verge against the float64 evaluation                             */
/* ------------------------------------------------------------------------ */

static void half_conversion_is_exact(void)
{
    CHECK(half_to_double(0x3c00) == 1.0);
    CHECK(half_to_double(0xc000) == -2.0);
    CHECK(half_to_double(0x3555) == 0.333251953125);
    CHECK(half_to_double(0x7bff) == 65504.0);
    CHECK(half_to_double(0x0400) == ldexp(1.0, -14)); /* smallest normal */
    CHECK(half_to_double(0x0001) == ldexp(1.0, -24)); /* smallest subnormal */
    CHECK(half_to_double(0x03ff) == ldexp(1023.0, -24));
    CHECK(half_to_double(0x8000) == 0.0);
    CHECK(signbit(half_to_double(0x8000)));
    CHECK(isinf(half_to_double(0xfc00)));
    CHECK(half_to_double(0xfc00) < 0);
    CHECK(isnan(half_to_double(0x7e00)));
}

/*
 * Compares verge's output with the float64 one under the zoo's rule and prints
 * how much of the allowed difference it uses.
 *
 * The rule's absolute term (1e-6) alone accepts a mask whose values all stay
 * below 1e-6, as the uniform-noise input gives (no person: every value is
 * about 1e-8). So the logits that the final LOGISTIC squashes are compared
 * too, log(p / (1 - p)), under the rule's relative term: max|logit difference|
 * <= 1e-4 * max|float64 logit|. Only elements with float64 p in
 * [1e-30, 0.999] take part. There a float32 p still gives its logit to
 * better than 1e-4, because float32 rounds 1 - p to within 6e-8.
 */
static void compare_with_float64(const char *label, const verge_tensor *out, const ref_value *ref)
{
    double max_diff = 0, max_ref = 0, allowed;
    double max_logit_diff = 0, max_logit = 0, logit_allowed;
    size_t logit_count = 0;
    const float *o = out->data;
    bool same_shape = out->rank == ref->rank && out->dtype == VERGE_DTYPE_FLOAT32;

    for (int i = 0; same_shape && i < out->rank; i++)
        same_shape = out->dims[i] == ref->dims[i];
    CHECK_MSG(same_shape,
              "%s: verge's output has rank %d [%d,%d,%d,%d] (%s), float64 rank %d "
              "[%d,%d,%d,%d]",
              label, out->rank, (int)out->dims[0], (int)out->dims[1], (int)out->dims[2],
              (int)out->dims[3], verge_dtype_name(out->dtype), ref->rank, (int)ref->dims[0],
              (int)ref->dims[1], (int)ref->dims[2], (int)ref->dims[3]);
    if (!same_shape)
        return;

    for (size_t i = 0; i < ref->count; i++) {
        const double p = ref->data[i], q = o[i];
        const double diff = fabs(q - p);

        if (!(diff <= max_diff))
            max_diff = isnan(diff) ? INFINITY : diff;
        if (fabs(p) > max_ref)
            max_ref = fabs(p);
        if (p >= 1e-30 && p <= 0.999) {
            const double logit = log(p) - log1p(-p);
            const double logit_diff = fabs((log(q) - log1p(-q)) - logit);

            if (!(logit_diff <= max_logit_diff))
                max_logit_diff = isnan(logit_diff) ? INFINITY : logit_diff;
            if (fabs(logit) > max_logit)
                max_logit = fabs(logit);
            logit_count++;
        }
    }
    allowed = 1e-6 + 1e-4 * max_ref;
    logit_allowed = 1e-4 * max_logit;
    CHECK_MSG(max_diff <= allowed, "%s: max|verge - float64| = %g, allowed %g", label, max_diff,
              allowed);
    CHECK_MSG(logit_count >= ref->count / 100,
              "%s: only %zu of %zu values are in [1e-30, 0.999]", label, logit_count, ref->count);
    CHECK_MSG(max_logit_diff <= logit_allowed,
              "%s: max logit difference = %g, allowed %g (1e-4 of max|logit| %g)", label,
              max_logit_diff, logit_allowed, max_logit);
    printf("%s:\n  max|verge - float64| = %.3g, %.3g of max|float64| %.4g (%.3g of the allowed)\n"
           "  logits of %zu values: max difference %.3g, %.3g of max|logit| %.4g (%.3g of the "
           "allowed)\n",
           label, max_diff, max_diff / max_ref, max_ref, max_diff / allowed, logit_count,
           max_logit_diff, max_logit_diff / max_logit, max_logit,
           max_logit_diff / logit_allowed);
}

/* Runs verge and the float64 evaluation on the interpreter's current input and compares. */
static void check_against_float64(const char *label, const verge_model *model,
                                  verge_interpreter *it)
{
    verge_tensor *in = verge_interpreter_input(it, 0);
    ref_graph r = {0};

    CHECK_OK(verge_interpreter_invoke(it));
    if (ref_run(model, in->data, in->bytes / sizeof(float), &r))
        compare_with_float64(label, verge_interpreter_output(it, 0),
                             &r.values[r.graph->outputs[0]]);
    ref_free(&r);
}

/* Compares verge with the float64 evaluation on each photo of `photos` and on noise. */
static void model_matches_float64(const char *file, const char *const *photos, int num_photos)
{
    verge_model *model;
    verge_interpreter *it;
    char label[256];

    if (!open_model(file, &model, &it))
        return;

    for (int p = 0; p < num_photos; p++) {
        verge_image photo;

        if (!load_photo(photos[p], &photo))
            continue;
        if (fill_from_photo(verge_interpreter_input(it, 0), &photo)) {
            snprintf(label, sizeof(label), "%s on %s", file, photos[p]);
            check_against_float64(label, model, it);
        }
        verge_image_free(&photo);
    }

    fill_pseudo_random(verge_interpreter_input(it, 0), 1);
    snprintf(label, sizeof(label), "%s on uniform noise in [0, 1)", file);
    check_against_float64(label, model, it);

    verge_interpreter_destroy(it);
    verge_model_free(model);
}

static void square_model_matches_float64(void)
{
    static const char *const photos[] = {"grace_hopper.jpg"};

    model_matches_float64(SQUARE_MODEL, photos, 1);
}

static void landscape_model_matches_float64(void)
{
    /* coffee.png: the one photo where this model marks a large region without a person. */
    static const char *const photos[] = {"astronaut.png", "coffee.png"};

    model_matches_float64(LANDSCAPE_MODEL, photos, 2);
}

/* ------------------------------------------------------------------------ */
/* Part 2: plausible masks on photos                                        */
/* ------------------------------------------------------------------------ */

/* A mask resized to its photo: one value in 0..1 per photo pixel, rows top to bottom. */
typedef struct photo_mask {
    int width, height;
    float *values;
} photo_mask;

/*
 * Resizes the model's [1, H, W, 1] mask to the photo with bilinear
 * interpolation and half-pixel centres (edges clamped), undoing the stretch.
 */
static bool mask_to_photo(const verge_tensor *mask, int width, int height, photo_mask *out)
{
    const float *m = mask->data;
    const int32_t mh = mask->dims[1], mw = mask->dims[2];

    out->width = width;
    out->height = height;
    out->values = malloc((size_t)width * height * sizeof(float));
    if (out->values == NULL)
        return false;
    for (int y = 0; y < height; y++) {
        const double sy = fmin(fmax((y + 0.5) * mh / height - 0.5, 0.0), mh - 1.0);
        const int y0 = (int)sy, y1 = y0 + 1 < mh ? y0 + 1 : y0;
        const double fy = sy - y0;

        for (int x = 0; x < width; x++) {
            const double sx = fmin(fmax((x + 0.5) * mw / width - 0.5, 0.0), mw - 1.0);
            const int x0 = (int)sx, x1 = x0 + 1 < mw ? x0 + 1 : x0;
            const double fx = sx - x0;
            const double top = m[y0 * mw + x0] * (1 - fx) + m[y0 * mw + x1] * fx;
            const double bottom = m[y1 * mw + x0] * (1 - fx) + m[y1 * mw + x1] * fx;

            out->values[(size_t)y * width + x] = (float)(top * (1 - fy) + bottom * fy);
        }
    }
    return true;
}

/* Returns the mask mean over the pixels whose centres lie in [x0, x1) x [y0, y1). */
static double mask_mean(const photo_mask *mask, double x0, double y0, double x1, double y1)
{
    double sum = 0;
    size_t count = 0;

    for (int y = 0; y < mask->height; y++) {
        if (y + 0.5 < y0 || y + 0.5 >= y1)
            continue;
        for (int x = 0; x < mask->width; x++) {
            if (x + 0.5 < x0 || x + 0.5 >= x1)
                continue;
            sum += mask->values[(size_t)y * mask->width + x];
            count++;
        }
    }
    return count > 0 ? sum / (double)count : NAN;
}

/* Writes the photo dimmed to a quarter where the mask is 0 into $VERGE_TEST_MASK_DIR, if set. */
static void mask_write(const char *model_file, const char *photo_name, const verge_image *photo,
                       const photo_mask *mask)
{
    const char *dir = getenv("VERGE_TEST_MASK_DIR");
    char path[1024];
    verge_image view;

    if (dir == NULL || dir[0] == '\0' || verge_image_create(photo->width, photo->height, &view))
        return;
    for (int y = 0; y < photo->height; y++)
        for (int x = 0; x < photo->width; x++) {
            const double gain = 0.25 + 0.75 * mask->values[(size_t)y * mask->width + x];

            for (int c = 0; c < 3; c++)
                view.data[(size_t)y * view.stride + 3 * (size_t)x + c] =
                    (uint8_t)lrint(photo->data[(size_t)y * photo->stride + 3 * (size_t)x + c] *
                                   gain);
        }
    snprintf(path, sizeof(path), "%s/mask_%s_%s.png", dir, model_file, photo_name);
    CHECK_OK(verge_image_write(path, &view));
    verge_image_free(&view);
}

/* Runs `model_file` on a photo through verge and stores the mask resized to the photo. */
static bool photo_mask_compute(const char *model_file, const char *photo_name, photo_mask *mask)
{
    verge_model *model;
    verge_interpreter *it;
    verge_image photo;
    bool ok = false;

    memset(mask, 0, sizeof(*mask));
    if (!open_model(model_file, &model, &it))
        return false;
    if (load_photo(photo_name, &photo)) {
        if (fill_from_photo(verge_interpreter_input(it, 0), &photo)) {
            CHECK_OK(verge_interpreter_invoke(it));
            ok = mask_to_photo(verge_interpreter_output(it, 0), photo.width, photo.height, mask);
            CHECK(ok);
            if (ok)
                mask_write(model_file, photo_name, &photo, mask);
        }
        verge_image_free(&photo);
    }
    verge_interpreter_destroy(it);
    verge_model_free(model);
    return ok;
}

/* Reads the first face box of `photo` (a file name) from expected/faces.json. */
static bool face_box(const char *photo, double box[4])
{
    char path[512], key[128];
    FILE *file = fopen(check_data_path("expected/faces.json", path), "rb");
    char text[8192];
    size_t size;
    const char *at;

    CHECK_MSG(file != NULL, "cannot open %s", path);
    if (file == NULL)
        return false;
    size = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    text[size] = '\0';

    snprintf(key, sizeof(key), "\"%s\"", photo);
    at = strstr(text, key);
    at = at != NULL ? strstr(at, "\"box\"") : NULL;
    CHECK_MSG(at != NULL, "faces.json has no face box for %s", photo);
    if (at == NULL)
        return false;
    at += strlen("\"box\"");
    for (int i = 0; i < 4; i++) {
        char *end;

        at += strspn(at, " \t\r\n:[,");
        box[i] = strtod(at, &end);
        CHECK_MSG(end != at, "faces.json: box of %s has %d numbers, expected 4", photo, i);
        if (end == at)
            return false;
        at = end;
    }
    return true;
}

/*
 * Checks that on a portrait the person is inside the mask and the background
 * outside. The mask mean over the face box of faces.json is above 0.9, and
 * so is the mean over `body`, a region of clothing below the face (x_min,
 * y_min, x_max, y_max in photo pixels). The mean over each top corner, a
 * quarter of the width and height showing flag and backdrop in both photos,
 * is below 0.2.
 */
static void portrait_mask_is_plausible(const char *model_file, const char *photo,
                                       const double body[4])
{
    double face[4], face_mean, body_mean, left_mean, right_mean;
    photo_mask mask;

    if (!face_box(photo, face) || !photo_mask_compute(model_file, photo, &mask))
        return;
    const double w = mask.width, h = mask.height;

    face_mean = mask_mean(&mask, face[0], face[1], face[2], face[3]);
    body_mean = mask_mean(&mask, body[0], body[1], body[2], body[3]);
    left_mean = mask_mean(&mask, 0, 0, w / 4, h / 4);
    right_mean = mask_mean(&mask, w * 3 / 4, 0, w, h / 4);
    printf("%s on %s: mask mean %.3f over the face box, %.3f over the body, %.3f and %.3f "
           "over the top corners, %.3f overall\n",
           model_file, photo, face_mean, body_mean, left_mean, right_mean,
           mask_mean(&mask, 0, 0, w, h));
    CHECK_MSG(face_mean > 0.9, "%s on %s: mask mean over the face is %.3f, expected > 0.9",
              model_file, photo, face_mean);
    CHECK_MSG(body_mean > 0.9, "%s on %s: mask mean over the body is %.3f, expected > 0.9",
              model_file, photo, body_mean);
    CHECK_MSG(left_mean < 0.2 && right_mean < 0.2,
              "%s on %s: mask means over the top corners are %.3f and %.3f, expected < 0.2",
              model_file, photo, left_mean, right_mean);
    free(mask.values);
}

/* On a photo without a person the mask mean over the whole photo stays below `limit`. */
static void empty_mask_is_low(const char *model_file, const char *photo, double limit)
{
    double mean;
    photo_mask mask;

    if (!photo_mask_compute(model_file, photo, &mask))
        return;
    mean = mask_mean(&mask, 0, 0, mask.width, mask.height);
    printf("%s on %s (no person): mask mean %.3f overall\n", model_file, photo, mean);
    CHECK_MSG(mean < limit, "%s on %s: mask mean is %.3f, expected < %.2f", model_file, photo,
              mean, limit);
    free(mask.values);
}

static void portrait_masks_are_plausible(void)
{
    /* Navy jacket below the collar; orange suit left of the chest patch. */
    static const double hopper_body[4] = {64, 480, 448, 600};
    static const double astronaut_body[4] = {64, 320, 256, 448};

    portrait_mask_is_plausible(SQUARE_MODEL, "grace_hopper.jpg", hopper_body);
    portrait_mask_is_plausible(SQUARE_MODEL, "astronaut.png", astronaut_body);
    portrait_mask_is_plausible(LANDSCAPE_MODEL, "grace_hopper.jpg", hopper_body);
    portrait_mask_is_plausible(LANDSCAPE_MODEL, "astronaut.png", astronaut_body);
}

static void masks_without_person_are_low(void)
{
    /*
     * The general model marks part of the cup (mask mean 0.21 against 0.54
     * and 0.58 on the portraits). The landscape model takes cup and saucer
     * for a person (mean 0.50). landscape_model_matches_float64 shows that
     * the float64 evaluation agrees, so the model does this, not verge.
     * coffee.png is therefore checked with the general model only.
     */
    empty_mask_is_low(SQUARE_MODEL, "coffee.png", 0.3);
    empty_mask_is_low(SQUARE_MODEL, "car1.jpg", 0.15);
    empty_mask_is_low(LANDSCAPE_MODEL, "car1.jpg", 0.15);
}

int main(void)
{
    RUN(half_conversion_is_exact);
    RUN(square_model_matches_float64);
    RUN(landscape_model_matches_float64);
    RUN(portrait_masks_are_plausible);
    RUN(masks_without_person_are_low);
    return check_summary();
}
