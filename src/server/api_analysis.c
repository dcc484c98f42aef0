/* api_analysis: GET /api/v1/objects/{id}/analysis (SPEC.md section 3).
 *
 * The path of one request:
 *   1. store_object_version: the object's change_seq (one indexed row);
 *   2. the cache, keyed by (id, change_seq, window, pretty, coding): a hit
 *      is answered at once, or with 304 when If-None-Match matches;
 *   3. a miss: store_analysis_load reads everything in one snapshot; the
 *      job keeps the store's result (store_result_keep: no copy on the
 *      loop) and runs on libuv's thread pool - the input built from the
 *      snapshot, analysis_write, then compression - so that the loop only
 *      does I/O and 500 analyses on one HTTP/2 connection use every core;
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
#include "json.h"
#include "json_path.h"
#include "query.h"
#include "server.h"
#include "store.h"

static atomic_int analyses_in_flight;

typedef struct job job;

/* Called on the loop when the job has its answer: |status| 0 with the
 * body in |body| (or |entry|, a cache reference), else an HTTP status and
 * |error|. The callee frees the job (job_free). */
typedef void (*job_done)(job *j);

struct job {
    exchange *ex;
    job_done done;
    void *owner; /* the summary a job belongs to, if any */
    size_t slot; /* its place in the summary */
    analysis_entry *entry;
    const char *error;
    const store_result *failed; /* during done() only: a store failure */
    buf extracted;              /* the summary's fields of this object */
    uv_work_t work;
    analysis_key key;
    int64_t id;
    /* The snapshot, kept from the store's callback until the thread-pool
     * part has built the input from it. */
    store_result *snap;
    int status; /* 0, or the HTTP status of a failure */
    int coding; /* of |body|: the key's, or identity if not worth it */
    buf body;   /* the answer, in the negotiated coding */
};

static void job_free(job *j) {
    analysis_cache_release(j->entry);
    buf_free(&j->extracted);
    store_result_release(j->snap);
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

/* Answers with |body|, which the exchange refers to until it calls
 * |release|(|arg|): the analysis is not copied again on the loop. */
static void respond(exchange *ex, const analysis_key *k, int coding,
                    const char *body, size_t len, void (*release)(void *),
                    void *arg) {
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
        if (release)
            release(arg);
        exchange_respond(ex, 304, NULL, NULL, 0);
        return;
    }
    exchange_respond_ref(ex, 200, "application/json", body, len, release, arg);
}

static void release_entry(void *e) {
    analysis_cache_release(e);
}

/* ---- the thread-pool part ------------------------------------------- */

/* Readings of one metric usually share one copy of its name. */
static int same_metric(const store_observation *a, const store_observation *b) {
    return a->metric == b->metric || strcmp(a->metric, b->metric) == 0;
}

/* The analysis's input over the snapshot: the strings are the store's,
 * the readings copied into the analysis's (ts, value) series. The arrays
 * are freed by the caller (one allocation, |*mem|). */
static int build_input(const store_result *r, an_input *in, void **mem) {
    const store_object *head = &r->rows[0];
    size_t nrev = r->nrows - 1, nseries = 0;
    for (size_t i = 0; i < r->nobs; i++)
        if (i == 0 || !same_metric(&r->obs[i], &r->obs[i - 1]))
            nseries++;
    /* One block: revisions, series, events, then the readings. */
    size_t sz_rev = (nrev + 1) * sizeof(an_revision),
           sz_ser = (nseries + 1) * sizeof(an_series),
           sz_ev = (r->nevents + 1) * sizeof(an_event),
           sz_obs = (r->nobs + 1) * sizeof(an_obs);
    char *block = malloc(sz_rev + sz_ser + sz_ev + sz_obs);
    if (block == NULL)
        return -ENOMEM;
    an_revision *revs = (an_revision *)block;
    an_series *series = (an_series *)(block + sz_rev);
    an_event *events = (an_event *)(block + sz_rev + sz_ser);
    an_obs *obs = (an_obs *)(block + sz_rev + sz_ser + sz_ev);
    memset(in, 0, sizeof *in);
    in->object.id = head->id;
    in->object.revision = head->revision;
    in->object.updated_at = head->updated_at;
    in->object.type = head->type;
    in->object.name = head->name;
    in->object.attributes = head->attributes;
    in->object.updated_by = head->updated_by;
    for (size_t i = 0; i < nrev; i++) {
        const store_object *rv = &r->rows[i + 1];
        revs[i] = (an_revision){.revision = rv->revision,
                                .updated_at = rv->updated_at,
                                .deleted = rv->deleted,
                                .author = rv->updated_by,
                                .attributes = rv->attributes};
    }
    size_t s = 0;
    for (size_t i = 0; i < r->nobs; i++) {
        if (i == 0 || !same_metric(&r->obs[i], &r->obs[i - 1])) {
            series[s] =
                (an_series){.metric = r->obs[i].metric, .obs = &obs[i], .n = 0};
            s++;
        }
        obs[i].ts = r->obs[i].ts;
        obs[i].value = r->obs[i].value;
        series[s - 1].n++;
    }
    for (size_t i = 0; i < r->nevents; i++) {
        const store_event *e = &r->events[i];
        events[i] = (an_event){.ts = e->ts,
                               .kind = e->kind,
                               .severity = e->severity,
                               .message = e->message,
                               .data = e->data};
    }
    in->revisions = revs;
    in->nrevisions = nrev;
    in->series = series;
    in->nseries = nseries;
    in->events = events;
    in->nevents = r->nevents;
    in->from = r->window_from;
    in->to = r->window_to;
    *mem = block;
    return 0;
}

/* The size of the last analysis this thread wrote: the next one is
 * usually alike, so its buffer starts there instead of growing by
 * doubling (each growth a copy, and fresh pages to fault in). */
static _Thread_local size_t last_text_len;

static void compute(uv_work_t *w) {
    job *j = w->data;
    an_input in;
    void *mem = NULL;
    int rc = build_input(j->snap, &in, &mem);
    if (rc != 0) {
        j->status = 500;
        return;
    }
    buf text;
    buf_init(&text, 256 * 1024 * 1024);
    rc = buf_reserve(&text, last_text_len + last_text_len / 8);
    if (rc == 0)
        rc = analysis_write(&in, j->key.pretty, &text);
    free(mem);
    /* The snapshot is no longer needed: its memory goes back now, on
     * this thread, not when the response is done. */
    store_result_release(j->snap);
    j->snap = NULL;
    if (rc != 0 || buf_append_char(&text, '\n') != 0) {
        j->status = 500;
        buf_free(&text);
        return;
    }
    last_text_len = text.len;
    if (j->key.coding != COMPRESS_IDENTITY && text.len >= COMPRESS_MIN_BYTES) {
        if (compress_encode((compress_coding)j->key.coding, text.data, text.len,
                            &j->body) == 0) {
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
        j->status = 500;
        j->error = "the analysis failed";
    } else if (((server *)ex->server)->opt.analysis_cache_on) {
        analysis_cache_release(
            analysis_cache_put(&j->key, j->coding, j->body.data, j->body.len));
    }
    j->done(j);
}

/* Ends a job early: not found, or the store failed. */
static void job_fail(job *j, int status, const char *error,
                     const store_result *r) {
    j->status = status;
    j->error = error;
    j->failed = r;
    j->done(j);
}

/* Whether |r| (a version or a snapshot) has the live object: then its
 * change_seq is the key's; else |j| is ended (404, or 503 for a store
 * failure). */
static int object_found(job *j, const store_result *r) {
    if (r->status == STORE_NOT_FOUND ||
        (r->status == STORE_OK && r->rows[0].deleted)) {
        job_fail(j, 404, "no such object", NULL);
        return 0;
    }
    if (r->status != STORE_OK) {
        job_fail(j, 503, "the database failed", r);
        return 0;
    }
    j->key.change_seq = r->rows[0].change_seq;
    return 1;
}

static void loaded(const store_result *r, void *arg) {
    job *j = arg;
    exchange *ex = j->ex;
    if (!object_found(j, r))
        return;
    j->snap = store_result_keep(r);
    j->work.data = j;
    if (uv_queue_work(&ex->worker->loop, &j->work, compute, computed) != 0)
        job_fail(j, 503, "the thread pool refused the job", NULL);
}

/* ---- the handler ------------------------------------------------------ */

static void versioned(const store_result *r, void *arg) {
    job *j = arg;
    exchange *ex = j->ex;
    if (!object_found(j, r))
        return;
    j->entry = analysis_cache_get(&j->key);
    if (j->entry) {
        j->done(j);
        return;
    }
    if (store_analysis_load(api_store(ex), j->id, j->key.from, j->key.to,
                            loaded, j) != 0)
        job_fail(j, 503, "the database is not available", NULL);
}

/* Starts |j| (key and id set): through the cache when it is on. Returns 0,
 * or -1 when the store refused the first call (done is not called). */
static int job_start(job *j) {
    server *srv = j->ex->server;
    store_loop *sl = api_store(j->ex);
    return (srv->opt.analysis_cache_on
                ? store_object_version(sl, j->id, versioned, j)
                : store_analysis_load(sl, j->id, j->key.from, j->key.to, loaded,
                                      j)) == 0
               ? 0
               : -1;
}

/* Takes a slot among the analyses in flight; NULL (after answering 503)
 * past --max-analyses-in-flight. */
static job *job_new(exchange *ex, int64_t id) {
    server *srv = ex->server;
    if (atomic_fetch_add(&analyses_in_flight, 1) >=
        srv->opt.max_analyses_in_flight) {
        atomic_fetch_sub(&analyses_in_flight, 1);
        return NULL;
    }
    job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        atomic_fetch_sub(&analyses_in_flight, 1);
        return NULL;
    }
    buf_init(&j->body, 256 * 1024 * 1024);
    buf_init(&j->extracted, 1024 * 1024);
    j->ex = ex;
    j->id = id;
    j->key.id = id;
    return j;
}

/* GET /objects/{id}/analysis answers from the finished job. */
static void analysis_done(job *j) {
    exchange *ex = j->ex;
    if (j->status == 404)
        exchange_problem(ex, 404, NULL, j->error);
    else if (j->failed)
        api_store_failed(ex, j->failed);
    else if (j->status)
        exchange_problem(ex, j->status, NULL, j->error);
    else if (j->entry) {
        /* The job's reference to the cached body becomes the
         * exchange's. */
        size_t len;
        int coding;
        analysis_entry *e = j->entry;
        const char *body = analysis_entry_body(e, &len, &coding);
        j->entry = NULL;
        respond(ex, &j->key, coding, body, len, release_entry, e);
    } else {
        /* Likewise the job's own body, when the cache is off. */
        char *body = j->body.data;
        size_t len = j->body.len;
        buf_init(&j->body, 0);
        respond(ex, &j->key, j->coding, body, len, free, body);
    }
    job_free(j);
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
        api_bad_param(ex, "from", "give from and to together, with from <= to");
        return;
    }
    job *j = job_new(ex, ex->params[0].id);
    if (j == NULL) {
        exchange_add_header(ex, "retry-after", "1", 1);
        exchange_problem(ex, 503, NULL, "too many analyses in progress");
        return;
    }
    j->done = analysis_done;
    j->key.from = from;
    j->key.to = to;
    j->key.pretty = pretty;
    const http_field *ae = exchange_header(ex, "accept-encoding");
    j->key.coding = ae ? (int)compress_negotiate(ae->value, ae->value_len)
                       : COMPRESS_IDENTITY;
    if (job_start(j) != 0) {
        api_call_failed(ex);
        job_free(j);
    }
    (void)srv;
}

/* ---- GET /objects/summary?ids=...&fields=... -------------------------- *
 *
 * A few fields of many analyses in one small response: what a dashboard
 * showing 500 objects needs, rather than 500 analyses of 120 KB each.
 * Each object's analysis goes through the same pipeline (cache, store,
 * thread pool) with SUMMARY_PARALLEL of them in flight; the fields are
 * picked out on the thread pool too, so the loop only does I/O. */

enum { SUMMARY_MAX_IDS = 1000, SUMMARY_MAX_FIELDS = 32, SUMMARY_PARALLEL = 16 };

typedef struct summary {
    exchange *ex;
    int64_t ids[SUMMARY_MAX_IDS];
    size_t n, next, finished;
    int in_flight;
    char *fields_text; /* the fields, NUL-separated */
    const char *fields[SUMMARY_MAX_FIELDS];
    size_t nfields;
    buf *results;            /* one per id, in order */
    const char *unavailable; /* a store failure: 503 at the end */
} summary;

static void summary_next(summary *sm);

/* The summary's fields of one analysis, found by scanning its text
 * (json_path): each value exactly as the analysis has it, or null. */
static void extract(uv_work_t *w) {
    job *j = w->data;
    summary *sm = j->owner;
    size_t len;
    int coding = COMPRESS_IDENTITY;
    const char *body =
        j->entry ? analysis_entry_body(j->entry, &len, &coding) : j->body.data;
    if (!j->entry)
        len = j->body.len;
    buf *o = &j->extracted;
    buf_appendf(o, "{\"id\":%lld,", (long long)j->id);
    if (coding != COMPRESS_IDENTITY || body == NULL) {
        buf_append_str(o, "\"error\":\"the analysis could not be read\"}");
        return;
    }
    buf_append_str(o, "\"fields\":{");
    for (size_t f = 0; f < sm->nfields; f++) {
        if (f)
            buf_append_char(o, ',');
        json_append_string(o, sm->fields[f], strlen(sm->fields[f]));
        buf_append_char(o, ':');
        const char *v;
        size_t vlen;
        if (json_path_find(body, len, sm->fields[f], &v, &vlen) == 0)
            buf_append(o, v, vlen);
        else
            buf_append_str(o, "null");
    }
    buf_append_str(o, "}}");
}

static void summary_respond(summary *sm) {
    exchange *ex = sm->ex;
    if (sm->unavailable) {
        exchange_add_header(ex, "retry-after", "1", 1);
        exchange_problem(ex, 503, NULL, sm->unavailable);
    } else {
        buf *b = &ex->resp_body;
        b->len = 0;
        buf_append_str(b, "{\"items\":[");
        for (size_t i = 0; i < sm->n; i++) {
            if (i)
                buf_append_char(b, ',');
            buf_append(b, sm->results[i].data, sm->results[i].len);
        }
        buf_append_str(b, "]}\n");
        exchange_respond_body(ex, 200, "application/json");
    }
    for (size_t i = 0; i < sm->n; i++)
        buf_free(&sm->results[i]);
    free(sm->results);
    free(sm->fields_text);
    free(sm);
}

static void summary_collect(job *j) {
    summary *sm = j->owner;
    buf *slot = &sm->results[j->slot];
    *slot = j->extracted;
    buf_init(&j->extracted, 0);
    job_free(j);
    sm->in_flight--;
    sm->finished++;
    if (sm->finished == sm->n)
        summary_respond(sm);
    else
        summary_next(sm);
}

static void extracted(uv_work_t *w, int status) {
    job *j = w->data;
    if (status != 0) {
        j->extracted.len = 0;
        buf_appendf(&j->extracted, "{\"id\":%lld,\"error\":\"cancelled\"}",
                    (long long)j->id);
    }
    summary_collect(j);
}

static void summary_job_done(job *j) {
    summary *sm = j->owner;
    if (j->status == 0) {
        j->work.data = j;
        if (uv_queue_work(&j->ex->worker->loop, &j->work, extract, extracted) ==
            0)
            return;
        j->status = 503;
        j->error = "the thread pool refused the job";
    }
    if (j->status == 404)
        buf_appendf(&j->extracted,
                    "{\"id\":%lld,\"error\":\"no such "
                    "object\"}",
                    (long long)j->id);
    else if (!sm->unavailable)
        sm->unavailable = j->failed && j->failed->message
                              ? "the database is not available"
                              : j->error;
    summary_collect(j);
}

/* Records an error for |slot| without a job (answered synchronously). */
static void summary_skip(summary *sm, size_t slot, const char *why) {
    buf_init(&sm->results[slot], 0);
    buf_appendf(&sm->results[slot], "{\"id\":%lld,\"error\":\"%s\"}",
                (long long)sm->ids[slot], why);
    sm->finished++;
}

static void summary_next(summary *sm) {
    while (sm->in_flight < SUMMARY_PARALLEL && sm->next < sm->n) {
        size_t slot = sm->next++;
        job *j = job_new(sm->ex, sm->ids[slot]);
        if (j == NULL) {
            summary_skip(sm, slot, "too many analyses in progress");
            continue;
        }
        j->done = summary_job_done;
        j->owner = sm;
        j->slot = slot;
        if (job_start(j) != 0) {
            job_free(j);
            summary_skip(sm, slot, "the database is not available");
            continue;
        }
        sm->in_flight++;
    }
    /* Everything answered without a job in flight: nobody else will. */
    if (sm->finished == sm->n && sm->in_flight == 0)
        summary_respond(sm);
}

static int valid_path(const char *p) {
    size_t n = strlen(p);
    if (n == 0 || n > 200 || p[0] == '.' || p[n - 1] == '.' || strstr(p, ".."))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!api_valid_token(p + i, 1, 1))
            return 0;
    return 1;
}

static const char *const summary_params[] = {"ids", "fields", NULL};

static void summary_get(exchange *ex) {
    query q;
    if (api_parse_query(ex, &q, summary_params) != 0)
        return;
    summary *sm = calloc(1, sizeof *sm);
    const char *ids = query_get(&q, "ids"), *fields = query_get(&q, "fields");
    if (sm == NULL) {
        exchange_problem(ex, 500, NULL, "out of memory");
        goto fail;
    }
    sm->ex = ex;
    if (ids == NULL || *ids == '\0') {
        api_bad_param(ex, "ids", "ids is required: ids=1,2,3 (at most 1000)");
        goto fail;
    }
    if (fields == NULL || *fields == '\0') {
        api_bad_param(ex, "fields",
                      "fields is required: e.g. "
                      "fields=object.name,metrics.temperature.p99");
        goto fail;
    }
    for (const char *p = ids; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char num[24];
        int64_t id;
        if (len == 0 || len >= sizeof num || sm->n == SUMMARY_MAX_IDS) {
            api_bad_param(ex, "ids",
                          "ids must be 1 to 1000 positive "
                          "integers, comma-separated");
            goto fail;
        }
        memcpy(num, p, len);
        num[len] = '\0';
        if (api_parse_positive(num, &id) != 0) {
            api_bad_param(ex, "ids",
                          "ids must be 1 to 1000 positive "
                          "integers, comma-separated");
            goto fail;
        }
        sm->ids[sm->n++] = id;
        p += len + (comma ? 1 : 0);
        if (comma && *p == '\0') {
            api_bad_param(ex, "ids", "ids must not end with a comma");
            goto fail;
        }
    }
    sm->fields_text = strdup(fields);
    if (sm->fields_text == NULL) {
        exchange_problem(ex, 500, NULL, "out of memory");
        goto fail;
    }
    for (char *save = NULL, *t = strtok_r(sm->fields_text, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (sm->nfields == SUMMARY_MAX_FIELDS || !valid_path(t)) {
            api_bad_param(ex, "fields",
                          "fields are 1 to 32 dotted paths such as "
                          "metrics.temperature.p99");
            goto fail;
        }
        sm->fields[sm->nfields++] = t;
    }
    sm->results = calloc(sm->n, sizeof *sm->results);
    if (sm->results == NULL) {
        exchange_problem(ex, 500, NULL, "out of memory");
        goto fail;
    }
    query_free(&q);
    summary_next(sm);
    return;
fail:
    query_free(&q);
    if (sm) {
        free(sm->fields_text);
        free(sm);
    }
}

/* ---- GET /objects/analysis: every analysis, as NDJSON ----------------- *
 *
 * One object at a time through the analysis pipeline, each written as one
 * line as soon as it is ready. The stream is flow-controlled: when the
 * client reads slowly the protocol says PAUSE and the next analysis waits
 * for on_drain, so the server holds at most about one analysis plus the
 * 256 KiB output mark, whatever the count. */

enum { EXPORT_PAGE = 100 };

typedef struct exporter {
    exchange *ex;
    int64_t from, to;
    int64_t *ids; /* ?ids=, else every live object by id */
    size_t nids, next;
    int64_t page[EXPORT_PAGE];
    size_t npage, inpage;
    int64_t after_id;
    int listing_done, busy, paused, gone;
} exporter;

static void export_next(exporter *x);

static void export_finish(exporter *x) {
    exchange_stream_end(x->ex);
    free(x->ids);
    free(x);
}

static void export_write(exporter *x, const char *line, size_t len) {
    int rc = exchange_stream_write(x->ex, line, len);
    if (rc == EXCHANGE_STREAM_GONE)
        x->gone = 1;
    else if (rc == EXCHANGE_STREAM_PAUSE)
        x->paused = 1;
}

static void export_job_done(job *j) {
    exporter *x = j->owner;
    if (j->status == 0 && j->entry) {
        size_t len;
        int coding;
        const char *body = analysis_entry_body(j->entry, &len, &coding);
        export_write(x, body, len);
    } else if (j->status == 0) {
        export_write(x, j->body.data, j->body.len);
    } else {
        char line[160];
        int n = snprintf(line, sizeof line, "{\"id\":%lld,\"error\":\"%s\"}\n",
                         (long long)j->id,
                         j->status == 404 ? "no such object" : j->error);
        export_write(x, line, (size_t)n);
    }
    job_free(j);
    x->busy = 0;
    export_next(x);
}

static void export_listed(const store_result *r, void *arg) {
    exporter *x = arg;
    x->busy = 0;
    if (r->status != STORE_OK) {
        static const char line[] = "{\"error\":\"the database failed; "
                                   "the export is incomplete\"}\n";
        export_write(x, line, sizeof line - 1);
        x->listing_done = 1;
    } else {
        x->npage = 0;
        x->inpage = 0;
        for (size_t i = 0; i < r->nrows && i < EXPORT_PAGE; i++)
            x->page[x->npage++] = r->rows[i].id;
        if (r->nrows)
            x->after_id = r->rows[r->nrows - 1].id;
        if (!r->has_more)
            x->listing_done = 1;
    }
    export_next(x);
}

static void export_drained(exchange *ex) {
    exporter *x = ex->stream_arg;
    x->paused = 0;
    export_next(x);
}

static void export_next(exporter *x) {
    if (x->busy || x->paused)
        return;
    if (x->gone) {
        export_finish(x);
        return;
    }
    int64_t id = 0;
    if (x->ids) {
        if (x->next < x->nids)
            id = x->ids[x->next++];
    } else if (x->inpage < x->npage) {
        id = x->page[x->inpage++];
    } else if (!x->listing_done) {
        store_list_query q = {.order = STORE_ORDER_ID,
                              .has_cursor = x->after_id > 0,
                              .cursor_id = x->after_id,
                              .limit = EXPORT_PAGE};
        x->busy = 1;
        if (store_object_list(api_store(x->ex), &q, export_listed, x) != 0) {
            x->busy = 0;
            x->gone = 1; /* cannot go on: end the stream short */
            export_finish(x);
        }
        return;
    }
    if (id == 0) {
        export_finish(x);
        return;
    }
    job *j = job_new(x->ex, id);
    if (j == NULL) {
        char line[96];
        int n = snprintf(line, sizeof line,
                         "{\"id\":%lld,\"error\":\"too many analyses in "
                         "progress\"}\n",
                         (long long)id);
        export_write(x, line, (size_t)n);
        export_next(x);
        return;
    }
    j->done = export_job_done;
    j->owner = x;
    j->key.from = x->from;
    j->key.to = x->to;
    x->busy = 1;
    if (job_start(j) != 0) {
        job_free(j);
        x->busy = 0;
        x->gone = 1;
        export_finish(x);
    }
}

static const char *const export_params[] = {"ids", "from", "to", NULL};

static void export_get(exchange *ex) {
    query q;
    if (api_parse_query(ex, &q, export_params) != 0)
        return;
    exporter *x = calloc(1, sizeof *x);
    if (x == NULL) {
        exchange_problem(ex, 500, NULL, "out of memory");
        query_free(&q);
        return;
    }
    x->ex = ex;
    if (api_time_param(ex, &q, "from", &x->from) ||
        api_time_param(ex, &q, "to", &x->to))
        goto fail;
    if ((x->from == 0) != (x->to == 0) || x->from > x->to) {
        api_bad_param(ex, "from", "give from and to together, with from <= to");
        goto fail;
    }
    const char *ids = query_get(&q, "ids");
    if (ids) {
        x->ids = calloc(SUMMARY_MAX_IDS * 10, sizeof *x->ids);
        if (x->ids == NULL) {
            exchange_problem(ex, 500, NULL, "out of memory");
            goto fail;
        }
        for (const char *p = ids; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char num[24];
            if (len == 0 || len >= sizeof num ||
                x->nids == SUMMARY_MAX_IDS * 10) {
                api_bad_param(ex, "ids",
                              "ids must be 1 to 10000 positive "
                              "integers, comma-separated");
                goto fail;
            }
            memcpy(num, p, len);
            num[len] = '\0';
            if (api_parse_positive(num, &x->ids[x->nids]) != 0) {
                api_bad_param(ex, "ids",
                              "ids must be 1 to 10000 positive "
                              "integers, comma-separated");
                goto fail;
            }
            x->nids++;
            p += len + (comma ? 1 : 0);
        }
    }
    query_free(&q);
    exchange_stream_begin(ex, 200, "application/x-ndjson", export_drained, x);
    export_next(x);
    return;
fail:
    query_free(&q);
    free(x->ids);
    free(x);
}

const route api_analysis_routes[] = {
    {HTTP_GET, "/api/v1/objects/{id}/analysis", analysis_get},
    {HTTP_GET, "/api/v1/objects/summary", summary_get},
    {HTTP_GET, "/api/v1/objects/analysis", export_get},
};

const size_t api_analysis_route_count =
    sizeof api_analysis_routes / sizeof api_analysis_routes[0];
