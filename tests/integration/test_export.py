"""The NDJSON export (GET /api/v1/objects/analysis) and the summary.

The export must stream with flow control: a client that stops reading for a
few seconds mid-stream must not make the server buffer the export, so the
server's memory stays bounded whatever the count. Checked with the cache off
and no compression (the worst case), on a seeded store of 150 standard-size
objects (about 17 MB of NDJSON).
"""

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ServerTestCase, run  # noqa: E402

OBJECTS = 150
CURL = harness.tool_path("curl")

_db = None


def seeded_db():
    """One seeded SQLite file for the whole module."""
    global _db
    if _db is None:
        d = tempfile.mkdtemp(prefix="objectd-export-")
        # Shared by every test of the module: removed when the run ends.
        atexit.register(shutil.rmtree, d, True)
        path = os.path.join(d, "seed.db")
        r = run([str(harness.require_binary()), "seed", "--db",
                 f"sqlite:{path}", "--objects", str(OBJECTS)], timeout=300)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.decode())
        _db = path
    return _db


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class TestExport(ServerTestCase):
    def serve(self, *extra):
        # Under ASan, freed memory sits in a quarantine (256 MB by default)
        # and would count as growth; keep it small so RSS means buffering.
        return self.start_server("--db", f"sqlite:{seeded_db()}", *extra,
                                 access_log="off",
                                 env={"ASAN_OPTIONS": "quarantine_size_mb=4"})

    def test_export_streams_every_analysis_in_order(self):
        srv = self.serve()
        r = run([CURL, "-sS", f"http://127.0.0.1:{srv.port}"
                 "/api/v1/objects/analysis"], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), OBJECTS)
        ids = [json.loads(x)["object"]["id"] for x in lines]
        self.assertEqual(ids, list(range(1, OBJECTS + 1)))
        # Each line is the same document GET /objects/{id}/analysis gives.
        one = run([CURL, "-sS", f"http://127.0.0.1:{srv.port}"
                   "/api/v1/objects/7/analysis"], timeout=30)
        self.assertEqual(one.stdout.decode().rstrip("\n"), lines[6])

    def test_export_h2_equals_h1_and_ids_filter(self):
        srv = self.serve()
        url = f"http://127.0.0.1:{srv.port}/api/v1/objects/analysis"
        h1 = run([CURL, "-sS", url + "?ids=3,999,1"], timeout=60)
        h2 = run([CURL, "-sS", "--http2-prior-knowledge",
                  url + "?ids=3,999,1"], timeout=60)
        self.assertEqual(h1.stdout, h2.stdout)
        lines = h1.stdout.decode().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertEqual(json.loads(lines[0])["object"]["id"], 3)
        self.assertEqual(json.loads(lines[1]),
                         {"id": 999, "error": "no such object"})
        self.assertEqual(json.loads(lines[2])["object"]["id"], 1)
        bad = run([CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                   url + "?ids=1,x"], timeout=20)
        self.assertEqual(bad.stdout, b"400")

    def test_slow_reader_memory_bounded(self):
        srv = self.serve("--analysis-cache", "off")
        before = rss_kib(srv.pid)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET /api/v1/objects/analysis HTTP/1.1\r\n"
                  b"Host: x\r\n\r\n")
        got = 0
        while got < 1_000_000:  # read a little, then stall
            got += len(s.recv(65536))
        peak = rss_kib(srv.pid)
        for _ in range(30):  # stalled for 3 s: the server must wait
            time.sleep(0.1)
            peak = max(peak, rss_kib(srv.pid))
        deadline = time.monotonic() + 120
        tail = b""
        while time.monotonic() < deadline:
            d = s.recv(1 << 20)
            if not d:
                break
            got += len(d)
            tail = (tail + d)[-16:]
            peak = max(peak, rss_kib(srv.pid))
            if tail.endswith(b"\r\n0\r\n\r\n"):
                break
        self.assertTrue(tail.endswith(b"\r\n0\r\n\r\n"), "stream not ended")
        self.assertGreater(got, OBJECTS * 100_000)
        growth_mib = (peak - before) / 1024
        self.assertLess(growth_mib, 64,
                        f"server memory grew {growth_mib:.1f} MiB")


class TestSummary(ServerTestCase):
    def test_summary_fields(self):
        srv = self.start_server("--db", f"sqlite:{seeded_db()}",
                                access_log="off")
        base = f"http://127.0.0.1:{srv.port}/api/v1/objects"
        r = run([CURL, "-sS", base + "/summary?ids=2,1,9999&fields="
                 "object.name,metrics.temperature.p99,events.count,no.such"],
                timeout=60)
        doc = json.loads(r.stdout)
        items = doc["items"]
        self.assertEqual([x["id"] for x in items], [2, 1, 9999])
        self.assertEqual(items[2], {"id": 9999, "error": "no such object"})
        full = json.loads(run([CURL, "-sS", base + "/2/analysis"],
                              timeout=30).stdout)
        f = items[0]["fields"]
        self.assertEqual(f["object.name"], full["object"]["name"])
        self.assertEqual(f["metrics.temperature.p99"],
                         full["metrics"]["temperature"]["p99"])
        self.assertEqual(f["events.count"], full["events"]["count"])
        self.assertIsNone(f["no.such"])
        for q in ("?fields=a", "?ids=1", "?ids=1,&fields=a",
                  "?ids=0&fields=a", "?ids=1&fields=a..b"):
            code = run([CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        base + "/summary" + q], timeout=20).stdout
            self.assertEqual(code, b"400", q)


if __name__ == "__main__":
    harness.main()
