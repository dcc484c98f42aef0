/* test_loadgen.c: loadgen's pure parts - h2load's value syntax, the
 * command line's checks, URIs and {A..B} templates, and the summary's
 * number formats and statistics checked against real h2load output. */
#include "options.h"
#include "report.h"
#include "stats.h"
#include "test.h"
#include "threshold.h"
#include "uri.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void test_sizes_and_durations(void) {
    uint64_t v = 0;
    double d = 0;

    CHECK_EQ_INT(lg_parse_size("100", &v), 0);
    CHECK_EQ_INT(v, 100);
    CHECK_EQ_INT(lg_parse_size("16K", &v), 0);
    CHECK_EQ_INT(v, 16384);
    CHECK_EQ_INT(lg_parse_size("2M", &v), 0);
    CHECK_EQ_INT(v, 2 * 1024 * 1024);
    CHECK_EQ_INT(lg_parse_size("1G", &v), 0);
    CHECK_EQ_INT(v, 1024 * 1024 * 1024);
    CHECK_EQ_INT(lg_parse_size("", &v), -1);
    CHECK_EQ_INT(lg_parse_size("-1", &v), -1);
    CHECK_EQ_INT(lg_parse_size("10X", &v), -1);
    CHECK_EQ_INT(lg_parse_size("99999999999999999999", &v), -1);

    CHECK_EQ_INT(lg_parse_duration("10", &d), 0);
    CHECK(d == 10);
    CHECK_EQ_INT(lg_parse_duration("10s", &d), 0);
    CHECK(d == 10);
    CHECK_EQ_INT(lg_parse_duration("500ms", &d), 0);
    CHECK(fabs(d - 0.5) < 1e-12);
    CHECK_EQ_INT(lg_parse_duration("250us", &d), 0);
    CHECK(fabs(d - 250e-6) < 1e-12);
    CHECK_EQ_INT(lg_parse_duration("2m", &d), 0);
    CHECK(d == 120);
    CHECK_EQ_INT(lg_parse_duration("1h", &d), 0);
    CHECK(d == 3600);
    CHECK_EQ_INT(lg_parse_duration("1.5s", &d), 0);
    CHECK(d == 1.5);
    CHECK_EQ_INT(lg_parse_duration("1d", &d), -1);
    CHECK_EQ_INT(lg_parse_duration("s", &d), -1);
}

static void test_uri(void) {
    lg_uri u;
    char err[256];
    buf b;

    buf_init(&b, 0);
    CHECK_EQ_INT(
        lg_uri_parse(&u, "http://127.0.0.1:8080/a/b?c=1", 0, err, sizeof err),
        0);
    CHECK_EQ_STR(u.scheme, "http");
    CHECK_EQ_STR(u.host, "127.0.0.1");
    CHECK_EQ_INT(u.port, 8080);
    CHECK_EQ_STR(u.authority, "127.0.0.1:8080");
    CHECK_EQ_INT(lg_uri_count(&u), 1);
    lg_uri_append_path(&u, 0, &b);
    CHECK(b.len == 8 && memcmp(b.data, "/a/b?c=1", 8) == 0);
    lg_uri_free(&u);

    CHECK_EQ_INT(lg_uri_parse(&u, "https://example.com", 0, err, sizeof err),
                 0);
    CHECK_EQ_INT(u.port, 443);
    CHECK_EQ_STR(u.authority, "example.com");
    CHECK_EQ_STR(u.prefix, "/");
    lg_uri_free(&u);

    CHECK_EQ_INT(lg_uri_parse(&u, "http://[::1]:81/x", 0, err, sizeof err), 0);
    CHECK_EQ_STR(u.host, "::1");
    CHECK_EQ_STR(u.authority, "[::1]:81");
    lg_uri_free(&u);

    CHECK_EQ_INT(lg_uri_parse(&u, "ftp://x/", 0, err, sizeof err), -1);
    CHECK_EQ_INT(lg_uri_parse(&u, "http://x:0/", 0, err, sizeof err), -1);
    CHECK_EQ_INT(lg_uri_parse(&u, "http://x:99999/", 0, err, sizeof err), -1);
    CHECK_EQ_INT(lg_uri_parse(&u, "/rel", 0, err, sizeof err), -1);
    CHECK_EQ_INT(lg_uri_parse(&u, "/rel", 1, err, sizeof err), 0);
    lg_uri_free(&u);
    buf_free(&b);
}

static void test_template(void) {
    lg_uri u;
    char err[256];
    buf b;

    buf_init(&b, 0);
    CHECK_EQ_INT(lg_uri_parse(&u, "http://h/api/v1/objects/{1..500}/analysis",
                              0, err, sizeof err),
                 0);
    CHECK_EQ_INT(lg_uri_count(&u), 500);
    lg_uri_append_path(&u, 0, &b);
    buf_append_char(&b, '\0');
    CHECK_EQ_STR(b.data, "/api/v1/objects/1/analysis");
    b.len = 0;
    lg_uri_append_path(&u, 499, &b);
    buf_append_char(&b, '\0');
    CHECK_EQ_STR(b.data, "/api/v1/objects/500/analysis");
    lg_uri_free(&u);

    CHECK_EQ_INT(lg_uri_parse(&u, "http://h/{5..5}", 0, err, sizeof err), 0);
    CHECK_EQ_INT(lg_uri_count(&u), 1);
    lg_uri_free(&u);
    CHECK_EQ_INT(lg_uri_parse(&u, "http://h/{5..4}", 0, err, sizeof err), -1);
    CHECK_EQ_INT(lg_uri_parse(&u, "http://h/{a..4}", 0, err, sizeof err), -1);
    CHECK_EQ_INT(lg_uri_parse(&u, "http://h/{1..2", 0, err, sizeof err), -1);
    CHECK_EQ_INT(lg_uri_parse(&u, "http://h/{1..2}/{1..2}", 0, err, sizeof err),
                 -1);
    buf_free(&b);
}

static int parse_args(lg_options *o, const char *const *args) {
    char *argv[32];
    int argc = 0;

    while (args[argc] != NULL) {
        argv[argc] = (char *)(uintptr_t)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    optind = 0; /* getopt_long: reinitialise */
    return lg_options_parse(o, argc, argv);
}

static void test_options(void) {
    lg_options o;
    const char *ok[] = {"loadgen",
                        "-n",
                        "10K",
                        "-c",
                        "4",
                        "-t",
                        "2",
                        "-m",
                        "10",
                        "-H",
                        "X-A: b",
                        "--h1",
                        "-D",
                        "2s",
                        "--warm-up-time",
                        "500ms",
                        "http://a:81/x",
                        "/y/{1..3}",
                        NULL};
    const char *few[] = {"loadgen", "-n", "1", "-c", "2", "http://a/", NULL};
    const char *rd[] = {"loadgen", "-r", "1", "-D", "1", "http://a/", NULL};
    const char *none[] = {"loadgen", "-n", "1", NULL};
    const char *badm[] = {"loadgen", "-m", "x", "http://a/", NULL};
    const char *unix_[] = {"loadgen", "-B", "unix:/tmp/s", "http://a/", NULL};

    CHECK_EQ_INT(parse_args(&o, ok), 0);
    CHECK_EQ_INT(o.nreqs, 10240);
    CHECK_EQ_INT(o.nclients, 4);
    CHECK_EQ_INT(o.nthreads, 2);
    CHECK_EQ_INT(o.max_streams, 10);
    CHECK_EQ_INT(o.cleartext_proto, LG_PROTO_H1);
    CHECK_EQ_INT(o.nheaders, 1);
    CHECK_EQ_STR(o.headers[0].name, "x-a");
    CHECK_EQ_STR(o.headers[0].value, "b");
    CHECK(o.duration == 2 && o.warmup == 0.5);
    CHECK_EQ_INT(o.nuris, 2);
    CHECK_EQ_INT(o.ntargets, 4);
    CHECK_EQ_STR(o.authority, "a:81");
    CHECK_EQ_INT(o.port, 81);
    lg_options_free(&o);

    CHECK_EQ_INT(parse_args(&o, few), -1); /* -n below -c */
    lg_options_free(&o);
    CHECK_EQ_INT(parse_args(&o, rd), -1); /* -r with -D */
    lg_options_free(&o);
    CHECK_EQ_INT(parse_args(&o, none), -1);
    lg_options_free(&o);
    CHECK_EQ_INT(parse_args(&o, badm), -1);
    lg_options_free(&o);
    CHECK_EQ_INT(parse_args(&o, unix_), 0);
    CHECK_EQ_STR(o.unix_path, "/tmp/s");
    CHECK_EQ_STR(o.authority, "a");
    lg_options_free(&o);
}

/* Values and the strings h2load 1.52 printed for them (see
 * tests/integration/fixtures/h2load/). */
static void test_formats(void) {
    char s[32];

    lg_format_duration_us(97, s, sizeof s);
    CHECK_EQ_STR(s, "97us");
    lg_format_duration_us(0, s, sizeof s);
    CHECK_EQ_STR(s, "0us");
    lg_format_duration_us(3840, s, sizeof s);
    CHECK_EQ_STR(s, "3.84ms");
    lg_format_duration_us(2.0e6, s, sizeof s);
    CHECK_EQ_STR(s, "2.00s");
    lg_format_size(141066, s, sizeof s);
    CHECK_EQ_STR(s, "137.76K");
    lg_format_size(2672000, s, sizeof s);
    CHECK_EQ_STR(s, "2.55M");
    lg_format_size(0, s, sizeof s);
    CHECK_EQ_STR(s, "0");
    lg_format_size(1023, s, sizeof s);
    CHECK_EQ_STR(s, "1023");
}

static void test_sd_like_h2load(void) {
    /* h2load: "time for connect: 112us 425us 268us 221us 100.00%" */
    double two[] = {112, 425};
    double one[] = {445};
    lg_sd_stat s = lg_sd_compute(two, 2);

    CHECK(s.min == 112 && s.max == 425);
    CHECK((long long)s.mean == 268);
    CHECK((long long)s.sd == 221);
    CHECK(s.within_sd == 100.0);
    s = lg_sd_compute(one, 1);
    CHECK(s.sd == 0 && s.within_sd == 100.0);
    s = lg_sd_compute(one, 0);
    CHECK(s.within_sd == 0);
}

static void test_thresholds(void) {
    lg_threshold t;
    char err[512];

    CHECK_EQ_INT(lg_threshold_parse(&t, "p99>300ms", err, sizeof err), 0);
    CHECK_EQ_INT(t.metric, LG_M_P99);
    CHECK_EQ_INT(t.op, '>');
    CHECK(fabs(t.value - 0.3) < 1e-12);
    CHECK(lg_threshold_holds(&t, 0.301));
    CHECK(!lg_threshold_holds(&t, 0.3));
    CHECK_EQ_INT(lg_threshold_parse(&t, "p99.9 <= 1s", err, sizeof err), 0);
    CHECK_EQ_INT(t.metric, LG_M_P999);
    CHECK_EQ_INT(t.op, 'l');
    CHECK(lg_threshold_holds(&t, 1.0));
    CHECK_EQ_INT(lg_threshold_parse(&t, "errored>=1%", err, sizeof err), 0);
    CHECK_EQ_INT(t.metric, LG_M_ERRORED);
    CHECK_EQ_INT(t.percent, 1);
    CHECK_EQ_INT(t.op, 'g');
    CHECK_EQ_INT(lg_threshold_parse(&t, "rps<1000", err, sizeof err), 0);
    CHECK_EQ_INT(t.metric, LG_M_RPS);
    CHECK(lg_threshold_holds(&t, 999.9));
    CHECK_EQ_INT(lg_threshold_parse(&t, "p98>1s", err, sizeof err), -1);
    CHECK_EQ_INT(lg_threshold_parse(&t, "p99>", err, sizeof err), -1);
    CHECK_EQ_INT(lg_threshold_parse(&t, "p99=1s", err, sizeof err), -1);
    CHECK_EQ_INT(lg_threshold_parse(&t, "failed>x", err, sizeof err), -1);
    CHECK_EQ_INT(lg_threshold_parse(&t, "rps>5%", err, sizeof err), -1);
    CHECK(strstr(err, "--fail-if") != NULL);
}

static void test_sd_pool(void) {
    double all[] = {1, 5, 9, 2, 8, 100, 3};
    lg_sd_stat a = lg_sd_compute(all, 3), b = lg_sd_compute(all + 3, 4);
    lg_sd_stat p = lg_sd_pool(a, b), w = lg_sd_compute(all, 7);

    CHECK_EQ_INT(p.n, 7);
    CHECK(p.min == w.min && p.max == w.max);
    CHECK(fabs(p.mean - w.mean) < 1e-9);
    CHECK(fabs(p.sd - w.sd) < 1e-9);
    p = lg_sd_pool(lg_sd_compute(all, 0), b);
    CHECK(p.n == 4 && p.mean == b.mean);
}

int main(void) {
    TEST_RUN(test_sizes_and_durations);
    TEST_RUN(test_uri);
    TEST_RUN(test_template);
    TEST_RUN(test_options);
    TEST_RUN(test_formats);
    TEST_RUN(test_sd_like_h2load);
    TEST_RUN(test_thresholds);
    TEST_RUN(test_sd_pool);
    return TEST_END();
}
