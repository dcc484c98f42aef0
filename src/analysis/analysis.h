/* analysis: the analysis of one object over a time window, as JSON.
 *
 * A pure computation: rows in, JSON text out. No I/O, no globals, no
 * locks; safe to call from any thread. The caller fetches the rows (the
 * store) and decides the window; docs/analysis.md describes the output
 * field by field.
 *
 * All times are microseconds since the Unix epoch, UTC. All strings are
 * NUL-terminated UTF-8 (invalid bytes are written as U+FFFD). The inputs
 * are only read, and need to live only until analysis_write returns. */
#ifndef OBJECTD_ANALYSIS_H
#define OBJECTD_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* One reading of a metric. */
typedef struct an_obs {
    int64_t ts;
    double value; /* finite */
} an_obs;

/* The readings of one metric: sorted by |ts| ascending, no two with the
 * same |ts|. Readings outside the window are ignored. */
typedef struct an_series {
    const char *metric;
    const an_obs *obs;
    size_t n;
} an_series;

/* An event. |data| is JSON text, or NULL for none. */
typedef struct an_event {
    int64_t ts;
    const char *kind;
    const char *severity;
    const char *message;
    const char *data;
} an_event;

/* One revision of the object. |attributes| is a JSON object as canonical
 * text (compact, keys sorted, as the store keeps it), or NULL for {}. */
typedef struct an_revision {
    int64_t revision;
    int64_t updated_at;
    const char *author;
    const char *attributes;
    int deleted; /* a tombstone */
} an_revision;

/* The object's latest revision. |attributes| as in an_revision. */
typedef struct an_object {
    int64_t id;
    int64_t revision;
    const char *type;
    const char *name;
    const char *attributes;
    int64_t updated_at;
    const char *updated_by;
} an_object;

typedef struct an_input {
    an_object object;
    /* Every revision of the object, ascending by revision: "changed" is
     * worked out against the one before, and revisions outside the window
     * still appear among the 20 most recent. */
    const an_revision *revisions;
    size_t nrevisions;
    /* One series per metric, in any order; metric names unique. */
    const an_series *series;
    size_t nseries;
    /* Sorted by |ts| ascending. Events outside the window are ignored. */
    const an_event *events;
    size_t nevents;
    /* The window, both ends included: from <= to, both within the years
     * 0000-9999 (RFC 3339's range). */
    int64_t from, to;
} an_input;

/* Appends the analysis of |in| to |out| as one JSON object: compact (no
 * whitespace) or, with |pretty|, indented by two spaces, one member per
 * line. No newline follows the closing brace.
 *
 * Returns 0, or -EINVAL if the input breaks a rule above (unsorted or
 * duplicate timestamps, a non-finite value, a NULL string where one is
 * required, invalid JSON text in attributes or data, a duplicate metric
 * name, a time outside the years 0000-9999), -ENOMEM if scratch memory
 * could not be allocated, or an error from buf (-ENOMEM, -ENOBUFS past
 * |out|'s maximum). On error |out| is left as it was (its length; the bytes
 * beyond it may have changed). One scratch allocation per call, freed
 * before returning. */
int analysis_write(const an_input *in, int pretty, buf *out);

/* The default window's start for an object whose newest observation is at
 * |newest_ts|: the 30 days ending there, newest_ts - 30 days (so the
 * default window is [analysis_default_from(newest), newest]). Saturates
 * at INT64_MIN. */
int64_t analysis_default_from(int64_t newest_ts);

#endif
