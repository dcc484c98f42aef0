/* sqlite_days: packing and unpacking the day blocks (see sqlite_days.h).
 *
 * The packing runs inside SQLite as an aggregate, so that one statement
 * both reads a day's rows from observations and writes its block - the
 * migration that builds the blocks of an existing database and the
 * ingest that rebuilds the days it changed share it. */
#include "sqlite_days.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

int64_t sqlite_days_of(int64_t ts) {
    int64_t d = ts / SQLITE_DAYS_US;
    return (ts % SQLITE_DAYS_US < 0) ? d - 1 : d;
}

/* The first and last days of the int64 range are cut short by it. */
int64_t sqlite_days_start(int64_t day) {
    return day <= INT64_MIN / SQLITE_DAYS_US - 1 ? INT64_MIN
                                                 : day * SQLITE_DAYS_US;
}

int64_t sqlite_days_last(int64_t day) {
    return day >= INT64_MAX / SQLITE_DAYS_US ? INT64_MAX
                                             : (day + 1) * SQLITE_DAYS_US - 1;
}

/* One unaligned load or store and a byte swap on big-endian hosts (a
 * no-op here): decoding is on the cold analysis's path, 8,640 records a
 * standard object. */
static void put_le64(unsigned char *p, uint64_t v) {
    v = htole64(v);
    memcpy(p, &v, sizeof v);
}

static uint64_t get_le64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return le64toh(v);
}

static void utc_day_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER) {
        sqlite3_result_error(ctx, "objectd_utc_day: ts must be an integer", -1);
        return;
    }
    sqlite3_result_int64(ctx, sqlite_days_of(sqlite3_value_int64(argv[0])));
}

/* The aggregate's state, in SQLite's aggregate context (zeroed by SQLite
 * on the first row). */
typedef struct pack_state {
    unsigned char *data; /* records, in arrival order until the end */
    size_t n, cap;
    int failed;
} pack_state;

static void pack_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    pack_state *p = sqlite3_aggregate_context(ctx, sizeof *p);
    if (p == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (p->failed)
        return;
    if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER ||
        sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        p->failed = 1;
        return;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        unsigned char *d = realloc(p->data, cap * SQLITE_DAYS_RECORD);
        if (d == NULL) {
            p->failed = 2;
            return;
        }
        p->data = d;
        p->cap = cap;
    }
    double v = sqlite3_value_double(argv[1]);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    unsigned char *rec = p->data + p->n * SQLITE_DAYS_RECORD;
    put_le64(rec, (uint64_t)sqlite3_value_int64(argv[0]));
    put_le64(rec + 8, bits);
    p->n++;
}

static int64_t record_ts(const unsigned char *rec) {
    return (int64_t)get_le64(rec);
}

static int by_ts(const void *a, const void *b) {
    int64_t x = record_ts(a), y = record_ts(b);
    return (x > y) - (x < y);
}

static void pack_final(sqlite3_context *ctx) {
    pack_state *p = sqlite3_aggregate_context(ctx, 0);
    if (p == NULL || p->n == 0) { /* no rows: NULL */
        sqlite3_result_null(ctx);
        return;
    }
    if (p->failed == 1)
        sqlite3_result_error(
            ctx, "objectd_pack_readings: ts must be an integer, value set", -1);
    else if (p->failed)
        sqlite3_result_error_nomem(ctx);
    else {
        /* Rows usually arrive in ts order (the primary key's walk); the
         * blob's order must not depend on the plan. */
        int sorted = 1;
        for (size_t i = 1; i < p->n && sorted; i++)
            sorted = record_ts(p->data + (i - 1) * SQLITE_DAYS_RECORD) <
                     record_ts(p->data + i * SQLITE_DAYS_RECORD);
        if (!sorted)
            qsort(p->data, p->n, SQLITE_DAYS_RECORD, by_ts);
        sqlite3_result_blob64(
            ctx, p->data, (sqlite3_uint64)(p->n * SQLITE_DAYS_RECORD), free);
        p->data = NULL; /* SQLite frees it */
    }
    free(p->data);
}

int sqlite_days_register(sqlite3 *db) {
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    int rc = sqlite3_create_function(db, "objectd_utc_day", 1, flags, NULL,
                                     utc_day_fn, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc;
    return sqlite3_create_function(db, "objectd_pack_readings", 2, flags, NULL,
                                   NULL, pack_step, pack_final);
}

int sqlite_days_decode(const void *blob, size_t len, int64_t from, int64_t to,
                       const char *metric, store_observation *out, size_t *n) {
    if (len % SQLITE_DAYS_RECORD != 0)
        return SQLITE_CORRUPT;
    const unsigned char *p = blob, *end = p + len;
    size_t k = 0;
    for (; p < end; p += SQLITE_DAYS_RECORD) {
        int64_t ts = record_ts(p);
        if (ts < from)
            continue;
        if (ts > to)
            break; /* ascending */
        uint64_t bits = get_le64(p + 8);
        out[k].metric = metric;
        out[k].ts = ts;
        memcpy(&out[k].value, &bits, sizeof bits);
        k++;
    }
    *n = k;
    return SQLITE_OK;
}
