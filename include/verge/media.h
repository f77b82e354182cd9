/*
 * Media input and output through the FFmpeg libraries, and drawing on frames.
 *
 * A source delivers decoded frames as 8-bit RGB images from any input that
 * FFmpeg can open, through one code path:
 *
 *     image files      photo.jpg, scan.png, shot.bmp (one frame)
 *     video files      clip.mp4, clip.mkv, any container and codec FFmpeg reads
 *     cameras          /dev/video0 (libavdevice's v4l2 input)
 *     network streams  rtsp://, http://, https://, udp://, tcp://, srt:// ...
 *     standard input   "-", for a stream piped in (MPEG-TS, Matroska, MJPEG,
 *                      images; not MP4 with its index at the end)
 *
 * An input that contains exactly one picture (a file, piped or downloaded) is
 * a still image. JPEGs back to back (an MJPEG recording) are a video. Video
 * frames are turned as the stream's display matrix specifies (multiples of 90
 * degrees and mirroring, which the ffmpeg command applies too), so a phone's
 * portrait video comes out upright.
 *
 *     verge_source *source;
 *     verge_frame frame;
 *     if (verge_source_open("clip.mp4", NULL, &source) != VERGE_OK)
 *         fprintf(stderr, "%s\n", verge_error_message());
 *     while (verge_source_read(source, &frame) == VERGE_OK)
 *         use(&frame.image, frame.index, frame.time);
 *     verge_source_close(source);
 *
 * Writers encode RGB images to JPEG, PNG and BMP files and to MP4 video.
 * Drawing functions mark detections on an image; they clip to the image and
 * accept any float coordinates.
 *
 * FFmpeg's own log lines are sent to verge's logging hook (see
 * verge/status.h) from the first call that opens a source or a writer on:
 * FFmpeg errors become VERGE_LOG_ERROR, warnings VERGE_LOG_WARNING, info
 * VERGE_LOG_INFO, verbose and debug VERGE_LOG_DEBUG; trace lines are dropped.
 * This replaces FFmpeg's process-wide log callback (av_log_set_callback), so
 * a program that uses FFmpeg directly as well shares the route.
 *
 * Sources and writers are not thread-safe; use one per thread. Distinct
 * objects may be used from different threads at once.
 */
#ifndef VERGE_MEDIA_H
#define VERGE_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "verge/image.h"
#include "verge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Sources ------------------------------------------------------------ */

typedef struct verge_source verge_source;

typedef enum verge_source_kind {
    VERGE_SOURCE_IMAGE = 0, /* a still image file: one frame */
    VERGE_SOURCE_VIDEO,     /* a video file, or a stream piped into standard input */
    VERGE_SOURCE_CAMERA,    /* a capture device such as /dev/video0 */
    VERGE_SOURCE_NETWORK,   /* a network stream such as rtsp://host/path */
} verge_source_kind;

typedef struct verge_source_options {
    /*
     * Delivers every Nth decoded frame: 1 delivers all, 3 delivers frames
     * 0, 3, 6, ... Values below 1 count as 1. Skipped frames are still
     * decoded, because later frames depend on them.
     */
    int every;

    /* Stops after this many delivered frames; 0 means no limit. */
    int64_t max_frames;

    /*
     * Seconds that opening a network stream, or waiting for its next packet,
     * may take before the call fails with VERGE_STATUS_IO_ERROR. 0 selects
     * the default of 10 s; a negative value waits without limit. Applies to
     * network streams only: files, cameras and standard input wait forever.
     */
    double timeout;

    /*
     * FFmpeg input format to use instead of guessing from the name and
     * contents, e.g. "v4l2", "mjpeg", "mpegts"; NULL to guess. URIs that
     * start with /dev/video select "v4l2" by themselves.
     */
    const char *format;

    /*
     * Extra FFmpeg demuxer, protocol or device options as "key=value"
     * pairs separated by ':', e.g. "video_size=640x480:framerate=30" for a
     * camera or "rtsp_transport=tcp" for RTSP; NULL for none. An option
     * that no component uses is logged as a warning.
     */
    const char *input_options;

    /* Decoder threads; 0 lets FFmpeg choose from the number of CPUs. */
    int threads;

    /*
     * Largest picture accepted, in pixels (width x height). A bigger one
     * fails with VERGE_STATUS_OUT_OF_MEMORY before it is decoded, so that a
     * small compressed file cannot make the decoder allocate gigabytes.
     * 0 selects VERGE_DEFAULT_MAX_PIXELS.
     */
    int64_t max_pixels;
} verge_source_options;

/* Default picture size limit: 8192 x 8192 pixels, about 200 MB as RGB. */
#define VERGE_DEFAULT_MAX_PIXELS ((int64_t)8192 * 8192)

/* Fills *options with the defaults: every frame, no limit, 10 s network timeout. */
void verge_source_options_init(verge_source_options *options);

typedef struct verge_source_info {
    verge_source_kind kind;
    bool is_still;      /* true for a still image (kind VERGE_SOURCE_IMAGE) */
    int width;          /* pixels at open, after the display turn (frames may differ) */
    int height;
    double fps;         /* frames per second; 0 when unknown and for still images */
    double duration;    /* seconds; 0 when unknown (live streams, stdin) */
    int64_t frame_count; /* frames the container declares; -1 when unknown */
    char codec[32];     /* decoder's codec name, e.g. "h264", "mjpeg", "png" */
    char format[32];    /* FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" (cut to fit) */
} verge_source_info;

/* One delivered frame. */
typedef struct verge_frame {
    /*
     * RGB pixels owned by the source, valid until the next read or close.
     * The stride may exceed 3 * width, because rows are aligned for SIMD code.
     */
    verge_image image;

    /* Position among all decoded frames of the stream from 0, skipped frames included. */
    int64_t index;

    /*
     * Seconds from the start of the stream, taken from the frame's
     * presentation timestamp. Without timestamps it is index / fps. It is 0
     * for a still image and when neither is known.
     */
    double time;
} verge_frame;

/*
 * Opens a source. `uri` is a file path, "/dev/videoN", a URL with a
 * scheme (rtsp://, http://, ...) or "-" for standard input. `options` may be
 * NULL for the defaults. The call reads enough of the input to know its
 * video stream and codec.
 *
 * Returns VERGE_OK and stores a new source in *source, or:
 *   VERGE_STATUS_INVALID_ARGUMENT  NULL arguments, a bad option, a directory
 *   VERGE_STATUS_NOT_FOUND         no such file or device
 *   VERGE_STATUS_INVALID_DATA      the input is not a readable image or video,
 *                                  or it has no video stream
 *   VERGE_STATUS_UNSUPPORTED       no decoder or input format for it in this FFmpeg build
 *   VERGE_STATUS_IO_ERROR          reading failed, connection refused, timed out,
 *                                  permission denied
 *   VERGE_STATUS_OUT_OF_MEMORY
 * The error message names the URI (without its password, see
 * verge_uri_redact()) and what failed.
 */
verge_status verge_source_open(const char *uri, const verge_source_options *options,
                               verge_source **source);

/*
 * Opens a source over `size` bytes at `data` that hold a whole encoded file:
 * an image (JPEG, PNG, BMP, ...) or a video in a container FFmpeg can read
 * from memory (MP4, Matroska, MPEG-TS, ...). FFmpeg probes the contents;
 * `options->format` may force a demuxer. `name` (may be NULL: "memory")
 * stands for the input in error messages, e.g. a job id or the original
 * file name. The bytes are not copied: they must stay valid and unchanged
 * until verge_source_close(). Reading and errors then follow
 * verge_source_read(); info.kind is VERGE_SOURCE_IMAGE for one picture and
 * VERGE_SOURCE_VIDEO otherwise. options->timeout does not apply.
 *
 * Returns VERGE_OK and stores a new source in *source, or:
 *   VERGE_STATUS_INVALID_ARGUMENT  source is NULL, or a bad option
 *   VERGE_STATUS_INVALID_DATA      no bytes (data NULL or size 0), or bytes that
 *                                  are not a readable image or video
 *   VERGE_STATUS_UNSUPPORTED       no decoder or demuxer for them in this FFmpeg build
 *   VERGE_STATUS_OUT_OF_MEMORY
 */
verge_status verge_source_open_buffer(const void *data, size_t size, const char *name,
                                      const verge_source_options *options, verge_source **source);

/*
 * Copies `uri` into `buf` (at most size - 1 bytes and a NUL) with the
 * password of a network URI replaced by "***": "rtsp://cam:secret@10.0.0.5/live"
 * becomes "rtsp://cam:***@10.0.0.5/live". Other text is copied as it is.
 * Sources name their input this way in error messages, and so should
 * callers in their output. Returns buf.
 */
const char *verge_uri_redact(const char *uri, char *buf, size_t size);

/* Returns the source's description; valid until verge_source_close(). */
const verge_source_info *verge_source_get_info(const verge_source *source);

/*
 * Decodes the next delivered frame into *frame. At the end of the input the
 * decoder is drained, so that the last frames are delivered too.
 *
 * Returns VERGE_OK, or:
 *   VERGE_STATUS_END_OF_STREAM  no more frames (also after max_frames), and on
 *                               every later call
 *   VERGE_STATUS_INVALID_DATA   a still image cannot be decoded, or a video ended
 *                               without one decodable frame. Damaged packets in a
 *                               video that otherwise decodes are skipped with a warning.
 *   VERGE_STATUS_IO_ERROR       reading failed or a network stream timed out
 *   VERGE_STATUS_OUT_OF_MEMORY
 * After an error other than END_OF_STREAM, close the source.
 */
verge_status verge_source_read(verge_source *source, verge_frame *frame);

/* Closes the input and frees the source and its last frame. NULL is allowed. */
void verge_source_close(verge_source *source);

/* ---- Writers ------------------------------------------------------------ */

/*
 * Encodes `image` into a file whose format follows the extension, case
 * insensitive: ".jpg"/".jpeg" (baseline JPEG with 4:4:4 chroma at quantizer
 * scale 2 on FFmpeg's scale of 1 = best to 31, as `ffmpeg -q:v 2`), ".png"
 * (lossless RGB) or ".bmp" (24-bit, lossless). An existing file is replaced. When writing
 * fails, the file at `path` is removed, so that no partial image remains.
 *
 * Returns VERGE_OK, or VERGE_STATUS_INVALID_ARGUMENT (NULL or empty image,
 * unknown extension), VERGE_STATUS_UNSUPPORTED (encoder missing from the
 * FFmpeg build), VERGE_STATUS_NOT_FOUND (the folder does not exist),
 * VERGE_STATUS_IO_ERROR (cannot create or write the file),
 * VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_image_write(const char *path, const verge_image *image);

typedef struct verge_video_writer verge_video_writer;

/*
 * Creates a video file of width x height pixels played at `fps` frames per
 * second. The container follows the extension (".mp4", ".mkv", ".mov",
 * ".avi"; anything else gives MP4). The codec is H.264 through libx264
 * (preset "veryfast", CRF 23, with one reference frame, at most one B-frame
 * and a 5-frame lookahead to keep memory low) when the FFmpeg build has it
 * and the container takes it, otherwise MPEG-4 part 2; the pixel format is
 * yuv420p. The encoder runs 2 threads; see verge_video_writer_open_threads().
 * Because yuv420p needs even sizes, an odd width or height is padded by one
 * column or row that repeats the last one, so the file is then one pixel
 * wider or taller than requested.
 *
 * Returns VERGE_OK and stores the writer in *writer, or
 * VERGE_STATUS_INVALID_ARGUMENT (size outside 1..32768, fps not in
 * (0, 1000]), VERGE_STATUS_UNSUPPORTED (no MP4 muxer or video encoder in the
 * FFmpeg build), VERGE_STATUS_NOT_FOUND (the folder does not exist),
 * VERGE_STATUS_IO_ERROR (cannot create the file), VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_video_writer_open(const char *path, int width, int height, double fps,
                                     verge_video_writer **writer);

/*
 * Like verge_video_writer_open(), with `threads` encoder threads, 1..16
 * (VERGE_STATUS_INVALID_ARGUMENT outside). Each libx264 frame thread keeps
 * frames of its own in memory, so memory grows with the count.
 */
verge_status verge_video_writer_open_threads(const char *path, int width, int height, double fps,
                                             int threads, verge_video_writer **writer);

/*
 * Encodes one frame; frame n is shown at time n / fps. An image of another
 * size than the writer's is scaled to it.
 *
 * Returns VERGE_OK, or VERGE_STATUS_INVALID_ARGUMENT (NULL or empty image),
 * VERGE_STATUS_IO_ERROR (encoding or writing failed; the writer then rejects
 * further frames), VERGE_STATUS_OUT_OF_MEMORY.
 */
verge_status verge_video_writer_write(verge_video_writer *writer, const verge_image *image);

/*
 * Flushes the encoder, finishes the file and frees the writer, also when a
 * step fails or an earlier write failed. NULL is allowed and returns
 * VERGE_OK. Returns VERGE_STATUS_IO_ERROR when the file could not be
 * completed (or an earlier write had failed).
 */
verge_status verge_video_writer_close(verge_video_writer *writer);

/* ---- Drawing ------------------------------------------------------------ */

typedef struct verge_color {
    uint8_t r, g, b;
} verge_color;

/*
 * Draws the outline of the box with corners (x_min, y_min) and (x_max,
 * y_max) in pixels, inclusive after rounding to the nearest pixel. The
 * outline is `thickness` pixels wide (values below 1 count as 1) and lies
 * inside the box. Swapped corners are put in order. Parts outside the image
 * are clipped; coordinates beyond +-1e9, infinities included, are clamped to
 * +-1e9 first, so such an edge lies outside the image. NaN draws nothing.
 */
void verge_draw_rect(verge_image *image, float x_min, float y_min, float x_max, float y_max,
                     int thickness, verge_color color);

/* Fills the box like verge_draw_rect() clips and rounds it. */
void verge_draw_fill_rect(verge_image *image, float x_min, float y_min, float x_max, float y_max,
                          verge_color color);

/*
 * Fills the disc of `radius` pixels around (x, y), clipped; a radius below
 * 0.5 sets the one nearest pixel. NaN in any argument draws nothing.
 */
void verge_draw_dot(verge_image *image, float x, float y, float radius, verge_color color);

/*
 * Draws `text` with a built-in 5x7 pixel font enlarged `scale` times
 * (1..64; other values count as 1 or 64), with its top left corner at (x,
 * y). The font has digits, lower-case letters (upper case is drawn in lower
 * case), space and . , : ; % - + _ / ( ) # ! ? = '; other characters are
 * drawn as a hollow box. '\n' starts a new line. Pixels outside the image
 * are clipped; only glyph pixels are drawn, not a background.
 */
void verge_draw_text(verge_image *image, int x, int y, const char *text, int scale,
                     verge_color color);

/* Returns the width in pixels of the widest line of `text` drawn at `scale`. */
int verge_draw_text_width(const char *text, int scale);

/* Returns the height in pixels of `text` drawn at `scale` (7 * scale per line plus gaps). */
int verge_draw_text_height(const char *text, int scale);

/*
 * Marks a detection: its box outline of `thickness` pixels in `color`, a dot
 * for each keypoint, and, when `label` is not NULL, the text
 * "<label> <score with 2 decimals>" (e.g. "face 0.93") on a filled bar of
 * `color` above the box, or inside it when there is no room above. The
 * text is black or white, whichever contrasts more with `color`.
 */
void verge_draw_detection(verge_image *image, const verge_detection *detection, const char *label,
                          int thickness, verge_color color);

#ifdef __cplusplus
}
#endif

#endif
