/* Unit tests: CPU counting from cgroup v1 and v2 samples. */
#include <errno.h>

#include "cpus.h"
#include "test.h"

static const char hybrid[] = "12:cpuset:/\n"
                             "4:cpu,cpuacct:/kubepods/pod1/c1\n"
                             "3:memory:/kubepods/pod1/c1\n"
                             "0::/system.slice/objectd.service\n";
static const char v2only[] = "0::/user.slice/session-1.scope\n";

static void test_cgroup_path(void) {
    char p[256];
    CHECK_EQ_INT(cpus_cgroup_path(hybrid, "cpu", p, sizeof p), 0);
    CHECK_EQ_STR(p, "/kubepods/pod1/c1");
    CHECK_EQ_INT(cpus_cgroup_path(hybrid, "cpuacct", p, sizeof p), 0);
    CHECK_EQ_STR(p, "/kubepods/pod1/c1");
    CHECK_EQ_INT(cpus_cgroup_path(hybrid, "", p, sizeof p), 0);
    CHECK_EQ_STR(p, "/system.slice/objectd.service");
    CHECK_EQ_INT(cpus_cgroup_path(v2only, "cpu", p, sizeof p), -ENOENT);
    CHECK_EQ_INT(cpus_cgroup_path(v2only, "", p, sizeof p), 0);
    CHECK_EQ_STR(p, "/user.slice/session-1.scope");
    CHECK_EQ_INT(cpus_cgroup_path("garbage", "cpu", p, sizeof p), -ENOENT);
    CHECK_EQ_INT(cpus_cgroup_path("", "", p, sizeof p), -ENOENT);
}

static void test_quota(void) {
    double q;
    CHECK_EQ_INT(cpus_parse_cpu_max("max 100000\n", &q), 0);
    CHECK(q == 0);
    CHECK_EQ_INT(cpus_parse_cpu_max("150000 100000\n", &q), 0);
    CHECK(q == 1.5);
    CHECK_EQ_INT(cpus_parse_cpu_max("junk", &q), -EINVAL);
    CHECK_EQ_INT(cpus_parse_cpu_max("100 0", &q), -EINVAL);
    CHECK(cpus_from_cfs(-1, 100000) == 0);
    CHECK(cpus_from_cfs(50000, 100000) == 0.5);
    CHECK_EQ_INT(cpus_quota_threads(0.5, 8), 1);
    CHECK_EQ_INT(cpus_quota_threads(1.5, 8), 2);
    CHECK_EQ_INT(cpus_quota_threads(2.0, 8), 2);
    CHECK_EQ_INT(cpus_quota_threads(0, 8), 8);
}

static void test_available(void) {
    char why[128];
    int n = cpus_available(why, sizeof why);
    CHECK(n >= 1);
    CHECK(why[0] != '\0');
}

int main(void) {
    TEST_RUN(test_cgroup_path);
    TEST_RUN(test_quota);
    TEST_RUN(test_available);
    return TEST_END();
}
