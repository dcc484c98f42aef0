#!/usr/bin/env bash
# bench/loadgen.sh - loadgen against the clients it replaces, on the same
# nginx serving a small static file (its own config: keepalive_requests
# raised, 4096 worker_connections, a raised file limit):
#
#   h2c:  h2load  -t 1 -c 4 -m 10 -n 200000   vs  loadgen, same options
#   h1:   wrk     -t 1 -c 4 -d DURATION        vs  loadgen --h1 -c 4 -D DURATION
#   mem:  peak RSS at -c 2000 (h2load vs loadgen over h2c, wrk vs
#         loadgen --h1)
#
# Rounds alternate (the order flips every round); medians and ratios are
# printed at the end. Client CPU time per request (user+sys from
# /usr/bin/time) is the main measure: when nginx is the bottleneck, req/s
# says little about the client.
#
# Usage: bench/loadgen.sh [--quick]
#   --quick   1 round, 20000 requests, 2 s runs (smoke test)
# Environment: ROUNDS=5 REQUESTS=200000 DURATION=5 MEMCONNS=2000
#   LOADGEN=<repo>/build/loadgen  WRK=/usr/bin/wrk  plus bench/lib.sh's
#
# Exit status: 0 when every run was a valid measurement (a target may still
# be missed - that is reported); non-zero on any failed request.
# Run it under flock /tmp/objectd-bench.lock on a shared machine.

set -u
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOADGEN=${LOADGEN:-$BENCH_ROOT/build/loadgen}
WRK=${WRK:-/usr/bin/wrk}
TIME=/usr/bin/time
QUICK=0
case ${1:-} in
--quick) QUICK=1 ;;
"") ;;
-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) bench_die "unknown argument: $1" ;;
esac
if ((QUICK)); then
    ROUNDS=1 REQUESTS=20000 DURATION=2 MEMCONNS=${MEMCONNS:-500}
else
    ROUNDS=${ROUNDS:-5} REQUESTS=${REQUESTS:-200000} DURATION=${DURATION:-5}
    MEMCONNS=${MEMCONNS:-2000}
fi
for tool in "$LOADGEN" "$H2LOAD" "$WRK" "$TIME" "$NGINX"; do
    [[ -x $tool ]] || bench_die "$tool not found (build loadgen; scripts/install-deps test)"
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) > MEMCONNS + 100)) || bench_die "file limit $(ulimit -n) too low for -c $MEMCONNS"

bench_setup_tmpdir
H1_PORT=$(bench_free_port)
H2_PORT=$(bench_free_port)
BENCH_CURL_OPTS='' bench_nginx_start_servers 1 "http://127.0.0.1:$H1_PORT/healthz" "
    server {
        listen 127.0.0.1:$H1_PORT backlog=4096;
        listen 127.0.0.1:$H2_PORT http2 backlog=4096;
        http2_max_concurrent_streams 128;
        root $BENCH_TMP/nginx/html;
        location = /healthz { default_type application/json; }
        location / { return 404; }
    }"
H1_URL=http://127.0.0.1:$H1_PORT/healthz
H2_URL=http://127.0.0.1:$H2_PORT/healthz
bench_log "nginx (1 worker) on :$H1_PORT (http/1.1) and :$H2_PORT (h2c); $ROUNDS rounds"
bench_idle_check 1 >/dev/null

# measure NAME OUT CMD...: runs CMD under /usr/bin/time (bounded), appends
# "user sys maxrss_kb" to $BENCH_TMP/NAME.time; output in OUT.
measure() {
    local name=$1 out=$2 rc
    shift 2
    timeout -k 5 "$RUN_TIMEOUT" "$TIME" -f '%U %S %M' -o "$BENCH_TMP/$name.t" \
        "$@" >"$out" 2>&1 </dev/null &
    BENCH_CLIENT_PID=$!
    wait "$BENCH_CLIENT_PID"
    rc=$?
    BENCH_CLIENT_PID=
    ((rc == 0)) || { cat "$out" >&2; bench_die "$name exited with status $rc"; }
    tail -n 1 "$BENCH_TMP/$name.t" >>"$BENCH_TMP/$name.time"
}

# The h2load layout (h2load's and loadgen's): "RPS REQUESTS", or dies.
summary_ok() {
    bench_h2load_parse "$1" || { cat "$1" >&2; bench_die "$2: not a valid measurement"; }
}

# wrk: "RPS REQUESTS"; any socket error or non-2xx makes the run invalid.
wrk_parse() {
    awk '
        /requests in/ { n = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Socket errors|Non-2xx/ { bad = 1 }
        END { if (bad || n == "" || rps == "") exit 1; print rps, n }' "$1"
}

record() { # NAME RPS REQUESTS: the CPU us/request of the last run too
    local name=$1 rps=$2 n=$3 u s m cpu
    read -r u s m < <(tail -n 1 "$BENCH_TMP/$name.time")
    cpu=$(awk -v u="$u" -v s="$s" -v n="$n" 'BEGIN { printf "%.3f", (u + s) * 1e6 / n }')
    echo "$rps $cpu $m" >>"$BENCH_TMP/$name.res"
    bench_log "  $name: $rps req/s, $n requests, $cpu CPU us/req, ${m} KB"
}

run_h2load() {
    measure h2load "$BENCH_TMP/out" "$H2LOAD" -t 1 -c 4 -m 10 -n "$REQUESTS" "$H2_URL"
    read -r rps n < <(summary_ok "$BENCH_TMP/out" h2load)
    record h2load "$rps" "$n"
}
run_lg_h2() {
    measure lg_h2 "$BENCH_TMP/out" "$LOADGEN" -t 1 -c 4 -m 10 -n "$REQUESTS" "$H2_URL"
    read -r rps n < <(summary_ok "$BENCH_TMP/out" loadgen)
    record lg_h2 "$rps" "$n"
}
run_wrk() {
    measure wrk "$BENCH_TMP/out" "$WRK" -t 1 -c 4 -d "${DURATION}s" "$H1_URL"
    read -r rps n < <(wrk_parse "$BENCH_TMP/out") || { cat "$BENCH_TMP/out" >&2; bench_die "wrk: invalid run"; }
    record wrk "$rps" "$n"
}
run_lg_h1() {
    measure lg_h1 "$BENCH_TMP/out" "$LOADGEN" --h1 -t 1 -c 4 -D "${DURATION}s" "$H1_URL"
    read -r rps n < <(summary_ok "$BENCH_TMP/out" "loadgen --h1")
    record lg_h1 "$rps" "$n"
}

# Peak memory at many connections (-m 1; a few requests each).
run_mem() {
    local n=$((MEMCONNS * 5))
    measure mem_h2load "$BENCH_TMP/out" "$H2LOAD" -t 1 -c "$MEMCONNS" -n "$n" "$H2_URL"
    summary_ok "$BENCH_TMP/out" "h2load -c $MEMCONNS" >/dev/null
    measure mem_lg_h2 "$BENCH_TMP/out" "$LOADGEN" -t 1 -c "$MEMCONNS" -n "$n" "$H2_URL"
    summary_ok "$BENCH_TMP/out" "loadgen -c $MEMCONNS" >/dev/null
    measure mem_wrk "$BENCH_TMP/out" "$WRK" -t 1 -c "$MEMCONNS" -d 2s "$H1_URL"
    wrk_parse "$BENCH_TMP/out" >/dev/null || { cat "$BENCH_TMP/out" >&2; bench_die "wrk -c $MEMCONNS: invalid run"; }
    measure mem_lg_h1 "$BENCH_TMP/out" "$LOADGEN" --h1 -t 1 -c "$MEMCONNS" -D 2s "$H1_URL"
    summary_ok "$BENCH_TMP/out" "loadgen --h1 -c $MEMCONNS" >/dev/null
}

# Warm nginx and the page cache once, unmeasured.
"$LOADGEN" -c 4 -m 10 -n 20000 "$H2_URL" >/dev/null 2>&1

for ((r = 1; r <= ROUNDS; r++)); do
    bench_log "round $r/$ROUNDS"
    if ((r % 2)); then
        run_h2load; run_lg_h2; run_wrk; run_lg_h1
    else
        run_lg_h2; run_h2load; run_lg_h1; run_wrk
    fi
done
bench_log "peak memory at -c $MEMCONNS"
run_mem

col() { # NAME COLUMN -> median
    bench_median $(awk -v c="$2" '{ print $c }' "$BENCH_TMP/$1.res")
}
rss() { awk '{ print $3 }' "$BENCH_TMP/$1.time"; }

printf '\n%-34s %12s %14s %12s\n' "client" "req/s" "CPU us/req" "peak RSS KB"
for pair in "h2load:lg_h2:h2c -t 1 -c 4 -m 10 -n $REQUESTS" "wrk:lg_h1:http/1.1 -t 1 -c 4, ${DURATION}s"; do
    IFS=: read -r ref ours what <<<"$pair"
    printf '%s\n' "-- $what (medians of $ROUNDS)"
    for n in "$ref" "$ours"; do
        label=$n
        [[ $n == lg_* ]] && label="loadgen"
        printf '%-34s %12s %14s %12s\n' "  $label" "$(col "$n" 1)" "$(col "$n" 2)" "$(bench_median $(rss "$n"))"
    done
    rr=$(bench_ratio "$(col "$ours" 1)" "$(col "$ref" 1)")
    cr=$(bench_ratio "$(col "$ours" 2)" "$(col "$ref" 2)")
    printf '  ratios loadgen/%s: req/s %s (target >= 0.95), CPU/request %s (target <= 1)\n' "$ref" "$rr" "$cr"
done
printf '%s\n' "-- peak RSS at -c $MEMCONNS (KB)"
printf '  h2load %s, loadgen %s: ratio %s (target <= 1)\n' "$(rss mem_h2load)" "$(rss mem_lg_h2)" \
    "$(bench_ratio "$(rss mem_lg_h2)" "$(rss mem_h2load)")"
printf '  wrk %s, loadgen --h1 %s: ratio %s\n' "$(rss mem_wrk)" "$(rss mem_lg_h1)" \
    "$(bench_ratio "$(rss mem_lg_h1)" "$(rss mem_wrk)")"
