/* test.h: the smallest unit-test harness that does the job.
 *
 * A test file defines functions `static void test_xxx(void)` and lists them
 * in main() with TEST_RUN(test_xxx); main ends with `return TEST_END();`.
 * CHECK() records a failure and goes on; the process exits non-zero if any
 * check failed, and prints "N passed, N failed" (checks) last. */
#ifndef OBJECTD_TEST_H
#define OBJECTD_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int test_checks_passed __attribute__((unused)),
    test_checks_failed __attribute__((unused));
static const char *test_current __attribute__((unused)) = "";

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) {                                                            \
            test_checks_passed++;                                              \
        } else {                                                               \
            test_checks_failed++;                                              \
            fprintf(stderr, "%s:%d: %s: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, test_current, #cond);                            \
        }                                                                      \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
    do {                                                                       \
        long long test_a_ = (long long)(a), test_b_ = (long long)(b);          \
        if (test_a_ == test_b_) {                                              \
            test_checks_passed++;                                              \
        } else {                                                               \
            test_checks_failed++;                                              \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: %lld != %lld\n",      \
                    __FILE__, __LINE__, test_current, #a, #b, test_a_,         \
                    test_b_);                                                  \
        }                                                                      \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                     \
    do {                                                                       \
        const char *test_a_ = (a), *test_b_ = (b);                             \
        if (test_a_ && test_b_ && strcmp(test_a_, test_b_) == 0) {             \
            test_checks_passed++;                                              \
        } else {                                                               \
            test_checks_failed++;                                              \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: \"%s\" != \"%s\"\n",  \
                    __FILE__, __LINE__, test_current, #a, #b,                  \
                    test_a_ ? test_a_ : "(null)",                              \
                    test_b_ ? test_b_ : "(null)");                             \
        }                                                                      \
    } while (0)

#define TEST_RUN(fn)                                                           \
    do {                                                                       \
        test_current = #fn;                                                    \
        fn();                                                                  \
    } while (0)

#define TEST_END()                                                             \
    (printf("%d passed, %d failed\n", test_checks_passed, test_checks_failed), \
     test_checks_failed ? 1 : 0)

/* xorshift64*: a deterministic stream of random bits, so a failure can
 * be replayed; |state| must not be 0. */
static inline uint64_t test_rng(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1Du;
}

#endif
