/* store_pg: what the PostgreSQL backend exposes beyond store_backend - its
 * migrations, and helpers for tests, docs and benchmarks. Private to
 * src/store and its tests. */
#ifndef OBJECTD_STORE_PG_H
#define OBJECTD_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* One schema migration: applied once, in its own transaction, in version
 * order; recorded in schema_migrations. */
typedef struct store_pg_migration {
    int version;
    const char *name;
    const char *sql; /* one or more statements, no parameters */
} store_pg_migration;

extern const store_pg_migration store_pg_migrations[];
extern const int store_pg_nmigrations;

/* Runs the list query that store_object_list would run for |q| on a fresh
 * connection to |uri| the way the pool runs it (a named prepared statement,
 * executed six times so that the plan cache has made its choice), then
 * EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE of it. Blocking; for tests, docs
 * and benchmarks. Writes the JSON plan, or an error message, to |out|
 * (always NUL-terminated, truncated to |outlen|). Returns 0, -EINVAL for a
 * bad query, or -EIO on a database error. */
int store_pg_explain_list(const char *uri, const store_list_query *q, char *out,
                          size_t outlen);

/* Test hook: occupies one pooled connection of the loop |loop_impl| (the
 * backend's handle from store_pg_backend.loop_attach) with
 * pg_sleep(|ms| / 1000) - subject to statement_timeout like any query.
 * |cb| gets STORE_OK with no rows. Returns 0, or a negative errno (then |cb|
 * is never called). */
int store_pg_sleep(void *loop_impl, int64_t ms, store_cb cb, void *arg);

#endif
