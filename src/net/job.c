/* The job envelope (layout in verge/net.h): encoding and bounds-checked decoding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "verge/net.h"

static const uint8_t job_magic[4] = {'V', 'J', 'O', 'B'};
enum { JOB_VERSION = 1 };

static bool char_in_name(unsigned char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || (colon && c == ':');
}

static bool name_valid(const char *text, size_t length, size_t max, bool colon)
{
    if (length == 0 || length > max)
        return false;
    for (size_t i = 0; i < length; i++)
        if (!char_in_name((unsigned char)text[i], colon))
            return false;
    return true;
}

bool verge_job_model_name_valid(const char *name)
{
    return name != NULL && name_valid(name, strnlen(name, VERGE_JOB_MODEL_MAX + 1),
                                      VERGE_JOB_MODEL_MAX, false);
}

bool verge_job_id_valid(const char *id)
{
    return id != NULL && name_valid(id, strnlen(id, VERGE_JOB_ID_MAX + 1), VERGE_JOB_ID_MAX, true);
}

/* Text fields other than names: no control bytes (they would break result lines and logs). */
static bool text_valid(const uint8_t *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (text[i] < 0x20 || text[i] == 0x7f)
            return false;
    return true;
}

verge_status verge_job_model_name(const char *path, char *name, size_t size)
{
    const char *base, *dot;
    size_t length;

    if (path == NULL || name == NULL || size == 0)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_job_model_name: NULL argument");
    base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    dot = strrchr(base, '.');
    length = dot != NULL && strcmp(dot, ".tflite") == 0 ? (size_t)(dot - base) : strlen(base);
    if (length == 0 || length > VERGE_JOB_MODEL_MAX || length >= size)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: model name must have 1..%d characters, has %zu", path,
                          VERGE_JOB_MODEL_MAX, length);
    for (size_t i = 0; i < length; i++)
        if (!char_in_name((unsigned char)base[i], false))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "%s: model name '%.*s' has '%c'; topic names allow A-Z a-z 0-9 . _ -"
                              " (rename the file)",
                              path, (int)length, base, base[i]);
    memcpy(name, base, length);
    name[length] = '\0';
    return VERGE_OK;
}

static void put_u16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    put_u16(p, v & 0xffff);
    put_u16(p + 2, v >> 16);
}

static uint32_t get_u16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get_u32(const uint8_t *p)
{
    return get_u16(p) | get_u16(p + 2) << 16;
}

static void put_f32(uint8_t *p, float value)
{
    uint32_t bits;

    memcpy(&bits, &value, sizeof(bits));
    put_u32(p, bits);
}

static float get_f32(const uint8_t *p)
{
    uint32_t bits = get_u32(p);
    float value;

    memcpy(&value, &bits, sizeof(value));
    return value;
}

static bool threshold_valid(float value)
{
    return value >= 0.0f && value <= 1.0f; /* false for NaN */
}

verge_status verge_job_encode(const verge_job *job, uint8_t **envelope, size_t *size)
{
    size_t id_length, model_length, source_length, total;
    uint8_t *out, *at;

    if (job == NULL || envelope == NULL || size == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_job_encode: NULL argument");
    *envelope = NULL;
    *size = 0;
    if (!verge_job_id_valid(job->id))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "job id '%s' must have 1..%d characters of A-Z a-z 0-9 . _ : -",
                          job->id != NULL ? job->id : "(null)", VERGE_JOB_ID_MAX);
    if (!verge_job_model_name_valid(job->model))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "job %s: invalid model name '%s'", job->id,
                          job->model != NULL ? job->model : "(null)");
    if (job->kind != VERGE_JOB_IMAGE && job->kind != VERGE_JOB_URI)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "job %s: invalid kind %d", job->id,
                          (int)job->kind);
    if (!threshold_valid(job->score) || !threshold_valid(job->iou))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "job %s: score %g and iou %g must lie in 0..1", job->id,
                          (double)job->score, (double)job->iou);
    if (job->nms != 0 && job->nms != 1)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "job %s: nms %d is not 0 or 1", job->id,
                          job->nms);
    source_length = job->source != NULL ? strlen(job->source) : 0;
    if (source_length > VERGE_JOB_SOURCE_MAX ||
        !text_valid((const uint8_t *)job->source, source_length))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "job %s: source name must have at most %d characters and no control "
                          "characters", job->id, VERGE_JOB_SOURCE_MAX);
    if (job->body == NULL || job->body_size == 0 || job->body_size > UINT32_MAX)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "job %s: body of %zu bytes; expected 1..%u", job->id, job->body_size,
                          UINT32_MAX);
    if (job->kind == VERGE_JOB_URI &&
        (job->body_size > VERGE_JOB_URI_MAX || !text_valid(job->body, job->body_size)))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "job %s: a URI must have at most %d characters and no control "
                          "characters", job->id, VERGE_JOB_URI_MAX);

    id_length = strlen(job->id);
    model_length = strlen(job->model);
    total = VERGE_JOB_HEADER_SIZE + id_length + model_length + source_length;
    if (!verge_size_add(total, job->body_size, &total))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "job %s: body too large", job->id);
    out = malloc(total);
    if (out == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "job %s: cannot allocate %zu bytes", job->id,
                          total);

    memcpy(out, job_magic, sizeof(job_magic));
    out[4] = JOB_VERSION;
    out[5] = (uint8_t)job->kind;
    out[6] = (uint8_t)job->nms;
    out[7] = (uint8_t)id_length;
    out[8] = (uint8_t)model_length;
    out[9] = 0;
    put_u16(out + 10, (uint32_t)source_length);
    put_f32(out + 12, job->score);
    put_f32(out + 16, job->iou);
    put_u32(out + 20, (uint32_t)job->body_size);
    at = out + VERGE_JOB_HEADER_SIZE;
    memcpy(at, job->id, id_length);
    at += id_length;
    memcpy(at, job->model, model_length);
    at += model_length;
    if (source_length > 0)
        memcpy(at, job->source, source_length);
    at += source_length;
    memcpy(at, job->body, job->body_size);

    *envelope = out;
    *size = total;
    return VERGE_OK;
}

verge_status verge_job_decode(const void *data, size_t size, verge_job *job,
                              verge_job_strings *strings)
{
    const uint8_t *in = data;
    size_t id_length, model_length, source_length, body_length, expected;
    const uint8_t *at;

    if (job == NULL || strings == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_job_decode: NULL argument");
    memset(job, 0, sizeof(*job));
    if (in == NULL || size < VERGE_JOB_HEADER_SIZE)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "job envelope: %zu bytes, shorter than the %d-byte header", size,
                          VERGE_JOB_HEADER_SIZE);
    if (memcmp(in, job_magic, sizeof(job_magic)) != 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "job envelope: starts with %02x %02x %02x %02x, not \"VJOB\" (not a "
                          "verge job)", in[0], in[1], in[2], in[3]);
    if (in[4] != JOB_VERSION)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "job envelope: version %u; this worker reads version %d", in[4],
                          JOB_VERSION);
    if (in[5] != VERGE_JOB_IMAGE && in[5] != VERGE_JOB_URI)
        return verge_fail(VERGE_STATUS_UNSUPPORTED, "job envelope: unknown kind %u", in[5]);
    if (in[6] > 1)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "job envelope: nms %u is not 0 or 1", in[6]);
    if (in[9] != 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "job envelope: reserved byte is %u, not 0",
                          in[9]);

    id_length = in[7];
    model_length = in[8];
    source_length = get_u16(in + 10);
    body_length = get_u32(in + 20);
    if (id_length == 0 || id_length > VERGE_JOB_ID_MAX)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "job envelope: id length %zu outside 1..%d",
                          id_length, VERGE_JOB_ID_MAX);
    if (model_length == 0 || model_length > VERGE_JOB_MODEL_MAX)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "job envelope: model length %zu outside 1..%d", model_length,
                          VERGE_JOB_MODEL_MAX);
    if (source_length > VERGE_JOB_SOURCE_MAX)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "job envelope: source length %zu exceeds %d", source_length,
                          VERGE_JOB_SOURCE_MAX);
    if (body_length == 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "job envelope: empty body");
    /* All four lengths are bounded above (body by 2^32), so this sum cannot overflow size_t. */
    expected = VERGE_JOB_HEADER_SIZE + id_length + model_length + source_length + body_length;
    if (expected != size)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "job envelope: fields add up to %zu bytes but the message has %zu", expected,
                          size);

    at = in + VERGE_JOB_HEADER_SIZE;
    if (!name_valid((const char *)at, id_length, VERGE_JOB_ID_MAX, true))
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "job envelope: id has characters outside A-Z a-z 0-9 . _ : -");
    memcpy(strings->id, at, id_length);
    strings->id[id_length] = '\0';
    at += id_length;
    if (!name_valid((const char *)at, model_length, VERGE_JOB_MODEL_MAX, false))
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "job %s: model name has characters outside A-Z a-z 0-9 . _ -",
                          strings->id);
    memcpy(strings->model, at, model_length);
    strings->model[model_length] = '\0';
    at += model_length;
    if (!text_valid(at, source_length))
        return verge_fail(VERGE_STATUS_INVALID_DATA, "job %s: source name has control characters",
                          strings->id);
    memcpy(strings->source, at, source_length);
    strings->source[source_length] = '\0';
    at += source_length;

    job->kind = (verge_job_kind)in[5];
    job->nms = in[6];
    job->score = get_f32(in + 12);
    job->iou = get_f32(in + 16);
    if (!threshold_valid(job->score) || !threshold_valid(job->iou))
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "job %s: score %g and iou %g must lie in 0..1", strings->id,
                          (double)job->score, (double)job->iou);
    if (job->kind == VERGE_JOB_URI &&
        (body_length > VERGE_JOB_URI_MAX || !text_valid(at, body_length)))
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "job %s: URI of %zu bytes: expected 1..%d bytes without control "
                          "characters", strings->id, body_length, VERGE_JOB_URI_MAX);
    job->id = strings->id;
    job->model = strings->model;
    job->source = strings->source;
    job->body = at;
    job->body_size = body_length;
    return VERGE_OK;
}
