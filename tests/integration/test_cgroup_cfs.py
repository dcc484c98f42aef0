"""The CFS lesson, live (issue 7): objectd in a CPU-limited cgroup.

The test creates a cgroup with a CPU quota of half a CPU - v1's cpu
controller (cpu.cfs_quota_us / cpu.cfs_period_us) where this host mounts
it, else v2's cpu.max - starts objectd inside it with the default
--threads, loads it with h2load (bounded), and checks that:

  * the default --threads follows the quota: 1 loop (the "starting" log
    line says why, and /metrics says objectd_worker_threads 1);
  * objectd_cgroup_cpu_throttled_periods_total and
    objectd_cgroup_cpu_throttled_seconds_total rise under load, and
    objectd_cgroup_cpu_periods_total with them;
  * the figures are those of the cgroup's own cpu.stat.

The cgroup is removed afterwards, whatever happens. Needs root and a
cgroup hierarchy with the cpu controller; otherwise the test is skipped
and says which was missing.

Run: python3 tests/integration/test_cgroup_cfs.py [-q]
The last line printed is "N passed, N failed".
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ServerTestCase, admin_get  # noqa: E402
from api_client import ApiClient  # noqa: E402
from test_observability import parse_exposition, value  # noqa: E402

H2LOAD = harness.tool_path("h2load")
PERIOD_US = 100000
QUOTA_US = 50000  # half a CPU


def cgroup_mounts():
    """(v1 cpu mount or None, v2 mount or None) from /proc/mounts."""
    v1 = v2 = None
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype, opts = line.split()[:4]
            if fstype == "cgroup" and "cpu" in opts.split(","):
                v1 = v1 or mnt
            elif fstype == "cgroup2":
                v2 = v2 or mnt
    return v1, v2


def make_cgroup():
    """Creates a CPU-limited cgroup. Returns (directory, version, procs
    file), or raises SkipTest with the reason."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("not root: cannot create a cgroup")
    v1, v2 = cgroup_mounts()
    name = f"objectd-cfs-test-{os.getpid()}"
    errors = []
    if v1:
        d = os.path.join(v1, name)
        try:
            os.mkdir(d)
            with open(os.path.join(d, "cpu.cfs_period_us"), "w") as f:
                f.write(str(PERIOD_US))
            with open(os.path.join(d, "cpu.cfs_quota_us"), "w") as f:
                f.write(str(QUOTA_US))
            return d, 1, os.path.join(d, "cgroup.procs")
        except OSError as e:
            errors.append(f"v1 at {v1}: {e}")
            try:
                os.rmdir(d)
            except OSError:
                pass
    if v2:
        d = os.path.join(v2, name)
        try:
            ctrl = open(os.path.join(v2, "cgroup.controllers")).read().split()
            if "cpu" not in ctrl:
                raise OSError("the cpu controller is not available in v2")
            with open(os.path.join(v2, "cgroup.subtree_control"), "w") as f:
                f.write("+cpu")
            os.mkdir(d)
            with open(os.path.join(d, "cpu.max"), "w") as f:
                f.write(f"{QUOTA_US} {PERIOD_US}")
            return d, 2, os.path.join(d, "cgroup.procs")
        except OSError as e:
            errors.append(f"v2 at {v2}: {e}")
            try:
                os.rmdir(d)
            except OSError:
                pass
    raise unittest.SkipTest("cannot create a CPU-limited cgroup: " +
                            ("; ".join(errors) or "no cpu controller mounted"))


def remove_cgroup(d, deadline_s=10):
    """rmdir once the processes in it are gone (bounded)."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= end:
                raise
            time.sleep(0.1)


def read_cpu_stat(d):
    out = {}
    with open(os.path.join(d, "cpu.stat")) as f:
        for line in f:
            k, v = line.split()
            out[k] = int(v)
    return out


@unittest.skipUnless(H2LOAD, "h2load is not installed")
class TestCfsThrottling(ServerTestCase):
    def test_throttled_counters_rise_and_threads_follow_quota(self):
        cg, version, procs = make_cgroup()
        self.addCleanup(remove_cgroup, cg)
        tmp = tempfile.mkdtemp(prefix="objectd-cfs-")
        self.addCleanup(shutil.rmtree, tmp, True)

        # The default --threads (no flag): objectd joins the cgroup before
        # it starts, through a shell that writes its own pid and execs.
        srv = harness.Server(["--db", "sqlite:" + os.path.join(tmp, "c.db"),
                              "--access-log", "off"], threads=None,
                             access_log=None)
        srv.argv = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"',
                    procs] + srv.argv
        self.addCleanup(self._cleanup_server, srv)
        srv.start()
        with open(procs) as f:
            self.assertIn(str(srv.pid), f.read().split())

        starting = [r for r in srv.log_records()
                    if r.get("message") == "starting"][0]
        self.assertEqual(harness.field(starting, "objectd.threads"), 1,
                         starting)
        self.assertIn(f"cgroup v{version} quota 0.50",
                      harness.field(starting, "objectd.cpus"))
        if "UV_THREADPOOL_SIZE" not in os.environ:  # the pool's minimum
            self.assertEqual(harness.field(starting, "objectd.pool_threads"),
                             2, starting)

        before, _ = parse_exposition(admin_get(srv, "/metrics").body.decode())
        self.assertEqual(value(before, "objectd_worker_threads"), 1)
        for n in ("objectd_cgroup_cpu_periods_total",
                  "objectd_cgroup_cpu_throttled_periods_total",
                  "objectd_cgroup_cpu_throttled_seconds_total"):
            self.assertIsNotNone(value(before, n), n)

        c = ApiClient(srv.port)
        self.addCleanup(c.close)
        st, _, obj = c.request("POST", "/objects",
                               {"type": "cfs", "name": "x", "attributes": {}})
        self.assertEqual(st, 201)
        # Bounded: 3 seconds, a few connections, many streams each - more
        # than half a CPU of work.
        r = harness.run([H2LOAD, "-D", "3", "-c", "4", "-m", "16",
                         f"http://127.0.0.1:{srv.port}/api/v1/objects/"
                         f"{obj['id']}"], timeout=30)
        out = r.stdout.decode()
        summary = harness.parse_h2load(out)
        self.assertIsNotNone(summary, out)
        self.assertGreater(summary["succeeded"], 100, out)

        after, _ = parse_exposition(admin_get(srv, "/metrics").body.decode())
        d_periods = (value(after, "objectd_cgroup_cpu_periods_total") -
                     value(before, "objectd_cgroup_cpu_periods_total"))
        d_thr = (value(after, "objectd_cgroup_cpu_throttled_periods_total") -
                 value(before, "objectd_cgroup_cpu_throttled_periods_total"))
        d_sec = (value(after, "objectd_cgroup_cpu_throttled_seconds_total") -
                 value(before, "objectd_cgroup_cpu_throttled_seconds_total"))
        print(f"\n    cgroup v{version}, quota 0.5 CPU, {summary['succeeded']} "
              f"requests: periods +{d_periods:.0f}, throttled periods "
              f"+{d_thr:.0f}, throttled {d_sec:.2f} s", file=sys.stderr)
        # 3 s of 100 ms periods, most of them throttled.
        self.assertGreaterEqual(d_periods, 10)
        self.assertGreaterEqual(d_thr, 5)
        self.assertLessEqual(d_thr, d_periods)
        self.assertGreater(d_sec, 0.1)
        # And they are the cgroup's own figures.
        stat = read_cpu_stat(cg)
        self.assertGreaterEqual(stat["nr_throttled"],
                                value(after,
                                      "objectd_cgroup_cpu_throttled_periods_total"))
        srv.stop()


if __name__ == "__main__":
    harness.main()
