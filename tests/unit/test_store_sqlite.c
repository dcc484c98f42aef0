/* Unit tests: the SQLite store backend, driven through the asynchronous
 * store.h API on a real libuv loop, on database files in a temporary
 * directory. OBJECTD_TEST_VERBOSE=1 prints the list query plans. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "store.h"
#include "store_backend.h"
#include "store_sqlite.h"
#include "test.h"

static char tmpdir[256];

/* ---- results, copied out of the callback --------------------------- */

typedef struct obj {
    int64_t id, revision, created_at, updated_at, change_seq;
    int deleted;
    char *type, *name, *attributes, *updated_by;
} obj;

typedef struct ob {
    char *metric;
    int64_t ts;
    double value;
} ob;

typedef struct ev {
    int64_t ts;
    char *kind, *severity, *message, *data;
} ev;

typedef struct result {
    int calls; /* how many times the callback ran */
    int status;
    char *message;
    obj *rows;
    size_t nrows;
    int has_more;
    ob *obs;
    size_t nobs;
    ev *events;
    size_t nevents;
    int64_t inserted, replaced, unchanged, change_seq;
    int64_t window_from, window_to, newest_ts;
    size_t metric_copies; /* distinct metric pointers among |obs| */
} result;

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

static void result_clear(result *r) {
    for (size_t i = 0; i < r->nrows; i++) {
        free(r->rows[i].type);
        free(r->rows[i].name);
        free(r->rows[i].attributes);
        free(r->rows[i].updated_by);
    }
    free(r->rows);
    free(r->message);
    for (size_t i = 0; i < r->nobs; i++)
        free(r->obs[i].metric);
    free(r->obs);
    for (size_t i = 0; i < r->nevents; i++) {
        free(r->events[i].kind);
        free(r->events[i].severity);
        free(r->events[i].message);
        free(r->events[i].data);
    }
    free(r->events);
    memset(r, 0, sizeof *r);
}

/* The store_result is only valid during the callback: copy it all. */
static void on_result(const store_result *res, void *arg) {
    result *r = arg;
    result_clear(r);
    r->calls = 1;
    r->status = res->status;
    r->message = dup_or_null(res->message);
    r->has_more = res->has_more;
    r->nrows = res->nrows;
    r->rows = calloc(res->nrows ? res->nrows : 1, sizeof *r->rows);
    for (size_t i = 0; i < res->nrows; i++) {
        const store_object *o = &res->rows[i];
        obj *d = &r->rows[i];
        d->id = o->id;
        d->revision = o->revision;
        d->created_at = o->created_at;
        d->updated_at = o->updated_at;
        d->change_seq = o->change_seq;
        d->deleted = o->deleted;
        d->type = dup_or_null(o->type);
        d->name = dup_or_null(o->name);
        d->attributes = dup_or_null(o->attributes);
        d->updated_by = dup_or_null(o->updated_by);
    }
    r->inserted = res->inserted;
    r->replaced = res->replaced;
    r->unchanged = res->unchanged;
    r->change_seq = res->change_seq;
    r->window_from = res->window_from;
    r->window_to = res->window_to;
    r->newest_ts = res->newest_ts;
    r->nobs = res->nobs;
    r->obs = calloc(res->nobs ? res->nobs : 1, sizeof *r->obs);
    const char *seen[64];
    for (size_t i = 0; i < res->nobs; i++) {
        r->obs[i].metric = dup_or_null(res->obs[i].metric);
        r->obs[i].ts = res->obs[i].ts;
        r->obs[i].value = res->obs[i].value;
        /* The store shares one copy per metric name (intern). */
        size_t k = 0;
        while (k < r->metric_copies && seen[k] != res->obs[i].metric)
            k++;
        if (k == r->metric_copies && k < 64)
            seen[r->metric_copies++] = res->obs[i].metric;
    }
    r->nevents = res->nevents;
    r->events = calloc(res->nevents ? res->nevents : 1, sizeof *r->events);
    for (size_t i = 0; i < res->nevents; i++) {
        const store_event *s = &res->events[i];
        r->events[i].ts = s->ts;
        r->events[i].kind = dup_or_null(s->kind);
        r->events[i].severity = dup_or_null(s->severity);
        r->events[i].message = dup_or_null(s->message);
        r->events[i].data = dup_or_null(s->data);
    }
}

/* ---- a store on a loop --------------------------------------------- */

typedef struct env {
    uv_loop_t loop;
    store *s;
    store_loop *sl;
    char path[512];
} env;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* The statement timeout env_open configures (0: none). */
static int64_t env_timeout_ms;

/* Opens (and migrates when asked) the database |name| in data/ under the
 * temporary directory - data/ does not exist before the first open. */
static int env_open(env *e, const char *name, int sync_full, int migrate) {
    char err[512];
    char uri[600];
    memset(e, 0, sizeof *e);
    snprintf(e->path, sizeof e->path, "%s/data/%s", tmpdir, name);
    snprintf(uri, sizeof uri, "sqlite:%s", e->path);
    store_config cfg = {.uri = uri,
                        .sync_full = sync_full,
                        .nloops = 1,
                        .statement_timeout_ms = env_timeout_ms};
    if (store_open(&e->s, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    if (migrate && store_migrate(e->s, err, sizeof err) < 0) {
        fprintf(stderr, "store_migrate: %s\n", err);
        store_close(e->s);
        return -1;
    }
    uv_loop_init(&e->loop);
    e->sl = store_loop_attach(e->s, &e->loop, 0);
    return e->sl ? 0 : -1;
}

static void env_close(env *e) {
    uv_run(&e->loop, UV_RUN_DEFAULT);
    store_loop_detach(e->sl);
    store_close(e->s);
    CHECK_EQ_INT(uv_loop_close(&e->loop), 0);
}

/* Each helper makes one call, runs the loop until the work is done and
 * checks the callback ran exactly once. */
#define FINISH(e, r, call)                                                     \
    do {                                                                       \
        result_clear(r);                                                       \
        CHECK_EQ_INT((call), 0);                                               \
        uv_run(&(e)->loop, UV_RUN_DEFAULT);                                    \
        CHECK_EQ_INT((r)->calls, 1);                                           \
    } while (0)

static void do_create(env *e, int64_t id, const char *type, const char *name,
                      const char *attributes, const char *author, result *r) {
    store_write w = {.id = id,
                     .type = type,
                     .name = name,
                     .attributes = attributes,
                     .author = author};
    FINISH(e, r, store_object_create(e->sl, &w, on_result, r));
}

static void do_put(env *e, const store_write *w, result *r) {
    FINISH(e, r, store_object_put(e->sl, w, on_result, r));
}

static void do_get(env *e, int64_t id, int64_t revision, int64_t as_of,
                   result *r) {
    FINISH(e, r, store_object_get(e->sl, id, revision, as_of, on_result, r));
}

static void do_list(env *e, const store_list_query *q, result *r) {
    FINISH(e, r, store_object_list(e->sl, q, on_result, r));
}

static void do_revisions(env *e, int64_t id, int64_t before, int limit,
                         result *r) {
    FINISH(e, r, store_revisions_list(e->sl, id, before, limit, on_result, r));
}

static int list_has(const result *r, int64_t id) {
    for (size_t i = 0; i < r->nrows; i++)
        if (r->rows[i].id == id)
            return 1;
    return 0;
}

/* ---- open, migrate, pragmas ---------------------------------------- */

/* The embedded migrations are copies of the .sql files: same bytes. */
static void test_migration_files(void) {
    const char *suffix = "tests/unit/test_store_sqlite.c";
    const char *here = __FILE__;
    size_t hl = strlen(here), sl = strlen(suffix);
    CHECK(hl >= sl && strcmp(here + hl - sl, suffix) == 0);
    if (hl < sl)
        return;
    for (int i = 0; i < store_sqlite_nmigrations; i++) {
        const store_sqlite_migration *m = &store_sqlite_migrations[i];
        char path[1024];
        snprintf(path, sizeof path, "%.*ssrc/store/migrations/sqlite/%s",
                 (int)(hl - sl), here, m->file);
        CHECK_EQ_INT(m->version, i + 1);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (f == NULL) {
            fprintf(stderr, "cannot open %s\n", path);
            continue;
        }
        static char text[1 << 20];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        CHECK_EQ_STR(m->sql, text);
    }
}

static void test_open_migrate(void) {
    char err[512];
    store *s;
    char uri[600];
    snprintf(uri, sizeof uri, "sqlite:%s/data/migrate.db", tmpdir);
    store_config cfg = {.uri = uri, .sync_full = 1};

    CHECK_EQ_INT(store_open(&s, &cfg, err, sizeof err), 0);
    CHECK_EQ_STR(store_kind(s), "sqlite");
    CHECK_EQ_INT(store_ready(s), 0); /* open does not migrate */
    CHECK_EQ_INT(store_migrate(s, err, sizeof err), store_sqlite_nmigrations);
    CHECK_EQ_INT(store_ready(s), 1);
    CHECK_EQ_INT(store_migrate(s, err, sizeof err), 0);
    CHECK_EQ_INT(store_ready(s), 1);
    store_close(s);

    /* Reopened: ready at once, nothing left to apply. */
    CHECK_EQ_INT(store_open(&s, &cfg, err, sizeof err), 0);
    CHECK_EQ_INT(store_ready(s), 1);
    CHECK_EQ_INT(store_migrate(s, err, sizeof err), 0);
    store_close(s);

    /* Bad places: no path, in-memory, a parent two levels missing, and
     * a file that is not a database. */
    store_config bad = {.uri = "sqlite:"};
    err[0] = '\0';
    CHECK_EQ_INT(store_open(&s, &bad, err, sizeof err), -1);
    CHECK(err[0] != '\0');
    bad.uri = "sqlite::memory:";
    CHECK_EQ_INT(store_open(&s, &bad, err, sizeof err), -1);
    snprintf(uri, sizeof uri, "sqlite:%s/no/such/x.db", tmpdir);
    bad.uri = uri;
    err[0] = '\0';
    CHECK_EQ_INT(store_open(&s, &bad, err, sizeof err), -1);
    CHECK(strstr(err, "cannot create directory") != NULL);
    char junk[512];
    snprintf(junk, sizeof junk, "%s/data/junk.db", tmpdir);
    FILE *f = fopen(junk, "wb");
    CHECK(f != NULL);
    if (f != NULL) {
        for (int i = 0; i < 1000; i++)
            fputs("not a database ", f);
        fclose(f);
    }
    snprintf(uri, sizeof uri, "sqlite:%s", junk);
    err[0] = '\0';
    CHECK_EQ_INT(store_open(&s, &bad, err, sizeof err), -1);
    CHECK(strstr(err, "not a database") != NULL);
}

/* The settings durability rests on, read back from the writer connection
 * (per connection, so only the backend itself can say). */
static void test_pragmas(void) {
    char err[512];
    char uri[600];
    char out[64];
    void *impl;
    snprintf(uri, sizeof uri, "sqlite:%s/data/pragmas.db", tmpdir);
    store_config cfg = {.uri = uri, .sync_full = 1};

    CHECK_EQ_INT(store_sqlite_backend.open(&impl, &cfg, err, sizeof err), 0);
    CHECK_EQ_INT(store_sqlite_pragma(impl, "synchronous", out, sizeof out), 0);
    CHECK_EQ_STR(out, "2"); /* FULL */
    CHECK_EQ_INT(store_sqlite_pragma(impl, "journal_mode", out, sizeof out), 0);
    CHECK_EQ_STR(out, "wal");
    store_sqlite_pragma(impl, "foreign_keys", out, sizeof out);
    CHECK_EQ_STR(out, "1");
    store_sqlite_pragma(impl, "busy_timeout", out, sizeof out);
    CHECK_EQ_STR(out, "5000");
    store_sqlite_pragma(impl, "journal_size_limit", out, sizeof out);
    CHECK_EQ_STR(out, "67108864");
    store_sqlite_pragma(impl, "cache_size", out, sizeof out);
    CHECK_EQ_STR(out, "-16384");
    store_sqlite_pragma(impl, "page_size", out, sizeof out);
    CHECK_EQ_STR(out, "16384");
    /* Only a pragma name is accepted. */
    CHECK_EQ_INT(store_sqlite_pragma(impl, "synchronous=0", out, sizeof out),
                 -1);
    store_sqlite_backend.close(impl);

    cfg.sync_full = 0;
    CHECK_EQ_INT(store_sqlite_backend.open(&impl, &cfg, err, sizeof err), 0);
    store_sqlite_pragma(impl, "synchronous", out, sizeof out);
    CHECK_EQ_STR(out, "1"); /* NORMAL */
    store_sqlite_pragma(impl, "journal_mode", out, sizeof out);
    CHECK_EQ_STR(out, "wal");
    store_sqlite_backend.close(impl);
}

/* ---- create, get, put, delete -------------------------------------- */

static void test_crud(void) {
    env e;
    result r = {0}, h = {0};
    if (env_open(&e, "crud.db", 1, 1) != 0) {
        CHECK(0);
        return;
    }

    int64_t t0 = now_us();
    do_create(&e, 0, "sensor", "a", "{\"x\":1}", "alice", &r);
    int64_t t1 = now_us();
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.nrows, 1);
    if (r.nrows != 1) {
        env_close(&e);
        result_clear(&r);
        return;
    }
    obj rev1 = r.rows[0];
    CHECK_EQ_INT(rev1.id, 1);
    CHECK_EQ_INT(rev1.revision, 1);
    CHECK_EQ_INT(rev1.change_seq, 1);
    CHECK_EQ_INT(rev1.deleted, 0);
    CHECK_EQ_INT(rev1.created_at, rev1.updated_at);
    CHECK(rev1.created_at >= t0 && rev1.created_at <= t1);
    CHECK_EQ_STR(rev1.type, "sensor");
    CHECK_EQ_STR(rev1.name, "a");
    CHECK_EQ_STR(rev1.attributes, "{\"x\":1}");
    CHECK_EQ_STR(rev1.updated_by, "alice");
    int64_t created_at = rev1.created_at, rev1_at = rev1.updated_at;

    do_create(&e, 0, "sensor", "b", "{}", "alice", &r);
    CHECK_EQ_INT(r.rows[0].id, 2);
    do_create(&e, 100, "pump", "c", "{}", "alice", &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.rows[0].id, 100);
    do_create(&e, 100, "pump", "dup", "{}", "alice", &r);
    CHECK_EQ_INT(r.status, STORE_EXISTS);
    CHECK_EQ_INT(r.nrows, 0);
    do_create(&e, 0, "pump", "d", "{}", "alice", &r);
    CHECK_EQ_INT(r.rows[0].id, 101); /* after the highest id */

    do_get(&e, 1, 0, 0, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.nrows, 1);
    CHECK_EQ_INT(r.rows[0].revision, 1);
    CHECK_EQ_STR(r.rows[0].name, "a");
    CHECK_EQ_INT(r.rows[0].created_at, created_at);
    do_get(&e, 999, 0, 0, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    CHECK_EQ_INT(r.nrows, 0);

    /* put without, then with, expected_revision; a stale one conflicts. */
    sleep_ms(2);
    store_write w = {.id = 1,
                     .type = "sensor",
                     .name = "a2",
                     .attributes = "{\"x\":2}",
                     .author = "bob"};
    do_put(&e, &w, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.rows[0].revision, 2);
    CHECK_EQ_INT(r.rows[0].change_seq, 2);
    CHECK_EQ_INT(r.rows[0].created_at, created_at);
    CHECK(r.rows[0].updated_at > rev1_at);
    CHECK_EQ_STR(r.rows[0].updated_by, "bob");
    CHECK_EQ_STR(r.rows[0].name, "a2");
    int64_t rev2_at = r.rows[0].updated_at;
    sleep_ms(2);
    w.expected_revision = 2;
    w.name = "a3";
    do_put(&e, &w, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.rows[0].revision, 3);
    int64_t rev3_at = r.rows[0].updated_at;
    w.name = "stale";
    do_put(&e, &w, &r);
    CHECK_EQ_INT(r.status, STORE_CONFLICT);
    CHECK_EQ_INT(r.nrows, 0);
    do_get(&e, 1, 0, 0, &r);
    CHECK_EQ_INT(r.rows[0].revision, 3);
    CHECK_EQ_STR(r.rows[0].name, "a3");
    CHECK_EQ_INT(r.rows[0].change_seq, 3);

    /* A revision carries its own content, the head's created_at and
     * change_seq. */
    do_get(&e, 1, 1, 0, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.rows[0].revision, 1);
    CHECK_EQ_STR(r.rows[0].name, "a");
    CHECK_EQ_STR(r.rows[0].attributes, "{\"x\":1}");
    CHECK_EQ_STR(r.rows[0].updated_by, "alice");
    CHECK_EQ_INT(r.rows[0].updated_at, rev1_at);
    CHECK_EQ_INT(r.rows[0].created_at, created_at);
    CHECK_EQ_INT(r.rows[0].change_seq, 3);
    do_get(&e, 1, 4, 0, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    do_get(&e, 999, 1, 0, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);

    /* as_of: the newest revision written at or before the time. */
    do_get(&e, 1, 0, rev2_at, &r);
    CHECK_EQ_INT(r.rows[0].revision, 2);
    do_get(&e, 1, 0, rev2_at - 1, &r);
    CHECK_EQ_INT(r.rows[0].revision, 1);
    do_get(&e, 1, 0, rev3_at + 1000000, &r);
    CHECK_EQ_INT(r.rows[0].revision, 3);
    CHECK_EQ_INT(r.rows[0].change_seq, 3);
    do_get(&e, 1, 0, created_at - 1, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    do_get(&e, 999, 0, rev3_at, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);

    /* DELETE: a tombstone that keeps the content. */
    store_write del = {.id = 1,
                       .author = "carol",
                       .deleted = 1,
                       .keep_content = 1,
                       .expected_revision = 3};
    do_put(&e, &del, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.rows[0].revision, 4);
    CHECK_EQ_INT(r.rows[0].deleted, 1);
    CHECK_EQ_STR(r.rows[0].name, "a3");
    CHECK_EQ_STR(r.rows[0].type, "sensor");
    CHECK_EQ_STR(r.rows[0].updated_by, "carol");
    CHECK_EQ_INT(r.rows[0].change_seq, 4);
    do_get(&e, 1, 0, 0, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.rows[0].deleted, 1);
    CHECK_EQ_INT(r.rows[0].revision, 4);
    do_get(&e, 1, 4, 0, &r);
    CHECK_EQ_INT(r.rows[0].deleted, 1);
    do_get(&e, 1, 3, 0, &r);
    CHECK_EQ_INT(r.rows[0].deleted, 0);

    store_list_query q = {.order = STORE_ORDER_ID, .limit = 1000};
    do_list(&e, &q, &h);
    CHECK_EQ_INT(h.status, STORE_OK);
    CHECK_EQ_INT(h.nrows, 3);
    CHECK(!list_has(&h, 1) && list_has(&h, 2) && list_has(&h, 100) &&
          list_has(&h, 101));

    /* Writes on a tombstone: NOT_FOUND, unless the revision is stale
     * (the compare-and-set comes first) or allow_deleted revives. */
    w.expected_revision = 0;
    w.name = "ghost";
    do_put(&e, &w, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    w.expected_revision = 4;
    do_put(&e, &w, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    w.expected_revision = 3;
    do_put(&e, &w, &r);
    CHECK_EQ_INT(r.status, STORE_CONFLICT);
    do_put(&e, &del, &r); /* deleting again: stale and deleted */
    CHECK_EQ_INT(r.status, STORE_CONFLICT);
    w.expected_revision = 4;
    w.allow_deleted = 1;
    w.name = "revived";
    do_put(&e, &w, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.rows[0].revision, 5);
    CHECK_EQ_INT(r.rows[0].deleted, 0);
    CHECK_EQ_STR(r.rows[0].name, "revived");
    do_list(&e, &q, &h);
    CHECK_EQ_INT(h.nrows, 4);
    CHECK(list_has(&h, 1));

    /* Taken ids stay taken, deleted or not. */
    do_create(&e, 1, "x", "x", "{}", "alice", &r);
    CHECK_EQ_INT(r.status, STORE_EXISTS);
    del.id = 2;
    del.expected_revision = 0;
    do_put(&e, &del, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    do_create(&e, 2, "x", "x", "{}", "alice", &r);
    CHECK_EQ_INT(r.status, STORE_EXISTS);
    w.id = 999;
    do_put(&e, &w, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);

    /* A large value round trip (its own arena chunk). */
    size_t big_len = 300000;
    char *big = malloc(big_len + 1);
    memset(big, 'v', big_len);
    memcpy(big, "{\"v\":\"", 6);
    memcpy(big + big_len - 2, "\"}", 2);
    big[big_len] = '\0';
    do_create(&e, 0, "blob", "big", big, "alice", &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    int64_t big_id = r.nrows ? r.rows[0].id : 0;
    do_get(&e, big_id, 0, 0, &r);
    CHECK(r.nrows == 1 && strcmp(r.rows[0].attributes, big) == 0);
    free(big);

    /* Calls that fail at once never call back. */
    result never = {0};
    store_list_query bad = {.limit = 0};
    CHECK_EQ_INT(store_object_list(e.sl, &bad, on_result, &never), -EINVAL);
    bad.limit = 1001;
    CHECK_EQ_INT(store_object_list(e.sl, &bad, on_result, &never), -EINVAL);
    bad.limit = 10;
    bad.order = 7;
    CHECK_EQ_INT(store_object_list(e.sl, &bad, on_result, &never), -EINVAL);
    store_write nw = {.name = "n", .attributes = "{}", .author = "a"};
    CHECK_EQ_INT(store_object_create(e.sl, &nw, on_result, &never), -EINVAL);
    nw.type = "t";
    nw.id = -5;
    CHECK_EQ_INT(store_object_create(e.sl, &nw, on_result, &never), -EINVAL);
    nw.id = 1;
    nw.author = NULL;
    CHECK_EQ_INT(store_object_put(e.sl, &nw, on_result, &never), -EINVAL);
    CHECK_EQ_INT(store_revisions_list(e.sl, 1, 0, 0, on_result, &never),
                 -EINVAL);
    CHECK_EQ_INT(store_object_get(e.sl, 1, -1, 0, on_result, &never), -EINVAL);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(never.calls, 0);

    /* Everything survives a close and reopen. */
    env_close(&e);
    if (env_open(&e, "crud.db", 1, 0) == 0) {
        CHECK_EQ_INT(store_ready(e.s), 1);
        do_get(&e, 1, 0, 0, &r);
        CHECK_EQ_INT(r.rows[0].revision, 5);
        CHECK_EQ_STR(r.rows[0].name, "revived");
        do_get(&e, 1, 2, 0, &r);
        CHECK_EQ_STR(r.rows[0].name, "a2");
        env_close(&e);
    } else {
        CHECK(0);
    }
    result_clear(&r);
    result_clear(&h);
}

/* ---- history ------------------------------------------------------- */

static void test_revisions(void) {
    env e;
    result r = {0};
    if (env_open(&e, "revisions.db", 0, 1) != 0) {
        CHECK(0);
        return;
    }
    do_create(&e, 0, "t", "r1", "{}", "a", &r);
    int64_t id = r.rows[0].id, created_at = r.rows[0].created_at;
    int64_t prev_at = r.rows[0].updated_at;
    for (int i = 2; i <= 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        store_write w = {.id = id,
                         .type = "t",
                         .name = name,
                         .attributes = "{}",
                         .author = "a"};
        do_put(&e, &w, &r);
        CHECK_EQ_INT(r.rows[0].revision, i);
        CHECK(r.rows[0].updated_at >= prev_at); /* monotone per object */
        prev_at = r.rows[0].updated_at;
    }

    do_revisions(&e, id, 0, 3, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.nrows, 3);
    CHECK_EQ_INT(r.has_more, 1);
    for (size_t i = 0; i < r.nrows; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", 7 - (int)i);
        CHECK_EQ_INT(r.rows[i].revision, 7 - (int64_t)i);
        CHECK_EQ_STR(r.rows[i].name, name);
        CHECK_EQ_INT(r.rows[i].created_at, created_at);
        CHECK_EQ_INT(r.rows[i].change_seq, 7);
        CHECK_EQ_INT(r.rows[i].id, id);
    }
    do_revisions(&e, id, 5, 3, &r);
    CHECK_EQ_INT(r.nrows, 3);
    CHECK_EQ_INT(r.has_more, 1);
    CHECK(r.nrows == 3 && r.rows[0].revision == 4 && r.rows[2].revision == 2);
    do_revisions(&e, id, 2, 3, &r);
    CHECK_EQ_INT(r.nrows, 1);
    CHECK_EQ_INT(r.has_more, 0);
    CHECK(r.nrows == 1 && r.rows[0].revision == 1);
    do_revisions(&e, id, 0, 7, &r); /* an exact fit has no more */
    CHECK_EQ_INT(r.nrows, 7);
    CHECK_EQ_INT(r.has_more, 0);
    do_revisions(&e, id, 1, 10, &r); /* the object, an empty page */
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.nrows, 0);
    do_revisions(&e, 999, 0, 10, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    env_close(&e);
    result_clear(&r);
}

/* ---- many writes at once ------------------------------------------- */

static void test_concurrent_puts(void) {
    enum { N = 50 };
    env e;
    result r = {0};
    static result rs[N];
    if (env_open(&e, "concurrent.db", 1, 1) != 0) {
        CHECK(0);
        return;
    }
    do_create(&e, 0, "t", "n", "{}", "a", &r);
    int64_t id = r.rows[0].id;

    /* 50 compare-and-sets against revision 1, all in flight together:
     * exactly one wins. */
    store_write w = {.id = id,
                     .expected_revision = 1,
                     .type = "t",
                     .name = "n2",
                     .attributes = "{}",
                     .author = "a"};
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(store_object_put(e.sl, &w, on_result, &rs[i]), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    int ok = 0, conflict = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(rs[i].calls, 1);
        if (rs[i].status == STORE_OK && rs[i].rows[0].revision == 2)
            ok++;
        else if (rs[i].status == STORE_CONFLICT && rs[i].nrows == 0)
            conflict++;
    }
    CHECK_EQ_INT(ok, 1);
    CHECK_EQ_INT(conflict, N - 1);

    /* 50 unconditional writes with reads among them: all succeed, each
     * gets its own revision, reads see whole revisions. */
    static result gets[N];
    w.expected_revision = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(store_object_put(e.sl, &w, on_result, &rs[i]), 0);
        CHECK_EQ_INT(store_object_get(e.sl, id, 0, 0, on_result, &gets[i]), 0);
    }
    uv_run(&e.loop, UV_RUN_DEFAULT);
    int seen[N + 3] = {0};
    int distinct = 0, reads_ok = 0;
    for (int i = 0; i < N; i++) {
        if (rs[i].status == STORE_OK && rs[i].rows[0].revision >= 3 &&
            rs[i].rows[0].revision < N + 3 && !seen[rs[i].rows[0].revision]++)
            distinct++;
        if (gets[i].status == STORE_OK && gets[i].nrows == 1 &&
            gets[i].rows[0].revision >= 2 &&
            gets[i].rows[0].change_seq == gets[i].rows[0].revision)
            reads_ok++;
        result_clear(&gets[i]);
        result_clear(&rs[i]);
    }
    CHECK_EQ_INT(distinct, N);
    CHECK_EQ_INT(reads_ok, N);
    do_get(&e, id, 0, 0, &r);
    CHECK_EQ_INT(r.rows[0].revision, N + 2);
    CHECK_EQ_INT(r.rows[0].change_seq, N + 2);
    env_close(&e);
    result_clear(&r);
}

/* ---- lists: every page of every query against brute force ----------- */

enum { NOBJ = 20000, BASE_US = 1000000000 };

typedef struct row {
    int64_t id, updated_at;
    const char *type;
    int deleted;
} row;

static row rows[NOBJ + 1];
static int list_order;

static const char *type_of(int i) {
    static const char *const types[] = {"t0", "t1", "t2", "t3", "t4"};
    return i % 1000 == 7 ? "rare" : types[(i * 31) % 5];
}

static int cmp_rows(const void *pa, const void *pb) {
    const row *a = pa, *b = pb;
    int c;
    if (list_order == STORE_ORDER_ID)
        return (a->id > b->id) - (a->id < b->id);
    c = (a->updated_at > b->updated_at) - (a->updated_at < b->updated_at);
    if (c == 0)
        c = (a->id > b->id) - (a->id < b->id);
    return list_order == STORE_ORDER_UPDATED_DESC ? -c : c;
}

/* The ids |q| must yield, in order (ignoring the cursor and limit). */
static size_t expected_ids(const store_list_query *q, int64_t *out) {
    static row sel[NOBJ + 1];
    size_t n = 0;
    for (int i = 1; i <= NOBJ; i++) {
        const row *o = &rows[i];
        if (o->deleted || (q->type && strcmp(o->type, q->type) != 0) ||
            (q->updated_after && o->updated_at <= q->updated_after) ||
            (q->updated_before && o->updated_at >= q->updated_before))
            continue;
        sel[n++] = *o;
    }
    list_order = q->order;
    qsort(sel, n, sizeof *sel, cmp_rows);
    for (size_t i = 0; i < n; i++)
        out[i] = sel[i].id;
    return n;
}

/* Fills the database behind the store's back, in one transaction: ties
 * in updated_at (about five objects per value), five common types and a
 * rare one, one object in eleven deleted. */
static int load_objects(const char *path) {
    sqlite3 *db;
    sqlite3_stmt *obj_st = NULL, *rev_st = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            db,
            "INSERT INTO objects VALUES (?1, 1, ?2, 'n', '{}', ?3, ?3, 'load',"
            " ?4, 1)",
            -1, &obj_st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            db,
            "INSERT INTO revisions VALUES (?1, 1, ?2, 'n', '{}', ?3, 'load',"
            " ?4)",
            -1, &rev_st, NULL);
    for (int i = 1; i <= NOBJ && rc == SQLITE_OK; i++) {
        row *o = &rows[i];
        o->id = i;
        o->updated_at = BASE_US + (int64_t)((i * 7919) % 4000) * 10;
        o->type = type_of(i);
        o->deleted = i % 11 == 0;
        sqlite3_stmt *sts[2] = {obj_st, rev_st};
        for (int k = 0; k < 2 && rc == SQLITE_OK; k++) {
            sqlite3_bind_int64(sts[k], 1, o->id);
            sqlite3_bind_text(sts[k], 2, o->type, -1, SQLITE_STATIC);
            sqlite3_bind_int64(sts[k], 3, o->updated_at);
            sqlite3_bind_int(sts[k], 4, o->deleted);
            rc = sqlite3_step(sts[k]) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
            sqlite3_reset(sts[k]);
        }
    }
    sqlite3_finalize(obj_st);
    sqlite3_finalize(rev_st);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT; ANALYZE;", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fprintf(stderr, "load: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Pages through |q| with its limit, following cursors, and checks the
 * concatenation is exactly the brute-force answer. */
static void check_paging(env *e, store_list_query q) {
    static int64_t want[NOBJ + 1], got[NOBJ + 1];
    size_t nwant = expected_ids(&q, want), ngot = 0;
    result r = {0};
    int pages_ok = 1;
    q.has_cursor = 0;
    for (size_t page = 0; page <= NOBJ + 1; page++) {
        do_list(e, &q, &r);
        if (r.status != STORE_OK) {
            pages_ok = 0;
            break;
        }
        for (size_t i = 0; i < r.nrows && ngot <= NOBJ; i++)
            got[ngot++] = r.rows[i].id;
        /* Every full page but the last says there is more. */
        if (r.has_more != (ngot < nwant) ||
            (r.has_more && r.nrows != (size_t)q.limit))
            pages_ok = 0;
        if (!r.has_more || r.nrows == 0)
            break;
        q.has_cursor = 1;
        q.cursor_updated_at = r.rows[r.nrows - 1].updated_at;
        q.cursor_id = r.rows[r.nrows - 1].id;
    }
    CHECK(pages_ok);
    CHECK_EQ_INT(ngot, nwant);
    int same = ngot == nwant && memcmp(got, want, ngot * sizeof *got) == 0;
    CHECK(same);
    if (!same || !pages_ok)
        fprintf(stderr,
                "  query: order %d type %s after %" PRId64 " before %" PRId64
                " limit %d\n",
                q.order, q.type ? q.type : "-", q.updated_after,
                q.updated_before, q.limit);
    result_clear(&r);
}

static void check_plan(const char *path, const store_list_query *q) {
    char plan[2048];
    CHECK_EQ_INT(store_sqlite_explain_list(path, q, plan, sizeof plan), 0);
    const char *want = q->order == STORE_ORDER_ID
                           ? "SEARCH objects USING INTEGER PRIMARY KEY"
                       : q->type ? "SEARCH objects USING INDEX "
                                   "objects_live_type_updated ("
                                 : "SEARCH objects USING INDEX "
                                   "objects_live_updated (";
    CHECK(strstr(plan, want) != NULL);
    CHECK(strstr(plan, "TEMP B-TREE") == NULL);
    CHECK(strstr(plan, "SCAN") == NULL);
    if (getenv("OBJECTD_TEST_VERBOSE") || strstr(plan, want) == NULL ||
        strstr(plan, "TEMP B-TREE") != NULL)
        printf("order %d, type %s:\n  %s\n", q->order,
               q->type ? q->type : "(any)", plan);
}

static void test_list(void) {
    env e;
    result r = {0};
    if (env_open(&e, "list.db", 0, 1) != 0 || load_objects(e.path) != 0) {
        CHECK(0);
        return;
    }

    /* A few writes through the store on top: deletes drop out of the
     * lists, updates move to the end of the updated_at order. */
    const int64_t touched[] = {5, 6, 7, 8, 1007};
    for (size_t i = 0; i < sizeof touched / sizeof touched[0]; i++) {
        int64_t id = touched[i];
        store_write w = {.id = id, .author = "t"};
        if (i < 2) {
            w.deleted = 1;
            w.keep_content = 1;
        } else {
            w.type = rows[id].type;
            w.name = "moved";
            w.attributes = "{}";
        }
        do_put(&e, &w, &r);
        CHECK_EQ_INT(r.status, STORE_OK);
        if (r.nrows == 1) {
            rows[id].updated_at = r.rows[0].updated_at;
            rows[id].deleted = r.rows[0].deleted;
        }
    }

    /* Bounds on updated_at values that exist, so exclusivity shows. */
    const int64_t after = BASE_US + 1000 * 10, before = BASE_US + 3000 * 10;
    const char *types[] = {NULL, "t2", "rare", "none"};
    const int limits[] = {1000, 97};
    int configs = 0;
    for (int order = 0; order <= STORE_ORDER_ID; order++)
        for (int t = 0; t < 4; t++)
            for (int b = 0; b < 4; b++)
                for (int l = 0; l < 2; l++) {
                    store_list_query q = {
                        .type = types[t],
                        .order = order,
                        .updated_after = b & 1 ? after : 0,
                        .updated_before = b & 2 ? before : 0,
                        .limit = limits[l],
                    };
                    check_paging(&e, q);
                    configs++;
                }
    /* One row a page over a narrow window, ties included. */
    for (int order = 0; order <= STORE_ORDER_ID; order++) {
        store_list_query q = {.order = order,
                              .updated_after = after,
                              .updated_before = after + 50,
                              .limit = 1};
        check_paging(&e, q);
        configs++;
    }
    CHECK_EQ_INT(configs, 99);

    /* A cursor in the middle of a run of equal updated_at values. */
    store_list_query q = {.order = STORE_ORDER_UPDATED_ASC, .limit = 3};
    q.updated_after = after - 1;
    do_list(&e, &q, &r);
    CHECK_EQ_INT(r.nrows, 3);
    if (r.nrows == 3) {
        CHECK_EQ_INT(r.rows[0].updated_at, after);
        CHECK_EQ_INT(r.rows[1].updated_at, after);
        q.has_cursor = 1;
        q.cursor_updated_at = r.rows[0].updated_at;
        q.cursor_id = r.rows[0].id;
        int64_t second = r.rows[1].id;
        do_list(&e, &q, &r);
        CHECK(r.nrows >= 1 && r.rows[0].id == second);
    }

    /* The plans: index walks, no sort. One statement per order and type
     * filter; bounds and cursor are parameters, and the index is fixed in
     * the SQL, so their values cannot change the plan. */
    for (int order = 0; order <= STORE_ORDER_ID; order++)
        for (int t = 0; t < 2; t++) {
            store_list_query pq = {
                .type = t ? "t2" : NULL,
                .order = order,
                .has_cursor = 1,
                .updated_after = after,
                .limit = 100,
            };
            check_plan(e.path, &pq);
        }
    env_close(&e);
    result_clear(&r);
}

/* ---- observations and events ---------------------------------------- */

static void do_obs_put(env *e, int64_t id, const store_observation *o, size_t n,
                       result *r) {
    FINISH(e, r, store_observations_put(e->sl, id, o, n, on_result, r));
}

static void do_ev_put(env *e, int64_t id, const store_event *v, size_t n,
                      result *r) {
    FINISH(e, r, store_events_put(e->sl, id, v, n, on_result, r));
}

static void do_obs_list(env *e, const store_series_query *q, result *r) {
    FINISH(e, r, store_observations_list(e->sl, q, on_result, r));
}

static void do_ev_list(env *e, const store_series_query *q, result *r) {
    FINISH(e, r, store_events_list(e->sl, q, on_result, r));
}

static void do_analysis(env *e, int64_t id, int64_t from, int64_t to,
                        result *r) {
    FINISH(e, r, store_analysis_load(e->sl, id, from, to, on_result, r));
}

static void do_version(env *e, int64_t id, result *r) {
    FINISH(e, r, store_object_version(e->sl, id, on_result, r));
}

static int64_t version_of(env *e, int64_t id) {
    result r = {0};
    do_version(e, id, &r);
    int64_t seq =
        r.status == STORE_OK && r.nrows == 1 ? r.rows[0].change_seq : -1;
    result_clear(&r);
    return seq;
}

/* The value stored for (metric, ts), or NAN when there is none. */
static double obs_value(env *e, int64_t id, const char *metric, int64_t ts) {
    result r = {0};
    store_series_query q = {
        .id = id, .filter = metric, .from = ts, .to = ts, .limit = 10};
    do_obs_list(e, &q, &r);
    double v = r.status == STORE_OK && r.nobs == 1 ? r.obs[0].value : NAN;
    result_clear(&r);
    return v;
}

static const int64_t T0 = 1700000000000000; /* 2023-11-14, in us */
static const int64_t MINUTE = 60000000;
static const int64_t DAY = 86400000000;

static void test_observations_put(void) {
    env e;
    result r = {0};
    if (env_open(&e, "obs.db", 1, 1) != 0) {
        CHECK(0);
        return;
    }
    do_create(&e, 0, "sensor", "s", "{}", "a", &r);
    int64_t id = r.rows[0].id;

    static const char *const metrics[] = {"cpu", "disk.io", "mem"};
    store_observation b[30];
    for (int i = 0; i < 30; i++)
        b[i] =
            (store_observation){metrics[i % 3], T0 + (i / 3) * MINUTE, i * 1.5};
    do_obs_put(&e, id, b, 30, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.inserted, 30);
    CHECK_EQ_INT(r.replaced, 0);
    CHECK_EQ_INT(r.unchanged, 0);
    CHECK_EQ_INT(r.change_seq, 2);

    /* Idempotent: the same batch again changes nothing, bumps nothing. */
    do_obs_put(&e, id, b, 30, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.inserted, 0);
    CHECK_EQ_INT(r.replaced, 0);
    CHECK_EQ_INT(r.unchanged, 30);
    CHECK_EQ_INT(r.change_seq, 2);
    do_version(&e, id, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.nrows, 1);
    CHECK_EQ_INT(r.rows[0].id, id);
    CHECK_EQ_INT(r.rows[0].revision, 1);
    CHECK_EQ_INT(r.rows[0].deleted, 0);
    CHECK_EQ_INT(r.rows[0].change_seq, 2);

    /* Five values changed, five the same, five new. */
    store_observation m[15];
    for (int i = 0; i < 5; i++) {
        m[i] = b[i];
        m[i].value += 100;
        m[5 + i] = b[10 + i];
        m[10 + i] = (store_observation){"new", T0 + i * MINUTE, -i};
    }
    do_obs_put(&e, id, m, 15, &r);
    CHECK_EQ_INT(r.inserted, 5);
    CHECK_EQ_INT(r.replaced, 5);
    CHECK_EQ_INT(r.unchanged, 5);
    CHECK_EQ_INT(r.change_seq, 3);
    CHECK(obs_value(&e, id, "cpu", T0) == 100.0);
    CHECK(obs_value(&e, id, "disk.io", T0) == 101.5);
    CHECK(obs_value(&e, id, "new", T0 + 4 * MINUTE) == -4.0);

    /* Late data: older than anything stored, it still bumps change_seq
     * and lists first. */
    store_observation late = {"mem", T0 - 10 * MINUTE, 42.0};
    do_obs_put(&e, id, &late, 1, &r);
    CHECK_EQ_INT(r.inserted, 1);
    CHECK_EQ_INT(r.change_seq, 4);
    store_series_query q = {.id = id, .limit = 100};
    do_obs_list(&e, &q, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.nobs, 36);
    CHECK_EQ_INT(r.has_more, 0);
    CHECK(r.nobs > 0 && r.obs[0].ts == late.ts && r.obs[0].value == 42.0);
    int ordered = 1;
    for (size_t i = 1; i < r.nobs; i++)
        if (r.obs[i].ts < r.obs[i - 1].ts ||
            (r.obs[i].ts == r.obs[i - 1].ts &&
             strcmp(r.obs[i].metric, r.obs[i - 1].metric) <= 0))
            ordered = 0;
    CHECK(ordered);

    /* A key repeated in one batch: the last value wins, the repeats count
     * as unchanged, and a batch that ends where the row was changes
     * nothing - whatever values it went through. */
    store_observation d[3] = {{"dup", T0, 1}, {"dup", T0, 2}, {"dup", T0, 3}};
    do_obs_put(&e, id, d, 3, &r);
    CHECK_EQ_INT(r.inserted, 1);
    CHECK_EQ_INT(r.replaced, 0);
    CHECK_EQ_INT(r.unchanged, 2);
    CHECK_EQ_INT(r.change_seq, 5);
    CHECK(obs_value(&e, id, "dup", T0) == 3.0);
    store_observation d2[2] = {{"dup", T0, 7}, {"dup", T0, 3}};
    do_obs_put(&e, id, d2, 2, &r);
    CHECK_EQ_INT(r.inserted + r.replaced, 0);
    CHECK_EQ_INT(r.unchanged, 2);
    CHECK_EQ_INT(r.change_seq, 5);
    store_observation d3[3] = {
        {"dup", T0, 3}, {"cpu", T0, 100}, {"dup", T0, 8}};
    do_obs_put(&e, id, d3, 3, &r);
    CHECK_EQ_INT(r.inserted, 0);
    CHECK_EQ_INT(r.replaced, 1);
    CHECK_EQ_INT(r.unchanged, 2);
    CHECK_EQ_INT(r.change_seq, 6);
    CHECK(obs_value(&e, id, "dup", T0) == 8.0);

    /* A revision moves change_seq on from there. */
    store_write w = {.id = id,
                     .type = "sensor",
                     .name = "s2",
                     .attributes = "{}",
                     .author = "a"};
    do_put(&e, &w, &r);
    CHECK_EQ_INT(r.rows[0].revision, 2);
    CHECK_EQ_INT(r.rows[0].change_seq, 7);
    CHECK_EQ_INT(version_of(&e, id), 7);

    /* No such object: NOT_FOUND, nothing written. */
    do_obs_put(&e, 999, b, 30, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    CHECK_EQ_INT(r.inserted + r.replaced + r.unchanged, 0);
    q.id = 999;
    do_obs_list(&e, &q, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    do_version(&e, 999, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    CHECK_EQ_INT(r.nrows, 0);

    /* A deleted object takes nothing more, but its history still lists. */
    do_create(&e, 0, "sensor", "gone", "{}", "a", &r);
    int64_t gone = r.rows[0].id;
    do_obs_put(&e, gone, b, 3, &r);
    CHECK_EQ_INT(r.inserted, 3);
    store_write del = {
        .id = gone, .author = "a", .deleted = 1, .keep_content = 1};
    do_put(&e, &del, &r);
    int64_t seq = r.rows[0].change_seq;
    do_obs_put(&e, gone, b, 30, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    CHECK_EQ_INT(version_of(&e, gone), seq);
    do_version(&e, gone, &r);
    CHECK_EQ_INT(r.rows[0].deleted, 1);
    q.id = gone;
    do_obs_list(&e, &q, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.nobs, 3);
    /* An object without readings: an empty page, not NOT_FOUND. */
    do_create(&e, 0, "sensor", "empty", "{}", "a", &r);
    q.id = r.rows[0].id;
    do_obs_list(&e, &q, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.nobs, 0);

    /* Calls that fail at once never call back. */
    result never = {0};
    store_observation bad = {"cpu", T0, NAN};
    CHECK_EQ_INT(store_observations_put(e.sl, id, b, 0, on_result, &never),
                 -EINVAL);
    CHECK_EQ_INT(store_observations_put(e.sl, id, &bad, 1, on_result, &never),
                 -EINVAL);
    bad.value = INFINITY;
    CHECK_EQ_INT(store_observations_put(e.sl, id, &bad, 1, on_result, &never),
                 -EINVAL);
    bad = (store_observation){NULL, T0, 1};
    CHECK_EQ_INT(store_observations_put(e.sl, id, &bad, 1, on_result, &never),
                 -EINVAL);
    bad.metric = "";
    CHECK_EQ_INT(store_observations_put(e.sl, id, &bad, 1, on_result, &never),
                 -EINVAL);
    CHECK_EQ_INT(store_observations_put(e.sl, id, b, 100001, on_result, &never),
                 -EINVAL);
    store_series_query bq = {.id = id, .limit = 0};
    CHECK_EQ_INT(store_observations_list(e.sl, &bq, on_result, &never),
                 -EINVAL);
    bq.limit = 10001;
    CHECK_EQ_INT(store_events_list(e.sl, &bq, on_result, &never), -EINVAL);
    bq.limit = 10;
    bq.has_cursor = 1; /* without cursor_key */
    CHECK_EQ_INT(store_observations_list(e.sl, &bq, on_result, &never),
                 -EINVAL);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(never.calls, 0);
    CHECK_EQ_INT(version_of(&e, id), 7);
    env_close(&e);

    /* A batch cut off by the statement timeout writes nothing at all. */
    env_timeout_ms = 1;
    if (env_open(&e, "obs.db", 1, 0) == 0) {
        enum { BIG = 100000 };
        store_observation *big = malloc(BIG * sizeof *big);
        for (int i = 0; i < BIG; i++)
            big[i] = (store_observation){"slow", T0 + i * MINUTE, i};
        do_obs_put(&e, id, big, BIG, &r);
        CHECK_EQ_INT(r.status, STORE_UNAVAILABLE);
        CHECK(r.message && strstr(r.message, "statement timeout") != NULL);
        CHECK_EQ_INT(r.inserted, 0);
        free(big);
        env_close(&e);
    } else {
        CHECK(0);
    }
    env_timeout_ms = 0;
    if (env_open(&e, "obs.db", 1, 0) == 0) {
        CHECK_EQ_INT(version_of(&e, id), 7);
        CHECK(isnan(obs_value(&e, id, "slow", T0)));
        env_close(&e);
    } else {
        CHECK(0);
    }
    result_clear(&r);
}

static void test_events_put(void) {
    env e;
    result r = {0};
    if (env_open(&e, "events.db", 1, 1) != 0) {
        CHECK(0);
        return;
    }
    do_create(&e, 0, "pump", "p", "{}", "a", &r);
    int64_t id = r.rows[0].id;

    /* Two kinds at each time; data on every other event. */
    store_event b[6];
    char msgs[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(msgs[i], sizeof msgs[i], "event %d", i);
        b[i] = (store_event){.ts = T0 + (i / 2) * MINUTE,
                             .kind = i % 2 ? "alarm" : "deploy",
                             .severity = "info",
                             .message = msgs[i],
                             .data = i % 2 ? "{\"i\":1}" : NULL};
    }
    do_ev_put(&e, id, b, 6, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.inserted, 6);
    CHECK_EQ_INT(r.change_seq, 2);
    do_ev_put(&e, id, b, 6, &r);
    CHECK_EQ_INT(r.inserted + r.replaced, 0);
    CHECK_EQ_INT(r.unchanged, 6);
    CHECK_EQ_INT(r.change_seq, 2);

    /* Each field counts, NULL data included; identical stays. */
    store_event m[7];
    memcpy(m, b, sizeof b);
    m[0].severity = "error";  /* deploy, data NULL */
    m[1].message = "changed"; /* alarm */
    m[2].data = "{}";         /* NULL -> {} */
    m[3].data = NULL;         /* {"i":1} -> NULL */
    m[6] = (store_event){
        .ts = T0 - DAY, .kind = "late", .severity = "debug", .message = ""};
    do_ev_put(&e, id, m, 7, &r);
    CHECK_EQ_INT(r.inserted, 1);
    CHECK_EQ_INT(r.replaced, 4);
    CHECK_EQ_INT(r.unchanged, 2);
    CHECK_EQ_INT(r.change_seq, 3);

    store_series_query q = {.id = id, .limit = 100};
    do_ev_list(&e, &q, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.nevents, 7);
    if (r.nevents == 7) {
        /* (ts, kind) order: the late one, then alarm before deploy. */
        CHECK_EQ_STR(r.events[0].kind, "late");
        CHECK_EQ_STR(r.events[0].message, "");
        CHECK(r.events[0].data == NULL);
        CHECK_EQ_STR(r.events[1].kind, "alarm");
        CHECK_EQ_STR(r.events[1].message, "changed");
        CHECK_EQ_STR(r.events[1].data, "{\"i\":1}");
        CHECK_EQ_STR(r.events[2].kind, "deploy");
        CHECK_EQ_STR(r.events[2].severity, "error");
        CHECK(r.events[2].data == NULL);
        CHECK(r.events[3].data == NULL); /* alarm at T0 + 1 min */
        CHECK_EQ_STR(r.events[4].data, "{}");
        CHECK_EQ_INT(r.events[4].ts, T0 + MINUTE);
        CHECK_EQ_STR(r.events[5].data, "{\"i\":1}"); /* untouched */
        CHECK(r.events[6].data == NULL);
    }

    /* Repeats in one batch: the last wins. */
    store_event d[2] = {
        {.ts = T0, .kind = "x", .severity = "info", .message = "1"},
        {.ts = T0, .kind = "x", .severity = "warning", .message = "2"}};
    do_ev_put(&e, id, d, 2, &r);
    CHECK_EQ_INT(r.inserted, 1);
    CHECK_EQ_INT(r.unchanged, 1);
    CHECK_EQ_INT(r.change_seq, 4);
    q.filter = "x";
    do_ev_list(&e, &q, &r);
    CHECK(r.nevents == 1 && strcmp(r.events[0].severity, "warning") == 0 &&
          strcmp(r.events[0].message, "2") == 0);
    CHECK_EQ_INT(version_of(&e, id), 4);

    /* Unknown and deleted objects take nothing. */
    do_ev_put(&e, 999, b, 6, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    q.id = 999;
    do_ev_list(&e, &q, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    store_write del = {
        .id = id, .author = "a", .deleted = 1, .keep_content = 1};
    do_put(&e, &del, &r);
    do_ev_put(&e, id, m, 7, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    CHECK_EQ_INT(version_of(&e, id), 5);
    q.id = id;
    q.filter = NULL;
    do_ev_list(&e, &q, &r);
    CHECK_EQ_INT(r.nevents, 8);

    result never = {0};
    store_event bad = {.ts = T0, .kind = "", .severity = "info", .message = ""};
    CHECK_EQ_INT(store_events_put(e.sl, id, &bad, 1, on_result, &never),
                 -EINVAL);
    bad.kind = "k";
    bad.severity = NULL;
    CHECK_EQ_INT(store_events_put(e.sl, id, &bad, 1, on_result, &never),
                 -EINVAL);
    bad.severity = "info";
    bad.message = NULL;
    CHECK_EQ_INT(store_events_put(e.sl, id, &bad, 1, on_result, &never),
                 -EINVAL);
    CHECK_EQ_INT(store_events_put(e.sl, id, b, 0, on_result, &never), -EINVAL);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(never.calls, 0);
    env_close(&e);
    result_clear(&r);
}

/* ---- series lists: every page against brute force ------------------- */

typedef struct srow {
    int64_t ts;
    const char *key;                       /* metric or kind */
    double value;                          /* observations */
    const char *severity, *message, *data; /* events */
} srow;

enum { MAX_SROWS = 4096 };
static srow s_obs[MAX_SROWS], s_ev[MAX_SROWS];
static size_t s_nobs, s_nev;

static int cmp_srow(const void *pa, const void *pb) {
    const srow *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return strcmp(a->key, b->key);
}

/* Pages through |q| following cursors; checks every row comes exactly
 * once, in order, with its content, and has_more on every page. */
static void check_series_paging(env *e, store_series_query q, int events) {
    static srow want[MAX_SROWS];
    const srow *all = events ? s_ev : s_obs;
    size_t nall = events ? s_nev : s_nobs, nwant = 0, ngot = 0;
    for (size_t i = 0; i < nall; i++)
        if ((q.filter == NULL || strcmp(all[i].key, q.filter) == 0) &&
            (q.from == 0 || all[i].ts >= q.from) &&
            (q.to == 0 || all[i].ts <= q.to))
            want[nwant++] = all[i];
    qsort(want, nwant, sizeof *want, cmp_srow);

    result r = {0};
    char key[80] = "";
    int ok = 1;
    q.has_cursor = 0;
    for (size_t page = 0; page <= MAX_SROWS + 1; page++) {
        if (events)
            do_ev_list(e, &q, &r);
        else
            do_obs_list(e, &q, &r);
        size_t n = events ? r.nevents : r.nobs;
        if (r.status != STORE_OK) {
            ok = 0;
            break;
        }
        for (size_t i = 0; i < n; i++, ngot++) {
            const srow *w = ngot < nwant ? &want[ngot] : NULL;
            if (w == NULL) {
                ok = 0;
                break;
            }
            if (events) {
                const ev *g = &r.events[i];
                if (g->ts != w->ts || strcmp(g->kind, w->key) != 0 ||
                    strcmp(g->severity, w->severity) != 0 ||
                    strcmp(g->message, w->message) != 0 ||
                    (g->data == NULL) != (w->data == NULL) ||
                    (g->data && strcmp(g->data, w->data) != 0))
                    ok = 0;
            } else {
                const ob *g = &r.obs[i];
                if (g->ts != w->ts || strcmp(g->metric, w->key) != 0 ||
                    g->value != w->value)
                    ok = 0;
            }
        }
        if (r.has_more != (ngot < nwant) ||
            (r.has_more && n != (size_t)q.limit))
            ok = 0;
        if (!r.has_more || n == 0 || !ok)
            break;
        q.has_cursor = 1;
        q.cursor_ts = events ? r.events[n - 1].ts : r.obs[n - 1].ts;
        snprintf(key, sizeof key, "%s",
                 events ? r.events[n - 1].kind : r.obs[n - 1].metric);
        q.cursor_key = key;
    }
    CHECK(ok);
    CHECK_EQ_INT(ngot, nwant);
    if (!ok || ngot != nwant)
        fprintf(stderr,
                "  %s: filter %s from %" PRId64 " to %" PRId64 " limit %d\n",
                events ? "events" : "observations", q.filter ? q.filter : "-",
                q.from, q.to, q.limit);
    result_clear(&r);
}

static void check_series_plan(const char *path, const char *name,
                              const char *want) {
    char plan[2048];
    CHECK_EQ_INT(store_sqlite_explain(path, name, plan, sizeof plan), 0);
    int good = strstr(plan, want) != NULL &&
               strstr(plan, "TEMP B-TREE") == NULL &&
               strstr(plan, "SCAN") == NULL;
    CHECK(good);
    if (!good || getenv("OBJECTD_TEST_VERBOSE"))
        printf("%s:\n  %s\n", name, plan);
}

static void test_series_lists(void) {
    env e;
    result r = {0};
    if (env_open(&e, "series.db", 0, 1) != 0) {
        CHECK(0);
        return;
    }
    do_create(&e, 0, "t", "a", "{}", "a", &r);
    int64_t id = r.rows[0].id;
    do_create(&e, 0, "t", "b", "{}", "a", &r);
    int64_t other = r.rows[0].id;

    /* Four metrics with gaps, so that times tie in groups of 1 to 4; the
     * same rows for another object on both sides must never show. */
    static const char *const metrics[] = {"cpu", "disk.io", "mem", "net-rx"};
    static store_observation o[MAX_SROWS];
    size_t n = 0;
    for (int j = 0; j < 300; j++)
        for (int k = 0; k < 4; k++) {
            if ((j + k) % 7 == 0 || (j % 11 == 3 && k != 2))
                continue;
            o[n] = (store_observation){metrics[k], T0 + j * MINUTE,
                                       j * 10.0 + k + 0.25};
            s_obs[n] =
                (srow){.ts = o[n].ts, .key = metrics[k], .value = o[n].value};
            n++;
        }
    s_nobs = n;
    do_obs_put(&e, id, o, n, &r);
    CHECK_EQ_INT(r.inserted, n);
    for (size_t i = 0; i < n; i++)
        o[i].value = -1;
    do_obs_put(&e, other, o, n, &r);
    CHECK_EQ_INT(r.inserted, n);

    static const char *const kinds[] = {"alarm", "deploy", "note"};
    static const char *const sev[] = {"debug", "info", "warning", "error",
                                      "critical"};
    static store_event v[400];
    static char msg[400][24], dat[400][24];
    for (int j = 0; j < 400; j++) {
        snprintf(msg[j], sizeof msg[j], "message %d", j);
        snprintf(dat[j], sizeof dat[j], "{\"j\":%d}", j);
        v[j] = (store_event){.ts = T0 + (j / 2) * MINUTE,
                             .kind = kinds[j % 3],
                             .severity = sev[j % 5],
                             .message = msg[j],
                             .data = j % 4 ? dat[j] : NULL};
        s_ev[j] = (srow){.ts = v[j].ts,
                         .key = v[j].kind,
                         .severity = v[j].severity,
                         .message = v[j].message,
                         .data = v[j].data};
    }
    s_nev = 400;
    do_ev_put(&e, id, v, 400, &r);
    CHECK_EQ_INT(r.inserted, 400);
    do_ev_put(&e, other, v, 200, &r);
    CHECK_EQ_INT(r.inserted, 200);

    /* Bounds on times that exist, so inclusivity shows. */
    const int64_t from = T0 + 50 * MINUTE, to = T0 + 180 * MINUTE;
    const char *mfilters[] = {NULL, "mem", "net-rx", "none"};
    const char *kfilters[] = {NULL, "deploy", "note", "none"};
    const int limits[] = {10000, 97, 3};
    int configs = 0;
    for (int f = 0; f < 4; f++)
        for (int b = 0; b < 4; b++)
            for (int l = 0; l < 3; l++)
                for (int events = 0; events < 2; events++) {
                    store_series_query q = {
                        .id = id,
                        .filter = events ? kfilters[f] : mfilters[f],
                        .from = b & 1 ? from : 0,
                        .to = b & 2 ? to : 0,
                        .limit = limits[l],
                    };
                    check_series_paging(&e, q, events);
                    configs++;
                }
    /* One row a page through a window with ties. */
    for (int events = 0; events < 2; events++) {
        store_series_query q = {
            .id = id, .from = from, .to = from + 20 * MINUTE, .limit = 1};
        check_series_paging(&e, q, events);
        configs++;
    }
    CHECK_EQ_INT(configs, 98);

    /* A cursor before |from| does not widen the window; one inside a tie
     * group resumes at the next key of the group. */
    store_series_query q = {.id = id,
                            .from = from,
                            .has_cursor = 1,
                            .cursor_ts = T0,
                            .cursor_key = "zzz",
                            .limit = 1};
    do_obs_list(&e, &q, &r);
    CHECK(r.nobs == 1 && r.obs[0].ts == from);
    q.from = 0;
    q.cursor_ts = T0 + 2 * MINUTE; /* j = 2: all four metrics */
    q.cursor_key = "disk.io";
    do_obs_list(&e, &q, &r);
    CHECK(r.nobs == 1 && r.obs[0].ts == T0 + 2 * MINUTE &&
          strcmp(r.obs[0].metric, "mem") == 0);

    /* The plans: index walks in the order asked, no sort, no scan. */
    sqlite3 *db;
    if (sqlite3_open(e.path, &db) == SQLITE_OK) {
        CHECK_EQ_INT(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }
    check_series_plan(e.path, "observations_list",
                      "SEARCH observations USING INDEX observations_by_time "
                      "(object_id=? AND (ts,metric)>(?,?) AND ts<?)");
    check_series_plan(e.path, "observations_list_metric",
                      "SEARCH observations USING PRIMARY KEY (object_id=? "
                      "AND metric=? AND ts>? AND ts<?)");
    check_series_plan(e.path, "events_list",
                      "SEARCH events USING PRIMARY KEY (object_id=? AND "
                      "(ts,kind)>(?,?) AND ts<?)");
    check_series_plan(e.path, "events_list_kind",
                      "SEARCH events USING PRIMARY KEY (object_id=? AND "
                      "(ts,kind)>(?,?) AND ts<?)");
    check_series_plan(e.path, "observations_update",
                      "SEARCH observations USING PRIMARY KEY (object_id=? "
                      "AND metric=? AND ts=?)");
    check_series_plan(e.path, "events_update",
                      "SEARCH events USING PRIMARY KEY (object_id=? AND ts=? "
                      "AND kind=?)");
    check_series_plan(e.path, "newest_ts",
                      "SEARCH observations USING COVERING INDEX "
                      "observations_by_time (object_id=?)");
    check_series_plan(e.path, "next_metric",
                      "SEARCH observation_days USING PRIMARY KEY (object_id=? "
                      "AND metric>?)");
    check_series_plan(e.path, "days_window",
                      "SEARCH observation_days USING PRIMARY KEY (object_id=? "
                      "AND metric=? AND day>? AND day<?)");
    check_series_plan(e.path, "day_rebuild",
                      "SEARCH observations USING PRIMARY KEY (object_id=? "
                      "AND metric=? AND ts>? AND ts<?)");
    check_series_plan(e.path, "events_window",
                      "SEARCH events USING PRIMARY KEY (object_id=? AND ts>? "
                      "AND ts<?)");
    check_series_plan(e.path, "revisions_all",
                      "SEARCH revisions USING PRIMARY KEY (object_id=?)");
    check_series_plan(e.path, "version",
                      "SEARCH objects USING INTEGER PRIMARY KEY (rowid=?)");
    char plan[256];
    CHECK_EQ_INT(store_sqlite_explain(e.path, "nope", plan, sizeof plan), -1);
    env_close(&e);
    result_clear(&r);
}

/* ---- the analysis snapshot ------------------------------------------ */

static void test_analysis_load(void) {
    env e;
    result r = {0};
    if (env_open(&e, "analysis.db", 0, 1) != 0) {
        CHECK(0);
        return;
    }
    /* 20 revisions, written at given times (as objectd seed does); a
     * time before the previous revision's is moved up to it. */
    const int64_t start = T0 - 60 * DAY;
    store_write w = {.type = "sensor",
                     .name = "rev 1",
                     .attributes = "{}",
                     .author = "seed",
                     .at = start};
    FINISH(&e, &r, store_object_create(e.sl, &w, on_result, &r));
    CHECK_EQ_INT(r.rows[0].created_at, start);
    int64_t id = r.rows[0].id;
    char name[32];
    for (int i = 2; i <= 20; i++) {
        snprintf(name, sizeof name, "rev %d", i);
        w.id = id;
        w.name = name;
        w.at = i == 7 ? start : start + i * DAY;
        do_put(&e, &w, &r);
        CHECK_EQ_INT(r.rows[0].updated_at,
                     i == 7 ? start + 6 * DAY : start + i * DAY);
    }
    int64_t head_at = start + 20 * DAY;

    /* Metrics a and b hourly over 40 days; c only the first 5 days. */
    static store_observation o[3000];
    size_t n = 0;
    for (int h = 0; h <= 40 * 24; h++) {
        int64_t ts = T0 + h * 60 * MINUTE;
        o[n++] = (store_observation){"b", ts, h + 0.5};
        o[n++] = (store_observation){"a", ts, -h};
        if (h < 5 * 24)
            o[n++] = (store_observation){"c", ts, 2 * h};
    }
    do_obs_put(&e, id, o, n, &r);
    CHECK_EQ_INT(r.inserted, n);
    static store_event v[200];
    for (int i = 0; i < 161; i++)
        v[i] = (store_event){.ts = T0 + i * 6 * 60 * MINUTE,
                             .kind = i % 2 ? "alarm" : "note",
                             .severity = "info",
                             .message = "m"};
    v[161] = (store_event){.ts = T0 + 30 * DAY,
                           .kind = "aaa",
                           .severity = "error",
                           .message = "tie"};
    do_ev_put(&e, id, v, 162, &r);
    CHECK_EQ_INT(r.inserted, 162);
    int64_t newest = T0 + 40 * DAY;

    /* The default window: the 30 days ending at the newest reading. */
    do_analysis(&e, id, 0, 0, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.newest_ts, newest);
    CHECK_EQ_INT(r.window_to, newest);
    CHECK_EQ_INT(r.window_from, newest - 30 * DAY);
    CHECK_EQ_INT(r.nrows, 21);
    if (r.nrows == 21) {
        const obj *hd = &r.rows[0];
        CHECK_EQ_INT(hd->revision, 20);
        CHECK_EQ_INT(hd->updated_at, head_at);
        CHECK_EQ_STR(hd->name, "rev 20");
        CHECK_EQ_INT(hd->change_seq, 22);
        int revs_ok = 1;
        for (int i = 1; i <= 20; i++) {
            snprintf(name, sizeof name, "rev %d", i);
            const obj *rv = &r.rows[i];
            if (rv->revision != i || strcmp(rv->name, name) != 0 ||
                rv->created_at != start || rv->change_seq != 22 ||
                strcmp(rv->updated_by, "seed") != 0)
                revs_ok = 0;
        }
        CHECK(revs_ok);
    }
    /* 721 hourly readings each of a and b in the 30 days, ends included;
     * c has none there. Ordered by (metric, ts), one copy per name. */
    CHECK_EQ_INT(r.nobs, 2 * 721);
    CHECK_EQ_INT(r.metric_copies, 2);
    int obs_ok = r.nobs == 2 * 721;
    for (size_t i = 0; obs_ok && i < r.nobs; i++) {
        const ob *x = &r.obs[i];
        int h = (int)((x->ts - T0) / (60 * MINUTE));
        const char *want = i < 721 ? "a" : "b";
        if (strcmp(x->metric, want) != 0 ||
            x->ts != newest - 30 * DAY + (int64_t)(i % 721) * 60 * MINUTE ||
            x->value != (i < 721 ? -h : h + 0.5))
            obs_ok = 0;
    }
    CHECK(obs_ok);
    /* Events every 6 hours: 121 in the window, and the tie at T0 + 30
     * days ordered by kind. */
    CHECK_EQ_INT(r.nevents, 122);
    int ev_ok = r.nevents == 122;
    for (size_t i = 1; ev_ok && i < r.nevents; i++)
        if (r.events[i].ts < r.events[i - 1].ts ||
            (r.events[i].ts == r.events[i - 1].ts &&
             strcmp(r.events[i].kind, r.events[i - 1].kind) <= 0))
            ev_ok = 0;
    CHECK(ev_ok);
    CHECK(r.nevents > 0 && r.events[0].ts == newest - 30 * DAY);
    for (size_t i = 0; i < r.nevents; i++)
        if (r.events[i].ts == T0 + 30 * DAY) {
            CHECK_EQ_STR(r.events[i].kind, "aaa");
            break;
        }

    /* An explicit window, both ends included: c shows. */
    int64_t from = T0 + DAY, to = T0 + 2 * DAY;
    do_analysis(&e, id, from, to, &r);
    CHECK_EQ_INT(r.window_from, from);
    CHECK_EQ_INT(r.window_to, to);
    CHECK_EQ_INT(r.newest_ts, newest);
    CHECK_EQ_INT(r.nobs, 3 * 25);
    CHECK_EQ_INT(r.metric_copies, 3);
    CHECK(r.nobs == 75 && strcmp(r.obs[0].metric, "a") == 0 &&
          r.obs[0].ts == from && strcmp(r.obs[74].metric, "c") == 0 &&
          r.obs[74].ts == to && r.obs[50].ts == from);
    CHECK_EQ_INT(r.nevents, 5);
    /* Only |to|: 30 days before it. Only |from|: up to the newest. */
    do_analysis(&e, id, 0, to, &r);
    CHECK_EQ_INT(r.window_from, to - 30 * DAY);
    CHECK_EQ_INT(r.nobs, 3 * (2 * 24 + 1) - 0);
    do_analysis(&e, id, T0 + 39 * DAY, 0, &r);
    CHECK_EQ_INT(r.window_to, newest);
    CHECK_EQ_INT(r.nobs, 2 * 25);

    /* No readings: the 30 days ending at the head's updated_at. */
    do_create(&e, 0, "sensor", "bare", "{}", "a", &r);
    int64_t bare = r.rows[0].id, bare_at = r.rows[0].updated_at;
    do_analysis(&e, bare, 0, 0, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK_EQ_INT(r.newest_ts, 0);
    CHECK_EQ_INT(r.window_to, bare_at);
    CHECK_EQ_INT(r.window_from, bare_at - 30 * DAY);
    CHECK_EQ_INT(r.nrows, 2);
    CHECK_EQ_INT(r.nobs + r.nevents, 0);

    /* Deleted objects are returned, flagged; unknown ones are not. */
    store_write del = {
        .id = id, .author = "a", .deleted = 1, .keep_content = 1};
    do_put(&e, &del, &r);
    do_analysis(&e, id, 0, 0, &r);
    CHECK_EQ_INT(r.status, STORE_OK);
    CHECK(r.nrows == 22 && r.rows[0].deleted && r.rows[21].deleted);
    CHECK_EQ_INT(r.nobs, 2 * 721);
    do_analysis(&e, 999, 0, 0, &r);
    CHECK_EQ_INT(r.status, STORE_NOT_FOUND);
    CHECK_EQ_INT(r.nrows + r.nobs + r.nevents, 0);
    env_close(&e);
    result_clear(&r);
}

/* ---- day blocks ------------------------------------------------------ */

/* The analysis reads day blocks, ingest maintains them: whatever order,
 * lateness, repetition and replacement the batches bring, the readings
 * store_analysis_load returns must be exactly the rows the raw list
 * returns. Checked against the list (the observations table itself),
 * over days on both sides of the epoch and a window cutting days in
 * two. */
static int cmp_ob(const void *pa, const void *pb) {
    const ob *a = pa, *b = pb;
    int c = strcmp(a->metric, b->metric);
    if (c != 0)
        return c;
    return (a->ts > b->ts) - (a->ts < b->ts);
}

/* Every reading of |id| with from <= ts <= to through the raw list,
 * sorted by (metric, ts) as the analysis orders them. */
static void raw_window(env *e, int64_t id, int64_t from, int64_t to,
                       result *out) {
    store_series_query q = {.id = id, .from = from, .to = to, .limit = 1000};
    result page = {0};
    char key[80];
    result_clear(out);
    out->obs = calloc(4096, sizeof *out->obs);
    for (;;) {
        FINISH(e, &page, store_observations_list(e->sl, &q, on_result, &page));
        for (size_t i = 0; i < page.nobs && out->nobs < 4096; i++) {
            out->obs[out->nobs] = page.obs[i];
            out->obs[out->nobs++].metric = strdup(page.obs[i].metric);
        }
        if (!page.has_more || page.nobs == 0)
            break;
        const ob *last = &page.obs[page.nobs - 1];
        q.has_cursor = 1;
        q.cursor_ts = last->ts;
        snprintf(key, sizeof key, "%s", last->metric);
        q.cursor_key = key;
    }
    result_clear(&page);
    qsort(out->obs, out->nobs, sizeof *out->obs, cmp_ob);
}

static int same_readings(const result *a, const result *b) {
    if (a->nobs != b->nobs) {
        fprintf(stderr, "readings: %zu != %zu\n", a->nobs, b->nobs);
        return 0;
    }
    for (size_t i = 0; i < a->nobs; i++)
        if (strcmp(a->obs[i].metric, b->obs[i].metric) != 0 ||
            a->obs[i].ts != b->obs[i].ts ||
            memcmp(&a->obs[i].value, &b->obs[i].value, sizeof(double)) != 0) {
            fprintf(stderr,
                    "reading %zu: %s %" PRId64 " %.17g != %s %" PRId64
                    " %.17g\n",
                    i, a->obs[i].metric, a->obs[i].ts, a->obs[i].value,
                    b->obs[i].metric, b->obs[i].ts, b->obs[i].value);
            return 0;
        }
    return 1;
}

static void check_windows(env *e, int64_t id, const int64_t (*w)[2],
                          size_t nw) {
    result got = {0}, want = {0};
    for (size_t i = 0; i < nw; i++) {
        do_analysis(e, id, w[i][0], w[i][1], &got);
        CHECK_EQ_INT(got.status, STORE_OK);
        raw_window(e, id, w[i][0], w[i][1], &want);
        CHECK(same_readings(&got, &want));
    }
    result_clear(&got);
    result_clear(&want);
}

static void test_day_blocks(void) {
    env e;
    result r = {0};
    if (env_open(&e, "days.db", 0, 1) != 0) {
        CHECK(0);
        return;
    }
    do_create(&e, 0, "sensor", "days", "{}", "t", &r);
    int64_t id = r.rows[0].id;
    /* Four days around the epoch, every 90 minutes, two metrics, written
     * newest day first, in batches that end mid-day. */
    static store_observation o[256];
    size_t n = 0;
    for (int d = 1; d >= -2; d--)
        for (int k = 0; k < 16; k++) {
            int64_t ts = d * DAY + k * 90 * MINUTE;
            o[n++] = (store_observation){"x", ts, d * 100.0 + k};
            o[n++] = (store_observation){"w", ts, -(d * 100.0 + k) / 3};
        }
    for (size_t i = 0; i < n; i += 40)
        do_obs_put(&e, id, o + i, n - i < 40 ? n - i : 40, &r);
    const int64_t windows[][2] = {
        {-2 * DAY, 2 * DAY - 1},                /* everything */
        {-DAY + 5 * 90 * MINUTE, DAY / 2},      /* cuts two days */
        {-1, 1},                                /* around the epoch */
        {-2 * DAY + 1, -2 * DAY + 90 * MINUTE}, /* inside one day */
    };
    size_t nw = sizeof windows / sizeof windows[0];
    check_windows(&e, id, windows, nw);

    /* Late readings (between existing ones, and a new first one of a
     * day), replacements, repeats within a batch, and unchanged rows. */
    store_observation late[] = {
        {"x", -DAY + 45 * MINUTE, 7.25},
        {"x", -2 * DAY - 1, 1e300},   /* the last microsecond of day -3 */
        {"w", 3 * 90 * MINUTE, 0.5},  /* replaces */
        {"w", 3 * 90 * MINUTE, -0.0}, /* ... and again: the last wins */
        {"x", DAY, 100.0},            /* unchanged */
        {"y", 12 * 90 * MINUTE, 3.0}, /* a new metric */
    };
    do_obs_put(&e, id, late, sizeof late / sizeof late[0], &r);
    CHECK_EQ_INT(r.inserted, 3);
    CHECK_EQ_INT(r.replaced, 1);
    CHECK_EQ_INT(r.unchanged, 2);
    const int64_t more[][2] = {{-3 * DAY, 2 * DAY}, {-2 * DAY - 1, -2 * DAY}};
    check_windows(&e, id, windows, nw);
    check_windows(&e, id, more, 2);
    result got = {0};
    do_analysis(&e, id, -3 * DAY, 2 * DAY, &got);
    CHECK_EQ_INT(got.nobs, n + 3);
    result_clear(&got);
    env_close(&e);
    result_clear(&r);
}

/* A database written before the day blocks existed gets them from its
 * rows when migration 3 runs. */
static void test_day_blocks_migration(void) {
    char path[512], err[512], uri[600];
    snprintf(path, sizeof path, "%s/data/old.db", tmpdir);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    int ok = 1;
    for (int i = 0; i < 2; i++)
        ok &= sqlite3_exec(db, store_sqlite_migrations[i].sql, NULL, NULL,
                           NULL) == SQLITE_OK;
    ok &= sqlite3_exec(
              db,
              "INSERT INTO schema_migrations VALUES (1, 0), (2, 0);"
              "INSERT INTO objects VALUES (1, 1, 't', 'n', '{}', 0, 0, 'a',"
              " 0, 1);"
              "INSERT INTO revisions VALUES (1, 1, 't', 'n', '{}', 0, 'a', 0);"
              "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k"
              " WHERE i < 299)"
              " INSERT INTO observations SELECT 1, 'm' || (i % 3),"
              " (i * 7919 % 300) * 1700000000 - 100000000000, i * 0.5"
              " FROM k;",
              NULL, NULL, NULL) == SQLITE_OK;
    CHECK(ok);
    sqlite3_close(db);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    store_config cfg = {.uri = uri};
    store *s;
    CHECK_EQ_INT(store_open(&s, &cfg, err, sizeof err), 0);
    CHECK_EQ_INT(store_migrate(s, err, sizeof err),
                 store_sqlite_nmigrations - 2);
    store_close(s);
    env e;
    if (env_open(&e, "old.db", 0, 0) != 0) {
        CHECK(0);
        return;
    }
    const int64_t windows[][2] = {{-DAY, 6 * DAY}, {1, 2 * DAY + 17}};
    check_windows(&e, 1, windows, 2);
    result got = {0};
    do_analysis(&e, 1, -2 * DAY, 6 * DAY, &got);
    CHECK_EQ_INT(got.nobs, 300);
    result_clear(&got);
    env_close(&e);
}

/* Analyses racing ingest: each one reads one snapshot, so its row count
 * always matches its change_seq (every batch adds K rows and bumps the
 * sequence by one), never a batch half seen or a stale sequence. */
typedef struct snap {
    int calls, status;
    int64_t seq;
    size_t nobs;
} snap;

static void on_snap(const store_result *res, void *arg) {
    snap *s = arg;
    s->calls++;
    s->status = res->status;
    s->seq = res->nrows ? res->rows[0].change_seq : -1;
    s->nobs = res->nobs;
}

static void test_analysis_snapshot(void) {
    env e;
    result r = {0};
    enum { BATCHES = 40, K = 500 };
    if (env_open(&e, "snapshot.db", 0, 1) != 0) {
        CHECK(0);
        return;
    }
    do_create(&e, 0, "t", "s", "{}", "a", &r);
    int64_t id = r.rows[0].id, seq0 = r.rows[0].change_seq;
    static store_observation o[BATCHES][K];
    static result puts[BATCHES];
    static snap snaps[BATCHES * 2];
    for (int b = 0; b < BATCHES; b++)
        for (int i = 0; i < K; i++)
            o[b][i] = (store_observation){i % 2 ? "x" : "y",
                                          T0 + (b * K + i) * MINUTE, i};
    for (int b = 0; b < BATCHES; b++) {
        CHECK_EQ_INT(
            store_observations_put(e.sl, id, o[b], K, on_result, &puts[b]), 0);
        for (int k = 0; k < 2; k++)
            CHECK_EQ_INT(store_analysis_load(e.sl, id, 1, INT64_MAX, on_snap,
                                             &snaps[2 * b + k]),
                         0);
    }
    uv_run(&e.loop, UV_RUN_DEFAULT);
    int consistent = 0, puts_ok = 0;
    for (int b = 0; b < BATCHES; b++) {
        if (puts[b].calls == 1 && puts[b].status == STORE_OK &&
            puts[b].inserted == K)
            puts_ok++;
        result_clear(&puts[b]);
    }
    for (int i = 0; i < BATCHES * 2; i++)
        if (snaps[i].calls == 1 && snaps[i].status == STORE_OK &&
            snaps[i].nobs == (size_t)(snaps[i].seq - seq0) * K)
            consistent++;
    CHECK_EQ_INT(puts_ok, BATCHES);
    CHECK_EQ_INT(consistent, BATCHES * 2);
    CHECK_EQ_INT(version_of(&e, id), seq0 + BATCHES);
    env_close(&e);
    result_clear(&r);
}

/* ---- speed ------------------------------------------------------------ */

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static const char *const std_metrics[] = {
    "temperature", "pressure", "humidity", "vibration", "power", "flow_rate"};

/* One object of the standard workload (SPEC section 4) at object |id|:
 * 6 metrics x |readings| every 30 minutes, in batches of |batch| rows
 * in (ts, metric) order. Returns the rows written, or -1. */
static long ingest_standard(env *e, int64_t id, int readings, size_t batch,
                            store_observation *buf) {
    result r = {0};
    long written = 0;
    size_t n = 0;
    for (int j = 0; j < readings; j++)
        for (int m = 0; m < 6; m++) {
            buf[n++] = (store_observation){
                std_metrics[m], T0 + j * 30 * MINUTE,
                20.0 + m + (double)((j * 7919 + m * 104729) % 1000) / 100};
            if (n == batch || (j == readings - 1 && m == 5)) {
                do_obs_put(e, id, buf, n, &r);
                if (r.status != STORE_OK)
                    written = -1;
                else if (written >= 0)
                    written += (long)r.inserted;
                n = 0;
            }
        }
    result_clear(&r);
    return written;
}

static void test_series_speed(void) {
    env e;
    result r = {0};
    if (env_open(&e, "speed.db", 1, 1) != 0) {
        CHECK(0);
        return;
    }
    /* 500,000 readings in 50 batches of 10,000: 10 objects of 50,000
     * (6 metrics x 8,334 half-hours), with synchronous=FULL. */
    enum { OBJS = 10, PER_OBJ = 8334, BATCH = 10000 };
    store_observation *buf = malloc(BATCH * sizeof *buf);
    int64_t ids[OBJS];
    for (int i = 0; i < OBJS; i++) {
        do_create(&e, 0, "t", "speed", "{}", "a", &r);
        ids[i] = r.rows[0].id;
    }
    double t = mono_s();
    long written = 0;
    for (int i = 0; i < OBJS; i++)
        written += ingest_standard(&e, ids[i], PER_OBJ, BATCH, buf);
    double dt = mono_s() - t;
    CHECK_EQ_INT(written, (long)OBJS * PER_OBJ * 6);
    printf("ingest: %ld new readings in batches of %d: %.2f s, %.0f rows/s\n",
           written, BATCH, dt, (double)written / dt);
    /* The seed's 4.32 million readings in under a minute even on a busy
     * machine (typically 200,000-380,000 rows/s here): a floor that
     * catches a lost index or a per-row commit, not noise. */
    if (!SANITIZED)
        CHECK((double)written / dt > 100000);
    t = mono_s();
    for (int i = 0; i < OBJS; i++)
        ingest_standard(&e, ids[i], PER_OBJ, BATCH, buf);
    dt = mono_s() - t;
    printf("ingest: the same readings again (unchanged): %.0f rows/s\n",
           (double)written / dt);
    /* Every batch bumped change_seq once; the unchanged ones did not. */
    CHECK_EQ_INT(version_of(&e, ids[0]), 1 + (PER_OBJ * 6 + BATCH - 1) / BATCH);

    /* The analysis snapshot of one standard object: 20 revisions, 6 x
     * 1,440 readings, 200 events. */
    do_create(&e, 0, "t", "standard", "{}", "a", &r);
    int64_t id = r.rows[0].id;
    for (int i = 2; i <= 20; i++) {
        store_write w = {.id = id,
                         .type = "t",
                         .name = "standard",
                         .attributes = "{\"k\":1}",
                         .author = "a"};
        do_put(&e, &w, &r);
    }
    CHECK_EQ_INT(ingest_standard(&e, id, 1440, BATCH, buf), 8640);
    static store_event v[200];
    static const char *const kinds[] = {"alarm", "maintenance", "deploy",
                                        "note"};
    static const char *const sev[] = {"info", "warning", "error"};
    for (int i = 0; i < 200; i++)
        v[i] = (store_event){.ts = T0 + i * 216 * MINUTE,
                             .kind = kinds[i % 4],
                             .severity = sev[i % 3],
                             .message = "pump pressure above threshold",
                             .data = i % 2 ? "{\"threshold\":4.5}" : NULL};
    do_ev_put(&e, id, v, 200, &r);
    CHECK_EQ_INT(r.inserted, 200);

    enum { LOADS = 200 };
    snap s = {0};
    double best = 1e9;
    t = mono_s();
    for (int i = 0; i < LOADS; i++) {
        double t1 = mono_s();
        s.calls = 0;
        CHECK_EQ_INT(store_analysis_load(e.sl, id, 0, 0, on_snap, &s), 0);
        uv_run(&e.loop, UV_RUN_DEFAULT);
        double d = mono_s() - t1;
        if (d < best)
            best = d;
    }
    dt = mono_s() - t;
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(s.nobs, 8640);
    do_analysis(&e, id, 0, 0, &r);
    CHECK_EQ_INT(r.nrows, 21);
    CHECK_EQ_INT(r.nevents, 200);
    CHECK_EQ_INT(r.metric_copies, 6);
    printf("analysis_load, standard object (21 rows, 8640 readings, 200 "
           "events): mean %.3f ms, best %.3f ms\n",
           dt / LOADS * 1e3, best * 1e3);

    /* The whole standard workload's readings, when asked for. */
    if (getenv("OBJECTD_TEST_SEED_FULL")) {
        enum { SEED_OBJS = 500 };
        int64_t first = 0;
        for (int i = 0; i < SEED_OBJS; i++) {
            do_create(&e, 0, "t", "seed", "{}", "a", &r);
            if (i == 0)
                first = r.rows[0].id;
        }
        t = mono_s();
        written = 0;
        for (int i = 0; i < SEED_OBJS; i++)
            written += ingest_standard(&e, first + i, 1440, BATCH, buf);
        dt = mono_s() - t;
        CHECK_EQ_INT(written, 4320000);
        printf("seed: %ld readings for %d objects: %.2f s, %.0f rows/s\n",
               written, SEED_OBJS, dt, (double)written / dt);
    }
    free(buf);
    env_close(&e);
    result_clear(&r);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/objectd-sqlite-XXXXXX",
             base && *base ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    TEST_RUN(test_migration_files);
    TEST_RUN(test_open_migrate);
    TEST_RUN(test_pragmas);
    TEST_RUN(test_crud);
    TEST_RUN(test_revisions);
    TEST_RUN(test_concurrent_puts);
    TEST_RUN(test_list);
    TEST_RUN(test_observations_put);
    TEST_RUN(test_events_put);
    TEST_RUN(test_series_lists);
    TEST_RUN(test_analysis_load);
    TEST_RUN(test_day_blocks);
    TEST_RUN(test_day_blocks_migration);
    TEST_RUN(test_analysis_snapshot);
    TEST_RUN(test_series_speed);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return TEST_END();
}
