#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/core.h"
#include "vision/media_internal.h"

enum {
    JPEG_QSCALE = 2,     /* MJPEG quantizer scale, 1 (best) .. 31 */
    MPEG4_QSCALE = 4,    /* MPEG-4 part 2 quantizer scale for the fallback encoder */
    FPS_MAX = 1000,
    VIDEO_THREADS_DEFAULT = 2,
    VIDEO_THREADS_MAX = 16,
};

/*
 * libx264 settings on top of preset "veryfast" that reduce the frames the
 * encoder keeps in memory. x264's defaults are 1.5 frame threads per core, a
 * lookahead thread, 3 B-frames and a 10-frame lookahead. With them the encoder
 * took about 230 MiB at 1920x1080 and 800 MiB at 3840x2160 on a 2-core
 * machine. These settings with 2 threads halve that (docs/benchmarks.md,
 * "Annotated video").
 * The lookahead stays because macroblock-tree rate control needs it: with
 * tune zerolatency, which drops both, files grew 3 to 5 times at CRF 23.
 */
static const char X264_FRUGAL_PARAMS[] = "ref=1:bframes=1:rc-lookahead=5:sync-lookahead=0";

static bool image_is_valid(const verge_image *image)
{
    return image != NULL && image->data != NULL && image->width > 0 && image->height > 0 &&
           image->width <= MEDIA_MAX_SIDE && image->height <= MEDIA_MAX_SIDE &&
           image->stride >= (size_t)image->width * 3 && image->stride <= INT32_MAX;
}

/*
 * Converts RGB pixels of size width x height into `frame` (already allocated
 * with its format and size), scaling when the sizes differ. YUV output uses
 * the BT.601 matrix, in full range when `full_range` is set.
 */
static verge_status convert_rgb_to_frame(struct SwsContext **scaler, const uint8_t *pixels,
                                         size_t stride, int width, int height, AVFrame *frame,
                                         enum AVPixelFormat format, bool full_range,
                                         const char *path)
{
    const uint8_t *source_planes[4] = {pixels, NULL, NULL, NULL};
    const int source_strides[4] = {(int)stride, 0, 0, 0};
    const AVPixFmtDescriptor *descriptor = av_pix_fmt_desc_get(format);
    int *inverse_table, *table;
    int source_range, destination_range, brightness, contrast, saturation;

    *scaler = sws_getCachedContext(*scaler, width, height, AV_PIX_FMT_RGB24, frame->width,
                                   frame->height, format, SWS_BICUBIC, NULL, NULL, NULL);
    if (*scaler == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY,
                          "%s: cannot create a converter from RGB %dx%d to %s %dx%d", path, width,
                          height, descriptor != NULL ? descriptor->name : "?", frame->width,
                          frame->height);

    if (descriptor != NULL && (descriptor->flags & AV_PIX_FMT_FLAG_RGB) == 0) {
        sws_getColorspaceDetails(*scaler, &inverse_table, &source_range, &table,
                                 &destination_range, &brightness, &contrast, &saturation);
        sws_setColorspaceDetails(*scaler, inverse_table, source_range,
                                 sws_getCoefficients(SWS_CS_ITU601), full_range, brightness,
                                 contrast, saturation);
    }
    sws_scale(*scaler, source_planes, source_strides, 0, height, frame->data, frame->linesize);
    return VERGE_OK;
}

static verge_status fail_av(int error, const char *path, const char *action)
{
    char text[MEDIA_ERROR_TEXT_MAX];

    return verge_fail(media_status_from_averror(error), "%s: %s: %s", path, action,
                      media_error_text(error, text, sizeof(text)));
}

/* ---- Still images ------------------------------------------------------- */

typedef struct image_format {
    const char *extension;
    enum AVCodecID codec;
    enum AVPixelFormat pixel_format;
} image_format;

static const image_format image_formats[] = {
    {".jpg", AV_CODEC_ID_MJPEG, AV_PIX_FMT_YUV444P},
    {".jpeg", AV_CODEC_ID_MJPEG, AV_PIX_FMT_YUV444P},
    {".png", AV_CODEC_ID_PNG, AV_PIX_FMT_RGB24},
    {".bmp", AV_CODEC_ID_BMP, AV_PIX_FMT_BGR24},
};

static const image_format *image_format_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash != NULL ? slash : path, '.');
    size_t i;

    if (dot == NULL)
        return NULL;
    for (i = 0; i < VERGE_ARRAY_SIZE(image_formats); i++)
        if (strcasecmp(dot, image_formats[i].extension) == 0)
            return &image_formats[i];
    return NULL;
}

/* Writes every packet the encoder returns to `file`. */
static verge_status image_write_packets(AVCodecContext *encoder, AVPacket *packet, FILE *file,
                                        const char *path)
{
    int error;

    for (;;) {
        error = avcodec_receive_packet(encoder, packet);
        if (error == AVERROR(EAGAIN) || error == AVERROR_EOF)
            return VERGE_OK;
        if (error < 0)
            return fail_av(error, path, "cannot encode image");
        if (fwrite(packet->data, 1, (size_t)packet->size, file) != (size_t)packet->size) {
            av_packet_unref(packet);
            return verge_fail(VERGE_STATUS_IO_ERROR, "%s: cannot write: %s", path,
                              strerror(errno));
        }
        av_packet_unref(packet);
    }
}

verge_status verge_image_write(const char *path, const verge_image *image)
{
    const image_format *format;
    const AVCodec *codec;
    AVCodecContext *encoder = NULL;
    AVFrame *frame = NULL;
    AVPacket *packet = NULL;
    struct SwsContext *scaler = NULL;
    FILE *file = NULL;
    verge_status status;
    int error;

    if (path == NULL || path[0] == '\0')
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_image_write: empty path");
    if (!image_is_valid(image))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: the image is empty or its size or stride is invalid", path);
    format = image_format_for(path);
    if (format == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: unknown image extension; use .jpg, .jpeg, .png or .bmp", path);

    media_init();
    media_error_detail_clear();
    codec = avcodec_find_encoder(format->codec);
    if (codec == NULL)
        return verge_fail(VERGE_STATUS_UNSUPPORTED, "%s: this FFmpeg build has no %s encoder",
                          path, avcodec_get_name(format->codec));

    encoder = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    packet = av_packet_alloc();
    if (encoder == NULL || frame == NULL || packet == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate an encoder", path);
        goto cleanup;
    }
    encoder->width = image->width;
    encoder->height = image->height;
    encoder->pix_fmt = format->pixel_format;
    encoder->time_base = (AVRational){1, 1};
    if (format->codec == AV_CODEC_ID_MJPEG) {
        /* Plain yuv444p is standard JPEG once tagged full range; yuvj444p is deprecated. */
        encoder->color_range = AVCOL_RANGE_JPEG;
        encoder->colorspace = AVCOL_SPC_BT470BG;
        encoder->flags |= AV_CODEC_FLAG_QSCALE;
        encoder->global_quality = FF_QP2LAMBDA * JPEG_QSCALE;
    }
    error = avcodec_open2(encoder, codec, NULL);
    if (error < 0) {
        status = fail_av(error, path, "cannot open the image encoder");
        goto cleanup;
    }

    frame->format = encoder->pix_fmt;
    frame->width = image->width;
    frame->height = image->height;
    frame->color_range = encoder->color_range;
    frame->colorspace = encoder->colorspace;
    frame->quality = encoder->global_quality;
    error = av_frame_get_buffer(frame, 0);
    if (error < 0) {
        status = fail_av(error, path, "cannot allocate the image");
        goto cleanup;
    }
    status = convert_rgb_to_frame(&scaler, image->data, image->stride, image->width,
                                  image->height, frame, format->pixel_format,
                                  format->codec == AV_CODEC_ID_MJPEG, path);
    if (status != VERGE_OK)
        goto cleanup;

    file = fopen(path, "wb");
    if (file == NULL) {
        status = verge_fail(errno == ENOENT ? VERGE_STATUS_NOT_FOUND : VERGE_STATUS_IO_ERROR,
                            "%s: cannot create: %s", path, strerror(errno));
        goto cleanup;
    }

    error = avcodec_send_frame(encoder, frame);
    if (error < 0) {
        status = fail_av(error, path, "cannot encode image");
        goto cleanup;
    }
    status = image_write_packets(encoder, packet, file, path);
    if (status != VERGE_OK)
        goto cleanup;
    error = avcodec_send_frame(encoder, NULL);
    if (error < 0 && error != AVERROR_EOF) {
        status = fail_av(error, path, "cannot finish image");
        goto cleanup;
    }
    status = image_write_packets(encoder, packet, file, path);
    if (status != VERGE_OK)
        goto cleanup;

    error = fclose(file);
    file = NULL;
    if (error != 0) {
        status = verge_fail(VERGE_STATUS_IO_ERROR, "%s: cannot write: %s", path, strerror(errno));
        remove(path);
    }

cleanup:
    if (file != NULL) {
        fclose(file);
        remove(path);
    }
    sws_freeContext(scaler);
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&encoder);
    media_log_flush();
    return status;
}

/* ---- Video -------------------------------------------------------------- */

struct verge_video_writer {
    char *path;
    AVFormatContext *muxer;
    AVStream *stream;
    AVCodecContext *encoder;
    AVFrame *frame;
    AVPacket *packet;
    struct SwsContext *scaler;

    int width;                /* requested size */
    int height;
    int encoded_width;        /* size in the file, rounded up to even */
    int encoded_height;
    uint8_t *padded;          /* RGB copy of an odd-sized frame with its edge repeated */
    size_t padded_stride;

    int64_t next_pts;         /* in encoder time base units: one per frame */
    bool file_open;
    bool header_written;
    bool failed;
};

/* Containers the writer accepts by extension; other names get MP4. */
static const char *const video_containers[] = {"mp4", "mov", "matroska", "avi"};

static const AVOutputFormat *video_container_for(const char *path)
{
    const AVOutputFormat *guess = av_guess_format(NULL, path, NULL);
    size_t i;

    if (guess != NULL)
        for (i = 0; i < VERGE_ARRAY_SIZE(video_containers); i++)
            if (strcmp(guess->name, video_containers[i]) == 0)
                return guess;
    return av_guess_format("mp4", NULL, NULL);
}

static const AVCodec *video_encoder_for(const AVOutputFormat *container, const char *name)
{
    const AVCodec *codec;

    if (name != NULL)
        return avcodec_find_encoder_by_name(name);
    codec = avcodec_find_encoder_by_name("libx264");
    if (codec != NULL && avformat_query_codec(container, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) == 1)
        return codec;
    return avcodec_find_encoder(AV_CODEC_ID_MPEG4);
}

static verge_status video_configure_encoder(verge_video_writer *writer, const AVCodec *codec,
                                            double fps, int threads)
{
    AVCodecContext *encoder = writer->encoder;
    /* MPEG-4 part 2 allows time base denominators up to 65535. */
    AVRational rate = av_d2q(fps, 65535);
    int error;

    encoder->width = writer->encoded_width;
    encoder->height = writer->encoded_height;
    encoder->pix_fmt = AV_PIX_FMT_YUV420P;
    encoder->framerate = rate;
    encoder->time_base = av_inv_q(rate);
    encoder->color_range = AVCOL_RANGE_MPEG;
    encoder->colorspace = AVCOL_SPC_SMPTE170M;  /* the BT.601 matrix swscale converts with */
    encoder->thread_count = threads;
    if (writer->muxer->oformat->flags & AVFMT_GLOBALHEADER)
        encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    if (strcmp(codec->name, "libx264") == 0) {
        error = av_opt_set(encoder->priv_data, "preset", "veryfast", 0);
        if (error >= 0)
            error = av_opt_set(encoder->priv_data, "crf", "23", 0);
        if (error >= 0)
            error = av_opt_set(encoder->priv_data, "x264-params", X264_FRUGAL_PARAMS, 0);
        if (error < 0)
            return fail_av(error, writer->path, "cannot set libx264 options");
    } else if (codec->id == AV_CODEC_ID_MPEG4) {
        encoder->flags |= AV_CODEC_FLAG_QSCALE;
        encoder->global_quality = FF_QP2LAMBDA * MPEG4_QSCALE;
    }

    error = avcodec_open2(encoder, codec, NULL);
    if (error < 0)
        return fail_av(error, writer->path, "cannot open the video encoder");

    error = avcodec_parameters_from_context(writer->stream->codecpar, encoder);
    if (error < 0)
        return fail_av(error, writer->path, "cannot configure the video stream");
    writer->stream->time_base = encoder->time_base;
    writer->stream->avg_frame_rate = rate;
    return VERGE_OK;
}

static verge_status video_allocate_buffers(verge_video_writer *writer)
{
    size_t bytes;
    int error;

    writer->frame->format = AV_PIX_FMT_YUV420P;
    writer->frame->width = writer->encoded_width;
    writer->frame->height = writer->encoded_height;
    writer->frame->color_range = writer->encoder->color_range;
    writer->frame->colorspace = writer->encoder->colorspace;
    error = av_frame_get_buffer(writer->frame, 0);
    if (error < 0)
        return fail_av(error, writer->path, "cannot allocate a video frame");

    if (writer->encoded_width != writer->width || writer->encoded_height != writer->height) {
        writer->padded_stride = (size_t)writer->encoded_width * 3;
        if (!verge_size_mul(writer->padded_stride, (size_t)writer->encoded_height, &bytes))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "%s: size %dx%d overflows",
                              writer->path, writer->width, writer->height);
        writer->padded = malloc(bytes);
        if (writer->padded == NULL)
            return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a %dx%d frame",
                              writer->path, writer->encoded_width, writer->encoded_height);
    }
    return VERGE_OK;
}

static verge_status video_writer_open(const char *path, int width, int height, double fps,
                                      const char *encoder_name, int threads,
                                      verge_video_writer **writer_out)
{
    const AVOutputFormat *container;
    const AVCodec *codec;
    verge_video_writer *writer = NULL;
    verge_status status;
    int error;

    if (writer_out == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_video_writer_open: writer is NULL");
    *writer_out = NULL;
    if (path == NULL || path[0] == '\0')
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_video_writer_open: empty path");
    if (width < 1 || height < 1 || width > MEDIA_MAX_SIDE || height > MEDIA_MAX_SIDE)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: video size %dx%d is outside 1..%d pixels per side", path, width,
                          height, MEDIA_MAX_SIDE);
    if (!(fps > 0 && fps <= FPS_MAX))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: frame rate %g is outside (0, %d] frames per second", path, fps,
                          FPS_MAX);
    if (threads < 1 || threads > VIDEO_THREADS_MAX)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: %d encoder threads is outside 1..%d", path, threads,
                          VIDEO_THREADS_MAX);

    media_init();
    media_error_detail_clear();
    container = video_container_for(path);
    if (container == NULL)
        return verge_fail(VERGE_STATUS_UNSUPPORTED, "%s: this FFmpeg build has no MP4 muxer", path);
    codec = video_encoder_for(container, encoder_name);
    if (codec == NULL)
        return verge_fail(VERGE_STATUS_UNSUPPORTED,
                          "%s: this FFmpeg build has no %s video encoder", path,
                          encoder_name != NULL ? encoder_name : "H.264 or MPEG-4");

    writer = calloc(1, sizeof(*writer));
    if (writer == NULL)
        return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a video writer", path);
    writer->width = width;
    writer->height = height;
    writer->encoded_width = width + (width & 1);
    writer->encoded_height = height + (height & 1);
    writer->path = strdup(path);
    writer->encoder = avcodec_alloc_context3(codec);
    writer->frame = av_frame_alloc();
    writer->packet = av_packet_alloc();
    error = avformat_alloc_output_context2(&writer->muxer, container, NULL, path);
    if (writer->path == NULL || writer->encoder == NULL || writer->frame == NULL ||
        writer->packet == NULL || error < 0) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a video writer", path);
        goto cleanup;
    }
    writer->stream = avformat_new_stream(writer->muxer, NULL);
    if (writer->stream == NULL) {
        status = verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "%s: cannot allocate a video stream", path);
        goto cleanup;
    }

    status = video_configure_encoder(writer, codec, fps, threads);
    if (status != VERGE_OK)
        goto cleanup;
    status = video_allocate_buffers(writer);
    if (status != VERGE_OK)
        goto cleanup;

    if ((container->flags & AVFMT_NOFILE) == 0) {
        error = avio_open(&writer->muxer->pb, path, AVIO_FLAG_WRITE);
        if (error < 0) {
            status = fail_av(error, path, "cannot create");
            goto cleanup;
        }
        writer->file_open = true;
    }
    error = avformat_write_header(writer->muxer, NULL);
    if (error < 0) {
        status = fail_av(error, path, "cannot write the video header");
        goto cleanup;
    }
    writer->header_written = true;

    *writer_out = writer;
    return VERGE_OK;

cleanup:
    /* A file without a header is useless: remove it. */
    if (writer->file_open) {
        avio_closep(&writer->muxer->pb);
        writer->file_open = false;
        remove(path);
    }
    verge_video_writer_close(writer);
    return status;
}

verge_status media_video_writer_open_with(const char *path, int width, int height, double fps,
                                          const char *encoder_name, verge_video_writer **writer)
{
    return video_writer_open(path, width, height, fps, encoder_name, VIDEO_THREADS_DEFAULT,
                             writer);
}

verge_status verge_video_writer_open(const char *path, int width, int height, double fps,
                                     verge_video_writer **writer)
{
    return video_writer_open(path, width, height, fps, NULL, VIDEO_THREADS_DEFAULT, writer);
}

verge_status verge_video_writer_open_threads(const char *path, int width, int height, double fps,
                                             int threads, verge_video_writer **writer)
{
    return video_writer_open(path, width, height, fps, NULL, threads, writer);
}

const char *media_video_writer_encoder(const verge_video_writer *writer)
{
    return writer->encoder->codec->name;
}

/* Sends every packet the encoder has ready to the muxer. */
static verge_status video_write_packets(verge_video_writer *writer)
{
    int error;

    for (;;) {
        error = avcodec_receive_packet(writer->encoder, writer->packet);
        if (error == AVERROR(EAGAIN) || error == AVERROR_EOF)
            return VERGE_OK;
        if (error < 0)
            return fail_av(error, writer->path, "cannot encode video");

        av_packet_rescale_ts(writer->packet, writer->encoder->time_base, writer->stream->time_base);
        writer->packet->stream_index = writer->stream->index;
        error = av_interleaved_write_frame(writer->muxer, writer->packet);
        /* Buffered output records a failed write(2) in pb->error rather than returning it. */
        if (error >= 0 && writer->muxer->pb != NULL && writer->muxer->pb->error < 0)
            error = writer->muxer->pb->error;
        if (error < 0)
            return fail_av(error, writer->path, "cannot write video");
    }
}

/* Copies an odd-sized image into the even-sized buffer, repeating its last column and row. */
static void video_pad_image(verge_video_writer *writer, const verge_image *image)
{
    const size_t row_bytes = (size_t)image->width * 3;
    int y;

    for (y = 0; y < writer->encoded_height; y++) {
        const uint8_t *from = image->data + (size_t)(y < image->height ? y : image->height - 1) *
                                                image->stride;
        uint8_t *to = writer->padded + (size_t)y * writer->padded_stride;

        memcpy(to, from, row_bytes);
        if (writer->encoded_width != image->width)
            memcpy(to + row_bytes, from + row_bytes - 3, 3);
    }
}

verge_status verge_video_writer_write(verge_video_writer *writer, const verge_image *image)
{
    verge_status status;
    int error;

    if (writer == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "verge_video_writer_write: writer is NULL");
    if (!image_is_valid(image))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "%s: frame %lld is empty or its size or stride is invalid", writer->path,
                          (long long)writer->next_pts);
    if (writer->failed)
        return verge_fail(VERGE_STATUS_IO_ERROR,
                          "%s: an earlier frame could not be encoded or written; close the "
                          "writer",
                          writer->path);
    media_error_detail_clear();

    error = av_frame_make_writable(writer->frame);
    if (error < 0) {
        status = fail_av(error, writer->path, "cannot allocate a video frame");
        goto cleanup;
    }

    if (writer->padded != NULL && image->width == writer->width &&
        image->height == writer->height) {
        video_pad_image(writer, image);
        status = convert_rgb_to_frame(&writer->scaler, writer->padded, writer->padded_stride,
                                      writer->encoded_width, writer->encoded_height, writer->frame,
                                      AV_PIX_FMT_YUV420P, false, writer->path);
    } else {
        status = convert_rgb_to_frame(&writer->scaler, image->data, image->stride, image->width,
                                      image->height, writer->frame, AV_PIX_FMT_YUV420P, false,
                                      writer->path);
    }
    if (status != VERGE_OK)
        goto cleanup;

    writer->frame->pts = writer->next_pts++;
    writer->frame->quality = writer->encoder->global_quality;
    error = avcodec_send_frame(writer->encoder, writer->frame);
    if (error < 0) {
        status = fail_av(error, writer->path, "cannot encode video");
        goto cleanup;
    }
    status = video_write_packets(writer);

cleanup:
    if (status != VERGE_OK)
        writer->failed = true;
    return status;
}

verge_status verge_video_writer_close(verge_video_writer *writer)
{
    verge_status status = VERGE_OK;
    int error;

    if (writer == NULL)
        return VERGE_OK;
    media_error_detail_clear();

    if (writer->header_written) {
        if (writer->failed)
            status = verge_fail(VERGE_STATUS_IO_ERROR,
                                "%s: the video is incomplete because an earlier frame could "
                                "not be encoded or written",
                                writer->path);
        else {
            error = avcodec_send_frame(writer->encoder, NULL);
            if (error < 0 && error != AVERROR_EOF)
                status = fail_av(error, writer->path, "cannot flush the video encoder");
            else
                status = video_write_packets(writer);
        }
        /* The trailer is written even after a failure, so that the frames written so far play. */
        error = av_write_trailer(writer->muxer);
        if (error < 0 && status == VERGE_OK)
            status = fail_av(error, writer->path, "cannot finish the video file");
    }
    if (writer->file_open) {
        if (writer->muxer->pb->error < 0 && status == VERGE_OK)
            status = fail_av(writer->muxer->pb->error, writer->path, "cannot write video");
        error = avio_closep(&writer->muxer->pb);
        if (error < 0 && status == VERGE_OK)
            status = fail_av(error, writer->path, "cannot close the video file");
    }

    sws_freeContext(writer->scaler);
    free(writer->padded);
    av_packet_free(&writer->packet);
    av_frame_free(&writer->frame);
    avcodec_free_context(&writer->encoder);
    avformat_free_context(writer->muxer);
    media_log_flush();
    free(writer->path);
    free(writer);
    return status;
}
