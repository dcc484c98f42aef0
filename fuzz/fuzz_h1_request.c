/* fuzz_h1_request.c: libFuzzer target for h1_parse_request() and, when the
 * head announces a chunked body, h1_chunked_decode() on what follows.
 *
 * Besides memory safety (run under ASan/UBSan) it asserts the contract:
 * lengths in bounds, pointers inside the head, a stateless parser that
 * gives the same answer however the bytes were split, and a chunked
 * decoder whose result does not depend on how its input was cut up. */
#include "fuzz_require.h"
#include "h1_parser.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD 8192
#define MAX_TARGET 4096
#define MAX_HEADERS 64
#define MAX_BODY ((uint64_t)1 << 20)

static int known_error(int rc) {
    switch (rc) {
    case H1_PARTIAL:
    case H1_E_BAD_REQUEST:
    case H1_E_HEAD_TOO_LARGE:
    case H1_E_TOO_MANY_HEADERS:
    case H1_E_VERSION:
    case H1_E_SMUGGLING:
    case H1_E_NOT_IMPLEMENTED:
    case H1_E_URI_TOO_LONG:
        return 1;
    default:
        return 0;
    }
}

/* [p, p + n) lies inside [base, base + len). */
static int inside(const char *p, size_t n, const uint8_t *base, size_t len) {
    const char *b = (const char *)base;

    return p >= b && p <= b + len && n <= (size_t)(b + len - p);
}

static void check_request(const h1_request *req, const uint8_t *data, int rc) {
    size_t head = (size_t)rc, i;

    REQUIRE(head <= MAX_HEAD);
    REQUIRE(req->method_len > 0 &&
            inside(req->method, req->method_len, data, head));
    REQUIRE(req->target_len > 0 && req->target_len <= MAX_TARGET);
    REQUIRE(inside(req->target, req->target_len, data, head));
    REQUIRE(req->minor_version == 0 || req->minor_version == 1);
    REQUIRE(req->num_headers <= MAX_HEADERS);
    for (i = 0; i < req->num_headers; i++) {
        const h1_header *h = &req->headers[i];
        REQUIRE(h->name_len > 0 && inside(h->name, h->name_len, data, head));
        REQUIRE(inside(h->value, h->value_len, data, head));
        /* Values are trimmed and contain no line breaks. */
        REQUIRE(memchr(h->value, '\r', h->value_len) == NULL);
        REQUIRE(memchr(h->value, '\n', h->value_len) == NULL);
        if (h->value_len > 0) {
            REQUIRE(h->value[0] != ' ' && h->value[0] != '\t');
            REQUIRE(h->value[h->value_len - 1] != ' ' &&
                    h->value[h->value_len - 1] != '\t');
        }
        /* Lookup by name finds this header or an earlier namesake. */
        if (i < 4 && h->name_len < 64) {
            char name[64];
            const h1_header *f;
            memcpy(name, h->name, h->name_len);
            name[h->name_len] = '\0';
            f = h1_find_header(req, name);
            REQUIRE(f != NULL && f <= h && f->name_len == h->name_len);
        }
    }
    REQUIRE(req->content_length >= -1);
    REQUIRE(!(req->chunked && req->content_length >= 0));
    REQUIRE(!(req->chunked && req->minor_version == 0));
    REQUIRE(req->minor_version == 0 || req->host != NULL);
    if (req->host != NULL)
        REQUIRE(inside(req->host, req->host_len, data, head));
    REQUIRE(!(req->expect_continue && req->minor_version == 0));
    /* The head ends with CRLF CRLF. */
    REQUIRE(head >= 4 && memcmp(data + head - 4, "\r\n\r\n", 4) == 0);
}

/* A tiny deterministic generator, seeded by the input so runs repeat. */
static uint32_t next_rand(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

typedef struct decode_result {
    long rc;         /* last return value, or PARTIAL if input ran out */
    size_t consumed; /* input offset where the body ended (rc >= 0) */
    size_t out_len;  /* decoded body bytes */
} decode_result;

/* Decodes |in| in pieces (|seed| 0: all at once), collecting the body in
 * |out|. Checks the per-call contract as it goes. */
static decode_result decode(const uint8_t *in, size_t len, uint32_t seed,
                            char *work, char *out) {
    decode_result res = {H1_PARTIAL, 0, 0};
    h1_chunked d;
    size_t off = 0;

    memcpy(work, in, len);
    h1_chunked_init(&d, MAX_BODY);
    while (off < len) {
        size_t piece = len - off, n;
        long rc;

        if (seed != 0) {
            uint32_t r = next_rand(&seed);
            /* Mostly tiny pieces, to split every token, sometimes big. */
            piece = (r & 3) ? 1 + (r >> 8) % 4 : 1 + (r >> 8) % 64;
            if (piece > len - off)
                piece = len - off;
        }
        n = piece;
        rc = h1_chunked_decode(&d, work + off, &n);
        REQUIRE(rc >= 0 || rc == H1_PARTIAL || rc == H1_E_BAD_REQUEST ||
                rc == H1_E_SMUGGLING || rc == H1_CHUNKED_E_TOO_LARGE);
        REQUIRE(n <= piece);
        REQUIRE(d.total <= MAX_BODY);
        memcpy(out + res.out_len, work + off, n);
        res.out_len += n;
        res.rc = rc;
        if (rc >= 0) {
            REQUIRE((size_t)rc <= piece);
            REQUIRE(n <= (size_t)rc);
            res.consumed = off + (size_t)rc;
            /* What follows the body is untouched. */
            REQUIRE(memcmp(work + res.consumed, in + res.consumed,
                           len - res.consumed) == 0);
            /* A finished decoder consumes nothing more. */
            n = len - res.consumed;
            REQUIRE(h1_chunked_decode(&d, work + res.consumed, &n) == 0);
            REQUIRE(n == 0);
            break;
        }
        if (rc != H1_PARTIAL) {
            /* Errors are sticky. */
            n = len - off;
            REQUIRE(h1_chunked_decode(&d, work + off, &n) == rc);
            break;
        }
        off += piece;
    }
    REQUIRE(res.out_len <= len);
    if (res.rc >= 0)
        REQUIRE(res.out_len <= res.consumed);
    REQUIRE(d.total == res.out_len);
    return res;
}

static void fuzz_chunked(const uint8_t *body, size_t len, uint32_t seed) {
    char *work = malloc(len + 1), *out1 = malloc(len + 1),
         *out2 = malloc(len + 1);
    decode_result whole, split;

    if (work == NULL || out1 == NULL || out2 == NULL)
        goto out;
    whole = decode(body, len, 0, work, out1);
    split = decode(body, len, seed | 1, work, out2);
    /* However the input was cut, the decoder sees the same byte stream:
     * same verdict, same body, same end (per-call return values differ,
     * being relative to the piece). */
    REQUIRE(whole.rc >= 0 ? split.rc >= 0 : split.rc == whole.rc);
    REQUIRE(whole.consumed == split.consumed);
    REQUIRE(whole.out_len == split.out_len);
    REQUIRE(memcmp(out1, out2, whole.out_len) == 0);
out:
    free(work);
    free(out1);
    free(out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static h1_header headers[MAX_HEADERS];
    h1_limits lim = {MAX_HEAD, MAX_TARGET, MAX_HEADERS};
    h1_request req;
    const char *buf = (const char *)data;
    uint32_t seed = 2166136261u;
    size_t i, k;
    int rc, rc2;

    for (i = 0; i < size && i < 64; i++)
        seed = (seed ^ data[i]) * 16777619u;
    if (seed == 0)
        seed = 1;

    req.headers = headers;
    rc = h1_parse_request(buf, size, 0, &req, &lim);
    REQUIRE(rc > 0 || known_error(rc));
    REQUIRE(h1_strerror(rc) != NULL);
    if (rc < 0 && rc != H1_PARTIAL) {
        int st = h1_error_status(rc);
        REQUIRE(st >= 400 && st <= 599);
    }
    if (rc > 0) {
        REQUIRE((size_t)rc <= size);
        check_request(&req, data, rc);
    }

    /* Statelessness: a prefix gives PARTIAL or the same verdict, and
     * resuming from it with the scan_from hint gives the same verdict. */
    k = size ? seed % (size + 1) : 0;
    rc2 = h1_parse_request(buf, k, 0, &req, &lim);
    if (rc2 == H1_PARTIAL) {
        rc2 = h1_parse_request(buf, size, k, &req, &lim);
        REQUIRE(rc2 == rc);
    } else {
        REQUIRE(rc2 == rc);
    }
    if (rc > 0)
        check_request(&req, data, rc);

    if (rc > 0 && req.chunked)
        fuzz_chunked(data + rc, size - (size_t)rc, seed);
    return 0;
}
