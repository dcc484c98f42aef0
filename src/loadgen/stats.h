/* stats: what one worker thread counted, and the merge of all of them.
 *
 * Counters follow h2load's definitions: |started| counts first sends only
 * (a request re-sent after a GOAWAY or a Connection: close counts once,
 * and in |resent|); |success| counts responses received in full, whatever
 * the status; |status_success| those with a 2xx or 3xx status (h2load's
 * "succeeded"); |failed| = done - status_success + abandoned; |error|
 * counts requests that got no complete response (stream reset, connection
 * lost); |timedout| those abandoned by -T/-N. */
#ifndef LOADGEN_STATS_H
#define LOADGEN_STATS_H

#include <stdint.h>

#include "hist.h"

/* Error codes of RFC 9113 section 7 (0x0-0xd); anything else goes in the
 * last slot. */
#define LG_H2_CODES 15

/* Why a client gave up on its remaining requests. */
typedef enum lg_err_kind {
    LG_ERR_CONNECT = 0, /* connect(2) failed */
    LG_ERR_TLS,         /* handshake or record error, or no ALPN match */
    LG_ERR_PROTOCOL,    /* malformed response / HTTP/2 protocol error */
    LG_ERR_CLOSED,      /* peer closed with requests in flight */
    LG_ERR_IO,          /* read/write error (ECONNRESET...) */
    LG_ERR_TIMEOUT,     /* -T or -N */
    LG_ERR_RESET,       /* stream reset by the server (RST_STREAM) */
    LG_ERR_KINDS
} lg_err_kind;

/* Connections the server ended cleanly: GOAWAY (by error code) or an
 * HTTP/1.1 Connection: close, with how many responses each carried. */
typedef struct lg_close_stat {
    uint64_t count;
    uint64_t reqs_min, reqs_max, reqs_sum;
} lg_close_stat;

/* Per URI of the list (a template is one URI), when there are 2 to
 * LG_PER_URI_MAX of them: requests that ended, by outcome, and their
 * times. */
#define LG_PER_URI_MAX 16
typedef struct lg_uri_stat {
    uint64_t done, succeeded, failed, errored;
    hist request;
} lg_uri_stat;

typedef struct lg_stats {
    uint64_t req_todo, req_started, req_done, req_success, req_status_success;
    uint64_t req_failed, req_error, req_timedout, req_resent;
    uint64_t bytes_total, bytes_head, bytes_head_decomp, bytes_body;
    uint64_t status[6]; /* [2] 2xx .. [5] 5xx */
    hist request;       /* time for request, ns */
    lg_close_stat goaway[LG_H2_CODES];
    lg_close_stat h1_close;
    uint64_t errors[LG_ERR_KINDS]; /* connections (or streams) per kind */
    int first_error[LG_ERR_KINDS]; /* an errno / code for the message */
    lg_uri_stat *per_uri;          /* NULL, or nper_uri of them */
    size_t nper_uri;
} lg_stats;

int lg_stats_init(lg_stats *s);
/* Adds per-URI figures for |n| URIs (nothing when n is out of 2..16).
 * 0 or -ENOMEM. */
int lg_stats_init_per_uri(lg_stats *s, size_t n);
void lg_stats_free(lg_stats *s);
void lg_stats_merge(lg_stats *dst, const lg_stats *src);
void lg_close_stat_add(lg_close_stat *c, uint64_t reqs);

/* A descriptive summary as h2load prints it. */
typedef struct lg_sd_stat {
    double min, max, mean, sd, within_sd; /* within_sd in percent */
    size_t n;                             /* samples */
} lg_sd_stat;

/* Over |n| samples (sample sd, within = share in [mean-sd, mean+sd]). */
lg_sd_stat lg_sd_compute(const double *v, size_t n);

/* Pools two summaries as if their samples had been one set: exact n,
 * min, max, mean and sd; within_sd weighted by n (an approximation). */
lg_sd_stat lg_sd_pool(lg_sd_stat a, lg_sd_stat b);

const char *lg_h2_code_name(unsigned code);
const char *lg_err_kind_name(lg_err_kind k);

#endif
