/* test_store_pg: the PostgreSQL backend against a real server, every
 * operation through the asynchronous API on a uv loop.
 *
 * OBJECTD_TEST_PG_URI names a scratch database (scripts/pg-test-server
 * start DIR prints one); the test drops and recreates objectd's tables in
 * it. Without the variable the test prints a notice and passes. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
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

typedef struct obs_row {
    char metric[72];
    int64_t ts;
    double value;
} obs_row;

typedef struct ev_row {
    int64_t ts;
    char kind[72], severity[16], message[1040], data[256];
    int has_data;
} ev_row;

typedef struct got {
    int ncalls;
    int status;
    char message[256];
    row *rows;
    size_t nrows;
    int has_more;
    uint64_t at_ns; /* when the callback ran */
    obs_row *obs;
    size_t nobs;
    ev_row *events;
    size_t nevents;
    size_t metric_copies; /* distinct metric pointers among obs */
    int64_t inserted, replaced, unchanged, change_seq;
    int64_t window_from, window_to, newest_ts;
} got;

static void got_reset(got *g) {
    free(g->rows);
    free(g->obs);
    free(g->events);
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
    g->inserted = res->inserted;
    g->replaced = res->replaced;
    g->unchanged = res->unchanged;
    g->change_seq = res->change_seq;
    g->window_from = res->window_from;
    g->window_to = res->window_to;
    g->newest_ts = res->newest_ts;
    free(g->obs);
    g->nobs = res->nobs;
    g->obs = calloc(res->nobs + 1, sizeof *g->obs);
    const char *seen[64];
    g->metric_copies = 0;
    for (size_t i = 0; i < res->nobs; i++) {
        const store_observation *o = &res->obs[i];
        snprintf(g->obs[i].metric, sizeof g->obs[i].metric, "%s", o->metric);
        g->obs[i].ts = o->ts;
        g->obs[i].value = o->value;
        size_t k = 0;
        while (k < g->metric_copies && k < 64 && seen[k] != o->metric)
            k++;
        if (k == g->metric_copies) {
            if (k < 64)
                seen[k] = o->metric;
            g->metric_copies++;
        }
    }
    free(g->events);
    g->nevents = res->nevents;
    g->events = calloc(res->nevents + 1, sizeof *g->events);
    for (size_t i = 0; i < res->nevents; i++) {
        const store_event *e = &res->events[i];
        ev_row *r = &g->events[i];
        r->ts = e->ts;
        snprintf(r->kind, sizeof r->kind, "%s", e->kind);
        snprintf(r->severity, sizeof r->severity, "%s", e->severity);
        snprintf(r->message, sizeof r->message, "%s", e->message);
        r->has_data = e->data != NULL;
        snprintf(r->data, sizeof r->data, "%s", e->data ? e->data : "");
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

static int obs_put(got *g, int64_t id, const store_observation *obs, size_t n) {
    got_reset(g);
    int rc = store_observations_put(sl, id, obs, n, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

static int ev_put(got *g, int64_t id, const store_event *ev, size_t n) {
    got_reset(g);
    int rc = store_events_put(sl, id, ev, n, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

static int obs_list(got *g, const store_series_query *q) {
    got_reset(g);
    int rc = store_observations_list(sl, q, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

static int ev_list(got *g, const store_series_query *q) {
    got_reset(g);
    int rc = store_events_list(sl, q, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

static int analysis(got *g, int64_t id, int64_t from, int64_t to) {
    got_reset(g);
    int rc = store_analysis_load(sl, id, from, to, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

static int version(got *g, int64_t id) {
    got_reset(g);
    int rc = store_object_version(sl, id, on_result, g);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        wait_for(g);
    return g->status;
}

/* ---- migrations ------------------------------------------------------ */

static void reset_schema(void) {
    sql("DROP TABLE IF EXISTS observation_days, observations, events, "
        "revisions, objects, "
        "schema_migrations, story_revisions CASCADE");
    /* Every objectd_* function, overloads included. */
    sql("DO $$DECLARE f regprocedure; BEGIN FOR f IN SELECT oid::regprocedure "
        "FROM pg_proc WHERE proname LIKE 'objectd\\_%' LOOP "
        "EXECUTE 'DROP FUNCTION ' || f; END LOOP; END$$");
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

/* ---- observations and events ----------------------------------------- */

enum { MINUTE_US = 60000000 };
#define DAY_US (86400LL * 1000000)
#define T0 1700000000000000LL

static long long count_where(const char *table, int64_t id) {
    char q[160];
    snprintf(q, sizeof q, "SELECT count(*) FROM %s WHERE object_id = %" PRId64,
             table, id);
    return sql(q);
}

static double obs_value(int64_t id, const char *metric, int64_t ts) {
    char q[200];
    snprintf(q, sizeof q,
             "SELECT value FROM observations WHERE object_id = %" PRId64
             " AND metric = '%s' AND ts = %" PRId64,
             id, metric, ts);
    PGresult *r = PQexec(admin, q);
    double v = PQntuples(r) == 1 ? strtod(PQgetvalue(r, 0, 0), NULL) : NAN;
    PQclear(r);
    return v;
}

/* An object that exists and is deleted. */
static int64_t deleted_object(void) {
    got c = {0}, g = {0};
    CHECK_EQ_INT(create(&c, 0, "gone", "g", "{}"), STORE_OK);
    int64_t id = c.rows[0].id;
    store_write del = {
        .id = id, .author = "t", .deleted = 1, .keep_content = 1};
    CHECK_EQ_INT(put(&g, &del), STORE_OK);
    got_reset(&c);
    got_reset(&g);
    return id;
}

static void test_observations_put(void) {
    static const char *const metrics[] = {"cpu", "mem", "disk.io"};
    enum { NTS = 20, N = 3 * NTS };
    store_observation obs[N];
    got g = {0}, c = {0};
    CHECK_EQ_INT(create(&c, 0, "sensor", "s", "{}"), STORE_OK);
    int64_t id = c.rows[0].id;
    for (int i = 0; i < N; i++) {
        obs[i].metric = metrics[i % 3];
        obs[i].ts = T0 + (i / 3) * MINUTE_US;
        obs[i].value = (i / 3) * 1.5 + i % 3;
    }
    CHECK_EQ_INT(obs_put(&g, id, obs, N), STORE_OK);
    CHECK_EQ_INT(g.inserted, N);
    CHECK_EQ_INT(g.replaced, 0);
    CHECK_EQ_INT(g.unchanged, 0);
    CHECK_EQ_INT(g.change_seq, 2);
    CHECK_EQ_INT(count_where("observations", id), N);

    /* The same batch again changes nothing, change_seq included. */
    CHECK_EQ_INT(obs_put(&g, id, obs, N), STORE_OK);
    CHECK_EQ_INT(g.inserted, 0);
    CHECK_EQ_INT(g.replaced, 0);
    CHECK_EQ_INT(g.unchanged, N);
    CHECK_EQ_INT(g.change_seq, 2);
    CHECK_EQ_INT(version(&g, id), STORE_OK);
    CHECK_EQ_INT(g.rows[0].change_seq, 2);
    CHECK_EQ_INT(g.rows[0].revision, 1);

    /* 5 new values, 3 late readings (before the first) and 2 new at the
     * end, 5 the same: one bump. */
    store_observation mix[15];
    for (int i = 0; i < 5; i++) {
        mix[i] = obs[i * 7];
        mix[i].value += 100;
    }
    for (int i = 0; i < 3; i++)
        mix[5 + i] = (store_observation){"cpu", T0 - (i + 1) * MINUTE_US, i};
    mix[8] = (store_observation){"mem", T0 + NTS * MINUTE_US, 8};
    mix[9] = (store_observation){"new.metric", T0, 9};
    for (int i = 0; i < 5; i++)
        mix[10 + i] = obs[i * 7 + 1];
    CHECK_EQ_INT(obs_put(&g, id, mix, 15), STORE_OK);
    CHECK_EQ_INT(g.inserted, 5);
    CHECK_EQ_INT(g.replaced, 5);
    CHECK_EQ_INT(g.unchanged, 5);
    CHECK_EQ_INT(g.change_seq, 3);
    CHECK(obs_value(id, obs[7].metric, obs[7].ts) == obs[7].value + 100);
    CHECK(obs_value(id, "cpu", T0 - 3 * MINUTE_US) == 2);
    CHECK_EQ_INT(count_where("observations", id), N + 5);

    /* Late data alone still bumps change_seq. */
    store_observation late = {"cpu", T0 - DAY_US, 42};
    CHECK_EQ_INT(obs_put(&g, id, &late, 1), STORE_OK);
    CHECK_EQ_INT(g.inserted, 1);
    CHECK_EQ_INT(g.change_seq, 4);

    /* Repeats inside one batch: the last occurrence wins, the ones it
     * supersedes count as unchanged. */
    store_observation dup[] = {{"cpu", T0, -1}, {"x", T0, 7}, {"cpu", T0, -2},
                               {"x", T0, 7},    {"y", T0, 1}, {"y", T0, 2}};
    CHECK_EQ_INT(obs_put(&g, id, dup, 6), STORE_OK);
    CHECK_EQ_INT(g.inserted, 2);
    CHECK_EQ_INT(g.replaced, 1);
    CHECK_EQ_INT(g.unchanged, 3);
    CHECK_EQ_INT(g.change_seq, 5);
    CHECK(obs_value(id, "cpu", T0) == -2);
    CHECK(obs_value(id, "y", T0) == 2);
    CHECK_EQ_INT(obs_put(&g, id, dup, 6), STORE_OK);
    CHECK_EQ_INT(g.unchanged, 6);
    CHECK_EQ_INT(g.change_seq, 5);

    /* Unknown or deleted objects: NOT_FOUND, nothing written. */
    CHECK_EQ_INT(obs_put(&g, 987654321, obs, N), STORE_NOT_FOUND);
    CHECK_EQ_INT(count_where("observations", 987654321), 0);
    int64_t gone = deleted_object();
    CHECK_EQ_INT(obs_put(&g, gone, obs, N), STORE_NOT_FOUND);
    CHECK_EQ_INT(count_where("observations", gone), 0);
    CHECK_EQ_INT(version(&g, gone), STORE_OK);
    CHECK_EQ_INT(g.rows[0].change_seq, 2);
    CHECK_EQ_INT(g.rows[0].deleted, 1);

    /* Exact doubles, extremes included, survive the round trip. */
    store_observation odd[] = {{"odd", 1, 0.1},
                               {"odd", 2, -1e308},
                               {"odd", 3, 5e-324},
                               {"odd", INT64_MAX, 1.0 / 3}};
    CHECK_EQ_INT(obs_put(&g, id, odd, 4), STORE_OK);
    CHECK_EQ_INT(g.inserted, 4);
    for (int i = 0; i < 4; i++)
        CHECK(obs_value(id, "odd", odd[i].ts) == odd[i].value);

    /* Bad arguments: an error, and no callback. */
    got_reset(&g);
    CHECK_EQ_INT(store_observations_put(sl, id, obs, 0, on_result, &g),
                 -EINVAL);
    CHECK_EQ_INT(store_observations_put(sl, id, NULL, 1, on_result, &g),
                 -EINVAL);
    CHECK_EQ_INT(store_observations_put(sl, id, obs, 100001, on_result, &g),
                 -EINVAL);
    store_observation bad = {"cpu", T0, NAN};
    CHECK_EQ_INT(store_observations_put(sl, id, &bad, 1, on_result, &g),
                 -EINVAL);
    bad = (store_observation){NULL, T0, 1};
    CHECK_EQ_INT(store_observations_put(sl, id, &bad, 1, on_result, &g),
                 -EINVAL);
    run_for(10);
    CHECK_EQ_INT(g.ncalls, 0);
    got_reset(&g);
    got_reset(&c);
}

static void test_events_put(void) {
    got g = {0}, c = {0};
    CHECK_EQ_INT(create(&c, 0, "sensor", "e", "{}"), STORE_OK);
    int64_t id = c.rows[0].id;
    static char big[1025];
    memset(big, 'm', 1024);
    store_event ev[] = {
        {T0, "deploy", "info", "v1 deployed", "{\"v\":1}"},
        {T0, "alert", "warning", "hot", NULL},
        {T0 + 1, "alert", "error", "hotter", "{}"},
        {T0 + 2, "note", "debug", "", NULL},
        {T0 + 3, "note", "critical", big, "[1,2]"},
    };
    CHECK_EQ_INT(ev_put(&g, id, ev, 5), STORE_OK);
    CHECK_EQ_INT(g.inserted, 5);
    CHECK_EQ_INT(g.replaced, 0);
    CHECK_EQ_INT(g.unchanged, 0);
    CHECK_EQ_INT(g.change_seq, 2);
    CHECK_EQ_INT(ev_put(&g, id, ev, 5), STORE_OK);
    CHECK_EQ_INT(g.inserted, 0);
    CHECK_EQ_INT(g.replaced, 0);
    CHECK_EQ_INT(g.unchanged, 5);
    CHECK_EQ_INT(g.change_seq, 2);

    /* Each field counts, NULL data included. */
    store_event ch[] = {
        {T0, "deploy", "warning", "v1 deployed", "{\"v\":1}"}, /* severity */
        {T0, "alert", "warning", "hot!", NULL},                /* message */
        {T0 + 1, "alert", "error", "hotter", NULL},  /* data -> NULL */
        {T0 + 2, "note", "debug", "", "{}"},         /* NULL -> data */
        {T0 + 3, "note", "critical", big, "[1,2]"},  /* same */
        {T0 - DAY_US, "late", "info", "late", NULL}, /* new, late */
    };
    CHECK_EQ_INT(ev_put(&g, id, ch, 6), STORE_OK);
    CHECK_EQ_INT(g.inserted, 1);
    CHECK_EQ_INT(g.replaced, 4);
    CHECK_EQ_INT(g.unchanged, 1);
    CHECK_EQ_INT(g.change_seq, 3);
    CHECK_EQ_INT(count_where("events", id), 6);
    char q[200];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM events WHERE object_id = %" PRId64
             " AND data IS NULL",
             id);
    CHECK_EQ_INT(sql(q), 3);

    /* Repeats in one batch: the last wins. */
    store_event dup[] = {{T0 + 9, "k", "info", "first", NULL},
                         {T0 + 9, "k", "error", "second", "{}"}};
    CHECK_EQ_INT(ev_put(&g, id, dup, 2), STORE_OK);
    CHECK_EQ_INT(g.inserted, 1);
    CHECK_EQ_INT(g.unchanged, 1);
    CHECK_EQ_INT(g.change_seq, 4);
    snprintf(q, sizeof q,
             "SELECT count(*) FROM events WHERE object_id = %" PRId64
             " AND kind = 'k' AND message = 'second' AND data = '{}'",
             id);
    CHECK_EQ_INT(sql(q), 1);

    CHECK_EQ_INT(ev_put(&g, 987654321, ev, 5), STORE_NOT_FOUND);
    CHECK_EQ_INT(count_where("events", 987654321), 0);
    int64_t gone = deleted_object();
    CHECK_EQ_INT(ev_put(&g, gone, ev, 5), STORE_NOT_FOUND);
    CHECK_EQ_INT(count_where("events", gone), 0);

    got_reset(&g);
    store_event bad = {T0, NULL, "info", "m", NULL};
    CHECK_EQ_INT(store_events_put(sl, id, &bad, 1, on_result, &g), -EINVAL);
    bad = (store_event){T0, "k", "info", NULL, NULL};
    CHECK_EQ_INT(store_events_put(sl, id, &bad, 1, on_result, &g), -EINVAL);
    CHECK_EQ_INT(store_events_put(sl, id, ev, 0, on_result, &g), -EINVAL);
    run_for(10);
    CHECK_EQ_INT(g.ncalls, 0);
    got_reset(&g);
    got_reset(&c);
}

/* ---- series lists ------------------------------------------------------ */

typedef struct series_key {
    int64_t ts;
    const char *name;
} series_key;

static int key_cmp(const void *a, const void *b) {
    const series_key *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Pages through the list of |events| (or observations) with |q| (its
 * cursor fields are overwritten) and checks it visits exactly |want| (in
 * order), each once, has_more on every page but the last. */
static void check_paging(const char *label, int events, store_series_query q,
                         const series_key *want, size_t nwant) {
    got g = {0};
    size_t seen = 0, pages = 0, bad = 0;
    char cursor_key[72] = "";
    q.has_cursor = 0;
    for (;;) {
        int st = events ? ev_list(&g, &q) : obs_list(&g, &q);
        CHECK_EQ_INT(st, STORE_OK);
        if (st != STORE_OK)
            break;
        pages++;
        size_t n = events ? g.nevents : g.nobs;
        for (size_t i = 0; i < n; i++, seen++) {
            int64_t ts = events ? g.events[i].ts : g.obs[i].ts;
            const char *name = events ? g.events[i].kind : g.obs[i].metric;
            if (seen >= nwant || want[seen].ts != ts ||
                strcmp(want[seen].name, name) != 0)
                bad++;
        }
        if (!g.has_more)
            break;
        if (n == 0 || n != (size_t)q.limit) {
            bad++;
            break;
        }
        q.has_cursor = 1;
        q.cursor_ts = events ? g.events[n - 1].ts : g.obs[n - 1].ts;
        snprintf(cursor_key, sizeof cursor_key, "%s",
                 events ? g.events[n - 1].kind : g.obs[n - 1].metric);
        q.cursor_key = cursor_key;
        if (pages > nwant + 2) {
            bad++;
            break;
        }
    }
    if (bad || seen != nwant)
        fprintf(stderr, "%s: limit %d: %zu of %zu rows, %zu wrong\n", label,
                q.limit, seen, nwant, bad);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(seen, nwant);
    got_reset(&g);
}

/* Keys of |all| (sorted) that pass the filter and the bounds. */
static size_t keys_filter(const series_key *all, size_t n, const char *name,
                          int64_t from, int64_t to, series_key *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if ((name == NULL || strcmp(all[i].name, name) == 0) &&
            (from == 0 || all[i].ts >= from) && (to == 0 || all[i].ts <= to))
            out[k++] = all[i];
    return k;
}

static void check_all_pagings(const char *label, int events, int64_t id,
                              const series_key *all, size_t n,
                              const char *const *names, int nnames) {
    series_key *want = calloc(n + 1, sizeof *want);
    static const int limits[] = {1, 3, 7, 10000};
    /* Bounds in the middle of the data, landing on readings. */
    int64_t from = all[n / 4].ts, to = all[3 * n / 4].ts;
    for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
        for (int f = -1; f < nnames; f++) {
            for (int b = 0; b < 2; b++) {
                const char *name = f < 0 ? NULL : names[f];
                store_series_query q = {.id = id,
                                        .filter = name,
                                        .from = b ? from : 0,
                                        .to = b ? to : 0,
                                        .limit = limits[li]};
                size_t k = keys_filter(all, n, name, q.from, q.to, want);
                char what[128];
                snprintf(what, sizeof what, "%s filter %s bounds %d", label,
                         name ? name : "-", b);
                check_paging(what, events, q, want, k);
            }
        }
    }
    free(want);
}

static void test_observation_lists(void) {
    /* "B" sorts before "a" in byte order (and after it in most locales):
     * the lists must use byte order, as SQLite does. */
    static const char *const names[] = {"a", "B", "b.x", "c-1"};
    enum { NTS = 25 };
    store_observation obs[4 * NTS];
    series_key all[4 * NTS];
    size_t n = 0;
    got g = {0}, c = {0};
    CHECK_EQ_INT(create(&c, 0, "lists", "l", "{}"), STORE_OK);
    int64_t id = c.rows[0].id;
    for (int t = 0; t < NTS; t++)
        for (int m = 0; m < 4; m++)
            if ((t + m) % 3 != 0) {
                /* Irregular times, some shared by several metrics. */
                int64_t ts = T0 + t * MINUTE_US + (m == 3 ? 1 : 0);
                obs[n] = (store_observation){names[m], ts, t + m / 10.0};
                all[n] = (series_key){ts, names[m]};
                n++;
            }
    CHECK_EQ_INT(obs_put(&g, id, obs, n), STORE_OK);
    CHECK_EQ_INT(g.inserted, n);
    qsort(all, n, sizeof *all, key_cmp);
    check_all_pagings("observations", 0, id, all, n, names, 4);

    /* Values come back exactly; the metric of every row is one copy. */
    store_series_query q = {.id = id, .limit = 10000};
    CHECK_EQ_INT(obs_list(&g, &q), STORE_OK);
    CHECK_EQ_INT(g.nobs, n);
    CHECK_EQ_INT(g.metric_copies, 4);
    int exact = 0;
    for (size_t i = 0; i < g.nobs; i++)
        for (size_t j = 0; j < n; j++)
            if (obs[j].ts == g.obs[i].ts &&
                strcmp(obs[j].metric, g.obs[i].metric) == 0)
                exact += obs[j].value == g.obs[i].value;
    CHECK_EQ_INT(exact, n);

    /* A cursor between keys; one past the end; a filter with a cursor on
     * another metric at the same ts. */
    q.has_cursor = 1;
    q.cursor_ts = all[10].ts;
    q.cursor_key = "zzz";
    CHECK_EQ_INT(obs_list(&g, &q), STORE_OK);
    size_t after = 0;
    while (after < n &&
           key_cmp(&all[after], &(series_key){all[10].ts, "zzz"}) <= 0)
        after++;
    CHECK_EQ_INT(g.nobs, n - after);
    CHECK(g.nobs > 0 && g.obs[0].ts > all[10].ts);
    q.cursor_ts = INT64_MAX;
    CHECK_EQ_INT(obs_list(&g, &q), STORE_OK);
    CHECK_EQ_INT(g.nobs, 0);
    CHECK_EQ_INT(g.has_more, 0);
    q.filter = "b.x";
    CHECK_EQ_INT(obs_list(&g, &q), STORE_OK);
    CHECK_EQ_INT(g.nobs, 0);
    q.cursor_ts = T0; /* B and b.x both read at t = 0 */
    q.cursor_key = "B";
    CHECK_EQ_INT(obs_list(&g, &q), STORE_OK);
    CHECK(g.nobs > 0 && g.obs[0].ts == T0 &&
          strcmp(g.obs[0].metric, "b.x") == 0);
    q.cursor_key = "b.x";
    CHECK_EQ_INT(obs_list(&g, &q), STORE_OK);
    CHECK(g.nobs > 0 && g.obs[0].ts > T0);

    /* No such object; an object without readings; a deleted one. */
    store_series_query none = {.id = 987654321, .limit = 10};
    CHECK_EQ_INT(obs_list(&g, &none), STORE_NOT_FOUND);
    none.filter = "a";
    CHECK_EQ_INT(obs_list(&g, &none), STORE_NOT_FOUND);
    CHECK_EQ_INT(create(&c, 0, "lists", "empty", "{}"), STORE_OK);
    store_series_query empty = {.id = c.rows[0].id, .limit = 10};
    CHECK_EQ_INT(obs_list(&g, &empty), STORE_OK);
    CHECK_EQ_INT(g.nobs, 0);
    CHECK_EQ_INT(g.has_more, 0);
    empty.id = deleted_object();
    CHECK_EQ_INT(obs_list(&g, &empty), STORE_OK);

    got_reset(&g);
    store_series_query bad = {.id = id, .limit = 0};
    CHECK_EQ_INT(store_observations_list(sl, &bad, on_result, &g), -EINVAL);
    bad.limit = 10001;
    CHECK_EQ_INT(store_observations_list(sl, &bad, on_result, &g), -EINVAL);
    bad.limit = 10;
    bad.has_cursor = 1;
    CHECK_EQ_INT(store_observations_list(sl, &bad, on_result, &g), -EINVAL);
    run_for(10);
    CHECK_EQ_INT(g.ncalls, 0);
    got_reset(&g);
    got_reset(&c);
}

static void test_event_lists(void) {
    static const char *const kinds[] = {"deploy", "Alert", "alert", "x.y"};
    static const char *const sev[] = {"debug", "info", "warning", "error",
                                      "critical"};
    enum { NTS = 30 };
    store_event ev[4 * NTS];
    series_key all[4 * NTS];
    char msgs[4 * NTS][16];
    size_t n = 0;
    got g = {0}, c = {0};
    CHECK_EQ_INT(create(&c, 0, "lists", "ev", "{}"), STORE_OK);
    int64_t id = c.rows[0].id;
    for (int t = 0; t < NTS; t++)
        for (int k = 0; k < 4; k++)
            if ((t * 7 + k) % 4 != 1) {
                int64_t ts = T0 + (t / 2) * MINUTE_US + t % 2;
                snprintf(msgs[n], sizeof msgs[n], "m%d.%d", t, k);
                ev[n] = (store_event){ts, kinds[k], sev[(t + k) % 5], msgs[n],
                                      k == 2 ? NULL : "{\"k\":1}"};
                all[n] = (series_key){ts, kinds[k]};
                n++;
            }
    CHECK_EQ_INT(ev_put(&g, id, ev, n), STORE_OK);
    CHECK_EQ_INT(g.inserted, n);
    qsort(all, n, sizeof *all, key_cmp);
    check_all_pagings("events", 1, id, all, n, kinds, 4);

    /* Every field comes back. */
    store_series_query q = {.id = id, .limit = 10000};
    CHECK_EQ_INT(ev_list(&g, &q), STORE_OK);
    CHECK_EQ_INT(g.nevents, n);
    int same = 0;
    for (size_t i = 0; i < g.nevents; i++) {
        const ev_row *r = &g.events[i];
        for (size_t j = 0; j < n; j++)
            if (ev[j].ts == r->ts && strcmp(ev[j].kind, r->kind) == 0)
                same += strcmp(ev[j].severity, r->severity) == 0 &&
                        strcmp(ev[j].message, r->message) == 0 &&
                        r->has_data == (ev[j].data != NULL) &&
                        (!r->has_data || strcmp(ev[j].data, r->data) == 0);
    }
    CHECK_EQ_INT(same, n);

    store_series_query none = {.id = 987654321, .limit = 10};
    CHECK_EQ_INT(ev_list(&g, &none), STORE_NOT_FOUND);
    none.filter = "alert";
    CHECK_EQ_INT(ev_list(&g, &none), STORE_NOT_FOUND);
    got_reset(&g);
    store_series_query bad = {.id = id, .limit = 0};
    CHECK_EQ_INT(store_events_list(sl, &bad, on_result, &g), -EINVAL);
    run_for(10);
    CHECK_EQ_INT(g.ncalls, 0);
    got_reset(&g);
    got_reset(&c);
}

/* ---- the analysis snapshot ------------------------------------------- */

static void check_obs_order(const got *g) {
    size_t bad = 0;
    for (size_t i = 1; i < g->nobs; i++) {
        int m = strcmp(g->obs[i - 1].metric, g->obs[i].metric);
        bad += m > 0 || (m == 0 && g->obs[i - 1].ts >= g->obs[i].ts);
    }
    CHECK_EQ_INT(bad, 0);
}

static void check_event_order(const got *g) {
    size_t bad = 0;
    for (size_t i = 1; i < g->nevents; i++) {
        const ev_row *a = &g->events[i - 1], *b = &g->events[i];
        bad +=
            a->ts > b->ts || (a->ts == b->ts && strcmp(a->kind, b->kind) >= 0);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_analysis_load(void) {
    enum { DAYS = 40 };
    got g = {0}, c = {0};
    CHECK_EQ_INT(create(&c, 0, "analysed", "v1", "{\"a\":1}"), STORE_OK);
    int64_t id = c.rows[0].id;
    for (int i = 2; i <= 3; i++) {
        store_write w = {.id = id,
                         .type = "analysed",
                         .name = i == 2 ? "v2" : "v3",
                         .attributes = "{}",
                         .author = "rev"};
        CHECK_EQ_INT(put(&g, &w), STORE_OK);
    }
    /* One reading a day for 40 days, two metrics; events daily, two kinds
     * at the same ts on even days. */
    store_observation obs[2 * DAYS];
    store_event ev[2 * DAYS];
    size_t nev = 0;
    for (int d = 0; d < DAYS; d++) {
        obs[2 * d] = (store_observation){"temp", T0 + d * DAY_US, d};
        obs[2 * d + 1] = (store_observation){"hum", T0 + d * DAY_US, -d};
        ev[nev++] = (store_event){T0 + d * DAY_US, "tick", "info", "t", NULL};
        if (d % 2 == 0)
            ev[nev++] =
                (store_event){T0 + d * DAY_US, "Even", "debug", "e", "{}"};
    }
    CHECK_EQ_INT(obs_put(&g, id, obs, 2 * DAYS), STORE_OK);
    CHECK_EQ_INT(ev_put(&g, id, ev, nev), STORE_OK);
    int64_t seq = g.change_seq;
    int64_t newest = T0 + (DAYS - 1) * DAY_US;

    /* Default: the 30 days ending at the newest reading, both ends in. */
    CHECK_EQ_INT(analysis(&g, id, 0, 0), STORE_OK);
    CHECK_EQ_INT(g.newest_ts, newest);
    CHECK_EQ_INT(g.window_to, newest);
    CHECK_EQ_INT(g.window_from, newest - 30 * DAY_US);
    CHECK_EQ_INT(g.nrows, 4);
    CHECK_EQ_INT(g.rows[0].revision, 3);
    CHECK_EQ_STR(g.rows[0].name, "v3");
    CHECK_EQ_INT(g.rows[0].change_seq, seq);
    for (size_t i = 1; i < g.nrows; i++) {
        CHECK_EQ_INT(g.rows[i].revision, (int64_t)i);
        CHECK_EQ_INT(g.rows[i].id, id);
        CHECK_EQ_INT(g.rows[i].created_at, g.rows[0].created_at);
        CHECK_EQ_INT(g.rows[i].change_seq, seq);
    }
    CHECK_EQ_STR(g.rows[1].name, "v1");
    CHECK_EQ_STR(g.rows[1].attributes, "{\"a\":1}");
    CHECK_EQ_STR(g.rows[1].updated_by, "tester");
    CHECK_EQ_STR(g.rows[3].updated_by, "rev");
    CHECK_EQ_INT(g.nobs, 2 * 31);
    CHECK_EQ_INT(g.metric_copies, 2);
    check_obs_order(&g);
    CHECK_EQ_STR(g.obs[0].metric, "hum");
    CHECK_EQ_INT(g.obs[0].ts, newest - 30 * DAY_US);
    CHECK(g.obs[0].value == -9);
    CHECK_EQ_STR(g.obs[61].metric, "temp");
    CHECK_EQ_INT(g.obs[61].ts, newest);
    CHECK(g.obs[61].value == DAYS - 1);
    CHECK_EQ_INT(g.nevents, 31 + 15);
    check_event_order(&g);
    /* Day 9 (odd) has one event, day 10 two: "Even" sorts first. */
    CHECK_EQ_STR(g.events[0].kind, "tick");
    CHECK_EQ_INT(g.events[0].ts, newest - 30 * DAY_US);
    CHECK_EQ_INT(g.events[0].has_data, 0);
    CHECK_EQ_STR(g.events[1].kind, "Even");
    CHECK_EQ_INT(g.events[1].ts, newest - 29 * DAY_US);
    CHECK_EQ_INT(g.events[1].has_data, 1);
    CHECK_EQ_STR(g.events[2].kind, "tick");
    CHECK_EQ_INT(g.events[2].ts, newest - 29 * DAY_US);

    /* Explicit windows: both bounds; only |to| (from = to - 30 days);
     * only |from| (to = the newest reading). */
    CHECK_EQ_INT(analysis(&g, id, T0 + 5 * DAY_US, T0 + 10 * DAY_US), STORE_OK);
    CHECK_EQ_INT(g.window_from, T0 + 5 * DAY_US);
    CHECK_EQ_INT(g.window_to, T0 + 10 * DAY_US);
    CHECK_EQ_INT(g.newest_ts, newest);
    CHECK_EQ_INT(g.nobs, 2 * 6);
    CHECK_EQ_INT(g.nevents, 6 + 3);
    check_obs_order(&g);
    check_event_order(&g);
    CHECK_EQ_INT(g.nrows, 4);
    CHECK_EQ_INT(analysis(&g, id, 0, T0 + 35 * DAY_US), STORE_OK);
    CHECK_EQ_INT(g.window_from, T0 + 5 * DAY_US);
    CHECK_EQ_INT(g.nobs, 2 * 31);
    CHECK_EQ_INT(analysis(&g, id, T0 + 38 * DAY_US, 0), STORE_OK);
    CHECK_EQ_INT(g.window_to, newest);
    CHECK_EQ_INT(g.nobs, 2 * 2);
    /* A window with nothing in it still has the object. */
    CHECK_EQ_INT(analysis(&g, id, T0 - 9 * DAY_US, T0 - 8 * DAY_US), STORE_OK);
    CHECK_EQ_INT(g.nobs, 0);
    CHECK_EQ_INT(g.nevents, 0);
    CHECK_EQ_INT(g.nrows, 4);

    /* No readings: the 30 days ending at the head's updated_at. */
    CHECK_EQ_INT(create(&c, 0, "analysed", "bare", "{}"), STORE_OK);
    CHECK_EQ_INT(analysis(&g, c.rows[0].id, 0, 0), STORE_OK);
    CHECK_EQ_INT(g.newest_ts, 0);
    CHECK_EQ_INT(g.window_to, c.rows[0].updated_at);
    CHECK_EQ_INT(g.window_from, c.rows[0].updated_at - 30 * DAY_US);
    CHECK_EQ_INT(g.nrows, 2);
    CHECK_EQ_INT(g.nobs, 0);

    /* A window that would start before INT64_MIN starts there. */
    CHECK_EQ_INT(create(&c, 0, "analysed", "ancient", "{}"), STORE_OK);
    store_observation low = {"low", INT64_MIN + 5, 1};
    CHECK_EQ_INT(obs_put(&g, c.rows[0].id, &low, 1), STORE_OK);
    CHECK_EQ_INT(analysis(&g, c.rows[0].id, 0, 0), STORE_OK);
    CHECK_EQ_INT(g.window_to, INT64_MIN + 5);
    CHECK_EQ_INT(g.window_from, INT64_MIN);
    CHECK_EQ_INT(g.newest_ts, INT64_MIN + 5);
    CHECK_EQ_INT(g.nobs, 1);

    /* Deleted objects are returned, marked; unknown ones are not. */
    store_write del = {
        .id = id, .author = "d", .deleted = 1, .keep_content = 1};
    CHECK_EQ_INT(put(&c, &del), STORE_OK);
    CHECK_EQ_INT(analysis(&g, id, 0, 0), STORE_OK);
    CHECK_EQ_INT(g.rows[0].deleted, 1);
    CHECK_EQ_INT(g.nrows, 5);
    CHECK_EQ_INT(g.rows[4].deleted, 1);
    CHECK_EQ_INT(g.rows[3].deleted, 0);
    CHECK_EQ_INT(g.nobs, 2 * 31);
    CHECK_EQ_INT(analysis(&g, 987654321, 0, 0), STORE_NOT_FOUND);
    CHECK_EQ_INT(g.nrows, 0);
    got_reset(&g);
    CHECK_EQ_INT(store_analysis_load(sl, id, 0, 0, NULL, NULL), -EINVAL);
    got_reset(&c);
}

static void test_object_version(void) {
    got g = {0}, c = {0};
    CHECK_EQ_INT(create(&c, 0, "versioned", "v", "{}"), STORE_OK);
    int64_t id = c.rows[0].id;
    CHECK_EQ_INT(version(&g, id), STORE_OK);
    CHECK_EQ_INT(g.nrows, 1);
    CHECK_EQ_INT(g.rows[0].id, id);
    CHECK_EQ_INT(g.rows[0].revision, 1);
    CHECK_EQ_INT(g.rows[0].deleted, 0);
    CHECK_EQ_INT(g.rows[0].change_seq, 1);
    CHECK_EQ_STR(g.rows[0].name, "");
    store_observation o = {"m", T0, 1};
    CHECK_EQ_INT(obs_put(&g, id, &o, 1), STORE_OK);
    store_event e = {T0, "k", "info", "m", NULL};
    CHECK_EQ_INT(ev_put(&g, id, &e, 1), STORE_OK);
    CHECK_EQ_INT(version(&g, id), STORE_OK);
    CHECK_EQ_INT(g.rows[0].change_seq, 3);
    CHECK_EQ_INT(g.rows[0].revision, 1);
    store_write w = {.id = id,
                     .type = "versioned",
                     .name = "v2",
                     .attributes = "{}",
                     .author = "a"};
    CHECK_EQ_INT(put(&c, &w), STORE_OK);
    CHECK_EQ_INT(version(&g, id), STORE_OK);
    CHECK_EQ_INT(g.rows[0].change_seq, 4);
    CHECK_EQ_INT(g.rows[0].revision, 2);
    CHECK_EQ_INT(version(&g, 987654321), STORE_NOT_FOUND);
    CHECK_EQ_INT(g.nrows, 0);
    got_reset(&g);
    got_reset(&c);
}

/* ---- revision times ---------------------------------------------------- */

/* store_write.at (objectd seed writes history): the revision's time, never
 * before the previous revision's; 0 is now. */
static void test_revision_times(void) {
    got g = {0};
    int64_t at = T0 - 90 * DAY_US;
    store_write w = {.type = "hist",
                     .name = "h",
                     .attributes = "{}",
                     .author = "seed",
                     .at = at};
    got_reset(&g);
    CHECK_EQ_INT(store_object_create(sl, &w, on_result, &g), 0);
    wait_for(&g);
    CHECK_EQ_INT(g.status, STORE_OK);
    CHECK_EQ_INT(g.rows[0].created_at, at);
    CHECK_EQ_INT(g.rows[0].updated_at, at);
    w.id = g.rows[0].id;
    w.at = at + DAY_US;
    CHECK_EQ_INT(put(&g, &w), STORE_OK);
    CHECK_EQ_INT(g.rows[0].updated_at, at + DAY_US);
    CHECK_EQ_INT(g.rows[0].created_at, at);
    w.at = at; /* earlier than revision 2: clamped to it */
    CHECK_EQ_INT(put(&g, &w), STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 3);
    CHECK_EQ_INT(g.rows[0].updated_at, at + DAY_US);
    w.at = 0;
    int64_t t0 = wall_us();
    CHECK_EQ_INT(put(&g, &w), STORE_OK);
    CHECK(g.rows[0].updated_at > t0 - 5000000 &&
          g.rows[0].updated_at < wall_us() + 5000000);
    CHECK_EQ_INT(get(&g, w.id, 0, at + DAY_US - 1), STORE_OK);
    CHECK_EQ_INT(g.rows[0].revision, 1);

    /* The released signatures (a previous binary during an upgrade) still
     * work, with "now". */
    char q[256];
    snprintf(q, sizeof q,
             "SELECT r_revision FROM objectd_put(%" PRId64
             ", 0, 'hist', 'old', '{}', 'old binary', false, false, false)",
             w.id);
    CHECK_EQ_INT(sql(q), 5);
    CHECK(sql("SELECT r_created_at FROM objectd_create(0, 'hist', 'old', "
              "'{}', 'old binary')") > t0 - 5000000);
    got_reset(&g);
}

/* ---- an idle store ---------------------------------------------------- */

static void on_guard(uv_timer_t *t) {
    *(int *)t->data = 1;
    uv_stop(t->loop);
}

/* uv_run(UV_RUN_DEFAULT) until the loop has nothing left; 0 when it ran
 * dry, 1 when a guard had to stop it after 3 s. */
static int run_dry(void) {
    uv_timer_t guard;
    int stuck = 0;
    uv_timer_init(&loop, &guard);
    guard.data = &stuck;
    uv_timer_start(&guard, on_guard, 3000, 0);
    uv_unref((uv_handle_t *)&guard); /* the guard alone keeps nothing */
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return stuck;
}

/* As with SQLite, a store with nothing in flight does not keep its loop
 * alive (objectd seed runs its loop until it is dry): idle connections stay
 * open but unreferenced. */
static void test_idle_loop(void) {
    got g = {0};
    CHECK_EQ_INT(version(&g, 987654321), STORE_NOT_FOUND);
    CHECK_EQ_INT(run_dry(), 0);
    CHECK_EQ_INT(sql("SELECT count(*) FROM pg_stat_activity "
                     "WHERE application_name = 'objectd'"),
                 MAIN_POOL);
    /* Work in flight keeps it alive until the last callback. */
    got h[3];
    memset(h, 0, sizeof h);
    store_observation o = {"m", T0, 1};
    got_reset(&h[0]);
    got_reset(&h[1]);
    got_reset(&h[2]);
    CHECK_EQ_INT(store_object_version(sl, 1, on_result, &h[0]), 0);
    CHECK_EQ_INT(store_observations_put(sl, 987654321, &o, 1, on_result, &h[1]),
                 0);
    store_series_query q = {.id = 987654321, .limit = 10};
    CHECK_EQ_INT(store_events_list(sl, &q, on_result, &h[2]), 0);
    CHECK_EQ_INT(run_dry(), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(h[i].ncalls, 1);
    CHECK_EQ_INT(h[1].status, STORE_NOT_FOUND);
    CHECK_EQ_INT(h[2].status, STORE_NOT_FOUND);
    for (int i = 0; i < 3; i++)
        got_reset(&h[i]);
    got_reset(&g);
}

/* ---- speed ------------------------------------------------------------ */

static const char *const std_metrics[] = {
    "temperature", "humidity", "pressure", "vibration", "power", "throughput"};

/* The standard workload's object (SPEC.md section 4): 20 revisions, 6
 * metrics x 1,440 readings every 30 minutes, 200 events. */
static int64_t standard_object(void) {
    enum { READINGS = 1440, EVENTS = 200, STEP = 30 * MINUTE_US };
    got g = {0}, c = {0};
    CHECK_EQ_INT(create(&c, 0, "standard", "std", "{\"n\":0}"), STORE_OK);
    int64_t id = c.rows[0].id;
    for (int r = 2; r <= 20; r++) {
        char attrs[32];
        snprintf(attrs, sizeof attrs, "{\"n\":%d}", r);
        store_write w = {.id = id,
                         .type = "standard",
                         .name = "std",
                         .attributes = attrs,
                         .author = r % 2 ? "alice" : "bob"};
        CHECK_EQ_INT(put(&g, &w), STORE_OK);
    }
    store_observation *obs = calloc(6 * READINGS, sizeof *obs);
    for (int i = 0; i < READINGS; i++)
        for (int m = 0; m < 6; m++)
            obs[i * 6 + m] = (store_observation){
                std_metrics[m], T0 + (int64_t)i * STEP,
                100 * m + 10 * sin(i * 2 * 3.141592653589793 / 48) +
                    (i % 7) * 0.01};
    CHECK_EQ_INT(obs_put(&g, id, obs, 6 * READINGS), STORE_OK);
    CHECK_EQ_INT(g.inserted, 6 * READINGS);
    store_event ev[EVENTS];
    for (int i = 0; i < EVENTS; i++)
        ev[i] = (store_event){
            T0 + (int64_t)i * 7 * STEP, i % 3 ? "alert" : "deploy",
            i % 5 ? "info" : "error", "something happened to the object",
            i % 2 ? "{\"detail\":\"x\",\"n\":1}" : NULL};
    CHECK_EQ_INT(ev_put(&g, id, ev, EVENTS), STORE_OK);
    CHECK_EQ_INT(g.inserted, EVENTS);
    free(obs);
    got_reset(&g);
    got_reset(&c);
    return id;
}

/* Status and sizes only: what a caller that uses the result in place
 * pays, for throughput. */
static void on_light(const store_result *res, void *arg) {
    got *g = arg;
    g->ncalls++;
    g->at_ns = uv_hrtime();
    g->status = res->status;
    g->nrows = res->nrows;
    g->nobs = res->nobs;
    g->nevents = res->nevents;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_analysis_speed(void) {
    enum { RUNS = 100, PAR = 200 };
    int64_t id = standard_object();
    got g = {0};
    double ms[RUNS];
    for (int i = 0; i < RUNS; i++) {
        uint64_t t0 = uv_hrtime();
        CHECK_EQ_INT(analysis(&g, id, 0, 0), STORE_OK);
        ms[i] = (double)(g.at_ns - t0) / 1e6;
    }
    CHECK_EQ_INT(g.nrows, 21);
    CHECK_EQ_INT(g.nobs, 6 * 1440);
    CHECK_EQ_INT(g.nevents, 200);
    CHECK_EQ_INT(g.metric_copies, 6);
    check_obs_order(&g);
    check_event_order(&g);
    qsort(ms, RUNS, sizeof ms[0], dbl_cmp);
    /* Throughput with the pool busy: PAR loads, MAIN_POOL in flight. */
    got *many = calloc(PAR, sizeof *many);
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < PAR; i++) {
        got_reset(&many[i]);
        CHECK_EQ_INT(store_analysis_load(sl, id, 0, 0, on_light, &many[i]), 0);
    }
    wait_all(many, PAR);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    int ok = 0;
    for (int i = 0; i < PAR; i++) {
        ok += many[i].status == STORE_OK && many[i].nobs == 6 * 1440;
        got_reset(&many[i]);
    }
    free(many);
    CHECK_EQ_INT(ok, PAR);
    printf("  analysis_load, standard object (21 revisions, 8,640 readings, "
           "200 events):\n    one at a time: median %.2f ms, p90 %.2f ms, "
           "min %.2f ms; %d in flight: %.0f loads/s\n",
           ms[RUNS / 2], ms[RUNS * 9 / 10], ms[0], MAIN_POOL, PAR / secs);
    CHECK(ms[RUNS / 2] < 100);
    got_reset(&g);
}

/* 500,000 readings in batches of 10,000 (6 metrics x 1,667 times), one
 * object per batch as the seed does, first one batch at a time, then with
 * the pool busy. */
static void test_ingest_speed(void) {
    enum { BATCH = 10000, BATCHES = 50, STEP = 30 * MINUTE_US };
    store_observation *obs = calloc(BATCH, sizeof *obs);
    got *g = calloc(BATCHES, sizeof *g);
    int64_t ids[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        CHECK_EQ_INT(create(&g[0], 0, "ingest", "i", "{}"), STORE_OK);
        ids[b] = g[0].rows[0].id;
    }
    for (int i = 0; i < BATCH; i++)
        obs[i] = (store_observation){std_metrics[i % 6],
                                     T0 + (int64_t)(i / 6) * STEP,
                                     i * 0.25 + sin(i)};
    for (int phase = 0; phase < 2; phase++) {
        uint64_t t0 = uv_hrtime();
        int64_t inserted = 0;
        int inflight = phase == 0 ? 1 : MAIN_POOL;
        for (int b = 0; b < BATCHES; b += inflight) {
            int k = b + inflight <= BATCHES ? inflight : BATCHES - b;
            for (int j = 0; j < k; j++) {
                got_reset(&g[b + j]);
                CHECK_EQ_INT(store_observations_put(sl, ids[b + j], obs, BATCH,
                                                    on_result, &g[b + j]),
                             0);
            }
            wait_all(&g[b], k);
            for (int j = 0; j < k; j++)
                inserted += g[b + j].inserted;
        }
        double secs = (double)(uv_hrtime() - t0) / 1e9;
        CHECK_EQ_INT(inserted, (int64_t)BATCH * BATCHES);
        printf("  ingest %d x %d readings, %d batch%s in flight: %.2f s, "
               "%.0f rows/s\n",
               BATCHES, BATCH, inflight, inflight > 1 ? "es" : "", secs,
               BATCH * BATCHES / secs);
        CHECK(BATCH * BATCHES / secs > 20000);
        /* The second phase: the same objects, 60 days later, all new. */
        for (int i = 0; i < BATCH; i++)
            obs[i].ts += DAY_US * 60;
    }
    /* Idempotent replay of a whole batch: nothing written. */
    for (int i = 0; i < BATCH; i++)
        obs[i].ts -= DAY_US * 60;
    uint64_t t0 = uv_hrtime();
    got_reset(&g[0]);
    CHECK_EQ_INT(
        store_observations_put(sl, ids[0], obs, BATCH, on_result, &g[0]), 0);
    wait_for(&g[0]);
    CHECK_EQ_INT(g[0].unchanged, BATCH);
    CHECK_EQ_INT(g[0].inserted + g[0].replaced, 0);
    printf("  replaying a batch of %d unchanged readings: %.1f ms\n", BATCH,
           (double)(g[0].at_ns - t0) / 1e6);

    /* The largest batch store.h allows (in a range where the object has
     * no readings yet). */
    enum { MAX = 100000 };
    store_observation *big = calloc(MAX, sizeof *big);
    for (int i = 0; i < MAX; i++)
        big[i] = (store_observation){
            std_metrics[i % 6],
            T0 - 400 * DAY_US + (int64_t)(i / 6) * MINUTE_US, i};
    CHECK_EQ_INT(obs_put(&g[0], ids[1], big, MAX), STORE_OK);
    CHECK_EQ_INT(g[0].inserted, MAX);
    free(big);
    for (int b = 0; b < BATCHES; b++)
        got_reset(&g[b]);
    free(g);
    free(obs);
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
    /* "At once": measured from the end of the submissions, which take
     * a while themselves under a sanitizer on a busy machine. */
    uint64_t t_submitted = uv_hrtime();
    CHECK_EQ_INT(many[QUEUE_MAX].ncalls, 0); /* later, never inside */
    wait_for(&many[QUEUE_MAX]);
    CHECK_EQ_INT(many[QUEUE_MAX].status, STORE_UNAVAILABLE);
    CHECK(strstr(many[QUEUE_MAX].message, "too many") != NULL);
    CHECK((double)(many[QUEUE_MAX].at_ns - t_submitted) / 1e6 < 150);
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

/* objectd's connections to the server after |ms| of running the loop,
 * waiting up to 3 s more (in 100 ms steps) for the pool to be whole again:
 * reconnection backs off, and a busy machine stretches it. */
static long long backends_after(int ms) {
    run_for(ms);
    long long n = 0;
    for (int i = 0; i < 30; i++) {
        n = sql("SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'objectd'");
        if (n == MAIN_POOL)
            break;
        run_for(100);
    }
    return n;
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
    CHECK_EQ_INT(backends_after(300), MAIN_POOL);
    CHECK(sql("SELECT sum(pid) FROM pg_stat_activity "
              "WHERE application_name = 'objectd'") != before);

    /* Killed after sitting idle: noticed, reconnected with backoff. */
    CHECK_EQ_INT(terminate_backends(), MAIN_POOL);
    CHECK_EQ_INT(backends_after(400), MAIN_POOL);
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

/* A database migrated before the day blocks existed gets them from its
 * rows when migration 5 runs: the analysis then returns exactly the rows
 * (compared with the table itself, in SQL), windows cutting days in two
 * included, and ingest keeps them right afterwards. */
static void test_day_blocks_backfill(void) {
    char err[256] = "";
    reset_schema();
    long long bad = sql("CREATE TABLE schema_migrations (version int PRIMARY "
                        "KEY, applied_at bigint NOT NULL DEFAULT 0)");
    for (int i = 0; i < 4; i++) {
        bad |= sql(store_pg_migrations[i].sql);
        char q[96];
        snprintf(q, sizeof q,
                 "INSERT INTO schema_migrations (version) "
                 "VALUES (%d)",
                 store_pg_migrations[i].version);
        bad |= sql(q);
    }
    bad |= sql("SELECT * FROM objectd_create(1, 't', 'n', '{}', 'a')");
    bad |=
        sql("INSERT INTO observations SELECT 1, 'm' || (i % 3),"
            " (i * 7919 % 300)::bigint * 1700000000 + 1000000000000000, i * 0.5"
            " FROM generate_series(0, 299) AS i");
    CHECK_EQ_INT(bad, 0);
    store_config cfg = config(2);
    CHECK_EQ_INT(store_open(&s, &cfg, err, sizeof err), 0);
    if (s == NULL)
        return;
    CHECK_EQ_INT(store_migrate(s, err, sizeof err), store_pg_nmigrations - 4);
    uv_loop_init(&loop);
    sl = store_loop_attach(s, &loop, 0);
    got g = {0};
    const int64_t t0 = 1000000000000000, day = DAY_US;
    const int64_t windows[][2] = {{t0 - day, t0 + 6 * day},
                                  {t0 + day / 3, t0 + 2 * day + 17}};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t w = 0; w < 2; w++) {
            CHECK_EQ_INT(analysis(&g, 1, windows[w][0], windows[w][1]),
                         STORE_OK);
            char q[256];
            snprintf(q, sizeof q,
                     "SELECT count(*) FROM observations WHERE object_id = 1"
                     " AND ts BETWEEN %lld AND %lld",
                     (long long)windows[w][0], (long long)windows[w][1]);
            CHECK_EQ_INT((long long)g.nobs, sql(q));
            check_obs_order(&g);
            /* Every reading returned is the row's value. */
            int same = 1;
            for (size_t i = 0; i < g.nobs; i++) {
                snprintf(q, sizeof q,
                         "SELECT count(*) FROM observations WHERE object_id"
                         " = 1 AND metric = '%s' AND ts = %lld AND value ="
                         " %.17g",
                         g.obs[i].metric, (long long)g.obs[i].ts,
                         g.obs[i].value);
                same &= sql(q) == 1;
            }
            CHECK(same);
        }
        /* Then a late reading and a replacement through ingest. */
        store_observation more[] = {{"m1", t0 + day / 2 + 1, -7.5},
                                    {"m0", t0, 99}};
        CHECK_EQ_INT(obs_put(&g, 1, more, 2), STORE_OK);
    }
    got_reset(&g);
    store_loop_detach(sl);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    store_close(s);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
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
    TEST_RUN(test_observations_put);
    TEST_RUN(test_events_put);
    TEST_RUN(test_observation_lists);
    TEST_RUN(test_event_lists);
    TEST_RUN(test_analysis_load);
    TEST_RUN(test_object_version);
    TEST_RUN(test_idle_loop);
    TEST_RUN(test_revision_times);
    TEST_RUN(test_analysis_speed);
    TEST_RUN(test_ingest_speed);
    TEST_RUN(test_racing_puts);
    TEST_RUN(test_pool);
    TEST_RUN(test_pool_timeout);
    TEST_RUN(test_reconnect);
    TEST_RUN(test_explain);
    TEST_RUN(test_detach);
    TEST_RUN(test_day_blocks_backfill);
    PQfinish(admin);
    return TEST_END();
}
