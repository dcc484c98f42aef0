/* log: JSON-lines logging; see log.h for the two sinks. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeutil.h"

enum {
    /* Pending access lines are written at once when they reach this: one
     * write (and, on a pipe, one wake-up of its reader) per ~600 lines. A
     * 32 KiB write cost the kernel ~30 us on the test VM, half of it the
     * wake-up or (to a file) the inode's times, paid once per write. */
    ACCESS_FLUSH_BYTES = 256 * 1024,
    LINE_MAX_BYTES = 64 * 1024,
    PIPE_WANT_BYTES = 1024 * 1024, /* see pipe_enlarge */
};

/* A line is written in place: an application line into its own buffer, an
 * access line at the end of the thread's pending block (no copy from one
 * to the other; a dropped line is cut off again). */
struct log_line {
    buf *b;
    size_t start; /* where the line begins in *b */
    int access;   /* 1: access sink, 0: application sink */
    int active;
    int overflow; /* a field did not fit: the line is dropped */
};

static atomic_int app_level = LOG_INFO;
static atomic_int app_fd = 2;
static atomic_int access_fd = -1;
static int access_owned; /* we opened it, so we close it */
static pthread_mutex_t access_write_lock = PTHREAD_MUTEX_INITIALIZER;

/* One line of each kind may be open at a time per thread: an application
 * line made while an access line is open (by code that runs between its
 * begin and end) leaves the access line alone. */
static _Thread_local log_line tls_access_line, tls_app_line;
static _Thread_local buf tls_app;    /* the application line being made */
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

/* A pipe (stdout read by a container runtime or a log shipper, or a
 * named pipe given as the path) holds
 * 64 KiB by default, a quarter of one of our blocks: the worker writing
 * one waits for the reader to take the rest. Ask for PIPE_WANT_BYTES (four
 * blocks) - best effort: the kernel caps it at fs.pipe-max-size, and the
 * default works, only slower. */
static void pipe_enlarge(int fd) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
        (void)fcntl(fd, F_SETPIPE_SZ, PIPE_WANT_BYTES);
}

int log_access_open(const char *dest) {
    log_access_close();
    if (strcmp(dest, "off") == 0)
        return 0;
    if (strcmp(dest, "-") == 0) {
        pipe_enlarge(1);
        atomic_store(&access_fd, 1);
        return 0;
    }
    int fd = open(dest, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    pipe_enlarge(fd);
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

/* "YYYY-MM-DDTHH:MM:SS" of the last second this thread logged in: a line
 * formats its milliseconds only, not the calendar (gmtime_r) each time. */
static _Thread_local struct {
    int64_t second;
    char text[32]; /* time_format_rfc3339_ms's output in that second */
} tls_clock = {.second = -1};

static log_line *begin(int access, const char *message) {
    log_line *l = access ? &tls_access_line : &tls_app_line;
    if (l->active && l->access) /* begun and never ended: not written */
        l->b->len = l->start;
    if (access) {
        l->b = &tls_access;
        /* Under ACCESS_FLUSH_BYTES pending (log_end writes the block
         * out when it gets there), so a whole line has room. */
        if (l->b->max == 0)
            buf_init(l->b, ACCESS_FLUSH_BYTES + LINE_MAX_BYTES);
    } else {
        l->b = &tls_app;
        if (l->b->max == 0)
            buf_init(l->b, LINE_MAX_BYTES);
        l->b->len = 0;
    }
    l->start = l->b->len;
    l->access = access;
    l->active = 1;
    l->overflow = 0;
    int64_t now = time_wall_ns();
    char line[48] = "{\"@timestamp\":\"";
    if (now < 0) { /* a clock before 1970: no cache for that */
        size_t n = time_format_rfc3339_ms(now, line + 15);
        line[15 + n] = '"';
        l->overflow = buf_append(l->b, line, 16 + n) != 0;
    } else {
        int64_t second = now / 1000000000, ms = now / 1000000 % 1000;
        if (second != tls_clock.second) {
            time_format_rfc3339_ms(now, tls_clock.text);
            tls_clock.second = second;
        }
        memcpy(line + 15, tls_clock.text, 20); /* through the '.' */
        line[35] = (char)('0' + ms / 100);
        line[36] = (char)('0' + ms / 10 % 10);
        line[37] = (char)('0' + ms % 10);
        line[38] = 'Z';
        line[39] = '"';
        l->overflow = buf_append(l->b, line, 40) != 0;
    }
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
    static const char level_message[] =
        ",\"log.level\":\"info\",\"message\":\"access\"";
    if (buf_append(l->b, level_message, sizeof level_message - 1) != 0)
        l->overflow = 1;
    return l;
}

static void key(log_line *l, const char *k, size_t klen) {
    if (buf_reserve(l->b, klen + 4) != 0) {
        l->overflow = 1;
        return;
    }
    char *p = l->b->data + l->b->len;
    p[0] = ',';
    p[1] = '"';
    memcpy(p + 2, k, klen);
    p[klen + 2] = '"';
    p[klen + 3] = ':';
    l->b->len += klen + 4;
}

void log_field_str(log_line *l, const char *k, size_t klen, const char *value,
                   size_t len) {
    if (l == NULL)
        return;
    key(l, k, klen);
    if (json_append_string(l->b, value, len) != 0)
        l->overflow = 1;
}

void log_field_int(log_line *l, const char *k, size_t klen, int64_t value) {
    if (l == NULL)
        return;
    key(l, k, klen);
    char digits[21];
    size_t n = 0;
    if (value < 0) {
        digits[n++] = '-';
        n += fmt_u64(digits + 1, (unsigned long long)(-(value + 1)) + 1);
    } else {
        n = fmt_u64(digits, (unsigned long long)value);
    }
    if (buf_append(l->b, digits, n) != 0)
        l->overflow = 1;
}

char *log_reserve(log_line *l, size_t n) {
    if (l == NULL)
        return NULL;
    if (buf_reserve(l->b, n) != 0) {
        l->overflow = 1;
        return NULL;
    }
    return l->b->data + l->b->len;
}

void log_commit(log_line *l, const char *end) {
    l->b->len = (size_t)(end - l->b->data);
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
    buf *b = l->b;
    if (l->overflow || buf_append(b, "}\n", 2) != 0 ||
        b->len - l->start > LINE_MAX_BYTES) {
        /* Over LINE_MAX_BYTES: a line cut short is worse than none. */
        b->len = l->start;
        return;
    }
    if (l->access) {
        if (b->len >= ACCESS_FLUSH_BYTES)
            log_access_flush();
        return;
    }
    write_all(atomic_load(&app_fd), b->data, b->len);
}

void log_msg(log_level level, const char *message) {
    log_end(log_begin(level, message));
}

void log_thread_cleanup(void) {
    log_access_flush();
    buf_free(&tls_access);
    buf_free(&tls_app);
    tls_access.max = 0;
    tls_app.max = 0;
}
