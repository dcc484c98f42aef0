/* client_h1.c: HTTP/1.1 for a client - pipelined requests written in
 * one batch, responses matched in order, keep-alive and Connection: close
 * handled the way a browser would (unanswered requests go again). */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "h1_parser.h"

#define H1_MAX_HEADERS 100
#define H1_MAX_HEAD (64 * 1024)

int lg_h1_init(lg_client *c) {
    c->h1_fifo = calloc(c->nslots, sizeof *c->h1_fifo);
    buf_init(&c->h1_partial, H1_MAX_HEAD + 65536);
    return c->h1_fifo != NULL ? 0 : -1;
}

void lg_h1_free(lg_client *c) {
    free(c->h1_fifo);
    free(c->h1_chunk);
    buf_free(&c->h1_partial);
}

void lg_h1_reset(lg_client *c) {
    c->h1_head = 0;
    c->h1_len = 0;
    c->h1_state = LG_H1_HEAD;
    c->h1_partial.len = 0;
}

int lg_h1_submit(lg_client *c) {
    lg_worker *w = c->w;
    buf *out = lg_client_wbuf(c);
    size_t mlen = strlen(w->method);
    lg_slot *s;

    while ((s = lg_client_next_request(c)) != NULL) {
        if (lg_slot_path(w, s) != 0 || buf_append(out, w->method, mlen) != 0 ||
            buf_append_char(out, ' ') ||
            buf_append(out, w->scratch.data, w->scratch.len) != 0 ||
            buf_append(out, " HTTP/1.1\r\n", 11) != 0 ||
            buf_append(out, w->h1_common.data, w->h1_common.len) != 0)
            return -1;
        c->h1_fifo[(c->h1_head + c->h1_len) % c->nslots] =
            (unsigned)(s - c->slots);
        c->h1_len++;
    }
    return 0;
}

static lg_slot *fifo_front(lg_client *c) {
    return c->h1_len ? &c->slots[c->h1_fifo[c->h1_head]] : NULL;
}

static void fifo_pop(lg_client *c) {
    c->h1_head = (c->h1_head + 1) % c->nslots;
    c->h1_len--;
}

/* Requests pipelined behind a response that closed the connection never
 * reached the application: they go again on the next connection. */
static void requeue_rest(lg_client *c) {
    while (c->h1_len > 0) {
        lg_slot *s = fifo_front(c);
        fifo_pop(c);
        lg_request_retry(c, s);
    }
}

/* The response at the front is complete. 1 if the connection ends. */
static int complete(lg_client *c) {
    lg_slot *s = fifo_front(c);

    fifo_pop(c);
    lg_request_done(c, s, 1);
    c->h1_state = LG_H1_HEAD;
    if (c->h1_keep_alive)
        return 0;
    lg_close_stat_add(&c->w->stats.h1_close, c->conn_responses);
    requeue_rest(c);
    return 1;
}

/* Parses one head at |p|. Returns bytes consumed, 0 when incomplete, -1
 * on error; sets the body state. */
static long parse_head(lg_client *c, const char *p, size_t n) {
    lg_worker *w = c->w;
    h1_header headers[H1_MAX_HEADERS];
    h1_response res;
    h1_limits lim = {H1_MAX_HEAD, H1_MAX_HEAD, H1_MAX_HEADERS};
    lg_slot *s = fifo_front(c);
    int rc;

    res.headers = headers;
    rc = h1_parse_response(p, n, 0, &res, &lim);
    if (rc == H1_PARTIAL)
        return 0;
    if (rc < 0 || s == NULL)
        return -1;
    if (w->measuring) {
        /* As h2load counts them: field names and values only. */
        uint64_t hb = 0;
        size_t i;
        for (i = 0; i < res.num_headers; i++)
            hb += headers[i].name_len + headers[i].value_len;
        w->stats.bytes_head += hb;
        w->stats.bytes_head_decomp += hb;
    }
    if (res.status < 200 && res.status != 101) /* interim: skip it */
        return rc;
    if (w->o->verbose)
        fprintf(stderr, "[loadgen] thread %u client %u: HTTP/1.%d %d\n",
                c->w->id, c->index, res.minor_version, res.status);
    lg_request_status(c, s, res.status);
    c->h1_keep_alive = res.keep_alive;
    if (res.status == 204 || res.status == 304 || c->w->head_method) {
        c->h1_state = LG_H1_BODY_LENGTH;
        c->h1_body_left = 0;
    } else if (res.chunked) {
        if (c->h1_chunk == NULL) {
            c->h1_chunk = malloc(sizeof *c->h1_chunk);
            if (c->h1_chunk == NULL)
                return -1;
        }
        h1_chunked_init(c->h1_chunk, UINT64_MAX);
        c->h1_state = LG_H1_BODY_CHUNKED;
    } else if (res.content_length >= 0) {
        c->h1_state = LG_H1_BODY_LENGTH;
        c->h1_body_left = (uint64_t)res.content_length;
    } else {
        c->h1_state = LG_H1_BODY_EOF;
        c->h1_keep_alive = 0;
    }
    return rc;
}

/* Runs the response state machine over |p|; returns bytes consumed (all
 * unless a head is incomplete), or -1 / -2 (connection closes). */
static long consume(lg_client *c, char *p, size_t n) {
    lg_stats *st = &c->w->stats;
    int measuring = c->w->measuring;
    size_t off = 0;

    while (off < n) {
        size_t take;
        long rc;

        switch (c->h1_state) {
        case LG_H1_HEAD:
            rc = parse_head(c, p + off, n - off);
            if (rc < 0)
                return -1;
            if (rc == 0)
                return (long)off;
            off += (size_t)rc;
            if (c->h1_state == LG_H1_BODY_LENGTH && c->h1_body_left == 0 &&
                fifo_front(c) != NULL && fifo_front(c)->status >= 200) {
                if (complete(c))
                    return -2;
            }
            break;
        case LG_H1_BODY_LENGTH:
            take = n - off;
            if (take > c->h1_body_left)
                take = (size_t)c->h1_body_left;
            c->h1_body_left -= take;
            if (measuring)
                st->bytes_body += take;
            off += take;
            if (c->h1_body_left == 0 && complete(c))
                return -2;
            break;
        case LG_H1_BODY_CHUNKED:
            take = n - off;
            rc = h1_chunked_decode(c->h1_chunk, p + off, &take);
            if (measuring)
                st->bytes_body += take;
            if (rc == H1_PARTIAL)
                return (long)n;
            if (rc < 0)
                return -1;
            off += (size_t)rc;
            if (complete(c))
                return -2;
            break;
        case LG_H1_BODY_EOF:
            if (measuring)
                st->bytes_body += n - off;
            off = n;
            break;
        }
    }
    return (long)off;
}

int lg_h1_on_read(lg_client *c, char *data, size_t len) {
    buf *part = &c->h1_partial;
    long rc;

    if (part->len == 0) {
        rc = consume(c, data, len);
        if (rc < 0)
            return rc == -2 ? 1 : -1;
        /* An incomplete head: keep it for the next read. */
        if ((size_t)rc < len && buf_append(part, data + rc, len - (size_t)rc))
            return -1;
        return 0;
    }
    if (buf_append(part, data, len) != 0)
        return -1;
    rc = consume(c, part->data, part->len);
    if (rc < 0)
        return rc == -2 ? 1 : -1;
    buf_consume(part, (size_t)rc);
    return 0;
}

int lg_h1_on_eof(lg_client *c) {
    if (c->h1_state == LG_H1_BODY_EOF && c->h1_len > 0) {
        /* The close was the end of this response. */
        lg_slot *s = fifo_front(c);
        fifo_pop(c);
        lg_request_done(c, s, 1);
        lg_close_stat_add(&c->w->stats.h1_close, c->conn_responses);
        requeue_rest(c);
        return 0;
    }
    if (c->h1_len == 0)
        return 0;
    /* A keep-alive connection closed between two responses, after it
     * answered some: the usual race with the server's idle or request
     * limit, so the unanswered requests go again. */
    if (c->h1_state == LG_H1_HEAD && c->h1_partial.len == 0 &&
        c->conn_responses > 0) {
        lg_close_stat_add(&c->w->stats.h1_close, c->conn_responses);
        requeue_rest(c);
        return 0;
    }
    return -1;
}
