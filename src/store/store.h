/* store: revisioned objects, behind one asynchronous interface with two
 * backends - embedded SQLite (store_sqlite.c) and PostgreSQL (store_pg.c).
 *
 * The model. Every write appends an immutable revision to `revisions` and,
 * in the same transaction, moves the object's head row in `objects` (which
 * carries a copy of the latest revision's fields). "Latest revisions,
 * filtered by type, ordered by updated_at" is therefore a walk of an index
 * on the head table that stops after |limit| rows - never the
 * `DISTINCT ON (id) ... ORDER BY id, revision DESC` view that scans every
 * revision. A delete is a tombstone revision (deleted = 1); the history
 * stays readable.
 *
 * Threads. store_open, store_migrate and store_close are blocking and run at
 * start-up or shutdown, on the main thread. Everything else is
 * asynchronous: called on a worker's loop thread with that loop's
 * store_loop, it returns at once, and |cb| is later called exactly once on
 * the same loop thread - unless the call itself returns an error, in which
 * case |cb| is never called. SQLite work runs on libuv's thread pool (one
 * writer connection, one reader connection per pool thread); PostgreSQL is
 * libpq in non-blocking mode on the loop itself, with a bounded pool per
 * loop.
 *
 * Ownership. Request structs and their strings only need to live until
 * the call returns (the store copies what it keeps). A store_result and
 * everything it points to belongs to the store and is valid only during
 * the callback.
 *
 * Times are microseconds since the Unix epoch (UTC), set by the store when
 * it writes. */
#ifndef OBJECTD_STORE_H
#define OBJECTD_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct store store;
typedef struct store_loop store_loop;

/* Result status codes (store_result.status). */
enum {
    STORE_OK = 0,
    STORE_NOT_FOUND = 1,   /* no such object (or revision) -> 404 */
    STORE_CONFLICT = 2,    /* expected_revision is not the head -> 412 */
    STORE_EXISTS = 3,      /* create with an id that is taken -> 409 */
    STORE_UNAVAILABLE = 4, /* pool wait timed out, database down -> 503 */
    STORE_ERROR = 5,       /* anything else -> 500 */
};

typedef struct store_object {
    int64_t id;
    int64_t revision;
    const char *type;
    const char *name;
    const char *attributes; /* a JSON object, as text */
    int64_t created_at;     /* when revision 1 was written */
    int64_t updated_at;     /* when this revision was written */
    const char *updated_by; /* this revision's author */
    int deleted;            /* a tombstone revision */
    int64_t change_seq;     /* bumped by every write touching the object */
} store_object;

typedef struct store_observation {
    const char *metric; /* 1-64 chars of [A-Za-z0-9_.-] (validated above) */
    int64_t ts;         /* microseconds since the epoch */
    double value;       /* finite */
} store_observation;

typedef struct store_event {
    int64_t ts;
    const char *kind;     /* 1-64 chars of [A-Za-z0-9_.-] */
    const char *severity; /* "debug", "info", "warning", "error", "critical" */
    const char *message;  /* 0-1024 bytes */
    const char *data;     /* canonical JSON text, or NULL */
} store_event;

typedef struct store_result {
    int status;
    const char *message; /* for STORE_ERROR/UNAVAILABLE; may be NULL */
    store_object *rows;  /* objects; for store_analysis_load: rows[0] is
                            the head, rows[1..] every revision ascending */
    size_t nrows;
    int has_more; /* lists: at least one more row after these */
    /* Observations and events (their lists, and store_analysis_load). */
    store_observation *obs;
    size_t nobs;
    store_event *events;
    size_t nevents;
    /* Ingest: rows new, rows whose value changed, rows already there with
     * the same value; and the object's change_seq afterwards. */
    int64_t inserted, replaced, unchanged;
    int64_t change_seq;
    /* store_analysis_load: the window used and the newest observation of
     * the object overall (0 if none). */
    int64_t window_from, window_to, newest_ts;
    /* Private to the backends, for store_result_keep: frees a kept
     * result and the request it lives in; and where to say it was kept -
     * a variable on the completing thread's stack, as the request itself
     * may be freed by another thread as soon as the callback returns. */
    void (*release_)(struct store_result *res);
    int *kept_;
} store_result;

typedef void (*store_cb)(const store_result *res, void *arg);

/* During a callback: takes |res| and everything it points to, which then
 * outlive the callback until store_result_release - and may be read, and
 * released, on any thread. So a caller hands a large result (an analysis
 * snapshot) to the thread pool without copying it on the loop. Returns
 * |res|, now the caller's. */
store_result *store_result_keep(const store_result *res);
void store_result_release(store_result *res);

typedef struct store_config {
    const char *uri;              /* "sqlite:PATH" or "postgresql://..." */
    int sync_full;                /* SQLite: synchronous=FULL (else NORMAL) */
    int pool_size;                /* PostgreSQL: connections for the process */
    int64_t pool_timeout_ms;      /* PostgreSQL: acquire wait, then 503 */
    int64_t statement_timeout_ms; /* both: per statement */
    int nloops;                   /* worker loops that will attach */
} store_config;

/* Opens the store (connects, checks the schema version). Blocking.
 * Returns 0, or -1 with a message in |err|. */
int store_open(store **out, const store_config *cfg, char *err, size_t errlen);

/* Applies the migrations not yet applied, each in its own transaction.
 * Blocking. Returns the number applied (>= 0), or -1 with |err|. */
int store_migrate(store *s, char *err, size_t errlen);

/* 1 when every migration this build knows is applied. Any thread. */
int store_ready(store *s);

/* "sqlite" or "postgresql" (the `store` label of metrics). */
const char *store_kind(const store *s);

/* Connections the store's "pool" has for the process: PostgreSQL's pooled
 * connections; for SQLite the reader connections, one per thread of
 * libuv's pool (UV_THREADPOOL_SIZE; objectd serve sets it from the CPUs). */
int store_pool_size(const store *s);

/* The operations below, by name (metrics, traces, /debug/queries). */
enum store_query {
    STORE_Q_OBJECT_CREATE,
    STORE_Q_OBJECT_PUT,
    STORE_Q_OBJECT_GET,
    STORE_Q_OBJECT_LIST,
    STORE_Q_REVISIONS_LIST,
    STORE_Q_OBSERVATIONS_PUT,
    STORE_Q_EVENTS_PUT,
    STORE_Q_OBSERVATIONS_LIST,
    STORE_Q_EVENTS_LIST,
    STORE_Q_ANALYSIS_LOAD,
    STORE_Q_OBJECT_VERSION,
    STORE_Q_COUNT,
};

/* "object_get" for STORE_Q_OBJECT_GET; "unknown" out of range. */
const char *store_query_name(int query);

/* Instrumentation, set once before the loops run (NULL: none). Every
 * asynchronous call below is timed in one place (store.c) from the call
 * to its callback: |begin| runs on the loop thread when the call is made
 * and returns a context the observer keeps (the request it belongs to);
 * |end| runs when the result is there, before the caller's callback;
 * |enter| and |leave| bracket the caller's callback, so that calls it
 * makes belong to the same context. |pool_wait| reports how long an
 * operation waited for a connection or thread; it may run on any thread. */
typedef struct store_observer {
    void *(*begin)(int query);
    void (*end)(void *ctx, int query, uint64_t start_ns, uint64_t end_ns,
                uint64_t rows, int status);
    void *(*enter)(void *ctx); /* returns what |leave| restores */
    void (*leave)(void *saved);
    void (*pool_wait)(uint64_t wait_ns);
} store_observer;
void store_set_observer(const store_observer *o);

/* The per-loop handle, created on the main thread before the loops run;
 * |index| is the worker's index. Freed by store_close. */
store_loop *store_loop_attach(store *s, uv_loop_t *loop, int index);

/* Closes the loop's resources (PostgreSQL connections); call on the loop's
 * thread when it drains. Pending callbacks are still called. */
void store_loop_detach(store_loop *sl);

/* Closes everything. Blocking; after all loops have stopped. */
void store_close(store *s);

/* ---- writes -------------------------------------------------------- */

typedef struct store_write {
    int64_t id;                /* 0 on create: the store assigns one */
    int64_t expected_revision; /* 0: any; else the head must be this */
    const char *type;          /* NULL with keep_content */
    const char *name;
    const char *attributes; /* JSON object text */
    const char *author;
    int deleted;       /* write a tombstone (DELETE) */
    int keep_content;  /* copy type/name/attributes from the head (DELETE) */
    int allow_deleted; /* may write onto a deleted head (revert revives) */
    int64_t at; /* the revision's time; 0: now. Only `objectd seed` sets it
                   (history for the standard workload); the usual rule
                   still holds: never earlier than the previous revision */
} store_write;

/* Creates revision 1 of a new object. Result: the new head (1 row), or
 * STORE_EXISTS. */
int store_object_create(store_loop *sl, const store_write *w, store_cb cb,
                        void *arg);

/* Appends a revision: head.revision + 1, compare-and-set against
 * |expected_revision| when it is not 0 (checked first). Result: the new
 * head, or STORE_NOT_FOUND (no such object, or its head is deleted and
 * |allow_deleted| is 0), or STORE_CONFLICT (stale expected_revision). */
int store_object_put(store_loop *sl, const store_write *w, store_cb cb,
                     void *arg);

/* ---- reads --------------------------------------------------------- */

/* One object: the head when |revision| and |as_of| are 0; revision N; or
 * the newest revision written at or before |as_of|. Deleted heads and
 * tombstone revisions are returned (deleted = 1): the caller decides.
 * Result: 1 row or STORE_NOT_FOUND. */
int store_object_get(store_loop *sl, int64_t id, int64_t revision,
                     int64_t as_of, store_cb cb, void *arg);

enum store_order {
    STORE_ORDER_UPDATED_ASC = 0,  /* updated_at, then id */
    STORE_ORDER_UPDATED_DESC = 1, /* -updated_at, then -id */
    STORE_ORDER_ID = 2,           /* id */
};

typedef struct store_list_query {
    const char *type;       /* NULL: every type */
    int64_t updated_after;  /* exclusive; 0: no bound */
    int64_t updated_before; /* exclusive; 0: no bound */
    int order;              /* enum store_order */
    int has_cursor;         /* keyset: rows strictly after this key */
    int64_t cursor_updated_at;
    int64_t cursor_id;
    int limit; /* 1..1000 */
} store_list_query;

/* Latest revisions of objects not deleted, by the query. Result: up to
 * |limit| rows, has_more when another page exists. */
int store_object_list(store_loop *sl, const store_list_query *q, store_cb cb,
                      void *arg);

/* An object's revisions, newest first: those below |before_revision| (0:
 * from the newest). Result: up to |limit| rows (has_more), or
 * STORE_NOT_FOUND when the object does not exist. */
int store_revisions_list(store_loop *sl, int64_t id, int64_t before_revision,
                         int limit, store_cb cb, void *arg);

/* ---- observations and events ------------------------------------------ */

/* Ingests a batch for object |id| in one transaction: one reading per
 * (object, metric, ts) - a new one is inserted, a different value replaces
 * the old one, the same value again changes nothing. If anything changed,
 * the object's change_seq is bumped once (in the same transaction), so
 * cached analyses of it are never served stale - late data included.
 * Result: inserted/replaced/unchanged and change_seq, or STORE_NOT_FOUND
 * (no such object, or deleted). |n| is 1..100000. */
int store_observations_put(store_loop *sl, int64_t id,
                           const store_observation *obs, size_t n, store_cb cb,
                           void *arg);

/* Events likewise, one per (object, ts, kind): a repeat with different
 * severity/message/data replaces it, an identical one changes nothing. */
int store_events_put(store_loop *sl, int64_t id, const store_event *ev,
                     size_t n, store_cb cb, void *arg);

typedef struct store_series_query {
    int64_t id;
    const char *filter; /* metric (observations) or kind (events); NULL */
    int64_t from, to;   /* inclusive bounds; 0: none */
    int has_cursor;     /* keyset: strictly after (cursor_ts, cursor_key) */
    int64_t cursor_ts;
    const char *cursor_key; /* metric / kind of the last row seen */
    int limit;              /* 1..10000 */
} store_series_query;

/* Observations ordered by (ts, metric) ascending; events by (ts, kind)
 * ascending. Result: up to |limit| (has_more), or STORE_NOT_FOUND when
 * the object does not exist. */
int store_observations_list(store_loop *sl, const store_series_query *q,
                            store_cb cb, void *arg);
int store_events_list(store_loop *sl, const store_series_query *q, store_cb cb,
                      void *arg);

/* Everything the analysis of object |id| needs, read in one consistent
 * snapshot: the head and every revision (rows), the observations with
 * from <= ts <= to ordered by (metric, ts), the events in the window
 * ordered by ts, and newest_ts. |from| and |to| 0 mean the default window:
 * the 30 days ending at the object's newest observation (to = newest_ts,
 * from = to - 30 days; with no observations, the 30 days ending at the
 * head's updated_at). The result says which window it used. Deleted
 * objects are returned (rows[0].deleted): the caller decides.
 * STORE_NOT_FOUND when there is no such object. */
int store_analysis_load(store_loop *sl, int64_t id, int64_t from, int64_t to,
                        store_cb cb, void *arg);

/* The object's change_seq alone (cheap: one indexed row), for cache
 * validation. Result: rows[0] with id, revision, deleted and change_seq
 * set (strings may be empty), or STORE_NOT_FOUND. */
int store_object_version(store_loop *sl, int64_t id, store_cb cb, void *arg);

#endif
