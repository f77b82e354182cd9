/*
 * SSD anchors: counts and specific anchors for the BlazeFace presets
 * (derived by hand from the options), and MediaPipe's own golden anchors
 * for its MobileSSD test configuration (ssd_anchors_calculator_test.cc,
 * testdata/anchor_golden_file_1.txt), which exercise non-fixed sizes,
 * reduce_boxes_in_lowest_layer and interpolated scales.
 */
#include <stdlib.h>

#include "check.h"
#include "verge/vision.h"

static void check_anchor(const verge_anchor *a, double x, double y, double w, double h, double tol)
{
    CHECK_NEAR(a->x_center, x, tol);
    CHECK_NEAR(a->y_center, y, tol);
    CHECK_NEAR(a->w, w, tol);
    CHECK_NEAR(a->h, h, tol);
}

/*
 * Short range: 128x128, strides 8,16,16,16. Layer 0: 16x16 cells with 2
 * anchors (aspect 1 + interpolated) = 512. Layers 1-3 share the 8x8 map:
 * 3 x 2 = 6 anchors per cell = 384. Total 896. Cell (x, y) of an n x n map
 * has centre ((x + 0.5) / n, (y + 0.5) / n); fixed size gives w = h = 1.
 */
static void short_range(void)
{
    const verge_head_spec *spec;
    verge_anchor anchors[896];
    size_t count;

    CHECK_OK(verge_head_find("blazeface_short_range", &spec));
    CHECK_OK(verge_ssd_anchors_count(&spec->anchors, &count));
    CHECK_EQ_INT(count, 896);
    CHECK_OK(verge_ssd_anchors_generate(&spec->anchors, anchors, 896, &count));
    CHECK_EQ_INT(count, 896);

    check_anchor(&anchors[0], 0.5 / 16, 0.5 / 16, 1, 1, 0);
    check_anchor(&anchors[1], 0.5 / 16, 0.5 / 16, 1, 1, 0);
    check_anchor(&anchors[2], 1.5 / 16, 0.5 / 16, 1, 1, 0);
    check_anchor(&anchors[32], 0.5 / 16, 1.5 / 16, 1, 1, 0);   /* row 1 starts after 16 cells x 2 */
    check_anchor(&anchors[511], 15.5 / 16, 15.5 / 16, 1, 1, 0);
    for (int i = 512; i < 518; i++)
        check_anchor(&anchors[i], 0.5 / 8, 0.5 / 8, 1, 1, 0);
    check_anchor(&anchors[518], 1.5 / 8, 0.5 / 8, 1, 1, 0);
    check_anchor(&anchors[512 + 6 * 8], 0.5 / 8, 1.5 / 8, 1, 1, 0);
    check_anchor(&anchors[895], 7.5 / 8, 7.5 / 8, 1, 1, 0);
}

/* Full range: 192x192, one layer of stride 4: 48x48 cells, 1 anchor each (no interpolated one). */
static void full_range(void)
{
    const verge_head_spec *spec;
    verge_anchor *anchors = malloc(2304 * sizeof(*anchors));
    size_t count;

    CHECK_OK(verge_head_find("blazeface_full_range", &spec));
    CHECK_OK(verge_ssd_anchors_generate(&spec->anchors, anchors, 2304, &count));
    CHECK_EQ_INT(count, 2304);
    check_anchor(&anchors[0], 0.5 / 48, 0.5 / 48, 1, 1, 1e-7);
    check_anchor(&anchors[1], 1.5 / 48, 0.5 / 48, 1, 1, 1e-7);
    check_anchor(&anchors[47], 47.5 / 48, 0.5 / 48, 1, 1, 1e-7);
    check_anchor(&anchors[48], 0.5 / 48, 1.5 / 48, 1, 1, 1e-7);
    check_anchor(&anchors[2303], 47.5 / 48, 47.5 / 48, 1, 1, 1e-7);
    free(anchors);
}

/*
 * MediaPipe's MobileSSDConfig: 300x300, strides 16..512, aspect ratios
 * 1, 2, 0.5, 3, 0.3333, reduce_boxes_in_lowest_layer, min_scale 0.2,
 * max_scale 0.95, interpolated aspect ratio left at its default 1.0.
 * Layer 0: ceil(300/16) = 19 -> 19 x 19 x 3 = 1083; then 10x10, 5x5, 3x3,
 * 2x2, 1x1 maps with 6 anchors each: 600 + 150 + 54 + 24 + 6 = 834; total
 * 1917. Expected values are lines of MediaPipe's golden file (x, y, w, h;
 * 6 significant digits).
 */
static void mediapipe_mobile_ssd_golden(void)
{
    verge_ssd_anchor_options o = {
        .num_layers = 6, .min_scale = 0.2f, .max_scale = 0.95f,
        .input_width = 300, .input_height = 300,
        .anchor_offset_x = 0.5f, .anchor_offset_y = 0.5f,
        .strides = { 16, 32, 64, 128, 256, 512 },
        .num_aspect_ratios = 5, .aspect_ratios = { 1.0f, 2.0f, 0.5f, 3.0f, 0.3333f },
        .interpolated_scale_aspect_ratio = 1.0f,
        .reduce_boxes_in_lowest_layer = true, .fixed_anchor_size = false,
    };
    verge_anchor *anchors = malloc(1917 * sizeof(*anchors));
    size_t count;
    const double tol = 1e-5; /* the tolerance MediaPipe's own test uses */

    CHECK_OK(verge_ssd_anchors_count(&o, &count));
    CHECK_EQ_INT(count, 1917);
    CHECK_OK(verge_ssd_anchors_generate(&o, anchors, 1917, &count));
    CHECK_EQ_INT(count, 1917);

    check_anchor(&anchors[0], 0.0263158, 0.0263158, 0.1, 0.1, tol);
    check_anchor(&anchors[1], 0.0263158, 0.0263158, 0.282843, 0.141421, tol);
    check_anchor(&anchors[2], 0.0263158, 0.0263158, 0.141421, 0.282843, tol);
    check_anchor(&anchors[3], 0.0789474, 0.0263158, 0.1, 0.1, tol);
    check_anchor(&anchors[57], 0.0263158, 0.0789474, 0.1, 0.1, tol);
    check_anchor(&anchors[1082], 0.973684, 0.973684, 0.141421, 0.282843, tol);
    check_anchor(&anchors[1083], 0.05, 0.05, 0.35, 0.35, tol);
    check_anchor(&anchors[1084], 0.05, 0.05, 0.494975, 0.247487, tol);
    check_anchor(&anchors[1085], 0.05, 0.05, 0.247487, 0.494975, tol);
    check_anchor(&anchors[1086], 0.05, 0.05, 0.606218, 0.202073, tol);
    check_anchor(&anchors[1087], 0.05, 0.05, 0.202062, 0.606248, tol);
    check_anchor(&anchors[1088], 0.05, 0.05, 0.41833, 0.41833, tol);
    check_anchor(&anchors[1089], 0.15, 0.05, 0.35, 0.35, tol);
    check_anchor(&anchors[1083 + 6 * 10], 0.05, 0.15, 0.35, 0.35, tol);
    /* Last layer: one cell at the centre, scale 0.95, interpolated sqrt(0.95 * 1.0). */
    check_anchor(&anchors[1911], 0.5, 0.5, 0.95, 0.95, tol);
    check_anchor(&anchors[1916], 0.5, 0.5, 0.974679, 0.974679, tol);
    free(anchors);
}

/*
 * Hand-computed sizes: 32x32, strides 8, 16, scales 0.2 and 0.8, aspect
 * ratios 1 and 2, interpolated 1. Layer 0 (4x4 map): 0.2 x 0.2;
 * w = 0.2 * sqrt 2 = 0.282843, h = 0.2 / sqrt 2 = 0.141421; interpolated
 * sqrt(0.2 * 0.8) = 0.4. Layer 1 (2x2 map): 0.8; 1.131371 x 0.565685;
 * last layer interpolates towards 1.0: sqrt(0.8) = 0.894427. Count
 * 16 x 3 + 4 x 3 = 60.
 */
static void two_layers_by_hand(void)
{
    verge_ssd_anchor_options o = {
        .num_layers = 2, .min_scale = 0.2f, .max_scale = 0.8f,
        .input_width = 32, .input_height = 32,
        .anchor_offset_x = 0.5f, .anchor_offset_y = 0.5f,
        .strides = { 8, 16 },
        .num_aspect_ratios = 2, .aspect_ratios = { 1.0f, 2.0f },
        .interpolated_scale_aspect_ratio = 1.0f,
    };
    verge_anchor anchors[60];
    size_t count;

    CHECK_OK(verge_ssd_anchors_generate(&o, anchors, 60, &count));
    CHECK_EQ_INT(count, 60);
    check_anchor(&anchors[0], 0.125, 0.125, 0.2, 0.2, 1e-6);
    check_anchor(&anchors[1], 0.125, 0.125, 0.282843, 0.141421, 1e-6);
    check_anchor(&anchors[2], 0.125, 0.125, 0.4, 0.4, 1e-6);
    check_anchor(&anchors[48], 0.25, 0.25, 0.8, 0.8, 1e-6);
    check_anchor(&anchors[49], 0.25, 0.25, 1.131371, 0.565685, 1e-6);
    check_anchor(&anchors[50], 0.25, 0.25, 0.894427, 0.894427, 1e-6);
    check_anchor(&anchors[59], 0.75, 0.75, 0.894427, 0.894427, 1e-6);

    /* Non-square input with an offset of 0: 40x24 at stride 8 -> 5x3 cells, centres x / 5, y / 3. */
    verge_ssd_anchor_options r = o;
    r.num_layers = 1;
    r.input_width = 40;
    r.input_height = 24;
    r.anchor_offset_x = r.anchor_offset_y = 0.0f;
    r.num_aspect_ratios = 1;
    r.interpolated_scale_aspect_ratio = 0.0f;
    CHECK_OK(verge_ssd_anchors_generate(&r, anchors, 60, &count));
    CHECK_EQ_INT(count, 15);
    check_anchor(&anchors[0], 0, 0, 0.5, 0.5, 1e-6);  /* one layer: scale = (0.2 + 0.8) / 2 */
    check_anchor(&anchors[4], 0.8, 0, 0.5, 0.5, 1e-6);
    check_anchor(&anchors[14], 0.8, 2.0 / 3.0, 0.5, 0.5, 1e-6);
}

static void bad_options(void)
{
    const verge_head_spec *spec;
    verge_anchor anchors[10];
    size_t count = 99;

    CHECK_OK(verge_head_find("blazeface_short_range", &spec));
    CHECK_STATUS(verge_ssd_anchors_generate(&spec->anchors, anchors, 10, &count),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "896") != NULL);
    CHECK_EQ_INT(count, 0);

    verge_ssd_anchor_options o = spec->anchors;
    o.num_layers = 0;
    CHECK_STATUS(verge_ssd_anchors_count(&o, &count), VERGE_STATUS_INVALID_ARGUMENT);
    o = spec->anchors;
    o.num_layers = VERGE_SSD_MAX_LAYERS + 1;
    CHECK_STATUS(verge_ssd_anchors_count(&o, &count), VERGE_STATUS_INVALID_ARGUMENT);
    o = spec->anchors;
    o.strides[2] = 0;
    CHECK_STATUS(verge_ssd_anchors_count(&o, &count), VERGE_STATUS_INVALID_ARGUMENT);
    o = spec->anchors;
    o.input_width = -128;
    CHECK_STATUS(verge_ssd_anchors_count(&o, &count), VERGE_STATUS_INVALID_ARGUMENT);
    o = spec->anchors;
    o.aspect_ratios[0] = -1.0f;
    CHECK_STATUS(verge_ssd_anchors_count(&o, &count), VERGE_STATUS_INVALID_ARGUMENT);
    o = spec->anchors;
    o.num_aspect_ratios = VERGE_SSD_MAX_ASPECT_RATIOS + 1;
    CHECK_STATUS(verge_ssd_anchors_count(&o, &count), VERGE_STATUS_INVALID_ARGUMENT);
    o = spec->anchors;
    o.min_scale = NAN;
    CHECK_STATUS(verge_ssd_anchors_count(&o, &count), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_ssd_anchors_count(NULL, &count), VERGE_STATUS_INVALID_ARGUMENT);
}

int main(void)
{
    RUN(short_range);
    RUN(full_range);
    RUN(mediapipe_mobile_ssd_golden);
    RUN(two_layers_by_hand);
    RUN(bad_options);
    return check_summary();
}
