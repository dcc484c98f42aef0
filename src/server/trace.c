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
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "buf.h"
#include "h1_parser.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"

#ifndef OBJECTD_VERSION
#define OBJECTD_VERSION "unknown"
#endif

enum {
    CHUNK_BYTES = 32 * 1024, /* span text a thread writes before handing over */
    CHUNKS_MAX = 256,        /* 8 MiB of spans waiting, about 16,000 */
    BATCH_MAX = 2048,        /* spans per POST (about 1 MB of JSON) */
    BATCH_WAIT_MS = 1000,    /* longest a published span waits for a POST */
    IO_TIMEOUT_MS = 2000,    /* connect, send and receive of one POST */
    NAME_MAX_BYTES = 256,    /* route templates, query names: ours, short */
    METHOD_MAX_BYTES = 16,   /* what a span keeps of a request's method */
    PATH_MAX_BYTES = 160,    /* and of its path */
};

enum { SPAN_SERVER = 2, SPAN_CLIENT = 3 };

/* A finished span, described for the moment it is formatted (at once,
 * by the thread that finished it): pointers to the request's memory and
 * to names that live as long as the process (route templates, query
 * names, the store's kind) - nothing is copied. The method and the path
 * are cut to METHOD_MAX_BYTES and PATH_MAX_BYTES. */
typedef struct span_rec {
    const uint8_t *trace_id, *span_id, *parent_id;
    uint8_t has_parent, kind, failed;
    int status;
    int64_t start_ns, end_ns;  /* wall clock */
    const char *name;          /* CLIENT: the query's name */
    const char *route;         /* SERVER: the route template, or NULL */
    const char *db_system;     /* CLIENT */
    uint8_t http2;             /* SERVER: HTTP/2, else HTTP/1.1 */
    uint64_t rows;             /* CLIENT */
    const char *method, *path; /* SERVER, not NUL-terminated */
    size_t method_len, path_len;
    int method_plain;      /* SERVER: the method needs no escaping */
    const char *path_json; /* SERVER: the path as JSON text, or NULL */
    size_t path_json_len;
} span_rec;

/* Spans travel as text. A thread formats each span it finishes straight
 * into its own open chunk (no lock, memory it just touched); a full chunk
 * is published to the exporter under the lock, one lock round per chunk
 * (some 60 spans), not per span. The exporter sends chunks as they are
 * (sendmsg over an iovec per chunk) and puts them back on the free list:
 * each span's bytes are written once and read once. */
typedef struct chunk {
    struct chunk *next;
    size_t len;   /* bytes of span text in |data|, comma separated */
    size_t spans; /* spans in |data| */
    char data[CHUNK_BYTES];
} chunk;

static _Thread_local chunk *open_chunk; /* this thread's, not published */

static void emit(const span_rec *s);

static struct {
    int enabled;
    double ratio;
    char host[256], port[16], path[256];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    chunk *free_chunks;         /* empty, ready to be taken */
    chunk *ready, **ready_tail; /* published, oldest first */
    size_t ready_spans;         /* spans in |ready| */
    size_t chunks;              /* allocated: at most CHUNKS_MAX */
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

static char *put_hex(char *p, const uint8_t *id, size_t n);

void trace_hex(const uint8_t *id, size_t n, char *out) {
    *put_hex(out, id, n) = '\0';
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

/* ---- spans -------------------------------------------------------------- */

static int64_t to_wall(uint64_t mono) {
    return (int64_t)mono + ex.wall_minus_mono;
}

void trace_export_request(const trace_ctx *t, const trace_request_info *in) {
    if (!t->sampled || !ex.enabled)
        return;
    span_rec s = {
        .trace_id = t->trace_id,
        .span_id = t->span_id,
        .parent_id = t->parent_id,
        .has_parent = t->has_parent,
        .kind = SPAN_SERVER,
        .failed = in->status >= 500,
        .status = in->status,
        .start_ns = to_wall(in->start_mono_ns),
        .end_ns = to_wall(in->end_mono_ns),
        .route = in->route,
        /* "h2" and "h2c"; the other is "http/1.1". */
        .http2 = in->protocol[0] == 'h' && in->protocol[1] == '2',
        .method = in->method,
        .method_len = in->method_len < METHOD_MAX_BYTES ? in->method_len
                                                        : METHOD_MAX_BYTES,
        .method_plain = in->method_plain && in->method_len <= METHOD_MAX_BYTES,
        .path = in->path,
        .path_len =
            in->path_len < PATH_MAX_BYTES ? in->path_len : PATH_MAX_BYTES,
    };
    /* The caller's quoted path is the same text unless the path is cut. */
    if (in->path_json != NULL && in->path_len <= PATH_MAX_BYTES) {
        s.path_json = in->path_json;
        s.path_json_len = in->path_json_len;
    }
    emit(&s);
}

void trace_export_db(const trace_ctx *parent, const char *db_system,
                     const char *query, uint64_t start_mono_ns,
                     uint64_t end_mono_ns, uint64_t rows, int failed) {
    if (parent == NULL || !parent->sampled || !ex.enabled)
        return;
    uint8_t span_id[8];
    random_id(span_id, sizeof span_id);
    span_rec s = {
        .trace_id = parent->trace_id,
        .span_id = span_id,
        .parent_id = parent->span_id,
        .has_parent = 1,
        .kind = SPAN_CLIENT,
        .failed = (uint8_t)(failed != 0),
        .start_ns = to_wall(start_mono_ns),
        .end_ns = to_wall(end_mono_ns),
        .name = query,
        .db_system = db_system,
        .rows = rows,
    };
    emit(&s);
}

/* ---- OTLP JSON ---------------------------------------------------------- */

/* About two spans are formatted per request served, so a span is written
 * straight into room reserved once for its worst case: literals
 * whose lengths the compiler knows, no printf, no strlen of constants, no
 * bounds check per field. */
#define ATTR0(key, type) "{\"key\":\"" key "\",\"value\":{\"" type "\":"
#define ATTR(key, type) "}}," ATTR0(key, type)

/* A span's text but for its strings: 529 bytes at most today. */
enum { SPAN_FIXED_MAX = 768 };

/* Ids as lower-case hex: five of them (80 bytes of text) per request and
 * its two spans, so 8 bytes (16 digits) at a time where SSE2 is there (all
 * of x86-64): split into nibbles, interleave high and low, and add '0', or
 * 'a' - 10 where a nibble is over 9. */
static char *put_hex(char *p, const uint8_t *id, size_t n) {
#if defined(__SSE2__)
    const __m128i mask = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9);
    const __m128i zero = _mm_set1_epi8('0');
    const __m128i letters = _mm_set1_epi8('a' - '0' - 10);
    for (; n >= 8; n -= 8, id += 8, p += 16) {
        __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)id);
        __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
        __m128i lo = _mm_and_si128(v, mask);
        __m128i nib = _mm_unpacklo_epi8(hi, lo); /* in output order */
        __m128i over9 = _mm_and_si128(_mm_cmpgt_epi8(nib, nine), letters);
        _mm_storeu_si128((__m128i *)(void *)p,
                         _mm_add_epi8(_mm_add_epi8(nib, zero), over9));
    }
#endif
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++, p += 2) {
        p[0] = digits[id[i] >> 4];
        p[1] = digits[id[i] & 15];
    }
    return p;
}

/* Names of ours - route templates, query names, the store's kind - go
 * out with json_put_plain: none has a character JSON escapes
 * (tests/unit/test_trace.c checks every route template and query name).
 * What a request sent (the path; a method we do not route) goes through
 * json_quote. */
static char *put_str(char *p, const char *s, size_t n) {
    return p + json_quote(p, s, n);
}

/* A wall-clock time in nanoseconds as OTLP's "text": the seconds' digits
 * come from this thread's last span most of the time (a span's times and
 * its neighbours' share them), only the nine digits of the nanoseconds
 * are made each time. */
static _Thread_local struct {
    uint64_t second;
    size_t len;
    char digits[24]; /* copied 16 at a time: 11 at most (2^64 ns) */
} tls_second = {.second = UINT64_MAX};

static char *put_time_str(char *p, uint64_t ns) {
    uint64_t second = ns / 1000000000u;
    uint32_t frac = (uint32_t)(ns - second * 1000000000u);
    *p++ = '"';
    if (second != 0) {
        if (second != tls_second.second) {
            tls_second.len = fmt_u64(tls_second.digits, second);
            tls_second.second = second;
        }
        memcpy(p, tls_second.digits, 16); /* a fixed size: no call */
        p += tls_second.len;
        p += fmt_u32_fixed9(p, frac);
    } else {
        p += fmt_u64(p, frac);
    }
    *p++ = '"';
    return p;
}

static char *put_u64_str(char *p, uint64_t v) { /* OTLP: int64 as "text" */
    *p++ = '"';
    p += fmt_u64(p, v);
    *p++ = '"';
    return p;
}

static size_t clamp_len(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n < NAME_MAX_BYTES ? n : NAME_MAX_BYTES;
}

/* The most text |s| can become. */
static size_t span_max(const span_rec *s, size_t route_len, size_t name_len,
                       size_t db_len) {
    if (s->kind == SPAN_SERVER)
        return SPAN_FIXED_MAX + JSON_QUOTED_MAX(s->method_len + 1 + route_len) +
               JSON_QUOTED_MAX(s->method_len) + JSON_QUOTED_MAX(s->path_len) +
               JSON_QUOTED_MAX(route_len) + JSON_QUOTED_MAX(3);
    return SPAN_FIXED_MAX + 2 * JSON_QUOTED_MAX(name_len) +
           JSON_QUOTED_MAX(db_len);
}

/* Writes |s| at |out|, which has room for span_max(); returns the length. */
static size_t format_span(char *out, const span_rec *s, size_t route_len,
                          size_t name_len, size_t db_len) {
    char *p = out;
    JSON_PUT_LIT(p, "{\"traceId\":\"");
    p = put_hex(p, s->trace_id, 16);
    JSON_PUT_LIT(p, "\",\"spanId\":\"");
    p = put_hex(p, s->span_id, 8);
    if (s->has_parent) {
        JSON_PUT_LIT(p, "\",\"parentSpanId\":\"");
        p = put_hex(p, s->parent_id, 8);
    }
    JSON_PUT_LIT(p, "\",\"name\":");
    if (s->kind == SPAN_SERVER) {
        /* "GET /api/v1/objects/{id}": method and route, as the HTTP
         * semantic conventions name a server span; the method alone when
         * no route matched. */
        char name[METHOD_MAX_BYTES + 1 + NAME_MAX_BYTES];
        size_t n = s->method_len;
        memcpy(name, s->method, n);
        if (route_len) {
            name[n++] = ' ';
            memcpy(name + n, s->route, route_len);
            n += route_len;
        }
        /* The route is plain: the name is when the method is. */
        p = s->method_plain ? json_put_plain(p, name, n) : put_str(p, name, n);
        JSON_PUT_LIT(p, ",\"kind\":2,\"startTimeUnixNano\":");
    } else {
        p = json_put_plain(p, s->name, name_len);
        JSON_PUT_LIT(p, ",\"kind\":3,\"startTimeUnixNano\":");
    }
    p = put_time_str(p, (uint64_t)s->start_ns);
    JSON_PUT_LIT(p, ",\"endTimeUnixNano\":");
    p = put_time_str(p, (uint64_t)s->end_ns);
    JSON_PUT_LIT(p, ",\"attributes\":[");
    if (s->kind == SPAN_SERVER) {
        /* network.protocol.name is left out: the conventions want it only
         * when it is not "http". */
        JSON_PUT_LIT(p, ATTR0("http.request.method", "stringValue"));
        p = s->method_plain ? json_put_plain(p, s->method, s->method_len)
                            : put_str(p, s->method, s->method_len);
        JSON_PUT_LIT(p, ATTR("url.path", "stringValue"));
        if (s->path_json != NULL) {
            memcpy(p, s->path_json, s->path_json_len);
            p += s->path_json_len;
        } else {
            p = put_str(p, s->path, s->path_len);
        }
        if (route_len) {
            JSON_PUT_LIT(p, ATTR("http.route", "stringValue"));
            p = json_put_plain(p, s->route, route_len);
        }
        JSON_PUT_LIT(p, ATTR("network.protocol.version", "stringValue"));
        if (s->http2)
            JSON_PUT_LIT(p, "\"2\"");
        else
            JSON_PUT_LIT(p, "\"1.1\"");
        JSON_PUT_LIT(p, ATTR("http.response.status_code", "intValue"));
        p = put_u64_str(p, (uint64_t)s->status);
    } else {
        JSON_PUT_LIT(p, ATTR0("db.system", "stringValue"));
        p = json_put_plain(p, s->db_system, db_len);
        JSON_PUT_LIT(p, ATTR("db.operation.name", "stringValue"));
        p = json_put_plain(p, s->name, name_len);
        JSON_PUT_LIT(p, ATTR("db.response.returned_rows", "intValue"));
        p = put_u64_str(p, s->rows);
    }
    /* An unset status (code 0) is the default and is left out. */
    if (s->failed)
        JSON_PUT_LIT(p, "}}],\"status\":{\"code\":2}}");
    else
        JSON_PUT_LIT(p, "}}]}");
    return (size_t)(p - out);
}

/* Takes an empty chunk, after publishing |full| if not NULL. Called with
 * the lock held. NULL when CHUNKS_MAX are in use, or when stopping. */
static chunk *swap_chunk_locked(chunk *full) {
    if (full != NULL) {
        full->next = NULL;
        *ex.ready_tail = full;
        ex.ready_tail = &full->next;
        ex.ready_spans += full->spans;
        /* The exporter needs a nudge only when it sleeps with no deadline
         * or when a batch is full; otherwise its timed wait comes round. */
        if ((ex.idle && ex.ready == full) ||
            (ex.ready_spans >= BATCH_MAX &&
             ex.ready_spans - full->spans < BATCH_MAX))
            pthread_cond_signal(&ex.cond);
    }
    if (ex.stopping)
        return NULL;
    chunk *c = ex.free_chunks;
    if (c != NULL) {
        ex.free_chunks = c->next;
    } else if (ex.chunks < CHUNKS_MAX && (c = malloc(sizeof *c)) != NULL) {
        ex.chunks++;
    }
    if (c != NULL)
        c->len = c->spans = 0;
    return c;
}

static void emit(const span_rec *s) {
    size_t route_len = clamp_len(s->route), name_len = clamp_len(s->name);
    size_t db_len = clamp_len(s->db_system);
    size_t need = 1 + span_max(s, route_len, name_len, db_len);
    chunk *c = open_chunk;
    if (c == NULL || CHUNK_BYTES - c->len < need) {
        pthread_mutex_lock(&ex.lock);
        c = swap_chunk_locked(c != NULL && c->spans ? c : NULL);
        pthread_mutex_unlock(&ex.lock);
        open_chunk = c;
        if (c == NULL) { /* every chunk waits for the exporter */
            metrics_trace_dropped(1);
            return;
        }
    }
    if (c->spans)
        c->data[c->len++] = ',';
    c->len += format_span(c->data + c->len, s, route_len, name_len, db_len);
    c->spans++;
}

void trace_flush_thread(void) {
    chunk *c = open_chunk;
    if (c == NULL || c->spans == 0)
        return;
    open_chunk = NULL;
    pthread_mutex_lock(&ex.lock);
    chunk *fresh = swap_chunk_locked(c);
    if (fresh != NULL) { /* the thread takes one when it needs one */
        fresh->next = ex.free_chunks;
        ex.free_chunks = fresh;
    }
    pthread_mutex_unlock(&ex.lock);
}

void trace_thread_cleanup(void) {
    trace_flush_thread();
    chunk *c = open_chunk; /* empty, if any */
    open_chunk = NULL;
    if (c != NULL) {
        pthread_mutex_lock(&ex.lock);
        c->next = ex.free_chunks;
        ex.free_chunks = c;
        pthread_mutex_unlock(&ex.lock);
    }
}

/* The batch document around the spans' text. */
/* clang-format off */
static const char batch_head[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
        ATTR0("service.name", "stringValue") "\"objectd\""
        ATTR("service.version", "stringValue") "\"" OBJECTD_VERSION "\"}}"
    "]},\"scopeSpans\":[{"
        "\"scope\":{\"name\":\"objectd\",\"version\":\"" OBJECTD_VERSION "\"},"
        "\"spans\":[";
/* clang-format on */
static const char batch_tail[] = "]}]}]}";

/* Sends |iov| whole (sendmsg may take part of it). 0 or -1. */
static int send_iov(int fd, struct iovec *iov, size_t n) {
    while (n > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* The exporter's connection to the endpoint, kept open between POSTs
 * (HTTP/1.1 keep-alive) while the endpoint allows it. Exporter thread
 * only. */
static int export_fd = -1;

static void export_close(void) {
    if (export_fd >= 0)
        close(export_fd);
    export_fd = -1;
}

static int export_connect(void) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(ex.host, ex.port, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* Reads one response on export_fd and its body (discarded). Returns the
 * status, 0 when the connection ended before any byte of it (a kept
 * connection the endpoint had closed), or -1. Closes the connection
 * unless the response keeps it open with a known length. */
static int read_response(void) {
    char in[4096];
    size_t len = 0;
    h1_header fields[32];
    h1_response r = {.headers = fields};
    const h1_limits limits = {sizeof in, sizeof in, 32};
    int head = H1_PARTIAL;
    while (head == H1_PARTIAL && len < sizeof in) {
        ssize_t n = recv(export_fd, in + len, sizeof in - len, 0);
        if (n <= 0) {
            export_close();
            return len == 0 ? 0 : -1;
        }
        len += (size_t)n;
        head = h1_parse_response(in, len, 0, &r, &limits);
    }
    if (head <= 0) {
        export_close();
        return -1;
    }
    int status = r.status;
    if (r.chunked || r.content_length < 0 || !r.keep_alive) {
        /* Delimited by the close, or not to be reused: read to the end
         * (bounded) so that closing does not reset a peer still writing. */
        for (int i = 0; i < 64 && recv(export_fd, in, sizeof in, 0) > 0; i++)
            ;
        export_close();
        return status;
    }
    uint64_t left = (uint64_t)r.content_length;
    uint64_t have = len - (size_t)head;
    if (have > left) { /* more than the body: not a peer to keep */
        export_close();
        return status;
    }
    left -= have;
    while (left > 0) {
        ssize_t n = recv(export_fd, in, left < sizeof in ? left : sizeof in, 0);
        if (n <= 0) {
            export_close();
            return status;
        }
        left -= (uint64_t)n;
    }
    return status;
}

/* One POST of the chunks in |batch| (a list of |nchunks|), on the kept
 * connection or a new one. A kept connection the endpoint closed while
 * idle fails before any answer: the POST is made once more on a new one.
 * Returns 0 on a 2xx answer. */
static int post(chunk *batch, size_t nchunks) {
    struct iovec *iov = calloc(2 * nchunks + 2, sizeof *iov);
    if (iov == NULL)
        return -ENOMEM;
    /* head, document start, chunk, ",", chunk, ..., document end */
    char head[640];
    size_t n = 1, len = sizeof batch_head - 1 + sizeof batch_tail - 1;
    iov[n++] = (struct iovec){(void *)batch_head, sizeof batch_head - 1};
    for (chunk *c = batch; c != NULL; c = c->next) {
        if (c != batch)
            iov[n++] = (struct iovec){(void *)",", 1};
        iov[n++] = (struct iovec){c->data, c->len};
        len += c->len + (c != batch);
    }
    iov[n++] = (struct iovec){(void *)batch_tail, sizeof batch_tail - 1};
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      ex.path, ex.host, ex.port, len);
    iov[0] = (struct iovec){head, (size_t)hn};
    struct iovec *copy = calloc(n, sizeof *copy); /* send_iov consumes */
    int rc = -EIO;
    for (int attempt = 0; attempt < 2 && copy != NULL; attempt++) {
        int kept = export_fd >= 0;
        if (!kept && (export_fd = export_connect()) < 0)
            break;
        memcpy(copy, iov, n * sizeof *copy);
        int status = send_iov(export_fd, copy, n) == 0 ? read_response() : 0;
        if (status == 0) {
            export_close();
            if (kept)
                continue; /* once more, on a new connection */
            break;
        }
        if (status >= 200 && status < 300)
            rc = 0;
        break;
    }
    free(copy);
    free(iov);
    return rc;
}

/* Takes published chunks off the ready list, oldest first, until they hold
 * BATCH_MAX spans (or the list is empty). Called with the lock held. */
static chunk *take_batch_locked(size_t *nchunks, size_t *nspans) {
    chunk *batch = ex.ready, *last = NULL;
    size_t n = 0, spans = 0;
    for (chunk *c = ex.ready; c != NULL && spans < BATCH_MAX; c = c->next) {
        last = c;
        n++;
        spans += c->spans;
    }
    ex.ready = last->next;
    if (ex.ready == NULL)
        ex.ready_tail = &ex.ready;
    last->next = NULL;
    ex.ready_spans -= spans;
    *nchunks = n;
    *nspans = spans;
    return batch;
}

static void *exporter_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&ex.lock);
    for (;;) {
        ex.idle = 1;
        while (ex.ready == NULL && !ex.stopping)
            pthread_cond_wait(&ex.cond, &ex.lock); /* idle: no wake-ups */
        ex.idle = 0;
        if (ex.ready == NULL && ex.stopping)
            break;
        if (ex.ready_spans < BATCH_MAX && !ex.stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += BATCH_WAIT_MS / 1000;
            while (ex.ready_spans < BATCH_MAX && !ex.stopping)
                if (pthread_cond_timedwait(&ex.cond, &ex.lock, &until) ==
                    ETIMEDOUT)
                    break;
        }
        size_t nchunks, n;
        chunk *batch = take_batch_locked(&nchunks, &n);
        pthread_mutex_unlock(&ex.lock);

        int failed = 0;
        if (post(batch, nchunks) == 0) {
            metrics_trace_exported(n);
        } else {
            metrics_trace_failed(n);
            log_line *l = log_begin(LOG_WARN, "trace export failed");
            log_int(l, "objectd.spans", (int64_t)n);
            log_end(l);
            failed = 1;
        }
        pthread_mutex_lock(&ex.lock);
        for (chunk *c = batch, *next; c != NULL; c = next) {
            next = c->next;
            c->next = ex.free_chunks;
            ex.free_chunks = c;
        }
        if (ex.stopping && failed && ex.ready != NULL) {
            /* Draining with an endpoint that does not answer: one timeout
             * is enough, the rest is dropped (and counted). */
            metrics_trace_failed(ex.ready_spans);
            while (ex.ready != NULL) {
                chunk *c = ex.ready;
                ex.ready = c->next;
                c->next = ex.free_chunks;
                ex.free_chunks = c;
            }
            ex.ready_tail = &ex.ready;
            ex.ready_spans = 0;
        }
    }
    pthread_mutex_unlock(&ex.lock);
    export_close();
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
    ex.free_chunks = ex.ready = NULL;
    ex.ready_tail = &ex.ready;
    ex.ready_spans = ex.chunks = 0;
    ex.stopping = 0;
    if (pthread_create(&ex.thread, NULL, exporter_main, NULL) != 0) {
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
    trace_thread_cleanup(); /* the caller's own spans go too */
    pthread_mutex_lock(&ex.lock);
    ex.stopping = 1;
    pthread_cond_signal(&ex.cond);
    pthread_mutex_unlock(&ex.lock);
    pthread_join(ex.thread, NULL);
    ex.enabled = 0;
    /* The exporter sent or dropped what was published; every thread that
     * made spans has handed its chunk back (trace_thread_cleanup). */
    while (ex.free_chunks != NULL) {
        chunk *c = ex.free_chunks;
        ex.free_chunks = c->next;
        free(c);
    }
    ex.chunks = 0;
}
