/* server: objectd's process-wide state, its worker loops and the drain.
 *
 * Threads: the main thread runs a small loop with the listeners and the
 * signals; it accepts connections itself and hands each one to the worker
 * that has the fewest (a short mutex-guarded queue and a uv_async wake-up,
 * once per connection, never per request). Each worker runs one libuv loop
 * and owns its connections completely: nothing on the request path is
 * shared between threads. */
#ifndef OBJECTD_SERVER_H
#define OBJECTD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "h1_parser.h"
#include "options.h"
#include "router.h"

typedef struct server server;
typedef struct worker worker;
typedef struct conn_link conn_link;

/* A connection accepted by the main thread, waiting for its worker. */
typedef struct pending_conn {
    int fd;
    struct tls_ctx *tls;
    const router *router; /* the public routes, or the admin ones */
} pending_conn;

/* Every connection, whatever its protocol, is on its worker's list so that
 * a drain can reach it. */
struct conn_link {
    conn_link *prev, *next;
    /* Graceful: finish what is in flight, take nothing new, then close. */
    void (*drain)(conn_link *c);
    /* Now: close whatever state it is in. */
    void (*abort)(conn_link *c);
};

struct worker {
    server *srv;
    int index;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wakeup;
    pthread_mutex_t lock; /* guards the fields up to |pending_count| */
    struct pending_conn *pending;
    size_t pending_count, pending_cap;
    int drain_requested, abort_requested;
    atomic_int connections; /* read by the acceptor to balance */
    atomic_ullong accepted; /* connections handed to this worker */
    conn_link conns;        /* list head (sentinel) */
    int draining;
    uv_timer_t flush_timer; /* access lines and spans buffered by this
                               thread: armed only when there are some */
    int flush_armed;
    struct conn *flush_queue; /* conn_flush_later's, run each round */
    struct store_loop *store; /* this loop's handle on the store */
    int handlers_in_flight;   /* asynchronous handlers not answered yet */
    char date[40]; /* "Date: ...\r\n" cached for the current second */
    size_t date_len;
    uint64_t date_sec;
};

struct server {
    options opt;
    struct store *store;
    router router;       /* the public listeners' routes */
    router admin_router; /* --admin-listen: metrics, debug, health */
    h1_limits h1_limits;
    worker *workers;
    int nworkers;
    atomic_int draining;    /* /readyz says 503 once set */
    atomic_int connections; /* all workers */
    uv_loop_t *loop;        /* the main thread's loop */
    struct tls_ctx *tls;    /* for --tls-listen, NULL without it */
};

/* Runs the server until it has drained after SIGTERM/SIGINT. |srv->opt| is
 * loaded. Returns 0 (a clean drain) or a negative errno from start-up. */
int server_run(server *srv);

/* Worker lifecycle, driven by the main thread: init the loop, start the
 * thread, ask it to drain (graceful) or abort (now), and join it. */
int worker_init(worker *w, server *srv, int index);
int worker_start(worker *w);
void worker_request(worker *w, int drain, int abort_now);
void worker_join(worker *w);

/* Any thread: queue |fd| for |w|, which adopts it as a new connection
 * served by |rt|. */
void worker_adopt(worker *w, int fd, struct tls_ctx *tls, const router *rt);

/* Links |c| into / out of the worker's connection list. */
void worker_add_conn(worker *w, conn_link *c);
void worker_remove_conn(worker *w, conn_link *c);

/* A connection handed to |w| is gone (closed, or never started): the
 * counts the acceptor balances by go down. */
void worker_conn_lost(worker *w);

/* The "Date: ...\r\n" line for now (cached per second). */
const char *worker_date_line(worker *w, size_t *len);

/* Note that an access line or a span was buffered by this thread: they
 * are handed over (written, published) within 200 ms. */
void worker_note_buffered(worker *w);

/* Flushes the connections queued by conn_flush_later (conn_h1.c): the
 * worker calls it once per loop round, after the I/O callbacks. */
void conn_flush_queued(worker *w);

/* Creates the connection for an accepted socket on |w|'s loop; |tls| is
 * the listener's TLS context or NULL for cleartext; |rt| its routes. */
struct tls_ctx;
void conn_start(worker *w, int fd, struct tls_ctx *tls, const router *rt);

/* Listeners (listener.c), on the main loop. listener_open binds every
 * --listen address (logging each one's real port), listener_close stops
 * accepting. Return 0 or a negative errno. */
typedef struct listener listener;
int listener_open_all(server *srv, listener **out, size_t *count);
void listener_close_all(listener *ls, size_t count);

/* Bookkeeping of a handler that answers later: the worker does not
 * finish its drain while one is out. */
void worker_handler_started(worker *w);
void worker_handler_done(worker *w);

/* The routes objectd serves (handlers.c): the public ones and the admin
 * listener's (admin.c). */
int handlers_init(server *srv);
int admin_routes_init(server *srv);
/* GET /healthz and /readyz, on both kinds of listener. */
void ops_healthz(exchange *ex);
void ops_readyz(exchange *ex);
void admin_routes_free(server *srv);
void handlers_free(server *srv);

#endif
