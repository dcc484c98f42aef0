/* conn_h1: one HTTP/1.1 connection - reading, framing, pipelining,
 * timeouts and the graceful close.
 *
 * Input lands in one fixed buffer per connection (max header bytes plus
 * room for a read), so the parser's pointers stay valid while a request is
 * handled. Requests are taken one at a time in arrival order: a pipelined
 * request waits in the buffer until the one before it has its response,
 * which keeps responses in order without a queue. Responses are appended to
 * |out| and written once per read callback (many pipelined responses, one
 * write), with uv_try_write first so the common case needs no write
 * request at all.
 *
 * Timeouts use one uv_timer per connection, armed lazily: moving a deadline
 * later only updates a field, and the timer re-arms itself when it fires
 * early, so a busy keep-alive connection touches the timer heap about once
 * per timeout period rather than once per request. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "tls.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "timeutil.h"

static void process(conn *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void respond_error(conn *c, int status, const char *detail,
                          int head_parsed);
static void update_reading(conn *c);
static void tls_input(conn *c);

static conn *from_link(conn_link *l) {
    return (conn *)((char *)l - offsetof(conn, link));
}

/* ---- timeouts ---------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

void conn_set_timeout(conn *c, int kind, uint64_t ms) {
    uint64_t now = uv_now(&c->w->loop);
    c->timeout_kind = kind;
    c->deadline = now + ms;
    if (c->timer_due == 0 || c->timer_due > c->deadline) {
        c->timer_due = c->deadline;
        uv_timer_start(&c->timer, on_timer, ms, 0);
    }
}

void conn_clear_timeout(conn *c) {
    c->timeout_kind = TO_NONE;
    c->deadline = 0; /* the armed timer finds nothing to do */
}

static void on_timer(uv_timer_t *t) {
    conn *c = t->data;
    uint64_t now = uv_now(&c->w->loop);
    c->timer_due = 0;
    if (c->timeout_kind == TO_NONE || c->deadline == 0)
        return;
    if (now < c->deadline) {
        c->timer_due = c->deadline;
        uv_timer_start(&c->timer, on_timer, c->deadline - now, 0);
        return;
    }
    int kind = c->timeout_kind;
    conn_clear_timeout(c);
    if (kind == TO_HEADER && c->in_len > 0 && c->state == ST_HEAD &&
        !c->close_after) {
        /* Slowloris: a head that never completes. Say so, then close. */
        respond_error(c, 408, "request head not received in time", 0);
        return;
    }
    if (c->h2 && kind == TO_IDLE) {
        h2_on_idle(c);
        return;
    }
    conn_close(c);
}

/* ---- output ------------------------------------------------------------ */

static void after_shutdown(uv_shutdown_t *req, int status) {
    (void)status;
    conn *c = req->data;
    if (c->state == ST_CLOSED)
        return;
    /* Keep reading (and discarding) a little while, so that input the peer
     * already sent does not turn our close into a reset that destroys the
     * response before the peer has read it. */
    conn_set_timeout(c, TO_LINGER, LINGER_MS);
}

static void begin_close(conn *c) {
    if (c->closing || c->state == ST_CLOSED)
        return;
    c->closing = 1;
    if (c->peer_eof) {
        conn_close(c);
        return;
    }
    c->state = ST_LINGER;
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, after_shutdown) != 0) {
        conn_close(c);
        return;
    }
    c->shutdown_sent = 1;
    update_reading(c);
}

/* A paused stream goes on once the output has mostly drained. Checked
 * after every flush: one that writes everything at once brings no write
 * completion, so nothing else would wake the producer. */
static void resume_stream(conn *c) {
    if (c->stream_paused && c->state != ST_CLOSED &&
        c->out.len + c->writing.len < OUT_HIGH_WATER / 2) {
        c->stream_paused = 0;
        c->ex.on_drain(&c->ex);
    }
}

static void after_write(uv_write_t *req, int status) {
    conn *c = req->data;
    c->write_pending = 0;
    c->writing.len = 0;
    if (c->state == ST_CLOSED)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    resume_stream(c);
    if (c->state == ST_CLOSED)
        return;
    /* Output drained: take more requests (process() flushes). */
    if (c->tls && !c->h2)
        tls_input(c);
    else if (c->h2)
        h2_send(c);
    else
        process(c);
    if (!c->write_pending)
        resume_stream(c);
    /* Reading stops while output is backed up (update_reading); now that
     * it drained, read again - HTTP/2 input waits here otherwise. */
    update_reading(c);
}

static void flush_dequeue(conn *c) {
    if (!c->flush_queued)
        return;
    c->flush_queued = 0;
    if (c->flush_prev)
        c->flush_prev->flush_next = c->flush_next;
    else
        c->w->flush_queue = c->flush_next;
    if (c->flush_next)
        c->flush_next->flush_prev = c->flush_prev;
}

void conn_flush_later(conn *c) {
    if (c->flush_queued || c->state == ST_CLOSED)
        return;
    worker *w = c->w;
    c->flush_queued = 1;
    c->flush_prev = NULL;
    c->flush_next = w->flush_queue;
    if (w->flush_queue)
        w->flush_queue->flush_prev = c;
    w->flush_queue = c;
}

void conn_flush_queued(worker *w) {
    conn *c;
    while ((c = w->flush_queue) != NULL) { /* a flush may queue another */
        flush_dequeue(c);
        if (c->h2)
            h2_send(c);
        else
            conn_flush(c);
    }
}

/* Starts writing |out|. Called after each batch of work. */
void conn_flush(conn *c) {
    if (c->state == ST_CLOSED || c->write_pending)
        return;
    if (c->tls) {
        /* |out| holds plaintext until here; what goes on the wire is the
         * ciphertext (handshake messages included). */
        if (c->out.len > 0 && tls_write(c->tls, c->out.data, c->out.len)) {
            conn_close(c);
            return;
        }
        c->out.len = 0;
        if (tls_take_output(c->tls, &c->out) != 0) {
            conn_close(c);
            return;
        }
    }
    if (c->out.len > 0) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == (int)c->out.len) {
            c->out.len = 0;
        } else if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        } else {
            if (n > 0)
                buf_consume(&c->out, (size_t)n);
            /* Swap so that new responses can be appended meanwhile. */
            buf tmp = c->writing;
            c->writing = c->out;
            c->out = tmp;
            c->out.len = 0;
            b = uv_buf_init(c->writing.data, (unsigned)c->writing.len);
            c->wreq.data = c;
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1,
                         after_write) != 0) {
                conn_close(c);
                return;
            }
            c->write_pending = 1;
            if (c->timeout_kind == TO_NONE || c->timeout_kind == TO_IDLE)
                conn_set_timeout(c, TO_IDLE,
                                 (uint64_t)c->srv->opt.idle_timeout_ms);
            return;
        }
    }
    if (c->close_after && !c->closing)
        begin_close(c);
}

/* ---- responses --------------------------------------------------------- */

static void append_status_line(buf *b, int status) {
    char line[64];
    memcpy(line, "HTTP/1.1 ", 9);
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    line[12] = ' ';
    buf_append(b, line, 13);
    buf_append_str(b, http_reason(status));
    buf_append(b, "\r\n", 2);
}

/* The exchange's send hook: serialise the response into |out|. */
static void free_conn_memory(conn *c);

/* The status line and headers of |ex|'s response. |length| is the
 * Content-Length, or -1 for a streamed body (chunked, or until close for
 * an HTTP/1.0 client). */
static void write_head(conn *c, exchange *ex, int64_t length) {
    buf *o = &c->out;
    int status = ex->status;
    c->requests++;
    int64_t max_req = c->srv->opt.max_requests_per_connection;
    if (c->draining || (max_req > 0 && c->requests >= (uint64_t)max_req) ||
        c->peer_eof || (length < 0 && c->req.minor_version == 0))
        c->keep_alive = 0;

    append_status_line(o, status);
    size_t dlen;
    const char *date = worker_date_line(c->w, &dlen);
    buf_append(o, date, dlen);
    buf_append_str(o, "Server: objectd\r\n");
    if (ex->content_type) {
        buf_append_str(o, "Content-Type: ");
        buf_append_str(o, ex->content_type);
        buf_append(o, "\r\n", 2);
    }
    if (length >= 0 && status != 204 && status != 304) {
        buf_append_str(o, "Content-Length: ");
        buf_append_u64(o, (unsigned long long)length);
        buf_append(o, "\r\n", 2);
    } else if (length < 0 && c->req.minor_version == 1) {
        buf_append_str(o, "Transfer-Encoding: chunked\r\n");
    }
    for (size_t i = 0; i < ex->num_resp_headers; i++) {
        const resp_header *h = &ex->resp_headers[i];
        const char *t = ex->resp_header_text.data;
        buf_append(o, t + h->name_off, h->name_len);
        buf_append(o, ": ", 2);
        buf_append(o, t + h->value_off, h->value_len);
        buf_append(o, "\r\n", 2);
    }
    if (!c->keep_alive)
        buf_append_str(o, "Connection: close\r\n");
    else if (c->req.minor_version == 0)
        buf_append_str(o, "Connection: keep-alive\r\n");
    buf_append(o, "\r\n", 2);
}

/* The handler has answered (or finished streaming): bookkeeping. Returns
 * 0 to go on, -1 when the connection closed meanwhile (its memory is
 * freed here if it waited for this answer). */
static int handler_finished(conn *c) {
    if (c->handler_running) {
        c->handler_running = 0;
        worker_handler_done(c->w);
    }
    if (c->state == ST_CLOSED) {
        /* The client went away while an asynchronous handler ran; the
         * connection's memory waited for this answer. */
        observe_request_abandoned(&c->ex, 0);
        if (c->orphaned)
            free_conn_memory(c);
        return -1;
    }
    return 0;
}

/* Request done: log it, drop its bytes and move on to the next one. */
static void finish_request(conn *c, exchange *ex) {
    exchange_access_log(ex, "http/1.1", 0);
    if (!c->keep_alive)
        c->close_after = 1;
    size_t used = c->head_len < c->in_len ? c->head_len : c->in_len;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    c->head_len = 0;
    c->scan_from = 0;
    c->body.len = 0;
    c->state = ST_HEAD;
    if (!c->in_process)
        process(c); /* an asynchronous handler finished: resume */
}

static int head_only(const exchange *ex) {
    return ex->method == HTTP_HEAD || ex->status == 204 || ex->status == 304 ||
           (ex->status >= 100 && ex->status < 200);
}

/* The exchange's send hook: serialise the response into |out|. */
static void send_response(exchange *ex) {
    conn *c = ex->conn;
    if (handler_finished(c) != 0)
        return;
    write_head(c, ex, (int64_t)exchange_body_len(ex));
    if (!head_only(ex))
        buf_append(&c->out, exchange_body(ex), exchange_body_len(ex));
    finish_request(c, ex);
}

/* The exchange's stream hook: chunked transfer coding, with the output
 * buffer's high-water mark as the flow control (see exchange.h). */
static int stream_response(exchange *ex, int op, const char *data, size_t len) {
    conn *c = ex->conn;
    if (op == EXCHANGE_OP_END) {
        if (handler_finished(c) != 0)
            return EXCHANGE_STREAM_GONE;
        if (!head_only(ex) && c->req.minor_version == 1)
            buf_append_str(&c->out, "0\r\n\r\n");
        if (c->req.minor_version == 0)
            c->keep_alive = 0; /* the close ends the body */
        finish_request(c, ex);
        return EXCHANGE_STREAM_MORE;
    }
    if (c->state == ST_CLOSED || c->closing)
        return EXCHANGE_STREAM_GONE;
    if (op == EXCHANGE_OP_BEGIN) {
        write_head(c, ex, -1);
    } else if (!head_only(ex) && len > 0) {
        if (c->req.minor_version == 1) {
            char size[24];
            int n = snprintf(size, sizeof size, "%zx\r\n", len);
            buf_append(&c->out, size, (size_t)n);
        }
        buf_append(&c->out, data, len);
        if (c->req.minor_version == 1)
            buf_append(&c->out, "\r\n", 2);
    }
    conn_flush(c);
    if (c->state == ST_CLOSED)
        return EXCHANGE_STREAM_GONE;
    if (c->out.len + c->writing.len > OUT_HIGH_WATER) {
        c->stream_paused = 1;
        return EXCHANGE_STREAM_PAUSE;
    }
    return EXCHANGE_STREAM_MORE;
}

/* An error found while framing (before any handler): answer, then close.
 * Everything after the error is discarded; the parser does not
 * resynchronise. */
static void respond_error(conn *c, int status, const char *detail,
                          int head_parsed) {
    exchange *ex = &c->ex;
    if (!head_parsed) {
        exchange_reset(ex);
        ex->start_ns = time_mono_ns();
        ex->method_str = "-";
        ex->method_len = 1;
        ex->path = "";
        ex->path_len = 0;
        ex->protocol = "http/1.1";
    }
    ex->route = NULL;
    ex->num_resp_headers = 0;
    c->keep_alive = 0;
    c->close_after = 1;
    c->state = ST_HANDLER;
    c->head_len = c->in_len;
    exchange_problem(ex, status, NULL, detail);
}

/* ---- requests ---------------------------------------------------------- */

static void dispatch(conn *c) {
    exchange *ex = &c->ex;
    ex->body = c->body.data;
    ex->body_len = c->body.len;
    c->state = ST_HANDLER;
    conn_clear_timeout(c);
    c->handler_running = 1;
    worker_handler_started(c->w);
    router_dispatch(c->router, ex);
}

/* Starts a request from a parsed head; returns 0 to go on, -1 if the
 * connection is now closing. */
static int start_request(conn *c) {
    h1_request *r = &c->req;
    exchange *ex = &c->ex;
    exchange_reset(ex);
    ex->start_ns = time_mono_ns();
    ex->method_str = r->method;
    ex->method_len = r->method_len;
    ex->method = http_method_parse(r->method, r->method_len);
    ex->headers = r->headers;
    ex->num_headers = r->num_headers;
    ex->protocol = "http/1.1";
    const char *q = memchr(r->target, '?', r->target_len);
    ex->path = r->target;
    ex->path_len = q ? (size_t)(q - r->target) : r->target_len;
    if (q) {
        ex->query = q + 1;
        ex->query_len = r->target_len - ex->path_len - 1;
    }
    c->keep_alive = r->keep_alive;
    c->body.len = 0;

    if (r->chunked) {
        h1_chunked_init(&c->chunked, (uint64_t)c->srv->opt.max_body_bytes);
        c->state = ST_BODY_CHUNKED;
    } else if (r->content_length > 0) {
        if (r->content_length > c->srv->opt.max_body_bytes) {
            respond_error(c, 413, "request body over the size limit", 1);
            return -1;
        }
        c->body_remaining = (uint64_t)r->content_length;
        c->state = ST_BODY_CL;
    } else {
        dispatch(c);
        return 0;
    }
    if (r->expect_continue)
        buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    conn_set_timeout(c, TO_BODY, (uint64_t)c->srv->opt.idle_timeout_ms);
    return 0;
}

/* Moves body bytes from after the head into |body|. Returns 1 when the
 * body is complete, 0 when more is needed, -1 on error (answered). */
static int take_body(conn *c) {
    char *p = c->in + c->head_len;
    size_t avail = c->in_len - c->head_len;
    if (c->state == ST_BODY_CL) {
        size_t n = avail < c->body_remaining ? avail : c->body_remaining;
        if (buf_append(&c->body, p, n) != 0) {
            respond_error(c, 413, "request body over the size limit", 1);
            return -1;
        }
        memmove(p, p + n, avail - n);
        c->in_len -= n;
        c->body_remaining -= n;
        return c->body_remaining == 0;
    }
    size_t len = avail;
    long rc = h1_chunked_decode(&c->chunked, p, &len);
    if (rc == H1_CHUNKED_E_TOO_LARGE) {
        respond_error(c, 413, "request body over the size limit", 1);
        return -1;
    }
    if (rc < 0 && rc != H1_PARTIAL) {
        respond_error(c, 400, "invalid chunked transfer coding", 1);
        return -1;
    }
    if (buf_append(&c->body, p, len) != 0) {
        respond_error(c, 413, "request body over the size limit", 1);
        return -1;
    }
    size_t consumed = rc == H1_PARTIAL ? avail : (size_t)rc;
    memmove(p, p + consumed, avail - consumed);
    c->in_len -= consumed;
    return rc != H1_PARTIAL;
}

/* Handles every complete request in the buffer, in order. */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* A cleartext connection that begins with the HTTP/2 client preface is
 * HTTP/2 (prior knowledge). Returns 1 if it is (or may still be). */
static int sniff_h2(conn *c) {
    size_t n = c->in_len < 24 ? c->in_len : 24;
    if (memcmp(c->in, h2_preface, n) != 0)
        return 0;
    if (n < 24)
        return 1; /* wait for the rest of the preface */
    if (h2_start(c) != 0) {
        conn_close(c);
        return 1;
    }
    h2_on_input(c);
    return 1;
}

static void process(conn *c) {
    if (c->h2) {
        h2_on_input(c);
        update_reading(c);
        return;
    }
    if (c->in_process)
        return;
    if (c->requests == 0 && c->state == ST_HEAD && c->in_len > 0 &&
        sniff_h2(c)) {
        update_reading(c);
        return;
    }
    c->in_process = 1;
    while (c->state != ST_CLOSED && !c->closing && !c->close_after) {
        if (c->out.len + c->writing.len > OUT_HIGH_WATER)
            break; /* after_write calls us again */
        if (c->state == ST_HEAD) {
            if (c->in_len == 0) {
                if (c->draining) {
                    c->close_after = 1;
                    break;
                }
                conn_set_timeout(c, TO_IDLE,
                                 (uint64_t)c->srv->opt.idle_timeout_ms);
                break;
            }
            c->req.headers = c->headers;
            int rc = h1_parse_request(c->in, c->in_len, c->scan_from, &c->req,
                                      &c->srv->h1_limits);
            if (rc == H1_PARTIAL) {
                if (c->in_len >= (size_t)c->srv->opt.max_header_bytes) {
                    respond_error(c, 431, h1_strerror(H1_E_HEAD_TOO_LARGE), 0);
                    break;
                }
                if (c->timeout_kind != TO_HEADER)
                    conn_set_timeout(c, TO_HEADER,
                                     (uint64_t)c->srv->opt.header_timeout_ms);
                c->scan_from = c->in_len;
                break;
            }
            if (rc < 0) {
                respond_error(c, h1_error_status(rc), h1_strerror(rc), 0);
                break;
            }
            c->head_len = (size_t)rc;
            if (start_request(c) != 0)
                break;
            continue;
        }
        if (c->state == ST_BODY_CL || c->state == ST_BODY_CHUNKED) {
            int rc = take_body(c);
            if (rc < 0)
                break;
            if (rc == 0) {
                conn_set_timeout(c, TO_BODY,
                                 (uint64_t)c->srv->opt.idle_timeout_ms);
                break;
            }
            dispatch(c);
            continue;
        }
        break; /* ST_HANDLER (asynchronous) or ST_LINGER */
    }
    /* The peer has finished sending: what is left can never complete. */
    if (c->peer_eof && c->state != ST_HANDLER && c->state != ST_CLOSED)
        c->close_after = 1;
    c->in_process = 0;
    conn_flush(c);
    update_reading(c);
}

/* ---- input ------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)suggested;
    conn *c = h->data;
    if (c->state == ST_LINGER || c->tls) {
        /* Discarded input, or ciphertext that tls_feed() copies at once:
         * one buffer per thread serves every connection. */
        static _Thread_local char scratch[65536];
        *b = uv_buf_init(scratch, sizeof scratch);
        return;
    }
    *b = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

/* Reads while there is room for input and the output is not backed up;
 * a lingering connection reads (and discards) until it is closed. */
static void update_reading(conn *c) {
    int want;
    if (c->state == ST_CLOSED || c->peer_eof)
        want = 0;
    else if (c->state == ST_LINGER)
        want = 1;
    else
        want = c->in_len < c->in_cap &&
               c->out.len + c->writing.len <= OUT_HIGH_WATER;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* Decrypts what the TLS engine holds into |in| and processes it, as long
 * as there is room; the first plaintext after the handshake decides the
 * protocol by ALPN. */
static void tls_input(conn *c) {
    for (int round = 0; round < 64 && c->state != ST_CLOSED; round++) {
        size_t before = c->in_len;
        while (c->in_len < c->in_cap) {
            ssize_t n =
                tls_read(c->tls, c->in + c->in_len, c->in_cap - c->in_len);
            if (n == TLS_E_WANT_INPUT)
                break;
            if (n < 0) {
                /* close_notify or a fatal alert: send any alert, close. */
                c->peer_eof = 1;
                c->close_after = 1;
                conn_flush(c);
                if (c->state != ST_CLOSED && !c->write_pending)
                    conn_close(c);
                return;
            }
            c->in_len += (size_t)n;
        }
        if (!c->tls_ready && tls_handshake_done(c->tls)) {
            c->tls_ready = 1;
            const char *alpn = tls_alpn(c->tls);
            if (alpn && strcmp(alpn, "h2") == 0) {
                conn_set_protocol(c, "h2");
                if (h2_start(c) != 0) {
                    conn_close(c);
                    return;
                }
            }
        }
        if (c->in_len == before) {
            conn_flush(c); /* handshake messages */
            break;
        }
        process(c);
        if (c->in_len == c->in_cap || !tls_has_pending(c->tls))
            break;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        c->peer_eof = 1;
        update_reading(c);
        /* A client that closes while its request is still being answered
         * (an asynchronous handler, a streamed body) has given up on it:
         * the request ends as abandoned (499), as nginx reads it. */
        if (c->state == ST_LINGER || nread != UV_EOF || c->h2 ||
            c->handler_running) {
            conn_close(c);
            return;
        }
        /* Half-closed between requests: answer the complete requests
         * already sent, then close (process() sees peer_eof). */
        process(c);
        return;
    }
    if (c->state == ST_LINGER) {
        c->linger_bytes += (size_t)nread;
        if (c->linger_bytes > LINGER_MAX_BYTES)
            conn_close(c);
        return;
    }
    if (c->tls) {
        if (tls_feed(c->tls, b->base, (size_t)nread) != 0) {
            conn_close(c);
            return;
        }
        tls_input(c);
        return;
    }
    c->in_len += (size_t)nread;
    process(c);
}

/* ---- lifecycle --------------------------------------------------------- */

static void free_conn(uv_handle_t *h) {
    conn *c = h->data;
    if (c->handler_running) {
        c->orphaned = 1; /* send_response frees it */
        return;
    }
    free_conn_memory(c);
}

static void free_conn_memory(conn *c) {
    h2_free(c);
    tls_conn_free(c->tls);
    exchange_free(&c->ex);
    buf_free(&c->body);
    buf_free(&c->out);
    buf_free(&c->writing);
    free(c->in);
    free(c->headers);
    free(c);
}

static void timer_closed(uv_handle_t *h) {
    conn *c = h->data;
    uv_close((uv_handle_t *)&c->tcp, free_conn);
}

void conn_set_protocol(conn *c, const char *protocol) {
    metrics_conn_protocol(c->protocol, protocol);
    c->protocol = protocol;
}

void conn_close(conn *c) {
    if (c->state == ST_CLOSED)
        return;
    c->state = ST_CLOSED;
    flush_dequeue(c); /* freed before the queue is run, maybe */
    metrics_conn_protocol(c->protocol, NULL);
    update_reading(c);
    worker_remove_conn(c->w, &c->link);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}

static void link_drain(conn_link *l) {
    conn *c = from_link(l);
    c->draining = 1;
    if (c->h2) {
        h2_drain(c);
        return;
    }
    /* Idle between requests: nothing is in flight, close now. A partial
     * head, a body, a handler or a write in progress finishes first, and
     * its response carries Connection: close. */
    if (c->state == ST_HEAD && c->in_len == 0 && !c->write_pending &&
        c->out.len == 0)
        conn_close(c);
}

static void link_abort(conn_link *l) {
    conn_close(from_link(l));
}

void conn_start(worker *w, int fd, struct tls_ctx *tls, const router *rt) {
    server *srv = w->srv;
    size_t cap = (size_t)srv->opt.max_header_bytes + READ_ROOM;
    conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        goto fail;
    c->in = malloc(cap);
    c->headers = calloc((size_t)srv->opt.max_headers, sizeof(h1_header));
    if (c->in == NULL || c->headers == NULL)
        goto fail;
    if (tls && (c->tls = tls_conn_new_server(tls)) == NULL)
        goto fail;
    c->w = w;
    c->srv = srv;
    c->in_cap = cap;
    buf_init(&c->body, (size_t)srv->opt.max_body_bytes + 1);
    buf_init(&c->out, 0);
    buf_init(&c->writing, 0);
    c->ex.conn = c;
    c->ex.server = srv;
    c->ex.worker = w;
    c->ex.send = send_response;
    c->ex.stream = stream_response;
    exchange_reset(&c->ex);
    c->router = rt;
    conn_set_protocol(c, "http/1.1");
    c->link.drain = link_drain;
    c->link.abort = link_abort;

    uv_timer_init(&w->loop, &c->timer);
    c->timer.data = c;
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    /* On the list before anything can fail: conn_close takes it off and
     * keeps the counts right. */
    worker_add_conn(w, &c->link);
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        close(fd);
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    update_reading(c);
    conn_set_timeout(c, TO_HEADER, (uint64_t)srv->opt.header_timeout_ms);
    return;
fail:
    if (c) {
        free(c->in);
        free(c->headers);
        free(c);
    }
    close(fd);
    worker_conn_lost(w);
}
