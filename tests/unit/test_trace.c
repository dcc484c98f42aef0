/* Unit tests: W3C traceparent parsing (valid, invalid, future versions)
 * and trace starts. */
#include <errno.h>
#include <string.h>

#include "test.h"
#include "trace.h"

static int parse(const char *v, uint8_t *tid, uint8_t *pid, uint8_t *flags) {
    return trace_parse_traceparent(v, strlen(v), tid, pid, flags);
}

static void test_valid(void) {
    uint8_t tid[16], pid[8], flags;
    char hex[33];
    CHECK_EQ_INT(
        parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tid,
              pid, &flags),
        0);
    trace_hex(tid, 16, hex);
    CHECK_EQ_STR(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    trace_hex(pid, 8, hex);
    CHECK_EQ_STR(hex, "00f067aa0ba902b7");
    CHECK_EQ_INT(flags, 1);
    CHECK_EQ_INT(
        parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", tid,
              pid, &flags),
        0);
    CHECK_EQ_INT(flags, 0);
    /* A future version may carry more, after a dash. */
    CHECK_EQ_INT(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
                       "01-what-the-future-holds",
                       tid, pid, &flags),
                 0);
}

static void test_invalid(void) {
    uint8_t tid[16], pid[8], flags;
    static const char *const bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        /* upper-case hex */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        /* all-zero trace id, all-zero parent id */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        /* version ff is forbidden */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        /* version 00 has exactly 55 characters */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        /* a later version's extra part must follow a dash */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        /* wrong separators, non-hex */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(parse(bad[i], tid, pid, &flags), -EINVAL);
}

static void test_begin(void) {
    trace_ctx a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    trace_begin(&a, tp, strlen(tp));
    CHECK_EQ_INT(a.has_parent, 1);
    char hex[33];
    trace_hex(a.trace_id, 16, hex);
    CHECK_EQ_STR(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    /* Without export nothing is sampled, whatever the flag says. */
    CHECK_EQ_INT(a.sampled, 0);
    /* An invalid one is ignored: a new trace, new ids every time. */
    trace_begin(&a, "garbage", 7);
    trace_begin(&b, NULL, 0);
    CHECK_EQ_INT(a.has_parent, 0);
    CHECK(memcmp(a.trace_id, b.trace_id, 16) != 0);
    CHECK(memcmp(a.span_id, b.span_id, 8) != 0);
}

static void test_endpoint(void) {
    char err[256];
    CHECK_EQ_INT(trace_init("https://x:1/v1/traces", 1, err, sizeof err),
                 -EINVAL);
    CHECK(strstr(err, "--otlp-endpoint") != NULL);
    CHECK_EQ_INT(trace_init("http://host/v1/traces", 1, err, sizeof err),
                 -EINVAL);
    CHECK_EQ_INT(trace_init("http://host:99999/v1/traces", 1, err, sizeof err),
                 -EINVAL);
    CHECK_EQ_INT(trace_init("http://:80/", 1, err, sizeof err), -EINVAL);
    CHECK_EQ_INT(trace_init(NULL, 1, err, sizeof err), 0);
}

int main(void) {
    TEST_RUN(test_valid);
    TEST_RUN(test_invalid);
    TEST_RUN(test_begin);
    TEST_RUN(test_endpoint);
    return TEST_END();
}
