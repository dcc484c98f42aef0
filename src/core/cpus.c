/* cpus: affinity mask and cgroup CPU quota. */
#include "cpus.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cpus_cgroup_path(const char *text, const char *controller, char *out,
                     size_t outlen) {
    size_t clen = strlen(controller);
    const char *line = text;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        /* hierarchy-ID:controller-list:path */
        const char *c1 = memchr(line, ':', len);
        const char *c2 =
            c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c2) {
            const char *list = c1 + 1;
            size_t list_len = (size_t)(c2 - list);
            int match = 0;
            if (clen == 0) {
                match = list_len == 0 && c1 - line == 1 && line[0] == '0';
            } else {
                const char *p = list;
                while (p < c2) {
                    const char *comma = memchr(p, ',', (size_t)(c2 - p));
                    const char *e = comma ? comma : c2;
                    if ((size_t)(e - p) == clen &&
                        memcmp(p, controller, clen) == 0)
                        match = 1;
                    p = e + 1;
                }
            }
            size_t plen = len - (size_t)(c2 + 1 - line);
            if (match && plen < outlen) {
                memcpy(out, c2 + 1, plen);
                out[plen] = '\0';
                return 0;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

int cpus_parse_cpu_max(const char *text, double *cpus) {
    char quota[32];
    long long period;
    if (sscanf(text, "%31s %lld", quota, &period) != 2 || period <= 0)
        return -EINVAL;
    if (strcmp(quota, "max") == 0) {
        *cpus = 0;
        return 0;
    }
    char *end;
    long long q = strtoll(quota, &end, 10);
    if (*end != '\0' || q <= 0)
        return -EINVAL;
    *cpus = (double)q / (double)period;
    return 0;
}

double cpus_from_cfs(int64_t quota_us, int64_t period_us) {
    if (quota_us <= 0 || period_us <= 0)
        return 0;
    return (double)quota_us / (double)period_us;
}

int cpus_quota_threads(double cpus, int fallback) {
    if (cpus <= 0)
        return fallback;
    int n = (int)ceil(cpus - 1e-9);
    return n < 1 ? 1 : n;
}

static int read_small(const char *path, char *out, size_t outlen) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    size_t n = fread(out, 1, outlen - 1, f);
    out[n] = '\0';
    fclose(f);
    return 0;
}

static int64_t read_int(const char *path) {
    char text[64];
    if (read_small(path, text, sizeof text) != 0)
        return -2;
    return strtoll(text, NULL, 10);
}

/* The quota set on one cgroup directory, in CPUs; 0 when none. */
static double quota_at(const char *mount, const char *dir, int v2) {
    char file[1200];
    double q = 0;
    if (v2) {
        char text[128];
        snprintf(file, sizeof file, "%s%s/cpu.max", mount, dir);
        if (read_small(file, text, sizeof text) == 0)
            cpus_parse_cpu_max(text, &q);
        return q;
    }
    snprintf(file, sizeof file, "%s%s/cpu.cfs_quota_us", mount, dir);
    int64_t quota = read_int(file);
    snprintf(file, sizeof file, "%s%s/cpu.cfs_period_us", mount, dir);
    return cpus_from_cfs(quota, read_int(file));
}

/* The tightest quota from |path| up to the root of a hierarchy mounted at
 * |mount|: a parent's limit binds its children too. */
static double tightest(const char *mount, const char *path, int v2) {
    char dir[1024];
    double best = 0;
    snprintf(dir, sizeof dir, "%s", path);
    size_t n = strlen(dir);
    while (n > 0 && dir[n - 1] == '/')
        dir[--n] = '\0';
    for (;;) {
        double q = quota_at(mount, dir, v2);
        if (q > 0 && (best == 0 || q < best))
            best = q;
        char *slash = strrchr(dir, '/');
        if (dir[0] == '\0' || slash == NULL)
            break;
        *slash = '\0';
    }
    return best;
}

int cpus_cgroup_mount(const char *text, const char *controller, char *out,
                      size_t outlen) {
    size_t clen = strlen(controller);
    const char *line = text;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        /* device mountpoint fstype options dump pass */
        char dev[64], mnt[512], fstype[32], opts[512];
        char copy[1200];
        if (len < sizeof copy) {
            memcpy(copy, line, len);
            copy[len] = '\0';
            if (sscanf(copy, "%63s %511s %31s %511s", dev, mnt, fstype, opts) ==
                4) {
                int match = 0;
                if (clen == 0) {
                    match = strcmp(fstype, "cgroup2") == 0;
                } else if (strcmp(fstype, "cgroup") == 0) {
                    for (char *tok = strtok(opts, ","); tok && !match;
                         tok = strtok(NULL, ","))
                        match = strcmp(tok, controller) == 0;
                }
                if (match && strlen(mnt) < outlen) {
                    strcpy(out, mnt);
                    return 0;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

int cpus_own_cgroup(int v2, char *mount, size_t mountlen, char *path,
                    size_t pathlen) {
    char text[4096], mounts[32768];
    if (read_small("/proc/self/cgroup", text, sizeof text) != 0 ||
        read_small("/proc/mounts", mounts, sizeof mounts) != 0)
        return -ENOENT;
    const char *controller = v2 ? "" : "cpu";
    if (cpus_cgroup_path(text, controller, path, pathlen) != 0 ||
        cpus_cgroup_mount(mounts, controller, mount, mountlen) != 0)
        return -ENOENT;
    return 0;
}

int cpus_available(char *why, size_t whylen) {
    int affinity = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        affinity = CPU_COUNT(&set);
    if (affinity <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        affinity = n > 0 ? (int)n : 1;
    }

    char mount[512], path[1024];
    double quota = 0;
    const char *kind = "";
    if (cpus_own_cgroup(0, mount, sizeof mount, path, sizeof path) == 0) {
        quota = tightest(mount, path, 0);
        if (quota > 0)
            kind = "v1";
    }
    if (quota == 0 &&
        cpus_own_cgroup(1, mount, sizeof mount, path, sizeof path) == 0) {
        quota = tightest(mount, path, 1);
        if (quota > 0)
            kind = "v2";
    }
    int n = cpus_quota_threads(quota, affinity);
    if (n > affinity)
        n = affinity;
    if (why) {
        if (quota > 0)
            snprintf(why, whylen, "affinity %d, cgroup %s quota %.2f", affinity,
                     kind, quota);
        else
            snprintf(why, whylen, "affinity %d, no cgroup quota", affinity);
    }
    return n;
}
