/*
 * A small bounds-checked FlatBuffers reader.
 *
 * Binary layout (FlatBuffers, little-endian):
 *   - The buffer starts with a uoffset_t (uint32) to the root table; bytes
 *     4..7 may hold a file identifier.
 *   - uoffset_t offsets are unsigned and point forward, relative to the
 *     position where the offset itself is stored.
 *   - A table starts with an soffset_t (int32); its vtable lies at
 *     table position - soffset.
 *   - A vtable is uint16 vtable size in bytes, uint16 table size in bytes, then
 *     one uint16 per field: the field's offset from the table start, or 0 when
 *     the field is absent (its schema default applies). Field ids count from 0
 *     in schema order; a union field takes two ids, `<name>_type` (uint8) then
 *     the value (an offset to a table).
 *   - A vector is a uint32 element count followed by the elements; vectors of
 *     tables and strings hold uoffset_t offsets, one per element.
 *   - A string is a uint32 byte count, the bytes, and a NUL terminator.
 *
 * Every function checks what it reads against the buffer. Offsets land inside
 * it, vtables have a sane size and alignment, and fields lie inside their
 * table. Vector byte sizes are computed with overflow checks and fit in the
 * buffer, and strings end with a NUL inside it. Element reads of a vector returned by
 * verge_fb_vector_field() need no further checks.
 *
 * Shared structure (many offsets to one vector) is legal FlatBuffers, so a
 * small hostile file could make a reader touch the same bytes millions of
 * times. Each vector or string access therefore draws its size from a budget
 * set at verge_fb_init(); once it runs out every access fails.
 *
 * Failing functions return VERGE_STATUS_INVALID_MODEL with a message that
 * names the field (the `name` argument), the byte position and the bad value,
 * and no file name: callers prefix the file and the item with
 * verge_fail_prefix().
 */
#ifndef VERGE_MODEL_FLATBUFFER_H
#define VERGE_MODEL_FLATBUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "verge/status.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the FlatBuffers reader assumes a little-endian host"
#endif

typedef struct verge_fb {
    const uint8_t *data;
    size_t size;         /* bytes at data */
    size_t budget;       /* bytes that vector and string accesses may still read */
} verge_fb;

/* A table whose vtable and extent were checked against the buffer. */
typedef struct verge_fb_table {
    size_t pos;          /* byte position of the table */
    size_t vtable;       /* byte position of its vtable */
    uint16_t vtable_size;
    uint16_t table_size;
} verge_fb_table;

/* A vector whose elements all lie inside the buffer. */
typedef struct verge_fb_vector {
    size_t pos;          /* byte position of element 0 */
    uint32_t length;     /* element count; 0 when the field is absent */
    size_t elem_size;    /* bytes per element (4 for offsets to tables and strings) */
} verge_fb_vector;

/* Sets up a reader of `size` bytes at `data` that may read `budget` bytes of vectors and strings. */
void verge_fb_init(verge_fb *fb, const void *data, size_t size, size_t budget);

/* Reads the root table (the uoffset_t at byte 0). */
verge_status verge_fb_root(verge_fb *fb, verge_fb_table *root);

/* Checks the table at byte position `pos` and its vtable. */
verge_status verge_fb_table_at(verge_fb *fb, size_t pos, const char *name, verge_fb_table *table);

/*
 * Scalar fields: store the field's value, or `fallback` (the schema default)
 * when the field is absent. Fail when the field does not fit in its table.
 */
verge_status verge_fb_u8(verge_fb *fb, const verge_fb_table *table, int field, uint8_t fallback,
                         const char *name, uint8_t *out);
verge_status verge_fb_i8(verge_fb *fb, const verge_fb_table *table, int field, int8_t fallback,
                         const char *name, int8_t *out);
verge_status verge_fb_i32(verge_fb *fb, const verge_fb_table *table, int field, int32_t fallback,
                          const char *name, int32_t *out);
verge_status verge_fb_u32(verge_fb *fb, const verge_fb_table *table, int field, uint32_t fallback,
                          const char *name, uint32_t *out);
verge_status verge_fb_u64(verge_fb *fb, const verge_fb_table *table, int field, uint64_t fallback,
                          const char *name, uint64_t *out);
verge_status verge_fb_f32(verge_fb *fb, const verge_fb_table *table, int field, float fallback,
                          const char *name, float *out);
/* A bool field: any non-zero byte is true. */
verge_status verge_fb_bool(verge_fb *fb, const verge_fb_table *table, int field, bool fallback,
                           const char *name, bool *out);

/*
 * Reads an offset field that refers to a sub-table. *present is false (and
 * *out zeroed) when the field is absent.
 */
verge_status verge_fb_table_field(verge_fb *fb, const verge_fb_table *table, int field,
                                  const char *name, verge_fb_table *out, bool *present);

/*
 * Reads an offset field that refers to a vector of `elem_size`-byte elements
 * (4 for vectors of tables or strings). An absent field yields an empty
 * vector and *present false; `present` may be NULL.
 */
verge_status verge_fb_vector_field(verge_fb *fb, const verge_fb_table *table, int field,
                                   size_t elem_size, const char *name, verge_fb_vector *out,
                                   bool *present);

/*
 * Reads a string field. *out points at the NUL-terminated bytes inside the
 * buffer, or is NULL when the field is absent; *length (may be NULL) gets the
 * byte count without the NUL.
 */
verge_status verge_fb_string_field(verge_fb *fb, const verge_fb_table *table, int field,
                                   const char *name, const char **out, size_t *length);

/* Reads element `index` (< length) of a vector of tables. */
verge_status verge_fb_vector_table(verge_fb *fb, const verge_fb_vector *vector, uint32_t index,
                                   const char *name, verge_fb_table *out);

/* Reads element `index` (< length) of a vector of strings. */
verge_status verge_fb_vector_string(verge_fb *fb, const verge_fb_vector *vector, uint32_t index,
                                    const char *name, const char **out);

/*
 * Reads a union: the uint8 type at field `type_field` and the table at
 * `type_field + 1`. *type is 0 (NONE) when absent. *present is true only when
 * a value table exists, so a type without a value reads as absent.
 */
verge_status verge_fb_union(verge_fb *fb, const verge_fb_table *table, int type_field,
                            const char *name, uint8_t *type, verge_fb_table *value,
                            bool *present);

/* Returns a pointer to element 0 of a checked vector (inside the buffer, possibly unaligned). */
static inline const uint8_t *verge_fb_vector_data(const verge_fb *fb, const verge_fb_vector *vector)
{
    return fb->data + vector->pos;
}

/* Element readers for checked vectors; `index` must be below vector->length. */
static inline int32_t verge_fb_vector_i32(const verge_fb *fb, const verge_fb_vector *vector,
                                          uint32_t index)
{
    int32_t value;

    memcpy(&value, fb->data + vector->pos + (size_t)index * 4, sizeof(value));
    return value;
}

static inline uint16_t verge_fb_vector_u16(const verge_fb *fb, const verge_fb_vector *vector,
                                           uint32_t index)
{
    uint16_t value;

    memcpy(&value, fb->data + vector->pos + (size_t)index * 2, sizeof(value));
    return value;
}

static inline uint8_t verge_fb_vector_u8(const verge_fb *fb, const verge_fb_vector *vector,
                                         uint32_t index)
{
    return fb->data[vector->pos + index];
}

#endif
