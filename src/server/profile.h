/* profile: an on-demand sampling CPU profile of the whole process, as
 * folded stacks ("root;caller;leaf count" lines, flame-graph ready).
 *
 * Nothing runs until someone asks: GET /debug/pprof/profile?seconds=N
 * (admin listener) allocates a sample ring, installs a SIGPROF handler and
 * arms ITIMER_PROF (every 10 ms of CPU time the process uses, delivered to
 * the thread that was running); after N seconds the timer is disarmed, the
 * handler replaced by SIG_IGN, the samples symbolized (our own ELF symbol
 * table, static functions included, then dladdr for shared libraries) and
 * the ring freed. The handler only calls backtrace(3) into preallocated
 * memory (warmed up beforehand so that it never loads libgcc there). One
 * profile at a time. */
#ifndef OBJECTD_PROFILE_H
#define OBJECTD_PROFILE_H

#include "buf.h"

enum { PROFILE_MAX_SECONDS = 60 };

/* Starts sampling. Returns 0, -EBUSY when a profile is running, or
 * -ENOMEM / -errno. */
int profile_start(void);

/* Stops sampling and appends the folded stacks to |out| (one line per
 * distinct stack, most frequent first). Returns the number of samples. */
long profile_stop(buf *out);

#endif
