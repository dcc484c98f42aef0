/* seed: `objectd seed` - the standard workload into an empty store.
 *
 * A small state machine on the main thread's loop drives the asynchronous
 * store: up to SEED_PARALLEL objects are in flight, each going create ->
 * revisions 2..N -> readings (one batch per metric) -> events -> done. On
 * SQLite the writes serialise anyway (one writer), on PostgreSQL the
 * parallel objects use the pool. A progress line is drawn on a terminal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "seed.h"
#include "timeutil.h"
#include "workload.h"

enum { SEED_PARALLEL = 8 };

typedef struct seeder seeder;

typedef struct slot {
    seeder *sd;
    int64_t id;
    int rev;    /* next revision to write */
    int metric; /* next metric batch */
    int busy;
    buf text;
    store_observation *obs;
    store_event *events;
} slot;

struct seeder {
    workload w;
    store_loop *sl;
    uv_loop_t *loop;
    slot slots[SEED_PARALLEL];
    int64_t next_id;
    int done_objects;
    int64_t readings, events;
    int failed;
    char error[256];
    uint64_t started_ns, last_progress_ns;
    int tty;
};

static void step(slot *s);

static void progress(seeder *sd, int final) {
    if (!sd->tty)
        return;
    uint64_t now = time_mono_ns();
    if (!final && now - sd->last_progress_ns < 200000000u)
        return;
    sd->last_progress_ns = now;
    fprintf(stderr,
            "\rseeding: %d/%d objects, %.2fM readings, %lld events, %.1f s ",
            sd->done_objects, sd->w.objects, (double)sd->readings / 1e6,
            (long long)sd->events, (double)(now - sd->started_ns) / 1e9);
    if (final)
        fputc('\n', stderr);
}

static void fail(slot *s, const store_result *r, const char *what) {
    seeder *sd = s->sd;
    if (!sd->failed)
        snprintf(sd->error, sizeof sd->error, "object %lld: %s: %s",
                 (long long)s->id, what,
                 r->status == STORE_EXISTS
                     ? "exists (seed needs an empty database)"
                 : r->message ? r->message
                              : "store error");
    sd->failed = 1;
    s->busy = 0;
}

static void on_written(const store_result *r, void *arg) {
    slot *s = arg;
    if (r->status != STORE_OK) {
        fail(s, r, "write failed");
        return;
    }
    step(s);
}

/* Starts the next object in |s|, or leaves it idle when all are out. */
static void start_object(slot *s) {
    seeder *sd = s->sd;
    if (sd->failed || sd->next_id > sd->w.objects) {
        s->busy = 0;
        return;
    }
    s->id = sd->next_id++;
    s->rev = 1;
    s->metric = 0;
    s->busy = 1;
    step(s);
}

static void step(slot *s) {
    seeder *sd = s->sd;
    const workload *w = &sd->w;
    int rc;
    if (sd->failed) {
        s->busy = 0;
        return;
    }
    if (s->rev <= w->revisions) {
        store_write wr;
        workload_revision(w, s->id, s->rev, &wr, &s->text);
        int first = s->rev == 1;
        s->rev++;
        rc = first ? store_object_create(sd->sl, &wr, on_written, s)
                   : store_object_put(sd->sl, &wr, on_written, s);
    } else if (s->metric < WORKLOAD_METRICS) {
        size_t n = workload_readings(w);
        if (s->metric == 0)
            workload_observations(w, s->id, s->obs);
        rc = store_observations_put(
            sd->sl, s->id, s->obs + (size_t)s->metric * n, n, on_written, s);
        s->metric++;
        sd->readings += (int64_t)n;
    } else if (s->metric == WORKLOAD_METRICS && w->events > 0) {
        workload_events(w, s->id, s->events, &s->text);
        s->metric++;
        sd->events += w->events;
        rc = store_events_put(sd->sl, s->id, s->events, (size_t)w->events,
                              on_written, s);
    } else {
        sd->done_objects++;
        progress(sd, 0);
        start_object(s);
        return;
    }
    if (rc != 0) {
        store_result r = {.status = STORE_ERROR, .message = strerror(-rc)};
        fail(s, &r, "store call refused");
    }
}

int seed_run(store *st, const workload *w, char *err, size_t errlen) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    seeder *sd = calloc(1, sizeof *sd);
    int rc = -1;
    if (sd == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    sd->w = *w;
    sd->loop = &loop;
    sd->next_id = 1;
    sd->tty = isatty(2);
    sd->started_ns = time_mono_ns();
    sd->sl = store_loop_attach(st, &loop, 0);
    if (sd->sl == NULL) {
        snprintf(err, errlen, "cannot attach to the store");
        goto out;
    }
    size_t n = workload_readings(w) * WORKLOAD_METRICS;
    for (int i = 0; i < SEED_PARALLEL; i++) {
        slot *s = &sd->slots[i];
        s->sd = sd;
        buf_init(&s->text, 0);
        s->obs = calloc(n ? n : 1, sizeof *s->obs);
        s->events = calloc((size_t)w->events + 1, sizeof *s->events);
        if (s->obs == NULL || s->events == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    for (int i = 0; i < SEED_PARALLEL; i++)
        start_object(&sd->slots[i]);
    uv_run(&loop, UV_RUN_DEFAULT);
    progress(sd, 1);
    store_loop_detach(sd->sl);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (sd->failed) {
        snprintf(err, errlen, "%s", sd->error);
        goto out;
    }
    log_line *l = log_begin(LOG_INFO, "seeded");
    log_int(l, "objectd.seed.objects", sd->done_objects);
    log_int(l, "objectd.seed.readings", sd->readings);
    log_int(l, "objectd.seed.events", sd->events);
    log_int(l, "event.duration", (int64_t)(time_mono_ns() - sd->started_ns));
    log_end(l);
    rc = 0;
out:
    if (sd) {
        for (int i = 0; i < SEED_PARALLEL; i++) {
            buf_free(&sd->slots[i].text);
            free(sd->slots[i].obs);
            free(sd->slots[i].events);
        }
        free(sd);
    }
    uv_loop_close(&loop);
    return rc;
}
