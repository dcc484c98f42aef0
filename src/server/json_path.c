/* json_path: see json_path.h. Walks objects member by member with the
 * JSON scanner of src/core/json.c (which skips the values it does not
 * need); it checks only what it must to stay inside the text, being
 * meant for JSON we wrote. */
#include "json_path.h"

#include <string.h>

#include "json.h"

enum { PATH_MAX_BYTES = 256, PATH_MAX_PARTS = 64 };

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
    const char *end = text + text_len, *p = json_skip_ws(text, end);
    for (size_t i = 0; i < nparts;) {
        if (p >= end || *p != '{')
            return -1;
        size_t best = 0;
        const char *best_value = NULL;
        p = json_skip_ws(p + 1, end);
        if (p < end && *p == '}')
            return -1; /* empty object */
        for (;;) {
            if (p >= end || *p != '"')
                return -1;
            const char *key = p + 1, *after = json_skip_string(p, end);
            if (after >= end) /* unterminated, or nothing after the key */
                return -1;
            size_t m =
                key_parts(key, (size_t)(after - 1 - key), parts, nparts, i);
            p = json_skip_ws(after, end);
            if (p >= end || *p != ':')
                return -1;
            const char *v = json_skip_ws(p + 1, end);
            if (m > best) {
                best = m;
                best_value = v;
            }
            if ((p = json_skip_value(v, end)) == v) /* no value */
                return -1;
            p = json_skip_ws(p, end);
            if (p < end && *p == ',') {
                p = json_skip_ws(p + 1, end);
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
    const char *q = json_skip_value(p, end);
    if (q == p)
        return -1;
    *value = p;
    *len = (size_t)(q - p);
    return 0;
}
