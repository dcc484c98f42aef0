/* trace: W3C Trace Context and spans exported as OTLP/HTTP JSON.
 *
 * Every request gets a trace id and a span id: those of an incoming valid
 * `traceparent` (the request's span is its child) or new random ones. A
 * sampled request becomes a SERVER span, and each store operation it makes
 * a CLIENT child span (OpenTelemetry semantic-convention attributes).
 *
 * Sampling is parent-based: a valid traceparent's sampled flag decides;
 * without one, --trace-sample-ratio does. Nothing is sampled without
 * --otlp-endpoint.
 *
 * Export never blocks a request: a finished span is formatted as OTLP JSON
 * straight into its thread's open 32 KiB chunk (no lock); a full chunk is
 * handed to the exporter (one short mutex per chunk), and so is a partial
 * one when the thread calls trace_flush_thread (the worker does within
 * 200 ms of a request). At most 256 chunks (8 MiB) exist: when none is
 * free the span is dropped and counted. One exporter thread POSTs batches
 * (about 2048 spans, or what was published within a second of the first),
 * sending the chunks as they are. When nothing is traced the thread sleeps
 * on a condition variable with no timeout: an idle server does not wake up
 * for it. */
#ifndef OBJECTD_TRACE_H
#define OBJECTD_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* The trace state of one request. */
typedef struct trace_ctx {
    uint8_t trace_id[16];
    uint8_t span_id[8];   /* this request's span */
    uint8_t parent_id[8]; /* the caller's span, if has_parent */
    uint8_t has_parent;
    uint8_t sampled;
    uint32_t db_queries; /* store operations made for the request */
    uint64_t db_ns;      /* their total time */
} trace_ctx;

/* Parses a traceparent value (W3C Trace Context level 1, with the rules
 * for future versions). Returns 0 and fills the ids and flags, or -EINVAL:
 * malformed, version ff, or an all-zero trace or parent id. */
int trace_parse_traceparent(const char *v, size_t len, uint8_t trace_id[16],
                            uint8_t parent_id[8], uint8_t *flags);

/* Lower-case hex of |n| bytes into |out| (2n chars + NUL). */
void trace_hex(const uint8_t *id, size_t n, char *out);

/* Starts a request's trace: from |traceparent| (NULL or invalid: a new
 * trace), then the sampling decision. */
void trace_begin(trace_ctx *t, const char *traceparent, size_t len);

/* Configures export. |endpoint| NULL or "" disables it; otherwise
 * "http://HOST:PORT/PATH" (PATH usually /v1/traces). Starts the exporter
 * thread. Returns 0, or -EINVAL with a message in |err|. */
int trace_init(const char *endpoint, double sample_ratio, char *err,
               size_t errlen);

/* Exports what is queued (bounded wait) and stops the thread. Threads
 * that made spans call trace_thread_cleanup first (the caller's own
 * chunk is handed over here). */
void trace_shutdown(void);

/* Hands this thread's partial chunk to the exporter (spans wait in it
 * until it fills otherwise). Cheap when there is nothing to hand over. */
void trace_flush_thread(void);

/* trace_flush_thread, then gives this thread's empty chunk back; call
 * before a thread that made spans exits. */
void trace_thread_cleanup(void);

/* A finished request's SERVER span. |status| is the HTTP status. */
typedef struct trace_request_info {
    const char *method;
    size_t method_len;
    int method_plain; /* a method we route: needs no JSON escaping */
    const char *path;
    size_t path_len;
    /* The path already written as a JSON string (quotes included) by the
     * caller - the access line's - or NULL. */
    const char *path_json;
    size_t path_json_len;
    const char *route; /* template, or NULL when unmatched */
    int status;
    const char *protocol; /* "http/1.1", "h2c", "h2" */
    uint64_t start_mono_ns, end_mono_ns;
} trace_request_info;
void trace_export_request(const trace_ctx *t, const trace_request_info *info);

/* A finished store operation's CLIENT span, child of |parent|'s span. */
void trace_export_db(const trace_ctx *parent, const char *db_system,
                     const char *query, uint64_t start_mono_ns,
                     uint64_t end_mono_ns, uint64_t rows, int failed);

#endif
