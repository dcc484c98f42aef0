/* query: query-string parsing with strict percent-decoding. */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes |len| bytes at |s| into |out| (NUL-terminated); returns the
 * decoded length or -1 on a bad escape or an embedded NUL. */
static long decode(const char *s, size_t len, char *out) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return -1;
            i += 2;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return (long)n;
}

int query_parse(query *out, const char *q, size_t len,
                const char *const *allowed) {
    memset(out, 0, sizeof *out);
    if (q == NULL || len == 0)
        return 0;
    out->storage = malloc(len + QUERY_MAX_PARAMS * 2 + 2);
    if (out->storage == NULL) {
        snprintf(out->error, sizeof out->error, "out of memory");
        return -1;
    }
    char *dst = out->storage;
    size_t i = 0;
    while (i <= len) {
        size_t end = i;
        while (end < len && q[end] != '&')
            end++;
        if (end > i) {
            const char *eq = memchr(q + i, '=', end - i);
            size_t nlen = eq ? (size_t)(eq - (q + i)) : end - i;
            if (out->count == QUERY_MAX_PARAMS) {
                snprintf(out->error, sizeof out->error,
                         "too many query parameters (at most %d)",
                         QUERY_MAX_PARAMS);
                return -1;
            }
            query_param *p = &out->params[out->count];
            p->name = dst;
            long n = decode(q + i, nlen, dst);
            if (n < 0) {
                snprintf(out->error, sizeof out->error,
                         "malformed percent-encoding in the query string");
                return -1;
            }
            dst += n + 1;
            p->value = dst;
            n = eq ? decode(eq + 1, (size_t)(q + end - eq - 1), dst)
                   : decode("", 0, dst);
            if (n < 0) {
                snprintf(out->error, sizeof out->error,
                         "malformed percent-encoding in parameter '%.40s'",
                         p->name);
                return -1;
            }
            p->value_len = (size_t)n;
            dst += n + 1;
            int known = 0;
            for (const char *const *a = allowed; a && *a; a++)
                if (strcmp(*a, p->name) == 0)
                    known = 1;
            if (!known) {
                snprintf(out->error, sizeof out->error,
                         "unknown query parameter '%.40s'", p->name);
                return -1;
            }
            for (size_t k = 0; k < out->count; k++) {
                if (strcmp(out->params[k].name, p->name) == 0) {
                    snprintf(out->error, sizeof out->error,
                             "query parameter '%.40s' given twice", p->name);
                    return -1;
                }
            }
            out->count++;
        }
        i = end + 1;
    }
    return 0;
}

void query_free(query *q) {
    free(q->storage);
    q->storage = NULL;
    q->count = 0;
}

const char *query_get(const query *q, const char *name) {
    for (size_t i = 0; i < q->count; i++)
        if (strcmp(q->params[i].name, name) == 0)
            return q->params[i].value;
    return NULL;
}
