/* api_series: observations and events of an object (SPEC.md section 2).
 *
 * POST takes a batch - a JSON array, or NDJSON (one JSON object per line,
 * Content-Type application/x-ndjson) - validates every element before
 * anything is written (422 names each bad field by JSON pointer, e.g.
 * "/3/value"), then hands the whole batch to the store as one transaction.
 * Ingest is idempotent: one reading per (object, metric, ts), one event per
 * (object, ts, kind); a repeat with the same content changes nothing. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api_util.h"
#include "base64.h"
#include "json.h"
#include "json_canon.h"
#include "query.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"

enum {
    MAX_BATCH = 100000,
    MAX_METRIC_BYTES = 64,
    MAX_MESSAGE_BYTES = 1024,
    MAX_EVENT_DATA_BYTES = 16 * 1024,
    SERIES_DEFAULT_LIMIT = 1000,
    SERIES_MAX_LIMIT = 10000,
};

/* The parsed batch: a JSON array of elements, from either body form. */
static json_t *parse_batch(exchange *ex) {
    const http_field *ct = exchange_header(ex, "content-type");
    int ndjson = ct && ct->value_len >= 20 &&
                 strncasecmp(ct->value, "application/x-ndjson", 20) == 0;
    if (!ndjson) {
        static const char *const types[] = {"application/json",
                                            "application/x-ndjson", NULL};
        if (api_check_content_type(ex, types) != 0)
            return NULL;
        json_t *doc = api_parse_body(ex);
        if (doc && !json_is_array(doc)) {
            json_decref(doc);
            api_problem_pointer(ex, 422, "",
                                "the body must be a JSON array "
                                "(or NDJSON lines)");
            return NULL;
        }
        return doc;
    }
    json_t *arr = json_array();
    const char *p = ex->body ? ex->body : "", *end = p + ex->body_len;
    size_t line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        line++;
        size_t n = (size_t)(e - p);
        while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
            n--;
        if (n > 0) {
            json_error_t err;
            json_t *v = json_loadb(
                p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
            if (v == NULL) {
                char detail[256];
                snprintf(detail, sizeof detail,
                         "malformed JSON on line %zu, column %d: %s", line,
                         err.column, err.text);
                json_decref(arr);
                exchange_problem(ex, 400, NULL, detail);
                return NULL;
            }
            json_array_append_new(arr, v);
        }
        p = e + 1;
    }
    return arr;
}

/* A ts: RFC 3339 string or integer epoch milliseconds. 0 or -1. */
static int parse_ts(json_t *v, int64_t *out) {
    if (json_is_string(v))
        return time_parse_rfc3339_us(json_string_value(v),
                                     json_string_length(v), out) == 0 &&
                       *out > 0
                   ? 0
                   : -1;
    if (json_is_integer(v)) {
        json_int_t ms = json_integer_value(v);
        /* Years 1970 to 9999. */
        if (ms <= 0 || ms > 253402300799999LL)
            return -1;
        *out = (int64_t)ms * 1000;
        return 0;
    }
    return -1;
}

static int check_members(api_errors *fe, json_t *el, size_t i,
                         const char *const *known) {
    const char *key;
    json_t *v;
    int bad = 0;
    json_object_foreach(el, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            if (strcmp(*k, key) == 0)
                ok = 1;
        if (!ok) {
            char ptr[160];
            snprintf(ptr, sizeof ptr, "/%zu", i);
            api_pointer_append(ptr, sizeof ptr, key);
            api_errors_add(fe, ptr, "unknown member");
            bad = 1;
        }
    }
    return bad;
}

static void field_error(api_errors *fe, size_t i, const char *field,
                        const char *detail) {
    char ptr[96];
    snprintf(ptr, sizeof ptr, "/%zu/%s", i, field);
    api_errors_add(fe, ptr, detail);
}

/* ---- ingest --------------------------------------------------------- */

typedef struct ingest {
    exchange *ex;
    json_t *batch; /* keeps the strings the rows point to alive */
    store_observation *obs;
    store_event *ev;
    char **texts; /* canonical event data */
    size_t n;
} ingest;

static void ingest_free(ingest *g) {
    if (g->texts)
        for (size_t i = 0; i < g->n; i++)
            free(g->texts[i]);
    free(g->texts);
    free(g->obs);
    free(g->ev);
    json_decref(g->batch);
    free(g);
}

static void ingested(const store_result *r, void *arg) {
    ingest *g = arg;
    exchange *ex = g->ex;
    if (r->status == STORE_OK) {
        buf *b = &ex->resp_body;
        b->len = 0;
        buf_appendf(b,
                    "{\"inserted\":%lld,\"replaced\":%lld,\"unchanged\":%lld,"
                    "\"change_seq\":%lld}\n",
                    (long long)r->inserted, (long long)r->replaced,
                    (long long)r->unchanged, (long long)r->change_seq);
        exchange_respond_body(ex, 200, "application/json");
    } else if (r->status == STORE_NOT_FOUND) {
        exchange_problem(ex, 404, NULL, "no such object");
    } else {
        api_store_failed(ex, r);
    }
    ingest_free(g);
}

static ingest *ingest_begin(exchange *ex, size_t *n) {
    json_t *batch = parse_batch(ex);
    if (batch == NULL)
        return NULL;
    *n = json_array_size(batch);
    if (*n == 0 || *n > MAX_BATCH) {
        json_decref(batch);
        api_problem_pointer(ex, 422, "", "a batch has 1 to 100000 elements");
        return NULL;
    }
    ingest *g = calloc(1, sizeof *g);
    if (g == NULL) {
        json_decref(batch);
        exchange_problem(ex, 500, NULL, "out of memory");
        return NULL;
    }
    g->ex = ex;
    g->batch = batch;
    g->n = *n;
    return g;
}

static void observations_post(exchange *ex) {
    size_t n;
    ingest *g = ingest_begin(ex, &n);
    if (g == NULL)
        return;
    g->obs = calloc(n, sizeof *g->obs);
    if (g->obs == NULL) {
        exchange_problem(ex, 500, NULL, "out of memory");
        ingest_free(g);
        return;
    }
    static const char *const known[] = {"metric", "ts", "value", NULL};
    api_errors fe;
    api_errors_init(&fe);
    for (size_t i = 0; i < n && fe.count < 32; i++) {
        json_t *el = json_array_get(g->batch, i);
        if (!json_is_object(el)) {
            char ptr[32];
            snprintf(ptr, sizeof ptr, "/%zu", i);
            api_errors_add(&fe, ptr, "must be an object {metric, ts, value}");
            continue;
        }
        check_members(&fe, el, i, known);
        json_t *m = json_object_get(el, "metric");
        if (!json_is_string(m) ||
            !api_valid_token(json_string_value(m), json_string_length(m),
                             MAX_METRIC_BYTES))
            field_error(&fe, i, "metric",
                        "required: 1 to 64 characters of A-Z a-z 0-9 _ - .");
        else
            g->obs[i].metric = json_string_value(m);
        if (parse_ts(json_object_get(el, "ts"), &g->obs[i].ts) != 0)
            field_error(&fe, i, "ts",
                        "required: an RFC 3339 date-time or epoch "
                        "milliseconds");
        json_t *v = json_object_get(el, "value");
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            field_error(&fe, i, "value", "required: a finite number");
        else
            g->obs[i].value = json_number_value(v);
    }
    if (fe.count) {
        api_errors_respond(ex, &fe, 422,
                           "the batch is not valid; nothing "
                           "was written");
        ingest_free(g);
        return;
    }
    api_errors_free(&fe);
    if (store_observations_put(api_store(ex), ex->params[0].id, g->obs, n,
                               ingested, g) != 0) {
        api_call_failed(ex);
        ingest_free(g);
    }
}

static int valid_severity(const char *s) {
    static const char *const levels[] = {"debug", "info",     "warning",
                                         "error", "critical", NULL};
    for (const char *const *l = levels; *l; l++)
        if (strcmp(*l, s) == 0)
            return 1;
    return 0;
}

static void events_post(exchange *ex) {
    size_t n;
    ingest *g = ingest_begin(ex, &n);
    if (g == NULL)
        return;
    g->ev = calloc(n, sizeof *g->ev);
    g->texts = calloc(n, sizeof *g->texts);
    if (g->ev == NULL || g->texts == NULL) {
        exchange_problem(ex, 500, NULL, "out of memory");
        ingest_free(g);
        return;
    }
    static const char *const known[] = {"ts",      "kind", "severity",
                                        "message", "data", NULL};
    api_errors fe;
    api_errors_init(&fe);
    for (size_t i = 0; i < n && fe.count < 32; i++) {
        json_t *el = json_array_get(g->batch, i);
        if (!json_is_object(el)) {
            char ptr[32];
            snprintf(ptr, sizeof ptr, "/%zu", i);
            api_errors_add(&fe, ptr, "must be an object {ts, kind, ...}");
            continue;
        }
        check_members(&fe, el, i, known);
        store_event *e = &g->ev[i];
        if (parse_ts(json_object_get(el, "ts"), &e->ts) != 0)
            field_error(&fe, i, "ts",
                        "required: an RFC 3339 date-time or epoch "
                        "milliseconds");
        json_t *k = json_object_get(el, "kind");
        if (!json_is_string(k) ||
            !api_valid_token(json_string_value(k), json_string_length(k),
                             MAX_METRIC_BYTES))
            field_error(&fe, i, "kind",
                        "required: 1 to 64 characters of A-Z a-z 0-9 _ - .");
        else
            e->kind = json_string_value(k);
        json_t *s = json_object_get(el, "severity");
        if (s == NULL)
            e->severity = "info";
        else if (!json_is_string(s) || !valid_severity(json_string_value(s)))
            field_error(&fe, i, "severity",
                        "one of debug, info, warning, error, critical");
        else
            e->severity = json_string_value(s);
        json_t *m = json_object_get(el, "message");
        if (m == NULL)
            e->message = "";
        else if (!json_is_string(m) ||
                 json_string_length(m) > MAX_MESSAGE_BYTES)
            field_error(&fe, i, "message", "a string of at most 1024 bytes");
        else
            e->message = json_string_value(m);
        json_t *d = json_object_get(el, "data");
        if (d && !json_is_null(d)) {
            buf t;
            buf_init(&t, MAX_EVENT_DATA_BYTES + 1);
            if (json_canonical(d, &t) != 0 || buf_append_char(&t, '\0')) {
                field_error(&fe, i, "data", "at most 16 KiB as JSON");
                buf_free(&t);
            } else {
                g->texts[i] = t.data;
                e->data = t.data;
            }
        }
    }
    if (fe.count) {
        api_errors_respond(ex, &fe, 422,
                           "the batch is not valid; nothing "
                           "was written");
        ingest_free(g);
        return;
    }
    api_errors_free(&fe);
    if (store_events_put(api_store(ex), ex->params[0].id, g->ev, n, ingested,
                         g) != 0) {
        api_call_failed(ex);
        ingest_free(g);
    }
}

/* ---- lists ---------------------------------------------------------- */

typedef struct listing {
    exchange *ex;
    int events;
    store_series_query q;
    char filter[MAX_METRIC_BYTES + 1];
    char cursor_key[MAX_METRIC_BYTES + 1];
    char link_base[512];
} listing;

static void append_ts(buf *b, int64_t us) {
    char t[32];
    size_t n = time_format_rfc3339_us(us, t);
    buf_append_char(b, '"');
    buf_append(b, t, n);
    buf_append_char(b, '"');
}

static void listed(const store_result *r, void *arg) {
    listing *l = arg;
    exchange *ex = l->ex;
    if (r->status == STORE_NOT_FOUND) {
        exchange_problem(ex, 404, NULL, "no such object");
        free(l);
        return;
    }
    if (r->status != STORE_OK) {
        api_store_failed(ex, r);
        free(l);
        return;
    }
    buf *b = &ex->resp_body;
    b->len = 0;
    buf_append_str(b, "{\"items\":[");
    size_t count = l->events ? r->nevents : r->nobs;
    for (size_t i = 0; i < count; i++) {
        if (i)
            buf_append_char(b, ',');
        if (l->events) {
            const store_event *e = &r->events[i];
            buf_append_str(b, "{\"ts\":");
            append_ts(b, e->ts);
            buf_append_str(b, ",\"kind\":");
            json_append_string(b, e->kind, strlen(e->kind));
            buf_append_str(b, ",\"severity\":");
            json_append_string(b, e->severity, strlen(e->severity));
            buf_append_str(b, ",\"message\":");
            json_append_string(b, e->message, strlen(e->message));
            buf_append_str(b, ",\"data\":");
            buf_append_str(b, e->data ? e->data : "null");
            buf_append_char(b, '}');
        } else {
            const store_observation *o = &r->obs[i];
            buf_append_str(b, "{\"metric\":");
            json_append_string(b, o->metric, strlen(o->metric));
            buf_append_str(b, ",\"ts\":");
            append_ts(b, o->ts);
            buf_append_str(b, ",\"value\":");
            json_append_double(b, o->value);
            buf_append_char(b, '}');
        }
    }
    char raw[128];
    if (r->has_more && count > 0) {
        int64_t ts = l->events ? r->events[count - 1].ts : r->obs[count - 1].ts;
        const char *key =
            l->events ? r->events[count - 1].kind : r->obs[count - 1].metric;
        snprintf(raw, sizeof raw, "s:%lld:%s", (long long)ts, key);
    }
    api_page_respond(ex, r->has_more && count > 0 ? raw : NULL, l->link_base);
    free(l);
}

static void series_list(exchange *ex, int events) {
    static const char *const obs_params[] = {"metric", "from",   "to",
                                             "limit",  "cursor", NULL};
    static const char *const ev_params[] = {"kind",  "from",   "to",
                                            "limit", "cursor", NULL};
    const char *fname = events ? "kind" : "metric";
    query q;
    if (api_parse_query(ex, &q, events ? ev_params : obs_params) != 0)
        return;
    listing *l = calloc(1, sizeof *l);
    if (l == NULL) {
        exchange_problem(ex, 500, NULL, "out of memory");
        query_free(&q);
        return;
    }
    l->ex = ex;
    l->events = events;
    l->q.id = ex->params[0].id;
    const char *f = query_get(&q, fname);
    int limit = 0;
    if (f) {
        if (!api_valid_token(f, strlen(f), MAX_METRIC_BYTES)) {
            api_bad_param(ex, fname, "1 to 64 characters of A-Z a-z 0-9 _ - .");
            goto fail;
        }
        snprintf(l->filter, sizeof l->filter, "%s", f);
        l->q.filter = l->filter;
    }
    if (api_time_param(ex, &q, "from", &l->q.from) ||
        api_time_param(ex, &q, "to", &l->q.to) ||
        api_limit_param(ex, &q, SERIES_DEFAULT_LIMIT, SERIES_MAX_LIMIT, &limit))
        goto fail;
    l->q.limit = limit;
    const char *cursor = query_get(&q, "cursor");
    if (cursor) {
        char raw[160];
        long long ts;
        int consumed = 0;
        if (api_read_cursor(cursor, raw, sizeof raw) != 0 ||
            sscanf(raw, "s:%lld:%n", &ts, &consumed) != 1 || consumed == 0 ||
            !api_valid_token(raw + consumed, strlen(raw + consumed),
                             MAX_METRIC_BYTES)) {
            api_bad_param(ex, "cursor", "cursor is not one this list gave out");
            goto fail;
        }
        snprintf(l->cursor_key, sizeof l->cursor_key, "%s", raw + consumed);
        l->q.has_cursor = 1;
        l->q.cursor_ts = ts;
        l->q.cursor_key = l->cursor_key;
    }
    size_t n = (size_t)snprintf(
        l->link_base, sizeof l->link_base, "/api/v1/objects/%lld/%s?limit=%d",
        (long long)l->q.id, events ? "events" : "observations", limit);
    /* The next page keeps every filter; only the cursor changes. */
    const char *keep[] = {fname, "from", "to"};
    for (size_t k = 0; k < 3 && n < sizeof l->link_base; k++) {
        const char *v = query_get(&q, keep[k]);
        if (v)
            n += api_query_append(l->link_base + n, sizeof l->link_base - n,
                                  keep[k], v);
    }
    query_free(&q);
    if ((events
             ? store_events_list(api_store(ex), &l->q, listed, l)
             : store_observations_list(api_store(ex), &l->q, listed, l)) != 0) {
        api_call_failed(ex);
        free(l);
    }
    return;
fail:
    query_free(&q);
    free(l);
}

static void observations_get(exchange *ex) {
    series_list(ex, 0);
}

static void events_get(exchange *ex) {
    series_list(ex, 1);
}

const route api_series_routes[] = {
    {HTTP_POST, "/api/v1/objects/{id}/observations", observations_post},
    {HTTP_GET, "/api/v1/objects/{id}/observations", observations_get},
    {HTTP_POST, "/api/v1/objects/{id}/events", events_post},
    {HTTP_GET, "/api/v1/objects/{id}/events", events_get},
};

const size_t api_series_route_count =
    sizeof api_series_routes / sizeof api_series_routes[0];
