#!/usr/bin/env bash
# bench/analysis-bodies.sh - are two objectd binaries' analyses the same
# bytes? For changes to the analysis path that must not change its output
# (performance work): every cold analysis of the standard workload (cache
# off, ids 1..500), plus windowed and pretty variants of a few objects,
# fetched from each binary on the same SQLite file and compared byte for
# byte.
#
# Usage: bench/analysis-bodies.sh OBJECTD_A OBJECTD_B
#
#   e.g. git worktree's build of main against this branch's build:
#   bench/analysis-bodies.sh /path/to/main/build/objectd build/objectd
#
# Environment:
#   OBJECTS=500   objects in the seeded workload
#   DB=           an existing standard-workload SQLite file to copy instead
#                 of seeding one with OBJECTD_A (~20 s)
#
# Prints the number of bodies compared and lists any that differ. Exit
# status: 0 when all are identical; 1 on a difference or a setup error.

set -u
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
case ${1:-} in
-h | --help) usage; exit 0 ;;
esac
(($# == 2)) || { usage >&2; exit 1; }
A=$1 B=$2
OBJECTS=${OBJECTS:-500}
DB=${DB:-}
[[ $OBJECTS =~ ^[1-9][0-9]*$ ]] || bench_die "OBJECTS must be a positive integer"
for bin in "$A" "$B"; do
    [[ -x $bin ]] || bench_die "not an executable: $bin"
done
for tool in curl cmp ss; do
    command -v "$tool" >/dev/null || bench_die "required tool '$tool' not found"
done

bench_setup_tmpdir
bench_standard_db "$A" "$OBJECTS" "$DB" "$BENCH_TMP/seed.db"

# Windows within, across and beyond the seeded month; pretty and compact.
VARIANTS=(
    ""
    "?pretty=1"
    "?from=2025-12-20T05:17:00Z&to=2025-12-27T13:00:00Z"
    "?from=2025-12-31T23:30:00Z&to=2026-01-01T00:00:00Z&pretty=true"
    "?from=2025-12-10T00:00:00Z&to=2025-12-10T00:30:00Z"
    "?from=2025-11-01T00:00:00Z&to=2026-02-01T00:00:00Z"
)
SAMPLE=(1 2 3 $(((OBJECTS + 1) / 2)) "$OBJECTS")

# fetch NAME BINARY: every body into $BENCH_TMP/NAME/ (one keep-alive
# connection per curl), from a fresh copy of the seeded file.
fetch() {
    local name=$1 bin=$2 port dir=$BENCH_TMP/$1 v i
    mkdir -p "$dir"
    cp "$BENCH_TMP/seed.db" "$BENCH_TMP/$name.db" || return 1
    port=$(bench_free_port)
    OBJECTD=$bin bench_objectd_spawn "$name" "$port" 2 --db "sqlite:$BENCH_TMP/$name.db" \
        --analysis-cache off
    local url=http://127.0.0.1:$port/api/v1/objects
    timeout 600 curl -sf -m 300 -o "$dir/all-#1.json" "$url/[1-$OBJECTS]/analysis" ||
        return 1
    for v in "${!VARIANTS[@]}"; do
        ((v == 0)) && continue
        for i in "${SAMPLE[@]}"; do
            timeout 60 curl -sf -m 30 -o "$dir/v$v-$i.json" "$url/$i/analysis${VARIANTS[v]}" ||
                return 1
        done
    done
    bench_objectd_kill "$name"
}
fetch a "$A" || bench_die "fetching from $A failed"
fetch b "$B" || bench_die "fetching from $B failed"

n=0 bad=0
for f in "$BENCH_TMP"/a/*.json; do
    n=$((n + 1))
    if ! cmp -s "$f" "$BENCH_TMP/b/${f##*/}"; then
        bad=$((bad + 1))
        ((bad <= 20)) && echo "differs: ${f##*/}"
    fi
done
echo "compared $n bodies: $bad differ"
((n == OBJECTS + (${#VARIANTS[@]} - 1) * ${#SAMPLE[@]} && bad == 0))
