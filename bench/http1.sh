#!/usr/bin/env bash
# bench/http1.sh - keep-alive GET /healthz: objectd vs nginx, over HTTP/1.1
# (or over h2c when run as bench/http2.sh, which sets BENCH_PROTO=h2c).
#
# Usage: bench/http1.sh [--quick] [--only nginx|objectd]
#
#   --quick            1 round of 20000 requests (smoke test)
#   --only SERVER      benchmark just one server (for debugging; no ratios)
#
# Environment:
#   THREADS=<nproc>    objectd --threads and nginx worker_processes
#   ROUNDS=5           alternating rounds (order flips every round)
#   REQUESTS=200000    h2load -n per run
#   CONNS=16           h2load -c per run
#   STREAMS=10         h2load -m per connection (h2c only)
#   WARMUP=20000       requests per server before the first round (0 = none)
#   OBJECTD, NGINX, H2LOAD, RUN_TIMEOUT, BENCH_KEEP_TMP: see bench/lib.sh
#
# Exit status: 0 when every run was a valid measurement (targets may still
# FAIL - that is reported, not an error); non-zero on any failed request or
# setup error.  See bench/README.md.

set -u
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

QUICK=0
ONLY=
while (($#)); do
    case $1 in
    --quick) QUICK=1 ;;
    --only)
        shift
        ONLY=${1:-}
        [[ $ONLY == nginx || $ONLY == objectd ]] || bench_die "--only needs nginx or objectd"
        ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; bench_die "unknown argument: $1" ;;
    esac
    shift
done

THREADS=${THREADS:-$(nproc)}
CONNS=${CONNS:-16}
WARMUP=${WARMUP:-20000}
if ((QUICK)); then
    ROUNDS=1
    REQUESTS=20000
    WARMUP=0
else
    ROUNDS=${ROUNDS:-5}
    REQUESTS=${REQUESTS:-200000}
fi
for v in THREADS CONNS WARMUP ROUNDS REQUESTS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || bench_die "$v must be a non-negative integer (got '${!v}')"
done
((THREADS >= 1 && ROUNDS >= 1 && REQUESTS >= 1 && CONNS >= 1)) ||
    bench_die "THREADS, ROUNDS, REQUESTS and CONNS must be >= 1"

BENCH_PROTO=${BENCH_PROTO:-h1}
STREAMS=${STREAMS:-10}
case $BENCH_PROTO in
h1) PROTO_ARGS=(--h1 -c "$CONNS"); PROTO_NAME="HTTP/1.1" ;;
h2c)
    PROTO_ARGS=(-c "$CONNS" -m "$STREAMS"); PROTO_NAME="h2c"
    # nginx speaks cleartext HTTP/2 (prior knowledge only) on an http2 listener.
    NGINX_LISTEN_OPTS="http2 ${NGINX_LISTEN_OPTS:-}"
    BENCH_CURL_OPTS=--http2-prior-knowledge
    ;;
*) bench_die "BENCH_PROTO must be h1 or h2c" ;;
esac
# nginx at its best for a static file: no open/fstat/close per request.
NGINX_HTTP_EXTRA=${NGINX_HTTP_EXTRA-open_file_cache max=64 inactive=60s;}
export NGINX_LISTEN_OPTS NGINX_HTTP_EXTRA BENCH_CURL_OPTS

RPS_TARGET=0.8 # objectd req/s >= 0.8 x nginx
CPU_TARGET=1.25 # objectd CPU/request <= 1.25 x nginx

SERVERS=(nginx objectd)
[[ -n $ONLY ]] && SERVERS=("$ONLY")

# ---------------------------------------------------------------- preflight

for tool in curl ss pgrep timeout awk od; do
    command -v "$tool" >/dev/null || bench_die "required tool '$tool' not found"
done
[[ -x $H2LOAD ]] || bench_die "h2load not found at $H2LOAD"
for s in "${SERVERS[@]}"; do
    if [[ $s == objectd && ! -x $OBJECTD ]]; then
        bench_die "objectd binary not found at $OBJECTD (build it first)"
    fi
done
if pgrep -x nginx >/dev/null; then
    bench_warn "other nginx processes are running (pids: $(pgrep -x nginx | tr '\n' ' '))- they may steal CPU"
fi
if ss -Htln 'sport = :80' | grep -q .; then
    bench_warn "something listens on port 80 (a system web server?) - it may steal CPU"
fi

BUSY_PCT=$(bench_idle_check 1)
bench_setup_tmpdir

# ---------------------------------------------------------------- servers

declare -A PORT URL
for s in "${SERVERS[@]}"; do
    PORT[$s]=$(bench_free_port)
    URL[$s]="http://127.0.0.1:${PORT[$s]}/healthz"
done

server_pids() { # server -> pids whose CPU we account
    case $1 in
    nginx) bench_nginx_pids ;;
    objectd) echo "$BENCH_OBJECTD_PID" ;;
    esac
}

for s in "${SERVERS[@]}"; do
    case $s in
    nginx) bench_nginx_start "${PORT[nginx]}" "$THREADS" ;;
    objectd) bench_objectd_start "${PORT[objectd]}" "$THREADS" ;;
    esac
    bench_check_body "${URL[$s]}" "$s"
    bench_log "$s up on ${URL[$s]} (pids: $(server_pids "$s"))"
done

# ---------------------------------------------------------------- runs

# run_one SERVER N LABEL: one h2load run; sets RUN_RPS, RUN_REQS, RUN_CPU_US
# (CPU microseconds per request), RUN_TICKS (server), RUN_CLIENT_TICKS
# (h2load), RUN_OTHER_TICKS (everything else on the machine) and RUN_WALL
# (seconds).  Exits non-zero on any error.
run_one() {
    local s=$1 n=$2 label=$3 pids_before pids_after t0 t1 c0 c1 b0 b1 w0 w1 parsed
    local out=$BENCH_TMP/h2load.$s.$label.txt
    pids_before=$(server_pids "$s")
    # shellcheck disable=SC2086
    t0=$(bench_cpu_ticks $pids_before) || bench_die "$s: cannot read /proc stat of $pids_before (server died?)"
    c0=$(bench_reaped_children_ticks)
    b0=$(bench_sys_busy_ticks)
    w0=$EPOCHREALTIME
    if ! bench_h2load_run "$out" "${PROTO_ARGS[@]}" -n "$n" -t 1 "${URL[$s]}"; then
        cat "$out" >&2
        bench_die "$s ($label): h2load failed"
    fi
    w1=$EPOCHREALTIME
    b1=$(bench_sys_busy_ticks)
    c1=$(bench_reaped_children_ticks)
    pids_after=$(server_pids "$s")
    # shellcheck disable=SC2086
    t1=$(bench_cpu_ticks $pids_before) || bench_die "$s ($label): server process exited during the run"
    RUN_CLIENT_TICKS=$((c1 - c0))
    RUN_OTHER_TICKS=$((b1 - b0 - (t1 - t0) - RUN_CLIENT_TICKS))
    ((RUN_OTHER_TICKS < 0)) && RUN_OTHER_TICKS=0
    RUN_WALL=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", b - a }')
    [[ $pids_after == "$pids_before" ]] ||
        bench_die "$s ($label): server processes changed during the run ($pids_before -> $pids_after)"
    if ! parsed=$(bench_h2load_parse "$out"); then
        sed -n '/^finished in/,/^status codes/p' "$out" >&2
        bench_die "$s ($label): not a valid measurement (failed requests)"
    fi
    read -r RUN_RPS RUN_REQS <<<"$parsed"
    ((RUN_REQS == n)) || bench_die "$s ($label): h2load reported $RUN_REQS requests, expected $n"
    RUN_TICKS=$((t1 - t0))
    RUN_CPU_US=$(bench_cpu_us_per_req "$RUN_TICKS" "$RUN_REQS")
}

bench_log "config: threads=$THREADS rounds=$ROUNDS requests=$REQUESTS conns=$CONNS warmup=$WARMUP clk_tck=$CLK_TCK"
echo "objectd $PROTO_NAME benchmark: GET /healthz, h2load ${PROTO_ARGS[*]} -n $REQUESTS -t 1"
echo "nginx extra config: ${NGINX_HTTP_EXTRA:-none}; listen options: ${NGINX_LISTEN_OPTS:-none}"
echo "threads/workers=$THREADS rounds=$ROUNDS cpus=$(nproc) kernel=$(uname -r) busy-before=${BUSY_PCT}%"
echo "nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')  objectd: $OBJECTD"
echo

if ((WARMUP > 0)); then
    for s in "${SERVERS[@]}"; do
        bench_log "warm-up $s ($WARMUP requests)"
        run_one "$s" "$WARMUP" warmup
    done
fi

ticks_ms() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", t * 1000 / hz }'; }

# A run is flagged '*' when other processes used more than 5% of the
# machine's CPU capacity during it (the figures are then suspect).
NOISY=0
declare -A RPS CPU
printf '%-5s %-8s %10s %9s %8s %11s %10s %9s\n' round server 'req/s' requests 'cpu ms' 'cpu us/req' 'client ms' 'other ms'
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
        order=("${SERVERS[@]}")
    else
        mapfile -t order < <(printf '%s\n' "${SERVERS[@]}" | tac)
    fi
    for s in "${order[@]}"; do
        run_one "$s" "$REQUESTS" "r$r"
        RPS[$s]+="$RUN_RPS "
        CPU[$s]+="$RUN_CPU_US "
        flag=$(awk -v o="$RUN_OTHER_TICKS" -v w="$RUN_WALL" -v hz="$CLK_TCK" -v n="$(nproc)" \
            'BEGIN { print (o > 0.05 * w * hz * n) ? "*" : "" }')
        [[ -n $flag ]] && NOISY=$((NOISY + 1))
        printf '%-5s %-8s %10.0f %9d %8s %11.3f %10s %9s %s\n' "$r" "$s" "$RUN_RPS" "$RUN_REQS" \
            "$(ticks_ms "$RUN_TICKS")" "$RUN_CPU_US" "$(ticks_ms "$RUN_CLIENT_TICKS")" \
            "$(ticks_ms "$RUN_OTHER_TICKS")" "$flag"
    done
done

if ((NOISY)); then
    echo "* $NOISY run(s) had other CPU activity on the machine (> 5% of capacity): figures are suspect; rerun on a quiet machine"
fi

# ---------------------------------------------------------------- summary

echo
printf '%-8s %14s %18s   %s\n' server 'median req/s' 'median cpu us/req' 'all req/s'
declare -A MED_RPS MED_CPU
for s in "${SERVERS[@]}"; do
    # shellcheck disable=SC2086
    MED_RPS[$s]=$(bench_median ${RPS[$s]})
    # shellcheck disable=SC2086
    MED_CPU[$s]=$(bench_median ${CPU[$s]})
    # shellcheck disable=SC2086
    printf '%-8s %14.0f %18.3f   %s\n' "$s" "${MED_RPS[$s]}" "${MED_CPU[$s]}" \
        "$(printf '%.0f ' ${RPS[$s]})" # word splitting intended
done

STATUS=0
if [[ -z $ONLY ]]; then
    rps_ratio=$(bench_ratio "${MED_RPS[objectd]}" "${MED_RPS[nginx]}")
    cpu_ratio=$(bench_ratio "${MED_CPU[objectd]}" "${MED_CPU[nginx]}")
    rps_ok=$(awk -v x="$rps_ratio" -v t="$RPS_TARGET" 'BEGIN { print (x != "nan" && x >= t) ? "PASS" : "FAIL" }')
    cpu_ok=$(awk -v x="$cpu_ratio" -v t="$CPU_TARGET" 'BEGIN { print (x != "nan" && x <= t) ? "PASS" : "FAIL" }')
    echo
    printf 'objectd/nginx req/s ratio:       %6s  (target >= %s)  %s\n' "$rps_ratio" "$RPS_TARGET" "$rps_ok"
    printf 'objectd/nginx CPU/request ratio: %6s  (target <= %s)  %s\n' "$cpu_ratio" "$CPU_TARGET" "$cpu_ok"
    # Informational: ratios within each round (the two runs are back to back,
    # so slow drift of the machine's speed cancels out).
    read -r -a o_rps <<<"${RPS[objectd]}"; read -r -a n_rps <<<"${RPS[nginx]}"
    read -r -a o_cpu <<<"${CPU[objectd]}"; read -r -a n_cpu <<<"${CPU[nginx]}"
    pr_rps=() pr_cpu=()
    for ((i = 0; i < ROUNDS; i++)); do
        pr_rps+=("$(bench_ratio "${o_rps[i]}" "${n_rps[i]}")")
        pr_cpu+=("$(bench_ratio "${o_cpu[i]}" "${n_cpu[i]}")")
    done
    printf 'per-round ratios (info): req/s %s (median %.3f); CPU %s (median %.3f)\n' \
        "${pr_rps[*]}" "$(bench_median "${pr_rps[@]}")" "${pr_cpu[*]}" "$(bench_median "${pr_cpu[@]}")"
    ((QUICK)) && echo "(--quick: 1 short round; figures are indicative only)"
fi

# A clean SIGTERM exit (status 0) is part of the objectd contract.
if [[ -n $BENCH_OBJECTD_PID ]]; then
    bench_objectd_stop || STATUS=1
fi
bench_nginx_stop
exit "$STATUS"
