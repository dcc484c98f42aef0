/* stats.c: merging counters and the descriptive statistics. */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int lg_stats_init(lg_stats *s) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < LG_H2_CODES; i++)
        s->goaway[i].reqs_min = UINT64_MAX;
    s->h1_close.reqs_min = UINT64_MAX;
    return hist_init(&s->request);
}

int lg_stats_init_per_uri(lg_stats *s, size_t n) {
    size_t i;

    if (n < 2 || n > LG_PER_URI_MAX)
        return 0;
    s->per_uri = calloc(n, sizeof *s->per_uri);
    if (s->per_uri == NULL)
        return -ENOMEM;
    s->nper_uri = n;
    for (i = 0; i < n; i++)
        if (hist_init(&s->per_uri[i].request) != 0)
            return -ENOMEM;
    return 0;
}

void lg_stats_free(lg_stats *s) {
    size_t i;

    hist_free(&s->request);
    for (i = 0; i < s->nper_uri; i++)
        hist_free(&s->per_uri[i].request);
    free(s->per_uri);
    s->per_uri = NULL;
    s->nper_uri = 0;
}

static void close_merge(lg_close_stat *d, const lg_close_stat *s) {
    d->count += s->count;
    d->reqs_sum += s->reqs_sum;
    if (s->reqs_min < d->reqs_min)
        d->reqs_min = s->reqs_min;
    if (s->reqs_max > d->reqs_max)
        d->reqs_max = s->reqs_max;
}

void lg_close_stat_add(lg_close_stat *c, uint64_t reqs) {
    c->count++;
    c->reqs_sum += reqs;
    if (reqs < c->reqs_min)
        c->reqs_min = reqs;
    if (reqs > c->reqs_max)
        c->reqs_max = reqs;
}

void lg_stats_merge(lg_stats *d, const lg_stats *s) {
    int i;

    d->req_todo += s->req_todo;
    d->req_started += s->req_started;
    d->req_done += s->req_done;
    d->req_success += s->req_success;
    d->req_status_success += s->req_status_success;
    d->req_failed += s->req_failed;
    d->req_error += s->req_error;
    d->req_timedout += s->req_timedout;
    d->req_resent += s->req_resent;
    d->bytes_total += s->bytes_total;
    d->bytes_head += s->bytes_head;
    d->bytes_head_decomp += s->bytes_head_decomp;
    d->bytes_body += s->bytes_body;
    for (i = 0; i < 6; i++)
        d->status[i] += s->status[i];
    hist_merge(&d->request, &s->request);
    for (i = 0; i < LG_H2_CODES; i++)
        close_merge(&d->goaway[i], &s->goaway[i]);
    close_merge(&d->h1_close, &s->h1_close);
    for (size_t u = 0; u < d->nper_uri && u < s->nper_uri; u++) {
        lg_uri_stat *a = &d->per_uri[u];
        const lg_uri_stat *b = &s->per_uri[u];
        a->done += b->done;
        a->succeeded += b->succeeded;
        a->failed += b->failed;
        a->errored += b->errored;
        hist_merge(&a->request, &b->request);
    }
    for (i = 0; i < LG_ERR_KINDS; i++) {
        if (d->errors[i] == 0 && s->errors[i] != 0)
            d->first_error[i] = s->first_error[i];
        d->errors[i] += s->errors[i];
    }
}

lg_sd_stat lg_sd_compute(const double *v, size_t n) {
    lg_sd_stat r = {0, 0, 0, 0, 0, 0};
    double sum = 0, sq = 0, lo, hi;
    size_t i, in = 0;

    if (n == 0)
        return r;
    r.min = r.max = v[0];
    for (i = 0; i < n; i++) {
        sum += v[i];
        if (v[i] < r.min)
            r.min = v[i];
        if (v[i] > r.max)
            r.max = v[i];
    }
    r.mean = sum / (double)n;
    for (i = 0; i < n; i++)
        sq += (v[i] - r.mean) * (v[i] - r.mean);
    r.sd = n > 1 ? sqrt(sq / (double)(n - 1)) : 0;
    lo = r.mean - r.sd;
    hi = r.mean + r.sd;
    for (i = 0; i < n; i++)
        if (v[i] >= lo && v[i] <= hi)
            in++;
    r.within_sd = 100.0 * (double)in / (double)n;
    r.n = n;
    return r;
}

lg_sd_stat lg_sd_pool(lg_sd_stat a, lg_sd_stat b) {
    lg_sd_stat r = {0, 0, 0, 0, 0, 0};
    double na = (double)a.n, nb = (double)b.n, n, ss;

    if (a.n == 0)
        return b;
    if (b.n == 0)
        return a;
    n = na + nb;
    r.n = a.n + b.n;
    r.min = a.min < b.min ? a.min : b.min;
    r.max = a.max > b.max ? a.max : b.max;
    r.mean = (na * a.mean + nb * b.mean) / n;
    ss = (na - 1) * a.sd * a.sd + na * (a.mean - r.mean) * (a.mean - r.mean) +
         (nb - 1) * b.sd * b.sd + nb * (b.mean - r.mean) * (b.mean - r.mean);
    r.sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
    r.within_sd = (na * a.within_sd + nb * b.within_sd) / n;
    return r;
}

const char *lg_h2_code_name(unsigned code) {
    static const char *const names[] = {
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    };
    return code < sizeof names / sizeof names[0] ? names[code] : "UNKNOWN";
}

const char *lg_err_kind_name(lg_err_kind k) {
    switch (k) {
    case LG_ERR_CONNECT:
        return "connect failed";
    case LG_ERR_TLS:
        return "TLS failed";
    case LG_ERR_PROTOCOL:
        return "protocol error";
    case LG_ERR_CLOSED:
        return "connection closed by the server with requests in flight";
    case LG_ERR_IO:
        return "socket error";
    case LG_ERR_TIMEOUT:
        return "timed out";
    case LG_ERR_RESET:
        return "stream reset by the server";
    default:
        return "error";
    }
}
