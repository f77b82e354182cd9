/*
 * Status codes, error messages and the logging hook.
 *
 * Every fallible verge function returns a verge_status. When it is not
 * VERGE_OK, verge_error_message() returns a sentence that names the file, the
 * item and the bad value, for example:
 *
 *     model.tflite: tensor 17 'conv1/w': buffer 12 size 4096 exceeds the file
 *
 * The message is stored per thread and stays valid until the next failing
 * call on the same thread. The library never prints: log lines go to the
 * callback set with verge_log_set_callback() (stderr by default, at
 * VERGE_LOG_WARNING and above).
 */
#ifndef VERGE_STATUS_H
#define VERGE_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum verge_status {
    VERGE_OK = 0,
    VERGE_STATUS_INVALID_ARGUMENT, /* a caller passed a bad value or option */
    VERGE_STATUS_INVALID_MODEL,    /* a model file is corrupt or inconsistent */
    VERGE_STATUS_INVALID_DATA,     /* an input file or payload is malformed */
    VERGE_STATUS_UNSUPPORTED,      /* valid, but this build cannot do it */
    VERGE_STATUS_NOT_FOUND,        /* a file, tensor or device does not exist */
    VERGE_STATUS_IO_ERROR,         /* reading or writing failed */
    VERGE_STATUS_OUT_OF_MEMORY,    /* an allocation failed or passed a cap */
    VERGE_STATUS_END_OF_STREAM,    /* a source has no more frames or rows */
    VERGE_STATUS_INTERNAL,         /* a bug in verge: please report it */
} verge_status;

/* Returns a short constant description of a status, e.g. "invalid model". */
const char *verge_status_str(verge_status status);

/* Returns the message of the last failure on this thread ("" if none). */
const char *verge_error_message(void);

/* Clears the message of the last failure on this thread. */
void verge_error_clear(void);

typedef enum verge_log_level {
    VERGE_LOG_DEBUG = 0,
    VERGE_LOG_INFO,
    VERGE_LOG_WARNING,
    VERGE_LOG_ERROR,
} verge_log_level;

typedef void (*verge_log_callback)(verge_log_level level, const char *message, void *user);

/*
 * Sends log lines at `min_level` and above to `callback`. A NULL callback
 * restores the default, which writes to stderr. Not thread-safe: call it
 * before starting threads that use verge.
 */
void verge_log_set_callback(verge_log_callback callback, void *user, verge_log_level min_level);

#ifdef __cplusplus
}
#endif

#endif
