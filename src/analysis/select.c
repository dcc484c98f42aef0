/* select: quickselect with branch-free three-way partitions.
 *
 * The readings' values come in no useful order and, rounded to two
 * decimals as sensors report them, with many duplicates (48 distinct
 * values in a month of 1,440 readings is usual). A classic Hoare
 * partition branches on every comparison, and the branch is a coin flip:
 * half the comparisons were mispredicted, which made selection an eighth
 * of a cold analysis. Here each partition is a loop whose only branch is
 * the loop's own: every element is swapped unconditionally and the
 * boundary advances by the comparison's 0 or 1. A second pass over the
 * upper part gathers the values equal to the pivot, so a run of
 * duplicates is settled at once instead of being partitioned again and
 * again. */
#include "select.h"

#include <stdlib.h>

enum {
    /* Ranges this short are finished by insertion sort. */
    SHORT_RANGE = 24,
    /* From this size on, the pivot comes from a sample of 9, not 3. */
    SAMPLE_FROM = 128,
};

static void insertion_sort(double *a, size_t n) {
    for (size_t i = 1; i < n; i++) {
        double x = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] > x; j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Moves the values of a[lo..hi) that are below |p| (or, with
 * |take_equal|, not above it) to its front; returns where the rest begin.
 * Every step swaps a[i] with the first value not yet taken and advances
 * by the comparison's 0 or 1: no data-dependent branch. (Inlined with a
 * constant |take_equal|, so the loop has one comparison.) */
static inline size_t partition(double *a, size_t lo, size_t hi, double p,
                               int take_equal) {
    size_t s = lo;
    for (size_t i = lo; i < hi; i++) {
        double x = a[i];
        a[i] = a[s];
        a[s] = x;
        s += take_equal ? !(p < x) : x < p;
    }
    return s;
}

/* A value of a[lo..hi) (hi - lo > SHORT_RANGE) near the rank |k|: of a
 * sample spread evenly over the range (3 values, or 9 for larger ranges),
 * sorted, the one at k's relative position - but never the sample's
 * smallest or largest, which would leave nearly the whole range on one
 * side. For the median this is the usual median of three or of nine; for
 * the 90th and 99th percentiles, selected above the median, it lands
 * nearer its target than the middle would (measured on the standard
 * workload: 3.8 element visits per reading for the three percentiles,
 * against 4.2 with the middle). */
static double pivot_near(const double *a, size_t lo, size_t hi, size_t k) {
    double t[9];
    size_t n = hi - lo, ns = n >= SAMPLE_FROM ? 9 : 3;
    for (size_t i = 0; i < ns; i++)
        t[i] = a[lo + i * (n - 1) / (ns - 1)];
    insertion_sort(t, ns);
    size_t j = 1 + ((k - lo) * (ns - 2) + n / 2) / n;
    return t[j < ns - 2 ? j : ns - 2];
}

void select_kth(double *a, size_t n, size_t k) {
    size_t lo = 0, hi = n; /* k is in [lo, hi) */
    /* Adversarial input can defeat any sampled pivot; after 2 log2(n)
     * rounds the rest is sorted instead, so never worse than n log n. */
    int rounds = 0;
    for (size_t m = n; m > 1; m >>= 1)
        rounds += 2;
    while (hi - lo > SHORT_RANGE) {
        if (rounds-- == 0) {
            qsort(a + lo, hi - lo, sizeof *a, cmp_double);
            return;
        }
        double p = pivot_near(a, lo, hi, k);
        size_t below = partition(a, lo, hi, p, 0);
        if (k < below) {
            hi = below;
            continue;
        }
        /* p is one of the range's values, so at least one equals it and
         * both sides shrink. */
        size_t equal_end = partition(a, below, hi, p, 1);
        if (k < equal_end)
            return; /* a[k] == p */
        lo = equal_end;
    }
    insertion_sort(a + lo, hi - lo);
}

void select_ranks(double *a, size_t n, const size_t *k, size_t nk) {
    size_t base = 0;
    for (size_t i = 0; i < nk; i++) {
        select_kth(a + base, n - base, k[i] - base);
        base = k[i];
    }
}
