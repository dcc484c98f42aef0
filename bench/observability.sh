#!/usr/bin/env bash
# bench/observability.sh - what observability costs objectd (issue 7).
#
#   bench/observability.sh            5 rounds x 100000 requests per config
#   bench/observability.sh --quick    1 round x 10000 requests (smoke test)
#   TRACE_RATIO=0.1 bench/observability.sh   tracing at 10% instead of 100%
#   ACCESS_LOG=file bench/observability.sh   access log to a file (see below)
#   SERVER_CPUS=0 CLIENT_CPUS=1               the pinning (see below);
#   PIN=0                                     no pinning
#
# Part 1, peak throughput on a database-backed route: GET
# /api/v1/objects/{id} (SQLite) over h2c, h2load -c $CONNS -m $STREAMS,
# against two objectd instances running side by side:
#   off: --access-log off --admin-listen off (no tracing)
#   on:  the access log, the admin listener scraped for /metrics every
#        second during the run, and tracing at 100% sampling into a live
#        OTLP/HTTP receiver (a small Python one that counts the spans).
#        The access log goes where objectd sends it by default, stdout, and
#        stdout is a pipe to a collector process (cat, appending to a file)
#        - what a container runtime does with a container's stdout; like the
#        receiver, the collector runs on the client CPUs. ACCESS_LOG=file
#        makes objectd write the file itself (--access-log PATH): the
#        page-cache work of the writes is then objectd's (about 0.8 us per
#        request on the 2-vCPU test VM - docs/observability.md).
# The two alternate, the order swapping every round; a run with any failed
# request is not a measurement (the script stops). Prints req/s and the
# server's CPU per request (utime+stime from /proc, all threads) for every
# run, then medians and the ratio on/off (target >= 0.97) - and the median
# of the per-round ratios, which a load that drifts during the run (other
# work on the machine) disturbs less - and checks that the receiver got two
# spans per request of the "on" runs (one SERVER, one CLIENT for the query)
# minus what objectd says it dropped.
#
# Pinning (on a machine with 2 or more CPUs, unless PIN=0): both objectd
# instances, every thread, run on SERVER_CPUS (default: CPU 0); h2load, the
# receiver and the scraper on CLIENT_CPUS (default: the others). Unpinned,
# the receiver's and h2load's CPU compete with the server's, so the ratio
# measures the whole machine (collector included), not what observability
# costs objectd; pinned, it is the server's own cost on its own core(s).
#
# Part 1b, side by side: both instances loaded at once for $SIDE_SECONDS s,
# $SIDE_ROUNDS times, each by its own h2load, on the same CPU(s): whatever
# the machine does at that moment slows both alike, so each one's CPU time
# per request (from /proc) compares the two more precisely than runs
# minutes apart (this VM's speed drifts by tens of percent between them).
# Prints the cost ratio on/off per round and its median (req/s here says
# nothing: the scheduler shares the CPU by thread, and "on" has one more).
#
# Part 2, idle: the "on" instance (everything enabled) after its traffic,
# left alone for $IDLE_SECONDS: its CPU (schedstat of every thread, ns) in %
# of one core (target < 0.5%) and its wake-ups per second - the increase of
# voluntary + involuntary context switches over all its threads (target
# <= 5/s).
#
# Exit status 0 when every run was valid (whether or not targets were met).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-100000}
CONNS=${CONNS:-8}
STREAMS=${STREAMS:-10}
THREADS=${THREADS:-1}
IDLE_SECONDS=${IDLE_SECONDS:-10}
SIDE_ROUNDS=${SIDE_ROUNDS:-3}
SIDE_SECONDS=${SIDE_SECONDS:-4}
ACCESS_LOG=${ACCESS_LOG:-stdout}
[[ $ACCESS_LOG == stdout || $ACCESS_LOG == file ]] ||
    bench_die "ACCESS_LOG must be stdout or file, not '$ACCESS_LOG'"
TRACE_RATIO=${TRACE_RATIO:-1} # the issue's "everything on": 100% sampling
if [[ ${1:-} == --quick ]]; then
    ROUNDS=1
    REQUESTS=10000
    SIDE_ROUNDS=1
    SIDE_SECONDS=1
fi

[[ -x $H2LOAD ]] || bench_die "h2load not found at $H2LOAD"
bench_setup_tmpdir
busy=$(bench_idle_check 1)
bench_log "machine busy before: ${busy}%; $ROUNDS rounds x $REQUESTS requests," \
    "h2c -c $CONNS -m $STREAMS, objectd --threads $THREADS"

NCPU=$(nproc)
if [[ ${PIN:-1} == 1 ]] && ((NCPU >= 2)); then
    SERVER_CPUS=${SERVER_CPUS:-0}
    CLIENT_CPUS=${CLIENT_CPUS:-1-$((NCPU - 1))}
    bench_log "pinned: objectd on CPU $SERVER_CPUS; h2load, receiver, scraper on CPU $CLIENT_CPUS"
else
    SERVER_CPUS= CLIENT_CPUS=
    bench_log "not pinned: objectd, h2load and the receiver share every CPU"
fi

# ---- the OTLP receiver: counts spans, answers 200 ---------------------
# Raw sockets rather than http.server: the receiver stands for a collector
# on another machine, so it should cost this one as little as it can (it
# reads each body into one reused buffer and counts the spans in place).
RX_PORT=$(bench_free_port)
cat >"$BENCH_TMP/receiver.py" <<'PY'
import socket, sys, threading
spans = 0
lock = threading.Lock()

def serve(c):
    global spans
    buf = bytearray(4 << 20)
    view = memoryview(buf)
    pending = b""
    with c:
        while True:
            while b"\r\n\r\n" not in pending:
                d = c.recv(65536)
                if not d:
                    return
                pending += d
            head, pending = pending.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            n = 0
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            close = b"connection: close" in head.lower()
            if lines[0].startswith(b"GET"):
                with lock:
                    b = str(spans).encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                          % (len(b), b))
            else:
                if n > len(buf):
                    buf = bytearray(n)
                    view = memoryview(buf)
                got = min(len(pending), n)
                view[:got] = pending[:got]
                pending = pending[got:]
                while got < n:
                    r = c.recv_into(view[got:n])
                    if r == 0:
                        return
                    got += r
                k = buf.count(b'"spanId"', 0, n)
                with lock:
                    spans += k
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json"
                          b"\r\nContent-Length: 2\r\n\r\n{}")
            if close:
                return

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
python3 "$BENCH_TMP/receiver.py" "$RX_PORT" >"$BENCH_TMP/receiver.log" 2>&1 &
RX_PID=$!
bench_on_cleanup "kill $RX_PID 2>/dev/null" # (a wait here trips a bash bug in traps)
bench_wait_http "http://127.0.0.1:$RX_PORT/" 10 "$RX_PID" || bench_die "receiver did not start"
rx_spans() { curl -s -m 5 "http://127.0.0.1:$RX_PORT/"; }

# ---- the two instances --------------------------------------------------
OFF_PORT=$(bench_free_port)
ON_PORT=$(bench_free_port)
ADMIN_PORT=$(bench_free_port)
bench_objectd_spawn off "$OFF_PORT" "$THREADS" --db "sqlite:$BENCH_TMP/off.db" \
    --admin-listen off
if [[ $ACCESS_LOG == stdout ]]; then
    mkfifo "$BENCH_TMP/access.fifo"
    cat <"$BENCH_TMP/access.fifo" >>"$BENCH_TMP/access.log" &
    # No cleanup command for it: it ends with objectd (end of file on the
    # pipe), and a kill of it from the exit trap made bash 5.2 print
    # "pop_var_context" and skip the rest of the trap.
    COLLECTOR_PID=$!
    BENCH_STDOUT=$BENCH_TMP/access.fifo
    bench_objectd_spawn on "$ON_PORT" "$THREADS" \
        --db "sqlite:$BENCH_TMP/on.db" --admin-listen "127.0.0.1:$ADMIN_PORT" --access-log - \
        --otlp-endpoint "http://127.0.0.1:$RX_PORT/v1/traces" --trace-sample-ratio "$TRACE_RATIO"
    BENCH_STDOUT=
    bench_log "access log: objectd's stdout, a pipe to a collector appending to a file"
else
    COLLECTOR_PID=
    bench_objectd_spawn on "$ON_PORT" "$THREADS" --db "sqlite:$BENCH_TMP/on.db" \
        --admin-listen "127.0.0.1:$ADMIN_PORT" --access-log "$BENCH_TMP/access.log" \
        --otlp-endpoint "http://127.0.0.1:$RX_PORT/v1/traces" --trace-sample-ratio "$TRACE_RATIO"
    bench_log "access log: a file objectd writes"
fi
for port in "$OFF_PORT" "$ON_PORT"; do
    curl -sf -m 5 -o /dev/null -H 'content-type: application/json' \
        -d '{"type":"bench","name":"o","attributes":{"k":"v"}}' \
        "http://127.0.0.1:$port/api/v1/objects" || bench_die "cannot create the object"
done
if [[ -n $SERVER_CPUS ]]; then
    # Every thread of each objectd (threads made later inherit it), then
    # this shell, whose children - h2load, curl - inherit the client CPUs.
    taskset -a -p -c "$SERVER_CPUS" "${BENCH_OBJECTDS[on]}" >/dev/null
    taskset -a -p -c "$SERVER_CPUS" "${BENCH_OBJECTDS[off]}" >/dev/null
    taskset -a -p -c "$CLIENT_CPUS" "$RX_PID" >/dev/null
    [[ -z $COLLECTOR_PID ]] || taskset -p -c "$CLIENT_CPUS" "$COLLECTOR_PID" >/dev/null
    taskset -p -c "$CLIENT_CPUS" $$ >/dev/null
fi
# The access log option above overrides the spawn's --access-log off (last
# one wins); make sure it did.
sleep 0.5
[[ -s $BENCH_TMP/access.log ]] || bench_die "the 'on' instance writes no access log"

scrape_loop() { # scrapes /metrics once a second until killed (bounded)
    local i
    for ((i = 0; i < 600; i++)); do
        curl -s -m 2 -o /dev/null "http://127.0.0.1:$ADMIN_PORT/metrics" || true
        sleep 1
    done
}

declare -a RPS_ON=() RPS_OFF=() CPU_ON=() CPU_OFF=() RX_CPU=() PAIRED=()
ON_REQUESTS=0
run_one() { # name port round
    local name=$1 port=$2 out=$BENCH_TMP/h2load.$1.$3 pid t0 t1 r0 r1 rps total cpu rx scraper=
    pid=${BENCH_OBJECTDS[$name]}
    [[ $name == on ]] && { scrape_loop & scraper=$!; }
    t0=$(bench_cpu_ticks "$pid")
    r0=$(bench_cpu_ticks "$RX_PID")
    bench_h2load_run "$out" -n "$REQUESTS" -c "$CONNS" -m "$STREAMS" -t 1 \
        "http://127.0.0.1:$port/api/v1/objects/1" || true
    t1=$(bench_cpu_ticks "$pid")
    r1=$(bench_cpu_ticks "$RX_PID")
    if [[ -n $scraper ]]; then kill "$scraper" 2>/dev/null; wait "$scraper" 2>/dev/null || true; fi
    read -r rps total < <(bench_h2load_parse "$out") ||
        bench_die "$name round $3: not a valid measurement (see above)"
    cpu=$(bench_cpu_us_per_req $((t1 - t0)) "$total")
    rx=$(bench_cpu_us_per_req $((r1 - r0)) "$total")
    printf '%-4s round %d  %10.0f req/s  %8s us CPU/req  (receiver %s us/req)\n' \
        "$name" "$3" "$rps" "$cpu" "$rx"
    if [[ $name == on ]]; then
        RPS_ON+=("$rps"); CPU_ON+=("$cpu"); RX_CPU+=("$rx")
        ON_REQUESTS=$((ON_REQUESTS + total))
    else
        RPS_OFF+=("$rps"); CPU_OFF+=("$cpu")
    fi
}

# Warm-up (not counted): caches, the receiver, page faults.
bench_h2load_run "$BENCH_TMP/warm.off" -n "$REQUESTS" -c "$CONNS" -m "$STREAMS" \
    "http://127.0.0.1:$OFF_PORT/api/v1/objects/1" || true
bench_h2load_run "$BENCH_TMP/warm.on" -n "$REQUESTS" -c "$CONNS" -m "$STREAMS" \
    "http://127.0.0.1:$ON_PORT/api/v1/objects/1" || true
bench_h2load_parse "$BENCH_TMP/warm.on" >/dev/null || bench_die "warm-up failed"
WARM_REQ=$(bench_h2load_parse "$BENCH_TMP/warm.on" | cut -d' ' -f2)

for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
        run_one off "$OFF_PORT" "$r"
        run_one on "$ON_PORT" "$r"
    else
        run_one on "$ON_PORT" "$r"
        run_one off "$OFF_PORT" "$r"
    fi
    PAIRED+=("$(bench_ratio "${RPS_ON[-1]}" "${RPS_OFF[-1]}")")
done

m_on=$(bench_median "${RPS_ON[@]}")
m_off=$(bench_median "${RPS_OFF[@]}")
c_on=$(bench_median "${CPU_ON[@]}")
c_off=$(bench_median "${CPU_OFF[@]}")
ratio=$(bench_ratio "$m_on" "$m_off")
echo
printf 'median req/s      off %10.0f   on %10.0f   on/off %s (target >= 0.97)\n' \
    "$m_off" "$m_on" "$ratio"
printf 'median of the %d per-round ratios on/off: %s (%s)\n' "$ROUNDS" \
    "$(bench_median "${PAIRED[@]}")" "${PAIRED[*]}"
printf 'median CPU us/req off %10s   on %10s   on/off %s (objectd, all threads)\n' \
    "$c_off" "$c_on" "$(bench_ratio "$c_on" "$c_off")"
printf 'median receiver CPU us/req (on): %s - the OTLP receiver shares this machine\n' \
    "$(bench_median "${RX_CPU[@]}")"

# ---- side by side ---------------------------------------------------------
declare -a SIDE=()
for ((r = 1; r <= SIDE_ROUNDS; r++)); do
    t_off0=$(bench_cpu_ticks "${BENCH_OBJECTDS[off]}")
    t_on0=$(bench_cpu_ticks "${BENCH_OBJECTDS[on]}")
    timeout -k 5 "$RUN_TIMEOUT" "$H2LOAD" -D "$SIDE_SECONDS" -c "$CONNS" -m "$STREAMS" -t 1 \
        "http://127.0.0.1:$OFF_PORT/api/v1/objects/1" >"$BENCH_TMP/side.off" 2>&1 </dev/null &
    side_off=$!
    timeout -k 5 "$RUN_TIMEOUT" "$H2LOAD" -D "$SIDE_SECONDS" -c "$CONNS" -m "$STREAMS" -t 1 \
        "http://127.0.0.1:$ON_PORT/api/v1/objects/1" >"$BENCH_TMP/side.on" 2>&1 </dev/null &
    side_on=$!
    wait "$side_off" "$side_on" || true
    t_off1=$(bench_cpu_ticks "${BENCH_OBJECTDS[off]}")
    t_on1=$(bench_cpu_ticks "${BENCH_OBJECTDS[on]}")
    read -r _ n_off < <(bench_h2load_parse "$BENCH_TMP/side.off") ||
        bench_die "side by side round $r (off): not a valid measurement"
    read -r _ n_on < <(bench_h2load_parse "$BENCH_TMP/side.on") ||
        bench_die "side by side round $r (on): not a valid measurement"
    ON_REQUESTS=$((ON_REQUESTS + n_on))
    c_off_s=$(bench_cpu_us_per_req $((t_off1 - t_off0)) "$n_off")
    c_on_s=$(bench_cpu_us_per_req $((t_on1 - t_on0)) "$n_on")
    SIDE+=("$(bench_ratio "$c_on_s" "$c_off_s")")
    printf 'side by side %d: off %6d req %8s us CPU/req   on %6d req %8s us CPU/req   on/off %s\n' \
        "$r" "$n_off" "$c_off_s" "$n_on" "$c_on_s" "${SIDE[-1]}"
done
if ((SIDE_ROUNDS > 0)); then
    side_m=$(bench_median "${SIDE[@]}")
    printf 'side by side: CPU per request on/off, median %s - throughput ratio this implies %s\n' \
        "$side_m" "$(bench_ratio 1 "$side_m")"
fi

# Every "on" request: a SERVER span and one CLIENT span (object_get), plus
# the warm-up and the create; what objectd dropped is in its metrics.
sleep 3 # the flush timer (200 ms), the batch wait (1 s), the POST
dropped=$(curl -s -m 5 "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '$1 == "objectd_trace_spans_dropped_total" { print $2 }')
got=$(rx_spans)
want=$((2 * (ON_REQUESTS + WARM_REQ + 1)))
if [[ $TRACE_RATIO == 1 ]]; then
    printf 'spans received %s, expected %s, dropped (objectd) %s\n' "$got" "$want" "${dropped:-?}"
    (( got + ${dropped:-0} >= want )) || bench_warn "spans missing beyond those counted as dropped"
else
    printf 'spans received %s of %s at ratio %s, dropped (objectd) %s\n' "$got" "$want" \
        "$TRACE_RATIO" "${dropped:-?}"
fi

# ---- idle ----------------------------------------------------------------
pid=${BENCH_OBJECTDS[on]}
sched_ns() { # CPU ns of every thread of $1
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d\n", s }'
}
switches() { # voluntary + involuntary context switches of every thread of $1
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { printf "%d\n", s }'
}
sleep 2 # the flush timer (200 ms), then the last span batch (up to 1 s)
s0=$(sched_ns "$pid"); w0=$(switches "$pid"); t0=$EPOCHREALTIME
sleep "$IDLE_SECONDS"
s1=$(sched_ns "$pid"); w1=$(switches "$pid"); t1=$EPOCHREALTIME
awk -v s=$((s1 - s0)) -v w=$((w1 - w0)) -v a="$t0" -v b="$t1" 'BEGIN {
    d = b - a
    printf "idle %.1f s (everything on): CPU %.4f%% of one core (target < 0.5%%), %.1f wake-ups/s (%d; target <= 5)\n",
        d, 100 * s / (d * 1e9), w / d, w
}'
bench_objectd_kill on
bench_objectd_kill off
# The collector ends with the "on" instance (end of file on the pipe).
[[ -z $COLLECTOR_PID ]] || wait "$COLLECTOR_PID" 2>/dev/null || true
