/*
 * Loading models.
 *
 * verge_model_load() maps a .tflite file and verifies all of it before use:
 * every flatbuffer offset, vtable, vector and string lies inside the file;
 * sizes are computed with overflow checks; tensor, buffer, opcode and
 * subgraph indices are in range; ranks, strides, dilations and paddings are
 * valid. A corrupt or hostile file yields VERGE_STATUS_INVALID_MODEL and a
 * message naming the item and the value, never a crash. Operators that this
 * build cannot run are not an error here: verge_interpreter_create() reports
 * them.
 *
 * A loaded model is immutable, so several interpreters (one per thread) may
 * share it.
 */
#ifndef VERGE_MODEL_H
#define VERGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "verge/status.h"
#include "verge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct verge_model verge_model;

/* Largest model file accepted, in bytes. */
#define VERGE_MODEL_MAX_FILE_SIZE ((size_t)2 << 30)

/*
 * Loads the model at `path` into *model.
 * Returns VERGE_OK, VERGE_STATUS_NOT_FOUND, VERGE_STATUS_IO_ERROR,
 * VERGE_STATUS_INVALID_MODEL, VERGE_STATUS_UNSUPPORTED (a format verge does
 * not read) or VERGE_STATUS_OUT_OF_MEMORY. On failure *model is NULL.
 */
verge_status verge_model_load(const char *path, verge_model **model);

/*
 * Loads a model from `size` bytes at `data`, which are copied. `name` is used
 * in messages. Same return codes as verge_model_load().
 */
verge_status verge_model_load_buffer(const void *data, size_t size, const char *name,
                                     verge_model **model);

/* Frees a model. NULL is allowed. */
void verge_model_free(verge_model *model);

/* Returns the path or name the model was loaded from. */
const char *verge_model_path(const verge_model *model);

#ifdef __cplusplus
}
#endif

#endif
