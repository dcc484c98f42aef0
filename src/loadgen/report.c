/* report.c: the text summary and the JSON document. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "buf.h"
#include "json.h"

#ifndef LOADGEN_VERSION
#define LOADGEN_VERSION "0.0.0"
#endif

void lg_format_duration_us(double us, char *out, size_t len) {
    if (us >= 1e6)
        snprintf(out, len, "%.2fs", us / 1e6);
    else if (us >= 1e3)
        snprintf(out, len, "%.2fms", us / 1e3);
    else
        snprintf(out, len, "%lldus", (long long)us);
}

void lg_format_size(double n, char *out, size_t len) {
    if (n >= 1024.0 * 1024 * 1024)
        snprintf(out, len, "%.2fG", n / (1024.0 * 1024 * 1024));
    else if (n >= 1024.0 * 1024)
        snprintf(out, len, "%.2fM", n / (1024.0 * 1024));
    else if (n >= 1024.0)
        snprintf(out, len, "%.2fK", n / 1024.0);
    else
        snprintf(out, len, "%llu", (unsigned long long)n);
}

static void row_time(FILE *f, const char *label, lg_sd_stat s) {
    char a[32], b[32], c[32], d[32];

    lg_format_duration_us(s.min, a, sizeof a);
    lg_format_duration_us(s.max, b, sizeof b);
    lg_format_duration_us(s.mean, c, sizeof c);
    lg_format_duration_us(s.sd, d, sizeof d);
    fprintf(f, "%s%10s  %10s  %10s  %10s%9.2f%%\n", label, a, b, c, d,
            s.within_sd);
}

/* Time for request from the histogram: exact min, max, mean and sd; the
 * share within one sd counted per bucket (0.1% wide). */
static lg_sd_stat request_stat(const hist *h) {
    lg_sd_stat s = {0, 0, 0, 0, 0, 0};

    if (h->total == 0)
        return s;
    s.n = h->total;
    s.min = (double)h->min / 1e3;
    s.max = (double)h->max / 1e3;
    s.mean = hist_mean(h) / 1e3;
    s.sd = hist_stddev(h) / 1e3;
    s.within_sd =
        hist_percent_within(h, (s.mean - s.sd) * 1e3, (s.mean + s.sd) * 1e3);
    return s;
}

static const double pcts[] = {50, 75, 90, 99, 99.9, 100};
static const char *const pct_names[] = {"p50", "p75",   "p90",
                                        "p99", "p99.9", "max"};

/* "/objects/{1..500}/analysis": the URI as written (path part). */
static void uri_label(const lg_uri *u, char *out, size_t len) {
    if (u->has_range)
        snprintf(out, len, "%s{%llu..%llu}%s", u->prefix,
                 (unsigned long long)u->range_lo,
                 (unsigned long long)u->range_hi, u->suffix);
    else
        snprintf(out, len, "%s", u->prefix);
}

static void print_per_uri(FILE *f, const lg_result *r) {
    static const double ps[] = {50, 90, 99, 100};
    const lg_stats *s = &r->stats;
    size_t i, k;

    if (s->nper_uri == 0)
        return;
    fprintf(f,
            "per URI         : %10s  %10s  %10s  %10s  %10s  %10s  "
            "%10s\n",
            "done", "succeeded", "failed", "p50", "p90", "p99", "max");
    for (i = 0; i < s->nper_uri; i++) {
        const lg_uri_stat *u = &s->per_uri[i];
        char label[256], t[32];

        uri_label(&r->o->uris[i], label, sizeof label);
        fprintf(f, "  %s\n                  %10llu  %10llu  %10llu", label,
                (unsigned long long)u->done, (unsigned long long)u->succeeded,
                (unsigned long long)u->failed);
        for (k = 0; k < 4; k++) {
            lg_format_duration_us(
                (double)hist_percentile(&u->request, ps[k]) / 1e3, t, sizeof t);
            fprintf(f, "  %10s", t);
        }
        fputc('\n', f);
    }
}

static void print_close(FILE *f, const char *what, const lg_close_stat *c) {
    if (c->count == 0)
        return;
    if (c->reqs_min == c->reqs_max)
        fprintf(f,
                "server closed %llu connection%s with %s after %llu "
                "request%s each\n",
                (unsigned long long)c->count, c->count == 1 ? "" : "s", what,
                (unsigned long long)c->reqs_min, c->reqs_min == 1 ? "" : "s");
    else
        fprintf(f,
                "server closed %llu connections with %s after %llu to "
                "%llu requests (mean %.1f)\n",
                (unsigned long long)c->count, what,
                (unsigned long long)c->reqs_min,
                (unsigned long long)c->reqs_max,
                (double)c->reqs_sum / (double)c->count);
}

void lg_report_print(const lg_result *r, FILE *f) {
    const lg_stats *s = &r->stats;
    double rps = r->measured_s > 0 ? (double)s->req_success / r->measured_s : 0;
    double bps = r->measured_s > 0 ? (double)s->bytes_total / r->measured_s : 0;
    double savings =
        s->bytes_head_decomp
            ? (1.0 - (double)s->bytes_head / (double)s->bytes_head_decomp) *
                  100.0
            : 0;
    char t[32], a[32], b[32], c[32];
    lg_sd_stat st;
    size_t i;

    lg_format_duration_us(r->elapsed_s * 1e6, t, sizeof t);
    lg_format_size(bps, a, sizeof a);
    fprintf(f, "\nfinished in %s, %.2f req/s, %sB/s\n", t, rps, a);
    fprintf(f,
            "requests: %llu total, %llu started, %llu done, %llu succeeded, "
            "%llu failed, %llu errored, %llu timeout\n",
            (unsigned long long)s->req_todo, (unsigned long long)s->req_started,
            (unsigned long long)s->req_done,
            (unsigned long long)s->req_status_success,
            (unsigned long long)s->req_failed, (unsigned long long)s->req_error,
            (unsigned long long)s->req_timedout);
    fprintf(f, "status codes: %llu 2xx, %llu 3xx, %llu 4xx, %llu 5xx\n",
            (unsigned long long)s->status[2], (unsigned long long)s->status[3],
            (unsigned long long)s->status[4], (unsigned long long)s->status[5]);
    lg_format_size((double)s->bytes_total, a, sizeof a);
    lg_format_size((double)s->bytes_head, b, sizeof b);
    lg_format_size((double)s->bytes_body, c, sizeof c);
    fprintf(f,
            "traffic: %sB (%llu) total, %sB (%llu) headers (space savings "
            "%.2f%%), %sB (%llu) data\n",
            a, (unsigned long long)s->bytes_total, b,
            (unsigned long long)s->bytes_head, savings, c,
            (unsigned long long)s->bytes_body);
    fputs("                     min         max         mean         sd    "
          "    +/- sd\n",
          f);
    row_time(f, "time for request: ", request_stat(&s->request));
    row_time(f, "time for connect: ", r->connect_us);
    row_time(f, "time to 1st byte: ", r->ttfb_us);
    st = r->client_rps;
    fprintf(f, "req/s           : %10.2f  %10.2f  %10.2f  %10.2f%9.2f%%\n",
            st.min, st.max, st.mean, st.sd, st.within_sd);

    /* Beyond h2load. */
    fputs("latency         :", f);
    for (i = 0; i < 6; i++)
        fprintf(f, "%s%10s", i ? "  " : " ", pct_names[i]);
    fputs("\ntime for request: ", f);
    for (i = 0; i < 6; i++) {
        lg_format_duration_us(
            (double)hist_percentile(&s->request, pcts[i]) / 1e3, t, sizeof t);
        fprintf(f, "%s%10s", i ? "  " : "", t);
    }
    fputc('\n', f);
    print_per_uri(f, r);
    for (i = 0; i < LG_H2_CODES; i++) {
        char what[48];
        snprintf(what, sizeof what, "GOAWAY(%s)", lg_h2_code_name((unsigned)i));
        print_close(f, what, &s->goaway[i]);
    }
    print_close(f, "Connection: close", &s->h1_close);
    if (s->req_resent > 0)
        fprintf(f,
                "re-sent: %llu requests the server never processed (above "
                "a GOAWAY's last stream id, or pipelined behind a "
                "Connection: close), counted once in total and started\n",
                (unsigned long long)s->req_resent);
    for (i = 0; i < LG_ERR_KINDS; i++) {
        if (s->errors[i] == 0)
            continue;
        fprintf(f, "errors: %llu %s", (unsigned long long)s->errors[i],
                lg_err_kind_name((lg_err_kind)i));
        if (i == LG_ERR_RESET)
            fprintf(f, " (first: %s)",
                    lg_h2_code_name((unsigned)s->first_error[i]));
        else if (s->first_error[i] > 0 && i != LG_ERR_RESET)
            fprintf(f, " (first: %s)", strerror(s->first_error[i]));
        fputc('\n', f);
    }
    if (s->request.clamped > 0)
        fprintf(f,
                "note: %llu request times above the histogram's range "
                "were counted at its maximum\n",
                (unsigned long long)s->request.clamped);
}

static double metric_value(const lg_result *r, const lg_threshold *t) {
    const lg_stats *s = &r->stats;
    double count;

    switch (t->metric) {
    case LG_M_P50:
    case LG_M_P75:
    case LG_M_P90:
    case LG_M_P99:
    case LG_M_P999:
    case LG_M_MAX:
        return (double)hist_percentile(&s->request, pcts[t->metric]) / 1e9;
    case LG_M_MEAN:
        return hist_mean(&s->request) / 1e9;
    case LG_M_RPS:
        return r->measured_s > 0 ? (double)s->req_success / r->measured_s : 0;
    case LG_M_FAILED:
        count = (double)s->req_failed;
        break;
    case LG_M_ERRORED:
        count = (double)s->req_error;
        break;
    default:
        count = (double)s->req_timedout;
        break;
    }
    if (t->percent)
        return s->req_todo ? count * 100.0 / (double)s->req_todo : 0;
    return count;
}

int lg_report_thresholds(const lg_result *r, FILE *f) {
    size_t i;
    int n = 0;

    for (i = 0; i < r->o->nfail_if; i++) {
        const lg_threshold *t = &r->o->fail_if[i];
        double v = metric_value(r, t);
        int holds = lg_threshold_holds(t, v);
        char shown[32];

        if (t->metric <= LG_M_MEAN)
            lg_format_duration_us(v * 1e6, shown, sizeof shown);
        else if (t->percent || t->metric == LG_M_RPS)
            snprintf(shown, sizeof shown, "%.2f%s", v, t->percent ? "%" : "");
        else
            snprintf(shown, sizeof shown, "%.0f", v);
        fprintf(f, "fail-if %s: %s (%s is %s)\n", t->text,
                holds ? "FAILED" : "ok", lg_metric_name(t->metric), shown);
        n += holds;
    }
    return n;
}

/* ---- JSON ---- */

static void j_key(buf *b, const char *k) {
    json_append_string(b, k, strlen(k));
    buf_append_char(b, ':');
}

static void j_num(buf *b, const char *k, double v) {
    j_key(b, k);
    if (!isfinite(v))
        v = 0;
    if (v == floor(v) && fabs(v) < 9e15)
        buf_appendf(b, "%.0f,", v);
    else
        buf_appendf(b, "%.3f,", v);
}

static void j_u64(buf *b, const char *k, unsigned long long v) {
    j_key(b, k);
    buf_appendf(b, "%llu,", v);
}

static void j_str(buf *b, const char *k, const char *v) {
    j_key(b, k);
    if (v == NULL) {
        buf_append_str(b, "null,");
        return;
    }
    json_append_string(b, v, strlen(v));
    buf_append_char(b, ',');
}

/* Replaces the trailing comma of an object or array with |close|. */
static void j_close(buf *b, char close) {
    if (b->len > 0 && b->data[b->len - 1] == ',')
        b->data[b->len - 1] = close;
    else
        buf_append_char(b, close);
    buf_append_char(b, ',');
}

static void j_sd(buf *b, const char *k, lg_sd_stat s) {
    j_key(b, k);
    buf_append_char(b, '{');
    j_num(b, "min", s.min);
    j_num(b, "max", s.max);
    j_num(b, "mean", s.mean);
    j_num(b, "sd", s.sd);
    j_num(b, "within_sd_percent", s.within_sd);
    j_u64(b, "count", s.n);
    j_close(b, '}');
}

static void j_percentiles(buf *b, const hist *h) {
    size_t i;

    j_key(b, "latency_percentiles_us");
    buf_append_char(b, '{');
    for (i = 0; i < 6; i++)
        j_num(b, pct_names[i], (double)hist_percentile(h, pcts[i]) / 1e3);
    j_close(b, '}');
}

static void j_close_stat(buf *b, const lg_close_stat *c) {
    j_u64(b, "connections", c->count);
    j_u64(b, "requests_min", c->count ? c->reqs_min : 0);
    j_u64(b, "requests_max", c->reqs_max);
    j_num(b, "requests_mean",
          c->count ? (double)c->reqs_sum / (double)c->count : 0);
}

static void j_options(buf *b, const lg_options *o) {
    size_t i;

    j_key(b, "options");
    buf_append_char(b, '{');
    j_key(b, "argv");
    buf_append_char(b, '[');
    for (i = 0; i < (size_t)o->argc; i++) {
        json_append_string(b, o->argv[i], strlen(o->argv[i]));
        buf_append_char(b, ',');
    }
    j_close(b, ']');
    j_key(b, "uris");
    buf_append_char(b, '[');
    for (i = 0; i < o->nuris; i++) {
        const lg_uri *u = &o->uris[i];
        buf_append_char(b, '{');
        j_str(b, "path_prefix", u->prefix);
        j_str(b, "path_suffix", u->suffix);
        if (u->has_range) {
            j_u64(b, "range_from", u->range_lo);
            j_u64(b, "range_to", u->range_hi);
        }
        j_close(b, '}');
    }
    j_close(b, ']');
    j_str(b, "scheme", o->scheme);
    j_str(b, "host", o->host);
    j_u64(b, "port", o->port);
    j_str(b, "authority", o->authority);
    j_str(b, "unix_socket", o->unix_path);
    j_u64(b, "requests", o->duration > 0 ? 0 : o->nreqs);
    j_u64(b, "clients", o->nclients);
    j_u64(b, "threads", o->nthreads);
    j_u64(b, "max_concurrent_streams", o->max_streams);
    j_str(b, "cleartext_protocol",
          o->cleartext_proto == LG_PROTO_H1 ? "http/1.1" : "h2c");
    j_str(b, "npn_list", o->npn_list);
    j_num(b, "duration_s", o->duration);
    j_num(b, "warm_up_time_s", o->warmup);
    j_u64(b, "rate", o->rate);
    j_num(b, "rate_period_s", o->rate_period);
    j_num(b, "connection_active_timeout_s", o->active_timeout);
    j_num(b, "connection_inactivity_timeout_s", o->idle_timeout);
    j_num(b, "rps", o->rps);
    j_str(b, "data_file", o->data_path);
    j_key(b, "headers");
    buf_append_char(b, '[');
    for (i = 0; i < o->nheaders; i++) {
        buf_append_char(b, '[');
        json_append_string(b, o->headers[i].name, strlen(o->headers[i].name));
        buf_append_char(b, ',');
        json_append_string(b, o->headers[i].value, strlen(o->headers[i].value));
        buf_append_str(b, "],");
    }
    j_close(b, ']');
    j_close(b, '}');
}

int lg_report_json(const lg_result *r, const char *path) {
    const lg_stats *s = &r->stats;
    buf b;
    size_t i;
    int rc = 0;
    FILE *f;

    buf_init(&b, 0);
    buf_append_char(&b, '{');
    j_str(&b, "loadgen_version", LOADGEN_VERSION);
    j_str(&b, "application_protocol", r->app_proto);
    j_num(&b, "finished_in_s", r->elapsed_s);
    j_num(&b, "measured_s", r->measured_s);
    j_num(&b, "req_per_s",
          r->measured_s > 0 ? (double)s->req_success / r->measured_s : 0);
    j_num(&b, "bytes_per_s",
          r->measured_s > 0 ? (double)s->bytes_total / r->measured_s : 0);
    j_key(&b, "requests");
    buf_append_char(&b, '{');
    j_u64(&b, "total", s->req_todo);
    j_u64(&b, "started", s->req_started);
    j_u64(&b, "done", s->req_done);
    j_u64(&b, "succeeded", s->req_status_success);
    j_u64(&b, "failed", s->req_failed);
    j_u64(&b, "errored", s->req_error);
    j_u64(&b, "timeout", s->req_timedout);
    j_u64(&b, "completed", s->req_success);
    j_u64(&b, "resent", s->req_resent);
    j_close(&b, '}');
    j_key(&b, "status_codes");
    buf_append_char(&b, '{');
    j_u64(&b, "2xx", s->status[2]);
    j_u64(&b, "3xx", s->status[3]);
    j_u64(&b, "4xx", s->status[4]);
    j_u64(&b, "5xx", s->status[5]);
    j_close(&b, '}');
    j_key(&b, "traffic");
    buf_append_char(&b, '{');
    j_u64(&b, "total_bytes", s->bytes_total);
    j_u64(&b, "header_bytes", s->bytes_head);
    j_u64(&b, "header_bytes_decompressed", s->bytes_head_decomp);
    j_num(&b, "header_space_savings_percent",
          s->bytes_head_decomp
              ? (1.0 - (double)s->bytes_head / (double)s->bytes_head_decomp) *
                    100.0
              : 0);
    j_u64(&b, "data_bytes", s->bytes_body);
    j_close(&b, '}');
    j_sd(&b, "time_for_request_us", request_stat(&s->request));
    j_sd(&b, "time_for_connect_us", r->connect_us);
    j_sd(&b, "time_to_1st_byte_us", r->ttfb_us);
    j_sd(&b, "req_per_s_per_client", r->client_rps);
    j_percentiles(&b, &s->request);
    j_key(&b, "histogram");
    buf_append_char(&b, '{');
    j_str(&b, "unit", "ns");
    j_u64(&b, "count", s->request.total);
    j_u64(&b, "min", s->request.total ? s->request.min : 0);
    j_u64(&b, "max", s->request.max);
    j_u64(&b, "clamped", s->request.clamped);
    j_num(&b, "sum", s->request.sum);
    j_num(&b, "sum_sq", s->request.sum_sq);
    j_key(&b, "buckets");
    buf_append_char(&b, '[');
    for (i = 0; i < hist_bucket_count(); i++) {
        if (s->request.counts[i] == 0)
            continue;
        buf_appendf(&b, "[%llu,%llu,%llu],",
                    (unsigned long long)hist_bucket_low(i),
                    (unsigned long long)hist_bucket_high(i),
                    (unsigned long long)s->request.counts[i]);
    }
    j_close(&b, ']');
    j_close(&b, '}');
    j_key(&b, "per_uri");
    buf_append_char(&b, '[');
    for (i = 0; i < s->nper_uri; i++) {
        const lg_uri_stat *u = &s->per_uri[i];
        char label[256];

        uri_label(&r->o->uris[i], label, sizeof label);
        buf_append_char(&b, '{');
        j_str(&b, "uri", label);
        j_u64(&b, "done", u->done);
        j_u64(&b, "succeeded", u->succeeded);
        j_u64(&b, "failed", u->failed);
        j_u64(&b, "errored", u->errored);
        j_percentiles(&b, &u->request);
        j_close(&b, '}');
    }
    j_close(&b, ']');
    j_key(&b, "goaways");
    buf_append_char(&b, '[');
    for (i = 0; i < LG_H2_CODES; i++) {
        if (s->goaway[i].count == 0)
            continue;
        buf_append_char(&b, '{');
        j_u64(&b, "error_code", i);
        j_str(&b, "error", lg_h2_code_name((unsigned)i));
        j_close_stat(&b, &s->goaway[i]);
        j_close(&b, '}');
    }
    j_close(&b, ']');
    j_key(&b, "connection_close");
    buf_append_char(&b, '{');
    j_close_stat(&b, &s->h1_close);
    j_close(&b, '}');
    j_key(&b, "errors");
    buf_append_char(&b, '{');
    {
        static const char *const keys[LG_ERR_KINDS] = {
            "connect", "tls",     "protocol",    "closed",
            "io",      "timeout", "stream_reset"};
        for (i = 0; i < LG_ERR_KINDS; i++)
            j_u64(&b, keys[i], s->errors[i]);
    }
    j_close(&b, '}');
    if (r->merged_from != NULL) {
        j_key(&b, "merged_from");
        buf_append_char(&b, '[');
        for (i = 0; i < r->nmerged; i++) {
            json_append_string(&b, r->merged_from[i],
                               strlen(r->merged_from[i]));
            buf_append_char(&b, ',');
        }
        j_close(&b, ']');
    }
    j_options(&b, r->o);
    /* The last value's comma becomes the closing brace. */
    j_close(&b, '}');
    b.len--; /* drop the comma j_close added after the root */
    if (buf_append_char(&b, '\n') != 0) {
        buf_free(&b);
        return -ENOMEM;
    }
    f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL) {
        rc = -errno;
    } else {
        if (fwrite(b.data, 1, b.len, f) != b.len)
            rc = -EIO;
        if (f != stdout && fclose(f) != 0 && rc == 0)
            rc = -errno;
    }
    buf_free(&b);
    return rc;
}
