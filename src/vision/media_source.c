#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <libswscale/swscale.h>

#include "core/core.h"
#include "vision/media_internal.h"

enum {
    DEFAULT_TIMEOUT_S = 10,
    ROW_ALIGN = 64,       /* swscale warns about rows not aligned to 16 bytes; 64 suits AVX-512 */
    BUFFER_PADDING = 64,  /* spare bytes after the last row, in case a SIMD store runs past it */
    WARNED_PACKETS_MAX = 5,
};

/* The frame layout the RGB converter was built for; a change rebuilds it. */
typedef struct scaler_key {
    int width;
    int height;
    int format;
    int colorspace;
    int range;
} scaler_key;

struct verge_source {
    char *uri;              /* for messages: the caller's URI without its password */
    char *url;              /* the caller's URI, as FFmpeg opens it */
    verge_source_options options;
    verge_source_info info;

    AVFormatContext *demuxer;
    AVCodecContext *decoder;
    int stream_index;
    AVRational time_base;
    int64_t start_pts;      /* timestamp of time 0, AV_NOPTS_VALUE until known */

    AVPacket *packet;
    AVFrame *frame;
    AVPacket *ahead[2];     /* packets read while classifying, sent to the decoder first */
    int ahead_count;
    int ahead_next;

    struct SwsContext *scaler;
    scaler_key key;
    uint8_t *pixels;        /* av_malloc'ed RGB buffer behind `image` */
    verge_image image;

    /*
     * Display orientation from the stream's display matrix, where phones
     * record that upright video was stored sideways. Output pixel (x, y)
     * comes from the decoded frame at (y, x) when `transpose`, else (x, y),
     * then mirrored across the decoded frame when flip_x / flip_y.
     */
    bool turn;
    bool transpose;
    bool flip_x;
    bool flip_y;
    uint8_t *decoded_pixels; /* av_malloc'ed RGB buffer behind `decoded_image`, when turning */
    verge_image decoded_image;

    int64_t decoded;        /* frames out of the decoder */
    int64_t delivered;      /* frames returned to the caller */
    int64_t damaged;        /* packets or frames the decoder rejected */
    int64_t max_pixels;     /* largest picture accepted, width x height */
    int last_decode_error;
    bool flushing;          /* the end of the input was sent to the decoder */
    bool finished;

    /* Memory input (verge_source_open_buffer): the caller's bytes, read through `avio`. */
    const uint8_t *buffer;
    size_t buffer_size;
    size_t buffer_pos;
    AVIOContext *avio;

    bool network;
    double timeout;         /* seconds; <= 0 means no limit */
    int64_t deadline_us;    /* av_gettime_relative() limit for the blocking call in progress */
    bool timed_out;
};

void verge_source_options_init(verge_source_options *options)
{
    memset(options, 0, sizeof(*options));
    options->every = 1;
    options->max_frames = 0;
    options->timeout = DEFAULT_TIMEOUT_S;
}

/* Stops a blocking FFmpeg call once the network deadline has passed. */
static int source_interrupt(void *opaque)
{
    verge_source *source = opaque;

    if (source->deadline_us == 0 || av_gettime_relative() < source->deadline_us)
        return 0;
    source->timed_out = true;
    return 1;
}

static void source_arm_deadline(verge_source *source)
{
    source->timed_out = false;
    if (source->network && source->timeout > 0)
        source->deadline_us = av_gettime_relative() + (int64_t)(source->timeout * 1e6);
    else
        source->deadline_us = 0;
}

static bool uri_has_prefix(const char *uri, const char *prefix)
{
    return strncmp(uri, prefix, strlen(prefix)) == 0;
}

static bool format_is_camera(const char *name)
{
    return name != NULL && (strcmp(name, "v4l2") == 0 || strcmp(name, "video4linux2") == 0);
}

/* Demuxers whose input may be one picture: image files, image pipes, GIF. */
static bool demuxer_reads_still_images(const AVInputFormat *format)
{
    size_t length = strlen(format->name);

    if (strcmp(format->name, "image2") == 0 || strcmp(format->name, "gif") == 0)
        return true;
    return length > 5 && strcmp(format->name + length - 5, "_pipe") == 0;
}

/*
 * Decides the kind of input from the URI and, for local paths, the file
 * type, and picks the FFmpeg URL and input format to open it with.
 */
static verge_status source_classify(verge_source *source, const char *forced_format,
                                    const char **url, const AVInputFormat **input_format)
{
    const char *uri = source->uri;
    struct stat info;

    *url = source->url;
    *input_format = NULL;
    source->info.kind = VERGE_SOURCE_VIDEO;

    if (strcmp(uri, "-") == 0) {
        *url = "pipe:0";
    } else if (verge_uri_is_network(uri)) {
        source->info.kind = VERGE_SOURCE_NETWORK;
        source->network = true;
    } else if (uri_has_prefix(uri, "/dev/video") || format_is_camera(forced_format)) {
        /* Left to the v4l2 input, so that a missing device fails there with its own error. */
        source->info.kind = VERGE_SOURCE_CAMERA;
        if (forced_format == NULL)
            forced_format = "v4l2";
    } else if (!uri_has_prefix(uri, "file:") && !uri_has_prefix(uri, "pipe:")) {
        if (stat(uri, &info) != 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                return verge_fail(VERGE_STATUS_NOT_FOUND, "%s: file not found", uri);
            return verge_fail(VERGE_STATUS_IO_ERROR, "%s: cannot open: %s", uri, strerror(errno));
        }
        if (S_ISDIR(info.st_mode))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "%s: is a directory; give an image or video file", uri);
        if (S_ISREG(info.st_mode) && info.st_size == 0)
            return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: the file is empty (0 bytes)", uri);
        if (S_ISCHR(info.st_mode)) {
            source->info.kind = VERGE_SOURCE_CAMERA;
            if (forced_format == NULL)
                forced_format = "v4l2";
        }
    }

    if (forced_format != NULL) {
        *input_format = media_find_input_format(forced_format);
        if (*input_format == NULL)
            return verge_fail(VERGE_STATUS_UNSUPPORTED,
                              "%s: input format '%s' is not in this FFmpeg build "
                              "(list them with: ffmpeg -formats)",
                              uri, forced_format);
    }
    return VERGE_OK;
}

/* Builds the FFmpeg option dictionary from the caller's "key=value:key=value" string. */
static verge_status source_parse_input_options(const verge_source *source, const char *text,
                                               AVDictionary **dictionary)
{
    int error;

    if (text != NULL && text[0] != '\0') {
        error = av_dict_parse_string(dictionary, text, "=", ":", 0);
        if (error < 0)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "%s: input options '%s' are not key=value pairs separated by ':'",
                              source->uri, text);
    }

    /* Take an image file name literally rather than as a sequence pattern like img%03d.jpg. */
    if (source->info.kind == VERGE_SOURCE_VIDEO && strcmp(source->uri, "-") != 0 &&
        av_dict_get(*dictionary, "pattern_type", NULL, 0) == NULL) {
        error = av_dict_set(dictionary, "pattern_type", "none", 0);
        if (error < 0)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot store input options",
                              source->uri);
    }
    return VERGE_OK;
}

static verge_status source_fail_open(const verge_source *source, int error, const char *action)
{
    char text[MEDIA_ERROR_TEXT_MAX];

    if (source->timed_out)
        return verge_fail(VERGE_STATUS_IO_ERROR,
                          "%s: %s: timed out after %g s (raise the timeout option for slow "
                          "networks)",
                          source->uri, action, source->timeout);
    return verge_fail(media_status_from_averror(error), "%s: %s: %s", source->uri, action,
                      media_error_text(error, text, sizeof(text)));
}

enum { AVIO_BUFFER_SIZE = 32 * 1024 };

/* Copies the next bytes of a memory input for FFmpeg's reader. */
static int buffer_read(void *opaque, uint8_t *out, int size)
{
    verge_source *source = opaque;
    size_t left = source->buffer_size - source->buffer_pos;
    size_t count = size > 0 ? (size_t)size : 0;

    if (left == 0)
        return AVERROR_EOF;
    if (count > left)
        count = left;
    memcpy(out, source->buffer + source->buffer_pos, count);
    source->buffer_pos += count;
    return (int)count;
}

/* Moves within a memory input; positions outside 0..size are refused. */
static int64_t buffer_seek(void *opaque, int64_t offset, int whence)
{
    verge_source *source = opaque;
    int64_t base;

    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)source->buffer_size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)source->buffer_pos; break;
    case SEEK_END: base = (int64_t)source->buffer_size; break;
    default: return AVERROR(EINVAL);
    }
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
        return AVERROR(EINVAL);
    /* Past the end is allowed, as for a file: the next read then reports the end. */
    if ((uint64_t)(base + offset) > source->buffer_size)
        source->buffer_pos = source->buffer_size;
    else
        source->buffer_pos = (size_t)(base + offset);
    return base + offset;
}

/* Attaches a reader over the caller's bytes to the demuxer (custom I/O). */
static verge_status source_attach_buffer(verge_source *source)
{
    uint8_t *chunk = av_malloc(AVIO_BUFFER_SIZE);

    if (chunk == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a read buffer",
                          source->uri);
    source->avio = avio_alloc_context(chunk, AVIO_BUFFER_SIZE, 0, source, buffer_read, NULL,
                                      buffer_seek);
    if (source->avio == NULL) {
        av_free(chunk);
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a reader", source->uri);
    }
    source->demuxer->pb = source->avio;
    source->demuxer->flags |= AVFMT_FLAG_CUSTOM_IO;
    return VERGE_OK;
}

/*
 * Reads the start of the input to learn its streams. The probe may decode a
 * picture, so it gets the pixel limit too. Returns an FFmpeg error code.
 */
static int source_find_stream_info(verge_source *source)
{
    unsigned count = source->demuxer->nb_streams;
    AVDictionary **per_stream = NULL;
    char limit[32];
    int error;

    if (count > 0) {
        per_stream = av_calloc(count, sizeof(*per_stream));
        if (per_stream == NULL)
            return AVERROR(ENOMEM);
    }
    snprintf(limit, sizeof(limit), "%lld", (long long)source->max_pixels);
    for (unsigned i = 0; i < count; i++)
        av_dict_set(&per_stream[i], "max_pixels", limit, 0);
    error = avformat_find_stream_info(source->demuxer, per_stream);
    for (unsigned i = 0; i < count; i++)
        av_dict_free(&per_stream[i]);
    av_free(per_stream);
    return error;
}

static verge_status source_open_input(verge_source *source, const verge_source_options *options)
{
    const AVInputFormat *input_format;
    AVDictionary *dictionary = NULL;
    const AVDictionaryEntry *entry = NULL;
    const char *url;
    const char *failure;
    verge_status status;
    int error;

    if (source->buffer != NULL) {
        /* Bytes in memory: no name to classify; FFmpeg probes the contents. */
        url = "";
        input_format = NULL;
        source->info.kind = VERGE_SOURCE_VIDEO;
        if (options->format != NULL) {
            input_format = media_find_input_format(options->format);
            if (input_format == NULL) {
                status = verge_fail(VERGE_STATUS_UNSUPPORTED,
                                    "%s: input format '%s' is not in this FFmpeg build "
                                    "(list them with: ffmpeg -formats)",
                                    source->uri, options->format);
                goto cleanup;
            }
        }
        if (options->input_options != NULL && options->input_options[0] != '\0' &&
            av_dict_parse_string(&dictionary, options->input_options, "=", ":", 0) < 0) {
            status = verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                                "%s: input options '%s' are not key=value pairs separated by ':'",
                                source->uri, options->input_options);
            goto cleanup;
        }
    } else {
        status = source_classify(source, options->format, &url, &input_format);
        if (status != VERGE_OK)
            goto cleanup;
        status = source_parse_input_options(source, options->input_options, &dictionary);
        if (status != VERGE_OK)
            goto cleanup;
    }

    source->demuxer = avformat_alloc_context();
    if (source->demuxer == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a demuxer",
                            source->uri);
        goto cleanup;
    }
    source->demuxer->interrupt_callback.callback = source_interrupt;
    source->demuxer->interrupt_callback.opaque = source;
    if (source->buffer != NULL) {
        status = source_attach_buffer(source);
        if (status != VERGE_OK) {
            avformat_free_context(source->demuxer);
            source->demuxer = NULL;
            goto cleanup;
        }
    }

    failure = source->info.kind == VERGE_SOURCE_CAMERA ? "cannot open camera" : "cannot open";
    source_arm_deadline(source);
    error = avformat_open_input(&source->demuxer, url, input_format, &dictionary);
    if (error < 0) {
        /* avformat_open_input() has freed the context. */
        status = source_fail_open(source, error, failure);
        goto cleanup;
    }

    while ((entry = av_dict_get(dictionary, "", entry, AV_DICT_IGNORE_SUFFIX)) != NULL)
        if (strcmp(entry->key, "pattern_type") != 0)
            verge_log(VERGE_LOG_WARNING, "%s: input option '%s' was not used by %s", source->uri,
                      entry->key, source->demuxer->iformat->name);

    source->max_pixels = options->max_pixels > 0 ? options->max_pixels : VERGE_DEFAULT_MAX_PIXELS;
    source_arm_deadline(source);
    error = source_find_stream_info(source);
    if (error < 0) {
        status = source_fail_open(source, error, "cannot read stream information");
        goto cleanup;
    }
    status = VERGE_OK;

cleanup:
    av_dict_free(&dictionary);
    return status;
}

/* Returns the stream's display matrix (nine 16.16 and 2.30 fixed-point numbers), or NULL. */
static const int32_t *stream_display_matrix(const AVStream *stream)
{
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 30, 100)
    const AVPacketSideData *side =
        av_packet_side_data_get(stream->codecpar->coded_side_data,
                                stream->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);

    return side != NULL && side->size >= 9 * sizeof(int32_t) ? (const int32_t *)side->data : NULL;
#else
    size_t size = 0;
    const uint8_t *data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size);

    return data != NULL && size >= 9 * sizeof(int32_t) ? (const int32_t *)data : NULL;
#endif
}

/*
 * Reads how the frames are to be shown: turned by a multiple of 90 degrees
 * and mirrored, with the same choices as the ffmpeg command's automatic
 * rotation, so that frames come out as players show them. Other angles are
 * left as decoded, with a warning.
 */
static void source_read_orientation(verge_source *source, const AVStream *stream)
{
    const int32_t *matrix = stream_display_matrix(stream);
    double angle;

    if (matrix == NULL)
        return;
    angle = av_display_rotation_get(matrix);
    if (isnan(angle))
        return;
    /* Clockwise degrees in [0, 360), the way the ffmpeg command counts them. */
    angle = -round(angle);
    angle -= 360 * floor(angle / 360 + 0.9 / 360);

    if (fabs(angle - 90) < 1.0) {
        source->transpose = true;
        source->flip_y = matrix[3] <= 0;
    } else if (fabs(angle - 180) < 1.0) {
        source->flip_x = matrix[0] < 0;
        source->flip_y = matrix[4] < 0;
    } else if (fabs(angle - 270) < 1.0) {
        source->transpose = true;
        source->flip_x = true;
        source->flip_y = matrix[3] < 0;
    } else if (fabs(angle) < 1.0) {
        source->flip_y = matrix[4] < 0;
    } else {
        verge_log(VERGE_LOG_WARNING,
                  "%s: the video is to be shown turned %.0f degrees clockwise; frames are used "
                  "as decoded, since only multiples of 90 degrees are applied",
                  source->uri, angle);
    }
    source->turn = source->transpose || source->flip_x || source->flip_y;
}

/*
 * Decides whether the input is a still image. An image demuxer (image2 for a
 * named file; jpeg_pipe, png_pipe, ... when FFmpeg probes the contents) reads
 * one picture or several back to back: an MJPEG recording saved as a file,
 * JPEGs piped into standard input, an image served over HTTP. Only an input
 * whose video stream contains exactly one packet is a still image, so the first
 * two packets are read here and queued for the decoder. Returns
 * AVERROR(ENOMEM) when memory runs out, else 0. After another read error the
 * input counts as a video, and its next read reports the error.
 */
static int source_classify_pictures(verge_source *source)
{
    int error = 0;

    source->info.is_still = false;
    if (source->info.kind == VERGE_SOURCE_CAMERA ||
        !demuxer_reads_still_images(source->demuxer->iformat))
        return 0;

    source_arm_deadline(source);
    while (source->ahead_count < 2) {
        AVPacket *packet = av_packet_alloc();

        if (packet == NULL)
            return AVERROR(ENOMEM);
        error = av_read_frame(source->demuxer, packet);
        if (error < 0) {
            av_packet_free(&packet);
            break;
        }
        if (packet->stream_index != source->stream_index) {
            av_packet_free(&packet);
            continue;
        }
        source->ahead[source->ahead_count++] = packet;
    }
    if (error == AVERROR_EOF ||
        (error < 0 && source->demuxer->pb != NULL && avio_feof(source->demuxer->pb)))
        error = 0;
    /* An input without any packet counts as a still image too, so its read fails clearly. */
    if (error == 0 && source->ahead_count <= 1) {
        source->info.kind = VERGE_SOURCE_IMAGE;
        source->info.is_still = true;
    }
    return error == AVERROR(ENOMEM) ? error : 0;
}

static verge_status source_open_decoder(verge_source *source, const verge_source_options *options)
{
    const AVCodec *codec = NULL;
    AVStream *stream;
    unsigned i;
    int error;

    error = av_find_best_stream(source->demuxer, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (error == AVERROR_STREAM_NOT_FOUND)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: no video stream or image in the input",
                          source->uri);
    if (error == AVERROR_DECODER_NOT_FOUND) {
        int index = av_find_best_stream(source->demuxer, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        const char *name = index >= 0
            ? avcodec_get_name(source->demuxer->streams[index]->codecpar->codec_id)
            : "unknown";
        return verge_fail(VERGE_STATUS_UNSUPPORTED, "%s: no decoder for codec '%s' in this FFmpeg "
                          "build", source->uri, name);
    }
    if (error < 0)
        return source_fail_open(source, error, "cannot select the video stream");

    source->stream_index = error;
    stream = source->demuxer->streams[source->stream_index];
    if ((int64_t)stream->codecpar->width * stream->codecpar->height > source->max_pixels)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                          "%s: the picture is %dx%d pixels, above the limit of %lld pixels "
                          "(max_pixels)", source->uri, stream->codecpar->width,
                          stream->codecpar->height, (long long)source->max_pixels);
    for (i = 0; i < source->demuxer->nb_streams; i++)
        if ((int)i != source->stream_index)
            source->demuxer->streams[i]->discard = AVDISCARD_ALL;
    source_read_orientation(source, stream);
    error = source_classify_pictures(source);
    if (error < 0)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory while reading ahead",
                          source->uri);

    source->decoder = avcodec_alloc_context3(codec);
    if (source->decoder == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a decoder", source->uri);
    error = avcodec_parameters_to_context(source->decoder, stream->codecpar);
    if (error < 0)
        return source_fail_open(source, error, "cannot configure the decoder");
    source->decoder->pkt_timebase = stream->time_base;
    /* Frames that grow past the limit mid-stream fail inside the decoder, before allocation. */
    source->decoder->max_pixels = source->max_pixels;
    source->decoder->thread_count = options->threads;
    /* Frame threading delays output by one frame per thread; live inputs want low latency. */
    if (source->info.kind == VERGE_SOURCE_CAMERA || source->info.kind == VERGE_SOURCE_NETWORK)
        source->decoder->thread_type = FF_THREAD_SLICE;
    /*
     * One picture gains nothing from frame threads, and decoding on this thread
     * keeps the decoder's own error line for the failure message.
     */
    if (source->info.is_still) {
        source->decoder->thread_type = FF_THREAD_SLICE;
        /*
         * A truncated or damaged still image is an error rather than a picture
         * with grey or smeared parts (the decoder would otherwise conceal it).
         */
        source->decoder->err_recognition |= AV_EF_EXPLODE;
    }

    error = avcodec_open2(source->decoder, codec, NULL);
    if (error < 0)
        return source_fail_open(source, error, "cannot open the decoder");

    source->time_base = stream->time_base;
    source->start_pts = stream->start_time;
    return VERGE_OK;
}

static void source_fill_info(verge_source *source)
{
    const AVStream *stream = source->demuxer->streams[source->stream_index];
    verge_source_info *info = &source->info;
    AVRational rate = stream->avg_frame_rate;

    info->width = source->transpose ? stream->codecpar->height : stream->codecpar->width;
    info->height = source->transpose ? stream->codecpar->width : stream->codecpar->height;
    if (rate.num <= 0 || rate.den <= 0)
        rate = stream->r_frame_rate;
    info->fps = !info->is_still && rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;

    info->duration = 0.0;
    if (!info->is_still) {
        if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0)
            info->duration = (double)stream->duration * av_q2d(stream->time_base);
        else if (source->demuxer->duration != AV_NOPTS_VALUE && source->demuxer->duration > 0)
            info->duration = (double)source->demuxer->duration / AV_TIME_BASE;
    }
    info->frame_count = info->is_still ? 1 : (stream->nb_frames > 0 ? stream->nb_frames : -1);

    snprintf(info->codec, sizeof(info->codec), "%s", avcodec_get_name(stream->codecpar->codec_id));
    snprintf(info->format, sizeof(info->format), "%s", source->demuxer->iformat->name);
}

/* Opens a named input, or the bytes `buffer` (size > 0) that `url` then only names. */
static verge_status source_open(const char *url, const uint8_t *buffer, size_t buffer_size,
                                const verge_source_options *options, verge_source **source_out)
{
    verge_source_options defaults;
    verge_source *source = NULL;
    verge_status status;
    char redacted[512];
    /* For messages: the URI without its password. */
    const char *uri = verge_uri_redact(url, redacted, sizeof(redacted));

    if (options == NULL) {
        verge_source_options_init(&defaults);
        options = &defaults;
    }
    if (options->max_frames < 0)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: max_frames %lld is negative", uri,
                          (long long)options->max_frames);
    if (isnan(options->timeout))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: timeout is NaN", uri);
    if (options->threads < 0)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: threads %d is negative", uri,
                          options->threads);

    media_init();
    media_error_detail_clear();

    source = calloc(1, sizeof(*source));
    if (source == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a source", uri);
    /* A password shorter than "***" makes the text longer, by 3 bytes at most. */
    source->uri = malloc(strlen(url) + sizeof("***"));
    source->url = strdup(url);
    if (source->uri != NULL)
        verge_uri_redact(url, source->uri, strlen(url) + sizeof("***"));
    if (source->uri == NULL || source->url == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a source", uri);
        goto cleanup;
    }
    source->options = *options;
    source->options.format = NULL;         /* only needed while opening */
    source->options.input_options = NULL;
    if (source->options.every < 1)
        source->options.every = 1;
    source->timeout = options->timeout == 0 ? DEFAULT_TIMEOUT_S : options->timeout;
    source->start_pts = AV_NOPTS_VALUE;
    source->stream_index = -1;
    source->buffer = buffer;
    source->buffer_size = buffer_size;

    status = source_open_input(source, options);
    if (status != VERGE_OK)
        goto cleanup;
    status = source_open_decoder(source, options);
    if (status != VERGE_OK)
        goto cleanup;
    source_fill_info(source);

    source->packet = av_packet_alloc();
    source->frame = av_frame_alloc();
    if (source->packet == NULL || source->frame == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate frame buffers", uri);
        goto cleanup;
    }

    *source_out = source;
    return VERGE_OK;

cleanup:
    verge_source_close(source);
    return status;
}

verge_status verge_source_open(const char *uri, const verge_source_options *options,
                               verge_source **source)
{
    if (source == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_source_open: source is NULL");
    *source = NULL;
    if (uri == NULL || uri[0] == '\0')
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "the source name is empty; give a file path, a URL or - for "
                          "standard input");
    return source_open(uri, NULL, 0, options, source);
}

verge_status verge_source_open_buffer(const void *data, size_t size, const char *name,
                                      const verge_source_options *options, verge_source **source)
{
    verge_status status;

    if (source == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "verge_source_open_buffer: source is NULL");
    *source = NULL;
    if (name == NULL || name[0] == '\0')
        name = "memory";
    if (data == NULL || size == 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: no bytes to decode (empty input)", name);
    status = source_open(name, data, size, options, source);
    /* Reading from memory cannot fail, so an I/O error from FFmpeg here means bad data. */
    if (status == VERGE_STATUS_IO_ERROR) {
        char message[512];

        snprintf(message, sizeof(message), "%s", verge_error_message());
        status = verge_fail(VERGE_STATUS_INVALID_DATA, "%s", message);
    }
    return status;
}

const verge_source_info *verge_source_get_info(const verge_source *source)
{
    return &source->info;
}

/* Maps the deprecated full-range "yuvj" formats to the plain ones, so swscale does not warn. */
static enum AVPixelFormat pixel_format_without_jpeg_range(enum AVPixelFormat format, bool *full)
{
    switch (format) {
    case AV_PIX_FMT_YUVJ420P: *full = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full = true; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full = true; return AV_PIX_FMT_YUV411P;
    default: return format;
    }
}

/* Gives `*image` (memory in `*pixels`) the size width x height, reallocating when it differs. */
static verge_status source_prepare_image(const verge_source *source, int width, int height,
                                         uint8_t **pixels, verge_image *image)
{
    size_t stride, bytes;

    if (*pixels != NULL && image->width == width && image->height == height)
        return VERGE_OK;

    av_freep(pixels);
    memset(image, 0, sizeof(*image));

    stride = ((size_t)width * 3 + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
    if (!verge_size_mul(stride, (size_t)height, &bytes) ||
        !verge_size_add(bytes, BUFFER_PADDING, &bytes))
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: frame size %dx%d overflows", source->uri,
                          width, height);
    *pixels = av_malloc(bytes);
    if (*pixels == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a %dx%d frame",
                          source->uri, width, height);
    image->width = width;
    image->height = height;
    image->stride = stride;
    image->data = *pixels;
    return VERGE_OK;
}

/* Copies the decoded frame `in` into `out` in the display orientation (see struct verge_source). */
static void source_turn(const verge_source *source, const verge_image *in, verge_image *out)
{
    /* Tiles keep both the rows read and the rows written in cache when transposing. */
    enum { TILE = 32 };

    for (int y0 = 0; y0 < out->height; y0 += TILE) {
        for (int x0 = 0; x0 < out->width; x0 += TILE) {
            int y_end = y0 + TILE < out->height ? y0 + TILE : out->height;
            int x_end = x0 + TILE < out->width ? x0 + TILE : out->width;

            for (int y = y0; y < y_end; y++) {
                uint8_t *row = out->data + (size_t)y * out->stride;

                for (int x = x0; x < x_end; x++) {
                    int in_x = source->transpose ? y : x;
                    int in_y = source->transpose ? x : y;
                    const uint8_t *pixel;

                    if (source->flip_x)
                        in_x = in->width - 1 - in_x;
                    if (source->flip_y)
                        in_y = in->height - 1 - in_y;
                    pixel = in->data + (size_t)in_y * in->stride + (size_t)in_x * 3;
                    row[3 * x] = pixel[0];
                    row[3 * x + 1] = pixel[1];
                    row[3 * x + 2] = pixel[2];
                }
            }
        }
    }
}

/*
 * Rebuilds the RGB converter when the frame's size, pixel format or colour
 * description changed. Colour matrix and range follow the frame, as the
 * ffmpeg command's scale filter does, so both give the same pixels.
 */
static verge_status source_prepare_scaler(verge_source *source, const AVFrame *frame)
{
    const scaler_key key = {frame->width, frame->height, frame->format, frame->colorspace,
                            frame->color_range};
    const AVPixFmtDescriptor *descriptor;
    enum AVPixelFormat format;
    bool full_range = false;
    int *inverse_table, *table;
    int source_range, destination_range, brightness, contrast, saturation;

    if (source->scaler != NULL && memcmp(&key, &source->key, sizeof(key)) == 0)
        return VERGE_OK;

    sws_freeContext(source->scaler);
    source->scaler = NULL;

    format = pixel_format_without_jpeg_range((enum AVPixelFormat)frame->format, &full_range);
    descriptor = av_pix_fmt_desc_get(format);
    if (descriptor == NULL || (descriptor->flags & AV_PIX_FMT_FLAG_HWACCEL) != 0 ||
        !sws_isSupportedInput(format))
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "%s: cannot convert pixel format '%s' to RGB", source->uri,
                          descriptor != NULL ? descriptor->name : "unknown");

    source->scaler = sws_getContext(frame->width, frame->height, format, frame->width,
                                    frame->height, AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
    if (source->scaler == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                          "%s: cannot create a converter from %s %dx%d to RGB", source->uri,
                          descriptor->name, frame->width, frame->height);

    if ((descriptor->flags & AV_PIX_FMT_FLAG_RGB) == 0) {
        sws_getColorspaceDetails(source->scaler, &inverse_table, &source_range, &table,
                                 &destination_range, &brightness, &contrast, &saturation);
        if (frame->color_range == AVCOL_RANGE_JPEG)
            full_range = true;
        else if (frame->color_range == AVCOL_RANGE_MPEG)
            full_range = false;
        /* Unknown colour spaces get swscale's default, BT.601. */
        sws_setColorspaceDetails(source->scaler, sws_getCoefficients(frame->colorspace),
                                 full_range, table, destination_range, brightness, contrast,
                                 saturation);
    }
    source->key = key;
    return VERGE_OK;
}

static verge_status source_convert(verge_source *source, const AVFrame *frame)
{
    uint8_t *destination[4] = {NULL};
    int destination_stride[4] = {0};
    verge_status status;

    if (frame->width <= 0 || frame->height <= 0 || frame->width > MEDIA_MAX_SIDE ||
        frame->height > MEDIA_MAX_SIDE)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "%s: frame %lld has size %dx%d, outside 1..%d pixels per side",
                          source->uri, (long long)source->decoded, frame->width, frame->height,
                          MEDIA_MAX_SIDE);

    if (source->transpose)
        status = source_prepare_image(source, frame->height, frame->width, &source->pixels,
                                      &source->image);
    else
        status = source_prepare_image(source, frame->width, frame->height, &source->pixels,
                                      &source->image);
    if (status == VERGE_OK && source->turn)
        status = source_prepare_image(source, frame->width, frame->height,
                                      &source->decoded_pixels, &source->decoded_image);
    if (status != VERGE_OK)
        return status;
    status = source_prepare_scaler(source, frame);
    if (status != VERGE_OK)
        return status;

    destination[0] = source->turn ? source->decoded_image.data : source->image.data;
    destination_stride[0] = (int)(source->turn ? source->decoded_image.stride
                                               : source->image.stride);
    sws_scale(source->scaler, (const uint8_t *const *)frame->data, frame->linesize, 0,
              frame->height, destination, destination_stride);
    if (source->turn)
        source_turn(source, &source->decoded_image, &source->image);
    return VERGE_OK;
}

static double source_frame_time(verge_source *source, const AVFrame *frame, int64_t index)
{
    int64_t pts = frame->best_effort_timestamp;

    if (source->info.is_still)
        return 0.0;
    if (pts != AV_NOPTS_VALUE && source->time_base.num > 0 && source->time_base.den > 0) {
        if (source->start_pts == AV_NOPTS_VALUE)
            source->start_pts = pts;
        return (double)(pts - source->start_pts) * av_q2d(source->time_base);
    }
    return source->info.fps > 0 ? (double)index / source->info.fps : 0.0;
}

/*
 * Records a packet or frame the decoder rejected. A still image has only one,
 * so it fails; a video skips it, because one damaged packet should not end
 * a stream that otherwise decodes.
 */
static verge_status source_note_damage(verge_source *source, int error)
{
    char text[MEDIA_ERROR_TEXT_MAX];

    if (error == AVERROR(ENOMEM))
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: out of memory while decoding",
                          source->uri);
    if (source->info.is_still)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: cannot decode image: %s", source->uri,
                          media_error_text(error, text, sizeof(text)));

    source->damaged++;
    source->last_decode_error = error;
    if (source->damaged <= WARNED_PACKETS_MAX)
        verge_log(VERGE_LOG_WARNING, "%s: skipped damaged data after frame %lld: %s%s",
                  source->uri, (long long)source->decoded,
                  media_error_text(error, text, sizeof(text)),
                  source->damaged == WARNED_PACKETS_MAX ? " (further damage not logged)" : "");
    return VERGE_OK;
}

/* Called when the decoder has returned its last frame. */
static verge_status source_finish(verge_source *source)
{
    char text[MEDIA_ERROR_TEXT_MAX];

    source->finished = true;
    if (source->decoded > 0)
        return VERGE_STATUS_END_OF_STREAM;
    if (source->info.is_still)
        return verge_fail(VERGE_STATUS_INVALID_DATA, "%s: cannot decode image: no image data",
                          source->uri);
    if (source->damaged > 0)
        return verge_fail(VERGE_STATUS_INVALID_DATA,
                          "%s: cannot decode video: no frame decoded, %lld damaged packets, "
                          "last error: %s",
                          source->uri, (long long)source->damaged,
                          media_error_text(source->last_decode_error, text, sizeof(text)));
    return VERGE_STATUS_END_OF_STREAM;
}

/* Reads the next packet of the video stream and sends it to the decoder. */
static verge_status source_feed_decoder(verge_source *source)
{
    char text[MEDIA_ERROR_TEXT_MAX];
    int error;

    if (source->ahead_next < source->ahead_count) {
        AVPacket **packet = &source->ahead[source->ahead_next++];

        /* As below: the caller takes every frame out first, so EAGAIN does not happen here. */
        error = avcodec_send_packet(source->decoder, *packet);
        av_packet_free(packet);
        if (error < 0 && error != AVERROR(EAGAIN))
            return source_note_damage(source, error);
        return VERGE_OK;
    }

    source_arm_deadline(source);
    for (;;) {
        error = av_read_frame(source->demuxer, source->packet);
        if (error == AVERROR(EAGAIN) && !source_interrupt(source)) {
            /* Some devices and protocols return EAGAIN instead of blocking. */
            av_usleep(1000);
            continue;
        }
        if (error < 0 && source->timed_out)
            return verge_fail(VERGE_STATUS_IO_ERROR,
                              "%s: no data for %g s after frame %lld: timed out", source->uri,
                              source->timeout, (long long)source->decoded);
        if (error == AVERROR_INVALIDDATA && !source->info.is_still) {
            /* A damaged container: decode what was read so far, as the ffmpeg command does. */
            verge_log(VERGE_LOG_WARNING, "%s: stopped reading after frame %lld: %s", source->uri,
                      (long long)source->decoded, media_error_text(error, text, sizeof(text)));
            error = AVERROR_EOF;
        }
        if (error == AVERROR_EOF ||
            (error < 0 && source->demuxer->pb != NULL && avio_feof(source->demuxer->pb))) {
            source->flushing = true;
            error = avcodec_send_packet(source->decoder, NULL);
            if (error < 0 && error != AVERROR_EOF)
                return source_note_damage(source, error);
            return VERGE_OK;
        }
        if (error < 0)
            return verge_fail(media_status_from_averror(error), "%s: read failed after frame %lld: %s",
                              source->uri, (long long)source->decoded,
                              media_error_text(error, text, sizeof(text)));

        if (source->packet->stream_index != source->stream_index) {
            av_packet_unref(source->packet);
            continue;
        }
        error = avcodec_send_packet(source->decoder, source->packet);
        av_packet_unref(source->packet);
        if (error < 0 && error != AVERROR(EAGAIN))
            return source_note_damage(source, error);
        return VERGE_OK;
    }
}

verge_status verge_source_read(verge_source *source, verge_frame *frame)
{
    verge_status status;
    int64_t index;
    int error;

    if (source == NULL || frame == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_source_read: NULL argument");
    memset(frame, 0, sizeof(*frame));
    media_error_detail_clear();
    if (source->finished)
        return VERGE_STATUS_END_OF_STREAM;
    if (source->options.max_frames > 0 && source->delivered >= source->options.max_frames) {
        source->finished = true;
        return VERGE_STATUS_END_OF_STREAM;
    }

    for (;;) {
        error = avcodec_receive_frame(source->decoder, source->frame);
        if (error == AVERROR(EAGAIN)) {
            if (source->flushing)
                return source_finish(source);  /* a decoder that reports EAGAIN while draining */
            status = source_feed_decoder(source);
            if (status != VERGE_OK)
                return status;
            continue;
        }
        if (error == AVERROR_EOF)
            return source_finish(source);
        if (error < 0) {
            status = source_note_damage(source, error);
            if (status != VERGE_OK)
                return status;
            continue;
        }

        index = source->decoded++;
        if (index % source->options.every != 0) {
            av_frame_unref(source->frame);
            continue;
        }

        status = source_convert(source, source->frame);
        if (status == VERGE_OK) {
            frame->image = source->image;
            frame->index = index;
            frame->time = source_frame_time(source, source->frame, index);
            source->delivered++;
        }
        av_frame_unref(source->frame);
        return status;
    }
}

void verge_source_close(verge_source *source)
{
    if (source == NULL)
        return;
    if (source->damaged > WARNED_PACKETS_MAX)
        verge_log(VERGE_LOG_WARNING, "%s: skipped %lld damaged packets in all", source->uri,
                  (long long)source->damaged);
    sws_freeContext(source->scaler);
    av_freep(&source->pixels);
    av_freep(&source->decoded_pixels);
    av_frame_free(&source->frame);
    av_packet_free(&source->packet);
    for (int i = 0; i < source->ahead_count; i++)
        av_packet_free(&source->ahead[i]);
    avcodec_free_context(&source->decoder);
    avformat_close_input(&source->demuxer);
    if (source->avio != NULL) {
        /* A custom reader belongs to the caller of avformat_open_input(), not to the demuxer. */
        av_freep(&source->avio->buffer);
        avio_context_free(&source->avio);
    }
    media_log_flush();
    free(source->uri);
    free(source->url);
    free(source);
}
