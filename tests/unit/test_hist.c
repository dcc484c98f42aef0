/* test_hist.c: the latency histogram - precision, percentiles, merging,
 * clamping, and the moments behind h2load's mean/sd columns. */
#include "hist.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* |got| is within |rel| (relative) of |want|. */
static int near(double got, double want, double rel) {
    return fabs(got - want) <= rel * fabs(want) + 1e-9;
}

static void test_empty(void) {
    hist h;

    CHECK_EQ_INT(hist_init(&h), 0);
    CHECK_EQ_INT(h.total, 0);
    CHECK_EQ_INT(hist_percentile(&h, 50), 0);
    CHECK(hist_mean(&h) == 0);
    CHECK(hist_stddev(&h) == 0);
    CHECK(hist_percent_within(&h, 0, 1e9) == 0);
    hist_free(&h);
}

static void test_buckets_cover_every_value(void) {
    size_t i, n = hist_bucket_count();

    /* Buckets tile the range without gaps or overlaps, and none is wider
     * than 1/1024 of its low edge above the linear part. */
    CHECK_EQ_INT(hist_bucket_low(0), 0);
    for (i = 1; i < n; i++) {
        CHECK(hist_bucket_low(i) == hist_bucket_high(i - 1) + 1);
        if (hist_bucket_low(i) >= 2048)
            CHECK(hist_bucket_high(i) - hist_bucket_low(i) + 1 <=
                  hist_bucket_low(i) / 1024);
        if (test_checks_failed)
            break;
    }
    CHECK(hist_bucket_high(n - 1) == HIST_MAX_VALUE);
    /* Fixed memory: well under a megabyte. */
    CHECK(n * sizeof(uint64_t) < 300 * 1024);
}

static void test_uniform_percentiles(void) {
    hist h;
    uint64_t v;

    hist_init(&h);
    /* 1..100000 us in ns: pXX is XX% of the max, to 3 digits. */
    for (v = 1; v <= 100000; v++)
        hist_record(&h, v * 1000);
    CHECK_EQ_INT(h.total, 100000);
    CHECK_EQ_INT(h.min, 1000);
    CHECK_EQ_INT(h.max, 100000000);
    CHECK(near((double)hist_percentile(&h, 50), 50e6, 1e-3));
    CHECK(near((double)hist_percentile(&h, 75), 75e6, 1e-3));
    CHECK(near((double)hist_percentile(&h, 90), 90e6, 1e-3));
    CHECK(near((double)hist_percentile(&h, 99), 99e6, 1e-3));
    CHECK(near((double)hist_percentile(&h, 99.9), 99.9e6, 1e-3));
    CHECK_EQ_INT(hist_percentile(&h, 100), 100000000);
    /* Mean and sd are exact sums, not bucketed. */
    CHECK(near(hist_mean(&h), 50000.5e3, 1e-9));
    CHECK(near(hist_stddev(&h), 28867.66e3, 1e-5));
    /* One sd either side of the mean of a uniform: 57.7%. */
    CHECK(near(hist_percent_within(&h, hist_mean(&h) - hist_stddev(&h),
                                   hist_mean(&h) + hist_stddev(&h)),
               57.735, 1e-3));
    hist_free(&h);
}

static void test_small_values_exact(void) {
    hist h;

    hist_init(&h);
    hist_record(&h, 7);
    hist_record(&h, 7);
    hist_record(&h, 2047);
    CHECK_EQ_INT(hist_percentile(&h, 50), 7);
    CHECK_EQ_INT(hist_percentile(&h, 66), 7);
    CHECK_EQ_INT(hist_percentile(&h, 67), 2047);
    hist_free(&h);
}

static void test_merge_equals_single(void) {
    hist a, b, all;
    uint64_t i, x = 88172645463325252ull;

    hist_init(&a);
    hist_init(&b);
    hist_init(&all);
    for (i = 0; i < 50000; i++) {
        uint64_t v;
        /* xorshift: a spread of magnitudes from ns to seconds */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v = x % 2000000000ull >> (x % 20);
        hist_record(i % 3 ? &a : &b, v);
        hist_record(&all, v);
    }
    hist_merge(&a, &b);
    CHECK_EQ_INT(a.total, all.total);
    CHECK_EQ_INT(a.min, all.min);
    CHECK_EQ_INT(a.max, all.max);
    CHECK(memcmp(a.counts, all.counts,
                 hist_bucket_count() * sizeof(uint64_t)) == 0);
    CHECK_EQ_INT(hist_percentile(&a, 99), hist_percentile(&all, 99));
    CHECK(near(hist_mean(&a), hist_mean(&all), 1e-9));
    hist_reset(&a);
    CHECK_EQ_INT(a.total, 0);
    CHECK_EQ_INT(hist_percentile(&a, 99), 0);
    hist_free(&a);
    hist_free(&b);
    hist_free(&all);
}

static void test_clamp(void) {
    hist h;

    hist_init(&h);
    hist_record(&h, UINT64_MAX);
    hist_record(&h, 5);
    CHECK_EQ_INT(h.clamped, 1);
    CHECK(hist_percentile(&h, 100) == HIST_MAX_VALUE);
    CHECK_EQ_INT(hist_percentile(&h, 50), 5);
    hist_free(&h);
}

static void test_rebuild_from_buckets(void) {
    hist a, b;
    size_t i;
    uint64_t v;

    hist_init(&a);
    hist_init(&b);
    for (v = 1; v < 5000000; v = v * 3 + 7)
        hist_record(&a, v);
    /* What --json exports and --merge reads back. */
    for (i = 0; i < hist_bucket_count(); i++)
        if (a.counts[i] != 0)
            hist_add_count(&b, hist_bucket_low(i), a.counts[i]);
    CHECK_EQ_INT(b.total, a.total);
    CHECK(memcmp(a.counts, b.counts, hist_bucket_count() * sizeof(uint64_t)) ==
          0);
    hist_free(&a);
    hist_free(&b);
}

int main(void) {
    TEST_RUN(test_empty);
    TEST_RUN(test_buckets_cover_every_value);
    TEST_RUN(test_uniform_percentiles);
    TEST_RUN(test_small_values_exact);
    TEST_RUN(test_merge_equals_single);
    TEST_RUN(test_clamp);
    TEST_RUN(test_rebuild_from_buckets);
    return TEST_END();
}
