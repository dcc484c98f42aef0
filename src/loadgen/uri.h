/* uri: the request targets loadgen walks - absolute http(s) URIs whose
 * path may hold one {A..B} range template.
 *
 * A template stands for B - A + 1 paths, walked in order; a list of URIs
 * is walked round robin as if every template were written out. */
#ifndef LOADGEN_URI_H
#define LOADGEN_URI_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct lg_uri {
    char scheme[8];      /* "http" or "https" */
    char host[256];      /* without brackets for IPv6 literals */
    char authority[300]; /* host[:port] as the Host header carries it */
    uint16_t port;
    char *prefix; /* path+query before the template (or all of it) */
    char *suffix; /* after the template; "" when none */
    uint64_t range_lo, range_hi; /* template bounds; lo == hi == 0 and
                                  * has_range 0 without a template */
    int has_range;
} lg_uri;

/* Parses |s|. 0, or -1 with a message in |err|. The caller frees with
 * lg_uri_free. A path-only URI ("/x") is accepted when |relative_ok|. */
int lg_uri_parse(lg_uri *u, const char *s, int relative_ok, char *err,
                 size_t errlen);
void lg_uri_free(lg_uri *u);

/* How many distinct targets |u| stands for (1 without a template). */
uint64_t lg_uri_count(const lg_uri *u);

/* Appends target number |i| (< lg_uri_count) of |u| to |out|. */
int lg_uri_append_path(const lg_uri *u, uint64_t i, buf *out);

#endif
