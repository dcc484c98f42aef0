/* Unit tests: query strings, base64url cursors, canonical JSON, RFC 3339,
 * JSON string quoting (against a reference written here), log lines. */
#include <fcntl.h>
#include <jansson.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "json.h"
#include "json_canon.h"
#include "log.h"
#include "query.h"
#include "test.h"
#include "timeutil.h"

static const char *const allowed[] = {"type", "limit", "cursor", "q", NULL};

static void test_query(void) {
    query q;
    const char *s = "type=sensor&limit=10&q=a%20b+c%2Fd";
    CHECK_EQ_INT(query_parse(&q, s, strlen(s), allowed), 0);
    CHECK_EQ_INT(q.count, 3);
    CHECK_EQ_STR(query_get(&q, "type"), "sensor");
    CHECK_EQ_STR(query_get(&q, "q"), "a b c/d");
    CHECK(query_get(&q, "cursor") == NULL);
    query_free(&q);
    CHECK_EQ_INT(query_parse(&q, "", 0, allowed), 0);
    query_free(&q);
    CHECK_EQ_INT(query_parse(&q, "&&type=x&", 9, allowed), 0);
    CHECK_EQ_INT(q.count, 1);
    query_free(&q);
    s = "bogus=1";
    CHECK_EQ_INT(query_parse(&q, s, strlen(s), allowed), -1);
    CHECK(strstr(q.error, "bogus") != NULL);
    query_free(&q);
    s = "type=a&type=b";
    CHECK_EQ_INT(query_parse(&q, s, strlen(s), allowed), -1);
    query_free(&q);
    s = "type=%zz";
    CHECK_EQ_INT(query_parse(&q, s, strlen(s), allowed), -1);
    query_free(&q);
    s = "type=%4";
    CHECK_EQ_INT(query_parse(&q, s, strlen(s), allowed), -1);
    query_free(&q);
    s = "type=%00";
    CHECK_EQ_INT(query_parse(&q, s, strlen(s), allowed), -1);
    query_free(&q);
    s = "limit";
    CHECK_EQ_INT(query_parse(&q, s, strlen(s), allowed), 0);
    CHECK_EQ_STR(query_get(&q, "limit"), "");
    query_free(&q);
}

static void test_base64(void) {
    char enc[64], dec[64];
    const char *cases[] = {"",     "f",     "fo",     "foo",
                           "foob", "fooba", "foobar", "o1:1700000000000000:42"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = base64url_encode(cases[i], strlen(cases[i]), enc);
        CHECK(strchr(enc, '=') == NULL && strchr(enc, '+') == NULL);
        long m = base64url_decode(enc, n, dec);
        CHECK_EQ_INT(m, (long)strlen(cases[i]));
        CHECK(memcmp(dec, cases[i], (size_t)m) == 0);
    }
    base64url_encode("foobar", 6, enc);
    CHECK_EQ_STR(enc, "Zm9vYmFy");
    CHECK_EQ_INT(base64url_decode("Zm9v!", 5, dec), -1);
    CHECK_EQ_INT(base64url_decode("Z", 1, dec), -1);
    CHECK_EQ_INT(base64url_decode("Zh", 2, dec), -1); /* stray bits */
}

static void canon(const char *in, const char *want) {
    json_t *v = json_loads(in, JSON_DECODE_ANY, NULL);
    CHECK(v != NULL);
    buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(json_canonical(v, &b), 0);
    buf_append_char(&b, '\0');
    CHECK_EQ_STR(b.data, want);
    buf_free(&b);
    json_decref(v);
}

static void test_canonical(void) {
    canon("{\"b\":0.1,\"a\":[1e300,2.5,-0.0,3, 1.0]}",
          "{\"a\":[1e+300,2.5,0,3,1],\"b\":0.1}");
    canon("{\"z\":{\"y\":null,\"x\":true},\"a\":\"\\u00e9\\n\"}",
          "{\"a\":\"\xc3\xa9\\n\",\"z\":{\"x\":true,\"y\":null}}");
    canon("[0.30000000000000004, 123456789012345678, 5e-324]",
          "[0.30000000000000004,123456789012345678,5e-324]");
    canon("{}", "{}");
    canon("[120.0, 100.0, 1.5e-7, 0.000001, 1e21, 123456.0, -2.5e-3]",
          "[120,100,1.5e-7,0.000001,1e+21,123456,-0.0025]");
}

static void test_rfc3339(void) {
    int64_t us;
    CHECK_EQ_INT(time_parse_rfc3339_us("1970-01-01T00:00:00Z", 20, &us), 0);
    CHECK_EQ_INT(us, 0);
    const char *s = "2026-11-29T07:50:40.123456Z";
    CHECK_EQ_INT(time_parse_rfc3339_us(s, strlen(s), &us), 0);
    CHECK_EQ_INT(us, 1795938640123456LL);
    char out[32];
    time_format_rfc3339_us(us, out);
    CHECK_EQ_STR(out, s);
    s = "2026-11-29T08:50:40.5+01:00";
    CHECK_EQ_INT(time_parse_rfc3339_us(s, strlen(s), &us), 0);
    CHECK_EQ_INT(us, 1795938640500000LL);
    s = "2024-02-29T00:00:00Z";
    CHECK_EQ_INT(time_parse_rfc3339_us(s, strlen(s), &us), 0);
    const char *bad[] = {
        "2023-02-29T00:00:00Z",           "2026-13-01T00:00:00Z",
        "2026-11-29 07:50:40Z",           "2026-11-29T07:50:40",
        "2026-11-29T24:00:00Z",           "2026-11-29T07:50:40.Z",
        "2026-11-29T07:50:40+0100",       "yesterday",
        "2026-11-29T07:50:40.1234567890Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(time_parse_rfc3339_us(bad[i], strlen(bad[i]), &us), -1);
    time_format_rfc3339_us(1, out);
    CHECK_EQ_STR(out, "1970-01-01T00:00:00.000001Z");
}

/* ---- JSON strings: the reference ---------------------------------------
 * Written from RFC 8259 and RFC 3629 directly, one code point at a time,
 * sharing nothing with json.c: a well-formed UTF-8 character is copied,
 * each byte that does not start one becomes U+FFFD, '"' '\\' and the
 * control characters are escaped (\n \r \t by name, others \u00XX). */
static size_t ref_char_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 0 || len > n || c > 0xF4)
        return 0;
    uint32_t cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static size_t ref_quote(char *out, const unsigned char *s, size_t n) {
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n;) {
        size_t k = ref_char_len(s + i, n - i);
        if (k == 0) {
            memcpy(out + o, "\\ufffd", 6);
            o += 6;
            i++;
        } else if (s[i] == '"' || s[i] == '\\') {
            out[o++] = '\\';
            out[o++] = (char)s[i++];
        } else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
            out[o++] = '\\';
            out[o++] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 't';
            i++;
        } else if (s[i] < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", s[i]);
            i++;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    out[o++] = '"';
    return o;
}

static void test_json_strings(void) {
    /* Pieces that make the interesting cases, at every offset around the
     * writer's 512-byte chunks: characters of 1 to 4 bytes, escapes, and
     * broken sequences (lone continuation, truncated, overlong,
     * surrogate, beyond U+10FFFF, 0xFF). */
    static const char *const pieces[] = {"a",
                                         "Z",
                                         " ",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\r",
                                         "\t",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\x80",
                                         "\xc3",
                                         "\xe2\x82",
                                         "\xc0\x80",
                                         "\xed\xa0\x80",
                                         "\xf4\x90\x80\x80",
                                         "\xff"};
    enum { NP = sizeof pieces / sizeof pieces[0], MAXLEN = 3000 };
    static unsigned char in[MAXLEN + 8];
    static char want[6 * (MAXLEN + 8) + 2];
    static char got_raw[6 * (MAXLEN + 8) + 2];
    srand(7);
    for (int round = 0; round < 400; round++) {
        size_t n = 0, target = (size_t)rand() % MAXLEN;
        while (n < target) {
            const char *p = rand() % 4 ? "x" : pieces[rand() % NP];
            size_t k = strlen(p);
            memcpy(in + n, p, k);
            n += k;
        }
        if (round == 0)
            n = 0;
        size_t wn = ref_quote(want, in, n);
        buf b;
        buf_init(&b, 0);
        buf_append(&b, "<", 1);
        CHECK_EQ_INT(json_append_string(&b, (const char *)in, n), 0);
        CHECK_EQ_INT((long long)b.len, (long long)wn + 1);
        CHECK(b.len == wn + 1 && memcmp(b.data + 1, want, wn) == 0);
        CHECK_EQ_INT((long long)json_quote(got_raw, (const char *)in, n),
                     (long long)wn);
        CHECK(memcmp(got_raw, want, wn) == 0);
        buf_free(&b);
        /* At its maximum a buffer takes a string that fits exactly, and
         * one byte less leaves it unchanged. */
        buf_init(&b, wn + 1);
        buf_append(&b, "<", 1);
        CHECK_EQ_INT(json_append_string(&b, (const char *)in, n), 0);
        buf_free(&b);
        buf_init(&b, wn);
        buf_append(&b, "<", 1);
        CHECK(json_append_string(&b, (const char *)in, n) != 0);
        CHECK_EQ_INT((long long)b.len, 1);
        buf_free(&b);
    }
}

/* fmt_u64 (its inline part and fmt_u64_wide) and fmt_u32_fixed9 against
 * printf. */
static void test_fmt_u64(void) {
    unsigned long long edge[64];
    size_t ne = 0;
    edge[ne++] = 0;
    edge[ne++] = UINT64_MAX;
    for (unsigned long long t = 1; ne < 60; t *= 10) {
        edge[ne++] = t - 1;
        edge[ne++] = t;
        edge[ne++] = t + 1;
        if (t > UINT64_MAX / 10)
            break;
    }
    /* fmt_u64 writes into exactly the 20 bytes it promises to need (on
     * the heap, so that ASan sees any store past them): the edges above,
     * every value below 100,000, then random values of every length. */
    char *out = malloc(20);
    CHECK(out != NULL);
    if (out == NULL)
        return;
    srand(11);
    for (int i = 0; i < (int)ne + 100000 + 200000; i++) {
        unsigned long long v = i < (int)ne ? edge[i]
                               : i < (int)ne + 100000
                                   ? (unsigned long long)(i - (int)ne)
                                   : ((unsigned long long)rand() << 42 ^
                                      (unsigned long long)rand() << 21 ^
                                      (unsigned long long)rand()) >>
                                         (rand() % 64);
        char want[32], got[32];
        int wn = snprintf(want, sizeof want, "%llu", v);
        size_t gn = fmt_u64(out, v);
        CHECK_EQ_INT((long long)gn, wn);
        CHECK(gn == (size_t)wn && memcmp(out, want, gn) == 0);
        /* fmt_u64 writes values below 1000 inline; the out-of-line
         * fmt_u64_wide it calls above them takes any value too. */
        gn = fmt_u64_wide(out, v);
        CHECK(gn == (size_t)wn && memcmp(out, want, gn) == 0);
        unsigned frac = (unsigned)(v % 1000000000u);
        snprintf(want, sizeof want, "%09u", frac);
        CHECK_EQ_INT((long long)fmt_u32_fixed9(got, frac), 9);
        CHECK(memcmp(got, want, 9) == 0);
    }
    /* Nine digits: every value below 10^5 and its neighbours at each
     * multiple of 10^4 (where fmt_u32_fixed9 splits), then a stride. */
    for (unsigned v = 0; v < 1000000000u; v += v < 100000u     ? 1u
                                               : v < 10000000u ? 9999u
                                                               : 999983u) {
        char want[16], got[16];
        snprintf(want, sizeof want, "%09u", v);
        CHECK_EQ_INT((long long)fmt_u32_fixed9(got, v), 9);
        CHECK(memcmp(got, want, 9) == 0);
    }
    char got9[9];
    fmt_u32_fixed9(got9, 999999999u);
    CHECK(memcmp(got9, "999999999", 9) == 0);
    CHECK_EQ_INT((long long)fmt_u64(out, UINT64_MAX), 20);
    CHECK(memcmp(out, "18446744073709551615", 20) == 0);
    free(out);
}

/* The next line of |*text| parsed as JSON; NULL after the last one. A
 * line that does not parse fails the test and comes back as JSON null. */
static json_t *next_json_line(char **text) {
    char *nl = strchr(*text, '\n');
    if (nl == NULL)
        return NULL;
    json_error_t err;
    json_t *j = json_loadb(*text, (size_t)(nl - *text), 0, &err);
    CHECK(j != NULL);
    *text = nl + 1;
    return j != NULL ? j : json_null();
}

/* Log lines: JSON objects with the timestamp first, whether the second's
 * calendar part came from this thread's cache or not. */
static void test_log_lines(void) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    log_set_fd(fds[1]);
    for (int i = 0; i < 3; i++) {
        log_line *l = log_begin(LOG_WARN, "test line");
        log_str(l, "key", "v\n\"");
        log_int(l, "n", INT64_MIN);
        log_int(l, "p", 42);
        log_end(l);
    }
    log_set_fd(2);
    close(fds[1]);
    char text[4096];
    ssize_t got = read(fds[0], text, sizeof text - 1);
    close(fds[0]);
    CHECK(got > 0);
    text[got > 0 ? got : 0] = '\0';
    int lines = 0;
    json_t *j;
    for (char *cursor = text; (j = next_json_line(&cursor)) != NULL; lines++) {
        const char *ts = json_string_value(json_object_get(j, "@timestamp"));
        int64_t us = 0;
        CHECK(ts != NULL && strlen(ts) == 24 &&
              time_parse_rfc3339_us(ts, 24, &us) == 0);
        int64_t now_us = time_wall_ns() / 1000;
        CHECK(us <= now_us && us > now_us - 10 * 1000000LL);
        CHECK_EQ_STR(json_string_value(json_object_get(j, "key")), "v\n\"");
        CHECK(json_integer_value(json_object_get(j, "n")) == INT64_MIN);
        CHECK(json_integer_value(json_object_get(j, "p")) == 42);
        CHECK_EQ_STR(json_string_value(json_object_get(j, "log.level")),
                     "warn");
        json_decref(j);
    }
    CHECK_EQ_INT(lines, 3);
}

/* OBJECTD_TEST_PERF=1: the CPU of one access-log line as observe.c writes
 * it (the same fields), to /dev/null. */
static void perf_access_line(void) {
    if (getenv("OBJECTD_TEST_PERF") == NULL)
        return;
    CHECK_EQ_INT(log_access_open("/dev/null"), 0);
    enum { N = 1000000 };
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    for (int i = 0; i < N; i++) {
        log_line *l = log_access_begin();
        log_strn(l, "http.request.method", "GET", 3);
        log_strn(l, "url.path", "/api/v1/objects/1", 17);
        log_str(l, "http.route", "/api/v1/objects/{id}");
        log_int(l, "http.response.status_code", 200);
        log_int(l, "http.response.body.bytes", 198);
        log_str(l, "network.protocol.name", "h2c");
        log_int(l, "event.duration", 284830 + i);
        log_int(l, "http2.stream_id", i);
        log_int(l, "objectd.db.queries", 1);
        log_int(l, "objectd.db.duration", 282757);
        log_str(l, "trace.id", "b230a43b0e6fafb3c1cd79c899a044c2");
        log_str(l, "span.id", "31292b5f361aef59");
        log_end(l);
    }
    log_access_flush();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    log_access_close();
    double ns =
        (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    printf("perf: an access-log line (12 fields) costs %.0f ns of CPU\n",
           ns / N);
}

/* Access lines are written in place at the end of the pending block: a
 * line over the limit, or one begun and never ended, leaves nothing behind
 * (the lines around it stay whole), and the block goes out when it fills.
 * On stdout that is a pipe, the pipe is enlarged. */
static void test_access_lines(void) {
    int fds[2], saved = dup(1);
    CHECK(saved >= 0 && pipe(fds) == 0);
    CHECK(dup2(fds[1], 1) == 1);
    close(fds[1]);
    CHECK(log_access_open("-") == 0);
    long want_pipe = 1024 * 1024, max_pipe = 0;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &max_pipe) != 1)
            max_pipe = 0;
        fclose(f);
    }
    if (max_pipe > 0 && max_pipe < want_pipe)
        want_pipe = max_pipe;
    int enlarged = fcntl(1, F_GETPIPE_SZ) >= want_pipe;
    CHECK(enlarged);

    static char big[70 * 1024];
    memset(big, 'x', sizeof big - 1);
    int written = 0;
    /* ~330 KiB: more than a block, so one goes out on its own (less
     * if the pipe stayed small: nobody reads it until the end). */
    int n = enlarged ? 1000 : 120;
    for (int i = 0; i < n; i++) {
        log_line *l = log_access_begin();
        CHECK(l != NULL);
        if (i == 10) { /* too long: dropped */
            log_str(l, "big", big);
        } else if (i == 20) { /* begun, never ended */
            log_int(l, "seq", -1);
            continue;
        } else if (i == 30) {
            /* An application line made while this one is open (code run
             * between an access line's begin and end may log): each goes
             * to its own sink, whole. */
            log_int(l, "seq", i);
            int app[2];
            CHECK(pipe(app) == 0);
            log_set_fd(app[1]);
            log_msg(LOG_ERROR, "inside an access line");
            log_set_fd(2);
            close(app[1]);
            char got[512];
            ssize_t r = read(app[0], got, sizeof got - 1);
            close(app[0]);
            got[r > 0 ? r : 0] = '\0';
            CHECK(strstr(got, "\"message\":\"inside an access line\"}\n"));
            CHECK(strstr(got, "seq") == NULL);
            log_str(l, "pad", big + sizeof big - 1 - 300);
            log_end(l);
            written++;
            continue;
        }
        log_int(l, "seq", i);
        log_str(l, "pad", big + sizeof big - 1 - 300);
        log_end(l);
        written += i != 10;
    }
    int queued = 0; /* what went out before the last flush */
    CHECK(ioctl(fds[0], FIONREAD, &queued) == 0);
    if (enlarged)
        CHECK(queued >= 256 * 1024);
    log_access_flush();
    fflush(stdout);
    CHECK(dup2(saved, 1) == 1); /* closes the pipe's last write end */
    close(saved);
    log_access_close();

    static char text[1024 * 1024];
    size_t have = 0;
    for (ssize_t r;
         (r = read(fds[0], text + have, sizeof text - 1 - have)) > 0;)
        have += (size_t)r;
    close(fds[0]);
    text[have] = '\0';
    int lines = 0, last = -1;
    json_t *j;
    for (char *cursor = text; (j = next_json_line(&cursor)) != NULL; lines++) {
        int seq = (int)json_integer_value(json_object_get(j, "seq"));
        CHECK(seq > last && seq != 10);
        CHECK_EQ_STR(json_string_value(json_object_get(j, "message")),
                     "access");
        last = seq;
        json_decref(j);
    }
    CHECK_EQ_INT(lines, written);
    CHECK_EQ_INT(last, n - 1);

    /* A named pipe given as the path is enlarged too. */
    char fifo[] = "/tmp/objectd-test-fifo-XXXXXX";
    int tmp = mkstemp(fifo);
    CHECK(tmp >= 0);
    close(tmp);
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    int rd =
        open(fifo, O_RDONLY | O_NONBLOCK); /* so the writer's open goes on */
    CHECK(rd >= 0);
    CHECK(log_access_open(fifo) == 0);
    if (enlarged)
        CHECK(fcntl(rd, F_GETPIPE_SZ) >= want_pipe);
    log_access_close();
    close(rd);
    unlink(fifo);
}

int main(void) {
    TEST_RUN(test_query);
    TEST_RUN(test_base64);
    TEST_RUN(test_canonical);
    TEST_RUN(test_rfc3339);
    TEST_RUN(test_json_strings);
    TEST_RUN(test_fmt_u64);
    TEST_RUN(test_log_lines);
    TEST_RUN(test_access_lines);
    TEST_RUN(perf_access_line);
    return TEST_END();
}
