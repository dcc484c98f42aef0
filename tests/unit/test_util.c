/* Unit tests: query strings, base64url cursors, canonical JSON, RFC 3339. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json_canon.h"
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

int main(void) {
    TEST_RUN(test_query);
    TEST_RUN(test_base64);
    TEST_RUN(test_canonical);
    TEST_RUN(test_rfc3339);
    return TEST_END();
}
