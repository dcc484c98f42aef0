/* admin: the routes of the admin listener (--admin-listen) - /metrics,
 * /debug/queries, /debug/pprof/profile, /healthz and /readyz. None of them
 * is on the public listeners. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "profile.h"
#include "query.h"
#include "server.h"

static void get_metrics(exchange *ex) {
    ex->resp_body.len = 0;
    if (metrics_render(&ex->resp_body) != 0) {
        exchange_problem(ex, 500, NULL, "could not render the metrics");
        return;
    }
    exchange_respond_body(ex, 200, "text/plain; version=0.0.4; charset=utf-8");
}

static void get_queries(exchange *ex) {
    ex->resp_body.len = 0;
    metrics_render_queries(&ex->resp_body);
    exchange_respond_body(ex, 200, "application/json");
}

/* A profile in progress: the request waits on a timer of its loop. */
typedef struct profiling {
    uv_timer_t timer;
    exchange *ex;
} profiling;

static void profiling_closed(uv_handle_t *h) {
    free(h->data);
}

static void on_profile_done(uv_timer_t *t) {
    profiling *p = t->data;
    exchange *ex = p->ex;
    ex->resp_body.len = 0;
    long n = profile_stop(&ex->resp_body);
    char count[24];
    int len = snprintf(count, sizeof count, "%ld", n);
    exchange_add_header(ex, "x-objectd-samples", count, (size_t)len);
    exchange_respond_body(ex, 200, "text/plain; charset=utf-8");
    uv_close((uv_handle_t *)&p->timer, profiling_closed);
}

static void get_profile(exchange *ex) {
    static const char *const allowed[] = {"seconds", NULL};
    query q;
    long seconds = 30;
    if (query_parse(&q, ex->query, ex->query_len, allowed) != 0) {
        exchange_problem(ex, 400, NULL, q.error);
        query_free(&q);
        return;
    }
    const char *v = query_get(&q, "seconds");
    if (v != NULL) {
        char *end;
        errno = 0;
        seconds = strtol(v, &end, 10);
        if (errno || end == v || *end != '\0' || seconds < 1 ||
            seconds > PROFILE_MAX_SECONDS) {
            query_free(&q);
            exchange_problem(ex, 400, NULL,
                             "seconds must be an integer from 1 to 60");
            return;
        }
    }
    query_free(&q);
    profiling *p = calloc(1, sizeof *p);
    if (p == NULL) {
        exchange_problem(ex, 503, NULL, "out of memory");
        return;
    }
    int rc = profile_start();
    if (rc != 0) {
        free(p);
        exchange_problem(ex, rc == -EBUSY ? 409 : 503, NULL,
                         rc == -EBUSY ? "a profile is already running"
                                      : "cannot start the profiler");
        return;
    }
    p->ex = ex;
    uv_timer_init(&ex->worker->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_profile_done, (uint64_t)seconds * 1000, 0);
}

static const route admin_routes[] = {
    {HTTP_GET, "/metrics", get_metrics},
    {HTTP_GET, "/debug/queries", get_queries},
    {HTTP_GET, "/debug/pprof/profile", get_profile},
    {HTTP_GET, "/healthz", ops_healthz},
    {HTTP_GET, "/readyz", ops_readyz},
};

int admin_routes_init(server *srv) {
    srv->admin_router.routes = admin_routes;
    srv->admin_router.count = sizeof admin_routes / sizeof admin_routes[0];
    return 0;
}

void admin_routes_free(server *srv) {
    srv->admin_router.routes = NULL;
    srv->admin_router.count = 0;
}
