/* timeutil: clocks and the few time formats objectd writes. */
#ifndef OBJECTD_TIMEUTIL_H
#define OBJECTD_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic clock, nanoseconds. */
uint64_t time_mono_ns(void);

/* Wall clock, nanoseconds since the Unix epoch. */
int64_t time_wall_ns(void);

/* "2026-11-29T07:50:40.123Z" (24 bytes + NUL) for |ns| since the epoch.
 * Returns the length. |out| needs 32 bytes. */
size_t time_format_rfc3339_ms(int64_t ns, char *out);

/* "2026-11-29T07:50:40.123456Z" (27 bytes + NUL) for |us| microseconds
 * since the epoch. Returns the length; |out| needs 32 bytes. */
size_t time_format_rfc3339_us(int64_t us, char *out);

/* Parses an RFC 3339 date-time ("2026-11-29T07:50:40Z", with an optional
 * fraction of up to 9 digits and "Z" or "+hh:mm"/"-hh:mm") into
 * microseconds since the epoch. Returns 0, or -1 if it is not one (fields
 * out of range included). */
int time_parse_rfc3339_us(const char *s, size_t len, int64_t *out);

/* IMF-fixdate, "Sun, 29 Nov 2026 07:50:40 GMT" (29 bytes + NUL). */
size_t time_format_http_date(time_t t, char *out);

#endif
