# shellcheck shell=bash
# bench/lib.sh - shared helpers for the objectd benchmark scripts.
#
# Source it from a bash script:   . "$(dirname "$0")/lib.sh"
#
# Provides:
#   bench_log / bench_warn / bench_die      messages on stderr (die exits 1)
#   bench_setup_tmpdir                      mktemp dir in $BENCH_TMP + cleanup trap
#   bench_on_cleanup 'CMD'                  also run CMD in the cleanup trap
#   bench_free_port                         a TCP port nobody listens on
#   bench_wait_http URL SECS                wait until URL answers 200
#   bench_nginx_start PORT WORKERS          private nginx (config in $BENCH_TMP/nginx)
#   bench_nginx_start_servers WORKERS READY_URL BLOCKS   same, own server{} blocks
#   bench_nginx_stop
#   bench_nginx_pids                        master + worker pids
#   bench_objectd_start PORT THREADS        objectd serve --access-log off
#   bench_objectd_stop                      SIGTERM, check exit status 0
#   bench_objectd_spawn NAME PORT THREADS [ARG...]   one of several named instances
#   bench_objectd_kill NAME                 SIGTERM one instance, check exit 0
#   bench_cpu_ticks PID...                  sum of utime+stime (clock ticks)
#   bench_cpu_ticks_tree PID                PID + its live and reaped children
#   bench_sys_busy_ticks                    busy ticks of the whole machine
#   bench_reaped_children_ticks             CPU of reaped children (the client)
#   bench_idle_check SECS                   warn if the machine is already busy
#   bench_standard_db OBJECTD OBJECTS SRC OUT   standard-workload SQLite file at OUT
#   bench_median N...                       median of numbers
#   bench_h2load_run OUTFILE ARGS...        h2load with a bounded run time
#   bench_h2load_parse OUTFILE              "rps requests" or fails loudly
#   bench_h2load_wall_ms OUTFILE            the "finished in" time in ms
#   bench_h2load_data_bytes OUTFILE         body bytes received
#
# All waits are bounded.  Everything started here is killed (by pid) and the
# temp dir removed by the EXIT/INT/TERM trap installed by bench_setup_tmpdir.
#
# Environment knobs (all optional):
#   NGINX=/usr/sbin/nginx   H2LOAD=/usr/bin/h2load   OBJECTD=<repo>/build/objectd
#   RUN_TIMEOUT=300 (seconds per h2load run)   BENCH_KEEP_TMP=1 (keep temp dir)
#   NGINX_LISTEN_OPTS=""  extra words for nginx "listen" (e.g. "reuseport")
#   NGINX_HTTP_EXTRA=""   extra directives for nginx's http{} block
#   BENCH_CURL_OPTS=""    extra curl options for the readiness checks
#                         (--http2-prior-knowledge for h2c listeners)

BENCH_ROOT=${BENCH_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
NGINX=${NGINX:-/usr/sbin/nginx}
H2LOAD=${H2LOAD:-/usr/bin/h2load}
OBJECTD=${OBJECTD:-$BENCH_ROOT/build/objectd}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
CLK_TCK=$(getconf CLK_TCK)

# The exact bytes of objectd's GET /healthz body; nginx serves the same bytes.
BENCH_HEALTHZ_BODY='{"status":"ok"}'

BENCH_TMP=
BENCH_NGINX_PID=
BENCH_OBJECTD_PID=
BENCH_OBJECTD_LOG=
BENCH_CLIENT_PID=
declare -gA BENCH_OBJECTDS=() # bench_objectd_spawn: instance name -> pid
declare -ga BENCH_CLEANUP_CMDS=()

bench_log()  { printf '[bench] %s\n' "$*" >&2; }
bench_warn() { printf '[bench] WARNING: %s\n' "$*" >&2; }
bench_die()  { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- temp + trap

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $BENCH_CLIENT_PID ]]; then
        kill -TERM "$BENCH_CLIENT_PID" 2>/dev/null
        wait "$BENCH_CLIENT_PID" 2>/dev/null
        BENCH_CLIENT_PID=
    fi
    if [[ -n $BENCH_OBJECTD_PID ]]; then
        kill -KILL "$BENCH_OBJECTD_PID" 2>/dev/null
        wait "$BENCH_OBJECTD_PID" 2>/dev/null
        BENCH_OBJECTD_PID=
    fi
    if [[ -n $BENCH_NGINX_PID ]]; then
        bench_nginx_stop 2>/dev/null
    fi
    local name i
    for name in "${!BENCH_OBJECTDS[@]}"; do
        kill -KILL "${BENCH_OBJECTDS[$name]}" 2>/dev/null
        wait "${BENCH_OBJECTDS[$name]}" 2>/dev/null
        unset "BENCH_OBJECTDS[$name]"
    done
    # Registered with bench_on_cleanup; last registered runs first.
    for ((i = ${#BENCH_CLEANUP_CMDS[@]} - 1; i >= 0; i--)); do
        eval "${BENCH_CLEANUP_CMDS[i]}"
    done
    BENCH_CLEANUP_CMDS=()
    if [[ -n $BENCH_TMP && -d $BENCH_TMP ]]; then
        if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then
            bench_log "keeping $BENCH_TMP"
        else
            rm -rf -- "$BENCH_TMP"
        fi
    fi
    return "$rc" # the shell then exits with it (an EXIT trap keeps it)
}

# bench_on_cleanup 'COMMAND': run COMMAND (a string, eval'd) in the cleanup
# trap, after the servers are killed and before the temp dir is removed (e.g.
# stopping a private PostgreSQL whose data lives there).  Keep it bounded.
bench_on_cleanup() {
    BENCH_CLEANUP_CMDS+=("$1")
}

bench_setup_tmpdir() {
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/objectd-bench.XXXXXX") ||
        bench_die "mktemp failed"
    trap bench_cleanup EXIT
    trap 'bench_log "interrupted"; exit 130' INT
    trap 'bench_log "terminated"; exit 143' TERM
}

# ---------------------------------------------------------------- ports / http

# A port in 20000..31999 (below the default ephemeral range, so h2load's own
# client ports cannot collide) that no socket currently listens on.
bench_free_port() {
    local port i
    for ((i = 0; i < 200; i++)); do
        port=$((20000 + RANDOM % 12000))
        [[ " ${BENCH_USED_PORTS:-} " == *" $port "* ]] && continue
        if ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
            BENCH_USED_PORTS="${BENCH_USED_PORTS:-} $port"
            echo "$port"
            return 0
        fi
    done
    bench_die "no free port found"
}

# bench_wait_http URL SECS [PID]: poll until URL gives HTTP 200; fail early if
# PID (the server) dies.
bench_wait_http() {
    local url=$1 pid=${3:-} code deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        code=$(curl -s ${BENCH_CURL_OPTS:-} -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null)
        [[ $code == 200 ]] && return 0
        sleep 0.1
    done
    return 1
}

# bench_check_body URL NAME: the body must be exactly the healthz body + \n.
bench_check_body() {
    local url=$1 name=$2 got want ctype
    want=$(printf '%s\n' "$BENCH_HEALTHZ_BODY" | od -An -tx1 | tr -d ' \n')
    got=$(curl -s ${BENCH_CURL_OPTS:-} -m 5 "$url" | od -An -tx1 | tr -d ' \n')
    [[ $got == "$want" ]] || bench_die "$name: unexpected /healthz body (hex $got)"
    ctype=$(curl -s ${BENCH_CURL_OPTS:-} -m 5 -o /dev/null -w '%{content_type}' "$url")
    [[ $ctype == application/json* ]] ||
        bench_die "$name: unexpected Content-Type '$ctype'"
}

# ---------------------------------------------------------------- nginx

# bench_nginx_start PORT WORKERS
# Writes $BENCH_TMP/nginx/nginx.conf and runs nginx in the foreground of a
# background job ("daemon off;" + master process), so $BENCH_NGINX_PID is the
# master.  Everything nginx writes (pid, error log, temp dirs) stays in the
# temp dir.  Runs as root with "user root;" when we are root.
bench_nginx_start() {
    local port=$1 workers=$2
    bench_nginx_start_servers "$workers" "http://127.0.0.1:$port/healthz" "
    server {
        listen 127.0.0.1:$port ${NGINX_LISTEN_OPTS:-};
        root $BENCH_TMP/nginx/html;
        location = /healthz {
            default_type application/json;
        }
        location / {
            return 404;
        }
    }"
}

# bench_nginx_start_servers WORKERS READY_URL SERVER_BLOCKS
# Like bench_nginx_start, with the given server{} block(s) (text placed at
# the end of the http{} block) instead of the /healthz one.  The document
# root to use is $BENCH_TMP/nginx/html (created, with the healthz file in
# it); READY_URL (fetched with $BENCH_CURL_OPTS) must answer 200 once nginx
# is up.  NGINX_LISTEN_OPTS is not applied here: put it in the blocks.
bench_nginx_start_servers() {
    local workers=$1 ready_url=$2 servers=$3 d=$BENCH_TMP/nginx user_line=
    [[ -x $NGINX ]] || bench_die "nginx not found at $NGINX"
    mkdir -p "$d/html" "$d/tmp" || bench_die "mkdir $d"
    printf '%s\n' "$BENCH_HEALTHZ_BODY" >"$d/html/healthz"
    [[ $(id -u) == 0 ]] && user_line='user root root;'
    cat >"$d/nginx.conf" <<EOF
$user_line
worker_processes $workers;
worker_rlimit_nofile 16384;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    server_tokens off;
    etag off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    ${NGINX_HTTP_EXTRA:-}
$servers
}
EOF
    "$NGINX" -t -q -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
        >"$d/configtest.log" 2>&1 || {
        cat "$d/configtest.log" >&2
        bench_die "nginx config test failed"
    }
    "$NGINX" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
        >>"$d/stdout.log" 2>&1 </dev/null &
    BENCH_NGINX_PID=$!
    if ! bench_wait_http "$ready_url" 10 "$BENCH_NGINX_PID"; then
        tail -n 20 "$d/error.log" "$d/stdout.log" >&2 2>/dev/null
        bench_die "nginx did not come up ($ready_url)"
    fi
    # Wait (bounded) until all workers exist, so the CPU accounting sees them.
    local i n
    for ((i = 0; i < 50; i++)); do
        n=$(pgrep -c -P "$BENCH_NGINX_PID" 2>/dev/null)
        ((${n:-0} >= workers)) && break
        sleep 0.1
    done
    ((${n:-0} == workers)) ||
        bench_die "nginx: expected $workers workers, found ${n:-0}"
}

# Master pid followed by worker pids (one line, space separated, sorted).
bench_nginx_pids() {
    [[ -n $BENCH_NGINX_PID ]] || return 1
    { echo "$BENCH_NGINX_PID"; pgrep -P "$BENCH_NGINX_PID"; } | sort -n | tr '\n' ' ' |
        sed 's/ $//'
}

bench_nginx_stop() {
    local pid=$BENCH_NGINX_PID i
    [[ -n $pid ]] || return 0
    kill -QUIT "$pid" 2>/dev/null # graceful shutdown
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        sleep 0.5
        pkill -KILL -P "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    BENCH_NGINX_PID=
}

# ---------------------------------------------------------------- objectd

# bench_objectd_start PORT THREADS: stderr (JSON log lines) goes to
# $BENCH_TMP/objectd.log.
bench_objectd_start() {
    local port=$1 threads=$2
    [[ -x $OBJECTD ]] || bench_die "objectd binary not found at $OBJECTD (build it first)"
    BENCH_OBJECTD_LOG=$BENCH_TMP/objectd.log
    # objectd reads OBJECTD_<NAME> settings from the environment; drop any so
    # that only the flags below apply.
    local -a unset_env=()
    local v
    for v in $(compgen -e | grep '^OBJECTD_'); do unset_env+=(-u "$v"); done
    # No admin listener: its default port would collide with any other
    # instance (and the figures are the API's alone).
    env "${unset_env[@]}" "$OBJECTD" serve --listen "127.0.0.1:$port" --threads "$threads" \
        --access-log off --admin-listen off >"$BENCH_TMP/objectd.stdout" 2>"$BENCH_OBJECTD_LOG" </dev/null &
    BENCH_OBJECTD_PID=$!
    if ! bench_wait_http "http://127.0.0.1:$port/healthz" 10 "$BENCH_OBJECTD_PID"; then
        tail -n 20 "$BENCH_OBJECTD_LOG" >&2 2>/dev/null
        bench_die "objectd did not come up on port $port"
    fi
}

# SIGTERM, wait up to 10 s, require exit status 0.
bench_objectd_stop() {
    local pid=$BENCH_OBJECTD_PID i rc
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        BENCH_OBJECTD_PID=
        bench_warn "objectd did not exit within 10 s of SIGTERM (killed)"
        return 1
    fi
    wait "$pid"
    rc=$?
    BENCH_OBJECTD_PID=
    if ((rc != 0)); then
        bench_warn "objectd exited with status $rc after SIGTERM"
        tail -n 5 "$BENCH_OBJECTD_LOG" >&2 2>/dev/null
        return 1
    fi
    return 0
}

# bench_objectd_spawn NAME PORT THREADS [ARG...]: one of several objectd
# instances running side by side, told apart by NAME (a word):
#   objectd serve --listen 127.0.0.1:PORT --threads THREADS --access-log off
#       --admin-listen off ARG...
# with any OBJECTD_* environment dropped.  Stderr goes to
# $BENCH_TMP/objectd.NAME.log, stdout to $BENCH_TMP/objectd.NAME.stdout
# (or to $BENCH_STDOUT, a path, when set); the pid is
# ${BENCH_OBJECTDS[NAME]}.  Waits
# (10 s) for GET /healthz.  The cleanup trap kills every instance left.
bench_objectd_spawn() {
    local name=$1 port=$2 threads=$3 log=$BENCH_TMP/objectd.$1.log v
    shift 3
    [[ -x $OBJECTD ]] || bench_die "objectd binary not found at $OBJECTD (build it first)"
    [[ -z ${BENCH_OBJECTDS[$name]:-} ]] || bench_die "objectd instance '$name' already runs"
    local -a unset_env=()
    for v in $(compgen -e | grep '^OBJECTD_'); do unset_env+=(-u "$v"); done
    env "${unset_env[@]}" "$OBJECTD" serve --listen "127.0.0.1:$port" --threads "$threads" \
        --access-log off --admin-listen off "$@" >"${BENCH_STDOUT:-$BENCH_TMP/objectd.$name.stdout}" 2>"$log" </dev/null &
    BENCH_OBJECTDS[$name]=$!
    if ! BENCH_CURL_OPTS='' bench_wait_http "http://127.0.0.1:$port/healthz" 10 "${BENCH_OBJECTDS[$name]}"; then
        tail -n 20 "$log" >&2 2>/dev/null
        bench_die "objectd ($name) did not come up on port $port"
    fi
}

# bench_objectd_kill NAME: SIGTERM, wait up to 10 s (objectd drains in-flight
# requests first), require exit status 0.  Returns 1 (with a warning) if not.
bench_objectd_kill() {
    local name=$1 pid=${BENCH_OBJECTDS[$1]:-} i rc
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        unset "BENCH_OBJECTDS[$name]"
        bench_warn "objectd ($name) did not exit within 10 s of SIGTERM (killed)"
        return 1
    fi
    wait "$pid"
    rc=$?
    unset "BENCH_OBJECTDS[$name]"
    if ((rc != 0)); then
        bench_warn "objectd ($name) exited with status $rc after SIGTERM"
        tail -n 5 "$BENCH_TMP/objectd.$name.log" >&2 2>/dev/null
        return 1
    fi
    return 0
}

# ---------------------------------------------------------------- CPU

# bench_cpu_ticks PID...: sum of utime+stime (fields 14, 15 of /proc/PID/stat)
# over the given processes, in clock ticks (1/CLK_TCK s).  For a process this
# already includes all of its threads.  The comm field (2) can contain spaces,
# so fields are counted after the last ')'.  Fails if a pid is gone.
bench_cpu_ticks() {
    local pid stat rest total=0
    local -a f
    for pid in "$@"; do
        read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
        rest=${stat##*) }     # starts at field 3
        read -r -a f <<<"$rest"
        # f[0] is field 3, so field 14 is f[11] and field 15 is f[12]
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# Busy CPU ticks of the whole machine (all CPUs) from the first line of
# /proc/stat: user+nice+system+irq+softirq+steal (idle and iowait excluded).
bench_sys_busy_ticks() {
    local _cpu user nice system _idle _iowait irq softirq steal _rest
    read -r _cpu user nice system _idle _iowait irq softirq steal _rest </proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}

# CPU ticks (cutime+cstime, fields 16, 17) of the children this shell has
# reaped - e.g. the h2load runs, once waited for.  Must be called from the
# main shell's process tree ($$ is the main shell even in $(...)).
bench_reaped_children_ticks() {
    local stat rest
    local -a f
    read -r stat <"/proc/$$/stat" || return 1
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    echo $((f[13] + f[14]))
}

# bench_cpu_ticks_tree PID: CPU (clock ticks) of PID, of its children that
# have exited and been reaped (cutime+cstime), and of its live children -
# for servers that fork per connection, such as the PostgreSQL postmaster
# and its backends.  A child that exits between the listing and the reading
# is missed (it is then counted in the parent's cutime at the next call).
bench_cpu_ticks_tree() {
    local pid=$1 stat rest total child
    local -a f
    read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    total=$((f[11] + f[12] + f[13] + f[14]))
    for child in $(pgrep -P "$pid"); do
        read -r stat 2>/dev/null <"/proc/$child/stat" || continue
        rest=${stat##*) }
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# bench_standard_db OBJECTD OBJECTS SRC OUT: the standard workload of
# OBJECTS objects (SPEC.md section 4, seed 1, ending 2026-01-01) as a SQLite
# file at OUT: a copy of SRC if given, else seeded by OBJECTD (bounded).
bench_standard_db() {
    local bin=$1 objects=$2 src=$3 out=$4
    if [[ -n $src ]]; then
        cp "$src" "$out" || bench_die "cannot copy $src"
        return
    fi
    bench_log "seeding $objects objects with $bin"
    timeout -k 10 900 "$bin" seed --db "sqlite:$out" --objects "$objects" \
        --days 30 --interval 30m --seed 1 --end 2026-01-01T00:00:00Z \
        >"$out.seed.log" 2>&1 </dev/null || {
        tail -n 5 "$out.seed.log" >&2
        bench_die "objectd seed failed"
    }
}

# bench_idle_check SECS: warn when the machine is already busy (other jobs
# would skew the figures).  Prints the busy fraction in % of all CPUs.
bench_idle_check() {
    local secs=${1:-1} b0 b1 w0 w1 pct
    w0=$EPOCHREALTIME
    b0=$(bench_sys_busy_ticks)
    sleep "$secs"
    b1=$(bench_sys_busy_ticks)
    w1=$EPOCHREALTIME
    pct=$(awk -v d=$((b1 - b0)) -v s="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" \
        -v hz="$CLK_TCK" -v n="$(nproc)" \
        'BEGIN { printf "%.0f", 100 * d / (s * hz * n) }')
    if ((pct > 10)); then
        bench_warn "machine is ${pct}% busy before the benchmark (other jobs running?) - figures will be noisy"
    fi
    echo "$pct"
}

# bench_cpu_us_per_req TICKS_DELTA REQUESTS
bench_cpu_us_per_req() {
    awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" \
        'BEGIN { printf "%.3f", (t * 1000000 / hz) / n }'
}

# ---------------------------------------------------------------- stats

bench_median() {
    printf '%s\n' "$@" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
            else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

# bench_ratio A B -> A/B
bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.3f", a / b }'
}

# ---------------------------------------------------------------- h2load

# bench_h2load_run OUTFILE ARGS...: run h2load, killed after $RUN_TIMEOUT s.
# Runs as a background job + wait, so Ctrl-C reaches our trap immediately
# (bash defers traps until a foreground command returns).
bench_h2load_run() {
    local out=$1 rc
    shift
    timeout -k 5 "$RUN_TIMEOUT" "$H2LOAD" "$@" >"$out" 2>&1 </dev/null &
    BENCH_CLIENT_PID=$!
    wait "$BENCH_CLIENT_PID"
    rc=$?
    BENCH_CLIENT_PID=
    if ((rc == 124 || rc == 137)); then
        bench_warn "h2load timed out after ${RUN_TIMEOUT}s"
    fi
    return "$rc"
}

# bench_h2load_parse OUTFILE: prints "REQ_PER_S TOTAL_REQUESTS".  Returns 1
# (with a message) when the run is not a valid measurement: any failed,
# errored or timed-out request, succeeded != total, non-2xx status, or
# unparsable output.
bench_h2load_parse() {
    local out=$1
    awk '
        /^finished in / {
            for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^req\/s/) { rps = $i; sub(/,$/, "", rps) }
        }
        /^requests: / {
            # requests: T total, S started, D done, OK succeeded, F failed, E errored, TO timeout
            for (i = 2; i <= NF; i++) { k = $(i + 1); sub(/,$/, "", k); v = $i; r[k] = v + 0; seen[k] = 1 }
        }
        /^status codes: / {
            s2xx = $3 + 0; have_status = 1
        }
        END {
            if (rps == "" || !seen["total"] || !seen["succeeded"] || !seen["failed"] ||
                !seen["errored"] || !seen["timeout"] || !have_status) {
                print "cannot parse h2load output" > "/dev/stderr"; exit 1
            }
            bad = 0
            if (r["total"] == 0) { print "h2load ran 0 requests" > "/dev/stderr"; bad = 1 }
            if (r["failed"] || r["errored"] || r["timeout"]) {
                printf "h2load: %d failed, %d errored, %d timeout\n", r["failed"], r["errored"], r["timeout"] > "/dev/stderr"; bad = 1
            }
            if (r["succeeded"] != r["total"] || r["done"] != r["total"]) {
                printf "h2load: %d succeeded / %d done of %d total\n", r["succeeded"], r["done"], r["total"] > "/dev/stderr"; bad = 1
            }
            if (s2xx != r["total"]) {
                printf "h2load: only %d of %d responses were 2xx\n", s2xx, r["total"] > "/dev/stderr"; bad = 1
            }
            if (bad) exit 1
            printf "%s %d\n", rps, r["total"]
        }' "$out"
}

# bench_h2load_wall_ms OUTFILE: h2load's "finished in" time, in ms.  h2load
# prints it in us, ms or s with two decimals, so from 1 s up (10 ms steps)
# it is worked out from the req/s figure and the succeeded count instead.
bench_h2load_wall_ms() {
    awk '
        /^finished in / {
            v = $3; sub(/,$/, "", v); rps = $4 + 0
            if (v ~ /us$/) { sub(/us$/, "", v); ms = v / 1000 }
            else if (v ~ /ms$/) { sub(/ms$/, "", v); ms = v + 0 }
            else if (v ~ /s$/) { sub(/s$/, "", v); ms = v * 1000; secs = 1 }
            else exit 1
            found = 1
        }
        /^requests: / {
            for (i = 2; i <= NF; i++) if ($(i + 1) ~ /^succeeded/) ok = $i + 0
        }
        END {
            if (!found) exit 1
            if (secs && rps > 0 && ok > 0) ms = ok * 1000 / rps
            printf "%.3f\n", ms
        }' "$1"
}

# bench_h2load_data_bytes OUTFILE: response body bytes received ("traffic:
# ... (N) data").
bench_h2load_data_bytes() {
    sed -n 's/^traffic: .*(\([0-9]*\)) data.*/\1/p' "$1" | grep . || return 1
}
