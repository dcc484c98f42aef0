/* migrations_sqlite: the SQLite schema migrations, embedded in the binary.
 *
 * Each string is a copy of a file in migrations/sqlite/, which is the
 * readable source; the two must match byte for byte (the unit test
 * test_store_sqlite compares them). The copy lives here because the build
 * has no step that generates C from the .sql files. To add a migration:
 * write migrations/sqlite/NNNN_NAME.sql, append its text here as the next
 * version, never edit an applied one. */
#include "store_sqlite.h"

static const char m0001_init[] =
    "-- SQLite migration 1: revisioned objects.\n"
    "--\n"
    "-- The readable source. The binary runs the copy embedded in\n"
    "-- src/store/migrations_sqlite.c, which must match this file byte for\n"
    "-- byte (tests/unit/test_store_sqlite.c checks). Same meaning as the\n"
    "-- PostgreSQL backend's migration 1.\n"
    "--\n"
    "-- objects is the head: a copy of each object's latest revision, so\n"
    "-- that 'latest revisions by time' walks a partial index on this table\n"
    "-- and never scans the history. revisions is immutable, append-only.\n"
    "-- Times are microseconds since the Unix epoch.\n"
    "\n"
    "CREATE TABLE objects (\n"
    "    id INTEGER PRIMARY KEY,\n"
    "    revision INTEGER NOT NULL,\n"
    "    type TEXT NOT NULL,\n"
    "    name TEXT NOT NULL,\n"
    "    attributes TEXT NOT NULL,\n"
    "    created_at INTEGER NOT NULL,\n"
    "    updated_at INTEGER NOT NULL,\n"
    "    updated_by TEXT NOT NULL,\n"
    "    deleted INTEGER NOT NULL DEFAULT 0,\n"
    "    change_seq INTEGER NOT NULL\n"
    ");\n"
    "\n"
    "CREATE TABLE revisions (\n"
    "    object_id INTEGER NOT NULL REFERENCES objects(id),\n"
    "    revision INTEGER NOT NULL,\n"
    "    type TEXT NOT NULL,\n"
    "    name TEXT NOT NULL,\n"
    "    attributes TEXT NOT NULL,\n"
    "    updated_at INTEGER NOT NULL,\n"
    "    author TEXT NOT NULL,\n"
    "    deleted INTEGER NOT NULL,\n"
    "    PRIMARY KEY (object_id, revision)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "-- The list orders, (updated_at, id) and (type, updated_at, id), over\n"
    "-- live heads only.\n"
    "CREATE INDEX objects_live_updated\n"
    "    ON objects(updated_at, id) WHERE deleted = 0;\n"
    "CREATE INDEX objects_live_type_updated\n"
    "    ON objects(type, updated_at, id) WHERE deleted = 0;\n"
    "\n"
    "-- as_of: an object's newest revision written at or before a time.\n"
    "CREATE INDEX revisions_by_time ON revisions(object_id, updated_at);\n"
    "\n"
    "CREATE TABLE schema_migrations (\n"
    "    version INTEGER PRIMARY KEY,\n"
    "    applied_at INTEGER NOT NULL\n"
    ");\n";

static const char m0002_series[] =
    "-- SQLite migration 2: observations and events.\n"
    "--\n"
    "-- The readable source. The binary runs the copy embedded in\n"
    "-- src/store/migrations_sqlite.c, which must match this file byte for\n"
    "-- byte (tests/unit/test_store_sqlite.c checks). Same meaning as the\n"
    "-- PostgreSQL backend's observations and events tables.\n"
    "--\n"
    "-- One reading per (object, metric, ts) and one event per (object, ts,\n"
    "-- kind): the primary keys are the idempotency keys of ingest. WITHOUT\n"
    "-- ROWID stores each row in its primary key's b-tree, so an object's\n"
    "-- readings of one metric are contiguous and in time order - the\n"
    "-- analysis reads them as one range per metric.\n"
    "\n"
    "CREATE TABLE observations (\n"
    "    object_id INTEGER NOT NULL REFERENCES objects(id),\n"
    "    metric TEXT NOT NULL,\n"
    "    ts INTEGER NOT NULL,\n"
    "    value REAL NOT NULL,\n"
    "    PRIMARY KEY (object_id, metric, ts)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "-- The raw list, ordered by (ts, metric) per object, and max(ts).\n"
    "CREATE INDEX observations_by_time\n"
    "    ON observations(object_id, ts, metric);\n"
    "\n"
    "CREATE TABLE events (\n"
    "    object_id INTEGER NOT NULL REFERENCES objects(id),\n"
    "    ts INTEGER NOT NULL,\n"
    "    kind TEXT NOT NULL,\n"
    "    severity TEXT NOT NULL,\n"
    "    message TEXT NOT NULL,\n"
    "    data TEXT,\n"
    "    PRIMARY KEY (object_id, ts, kind)\n"
    ") WITHOUT ROWID;\n";

const store_sqlite_migration store_sqlite_migrations[] = {
    {1, "0001_init.sql", m0001_init},
    {2, "0002_series.sql", m0002_series},
};

const int store_sqlite_nmigrations =
    (int)(sizeof store_sqlite_migrations / sizeof store_sqlite_migrations[0]);
