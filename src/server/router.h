/* router: method + path templates with typed parameters.
 *
 * A template is literal segments and parameters: "/api/v1/objects/{id}".
 * A parameter named "id" or "n" is typed: a positive integer below 2^63;
 * a segment that is not one is a 400, never a silent 404. A route for GET
 * also answers HEAD. A path that matches no template is a 404; one that
 * matches a template under other methods only is a 405 with Allow. */
#ifndef OBJECTD_ROUTER_H
#define OBJECTD_ROUTER_H

#include <stddef.h>

#include "exchange.h"

typedef void (*route_handler)(exchange *ex);

struct route {
    int method;           /* one http_method bit */
    const char *template; /* also the route's name in logs and metrics */
    route_handler handler;
};

typedef struct router {
    const route *routes;
    size_t count;
} router;

enum {
    ROUTER_FOUND = 0,
    ROUTER_NOT_FOUND = -1,
    ROUTER_METHOD_NOT_ALLOWED = -2,
    ROUTER_BAD_PARAM = -3,
};

/* Matches |ex|'s method and path. On ROUTER_FOUND, |ex->route| and the
 * parameters are set. On ROUTER_METHOD_NOT_ALLOWED, |*allowed| has the
 * methods the path does answer. On ROUTER_BAD_PARAM, |*bad| names the
 * template parameter that failed its type. */
int router_match(const router *r, exchange *ex, int *allowed, const char **bad);

/* Matches and calls the handler, or answers 404, 405 (with Allow) or 400
 * itself with problem+json. */
void router_dispatch(const router *r, exchange *ex);

/* Writes "GET, HEAD, POST" for a method mask into |out|; returns length. */
size_t router_allow_header(int methods, char *out, size_t outlen);

#endif
