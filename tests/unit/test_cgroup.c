/* Unit tests: cgroup cpu.stat parsing (v1, v2, hybrid) and finding the
 * hierarchy that carries the cpu controller in /proc/mounts. */
#include <errno.h>

#include "cgroup.h"
#include "cpus.h"
#include "test.h"

/* v1 cpu controller: throttled_time in nanoseconds. */
static const char v1_stat[] = "nr_periods 1200\n"
                              "nr_throttled 37\n"
                              "throttled_time 2500000000\n"
                              "nr_bursts 0\n"
                              "burst_time 0\n";
/* v2 with the cpu controller enabled: throttled_usec. */
static const char v2_stat[] = "usage_usec 9873448\n"
                              "user_usec 6154376\n"
                              "system_usec 3719072\n"
                              "nr_periods 50\n"
                              "nr_throttled 4\n"
                              "throttled_usec 125000\n";
/* v2 on a hybrid host, where cpu lives in v1: no CFS fields at all. */
static const char hybrid_v2_stat[] = "usage_usec 9873448000\n"
                                     "user_usec 6154376000\n"
                                     "system_usec 3719072000\n";

static void test_parse(void) {
    cgroup_cpu_stat st;
    CHECK_EQ_INT(cgroup_parse_cpu_stat(v1_stat, 0, &st), 0);
    CHECK(st.periods == 1200);
    CHECK(st.throttled_periods == 37);
    CHECK(st.throttled_ns == 2500000000ull);

    CHECK_EQ_INT(cgroup_parse_cpu_stat(v2_stat, 1, &st), 0);
    CHECK(st.periods == 50);
    CHECK(st.throttled_periods == 4);
    CHECK(st.throttled_ns == 125000000ull);

    /* A v1 file read as v1 ignores throttled_usec, and vice versa. */
    CHECK_EQ_INT(cgroup_parse_cpu_stat(v2_stat, 0, &st), 0);
    CHECK(st.throttled_ns == 0);

    CHECK_EQ_INT(cgroup_parse_cpu_stat(hybrid_v2_stat, 1, &st), -ENOENT);
    CHECK_EQ_INT(cgroup_parse_cpu_stat("", 0, &st), -ENOENT);
    CHECK_EQ_INT(cgroup_parse_cpu_stat("garbage\n\n", 1, &st), -ENOENT);
}

static const char hybrid_mounts[] =
    "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
    "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
    "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"
    "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev 0 0\n";
static const char v2_mounts[] =
    "proc /proc proc rw 0 0\n"
    "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,nsdelegate 0 0\n";

static void test_mounts(void) {
    char m[256];
    CHECK_EQ_INT(cpus_cgroup_mount(hybrid_mounts, "cpu", m, sizeof m), 0);
    CHECK_EQ_STR(m, "/sys/fs/cgroup/cpu,cpuacct");
    CHECK_EQ_INT(cpus_cgroup_mount(hybrid_mounts, "", m, sizeof m), 0);
    CHECK_EQ_STR(m, "/sys/fs/cgroup/unified");
    /* "cpuset" is not "cpu". */
    CHECK_EQ_INT(cpus_cgroup_mount("cgroup /c cgroup rw,cpuset 0 0\n", "cpu", m,
                                   sizeof m),
                 -ENOENT);
    CHECK_EQ_INT(cpus_cgroup_mount(v2_mounts, "cpu", m, sizeof m), -ENOENT);
    CHECK_EQ_INT(cpus_cgroup_mount(v2_mounts, "", m, sizeof m), 0);
    CHECK_EQ_STR(m, "/sys/fs/cgroup");
}

static void test_read_live(void) {
    /* Whatever this machine has, reading must not fail strangely. */
    cgroup_cpu_stat st;
    int rc = cgroup_cpu_stat_read(&st);
    CHECK(rc == 1 || rc == 2 || rc == -ENOENT);
    if (rc > 0)
        CHECK(st.throttled_periods <= st.periods);
}

int main(void) {
    TEST_RUN(test_parse);
    TEST_RUN(test_mounts);
    TEST_RUN(test_read_live);
    return TEST_END();
}
