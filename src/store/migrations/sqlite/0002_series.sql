-- SQLite migration 2: observations and events.
--
-- The readable source. The binary runs the copy embedded in
-- src/store/migrations_sqlite.c, which must match this file byte for
-- byte (tests/unit/test_store_sqlite.c checks). Same meaning as the
-- PostgreSQL backend's observations and events tables.
--
-- One reading per (object, metric, ts) and one event per (object, ts,
-- kind): the primary keys are the idempotency keys of ingest. WITHOUT
-- ROWID stores each row in its primary key's b-tree, so an object's
-- readings of one metric are contiguous and in time order - the
-- analysis reads them as one range per metric.

CREATE TABLE observations (
    object_id INTEGER NOT NULL REFERENCES objects(id),
    metric TEXT NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (object_id, metric, ts)
) WITHOUT ROWID;

-- The raw list, ordered by (ts, metric) per object, and max(ts).
CREATE INDEX observations_by_time
    ON observations(object_id, ts, metric);

CREATE TABLE events (
    object_id INTEGER NOT NULL REFERENCES objects(id),
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT,
    PRIMARY KEY (object_id, ts, kind)
) WITHOUT ROWID;
