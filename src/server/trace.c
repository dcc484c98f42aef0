/* trace: W3C traceparent, sampling, and the OTLP/HTTP JSON exporter. */
#include "trace.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"

#ifndef OBJECTD_VERSION
#define OBJECTD_VERSION "unknown"
#endif

enum {
    QUEUE_MAX = 16384,    /* spans waiting for export */
    BATCH_MAX = 2048,     /* spans per POST (about 1 MB of JSON) */
    BATCH_WAIT_MS = 1000, /* longest a span waits for its batch */
    IO_TIMEOUT_MS = 2000, /* connect, send and receive of one POST */
};

enum { SPAN_SERVER = 2, SPAN_CLIENT = 3 };

/* A finished span, copied: nothing in it points at request memory. */
typedef struct span_rec {
    uint8_t trace_id[16], span_id[8], parent_id[8];
    uint8_t has_parent, kind, failed;
    int64_t start_ns, end_ns; /* wall clock */
    char name[112];
    /* SERVER */
    char method[16];
    char path[160];
    char route[96];
    char proto_version[4];
    int status;
    /* CLIENT */
    char db_system[16];
    uint64_t rows;
} span_rec;

static struct {
    int enabled;
    double ratio;
    char host[256], port[16], path[256];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    span_rec *queue; /* ring of QUEUE_MAX */
    size_t head, count;
    int stopping;
    int idle; /* the exporter waits for a first span (no timeout) */
    int64_t wall_minus_mono; /* converts monotonic times to the epoch */
} ex = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* ---- ids ---------------------------------------------------------------- */

static _Thread_local uint64_t rng[2];

/* xorshift128+, seeded per thread from getrandom(2): ids need to be
 * unique, not secret. */
static uint64_t rand64(void) {
    if (rng[0] == 0 && rng[1] == 0) {
        if (getrandom(rng, sizeof rng, 0) != (ssize_t)sizeof rng ||
            (rng[0] == 0 && rng[1] == 0)) {
            rng[0] = (uint64_t)time_mono_ns() | 1;
            rng[1] = (uint64_t)(uintptr_t)&rng ^ 0x9E3779B97F4A7C15ull;
        }
    }
    uint64_t s1 = rng[0];
    const uint64_t s0 = rng[1];
    rng[0] = s0;
    s1 ^= s1 << 23;
    rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return rng[1] + s0;
}

static void random_id(uint8_t *out, size_t n) {
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = rand64();
            memcpy(out + i, &r, n - i < 8 ? n - i : 8);
        }
    } while (out[0] == 0 && memcmp(out, out + 1, n - 1) == 0);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is invalid in traceparent */
}

static int parse_hex(const char *s, size_t n, uint8_t *out) {
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
        nonzero |= out[i];
    }
    return nonzero ? 0 : 1;
}

int trace_parse_traceparent(const char *v, size_t len, uint8_t trace_id[16],
                            uint8_t parent_id[8], uint8_t *flags) {
    /* version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55 */
    uint8_t ver, fl;
    if (len < 55 || parse_hex(v, 1, &ver) < 0 || ver == 0xff)
        return -EINVAL;
    if (ver == 0 && len != 55)
        return -EINVAL;
    /* A later version may append fields, after a dash. */
    if (len > 55 && v[55] != '-')
        return -EINVAL;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-')
        return -EINVAL;
    if (parse_hex(v + 3, 16, trace_id) != 0 ||
        parse_hex(v + 36, 8, parent_id) != 0 || parse_hex(v + 53, 1, &fl) < 0)
        return -EINVAL;
    *flags = fl;
    return 0;
}

void trace_hex(const uint8_t *id, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * n] = '\0';
}

void trace_begin(trace_ctx *t, const char *tp, size_t len) {
    uint8_t flags = 0;
    t->has_parent =
        tp != NULL && trace_parse_traceparent(tp, len, t->trace_id,
                                              t->parent_id, &flags) == 0;
    if (!t->has_parent)
        random_id(t->trace_id, sizeof t->trace_id);
    random_id(t->span_id, sizeof t->span_id);
    if (!ex.enabled)
        t->sampled = 0;
    else if (t->has_parent)
        t->sampled = flags & 1;
    else
        t->sampled =
            ex.ratio >= 1.0 || (double)(rand64() >> 11) * 0x1.0p-53 < ex.ratio;
}

/* ---- the queue ---------------------------------------------------------- */

static int64_t to_wall(uint64_t mono) {
    return (int64_t)mono + ex.wall_minus_mono;
}

static void copy_str(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void enqueue(const span_rec *s) {
    pthread_mutex_lock(&ex.lock);
    if (ex.count == QUEUE_MAX || ex.stopping) {
        pthread_mutex_unlock(&ex.lock);
        metrics_trace_dropped(1);
        return;
    }
    ex.queue[(ex.head + ex.count) % QUEUE_MAX] = *s;
    ex.count++;
    /* The exporter only needs a nudge when it sleeps with no deadline, or
     * when a batch is full; otherwise its timed wait comes round anyway,
     * and a request does not pay for a futex wake-up. */
    if ((ex.idle && ex.count == 1) || ex.count == BATCH_MAX)
        pthread_cond_signal(&ex.cond);
    pthread_mutex_unlock(&ex.lock);
}

void trace_export_request(const trace_ctx *t, const trace_request_info *in) {
    if (!t->sampled || !ex.enabled)
        return;
    span_rec s;
    memset(&s, 0, offsetof(span_rec, name) + 1);
    memcpy(s.trace_id, t->trace_id, 16);
    memcpy(s.span_id, t->span_id, 8);
    memcpy(s.parent_id, t->parent_id, 8);
    s.has_parent = t->has_parent;
    s.kind = SPAN_SERVER;
    s.failed = in->status >= 500;
    s.start_ns = to_wall(in->start_mono_ns);
    s.end_ns = to_wall(in->end_mono_ns);
    copy_str(s.method, sizeof s.method, in->method, in->method_len);
    copy_str(s.path, sizeof s.path, in->path, in->path_len);
    copy_str(s.route, sizeof s.route, in->route ? in->route : "",
             in->route ? strlen(in->route) : 0);
    strcpy(s.proto_version,
           strcmp(in->protocol, "http/1.1") == 0 ? "1.1" : "2");
    s.status = in->status;
    s.db_system[0] = '\0';
    enqueue(&s);
}

void trace_export_db(const trace_ctx *parent, const char *db_system,
                     const char *query, uint64_t start_mono_ns,
                     uint64_t end_mono_ns, uint64_t rows, int failed) {
    if (parent == NULL || !parent->sampled || !ex.enabled)
        return;
    span_rec s;
    memset(&s, 0, offsetof(span_rec, name) + 1);
    memcpy(s.trace_id, parent->trace_id, 16);
    random_id(s.span_id, 8);
    memcpy(s.parent_id, parent->span_id, 8);
    s.has_parent = 1;
    s.kind = SPAN_CLIENT;
    s.failed = (uint8_t)(failed != 0);
    s.start_ns = to_wall(start_mono_ns);
    s.end_ns = to_wall(end_mono_ns);
    copy_str(s.name, sizeof s.name, query, strlen(query));
    copy_str(s.db_system, sizeof s.db_system, db_system, strlen(db_system));
    s.rows = rows;
    s.method[0] = s.path[0] = s.route[0] = '\0';
    enqueue(&s);
}

/* ---- OTLP JSON ---------------------------------------------------------- */

/* The exporter formats about two spans per request served: plain appends,
 * no printf. */
static void attr_key(buf *b, int *first, const char *k) {
    if (!*first)
        buf_append_char(b, ',');
    *first = 0;
    buf_append_str(b, "{\"key\":\"");
    buf_append_str(b, k);
    buf_append_str(b, "\",\"value\":{");
}

static void attr_str(buf *b, int *first, const char *k, const char *v) {
    attr_key(b, first, k);
    buf_append_str(b, "\"stringValue\":");
    json_append_string(b, v, strlen(v));
    buf_append_str(b, "}}");
}

static void attr_int(buf *b, int *first, const char *k, uint64_t v) {
    attr_key(b, first, k);
    buf_append_str(b, "\"intValue\":\"");
    buf_append_u64(b, v);
    buf_append_str(b, "\"}}");
}

static void format_span(buf *b, const span_rec *s) {
    char tid[33], sid[17], pid[17];
    trace_hex(s->trace_id, 16, tid);
    trace_hex(s->span_id, 8, sid);
    trace_hex(s->parent_id, 8, pid);
    buf_append_str(b, "{\"traceId\":\"");
    buf_append(b, tid, 32);
    buf_append_str(b, "\",\"spanId\":\"");
    buf_append(b, sid, 16);
    buf_append_str(b, "\",");
    if (s->has_parent) {
        buf_append_str(b, "\"parentSpanId\":\"");
        buf_append(b, pid, 16);
        buf_append_str(b, "\",");
    }
    buf_append_str(b, "\"name\":");
    if (s->kind == SPAN_SERVER && s->route[0]) {
        /* "GET /api/v1/objects/{id}": method and route, as the HTTP
         * semantic conventions name a server span. */
        char name[sizeof s->method + sizeof s->route + 1];
        size_t ml = strlen(s->method), rl = strlen(s->route);
        memcpy(name, s->method, ml);
        name[ml] = ' ';
        memcpy(name + ml + 1, s->route, rl);
        json_append_string(b, name, ml + 1 + rl);
    } else if (s->kind == SPAN_SERVER) {
        json_append_string(b, s->method, strlen(s->method));
    } else {
        json_append_string(b, s->name, strlen(s->name));
    }
    buf_append_str(b, ",\"kind\":");
    buf_append_u64(b, s->kind);
    buf_append_str(b, ",\"startTimeUnixNano\":\"");
    buf_append_u64(b, (uint64_t)s->start_ns);
    buf_append_str(b, "\",\"endTimeUnixNano\":\"");
    buf_append_u64(b, (uint64_t)s->end_ns);
    buf_append_str(b, "\",\"attributes\":[");
    int first = 1;
    if (s->kind == SPAN_SERVER) {
        attr_str(b, &first, "http.request.method", s->method);
        attr_str(b, &first, "url.path", s->path);
        if (s->route[0])
            attr_str(b, &first, "http.route", s->route);
        attr_int(b, &first, "http.response.status_code", (uint64_t)s->status);
        attr_str(b, &first, "network.protocol.name", "http");
        attr_str(b, &first, "network.protocol.version", s->proto_version);
    } else {
        attr_str(b, &first, "db.system", s->db_system);
        attr_str(b, &first, "db.operation.name", s->name);
        attr_int(b, &first, "db.response.returned_rows", s->rows);
    }
    buf_append_str(b, s->failed ? "],\"status\":{\"code\":2}}"
                                : "],\"status\":{\"code\":0}}");
}

/* |n| queued spans from ring index |from|. */
static void format_batch(buf *b, size_t from, size_t n) {
    buf_append_str(b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    int first = 1;
    attr_str(b, &first, "service.name", "objectd");
    attr_str(b, &first, "service.version", OBJECTD_VERSION);
    buf_append_str(b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"objectd\","
                      "\"version\":\"" OBJECTD_VERSION "\"},\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append_char(b, ',');
        format_span(b, &ex.queue[(from + i) % QUEUE_MAX]);
    }
    buf_append_str(b, "]}]}]}");
}

/* One POST on a fresh connection. Returns 0 on a 2xx answer. */
static int post(const char *body, size_t len) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(ex.host, ex.port, &hints, &res) != 0)
        return -EHOSTUNREACH;
    int rc = -EIO;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto out;
    struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0)
        goto out;
    char head[640];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      ex.path, ex.host, ex.port, len);
    if (send(fd, head, (size_t)hn, MSG_NOSIGNAL) != hn)
        goto out;
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, body + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            goto out;
        off += (size_t)w;
    }
    /* The status line; then read to the end (Connection: close) so that
     * closing does not reset a peer still writing its answer. */
    char resp[64], rest[512];
    size_t got = 0;
    while (got < 12) {
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    resp[got] = '\0';
    for (int i = 0; i < 64 && recv(fd, rest, sizeof rest, 0) > 0; i++)
        ;
    if (strncmp(resp, "HTTP/1.", 7) == 0 && resp[9] == '2')
        rc = 0;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

static void *exporter_main(void *arg) {
    (void)arg;
    buf body;
    buf_init(&body, 0);
    pthread_mutex_lock(&ex.lock);
    for (;;) {
        ex.idle = 1;
        while (ex.count == 0 && !ex.stopping)
            pthread_cond_wait(&ex.cond, &ex.lock); /* idle: no wake-ups */
        ex.idle = 0;
        if (ex.count == 0 && ex.stopping)
            break;
        if (ex.count < BATCH_MAX && !ex.stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += BATCH_WAIT_MS / 1000;
            while (ex.count < BATCH_MAX && !ex.stopping)
                if (pthread_cond_timedwait(&ex.cond, &ex.lock, &until) ==
                    ETIMEDOUT)
                    break;
        }
        /* The batch is formatted in place, outside the lock: producers
         * only write past head + count, and head moves on afterwards. */
        size_t n = ex.count < BATCH_MAX ? ex.count : BATCH_MAX;
        size_t first = ex.head;
        pthread_mutex_unlock(&ex.lock);

        int failed = 0;
        body.len = 0;
        format_batch(&body, first, n);
        if (post(body.data, body.len) == 0) {
            metrics_trace_exported(n);
        } else {
            metrics_trace_failed(n);
            log_line *l = log_begin(LOG_WARN, "trace export failed");
            log_int(l, "objectd.spans", (int64_t)n);
            log_end(l);
            failed = 1;
        }
        pthread_mutex_lock(&ex.lock);
        ex.head = (ex.head + n) % QUEUE_MAX;
        ex.count -= n;
        if (ex.stopping && failed && ex.count > 0) {
            /* Draining with an endpoint that does not answer: one timeout
             * is enough, the rest is dropped (and counted). */
            metrics_trace_failed(ex.count);
            ex.count = 0;
        }
    }
    pthread_mutex_unlock(&ex.lock);
    buf_free(&body);
    log_thread_cleanup();
    return NULL;
}

int trace_init(const char *endpoint, double ratio, char *err, size_t errlen) {
    ex.wall_minus_mono = time_wall_ns() - (int64_t)time_mono_ns();
    ex.ratio = ratio;
    if (endpoint == NULL || endpoint[0] == '\0')
        return 0;
    const char *p = endpoint;
    if (strncmp(p, "http://", 7) != 0)
        goto bad;
    p += 7;
    const char *slash = strchr(p, '/');
    const char *hostport_end = slash ? slash : p + strlen(p);
    const char *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hostport_end - p));
        if (rb == NULL || rb + 1 >= hostport_end || rb[1] != ':')
            goto bad;
        if ((size_t)(rb - p - 1) >= sizeof ex.host)
            goto bad;
        memcpy(ex.host, p + 1, (size_t)(rb - p - 1));
        ex.host[rb - p - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = memchr(p, ':', (size_t)(hostport_end - p));
        if (colon == NULL || colon == p ||
            (size_t)(colon - p) >= sizeof ex.host)
            goto bad;
        memcpy(ex.host, p, (size_t)(colon - p));
        ex.host[colon - p] = '\0';
    }
    size_t plen = (size_t)(hostport_end - colon - 1);
    if (plen == 0 || plen >= sizeof ex.port)
        goto bad;
    memcpy(ex.port, colon + 1, plen);
    ex.port[plen] = '\0';
    for (const char *c = ex.port; *c; c++)
        if (*c < '0' || *c > '9')
            goto bad;
    if (atol(ex.port) < 1 || atol(ex.port) > 65535)
        goto bad;
    snprintf(ex.path, sizeof ex.path, "%s", slash ? slash : "/v1/traces");
    ex.queue = calloc(QUEUE_MAX, sizeof *ex.queue);
    if (ex.queue == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    ex.stopping = 0;
    if (pthread_create(&ex.thread, NULL, exporter_main, NULL) != 0) {
        free(ex.queue);
        ex.queue = NULL;
        snprintf(err, errlen, "cannot start the trace exporter thread");
        return -EAGAIN;
    }
    ex.enabled = 1;
    return 0;
bad:
    snprintf(err, errlen,
             "--otlp-endpoint '%s': expected http://HOST:PORT[/PATH]",
             endpoint);
    return -EINVAL;
}

void trace_shutdown(void) {
    if (!ex.enabled)
        return;
    pthread_mutex_lock(&ex.lock);
    ex.stopping = 1;
    pthread_cond_signal(&ex.cond);
    pthread_mutex_unlock(&ex.lock);
    pthread_join(ex.thread, NULL);
    ex.enabled = 0;
    free(ex.queue);
    ex.queue = NULL;
}
