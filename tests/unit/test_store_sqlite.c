/* Unit tests: the SQLite store backend, driven through the asynchronous
 * store.h API on a real libuv loop, on database files in a temporary
 * directory. OBJECTD_TEST_VERBOSE=1 prints the list query plans. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
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

typedef struct result {
    int calls; /* how many times the callback ran */
    int status;
    char *message;
    obj *rows;
    size_t nrows;
    int has_more;
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

/* Opens (and migrates when asked) the database |name| in data/ under the
 * temporary directory - data/ does not exist before the first open. */
static int env_open(env *e, const char *name, int sync_full, int migrate) {
    char err[512];
    char uri[600];
    memset(e, 0, sizeof *e);
    snprintf(e->path, sizeof e->path, "%s/data/%s", tmpdir, name);
    snprintf(uri, sizeof uri, "sqlite:%s", e->path);
    store_config cfg = {.uri = uri, .sync_full = sync_full, .nloops = 1};
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
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return TEST_END();
}
