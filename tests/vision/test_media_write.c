/*
 * Writer tests: images and videos written by verge, read back by the
 * verge source and checked with ffprobe, which parses the files on its own.
 */
#include <sys/resource.h>

#include "check.h"
#include "media_test_util.h"
#include "verge/media.h"
#include "vision/media_internal.h"

static int logged_lines;

static void count_log_line(verge_log_level level, const char *message, void *user)
{
    (void)level;
    (void)user;
    logged_lines++;
    printf("  logged in %s: %s\n", check_current, message);
}

/* Decodes the first frame of `path` into a new image; returns VERGE_OK or the failure. */
static verge_status load_image(const char *path, verge_image *image)
{
    verge_source *source = NULL;
    verge_frame frame;
    verge_status status;
    int y;

    memset(image, 0, sizeof(*image));
    status = verge_source_open(path, NULL, &source);
    if (status != VERGE_OK)
        return status;
    status = verge_source_read(source, &frame);
    if (status == VERGE_OK)
        status = verge_image_create(frame.image.width, frame.image.height, image);
    if (status == VERGE_OK)
        for (y = 0; y < frame.image.height; y++)
            memcpy(image->data + (size_t)y * image->stride,
                   frame.image.data + (size_t)y * frame.image.stride,
                   (size_t)frame.image.width * 3);
    verge_source_close(source);
    return status;
}

/* A test card with smooth gradients, sharp edges and every channel in use. */
static void fill_pattern(verge_image *image, int shift)
{
    int x, y;

    for (y = 0; y < image->height; y++)
        for (x = 0; x < image->width; x++) {
            uint8_t *p = image->data + (size_t)y * image->stride + (size_t)x * 3;
            int in_square = ((x + shift) / 16 + y / 16) % 2;

            p[0] = (uint8_t)(x * 255 / (image->width > 1 ? image->width - 1 : 1));
            p[1] = (uint8_t)(y * 255 / (image->height > 1 ? image->height - 1 : 1));
            p[2] = in_square ? 200 : 40;
        }
}

static void fill_noise(verge_image *image, uint32_t seed)
{
    uint32_t state = seed * 2654435761u + 1;
    int x, y;

    for (y = 0; y < image->height; y++)
        for (x = 0; x < image->width * 3; x++) {
            state = state * 1664525u + 1013904223u;
            image->data[(size_t)y * image->stride + (size_t)x] = (uint8_t)(state >> 24);
        }
}

static image_difference compare_images(const verge_image *a, const verge_image *b)
{
    image_difference none = {255, 255.0, 0.0};
    uint8_t *packed;
    image_difference result;

    if (a->width != b->width || a->height != b->height)
        return none;
    packed = pack_image(b);
    if (packed == NULL)
        return none;
    result = compare_to_packed(a, packed);
    free(packed);
    return result;
}

/* Returns the PSNR in dB of `image` against the test card moved by `shift`. */
static double pattern_psnr(const verge_image *image, int shift)
{
    verge_image expected;
    double psnr;

    if (verge_image_create(image->width, image->height, &expected) != VERGE_OK)
        return 0.0;
    fill_pattern(&expected, shift);
    psnr = compare_images(image, &expected).psnr;
    verge_image_free(&expected);
    return psnr;
}

/* Runs ffprobe on a video and returns "codec,width,height,frame rate,frames" in buf. */
static const char *ffprobe_video(const char *path, char *buf, size_t size)
{
    char *argv[] = {"ffprobe", "-v", "quiet", "-count_frames", "-select_streams", "v:0",
                    "-show_entries", "stream=codec_name,width,height,r_frame_rate,nb_read_frames",
                    "-of", "csv=p=0", (char *)path, NULL};
    pid_t pid;
    int fd = spawn_reader(argv, &pid);
    size_t got = 0;

    buf[0] = '\0';
    if (fd < 0)
        return buf;
    got = read_full(fd, (uint8_t *)buf, size - 1);
    close(fd);
    wait_child(pid);
    buf[got] = '\0';
    if (got > 0 && buf[got - 1] == '\n')
        buf[got - 1] = '\0';
    return buf;
}

static void lossless_round_trip(void)
{
    static const char *const names[] = {"copy.png", "copy.bmp", "COPY.PNG", "copy.BMP"};
    static const int sizes[][2] = {{600, 400}, {37, 23}, {1, 1}, {2, 3}};
    char original[1024], path[1024];
    verge_image photo, pattern, loaded;
    size_t i, k;

    check_data_path("images/coffee.png", original);
    CHECK_OK(load_image(original, &photo));

    for (i = 0; i < ARRAY_SIZE(names); i++) {
        test_path(path, sizeof(path), names[i]);
        CHECK_OK(verge_image_write(path, &photo));
        CHECK_OK(load_image(path, &loaded));
        CHECK_MSG(compare_images(&loaded, &photo).max == 0, "%s differs from the original",
                  names[i]);
        verge_image_free(&loaded);
    }

    /* Odd and tiny sizes, and a stride wider than the row. */
    for (k = 0; k < ARRAY_SIZE(sizes); k++) {
        verge_image wide;

        CHECK_OK(verge_image_create(sizes[k][0] + 5, sizes[k][1], &wide));
        wide.width = sizes[k][0];
        fill_pattern(&wide, 0);
        for (i = 0; i < 2; i++) {
            test_path(path, sizeof(path), names[i]);
            CHECK_OK(verge_image_write(path, &wide));
            CHECK_OK(load_image(path, &loaded));
            CHECK_EQ_INT(loaded.width, sizes[k][0]);
            CHECK_EQ_INT(loaded.height, sizes[k][1]);
            CHECK_MSG(compare_images(&loaded, &wide).max == 0, "%s %dx%d differs", names[i],
                      sizes[k][0], sizes[k][1]);
            verge_image_free(&loaded);
        }
        wide.width = sizes[k][0] + 5;
        verge_image_free(&wide);
    }

    CHECK_OK(verge_image_create(64, 48, &pattern));
    fill_pattern(&pattern, 3);
    test_path(path, sizeof(path), "pattern.png");
    CHECK_OK(verge_image_write(path, &pattern));
    CHECK_OK(load_image(path, &loaded));
    CHECK_EQ_INT(compare_images(&loaded, &pattern).max, 0);
    verge_image_free(&loaded);
    verge_image_free(&pattern);
    verge_image_free(&photo);
}

static void jpeg_round_trip(void)
{
    static const char *const names[] = {"copy.jpg", "copy.jpeg", "copy.JPG"};
    char original[1024], path[1024], probe[256];
    char *ffprobe[] = {"ffprobe", "-v", "quiet", "-show_entries", "stream=codec_name,pix_fmt",
                       "-of", "csv=p=0", path, NULL};
    verge_image photo, loaded, odd;
    image_difference difference;
    size_t i;
    pid_t pid;
    int fd;

    check_data_path("images/coffee.png", original);
    CHECK_OK(load_image(original, &photo));
    for (i = 0; i < ARRAY_SIZE(names); i++) {
        test_path(path, sizeof(path), names[i]);
        CHECK_OK(verge_image_write(path, &photo));
        CHECK_OK(load_image(path, &loaded));
        difference = compare_images(&loaded, &photo);
        /*
         * Quantizer scale 2 with 4:4:4 chroma, like `ffmpeg -q:v 2 -pix_fmt yuvj444p`:
         * 39.4 dB in RGB on this photo with FFmpeg 5.1.
         */
        CHECK_MSG(difference.psnr > 38.0 && difference.mean < 2.5,
                  "%s: PSNR %.1f dB, mean difference %.2f", names[i], difference.psnr,
                  difference.mean);
        verge_image_free(&loaded);
    }

    /* ffprobe must see a baseline JPEG with full chroma resolution. */
    test_path(path, sizeof(path), "copy.jpg");
    fd = spawn_reader(ffprobe, &pid);
    CHECK(fd >= 0);
    if (fd >= 0) {
        size_t got = read_full(fd, (uint8_t *)probe, sizeof(probe) - 1);

        close(fd);
        wait_child(pid);
        probe[got] = '\0';
        CHECK_MSG(strncmp(probe, "mjpeg,yuvj444p", 14) == 0, "ffprobe: %s", probe);
    }

    CHECK_OK(verge_image_create(33, 17, &odd));
    fill_pattern(&odd, 0);
    test_path(path, sizeof(path), "odd.jpg");
    CHECK_OK(verge_image_write(path, &odd));
    CHECK_OK(load_image(path, &loaded));
    CHECK_EQ_INT(loaded.width, 33);
    CHECK_EQ_INT(loaded.height, 17);
    difference = compare_images(&loaded, &odd);
    CHECK_MSG(difference.psnr > 30.0, "odd JPEG: PSNR %.1f dB", difference.psnr);
    verge_image_free(&loaded);
    verge_image_free(&odd);
    verge_image_free(&photo);
}

static void image_write_errors(void)
{
    char path[1024];
    verge_image image, empty;
    struct stat info;

    CHECK_OK(verge_image_create(8, 8, &image));
    memset(&empty, 0, sizeof(empty));

    test_path(path, sizeof(path), "picture.gif");
    CHECK_STATUS(verge_image_write(path, &image), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), ".png") != NULL);
    test_path(path, sizeof(path), "no_extension");
    CHECK_STATUS(verge_image_write(path, &image), VERGE_STATUS_INVALID_ARGUMENT);
    test_path(path, sizeof(path), "empty.png");
    CHECK_STATUS(verge_image_write(path, &empty), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_image_write(path, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_image_write(NULL, &image), VERGE_STATUS_INVALID_ARGUMENT);

    /* A missing folder: the error names the path and no file appears. */
    test_path(path, sizeof(path), "missing/out.png");
    CHECK_STATUS(verge_image_write(path, &image), VERGE_STATUS_NOT_FOUND);
    CHECK(strstr(verge_error_message(), path) != NULL);
    CHECK(stat(path, &info) != 0);

    /* A folder in the way of the file. */
    test_path(path, sizeof(path), "folder.png");
    CHECK(mkdir(path, 0700) == 0);
    CHECK_STATUS(verge_image_write(path, &image), VERGE_STATUS_IO_ERROR);
    CHECK(strstr(verge_error_message(), path) != NULL);
    CHECK(stat(path, &info) == 0 && S_ISDIR(info.st_mode));
    rmdir(path);
    verge_image_free(&image);
}

/*
 * Writes `frames` frames of a moving pattern, then reads the file back and
 * checks count, size, rate, timestamps and picture quality.
 */
static void check_video_round_trip(const char *name, const char *encoder, int width, int height,
                                   double fps, int frames, const char *expected_codec)
{
    char path[1024], probe[256], expected_probe[256];
    verge_video_writer *writer = NULL;
    verge_source *source = NULL;
    const verge_source_info *info;
    verge_image image;
    verge_frame frame;
    verge_status status;
    int even_width = width + (width & 1), even_height = height + (height & 1);
    int i, count = 0;
    double worst_psnr = 99.0;

    test_path(path, sizeof(path), name);
    CHECK_OK(verge_image_create(width, height, &image));
    CHECK_OK(media_video_writer_open_with(path, width, height, fps, encoder, &writer));
    if (writer == NULL) {
        verge_image_free(&image);
        return;
    }
    CHECK_MSG(strcmp(media_video_writer_encoder(writer), expected_codec == NULL ? "" :
                     strcmp(expected_codec, "h264") == 0 ? "libx264" : expected_codec) == 0,
              "%s: encoder %s", name, media_video_writer_encoder(writer));
    for (i = 0; i < frames; i++) {
        fill_pattern(&image, i * 2);
        CHECK_OK(verge_video_writer_write(writer, &image));
    }
    CHECK_OK(verge_video_writer_close(writer));

    /* ffprobe's view: codec, padded size, frame rate and the number of frames. */
    ffprobe_video(path, probe, sizeof(probe));
    snprintf(expected_probe, sizeof(expected_probe), "%s,%d,%d,", expected_codec, even_width,
             even_height);
    CHECK_MSG(strncmp(probe, expected_probe, strlen(expected_probe)) == 0, "%s: ffprobe: %s",
              name, probe);
    CHECK_MSG(strlen(probe) > 0 && atoi(strrchr(probe, ',') + 1) == frames,
              "%s: ffprobe: %s, expected %d frames", name, probe, frames);

    CHECK_OK(verge_source_open(path, NULL, &source));
    if (source != NULL) {
        info = verge_source_get_info(source);
        CHECK_EQ_INT(info->kind, VERGE_SOURCE_VIDEO);
        CHECK_EQ_INT(info->width, even_width);
        CHECK_EQ_INT(info->height, even_height);
        CHECK_MSG(fabs(info->fps - fps) < 1e-3, "%s: fps %f, expected %f", name, info->fps, fps);
        CHECK_MSG(strcmp(info->codec, expected_codec) == 0, "%s: codec %s", name, info->codec);
        while ((status = verge_source_read(source, &frame)) == VERGE_OK) {
            CHECK_MSG(fabs(frame.time - (double)count / fps) < 1e-3,
                      "%s: frame %d at %f s, expected %f", name, count, frame.time,
                      (double)count / fps);
            if (frame.image.width == even_width && frame.image.height == even_height) {
                verge_image cropped = frame.image;
                double psnr, neighbour_psnr;

                /* Compare the requested area; the padding repeats the last column and row. */
                cropped.width = width;
                cropped.height = height;
                psnr = pattern_psnr(&cropped, count * 2);
                if (psnr < worst_psnr)
                    worst_psnr = psnr;
                /* The frame must look most like the one written at its position. */
                neighbour_psnr = fmax(count > 0 ? pattern_psnr(&cropped, count * 2 - 2) : 0.0,
                                      count + 1 < frames ? pattern_psnr(&cropped, count * 2 + 2)
                                                         : 0.0);
                if (width >= 16)
                    CHECK_MSG(psnr > neighbour_psnr,
                              "%s: frame %d is closer to its neighbour (%.1f dB) than to itself "
                              "(%.1f dB)", name, count, neighbour_psnr, psnr);
            }
            count++;
        }
        CHECK_STATUS(status, VERGE_STATUS_END_OF_STREAM);
        verge_source_close(source);
    }
    CHECK_MSG(count == frames, "%s: read %d frames, wrote %d", name, count, frames);
    /* CRF 23 and quantizer 4 keep even these tiny, sharp-edged frames above 28 dB. */
    CHECK_MSG(worst_psnr > 26.0, "%s: worst frame PSNR %.1f dB", name, worst_psnr);
    printf("  %s: %s, worst PSNR %.1f dB\n", name, probe, worst_psnr);
    verge_image_free(&image);
}

static void video_round_trip(void)
{
    check_video_round_trip("clip.mp4", NULL, 160, 120, 15.0, 30, "h264");
    check_video_round_trip("odd.mp4", NULL, 161, 121, 10.0, 12, "h264");
    check_video_round_trip("ntsc.mp4", NULL, 96, 64, 30000.0 / 1001.0, 20, "h264");
    check_video_round_trip("clip.mkv", NULL, 64, 48, 25.0, 10, "h264");
    check_video_round_trip("fallback.mp4", "mpeg4", 160, 120, 12.0, 24, "mpeg4");
    check_video_round_trip("odd_fallback.mp4", "mpeg4", 33, 17, 5.0, 7, "mpeg4");
    check_video_round_trip("one.mp4", NULL, 1, 1, 1.0, 1, "h264");
    check_video_round_trip("unknown.xyz", NULL, 32, 32, 8.0, 4, "h264");
}

/* The padded column and row repeat the image's last column and row. */
static void video_odd_padding(void)
{
    char path[1024];
    verge_video_writer *writer = NULL;
    verge_source *source = NULL;
    verge_image image;
    verge_frame frame;
    verge_status status;
    int x, y;

    test_path(path, sizeof(path), "padding.mp4");
    CHECK_OK(verge_image_create(31, 21, &image));
    for (y = 0; y < 21; y++)
        for (x = 0; x < 31; x++) {
            uint8_t *p = image.data + (size_t)y * image.stride + (size_t)x * 3;
            bool edge = x == 30 || y == 20;

            p[0] = edge ? 250 : 10;
            p[1] = edge ? 250 : 10;
            p[2] = edge ? 250 : 10;
        }
    CHECK_OK(verge_video_writer_open(path, 31, 21, 5.0, &writer));
    for (x = 0; x < 3; x++)
        CHECK_OK(verge_video_writer_write(writer, &image));
    CHECK_OK(verge_video_writer_close(writer));

    CHECK_OK(verge_source_open(path, NULL, &source));
    status = source != NULL ? verge_source_read(source, &frame) : VERGE_STATUS_NOT_FOUND;
    CHECK_OK(status);
    if (status == VERGE_OK) {
        CHECK_EQ_INT(frame.image.width, 32);
        CHECK_EQ_INT(frame.image.height, 22);
        /* Bright like the last column and row, not black. */
        CHECK(frame.image.data[(size_t)10 * frame.image.stride + 31 * 3] > 180);
        CHECK(frame.image.data[(size_t)21 * frame.image.stride + 10 * 3] > 180);
        CHECK(frame.image.data[(size_t)21 * frame.image.stride + 31 * 3] > 180);
        CHECK(frame.image.data[(size_t)10 * frame.image.stride + 10 * 3] < 60);
    }
    verge_source_close(source);
    verge_image_free(&image);
}

/* Frames of another size are scaled to the writer's size. */
static void video_scaled_frames(void)
{
    char path[1024];
    verge_video_writer *writer = NULL;
    verge_source *source = NULL;
    verge_image small, large;
    verge_frame frame;
    int count = 0;

    test_path(path, sizeof(path), "scaled.mp4");
    CHECK_OK(verge_image_create(80, 60, &small));
    CHECK_OK(verge_image_create(320, 240, &large));
    fill_pattern(&small, 0);
    fill_pattern(&large, 0);
    CHECK_OK(verge_video_writer_open(path, 160, 120, 10.0, &writer));
    CHECK_OK(verge_video_writer_write(writer, &small));
    CHECK_OK(verge_video_writer_write(writer, &large));
    CHECK_OK(verge_video_writer_write(writer, &small));
    CHECK_OK(verge_video_writer_close(writer));

    CHECK_OK(verge_source_open(path, NULL, &source));
    while (source != NULL && verge_source_read(source, &frame) == VERGE_OK) {
        CHECK_EQ_INT(frame.image.width, 160);
        CHECK_EQ_INT(frame.image.height, 120);
        count++;
    }
    CHECK_EQ_INT(count, 3);
    verge_source_close(source);
    verge_image_free(&small);
    verge_image_free(&large);
}

/*
 * Returns the number after " key=" in the options string that libx264 writes
 * into the first frame of a file ("x264 - core 164 ... options: cabac=1
 * ref=1 ... threads=2 ..."), or -1 when the file or the key is missing.
 */
static int x264_option(const char *path, const char *key)
{
    size_t size = 0, key_length = strlen(key);
    uint8_t *file = read_file(path, &size);
    const char *options = NULL;
    int value = -1;

    if (file == NULL)
        return -1;
    file[size] = '\0';
    for (size_t i = 0; i + 9 <= size && options == NULL; i++) {
        if (memcmp(file + i, "options: ", 9) == 0)
            options = (const char *)file + i + 8;
    }
    /* The string ends at the end of its SEI message, well before the end of the file. */
    for (const char *at = options; at != NULL && *at != '\0'; at = strchr(at + 1, ' ')) {
        if (strncmp(at + 1, key, key_length) == 0 && at[1 + key_length] == '=') {
            value = atoi(at + 2 + key_length);
            break;
        }
    }
    free(file);
    return value;
}

/* Writes `frames` frames of the test card with `threads` encoder threads, 0 for the default. */
static void write_test_video(const char *path, int threads, int frames)
{
    verge_video_writer *writer = NULL;
    verge_image image;

    CHECK_OK(verge_image_create(320, 240, &image));
    if (threads == 0)
        CHECK_OK(verge_video_writer_open(path, 320, 240, 25.0, &writer));
    else
        CHECK_OK(verge_video_writer_open_threads(path, 320, 240, 25.0, threads, &writer));
    for (int i = 0; i < frames && writer != NULL; i++) {
        fill_pattern(&image, i * 3);
        CHECK_OK(verge_video_writer_write(writer, &image));
    }
    CHECK_OK(verge_video_writer_close(writer));
    verge_image_free(&image);
}

/*
 * The H.264 encoder is set to hold few frames, for edge boxes with 1-2 GB:
 * libx264's defaults (1.5 frame threads per core, 3 B-frames, a 10-frame
 * lookahead) took about 230 MiB at 1920x1080 on 2 cores. The options libx264 records in the file
 * show what it ran with, and the file stays plain yuv420p H.264.
 */
static void video_encoder_is_frugal(void)
{
    char path[1024], probe[256];
    char *argv[] = {"ffprobe", "-v", "quiet", "-select_streams", "v:0", "-show_entries",
                    "stream=codec_name,pix_fmt", "-of", "csv=p=0", path, NULL};
    verge_video_writer *writer = NULL;
    size_t got;
    pid_t pid;
    int fd;

    test_path(path, sizeof(path), "frugal.mp4");
    write_test_video(path, 0, 30);
    CHECK_EQ_INT(x264_option(path, "threads"), 2);
    CHECK_EQ_INT(x264_option(path, "ref"), 1);
    CHECK_EQ_INT(x264_option(path, "bframes"), 1);
    CHECK_EQ_INT(x264_option(path, "rc_lookahead"), 5);
    /* Macroblock-tree rate control needs the lookahead and keeps files small at CRF 23. */
    CHECK_EQ_INT(x264_option(path, "mbtree"), 1);
    CHECK_EQ_INT(x264_option(path, "crf"), 23);

    fd = spawn_reader(argv, &pid);
    got = fd >= 0 ? read_full(fd, (uint8_t *)probe, sizeof(probe) - 1) : 0;
    if (fd >= 0)
        close(fd);
    CHECK_EQ_INT(fd >= 0 ? wait_child(pid) : -1, 0);
    probe[got] = '\0';
    CHECK_MSG(strncmp(probe, "h264,yuv420p", 12) == 0, "ffprobe: %s", probe);

    test_path(path, sizeof(path), "one_thread.mp4");
    write_test_video(path, 1, 10);
    CHECK_EQ_INT(x264_option(path, "threads"), 1);
    CHECK_EQ_INT(x264_option(path, "rc_lookahead"), 5);
    test_path(path, sizeof(path), "four_threads.mp4");
    write_test_video(path, 4, 10);
    CHECK_EQ_INT(x264_option(path, "threads"), 4);

    test_path(path, sizeof(path), "bad_threads.mp4");
    CHECK_STATUS(verge_video_writer_open_threads(path, 320, 240, 25.0, 0, &writer),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_video_writer_open_threads(path, 320, 240, 25.0, 17, &writer),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_MSG(strstr(verge_error_message(), "17 encoder threads") != NULL, "message: %s",
              verge_error_message());
    CHECK(writer == NULL);
}

static void video_writer_errors(void)
{
    char path[1024];
    verge_video_writer *writer = NULL;
    verge_image image, empty;
    struct stat info;
    struct rlimit saved_limit, small_limit;
    void (*previous_handler)(int);
    verge_status status;
    int i;

    test_path(path, sizeof(path), "bad.mp4");
    CHECK_STATUS(verge_video_writer_open(path, 0, 10, 10.0, &writer), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_video_writer_open(path, 10, 40000, 10.0, &writer),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_video_writer_open(path, 10, 10, 0.0, &writer), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_video_writer_open(path, 10, 10, NAN, &writer), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_video_writer_open(path, 10, 10, INFINITY, &writer),
                 VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_video_writer_open(path, 10, 10, -5.0, &writer), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_video_writer_open(NULL, 10, 10, 5.0, &writer), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(writer == NULL);
    CHECK(stat(path, &info) != 0);

    test_path(path, sizeof(path), "missing/out.mp4");
    CHECK_STATUS(verge_video_writer_open(path, 16, 16, 5.0, &writer), VERGE_STATUS_NOT_FOUND);
    CHECK(strstr(verge_error_message(), path) != NULL);
    CHECK(writer == NULL);

    test_path(path, sizeof(path), "x.mp4");
    CHECK_STATUS(media_video_writer_open_with(path, 16, 16, 5.0, "no-such-encoder", &writer),
                 VERGE_STATUS_UNSUPPORTED);
    CHECK(strstr(verge_error_message(), "no-such-encoder") != NULL);

    /* A writer closed without frames still leaves a valid, empty file. */
    CHECK_OK(verge_video_writer_open(path, 16, 16, 5.0, &writer));
    memset(&empty, 0, sizeof(empty));
    CHECK_STATUS(verge_video_writer_write(writer, &empty), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(verge_video_writer_write(writer, NULL), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_OK(verge_video_writer_close(writer));
    CHECK(stat(path, &info) == 0 && info.st_size > 0);
    CHECK_OK(verge_video_writer_close(NULL));
    CHECK_STATUS(verge_video_writer_write(NULL, &empty), VERGE_STATUS_INVALID_ARGUMENT);

    /*
     * A file size limit makes writes fail with EFBIG part way (SIGXFSZ is
     * ignored): close must report it, and the image writer must leave no file.
     */
    CHECK(getrlimit(RLIMIT_FSIZE, &saved_limit) == 0);
    small_limit = saved_limit;
    small_limit.rlim_cur = 4096;
    previous_handler = signal(SIGXFSZ, SIG_IGN);
    CHECK_OK(verge_image_create(256, 256, &image));
    test_path(path, sizeof(path), "limited.mp4");
    CHECK_OK(verge_video_writer_open(path, 256, 256, 10.0, &writer));
    CHECK(setrlimit(RLIMIT_FSIZE, &small_limit) == 0);
    status = VERGE_OK;
    for (i = 0; i < 100 && status == VERGE_OK; i++) {
        fill_noise(&image, (uint32_t)i);  /* noise does not compress, so the buffer fills */
        status = verge_video_writer_write(writer, &image);
    }
    CHECK_STATUS(status, VERGE_STATUS_IO_ERROR);
    printf("  file size limit, video frame %d: %s\n", i - 1, verge_error_message());
    CHECK_STATUS(verge_video_writer_write(writer, &image), VERGE_STATUS_IO_ERROR);
    status = verge_video_writer_close(writer);
    CHECK_STATUS(status, VERGE_STATUS_IO_ERROR);
    CHECK_MSG(strstr(verge_error_message(), path) != NULL, "message: %s", verge_error_message());
    printf("  file size limit, video: %s\n", verge_error_message());

    fill_pattern(&image, 0);
    test_path(path, sizeof(path), "limited.png");
    CHECK_STATUS(verge_image_write(path, &image), VERGE_STATUS_IO_ERROR);
    CHECK(stat(path, &info) != 0);
    printf("  file size limit, image: %s\n", verge_error_message());
    CHECK(setrlimit(RLIMIT_FSIZE, &saved_limit) == 0);
    signal(SIGXFSZ, previous_handler);
    verge_image_free(&image);
}

int main(void)
{
    char probe[1024];

    check_data_path("images", probe);  /* exits before creating anything when unset */
    test_dir_create();
    verge_log_set_callback(count_log_line, NULL, VERGE_LOG_WARNING);

    RUN(lossless_round_trip);
    RUN(video_round_trip);
    RUN(video_odd_padding);
    RUN(video_scaled_frames);
    RUN(video_encoder_is_frugal);
    /* Writing and reading back valid media logs nothing at warning level or above. */
    CHECK_EQ_INT(logged_lines, 0);
    /*
     * Not counted: FFmpeg 5.1's MJPEG decoder warns "EOI missing" on tiny
     * JPEGs such as 33x17, also on those the ffmpeg command writes.
     */
    RUN(jpeg_round_trip);
    RUN(image_write_errors);
    RUN(video_writer_errors);

    verge_log_set_callback(NULL, NULL, VERGE_LOG_WARNING);
    test_dir_remove();
    return check_summary();
}
