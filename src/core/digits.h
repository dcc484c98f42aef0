/* digits: the pieces every decimal writer in objectd shares - the digit
 * count of an integer, 8 digits at once in one 64-bit word, and the table
 * of two-digit pairs (fmt_u64 and fmt_u32_fixed9 in buf.c, the shortest
 * doubles in dtoa.c, dates and times in analysis.c). */
#ifndef OBJECTD_DIGITS_H
#define OBJECTD_DIGITS_H

#include <stdint.h>
#include <string.h>

/* "00" "01" ... "99". */
extern const char digit_pairs[200];
/* 10^0 ... 10^19. */
extern const uint64_t digit_pow10[20];

/* Number of decimal digits of |v| (1 for 0): a first guess from the bit
 * length (log10 2 ~ 1233 / 4096) that is exact or one short, then one
 * comparison. */
static inline unsigned decimal_len(uint64_t v) {
    unsigned t = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;
    return t + (v >= digit_pow10[t]) + (v == 0);
}

/* Exactly 8 digits of |x| < 10^8 as ASCII, leading zeros included,
 * computed in parallel lanes of one 64-bit word (two lanes of 4 digits,
 * four of 2, eight of 1) rather than by eight divisions; the first digit
 * is the lowest byte. The multiply-shift pairs are exact quotients for
 * the lane ranges: 10486 / 2^20 for /100 below 10^4, 103 / 2^10 for /10
 * below 100. */
static inline uint64_t digits8(uint32_t x) {
    uint64_t z = (uint64_t)(x / 10000) | (uint64_t)(x % 10000) << 32;
    uint64_t q = ((z * 10486) >> 20) & 0x0000007F0000007F;
    z = q | (z - q * 100) << 16;
    q = ((z * 103) >> 10) & 0x000F000F000F000F;
    z = q | (z - q * 10) << 8;
    return z + 0x3030303030303030; /* '0' in every byte */
}

/* Stores the 8 bytes of |z|, the lowest first. */
static inline void store8(char *p, uint64_t z) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    z = __builtin_bswap64(z);
#endif
    memcpy(p, &z, 8);
}

#endif
