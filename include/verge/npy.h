/*
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0).
 *
 * The reader accepts float32, float64, int8, uint8, int32, int64 and bool
 * arrays in either byte order and in C or Fortran order, and returns them in
 * native byte order and C order. Everything else (object arrays, structured
 * dtypes, strings, complex numbers, float16) is rejected with a message that
 * names the file and the dtype. It is a parser of untrusted bytes: every size
 * is checked against the file before it is used.
 */
#ifndef VERGE_NPY_H
#define VERGE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "verge/status.h"
#include "verge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A dense array read from or written to a .npy file. */
typedef struct verge_array {
    verge_dtype dtype;
    int rank;
    int32_t dims[VERGE_MAX_RANK];
    void *data;      /* C order, native byte order; owned, free with verge_array_free() */
    size_t bytes;
} verge_array;

/*
 * Parses `size` bytes of a .npy file into *array. `name` is used in messages.
 * Returns VERGE_OK, VERGE_STATUS_INVALID_DATA (malformed file),
 * VERGE_STATUS_UNSUPPORTED (a dtype verge does not read, or a rank above
 * VERGE_MAX_RANK) or VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_npy_parse(const void *data, size_t size, const char *name, verge_array *array);

/* Reads the .npy file at `path`; also VERGE_STATUS_NOT_FOUND and VERGE_STATUS_IO_ERROR. */
verge_status verge_npy_read(const char *path, verge_array *array);

/*
 * Writes `count`-element data of `dtype` with shape dims[rank] as a version
 * 1.0 .npy file in C order and native (little-endian) byte order.
 */
verge_status verge_npy_write(const char *path, verge_dtype dtype, int rank, const int32_t *dims,
                             const void *data);

/* Frees the data of an array and zeroes it. NULL is allowed. */
void verge_array_free(verge_array *array);

#ifdef __cplusplus
}
#endif

#endif
