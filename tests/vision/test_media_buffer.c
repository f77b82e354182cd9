/*
 * verge_source_open_buffer(): real photos and a real video decoded from
 * memory must give the same pixels as the same files opened by path; empty,
 * truncated, corrupt and hostile bytes must fail with a clear status (or,
 * for a cut image that still decodes, give a frame of the right size), never
 * crash, and leak nothing (checked under AddressSanitizer).
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "verge/media.h"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    uint8_t *bytes = NULL;
    long length;

    *size = 0;
    if (file == NULL)
        return NULL;
    if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) > 0 &&
        fseek(file, 0, SEEK_SET) == 0) {
        bytes = malloc((size_t)length);
        if (bytes != NULL && fread(bytes, 1, (size_t)length, file) == (size_t)length) {
            *size = (size_t)length;
        } else {
            free(bytes);
            bytes = NULL;
        }
    }
    fclose(file);
    return bytes;
}

static bool images_equal(const verge_image *a, const verge_image *b)
{
    if (a->width != b->width || a->height != b->height)
        return false;
    for (int y = 0; y < a->height; y++)
        if (memcmp(a->data + (size_t)y * a->stride, b->data + (size_t)y * b->stride,
                   (size_t)a->width * 3) != 0)
            return false;
    return true;
}

/* Every frame of `name` read from memory equals the frame read from the file. */
static void check_same_as_file(const char *name, int max_frames, verge_source_kind kind)
{
    char path[1024];
    size_t size;
    uint8_t *bytes;
    verge_source *from_file = NULL, *from_memory = NULL;
    verge_source_options options;
    int frames = 0;

    check_data_path(name, path);
    bytes = read_whole(path, &size);
    CHECK_MSG(bytes != NULL, "cannot read %s", path);
    if (bytes == NULL)
        return;
    verge_source_options_init(&options);
    options.max_frames = max_frames;
    CHECK_OK(verge_source_open(path, &options, &from_file));
    CHECK_OK(verge_source_open_buffer(bytes, size, name, &options, &from_memory));
    if (from_file != NULL && from_memory != NULL) {
        const verge_source_info *info = verge_source_get_info(from_memory);

        CHECK_EQ_INT(info->kind, kind);
        CHECK_EQ_INT(info->is_still, kind == VERGE_SOURCE_IMAGE);
        CHECK_EQ_INT(info->width, verge_source_get_info(from_file)->width);
        CHECK_EQ_INT(info->height, verge_source_get_info(from_file)->height);
        CHECK_MSG(strcmp(info->codec, verge_source_get_info(from_file)->codec) == 0,
                  "%s: codec %s from memory, %s from the file", name, info->codec,
                  verge_source_get_info(from_file)->codec);
        for (;;) {
            verge_frame a, b;
            verge_status sa = verge_source_read(from_file, &a);
            verge_status sb = verge_source_read(from_memory, &b);

            CHECK_EQ_INT(sb, sa);
            if (sa != VERGE_OK || sb != VERGE_OK)
                break;
            CHECK_EQ_INT(b.index, a.index);
            CHECK_NEAR(b.time, a.time, 1e-9);
            CHECK_MSG(images_equal(&a.image, &b.image), "%s: frame %lld differs from the file's",
                      name, (long long)a.index);
            frames++;
        }
        CHECK(frames >= 1);
        if (max_frames > 0)
            CHECK_EQ_INT(frames, max_frames);
    }
    verge_source_close(from_file);
    verge_source_close(from_memory);
    free(bytes);
}

static void photos_decode_like_files(void)
{
    check_same_as_file("images/grace_hopper.jpg", 0, VERGE_SOURCE_IMAGE);
    check_same_as_file("images/car1.jpg", 0, VERGE_SOURCE_IMAGE);
    check_same_as_file("images/coffee.png", 0, VERGE_SOURCE_IMAGE);
}

/* MP4 needs seeking (its index may sit at the end): the reader must support it. */
static void video_decodes_like_file(void)
{
    check_same_as_file("video/vtest_10s.mp4", 12, VERGE_SOURCE_VIDEO);
}

static void empty_input_is_invalid_data(void)
{
    verge_source *source = (verge_source *)&source;
    const uint8_t byte = 0xff;

    CHECK_STATUS(verge_source_open_buffer(NULL, 10, "job-1", NULL, &source),
                 VERGE_STATUS_INVALID_DATA);
    CHECK(source == NULL);
    CHECK_STATUS(verge_source_open_buffer(&byte, 0, "job-1", NULL, &source),
                 VERGE_STATUS_INVALID_DATA);
    CHECK(strstr(verge_error_message(), "job-1") != NULL);
    CHECK_STATUS(verge_source_open_buffer(&byte, 1, NULL, NULL, NULL),
                 VERGE_STATUS_INVALID_ARGUMENT);
}

/*
 * Opens and reads bytes that may be anything. Returns the status of the
 * first failing step, or VERGE_OK when a frame came out (its size is then
 * checked against the expected one, when given).
 */
static verge_status decode_any(const uint8_t *bytes, size_t size, int width, int height)
{
    verge_source *source = NULL;
    verge_frame frame;
    verge_status status = verge_source_open_buffer(bytes, size, "hostile", NULL, &source);

    if (status != VERGE_OK) {
        CHECK(source == NULL);
        CHECK(verge_error_message()[0] != '\0');
        return status;
    }
    status = verge_source_read(source, &frame);
    if (status == VERGE_OK && width > 0) {
        CHECK_EQ_INT(frame.image.width, width);
        CHECK_EQ_INT(frame.image.height, height);
    }
    verge_source_close(source);
    return status;
}

static bool is_clear_failure(verge_status status)
{
    return status == VERGE_STATUS_INVALID_DATA || status == VERGE_STATUS_UNSUPPORTED ||
           status == VERGE_STATUS_END_OF_STREAM;
}

/* A JPEG cut anywhere: either a frame of the full size (the decoder fills the rest) or invalid data. */
static void truncated_photo_fails_cleanly(void)
{
    char path[1024];
    size_t size;
    uint8_t *bytes = read_whole(check_data_path("images/grace_hopper.jpg", path), &size);
    const size_t cuts[] = {1, 2, 3, 4, 16, 100, 300, 620, 1000, 5000};
    int failures = 0;

    CHECK(bytes != NULL);
    if (bytes == NULL)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
        verge_status status = decode_any(bytes, cuts[i], 512, 600);

        CHECK_MSG(status == VERGE_OK || is_clear_failure(status),
                  "cut at %zu bytes: status %d (%s)", cuts[i], status, verge_error_message());
        failures += status != VERGE_OK;
    }
    /* The header alone (the first few hundred bytes) holds no picture. */
    CHECK(failures >= 5);
    for (size_t cut = size / 2; cut < size; cut += size / 7) {
        verge_status status = decode_any(bytes, cut, 512, 600);

        CHECK_MSG(status == VERGE_OK || is_clear_failure(status),
                  "cut at %zu bytes: status %d (%s)", cut, status, verge_error_message());
    }
    free(bytes);
}

static void truncated_video_fails_cleanly(void)
{
    char path[1024];
    size_t size;
    uint8_t *bytes = read_whole(check_data_path("video/vtest_10s.mp4", path), &size);

    CHECK(bytes != NULL);
    if (bytes == NULL)
        return;
    for (size_t cut = 7; cut < size; cut = cut * 3 + 11) {
        verge_status status = decode_any(bytes, cut, 0, 0);

        CHECK_MSG(status == VERGE_OK || is_clear_failure(status),
                  "cut at %zu bytes: status %d (%s)", cut, status, verge_error_message());
    }
    free(bytes);
}

/* Random bytes, a JPEG with a scrambled body, and a PNG whose header claims a huge size. */
static void corrupt_bytes_fail_cleanly(void)
{
    char path[1024];
    size_t size;
    uint8_t *bytes = read_whole(check_data_path("images/grace_hopper.jpg", path), &size);
    uint8_t noise[4096];
    uint32_t state = 12345;

    for (size_t i = 0; i < sizeof(noise); i++) {
        state = state * 1664525u + 1013904223u;
        noise[i] = (uint8_t)(state >> 24);
    }
    CHECK(is_clear_failure(decode_any(noise, sizeof(noise), 0, 0)));
    CHECK(is_clear_failure(decode_any((const uint8_t *)"hello, world", 12, 0, 0)));

    if (bytes != NULL) {
        /* Keep the first 600 bytes (markers, tables), scramble the rest. */
        for (size_t i = 600; i < size; i++) {
            state = state * 1664525u + 1013904223u;
            bytes[i] ^= (uint8_t)(state >> 24);
        }
        verge_status status = decode_any(bytes, size, 512, 600);
        CHECK_MSG(status == VERGE_OK || is_clear_failure(status), "scrambled JPEG: status %d",
                  status);
        free(bytes);
    }

    bytes = read_whole(check_data_path("images/coffee.png", path), &size);
    if (bytes != NULL && size > 24) {
        /* IHDR width and height at offsets 16 and 20: claim 2^31-1 x 2^31-1 pixels. */
        memset(bytes + 16, 0x7f, 1);
        memset(bytes + 17, 0xff, 3);
        memset(bytes + 20, 0x7f, 1);
        memset(bytes + 21, 0xff, 3);
        CHECK(is_clear_failure(decode_any(bytes, size, 0, 0)));
    }
    free(bytes);
}

/* Decoding from memory reads only the given bytes: a buffer cut inside a larger array stays inside. */
static void reads_only_the_given_bytes(void)
{
    char path[1024];
    size_t size;
    uint8_t *bytes = read_whole(check_data_path("images/grace_hopper.jpg", path), &size);
    verge_source *source = NULL;
    verge_frame frame;

    if (bytes == NULL)
        return;
    /* Two copies back to back; open the first only: one frame, then the end. */
    uint8_t *twice = malloc(size * 2);
    if (twice != NULL) {
        memcpy(twice, bytes, size);
        memcpy(twice + size, bytes, size);
        CHECK_OK(verge_source_open_buffer(twice, size, "first", NULL, &source));
        if (source != NULL) {
            CHECK_OK(verge_source_read(source, &frame));
            CHECK_STATUS(verge_source_read(source, &frame), VERGE_STATUS_END_OF_STREAM);
            verge_source_close(source);
        }
    }
    free(twice);
    free(bytes);
}

int main(void)
{
    RUN(photos_decode_like_files);
    RUN(video_decodes_like_file);
    RUN(empty_input_is_invalid_data);
    RUN(truncated_photo_fails_cleanly);
    RUN(truncated_video_fails_cleanly);
    RUN(corrupt_bytes_fail_cleanly);
    RUN(reads_only_the_given_bytes);
    return check_summary();
}
