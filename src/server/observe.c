/* observe: request and store hooks into metrics, traces and logs. */
#include "observe.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"
#include "trace.h"

/* An access line's keys and numbers (its strings are counted apart):
 * about 330 bytes at most today. */
enum { ACCESS_FIXED_MAX = 512 };

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
    /* The access line first: the span below copies its quoted path. */
    log_line *l = log_access_begin();
    char *p = NULL;
    const char *path_json = NULL;
    size_t path_json_len = 0;
    const char *tpl = ex->route ? ex->route->template : NULL;
    if (l != NULL) {
        /* One reservation for the whole line, then plain writes: the
         * access log costs every request this. */
        size_t tpl_len = tpl ? strlen(tpl) : 0;
        size_t proto_len = strlen(protocol);
        p = log_reserve(l, ACCESS_FIXED_MAX + JSON_QUOTED_MAX(ex->method_len) +
                               JSON_QUOTED_MAX(ex->path_len) +
                               JSON_QUOTED_MAX(tpl_len) +
                               JSON_QUOTED_MAX(proto_len));
        if (p != NULL) {
            JSON_PUT_LIT(p, ",\"http.request.method\":");
            /* A method we route is one of our tokens; any other is what
             * the client sent. */
            if (ex->method == HTTP_OTHER)
                p += json_quote(p, ex->method_str, ex->method_len);
            else
                p = json_put_plain(p, ex->method_str, ex->method_len);
            JSON_PUT_LIT(p, ",\"url.path\":");
            path_json = p;
            p += json_quote(p, ex->path, ex->path_len);
            path_json_len = (size_t)(p - path_json);
            if (tpl) { /* ours, and plain (test_trace checks), as below */
                JSON_PUT_LIT(p, ",\"http.route\":");
                p = json_put_plain(p, tpl, tpl_len);
            }
            JSON_PUT_LIT(p, ",\"http.response.status_code\":");
            p += fmt_u64(p, (unsigned)(ex->status > 0 ? ex->status : 0));
            JSON_PUT_LIT(p, ",\"http.response.body.bytes\":");
            p += fmt_u64(p,
                         ex->streaming ? ex->streamed : exchange_body_len(ex));
            JSON_PUT_LIT(p, ",\"network.protocol.name\":");
            /* "http/1.1", "h2c", "h2" */
            p = json_put_plain(p, protocol, proto_len);
            JSON_PUT_LIT(p, ",\"event.duration\":");
            p += fmt_u64(p, duration);
            if (stream_id > 0) {
                JSON_PUT_LIT(p, ",\"http2.stream_id\":");
                p += fmt_u64(p, (unsigned)stream_id);
            }
            JSON_PUT_LIT(p, ",\"objectd.db.queries\":");
            p += fmt_u64(p, ex->trace.db_queries);
            JSON_PUT_LIT(p, ",\"objectd.db.duration\":");
            p += fmt_u64(p, ex->trace.db_ns);
            if (ex->observed) {
                JSON_PUT_LIT(p, ",\"trace.id\":\"");
                trace_hex(ex->trace.trace_id, 16, p);
                p += 32;
                JSON_PUT_LIT(p, "\",\"span.id\":\"");
                trace_hex(ex->trace.span_id, 8, p);
                p += 16;
                *p++ = '"';
            }
        }
    }
    if (ex->observed) {
        trace_request_info info = {
            .method = ex->method_str,
            .method_len = ex->method_len,
            .method_plain = ex->method != HTTP_OTHER,
            .path = ex->path,
            .path_len = ex->path_len,
            .path_json = path_json,
            .path_json_len = path_json_len,
            .route = tpl,
            .status = ex->status,
            .protocol = protocol,
            .start_mono_ns = ex->start_ns,
            .end_mono_ns = now,
        };
        trace_export_request(&ex->trace, &info);
    }
    /* Spans (this one, its queries') and the access line wait in this
     * thread's buffers: the worker hands them over within 200 ms. */
    if (l == NULL) {
        if (ex->observed && ex->trace.sampled)
            worker_note_buffered(ex->worker);
        return;
    }
    if (p != NULL)
        log_commit(l, p);
    log_end(l);
    worker_note_buffered(ex->worker);
}
