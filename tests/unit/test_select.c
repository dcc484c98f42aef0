/* Tests for select_kth and select_ranks: every rank of arrays of many
 * shapes (random, sorted, reversed, organ pipe, few distinct values, all
 * equal, signed zeros, the sizes around the short-range and sampling
 * thresholds) against a full sort, checking the value, the partition
 * around it and that the array is still a permutation of its input;
 * then the analysis's three percentiles on standard-workload-like
 * metrics, timed against qsort. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "select.h"
#include "test.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static uint64_t rng(void) {
    return test_rng(&rng_state);
}

static double uniform(void) {
    return (double)(rng() >> 11) / 9007199254740992.0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Total order on the bits as well, so that the multiset check below
 * tells -0 from 0. */
static int cmp_bits(const void *a, const void *b) {
    int c = cmp_double(a, b);
    if (c)
        return c;
    return (int)signbit(*(const double *)b) - (int)signbit(*(const double *)a);
}

enum shape {
    RANDOM,
    SORTED,
    REVERSED,
    ORGAN_PIPE,
    FEW_DISTINCT, /* like a metric rounded to two decimals: ~48 values */
    TWO_VALUES,
    ALL_EQUAL,
    ZEROS, /* -0 and 0 mixed, with a few others */
    SAWTOOTH,
    SHAPES
};

static const char *const shape_names[SHAPES] = {
    "random",     "sorted",    "reversed", "organ pipe", "few distinct",
    "two values", "all equal", "zeros",    "sawtooth"};

static void fill(double *a, size_t n, enum shape s) {
    for (size_t i = 0; i < n; i++) {
        switch (s) {
        case RANDOM:
            a[i] = uniform() * 2000 - 1000;
            break;
        case SORTED:
            a[i] = (double)i * 0.5;
            break;
        case REVERSED:
            a[i] = (double)(n - i);
            break;
        case ORGAN_PIPE:
            a[i] = (double)(i < n / 2 ? i : n - i);
            break;
        case FEW_DISTINCT:
            a[i] = 2.2 + (double)(rng() % 48) / 100;
            break;
        case TWO_VALUES:
            a[i] = rng() % 2 ? 1.5 : -1.5;
            break;
        case ALL_EQUAL:
            a[i] = 7;
            break;
        case ZEROS:
            a[i] = rng() % 5 == 0 ? (double)(rng() % 3) - 1
                   : rng() % 2    ? -0.0
                                  : 0.0;
            break;
        default: /* SAWTOOTH */
            a[i] = (double)(i % 17);
            break;
        }
    }
}

/* Checks that |a| (after selecting rank |k|) holds the k-th smallest at
 * a[k], nothing greater before, nothing smaller after, and is a
 * permutation of |orig|. */
static int check_rank(const double *a, const double *sorted, const double *orig,
                      size_t n, size_t k, double *tmp) {
    if (a[k] != sorted[k])
        return 0;
    for (size_t i = 0; i < k; i++)
        if (a[i] > a[k])
            return 0;
    for (size_t i = k + 1; i < n; i++)
        if (a[i] < a[k])
            return 0;
    memcpy(tmp, a, n * sizeof *a);
    qsort(tmp, n, sizeof *tmp, cmp_bits);
    double *o = tmp + n;
    memcpy(o, orig, n * sizeof *a);
    qsort(o, n, sizeof *o, cmp_bits);
    return memcmp(tmp, o, n * sizeof *a) == 0;
}

static void test_every_rank(void) {
    static const size_t sizes[] = {1,  2,  3,   5,   23,  24,  25,  26,
                                   50, 97, 127, 128, 129, 300, 1440};
    static double a[1440], orig[1440], sorted[1440], tmp[2 * 1440];
    size_t bad = 0, runs = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t n = sizes[si];
        for (int s = 0; s < SHAPES; s++) {
            fill(orig, n, (enum shape)s);
            memcpy(sorted, orig, n * sizeof *a);
            qsort(sorted, n, sizeof *sorted, cmp_double);
            /* Every rank for the small sizes, a spread for the rest. */
            size_t step = n <= 300 ? 1 : 7;
            for (size_t k = 0; k < n; k += step) {
                memcpy(a, orig, n * sizeof *a);
                select_kth(a, n, k);
                runs++;
                if (!check_rank(a, sorted, orig, n, k, tmp)) {
                    if (bad++ < 5)
                        fprintf(stderr, "select_kth: %s n=%zu k=%zu wrong\n",
                                shape_names[s], n, k);
                }
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(runs > 10000);
}

/* Three ranks in one call, as the analysis asks: each must hold, on
 * random sizes and shapes. */
static void test_ranks(void) {
    static double a[5000], orig[5000], sorted[5000];
    size_t bad = 0;
    for (int t = 0; t < 3000; t++) {
        size_t n = 1 + (size_t)(rng() % 5000);
        enum shape s = (enum shape)(rng() % SHAPES);
        fill(orig, n, s);
        memcpy(sorted, orig, n * sizeof *a);
        qsort(sorted, n, sizeof *sorted, cmp_double);
        size_t k[3] = {(50 * n + 99) / 100 - 1, (90 * n + 99) / 100 - 1,
                       (99 * n + 99) / 100 - 1};
        memcpy(a, orig, n * sizeof *a);
        select_ranks(a, n, k, 3);
        for (int i = 0; i < 3; i++) {
            if (a[k[i]] != sorted[k[i]] && bad++ < 5)
                fprintf(stderr, "select_ranks: %s n=%zu rank %zu wrong\n",
                        shape_names[s], n, k[i]);
        }
    }
    CHECK_EQ_INT(bad, 0);
}

/* Small and large values interleaved, so that evenly spaced samples see
 * a skewed picture. */
static void test_adversarial(void) {
    enum { N = 4096 };
    static double a[N], sorted[N];
    for (size_t i = 0; i < N; i++)
        a[i] = (double)(i % 2 ? i : N - i);
    memcpy(sorted, a, sizeof a);
    qsort(sorted, N, sizeof *sorted, cmp_double);
    for (size_t k = 0; k < N; k += 409) {
        double b[N];
        memcpy(b, a, sizeof a);
        select_kth(b, N, k);
        CHECK(b[k] == sorted[k]);
    }
}

/* The analysis's percentiles of six metrics of 1,440 readings rounded to
 * two decimals (as the standard workload's): selection against sorting. */
static void test_speed(void) {
    enum { N = 1440, METRICS = 6, ROUNDS = 200 };
    static double m[METRICS][N], a[N];
    static const double level[METRICS] = {42, 45, 310, 2.4, 21.5, 0.8},
                        amp[METRICS] = {6, 10, 80, 0.15, 3.5, 0.2},
                        noise[METRICS] = {1.2, 2, 9, 0.03, 0.4, 0.05};
    for (int j = 0; j < METRICS; j++)
        for (size_t i = 0; i < N; i++)
            m[j][i] = round((level[j] + amp[j] * sin((double)i / 7.64) +
                             noise[j] * (uniform() - 0.5) * 3) *
                            100) /
                      100;
    size_t k[3] = {719, 1295, 1425};
    double got[METRICS][3], want[METRICS][3];
    double t0 = now_s();
    for (int r = 0; r < ROUNDS; r++) {
        for (int j = 0; j < METRICS; j++) {
            memcpy(a, m[j], sizeof a);
            select_ranks(a, N, k, 3);
            for (int i = 0; i < 3; i++)
                got[j][i] = a[k[i]];
        }
    }
    double t1 = now_s();
    for (int r = 0; r < ROUNDS; r++) {
        for (int j = 0; j < METRICS; j++) {
            memcpy(a, m[j], sizeof a);
            qsort(a, N, sizeof *a, cmp_double);
            for (int i = 0; i < 3; i++)
                want[j][i] = a[k[i]];
        }
    }
    double t2 = now_s();
    CHECK(memcmp(got, want, sizeof got) == 0);
    printf("percentiles of a 1,440-reading metric: select_ranks %.1f us, "
           "qsort %.1f us\n",
           (t1 - t0) * 1e6 / (ROUNDS * METRICS),
           (t2 - t1) * 1e6 / (ROUNDS * METRICS));
}

int main(void) {
    TEST_RUN(test_every_rank);
    TEST_RUN(test_ranks);
    TEST_RUN(test_adversarial);
    TEST_RUN(test_speed);
    return TEST_END();
}
