/*
 * The TFLite reader: turns a verified .tflite FlatBuffer into a verge_model.
 */
#ifndef VERGE_MODEL_TFLITE_H
#define VERGE_MODEL_TFLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/graph.h"
#include "verge/model.h"
#include "verge/status.h"

/* Returns true when bytes 4..7 of the `size` bytes at `data` are the TFLite identifier "TFL3". */
bool verge_tflite_identify(const uint8_t *data, size_t size);

/*
 * Verifies model->file (model->file_size bytes, named model->path in
 * messages) as a TFLite model and fills the rest of *model: format version,
 * description and graphs. Allocations go to model->storage, so the caller
 * frees a partly filled model with verge_model_free() on failure too.
 * Returns VERGE_OK, VERGE_STATUS_INVALID_MODEL (corrupt or inconsistent),
 * VERGE_STATUS_UNSUPPORTED (no TFL3 identifier, another schema version, or a
 * feature verge does not read: unknown-size dimensions, rank above
 * VERGE_MAX_RANK, tensor types without a verge_dtype, custom quantization)
 * or VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_tflite_parse(verge_model *model);

#endif
