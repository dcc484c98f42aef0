/* client_h2.c: HTTP/2 for a client through nghttp2 - streams up to -m,
 * frames serialised in batches with nghttp2_session_mem_send, GOAWAY's
 * refused streams handed back for a re-send. */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* Bytes of frames gathered per flush before writing (the rest waits for
 * the write to complete, which keeps memory bounded). */
#define H2_BATCH (256 * 1024)

static int on_header(nghttp2_session *session, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user_data) {
    lg_client *c = user_data;
    lg_slot *s;
    (void)flags;

    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_RESPONSE)
        return 0;
    if (c->w->measuring)
        c->w->stats.bytes_head_decomp += namelen + valuelen;
    s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL || s->status != 0 || namelen != 7 ||
        memcmp(name, ":status", 7) != 0)
        return 0;
    if (valuelen == 3 && value[0] >= '1' && value[0] <= '9' &&
        value[1] >= '0' && value[1] <= '9' && value[2] >= '0' &&
        value[2] <= '9') {
        int status =
            (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
        if (status >= 200)
            lg_request_status(c, s, status);
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user_data) {
    lg_client *c = user_data;
    (void)session;

    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (c->w->measuring)
            c->w->stats.bytes_head += frame->hd.length;
        break;
    case NGHTTP2_GOAWAY:
        c->goaway = 1;
        c->goaway_code = (int)frame->goaway.error_code;
        c->goaway_last_id = frame->goaway.last_stream_id;
        if (c->w->o->verbose)
            fprintf(stderr,
                    "[loadgen] thread %u client %u: GOAWAY(%s) "
                    "last_stream_id=%d after "
                    "%llu responses\n",
                    c->w->id, c->index,
                    lg_h2_code_name(frame->goaway.error_code),
                    frame->goaway.last_stream_id,
                    (unsigned long long)c->conn_responses);
        break;
    default:
        break;
    }
    return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                   const uint8_t *data, size_t len, void *user_data) {
    lg_client *c = user_data;
    (void)session;
    (void)flags;
    (void)stream_id;
    (void)data;

    if (c->w->measuring)
        c->w->stats.bytes_body += len;
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id,
                           uint32_t error_code, void *user_data) {
    lg_client *c = user_data;
    lg_slot *s = nghttp2_session_get_stream_user_data(session, stream_id);

    if (s == NULL || !s->in_use)
        return 0;
    if (error_code == NGHTTP2_REFUSED_STREAM ||
        (c->goaway && stream_id > c->goaway_last_id)) {
        /* RFC 9113 6.8 and 8.7: the server did not process it. */
        lg_request_retry(c, s);
        return 0;
    }
    if (error_code != NGHTTP2_NO_ERROR) {
        lg_record_error(c, LG_ERR_RESET, (int)error_code);
        lg_request_done(c, s, 0);
        return 0;
    }
    lg_request_done(c, s, s->status != 0);
    return 0;
}

int lg_h2_callbacks_new(lg_worker *w) {
    nghttp2_session_callbacks *cb;

    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    w->h2_callbacks = cb;
    if (nghttp2_option_new(&w->h2_option) != 0)
        return -1;
    /* Until the server's SETTINGS arrive, assume it takes -m streams
     * (nghttp2 would otherwise hold back everything past 100). */
    nghttp2_option_set_peer_max_concurrent_streams(w->h2_option,
                                                   w->o->max_streams);
    return 0;
}

void lg_h2_callbacks_free(lg_worker *w) {
    nghttp2_session_callbacks_del(w->h2_callbacks);
    nghttp2_option_del(w->h2_option);
    w->h2_callbacks = NULL;
    w->h2_option = NULL;
}

int lg_h2_session_new(lg_client *c) {
    const lg_options *o = c->w->o;
    nghttp2_settings_entry iv[3];
    size_t niv = 0;

    if (nghttp2_session_client_new2(&c->h2, c->w->h2_callbacks, c,
                                    c->w->h2_option) != 0)
        return -1;
    iv[niv].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    iv[niv++].value = 0;
    iv[niv].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[niv++].value = (1u << o->window_bits) - 1;
    if (o->max_frame_size != 16384) {
        iv[niv].settings_id = NGHTTP2_SETTINGS_MAX_FRAME_SIZE;
        iv[niv++].value = o->max_frame_size;
    }
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, niv) != 0)
        return -1;
    if (o->conn_window_bits > 16 &&
        nghttp2_session_set_local_window_size(
            c->h2, NGHTTP2_FLAG_NONE, 0,
            (int32_t)((1u << o->conn_window_bits) - 1)) != 0)
        return -1;
    return 0;
}

void lg_h2_session_free(lg_client *c) {
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
}

static ssize_t read_body(nghttp2_session *session, int32_t stream_id,
                         uint8_t *dst, size_t len, uint32_t *flags,
                         nghttp2_data_source *source, void *user_data) {
    lg_client *c = user_data;
    lg_slot *s = source->ptr;
    const lg_options *o = c->w->o;
    size_t left = o->data_len - (size_t)s->data_off;
    (void)session;
    (void)stream_id;

    if (len > left)
        len = left;
    memcpy(dst, o->data + s->data_off, len);
    s->data_off += len;
    if (s->data_off == o->data_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)len;
}

int lg_h2_submit(lg_client *c) {
    lg_worker *w = c->w;
    nghttp2_data_provider prd;
    lg_slot *s;

    if (c->h2 == NULL)
        return 0;
    while ((s = lg_client_next_request(c)) != NULL) {
        int32_t id;
        if (lg_slot_path(w, s) != 0)
            return -1;
        w->nva[1].value = (uint8_t *)w->scratch.data;
        w->nva[1].valuelen = w->scratch.len;
        prd.source.ptr = s;
        prd.read_callback = read_body;
        id = nghttp2_submit_request(c->h2, NULL, w->nva, w->nnva,
                                    w->o->data != NULL ? &prd : NULL, s);
        if (id < 0)
            return -1;
        s->stream_id = id;
    }
    return 0;
}

int lg_h2_on_read(lg_client *c, const char *data, size_t len) {
    ssize_t n = nghttp2_session_mem_recv(c->h2, (const uint8_t *)data, len);
    return n < 0 ? -1 : 0;
}

int lg_h2_send(lg_client *c) {
    buf *out = lg_client_wbuf(c);

    while (out->len < H2_BATCH) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(c->h2, &p);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (buf_append(out, p, (size_t)n) != 0)
            return -1;
    }
    return 0;
}

int lg_h2_alive(lg_client *c) {
    return nghttp2_session_want_read(c->h2) ||
           nghttp2_session_want_write(c->h2);
}

void lg_h2_terminate(lg_client *c) {
    nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
}

int lg_h2_on_eof(lg_client *c) {
    return c->inflight_count == 0 ? 0 : -1;
}
