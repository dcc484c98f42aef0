-- SQLite migration 1: revisioned objects.
--
-- The readable source. The binary runs the copy embedded in
-- src/store/migrations_sqlite.c, which must match this file byte for
-- byte (tests/unit/test_store_sqlite.c checks). Same meaning as the
-- PostgreSQL backend's migration 1.
--
-- objects is the head: a copy of each object's latest revision, so
-- that 'latest revisions by time' walks a partial index on this table
-- and never scans the history. revisions is immutable, append-only.
-- Times are microseconds since the Unix epoch.

CREATE TABLE objects (
    id INTEGER PRIMARY KEY,
    revision INTEGER NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    change_seq INTEGER NOT NULL
);

CREATE TABLE revisions (
    object_id INTEGER NOT NULL REFERENCES objects(id),
    revision INTEGER NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    author TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (object_id, revision)
) WITHOUT ROWID;

-- The list orders, (updated_at, id) and (type, updated_at, id), over
-- live heads only.
CREATE INDEX objects_live_updated
    ON objects(updated_at, id) WHERE deleted = 0;
CREATE INDEX objects_live_type_updated
    ON objects(type, updated_at, id) WHERE deleted = 0;

-- as_of: an object's newest revision written at or before a time.
CREATE INDEX revisions_by_time ON revisions(object_id, updated_at);

CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
);
