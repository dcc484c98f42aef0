/* h1_parser.c: strict HTTP/1.1 request-head parser and chunked decoder
 * (RFC 9112). See h1_parser.h for the contract. */
#include "h1_parser.h"

#include <limits.h>
#include <string.h>

/* Empty lines tolerated before a request-line (RFC 9112 2.2 asks for at
 * least one; a few cover clients that send CRLF after a POST body). */
#define H1_MAX_EMPTY_LINES 8

/* A chunk-size line (size + extensions) and the whole trailer section are
 * framing, not body: max_body does not bound them, so these do. */
#define H1_MAX_CHUNK_LINE 4096
#define H1_MAX_TRAILER_BYTES 8192

/* Character classes, one lookup per byte in the hot loops. */
enum {
    C_TCHAR = 1,  /* token character (RFC 9110 5.6.2) */
    C_TARGET = 2, /* request-target byte: VCHAR 0x21-0x7E */
    C_VALUE = 4,  /* field-content byte: HTAB, SP, VCHAR, obs-text */
};

static const unsigned char cls[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    4, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 0x20  !"#$%&'()*+,-./ */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, /* 0x30 0-9:;<=>? */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x40 @A-O */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7, /* 0x50 P-Z[\]^_ */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x60 `a-o */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0, /* 0x70 p-z{|}~DEL */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x80 obs-text */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x90 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xa0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xb0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xc0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xd0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xe0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xf0 */
};

/* Word-at-a-time tests (bit twiddling, endian-neutral because we only ask
 * "is there any such byte"): a true result sends the caller to the exact
 * per-byte loop, so a false positive costs time, never correctness. */
#define ONES ((uint64_t)0x0101010101010101u)
#define HIGHS ((uint64_t)0x8080808080808080u)
#define HAS_LESS(w, n) ((((w)-ONES * (n)) & (~(w)&HIGHS)) != 0)
#define HAS_BYTE(w, b) HAS_LESS((w) ^ (ONES * (b)), 1)
#define HAS_GE_7F(w) (((((w) + ONES) | (w)) & HIGHS) != 0)

static inline int is_ows(unsigned char c) {
    return c == ' ' || c == '\t';
}

/* |s| (|n| bytes) equals the lower-case literal |lit| ignoring case. */
static int ieq(const unsigned char *s, size_t n, const char *lit) {
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        if (lit[i] == '\0' || c != (unsigned char)lit[i])
            return 0;
    }
    return lit[n] == '\0';
}

/* Stops at the first byte that cannot be in a request-target. The head is
 * known to end in CRLF CRLF before |e|, so the scan always stops. */
static const unsigned char *skip_target(const unsigned char *p,
                                        const unsigned char *e) {
    while (e - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        if (HAS_LESS(w, 0x21) || HAS_GE_7F(w))
            break;
        p += 8;
    }
    while (cls[*p] & C_TARGET)
        p++;
    return p;
}

/* Stops at the first byte that cannot be in field-content (CR normally). */
static const unsigned char *skip_value(const unsigned char *p,
                                       const unsigned char *e) {
    while (e - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        /* HTAB is legal but below 0x20: it takes the slow path. */
        if (HAS_LESS(w, 0x20) || HAS_BYTE(w, 0x7f))
            break;
        p += 8;
    }
    while (cls[*p] & C_VALUE)
        p++;
    return p;
}

/* Content-Length: 1*DIGIT, or a list of identical such values (RFC 9110
 * 8.6 lets a recipient accept "5, 5"). Sets *out or returns an error. */
static int parse_content_length(const unsigned char *v, size_t n,
                                int64_t *out) {
    int64_t first = -1;
    size_t i = 0;

    for (;;) {
        size_t start = i;
        int64_t val = 0;

        /* 18 digits cannot overflow int64_t; nobody sends more honestly. */
        while (i < n && v[i] >= '0' && v[i] <= '9') {
            if (i - start == 18)
                return H1_E_BAD_REQUEST;
            val = val * 10 + (v[i] - '0');
            i++;
        }
        if (i == start)
            return H1_E_BAD_REQUEST;
        if (first >= 0 && val != first)
            return H1_E_SMUGGLING;
        first = val;
        while (i < n && is_ows(v[i]))
            i++;
        if (i == n)
            break;
        if (v[i] != ',')
            return H1_E_BAD_REQUEST;
        i++;
        while (i < n && is_ows(v[i]))
            i++;
    }
    *out = first;
    return 0;
}

/* What the Transfer-Encoding lines, taken together as one list, said. */
typedef struct te_state {
    unsigned count;        /* Transfer-Encoding header lines */
    unsigned chunked;      /* times "chunked" appeared */
    unsigned last_chunked; /* the last coding so far is chunked */
    unsigned unknown;      /* some other coding appeared */
    unsigned bad;          /* empty element or junk: framing unknowable */
} te_state;

static void scan_transfer_encoding(const unsigned char *v, size_t n,
                                   te_state *te) {
    size_t i = 0;

    te->count++;
    for (;;) {
        size_t start, tlen;
        int is_chunked;

        while (i < n && is_ows(v[i]))
            i++;
        start = i;
        while (i < n && (cls[v[i]] & C_TCHAR))
            i++;
        tlen = i - start;
        while (i < n && is_ows(v[i]))
            i++;
        if (tlen == 0) {
            te->bad = 1;
            return;
        }
        is_chunked = ieq(v + start, tlen, "chunked");
        if (is_chunked)
            te->chunked++;
        else
            te->unknown = 1;
        te->last_chunked = (unsigned)is_chunked;
        if (i == n)
            return;
        if (v[i] == ';' && !is_chunked) {
            /* Parameters of a coding we refuse anyway: skip them. */
            while (i < n && v[i] != ',')
                i++;
            if (i == n)
                return;
        }
        if (v[i] != ',') {
            te->bad = 1;
            return;
        }
        i++;
    }
}

/* Connection: a comma-separated token list; we only care for two. */
static void scan_connection(const unsigned char *v, size_t n, int *close,
                            int *keep_alive) {
    size_t i = 0;

    while (i < n) {
        size_t start, end;

        while (i < n && (is_ows(v[i]) || v[i] == ','))
            i++;
        start = i;
        while (i < n && v[i] != ',')
            i++;
        end = i;
        while (end > start && is_ows(v[end - 1]))
            end--;
        if (ieq(v + start, end - start, "close"))
            *close = 1;
        else if (ieq(v + start, end - start, "keep-alive"))
            *keep_alive = 1;
    }
}

static int target_form_ok(const h1_request *req) {
    const unsigned char *t = (const unsigned char *)req->target;
    size_t n = req->target_len;

    if (t[0] == '/')
        return 1;
    if (n == 1 && t[0] == '*')
        /* Methods are case-sensitive (RFC 9110 9.1). */
        return req->method_len == 7 && memcmp(req->method, "OPTIONS", 7) == 0;
    /* absolute-form; the scheme is case-insensitive (RFC 3986 3.1). */
    if (n > 7 && ieq(t, 7, "http://"))
        return 1;
    if (n > 8 && ieq(t, 8, "https://"))
        return 1;
    return 0;
}

/* When the head did not fit and its request-line never ended, the long
 * part is almost always the target: answer 414 so the client knows what
 * to shorten. |p| .. |p| + |n| is the part of the head we looked at. */
static int head_too_large(const unsigned char *p, size_t n, size_t max_target) {
    const unsigned char *sp, *sp2;
    size_t rest;

    if (memchr(p, '\n', n) != NULL)
        return H1_E_HEAD_TOO_LARGE;
    sp = memchr(p, ' ', n);
    if (sp == NULL)
        return H1_E_HEAD_TOO_LARGE;
    rest = n - (size_t)(sp + 1 - p);
    sp2 = memchr(sp + 1, ' ', rest);
    if ((sp2 != NULL ? (size_t)(sp2 - sp - 1) : rest) > max_target)
        return H1_E_URI_TOO_LONG;
    return H1_E_HEAD_TOO_LARGE;
}

/* What the header fields said, taken together. */
typedef struct field_sem {
    te_state te;
    int conn_close, conn_keep_alive;
    int64_t content_length; /* -1 when absent */
    const char *host;
    size_t host_len;
    int expect_100; /* Expect: 100-continue (the version decides) */
} field_sem;

/* Parses header lines from *pp up to and including the empty line that
 * ends the head (known to be before |e|), filling |headers| (at most
 * |max_headers|). Every loop stops at the first CR at the latest, so no
 * read goes past |e|. 0 or an error; *pp ends after the final CRLF. */
static int parse_fields(const unsigned char **pp, const unsigned char *e,
                        h1_header *headers, size_t max_headers, size_t *count,
                        field_sem *sem, int is_request) {
    const unsigned char *p = *pp;
    size_t n = 0;
    int rc;

    for (;;) {
        const unsigned char *name, *v, *ve;
        size_t name_len, v_len;

        if (*p == '\r') {
            if (p[1] != '\n')
                return H1_E_BAD_REQUEST;
            p += 2;
            break;
        }
        /* A line starting with whitespace is obs-fold (or a header name
         * with leading space): either way, refuse (RFC 9112 5.2). */
        name = p;
        while (cls[*p] & C_TCHAR)
            p++;
        if (p == name || *p != ':')
            return H1_E_BAD_REQUEST;
        name_len = (size_t)(p - name);
        if (n == max_headers)
            return H1_E_TOO_MANY_HEADERS;
        p++;
        while (is_ows(*p))
            p++;
        v = p;
        p = skip_value(p, e);
        if (p[0] != '\r' || p[1] != '\n')
            return H1_E_BAD_REQUEST;
        ve = p;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        v_len = (size_t)(ve - v);
        p += 2;

        headers[n].name = (const char *)name;
        headers[n].name_len = name_len;
        headers[n].value = (const char *)v;
        headers[n].value_len = v_len;
        n++;

        /* Dispatch on length first: most headers need no compare at all. */
        switch (name_len) {
        case 4:
            if (is_request && ieq(name, 4, "host")) {
                if (sem->host != NULL)
                    return H1_E_BAD_REQUEST;
                sem->host = (const char *)v;
                sem->host_len = v_len;
            }
            break;
        case 6:
            if (is_request && ieq(name, 6, "expect") &&
                ieq(v, v_len, "100-continue"))
                sem->expect_100 = 1;
            break;
        case 10:
            if (ieq(name, 10, "connection"))
                scan_connection(v, v_len, &sem->conn_close,
                                &sem->conn_keep_alive);
            break;
        case 14:
            if (ieq(name, 14, "content-length")) {
                int64_t cl;
                rc = parse_content_length(v, v_len, &cl);
                if (rc != 0)
                    return rc;
                if (sem->content_length >= 0 && sem->content_length != cl)
                    return H1_E_SMUGGLING;
                sem->content_length = cl;
            }
            break;
        case 17:
            if (ieq(name, 17, "transfer-encoding"))
                scan_transfer_encoding(v, v_len, &sem->te);
            break;
        default:
            break;
        }
    }
    *count = n;
    *pp = p;
    return 0;
}

/* RFC 9112 6.1 and 6.3: any doubt about where the body ends is a refusal,
 * since a proxy in between may have decided otherwise. 1 if chunked. */
static int check_framing(const field_sem *sem, int minor_version) {
    const te_state *te = &sem->te;

    if (te->count == 0)
        return 0;
    if (minor_version == 0 || sem->content_length >= 0)
        return H1_E_SMUGGLING;
    if (te->bad || te->chunked > 1 || (te->chunked == 1 && !te->last_chunked))
        return H1_E_SMUGGLING;
    if (te->unknown)
        return H1_E_NOT_IMPLEMENTED;
    return 1;
}

/* Parses the head in b[s, end), which is known to contain CRLF CRLF, in
 * one pass. Returns the head length or an error. */
static int parse_head(const unsigned char *b, size_t s, size_t end,
                      h1_request *req, const h1_limits *limits) {
    const unsigned char *p = b + s, *e = b + end, *start;
    field_sem sem;
    int rc;

    memset(&sem, 0, sizeof sem);
    sem.content_length = -1;

    /* method SP */
    start = p;
    while (cls[*p] & C_TCHAR)
        p++;
    if (p == start || *p != ' ')
        return H1_E_BAD_REQUEST;
    req->method = (const char *)start;
    req->method_len = (size_t)(p - start);
    p++;

    /* request-target SP */
    start = p;
    p = skip_target(p, e);
    if (p == start || *p != ' ')
        return H1_E_BAD_REQUEST;
    req->target = (const char *)start;
    req->target_len = (size_t)(p - start);
    if (req->target_len > limits->max_target_bytes)
        return H1_E_URI_TOO_LONG;
    if (!target_form_ok(req))
        return H1_E_BAD_REQUEST;
    p++;

    /* HTTP-version CRLF: the shape first (400), then the number (505). */
    if (e - p < 10 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' ||
        p[6] != '.' || p[7] < '0' || p[7] > '9' || p[8] != '\r' || p[9] != '\n')
        return H1_E_BAD_REQUEST;
    if (p[5] != '1' || p[7] > '1')
        return H1_E_VERSION;
    req->minor_version = p[7] - '0';
    p += 10;

    rc = parse_fields(&p, e, req->headers, limits->max_headers,
                      &req->num_headers, &sem, 1);
    if (rc != 0)
        return rc;
    req->content_length = sem.content_length;
    req->host = sem.host;
    req->host_len = sem.host_len;
    /* 100-continue is an HTTP/1.1 mechanism: a 1.0 client never waits for
     * the interim response. */
    req->expect_continue = sem.expect_100 && req->minor_version == 1;

    rc = check_framing(&sem, req->minor_version);
    if (rc < 0)
        return rc;
    req->chunked = rc == 1;
    if (req->minor_version == 1 && req->host == NULL)
        return H1_E_BAD_REQUEST;
    if (req->minor_version == 1)
        req->keep_alive = !sem.conn_close;
    else
        req->keep_alive = sem.conn_keep_alive && !sem.conn_close;
    return (int)(p - b);
}

/* Looks for the end of the head (CRLF CRLF) in b[s, len): one memchr per
 * line, checking each LF for its CR on the way. 3 bytes of overlap re-see
 * a CRLF CR split by the previous read. Sets *end (0: not found yet) or
 * returns H1_E_BAD_REQUEST for a bare LF. b[s] must not be LF. */
static int find_head_end(const unsigned char *b, size_t len, size_t s,
                         size_t scan_from, size_t max_head, size_t *end) {
    size_t lim = len < max_head ? len : max_head;
    size_t from = scan_from > 3 ? scan_from - 3 : 0;

    *end = 0;
    if (from < s)
        from = s;
    while (from < lim) {
        const unsigned char *lf = memchr(b + from, '\n', lim - from);
        size_t q;

        if (lf == NULL)
            break;
        q = (size_t)(lf - b);
        if (q == s || b[q - 1] != '\r')
            return H1_E_BAD_REQUEST;
        if (q - s >= 3 && b[q - 2] == '\n' && b[q - 3] == '\r') {
            *end = q + 1;
            break;
        }
        from = q + 1;
    }
    return 0;
}

int h1_parse_request(const char *buf, size_t len, size_t scan_from,
                     h1_request *req, const h1_limits *limits) {
    const unsigned char *b = (const unsigned char *)buf;
    size_t max_head = limits->max_head_bytes;
    size_t s = 0, empty = 0, end = 0;
    int rc;

    req->method = NULL;
    req->method_len = 0;
    req->target = NULL;
    req->target_len = 0;
    req->minor_version = 0;
    req->num_headers = 0;
    req->content_length = -1;
    req->chunked = 0;
    req->keep_alive = 0;
    req->expect_continue = 0;
    req->host = NULL;
    req->host_len = 0;

    if (max_head > INT_MAX)
        max_head = INT_MAX;

    while (len - s >= 2 && b[s] == '\r' && b[s + 1] == '\n') {
        if (++empty > H1_MAX_EMPTY_LINES)
            return H1_E_BAD_REQUEST;
        s += 2;
    }
    /* Reject garbage (a TLS hello, a bare LF or CR) on its first byte
     * rather than when the head limit is reached. */
    if (s < len && !(cls[b[s]] & C_TCHAR) && !(b[s] == '\r' && len - s == 1))
        return H1_E_BAD_REQUEST;

    rc = find_head_end(b, len, s, scan_from, max_head, &end);
    if (rc != 0)
        return rc;
    if (end == 0) {
        size_t lim = len < max_head ? len : max_head;
        if (len >= max_head)
            return head_too_large(b + s, lim > s ? lim - s : 0,
                                  limits->max_target_bytes);
        return H1_PARTIAL;
    }
    return parse_head(b, s, end, req, limits);
}

int h1_parse_response(const char *buf, size_t len, size_t scan_from,
                      h1_response *res, const h1_limits *limits) {
    const unsigned char *b = (const unsigned char *)buf, *p, *e;
    size_t max_head = limits->max_head_bytes, end = 0, i;
    field_sem sem;
    int rc;

    memset(&sem, 0, sizeof sem);
    sem.content_length = -1;
    res->minor_version = 0;
    res->status = 0;
    res->reason = NULL;
    res->reason_len = 0;
    res->num_headers = 0;
    res->content_length = -1;
    res->chunked = 0;
    res->keep_alive = 0;

    if (max_head > INT_MAX)
        max_head = INT_MAX;
    /* "HTTP/" from the first byte on: anything else is not a response. */
    for (i = 0; i < len && i < 5; i++)
        if (b[i] != (unsigned char)"HTTP/"[i])
            return H1_E_BAD_REQUEST;
    rc = find_head_end(b, len, 0, scan_from, max_head, &end);
    if (rc != 0)
        return rc;
    if (end == 0)
        return len >= max_head ? H1_E_HEAD_TOO_LARGE : H1_PARTIAL;

    /* status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] CRLF */
    p = b;
    e = b + end;
    if (e - p < 14 || p[5] != '1' || p[6] != '.' || p[7] < '0' || p[7] > '1' ||
        p[8] != ' ' || p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' ||
        p[11] < '0' || p[11] > '9')
        return H1_E_BAD_REQUEST;
    res->minor_version = p[7] - '0';
    res->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    p += 12;
    if (*p == ' ') {
        p++;
        res->reason = (const char *)p;
        p = skip_value(p, e);
        res->reason_len = (size_t)((const char *)p - res->reason);
    }
    if (p[0] != '\r' || p[1] != '\n')
        return H1_E_BAD_REQUEST;
    p += 2;

    rc = parse_fields(&p, e, res->headers, limits->max_headers,
                      &res->num_headers, &sem, 0);
    if (rc != 0)
        return rc;
    res->content_length = sem.content_length;
    rc = check_framing(&sem, res->minor_version);
    if (rc < 0)
        return rc;
    res->chunked = rc == 1;
    if (res->minor_version == 1)
        res->keep_alive = !sem.conn_close;
    else
        res->keep_alive = sem.conn_keep_alive && !sem.conn_close;
    return (int)(p - b);
}

int h1_error_status(int err) {
    switch (err) {
    case H1_E_HEAD_TOO_LARGE:
    case H1_E_TOO_MANY_HEADERS:
        return 431;
    case H1_E_VERSION:
        return 505;
    case H1_E_NOT_IMPLEMENTED:
        return 501;
    case H1_E_URI_TOO_LONG:
        return 414;
    case H1_CHUNKED_E_TOO_LARGE:
        return 413;
    case H1_E_BAD_REQUEST:
    case H1_E_SMUGGLING:
    default:
        return 400;
    }
}

const char *h1_strerror(int err) {
    switch (err) {
    case H1_PARTIAL:
        return "incomplete request";
    case H1_E_BAD_REQUEST:
        return "malformed request";
    case H1_E_HEAD_TOO_LARGE:
        return "request head too large";
    case H1_E_TOO_MANY_HEADERS:
        return "too many header fields";
    case H1_E_VERSION:
        return "HTTP version not supported";
    case H1_E_SMUGGLING:
        return "ambiguous message framing";
    case H1_E_NOT_IMPLEMENTED:
        return "transfer coding not implemented";
    case H1_E_URI_TOO_LONG:
        return "request-target too long";
    case H1_CHUNKED_E_TOO_LARGE:
        return "request body too large";
    default:
        return err >= 0 ? "success" : "unknown error";
    }
}

const h1_header *h1_find_header(const h1_request *req, const char *name) {
    size_t n = strlen(name), i;

    for (i = 0; i < req->num_headers; i++) {
        const h1_header *h = &req->headers[i];
        size_t j;

        if (h->name_len != n)
            continue;
        for (j = 0; j < n; j++) {
            unsigned char a = (unsigned char)h->name[j];
            unsigned char c = (unsigned char)name[j];
            if (a >= 'A' && a <= 'Z')
                a = (unsigned char)(a + ('a' - 'A'));
            if (c >= 'A' && c <= 'Z')
                c = (unsigned char)(c + ('a' - 'A'));
            if (a != c)
                break;
        }
        if (j == n)
            return h;
    }
    return NULL;
}

/* Decoder states. A negative d->state is the sticky error code: the
 * framing is lost for good once it is wrong. Trailer states come last so
 * one comparison tells whether a byte counts against the trailer limit. */
enum {
    CS_SIZE = 0, /* chunk-size hex digits (zeroed struct starts here) */
    CS_SIZE_WS,  /* BWS between size and ';' */
    CS_EXT,      /* chunk extensions, up to CR */
    CS_SIZE_LF,  /* LF ending the size line */
    CS_DATA,     /* chunk data */
    CS_DATA_CR,  /* CR after chunk data */
    CS_DATA_LF,  /* LF after chunk data */
    CS_TRAILER,  /* start of a trailer line, or the final CRLF */
    CS_TRAILER_NAME,
    CS_TRAILER_VALUE,
    CS_TRAILER_LF,
    CS_LAST_LF, /* LF of the final CRLF */
    CS_DONE,
};

void h1_chunked_init(h1_chunked *d, uint64_t max_body) {
    memset(d, 0, sizeof(*d));
    d->max_body = max_body;
    d->state = CS_SIZE;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

long h1_chunked_decode(h1_chunked *d, char *buf, size_t *len) {
    unsigned char *in = (unsigned char *)buf;
    size_t n = *len, r = 0, w = 0;
    long rc = H1_PARTIAL;

    if (d->state < 0) {
        rc = d->state;
        goto out;
    }
    if (d->state == CS_DONE) {
        rc = 0;
        goto out;
    }

    while (r < n) {
        unsigned char c = in[r];
        int h;

        if (d->state == CS_DATA) {
            size_t take = n - r;
            if (take > d->remaining)
                take = (size_t)d->remaining;
            if (w != r)
                memmove(in + w, in + r, take);
            w += take;
            r += take;
            d->remaining -= take;
            d->total += take;
            if (d->remaining == 0)
                d->state = CS_DATA_CR;
            continue;
        }
        if (d->state >= CS_TRAILER &&
            ++d->trailer_bytes > H1_MAX_TRAILER_BYTES) {
            rc = H1_E_BAD_REQUEST;
            goto fail;
        }
        r++;
        switch (d->state) {
        case CS_SIZE:
            h = hex_value(c);
            if (h >= 0) {
                /* 16 digits fill a uint64_t; a 17th would wrap, and a
                 * peer that truncates differently would see another
                 * body. */
                if (d->size_digits == 16) {
                    rc = H1_E_SMUGGLING;
                    goto fail;
                }
                d->size_digits++;
                d->remaining = d->remaining << 4 | (uint64_t)h;
                if (d->remaining > d->max_body - d->total) {
                    rc = H1_CHUNKED_E_TOO_LARGE;
                    goto fail;
                }
                break;
            }
            if (d->size_digits == 0) {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            if (c == '\r') {
                d->state = CS_SIZE_LF;
            } else if (c == ';') {
                d->state = CS_EXT;
            } else if (is_ows(c)) {
                d->state = CS_SIZE_WS;
            } else {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            break;
        case CS_SIZE_WS:
            if (c == ';') {
                d->state = CS_EXT;
            } else if (!is_ows(c)) {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            break;
        case CS_EXT:
            /* Names, values and quoted strings are ignored; what matters
             * is that no CR, LF or CTL hides inside, and that the line
             * is bounded. size_digits counts the line from here on. */
            if (++d->size_digits > H1_MAX_CHUNK_LINE) {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            if (c == '\r') {
                d->state = CS_SIZE_LF;
            } else if (!(cls[c] & C_VALUE)) {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            break;
        case CS_SIZE_LF:
            if (c != '\n') {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            d->state = d->remaining == 0 ? CS_TRAILER : CS_DATA;
            break;
        case CS_DATA_CR:
            /* Data not followed by CRLF means the size lied: the classic
             * desync, so say so. */
            if (c != '\r') {
                rc = H1_E_SMUGGLING;
                goto fail;
            }
            d->state = CS_DATA_LF;
            break;
        case CS_DATA_LF:
            if (c != '\n') {
                rc = H1_E_SMUGGLING;
                goto fail;
            }
            d->size_digits = 0;
            d->state = CS_SIZE;
            break;
        case CS_TRAILER:
            if (c == '\r') {
                d->state = CS_LAST_LF;
            } else if (cls[c] & C_TCHAR) {
                d->state = CS_TRAILER_NAME;
            } else {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            break;
        case CS_TRAILER_NAME:
            if (c == ':') {
                d->state = CS_TRAILER_VALUE;
            } else if (!(cls[c] & C_TCHAR)) {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            break;
        case CS_TRAILER_VALUE:
            if (c == '\r') {
                d->state = CS_TRAILER_LF;
            } else if (!(cls[c] & C_VALUE)) {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            break;
        case CS_TRAILER_LF:
            if (c != '\n') {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            d->state = CS_TRAILER;
            break;
        case CS_LAST_LF:
            if (c != '\n') {
                rc = H1_E_BAD_REQUEST;
                goto fail;
            }
            d->state = CS_DONE;
            rc = (long)r;
            goto out;
        default:
            rc = H1_E_BAD_REQUEST;
            goto fail;
        }
    }
    goto out;

fail:
    d->state = (int)rc;
out:
    *len = w;
    return rc;
}
