/* hist: an HDR-style latency histogram - fixed memory, about three
 * significant digits, mergeable across threads.
 *
 * Values (nanoseconds, or any unsigned count) are bucketed log-linearly:
 * below 2048 every value has its own counter; above, each power of two is
 * split into 1024 equal sub-buckets, so a bucket is at most 1/1024 (< 0.1%)
 * of its values wide. Values above HIST_MAX_VALUE are clamped to it (and
 * counted in |clamped|). The whole histogram is one allocation of about
 * 280 KB, made by hist_init; nothing is allocated while recording. */
#ifndef OBJECTD_HIST_H
#define OBJECTD_HIST_H

#include <stddef.h>
#include <stdint.h>

/* 2^43 - 1 ns is about 2.4 hours. */
#define HIST_MAX_VALUE ((UINT64_C(1) << 43) - 1)

typedef struct hist {
    uint64_t *counts; /* hist_bucket_count() counters */
    uint64_t total;   /* values recorded */
    uint64_t min;     /* exact; UINT64_MAX when empty */
    uint64_t max;     /* exact; 0 when empty */
    uint64_t clamped; /* values that were above HIST_MAX_VALUE */
    double sum;       /* of the recorded (clamped) values, for the mean */
    double sum_sq;    /* of their squares, for the standard deviation */
} hist;

/* 0 or -ENOMEM. hist_free releases the counters. */
int hist_init(hist *h);
void hist_free(hist *h);
void hist_reset(hist *h);

/* Number of counters; the index space of hist_bucket_*. */
size_t hist_bucket_count(void);

void hist_record(hist *h, uint64_t value);

/* Adds |count| values to the bucket of |value| (and to total) without
 * touching min, max or the sums: for rebuilding a histogram from its
 * exported buckets, whose caller sets those from the export. */
void hist_add_count(hist *h, uint64_t value, uint64_t count);

/* Adds every count of |src| to |dst| (both initialised). */
void hist_merge(hist *dst, const hist *src);

/* The value at percentile |p| (0..100]: the highest value equivalent to the
 * bucket where the cumulative count reaches ceil(p/100 * total), capped at
 * the exact max. 0 when empty. */
uint64_t hist_percentile(const hist *h, double p);

double hist_mean(const hist *h);
/* Sample standard deviation (n - 1 in the denominator), 0 below 2 values. */
double hist_stddev(const hist *h);

/* Percentage of the recorded values within [lo, hi], counting a bucket as
 * inside when its midpoint is. 0 when empty. */
double hist_percent_within(const hist *h, double lo, double hi);

/* Lowest and highest value that fall in bucket |i|. */
uint64_t hist_bucket_low(size_t i);
uint64_t hist_bucket_high(size_t i);

#endif
