/* workload: the standard workload of SPEC.md section 4, generated
 * deterministically - the same seed and end give the same objects,
 * revisions, readings and events, byte for byte, on any machine.
 *
 * Pure: no I/O. `objectd seed` (seed.c) feeds what this generates into the
 * store. */
#ifndef OBJECTD_WORKLOAD_H
#define OBJECTD_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

typedef struct workload {
    uint64_t seed;
    int64_t end;      /* microseconds; the workload's "now" */
    int objects;      /* ids 1..objects */
    int days;         /* of readings, ending at |end| */
    int64_t interval; /* microseconds between readings */
    int revisions;    /* per object, over the 90 days before |end| */
    int events;       /* per object, over the reading days */
} workload;

enum { WORKLOAD_METRICS = 6, WORKLOAD_TYPES = 5 };

/* The defaults of the standard workload: 500 objects, 30 days, 30 min,
 * 20 revisions, 200 events, seed 1, end 2026-01-01T00:00:00Z. */
void workload_defaults(workload *w);

/* Readings per metric per object. */
size_t workload_readings(const workload *w);

/* Revision |rev| (1-based) of object |id|: |out| gets type, name,
 * attributes (canonical JSON in |text|, which must stay alive while |out|
 * is used), author and time (out->at). */
void workload_revision(const workload *w, int64_t id, int rev, store_write *out,
                       buf *text);

/* Every reading of object |id| (WORKLOAD_METRICS x workload_readings),
 * into |out|, which needs room for all of them. Metric name pointers are
 * static strings. */
void workload_observations(const workload *w, int64_t id,
                           store_observation *out);

/* Every event of object |id| (w->events), ascending by time; the strings
 * live in |text|, which is reset first and must stay alive. */
void workload_events(const workload *w, int64_t id, store_event *out,
                     buf *text);

#endif
