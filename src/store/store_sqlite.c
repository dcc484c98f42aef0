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
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store_backend.h"

enum {
    BUSY_TIMEOUT_MS = 5000,
    /* PRAGMA cache_size takes -KiB. Readers are one per pool thread
     * (UV_THREADPOOL_SIZE, 4 by default), hence the smaller share. */
    WRITER_CACHE_KIB = 16384,
    READER_CACHE_KIB = 8192,
    /* After a checkpoint, a WAL file that grew past this is truncated
     * back to it, so one burst of writes does not keep its disk space. */
    JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024,
    /* Virtual machine steps between two statement-timeout checks: about
     * tens of microseconds of work, so the clock read costs nothing. */
    PROGRESS_STEPS = 1000,
    LIST_LIMIT_MAX = 1000,
    ARENA_CHUNK = 8192,
};

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

enum op { OP_CREATE, OP_PUT, OP_GET, OP_LIST, OP_REVISIONS };

/* One asynchronous call: its inputs (strings copied into |mem|), then its
 * result (rows and strings also in |mem|, the rows array apart). */
typedef struct req {
    uv_work_t work;
    sqlite_store *s;
    enum op op;
    store_cb cb;
    void *arg;
    arena_chunk *mem;
    store_write w;
    store_list_query q;
    int64_t id, revision, as_of;
    int limit;
    store_result res;
    size_t rows_cap;
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
    r->res.nrows = 0;
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

static int column_copy(req *r, sqlite3_stmt *st, int col, const char **out) {
    const unsigned char *t = sqlite3_column_text(st, col);
    if (t == NULL) /* the columns are NOT NULL: out of memory */
        return SQLITE_NOMEM;
    *out = arena_copy(&r->mem, (const char *)t,
                      (size_t)sqlite3_column_bytes(st, col));
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
        r->res.nrows = 0;
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
    o->created_at = o->updated_at = now_us();
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
     * back: as_of and the updated_at orders rely on it per object. */
    o->updated_at = now_us();
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
    if (r->res.nrows == 0) {
        /* No rows: an empty page, or no object? Outside the statement's
         * snapshot, but objects are never removed, so the answer can
         * only turn from "no object" to "exists" meanwhile - either is a
         * true answer for a request that raced a create. */
        if ((st = stmt_get(c, ST_EXISTS, &rc)) == NULL ||
            (rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK)
            goto out;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            r->res.status = STORE_NOT_FOUND;
        else if (rc != SQLITE_ROW)
            goto out;
        rc = SQLITE_OK;
    }
out:
    if (rc != SQLITE_OK)
        req_fail(r, c, rc);
    stmt_done(c, st);
}

/* ---- requests (on the loop thread) --------------------------------- */

static void req_free(req *r) {
    arena_free(r->mem);
    free(r->res.rows);
    free(r);
}

static void work_cb(uv_work_t *work) {
    req *r = work->data;
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
    }
}

static void after_work_cb(uv_work_t *work, int status) {
    req *r = work->data;
    if (status != 0) { /* UV_ECANCELED: the work never ran */
        r->res.status = STORE_UNAVAILABLE;
        r->res.message = "cancelled";
        r->res.nrows = 0;
    }
    r->cb(&r->res, r->arg);
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

int store_sqlite_explain_list(const char *path, const store_list_query *q,
                              char *out, size_t outlen) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[1024];
    size_t len = 0;
    int rc, ret = -1;

    if (outlen == 0)
        return -1;
    out[0] = '\0';
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", stmt_sql[list_stmt(q)]);
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK ||
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
};
