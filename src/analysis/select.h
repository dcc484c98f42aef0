/* select: order statistics of an array of doubles, for the analysis's
 * nearest-rank percentiles.
 *
 * The values must be finite (the analysis checks them first): with no NaN
 * every comparison is a total order and the partitions need no care for
 * unordered pairs. -0 and 0 compare equal, so either may be the answer
 * where both are present; the analysis writes both as "0". */
#ifndef OBJECTD_SELECT_H
#define OBJECTD_SELECT_H

#include <stddef.h>

/* Moves the |k|-th smallest of a[0..n) (k from 0, k < n) to a[k], with
 * nothing greater before it and nothing smaller after it. Linear on
 * average whatever the duplicates; never worse than n log n. */
void select_kth(double *a, size_t n, size_t k);

/* select_kth for the ranks k[0] <= k[1] <= ... <= k[nk - 1] (all < n):
 * afterwards a[k[i]] is the k[i]-th smallest for every i. Each rank is
 * selected in the part above the one before, so three percentiles cost
 * about as much as the lowest one alone. */
void select_ranks(double *a, size_t n, const size_t *k, size_t nk);

#endif
