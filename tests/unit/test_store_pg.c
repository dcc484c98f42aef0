/* test_store_pg: the PostgreSQL backend against a real server, every
 * operation through the asynchronous API on a uv loop.
 *
 * OBJECTD_TEST_PG_URI names a scratch database (scripts/pg-test-server
 * start DIR prints one); the test drops and recreates objectd's tables in
 * it. Without the variable the test prints a notice and passes. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "store.h"
#include "store_backend.h"
#include "store_pg.h"
#include "test.h"

static const char *uri;
static PGconn *admin; /* side channel: setup, checks, pg_terminate_backend */
static uv_loop_t loop;
static store *s;
static store_loop *sl;

enum { MAIN_POOL = 4, BULK_BASE = 10000000, BULK_OBJECTS = 20000 };

/* ---- harness --------------------------------------------------------- */

typedef struct row {
    int64_t id, revision, created_at, updated_at, change_seq;
    int deleted;
    char type[32], name[64], attributes[256], updated_by[32];
} row;

typedef struct got {
    int ncalls;
    int status;
    char message[256];
    row *rows;
    size_t nrows;
    int has_more;
    uint64_t at_ns; /* when the callback ran */
} got;

static void got_reset(got *g) {
    free(g->rows);
    memset(g, 0, sizeof *g);
    g->status = -1;
}

static void on_result(const store_result *res, void *arg) {
    got *g = arg;
    g->ncalls++;
    g->at_ns = uv_hrtime();
    g->status = res->status;
    snprintf(g->message, sizeof g->message, "%s",
             res->message ? res->message : "");
    g->has_more = res->has_more;
    g->nrows = res->nrows;
    free(g->rows);
    g->rows = calloc(res->nrows + 1, sizeof *g->rows);
    for (size_t i = 0; i < res->nrows; i++) {
        const store_object *o = &res->rows[i];
        row *r = &g->rows[i];
        r->id = o->id;
        r->revision = o->revision;
        r->created_at = o->created_at;
        r->updated_at = o->updated_at;
        r->change_seq = o->change_seq;
        r->deleted = o->deleted;
        snprintf(r->type, sizeof r->type, "%s", o->type);
        snprintf(r->name, sizeof r->name, "%s", o->name);
        snprintf(r->attributes, sizeof r->attributes, "%s", o->attributes);
        snprintf(r->updated_by, sizeof r->updated_by, "%s", o->updated_by);
    }
}

static void wait_for(got *g) {
    while (g->ncalls == 0)
        uv_run(&loop, UV_RUN_ONCE);
}

static void wait_all(got *g, int n) {
    for (int i = 0; i < n; i++)
        wait_for(&g[i]);
}

static void on_run_for(uv_timer_t *t) {
    *(int *)t->data = 1;
}

/* Runs the loop for |ms|. */
static void run_for(uint64_t ms) {
    uv_timer_t t;
    int fired = 0;
    uv_timer_init(&loop, &t);
    t.data = &fired;
    uv_timer_start(&t, on_run_for, ms, 0);
    while (!fired)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

static int64_t wall_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Runs SQL on the admin connection; returns the first value of the first
 * row as a number (0 when there is none), -1 on error. */
static long long sql(const char *q) {
    PGresult *r = PQexec(admin, q);
    long long v = 0;
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "sql: %s: %s", q, PQresultErrorMessage(r));
        v = -1;
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
               !PQgetisnull(r, 0, 0)) {
        v = atoll(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return v;
}

static void notice_discard(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static PGconn *connect_admin(void) {
    const char *const keys[] = {"dbname", "application_name", NULL};
    const char *const vals[] = {uri, "objectd-test", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to %s: %s", uri, PQerrorMessage(pg));
        exit(1);
    }
    PQsetNoticeProcessor(pg, notice_discard, NULL);
    return pg;
}

static store_config config(int pool_size) {
    store_config cfg = {.uri = uri,
                        .pool_size = pool_size,
                        .pool_timeout_ms = 5000,
                        .statement_timeout_ms = 5000,
                        .nloops = 1};
    return cfg;
}

static int create(got *g, int64_t id, const char *type, const char *name,
                  const char *attributes) {
    store_write w = {.id = id,
                     .type = type,
                     .name = name,
                     .attributes = attributes,
                     .author = "tester"};
    got_reset(g);
    int rc = store_object_create(sl, &w, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

static int put(got *g, const store_write *w) {
    got_reset(g);
    int rc = store_object_put(sl, w, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

static int get(got *g, int64_t id, int64_t revision, int64_t as_of) {
    got_reset(g);
    int rc = store_object_get(sl, id, revision, as_of, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

static int list(got *g, const store_list_query *q) {
    got_reset(g);
    int rc = store_object_list(sl, q, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

static int revisions(got *g, int64_t id, int64_t before, int limit) {
    got_reset(g);
    int rc = store_revisions_list(sl, id, before, limit, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

/* ---- migrations ------------------------------------------------------ */

static void reset_schema(void) {
    sql("DROP TABLE IF EXISTS revisions, objects, schema_migrations, "
        "story_revisions CASCADE");
    sql("DROP FUNCTION IF EXISTS objectd_create, objectd_put, "
        "objectd_now_us");
    sql("DROP SEQUENCE IF EXISTS objects_id_seq");
}

typedef struct migrator {
    pthread_t thread;
    int applied;
    char err[256];
} migrator;

static void *migrate_thread(void *arg) {
    migrator *m = arg;
    store_config cfg = config(1);
    store *x;
    m->applied = -1;
    if (store_open(&x, &cfg, m->err, sizeof m->err) != 0)
        return NULL;
    m->applied = store_migrate(x, m->err, sizeof m->err);
    store_close(x);
    return NULL;
}

static void test_migrate(void) {
    char err[256] = "";
    store_config cfg = config(MAIN_POOL);
    reset_schema();
    CHECK_EQ_INT(store_open(&s, &cfg, err, sizeof err), 0);
    if (s == NULL) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(1);
    }
    CHECK_EQ_STR(store_kind(s), "postgresql");
    CHECK_EQ_INT(store_ready(s), 0);

    /* Two replicas starting at once: the advisory lock makes each
     * migration apply exactly once. */
    migrator m[2];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 2; i++)
        pthread_create(&m[i].thread, NULL, migrate_thread, &m[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(m[i].thread, NULL);
    CHECK(m[0].applied >= 0 && m[1].applied >= 0);
    if (m[0].applied < 0 || m[1].applied < 0)
        fprintf(stderr, "migrate: %s %s\n", m[0].err, m[1].err);
    CHECK_EQ_INT(m[0].applied + m[1].applied, store_pg_nmigrations);
    CHECK_EQ_INT(sql("SELECT count(*) FROM schema_migrations"),
                 store_pg_nmigrations);

    CHECK_EQ_INT(store_migrate(s, err, sizeof err), 0);
    CHECK_EQ_INT(store_ready(s), 1);

    store *again;
    CHECK_EQ_INT(store_open(&again, &cfg, err, sizeof err), 0);
    CHECK_EQ_INT(store_ready(again), 1);
    store_close(again);

    store_config bad = config(1);
    bad.uri = "postgresql://objectd@127.0.0.1:1/objectd?connect_timeout=2";
    store *none = NULL;
    CHECK_EQ_INT(store_open(&none, &bad, err, sizeof err), -1);
    CHECK(strstr(err, "cannot connect") != NULL);

    sl = store_loop_attach(s, &loop, 0);
    CHECK(sl != NULL);
}

/* ---- writes ---------------------------------------------------------- */

static void test_create(void) {
    got g = {0}, h = {0};
    int64_t t0 = wall_us();
    CHECK_EQ_INT(create(&g, 0, "widget", "first", "{\"a\":1}"), STORE_OK);
    CHECK_EQ_INT(g.nrows, 1);
    row r = g.rows[0];
    CHECK(r.id > 0);
    CHECK_EQ_INT(r.revision, 1);
    CHECK_EQ_STR(r.type, "widget");
    CHECK_EQ_STR(r.name, "first");
    CHECK_EQ_STR(r.attributes, "{\"a\":1}");
    CHECK_EQ_STR(r.updated_by, "tester");
    CHECK_EQ_INT(r.created_at, r.updated_at);
    CHECK(r.updated_at > t0 - 5000000 && r.updated_at < wall_us() + 5000000);
    CHECK_EQ_INT(r.change_seq, 1);
    CHECK_EQ_INT(r.deleted, 0);

    /* Explicit ids: taken once, then STORE_EXISTS. */
    int64_t explicit_id = r.id + 1000;
    CHECK_EQ_INT(create(&g, explicit_id, "widget", "explicit", "{}"), STORE_OK);
    CHECK_EQ_INT(g.rows[0].id, explicit_id);
    CHECK_EQ_INT(create(&g, explicit_id, "widget", "again", "{}"),
                 STORE_EXISTS);
    CHECK_EQ_INT(g.nrows, 0);
    char q[256];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM revisions WHERE object_id = %" PRId64,
             explicit_id);
    CHECK_EQ_INT(sql(q), 1);

    /* Assigned ids never collide with explicit ones, even when the
     * sequence lags behind them. */
    long long last = sql("SELECT last_value FROM objects_id_seq");
    CHECK_EQ_INT(create(&g, last + 1, "widget", "x1", "{}"), STORE_OK);
    CHECK_EQ_INT(create(&g, last + 2, "widget", "x2", "{}"), STORE_OK);
    snprintf(q, sizeof q, "SELECT setval('objects_id_seq', %lld)", last);
    sql(q);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(create(&h, 0, "widget", "assigned", "{}"), STORE_OK);
        ids[i] = h.nrows ? h.rows[0].id : 0;
        CHECK(ids[i] != last + 1 && ids[i] != last + 2);
        for (int j = 0; j < i; j++)
            CHECK(ids[i] != ids[j]);
    }
    CHECK_EQ_INT(ids[0], last + 3);

    /* Bad arguments: an error, and no callback. */
    store_write w = {.id = 0, .name = "n", .attributes = "{}", .author = "a"};
    got_reset(&g);
    CHECK_EQ_INT(store_object_create(sl, &w, on_result, &g), -EINVAL);
    w.type = "t";
    w.id = -5;
    CHECK_EQ_INT(store_object_create(sl, &w, on_result, &g), -EINVAL);
    w.id = 0;
    w.deleted = 1;
    CHECK_EQ_INT(store_object_create(sl, &w, on_result, &g), -EINVAL);
    run_for(10);
    CHECK_EQ_INT(g.ncalls, 0);
    got_reset(&g);
    got_reset(&h);
}

static void test_put(void) {
    got g = {0}, c = {0};
    CHECK_EQ_INT(create(&c, 0, "gadget", "v1", "{\"v\":1}"), STORE_OK);
    row r1 = c.rows[0];
    store_write w = {.id = r1.id,
                     .type = "gadget2",
                     .name = "v2",
                     .attributes = "{\"v\":2}",
                     .author = "alice"};
    CHECK_EQ_INT(put(&g, &w), STORE_OK);
    row r2 = g.rows[0];
    CHECK_EQ_INT(r2.id, r1.id);
    CHECK_EQ_INT(r2.revision, 2);
    CHECK_EQ_STR(r2.type, "gadget2");
    CHECK_EQ_STR(r2.name, "v2");
    CHECK_EQ_STR(r2.attributes, "{\"v\":2}");
    CHECK_EQ_STR(r2.updated_by, "alice");
    CHECK_EQ_INT(r2.created_at, r1.created_at);
    CHECK(r2.updated_at >= r1.updated_at);
    CHECK_EQ_INT(r2.change_seq, 2);

    /* Compare-and-set. */
    w.expected_revision = 1;
    CHECK_EQ_INT(put(&g, &w), STORE_CONFLICT);
    w.expected_revision = 2;
    w.name = "v3";
    CHECK_EQ_INT(put(&g, &w), STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 3);

    /* No such object. */
    store_write missing = w;
    missing.id = 987654321;
    missing.expected_revision = 0;
    CHECK_EQ_INT(put(&g, &missing), STORE_NOT_FOUND);

    /* DELETE: a tombstone that keeps the content. */
    store_write del = {.id = r1.id,
                       .expected_revision = 3,
                       .author = "bob",
                       .deleted = 1,
                       .keep_content = 1};
    CHECK_EQ_INT(put(&g, &del), STORE_OK);
    row r4 = g.rows[0];
    CHECK_EQ_INT(r4.revision, 4);
    CHECK_EQ_INT(r4.deleted, 1);
    CHECK_EQ_STR(r4.name, "v3");
    CHECK_EQ_STR(r4.type, "gadget2");
    CHECK_EQ_STR(r4.updated_by, "bob");
    CHECK_EQ_INT(r4.change_seq, 4);

    /* A deleted head: stale expected_revision is checked first; without
     * allow_deleted it is gone; with it (revert) it revives. */
    w.expected_revision = 3;
    CHECK_EQ_INT(put(&g, &w), STORE_CONFLICT);
    w.expected_revision = 4;
    CHECK_EQ_INT(put(&g, &w), STORE_NOT_FOUND);
    del.expected_revision = 0;
    CHECK_EQ_INT(put(&g, &del), STORE_NOT_FOUND);
    w.allow_deleted = 1;
    w.name = "revived";
    CHECK_EQ_INT(put(&g, &w), STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 5);
    CHECK_EQ_INT(g.rows[0].deleted, 0);
    CHECK_EQ_STR(g.rows[0].name, "revived");
    CHECK_EQ_INT(g.rows[0].change_seq, 5);

    /* The revisions table has all five, the head matches the last. */
    char q[160];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM revisions WHERE object_id = %" PRId64,
             r1.id);
    CHECK_EQ_INT(sql(q), 5);

    store_write bad = {.id = r1.id, .author = "x"};
    got_reset(&g);
    CHECK_EQ_INT(store_object_put(sl, &bad, on_result, &g), -EINVAL);
    bad.keep_content = 1;
    bad.expected_revision = -1;
    CHECK_EQ_INT(store_object_put(sl, &bad, on_result, &g), -EINVAL);
    run_for(10);
    CHECK_EQ_INT(g.ncalls, 0);
    /* An id no object can have is simply not found (as in SQLite). */
    bad.expected_revision = 0;
    bad.id = 0;
    CHECK_EQ_INT(put(&g, &bad), STORE_NOT_FOUND);
    got_reset(&g);
    got_reset(&c);
}

/* ---- reads ----------------------------------------------------------- */

static void test_get(void) {
    got g = {0}, c = {0};
    row rev[4];
    CHECK_EQ_INT(create(&c, 0, "thing", "r1", "{\"r\":1}"), STORE_OK);
    rev[1] = c.rows[0];
    int64_t id = rev[1].id;
    for (int i = 2; i <= 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "r%d", i);
        run_for(2); /* distinct times */
        store_write w = {.id = id,
                         .type = "thing",
                         .name = name,
                         .attributes = "{}",
                         .author = i == 2 ? "two" : "three"};
        CHECK_EQ_INT(put(&g, &w), STORE_OK);
        rev[i] = g.rows[0];
    }
    CHECK(rev[2].updated_at > rev[1].updated_at);
    CHECK(rev[3].updated_at > rev[2].updated_at);

    CHECK_EQ_INT(get(&g, id, 0, 0), STORE_OK);
    CHECK_EQ_INT(g.nrows, 1);
    CHECK_EQ_INT(g.rows[0].revision, 3);
    CHECK_EQ_STR(g.rows[0].name, "r3");
    CHECK_EQ_INT(g.rows[0].change_seq, 3);
    CHECK_EQ_INT(g.rows[0].updated_at, rev[3].updated_at);

    /* Revision N: its own fields, the head's created_at and change_seq. */
    CHECK_EQ_INT(get(&g, id, 2, 0), STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 2);
    CHECK_EQ_STR(g.rows[0].name, "r2");
    CHECK_EQ_STR(g.rows[0].updated_by, "two");
    CHECK_EQ_INT(g.rows[0].updated_at, rev[2].updated_at);
    CHECK_EQ_INT(g.rows[0].created_at, rev[1].created_at);
    CHECK_EQ_INT(g.rows[0].change_seq, 3);
    CHECK_EQ_INT(get(&g, id, 1, 0), STORE_OK);
    CHECK_EQ_STR(g.rows[0].attributes, "{\"r\":1}");
    CHECK_EQ_INT(get(&g, id, 4, 0), STORE_NOT_FOUND);
    CHECK_EQ_INT(g.nrows, 0);

    /* as_of: the newest revision written at or before the time. */
    CHECK_EQ_INT(get(&g, id, 0, rev[2].updated_at), STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 2);
    CHECK_EQ_INT(get(&g, id, 0, rev[3].updated_at - 1), STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 2);
    CHECK_EQ_INT(g.rows[0].change_seq, 3);
    CHECK_EQ_INT(get(&g, id, 0, rev[3].updated_at + 1000000), STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 3);
    CHECK_EQ_INT(get(&g, id, 0, rev[1].updated_at), STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 1);
    CHECK_EQ_INT(get(&g, id, 0, rev[1].updated_at - 1), STORE_NOT_FOUND);

    CHECK_EQ_INT(get(&g, 987654321, 0, 0), STORE_NOT_FOUND);
    CHECK_EQ_INT(get(&g, 987654321, 1, 0), STORE_NOT_FOUND);

    /* Deleted heads and tombstones are returned, marked. */
    store_write del = {
        .id = id, .author = "d", .deleted = 1, .keep_content = 1};
    CHECK_EQ_INT(put(&g, &del), STORE_OK);
    CHECK_EQ_INT(get(&g, id, 0, 0), STORE_OK);
    CHECK_EQ_INT(g.rows[0].deleted, 1);
    CHECK_EQ_INT(g.rows[0].revision, 4);
    CHECK_EQ_INT(get(&g, id, 4, 0), STORE_OK);
    CHECK_EQ_INT(g.rows[0].deleted, 1);
    CHECK_EQ_INT(get(&g, id, 3, 0), STORE_OK);
    CHECK_EQ_INT(g.rows[0].deleted, 0);

    got_reset(&g);
    CHECK_EQ_INT(store_object_get(sl, 1, -1, 0, on_result, &g), -EINVAL);
    CHECK_EQ_INT(store_object_get(sl, 1, 0, -1, on_result, &g), -EINVAL);
    run_for(10);
    CHECK_EQ_INT(g.ncalls, 0);
    CHECK_EQ_INT(get(&g, 0, 0, 0), STORE_NOT_FOUND);
    CHECK_EQ_INT(get(&g, -3, 0, 0), STORE_NOT_FOUND);
    got_reset(&g);
    got_reset(&c);
}

/* Checks that the rows of |g| are the objects |want| in order. */
static void check_ids(const got *g, const int64_t *want, size_t n) {
    CHECK_EQ_INT(g->nrows, n);
    for (size_t i = 0; i < n && i < g->nrows; i++)
        CHECK_EQ_INT(g->rows[i].id, want[i]);
}

static void test_list(void) {
    got g = {0}, c = {0};
    int64_t start = wall_us();
    row a[6], b[2];
    for (int i = 1; i <= 5; i++) {
        char name[8];
        snprintf(name, sizeof name, "a%d", i);
        run_for(2);
        CHECK_EQ_INT(create(&c, 0, "list-a", name, "{}"), STORE_OK);
        a[i] = c.rows[0];
    }
    for (int i = 0; i < 2; i++) {
        run_for(2);
        CHECK_EQ_INT(create(&c, 0, "list-b", "b", "{}"), STORE_OK);
        b[i] = c.rows[0];
    }
    /* a2 moves to the end of updated order; a4 is deleted. */
    run_for(2);
    store_write w = {.id = a[2].id,
                     .type = "list-a",
                     .name = "a2'",
                     .attributes = "{}",
                     .author = "t"};
    CHECK_EQ_INT(put(&g, &w), STORE_OK);
    a[2] = g.rows[0];
    store_write del = {
        .id = a[4].id, .author = "t", .deleted = 1, .keep_content = 1};
    CHECK_EQ_INT(put(&g, &del), STORE_OK);

    store_list_query q = {.type = "list-a", .limit = 100};
    int64_t asc[] = {a[1].id, a[3].id, a[5].id, a[2].id};
    int64_t desc[] = {a[2].id, a[5].id, a[3].id, a[1].id};
    int64_t byid[] = {a[1].id, a[2].id, a[3].id, a[5].id};
    CHECK_EQ_INT(list(&g, &q), STORE_OK);
    check_ids(&g, asc, 4);
    CHECK_EQ_INT(g.has_more, 0);
    CHECK_EQ_STR(g.rows[3].name, "a2'");
    CHECK_EQ_INT(g.rows[3].revision, 2);
    q.order = STORE_ORDER_UPDATED_DESC;
    CHECK_EQ_INT(list(&g, &q), STORE_OK);
    check_ids(&g, desc, 4);
    q.order = STORE_ORDER_ID;
    CHECK_EQ_INT(list(&g, &q), STORE_OK);
    check_ids(&g, byid, 4);

    /* Keyset pages of 2, strictly after the cursor. */
    q.limit = 2;
    q.order = STORE_ORDER_UPDATED_ASC;
    CHECK_EQ_INT(list(&g, &q), STORE_OK);
    check_ids(&g, asc, 2);
    CHECK_EQ_INT(g.has_more, 1);
    q.has_cursor = 1;
    q.cursor_updated_at = g.rows[1].updated_at;
    q.cursor_id = g.rows[1].id;
    CHECK_EQ_INT(list(&g, &q), STORE_OK);
    check_ids(&g, asc + 2, 2);
    CHECK_EQ_INT(g.has_more, 0);

    q.has_cursor = 0;
    q.order = STORE_ORDER_UPDATED_DESC;
    q.limit = 3;
    CHECK_EQ_INT(list(&g, &q), STORE_OK);
    check_ids(&g, desc, 3);
    CHECK_EQ_INT(g.has_more, 1);
    q.has_cursor = 1;
    q.cursor_updated_at = g.rows[2].updated_at;
    q.cursor_id = g.rows[2].id;
    CHECK_EQ_INT(list(&g, &q), STORE_OK);
    check_ids(&g, desc + 3, 1);
    CHECK_EQ_INT(g.has_more, 0);

    q.order = STORE_ORDER_ID;
    q.limit = 2;
    q.cursor_updated_at = 0;
    q.cursor_id = a[2].id;
    CHECK_EQ_INT(list(&g, &q), STORE_OK);
    check_ids(&g, byid + 2, 2);
    CHECK_EQ_INT(g.has_more, 0);
    q.cursor_id = a[1].id;
    CHECK_EQ_INT(list(&g, &q), STORE_OK);
    check_ids(&g, byid + 1, 2);
    CHECK_EQ_INT(g.has_more, 1);

    /* Bounds are exclusive. */
    store_list_query bq = {.type = "list-a",
                           .updated_after = a[1].updated_at,
                           .updated_before = a[2].updated_at,
                           .limit = 100};
    CHECK_EQ_INT(list(&g, &bq), STORE_OK);
    check_ids(&g, asc + 1, 2);
    bq.order = STORE_ORDER_ID;
    CHECK_EQ_INT(list(&g, &bq), STORE_OK);
    int64_t a35[] = {a[3].id, a[5].id};
    check_ids(&g, a35, 2);

    /* No type: both types, live only. */
    store_list_query all = {.updated_after = start, .limit = 100};
    CHECK_EQ_INT(list(&g, &all), STORE_OK);
    int64_t mixed[] = {a[1].id, a[3].id, a[5].id, b[0].id, b[1].id, a[2].id};
    check_ids(&g, mixed, 6);
    all.order = STORE_ORDER_UPDATED_DESC;
    all.limit = 1;
    CHECK_EQ_INT(list(&g, &all), STORE_OK);
    check_ids(&g, mixed + 5, 1);
    CHECK_EQ_INT(g.has_more, 1);
    all.order = STORE_ORDER_ID;
    all.limit = 100;
    CHECK_EQ_INT(list(&g, &all), STORE_OK);
    CHECK_EQ_INT(g.nrows, 6);
    for (size_t i = 1; i < g.nrows; i++)
        CHECK(g.rows[i].id > g.rows[i - 1].id);

    store_list_query none = {.type = "no-such-type", .limit = 10};
    CHECK_EQ_INT(list(&g, &none), STORE_OK);
    CHECK_EQ_INT(g.nrows, 0);
    CHECK_EQ_INT(g.has_more, 0);

    got_reset(&g);
    store_list_query bad = {.limit = 0};
    CHECK_EQ_INT(store_object_list(sl, &bad, on_result, &g), -EINVAL);
    bad.limit = 1001;
    CHECK_EQ_INT(store_object_list(sl, &bad, on_result, &g), -EINVAL);
    bad.limit = 10;
    bad.order = 7;
    CHECK_EQ_INT(store_object_list(sl, &bad, on_result, &g), -EINVAL);
    run_for(10);
    CHECK_EQ_INT(g.ncalls, 0);
    got_reset(&g);
    got_reset(&c);
}

static void test_revisions(void) {
    got g = {0}, c = {0};
    CHECK_EQ_INT(create(&c, 0, "hist", "n1", "{}"), STORE_OK);
    int64_t id = c.rows[0].id;
    for (int i = 2; i <= 5; i++) {
        char name[8];
        snprintf(name, sizeof name, "n%d", i);
        store_write w = {.id = id,
                         .type = "hist",
                         .name = name,
                         .attributes = "{}",
                         .author = "h"};
        CHECK_EQ_INT(put(&g, &w), STORE_OK);
    }
    CHECK_EQ_INT(revisions(&g, id, 0, 10), STORE_OK);
    CHECK_EQ_INT(g.nrows, 5);
    CHECK_EQ_INT(g.has_more, 0);
    for (size_t i = 0; i < g.nrows; i++) {
        CHECK_EQ_INT(g.rows[i].revision, 5 - (int64_t)i);
        CHECK_EQ_INT(g.rows[i].created_at, c.rows[0].created_at);
        CHECK_EQ_INT(g.rows[i].change_seq, 5);
        CHECK_EQ_INT(g.rows[i].id, id);
    }
    CHECK_EQ_STR(g.rows[0].name, "n5");
    CHECK_EQ_STR(g.rows[4].name, "n1");
    CHECK_EQ_STR(g.rows[4].updated_by, "tester");

    CHECK_EQ_INT(revisions(&g, id, 0, 2), STORE_OK);
    CHECK_EQ_INT(g.nrows, 2);
    CHECK_EQ_INT(g.rows[0].revision, 5);
    CHECK_EQ_INT(g.has_more, 1);
    CHECK_EQ_INT(revisions(&g, id, 4, 2), STORE_OK);
    CHECK_EQ_INT(g.nrows, 2);
    CHECK_EQ_INT(g.rows[0].revision, 3);
    CHECK_EQ_INT(g.rows[1].revision, 2);
    CHECK_EQ_INT(g.has_more, 1);
    CHECK_EQ_INT(revisions(&g, id, 2, 2), STORE_OK);
    CHECK_EQ_INT(g.nrows, 1);
    CHECK_EQ_INT(g.rows[0].revision, 1);
    CHECK_EQ_INT(g.has_more, 0);
    CHECK_EQ_INT(revisions(&g, id, 1, 2), STORE_OK);
    CHECK_EQ_INT(g.nrows, 0);
    CHECK_EQ_INT(g.has_more, 0);
    CHECK_EQ_INT(revisions(&g, 987654321, 0, 10), STORE_NOT_FOUND);

    got_reset(&g);
    CHECK_EQ_INT(store_revisions_list(sl, id, 0, 0, on_result, &g), -EINVAL);
    CHECK_EQ_INT(store_revisions_list(sl, id, -1, 5, on_result, &g), -EINVAL);
    run_for(10);
    CHECK_EQ_INT(g.ncalls, 0);
    CHECK_EQ_INT(revisions(&g, 0, 0, 5), STORE_NOT_FOUND);
    got_reset(&g);
    got_reset(&c);
}

/* ---- concurrency ----------------------------------------------------- */

enum { RACERS = 50 };

static void test_racing_puts(void) {
    got c = {0};
    got *g = calloc(RACERS, sizeof *g);
    CHECK_EQ_INT(create(&c, 0, "race", "r", "{}"), STORE_OK);
    int64_t id = c.rows[0].id;

    /* Same expected revision: exactly one wins. */
    for (int i = 0; i < RACERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "racer %d", i);
        store_write w = {.id = id,
                         .expected_revision = 1,
                         .type = "race",
                         .name = name,
                         .attributes = "{}",
                         .author = "racer"};
        got_reset(&g[i]);
        CHECK_EQ_INT(store_object_put(sl, &w, on_result, &g[i]), 0);
    }
    wait_all(g, RACERS);
    int ok = 0, conflict = 0, calls = 0;
    for (int i = 0; i < RACERS; i++) {
        ok += g[i].status == STORE_OK;
        conflict += g[i].status == STORE_CONFLICT;
        calls += g[i].ncalls;
    }
    CHECK_EQ_INT(ok, 1);
    CHECK_EQ_INT(conflict, RACERS - 1);
    CHECK_EQ_INT(calls, RACERS);

    /* Unconditional: all win, none is lost. */
    for (int i = 0; i < RACERS; i++) {
        store_write w = {.id = id,
                         .type = "race",
                         .name = "again",
                         .attributes = "{}",
                         .author = "racer"};
        got_reset(&g[i]);
        CHECK_EQ_INT(store_object_put(sl, &w, on_result, &g[i]), 0);
    }
    wait_all(g, RACERS);
    int seen[RACERS + 3] = {0};
    ok = 0;
    for (int i = 0; i < RACERS; i++) {
        if (g[i].status != STORE_OK)
            continue;
        ok++;
        int64_t rev = g[i].rows[0].revision;
        if (rev >= 3 && rev <= RACERS + 2)
            seen[rev]++;
    }
    CHECK_EQ_INT(ok, RACERS);
    int distinct = 0;
    for (int r = 3; r <= RACERS + 2; r++)
        distinct += seen[r] == 1;
    CHECK_EQ_INT(distinct, RACERS);
    got h = {0};
    CHECK_EQ_INT(get(&h, id, 0, 0), STORE_OK);
    CHECK_EQ_INT(h.rows[0].revision, RACERS + 2);
    CHECK_EQ_INT(h.rows[0].change_seq, RACERS + 2);
    CHECK_EQ_INT(revisions(&h, id, 0, 1000), STORE_OK);
    CHECK_EQ_INT(h.nrows, RACERS + 2);
    for (int i = 0; i < RACERS; i++)
        got_reset(&g[i]);
    free(g);
    got_reset(&h);
    got_reset(&c);
}

static void detach_and_close(store *x, store_loop *xl) {
    store_loop_detach(xl);
    run_for(20);
    store_close(x);
}

static void test_pool(void) {
    char err[256];
    store_config cfg = config(2);
    store *x;
    CHECK_EQ_INT(store_open(&x, &cfg, err, sizeof err), 0);
    store_loop *xl = store_loop_attach(x, &loop, 0);
    got c = {0};
    CHECK_EQ_INT(create(&c, 0, "pool", "p", "{}"), STORE_OK);
    got g[20];
    memset(g, 0, sizeof g);
    for (int i = 0; i < 20; i++) {
        got_reset(&g[i]);
        CHECK_EQ_INT(store_object_get(xl, c.rows[0].id, 0, 0, on_result, &g[i]),
                     0);
    }
    wait_all(g, 20);
    int ok = 0;
    for (int i = 0; i < 20; i++)
        ok += g[i].status == STORE_OK && g[i].nrows == 1 &&
              g[i].rows[0].id == c.rows[0].id;
    CHECK_EQ_INT(ok, 20);
    /* Both connected by now (one may have served all 20 alone). */
    run_for(300);
    CHECK_EQ_INT(sql("SELECT count(*) FROM pg_stat_activity "
                     "WHERE application_name = 'objectd'"),
                 MAIN_POOL + 2);
    for (int i = 0; i < 20; i++)
        got_reset(&g[i]);
    got_reset(&c);
    detach_and_close(x, xl);
}

/* Waits until the backend loop |li| has a connection up (a short
 * pool_timeout may expire before the first connect is done). */
static void warm_up(void *li) {
    got g = {0};
    for (int i = 0; i < 50; i++) {
        got_reset(&g);
        CHECK_EQ_INT(store_pg_backend.object_get(li, 1, 0, 0, on_result, &g),
                     0);
        wait_for(&g);
        if (g.status != STORE_UNAVAILABLE)
            break;
    }
    CHECK(g.status == STORE_OK || g.status == STORE_NOT_FOUND);
    got_reset(&g);
}

/* Pool of one, held by a long statement: the next request waits
 * pool_timeout_ms, then STORE_UNAVAILABLE. Uses the backend directly for
 * the sleep hook. */
static void test_pool_timeout(void) {
    char err[256];
    store_config cfg = config(1);
    cfg.pool_timeout_ms = 200;
    void *impl = NULL;
    CHECK_EQ_INT(store_pg_backend.open(&impl, &cfg, err, sizeof err), 0);
    void *li = store_pg_backend.loop_attach(impl, &loop, 0);
    got sleeper = {0}, waiter = {0};
    warm_up(li);
    got_reset(&sleeper);
    got_reset(&waiter);
    CHECK_EQ_INT(store_pg_sleep(li, 1000, on_result, &sleeper), 0);
    run_for(50); /* the sleep is running */
    uint64_t t0 = uv_hrtime();
    CHECK_EQ_INT(store_pg_backend.object_get(li, 1, 0, 0, on_result, &waiter),
                 0);
    wait_for(&waiter);
    double waited_ms = (double)(waiter.at_ns - t0) / 1e6;
    CHECK_EQ_INT(waiter.status, STORE_UNAVAILABLE);
    CHECK(waited_ms >= 190 && waited_ms < 900);
    CHECK(strstr(waiter.message, "200 ms") != NULL);
    CHECK_EQ_INT(sleeper.ncalls, 0);
    wait_for(&sleeper);
    CHECK_EQ_INT(sleeper.status, STORE_OK);
    if (sleeper.status != STORE_OK)
        fprintf(stderr, "sleeper: %s\n", sleeper.message);
    CHECK_EQ_INT(sleeper.nrows, 0);

    /* The wait queue is bounded (10,000 per loop): past it a request is
     * refused at once, the others wait out the pool timeout. */
    enum { QUEUE_MAX = 10000 };
    got *many = calloc(QUEUE_MAX + 1, sizeof *many);
    got_reset(&sleeper);
    CHECK_EQ_INT(store_pg_sleep(li, 500, on_result, &sleeper), 0);
    run_for(50);
    t0 = uv_hrtime();
    int submitted = 0;
    for (int i = 0; i <= QUEUE_MAX; i++) {
        got_reset(&many[i]);
        submitted +=
            store_pg_backend.object_get(li, 1, 0, 0, on_result, &many[i]) == 0;
    }
    CHECK_EQ_INT(submitted, QUEUE_MAX + 1);
    CHECK_EQ_INT(many[QUEUE_MAX].ncalls, 0); /* later, never inside */
    wait_for(&many[QUEUE_MAX]);
    CHECK_EQ_INT(many[QUEUE_MAX].status, STORE_UNAVAILABLE);
    CHECK(strstr(many[QUEUE_MAX].message, "too many") != NULL);
    CHECK((double)(many[QUEUE_MAX].at_ns - t0) / 1e6 < 150);
    wait_all(many, QUEUE_MAX);
    CHECK((double)(many[0].at_ns - t0) / 1e6 >= 190);
    int timed_out = 0, calls = 0;
    for (int i = 0; i <= QUEUE_MAX; i++) {
        timed_out += many[i].status == STORE_UNAVAILABLE;
        calls += many[i].ncalls;
        got_reset(&many[i]);
    }
    free(many);
    CHECK_EQ_INT(timed_out, QUEUE_MAX + 1);
    CHECK_EQ_INT(calls, QUEUE_MAX + 1);
    wait_for(&sleeper);
    CHECK_EQ_INT(sleeper.status, STORE_OK);

    /* Free again: served at once. */
    got_reset(&waiter);
    CHECK_EQ_INT(store_pg_backend.object_get(li, 1, 0, 0, on_result, &waiter),
                 0);
    wait_for(&waiter);
    CHECK(waiter.status == STORE_OK || waiter.status == STORE_NOT_FOUND);
    store_pg_backend.loop_detach(li);
    run_for(20);
    store_pg_backend.close(impl);

    /* statement_timeout is set on every pooled connection. */
    cfg = config(1);
    cfg.statement_timeout_ms = 100;
    CHECK_EQ_INT(store_pg_backend.open(&impl, &cfg, err, sizeof err), 0);
    li = store_pg_backend.loop_attach(impl, &loop, 0);
    warm_up(li);
    got_reset(&sleeper);
    CHECK_EQ_INT(store_pg_sleep(li, 2000, on_result, &sleeper), 0);
    wait_for(&sleeper);
    CHECK_EQ_INT(sleeper.status, STORE_UNAVAILABLE);
    CHECK(strstr(sleeper.message, "statement timeout") != NULL);
    got_reset(&waiter);
    CHECK_EQ_INT(store_pg_backend.object_get(li, 1, 0, 0, on_result, &waiter),
                 0);
    wait_for(&waiter);
    CHECK(waiter.status == STORE_OK || waiter.status == STORE_NOT_FOUND);
    store_pg_backend.loop_detach(li);
    run_for(20);
    store_pg_backend.close(impl);
    got_reset(&sleeper);
    got_reset(&waiter);
}

static long long terminate_backends(void) {
    return sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
               "WHERE application_name = 'objectd'");
}

static void test_reconnect(void) {
    got c = {0}, g[10];
    memset(g, 0, sizeof g);
    CHECK_EQ_INT(create(&c, 0, "phoenix", "p", "{}"), STORE_OK);
    int64_t id = c.rows[0].id;
    long long before = sql("SELECT sum(pid) FROM pg_stat_activity "
                           "WHERE application_name = 'objectd'");

    /* Every pooled backend killed: reads succeed again once reconnected
     * (sent at once: a read on a dead connection is resent once). */
    CHECK_EQ_INT(terminate_backends(), MAIN_POOL);
    for (int i = 0; i < 10; i++) {
        got_reset(&g[i]);
        CHECK_EQ_INT(store_object_get(sl, id, 0, 0, on_result, &g[i]), 0);
    }
    wait_all(g, 10);
    int ok = 0;
    for (int i = 0; i < 10; i++)
        ok += g[i].status == STORE_OK;
    CHECK_EQ_INT(ok, 10);
    run_for(300);
    CHECK_EQ_INT(sql("SELECT count(*) FROM pg_stat_activity "
                     "WHERE application_name = 'objectd'"),
                 MAIN_POOL);
    CHECK(sql("SELECT sum(pid) FROM pg_stat_activity "
              "WHERE application_name = 'objectd'") != before);

    /* Killed after sitting idle: noticed, reconnected with backoff. */
    CHECK_EQ_INT(terminate_backends(), MAIN_POOL);
    run_for(400);
    CHECK_EQ_INT(sql("SELECT count(*) FROM pg_stat_activity "
                     "WHERE application_name = 'objectd'"),
                 MAIN_POOL);
    CHECK_EQ_INT(get(&g[0], id, 0, 0), STORE_OK);

    /* A write in flight on a killed connection: STORE_UNAVAILABLE, not
     * resent. A second session holds the row lock so the write waits. */
    PGconn *locker = connect_admin();
    PGresult *r = PQexec(locker, "BEGIN");
    PQclear(r);
    char q[160];
    snprintf(q, sizeof q,
             "SELECT 1 FROM objects WHERE id = %" PRId64 " FOR UPDATE", id);
    r = PQexec(locker, q);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    store_write w = {.id = id,
                     .type = "phoenix",
                     .name = "blocked",
                     .attributes = "{}",
                     .author = "w"};
    got_reset(&g[0]);
    CHECK_EQ_INT(store_object_put(sl, &w, on_result, &g[0]), 0);
    run_for(200);
    CHECK_EQ_INT(g[0].ncalls, 0);
    CHECK_EQ_INT(terminate_backends(), MAIN_POOL);
    wait_for(&g[0]);
    CHECK_EQ_INT(g[0].status, STORE_UNAVAILABLE);
    CHECK(strstr(g[0].message, "lost") != NULL);
    r = PQexec(locker, "ROLLBACK");
    PQclear(r);
    PQfinish(locker);
    CHECK_EQ_INT(get(&g[1], id, 0, 0), STORE_OK);
    CHECK_EQ_INT(g[1].rows[0].revision, 1);
    CHECK_EQ_INT(put(&g[2], &w), STORE_OK);
    CHECK_EQ_INT(g[2].rows[0].revision, 2);
    for (int i = 0; i < 10; i++)
        got_reset(&g[i]);
    got_reset(&c);
}

/* ---- the plan -------------------------------------------------------- */

static void bulk_load(void) {
    char q[2048];
    /* 20,000 objects x 10 revisions over 5 types; revision r of object g
     * written at T0 + (r-1) s + a per-object offset, so heads interleave
     * in time and ids are not in updated order; every 50th head is a
     * tombstone. */
    const char *t = "1600000000000000::bigint";
    const char *off = "((g * 7919) % 20000) * 1000";
    snprintf(q, sizeof q,
             "INSERT INTO objects (id, revision, type, name, attributes, "
             "created_at, updated_at, updated_by, deleted, change_seq) "
             "SELECT %d + g, 10, 'bulk' || (g %% 5), 'object ' || g, "
             "'{\"n\":' || g || ',\"r\":10}', %s + %s, "
             "%s + 9000000000 + %s, 'loader', g %% 50 = 0, 10 "
             "FROM generate_series(1, %d::bigint) g",
             BULK_BASE, t, off, t, off, BULK_OBJECTS);
    CHECK_EQ_INT(sql(q), 0);
    snprintf(q, sizeof q,
             "INSERT INTO revisions (object_id, revision, type, name, "
             "attributes, updated_at, author, deleted) "
             "SELECT %d + g, r, 'bulk' || (g %% 5), 'object ' || g, "
             "'{\"n\":' || g || ',\"r\":' || r || '}', "
             "%s + (r - 1) * 1000000000 + %s, 'loader', "
             "r = 10 AND g %% 50 = 0 "
             "FROM generate_series(1, %d::bigint) g, "
             "generate_series(1, 10::bigint) r",
             BULK_BASE, t, off, BULK_OBJECTS);
    CHECK_EQ_INT(sql(q), 0);
    snprintf(q, sizeof q, "SELECT count(*) FROM revisions WHERE object_id > %d",
             BULK_BASE);
    CHECK_EQ_INT(sql(q), 10 * BULK_OBJECTS);
    CHECK_EQ_INT(sql("ANALYZE objects"), 0);
    CHECK_EQ_INT(sql("ANALYZE revisions"), 0);
}

/* The value after "|key|: " at or after |from|; -1 if absent. */
static long long json_num(const char *from, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(from, pat);
    return p ? atoll(p + strlen(pat)) : -1;
}

/* Checks the plan is Limit over an Index Scan of |index| (|direction|),
 * without a Sort, reading at most limit + 1 + slack rows. */
static void check_plan(const char *label, const store_list_query *q,
                       const char *index, const char *direction) {
    static char plan[65536];
    int rc = store_pg_explain_list(uri, q, plan, sizeof plan);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", label, plan);
        return;
    }
    const char *limit = strstr(plan, "\"Node Type\": \"Limit\"");
    const char *scan = strstr(plan, "\"Node Type\": \"Index Scan\"");
    char want[128];
    snprintf(want, sizeof want, "\"Index Name\": \"%s\"", index);
    char dir[64];
    snprintf(dir, sizeof dir, "\"Scan Direction\": \"%s\"", direction);
    CHECK(limit != NULL && scan != NULL && limit < scan);
    CHECK(strstr(plan, "\"Node Type\": \"Sort\"") == NULL);
    CHECK(strstr(plan, "Incremental Sort") == NULL);
    CHECK(strstr(plan, "Bitmap") == NULL);
    CHECK(strstr(plan, want) != NULL);
    CHECK(strstr(plan, dir) != NULL);
    CHECK(strstr(plan, "Rows Removed by Filter") == NULL);
    long long rows = scan ? json_num(scan, "Actual Rows") : -1;
    long long loops = scan ? json_num(scan, "Actual Loops") : -1;
    CHECK(rows >= 0 && rows <= q->limit + 1);
    CHECK_EQ_INT(loops, 1);
    long long hit = scan ? json_num(scan, "Shared Hit Blocks") : -1;
    long long read = scan ? json_num(scan, "Shared Read Blocks") : -1;
    const char *exec = strstr(plan, "\"Execution Time\": ");
    printf("  plan %-28s Limit -> Index Scan%s %s, rows %lld, "
           "buffers %lld, execution %.3f ms\n",
           label, strcmp(direction, "Backward") == 0 ? " Backward" : "", index,
           rows, hit + read,
           exec ? strtod(exec + strlen("\"Execution Time\": "), NULL) : -1);
}

static void test_explain(void) {
    bulk_load();
    store_list_query q = {
        .type = "bulk2", .order = STORE_ORDER_UPDATED_DESC, .limit = 50};
    check_plan("type, -updated_at", &q, "objects_live_type_updated",
               "Backward");
    q.order = STORE_ORDER_UPDATED_ASC;
    check_plan("type, updated_at", &q, "objects_live_type_updated", "Forward");
    /* A cursor in the middle: the walk starts there. */
    q.has_cursor = 1;
    q.cursor_updated_at = 1600000000000000LL + 9000000000LL + 10000000;
    q.cursor_id = 0;
    check_plan("type, updated_at, cursor", &q, "objects_live_type_updated",
               "Forward");
    q.order = STORE_ORDER_UPDATED_DESC;
    check_plan("type, -updated_at, cursor", &q, "objects_live_type_updated",
               "Backward");
    store_list_query all = {.order = STORE_ORDER_UPDATED_DESC, .limit = 50};
    check_plan("-updated_at", &all, "objects_live_updated", "Backward");
    all.order = STORE_ORDER_UPDATED_ASC;
    all.updated_after = 1600000000000000LL + 9000000000LL + 5000000;
    all.limit = 20;
    check_plan("updated_at, updated_after", &all, "objects_live_updated",
               "Forward");

    /* And the pool returns what a plain query says, page after page. */
    got g = {0};
    q.has_cursor = 0;
    PGresult *r = PQexec(admin, "SELECT id FROM objects WHERE type = 'bulk2' "
                                "AND NOT deleted ORDER BY updated_at DESC, "
                                "id DESC LIMIT 150");
    CHECK_EQ_INT(PQntuples(r), 150);
    int match = 0;
    for (int page = 0; page < 3; page++) {
        CHECK_EQ_INT(list(&g, &q), STORE_OK);
        CHECK_EQ_INT(g.nrows, 50);
        CHECK_EQ_INT(g.has_more, 1);
        for (size_t i = 0; i < g.nrows && PQntuples(r) == 150; i++)
            match +=
                g.rows[i].id == atoll(PQgetvalue(r, page * 50 + (int)i, 0));
        if (g.nrows == 50) {
            q.has_cursor = 1;
            q.cursor_updated_at = g.rows[49].updated_at;
            q.cursor_id = g.rows[49].id;
        }
    }
    CHECK_EQ_INT(match, 150);
    PQclear(r);

    /* as_of on bulk history uses the revision written then. */
    CHECK_EQ_INT(get(&g, BULK_BASE + 7, 0,
                     1600000000000000LL + 4 * 1000000000LL +
                         ((7LL * 7919) % 20000) * 1000),
                 STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 5);
    CHECK_EQ_STR(g.rows[0].attributes, "{\"n\":7,\"r\":5}");
    got_reset(&g);

    store_list_query bad = {.limit = 0};
    char out[64];
    CHECK_EQ_INT(store_pg_explain_list(uri, &bad, out, sizeof out), -EINVAL);
}

/* ---- detach ---------------------------------------------------------- */

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void test_detach(void) {
    enum { N = 12 };
    got g[N];
    memset(g, 0, sizeof g);
    for (int i = 0; i < N; i++) {
        got_reset(&g[i]);
        CHECK_EQ_INT(store_object_get(sl, 1, 0, 0, on_result, &g[i]), 0);
    }
    /* MAIN_POOL in flight, the rest waiting: every callback has come,
     * exactly once, by the time detach returns. */
    store_loop_detach(sl);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(g[i].ncalls, 1);
        CHECK_EQ_INT(g[i].status, STORE_UNAVAILABLE);
    }
    got late = {0};
    got_reset(&late);
    CHECK(store_object_get(sl, 1, 0, 0, on_result, &late) < 0);
    /* What the worker does next: close whatever is still open. */
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(late.ncalls, 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(g[i].ncalls, 1);
    for (int i = 0; i < N; i++)
        got_reset(&g[i]);
    store_close(s);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    CHECK_EQ_INT(sql("SELECT count(*) FROM pg_stat_activity "
                     "WHERE application_name = 'objectd'"),
                 0);
}

int main(void) {
    uri = getenv("OBJECTD_TEST_PG_URI");
    if (uri == NULL || uri[0] == '\0') {
        printf("test_store_pg: OBJECTD_TEST_PG_URI is not set; skipped "
               "(scripts/pg-test-server start DIR prints one)\n");
        return 0;
    }
    alarm(600); /* whatever hangs, the test ends */
    admin = connect_admin();
    uv_loop_init(&loop);
    TEST_RUN(test_migrate);
    TEST_RUN(test_create);
    TEST_RUN(test_put);
    TEST_RUN(test_get);
    TEST_RUN(test_list);
    TEST_RUN(test_revisions);
    TEST_RUN(test_racing_puts);
    TEST_RUN(test_pool);
    TEST_RUN(test_pool_timeout);
    TEST_RUN(test_reconnect);
    TEST_RUN(test_explain);
    TEST_RUN(test_detach);
    PQfinish(admin);
    return TEST_END();
}
