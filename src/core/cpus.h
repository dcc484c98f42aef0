/* cpus: how many CPUs this process may really use.
 *
 * Not the host's core count: the smaller of the affinity mask and the cgroup
 * CPU quota (rounded up), where the quota is the tightest one on the path
 * from objectd's own cgroup to the root. Both cgroup versions are read:
 * v2's cpu.max and v1's cpu.cfs_quota_us/cpu.cfs_period_us, each found
 * through /proc/self/cgroup (a hybrid host has both). */
#ifndef OBJECTD_CPUS_H
#define OBJECTD_CPUS_H

#include <stddef.h>
#include <stdint.h>

/* The CPUs available to this process, at least 1. If |why| is not NULL it
 * gets a short explanation ("affinity 2, cgroup v1 quota 1.50"). */
int cpus_available(char *why, size_t whylen);

/* The cgroup path of |controller| ("cpu") in the text of /proc/self/cgroup;
 * an empty |controller| asks for the v2 unified path ("0::/path").
 * Returns 0 and copies the path, or -ENOENT. */
int cpus_cgroup_path(const char *proc_self_cgroup, const char *controller,
                     char *out, size_t outlen);

/* The mount point of the cgroup hierarchy carrying |controller| ("cpu")
 * in the text of /proc/mounts; an empty |controller| asks for the cgroup2
 * mount. Returns 0 and copies it, or -ENOENT. */
int cpus_cgroup_mount(const char *proc_mounts, const char *controller,
                      char *out, size_t outlen);

/* This process's own cgroup for the cpu controller: v1 (|v2| 0) or the v2
 * unified hierarchy, as the mount point and the path below it (from
 * /proc/self/cgroup and /proc/mounts). Returns 0, or -ENOENT when that
 * hierarchy is not there. */
int cpus_own_cgroup(int v2, char *mount, size_t mountlen, char *path,
                    size_t pathlen);

/* Parses v2 cpu.max ("max 100000" or "150000 100000"). Returns 0 with the
 * quota in CPUs (0 when unlimited), or -EINVAL. */
int cpus_parse_cpu_max(const char *text, double *cpus);

/* v1: quota and period in microseconds; quota -1 means unlimited. Returns
 * the quota in CPUs, 0 when unlimited. */
double cpus_from_cfs(int64_t quota_us, int64_t period_us);

/* Rounds a quota in CPUs to a thread count: ceil, at least 1; 0 = no limit
 * returns |fallback|. */
int cpus_quota_threads(double cpus, int fallback);

#endif
