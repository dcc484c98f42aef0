/* buf: a growable byte buffer with a hard maximum size.
 *
 * Every dynamic buffer in objectd has a limit (nothing a peer sends can grow
 * memory without bound). A buf owns its |data|; buf_free releases it. */
#ifndef OBJECTD_BUF_H
#define OBJECTD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* growth beyond this fails with -ENOBUFS */
} buf;

enum { BUF_DEFAULT_MAX = 64 * 1024 * 1024 };

/* An empty buffer that may grow to |max| bytes (0 means BUF_DEFAULT_MAX).
 * Allocates nothing until the first append. */
void buf_init(buf *b, size_t max);
void buf_free(buf *b);

/* The slow path of buf_reserve: grows the allocation. */
int buf_grow(buf *b, size_t extra);

/* Makes room for |extra| more bytes. 0, -ENOMEM or -ENOBUFS (over max).
 * Inline: the writers call it (and buf_append) once per field. */
static inline int buf_reserve(buf *b, size_t extra) {
    if (extra <= b->cap - b->len)
        return 0;
    return buf_grow(b, extra);
}

/* Appends; 0 or a negative errno as for buf_reserve (buffer unchanged). */
static inline int buf_append(buf *b, const void *p, size_t n) {
    int rc = buf_reserve(b, n);
    if (rc == 0 && n) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
    return rc;
}
int buf_append_str(buf *b, const char *s);
int buf_append_char(buf *b, char c);
int buf_append_u64(buf *b, unsigned long long v);
int buf_appendf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Removes the first |n| bytes, moving the rest to the front. */
void buf_consume(buf *b, size_t n);

/* Writes the decimal digits of |v| to |out| (room for 20); returns count.
 * Below 1000 - status codes, row and query counts, small sizes: half the
 * numbers an access line and its spans hold - inline, without a call;
 * fmt_u64_wide (any value) otherwise. */
size_t fmt_u64_wide(char *out, unsigned long long v);
static inline size_t fmt_u64(char *out, unsigned long long v) {
    if (v >= 1000)
        return fmt_u64_wide(out, v);
    unsigned u = (unsigned)v;
    if (u < 10) {
        out[0] = (char)('0' + u);
        return 1;
    }
    if (u < 100) {
        out[0] = (char)('0' + u / 10);
        out[1] = (char)('0' + u % 10);
        return 2;
    }
    out[0] = (char)('0' + u / 100);
    out[1] = (char)('0' + u / 10 % 10);
    out[2] = (char)('0' + u % 10);
    return 3;
}

/* Writes |v| (< 10^9) as exactly nine digits, zeros in front; returns 9. */
size_t fmt_u32_fixed9(char *out, unsigned v);

#endif
