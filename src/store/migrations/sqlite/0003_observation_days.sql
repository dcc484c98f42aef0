-- SQLite migration 3: day blocks, the analysis's read path.
--
-- The readable source. The binary runs the copy embedded in
-- src/store/migrations_sqlite.c, which must match this file byte for
-- byte (tests/unit/test_store_sqlite.c checks).
--
-- One row per (object, metric, UTC day) holding that day's readings
-- packed into a blob: 16-byte records (ts int64, value double, both
-- little-endian) in ts order. Derived from observations, which stays the
-- source of truth: every ingest that changes a day rebuilds its block in
-- the same transaction, so a block never disagrees with the rows. The
-- analysis reads 30 blocks per metric instead of 1,440 rows.
--
-- objectd_utc_day() and objectd_pack_readings() are SQL functions objectd
-- registers on its connections (src/store/sqlite_days.c); this migration
-- runs only inside objectd.

CREATE TABLE observation_days (
    object_id INTEGER NOT NULL REFERENCES objects(id),
    metric TEXT NOT NULL,
    day INTEGER NOT NULL,
    readings BLOB NOT NULL,
    PRIMARY KEY (object_id, metric, day)
) WITHOUT ROWID;

INSERT INTO observation_days (object_id, metric, day, readings)
SELECT object_id, metric, objectd_utc_day(ts),
       objectd_pack_readings(ts, value)
FROM observations
GROUP BY object_id, metric, objectd_utc_day(ts);
