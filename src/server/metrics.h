/* metrics: objectd's counters, gauges and histograms, and their rendering
 * in the Prometheus text format 0.0.4 (the names are fixed by SPEC.md
 * section 6; docs/observability.md lists every one).
 *
 * Every thread that records gets its own block of counters (allocated on
 * its first record, linked into a process-wide list once, never freed), and
 * only that thread writes it: a record is a relaxed atomic load and store,
 * no lock and no shared cache line on the request path. A scrape sums the
 * blocks. Gauges such as in-flight requests are kept as per-thread
 * "started" and "finished" counts whose sums are subtracted at scrape. */
#ifndef OBJECTD_METRICS_H
#define OBJECTD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct server;
struct route;

/* Learns the routes of both routers (their templates become the `route`
 * label), the store's kind and pool size, and the start time. Call once,
 * before the workers start. Returns 0 or -ENOMEM. */
int metrics_init(const struct server *srv);
void metrics_free(void);

/* Requests. begin: a request reached the router (in-flight goes up).
 * end: its response was handed to the protocol; |began| says whether
 * begin was called for it. */
void metrics_request_begin(void);
void metrics_request_end(const struct route *rt, int method, int status,
                         uint64_t duration_ns, int began);

/* Connections by protocol ("http/1.1", "h2", "h2c"): |from| NULL opens,
 * |to| NULL closes, both set switches. */
void metrics_conn_protocol(const char *from, const char *to);

void metrics_goaway_sent(void);

/* Database: one finished store operation; and the wait for a pooled
 * connection (any thread). */
void metrics_db_query_begin(void);
void metrics_db_query(int query /* enum store_query */, uint64_t duration_ns,
                      uint64_t rows, int failed);
void metrics_db_pool_wait(uint64_t wait_ns);

/* Analysis cache lookups. */
void metrics_cache_lookup(int hit);

/* Trace export (trace.c): spans dropped because the queue was full,
 * spans exported, export attempts that failed. */
void metrics_trace_dropped(uint64_t n);
void metrics_trace_exported(uint64_t n);
void metrics_trace_failed(uint64_t n);
/* The three summed over threads (what /metrics shows). */
void metrics_trace_totals(uint64_t *exported, uint64_t *dropped,
                          uint64_t *failed);

/* Appends the whole exposition to |out|. 0, or -ENOBUFS. */
int metrics_render(buf *out);

/* Appends /debug/queries: a JSON array of every query name with calls,
 * total/mean/max time and rows, sorted by total time, descending. */
int metrics_render_queries(buf *out);

/* The sum over threads of in-flight requests (tests, drain). */
int64_t metrics_in_flight(void);

#endif
