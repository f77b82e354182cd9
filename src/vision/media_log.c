#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libavdevice/version_major.h>
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
    char pending[LOG_LINE_MAX];   /* the last error line, not sent yet (see log_emit) */
    bool has_pending;
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

/* Sends a complete line to verge_log, counting identical consecutive lines instead. */
static void log_send(log_state *state, verge_log_level level, const char *line)
{
    if (level == state->previous_level && strcmp(line, state->previous) == 0) {
        state->repeats++;
        return;
    }
    log_flush_repeats(state);
    verge_log(level, "ffmpeg: %s", line);
    snprintf(state->previous, sizeof(state->previous), "%s", line);
    state->previous_level = level;
}

static void log_send_pending(log_state *state)
{
    if (state->has_pending) {
        state->has_pending = false;
        log_send(state, VERGE_LOG_ERROR, state->pending);
    }
}

/*
 * Ends the line collected so far. An error line becomes the detail of the
 * next failure message (media_error_text) and is held back: when that
 * message uses it, it is not logged as well. Otherwise it is logged when the
 * next error line comes, or when the source or writer closes, so it may
 * follow warnings that FFmpeg wrote after it.
 */
static void log_emit(log_state *state)
{
    verge_log_level level = log_level_from_ffmpeg(state->level);

    while (state->length > 0 && (state->line[state->length - 1] == '\n' ||
                                 state->line[state->length - 1] == '\r'))
        state->line[--state->length] = '\0';

    if (state->length > 0 && state->level <= AV_LOG_ERROR) {
        size_t copied = state->length < sizeof(last_error) ? state->length
                                                           : sizeof(last_error) - 1;

        /* The same error again (probing, then decoding) is one problem: keep one copy. */
        if (state->has_pending && strcmp(state->pending, state->line) != 0)
            log_send_pending(state);
        memcpy(last_error, state->line, copied);
        last_error[copied] = '\0';
        memcpy(state->pending, state->line, state->length + 1);
        state->has_pending = true;
    } else if (state->length > 0) {
        log_send(state, level, state->line);
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
    log_send_pending(state);
    log_flush_repeats(state);
    state->previous[0] = '\0';
}

void media_error_detail_clear(void)
{
    /* A held error line stays held: the same line again replaces it rather than adding a copy. */
    last_error[0] = '\0';
}

const char *media_error_detail(void)
{
    return last_error;
}

static void media_init_once(void)
{
    avformat_network_init();
    av_log_set_callback(log_from_ffmpeg);
}

void media_init(void)
{
    pthread_once(&init_once, media_init_once);
}

/*
 * libavdevice is loaded when an input format is not found without it, not
 * linked: it brings about 80 more shared libraries (X11, PulseAudio, SDL,
 * ...): linked, it made `verge --version` take 48 ms instead of 25 ms on
 * the machine of docs/benchmarks.md.
 */
static pthread_once_t devices_once = PTHREAD_ONCE_INIT;

static void load_devices_once(void)
{
    char name[32];
    void *library;
    void (*register_all)(void);

    snprintf(name, sizeof(name), "libavdevice.so.%d", LIBAVDEVICE_VERSION_MAJOR);
    library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        verge_log(VERGE_LOG_WARNING, "cannot load %s, so cameras and other device inputs are "
                  "not available: %s", name, dlerror());
        return;
    }
    /* POSIX lets a data pointer from dlsym() be converted to a function pointer this way. */
    *(void **)&register_all = dlsym(library, "avdevice_register_all");
    if (register_all == NULL) {
        verge_log(VERGE_LOG_WARNING, "%s has no avdevice_register_all, so device inputs are not "
                  "available", name);
        return;
    }
    register_all();
}

const AVInputFormat *media_find_input_format(const char *name)
{
    const AVInputFormat *format = av_find_input_format(name);

    if (format == NULL) {
        pthread_once(&devices_once, load_devices_once);
        format = av_find_input_format(name);
    }
    return format;
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
    if (last_error[0] != '\0') {
        snprintf(buf, size, "%s (%s)", description, last_error);
        /* The line is in the caller's message now, so it is not logged too. */
        thread_log.has_pending = false;
    } else {
        snprintf(buf, size, "%s", description);
    }
    return buf;
}
