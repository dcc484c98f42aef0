/* test_h1_parser.c: unit tests for the HTTP/1.1 head parser and the
 * chunked decoder, one case per rejection rule plus split-read tests. */
#include "h1_parser.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static h1_header hdrs[64];
static h1_request req;

static int parse_lim(const char *s, size_t len, size_t max_head,
                     size_t max_target, size_t max_headers) {
    h1_limits lim;

    lim.max_head_bytes = max_head;
    lim.max_target_bytes = max_target;
    lim.max_headers = max_headers;
    req.headers = hdrs;
    return h1_parse_request(s, len, 0, &req, &lim);
}

static int parse_n(const char *s, size_t len) {
    return parse_lim(s, len, 8192, 2048, 64);
}

static int parse(const char *s) {
    return parse_n(s, strlen(s));
}

/* |p|/|n| (not NUL-terminated) equals |lit|. */
static int span_eq(const char *p, size_t n, const char *lit) {
    return p != NULL && strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* Length of the first head in |s|, the naive way. */
static size_t head_len(const char *s) {
    return (size_t)(strstr(s, "\r\n\r\n") - s) + 4;
}

#define GET_HOST "GET / HTTP/1.1\r\nHost: a\r\n"

static void test_simple_get(void) {
    const char *s = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
                    "User-Agent: t\r\n\r\n";
    int rc = parse(s);

    CHECK_EQ_INT(rc, strlen(s));
    CHECK(span_eq(req.method, req.method_len, "GET"));
    CHECK(span_eq(req.target, req.target_len, "/index.html?q=1"));
    CHECK_EQ_INT(req.minor_version, 1);
    CHECK_EQ_INT(req.num_headers, 2);
    CHECK(span_eq(req.headers[0].name, req.headers[0].name_len, "Host"));
    CHECK(span_eq(req.headers[1].value, req.headers[1].value_len, "t"));
    CHECK(span_eq(req.host, req.host_len, "example.com"));
    CHECK_EQ_INT(req.content_length, -1);
    CHECK_EQ_INT(req.chunked, 0);
    CHECK_EQ_INT(req.keep_alive, 1);
    CHECK_EQ_INT(req.expect_continue, 0);
    /* Pointers are into the caller's buffer. */
    CHECK(req.method == s);
}

static void test_many_headers(void) {
    char buf[4096];
    size_t n = 0, i;
    int rc, bad = 0;

    n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                          "POST /upload HTTP/1.1\r\nHost: h\r\n");
    for (i = 0; i < 60; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                              "X-Header-%zu: value number %zu\r\n", i, i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
    rc = parse_n(buf, n);
    CHECK_EQ_INT(rc, n);
    CHECK_EQ_INT(req.num_headers, 61);
    for (i = 0; i < 60; i++) {
        char name[32], value[32];
        snprintf(name, sizeof(name), "X-Header-%zu", i);
        snprintf(value, sizeof(value), "value number %zu", i);
        if (!span_eq(req.headers[i + 1].name, req.headers[i + 1].name_len,
                     name) ||
            !span_eq(req.headers[i + 1].value, req.headers[i + 1].value_len,
                     value))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(span_eq(req.method, req.method_len, "POST"));
}

static void test_values(void) {
    int rc;

    rc = parse(GET_HOST "X:  a b \t\r\nY:\r\nZ: \t \r\nW:v\r\n\r\n");
    CHECK(rc > 0);
    CHECK(span_eq(req.headers[1].value, req.headers[1].value_len, "a b"));
    CHECK_EQ_INT(req.headers[2].value_len, 0);
    CHECK_EQ_INT(req.headers[3].value_len, 0);
    CHECK(span_eq(req.headers[4].value, req.headers[4].value_len, "v"));
    /* obs-text and inner HTAB are field-content. */
    rc = parse(GET_HOST "X: caf\xc3\xa9\tau lait\r\n\r\n");
    CHECK(rc > 0);
    CHECK(span_eq(req.headers[1].value, req.headers[1].value_len,
                  "caf\xc3\xa9\tau lait"));
}

/* Every byte value, in every position that has its own character set. */
static void test_byte_classes(void) {
    const char *tchars = "!#$%&'*+-.^_`|~";
    int c, bad_method = 0, bad_name = 0, bad_value = 0, bad_target = 0;

    for (c = 0; c < 256; c++) {
        char buf[128];
        int n, rc, is_tchar, ok;

        is_tchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                   (c >= 'A' && c <= 'Z') ||
                   (c != 0 && strchr(tchars, c) != NULL);

        n = snprintf(buf, sizeof(buf), "G%cT / HTTP/1.1\r\nHost: a\r\n\r\n",
                     'x');
        buf[1] = (char)c;
        rc = parse_n(buf, (size_t)n);
        if ((rc == n) != is_tchar)
            bad_method++;

        n = snprintf(buf, sizeof(buf), GET_HOST "X%cY: v\r\n\r\n", 'x');
        buf[sizeof(GET_HOST) - 1 + 1] = (char)c;
        rc = parse_n(buf, (size_t)n);
        /* "X:Y: v" is header X with value "Y: v". */
        if ((rc == n) != (is_tchar || c == ':'))
            bad_name++;

        n = snprintf(buf, sizeof(buf), GET_HOST "X: a%cb\r\n\r\n", 'x');
        buf[sizeof(GET_HOST) - 1 + 4] = (char)c;
        rc = parse_n(buf, (size_t)n);
        ok = c == '\t' || (c >= 0x20 && c != 0x7f);
        if ((rc == n) != ok)
            bad_value++;

        n = snprintf(buf, sizeof(buf), "GET /a%cb HTTP/1.1\r\nHost: a\r\n\r\n",
                     'x');
        buf[6] = (char)c;
        rc = parse_n(buf, (size_t)n);
        ok = c >= 0x21 && c <= 0x7e;
        if ((rc == n) != ok)
            bad_target++;
    }
    CHECK_EQ_INT(bad_method, 0);
    CHECK_EQ_INT(bad_name, 0);
    CHECK_EQ_INT(bad_value, 0);
    CHECK_EQ_INT(bad_target, 0);
}

/* A CTL at every offset of values and targets of many lengths, so that the
 * word-at-a-time fast paths are exercised at each alignment. */
static void test_fast_path_positions(void) {
    int len, pos, bad = 0;

    for (len = 1; len <= 40; len++) {
        for (pos = -1; pos < len; pos++) {
            char buf[256];
            int n, rc, i;
            size_t off = sizeof(GET_HOST) - 1 + 3;

            n = snprintf(buf, sizeof(buf), GET_HOST "X: ");
            for (i = 0; i < len; i++)
                buf[n++] = (char)('a' + i % 26);
            memcpy(buf + n, "\r\n\r\n", 4);
            n += 4;
            if (pos >= 0)
                buf[off + (size_t)pos] = (pos % 2) ? '\x7f' : '\x01';
            rc = parse_n(buf, (size_t)n);
            if (pos < 0 && (rc != n || req.headers[1].value_len != (size_t)len))
                bad++;
            if (pos >= 0 && rc != H1_E_BAD_REQUEST)
                bad++;

            /* Same for the target, with a byte >= 0x7f or a CTL. */
            n = snprintf(buf, sizeof(buf), "GET /");
            for (i = 0; i < len; i++)
                buf[n++] = (char)('a' + i % 26);
            n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                          " HTTP/1.1\r\nHost: a\r\n\r\n");
            if (pos >= 0)
                buf[5 + pos] = (pos % 2) ? '\x80' : '\t';
            rc = parse_n(buf, (size_t)n);
            if (pos < 0 && (rc != n || req.target_len != (size_t)len + 1))
                bad++;
            if (pos >= 0 && rc != H1_E_BAD_REQUEST)
                bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_leading_empty_lines(void) {
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    int rc = parse(s);

    CHECK_EQ_INT(rc, strlen(s));
    CHECK(req.method == s + 4);
    CHECK_EQ_INT(parse("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n"
                       "Host: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("\r"), H1_PARTIAL);
    CHECK_EQ_INT(parse("\r\n"), H1_PARTIAL);
    CHECK_EQ_INT(parse("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    /* Garbage is refused on its first byte, not at the head limit. */
    CHECK_EQ_INT(parse("\x16\x03\x01"), H1_E_BAD_REQUEST);
}

static void test_method(void) {
    CHECK(parse("PURGE / HTTP/1.1\r\nHost: a\r\n\r\n") > 0);
    CHECK(span_eq(req.method, req.method_len, "PURGE"));
    CHECK(parse("M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n") == H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GE@ / HTTP/1.1\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
}

static void test_target(void) {
    CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") > 0);
    CHECK(span_eq(req.target, req.target_len, "*"));
    CHECK_EQ_INT(parse("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("options * HTTP/1.1\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK(parse("GET http://a.example/x HTTP/1.1\r\nHost: a\r\n\r\n") > 0);
    CHECK(parse("GET HTTPS://a.example/ HTTP/1.1\r\nHost: a\r\n\r\n") > 0);
    CHECK_EQ_INT(parse("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("CONNECT a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET index.html HTTP/1.1\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET  HTTP/1.1\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
}

static void test_version(void) {
    CHECK(parse("GET / HTTP/1.0\r\n\r\n") > 0);
    CHECK_EQ_INT(req.minor_version, 0);
    CHECK_EQ_INT(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), H1_E_VERSION);
    CHECK_EQ_INT(parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), H1_E_VERSION);
    CHECK_EQ_INT(parse("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), H1_E_VERSION);
    CHECK_EQ_INT(h1_error_status(H1_E_VERSION), 505);
    CHECK_EQ_INT(parse("GET / http/1.1\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/11\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/2\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET /\r\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / FOO\r\n\r\n"), H1_E_BAD_REQUEST);
}

static void test_line_endings(void) {
    /* Bare LF: refused even before the head is complete. */
    CHECK_EQ_INT(parse("GET / HTTP/1.1\nHost: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\nHost"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\r\n\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    /* Bare CR. */
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX\r: b\r\n\r\n"),
                 H1_E_BAD_REQUEST);
}

static void test_header_syntax(void) {
    static const char nul[] = GET_HOST "X: a\0b\r\n\r\n";

    CHECK_EQ_INT(parse(GET_HOST "X : a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "X\t: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "X a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST ": a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "X(y): a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "X/y: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "X y: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse_n(nul, sizeof(nul) - 1), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "X: a\x01"
                                "b\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "X: a\x7f\r\n\r\n"), H1_E_BAD_REQUEST);
    /* obs-fold, after a field and as the first line. */
    CHECK_EQ_INT(parse(GET_HOST "X: a\r\n b\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "X: a\r\n\tb\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(h1_error_status(H1_E_BAD_REQUEST), 400);
}

static void test_limits(void) {
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n";
    size_t n = strlen(s);
    char big[9000];
    int rc;

    /* Complete head: exactly at the limit passes, one below fails. */
    CHECK_EQ_INT(parse_lim(s, n, n, 2048, 64), n);
    CHECK_EQ_INT(parse_lim(s, n, n - 1, 2048, 64), H1_E_HEAD_TOO_LARGE);
    CHECK_EQ_INT(parse_lim(s, n, 20, 2048, 64), H1_E_HEAD_TOO_LARGE);
    /* Partial head: PARTIAL below the limit, too large at it. */
    CHECK_EQ_INT(parse_lim(s, 30, 40, 2048, 64), H1_PARTIAL);
    CHECK_EQ_INT(parse_lim(s, 30, 30, 2048, 64), H1_E_HEAD_TOO_LARGE);
    CHECK_EQ_INT(parse_lim(s, 30, 25, 2048, 64), H1_E_HEAD_TOO_LARGE);
    CHECK_EQ_INT(h1_error_status(H1_E_HEAD_TOO_LARGE), 431);
    /* Leading empty lines count against the limit. */
    CHECK_EQ_INT(parse_lim("\r\n\r\nGET / HTTP/1.0\r\n\r\n", 22, 21, 2048, 0),
                 H1_E_HEAD_TOO_LARGE);
    CHECK_EQ_INT(parse_lim("\r\n\r\nGET / HTTP/1.0\r\n\r\n", 22, 22, 2048, 0),
                 22);

    /* Headers: the limit itself passes, one more fails. */
    CHECK_EQ_INT(parse_lim(GET_HOST "A: 1\r\nB: 2\r\n\r\n",
                           strlen(GET_HOST "A: 1\r\nB: 2\r\n\r\n"), 8192, 2048,
                           3),
                 strlen(GET_HOST "A: 1\r\nB: 2\r\n\r\n"));
    CHECK_EQ_INT(parse_lim(GET_HOST "A: 1\r\nB: 2\r\nC: 3\r\n\r\n",
                           strlen(GET_HOST "A: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
                           8192, 2048, 3),
                 H1_E_TOO_MANY_HEADERS);
    CHECK_EQ_INT(h1_error_status(H1_E_TOO_MANY_HEADERS), 431);

    /* Target: exactly the limit passes, one more is 414. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    memcpy(big + 5 + 99, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
    CHECK_EQ_INT(parse_lim(big, 5 + 99 + 22, 8192, 100, 64), 5 + 99 + 22);
    CHECK_EQ_INT(req.target_len, 100);
    CHECK_EQ_INT(parse_lim(big, 5 + 99 + 22, 8192, 99, 64), H1_E_URI_TOO_LONG);
    CHECK_EQ_INT(h1_error_status(H1_E_URI_TOO_LONG), 414);
    /* A target so long that the head never completes is still 414. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    rc = parse_lim(big, sizeof(big), 8192, 2048, 64);
    CHECK_EQ_INT(rc, H1_E_URI_TOO_LONG);
    /* ...but a huge header is 431. */
    memcpy(big, GET_HOST "X: ", sizeof(GET_HOST) - 1 + 3);
    rc = parse_lim(big, sizeof(big), 8192, 2048, 64);
    CHECK_EQ_INT(rc, H1_E_HEAD_TOO_LARGE);
}

static void test_content_length(void) {
    CHECK(parse(GET_HOST "Content-Length: 5\r\n\r\n") > 0);
    CHECK_EQ_INT(req.content_length, 5);
    CHECK(parse(GET_HOST "content-length: 0\r\n\r\n") > 0);
    CHECK_EQ_INT(req.content_length, 0);
    CHECK(parse(GET_HOST "Content-Length: 007\r\n\r\n") > 0);
    CHECK_EQ_INT(req.content_length, 7);
    CHECK(parse(GET_HOST "Content-Length: 999999999999999999\r\n\r\n") > 0);
    CHECK_EQ_INT(req.content_length, 999999999999999999LL);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: 1000000000000000000\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(
        parse(GET_HOST "Content-Length: 99999999999999999999999\r\n\r\n"),
        H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: +5\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: -5\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: 5 5\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: 0x5\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: 5a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: 1e3\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length:\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: 5,\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: ,5\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    /* Duplicates: identical is fine, differing is smuggling. */
    CHECK(parse(GET_HOST "Content-Length: 5\r\nContent-Length: 5\r\n\r\n") > 0);
    CHECK_EQ_INT(req.content_length, 5);
    CHECK(parse(GET_HOST "Content-Length: 5 , 5,5\r\n\r\n") > 0);
    CHECK_EQ_INT(req.content_length, 5);
    CHECK_EQ_INT(
        parse(GET_HOST "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: 5, 6\r\n\r\n"),
                 H1_E_SMUGGLING);
    /* The same decimal value, spelled differently, is still the same. */
    CHECK(parse(GET_HOST "Content-Length: 5\r\nContent-Length: 05\r\n\r\n") >
          0);
    CHECK_EQ_INT(req.content_length, 5);
    CHECK_EQ_INT(h1_error_status(H1_E_SMUGGLING), 400);
}

static void test_transfer_encoding(void) {
    CHECK(parse(GET_HOST "Transfer-Encoding: chunked\r\n\r\n") > 0);
    CHECK_EQ_INT(req.chunked, 1);
    CHECK_EQ_INT(req.content_length, -1);
    CHECK(parse(GET_HOST "transfer-encoding: CHUNKED \r\n\r\n") > 0);
    CHECK_EQ_INT(req.chunked, 1);
    CHECK(parse(GET_HOST "Transfer-Encoding: Chunked\r\n\r\n") > 0);
    CHECK_EQ_INT(req.chunked, 1);
    /* CL and TE together, in both orders. */
    CHECK_EQ_INT(parse(GET_HOST "Content-Length: 5\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: chunked\r\n"
                                "Content-Length: 5\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: gzip\r\n"
                                "Content-Length: 5\r\n\r\n"),
                 H1_E_SMUGGLING);
    /* Codings we do not do. */
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: gzip\r\n\r\n"),
                 H1_E_NOT_IMPLEMENTED);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: identity\r\n\r\n"),
                 H1_E_NOT_IMPLEMENTED);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: gzip, chunked\r\n\r\n"),
                 H1_E_NOT_IMPLEMENTED);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: gzip\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"),
                 H1_E_NOT_IMPLEMENTED);
    CHECK_EQ_INT(h1_error_status(H1_E_NOT_IMPLEMENTED), 501);
    /* Shapes where the end of the body is unknowable. */
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: chunked, gzip\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: chunked, chunked\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: chunked\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: chunked\r\n"
                                "Transfer-Encoding:\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding:\r\n\r\n"), H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: chunked,\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: chunked;q=1\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: chunked x\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: \"chunked\"\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse(GET_HOST "Transfer-Encoding: xchunked\r\n\r\n"),
                 H1_E_NOT_IMPLEMENTED);
    /* HTTP/1.0 has no Transfer-Encoding. */
    CHECK_EQ_INT(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
                 H1_E_SMUGGLING);
    /* Lookalike names are just headers. */
    CHECK(parse(GET_HOST "Transfer-Encodings: gzip\r\n\r\n") > 0);
    CHECK_EQ_INT(req.chunked, 0);
}

static void test_host(void) {
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nX: a\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    CHECK(parse("GET / HTTP/1.0\r\n\r\n") > 0);
    CHECK(req.host == NULL);
    CHECK(parse("GET / HTTP/1.1\r\nHOST: x.example:8080\r\n\r\n") > 0);
    CHECK(span_eq(req.host, req.host_len, "x.example:8080"));
    CHECK(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n") > 0);
    CHECK(req.host != NULL);
    CHECK_EQ_INT(req.host_len, 0);
}

static void test_keep_alive(void) {
    CHECK(parse(GET_HOST "\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 1);
    CHECK(parse(GET_HOST "Connection: close\r\n\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 0);
    CHECK(parse(GET_HOST "Connection: Upgrade, CLOSE\r\n\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 0);
    CHECK(parse(GET_HOST
                "Connection: keep-alive\r\nConnection: close\r\n\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 0);
    CHECK(parse(GET_HOST "Connection: closed, x-close\r\n\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 1);
    CHECK(parse(GET_HOST "Connection: keep-alive\r\n\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 1);

    CHECK(parse("GET / HTTP/1.0\r\n\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 1);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: ,te , keep-alive ,\r\n\r\n") >
          0);
    CHECK_EQ_INT(req.keep_alive, 1);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alived\r\n\r\n") > 0);
    CHECK_EQ_INT(req.keep_alive, 0);
}

static void test_expect(void) {
    CHECK(parse(GET_HOST "Expect: 100-continue\r\n\r\n") > 0);
    CHECK_EQ_INT(req.expect_continue, 1);
    CHECK(parse(GET_HOST "expect: 100-Continue\r\n\r\n") > 0);
    CHECK_EQ_INT(req.expect_continue, 1);
    CHECK(parse(GET_HOST "Expect: 200-ok\r\n\r\n") > 0);
    CHECK_EQ_INT(req.expect_continue, 0);
    CHECK(parse(GET_HOST "Expect: 100-continue-ish\r\n\r\n") > 0);
    CHECK_EQ_INT(req.expect_continue, 0);
    CHECK(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n") > 0);
    CHECK_EQ_INT(req.expect_continue, 0);
}

static void test_pipelined(void) {
    const char *s = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                    "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"
                    "xyz"
                    "GET /c HTTP/1.0\r\n\r\n";
    size_t len = strlen(s), off = 0;
    int rc;

    rc = parse_n(s, len);
    CHECK_EQ_INT(rc, head_len(s));
    CHECK(span_eq(req.target, req.target_len, "/a"));
    off += (size_t)rc;
    rc = parse_n(s + off, len - off);
    CHECK(rc > 0);
    CHECK(span_eq(req.target, req.target_len, "/b"));
    CHECK_EQ_INT(req.content_length, 3);
    CHECK(span_eq(s + off + rc, 3, "xyz"));
    off += (size_t)rc + 3;
    rc = parse_n(s + off, len - off);
    CHECK_EQ_INT(rc, len - off);
    CHECK(span_eq(req.target, req.target_len, "/c"));
    CHECK_EQ_INT(req.minor_version, 0);
}

/* Feeds every prefix; each call passes the previous length as scan_from,
 * as the connection code does. Returns the number of misbehaving prefixes. */
static int feed_prefixes(const char *s, size_t len, int want) {
    h1_limits lim = {8192, 2048, 64};
    size_t k, seen = 0;
    int bad = 0, rc = H1_PARTIAL;

    req.headers = hdrs;
    /* Without the hint first, so |req| is left from the hinted run. */
    for (k = 0; k < len; k++) {
        int r = h1_parse_request(s, k, 0, &req, &lim);
        if (want > 0 && k < (size_t)want && r != H1_PARTIAL)
            bad++;
    }
    for (k = 0; k <= len; k++) {
        rc = h1_parse_request(s, k, seen, &req, &lim);
        if (rc != H1_PARTIAL)
            break;
        seen = k;
    }
    if (rc != want)
        bad++;
    if (want > 0 && k != (size_t)want)
        bad++;
    return bad;
}

static void test_split_reads(void) {
    const char *get = "GET /split HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n"
                      "Connection: keep-alive\r\n\r\n";
    const char *pair = "\r\nGET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                       "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *chunked = "POST / HTTP/1.1\r\nHost: a\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
    const char *bad = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nX : 2\r\n\r\n";

    CHECK_EQ_INT(feed_prefixes(get, strlen(get), (int)strlen(get)), 0);
    CHECK(span_eq(req.target, req.target_len, "/split"));
    CHECK_EQ_INT(req.num_headers, 3);
    CHECK_EQ_INT(feed_prefixes(pair, strlen(pair), (int)head_len(pair)), 0);
    CHECK(span_eq(req.target, req.target_len, "/1"));
    CHECK_EQ_INT(
        feed_prefixes(chunked, strlen(chunked), (int)head_len(chunked)), 0);
    CHECK_EQ_INT(req.chunked, 1);
    CHECK_EQ_INT(feed_prefixes(bad, strlen(bad), H1_E_BAD_REQUEST), 0);
}

static void test_find_header_and_strings(void) {
    const h1_header *h;

    CHECK(parse(GET_HOST "X-Thing: 1\r\nx-thing: 2\r\n\r\n") > 0);
    h = h1_find_header(&req, "X-THING");
    CHECK(h != NULL && span_eq(h->value, h->value_len, "1"));
    h = h1_find_header(&req, "host");
    CHECK(h != NULL && span_eq(h->value, h->value_len, "a"));
    CHECK(h1_find_header(&req, "X-Thin") == NULL);
    CHECK(h1_find_header(&req, "X-Things") == NULL);
    CHECK(strlen(h1_strerror(H1_E_SMUGGLING)) > 0);
    CHECK(strcmp(h1_strerror(H1_E_SMUGGLING), h1_strerror(H1_E_VERSION)) != 0);
    CHECK(strlen(h1_strerror(-999)) > 0);
    CHECK_EQ_INT(h1_error_status(H1_CHUNKED_E_TOO_LARGE), 413);
}

/* Chunked decoding. */

static const char body1[] = "5\r\nhello\r\n6;ext=1\r\n world\r\n"
                            "A\r\n, 10 bytes\r\n0\r\n\r\n";
static const char body1_out[] = "hello world, 10 bytes";

/* Decodes |in| fed in pieces: piece i has size sizes[i % nsizes]. Writes
 * the decoded body to |out|, returns the final decoder result and sets
 * *consumed to the input offset at which the body ended. */
static long decode_pieces(const char *in, size_t len, const size_t *sizes,
                          size_t nsizes, uint64_t max_body, char *out,
                          size_t *out_len, size_t *consumed) {
    char *copy = malloc(len ? len : 1);
    h1_chunked d;
    size_t off = 0, i = 0;
    long rc = H1_PARTIAL;

    memcpy(copy, in, len);
    h1_chunked_init(&d, max_body);
    *out_len = 0;
    *consumed = 0;
    while (off < len) {
        size_t piece = sizes[i++ % nsizes], n;
        if (piece > len - off)
            piece = len - off;
        n = piece;
        rc = h1_chunked_decode(&d, copy + off, &n);
        memcpy(out + *out_len, copy + off, n);
        *out_len += n;
        if (rc >= 0) {
            *consumed = off + (size_t)rc;
            break;
        }
        if (rc != H1_PARTIAL)
            break;
        off += piece;
    }
    free(copy);
    return rc;
}

static long decode_whole(const char *in, size_t len, uint64_t max_body,
                         char *out, size_t *out_len, size_t *consumed) {
    size_t sizes[1];

    sizes[0] = len ? len : 1;
    return decode_pieces(in, len, sizes, 1, max_body, out, out_len, consumed);
}

static long decode_str(const char *s, uint64_t max_body) {
    char out[256];
    size_t out_len, consumed;

    return decode_whole(s, strlen(s), max_body, out, &out_len, &consumed);
}

/* |s| decodes completely, consuming all of it. */
static int decode_ok(const char *s, uint64_t max_body) {
    return decode_str(s, max_body) == (long)strlen(s);
}

static void test_chunked_whole(void) {
    char buf[sizeof(body1)];
    h1_chunked d;
    size_t n = sizeof(body1) - 1;
    long rc;

    memcpy(buf, body1, sizeof(body1));
    h1_chunked_init(&d, 1 << 20);
    rc = h1_chunked_decode(&d, buf, &n);
    CHECK_EQ_INT(rc, sizeof(body1) - 1);
    CHECK_EQ_INT(n, strlen(body1_out));
    CHECK(span_eq(buf, n, body1_out));
    CHECK_EQ_INT(d.total, strlen(body1_out));
    /* Once done, further calls consume nothing. */
    n = 3;
    CHECK_EQ_INT(h1_chunked_decode(&d, buf, &n), 0);
    CHECK_EQ_INT(n, 0);
    /* Empty body, and hex in both cases. */
    CHECK(decode_ok("0\r\n\r\n", 10));
    CHECK(decode_ok("a\r\n0123456789\r\nB\r\n0123456789A\r\n0\r\n\r\n", 100));
    CHECK(decode_ok("1\r\nz\r\n0\r\n\r\n", 1));
    /* A zeroed decoder works too (with a zero body limit). */
    memset(&d, 0, sizeof(d));
    memcpy(buf, "0\r\n\r\n", 5);
    n = 5;
    CHECK_EQ_INT(h1_chunked_decode(&d, buf, &n), 5);
    n = 0;
    h1_chunked_init(&d, 10);
    CHECK_EQ_INT(h1_chunked_decode(&d, buf, &n), H1_PARTIAL);
    CHECK_EQ_INT(n, 0);
}

static void test_chunked_byte_at_a_time(void) {
    char out[128];
    size_t one = 1, out_len, consumed;
    long rc;

    rc = decode_pieces(body1, sizeof(body1) - 1, &one, 1, 1 << 20, out,
                       &out_len, &consumed);
    CHECK_EQ_INT(rc, 1); /* the final LF was all of the last piece */
    CHECK_EQ_INT(consumed, sizeof(body1) - 1);
    CHECK(span_eq(out, out_len, body1_out));
}

static void test_chunked_every_split(void) {
    size_t len = sizeof(body1) - 1, k;
    int bad = 0;
    unsigned seed = 12345;
    int iter;

    for (k = 1; k <= len; k++) {
        char out[128];
        size_t sizes[2], out_len, consumed;
        long rc;

        sizes[0] = k;
        sizes[1] = len;
        rc = decode_pieces(body1, len, sizes, 2, 1 << 20, out, &out_len,
                           &consumed);
        if (rc < 0 || consumed != len || !span_eq(out, out_len, body1_out))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* Random piece sizes. */
    for (iter = 0; iter < 500; iter++) {
        char out[128];
        size_t sizes[8], out_len, consumed;
        int i;
        long rc;

        for (i = 0; i < 8; i++) {
            seed = seed * 1103515245u + 12345u;
            sizes[i] = 1 + (seed >> 16) % 9;
        }
        rc = decode_pieces(body1, len, sizes, 8, 1 << 20, out, &out_len,
                           &consumed);
        if (rc < 0 || consumed != len || !span_eq(out, out_len, body1_out))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_chunked_errors(void) {
    /* chunk-size: 16 hex digits fit, 17 never do, even with zeros. */
    CHECK_EQ_INT(decode_str("FFFFFFFFFFFFFFFF\r\nab", UINT64_MAX), H1_PARTIAL);
    CHECK_EQ_INT(decode_str("1FFFFFFFFFFFFFFFF\r\n", UINT64_MAX),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(decode_str("00000000000000001\r\na\r\n0\r\n\r\n", UINT64_MAX),
                 H1_E_SMUGGLING);
    CHECK(decode_ok("0000000000000001\r\na\r\n0\r\n\r\n", UINT64_MAX));
    /* Bad hex and other size-line garbage. */
    CHECK_EQ_INT(decode_str("g\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("5g\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("-1\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("0x5\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str(" 5\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("5 \r\nhello\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str(";x\r\n", 100), H1_E_BAD_REQUEST);
    /* Bare LF / CR in framing. */
    CHECK_EQ_INT(decode_str("5\nhello\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("5\rhello\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("0\r\n\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("0\r\n\rX", 100), H1_E_BAD_REQUEST);
    /* Data not followed by exactly CRLF. */
    CHECK_EQ_INT(decode_str("3\r\nabcd\r\n", 100), H1_E_SMUGGLING);
    CHECK_EQ_INT(decode_str("3\r\nabc\n0\r\n\r\n", 100), H1_E_SMUGGLING);
    CHECK_EQ_INT(decode_str("3\r\nabc\rX", 100), H1_E_SMUGGLING);
    CHECK_EQ_INT(decode_str("3\r\nab\r\n0\r\n\r\n", 100), H1_E_SMUGGLING);
    /* Extensions: accepted and ignored unless they hide CTLs or line
     * breaks. */
    CHECK(decode_ok("3;a=b;c\r\nabc\r\n0;last\r\n\r\n", 100));
    CHECK(decode_ok("3 ; a=\"q; \\\"x\"\r\nabc\r\n0\r\n\r\n", 100));
    CHECK(decode_ok("3\t;a\r\nabc\r\n0\r\n\r\n", 100));
    CHECK_EQ_INT(decode_str("3;a\nabc\r\n0\r\n\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("3;a\rb\r\nabc\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("3;a\x01\r\nabc\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("3;a\x7f\r\nabc\r\n", 100), H1_E_BAD_REQUEST);
}

static void test_chunked_ext_limit(void) {
    char buf[5000];
    size_t n;
    long rc;

    memset(buf, 'x', sizeof(buf));
    memcpy(buf, "3;", 2);
    n = sizeof(buf);
    {
        h1_chunked d;
        h1_chunked_init(&d, 100);
        rc = h1_chunked_decode(&d, buf, &n);
    }
    CHECK_EQ_INT(rc, H1_E_BAD_REQUEST);
}

static void test_chunked_sticky_error(void) {
    char buf[16];
    h1_chunked d;
    size_t n;

    h1_chunked_init(&d, 100);
    memcpy(buf, "zz", 2);
    n = 2;
    CHECK_EQ_INT(h1_chunked_decode(&d, buf, &n), H1_E_BAD_REQUEST);
    memcpy(buf, "0\r\n\r\n", 5);
    n = 5;
    CHECK_EQ_INT(h1_chunked_decode(&d, buf, &n), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(n, 0);
}

static void test_chunked_max_body(void) {
    char out[64];
    size_t out_len, consumed, one = 1;
    const char *two = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";

    CHECK(decode_ok("5\r\nhello\r\n0\r\n\r\n", 5));
    CHECK_EQ_INT(decode_str("6\r\nhello!\r\n0\r\n\r\n", 5),
                 H1_CHUNKED_E_TOO_LARGE);
    CHECK_EQ_INT(decode_str(two, 10), (long)strlen(two));
    CHECK_EQ_INT(decode_str(two, 9), H1_CHUNKED_E_TOO_LARGE);
    /* Refused on the size line, before any of the data arrives. */
    CHECK_EQ_INT(decode_str("100000\r\n", 1000), H1_CHUNKED_E_TOO_LARGE);
    CHECK_EQ_INT(
        decode_pieces(two, strlen(two), &one, 1, 9, out, &out_len, &consumed),
        H1_CHUNKED_E_TOO_LARGE);
    CHECK_EQ_INT(out_len, 5);
}

static void test_chunked_trailers(void) {
    char out[64];
    size_t out_len, consumed;
    const char *t = "3\r\nabc\r\n0\r\nX-Sum: 12\r\nY:\r\n\r\n";
    char big[10000];
    size_t n;
    long rc;

    CHECK_EQ_INT(decode_whole(t, strlen(t), 100, out, &out_len, &consumed),
                 strlen(t));
    CHECK(span_eq(out, out_len, "abc"));
    CHECK_EQ_INT(decode_str("0\r\nX : 1\r\n\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("0\r\nX: 1\r\n folded\r\n\r\n", 100),
                 H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("0\r\nX: 1\n\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("0\r\nX: \x01\r\n\r\n", 100), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(decode_str("0\r\nX\r\n\r\n", 100), H1_E_BAD_REQUEST);
    /* The trailer section is bounded. */
    memset(big, 'v', sizeof(big));
    memcpy(big, "0\r\nX: ", 6);
    memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
    n = sizeof(big);
    {
        h1_chunked d;
        h1_chunked_init(&d, 100);
        rc = h1_chunked_decode(&d, big, &n);
    }
    CHECK_EQ_INT(rc, H1_E_BAD_REQUEST);
}

static void test_chunked_leftover(void) {
    const char *s = "4\r\nbody\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    char buf[64];
    h1_chunked d;
    size_t n = strlen(s);
    long rc;

    memcpy(buf, s, n + 1);
    h1_chunked_init(&d, 100);
    rc = h1_chunked_decode(&d, buf, &n);
    CHECK_EQ_INT(rc, 14);
    CHECK_EQ_INT(n, 4);
    CHECK(span_eq(buf, 4, "body"));
    /* The next request is where it was. */
    CHECK(strcmp(buf + rc, "GET / HTTP/1.1\r\n") == 0);

    /* Same when the terminator arrives in a later piece. */
    memcpy(buf, s, strlen(s) + 1);
    h1_chunked_init(&d, 100);
    n = 10;
    CHECK_EQ_INT(h1_chunked_decode(&d, buf, &n), H1_PARTIAL);
    CHECK_EQ_INT(n, 4);
    n = strlen(s) - 10;
    rc = h1_chunked_decode(&d, buf + 10, &n);
    CHECK_EQ_INT(rc, 4);
    CHECK_EQ_INT(n, 0);
    CHECK(strcmp(buf + 10 + rc, "GET / HTTP/1.1\r\n") == 0);
}

/* ---- response heads (loadgen) ---- */

static h1_response res;

static int parse_res(const char *s) {
    h1_limits lim = {8192, 2048, 64};
    res.headers = hdrs;
    return h1_parse_response(s, strlen(s), 0, &res, &lim);
}

static void test_response_simple(void) {
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"
                    "Server: x\r\n\r\nhello world!";
    int rc = parse_res(s);

    CHECK_EQ_INT(rc, head_len(s));
    CHECK_EQ_INT(res.status, 200);
    CHECK_EQ_INT(res.minor_version, 1);
    CHECK(span_eq(res.reason, res.reason_len, "OK"));
    CHECK_EQ_INT(res.num_headers, 2);
    CHECK_EQ_INT(res.content_length, 12);
    CHECK_EQ_INT(res.chunked, 0);
    CHECK_EQ_INT(res.keep_alive, 1);
}

static void test_response_close_and_chunked(void) {
    CHECK(parse_res("HTTP/1.1 404 Not Found\r\nConnection: close\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n") > 0);
    CHECK_EQ_INT(res.status, 404);
    CHECK_EQ_INT(res.keep_alive, 0);
    CHECK_EQ_INT(res.chunked, 1);
    /* HTTP/1.0 closes unless it says keep-alive. */
    CHECK(parse_res("HTTP/1.0 200 OK\r\n\r\n") > 0);
    CHECK_EQ_INT(res.keep_alive, 0);
    CHECK(parse_res("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n") > 0);
    CHECK_EQ_INT(res.keep_alive, 1);
    /* An empty reason phrase is allowed, with or without its space. */
    CHECK(parse_res("HTTP/1.1 204 \r\n\r\n") > 0);
    CHECK_EQ_INT(res.status, 204);
    CHECK(parse_res("HTTP/1.1 204\r\n\r\n") > 0);
}

static void test_response_partial(void) {
    h1_limits lim = {8192, 2048, 64};
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n";
    size_t i;

    res.headers = hdrs;
    for (i = 0; i < strlen(s); i++)
        CHECK_EQ_INT(h1_parse_response(s, i, 0, &res, &lim), H1_PARTIAL);
    CHECK_EQ_INT(h1_parse_response(s, strlen(s), 0, &res, &lim), strlen(s));
}

static void test_response_rejects(void) {
    h1_limits small = {64, 64, 64};
    char big[200];

    CHECK_EQ_INT(parse_res("GET / HTTP/1.1\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse_res("HTTP/2.0 200 OK\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse_res("HTTP/1.1 20 OK\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse_res("HTTP/1.1 2000 OK\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse_res("HTTP/1.1 200 OK\nX: y\r\n\r\n"), H1_E_BAD_REQUEST);
    CHECK_EQ_INT(parse_res("HTTP/1.1 200 OK\r\n folded: y\r\n\r\n"),
                 H1_E_BAD_REQUEST);
    /* The framing rules are the request parser's. */
    CHECK_EQ_INT(parse_res("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                           "Content-Length: 2\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse_res("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"),
                 H1_E_SMUGGLING);
    CHECK_EQ_INT(parse_res("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
                           "\r\n"),
                 H1_E_NOT_IMPLEMENTED);
    memset(big, 'a', sizeof big);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    res.headers = hdrs;
    CHECK_EQ_INT(h1_parse_response(big, sizeof big, 0, &res, &small),
                 H1_E_HEAD_TOO_LARGE);
}

int main(void) {
    TEST_RUN(test_simple_get);
    TEST_RUN(test_many_headers);
    TEST_RUN(test_values);
    TEST_RUN(test_byte_classes);
    TEST_RUN(test_fast_path_positions);
    TEST_RUN(test_leading_empty_lines);
    TEST_RUN(test_method);
    TEST_RUN(test_target);
    TEST_RUN(test_version);
    TEST_RUN(test_line_endings);
    TEST_RUN(test_header_syntax);
    TEST_RUN(test_limits);
    TEST_RUN(test_content_length);
    TEST_RUN(test_transfer_encoding);
    TEST_RUN(test_host);
    TEST_RUN(test_keep_alive);
    TEST_RUN(test_expect);
    TEST_RUN(test_pipelined);
    TEST_RUN(test_split_reads);
    TEST_RUN(test_find_header_and_strings);
    TEST_RUN(test_chunked_whole);
    TEST_RUN(test_chunked_byte_at_a_time);
    TEST_RUN(test_chunked_every_split);
    TEST_RUN(test_chunked_errors);
    TEST_RUN(test_chunked_ext_limit);
    TEST_RUN(test_chunked_sticky_error);
    TEST_RUN(test_chunked_max_body);
    TEST_RUN(test_chunked_trailers);
    TEST_RUN(test_chunked_leftover);
    TEST_RUN(test_response_simple);
    TEST_RUN(test_response_close_and_chunked);
    TEST_RUN(test_response_partial);
    TEST_RUN(test_response_rejects);
    return TEST_END();
}
