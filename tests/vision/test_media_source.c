/*
 * Media source tests: real photos and video decoded through FFmpeg and
 * compared with the ffmpeg command's own RGB output, standard input, a local
 * HTTP stream, and damaged, missing and unreachable inputs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "media_test_util.h"
#include "verge/media.h"

/* Collects the log lines the library sends, to check FFmpeg's go through verge_log. */
static int logged_lines;
static int logged_ffmpeg_lines;

static void count_log_line(verge_log_level level, const char *message, void *user)
{
    (void)level;
    (void)user;
    logged_lines++;
    if (strncmp(message, "ffmpeg: ", 8) == 0)
        logged_ffmpeg_lines++;
}

typedef struct photo {
    const char *name;
    int width;
    int height;
    const char *codec;
    int max_difference;   /* largest channel difference accepted against the ffmpeg command */
} photo;

/* Sizes from the files' headers (ffprobe); PNG is lossless, so it must match exactly. */
static const photo photos[] = {
    {"images/grace_hopper.jpg", 512, 600, "mjpeg", 0},
    {"images/astronaut.png", 512, 512, "png", 0},
    {"images/coffee.png", 600, 400, "png", 0},
    {"images/car1.jpg", 1024, 680, "mjpeg", 0},
};

/* Decodes `path` with the source and checks it against the ffmpeg command's first frame. */
static void check_image_matches_ffmpeg(const char *path, int width, int height, int tolerance)
{
    verge_source *source = NULL;
    verge_frame frame;
    uint8_t *expected = malloc((size_t)width * height * 3);

    CHECK(expected != NULL);
    if (expected == NULL)
        return;
    CHECK_MSG(ffmpeg_decode_first(path, width, height, expected) == 0,
              "ffmpeg could not decode %s", path);

    CHECK_OK(verge_source_open(path, NULL, &source));
    if (source != NULL) {
        CHECK_OK(verge_source_read(source, &frame));
        CHECK_EQ_INT(frame.image.width, width);
        CHECK_EQ_INT(frame.image.height, height);
        if (frame.image.width == width && frame.image.height == height) {
            image_difference difference = compare_to_packed(&frame.image, expected);

            CHECK_MSG(difference.max <= tolerance,
                      "%s: max difference %d to ffmpeg's RGB (mean %.3f), expected <= %d", path,
                      difference.max, difference.mean, tolerance);
        }
        verge_source_close(source);
    }
    free(expected);
}

static void photos_decode_like_ffmpeg(void)
{
    char path[1024];
    size_t i;

    for (i = 0; i < ARRAY_SIZE(photos); i++) {
        const photo *p = &photos[i];
        verge_source *source = NULL;
        const verge_source_info *info;
        verge_frame frame;

        check_data_path(p->name, path);
        CHECK_OK(verge_source_open(path, NULL, &source));
        if (source == NULL)
            continue;
        info = verge_source_get_info(source);
        CHECK_EQ_INT(info->kind, VERGE_SOURCE_IMAGE);
        CHECK(info->is_still);
        CHECK_EQ_INT(info->width, p->width);
        CHECK_EQ_INT(info->height, p->height);
        CHECK_MSG(strcmp(info->codec, p->codec) == 0, "%s: codec %s, expected %s", p->name,
                  info->codec, p->codec);
        CHECK_NEAR(info->fps, 0.0, 0.0);

        CHECK_OK(verge_source_read(source, &frame));
        CHECK_EQ_INT(frame.image.width, p->width);
        CHECK_EQ_INT(frame.image.height, p->height);
        CHECK(frame.image.stride >= (size_t)p->width * 3);
        CHECK_EQ_INT(frame.index, 0);
        CHECK_NEAR(frame.time, 0.0, 0.0);
        CHECK_STATUS(verge_source_read(source, &frame), VERGE_STATUS_END_OF_STREAM);
        CHECK_STATUS(verge_source_read(source, &frame), VERGE_STATUS_END_OF_STREAM);
        verge_source_close(source);

        check_image_matches_ffmpeg(path, p->width, p->height, p->max_difference);
    }
}

/* Known facts about the photos, independent of any decoder's output. */
static void photos_pixel_facts(void)
{
    char path[1024];
    verge_source *source = NULL;
    verge_frame frame;
    verge_status status;
    const uint8_t *pixel;

    /*
     * Both PNGs are 8-bit RGB whose first scanline uses the Sub filter, so
     * the top-left pixel is stored verbatim in the inflated IDAT data
     * (read with Python's zlib): astronaut (154, 147, 151), coffee (21, 13, 8).
     */
    check_data_path("images/astronaut.png", path);
    CHECK_OK(verge_source_open(path, NULL, &source));
    status = source != NULL ? verge_source_read(source, &frame) : VERGE_STATUS_NOT_FOUND;
    CHECK_OK(status);
    if (status == VERGE_OK) {
        pixel = frame.image.data;
        CHECK_EQ_INT(pixel[0], 154);
        CHECK_EQ_INT(pixel[1], 147);
        CHECK_EQ_INT(pixel[2], 151);
    }
    verge_source_close(source);

    source = NULL;
    check_data_path("images/coffee.png", path);
    CHECK_OK(verge_source_open(path, NULL, &source));
    status = source != NULL ? verge_source_read(source, &frame) : VERGE_STATUS_NOT_FOUND;
    CHECK_OK(status);
    if (status == VERGE_OK) {
        pixel = frame.image.data;
        CHECK_EQ_INT(pixel[0], 21);
        CHECK_EQ_INT(pixel[1], 13);
        CHECK_EQ_INT(pixel[2], 8);
    }
    verge_source_close(source);
}

static void bmp_from_ffmpeg(void)
{
    char png[1024], bmp[1024], odd_bmp[1024], odd_jpg[1024];
    char *to_bmp[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", png, "-pix_fmt", "bgr24",
                      bmp, NULL};
    char *to_odd_bmp[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", png, "-vf",
                          "crop=33:17:5:7", "-pix_fmt", "bgr24", odd_bmp, NULL};
    char *to_odd_jpg[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", png, "-vf",
                          "crop=101:67:3:9", "-pix_fmt", "yuvj420p", odd_jpg, NULL};
    verge_source *source = NULL;
    verge_frame frame;
    uint8_t *reference = NULL;

    check_data_path("images/coffee.png", png);
    test_path(bmp, sizeof(bmp), "coffee.bmp");
    test_path(odd_bmp, sizeof(odd_bmp), "odd.bmp");
    test_path(odd_jpg, sizeof(odd_jpg), "odd.jpg");
    CHECK_EQ_INT(run_command(to_bmp), 0);
    CHECK_EQ_INT(run_command(to_odd_bmp), 0);
    CHECK_EQ_INT(run_command(to_odd_jpg), 0);

    /* BMP is lossless: the pixels must equal the PNG's. */
    CHECK_OK(verge_source_open(png, NULL, &source));
    if (source != NULL && verge_source_read(source, &frame) == VERGE_OK)
        reference = pack_image(&frame.image);
    CHECK(reference != NULL);
    verge_source_close(source);

    source = NULL;
    CHECK_OK(verge_source_open(bmp, NULL, &source));
    if (source != NULL) {
        CHECK_EQ_INT(verge_source_get_info(source)->kind, VERGE_SOURCE_IMAGE);
        CHECK(strcmp(verge_source_get_info(source)->codec, "bmp") == 0);
        CHECK_OK(verge_source_read(source, &frame));
        CHECK_EQ_INT(frame.image.width, 600);
        CHECK_EQ_INT(frame.image.height, 400);
        if (reference != NULL && frame.image.width == 600 && frame.image.height == 400)
            CHECK_EQ_INT(compare_to_packed(&frame.image, reference).max, 0);
        verge_source_close(source);
    }

    /* Odd sizes: a 33x17 crop, compared with the same crop of the PNG's pixels. */
    source = NULL;
    CHECK_OK(verge_source_open(odd_bmp, NULL, &source));
    if (source != NULL) {
        CHECK_OK(verge_source_read(source, &frame));
        CHECK_EQ_INT(frame.image.width, 33);
        CHECK_EQ_INT(frame.image.height, 17);
        if (reference != NULL && frame.image.width == 33 && frame.image.height == 17) {
            int y, mismatches = 0;

            for (y = 0; y < 17; y++)
                mismatches += memcmp(frame.image.data + (size_t)y * frame.image.stride,
                                     reference + ((size_t)(y + 7) * 600 + 5) * 3, 33 * 3) != 0;
            CHECK_EQ_INT(mismatches, 0);
        }
        verge_source_close(source);
    }

    /* An odd-sized 4:2:0 JPEG exercises chroma planes of rounded-up size. */
    check_image_matches_ffmpeg(odd_jpg, 101, 67, 0);
    free(reference);
}

/*
 * Reads the whole video and compares every frame with the ffmpeg command's
 * decode of the same file, which runs alongside and streams raw RGB.
 */
static void video_all_frames(void)
{
    char path[1024];
    char *argv[] = {"ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "rawvideo",
                    "-pix_fmt", "rgb24", "-", NULL};
    verge_source *source = NULL;
    const verge_source_info *info;
    verge_frame frame;
    uint8_t *expected = malloc(768 * 576 * 3);
    int64_t count = 0;
    double previous_time = -1.0;
    int worst = 0, reference_frames = 0;
    verge_status status;
    pid_t pid = -1;
    int fd;

    check_data_path("video/vtest_10s.mp4", path);
    fd = spawn_reader(argv, &pid);
    CHECK(fd >= 0 && expected != NULL);

    CHECK_OK(verge_source_open(path, NULL, &source));
    if (source != NULL) {
        info = verge_source_get_info(source);
        CHECK_EQ_INT(info->kind, VERGE_SOURCE_VIDEO);
        CHECK(!info->is_still);
        CHECK_EQ_INT(info->width, 768);
        CHECK_EQ_INT(info->height, 576);
        CHECK_NEAR(info->fps, 10.0, 1e-9);
        CHECK_NEAR(info->duration, 10.0, 0.01);
        CHECK_EQ_INT(info->frame_count, 100);
        CHECK(strcmp(info->codec, "h264") == 0);

        while ((status = verge_source_read(source, &frame)) == VERGE_OK) {
            CHECK_EQ_INT(frame.index, count);
            CHECK_EQ_INT(frame.image.width, 768);
            CHECK_EQ_INT(frame.image.height, 576);
            CHECK_MSG(frame.time > previous_time, "frame %lld time %f after %f",
                      (long long)frame.index, frame.time, previous_time);
            CHECK_NEAR(frame.time, (double)frame.index / 10.0, 1e-6);
            previous_time = frame.time;
            if (fd >= 0 && expected != NULL && read_full(fd, expected, 768 * 576 * 3) ==
                                                   768 * 576 * 3) {
                image_difference difference = compare_to_packed(&frame.image, expected);

                if (difference.max > worst)
                    worst = difference.max;
                reference_frames++;
            }
            count++;
        }
        CHECK_STATUS(status, VERGE_STATUS_END_OF_STREAM);
        verge_source_close(source);
    }
    CHECK_EQ_INT(count, 100);
    CHECK_EQ_INT(reference_frames, 100);
    CHECK_MSG(worst == 0, "max difference %d to ffmpeg's RGB over all frames", worst);
    if (fd >= 0) {
        /* ffmpeg must have no frame left that the source did not deliver. */
        size_t extra = 0, got;

        while (expected != NULL && (got = read_full(fd, expected, 768 * 576 * 3)) > 0)
            extra += got;
        CHECK_EQ_INT(extra, 0);
        close(fd);
        CHECK_EQ_INT(wait_child(pid), 0);
    }
    free(expected);
}

/*
 * Phones store upright video sideways and record the turn in a display
 * matrix. Frames must come out as players and the ffmpeg command show them:
 * a 96x112 picture stored transposed (112x96) with rotate=90, 180 and 270.
 * 4:4:4 chroma makes turning and colour conversion commute, so the pixels
 * must equal ffmpeg's exactly.
 */
static void video_display_rotation(void)
{
    static const struct {
        const char *rotate;
        int width, height;
    } cases[] = {{"90", 96, 112}, {"180", 112, 96}, {"270", 96, 112}};
    char picture[1024], sideways[1024], turned[1024], metadata[32];
    char *encode[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-loop", "1", "-i", picture,
                      "-vf", "scale=96:112,transpose=1", "-frames:v", "3", "-r", "10", "-c:v",
                      "libx264", "-pix_fmt", "yuv444p", sideways, NULL};
    char *remux[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", sideways, "-c", "copy",
                     "-metadata:s:v", metadata, turned, NULL};

    check_data_path("images/grace_hopper.jpg", picture);
    test_path(sideways, sizeof(sideways), "sideways.mp4");
    test_path(turned, sizeof(turned), "turned.mp4");
    CHECK_EQ_INT(run_command(encode), 0);

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const int width = cases[i].width, height = cases[i].height;
        uint8_t *expected = malloc((size_t)width * height * 3);
        verge_source *source = NULL;
        verge_frame frame;
        int count = 0;

        snprintf(metadata, sizeof(metadata), "rotate=%s", cases[i].rotate);
        CHECK_EQ_INT(run_command(remux), 0);
        CHECK(expected != NULL);
        if (expected != NULL)
            CHECK(ffmpeg_decode_first(turned, width, height, expected) == 0);
        CHECK_OK(verge_source_open(turned, NULL, &source));
        if (source == NULL) {
            free(expected);
            continue;
        }
        CHECK_MSG(verge_source_get_info(source)->width == width &&
                      verge_source_get_info(source)->height == height,
                  "rotate=%s: info says %dx%d, expected %dx%d", cases[i].rotate,
                  verge_source_get_info(source)->width, verge_source_get_info(source)->height,
                  width, height);
        while (verge_source_read(source, &frame) == VERGE_OK) {
            CHECK_MSG(frame.image.width == width && frame.image.height == height,
                      "rotate=%s: frame %dx%d, expected %dx%d", cases[i].rotate,
                      frame.image.width, frame.image.height, width, height);
            if (count == 0 && expected != NULL && frame.image.width == width &&
                frame.image.height == height) {
                image_difference difference = compare_to_packed(&frame.image, expected);

                CHECK_MSG(difference.max == 0, "rotate=%s: max difference %d to ffmpeg's RGB",
                          cases[i].rotate, difference.max);
            }
            count++;
        }
        CHECK_EQ_INT(count, 3);
        verge_source_close(source);
        free(expected);
    }
}

/*
 * A file of JPEGs back to back (an MJPEG recording made by the ffmpeg
 * command) is probed, not forced to a format. FFmpeg reads it with an image
 * demuxer, yet it is a video of 5 frames at that demuxer's default 25 fps.
 * One JPEG alone stays a still image, also from memory.
 */
static void mjpeg_file_is_video(void)
{
    char picture[1024], recording[1024];
    char *encode[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-loop", "1", "-i", picture,
                      "-vf", "scale=64:80", "-frames:v", "5", "-f", "mjpeg", recording, NULL};
    verge_source *source = NULL;
    verge_frame frame;
    uint8_t *bytes;
    size_t size = 0;
    int count = 0;

    check_data_path("images/grace_hopper.jpg", picture);
    test_path(recording, sizeof(recording), "recording.mjpeg");
    CHECK_EQ_INT(run_command(encode), 0);

    CHECK_OK(verge_source_open(recording, NULL, &source));
    if (source != NULL) {
        CHECK_EQ_INT(verge_source_get_info(source)->kind, VERGE_SOURCE_VIDEO);
        CHECK(!verge_source_get_info(source)->is_still);
        CHECK_NEAR(verge_source_get_info(source)->fps, 25.0, 1e-9);
        while (verge_source_read(source, &frame) == VERGE_OK) {
            CHECK_EQ_INT(frame.index, count);
            CHECK_NEAR(frame.time, count * 0.04, 1e-9);
            count++;
        }
        verge_source_close(source);
    }
    CHECK_EQ_INT(count, 5);

    bytes = read_file(picture, &size);
    CHECK(bytes != NULL);
    CHECK_OK(verge_source_open_buffer(bytes, size, "photo", NULL, &source));
    if (source != NULL) {
        CHECK_EQ_INT(verge_source_get_info(source)->kind, VERGE_SOURCE_IMAGE);
        CHECK(verge_source_get_info(source)->is_still);
        CHECK_OK(verge_source_read(source, &frame));
        CHECK_STATUS(verge_source_read(source, &frame), VERGE_STATUS_END_OF_STREAM);
        verge_source_close(source);
    }
    free(bytes);
}

/* A GIF of one picture is a still image; an animated one is a video. */
static void gif_still_or_animated(void)
{
    char picture[1024], video[1024], still[1024], animated[1024];
    char *encode_still[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", picture,
                            "-vf", "scale=64:80", still, NULL};
    char *encode_animated[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", video, "-t",
                               "0.5", "-vf", "scale=64:48", animated, NULL};
    verge_source *source = NULL;
    verge_frame frame;
    int count = 0;

    check_data_path("images/grace_hopper.jpg", picture);
    check_data_path("video/vtest_10s.mp4", video);
    test_path(still, sizeof(still), "still.gif");
    test_path(animated, sizeof(animated), "animated.gif");
    CHECK_EQ_INT(run_command(encode_still), 0);
    CHECK_EQ_INT(run_command(encode_animated), 0);

    CHECK_OK(verge_source_open(still, NULL, &source));
    if (source != NULL) {
        CHECK_EQ_INT(verge_source_get_info(source)->kind, VERGE_SOURCE_IMAGE);
        CHECK(verge_source_get_info(source)->is_still);
        CHECK_OK(verge_source_read(source, &frame));
        CHECK_STATUS(verge_source_read(source, &frame), VERGE_STATUS_END_OF_STREAM);
        verge_source_close(source);
    }

    CHECK_OK(verge_source_open(animated, NULL, &source));
    if (source != NULL) {
        CHECK_EQ_INT(verge_source_get_info(source)->kind, VERGE_SOURCE_VIDEO);
        CHECK(!verge_source_get_info(source)->is_still);
        while (verge_source_read(source, &frame) == VERGE_OK)
            count++;
        verge_source_close(source);
    }
    CHECK_EQ_INT(count, 5);
}

/* Reads the video with `options` and stores the delivered indices; returns how many. */
static int read_indices(const verge_source_options *options, int64_t *indices, int capacity,
                        double *times)
{
    char path[1024];
    verge_source *source = NULL;
    verge_frame frame;
    int count = 0;

    check_data_path("video/vtest_10s.mp4", path);
    CHECK_OK(verge_source_open(path, options, &source));
    if (source == NULL)
        return 0;
    while (verge_source_read(source, &frame) == VERGE_OK) {
        if (count < capacity) {
            indices[count] = frame.index;
            times[count] = frame.time;
        }
        count++;
    }
    CHECK_STATUS(verge_source_read(source, &frame), VERGE_STATUS_END_OF_STREAM);
    verge_source_close(source);
    return count;
}

static void video_every_and_max_frames(void)
{
    verge_source_options options;
    int64_t indices[128];
    double times[128];
    int count, i;

    verge_source_options_init(&options);
    options.every = 3;
    count = read_indices(&options, indices, 128, times);
    CHECK_EQ_INT(count, 34);  /* frames 0, 3, ..., 99 */
    for (i = 0; i < count && i < 128; i++) {
        CHECK_EQ_INT(indices[i], 3 * i);
        CHECK_NEAR(times[i], 0.3 * i, 1e-6);
    }

    verge_source_options_init(&options);
    options.max_frames = 7;
    count = read_indices(&options, indices, 128, times);
    CHECK_EQ_INT(count, 7);
    CHECK_EQ_INT(indices[6], 6);

    verge_source_options_init(&options);
    options.every = 4;
    options.max_frames = 5;
    count = read_indices(&options, indices, 128, times);
    CHECK_EQ_INT(count, 5);
    CHECK_EQ_INT(indices[4], 16);
    CHECK_NEAR(times[4], 1.6, 1e-6);

    verge_source_options_init(&options);
    options.every = 1000;
    count = read_indices(&options, indices, 128, times);
    CHECK_EQ_INT(count, 1);
    CHECK_EQ_INT(indices[0], 0);
}

/*
 * Runs argv with its stdout connected to this process's standard input,
 * reads source "-" to the end and restores standard input. Returns the
 * number of frames, or -1 when the source failed to open.
 */
static int read_stdin_from(char *const argv[], verge_source_kind *kind, verge_status *end)
{
    int saved = dup(0);
    pid_t pid;
    int fd = spawn_reader(argv, &pid);
    verge_source *source = NULL;
    verge_frame frame;
    int count = -1;

    CHECK(saved >= 0 && fd >= 0);
    if (saved < 0 || fd < 0)
        return -1;
    dup2(fd, 0);
    close(fd);

    *end = verge_source_open("-", NULL, &source);
    if (source != NULL) {
        *kind = verge_source_get_info(source)->kind;
        count = 0;
        while ((*end = verge_source_read(source, &frame)) == VERGE_OK)
            count++;
        verge_source_close(source);
    }

    dup2(saved, 0);
    close(saved);
    kill(pid, SIGTERM);  /* the child may still be writing when the source failed */
    wait_child(pid);
    return count;
}

static void video_from_stdin(void)
{
    char video[1024], jpeg[1024];
    char *mpegts[] = {"ffmpeg", "-nostdin", "-v", "error", "-i", video, "-c", "copy", "-f",
                      "mpegts", "-", NULL};
    char *image[] = {"cat", jpeg, NULL};
    char *mp4_index_at_end[] = {"cat", video, NULL};
    verge_source_kind kind = VERGE_SOURCE_IMAGE;
    verge_status end = VERGE_OK;
    int count;

    check_data_path("video/vtest_10s.mp4", video);
    check_data_path("images/grace_hopper.jpg", jpeg);

    count = read_stdin_from(mpegts, &kind, &end);
    CHECK_EQ_INT(count, 100);
    CHECK_EQ_INT(kind, VERGE_SOURCE_VIDEO);
    CHECK_STATUS(end, VERGE_STATUS_END_OF_STREAM);

    count = read_stdin_from(image, &kind, &end);
    CHECK_EQ_INT(count, 1);
    CHECK_EQ_INT(kind, VERGE_SOURCE_IMAGE);  /* one picture on a pipe is a still image */
    CHECK_STATUS(end, VERGE_STATUS_END_OF_STREAM);

    /*
     * This MP4 keeps its index (moov) after the frames, which a pipe cannot
     * seek back to: the source must fail or end cleanly, never crash.
     */
    count = read_stdin_from(mp4_index_at_end, &kind, &end);
    CHECK_MSG(count < 100, "read %d frames from an unseekable MP4", count);
    CHECK(end != VERGE_OK);
}

/*
 * Frames change size mid-stream: photos of three sizes joined into one MJPEG
 * stream, and two H.264 segments of different sizes joined into one MPEG-TS
 * file. Each frame must come out at its own size with its own pixels.
 */
static void size_changes_mid_stream(void)
{
    static const char *const photo_names[] = {"images/grace_hopper.jpg", "images/car1.jpg",
                                              "images/grace_hopper.jpg"};
    static const int photo_sizes[][2] = {{512, 600}, {1024, 680}, {512, 600}};
    char video[1024], joined[1024], part_a[1024], part_b[1024], path[1024];
    char *segment_a[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", video, "-t", "1",
                         "-vf", "scale=320:240", "-c:v", "libx264", "-f", "mpegts", part_a, NULL};
    char *segment_b[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", video, "-t", "1",
                         "-vf", "scale=161:97", "-c:v", "libx264", "-pix_fmt", "yuv444p", "-f",
                         "mpegts", part_b, NULL};
    verge_source_options options;
    verge_source *source = NULL;
    verge_frame frame;
    FILE *out;
    size_t i;
    int count = 0, small = 0, large = 0, order_errors = 0;

    /* MJPEG: JPEG files back to back, read with the "mjpeg" input format. */
    test_path(joined, sizeof(joined), "joined.mjpeg");
    out = fopen(joined, "wb");
    CHECK(out != NULL);
    if (out == NULL)
        return;
    for (i = 0; i < ARRAY_SIZE(photo_names); i++) {
        size_t size = 0;
        uint8_t *data;

        check_data_path(photo_names[i], path);
        data = read_file(path, &size);
        CHECK(data != NULL && fwrite(data, 1, size, out) == size);
        free(data);
    }
    CHECK(fclose(out) == 0);

    verge_source_options_init(&options);
    options.format = "mjpeg";
    CHECK_OK(verge_source_open(joined, &options, &source));
    while (source != NULL && verge_source_read(source, &frame) == VERGE_OK) {
        if (count < 3) {
            uint8_t *expected = malloc((size_t)photo_sizes[count][0] * photo_sizes[count][1] * 3);

            CHECK_EQ_INT(frame.image.width, photo_sizes[count][0]);
            CHECK_EQ_INT(frame.image.height, photo_sizes[count][1]);
            check_data_path(photo_names[count], path);
            if (expected != NULL && frame.image.width == photo_sizes[count][0] &&
                frame.image.height == photo_sizes[count][1] &&
                ffmpeg_decode_first(path, photo_sizes[count][0], photo_sizes[count][1],
                                    expected) == 0)
                CHECK_EQ_INT(compare_to_packed(&frame.image, expected).max, 0);
            free(expected);
        }
        count++;
    }
    verge_source_close(source);
    CHECK_EQ_INT(count, 3);

    /*
     * H.264 in MPEG-TS: 10 frames of 4:2:0 at 320x240, then 10 of 4:4:4 at an
     * odd 161x97 (libx264 needs even sizes for 4:2:0).
     */
    check_data_path("video/vtest_10s.mp4", video);
    test_path(part_a, sizeof(part_a), "a.ts");
    test_path(part_b, sizeof(part_b), "b.ts");
    CHECK_EQ_INT(run_command(segment_a), 0);
    CHECK_EQ_INT(run_command(segment_b), 0);
    test_path(joined, sizeof(joined), "joined.ts");
    out = fopen(joined, "wb");
    CHECK(out != NULL);
    if (out == NULL)
        return;
    for (i = 0; i < 2; i++) {
        size_t size = 0;
        uint8_t *data = read_file(i == 0 ? part_a : part_b, &size);

        CHECK(data != NULL && fwrite(data, 1, size, out) == size);
        free(data);
    }
    CHECK(fclose(out) == 0);

    source = NULL;
    count = 0;
    CHECK_OK(verge_source_open(joined, NULL, &source));
    while (source != NULL && verge_source_read(source, &frame) == VERGE_OK) {
        bool is_large = frame.image.width == 320 && frame.image.height == 240;
        bool is_small = frame.image.width == 161 && frame.image.height == 97;

        CHECK_MSG(is_large || is_small, "frame %d is %dx%d", count, frame.image.width,
                  frame.image.height);
        large += is_large;
        small += is_small;
        order_errors += is_large && small > 0;
        count++;
    }
    verge_source_close(source);
    CHECK_EQ_INT(large, 10);
    CHECK_EQ_INT(small, 10);
    CHECK_EQ_INT(order_errors, 0);
}

/* Serves `data` once as an HTTP/1.0 response on a listening socket, in a child process. */
static pid_t serve_http_once(int listener, const uint8_t *data, size_t size)
{
    pid_t pid = fork();

    if (pid == 0) {
        char header[256], request[4096];
        int client = accept(listener, NULL, NULL);
        int header_length = snprintf(header, sizeof(header),
                                     "HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\n"
                                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                     size);
        size_t sent = 0;

        if (client < 0)
            _exit(1);
        if (read(client, request, sizeof(request)) <= 0)
            _exit(1);
        if (write(client, header, (size_t)header_length) != (ssize_t)header_length)
            _exit(1);
        while (sent < size) {
            ssize_t n = write(client, data + sent, size - sent);

            if (n <= 0)
                _exit(1);
            sent += (size_t)n;
        }
        close(client);
        _exit(0);
    }
    return pid;
}

static int listen_local(int *port)
{
    struct sockaddr_in address;
    socklen_t length = sizeof(address);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(address.sin_port);
    return fd;
}

static void network_http_stream(void)
{
    char video[1024], ts[1024], url[128];
    char *to_ts[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", video, "-c", "copy", ts,
                     NULL};
    verge_source *source = NULL;
    verge_frame frame;
    uint8_t *data;
    size_t size = 0;
    int port = 0, listener, count = 0;
    pid_t server;

    check_data_path("video/vtest_10s.mp4", video);
    test_path(ts, sizeof(ts), "stream.ts");
    CHECK_EQ_INT(run_command(to_ts), 0);
    data = read_file(ts, &size);
    listener = listen_local(&port);
    CHECK(data != NULL && listener >= 0);
    if (data == NULL || listener < 0) {
        free(data);
        return;
    }

    server = serve_http_once(listener, data, size);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/stream.ts", port);
    CHECK_OK(verge_source_open(url, NULL, &source));
    if (source != NULL) {
        CHECK_EQ_INT(verge_source_get_info(source)->kind, VERGE_SOURCE_NETWORK);
        CHECK_NEAR(verge_source_get_info(source)->fps, 10.0, 1e-6);
        /* The MPEG-TS timestamps do not start at 0; frame times count from the stream's start. */
        while (verge_source_read(source, &frame) == VERGE_OK) {
            CHECK_NEAR(frame.time, count / 10.0, 1e-6);
            count++;
        }
        verge_source_close(source);
    }
    CHECK_EQ_INT(count, 100);
    kill(server, SIGTERM);
    wait_child(server);
    close(listener);
    free(data);
}

/*
 * A real RTSP session: the ffmpeg command publishes 2 s of the test video
 * (20 frames), encoded to H.264 without B-frames so that the RTP times are
 * those of the frames, over RTSP with RTP on TCP. The source receives it
 * through FFmpeg's RTSP input in listen mode (rtsp_flags=listen, given as an
 * input option). Cameras are RTSP servers instead, but the depacketising and
 * decoding are the same.
 */
static void rtsp_stream_received(void)
{
    char video[1024], script[2048], url[128];
    verge_source_options options;
    verge_source *source = NULL;
    verge_frame frame;
    int port = 0, count = 0, listener;
    pid_t publisher;

    check_data_path("video/vtest_10s.mp4", video);
    /* A free port: the kernel picks one, and the source binds it again. */
    listener = listen_local(&port);
    CHECK(listener >= 0);
    if (listener < 0)
        return;
    close(listener);
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/live", port);
    /* The publisher retries until the source listens. */
    snprintf(script, sizeof(script),
             "for i in $(seq 100); do ffmpeg -nostdin -hide_banner -loglevel error -i '%s' "
             "-t 2 -an -c:v libx264 -preset ultrafast -bf 0 -f rtsp -rtsp_transport tcp '%s' "
             "&& exit 0; sleep 0.1; done; exit 1",
             video, url);
    publisher = fork();
    if (publisher == 0) {
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    CHECK(publisher > 0);
    if (publisher <= 0)
        return;

    verge_source_options_init(&options);
    options.input_options = "rtsp_flags=listen:rtsp_transport=tcp";
    options.timeout = 30;
    CHECK_OK(verge_source_open(url, &options, &source));
    if (source != NULL) {
        CHECK_EQ_INT(verge_source_get_info(source)->kind, VERGE_SOURCE_NETWORK);
        while (verge_source_read(source, &frame) == VERGE_OK) {
            CHECK_EQ_INT(frame.image.width, 768);
            CHECK_EQ_INT(frame.image.height, 576);
            /*
             * The ffmpeg command reads this stream with the same times: the
             * first two frames share time 0, then 0.1 s apart (0, 0, 0.1, ... 1.8).
             */
            CHECK_NEAR(frame.time, count == 0 ? 0.0 : (count - 1) * 0.1, 1e-6);
            count++;
        }
        verge_source_close(source);
    }
    CHECK_EQ_INT(count, 20);
    CHECK_EQ_INT(wait_child(publisher), 0);
}

static void network_refused_and_timeout(void)
{
    verge_source_options options;
    verge_source *source = NULL;
    char url[128];
    double start, elapsed;
    int port = 0, listener;

    /* Nothing listens on port 1: the connection is refused at once. */
    start = seconds_now();
    CHECK_STATUS(verge_source_open("rtsp://127.0.0.1:1/x", NULL, &source), VERGE_STATUS_IO_ERROR);
    elapsed = seconds_now() - start;
    CHECK(source == NULL);
    CHECK_MSG(strstr(verge_error_message(), "rtsp://127.0.0.1:1/x") != NULL,
              "message without the URL: %s", verge_error_message());
    CHECK_MSG(elapsed < 20.0, "refused connection took %.1f s", elapsed);

    /* A server that accepts connections (in the kernel backlog) and never answers. */
    listener = listen_local(&port);
    CHECK(listener >= 0);
    if (listener < 0)
        return;
    verge_source_options_init(&options);
    options.timeout = 1.0;
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/silent", port);
    start = seconds_now();
    CHECK_STATUS(verge_source_open(url, &options, &source), VERGE_STATUS_IO_ERROR);
    elapsed = seconds_now() - start;
    CHECK_MSG(strstr(verge_error_message(), "timed out") != NULL, "message: %s",
              verge_error_message());
    CHECK_MSG(elapsed >= 0.9 && elapsed < 20.0, "1 s timeout took %.2f s", elapsed);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/silent", port);
    start = seconds_now();
    CHECK_STATUS(verge_source_open(url, &options, &source), VERGE_STATUS_IO_ERROR);
    elapsed = seconds_now() - start;
    CHECK_MSG(strstr(verge_error_message(), "timed out") != NULL, "message: %s",
              verge_error_message());
    CHECK_MSG(elapsed >= 0.9 && elapsed < 20.0, "1 s timeout took %.2f s", elapsed);
    close(listener);
}

static void camera_missing(void)
{
    verge_source *source = NULL;
    struct stat info;
    verge_status status;

    if (stat("/dev/video0", &info) == 0) {
        printf("camera_missing: /dev/video0 exists here, skipped\n");
        return;
    }
    status = verge_source_open("/dev/video0", NULL, &source);
    CHECK_MSG(status == VERGE_STATUS_NOT_FOUND, "status %d: %s", status, verge_error_message());
    CHECK(source == NULL);
    CHECK_MSG(strstr(verge_error_message(), "/dev/video0") != NULL &&
                  strstr(verge_error_message(), "camera") != NULL,
              "message: %s", verge_error_message());
    printf("  /dev/video0: %s\n", verge_error_message());

    /* Any character device goes to the v4l2 input, which rejects one that is not a camera. */
    if (stat("/dev/null", &info) == 0 && S_ISCHR(info.st_mode)) {
        status = verge_source_open("/dev/null", NULL, &source);
        CHECK_MSG(status == VERGE_STATUS_IO_ERROR, "status %d: %s", status, verge_error_message());
        CHECK_MSG(strstr(verge_error_message(), "/dev/null: cannot open camera") != NULL,
                  "message: %s", verge_error_message());
    }
}

/* Names with '%' or glob characters are file names, not image sequence patterns. */
static void literal_file_names(void)
{
    static const struct {
        const char *original;
        const char *copy;
        int width;
    } files[] = {
        {"images/coffee.png", "cup 100%.png", 600},
        {"images/coffee.png", "frame%03d.png", 600},
        {"images/coffee.png", "shot*.png", 600},
        {"images/grace_hopper.jpg", "a%d.jpg", 512},
    };
    char original[1024], path[1024];
    size_t i;

    for (i = 0; i < ARRAY_SIZE(files); i++) {
        verge_source *source = NULL;
        verge_frame frame;
        size_t size = 0;
        uint8_t *data;

        check_data_path(files[i].original, original);
        data = read_file(original, &size);
        CHECK(data != NULL);
        if (data == NULL)
            continue;
        test_path(path, sizeof(path), files[i].copy);
        CHECK(write_file(path, data, size) == 0);
        CHECK_OK(verge_source_open(path, NULL, &source));
        if (source != NULL) {
            CHECK_OK(verge_source_read(source, &frame));
            CHECK_EQ_INT(frame.image.width, files[i].width);
            verge_source_close(source);
        }
        free(data);
    }
}

static void missing_empty_and_directory(void)
{
    char path[1024];
    verge_source *source = NULL;
    const char *empty_names[] = {"empty.jpg", "empty.png", "empty.mp4", "empty"};
    size_t i;

    CHECK_STATUS(verge_source_open("/nonexistent/verge/photo.jpg", NULL, &source),
                 VERGE_STATUS_NOT_FOUND);
    CHECK(strstr(verge_error_message(), "/nonexistent/verge/photo.jpg") != NULL);
    CHECK(source == NULL);

    CHECK_STATUS(verge_source_open(test_dir, NULL, &source), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "directory") != NULL);

    for (i = 0; i < ARRAY_SIZE(empty_names); i++) {
        verge_status status;
        verge_frame frame;

        test_path(path, sizeof(path), empty_names[i]);
        CHECK(write_file(path, "", 0) == 0);
        status = verge_source_open(path, NULL, &source);
        if (status == VERGE_OK) {
            status = verge_source_read(source, &frame);
            verge_source_close(source);
            source = NULL;
        }
        CHECK_MSG(status == VERGE_STATUS_INVALID_DATA, "%s: status %d: %s", empty_names[i],
                  status, verge_error_message());
        CHECK_MSG(strstr(verge_error_message(), path) != NULL, "message: %s",
                  verge_error_message());
        CHECK_MSG(strstr(verge_error_message(), "empty") != NULL, "message: %s",
                  verge_error_message());
    }

    CHECK_STATUS(verge_source_open(NULL, NULL, &source), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_source_open("", NULL, &source), VERGE_STATUS_INVALID_ARGUMENT);
}

/*
 * Opens and reads `path` to the end. Returns the status that ended it
 * (END_OF_STREAM or an error) and stores the frame count.
 */
static verge_status read_to_end(const char *path, int *frames)
{
    verge_source *source = NULL;
    verge_frame frame;
    verge_status status;

    *frames = 0;
    status = verge_source_open(path, NULL, &source);
    if (status != VERGE_OK)
        return status;
    while ((status = verge_source_read(source, &frame)) == VERGE_OK) {
        /* Touch every pixel so that a short buffer shows up under AddressSanitizer. */
        volatile unsigned sum = 0;
        int y;

        for (y = 0; y < frame.image.height; y++)
            sum += frame.image.data[(size_t)y * frame.image.stride + (size_t)frame.image.width * 3 - 1];
        (void)sum;
        (*frames)++;
    }
    verge_source_close(source);
    return status;
}

/*
 * A picture above max_pixels fails before it is decoded, whether the size is
 * known at open (JPEG header) or only from decoding (PNG read by a probe).
 */
static void pixel_limit(void)
{
    static const char *const names[] = {"images/grace_hopper.jpg", "images/coffee.png",
                                        "video/vtest_10s.mp4"};

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        verge_source_options options;
        verge_source *source = NULL;
        verge_frame frame;
        verge_status status;
        char path[1024];

        check_data_path(names[i], path);
        verge_source_options_init(&options);
        options.max_pixels = 1000;
        status = verge_source_open(path, &options, &source);
        if (status == VERGE_OK) {
            status = verge_source_read(source, &frame);
            verge_source_close(source);
        }
        CHECK_MSG(status == VERGE_STATUS_OUT_OF_MEMORY || status == VERGE_STATUS_INVALID_DATA,
                  "%s: status %d", names[i], status);
        CHECK_MSG(strstr(verge_error_message(), "1000") != NULL, "%s: %s", names[i],
                  verge_error_message());

        /* The default limit takes every real picture here. */
        CHECK(verge_source_open(path, NULL, &source) == VERGE_OK);
        CHECK(verge_source_read(source, &frame) == VERGE_OK);
        verge_source_close(source);
    }
}

/* Cuts a real file at several offsets and checks each piece fails cleanly or decodes. */
static void truncated_files(void)
{
    static const struct {
        const char *name;
        const char *extension;
    } originals[] = {
        {"images/grace_hopper.jpg", "jpg"},
        {"images/coffee.png", "png"},
        {"video/vtest_10s.mp4", "mp4"},
    };
    static const double fractions[] = {0.0005, 0.01, 0.1, 0.5, 0.9, 0.999};
    size_t i, j;

    for (i = 0; i < ARRAY_SIZE(originals); i++) {
        char source_path[1024], cut_path[1024], name[64];
        size_t size = 0;
        uint8_t *data;

        check_data_path(originals[i].name, source_path);
        data = read_file(source_path, &size);
        CHECK(data != NULL);
        if (data == NULL)
            continue;

        for (j = 0; j < ARRAY_SIZE(fractions); j++) {
            size_t cut = (size_t)((double)size * fractions[j]);
            verge_status status;
            int frames;

            snprintf(name, sizeof(name), "cut_%zu.%s", cut, originals[i].extension);
            test_path(cut_path, sizeof(cut_path), name);
            CHECK(write_file(cut_path, data, cut) == 0);

            status = read_to_end(cut_path, &frames);
            if (status != VERGE_STATUS_END_OF_STREAM) {
                CHECK_MSG(status == VERGE_STATUS_INVALID_DATA, "%s: status %d: %s", name, status,
                          verge_error_message());
                CHECK_MSG(strstr(verge_error_message(), cut_path) != NULL, "message: %s",
                          verge_error_message());
            }
            /*
             * The first few bytes of a file hold no picture at all, and a cut
             * image is damaged rather than a picture with a grey part.
             */
            if (fractions[j] < 0.005 || strcmp(originals[i].extension, "mp4") != 0)
                CHECK_MSG(status == VERGE_STATUS_INVALID_DATA, "%s: %d frames, status %d", name,
                          frames, status);
            printf("  %s (%zu of %zu bytes): %d frames, %s%s%s\n", name, cut, size, frames,
                   verge_status_str(status), status == VERGE_STATUS_END_OF_STREAM ? "" : ": ",
                   status == VERGE_STATUS_END_OF_STREAM ? "" : verge_error_message());
        }
        free(data);
    }
}

/* Counts the frames ffprobe decodes from `path`; returns 0 for "N/A" and -1 on failure. */
static int ffprobe_count_frames(const char *path)
{
    char *argv[] = {"ffprobe", "-v", "quiet", "-count_frames", "-select_streams", "v:0",
                    "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", (char *)path, NULL};
    char text[64] = "";
    pid_t pid;
    int fd = spawn_reader(argv, &pid);
    size_t got;

    if (fd < 0)
        return -1;
    got = read_full(fd, (uint8_t *)text, sizeof(text) - 1);
    close(fd);
    if (wait_child(pid) != 0)
        return -1;
    text[got] = '\0';
    return strncmp(text, "N/A", 3) == 0 ? 0 : atoi(text);
}

/*
 * With the index (moov) moved to the front, a cut MP4 still opens: the
 * source must deliver as many frames as ffprobe decodes from the same bytes,
 * and fail with INVALID_DATA when not even the first frame is complete.
 */
static void truncated_faststart_mp4(void)
{
    static const double fractions[] = {0.05, 0.3, 0.6, 0.95};
    char video[1024], faststart[1024], cut_path[1024], name[64];
    char *remux[] = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", video, "-c", "copy",
                     "-movflags", "+faststart", faststart, NULL};
    uint8_t *data;
    size_t size = 0, j;
    int previous = -1;

    check_data_path("video/vtest_10s.mp4", video);
    test_path(faststart, sizeof(faststart), "faststart.mp4");
    CHECK_EQ_INT(run_command(remux), 0);
    data = read_file(faststart, &size);
    CHECK(data != NULL);
    if (data == NULL)
        return;

    for (j = 0; j < ARRAY_SIZE(fractions); j++) {
        size_t cut = (size_t)((double)size * fractions[j]);
        verge_status status;
        int frames, expected;

        snprintf(name, sizeof(name), "faststart_%zu.mp4", cut);
        test_path(cut_path, sizeof(cut_path), name);
        CHECK(write_file(cut_path, data, cut) == 0);
        expected = ffprobe_count_frames(cut_path);
        status = read_to_end(cut_path, &frames);
        CHECK_MSG(frames == expected, "%s: %d frames, ffprobe decodes %d", name, frames,
                  expected);
        CHECK_MSG(frames > previous && frames < 100, "%s: %d frames after %d", name, frames,
                  previous);
        if (frames > 0)
            CHECK_MSG(status == VERGE_STATUS_END_OF_STREAM, "%s: status %d: %s", name, status,
                      verge_error_message());
        else
            CHECK_MSG(status == VERGE_STATUS_INVALID_DATA &&
                          strstr(verge_error_message(), "no frame decoded") != NULL,
                      "%s: status %d: %s", name, status, verge_error_message());
        printf("  %s (%zu of %zu bytes): %d frames, ffprobe %d\n", name, cut, size, frames,
               expected);
        previous = frames;
    }
    free(data);
}

static void random_bytes(void)
{
    const char *names[] = {"noise.jpg", "noise.png", "noise.mp4", "noise.bmp"};
    uint8_t bytes[4096];
    uint32_t state = 12345;
    size_t i, k;

    for (i = 0; i < ARRAY_SIZE(names); i++) {
        char path[1024];
        verge_status status;
        int frames;

        for (k = 0; k < sizeof(bytes); k++) {
            state = state * 1664525u + 1013904223u;
            bytes[k] = (uint8_t)(state >> 24);
        }
        test_path(path, sizeof(path), names[i]);
        CHECK(write_file(path, bytes, sizeof(bytes)) == 0);
        status = read_to_end(path, &frames);
        CHECK_MSG(status == VERGE_STATUS_INVALID_DATA, "%s: status %d, %d frames: %s", names[i],
                  status, frames, verge_error_message());
        CHECK_MSG(strstr(verge_error_message(), path) != NULL, "message: %s",
                  verge_error_message());
    }
}

/* A JPEG header followed by noise: the error names the file and says decoding failed. */
static void damaged_jpeg_message(void)
{
    char original[1024], path[1024];
    size_t size = 0, k;
    uint8_t *data;
    int frames;

    check_data_path("images/grace_hopper.jpg", original);
    data = read_file(original, &size);
    CHECK(data != NULL && size > 2000);
    if (data == NULL)
        return;
    for (k = 600; k < size; k++)
        data[k] = (uint8_t)(k * 2654435761u >> 13);
    test_path(path, sizeof(path), "broken.jpg");
    CHECK(write_file(path, data, size) == 0);

    logged_ffmpeg_lines = 0;
    verge_status status = read_to_end(path, &frames);
    if (status == VERGE_STATUS_INVALID_DATA)
        CHECK_MSG(strstr(verge_error_message(), "broken.jpg: cannot decode image") != NULL,
                  "message: %s", verge_error_message());
    else
        CHECK_MSG(status == VERGE_STATUS_END_OF_STREAM && frames == 1,
                  "status %d frames %d", status, frames);
    printf("  broken.jpg: %s\n", status == VERGE_STATUS_INVALID_DATA ? verge_error_message()
                                                                     : "decoded with damage");
    /* FFmpeg complains about the damage, and its lines arrive through verge_log. */
    CHECK(logged_ffmpeg_lines > 0);
    free(data);
}

/* Nothing reaches stderr directly: FFmpeg's lines go to the callback. */
static void log_lines_through_callback(void)
{
    char path[1024], noise[1024];
    int saved, capture, frames;
    size_t size = 1;
    uint8_t *captured;

    test_path(path, sizeof(path), "stderr.txt");
    test_path(noise, sizeof(noise), "noise.jpg");
    fflush(stderr);
    saved = dup(2);
    capture = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(saved >= 0 && capture >= 0);
    if (saved < 0 || capture < 0)
        return;
    dup2(capture, 2);
    close(capture);

    logged_ffmpeg_lines = 0;
    (void)read_to_end(noise, &frames);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    captured = read_file(path, &size);
    CHECK(captured != NULL);
    CHECK_EQ_INT(size, 0);
    CHECK(logged_ffmpeg_lines > 0);
    free(captured);
}

static void bad_arguments(void)
{
    verge_source_options options;
    verge_source *source = NULL;
    char path[1024];

    check_data_path("images/coffee.png", path);
    verge_source_options_init(&options);
    options.max_frames = -1;
    CHECK_STATUS(verge_source_open(path, &options, &source), VERGE_STATUS_INVALID_ARGUMENT);

    verge_source_options_init(&options);
    options.format = "no-such-format";
    CHECK_STATUS(verge_source_open(path, &options, &source), VERGE_STATUS_UNSUPPORTED);
    CHECK(strstr(verge_error_message(), "no-such-format") != NULL);

    verge_source_options_init(&options);
    options.input_options = "novalue";
    CHECK_STATUS(verge_source_open(path, &options, &source), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(source == NULL);
}

/* FFmpeg's error-level lines that reached the log callback, one after another. */
static char logged_errors[4096];

static void keep_error_line(verge_log_level level, const char *message, void *user)
{
    size_t used = strlen(logged_errors);

    (void)user;
    if (level == VERGE_LOG_ERROR && strncmp(message, "ffmpeg: ", 8) == 0)
        snprintf(logged_errors + used, sizeof(logged_errors) - used, "%s\n", message + 8);
}

/*
 * FFmpeg's error line about a file that is not a picture is the detail of
 * verge's message ("... (mjpeg: No JPEG data found in image)"), so it is not
 * logged as well, although FFmpeg writes it both while probing and while
 * decoding.
 */
static void error_detail_not_logged_twice(void)
{
    static const char text[] = "this is not a picture";
    char path[1024], detail[512];
    const char *open_paren, *close_paren;
    verge_status status;
    int frames;

    test_path(path, sizeof(path), "not_a_picture.jpg");
    CHECK_EQ_INT(write_file(path, text, sizeof(text) - 1), 0);
    logged_errors[0] = '\0';
    verge_log_set_callback(keep_error_line, NULL, VERGE_LOG_WARNING);
    status = read_to_end(path, &frames);
    verge_log_set_callback(count_log_line, NULL, VERGE_LOG_WARNING);

    CHECK(status != VERGE_OK);
    open_paren = strrchr(verge_error_message(), '(');
    close_paren = strrchr(verge_error_message(), ')');
    CHECK_MSG(open_paren != NULL && close_paren > open_paren, "message: %s",
              verge_error_message());
    if (open_paren == NULL || close_paren == NULL || close_paren <= open_paren)
        return;
    snprintf(detail, sizeof(detail), "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
    CHECK_MSG(strstr(detail, "mjpeg") != NULL, "detail: %s", detail);
    CHECK_MSG(strstr(logged_errors, detail) == NULL, "'%s' was logged too:\n%s", detail,
              logged_errors);
}

/* Passwords of network URIs are kept out of messages; other text stays as given. */
static void uri_password_redacted(void)
{
    static const struct {
        const char *uri;
        const char *shown;
    } cases[] = {
        {"rtsp://cam:secret@10.0.0.5/live", "rtsp://cam:***@10.0.0.5/live"},
        {"http://u:p@ss@host:8080/x.mp4", "http://u:***@host:8080/x.mp4"},
        {"http://u:@host/", "http://u:***@host/"},
        {"rtsp://cam@10.0.0.5/live", "rtsp://cam@10.0.0.5/live"},
        {"http://host/x?user=a:b@c", "http://host/x?user=a:b@c"},
        {"/videos/a:b@c.mp4", "/videos/a:b@c.mp4"},
        {"file:a:b@c.mp4", "file:a:b@c.mp4"},
        {"-", "-"},
    };
    char shown[128], cut[12];
    verge_source *source = NULL;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        verge_uri_redact(cases[i].uri, shown, sizeof(shown));
        CHECK_MSG(strcmp(shown, cases[i].shown) == 0, "%s gave %s", cases[i].uri, shown);
    }
    verge_uri_redact("rtsp://cam:secret@10.0.0.5/live", cut, sizeof(cut));
    CHECK_MSG(strcmp(cut, "rtsp://cam:") == 0, "cut to %s", cut);

    /* Nothing listens on port 1 here: the connection is refused, and the message names the URI. */
    CHECK(verge_source_open("http://user:s3cret@127.0.0.1:1/clip.mp4", NULL, &source) != VERGE_OK);
    CHECK(source == NULL);
    CHECK_MSG(strstr(verge_error_message(), "http://user:***@127.0.0.1:1/clip.mp4") != NULL,
              "message: %s", verge_error_message());
    CHECK_MSG(strstr(verge_error_message(), "s3cret") == NULL, "message: %s",
              verge_error_message());
}

int main(void)
{
    char probe[1024];

    check_data_path("images", probe);  /* exits before creating anything when unset */
    test_dir_create();
    /* Count the library's log lines instead of printing them. */
    verge_log_set_callback(count_log_line, NULL, VERGE_LOG_WARNING);

    RUN(photos_decode_like_ffmpeg);
    RUN(photos_pixel_facts);
    RUN(bmp_from_ffmpeg);
    RUN(video_all_frames);
    RUN(video_display_rotation);
    RUN(mjpeg_file_is_video);
    RUN(gif_still_or_animated);
    RUN(video_every_and_max_frames);
    RUN(video_from_stdin);
    RUN(size_changes_mid_stream);
    RUN(network_http_stream);
    RUN(rtsp_stream_received);
    RUN(network_refused_and_timeout);
    RUN(pixel_limit);
    RUN(camera_missing);
    RUN(literal_file_names);
    RUN(missing_empty_and_directory);
    RUN(truncated_files);
    RUN(truncated_faststart_mp4);
    RUN(random_bytes);
    RUN(damaged_jpeg_message);
    RUN(log_lines_through_callback);
    RUN(error_detail_not_logged_twice);
    RUN(uri_password_redacted);
    RUN(bad_arguments);

    verge_log_set_callback(NULL, NULL, VERGE_LOG_WARNING);
    test_dir_remove();
    return check_summary();
}
