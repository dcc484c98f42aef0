/* dtoa: doubles to their shortest round-trip decimal, as JavaScript
 * prints them.
 *
 * printf("%.17g") is both slow (hundreds of nanoseconds a number) and long
 * ("0.10000000000000001"); looping over precisions until strtod reads the
 * value back is slower still. dtoa_shortest finds the shortest digits
 * directly with the Schubfach algorithm (R. Giulietti, "The Schubfach way
 * to render doubles", 2020) in exact integer arithmetic, in a few tens of
 * nanoseconds, after a fast path for decimals with few fractional digits
 * (most readings and many statistics of them). */
#ifndef OBJECTD_DTOA_H
#define OBJECTD_DTOA_H

#include <stddef.h>
#include <stdint.h>

/* Room dtoa_shortest needs at |out|: the longest result is 25 bytes, e.g.
 * "-0.0000012345678901234567", plus the NUL, but the digits are written by
 * fixed-size stores that may reach up to 40 bytes in; what follows the
 * NUL is unspecified. */
enum { DTOA_BUFSIZE = 48 };

/* Writes to |out| the shortest decimal that strtod reads back as exactly
 * |v| (of two equally short ones, the nearer to |v|; of two equally near,
 * the one with an even last digit), formatted as ECMAScript's
 * Number::toString formats it: "3", "-0.25", "123.456", "1e+21",
 * "1.5e-7", "5e-324"; decimal notation for 1e-7 <= |v| < 1e21, exponent
 * notation otherwise; -0 is "0". Adds a NUL and returns the length.
 *
 * |out| needs DTOA_BUFSIZE bytes. NaN and infinities have no JSON
 * representation: for them nothing is written and 0 is returned. */
size_t dtoa_shortest(double v, char *out);

/* dtoa_shortest without its fast path for short decimals (Schubfach
 * alone): the same result, for tests to compare the two. */
size_t dtoa_shortest_general(double v, char *out);

#endif
