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

/* IMF-fixdate, "Sun, 29 Nov 2026 07:50:40 GMT" (29 bytes + NUL). */
size_t time_format_http_date(time_t t, char *out);

#endif
