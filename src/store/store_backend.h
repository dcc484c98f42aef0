/* store_backend: what a storage backend implements (private to src/store).
 * store.c picks the backend by the URI's scheme and forwards each call;
 * the semantics of every function are those of store.h. */
#ifndef OBJECTD_STORE_BACKEND_H
#define OBJECTD_STORE_BACKEND_H

#include "store.h"

typedef struct store_backend {
    const char *kind; /* "sqlite", "postgresql" */
    int (*open)(void **impl, const store_config *cfg, char *err, size_t errlen);
    int (*migrate)(void *impl, char *err, size_t errlen);
    int (*ready)(void *impl);
    void *(*loop_attach)(void *impl, uv_loop_t *loop, int index);
    void (*loop_detach)(void *loop_impl);
    void (*close)(void *impl);
    int (*object_create)(void *loop_impl, const store_write *w, store_cb cb,
                         void *arg);
    int (*object_put)(void *loop_impl, const store_write *w, store_cb cb,
                      void *arg);
    int (*object_get)(void *loop_impl, int64_t id, int64_t revision,
                      int64_t as_of, store_cb cb, void *arg);
    int (*object_list)(void *loop_impl, const store_list_query *q, store_cb cb,
                       void *arg);
    int (*revisions_list)(void *loop_impl, int64_t id, int64_t before_revision,
                          int limit, store_cb cb, void *arg);
    int (*observations_put)(void *loop_impl, int64_t id,
                            const store_observation *obs, size_t n, store_cb cb,
                            void *arg);
    int (*events_put)(void *loop_impl, int64_t id, const store_event *ev,
                      size_t n, store_cb cb, void *arg);
    int (*observations_list)(void *loop_impl, const store_series_query *q,
                             store_cb cb, void *arg);
    int (*events_list)(void *loop_impl, const store_series_query *q,
                       store_cb cb, void *arg);
    int (*analysis_load)(void *loop_impl, int64_t id, int64_t from, int64_t to,
                         store_cb cb, void *arg);
    int (*object_version)(void *loop_impl, int64_t id, store_cb cb, void *arg);
} store_backend;

/* A backend reports how long an operation waited for a pooled connection
 * (or a thread) before it ran; any thread. */
void store_note_pool_wait(uint64_t wait_ns);

extern const store_backend store_sqlite_backend;
extern const store_backend store_pg_backend;

#endif
