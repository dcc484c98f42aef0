/* merge.c: combining --json results (see merge.h). */
#include "merge.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Lookups that fail the whole file when a figure is missing: a result
 * that is not loadgen's must not merge into zeros. */
typedef struct reader {
    const char *path;
    int bad;
} reader;

static json_t *obj(reader *rd, json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);

    if (v == NULL || !(json_is_object(v) || json_is_array(v))) {
        if (!rd->bad)
            fprintf(stderr,
                    "loadgen: --merge %s: no \"%s\" object: not a "
                    "loadgen --json result\n",
                    rd->path, key);
        rd->bad = 1;
        return json_object();
    }
    return v;
}

static double num(reader *rd, json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);

    if (!json_is_number(v)) {
        if (!rd->bad)
            fprintf(stderr, "loadgen: --merge %s: \"%s\" is not a number\n",
                    rd->path, key);
        rd->bad = 1;
        return 0;
    }
    return json_number_value(v);
}

static uint64_t u64(reader *rd, json_t *o, const char *key) {
    double v = num(rd, o, key);
    return v > 0 ? (uint64_t)(v + 0.5) : 0;
}

static lg_sd_stat sd(reader *rd, json_t *o) {
    lg_sd_stat s;

    s.min = num(rd, o, "min");
    s.max = num(rd, o, "max");
    s.mean = num(rd, o, "mean");
    s.sd = num(rd, o, "sd");
    s.within_sd = num(rd, o, "within_sd_percent");
    s.n = (size_t)u64(rd, o, "count");
    return s;
}

static void close_stat(reader *rd, json_t *o, lg_close_stat *c) {
    uint64_t n = u64(rd, o, "connections");

    if (n == 0)
        return;
    c->count += n;
    c->reqs_sum += (uint64_t)(num(rd, o, "requests_mean") * (double)n + 0.5);
    if (u64(rd, o, "requests_min") < c->reqs_min)
        c->reqs_min = u64(rd, o, "requests_min");
    if (u64(rd, o, "requests_max") > c->reqs_max)
        c->reqs_max = u64(rd, o, "requests_max");
}

static const char *const err_keys[LG_ERR_KINDS] = {
    "connect", "tls", "protocol", "closed", "io", "timeout", "stream_reset"};

/* Adds one result to |r|. 0 or -1 (message printed). */
static int merge_one(lg_result *r, json_t *d, const char *path, int first) {
    reader rd = {path, 0};
    lg_stats *s = &r->stats;
    json_t *req, *st, *tr, *h, *b, *e;
    size_t i;
    const char *proto;
    double v;

    req = obj(&rd, d, "requests");
    s->req_todo += u64(&rd, req, "total");
    s->req_started += u64(&rd, req, "started");
    s->req_done += u64(&rd, req, "done");
    s->req_status_success += u64(&rd, req, "succeeded");
    s->req_failed += u64(&rd, req, "failed");
    s->req_error += u64(&rd, req, "errored");
    s->req_timedout += u64(&rd, req, "timeout");
    s->req_success += u64(&rd, req, "completed");
    s->req_resent += u64(&rd, req, "resent");
    st = obj(&rd, d, "status_codes");
    s->status[2] += u64(&rd, st, "2xx");
    s->status[3] += u64(&rd, st, "3xx");
    s->status[4] += u64(&rd, st, "4xx");
    s->status[5] += u64(&rd, st, "5xx");
    tr = obj(&rd, d, "traffic");
    s->bytes_total += u64(&rd, tr, "total_bytes");
    s->bytes_head += u64(&rd, tr, "header_bytes");
    s->bytes_head_decomp += u64(&rd, tr, "header_bytes_decompressed");
    s->bytes_body += u64(&rd, tr, "data_bytes");

    h = obj(&rd, d, "histogram");
    b = obj(&rd, h, "buckets");
    json_array_foreach(b, i, e) {
        json_t *lo = json_array_get(e, 0), *n = json_array_get(e, 2);
        if (!json_is_integer(lo) || !json_is_integer(n) ||
            json_integer_value(lo) < 0 || json_integer_value(n) < 0 ||
            (uint64_t)json_integer_value(lo) > HIST_MAX_VALUE) {
            fprintf(stderr, "loadgen: --merge %s: bad histogram bucket\n",
                    path);
            return -1;
        }
        hist_add_count(&s->request, (uint64_t)json_integer_value(lo),
                       (uint64_t)json_integer_value(n));
    }
    if (u64(&rd, h, "count") > 0) {
        if (u64(&rd, h, "min") < s->request.min)
            s->request.min = u64(&rd, h, "min");
        if (u64(&rd, h, "max") > s->request.max)
            s->request.max = u64(&rd, h, "max");
    }
    s->request.clamped += u64(&rd, h, "clamped");
    s->request.sum += num(&rd, h, "sum");
    s->request.sum_sq += num(&rd, h, "sum_sq");

    r->connect_us =
        lg_sd_pool(r->connect_us, sd(&rd, obj(&rd, d, "time_for_connect_us")));
    r->ttfb_us =
        lg_sd_pool(r->ttfb_us, sd(&rd, obj(&rd, d, "time_to_1st_byte_us")));
    r->client_rps =
        lg_sd_pool(r->client_rps, sd(&rd, obj(&rd, d, "req_per_s_per_client")));

    json_array_foreach(obj(&rd, d, "goaways"), i, e) {
        uint64_t code = u64(&rd, e, "error_code");
        close_stat(&rd, e,
                   &s->goaway[code < LG_H2_CODES ? code : LG_H2_CODES - 1]);
    }
    close_stat(&rd, obj(&rd, d, "connection_close"), &s->h1_close);
    e = obj(&rd, d, "errors");
    for (i = 0; i < LG_ERR_KINDS; i++)
        s->errors[i] += u64(&rd, e, err_keys[i]);

    /* Runs side by side: the longest one is the run time. */
    v = num(&rd, d, "finished_in_s");
    if (v > r->elapsed_s)
        r->elapsed_s = v;
    v = num(&rd, d, "measured_s");
    if (v > r->measured_s)
        r->measured_s = v;
    proto = json_string_value(json_object_get(d, "application_protocol"));
    if (first)
        r->app_proto = proto != NULL ? strdup(proto) : strdup("");
    else if (proto == NULL || strcmp(proto, r->app_proto) != 0) {
        free((char *)r->app_proto);
        r->app_proto = strdup("mixed");
    }
    if (r->app_proto == NULL)
        return -1;
    return rd.bad ? -1 : 0;
}

int lg_merge_main(const lg_options *o) {
    lg_result r;
    size_t i;
    int rc = 1;

    memset(&r, 0, sizeof r);
    r.o = o;
    if (lg_stats_init(&r.stats) != 0)
        return 1;
    for (i = 0; i < o->nmerge; i++) {
        json_error_t err;
        json_t *d = json_load_file(o->merge_files[i], 0, &err);

        if (d == NULL) {
            fprintf(stderr, "loadgen: --merge %s: %s (line %d)\n",
                    o->merge_files[i], err.text, err.line);
            goto out;
        }
        if (merge_one(&r, d, o->merge_files[i], i == 0) != 0) {
            json_decref(d);
            goto out;
        }
        json_decref(d);
    }
    r.merged_from = o->merge_files;
    r.nmerged = o->nmerge;
    printf("merged %zu results:", o->nmerge);
    for (i = 0; i < o->nmerge; i++)
        printf(" %s", o->merge_files[i]);
    printf("\n");
    lg_report_print(&r, stdout);
    rc = lg_report_thresholds(&r, stdout) > 0 ? 3 : 0;
    fflush(stdout);
    if (o->json_file != NULL) {
        int jrc = lg_report_json(&r, o->json_file);
        if (jrc != 0) {
            fprintf(stderr, "loadgen: --json %s: %s\n", o->json_file,
                    strerror(-jrc));
            rc = 1;
        }
    }
out:
    free((char *)r.app_proto);
    lg_stats_free(&r.stats);
    return rc;
}
