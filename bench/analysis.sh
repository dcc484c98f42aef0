#!/usr/bin/env bash
# bench/analysis.sh - GET /api/v1/objects/{id}/analysis for every object of
# the standard workload: objectd (SQLite and PostgreSQL; analysis cache warm,
# cold, and the first pass of a fresh server) against nginx serving the same
# bodies as static files - the speed limit for those bytes.
#
# Usage: bench/analysis.sh [--quick]
#
#   --quick            ROUNDS=1, SKIP_PG=1 (smoke test)
#
# Environment:
#   ROUNDS=5           alternating rounds (order reversed every other round)
#   SKIP_PG=0          1 = SQLite only
#   THREADS=2          objectd --threads and nginx worker_processes
#   FIRST_PASS=1       also time the first pass of a fresh objectd (cache on)
#   WARMUP=1           one unrecorded run per server and scenario first
#   H1_CONNS=6         HTTP/1.1 connections in the h1 scenario
#   H1_SPLIT=1         h1: one `h2load --h1 -c 1` per connection, each on its
#                      own slice of the URIs, started together (so all the
#                      objects are asked for); 0 = one `h2load --h1 -c 6`,
#                      whose clients all start at the first URI
#   SCENARIOS="h2c h1" which scenarios to run
#   DATA_DIR=/tmp/objectd-bench-data   the seeded SQLite file is kept here,
#                      per seed parameters and objectd binary (3 kept)
#   RESEED=0           1 = seed the SQLite file again
#   SEED_TIMEOUT=900   seconds for one `objectd seed`
#   RUN_TIMEOUT=120    seconds for one h2load run
#   NGINX_H2_EXTRA="sendfile off;"  NGINX_H1_EXTRA="sendfile on; tcp_nopush on;"
#                      directives for nginx's h2c / HTTP/1.1 server{}
#   OBJECTD, NGINX, H2LOAD, BENCH_KEEP_TMP, NGINX_HTTP_EXTRA: see bench/lib.sh
#
# Exit status: 0 when every run was a valid measurement (the targets may
# still FAIL - that is reported, not an error); non-zero on any failed
# request, wrong body size or setup error.  See bench/README.md.

set -u
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; }

QUICK=0
while (($#)); do
    case $1 in
    --quick) QUICK=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; bench_die "unknown argument: $1" ;;
    esac
    shift
done

if ((QUICK)); then
    ROUNDS=1
    SKIP_PG=1
fi
ROUNDS=${ROUNDS:-5}
SKIP_PG=${SKIP_PG:-0}
THREADS=${THREADS:-2}
FIRST_PASS=${FIRST_PASS:-1}
WARMUP=${WARMUP:-1}
H1_CONNS=${H1_CONNS:-6}
H1_SPLIT=${H1_SPLIT:-1}
RESEED=${RESEED:-0}
SEED_TIMEOUT=${SEED_TIMEOUT:-900}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
DATA_DIR=${DATA_DIR:-/tmp/objectd-bench-data}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
# The standard workload (objectd seed's defaults, spelled out so that the
# cached file's name says what is in it).
OBJECTS=${OBJECTS:-500}
SEED_DAYS=30
SEED_INTERVAL=30m
SEED_SEED=1
SEED_END=2026-01-01T00:00:00Z
for v in ROUNDS SKIP_PG THREADS FIRST_PASS WARMUP H1_CONNS H1_SPLIT RESEED \
    SEED_TIMEOUT RUN_TIMEOUT OBJECTS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || bench_die "$v must be a non-negative integer (got '${!v}')"
done
((ROUNDS >= 1 && THREADS >= 1 && H1_CONNS >= 1 && OBJECTS >= H1_CONNS)) ||
    bench_die "ROUNDS, THREADS, H1_CONNS must be >= 1 and OBJECTS >= H1_CONNS"

# nginx at its best for these files: cached open/fstat, as many concurrent
# streams per connection as h2load asks for; sendfile for HTTP/1.1 but not
# for h2c, where nginx 1.22 is 2-4x slower with it (a sendfile per 8k DATA
# frame) - hence one server{} per listener.
NGINX_HTTP_EXTRA=${NGINX_HTTP_EXTRA-open_file_cache max=$((OBJECTS * 2)) inactive=300s; http2_max_concurrent_streams $OBJECTS;}
NGINX_H2_EXTRA=${NGINX_H2_EXTRA-sendfile off;}
NGINX_H1_EXTRA=${NGINX_H1_EXTRA-sendfile on; tcp_nopush on;}
export NGINX_HTTP_EXTRA

WARM_TARGET=1.5 # objectd (SQLite, cache warm) wall time <= 1.5 x nginx
COLD_TARGET=6   # objectd (SQLite, cache off)  wall time <= 6 x nginx

SCENARIOS=${SCENARIOS:-h2c h1}
read -r -a SCENARIOS <<<"$SCENARIOS"
((${#SCENARIOS[@]})) || bench_die "SCENARIOS is empty"
for scen in "${SCENARIOS[@]}"; do
    [[ $scen == h2c || $scen == h1 ]] || bench_die "SCENARIOS: h2c and/or h1 (got '$scen')"
done

# The cached file is named by the seed's parameters and by the objectd
# binary that wrote it (a hash of the file): what seed writes changes with
# the code (generator, store backend), and a stale file would be measured
# without anyone noticing.  Rebuilding objectd therefore means seeding
# again (~15-30 s); the 3 most recently used files are kept.
SEED_PREFIX="standard-o$OBJECTS-d$SEED_DAYS-i$SEED_INTERVAL-s$SEED_SEED-end${SEED_END%%T*}"
SEED_FLAGS=(--objects "$OBJECTS" --days "$SEED_DAYS" --interval "$SEED_INTERVAL"
    --seed "$SEED_SEED" --end "$SEED_END")

# ---------------------------------------------------------------- preflight

for tool in curl ss pgrep timeout awk cmp flock sha256sum; do
    command -v "$tool" >/dev/null || bench_die "required tool '$tool' not found"
done
[[ -x $H2LOAD ]] || bench_die "h2load not found at $H2LOAD"
[[ -x $NGINX ]] || bench_die "nginx not found at $NGINX"
[[ -x $OBJECTD ]] || bench_die "objectd binary not found at $OBJECTD (build it first)"
OBJECTD_SHA=$(sha256sum "$OBJECTD" | cut -c1-12)
SEED_NAME=$SEED_PREFIX-objectd-$OBJECTD_SHA
SEED_DB=$DATA_DIR/$SEED_NAME.db
((BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1))) ||
    bench_die "bash >= 5.1 needed (wait -n -p)"
if ((!SKIP_PG)); then
    [[ -x $PG_BIN/initdb ]] || bench_die "no PostgreSQL at $PG_BIN (or set SKIP_PG=1)"
fi
if pgrep -x nginx >/dev/null; then
    bench_warn "other nginx processes are running (pids: $(pgrep -x nginx | tr '\n' ' '))- they may steal CPU"
fi

read -r LOAD1 LOAD5 LOAD15 _ </proc/loadavg
BUSY_START=$(bench_idle_check 1)
bench_log "machine before start: load average $LOAD1 $LOAD5 $LOAD15, ${BUSY_START}% busy"
bench_setup_tmpdir

# Split h1 clients (see start_split_clients); killed by the cleanup trap.
SPLIT_PIDS=() RUN_GATE_FDS=()
# shellcheck disable=SC2317 # called from the cleanup trap
kill_split_clients() {
    local p fd
    for fd in "${RUN_GATE_FDS[@]}"; do exec {fd}>&-; done
    for p in "${SPLIT_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${SPLIT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    SPLIT_PIDS=()
}
bench_on_cleanup kill_split_clients

# run_bg OUT ERR CMD...: run CMD (stdin /dev/null, stdout to OUT, stderr to
# ERR; "-" = leave it as it is) as a background job and wait for it, so that a signal reaches our
# trap at once (bash runs traps only between foreground commands); the
# cleanup trap kills it.  (Redirect here, not around the call: that would
# also redirect the trap's own messages.)
BG_PID=
run_bg() {
    local rc out=$1 err=$2
    shift 2
    if [[ $out == - ]]; then
        "$@" </dev/null &
    else
        "$@" >"$out" 2>"$err" </dev/null &
    fi
    BG_PID=$!
    wait "$BG_PID"
    rc=$?
    BG_PID=
    return "$rc"
}
# shellcheck disable=SC2317 # called from the cleanup trap
kill_bg() {
    if [[ -n $BG_PID ]]; then
        kill -TERM "$BG_PID" 2>/dev/null
        wait "$BG_PID" 2>/dev/null
        BG_PID=
    fi
}
bench_on_cleanup kill_bg

secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- data

# seed DB_URI LOG: objectd seed with the standard flags, bounded.
seed() {
    local -a unset_env=()
    local v
    for v in $(compgen -e | grep '^OBJECTD_'); do unset_env+=(-u "$v"); done
    run_bg "$2" "$2.err" timeout -k 10 "$SEED_TIMEOUT" env "${unset_env[@]}" "$OBJECTD" seed \
        --db "$1" "${SEED_FLAGS[@]}"
    local rc=$?
    cat "$2.err" >>"$2"
    return "$rc"
}

# The seeded SQLite file is cached in $DATA_DIR (seeding takes ~30 s); a
# seed goes to a temporary name first and is renamed once complete, under a
# lock so that two runs of this script do not seed at the same time.
mkdir -p "$DATA_DIR" || bench_die "mkdir $DATA_DIR"
exec {LOCK_FD}>"$DATA_DIR/.seed.lock" || bench_die "cannot open $DATA_DIR/.seed.lock"
run_bg - - flock -w "$SEED_TIMEOUT" "$LOCK_FD" || bench_die "timed out waiting for $DATA_DIR/.seed.lock"
SQLITE_SEED_SECS=cached
if ((RESEED)) || [[ ! -s $SEED_DB ]]; then
    tmpdb=$DATA_DIR/.$SEED_NAME.$$.db
    rm -f "$tmpdb" "$tmpdb-wal" "$tmpdb-shm"
    bench_on_cleanup "kill_bg; rm -f '$tmpdb' '$tmpdb-wal' '$tmpdb-shm'" # if interrupted
    bench_log "seeding $SEED_DB (${SEED_FLAGS[*]})"
    t0=$EPOCHREALTIME
    if ! seed "sqlite:$tmpdb" "$BENCH_TMP/seed-sqlite.log"; then
        tail -n 5 "$BENCH_TMP/seed-sqlite.log" >&2
        rm -f "$tmpdb" "$tmpdb-wal" "$tmpdb-shm"
        bench_die "objectd seed (SQLite) failed"
    fi
    SQLITE_SEED_SECS=$(secs_since "$t0")
    [[ -s $tmpdb-wal ]] && bench_die "seed left a non-empty WAL next to $tmpdb"
    rm -f "$tmpdb-wal" "$tmpdb-shm"
    grep '"seeded"' "$BENCH_TMP/seed-sqlite.log" >"$SEED_DB.seeded" 2>/dev/null
    mv -f "$tmpdb" "$SEED_DB" || bench_die "mv $tmpdb $SEED_DB"
    bench_log "seeded SQLite in ${SQLITE_SEED_SECS}s"
fi
touch "$SEED_DB" # most recently used
# Keep the 3 most recently used files of these parameters.
while read -r old; do
    bench_log "removing an older seeded file: $old"
    rm -f -- "$old" "$old.seeded"
done < <(find "$DATA_DIR" -maxdepth 1 -name "$SEED_PREFIX-objectd-*.db" -printf '%T@ %p\n' |
    sort -rn | tail -n +4 | cut -d' ' -f2-)
# objectd runs on a copy: it may migrate the schema, and the cache must stay
# as seeded.
cp --reflink=auto "$SEED_DB" "$BENCH_TMP/standard.db" || bench_die "cannot copy $SEED_DB"
exec {LOCK_FD}>&-
SQLITE_URI="sqlite:$BENCH_TMP/standard.db"

PG_URI=
PG_DIR=
PG_SEED_SECS=-
PG_VACUUM_SECS=-
if ((!SKIP_PG)); then
    PG_DIR=$BENCH_TMP/pg
    chmod 755 "$BENCH_TMP" # the server's user must reach $PG_DIR
    bench_on_cleanup "timeout 60 '$BENCH_ROOT/scripts/pg-test-server' stop '$PG_DIR' >/dev/null 2>&1"
    PG_URI=$(timeout 120 "$BENCH_ROOT/scripts/pg-test-server" start "$PG_DIR") ||
        bench_die "the private PostgreSQL did not start"
    bench_log "PostgreSQL at $PG_URI; seeding"
    t0=$EPOCHREALTIME
    if ! seed "$PG_URI" "$BENCH_TMP/seed-pg.log"; then
        tail -n 5 "$BENCH_TMP/seed-pg.log" >&2
        bench_die "objectd seed (PostgreSQL) failed"
    fi
    PG_SEED_SECS=$(secs_since "$t0")
    bench_log "seeded PostgreSQL in ${PG_SEED_SECS}s; VACUUM (ANALYZE)"
    # After a bulk load autovacuum would otherwise run during the rounds.
    psql=$PG_BIN/psql
    [[ -x $psql ]] || psql=psql
    t0=$EPOCHREALTIME
    run_bg "$BENCH_TMP/vacuum.log" "$BENCH_TMP/vacuum.err" \
        timeout 1200 "$psql" -X -q -v ON_ERROR_STOP=1 "$PG_URI" -c 'VACUUM (ANALYZE)' || {
        cat "$BENCH_TMP/vacuum.err" >&2
        cat "$BENCH_TMP/vacuum.log" >&2
        bench_die "VACUUM (ANALYZE) failed"
    }
    PG_VACUUM_SECS=$(secs_since "$t0")
    PG_POSTMASTER=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    [[ $PG_POSTMASTER =~ ^[0-9]+$ ]] || bench_die "cannot read $PG_DIR/data/postmaster.pid"
fi

# ---------------------------------------------------------------- servers

BACKENDS=(sqlite)
((SKIP_PG)) || BACKENDS+=(pg)
declare -A DB_URI=([sqlite]=$SQLITE_URI [pg]=$PG_URI)
declare -A PORT

# start_objectd NAME: NAME is BACKEND-MODE (mode warm, cold or first).
start_objectd() {
    local name=$1 backend=${1%%-*} mode=${1#*-}
    local -a extra=(--db "${DB_URI[$backend]}")
    [[ $mode == cold ]] && extra+=(--analysis-cache off)
    PORT[$name]=$(bench_free_port)
    bench_objectd_spawn "$name" "${PORT[$name]}" "$THREADS" "${extra[@]}"
}

analysis_url() { echo "http://127.0.0.1:$1/api/v1/objects/$2/analysis"; }

# fetch_bodies PORT DIR: every analysis body, identity-encoded, into DIR/N.json
# (one curl, one keep-alive connection); checks 200 + application/json.
fetch_bodies() {
    local port=$1 dir=$2 bad
    mkdir -p "$dir"
    run_bg "$dir.codes" "$dir.err" timeout 1800 curl -s -m 120 \
        -w '%{http_code} %{content_type}\n' -o "$dir/#1.json" \
        "$(analysis_url "$port" "[1-$OBJECTS]")" ||
        { cat "$dir.err" >&2; return 1; }
    bad=$(awk '$1 != 200 || $2 !~ /^application\/json/' "$dir.codes" | sort | uniq -c)
    [[ -z $bad ]] || { bench_warn "unexpected answers: $bad"; return 1; }
    (($(wc -l <"$dir.codes") == OBJECTS)) || return 1
}

for b in "${BACKENDS[@]}"; do
    start_objectd "$b-warm"
    start_objectd "$b-cold"
done

# The bodies, from each backend's warm server (which fills its cache).
declare -A SIZE
for b in "${BACKENDS[@]}"; do
    bench_log "fetching the $OBJECTS analysis bodies from objectd ($b)"
    t0=$EPOCHREALTIME
    fetch_bodies "${PORT[$b-warm]}" "$BENCH_TMP/bodies-$b" ||
        bench_die "could not fetch the analysis bodies from objectd ($b)"
    bench_log "fetched in $(secs_since "$t0")s"
    for ((i = 1; i <= OBJECTS; i++)); do
        SIZE[$b,$i]=$(stat -c %s "$BENCH_TMP/bodies-$b/$i.json")
    done
done
if ((!SKIP_PG)); then
    ndiff=0
    for ((i = 1; i <= OBJECTS; i++)); do
        cmp -s "$BENCH_TMP/bodies-sqlite/$i.json" "$BENCH_TMP/bodies-pg/$i.json" ||
            ndiff=$((ndiff + 1))
    done
    ((ndiff == 0)) ||
        bench_warn "$ndiff of $OBJECTS analysis bodies differ between SQLite and PostgreSQL (same seed)"
fi

# Same bytes over h2c as over HTTP/1.1, and from the cold server.
check_same() { # URL FILE WHAT [curl options]
    local url=$1 file=$2 what=$3
    shift 3
    timeout 120 curl -s -m 60 "$@" -o "$BENCH_TMP/check.body" "$url" ||
        bench_die "$what: fetch failed"
    cmp -s "$BENCH_TMP/check.body" "$file" || bench_die "$what: body differs from $file"
}
for b in "${BACKENDS[@]}"; do
    check_same "$(analysis_url "${PORT[$b-warm]}" 1)" "$BENCH_TMP/bodies-$b/1.json" \
        "objectd ($b) over h2c" --http2-prior-knowledge
    check_same "$(analysis_url "${PORT[$b-cold]}" 1)" "$BENCH_TMP/bodies-$b/1.json" \
        "objectd ($b, cache off)"
done

# nginx: the SQLite bodies as /a/N.json; one h2c listener (prior knowledge)
# and one HTTP/1.1 listener.
mkdir -p "$BENCH_TMP/nginx/html/a"
for ((i = 1; i <= OBJECTS; i++)); do
    cp "$BENCH_TMP/bodies-sqlite/$i.json" "$BENCH_TMP/nginx/html/a/$i.json"
done
NGINX_H2_PORT=$(bench_free_port)
NGINX_H1_PORT=$(bench_free_port)
nginx_server() { # LISTEN DIRECTIVES
    cat <<EOF

    server {
        listen $1 ${NGINX_LISTEN_OPTS:-};
        root $BENCH_TMP/nginx/html;
        $2
        location = /healthz {
            default_type application/json;
        }
        location /a/ {
            default_type application/json;
        }
        location / {
            return 404;
        }
    }
EOF
}
bench_nginx_start_servers "$THREADS" "http://127.0.0.1:$NGINX_H1_PORT/healthz" "$(
    nginx_server "127.0.0.1:$NGINX_H2_PORT http2" "$NGINX_H2_EXTRA"
    nginx_server "127.0.0.1:$NGINX_H1_PORT" "$NGINX_H1_EXTRA"
)"
for i in 1 $(((OBJECTS + 1) / 2)) "$OBJECTS"; do
    body=$BENCH_TMP/bodies-sqlite/$i.json
    check_same "http://127.0.0.1:$NGINX_H1_PORT/a/$i.json" "$body" "nginx (HTTP/1.1) /a/$i.json"
    check_same "http://127.0.0.1:$NGINX_H2_PORT/a/$i.json" "$body" "nginx (h2c) /a/$i.json" \
        --http2-prior-knowledge
done
ctype=$(curl -s -m 10 -o /dev/null -w '%{content_type}' "http://127.0.0.1:$NGINX_H1_PORT/a/1.json")
[[ $ctype == application/json* ]] || bench_die "nginx: unexpected Content-Type '$ctype'"

TOTAL_BYTES=0
for ((i = 1; i <= OBJECTS; i++)); do TOTAL_BYTES=$((TOTAL_BYTES + SIZE[sqlite,$i])); done

# ---------------------------------------------------------------- targets

# Targets, in round order: nginx, then per backend warm, cold, first.
TARGETS=(nginx)
for b in "${BACKENDS[@]}"; do
    TARGETS+=("$b-warm" "$b-cold")
    ((FIRST_PASS)) && TARGETS+=("$b-first")
done
declare -A SCEN_DESC=(
    [h2c]="h2c: h2load -c 1 -m $OBJECTS -n $OBJECTS -i URIS"
    [h1]="h1: $( ((H1_SPLIT)) && echo "$H1_CONNS x h2load --h1 -c 1 -m 1 on a slice of the URIs each, together" ||
        echo "h2load --h1 -c $H1_CONNS -m 1 -n $OBJECTS -i URIS")"
)

# URI files: uris.TARGET (all objects, in order) and, for the split h1 runs,
# uris.TARGET.K with slice K (contiguous; sizes as h2load would split -n).
SLICE_FIRST=() SLICE_N=()
first=1
for ((k = 0; k < H1_CONNS; k++)); do
    n=$((OBJECTS / H1_CONNS + (k < OBJECTS % H1_CONNS ? 1 : 0)))
    SLICE_FIRST+=("$first") SLICE_N+=("$n")
    first=$((first + n))
done
uri_of() { # TARGET PORT ID
    if [[ $1 == nginx ]]; then
        echo "http://127.0.0.1:$2/a/$3.json"
    else
        analysis_url "$2" "$3"
    fi
}
# write_uris TARGET PORT FILE_PREFIX
write_uris() {
    local t=$1 port=$2 prefix=$3 i k
    for ((i = 1; i <= OBJECTS; i++)); do uri_of "$t" "$port" "$i"; done >"$prefix"
    for ((k = 0; k < H1_CONNS; k++)); do
        for ((i = SLICE_FIRST[k]; i < SLICE_FIRST[k] + SLICE_N[k]; i++)); do
            uri_of "$t" "$port" "$i"
        done >"$prefix.$k"
    done
}
# Expected body bytes of a slice (backend's sizes).
slice_bytes() { # BACKEND FIRST N
    local b=$1 i sum=0
    for ((i = $2; i < $2 + $3; i++)); do sum=$((sum + SIZE[$b,$i])); done
    echo "$sum"
}

backend_of() { [[ $1 == nginx ]] && echo sqlite || echo "${1%%-*}"; }

# ---------------------------------------------------------------- runs

server_pids() { # target -> the pids whose CPU is the server's
    case $1 in
    nginx) bench_nginx_pids ;;
    *) echo "${BENCH_OBJECTDS[$1]}" ;;
    esac
}

# fail_run TARGET LABEL OUTFILE... : print what is known, then die.
fail_run() {
    local t=$1 label=$2 f
    shift 2
    for f in "$@"; do
        [[ -f $f ]] || continue
        echo "--- $f" >&2
        grep -E '^(progress|finished|requests|status codes|traffic)' "$f" >&2
    done
    if [[ $t != nginx ]]; then
        echo "--- objectd ($t) log, last lines:" >&2
        tail -n 5 "$BENCH_TMP/objectd.$t.log" >&2 2>/dev/null
    fi
    bench_die "$t ($label): not a valid measurement"
}

# check_out TARGET LABEL OUTFILE N BYTES: N requests, all 2xx, BYTES of bodies.
check_out() {
    local t=$1 label=$2 out=$3 n=$4 bytes=$5 parsed got
    parsed=$(bench_h2load_parse "$out") || fail_run "$t" "$label" "$out"
    read -r _ got <<<"$parsed"
    ((got == n)) || { bench_warn "h2load ran $got requests, expected $n"; fail_run "$t" "$label" "$out"; }
    if [[ $bytes != - ]]; then
        got=$(bench_h2load_data_bytes "$out") || fail_run "$t" "$label" "$out"
        ((got == bytes)) || {
            bench_warn "received $got body bytes, expected $bytes"
            fail_run "$t" "$label" "$out"
        }
    fi
}

# prepare_run TARGET SCENARIO LABEL: everything before the clock starts -
# URI files, expected byte counts, output names (RUN_* globals).
prepare_run() {
    local t=$1 scen=$2 label=$3 port b k
    b=$(backend_of "$t")
    if [[ $t == nginx ]]; then
        [[ $scen == h2c ]] && port=$NGINX_H2_PORT || port=$NGINX_H1_PORT
    else
        port=${PORT[$t]}
    fi
    RUN_URIS=$BENCH_TMP/uris.$t.$port
    [[ -f $RUN_URIS ]] || write_uris "$t" "$port" "$RUN_URIS"
    RUN_OUT=$BENCH_TMP/h2load.$t.$scen.$label
    [[ $scen == h1 && $H1_SPLIT == 1 ]] && RUN_SPLIT=1 || RUN_SPLIT=0
    RUN_OUTS=() RUN_NS=() RUN_BYTES=()
    if ((RUN_SPLIT)); then
        SLICE_URIS=()
        for ((k = 0; k < H1_CONNS; k++)); do
            RUN_OUTS[k]=$RUN_OUT.$k
            RUN_NS[k]=${SLICE_N[k]}
            RUN_BYTES[k]=$(slice_bytes "$b" "${SLICE_FIRST[k]}" "${SLICE_N[k]}")
            SLICE_URIS[k]=$(<"$RUN_URIS.$k")
        done
    else
        RUN_OUTS=("$RUN_OUT")
        RUN_NS=("$OBJECTS")
        if [[ $scen == h2c ]]; then
            RUN_BYTES=("$(slice_bytes "$b" 1 "$OBJECTS")")
        else
            # h2load -c N: every client starts at the first URI, so there is
            # no exact byte count to expect.
            RUN_BYTES=(-)
        fi
    fi
    rm -f "${RUN_OUTS[@]}"
}

# start_split_clients: the split h1 clients, started before the clock (a
# h2load process costs ~40 ms of CPU to start and exit, which would
# otherwise overlap the others' runs) and held at a gate: each reads its
# URIs from a FIFO (-i FIFO) that this shell holds open read-write, so
# h2load opens it at once and then blocks reading until launch_run writes
# the URIs and closes it.  The gates are opened after all the clients are
# forked, so that no client inherits one (it would never see EOF).  Waits
# (10 s at most) until every client has its FIFO open.
start_split_clients() {
    local k i pid fd f deadline
    RUN_GATE_FDS=() RUN_CLIENT_PIDS=()
    for ((k = 0; k < H1_CONNS; k++)); do
        f=$BENCH_TMP/gate.$k
        [[ -p $f ]] || mkfifo "$f" || bench_die "mkfifo $f"
        timeout -k 5 "$RUN_TIMEOUT" "$H2LOAD" --h1 -c 1 -m 1 -n "${SLICE_N[k]}" -t 1 \
            -i "$f" >"${RUN_OUTS[k]}" 2>&1 </dev/null &
        RUN_CLIENT_PIDS[k]=$!
        SPLIT_PIDS+=("$!")
    done
    for ((k = 0; k < H1_CONNS; k++)); do
        exec {fd}<>"$BENCH_TMP/gate.$k" || bench_die "cannot open $BENCH_TMP/gate.$k"
        RUN_GATE_FDS[k]=$fd
    done
    deadline=$((SECONDS + 10))
    for ((k = 0; k < H1_CONNS; k++)); do
        f=$BENCH_TMP/gate.$k
        while :; do
            kill -0 "${RUN_CLIENT_PIDS[k]}" 2>/dev/null || break # failed: seen later
            pid=$(pgrep -P "${RUN_CLIENT_PIDS[k]}" | head -n 1)
            if [[ -n $pid ]]; then
                for i in /proc/"$pid"/fd/*; do
                    [[ $i -ef $f ]] && break 2
                done
            fi
            ((SECONDS < deadline)) || bench_die "h2load (client $k) did not start within 10 s"
            sleep 0.01
        done
    done
}

# launch_run SCENARIO: the run itself, with no other forks of this shell
# (the clock and the CPU counters should see just the run).  Sets RUN_RCS
# (exit statuses) and, split, RUN_ENDS (when each client was reaped).
launch_run() {
    local scen=$1 k rc pid i fd
    RUN_RCS=() RUN_ENDS=()
    if ((!RUN_SPLIT)); then
        if [[ $scen == h2c ]]; then
            bench_h2load_run "$RUN_OUT" -c 1 -m "$OBJECTS" -n "$OBJECTS" -t 1 -i "$RUN_URIS"
        else
            bench_h2load_run "$RUN_OUT" --h1 -c "$H1_CONNS" -m 1 -n "$OBJECTS" -t 1 -i "$RUN_URIS"
        fi
        RUN_RCS=("$?")
        return
    fi
    local -A slot=()
    local -a pending=() rest=()
    # Open the gates: the URIs, then EOF (this shell was the only writer).
    for ((k = 0; k < H1_CONNS; k++)); do
        fd=${RUN_GATE_FDS[k]}
        printf '%s\n' "${SLICE_URIS[k]}" >&"$fd"
        exec {fd}>&-
        slot[${RUN_CLIENT_PIDS[k]}]=$k
    done
    RUN_GATE_FDS=()
    pending=("${RUN_CLIENT_PIDS[@]}")
    while ((${#pending[@]})); do
        pid=
        wait -n -p pid "${pending[@]}"
        rc=$?
        [[ -n $pid && -n ${slot[$pid]:-} ]] || bench_die "wait -n: no client pid (status $rc)"
        RUN_ENDS[${slot[$pid]}]=$EPOCHREALTIME
        RUN_RCS[${slot[$pid]}]=$rc
        rest=()
        for i in "${pending[@]}"; do [[ $i == "$pid" ]] || rest+=("$i"); done
        pending=("${rest[@]}")
    done
    SPLIT_PIDS=()
}

# finish_run TARGET LABEL: checks every client's output (all requests 2xx,
# the expected body bytes) and sets RUN_WALL_MS: h2load's "finished in";
# split, the union of the clients' own timed spans - each one's start is
# its end (when it was reaped) minus its "finished in" time, so that the
# processes' start-up and exit do not count.
finish_run() {
    local t=$1 label=$2 k rc
    local -a walls=()
    for ((k = 0; k < ${#RUN_OUTS[@]}; k++)); do
        rc=${RUN_RCS[k]}
        if ((rc != 0)); then
            if ((rc == 124 || rc == 137)); then
                # (bench_h2load_run has said so for the unsplit runs)
                ((RUN_SPLIT)) && bench_warn "h2load timed out after ${RUN_TIMEOUT}s"
            else
                bench_warn "h2load exited with status $rc"
            fi
            fail_run "$t" "$label" "${RUN_OUTS[@]}"
        fi
        check_out "$t" "$label" "${RUN_OUTS[k]}" "${RUN_NS[k]}" "${RUN_BYTES[k]}"
        walls[k]=$(bench_h2load_wall_ms "${RUN_OUTS[k]}") || fail_run "$t" "$label" "${RUN_OUTS[k]}"
    done
    if ((!RUN_SPLIT)); then
        RUN_WALL_MS=${walls[0]}
        return
    fi
    RUN_WALL_MS=$(for ((k = 0; k < H1_CONNS; k++)); do echo "${RUN_ENDS[k]} ${walls[k]}"; done |
        awk '{ e = $1 * 1000; s = e - $2
               if (NR == 1 || e > emax) emax = e
               if (NR == 1 || s < smin) smin = s }
             END { printf "%.3f\n", emax - smin }')
}

# run_one TARGET SCENARIO LABEL: sets RUN_WALL_MS, RUN_TICKS (server),
# RUN_DB_TICKS (PostgreSQL, or -), RUN_CLIENT_TICKS, RUN_OTHER_TICKS and
# RUN_SPAN (seconds, the whole run as this shell saw it).
run_one() {
    local t=$1 scen=$2 label=$3 pids_before pids_after t0 t1 d0=0 d1=0 c0 c1 b0 b1 w0 w1
    local fresh=0
    if [[ $t == *-first ]]; then
        fresh=1
        start_objectd "$t"
    fi
    prepare_run "$t" "$scen" "$label"
    ((RUN_SPLIT)) && start_split_clients
    pids_before=$(server_pids "$t")
    # shellcheck disable=SC2086
    t0=$(bench_cpu_ticks $pids_before) || bench_die "$t: cannot read /proc stat of $pids_before (server died?)"
    if [[ $t == pg-* ]]; then
        d0=$(bench_cpu_ticks_tree "$PG_POSTMASTER") || bench_die "PostgreSQL is gone"
    fi
    b0=$(bench_sys_busy_ticks)
    c0=$(bench_reaped_children_ticks)
    w0=$EPOCHREALTIME
    launch_run "$scen"
    w1=$EPOCHREALTIME
    c1=$(bench_reaped_children_ticks)
    b1=$(bench_sys_busy_ticks)
    if [[ $t == pg-* ]]; then
        d1=$(bench_cpu_ticks_tree "$PG_POSTMASTER") || bench_die "PostgreSQL died during the run"
    fi
    pids_after=$(server_pids "$t")
    # shellcheck disable=SC2086
    t1=$(bench_cpu_ticks $pids_before) || bench_die "$t ($label): server process exited during the run"
    finish_run "$t" "$label"
    [[ $pids_after == "$pids_before" ]] ||
        bench_die "$t ($label): server processes changed during the run ($pids_before -> $pids_after)"
    RUN_TICKS=$((t1 - t0))
    RUN_CLIENT_TICKS=$((c1 - c0))
    RUN_DB_TICKS=-
    [[ $t == pg-* ]] && RUN_DB_TICKS=$((d1 - d0))
    RUN_OTHER_TICKS=$((b1 - b0 - RUN_TICKS - RUN_CLIENT_TICKS - (d1 - d0)))
    ((RUN_OTHER_TICKS < 0)) && RUN_OTHER_TICKS=0
    RUN_SPAN=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", b - a }')
    if ((fresh)); then
        bench_objectd_kill "$t" || bench_die "objectd ($t) did not stop cleanly"
    fi
}

ticks_ms() {
    if [[ $1 == - ]]; then
        echo -
    else
        awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", t * 1000 / hz }'
    fi
}

# ---------------------------------------------------------------- header

echo "objectd analysis benchmark: GET /api/v1/objects/{id}/analysis, ids 1..$OBJECTS (identity encoding)"
echo "workload: objectd seed ${SEED_FLAGS[*]}; SQLite file $SEED_DB (seed: ${SQLITE_SEED_SECS}$([[ $SQLITE_SEED_SECS != cached ]] && echo s))"
[[ -s $SEED_DB.seeded ]] && echo "  seeded: $(sed 's/.*"message":"seeded",//; s/}$//' "$SEED_DB.seeded")"
if ((SKIP_PG)); then
    echo "PostgreSQL: skipped"
else
    echo "PostgreSQL: private server, seed ${PG_SEED_SECS}s + VACUUM (ANALYZE) ${PG_VACUUM_SECS}s"
fi
read -r SIZE_MIN SIZE_MAX < <(for ((i = 1; i <= OBJECTS; i++)); do echo "${SIZE[sqlite,$i]}"; done |
    sort -n | sed -n '1p;$p' | tr '\n' ' ')
echo "bodies: $OBJECTS, $TOTAL_BYTES bytes in all (mean $((TOTAL_BYTES / OBJECTS)), min $SIZE_MIN, max $SIZE_MAX)"
pre="scenarios:"
for scen in "${SCENARIOS[@]}"; do
    echo "$pre ${SCEN_DESC[$scen]}"
    pre="          "
done
echo "servers: nginx (static files /a/N.json, workers=$THREADS; $NGINX_HTTP_EXTRA h2c: $NGINX_H2_EXTRA h1: $NGINX_H1_EXTRA)"
echo "         objectd serve --threads $THREADS --access-log off --db ... [--analysis-cache off]"
echo "         warm = cache on, filled beforehand; cold = --analysis-cache off; first = first pass of a fresh server (cache on)"
echo "nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')  h2load: $("$H2LOAD" --version 2>&1 | head -n 1)  objectd: $OBJECTD"
read -r LOAD1 LOAD5 LOAD15 _ </proc/loadavg
BUSY_NOW=$(bench_idle_check 1)
echo "rounds=$ROUNDS cpus=$(nproc) kernel=$(uname -r); at start: load $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/') busy ${BUSY_START}%; before the runs: busy ${BUSY_NOW}%"
echo

if ((WARMUP)); then
    for t in "${TARGETS[@]}"; do
        [[ $t == *-first ]] && continue
        for scen in "${SCENARIOS[@]}"; do
            bench_log "warm-up: $t $scen"
            run_one "$t" "$scen" warmup
        done
    done
fi

# ---------------------------------------------------------------- rounds

NOISY=0
declare -A WALL CPU DB ROW ROWWALL RRATIO
hdr() { printf '%-5s %-4s %-12s %10s %8s %8s %9s %9s %9s\n' round scen target 'wall ms' 'x nginx' 'cpu ms' 'db cpu ms' 'client ms' 'other ms'; }
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
        order=("${TARGETS[@]}")
    else
        mapfile -t order < <(printf '%s\n' "${TARGETS[@]}" | tac)
    fi
    echo "round $r: ${order[*]}"
    hdr
    for scen in "${SCENARIOS[@]}"; do
        ROW=() ROWWALL=()
        for t in "${order[@]}"; do
            run_one "$t" "$scen" "r$r"
            WALL[$scen,$t]+="$RUN_WALL_MS "
            CPU[$scen,$t]+="$(ticks_ms "$RUN_TICKS") "
            [[ $RUN_DB_TICKS != - ]] && DB[$scen,$t]+="$(ticks_ms "$RUN_DB_TICKS") "
            flag=$(awk -v o="$RUN_OTHER_TICKS" -v w="$RUN_SPAN" -v hz="$CLK_TCK" -v n="$(nproc)" \
                'BEGIN { print (o > 0.05 * w * hz * n) ? "*" : "" }')
            [[ -n $flag ]] && NOISY=$((NOISY + 1))
            ROW[$t]=$(printf '%10.1f %%8s %8s %9s %9s %9s %s' "$RUN_WALL_MS" "$(ticks_ms "$RUN_TICKS")" \
                "$(ticks_ms "$RUN_DB_TICKS")" "$(ticks_ms "$RUN_CLIENT_TICKS")" \
                "$(ticks_ms "$RUN_OTHER_TICKS")" "$flag")
            ROWWALL[$t]=$RUN_WALL_MS
        done
        # Rows in the fixed target order, with the ratio to this round's nginx.
        for t in "${TARGETS[@]}"; do
            ratio=$(bench_ratio "${ROWWALL[$t]}" "${ROWWALL[nginx]}")
            RRATIO[$scen,$t]+="$ratio "
            # shellcheck disable=SC2059
            printf "%-5s %-4s %-12s ${ROW[$t]}\n" "$r" "$scen" "$t" "$ratio"
        done
    done
    echo
done
if ((NOISY)); then
    echo "* $NOISY run(s) had other CPU activity on the machine (> 5% of capacity): figures are suspect; rerun on a quiet machine"
    echo
fi

# ---------------------------------------------------------------- summary

declare -A MED
for scen in "${SCENARIOS[@]}"; do
    echo "${SCEN_DESC[$scen]}"
    printf '  %-12s %10s %8s %8s %10s %8s %10s   %s\n' target 'median ms' 'x nginx' 'rounds x' \
        'cpu ms' 'x nginx' 'db cpu ms' 'all wall ms'
    for t in "${TARGETS[@]}"; do
        # shellcheck disable=SC2086
        MED[$scen,$t]=$(bench_median ${WALL[$scen,$t]})
        # shellcheck disable=SC2086
        MED[cpu,$scen,$t]=$(bench_median ${CPU[$scen,$t]})
        db=-
        # shellcheck disable=SC2086
        [[ -n ${DB[$scen,$t]:-} ]] && db=$(printf '%.0f' "$(bench_median ${DB[$scen,$t]})")
        # shellcheck disable=SC2086
        printf '  %-12s %10.1f %8s %8.3f %10.0f %8s %10s   %s\n' "$t" "${MED[$scen,$t]}" \
            "$(bench_ratio "${MED[$scen,$t]}" "${MED[$scen,nginx]}")" \
            "$(bench_median ${RRATIO[$scen,$t]})" "${MED[cpu,$scen,$t]}" \
            "$(bench_ratio "${MED[cpu,$scen,$t]}" "${MED[cpu,$scen,nginx]}")" "$db" \
            "$(printf '%.1f ' ${WALL[$scen,$t]})"
    done
    echo
done
echo "x nginx: median / nginx's median; rounds x (info): median of the ratios within"
echo "each round, whose runs are close in time (slow drift of the machine cancels)"
echo

echo "targets: median wall time / nginx's (SQLite; PostgreSQL beside, no target)"
printf '  %-4s %-6s %-9s %-14s %s\n' scen cache target SQLite PostgreSQL
for scen in "${SCENARIOS[@]}"; do
    for mode in warm cold first; do
        [[ $mode == first ]] && ((!FIRST_PASS)) && continue
        case $mode in
        warm) tgt=$WARM_TARGET ;;
        cold) tgt=$COLD_TARGET ;;
        first) tgt= ;;
        esac
        rs=$(bench_ratio "${MED[$scen,sqlite-$mode]}" "${MED[$scen,nginx]}")
        if [[ -n $tgt ]]; then
            ok=$(awk -v x="$rs" -v t="$tgt" 'BEGIN { print (x != "nan" && x <= t) ? "PASS" : "FAIL" }')
            col="${rs}x $ok"
            tcol="<= ${tgt}x"
        else
            col="${rs}x"
            tcol="(info)"
        fi
        rp=-
        ((SKIP_PG)) || rp="$(bench_ratio "${MED[$scen,pg-$mode]}" "${MED[$scen,nginx]}")x"
        printf '  %-4s %-6s %-9s %-14s %s\n' "$scen" "$mode" "$tcol" "$col" "$rp"
    done
done
((QUICK)) && echo "(--quick: 1 round, SQLite only; figures are indicative only)"

# A clean SIGTERM exit (status 0) is part of the objectd contract.
STATUS=0
for name in "${!BENCH_OBJECTDS[@]}"; do
    bench_objectd_kill "$name" || STATUS=1
done
bench_nginx_stop
exit "$STATUS"
