/* loadgen: an HTTP/1.1 and HTTP/2 load generator that takes h2load's
 * command line and prints h2load's summary, plus latency percentiles,
 * GOAWAY recovery, URL templates and a JSON report. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "client.h"
#include "merge.h"
#include "options.h"
#include "report.h"
#include "worker.h"

static void duration_str(double s, char *out, size_t len) {
    double us = s * 1e6;
    if (fmod(us, 1e6) == 0)
        snprintf(out, len, "%.0fs", s);
    else if (fmod(us, 1e3) == 0)
        snprintf(out, len, "%.0fms", us / 1e3);
    else
        snprintf(out, len, "%.0fus", us);
}

/* 1 if a TCP connection to |ai| succeeds within a second. */
static int reachable(const struct addrinfo *ai) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0), ok = 0;
    struct pollfd pfd;

    if (fd < 0)
        return 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        ok = 1;
    } else if (errno == EINPROGRESS) {
        int err = 0;
        socklen_t elen = sizeof err;
        pfd.fd = fd;
        pfd.events = POLLOUT;
        if (poll(&pfd, 1, 1000) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
            ok = 1;
    }
    close(fd);
    return ok;
}

/* The address to connect to. When the name has several ("localhost":
 * ::1 and 127.0.0.1), the first that accepts a connection, as h2load
 * tries them in turn; a single address is used without a probe. */
static int resolve(const lg_options *o, struct sockaddr_storage *ss,
                   socklen_t *len) {
    struct addrinfo hints, *res = NULL, *ai, *pick;
    char port[8];
    const char *host = o->connect_host ? o->connect_host : o->host;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%u",
             o->connect_port ? o->connect_port : o->port);
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "loadgen: cannot resolve %s: %s\n", host,
                gai_strerror(rc));
        return -1;
    }
    pick = res;
    if (res->ai_next != NULL)
        for (ai = res; ai != NULL; ai = ai->ai_next)
            if (reachable(ai)) {
                pick = ai;
                break;
            }
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    *len = pick->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* On a terminal, a status line on stderr once a second while the threads
 * run (stdout keeps h2load's exact output), erased at the end. */
static void live_progress(const lg_options *o, lg_worker *ws, uint64_t t0) {
    uint64_t last_print = t0, last_done = 0;
    unsigned i;

    for (;;) {
        uint64_t done = 0, now;
        int all = 1;

        uv_sleep(100);
        for (i = 0; i < o->nthreads; i++) {
            done +=
                atomic_load_explicit(&ws[i].live_done, memory_order_relaxed);
            all &= atomic_load(&ws[i].finished);
        }
        if (all)
            break;
        now = uv_hrtime();
        if (now - last_print < 1000000000u)
            continue;
        if (o->duration > 0)
            fprintf(stderr, "\r[loadgen] %.0fs  %llu done  %.0f req/s   ",
                    (double)(now - t0) / 1e9, (unsigned long long)done,
                    (double)(done - last_done) * 1e9 /
                        (double)(now - last_print));
        else
            fprintf(stderr,
                    "\r[loadgen] %.0fs  %llu/%llu done (%.0f%%)  %.0f "
                    "req/s   ",
                    (double)(now - t0) / 1e9, (unsigned long long)done,
                    (unsigned long long)o->nreqs,
                    100.0 * (double)done / (double)o->nreqs,
                    (double)(done - last_done) * 1e9 /
                        (double)(now - last_print));
        last_print = now;
        last_done = done;
    }
    if (last_print != t0)
        fputs("\r\033[K", stderr);
}

/* Per-client figures of every worker, summarised (us, and req/s). */
static int collect(lg_result *r, lg_worker *ws, unsigned nw) {
    size_t n = r->o->nclients, k = 0, nconnect = 0, nttfb = 0;
    double *connect = calloc(n, sizeof(double));
    double *ttfb = calloc(n, sizeof(double));
    double *rps = calloc(n, sizeof(double));
    unsigned i, j;
    int rc = -1;

    if (connect == NULL || ttfb == NULL || rps == NULL)
        goto out;
    for (i = 0; i < nw; i++) {
        for (j = 0; j < ws[i].clients_started && k < n; j++) {
            const lg_client *c = &ws[i].clients[j];
            if (c->connect_ns != 0)
                connect[nconnect++] = (double)c->connect_ns / 1e3;
            if (c->ttfb_ns != 0)
                ttfb[nttfb++] = (double)c->ttfb_ns / 1e3;
            rps[k++] = c->end_ns > c->start_ns
                           ? (double)c->success /
                                 ((double)(c->end_ns - c->start_ns) / 1e9)
                           : 0;
        }
    }
    r->connect_us = lg_sd_compute(connect, nconnect);
    r->ttfb_us = lg_sd_compute(ttfb, nttfb);
    r->client_rps = lg_sd_compute(rps, k);
    rc = 0;
out:
    free(connect);
    free(ttfb);
    free(rps);
    return rc;
}

int main(int argc, char **argv) {
    lg_options o;
    lg_worker *ws = NULL;
    tls_ctx *tls = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    lg_result r;
    FILE *log = NULL;
    uint64_t t0, t1;
    unsigned i;
    int rc = 1, started = 0, failed_thresholds = 0;

    memset(&r, 0, sizeof r);
    rc = lg_options_parse(&o, argc, argv);
    if (rc != 0) {
        lg_options_free(&o);
        return rc > 0 ? 0 : 1;
    }
    if (o.merge) {
        rc = lg_merge_main(&o);
        lg_options_free(&o);
        return rc;
    }
    rc = 1;
    signal(SIGPIPE, SIG_IGN);
    if (o.unix_path == NULL && resolve(&o, &ss, &sslen) != 0)
        goto out;
    if (o.tls) {
        char err[256];
        if (tls_ctx_client_new(&tls, (const unsigned char *)o.alpn_wire,
                               o.alpn_wire_len, err, sizeof err) != 0) {
            fprintf(stderr, "loadgen: %s\n", err);
            goto out;
        }
    }
    if (o.log_file != NULL) {
        log = fopen(o.log_file, "w");
        if (log == NULL) {
            fprintf(stderr, "loadgen: --log-file %s: %s\n", o.log_file,
                    strerror(errno));
            goto out;
        }
    }
    ws = calloc(o.nthreads, sizeof *ws);
    if (ws == NULL)
        goto out;
    for (i = 0; i < o.nthreads; i++) {
        if (lg_worker_init(&ws[i], i, &o, (struct sockaddr *)&ss, sslen, tls) !=
            0) {
            fprintf(stderr, "loadgen: out of memory setting up thread %u\n", i);
            started = (int)i + 1;
            goto out;
        }
        ws[i].log = log;
        started = (int)i + 1;
    }

    printf("starting benchmark...\n");
    for (i = 0; i < o.nthreads; i++) {
        if (o.duration > 0) {
            char wu[32], d[32];
            duration_str(o.warmup, wu, sizeof wu);
            duration_str(o.duration, d, sizeof d);
            printf("spawning thread #%u: %u total client(s). Timing-based "
                   "test with %s of warm-up time and %s of main duration "
                   "for measurements.\n",
                   i, ws[i].nclients, wu, d);
        } else {
            printf("spawning thread #%u: %u total client(s). %llu total "
                   "requests\n",
                   i, ws[i].nclients, (unsigned long long)ws[i].req_todo);
        }
    }
    fflush(stdout);
    t0 = uv_hrtime();
    for (i = 0; i < o.nthreads; i++)
        if (lg_worker_start(&ws[i]) != 0) {
            fprintf(stderr, "loadgen: cannot start thread %u\n", i);
            exit(1);
        }
    if (isatty(STDERR_FILENO) && !o.verbose)
        live_progress(&o, ws, t0);
    for (i = 0; i < o.nthreads; i++)
        lg_worker_join(&ws[i]);
    t1 = uv_hrtime();

    r.o = &o;
    if (lg_stats_init(&r.stats) != 0 ||
        lg_stats_init_per_uri(&r.stats, o.nuris) != 0 ||
        collect(&r, ws, o.nthreads) != 0)
        goto out;
    r.app_proto = ws[0].app_proto;
    r.elapsed_s = (double)(t1 - t0) / 1e9;
    r.measured_s = r.elapsed_s;
    if (o.duration > 0) {
        r.measured_s = 0;
        for (i = 0; i < o.nthreads; i++) {
            double m =
                (double)(ws[i].measure_end_ns - ws[i].measure_start_ns) / 1e9;
            if (m > r.measured_s)
                r.measured_s = m;
        }
    }
    for (i = 0; i < o.nthreads; i++)
        lg_stats_merge(&r.stats, &ws[i].stats);
    if (o.duration > 0)
        r.stats.req_todo = r.stats.req_started;
    lg_report_print(&r, stdout);
    failed_thresholds = lg_report_thresholds(&r, stdout);
    fflush(stdout);
    if (o.json_file != NULL) {
        int jrc = lg_report_json(&r, o.json_file);
        if (jrc != 0) {
            fprintf(stderr, "loadgen: --json %s: %s\n", o.json_file,
                    strerror(-jrc));
            goto out;
        }
    }
    rc = failed_thresholds > 0 ? 3 : 0;
out:
    if (log != NULL)
        fclose(log);
    for (i = 0; i < (unsigned)started; i++)
        lg_worker_free(&ws[i]);
    free(ws);
    if (r.o != NULL)
        lg_stats_free(&r.stats);
    tls_ctx_free(tls);
    lg_options_free(&o);
    return rc;
}
