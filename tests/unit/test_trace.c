/* Unit tests: W3C traceparent parsing (valid, invalid, future versions),
 * trace starts, and the exporter end to end: spans made as a request makes
 * them, POSTed to a receiver in a child process that counts them. With
 * OBJECTD_TEST_PERF=1 it also prints the CPU one request's two spans cost
 * (making them, plus the exporter's formatting and sending). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "json.h"
#include "metrics.h"
#include "store.h"
#include "test.h"
#include "trace.h"

static int parse(const char *v, uint8_t *tid, uint8_t *pid, uint8_t *flags) {
    return trace_parse_traceparent(v, strlen(v), tid, pid, flags);
}

static void test_valid(void) {
    uint8_t tid[16], pid[8], flags;
    char hex[33];
    CHECK_EQ_INT(
        parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tid,
              pid, &flags),
        0);
    trace_hex(tid, 16, hex);
    CHECK_EQ_STR(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    trace_hex(pid, 8, hex);
    CHECK_EQ_STR(hex, "00f067aa0ba902b7");
    CHECK_EQ_INT(flags, 1);
    CHECK_EQ_INT(
        parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", tid,
              pid, &flags),
        0);
    CHECK_EQ_INT(flags, 0);
    /* A future version may carry more, after a dash. */
    CHECK_EQ_INT(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
                       "01-what-the-future-holds",
                       tid, pid, &flags),
                 0);
}

static void test_invalid(void) {
    uint8_t tid[16], pid[8], flags;
    static const char *const bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        /* upper-case hex */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        /* all-zero trace id, all-zero parent id */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        /* version ff is forbidden */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        /* version 00 has exactly 55 characters */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        /* a later version's extra part must follow a dash */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        /* wrong separators, non-hex */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(parse(bad[i], tid, pid, &flags), -EINVAL);
}

static void test_begin(void) {
    trace_ctx a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    trace_begin(&a, tp, strlen(tp));
    CHECK_EQ_INT(a.has_parent, 1);
    char hex[33];
    trace_hex(a.trace_id, 16, hex);
    CHECK_EQ_STR(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    /* Without export nothing is sampled, whatever the flag says. */
    CHECK_EQ_INT(a.sampled, 0);
    /* An invalid one is ignored: a new trace, new ids every time. */
    trace_begin(&a, "garbage", 7);
    trace_begin(&b, NULL, 0);
    CHECK_EQ_INT(a.has_parent, 0);
    CHECK(memcmp(a.trace_id, b.trace_id, 16) != 0);
    CHECK(memcmp(a.span_id, b.span_id, 8) != 0);
}

static void test_endpoint(void) {
    char err[256];
    CHECK_EQ_INT(trace_init("https://x:1/v1/traces", 1, err, sizeof err),
                 -EINVAL);
    CHECK(strstr(err, "--otlp-endpoint") != NULL);
    CHECK_EQ_INT(trace_init("http://host/v1/traces", 1, err, sizeof err),
                 -EINVAL);
    CHECK_EQ_INT(trace_init("http://host:99999/v1/traces", 1, err, sizeof err),
                 -EINVAL);
    CHECK_EQ_INT(trace_init("http://:80/", 1, err, sizeof err), -EINVAL);
    CHECK_EQ_INT(trace_init(NULL, 1, err, sizeof err), 0);
}

/* The receiver: answers every POST with 200 after reading its body, and
 * writes the running counts of spans ("spanId" keys), POSTs and
 * connections to |out| after each.
 * It keeps a connection for three requests, then closes it without
 * saying so: the exporter reuses connections and must notice one closed
 * while idle (and POST again on a new one, losing nothing). */
static void receiver(int lfd, int out) {
    static char body[8 << 20];
    uint64_t spans = 0, counts[3] = {0}; /* spans, POSTs, connections */
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            _exit(1);
        counts[2]++;
        for (int k = 0; k < 3; k++) {
            char head[4096];
            size_t hn = 0;
            char *end = NULL;
            while (end == NULL && hn < sizeof head - 1) {
                ssize_t r = recv(c, head + hn, sizeof head - 1 - hn, 0);
                if (r <= 0)
                    break;
                hn += (size_t)r;
                head[hn] = '\0';
                end = strstr(head, "\r\n\r\n");
            }
            if (end == NULL)
                break;
            const char *cl = strcasestr(head, "content-length:");
            size_t n = cl ? strtoul(cl + 15, NULL, 10) : 0;
            size_t got = hn - (size_t)(end + 4 - head);
            if (n > sizeof body || got > n)
                _exit(2);
            memcpy(body, end + 4, got);
            while (got < n) {
                ssize_t r = recv(c, body + got, n - got, 0);
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            for (const char *p = body; (p = memmem(p, (size_t)(body + got - p),
                                                   "\"spanId\"", 8)) != NULL;
                 p += 8)
                spans++;
            static const char ok[] =
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
            if (send(c, ok, sizeof ok - 1, MSG_NOSIGNAL) < 0)
                break;
            counts[0] = spans;
            counts[1]++;
            if (write(out, counts, sizeof counts) != (ssize_t)sizeof counts)
                _exit(4);
        }
        close(c);
    }
}

static uint64_t metrics_dropped_now(void) {
    uint64_t exported, dropped, failed;
    metrics_trace_totals(&exported, &dropped, &failed);
    return dropped;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void test_export(void) {
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(lfd, 16) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    pid_t child = fork();
    if (child == 0) {
        close(pipefd[0]);
        receiver(lfd, pipefd[1]);
    }
    close(lfd);
    close(pipefd[1]);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces",
             ntohs(a.sin_port));
    CHECK_EQ_INT(trace_init(url, 1, err, sizeof err), 0);
    int perf = getenv("OBJECTD_TEST_PERF") != NULL;
    int requests = perf ? 200000 : 20000;
    trace_request_info info = {
        .method = "GET",
        .method_len = 3,
        .path = "/api/v1/objects/1",
        .path_len = 17,
        .route = "/api/v1/objects/{id}",
        .status = 200,
        .protocol = "h2c",
    };
    double cpu0 = cpu_seconds();
    struct timespec pace = {0, 2000000};
    for (int i = 0; i < requests; i++) {
        trace_ctx t;
        trace_begin(&t, NULL, 0);
        info.start_mono_ns = (uint64_t)i * 1000;
        info.end_mono_ns = info.start_mono_ns + 500;
        trace_export_db(&t, "sqlite", "object_get", info.start_mono_ns + 10,
                        info.start_mono_ns + 400, 1, 0);
        trace_export_request(&t, &info);
        if (i % 1000 == 999) /* a server's pace: the queue never fills */
            nanosleep(&pace, NULL);
    }
    trace_shutdown(); /* exports what is queued */
    double cpu = cpu_seconds() - cpu0;
    struct timespec tick = {0, 10000000};
    uint64_t spans = 0, posts = 0, conns = 0, v[3];
    uint64_t want = 2 * (uint64_t)requests - metrics_dropped_now();
    for (int i = 0; i < 500 && spans < want; i++) {
        ssize_t r;
        while ((r = read(pipefd[0], v, sizeof v)) == (ssize_t)sizeof v) {
            spans = v[0], posts = v[1], conns = v[2];
            if (spans == want)
                break;
        }
        if (r <= 0)
            nanosleep(&tick, NULL);
    }
    /* Every span reached the receiver, or was dropped for a full queue
     * (a busy machine can starve the exporter) and counted as such; none
     * twice (a POST made again after a closed kept connection). */
    uint64_t exported, dropped, failed;
    metrics_trace_totals(&exported, &dropped, &failed);
    CHECK_EQ_INT((long long)failed, 0);
    CHECK_EQ_INT((long long)exported, (long long)spans);
    CHECK_EQ_INT((long long)(spans + dropped), 2LL * requests);
    CHECK(spans > 0);
    /* Connections were kept: three POSTs on each (the receiver's limit). */
    CHECK(posts >= 3 && conns < posts && conns * 3 >= posts);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(pipefd[0]);
    if (perf)
        printf("perf: %d requests, 2 spans each: %.3f us of CPU per request "
               "(made, formatted, sent); %llu dropped\n",
               requests, cpu * 1e6 / requests,
               (unsigned long long)metrics_dropped_now());
}

/* The exporter writes route templates and query names into spans without
 * escaping them (trace.c, put_plain): none may need it. */
static int plain(const char *s) {
    char out[JSON_QUOTED_MAX(256)];
    size_t n = strlen(s);
    return n <= 256 && json_quote(out, s, n) == n + 2;
}

static void test_names_plain(void) {
    const route *tables[] = {api_object_routes, api_series_routes,
                             api_analysis_routes};
    const size_t counts[] = {api_object_route_count, api_series_route_count,
                             api_analysis_route_count};
    size_t checked = 0;
    for (size_t t = 0; t < 3; t++)
        for (size_t i = 0; i < counts[t]; i++, checked++)
            CHECK(plain(tables[t][i].template));
    for (int q = 0; q < STORE_Q_COUNT; q++, checked++)
        CHECK(plain(store_query_name(q)));
    CHECK(plain("sqlite") && plain("postgresql"));
    CHECK(checked > 20);
}

/* Ids to hex (the SSE2 path for whole 8-byte groups, the table for the
 * rest) against printf, on every byte value in every position. */
static void test_hex(void) {
    uint8_t id[32];
    char got[65], want[65];
    for (int round = 0; round < 256; round++) {
        for (int i = 0; i < 32; i++)
            id[i] = (uint8_t)(round + i * 37);
        for (size_t n = 0; n <= 32; n++) {
            for (size_t i = 0; i < n; i++)
                snprintf(want + 2 * i, 3, "%02x", id[i]);
            want[2 * n] = '\0';
            memset(got, 'X', sizeof got);
            trace_hex(id, n, got);
            CHECK_EQ_STR(got, want);
        }
    }
}

int main(void) {
    TEST_RUN(test_hex);
    TEST_RUN(test_valid);
    TEST_RUN(test_invalid);
    TEST_RUN(test_begin);
    TEST_RUN(test_endpoint);
    TEST_RUN(test_names_plain);
    TEST_RUN(test_export);
    return TEST_END();
}
