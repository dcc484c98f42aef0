/* fuzz_h1_response.c: libFuzzer target for h1_parse_response() (loadgen's
 * side of the HTTP/1 parser) and the chunked decoder behind it.
 *
 * Besides memory safety (ASan/UBSan) it asserts the contract: a status in
 * 100..999, lengths and pointers inside the head, and a stateless parser
 * that gives the same answer for every prefix that holds the whole head. */
#include "fuzz_require.h"
#include "h1_parser.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD 8192
#define MAX_HEADERS 64

static int known_error(int rc) {
    return rc == H1_PARTIAL || rc == H1_E_BAD_REQUEST ||
           rc == H1_E_HEAD_TOO_LARGE || rc == H1_E_TOO_MANY_HEADERS ||
           rc == H1_E_SMUGGLING || rc == H1_E_NOT_IMPLEMENTED;
}

static int inside(const char *p, size_t n, const uint8_t *base, size_t len) {
    const char *b = (const char *)base;

    return p >= b && p <= b + len && n <= (size_t)(b + len - p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static h1_header hdrs[MAX_HEADERS], hdrs2[MAX_HEADERS];
    h1_limits lim = {MAX_HEAD, MAX_HEAD, MAX_HEADERS};
    h1_response res, res2;
    size_t i;
    int rc, rc2;

    res.headers = hdrs;
    rc = h1_parse_response((const char *)data, size, 0, &res, &lim);
    if (rc <= 0) {
        REQUIRE(known_error(rc));
        return 0;
    }
    REQUIRE((size_t)rc <= size && (size_t)rc <= MAX_HEAD);
    REQUIRE(res.status >= 100 && res.status <= 999);
    REQUIRE(res.minor_version == 0 || res.minor_version == 1);
    REQUIRE(res.num_headers <= MAX_HEADERS);
    REQUIRE(res.reason == NULL ||
            inside(res.reason, res.reason_len, data, (size_t)rc));
    for (i = 0; i < res.num_headers; i++) {
        REQUIRE(hdrs[i].name_len > 0);
        REQUIRE(inside(hdrs[i].name, hdrs[i].name_len, data, (size_t)rc));
        REQUIRE(inside(hdrs[i].value, hdrs[i].value_len, data, (size_t)rc));
    }
    REQUIRE(!(res.chunked && res.content_length >= 0));
    /* The head alone parses the same; one byte less is partial. */
    res2.headers = hdrs2;
    rc2 = h1_parse_response((const char *)data, (size_t)rc, 0, &res2, &lim);
    REQUIRE(rc2 == rc && res2.status == res.status &&
            res2.num_headers == res.num_headers &&
            res2.content_length == res.content_length &&
            res2.chunked == res.chunked && res2.keep_alive == res.keep_alive);
    rc2 = h1_parse_response((const char *)data, (size_t)rc - 1, 0, &res2, &lim);
    REQUIRE(rc2 == H1_PARTIAL);
    if (res.chunked && (size_t)rc < size) {
        /* Whatever follows goes through the decoder without harm. */
        size_t blen = size - (size_t)rc;
        char *body = malloc(blen);
        h1_chunked d;
        long drc;

        REQUIRE(body != NULL);
        memcpy(body, data + rc, blen);
        h1_chunked_init(&d, (uint64_t)1 << 20);
        drc = h1_chunked_decode(&d, body, &blen);
        REQUIRE(drc == H1_PARTIAL || drc == H1_E_BAD_REQUEST ||
                drc == H1_E_SMUGGLING || drc == H1_CHUNKED_E_TOO_LARGE ||
                (drc >= 0 && (size_t)drc <= size - (size_t)rc));
        free(body);
    }
    return 0;
}
