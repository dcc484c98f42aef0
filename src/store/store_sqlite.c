/* store_sqlite: the embedded SQLite backend of store.h.
 *
 * Threads. Every operation runs on libuv's thread pool (uv_queue_work on
 * the calling loop) and its callback runs in the after_work callback, on
 * the loop thread. Writes use the one writer connection and hold
 * |write_mu| from BEGIN IMMEDIATE to COMMIT, so the writers of this
 * process queue on the mutex instead of spinning in SQLite's busy
 * handler. Reads use one connection per pool thread, opened on first use
 * and found through a thread-local key; in WAL mode a reader sees a
 * committed snapshot and neither blocks nor waits for the writer.
 * Connections are opened SQLITE_OPEN_NOMUTEX: each is only ever used by
 * one thread at a time (the writer under its mutex, a reader by its own
 * thread), so SQLite's per-connection mutex would be pure cost.
 *
 * Memory. A request owns an arena with copies of its input strings and of
 * every string in its result; the arena goes in one pass after the
 * callback returns. */
#include "store_sqlite.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sqlite_days.h"
#include "store_backend.h"
#include "timeutil.h"

enum {
    BUSY_TIMEOUT_MS = 5000,
    /* PRAGMA cache_size takes -KiB. Readers are one per pool thread
     * (UV_THREADPOOL_SIZE: objectd sets it to the CPUs, 2-16, unless
     * given), hence the smaller share. */
    WRITER_CACHE_KIB = 16384,
    READER_CACHE_KIB = 8192,
    PAGE_SIZE = 16384,
    /* After a checkpoint, a WAL file that grew past this is truncated
     * back to it, so one burst of writes does not keep its disk space. */
    JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024,
    /* Virtual machine steps between two statement-timeout checks: about
     * tens of microseconds of work, so the clock read costs nothing. */
    PROGRESS_STEPS = 1000,
    LIST_LIMIT_MAX = 1000,
    SERIES_LIMIT_MAX = 10000,
    BATCH_MAX = 100000,
    ARENA_CHUNK = 8192,
    /* Distinct strings a request shares copies of (metric names, kinds,
     * severities): a handful per object in practice. */
    INTERN_MAX = 32,
    /* Ingest checks the statement timeout every this many rows: its
     * statements are too short for the progress handler to fire. */
    DEADLINE_ROWS = 1024,
};

/* The default analysis window: 30 days, in microseconds. */
#define WINDOW_DEFAULT_US ((int64_t)30 * 86400 * 1000000)

/* ---- statements ---------------------------------------------------- */

/* Every query that returns objects selects these columns in this order
 * (read_object). Revision rows carry no created_at or change_seq: those
 * are the head's, joined in. */
#define OBJECT_COLUMNS                                                         \
    "id, revision, type, name, attributes, created_at, updated_at, "           \
    "updated_by, deleted, change_seq"
#define REVISION_COLUMNS                                                       \
    "r.object_id, r.revision, r.type, r.name, r.attributes, o.created_at, "    \
    "r.updated_at, r.author, r.deleted, o.change_seq"
#define FROM_REVISIONS                                                         \
    " FROM revisions AS r JOIN objects AS o ON o.id = r.object_id"

/* The list queries. Parameters: ?1,?2 the (updated_at, id) key the rows
 * must be above, ?3,?4 the key they must be below, ?5 the limit, ?6 the
 * type. store_object_list folds updated_after/before and the cursor into
 * these two keys (list_bounds), so that each query has one lower and one
 * upper bound and SQLite seeks the index to the first row instead of
 * choosing one bound and filtering by the other.
 *
 * INDEXED BY is an assertion, not a hint: if a schema change ever made
 * the index unusable, preparing the statement fails loudly instead of
 * the planner quietly falling back to a scan and a sort. The index also
 * yields the order, so no sort step: EXPLAIN QUERY PLAN shows one SEARCH
 * and no "USE TEMP B-TREE". With SQLite 3.40 the seek is on updated_at;
 * the id half of the key (the rowid) filters within one updated_at
 * value, which microsecond times keep small.
 *
 * The id order walks the rowid (NOT INDEXED: left to itself, the planner
 * may prefer an updated_at range on a partial index plus a sort). */
#define LIST_BY_UPDATED(index, type_term, dir)                                 \
    "SELECT " OBJECT_COLUMNS " FROM objects INDEXED BY " index                 \
    " WHERE deleted = 0" type_term                                             \
    " AND (updated_at, id) > (?1, ?2) AND (updated_at, id) < (?3, ?4)"         \
    " ORDER BY updated_at" dir ", id" dir " LIMIT ?5"
#define LIST_BY_ID(type_term)                                                  \
    "SELECT " OBJECT_COLUMNS " FROM objects NOT INDEXED"                       \
    " WHERE deleted = 0" type_term " AND id > ?2"                              \
    " AND updated_at > ?1 AND updated_at < ?3 ORDER BY id LIMIT ?5"
#define TYPE_TERM " AND type = ?6"

enum stmt_id {
    ST_BEGIN_IMMEDIATE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_HEAD,
    ST_EXISTS,
    ST_INSERT_OBJECT,
    ST_INSERT_REVISION,
    ST_UPDATE_HEAD,
    ST_GET_REVISION,
    ST_GET_AS_OF,
    ST_REVISIONS,
    ST_LIST_UPDATED_ASC,
    ST_LIST_UPDATED_DESC,
    ST_LIST_ID,
    ST_LIST_TYPE_UPDATED_ASC,
    ST_LIST_TYPE_UPDATED_DESC,
    ST_LIST_TYPE_ID,
    ST_BEGIN,
    ST_VERSION,
    ST_BUMP,
    ST_OBS_INSERT,
    ST_OBS_UPDATE,
    ST_EV_INSERT,
    ST_EV_UPDATE,
    ST_OBS_LIST,
    ST_OBS_LIST_METRIC,
    ST_EV_LIST,
    ST_EV_LIST_KIND,
    ST_REVISIONS_ALL,
    ST_NEWEST_TS,
    ST_DAY_REBUILD,
    ST_NEXT_METRIC,
    ST_DAYS_WINDOW,
    ST_EV_WINDOW,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_HEAD] = "SELECT " OBJECT_COLUMNS " FROM objects WHERE id = ?1",
    [ST_EXISTS] = "SELECT 1 FROM objects WHERE id = ?1",
    /* ?1 NULL: SQLite assigns max(rowid) + 1. */
    [ST_INSERT_OBJECT] =
        "INSERT INTO objects (id, revision, type, name, attributes, "
        "created_at, updated_at, updated_by, deleted, change_seq) "
        "VALUES (?1, 1, ?2, ?3, ?4, ?5, ?5, ?6, 0, 1)",
    [ST_INSERT_REVISION] =
        "INSERT INTO revisions (object_id, revision, type, name, "
        "attributes, updated_at, author, deleted) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_UPDATE_HEAD] =
        "UPDATE objects SET revision = ?2, type = ?3, name = ?4, "
        "attributes = ?5, updated_at = ?6, updated_by = ?7, deleted = ?8, "
        "change_seq = ?9 WHERE id = ?1",
    [ST_GET_REVISION] = "SELECT " REVISION_COLUMNS FROM_REVISIONS
                        " WHERE r.object_id = ?1 AND r.revision = ?2",
    /* Walks revisions_by_time backwards from |as_of|. */
    [ST_GET_AS_OF] = "SELECT " REVISION_COLUMNS FROM_REVISIONS
                     " WHERE r.object_id = ?1 AND r.updated_at <= ?2"
                     " ORDER BY r.updated_at DESC, r.revision DESC LIMIT 1",
    [ST_REVISIONS] = "SELECT " REVISION_COLUMNS FROM_REVISIONS
                     " WHERE r.object_id = ?1 AND r.revision < ?2"
                     " ORDER BY r.revision DESC LIMIT ?3",
    [ST_LIST_UPDATED_ASC] = LIST_BY_UPDATED("objects_live_updated", "", ""),
    [ST_LIST_UPDATED_DESC] =
        LIST_BY_UPDATED("objects_live_updated", "", " DESC"),
    [ST_LIST_ID] = LIST_BY_ID(""),
    [ST_LIST_TYPE_UPDATED_ASC] =
        LIST_BY_UPDATED("objects_live_type_updated", TYPE_TERM, ""),
    [ST_LIST_TYPE_UPDATED_DESC] =
        LIST_BY_UPDATED("objects_live_type_updated", TYPE_TERM, " DESC"),
    [ST_LIST_TYPE_ID] = LIST_BY_ID(TYPE_TERM),

    /* Observations and events. */
    [ST_BEGIN] = "BEGIN",
    [ST_VERSION] =
        "SELECT id, revision, deleted, change_seq FROM objects WHERE id = ?1",
    [ST_BUMP] = "UPDATE objects SET change_seq = ?2 WHERE id = ?1",
    /* Ingest runs these two instead of one upsert (ON CONFLICT DO UPDATE
     * ... WHERE value IS NOT excluded.value): the same writes, but the
     * upsert's changes() cannot tell an insert from a replacement, which
     * would cost an extra lookup per row. Here a new row - the bulk of
     * any ingest - is one statement, and only a row that exists runs the
     * UPDATE, whose changes() says whether its value differed. */
    [ST_OBS_INSERT] = "INSERT INTO observations (object_id, metric, ts, value)"
                      " VALUES (?1, ?2, ?3, ?4)"
                      " ON CONFLICT (object_id, metric, ts) DO NOTHING",
    [ST_OBS_UPDATE] = "UPDATE observations SET value = ?4"
                      " WHERE object_id = ?1 AND metric = ?2 AND ts = ?3"
                      " AND value IS NOT ?4",
    [ST_EV_INSERT] = "INSERT INTO events (object_id, ts, kind, severity,"
                     " message, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                     " ON CONFLICT (object_id, ts, kind) DO NOTHING",
    [ST_EV_UPDATE] = "UPDATE events SET severity = ?4, message = ?5, data = ?6"
                     " WHERE object_id = ?1 AND ts = ?2 AND kind = ?3"
                     " AND (severity IS NOT ?4 OR message IS NOT ?5"
                     " OR data IS NOT ?6)",
    /* The lists: rows strictly above the key (?2, ?3) - the cursor, or
     * (from, '') - and at or below ts ?4. SQLite seeks the row value
     * itself on observations_by_time and on the events' primary key;
     * with a metric, the primary key (object_id, metric, ts) is the
     * better walk, seeked on ts >= ?2. */
    [ST_OBS_LIST] = "SELECT metric, ts, value FROM observations"
                    " INDEXED BY observations_by_time"
                    " WHERE object_id = ?1 AND (ts, metric) > (?2, ?3)"
                    " AND ts <= ?4 ORDER BY ts, metric LIMIT ?5",
    [ST_OBS_LIST_METRIC] = "SELECT metric, ts, value FROM observations"
                           " WHERE object_id = ?1 AND metric = ?6"
                           " AND ts >= ?2 AND (ts, metric) > (?2, ?3)"
                           " AND ts <= ?4 ORDER BY ts LIMIT ?5",
    [ST_EV_LIST] = "SELECT ts, kind, severity, message, data FROM events"
                   " WHERE object_id = ?1 AND (ts, kind) > (?2, ?3)"
                   " AND ts <= ?4 ORDER BY ts, kind LIMIT ?5",
    [ST_EV_LIST_KIND] = "SELECT ts, kind, severity, message, data FROM events"
                        " WHERE object_id = ?1 AND (ts, kind) > (?2, ?3)"
                        " AND ts <= ?4 AND kind = ?6"
                        " ORDER BY ts, kind LIMIT ?5",
    /* The analysis snapshot. Revisions without the join: the head's
     * created_at and change_seq are filled in from the head row read in
     * the same transaction. */
    [ST_REVISIONS_ALL] = "SELECT object_id, revision, type, name, attributes,"
                         " 0, updated_at, author, deleted, 0 FROM revisions"
                         " WHERE object_id = ?1 ORDER BY revision",
    /* One seek to the end of the object's range of observations_by_time. */
    [ST_NEWEST_TS] = "SELECT max(ts) FROM observations WHERE object_id = ?1",
    /* Ingest: the block of day ?3 (its readings ?4 <= ts <= ?5) from
     * the rows, one range of the primary key. Only days holding a row
     * the batch changed are rebuilt, so the aggregate never sees zero
     * rows (its NULL would fail the NOT NULL: a bug, loudly). */
    [ST_DAY_REBUILD] = "INSERT OR REPLACE INTO observation_days"
                       " (object_id, metric, day, readings)"
                       " SELECT ?1, ?2, ?3, objectd_pack_readings(ts, value)"
                       " FROM observations WHERE object_id = ?1 AND metric = ?2"
                       " AND ts >= ?4 AND ts <= ?5",
    /* The object's metrics one seek each, then each metric's window as
     * one range of the day blocks' primary key: the cost is the window,
     * whatever the history outside it. */
    [ST_NEXT_METRIC] = "SELECT metric FROM observation_days"
                       " WHERE object_id = ?1 AND metric > ?2"
                       " ORDER BY metric LIMIT 1",
    [ST_DAYS_WINDOW] = "SELECT readings FROM observation_days"
                       " WHERE object_id = ?1 AND metric = ?2"
                       " AND day >= ?3 AND day <= ?4 ORDER BY day",
    [ST_EV_WINDOW] = "SELECT ts, kind, severity, message, data FROM events"
                     " WHERE object_id = ?1 AND ts >= ?2 AND ts <= ?3"
                     " ORDER BY ts, kind",
};

/* ---- types --------------------------------------------------------- */

/* One SQLite connection and its prepared statements (prepared on first
 * use, reset after each). Used by one thread at a time. */
typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    int64_t timeout_ms;   /* statement timeout; 0: none */
    uint64_t deadline_ns; /* monotonic; 0 while no statement is timed */
    int timed_out;        /* the progress handler interrupted */
    struct conn *next;    /* in sqlite_store.readers */
} conn;

typedef struct sqlite_loop sqlite_loop;

typedef struct sqlite_store {
    char *path;
    int sync_full;
    int64_t timeout_ms;
    atomic_int ready;
    uv_mutex_t write_mu; /* the writer and every transaction on it */
    conn writer;
    uv_mutex_t readers_mu; /* the list below */
    conn *readers;         /* every pool thread's reader connection */
    uv_key_t reader_key;   /* this thread's reader connection */
    sqlite_loop *loops;    /* freed by close */
    int setup;             /* how far sq_open got (store_free) */
} sqlite_store;

struct sqlite_loop {
    sqlite_store *s;
    uv_loop_t *loop;
    sqlite_loop *next;
};

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
} arena_chunk;

enum op {
    OP_CREATE,
    OP_PUT,
    OP_GET,
    OP_LIST,
    OP_REVISIONS,
    OP_OBS_PUT,
    OP_EV_PUT,
    OP_OBS_LIST,
    OP_EV_LIST,
    OP_ANALYSIS,
    OP_VERSION,
};

/* One asynchronous call: its inputs (strings copied into |mem|), then its
 * result (rows and strings also in |mem|, the rows array apart). */
typedef struct req {
    uv_work_t work;
    uint64_t queued_ns; /* for the pool-wait metric */
    sqlite_store *s;
    enum op op;
    store_cb cb;
    void *arg;
    arena_chunk *mem;
    store_write w;
    store_list_query q;
    int64_t id, revision, as_of;
    int limit;
    /* Observations and events: the batch (copied, strings in |mem|), the
     * list query, the analysis window asked for. */
    store_observation *in_obs;
    store_event *in_ev;
    size_t n;
    store_series_query sq;
    int64_t from, to;
    store_result res;
    size_t rows_cap, obs_cap, ev_cap;
    /* The strings in |mem| that intern() hands out again for equal ones. */
    const char *interned[INTERN_MAX];
    size_t interned_len[INTERN_MAX];
    int ninterned, intern_hit;
} req;

/* ---- small helpers ------------------------------------------------- */

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A NUL-terminated copy of |n| bytes at |p| in the arena, or NULL. A
 * large string gets a chunk of its own behind the current one, so the
 * current one keeps filling. */
static char *arena_copy(arena_chunk **a, const char *p, size_t n) {
    arena_chunk *c = *a;
    if (n > SIZE_MAX / 2)
        return NULL;
    if (n + 1 > ARENA_CHUNK / 4 || c == NULL || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > ARENA_CHUNK / 4 ? n + 1 : ARENA_CHUNK;
        arena_chunk *nc = malloc(sizeof *nc + cap);
        if (nc == NULL)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (c != NULL && cap != ARENA_CHUNK) {
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            *a = nc;
        }
        c = nc;
    }
    char *out = c->data + c->used;
    memcpy(out, p, n);
    out[n] = '\0';
    c->used += n + 1;
    return out;
}

static void arena_free(arena_chunk *a) {
    while (a != NULL) {
        arena_chunk *next = a->next;
        free(a);
        a = next;
    }
}

/* Copies |*s| into the request's arena in place; NULL stays NULL. */
static int copy_in(req *r, const char **s) {
    if (*s == NULL)
        return 0;
    const char *p = arena_copy(&r->mem, *s, strlen(*s));
    if (p == NULL)
        return -ENOMEM;
    *s = p;
    return 0;
}

/* A copy of the |n| bytes at |p| in the request's arena, shared by every
 * equal string interned in the same request: a metric name repeated on
 * thousands of rows is one copy (and one cache line) instead of
 * thousands. The search starts at the last hit, so names that come in
 * runs or in a cycle are found at the first or second try. Past
 * INTERN_MAX distinct strings, new ones are simply copied. NULL when out
 * of memory. */
static const char *intern(req *r, const char *p, size_t n) {
    /* From the last hit on, wrapping around - by a compare, not a
     * modulo: a division per entry was most of the cost, with kinds and
     * severities alternating and a score of names to look through. */
    for (int k = 0, i = r->intern_hit; k < r->ninterned; k++, i++) {
        if (i == r->ninterned)
            i = 0;
        if (r->interned_len[i] == n && memcmp(r->interned[i], p, n) == 0) {
            r->intern_hit = i;
            return r->interned[i];
        }
    }
    const char *copy = arena_copy(&r->mem, p, n);
    if (copy != NULL && r->ninterned < INTERN_MAX) {
        r->interned[r->ninterned] = copy;
        r->interned_len[r->ninterned] = n;
        r->intern_hit = r->ninterned++;
    }
    return copy;
}

/* ---- connections --------------------------------------------------- */

/* Interrupts the running statement once it has run longer than the
 * statement timeout: SQLite then fails it with SQLITE_INTERRUPT (and
 * rolls back the transaction if it was a write). */
static int on_progress(void *p) {
    conn *c = p;
    if (c->deadline_ns == 0 || mono_ns() < c->deadline_ns)
        return 0;
    c->timed_out = 1;
    return 1;
}

/* The statement |id| on |c|, prepared on first use and kept, with the
 * statement timeout armed. Hand it back with stmt_done. NULL with |*rc|
 * on failure. */
static sqlite3_stmt *stmt_get(conn *c, enum stmt_id id, int *rc) {
    if (c->st[id] == NULL) {
        *rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1,
                                 SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL);
        if (*rc != SQLITE_OK)
            return NULL;
    }
    c->timed_out = 0;
    c->deadline_ns =
        c->timeout_ms > 0 ? mono_ns() + (uint64_t)c->timeout_ms * 1000000u : 0;
    *rc = SQLITE_OK;
    return c->st[id];
}

static void stmt_done(conn *c, sqlite3_stmt *st) {
    if (st == NULL)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    c->deadline_ns = 0;
}

/* Runs a statement that returns no rows (BEGIN, COMMIT, ROLLBACK). */
static int run(conn *c, enum stmt_id id) {
    int rc;
    sqlite3_stmt *st = stmt_get(c, id, &rc);
    if (st == NULL)
        return rc;
    rc = sqlite3_step(st);
    stmt_done(c, st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void conn_close(conn *c) {
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(c->st[i]);
        c->st[i] = NULL;
    }
    sqlite3_close(c->db);
    c->db = NULL;
}

/* The first column of the first row of |sql| into |out| ("" if none). */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t outlen) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto out;
    out[0] = '\0';
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", t ? (const char *)t : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

/* Opens the writer (creating the file) or a reader connection on the
 * store's database. Returns an SQLite result code, with a message in
 * |err| when it is not SQLITE_OK. */
static int conn_open(conn *c, const sqlite_store *s, int reader, char *err,
                     size_t errlen) {
    char sql[256];
    char mode[32];
    int have_msg = 0;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (!reader)
        flags |= SQLITE_OPEN_CREATE;
    c->timeout_ms = s->timeout_ms;
    int rc = sqlite3_open_v2(s->path, &c->db, flags, NULL);
    if (rc != SQLITE_OK)
        goto out;
    sqlite3_extended_result_codes(c->db, 1);
    if ((rc = sqlite_days_register(c->db)) != SQLITE_OK)
        goto out;
    rc = sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK)
        goto out;
    if (reader) {
        /* Belt and braces: a reader never writes, whatever a bug asks. */
        snprintf(sql, sizeof sql,
                 "PRAGMA query_only = 1; PRAGMA cache_size = -%d;",
                 READER_CACHE_KIB);
        rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto out;
    } else {
        /* WAL: readers work on a snapshot while the writer commits; it is
         * a property of the file and sticks. */
        /* 16 KiB pages for a new database (an existing one keeps its
         * own): a cold analysis reads its day blocks and events with a
         * quarter of the pread() calls of 4 KiB pages - 15% less CPU for
         * 500 cold analyses (docs/store.md). */
        snprintf(sql, sizeof sql, "PRAGMA page_size = %d;", PAGE_SIZE);
        if ((rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
            goto out;
        rc = query_text(c->db, "PRAGMA journal_mode = WAL", mode, sizeof mode);
        if (rc != SQLITE_OK)
            goto out;
        if (strcmp(mode, "wal") != 0) {
            snprintf(err, errlen, "%s: cannot use WAL (journal_mode %s)",
                     s->path, mode);
            have_msg = 1;
            rc = SQLITE_ERROR;
            goto out;
        }
        /* synchronous: both levels survive kill -9 (a committed
         * transaction is in the WAL file, in the OS page cache). Under
         * power loss, NORMAL fsyncs the WAL only at checkpoints and can
         * lose the last commits, although they were acknowledged; FULL
         * fsyncs the WAL at every commit, so an acknowledged write
         * survives - the promise --sync full makes, as PostgreSQL's
         * synchronous_commit does. */
        snprintf(sql, sizeof sql,
                 "PRAGMA foreign_keys = ON; PRAGMA synchronous = %s;"
                 " PRAGMA journal_size_limit = %d; PRAGMA cache_size = -%d;",
                 s->sync_full ? "FULL" : "NORMAL", JOURNAL_SIZE_LIMIT,
                 WRITER_CACHE_KIB);
        rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto out;
    }
    if (c->timeout_ms > 0)
        sqlite3_progress_handler(c->db, PROGRESS_STEPS, on_progress, c);
out:
    if (rc != SQLITE_OK) {
        if (!have_msg)
            snprintf(err, errlen, "%s: %s", s->path,
                     c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        c->db = NULL;
    }
    return rc;
}

/* ---- results ------------------------------------------------------- */

/* Empties a result that is not STORE_OK: no rows, and no counts of a
 * batch that was rolled back. */
static void res_clear_data(store_result *res) {
    res->nrows = res->nobs = res->nevents = 0;
    res->has_more = 0;
    res->inserted = res->replaced = res->unchanged = 0;
}

/* Records the failure |rc| of an SQLite call on |c| in the result. Call
 * it before anything else runs on |c| (that would replace the message). */
static void req_fail(req *r, conn *c, int rc) {
    char msg[512];
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        r->res.status = STORE_UNAVAILABLE;
        snprintf(msg, sizeof msg, "database busy for over %d ms",
                 BUSY_TIMEOUT_MS);
    } else if (primary == SQLITE_INTERRUPT && c != NULL && c->timed_out) {
        r->res.status = STORE_UNAVAILABLE;
        snprintf(msg, sizeof msg, "statement timeout (%lld ms)",
                 (long long)c->timeout_ms);
    } else if (primary == SQLITE_NOMEM) {
        r->res.status = STORE_ERROR;
        snprintf(msg, sizeof msg, "out of memory");
    } else {
        r->res.status = STORE_ERROR;
        snprintf(msg, sizeof msg, "sqlite: %s",
                 c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    }
    /* Without memory for the message, the status alone still tells. */
    r->res.message = arena_copy(&r->mem, msg, strlen(msg));
    res_clear_data(&r->res);
}

/* A new zeroed row at the end of the result, or NULL. */
static store_object *row_add(req *r) {
    if (r->res.nrows == r->rows_cap) {
        size_t cap = r->rows_cap ? r->rows_cap * 2 : 4;
        store_object *rows = realloc(r->res.rows, cap * sizeof *rows);
        if (rows == NULL)
            return NULL;
        r->res.rows = rows;
        r->rows_cap = cap;
    }
    store_object *o = &r->res.rows[r->res.nrows++];
    memset(o, 0, sizeof *o);
    return o;
}

/* Room for |extra| more observations; SQLITE_OK or SQLITE_NOMEM. */
static int obs_reserve(req *r, size_t extra) {
    if (r->obs_cap - r->res.nobs >= extra)
        return SQLITE_OK;
    size_t cap = r->obs_cap ? r->obs_cap * 2 : 256;
    while (cap - r->res.nobs < extra)
        cap *= 2;
    store_observation *o = realloc(r->res.obs, cap * sizeof *o);
    if (o == NULL)
        return SQLITE_NOMEM;
    r->res.obs = o;
    r->obs_cap = cap;
    return SQLITE_OK;
}

/* A new observation / event at the end of the result, or NULL. */
static store_observation *obs_add(req *r) {
    if (obs_reserve(r, 1) != SQLITE_OK)
        return NULL;
    return &r->res.obs[r->res.nobs++];
}

static store_event *ev_add(req *r) {
    if (r->res.nevents == r->ev_cap) {
        size_t cap = r->ev_cap ? r->ev_cap * 2 : 64;
        store_event *e = realloc(r->res.events, cap * sizeof *e);
        if (e == NULL)
            return NULL;
        r->res.events = e;
        r->ev_cap = cap;
    }
    return &r->res.events[r->res.nevents++];
}

static int column_copy(req *r, sqlite3_stmt *st, int col, const char **out) {
    const unsigned char *t = sqlite3_column_text(st, col);
    if (t == NULL) /* the columns are NOT NULL: out of memory */
        return SQLITE_NOMEM;
    *out = arena_copy(&r->mem, (const char *)t,
                      (size_t)sqlite3_column_bytes(st, col));
    return *out ? SQLITE_OK : SQLITE_NOMEM;
}

/* column_copy for the strings that repeat (metric, kind, severity). */
static int column_intern(req *r, sqlite3_stmt *st, int col, const char **out) {
    const unsigned char *t = sqlite3_column_text(st, col);
    if (t == NULL)
        return SQLITE_NOMEM;
    *out = intern(r, (const char *)t, (size_t)sqlite3_column_bytes(st, col));
    return *out ? SQLITE_OK : SQLITE_NOMEM;
}

/* Reads the current row (OBJECT_COLUMNS or REVISION_COLUMNS) into |o|. */
static int read_object(req *r, sqlite3_stmt *st, store_object *o) {
    int rc;
    o->id = sqlite3_column_int64(st, 0);
    o->revision = sqlite3_column_int64(st, 1);
    if ((rc = column_copy(r, st, 2, &o->type)) != SQLITE_OK ||
        (rc = column_copy(r, st, 3, &o->name)) != SQLITE_OK ||
        (rc = column_copy(r, st, 4, &o->attributes)) != SQLITE_OK ||
        (rc = column_copy(r, st, 7, &o->updated_by)) != SQLITE_OK)
        return rc;
    o->created_at = sqlite3_column_int64(st, 5);
    o->updated_at = sqlite3_column_int64(st, 6);
    o->deleted = sqlite3_column_int(st, 8) != 0;
    o->change_seq = sqlite3_column_int64(st, 9);
    return SQLITE_OK;
}

/* Steps |st| and appends every row to the result, at most |max| of them;
 * sets has_more when one more row exists. */
static int read_rows(req *r, sqlite3_stmt *st, size_t max) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->res.nrows == max) {
            r->res.has_more = 1;
            return SQLITE_OK;
        }
        store_object *o = row_add(r);
        if (o == NULL)
            return SQLITE_NOMEM;
        if ((rc = read_object(r, st, o)) != SQLITE_OK)
            return rc;
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s) {
    /* Static: the string is in the request's arena, which outlives the
     * statement's use (stmt_done clears the bindings). */
    return sqlite3_bind_text64(st, i, s, strlen(s), SQLITE_STATIC, SQLITE_UTF8);
}

/* Binds ?1..?8 of ST_INSERT_REVISION / ST_UPDATE_HEAD from |o|. */
static int bind_revision(sqlite3_stmt *st, const store_object *o) {
    int rc;
    if ((rc = sqlite3_bind_int64(st, 1, o->id)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 2, o->revision)) != SQLITE_OK ||
        (rc = bind_text(st, 3, o->type)) != SQLITE_OK ||
        (rc = bind_text(st, 4, o->name)) != SQLITE_OK ||
        (rc = bind_text(st, 5, o->attributes)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 6, o->updated_at)) != SQLITE_OK ||
        (rc = bind_text(st, 7, o->updated_by)) != SQLITE_OK ||
        (rc = sqlite3_bind_int(st, 8, o->deleted)) != SQLITE_OK)
        return rc;
    return SQLITE_OK;
}

/* Runs |id| (an INSERT or UPDATE) with the row |o| bound. */
static int write_row(conn *c, enum stmt_id id, const store_object *o) {
    int rc;
    sqlite3_stmt *st = stmt_get(c, id, &rc);
    if (st == NULL)
        return rc;
    rc = bind_revision(st, o);
    if (rc == SQLITE_OK && id == ST_UPDATE_HEAD)
        rc = sqlite3_bind_int64(st, 9, o->change_seq);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    stmt_done(c, st);
    return rc;
}

/* ---- operations (on a pool thread) --------------------------------- */

/* Ends a write transaction: the result is already set unless |rc| says
 * an SQLite call failed. Rolls back unless it committed. */
static void write_end(req *r, conn *c, int rc) {
    if (rc != SQLITE_OK)
        req_fail(r, c, rc);
    if (r->res.status != STORE_OK)
        res_clear_data(&r->res);
    /* An interrupted or failed statement may have rolled back already. */
    if (!sqlite3_get_autocommit(c->db))
        run(c, ST_ROLLBACK);
}

static void do_create(req *r) {
    sqlite_store *s = r->s;
    conn *c = &s->writer;
    const store_write *w = &r->w;
    sqlite3_stmt *st = NULL;
    store_object *o;
    int rc;

    uv_mutex_lock(&s->write_mu);
    if ((rc = run(c, ST_BEGIN_IMMEDIATE)) != SQLITE_OK)
        goto out;
    if (w->id != 0) {
        /* Checked rather than left to the primary key, so that a taken id
         * is STORE_EXISTS and any other constraint error stays an
         * error. */
        if ((st = stmt_get(c, ST_EXISTS, &rc)) == NULL ||
            (rc = sqlite3_bind_int64(st, 1, w->id)) != SQLITE_OK)
            goto out;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            r->res.status = STORE_EXISTS;
            rc = SQLITE_OK;
            goto out;
        }
        if (rc != SQLITE_DONE)
            goto out;
        stmt_done(c, st);
        st = NULL;
    }
    if ((o = row_add(r)) == NULL) {
        rc = SQLITE_NOMEM;
        goto out;
    }
    o->revision = 1;
    o->type = w->type;
    o->name = w->name;
    o->attributes = w->attributes;
    /* |at|: a time from `objectd seed`, which writes history. */
    o->created_at = o->updated_at = w->at ? w->at : now_us();
    o->updated_by = w->author;
    o->deleted = 0;
    o->change_seq = 1;

    if ((st = stmt_get(c, ST_INSERT_OBJECT, &rc)) == NULL)
        goto out;
    rc = w->id != 0 ? sqlite3_bind_int64(st, 1, w->id)
                    : sqlite3_bind_null(st, 1);
    if (rc != SQLITE_OK || (rc = bind_text(st, 2, o->type)) != SQLITE_OK ||
        (rc = bind_text(st, 3, o->name)) != SQLITE_OK ||
        (rc = bind_text(st, 4, o->attributes)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 5, o->created_at)) != SQLITE_OK ||
        (rc = bind_text(st, 6, o->updated_by)) != SQLITE_OK)
        goto out;
    if ((rc = sqlite3_step(st)) != SQLITE_DONE)
        goto out;
    stmt_done(c, st);
    st = NULL;
    o->id = sqlite3_last_insert_rowid(c->db);

    if ((rc = write_row(c, ST_INSERT_REVISION, o)) != SQLITE_OK ||
        (rc = run(c, ST_COMMIT)) != SQLITE_OK)
        goto out;
    r->res.status = STORE_OK;
out:
    stmt_done(c, st);
    if (rc != SQLITE_OK || r->res.status != STORE_OK)
        write_end(r, c, rc);
    uv_mutex_unlock(&s->write_mu);
}

static void do_put(req *r) {
    sqlite_store *s = r->s;
    conn *c = &s->writer;
    const store_write *w = &r->w;
    sqlite3_stmt *st = NULL;
    store_object head, *o;
    int rc;

    uv_mutex_lock(&s->write_mu);
    /* IMMEDIATE takes the write lock before reading the head, so no
     * other process can move it between the check and the write. */
    if ((rc = run(c, ST_BEGIN_IMMEDIATE)) != SQLITE_OK)
        goto out;
    if ((st = stmt_get(c, ST_HEAD, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, w->id)) != SQLITE_OK)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        r->res.status = STORE_NOT_FOUND;
        rc = SQLITE_OK;
        goto out;
    }
    if (rc != SQLITE_ROW || (rc = read_object(r, st, &head)) != SQLITE_OK)
        goto out;
    stmt_done(c, st);
    st = NULL;

    /* The compare-and-set comes first: a stale If-Match on a deleted
     * object is a conflict, as on a live one. */
    if (w->expected_revision != 0 && w->expected_revision != head.revision) {
        r->res.status = STORE_CONFLICT;
        goto out;
    }
    if (head.deleted && !w->allow_deleted) {
        r->res.status = STORE_NOT_FOUND;
        goto out;
    }
    if ((o = row_add(r)) == NULL) {
        rc = SQLITE_NOMEM;
        goto out;
    }
    *o = head;
    o->revision = head.revision + 1;
    if (!w->keep_content) {
        o->type = w->type;
        o->name = w->name;
        o->attributes = w->attributes;
    }
    /* Never before the previous revision, even if the clock stepped
     * back (or |at| asks): as_of and the updated_at orders rely on it per
     * object. */
    o->updated_at = w->at ? w->at : now_us();
    if (o->updated_at < head.updated_at)
        o->updated_at = head.updated_at;
    o->updated_by = w->author;
    o->deleted = w->deleted != 0;
    o->change_seq = head.change_seq + 1;

    if ((rc = write_row(c, ST_INSERT_REVISION, o)) != SQLITE_OK ||
        (rc = write_row(c, ST_UPDATE_HEAD, o)) != SQLITE_OK ||
        (rc = run(c, ST_COMMIT)) != SQLITE_OK)
        goto out;
    r->res.status = STORE_OK;
out:
    stmt_done(c, st);
    if (rc != SQLITE_OK || r->res.status != STORE_OK)
        write_end(r, c, rc);
    uv_mutex_unlock(&s->write_mu);
}

/* This pool thread's reader connection, opened on first use. NULL (and
 * the result set) when it cannot be opened. */
static conn *reader_get(req *r) {
    sqlite_store *s = r->s;
    conn *c = uv_key_get(&s->reader_key);
    char err[512] = "";
    if (c != NULL)
        return c;
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        req_fail(r, NULL, SQLITE_NOMEM);
        return NULL;
    }
    int rc = conn_open(c, s, 1, err, sizeof err);
    if (rc != SQLITE_OK) {
        req_fail(r, NULL, rc); /* for the status */
        r->res.message = arena_copy(&r->mem, err, strlen(err));
        free(c);
        return NULL;
    }
    uv_key_set(&s->reader_key, c);
    uv_mutex_lock(&s->readers_mu);
    c->next = s->readers;
    s->readers = c;
    uv_mutex_unlock(&s->readers_mu);
    return c;
}

static void do_get(req *r) {
    conn *c = reader_get(r);
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_OK;
    if (c == NULL)
        return;
    if (r->revision != 0) {
        if ((st = stmt_get(c, ST_GET_REVISION, &rc)) == NULL ||
            (rc = sqlite3_bind_int64(st, 2, r->revision)) != SQLITE_OK)
            goto out;
    } else if (r->as_of != 0) {
        if ((st = stmt_get(c, ST_GET_AS_OF, &rc)) == NULL ||
            (rc = sqlite3_bind_int64(st, 2, r->as_of)) != SQLITE_OK)
            goto out;
    } else if ((st = stmt_get(c, ST_HEAD, &rc)) == NULL) {
        goto out;
    }
    if ((rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK ||
        (rc = read_rows(r, st, 1)) != SQLITE_OK)
        goto out;
    r->res.has_more = 0;
    r->res.status = r->res.nrows ? STORE_OK : STORE_NOT_FOUND;
out:
    if (rc != SQLITE_OK)
        req_fail(r, c, rc);
    stmt_done(c, st);
}

static enum stmt_id list_stmt(const store_list_query *q) {
    switch (q->order) {
    case STORE_ORDER_UPDATED_DESC:
        return q->type ? ST_LIST_TYPE_UPDATED_DESC : ST_LIST_UPDATED_DESC;
    case STORE_ORDER_ID:
        return q->type ? ST_LIST_TYPE_ID : ST_LIST_ID;
    default:
        return q->type ? ST_LIST_TYPE_UPDATED_ASC : ST_LIST_UPDATED_ASC;
    }
}

/* The values of ?1..?4 for |q|. Updated orders: rows strictly between
 * the keys (lo_t, lo_id) and (hi_t, hi_id). "updated_at > A" is the key
 * bound (A, INT64_MAX) and "updated_at < B" is (B, INT64_MIN); the cursor
 * tightens the bound on its side of the walk. Id order: updated_at
 * strictly between ?1 and ?3, id above ?2. */
static void list_bounds(const store_list_query *q, int64_t b[4]) {
    b[0] = q->updated_after ? q->updated_after : INT64_MIN;
    b[2] = q->updated_before ? q->updated_before : INT64_MAX;
    if (q->order == STORE_ORDER_ID) {
        b[1] = q->has_cursor ? q->cursor_id : INT64_MIN;
        b[3] = 0; /* unused */
        return;
    }
    b[1] = q->updated_after ? INT64_MAX : INT64_MIN;
    b[3] = q->updated_before ? INT64_MIN : INT64_MAX;
    if (!q->has_cursor)
        return;
    if (q->order == STORE_ORDER_UPDATED_DESC) {
        if (q->cursor_updated_at < b[2] ||
            (q->cursor_updated_at == b[2] && q->cursor_id < b[3])) {
            b[2] = q->cursor_updated_at;
            b[3] = q->cursor_id;
        }
    } else if (q->cursor_updated_at > b[0] ||
               (q->cursor_updated_at == b[0] && q->cursor_id > b[1])) {
        b[0] = q->cursor_updated_at;
        b[1] = q->cursor_id;
    }
}

static void do_list(req *r) {
    conn *c = reader_get(r);
    const store_list_query *q = &r->q;
    sqlite3_stmt *st = NULL;
    int64_t b[4];
    int rc = SQLITE_OK;
    if (c == NULL)
        return;
    list_bounds(q, b);
    if ((st = stmt_get(c, list_stmt(q), &rc)) == NULL)
        goto out;
    for (int i = 0; i < 4; i++)
        if ((rc = sqlite3_bind_int64(st, i + 1, b[i])) != SQLITE_OK)
            goto out;
    /* One row beyond the page tells whether another page exists. */
    if ((rc = sqlite3_bind_int(st, 5, q->limit + 1)) != SQLITE_OK)
        goto out;
    if (q->type != NULL && (rc = bind_text(st, 6, q->type)) != SQLITE_OK)
        goto out;
    if ((rc = read_rows(r, st, (size_t)q->limit)) != SQLITE_OK)
        goto out;
    r->res.status = STORE_OK;
out:
    if (rc != SQLITE_OK)
        req_fail(r, c, rc);
    stmt_done(c, st);
}

/* After a read that found no rows: an empty page, or no object? Sets
 * STORE_NOT_FOUND when the object |r->id| does not exist. Outside the
 * read's snapshot, but objects are never removed, so the answer can only
 * turn from "no object" to "exists" meanwhile - either is a true answer
 * for a request that raced a create. */
static int check_exists(req *r, conn *c) {
    int rc;
    sqlite3_stmt *st = stmt_get(c, ST_EXISTS, &rc);
    if (st == NULL || (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        r->res.status = STORE_NOT_FOUND;
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        rc = SQLITE_OK;
out:
    stmt_done(c, st);
    return rc;
}

static void do_revisions(req *r) {
    conn *c = reader_get(r);
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_OK;
    if (c == NULL)
        return;
    if ((st = stmt_get(c, ST_REVISIONS, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(
             st, 2, r->revision ? r->revision : INT64_MAX)) != SQLITE_OK ||
        (rc = sqlite3_bind_int(st, 3, r->limit + 1)) != SQLITE_OK ||
        (rc = read_rows(r, st, (size_t)r->limit)) != SQLITE_OK)
        goto out;
    stmt_done(c, st);
    st = NULL;
    r->res.status = STORE_OK;
    if (r->res.nrows == 0)
        rc = check_exists(r, c);
out:
    if (rc != SQLITE_OK)
        req_fail(r, c, rc);
    stmt_done(c, st);
}

/* ---- observations and events (on a pool thread) -------------------- */

/* The idempotency key of row |i| of a batch: (metric, ts) or (kind,
 * ts). */
typedef struct batch_key {
    const char *s;
    int64_t ts;
} batch_key;

typedef batch_key (*batch_key_fn)(const req *r, size_t i);

static batch_key obs_key(const req *r, size_t i) {
    return (batch_key){r->in_obs[i].metric, r->in_obs[i].ts};
}

static batch_key ev_key(const req *r, size_t i) {
    return (batch_key){r->in_ev[i].kind, r->in_ev[i].ts};
}

/* FNV-1a over the string, then the ts, through murmur3's finaliser: the
 * table indexes by the low bits, and times in microseconds of whole
 * seconds or minutes have many low zero bits. */
static uint64_t key_hash(batch_key k) {
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)k.s; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    h ^= (uint64_t)k.ts;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

/* Sets |*keep| to n flags (malloc'd; the caller frees it), 1 for the rows
 * of the batch that are written: of rows sharing a key, only the last.
 * The batch then ends as if applied row by row (the last value wins), but
 * each key is compared once, with what was stored before the batch - so a
 * batch that leaves a row as it was changes nothing and bumps nothing,
 * whatever values it went through. The repeats dropped count as
 * unchanged, as on PostgreSQL (whose ON CONFLICT cannot touch a row twice
 * in one statement, so it deduplicates the same way). An open-addressing
 * table of row indexes, at most half full. */
enum { KEEP_SKIP = 0, KEEP_WRITE = 1, KEEP_CHANGED = 2 /* set by the write */ };

static int last_of_keys(const req *r, batch_key_fn key, unsigned char **keep) {
    size_t cap = 16;
    while (cap < 2 * r->n)
        cap *= 2;
    uint32_t *slot = calloc(cap, sizeof *slot); /* row + 1; 0: free */
    unsigned char *k = malloc(r->n);
    if (slot == NULL || k == NULL) {
        free(slot);
        free(k);
        return SQLITE_NOMEM;
    }
    for (size_t i = 0; i < r->n; i++) {
        batch_key ki = key(r, i);
        size_t j = (size_t)key_hash(ki) & (cap - 1);
        for (; slot[j] != 0; j = (j + 1) & (cap - 1)) {
            batch_key kj = key(r, slot[j] - 1);
            if (kj.ts == ki.ts && strcmp(kj.s, ki.s) == 0) {
                k[slot[j] - 1] = 0; /* superseded by row i */
                break;
            }
        }
        slot[j] = (uint32_t)(i + 1);
        k[i] = KEEP_WRITE;
    }
    free(slot);
    *keep = k;
    return SQLITE_OK;
}

/* Opens an ingest's transaction (the caller holds the write mutex) and
 * reads the object's change_seq. |*found| is 0 when the object does not
 * exist or is deleted: then nothing may be written. */
static int ingest_begin(req *r, conn *c, int *found, int64_t *seq) {
    sqlite3_stmt *st = NULL;
    int rc;
    *found = 0;
    if ((rc = run(c, ST_BEGIN_IMMEDIATE)) != SQLITE_OK ||
        (st = stmt_get(c, ST_VERSION, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *found = sqlite3_column_int(st, 2) == 0;
        *seq = sqlite3_column_int64(st, 3);
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
out:
    stmt_done(c, st);
    return rc;
}

/* Binds ?1.. of the insert and update statements of one batch row. */
typedef int (*bind_row_fn)(sqlite3_stmt *st, const req *r, size_t i);

static int bind_obs(sqlite3_stmt *st, const req *r, size_t i) {
    const store_observation *o = &r->in_obs[i];
    int rc;
    if ((rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK ||
        (rc = bind_text(st, 2, o->metric)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 3, o->ts)) != SQLITE_OK)
        return rc;
    return sqlite3_bind_double(st, 4, o->value);
}

static int bind_ev(sqlite3_stmt *st, const req *r, size_t i) {
    const store_event *e = &r->in_ev[i];
    int rc;
    if ((rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 2, e->ts)) != SQLITE_OK ||
        (rc = bind_text(st, 3, e->kind)) != SQLITE_OK ||
        (rc = bind_text(st, 4, e->severity)) != SQLITE_OK ||
        (rc = bind_text(st, 5, e->message)) != SQLITE_OK)
        return rc;
    return e->data ? bind_text(st, 6, e->data) : sqlite3_bind_null(st, 6);
}

/* One statement step that returns no rows, reset at once so that the
 * next row can bind: the statement stays prepared (and its deadline
 * armed) for the whole batch. */
static int step_reset(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Writes the rows of the batch flagged in |keep| and counts them. The
 * statement timeout covers the whole batch, as it does on PostgreSQL
 * where a batch is one statement; each statement here is too short for
 * the progress handler, so the loop checks the clock itself. */
static int ingest_rows(req *r, conn *c, enum stmt_id ins_id,
                       enum stmt_id upd_id, bind_row_fn bind,
                       unsigned char *keep) {
    sqlite3_stmt *ins = NULL, *upd = NULL;
    int rc;
    if ((ins = stmt_get(c, ins_id, &rc)) == NULL ||
        (upd = stmt_get(c, upd_id, &rc)) == NULL)
        goto out;
    for (size_t i = 0; i < r->n; i++) {
        if (i % DEADLINE_ROWS == DEADLINE_ROWS - 1 && c->deadline_ns != 0 &&
            mono_ns() >= c->deadline_ns) {
            c->timed_out = 1;
            rc = SQLITE_INTERRUPT;
            goto out;
        }
        if (!keep[i]) {
            r->res.unchanged++;
            continue;
        }
        if ((rc = bind(ins, r, i)) != SQLITE_OK ||
            (rc = step_reset(ins)) != SQLITE_OK)
            goto out;
        if (sqlite3_changes(c->db) > 0) {
            r->res.inserted++;
            keep[i] = KEEP_CHANGED;
            continue;
        }
        if ((rc = bind(upd, r, i)) != SQLITE_OK ||
            (rc = step_reset(upd)) != SQLITE_OK)
            goto out;
        if (sqlite3_changes(c->db) > 0) {
            r->res.replaced++;
            keep[i] = KEEP_CHANGED;
        } else
            r->res.unchanged++;
    }
    rc = SQLITE_OK;
out:
    stmt_done(c, ins);
    stmt_done(c, upd);
    return rc;
}

/* The day blocks of the observations an ingest changed (rows flagged
 * KEEP_CHANGED), each rebuilt once from the rows: a batch of one metric's
 * day touches one block, a late reading or a replaced value its own day
 * only. Sorting the changed rows by (metric, day) makes the repeats
 * adjacent. */
typedef struct day_key {
    const char *metric;
    int64_t day;
} day_key;

static int by_metric_day(const void *a, const void *b) {
    const day_key *x = a, *y = b;
    int c = strcmp(x->metric, y->metric);
    if (c != 0)
        return c;
    return (x->day > y->day) - (x->day < y->day);
}

static int rebuild_days(req *r, conn *c, const unsigned char *keep) {
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += keep[i] == KEEP_CHANGED;
    if (n == 0)
        return SQLITE_OK;
    day_key *k = malloc(n * sizeof *k);
    if (k == NULL)
        return SQLITE_NOMEM;
    n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (keep[i] == KEEP_CHANGED)
            k[n++] =
                (day_key){r->in_obs[i].metric, sqlite_days_of(r->in_obs[i].ts)};
    qsort(k, n, sizeof *k, by_metric_day);
    sqlite3_stmt *st = NULL;
    int rc;
    if ((st = stmt_get(c, ST_DAY_REBUILD, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && by_metric_day(&k[i - 1], &k[i]) == 0)
            continue;
        int64_t lo = sqlite_days_start(k[i].day),
                hi = sqlite_days_last(k[i].day);
        if ((rc = bind_text(st, 2, k[i].metric)) != SQLITE_OK ||
            (rc = sqlite3_bind_int64(st, 3, k[i].day)) != SQLITE_OK ||
            (rc = sqlite3_bind_int64(st, 4, lo)) != SQLITE_OK ||
            (rc = sqlite3_bind_int64(st, 5, hi)) != SQLITE_OK ||
            (rc = step_reset(st)) != SQLITE_OK)
            goto out;
    }
    rc = SQLITE_OK;
out:
    stmt_done(c, st);
    free(k);
    return rc;
}

/* Ends an ingest: bumps change_seq once if anything changed - in the same
 * transaction, so no reader ever sees the new rows with the old
 * change_seq (a cached analysis would look current) - and commits. */
static int ingest_commit(req *r, conn *c, int64_t seq) {
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_OK;
    if (r->res.inserted + r->res.replaced > 0) {
        seq++;
        if ((st = stmt_get(c, ST_BUMP, &rc)) == NULL ||
            (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK ||
            (rc = sqlite3_bind_int64(st, 2, seq)) != SQLITE_OK ||
            (rc = sqlite3_step(st)) != SQLITE_DONE)
            goto out;
        stmt_done(c, st);
        st = NULL;
    }
    if ((rc = run(c, ST_COMMIT)) != SQLITE_OK)
        goto out;
    r->res.change_seq = seq;
    r->res.status = STORE_OK;
out:
    stmt_done(c, st);
    return rc;
}

/* What an ingest maintains beyond the rows, in the same transaction
 * (NULL: nothing). */
typedef int (*after_rows_fn)(req *r, conn *c, const unsigned char *keep);

static void do_ingest(req *r, batch_key_fn key, enum stmt_id ins,
                      enum stmt_id upd, bind_row_fn bind, after_rows_fn after) {
    sqlite_store *s = r->s;
    conn *c = &s->writer;
    unsigned char *keep = NULL;
    int64_t seq = 0;
    int found;
    /* The batch's duplicates are found before taking the write mutex. */
    int rc = last_of_keys(r, key, &keep);
    if (rc != SQLITE_OK) {
        req_fail(r, NULL, rc);
        return;
    }
    uv_mutex_lock(&s->write_mu);
    if ((rc = ingest_begin(r, c, &found, &seq)) != SQLITE_OK)
        goto out;
    if (!found) {
        r->res.status = STORE_NOT_FOUND;
        goto out;
    }
    if ((rc = ingest_rows(r, c, ins, upd, bind, keep)) != SQLITE_OK ||
        (after != NULL && (rc = after(r, c, keep)) != SQLITE_OK) ||
        (rc = ingest_commit(r, c, seq)) != SQLITE_OK)
        goto out;
out:
    if (rc != SQLITE_OK || r->res.status != STORE_OK)
        write_end(r, c, rc);
    uv_mutex_unlock(&s->write_mu);
    free(keep);
}

/* Steps |st| (metric, ts, value) and appends the rows to the result, at
 * most |max|; has_more when one more exists. */
static int read_obs(req *r, sqlite3_stmt *st, size_t max) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->res.nobs == max) {
            r->res.has_more = 1;
            return SQLITE_OK;
        }
        store_observation *o = obs_add(r);
        if (o == NULL)
            return SQLITE_NOMEM;
        if ((rc = column_intern(r, st, 0, &o->metric)) != SQLITE_OK)
            return rc;
        o->ts = sqlite3_column_int64(st, 1);
        o->value = sqlite3_column_double(st, 2);
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Likewise for events: ts, kind, severity, message, data. */
static int read_events(req *r, sqlite3_stmt *st, size_t max) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->res.nevents == max) {
            r->res.has_more = 1;
            return SQLITE_OK;
        }
        store_event *e = ev_add(r);
        if (e == NULL)
            return SQLITE_NOMEM;
        e->ts = sqlite3_column_int64(st, 0);
        e->data = NULL;
        if ((rc = column_intern(r, st, 1, &e->kind)) != SQLITE_OK ||
            (rc = column_intern(r, st, 2, &e->severity)) != SQLITE_OK ||
            (rc = column_copy(r, st, 3, &e->message)) != SQLITE_OK)
            return rc;
        if (sqlite3_column_type(st, 4) != SQLITE_NULL &&
            (rc = column_copy(r, st, 4, &e->data)) != SQLITE_OK)
            return rc;
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static enum stmt_id series_stmt(const store_series_query *q, int events) {
    if (events)
        return q->filter ? ST_EV_LIST_KIND : ST_EV_LIST;
    return q->filter ? ST_OBS_LIST_METRIC : ST_OBS_LIST;
}

/* The key (ts, metric|kind) a list's rows must be strictly above: the
 * cursor, or (from, "") - below every row at |from|, since keys are
 * never empty - whichever is later. */
static void series_lower(const store_series_query *q, int64_t *ts,
                         const char **key) {
    *ts = q->from ? q->from : INT64_MIN;
    *key = "";
    if (q->has_cursor &&
        (q->cursor_ts > *ts ||
         (q->cursor_ts == *ts && strcmp(q->cursor_key, *key) > 0))) {
        *ts = q->cursor_ts;
        *key = q->cursor_key;
    }
}

static void do_series_list(req *r, int events) {
    conn *c = reader_get(r);
    const store_series_query *q = &r->sq;
    sqlite3_stmt *st = NULL;
    int64_t lo_ts;
    const char *lo_key;
    int rc = SQLITE_OK;
    if (c == NULL)
        return;
    series_lower(q, &lo_ts, &lo_key);
    if ((st = stmt_get(c, series_stmt(q, events), &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, q->id)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 2, lo_ts)) != SQLITE_OK ||
        (rc = bind_text(st, 3, lo_key)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 4, q->to ? q->to : INT64_MAX)) !=
            SQLITE_OK ||
        /* One row beyond the page tells whether another page exists. */
        (rc = sqlite3_bind_int(st, 5, q->limit + 1)) != SQLITE_OK ||
        (q->filter != NULL && (rc = bind_text(st, 6, q->filter)) != SQLITE_OK))
        goto out;
    rc = events ? read_events(r, st, (size_t)q->limit)
                : read_obs(r, st, (size_t)q->limit);
    if (rc != SQLITE_OK)
        goto out;
    stmt_done(c, st);
    st = NULL;
    r->res.status = STORE_OK;
    if (r->res.nobs == 0 && r->res.nevents == 0)
        rc = check_exists(r, c);
out:
    if (rc != SQLITE_OK)
        req_fail(r, c, rc);
    stmt_done(c, st);
}

/* Appends the observations with from <= ts <= to, ordered by (metric,
 * ts): for each metric of the object (found by one seek past the one
 * before), the day blocks covering the window as one range of their
 * primary key, unpacked. Every row of a metric points at one copy of its
 * name. */
/* The readings the last analysis load on this pool thread returned: the
 * next is usually alike, so the array starts at that size instead of
 * growing by doubling (each growth a copy, and fresh pages to fault). */
static _Thread_local size_t last_window_obs;

static int load_window_obs(req *r, conn *c, int64_t from, int64_t to) {
    sqlite3_stmt *next = NULL, *win = NULL;
    const char *metric = "";
    int rc = obs_reserve(r, last_window_obs);
    if (rc != SQLITE_OK)
        return rc;
    if ((next = stmt_get(c, ST_NEXT_METRIC, &rc)) == NULL ||
        (win = stmt_get(c, ST_DAYS_WINDOW, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(next, 1, r->id)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(win, 1, r->id)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(win, 3, sqlite_days_of(from))) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(win, 4, sqlite_days_of(to))) != SQLITE_OK)
        goto out;
    /* Bindings survive sqlite3_reset: only the metric changes. */
    for (;;) {
        if ((rc = bind_text(next, 2, metric)) != SQLITE_OK)
            goto out;
        rc = sqlite3_step(next);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW ||
            (rc = column_intern(r, next, 0, &metric)) != SQLITE_OK)
            goto out;
        sqlite3_reset(next);
        if ((rc = bind_text(win, 2, metric)) != SQLITE_OK)
            goto out;
        while ((rc = sqlite3_step(win)) == SQLITE_ROW) {
            const void *blob = sqlite3_column_blob(win, 0);
            size_t len = (size_t)sqlite3_column_bytes(win, 0);
            if (blob == NULL && len > 0) {
                rc = SQLITE_NOMEM;
                goto out;
            }
            size_t got;
            if ((rc = obs_reserve(r, len / SQLITE_DAYS_RECORD)) != SQLITE_OK ||
                (rc = sqlite_days_decode(blob, len, from, to, metric,
                                         r->res.obs + r->res.nobs, &got)) !=
                    SQLITE_OK)
                goto out;
            r->res.nobs += got;
        }
        if (rc != SQLITE_DONE)
            goto out;
        sqlite3_reset(win);
    }
    rc = SQLITE_OK;
    last_window_obs = r->res.nobs;
out:
    stmt_done(c, next);
    stmt_done(c, win);
    return rc;
}

/* Reads the first column of |st|'s one row as an integer into |*v|;
 * |*isnull| when it is NULL (max() of no rows). */
static int read_int(sqlite3_stmt *st, int64_t *v, int *isnull) {
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    *isnull = sqlite3_column_type(st, 0) == SQLITE_NULL;
    *v = *isnull ? 0 : sqlite3_column_int64(st, 0);
    return SQLITE_OK;
}

/* The analysis snapshot. One read transaction: BEGIN on the reader, so
 * that every SELECT below sees the same committed state - the head's
 * change_seq (the analysis cache's key) then describes exactly the rows
 * returned, even while ingest commits meanwhile. */
static void do_analysis(req *r) {
    conn *c = reader_get(r);
    sqlite3_stmt *st = NULL;
    store_object head;
    int64_t newest = 0, from, to;
    int none = 1, rc;
    if (c == NULL)
        return;
    if ((rc = run(c, ST_BEGIN)) != SQLITE_OK ||
        (st = stmt_get(c, ST_HEAD, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK ||
        (rc = read_rows(r, st, 1)) != SQLITE_OK)
        goto out;
    stmt_done(c, st);
    st = NULL;
    r->res.has_more = 0;
    if (r->res.nrows == 0) {
        r->res.status = STORE_NOT_FOUND;
        goto out;
    }
    head = r->res.rows[0]; /* rows moves as it grows */
    if ((st = stmt_get(c, ST_REVISIONS_ALL, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK ||
        (rc = read_rows(r, st, SIZE_MAX)) != SQLITE_OK)
        goto out;
    stmt_done(c, st);
    st = NULL;
    for (size_t i = 1; i < r->res.nrows; i++) {
        r->res.rows[i].created_at = head.created_at;
        r->res.rows[i].change_seq = head.change_seq;
    }
    if ((st = stmt_get(c, ST_NEWEST_TS, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK ||
        (rc = read_int(st, &newest, &none)) != SQLITE_OK)
        goto out;
    stmt_done(c, st);
    st = NULL;

    /* Each bound defaults on its own: to the newest observation (the
     * head's updated_at without any), and 30 days before |to|. */
    to = r->to ? r->to : none ? head.updated_at : newest;
    if (r->from)
        from = r->from;
    else
        from = to >= INT64_MIN + WINDOW_DEFAULT_US ? to - WINDOW_DEFAULT_US
                                                   : INT64_MIN;
    r->res.newest_ts = newest;
    r->res.window_from = from;
    r->res.window_to = to;

    if ((rc = load_window_obs(r, c, from, to)) != SQLITE_OK ||
        (st = stmt_get(c, ST_EV_WINDOW, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 2, from)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 3, to)) != SQLITE_OK ||
        (rc = read_events(r, st, SIZE_MAX)) != SQLITE_OK)
        goto out;
    stmt_done(c, st);
    st = NULL;
    if ((rc = run(c, ST_COMMIT)) != SQLITE_OK)
        goto out;
    r->res.status = STORE_OK;
out:
    if (rc != SQLITE_OK)
        req_fail(r, c, rc);
    stmt_done(c, st);
    /* Never leave the reader in a transaction: it would pin its snapshot
     * and keep checkpoints from recycling the WAL. */
    if (!sqlite3_get_autocommit(c->db))
        run(c, ST_ROLLBACK);
}

static void do_version(req *r) {
    conn *c = reader_get(r);
    sqlite3_stmt *st = NULL;
    store_object *o;
    int rc = SQLITE_OK;
    if (c == NULL)
        return;
    if ((st = stmt_get(c, ST_VERSION, &rc)) == NULL ||
        (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        r->res.status = STORE_NOT_FOUND;
        rc = SQLITE_OK;
        goto out;
    }
    if (rc != SQLITE_ROW)
        goto out;
    if ((o = row_add(r)) == NULL) {
        rc = SQLITE_NOMEM;
        goto out;
    }
    o->id = sqlite3_column_int64(st, 0);
    o->revision = sqlite3_column_int64(st, 1);
    o->deleted = sqlite3_column_int(st, 2) != 0;
    o->change_seq = sqlite3_column_int64(st, 3);
    o->type = o->name = o->attributes = o->updated_by = "";
    rc = SQLITE_OK;
    r->res.status = STORE_OK;
out:
    if (rc != SQLITE_OK)
        req_fail(r, c, rc);
    stmt_done(c, st);
}

/* ---- requests (on the loop thread) --------------------------------- */

static void req_free(req *r) {
    arena_free(r->mem);
    free(r->res.rows);
    free(r->res.obs);
    free(r->res.events);
    free(r->in_obs);
    free(r->in_ev);
    free(r);
}

static void work_cb(uv_work_t *work) {
    req *r = work->data;
    store_note_pool_wait(time_mono_ns() - r->queued_ns);
    switch (r->op) {
    case OP_CREATE:
        do_create(r);
        break;
    case OP_PUT:
        do_put(r);
        break;
    case OP_GET:
        do_get(r);
        break;
    case OP_LIST:
        do_list(r);
        break;
    case OP_REVISIONS:
        do_revisions(r);
        break;
    case OP_OBS_PUT:
        do_ingest(r, obs_key, ST_OBS_INSERT, ST_OBS_UPDATE, bind_obs,
                  rebuild_days);
        break;
    case OP_EV_PUT:
        do_ingest(r, ev_key, ST_EV_INSERT, ST_EV_UPDATE, bind_ev, NULL);
        break;
    case OP_OBS_LIST:
        do_series_list(r, 0);
        break;
    case OP_EV_LIST:
        do_series_list(r, 1);
        break;
    case OP_ANALYSIS:
        do_analysis(r);
        break;
    case OP_VERSION:
        do_version(r);
        break;
    }
}

/* store_result_release of a kept result: |res| is the request's own. */
static void req_release(store_result *res) {
    req *r = (req *)((char *)res - offsetof(req, res));
    req_free(r);
}

static void after_work_cb(uv_work_t *work, int status) {
    req *r = work->data;
    if (status != 0) { /* UV_ECANCELED: the work never ran */
        r->res.status = STORE_UNAVAILABLE;
        r->res.message = "cancelled";
        res_clear_data(&r->res);
    }
    int kept = 0;
    r->res.release_ = req_release;
    r->res.kept_ = &kept;
    r->cb(&r->res, r->arg);
    if (!kept) /* else |r| may already be gone: not to be touched */
        req_free(r);
}

static req *req_new(void *loop_impl, enum op op, store_cb cb, void *arg) {
    sqlite_loop *sl = loop_impl;
    req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->work.data = r;
    r->s = sl->s;
    r->op = op;
    r->cb = cb;
    r->arg = arg;
    r->res.status = STORE_ERROR; /* until an operation says otherwise */
    return r;
}

/* Queues |r| on |loop_impl|'s loop; on failure frees it (and the callback
 * will never be called). */
static int req_queue(void *loop_impl, req *r) {
    sqlite_loop *sl = loop_impl;
    r->queued_ns = time_mono_ns();
    int rc = uv_queue_work(sl->loop, &r->work, work_cb, after_work_cb);
    if (rc != 0)
        req_free(r);
    return rc;
}

static int valid_limit(int limit) {
    return limit >= 1 && limit <= LIST_LIMIT_MAX;
}

/* Copies |w| and its strings into a new request. */
static int write_req(void *loop_impl, enum op op, const store_write *w,
                     store_cb cb, void *arg, req **out) {
    req *r = req_new(loop_impl, op, cb, arg);
    if (r == NULL)
        return -ENOMEM;
    r->w = *w;
    if (copy_in(r, &r->w.type) != 0 || copy_in(r, &r->w.name) != 0 ||
        copy_in(r, &r->w.attributes) != 0 || copy_in(r, &r->w.author) != 0) {
        req_free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

static int sq_object_create(void *loop_impl, const store_write *w, store_cb cb,
                            void *arg) {
    req *r;
    if (cb == NULL || w->id < 0 || w->type == NULL || w->name == NULL ||
        w->attributes == NULL || w->author == NULL || w->deleted ||
        w->keep_content)
        return -EINVAL;
    int rc = write_req(loop_impl, OP_CREATE, w, cb, arg, &r);
    return rc ? rc : req_queue(loop_impl, r);
}

static int sq_object_put(void *loop_impl, const store_write *w, store_cb cb,
                         void *arg) {
    req *r;
    if (cb == NULL || w->expected_revision < 0 || w->author == NULL ||
        (!w->keep_content &&
         (w->type == NULL || w->name == NULL || w->attributes == NULL)))
        return -EINVAL;
    int rc = write_req(loop_impl, OP_PUT, w, cb, arg, &r);
    return rc ? rc : req_queue(loop_impl, r);
}

static int sq_object_get(void *loop_impl, int64_t id, int64_t revision,
                         int64_t as_of, store_cb cb, void *arg) {
    if (cb == NULL || revision < 0 || as_of < 0)
        return -EINVAL;
    req *r = req_new(loop_impl, OP_GET, cb, arg);
    if (r == NULL)
        return -ENOMEM;
    r->id = id;
    r->revision = revision; /* wins over as_of when both are set */
    r->as_of = as_of;
    return req_queue(loop_impl, r);
}

static int sq_object_list(void *loop_impl, const store_list_query *q,
                          store_cb cb, void *arg) {
    if (cb == NULL || !valid_limit(q->limit) ||
        q->order < STORE_ORDER_UPDATED_ASC || q->order > STORE_ORDER_ID)
        return -EINVAL;
    req *r = req_new(loop_impl, OP_LIST, cb, arg);
    if (r == NULL)
        return -ENOMEM;
    r->q = *q;
    if (copy_in(r, &r->q.type) != 0) {
        req_free(r);
        return -ENOMEM;
    }
    return req_queue(loop_impl, r);
}

static int sq_revisions_list(void *loop_impl, int64_t id,
                             int64_t before_revision, int limit, store_cb cb,
                             void *arg) {
    if (cb == NULL || before_revision < 0 || !valid_limit(limit))
        return -EINVAL;
    req *r = req_new(loop_impl, OP_REVISIONS, cb, arg);
    if (r == NULL)
        return -ENOMEM;
    r->id = id;
    r->revision = before_revision;
    r->limit = limit;
    return req_queue(loop_impl, r);
}

/* Copies a batch of observations into a new request: the rows in one
 * array, every metric name interned in the arena. -EINVAL for a row the
 * table would refuse (no metric, a value that is not finite - SQLite
 * would store NaN as NULL). */
static int sq_observations_put(void *loop_impl, int64_t id,
                               const store_observation *obs, size_t n,
                               store_cb cb, void *arg) {
    int rc = 0;
    if (cb == NULL || obs == NULL || n == 0 || n > BATCH_MAX)
        return -EINVAL;
    req *r = req_new(loop_impl, OP_OBS_PUT, cb, arg);
    if (r == NULL)
        return -ENOMEM;
    r->id = id;
    r->n = n;
    if ((r->in_obs = malloc(n * sizeof *r->in_obs)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const store_observation *o = &obs[i];
        if (o->metric == NULL || o->metric[0] == '\0' || !isfinite(o->value)) {
            rc = -EINVAL;
            goto out;
        }
        r->in_obs[i] = *o;
        r->in_obs[i].metric = intern(r, o->metric, strlen(o->metric));
        if (r->in_obs[i].metric == NULL) {
            rc = -ENOMEM;
            goto out;
        }
    }
out:
    if (rc != 0) {
        req_free(r);
        return rc;
    }
    return req_queue(loop_impl, r);
}

static int sq_events_put(void *loop_impl, int64_t id, const store_event *ev,
                         size_t n, store_cb cb, void *arg) {
    int rc = 0;
    if (cb == NULL || ev == NULL || n == 0 || n > BATCH_MAX)
        return -EINVAL;
    req *r = req_new(loop_impl, OP_EV_PUT, cb, arg);
    if (r == NULL)
        return -ENOMEM;
    r->id = id;
    r->n = n;
    if ((r->in_ev = malloc(n * sizeof *r->in_ev)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const store_event *e = &ev[i];
        store_event *d = &r->in_ev[i];
        if (e->kind == NULL || e->kind[0] == '\0' || e->severity == NULL ||
            e->message == NULL) {
            rc = -EINVAL;
            goto out;
        }
        *d = *e;
        d->kind = intern(r, e->kind, strlen(e->kind));
        d->severity = intern(r, e->severity, strlen(e->severity));
        if (d->kind == NULL || d->severity == NULL ||
            copy_in(r, &d->message) != 0 || copy_in(r, &d->data) != 0) {
            rc = -ENOMEM;
            goto out;
        }
    }
out:
    if (rc != 0) {
        req_free(r);
        return rc;
    }
    return req_queue(loop_impl, r);
}

static int series_list(void *loop_impl, enum op op, const store_series_query *q,
                       store_cb cb, void *arg) {
    if (cb == NULL || q->limit < 1 || q->limit > SERIES_LIMIT_MAX ||
        (q->has_cursor && q->cursor_key == NULL))
        return -EINVAL;
    req *r = req_new(loop_impl, op, cb, arg);
    if (r == NULL)
        return -ENOMEM;
    r->sq = *q;
    r->id = q->id;
    if (!q->has_cursor)
        r->sq.cursor_key = NULL;
    if (copy_in(r, &r->sq.filter) != 0 || copy_in(r, &r->sq.cursor_key) != 0) {
        req_free(r);
        return -ENOMEM;
    }
    return req_queue(loop_impl, r);
}

static int sq_observations_list(void *loop_impl, const store_series_query *q,
                                store_cb cb, void *arg) {
    return series_list(loop_impl, OP_OBS_LIST, q, cb, arg);
}

static int sq_events_list(void *loop_impl, const store_series_query *q,
                          store_cb cb, void *arg) {
    return series_list(loop_impl, OP_EV_LIST, q, cb, arg);
}

static int sq_analysis_load(void *loop_impl, int64_t id, int64_t from,
                            int64_t to, store_cb cb, void *arg) {
    if (cb == NULL)
        return -EINVAL;
    req *r = req_new(loop_impl, OP_ANALYSIS, cb, arg);
    if (r == NULL)
        return -ENOMEM;
    r->id = id;
    r->from = from;
    r->to = to;
    return req_queue(loop_impl, r);
}

static int sq_object_version(void *loop_impl, int64_t id, store_cb cb,
                             void *arg) {
    if (cb == NULL)
        return -EINVAL;
    req *r = req_new(loop_impl, OP_VERSION, cb, arg);
    if (r == NULL)
        return -ENOMEM;
    r->id = id;
    return req_queue(loop_impl, r);
}

/* ---- open, migrate, close (blocking, main thread) ------------------ */

/* How many of the migration versions |lo|..|hi| the database has
 * applied. */
static int count_applied(sqlite3 *db, int lo, int hi, int *count) {
    char sql[128];
    char text[32];
    int rc = query_text(db,
                        "SELECT count(*) FROM sqlite_master WHERE type = "
                        "'table' AND name = 'schema_migrations'",
                        text, sizeof text);
    if (rc != SQLITE_OK || strcmp(text, "0") == 0) {
        *count = 0;
        return rc;
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM schema_migrations"
             " WHERE version BETWEEN %d AND %d",
             lo, hi);
    rc = query_text(db, sql, text, sizeof text);
    *count = rc == SQLITE_OK ? atoi(text) : 0;
    return rc;
}

/* Creates the directory that holds |path| if it is missing (one level,
 * like "data/" in "data/objectd.db"). */
static int make_parent_dir(const char *path, char *err, size_t errlen) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (slash == NULL || slash == path)
        return 0;
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create directory %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* Frees what sq_open set up, as far as it got (|s->setup| steps). */
static void store_free(sqlite_store *s) {
    /* Readers first: the last connection to close checkpoints the WAL
     * into the database and removes it. */
    while (s->readers != NULL) {
        conn *c = s->readers;
        s->readers = c->next;
        conn_close(c);
        free(c);
    }
    conn_close(&s->writer);
    while (s->loops != NULL) {
        sqlite_loop *sl = s->loops;
        s->loops = sl->next;
        free(sl);
    }
    if (s->setup >= 3)
        uv_key_delete(&s->reader_key);
    if (s->setup >= 2)
        uv_mutex_destroy(&s->readers_mu);
    if (s->setup >= 1)
        uv_mutex_destroy(&s->write_mu);
    free(s->path);
    free(s);
}

static int sq_open(void **impl, const store_config *cfg, char *err,
                   size_t errlen) {
    const char *path = cfg->uri + strlen("sqlite:");
    sqlite_store *s = NULL;
    int count, rc = -1;

    err[0] = '\0';
    if (*path == '\0' || strcmp(path, ":memory:") == 0) {
        /* Every connection would get a database of its own. */
        snprintf(err, errlen, "--db %s: expected sqlite:PATH to a file",
                 cfg->uri);
        goto out;
    }
    if (!sqlite3_threadsafe()) {
        snprintf(err, errlen, "SQLite was built without thread support");
        goto out;
    }
    if (make_parent_dir(path, err, errlen) != 0)
        goto out;
    if ((s = calloc(1, sizeof *s)) == NULL ||
        (s->path = strdup(path)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    s->sync_full = cfg->sync_full;
    s->timeout_ms = cfg->statement_timeout_ms;
    atomic_init(&s->ready, 0);
    snprintf(err, errlen, "cannot create a mutex or a thread key");
    if (uv_mutex_init(&s->write_mu) != 0)
        goto out;
    s->setup = 1;
    if (uv_mutex_init(&s->readers_mu) != 0)
        goto out;
    s->setup = 2;
    if (uv_key_create(&s->reader_key) != 0)
        goto out;
    s->setup = 3;
    err[0] = '\0';
    if (conn_open(&s->writer, s, 0, err, errlen) != SQLITE_OK)
        goto out;
    if (count_applied(s->writer.db, 1, store_sqlite_nmigrations, &count) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->writer.db));
        goto out;
    }
    atomic_store(&s->ready, count == store_sqlite_nmigrations);
    *impl = s;
    rc = 0;
out:
    if (rc != 0 && s != NULL)
        store_free(s);
    return rc;
}

static int sq_migrate(void *impl, char *err, size_t errlen) {
    sqlite_store *s = impl;
    sqlite3 *db = s->writer.db;
    char sql[160];
    int applied = 0, count, rc = SQLITE_OK;
    const store_sqlite_migration *m = NULL;

    uv_mutex_lock(&s->write_mu);
    for (int i = 0; i < store_sqlite_nmigrations; i++) {
        m = &store_sqlite_migrations[i];
        /* Checked inside the transaction: another process migrating the
         * same file at the same moment waits here, then skips. */
        if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) !=
                SQLITE_OK ||
            (rc = count_applied(db, m->version, m->version, &count)) !=
                SQLITE_OK)
            goto out;
        if (count == 1) {
            rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            if (rc != SQLITE_OK)
                goto out;
            continue;
        }
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_migrations (version, applied_at)"
                 " VALUES (%d, %lld)",
                 m->version, (long long)now_us());
        if ((rc = sqlite3_exec(db, m->sql, NULL, NULL, NULL)) != SQLITE_OK ||
            (rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK ||
            (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
            goto out;
        applied++;
    }
out:
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "migration %d (%s): %s", m ? m->version : 0,
                 m ? m->file : "", sqlite3_errmsg(db));
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        applied = -1;
    }
    if (count_applied(db, 1, store_sqlite_nmigrations, &count) == SQLITE_OK)
        atomic_store(&s->ready, count == store_sqlite_nmigrations);
    uv_mutex_unlock(&s->write_mu);
    return applied;
}

static int sq_ready(void *impl) {
    sqlite_store *s = impl;
    return atomic_load(&s->ready);
}

static void *sq_loop_attach(void *impl, uv_loop_t *loop, int index) {
    sqlite_store *s = impl;
    (void)index;
    sqlite_loop *sl = calloc(1, sizeof *sl);
    if (sl == NULL)
        return NULL;
    sl->s = s;
    sl->loop = loop;
    sl->next = s->loops;
    s->loops = sl;
    return sl;
}

static void sq_loop_detach(void *loop_impl) {
    /* Nothing per loop: queued work keeps the loop alive until its
     * callbacks have run, and the handle is freed by close. */
    (void)loop_impl;
}

static void sq_close(void *impl) {
    if (impl != NULL)
        store_free(impl);
}

/* ---- inspection ---------------------------------------------------- */

/* EXPLAIN QUERY PLAN of the statement |id| on a read-only connection of
 * its own to |path|: one plan line per row. */
static int explain(const char *path, enum stmt_id id, char *out,
                   size_t outlen) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[1024];
    size_t len = 0;
    int rc, ret = -1;

    if (outlen == 0)
        return -1;
    out[0] = '\0';
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", stmt_sql[id]);
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK || (rc = sqlite_days_register(db)) != SQLITE_OK ||
        (rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *detail = sqlite3_column_text(st, 3);
        int n = snprintf(out + len, outlen - len, "%s%s", len ? "\n" : "",
                         detail ? (const char *)detail : "");
        if (n < 0 || (size_t)n >= outlen - len) {
            rc = SQLITE_TOOBIG;
            break;
        }
        len += (size_t)n;
    }
    if (rc == SQLITE_DONE)
        ret = 0;
out:
    if (rc == SQLITE_TOOBIG)
        snprintf(out, outlen, "plan longer than %zu bytes", outlen);
    else if (ret != 0)
        snprintf(out, outlen, "%s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ret;
}

int store_sqlite_explain_list(const char *path, const store_list_query *q,
                              char *out, size_t outlen) {
    return explain(path, list_stmt(q), out, outlen);
}

int store_sqlite_explain(const char *path, const char *name, char *out,
                         size_t outlen) {
    static const struct {
        const char *name;
        enum stmt_id id;
    } stmts[] = {
        {"observations_list", ST_OBS_LIST},
        {"observations_list_metric", ST_OBS_LIST_METRIC},
        {"events_list", ST_EV_LIST},
        {"events_list_kind", ST_EV_LIST_KIND},
        {"observations_update", ST_OBS_UPDATE},
        {"events_update", ST_EV_UPDATE},
        {"newest_ts", ST_NEWEST_TS},
        {"next_metric", ST_NEXT_METRIC},
        {"days_window", ST_DAYS_WINDOW},
        {"day_rebuild", ST_DAY_REBUILD},
        {"events_window", ST_EV_WINDOW},
        {"revisions_all", ST_REVISIONS_ALL},
        {"version", ST_VERSION},
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
        if (strcmp(stmts[i].name, name) == 0)
            return explain(path, stmts[i].id, out, outlen);
    if (outlen > 0)
        snprintf(out, outlen, "no statement named %s", name);
    return -1;
}

int store_sqlite_pragma(void *impl, const char *name, char *out,
                        size_t outlen) {
    sqlite_store *s = impl;
    char sql[128];
    int rc;
    /* A name, not a statement: this runs on the writer. */
    if (outlen == 0 || name[0] == '\0' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz_") != strlen(name) ||
        strlen(name) > 64)
        return -1;
    snprintf(sql, sizeof sql, "PRAGMA %s", name);
    uv_mutex_lock(&s->write_mu);
    rc = query_text(s->writer.db, sql, out, outlen);
    if (rc != SQLITE_OK)
        snprintf(out, outlen, "%s", sqlite3_errmsg(s->writer.db));
    uv_mutex_unlock(&s->write_mu);
    return rc == SQLITE_OK ? 0 : -1;
}

const store_backend store_sqlite_backend = {
    .kind = "sqlite",
    .open = sq_open,
    .migrate = sq_migrate,
    .ready = sq_ready,
    .loop_attach = sq_loop_attach,
    .loop_detach = sq_loop_detach,
    .close = sq_close,
    .object_create = sq_object_create,
    .object_put = sq_object_put,
    .object_get = sq_object_get,
    .object_list = sq_object_list,
    .revisions_list = sq_revisions_list,
    .observations_put = sq_observations_put,
    .events_put = sq_events_put,
    .observations_list = sq_observations_list,
    .events_list = sq_events_list,
    .analysis_load = sq_analysis_load,
    .object_version = sq_object_version,
};
