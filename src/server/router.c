/* router: template matching without allocation. */
#include "router.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "observe.h"

static int is_typed(const char *name, size_t len) {
    return (len == 2 && memcmp(name, "id", 2) == 0) ||
           (len == 1 && name[0] == 'n');
}

/* A positive decimal integer below 2^63 with no sign or leading zeros. */
static int parse_id(const char *s, size_t len, int64_t *out) {
    if (len == 0 || len > 19 || s[0] == '0')
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > INT64_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Matches |path| against |tpl|: 1 on a match (params filled in), 0 if not,
 * -1 when the shape matches but a typed parameter does not. */
static int match_template(const char *tpl, const char *path, size_t path_len,
                          exchange *ex, const char **bad) {
    const char *p = path, *end = path + path_len;
    size_t nparams = 0;
    int bad_param = 0;
    while (*tpl) {
        if (p >= end || *p != '/' || *tpl != '/')
            return 0;
        tpl++;
        p++;
        const char *seg = p;
        while (p < end && *p != '/')
            p++;
        size_t seg_len = (size_t)(p - seg);
        const char *tseg = tpl;
        while (*tpl && *tpl != '/')
            tpl++;
        size_t tseg_len = (size_t)(tpl - tseg);
        if (tseg_len >= 2 && tseg[0] == '{' && tseg[tseg_len - 1] == '}') {
            if (seg_len == 0 || nparams == EXCHANGE_MAX_PARAMS)
                return 0;
            exchange_param *prm = &ex->params[nparams++];
            prm->value = seg;
            prm->len = seg_len;
            prm->id = 0;
            if (is_typed(tseg + 1, tseg_len - 2) &&
                parse_id(seg, seg_len, &prm->id) != 0 && !bad_param) {
                bad_param = 1;
                *bad = tseg;
            }
        } else if (seg_len != tseg_len || memcmp(seg, tseg, seg_len) != 0) {
            return 0;
        }
    }
    if (p != end)
        return 0;
    ex->num_params = nparams;
    return bad_param ? -1 : 1;
}

int router_match(const router *r, exchange *ex, int *allowed,
                 const char **bad) {
    int methods = 0, found_bad = 0;
    int want = ex->method == HTTP_HEAD ? HTTP_GET : ex->method;
    *allowed = 0;
    for (size_t i = 0; i < r->count; i++) {
        const route *rt = &r->routes[i];
        const char *b = NULL;
        int m = match_template(rt->template, ex->path, ex->path_len, ex, &b);
        if (m == 0)
            continue;
        if (m < 0) {
            found_bad = 1;
            *bad = b;
            ex->route = rt;
            continue;
        }
        if (rt->method == want || rt->method == ex->method) {
            ex->route = rt;
            return ROUTER_FOUND;
        }
        methods |= rt->method;
    }
    if (found_bad)
        return ROUTER_BAD_PARAM;
    if (methods) {
        if (methods & HTTP_GET)
            methods |= HTTP_HEAD;
        *allowed = methods;
        return ROUTER_METHOD_NOT_ALLOWED;
    }
    ex->route = NULL;
    return ROUTER_NOT_FOUND;
}

size_t router_allow_header(int methods, char *out, size_t outlen) {
    static const int order[] = {HTTP_GET,   HTTP_HEAD,   HTTP_POST,   HTTP_PUT,
                                HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!(methods & order[i]))
            continue;
        int w = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "",
                         http_method_name(order[i]));
        if (w < 0 || (size_t)w >= outlen - n)
            break;
        n += (size_t)w;
    }
    return n;
}

void router_dispatch(const router *r, exchange *ex) {
    int allowed = 0;
    const char *bad = NULL;
    int rc = router_match(r, ex, &allowed, &bad);
    observe_request_begin(ex);
    if (rc == ROUTER_FOUND) {
        ex->route->handler(ex);
        observe_handler_returned();
        return;
    }
    observe_handler_returned();
    if (rc == ROUTER_METHOD_NOT_ALLOWED) {
        char allow[96], detail[160];
        size_t n = router_allow_header(allowed, allow, sizeof allow);
        exchange_add_header(ex, "allow", allow, n);
        snprintf(detail, sizeof detail, "this resource answers %s", allow);
        exchange_problem(ex, 405, NULL, detail);
        return;
    }
    if (rc == ROUTER_BAD_PARAM) {
        char detail[160];
        const char *close = strchr(bad, '}');
        snprintf(detail, sizeof detail,
                 "path parameter '%.*s' must be a positive integer below "
                 "2^63",
                 (int)(close - bad - 1), bad + 1);
        exchange_problem(ex, 400, NULL, detail);
        return;
    }
    exchange_problem(ex, 404, NULL, "no resource at this path");
}
