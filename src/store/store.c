/* store: picks the backend by URI scheme and forwards to it. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "timeutil.h"

struct store {
    const store_backend *b;
    void *impl;
    store_loop **loops;
    size_t nloops;
    int pool_size;
};

struct store_loop {
    store *s;
    void *impl;
};

store_result *store_result_keep(const store_result *res) {
    store_result *r = (store_result *)res; /* the backend's own memory */
    *r->kept_ = 1;
    r->kept_ = NULL;
    return r;
}

void store_result_release(store_result *res) {
    if (res != NULL)
        res->release_(res);
}

int store_open(store **out, const store_config *cfg, char *err, size_t errlen) {
    const store_backend *b;
    if (strncmp(cfg->uri, "sqlite:", 7) == 0)
        b = &store_sqlite_backend;
    else if (strncmp(cfg->uri, "postgresql://", 13) == 0 ||
             strncmp(cfg->uri, "postgres://", 11) == 0)
        b = &store_pg_backend;
    else {
        snprintf(err, errlen,
                 "--db '%s': expected sqlite:PATH or postgresql://...",
                 cfg->uri);
        return -1;
    }
    store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->b = b;
    if (b == &store_pg_backend) {
        int pool = cfg->pool_size > 0 ? cfg->pool_size : 16;
        int nloops = cfg->nloops > 0 ? cfg->nloops : 1;
        s->pool_size = (pool + nloops - 1) / nloops * nloops;
    } else {
        const char *env = getenv("UV_THREADPOOL_SIZE");
        s->pool_size = env && atoi(env) > 0 ? atoi(env) : 4;
    }
    if (b->open(&s->impl, cfg, err, errlen) != 0) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int store_migrate(store *s, char *err, size_t errlen) {
    return s->b->migrate(s->impl, err, errlen);
}

int store_ready(store *s) {
    return s->b->ready(s->impl);
}

const char *store_kind(const store *s) {
    return s->b->kind;
}

store_loop *store_loop_attach(store *s, uv_loop_t *loop, int index) {
    store_loop **loops = realloc(s->loops, (s->nloops + 1) * sizeof *loops);
    if (loops == NULL)
        return NULL;
    s->loops = loops;
    store_loop *sl = calloc(1, sizeof *sl);
    if (sl == NULL)
        return NULL;
    sl->s = s;
    sl->impl = s->b->loop_attach(s->impl, loop, index);
    if (sl->impl == NULL) {
        free(sl);
        return NULL;
    }
    s->loops[s->nloops++] = sl;
    return sl;
}

void store_loop_detach(store_loop *sl) {
    sl->s->b->loop_detach(sl->impl);
}

void store_close(store *s) {
    if (s == NULL)
        return;
    s->b->close(s->impl);
    for (size_t i = 0; i < s->nloops; i++)
        free(s->loops[i]);
    free(s->loops);
    free(s);
}

int store_pool_size(const store *s) {
    return s->pool_size;
}

static const char *const query_names[STORE_Q_COUNT] = {
    "object_create",  "object_put",       "object_get",     "object_list",
    "revisions_list", "observations_put", "events_put",     "observations_list",
    "events_list",    "analysis_load",    "object_version",
};

const char *store_query_name(int q) {
    return q >= 0 && q < STORE_Q_COUNT ? query_names[q] : "unknown";
}

/* ---- instrumentation: every call is timed here, and only here ---------- */

static const store_observer *observer;

void store_set_observer(const store_observer *o) {
    observer = o;
}

void store_note_pool_wait(uint64_t wait_ns) {
    if (observer && observer->pool_wait)
        observer->pool_wait(wait_ns);
}

/* One call in flight: the caller's callback and what the observer keeps. */
typedef struct timed_call {
    store_cb cb;
    void *arg;
    void *ctx;
    uint64_t start_ns;
    int query;
} timed_call;

static uint64_t result_rows(const store_result *r) {
    return (uint64_t)r->nrows + (uint64_t)r->nobs + (uint64_t)r->nevents +
           (uint64_t)(r->inserted + r->replaced);
}

static void timed_done(const store_result *res, void *arg) {
    timed_call *t = arg;
    const store_observer *o = observer;
    o->end(t->ctx, t->query, t->start_ns, time_mono_ns(), result_rows(res),
           res->status);
    void *saved = o->enter(t->ctx);
    t->cb(res, t->arg);
    o->leave(saved);
    free(t);
}

/* Wraps |cb|/|arg| when there is an observer; on a synchronous error the
 * wrapper is freed (the callback will not be called). */
#define TIMED(q, fn, ...)                                                      \
    do {                                                                       \
        if (observer == NULL)                                                  \
            return fn(__VA_ARGS__, cb, arg);                                   \
        timed_call *t = malloc(sizeof *t);                                     \
        if (t == NULL)                                                         \
            return -ENOMEM;                                                    \
        t->cb = cb;                                                            \
        t->arg = arg;                                                          \
        t->query = (q);                                                        \
        t->ctx = observer->begin(q);                                           \
        t->start_ns = time_mono_ns();                                          \
        int rc_ = fn(__VA_ARGS__, timed_done, t);                              \
        if (rc_ != 0) {                                                        \
            observer->end(t->ctx, q, t->start_ns, time_mono_ns(), 0,           \
                          STORE_ERROR);                                        \
            free(t);                                                           \
        }                                                                      \
        return rc_;                                                            \
    } while (0)

#define CALL(fn, ...) sl->s->b->fn(sl->impl, __VA_ARGS__)
/* Optional backend functions: without them the call is -ENOSYS (the
 * caller's callback is not called). */
#define OPTIONAL(fn, ...)                                                      \
    (sl->s->b->fn ? sl->s->b->fn(sl->impl, __VA_ARGS__) : -ENOSYS)

#define object_create_(...) CALL(object_create, __VA_ARGS__)
#define object_put_(...) CALL(object_put, __VA_ARGS__)
#define object_get_(...) CALL(object_get, __VA_ARGS__)
#define object_list_(...) CALL(object_list, __VA_ARGS__)
#define revisions_list_(...) CALL(revisions_list, __VA_ARGS__)
#define observations_put_(...) OPTIONAL(observations_put, __VA_ARGS__)
#define events_put_(...) OPTIONAL(events_put, __VA_ARGS__)
#define observations_list_(...) OPTIONAL(observations_list, __VA_ARGS__)
#define events_list_(...) OPTIONAL(events_list, __VA_ARGS__)
#define analysis_load_(...) OPTIONAL(analysis_load, __VA_ARGS__)
#define object_version_(...) OPTIONAL(object_version, __VA_ARGS__)

int store_object_create(store_loop *sl, const store_write *w, store_cb cb,
                        void *arg) {
    TIMED(STORE_Q_OBJECT_CREATE, object_create_, w);
}

int store_object_put(store_loop *sl, const store_write *w, store_cb cb,
                     void *arg) {
    TIMED(STORE_Q_OBJECT_PUT, object_put_, w);
}

int store_object_get(store_loop *sl, int64_t id, int64_t revision,
                     int64_t as_of, store_cb cb, void *arg) {
    TIMED(STORE_Q_OBJECT_GET, object_get_, id, revision, as_of);
}

int store_object_list(store_loop *sl, const store_list_query *q, store_cb cb,
                      void *arg) {
    TIMED(STORE_Q_OBJECT_LIST, object_list_, q);
}

int store_revisions_list(store_loop *sl, int64_t id, int64_t before_revision,
                         int limit, store_cb cb, void *arg) {
    TIMED(STORE_Q_REVISIONS_LIST, revisions_list_, id, before_revision, limit);
}

int store_observations_put(store_loop *sl, int64_t id,
                           const store_observation *obs, size_t n, store_cb cb,
                           void *arg) {
    TIMED(STORE_Q_OBSERVATIONS_PUT, observations_put_, id, obs, n);
}

int store_events_put(store_loop *sl, int64_t id, const store_event *ev,
                     size_t n, store_cb cb, void *arg) {
    TIMED(STORE_Q_EVENTS_PUT, events_put_, id, ev, n);
}

int store_observations_list(store_loop *sl, const store_series_query *q,
                            store_cb cb, void *arg) {
    TIMED(STORE_Q_OBSERVATIONS_LIST, observations_list_, q);
}

int store_events_list(store_loop *sl, const store_series_query *q, store_cb cb,
                      void *arg) {
    TIMED(STORE_Q_EVENTS_LIST, events_list_, q);
}

int store_analysis_load(store_loop *sl, int64_t id, int64_t from, int64_t to,
                        store_cb cb, void *arg) {
    TIMED(STORE_Q_ANALYSIS_LOAD, analysis_load_, id, from, to);
}

int store_object_version(store_loop *sl, int64_t id, store_cb cb, void *arg) {
    TIMED(STORE_Q_OBJECT_VERSION, object_version_, id);
}
