#!/bin/bash
# latest-revisions.sh - "the 50 latest objects of one type, by updated_at":
# objectd's head table against the story's DISTINCT ON view, on PostgreSQL.
#
#   bench/latest-revisions.sh            1,000,000 revisions over 100,000
#                                        objects (5 types); ~1-2 minutes
#   OBJECTS=10000 bench/latest-revisions.sh   smaller, for a smoke test
#
# Starts a private PostgreSQL 15 with scripts/pg-test-server in a temporary
# directory, creates objectd's schema with the real migrations (a small C
# program linked with src/store/store_pg.c, built here), and loads the same
# revisions twice:
#   * objectd: `revisions` (every revision) + `objects` (the head rows),
#   * the story: one table story_revisions(id, revision, type, ...) and the
#     view story_latest = SELECT DISTINCT ON (id) * FROM story_revisions
#     ORDER BY id, revision DESC.
# Then runs the same question through both, checks they answer the same
# rows, times RUNS executions of each in one psql session (client-side
# \timing over the unix socket, after one warm-up), and prints the median
# timings, both plans (EXPLAIN ANALYZE, BUFFERS) and the ratio, with the
# target: objectd >= 100x faster. Every psql call is bounded by `timeout`;
# the server and the directory are removed on exit, Ctrl-C included.
# Exit status: 0 when the run was valid (whether or not the target passed),
# non-zero on a setup error or if the two answers differ.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

OBJECTS=${OBJECTS:-100000}
REVS=${REVS:-10}
RUNS=${RUNS:-11}
TYPE=${TYPE:-type3}
STEP_TIMEOUT=${STEP_TIMEOUT:-600} # seconds, any one psql step
PSQL=${PSQL:-/usr/lib/postgresql/15/bin/psql}
[ -x "$PSQL" ] || PSQL=psql

TMP=$(mktemp -d /tmp/objectd-bench-pg.XXXXXX)
chmod 755 "$TMP" # the server's user must reach $TMP/pg
cleanup() {
    "$ROOT/scripts/pg-test-server" stop "$TMP/pg" >/dev/null 2>&1 || true
    [ -n "${BENCH_KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

q() { # psql with a bound; extra args follow
    timeout "$STEP_TIMEOUT" "$PSQL" -X -v ON_ERROR_STOP=1 -q "$URI" "$@"
}

bench_log "building the migration helper"
cat >"$TMP/migrate.c" <<'EOF'
/* Applies objectd's PostgreSQL migrations to the database argv[1]. */
#include <stdio.h>

#include "store_backend.h"

int main(int argc, char **argv) {
    char err[512];
    void *impl;
    store_config cfg = {.uri = argc > 1 ? argv[1] : "", .nloops = 1};
    if (store_pg_backend.open(&impl, &cfg, err, sizeof err) != 0 ||
        store_pg_backend.migrate(impl, err, sizeof err) < 0) {
        fprintf(stderr, "migrate: %s\n", err);
        return 1;
    }
    store_pg_backend.close(impl);
    return 0;
}
EOF
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O1 -I"$ROOT/src/store" -I"$ROOT/src/core" \
    "$TMP/migrate.c" "$ROOT/src/store/store_pg.c" \
    "$ROOT/src/store/migrations_pg.c" -o "$TMP/migrate" \
    $(pkg-config --cflags --libs libuv libpq) ||
    bench_die "cannot build the migration helper (libpq-dev, libuv1-dev?)"

bench_log "starting PostgreSQL"
URI=$("$ROOT/scripts/pg-test-server" start "$TMP/pg") ||
    bench_die "pg-test-server start failed"
"$TMP/migrate" "$URI" || bench_die "migrations failed"

total=$((OBJECTS * REVS))
bench_log "loading $total revisions over $OBJECTS objects, twice"
t0=$(date +%s)
# Revision r of object g is written at T0 + (r-1) s + a per-object offset,
# so the heads interleave in time and ids are not in updated order. Every
# 50th object's last revision is a tombstone. created_at is revision 1's
# time; change_seq counts the writes.
q <<EOF
SET synchronous_commit = off;
CREATE TEMP VIEW gen AS
SELECT g AS id, r AS revision, 'type' || (g % 5) AS type,
       'object ' || g AS name,
       '{"n":' || g || ',"r":' || r || ',"pad":"' || repeat('x', 64) || '"}'
           AS attributes,
       1600000000000000 + (r - 1) * 1000000000 + ((g * 7919) % $OBJECTS) * 1000
           AS updated_at,
       'loader' AS author, r = $REVS AND g % 50 = 0 AS deleted
FROM generate_series(1, $OBJECTS::bigint) g,
     generate_series(1, $REVS::bigint) r;

INSERT INTO objects (id, revision, type, name, attributes, created_at,
                     updated_at, updated_by, deleted, change_seq)
SELECT id, revision, type, name, attributes,
       updated_at - (revision - 1) * 1000000000, updated_at, author, deleted,
       revision
FROM gen WHERE revision = $REVS;
INSERT INTO revisions SELECT object_id, revision, type, name, attributes,
       updated_at, author, deleted
FROM (SELECT id AS object_id, * FROM gen) s;
DO \$\$ BEGIN PERFORM setval('objects_id_seq', $OBJECTS); END \$\$;

CREATE TABLE story_revisions (
    id bigint NOT NULL,
    revision bigint NOT NULL,
    type text NOT NULL,
    name text NOT NULL,
    attributes text NOT NULL,
    updated_at bigint NOT NULL,
    author text NOT NULL,
    deleted boolean NOT NULL,
    PRIMARY KEY (id, revision)
);
INSERT INTO story_revisions SELECT * FROM gen;
-- Generous to the story: an index that matches the question. The view
-- cannot use it - the newest revision per id must be found first.
CREATE INDEX story_type_updated ON story_revisions (type, updated_at);
CREATE VIEW story_latest AS
    SELECT DISTINCT ON (id) * FROM story_revisions ORDER BY id, revision DESC;
VACUUM ANALYZE objects;
VACUUM ANALYZE revisions;
VACUUM ANALYZE story_revisions;
EOF
bench_log "loaded in $(($(date +%s) - t0)) s"

cols="id, revision, type, name, attributes, updated_at"
OURS="SELECT $cols FROM objects WHERE type = '$TYPE' AND NOT deleted
      ORDER BY updated_at DESC, id DESC LIMIT 50"
STORY="SELECT $cols FROM story_latest WHERE type = '$TYPE' AND NOT deleted
       ORDER BY updated_at DESC, id DESC LIMIT 50"

a=$(q -At -c "$OURS" | md5sum)
b=$(q -At -c "$STORY" | md5sum)
n=$(q -At -c "SELECT count(*) FROM ($OURS) x")
[ "$a" = "$b" ] || bench_die "the two queries answer differently"
bench_log "both answer the same $n rows"

# Times RUNS executions after a warm-up; prints one number (ms) a line.
timings() {
    {
        printf '%s\n' '\o /dev/null' "$1;" '\timing on'
        for _ in $(seq "$RUNS"); do echo "$1;"; done
    } | q | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}

bench_log "timing $RUNS runs of each"
mapfile -t ours_ms < <(timings "$OURS")
mapfile -t story_ms < <(timings "$STORY")
if [ "${#ours_ms[@]}" -ne "$RUNS" ] || [ "${#story_ms[@]}" -ne "$RUNS" ]; then
    bench_die "expected $RUNS timings each, got ${#ours_ms[@]} and ${#story_ms[@]}"
fi
ours_med=$(bench_median "${ours_ms[@]}")
story_med=$(bench_median "${story_ms[@]}")

echo
echo "== objectd: head table, partial index (type, updated_at, id)"
q -c "EXPLAIN (ANALYZE, BUFFERS) $OURS"
echo "== the story: DISTINCT ON (id) view over every revision"
q -c "EXPLAIN (ANALYZE, BUFFERS) $STORY"

echo "== $total revisions, $OBJECTS objects; 50 latest of type '$TYPE'"
printf '%-10s median %10.3f ms   runs: %s\n' objectd "$ours_med" \
    "${ours_ms[*]}"
printf '%-10s median %10.3f ms   runs: %s\n' story "$story_med" \
    "${story_ms[*]}"
awk -v s="$story_med" -v o="$ours_med" 'BEGIN {
    r = s / o
    printf "ratio story/objectd: %.0fx (target >= 100x): %s\n", r,
        (r >= 100 ? "PASS" : "FAIL")
}'
