#!/usr/bin/env bash
# bench/analysis-cpu.sh - the server CPU of 500 cold analyses, two objectd
# binaries side by side: what a change to the analysis path bought.
#
# Usage: bench/analysis-cpu.sh OBJECTD_A OBJECTD_B
#
# Both serve copies of one standard-workload SQLite file with
# --analysis-cache off and --threads 2; each round asks each of them (order
# alternating) for every object's analysis once, with h2load -c 1 -m 500 over
# h2c, and reads the server's utime+stime from /proc before and after. CPU
# time, unlike wall time, is little disturbed by other jobs on the machine;
# wall times are printed too. A run with any failed request stops the
# script: it is not a measurement.
#
# Environment:
#   ROUNDS=10     rounds (after one unrecorded warm-up run each)
#   OBJECTS=500   objects in the seeded workload
#   DB=           an existing standard-workload SQLite file to copy instead
#                 of seeding one with OBJECTD_A (~20 s)
#
# Prints per round and the medians, and B's median CPU as a fraction of A's.

set -u
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
case ${1:-} in
-h | --help) usage; exit 0 ;;
esac
(($# == 2)) || { usage >&2; exit 1; }
ROUNDS=${ROUNDS:-10}
OBJECTS=${OBJECTS:-500}
DB=${DB:-}
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $OBJECTS =~ ^[1-9][0-9]*$ ]] ||
    bench_die "ROUNDS and OBJECTS must be positive integers"
declare -A BIN=([a]=$1 [b]=$2)
for k in a b; do
    [[ -x ${BIN[$k]} ]] || bench_die "not an executable: ${BIN[$k]}"
done
[[ -x $H2LOAD ]] || bench_die "h2load not found at $H2LOAD"

bench_setup_tmpdir
bench_standard_db "${BIN[a]}" "$OBJECTS" "$DB" "$BENCH_TMP/seed.db"

declare -A PORT
for k in a b; do
    cp "$BENCH_TMP/seed.db" "$BENCH_TMP/$k.db" || bench_die "cp failed"
    PORT[$k]=$(bench_free_port)
    OBJECTD=${BIN[$k]} bench_objectd_spawn "$k" "${PORT[$k]}" 2 \
        --db "sqlite:$BENCH_TMP/$k.db" --analysis-cache off
    for ((i = 1; i <= OBJECTS; i++)); do
        echo "http://127.0.0.1:${PORT[$k]}/api/v1/objects/$i/analysis"
    done >"$BENCH_TMP/uris.$k"
done

# run K: one pass against server K; sets RUN_CPU and RUN_WALL (ms). Not
# in a subshell, so that bench_die ends the script and the trap sees the
# client.
run() {
    local k=$1 pid=${BENCH_OBJECTDS[$1]} t0 t1 out=$BENCH_TMP/h2load.$1 parsed
    t0=$(bench_cpu_ticks "$pid") || bench_die "objectd ($k) is gone"
    bench_h2load_run "$out" -c 1 -m "$OBJECTS" -n "$OBJECTS" -i "$BENCH_TMP/uris.$k" ||
        bench_die "h2load against ${BIN[$k]} failed"
    t1=$(bench_cpu_ticks "$pid") || bench_die "objectd ($k) is gone"
    parsed=$(bench_h2load_parse "$out") || bench_die "${BIN[$k]}: not every request succeeded"
    [[ ${parsed#* } == "$OBJECTS" ]] || bench_die "${BIN[$k]}: $parsed"
    RUN_CPU=$(((t1 - t0) * 1000 / CLK_TCK))
    RUN_WALL=$(bench_h2load_wall_ms "$out") || bench_die "unreadable h2load output"
}

run a
run b
declare -A CPU WALL LAST
printf '%-6s %12s %12s %12s %12s\n' round "A cpu ms" "B cpu ms" "A wall ms" "B wall ms"
for ((r = 1; r <= ROUNDS; r++)); do
    order=(a b)
    ((r % 2 == 0)) && order=(b a)
    for k in "${order[@]}"; do
        run "$k"
        CPU[$k]+=" $RUN_CPU"
        WALL[$k]+=" $RUN_WALL"
        LAST[$k]="$RUN_CPU $RUN_WALL"
    done
    read -r ca wa <<<"${LAST[a]}"
    read -r cb wb <<<"${LAST[b]}"
    printf '%-6s %12s %12s %12s %12s\n' "$r" "$ca" "$cb" "$wa" "$wb"
done
# shellcheck disable=SC2086 # word splitting of the lists is intended
{
    ma=$(bench_median ${CPU[a]})
    mb=$(bench_median ${CPU[b]})
    wa=$(bench_median ${WALL[a]})
    wb=$(bench_median ${WALL[b]})
}
echo "A: ${BIN[a]}"
echo "B: ${BIN[b]}"
printf 'median server CPU for %d cold analyses: A %s ms, B %s ms (B/A %s); wall: A %s ms, B %s ms\n' \
    "$OBJECTS" "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.3f", b / a }')" "$wa" "$wb"
for k in a b; do bench_objectd_kill "$k" || bench_die "objectd ($k) did not exit cleanly"; done
