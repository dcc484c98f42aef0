/* worker: one thread, one libuv loop, the connections it was handed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compress.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"
#include "trace.h"

void worker_add_conn(worker *w, conn_link *c) {
    c->next = w->conns.next;
    c->prev = &w->conns;
    w->conns.next->prev = c;
    w->conns.next = c;
}

void worker_conn_lost(worker *w) {
    atomic_fetch_sub(&w->connections, 1);
    atomic_fetch_sub(&w->srv->connections, 1);
}

void worker_remove_conn(worker *w, conn_link *c) {
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = c;
    worker_conn_lost(w);
}

const char *worker_date_line(worker *w, size_t *len) {
    uint64_t sec = (uint64_t)(time_wall_ns() / 1000000000);
    if (sec != w->date_sec) {
        memcpy(w->date, "Date: ", 6);
        size_t n = time_format_http_date((time_t)sec, w->date + 6);
        memcpy(w->date + 6 + n, "\r\n", 2);
        w->date_len = 6 + n + 2;
        w->date_sec = sec;
    }
    *len = w->date_len;
    return w->date;
}

static void on_flush_timer(uv_timer_t *t) {
    worker *w = t->data;
    w->flush_armed = 0;
    log_access_flush();
    trace_flush_thread();
}

void worker_note_buffered(worker *w) {
    if (!w->flush_armed) {
        w->flush_armed = 1;
        uv_timer_start(&w->flush_timer, on_flush_timer, 200, 0);
    }
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Stops the loop once draining and no connection is left. */
static void maybe_finish(worker *w) {
    if (w->draining && w->conns.next == &w->conns && w->handlers_in_flight == 0)
        uv_stop(&w->loop);
}

void worker_handler_started(worker *w) {
    w->handlers_in_flight++;
}

void worker_handler_done(worker *w) {
    w->handlers_in_flight--;
}

static void on_wakeup(uv_async_t *a) {
    worker *w = a->data;
    pthread_mutex_lock(&w->lock);
    size_t n = w->pending_count;
    pending_conn fds[256];
    if (n > 256)
        n = 256;
    if (n > 0) {
        memcpy(fds, w->pending, n * sizeof *fds);
        memmove(w->pending, w->pending + n,
                (w->pending_count - n) * sizeof *fds);
    }
    w->pending_count -= n;
    int more = w->pending_count > 0;
    int drain = w->drain_requested, abort_now = w->abort_requested;
    pthread_mutex_unlock(&w->lock);
    if (more)
        uv_async_send(&w->wakeup);

    for (size_t i = 0; i < n; i++) {
        if (w->draining) {
            close(fds[i].fd);
            worker_conn_lost(w);
        } else {
            conn_start(w, fds[i].fd, fds[i].tls, fds[i].router);
        }
    }
    if (drain && !w->draining) {
        w->draining = 1;
        conn_link *c = w->conns.next;
        while (c != &w->conns) {
            conn_link *next = c->next;
            c->drain(c);
            c = next;
        }
    }
    if (abort_now) {
        conn_link *c = w->conns.next;
        while (c != &w->conns) {
            conn_link *next = c->next;
            c->abort(c);
            c = next;
        }
    }
    maybe_finish(w);
}

/* Each loop round, after the I/O callbacks (reads, database answers):
 * the responses they made go out, one write per connection; then a
 * drained worker may be done. */
static void on_check(uv_check_t *h) {
    worker *w = h->data;
    conn_flush_queued(w);
    maybe_finish(w);
}

/* Just before the loop waits for I/O: what the timers queued (a timeout's
 * response) goes out now, not after the wait. */
static void on_prepare(uv_prepare_t *h) {
    conn_flush_queued(h->data);
}

static void worker_main(void *arg) {
    worker *w = arg;
    uv_check_t check;
    uv_check_init(&w->loop, &check);
    check.data = w;
    uv_check_start(&check, on_check);
    uv_unref((uv_handle_t *)&check);
    uv_prepare_t prepare;
    uv_prepare_init(&w->loop, &prepare);
    prepare.data = w;
    uv_prepare_start(&prepare, on_prepare);
    uv_unref((uv_handle_t *)&prepare);

    uv_run(&w->loop, UV_RUN_DEFAULT);

    /* Drained: close what is left (database connections, timers, the
     * wake-up) and finish. */
    if (w->store)
        store_loop_detach(w->store);
    uv_walk(&w->loop, close_walk, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    log_thread_cleanup();
    trace_thread_cleanup();
    compress_thread_cleanup();
}

void worker_adopt(worker *w, int fd, struct tls_ctx *tls, const router *rt) {
    pthread_mutex_lock(&w->lock);
    if (w->pending_count == w->pending_cap) {
        size_t cap = w->pending_cap ? w->pending_cap * 2 : 64;
        pending_conn *p = realloc(w->pending, cap * sizeof *p);
        if (p == NULL) {
            pthread_mutex_unlock(&w->lock);
            close(fd);
            atomic_fetch_sub(&w->srv->connections, 1);
            return;
        }
        w->pending = p;
        w->pending_cap = cap;
    }
    w->pending[w->pending_count].fd = fd;
    w->pending[w->pending_count].router = rt;
    w->pending[w->pending_count++].tls = tls;
    pthread_mutex_unlock(&w->lock);
    /* Counted here, not when the worker gets to it, so that the next
     * accept in the same batch already sees it. */
    atomic_fetch_add(&w->connections, 1);
    atomic_fetch_add(&w->accepted, 1);
    uv_async_send(&w->wakeup);
}

int worker_init(worker *w, server *srv, int index) {
    memset(w, 0, sizeof *w);
    w->srv = srv;
    w->index = index;
    w->conns.next = w->conns.prev = &w->conns;
    int rc = uv_loop_init(&w->loop);
    if (rc)
        return rc;
    pthread_mutex_init(&w->lock, NULL);
    uv_async_init(&w->loop, &w->wakeup, on_wakeup);
    w->wakeup.data = w;
    uv_timer_init(&w->loop, &w->flush_timer);
    w->flush_timer.data = w;
    return 0;
}

int worker_start(worker *w) {
    return uv_thread_create(&w->thread, worker_main, w);
}

void worker_request(worker *w, int drain, int abort_now) {
    pthread_mutex_lock(&w->lock);
    w->drain_requested |= drain;
    w->abort_requested |= abort_now;
    pthread_mutex_unlock(&w->lock);
    uv_async_send(&w->wakeup);
}

void worker_join(worker *w) {
    uv_thread_join(&w->thread);
    uv_loop_close(&w->loop);
    pthread_mutex_destroy(&w->lock);
    for (size_t i = 0; i < w->pending_count; i++)
        close(w->pending[i].fd);
    free(w->pending);
}
