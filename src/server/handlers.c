/* handlers: the operations endpoints (and the routes table). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "server.h"
#include "store.h"

void ops_healthz(exchange *ex) {
    static const char body[] = "{\"status\":\"ok\"}\n";
    exchange_respond(ex, 200, "application/json", body, sizeof body - 1);
}

void ops_readyz(exchange *ex) {
    server *srv = ex->server;
    if (srv->store && !store_ready(srv->store)) {
        static const char body[] = "{\"status\":\"migrations pending\"}\n";
        exchange_add_header(ex, "retry-after", "5", 1);
        exchange_respond(ex, 503, "application/json", body, sizeof body - 1);
        return;
    }
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

static const route ops_routes[] = {
    {HTTP_GET, "/healthz", ops_healthz},
    {HTTP_GET, "/readyz", ops_readyz},
};

static const route echo_route = {HTTP_POST, "/debug/echo", debug_echo};

/* One table: the operations endpoints, the API when there is a store, and
 * the echo endpoint when asked for. The echo endpoint is the one /debug/
 * route on the public listeners, on purpose: it exists to test request
 * bodies through the public protocol stack (HTTP/1.1 framing, HTTP/2
 * DATA), is off unless --debug-echo, and reveals nothing about the
 * server. Everything else under /debug/ is on the admin listener. */
int handlers_init(server *srv) {
    size_t n = sizeof ops_routes / sizeof ops_routes[0];
    size_t cap = n + api_object_route_count + api_series_route_count +
                 api_analysis_route_count + 1;
    route *all = calloc(cap, sizeof *all);
    if (all == NULL)
        return -1;
    memcpy(all, ops_routes, sizeof ops_routes);
    if (srv->store) {
        memcpy(all + n, api_object_routes,
               api_object_route_count * sizeof *all);
        n += api_object_route_count;
        memcpy(all + n, api_series_routes,
               api_series_route_count * sizeof *all);
        n += api_series_route_count;
        memcpy(all + n, api_analysis_routes,
               api_analysis_route_count * sizeof *all);
        n += api_analysis_route_count;
    }
    if (srv->opt.debug_echo)
        all[n++] = echo_route;
    srv->router.routes = all;
    srv->router.count = n;
    return 0;
}

void handlers_free(server *srv) {
    free((route *)srv->router.routes);
    srv->router.routes = NULL;
}
