/* analysis: statistics of one object's revisions, readings and events,
 * written straight to JSON.
 *
 * This is the work behind every analysis request, so it is written to be
 * fast cold: one scratch allocation per call, numbers formatted by hand
 * (dtoa_shortest for doubles, digit pairs for integers and times; printf
 * would dominate the cost), each reading visited a handful of times, and
 * percentiles by selection rather than sorting. The numbers that must be
 * exact are: count, min, max and the percentiles (values of the input),
 * and the mean is compensated-summed so it is as close to correctly
 * rounded as two roundings allow. */
#include "analysis.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "digits.h"
#include "dtoa.h"
#include "json.h"
#include "select.h"

/* Results must not depend on the compiler: the seeded workload must give
 * the same analysis everywhere, and docs/analysis-example.json is compared
 * byte for byte. So no fusing of a * b + c into one rounding (clang takes
 * the standard pragma; GCC ignores it with a warning, and fuses under
 * -std=gnu11 on FMA hardware unless told), and no -ffast-math, which would
 * also optimise the compensated sums away. */
#if defined(__FAST_MATH__)
#error "analysis.c needs IEEE 754 arithmetic: build it without -ffast-math"
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define US_PER_HOUR INT64_C(3600000000)
#define US_PER_DAY INT64_C(86400000000)
/* RFC 3339 has four-digit years: 0000-01-01T00:00:00Z and
 * 9999-12-31T23:59:59.999999Z. */
#define TIME_MIN_US INT64_C(-62167219200000000)
#define TIME_MAX_US INT64_C(253402300799999999)

enum {
    RECENT_REVISIONS = 20,
    RECENT_EVENTS = 100,
    MAX_ANOMALIES = 50,
    HOURLY_DAYS = 7,
    DEFAULT_DAYS = 30,
    RAW_MAX_DEPTH = 2048, /* as jansson's parser, which admitted the text */
    /* Room for one member beyond its indentation: key, punctuation and the
     * longest value (dtoa_shortest writes DTOA_BUFSIZE bytes). */
    MEMBER_ROOM = 64 + DTOA_BUFSIZE,
    DEPTH_ROOM = 32, /* see put_indent */
};

/* Constant keys need no escaping; pass them with their length. */
#define KEY(s) s, sizeof(s) - 1

/* ---- The JSON writer ---- */

/* Writes into a buf: each call reserves room for what it writes, then
 * writes with plain stores. The first error sticks and turns the rest
 * into no-ops, so callers check once, at the end. */
typedef struct jw {
    buf *b;
    int pretty;
    int depth; /* open containers */
    int first; /* the innermost container has no member yet */
    int err;
    /* The last date written by put_day: consecutive hourly buckets share
     * it. */
    int64_t day;
    char date[10];
} jw;

static void jw_fail(jw *w, int err) {
    if (w->err == 0)
        w->err = err;
}

/* A pointer to room for |n| bytes plus a separator and indentation, or
 * NULL after an error. */
static inline char *jw_room(jw *w, size_t n) {
    n += 2 + 2 * (size_t)w->depth + DEPTH_ROOM;
    if (w->err)
        return NULL;
    /* buf_reserve is a call into another file: skip it while there is
     * room, as there nearly always is. */
    if (w->b->cap - w->b->len < n) {
        int rc = buf_reserve(w->b, n);
        if (rc) {
            w->err = rc;
            return NULL;
        }
    }
    return w->b->data + w->b->len;
}

static void jw_end(jw *w, char *p) {
    w->b->len = (size_t)(p - w->b->data);
}

/* Callers reserve 2 * depth + 2 bytes, and DEPTH_ROOM more, so that
 * shallow indentation (all of ours) is two fixed-size stores. */
static inline char *put_indent(char *p, int depth) {
    static const char spaces[32] = "                                ";
    *p++ = '\n';
    if (depth <= 16)
        memcpy(p, spaces, 32);
    else
        memset(p, ' ', 2 * (size_t)depth);
    return p + 2 * depth;
}

/* What goes before a member or an element: a comma unless it is the
 * first, then (pretty) a new line. */
static inline char *put_sep(jw *w, char *p) {
    if (!w->first)
        *p++ = ',';
    w->first = 0;
    return w->pretty ? put_indent(p, w->depth) : p;
}

static inline char *put_key(jw *w, char *p, const char *key, size_t klen) {
    p = json_put_plain(put_sep(w, p), key, klen); /* keys are ours */
    *p++ = ':';
    if (w->pretty)
        *p++ = ' ';
    return p;
}

/* Integers: the server's one integer writer (fmt_u64, src/core/buf.c),
 * straight into the output (the callers reserve MEMBER_ROOM). */
static char *put_u64(char *p, uint64_t v) {
    return p + fmt_u64(p, v);
}

static char *put_i64(char *p, int64_t v) {
    if (v >= 0)
        return put_u64(p, (uint64_t)v);
    *p++ = '-';
    return put_u64(p, -(uint64_t)v);
}

/* Doubles: shortest round-trip form; null for what JSON cannot say. */
static char *put_f64(char *p, double v) {
    if (!isfinite(v)) {
        memcpy(p, "null", 4);
        return p + 4;
    }
    return p + dtoa_shortest(v, p);
}

/* ---- Times ---- */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return q - (a % b < 0);
}

/* The proleptic Gregorian date of |days| since 1970-01-01. Counting from
 * 0000-03-01 puts the leap day last in its year and makes the calendar
 * repeat every 400 years (146097 days), so the year falls out of a few
 * divisions and the month of a linear formula (153 days per 5 months). */
static void civil_from_days(int64_t days, int64_t *y, unsigned *m,
                            unsigned *d) {
    int64_t z = days + 719468; /* days since 0000-03-01 */
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097); /* [0, 146096] */
    unsigned yoe =
        (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);    /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                         /* March = 0 */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put2(char *p, unsigned v) {
    memcpy(p, digit_pairs + 2 * v, 2);
    return p + 2;
}

/* "YYYY-MM-DD" for a day (since the epoch) within years 0000-9999. */
static char *put_date(char *p, int64_t day) {
    int64_t y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    p = put2(p, (unsigned)(y / 100));
    p = put2(p, (unsigned)(y % 100));
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    return put2(p, d);
}

/* put_date, remembering the last one. */
static char *put_day(jw *w, char *p, int64_t day) {
    if (day != w->day) {
        put_date(w->date, day);
        w->day = day;
    }
    memcpy(p, w->date, 10);
    return p + 10;
}

/* "YYYY-MM-DDTHH:00:00Z" for an hour since the epoch. */
static char *put_hour(jw *w, char *p, int64_t hour) {
    int64_t day = floor_div(hour, 24);
    p = put_day(w, p, day);
    *p++ = 'T';
    p = put2(p, (unsigned)(hour - day * 24));
    memcpy(p, ":00:00Z", 7);
    return p + 7;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" for |us| within TIME_MIN_US..TIME_MAX_US
 * (microseconds truncated towards the past). */
static char *put_time(char *p, int64_t us) {
    int64_t ms = floor_div(us, 1000);
    int64_t day = floor_div(ms, 86400000);
    unsigned msod = (unsigned)(ms - day * 86400000);
    unsigned sec = msod / 1000;
    p = put_date(p, day);
    *p++ = 'T';
    p = put2(p, sec / 3600);
    *p++ = ':';
    p = put2(p, sec / 60 % 60);
    *p++ = ':';
    p = put2(p, sec % 60);
    *p++ = '.';
    *p++ = (char)('0' + msod % 1000 / 100);
    p = put2(p, msod % 100);
    *p++ = 'Z';
    return p;
}

static int time_ok(int64_t us) {
    return us >= TIME_MIN_US && us <= TIME_MAX_US;
}

/* ---- Members and elements ---- */

static void jw_key(jw *w, const char *key, size_t klen) {
    char *p = jw_room(w, klen + 8);
    if (p)
        jw_end(w, put_key(w, p, key, klen));
}

/* A key that may need escaping (metric names, kinds, severities). */
static void jw_key_str(jw *w, const char *name) {
    char *p = jw_room(w, 0);
    if (p == NULL)
        return;
    jw_end(w, put_sep(w, p));
    int rc = json_append_string(w->b, name, strlen(name));
    if (rc)
        jw_fail(w, rc);
    if ((p = jw_room(w, 2)) == NULL)
        return;
    *p++ = ':';
    if (w->pretty)
        *p++ = ' ';
    jw_end(w, p);
}

/* Before an array element. */
static void jw_elem(jw *w) {
    char *p = jw_room(w, 0);
    if (p)
        jw_end(w, put_sep(w, p));
}

static void jw_open(jw *w, char c) {
    char *p = jw_room(w, 1);
    if (p == NULL)
        return;
    *p++ = c;
    jw_end(w, p);
    w->depth++;
    w->first = 1;
}

static char *put_close(jw *w, char *p, char c) {
    w->depth--;
    if (w->pretty && !w->first)
        p = put_indent(p, w->depth);
    *p++ = c;
    w->first = 0;
    return p;
}

static void jw_close(jw *w, char c) {
    char *p = jw_room(w, 1);
    if (p)
        jw_end(w, put_close(w, p, c));
}

static void m_open(jw *w, const char *key, size_t klen, char c) {
    jw_key(w, key, klen);
    jw_open(w, c);
}

static void m_u64(jw *w, const char *key, size_t klen, uint64_t v) {
    char *p = jw_room(w, klen + MEMBER_ROOM);
    if (p)
        jw_end(w, put_u64(put_key(w, p, key, klen), v));
}

static void m_i64(jw *w, const char *key, size_t klen, int64_t v) {
    char *p = jw_room(w, klen + MEMBER_ROOM);
    if (p)
        jw_end(w, put_i64(put_key(w, p, key, klen), v));
}

static void m_f64(jw *w, const char *key, size_t klen, double v) {
    char *p = jw_room(w, klen + MEMBER_ROOM);
    if (p)
        jw_end(w, put_f64(put_key(w, p, key, klen), v));
}

static void m_bool(jw *w, const char *key, size_t klen, int v) {
    char *p = jw_room(w, klen + MEMBER_ROOM);
    if (p == NULL)
        return;
    p = put_key(w, p, key, klen);
    memcpy(p, v ? "true" : "false", 5);
    jw_end(w, p + (v ? 4 : 5));
}

static void m_time(jw *w, const char *key, size_t klen, int64_t us) {
    if (!time_ok(us)) {
        jw_fail(w, -EINVAL);
        return;
    }
    char *p = jw_room(w, klen + MEMBER_ROOM);
    if (p == NULL)
        return;
    p = put_key(w, p, key, klen);
    *p++ = '"';
    p = put_time(p, us);
    *p++ = '"';
    jw_end(w, p);
}

/* A string member; NULL is an error unless |null_ok| (then null). */
static void m_str(jw *w, const char *key, size_t klen, const char *s,
                  int null_ok) {
    if (s == NULL && !null_ok) {
        jw_fail(w, -EINVAL);
        return;
    }
    char *p = jw_room(w, klen + MEMBER_ROOM);
    if (p == NULL)
        return;
    p = put_key(w, p, key, klen);
    if (s == NULL) {
        memcpy(p, "null", 4);
        jw_end(w, p + 4);
        return;
    }
    jw_end(w, p);
    int rc = json_append_string(w->b, s, strlen(s));
    if (rc)
        jw_fail(w, rc);
}

/* ---- JSON text from the store (attributes, event data) ---- */

/* Length of the valid UTF-8 sequence at |p| (|n| bytes left), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

static int hex4(const unsigned char *p, const unsigned char *end,
                unsigned *cp) {
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *cp = v;
    return 0;
}

/* Past the string literal whose opening quote is at |p|, or NULL if it
 * is not a valid one (controls, bad escapes, lone surrogates, invalid
 * UTF-8: what jansson would refuse). */
static const unsigned char *scan_string(const unsigned char *p,
                                        const unsigned char *end) {
    for (p++; p < end;) {
        unsigned c = *p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c >= 0x80) {
            size_t n = utf8_seq(p, (size_t)(end - p));
            if (n == 0)
                return NULL;
            p += n;
            continue;
        }
        if (c != '\\') {
            p++;
            continue;
        }
        if (end - p < 2)
            return NULL;
        c = p[1];
        if (c != 'u') {
            if (strchr("\"\\/bfnrt", (int)c) == NULL || c == 0)
                return NULL;
            p += 2;
            continue;
        }
        unsigned cp, lo;
        if (hex4(p + 2, end, &cp))
            return NULL;
        p += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return NULL;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                hex4(p + 2, end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return NULL;
            p += 6;
        }
    }
    return NULL;
}

static int is_digit(unsigned c) {
    return c >= '0' && c <= '9';
}

static const unsigned char *scan_number(const unsigned char *p,
                                        const unsigned char *end) {
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && is_digit(*p)) {
        while (p < end && is_digit(*p))
            p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        if (++p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    return p;
}

static int is_ws(unsigned c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Checks that |s| (|n| bytes) is one JSON value (RFC 8259) with optional
 * whitespace around it, nested at most RAW_MAX_DEPTH deep. Sets *|ws| if
 * there is whitespace outside strings, *|is_object| if the value is an
 * object. 0 or -EINVAL. Iterative, so deep nesting costs no stack. */
static int raw_check(const char *s, size_t n, int *ws, int *is_object) {
    enum { VALUE, VALUE_OR_END, KEY, KEY_OR_END, COLON, AFTER };
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    unsigned char in_obj[RAW_MAX_DEPTH / 8]; /* a bit per open container */
    int depth = 0, state = VALUE;
    *ws = 0;
    *is_object = 0;
    for (const unsigned char *q = p; q < end; q++) {
        if (!is_ws(*q)) {
            *is_object = *q == '{';
            break;
        }
    }
    for (;;) {
        const unsigned char *q = p;
        while (p < end && is_ws(*p))
            p++;
        if (p != q)
            *ws = 1;
        if (p == end)
            break;
        unsigned c = *p;
        switch (state) {
        case VALUE_OR_END:
            if (c == ']') {
                depth--;
                p++;
                state = AFTER;
                continue;
            }
            /* fall through */
        case VALUE:
            if (c == '{' || c == '[') {
                if (depth == RAW_MAX_DEPTH)
                    return -EINVAL;
                if (c == '{')
                    in_obj[depth / 8] |= (unsigned char)(1u << depth % 8);
                else
                    in_obj[depth / 8] &= (unsigned char)~(1u << depth % 8);
                depth++;
                p++;
                state = c == '{' ? KEY_OR_END : VALUE_OR_END;
                continue;
            }
            if (c == '"')
                p = scan_string(p, end);
            else if (c == '-' || is_digit(c))
                p = scan_number(p, end);
            else if (end - p >= 4 && memcmp(p, "true", 4) == 0)
                p += 4;
            else if (end - p >= 5 && memcmp(p, "false", 5) == 0)
                p += 5;
            else if (end - p >= 4 && memcmp(p, "null", 4) == 0)
                p += 4;
            else
                p = NULL;
            if (p == NULL)
                return -EINVAL;
            state = AFTER;
            continue;
        case KEY_OR_END:
            if (c == '}') {
                depth--;
                p++;
                state = AFTER;
                continue;
            }
            /* fall through */
        case KEY:
            if (c != '"' || (p = scan_string(p, end)) == NULL)
                return -EINVAL;
            state = COLON;
            continue;
        case COLON:
            if (c != ':')
                return -EINVAL;
            p++;
            state = VALUE;
            continue;
        default: { /* AFTER */
            if (depth == 0)
                return -EINVAL; /* something after the value */
            int obj = in_obj[(depth - 1) / 8] >> (depth - 1) % 8 & 1;
            if (c == ',') {
                state = obj ? KEY : VALUE;
            } else if (c == (obj ? '}' : ']')) {
                depth--;
                state = AFTER;
            } else {
                return -EINVAL;
            }
            p++;
            continue;
        }
        }
    }
    return state == AFTER && depth == 0 ? 0 : -EINVAL;
}

/* The scanner of src/core/json.c over the unsigned bytes this file
 * checks raw text in; raw_check has accepted the text it walks. */
static const unsigned char *skip_string(const unsigned char *p,
                                        const unsigned char *end) {
    return (const unsigned char *)json_skip_string((const char *)p,
                                                   (const char *)end);
}

static const unsigned char *skip_value(const unsigned char *p,
                                       const unsigned char *end) {
    return (const unsigned char *)json_skip_value((const char *)p,
                                                  (const char *)end);
}

static const unsigned char *skip_ws(const unsigned char *p,
                                    const unsigned char *end) {
    return (const unsigned char *)json_skip_ws((const char *)p,
                                               (const char *)end);
}

/* Whether the array starting just before |p| holds no object or array,
 * so pretty output may keep it on one line. Scans only up to the first
 * nested container, so the whole text costs linear time. */
static int flat_array(const unsigned char *p, const unsigned char *end) {
    while (p < end && *p != ']') {
        if (*p == '{' || *p == '[')
            return 0;
        if (*p == '"')
            p = skip_string(p, end);
        else
            p++;
    }
    return 1;
}

/* Room for punctuation and indentation at |depth|. */
static char *raw_room(jw *w, int depth) {
    if (w->err)
        return NULL;
    int rc = buf_reserve(w->b, 4 + 2 * (size_t)depth + DEPTH_ROOM);
    if (rc) {
        w->err = rc;
        return NULL;
    }
    return w->b->data + w->b->len;
}

static void raw_span(jw *w, const unsigned char *p, const unsigned char *q) {
    int rc = w->err ? 0 : buf_append(w->b, p, (size_t)(q - p));
    if (rc)
        jw_fail(w, rc);
}

/* Writes JSON text that raw_check accepted (|ws|: it has whitespace) in
 * the writer's style: compact text as it is; otherwise reindented, one
 * member per line, arrays of scalars on one line, as our own output. */
static void jw_raw(jw *w, const char *s, size_t n, int ws) {
    if (!w->pretty && !ws) {
        raw_span(w, (const unsigned char *)s, (const unsigned char *)s + n);
        return;
    }
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *q;
    int depth = w->depth, flat = 0;
    char *o;
    while (p < end && w->err == 0) {
        unsigned c = *p;
        switch (c) {
        case ' ':
        case '\t':
        case '\r':
        case '\n':
            p++;
            break;
        case '{':
        case '[':
            q = skip_ws(p + 1, end);
            if ((o = raw_room(w, depth + 1)) == NULL)
                return;
            *o++ = (char)c;
            if (q < end && *q == (c == '{' ? '}' : ']')) { /* empty */
                *o++ = (char)*q;
                p = q + 1;
            } else {
                depth++;
                flat = c == '[' && flat_array(q, end);
                if (w->pretty && !flat)
                    o = put_indent(o, depth);
                p++;
            }
            jw_end(w, o);
            break;
        case '}':
        case ']':
            depth--;
            if ((o = raw_room(w, depth)) == NULL)
                return;
            if (w->pretty && !flat)
                o = put_indent(o, depth);
            *o++ = (char)c;
            flat = 0;
            jw_end(w, o);
            p++;
            break;
        case ',':
        case ':':
            if ((o = raw_room(w, depth)) == NULL)
                return;
            *o++ = (char)c;
            if (w->pretty && (c == ':' || flat))
                *o++ = ' ';
            else if (w->pretty)
                o = put_indent(o, depth);
            jw_end(w, o);
            p++;
            break;
        case '"':
            q = skip_string(p, end);
            raw_span(w, p, q);
            p = q;
            break;
        default: /* numbers, true, false, null */
            q = skip_value(p, end);
            raw_span(w, p, q);
            p = q;
        }
    }
}

/* A member whose value is JSON text (NULL: |null_text|). With |object|,
 * the text must be an object. */
static void m_raw(jw *w, const char *key, size_t klen, const char *text,
                  const char *null_text, int object) {
    int ws, is_object;
    if (text == NULL)
        text = null_text;
    size_t n = strlen(text);
    int rc = raw_check(text, n, &ws, &is_object);
    if (rc == 0 && object && !is_object)
        rc = -EINVAL;
    if (rc) {
        jw_fail(w, rc);
        return;
    }
    jw_key(w, key, klen);
    jw_raw(w, text, n, ws);
}

/* ---- Which attributes a revision changed ---- */

typedef struct member {
    const char *key; /* the key's string literal, quotes included */
    size_t klen;
    const char *val; /* the value's JSON text */
    size_t vlen;
} member;

/* Reads a string literal's decoded (UTF-8) content a byte at a time, so
 * keys compare as the strcmp the store sorted them by, escapes or not. */
typedef struct keyrd {
    const unsigned char *p;
    unsigned char u[4];
    int nu, iu;
} keyrd;

static int key_byte(keyrd *r) {
    if (r->iu < r->nu)
        return r->u[r->iu++];
    unsigned c = *r->p;
    if (c == '"')
        return -1;
    r->p++;
    if (c != '\\')
        return (int)c;
    c = *r->p++;
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'u':
        break;
    default: /* " \ / */
        return (int)c;
    }
    unsigned cp = 0, lo = 0xDC00;
    hex4(r->p, r->p + 4, &cp);
    r->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* raw_check saw the pair */
        hex4(r->p + 2, r->p + 6, &lo);
        r->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (cp < 0x80) {
        return (int)cp;
    } else if (cp < 0x800) {
        r->u[0] = (unsigned char)(0xC0 | cp >> 6);
        r->nu = 2;
    } else if (cp < 0x10000) {
        r->u[0] = (unsigned char)(0xE0 | cp >> 12);
        r->u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        r->nu = 3;
    } else {
        r->u[0] = (unsigned char)(0xF0 | cp >> 18);
        r->u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        r->u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        r->nu = 4;
    }
    r->u[r->nu - 1] = (unsigned char)(0x80 | (cp & 0x3F));
    r->iu = 1;
    return r->u[0];
}

static int key_cmp(const char *a, const char *b) {
    keyrd ra = {(const unsigned char *)a + 1, {0}, 0, 0};
    keyrd rb = {(const unsigned char *)b + 1, {0}, 0, 0};
    for (;;) {
        int x = key_byte(&ra), y = key_byte(&rb);
        if (x != y)
            return x < y ? -1 : 1;
        if (x < 0)
            return 0;
    }
}

static int member_cmp(const void *a, const void *b) {
    return key_cmp(((const member *)a)->key, ((const member *)b)->key);
}

/* Upper bound on the members of an object |n| bytes long: each takes at
 * least 5 bytes ("":0 and a comma or the brace). */
static size_t members_max(size_t n) {
    return n / 5 + 1;
}

/* Splits attributes (an object; NULL is {}) into members sorted by key.
 * Returns the count, or -1 if the text is not a JSON object. */
static long split_members(const char *text, member *m) {
    int ws, is_object;
    if (text == NULL)
        return 0;
    size_t n = strlen(text);
    if (raw_check(text, n, &ws, &is_object) || !is_object)
        return -1;
    const unsigned char *p = (const unsigned char *)text, *end = p + n;
    p = skip_ws(p, end) + 1;
    size_t k = 0;
    int sorted = 1;
    for (;;) {
        p = skip_ws(p, end);
        if (*p == '}')
            break;
        const unsigned char *key = p;
        p = skip_string(p, end);
        m[k].key = (const char *)key;
        m[k].klen = (size_t)(p - key);
        p = skip_ws(skip_ws(p, end) + 1, end); /* past the colon */
        const unsigned char *val = p;
        p = skip_value(p, end);
        m[k].val = (const char *)val;
        m[k].vlen = (size_t)(p - val);
        if (k > 0 && sorted && key_cmp(m[k - 1].key, m[k].key) >= 0)
            sorted = 0;
        k++;
        p = skip_ws(p, end);
        if (*p == ',')
            p++;
    }
    /* The store writes keys sorted; anything else is sorted here, so the
     * comparison below still pairs them up. */
    if (!sorted)
        qsort(m, k, sizeof *m, member_cmp);
    return (long)k;
}

/* "changed": the keys added, removed or with a different value (text;
 * canonical text makes equal values equal bytes) between |prev| and
 * |cur|, in key order, on one line. */
static void m_changed(jw *w, const member *cur, size_t nc, const member *prev,
                      size_t np) {
    jw_key(w, KEY("changed"));
    char *o = jw_room(w, 1);
    if (o == NULL)
        return;
    *o++ = '[';
    jw_end(w, o);
    size_t i = 0, j = 0, count = 0;
    while (i < nc || j < np) {
        const member *pick;
        int c = i == nc ? 1 : j == np ? -1 : key_cmp(cur[i].key, prev[j].key);
        if (c < 0) {
            pick = &cur[i++];
        } else if (c > 0) {
            pick = &prev[j++];
        } else {
            pick = &cur[i];
            int same = cur[i].vlen == prev[j].vlen &&
                       memcmp(cur[i].val, prev[j].val, cur[i].vlen) == 0;
            i++;
            j++;
            if (same)
                continue;
        }
        if ((o = jw_room(w, pick->klen + 2)) == NULL)
            return;
        if (count++) {
            *o++ = ',';
            if (w->pretty)
                *o++ = ' ';
        }
        memcpy(o, pick->key, pick->klen);
        jw_end(w, o + pick->klen);
    }
    if ((o = jw_room(w, 1)) != NULL) {
        *o++ = ']';
        jw_end(w, o);
    }
}

/* ---- Statistics ---- */

/* Neumaier's compensated sum: the error of each addition is carried in
 * |c|, so the total is nearly as exact as the sum rounded once. */
typedef struct ksum {
    double s, c;
} ksum;

static inline void ksum_add(ksum *k, double x) {
    double t = k->s + x;
    if (fabs(k->s) >= fabs(x))
        k->c += (k->s - t) + x;
    else
        k->c += (x - t) + k->s;
    k->s = t;
}

static inline double ksum_get(const ksum *k) {
    return k->s + k->c;
}

/* count, min, max and, of the scaled values (see scale_for), the mean
 * and the population variance. */
typedef struct summary {
    size_t n;
    double min, max, mean_s, var_s;
} summary;

/* The population variance from the sum of |n| deviations from the mean
 * and the sum of their squares: the corrected two-pass formula, whose
 * second term cancels the error in the mean. */
static double variance(double d1, double d2, size_t n) {
    if (n < 2)
        return 0;
    double var = (d2 - d1 * d1 / (double)n) / (double)n;
    return var > 0 ? var : 0;
}

/* Mean by compensated sum; variance by the corrected two-pass formula
 * (sum of squared deviations minus the square of their sum over n, which
 * cancels the error in the mean), never by the cancelling sum of squares. */
static void summarize(const an_obs *o, size_t n, double scale, int want_var,
                      summary *s) {
    ksum sum = {0, 0};
    double min = o[0].value, max = o[0].value;
    for (size_t i = 0; i < n; i++) {
        double x = o[i].value;
        min = x < min ? x : min;
        max = x > max ? x : max;
        ksum_add(&sum, x * scale);
    }
    s->n = n;
    s->min = min;
    s->max = max;
    s->mean_s = ksum_get(&sum) / (double)n;
    s->var_s = 0;
    if (!want_var || n < 2)
        return;
    double d1 = 0, d2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = o[i].value * scale - s->mean_s;
        d1 += d;
        d2 += d * d;
    }
    s->var_s = variance(d1, d2, n);
}

/* A power of two that brings values with magnitudes up to |m| near 1,
 * when they are so large that squared deviations would overflow or so
 * small that they would underflow; else 1 (and results are as computed
 * unscaled, bit for bit). Scaling by a power of two is exact. */
static int scale_for(double m) {
    if (!(m > 0x1p400 || (m > 0 && m < 0x1p-400)))
        return 0;
    int k = -ilogb(m);
    return k < -1000 ? -1000 : k > 1000 ? 1000 : k;
}

/* ---- The analysis ---- */

typedef struct anomaly {
    size_t i; /* index into the window's readings */
    double z;
} anomaly;

/* A distinct string (kind, severity, author) and how often it occurs. */
typedef struct tally {
    const char *s;
    size_t n;
} tally;

/* Scratch memory, one allocation per call, sized for the largest user. */
typedef struct scratch {
    double *vals;       /* a metric's values, for the percentiles */
    double *days;       /* a metric's times, in days from its first */
    anomaly *anomalies; /* a metric's candidates */
    const an_series **order;
    const char **strs;  /* kinds, severities or authors, to count */
    tally *tallies;     /* their counts, one per distinct string */
    member *cur, *prev; /* attributes of two adjacent revisions */
} scratch;

static size_t obs_first_after(const an_obs *o, size_t n, int64_t t) {
    size_t lo = 0, hi = n; /* the first index whose ts > t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o[mid].ts > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static size_t events_first_after(const an_event *e, size_t n, int64_t t) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e[mid].ts > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* One bucket of "daily" (a day since the epoch) or "hourly" (an hour) as
 * an array element, reserved and written in one go: with a thousand of
 * them per analysis, this is most of the output. */
static void write_bucket(jw *w, int hourly, int64_t unit, const summary *s,
                         double unscale) {
    char *p = jw_room(w, 6 * (2 * (size_t)w->depth + 4) + 5 * MEMBER_ROOM);
    if (p == NULL)
        return;
    p = put_sep(w, p);
    *p++ = '{';
    w->depth++;
    w->first = 1;
    if (hourly) {
        p = put_key(w, p, KEY("hour"));
        *p++ = '"';
        p = put_hour(w, p, unit);
    } else {
        p = put_key(w, p, KEY("date"));
        *p++ = '"';
        p = put_day(w, p, unit);
    }
    *p++ = '"';
    p = put_u64(put_key(w, p, KEY("count")), s->n);
    p = put_f64(put_key(w, p, KEY("min")), s->min);
    p = put_f64(put_key(w, p, KEY("max")), s->max);
    p = put_f64(put_key(w, p, KEY("mean")), s->mean_s * unscale);
    jw_end(w, put_close(w, p, '}'));
}

static int anomaly_strength_cmp(const void *a, const void *b) {
    const anomaly *x = a, *y = b;
    double ax = fabs(x->z), ay = fabs(y->z);
    if (ax != ay)
        return ax > ay ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* The metric's member of "metrics": |o| holds its |n| > 0 readings in
 * the window. */
static void write_metric(jw *w, const char *name, const an_obs *o, size_t n,
                         int64_t to, scratch *sc) {
    /* Two passes over the readings for the whole window's statistics
     * (each accumulator sees the same operations in the same order as
     * one pass per statistic would, so the results are the same bits).
     * The first: extremes, the sum, the times in days - the trend's
     * abscissae, counted from the first reading so that they stay small
     * and keep their precision - and a copy of the values to select the
     * percentiles from. The values are summed unscaled: scale_for gives
     * 1 but for extreme magnitudes, which are summed again once known. */
    summary all;
    ksum sum = {0, 0}, tsum = {0, 0};
    double min = o[0].value, max = o[0].value, *days = sc->days;
    for (size_t i = 0; i < n; i++) {
        double x = o[i].value;
        min = x < min ? x : min;
        max = x > max ? x : max;
        ksum_add(&sum, x);
        days[i] = (double)(o[i].ts - o[0].ts) / (double)US_PER_DAY;
        ksum_add(&tsum, days[i]);
        sc->vals[i] = x;
    }
    int k = scale_for(fmax(fabs(min), fabs(max)));
    double scale = ldexp(1, k), unscale = ldexp(1, -k);
    if (k != 0) {
        sum = (ksum){0, 0};
        for (size_t i = 0; i < n; i++)
            ksum_add(&sum, o[i].value * scale);
    }
    all.n = n;
    all.min = min;
    all.max = max;
    all.mean_s = ksum_get(&sum) / (double)n;

    /* The second: deviations from the means, for the variance and the
     * least-squares slope of value against time. */
    double tmean = ksum_get(&tsum) / (double)n, d1 = 0, d2 = 0, sxy = 0,
           sxx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = o[i].value * scale - all.mean_s, dt = days[i] - tmean;
        d1 += d;
        d2 += d * d;
        sxy += dt * d;
        sxx += dt * dt;
    }
    all.var_s = variance(d1, d2, n);
    double trend = n >= 2 && sxx > 0 ? sxy / sxx * unscale : 0;

    /* Nearest rank: the ceil(q n)-th smallest, found by selection (each
     * in the part of the array above the previous one). */
    size_t r50 = (50 * n + 99) / 100 - 1, r90 = (90 * n + 99) / 100 - 1,
           r99 = (99 * n + 99) / 100 - 1;
    const size_t ranks[3] = {r50, r90, r99};
    select_ranks(sc->vals, n, ranks, 3);

    jw_key_str(w, name);
    jw_open(w, '{');
    m_u64(w, KEY("count"), n);
    m_f64(w, KEY("min"), all.min);
    m_f64(w, KEY("max"), all.max);
    m_f64(w, KEY("mean"), all.mean_s * unscale);
    m_f64(w, KEY("stddev"), sqrt(all.var_s) * unscale);
    m_f64(w, KEY("p50"), sc->vals[r50]);
    m_f64(w, KEY("p90"), sc->vals[r90]);
    m_f64(w, KEY("p99"), sc->vals[r99]);
    m_f64(w, KEY("first"), o[0].value);
    m_f64(w, KEY("last"), o[n - 1].value);
    m_f64(w, KEY("trend_per_day"), trend);

    /* Days: readings are sorted, so each day is a run. Anomalies are
     * judged against their own day's mean and deviation. */
    size_t na = 0;
    m_open(w, KEY("daily"), '[');
    for (size_t i = 0, j; i < n; i = j) {
        int64_t day = floor_div(o[i].ts, US_PER_DAY);
        int64_t next = (day + 1) * US_PER_DAY;
        for (j = i + 1; j < n && o[j].ts < next; j++)
            ;
        summary s;
        summarize(o + i, j - i, scale, 1, &s);
        write_bucket(w, 0, day, &s, unscale);
        if (s.var_s > 0) {
            /* z = dev / sd rounds above 3 only if dev / sd >= 3 exactly
             * (3 is a double), so a reading within 2.99 sd cannot
             * qualify: most are passed over without a division. */
            double sd = sqrt(s.var_s), near = 2.99 * sd;
            for (size_t m = i; m < j; m++) {
                double dev = o[m].value * scale - s.mean_s;
                if (!(fabs(dev) > near))
                    continue;
                double z = dev / sd;
                if (fabs(z) > 3) {
                    sc->anomalies[na].i = m;
                    sc->anomalies[na++].z = z;
                }
            }
        }
    }
    jw_close(w, ']');

    m_open(w, KEY("hourly"), '[');
    int64_t cut = to - HOURLY_DAYS * US_PER_DAY; /* (cut, to] */
    for (size_t i = obs_first_after(o, n, cut), j; i < n; i = j) {
        int64_t hour = floor_div(o[i].ts, US_PER_HOUR);
        int64_t next = (hour + 1) * US_PER_HOUR;
        for (j = i + 1; j < n && o[j].ts < next; j++)
            ;
        summary s;
        summarize(o + i, j - i, scale, 0, &s);
        write_bucket(w, 1, hour, &s, unscale);
    }
    jw_close(w, ']');

    /* The strongest MAX_ANOMALIES, then back in time order. */
    anomaly *a = sc->anomalies;
    if (na > MAX_ANOMALIES) {
        qsort(a, na, sizeof *a, anomaly_strength_cmp);
        na = MAX_ANOMALIES;
        for (size_t i = 1; i < na; i++) {
            anomaly t = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1].i > t.i; j--)
                a[j] = a[j - 1];
            a[j] = t;
        }
    }
    m_open(w, KEY("anomalies"), '[');
    for (size_t i = 0; i < na; i++) {
        jw_elem(w);
        jw_open(w, '{');
        m_time(w, KEY("ts"), o[a[i].i].ts);
        m_f64(w, KEY("value"), o[a[i].i].value);
        m_f64(w, KEY("z"), a[i].z);
        jw_close(w, '}');
    }
    jw_close(w, ']');
    jw_close(w, '}');
}

static int series_cmp(const void *a, const void *b) {
    return strcmp((*(const an_series *const *)a)->metric,
                  (*(const an_series *const *)b)->metric);
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void write_metrics(jw *w, const an_input *in, scratch *sc) {
    for (size_t i = 0; i < in->nseries; i++) {
        const an_series *s = &in->series[i];
        if (s->metric == NULL || (s->n && s->obs == NULL)) {
            jw_fail(w, -EINVAL);
            return;
        }
        for (size_t j = 0; j < s->n; j++) {
            if (!isfinite(s->obs[j].value) ||
                (j && s->obs[j].ts <= s->obs[j - 1].ts)) {
                jw_fail(w, -EINVAL);
                return;
            }
        }
        sc->order[i] = s;
    }
    qsort(sc->order, in->nseries, sizeof *sc->order, series_cmp);
    m_open(w, KEY("metrics"), '{');
    for (size_t i = 0; i < in->nseries; i++) {
        const an_series *s = sc->order[i];
        if (i && strcmp(s->metric, sc->order[i - 1]->metric) == 0) {
            jw_fail(w, -EINVAL); /* a duplicate key */
            return;
        }
        size_t lo = obs_first_after(s->obs, s->n, in->from - 1);
        size_t hi = obs_first_after(s->obs, s->n, in->to);
        if (hi > lo)
            write_metric(w, s->metric, s->obs + lo, hi - lo, in->to, sc);
    }
    jw_close(w, '}');
}

/* Beyond this many distinct strings, tally_strings sorts instead. */
enum { TALLY_LINEAR_MAX = 32 };

/* Groups the |n| strings of |strs| by content into |t| (room for n), in
 * strcmp order; returns the number of groups. There are usually a handful
 * of kinds, severities or authors among hundreds of strings, and the
 * store hands repeated strings out as one pointer: so each is looked up
 * in the groups so far, by pointer and only then by content, and the few
 * groups are sorted at the end - a fraction of the cost of sorting all
 * the strings by strcmp. Past TALLY_LINEAR_MAX groups the lookups would
 * grow quadratic: then the strings are sorted (|strs| is reordered) and
 * counted in runs. */
static size_t tally_strings(const char **strs, size_t n, tally *t) {
    size_t nt = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = strs[i];
        size_t j = last;
        if (nt == 0 || t[j].s != s) {
            for (j = 0; j < nt && t[j].s != s; j++)
                ;
            for (size_t k = 0; j == nt && k < nt; k++)
                if (strcmp(t[k].s, s) == 0)
                    j = k;
            if (j == nt) {
                if (nt == TALLY_LINEAR_MAX)
                    goto sort;
                t[nt].s = s;
                t[nt++].n = 0;
            }
        }
        t[j].n++;
        last = j;
    }
    for (size_t i = 1; i < nt; i++) {
        tally x = t[i];
        size_t j = i;
        for (; j > 0 && strcmp(t[j - 1].s, x.s) > 0; j--)
            t[j] = t[j - 1];
        t[j] = x;
    }
    return nt;
sort:
    qsort(strs, n, sizeof *strs, str_cmp);
    nt = 0;
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(strs[j], strs[i]) == 0; j++)
            ;
        t[nt].s = strs[i];
        t[nt++].n = j - i;
    }
    return nt;
}

/* An object of counts keyed by |strs|, e.g. "by_kind". */
static void m_counts(jw *w, const char *key, size_t klen, const char **strs,
                     size_t n, tally *t) {
    size_t nt = tally_strings(strs, n, t);
    m_open(w, key, klen, '{');
    for (size_t i = 0; i < nt; i++) {
        jw_key_str(w, t[i].s);
        char *p = jw_room(w, MEMBER_ROOM);
        if (p)
            jw_end(w, put_u64(p, t[i].n));
    }
    jw_close(w, '}');
}

static void write_events(jw *w, const an_input *in, scratch *sc) {
    const an_event *e = in->events;
    for (size_t i = 0; i < in->nevents; i++) {
        if (i && e[i].ts < e[i - 1].ts) {
            jw_fail(w, -EINVAL);
            return;
        }
    }
    size_t lo = events_first_after(e, in->nevents, in->from - 1);
    size_t hi = events_first_after(e, in->nevents, in->to);
    for (size_t i = lo; i < hi; i++) {
        if (e[i].kind == NULL || e[i].severity == NULL) {
            jw_fail(w, -EINVAL);
            return;
        }
    }
    m_open(w, KEY("events"), '{');
    m_u64(w, KEY("count"), hi - lo);
    for (size_t i = lo; i < hi; i++)
        sc->strs[i - lo] = e[i].kind;
    m_counts(w, KEY("by_kind"), sc->strs, hi - lo, sc->tallies);
    for (size_t i = lo; i < hi; i++)
        sc->strs[i - lo] = e[i].severity;
    m_counts(w, KEY("by_severity"), sc->strs, hi - lo, sc->tallies);
    m_open(w, KEY("recent"), '[');
    size_t stop = hi - lo > RECENT_EVENTS ? hi - RECENT_EVENTS : lo;
    for (size_t i = hi; i-- > stop;) {
        jw_elem(w);
        jw_open(w, '{');
        m_time(w, KEY("ts"), e[i].ts);
        m_str(w, KEY("kind"), e[i].kind, 0);
        m_str(w, KEY("severity"), e[i].severity, 0);
        m_str(w, KEY("message"), e[i].message, 1);
        m_raw(w, KEY("data"), e[i].data, "null", 0);
        jw_close(w, '}');
    }
    jw_close(w, ']');
    jw_close(w, '}');
}

static void write_revisions(jw *w, const an_input *in, scratch *sc) {
    const an_revision *r = in->revisions;
    size_t n = in->nrevisions, nwin = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].author == NULL || (i && r[i].revision <= r[i - 1].revision)) {
            jw_fail(w, -EINVAL);
            return;
        }
        if (r[i].updated_at >= in->from && r[i].updated_at <= in->to)
            sc->strs[nwin++] = r[i].author;
    }
    m_open(w, KEY("revisions"), '{');
    m_u64(w, KEY("count_in_window"), nwin);
    size_t nauthors = tally_strings(sc->strs, nwin, sc->tallies);
    m_open(w, KEY("authors_in_window"), '[');
    for (size_t i = 0; i < nauthors; i++) {
        jw_elem(w);
        jw_open(w, '{');
        m_str(w, KEY("author"), sc->tallies[i].s, 0);
        m_u64(w, KEY("count"), sc->tallies[i].n);
        jw_close(w, '}');
    }
    jw_close(w, ']');

    /* Newest first; each compared with the one before it, which becomes
     * the next one's "current", so every text is split once. */
    m_open(w, KEY("recent"), '[');
    size_t stop = n > RECENT_REVISIONS ? n - RECENT_REVISIONS : 0;
    member *cur = sc->cur, *prev = sc->prev;
    long ncur = n ? split_members(r[n - 1].attributes, cur) : 0;
    for (size_t i = n; i-- > stop;) {
        long nprev = i ? split_members(r[i - 1].attributes, prev) : 0;
        if (ncur < 0 || nprev < 0) {
            jw_fail(w, -EINVAL);
            return;
        }
        jw_elem(w);
        jw_open(w, '{');
        m_i64(w, KEY("revision"), r[i].revision);
        m_time(w, KEY("updated_at"), r[i].updated_at);
        m_str(w, KEY("author"), r[i].author, 0);
        m_bool(w, KEY("deleted"), r[i].deleted);
        m_changed(w, cur, (size_t)ncur, prev, (size_t)nprev);
        jw_close(w, '}');
        member *t = cur;
        cur = prev;
        prev = t;
        ncur = nprev;
    }
    jw_close(w, ']');
    jw_close(w, '}');
}

static void write_object(jw *w, const an_object *o) {
    m_open(w, KEY("object"), '{');
    m_i64(w, KEY("id"), o->id);
    m_i64(w, KEY("revision"), o->revision);
    m_str(w, KEY("type"), o->type, 0);
    m_str(w, KEY("name"), o->name, 0);
    m_raw(w, KEY("attributes"), o->attributes, "{}", 1);
    m_time(w, KEY("updated_at"), o->updated_at);
    m_str(w, KEY("updated_by"), o->updated_by, 0);
    jw_close(w, '}');
}

/* Adds an array of |n| elements of |size| bytes to |*total|; -1 on
 * overflow. */
static int add_array(size_t *total, size_t n, size_t size) {
    if (n > (SIZE_MAX - *total) / size)
        return -1;
    *total += n * size;
    return 0;
}

int analysis_write(const an_input *in, int pretty, buf *out) {
    size_t len0 = out->len;
    char *mem = NULL;
    scratch sc;
    jw w = {out, pretty != 0, 0, 1, 0, INT64_MIN, {0}};
    int rc = 0;

    if (in->from > in->to || !time_ok(in->from) || !time_ok(in->to) ||
        (in->nseries && in->series == NULL) ||
        (in->nevents && in->events == NULL) ||
        (in->nrevisions && in->revisions == NULL)) {
        rc = -EINVAL;
        goto out;
    }

    size_t max_obs = 0, max_attr = 0;
    for (size_t i = 0; i < in->nseries; i++)
        max_obs = in->series[i].n > max_obs ? in->series[i].n : max_obs;
    size_t nstrs = in->nevents > in->nrevisions ? in->nevents : in->nrevisions;
    size_t n = in->nrevisions;
    for (size_t i = n > RECENT_REVISIONS ? n - RECENT_REVISIONS - 1 : 0; i < n;
         i++) {
        size_t len = in->revisions[i].attributes
                         ? strlen(in->revisions[i].attributes)
                         : 0;
        max_attr = len > max_attr ? len : max_attr;
    }
    size_t nmembers = members_max(max_attr), total = 0;
    /* Every array is a multiple of 8 bytes, so each stays aligned. */
    if (add_array(&total, max_obs, sizeof(double)) ||
        add_array(&total, max_obs, sizeof(double)) ||
        add_array(&total, max_obs, sizeof(anomaly)) ||
        add_array(&total, in->nseries, sizeof(an_series *)) ||
        add_array(&total, nstrs, sizeof(char *)) ||
        add_array(&total, nstrs, sizeof(tally)) ||
        add_array(&total, 2 * nmembers, sizeof(member))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((mem = malloc(total)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    sc.vals = (double *)mem;
    sc.days = sc.vals + max_obs;
    sc.anomalies = (anomaly *)(sc.days + max_obs);
    sc.order = (const an_series **)(sc.anomalies + max_obs);
    sc.strs = (const char **)(sc.order + in->nseries);
    sc.tallies = (tally *)(sc.strs + nstrs);
    sc.cur = (member *)(sc.tallies + nstrs);
    sc.prev = sc.cur + nmembers;

    jw_open(&w, '{');
    write_object(&w, &in->object);
    m_open(&w, KEY("window"), '{');
    m_time(&w, KEY("from"), in->from);
    m_time(&w, KEY("to"), in->to);
    jw_close(&w, '}');
    write_revisions(&w, in, &sc);
    write_metrics(&w, in, &sc);
    write_events(&w, in, &sc);
    jw_close(&w, '}');
    rc = w.err;
out:
    free(mem);
    if (rc)
        out->len = len0;
    return rc;
}

int64_t analysis_default_from(int64_t newest_ts) {
    int64_t span = DEFAULT_DAYS * US_PER_DAY;
    return newest_ts < INT64_MIN + span ? INT64_MIN : newest_ts - span;
}
