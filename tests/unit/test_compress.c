/* Unit tests: Accept-Encoding negotiation, the three codings, their limits,
 * and a measurement of sizes and times per level (printed, not asserted). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "buf.h"
#include "compress.h"
#include "test.h"

enum { DOC_BYTES = 300 * 1024 };

static const compress_coding all_codings[] = {COMPRESS_IDENTITY, COMPRESS_GZIP,
                                              COMPRESS_BR, COMPRESS_ZSTD};
static const compress_coding real_codings[] = {COMPRESS_GZIP, COMPRESS_BR,
                                               COMPRESS_ZSTD};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_next(uint64_t *s) {
    /* xorshift64*: deterministic inputs, the same on every run. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static double rng_unit(uint64_t *s) {
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static void fill_random(buf *b, size_t n, uint64_t seed) {
    buf_init(b, 0);
    if (buf_reserve(b, n) != 0)
        abort();
    for (size_t i = 0; i < n; i++)
        b->data[i] = (char)(rng_next(&seed) >> 56);
    b->len = n;
}

/* A document shaped like a pretty-printed analysis (SPEC section 3) of
 * half-hourly readings: per metric, daily and hourly buckets and anomalies,
 * then recent events. Readings have two decimals, hourly means (of two
 * readings) three, daily means and z-scores all their digits, as in the
 * real one: the digits, not the keys, decide the ratio. About 9 metrics
 * make 300 KB; a real analysis of the standard workload's 6 is 220 KB. */
static void fill_analysis_like(buf *b, size_t n) {
    static const char *const metrics[] = {
        "temperature", "pressure",   "humidity", "flow_rate", "vibration",
        "voltage",     "current",    "rpm",      "co2",       "noise",
        "dew_point",   "wind_speed", "rainfall", "lux"};
    uint64_t seed = 42;
    buf_init(b, 0);
    buf_append_str(b, "{\n  \"object\": {\n    \"id\": 42,\n"
                      "    \"revision\": 6,\n    \"type\": \"sensor\",\n"
                      "    \"name\": \"boiler-7\"\n  },\n  \"metrics\": {\n");
    for (size_t m = 0; m < COUNT(metrics) && b->len < n - 40000; m++) {
        /* Draws go to variables first: argument order is unspecified, and
         * the document must be the same whatever the compiler. */
        double base = (double)(10 + rng_next(&seed) % 1000);
        double mean = base + rng_unit(&seed), sd = rng_unit(&seed) * 5;
        buf_appendf(b,
                    "%s    \"%s\": {\n      \"count\": %d,\n"
                    "      \"mean\": %.17g,\n      \"stddev\": %.17g,\n"
                    "      \"daily\": [\n",
                    m ? ",\n" : "", metrics[m], 1440 - (int)m, mean, sd);
        for (int d = 0; d < 30; d++) {
            double lo = base - 5 * rng_unit(&seed);
            double hi = base + 5 * rng_unit(&seed);
            double dm = base + rng_unit(&seed);
            buf_appendf(b,
                        "        {\n          \"date\": \"2026-11-%02d\",\n"
                        "          \"count\": 48,\n"
                        "          \"min\": %.2f,\n          \"max\": %.2f,\n"
                        "          \"mean\": %.17g\n        }%s\n",
                        d % 28 + 1, lo, hi, dm, d < 29 ? "," : "");
        }
        buf_append_str(b, "      ],\n      \"hourly\": [\n");
        for (int h = 0; h < 168; h++) {
            double lo = base - 2 * rng_unit(&seed);
            double hi = base + 2 * rng_unit(&seed);
            buf_appendf(b,
                        "        {\n          \"hour\": "
                        "\"2026-11-%02dT%02d:00:00Z\",\n"
                        "          \"count\": 2,\n"
                        "          \"min\": %.2f,\n          \"max\": %.2f,\n"
                        "          \"mean\": %.3f\n        }%s\n",
                        h / 24 + 20, h % 24, lo, hi, (lo + hi) / 2,
                        h < 167 ? "," : "");
        }
        buf_append_str(b, "      ],\n      \"anomalies\": [\n");
        for (int a = 0; a < 20; a++) {
            double v = base * (1.5 + rng_unit(&seed));
            double z = 3 + 4 * rng_unit(&seed);
            buf_appendf(b,
                        "        {\n          \"ts\": "
                        "\"2026-11-%02dT%02d:%02d:00.000Z\",\n"
                        "          \"value\": %.2f,\n"
                        "          \"z\": %.16g\n        }%s\n",
                        a + 1, a % 24, a % 2 * 30, v, z, a < 19 ? "," : "");
        }
        buf_append_str(b, "      ]\n    }");
    }
    buf_append_str(b, "\n  },\n  \"events\": {\n    \"recent\": [\n");
    for (int e = 0; b->len < n - 250; e++)
        buf_appendf(b,
                    "      {\n        \"ts\": "
                    "\"2026-11-%02dT%02d:%02d:00.000Z\",\n"
                    "        \"kind\": \"%s\",\n"
                    "        \"severity\": \"%s\",\n"
                    "        \"message\": \"event %d on pump %d\",\n"
                    "        \"data\": %s\n      },\n",
                    28 - e % 28, 23 - e % 24, (e * 7) % 60,
                    e % 3 ? "alarm" : "maintenance",
                    e % 5 ? "warning" : "critical", e,
                    (int)(rng_next(&seed) % 8),
                    e % 2 ? "null" : "{\"limit\": 40, \"value\": 45.5}");
    buf_append_str(b, "      {}\n    ]\n  }\n}\n");
}

static compress_coding neg(const char *s) {
    return compress_negotiate(s, s ? strlen(s) : 0);
}

static void test_names(void) {
    CHECK_EQ_STR(compress_name(COMPRESS_IDENTITY), "identity");
    CHECK_EQ_STR(compress_name(COMPRESS_GZIP), "gzip");
    CHECK_EQ_STR(compress_name(COMPRESS_BR), "br");
    CHECK_EQ_STR(compress_name(COMPRESS_ZSTD), "zstd");
    CHECK(compress_name(COMPRESS_CODINGS) == NULL);
    CHECK(compress_name((compress_coding)-1) == NULL);
}

static void test_negotiate(void) {
    static const struct {
        const char *header;
        compress_coding want;
    } cases[] = {
        {NULL, COMPRESS_IDENTITY},
        {"", COMPRESS_IDENTITY},
        {"gzip", COMPRESS_GZIP},
        {"gzip, deflate, br", COMPRESS_BR},
        {"gzip, deflate, br, zstd", COMPRESS_ZSTD},
        {"br;q=0.5, gzip;q=0.8", COMPRESS_GZIP},
        {"br;q=0.8, gzip;q=0.5", COMPRESS_BR},
        {"zstd;q=0.1, br;q=0.1, gzip;q=0.1", COMPRESS_ZSTD},
        {"*", COMPRESS_ZSTD},
        {"*;q=0", COMPRESS_IDENTITY},
        {"zstd;q=0, *", COMPRESS_BR},
        {"zstd;q=0, br;q=0, *", COMPRESS_GZIP},
        {"*, gzip;q=0.9", COMPRESS_ZSTD},
        {"*;q=0.2, gzip", COMPRESS_GZIP},
        {"identity", COMPRESS_IDENTITY},
        {"identity;q=0", COMPRESS_IDENTITY},
        {"identity, gzip", COMPRESS_GZIP},
        {"identity;q=1, gzip;q=0.5", COMPRESS_IDENTITY},
        {"identity;q=0.5, gzip;q=0.5", COMPRESS_GZIP},
        {"*;q=0.5, identity", COMPRESS_IDENTITY},
        {"*;q=0, identity", COMPRESS_IDENTITY},
        {"GZIP", COMPRESS_GZIP},
        {"Br", COMPRESS_BR},
        {"ZStd", COMPRESS_ZSTD},
        {"gzip;Q=0.5", COMPRESS_GZIP},
        {"gzip;q=1.000", COMPRESS_GZIP},
        {"gzip;q=1.", COMPRESS_GZIP},
        {"gzip;q=0.001", COMPRESS_GZIP},
        {"gzip;q=1.0001", COMPRESS_IDENTITY},
        {"gzip;q=0.0001", COMPRESS_IDENTITY},
        {"gzip;q=1.001", COMPRESS_IDENTITY},
        {"gzip;q=2", COMPRESS_IDENTITY},
        {"gzip;q=-1", COMPRESS_IDENTITY},
        {"gzip;q=.5", COMPRESS_IDENTITY},
        {"gzip;q=", COMPRESS_IDENTITY},
        {"gzip;q=abc", COMPRESS_IDENTITY},
        {"gzip;q=\"0.5\"", COMPRESS_IDENTITY},
        {"gzip;q=0.5;q=0.6", COMPRESS_IDENTITY},
        {"gzip;q = 0.5", COMPRESS_IDENTITY},
        {"gzip;q=1.0001, br;q=0.1", COMPRESS_BR},
        {"br;q=0", COMPRESS_IDENTITY},
        {"br;q=0.000", COMPRESS_IDENTITY},
        {"br;q=0, gzip", COMPRESS_GZIP},
        {"  gzip  ,  br  ", COMPRESS_BR},
        {"\tgzip\t;\tq=0.3\t,\tbr;q=0.2", COMPRESS_GZIP},
        {"gzip ; q=0.3 , br ; q=0.4", COMPRESS_BR},
        {",,gzip,,", COMPRESS_GZIP},
        {" , ", COMPRESS_IDENTITY},
        {"x-gzip", COMPRESS_GZIP},
        {"X-GZIP;q=0.7, br;q=0.6", COMPRESS_GZIP},
        {"gzip;q=0, x-gzip;q=0.5", COMPRESS_GZIP},
        {"compress, deflate, exi, pack200-gzip", COMPRESS_IDENTITY},
        {"gzipx, xgzip, brotli, zst", COMPRESS_IDENTITY},
        {"gz ip, br", COMPRESS_BR},
        {"gzip/1, br;q=0.1", COMPRESS_BR},
        {"gzip;foo=bar", COMPRESS_GZIP},
        {"gzip;foo=\"a, b; q=0\";q=0.4, br;q=0.3", COMPRESS_GZIP},
        /* A malformed element ends at the next comma, quoted or not. */
        {"gzip;foo=\"unterminated, br", COMPRESS_BR},
        {"gzip;", COMPRESS_IDENTITY},
        {"gzip;=1, br;q=0.1", COMPRESS_BR},
        {"zstd;q=0.5, br;q=1", COMPRESS_BR},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        compress_coding got = neg(cases[i].header);
        if (got != cases[i].want)
            fprintf(stderr, "negotiate(\"%s\") = %s, want %s\n",
                    cases[i].header ? cases[i].header : "(absent)",
                    compress_name(got), compress_name(cases[i].want));
        CHECK_EQ_INT(got, cases[i].want);
    }
    /* Only |len| bytes count: no NUL needed, none read past. */
    CHECK_EQ_INT(compress_negotiate("gzip, br", 4), COMPRESS_GZIP);
    CHECK_EQ_INT(compress_negotiate("br;q=0", 2), COMPRESS_BR);
    CHECK_EQ_INT(compress_negotiate("br;q=0.5", 4), COMPRESS_IDENTITY);
    CHECK_EQ_INT(compress_negotiate("gzip", 0), COMPRESS_IDENTITY);
    char nul[] = {'g', 'z', 'i', 'p', '\0', 'b', 'r'};
    CHECK_EQ_INT(compress_negotiate(nul, sizeof nul), COMPRESS_IDENTITY);
}

/* Encodes then decodes |in|, checking the round trip and that output is
 * appended after what |out| held. Returns the encoded size. */
static size_t round_trip(compress_coding c, const buf *in) {
    buf enc, dec;
    buf_init(&enc, 0);
    buf_init(&dec, 0);
    buf_append_str(&enc, "prefix");
    buf_append_str(&dec, "PRE");
    CHECK_EQ_INT(compress_encode(c, in->data, in->len, &enc), 0);
    CHECK(memcmp(enc.data, "prefix", 6) == 0);
    CHECK_EQ_INT(compress_decode(c, enc.data + 6, enc.len - 6, &dec), 0);
    CHECK_EQ_INT(dec.len, in->len + 3);
    CHECK(memcmp(dec.data, "PRE", 3) == 0);
    CHECK(in->len == 0 || memcmp(dec.data + 3, in->data, in->len) == 0);
    size_t n = enc.len - 6;
    buf_free(&enc);
    buf_free(&dec);
    return n;
}

static void test_round_trips(void) {
    buf empty, small, doc, rnd, rnd_small;
    buf_init(&empty, 0);
    buf_init(&small, 0);
    buf_append_str(&small, "{\"id\":42,\"name\":\"boiler-7\"}");
    fill_analysis_like(&doc, DOC_BYTES);
    fill_random(&rnd, DOC_BYTES, 7);
    fill_random(&rnd_small, 1000, 8);
    CHECK(doc.len >= DOC_BYTES - 256 && doc.len <= DOC_BYTES);
    for (size_t i = 0; i < COUNT(all_codings); i++) {
        compress_coding c = all_codings[i];
        size_t e = round_trip(c, &empty);
        size_t s = round_trip(c, &small);
        size_t d = round_trip(c, &doc);
        size_t r = round_trip(c, &rnd);
        round_trip(c, &rnd_small);
        if (c == COMPRESS_IDENTITY) {
            CHECK_EQ_INT(e, 0);
            CHECK_EQ_INT(d, doc.len);
            continue;
        }
        CHECK(e > 0); /* an empty body still has its framing */
        CHECK(s > 0);
        CHECK(d < doc.len / 4);
        /* Incompressible input may grow, but only by the framing. */
        CHECK(r <= rnd.len + rnd.len / 100 + 64);
    }
    /* Several levels and back: each context serves any level. */
    for (size_t i = 0; i < COUNT(real_codings); i++) {
        compress_coding c = real_codings[i];
        buf a, b, back;
        buf_init(&a, 0);
        buf_init(&b, 0);
        buf_init(&back, 0);
        CHECK_EQ_INT(compress_encode(c, doc.data, doc.len, &a), 0);
        CHECK_EQ_INT(compress_encode_level(c, 1, doc.data, doc.len, &b), 0);
        CHECK_EQ_INT(compress_decode(c, b.data, b.len, &back), 0);
        CHECK(back.len == doc.len && memcmp(back.data, doc.data, doc.len) == 0);
        b.len = 0;
        CHECK_EQ_INT(compress_encode(c, doc.data, doc.len, &b), 0);
        /* Same level, same bytes: a reused context leaks no state. */
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        buf_free(&a);
        buf_free(&b);
        buf_free(&back);
    }
    buf_free(&small);
    buf_free(&doc);
    buf_free(&rnd);
    buf_free(&rnd_small);
}

static void test_invalid(void) {
    buf out;
    buf_init(&out, 0);
    CHECK_EQ_INT(compress_encode(COMPRESS_CODINGS, "x", 1, &out), -EINVAL);
    CHECK_EQ_INT(compress_encode((compress_coding)-1, "x", 1, &out), -EINVAL);
    CHECK_EQ_INT(compress_decode(COMPRESS_CODINGS, "x", 1, &out), -EINVAL);
    CHECK_EQ_INT(compress_encode_level(COMPRESS_GZIP, 0, "x", 1, &out),
                 -EINVAL);
    CHECK_EQ_INT(compress_encode_level(COMPRESS_GZIP, 10, "x", 1, &out),
                 -EINVAL);
    CHECK_EQ_INT(compress_encode_level(COMPRESS_ZSTD, 0, "x", 1, &out),
                 -EINVAL);
    CHECK_EQ_INT(compress_encode_level(COMPRESS_ZSTD, 20, "x", 1, &out),
                 -EINVAL);
    CHECK_EQ_INT(compress_encode_level(COMPRESS_BR, -1, "x", 1, &out), -EINVAL);
    CHECK_EQ_INT(compress_encode_level(COMPRESS_BR, 12, "x", 1, &out), -EINVAL);
    CHECK_EQ_INT(compress_encode_level(COMPRESS_BR, 0, "x", 1, &out), 0);
    CHECK_EQ_INT(compress_encode_level(COMPRESS_IDENTITY, 99, "x", 1, &out), 0);
    buf_free(&out);
}

/* Decodes |in| (|n| bytes) into a buf holding "keep"; anything but success
 * must be -EIO and leave the buf as it was. Returns the result. */
static int decode_check(compress_coding c, const char *in, size_t n) {
    buf out;
    buf_init(&out, 0);
    buf_append_str(&out, "keep");
    int rc = compress_decode(c, in, n, &out);
    CHECK(rc == 0 || rc == -EIO);
    if (rc)
        CHECK(out.len == 4 && memcmp(out.data, "keep", 4) == 0);
    buf_free(&out);
    return rc;
}

static void test_corrupt(void) {
    buf doc;
    fill_analysis_like(&doc, 64 * 1024);
    for (size_t i = 0; i < COUNT(real_codings); i++) {
        compress_coding c = real_codings[i];
        buf enc;
        buf_init(&enc, 0);
        CHECK_EQ_INT(compress_encode(c, doc.data, doc.len, &enc), 0);
        size_t n = enc.len;

        CHECK_EQ_INT(decode_check(c, enc.data, 0), -EIO);
        /* Cut short anywhere. */
        for (size_t k = 1; k <= 16; k++)
            CHECK_EQ_INT(decode_check(c, enc.data, n * k / 17), -EIO);
        CHECK_EQ_INT(decode_check(c, enc.data, n - 1), -EIO);
        /* Not this coding at all. */
        CHECK_EQ_INT(decode_check(c, doc.data, 4096), -EIO);
        /* Trailing bytes: gzip and br end where they end; zstd reads on,
         * as concatenated frames are one stream, and finds no frame. */
        buf_append_str(&enc, "trailing garbage");
        CHECK_EQ_INT(decode_check(c, enc.data, enc.len), -EIO);
        enc.len = n;
        /* Flipped bytes past the headers: gzip's CRC-32 and zstd's frame
         * checksum catch every one; br has no checksum, so it only must
         * not crash or report anything but -EIO. */
        for (size_t k = 1; k <= 32; k++) {
            size_t at = 16 + (n - 24) * k / 33;
            enc.data[at] ^= 0x20;
            int rc = decode_check(c, enc.data, n);
            if (c != COMPRESS_BR)
                CHECK_EQ_INT(rc, -EIO);
            enc.data[at] ^= 0x20;
        }
        CHECK_EQ_INT(decode_check(c, enc.data, n), 0);
        buf_free(&enc);
    }
    buf_free(&doc);
}

static void test_limits(void) {
    buf doc, enc, out;
    fill_analysis_like(&doc, DOC_BYTES);
    for (size_t i = 0; i < COUNT(all_codings); i++) {
        compress_coding c = all_codings[i];
        buf_init(&enc, 0);
        CHECK_EQ_INT(compress_encode(c, doc.data, doc.len, &enc), 0);
        size_t n = enc.len;

        /* Encoding: one byte short fails and leaves |out| as it was; an
         * exact fit succeeds. */
        buf_init(&out, 10 + n - 1);
        buf_append_str(&out, "0123456789");
        CHECK_EQ_INT(compress_encode(c, doc.data, doc.len, &out), -ENOBUFS);
        CHECK_EQ_INT(out.len, 10);
        buf_free(&out);
        buf_init(&out, 10 + n);
        buf_append_str(&out, "0123456789");
        CHECK_EQ_INT(compress_encode(c, doc.data, doc.len, &out), 0);
        CHECK(out.len == 10 + n && memcmp(out.data + 10, enc.data, n) == 0);
        buf_free(&out);
        /* A failed call leaves the thread's context fit for the next. */
        buf_init(&out, 0);
        CHECK_EQ_INT(compress_encode(c, doc.data, doc.len, &out), 0);
        CHECK(out.len == n && memcmp(out.data, enc.data, n) == 0);
        buf_free(&out);

        /* Decoding likewise. */
        buf_init(&out, doc.len - 1);
        CHECK_EQ_INT(compress_decode(c, enc.data, n, &out), -ENOBUFS);
        CHECK_EQ_INT(out.len, 0);
        buf_free(&out);
        buf_init(&out, doc.len);
        CHECK_EQ_INT(compress_decode(c, enc.data, n, &out), 0);
        CHECK(out.len == doc.len && memcmp(out.data, doc.data, doc.len) == 0);
        buf_free(&out);
        buf_free(&enc);
    }

    /* A bomb: 32 MB of zeros is a few kilobytes coded; decoding stops at
     * the limit, not at the end. */
    size_t zn = 32u << 20;
    char *zeros = calloc(1, zn);
    CHECK(zeros != NULL);
    for (size_t i = 0; zeros && i < COUNT(real_codings); i++) {
        compress_coding c = real_codings[i];
        buf_init(&enc, 0);
        CHECK_EQ_INT(compress_encode_level(c, 1, zeros, zn, &enc), 0);
        CHECK(enc.len < zn / 100);
        buf_init(&out, 1u << 20);
        CHECK_EQ_INT(compress_decode(c, enc.data, enc.len, &out), -ENOBUFS);
        CHECK_EQ_INT(out.len, 0);
        CHECK(out.cap <= 1u << 20);
        buf_free(&out);
        buf_free(&enc);
    }
    free(zeros);
    buf_free(&doc);
}

/* RFC 9659 caps zstd windows at 8 MB; a frame that asks for more is
 * refused before the decoder allocates it. The frame is built with libzstd
 * directly: compress_encode never makes one. */
static void test_zstd_window(void) {
    enum { N = 100000 };
    static char zeros[N];
    char frame[4096];
    for (int wlog = 23; wlog <= 24; wlog++) {
        ZSTD_CCtx *z = ZSTD_createCCtx();
        CHECK(z != NULL);
        if (z == NULL)
            return;
        ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, wlog);
        /* Streamed without a size, so the frame states the window. */
        ZSTD_inBuffer ib = {zeros, N, 0};
        ZSTD_outBuffer ob = {frame, sizeof frame, 0};
        size_t r = ZSTD_compressStream2(z, &ob, &ib, ZSTD_e_continue);
        CHECK(!ZSTD_isError(r) && ib.pos == N);
        r = ZSTD_compressStream2(z, &ob, &ib, ZSTD_e_end);
        CHECK_EQ_INT(r, 0);
        ZSTD_freeCCtx(z);

        buf out;
        buf_init(&out, 0);
        int rc = compress_decode(COMPRESS_ZSTD, frame, ob.pos, &out);
        CHECK_EQ_INT(rc, wlog <= 23 ? 0 : -EIO);
        CHECK_EQ_INT(out.len, rc ? 0 : N);
        buf_free(&out);
    }
}

/* Each thread codes its own inputs with its own contexts at once. */
static void *thread_main(void *arg) {
    int *ok = arg;
    buf doc, enc, dec;
    fill_random(&doc, 50000, (uint64_t)(uintptr_t)arg);
    /* Compressible but different per thread: every 4th byte random. */
    for (size_t i = 0; i < doc.len; i++)
        if (i % 4)
            doc.data[i] = (char)('a' + i % 7);
    buf_init(&enc, 0);
    buf_init(&dec, 0);
    *ok = 1;
    for (int round = 0; round < 20; round++) {
        compress_coding c = real_codings[round % 3];
        enc.len = dec.len = 0;
        if (compress_encode(c, doc.data, doc.len, &enc) != 0 ||
            compress_decode(c, enc.data, enc.len, &dec) != 0 ||
            dec.len != doc.len || memcmp(dec.data, doc.data, doc.len) != 0)
            *ok = 0;
    }
    buf_free(&doc);
    buf_free(&enc);
    buf_free(&dec);
    compress_thread_cleanup();
    return NULL;
}

static void test_threads(void) {
    enum { N = 4 };
    pthread_t t[N];
    int ok[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, thread_main, &ok[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(ok[i], 1);
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of |runs| timings of encoding (or decoding) |doc|. */
static double time_ms(compress_coding c, int level, int decode, const buf *in,
                      buf *out) {
    enum { RUNS = 15 };
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        out->len = 0;
        double t0 = now_ms();
        int rc = decode
                     ? compress_decode(c, in->data, in->len, out)
                     : compress_encode_level(c, level, in->data, in->len, out);
        t[r] = now_ms() - t0;
        CHECK_EQ_INT(rc, 0);
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    return t[RUNS / 2];
}

static void test_measure(void) {
    static const struct {
        compress_coding c;
        int level;
    } tries[] = {
        {COMPRESS_ZSTD, 1}, {COMPRESS_ZSTD, 2},  {COMPRESS_ZSTD, 3},
        {COMPRESS_ZSTD, 4}, {COMPRESS_ZSTD, 5},  {COMPRESS_ZSTD, 6},
        {COMPRESS_ZSTD, 9}, {COMPRESS_ZSTD, 19}, {COMPRESS_BR, 1},
        {COMPRESS_BR, 4},   {COMPRESS_BR, 5},    {COMPRESS_BR, 6},
        {COMPRESS_BR, 7},   {COMPRESS_BR, 11},   {COMPRESS_GZIP, 1},
        {COMPRESS_GZIP, 4}, {COMPRESS_GZIP, 6},  {COMPRESS_GZIP, 9},
    };
    buf doc, enc, dec;
    fill_analysis_like(&doc, DOC_BYTES);
    buf_init(&enc, 0);
    buf_init(&dec, 0);

    /* The first call on a thread builds the context; later ones reuse it. */
    compress_thread_cleanup();
    printf("measure: %zu-byte analysis-like JSON, median of 15 runs\n",
           doc.len);
    for (size_t i = 0; i < COUNT(real_codings); i++) {
        compress_coding c = real_codings[i];
        enc.len = 0;
        double t0 = now_ms();
        CHECK_EQ_INT(compress_encode(c, doc.data, doc.len, &enc), 0);
        printf("  %-4s default level, first call on the thread: %.2f ms\n",
               compress_name(c), now_ms() - t0);
    }
    printf("  %-4s %5s %8s %7s %9s %9s\n", "", "level", "bytes", "ratio",
           "enc ms", "dec ms");
    for (size_t i = 0; i < COUNT(tries); i++) {
        double te = time_ms(tries[i].c, tries[i].level, 0, &doc, &enc);
        buf coded = enc;
        buf_init(&enc, 0);
        double td = time_ms(tries[i].c, 0, 1, &coded, &dec);
        CHECK(dec.len == doc.len && memcmp(dec.data, doc.data, doc.len) == 0);
        printf("  %-4s %5d %8zu %7.2f %9.2f %9.2f\n", compress_name(tries[i].c),
               tries[i].level, coded.len, (double)doc.len / (double)coded.len,
               te, td);
        buf_free(&coded);
    }
    buf_free(&enc);
    buf_free(&dec);
    buf_free(&doc);
}

int main(void) {
    TEST_RUN(test_names);
    TEST_RUN(test_negotiate);
    TEST_RUN(test_round_trips);
    TEST_RUN(test_invalid);
    TEST_RUN(test_corrupt);
    TEST_RUN(test_limits);
    TEST_RUN(test_zstd_window);
    TEST_RUN(test_threads);
    TEST_RUN(test_measure);
    compress_thread_cleanup();
    return TEST_END();
}
