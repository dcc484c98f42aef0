/* workload: deterministic generation of the standard workload.
 *
 * Every object draws from its own random streams (seed, id, stream), so an
 * object's data does not depend on the order objects are generated in, and
 * a scaled-down workload (--objects 5) has the same first five objects as
 * the full one. Values are rounded to two decimals, as real sensors report
 * them (and so that they print short). */
#include "workload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define DAY_US (86400LL * 1000000LL)

static const char *const types[WORKLOAD_TYPES] = {"boiler", "chiller", "pump",
                                                  "sensor", "valve"};
static const char *const metrics[WORKLOAD_METRICS] = {
    "flow", "humidity", "power", "pressure", "temperature", "vibration"};
/* Per metric: base level, daily amplitude, noise, trend per day. */
static const double shape[WORKLOAD_METRICS][4] = {
    {42.0, 6.0, 1.2, 0.05},   {45.0, 10.0, 2.0, -0.02}, {310.0, 80.0, 9.0, 0.4},
    {2.4, 0.15, 0.03, 0.001}, {21.5, 3.5, 0.4, 0.01},   {0.8, 0.2, 0.05, 0.002},
};
static const char *const authors[] = {"alice", "bob", "carol", "dave", "erin"};
static const char *const kinds[] = {"alarm", "config", "inspection",
                                    "maintenance", "restart"};
static const char *const severities[] = {
    "info", "info", "info", "warning", "warning", "error", "critical", "debug"};

void workload_defaults(workload *w) {
    w->seed = 1;
    w->end = 1767225600LL * 1000000; /* 2026-01-01T00:00:00Z */
    w->objects = 500;
    w->days = 30;
    w->interval = 30LL * 60 * 1000000;
    w->revisions = 20;
    w->events = 200;
}

size_t workload_readings(const workload *w) {
    return (size_t)((w->days * DAY_US) / w->interval);
}

/* splitmix64: small, fast, and good enough for test data. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static rng stream(const workload *w, int64_t id, uint64_t which) {
    rng r = {w->seed * 0x100000001b3ULL ^ (uint64_t)id * 0x9e3779b97f4a7c15ULL ^
             which * 0xc2b2ae3d27d4eb4fULL};
    next(&r);
    return r;
}

static double uniform(rng *r) {
    return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* A standard normal draw (Box-Muller; one of the pair is dropped, which
 * keeps the stream simple and deterministic). */
static double gaussian(rng *r) {
    double u1 = uniform(r), u2 = uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double round2(double v) {
    return round(v * 100.0) / 100.0;
}

void workload_revision(const workload *w, int64_t id, int rev, store_write *out,
                       buf *text) {
    rng r = stream(w, id, 1000 + (uint64_t)rev);
    memset(out, 0, sizeof *out);
    out->id = id;
    out->type = types[(id - 1) % WORKLOAD_TYPES];
    out->author = authors[next(&r) % 5];
    int64_t span = 90 * DAY_US / (w->revisions > 0 ? w->revisions : 1);
    out->at = w->end - 90 * DAY_US + (int64_t)(rev - 1) * span +
              (int64_t)(next(&r) % (uint64_t)(span / 2));
    /* Attributes evolve: each revision bumps the firmware and changes one
     * more field, chosen by the revision's own stream. */
    rng base = stream(w, id, 999);
    int floor = (int)(next(&base) % 8) + 1;
    int site = (int)(next(&base) % 12) + 1;
    int zone = (int)(next(&base) % 6);
    double setpoint = round2(18.0 + uniform(&base) * 6.0);
    for (int k = 2; k <= rev; k++) {
        rng c = stream(w, id, 2000 + (uint64_t)k);
        switch (next(&c) % 3) {
        case 0:
            zone = (int)(next(&c) % 6);
            break;
        case 1:
            setpoint = round2(18.0 + uniform(&c) * 6.0);
            break;
        default:
            floor = (int)(next(&c) % 8) + 1;
        }
    }
    text->len = 0;
    buf_appendf(text, "{\"firmware\":\"2.%d\",\"floor\":%d,\"setpoint\":", rev,
                floor);
    char num[32];
    snprintf(num, sizeof num, "%.2f", setpoint);
    /* Trim trailing zeros so the text is canonical (shortest form). */
    size_t n = strlen(num);
    while (n > 1 && num[n - 1] == '0')
        num[--n] = '\0';
    if (num[n - 1] == '.')
        num[--n] = '\0';
    buf_append_str(text, num);
    buf_appendf(text, ",\"site\":\"site-%02d\",\"zone\":\"z%d\"}", site, zone);
    buf_append_char(text, '\0');
    static _Thread_local char name[64];
    snprintf(name, sizeof name, "%s-%04lld", out->type, (long long)id);
    out->name = name;
    out->attributes = text->data;
}

void workload_observations(const workload *w, int64_t id,
                           store_observation *out) {
    size_t n = workload_readings(w);
    int64_t start = w->end - (int64_t)w->days * DAY_US;
    for (int m = 0; m < WORKLOAD_METRICS; m++) {
        rng r = stream(w, id, 10 + (uint64_t)m);
        /* Each object sits at its own level around the metric's base. */
        double level = shape[m][0] * (0.85 + 0.3 * uniform(&r));
        double phase = uniform(&r) * 2.0;
        for (size_t i = 0; i < n; i++) {
            int64_t ts = start + (int64_t)(i + 1) * w->interval;
            double day = (double)(ts - start) / (double)DAY_US;
            double hour = (double)((ts % DAY_US) / 3600000000LL) +
                          (double)(ts % 3600000000LL) / 3.6e9;
            double v =
                level +
                shape[m][1] * sin(6.283185307179586 * (hour / 24.0) + phase) +
                shape[m][3] * day + shape[m][2] * gaussian(&r);
            if (next(&r) % 500 == 0) /* a rare spike */
                v += shape[m][2] * (6.0 + 4.0 * uniform(&r));
            store_observation *o = &out[(size_t)m * n + i];
            o->metric = metrics[m];
            o->ts = ts;
            o->value = round2(v);
        }
    }
}

static int cmp_ts(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void workload_events(const workload *w, int64_t id, store_event *out,
                     buf *text) {
    rng r = stream(w, id, 5);
    int64_t span = (int64_t)w->days * DAY_US;
    int64_t ts[4096];
    int n = w->events < 4096 ? w->events : 4096;
    for (int i = 0; i < n; i++)
        ts[i] = w->end - span +
                (int64_t)(next(&r) % (uint64_t)(span / 1000)) * 1000;
    qsort(ts, (size_t)n, sizeof ts[0], cmp_ts);
    for (int i = 1; i < n; i++)
        if (ts[i] <= ts[i - 1])
            ts[i] = ts[i - 1] + 1000; /* keep (ts, kind) unique */
    /* Strings first (the buffer may move while it grows), then pointers. */
    text->len = 0;
    size_t offs[4096][2];
    for (int i = 0; i < n; i++) {
        int kind = (int)(next(&r) % 5);
        int sev = (int)(next(&r) % 8);
        out[i].ts = ts[i];
        out[i].kind = kinds[kind];
        out[i].severity = severities[sev];
        offs[i][0] = text->len;
        buf_appendf(text, "%s %s on %s-%04lld", kinds[kind], severities[sev],
                    types[(id - 1) % WORKLOAD_TYPES], (long long)id);
        buf_append_char(text, '\0');
        offs[i][1] = text->len;
        buf_appendf(text, "{\"code\":%d,\"operator\":\"%s\"}",
                    (int)(next(&r) % 900) + 100, authors[next(&r) % 5]);
        buf_append_char(text, '\0');
    }
    for (int i = 0; i < n; i++) {
        out[i].message = text->data + offs[i][0];
        out[i].data = text->data + offs[i][1];
    }
}
