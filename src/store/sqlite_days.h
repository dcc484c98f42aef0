/* sqlite_days: the SQLite backend's day blocks - each (object, metric,
 * UTC day)'s readings packed into one blob, the form the analysis reads.
 *
 * observations stays the source of truth (ingest, lists, idempotency);
 * observation_days is derived from it and rebuilt, inside the ingest's
 * transaction, for every day a batch changed. Reading 30 days of a metric
 * is then 30 rows instead of 1,440, and decoding a blob is a loop over
 * fixed-size records instead of a b-tree step and two column calls per
 * reading - the cold analysis's largest cost before. Private to
 * src/store. */
#ifndef OBJECTD_SQLITE_DAYS_H
#define OBJECTD_SQLITE_DAYS_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

/* Microseconds in a UTC day; days are numbered from the epoch, floored
 * (day -1 is 1969-12-31). */
#define SQLITE_DAYS_US INT64_C(86400000000)

/* One packed reading: ts (int64) then value (IEEE double), both
 * little-endian, whatever the host. */
#define SQLITE_DAYS_RECORD 16

/* The UTC day number of |ts| (microseconds since the epoch), and the
 * first and last microseconds of day |day| (within the int64 range). */
int64_t sqlite_days_of(int64_t ts);
int64_t sqlite_days_start(int64_t day);
int64_t sqlite_days_last(int64_t day);

/* Registers the SQL functions the schema and ingest use on |db|:
 * objectd_utc_day(ts) and the aggregate objectd_pack_readings(ts, value),
 * which packs its rows into a blob sorted by ts (NULL for no rows).
 * Returns an SQLite result code. */
int sqlite_days_register(sqlite3 *db);

/* Unpacks the readings of the blob with from <= ts <= to into |out|
 * (room for len / SQLITE_DAYS_RECORD), in the blob's ascending ts order,
 * each pointing at |metric|; sets |*n| to how many. Returns SQLITE_OK, or
 * SQLITE_CORRUPT when the blob's size is not a whole number of records. */
int sqlite_days_decode(const void *blob, size_t len, int64_t from, int64_t to,
                       const char *metric, store_observation *out, size_t *n);

#endif
