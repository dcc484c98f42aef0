/* Tests for analysis_write: each statistic on small hand-computed inputs,
 * bucketing and anomalies at their edges, the revision and event
 * summaries, invalid inputs, and the whole output parsed back with jansson
 * (compact and pretty must be valid and equal). Then the checked-in example
 * (docs/analysis-example.json) byte for byte, and the size and speed of an
 * analysis of the standard workload.
 *
 * Usage: test_analysis [path of docs/analysis-example.json]; without one,
 * OBJECTD_SOURCE_DIR "/docs/..." if defined at build time, else
 * "docs/analysis-example.json" from the current directory. */
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis.h"
#include "test.h"

#define ANALYSIS_EXAMPLE_NO_MAIN
#include "analysis_example.c"

#define MINUTE INT64_C(60000000)
#define HOUR INT64_C(3600000000)
#define DAY INT64_C(86400000000)
/* 2026-03-01T00:00:00Z */
#define T0 INT64_C(1772323200000000)

static const char *example_path = "docs/analysis-example.json";

/* ---- Helpers ---- */

/* An input with an object, a window [T0 - 30 days, T0 + 30 days] and
 * nothing else. */
static an_input base_input(void) {
    an_input in;
    memset(&in, 0, sizeof in);
    in.object.id = 7;
    in.object.revision = 1;
    in.object.type = "sensor";
    in.object.name = "s-7";
    in.object.attributes = "{\"a\":1}";
    in.object.updated_at = T0;
    in.object.updated_by = "alice";
    in.from = T0 - 30 * DAY;
    in.to = T0 + 30 * DAY;
    return in;
}

/* Runs the analysis (compact) and parses it; NULL, with a failed check,
 * if either fails. Also checks that the pretty form parses to the same
 * value. The caller json_decref()s. */
static json_t *analyze(const an_input *in) {
    buf b, p;
    buf_init(&b, 0);
    buf_init(&p, 0);
    json_t *j = NULL, *jp = NULL;
    int rc = analysis_write(in, 0, &b);
    CHECK_EQ_INT(rc, 0);
    int rcp = analysis_write(in, 1, &p);
    CHECK_EQ_INT(rcp, 0);
    if (rc == 0 && rcp == 0) {
        json_error_t err;
        j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &err);
        if (j == NULL)
            fprintf(stderr, "compact output does not parse: %s at %d\n",
                    err.text, err.position);
        jp = json_loadb(p.data, p.len, JSON_REJECT_DUPLICATES, &err);
        if (jp == NULL)
            fprintf(stderr, "pretty output does not parse: %s at %d\n",
                    err.text, err.position);
        CHECK(j != NULL);
        CHECK(jp != NULL);
        CHECK(j && jp && json_equal(j, jp));
    }
    json_decref(jp);
    buf_free(&b);
    buf_free(&p);
    return j;
}

/* The value at a dotted path ("metrics.m.daily.0.count"; numbers index
 * arrays), or NULL. */
static json_t *at(json_t *v, const char *path) {
    char seg[128];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof seg)
            return NULL;
        memcpy(seg, path, n);
        seg[n] = '\0';
        path += n + (path[n] == '.');
        if (json_is_array(v))
            v = json_array_get(v, (size_t)atol(seg));
        else
            v = json_object_get(v, seg);
    }
    return v;
}

static double num(json_t *v) {
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(json_t *v) {
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Exact comparison of a number in the output. */
#define CHECK_NUM(j, path, expected)                                           \
    do {                                                                       \
        double got_ = num(at((j), (path)));                                    \
        double exp_ = (expected);                                              \
        if (got_ == exp_) {                                                    \
            test_checks_passed++;                                              \
        } else {                                                               \
            test_checks_failed++;                                              \
            fprintf(stderr, "%s:%d: %s: %s: %.17g != %.17g\n", __FILE__,       \
                    __LINE__, test_current, (path), got_, exp_);               \
        }                                                                      \
    } while (0)

#define CHECK_STR_AT(j, path, expected)                                        \
    CHECK_EQ_STR(str(at((j), (path))), expected)

static size_t size_at(json_t *j, const char *path) {
    json_t *v = at(j, path);
    return json_is_array(v) || json_is_object(v)
               ? (json_is_array(v) ? json_array_size(v) : json_object_size(v))
               : (size_t)-1;
}

/* ---- Statistics ---- */

static void test_basic_statistics(void) {
    static const double v[] = {3, 1, 4, 1, 5, 9, 2, 6};
    an_obs o[8];
    for (int i = 0; i < 8; i++) {
        o[i].ts = T0 + i * HOUR;
        o[i].value = v[i];
    }
    an_series s = {"m", o, 8};
    an_input in = base_input();
    in.series = &s;
    in.nseries = 1;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "metrics.m.count", 8);
    CHECK_NUM(j, "metrics.m.min", 1);
    CHECK_NUM(j, "metrics.m.max", 9);
    CHECK_NUM(j, "metrics.m.mean", 3.875);
    /* squared deviations sum to 52.875, over 8 */
    CHECK_NUM(j, "metrics.m.stddev", sqrt(6.609375));
    /* sorted 1 1 2 3 4 5 6 9: ranks ceil(4) = 4, ceil(7.2) = 8, ceil(7.92) */
    CHECK_NUM(j, "metrics.m.p50", 3);
    CHECK_NUM(j, "metrics.m.p90", 9);
    CHECK_NUM(j, "metrics.m.p99", 9);
    CHECK_NUM(j, "metrics.m.first", 3);
    CHECK_NUM(j, "metrics.m.last", 6);
    json_decref(j);
}

static void test_percentiles(void) {
    enum { N = 1000 };
    static an_obs o[N];
    an_series s = {"m", o, 0};
    an_input in = base_input();
    in.series = &s;
    in.nseries = 1;
    static const struct {
        size_t n;
        double p50, p90, p99;
    } cases[] = {
        {1, 1, 1, 1},       {2, 1, 2, 2},          {3, 2, 3, 3},
        {10, 5, 9, 10},     {11, 6, 10, 11},       {100, 50, 90, 99},
        {101, 51, 91, 100}, {1000, 500, 900, 990},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* 1..n in a scrambled order (a multiplicative permutation). */
        size_t n = cases[c].n;
        for (size_t i = 0; i < n; i++) {
            o[i].ts = T0 + (int64_t)i * MINUTE;
            o[i].value = (double)((i * 7919) % n + 1);
        }
        s.n = n;
        json_t *j = analyze(&in);
        CHECK_NUM(j, "metrics.m.p50", cases[c].p50);
        CHECK_NUM(j, "metrics.m.p90", cases[c].p90);
        CHECK_NUM(j, "metrics.m.p99", cases[c].p99);
        CHECK_NUM(j, "metrics.m.min", 1);
        CHECK_NUM(j, "metrics.m.max", (double)n);
        json_decref(j);
    }
    /* Many equal values (the selection's worst partitioning case) and the
     * input left untouched. */
    for (int i = 0; i < N; i++) {
        o[i].ts = T0 + i * MINUTE;
        o[i].value = i % 3 == 0 ? 2 : 1;
    }
    s.n = N;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "metrics.m.p50", 1);
    CHECK_NUM(j, "metrics.m.p90", 2);
    CHECK_NUM(j, "metrics.m.first", 2);
    CHECK_NUM(j, "metrics.m.last", 2); /* 999 % 3 == 0 */
    int untouched = 1;
    for (int i = 0; i < N; i++)
        untouched &= o[i].value == (i % 3 == 0 ? 2 : 1);
    CHECK(untouched);
    json_decref(j);
}

static void test_mean_is_compensated(void) {
    /* Plainly summed, 1e16 + 1 loses the 1: the mean would be 0.25. */
    an_obs o[4] = {{T0, 1e16}, {T0 + 1, 1}, {T0 + 2, -1e16}, {T0 + 3, 1}};
    an_series s = {"m", o, 4};
    an_input in = base_input();
    in.series = &s;
    in.nseries = 1;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "metrics.m.mean", 0.5);
    json_decref(j);

    /* Ten readings of 0.1: the mean is 0.1, not 0.09999999999999999. */
    an_obs t[10];
    for (int i = 0; i < 10; i++) {
        t[i].ts = T0 + i;
        t[i].value = 0.1;
    }
    s.obs = t;
    s.n = 10;
    j = analyze(&in);
    CHECK_NUM(j, "metrics.m.mean", 0.1);
    CHECK_NUM(j, "metrics.m.stddev", 0);
    json_decref(j);
}

static void test_single_reading(void) {
    an_obs o[1] = {{T0, -2.5}};
    an_series s = {"m", o, 1};
    an_input in = base_input();
    in.series = &s;
    in.nseries = 1;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "metrics.m.count", 1);
    CHECK_NUM(j, "metrics.m.mean", -2.5);
    CHECK_NUM(j, "metrics.m.stddev", 0);
    CHECK_NUM(j, "metrics.m.p99", -2.5);
    CHECK_NUM(j, "metrics.m.trend_per_day", 0);
    CHECK_EQ_INT(size_at(j, "metrics.m.anomalies"), 0);
    json_decref(j);
}

static void test_trend(void) {
    an_series s = {"m", NULL, 0};
    an_input in = base_input();
    in.series = &s;
    in.nseries = 1;

    /* (0, 5), (1, 7), (2, 9) in days: slope 2 */
    an_obs a[3] = {{T0, 5}, {T0 + DAY, 7}, {T0 + 2 * DAY, 9}};
    s.obs = a;
    s.n = 3;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "metrics.m.trend_per_day", 2);
    json_decref(j);

    /* every 12 hours, falling 1.5 per step: -3 a day */
    an_obs b[4] = {
        {T0, 10}, {T0 + DAY / 2, 8.5}, {T0 + DAY, 7}, {T0 + 3 * DAY / 2, 5.5}};
    s.obs = b;
    s.n = 4;
    j = analyze(&in);
    CHECK_NUM(j, "metrics.m.trend_per_day", -3);
    json_decref(j);

    /* least squares through scatter: t = 0, 1, 2, 3 days, v = 1, 3, 2, 4:
     * sum (t - 1.5)(v - 2.5) = 4, sum (t - 1.5)^2 = 5 */
    an_obs c[4] = {
        {T0, 1}, {T0 + DAY, 3}, {T0 + 2 * DAY, 2}, {T0 + 3 * DAY, 4}};
    s.obs = c;
    j = analyze(&in);
    CHECK(fabs(num(at(j, "metrics.m.trend_per_day")) - 0.8) < 1e-15);
    json_decref(j);

    /* flat: 0 */
    an_obs d[3] = {{T0, 4}, {T0 + HOUR, 4}, {T0 + 5 * HOUR, 4}};
    s.obs = d;
    s.n = 3;
    j = analyze(&in);
    CHECK_NUM(j, "metrics.m.trend_per_day", 0);
    json_decref(j);
}

/* Magnitudes whose squares overflow or underflow: scaled, still right. */
static void test_extreme_values(void) {
    an_series s = {"m", NULL, 0};
    an_input in = base_input();
    in.series = &s;
    in.nseries = 1;

    an_obs a[2] = {{T0, DBL_MAX}, {T0 + DAY, -DBL_MAX}};
    s.obs = a;
    s.n = 2;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "metrics.m.mean", 0);
    CHECK_NUM(j, "metrics.m.stddev", DBL_MAX);
    CHECK_NUM(j, "metrics.m.min", -DBL_MAX);
    /* -2 DBL_MAX a day does not fit a double: null, never "inf" */
    CHECK(json_is_null(at(j, "metrics.m.trend_per_day")));
    json_decref(j);

    an_obs b[2] = {{T0, 1e-310}, {T0 + DAY, 3e-310}};
    s.obs = b;
    j = analyze(&in);
    CHECK(fabs(num(at(j, "metrics.m.stddev")) / 1e-310 - 1) < 1e-9);
    CHECK(fabs(num(at(j, "metrics.m.mean")) / 2e-310 - 1) < 1e-9);
    json_decref(j);
}

/* ---- Buckets ---- */

static void test_daily_and_hourly_across_midnight(void) {
    /* 23:00, 23:20, 23:40 on Feb 28, then 00:00, 00:30 and 01:10 on
     * Mar 1 (2026 is not a leap year). */
    an_obs o[6] = {{T0 - HOUR, 1},        {T0 - 40 * MINUTE, 2},
                   {T0 - 20 * MINUTE, 6}, {T0, 10},
                   {T0 + HOUR / 2, 20},   {T0 + HOUR + 600000000, 30}};
    an_series s = {"m", o, 6};
    an_input in = base_input();
    in.to = T0 + DAY; /* so the hourly buckets (the last 7 days) hold all */
    in.series = &s;
    in.nseries = 1;
    json_t *j = analyze(&in);
    CHECK_EQ_INT(size_at(j, "metrics.m.daily"), 2);
    CHECK_STR_AT(j, "metrics.m.daily.0.date", "2026-02-28");
    CHECK_NUM(j, "metrics.m.daily.0.count", 3);
    CHECK_NUM(j, "metrics.m.daily.0.min", 1);
    CHECK_NUM(j, "metrics.m.daily.0.max", 6);
    CHECK_NUM(j, "metrics.m.daily.0.mean", 3);
    CHECK_STR_AT(j, "metrics.m.daily.1.date", "2026-03-01");
    CHECK_NUM(j, "metrics.m.daily.1.count", 3);
    CHECK_NUM(j, "metrics.m.daily.1.mean", 20);
    CHECK_EQ_INT(size_at(j, "metrics.m.hourly"), 3);
    CHECK_STR_AT(j, "metrics.m.hourly.0.hour", "2026-02-28T23:00:00Z");
    CHECK_NUM(j, "metrics.m.hourly.0.count", 3);
    CHECK_STR_AT(j, "metrics.m.hourly.1.hour", "2026-03-01T00:00:00Z");
    CHECK_NUM(j, "metrics.m.hourly.1.count", 2);
    CHECK_NUM(j, "metrics.m.hourly.1.min", 10);
    CHECK_NUM(j, "metrics.m.hourly.1.max", 20);
    CHECK_NUM(j, "metrics.m.hourly.1.mean", 15);
    CHECK_STR_AT(j, "metrics.m.hourly.2.hour", "2026-03-01T01:00:00Z");
    CHECK_NUM(j, "metrics.m.hourly.2.mean", 30);
    json_decref(j);
}

static void test_hourly_is_last_seven_days(void) {
    /* to = T0; readings at to - 8d, to - 7d (excluded: the range is
     * (to - 7d, to]), to - 7d + 1us, and to. */
    an_obs o[4] = {
        {T0 - 8 * DAY, 1}, {T0 - 7 * DAY, 2}, {T0 - 7 * DAY + 1, 3}, {T0, 4}};
    an_series s = {"m", o, 4};
    an_input in = base_input();
    in.to = T0;
    in.series = &s;
    in.nseries = 1;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "metrics.m.count", 4);
    CHECK_EQ_INT(size_at(j, "metrics.m.daily"), 3);
    CHECK_EQ_INT(size_at(j, "metrics.m.hourly"), 2);
    CHECK_NUM(j, "metrics.m.hourly.0.min", 3);
    CHECK_STR_AT(j, "metrics.m.hourly.0.hour", "2026-02-22T00:00:00Z");
    CHECK_NUM(j, "metrics.m.hourly.1.min", 4);
    json_decref(j);
}

static void test_window_limits(void) {
    /* Readings outside [from, to] are ignored, both ends included. */
    an_obs o[5] = {{T0 - 1, 100},
                   {T0, 1},
                   {T0 + DAY, 2},
                   {T0 + 2 * DAY, 3},
                   {T0 + 2 * DAY + 1, 100}};
    an_series s[2] = {{"m", o, 5}, {"outside", o, 1}};
    an_input in = base_input();
    in.from = T0;
    in.to = T0 + 2 * DAY;
    in.series = s;
    in.nseries = 2;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "metrics.m.count", 3);
    CHECK_NUM(j, "metrics.m.max", 3);
    CHECK_NUM(j, "metrics.m.first", 1);
    CHECK_NUM(j, "metrics.m.last", 3);
    /* a metric without readings in the window is left out */
    CHECK(at(j, "metrics.outside") == NULL);
    CHECK_EQ_INT(size_at(j, "metrics"), 1);
    CHECK_STR_AT(j, "window.from", "2026-03-01T00:00:00.000Z");
    CHECK_STR_AT(j, "window.to", "2026-03-03T00:00:00.000Z");
    json_decref(j);
}

static void test_metrics_sorted_by_name(void) {
    an_obs o[1] = {{T0, 1}};
    an_series s[3] = {{"zeta", o, 1}, {"alpha", o, 1}, {"m\"q", o, 1}};
    an_input in = base_input();
    in.series = s;
    in.nseries = 3;
    buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(analysis_write(&in, 0, &b), 0);
    CHECK_EQ_INT(buf_append_char(&b, '\0'), 0);
    const char *m = strstr(b.data, "\"metrics\":{");
    CHECK(m && strncmp(m + 11, "\"alpha\":{", 9) == 0);
    const char *q = m ? strstr(m, "\"m\\\"q\":{") : NULL;
    const char *z = m ? strstr(m, "\"zeta\":{") : NULL;
    CHECK(q && z && q < z);
    buf_free(&b);
}

/* ---- Anomalies ---- */

static void test_anomaly_spike(void) {
    /* 48 readings of 10 with one of 100: a single outlier among n sits at
     * z = sqrt(n - 1) exactly. The next day is flat: no deviation, no
     * anomalies. */
    an_obs o[96];
    for (int i = 0; i < 96; i++) {
        o[i].ts = T0 + i * (HOUR / 2);
        o[i].value = 10;
    }
    o[17].value = 100;
    an_series s = {"m", o, 96};
    an_input in = base_input();
    in.series = &s;
    in.nseries = 1;
    json_t *j = analyze(&in);
    CHECK_EQ_INT(size_at(j, "metrics.m.anomalies"), 1);
    CHECK_STR_AT(j, "metrics.m.anomalies.0.ts", "2026-03-01T08:30:00.000Z");
    CHECK_NUM(j, "metrics.m.anomalies.0.value", 100);
    CHECK(fabs(num(at(j, "metrics.m.anomalies.0.z")) - sqrt(47)) < 1e-12);
    json_decref(j);

    /* A dip is an anomaly too, with a negative z; a reading at exactly
     * 3 deviations is not "more than 3": values 0 x 9 and 10 x 1: z =
     * sqrt(9) = 3 for the 10, so no anomaly. */
    o[17].value = -80;
    j = analyze(&in);
    CHECK(fabs(num(at(j, "metrics.m.anomalies.0.z")) + sqrt(47)) < 1e-12);
    json_decref(j);
    an_obs t[10];
    for (int i = 0; i < 10; i++) {
        t[i].ts = T0 + i * HOUR;
        t[i].value = i == 4 ? 10 : 0;
    }
    s.obs = t;
    s.n = 10;
    j = analyze(&in);
    CHECK_EQ_INT(size_at(j, "metrics.m.anomalies"), 0);
    json_decref(j);
}

static void test_anomaly_cap_and_order(void) {
    /* 60 days; day k has 11 + k readings with one spike, so z = sqrt(10 +
     * k): the 50 strongest are days 10..59, listed by time. */
    enum { DAYS = 60 };
    static an_obs o[DAYS * 72];
    size_t n = 0;
    for (int d = 0; d < DAYS; d++) {
        int m = 11 + d;
        for (int i = 0; i < m; i++) {
            o[n].ts = T0 + d * DAY + i * 20 * MINUTE;
            o[n].value = i == 5 ? (d % 2 ? 50 : -50) : 1;
            n++;
        }
    }
    an_series s = {"m", o, n};
    an_input in = base_input();
    in.from = T0;
    in.to = T0 + DAYS * DAY;
    in.series = &s;
    in.nseries = 1;
    json_t *j = analyze(&in);
    json_t *a = at(j, "metrics.m.anomalies");
    CHECK_EQ_INT(json_array_size(a), 50);
    CHECK_STR_AT(a, "0.ts", "2026-03-11T01:40:00.000Z");
    CHECK_STR_AT(a, "49.ts", "2026-04-29T01:40:00.000Z");
    int ordered = 1, strong = 1;
    for (size_t i = 0; i < json_array_size(a); i++) {
        double z = num(at(json_array_get(a, i), "z"));
        strong &= fabs(fabs(z) - sqrt(20 + (double)i)) < 1e-9;
        if (i)
            ordered &= strcmp(str(at(json_array_get(a, i - 1), "ts")),
                              str(at(json_array_get(a, i), "ts"))) < 0;
    }
    CHECK(ordered);
    CHECK(strong);
    CHECK_NUM(a, "0.value", -50); /* day 10 is even */
    json_decref(j);
}

/* ---- Revisions ---- */

static void test_revisions_changed(void) {
    an_revision r[8] = {
        {1, T0, "zed", "{\"a\":1,\"b\":{\"x\":1}}", 0},
        {2, T0 + 1, "amy", "{\"a\":1,\"b\":{\"x\":2}}", 0}, /* nested */
        {3, T0 + 2, "bob", "{\"a\":1,\"b\":{\"x\":2},\"c\":null}", 0},
        {4, T0 + 3, "amy", "{\"b\":{\"x\":2},\"c\":null}", 0},
        {5, T0 + 4, "amy", "{\"b\":{\"x\":2},\"c\":null}", 1}, /* delete */
        {6, T0 + 5, "bob", NULL, 0},                           /* {} */
        /* keys out of order (not canonical) still pair up */
        {7, T0 + 6, "bob", "{\"z\":1,\"b\":[1,2]}", 0},
        {8, T0 + 7, "bob", "{\"b\":[1,2],\"z\":2,\"\\u00e9\\\"\":true}", 0},
    };
    an_input in = base_input();
    in.revisions = r;
    in.nrevisions = 8;
    json_t *j = analyze(&in);
    json_t *recent = at(j, "revisions.recent");
    CHECK_EQ_INT(json_array_size(recent), 8);
    static const char *const want[8] = {
        "[\"z\", \"\\u00e9\\\"\"]", /* rev 8 */
        "[\"b\", \"z\"]",           /* rev 7: added to {} */
        "[\"b\", \"c\"]",           /* rev 6: all removed */
        "[]",                       /* rev 5: a tombstone, same content */
        "[\"a\"]",                  /* rev 4: removed */
        "[\"c\"]",                  /* rev 3: added, even as null */
        "[\"b\"]",                  /* rev 2: changed inside */
        "[\"a\", \"b\"]",           /* rev 1: all its keys */
    };
    for (size_t i = 0; i < 8; i++) {
        json_t *e = json_array_get(recent, i);
        CHECK_NUM(e, "revision", (double)(8 - i));
        json_t *w = json_loads(want[i], 0, NULL);
        CHECK(w && json_equal(w, at(e, "changed")));
        json_decref(w);
    }
    CHECK(json_is_true(at(recent, "3.deleted")));
    CHECK(json_is_false(at(recent, "2.deleted")));
    CHECK_STR_AT(recent, "0.updated_at", "2026-03-01T00:00:00.000Z");
    json_decref(j);

    /* The escaped key comes out as written, sorted by its decoded bytes
     * (0xC3 after 'z'). */
    buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(analysis_write(&in, 1, &b), 0);
    CHECK_EQ_INT(buf_append_char(&b, '\0'), 0);
    CHECK(strstr(b.data, "\"changed\": [\"z\", \"\\u00e9\\\"\"]") != NULL);
    buf_free(&b);
}

static void test_revisions_authors_and_cap(void) {
    /* 25 revisions a day apart ending at T0; the window holds the last
     * 10 days: revisions 16..25. */
    static const char *const names[] = {"zed", "amy", "bob", "amy"};
    an_revision r[25];
    char attrs[25][32];
    for (int i = 0; i < 25; i++) {
        snprintf(attrs[i], sizeof attrs[i], "{\"n\":%d,\"v\":1}", i);
        r[i].revision = i + 1;
        r[i].updated_at = T0 - (24 - i) * DAY;
        r[i].author = names[i % 4];
        r[i].attributes = attrs[i];
        r[i].deleted = 0;
    }
    an_input in = base_input();
    in.from = T0 - 9 * DAY - 1;
    in.to = T0;
    in.revisions = r;
    in.nrevisions = 25;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "revisions.count_in_window", 10);
    /* i = 15..24: i % 4 is 3,0,1,2,3,0,1,2,3,0; names[1] and names[3]
     * are both amy */
    json_t *want = json_loads("[{\"author\":\"amy\",\"count\":5},"
                              "{\"author\":\"bob\",\"count\":2},"
                              "{\"author\":\"zed\",\"count\":3}]",
                              0, NULL);
    CHECK(want && json_equal(want, at(j, "revisions.authors_in_window")));
    json_decref(want);
    json_t *recent = at(j, "revisions.recent");
    CHECK_EQ_INT(json_array_size(recent), 20);
    CHECK_NUM(recent, "0.revision", 25);
    CHECK_NUM(recent, "19.revision", 6);
    /* revision 6 is compared with revision 5, not treated as the first */
    CHECK_STR_AT(recent, "19.changed.0", "n");
    CHECK_EQ_INT(size_at(recent, "19.changed"), 1);
    json_decref(j);
}

/* ---- Events ---- */

/* The "by_kind" / "by_severity" text of |b| (compact), as written. */
static int counts_text(const char *b, const char *key, char *out, size_t n) {
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":{", key);
    const char *p = strstr(b, pat), *q = p ? strchr(p, '}') : NULL;
    if (q == NULL || (size_t)(q + 1 - p) >= n)
        return -1;
    memcpy(out, p, (size_t)(q + 1 - p));
    out[q + 1 - p] = '\0';
    return 0;
}

static int str_order(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Counting kinds and severities: every string a separate copy (as a
 * store that does not share repeated strings gives them), in a shuffled
 * order; few distinct ones (counted by lookup) and more than 32 (the
 * sorting fallback). The text must list them in strcmp order with their
 * counts, computed here independently. */
static void test_event_counts(void) {
    enum { N = 400 };
    static an_event e[N];
    static char kind[N][8], sev[N][8];
    for (int distinct = 1; distinct <= 60; distinct += 9) {
        int count[60] = {0};
        uint64_t x = 88172645463325252u;
        for (int i = 0; i < N; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int k = (int)(x % (uint64_t)distinct);
            count[k]++;
            /* names whose order is not their number's: "k7" > "k10" */
            snprintf(kind[i], sizeof kind[i], "k%d", k);
            snprintf(sev[i], sizeof sev[i], "s%d", i % 3);
            e[i].ts = T0 + i * MINUTE;
            e[i].kind = kind[i];
            e[i].severity = sev[i];
            e[i].message = NULL;
            e[i].data = NULL;
        }
        /* The expected text: names sorted by strcmp, with their counts. */
        char names[60][8], want[2048], got[2048];
        const char *order[60];
        int nn = 0;
        for (int k = 0; k < distinct; k++) {
            if (count[k] == 0)
                continue;
            snprintf(names[nn], sizeof names[nn], "k%d", k);
            order[nn] = names[nn];
            nn++;
        }
        qsort(order, (size_t)nn, sizeof *order, str_order);
        size_t len = (size_t)snprintf(want, sizeof want, "\"by_kind\":{");
        for (int i = 0; i < nn; i++) {
            int k = atoi(order[i] + 1);
            len +=
                (size_t)snprintf(want + len, sizeof want - len, "%s\"%s\":%d",
                                 i ? "," : "", order[i], count[k]);
        }
        snprintf(want + len, sizeof want - len, "}");
        an_input in = base_input();
        in.events = e;
        in.nevents = N;
        buf b;
        buf_init(&b, 0);
        CHECK_EQ_INT(analysis_write(&in, 0, &b), 0);
        CHECK_EQ_INT(buf_append_char(&b, '\0'), 0);
        CHECK_EQ_INT(counts_text(b.data, "by_kind", got, sizeof got), 0);
        CHECK_EQ_STR(got, want);
        CHECK_EQ_INT(counts_text(b.data, "by_severity", got, sizeof got), 0);
        CHECK_EQ_STR(got, "\"by_severity\":{\"s0\":134,\"s1\":133,\"s2\":133}");
        buf_free(&b);
    }
}

static void test_events(void) {
    enum { N = 160 };
    static an_event e[N];
    static const char *const kinds[] = {"note", "alarm", "maint"};
    static const char *const sev[] = {"info", "warning"};
    char msgs[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(msgs[i], sizeof msgs[i], "m%d", i);
        e[i].ts = T0 + (i - 5) * HOUR; /* the first 5 before the window */
        e[i].kind = kinds[i % 3];
        e[i].severity = sev[i % 2];
        e[i].message = i == N - 2 ? NULL : msgs[i];
        e[i].data = i == N - 1 ? "{ \"k\" : [1, 2] ,\"s\":\"a b\"}" : NULL;
    }
    an_input in = base_input();
    in.from = T0;
    in.events = e;
    in.nevents = N;
    json_t *j = analyze(&in);
    CHECK_NUM(j, "events.count", N - 5);
    /* i = 5..159: kinds by i % 3, severities by i % 2 */
    json_t *want =
        json_loads("{\"alarm\":51,\"maint\":52,\"note\":52}", 0, NULL);
    CHECK(want && json_equal(want, at(j, "events.by_kind")));
    json_decref(want);
    want = json_loads("{\"info\":77,\"warning\":78}", 0, NULL);
    CHECK(want && json_equal(want, at(j, "events.by_severity")));
    json_decref(want);
    json_t *recent = at(j, "events.recent");
    CHECK_EQ_INT(json_array_size(recent), 100);
    CHECK_STR_AT(recent, "0.message", "m159");
    CHECK(json_is_null(at(recent, "1.message")));
    CHECK_STR_AT(recent, "2.message", "m157");
    CHECK_STR_AT(recent, "99.message", "m60");
    CHECK(json_is_null(at(recent, "2.data")));
    CHECK_NUM(recent, "0.data.k.1", 2);
    CHECK_STR_AT(recent, "0.data.s", "a b");
    CHECK_STR_AT(recent, "0.ts", "2026-03-07T10:00:00.000Z");
    json_decref(j);

    /* raw data is re-spaced: none in compact output (but inside strings),
     * reindented in pretty output */
    buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(analysis_write(&in, 0, &b), 0);
    CHECK_EQ_INT(buf_append_char(&b, '\0'), 0);
    CHECK(strstr(b.data, "\"data\":{\"k\":[1,2],\"s\":\"a b\"}") != NULL);
    b.len = 0;
    CHECK_EQ_INT(analysis_write(&in, 1, &b), 0);
    CHECK_EQ_INT(buf_append_char(&b, '\0'), 0);
    CHECK(strstr(b.data, "\"data\": {\n          \"k\": [1, 2],\n"
                         "          \"s\": \"a b\"\n        }") != NULL);
    buf_free(&b);
}

/* ---- Whole outputs ---- */

static void test_empty(void) {
    an_input in = base_input();
    in.object.attributes = NULL;
    in.object.updated_at = 0;
    in.from = 0;
    in.to = 1000;
    buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(analysis_write(&in, 0, &b), 0);
    CHECK_EQ_INT(buf_append_char(&b, '\0'), 0);
    CHECK_EQ_STR(b.data,
                 "{\"object\":{\"id\":7,\"revision\":1,\"type\":\"sensor\","
                 "\"name\":\"s-7\",\"attributes\":{},"
                 "\"updated_at\":\"1970-01-01T00:00:00.000Z\","
                 "\"updated_by\":\"alice\"},"
                 "\"window\":{\"from\":\"1970-01-01T00:00:00.000Z\","
                 "\"to\":\"1970-01-01T00:00:00.001Z\"},"
                 "\"revisions\":{\"count_in_window\":0,"
                 "\"authors_in_window\":[],\"recent\":[]},"
                 "\"metrics\":{},"
                 "\"events\":{\"count\":0,\"by_kind\":{},\"by_severity\":{},"
                 "\"recent\":[]}}");
    b.len = 0;
    CHECK_EQ_INT(analysis_write(&in, 1, &b), 0);
    CHECK_EQ_INT(buf_append_char(&b, '\0'), 0);
    CHECK_EQ_STR(b.data, "{\n"
                         "  \"object\": {\n"
                         "    \"id\": 7,\n"
                         "    \"revision\": 1,\n"
                         "    \"type\": \"sensor\",\n"
                         "    \"name\": \"s-7\",\n"
                         "    \"attributes\": {},\n"
                         "    \"updated_at\": \"1970-01-01T00:00:00.000Z\",\n"
                         "    \"updated_by\": \"alice\"\n"
                         "  },\n"
                         "  \"window\": {\n"
                         "    \"from\": \"1970-01-01T00:00:00.000Z\",\n"
                         "    \"to\": \"1970-01-01T00:00:00.001Z\"\n"
                         "  },\n"
                         "  \"revisions\": {\n"
                         "    \"count_in_window\": 0,\n"
                         "    \"authors_in_window\": [],\n"
                         "    \"recent\": []\n"
                         "  },\n"
                         "  \"metrics\": {},\n"
                         "  \"events\": {\n"
                         "    \"count\": 0,\n"
                         "    \"by_kind\": {},\n"
                         "    \"by_severity\": {},\n"
                         "    \"recent\": []\n"
                         "  }\n"
                         "}");
    /* appends: what was in the buffer stays */
    buf_free(&b);
    buf_init(&b, 0);
    CHECK_EQ_INT(buf_append_str(&b, "x"), 0);
    CHECK_EQ_INT(analysis_write(&in, 0, &b), 0);
    CHECK(b.len > 1 && memcmp(b.data, "x{\"object\"", 10) == 0);
    buf_free(&b);
}

/* Times through object.updated_at, against gmtime_r. */
static void test_times(void) {
    static const struct {
        int64_t us;
        const char *s;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {1999, "1970-01-01T00:00:00.001Z"},
        {INT64_C(951782400000000), "2000-02-29T00:00:00.000Z"},
        {INT64_C(1709164800123456), "2024-02-29T00:00:00.123Z"},
        {INT64_C(4107542399999999), "2100-02-28T23:59:59.999Z"},
        {INT64_C(4107542400000000), "2100-03-01T00:00:00.000Z"},
        {INT64_C(-62167219200000000), "0000-01-01T00:00:00.000Z"},
        {INT64_C(253402300799999999), "9999-12-31T23:59:59.999Z"},
    };
    an_input in = base_input();
    in.from = in.to = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        in.object.updated_at = cases[i].us;
        json_t *j = analyze(&in);
        CHECK_STR_AT(j, "object.updated_at", cases[i].s);
        json_decref(j);
    }
    /* and a spread of times against libc */
    buf b;
    buf_init(&b, 0);
    int ok = 1;
    uint64_t x = 12345;
    for (int i = 0; i < 20000 && ok; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        int64_t us = (int64_t)(x >> 8) % INT64_C(253402300800000000);
        if (i & 1)
            us = -us % INT64_C(62167219200000000);
        in.object.updated_at = us;
        b.len = 0;
        ok &= analysis_write(&in, 0, &b) == 0;
        time_t t =
            (time_t)(us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000));
        int64_t ms = (us - (int64_t)t * 1000000) / 1000;
        struct tm tm;
        char want[64], got[32];
        gmtime_r(&t, &tm);
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)ms);
        const char *p = memmem(b.data, b.len, "\"updated_at\":\"", 14);
        ok &= p != NULL;
        if (p) {
            memcpy(got, p + 14, 24);
            got[24] = '\0';
            ok &= strcmp(got, want) == 0;
            if (strcmp(got, want))
                fprintf(stderr, "  %lld: %s != %s\n", (long long)us, got, want);
        }
    }
    CHECK(ok);
    buf_free(&b);
    /* outside RFC 3339's years */
    in.object.updated_at = INT64_C(253402300800000000);
    buf_init(&b, 0);
    CHECK_EQ_INT(analysis_write(&in, 0, &b), -EINVAL);
    in.object.updated_at = INT64_C(-62167219200000001);
    CHECK_EQ_INT(analysis_write(&in, 0, &b), -EINVAL);
    buf_free(&b);
}

static void test_default_window(void) {
    CHECK_EQ_INT(analysis_default_from(T0), T0 - 30 * DAY);
    CHECK_EQ_INT(analysis_default_from(INT64_MIN + 5), INT64_MIN);
}

static void test_invalid_inputs(void) {
    an_obs o[3] = {{T0, 1}, {T0 + 1, 2}, {T0 + 2, 3}};
    an_series s[2] = {{"m", o, 3}, {"n", o, 3}};
    an_event e[2] = {{T0, "k", "info", "x", NULL},
                     {T0 + 1, "k", "info", "y", NULL}};
    an_revision r[2] = {{1, T0, "a", "{}", 0}, {2, T0, "a", "{}", 0}};
    buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(buf_append_str(&b, "keep"), 0);

    an_input ok = base_input();
    ok.series = s;
    ok.nseries = 2;
    ok.events = e;
    ok.nevents = 2;
    ok.revisions = r;
    ok.nrevisions = 2;
    CHECK_EQ_INT(analysis_write(&ok, 0, &b), 0);
    b.len = 4;

#define EXPECT_EINVAL(mutation)                                                \
    do {                                                                       \
        an_input in = ok;                                                      \
        an_obs o2[3];                                                          \
        an_series s2[2];                                                       \
        an_event e2[2];                                                        \
        an_revision r2[2];                                                     \
        memcpy(o2, o, sizeof o);                                               \
        memcpy(s2, s, sizeof s);                                               \
        memcpy(e2, e, sizeof e);                                               \
        memcpy(r2, r, sizeof r);                                               \
        s2[0].obs = o2;                                                        \
        in.series = s2;                                                        \
        in.events = e2;                                                        \
        in.revisions = r2;                                                     \
        mutation;                                                              \
        CHECK_EQ_INT(analysis_write(&in, 1, &b), -EINVAL);                     \
        CHECK_EQ_INT(b.len, 4);                                                \
    } while (0)

    EXPECT_EINVAL(in.from = in.to + 1);
    EXPECT_EINVAL(o2[1].ts = o2[0].ts);     /* duplicate time */
    EXPECT_EINVAL(o2[2].ts = o2[0].ts - 1); /* unsorted */
    EXPECT_EINVAL(o2[1].value = NAN);
    EXPECT_EINVAL(o2[1].value = INFINITY);
    EXPECT_EINVAL(s2[1].metric = "m"); /* duplicate name */
    EXPECT_EINVAL(s2[1].metric = NULL);
    EXPECT_EINVAL(e2[1].ts = e2[0].ts - 1);
    EXPECT_EINVAL(e2[1].kind = NULL);
    EXPECT_EINVAL(e2[0].severity = NULL);
    EXPECT_EINVAL(e2[0].data = "{\"a\":}");
    EXPECT_EINVAL(e2[0].data = "[1,2");
    EXPECT_EINVAL(e2[0].data = "1 2");
    EXPECT_EINVAL(e2[0].data = "\"\\ud800\""); /* lone surrogate */
    EXPECT_EINVAL(e2[0].data = "\"\xff\"");    /* not UTF-8 */
    EXPECT_EINVAL(e2[0].data = "\"a\tb\"");    /* raw control */
    EXPECT_EINVAL(e2[0].data = "01");
    EXPECT_EINVAL(e2[0].data = "");
    EXPECT_EINVAL(in.object.attributes = "[1]"); /* not an object */
    EXPECT_EINVAL(in.object.attributes = "{\"a\":1}x");
    EXPECT_EINVAL(in.object.type = NULL);
    EXPECT_EINVAL(r2[1].attributes = "{\"a\"}");
    EXPECT_EINVAL(r2[0].attributes = "\"str\"");
    EXPECT_EINVAL(r2[1].revision = 1); /* not ascending */
    EXPECT_EINVAL(r2[1].author = NULL);
    EXPECT_EINVAL(in.to = INT64_C(253402300800000000));

    /* valid oddities pass */
    an_input in = ok;
    an_event e3[2];
    memcpy(e3, e, sizeof e);
    in.events = e3;
    e3[0].data = " \"\\ud83d\\ude00 \\u00e9 \xc3\xa9\" ";
    e3[1].data = "[-0.5e+10, 1E2, true, false, null, {}, [], \"\"]";
    CHECK_EQ_INT(analysis_write(&in, 1, &b), 0);

    /* nesting: jansson's limit of 2048 levels is accepted, more is not */
    char *deep = malloc(2 * 2049 + 1);
    CHECK(deep != NULL);
    if (deep) {
        for (int depth = 2048; depth <= 2049; depth++) {
            memset(deep, '[', (size_t)depth);
            memset(deep + depth, ']', (size_t)depth);
            deep[2 * depth] = '\0';
            e3[0].data = deep;
            b.len = 4;
            CHECK_EQ_INT(analysis_write(&in, 0, &b),
                         depth == 2048 ? 0 : -EINVAL);
            CHECK(depth == 2049 ||
                  memmem(b.data, b.len, deep, (size_t)(2 * depth)) != NULL);
        }
        free(deep);
    }
    buf_free(&b);
#undef EXPECT_EINVAL
}

static void test_buffer_limit(void) {
    buf b;
    buf_init(&b, 200);
    an_input in = base_input();
    CHECK_EQ_INT(buf_append_str(&b, "abc"), 0);
    CHECK_EQ_INT(analysis_write(&in, 1, &b), -ENOBUFS);
    CHECK_EQ_INT(b.len, 3);
    buf_free(&b);
}

/* ---- The checked-in example ---- */

static void test_example_file(void) {
    buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(analysis_example(1, &b), 0);
    CHECK_EQ_INT(buf_append_char(&b, '\n'), 0); /* as the program adds */
    FILE *f = fopen(example_path, "rb");
    if (f == NULL)
        fprintf(stderr, "cannot open %s\n", example_path);
    CHECK(f != NULL);
    if (f) {
        static char file[1 << 20];
        size_t n = fread(file, 1, sizeof file, f);
        fclose(f);
        CHECK_EQ_INT(n, b.len);
        CHECK(n == b.len && memcmp(file, b.data, n) == 0);
        if (n != b.len || memcmp(file, b.data, n) != 0)
            fprintf(stderr,
                    "%s differs from analysis_example's output; "
                    "regenerate it if the change is intended\n",
                    example_path);
    }
    /* its compact form is the same value */
    json_t *pj = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
    b.len = 0;
    CHECK_EQ_INT(analysis_example(0, &b), 0);
    json_t *cj = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
    CHECK(pj && cj && json_equal(pj, cj));
    CHECK_NUM(cj, "metrics.temperature.anomalies.0.value", 45.5);
    CHECK_NUM(cj, "metrics.pressure.anomalies.0.value", 990.25);
    json_decref(pj);
    json_decref(cj);
    buf_free(&b);
}

/* ---- The standard workload ---- */

static uint64_t lcg = 42;

static double uniform(void) {
    lcg = lcg * 6364136223846793005u + 1442695040888963407u;
    return (double)(lcg >> 11) / 9007199254740992.0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One object of section 4's workload: 6 metrics of 1,440 readings every
 * 30 minutes over 30 days (daily cycle, trend, noise, rare spikes), 200
 * events, 20 revisions over 90 days. */
static void test_standard_workload(void) {
    enum { METRICS = 6, READINGS = 1440, EVENTS = 200, REVISIONS = 20 };
    static an_obs obs[METRICS][READINGS];
    static an_series series[METRICS];
    static an_event events[EVENTS];
    static an_revision revs[REVISIONS];
    static char attrs[REVISIONS][96], msgs[EVENTS][32], data[EVENTS][64];
    static const char *const metric[METRICS] = {
        "temperature", "humidity", "pressure", "power", "vibration", "flow"};
    static const char *const kinds[] = {"alarm", "maintenance", "note",
                                        "config", "restart"};
    static const char *const sev[] = {"info", "warning", "critical"};
    static const char *const authors[] = {"alice", "bob", "carol", "dave"};
    const int64_t end = T0;
    const int64_t start = end - 30 * DAY;

    for (int m = 0; m < METRICS; m++) {
        double base = 10 + 50 * m, amp = 1 + m, trend = 0.05 * (m - 2);
        for (int i = 0; i < READINGS; i++) {
            double t = (double)i / 48;
            double v = base + amp * sin(2 * M_PI * t) + trend * t +
                       0.3 * (uniform() - 0.5);
            if (uniform() < 0.003)
                v += 15 * amp;
            /* off the hour, so 30 days make 30 day buckets */
            obs[m][i].ts = start + (int64_t)i * (DAY / 48) + 7 * MINUTE;
            obs[m][i].value = round(v * 1000) / 1000;
        }
        series[m].metric = metric[m];
        series[m].obs = obs[m];
        series[m].n = READINGS;
    }
    for (int i = 0; i < EVENTS; i++) {
        events[i].ts = start + (int64_t)(uniform() * 0.005 * (double)DAY) +
                       (int64_t)i * (30 * DAY / EVENTS);
        events[i].kind = kinds[i % 5];
        events[i].severity = sev[(i * 7) % 3];
        snprintf(msgs[i], sizeof msgs[i], "event number %d", i);
        events[i].message = msgs[i];
        snprintf(data[i], sizeof data[i],
                 "{\"code\":%d,\"source\":\"unit-%d\"}", i * 13 % 97, i % 4);
        events[i].data = i % 3 ? data[i] : NULL;
    }
    for (int i = 0; i < REVISIONS; i++) {
        snprintf(attrs[i], sizeof attrs[i],
                 "{\"floor\":%d,\"limits\":{\"max\":%d,\"min\":0},"
                 "\"model\":\"x-%d\",\"zone\":\"z%d\"}",
                 i / 5, 90 + i / 3, i / 7, i % 4);
        revs[i].revision = i + 1;
        revs[i].updated_at = end - 90 * DAY + (int64_t)i * (90 * DAY / 20);
        revs[i].author = authors[i % 4];
        revs[i].attributes = attrs[i];
        revs[i].deleted = 0;
    }
    an_input in = base_input();
    in.object.revision = REVISIONS;
    in.object.attributes = attrs[REVISIONS - 1];
    in.revisions = revs;
    in.nrevisions = REVISIONS;
    in.series = series;
    in.nseries = METRICS;
    in.events = events;
    in.nevents = EVENTS;
    in.to = obs[0][READINGS - 1].ts;
    in.from = analysis_default_from(in.to);

    json_t *j = analyze(&in);
    CHECK_NUM(j, "metrics.power.count", READINGS);
    CHECK_EQ_INT(size_at(j, "metrics.power.daily"), 30);
    CHECK_EQ_INT(size_at(j, "metrics.power.hourly"), 7 * 24);
    CHECK_NUM(j, "events.count", EVENTS);
    CHECK_NUM(j, "revisions.count_in_window", 6);
    size_t anomalies = 0;
    for (int m = 0; m < METRICS; m++) {
        char path[64];
        snprintf(path, sizeof path, "metrics.%s.anomalies", metric[m]);
        anomalies += size_at(j, path);
    }
    CHECK(anomalies > 0);
    json_decref(j);

    buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(analysis_write(&in, 1, &b), 0);
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    size_t pretty_bytes = b.len;
    b.len = 0;
    CHECK_EQ_INT(analysis_write(&in, 0, &b), 0);
    size_t compact_bytes = b.len;
    int no_space = 1, in_str = 0;
    for (size_t i = 0; i < b.len; i++) {
        char c = b.data[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == ' ' || c == '\n') {
            no_space = 0;
        }
    }
    CHECK(no_space);
    printf("standard workload: %zu lines pretty (%zu bytes), %zu bytes "
           "compact, %zu anomalies\n",
           lines, pretty_bytes, compact_bytes, anomalies);
    CHECK(lines > 8000 && lines < 12000);

    /* Not pass/fail: the time per analysis, for the report. */
    for (int pretty = 0; pretty <= 1; pretty++) {
        enum { RUNS = 300 };
        double best = 1e9, total = 0;
        for (int r = 0; r < RUNS; r++) {
            b.len = 0;
            double t0 = now_s();
            int rc = analysis_write(&in, pretty, &b);
            double t = now_s() - t0;
            CHECK(rc == 0 || r > 0);
            total += t;
            best = t < best ? t : best;
        }
        printf("analysis_write %s: %.1f us mean, %.1f us best (%d runs)\n",
               pretty ? "pretty " : "compact", total / RUNS * 1e6, best * 1e6,
               RUNS);
    }
    buf_free(&b);
}

int main(int argc, char **argv) {
#ifdef OBJECTD_SOURCE_DIR
    example_path = OBJECTD_SOURCE_DIR "/docs/analysis-example.json";
#endif
    if (argc > 1)
        example_path = argv[1];
    TEST_RUN(test_basic_statistics);
    TEST_RUN(test_percentiles);
    TEST_RUN(test_mean_is_compensated);
    TEST_RUN(test_single_reading);
    TEST_RUN(test_trend);
    TEST_RUN(test_extreme_values);
    TEST_RUN(test_daily_and_hourly_across_midnight);
    TEST_RUN(test_hourly_is_last_seven_days);
    TEST_RUN(test_window_limits);
    TEST_RUN(test_metrics_sorted_by_name);
    TEST_RUN(test_anomaly_spike);
    TEST_RUN(test_anomaly_cap_and_order);
    TEST_RUN(test_revisions_changed);
    TEST_RUN(test_revisions_authors_and_cap);
    TEST_RUN(test_events);
    TEST_RUN(test_event_counts);
    TEST_RUN(test_empty);
    TEST_RUN(test_times);
    TEST_RUN(test_default_window);
    TEST_RUN(test_invalid_inputs);
    TEST_RUN(test_buffer_limit);
    TEST_RUN(test_example_file);
    TEST_RUN(test_standard_workload);
    return TEST_END();
}
