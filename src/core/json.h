/* json: the JSON writer's building blocks (strings, numbers). */
#ifndef OBJECTD_JSON_H
#define OBJECTD_JSON_H

#include <stddef.h>

#include "buf.h"

/* Appends |s| (|len| bytes) to |b| as a JSON string with quotes; invalid
 * UTF-8 becomes U+FFFD, so the output is always valid JSON.
 * Returns 0 or a negative errno from buf. */
int json_append_string(buf *b, const char *s, size_t len);

#endif
