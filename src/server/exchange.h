/* exchange: one request and its response, independent of the protocol.
 *
 * The protocol layer (HTTP/1.1 now, HTTP/2 next) fills in the request half,
 * pointing into its own buffers, and calls the router; a handler answers
 * with exchange_respond*() - at once or later, from the same loop thread.
 * The request pointers stay valid until the response has been handed to the
 * protocol (the `send` hook), after which the exchange may be reused. */
#ifndef OBJECTD_EXCHANGE_H
#define OBJECTD_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "h1_parser.h"
#include "trace.h"

typedef h1_header http_field;

enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_PATCH = 1 << 4,
    HTTP_DELETE = 1 << 5,
    HTTP_OPTIONS = 1 << 6,
    HTTP_OTHER = 1 << 7,
};

/* The method bit for a method token (HTTP_OTHER if we have no route for
 * it), and the token for one bit. */
int http_method_parse(const char *s, size_t len);
const char *http_method_name(int method);

/* The reason phrase for a status code ("OK"), "" if unknown. */
const char *http_reason(int status);

typedef struct exchange exchange;
typedef struct route route;

enum { EXCHANGE_MAX_PARAMS = 4, EXCHANGE_MAX_RESP_HEADERS = 16 };

typedef struct exchange_param {
    const char *value;
    size_t len;
    int64_t id; /* parsed value of an {id} parameter */
} exchange_param;

typedef struct resp_header {
    uint32_t name_off, name_len, value_off, value_len;
} resp_header;

struct exchange {
    /* The request, filled in by the protocol layer. */
    int method; /* an http_method bit */
    const char *method_str;
    size_t method_len;
    const char *path;
    size_t path_len;
    const char *query; /* after '?', NULL if none */
    size_t query_len;
    const http_field *headers;
    size_t num_headers;
    const char *body;
    size_t body_len;
    const char *protocol; /* "http/1.1", "h2c" or "h2" */
    uint64_t start_ns;    /* monotonic clock at the end of the head */
    trace_ctx trace;      /* ids, sampling, database time (observe.c) */
    int observed;         /* observe_request_begin ran for it */

    /* Set by the router. */
    const route *route;
    exchange_param params[EXCHANGE_MAX_PARAMS];
    size_t num_params;

    /* The response, built by the handler. */
    int status;
    const char *content_type;
    buf resp_body;
    /* Or a body the exchange only refers to (exchange_respond_ref): a
     * cached analysis, sent without a copy; released when the exchange
     * is reset or freed. */
    const char *ext_body;
    size_t ext_len;
    void (*ext_release)(void *arg);
    void *ext_arg;
    buf resp_header_text;
    resp_header resp_headers[EXCHANGE_MAX_RESP_HEADERS];
    size_t num_resp_headers;
    int responded;

    /* The protocol's hook: called once by exchange_respond*(). */
    void (*send)(exchange *ex);
    /* Streaming (exchange_stream_*): the protocol's hook, and the
     * producer's callback for "there is room again". */
    int (*stream)(exchange *ex, int op, const char *data, size_t len);
    void (*on_drain)(exchange *ex);
    void *stream_arg;
    int streaming;
    uint64_t streamed; /* body bytes written by the producer */
    void *conn;
    void *server;
    struct worker *worker; /* the loop thread that owns the exchange */
};

/* Prepares |ex| for a new request, keeping its buffers' memory. */
void exchange_reset(exchange *ex);
void exchange_free(exchange *ex);

/* The first request header named |name| (case-insensitive), or NULL. */
const http_field *exchange_header(const exchange *ex, const char *name);

/* Adds a response header; both are copied. 0, or -ENOBUFS when full. */
int exchange_add_header(exchange *ex, const char *name, const char *value,
                        size_t value_len);

/* Responds with a copy of |body|. |content_type| must be a string with
 * static lifetime (or NULL for none). */
void exchange_respond(exchange *ex, int status, const char *content_type,
                      const char *body, size_t len);

/* Responds with what the handler wrote into |ex->resp_body|. */
void exchange_respond_body(exchange *ex, int status, const char *content_type);

/* Responds with |body| without copying it: it must stay valid until the
 * exchange calls |release|(|arg|) (on its loop thread, once, when the
 * response is done with - also if the client has gone; |release| may be
 * NULL). */
void exchange_respond_ref(exchange *ex, int status, const char *content_type,
                          const char *body, size_t len,
                          void (*release)(void *arg), void *arg);

/* The response body the protocol sends: the referred one, else
 * |resp_body| (which streaming appends to). */
static inline const char *exchange_body(const exchange *ex) {
    return ex->ext_body != NULL ? ex->ext_body : ex->resp_body.data;
}
static inline size_t exchange_body_len(const exchange *ex) {
    return ex->ext_body != NULL ? ex->ext_len : ex->resp_body.len;
}

/* Responds with RFC 9457 problem+json: type "about:blank" unless |type| is
 * given, the status's reason as title unless |title| is given. */
void exchange_problem(exchange *ex, int status, const char *title,
                      const char *detail);

/* Streaming a body of unknown length (HTTP/1.1 chunked, HTTP/2 DATA
 * frames), with flow control: the producer writes until
 * exchange_stream_write returns EXCHANGE_STREAM_PAUSE, then waits for
 * |on_drain| (called on the loop when the data written so far has mostly
 * gone out) before writing more, so a slow reader never makes the server
 * buffer more than about 256 KiB. EXCHANGE_STREAM_GONE means the client
 * went away: stop producing and call exchange_stream_end. Every stream
 * ends with exchange_stream_end, after which |ex| must not be used. */
enum {
    EXCHANGE_STREAM_MORE = 0,
    EXCHANGE_STREAM_PAUSE = 1,
    EXCHANGE_STREAM_GONE = -1,
};
enum { EXCHANGE_OP_BEGIN, EXCHANGE_OP_DATA, EXCHANGE_OP_END };

void exchange_stream_begin(exchange *ex, int status, const char *content_type,
                           void (*on_drain)(exchange *ex), void *arg);
int exchange_stream_write(exchange *ex, const char *data, size_t len);
void exchange_stream_end(exchange *ex);

/* An answered exchange (on its worker's thread): counts it, ends its span
 * and writes its access-log line - method, path, route, status, bytes,
 * duration, protocol, database queries and time, trace and span ids and,
 * for HTTP/2, the stream id (0: none). See observe.h. */
void exchange_access_log(const exchange *ex, const char *protocol,
                         int32_t stream_id);

#endif
