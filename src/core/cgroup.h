/* cgroup: CPU throttling counters of objectd's own cgroup - the CFS
 * bandwidth figures that show a quota biting (SPEC.md section 6).
 *
 * Found per controller through /proc/self/cgroup (cpus.c does the
 * discovery): v1's cpu controller cpu.stat (nr_periods, nr_throttled,
 * throttled_time in nanoseconds) first, then v2's cpu.stat (nr_periods,
 * nr_throttled, throttled_usec). A hybrid host has both, and its v2
 * cpu.stat lacks the throttling fields when the cpu controller lives in
 * v1 - so a file without nr_periods does not count. */
#ifndef OBJECTD_CGROUP_H
#define OBJECTD_CGROUP_H

#include <stdint.h>

typedef struct cgroup_cpu_stat {
    uint64_t periods;           /* CFS enforcement periods elapsed */
    uint64_t throttled_periods; /* periods in which the quota ran out */
    uint64_t throttled_ns;      /* time the group's threads were held back */
} cgroup_cpu_stat;

/* Parses the text of a cpu.stat file: v1 (|v2| 0, throttled_time in ns)
 * or v2 (throttled_usec). Returns 0, or -ENOENT when it carries no
 * nr_periods (no CFS bandwidth accounting there). */
int cgroup_parse_cpu_stat(const char *text, int v2, cgroup_cpu_stat *out);

/* Reads the counters of this process's cgroup. Returns 1 for v1, 2 for
 * v2, or -ENOENT when neither hierarchy has them. */
int cgroup_cpu_stat_read(cgroup_cpu_stat *out);

#endif
