/* buf: growable, bounded byte buffers. */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"

void buf_init(buf *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : BUF_DEFAULT_MAX;
}

void buf_free(buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int buf_grow(buf *b, size_t extra) {
    if (extra > b->max || b->len > b->max - extra)
        return -ENOBUFS;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append_str(buf *b, const char *s) {
    return buf_append(b, s, strlen(s));
}

int buf_append_char(buf *b, char c) {
    return buf_append(b, &c, 1);
}

const char digit_pairs[200] = {"0001020304050607080910111213141516171819"
                               "2021222324252627282930313233343536373839"
                               "4041424344454647484950515253545556575859"
                               "6061626364656667686970717273747576777879"
                               "8081828384858687888990919293949596979899"};

/* clang-format off */
const uint64_t digit_pow10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
    10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
    100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull};
/* clang-format on */

/* Eight digits at a time (digits8: one 64-bit word, no division per
 * digit): groups of eight split off the end with one 64-bit division
 * each, then the first one to eight digits written as eight with their
 * leading zeros shifted out - a store of 8 bytes, which the 20 bytes of
 * room allow - before the groups, which overwrite what it wrote past
 * them. */
size_t fmt_u64_wide(char *out, unsigned long long v) {
    size_t n = decimal_len(v);
    uint32_t group[2]; /* UINT64_MAX: 20 digits, 4 + 8 + 8 */
    size_t ngroups = 0;
    while (v >= 100000000u) {
        unsigned long long q = v / 100000000u;
        group[ngroups++] = (uint32_t)(v - q * 100000000u);
        v = q;
    }
    size_t head = n - 8 * ngroups;
    store8(out, digits8((uint32_t)v) >> (8 * (8 - head)));
    char *p = out + head;
    while (ngroups > 0) {
        store8(p, digits8(group[--ngroups]));
        p += 8;
    }
    return n;
}

/* Each span writes four of these (its start and end nanoseconds). */
size_t fmt_u32_fixed9(char *out, unsigned v) {
    out[0] = (char)('0' + v / 100000000u);
    store8(out + 1, digits8(v % 100000000u));
    return 9;
}

int buf_append_u64(buf *b, unsigned long long v) {
    char tmp[20];
    return buf_append(b, tmp, fmt_u64(tmp, v));
}

int buf_appendf(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof small)
        return buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_consume(buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
