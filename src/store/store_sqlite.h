/* store_sqlite: what the SQLite backend shows beyond store_backend.h -
 * its migrations and inspection helpers for tests and docs. Private to
 * src/store and the tests. */
#ifndef OBJECTD_STORE_SQLITE_H
#define OBJECTD_STORE_SQLITE_H

#include <stddef.h>

#include "store.h"

/* One schema migration: applied in |version| order, each in its own
 * transaction. The SQL is the text of migrations/sqlite/NNNN_NAME.sql,
 * embedded by migrations_sqlite.c. */
typedef struct store_sqlite_migration {
    int version;      /* 1, 2, ... without gaps */
    const char *file; /* "0001_init.sql" */
    const char *sql;
} store_sqlite_migration;

extern const store_sqlite_migration store_sqlite_migrations[];
extern const int store_sqlite_nmigrations;

/* Writes the EXPLAIN QUERY PLAN of the statement store_object_list runs
 * for |q| (one plan line per row, "\n"-separated) to |out|, using a
 * read-only connection of its own on the database at |path| (a file
 * path, not a "sqlite:" URI). Returns 0, or -1 with an error message in
 * |out|. Blocking. */
int store_sqlite_explain_list(const char *path, const store_list_query *q,
                              char *out, size_t outlen);

/* Like store_sqlite_explain_list, for the statements of observations and
 * events, by |name|: "observations_list", "observations_list_metric",
 * "events_list", "events_list_kind" (the lists without and with a
 * filter), "observations_update", "events_update" (ingest's replacement
 * of an existing row), "newest_ts", "next_metric", "observations_window",
 * "events_window", "revisions_all" (store_analysis_load) and "version"
 * (store_object_version). Returns 0, or -1 with an error message in
 * |out| (an unknown name too). Blocking. */
int store_sqlite_explain(const char *path, const char *name, char *out,
                         size_t outlen);

/* Runs "PRAGMA |name|" on the writer connection of |impl| (as returned by
 * store_sqlite_backend.open) and writes the first column of the first
 * row to |out|. For tests that check the connection's settings. Returns
 * 0 or -1 (message in |out|). Blocking: it waits for the writer's
 * lock. */
int store_sqlite_pragma(void *impl, const char *name, char *out, size_t outlen);

#endif
