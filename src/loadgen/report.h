/* report: the summary - h2load 1.52's layout line for line, then what
 * h2load does not say (percentiles, GOAWAYs, re-sends, errors) - and the
 * same figures as JSON (schema in docs/loadgen.md). */
#ifndef LOADGEN_REPORT_H
#define LOADGEN_REPORT_H

#include <stdio.h>

#include "options.h"
#include "stats.h"

typedef struct lg_result {
    const lg_options *o;
    lg_stats stats;    /* merged over the workers */
    double elapsed_s;  /* "finished in": start to end */
    double measured_s; /* the measured phase (req/s divides by it) */
    lg_sd_stat connect_us, ttfb_us; /* per client (first connection) */
    lg_sd_stat client_rps;          /* per client */
    char **merged_from;             /* --merge: the files, else NULL */
    size_t nmerged;
    const char *app_proto; /* "" if no connection was made */
} lg_result;

void lg_report_print(const lg_result *r, FILE *f);

/* Prints one line per --fail-if condition and returns how many hold (the
 * run fails if any does). */
int lg_report_thresholds(const lg_result *r, FILE *f);

/* Writes the JSON document to |path| ("-" for stdout). 0 or -errno. */
int lg_report_json(const lg_result *r, const char *path);

/* h2load's formats: "97us", "3.84ms", "2.00s" for a duration in
 * microseconds; "137.76KB"-style sizes (without the B). */
void lg_format_duration_us(double us, char *out, size_t len);
void lg_format_size(double n, char *out, size_t len);

#endif
