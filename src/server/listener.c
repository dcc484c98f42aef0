/* listener: our own listening sockets, accepted on the main loop and spread
 * over the workers by least connections.
 *
 * Why not one SO_REUSEPORT socket per worker: the kernel hashes each new
 * connection's 4-tuple onto a socket, and with few connections that is far
 * from even (four connections land on one of two loops one time in eight).
 * A keep-alive client that opens four connections would then use one core.
 * Accepting in one place and handing the descriptor to the least-loaded
 * worker costs one cross-thread wake-up per connection - never per request. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

struct listener {
    uv_poll_t poll;
    int fd;
    server *srv;
    struct tls_ctx *tls; /* NULL: cleartext */
    const router *router;
    unsigned next; /* round-robin among equally loaded workers */
};

/* Splits "HOST:PORT" or "[v6]:PORT"; an empty host means all addresses. */
static int split_hostport(const char *s, char *host, size_t hostlen, char *port,
                          size_t portlen) {
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return -EINVAL;
        if ((size_t)(end - s - 1) >= hostlen)
            return -EINVAL;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || (size_t)(colon - s) >= hostlen)
            return -EINVAL;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= portlen)
        return -EINVAL;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    if (atol(colon + 1) > 65535)
        return -EINVAL;
    strcpy(port, colon + 1);
    return 0;
}

static worker *pick_worker(listener *l) {
    server *srv = l->srv;
    int best = -1, best_n = 0;
    for (int k = 0; k < srv->nworkers; k++) {
        int i = (int)((l->next + (unsigned)k) % (unsigned)srv->nworkers);
        int n = atomic_load(&srv->workers[i].connections);
        if (best < 0 || n < best_n) {
            best = i;
            best_n = n;
        }
    }
    l->next++;
    return &srv->workers[best];
}

static void on_acceptable(uv_poll_t *p, int status, int events) {
    (void)events;
    listener *l = p->data;
    server *srv = l->srv;
    if (status < 0)
        return;
    /* Bounded batch: other listeners and signals get their turn. */
    for (int i = 0; i < 64; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_line *ll = log_begin(LOG_WARN, "accept failed");
                log_str(ll, "error.message", strerror(errno));
                log_end(ll);
            }
            return;
        }
        /* The admin listener is not held to --max-connections: a server
         * saturated with clients is when /metrics matters most. */
        if (atomic_load(&srv->draining) ||
            (l->router != &srv->admin_router &&
             atomic_load(&srv->connections) >= srv->opt.max_connections)) {
            close(fd); /* over the cap: refuse rather than queue */
            continue;
        }
        atomic_fetch_add(&srv->connections, 1);
        worker_adopt(pick_worker(l), fd, l->tls, l->router);
    }
}

static int open_one(server *srv, const char *spec, struct tls_ctx *tls,
                    const router *rt, listener *l) {
    char host[256], port[16];
    int rc = split_hostport(spec, host, sizeof host, port, sizeof port);
    if (rc)
        return rc;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0)
        return -EADDRNOTAVAIL;
    int fd =
        socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, (int)srv->opt.backlog) != 0) {
        rc = -errno;
        close(fd);
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    char addr[64], serv[16];
    getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof addr, serv,
                sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    l->fd = fd;
    l->srv = srv;
    l->tls = tls;
    l->router = rt;
    l->next = 0;
    uv_poll_init(srv->loop, &l->poll, fd);
    l->poll.data = l;
    uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
    int admin = rt == &srv->admin_router;
    log_line *ll = log_begin(LOG_INFO, admin ? "admin listening" : "listening");
    log_str(ll, "server.address", addr);
    log_int(ll, "server.port", atol(serv));
    log_str(ll, "network.protocol.name",
            tls ? "h2, http/1.1 (TLS)" : "http/1.1, h2c");
    if (admin)
        log_str(ll, "objectd.serves", "/metrics /debug/* /healthz /readyz");
    log_end(ll);
out:
    freeaddrinfo(res);
    return rc;
}

int listener_open_all(server *srv, listener **out, size_t *count) {
    size_t plain = srv->opt.listen.count;
    size_t tls = srv->tls ? srv->opt.tls_listen.count : 0;
    int admin = strcmp(srv->opt.admin_listen, "off") != 0;
    size_t n = plain + tls + (size_t)admin;
    listener *ls = calloc(n ? n : 1, sizeof *ls);
    if (ls == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        /* The admin listener last: "listening" lines come first, in the
         * order of the options, as they always did. */
        int is_admin = i == plain + tls;
        const char *spec = is_admin    ? srv->opt.admin_listen
                           : i < plain ? srv->opt.listen.items[i]
                                       : srv->opt.tls_listen.items[i - plain];
        int rc = open_one(srv, spec, i < plain || is_admin ? NULL : srv->tls,
                          is_admin ? &srv->admin_router : &srv->router, &ls[i]);
        if (rc) {
            log_line *ll = log_begin(LOG_ERROR, "cannot listen");
            log_str(ll, "server.address", spec);
            log_str(ll, "error.message",
                    rc == -EINVAL ? "expected HOST:PORT" : strerror(-rc));
            log_end(ll);
            listener_close_all(ls, i);
            return rc;
        }
    }
    *out = ls;
    *count = n;
    return 0;
}

static void listener_closed(uv_handle_t *h) {
    listener *l = h->data;
    close(l->fd); /* only now: epoll no longer watches it */
}

void listener_close_all(listener *ls, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uv_poll_stop(&ls[i].poll);
        uv_close((uv_handle_t *)&ls[i].poll, listener_closed);
    }
}
