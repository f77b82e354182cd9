#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/model_storage.h"

/*
 * Each block starts with this header, padded to the alignment so that the
 * payload after it keeps the block's alignment. The newest block is the head.
 */
struct verge_model_storage {
    struct verge_model_storage *next;
};

enum { HEADER_SIZE = VERGE_MODEL_STORAGE_ALIGN };

_Static_assert(sizeof(struct verge_model_storage) <= HEADER_SIZE, "storage header too large");

void *verge_model_storage_alloc(verge_model_storage **storage, size_t size)
{
    size_t total;
    struct verge_model_storage *block;

    /* aligned_alloc() needs a multiple of the alignment. */
    if (!verge_size_add(size, HEADER_SIZE + VERGE_MODEL_STORAGE_ALIGN - 1, &total))
        return NULL;
    total -= total % VERGE_MODEL_STORAGE_ALIGN;

    block = aligned_alloc(VERGE_MODEL_STORAGE_ALIGN, total);
    if (block == NULL)
        return NULL;
    memset(block, 0, total);
    block->next = *storage;
    *storage = block;
    return (unsigned char *)block + HEADER_SIZE;
}

void *verge_model_storage_array(verge_model_storage **storage, size_t count, size_t elem_size)
{
    size_t size;

    if (!verge_size_mul(count, elem_size, &size))
        return NULL;
    return verge_model_storage_alloc(storage, size);
}

void verge_model_storage_free(verge_model_storage *storage)
{
    while (storage != NULL) {
        struct verge_model_storage *next = storage->next;

        free(storage);
        storage = next;
    }
}
