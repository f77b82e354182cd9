/*
 * Loader-owned memory of a verge_model: every array the loader allocates
 * (graphs, tensors, nodes, index lists, aligned copies of constants) comes
 * from one list and is freed together by verge_model_storage_free().
 */
#ifndef VERGE_MODEL_STORAGE_H
#define VERGE_MODEL_STORAGE_H

#include <stddef.h>

#include "verge/status.h"

/* Alignment of every block returned by verge_model_storage_alloc(), in bytes. */
#define VERGE_MODEL_STORAGE_ALIGN 64

typedef struct verge_model_storage verge_model_storage;

/*
 * Allocates `size` zeroed bytes aligned to VERGE_MODEL_STORAGE_ALIGN and links
 * them into *storage (a NULL *storage starts a new list). A size of 0 yields
 * a valid, unique block. Returns NULL when the allocation fails or the size
 * overflows; the caller reports VERGE_STATUS_OUT_OF_MEMORY.
 */
void *verge_model_storage_alloc(verge_model_storage **storage, size_t size);

/*
 * Like verge_model_storage_alloc() for `count` elements of `elem_size` bytes,
 * with an overflow check on the product.
 */
void *verge_model_storage_array(verge_model_storage **storage, size_t count, size_t elem_size);

/* Frees every block of the list. NULL is allowed. */
void verge_model_storage_free(verge_model_storage *storage);

#endif
