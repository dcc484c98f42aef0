/* api_util: shared pieces of the /api/v1 handlers (see api_util.h). */
#include "api_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "json.h"
#include "server.h"
#include "timeutil.h"

void api_errors_init(api_errors *fe) {
    buf_init(&fe->list, 64 * 1024);
    fe->count = 0;
}

void api_errors_add(api_errors *fe, const char *pointer, const char *detail) {
    if (fe->count >= 32)
        return;
    if (fe->count++)
        buf_append_char(&fe->list, ',');
    buf_append_str(&fe->list, "{\"pointer\":");
    json_append_string(&fe->list, pointer, strlen(pointer));
    buf_append_str(&fe->list, ",\"detail\":");
    json_append_string(&fe->list, detail, strlen(detail));
    buf_append_char(&fe->list, '}');
}

void api_errors_free(api_errors *fe) {
    buf_free(&fe->list);
}

void api_errors_respond(exchange *ex, api_errors *fe, int status,
                        const char *detail) {
    buf *b = &ex->resp_body;
    b->len = 0;
    const char *title = http_reason(status);
    buf_append_str(b, "{\"type\":\"about:blank\",\"title\":");
    json_append_string(b, title, strlen(title));
    buf_appendf(b, ",\"status\":%d,\"detail\":", status);
    json_append_string(b, detail, strlen(detail));
    buf_append_str(b, ",\"errors\":[");
    buf_append(b, fe->list.data, fe->list.len);
    buf_append_str(b, "]}\n");
    api_errors_free(fe);
    exchange_respond_body(ex, status, "application/problem+json");
}

void api_problem_pointer(exchange *ex, int status, const char *pointer,
                         const char *detail) {
    api_errors fe;
    api_errors_init(&fe);
    api_errors_add(&fe, pointer, detail);
    api_errors_respond(ex, &fe, status, detail);
}

void api_bad_param(exchange *ex, const char *name, const char *detail) {
    char ptr[80];
    snprintf(ptr, sizeof ptr, "?%s", name);
    api_problem_pointer(ex, 400, ptr, detail);
}

void api_pointer_append(char *ptr, size_t ptrlen, const char *key) {
    size_t n = strlen(ptr);
    if (n + 2 > ptrlen)
        return;
    ptr[n++] = '/';
    for (const char *p = key; *p && n + 3 < ptrlen; p++) {
        if (*p == '~' || *p == '/') {
            ptr[n++] = '~';
            ptr[n++] = *p == '~' ? '0' : '1';
        } else {
            ptr[n++] = *p;
        }
    }
    ptr[n] = '\0';
}

void api_store_failed(exchange *ex, const store_result *r) {
    if (r->status == STORE_UNAVAILABLE) {
        exchange_add_header(ex, "retry-after", "1", 1);
        exchange_problem(ex, 503, NULL,
                         r->message ? r->message : "the database is busy");
        return;
    }
    exchange_problem(ex, 500, NULL, "the database failed");
}

void api_call_failed(exchange *ex) {
    exchange_add_header(ex, "retry-after", "1", 1);
    exchange_problem(ex, 503, NULL, "the database is not available");
}

store_loop *api_store(exchange *ex) {
    return ex->worker->store;
}

int api_check_content_type(exchange *ex, const char *const *accepted) {
    const http_field *f = exchange_header(ex, "content-type");
    if (f) {
        size_t n = f->value_len;
        const char *semi = memchr(f->value, ';', n);
        if (semi)
            n = (size_t)(semi - f->value);
        while (n && (f->value[n - 1] == ' ' || f->value[n - 1] == '\t'))
            n--;
        for (const char *const *a = accepted; *a; a++)
            if (strlen(*a) == n && strncasecmp(f->value, *a, n) == 0)
                return 0;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "the body must be %s%s%s", accepted[0],
             accepted[1] ? " or " : "", accepted[1] ? accepted[1] : "");
    exchange_problem(ex, 415, NULL, detail);
    return -1;
}

/* The JSON pointer of the value being read at byte |pos| of |json| (which
 * is well-formed up to there): a small scan keeping a stack of array
 * indexes and object keys. */
static void json_pointer_at(const char *json, size_t len, size_t pos, char *out,
                            size_t outlen) {
    enum { DEPTH = 64 };
    struct {
        int array;
        long index;
        const char *key;
        size_t key_len;
    } st[DEPTH];
    int depth = 0, expect_key = 0;
    if (pos > len)
        pos = len;
    for (size_t i = 0; i < pos; i++) {
        char c = json[i];
        if (c == '"') {
            size_t start = ++i;
            while (i < pos && json[i] != '"')
                i += json[i] == '\\' ? 2 : 1;
            if (depth > 0 && !st[depth - 1].array && expect_key) {
                st[depth - 1].key = json + start;
                st[depth - 1].key_len = i - start;
                expect_key = 0;
            }
        } else if ((c == '{' || c == '[') && depth < DEPTH) {
            st[depth].array = c == '[';
            st[depth].index = 0;
            st[depth].key = NULL;
            st[depth].key_len = 0;
            depth++;
            expect_key = c == '{';
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        } else if (c == ',' && depth > 0) {
            if (st[depth - 1].array)
                st[depth - 1].index++;
            else
                expect_key = 1;
        }
    }
    out[0] = '\0';
    size_t n = 0;
    for (int d = 0; d < depth && n + 2 < outlen; d++) {
        if (st[d].array) {
            n += (size_t)snprintf(out + n, outlen - n, "/%ld", st[d].index);
        } else if (st[d].key) {
            char key[128];
            size_t k =
                st[d].key_len < sizeof key - 1 ? st[d].key_len : sizeof key - 1;
            memcpy(key, st[d].key, k);
            key[k] = '\0';
            api_pointer_append(out, outlen, key);
            n = strlen(out);
        }
    }
}

json_t *api_parse_body(exchange *ex) {
    json_error_t err;
    const size_t flags =
        JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY;
    json_t *doc =
        json_loadb(ex->body ? ex->body : "", ex->body_len, flags, &err);
    if (doc == NULL && (strstr(err.text, "too big integer") ||
                        strstr(err.text, "real number overflow"))) {
        /* Well-formed JSON with a number we cannot hold: a broken rule
         * (422), not a syntax error, at the value jansson stopped in. */
        char ptr[256];
        json_pointer_at(ex->body, ex->body_len, (size_t)err.position, ptr,
                        sizeof ptr);
        api_problem_pointer(
            ex, 422, ptr,
            strcmp(ptr, "/id") == 0
                ? "must be a positive integer below 2^63"
                : "numbers must fit a 64-bit integer or a finite double");
        return NULL;
    }
    if (doc == NULL) {
        char detail[256];
        snprintf(detail, sizeof detail,
                 "malformed JSON at line %d, column %d: %s", err.line,
                 err.column, err.text);
        exchange_problem(ex, 400, NULL, detail);
    }
    return doc;
}

int api_valid_token(const char *s, size_t n, size_t max) {
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

int api_parse_query(exchange *ex, query *q, const char *const *allowed) {
    if (query_parse(q, ex->query, ex->query_len, allowed) != 0) {
        exchange_problem(ex, 400, NULL, q->error);
        query_free(q);
        return -1;
    }
    return 0;
}

int api_time_param(exchange *ex, const query *q, const char *name,
                   int64_t *out) {
    const char *s = query_get(q, name);
    *out = 0;
    if (s == NULL)
        return 0;
    if (time_parse_rfc3339_us(s, strlen(s), out) != 0 || *out <= 0) {
        char detail[128];
        snprintf(detail, sizeof detail,
                 "%s must be an RFC 3339 date-time such as "
                 "2026-01-31T12:00:00Z",
                 name);
        api_bad_param(ex, name, detail);
        return -1;
    }
    return 0;
}

int api_parse_positive(const char *s, int64_t *out) {
    if (s == NULL || *s == '\0' || *s == '0' || strlen(s) > 19)
        return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > INT64_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int api_limit_param(exchange *ex, const query *q, int def, int max, int *out) {
    const char *s = query_get(q, "limit");
    int64_t v = def;
    if (s && (api_parse_positive(s, &v) != 0 || v > max)) {
        char detail[80];
        snprintf(detail, sizeof detail, "limit must be an integer from 1 to %d",
                 max);
        api_bad_param(ex, "limit", detail);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int api_read_cursor(const char *s, char *raw, size_t rawlen) {
    size_t n = strlen(s);
    if (n == 0 || n > 200 || (n * 3) / 4 + 1 > rawlen)
        return -1;
    long m = base64url_decode(s, n, raw);
    if (m < 0)
        return -1;
    raw[m] = '\0';
    if (strlen(raw) != (size_t)m)
        return -1;
    return 0;
}

void api_link_next(exchange *ex, const char *base, const char *cursor) {
    char link[768];
    size_t n =
        (size_t)snprintf(link, sizeof link, "<%s%scursor=%s>; rel=\"next\"",
                         base, strchr(base, '?') ? "&" : "?", cursor);
    if (n < sizeof link)
        exchange_add_header(ex, "link", link, n);
}

void api_page_respond(exchange *ex, const char *raw_cursor,
                      const char *link_base) {
    buf *b = &ex->resp_body;
    buf_append_str(b, "],\"next_cursor\":");
    if (raw_cursor) {
        char cur[256];
        size_t n = strlen(raw_cursor);
        if (n > 180)
            n = 180;
        base64url_encode(raw_cursor, n, cur);
        buf_appendf(b, "\"%s\"", cur);
        api_link_next(ex, link_base, cur);
    } else {
        buf_append_str(b, "null");
    }
    buf_append_str(b, "}\n");
    exchange_respond_body(ex, 200, "application/json");
}

size_t api_query_append(char *out, size_t outlen, const char *name,
                        const char *value) {
    size_t n = (size_t)snprintf(out, outlen, "&%s=", name);
    if (n >= outlen)
        return outlen ? outlen - 1 : 0;
    for (const char *p = value; *p && n + 4 < outlen; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, outlen - n, "%%%02X", c);
    }
    out[n] = '\0';
    return n;
}
