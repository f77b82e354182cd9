/*
 * Frames and detections: the types shared by media input/output,
 * preprocessing, detection heads and the command line.
 */
#ifndef VERGE_IMAGE_H
#define VERGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "verge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An 8-bit RGB image, rows top to bottom, 3 bytes per pixel (R, G, B). */
typedef struct verge_image {
    int width;
    int height;
    size_t stride;   /* bytes from one row to the next, >= 3 * width */
    uint8_t *data;   /* owned by whoever created the image */
} verge_image;

/* Allocates a zeroed width x height image with stride 3 * width. */
verge_status verge_image_create(int width, int height, verge_image *image);

/* Frees the pixels of an image created by verge_image_create() and zeroes *image. */
void verge_image_free(verge_image *image);

#define VERGE_MAX_KEYPOINTS 17

/*
 * One detected object. Coordinates are in pixels of the frame the detector
 * ran on, x to the right and y down; boxes are not clipped to the frame.
 */
typedef struct verge_detection {
    int class_id;
    float score;                              /* 0..1 */
    float box[4];                             /* x_min, y_min, x_max, y_max */
    int num_keypoints;
    float keypoints[VERGE_MAX_KEYPOINTS][2];  /* x, y */
} verge_detection;

#ifdef __cplusplus
}
#endif

#endif
