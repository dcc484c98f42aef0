/* conn: one client connection's transport - socket, buffers, timeouts,
 * graceful close - shared by the protocol that runs on it (conn_h1.c for
 * HTTP/1.1, conn_h2.c for HTTP/2). Private to src/server. */
#ifndef OBJECTD_CONN_H
#define OBJECTD_CONN_H

#include <stdint.h>

#include "exchange.h"
#include "server.h"

enum conn_state {
    ST_HEAD,    /* waiting for (the rest of) a request head */
    ST_BODY_CL, /* reading a Content-Length body */
    ST_BODY_CHUNKED,
    ST_HANDLER, /* the handler has the request */
    ST_LINGER,  /* response sent, write side shut: discard input */
    ST_CLOSED,
};

enum timeout_kind { TO_NONE, TO_HEADER, TO_IDLE, TO_BODY, TO_LINGER };

enum {
    OUT_HIGH_WATER = 256 * 1024, /* stop reading above this much unsent */
    READ_ROOM = 8192,            /* in-buffer space beyond the head limit */
    LINGER_MS = 2000,
    LINGER_MAX_BYTES = 256 * 1024,
};

typedef struct conn {
    uv_tcp_t tcp; /* first: libuv hands us &tcp */
    conn_link link;
    worker *w;
    server *srv;
    uv_timer_t timer;
    uint64_t deadline;  /* uv_now() ms; 0 = none */
    uint64_t timer_due; /* when the armed timer fires; 0 = not armed */
    int timeout_kind;
    int state;

    char *in;
    size_t in_len, in_cap;
    size_t scan_from; /* bytes of a partial head already searched */
    size_t head_len;
    size_t linger_bytes;

    h1_request req;
    h1_header *headers;
    uint64_t body_remaining; /* ST_BODY_CL */
    h1_chunked chunked;
    buf body;

    exchange ex;
    uint64_t requests;

    buf out;     /* being filled */
    buf writing; /* owned by the in-flight uv_write */
    uv_write_t wreq;
    uv_shutdown_t sreq;
    int write_pending;

    unsigned keep_alive : 1;  /* this request allows reuse */
    unsigned close_after : 1; /* close once |out| is written */
    unsigned reading : 1;
    unsigned peer_eof : 1;
    unsigned draining : 1;
    unsigned closing : 1;
    unsigned shutdown_sent : 1;
    unsigned in_process : 1; /* guards re-entry from synchronous handlers */
    unsigned handler_running : 1; /* dispatched, not answered yet */
    unsigned orphaned : 1;        /* closed while the handler ran */
    unsigned stream_paused : 1;   /* a streamed body waits for the output */

    /* On the worker's flush queue (conn_flush_later) while set. */
    unsigned flush_queued : 1;
    struct conn *flush_prev, *flush_next;

    struct h2_session *h2;  /* set once the peer speaks HTTP/2 */
    struct tls_conn *tls;   /* set on a TLS listener's connections */
    unsigned tls_ready : 1; /* handshake done, ALPN looked at */
    const char *protocol;   /* "http/1.1", "h2c" or "h2" */
    const router *router;   /* the listener's routes */
} conn;

/* Switches |c->protocol| (the connections-by-protocol gauge follows). */
void conn_set_protocol(conn *c, const char *protocol);

/* Writes |out| (uv_try_write first), or begins the close once everything
 * is written and |close_after| is set. */
void conn_flush(conn *c);

/* Queues |c| to be flushed once the callbacks of this loop iteration
 * have run (conn_flush_queued, from the worker's check handle): the
 * responses that complete together - under load, the database answers
 * for dozens of streams come back in one wake-up - then leave in one
 * write per connection, not one write each. */
void conn_flush_later(conn *c);

/* Closes now; memory is freed in the close callbacks. Idempotent. */
void conn_close(conn *c);

/* Arms the connection's single timer lazily (see conn_h1.c). */
void conn_set_timeout(conn *c, int kind, uint64_t ms);
void conn_clear_timeout(conn *c);

/* HTTP/2 (conn_h2.c). h2_start takes over a connection whose input begins
 * with the client preface; h2_on_input consumes |c->in|; h2_send writes
 * what the session has queued (after a write, or when flushed later);
 * h2_drain sends GOAWAY and lets open streams finish; h2_on_idle is the
 * idle timeout; h2_free releases the session when the connection is
 * freed. */
int h2_start(conn *c);
void h2_on_input(conn *c);
void h2_drain(conn *c);
void h2_on_idle(conn *c);
void h2_send(conn *c);
void h2_free(conn *c);

#endif
