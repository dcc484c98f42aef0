/* api_analysis: GET /api/v1/objects/{id}/analysis (SPEC.md section 3).
 *
 * The path of one request:
 *   1. store_object_version: the object's change_seq (one indexed row);
 *   2. the cache, keyed by (id, change_seq, window, pretty, coding): a hit
 *      is answered at once, or with 304 when If-None-Match matches;
 *   3. a miss: store_analysis_load reads everything in one snapshot, the
 *      rows are copied into a job, and the job runs on libuv's thread pool
 *      - analysis_write, then compression - so that the loop only does
 *      I/O and 500 analyses on one HTTP/2 connection use every core;
 *   4. the body goes into the cache (compressed once per coding) and out.
 * The ETag names the change_seq, window, format and coding, so a changed
 * object is never answered 304 and never served stale. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "analysis_cache.h"
#include "api.h"
#include "api_util.h"
#include "compress.h"
#include "query.h"
#include "server.h"
#include "store.h"

static atomic_int analyses_in_flight;

typedef struct job {
    exchange *ex;
    uv_work_t work;
    analysis_key key;
    int64_t id;
    /* The input, copied out of the store's result (valid only during its
     * callback) into memory the thread-pool job owns. */
    an_input in;
    an_revision *revisions;
    an_series *series;
    an_obs *obs;
    an_event *events;
    buf strings; /* every string the input points to */
    size_t *offsets; /* where each string starts, resolved after copying */
    int status;      /* 0, or the HTTP status of a failure */
    int coding;      /* of |body|: the key's, or identity if not worth it */
    buf body;        /* the answer, in the negotiated coding */
} job;

static void job_free(job *j) {
    free(j->offsets);
    free(j->revisions);
    free(j->series);
    free(j->obs);
    free(j->events);
    buf_free(&j->strings);
    buf_free(&j->body);
    free(j);
    atomic_fetch_sub(&analyses_in_flight, 1);
}

static void etag_of(const analysis_key *k, char *out, size_t outlen) {
    snprintf(out, outlen, "\"a%lld.%lld.%llx.%s%s\"", (long long)k->id,
             (long long)k->change_seq,
             (unsigned long long)((uint64_t)k->from * 31u ^ (uint64_t)k->to),
             k->pretty ? "p" : "c", compress_name((compress_coding)k->coding));
}

static int if_none_match(exchange *ex, const char *etag) {
    const http_field *f = exchange_header(ex, "if-none-match");
    if (f == NULL)
        return 0;
    size_t n = strlen(etag);
    for (size_t i = 0; i + n <= f->value_len; i++)
        if (memcmp(f->value + i, etag, n) == 0)
            return 1;
    return f->value_len == 1 && f->value[0] == '*';
}

static void respond(exchange *ex, const analysis_key *k, int coding,
                    const char *body, size_t len) {
    char etag[96];
    analysis_key sent = *k;
    sent.coding = coding;
    etag_of(&sent, etag, sizeof etag);
    exchange_add_header(ex, "etag", etag, strlen(etag));
    exchange_add_header(ex, "vary", "Accept-Encoding", 15);
    exchange_add_header(ex, "cache-control", "no-cache", 8);
    if (coding != COMPRESS_IDENTITY) {
        const char *name = compress_name((compress_coding)coding);
        exchange_add_header(ex, "content-encoding", name, strlen(name));
    }
    if (if_none_match(ex, etag)) {
        exchange_respond(ex, 304, NULL, NULL, 0);
        return;
    }
    exchange_respond(ex, 200, "application/json", body, len);
}

/* ---- the thread-pool part ------------------------------------------- */

static const char *str_at(const job *j, size_t off) {
    return off == SIZE_MAX ? NULL : j->strings.data + off;
}

static void compute(uv_work_t *w) {
    job *j = w->data;
    /* Resolve the string offsets into pointers now that |strings| no
     * longer moves. */
    size_t *o = j->offsets;
    an_input *in = &j->in;
    in->object.type = str_at(j, *o++);
    in->object.name = str_at(j, *o++);
    in->object.attributes = str_at(j, *o++);
    in->object.updated_by = str_at(j, *o++);
    for (size_t i = 0; i < in->nrevisions; i++) {
        j->revisions[i].author = str_at(j, *o++);
        j->revisions[i].attributes = str_at(j, *o++);
    }
    for (size_t i = 0; i < in->nseries; i++)
        j->series[i].metric = str_at(j, *o++);
    for (size_t i = 0; i < in->nevents; i++) {
        j->events[i].kind = str_at(j, *o++);
        j->events[i].severity = str_at(j, *o++);
        j->events[i].message = str_at(j, *o++);
        j->events[i].data = str_at(j, *o++);
    }
    buf text;
    buf_init(&text, 256 * 1024 * 1024);
    if (analysis_write(in, j->key.pretty, &text) != 0 ||
        buf_append_char(&text, '\n') != 0) {
        j->status = 500;
        buf_free(&text);
        return;
    }
    if (j->key.coding != COMPRESS_IDENTITY &&
        text.len >= COMPRESS_MIN_BYTES) {
        if (compress_encode((compress_coding)j->key.coding, text.data,
                            text.len, &j->body) == 0) {
            j->coding = j->key.coding;
            buf_free(&text);
            return;
        }
        j->body.len = 0;
    }
    j->coding = COMPRESS_IDENTITY; /* small, or compression failed */
    buf_free(&j->body);
    j->body = text;
}

static void computed(uv_work_t *w, int status) {
    job *j = w->data;
    exchange *ex = j->ex;
    if (status != 0 || j->status) {
        exchange_problem(ex, 500, NULL, "the analysis failed");
        job_free(j);
        return;
    }
    if (ex->server && ((server *)ex->server)->opt.analysis_cache_on)
        analysis_cache_release(analysis_cache_put(&j->key, j->coding,
                                                  j->body.data, j->body.len));
    respond(ex, &j->key, j->coding, j->body.data, j->body.len);
    job_free(j);
}

/* ---- copying the store's rows into the job --------------------------- */

/* Strings are stored by offset (the buffer moves while it grows) and
 * turned into pointers in compute(); NULL is kept as SIZE_MAX. */
static int add_string(job *j, size_t *offs, size_t *n, const char *s) {
    if (s == NULL) {
        offs[(*n)++] = SIZE_MAX;
        return 0;
    }
    offs[(*n)++] = j->strings.len;
    return buf_append(&j->strings, s, strlen(s) + 1);
}

static int copy_input(job *j, const store_result *r) {
    const store_object *head = &r->rows[0];
    size_t nrev = r->nrows - 1, nseries = 0;
    for (size_t i = 0; i < r->nobs; i++)
        if (i == 0 || strcmp(r->obs[i].metric, r->obs[i - 1].metric) != 0)
            nseries++;
    size_t nstrings = 4 + 2 * nrev + nseries + 4 * r->nevents;
    j->offsets = calloc(nstrings + 1, sizeof *j->offsets);
    j->revisions = calloc(nrev + 1, sizeof *j->revisions);
    j->series = calloc(nseries + 1, sizeof *j->series);
    j->obs = calloc(r->nobs + 1, sizeof *j->obs);
    j->events = calloc(r->nevents + 1, sizeof *j->events);
    buf_init(&j->strings, 0);
    if (!j->offsets || !j->revisions || !j->series || !j->obs || !j->events)
        return -ENOMEM;
    size_t n = 0;
    int rc = 0;
    an_input *in = &j->in;
    in->object.id = head->id;
    in->object.revision = head->revision;
    in->object.updated_at = head->updated_at;
    rc |= add_string(j, j->offsets, &n, head->type);
    rc |= add_string(j, j->offsets, &n, head->name);
    rc |= add_string(j, j->offsets, &n, head->attributes);
    rc |= add_string(j, j->offsets, &n, head->updated_by);
    for (size_t i = 0; i < nrev; i++) {
        const store_object *rv = &r->rows[i + 1];
        j->revisions[i].revision = rv->revision;
        j->revisions[i].updated_at = rv->updated_at;
        j->revisions[i].deleted = rv->deleted;
        rc |= add_string(j, j->offsets, &n, rv->updated_by);
        rc |= add_string(j, j->offsets, &n, rv->attributes);
    }
    size_t s = 0;
    for (size_t i = 0; i < r->nobs; i++) {
        if (i == 0 || strcmp(r->obs[i].metric, r->obs[i - 1].metric) != 0) {
            j->series[s].obs = &j->obs[i];
            j->series[s].n = 0;
            rc |= add_string(j, j->offsets, &n, r->obs[i].metric);
            s++;
        }
        j->obs[i].ts = r->obs[i].ts;
        j->obs[i].value = r->obs[i].value;
        j->series[s - 1].n++;
    }
    for (size_t i = 0; i < r->nevents; i++) {
        j->events[i].ts = r->events[i].ts;
        rc |= add_string(j, j->offsets, &n, r->events[i].kind);
        rc |= add_string(j, j->offsets, &n, r->events[i].severity);
        rc |= add_string(j, j->offsets, &n, r->events[i].message);
        rc |= add_string(j, j->offsets, &n, r->events[i].data);
    }
    in->revisions = j->revisions;
    in->nrevisions = nrev;
    in->series = j->series;
    in->nseries = nseries;
    in->events = j->events;
    in->nevents = r->nevents;
    in->from = r->window_from;
    in->to = r->window_to;
    return rc ? -ENOMEM : 0;
}

static void loaded(const store_result *r, void *arg) {
    job *j = arg;
    exchange *ex = j->ex;
    if (r->status == STORE_NOT_FOUND ||
        (r->status == STORE_OK && r->rows[0].deleted)) {
        exchange_problem(ex, 404, NULL, "no such object");
        job_free(j);
        return;
    }
    if (r->status != STORE_OK) {
        api_store_failed(ex, r);
        job_free(j);
        return;
    }
    j->key.change_seq = r->rows[0].change_seq;
    if (copy_input(j, r) != 0) {
        exchange_problem(ex, 500, NULL, "out of memory");
        job_free(j);
        return;
    }
    j->work.data = j;
    if (uv_queue_work(&ex->worker->loop, &j->work, compute, computed) != 0) {
        api_call_failed(ex);
        job_free(j);
    }
}

/* ---- the handler ------------------------------------------------------ */

static void versioned(const store_result *r, void *arg) {
    job *j = arg;
    exchange *ex = j->ex;
    if (r->status == STORE_NOT_FOUND ||
        (r->status == STORE_OK && r->rows[0].deleted)) {
        exchange_problem(ex, 404, NULL, "no such object");
        job_free(j);
        return;
    }
    if (r->status != STORE_OK) {
        api_store_failed(ex, r);
        job_free(j);
        return;
    }
    j->key.change_seq = r->rows[0].change_seq;
    analysis_entry *e = analysis_cache_get(&j->key);
    if (e) {
        size_t len;
        int coding;
        const char *body = analysis_entry_body(e, &len, &coding);
        respond(ex, &j->key, coding, body, len);
        analysis_cache_release(e);
        job_free(j);
        return;
    }
    if (store_analysis_load(api_store(ex), j->id, j->key.from, j->key.to,
                            loaded, j) != 0) {
        api_call_failed(ex);
        job_free(j);
    }
}

static const char *const analysis_params[] = {"from", "to", "pretty", NULL};

static void analysis_get(exchange *ex) {
    server *srv = ex->server;
    query q;
    if (api_parse_query(ex, &q, analysis_params) != 0)
        return;
    int64_t from, to;
    int pretty = 0;
    const char *p = query_get(&q, "pretty");
    if (api_time_param(ex, &q, "from", &from) ||
        api_time_param(ex, &q, "to", &to)) {
        query_free(&q);
        return;
    }
    if (p && strcmp(p, "true") && strcmp(p, "false") && strcmp(p, "1") &&
        strcmp(p, "0")) {
        api_bad_param(ex, "pretty", "pretty must be true or false");
        query_free(&q);
        return;
    }
    pretty = p && (strcmp(p, "true") == 0 || strcmp(p, "1") == 0);
    query_free(&q);
    if ((from && !to) || (!from && to) || (from && to && from > to)) {
        api_bad_param(ex, "from",
                      "give from and to together, with from <= to");
        return;
    }
    if (atomic_fetch_add(&analyses_in_flight, 1) >=
        srv->opt.max_analyses_in_flight) {
        atomic_fetch_sub(&analyses_in_flight, 1);
        exchange_add_header(ex, "retry-after", "1", 1);
        exchange_problem(ex, 503, NULL, "too many analyses in progress");
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        atomic_fetch_sub(&analyses_in_flight, 1);
        exchange_problem(ex, 500, NULL, "out of memory");
        return;
    }
    buf_init(&j->body, 256 * 1024 * 1024);
    j->ex = ex;
    j->id = ex->params[0].id;
    j->key.id = j->id;
    j->key.from = from;
    j->key.to = to;
    j->key.pretty = pretty;
    const http_field *ae = exchange_header(ex, "accept-encoding");
    j->key.coding = ae ? (int)compress_negotiate(ae->value, ae->value_len)
                       : COMPRESS_IDENTITY;
    int rc = srv->opt.analysis_cache_on
                 ? store_object_version(api_store(ex), j->id, versioned, j)
                 : store_analysis_load(api_store(ex), j->id, from, to,
                                       loaded, j);
    if (rc != 0) {
        api_call_failed(ex);
        job_free(j);
    }
}

const route api_analysis_routes[] = {
    {HTTP_GET, "/api/v1/objects/{id}/analysis", analysis_get},
};

const size_t api_analysis_route_count =
    sizeof api_analysis_routes / sizeof api_analysis_routes[0];
