"""Observability: the admin listener, /metrics (promtool, a real
Prometheus), access-log fields, OTLP traces, /debug/queries and the CPU
profiler (Python 3 stdlib only; issue 7, SPEC.md section 6).

Classes:
  * TestAdminListener      what is served where; --admin-listen off;
  * TestMetricsSQLite      traffic touching every metric family, then
                           `promtool check metrics` finds nothing, and the
                           counters agree with the traffic sent;
  * TestMetricsPostgreSQL  the same on PostgreSQL (OBJECTD_TEST_PG_URI);
  * TestPrometheus         a real Prometheus scrapes the admin listener and
                           its query API returns our request counter;
  * TestTraces             a small OTLP/HTTP receiver: the sent trace id,
                           one child span per database query, sampling;
  * TestDebugQueries       the "top SQL" view, sorted by total time;
  * TestProfile            folded stacks with objectd frames under load.

Run: python3 tests/integration/test_observability.py [-q] [Class.test]
The last line printed is "N passed, N failed".
"""

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ServerTestCase, admin_get, run  # noqa: E402
from api_client import ApiClient  # noqa: E402

PG_URI = os.environ.get("OBJECTD_TEST_PG_URI") or None
PROMTOOL = harness.tool_path("promtool")
PROMETHEUS = harness.tool_path("prometheus")
CURL = harness.tool_path("curl")
H2LOAD = harness.tool_path("h2load")

# The names SPEC.md section 6 fixes (loadgen reads them).
FIXED_FAMILIES = [
    "objectd_http_requests_total",
    "objectd_http_request_duration_seconds",
    "objectd_http_requests_in_flight",
    "objectd_http_connections",
    "objectd_http2_goaway_sent_total",
    "objectd_db_queries_total",
    "objectd_db_query_duration_seconds",
    "objectd_db_pool_connections",
    "objectd_db_pool_wait_seconds",
    "objectd_analysis_cache_requests_total",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "objectd_build_info",
]
CGROUP_FAMILIES = [
    "objectd_cgroup_cpu_periods_total",
    "objectd_cgroup_cpu_throttled_periods_total",
    "objectd_cgroup_cpu_throttled_seconds_total",
]

SAMPLE_RE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|\+Inf|NaN)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """{(name, frozenset(labels.items())): value} and the TYPE lines."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"not an exposition line: {line!r}")
        labels = dict(LABEL_RE.findall(m.group(3) or ""))
        samples[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def cgroup_cpu_stat_present():
    """Whether this process's cgroup has CFS counters (then objectd's, a
    child started here, has them too)."""
    try:
        cg = open("/proc/self/cgroup").read()
        mounts = open("/proc/mounts").read()
    except OSError:
        return False
    for line in cg.splitlines():
        hid, ctrls, path = line.split(":", 2)
        v2 = hid == "0" and ctrls == ""
        if not v2 and "cpu" not in ctrls.split(","):
            continue
        for m in mounts.splitlines():
            f = m.split()
            if len(f) < 4:
                continue
            if (v2 and f[2] == "cgroup2") or (
                    not v2 and f[2] == "cgroup" and "cpu" in f[3].split(",")):
                p = f[1] + ("" if path == "/" else path) + "/cpu.stat"
                try:
                    if "nr_periods" in open(p).read():
                        return True
                except OSError:
                    pass
    return False


class ObsTestCase(ServerTestCase):
    def scrape(self, srv):
        r = admin_get(srv, "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"),
                         "text/plain; version=0.0.4; charset=utf-8")
        return r.body.decode()


# --------------------------------------------------------------------------


class TestAdminListener(ObsTestCase):
    def test_split(self):
        d = tempfile.mkdtemp(prefix="objectd-obs-")
        self.addCleanup(shutil.rmtree, d, True)
        srv = self.start_server("--db", "sqlite:" + os.path.join(d, "a.db"))
        self.assertIsNotNone(srv.admin_port)
        self.assertNotEqual(srv.admin_port, srv.port)
        for path in ("/metrics", "/debug/queries",
                     "/debug/pprof/profile?seconds=1"):
            r = harness.request(srv.port, "GET", path)
            self.assertEqual(r.status, 404, f"public {path}: {r}")
        for path in ("/healthz", "/readyz"):
            self.assertEqual(harness.request(srv.port, "GET", path).status,
                             200)
            self.assertEqual(admin_get(srv, path).status, 200)
        # The API is not on the admin listener.
        self.assertEqual(admin_get(srv, "/api/v1/objects").status, 404)
        self.assertIn("objectd_build_info", self.scrape(srv))
        # The log says where the admin listener is.
        recs = [r for r in srv.log_records()
                if r.get("message") == "admin listening"]
        self.assertEqual(len(recs), 1)

    def test_pool_threads(self):
        # With SQLite the pool follows the CPUs (at least 2), unless
        # UV_THREADPOOL_SIZE says otherwise; the pool gauge counts it.
        ncpu = len(os.sched_getaffinity(0))
        cases = [({"UV_THREADPOOL_SIZE": "3"}, 3)]
        if "UV_THREADPOOL_SIZE" not in os.environ:
            cases.append((None, min(max(ncpu, 2), 16)))
        for env, want in cases:
            d = tempfile.mkdtemp(prefix="objectd-obs-")
            self.addCleanup(shutil.rmtree, d, True)
            srv = self.start_server("--db", "sqlite:" + os.path.join(d, "p.db"),
                                    env=env)
            starting = [r for r in srv.log_records()
                        if r.get("message") == "starting"][0]
            self.assertEqual(harness.field(starting, "objectd.pool_threads"),
                             want, starting)
            samples, _ = parse_exposition(self.scrape(srv))
            pool = sum(value(samples, "objectd_db_pool_connections",
                             store="sqlite", state=st) for st in ("idle", "used"))
            self.assertEqual(pool, want)
        # With PostgreSQL the queries run on the loops: libuv's 4 threads
        # stay for the connects, the cancels and the analyses.
        if PG_URI and "UV_THREADPOOL_SIZE" not in os.environ:
            srv = self.start_server("--db", PG_URI)
            starting = [r for r in srv.log_records()
                        if r.get("message") == "starting"][0]
            self.assertEqual(harness.field(starting, "objectd.pool_threads"),
                             4, starting)

    def test_admin_not_held_to_max_connections(self):
        srv = self.start_server("--max-connections", "1")
        held = self.connect(srv)
        held.send(harness.build_request("GET", "/healthz"))
        self.assertEqual(held.read_response().status, 200)
        # The public listener is full: another client is refused...
        with self.assertRaises((harness.ConnectionClosed, OSError)):
            harness.request(srv.port, "GET", "/healthz", timeout=2)
        # ...but /metrics still answers, and sees the held connection.
        samples, _ = parse_exposition(self.scrape(srv))
        self.assertGreaterEqual(value(samples, "objectd_http_connections",
                                      protocol="http/1.1"), 2)

    def test_abandoned_request_is_499_and_leaves_in_flight(self):
        if not CURL:
            self.skipTest("curl is not installed")
        srv = self.start_server()
        # A handler that answers later (a 1 s profile); the HTTP/2 client
        # leaves meanwhile (its connection closes, the stream with it).
        try:
            subprocess.run([CURL, "-s", "--http2-prior-knowledge",
                            f"http://127.0.0.1:{srv.admin_port}"
                            "/debug/pprof/profile?seconds=1"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=0.3)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(1.5)
        samples, _ = parse_exposition(self.scrape(srv))
        self.assertEqual(value(samples, "objectd_http_requests_total",
                               route="/debug/pprof/profile", method="GET",
                               code="499"), 1)
        self.assertEqual(value(samples, "objectd_http_requests_in_flight"), 1)
        entries = srv.wait_access(lambda es: any(
            e.get("http.response.status_code") == 499 for e in es))
        e = [x for x in entries if x.get("http.response.status_code") == 499]
        self.assertEqual(len(e), 1)
        self.assertEqual(e[0]["http.response.body.bytes"], 0)

    def test_abandoned_http1_request_is_499(self):
        # The same over HTTP/1.1: the client sends its request and closes
        # its socket while the handler still works. Its request is counted
        # as abandoned, not as the 200 nobody read.
        srv = self.start_server()
        with socket.create_connection(("127.0.0.1", srv.admin_port)) as s:
            s.sendall(b"GET /debug/pprof/profile?seconds=1 HTTP/1.1\r\n"
                      b"Host: x\r\n\r\n")
            time.sleep(0.2)
        time.sleep(1.5)
        samples, _ = parse_exposition(self.scrape(srv))
        self.assertEqual(value(samples, "objectd_http_requests_total",
                               route="/debug/pprof/profile", method="GET",
                               code="499"), 1)
        self.assertEqual(value(samples, "objectd_http_requests_total",
                               route="/debug/pprof/profile", method="GET",
                               code="200"), None)
        entries = srv.wait_access(lambda es: any(
            e.get("http.response.status_code") == 499 for e in es))
        e = [x for x in entries if x.get("http.response.status_code") == 499]
        self.assertEqual(len(e), 1)
        self.assertEqual(e[0]["network.protocol.name"], "http/1.1")

    def test_off(self):
        srv = self.start_server("--admin-listen", "off")
        time.sleep(0.2)
        self.assertIsNone(srv.admin_port)
        self.assertFalse([r for r in srv.log_records()
                          if r.get("message") == "admin listening"])
        self.assertEqual(harness.request(srv.port, "GET", "/healthz").status,
                         200)

    def test_bad_address(self):
        srv = harness.Server(["--admin-listen", "nonsense"])
        self.addCleanup(srv.cleanup)
        try:
            srv.start(timeout=5)  # the public listener may come first
        except harness.ServerError:
            pass
        srv.expect_exit = True
        self.assertEqual(srv.wait_exit(5), 1)
        self.assertIn("cannot listen", srv.stderr_tail())

    def test_bad_trace_options(self):
        for args in (["--trace-sample-ratio", "1.5"],
                     ["--trace-sample-ratio", "x"]):
            srv = harness.Server(args)
            self.addCleanup(srv.cleanup)
            with self.assertRaises(harness.ServerError):
                srv.start(timeout=5)
            self.assertEqual(srv.proc.returncode, 2)
            self.assertIn("--trace-sample-ratio", srv.stderr_tail())
        srv = harness.Server(["--otlp-endpoint", "https://x/v1/traces"])
        self.addCleanup(srv.cleanup)
        with self.assertRaises(harness.ServerError):
            srv.start(timeout=5)
        self.assertIn("--otlp-endpoint", srv.stderr_tail())


# --------------------------------------------------------------------------


class MetricsTests:
    """Mixed into one class per backend; `db_uri()` names the store."""

    N_GET = 7

    def traffic(self, srv):
        """Touches every metric family; returns the object id used."""
        c = ApiClient(srv.port)
        self.addCleanup(c.close)
        st, _, obj = c.request("POST", "/objects",
                               {"type": "obs", "name": "m", "attributes": {}})
        self.assertEqual(st, 201, obj)
        oid = obj["id"]
        for _ in range(self.N_GET):
            self.assertEqual(c.request("GET", f"/objects/{oid}").status, 200)
        self.assertEqual(c.request("PUT", f"/objects/{oid}",
                                   {"type": "obs", "name": "m2",
                                    "attributes": {}}).status, 200)
        self.assertEqual(c.request("GET", "/objects?type=obs").status, 200)
        self.assertEqual(c.request("GET", f"/objects/{oid}/revisions").status,
                         200)
        now = int(time.time())
        obs = [{"metric": "temp", "ts": now - 60 * i, "value": 20.0 + i}
               for i in range(20)]
        self.assertIn(c.request("POST", f"/objects/{oid}/observations",
                                obs).status, (200, 201))
        self.assertIn(c.request("POST", f"/objects/{oid}/events",
                                [{"ts": now, "kind": "door",
                                  "severity": "info"}]).status, (200, 201))
        self.assertEqual(c.request("GET", f"/objects/{oid}/observations")
                         .status, 200)
        self.assertEqual(c.request("GET", f"/objects/{oid}/events").status,
                         200)
        # Twice: a miss, then a hit.
        for _ in range(2):
            self.assertEqual(c.request("GET", f"/objects/{oid}/analysis")
                             .status, 200)
        self.assertEqual(c.request("GET", "/objects/999999999999").status,
                         404)
        self.assertEqual(c.request("GET", "/no/such/thing").status, 404)
        # HTTP/2 cleartext, and a GOAWAY: the connection's request limit
        # (2) stops h2load's one connection after two requests.
        self.h2_ok = 0
        if H2LOAD:
            r = run([H2LOAD, "-n", "4", "-c", "1", "-m", "1",
                     f"http://127.0.0.1:{srv.port}/api/v1/objects/{oid}"],
                    timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout.decode())
            self.h2_ok = harness.parse_h2load(r.stdout.decode())["succeeded"]
            self.assertEqual(self.h2_ok, 2, r.stdout.decode())
        return oid

    def start(self):
        return self.start_server("--db", self.db_uri(),
                                 "--max-requests-per-connection", "2",
                                 "--otlp-endpoint", "")

    @unittest.skipUnless(PROMTOOL, "promtool is not installed "
                         "(Debian package prometheus)")
    def test_promtool_after_traffic(self):
        srv = self.start()
        oid = self.traffic(srv)
        text = self.scrape(srv)
        r = subprocess.run([PROMTOOL, "check", "metrics"], timeout=30,
                           input=text.encode(), capture_output=True)
        findings = (r.stdout + r.stderr).decode().strip()
        self.assertEqual(r.returncode, 0, findings)
        self.assertEqual(findings, "", "promtool has findings")

        samples, types = parse_exposition(text)
        names = {n for n, _ in samples}
        fams = FIXED_FAMILIES + (CGROUP_FAMILIES if cgroup_cpu_stat_present()
                                 else [])
        for fam in fams:
            have = fam in names or f"{fam}_bucket" in names
            self.assertTrue(have, f"{fam} missing")
        for fam in ("objectd_http_request_duration_seconds",
                    "objectd_db_query_duration_seconds",
                    "objectd_db_pool_wait_seconds"):
            self.assertEqual(types[fam], "histogram")

        # The counters agree with what was sent.
        route = "/api/v1/objects/{id}"
        self.assertEqual(value(samples, "objectd_http_requests_total",
                               route=route, method="GET", code="200"),
                         self.N_GET + self.h2_ok)
        self.assertEqual(value(samples, "objectd_http_requests_total",
                               route=route, method="GET", code="404"), 1)
        self.assertEqual(value(samples, "objectd_http_requests_total",
                               route="unmatched", method="GET", code="404"),
                         1)
        # Never a raw path.
        self.assertFalse([k for k in samples if k[0].startswith("objectd_http")
                          and any(v == f"/api/v1/objects/{oid}"
                                  for _, v in k[1])])
        kind = self.backend
        self.assertEqual(value(samples, "objectd_db_queries_total",
                               store=kind, query="object_get"),
                         self.N_GET + 1 + self.h2_ok)
        self.assertGreaterEqual(value(samples, "objectd_db_queries_total",
                                      store=kind, query="analysis_load"), 1)
        self.assertEqual(value(samples,
                               "objectd_analysis_cache_requests_total",
                               result="hit"), 1)
        self.assertGreaterEqual(
            value(samples, "objectd_analysis_cache_requests_total",
                  result="miss"), 1)
        total_db = sum(v for (n, l), v in samples.items()
                       if n == "objectd_db_queries_total")
        self.assertEqual(value(samples, "objectd_db_query_duration_seconds_count",
                               store=kind), total_db)
        idle = value(samples, "objectd_db_pool_connections", store=kind,
                     state="idle")
        used = value(samples, "objectd_db_pool_connections", store=kind,
                     state="used")
        self.assertGreater(idle + used, 0)
        self.assertEqual(value(samples, "objectd_build_info",
                               version="0.1.0", store=kind), 1)
        self.assertEqual(value(samples, "objectd_worker_threads"), 2)
        if H2LOAD:
            self.assertGreaterEqual(
                value(samples, "objectd_http2_goaway_sent_total"), 1)
        # The scrape's own connection is open, on HTTP/1.1.
        self.assertGreaterEqual(value(samples, "objectd_http_connections",
                                      protocol="http/1.1"), 1)
        self.assertGreaterEqual(value(samples,
                                      "objectd_http_requests_in_flight"), 1)
        self.assertGreater(value(samples, "process_cpu_seconds_total"), 0)
        self.assertGreater(value(samples, "process_open_fds"), 3)
        self.assertLess(abs(value(samples, "process_start_time_seconds")
                            - time.time()), 120)

    def test_access_log_fields(self):
        srv = self.start()
        c = ApiClient(srv.port)
        self.addCleanup(c.close)
        st, _, obj = c.request("POST", "/objects",
                               {"type": "obs", "name": "a", "attributes": {}})
        self.assertEqual(st, 201)
        c.request("GET", f"/objects/{obj['id']}")
        entries = srv.wait_access(lambda es: len(es) >= 2, timeout=3)
        e = [x for x in entries if x.get("http.request.method") == "GET"][-1]
        for k in ("@timestamp", "log.level", "message", "http.request.method",
                  "url.path", "http.route", "http.response.status_code",
                  "http.response.body.bytes", "network.protocol.name",
                  "event.duration", "trace.id", "span.id",
                  "objectd.db.queries", "objectd.db.duration"):
            self.assertIn(k, e)
        self.assertEqual(e["http.route"], "/api/v1/objects/{id}")
        self.assertEqual(e["objectd.db.queries"], 1)
        self.assertGreater(e["objectd.db.duration"], 0)
        self.assertLessEqual(e["objectd.db.duration"], e["event.duration"])
        self.assertRegex(e["trace.id"], r"^[0-9a-f]{32}$")
        self.assertRegex(e["span.id"], r"^[0-9a-f]{16}$")


class TestMetricsSQLite(MetricsTests, ObsTestCase):
    backend = "sqlite"

    def db_uri(self):
        d = tempfile.mkdtemp(prefix="objectd-obs-")
        self.addCleanup(shutil.rmtree, d, True)
        return "sqlite:" + os.path.join(d, "m.db")


@unittest.skipUnless(PG_URI, "OBJECTD_TEST_PG_URI is not set")
class TestMetricsPostgreSQL(MetricsTests, ObsTestCase):
    backend = "postgresql"

    def db_uri(self):
        return PG_URI


# --------------------------------------------------------------------------


@unittest.skipUnless(PROMETHEUS, "prometheus is not installed")
class TestPrometheus(ObsTestCase):
    def test_scraped_by_prometheus(self):
        d = tempfile.mkdtemp(prefix="objectd-prom-")
        self.addCleanup(shutil.rmtree, d, True)
        srv = self.start_server("--db", "sqlite:" + os.path.join(d, "p.db"))
        for _ in range(3):
            harness.request(srv.port, "GET", "/healthz")
        cfg = os.path.join(d, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: objectd\n"
                    "    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{srv.admin_port}']\n")
        port = harness.free_port()
        log = open(os.path.join(d, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        prom = subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}",
             f"--storage.tsdb.path={os.path.join(d, 'data')}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=d)

        def stop():
            prom.terminate()
            try:
                prom.wait(timeout=10)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait(timeout=5)
        self.addCleanup(stop)

        q = urllib.parse.quote(
            'objectd_http_requests_total{route="/healthz",code="200"}')
        url = f"http://127.0.0.1:{port}/api/v1/query?query={q}"
        deadline = time.monotonic() + 40
        result, last = None, None
        while time.monotonic() < deadline and prom.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    doc = json.loads(r.read())
                last = doc
                if doc.get("status") == "success" and doc["data"]["result"]:
                    result = doc["data"]["result"]
                    break
            except OSError as e:
                last = e
            time.sleep(0.5)
        self.assertIsNotNone(result, f"no sample from Prometheus: {last}; "
                             f"log: {open(log.name, 'rb').read()[-2000:]!r}")
        self.assertEqual(result[0]["metric"]["job"], "objectd")
        self.assertEqual(float(result[0]["value"][1]), 3.0)


# --------------------------------------------------------------------------


class OtlpReceiver:
    """A small OTLP/HTTP JSON receiver: keeps every request's document."""

    def __init__(self):
        self.docs = []
        self.bad = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                try:
                    doc = json.loads(body)
                    ok = (self.path == "/v1/traces" and
                          self.headers.get("Content-Type") ==
                          "application/json")
                except ValueError:
                    doc, ok = None, False
                with outer.lock:
                    (outer.docs if ok else outer.bad).append(doc or body)
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def spans(self):
        with self.lock:
            docs = list(self.docs)
        out = []
        for d in docs:
            for rs in d["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    out.extend(ss["spans"])
        return out

    def wait_spans(self, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            s = self.spans()
            if pred(s) or time.monotonic() >= deadline:
                return s
            time.sleep(0.05)


def attrs(span):
    out = {}
    for a in span.get("attributes", []):
        v = a["value"]
        out[a["key"]] = v.get("stringValue", v.get("intValue"))
    return out


class TestTraces(ObsTestCase):
    TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
    PARENT = "00f067aa0ba902b7"

    def setUp(self):
        self.rx = OtlpReceiver()
        self.addCleanup(self.rx.close)
        d = tempfile.mkdtemp(prefix="objectd-tr-")
        self.addCleanup(shutil.rmtree, d, True)
        self.srv = self.start_server(
            "--db", "sqlite:" + os.path.join(d, "t.db"), "--otlp-endpoint",
            f"http://127.0.0.1:{self.rx.port}/v1/traces",
            "--trace-sample-ratio", "0")
        self.c = ApiClient(self.srv.port)
        self.addCleanup(self.c.close)
        st, _, obj = self.c.request("POST", "/objects", {
            "type": "t", "name": "x", "attributes": {}})
        self.assertEqual(st, 201)
        self.oid = obj["id"]

    def test_parent_trace_and_db_children(self):
        tp = f"00-{self.TRACE}-{self.PARENT}-01"
        # The analysis makes more than one store call (version, load).
        r = self.c.request("GET", f"/objects/{self.oid}/analysis",
                           headers={"traceparent": tp})
        self.assertEqual(r.status, 200)
        entries = self.srv.wait_access(
            lambda es: any(e.get("trace.id") == self.TRACE for e in es))
        e = [x for x in entries if x.get("trace.id") == self.TRACE][0]
        nq = e["objectd.db.queries"]
        self.assertGreaterEqual(nq, 1)

        spans = self.rx.wait_spans(
            lambda s: len([x for x in s if x["traceId"] == self.TRACE])
            >= 1 + nq)
        mine = [x for x in spans if x["traceId"] == self.TRACE]
        self.assertFalse(self.rx.bad, self.rx.bad[:1])
        servers = [x for x in mine if x["kind"] == 2]
        clients = [x for x in mine if x["kind"] == 3]
        self.assertEqual(len(servers), 1, mine)
        srv_span = servers[0]
        self.assertEqual(srv_span["spanId"], e["span.id"])
        self.assertEqual(srv_span["parentSpanId"], self.PARENT)
        self.assertEqual(srv_span["name"],
                         "GET /api/v1/objects/{id}/analysis")
        a = attrs(srv_span)
        self.assertEqual(a["http.request.method"], "GET")
        self.assertEqual(a["http.route"], "/api/v1/objects/{id}/analysis")
        self.assertEqual(a["http.response.status_code"], "200")
        self.assertEqual(a["url.path"], f"/api/v1/objects/{self.oid}/analysis")
        # One child per database query, each inside the request's time.
        self.assertEqual(len(clients), nq, clients)
        for cs in clients:
            self.assertEqual(cs["parentSpanId"], srv_span["spanId"])
            ca = attrs(cs)
            self.assertEqual(ca["db.system"], "sqlite")
            self.assertEqual(ca["db.operation.name"], cs["name"])
            self.assertLessEqual(int(srv_span["startTimeUnixNano"]),
                                 int(cs["startTimeUnixNano"]))
            self.assertLessEqual(int(cs["endTimeUnixNano"]),
                                 int(srv_span["endTimeUnixNano"]))
        for s in mine:
            self.assertRegex(s["spanId"], r"^[0-9a-f]{16}$")
            self.assertLessEqual(int(s["startTimeUnixNano"]),
                                 int(s["endTimeUnixNano"]))
        doc = self.rx.docs[0]
        res = {a["key"]: a["value"]["stringValue"]
               for a in doc["resourceSpans"][0]["resource"]["attributes"]}
        self.assertEqual(res["service.name"], "objectd")

    def test_unrouted_method_and_escaped_path(self):
        # A method we have no route for is the client's text, and a path
        # may need escaping: the span and the access line carry both
        # exactly (the span's path is the access line's, copied), and a
        # path over 160 bytes is cut in the span only (escaped there too).
        tp = f"00-{self.TRACE}-{self.PARENT}-01"
        long_tail = "a" * 200
        sent = [("FOO", "/api/v1/objects"),
                ("GET", '/api/v1/objects/a"b\\c'),
                ("GET", '/api/v1/objects/"' + long_tail)]
        for method, path in sent:
            with socket.create_connection(("127.0.0.1", self.srv.port)) as s:
                s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
                          f"traceparent: {tp}\r\nConnection: close\r\n"
                          "\r\n".encode())
                head = s.recv(65536).split(b"\r\n", 1)[0]
            self.assertRegex(head, rb"^HTTP/1.1 4\d\d ", (method, path))
        entries = self.srv.wait_access(
            lambda es: len([e for e in es
                            if e.get("trace.id") == self.TRACE]) >= 3)
        # Each connection may land on another worker, and each worker
        # writes its own lines: in any order.
        lines = {(e["http.request.method"], e["url.path"]):
                 e["http.response.status_code"] for e in entries
                 if e.get("trace.id") == self.TRACE}
        self.assertEqual(sorted(lines), sorted(sent))
        spans = self.rx.wait_spans(
            lambda s: len([x for x in s if x["traceId"] == self.TRACE
                           and x["kind"] == 2]) >= 3)
        self.assertFalse(self.rx.bad, self.rx.bad[:1])
        servers = [x for x in spans
                   if x["traceId"] == self.TRACE and x["kind"] == 2]
        self.assertEqual(len(servers), 3, servers)
        got = {}
        for x in servers:
            a = attrs(x)
            got[a["url.path"]] = (x["name"], a["http.request.method"],
                                  a["http.response.status_code"])
        for (m, p), st in lines.items():
            if m == "FOO":
                self.assertEqual(got[p], ("FOO", "FOO", str(st)))
            elif len(p) <= 160:
                self.assertEqual(got[p],
                                 ("GET /api/v1/objects/{id}", "GET", str(st)))
            else:
                self.assertNotIn(p, got)
                self.assertEqual(got[p[:160]][1:], ("GET", str(st)))

    def test_sampling(self):
        # Not sampled by the caller: nothing exported for it. Ratio 0: no
        # new trace is sampled either. A sampled one after them, to know
        # the exporter had its chance.
        unsampled = "11112222333344445555666677778888"
        self.c.request("GET", f"/objects/{self.oid}", headers={
            "traceparent": f"00-{unsampled}-{self.PARENT}-00"})
        self.c.request("GET", f"/objects/{self.oid}")
        # Invalid (upper case): ignored, a new trace that ratio 0 skips.
        self.c.request("GET", f"/objects/{self.oid}", headers={
            "traceparent": f"00-{self.TRACE.upper()}-{self.PARENT}-01"})
        self.c.request("GET", f"/objects/{self.oid}", headers={
            "traceparent": f"00-{self.TRACE}-{self.PARENT}-01"})
        spans = self.rx.wait_spans(
            lambda s: any(x["traceId"] == self.TRACE for x in s))
        time.sleep(1.5)  # a later batch would have come by now
        ids = {x["traceId"] for x in self.rx.spans()}
        self.assertEqual(ids, {self.TRACE}, spans)
        entries = self.srv.wait_access(lambda es: len(es) >= 5)
        gets = [e for e in entries if e.get("http.request.method") == "GET"]
        self.assertEqual(gets[0]["trace.id"], unsampled)
        self.assertNotEqual(gets[2]["trace.id"], self.TRACE)
        self.assertNotEqual(gets[2]["trace.id"], self.TRACE.upper())


# --------------------------------------------------------------------------


class TestDebugQueries(ObsTestCase):
    def test_sorted_by_total_time(self):
        d = tempfile.mkdtemp(prefix="objectd-q-")
        self.addCleanup(shutil.rmtree, d, True)
        srv = self.start_server("--db", "sqlite:" + os.path.join(d, "q.db"))
        c = ApiClient(srv.port)
        self.addCleanup(c.close)
        st, _, obj = c.request("POST", "/objects",
                               {"type": "q", "name": "x", "attributes": {}})
        self.assertEqual(st, 201)
        for _ in range(5):
            c.request("GET", f"/objects/{obj['id']}")
        c.request("GET", "/objects?limit=3")
        r = admin_get(srv, "/debug/queries")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/json")
        doc = r.json()
        self.assertEqual(doc["store"], "sqlite")
        rows = {q["query"]: q for q in doc["queries"]}
        self.assertEqual(rows["object_get"]["calls"], 5)
        self.assertEqual(rows["object_get"]["rows"], 5)
        self.assertEqual(rows["object_create"]["calls"], 1)
        self.assertEqual(rows["object_list"]["calls"], 1)
        self.assertEqual(rows["object_put"]["calls"], 0)
        g = rows["object_get"]
        self.assertAlmostEqual(g["mean_ms"], g["total_ms"] / 5, delta=0.01)
        self.assertGreaterEqual(g["max_ms"], g["mean_ms"])
        totals = [q["total_ms"] for q in doc["queries"]]
        self.assertEqual(totals, sorted(totals, reverse=True))
        self.assertGreater(totals[0], 0)


# --------------------------------------------------------------------------


@unittest.skipUnless(H2LOAD, "h2load is not installed")
class TestProfile(ObsTestCase):
    def test_folded_stacks_under_load(self):
        d = tempfile.mkdtemp(prefix="objectd-prof-")
        self.addCleanup(shutil.rmtree, d, True)
        srv = self.start_server("--db", "sqlite:" + os.path.join(d, "p.db"),
                                "--access-log", "off", access_log=None)
        c = ApiClient(srv.port)
        self.addCleanup(c.close)
        st, _, obj = c.request("POST", "/objects",
                               {"type": "p", "name": "x", "attributes": {}})
        self.assertEqual(st, 201)
        load = subprocess.Popen(
            [H2LOAD, "-D", "4", "-c", "4", "-m", "8",
             f"http://127.0.0.1:{srv.port}/api/v1/objects/{obj['id']}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.addCleanup(lambda: load.poll() is None and load.kill())
        time.sleep(0.5)
        # A second profile while one runs is refused.
        result = {}

        def take():
            result["r"] = admin_get(srv, "/debug/pprof/profile?seconds=2",
                                    timeout=15)
        t = threading.Thread(target=take)
        t.start()
        time.sleep(0.3)
        busy = admin_get(srv, "/debug/pprof/profile?seconds=1")
        t.join(20)
        load.wait(timeout=20)
        self.assertEqual(busy.status, 409)
        r = result["r"]
        self.assertEqual(r.status, 200, r)
        text = r.body.decode()
        lines = text.strip().splitlines()
        self.assertGreater(len(lines), 3, text[:500])
        total = 0
        for line in lines:
            stack, _, count = line.rpartition(" ")
            self.assertTrue(stack, line)
            total += int(count)
        self.assertGreater(total, 20)  # 2 s of two busy cores: ~400
        self.assertLessEqual(total, int(r.header("x-objectd-samples")))
        # Our own functions, static ones included, are named.
        for fn in ("worker_main", "uv_run"):
            self.assertIn(fn, text)
        self.assertTrue(re.search(r"(conn_h1|h2_|on_read|process|dispatch)",
                                  text), text[:2000])
        # Bad durations are refused; nothing is left running.
        for bad in ("0", "61", "x", "1.5"):
            self.assertEqual(admin_get(
                srv, f"/debug/pprof/profile?seconds={bad}").status, 400)

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_profile_over_h2c(self):
        # The profile is answered from a timer callback, not from I/O.
        # Over HTTP/2 a finished response is queued and written once the
        # loop round's callbacks are done (conn_flush_later): this one too,
        # although the client sends nothing more to wake the loop.
        d = tempfile.mkdtemp(prefix="objectd-prof-")
        self.addCleanup(shutil.rmtree, d, True)
        srv = self.start_server("--db", "sqlite:" + os.path.join(d, "p.db"),
                                "--access-log", "off", access_log=None)
        t0 = time.monotonic()
        r = run([CURL, "-sS", "--http2-prior-knowledge", "-m", "10", "-o",
                 "/dev/null", "-w", "%{http_code} %{http_version}",
                 f"http://127.0.0.1:{srv.admin_port}"
                 "/debug/pprof/profile?seconds=1"], timeout=20, text=True)
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "200 2")
        self.assertLess(took, 4.0)


if __name__ == "__main__":
    harness.main()
