/* worker.c: a thread, its loop, its clients, and h2load's accounting. */
#include "worker.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "client.h"
#include "h1_parser.h"

#ifndef LOADGEN_VERSION
#define LOADGEN_VERSION "0.0.0"
#endif

static uv_mutex_t print_mutex;
static uv_once_t print_once = UV_ONCE_INIT;

static void print_init(void) {
    uv_mutex_init(&print_mutex);
}

static void vprint(const char *fmt, va_list ap) {
    uv_once(&print_once, print_init);
    uv_mutex_lock(&print_mutex);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    uv_mutex_unlock(&print_mutex);
}

void lg_print0(lg_worker *w, const char *fmt, ...) {
    va_list ap;

    if (w->id != 0)
        return;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

/* A line from any thread (the phase messages name their thread). */
static void print_any(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void print_any(const char *fmt, ...) {
    va_list ap;

    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

int lg_slot_path(lg_worker *w, lg_slot *s) {
    const lg_options *o = w->o;
    uint64_t pos = s->target % o->ntargets;
    size_t i;

    w->scratch.len = 0;
    if (o->ntargets == o->nuris) {
        /* No template: target k is URI k (an -i file may be long). */
        s->uri = (unsigned)pos;
        return lg_uri_append_path(&o->uris[pos], 0, &w->scratch);
    }
    for (i = 0; i < o->nuris; i++) {
        uint64_t n = lg_uri_count(&o->uris[i]);
        if (pos < n)
            break;
        pos -= n;
    }
    s->uri = (unsigned)i;
    return lg_uri_append_path(&o->uris[i], pos, &w->scratch);
}

int lg_client_has_work(lg_client *c) {
    lg_worker *w = c->w;

    if (w->stopping)
        return 0;
    if (w->arrival_rate > 0)
        return c->retry_len > 0 || c->inflight_count > 0 ||
               (w->arrival_issued < w->arrival_todo && c->error_kind < 0);
    return c->req_done < c->req_todo;
}

static uint64_t rps_allowed(lg_client *c) {
    uint64_t elapsed = c->w->now_ns - c->start_ns;
    return (uint64_t)(c->w->o->rps * (double)elapsed / 1e9) + 1;
}

lg_slot *lg_client_next_request(lg_client *c) {
    lg_worker *w = c->w;
    uint64_t target, scheduled = 0;
    lg_slot *s;

    if (c->state != LG_CLIENT_CONNECTED || c->goaway || w->stopping ||
        c->close_after || c->nfree == 0)
        return NULL;
    if (w->o->rps > 0 && c->rps_sent >= rps_allowed(c))
        return NULL;
    /* HTTP/1.1 with a body: no pipelining (h2load does the same). */
    if (c->proto == LG_PROTO_H1 && w->o->data != NULL && c->inflight_count)
        return NULL;
    if (c->retry_len > 0) {
        target = c->retry[c->retry_head];
        c->retry_head = (c->retry_head + 1) % c->nslots;
        c->retry_len--;
    } else if (w->arrival_rate > 0) {
        /* Open model: only what is due by now, timed from when it was
         * due - waiting for a free slot is part of the latency. */
        uint64_t due = (uint64_t)((double)(w->now_ns - w->arrival_t0_ns) *
                                  w->arrival_rate / 1e9) +
                       1;
        if (due > w->arrival_todo)
            due = w->arrival_todo;
        if (w->arrival_issued >= due)
            return NULL;
        scheduled = w->arrival_t0_ns + (uint64_t)((double)w->arrival_issued *
                                                  1e9 / w->arrival_rate);
        w->arrival_issued++;
        target = c->next_target++;
        c->req_started++;
        if (w->measuring)
            w->stats.req_started++;
    } else {
        if (c->req_started >= c->req_todo)
            return NULL;
        target = c->next_target++;
        c->req_started++;
        if (w->measuring)
            w->stats.req_started++;
    }
    c->rps_sent++;
    s = &c->slots[c->free_slots[--c->nfree]];
    s->target = target;
    s->start_ns = scheduled ? scheduled : w->now_ns;
    s->wall_us = 0;
    if (w->log != NULL) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        s->wall_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    }
    s->data_off = 0;
    s->status = 0;
    s->stream_id = 0;
    s->measured = w->measuring != 0;
    s->in_use = 1;
    c->inflight_count++;
    return s;
}

static void slot_release(lg_client *c, lg_slot *s) {
    s->in_use = 0;
    c->free_slots[c->nfree++] = (unsigned)(s - c->slots);
    c->inflight_count--;
}

void lg_request_status(lg_client *c, lg_slot *s, int status) {
    lg_stats *st = &c->w->stats;

    if (s->status != 0)
        return;
    s->status = status;
    if (!s->measured)
        return;
    /* h2load's classes: 2xx, then everything else below 400 as 3xx. */
    if (status >= 200 && status < 300)
        st->status[2]++;
    else if (status < 400)
        st->status[3]++;
    else if (status < 600)
        st->status[status / 100]++;
}

static void progress(lg_worker *w) {
    if (w->id != 0 || w->o->duration > 0 || w->o->rate > 0 || w->req_todo == 0)
        return;
    while (w->stats.req_done >= w->progress_next &&
           w->progress_next <= w->req_todo) {
        print_any("progress: %llu%% done",
                  (unsigned long long)(w->progress_next * 100 / w->req_todo));
        w->progress_next += w->progress_interval;
    }
}

static void log_request(lg_worker *w, const lg_slot *s, uint64_t dur_ns) {
    char line[96];
    int n =
        snprintf(line, sizeof line, "%lld\t%d\t%llu\n", (long long)s->wall_us,
                 s->status, (unsigned long long)(dur_ns / 1000));
    if (n > 0)
        buf_append(&w->log_buf, line, (size_t)n);
    if (w->log_buf.len > 60000) {
        fwrite(w->log_buf.data, 1, w->log_buf.len, w->log);
        w->log_buf.len = 0;
    }
}

void lg_request_done(lg_client *c, lg_slot *s, int ok) {
    lg_worker *w = c->w;
    lg_stats *st = &w->stats;

    if (ok)
        c->conn_responses++;
    if (s->measured && !w->stopping) {
        uint64_t dur = w->now_ns - s->start_ns;
        st->req_done++;
        if (ok) {
            st->req_success++;
            c->success++;
            if (s->status >= 200 && s->status < 400)
                st->req_status_success++;
            else
                st->req_failed++;
            hist_record(&st->request, dur);
        } else {
            st->req_failed++;
            st->req_error++;
        }
        if (st->per_uri != NULL) {
            lg_uri_stat *u = &st->per_uri[s->uri];
            u->done++;
            if (!ok) {
                u->failed++;
                u->errored++;
            } else {
                hist_record(&u->request, dur);
                if (s->status >= 200 && s->status < 400)
                    u->succeeded++;
                else
                    u->failed++;
            }
        }
        if (w->log != NULL)
            log_request(w, s, dur);
        atomic_store_explicit(&w->live_done, st->req_done,
                              memory_order_relaxed);
        progress(w);
    }
    c->req_done++;
    slot_release(c, s);
}

void lg_request_retry(lg_client *c, lg_slot *s) {
    lg_worker *w = c->w;

    if (s->measured)
        w->stats.req_resent++;
    c->retry[(c->retry_head + c->retry_len) % c->nslots] = s->target;
    c->retry_len++;
    slot_release(c, s);
}

void lg_record_error(lg_client *c, lg_err_kind kind, int code) {
    lg_stats *st = &c->w->stats;

    if (st->errors[kind] == 0)
        st->first_error[kind] = code;
    st->errors[kind]++;
}

void lg_client_abandon(lg_client *c, lg_err_kind kind, int code) {
    lg_worker *w = c->w;
    lg_stats *st = &w->stats;
    uint64_t left;
    unsigned i;

    if (!w->stopping) {
        lg_record_error(c, kind, code);
        /* h2load: what was in flight and what was never started are all
         * failed and errored; not done. */
        for (i = 0; i < c->nslots; i++) {
            lg_slot *s = &c->slots[i];
            if (!s->in_use || !s->measured)
                continue;
            st->req_failed++;
            st->req_error++;
            if (kind == LG_ERR_TIMEOUT)
                st->req_timedout++;
        }
        if (w->o->duration <= 0 && w->arrival_rate <= 0) {
            left = c->req_todo - c->req_started + c->retry_len;
            st->req_failed += left;
            st->req_error += left;
        }
    }
    for (i = 0; i < c->nslots; i++)
        if (c->slots[i].in_use)
            slot_release(c, &c->slots[i]);
    c->retry_len = 0;
    c->req_started = c->req_todo;
    c->req_done = c->req_todo;
    c->error_kind = (int)kind;
    if (c->state == LG_CLIENT_CONNECTED || c->state == LG_CLIENT_CONNECTING)
        lg_client_disconnect(c);
}

static void close_timer(uv_timer_t *t) {
    if (!uv_is_closing((uv_handle_t *)t))
        uv_close((uv_handle_t *)t, NULL);
}

void lg_worker_client_done(lg_client *c) {
    lg_worker *w = c->w;
    unsigned i, done = 0;

    c->end_ns = uv_hrtime();
    if (c->rps_timer_on) {
        uv_timer_stop(&c->rps_timer);
        c->rps_timer_on = 0;
    }
    for (i = 0; i < w->clients_started; i++)
        if (w->clients[i].state == LG_CLIENT_DONE)
            done++;
    if (done < w->nclients)
        return;
    /* Everything is over: let the loop end. */
    close_timer(&w->phase_timer);
    close_timer(&w->stop_timer);
    close_timer(&w->arrival_timer);
    for (i = 0; i < w->nclients; i++) {
        close_timer(&w->clients[i].timer);
        close_timer(&w->clients[i].rps_timer);
    }
}

/* Every millisecond: offer the requests now due to the clients in turn
 * (a client takes what its free slots allow; the rest waits, its clock
 * running, for the next response to free one). */
static void arrival_cb(uv_timer_t *t) {
    lg_worker *w = t->data;
    unsigned k, start = w->arrival_next;

    w->now_ns = uv_hrtime();
    if (w->clients_started == 0)
        return;
    for (k = 0; k < w->clients_started; k++) {
        unsigned idx = (start + k) % w->clients_started;
        lg_client *c = &w->clients[idx];
        uint64_t before = w->arrival_issued;
        if (c->state != LG_CLIENT_CONNECTED)
            continue;
        if ((c->proto == LG_PROTO_H2 ? lg_h2_submit(c) : lg_h1_submit(c)) !=
            0) {
            lg_client_abandon(c, LG_ERR_PROTOCOL, ENOMEM);
            continue;
        }
        /* The next due request goes to the next client in turn. */
        if (w->arrival_issued != before)
            w->arrival_next = (idx + 1) % w->clients_started;
        lg_client_flush(c);
    }
    if (w->arrival_issued < w->arrival_todo)
        return;
    uv_timer_stop(t);
    /* Everything is sent: idle clients can close now. */
    for (k = 0; k < w->clients_started; k++)
        lg_client_maybe_finish(&w->clients[k]);
}

static void start_client(lg_worker *w) {
    lg_client *c = &w->clients[w->clients_started++];

    if (w->o->duration > 0 || w->o->rate > 0)
        lg_print0(w, "progress: %u%% of clients started",
                  w->clients_started * 100 / w->nclients);
    lg_client_connect(c);
}

static void rate_cb(uv_timer_t *t) {
    lg_worker *w = t->data;
    uint64_t i;

    for (i = 0; i < w->rate_per_period && w->clients_started < w->nclients; i++)
        start_client(w);
    if (w->clients_started == w->nclients)
        uv_timer_stop(t);
}

static void stop_cb(uv_timer_t *t) {
    lg_worker *w = t->data;
    unsigned i;

    print_any("Main benchmark duration is over for thread #%u. Stopping "
              "all clients.",
              w->id);
    w->measure_end_ns = uv_hrtime();
    w->stopping = 1;
    w->measuring = 0;
    for (i = 0; i < w->clients_started; i++) {
        lg_client *c = &w->clients[i];
        unsigned k;
        /* Requests cut off by the end of the run are neither done nor
         * failed: they do not count as started either. */
        for (k = 0; k < c->nslots; k++)
            if (c->slots[k].in_use && c->slots[k].measured)
                w->stats.req_started--;
        c->req_todo = c->req_done; /* nothing more to do */
        if (c->end_ns == 0)
            c->end_ns = w->measure_end_ns;
        if (c->state == LG_CLIENT_CONNECTED || c->state == LG_CLIENT_CONNECTING)
            lg_client_disconnect(c);
    }
    print_any("Stopped all clients for thread #%u", w->id);
    uv_timer_stop(&w->phase_timer);
    uv_timer_stop(&w->arrival_timer);
}

static void main_phase(lg_worker *w) {
    unsigned i;

    print_any("Main benchmark duration is started for thread #%u.", w->id);
    w->measuring = 1;
    w->measure_start_ns = uv_hrtime();
    for (i = 0; i < w->nclients; i++) {
        /* Per-client req/s counts the measured phase only. */
        w->clients[i].success = 0;
        w->clients[i].start_ns = w->measure_start_ns;
    }
    uv_timer_start(&w->stop_timer, stop_cb,
                   (uint64_t)(w->o->duration * 1000.0 + 0.5), 0);
}

static void warmup_cb(uv_timer_t *t) {
    lg_worker *w = t->data;

    print_any("Warm-up phase is over for thread #%u.", w->id);
    main_phase(w);
}

static void run(void *arg) {
    lg_worker *w = arg;
    const lg_options *o = w->o;
    unsigned i;

    w->now_ns = uv_hrtime();
    if (o->duration > 0) {
        w->measuring = o->warmup <= 0;
        if (o->warmup > 0)
            print_any("Warm-up started for thread #%u.", w->id);
        for (i = 0; i < w->nclients; i++)
            start_client(w);
        if (o->warmup > 0)
            uv_timer_start(&w->phase_timer, warmup_cb,
                           (uint64_t)(o->warmup * 1000.0 + 0.5), 0);
        else
            main_phase(w);
    } else if (o->rate > 0) {
        w->measuring = 1;
        uint64_t period = (uint64_t)(o->rate_period * 1000.0 + 0.5);
        uv_timer_start(&w->phase_timer, rate_cb, 0, period ? period : 1);
    } else {
        w->measuring = 1;
        for (i = 0; i < w->nclients; i++)
            start_client(w);
    }
    w->measure_start_ns = w->now_ns;
    if (w->arrival_rate > 0) {
        w->arrival_t0_ns = w->now_ns;
        uv_timer_start(&w->arrival_timer, arrival_cb, 1, 1);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->arrival_rate > 0 && o->duration <= 0 &&
        w->arrival_issued < w->arrival_todo) {
        /* Never sent: every client gave up. */
        uint64_t left = w->arrival_todo - w->arrival_issued;
        w->stats.req_failed += left;
        w->stats.req_error += left;
    }
    if (w->measure_end_ns == 0)
        w->measure_end_ns = uv_hrtime();
    if (w->log != NULL && w->log_buf.len > 0) {
        fwrite(w->log_buf.data, 1, w->log_buf.len, w->log);
        w->log_buf.len = 0;
    }
    atomic_store(&w->finished, 1);
}

/* Header lines every HTTP/1.1 request carries, after the request line. */
static int build_h1_common(lg_worker *w) {
    const lg_options *o = w->o;
    buf *b = &w->h1_common;
    int have_host = 0, have_ua = 0, rc = 0;
    size_t i;

    for (i = 0; i < o->nheaders; i++) {
        const lg_header *h = &o->headers[i];
        if (strcmp(h->name, "host") == 0 || strcmp(h->name, ":authority") == 0)
            have_host = 1;
        if (strcmp(h->name, "user-agent") == 0)
            have_ua = 1;
    }
    if (!have_host)
        rc |= buf_appendf(b, "Host: %s\r\n", o->authority);
    if (!have_ua)
        rc |= buf_append_str(b, "user-agent: loadgen/" LOADGEN_VERSION "\r\n");
    for (i = 0; i < o->nheaders; i++) {
        const lg_header *h = &o->headers[i];
        const char *name = h->name;
        if (strcmp(name, ":authority") == 0)
            name = "host";
        else if (name[0] == ':')
            continue; /* other pseudo-headers have no HTTP/1.1 form */
        rc |= buf_appendf(b, "%s: %s\r\n", name, h->value);
    }
    if (o->data != NULL)
        rc |= buf_appendf(b, "content-length: %zu\r\n", o->data_len);
    rc |= buf_append_str(b, "\r\n");
    if (o->data != NULL)
        rc |= buf_append(b, o->data, o->data_len);
    return rc ? -1 : 0;
}

static void nv_set(nghttp2_nv *nv, const char *name, const char *value) {
    nv->name = (uint8_t *)(uintptr_t)name;
    nv->namelen = strlen(name);
    nv->value = (uint8_t *)(uintptr_t)value;
    nv->valuelen = strlen(value);
    nv->flags = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
}

/* :method, :path (filled per request, copied by nghttp2), :scheme,
 * :authority, user-agent, then -H headers (overriding by name). */
static int build_nva(lg_worker *w) {
    const lg_options *o = w->o;
    nghttp2_nv *nva = calloc(5 + o->nheaders, sizeof *nva);
    size_t n = 5, i, j;

    if (nva == NULL)
        return -1;
    nv_set(&nva[0], ":method", w->method);
    nv_set(&nva[1], ":path", "/");
    nva[1].flags = NGHTTP2_NV_FLAG_NO_COPY_NAME;
    nv_set(&nva[2], ":scheme", o->scheme);
    nv_set(&nva[3], ":authority", o->authority);
    nv_set(&nva[4], "user-agent", "loadgen/" LOADGEN_VERSION);
    for (i = 0; i < o->nheaders; i++) {
        const lg_header *h = &o->headers[i];
        const char *name =
            strcmp(h->name, "host") == 0 ? ":authority" : h->name;
        for (j = 0; j < n; j++) {
            if (j != 1 && strcmp((const char *)nva[j].name, name) == 0) {
                nv_set(&nva[j], name, h->value);
                break;
            }
        }
        if (j == n)
            nv_set(&nva[n++], name, h->value);
    }
    w->nva = nva;
    w->nnva = n;
    return 0;
}

/* h2load's split: threads first, then clients within a thread. */
static uint64_t share(uint64_t total, uint64_t parts, uint64_t i) {
    return total / parts + (i < total % parts ? 1 : 0);
}

int lg_worker_init(lg_worker *w, unsigned id, const lg_options *o,
                   const struct sockaddr *addr, socklen_t addrlen,
                   tls_ctx *tls) {
    unsigned i, j, nslots;

    memset(w, 0, sizeof *w);
    w->id = id;
    w->o = o;
    w->addr = addr;
    w->addrlen = addrlen;
    w->tls = tls;
    w->nclients = (unsigned)share(o->nclients, o->nthreads, id);
    w->req_todo = o->duration > 0 ? 0 : share(o->nreqs, o->nthreads, id);
    w->progress_interval = w->req_todo / 10 ? w->req_todo / 10 : 1;
    w->progress_next = w->progress_interval;
    if (o->rate > 0)
        w->rate_per_period = share(o->rate, o->nthreads, id);
    w->method = o->data != NULL ? "POST" : "GET";
    for (i = 0; i < o->nheaders; i++)
        if (strcmp(o->headers[i].name, ":method") == 0)
            w->method = o->headers[i].value;
    w->head_method = strcmp(w->method, "HEAD") == 0;
    buf_init(&w->scratch, 1 << 20);
    buf_init(&w->h1_common, 0);
    buf_init(&w->log_buf, 0);
    if (lg_stats_init(&w->stats) != 0 ||
        lg_stats_init_per_uri(&w->stats, o->nuris) != 0 ||
        uv_loop_init(&w->loop) != 0)
        return -1;
    w->stats.req_todo = w->req_todo;
    if (build_h1_common(w) != 0 || build_nva(w) != 0 ||
        lg_h2_callbacks_new(w) != 0)
        return -1;
    uv_timer_init(&w->loop, &w->phase_timer);
    uv_timer_init(&w->loop, &w->stop_timer);
    uv_timer_init(&w->loop, &w->arrival_timer);
    w->phase_timer.data = w;
    w->stop_timer.data = w;
    w->arrival_timer.data = w;
    if (o->arrival_rate > 0) {
        w->arrival_rate = o->arrival_rate / o->nthreads;
        w->arrival_todo = o->duration > 0 ? UINT64_MAX : w->req_todo;
    }
    w->clients = calloc(w->nclients, sizeof *w->clients);
    if (w->clients == NULL)
        return -1;
    nslots = o->max_streams;
    for (i = 0; i < w->nclients; i++) {
        lg_client *c = &w->clients[i];
        c->w = w;
        c->index = i;
        c->error_kind = -1;
        c->goaway_code = -1;
        c->req_todo =
            o->duration > 0 ? UINT64_MAX : share(w->req_todo, w->nclients, i);
        c->nslots = nslots;
        c->slots = calloc(nslots, sizeof *c->slots);
        c->free_slots = calloc(nslots, sizeof *c->free_slots);
        c->retry = calloc(nslots, sizeof *c->retry);
        if (c->slots == NULL || c->free_slots == NULL || c->retry == NULL)
            return -1;
        for (j = 0; j < nslots; j++)
            c->free_slots[j] = nslots - 1 - j;
        c->nfree = nslots;
        buf_init(&c->out, 0);
        buf_init(&c->inflight, 0);
        buf_init(&c->plain, 0);
        if (lg_h1_init(c) != 0)
            return -1;
        uv_timer_init(&w->loop, &c->timer);
        uv_timer_init(&w->loop, &c->rps_timer);
        c->timer.data = c;
        c->rps_timer.data = c;
    }
    return 0;
}

int lg_worker_start(lg_worker *w) {
    return uv_thread_create(&w->thread, run, w);
}

void lg_worker_join(lg_worker *w) {
    uv_thread_join(&w->thread);
}

void lg_worker_free(lg_worker *w) {
    unsigned i;

    if (w->clients != NULL) {
        for (i = 0; i < w->nclients; i++)
            lg_client_free(&w->clients[i]);
        free(w->clients);
    }
    uv_loop_close(&w->loop);
    lg_h2_callbacks_free(w);
    free(w->nva);
    buf_free(&w->scratch);
    buf_free(&w->h1_common);
    buf_free(&w->log_buf);
    lg_stats_free(&w->stats);
}
