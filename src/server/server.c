/* server: start-up, signals and the graceful drain.
 *
 * SIGTERM or SIGINT: /readyz answers 503 at once (a load balancer stops
 * sending), the listeners close, every worker drains (idle connections
 * close now; in-flight requests finish and their responses carry
 * Connection: close), and the process exits 0 once all are done - or when
 * --drain-timeout passes, after closing what is left. A second signal
 * skips the wait. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "observe.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"

typedef struct runner {
    server *srv;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    listener *listeners;
    size_t nlisteners;
    int signals;
    uint64_t drain_start_ns;
} runner;

static void on_drain_deadline(uv_timer_t *t) {
    runner *r = t->data;
    log_line *l = log_begin(LOG_WARN, "drain deadline passed");
    log_int(l, "objectd.connections", atomic_load(&r->srv->connections));
    log_end(l);
    for (int i = 0; i < r->srv->nworkers; i++)
        worker_request(&r->srv->workers[i], 1, 1);
}

static void on_signal(uv_signal_t *s, int signum) {
    runner *r = s->data;
    server *srv = r->srv;
    r->signals++;
    if (r->signals > 1) {
        log_msg(LOG_WARN, "second signal: closing all connections now");
        for (int i = 0; i < srv->nworkers; i++)
            worker_request(&srv->workers[i], 1, 1);
        return;
    }
    atomic_store(&srv->draining, 1);
    r->drain_start_ns = time_mono_ns();
    log_line *l = log_begin(LOG_INFO, "draining");
    log_str(l, "process.signal", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    log_int(l, "objectd.connections", atomic_load(&srv->connections));
    log_int(l, "objectd.drain_timeout_ms", srv->opt.drain_timeout_ms);
    log_end(l);
    listener_close_all(r->listeners, r->nlisteners);
    r->nlisteners = 0;
    for (int i = 0; i < srv->nworkers; i++)
        worker_request(&srv->workers[i], 1, 0);
    uv_timer_start(&r->drain_timer, on_drain_deadline,
                   (uint64_t)srv->opt.drain_timeout_ms, 0);
    uv_unref((uv_handle_t *)&r->drain_timer);
    /* The main loop's only job now is the deadline and the signals; it
     * ends when the workers have all stopped (see server_run). */
    uv_stop(srv->loop);
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Waits for the workers on a helper thread so the main loop can still
 * fire the drain deadline and take a second signal. */
typedef struct joiner {
    server *srv;
    uv_async_t done;
} joiner;

static void join_all(void *arg) {
    joiner *j = arg;
    for (int i = 0; i < j->srv->nworkers; i++)
        worker_join(&j->srv->workers[i]);
    uv_async_send(&j->done);
}

static void on_joined(uv_async_t *a) {
    uv_stop(a->loop);
}

int server_run(server *srv) {
    int rc = 0;
    runner r;
    memset(&r, 0, sizeof r);
    r.srv = srv;
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv->loop = &loop;
    signal(SIGPIPE, SIG_IGN);

    srv->h1_limits.max_head_bytes = (size_t)srv->opt.max_header_bytes;
    srv->h1_limits.max_target_bytes = (size_t)srv->opt.max_header_bytes;
    srv->h1_limits.max_headers = (size_t)srv->opt.max_headers;
    if (handlers_init(srv) != 0 || admin_routes_init(srv) != 0)
        return -ENOMEM;
    char err[512];
    if (observe_init(srv, err, sizeof err) != 0) {
        log_line *el = log_begin(LOG_ERROR, "cannot start observability");
        log_str(el, "error.message", err);
        log_end(el);
        handlers_free(srv);
        return -EINVAL;
    }

    srv->workers = calloc((size_t)srv->nworkers, sizeof *srv->workers);
    if (srv->workers == NULL)
        return -ENOMEM;
    for (int i = 0; i < srv->nworkers; i++) {
        if ((rc = worker_init(&srv->workers[i], srv, i)) != 0)
            return rc;
        if (srv->store && (srv->workers[i].store = store_loop_attach(
                               srv->store, &srv->workers[i].loop, i)) == NULL)
            return -ENOMEM;
    }

    /* Signals first: once "listening" is logged, SIGTERM must drain. */
    uv_signal_init(&loop, &r.sigterm);
    uv_signal_init(&loop, &r.sigint);
    r.sigterm.data = r.sigint.data = &r;
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    uv_timer_init(&loop, &r.drain_timer);
    r.drain_timer.data = &r;

    rc = listener_open_all(srv, &r.listeners, &r.nlisteners);
    if (rc)
        goto out;
    for (int i = 0; i < srv->nworkers; i++)
        worker_start(&srv->workers[i]);

    log_line *l = log_begin(LOG_INFO, "started");
    log_int(l, "objectd.threads", srv->nworkers);
    log_end(l);

    /* Serve until the first signal. */
    uv_run(&loop, UV_RUN_DEFAULT);

    /* Drain: wait for the workers, still answering the deadline timer and
     * a second signal. */
    joiner j = {.srv = srv};
    uv_async_init(&loop, &j.done, on_joined);
    uv_thread_t jt;
    uv_thread_create(&jt, join_all, &j);
    uv_ref((uv_handle_t *)&r.drain_timer);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_thread_join(&jt);

    /* How evenly the connections were spread: one count per worker. */
    char spread[256];
    size_t sn = 0;
    spread[0] = '\0';
    for (int i = 0; i < srv->nworkers && sn + 24 < sizeof spread; i++)
        sn += (size_t)snprintf(
            spread + sn, sizeof spread - sn, "%s%llu", i ? "," : "",
            (unsigned long long)atomic_load(&srv->workers[i].accepted));
    l = log_begin(LOG_INFO, "stopped");
    log_int(l, "event.duration", (int64_t)(time_mono_ns() - r.drain_start_ns));
    log_str(l, "objectd.connections_per_thread", spread);
    log_end(l);
out:
    if (r.nlisteners)
        listener_close_all(r.listeners, r.nlisteners);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(r.listeners);
    if (rc) {
        for (int i = 0; i < srv->nworkers; i++) {
            uv_close((uv_handle_t *)&srv->workers[i].wakeup, NULL);
            uv_close((uv_handle_t *)&srv->workers[i].flush_timer, NULL);
            uv_run(&srv->workers[i].loop, UV_RUN_DEFAULT);
            uv_loop_close(&srv->workers[i].loop);
        }
    }
    free(srv->workers);
    srv->workers = NULL;
    observe_shutdown();
    handlers_free(srv);
    admin_routes_free(srv);
    log_access_flush();
    return rc;
}
