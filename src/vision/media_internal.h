/*
 * Internal helpers shared by the media source and writers: the one-time
 * FFmpeg setup that routes its log lines to verge_log, and the mapping from
 * FFmpeg error codes to verge statuses. Not part of the public API.
 */
#ifndef VERGE_VISION_MEDIA_INTERNAL_H
#define VERGE_VISION_MEDIA_INTERNAL_H

#include <libavformat/avformat.h>
#include <libavutil/pixfmt.h>

#include "verge/media.h"

/* Largest frame side accepted from a decoder or for a writer (same bound as verge_image_create). */
enum { MEDIA_MAX_SIDE = 1 << 15 };

/* Room for media_error_text(): FFmpeg's description plus its last error line. */
enum { MEDIA_ERROR_TEXT_MAX = 384 };

/*
 * Initializes network support and routes FFmpeg's log lines to verge_log.
 * Safe to call from any thread, any number of times; the work happens once
 * per process.
 */
void media_init(void);

/*
 * Returns FFmpeg's input format `name` (av_find_input_format()), or NULL.
 * Device inputs (v4l2, alsa, x11grab, ...) are in libavdevice, which is
 * loaded and registered the first time a name is not found without it.
 */
const AVInputFormat *media_find_input_format(const char *name);

/*
 * Sends this thread's unfinished FFmpeg log line and the count of suppressed
 * repeats to verge_log. Called when a source or writer closes.
 */
void media_log_flush(void);

/* Forgets this thread's last FFmpeg error line. */
void media_error_detail_clear(void);

/*
 * Returns this thread's last FFmpeg error line since media_error_detail_clear(),
 * e.g. "mov,mp4,m4a,3gp,3g2,mj2: moov atom not found", or "".
 */
const char *media_error_detail(void);

/* Returns the verge status that fits an FFmpeg error code (a negative AVERROR value). */
verge_status media_status_from_averror(int error);

/*
 * Writes FFmpeg's description of an error code into buf, followed by the
 * last FFmpeg error line in brackets when there is one, and returns buf.
 */
const char *media_error_text(int error, char *buf, size_t size);

/*
 * Opens a video writer like verge_video_writer_open() with the encoder named
 * `encoder_name` ("libx264", "mpeg4", ...), or the automatic choice when it
 * is NULL. Tests use it to cover the MPEG-4 part 2 fallback.
 */
verge_status media_video_writer_open_with(const char *path, int width, int height, double fps,
                                          const char *encoder_name, verge_video_writer **writer);

/* Returns the name of the encoder a writer uses, e.g. "libx264". */
const char *media_video_writer_encoder(const verge_video_writer *writer);

#endif
