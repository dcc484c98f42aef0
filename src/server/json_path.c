/* json_path: see json_path.h. A scanner over the text: strings are
 * skipped by their quotes and escapes, containers by counting brackets
 * outside strings, scalars up to the next delimiter. It checks only what
 * it must to stay inside the text; it is meant for JSON we wrote. */
#include "json_path.h"

#include <string.h>

enum { PATH_MAX_BYTES = 256, PATH_MAX_PARTS = 64 };

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* |p| at the opening quote: just past the closing one, or NULL. */
static const char *skip_string(const char *p, const char *end) {
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* |p| at a value: just past it, or NULL. */
static const char *skip_value(const char *p, const char *end) {
    if (p >= end)
        return NULL;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                if ((p = skip_string(p, end)) == NULL)
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    const char *start = p;
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
           *p != '\t' && *p != '\n' && *p != '\r')
        p++;
    return p > start ? p : NULL;
}

/* How many of parts[i..] the key (its text between the quotes) spells,
 * joined by dots: the largest such count, 0 if none. */
static size_t key_parts(const char *key, size_t klen, char *const *parts,
                        size_t nparts, size_t i) {
    if (memchr(key, '\\', klen) != NULL)
        return 0;
    size_t best = 0, pos = 0;
    for (size_t m = i; m < nparts; m++) {
        size_t n = strlen(parts[m]);
        if (m > i) {
            if (pos >= klen || key[pos] != '.')
                break;
            pos++;
        }
        if (pos + n > klen || memcmp(key + pos, parts[m], n) != 0)
            break;
        pos += n;
        if (pos == klen)
            best = m - i + 1;
    }
    return best;
}

int json_path_find(const char *text, size_t text_len, const char *path,
                   const char **value, size_t *len) {
    char copy[PATH_MAX_BYTES];
    size_t plen = strlen(path);
    if (plen == 0 || plen >= sizeof copy)
        return -1;
    memcpy(copy, path, plen + 1);
    char *parts[PATH_MAX_PARTS];
    size_t nparts = 0;
    for (char *s = copy;;) {
        if (nparts == PATH_MAX_PARTS)
            return -1;
        parts[nparts++] = s;
        char *dot = strchr(s, '.');
        if (dot == NULL)
            break;
        *dot = '\0';
        s = dot + 1;
    }
    const char *end = text + text_len, *p = skip_ws(text, end);
    for (size_t i = 0; i < nparts;) {
        if (p >= end || *p != '{')
            return -1;
        size_t best = 0;
        const char *best_value = NULL;
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}')
            return -1; /* empty object */
        for (;;) {
            if (p >= end || *p != '"')
                return -1;
            const char *key = p + 1, *after = skip_string(p, end);
            if (after == NULL)
                return -1;
            size_t m =
                key_parts(key, (size_t)(after - 1 - key), parts, nparts, i);
            p = skip_ws(after, end);
            if (p >= end || *p != ':')
                return -1;
            const char *v = skip_ws(p + 1, end);
            if (m > best) {
                best = m;
                best_value = v;
            }
            if ((p = skip_value(v, end)) == NULL)
                return -1;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}')
                break;
            return -1;
        }
        if (best == 0)
            return -1;
        p = best_value;
        i += best;
    }
    const char *q = skip_value(p, end);
    if (q == NULL)
        return -1;
    *value = p;
    *len = (size_t)(q - p);
    return 0;
}
