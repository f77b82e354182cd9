#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "verge/media.h"

enum {
    GLYPH_WIDTH = 5,
    GLYPH_HEIGHT = 7,
    GLYPH_ADVANCE = GLYPH_WIDTH + 1,   /* one column between characters */
    LINE_ADVANCE = GLYPH_HEIGHT + 1,   /* one row between lines */
    TEXT_SCALE_MAX = 64,
    LABEL_MAX = 128,
};

/* Coordinates are clamped to this range before rounding, so that arithmetic cannot overflow. */
#define COORDINATE_LIMIT 1e9

/*
 * The built-in font: 5 columns x 7 rows per character, '#' for a set pixel,
 * read row by row from the top.
 */
typedef struct glyph {
    char character;
    const char *rows;
} glyph;

static const glyph font[] = {
    {'0', ".###." "#...#" "#..##" "#.#.#" "##..#" "#...#" ".###."},
    {'1', "..#.." ".##.." "..#.." "..#.." "..#.." "..#.." ".###."},
    {'2', ".###." "#...#" "....#" "...#." "..#.." ".#..." "#####"},
    {'3', "#####" "...#." "..#.." "...#." "....#" "#...#" ".###."},
    {'4', "...#." "..##." ".#.#." "#..#." "#####" "...#." "...#."},
    {'5', "#####" "#...." "####." "....#" "....#" "#...#" ".###."},
    {'6', "..##." ".#..." "#...." "####." "#...#" "#...#" ".###."},
    {'7', "#####" "....#" "...#." "..#.." ".#..." ".#..." ".#..."},
    {'8', ".###." "#...#" "#...#" ".###." "#...#" "#...#" ".###."},
    {'9', ".###." "#...#" "#...#" ".####" "....#" "...#." ".##.."},
    {'a', "....." "....." ".###." "....#" ".####" "#...#" ".####"},
    {'b', "#...." "#...." "#.##." "##..#" "#...#" "#...#" "####."},
    {'c', "....." "....." ".###." "#...." "#...." "#...#" ".###."},
    {'d', "....#" "....#" ".##.#" "#..##" "#...#" "#...#" ".####"},
    {'e', "....." "....." ".###." "#...#" "#####" "#...." ".###."},
    {'f', "..##." ".#..#" ".#..." "###.." ".#..." ".#..." ".#..."},
    {'g', "....." ".####" "#...#" "#...#" ".####" "....#" ".###."},
    {'h', "#...." "#...." "#.##." "##..#" "#...#" "#...#" "#...#"},
    {'i', "..#.." "....." ".##.." "..#.." "..#.." "..#.." ".###."},
    {'j', "...#." "....." "..##." "...#." "...#." "#..#." ".##.."},
    {'k', "#...." "#...." "#..#." "#.#.." "##..." "#.#.." "#..#."},
    {'l', ".##.." "..#.." "..#.." "..#.." "..#.." "..#.." ".###."},
    {'m', "....." "....." "##.#." "#.#.#" "#.#.#" "#...#" "#...#"},
    {'n', "....." "....." "#.##." "##..#" "#...#" "#...#" "#...#"},
    {'o', "....." "....." ".###." "#...#" "#...#" "#...#" ".###."},
    {'p', "....." "####." "#...#" "#...#" "####." "#...." "#...."},
    {'q', "....." ".####" "#...#" "#...#" ".####" "....#" "....#"},
    {'r', "....." "....." "#.##." "##..#" "#...." "#...." "#...."},
    {'s', "....." "....." ".####" "#...." ".###." "....#" "####."},
    {'t', ".#..." ".#..." "###.." ".#..." ".#..." ".#..#" "..##."},
    {'u', "....." "....." "#...#" "#...#" "#...#" "#..##" ".##.#"},
    {'v', "....." "....." "#...#" "#...#" "#...#" ".#.#." "..#.."},
    {'w', "....." "....." "#...#" "#...#" "#.#.#" "#.#.#" ".#.#."},
    {'x', "....." "....." "#...#" ".#.#." "..#.." ".#.#." "#...#"},
    {'y', "....." "#...#" "#...#" "#...#" ".####" "....#" ".###."},
    {'z', "....." "....." "#####" "...#." "..#.." ".#..." "#####"},
    {' ', "....." "....." "....." "....." "....." "....." "....."},
    {'.', "....." "....." "....." "....." "....." ".##.." ".##.."},
    {',', "....." "....." "....." "....." ".##.." "..#.." ".#..."},
    {':', "....." ".##.." ".##.." "....." ".##.." ".##.." "....."},
    {';', "....." ".##.." ".##.." "....." ".##.." "..#.." ".#..."},
    {'%', "##..." "##..#" "...#." "..#.." ".#..." "#..##" "...##"},
    {'-', "....." "....." "....." "#####" "....." "....." "....."},
    {'+', "....." "..#.." "..#.." "#####" "..#.." "..#.." "....."},
    {'_', "....." "....." "....." "....." "....." "....." "#####"},
    {'/', "....." "....#" "...#." "..#.." ".#..." "#...." "....."},
    {'(', "...#." "..#.." ".#..." ".#..." ".#..." "..#.." "...#."},
    {')', ".#..." "..#.." "...#." "...#." "...#." "..#.." ".#..."},
    {'#', ".#.#." ".#.#." "#####" ".#.#." "#####" ".#.#." ".#.#."},
    {'!', "..#.." "..#.." "..#.." "..#.." "..#.." "....." "..#.."},
    {'?', ".###." "#...#" "....#" "...#." "..#.." "....." "..#.."},
    {'=', "....." "....." "#####" "....." "#####" "....." "....."},
    {'\'', "..#.." "..#.." ".#..." "....." "....." "....." "....."},
};

static const char unknown_glyph[] = "#####" "#...#" "#...#" "#...#" "#...#" "#...#" "#####";

static bool image_is_drawable(const verge_image *image)
{
    return image != NULL && image->data != NULL && image->width > 0 && image->height > 0 &&
           image->stride >= (size_t)image->width * 3;
}

/* Fills the inclusive pixel box [x0, x1] x [y0, y1] after clipping it to the image. */
static void fill_box(verge_image *image, long long x0, long long y0, long long x1, long long y1,
                     verge_color color)
{
    long long x, y;

    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > image->width - 1)
        x1 = image->width - 1;
    if (y1 > image->height - 1)
        y1 = image->height - 1;
    if (x0 > x1 || y0 > y1)
        return;

    for (y = y0; y <= y1; y++) {
        uint8_t *pixel = image->data + (size_t)y * image->stride + (size_t)x0 * 3;

        for (x = x0; x <= x1; x++, pixel += 3) {
            pixel[0] = color.r;
            pixel[1] = color.g;
            pixel[2] = color.b;
        }
    }
}

/* Rounds a coordinate to the nearest pixel index; returns false for NaN. */
static bool pixel_from_float(float value, long long *pixel)
{
    double clamped = value;

    if (isnan(clamped))
        return false;
    if (clamped < -COORDINATE_LIMIT)
        clamped = -COORDINATE_LIMIT;
    if (clamped > COORDINATE_LIMIT)
        clamped = COORDINATE_LIMIT;
    *pixel = llround(clamped);
    return true;
}

/* Rounds and orders the corners of a box; returns false when one is NaN. */
static bool box_from_floats(float x_min, float y_min, float x_max, float y_max, long long box[4])
{
    long long swap;

    if (!pixel_from_float(x_min, &box[0]) || !pixel_from_float(y_min, &box[1]) ||
        !pixel_from_float(x_max, &box[2]) || !pixel_from_float(y_max, &box[3]))
        return false;
    if (box[0] > box[2]) {
        swap = box[0];
        box[0] = box[2];
        box[2] = swap;
    }
    if (box[1] > box[3]) {
        swap = box[1];
        box[1] = box[3];
        box[3] = swap;
    }
    return true;
}

void verge_draw_rect(verge_image *image, float x_min, float y_min, float x_max, float y_max,
                     int thickness, verge_color color)
{
    long long box[4];
    long long t = thickness < 1 ? 1 : thickness;

    if (!image_is_drawable(image) || !box_from_floats(x_min, y_min, x_max, y_max, box))
        return;

    /* A box no wider or taller than two lines is all outline. */
    if (box[2] - box[0] + 1 <= 2 * t || box[3] - box[1] + 1 <= 2 * t) {
        fill_box(image, box[0], box[1], box[2], box[3], color);
        return;
    }
    fill_box(image, box[0], box[1], box[2], box[1] + t - 1, color);
    fill_box(image, box[0], box[3] - t + 1, box[2], box[3], color);
    fill_box(image, box[0], box[1] + t, box[0] + t - 1, box[3] - t, color);
    fill_box(image, box[2] - t + 1, box[1] + t, box[2], box[3] - t, color);
}

void verge_draw_fill_rect(verge_image *image, float x_min, float y_min, float x_max, float y_max,
                          verge_color color)
{
    long long box[4];

    if (!image_is_drawable(image) || !box_from_floats(x_min, y_min, x_max, y_max, box))
        return;
    fill_box(image, box[0], box[1], box[2], box[3], color);
}

void verge_draw_dot(verge_image *image, float x, float y, float radius, verge_color color)
{
    double cx = x, cy = y, r = radius;
    long long x0, y0, x1, y1, px, py;

    if (!image_is_drawable(image) || isnan(cx) || isnan(cy) || isnan(r))
        return;
    cx = fmin(fmax(cx, -COORDINATE_LIMIT), COORDINATE_LIMIT);
    cy = fmin(fmax(cy, -COORDINATE_LIMIT), COORDINATE_LIMIT);
    r = fmin(r, COORDINATE_LIMIT);

    if (r < 0.5) {
        px = llround(cx);
        py = llround(cy);
        fill_box(image, px, py, px, py, color);
        return;
    }

    /* Only the part of the disc's bounding box inside the image is visited. */
    x0 = (long long)floor(cx - r);
    x1 = (long long)ceil(cx + r);
    y0 = (long long)floor(cy - r);
    y1 = (long long)ceil(cy + r);
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > image->width - 1)
        x1 = image->width - 1;
    if (y1 > image->height - 1)
        y1 = image->height - 1;

    for (py = y0; py <= y1; py++) {
        double dy = (double)py - cy;

        for (px = x0; px <= x1; px++) {
            double dx = (double)px - cx;

            if (dx * dx + dy * dy <= r * r)
                fill_box(image, px, py, px, py, color);
        }
    }
}

static const char *glyph_rows(char character)
{
    size_t i;

    if (character >= 'A' && character <= 'Z')
        character = (char)(character - 'A' + 'a');
    for (i = 0; i < VERGE_ARRAY_SIZE(font); i++)
        if (font[i].character == character)
            return font[i].rows;
    return unknown_glyph;
}

static int clamp_scale(int scale)
{
    if (scale < 1)
        return 1;
    return scale > TEXT_SCALE_MAX ? TEXT_SCALE_MAX : scale;
}

static void draw_glyph(verge_image *image, long long x, long long y, const char *rows, int scale,
                       verge_color color)
{
    int row, column;

    if (x >= image->width || y >= image->height || x + GLYPH_WIDTH * scale <= 0 ||
        y + GLYPH_HEIGHT * scale <= 0)
        return;
    for (row = 0; row < GLYPH_HEIGHT; row++)
        for (column = 0; column < GLYPH_WIDTH; column++)
            if (rows[row * GLYPH_WIDTH + column] == '#')
                fill_box(image, x + (long long)column * scale, y + (long long)row * scale,
                         x + (long long)(column + 1) * scale - 1,
                         y + (long long)(row + 1) * scale - 1, color);
}

void verge_draw_text(verge_image *image, int x, int y, const char *text, int scale,
                     verge_color color)
{
    long long pen_x = x, pen_y = y;
    const char *c;

    if (!image_is_drawable(image) || text == NULL)
        return;
    scale = clamp_scale(scale);

    for (c = text; *c != '\0'; c++) {
        if (*c == '\n') {
            pen_x = x;
            pen_y += (long long)LINE_ADVANCE * scale;
            continue;
        }
        draw_glyph(image, pen_x, pen_y, glyph_rows(*c), scale, color);
        pen_x += (long long)GLYPH_ADVANCE * scale;
    }
}

int verge_draw_text_width(const char *text, int scale)
{
    long long widest = 0, line = 0;
    const char *c;

    if (text == NULL)
        return 0;
    scale = clamp_scale(scale);
    for (c = text;; c++) {
        if (*c == '\n' || *c == '\0') {
            /* The gap after the last character is not part of the width. */
            long long width = line > 0 ? line * GLYPH_ADVANCE * scale - scale : 0;

            if (width > widest)
                widest = width;
            line = 0;
            if (*c == '\0')
                break;
        } else {
            line++;
        }
    }
    return widest > INT32_MAX ? INT32_MAX : (int)widest;
}

int verge_draw_text_height(const char *text, int scale)
{
    long long lines = 1;
    long long height;
    const char *c;

    if (text == NULL || text[0] == '\0')
        return 0;
    scale = clamp_scale(scale);
    for (c = text; *c != '\0'; c++)
        if (*c == '\n')
            lines++;
    height = lines * LINE_ADVANCE * scale - scale;
    return height > INT32_MAX ? INT32_MAX : (int)height;
}

void verge_draw_detection(verge_image *image, const verge_detection *detection, const char *label,
                          int thickness, verge_color color)
{
    const verge_color black = {0, 0, 0}, white = {255, 255, 255};
    char text[LABEL_MAX];
    long long box[4];
    int scale, padding, bar_width, bar_height, bar_x, bar_y, i, keypoints;
    float dot_radius;

    if (!image_is_drawable(image) || detection == NULL)
        return;
    if (thickness < 1)
        thickness = 1;

    verge_draw_rect(image, detection->box[0], detection->box[1], detection->box[2],
                    detection->box[3], thickness, color);

    dot_radius = thickness < 2 ? 2.0f : (float)thickness;
    keypoints = detection->num_keypoints;
    if (keypoints > VERGE_MAX_KEYPOINTS)
        keypoints = VERGE_MAX_KEYPOINTS;
    for (i = 0; i < keypoints; i++)
        verge_draw_dot(image, detection->keypoints[i][0], detection->keypoints[i][1], dot_radius,
                       color);

    if (label == NULL || !box_from_floats(detection->box[0], detection->box[1],
                                          detection->box[2], detection->box[3], box))
        return;

    /* Labels grow with the frame so that they stay readable on large images. */
    scale = 1 + (image->width < image->height ? image->width : image->height) / 480;
    padding = scale + 1;
    snprintf(text, sizeof(text), "%s %.2f", label, detection->score);
    bar_width = verge_draw_text_width(text, scale) + 2 * padding;
    bar_height = verge_draw_text_height(text, scale) + 2 * padding;

    /* Keep the bar inside the image where it fits, also for boxes at the right edge. */
    bar_x = (int)(box[0] < 0 ? 0 : (box[0] > image->width - 1 ? image->width - 1 : box[0]));
    if (bar_x + bar_width > image->width)
        bar_x = image->width > bar_width ? image->width - bar_width : 0;
    if (box[1] - bar_height >= 0)
        bar_y = (int)(box[1] > image->height ? image->height : box[1]) - bar_height;
    else
        bar_y = box[1] < 0 ? 0 : (int)(box[1] > image->height - 1 ? image->height - 1 : box[1]);

    fill_box(image, bar_x, bar_y, (long long)bar_x + bar_width - 1,
             (long long)bar_y + bar_height - 1, color);
    /* ITU-R BT.601 luma decides whether black or white text reads better on the bar. */
    verge_draw_text(image, bar_x + padding, bar_y + padding, text, scale,
                    0.299 * color.r + 0.587 * color.g + 0.114 * color.b > 140.0 ? black : white);
}
