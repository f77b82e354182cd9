/*
 * Letterbox preprocessing speed: verge_preprocess_run() against libswscale
 * doing the same job (resize an RGB frame into the content area of the model
 * input with an antialiasing filter, then scale to float and pad), on
 * synthetic frames of common camera sizes.
 *
 *   bench_preprocess [RUNS]
 *
 * Prints a Markdown table of median milliseconds over RUNS calls (default
 * 300), both measured in the same process and interleaved per frame size.
 */
#include <libswscale/swscale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verge/vision.h"

typedef struct job {
    int frame_width, frame_height, side;
} job;

static const job jobs[] = {
    {640, 480, 128}, {768, 576, 128}, {1280, 720, 128}, {1920, 1080, 128}, {1920, 1080, 192},
    {3840, 2160, 192},
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *values, int count)
{
    qsort(values, (size_t)count, sizeof(*values), compare_doubles);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

/* The swscale version of the job: area resize into the content box, then float and padding. */
static void swscale_letterbox(struct SwsContext *scaler, const verge_image *frame,
                              const verge_letterbox *map, int content_w, int content_h,
                              uint8_t *resized, float *out)
{
    const uint8_t *src[1] = {frame->data};
    const int src_stride[1] = {(int)frame->stride};
    uint8_t *dst[1] = {resized};
    const int dst_stride[1] = {content_w * 3};
    const int side = map->input_width;

    sws_scale(scaler, src, src_stride, 0, frame->height, dst, dst_stride);
    for (size_t i = 0; i < (size_t)side * side * 3; i++)
        out[i] = 0.0f;
    for (int y = 0; y < content_h; y++) {
        float *row = out + ((size_t)(y + (int)map->pad_y) * side + (size_t)map->pad_x) * 3;
        const uint8_t *in = resized + (size_t)y * content_w * 3;

        for (int x = 0; x < content_w * 3; x++)
            row[x] = in[x] / 127.5f - 1.0f;
    }
}

int main(int argc, char **argv)
{
    const int runs = argc > 1 ? atoi(argv[1]) : 300;
    double *verge_ms = malloc(sizeof(double) * (size_t)runs);
    double *swscale_ms = malloc(sizeof(double) * (size_t)runs);

    if (runs < 1 || verge_ms == NULL || swscale_ms == NULL) {
        fprintf(stderr, "usage: bench_preprocess [RUNS >= 1]\n");
        return 2;
    }
    printf("| frame | model input | verge ms | swscale ms | verge/swscale |\n");
    printf("|---|---|---:|---:|---:|\n");
    for (size_t j = 0; j < sizeof(jobs) / sizeof(jobs[0]); j++) {
        const job *task = &jobs[j];
        verge_preprocess_options options = {
            .width = task->side, .height = task->side, .mode = VERGE_RESIZE_LETTERBOX,
            .filter = VERGE_FILTER_BILINEAR_ANTIALIAS, .mul = 1 / 127.5f, .add = -1.0f};
        verge_image frame = {.width = task->frame_width, .height = task->frame_height,
                             .stride = (size_t)task->frame_width * 3};
        verge_preprocessor *preprocessor = NULL;
        verge_letterbox map;
        struct SwsContext *scaler;
        float *out = malloc(sizeof(float) * (size_t)task->side * task->side * 3);
        uint8_t *resized = malloc((size_t)task->side * task->side * 3);
        int content_w, content_h;

        frame.data = malloc(frame.stride * (size_t)frame.height);
        if (frame.data == NULL || out == NULL || resized == NULL ||
            verge_preprocess_create(&options, &preprocessor) != VERGE_OK ||
            verge_letterbox_compute(&options, frame.width, frame.height, &map) != VERGE_OK) {
            fprintf(stderr, "bench_preprocess: setup failed\n");
            return 1;
        }
        /* A smooth picture with some detail, as camera frames are. */
        for (int y = 0; y < frame.height; y++)
            for (int x = 0; x < frame.width * 3; x++)
                frame.data[(size_t)y * frame.stride + x] = (uint8_t)((x * 7 + y * 3 + (x ^ y)) & 255);
        content_w = (int)(frame.width * map.scale_x + 0.5);
        content_h = (int)(frame.height * map.scale_y + 0.5);
        scaler = sws_getContext(frame.width, frame.height, AV_PIX_FMT_RGB24, content_w, content_h,
                                AV_PIX_FMT_RGB24, SWS_AREA, NULL, NULL, NULL);
        if (scaler == NULL) {
            fprintf(stderr, "bench_preprocess: no swscale context\n");
            return 1;
        }
        for (int r = 0; r < runs; r++) {
            double start = now_ms();

            verge_preprocess_run(preprocessor, &frame, out, (size_t)task->side * task->side * 3, NULL);
            verge_ms[r] = now_ms() - start;
            start = now_ms();
            swscale_letterbox(scaler, &frame, &map, content_w, content_h, resized, out);
            swscale_ms[r] = now_ms() - start;
        }
        {
            double verge_median = median(verge_ms, runs);
            double swscale_median = median(swscale_ms, runs);

            printf("| %dx%d | %dx%d | %.3f | %.3f | %.2f |\n", frame.width, frame.height,
                   task->side, task->side, verge_median, swscale_median,
                   verge_median / swscale_median);
        }
        sws_freeContext(scaler);
        verge_preprocess_destroy(preprocessor);
        free(frame.data);
        free(out);
        free(resized);
    }
    free(verge_ms);
    free(swscale_ms);
    return 0;
}
