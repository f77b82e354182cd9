#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "verge/image.h"

/* Largest side accepted for a frame; bounds memory for hostile headers. */
enum { IMAGE_MAX_SIDE = 1 << 15 };

verge_status verge_image_create(int width, int height, verge_image *image)
{
    size_t stride, bytes;

    memset(image, 0, sizeof(*image));
    if (width <= 0 || height <= 0 || width > IMAGE_MAX_SIDE || height > IMAGE_MAX_SIDE)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "image size %dx%d is outside 1..%d pixels per side", width, height,
                          IMAGE_MAX_SIDE);

    stride = (size_t)width * 3;
    if (!verge_size_mul(stride, (size_t)height, &bytes))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "image size %dx%d overflows", width,
                          height);

    image->data = calloc(1, bytes);
    if (image->data == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "cannot allocate a %dx%d image", width,
                          height);
    image->width = width;
    image->height = height;
    image->stride = stride;
    return VERGE_OK;
}

void verge_image_free(verge_image *image)
{
    if (image == NULL)
        return;
    free(image->data);
    memset(image, 0, sizeof(*image));
}
