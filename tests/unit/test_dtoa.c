/* Tests for dtoa_shortest: JavaScript's formatting rules on a table of
 * exact strings, then a property test over two million doubles (every
 * result reads back exactly, and no decimal with fewer digits, nor a nearer
 * one with as many, does), then its speed against snprintf. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dtoa.h"
#include "test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void) {
    return test_rng(&rng_state);
}

static double from_bits(uint64_t b) {
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static uint64_t to_bits(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Expected strings as node's String(x) prints them. */
static void test_js_format(void) {
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-1, "-1"},
        {3, "3"},
        {100, "100"},
        {0.1, "0.1"},
        {-0.25, "-0.25"},
        {0.5, "0.5"},
        {1.5, "1.5"},
        {12.5, "12.5"},
        {4.35, "4.35"},
        {0.3, "0.3"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3, "0.3333333333333333"},
        {2.0 / 3, "0.6666666666666666"},
        {123.456, "123.456"},
        {299792458, "299792458"},
        {4294967296.0, "4294967296"},
        {1e15, "1000000000000000"},
        {1e16, "10000000000000000"},
        {1e17, "100000000000000000"},
        {9007199254740992.0, "9007199254740992"},
        {9007199254740994.0, "9007199254740994"},
        {18014398509481984.0, "18014398509481984"},
        {9223372036854775808.0, "9223372036854776000"},
        {18446744073709551616.0, "18446744073709552000"},
        {987654321000000.0, "987654321000000"},
        /* the switch to exponent notation at 1e21 */
        {1e20, "100000000000000000000"},
        {123456789012345680000.0, "123456789012345680000"},
        {1e21, "1e+21"},
        {1e22, "1e+22"},
        {1e23, "1e+23"},
        {9.999999999999999e22, "1e+23"},
        {6.02214076e23, "6.02214076e+23"},
        {1e300, "1e+300"},
        {-1.5e300, "-1.5e+300"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {1.7976931348623155e308, "1.7976931348623155e+308"},
        /* and at 1e-7 */
        {0.00001, "0.00001"},
        {0.000123, "0.000123"},
        {1e-6, "0.000001"},
        {1.234e-6, "0.000001234"},
        {9.999999999999999e-7, "0.000001"},
        {1e-7, "1e-7"},
        {1.5e-7, "1.5e-7"},
        {5e-7, "5e-7"},
        {1.2345678901234567e-7, "1.2345678901234566e-7"},
        {1e-10, "1e-10"},
        {123e-20, "1.23e-18"},
        {1.602176634e-19, "1.602176634e-19"},
        {1e-300, "1e-300"},
        /* the smallest normals and the subnormals */
        {DBL_MIN, "2.2250738585072014e-308"},
        {2.225073858507201e-308, "2.225073858507201e-308"},
        {5e-324, "5e-324"},
        {1e-323, "1e-323"},
        {1.5e-323, "1.5e-323"},
        {2.5e-323, "2.5e-323"},
        {1.4142135623730951, "1.4142135623730951"},
        {3.141592653589793, "3.141592653589793"},
        {2.718281828459045, "2.718281828459045"},
        {-0.6931471805599453, "-0.6931471805599453"},
    };
    char out[DTOA_BUFSIZE];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = dtoa_shortest(cases[i].v, out);
        CHECK_EQ_STR(out, cases[i].s);
        CHECK_EQ_INT(n, strlen(cases[i].s));
    }
    CHECK_EQ_INT(dtoa_shortest(NAN, out), 0);
    CHECK_EQ_INT(dtoa_shortest(INFINITY, out), 0);
    CHECK_EQ_INT(dtoa_shortest(-INFINITY, out), 0);
}

/* The significant digits of a dtoa result, without leading or trailing
 * zeros; returns their count. */
static int sig_digits(const char *s, char *d) {
    int n = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (n == 0 && *s == '0')
            continue;
        d[n++] = *s;
    }
    while (n > 0 && d[n - 1] == '0')
        n--;
    d[n] = '\0';
    return n;
}

static int reads_back(const char *s, double v) {
    return to_bits(strtod(s, NULL)) == to_bits(v);
}

/* Counts, to report what the property test covered. */
static long prop_checked, prop_brute, prop_shorter_than_printf;
static int prop_failures_shown;

/* One value: round-trip; no decimal with fewer digits reads back; of the
 * decimals with as many digits, ours is the nearest (printf's %.*e rounds
 * correctly, so when its rounding reads back it must equal ours). With
 * |brute|, also the brief's literal check: the shortest %.{0..16}e that
 * reads back has exactly our digit count. */
static void check_value(double v, int brute) {
    char s[DTOA_BUFSIZE], d[24], t[64];
    int ok = 1;
    prop_checked++;
    size_t len = dtoa_shortest(v, s);
    if (len == 0 || len != strlen(s) || len >= DTOA_BUFSIZE)
        ok = 0;
    double back = strtod(s, NULL);
    if (v == 0 ? back != 0 : to_bits(back) != to_bits(v))
        ok = 0;
    int nd = sig_digits(s, d);
    if (v != 0 && nd >= 2) {
        /* Every (nd-1)-digit decimal in the rounding interval would be one
         * of the two around v, which are printf's nearest or a neighbour. */
        snprintf(t, sizeof t, "%.*e", nd - 2, fabs(v));
        char m[24];
        int mn = 0;
        const char *p = t;
        for (; *p != 'e'; p++)
            if (*p != '.')
                m[mn++] = *p;
        m[mn] = '\0';
        long long mant = atoll(m);
        int ex = atoi(p + 1) - (mn - 1);
        for (int delta = -1; delta <= 1; delta++) {
            char c[64];
            snprintf(c, sizeof c, "%llde%d", mant + delta, ex);
            if (reads_back(c, fabs(v)))
                ok = 0;
        }
    }
    if (v != 0) {
        snprintf(t, sizeof t, "%.*e", nd - 1, fabs(v));
        if (reads_back(t, fabs(v))) {
            char pd[24];
            if (sig_digits(t, pd) != nd || strcmp(pd, d) != 0)
                ok = 0;
        }
    }
    if (brute && v != 0) {
        prop_brute++;
        int min = 17;
        for (int prec = 0; prec < 17; prec++) {
            snprintf(t, sizeof t, "%.*e", prec, v);
            if (reads_back(t, v)) {
                min = prec + 1;
                break;
            }
        }
        /* printf's nearest can miss at a power of two, where the interval
         * is lopsided and a farther decimal on the wide side reads back;
         * the check above has already shown nothing shorter exists. */
        uint64_t frac = to_bits(v) & (((uint64_t)1 << 52) - 1);
        if (nd < min && frac == 0)
            prop_shorter_than_printf++;
        else if (nd != min)
            ok = 0;
    }
    CHECK(ok);
    if (!ok && prop_failures_shown++ < 20)
        fprintf(stderr, "  value %a (%.17g) -> \"%s\"\n", v, v, s);
}

static void test_property(void) {
    long n = 0;
    /* 1: random bit patterns: every exponent equally likely. */
    for (int i = 0; i < 1100000; i++) {
        double v = from_bits(rng());
        if (isfinite(v)) {
            check_value(v, (i & 7) == 0);
            n++;
        }
    }
    /* 2: "nice" decimals, as people and sensors write them. */
    for (int i = 0; i < 400000; i++, n++) {
        char s[64];
        long long m = (long long)(rng() % 100000000);
        int digits = (int)(rng() % 9);
        static const long long p10[] = {
            1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
        m %= p10[digits];
        int e = (int)(rng() % 60) - 35;
        snprintf(s, sizeof s, "%s%llde%d", rng() & 1 ? "-" : "", m, e);
        check_value(strtod(s, NULL), (i & 7) == 0);
    }
    /* 3: near every power of ten: the nearest double and its neighbours. */
    for (int e = -323; e <= 308; e++) {
        char s[16];
        snprintf(s, sizeof s, "1e%d", e);
        double v = strtod(s, NULL);
        double lo = v, hi = v;
        for (int k = 0; k < 40; k++, n += 2) {
            check_value(lo, 1);
            check_value(hi, 1);
            lo = nextafter(lo, 0);
            hi = nextafter(hi, INFINITY);
        }
    }
    /* 4: every power of two (lopsided intervals) and its neighbours. */
    for (int e = -1074; e <= 1023; e++) {
        double v = ldexp(1.0, e);
        check_value(v, 1);
        check_value(nextafter(v, 0), 1);
        check_value(nextafter(v, INFINITY), 1);
        n += 3;
    }
    /* 5: subnormals: the smallest ones one by one, then random ones. */
    for (uint64_t t = 1; t <= 100000; t++, n++)
        check_value(from_bits(t), (t & 7) == 0);
    for (int i = 0; i < 200000; i++, n++)
        check_value(from_bits(rng() & (((uint64_t)1 << 52) - 1)), 0);
    /* 6: integers, and the limits. */
    for (int i = 0; i < 150000; i++, n++) {
        uint64_t x = rng() >> (rng() % 64);
        check_value((double)x, (i & 7) == 0);
    }
    const double limits[] = {DBL_MAX,
                             -DBL_MAX,
                             DBL_MIN,
                             -DBL_MIN,
                             DBL_TRUE_MIN,
                             5e-324,
                             DBL_EPSILON,
                             1.0,
                             nextafter(DBL_MIN, 0),
                             nextafter(DBL_MAX, 0)};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++, n++)
        check_value(limits[i], 1);
    printf("property: %ld values (%ld with the brute-force printf search; "
           "%ld shorter than printf's nearest at a power of two)\n",
           prop_checked, prop_brute, prop_shorter_than_printf);
    CHECK(prop_checked >= 2000000);
    CHECK_EQ_INT(prop_checked, n);
}

/* The fast path for short decimals against the general path (Schubfach
 * alone), byte for byte: values it takes and values at its edges. */
static long fast_compared, fast_differ;

static void compare_paths(double v) {
    char a[DTOA_BUFSIZE], b[DTOA_BUFSIZE];
    size_t na = dtoa_shortest(v, a), nb = dtoa_shortest_general(v, b);
    fast_compared++;
    if (na != nb || strcmp(a, b) != 0) {
        if (fast_differ++ < 20)
            fprintf(stderr, "  value %a (%.17g): fast \"%s\", general \"%s\"\n",
                    v, v, a, b);
    }
}

/* |v| and its two neighbours, both signs. */
static void compare_around(double v) {
    double lo = nextafter(v, 0), hi = nextafter(v, INFINITY);
    compare_paths(v);
    compare_paths(-v);
    compare_paths(lo);
    compare_paths(hi);
}

static void test_fast_path(void) {
    /* 1: decimals with 0-10 fractional digits and up to 15 significant
     * ones, written as strtod reads them (the correctly rounded double),
     * and their neighbours; most take the fast path, some are just
     * beyond it. */
    for (int i = 0; i < 600000; i++) {
        char s[64];
        int sig = 1 + (int)(rng() % 15), frac = (int)(rng() % 11);
        uint64_t m = rng() % 1000000000000000; /* < 10^15 */
        for (int d = 15; d > sig; d--)
            m /= 10;
        snprintf(s, sizeof s, "%llue-%d", (unsigned long long)m, frac);
        compare_around(strtod(s, NULL));
    }
    /* 2: sensor-like readings and what the analysis computes from them:
     * sums, means of two and of many, differences - short or not. */
    for (int i = 0; i < 300000; i++) {
        double a = (double)(rng() % 100000) / 100,
               b = (double)(rng() % 100000) / 100;
        compare_paths(a);
        compare_paths((a + b) / 2);
        compare_paths(a + b);
        compare_paths(a - b);
        compare_paths((a + b + a) / 3);
        compare_paths(a * 0.001);
    }
    /* 3: around the fast path's bound 2^50 / 10^6 and the powers of ten
     * and of two it covers, 0.1 + 0.2, integers near 2^53, and the
     * smallest values (the fast path must leave them alone). */
    double bound = 0x1p50 / 1e6, v = bound;
    for (int k = 0; k < 2000; k++, v = nextafter(v, 0))
        compare_paths(v);
    v = bound;
    for (int k = 0; k < 2000; k++, v = nextafter(v, INFINITY))
        compare_paths(v);
    for (int e = -12; e <= 12; e++) {
        double x = pow(10, e);
        for (int k = 0; k < 200; k++, x = nextafter(x, INFINITY))
            compare_around(x);
    }
    for (int e = -60; e <= 60; e++)
        compare_around(ldexp(1.0, e));
    compare_around(0.1 + 0.2);
    compare_around(0.3);
    compare_around(1.0 / 3);
    for (int k = -100; k <= 100; k++)
        compare_around(0x1p53 + 2 * k);
    compare_paths(0.0);
    compare_paths(-0.0);
    for (uint64_t t = 1; t <= 2000; t++)
        compare_paths(from_bits(t));
    compare_paths(DBL_MIN);
    compare_paths(DBL_MAX);
    /* 4: random bit patterns (the fast path almost never applies). */
    for (int i = 0; i < 500000; i++) {
        double x = from_bits(rng());
        if (isfinite(x))
            compare_paths(x);
    }
    printf("fast path: %ld values compared with the general path\n",
           fast_compared);
    CHECK(fast_compared > 4000000);
    CHECK_EQ_INT(fast_differ, 0);
}

/* Not a pass/fail test: how much faster than printf, for the report. */
static void test_speed(void) {
    enum { N = 1000000 };
    double *v = malloc(N * sizeof *v);
    CHECK(v != NULL);
    if (v == NULL)
        return;
    char out[DTOA_BUFSIZE];
    const char *names[] = {"random doubles", "readings like 21.37"};
    for (int kind = 0; kind < 2; kind++) {
        for (int i = 0; i < N; i++) {
            if (kind == 0) {
                do
                    v[i] = from_bits(rng());
                while (!isfinite(v[i]));
            } else {
                v[i] = (double)(rng() % 100000) / 100;
            }
        }
        size_t total = 0;
        double t0 = now_s();
        for (int i = 0; i < N; i++)
            total += dtoa_shortest(v[i], out);
        double t1 = now_s();
        for (int i = 0; i < N; i++)
            total += dtoa_shortest_general(v[i], out);
        double t2 = now_s();
        for (int i = 0; i < N; i++)
            total += (size_t)snprintf(out, sizeof out, "%.17g", v[i]);
        double t3 = now_s();
        printf("speed, %s: dtoa_shortest %.1f ns/number (without the fast "
               "path %.1f), snprintf %%.17g %.1f ns/number (%zu bytes)\n",
               names[kind], (t1 - t0) * 1e9 / N, (t2 - t1) * 1e9 / N,
               (t3 - t2) * 1e9 / N, total);
        CHECK(total > 0);
    }
    free(v);
}

int main(void) {
    TEST_RUN(test_js_format);
    TEST_RUN(test_property);
    TEST_RUN(test_fast_path);
    TEST_RUN(test_speed);
    return TEST_END();
}
