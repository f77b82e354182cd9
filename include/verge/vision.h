/*
 * Vision pre- and post-processing for detectors. This module resizes RGB
 * frames into float model inputs (letterbox or stretch), generates SSD
 * anchors, decodes raw SSD outputs into detections and runs non-maximum
 * suppression (NMS). A registry of detection heads ties these together for
 * known models.
 *
 * The detection path for a known model is four calls:
 *
 *     const verge_head_spec *spec;
 *     verge_head *head;
 *     verge_letterbox map;
 *     verge_head_detect(&input_dims, output_dims, 2, &spec);   // or verge_head_find()
 *     verge_head_create(spec, &input_dims, output_dims, 2, &head);
 *     // per frame:
 *     verge_head_preprocess(head, &frame, input->data, input_count, &map);
 *     verge_interpreter_invoke(interpreter);
 *     verge_head_decode(head, outputs, &map, detections, capacity, &count);
 *
 * Coordinates. A frame pixel (i, j) covers [i, i+1) x [j, j+1), so frame
 * coordinates run from 0 to width and from 0 to height, x to the right and y
 * down. Model-input coordinates are either pixels of the model input (0..W,
 * 0..H) or normalised (0..1 across the model input), as each function states.
 * Detections leave verge_head_decode() in frame pixels.
 *
 * The SSD parts follow MediaPipe's SsdAnchorsCalculator,
 * TensorsToDetectionsCalculator and NonMaxSuppressionCalculator, read in
 * the google-ai-edge/mediapipe sources. Where verge differs, a NOTE says so.
 */
#ifndef VERGE_VISION_H
#define VERGE_VISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verge/image.h"
#include "verge/status.h"
#include "verge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Preprocessing: letterbox or stretch resize into a float NHWC tensor      */
/* ------------------------------------------------------------------------ */

/* Largest model-input side accepted by the preprocessing functions. */
#define VERGE_PREPROCESS_MAX_SIDE 8192

typedef enum verge_resize_mode {
    /*
     * Keeps the aspect ratio. With s = min(W / w, H / h), the frame is
     * resized to nw x nh = round(w * s) x round(h * s) pixels (at least 1)
     * and placed at the integer offset (floor((W - nw) / 2),
     * floor((H - nh) / 2)); the rest is filled with the padding colour.
     */
    VERGE_RESIZE_LETTERBOX = 0,
    /* Resizes the frame to exactly W x H, scaling each axis on its own. */
    VERGE_RESIZE_STRETCH = 1,
} verge_resize_mode;

typedef enum verge_resize_filter {
    /*
     * Bilinear with half-pixel centres: each output pixel blends the 2 x 2
     * nearest frame pixels, clamped at the edges. Cheapest; aliases when
     * shrinking by more than 2x.
     */
    VERGE_FILTER_BILINEAR = 0,
    /*
     * Bilinear with antialiasing: when shrinking by a factor f > 1 the
     * triangle filter is widened to f pixels on each side, so every frame
     * pixel contributes (as PIL's BILINEAR resize and torchvision's
     * antialias=True do). The same as VERGE_FILTER_BILINEAR when enlarging.
     * About 2f taps per output pixel and axis.
     */
    VERGE_FILTER_BILINEAR_ANTIALIAS = 1,
} verge_resize_filter;

typedef struct verge_preprocess_options {
    int width;               /* model input width W in pixels, 1..VERGE_PREPROCESS_MAX_SIDE */
    int height;              /* model input height H in pixels, 1..VERGE_PREPROCESS_MAX_SIDE */
    verge_resize_mode mode;
    verge_resize_filter filter;
    float mul, add;          /* each output value = resampled pixel (0..255) * mul + add */
    uint8_t pad_rgb[3];      /* padding colour as an RGB pixel, normalised like the frame */
} verge_preprocess_options;

/*
 * The mapping between frame pixels and model-input pixels made by one
 * preprocessing call:
 *
 *     input_x = frame_x * scale_x + pad_x      frame_x = (input_x - pad_x) / scale_x
 *     input_y = frame_y * scale_y + pad_y      frame_y = (input_y - pad_y) / scale_y
 *
 * The frame fills the input pixels [pad_x, pad_x + w * scale_x) x
 * [pad_y, pad_y + h * scale_y). In letterbox mode scale_x = nw / w and
 * scale_y = nh / h, which differ from s and from each other by the rounding
 * of nw and nh (under 0.5 / w and 0.5 / h), and the pads are whole pixels.
 * In stretch mode scale_x = W / w, scale_y = H / h and both pads are 0.
 */
typedef struct verge_letterbox {
    double scale_x, scale_y;    /* model-input pixels per frame pixel, > 0 */
    double pad_x, pad_y;        /* model-input pixels of padding left and above the frame, >= 0 */
    int frame_width, frame_height;
    int input_width, input_height;
} verge_letterbox;

/*
 * Fills *map for a frame_width x frame_height frame resized as `options`
 * specify. Returns VERGE_OK or VERGE_STATUS_INVALID_ARGUMENT when a size is
 * not positive or the input size is outside 1..VERGE_PREPROCESS_MAX_SIDE.
 */
verge_status verge_letterbox_compute(const verge_preprocess_options *options, int frame_width,
                                     int frame_height, verge_letterbox *map);

/*
 * Maps a point from normalised model-input coordinates (0..1 across the
 * input; values outside are allowed) to frame pixels.
 */
void verge_letterbox_to_frame(const verge_letterbox *map, float input_x, float input_y,
                              float *frame_x, float *frame_y);

/* Maps a point from frame pixels to normalised model-input coordinates; the inverse of the above. */
void verge_letterbox_to_input(const verge_letterbox *map, float frame_x, float frame_y,
                              float *input_x, float *input_y);

/*
 * Maps a detection's box and keypoints in place from normalised model-input
 * coordinates to frame pixels. Boxes are not clipped to the frame.
 */
void verge_letterbox_detection_to_frame(const verge_letterbox *map, verge_detection *detection);

/*
 * A reusable preprocessor. It keeps the per-column and per-row filter taps
 * and rebuilds them only when the frame size changes, so running it on the
 * frames of a video allocates nothing after the first frame.
 */
typedef struct verge_preprocessor verge_preprocessor;

/*
 * Creates a preprocessor for `options`. Returns VERGE_OK,
 * VERGE_STATUS_INVALID_ARGUMENT for a size outside
 * 1..VERGE_PREPROCESS_MAX_SIDE, an unknown mode or filter, or a non-finite
 * mul or add, or VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_preprocess_create(const verge_preprocess_options *options,
                                     verge_preprocessor **preprocessor);

/* Frees a preprocessor. NULL is allowed. */
void verge_preprocess_destroy(verge_preprocessor *preprocessor);

/*
 * Resizes `frame` into `out`, a float32 NHWC tensor [1, H, W, 3] (RGB, rows
 * top to bottom), placed and filtered as the options specify. Resampling is
 * separable and uses pixel centres. Along each axis, output pixel j of the
 * content area is centred on frame coordinate (j + 0.5) * n_in / n_out.
 * Filter taps that fall outside the frame are dropped and the remaining
 * weights renormalised, which for plain bilinear equals clamping to the
 * edge pixel. Values are not rounded to 8 bits before normalisation.
 * `out_count` is the number of floats in `out` and must be at least
 * W * H * 3. `map` may be NULL; otherwise it receives the mapping.
 *
 * Returns VERGE_OK; VERGE_STATUS_INVALID_ARGUMENT for a frame without
 * pixels, a frame side outside 1..32768, a stride below 3 * width, or an
 * `out` that is too small; VERGE_STATUS_OUT_OF_MEMORY when the filter
 * tables for a new frame size cannot be allocated.
 */
verge_status verge_preprocess_run(verge_preprocessor *preprocessor, const verge_image *frame,
                                  float *out, size_t out_count, verge_letterbox *map);

/*
 * One-shot form of verge_preprocess_create() + verge_preprocess_run() +
 * verge_preprocess_destroy(), for single images. Same layout and return codes.
 */
verge_status verge_preprocess_image(const verge_preprocess_options *options,
                                    const verge_image *frame, float *out, size_t out_count,
                                    verge_letterbox *map);

/* ------------------------------------------------------------------------ */
/* SSD anchors (MediaPipe SsdAnchorsCalculator)                             */
/* ------------------------------------------------------------------------ */

#define VERGE_SSD_MAX_LAYERS 16
#define VERGE_SSD_MAX_ASPECT_RATIOS 8

/*
 * Options of MediaPipe's SsdAnchorsCalculator (strides form; explicit
 * feature-map sizes and multiscale anchor generation are not supported).
 * Layers with equal consecutive strides share one feature map and their
 * anchors are interleaved per cell, as MediaPipe does.
 */
typedef struct verge_ssd_anchor_options {
    int num_layers;                 /* 1..VERGE_SSD_MAX_LAYERS */
    float min_scale, max_scale;     /* anchor scales, relative to the input size */
    int input_width, input_height;  /* model input size in pixels, > 0 */
    float anchor_offset_x;          /* anchor centre within its cell, in cells (MediaPipe default 0.5) */
    float anchor_offset_y;
    int strides[VERGE_SSD_MAX_LAYERS];  /* num_layers entries, each > 0 */
    int num_aspect_ratios;              /* 0..VERGE_SSD_MAX_ASPECT_RATIOS */
    float aspect_ratios[VERGE_SSD_MAX_ASPECT_RATIOS];  /* each > 0 */
    /* > 0 adds one anchor per layer with this aspect ratio and the interpolated scale (MediaPipe default 1.0) */
    float interpolated_scale_aspect_ratio;
    bool reduce_boxes_in_lowest_layer;  /* layer 0 uses 3 fixed anchors (scales 0.1, s, s; ratios 1, 2, 0.5) */
    bool fixed_anchor_size;             /* every anchor gets w = h = 1 */
} verge_ssd_anchor_options;

/* One anchor, in normalised model-input coordinates (0..1). */
typedef struct verge_anchor {
    float x_center, y_center;
    float w, h;
} verge_anchor;

/*
 * Stores in *count the number of anchors that `options` generate. Returns
 * VERGE_OK or VERGE_STATUS_INVALID_ARGUMENT naming the bad option.
 */
verge_status verge_ssd_anchors_count(const verge_ssd_anchor_options *options, size_t *count);

/*
 * Writes the anchors into `anchors` (`capacity` entries) in MediaPipe's
 * order: by layer group, then row, then column, then anchor within the cell.
 * Stores the number written in *count. Returns VERGE_OK, or
 * VERGE_STATUS_INVALID_ARGUMENT for a bad option or when `capacity` is below
 * the count (the message gives both).
 */
verge_status verge_ssd_anchors_generate(const verge_ssd_anchor_options *options,
                                        verge_anchor *anchors, size_t capacity, size_t *count);

/* ------------------------------------------------------------------------ */
/* SSD decoding (MediaPipe TensorsToDetectionsCalculator, CPU path)         */
/* ------------------------------------------------------------------------ */

typedef enum verge_box_format {
    VERGE_BOX_YXHW = 0,  /* y_center, x_center, h, w; keypoints y, x (MediaPipe's default) */
    VERGE_BOX_XYWH = 1,  /* x_center, y_center, w, h; keypoints x, y (reverse_output_order: true) */
} verge_box_format;

typedef struct verge_ssd_decode_options {
    int num_boxes;              /* anchors and rows of both tensors, > 0 */
    int num_coords;             /* values per row of the box tensor, >= box_coord_offset + 4 */
    int num_classes;            /* values per row of the score tensor, > 0 */
    int box_coord_offset;       /* index of the first box value in a row */
    int keypoint_coord_offset;  /* index of the first keypoint value in a row */
    int num_keypoints;          /* 0..VERGE_MAX_KEYPOINTS, 2 values each */
    verge_box_format box_format;
    float x_scale, y_scale, w_scale, h_scale;  /* raw values are divided by these, > 0 */
    bool apply_exponential_on_box_size;        /* w = exp(raw_w / w_scale) * anchor.w */
    bool sigmoid_score;
    float score_clipping_thresh;  /* > 0 clamps raw scores to +-this before the sigmoid */
    float min_score;              /* detections scoring below this are dropped */
} verge_ssd_decode_options;

/*
 * Decodes raw SSD outputs into detections in normalised model-input
 * coordinates (box = x_min, y_min, x_max, y_max; keypoints x, y).
 *
 * `boxes` contains num_boxes rows of num_coords floats and `scores` num_boxes
 * rows of num_classes floats (row-major, so [1, N, C] tensors as they come).
 * For row i with anchor a:
 *
 *     x_center = raw_x / x_scale * a.w + a.x_center   (y likewise with h)
 *     w        = raw_w / w_scale * a.w                (or exp(raw_w / w_scale) * a.w)
 *     keypoint = raw_kx / x_scale * a.w + a.x_center  (y likewise)
 *     score    = max over classes of sigmoid(clamp(raw, -clip, clip)), class_id = its index
 *
 * A row is kept when its score is >= min_score, its width and height are
 * >= 0, and every decoded value and the score are finite. NOTE: MediaPipe
 * also drops negative and NaN sizes but keeps rows with an infinite
 * coordinate; verge drops those too, since NMS cannot average them.
 *
 * Writes the detections, in row order, into `out` (`capacity` entries;
 * num_boxes is always enough) and stores their number in *count. Allocates
 * nothing. Returns VERGE_OK, or VERGE_STATUS_INVALID_ARGUMENT for
 * inconsistent options, a NULL pointer, or more passing rows than
 * `capacity` (the message gives both numbers).
 */
verge_status verge_ssd_decode(const verge_ssd_decode_options *options, const verge_anchor *anchors,
                              const float *boxes, const float *scores, verge_detection *out,
                              size_t capacity, size_t *count);

/* ------------------------------------------------------------------------ */
/* Non-maximum suppression (MediaPipe NonMaxSuppressionCalculator)          */
/* ------------------------------------------------------------------------ */

typedef enum verge_nms_algorithm {
    /*
     * MediaPipe's WEIGHTED algorithm. The top-scoring remaining detection and
     * every remaining detection whose IoU with it exceeds the threshold form
     * a cluster. The cluster becomes one detection: its box corners and
     * keypoints are the score-weighted means over the cluster, and its score
     * and class are the top detection's.
     */
    VERGE_NMS_WEIGHTED = 0,
    /* Greedy hard NMS: a detection is dropped when its IoU with a kept, higher-scoring one exceeds the threshold. */
    VERGE_NMS_HARD = 1,
} verge_nms_algorithm;

typedef struct verge_nms_options {
    verge_nms_algorithm algorithm;
    float iou_threshold;   /* suppress when IoU > this (MediaPipe's min_suppression_threshold), 0..1 */
    int max_detections;    /* keep at most this many; 0 keeps all */
    bool class_aware;      /* true: only detections with the same class_id suppress each other */
} verge_nms_options;

/*
 * Returns the intersection over union of two boxes given as x_min, y_min,
 * x_max, y_max, in 0..1. Returns 0 when the boxes do not overlap, when
 * either box has zero area or is inverted (max < min), when the union is
 * not positive, and when any coordinate is NaN.
 */
float verge_box_iou(const float a[4], const float b[4]);

/*
 * Runs non-maximum suppression in place on `count` detections. The result
 * is written to the front of `detections` in decreasing score order and its
 * size is stored in *kept. Ties are broken by a fixed order on the whole
 * record, so the output does not depend on the input order. Detections
 * whose score is NaN are dropped first. Any coordinate system works, scaled
 * evenly or not, because IoU and the weighted means do not change under
 * per-axis scaling and translation. Keypoints are averaged over the
 * leader's num_keypoints, so all detections should have the same count.
 *
 * NOTE: MediaPipe's weighted NMS stops at the first cluster leader with zero
 * area, because such a box does not overlap itself, and it ignores
 * max_num_detections. verge keeps such a leader as a cluster of one, goes
 * on, and applies max_detections.
 *
 * Returns VERGE_OK or VERGE_STATUS_INVALID_ARGUMENT (an unknown algorithm, a
 * threshold outside 0..1, a negative max_detections, or a keypoint count
 * above VERGE_MAX_KEYPOINTS). Allocates nothing; O(count^2) time in the
 * worst case.
 */
verge_status verge_nms_run(const verge_nms_options *options, verge_detection *detections,
                           size_t count, size_t *kept);

/* ------------------------------------------------------------------------ */
/* Detection heads: presets for known models                                */
/* ------------------------------------------------------------------------ */

/* A tensor shape: `rank` dimensions, outermost first. */
typedef struct verge_dims {
    int rank;                       /* 0..VERGE_MAX_RANK */
    int32_t dims[VERGE_MAX_RANK];
} verge_dims;

/*
 * Everything needed to run one kind of SSD detector: its input shape and
 * preprocessing, anchors, decoding and NMS. Copy a preset and change fields
 * (min_score, nms) to tune it.
 *
 * The model must have one float32 NHWC input [1, height, width, 3] and two
 * float32 outputs, in either order: boxes [1, num_boxes, num_coords] and
 * scores [1, num_boxes, num_classes]. Leading 1s may be added or left out,
 * so [N, C] and [1, 1, N, C] are accepted too. The outputs are identified
 * by their last dimension, so num_coords must differ from num_classes.
 */
typedef struct verge_head_spec {
    const char *name;         /* used by --head, e.g. "blazeface_short_range" */
    const char *description;  /* one line for help text */
    const char *const *class_names; /* label of each class_id, e.g. {"face"}; may be NULL */
    int num_class_names;
    verge_preprocess_options preprocess;
    verge_ssd_anchor_options anchors;
    verge_ssd_decode_options decode;
    verge_nms_options nms;
} verge_head_spec;

/*
 * Built-in presets (values from MediaPipe's face_detection*.pbtxt graphs):
 *
 *   blazeface_short_range  face_detection_short_range.tflite: input 128x128,
 *                          896 anchors, min score 0.5, weighted NMS at IoU 0.3
 *   blazeface_full_range   face_detection_full_range(_sparse).tflite: input
 *                          192x192, 2304 anchors, min score 0.6, weighted NMS at IoU 0.3
 *
 * NOTE: the presets resize with VERGE_FILTER_BILINEAR_ANTIALIAS, while
 * MediaPipe's CPU graph samples without antialiasing (ImageToTensorCalculator
 * uses cv::warpPerspective with INTER_LINEAR). The presets match
 * tests/data/expected/faces.json this way.
 *
 * Returns the number of presets; verge_head_preset() returns preset `index`
 * (0-based) or NULL when out of range.
 */
int verge_head_preset_count(void);
const verge_head_spec *verge_head_preset(int index);

/*
 * Looks up a preset by name and stores it in *spec. Returns VERGE_OK, or
 * VERGE_STATUS_INVALID_ARGUMENT with a message that lists the known names.
 */
verge_status verge_head_find(const char *name, const verge_head_spec **spec);

/*
 * Checks that `spec` fits a model with the given input and output shapes.
 * Stores the 0-based index of the output with the boxes in *box_output and
 * of the one with the scores in *score_output (either pointer may be NULL).
 * Returns VERGE_OK, or VERGE_STATUS_INVALID_ARGUMENT with a message that
 * names the head, the expected shapes and the actual ones.
 */
verge_status verge_head_check(const verge_head_spec *spec, const verge_dims *input,
                              const verge_dims *outputs, int num_outputs, int *box_output,
                              int *score_output);

/*
 * Picks the one head among `specs` (`num_specs` entries) that fits the
 * model's shapes and stores it in *spec. Returns VERGE_OK, or
 * VERGE_STATUS_INVALID_ARGUMENT when none fits or more than one does. The
 * message then gives the model's shapes, lists the candidate heads with
 * their shapes and suggests --head NAME.
 */
verge_status verge_head_detect_among(const verge_head_spec *specs, int num_specs,
                                     const verge_dims *input, const verge_dims *outputs,
                                     int num_outputs, const verge_head_spec **spec);

/* verge_head_detect_among() over the built-in presets. */
verge_status verge_head_detect(const verge_dims *input, const verge_dims *outputs,
                               int num_outputs, const verge_head_spec **spec);

/* A head ready to run: its spec, anchors, sampling tables and scratch space. */
typedef struct verge_head verge_head;

/*
 * Creates a head for a model with the given shapes (checked as
 * verge_head_check() does; the spec is copied). Returns VERGE_OK,
 * VERGE_STATUS_INVALID_ARGUMENT (shapes that do not fit, or bad options in
 * `spec`), or VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_head_create(const verge_head_spec *spec, const verge_dims *input,
                               const verge_dims *outputs, int num_outputs, verge_head **head);

/* Frees a head. NULL is allowed. */
void verge_head_destroy(verge_head *head);

/* Returns the spec the head runs with (its own copy). */
const verge_head_spec *verge_head_get_spec(const verge_head *head);

/*
 * Preprocesses `frame` into the model input `out` (float32 [1, H, W, 3],
 * `out_count` floats) as the spec specifies and stores the mapping in *map.
 * Same return codes as verge_preprocess_run().
 */
verge_status verge_head_preprocess(verge_head *head, const verge_image *frame, float *out,
                                   size_t out_count, verge_letterbox *map);

/*
 * Decodes the model's outputs, runs NMS and maps the result to frame pixels.
 * `outputs` contains the float32 data of the model's outputs in model order (the
 * same order as the shapes given to verge_head_create()). `map` is the
 * mapping from verge_head_preprocess() for this frame, or NULL to leave the
 * detections in normalised model-input coordinates. Writes at most
 * `capacity` detections (highest scores first, also capped by the spec's
 * nms.max_detections) into `out` and stores their number in *count.
 * Returns VERGE_OK or VERGE_STATUS_INVALID_ARGUMENT for NULL arguments.
 */
verge_status verge_head_decode(verge_head *head, const float *const *outputs,
                               const verge_letterbox *map, verge_detection *out, size_t capacity,
                               size_t *count);

#ifdef __cplusplus
}
#endif

#endif
