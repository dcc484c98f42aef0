/* json: JSON string escaping with UTF-8 validation. */
#include "json.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at |p| (at most |n| bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Whether none of the 8 bytes in |w| needs a second look: no control
 * character, no '"', no '\\', nothing at or above 0x80 (the classic
 * "has a byte less than n / equal to c" word tests, exact as a yes/no). */
static int plain8(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t flags = ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
                     ((backslash - ones) & ~backslash) | w;
    return (flags & highs) == 0;
}

size_t json_quote(char *out, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    char *o = out;
    *o++ = '"';
    for (size_t i = 0;;) {
        /* Eight plain bytes at a time, copied as they are checked: most
         * strings (paths, names, ids) never leave this loop but for their
         * last few bytes. */
        uint64_t w;
        while (len - i >= 8 && (memcpy(&w, p + i, 8), plain8(w))) {
            memcpy(o, &w, 8);
            o += 8;
            i += 8;
        }
        if (i == len)
            break;
        /* The last few bytes of a plain string: the 8 ending at |len|, one
         * word that overlaps what was written - plain bytes were written
         * one for one, and plain8 checks the whole word. */
        if (len >= 8 && len - i < 8 &&
            (memcpy(&w, p + len - 8, 8), plain8(w))) {
            memcpy(o + (len - i) - 8, &w, 8);
            o += len - i;
            break;
        }
        unsigned c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_len(p + i, len - i);
            if (n) {
                memcpy(o, p + i, n);
                o += n;
                i += n;
                continue;
            }
        }
        i++;
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            if (c >= 0x80) { /* not UTF-8: U+FFFD */
                memcpy(o, "ufffd", 5);
                o += 5;
                break;
            }
            o[0] = 'u';
            o[1] = '0';
            o[2] = '0';
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
    }
    *o++ = '"';
    return (size_t)(o - out);
}

int json_append_string(buf *b, const char *s, size_t len) {
    /* Quoted in pieces of at most CHUNK input bytes through a buffer on
     * the stack, so that |b| grows by what is written, not by the worst
     * case (a buffer near its maximum still takes a string that fits). A
     * piece ends before a UTF-8 continuation byte, never inside a
     * character. */
    enum { CHUNK = 512, SHORT = 64 };
    if (len <= SHORT && buf_reserve(b, JSON_QUOTED_MAX(len)) == 0) {
        /* The usual short string: straight into the buffer. */
        b->len += json_quote(b->data + b->len, s, len);
        return 0;
    }
    char out[JSON_QUOTED_MAX(CHUNK)];
    size_t first_len = b->len;
    size_t off = 0;
    do {
        size_t n = len - off;
        if (n > CHUNK) {
            n = CHUNK;
            for (int back = 0;
                 back < 3 && ((unsigned char)s[off + n] & 0xC0) == 0x80; back++)
                n--;
        }
        size_t w = json_quote(out, s + off, n);
        /* Each piece is quoted; only the first keeps its opening quote
         * and only the last its closing one. */
        const char *from = off > 0 ? out + 1 : out;
        size_t wn = w - (off > 0) - (off + n < len);
        int rc = buf_append(b, from, wn);
        if (rc != 0) {
            b->len = first_len; /* unchanged on failure */
            return rc;
        }
        off += n;
    } while (off < len);
    return 0;
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *json_skip_ws(const char *p, const char *end) {
    while (p < end && is_ws(*p))
        p++;
    return p;
}

const char *json_skip_string(const char *p, const char *end) {
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

const char *json_skip_value(const char *p, const char *end) {
    if (p >= end)
        return end;
    if (*p == '"')
        return json_skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = json_skip_string(p, end);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && !is_ws(*p) && *p != ',' && *p != '}' && *p != ']')
        p++;
    return p;
}
