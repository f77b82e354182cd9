#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "core/core.h"
#include "vision/media_internal.h"

enum { LOG_LINE_MAX = 1024 };

/*
 * FFmpeg writes one line in several av_log() calls, so pieces are collected
 * per thread until a newline. Identical consecutive lines are counted and
 * reported once, because damaged streams repeat the same warning per frame.
 */
typedef struct log_state {
    char line[LOG_LINE_MAX];
    size_t length;
    int level;                    /* most severe FFmpeg level among the pieces */
    char previous[LOG_LINE_MAX];  /* last line sent */
    verge_log_level previous_level;
    unsigned repeats;             /* copies of `previous` suppressed since it was sent */
} log_state;

static _Thread_local log_state thread_log;

/* The last FFmpeg error line on this thread, added to failure messages as the detail. */
static _Thread_local char last_error[256];

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static verge_log_level log_level_from_ffmpeg(int level)
{
    if (level <= AV_LOG_ERROR)
        return VERGE_LOG_ERROR;
    if (level <= AV_LOG_WARNING)
        return VERGE_LOG_WARNING;
    if (level <= AV_LOG_INFO)
        return VERGE_LOG_INFO;
    return VERGE_LOG_DEBUG;
}

static void log_flush_repeats(log_state *state)
{
    if (state->repeats > 0)
        verge_log(state->previous_level, "ffmpeg: last message repeated %u more times",
                  state->repeats);
    state->repeats = 0;
}

static void log_emit(log_state *state)
{
    verge_log_level level = log_level_from_ffmpeg(state->level);

    while (state->length > 0 && (state->line[state->length - 1] == '\n' ||
                                 state->line[state->length - 1] == '\r'))
        state->line[--state->length] = '\0';

    if (state->length > 0 && state->level <= AV_LOG_ERROR) {
        size_t copied = state->length < sizeof(last_error) ? state->length
                                                           : sizeof(last_error) - 1;

        memcpy(last_error, state->line, copied);
        last_error[copied] = '\0';
    }

    if (state->length > 0) {
        if (level == state->previous_level && strcmp(state->line, state->previous) == 0) {
            state->repeats++;
        } else {
            log_flush_repeats(state);
            verge_log(level, "ffmpeg: %s", state->line);
            memcpy(state->previous, state->line, state->length + 1);
            state->previous_level = level;
        }
    }
    state->length = 0;
    state->line[0] = '\0';
    state->level = AV_LOG_TRACE;
}

static void log_append(log_state *state, const char *text)
{
    size_t room = sizeof(state->line) - 1 - state->length;
    size_t length = strlen(text);

    if (length > room)
        length = room;
    memcpy(state->line + state->length, text, length);
    state->length += length;
    state->line[state->length] = '\0';
}

/* Receives every av_log() call of the process once media_init() has run. */
static void log_from_ffmpeg(void *context, int level, const char *fmt, va_list args)
{
    log_state *state = &thread_log;
    char piece[LOG_LINE_MAX];
    size_t length;

    if (level > AV_LOG_DEBUG || level < 0)
        return;

    vsnprintf(piece, sizeof(piece), fmt, args);

    /* Start a line with the component that logged it, e.g. "h264: ". */
    if (state->length == 0) {
        const AVClass *av_class = context != NULL ? *(const AVClass *const *)context : NULL;

        state->level = level;
        if (av_class != NULL && av_class->item_name != NULL) {
            log_append(state, av_class->item_name(context));
            log_append(state, ": ");
        }
    }
    if (level < state->level)
        state->level = level;

    log_append(state, piece);
    length = strlen(piece);
    if (length > 0 && piece[length - 1] == '\n')
        log_emit(state);
}

void media_log_flush(void)
{
    log_state *state = &thread_log;

    if (state->length > 0)
        log_emit(state);
    log_flush_repeats(state);
    state->previous[0] = '\0';
}

void media_error_detail_clear(void)
{
    last_error[0] = '\0';
}

const char *media_error_detail(void)
{
    return last_error;
}

static void media_init_once(void)
{
    avdevice_register_all();
    avformat_network_init();
    av_log_set_callback(log_from_ffmpeg);
}

void media_init(void)
{
    pthread_once(&init_once, media_init_once);
}

verge_status media_status_from_averror(int error)
{
    switch (error) {
    case AVERROR(ENOENT):
    case AVERROR(ENODEV):
    case AVERROR(ENXIO):
    case AVERROR_HTTP_NOT_FOUND:
        return VERGE_STATUS_NOT_FOUND;
    case AVERROR(ENOMEM):
        return VERGE_STATUS_OUT_OF_MEMORY;
    case AVERROR_INVALIDDATA:
    case AVERROR_EOF:
    case AVERROR_STREAM_NOT_FOUND:
        return VERGE_STATUS_INVALID_DATA;
    case AVERROR_DECODER_NOT_FOUND:
    case AVERROR_DEMUXER_NOT_FOUND:
    case AVERROR_ENCODER_NOT_FOUND:
    case AVERROR_MUXER_NOT_FOUND:
    case AVERROR_PROTOCOL_NOT_FOUND:
    case AVERROR_FILTER_NOT_FOUND:
    case AVERROR_OPTION_NOT_FOUND:
    case AVERROR_PATCHWELCOME:
    case AVERROR(ENOSYS):
        return VERGE_STATUS_UNSUPPORTED;
    default:
        return VERGE_STATUS_IO_ERROR;
    }
}

const char *media_error_text(int error, char *buf, size_t size)
{
    char description[AV_ERROR_MAX_STRING_SIZE];

    if (av_strerror(error, description, sizeof(description)) < 0)
        snprintf(description, sizeof(description), "FFmpeg error %d", error);
    if (last_error[0] != '\0')
        snprintf(buf, size, "%s (%s)", description, last_error);
    else
        snprintf(buf, size, "%s", description);
    return buf;
}
