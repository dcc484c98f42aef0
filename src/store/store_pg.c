/* store_pg: the PostgreSQL backend - libpq in non-blocking mode on the
 * worker loops, a bounded pool of connections per loop.
 *
 * Every store operation is exactly one prepared statement: reads are plain
 * SELECTs, writes call the PL/pgSQL functions objectd_create/objectd_put/
 * objectd_observations_put/objectd_events_put that the migrations create
 * (migrations_pg.c). So a write is one round trip and one implicit
 * transaction, and no request ever needs a pipeline or an explicit BEGIN on
 * a pooled connection (docs/store.md). Ingest batches travel as binary
 * arrays; the series reads and the analysis snapshot come back in binary
 * (int8 and float8 big-endian, no text formatting on either side).
 *
 * A connection's life: connect and set up (statement_timeout, prepare every
 * statement, pipelined) as blocking libpq calls on libuv's thread pool -
 * libpq 15 resolves host names inside PQconnectStart, which would stall the
 * loop - then move the socket into the loop with uv_poll. Requests are
 * PQsendQueryPrepared + PQflush (poll writable while it returns 1), and on
 * readable PQconsumeInput / PQisBusy / PQgetResult. A lost connection fails
 * its request with STORE_UNAVAILABLE (a read is resent, up to 3 times: it
 * changes nothing; a write never is, it may have committed) and reconnects
 * after a
 * backoff of 100 ms doubling to 5 s. PQcancel, which also blocks, runs on
 * the thread pool too.
 *
 * When every connection of a loop is busy, requests wait in a FIFO
 * (bounded) for at most pool_timeout_ms, then get STORE_UNAVAILABLE. */
#include "store_pg.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "timeutil.h"

#define container_of(p, type, member)                                          \
    ((type *)(void *)((char *)(p)-offsetof(type, member)))

enum {
    PG_DEFAULT_POOL_SIZE = 16,
    PG_DEFAULT_POOL_TIMEOUT_MS = 5000,
    PG_QUEUE_MAX = 10000, /* waiting requests per loop */
    PG_BACKOFF_MIN_MS = 100,
    PG_BACKOFF_MAX_MS = 5000,
    PG_CONNECT_TIMEOUT_S = 10,
    /* Connects block a thread of libuv's pool (shared with SQLite and the
     * analyses) for up to connect_timeout when the server is unreachable;
     * a loop runs at most this many at once. */
    PG_CONNECTS_IN_FLIGHT = 2,
    /* A statement still running this long after statement_timeout should
     * have fired is cancelled; one that outlives the cancel by the grace
     * period costs its connection (the server or the network is gone). */
    PG_WATCHDOG_SLACK_MS = 2000,
    PG_CANCEL_GRACE_MS = 5000,
    PG_LIST_MAX = 1000,
    /* A read whose connection died is resent up to this many times: it
     * changes nothing, and when the server restarts or kills its backends
     * several pooled connections die at once. */
    PG_READ_RESENDS = 3,
    PG_MAX_PARAMS = 10,
    PG_MSG_MAX = 256,
    PG_BATCH_MAX = 100000, /* rows per ingest call (store.h) */
    PG_SERIES_MAX = 10000, /* rows per series list page */
    /* The server takes no protocol message over 1 GB: a batch whose
     * parameters exceed this is refused before it is sent. */
    PG_PARAMS_MAX_BYTES = 1000 * 1000 * 1000,
    /* Distinct metric names a list result shares one copy of. */
    PG_INTERN_MAX = 32,
};

/* Thirty days in microseconds: the analysis's default window, which
 * starts no earlier than INT64_MIN (as in SQLite). */
#define PG_WINDOW_US "2592000000000"
#define PG_INT64_MIN "(-9223372036854775807 - 1)"

/* Held while migrating: two replicas starting at once apply each migration
 * once. The bytes of "objectd\0". */
#define PG_MIGRATE_LOCK "8026936961478603776"

/* ---- statements ------------------------------------------------------ */

/* Every read returns these columns in this order (row_parse). */
#define HEAD_COLS                                                              \
    "id, revision, type, name, attributes, created_at, updated_at, "           \
    "updated_by, deleted, change_seq"
#define REV_COLS                                                               \
    "r.object_id, r.revision, r.type, r.name, r.attributes, o.created_at, "    \
    "r.updated_at, r.author, r.deleted, o.change_seq"
#define NCOLS 10

/* Lists: one statement per (type filter, order) so each has the plan that
 * walks its index. Absent bounds and cursors are passed as values outside
 * every key (INT64_MIN/MAX) rather than as different SQL. The row-value
 * comparison is an index condition: the walk starts at the cursor. */
#define LIST_FROM "SELECT " HEAD_COLS " FROM objects WHERE "

enum stmt_id {
    ST_CREATE,
    ST_PUT,
    ST_GET_HEAD,
    ST_GET_REVISION,
    ST_GET_AS_OF,
    ST_LIST_ASC,
    ST_LIST_DESC,
    ST_LIST_ID,
    ST_LIST_TYPE_ASC,
    ST_LIST_TYPE_DESC,
    ST_LIST_TYPE_ID,
    ST_REVISIONS,
    ST_SLEEP,
    ST_OBS_PUT,
    ST_EVENTS_PUT,
    ST_OBS_LIST,
    ST_OBS_LIST_METRIC,
    ST_EVENTS_LIST,
    ST_EVENTS_LIST_KIND,
    ST_ANALYSIS,
    ST_VERSION,
    ST_COUNT
};

/* The series lists: the LEFT JOIN tells "no such object" (no row) from an
 * empty page (one row of NULLs), as ST_REVISIONS does. Without a filter
 * the walk is observations_by_time / the events key from the cursor on,
 * the row comparison being an index condition. With one, the cursor is
 * folded into the lower ts bound in C (series_params) so that the walk is a
 * plain range of the (object, metric, ts) key. */
#define SERIES_OBS_COLS "x.ts, x.metric, x.value"
#define SERIES_EVENT_COLS "x.ts, x.kind, x.severity, x.message, x.data"

/* The analysis snapshot is one statement, hence one snapshot: the head
 * with the window it implies, every revision, one row per metric carrying
 * that metric's day blocks covering the window (migration 5) concatenated
 * into one bytea, and the window's events. Columns: k (0 head, 1
 * revision, 2 metric, 3 event), n1..n9 bigint, t1..t4 text, readings
 * bytea (analysis_copy, which drops the readings of the first and last
 * days that fall outside the window).
 *
 * The readings are read metric by metric: a loose index scan of the day
 * blocks' primary key lists the object's metric names (one probe per
 * name), then each metric is one range of the key, (object, metric,
 * day(from)..day(to)): 30 rows for a month, instead of the 1,440 readings
 * the statement aggregated into two arrays before the blocks existed. A
 * plain GROUP BY metric made the planner walk the key and sort (it cannot
 * estimate the window's size in a generic plan). string_agg keeps its
 * ORDER BY day; analysis_copy still checks each metric's readings are in
 * ts order and sorts if they ever are not. Row order is not relied on. */
#define ANALYSIS_SQL                                                           \
    "WITH RECURSIVE m AS ("                                                    \
    " SELECT (SELECT min(metric) FROM observation_days"                        \
    " WHERE object_id = $1::bigint) AS metric"                                 \
    " UNION ALL"                                                               \
    " SELECT (SELECT min(o.metric) FROM observation_days o"                    \
    " WHERE o.object_id = $1::bigint AND o.metric > m.metric)"                 \
    " FROM m WHERE m.metric IS NOT NULL"                                       \
    "), h AS MATERIALIZED ("                                                   \
    " SELECT o.*, (SELECT max(ts) FROM observations"                           \
    " WHERE object_id = o.id) AS newest"                                       \
    " FROM objects o WHERE o.id = $1::bigint"                                  \
    "), w AS MATERIALIZED ("                                                   \
    " SELECT h.*, CASE WHEN $2::bigint <> 0 THEN $2::bigint"                   \
    " WHEN t.wto >= " PG_INT64_MIN " + " PG_WINDOW_US                          \
    " THEN t.wto - " PG_WINDOW_US " ELSE " PG_INT64_MIN " END AS wfrom, t.wto" \
    " FROM h, LATERAL (SELECT CASE WHEN $3::bigint <> 0 THEN $3::bigint"       \
    " ELSE coalesce(h.newest, h.updated_at) END AS wto) t"                     \
    ") "                                                                       \
    "SELECT 0 AS k, id, revision, created_at, updated_at, change_seq,"         \
    " deleted::int::bigint, wfrom, wto, coalesce(newest, 0),"                  \
    " type, name, attributes, updated_by, NULL::bytea"                         \
    " FROM w "                                                                 \
    "UNION ALL "                                                               \
    "SELECT 1, r.object_id, r.revision, w.created_at, r.updated_at,"           \
    " w.change_seq, r.deleted::int::bigint, NULL, NULL, NULL,"                 \
    " r.type, r.name, r.attributes, r.author, NULL"                            \
    " FROM w JOIN revisions r ON r.object_id = w.id "                          \
    "UNION ALL "                                                               \
    "SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"          \
    " m.metric, NULL, NULL, NULL, s.readings"                                  \
    " FROM m, LATERAL (SELECT string_agg(d.readings, ''::bytea"                \
    " ORDER BY d.day) AS readings FROM observation_days d"                     \
    " WHERE d.object_id = $1::bigint AND d.metric = m.metric"                  \
    " AND d.day >= objectd_utc_day((SELECT wfrom FROM w))"                     \
    " AND d.day <= objectd_utc_day((SELECT wto FROM w))) s"                    \
    " WHERE m.metric IS NOT NULL AND s.readings IS NOT NULL "                  \
    "UNION ALL "                                                               \
    "SELECT 3, e.ts, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"          \
    " e.kind, e.severity, e.message, e.data, NULL FROM events e"               \
    " WHERE e.object_id = $1::bigint AND e.ts >= (SELECT wfrom FROM w)"        \
    " AND e.ts <= (SELECT wto FROM w)"

static const struct {
    const char *name;
    const char *sql;
} stmts[ST_COUNT] = {
    [ST_CREATE] = {"od_create",
                   "SELECT * FROM objectd_create($1, $2, $3, $4, $5, $6)"},
    [ST_PUT] = {"od_put", "SELECT * FROM objectd_put($1, $2, $3, $4, $5, $6, "
                          "$7, $8, $9, $10)"},
    [ST_GET_HEAD] = {"od_get_head",
                     "SELECT " HEAD_COLS " FROM objects WHERE id = $1"},
    [ST_GET_REVISION] = {"od_get_revision",
                         "SELECT " REV_COLS " FROM revisions r JOIN objects o "
                         "ON o.id = r.object_id "
                         "WHERE r.object_id = $1 AND r.revision = $2"},
    /* updated_at never decreases along an object's revisions, so the
     * newest revision at or before a time is the last entry of
     * revisions_by_time up to it; revision breaks ties. */
    [ST_GET_AS_OF] = {"od_get_as_of",
                      "SELECT " REV_COLS " FROM revisions r JOIN objects o "
                      "ON o.id = r.object_id "
                      "WHERE r.object_id = $1 AND r.updated_at <= $2 "
                      "ORDER BY r.updated_at DESC, r.revision DESC LIMIT 1"},
    [ST_LIST_ASC] = {"od_list_asc",
                     LIST_FROM "NOT deleted AND updated_at > $1 "
                               "AND updated_at < $2 "
                               "AND (updated_at, id) > ($3, $4) "
                               "ORDER BY updated_at, id LIMIT $5"},
    [ST_LIST_DESC] = {"od_list_desc",
                      LIST_FROM "NOT deleted AND updated_at > $1 "
                                "AND updated_at < $2 "
                                "AND (updated_at, id) < ($3, $4) "
                                "ORDER BY updated_at DESC, id DESC LIMIT $5"},
    [ST_LIST_ID] = {"od_list_id", LIST_FROM "NOT deleted AND updated_at > $1 "
                                            "AND updated_at < $2 AND id > $3 "
                                            "ORDER BY id LIMIT $4"},
    [ST_LIST_TYPE_ASC] = {"od_list_type_asc",
                          LIST_FROM "type = $1 AND NOT deleted "
                                    "AND updated_at > $2 AND updated_at < $3 "
                                    "AND (updated_at, id) > ($4, $5) "
                                    "ORDER BY updated_at, id LIMIT $6"},
    [ST_LIST_TYPE_DESC] = {"od_list_type_desc", LIST_FROM
                           "type = $1 AND NOT deleted "
                           "AND updated_at > $2 AND updated_at < $3 "
                           "AND (updated_at, id) < ($4, $5) "
                           "ORDER BY updated_at DESC, id DESC LIMIT $6"},
    [ST_LIST_TYPE_ID] = {"od_list_type_id",
                         LIST_FROM "type = $1 AND NOT deleted "
                                   "AND updated_at > $2 AND updated_at < $3 "
                                   "AND id > $4 ORDER BY id LIMIT $5"},
    /* The LEFT JOIN tells "no such object" (no row) from "no revisions on
     * this page" (one row of NULLs); the LATERAL subquery is a backward
     * walk of the primary key that stops at the limit. */
    [ST_REVISIONS] = {"od_revisions",
                      "SELECT " REV_COLS " FROM objects o LEFT JOIN LATERAL "
                      "(SELECT * FROM revisions WHERE object_id = o.id "
                      "AND revision < $2 ORDER BY revision DESC LIMIT $3) r "
                      "ON true WHERE o.id = $1 ORDER BY r.revision DESC"},
    [ST_SLEEP] = {"od_sleep", "SELECT pg_sleep($1::float8 / 1000)"},
    [ST_OBS_PUT] = {"od_obs_put", "SELECT * FROM objectd_observations_put("
                                  "$1, $2, $3, $4)"},
    [ST_EVENTS_PUT] = {"od_events_put", "SELECT * FROM objectd_events_put("
                                        "$1, $2, $3, $4, $5, $6)"},
    [ST_OBS_LIST] = {"od_obs_list",
                     "SELECT " SERIES_OBS_COLS " FROM objects o "
                     "LEFT JOIN LATERAL (SELECT ts, metric, value "
                     "FROM observations WHERE object_id = o.id "
                     "AND ts >= $2 AND ts <= $3 AND (ts, metric) > ($4, $5) "
                     "ORDER BY ts, metric LIMIT $6) x ON true "
                     "WHERE o.id = $1 ORDER BY x.ts, x.metric"},
    [ST_OBS_LIST_METRIC] = {"od_obs_list_metric",
                            "SELECT " SERIES_OBS_COLS " FROM objects o "
                            "LEFT JOIN LATERAL (SELECT ts, metric, value "
                            "FROM observations WHERE object_id = o.id "
                            "AND metric = $2 AND ts >= $3 AND ts <= $4 "
                            "ORDER BY ts LIMIT $5) x ON true "
                            "WHERE o.id = $1 ORDER BY x.ts"},
    [ST_EVENTS_LIST] = {"od_events_list",
                        "SELECT " SERIES_EVENT_COLS " FROM objects o "
                        "LEFT JOIN LATERAL (SELECT * FROM events "
                        "WHERE object_id = o.id AND ts >= $2 AND ts <= $3 "
                        "AND (ts, kind) > ($4, $5) "
                        "ORDER BY ts, kind LIMIT $6) x ON true "
                        "WHERE o.id = $1 ORDER BY x.ts, x.kind"},
    [ST_EVENTS_LIST_KIND] = {"od_events_list_kind",
                             "SELECT " SERIES_EVENT_COLS " FROM objects o "
                             "LEFT JOIN LATERAL (SELECT * FROM events "
                             "WHERE object_id = o.id AND kind = $2 "
                             "AND ts >= $3 AND ts <= $4 "
                             "ORDER BY ts LIMIT $5) x ON true "
                             "WHERE o.id = $1 ORDER BY x.ts"},
    [ST_ANALYSIS] = {"od_analysis", ANALYSIS_SQL},
    [ST_VERSION] = {"od_version", "SELECT id, revision, deleted, change_seq "
                                  "FROM objects WHERE id = $1"},
};

/* How a statement's result becomes a store_result. */
enum req_kind {
    K_WRITE,  /* one row: r_status, then the head when r_status is 0 */
    K_ONE,    /* 0 rows: NOT_FOUND; 1 row: the object */
    K_LIST,   /* up to limit + 1 rows */
    K_REVS,   /* no row: NOT_FOUND; a row of NULLs: empty page */
    K_NONE,   /* OK, no rows */
    K_INGEST, /* one row: r_status, then the counts and change_seq */
    /* These three take their results in binary format (kind_binary). */
    K_OBS,      /* as K_REVS, up to limit + 1 observations */
    K_EVENTS,   /* as K_REVS, up to limit + 1 events */
    K_ANALYSIS, /* the snapshot (analysis_copy) */
    K_VERSION,  /* 0 rows: NOT_FOUND; 1 row: id, revision, deleted, seq */
};

/* Results of these kinds come in binary format: int8 and float8 are sent
 * as 8 big-endian bytes rather than formatted and parsed as text. */
static int kind_binary(int kind) {
    return kind == K_OBS || kind == K_EVENTS || kind == K_ANALYSIS;
}

/* ---- types ----------------------------------------------------------- */

typedef struct pg_store pg_store;
typedef struct pg_loop pg_loop;
typedef struct pg_conn pg_conn;
typedef struct pg_req pg_req;

struct pg_store {
    char *uri;
    int conns_per_loop;
    int64_t pool_timeout_ms;
    int64_t statement_timeout_ms;
    atomic_int ready;
    pg_loop **loops;
    size_t nloops;
};

enum conn_state {
    CONN_INIT,       /* not started yet */
    CONN_DOWN,       /* waiting for the backoff timer */
    CONN_CONNECTING, /* on the thread pool */
    CONN_IDLE,
    CONN_BUSY,
    CONN_CLOSING, /* poll handle closing; PQfinish in its close callback */
    CONN_CLOSED,  /* detached */
};

struct pg_conn {
    pg_loop *pl;
    int state;
    PGconn *pg;
    uv_poll_t poll;
    int poll_open;
    uv_timer_t timer; /* backoff while DOWN, watchdog while BUSY */
    int timer_open;
    uv_work_t connect_work;
    PGconn *new_pg;           /* set by the thread pool */
    char new_err[PG_MSG_MAX]; /* set by the thread pool */
    uint64_t backoff_ms;
    int connect_waiting; /* DOWN, waiting for a connect slot */
    pg_req *req;         /* in flight */
    int flushing;
    int have_result; /* the request's result is taken */
    int cancelled;   /* the watchdog has sent a cancel */
    int broken;      /* the result said the connection is gone */
};

struct pg_loop {
    pg_store *st;
    uv_loop_t *loop;
    int index;
    pg_conn *conns;
    int nconns;
    pg_req *qhead, *qtail; /* waiting for a connection, FIFO */
    size_t qlen;
    uv_timer_t queue_timer; /* the earliest wait deadline */
    uint64_t queue_due;
    uv_timer_t tick; /* first connects and deferred completions */
    pg_req *done_head, *done_tail;
    int connecting; /* connects on the thread pool */
    int detaching;
    char last_err[PG_MSG_MAX]; /* why the last connect failed */
};

struct pg_req {
    pg_req *next, *prev;
    pg_loop *pl;
    int stmt;
    int kind;
    int limit;
    int is_write;
    int resends; /* after lost connections */
    uint64_t deadline;
    uint64_t submitted_ns; /* for the pool-wait metric */
    store_cb cb;
    void *arg;
    int nparams;
    const char *params[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS]; /* of the binary parameters */
    int formats[PG_MAX_PARAMS]; /* 1: binary (points into |blob|) */
    unsigned char *blob;        /* the binary parameters, one allocation */
    store_result res;
    void *rows_mem; /* everything |res| points to, one allocation */
    char msg[PG_MSG_MAX];
    char data[]; /* the parameters' text */
};

static void dispatch(pg_loop *pl);
static void conn_lost(pg_conn *c, const char *why);
static void conn_start_connect(pg_conn *c);

/* ---- small helpers --------------------------------------------------- */

static void set_msg(char *dst, size_t len, const char *msg) {
    if (len == 0)
        return;
    /* Cut to |len| on purpose (a bounded copy, not snprintf: a release
     * build's -Wformat-truncation sees the cut and, with -Werror, fails). */
    size_t n = msg != NULL ? strlen(msg) : 0;
    if (n >= len)
        n = len - 1;
    if (n > 0)
        memcpy(dst, msg, n);
    dst[n] = '\0';
    /* libpq messages end in a newline; results carry one line. */
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0';
}

static void notice_discard(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

/* A blocking connection with our defaults; the URI's own settings win. */
static PGconn *connect_blocking(const char *uri, char *err, size_t errlen) {
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", PG_CONNECT_TIMEOUT_S);
    const char *const keys[] = {"application_name", "connect_timeout", "dbname",
                                NULL};
    const char *const vals[] = {"objectd", timeout, uri, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        set_msg(err, errlen, PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, notice_discard, NULL);
    return pg;
}

/* Runs |sql| (no parameters); 0 or -1 with |err|. */
static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen) {
    PGresult *r = PQexec(pg, sql);
    ExecStatusType s = PQresultStatus(r);
    int rc = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        set_msg(err, errlen, PQresultErrorMessage(r));
        rc = -1;
    }
    PQclear(r);
    return rc;
}

/* The highest applied migration, 0 for an empty database, -1 on error. */
static int schema_version(PGconn *pg, char *err, size_t errlen) {
    int version = -1;
    PGresult *r =
        PQexec(pg, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        set_msg(err, errlen, PQresultErrorMessage(r));
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        version = 0;
        goto out;
    }
    PQclear(r);
    r = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        set_msg(err, errlen, PQresultErrorMessage(r));
        goto out;
    }
    version = atoi(PQgetvalue(r, 0, 0));
out:
    PQclear(r);
    return version;
}

static int latest_version(void) {
    return store_pg_migrations[store_pg_nmigrations - 1].version;
}

/* ---- open, migrate, close -------------------------------------------- */

static int pg_open(void **impl, const store_config *cfg, char *err,
                   size_t errlen) {
    int rc = -1;
    PGconn *pg = NULL;
    pg_store *st = calloc(1, sizeof *st);
    if (st == NULL || (st->uri = strdup(cfg->uri)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int pool = cfg->pool_size > 0 ? cfg->pool_size : PG_DEFAULT_POOL_SIZE;
    int nloops = cfg->nloops > 0 ? cfg->nloops : 1;
    st->conns_per_loop = (pool + nloops - 1) / nloops;
    st->pool_timeout_ms = cfg->pool_timeout_ms > 0 ? cfg->pool_timeout_ms
                                                   : PG_DEFAULT_POOL_TIMEOUT_MS;
    st->statement_timeout_ms =
        cfg->statement_timeout_ms > 0 ? cfg->statement_timeout_ms : 0;

    char why[PG_MSG_MAX];
    pg = connect_blocking(st->uri, why, sizeof why);
    if (pg == NULL) {
        snprintf(err, errlen, "postgresql: cannot connect: %s", why);
        goto out;
    }
    int version = schema_version(pg, why, sizeof why);
    if (version < 0) {
        snprintf(err, errlen, "postgresql: reading the schema version: %s",
                 why);
        goto out;
    }
    atomic_store(&st->ready, version >= latest_version());
    *impl = st;
    st = NULL;
    rc = 0;
out:
    if (pg != NULL)
        PQfinish(pg);
    if (st != NULL) {
        free(st->uri);
        free(st);
    }
    return rc;
}

/* Applies one migration unless applied: 1 applied, 0 already, -1 error. */
static int migrate_one(PGconn *pg, const store_pg_migration *m, char *err,
                       size_t errlen) {
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[1] = {version};
    PGresult *r = NULL;
    int rc = -1;

    if (exec_ok(pg, "BEGIN", err, errlen) != 0)
        return -1;
    /* Transaction-scoped: released by COMMIT or ROLLBACK, and by the
     * server if we die. */
    if (exec_ok(pg, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", err,
                errlen) != 0 ||
        exec_ok(pg,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version int PRIMARY KEY, applied_at bigint NOT NULL)",
                err, errlen) != 0)
        goto out;
    r = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_msg(err, errlen, PQresultErrorMessage(r));
        goto out;
    }
    if (PQntuples(r) == 1) {
        rc = exec_ok(pg, "COMMIT", err, errlen);
        goto out;
    }
    PQclear(r);
    r = NULL;
    if (exec_ok(pg, m->sql, err, errlen) != 0)
        goto out;
    r = PQexecParams(pg,
                     "INSERT INTO schema_migrations (version, applied_at) "
                     "VALUES ($1, (extract(epoch FROM clock_timestamp()) "
                     "* 1000000)::bigint)",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        set_msg(err, errlen, PQresultErrorMessage(r));
        goto out;
    }
    if (exec_ok(pg, "COMMIT", err, errlen) != 0)
        goto out;
    rc = 1;
out:
    PQclear(r);
    if (rc < 0) {
        char ignored[8];
        exec_ok(pg, "ROLLBACK", ignored, sizeof ignored);
    }
    return rc;
}

static int pg_migrate(void *impl, char *err, size_t errlen) {
    pg_store *st = impl;
    char why[PG_MSG_MAX];
    int applied = 0;
    PGconn *pg = connect_blocking(st->uri, why, sizeof why);
    if (pg == NULL) {
        snprintf(err, errlen, "postgresql: cannot connect: %s", why);
        return -1;
    }
    for (int i = 0; i < store_pg_nmigrations; i++) {
        const store_pg_migration *m = &store_pg_migrations[i];
        int rc = migrate_one(pg, m, why, sizeof why);
        if (rc < 0) {
            snprintf(err, errlen, "postgresql: migration %d (%s): %s",
                     m->version, m->name, why);
            applied = -1;
            goto out;
        }
        applied += rc;
    }
    atomic_store(&st->ready, 1);
out:
    PQfinish(pg);
    return applied;
}

static int pg_ready(void *impl) {
    pg_store *st = impl;
    return atomic_load(&st->ready);
}

static void pg_close(void *impl) {
    pg_store *st = impl;
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->nloops; i++) {
        free(st->loops[i]->conns);
        free(st->loops[i]);
    }
    free(st->loops);
    free(st->uri);
    free(st);
}

/* ---- requests -------------------------------------------------------- */

/* A request whose parameters are copies of |vals| (NULL is SQL NULL). */
static pg_req *req_new(pg_loop *pl, int stmt, int kind, int nparams,
                       const char *const *vals, store_cb cb, void *arg) {
    size_t bytes = 0;
    for (int i = 0; i < nparams; i++)
        if (vals[i] != NULL)
            bytes += strlen(vals[i]) + 1;
    pg_req *req = calloc(1, sizeof *req + bytes);
    if (req == NULL)
        return NULL;
    req->pl = pl;
    req->submitted_ns = time_mono_ns();
    req->stmt = stmt;
    req->kind = kind;
    req->cb = cb;
    req->arg = arg;
    req->nparams = nparams;
    char *p = req->data;
    for (int i = 0; i < nparams; i++) {
        if (vals[i] == NULL)
            continue;
        size_t n = strlen(vals[i]) + 1;
        memcpy(p, vals[i], n);
        req->params[i] = p;
        p += n;
    }
    return req;
}

static void req_free(pg_req *req) {
    free(req->rows_mem);
    free(req->blob);
    free(req);
}

/* store_result_release of a kept result: |res| is the request's own. */
static void req_release(store_result *res) {
    req_free((pg_req *)((char *)res - offsetof(pg_req, res)));
}

/* Calls the callback and frees the request: the result's memory lives
 * as long as the callback, or until released when the callback kept it. */
static void req_complete(pg_req *req) {
    int kept = 0;
    req->res.release_ = req_release;
    req->res.kept_ = &kept;
    req->cb(&req->res, req->arg);
    if (!kept) /* else |req| may already be gone: not to be touched */
        req_free(req);
}

static void req_set_status(pg_req *req, int status, const char *msg) {
    free(req->rows_mem);
    req->rows_mem = NULL;
    memset(&req->res, 0, sizeof req->res);
    req->res.status = status;
    if (msg != NULL) {
        set_msg(req->msg, sizeof req->msg, msg);
        req->res.message = req->msg;
    }
}

static void req_fail(pg_req *req, int status, const char *msg) {
    req_set_status(req, status, msg);
    req_complete(req);
}

/* Doubly linked FIFO of waiting requests. */
static void queue_unlink(pg_loop *pl, pg_req *req) {
    if (req->prev != NULL)
        req->prev->next = req->next;
    else
        pl->qhead = req->next;
    if (req->next != NULL)
        req->next->prev = req->prev;
    else
        pl->qtail = req->prev;
    req->next = req->prev = NULL;
    pl->qlen--;
}

static void on_queue_timer(uv_timer_t *t);

static void queue_arm(pg_loop *pl, uint64_t deadline) {
    if (uv_is_active((uv_handle_t *)&pl->queue_timer) &&
        pl->queue_due <= deadline)
        return;
    uint64_t now = uv_now(pl->loop);
    pl->queue_due = deadline;
    uv_timer_start(&pl->queue_timer, on_queue_timer,
                   deadline > now ? deadline - now : 0, 0);
}

static void queue_push(pg_loop *pl, pg_req *req, int front) {
    req->deadline = uv_now(pl->loop) + (uint64_t)pl->st->pool_timeout_ms;
    if (front) {
        req->next = pl->qhead;
        req->prev = NULL;
        if (pl->qhead != NULL)
            pl->qhead->prev = req;
        else
            pl->qtail = req;
        pl->qhead = req;
    } else {
        req->prev = pl->qtail;
        req->next = NULL;
        if (pl->qtail != NULL)
            pl->qtail->next = req;
        else
            pl->qhead = req;
        pl->qtail = req;
    }
    pl->qlen++;
    queue_arm(pl, req->deadline);
}

/* Deadlines are in push order except for reads pushed back to the front
 * after a lost connection, so expiry scans the queue rather than trusting
 * its head. The callbacks run after the scan: they may queue more. */
static void on_queue_timer(uv_timer_t *t) {
    pg_loop *pl = container_of(t, pg_loop, queue_timer);
    uint64_t now = uv_now(pl->loop);
    pg_req *expired = NULL, **tail = &expired;
    uint64_t next_due = UINT64_MAX;
    for (pg_req *req = pl->qhead, *next; req != NULL; req = next) {
        next = req->next;
        if (req->deadline <= now) {
            queue_unlink(pl, req);
            *tail = req;
            tail = &req->next;
        } else if (req->deadline < next_due) {
            next_due = req->deadline;
        }
    }
    if (next_due != UINT64_MAX)
        queue_arm(pl, next_due);
    char msg[PG_MSG_MAX + 64];
    snprintf(msg, sizeof msg,
             "no database connection free within %" PRId64 " ms%s%s",
             pl->st->pool_timeout_ms, pl->last_err[0] ? ": " : "",
             pl->last_err);
    while (expired != NULL) {
        pg_req *req = expired;
        expired = req->next;
        req->next = NULL;
        req_fail(req, STORE_UNAVAILABLE, msg);
    }
}

static void on_tick(uv_timer_t *t);

/* Completes |req| from the loop rather than inside the call that made it:
 * store.h promises the callback comes later. */
static void req_defer(pg_req *req, int status, const char *msg) {
    pg_loop *pl = req->pl;
    req_set_status(req, status, msg);
    req->next = NULL;
    if (pl->done_tail != NULL)
        pl->done_tail->next = req;
    else
        pl->done_head = req;
    pl->done_tail = req;
    uv_timer_start(&pl->tick, on_tick, 0, 0);
}

static void on_tick(uv_timer_t *t) {
    pg_loop *pl = container_of(t, pg_loop, tick);
    for (int i = 0; i < pl->nconns; i++)
        if (pl->conns[i].state == CONN_INIT)
            conn_start_connect(&pl->conns[i]);
    pg_req *done = pl->done_head;
    pl->done_head = pl->done_tail = NULL;
    while (done != NULL) {
        pg_req *req = done;
        done = req->next;
        req_complete(req);
    }
}

static int submit(pg_loop *pl, pg_req *req) {
    if (pl->detaching) {
        req_free(req);
        return -ESHUTDOWN;
    }
    if (pl->qlen >= PG_QUEUE_MAX) {
        req_defer(req, STORE_UNAVAILABLE,
                  "too many requests waiting for "
                  "a database connection");
        return 0;
    }
    queue_push(pl, req, 0);
    dispatch(pl);
    return 0;
}

/* ---- results --------------------------------------------------------- */

static int parse_i64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Copies |nrows| rows starting at row |row0|, columns from |col0| (see
 * HEAD_COLS), into one allocation owned by |req|. */
static int rows_copy(pg_req *req, const PGresult *r, int row0, int nrows,
                     int col0) {
    static const int str_cols[] = {2, 3, 4, 7};
    if (PQnfields(r) < col0 + NCOLS)
        return -1;
    size_t bytes = (size_t)nrows * sizeof(store_object);
    for (int i = row0; i < row0 + nrows; i++)
        for (size_t k = 0; k < sizeof str_cols / sizeof str_cols[0]; k++)
            bytes += (size_t)PQgetlength(r, i, col0 + str_cols[k]) + 1;
    if (nrows == 0)
        return 0;
    char *mem = malloc(bytes);
    if (mem == NULL)
        return -1;
    store_object *rows = (store_object *)(void *)mem;
    char *strs = mem + (size_t)nrows * sizeof(store_object);
    for (int i = 0; i < nrows; i++) {
        int ri = row0 + i;
        store_object *o = &rows[i];
        const char **dst[4] = {&o->type, &o->name, &o->attributes,
                               &o->updated_by};
        for (size_t k = 0; k < 4; k++) {
            int col = col0 + str_cols[k];
            size_t n = (size_t)PQgetlength(r, ri, col);
            memcpy(strs, PQgetvalue(r, ri, col), n);
            strs[n] = '\0';
            *dst[k] = strs;
            strs += n + 1;
        }
        if (parse_i64(PQgetvalue(r, ri, col0 + 0), &o->id) != 0 ||
            parse_i64(PQgetvalue(r, ri, col0 + 1), &o->revision) != 0 ||
            parse_i64(PQgetvalue(r, ri, col0 + 5), &o->created_at) != 0 ||
            parse_i64(PQgetvalue(r, ri, col0 + 6), &o->updated_at) != 0 ||
            parse_i64(PQgetvalue(r, ri, col0 + 9), &o->change_seq) != 0) {
            free(mem);
            return -1;
        }
        o->deleted = PQgetvalue(r, ri, col0 + 8)[0] == 't';
    }
    req->rows_mem = mem;
    req->res.rows = rows;
    req->res.nrows = (size_t)nrows;
    return 0;
}

/* ---- binary results -------------------------------------------------- */

/* Type OIDs of the binary arrays we send and parse (pg_type.dat). */
enum { OID_INT8 = 20, OID_TEXT = 25, OID_FLOAT8 = 701 };

/* A one-dimensional array's header: ndim, has-null flag, element type,
 * then the dimension's length and lower bound. */
enum { ARRAY_HEADER = 20 };

static uint32_t be32(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 |
           (uint32_t)u[3];
}

static uint64_t be64(const char *p) {
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static double double_of(uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* A binary int4 / int8 column; -1 when NULL or not that size. */
static int bin_i32(const PGresult *r, int row, int col, int32_t *out) {
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 4)
        return -1;
    *out = (int32_t)be32(PQgetvalue(r, row, col));
    return 0;
}

static int bin_i64(const PGresult *r, int row, int col, int64_t *out) {
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return -1;
    *out = (int64_t)be64(PQgetvalue(r, row, col));
    return 0;
}

static int bin_f64(const PGresult *r, int row, int col, double *out) {
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return -1;
    *out = double_of(be64(PQgetvalue(r, row, col)));
    return 0;
}

/* Copies |n| bytes and a NUL to |*strs|, advancing it. */
static const char *str_put(char **strs, const char *src, size_t n) {
    char *out = *strs;
    memcpy(out, src, n);
    out[n] = '\0';
    *strs += n + 1;
    return out;
}

static const char *col_put(char **strs, const PGresult *r, int row, int col) {
    return str_put(strs, PQgetvalue(r, row, col),
                   (size_t)PQgetlength(r, row, col));
}

static size_t col_bytes(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col) + 1;
}

/* Metric names repeat on every reading: a result keeps one copy of each
 * of the first PG_INTERN_MAX distinct names and points every reading at
 * it; later names are copied per reading. Used twice with the same
 * lookups, to size and then to fill, so both passes agree. */
typedef struct interner {
    struct {
        const char *src; /* in the PGresult */
        size_t len;
        const char *copy; /* in the result's memory (fill pass) */
    } e[PG_INTERN_MAX];
    int n, last;
} interner;

/* The entry of |src|, adding it when there is room; -1 if none. */
static int intern_find(interner *t, const char *src, size_t len, int add) {
    if (t->n > 0 && t->e[t->last].len == len &&
        memcmp(t->e[t->last].src, src, len) == 0)
        return t->last;
    for (int i = 0; i < t->n; i++)
        if (t->e[i].len == len && memcmp(t->e[i].src, src, len) == 0)
            return t->last = i;
    if (!add || t->n == PG_INTERN_MAX)
        return -1;
    t->e[t->n].src = src;
    t->e[t->n].len = len;
    t->e[t->n].copy = NULL;
    return t->last = t->n++;
}

/* An event from binary columns: ts at |col_ts|, then kind, severity,
 * message and data (NULL allowed) from |col_kind| on. */
static int event_fill(store_event *e, const PGresult *r, int row, int col_ts,
                      int col_kind, char **strs) {
    if (bin_i64(r, row, col_ts, &e->ts) != 0)
        return -1;
    for (int k = 0; k < 3; k++)
        if (PQgetisnull(r, row, col_kind + k))
            return -1;
    e->kind = col_put(strs, r, row, col_kind);
    e->severity = col_put(strs, r, row, col_kind + 1);
    e->message = col_put(strs, r, row, col_kind + 2);
    e->data = PQgetisnull(r, row, col_kind + 3)
                  ? NULL
                  : col_put(strs, r, row, col_kind + 3);
    return 0;
}

static size_t event_bytes(const PGresult *r, int row, int col_kind) {
    size_t n = 0;
    for (int k = 0; k < 4; k++)
        n += col_bytes(r, row, col_kind + k);
    return n;
}

/* Observations list: ts, metric, value (binary). */
static int obs_list_copy(pg_req *req, const PGresult *r, int n) {
    interner t = {.n = 0};
    size_t bytes = (size_t)n * sizeof(store_observation);
    if (PQnfields(r) != 3)
        return -1;
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)PQgetlength(r, i, 1);
        int at = t.n;
        if (intern_find(&t, PQgetvalue(r, i, 1), len, 1) < 0 || t.n > at)
            bytes += len + 1;
    }
    char *mem = malloc(bytes);
    if (mem == NULL)
        return -1;
    store_observation *obs = (store_observation *)(void *)mem;
    char *strs = mem + (size_t)n * sizeof(store_observation);
    for (int i = 0; i < t.n; i++)
        t.e[i].copy = str_put(&strs, t.e[i].src, t.e[i].len);
    for (int i = 0; i < n; i++) {
        const char *name = PQgetvalue(r, i, 1);
        size_t len = (size_t)PQgetlength(r, i, 1);
        int at = intern_find(&t, name, len, 0);
        obs[i].metric = at >= 0 ? t.e[at].copy : str_put(&strs, name, len);
        if (PQgetisnull(r, i, 1) || bin_i64(r, i, 0, &obs[i].ts) != 0 ||
            bin_f64(r, i, 2, &obs[i].value) != 0) {
            free(mem);
            return -1;
        }
    }
    req->rows_mem = mem;
    req->res.obs = obs;
    req->res.nobs = (size_t)n;
    return 0;
}

/* Events list: ts, kind, severity, message, data (binary). */
static int events_list_copy(pg_req *req, const PGresult *r, int n) {
    size_t bytes = (size_t)n * sizeof(store_event);
    if (PQnfields(r) != 5)
        return -1;
    for (int i = 0; i < n; i++)
        bytes += event_bytes(r, i, 1);
    char *mem = malloc(bytes);
    if (mem == NULL)
        return -1;
    store_event *ev = (store_event *)(void *)mem;
    char *strs = mem + (size_t)n * sizeof(store_event);
    for (int i = 0; i < n; i++) {
        if (event_fill(&ev[i], r, i, 0, 1, &strs) != 0) {
            free(mem);
            return -1;
        }
    }
    req->rows_mem = mem;
    req->res.events = ev;
    req->res.nevents = (size_t)n;
    return 0;
}

/* The analysis statement's columns (ANALYSIS_SQL). */
enum {
    A_K = 0,
    A_ID = 1, /* n1: head, revision: the object's id; event: ts */
    A_REVISION = 2,
    A_CREATED_AT = 3,
    A_UPDATED_AT = 4,
    A_CHANGE_SEQ = 5,
    A_DELETED = 6,
    A_WINDOW_FROM = 7,
    A_WINDOW_TO = 8,
    A_NEWEST = 9,
    A_T1 = 10,       /* type / metric / kind, then t2..t4 */
    A_READINGS = 14, /* day blocks: 16-byte records, ts and value */
    A_NCOLS = 15,
};
enum { AK_HEAD = 0, AK_REVISION = 1, AK_METRIC = 2, AK_EVENT = 3 };

/* A metric's day blocks (binary bytea): sets |*n| to its records and
 * returns the first, or NULL when it is not a whole number of records. */
enum { DAY_RECORD = 16 }; /* ts, value: 8 bytes each, network order */

static const char *readings_of(const PGresult *r, int row, size_t *n) {
    *n = 0; /* a null or malformed block: no readings, not garbage */
    if (PQgetisnull(r, row, A_READINGS))
        return NULL;
    size_t len = (size_t)PQgetlength(r, row, A_READINGS);
    if (len % DAY_RECORD != 0)
        return NULL;
    *n = len / DAY_RECORD;
    return PQgetvalue(r, row, A_READINGS);
}

/* A head or revision row of the analysis statement. */
static int object_fill(store_object *o, const PGresult *r, int row,
                       char **strs) {
    int64_t deleted;
    if (bin_i64(r, row, A_ID, &o->id) != 0 ||
        bin_i64(r, row, A_REVISION, &o->revision) != 0 ||
        bin_i64(r, row, A_CREATED_AT, &o->created_at) != 0 ||
        bin_i64(r, row, A_UPDATED_AT, &o->updated_at) != 0 ||
        bin_i64(r, row, A_CHANGE_SEQ, &o->change_seq) != 0 ||
        bin_i64(r, row, A_DELETED, &deleted) != 0)
        return -1;
    for (int k = 0; k < 4; k++)
        if (PQgetisnull(r, row, A_T1 + k))
            return -1;
    o->deleted = deleted != 0;
    o->type = col_put(strs, r, row, A_T1);
    o->name = col_put(strs, r, row, A_T1 + 1);
    o->attributes = col_put(strs, r, row, A_T1 + 2);
    o->updated_by = col_put(strs, r, row, A_T1 + 3);
    return 0;
}

typedef struct series_ref {
    const char *name;
    int row;
} series_ref;

static int series_cmp(const void *a, const void *b) {
    return strcmp(((const series_ref *)a)->name, ((const series_ref *)b)->name);
}

static int revision_cmp(const void *a, const void *b) {
    int64_t x = ((const store_object *)a)->revision,
            y = ((const store_object *)b)->revision;
    return (x > y) - (x < y);
}

static int obs_ts_cmp(const void *a, const void *b) {
    int64_t x = ((const store_observation *)a)->ts,
            y = ((const store_observation *)b)->ts;
    return (x > y) - (x < y);
}

static int event_cmp(const void *a, const void *b) {
    const store_event *x = a, *y = b;
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return strcmp(x->kind, y->kind);
}

/* Sorts |n| elements unless they already are: the server sends them in
 * order in practice, and checking is cheaper than sorting. */
static void sort_unless_sorted(void *base, size_t n, size_t size,
                               int (*cmp)(const void *, const void *)) {
    const char *p = base;
    for (size_t i = 1; i < n; i++) {
        if (cmp(p + (i - 1) * size, p + i * size) > 0) {
            qsort(base, n, size, cmp);
            return;
        }
    }
}

/* The analysis snapshot. One allocation holds the rows, the readings (each
 * metric's name copied once, every reading pointing at it), the events,
 * and the strings. 1: no such object; 0: done; -1: a malformed result. */
static int analysis_copy(pg_req *req, const PGresult *r) {
    int n = PQntuples(r), nhead = 0, nrev = 0, nseries = 0, nev = 0;
    size_t nobs = 0, bytes = 0;
    if (n == 0)
        return 1;
    if (PQnfields(r) != A_NCOLS)
        return -1;
    for (int i = 0; i < n; i++) {
        int32_t k;
        size_t cnt;
        if (bin_i32(r, i, A_K, &k) != 0)
            return -1;
        switch (k) {
        case AK_HEAD:
        case AK_REVISION:
            nhead += k == AK_HEAD;
            nrev += k == AK_REVISION;
            for (int c = 0; c < 4; c++)
                bytes += col_bytes(r, i, A_T1 + c);
            break;
        case AK_METRIC:
            if (readings_of(r, i, &cnt) == NULL || PQgetisnull(r, i, A_T1))
                return -1;
            nseries++;
            nobs += cnt; /* at most: the window may cut the end days */
            bytes += col_bytes(r, i, A_T1);
            break;
        case AK_EVENT:
            nev++;
            bytes += event_bytes(r, i, A_T1);
            break;
        default:
            return -1;
        }
    }
    if (nhead != 1)
        return -1;
    size_t nrows = 1 + (size_t)nrev;
    size_t off_obs = nrows * sizeof(store_object);
    size_t off_ev = off_obs + nobs * sizeof(store_observation);
    size_t off_ser = off_ev + (size_t)nev * sizeof(store_event);
    size_t off_str = off_ser + (size_t)nseries * sizeof(series_ref);
    char *mem = malloc(off_str + bytes);
    if (mem == NULL)
        return -1;
    store_object *rows = (store_object *)(void *)mem;
    store_observation *obs = (store_observation *)(void *)(mem + off_obs);
    store_event *ev = (store_event *)(void *)(mem + off_ev);
    series_ref *ser = (series_ref *)(void *)(mem + off_ser);
    char *strs = mem + off_str;
    size_t irev = 1, iev = 0, iser = 0;
    for (int i = 0; i < n; i++) {
        int32_t k;
        if (bin_i32(r, i, A_K, &k) != 0)
            goto bad; /* the row's kind is not an int4: not our statement */
        int rc = 0;
        switch (k) {
        case AK_HEAD:
            rc = object_fill(&rows[0], r, i, &strs) != 0 ||
                 bin_i64(r, i, A_WINDOW_FROM, &req->res.window_from) != 0 ||
                 bin_i64(r, i, A_WINDOW_TO, &req->res.window_to) != 0 ||
                 bin_i64(r, i, A_NEWEST, &req->res.newest_ts) != 0;
            break;
        case AK_REVISION:
            rc = object_fill(&rows[irev++], r, i, &strs);
            break;
        case AK_METRIC:
            ser[iser].name = PQgetvalue(r, i, A_T1);
            ser[iser++].row = i;
            break;
        case AK_EVENT:
            rc = event_fill(&ev[iev++], r, i, A_ID, A_T1, &strs);
            break;
        }
        if (rc != 0)
            goto bad;
    }
    /* Readings by (metric, ts): the metrics in byte order (the columns'
     * "C" collation), each one's readings by ts. */
    qsort(ser, (size_t)nseries, sizeof *ser, series_cmp);
    size_t io = 0;
    for (int s = 0; s < nseries; s++) {
        int row = ser[s].row;
        size_t cnt;
        const char *rec = readings_of(r, row, &cnt);
        const char *metric = col_put(&strs, r, row, A_T1);
        store_observation *first = &obs[io];
        for (size_t j = 0; j < cnt; j++, rec += DAY_RECORD) {
            int64_t ts = (int64_t)be64(rec);
            if (ts < req->res.window_from || ts > req->res.window_to)
                continue;
            obs[io].metric = metric;
            obs[io].ts = ts;
            obs[io].value = double_of(be64(rec + 8));
            io++;
        }
        sort_unless_sorted(first, (size_t)(&obs[io] - first), sizeof *first,
                           obs_ts_cmp);
    }
    sort_unless_sorted(rows + 1, nrows - 1, sizeof *rows, revision_cmp);
    sort_unless_sorted(ev, (size_t)nev, sizeof *ev, event_cmp);
    req->rows_mem = mem;
    req->res.rows = rows;
    req->res.nrows = nrows;
    req->res.obs = obs;
    req->res.nobs = io;
    req->res.events = ev;
    req->res.nevents = (size_t)nev;
    return 0;
bad:
    free(mem);
    return -1;
}

/* object_version: id, revision, deleted, change_seq (text). */
static int version_copy(pg_req *req, const PGresult *r) {
    store_object *o = calloc(1, sizeof *o);
    if (o == NULL || PQnfields(r) != 4 ||
        parse_i64(PQgetvalue(r, 0, 0), &o->id) != 0 ||
        parse_i64(PQgetvalue(r, 0, 1), &o->revision) != 0 ||
        parse_i64(PQgetvalue(r, 0, 3), &o->change_seq) != 0) {
        free(o);
        return -1;
    }
    o->deleted = PQgetvalue(r, 0, 2)[0] == 't';
    o->type = o->name = o->attributes = o->updated_by = "";
    req->rows_mem = o;
    req->res.rows = o;
    req->res.nrows = 1;
    return 0;
}

/* The ingest functions' row: r_status, inserted, replaced, unchanged,
 * change_seq (text). */
static int ingest_copy(pg_req *req, const PGresult *r) {
    if (PQntuples(r) != 1 || PQnfields(r) != 5)
        return -1;
    int status = atoi(PQgetvalue(r, 0, 0));
    if (status != STORE_OK) {
        req->res.status = status;
        return 0;
    }
    if (parse_i64(PQgetvalue(r, 0, 1), &req->res.inserted) != 0 ||
        parse_i64(PQgetvalue(r, 0, 2), &req->res.replaced) != 0 ||
        parse_i64(PQgetvalue(r, 0, 3), &req->res.unchanged) != 0 ||
        parse_i64(PQgetvalue(r, 0, 4), &req->res.change_seq) != 0)
        return -1;
    return 0;
}

/* SQLSTATEs after which the connection is gone. */
static int sqlstate_conn_gone(const char *state) {
    return state != NULL &&
           (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
            strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* SQLSTATEs that say "try again later" rather than "broken request":
 * statement timeout or cancel, too many connections, serialization
 * failure, deadlock, lock not available, shutting down. */
static int sqlstate_transient(const char *state) {
    static const char *const codes[] = {"57014", "53300", "40001", "40P01",
                                        "55P03", "57P01", "57P02", "57P03"};
    if (state == NULL)
        return 0;
    if (strncmp(state, "08", 2) == 0)
        return 1;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(state, codes[i]) == 0)
            return 1;
    return 0;
}

/* Turns the request's (first) result into its store_result. */
static void result_take(pg_conn *c, pg_req *req, const PGresult *r) {
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQstatus(c->pg) == CONNECTION_BAD || sqlstate_conn_gone(state))
            c->broken = 1;
        req_set_status(
            req, sqlstate_transient(state) ? STORE_UNAVAILABLE : STORE_ERROR,
            PQresultErrorMessage(r));
        return;
    }
    int n = PQntuples(r);
    int rc = 0;
    req_set_status(req, STORE_OK, NULL);
    switch (req->kind) {
    case K_WRITE: {
        if (n != 1 || PQnfields(r) < 1) {
            rc = -1;
            break;
        }
        int status = atoi(PQgetvalue(r, 0, 0));
        if (status != STORE_OK) {
            req->res.status = status;
            break;
        }
        rc = rows_copy(req, r, 0, 1, 1);
        break;
    }
    case K_ONE:
        if (n == 0)
            req->res.status = STORE_NOT_FOUND;
        else
            rc = rows_copy(req, r, 0, 1, 0);
        break;
    case K_REVS:
        if (n == 0) {
            req->res.status = STORE_NOT_FOUND;
            break;
        }
        if (PQgetisnull(r, 0, 1))
            break; /* the object exists; this page is empty */
        /* fall through */
    case K_LIST:
        if (n > req->limit) {
            req->res.has_more = 1;
            n = req->limit;
        }
        rc = rows_copy(req, r, 0, n, 0);
        break;
    case K_NONE:
        break;
    case K_INGEST:
        rc = ingest_copy(req, r);
        break;
    case K_OBS:
    case K_EVENTS:
        if (n == 0) {
            req->res.status = STORE_NOT_FOUND;
            break;
        }
        if (PQgetisnull(r, 0, 0))
            break; /* the object exists; this page is empty */
        if (n > req->limit) {
            req->res.has_more = 1;
            n = req->limit;
        }
        rc = req->kind == K_OBS ? obs_list_copy(req, r, n)
                                : events_list_copy(req, r, n);
        break;
    case K_ANALYSIS:
        rc = analysis_copy(req, r);
        if (rc == 1) {
            req->res.status = STORE_NOT_FOUND;
            rc = 0;
        }
        break;
    case K_VERSION:
        if (n == 0)
            req->res.status = STORE_NOT_FOUND;
        else
            rc = version_copy(req, r);
        break;
    }
    if (rc != 0)
        req_set_status(req, STORE_ERROR, "unexpected result from postgresql");
}

/* ---- connections ----------------------------------------------------- */

/* Blocking, on the thread pool: statement_timeout, then every statement
 * prepared - one pipeline, one round trip. */
static int conn_setup(PGconn *pg, int64_t statement_timeout_ms, char *err,
                      size_t errlen) {
    char timeout[24];
    snprintf(timeout, sizeof timeout, "%" PRId64, statement_timeout_ms);
    const char *params[1] = {timeout};
    int nsent = 0;

    err[0] = '\0';
    if (!PQenterPipelineMode(pg))
        goto fail;
    if (statement_timeout_ms > 0) {
        if (!PQsendQueryParams(
                pg, "SELECT set_config('statement_timeout', $1, false)", 1,
                NULL, params, NULL, NULL, 0))
            goto fail;
        nsent++;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (!PQsendPrepare(pg, stmts[i].name, stmts[i].sql, 0, NULL))
            goto fail;
        nsent++;
    }
    if (!PQpipelineSync(pg))
        goto fail;
    for (int i = 0; i < nsent; i++) {
        PGresult *r = PQgetResult(pg);
        if (r == NULL)
            goto fail; /* the connection broke */
        ExecStatusType s = PQresultStatus(r);
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && err[0] == '\0')
            set_msg(err, errlen,
                    s == PGRES_PIPELINE_ABORTED ? "pipeline aborted"
                                                : PQresultErrorMessage(r));
        PQclear(r);
        r = PQgetResult(pg); /* the NULL that ends each query's results */
        if (r != NULL) {
            PQclear(r);
            goto fail;
        }
    }
    PGresult *sync = PQgetResult(pg);
    int synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || !PQexitPipelineMode(pg))
        goto fail;
    return err[0] != '\0' ? -1 : 0;
fail:
    if (err[0] == '\0')
        set_msg(err, errlen, PQerrorMessage(pg));
    return -1;
}

static void connect_work(uv_work_t *w) {
    pg_conn *c = container_of(w, pg_conn, connect_work);
    const pg_store *st = c->pl->st;
    c->new_err[0] = '\0';
    PGconn *pg = connect_blocking(st->uri, c->new_err, sizeof c->new_err);
    if (pg == NULL)
        return;
    if (conn_setup(pg, st->statement_timeout_ms, c->new_err,
                   sizeof c->new_err) != 0 ||
        PQsetnonblocking(pg, 1) != 0) {
        if (c->new_err[0] == '\0')
            set_msg(c->new_err, sizeof c->new_err, PQerrorMessage(pg));
        PQfinish(pg);
        return;
    }
    c->new_pg = pg;
}

static void on_backoff(uv_timer_t *t) {
    conn_start_connect(container_of(t, pg_conn, timer));
}

static void conn_retry_later(pg_conn *c) {
    c->state = CONN_DOWN;
    uv_timer_start(&c->timer, on_backoff, c->backoff_ms, 0);
    c->backoff_ms *= 2;
    if (c->backoff_ms > PG_BACKOFF_MAX_MS)
        c->backoff_ms = PG_BACKOFF_MAX_MS;
}

/* The last step of a detached connection: its handles are closed. */
static void conn_close(pg_conn *c) {
    if (c->timer_open && !uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, NULL);
    c->timer_open = 0;
    c->state = CONN_CLOSED;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Starts the next connect that waits for a slot. */
static void connect_next(pg_loop *pl) {
    for (int i = 0; i < pl->nconns; i++) {
        pg_conn *c = &pl->conns[i];
        if (c->state == CONN_DOWN && c->connect_waiting) {
            c->connect_waiting = 0;
            conn_start_connect(c);
            return;
        }
    }
}

static void connect_done(uv_work_t *w, int status) {
    pg_conn *c = container_of(w, pg_conn, connect_work);
    pg_loop *pl = c->pl;
    PGconn *pg = c->new_pg;
    c->new_pg = NULL;
    (void)status;
    pl->connecting--;
    if (!pl->detaching)
        connect_next(pl);
    if (pl->detaching) {
        if (pg != NULL)
            PQfinish(pg);
        conn_close(c);
        return;
    }
    if (pg == NULL) {
        set_msg(pl->last_err, sizeof pl->last_err, c->new_err);
        conn_retry_later(c);
        return;
    }
    if (uv_poll_init(pl->loop, &c->poll, PQsocket(pg)) != 0) {
        PQfinish(pg);
        set_msg(pl->last_err, sizeof pl->last_err, "uv_poll_init failed");
        conn_retry_later(c);
        return;
    }
    c->poll_open = 1;
    c->pg = pg;
    c->state = CONN_IDLE;
    c->backoff_ms = PG_BACKOFF_MIN_MS;
    pl->last_err[0] = '\0';
    /* Readable while idle too: it is how a server-side close is noticed
     * before a request is sent into it. Unreferenced while idle (see
     * conn_send). */
    uv_poll_start(&c->poll, UV_READABLE, on_poll);
    uv_unref((uv_handle_t *)&c->poll);
    dispatch(pl);
}

static void conn_start_connect(pg_conn *c) {
    pg_loop *pl = c->pl;
    if (pl->connecting >= PG_CONNECTS_IN_FLIGHT) {
        c->state = CONN_DOWN;
        c->connect_waiting = 1;
        return;
    }
    c->state = CONN_CONNECTING;
    if (uv_queue_work(pl->loop, &c->connect_work, connect_work, connect_done) !=
        0) {
        set_msg(pl->last_err, sizeof pl->last_err, "uv_queue_work failed");
        conn_retry_later(c);
        return;
    }
    pl->connecting++;
}

static void on_poll_closed(uv_handle_t *h) {
    pg_conn *c = container_of(h, pg_conn, poll);
    PQfinish(c->pg);
    c->pg = NULL;
    if (c->pl->detaching)
        conn_close(c);
    else
        conn_retry_later(c);
}

/* PQcancel blocks (it opens a connection), so it runs on the thread pool.
 * Fire and forget: the statement's own result reports the outcome. */
typedef struct cancel_job {
    uv_work_t work;
    PGcancel *cancel;
} cancel_job;

static void cancel_work(uv_work_t *w) {
    cancel_job *job = container_of(w, cancel_job, work);
    char err[PG_MSG_MAX];
    PQcancel(job->cancel, err, sizeof err);
}

static void cancel_done(uv_work_t *w, int status) {
    cancel_job *job = container_of(w, cancel_job, work);
    (void)status;
    PQfreeCancel(job->cancel);
    free(job);
}

static void conn_cancel(pg_conn *c) {
    cancel_job *job = calloc(1, sizeof *job);
    if (job == NULL)
        return;
    job->cancel = PQgetCancel(c->pg);
    if (job->cancel == NULL ||
        uv_queue_work(c->pl->loop, &job->work, cancel_work, cancel_done) != 0) {
        PQfreeCancel(job->cancel);
        free(job);
        return;
    }
    c->cancelled = 1;
}

static void on_watchdog(uv_timer_t *t) {
    pg_conn *c = container_of(t, pg_conn, timer);
    if (c->state != CONN_BUSY)
        return;
    if (!c->cancelled) {
        conn_cancel(c);
        uv_timer_start(&c->timer, on_watchdog, PG_CANCEL_GRACE_MS, 0);
        return;
    }
    /* Not even the cancel helped: give up on this connection, and do not
     * resend a read that may be what hangs. */
    if (c->req != NULL)
        c->req->resends = PG_READ_RESENDS;
    conn_lost(c, "the statement did not end after a cancel");
}

/* Fails or requeues the request in flight, closes the socket, and (from
 * the close callback) reconnects after the backoff. */
static void conn_lost(pg_conn *c, const char *why) {
    pg_loop *pl = c->pl;
    pg_req *req = c->req;
    c->req = NULL;
    c->flushing = c->have_result = c->cancelled = c->broken = 0;
    if (c->timer_open)
        uv_timer_stop(&c->timer);
    set_msg(pl->last_err, sizeof pl->last_err, why);
    /* PQfinish closes the socket, so it waits for the poll handle. */
    c->state = CONN_CLOSING;
    c->poll_open = 0;
    uv_close((uv_handle_t *)&c->poll, on_poll_closed);
    /* Whatever killed this one (a server restart, pg_terminate_backend)
     * has likely killed its idle siblings too: find out now, before a
     * request is sent into them. */
    for (int i = 0; i < pl->nconns; i++) {
        pg_conn *o = &pl->conns[i];
        if (o->state == CONN_IDLE &&
            (!PQconsumeInput(o->pg) || PQstatus(o->pg) == CONNECTION_BAD))
            conn_lost(o, PQerrorMessage(o->pg));
    }
    if (req == NULL)
        return;
    if (!req->is_write && req->resends < PG_READ_RESENDS && !pl->detaching) {
        req->resends++;
        req_set_status(req, STORE_OK, NULL);
        queue_push(pl, req, 1);
        dispatch(pl);
    } else {
        char msg[PG_MSG_MAX + 32];
        snprintf(msg, sizeof msg, "connection to the database lost: %s",
                 why != NULL ? why : "");
        /* Possibly inside the store call that sent it (a failed flush):
         * the callback must come later. */
        if (pl->detaching)
            req_fail(req, STORE_UNAVAILABLE, msg);
        else
            req_defer(req, STORE_UNAVAILABLE, msg);
    }
}

/* 0 sent (or sending), -1 the connection is gone. */
static int conn_flush(pg_conn *c) {
    int r = PQflush(c->pg);
    if (r < 0)
        return -1;
    c->flushing = r;
    uv_poll_start(&c->poll, UV_READABLE | (r ? UV_WRITABLE : 0), on_poll);
    return 0;
}

static void conn_send(pg_conn *c, pg_req *req) {
    pg_loop *pl = c->pl;
    if (req->resends == 0)
        store_note_pool_wait(time_mono_ns() - req->submitted_ns);
    if (!PQsendQueryPrepared(c->pg, stmts[req->stmt].name, req->nparams,
                             req->params, req->lengths, req->formats,
                             kind_binary(req->kind))) {
        if (PQstatus(c->pg) == CONNECTION_BAD) {
            /* Nothing reached the server: safe to send elsewhere, even a
             * write. */
            queue_push(pl, req, 1);
            conn_lost(c, PQerrorMessage(c->pg));
        } else {
            req_defer(req, STORE_ERROR, PQerrorMessage(c->pg));
        }
        return;
    }
    c->req = req;
    c->state = CONN_BUSY;
    /* Only a connection with a request in flight keeps the loop alive:
     * like SQLite, an idle store lets uv_run(UV_RUN_DEFAULT) return once
     * every callback has come (objectd seed runs its loop that way). A
     * waiting request holds the queue timer, a deferred one the tick. */
    uv_ref((uv_handle_t *)&c->poll);
    c->have_result = c->cancelled = c->broken = 0;
    if (pl->st->statement_timeout_ms > 0)
        uv_timer_start(
            &c->timer, on_watchdog,
            (uint64_t)pl->st->statement_timeout_ms + PG_WATCHDOG_SLACK_MS, 0);
    if (conn_flush(c) != 0)
        conn_lost(c, PQerrorMessage(c->pg));
}

/* The request's results are all in: free the connection, then call back. */
static void conn_finish(pg_conn *c) {
    pg_loop *pl = c->pl;
    pg_req *req = c->req;
    if (c->broken) {
        conn_lost(c, req->msg);
        return;
    }
    c->req = NULL;
    c->state = CONN_IDLE;
    uv_timer_stop(&c->timer);
    uv_poll_start(&c->poll, UV_READABLE, on_poll);
    uv_unref((uv_handle_t *)&c->poll);
    req_complete(req);
    dispatch(pl);
}

static void on_poll(uv_poll_t *h, int status, int events) {
    pg_conn *c = container_of(h, pg_conn, poll);
    if (status < 0) {
        conn_lost(c, uv_strerror(status));
        return;
    }
    if (c->state != CONN_BUSY) {
        /* Unsolicited: a notice, or the server closing on us. */
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
            conn_lost(c, PQerrorMessage(c->pg));
            return;
        }
        PGnotify *n;
        while ((n = PQnotifies(c->pg)) != NULL)
            PQfreemem(n);
        return;
    }
    if (events & UV_READABLE) {
        if (!PQconsumeInput(c->pg)) {
            conn_lost(c, PQerrorMessage(c->pg));
            return;
        }
    }
    if (c->flushing && conn_flush(c) != 0) {
        conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            conn_finish(c);
            return;
        }
        /* One statement, one result; anything more is ignored. */
        if (!c->have_result)
            result_take(c, c->req, r);
        c->have_result = 1;
        PQclear(r);
        if (PQstatus(c->pg) == CONNECTION_BAD) {
            c->broken = 1;
            conn_finish(c);
            return;
        }
    }
}

/* Sends waiting requests on idle connections, oldest first. */
static void dispatch(pg_loop *pl) {
    for (int i = 0; i < pl->nconns && pl->qhead != NULL; i++) {
        pg_conn *c = &pl->conns[i];
        if (c->state != CONN_IDLE)
            continue;
        pg_req *req = pl->qhead;
        queue_unlink(pl, req);
        conn_send(c, req);
    }
    if (pl->qhead == NULL && uv_is_active((uv_handle_t *)&pl->queue_timer))
        uv_timer_stop(&pl->queue_timer);
}

/* ---- loops ----------------------------------------------------------- */

static void *pg_loop_attach(void *impl, uv_loop_t *loop, int index) {
    pg_store *st = impl;
    pg_loop **loops = realloc(st->loops, (st->nloops + 1) * sizeof *loops);
    if (loops == NULL)
        return NULL;
    st->loops = loops;
    pg_loop *pl = calloc(1, sizeof *pl);
    if (pl == NULL)
        return NULL;
    pl->conns = calloc((size_t)st->conns_per_loop, sizeof *pl->conns);
    if (pl->conns == NULL) {
        free(pl);
        return NULL;
    }
    pl->st = st;
    pl->loop = loop;
    pl->index = index;
    pl->nconns = st->conns_per_loop;
    uv_timer_init(loop, &pl->queue_timer);
    uv_timer_init(loop, &pl->tick);
    for (int i = 0; i < pl->nconns; i++) {
        pg_conn *c = &pl->conns[i];
        c->pl = pl;
        c->state = CONN_INIT;
        c->backoff_ms = PG_BACKOFF_MIN_MS;
        uv_timer_init(loop, &c->timer);
        /* Backoff and watchdog: neither keeps the loop alive by itself
         * (a busy connection's poll handle does). */
        uv_unref((uv_handle_t *)&c->timer);
        c->timer_open = 1;
    }
    /* Connect once the loop runs, on its thread. */
    uv_timer_start(&pl->tick, on_tick, 0, 0);
    st->loops[st->nloops++] = pl;
    return pl;
}

/* Final and synchronous: the worker closes every handle still open on its
 * loop right after this returns (uv_walk), so nothing here waits for the
 * loop. Every pending callback runs now - waiting requests and those in
 * flight get STORE_UNAVAILABLE (a write in flight may still commit, as on
 * any lost connection) - and every socket is unpolled and closed. Only
 * thread-pool work (connects, cancels) may still complete; it touches no
 * handle. */
static void pg_loop_detach(void *loop_impl) {
    pg_loop *pl = loop_impl;
    if (pl == NULL || pl->detaching)
        return;
    pl->detaching = 1;
    if (!uv_is_closing((uv_handle_t *)&pl->queue_timer))
        uv_close((uv_handle_t *)&pl->queue_timer, NULL);
    if (!uv_is_closing((uv_handle_t *)&pl->tick))
        uv_close((uv_handle_t *)&pl->tick, NULL);

    pg_req *waiting = pl->qhead, *done = pl->done_head, *flying = NULL;
    pl->qhead = pl->qtail = pl->done_head = pl->done_tail = NULL;
    pl->qlen = 0;
    for (int i = 0; i < pl->nconns; i++) {
        pg_conn *c = &pl->conns[i];
        if (c->timer_open && !uv_is_closing((uv_handle_t *)&c->timer))
            uv_close((uv_handle_t *)&c->timer, NULL);
        c->timer_open = 0;
        switch (c->state) {
        case CONN_INIT:
        case CONN_DOWN:
            c->state = CONN_CLOSED;
            break;
        case CONN_CONNECTING: /* connect_done finishes it */
        case CONN_CLOSING:    /* on_poll_closed finishes it */
        case CONN_CLOSED:
            break;
        case CONN_IDLE:
        case CONN_BUSY:
            if (c->req != NULL) {
                /* Stop the statement: nobody will read its result. */
                conn_cancel(c);
                c->req->next = flying;
                flying = c->req;
                c->req = NULL;
            }
            /* uv_close stops polling at once, so the socket may close
             * now. */
            c->poll_open = 0;
            uv_close((uv_handle_t *)&c->poll, NULL);
            PQfinish(c->pg);
            c->pg = NULL;
            c->state = CONN_CLOSED;
            break;
        }
    }
    while (flying != NULL) {
        pg_req *req = flying;
        flying = req->next;
        req_fail(req, STORE_UNAVAILABLE,
                 "the store closed with the statement in flight");
    }
    while (waiting != NULL) {
        pg_req *req = waiting;
        waiting = req->next;
        req_fail(req, STORE_UNAVAILABLE, "the store is closing");
    }
    while (done != NULL) {
        pg_req *req = done;
        done = req->next;
        req_complete(req);
    }
}

/* ---- operations ------------------------------------------------------ */

static void fmt_i64(char *out, size_t len, int64_t v) {
    snprintf(out, len, "%" PRId64, v);
}

static int pg_object_create(void *loop_impl, const store_write *w, store_cb cb,
                            void *arg) {
    if (w->id < 0 || w->type == NULL || w->name == NULL ||
        w->attributes == NULL || w->author == NULL || w->deleted ||
        w->keep_content || cb == NULL)
        return -EINVAL;
    char id[24], at[24];
    fmt_i64(id, sizeof id, w->id);
    fmt_i64(at, sizeof at, w->at);
    const char *vals[] = {id, w->type, w->name, w->attributes, w->author, at};
    pg_req *req = req_new(loop_impl, ST_CREATE, K_WRITE, 6, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    req->is_write = 1;
    return submit(loop_impl, req);
}

static int pg_object_put(void *loop_impl, const store_write *w, store_cb cb,
                         void *arg) {
    /* Any id: one that no object has is STORE_NOT_FOUND, as in SQLite. */
    if (w->expected_revision < 0 || w->author == NULL || cb == NULL ||
        (!w->keep_content &&
         (w->type == NULL || w->name == NULL || w->attributes == NULL)))
        return -EINVAL;
    char id[24], expected[24], at[24];
    fmt_i64(id, sizeof id, w->id);
    fmt_i64(expected, sizeof expected, w->expected_revision);
    fmt_i64(at, sizeof at, w->at);
    const char *vals[] = {id,
                          expected,
                          w->keep_content ? NULL : w->type,
                          w->keep_content ? NULL : w->name,
                          w->keep_content ? NULL : w->attributes,
                          w->author,
                          w->deleted ? "t" : "f",
                          w->keep_content ? "t" : "f",
                          w->allow_deleted ? "t" : "f",
                          at};
    pg_req *req = req_new(loop_impl, ST_PUT, K_WRITE, 10, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    req->is_write = 1;
    return submit(loop_impl, req);
}

static int pg_object_get(void *loop_impl, int64_t id, int64_t revision,
                         int64_t as_of, store_cb cb, void *arg) {
    if (revision < 0 || as_of < 0 || cb == NULL)
        return -EINVAL;
    char sid[24], second[24];
    fmt_i64(sid, sizeof sid, id);
    int stmt = ST_GET_HEAD, n = 1;
    if (revision > 0) {
        stmt = ST_GET_REVISION;
        fmt_i64(second, sizeof second, revision);
        n = 2;
    } else if (as_of > 0) {
        stmt = ST_GET_AS_OF;
        fmt_i64(second, sizeof second, as_of);
        n = 2;
    }
    const char *vals[] = {sid, second};
    pg_req *req = req_new(loop_impl, stmt, K_ONE, n, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    return submit(loop_impl, req);
}

/* The statement and parameters of a list query. |nums| holds the text of
 * the numeric parameters; |vals| points into it. Returns the number of
 * parameters, or -EINVAL. */
static int list_params(const store_list_query *q, int *stmt, char nums[5][24],
                       const char *vals[6]) {
    if (q->limit < 1 || q->limit > PG_LIST_MAX)
        return -EINVAL;
    int64_t after = q->updated_after != 0 ? q->updated_after : INT64_MIN;
    int64_t before = q->updated_before != 0 ? q->updated_before : INT64_MAX;
    int64_t key[2];
    int nkey;
    int typed = q->type != NULL;
    switch (q->order) {
    case STORE_ORDER_UPDATED_ASC:
        *stmt = typed ? ST_LIST_TYPE_ASC : ST_LIST_ASC;
        key[0] = q->has_cursor ? q->cursor_updated_at : INT64_MIN;
        key[1] = q->has_cursor ? q->cursor_id : INT64_MIN;
        nkey = 2;
        break;
    case STORE_ORDER_UPDATED_DESC:
        *stmt = typed ? ST_LIST_TYPE_DESC : ST_LIST_DESC;
        key[0] = q->has_cursor ? q->cursor_updated_at : INT64_MAX;
        key[1] = q->has_cursor ? q->cursor_id : INT64_MAX;
        nkey = 2;
        break;
    case STORE_ORDER_ID:
        *stmt = typed ? ST_LIST_TYPE_ID : ST_LIST_ID;
        key[0] = q->has_cursor ? q->cursor_id : INT64_MIN;
        nkey = 1;
        break;
    default:
        return -EINVAL;
    }
    int n = 0, k = 0;
    if (typed)
        vals[n++] = q->type;
    fmt_i64(nums[k], sizeof nums[k], after);
    vals[n++] = nums[k++];
    fmt_i64(nums[k], sizeof nums[k], before);
    vals[n++] = nums[k++];
    for (int i = 0; i < nkey; i++) {
        fmt_i64(nums[k], sizeof nums[k], key[i]);
        vals[n++] = nums[k++];
    }
    /* One more than asked: whether it comes back is has_more. */
    fmt_i64(nums[k], sizeof nums[k], (int64_t)q->limit + 1);
    vals[n++] = nums[k++];
    return n;
}

static int pg_object_list(void *loop_impl, const store_list_query *q,
                          store_cb cb, void *arg) {
    char nums[5][24];
    const char *vals[6];
    int stmt;
    if (cb == NULL)
        return -EINVAL;
    int n = list_params(q, &stmt, nums, vals);
    if (n < 0)
        return n;
    pg_req *req = req_new(loop_impl, stmt, K_LIST, n, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    req->limit = q->limit;
    return submit(loop_impl, req);
}

static int pg_revisions_list(void *loop_impl, int64_t id,
                             int64_t before_revision, int limit, store_cb cb,
                             void *arg) {
    if (before_revision < 0 || limit < 1 || limit > PG_LIST_MAX || cb == NULL)
        return -EINVAL;
    char sid[24], before[24], lim[24];
    fmt_i64(sid, sizeof sid, id);
    fmt_i64(before, sizeof before,
            before_revision > 0 ? before_revision : INT64_MAX);
    fmt_i64(lim, sizeof lim, (int64_t)limit + 1);
    const char *vals[] = {sid, before, lim};
    pg_req *req = req_new(loop_impl, ST_REVISIONS, K_REVS, 3, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    req->limit = limit;
    return submit(loop_impl, req);
}

/* ---- observations and events ----------------------------------------- */

static unsigned char *put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

static unsigned char *put64(unsigned char *p, uint64_t v) {
    return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

static unsigned char *put_array_header(unsigned char *p, size_t n, int has_null,
                                       uint32_t oid) {
    p = put32(p, 1); /* one dimension */
    p = put32(p, has_null ? 1 : 0);
    p = put32(p, oid);
    p = put32(p, (uint32_t)n);
    return put32(p, 1); /* lower bound */
}

static unsigned char *put_text(unsigned char *p, const char *s, size_t len) {
    p = put32(p, (uint32_t)len);
    memcpy(p, s, len);
    return p + len;
}

/* Makes parameter |i| of |req| the binary value at |p| of |len| bytes. */
static void param_binary(pg_req *req, int i, const unsigned char *p,
                         size_t len) {
    req->params[i] = (const char *)p;
    req->lengths[i] = (int)len;
    req->formats[i] = 1;
}

/* Batches go as binary arrays: no number is formatted or parsed as text on
 * either side, and a reading costs 12 bytes per number plus its name. */
static int pg_observations_put(void *loop_impl, int64_t id,
                               const store_observation *obs, size_t n,
                               store_cb cb, void *arg) {
    if (obs == NULL || n < 1 || n > PG_BATCH_MAX || cb == NULL)
        return -EINVAL;
    size_t text = 0;
    for (size_t i = 0; i < n; i++) {
        if (obs[i].metric == NULL || !isfinite(obs[i].value))
            return -EINVAL;
        text += strlen(obs[i].metric);
    }
    size_t len_m = ARRAY_HEADER + 4 * n + text;
    size_t len_n = ARRAY_HEADER + 12 * n; /* ts, and values likewise */
    if (len_m + 2 * len_n > PG_PARAMS_MAX_BYTES)
        return -E2BIG;
    char sid[24];
    fmt_i64(sid, sizeof sid, id);
    const char *vals[] = {sid, NULL, NULL, NULL};
    pg_req *req = req_new(loop_impl, ST_OBS_PUT, K_INGEST, 4, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    req->is_write = 1;
    unsigned char *p = req->blob = malloc(len_m + 2 * len_n);
    if (p == NULL) {
        req_free(req);
        return -ENOMEM;
    }
    param_binary(req, 1, p, len_m);
    p = put_array_header(p, n, 0, OID_TEXT);
    for (size_t i = 0; i < n; i++)
        p = put_text(p, obs[i].metric, strlen(obs[i].metric));
    param_binary(req, 2, p, len_n);
    p = put_array_header(p, n, 0, OID_INT8);
    for (size_t i = 0; i < n; i++)
        p = put64(put32(p, 8), (uint64_t)obs[i].ts);
    param_binary(req, 3, p, len_n);
    p = put_array_header(p, n, 0, OID_FLOAT8);
    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &obs[i].value, sizeof bits);
        p = put64(put32(p, 8), bits);
    }
    return submit(loop_impl, req);
}

static int pg_events_put(void *loop_impl, int64_t id, const store_event *ev,
                         size_t n, store_cb cb, void *arg) {
    if (ev == NULL || n < 1 || n > PG_BATCH_MAX || cb == NULL)
        return -EINVAL;
    /* Sizes of the kinds, severities, messages and data arrays. */
    size_t len[4] = {ARRAY_HEADER + 4 * n, ARRAY_HEADER + 4 * n,
                     ARRAY_HEADER + 4 * n, ARRAY_HEADER + 4 * n};
    int data_null = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kind == NULL || ev[i].severity == NULL ||
            ev[i].message == NULL)
            return -EINVAL;
        len[0] += strlen(ev[i].kind);
        len[1] += strlen(ev[i].severity);
        len[2] += strlen(ev[i].message);
        if (ev[i].data != NULL)
            len[3] += strlen(ev[i].data);
        else
            data_null = 1;
    }
    size_t len_ts = ARRAY_HEADER + 12 * n;
    size_t total = len_ts + len[0] + len[1] + len[2] + len[3];
    if (total > PG_PARAMS_MAX_BYTES)
        return -E2BIG;
    char sid[24];
    fmt_i64(sid, sizeof sid, id);
    const char *vals[] = {sid, NULL, NULL, NULL, NULL, NULL};
    pg_req *req = req_new(loop_impl, ST_EVENTS_PUT, K_INGEST, 6, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    req->is_write = 1;
    unsigned char *p = req->blob = malloc(total);
    if (p == NULL) {
        req_free(req);
        return -ENOMEM;
    }
    param_binary(req, 1, p, len_ts);
    p = put_array_header(p, n, 0, OID_INT8);
    for (size_t i = 0; i < n; i++)
        p = put64(put32(p, 8), (uint64_t)ev[i].ts);
    for (int k = 0; k < 4; k++) {
        param_binary(req, 2 + k, p, len[k]);
        p = put_array_header(p, n, k == 3 && data_null, OID_TEXT);
        for (size_t i = 0; i < n; i++) {
            const char *v = k == 0   ? ev[i].kind
                            : k == 1 ? ev[i].severity
                            : k == 2 ? ev[i].message
                                     : ev[i].data;
            p = v != NULL ? put_text(p, v, strlen(v))
                          : put32(p, UINT32_MAX); /* -1: NULL */
        }
    }
    return submit(loop_impl, req);
}

/* The statement and parameters of a series list; |nums| holds the text of
 * the numeric parameters, |vals| points into it and at |q|'s strings.
 * Returns the number of parameters, or -EINVAL. */
static int series_params(const store_series_query *q, int events, int *stmt,
                         char nums[5][24], const char *vals[6]) {
    if (q->limit < 1 || q->limit > PG_SERIES_MAX ||
        (q->has_cursor && q->cursor_key == NULL))
        return -EINVAL;
    int64_t lo = q->from != 0 ? q->from : INT64_MIN;
    int64_t hi = q->to != 0 ? q->to : INT64_MAX;
    int n = 0;
    fmt_i64(nums[0], sizeof nums[0], q->id);
    vals[n++] = nums[0];
    if (q->filter == NULL) {
        *stmt = events ? ST_EVENTS_LIST : ST_OBS_LIST;
        fmt_i64(nums[1], sizeof nums[1], lo);
        fmt_i64(nums[2], sizeof nums[2], hi);
        /* No cursor: before every key (names are never empty). */
        fmt_i64(nums[3], sizeof nums[3],
                q->has_cursor ? q->cursor_ts : INT64_MIN);
        vals[n++] = nums[1];
        vals[n++] = nums[2];
        vals[n++] = nums[3];
        vals[n++] = q->has_cursor ? q->cursor_key : "";
    } else {
        *stmt = events ? ST_EVENTS_LIST_KIND : ST_OBS_LIST_METRIC;
        /* With the name fixed, (ts, name) > (c_ts, c_key) is a bound on
         * ts alone: ts >= c_ts when the name sorts after c_key (byte
         * order, as the "C" collation compares), else ts > c_ts. */
        if (q->has_cursor) {
            if (strcmp(q->filter, q->cursor_key) > 0) {
                if (q->cursor_ts > lo)
                    lo = q->cursor_ts;
            } else if (q->cursor_ts == INT64_MAX) {
                lo = 1, hi = 0; /* nothing is after it */
            } else if (q->cursor_ts + 1 > lo) {
                lo = q->cursor_ts + 1;
            }
        }
        fmt_i64(nums[1], sizeof nums[1], lo);
        fmt_i64(nums[2], sizeof nums[2], hi);
        vals[n++] = q->filter;
        vals[n++] = nums[1];
        vals[n++] = nums[2];
    }
    fmt_i64(nums[4], sizeof nums[4], (int64_t)q->limit + 1);
    vals[n++] = nums[4];
    return n;
}

static int series_list(void *loop_impl, const store_series_query *q, int events,
                       store_cb cb, void *arg) {
    char nums[5][24];
    const char *vals[6];
    int stmt;
    if (q == NULL || cb == NULL)
        return -EINVAL;
    int n = series_params(q, events, &stmt, nums, vals);
    if (n < 0)
        return n;
    pg_req *req =
        req_new(loop_impl, stmt, events ? K_EVENTS : K_OBS, n, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    req->limit = q->limit;
    return submit(loop_impl, req);
}

static int pg_observations_list(void *loop_impl, const store_series_query *q,
                                store_cb cb, void *arg) {
    return series_list(loop_impl, q, 0, cb, arg);
}

static int pg_events_list(void *loop_impl, const store_series_query *q,
                          store_cb cb, void *arg) {
    return series_list(loop_impl, q, 1, cb, arg);
}

static int pg_analysis_load(void *loop_impl, int64_t id, int64_t from,
                            int64_t to, store_cb cb, void *arg) {
    if (cb == NULL)
        return -EINVAL;
    char sid[24], sfrom[24], sto[24];
    fmt_i64(sid, sizeof sid, id);
    fmt_i64(sfrom, sizeof sfrom, from);
    fmt_i64(sto, sizeof sto, to);
    const char *vals[] = {sid, sfrom, sto};
    pg_req *req = req_new(loop_impl, ST_ANALYSIS, K_ANALYSIS, 3, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    return submit(loop_impl, req);
}

static int pg_object_version(void *loop_impl, int64_t id, store_cb cb,
                             void *arg) {
    if (cb == NULL)
        return -EINVAL;
    char sid[24];
    fmt_i64(sid, sizeof sid, id);
    const char *vals[] = {sid};
    pg_req *req = req_new(loop_impl, ST_VERSION, K_VERSION, 1, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    return submit(loop_impl, req);
}

int store_pg_sleep(void *loop_impl, int64_t ms, store_cb cb, void *arg) {
    if (ms < 0 || cb == NULL)
        return -EINVAL;
    char sms[24];
    fmt_i64(sms, sizeof sms, ms);
    const char *vals[] = {sms};
    pg_req *req = req_new(loop_impl, ST_SLEEP, K_NONE, 1, vals, cb, arg);
    if (req == NULL)
        return -ENOMEM;
    return submit(loop_impl, req);
}

/* ---- EXPLAIN --------------------------------------------------------- */

int store_pg_explain_list(const char *uri, const store_list_query *q, char *out,
                          size_t outlen) {
    char nums[5][24];
    const char *vals[6];
    int stmt, rc = -EIO;
    char err[PG_MSG_MAX];
    PGresult *r = NULL;
    char *sql = NULL;
    size_t cap, len;

    if (outlen == 0)
        return -EINVAL;
    out[0] = '\0';
    int n = list_params(q, &stmt, nums, vals);
    if (n < 0) {
        snprintf(out, outlen, "invalid list query");
        return n;
    }
    PGconn *pg = connect_blocking(uri, err, sizeof err);
    if (pg == NULL) {
        snprintf(out, outlen, "cannot connect: %s", err);
        return -EIO;
    }
    r = PQprepare(pg, stmts[stmt].name, stmts[stmt].sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        goto db_error;
    /* PostgreSQL plans a prepared statement afresh for its first five
     * executions, then may settle on a generic plan: explain the one the
     * pool would be running by then. */
    for (int i = 0; i < 6; i++) {
        PQclear(r);
        r = PQexecPrepared(pg, stmts[stmt].name, n, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            goto db_error;
    }
    PQclear(r);
    r = NULL;
    cap = 256;
    for (int i = 0; i < n; i++)
        cap += 2 * strlen(vals[i]) + 8;
    sql = malloc(cap);
    if (sql == NULL) {
        snprintf(out, outlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    len = (size_t)snprintf(sql, cap,
                           "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
                           "EXECUTE %s(",
                           stmts[stmt].name);
    for (int i = 0; i < n; i++) {
        char *lit = PQescapeLiteral(pg, vals[i], strlen(vals[i]));
        if (lit == NULL)
            goto conn_error;
        len +=
            (size_t)snprintf(sql + len, cap - len, "%s%s", i ? ", " : "", lit);
        PQfreemem(lit);
    }
    snprintf(sql + len, cap - len, ")");
    r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
        goto db_error;
    snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    rc = 0;
    goto out;
db_error:
    set_msg(out, outlen, PQresultErrorMessage(r));
    goto out;
conn_error:
    set_msg(out, outlen, PQerrorMessage(pg));
out:
    free(sql);
    PQclear(r);
    PQfinish(pg);
    return rc;
}

const store_backend store_pg_backend = {
    .kind = "postgresql",
    .open = pg_open,
    .migrate = pg_migrate,
    .ready = pg_ready,
    .loop_attach = pg_loop_attach,
    .loop_detach = pg_loop_detach,
    .close = pg_close,
    .object_create = pg_object_create,
    .object_put = pg_object_put,
    .object_get = pg_object_get,
    .object_list = pg_object_list,
    .revisions_list = pg_revisions_list,
    .observations_put = pg_observations_put,
    .events_put = pg_events_put,
    .observations_list = pg_observations_list,
    .events_list = pg_events_list,
    .analysis_load = pg_analysis_load,
    .object_version = pg_object_version,
};
