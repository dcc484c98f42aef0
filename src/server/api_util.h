/* api_util: what every /api/v1 handler shares - problem+json with
 * per-field errors, body and query parsing, cursors, store failures. */
#ifndef OBJECTD_API_UTIL_H
#define OBJECTD_API_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "exchange.h"
#include "query.h"
#include "store.h"

/* Collected field errors: the members of problem+json "errors". */
typedef struct api_errors {
    buf list; /* the errors[] members, comma-separated */
    int count;
} api_errors;

void api_errors_init(api_errors *fe);
/* Adds {"pointer": |pointer|, "detail": |detail|} (at most 32 kept). */
void api_errors_add(api_errors *fe, const char *pointer, const char *detail);
/* Answers |status| with the collected errors, and frees them. */
void api_errors_respond(exchange *ex, api_errors *fe, int status,
                        const char *detail);
void api_errors_free(api_errors *fe);

/* Answers |status| with one error at |pointer|. */
void api_problem_pointer(exchange *ex, int status, const char *pointer,
                         const char *detail);
/* A 400 for the query parameter (or header) |name|: pointer "?name". */
void api_bad_param(exchange *ex, const char *name, const char *detail);

/* Appends "/" + |key| escaped as an RFC 6901 JSON pointer member ("~" ->
 * "~0", "/" -> "~1") to the NUL-terminated |ptr|, truncating to fit. */
void api_pointer_append(char *ptr, size_t ptrlen, const char *key);

/* A 503 (with Retry-After) or 500 for a failed store result. */
void api_store_failed(exchange *ex, const store_result *r);
/* The store refused a call up front: 503 with Retry-After. */
void api_call_failed(exchange *ex);
/* The exchange's loop's handle on the store. */
store_loop *api_store(exchange *ex);

/* 0 if the Content-Type is one of |accepted| (NULL-terminated; parameters
 * such as charset ignored); else answers 415 and returns -1. */
int api_check_content_type(exchange *ex, const char *const *accepted);

/* The body as JSON (any value). NULL after answering: 400 for syntax, 422
 * for numbers out of range (well-formed, but we cannot hold them). The
 * caller owns the result (json_decref). */
json_t *api_parse_body(exchange *ex);

/* 1 if |s| is 1..|max| characters of A-Z a-z 0-9 _ - . */
int api_valid_token(const char *s, size_t n, size_t max);

/* Parses the query string against |allowed|; -1 after answering 400. */
int api_parse_query(exchange *ex, query *q, const char *const *allowed);
/* An RFC 3339 parameter: 0 with *out (0 when absent), -1 after a 400. */
int api_time_param(exchange *ex, const query *q, const char *name,
                   int64_t *out);
/* "limit": 1..|max|, |def| when absent; -1 after a 400. */
int api_limit_param(exchange *ex, const query *q, int def, int max, int *out);
/* A positive decimal integer below 2^63: 0, or -1. */
int api_parse_positive(const char *s, int64_t *out);

/* Cursors are opaque to clients: base64url of a short text. read_cursor
 * decodes one (NUL-terminated into |raw|); 0 or -1. */
int api_read_cursor(const char *s, char *raw, size_t rawlen);
/* Adds `Link: <base&cursor=...>; rel="next"`. */
void api_link_next(exchange *ex, const char *base, const char *cursor);

/* Appends "&name=value" with |value| percent-encoded to |out| (NUL-
 * terminated, truncated to fit); returns the length written. */
size_t api_query_append(char *out, size_t outlen, const char *name,
                        const char *value);

/* Ends a page that the caller began with `{"items":[` in |ex->resp_body|:
 * writes `],"next_cursor":...}`, encoding |raw_cursor| (NULL: the last
 * page) and adding the Link header built on |link_base|, and answers 200. */
void api_page_respond(exchange *ex, const char *raw_cursor,
                      const char *link_base);

#endif
