/* merge: `loadgen --merge A.json B.json ...` - the results of runs made at
 * the same time from several machines (or processes), combined into one
 * summary: counts and traffic added, latency histograms merged bucket by
 * bucket (so the percentiles are those of all requests), per-client rows
 * pooled. */
#ifndef LOADGEN_MERGE_H
#define LOADGEN_MERGE_H

#include "options.h"

/* Prints the merged summary (and --json, --fail-if as a run would).
 * Returns the exit status: 0, 1 on unreadable input, 3 when a --fail-if
 * condition holds. */
int lg_merge_main(const lg_options *o);

#endif
