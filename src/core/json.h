/* json: the JSON writer's building blocks (strings, numbers), and a
 * scanner that skips over JSON text. */
#ifndef OBJECTD_JSON_H
#define OBJECTD_JSON_H

#include <stddef.h>
#include <string.h>

#include "buf.h"

/* Appends |s| (|len| bytes) to |b| as a JSON string with quotes; invalid
 * UTF-8 becomes U+FFFD, so the output is always valid JSON.
 * Returns 0 or a negative errno from buf. */
int json_append_string(buf *b, const char *s, size_t len);

/* The same into |out|, which has room for JSON_QUOTED_MAX(len) bytes (the
 * worst case: every byte escaped as \u00XX, and the quotes). Returns the
 * length written. For writers that reserve room once for many fields. */
#define JSON_QUOTED_MAX(len) (6 * (size_t)(len) + 2)
size_t json_quote(char *out, const char *s, size_t len);

/* Writes |s| (|n| bytes) at |out| as a JSON string without escaping it,
 * for text known to need none - our own names (route templates, query
 * names), a method we route; returns the position past the closing
 * quote. What a client sent goes through json_quote. */
static inline char *json_put_plain(char *out, const char *s, size_t n) {
    *out++ = '"';
    memcpy(out, s, n);
    out += n;
    *out++ = '"';
    return out;
}

/* Copies the string literal |lit| to |p| and moves |p| past it: the
 * constant parts of such writers, their length known at compile time. */
#define JSON_PUT_LIT(p, lit)                                                   \
    do {                                                                       \
        memcpy((p), "" lit, sizeof(lit) - 1);                                  \
        (p) += sizeof(lit) - 1;                                                \
    } while (0)

/* Scanning JSON text without parsing it, for text known to be well-formed
 * (or whose caller checks where the scan stopped): each returns the
 * position just past what it skipped, or |end| when the text ends first.
 * json_skip_string takes |p| at the opening quote; json_skip_value skips
 * a string, a whole object or array (brackets counted outside strings)
 * or a scalar (up to the next delimiter: it may skip nothing). */
const char *json_skip_ws(const char *p, const char *end);
const char *json_skip_string(const char *p, const char *end);
const char *json_skip_value(const char *p, const char *end);

#endif
