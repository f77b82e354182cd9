#include <stdio.h>
#include <string.h>

#include "core/core.h"

enum { ERROR_MESSAGE_MAX = 1024 };

static _Thread_local char error_message[ERROR_MESSAGE_MAX];

static verge_log_callback log_callback;
static void *log_user;
static verge_log_level log_min_level = VERGE_LOG_WARNING;

const char *verge_status_str(verge_status status)
{
    switch (status) {
    case VERGE_OK: return "ok";
    case VERGE_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case VERGE_STATUS_INVALID_MODEL: return "invalid model";
    case VERGE_STATUS_INVALID_DATA: return "invalid data";
    case VERGE_STATUS_UNSUPPORTED: return "unsupported";
    case VERGE_STATUS_NOT_FOUND: return "not found";
    case VERGE_STATUS_IO_ERROR: return "I/O error";
    case VERGE_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VERGE_STATUS_END_OF_STREAM: return "end of stream";
    case VERGE_STATUS_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *verge_error_message(void)
{
    return error_message;
}

void verge_error_clear(void)
{
    error_message[0] = '\0';
}

verge_status verge_fail(verge_status status, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsnprintf(error_message, sizeof(error_message), fmt, args);
    va_end(args);
    return status;
}

verge_status verge_fail_prefix(verge_status status, const char *fmt, ...)
{
    char previous[ERROR_MESSAGE_MAX];
    size_t used;
    va_list args;

    memcpy(previous, error_message, sizeof(previous));
    if (previous[0] == '\0')
        snprintf(previous, sizeof(previous), "%s", verge_status_str(status));

    va_start(args, fmt);
    vsnprintf(error_message, sizeof(error_message), fmt, args);
    va_end(args);

    used = strlen(error_message);
    if (used + 2 < sizeof(error_message)) {
        memcpy(error_message + used, ": ", 2);
        used += 2;
        /* Truncation keeps the start of the original message, the most useful part. */
        memcpy(error_message + used, previous, sizeof(error_message) - used - 1);
        error_message[sizeof(error_message) - 1] = '\0';
    }
    return status;
}

void verge_log_set_callback(verge_log_callback callback, void *user, verge_log_level min_level)
{
    log_callback = callback;
    log_user = user;
    log_min_level = min_level;
}

void verge_log(verge_log_level level, const char *fmt, ...)
{
    static const char *const level_names[] = {"debug", "info", "warning", "error"};
    char line[ERROR_MESSAGE_MAX];
    va_list args;

    if (level < log_min_level)
        return;

    va_start(args, fmt);
    vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);

    if (log_callback != NULL)
        log_callback(level, line, log_user);
    else
        fprintf(stderr, "verge: %s: %s\n", level_names[level], line);
}
