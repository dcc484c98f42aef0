/* Unit tests: the router (templates, typed parameters, 404/405/400). */
#include <string.h>

#include "router.h"
#include "test.h"

static int last;
static void h_list(exchange *ex) {
    (void)ex;
    last = 1;
}
static void h_get(exchange *ex) {
    (void)ex;
    last = 2;
}
static void h_put(exchange *ex) {
    (void)ex;
    last = 3;
}
static void h_rev(exchange *ex) {
    (void)ex;
    last = 4;
}
static void h_health(exchange *ex) {
    (void)ex;
    last = 5;
}

static const route routes[] = {
    {HTTP_GET, "/api/v1/objects", h_list},
    {HTTP_GET, "/api/v1/objects/{id}", h_get},
    {HTTP_PUT, "/api/v1/objects/{id}", h_put},
    {HTTP_GET, "/api/v1/objects/{id}/revisions/{n}", h_rev},
    {HTTP_GET, "/healthz", h_health},
};
static const router r = {routes, sizeof routes / sizeof routes[0]};

static int sent_status;
static char sent_allow[64];
static void capture(exchange *ex) {
    sent_status = ex->status;
    sent_allow[0] = '\0';
    for (size_t i = 0; i < ex->num_resp_headers; i++) {
        const resp_header *h = &ex->resp_headers[i];
        if (h->name_len == 5 &&
            memcmp(ex->resp_header_text.data + h->name_off, "allow", 5) == 0)
            snprintf(sent_allow, sizeof sent_allow, "%.*s", (int)h->value_len,
                     ex->resp_header_text.data + h->value_off);
    }
}

static int run(const char *method, const char *path) {
    static exchange ex;
    exchange_reset(&ex);
    ex.send = capture;
    ex.method = http_method_parse(method, strlen(method));
    ex.path = path;
    ex.path_len = strlen(path);
    last = 0;
    sent_status = 0;
    router_dispatch(&r, &ex);
    static exchange_param p;
    p = ex.params[0];
    (void)p;
    int rc = last ? last : -sent_status;
    exchange_free(&ex);
    return rc;
}

static void test_match(void) {
    CHECK_EQ_INT(run("GET", "/api/v1/objects"), 1);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/42"), 2);
    CHECK_EQ_INT(run("HEAD", "/api/v1/objects/42"), 2);
    CHECK_EQ_INT(run("PUT", "/api/v1/objects/9223372036854775807"), 3);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/7/revisions/3"), 4);
    CHECK_EQ_INT(run("GET", "/healthz"), 5);
}

static void test_not_found(void) {
    CHECK_EQ_INT(run("GET", "/"), -404);
    CHECK_EQ_INT(run("GET", "/healthz/"), -404);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/"), -404);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/1/x"), -404);
    CHECK_EQ_INT(run("GET", "/api/v1"), -404);
    CHECK_EQ_INT(run("GET", "/healthzz"), -404);
    CHECK_EQ_INT(run("GET", "//healthz"), -404);
}

static void test_method_not_allowed(void) {
    CHECK_EQ_INT(run("POST", "/healthz"), -405);
    CHECK_EQ_STR(sent_allow, "GET, HEAD");
    CHECK_EQ_INT(run("DELETE", "/api/v1/objects/5"), -405);
    CHECK_EQ_STR(sent_allow, "GET, HEAD, PUT");
    CHECK_EQ_INT(run("BREW", "/healthz"), -405);
}

static void test_bad_params(void) {
    CHECK_EQ_INT(run("GET", "/api/v1/objects/abc"), -400);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/0"), -400);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/-1"), -400);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/007"), -400);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/9223372036854775808"), -400);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/99999999999999999999"), -400);
    CHECK_EQ_INT(run("GET", "/api/v1/objects/1/revisions/x"), -400);
}

static void test_allow_header(void) {
    char out[64];
    CHECK_EQ_INT(router_allow_header(HTTP_GET | HTTP_POST, out, sizeof out), 9);
    CHECK_EQ_STR(out, "GET, POST");
    CHECK_EQ_INT(router_allow_header(0, out, sizeof out), 0);
}

static void test_methods(void) {
    CHECK_EQ_INT(http_method_parse("GET", 3), HTTP_GET);
    CHECK_EQ_INT(http_method_parse("PATCH", 5), HTTP_PATCH);
    CHECK_EQ_INT(http_method_parse("get", 3), HTTP_OTHER);
    CHECK_EQ_STR(http_method_name(HTTP_DELETE), "DELETE");
    CHECK_EQ_STR(http_reason(431), "Request Header Fields Too Large");
}

int main(void) {
    TEST_RUN(test_match);
    TEST_RUN(test_not_found);
    TEST_RUN(test_method_not_allowed);
    TEST_RUN(test_bad_params);
    TEST_RUN(test_allow_header);
    TEST_RUN(test_methods);
    return TEST_END();
}
