/*
 * Letterbox and stretch resizing of 8-bit RGB frames into float NHWC model
 * inputs, and the coordinate mapping between frame and model input.
 *
 * Resampling is separable. For each axis a table gives every output pixel
 * of the content area its first source pixel, tap count and normalised
 * weights. The tables are built once per frame size. Each output row is
 * made in two steps. First the frame rows under its vertical taps are
 * blended into one full-width float row. That contiguous multiply-add is
 * where most of the work is when shrinking, and compilers vectorise it.
 * Then the blended row is filtered horizontally. Only one frame-width row
 * of floats is needed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "verge/vision.h"

/* Same bound as verge_image_create(): frames larger than this are rejected. */
enum { FRAME_MAX_SIDE = 1 << 15 };

/* Filter taps along one axis, for the output pixels of the content area. */
typedef struct axis_taps {
    int32_t *start;      /* first source pixel of each output pixel */
    int32_t *count;      /* number of taps of each output pixel */
    float *weights;      /* output pixel j's weights at [j * max_taps, j * max_taps + count[j]) */
    size_t weights_capacity;
    int max_taps;
} axis_taps;

struct verge_preprocessor {
    verge_preprocess_options options;
    float pad_value[3];            /* padding colour after normalisation */
    int table_frame_width;         /* frame size the tables were built for; 0 = none yet */
    int table_frame_height;
    verge_letterbox map;
    int content_x, content_y;      /* top-left output pixel of the frame's content area */
    int content_w, content_h;      /* nw x nh */
    axis_taps cols;                /* options.width entries at most */
    axis_taps rows;                /* options.height entries at most */
    float *row_buffer;             /* one vertically blended frame row: frame width * 3 floats */
    size_t row_buffer_capacity;    /* in floats */
};

static verge_status check_options(const verge_preprocess_options *options)
{
    if (options == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "preprocess options are NULL");
    if (options->width < 1 || options->width > VERGE_PREPROCESS_MAX_SIDE ||
        options->height < 1 || options->height > VERGE_PREPROCESS_MAX_SIDE)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "model input size %dx%d is outside 1..%d pixels per side",
                          options->width, options->height, VERGE_PREPROCESS_MAX_SIDE);
    if (options->mode != VERGE_RESIZE_LETTERBOX && options->mode != VERGE_RESIZE_STRETCH)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "resize mode %d is unknown (0 = letterbox, 1 = stretch)",
                          (int)options->mode);
    if (options->filter != VERGE_FILTER_BILINEAR &&
        options->filter != VERGE_FILTER_BILINEAR_ANTIALIAS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "resize filter %d is unknown (0 = bilinear, 1 = bilinear with antialiasing)",
                          (int)options->filter);
    if (!isfinite(options->mul) || !isfinite(options->add))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "normalisation mul %g / add %g must be finite", (double)options->mul,
                          (double)options->add);
    return VERGE_OK;
}

/* Returns round(size * numerator / denominator), half up, at least 1, in exact integer arithmetic. */
static int scaled_side(int size, int numerator, int denominator)
{
    const int64_t rounded = ((int64_t)2 * size * numerator + denominator) / ((int64_t)2 * denominator);
    return rounded < 1 ? 1 : (int)rounded;
}

/* Computes the content area and the mapping; the options must be valid. */
static verge_status place_frame(const verge_preprocess_options *options, int frame_width,
                                int frame_height, verge_letterbox *map, int content[4])
{
    const int in_w = options->width;
    const int in_h = options->height;
    int nw = in_w, nh = in_h;

    if (frame_width < 1 || frame_height < 1 || frame_width > FRAME_MAX_SIDE ||
        frame_height > FRAME_MAX_SIDE)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "frame size %dx%d is outside 1..%d pixels per side", frame_width,
                          frame_height, FRAME_MAX_SIDE);

    if (options->mode == VERGE_RESIZE_LETTERBOX) {
        /* Compare in_w / frame_width with in_h / frame_height through exact cross products. */
        if ((int64_t)in_w * frame_height <= (int64_t)in_h * frame_width)
            nh = scaled_side(frame_height, in_w, frame_width);
        else
            nw = scaled_side(frame_width, in_h, frame_height);
    }

    memset(map, 0, sizeof(*map));
    map->frame_width = frame_width;
    map->frame_height = frame_height;
    map->input_width = in_w;
    map->input_height = in_h;
    map->scale_x = (double)nw / frame_width;
    map->scale_y = (double)nh / frame_height;
    map->pad_x = (in_w - nw) / 2;
    map->pad_y = (in_h - nh) / 2;
    content[0] = (in_w - nw) / 2;
    content[1] = (in_h - nh) / 2;
    content[2] = nw;
    content[3] = nh;
    return VERGE_OK;
}

verge_status verge_letterbox_compute(const verge_preprocess_options *options, int frame_width,
                                     int frame_height, verge_letterbox *map)
{
    int content[4];
    verge_status status = check_options(options);

    if (status != VERGE_OK)
        return status;
    return place_frame(options, frame_width, frame_height, map, content);
}

void verge_letterbox_to_frame(const verge_letterbox *map, float input_x, float input_y,
                              float *frame_x, float *frame_y)
{
    *frame_x = (float)(((double)input_x * map->input_width - map->pad_x) / map->scale_x);
    *frame_y = (float)(((double)input_y * map->input_height - map->pad_y) / map->scale_y);
}

void verge_letterbox_to_input(const verge_letterbox *map, float frame_x, float frame_y,
                              float *input_x, float *input_y)
{
    *input_x = (float)(((double)frame_x * map->scale_x + map->pad_x) / map->input_width);
    *input_y = (float)(((double)frame_y * map->scale_y + map->pad_y) / map->input_height);
}

void verge_letterbox_detection_to_frame(const verge_letterbox *map, verge_detection *detection)
{
    verge_letterbox_to_frame(map, detection->box[0], detection->box[1], &detection->box[0],
                             &detection->box[1]);
    verge_letterbox_to_frame(map, detection->box[2], detection->box[3], &detection->box[2],
                             &detection->box[3]);

    int n = detection->num_keypoints;
    if (n > VERGE_MAX_KEYPOINTS)
        n = VERGE_MAX_KEYPOINTS;
    for (int k = 0; k < n; k++)
        verge_letterbox_to_frame(map, detection->keypoints[k][0], detection->keypoints[k][1],
                                 &detection->keypoints[k][0], &detection->keypoints[k][1]);
}

/*
 * Builds the taps that resample `in` source pixels to `out` output pixels.
 * Output j is centred on source coordinate c = (j + 0.5) * in / out and takes
 * the source pixels i with |i + 0.5 - c| < support, weighted by the triangle
 * 1 - |i + 0.5 - c| / support and renormalised. support is 1 pixel, or
 * in / out when antialiasing a shrink.
 */
static verge_status build_axis(axis_taps *axis, int in, int out, bool antialias)
{
    const double step = (double)in / out;
    const double support = antialias && step > 1.0 ? step : 1.0;
    const int max_taps = (int)ceil(2.0 * support) + 1;
    size_t needed;

    if (!verge_size_mul((size_t)out, (size_t)max_taps, &needed))
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "resize taps for %d -> %d overflow", in, out);
    if (needed > axis->weights_capacity) {
        float *grown = realloc(axis->weights, needed * sizeof(float));
        if (grown == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                              "cannot allocate resize taps for %d -> %d pixels", in, out);
        axis->weights = grown;
        axis->weights_capacity = needed;
    }
    axis->max_taps = max_taps;

    for (int j = 0; j < out; j++) {
        const double centre = (j + 0.5) * step;
        int first = (int)floor(centre - support - 0.5) + 1;
        int last = (int)ceil(centre + support - 0.5) - 1;
        float *w = axis->weights + (size_t)j * max_taps;
        double total = 0.0;

        if (first < 0)
            first = 0;
        if (last > in - 1)
            last = in - 1;
        for (int i = first; i <= last; i++) {
            const double weight = 1.0 - fabs(i + 0.5 - centre) / support;
            w[i - first] = weight > 0.0 ? (float)weight : 0.0f;
            total += w[i - first];
        }
        /* The nearest source centre is within 0.5 <= support, so total >= 0.5. */
        for (int i = first; i <= last; i++)
            w[i - first] = (float)(w[i - first] / total);
        axis->start[j] = first;
        axis->count[j] = last - first + 1;
    }
    return VERGE_OK;
}

verge_status verge_preprocess_create(const verge_preprocess_options *options,
                                     verge_preprocessor **preprocessor)
{
    verge_preprocessor *p = NULL;
    verge_status status = check_options(options);

    *preprocessor = NULL;
    if (status != VERGE_OK)
        return status;

    const size_t w = (size_t)options->width;
    const size_t h = (size_t)options->height;

    p = calloc(1, sizeof(*p));
    if (p == NULL)
        goto out_of_memory;
    p->options = *options;
    for (int c = 0; c < 3; c++)
        p->pad_value[c] = (float)options->pad_rgb[c] * options->mul + options->add;
    p->cols.start = malloc(w * sizeof(int32_t));
    p->cols.count = malloc(w * sizeof(int32_t));
    p->rows.start = malloc(h * sizeof(int32_t));
    p->rows.count = malloc(h * sizeof(int32_t));
    if (p->cols.start == NULL || p->cols.count == NULL || p->rows.start == NULL ||
        p->rows.count == NULL)
        goto out_of_memory;

    *preprocessor = p;
    return VERGE_OK;

out_of_memory:
    verge_preprocess_destroy(p);
    return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate a %dx%d preprocessor",
                      options->width, options->height);
}

void verge_preprocess_destroy(verge_preprocessor *preprocessor)
{
    if (preprocessor == NULL)
        return;
    free(preprocessor->cols.start);
    free(preprocessor->cols.count);
    free(preprocessor->cols.weights);
    free(preprocessor->rows.start);
    free(preprocessor->rows.count);
    free(preprocessor->rows.weights);
    free(preprocessor->row_buffer);
    free(preprocessor);
}

static verge_status check_frame(const verge_image *frame)
{
    if (frame == NULL || frame->data == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "frame has no pixels");
    if (frame->width < 1 || frame->height < 1 || frame->width > FRAME_MAX_SIDE ||
        frame->height > FRAME_MAX_SIDE)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "frame size %dx%d is outside 1..%d pixels per side", frame->width,
                          frame->height, FRAME_MAX_SIDE);
    if (frame->stride < (size_t)frame->width * 3)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "frame stride %zu is below 3 * width (%d)", frame->stride,
                          frame->width * 3);
    return VERGE_OK;
}

static verge_status prepare_tables(verge_preprocessor *p, int frame_width, int frame_height)
{
    int content[4] = {0}; /* set by place_frame(); zeros keep -O3 from warning */
    verge_status status;
    const bool antialias = p->options.filter == VERGE_FILTER_BILINEAR_ANTIALIAS;

    p->table_frame_width = 0;
    p->table_frame_height = 0;
    status = place_frame(&p->options, frame_width, frame_height, &p->map, content);
    if (status != VERGE_OK)
        return status;
    p->content_x = content[0];
    p->content_y = content[1];
    p->content_w = content[2];
    p->content_h = content[3];
    status = build_axis(&p->cols, frame_width, p->content_w, antialias);
    if (status != VERGE_OK)
        return status;
    status = build_axis(&p->rows, frame_height, p->content_h, antialias);
    if (status != VERGE_OK)
        return status;
    if ((size_t)frame_width * 3 > p->row_buffer_capacity) {
        float *grown = realloc(p->row_buffer, (size_t)frame_width * 3 * sizeof(float));
        if (grown == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                              "cannot allocate a row buffer for a %d-pixel-wide frame", frame_width);
        p->row_buffer = grown;
        p->row_buffer_capacity = (size_t)frame_width * 3;
    }
    p->table_frame_width = frame_width;
    p->table_frame_height = frame_height;
    return VERGE_OK;
}

static void fill_pad(float *out, size_t pixels, const float pad[3])
{
    for (size_t i = 0; i < pixels; i++) {
        out[3 * i + 0] = pad[0];
        out[3 * i + 1] = pad[1];
        out[3 * i + 2] = pad[2];
    }
}

/*
 * sum[i] = weight * src[i] (first) or sum[i] += weight * src[i], where
 * preprocessing spends most of its time when shrinking. This file is built
 * with -O3, which vectorises the plain loop, and on x86-64 the function is
 * also built for AVX2 and AVX-512 (results the same bit for bit). With
 * GCC 12, a 768x576 frame letterboxed into 128x128 took 0.54 ms before and
 * 0.16 ms after, on the machine of docs/benchmarks.md.
 */
VERGE_VECTOR_CLONES
static void weigh_row(float *restrict sum, const uint8_t *restrict src, float weight, size_t n,
                      bool first)
{
    if (first) {
        for (size_t i = 0; i < n; i++)
            sum[i] = weight * (float)src[i];
    } else {
        for (size_t i = 0; i < n; i++)
            sum[i] += weight * (float)src[i];
    }
}

/* Blends the frame rows under output row v's vertical taps into `sum` (frame width * 3 floats). */
static void blend_rows(const verge_preprocessor *p, const verge_image *frame, int v, float *sum)
{
    const axis_taps *rows = &p->rows;
    const float *w = rows->weights + (size_t)v * rows->max_taps;
    const size_t n = (size_t)frame->width * 3;
    const uint8_t *src = frame->data + (size_t)rows->start[v] * frame->stride;

    for (int k = 0; k < rows->count[v]; k++)
        weigh_row(sum, src + (size_t)k * frame->stride, w[k], n, k == 0);
}

/* Filters a blended row horizontally into the content part of an output row, normalised. */
static void filter_row(const verge_preprocessor *p, const float *sum, float *dst)
{
    const axis_taps *cols = &p->cols;
    const float mul = p->options.mul;
    const float add = p->options.add;

    for (int j = 0; j < p->content_w; j++) {
        const float *s = sum + (size_t)cols->start[j] * 3;
        const float *w = cols->weights + (size_t)j * cols->max_taps;
        const int n = cols->count[j];
        float r = 0.0f, g = 0.0f, b = 0.0f;

        for (int k = 0; k < n; k++) {
            r += w[k] * s[3 * k + 0];
            g += w[k] * s[3 * k + 1];
            b += w[k] * s[3 * k + 2];
        }
        dst[3 * j + 0] = r * mul + add;
        dst[3 * j + 1] = g * mul + add;
        dst[3 * j + 2] = b * mul + add;
    }
}

verge_status verge_preprocess_run(verge_preprocessor *p, const verge_image *frame, float *out,
                                  size_t out_count, verge_letterbox *map)
{
    verge_status status;

    if (p == NULL || out == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "preprocessor or output is NULL");
    status = check_frame(frame);
    if (status != VERGE_OK)
        return status;

    const int out_w = p->options.width;
    const int out_h = p->options.height;
    const size_t needed = (size_t)out_w * (size_t)out_h * 3;

    if (out_count < needed)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "output has room for %zu floats but a %dx%dx3 input needs %zu", out_count,
                          out_w, out_h, needed);
    if (frame->width != p->table_frame_width || frame->height != p->table_frame_height) {
        status = prepare_tables(p, frame->width, frame->height);
        if (status != VERGE_OK)
            return status;
    }

    const size_t row_floats = (size_t)out_w * 3;
    const int x0 = p->content_x, y0 = p->content_y;
    const int nw = p->content_w, nh = p->content_h;

    for (int v = 0; v < out_h; v++) {
        float *dst = out + (size_t)v * row_floats;

        if (v < y0 || v >= y0 + nh) {
            fill_pad(dst, (size_t)out_w, p->pad_value);
            continue;
        }
        fill_pad(dst, (size_t)x0, p->pad_value);
        blend_rows(p, frame, v - y0, p->row_buffer);
        filter_row(p, p->row_buffer, dst + (size_t)x0 * 3);
        fill_pad(dst + (size_t)(x0 + nw) * 3, (size_t)(out_w - x0 - nw), p->pad_value);
    }

    if (map != NULL)
        *map = p->map;
    return VERGE_OK;
}

verge_status verge_preprocess_image(const verge_preprocess_options *options,
                                    const verge_image *frame, float *out, size_t out_count,
                                    verge_letterbox *map)
{
    verge_preprocessor *p;
    verge_status status = verge_preprocess_create(options, &p);

    if (status != VERGE_OK)
        return status;
    status = verge_preprocess_run(p, frame, out, out_count, map);
    verge_preprocess_destroy(p);
    return status;
}
