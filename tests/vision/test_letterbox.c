/*
 * Letterbox and stretch preprocessing: hand-computed bilinear values,
 * padding, the mapping record and its inverse, and bad arguments.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "verge/vision.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Output value of channel `c` at column u, row v of a [1, H, W, 3] buffer. */
static float at(const float *out, int width, int u, int v, int c)
{
    return out[((size_t)v * width + u) * 3 + c];
}

static void set_pixel(verge_image *image, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
    uint8_t *p = image->data + (size_t)y * image->stride + (size_t)x * 3;
    p[0] = r, p[1] = g, p[2] = b;
}

static verge_preprocess_options raw_options(int width, int height, verge_resize_mode mode)
{
    verge_preprocess_options o = { .width = width, .height = height, .mode = mode,
                                   .mul = 1.0f, .add = 0.0f, .pad_rgb = { 0, 0, 0 } };
    return o;
}

/*
 * A 2x1 frame into 4x4: scale = min(4/2, 4/1) = 2, pad_y = (4 - 2) / 2 = 1.
 * Rows 1 and 2 have centres 1.5 and 2.5 inside [1, 3) and sample frame row
 * 0; rows 0 and 3 are padding. Columns sample x = (u + 0.5) / 2 - 0.5 =
 * -0.25, 0.25, 0.75, 1.25, that is P0, 0.75 P0 + 0.25 P1, 0.25 P0 + 0.75 P1, P1.
 */
static void letterbox_2x1_into_4x4(void)
{
    verge_image frame;
    verge_letterbox map;
    float out[4 * 4 * 3];
    verge_preprocess_options o = raw_options(4, 4, VERGE_RESIZE_LETTERBOX);

    CHECK_OK(verge_image_create(2, 1, &frame));
    set_pixel(&frame, 0, 0, 10, 100, 200);
    set_pixel(&frame, 1, 0, 50, 20, 0);
    o.pad_rgb[0] = 7, o.pad_rgb[1] = 8, o.pad_rgb[2] = 9;
    CHECK_OK(verge_preprocess_image(&o, &frame, out, 48, &map));

    CHECK_NEAR(map.scale_x, 2.0, 0);
    CHECK_NEAR(map.scale_y, 2.0, 0);
    CHECK_NEAR(map.pad_x, 0.0, 0);
    CHECK_NEAR(map.pad_y, 1.0, 0);
    CHECK_EQ_INT(map.frame_width, 2);
    CHECK_EQ_INT(map.frame_height, 1);
    CHECK_EQ_INT(map.input_width, 4);
    CHECK_EQ_INT(map.input_height, 4);

    const float expected[4][3] = { { 10, 100, 200 }, { 20, 80, 150 }, { 40, 40, 50 }, { 50, 20, 0 } };
    for (int v = 1; v <= 2; v++)
        for (int u = 0; u < 4; u++)
            for (int c = 0; c < 3; c++)
                CHECK_NEAR(at(out, 4, u, v, c), expected[u][c], 1e-5);
    for (int u = 0; u < 4; u++) {
        for (int c = 0; c < 3; c++) {
            CHECK_NEAR(at(out, 4, u, 0, c), 7 + c, 0);
            CHECK_NEAR(at(out, 4, u, 3, c), 7 + c, 0);
        }
    }
    verge_image_free(&frame);
}

/* The same frame with BlazeFace's normalisation x / 127.5 - 1: black padding becomes -1. */
static void normalisation_and_black_padding(void)
{
    verge_image frame;
    float out[4 * 4 * 3];
    verge_preprocess_options o = raw_options(4, 4, VERGE_RESIZE_LETTERBOX);

    o.mul = 1.0f / 127.5f;
    o.add = -1.0f;
    CHECK_OK(verge_image_create(2, 1, &frame));
    set_pixel(&frame, 0, 0, 10, 100, 200);
    set_pixel(&frame, 1, 0, 50, 20, 255);
    CHECK_OK(verge_preprocess_image(&o, &frame, out, 48, NULL));

    CHECK_NEAR(at(out, 4, 0, 0, 0), -1.0, 0);
    CHECK_NEAR(at(out, 4, 3, 3, 2), -1.0, 0);
    CHECK_NEAR(at(out, 4, 0, 1, 1), 100 / 127.5 - 1, 1e-6);
    CHECK_NEAR(at(out, 4, 1, 2, 0), 20 / 127.5 - 1, 1e-6);
    CHECK_NEAR(at(out, 4, 3, 1, 2), 1.0, 1e-6);
    verge_image_free(&frame);
}

/*
 * 2x2 frame into 4x4 (scale 2, no padding). Red channel [[0, 100], [200, 40]].
 * Output (1, 2): wx = 0.25, wy = 0.75: top = 25, bottom = 200 - 160 * 0.25 = 160,
 * value = 25 + 135 * 0.75 = 126.25. Output (2, 1): wx = 0.75, wy = 0.25:
 * top = 75, bottom = 80, value = 76.25. Corners copy the corner pixels.
 */
static void bilinear_2x2_into_4x4(void)
{
    verge_image frame;
    float out[4 * 4 * 3];
    verge_letterbox map;
    verge_preprocess_options o = raw_options(4, 4, VERGE_RESIZE_LETTERBOX);

    CHECK_OK(verge_image_create(2, 2, &frame));
    set_pixel(&frame, 0, 0, 0, 0, 0);
    set_pixel(&frame, 1, 0, 100, 0, 0);
    set_pixel(&frame, 0, 1, 200, 0, 0);
    set_pixel(&frame, 1, 1, 40, 0, 0);
    CHECK_OK(verge_preprocess_image(&o, &frame, out, 48, &map));

    CHECK_NEAR(map.pad_x, 0, 0);
    CHECK_NEAR(map.pad_y, 0, 0);
    CHECK_NEAR(at(out, 4, 1, 2, 0), 126.25, 1e-4);
    CHECK_NEAR(at(out, 4, 2, 1, 0), 76.25, 1e-4);
    CHECK_NEAR(at(out, 4, 0, 0, 0), 0, 0);
    CHECK_NEAR(at(out, 4, 3, 0, 0), 100, 0);
    CHECK_NEAR(at(out, 4, 0, 3, 0), 200, 0);
    CHECK_NEAR(at(out, 4, 3, 3, 0), 40, 0);
    /* Output (1, 1): wx = wy = 0.25: top = 25, bottom = 160, value = 25 + 135 * 0.25. */
    CHECK_NEAR(at(out, 4, 1, 1, 0), 58.75, 1e-4);
    verge_image_free(&frame);
}

/* Stretch: 2x1 into 4x4 scales x by 2 and y by 4; every row samples frame row 0. */
static void stretch_2x1_into_4x4(void)
{
    verge_image frame;
    float out[4 * 4 * 3];
    verge_letterbox map;
    verge_preprocess_options o = raw_options(4, 4, VERGE_RESIZE_STRETCH);

    CHECK_OK(verge_image_create(2, 1, &frame));
    set_pixel(&frame, 0, 0, 10, 100, 200);
    set_pixel(&frame, 1, 0, 50, 20, 0);
    CHECK_OK(verge_preprocess_image(&o, &frame, out, 48, &map));

    CHECK_NEAR(map.scale_x, 2.0, 0);
    CHECK_NEAR(map.scale_y, 4.0, 0);
    CHECK_NEAR(map.pad_x, 0, 0);
    CHECK_NEAR(map.pad_y, 0, 0);
    const float expected[4] = { 10, 20, 40, 50 };
    for (int v = 0; v < 4; v++)
        for (int u = 0; u < 4; u++)
            CHECK_NEAR(at(out, 4, u, v, 0), expected[u], 1e-5);
    verge_image_free(&frame);
}

/*
 * A 512x600 frame into 128x128 (Grace Hopper's size): s = 128/600, the
 * content is round(512 * 128 / 600) = round(109.23) = 109 columns placed at
 * floor((128 - 109) / 2) = 9, so columns 0..8 and 118..127 are padding.
 */
static void letterbox_placement_512x600(void)
{
    verge_image frame;
    verge_letterbox map;
    verge_preprocess_options o = raw_options(128, 128, VERGE_RESIZE_LETTERBOX);
    float *out = malloc(128 * 128 * 3 * sizeof(float));

    o.filter = VERGE_FILTER_BILINEAR_ANTIALIAS;
    CHECK_OK(verge_image_create(512, 600, &frame));
    memset(frame.data, 255, frame.stride * 600);
    CHECK_OK(verge_preprocess_image(&o, &frame, out, 128 * 128 * 3, &map));

    CHECK_NEAR(map.scale_x, 109.0 / 512.0, 1e-12);
    CHECK_NEAR(map.scale_y, 128.0 / 600.0, 1e-12);
    CHECK_NEAR(map.pad_x, 9, 0);
    CHECK_NEAR(map.pad_y, 0, 0);
    for (int v = 0; v < 128; v += 31) {
        CHECK_NEAR(at(out, 128, 8, v, 0), 0, 0);
        CHECK_NEAR(at(out, 128, 9, v, 1), 255, 1e-4);
        CHECK_NEAR(at(out, 128, 117, v, 2), 255, 1e-4);
        CHECK_NEAR(at(out, 128, 118, v, 0), 0, 0);
    }
    free(out);
    verge_image_free(&frame);
}

/*
 * A 1000x1 frame into 4x4: s = 0.004 gives round(0.004) = 0 rows, raised to
 * 1 and placed at row floor(3 / 2) = 1; the rest is padding.
 */
static void sliver_frame_keeps_one_row(void)
{
    verge_image frame;
    float out[4 * 4 * 3];
    verge_letterbox map;
    verge_preprocess_options o = raw_options(4, 4, VERGE_RESIZE_LETTERBOX);

    CHECK_OK(verge_image_create(1000, 1, &frame));
    memset(frame.data, 200, frame.stride);
    o.pad_rgb[0] = o.pad_rgb[1] = o.pad_rgb[2] = 3;
    for (int filter = 0; filter < 2; filter++) {
        o.filter = (verge_resize_filter)filter;
        CHECK_OK(verge_preprocess_image(&o, &frame, out, 48, &map));
        CHECK_NEAR(map.pad_y, 1, 0);
        CHECK_NEAR(map.scale_y, 1, 0);
        for (int v = 0; v < 4; v++)
            for (int u = 0; u < 4; u++)
                CHECK_NEAR(at(out, 4, u, v, 0), v == 1 ? 200 : 3, 1e-3);
    }
    verge_image_free(&frame);
}

/*
 * Antialiased shrink of a 4x2 frame into 2x1 (s = 0.5 on both axes, f = 2,
 * support 2). Column 0 is centred on x = 1: pixels 0, 1, 2 at distances
 * 0.5, 0.5, 1.5 weigh 0.75, 0.75, 0.25 -> 3/7, 3/7, 1/7; column 1 (x = 3)
 * takes pixels 1, 2, 3 with 1/7, 3/7, 3/7. The row (y = 1) averages rows
 * 0 and 1. Red rows [0, 70, 140, 210] and [7, 77, 147, 217]:
 *   column 0: (210 + 140) / 7 = 50 and (21 + 231 + 147) / 7 = 57 -> 53.5
 *   column 1: (70 + 420 + 630) / 7 = 160 and (77 + 441 + 651) / 7 = 167 -> 163.5
 * Plain bilinear samples x = 0.5 and 2.5 instead: 35 / 42 -> 38.5 and
 * 175 / 182 -> 178.5.
 */
static void antialias_shrink_by_hand(void)
{
    verge_image frame;
    float out[2 * 1 * 3];
    verge_preprocess_options o = raw_options(2, 1, VERGE_RESIZE_LETTERBOX);
    const uint8_t red[2][4] = { { 0, 70, 140, 210 }, { 7, 77, 147, 217 } };

    CHECK_OK(verge_image_create(4, 2, &frame));
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 4; x++)
            set_pixel(&frame, x, y, red[y][x], 10, 0);

    o.filter = VERGE_FILTER_BILINEAR_ANTIALIAS;
    CHECK_OK(verge_preprocess_image(&o, &frame, out, 6, NULL));
    CHECK_NEAR(at(out, 2, 0, 0, 0), 53.5, 1e-4);
    CHECK_NEAR(at(out, 2, 1, 0, 0), 163.5, 1e-4);
    CHECK_NEAR(at(out, 2, 0, 0, 1), 10, 1e-5);

    o.filter = VERGE_FILTER_BILINEAR;
    CHECK_OK(verge_preprocess_image(&o, &frame, out, 6, NULL));
    CHECK_NEAR(at(out, 2, 0, 0, 0), 38.5, 1e-4);
    CHECK_NEAR(at(out, 2, 1, 0, 0), 178.5, 1e-4);
    verge_image_free(&frame);
}

/* Enlarging: both filters give the same values; shrinking a flat frame keeps it flat. */
static void filters_agree_when_enlarging(void)
{
    verge_image frame;
    float plain[7 * 5 * 3], smooth[7 * 5 * 3];
    verge_preprocess_options o = raw_options(7, 5, VERGE_RESIZE_STRETCH);

    CHECK_OK(verge_image_create(3, 2, &frame));
    for (size_t i = 0; i < frame.stride * 2; i++)
        frame.data[i] = (uint8_t)(i * 29 + 3);
    CHECK_OK(verge_preprocess_image(&o, &frame, plain, COUNT_OF(plain), NULL));
    o.filter = VERGE_FILTER_BILINEAR_ANTIALIAS;
    CHECK_OK(verge_preprocess_image(&o, &frame, smooth, COUNT_OF(smooth), NULL));
    for (size_t i = 0; i < COUNT_OF(plain); i++)
        CHECK_NEAR(plain[i], smooth[i], 1e-4);
    verge_image_free(&frame);

    CHECK_OK(verge_image_create(301, 97, &frame));
    memset(frame.data, 77, frame.stride * 97);
    CHECK_OK(verge_preprocess_image(&o, &frame, smooth, COUNT_OF(smooth), NULL));
    for (size_t i = 0; i < COUNT_OF(smooth); i++)
        CHECK_NEAR(smooth[i], 77, 1e-3);
    verge_image_free(&frame);
}

/* Frame stride larger than 3 * width: the extra bytes must be skipped. */
static void padded_stride(void)
{
    uint8_t pixels[2 * 8] = { 0 };
    verge_image frame = { .width = 2, .height = 2, .stride = 8, .data = pixels };
    float out[4 * 4 * 3];
    verge_preprocess_options o = raw_options(4, 4, VERGE_RESIZE_LETTERBOX);

    pixels[3] = 100;       /* (1, 0) red */
    pixels[6] = 99;        /* stride padding, never read */
    pixels[8] = 200;       /* (0, 1) red */
    pixels[8 + 3] = 40;    /* (1, 1) red */
    CHECK_OK(verge_preprocess_image(&o, &frame, out, 48, NULL));
    CHECK_NEAR(at(out, 4, 1, 2, 0), 126.25, 1e-4);
    CHECK_NEAR(at(out, 4, 3, 0, 0), 100, 0);
}

/* Round trip frame -> normalised input -> frame within 1e-4 px, and known points. */
static void mapping_round_trip(void)
{
    const int sizes[][2] = { { 512, 600 }, { 1920, 1080 }, { 123, 457 }, { 640, 480 }, { 1, 1 } };
    const verge_resize_mode modes[] = { VERGE_RESIZE_LETTERBOX, VERGE_RESIZE_STRETCH };
    unsigned seed = 12345;
    double worst = 0;

    for (size_t m = 0; m < 2; m++) {
        for (size_t s = 0; s < COUNT_OF(sizes); s++) {
            verge_letterbox map;
            verge_preprocess_options o = raw_options(192, 128, modes[m]);
            const int w = sizes[s][0], h = sizes[s][1];

            CHECK_OK(verge_letterbox_compute(&o, w, h, &map));
            for (int i = 0; i < 1000; i++) {
                float fx, fy, nx, ny, bx, by;

                seed = seed * 1103515245u + 12345u;
                fx = (float)((seed >> 8) % 100000) / 100000.0f * (float)w;
                seed = seed * 1103515245u + 12345u;
                fy = (float)((seed >> 8) % 100000) / 100000.0f * (float)h;
                verge_letterbox_to_input(&map, fx, fy, &nx, &ny);
                verge_letterbox_to_frame(&map, nx, ny, &bx, &by);
                if (fabs(bx - fx) > worst)
                    worst = fabs(bx - fx);
                if (fabs(by - fy) > worst)
                    worst = fabs(by - fy);
            }

            /* The frame's corners land on the corners of the content area. */
            const int nw = (int)lround(w * map.scale_x), nh = (int)lround(h * map.scale_y);
            float nx, ny;
            verge_letterbox_to_input(&map, 0, 0, &nx, &ny);
            CHECK_NEAR(nx, map.pad_x / 192, 1e-6);
            CHECK_NEAR(ny, map.pad_y / 128, 1e-6);
            verge_letterbox_to_input(&map, (float)w, (float)h, &nx, &ny);
            CHECK_NEAR(nx, (map.pad_x + nw) / 192, 1e-6);
            CHECK_NEAR(ny, (map.pad_y + nh) / 128, 1e-6);
            CHECK(map.pad_x == floor(map.pad_x));
            CHECK(map.pad_y == floor(map.pad_y));
            CHECK(nw <= 192);
            CHECK(nh <= 128);
            CHECK(nw == 192 || nh == 128);
        }
    }
    CHECK_MSG(worst <= 1e-4, "worst round-trip error %g px", worst);
}

/*
 * Normalised box [0.25, 0.25, 0.75, 0.75] from a 128x128 input of a 512x600
 * frame (content 109 columns at x = 9, so scale_x = 109 / 512 and
 * scale_y = 128 / 600): x = (32 - 9) * 512 / 109 = 108.0367,
 * y = 32 * 600 / 128 = 150, x_max = (96 - 9) * 512 / 109 = 408.6606,
 * y_max = 450.
 */
static void detection_to_frame(void)
{
    verge_letterbox map;
    verge_detection d = { .class_id = 0, .score = 0.9f, .box = { 0.25f, 0.25f, 0.75f, 0.75f },
                          .num_keypoints = 2 };
    verge_preprocess_options o = raw_options(128, 128, VERGE_RESIZE_LETTERBOX);

    d.keypoints[0][0] = 0.5f, d.keypoints[0][1] = 0.5f;
    d.keypoints[1][0] = 0.0f, d.keypoints[1][1] = 1.0f;
    CHECK_OK(verge_letterbox_compute(&o, 512, 600, &map));
    verge_letterbox_detection_to_frame(&map, &d);
    CHECK_NEAR(d.box[0], 23 * 512 / 109.0, 1e-3);
    CHECK_NEAR(d.box[1], 150, 1e-3);
    CHECK_NEAR(d.box[2], 87 * 512 / 109.0, 1e-3);
    CHECK_NEAR(d.box[3], 450, 1e-3);
    CHECK_NEAR(d.keypoints[0][0], 55 * 512 / 109.0, 1e-3);
    CHECK_NEAR(d.keypoints[0][1], 300, 1e-3);
    CHECK_NEAR(d.keypoints[1][0], -9 * 512 / 109.0, 1e-3);
    CHECK_NEAR(d.keypoints[1][1], 600, 1e-3);
    CHECK_NEAR(d.score, 0.9f, 0);
}

/* A preprocessor reused across frame sizes gives the same output as one-shot calls. */
static void reuse_across_frame_sizes(void)
{
    verge_image small, large, huge;
    verge_preprocessor *p;
    float reused[8 * 6 * 3], fresh[8 * 6 * 3];
    verge_letterbox map;
    verge_preprocess_options o = raw_options(8, 6, VERGE_RESIZE_LETTERBOX);

    o.filter = VERGE_FILTER_BILINEAR_ANTIALIAS;
    CHECK_OK(verge_image_create(3, 5, &small));
    CHECK_OK(verge_image_create(11, 4, &large));
    CHECK_OK(verge_image_create(400, 170, &huge)); /* needs more taps than the others */
    for (size_t i = 0; i < small.stride * 5; i++)
        small.data[i] = (uint8_t)(i * 37);
    for (size_t i = 0; i < large.stride * 4; i++)
        large.data[i] = (uint8_t)(i * 11 + 5);
    for (size_t i = 0; i < huge.stride * 170; i++)
        huge.data[i] = (uint8_t)(i * 7 + i / 1200);

    CHECK_OK(verge_preprocess_create(&o, &p));
    const verge_image *frames[] = { &small, &large, &huge, &small, &small, &huge, &large };
    for (size_t f = 0; f < COUNT_OF(frames); f++) {
        CHECK_OK(verge_preprocess_run(p, frames[f], reused, COUNT_OF(reused), &map));
        CHECK_OK(verge_preprocess_image(&o, frames[f], fresh, COUNT_OF(fresh), NULL));
        CHECK(memcmp(reused, fresh, sizeof(fresh)) == 0);
        CHECK_EQ_INT(map.frame_width, frames[f]->width);
    }
    verge_preprocess_destroy(p);
    verge_image_free(&small);
    verge_image_free(&large);
    verge_image_free(&huge);
}

static void bad_arguments(void)
{
    verge_image frame;
    float out[4 * 4 * 3];
    verge_preprocessor *p;
    verge_letterbox map;
    verge_preprocess_options o = raw_options(4, 4, VERGE_RESIZE_LETTERBOX);

    CHECK_OK(verge_image_create(2, 2, &frame));
    CHECK_STATUS(verge_preprocess_image(&o, &frame, out, 47, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "47") != NULL);

    verge_image bad = frame;
    bad.stride = 5;
    CHECK_STATUS(verge_preprocess_image(&o, &bad, out, 48, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    bad = frame;
    bad.data = NULL;
    CHECK_STATUS(verge_preprocess_image(&o, &bad, out, 48, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    bad = frame;
    bad.width = 0;
    CHECK_STATUS(verge_preprocess_image(&o, &bad, out, 48, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    bad = frame;
    bad.height = 1 << 20;
    CHECK_STATUS(verge_preprocess_image(&o, &bad, out, 48, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_preprocess_image(&o, NULL, out, 48, NULL), VERGE_STATUS_INVALID_ARGUMENT);

    verge_preprocess_options bad_options = o;
    bad_options.width = 0;
    CHECK_STATUS(verge_preprocess_create(&bad_options, &p), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(p == NULL);
    bad_options = o;
    bad_options.height = VERGE_PREPROCESS_MAX_SIDE + 1;
    CHECK_STATUS(verge_preprocess_create(&bad_options, &p), VERGE_STATUS_INVALID_ARGUMENT);
    bad_options = o;
    bad_options.mode = (verge_resize_mode)7;
    CHECK_STATUS(verge_preprocess_create(&bad_options, &p), VERGE_STATUS_INVALID_ARGUMENT);
    bad_options = o;
    bad_options.filter = (verge_resize_filter)3;
    CHECK_STATUS(verge_preprocess_create(&bad_options, &p), VERGE_STATUS_INVALID_ARGUMENT);
    bad_options = o;
    bad_options.mul = NAN;
    CHECK_STATUS(verge_preprocess_create(&bad_options, &p), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_letterbox_compute(&o, 0, 5, &map), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_letterbox_compute(&o, 5, -1, &map), VERGE_STATUS_INVALID_ARGUMENT);
    verge_preprocess_destroy(NULL);
    verge_image_free(&frame);
}

int main(void)
{
    RUN(letterbox_2x1_into_4x4);
    RUN(normalisation_and_black_padding);
    RUN(bilinear_2x2_into_4x4);
    RUN(stretch_2x1_into_4x4);
    RUN(letterbox_placement_512x600);
    RUN(sliver_frame_keeps_one_row);
    RUN(antialias_shrink_by_hand);
    RUN(filters_agree_when_enlarging);
    RUN(padded_stride);
    RUN(mapping_round_trip);
    RUN(detection_to_frame);
    RUN(reuse_across_frame_sizes);
    RUN(bad_arguments);
    return check_summary();
}
