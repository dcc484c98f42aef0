/* hist.c: log-linear histogram (see hist.h). */
#include "hist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 2^SUB_BITS linear counters cover [0, 2^SUB_BITS); above that every
 * power of two [2^k, 2^(k+1)) gets HALF counters. */
#define SUB_BITS 11
#define SUB_COUNT (1u << SUB_BITS)
#define HALF (SUB_COUNT / 2)
#define MAX_BIT 42 /* highest bit of HIST_MAX_VALUE */
#define BUCKETS (SUB_COUNT + (size_t)(MAX_BIT - (SUB_BITS - 1)) * HALF)

size_t hist_bucket_count(void) {
    return BUCKETS;
}

int hist_init(hist *h) {
    memset(h, 0, sizeof *h);
    h->counts = calloc(BUCKETS, sizeof *h->counts);
    if (h->counts == NULL)
        return -ENOMEM;
    h->min = UINT64_MAX;
    return 0;
}

void hist_free(hist *h) {
    free(h->counts);
    h->counts = NULL;
}

void hist_reset(hist *h) {
    uint64_t *c = h->counts;
    memset(c, 0, BUCKETS * sizeof *c);
    memset(h, 0, sizeof *h);
    h->counts = c;
    h->min = UINT64_MAX;
}

static size_t bucket_of(uint64_t v) {
    unsigned msb, shift;

    if (v < SUB_COUNT)
        return (size_t)v;
    msb = 63u - (unsigned)__builtin_clzll(v);
    shift = msb - (SUB_BITS - 1); /* v >> shift is in [HALF, SUB_COUNT) */
    return SUB_COUNT + (size_t)(shift - 1) * HALF + (size_t)(v >> shift) - HALF;
}

uint64_t hist_bucket_low(size_t i) {
    size_t shift;

    if (i < SUB_COUNT)
        return i;
    shift = (i - SUB_COUNT) / HALF + 1;
    return (uint64_t)(HALF + (i - SUB_COUNT) % HALF) << shift;
}

uint64_t hist_bucket_high(size_t i) {
    size_t shift;

    if (i < SUB_COUNT)
        return i;
    shift = (i - SUB_COUNT) / HALF + 1;
    return hist_bucket_low(i) + (UINT64_C(1) << shift) - 1;
}

void hist_record(hist *h, uint64_t v) {
    if (v > HIST_MAX_VALUE) {
        v = HIST_MAX_VALUE;
        h->clamped++;
    }
    h->counts[bucket_of(v)]++;
    h->total++;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->sum += (double)v;
    h->sum_sq += (double)v * (double)v;
}

void hist_add_count(hist *h, uint64_t value, uint64_t count) {
    if (value > HIST_MAX_VALUE)
        value = HIST_MAX_VALUE;
    h->counts[bucket_of(value)] += count;
    h->total += count;
}

void hist_merge(hist *dst, const hist *src) {
    size_t i;

    if (src->total == 0)
        return;
    for (i = 0; i < BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->clamped += src->clamped;
    dst->sum += src->sum;
    dst->sum_sq += src->sum_sq;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_percentile(const hist *h, double p) {
    uint64_t target, seen = 0;
    size_t i;

    if (h->total == 0)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 100)
        return h->max;
    target = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (target == 0)
        target = 1;
    for (i = 0; i < BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= target) {
            uint64_t v = hist_bucket_high(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double hist_mean(const hist *h) {
    return h->total ? h->sum / (double)h->total : 0.0;
}

double hist_stddev(const hist *h) {
    double n = (double)h->total, var;

    if (h->total < 2)
        return 0.0;
    /* sum_sq - n*mean^2 can come out slightly negative by rounding. */
    var = (h->sum_sq - h->sum * h->sum / n) / (n - 1);
    return var > 0 ? sqrt(var) : 0.0;
}

double hist_percent_within(const hist *h, double lo, double hi) {
    uint64_t in = 0;
    size_t i;

    if (h->total == 0)
        return 0.0;
    for (i = 0; i < BUCKETS; i++) {
        double mid;
        if (h->counts[i] == 0)
            continue;
        mid = ((double)hist_bucket_low(i) + (double)hist_bucket_high(i)) / 2;
        if (mid >= lo && mid <= hi)
            in += h->counts[i];
    }
    return 100.0 * (double)in / (double)h->total;
}
