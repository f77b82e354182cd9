/*
 * Helpers for the media tests: a temporary folder, running the ffmpeg
 * command as an independent reference, files cut at an offset, and image
 * comparison. Test programs include this once.
 */
#ifndef VERGE_TESTS_MEDIA_TEST_UTIL_H
#define VERGE_TESTS_MEDIA_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "verge/image.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char test_dir[512];

/* Creates the test's temporary folder; exits when that fails, since nothing can run. */
static void test_dir_create(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(test_dir, sizeof(test_dir), "%s/verge-media-XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(test_dir) == NULL) {
        fprintf(stderr, "cannot create a temporary folder %s: %s\n", test_dir, strerror(errno));
        exit(2);
    }
}

/* Removes the temporary folder and the files in it (the tests create no subfolders). */
static void test_dir_remove(void)
{
    DIR *dir;
    struct dirent *entry;
    char path[1024];

    if (test_dir[0] == '\0' || (dir = opendir(test_dir)) == NULL)
        return;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", test_dir, entry->d_name);
        remove(path);
    }
    closedir(dir);
    rmdir(test_dir);
}

/* Writes "<test_dir>/name" into buf and returns buf. */
static inline const char *test_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", test_dir, name);
    return buf;
}

static inline double seconds_now(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Runs argv (searched in PATH) with stdout to /dev/null; returns its exit status or -1. */
static inline int run_command(char *const argv[])
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        if (null >= 0)
            dup2(null, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/*
 * Starts argv with its stdout on a pipe; returns the read end and stores the
 * child's id, or returns -1.
 */
static inline int spawn_reader(char *const argv[], pid_t *pid)
{
    int fds[2];

    if (pipe(fds) != 0)
        return -1;
    *pid = fork();
    if (*pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (*pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    return fds[0];
}

/* Reads exactly `size` bytes unless the stream ends first; returns the count read. */
static inline size_t read_full(int fd, uint8_t *buffer, size_t size)
{
    size_t done = 0;

    while (done < size) {
        ssize_t got = read(fd, buffer + done, size - done);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        done += (size_t)got;
    }
    return done;
}

/* Waits for a child and returns its exit status, or -1 when it did not exit normally. */
static inline int wait_child(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* Decodes the first frame of `path` to RGB with the ffmpeg command; returns 0 on success. */
static inline int ffmpeg_decode_first(const char *path, int width, int height, uint8_t *pixels)
{
    char *argv[] = {"ffmpeg", "-nostdin", "-v", "error", "-i", (char *)path, "-frames:v", "1",
                    "-f", "rawvideo", "-pix_fmt", "rgb24", "-", NULL};
    size_t size = (size_t)width * height * 3;
    pid_t pid;
    int fd = spawn_reader(argv, &pid);
    size_t got;

    if (fd < 0)
        return -1;
    got = read_full(fd, pixels, size);
    close(fd);
    if (wait_child(pid) != 0 || got != size)
        return -1;
    return 0;
}

/* Reads a whole file into a malloc'ed buffer; returns NULL on failure. */
static inline uint8_t *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    uint8_t *data = NULL;
    long length;

    if (file == NULL)
        return NULL;
    if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) >= 0 &&
        fseek(file, 0, SEEK_SET) == 0) {
        data = malloc((size_t)length + 1);
        if (data != NULL && fread(data, 1, (size_t)length, file) != (size_t)length) {
            free(data);
            data = NULL;
        }
        *size = (size_t)length;
    }
    fclose(file);
    return data;
}

static inline int write_file(const char *path, const void *data, size_t size)
{
    FILE *file = fopen(path, "wb");
    int ok;

    if (file == NULL)
        return -1;
    ok = fwrite(data, 1, size, file) == size;
    return fclose(file) == 0 && ok ? 0 : -1;
}

/* Differences between an image and packed RGB pixels (stride 3 * width). */
typedef struct image_difference {
    int max;
    double mean;
    double psnr;   /* dB; 99 for identical images */
} image_difference;

static inline image_difference compare_to_packed(const verge_image *image, const uint8_t *packed)
{
    image_difference result = {0, 0.0, 99.0};
    double sum = 0.0, squares = 0.0;
    size_t count = (size_t)image->width * image->height * 3;
    int x, y;

    for (y = 0; y < image->height; y++) {
        const uint8_t *a = image->data + (size_t)y * image->stride;
        const uint8_t *b = packed + (size_t)y * image->width * 3;

        for (x = 0; x < image->width * 3; x++) {
            int d = abs((int)a[x] - (int)b[x]);

            if (d > result.max)
                result.max = d;
            sum += d;
            squares += (double)d * d;
        }
    }
    result.mean = sum / (double)count;
    if (squares > 0)
        result.psnr = 10.0 * log10(255.0 * 255.0 / (squares / (double)count));
    return result;
}

/* Copies an image into packed RGB (stride 3 * width); the caller frees the result. */
static inline uint8_t *pack_image(const verge_image *image)
{
    uint8_t *packed = malloc((size_t)image->width * image->height * 3);
    int y;

    if (packed == NULL)
        return NULL;
    for (y = 0; y < image->height; y++)
        memcpy(packed + (size_t)y * image->width * 3, image->data + (size_t)y * image->stride,
               (size_t)image->width * 3);
    return packed;
}

#endif
