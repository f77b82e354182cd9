/*
 * Tensors: typed, dense, row-major (C order) arrays of up to VERGE_MAX_RANK
 * dimensions. Image tensors use NHWC layout, as TFLite does.
 */
#ifndef VERGE_TENSOR_H
#define VERGE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VERGE_MAX_RANK 6

/* Element types. The values match TFLite's TensorType enum. */
typedef enum verge_dtype {
    VERGE_DTYPE_FLOAT32 = 0,
    VERGE_DTYPE_FLOAT16 = 1,
    VERGE_DTYPE_INT32 = 2,
    VERGE_DTYPE_UINT8 = 3,
    VERGE_DTYPE_INT64 = 4,
    VERGE_DTYPE_STRING = 5,
    VERGE_DTYPE_BOOL = 6,
    VERGE_DTYPE_INT16 = 7,
    VERGE_DTYPE_COMPLEX64 = 8,
    VERGE_DTYPE_INT8 = 9,
    VERGE_DTYPE_FLOAT64 = 10,
} verge_dtype;

/* Returns the lower-case name of a dtype ("float32"), or "unknown". */
const char *verge_dtype_name(verge_dtype dtype);

/* Returns the size of one element in bytes, or 0 for types without one (string). */
size_t verge_dtype_size(verge_dtype dtype);

/*
 * Affine quantization: real = scale * (q - zero_point). With count > 1 the
 * parameters are per channel along dimension `axis`.
 */
typedef struct verge_quantization {
    int count;                  /* 0 when the tensor is not quantized */
    int axis;
    const float *scale;         /* count entries */
    const int64_t *zero_point;  /* count entries */
} verge_quantization;

/* Where a tensor's data lives. */
typedef enum verge_tensor_storage {
    VERGE_STORAGE_ARENA = 0, /* activations, graph inputs and outputs: in the interpreter's arena */
    VERGE_STORAGE_CONSTANT,  /* weights: in the model file, or expanded once at load time */
    VERGE_STORAGE_NONE,      /* no data (an unused tensor) */
} verge_tensor_storage;

typedef struct verge_sparsity verge_sparsity; /* TFLite sparse encoding, see src/model/graph.h */

typedef struct verge_tensor {
    const char *name;           /* never NULL; "" when the file gives none */
    verge_dtype dtype;
    int rank;                   /* 0 for a scalar */
    int32_t dims[VERGE_MAX_RANK];
    void *data;                 /* NULL until the interpreter is prepared (arena tensors) */
    size_t bytes;               /* element count * element size */
    verge_tensor_storage storage;
    verge_quantization quant;
    const verge_sparsity *sparsity; /* non-NULL for sparse constants (input of DENSIFY) */
} verge_tensor;

/* Returns the number of elements (the product of dims; 1 for a scalar). */
size_t verge_tensor_count(const verge_tensor *tensor);

/*
 * Formats a shape as "[1,128,128,3]" into buf (always NUL-terminated) and
 * returns buf.
 */
char *verge_shape_str(const int32_t *dims, int rank, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
