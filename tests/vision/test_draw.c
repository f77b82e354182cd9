/*
 * Drawing tests: exact pixels of boxes, dots and text, clipping at every
 * edge, hostile coordinates (NaN, infinities, huge values) and tiny images.
 */
#include <float.h>
#include <stdbool.h>

#include "check.h"
#include "verge/media.h"

static const verge_color red = {255, 0, 0};
static const verge_color white = {255, 255, 255};

/* True when the pixel at (x, y) has exactly `color`. */
static bool pixel_is(const verge_image *image, int x, int y, verge_color color)
{
    const uint8_t *p = image->data + (size_t)y * image->stride + (size_t)x * 3;

    return p[0] == color.r && p[1] == color.g && p[2] == color.b;
}

/* Counts the pixels that are not black. */
static int count_set(const verge_image *image)
{
    int x, y, count = 0;

    for (y = 0; y < image->height; y++)
        for (x = 0; x < image->width; x++) {
            const uint8_t *p = image->data + (size_t)y * image->stride + (size_t)x * 3;

            count += (p[0] | p[1] | p[2]) != 0;
        }
    return count;
}

static void clear(verge_image *image)
{
    memset(image->data, 0, image->stride * (size_t)image->height);
}

static void rect_inside(void)
{
    verge_image image;
    int x, y;

    CHECK_OK(verge_image_create(20, 20, &image));

    /* Corners (2, 3) and (11, 9), 1 pixel: the outline of a 10 x 7 box. */
    verge_draw_rect(&image, 2.0f, 3.0f, 11.0f, 9.0f, 1, red);
    CHECK_EQ_INT(count_set(&image), 2 * 10 + 2 * 5);
    for (x = 2; x <= 11; x++) {
        CHECK(pixel_is(&image, x, 3, red));
        CHECK(pixel_is(&image, x, 9, red));
    }
    for (y = 3; y <= 9; y++) {
        CHECK(pixel_is(&image, 2, y, red));
        CHECK(pixel_is(&image, 11, y, red));
    }
    CHECK(!pixel_is(&image, 5, 5, red));
    CHECK(!pixel_is(&image, 1, 3, red));
    CHECK(!pixel_is(&image, 12, 9, red));

    /* Thickness 2 lies inside the box; swapped corners mean the same box. */
    clear(&image);
    verge_draw_rect(&image, 11.0f, 9.0f, 2.0f, 3.0f, 2, red);
    CHECK_EQ_INT(count_set(&image), 10 * 7 - 6 * 3);
    CHECK(pixel_is(&image, 3, 4, red));
    CHECK(!pixel_is(&image, 4, 5, red));

    /* Rounding to the nearest pixel. */
    clear(&image);
    verge_draw_rect(&image, 1.6f, 1.4f, 4.4f, 4.6f, 1, red);
    CHECK(pixel_is(&image, 2, 1, red));
    CHECK(pixel_is(&image, 4, 5, red));
    CHECK(!pixel_is(&image, 1, 1, red));

    /* A box thinner than two lines is filled; thickness 0 draws 1 pixel wide. */
    clear(&image);
    verge_draw_rect(&image, 5.0f, 5.0f, 7.0f, 12.0f, 2, red);
    CHECK_EQ_INT(count_set(&image), 3 * 8);
    clear(&image);
    verge_draw_rect(&image, 5.0f, 5.0f, 8.0f, 8.0f, 0, red);
    CHECK_EQ_INT(count_set(&image), 12);
    clear(&image);
    verge_draw_rect(&image, 5.0f, 5.0f, 8.0f, 8.0f, -7, red);
    CHECK_EQ_INT(count_set(&image), 12);

    verge_image_free(&image);
}

static void rect_clipped(void)
{
    verge_image image;
    int x, y;

    CHECK_OK(verge_image_create(10, 8, &image));

    /* Top left corner outside: only the right and bottom edges show. */
    verge_draw_rect(&image, -5.0f, -5.0f, 3.0f, 2.0f, 1, red);
    CHECK_EQ_INT(count_set(&image), 4 + 3 - 1);
    CHECK(pixel_is(&image, 3, 0, red));
    CHECK(pixel_is(&image, 0, 2, red));

    /* Larger than the image on every side: nothing inside changes. */
    clear(&image);
    verge_draw_rect(&image, -1.0f, -1.0f, 10.0f, 8.0f, 1, red);
    CHECK_EQ_INT(count_set(&image), 0);
    verge_draw_rect(&image, -1.0f, -1.0f, 10.0f, 8.0f, 2, red);
    CHECK_EQ_INT(count_set(&image), 2 * 10 + 2 * 6);

    /* Fully outside in every direction. */
    clear(&image);
    verge_draw_rect(&image, 20.0f, 1.0f, 30.0f, 5.0f, 3, red);
    verge_draw_rect(&image, -30.0f, 1.0f, -1.0f, 5.0f, 3, red);
    verge_draw_rect(&image, 1.0f, -30.0f, 5.0f, -1.0f, 3, red);
    verge_draw_rect(&image, 1.0f, 8.0f, 5.0f, 30.0f, 3, red);
    verge_draw_fill_rect(&image, 10.0f, 8.0f, 1e6f, 1e6f, red);
    CHECK_EQ_INT(count_set(&image), 0);

    /* Filled box clipped to the image. */
    verge_draw_fill_rect(&image, -3.0f, 6.0f, 2.0f, 100.0f, red);
    for (y = 0; y < 8; y++)
        for (x = 0; x < 10; x++)
            CHECK(pixel_is(&image, x, y, red) == (x <= 2 && y >= 6));

    verge_image_free(&image);
}

static void rect_hostile_coordinates(void)
{
    static const float values[] = {NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e30f, -1e30f,
                                   2147483648.0f, -2147483648.0f, 0.0f, 3.0f};
    verge_image image;
    size_t a, b;

    CHECK_OK(verge_image_create(6, 5, &image));

    /* NaN in any corner draws nothing. */
    verge_draw_rect(&image, NAN, 0.0f, 5.0f, 4.0f, 1, red);
    verge_draw_rect(&image, 0.0f, NAN, 5.0f, 4.0f, 1, red);
    verge_draw_rect(&image, 0.0f, 0.0f, NAN, 4.0f, 1, red);
    verge_draw_rect(&image, 0.0f, 0.0f, 5.0f, NAN, 1, red);
    verge_draw_fill_rect(&image, NAN, NAN, NAN, NAN, red);
    CHECK_EQ_INT(count_set(&image), 0);

    /* Edges at infinity lie outside: a box from 2 to +inf shows only its left and top sides. */
    verge_draw_rect(&image, 2.0f, 1.0f, INFINITY, INFINITY, 1, red);
    CHECK_EQ_INT(count_set(&image), 4 + 3);
    clear(&image);
    verge_draw_fill_rect(&image, -INFINITY, -INFINITY, INFINITY, INFINITY, red);
    CHECK_EQ_INT(count_set(&image), 30);

    /* Every pair of extreme values with huge thickness: no crash, nothing outside the image. */
    for (a = 0; a < sizeof(values) / sizeof(values[0]); a++)
        for (b = 0; b < sizeof(values) / sizeof(values[0]); b++) {
            verge_draw_rect(&image, values[a], values[b], values[b], values[a], 1, red);
            verge_draw_rect(&image, values[a], values[a], values[b], values[b], 2147483647, red);
            verge_draw_fill_rect(&image, values[a], values[b], values[a], values[b], red);
            verge_draw_dot(&image, values[a], values[b], values[a], red);
            verge_draw_dot(&image, values[a], values[b], 2.0f, red);
            verge_draw_text(&image, (int)(a * 1000) - 3000, (int)b - 5, "face 0.93", (int)b,
                            red);
        }
    verge_draw_text(&image, 2147483647, 2147483647, "x", 64, red);
    verge_draw_text(&image, -2147483647 - 1, -2147483647 - 1, "xyz", 64, red);

    verge_image_free(&image);
}

static void dot_pixels(void)
{
    verge_image image;

    CHECK_OK(verge_image_create(20, 20, &image));

    /* Lattice points within radius 3 of a pixel centre: 29. */
    verge_draw_dot(&image, 10.0f, 10.0f, 3.0f, red);
    CHECK_EQ_INT(count_set(&image), 29);
    CHECK(pixel_is(&image, 13, 10, red));
    CHECK(!pixel_is(&image, 13, 11, red));

    /* At the corner only the quarter with x, y >= 0 remains: 11 points (counted by hand). */
    clear(&image);
    verge_draw_dot(&image, 0.0f, 0.0f, 3.0f, red);
    CHECK_EQ_INT(count_set(&image), 11);

    /* Small or negative radius: the nearest pixel. */
    clear(&image);
    verge_draw_dot(&image, 4.4f, 5.6f, 0.2f, red);
    CHECK_EQ_INT(count_set(&image), 1);
    CHECK(pixel_is(&image, 4, 6, red));
    clear(&image);
    verge_draw_dot(&image, 4.0f, 5.0f, -3.0f, red);
    CHECK_EQ_INT(count_set(&image), 1);

    /* Outside or NaN: nothing. */
    clear(&image);
    verge_draw_dot(&image, -10.0f, 5.0f, 3.0f, red);
    verge_draw_dot(&image, 5.0f, 30.0f, 3.0f, red);
    verge_draw_dot(&image, NAN, 5.0f, 3.0f, red);
    verge_draw_dot(&image, 5.0f, 5.0f, NAN, red);
    CHECK_EQ_INT(count_set(&image), 0);

    /* An infinite radius covers the image. */
    verge_draw_dot(&image, 5.0f, 5.0f, INFINITY, red);
    CHECK_EQ_INT(count_set(&image), 400);

    verge_image_free(&image);
}

/* Returns the glyph rows of `c` as drawn: '#' for set pixels, row by row. */
static void render_char(char c, char out[36])
{
    verge_image image;
    char text[2] = {c, '\0'};
    int x, y;

    memset(out, 0, 36);
    if (verge_image_create(5, 7, &image) != VERGE_OK)
        return;
    verge_draw_text(&image, 0, 0, text, 1, white);
    for (y = 0; y < 7; y++)
        for (x = 0; x < 5; x++)
            out[y * 5 + x] = pixel_is(&image, x, y, white) ? '#' : '.';
    verge_image_free(&image);
}

static void text_glyphs(void)
{
    const char *alphabet = "0123456789abcdefghijklmnopqrstuvwxyz.%";
    char glyphs[40][36];
    char rendered[36];
    size_t i, j, count = strlen(alphabet);

    /* '1' at scale 1, pixel by pixel. */
    render_char('1', rendered);
    CHECK(memcmp(rendered, "..#.." ".##.." "..#.." "..#.." "..#.." "..#.." ".###.", 35) == 0);
    render_char('%', rendered);
    CHECK(memcmp(rendered, "##..." "##..#" "...#." "..#.." ".#..." "#..##" "...##", 35) == 0);

    /* Every required character has a glyph of its own, none is blank or the unknown box. */
    for (i = 0; i < count; i++) {
        render_char(alphabet[i], glyphs[i]);
        CHECK_MSG(strchr(glyphs[i], '#') != NULL, "'%c' draws nothing", alphabet[i]);
    }
    render_char('~', rendered);
    for (i = 0; i < count; i++) {
        CHECK_MSG(memcmp(glyphs[i], rendered, 35) != 0, "'%c' looks like an unknown character",
                  alphabet[i]);
        for (j = 0; j < i; j++)
            CHECK_MSG(memcmp(glyphs[i], glyphs[j], 35) != 0, "'%c' and '%c' look the same",
                      alphabet[i], alphabet[j]);
    }

    /* Space draws nothing; upper case draws lower case. */
    render_char(' ', rendered);
    CHECK(strchr(rendered, '#') == NULL);
    render_char('F', rendered);
    render_char('f', glyphs[0]);
    CHECK(memcmp(rendered, glyphs[0], 35) == 0);
}

static void text_layout_and_clipping(void)
{
    verge_image image, shifted;
    int x, y, mismatches = 0;

    CHECK_EQ_INT(verge_draw_text_width("face 0.93", 1), 9 * 6 - 1);
    CHECK_EQ_INT(verge_draw_text_width("face 0.93", 2), 2 * (9 * 6 - 1));
    CHECK_EQ_INT(verge_draw_text_height("face 0.93", 1), 7);
    CHECK_EQ_INT(verge_draw_text_height("a\nbc", 3), 3 * 15);
    CHECK_EQ_INT(verge_draw_text_width("a\nbcd", 1), 17);
    CHECK_EQ_INT(verge_draw_text_width("", 1), 0);
    CHECK_EQ_INT(verge_draw_text_height("", 1), 0);
    CHECK_EQ_INT(verge_draw_text_width(NULL, 1), 0);

    /* Scale 2 doubles each pixel of '1'. */
    CHECK_OK(verge_image_create(10, 14, &image));
    verge_draw_text(&image, 0, 0, "1", 2, white);
    CHECK_EQ_INT(count_set(&image), 4 * 10);
    CHECK(pixel_is(&image, 4, 0, white) && pixel_is(&image, 5, 1, white));
    CHECK(!pixel_is(&image, 3, 0, white));
    verge_image_free(&image);

    /* Drawn 3 pixels left of the edge, the text equals the unclipped text moved left. */
    CHECK_OK(verge_image_create(60, 9, &image));
    CHECK_OK(verge_image_create(63, 9, &shifted));
    verge_draw_text(&image, -3, 1, "face 0.93", 1, white);
    verge_draw_text(&shifted, 0, 1, "face 0.93", 1, white);
    for (y = 0; y < 9; y++)
        for (x = 0; x < 60; x++)
            mismatches += pixel_is(&image, x, y, white) != pixel_is(&shifted, x + 3, y, white);
    CHECK_EQ_INT(mismatches, 0);
    CHECK(count_set(&image) > 40);
    verge_image_free(&image);
    verge_image_free(&shifted);
}

static void tiny_images(void)
{
    verge_image image;
    verge_detection detection;

    CHECK_OK(verge_image_create(1, 1, &image));
    verge_draw_rect(&image, 0.0f, 0.0f, 0.0f, 0.0f, 1, red);
    CHECK(pixel_is(&image, 0, 0, red));
    clear(&image);
    verge_draw_rect(&image, -1.0f, -1.0f, 1.0f, 1.0f, 1, red);
    CHECK_EQ_INT(count_set(&image), 0);
    verge_draw_rect(&image, -1.0f, -1.0f, 1.0f, 1.0f, 2, red);
    CHECK(pixel_is(&image, 0, 0, red));
    clear(&image);
    verge_draw_dot(&image, 0.0f, 0.0f, 5.0f, red);
    CHECK(pixel_is(&image, 0, 0, red));
    clear(&image);
    verge_draw_text(&image, 0, 0, "face 0.93", 3, red);
    CHECK_EQ_INT(count_set(&image), 0);  /* the top left pixel of 'f' is blank */
    verge_draw_text(&image, 0, 0, "7", 3, red);
    CHECK(pixel_is(&image, 0, 0, red));

    memset(&detection, 0, sizeof(detection));
    detection.box[0] = -5.0f;
    detection.box[1] = -5.0f;
    detection.box[2] = 5.0f;
    detection.box[3] = 5.0f;
    detection.score = 0.93f;
    detection.num_keypoints = 2;
    verge_draw_detection(&image, &detection, "face", 2, red);
    CHECK(pixel_is(&image, 0, 0, red) || pixel_is(&image, 0, 0, white));

    /* Empty or NULL images and text are ignored. */
    verge_draw_rect(NULL, 0.0f, 0.0f, 1.0f, 1.0f, 1, red);
    verge_draw_text(&image, 0, 0, NULL, 1, red);
    verge_draw_detection(&image, NULL, "face", 1, red);
    image.width = 0;
    verge_draw_dot(&image, 0.0f, 0.0f, 1.0f, red);
    image.width = 1;
    verge_image_free(&image);
}

/* The stride padding after each row is never written. */
static void stride_padding_untouched(void)
{
    verge_image image;
    int y, touched = 0;
    size_t x;

    CHECK_OK(verge_image_create(14, 10, &image));
    image.width = 10;  /* stride stays 42 bytes: 12 bytes of padding per row */
    verge_draw_fill_rect(&image, -100.0f, -100.0f, 100.0f, 100.0f, red);
    verge_draw_rect(&image, -2.0f, -2.0f, 20.0f, 20.0f, 5, red);
    verge_draw_dot(&image, 9.0f, 5.0f, 4.0f, red);
    verge_draw_text(&image, 5, 2, "wide text", 2, red);
    for (y = 0; y < image.height; y++)
        for (x = (size_t)image.width * 3; x < image.stride; x++)
            touched += image.data[(size_t)y * image.stride + x] != 0;
    CHECK_EQ_INT(touched, 0);
    image.width = 14;
    verge_image_free(&image);
}

static void detection_marks(void)
{
    verge_image image;
    verge_detection detection;
    const verge_color yellow = {255, 220, 0};
    const verge_color black = {0, 0, 0};
    int x, y, dark_in_bar = 0;

    CHECK_OK(verge_image_create(200, 120, &image));
    memset(&detection, 0, sizeof(detection));
    detection.class_id = 0;
    detection.score = 0.93f;
    detection.box[0] = 40.0f;
    detection.box[1] = 50.0f;
    detection.box[2] = 120.0f;
    detection.box[3] = 110.0f;
    detection.num_keypoints = 2;
    detection.keypoints[0][0] = 60.0f;
    detection.keypoints[0][1] = 70.0f;
    detection.keypoints[1][0] = 100.0f;
    detection.keypoints[1][1] = 70.0f;
    verge_draw_detection(&image, &detection, "face", 2, yellow);

    /* Box outline, keypoint dots, empty inside elsewhere. */
    CHECK(pixel_is(&image, 40, 80, yellow) && pixel_is(&image, 41, 80, yellow));
    CHECK(!pixel_is(&image, 42, 80, yellow));
    CHECK(pixel_is(&image, 60, 70, yellow) && pixel_is(&image, 100, 70, yellow));
    CHECK(!pixel_is(&image, 80, 90, yellow));

    /* A filled label bar above the box, with dark text on the bright colour. */
    CHECK(pixel_is(&image, 40, 49, yellow));
    CHECK(pixel_is(&image, 40, 50 - 11, yellow));
    CHECK(!pixel_is(&image, 40, 50 - 12, yellow));
    for (y = 50 - 11; y < 50; y++)
        for (x = 40; x < 40 + 9 * 6 + 3; x++)
            dark_in_bar += pixel_is(&image, x, y, black);
    CHECK(dark_in_bar > 40);

    /* No room above: the bar goes inside the box; a NaN box keeps its keypoints. */
    clear(&image);
    detection.box[1] = 2.0f;
    verge_draw_detection(&image, &detection, "face", 1, yellow);
    CHECK(pixel_is(&image, 40, 3, yellow) && pixel_is(&image, 45, 12, yellow));
    clear(&image);
    detection.box[0] = NAN;
    verge_draw_detection(&image, &detection, "face", 1, yellow);
    CHECK(pixel_is(&image, 60, 70, yellow));
    CHECK_EQ_INT(count_set(&image), 2 * 13);
    clear(&image);
    detection.num_keypoints = 1000;  /* more than the array holds: capped, no overrun */
    detection.box[0] = 40.0f;
    verge_draw_detection(&image, &detection, NULL, 1, yellow);
    CHECK(count_set(&image) > 0);

    verge_image_free(&image);
}

int main(void)
{
    RUN(rect_inside);
    RUN(rect_clipped);
    RUN(rect_hostile_coordinates);
    RUN(dot_pixels);
    RUN(text_glyphs);
    RUN(text_layout_and_clipping);
    RUN(tiny_images);
    RUN(stride_padding_untouched);
    RUN(detection_marks);
    return check_summary();
}
