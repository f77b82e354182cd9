/*
 * Option checks shared between the detection files of src/vision. Not part
 * of the public API.
 */
#ifndef VERGE_VISION_DETECT_INTERNAL_H
#define VERGE_VISION_DETECT_INTERNAL_H

#include "verge/vision.h"

/* Returns VERGE_OK or VERGE_STATUS_INVALID_ARGUMENT naming the first bad option. */
verge_status verge_ssd_decode_check(const verge_ssd_decode_options *options);

/* Returns VERGE_OK or VERGE_STATUS_INVALID_ARGUMENT naming the first bad option. */
verge_status verge_nms_check(const verge_nms_options *options);

#endif
