/* query: the request's query string, parsed once into decoded pairs.
 *
 * Percent-decoding and '+' as space (application/x-www-form-urlencoded, as
 * browsers send it). A malformed escape, a duplicate name or a name not in
 * the caller's allow-list is an error the caller turns into a 400. */
#ifndef OBJECTD_QUERY_H
#define OBJECTD_QUERY_H

#include <stddef.h>

enum { QUERY_MAX_PARAMS = 16 };

typedef struct query_param {
    char *name; /* decoded, NUL-terminated, owned by the query */
    char *value;
    size_t value_len;
} query_param;

typedef struct query {
    query_param params[QUERY_MAX_PARAMS];
    size_t count;
    char *storage;
    char error[160]; /* why parsing failed */
} query;

/* Parses |q| (|len| bytes, without the '?'; NULL for none). |allowed| is
 * a NULL-terminated list of names. Returns 0, or -1 with |out->error| set.
 * Call query_free either way. */
int query_parse(query *out, const char *q, size_t len,
                const char *const *allowed);
void query_free(query *q);

/* The value of |name|, or NULL if absent. */
const char *query_get(const query *q, const char *name);

#endif
