/* threshold: --fail-if conditions for CI, such as "p99>300ms" or
 * "failed>0", checked against the final figures. */
#ifndef LOADGEN_THRESHOLD_H
#define LOADGEN_THRESHOLD_H

#include <stddef.h>

typedef enum lg_metric {
    LG_M_P50,
    LG_M_P75,
    LG_M_P90,
    LG_M_P99,
    LG_M_P999,
    LG_M_MAX,
    LG_M_MEAN, /* time for request, seconds */
    LG_M_FAILED,
    LG_M_ERRORED,
    LG_M_TIMEOUT, /* counts, or percent of total with a '%' value */
    LG_M_RPS,     /* req/s of the "finished in" line */
} lg_metric;

typedef struct lg_threshold {
    char text[64]; /* as given, for the report */
    lg_metric metric;
    int op;       /* '<', '>', 'l' (<=), 'g' (>=) */
    double value; /* seconds for times */
    int percent;  /* the value was N% of total */
} lg_threshold;

/* Parses "METRIC OP VALUE" (spaces allowed). 0, or -1 with a message in
 * |err|. */
int lg_threshold_parse(lg_threshold *t, const char *s, char *err,
                       size_t errlen);

/* 1 when the condition holds (the run fails), else 0. */
int lg_threshold_holds(const lg_threshold *t, double actual);

const char *lg_metric_name(lg_metric m);

#endif
