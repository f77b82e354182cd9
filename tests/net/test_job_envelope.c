/*
 * The job envelope codec on untrusted bytes: round trips, every truncation,
 * every single-byte change, hostile lengths and characters, and random
 * bytes. Decoding must never read outside the message (checked under
 * AddressSanitizer: each message lives in its own exactly-sized block).
 */
#include <stdint.h>

#include "check.h"
#include "verge/net.h"

static const uint8_t image_bytes[] = {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 0xff, 0xd9};

static verge_job sample_job(void)
{
    verge_job job = {0};

    job.kind = VERGE_JOB_IMAGE;
    job.id = "a1b2c3d4-17";
    job.model = "face_detection_short_range";
    job.source = "photos/grace hopper.jpg";
    job.score = 0.6f;
    job.iou = 0.25f;
    job.nms = 1;
    job.body = image_bytes;
    job.body_size = sizeof(image_bytes);
    return job;
}

/* Decodes a private copy of exactly `size` bytes, so that any over-read is caught. */
static verge_status decode_copy(const uint8_t *data, size_t size, verge_job *job,
                                verge_job_strings *strings, uint8_t **copy)
{
    *copy = malloc(size > 0 ? size : 1);
    if (*copy == NULL)
        return VERGE_STATUS_OUT_OF_MEMORY;
    if (size > 0)
        memcpy(*copy, data, size);
    return verge_job_decode(size > 0 ? *copy : NULL, size, job, strings);
}

static void round_trip(void)
{
    verge_job job = sample_job(), decoded;
    verge_job_strings strings;
    uint8_t *envelope = NULL, *copy = NULL;
    size_t size = 0;

    CHECK_OK(verge_job_encode(&job, &envelope, &size));
    CHECK_EQ_INT(size, VERGE_JOB_HEADER_SIZE + strlen(job.id) + strlen(job.model) +
                           strlen(job.source) + sizeof(image_bytes));
    CHECK(memcmp(envelope, "VJOB\x01\x01\x01", 7) == 0);
    CHECK_OK(decode_copy(envelope, size, &decoded, &strings, &copy));
    CHECK_EQ_INT(decoded.kind, VERGE_JOB_IMAGE);
    CHECK(strcmp(decoded.id, job.id) == 0);
    CHECK(strcmp(decoded.model, job.model) == 0);
    CHECK(strcmp(decoded.source, job.source) == 0);
    CHECK_NEAR(decoded.score, 0.6, 1e-7);
    CHECK_NEAR(decoded.iou, 0.25, 1e-7);
    CHECK_EQ_INT(decoded.nms, 1);
    CHECK_EQ_INT(decoded.body_size, sizeof(image_bytes));
    CHECK(decoded.body == copy + size - sizeof(image_bytes));
    CHECK(memcmp(decoded.body, image_bytes, sizeof(image_bytes)) == 0);
    free(copy);
    free(envelope);

    /* A URI job without a source name. */
    job.kind = VERGE_JOB_URI;
    job.source = NULL;
    job.body = (const uint8_t *)"rtsp://camera/stream";
    job.body_size = strlen("rtsp://camera/stream");
    CHECK_OK(verge_job_encode(&job, &envelope, &size));
    CHECK_OK(decode_copy(envelope, size, &decoded, &strings, &copy));
    CHECK_EQ_INT(decoded.kind, VERGE_JOB_URI);
    CHECK(strcmp(decoded.source, "") == 0);
    CHECK(decoded.body_size == job.body_size);
    CHECK(memcmp(decoded.body, job.body, job.body_size) == 0);
    free(copy);
    free(envelope);
}

static void encode_rejects_bad_fields(void)
{
    verge_job job = sample_job();
    uint8_t *envelope = NULL;
    size_t size = 0;

    job.id = "has space";
    CHECK_STATUS(verge_job_encode(&job, &envelope, &size), VERGE_STATUS_INVALID_ARGUMENT);
    job = sample_job();
    job.id = "";
    CHECK_STATUS(verge_job_encode(&job, &envelope, &size), VERGE_STATUS_INVALID_ARGUMENT);
    job = sample_job();
    job.model = "a/b";
    CHECK_STATUS(verge_job_encode(&job, &envelope, &size), VERGE_STATUS_INVALID_ARGUMENT);
    job = sample_job();
    job.score = 1.5f;
    CHECK_STATUS(verge_job_encode(&job, &envelope, &size), VERGE_STATUS_INVALID_ARGUMENT);
    job = sample_job();
    job.iou = NAN;
    CHECK_STATUS(verge_job_encode(&job, &envelope, &size), VERGE_STATUS_INVALID_ARGUMENT);
    job = sample_job();
    job.source = "line\nbreak";
    CHECK_STATUS(verge_job_encode(&job, &envelope, &size), VERGE_STATUS_INVALID_ARGUMENT);
    job = sample_job();
    job.body_size = 0;
    CHECK_STATUS(verge_job_encode(&job, &envelope, &size), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(envelope == NULL);
}

static void every_truncation_fails(void)
{
    verge_job job = sample_job(), decoded;
    verge_job_strings strings;
    uint8_t *envelope = NULL, *copy;
    size_t size = 0;

    CHECK_OK(verge_job_encode(&job, &envelope, &size));
    for (size_t cut = 0; cut < size; cut++) {
        verge_status status = decode_copy(envelope, cut, &decoded, &strings, &copy);

        CHECK_MSG(status == VERGE_STATUS_INVALID_DATA, "cut at %zu: status %d (%s)", cut, status,
                  verge_error_message());
        free(copy);
    }
    /* One byte too many is as wrong as one too few. */
    uint8_t *longer = calloc(1, size + 1);
    if (longer != NULL) {
        memcpy(longer, envelope, size);
        CHECK_STATUS(verge_job_decode(longer, size + 1, &decoded, &strings),
                     VERGE_STATUS_INVALID_DATA);
        CHECK(strstr(verge_error_message(), "add up to") != NULL);
    }
    free(longer);
    free(envelope);
}

/* Any single byte changed to any value: a clean failure, or a job whose fields are all valid. */
static void every_byte_flip_is_safe(void)
{
    verge_job job = sample_job(), decoded;
    verge_job_strings strings;
    uint8_t *envelope = NULL, *copy;
    size_t size = 0;
    int accepted = 0, rejected = 0;

    CHECK_OK(verge_job_encode(&job, &envelope, &size));
    for (size_t at = 0; at < size; at++) {
        for (int value = 0; value < 256; value += 7) {
            uint8_t saved = envelope[at];
            verge_status status;

            envelope[at] = (uint8_t)value;
            status = decode_copy(envelope, size, &decoded, &strings, &copy);
            envelope[at] = saved;
            if (status == VERGE_OK) {
                accepted++;
                CHECK(verge_job_id_valid(decoded.id));
                CHECK(verge_job_model_name_valid(decoded.model));
                CHECK(decoded.score >= 0);
                CHECK(decoded.score <= 1);
                CHECK(decoded.body >= copy);
                CHECK(decoded.body + decoded.body_size == copy + size);
            } else {
                rejected++;
                if (status != VERGE_STATUS_INVALID_DATA && status != VERGE_STATUS_UNSUPPORTED)
                    CHECK_MSG(0, "byte %zu = %d: status %d", at, value, status);
            }
            free(copy);
        }
    }
    CHECK(accepted > 0);
    CHECK(rejected > 0);
    free(envelope);
}

static void hostile_headers_fail(void)
{
    verge_job decoded;
    verge_job_strings strings;
    uint8_t header[VERGE_JOB_HEADER_SIZE + 4] = {'V', 'J', 'O', 'B', 1, 1, 0, 1, 1, 0};
    uint8_t *copy;

    /* Body length 0xffffffff with 2 bytes present. */
    memset(header + 20, 0xff, 4);
    header[24] = 'a';
    header[25] = 'm';
    CHECK_STATUS(decode_copy(header, 26, &decoded, &strings, &copy), VERGE_STATUS_INVALID_DATA);
    free(copy);
    /* Source length above the maximum. */
    memset(header + 20, 0, 4);
    header[20] = 1;
    header[10] = 0xff;
    header[11] = 0xff;
    CHECK_STATUS(decode_copy(header, 27, &decoded, &strings, &copy), VERGE_STATUS_INVALID_DATA);
    free(copy);
    /* Id length 0, model length 200. */
    header[10] = header[11] = 0;
    header[7] = 0;
    CHECK_STATUS(decode_copy(header, 27, &decoded, &strings, &copy), VERGE_STATUS_INVALID_DATA);
    free(copy);
    header[7] = 1;
    header[8] = 200;
    CHECK_STATUS(decode_copy(header, 27, &decoded, &strings, &copy), VERGE_STATUS_INVALID_DATA);
    free(copy);
    /* Unknown version and kind are "unsupported", with the value in the message. */
    header[8] = 1;
    header[4] = 9;
    CHECK_STATUS(decode_copy(header, 27, &decoded, &strings, &copy), VERGE_STATUS_UNSUPPORTED);
    CHECK(strstr(verge_error_message(), "version 9") != NULL);
    free(copy);
    header[4] = 1;
    header[5] = 7;
    CHECK_STATUS(decode_copy(header, 27, &decoded, &strings, &copy), VERGE_STATUS_UNSUPPORTED);
    free(copy);
    /* Not a job at all: JSON, and nothing. */
    CHECK_STATUS(decode_copy((const uint8_t *)"{\"job\":1,\"image\":\"...\"}", 24, &decoded,
                             &strings, &copy), VERGE_STATUS_INVALID_DATA);
    CHECK(strstr(verge_error_message(), "not a verge job") != NULL);
    free(copy);
    CHECK_STATUS(decode_copy(NULL, 0, &decoded, &strings, &copy), VERGE_STATUS_INVALID_DATA);
    free(copy);
    /* A NaN score and an id with a quote (would break the JSON result). */
    verge_job job = sample_job();
    uint8_t *envelope = NULL;
    size_t size = 0;
    CHECK_OK(verge_job_encode(&job, &envelope, &size));
    if (envelope != NULL) {
        uint32_t nan_bits = 0x7fc00000u;

        memcpy(envelope + 12, &nan_bits, 4);
        CHECK_STATUS(decode_copy(envelope, size, &decoded, &strings, &copy),
                     VERGE_STATUS_INVALID_DATA);
        free(copy);
        memcpy(envelope + 12, "\x9a\x99\x19\x3f", 4);
        envelope[VERGE_JOB_HEADER_SIZE] = '"';
        CHECK_STATUS(decode_copy(envelope, size, &decoded, &strings, &copy),
                     VERGE_STATUS_INVALID_DATA);
        free(copy);
    }
    free(envelope);
}

static void random_bytes_are_rejected(void)
{
    uint32_t state = 99;
    verge_job decoded;
    verge_job_strings strings;

    for (int round = 0; round < 20000; round++) {
        size_t size = 0;
        uint8_t *bytes;
        verge_status status;

        state = state * 1664525u + 1013904223u;
        size = (state >> 8) % 300;
        bytes = malloc(size > 0 ? size : 1);
        if (bytes == NULL)
            break;
        for (size_t i = 0; i < size; i++) {
            state = state * 1664525u + 1013904223u;
            bytes[i] = (uint8_t)(state >> 24);
        }
        /* Half the rounds start with a plausible header, so that decoding gets further. */
        if (round % 2 == 0 && size >= 10) {
            memcpy(bytes, "VJOB\x01\x01\x00", 7);
            bytes[9] = 0;
        }
        status = verge_job_decode(size > 0 ? bytes : NULL, size, &decoded, &strings);
        CHECK_MSG(status == VERGE_OK || status == VERGE_STATUS_INVALID_DATA ||
                      status == VERGE_STATUS_UNSUPPORTED,
                  "round %d: status %d", round, status);
        free(bytes);
    }
}

static void model_names(void)
{
    char name[VERGE_JOB_MODEL_MAX + 1];

    CHECK_OK(verge_job_model_name("/models/face_detection_short_range.tflite", name,
                                  sizeof(name)));
    CHECK(strcmp(name, "face_detection_short_range") == 0);
    CHECK_OK(verge_job_model_name("face_detection_short_range", name, sizeof(name)));
    CHECK(strcmp(name, "face_detection_short_range") == 0);
    CHECK_OK(verge_job_model_name("model.v2.onnx", name, sizeof(name)));
    CHECK(strcmp(name, "model.v2.onnx") == 0);
    CHECK_STATUS(verge_job_model_name("dir/bad+name.tflite", name, sizeof(name)),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "'+'") != NULL);
    CHECK_STATUS(verge_job_model_name("dir/.tflite", name, sizeof(name)),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(verge_job_id_valid("ab-12:3"));
    CHECK(!verge_job_id_valid("ab#"));
    CHECK(!verge_job_model_name_valid("a#"));
}

int main(void)
{
    RUN(round_trip);
    RUN(encode_rejects_bad_fields);
    RUN(every_truncation_fails);
    RUN(every_byte_flip_is_safe);
    RUN(hostile_headers_fail);
    RUN(random_bytes_are_rejected);
    RUN(model_names);
    return check_summary();
}
