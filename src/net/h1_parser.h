/* h1_parser: a strict, zero-copy, stateless HTTP/1.1 request-head parser
 * (and its response-head twin for loadgen) and an in-place chunked
 * transfer-coding decoder.
 *
 * Zero-copy: every pointer the parser returns points into the caller's
 * buffer and stays valid exactly as long as that buffer is unchanged.
 * Stateless: h1_parse_request() is called again on the whole buffer when
 * more bytes arrive; it first looks for the end of the head, so a partial
 * head costs a scan of the new bytes only (|scan_from| hint).
 *
 * Strictness is deliberate: every shape that lets two parsers disagree about
 * where a request ends (request smuggling) is rejected, never repaired.
 */
#ifndef OBJECTD_H1_PARSER_H
#define OBJECTD_H1_PARSER_H

#include <stddef.h>
#include <stdint.h>

/* Return values of h1_parse_request() below zero. */
enum {
    H1_PARTIAL = -2,             /* head incomplete: read more bytes */
    H1_E_BAD_REQUEST = -10,      /* malformed syntax -> 400 */
    H1_E_HEAD_TOO_LARGE = -11,   /* request line + headers over limit -> 431 */
    H1_E_TOO_MANY_HEADERS = -12, /* header count over limit -> 431 */
    H1_E_VERSION = -13,          /* not HTTP/1.0 or HTTP/1.1 -> 505 */
    H1_E_SMUGGLING = -14,        /* CL+TE, differing CLs, bad TE... -> 400 */
    H1_E_NOT_IMPLEMENTED = -15,  /* a transfer-coding we do not do -> 501 */
    H1_E_URI_TOO_LONG = -16,     /* request-target over limit -> 414 */
};

typedef struct h1_header {
    const char *name; /* as sent (case preserved), not NUL-terminated */
    size_t name_len;
    const char *value; /* leading/trailing OWS stripped */
    size_t value_len;
} h1_header;

typedef struct h1_limits {
    size_t max_head_bytes;   /* request line + all header lines + CRLFs */
    size_t max_target_bytes; /* request-target length */
    size_t max_headers;      /* header fields; must be <= capacity given */
} h1_limits;

typedef struct h1_request {
    const char *method;
    size_t method_len;
    const char *target; /* request-target as sent (origin-form expected) */
    size_t target_len;
    int minor_version;  /* 0 or 1 */
    h1_header *headers; /* caller-owned array, filled in */
    size_t num_headers; /* out: headers found */
    /* Semantics derived while parsing, so callers never re-scan headers. */
    int64_t content_length;       /* -1 when absent */
    unsigned chunked : 1;         /* Transfer-Encoding: chunked */
    unsigned keep_alive : 1;      /* persistent per version + Connection */
    unsigned expect_continue : 1; /* Expect: 100-continue */
    const char *host;             /* Host value or NULL */
    size_t host_len;
} h1_request;

/* Parses one request head at the start of |buf| (|len| bytes).
 * |req->headers| must point to an array of at least |limits->max_headers|
 * entries. |scan_from| is how many bytes of |buf| an earlier call already
 * saw without finding the end of the head (0 the first time); it only
 * speeds up the search.
 *
 * Returns the head's length in bytes (> 0; the body, if any, starts there),
 * H1_PARTIAL when the head is not complete yet (and within limits), or one
 * of the negative H1_E_* codes. On error the connection must be closed
 * after the error response: the parser does not resynchronise. */
int h1_parse_request(const char *buf, size_t len, size_t scan_from,
                     h1_request *req, const h1_limits *limits);

/* A response head, for clients (loadgen). Same conventions as h1_request:
 * pointers into the caller's buffer, a caller-owned header array. */
typedef struct h1_response {
    int minor_version; /* 0 or 1 */
    int status;        /* 100..999 */
    const char *reason;
    size_t reason_len;
    h1_header *headers;
    size_t num_headers;
    int64_t content_length;  /* -1 when absent */
    unsigned chunked : 1;    /* Transfer-Encoding: chunked */
    unsigned keep_alive : 1; /* the connection stays open after it */
} h1_response;

/* Parses one response head (status line and fields) at the start of
 * |buf|, with the same strictness about framing as h1_parse_request: a
 * Content-Length with a Transfer-Encoding, differing Content-Lengths or a
 * coding other than chunked are errors. Returns the head's length (> 0),
 * H1_PARTIAL, or a negative H1_E_* code (H1_E_BAD_REQUEST for a malformed
 * head, H1_E_HEAD_TOO_LARGE). Whether a body follows depends on the
 * request and status (HEAD, 1xx, 204, 304): the caller decides. */
int h1_parse_response(const char *buf, size_t len, size_t scan_from,
                      h1_response *res, const h1_limits *limits);

/* The HTTP status code that answers a negative H1_E_* code. */
int h1_error_status(int err);

/* A short English description of a negative H1_* code. */
const char *h1_strerror(int err);

/* Case-insensitive lookup of the first header named |name|; NULL if none. */
const h1_header *h1_find_header(const h1_request *req, const char *name);

/* Chunked transfer-coding decoder. Zero it (or h1_chunked_init) before the
 * first call; it keeps state across calls, so bytes may arrive split
 * anywhere. */
typedef struct h1_chunked {
    uint64_t remaining;   /* bytes left in the current chunk's data */
    uint64_t total;       /* body bytes decoded so far */
    uint64_t max_body;    /* limit on |total|; exceeding it -> error */
    size_t trailer_bytes; /* bytes of trailer section seen (bounded) */
    size_t size_digits;   /* length of the chunk-size line so far (hex
                           * digits first, then extensions; bounded) */
    int state;            /* internal */
} h1_chunked;

enum {
    H1_CHUNKED_E_TOO_LARGE = -20, /* body over max_body -> 413 */
};

void h1_chunked_init(h1_chunked *d, uint64_t max_body);

/* Decodes |*len| bytes at |buf| in place: on return the first |*len| bytes
 * of |buf| are body data (chunk framing removed).
 * Returns the number of bytes consumed from the input (>= 0) when the final
 * chunk and trailers have been read - bytes after that belong to the next
 * request, and are left where they were (at |buf| + return value) -
 * H1_PARTIAL when more input is needed (all input consumed),
 * H1_E_BAD_REQUEST / H1_E_SMUGGLING on malformed framing (bad hex, chunk
 * size over 16 hex digits, missing CRLF, bare CR/LF, chunk extensions with
 * invalid characters), or H1_CHUNKED_E_TOO_LARGE. */
long h1_chunked_decode(h1_chunked *d, char *buf, size_t *len);

#endif
