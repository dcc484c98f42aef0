/* metrics: per-thread counters summed at scrape (see metrics.h). */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cgroup.h"
#include "exchange.h"
#include "router.h"
#include "server.h"
#include "store.h"

#ifndef OBJECTD_VERSION
#define OBJECTD_VERSION "unknown"
#endif

enum {
    MAX_TEMPLATES = 96, /* route templates, plus "unmatched" */
    REQ_SLOTS = 2048,   /* (route, method, code) series per thread */
    ROUTE_MAP = 512,    /* route pointer -> template index */
    NPROTO = 3,
};

/* Upper bounds of the latency buckets, in seconds and in nanoseconds. */
static const double bucket_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                  0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                  1,      2.5,     5,      10};
enum { NBUCKETS = sizeof bucket_s / sizeof bucket_s[0] };
static uint64_t bucket_ns[NBUCKETS];

static const char *const proto_names[NPROTO] = {"http/1.1", "h2", "h2c"};

typedef _Atomic uint64_t counter;

/* Buckets are not cumulative here (one increment per record); the
 * renderer accumulates. */
typedef struct hist {
    counter b[NBUCKETS + 1]; /* the last one is +Inf */
    counter sum_ns;
} hist;

typedef struct req_slot {
    counter key; /* 0: free; else (template+1) << 32 | method bit << 16 |
                    status */
    counter count;
} req_slot;

typedef struct block block;
struct block {
    block *next;
    counter req_begun, req_ended;
    req_slot req[REQ_SLOTS];
    counter req_dropped; /* table full: counted nowhere else */
    hist req_dur[MAX_TEMPLATES];
    counter conn_opened[NPROTO], conn_closed[NPROTO];
    counter goaway;
    counter db_begun, db_ended;
    counter q_calls[STORE_Q_COUNT], q_ns[STORE_Q_COUNT],
        q_max_ns[STORE_Q_COUNT], q_rows[STORE_Q_COUNT], q_errors[STORE_Q_COUNT];
    hist db_dur;
    hist pool_wait;
    counter cache[2]; /* miss, hit */
    counter trace_dropped, trace_exported, trace_failed;
};

typedef struct route_entry {
    const route *rt;
    int template_index;
} route_entry;

static struct {
    const char *templates[MAX_TEMPLATES];
    int ntemplates; /* the last one is "unmatched" */
    route_entry map[ROUTE_MAP];
    const char *store; /* NULL without a store */
    int pool_size;
    int threads;
    double start_time;
} reg;

static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
static block *_Atomic blocks;
static _Thread_local block *mine;

/* The calling thread's block; created and linked on its first record. */
static block *self(void) {
    block *b = mine;
    if (b != NULL)
        return b;
    b = calloc(1, sizeof *b);
    if (b == NULL)
        abort(); /* a few KiB once per thread; nothing sensible to do */
    pthread_mutex_lock(&blocks_lock);
    b->next = atomic_load(&blocks);
    atomic_store(&blocks, b);
    pthread_mutex_unlock(&blocks_lock);
    mine = b;
    return b;
}

/* Only the owner writes a block: load + store, no read-modify-write. */
static inline void add(counter *c, uint64_t v) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline uint64_t get(counter *c) {
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void hist_record(hist *h, uint64_t ns) {
    size_t i = 0;
    while (i < NBUCKETS && ns > bucket_ns[i])
        i++;
    add(&h->b[i], 1);
    add(&h->sum_ns, ns);
}

static size_t route_hash(const route *rt) {
    return ((uintptr_t)rt >> 3) * 2654435761u % ROUTE_MAP;
}

static int template_index(const char *t) {
    for (int i = 0; i < reg.ntemplates; i++)
        if (strcmp(reg.templates[i], t) == 0)
            return i;
    if (reg.ntemplates == MAX_TEMPLATES - 1)
        return -1;
    reg.templates[reg.ntemplates] = t;
    return reg.ntemplates++;
}

static int learn_router(const router *r) {
    for (size_t i = 0; i < r->count; i++) {
        const route *rt = &r->routes[i];
        int t = template_index(rt->template);
        if (t < 0)
            return -ENOMEM;
        size_t h = route_hash(rt);
        while (reg.map[h].rt != NULL)
            h = (h + 1) % ROUTE_MAP;
        reg.map[h].rt = rt;
        reg.map[h].template_index = t;
    }
    return 0;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int metrics_init(const server *srv) {
    for (size_t i = 0; i < NBUCKETS; i++)
        bucket_ns[i] = (uint64_t)(bucket_s[i] * 1e9 + 0.5);
    memset(reg.map, 0, sizeof reg.map);
    reg.ntemplates = 0;
    if (learn_router(&srv->router) != 0 ||
        learn_router(&srv->admin_router) != 0)
        return -ENOMEM;
    reg.templates[reg.ntemplates++] = "unmatched";
    reg.threads = srv->nworkers;
    reg.store = srv->store ? store_kind(srv->store) : NULL;
    reg.pool_size = srv->store ? store_pool_size(srv->store) : 0;
    reg.start_time = wall_now();
    return 0;
}

void metrics_free(void) {
    /* Blocks stay: threads that recorded may still be finishing. */
}

static int route_template(const route *rt) {
    if (rt != NULL) {
        size_t h = route_hash(rt);
        for (size_t n = 0; n < ROUTE_MAP && reg.map[h].rt != NULL; n++) {
            if (reg.map[h].rt == rt)
                return reg.map[h].template_index;
            h = (h + 1) % ROUTE_MAP;
        }
    }
    return reg.ntemplates - 1; /* "unmatched" */
}

void metrics_request_begin(void) {
    add(&self()->req_begun, 1);
}

void metrics_request_end(const route *rt, int method, int status,
                         uint64_t duration_ns, int began) {
    block *b = self();
    if (reg.ntemplates == 0)
        return; /* not initialised (unit tests of the protocol layer) */
    int t = route_template(rt);
    if (began)
        add(&b->req_ended, 1);
    hist_record(&b->req_dur[t], duration_ns);
    if (status < 0 || status > 999)
        status = 0;
    uint64_t key =
        ((uint64_t)(t + 1) << 32) | ((uint64_t)method << 16) | (uint64_t)status;
    size_t h = (size_t)(key * 0x9E3779B97F4A7C15ull >> 53) % REQ_SLOTS;
    for (size_t n = 0; n < REQ_SLOTS; n++) {
        req_slot *s = &b->req[h];
        uint64_t k = get(&s->key);
        if (k == key) {
            add(&s->count, 1);
            return;
        }
        if (k == 0) {
            /* Count first, then publish the key: a scrape never sees a
             * key without its first request. */
            add(&s->count, 1);
            atomic_store_explicit(&s->key, key, memory_order_release);
            return;
        }
        h = (h + 1) % REQ_SLOTS;
    }
    add(&b->req_dropped, 1);
}

static int proto_index(const char *p) {
    for (int i = 0; i < NPROTO; i++)
        if (strcmp(p, proto_names[i]) == 0)
            return i;
    return 0;
}

void metrics_conn_protocol(const char *from, const char *to) {
    block *b = self();
    if (from != NULL)
        add(&b->conn_closed[proto_index(from)], 1);
    if (to != NULL)
        add(&b->conn_opened[proto_index(to)], 1);
}

void metrics_goaway_sent(void) {
    add(&self()->goaway, 1);
}

void metrics_db_query_begin(void) {
    add(&self()->db_begun, 1);
}

void metrics_db_query(int q, uint64_t ns, uint64_t rows, int failed) {
    block *b = self();
    if (q < 0 || q >= STORE_Q_COUNT)
        return;
    add(&b->db_ended, 1);
    add(&b->q_calls[q], 1);
    add(&b->q_ns[q], ns);
    add(&b->q_rows[q], rows);
    if (failed)
        add(&b->q_errors[q], 1);
    if (ns > get(&b->q_max_ns[q]))
        atomic_store_explicit(&b->q_max_ns[q], ns, memory_order_relaxed);
    hist_record(&b->db_dur, ns);
}

void metrics_db_pool_wait(uint64_t ns) {
    hist_record(&self()->pool_wait, ns);
}

void metrics_cache_lookup(int hit) {
    add(&self()->cache[hit ? 1 : 0], 1);
}

void metrics_trace_dropped(uint64_t n) {
    add(&self()->trace_dropped, n);
}

void metrics_trace_exported(uint64_t n) {
    add(&self()->trace_exported, n);
}

void metrics_trace_failed(uint64_t n) {
    add(&self()->trace_failed, n);
}

void metrics_trace_totals(uint64_t *exported, uint64_t *dropped,
                          uint64_t *failed) {
    *exported = *dropped = *failed = 0;
    for (block *b = atomic_load(&blocks); b; b = b->next) {
        *exported += get(&b->trace_exported);
        *dropped += get(&b->trace_dropped);
        *failed += get(&b->trace_failed);
    }
}

int64_t metrics_in_flight(void) {
    int64_t n = 0;
    for (block *b = atomic_load(&blocks); b; b = b->next)
        n += (int64_t)get(&b->req_begun) - (int64_t)get(&b->req_ended);
    return n;
}

/* ---- rendering ---------------------------------------------------------- */

#define FOR_BLOCKS(b) for (block *b = atomic_load(&blocks); b; b = b->next)

static void header(buf *o, const char *name, const char *type,
                   const char *help) {
    buf_appendf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped. */
static void label_value(buf *o, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_append_char(o, '\\');
        if (*v == '\n') {
            buf_append_str(o, "\\n");
            continue;
        }
        buf_append_char(o, *v);
    }
}

/* Sums |n| histograms found at |offset| in every block into |out|. */
static void hist_sum(size_t offset, hist *out) {
    memset(out, 0, sizeof *out);
    FOR_BLOCKS(b) {
        hist *h = (hist *)((char *)b + offset);
        for (int i = 0; i <= NBUCKETS; i++)
            out->b[i] += get(&h->b[i]);
        out->sum_ns += get(&h->sum_ns);
    }
}

/* |labels| is "" or 'name="value"' (already escaped). */
static void hist_render(buf *o, const char *name, const char *labels, hist *h) {
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i <= NBUCKETS; i++) {
        cum += h->b[i];
        if (i < NBUCKETS)
            buf_appendf(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                        bucket_s[i], (unsigned long long)cum);
        else
            buf_appendf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
                        sep, (unsigned long long)cum);
    }
    buf_appendf(o, "%s_sum%s%s%s %.9f\n", name, labels[0] ? "{" : "", labels,
                labels[0] ? "}" : "", (double)h->sum_ns / 1e9);
    buf_appendf(o, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
                labels[0] ? "}" : "", (unsigned long long)cum);
}

typedef struct req_series {
    uint64_t key, count;
} req_series;

static int cmp_series(const void *a, const void *b) {
    uint64_t x = ((const req_series *)a)->key, y = ((const req_series *)b)->key;
    return x < y ? -1 : x > y;
}

static int render_requests(buf *o) {
    size_t n = 0, cap = 0;
    req_series *all = NULL;
    FOR_BLOCKS(b) {
        for (size_t i = 0; i < REQ_SLOTS; i++) {
            uint64_t k =
                atomic_load_explicit(&b->req[i].key, memory_order_acquire);
            if (k == 0)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                req_series *p = realloc(all, cap * sizeof *p);
                if (p == NULL) {
                    free(all);
                    return -ENOMEM;
                }
                all = p;
            }
            all[n].key = k;
            all[n++].count = get(&b->req[i].count);
        }
    }
    if (n > 0)
        qsort(all, n, sizeof *all, cmp_series);
    header(o, "objectd_http_requests_total", "counter",
           "HTTP requests answered, by route template, method and status "
           "code.");
    for (size_t i = 0; i < n;) {
        uint64_t key = all[i].key, sum = 0;
        while (i < n && all[i].key == key)
            sum += all[i++].count;
        int t = (int)(key >> 32) - 1;
        int method = (int)((key >> 16) & 0xffff);
        int status = (int)(key & 0xffff);
        buf_append_str(o, "objectd_http_requests_total{route=\"");
        label_value(o, reg.templates[t]);
        buf_appendf(o, "\",method=\"%s\",code=\"%d\"} %llu\n",
                    http_method_name(method), status, (unsigned long long)sum);
    }
    free(all);
    return 0;
}

static void render_http(buf *o) {
    header(o, "objectd_http_request_duration_seconds", "histogram",
           "Time from the end of the request head to the response handed to "
           "the protocol, by route template.");
    for (int t = 0; t < reg.ntemplates; t++) {
        hist h;
        hist_sum(offsetof(block, req_dur) + (size_t)t * sizeof(hist), &h);
        uint64_t total = 0;
        for (int i = 0; i <= NBUCKETS; i++)
            total += h.b[i];
        if (total == 0)
            continue; /* routes never asked for: no series */
        buf lab;
        buf_init(&lab, 4096);
        buf_append_str(&lab, "route=\"");
        label_value(&lab, reg.templates[t]);
        buf_append_char(&lab, '"');
        buf_append_char(&lab, '\0');
        hist_render(o, "objectd_http_request_duration_seconds", lab.data, &h);
        buf_free(&lab);
    }

    header(o, "objectd_http_requests_in_flight", "gauge",
           "Requests routed whose response has not been handed over yet.");
    int64_t inflight = metrics_in_flight();
    buf_appendf(o, "objectd_http_requests_in_flight %lld\n",
                (long long)(inflight < 0 ? 0 : inflight));

    header(o, "objectd_http_connections", "gauge",
           "Open client connections, by protocol.");
    for (int p = 0; p < NPROTO; p++) {
        int64_t open = 0;
        FOR_BLOCKS(b) {
            open += (int64_t)get(&b->conn_opened[p]) -
                    (int64_t)get(&b->conn_closed[p]);
        }
        buf_appendf(o, "objectd_http_connections{protocol=\"%s\"} %lld\n",
                    proto_names[p], (long long)(open < 0 ? 0 : open));
    }

    uint64_t goaway = 0;
    FOR_BLOCKS(b) {
        goaway += get(&b->goaway);
    }
    header(o, "objectd_http2_goaway_sent_total", "counter",
           "HTTP/2 GOAWAY frames sent (drain, connection limits, protocol "
           "errors).");
    buf_appendf(o, "objectd_http2_goaway_sent_total %llu\n",
                (unsigned long long)goaway);
}

static void render_db(buf *o) {
    if (reg.store == NULL)
        return;
    header(o, "objectd_db_queries_total", "counter",
           "Store operations finished, by store and query name.");
    for (int q = 0; q < STORE_Q_COUNT; q++) {
        uint64_t n = 0;
        FOR_BLOCKS(b) {
            n += get(&b->q_calls[q]);
        }
        buf_appendf(o,
                    "objectd_db_queries_total{store=\"%s\",query=\"%s\"} "
                    "%llu\n",
                    reg.store, store_query_name(q), (unsigned long long)n);
    }
    char lab[64];
    snprintf(lab, sizeof lab, "store=\"%s\"", reg.store);
    hist h;
    header(o, "objectd_db_query_duration_seconds", "histogram",
           "Time from a store call to its result, pool wait included.");
    hist_sum(offsetof(block, db_dur), &h);
    hist_render(o, "objectd_db_query_duration_seconds", lab, &h);

    int64_t inflight = 0;
    FOR_BLOCKS(b) {
        inflight += (int64_t)get(&b->db_begun) - (int64_t)get(&b->db_ended);
    }
    if (inflight < 0)
        inflight = 0;
    int64_t used = inflight < reg.pool_size ? inflight : reg.pool_size;
    header(o, "objectd_db_pool_connections", "gauge",
           "Pooled database connections by state: used (holding an "
           "operation) and idle. SQLite: the thread pool's reader "
           "connections.");
    buf_appendf(o,
                "objectd_db_pool_connections{store=\"%s\",state=\"idle\"} "
                "%lld\n",
                reg.store, (long long)(reg.pool_size - used));
    buf_appendf(o,
                "objectd_db_pool_connections{store=\"%s\",state=\"used\"} "
                "%lld\n",
                reg.store, (long long)used);
    header(o, "objectd_db_pool_wait_seconds", "histogram",
           "Time a store operation waited for a connection (PostgreSQL pool) "
           "or a thread (SQLite).");
    hist_sum(offsetof(block, pool_wait), &h);
    hist_render(o, "objectd_db_pool_wait_seconds", lab, &h);
}

/* /proc/self/stat after the command name: utime, stime (ticks), vsize
 * (bytes), rss (pages). */
static int read_proc_stat(double *cpu, double *vsize, double *rss,
                          double *start) {
    char text[2048];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return -errno;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')');
    if (p == NULL)
        return -EINVAL;
    unsigned long long utime, stime, starttime, vs;
    long long rs;
    /* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime cutime cstime priority nice threads
     * itrealvalue starttime vsize rss */
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d "
               "%*d %*d %*d %*d %*d %llu %llu %lld",
               &utime, &stime, &starttime, &vs, &rs) != 5)
        return -EINVAL;
    double tck = (double)sysconf(_SC_CLK_TCK);
    *cpu = (double)(utime + stime) / tck;
    *vsize = (double)vs;
    *rss = (double)rs * (double)sysconf(_SC_PAGESIZE);
    *start = (double)starttime / tck;
    return 0;
}

static double boot_time(void) {
    char line[256];
    double bt = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lf", &bt) == 1)
            break;
    fclose(f);
    return bt;
}

static long open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static void render_process(buf *o) {
    double cpu, vsize, rss, start;
    if (read_proc_stat(&cpu, &vsize, &rss, &start) == 0) {
        header(o, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.");
        buf_appendf(o, "process_cpu_seconds_total %.2f\n", cpu);
        header(o, "process_resident_memory_bytes", "gauge",
               "Resident memory size in bytes.");
        buf_appendf(o, "process_resident_memory_bytes %.0f\n", rss);
        header(o, "process_virtual_memory_bytes", "gauge",
               "Virtual memory size in bytes.");
        buf_appendf(o, "process_virtual_memory_bytes %.0f\n", vsize);
        double bt = boot_time();
        header(o, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.");
        buf_appendf(o, "process_start_time_seconds %.2f\n",
                    bt > 0 ? bt + start : reg.start_time);
    }
    long fds = open_fds();
    if (fds >= 0) {
        header(o, "process_open_fds", "gauge",
               "Number of open file descriptors.");
        buf_appendf(o, "process_open_fds %ld\n", fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        header(o, "process_max_fds", "gauge",
               "Maximum number of open file descriptors.");
        buf_appendf(o, "process_max_fds %llu\n",
                    (unsigned long long)rl.rlim_cur);
    }
}

static void render_cgroup(buf *o) {
    cgroup_cpu_stat st;
    if (cgroup_cpu_stat_read(&st) < 0)
        return; /* no CFS accounting for our cgroup: absent, not zero */
    header(o, "objectd_cgroup_cpu_periods_total", "counter",
           "CFS enforcement periods of objectd's own cgroup.");
    buf_appendf(o, "objectd_cgroup_cpu_periods_total %llu\n",
                (unsigned long long)st.periods);
    header(o, "objectd_cgroup_cpu_throttled_periods_total", "counter",
           "Periods in which objectd's cgroup used up its CPU quota.");
    buf_appendf(o, "objectd_cgroup_cpu_throttled_periods_total %llu\n",
                (unsigned long long)st.throttled_periods);
    header(o, "objectd_cgroup_cpu_throttled_seconds_total", "counter",
           "Time objectd's cgroup was held back by its CPU quota.");
    buf_appendf(o, "objectd_cgroup_cpu_throttled_seconds_total %.9f\n",
                (double)st.throttled_ns / 1e9);
}

int metrics_render(buf *o) {
    if (render_requests(o) != 0)
        return -ENOMEM;
    render_http(o);
    render_db(o);

    uint64_t cache[2] = {0, 0}, tr[3];
    FOR_BLOCKS(b) {
        cache[0] += get(&b->cache[0]);
        cache[1] += get(&b->cache[1]);
    }
    metrics_trace_totals(&tr[0], &tr[1], &tr[2]);
    header(o, "objectd_analysis_cache_requests_total", "counter",
           "Analysis cache lookups, by result.");
    buf_appendf(o,
                "objectd_analysis_cache_requests_total{result=\"hit\"} %llu\n"
                "objectd_analysis_cache_requests_total{result=\"miss\"} "
                "%llu\n",
                (unsigned long long)cache[1], (unsigned long long)cache[0]);

    header(o, "objectd_trace_spans_exported_total", "counter",
           "Spans accepted by the OTLP endpoint.");
    buf_appendf(o, "objectd_trace_spans_exported_total %llu\n",
                (unsigned long long)tr[0]);
    header(o, "objectd_trace_spans_dropped_total", "counter",
           "Spans dropped: the export queue was full, or the endpoint "
           "failed.");
    buf_appendf(o, "objectd_trace_spans_dropped_total %llu\n",
                (unsigned long long)(tr[1] + tr[2]));

    header(o, "objectd_worker_threads", "gauge",
           "Event-loop threads (--threads, by default the CPUs the process "
           "may use: affinity and cgroup quota).");
    buf_appendf(o, "objectd_worker_threads %d\n", reg.threads);
    header(o, "objectd_build_info", "gauge",
           "Always 1; the labels say which build and store run.");
    buf_appendf(o, "objectd_build_info{version=\"%s\",store=\"%s\"} 1\n",
                OBJECTD_VERSION, reg.store ? reg.store : "none");

    render_process(o);
    render_cgroup(o);
    return 0;
}

typedef struct query_row {
    int q;
    uint64_t calls, ns, max_ns, rows, errors;
} query_row;

static int cmp_rows(const void *a, const void *b) {
    uint64_t x = ((const query_row *)a)->ns, y = ((const query_row *)b)->ns;
    return x > y ? -1 : x < y;
}

int metrics_render_queries(buf *o) {
    query_row rows[STORE_Q_COUNT];
    for (int q = 0; q < STORE_Q_COUNT; q++) {
        query_row *r = &rows[q];
        memset(r, 0, sizeof *r);
        r->q = q;
        FOR_BLOCKS(b) {
            r->calls += get(&b->q_calls[q]);
            r->ns += get(&b->q_ns[q]);
            r->rows += get(&b->q_rows[q]);
            r->errors += get(&b->q_errors[q]);
            uint64_t m = get(&b->q_max_ns[q]);
            if (m > r->max_ns)
                r->max_ns = m;
        }
    }
    qsort(rows, STORE_Q_COUNT, sizeof rows[0], cmp_rows);
    buf_appendf(o, "{\"store\":\"%s\",\"queries\":[",
                reg.store ? reg.store : "none");
    for (int i = 0; i < STORE_Q_COUNT; i++) {
        query_row *r = &rows[i];
        buf_appendf(o,
                    "%s\n{\"query\":\"%s\",\"calls\":%llu,\"total_ms\":%.3f,"
                    "\"mean_ms\":%.3f,\"max_ms\":%.3f,\"rows\":%llu,"
                    "\"errors\":%llu}",
                    i ? "," : "", store_query_name(r->q),
                    (unsigned long long)r->calls, (double)r->ns / 1e6,
                    r->calls ? (double)r->ns / 1e6 / (double)r->calls : 0.0,
                    (double)r->max_ns / 1e6, (unsigned long long)r->rows,
                    (unsigned long long)r->errors);
    }
    return buf_append_str(o, "\n]}\n");
}
