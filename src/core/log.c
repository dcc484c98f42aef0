/* log: JSON-lines logging; see log.h for the two sinks. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timeutil.h"

enum { ACCESS_FLUSH_BYTES = 32 * 1024, LINE_MAX_BYTES = 64 * 1024 };

struct log_line {
    buf b;
    int access; /* 1: access sink, 0: application sink */
    int active;
};

static atomic_int app_level = LOG_INFO;
static atomic_int app_fd = 2;
static atomic_int access_fd = -1;
static int access_owned; /* we opened it, so we close it */
static pthread_mutex_t access_write_lock = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local log_line tls_line;
static _Thread_local buf tls_access; /* pending access lines */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *s) {
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void log_set_level(log_level level) {
    atomic_store(&app_level, (int)level);
}

void log_set_fd(int fd) {
    atomic_store(&app_fd, fd);
}

int log_enabled(log_level level) {
    return (int)level >= atomic_load(&app_level);
}

int log_access_open(const char *dest) {
    log_access_close();
    if (strcmp(dest, "off") == 0)
        return 0;
    if (strcmp(dest, "-") == 0) {
        atomic_store(&access_fd, 1);
        return 0;
    }
    int fd = open(dest, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    access_owned = 1;
    atomic_store(&access_fd, fd);
    return 0;
}

int log_access_enabled(void) {
    return atomic_load(&access_fd) >= 0;
}

void log_access_close(void) {
    int fd = atomic_exchange(&access_fd, -1);
    if (fd >= 0 && access_owned)
        close(fd);
    access_owned = 0;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* a log sink that fails must not stop the server */
        }
        p += w;
        n -= (size_t)w;
    }
}

static log_line *begin(int access, const char *message) {
    log_line *l = &tls_line;
    if (l->b.max == 0)
        buf_init(&l->b, LINE_MAX_BYTES);
    l->b.len = 0;
    l->access = access;
    l->active = 1;
    char ts[32];
    size_t n = time_format_rfc3339_ms(time_wall_ns(), ts);
    buf_append(&l->b, "{\"@timestamp\":\"", 15);
    buf_append(&l->b, ts, n);
    buf_append_char(&l->b, '"');
    (void)message;
    return l;
}

log_line *log_begin(log_level level, const char *message) {
    if (!log_enabled(level))
        return NULL;
    log_line *l = begin(0, message);
    log_str(l, "log.level", level_names[level]);
    log_str(l, "message", message);
    return l;
}

log_line *log_access_begin(void) {
    if (!log_access_enabled())
        return NULL;
    log_line *l = begin(1, NULL);
    log_str(l, "log.level", "info");
    log_str(l, "message", "access");
    return l;
}

static void key(log_line *l, const char *k) {
    buf_append(&l->b, ",\"", 2);
    buf_append_str(&l->b, k);
    buf_append(&l->b, "\":", 2);
}

void log_str(log_line *l, const char *k, const char *value) {
    if (l == NULL)
        return;
    if (value == NULL)
        value = "";
    log_strn(l, k, value, strlen(value));
}

void log_strn(log_line *l, const char *k, const char *value, size_t len) {
    if (l == NULL)
        return;
    key(l, k);
    json_append_string(&l->b, value, len);
}

void log_int(log_line *l, const char *k, int64_t value) {
    if (l == NULL)
        return;
    key(l, k);
    if (value < 0) {
        buf_append_char(&l->b, '-');
        buf_append_u64(&l->b, (unsigned long long)(-(value + 1)) + 1);
    } else {
        buf_append_u64(&l->b, (unsigned long long)value);
    }
}

void log_access_flush(void) {
    buf *p = &tls_access;
    if (p->len == 0)
        return;
    int fd = atomic_load(&access_fd);
    if (fd >= 0) {
        pthread_mutex_lock(&access_write_lock);
        write_all(fd, p->data, p->len);
        pthread_mutex_unlock(&access_write_lock);
    }
    p->len = 0;
}

void log_end(log_line *l) {
    if (l == NULL || !l->active)
        return;
    l->active = 0;
    if (buf_append(&l->b, "}\n", 2) != 0) {
        /* Over LINE_MAX_BYTES: a line cut short is worse than none. */
        return;
    }
    if (l->access) {
        buf *p = &tls_access;
        if (p->max == 0)
            buf_init(p, 4 * ACCESS_FLUSH_BYTES);
        if (buf_append(p, l->b.data, l->b.len) != 0) {
            log_access_flush();
            buf_append(p, l->b.data, l->b.len);
        }
        if (p->len >= ACCESS_FLUSH_BYTES)
            log_access_flush();
        return;
    }
    write_all(atomic_load(&app_fd), l->b.data, l->b.len);
}

void log_msg(log_level level, const char *message) {
    log_end(log_begin(level, message));
}

void log_thread_cleanup(void) {
    log_access_flush();
    buf_free(&tls_access);
    buf_free(&tls_line.b);
    tls_access.max = 0;
    tls_line.b.max = 0;
}
