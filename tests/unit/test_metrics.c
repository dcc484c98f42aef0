/* Unit tests: per-thread counters summed at scrape, and the exposition
 * (route templates as labels, cumulative buckets, escaping, gauges). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "server.h"
#include "test.h"

static void noop(exchange *ex) {
    (void)ex;
}

static const route routes[] = {
    {HTTP_GET, "/api/v1/objects/{id}", noop},
    {HTTP_PUT, "/api/v1/objects/{id}", noop},
    {HTTP_GET, "/weird\"\\path", noop},
};
static const route admin[] = {{HTTP_GET, "/metrics", noop}};

/* The value of the sample line that starts with |prefix| + " ", or -1. */
static double sample(const char *text, const char *prefix) {
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

enum { PER_THREAD = 1000 };

static void *record(void *arg) {
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        metrics_request_begin();
        metrics_request_end(&routes[0], HTTP_GET, 200, 3000000 /* 3 ms */, 1);
    }
    metrics_request_begin(); /* one left in flight per thread */
    metrics_conn_protocol(NULL, "http/1.1");
    metrics_conn_protocol("http/1.1", "h2c");
    return NULL;
}

static void test_sums_and_format(void) {
    server srv;
    memset(&srv, 0, sizeof srv);
    srv.router.routes = routes;
    srv.router.count = 3;
    srv.admin_router.routes = admin;
    srv.admin_router.count = 1;
    srv.nworkers = 3;
    CHECK_EQ_INT(metrics_init(&srv), 0);

    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, record, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    /* This thread: the PUT route shares the template, a 404, a route with
     * characters to escape. */
    metrics_request_end(&routes[1], HTTP_PUT, 412, 50000000, 0);
    metrics_request_end(NULL, HTTP_GET, 404, 1000, 0);
    metrics_request_end(&routes[2], HTTP_GET, 200, 1000, 0);
    metrics_goaway_sent();
    metrics_cache_lookup(1);
    metrics_cache_lookup(0);
    metrics_cache_lookup(0);

    buf out;
    buf_init(&out, 0);
    CHECK_EQ_INT(metrics_render(&out), 0);
    buf_append_char(&out, '\0');
    const char *m = out.data;
    CHECK(sample(m, "objectd_http_requests_total{route=\"/api/v1/objects/"
                    "{id}\",method=\"GET\",code=\"200\"}") == 3 * PER_THREAD);
    CHECK(sample(m, "objectd_http_requests_total{route=\"/api/v1/objects/"
                    "{id}\",method=\"PUT\",code=\"412\"}") == 1);
    CHECK(sample(m, "objectd_http_requests_total{route=\"unmatched\","
                    "method=\"GET\",code=\"404\"}") == 1);
    CHECK(sample(m, "objectd_http_requests_total{route=\"/weird\\\"\\\\path\","
                    "method=\"GET\",code=\"200\"}") == 1);
    /* One histogram per template: GET and PUT share it. 3 ms falls in
     * le=0.005, not in le=0.0025; 50 ms in le=0.05. Buckets accumulate. */
    const char *h = "objectd_http_request_duration_seconds_bucket{route=\"/"
                    "api/v1/objects/{id}\",le=";
    char key[256];
    snprintf(key, sizeof key, "%s\"0.0025\"}", h);
    CHECK(sample(m, key) == 0);
    snprintf(key, sizeof key, "%s\"0.005\"}", h);
    CHECK(sample(m, key) == 3 * PER_THREAD);
    snprintf(key, sizeof key, "%s\"0.05\"}", h);
    CHECK(sample(m, key) == 3 * PER_THREAD + 1);
    snprintf(key, sizeof key, "%s\"+Inf\"}", h);
    CHECK(sample(m, key) == 3 * PER_THREAD + 1);
    CHECK(sample(m, "objectd_http_request_duration_seconds_count{route=\"/"
                    "api/v1/objects/{id}\"}") == 3 * PER_THREAD + 1);
    double sum = sample(m, "objectd_http_request_duration_seconds_sum{route="
                           "\"/api/v1/objects/{id}\"}");
    CHECK(sum > 9.049 && sum < 9.051); /* 3000 x 3 ms + 50 ms */
    /* Never asked for: no series. */
    CHECK(strstr(m, "route=\"/metrics\"") == NULL);
    CHECK(sample(m, "objectd_http_requests_in_flight") == 3);
    CHECK(sample(m, "objectd_http_connections{protocol=\"h2c\"}") == 3);
    CHECK(sample(m, "objectd_http_connections{protocol=\"http/1.1\"}") == 0);
    CHECK(sample(m, "objectd_http2_goaway_sent_total") == 1);
    CHECK(sample(m, "objectd_analysis_cache_requests_total{result=\"hit\"}") ==
          1);
    CHECK(sample(m, "objectd_analysis_cache_requests_total{result=\"miss\"}") ==
          2);
    CHECK(sample(m, "objectd_worker_threads") == 3);
    CHECK(sample(m, "objectd_build_info{version=\"" OBJECTD_VERSION
                    "\",store=\"none\"}") == 1);
    /* No store: no database families. */
    CHECK(strstr(m, "objectd_db_") == NULL);
    /* Every family has HELP and TYPE. */
    CHECK(strstr(m, "# TYPE objectd_http_request_duration_seconds histogram") !=
          NULL);
    CHECK(strstr(m, "# HELP objectd_http_requests_total ") != NULL);
    buf_free(&out);
}

int main(void) {
    TEST_RUN(test_sums_and_format);
    return TEST_END();
}
