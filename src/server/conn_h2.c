/* conn_h2: HTTP/2 on a connection, through nghttp2.
 *
 * nghttp2 does the framing, HPACK, stream states, flow control and the
 * protocol's error handling (and its flood and rapid-reset protections);
 * this file maps streams to exchanges and bytes to the connection.
 *
 * Output: nghttp2's send callbacks append straight to the connection's
 * |out| buffer - frame headers and, for DATA, the response body slice
 * itself (NGHTTP2_DATA_FLAG_NO_COPY), so a body is copied once, from the
 * handler's buffer to the socket buffer. Past a high-water mark the
 * callbacks say WOULDBLOCK, nghttp2 keeps the rest, and the write
 * completion pumps again: memory stays bounded and nghttp2's scheduler
 * interleaves streams, so one large response does not block the others. */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "timeutil.h"

enum { H2_OUT_HIGH_WATER = 256 * 1024, H2_MAX_FIELDS = 128 };

typedef struct h2_stream {
    int32_t id;
    struct h2_session *h;
    exchange ex;
    buf fields_text; /* copies of header names and values */
    struct {
        uint32_t name_off, name_len, value_off, value_len;
    } offs[H2_MAX_FIELDS];
    http_field fields[H2_MAX_FIELDS];
    size_t num_fields;
    uint32_t method_off, method_len, path_off, path_len;
    int have_method, have_path;
    buf body;
    size_t body_sent;
    struct h2_stream *prev, *next; /* the session's list */
    size_t stream_sent_total;      /* streamed bytes already reclaimed */
    unsigned streaming : 1;
    unsigned stream_ended : 1;
    unsigned stream_paused : 1;
    unsigned want_drain : 1; /* paused and drained: call on_drain */
    unsigned dispatched : 1;
    unsigned closed : 1;    /* nghttp2 is done with it */
    unsigned too_large : 1; /* body over the limit: answered 413 */
} h2_stream;

typedef struct h2_session {
    nghttp2_session *ng;
    conn *c;
    uint64_t streams; /* streams begun */
    int open_streams;
    int in_recv;
    int goaway_sent;
    int settings_sent; /* our first SETTINGS went out (and was patched) */
    h2_stream *streams_list;
} h2_session;

static void pump(h2_session *h);

static void stream_free(h2_stream *s) {
    h2_session *h = s->h;
    if (h) {
        if (s->prev)
            s->prev->next = s->next;
        else if (h->streams_list == s)
            h->streams_list = s->next;
        if (s->next)
            s->next->prev = s->prev;
    }
    exchange_free(&s->ex);
    buf_free(&s->fields_text);
    buf_free(&s->body);
    free(s);
}

/* ---- output callbacks ------------------------------------------------ */

/* Our first frame is the SETTINGS that h2_start submitted, without
 * MAX_CONCURRENT_STREAMS. Here that entry is added on the wire: nghttp2
 * itself never learns the limit, so it never turns an excess stream into a
 * connection error (which would lose the client's other streams); instead
 * on_begin_headers refuses the excess stream alone (RST_STREAM
 * REFUSED_STREAM), as RFC 9113 section 5.1.2 asks. The peer's ACK carries
 * no payload, so nghttp2's bookkeeping of its SETTINGS still matches. */
static int patch_first_settings(h2_session *h, const uint8_t *data,
                                size_t len) {
    conn *c = h->c;
    h->settings_sent = 1;
    if (len < 9 || data[3] != NGHTTP2_SETTINGS || data[4] != 0)
        return 0; /* not what we expect: leave it alone */
    size_t plen = (size_t)data[0] << 16 | (size_t)data[1] << 8 | data[2];
    if (len < 9 + plen)
        return 0;
    uint32_t max = (uint32_t)c->srv->opt.h2_max_concurrent_streams;
    uint8_t hdr[9], entry[6];
    memcpy(hdr, data, 9);
    hdr[0] = (uint8_t)((plen + 6) >> 16);
    hdr[1] = (uint8_t)((plen + 6) >> 8);
    hdr[2] = (uint8_t)(plen + 6);
    entry[0] = 0;
    entry[1] = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    entry[2] = (uint8_t)(max >> 24);
    entry[3] = (uint8_t)(max >> 16);
    entry[4] = (uint8_t)(max >> 8);
    entry[5] = (uint8_t)max;
    if (buf_append(&c->out, hdr, 9) || buf_append(&c->out, entry, 6) ||
        buf_append(&c->out, data + 9, len - 9))
        return -1;
    return 1;
}

static ssize_t on_send(nghttp2_session *ng, const uint8_t *data, size_t len,
                       int flags, void *user) {
    (void)ng;
    (void)flags;
    h2_session *h = user;
    conn *c = h->c;
    if (c->out.len + c->writing.len > H2_OUT_HIGH_WATER)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (!h->settings_sent) {
        int rc = patch_first_settings(h, data, len);
        if (rc < 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        if (rc > 0)
            return (ssize_t)len;
    }
    if (buf_append(&c->out, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

static int on_send_data(nghttp2_session *ng, nghttp2_frame *frame,
                        const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *user) {
    (void)ng;
    h2_session *h = user;
    conn *c = h->c;
    h2_stream *s = source->ptr;
    if (c->out.len + c->writing.len > H2_OUT_HIGH_WATER)
        return NGHTTP2_ERR_WOULDBLOCK;
    size_t pad = frame->data.padlen;
    if (buf_reserve(&c->out, 9 + length + pad) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    buf_append(&c->out, framehd, 9);
    if (pad > 0)
        buf_append_char(&c->out, (char)(pad - 1));
    buf_append(&c->out, exchange_body(&s->ex) + s->body_sent, length);
    for (size_t i = 1; i < pad; i++)
        buf_append_char(&c->out, 0);
    s->body_sent += length;
    if (s->stream_paused &&
        exchange_body_len(&s->ex) - s->body_sent < H2_OUT_HIGH_WATER / 2)
        s->want_drain = 1; /* pump() calls on_drain, outside nghttp2 */
    return 0;
}

static ssize_t read_body(nghttp2_session *ng, int32_t stream_id, uint8_t *dst,
                         size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *user) {
    (void)ng;
    (void)stream_id;
    (void)dst;
    (void)user;
    h2_stream *s = source->ptr;
    size_t left = exchange_body_len(&s->ex) - s->body_sent;
    size_t n = left < length ? left : length;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == left)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- responses -------------------------------------------------------- */

#define NV(n, v, vl)                                                           \
    ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl),         \
                  NGHTTP2_NV_FLAG_NO_COPY_NAME})

/* Submits the response head of |s|: with a content-length when |length|
 * is >= 0 (else a stream), and the data provider |read| (NULL: no body). */
static void submit(h2_stream *s, int64_t length,
                   nghttp2_data_source_read_callback read) {
    exchange *ex = &s->ex;
    h2_session *h = s->h;
    char status[4], clen[24], date[32];
    status[0] = (char)('0' + ex->status / 100);
    status[1] = (char)('0' + ex->status / 10 % 10);
    status[2] = (char)('0' + ex->status % 10);
    size_t clen_len = length >= 0 ? fmt_u64(clen, (uint64_t)length) : 0;
    size_t date_len;
    const char *dl = worker_date_line(h->c->w, &date_len);
    /* "Date: X\r\n" -> X */
    memcpy(date, dl + 6, date_len - 8);

    nghttp2_nv nva[6 + EXCHANGE_MAX_RESP_HEADERS];
    size_t n = 0;
    nva[n++] = NV(":status", status, 3);
    nva[n++] = NV("date", date, date_len - 8);
    nva[n++] = NV("server", "objectd", 7);
    if (ex->content_type)
        nva[n++] =
            NV("content-type", ex->content_type, strlen(ex->content_type));
    if (length >= 0 && ex->status != 204 && ex->status != 304)
        nva[n++] = NV("content-length", clen, clen_len);
    for (size_t i = 0; i < ex->num_resp_headers; i++) {
        const resp_header *rh = &ex->resp_headers[i];
        const char *t = ex->resp_header_text.data;
        nva[n++] = (nghttp2_nv){(uint8_t *)(t + rh->name_off),
                                (uint8_t *)(t + rh->value_off), rh->name_len,
                                rh->value_len, NGHTTP2_NV_FLAG_NONE};
    }
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read};
    int no_body = ex->method == HTTP_HEAD || ex->status == 204 ||
                  ex->status == 304 || read == NULL;
    if (nghttp2_submit_response(h->ng, s->id, nva, n, no_body ? NULL : &prd) !=
        0)
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_INTERNAL_ERROR);
}

static void send_response(exchange *ex) {
    h2_stream *s = ex->conn;
    if (s->dispatched)
        worker_handler_done(ex->worker); /* once: exchanges answer once */
    if (s->closed) {
        /* The peer reset the stream while the handler ran. */
        observe_request_abandoned(ex, s->id);
        stream_free(s);
        return;
    }
    submit(s, (int64_t)exchange_body_len(ex),
           exchange_body_len(ex) > 0 ? read_body : NULL);
    exchange_access_log(ex, s->h->c->protocol, s->id);
    /* Answered while its request is read: h2_on_input sends it; else
     * with the others answered in this loop round. */
    if (!s->h->in_recv)
        conn_flush_later(s->h->c);
}

/* A streamed body: DATA frames from what the producer wrote so far;
 * DEFERRED while it has written nothing new (resumed by the next write). */
static ssize_t read_stream(nghttp2_session *ng, int32_t stream_id, uint8_t *dst,
                           size_t length, uint32_t *flags,
                           nghttp2_data_source *source, void *user) {
    h2_stream *s = source->ptr;
    if (s->ex.resp_body.len == s->body_sent) {
        if (s->stream_ended) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        return NGHTTP2_ERR_DEFERRED;
    }
    ssize_t n = read_body(ng, stream_id, dst, length, flags, source, user);
    if (!s->stream_ended)
        *flags &= ~(uint32_t)NGHTTP2_DATA_FLAG_EOF;
    return n;
}

static int stream_response(exchange *ex, int op, const char *data, size_t len) {
    h2_stream *s = ex->conn;
    if (op == EXCHANGE_OP_END) {
        if (s->dispatched)
            worker_handler_done(ex->worker);
        if (s->closed) {
            observe_request_abandoned(ex, s->id);
            stream_free(s);
            return EXCHANGE_STREAM_GONE;
        }
        s->stream_ended = 1;
        exchange_access_log(ex, s->h->c->protocol, s->id);
        nghttp2_session_resume_data(s->h->ng, s->id);
        pump(s->h);
        return EXCHANGE_STREAM_MORE;
    }
    if (s->closed || s->h == NULL)
        return EXCHANGE_STREAM_GONE;
    if (op == EXCHANGE_OP_BEGIN) {
        s->streaming = 1;
        submit(s, -1, read_stream);
        pump(s->h);
        return EXCHANGE_STREAM_MORE;
    }
    buf *b = &ex->resp_body;
    if (s->body_sent > 0 && s->body_sent >= b->len / 2) {
        /* Reclaim what went out (nothing refers to it any more). */
        memmove(b->data, b->data + s->body_sent, b->len - s->body_sent);
        b->len -= s->body_sent;
        s->stream_sent_total += s->body_sent;
        s->body_sent = 0;
    }
    if (buf_append(b, data, len) != 0)
        return EXCHANGE_STREAM_GONE;
    nghttp2_session_resume_data(s->h->ng, s->id);
    pump(s->h);
    if (b->len - s->body_sent > H2_OUT_HIGH_WATER) {
        s->stream_paused = 1;
        return EXCHANGE_STREAM_PAUSE;
    }
    return EXCHANGE_STREAM_MORE;
}

/* ---- input callbacks -------------------------------------------------- */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame,
                            void *user) {
    h2_session *h = user;
    conn *c = h->c;
    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (h->open_streams >= c->srv->opt.h2_max_concurrent_streams) {
        /* Over our advertised limit: refuse this stream only. Its header
         * block is still decoded by nghttp2 (HPACK state stays in step),
         * and with no stream data attached nothing else happens. */
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    h2_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s->id = frame->hd.stream_id;
    s->h = h;
    s->next = h->streams_list;
    if (s->next)
        s->next->prev = s;
    h->streams_list = s;
    buf_init(&s->fields_text, (size_t)c->srv->opt.max_header_bytes);
    buf_init(&s->body, (size_t)c->srv->opt.max_body_bytes);
    s->ex.conn = s;
    s->ex.server = c->srv;
    s->ex.worker = c->w;
    s->ex.send = send_response;
    s->ex.stream = stream_response;
    exchange_reset(&s->ex);
    s->ex.start_ns = time_mono_ns();
    nghttp2_session_set_stream_user_data(ng, s->id, s);
    h->open_streams++;
    h->streams++;
    conn_clear_timeout(c);

    int64_t max_req = c->srv->opt.max_requests_per_connection;
    if (max_req > 0 && h->streams == (uint64_t)max_req && !h->goaway_sent) {
        /* The last request this connection takes: every stream up to this
         * one is served; the client retries later ones elsewhere. */
        h->goaway_sent = 1;
        nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR,
                              NULL, 0);
        log_line *l = log_begin(LOG_INFO, "http2 goaway sent");
        log_str(l, "objectd.goaway.reason", "max-requests-per-connection");
        log_int(l, "http2.last_stream_id", s->id);
        log_int(l, "objectd.connection.requests", (int64_t)h->streams);
        log_end(l);
    }
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user) {
    (void)flags;
    (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream *s =
        nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    uint32_t off = (uint32_t)s->fields_text.len;
    if (buf_reserve(&s->fields_text, namelen + valuelen) != 0 ||
        (name[0] != ':' && s->num_fields == H2_MAX_FIELDS))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
    buf_append(&s->fields_text, name, namelen);
    buf_append(&s->fields_text, value, valuelen);
    if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
        s->method_off = off + 7;
        s->method_len = (uint32_t)valuelen;
        s->have_method = 1;
    } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        s->path_off = off + 5;
        s->path_len = (uint32_t)valuelen;
        s->have_path = 1;
    } else if (name[0] != ':') {
        size_t i = s->num_fields++;
        s->offs[i].name_off = off;
        s->offs[i].name_len = (uint32_t)namelen;
        s->offs[i].value_off = off + (uint32_t)namelen;
        s->offs[i].value_len = (uint32_t)valuelen;
    }
    return 0;
}

static void dispatch(h2_session *h, h2_stream *s) {
    exchange *ex = &s->ex;
    const char *t = s->fields_text.data;
    s->dispatched = 1;
    worker_handler_started(h->c->w);
    for (size_t i = 0; i < s->num_fields; i++) {
        s->fields[i].name = t + s->offs[i].name_off;
        s->fields[i].name_len = s->offs[i].name_len;
        s->fields[i].value = t + s->offs[i].value_off;
        s->fields[i].value_len = s->offs[i].value_len;
    }
    ex->headers = s->fields;
    ex->num_headers = s->num_fields;
    ex->protocol = h->c->protocol;
    if (!s->have_method || !s->have_path) {
        /* CONNECT without :path, say: nghttp2 let it through. */
        ex->method_str = "-";
        ex->method_len = 1;
        ex->path = "";
        exchange_problem(ex, 400, NULL, "missing :method or :path");
        return;
    }
    ex->method_str = t + s->method_off;
    ex->method_len = s->method_len;
    ex->method = http_method_parse(ex->method_str, ex->method_len);
    const char *path = t + s->path_off;
    const char *q = memchr(path, '?', s->path_len);
    ex->path = path;
    ex->path_len = q ? (size_t)(q - path) : s->path_len;
    if (q) {
        ex->query = q + 1;
        ex->query_len = s->path_len - ex->path_len - 1;
    }
    ex->body = s->body.data;
    ex->body_len = s->body.len;
    if (s->too_large) {
        exchange_problem(ex, 413, NULL, "request body over the size limit");
        return;
    }
    router_dispatch(h->c->router, ex);
}

/* Counts every GOAWAY that goes out: ours (drain, request limits) and
 * nghttp2's own (protocol errors, floods). */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user) {
    (void)ng;
    (void)user;
    if (frame->hd.type == NGHTTP2_GOAWAY)
        metrics_goaway_sent();
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user) {
    h2_session *h = user;
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    h2_stream *s =
        nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (s && !s->dispatched)
        dispatch(h, s);
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user) {
    (void)flags;
    (void)user;
    h2_stream *s = nghttp2_session_get_stream_user_data(ng, stream_id);
    if (s == NULL || s->too_large)
        return 0;
    if (buf_append(&s->body, data, len) != 0)
        s->too_large = 1; /* answered 413 once the request ends */
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id,
                           uint32_t error_code, void *user) {
    (void)error_code;
    h2_session *h = user;
    h2_stream *s = nghttp2_session_get_stream_user_data(ng, stream_id);
    if (s == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
    h->open_streams--;
    if (s->dispatched && !s->ex.responded)
        s->closed = 1; /* the handler still has it; send_response frees */
    else
        stream_free(s);
    if (h->open_streams == 0 && !h->c->draining)
        conn_set_timeout(h->c, TO_IDLE,
                         (uint64_t)h->c->srv->opt.idle_timeout_ms);
    return 0;
}

/* ---- session ---------------------------------------------------------- */

/* Sends what nghttp2 has queued, as far as the high-water mark allows, and
 * closes the connection once the session is over and flushed. */
static void pump(h2_session *h) {
    conn *c = h->c;
    if (h->in_recv || c->state == ST_CLOSED)
        return;
    /* nghttp2 stops (WOULDBLOCK) at the output high-water mark. If the
     * flush then writes everything at once, no write completion will come
     * to pump again - so go round until a write is pending or nghttp2 has
     * nothing left to send. */
    for (;;) { /* ends: each round sends data nghttp2 already holds */
        int rv = nghttp2_session_send(h->ng);
        if (rv != 0) {
            conn_close(c);
            return;
        }
        /* Streams whose producers waited for room: one at a time,
         * rescanning, since a producer's write may pump (and change the
         * list) again. */
        for (int guard = 0; guard < 1024; guard++) {
            h2_stream *s = h->streams_list;
            while (s && !s->want_drain)
                s = s->next;
            if (s == NULL)
                break;
            s->want_drain = 0;
            s->stream_paused = 0;
            s->ex.on_drain(&s->ex);
            if (c->state == ST_CLOSED)
                return;
        }
        if (!nghttp2_session_want_read(h->ng) &&
            !nghttp2_session_want_write(h->ng))
            c->close_after = 1;
        conn_flush(c);
        if (c->state == ST_CLOSED || c->write_pending || c->out.len > 0 ||
            !nghttp2_session_want_write(h->ng))
            return;
    }
}

int h2_start(conn *c) {
    h2_session *h = calloc(1, sizeof *h);
    if (h == NULL)
        return -ENOMEM;
    h->c = c;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
                                                              on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    /* Flood guards beyond nghttp2's defaults: queued control frames the
     * peer makes us send (PING/SETTINGS ACKs), SETTINGS entries, the
     * rapid-reset rate (CVE-2023-44487) and CONTINUATION frames. */
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
    nghttp2_option_set_max_continuations(opt, 8);
    int rv = nghttp2_session_server_new2(&h->ng, cb, h, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
        free(h);
        return -ENOMEM;
    }
    const options *o = &c->srv->opt;
    /* MAX_CONCURRENT_STREAMS is added on the wire: see
     * patch_first_settings. */
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
         (uint32_t)o->h2_initial_window_size},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)o->max_header_bytes},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv,
                            sizeof iv / sizeof iv[0]);
    if (o->h2_connection_window_size > 65535)
        nghttp2_session_set_local_window_size(
            h->ng, NGHTTP2_FLAG_NONE, 0, (int32_t)o->h2_connection_window_size);
    c->h2 = h;
    if (c->protocol == NULL || strcmp(c->protocol, "http/1.1") == 0)
        conn_set_protocol(c, "h2c");
    return 0;
}

void h2_on_input(conn *c) {
    h2_session *h = c->h2;
    h->in_recv = 1;
    ssize_t rv =
        nghttp2_session_mem_recv(h->ng, (const uint8_t *)c->in, c->in_len);
    h->in_recv = 0;
    c->in_len = 0;
    if (rv < 0) {
        log_line *l = log_begin(LOG_DEBUG, "http2 session error");
        log_str(l, "error.message", nghttp2_strerror((int)rv));
        log_end(l);
        /* Send what nghttp2 queued (a GOAWAY, usually), then close. */
        nghttp2_session_send(h->ng);
        c->close_after = 1;
        conn_flush(c);
        return;
    }
    pump(h);
}

void h2_send(conn *c) {
    pump(c->h2);
}

void h2_drain(conn *c) {
    h2_session *h = c->h2;
    if (!h->goaway_sent) {
        h->goaway_sent = 1;
        nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(h->ng),
                              NGHTTP2_NO_ERROR, NULL, 0);
    }
    pump(h);
}

void h2_on_idle(conn *c) {
    h2_session *h = c->h2;
    if (h->open_streams > 0)
        return;
    h2_drain(c);
    c->close_after = 1;
    conn_flush(c);
}

void h2_free(conn *c) {
    h2_session *h = c->h2;
    if (h == NULL)
        return;
    nghttp2_session_del(h->ng);
    while (h->streams_list) {
        h2_stream *s = h->streams_list;
        h->streams_list = s->next;
        s->prev = s->next = NULL;
        if (s->dispatched && !s->ex.responded) {
            /* Its handler answers later; send_response frees it. */
            s->closed = 1;
            s->h = NULL;
        } else {
            s->h = NULL;
            stream_free(s);
        }
    }
    free(h);
    c->h2 = NULL;
}
