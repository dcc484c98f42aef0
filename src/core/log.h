/* log: structured logs, one JSON object per line, with ECS keys.
 *
 * Two sinks. The application log (levels, to stderr by default) is written
 * line by line, at once. The access log is hot: lines are buffered per
 * thread and flushed in whole lines when the buffer fills, when a worker's
 * periodic timer calls log_access_flush(), and at thread exit; one mutex
 * guards only the write(2) of a flush, never the formatting.
 *
 * A line is built with log_begin(), log_str()/log_int()..., log_end(). The
 * builder lives in thread-local storage: no allocation per line, and a line
 * must be finished on the thread that began it. */
#ifndef OBJECTD_LOG_H
#define OBJECTD_LOG_H

#include <stddef.h>
#include <string.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"

typedef enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARN = 2,
    LOG_ERROR = 3,
} log_level;

/* Parses "debug", "info", "warn", "error"; -1 if none of them. */
int log_level_parse(const char *s);

/* Application log level and file descriptor (default: info, stderr). */
void log_set_level(log_level level);
void log_set_fd(int fd);
int log_enabled(log_level level);

/* Access log destination: "-" (stdout), "off", or a file path (appended,
 * created 0644). Returns 0 or -errno. */
int log_access_open(const char *dest);
int log_access_enabled(void);
void log_access_close(void);

typedef struct log_line log_line;

/* Begins an application log line at |level| (NULL if that level is off). */
log_line *log_begin(log_level level, const char *message);
/* Begins an access log line (NULL if the access log is off). */
log_line *log_access_begin(void);

/* Fields. The key's length is taken here, in the caller, so that for the
 * usual literal key the compiler folds it (the access log writes a dozen
 * fields per request). */
void log_field_str(log_line *l, const char *key, size_t key_len,
                   const char *value, size_t len);
void log_field_int(log_line *l, const char *key, size_t key_len, int64_t value);

static inline void log_strn(log_line *l, const char *key, const char *value,
                            size_t len) {
    log_field_str(l, key, strlen(key), value, len);
}

static inline void log_str(log_line *l, const char *key, const char *value) {
    if (value == NULL)
        value = "";
    log_field_str(l, key, strlen(key), value, strlen(value));
}

static inline void log_int(log_line *l, const char *key, int64_t value) {
    log_field_int(l, key, strlen(key), value);
}

/* For a writer that formats many fields at once: room for |n| more bytes
 * of the line (fields start with a comma: ",\"key\":value"), then
 * log_commit with the end of what was written. NULL (and the line will be
 * dropped) when the line would exceed its limit, or |l| is NULL. */
char *log_reserve(log_line *l, size_t n);
void log_commit(log_line *l, const char *end);

void log_end(log_line *l);

/* Writes this thread's buffered access lines. */
void log_access_flush(void);

/* Flushes and frees this thread's log buffers; call before a thread exits. */
void log_thread_cleanup(void);

/* Convenience: a one-line message with no extra keys. */
void log_msg(log_level level, const char *message);

#endif
