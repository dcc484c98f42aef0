/* worker: one thread with its own libuv loop driving a share of the
 * clients, and the request bookkeeping every client shares (targets,
 * slots, counting by h2load's rules).
 *
 * Nothing here is shared between threads while they run: each worker has
 * its stats, histogram and buffers; main merges them after the join. */
#ifndef LOADGEN_WORKER_H
#define LOADGEN_WORKER_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "buf.h"
#include "options.h"
#include "stats.h"
#include "tls.h"

typedef struct lg_worker lg_worker;
typedef struct lg_client lg_client;

/* One request in flight: where it goes (for a re-send) and when it left. */
typedef struct lg_slot {
    uint64_t target;       /* position in the round robin walk */
    uint64_t start_ns;     /* uv_hrtime() when submitted */
    int64_t wall_us;       /* for --log-file */
    uint64_t data_off;     /* -d body bytes already given to nghttp2 */
    int status;            /* 0 until the response head */
    int32_t stream_id;     /* HTTP/2 */
    unsigned uri;          /* index in the URI list */
    unsigned measured : 1; /* started in the measured phase */
    unsigned in_use : 1;
} lg_slot;

typedef enum lg_client_state {
    LG_CLIENT_IDLE = 0,   /* no connection (yet, or between two) */
    LG_CLIENT_CONNECTING, /* TCP/unix connect and TLS handshake */
    LG_CLIENT_CONNECTED,
    LG_CLIENT_CLOSING, /* uv_close called; the callback decides what next */
    LG_CLIENT_DONE,
} lg_client_state;

typedef enum lg_h1_state {
    LG_H1_HEAD = 0,
    LG_H1_BODY_LENGTH,
    LG_H1_BODY_CHUNKED,
    LG_H1_BODY_EOF,
} lg_h1_state;

struct lg_client {
    lg_worker *w;
    unsigned index; /* within the worker */
    lg_client_state state;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } sock;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_timer_t timer; /* -T/-N deadline */
    int timer_on;
    int writing;  /* write_req in flight (with |inflight|) */
    buf out;      /* bytes to put on the wire next */
    buf inflight; /* bytes uv_write is sending */
    buf plain;    /* TLS: plaintext before encryption */
    tls_conn *tls;
    lg_proto proto; /* of the current connection */
    nghttp2_session *h2;
    int goaway;      /* no new streams on this connection */
    int goaway_code; /* of the GOAWAY received, -1 if none */
    int32_t goaway_last_id;
    uv_timer_t rps_timer; /* --rps */
    int rps_timer_on;
    unsigned zero_progress; /* connections in a row that answered none */
    int close_after;        /* close once the out buffer is written */

    /* Requests. */
    uint64_t req_todo;    /* UINT64_MAX in -D mode */
    uint64_t req_started; /* first sends */
    uint64_t req_done;    /* finished (any outcome), abandoned included */
    uint64_t next_target;
    lg_slot *slots; /* max_streams of them */
    unsigned nslots, inflight_count;
    unsigned *free_slots; /* a stack of free slot indices */
    unsigned nfree;
    uint64_t *retry; /* targets to send again (a ring of nslots) */
    unsigned retry_head, retry_len;
    uint64_t conn_responses; /* on the current connection */
    int error_kind;          /* LG_ERR_* that ended the client, or -1 */

    /* HTTP/1.1: a FIFO of slot indices matching pipelined responses. */
    unsigned *h1_fifo;
    unsigned h1_head, h1_len;
    lg_h1_state h1_state;
    uint64_t h1_body_left;
    int h1_keep_alive;
    struct h1_chunked *h1_chunk;
    buf h1_partial; /* an incomplete response head kept across reads */

    /* Per-client figures (h2load's "time for connect" etc.). */
    uint64_t start_ns, connect_start_ns, connect_ns, ttfb_ns, end_ns;
    uint64_t success; /* responses received in full, measured */
    uint64_t rps_sent;
    uint64_t last_read_ns, conn_start_ns;
    int got_first_byte;
};

struct lg_worker {
    unsigned id;
    const lg_options *o;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_timer_t phase_timer; /* -D, --warm-up-time, -r */
    uv_timer_t stop_timer;
    lg_client *clients;
    unsigned nclients, clients_started;
    uint64_t req_todo;
    uint64_t progress_interval, progress_next;
    int measuring; /* counting requests now (always, without -D) */
    int stopping;  /* -D over: clients close */
    uint64_t measure_start_ns, measure_end_ns;
    lg_stats stats;
    tls_ctx *tls;
    const struct sockaddr *addr; /* resolved once, shared read-only */
    socklen_t addrlen;
    char rbuf[65536];   /* every read lands here first */
    char tlsbuf[65536]; /* decrypted bytes */
    buf scratch;        /* request paths */
    buf h1_common;      /* header lines shared by every HTTP/1.1 request */
    const char *method; /* GET, POST with -d, or -H ':method: X' */
    int head_method;    /* HEAD: responses have no body */
    nghttp2_nv *nva;    /* HTTP/2 request headers, :path at [1] */
    size_t nnva;
    nghttp2_session_callbacks *h2_callbacks;
    nghttp2_option *h2_option;
    FILE *log; /* --log-file (own buffer, written at the end) */
    buf log_buf;
    uint64_t now_ns; /* cached per read batch */
    /* Read by main's live progress line while the thread runs. */
    _Atomic uint64_t live_done;
    _Atomic int finished;
    char app_proto[16]; /* the first connection's protocol, for thread 0 */
    int reported_proto;
    uint64_t rate_per_period; /* -r share of this thread */
    /* --arrival-rate: request k of this thread is due at t0 + k / rate. */
    double arrival_rate; /* this thread's share, requests/s; 0: off */
    uint64_t arrival_t0_ns, arrival_issued, arrival_todo;
    uv_timer_t arrival_timer;
    unsigned arrival_next; /* client to offer the next due request */
};

/* Sets up worker |id| (its share of clients and requests). 0 or -1. */
int lg_worker_init(lg_worker *w, unsigned id, const lg_options *o,
                   const struct sockaddr *addr, socklen_t addrlen,
                   tls_ctx *tls);
/* Runs the loop on a new thread; lg_worker_join waits for it. */
int lg_worker_start(lg_worker *w);
void lg_worker_join(lg_worker *w);
void lg_worker_free(lg_worker *w);

/* For the client modules. */
/* Takes a free slot for the next request (a pending re-send first).
 * NULL when the client may not start one now. */
lg_slot *lg_client_next_request(lg_client *c);
/* Puts the path of |s|'s target in w->scratch (cleared first) and notes
 * which URI of the list it came from. 0 or -ENOBUFS. */
int lg_slot_path(lg_worker *w, lg_slot *s);
/* The response to |s| began: its status. */
void lg_request_status(lg_client *c, lg_slot *s, int status);
/* The request finished: |ok| a full response arrived. */
void lg_request_done(lg_client *c, lg_slot *s, int ok);
/* The server never processed it: send it again on a new connection. */
void lg_request_retry(lg_client *c, lg_slot *s);
void lg_record_error(lg_client *c, lg_err_kind kind, int code);
/* Prints a line on stdout from thread 0 only, flushed. */
void lg_print0(lg_worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Writes what the client has buffered (batched: once per event). */
void lg_client_flush(lg_client *c);
/* Ends the connection; the close callback reconnects or finishes. */
void lg_client_disconnect(lg_client *c);
/* No more requests will ever come: abandon what is left. */
void lg_client_abandon(lg_client *c, lg_err_kind kind, int code);
/* 1 while |c| has requests to send or wait for. */
int lg_client_has_work(lg_client *c);
/* Ends the connection politely if |c| has nothing left to do. */
void lg_client_maybe_finish(lg_client *c);
/* The client's last connection is closed and it has nothing left to do. */
void lg_worker_client_done(lg_client *c);

#endif
