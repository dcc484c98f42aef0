/* json_canon: a jansson value written as canonical JSON - compact, object
 * keys sorted, numbers in their shortest form that reads back to the same
 * double (jansson's own dump prints 0.1 as 0.10000000000000001). Stored
 * attributes are canonical, so the same content always has the same bytes
 * on either backend. */
#ifndef OBJECTD_JSON_CANON_H
#define OBJECTD_JSON_CANON_H

#include <jansson.h>

#include "buf.h"

/* Appends |v| to |out|. Returns 0 or a negative errno from buf (-ENOBUFS
 * past the buffer's maximum). */
int json_canonical(const json_t *v, buf *out);

/* Appends the shortest decimal form of a finite |d| that strtod reads back
 * exactly, as JavaScript prints it ("0.1", "1e+300", "3", -0 as "0"). */
int json_append_double(buf *out, double d);

#endif
