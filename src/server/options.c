/* options: the table behind `objectd --help`. Bounds are part of it, so a
 * bad value is refused at start-up rather than discovered under load. */
#include "options.h"

#include <stddef.h>

#define OPT(name, type, def, min, max, choices, field, help)                   \
    { name, type, def, min, max, choices, offsetof(options, field), help }

static const config_option table[] = {
    OPT("config", CONFIG_STRING, NULL, 0, 0, NULL, config,
        "read settings from FILE ('name = value' lines)"),
    OPT("listen", CONFIG_LIST, "0.0.0.0:8080", 0, 0, NULL, listen,
        "HTTP listener HOST:PORT (repeat for several; port 0 picks one)"),
    OPT("tls-listen", CONFIG_LIST, NULL, 0, 0, NULL, tls_listen,
        "TLS listener HOST:PORT (ALPN h2 and http/1.1; repeatable)"),
    OPT("tls-cert", CONFIG_STRING, NULL, 0, 0, NULL, tls_cert,
        "PEM certificate chain for --tls-listen"),
    OPT("tls-key", CONFIG_STRING, NULL, 0, 0, NULL, tls_key,
        "PEM private key for --tls-listen"),
    OPT("threads", CONFIG_INT, "0", 0, 1024, NULL, threads,
        "event-loop threads; 0 = CPUs usable (affinity, cgroup quota); the "
        "SQLite thread pool follows, 2-16 (env UV_THREADPOOL_SIZE overrides)"),
    OPT("access-log", CONFIG_STRING, "-", 0, 0, NULL, access_log,
        "access log: a file path, '-' for standard output, or 'off'"),
    OPT("log-level", CONFIG_ENUM, "info", 0, 0, "debug|info|warn|error",
        log_level, "application log level (JSON lines on standard error)"),
    OPT("max-connections", CONFIG_INT, "10000", 1, 1000000, NULL,
        max_connections, "open client connections, for the process"),
    OPT("max-header-bytes", CONFIG_SIZE, "16k", 1024, 1048576, NULL,
        max_header_bytes, "request line + headers; over it: 431"),
    OPT("max-headers", CONFIG_INT, "100", 1, 1000, NULL, max_headers,
        "header fields per request; over it: 431"),
    OPT("max-body-bytes", CONFIG_SIZE, "8m", 0, 1073741824, NULL,
        max_body_bytes, "request body; over it: 413"),
    OPT("max-requests-per-connection", CONFIG_INT, "0", 0, INT64_MAX, NULL,
        max_requests_per_connection,
        "requests served on one connection before it is closed "
        "gracefully; 0 = unlimited"),
    OPT("header-timeout", CONFIG_DURATION, "10s", 1, 3600000, NULL,
        header_timeout_ms,
        "time to receive a whole request head (slowloris guard); 408"),
    OPT("idle-timeout", CONFIG_DURATION, "60s", 1, 86400000, NULL,
        idle_timeout_ms,
        "keep-alive idle time, and the longest stall mid-body or mid-write"),
    OPT("drain-timeout", CONFIG_DURATION, "30s", 0, 3600000, NULL,
        drain_timeout_ms,
        "on SIGTERM/SIGINT, time in-flight requests get to finish"),
    OPT("backlog", CONFIG_INT, "4096", 1, 65535, NULL, backlog,
        "listen(2) backlog of each listener"),
    OPT("h2-max-concurrent-streams", CONFIG_INT, "256", 1, 1000000, NULL,
        h2_max_concurrent_streams,
        "HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; streams past it are "
        "refused"),
    OPT("h2-initial-window-size", CONFIG_SIZE, "1m", 1, 2147483647, NULL,
        h2_initial_window_size,
        "HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE (per-stream receive window)"),
    OPT("h2-connection-window-size", CONFIG_SIZE, "16m", 65535, 2147483647,
        NULL, h2_connection_window_size,
        "HTTP/2 connection-level receive window"),
    OPT("db", CONFIG_STRING, "sqlite:data/objectd.db", 0, 0, NULL, db,
        "the store: sqlite:PATH, or a PostgreSQL URI postgresql://..."),
    OPT("migrate", CONFIG_ENUM, "auto", 0, 0, "auto|off", migrate,
        "apply pending schema migrations at start-up (off: /readyz "
        "fails until `objectd migrate` ran)"),
    OPT("sync", CONFIG_ENUM, "full", 0, 0, "full|normal", sync,
        "SQLite durability: full fsyncs every commit (survives power "
        "loss); normal survives a crash of objectd, not of the machine"),
    OPT("db-pool-size", CONFIG_INT, "16", 1, 10000, NULL, db_pool_size,
        "PostgreSQL connections for the process, split across the loops"),
    OPT("db-pool-timeout", CONFIG_DURATION, "5s", 1, 600000, NULL,
        db_pool_timeout_ms,
        "longest wait for a pooled connection; then 503 + Retry-After"),
    OPT("db-statement-timeout", CONFIG_DURATION, "30s", 1, 3600000, NULL,
        db_statement_timeout_ms, "longest a database statement may run"),
    OPT("analysis-cache", CONFIG_ENUM, "on", 0, 0, "on|off", analysis_cache,
        "cache finished analyses by the object's change sequence (off: "
        "measure the cold path)"),
    OPT("analysis-cache-mb", CONFIG_INT, "256", 1, 1048576, NULL,
        analysis_cache_mb,
        "memory for cached analysis bodies, for the process (LRU)"),
    OPT("max-analyses-in-flight", CONFIG_INT, "1024", 1, 1000000, NULL,
        max_analyses_in_flight,
        "analyses being computed at once; past it: 503 + Retry-After"),
    OPT("objects", CONFIG_INT, "500", 1, 10000000, NULL, seed_objects,
        "seed: objects to create (ids 1..N)"),
    OPT("days", CONFIG_INT, "30", 1, 3650, NULL, seed_days,
        "seed: days of readings per object, ending at --end"),
    OPT("interval", CONFIG_DURATION, "30m", 1000, 86400000, NULL,
        seed_interval_ms, "seed: time between readings"),
    OPT("seed", CONFIG_INT, "1", 0, INT64_MAX, NULL, seed,
        "seed: the random seed (same seed and --end: same data)"),
    OPT("end", CONFIG_STRING, "2026-01-01T00:00:00Z", 0, 0, NULL, seed_end,
        "seed: the workload's end time (RFC 3339)"),
    OPT("admin-listen", CONFIG_STRING, "127.0.0.1:9090", 0, 0, NULL,
        admin_listen,
        "admin listener HOST:PORT serving /metrics, /debug/*, /healthz "
        "and /readyz (HTTP/1.1 and h2c); 'off' disables it"),
    OPT("otlp-endpoint", CONFIG_STRING, NULL, 0, 0, NULL, otlp_endpoint,
        "export trace spans as OTLP/HTTP JSON to http://HOST:PORT/v1/traces "
        "(unset: no export)"),
    OPT("trace-sample-ratio", CONFIG_STRING, "1", 0, 0, NULL, trace_sample,
        "share of new traces sampled, 0..1 (a traceparent's sampled flag "
        "decides for its requests)"),
    OPT("debug-echo", CONFIG_BOOL, "false", 0, 0, NULL, debug_echo,
        "serve POST /debug/echo on the public listeners, which returns the "
        "request body (testing the protocol layer)"),
};

const config_spec options_spec = {table, sizeof table / sizeof table[0],
                                  "OBJECTD"};
