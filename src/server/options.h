/* options: every objectd setting, in one table (see config.h for how flags,
 * OBJECTD_* variables and the --config file set them). */
#ifndef OBJECTD_OPTIONS_H
#define OBJECTD_OPTIONS_H

#include <stdint.h>

#include "config.h"

typedef struct options {
    char *config;
    config_list listen;
    config_list tls_listen;
    char *tls_cert;
    char *tls_key;
    int64_t threads; /* 0: the CPUs this process may really use */
    char *access_log;
    char *log_level;
    int64_t max_connections;
    int64_t max_header_bytes;
    int64_t max_headers;
    int64_t max_body_bytes;
    int64_t max_requests_per_connection; /* 0: unlimited */
    int64_t header_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t drain_timeout_ms;
    int64_t backlog;
    int64_t h2_max_concurrent_streams;
    int64_t h2_initial_window_size;
    int64_t h2_connection_window_size;
    int debug_echo;
    char *admin_listen;        /* "off": no admin listener */
    char *otlp_endpoint;       /* NULL or "": no trace export */
    char *trace_sample;        /* --trace-sample-ratio as given */
    double trace_sample_ratio; /* derived: parsed, 0..1 */
    int64_t seed_objects;
    int64_t seed_days;
    int64_t seed_interval_ms;
    int64_t seed;
    char *seed_end;
    char *analysis_cache;
    int analysis_cache_on; /* derived: analysis_cache == "on" */
    int64_t analysis_cache_mb;
    int64_t max_analyses_in_flight;
    char *db;
    char *migrate;
    char *sync;
    int64_t db_pool_size;
    int64_t db_pool_timeout_ms;
    int64_t db_statement_timeout_ms;
} options;

extern const config_spec options_spec;

#endif
