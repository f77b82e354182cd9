#include <inttypes.h>

#include "core/core.h"
#include "model/flatbuffer.h"

/* Each vector or string access costs this many bytes more, so that empty ones count too. */
enum { ACCESS_COST = 16 };

static uint16_t read_u16(const verge_fb *fb, size_t pos)
{
    uint16_t value;

    memcpy(&value, fb->data + pos, sizeof(value));
    return value;
}

static uint32_t read_u32(const verge_fb *fb, size_t pos)
{
    uint32_t value;

    memcpy(&value, fb->data + pos, sizeof(value));
    return value;
}

/* True when [pos, pos + length) lies inside the buffer. */
static bool in_buffer(const verge_fb *fb, size_t pos, size_t length)
{
    return pos <= fb->size && length <= fb->size - pos;
}

static verge_status charge(verge_fb *fb, size_t bytes, const char *name, size_t pos)
{
    size_t cost;

    if (!verge_size_add(bytes, ACCESS_COST, &cost) || cost > fb->budget) {
        fb->budget = 0;
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s' at byte %zu: the file refers to the same data too many times "
                          "(read limit for a %zu-byte file reached); it is not a valid model",
                          name, pos, fb->size);
    }
    fb->budget -= cost;
    return VERGE_OK;
}

void verge_fb_init(verge_fb *fb, const void *data, size_t size, size_t budget)
{
    fb->data = data;
    fb->size = size;
    fb->budget = budget;
}

verge_status verge_fb_table_at(verge_fb *fb, size_t pos, const char *name, verge_fb_table *table)
{
    int32_t soffset;
    int64_t vtable;
    uint16_t vtable_size;
    uint16_t table_size;

    memset(table, 0, sizeof(*table));
    if (!in_buffer(fb, pos, 4))
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': table at byte %zu lies outside the file (%zu bytes)", name, pos,
                          fb->size);

    memcpy(&soffset, fb->data + pos, sizeof(soffset));
    vtable = (int64_t)pos - (int64_t)soffset;
    if (vtable < 0 || !in_buffer(fb, (size_t)vtable, 4))
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': table at byte %zu has its vtable at byte %" PRId64
                          ", outside the file (%zu bytes)",
                          name, pos, vtable, fb->size);
    if (vtable % 2 != 0)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': table at byte %zu has a misaligned vtable at byte %" PRId64,
                          name, pos, vtable);

    vtable_size = read_u16(fb, (size_t)vtable);
    table_size = read_u16(fb, (size_t)vtable + 2);
    if (vtable_size < 4 || vtable_size % 2 != 0 || !in_buffer(fb, (size_t)vtable, vtable_size))
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': vtable at byte %" PRId64 " has size %u, which is odd, below 4 "
                          "or past the end of the file (%zu bytes)",
                          name, vtable, (unsigned)vtable_size, fb->size);
    if (table_size < 4 || !in_buffer(fb, pos, table_size))
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': table at byte %zu has size %u, which is below 4 or past the end "
                          "of the file (%zu bytes)",
                          name, pos, (unsigned)table_size, fb->size);

    table->pos = pos;
    table->vtable = (size_t)vtable;
    table->vtable_size = vtable_size;
    table->table_size = table_size;
    return VERGE_OK;
}

verge_status verge_fb_root(verge_fb *fb, verge_fb_table *root)
{
    if (fb->size < 8)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "the file has %zu bytes, too few for a FlatBuffer", fb->size);
    return verge_fb_table_at(fb, read_u32(fb, 0), "root table", root);
}

/* Returns the offset of `field` inside the table, or 0 when it is absent. */
static uint16_t field_offset(const verge_fb *fb, const verge_fb_table *table, int field)
{
    size_t entry = 4 + 2 * (size_t)field;

    if (field < 0 || entry + 2 > table->vtable_size)
        return 0;
    return read_u16(fb, table->vtable + entry);
}

/*
 * Finds a field of `size` bytes. Stores its byte position in *pos, or 0 when
 * the field is absent. Fails when the field does not fit inside its table.
 */
static verge_status locate(const verge_fb *fb, const verge_fb_table *table, int field,
                           size_t size, const char *name, size_t *pos)
{
    uint16_t offset = field_offset(fb, table, field);

    *pos = 0;
    if (offset == 0)
        return VERGE_OK;
    /* Offsets below 4 would overlap the table's own soffset_t. */
    if (offset < 4 || (size_t)offset + size > table->table_size)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s' (field %d) of the table at byte %zu: offset %u with size %zu "
                          "lies outside the table (%u bytes)",
                          name, field, table->pos, (unsigned)offset, size,
                          (unsigned)table->table_size);
    *pos = table->pos + offset;
    return VERGE_OK;
}

static verge_status read_scalar(verge_fb *fb, const verge_fb_table *table, int field, size_t size,
                                const char *name, void *out, bool *present)
{
    size_t pos;
    verge_status status = locate(fb, table, field, size, name, &pos);

    if (status != VERGE_OK)
        return status;
    *present = pos != 0;
    if (pos != 0)
        memcpy(out, fb->data + pos, size);
    return VERGE_OK;
}

#define DEFINE_SCALAR_READER(function, type)                                                  \
    verge_status function(verge_fb *fb, const verge_fb_table *table, int field, type fallback, \
                          const char *name, type *out)                                        \
    {                                                                                         \
        bool present;                                                                         \
        verge_status status = read_scalar(fb, table, field, sizeof(type), name, out, &present); \
                                                                                              \
        if (status == VERGE_OK && !present)                                                   \
            *out = fallback;                                                                  \
        return status;                                                                        \
    }

DEFINE_SCALAR_READER(verge_fb_u8, uint8_t)
DEFINE_SCALAR_READER(verge_fb_i8, int8_t)
DEFINE_SCALAR_READER(verge_fb_i32, int32_t)
DEFINE_SCALAR_READER(verge_fb_u32, uint32_t)
DEFINE_SCALAR_READER(verge_fb_u64, uint64_t)
DEFINE_SCALAR_READER(verge_fb_f32, float)

verge_status verge_fb_bool(verge_fb *fb, const verge_fb_table *table, int field, bool fallback,
                           const char *name, bool *out)
{
    uint8_t value = 0;
    verge_status status = verge_fb_u8(fb, table, field, fallback ? 1 : 0, name, &value);

    *out = value != 0;
    return status;
}

/*
 * Follows the uoffset_t stored at byte `pos` and stores the target position.
 * The target is only known to be a position inside the buffer; callers check
 * what they read there.
 */
static verge_status follow(const verge_fb *fb, size_t pos, const char *name, size_t *target)
{
    uint32_t offset = read_u32(fb, pos);

    if (!verge_size_add(pos, offset, target) || *target >= fb->size)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': offset %" PRIu32 " at byte %zu points past the end of the file "
                          "(%zu bytes)",
                          name, offset, pos, fb->size);
    return VERGE_OK;
}

/* Locates an offset field and follows it; *target is 0 when the field is absent. */
static verge_status follow_field(verge_fb *fb, const verge_fb_table *table, int field,
                                 const char *name, size_t *target)
{
    size_t pos;
    verge_status status = locate(fb, table, field, 4, name, &pos);

    *target = 0;
    if (status != VERGE_OK || pos == 0)
        return status;
    return follow(fb, pos, name, target);
}

verge_status verge_fb_table_field(verge_fb *fb, const verge_fb_table *table, int field,
                                  const char *name, verge_fb_table *out, bool *present)
{
    size_t target;
    verge_status status = follow_field(fb, table, field, name, &target);

    memset(out, 0, sizeof(*out));
    *present = false;
    if (status != VERGE_OK || target == 0)
        return status;
    status = verge_fb_table_at(fb, target, name, out);
    *present = status == VERGE_OK;
    return status;
}

static verge_status vector_at(verge_fb *fb, size_t pos, size_t elem_size, const char *name,
                              verge_fb_vector *out)
{
    uint32_t length;
    size_t bytes;

    if (!in_buffer(fb, pos, 4))
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': vector at byte %zu lies outside the file (%zu bytes)", name, pos,
                          fb->size);
    length = read_u32(fb, pos);
    if (!verge_size_mul(length, elem_size, &bytes) || !in_buffer(fb, pos + 4, bytes))
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': vector at byte %zu has %" PRIu32 " elements of %zu bytes, "
                          "which run past the end of the file (%zu bytes)",
                          name, pos, length, elem_size, fb->size);
    out->pos = pos + 4;
    out->length = length;
    out->elem_size = elem_size;
    return charge(fb, bytes, name, pos);
}

verge_status verge_fb_vector_field(verge_fb *fb, const verge_fb_table *table, int field,
                                   size_t elem_size, const char *name, verge_fb_vector *out,
                                   bool *present)
{
    size_t target;
    verge_status status = follow_field(fb, table, field, name, &target);

    out->pos = 0;
    out->length = 0;
    out->elem_size = elem_size;
    if (present != NULL)
        *present = false;
    if (status != VERGE_OK || target == 0)
        return status;
    status = vector_at(fb, target, elem_size, name, out);
    if (status != VERGE_OK) {
        out->pos = 0;
        out->length = 0;
        return status;
    }
    if (present != NULL)
        *present = true;
    return VERGE_OK;
}

static verge_status string_at(verge_fb *fb, size_t pos, const char *name, const char **out,
                              size_t *length)
{
    uint32_t bytes;
    size_t end;

    *out = NULL;
    if (!in_buffer(fb, pos, 4))
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': string at byte %zu lies outside the file (%zu bytes)", name, pos,
                          fb->size);
    bytes = read_u32(fb, pos);
    /* The terminating NUL must lie inside the file too. */
    if (!verge_size_add(pos + 4, bytes, &end) || end >= fb->size)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': string at byte %zu has length %" PRIu32 ", which runs past the "
                          "end of the file (%zu bytes)",
                          name, pos, bytes, fb->size);
    if (fb->data[end] != 0)
        return verge_fail(VERGE_STATUS_INVALID_MODEL,
                          "'%s': string at byte %zu (length %" PRIu32 ") is not NUL-terminated",
                          name, pos, bytes);
    *out = (const char *)fb->data + pos + 4;
    if (length != NULL)
        *length = bytes;
    return charge(fb, bytes, name, pos);
}

verge_status verge_fb_string_field(verge_fb *fb, const verge_fb_table *table, int field,
                                   const char *name, const char **out, size_t *length)
{
    size_t target;
    verge_status status = follow_field(fb, table, field, name, &target);

    *out = NULL;
    if (length != NULL)
        *length = 0;
    if (status != VERGE_OK || target == 0)
        return status;
    status = string_at(fb, target, name, out, length);
    if (status != VERGE_OK)
        *out = NULL;
    return status;
}

verge_status verge_fb_vector_table(verge_fb *fb, const verge_fb_vector *vector, uint32_t index,
                                   const char *name, verge_fb_table *out)
{
    size_t target;
    verge_status status;

    memset(out, 0, sizeof(*out));
    if (index >= vector->length || vector->elem_size != 4)
        return verge_fail(VERGE_STATUS_INTERNAL, "'%s': element %" PRIu32 " of a %" PRIu32
                          "-element vector requested", name, index, vector->length);
    status = follow(fb, vector->pos + (size_t)index * 4, name, &target);
    if (status != VERGE_OK)
        return status;
    return verge_fb_table_at(fb, target, name, out);
}

verge_status verge_fb_vector_string(verge_fb *fb, const verge_fb_vector *vector, uint32_t index,
                                    const char *name, const char **out)
{
    size_t target;
    verge_status status;

    *out = NULL;
    if (index >= vector->length || vector->elem_size != 4)
        return verge_fail(VERGE_STATUS_INTERNAL, "'%s': element %" PRIu32 " of a %" PRIu32
                          "-element vector requested", name, index, vector->length);
    status = follow(fb, vector->pos + (size_t)index * 4, name, &target);
    if (status != VERGE_OK)
        return status;
    return string_at(fb, target, name, out, NULL);
}

verge_status verge_fb_union(verge_fb *fb, const verge_fb_table *table, int type_field,
                            const char *name, uint8_t *type, verge_fb_table *value,
                            bool *present)
{
    verge_status status = verge_fb_u8(fb, table, type_field, 0, name, type);

    memset(value, 0, sizeof(*value));
    *present = false;
    if (status != VERGE_OK || *type == 0)
        return status;
    return verge_fb_table_field(fb, table, type_field + 1, name, value, present);
}
