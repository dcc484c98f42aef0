/* client.c: a client's transport - connect, TLS, reads, batched writes,
 * timeouts, close and reconnect. */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void on_close(uv_handle_t *h);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void on_write(uv_write_t *req, int status);

buf *lg_client_wbuf(lg_client *c) {
    return c->tls != NULL ? &c->plain : &c->out;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
    lg_client *c = h->data;
    (void)hint;
    /* Reads are handled before the next one starts: one buffer per loop
     * serves every connection. */
    b->base = c->w->rbuf;
    b->len = sizeof c->w->rbuf;
}

static int submit(lg_client *c) {
    if (c->state != LG_CLIENT_CONNECTED)
        return 0;
    return c->proto == LG_PROTO_H2 ? lg_h2_submit(c) : lg_h1_submit(c);
}

/* All requests of the client are accounted for: end the connection
 * politely (HTTP/2 says GOAWAY first). */
static void maybe_finish(lg_client *c) {
    if (lg_client_has_work(c) || c->state != LG_CLIENT_CONNECTED)
        return;
    if (c->proto == LG_PROTO_H2 && c->h2 != NULL)
        lg_h2_terminate(c);
    c->close_after = 1;
}

void lg_client_maybe_finish(lg_client *c) {
    maybe_finish(c);
    lg_client_flush(c);
}

void lg_client_flush(lg_client *c) {
    uv_buf_t b;
    int n;

    if (c->state != LG_CLIENT_CONNECTED && c->state != LG_CLIENT_CONNECTING)
        return;
    if (c->proto == LG_PROTO_H2 && c->h2 != NULL && !c->writing &&
        lg_h2_send(c) != 0) {
        lg_client_abandon(c, LG_ERR_PROTOCOL, 0);
        return;
    }
    if (c->tls != NULL) {
        if (c->plain.len > 0) {
            if (tls_write(c->tls, c->plain.data, c->plain.len) != 0) {
                lg_client_abandon(c, LG_ERR_TLS, 0);
                return;
            }
            c->plain.len = 0;
        }
        if (tls_take_output(c->tls, &c->out) != 0) {
            lg_client_abandon(c, LG_ERR_IO, ENOBUFS);
            return;
        }
    }
    if (c->writing)
        return;
    if (c->out.len == 0) {
        if (c->close_after)
            lg_client_disconnect(c);
        return;
    }
    b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    n = uv_try_write(&c->sock.stream, &b, 1);
    if (n == (int)c->out.len) {
        c->out.len = 0;
        if (c->close_after)
            lg_client_disconnect(c);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        lg_client_abandon(c, LG_ERR_IO, -n);
        return;
    }
    if (n > 0)
        buf_consume(&c->out, (size_t)n);
    /* The rest goes out with uv_write; new bytes gather in the other
     * buffer meanwhile. */
    buf tmp = c->inflight;
    c->inflight = c->out;
    c->out = tmp;
    c->out.len = 0;
    c->writing = 1;
    b = uv_buf_init(c->inflight.data, (unsigned)c->inflight.len);
    n = uv_write(&c->write_req, &c->sock.stream, &b, 1, on_write);
    if (n != 0) {
        c->writing = 0;
        lg_client_abandon(c, LG_ERR_IO, -n);
    }
}

static void on_write(uv_write_t *req, int status) {
    lg_client *c = req->data;

    c->writing = 0;
    c->inflight.len = 0;
    if (c->state != LG_CLIENT_CONNECTED && c->state != LG_CLIENT_CONNECTING)
        return;
    if (status < 0) {
        lg_client_abandon(c, LG_ERR_IO, -status);
        return;
    }
    /* Output that waited for the write, or HTTP/2 frames held back. */
    if (submit(c) != 0) {
        lg_client_abandon(c, LG_ERR_PROTOCOL, ENOMEM);
        return;
    }
    lg_client_flush(c);
}

static void timer_cb(uv_timer_t *t) {
    lg_client *c = t->data;
    const lg_options *o = c->w->o;
    uint64_t now = uv_hrtime(), next = UINT64_MAX;

    if (c->state != LG_CLIENT_CONNECTED && c->state != LG_CLIENT_CONNECTING)
        return;
    if (o->active_timeout > 0) {
        uint64_t dl = c->conn_start_ns + (uint64_t)(o->active_timeout * 1e9);
        if (now >= dl)
            goto timeout;
        next = dl - now;
    }
    if (o->idle_timeout > 0) {
        uint64_t dl = c->last_read_ns + (uint64_t)(o->idle_timeout * 1e9);
        if (now >= dl)
            goto timeout;
        if (dl - now < next)
            next = dl - now;
    }
    uv_timer_start(&c->timer, timer_cb, next / 1000000 + 1, 0);
    return;
timeout:
    lg_client_abandon(c, LG_ERR_TIMEOUT, 0);
}

static void rps_cb(uv_timer_t *t) {
    lg_client *c = t->data;

    c->w->now_ns = uv_hrtime();
    if (submit(c) != 0) {
        lg_client_abandon(c, LG_ERR_PROTOCOL, ENOMEM);
        return;
    }
    lg_client_flush(c);
}

static void print_tls_info(lg_client *c) {
    char proto[32], cipher[64], key[96];

    tls_describe(c->tls, proto, sizeof proto, cipher, sizeof cipher, key,
                 sizeof key);
    lg_print0(c->w, "TLS Protocol: %s\nCipher: %s", proto, cipher);
    if (key[0] != '\0')
        lg_print0(c->w, "Server Temp Key: %s", key);
}

/* TCP (and TLS) are up: choose the protocol and send the first requests. */
static void connection_made(lg_client *c) {
    lg_worker *w = c->w;
    const lg_options *o = w->o;
    const char *name;

    if (c->tls != NULL) {
        const char *alpn = tls_alpn(c->tls);
        if (alpn != NULL && strcmp(alpn, "h2") == 0) {
            c->proto = LG_PROTO_H2;
        } else if (alpn != NULL && strcmp(alpn, "http/1.1") == 0) {
            c->proto = LG_PROTO_H1;
        } else if (alpn == NULL && o->alpn_wire_len == 9 &&
                   memcmp(o->alpn_wire, "\x08http/1.1", 9) == 0) {
            /* Asked for HTTP/1.1 only: a server without ALPN speaks it. */
            c->proto = LG_PROTO_H1;
        } else {
            lg_client_abandon(c, LG_ERR_TLS, 0);
            return;
        }
        name = c->proto == LG_PROTO_H2 ? "h2" : "http/1.1";
    } else {
        c->proto = o->cleartext_proto;
        name = c->proto == LG_PROTO_H2 ? "h2c" : "http/1.1";
    }
    if (!w->reported_proto) {
        w->reported_proto = 1;
        snprintf(w->app_proto, sizeof w->app_proto, "%s", name);
        if (c->tls != NULL)
            print_tls_info(c);
        lg_print0(w, "Application protocol: %s", name);
    }
    if (c->connect_ns == 0)
        c->connect_ns = w->now_ns - c->connect_start_ns;
    if (o->verbose)
        fprintf(stderr, "[loadgen] thread %u client %u: connected (%s)\n",
                w->id, c->index, name);
    c->state = LG_CLIENT_CONNECTED;
    c->conn_responses = 0;
    c->goaway = 0;
    c->goaway_code = -1;
    c->goaway_last_id = INT32_MAX;
    if (c->proto == LG_PROTO_H2) {
        if (lg_h2_session_new(c) != 0) {
            lg_client_abandon(c, LG_ERR_PROTOCOL, ENOMEM);
            return;
        }
    } else {
        lg_h1_reset(c);
    }
    if (submit(c) != 0) {
        lg_client_abandon(c, LG_ERR_PROTOCOL, ENOMEM);
        return;
    }
    if (o->rps > 0 && !c->rps_timer_on) {
        double ms = 1000.0 / o->rps;
        uint64_t period = ms < 1 ? 1 : (uint64_t)ms;
        uv_timer_start(&c->rps_timer, rps_cb, period, period);
        c->rps_timer_on = 1;
    }
    lg_client_flush(c);
}

/* Plaintext from the server. 0, or -1 once the client was ended. */
static int process(lg_client *c, char *data, size_t len) {
    int rc;

    if (c->w->measuring)
        c->w->stats.bytes_total += len;
    /* As h2load: the first byte of HTTP, after any TLS handshake. */
    if (!c->got_first_byte) {
        c->got_first_byte = 1;
        c->ttfb_ns = c->w->now_ns - c->connect_start_ns;
    }
    if (c->proto == LG_PROTO_H2) {
        if (lg_h2_on_read(c, data, len) != 0) {
            lg_client_abandon(c, LG_ERR_PROTOCOL, 0);
            return -1;
        }
        return 0;
    }
    rc = lg_h1_on_read(c, data, len);
    if (rc < 0) {
        lg_client_abandon(c, LG_ERR_PROTOCOL, 0);
        return -1;
    }
    if (rc == 1) {
        /* Connection: close - what was pipelined after it is queued for
         * the next connection. */
        lg_client_disconnect(c);
        return -1;
    }
    return 0;
}

static int read_tls(lg_client *c, const char *data, size_t len) {
    lg_worker *w = c->w;

    if (tls_feed(c->tls, data, len) != 0)
        goto tls_error;
    if (c->state == LG_CLIENT_CONNECTING) {
        int hs = tls_handshake(c->tls);
        if (hs < 0)
            goto tls_error;
        if (tls_take_output(c->tls, &c->out) != 0)
            goto tls_error;
        if (hs == 0) {
            lg_client_flush(c);
            return 0;
        }
        connection_made(c);
        if (c->state != LG_CLIENT_CONNECTED)
            return -1;
    }
    for (;;) {
        ssize_t n = tls_read(c->tls, w->tlsbuf, sizeof w->tlsbuf);
        if (n == TLS_E_WANT_INPUT)
            break;
        if (n == TLS_E_CLOSED) {
            lg_client_disconnect(c);
            return -1;
        }
        if (n < 0)
            goto tls_error;
        if (process(c, w->tlsbuf, (size_t)n) != 0)
            return -1;
    }
    return 0;
tls_error:
    lg_client_abandon(c, LG_ERR_TLS, 0);
    return -1;
}

/* The server closed the connection (or reset it). */
static void on_eof(lg_client *c, int err) {
    int lost;

    if (c->state != LG_CLIENT_CONNECTED)
        lost = -1; /* during connect or the TLS handshake */
    else if (c->proto == LG_PROTO_H2)
        lost = lg_h2_on_eof(c);
    else
        lost = lg_h1_on_eof(c);
    if (lost != 0) {
        lg_client_abandon(c, err == UV_EOF ? LG_ERR_CLOSED : LG_ERR_IO,
                          err == UV_EOF ? 0 : -err);
        return;
    }
    lg_client_disconnect(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    lg_client *c = s->data;
    lg_worker *w = c->w;

    if (nread == 0)
        return;
    w->now_ns = uv_hrtime();
    if (nread < 0) {
        on_eof(c, (int)nread);
        return;
    }
    c->last_read_ns = w->now_ns;
    if (c->tls != NULL) {
        if (read_tls(c, b->base, (size_t)nread) != 0)
            return;
    } else if (process(c, b->base, (size_t)nread) != 0) {
        return;
    }
    if (c->state != LG_CLIENT_CONNECTED)
        return;
    if (submit(c) != 0) {
        lg_client_abandon(c, LG_ERR_PROTOCOL, ENOMEM);
        return;
    }
    maybe_finish(c);
    if (c->proto == LG_PROTO_H2 && c->h2 != NULL && !lg_h2_alive(c)) {
        lg_client_disconnect(c);
        return;
    }
    lg_client_flush(c);
}

static void on_connect(uv_connect_t *req, int status) {
    lg_client *c = req->data;
    lg_worker *w = c->w;

    if (c->state != LG_CLIENT_CONNECTING)
        return;
    w->now_ns = uv_hrtime();
    if (status < 0) {
        lg_client_abandon(c, LG_ERR_CONNECT, -status);
        return;
    }
    if (c->sock.handle.type == UV_TCP)
        uv_tcp_nodelay(&c->sock.tcp, 1);
    c->conn_start_ns = c->last_read_ns = w->now_ns;
    if (uv_read_start(&c->sock.stream, alloc_cb, on_read) != 0) {
        lg_client_abandon(c, LG_ERR_IO, EIO);
        return;
    }
    if (w->o->active_timeout > 0 || w->o->idle_timeout > 0) {
        c->timer_on = 1;
        timer_cb(&c->timer);
    }
    if (w->tls != NULL) {
        c->tls = tls_conn_new_client(w->tls, w->o->host);
        if (c->tls == NULL || tls_handshake(c->tls) < 0) {
            lg_client_abandon(c, LG_ERR_TLS, ENOMEM);
            return;
        }
        lg_client_flush(c);
        return;
    }
    connection_made(c);
}

void lg_client_connect(lg_client *c) {
    lg_worker *w = c->w;
    int rc;

    w->now_ns = uv_hrtime();
    if (c->start_ns == 0)
        c->start_ns = w->now_ns;
    if (c->connect_ns == 0)
        c->connect_start_ns = w->now_ns;
    c->got_first_byte = c->ttfb_ns != 0;
    c->state = LG_CLIENT_CONNECTING;
    c->close_after = 0;
    c->connect_req.data = c;
    c->write_req.data = c;
    if (w->o->unix_path != NULL) {
        rc = uv_pipe_init(&w->loop, &c->sock.pipe, 0);
        c->sock.handle.data = c;
        if (rc == 0)
            uv_pipe_connect(&c->connect_req, &c->sock.pipe, w->o->unix_path,
                            on_connect);
    } else {
        rc = uv_tcp_init(&w->loop, &c->sock.tcp);
        c->sock.handle.data = c;
        if (rc == 0)
            rc = uv_tcp_connect(&c->connect_req, &c->sock.tcp, w->addr,
                                on_connect);
    }
    if (rc != 0)
        lg_client_abandon(c, LG_ERR_CONNECT, -rc);
}

void lg_client_disconnect(lg_client *c) {
    if (c->state == LG_CLIENT_CLOSING || c->state == LG_CLIENT_IDLE ||
        c->state == LG_CLIENT_DONE)
        return;
    if (c->goaway_code >= 0) {
        unsigned code = (unsigned)c->goaway_code;
        if (code >= LG_H2_CODES)
            code = LG_H2_CODES - 1;
        lg_close_stat_add(&c->w->stats.goaway[code], c->conn_responses);
        c->goaway_code = -1;
    }
    if (c->w->o->verbose)
        fprintf(stderr,
                "[loadgen] thread %u client %u: closing after %llu "
                "responses, %u in flight, %u to send again\n",
                c->w->id, c->index, (unsigned long long)c->conn_responses,
                c->inflight_count, c->retry_len);
    if (c->conn_responses == 0 && c->retry_len > 0)
        c->zero_progress++;
    else if (c->conn_responses > 0)
        c->zero_progress = 0;
    /* Streams not answered now never will be: nghttp2 must not report
     * them when the session is freed. */
    if (c->h2 != NULL)
        lg_h2_session_free(c);
    tls_conn_free(c->tls);
    c->tls = NULL;
    c->out.len = 0;
    c->plain.len = 0;
    if (c->timer_on) {
        uv_timer_stop(&c->timer);
        c->timer_on = 0;
    }
    c->state = LG_CLIENT_CLOSING;
    uv_close(&c->sock.handle, on_close);
}

static void on_close(uv_handle_t *h) {
    lg_client *c = h->data;

    c->state = LG_CLIENT_IDLE;
    c->writing = 0;
    c->inflight.len = 0;
    /* Requests still marked in flight were lost with the connection. */
    if (c->inflight_count > 0)
        lg_client_abandon(c, LG_ERR_CLOSED, 0);
    if (lg_client_has_work(c) && c->error_kind < 0) {
        if (c->zero_progress >= 3) {
            /* The server keeps closing without answering: give up. */
            lg_client_abandon(c, LG_ERR_CLOSED, 0);
        } else {
            lg_client_connect(c);
            return;
        }
    }
    c->state = LG_CLIENT_DONE;
    lg_worker_client_done(c);
}

void lg_client_free(lg_client *c) {
    buf_free(&c->out);
    buf_free(&c->inflight);
    buf_free(&c->plain);
    lg_h1_free(c);
    free(c->slots);
    free(c->free_slots);
    free(c->retry);
}
