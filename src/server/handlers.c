/* handlers: the operations endpoints (and the routes table). */
#include <stdatomic.h>

#include "server.h"

static void healthz(exchange *ex) {
    static const char body[] = "{\"status\":\"ok\"}\n";
    exchange_respond(ex, 200, "application/json", body, sizeof body - 1);
}

static void readyz(exchange *ex) {
    server *srv = ex->server;
    if (atomic_load(&srv->draining)) {
        static const char body[] = "{\"status\":\"draining\"}\n";
        exchange_add_header(ex, "retry-after", "5", 1);
        exchange_respond(ex, 503, "application/json", body, sizeof body - 1);
        return;
    }
    static const char body[] = "{\"status\":\"ready\"}\n";
    exchange_respond(ex, 200, "application/json", body, sizeof body - 1);
}

static void debug_echo(exchange *ex) {
    exchange_respond(ex, 200, "application/octet-stream", ex->body,
                     ex->body_len);
}

static const route base_routes[] = {
    {HTTP_GET, "/healthz", healthz},
    {HTTP_GET, "/readyz", readyz},
};

static const route echo_routes[] = {
    {HTTP_GET, "/healthz", healthz},
    {HTTP_GET, "/readyz", readyz},
    {HTTP_POST, "/debug/echo", debug_echo},
};

void handlers_init(server *srv) {
    if (srv->opt.debug_echo) {
        srv->router.routes = echo_routes;
        srv->router.count = sizeof echo_routes / sizeof echo_routes[0];
    } else {
        srv->router.routes = base_routes;
        srv->router.count = sizeof base_routes / sizeof base_routes[0];
    }
}
