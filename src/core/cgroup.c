/* cgroup: reading cpu.stat of objectd's own cgroup (see cgroup.h). */
#include "cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"

int cgroup_parse_cpu_stat(const char *text, int v2, cgroup_cpu_stat *out) {
    int have_periods = 0;
    cgroup_cpu_stat st = {0, 0, 0};
    const char *line = text;
    while (line && *line) {
        char key[64];
        unsigned long long v;
        if (sscanf(line, "%63s %llu", key, &v) == 2) {
            if (strcmp(key, "nr_periods") == 0) {
                st.periods = v;
                have_periods = 1;
            } else if (strcmp(key, "nr_throttled") == 0) {
                st.throttled_periods = v;
            } else if (!v2 && strcmp(key, "throttled_time") == 0) {
                st.throttled_ns = v;
            } else if (v2 && strcmp(key, "throttled_usec") == 0) {
                st.throttled_ns = v * 1000;
            }
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    if (!have_periods)
        return -ENOENT;
    *out = st;
    return 0;
}

static int read_at(int v2, cgroup_cpu_stat *out) {
    char mount[512], path[1024], file[1600], text[1024];
    if (cpus_own_cgroup(v2, mount, sizeof mount, path, sizeof path) != 0)
        return -ENOENT;
    snprintf(file, sizeof file, "%s%s/cpu.stat", mount,
             strcmp(path, "/") == 0 ? "" : path);
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return -ENOENT;
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return cgroup_parse_cpu_stat(text, v2, out);
}

int cgroup_cpu_stat_read(cgroup_cpu_stat *out) {
    if (read_at(0, out) == 0)
        return 1;
    if (read_at(1, out) == 0)
        return 2;
    return -ENOENT;
}
