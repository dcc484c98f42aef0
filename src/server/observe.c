/* observe: request and store hooks into metrics, traces and logs. */
#include "observe.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"
#include "trace.h"

static _Thread_local trace_ctx *current;
static const char *db_system = "";

/* ---- store observer ----------------------------------------------------- */

static void *store_begin(int query) {
    (void)query;
    metrics_db_query_begin();
    return current;
}

static void store_end(void *ctx, int query, uint64_t start_ns, uint64_t end_ns,
                      uint64_t rows, int status) {
    int failed = status == STORE_ERROR || status == STORE_UNAVAILABLE;
    uint64_t ns = end_ns - start_ns;
    metrics_db_query(query, ns, rows, failed);
    trace_ctx *t = ctx;
    if (t == NULL)
        return;
    t->db_queries++;
    t->db_ns += ns;
    trace_export_db(t, db_system, store_query_name(query), start_ns, end_ns,
                    rows, failed);
}

static void *store_enter(void *ctx) {
    trace_ctx *saved = current;
    current = ctx;
    return saved;
}

static void store_leave(void *saved) {
    current = saved;
}

static const store_observer observer = {
    .begin = store_begin,
    .end = store_end,
    .enter = store_enter,
    .leave = store_leave,
    .pool_wait = metrics_db_pool_wait,
};

int observe_init(server *srv, char *err, size_t errlen) {
    if (metrics_init(srv) != 0) {
        snprintf(err, errlen, "out of memory (metrics)");
        return -1;
    }
    if (trace_init(srv->opt.otlp_endpoint, srv->opt.trace_sample_ratio, err,
                   errlen) != 0)
        return -1;
    if (srv->store) {
        db_system = store_kind(srv->store);
        store_set_observer(&observer);
    }
    return 0;
}

void observe_shutdown(void) {
    store_set_observer(NULL);
    trace_shutdown();
}

/* ---- requests ----------------------------------------------------------- */

void observe_request_begin(exchange *ex) {
    const http_field *tp = exchange_header(ex, "traceparent");
    trace_begin(&ex->trace, tp ? tp->value : NULL, tp ? tp->value_len : 0);
    ex->observed = 1;
    metrics_request_begin();
    current = &ex->trace;
}

void observe_handler_returned(void) {
    current = NULL;
}

void observe_request_abandoned(exchange *ex, int32_t stream_id) {
    ex->status = 499;
    if (!ex->streaming)
        ex->resp_body.len = 0; /* none of it went out */
    observe_request_end(ex, ex->protocol ? ex->protocol : "http/1.1",
                        stream_id);
}

void observe_request_end(const exchange *ex, const char *protocol,
                         int32_t stream_id) {
    uint64_t now = time_mono_ns();
    uint64_t duration = now - ex->start_ns;
    metrics_request_end(ex->route, ex->method, ex->status, duration,
                        ex->observed);
    char tid[33], sid[17];
    if (ex->observed) {
        trace_request_info info = {
            .method = ex->method_str,
            .method_len = ex->method_len,
            .path = ex->path,
            .path_len = ex->path_len,
            .route = ex->route ? ex->route->template : NULL,
            .status = ex->status,
            .protocol = protocol,
            .start_mono_ns = ex->start_ns,
            .end_mono_ns = now,
        };
        trace_export_request(&ex->trace, &info);
    }

    log_line *l = log_access_begin();
    if (l == NULL)
        return;
    log_strn(l, "http.request.method", ex->method_str, ex->method_len);
    log_strn(l, "url.path", ex->path, ex->path_len);
    if (ex->route)
        log_str(l, "http.route", ex->route->template);
    log_int(l, "http.response.status_code", ex->status);
    log_int(l, "http.response.body.bytes",
            (int64_t)(ex->streaming ? ex->streamed : exchange_body_len(ex)));
    log_str(l, "network.protocol.name", protocol);
    log_int(l, "event.duration", (int64_t)duration);
    if (stream_id)
        log_int(l, "http2.stream_id", stream_id);
    log_int(l, "objectd.db.queries", ex->trace.db_queries);
    log_int(l, "objectd.db.duration", (int64_t)ex->trace.db_ns);
    if (ex->observed) {
        trace_hex(ex->trace.trace_id, 16, tid);
        trace_hex(ex->trace.span_id, 8, sid);
        log_str(l, "trace.id", tid);
        log_str(l, "span.id", sid);
    }
    log_end(l);
    worker_note_access(ex->worker);
}
