/* store: picks the backend by URI scheme and forwards to it. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"

struct store {
    const store_backend *b;
    void *impl;
    store_loop **loops;
    size_t nloops;
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

int store_object_create(store_loop *sl, const store_write *w, store_cb cb,
                        void *arg) {
    return sl->s->b->object_create(sl->impl, w, cb, arg);
}

int store_object_put(store_loop *sl, const store_write *w, store_cb cb,
                     void *arg) {
    return sl->s->b->object_put(sl->impl, w, cb, arg);
}

int store_object_get(store_loop *sl, int64_t id, int64_t revision,
                     int64_t as_of, store_cb cb, void *arg) {
    return sl->s->b->object_get(sl->impl, id, revision, as_of, cb, arg);
}

int store_object_list(store_loop *sl, const store_list_query *q, store_cb cb,
                      void *arg) {
    return sl->s->b->object_list(sl->impl, q, cb, arg);
}

int store_revisions_list(store_loop *sl, int64_t id, int64_t before_revision,
                         int limit, store_cb cb, void *arg) {
    return sl->s->b->revisions_list(sl->impl, id, before_revision, limit, cb,
                                    arg);
}

/* The functions below are forwarded only if the backend has them: a
 * backend without them answers -ENOSYS (the caller's callback is not
 * called). */
#define FORWARD(fn, ...)                                                       \
    (sl->s->b->fn ? sl->s->b->fn(sl->impl, __VA_ARGS__) : -ENOSYS)

int store_observations_put(store_loop *sl, int64_t id,
                           const store_observation *obs, size_t n, store_cb cb,
                           void *arg) {
    return FORWARD(observations_put, id, obs, n, cb, arg);
}

int store_events_put(store_loop *sl, int64_t id, const store_event *ev,
                     size_t n, store_cb cb, void *arg) {
    return FORWARD(events_put, id, ev, n, cb, arg);
}

int store_observations_list(store_loop *sl, const store_series_query *q,
                            store_cb cb, void *arg) {
    return FORWARD(observations_list, q, cb, arg);
}

int store_events_list(store_loop *sl, const store_series_query *q, store_cb cb,
                      void *arg) {
    return FORWARD(events_list, q, cb, arg);
}

int store_analysis_load(store_loop *sl, int64_t id, int64_t from, int64_t to,
                        store_cb cb, void *arg) {
    return FORWARD(analysis_load, id, from, to, cb, arg);
}

int store_object_version(store_loop *sl, int64_t id, store_cb cb, void *arg) {
    return FORWARD(object_version, id, cb, arg);
}
