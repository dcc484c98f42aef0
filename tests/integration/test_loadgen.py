"""loadgen against real servers the tests start: a private nginx (Debian's
nginx-light) over HTTP/1.1, h2c, TLS and a unix socket, objectd, and a
small Python server with a known delay distribution.

For each scenario h2load runs too: loadgen's counts (total, succeeded,
failed, status codes, data bytes) must equal h2load's, and both outputs
must pass the layout checker written from real h2load output
(h2load_format.py, fixtures/h2load/). Where h2load is wrong - nginx's
GOAWAY after keepalive_requests - the test shows h2load's 4000 errored
next to loadgen's 5000 succeeded.
"""

import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import h2load_format as fmt  # noqa: E402
from harness import ServerTestCase, run  # noqa: E402

H2LOAD = harness.tool_path("h2load")
NGINX = harness.tool_path("nginx", "/usr/sbin/nginx")
OPENSSL = harness.tool_path("openssl")
RUN_TIMEOUT = 60


def loadgen_bin():
    env = os.environ.get("LOADGEN_BIN")
    if env:
        return env
    return str(harness.REPO_ROOT / "build" / "loadgen")


def run_tool(argv, timeout=RUN_TIMEOUT):
    r = run(argv, timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


class Nginx:
    """A private nginx: its own config, pid, logs and document root in a
    temp dir; listeners for HTTP/1.1, h2c, TLS (h2 and http/1.1 by ALPN)
    and h2c on a unix socket. keepalive_requests stays at nginx's default
    (1000) unless given."""

    def __init__(self, keepalive_requests=None):
        self.dir = tempfile.mkdtemp(prefix="loadgen-nginx-")
        d = self.dir
        os.makedirs(os.path.join(d, "html"))
        os.makedirs(os.path.join(d, "tmp"))
        with open(os.path.join(d, "html", "small"), "w") as f:
            f.write("x" * 1336)
        with open(os.path.join(d, "html", "healthz"), "w") as f:
            f.write('{"status":"ok"}\n')
        r = run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 os.path.join(d, "key.pem"), "-out",
                 os.path.join(d, "cert.pem"), "-days", "2", "-subj",
                 "/CN=localhost"], timeout=30)
        if r.returncode != 0:
            shutil.rmtree(d, ignore_errors=True)  # stop() is never reached
            raise RuntimeError(r.stderr.decode())
        self.h1 = harness.free_port()
        self.h2c = harness.free_port()
        self.tls = harness.free_port()
        self.sock = os.path.join(d, "h2c.sock")
        ka = (f"keepalive_requests {keepalive_requests};"
              if keepalive_requests else "")
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = f"""{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    {ka}
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{self.h1};
        listen 127.0.0.1:{self.h2c} http2;
        listen 127.0.0.1:{self.tls} ssl http2;
        listen unix:{self.sock} http2;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        root {d}/html;
        location = /missing {{ return 404; }}
        location = /echo {{ return 200 "posted\\n"; }}
    }}
}}
"""
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(
            [NGINX, "-p", d, "-e", os.path.join(d, "error.log"), "-c",
             os.path.join(d, "nginx.conf")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        harness._register(self.proc)
        deadline = time.monotonic() + 10
        while True:
            try:
                r = harness.request(self.h1, "GET", "/healthz")
                if r.status == 200 and os.path.exists(self.sock):
                    break
            except Exception:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("nginx did not start")
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        harness._unregister(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipUnless(H2LOAD and NGINX, "h2load and nginx needed")
class TestH2loadFormat(unittest.TestCase):
    def test_fixtures_fit_the_patterns(self):
        """The patterns describe real h2load output (else they prove
        nothing about loadgen's)."""
        fx = fmt.fixtures()
        self.assertGreaterEqual(len(fx), 6)
        for name, text in fx.items():
            with self.subTest(fixture=name):
                s = fmt.check_summary(text)
                # h2load's own definitions hold in its output.
                self.assertLessEqual(s["started"], s["total"])
                self.assertLessEqual(s["done"], s["started"])
                self.assertLessEqual(s["succeeded"], s["done"])
                self.assertGreaterEqual(s["failed"], s["errored"])
        h2c = fmt.check_summary(fx["h2c.txt"])
        self.assertEqual((h2c["total"], h2c["succeeded"]), (100, 100))
        self.assertEqual(h2c["protocol"], "h2c")
        goaway = fmt.check_summary(fx["goaway.txt"])
        self.assertEqual(goaway["errored"], 4000)

    def test_checker_rejects_near_misses(self):
        text = fmt.fixtures()["h2c.txt"]
        for bad in (text.replace("time for request:  ", "time for request: "),
                    text.replace(" req/s, ", " req/s ", 1),
                    text.replace("0 timeout", "0 timeouts"),
                    text.replace("\n\nfinished", "\nfinished"),
                    text.replace("(space savings", "(savings")):
            with self.assertRaises(fmt.FormatError):
                fmt.check_summary(bad)


@unittest.skipUnless(H2LOAD and NGINX, "h2load and nginx needed")
class TestAgainstNginx(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = Nginx()

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()

    def both(self, args, h2load_args=None):
        """Runs h2load and loadgen with the same arguments; both outputs
        must have h2load's layout. Returns (h2load, loadgen) summaries."""
        rc, out, err = run_tool([H2LOAD] + (h2load_args or args))
        self.assertEqual(rc, 0, err)
        ref = fmt.check_summary(out)
        rc, out, err = run_tool([loadgen_bin()] + args)
        self.assertEqual(rc, 0, err)
        got = fmt.check_summary(out)
        got["text"] = out
        return ref, got

    def assertSameCounts(self, ref, got):
        for k in ("total", "started", "done", "succeeded", "failed",
                  "errored", "timeout", "2xx", "3xx", "4xx", "5xx",
                  "bytes_data", "protocol"):
            self.assertEqual(got[k], ref[k], f"{k}: loadgen {got[k]} vs "
                             f"h2load {ref[k]}\n{got['text']}")

    def test_h1_pipelined_two_uris(self):
        n = self.nginx
        ref, got = self.both(["-n", "200", "-c", "2", "-m", "10", "--h1",
                              f"http://127.0.0.1:{n.h1}/small",
                              f"http://127.0.0.1:{n.h1}/missing"])
        self.assertSameCounts(ref, got)
        self.assertEqual(got["4xx"], 100)
        # Header bytes are counted as h2load counts them (names + values).
        self.assertEqual(got["bytes_headers"], ref["bytes_headers"])

    def test_h2c(self):
        n = self.nginx
        ref, got = self.both(["-n", "300", "-c", "3", "-m", "10",
                              f"http://127.0.0.1:{n.h2c}/small"])
        self.assertSameCounts(ref, got)
        self.assertEqual(got["bytes_headers"], ref["bytes_headers"])
        self.assertEqual(got["space_savings"], ref["space_savings"])
        self.assertEqual(got["preamble"].count("progress: 100% done"), 1)

    def test_h2_over_tls(self):
        n = self.nginx
        ref, got = self.both(["-n", "200", "-c", "2", "-m", "10",
                              f"https://127.0.0.1:{n.tls}/small"])
        self.assertSameCounts(ref, got)
        self.assertTrue(any(fmt.TLS_PROTO.match(l) for l in got["preamble"]))
        self.assertTrue(any(fmt.CIPHER.match(l) for l in got["preamble"]))

    def test_h1_over_tls(self):
        n = self.nginx
        ref, got = self.both(["-n", "100", "-c", "2", "--h1",
                              f"https://127.0.0.1:{n.tls}/small"])
        self.assertSameCounts(ref, got)
        self.assertEqual(got["protocol"], "http/1.1")

    def test_unix_socket(self):
        n = self.nginx
        ref, got = self.both(["-n", "100", "-c", "2", "-m", "5", "-B",
                              f"unix:{n.sock}", "http://localhost/small"])
        self.assertSameCounts(ref, got)

    def test_threads_and_input_file(self):
        n = self.nginx
        with tempfile.NamedTemporaryFile("w", suffix=".txt",
                                         delete=False) as f:
            f.write(f"http://127.0.0.1:{n.h2c}/small\n"
                    f"http://127.0.0.1:{n.h2c}/missing\n")
        self.addCleanup(os.unlink, f.name)
        ref, got = self.both(["-n", "400", "-c", "4", "-t", "2", "-m", "4",
                              "-i", f.name])
        self.assertSameCounts(ref, got)
        self.assertEqual(got["threads"], 2)
        self.assertEqual(got["4xx"], 200)

    def test_post_data(self):
        n = self.nginx
        with tempfile.NamedTemporaryFile("wb", delete=False) as f:
            f.write(b"a" * 5000)
        self.addCleanup(os.unlink, f.name)
        for extra in ([], ["--h1"]):
            port = n.h2c if not extra else n.h1
            ref, got = self.both(["-n", "50", "-c", "2", "-m", "4", "-d",
                                  f.name] + extra +
                                 [f"http://127.0.0.1:{port}/echo"])
            self.assertSameCounts(ref, got)
            self.assertEqual(got["succeeded"], 50)

    def test_head_method(self):
        """-H ':method: HEAD': responses without a body, whatever their
        Content-Length says (h2load 1.52 loses them over HTTP/1.1)."""
        n = self.nginx
        ref, got = self.both(["-n", "40", "-c", "2", "-m", "5", "-H",
                              ":method: HEAD",
                              f"http://127.0.0.1:{n.h2c}/small"])
        self.assertSameCounts(ref, got)
        rc, out, err = run_tool([loadgen_bin(), "-n", "40", "-c", "2", "-m",
                                 "5", "--h1", "-H", ":method: HEAD",
                                 f"http://127.0.0.1:{n.h1}/small"])
        self.assertEqual(rc, 0, err)
        got = fmt.check_summary(out)
        self.assertEqual((got["succeeded"], got["bytes_data"]), (40, 0), out)

    def test_connect_refused(self):
        port = harness.free_port()
        ref, got = self.both(["-n", "10", f"http://127.0.0.1:{port}/"])
        got["protocol"] = ref["protocol"]
        self.assertSameCounts(ref, got)
        self.assertEqual(got["errored"], 10)
        self.assertIn("errors: 1 connect failed (first: Connection refused)",
                      got["after"])

    def test_goaway_after_keepalive_requests(self):
        """nginx's default keepalive_requests (1000) ends each connection
        with GOAWAY(NO_ERROR): h2load gives up on the rest, loadgen sends
        the refused requests again on a new connection."""
        n = self.nginx
        ref, got = self.both(["-n", "5000", "-c", "1", "-m", "100",
                              f"http://127.0.0.1:{n.h2c}/healthz"])
        self.assertEqual(ref["errored"], 4000)
        self.assertLess(ref["succeeded"], 5000)
        self.assertEqual((got["succeeded"], got["failed"], got["errored"]),
                         (5000, 0, 0), got["text"])
        self.assertEqual((got["total"], got["started"], got["done"]),
                         (5000, 5000, 5000))
        self.assertIn("server closed 5 connections with GOAWAY(NO_ERROR) "
                      "after 1000 requests each", got["after"])
        resent = [l for l in got["after"] if l.startswith("re-sent: ")]
        self.assertEqual(len(resent), 1, got["text"])
        self.assertGreater(int(resent[0].split()[1]), 0)

    def test_h1_connection_close_after_keepalive_requests(self):
        n = self.nginx
        rc, out, err = run_tool([loadgen_bin(), "-n", "2500", "-c", "1",
                                 "-m", "10", "--h1",
                                 f"http://127.0.0.1:{n.h1}/healthz"])
        self.assertEqual(rc, 0, err)
        got = fmt.check_summary(out)
        self.assertEqual((got["succeeded"], got["failed"]), (2500, 0), out)
        self.assertIn("server closed 2 connections with Connection: close "
                      "after 1000 requests each", got["after"])

    def test_json_report(self):
        n = self.nginx
        path = os.path.join(self.nginx.dir, "report.json")
        rc, out, err = run_tool([loadgen_bin(), "-n", "300", "-c", "2",
                                 "-m", "8", "--json", path,
                                 f"http://127.0.0.1:{n.h2c}/small",
                                 f"http://127.0.0.1:{n.h2c}/missing"])
        self.assertEqual(rc, 0, err)
        got = fmt.check_summary(out)
        with open(path) as f:
            doc = json.load(f)
        req = doc["requests"]
        for k in ("total", "started", "done", "succeeded", "failed",
                  "errored", "timeout"):
            self.assertEqual(req[k], got[k], k)
        self.assertEqual(doc["status_codes"]["4xx"], got["4xx"])
        self.assertEqual(doc["traffic"]["data_bytes"], got["bytes_data"])
        self.assertEqual(doc["application_protocol"], "h2c")
        # Every completed response is in the histogram, once.
        hist = doc["histogram"]
        self.assertEqual(sum(b[2] for b in hist["buckets"]), 300)
        self.assertEqual(hist["count"], 300)
        p = doc["latency_percentiles_us"]
        self.assertLessEqual(p["p50"], p["p90"])
        self.assertLessEqual(p["p99"], p["max"])
        self.assertEqual(doc["options"]["clients"], 2)
        self.assertEqual(doc["options"]["max_concurrent_streams"], 8)
        self.assertEqual(len(doc["options"]["uris"]), 2)

    def test_merge_results_of_simultaneous_runs(self):
        n = self.nginx
        d = tempfile.mkdtemp(prefix="loadgen-merge-")
        self.addCleanup(shutil.rmtree, d, True)
        paths = [os.path.join(d, f"{k}.json") for k in ("a", "b", "m")]
        procs = [subprocess.Popen(
            [loadgen_bin(), "-n", str(reqs), "-c", "2", "-m", "4", "--json",
             p, f"http://127.0.0.1:{n.h2c}{path}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
            for reqs, p, path in ((600, paths[0], "/small"),
                                  (400, paths[1], "/missing"))]
        for p in procs:
            self.assertEqual(p.wait(timeout=RUN_TIMEOUT), 0,
                             p.stderr.read())
            p.stderr.close()
        rc, out, err = run_tool([loadgen_bin(), "--merge", paths[0],
                                 paths[1], "--json", paths[2]])
        self.assertEqual(rc, 0, err)
        a, b, m = (json.load(open(p)) for p in paths)
        self.assertTrue(out.startswith(f"merged 2 results: {paths[0]} "
                                       f"{paths[1]}\n\nfinished in "), out)
        self.assertIn("requests: 1000 total, 1000 started, 1000 done, "
                      "600 succeeded, 400 failed, 0 errored, 0 timeout", out)
        self.assertIn("status codes: 600 2xx, 0 3xx, 400 4xx, 0 5xx", out)
        self.assertEqual(m["histogram"]["count"], 1000)
        self.assertEqual(sum(x[2] for x in m["histogram"]["buckets"]), 1000)
        self.assertEqual(m["traffic"]["data_bytes"],
                         a["traffic"]["data_bytes"] +
                         b["traffic"]["data_bytes"])
        pa, pb, pm = (x["latency_percentiles_us"] for x in (a, b, m))
        self.assertEqual(pm["max"], max(pa["max"], pb["max"]))
        self.assertGreaterEqual(pm["p50"], min(pa["p50"], pb["p50"]))
        self.assertLessEqual(pm["p50"], max(pa["p50"], pb["p50"]))
        self.assertEqual(m["time_for_connect_us"]["count"], 4)
        self.assertEqual(m["merged_from"], paths[:2])
        # Something that is not a result is refused, naming the file.
        with open(paths[2], "w") as f:
            f.write('{"requests": 1}')
        rc, out, err = run_tool([loadgen_bin(), "--merge", paths[0],
                                 paths[2]])
        self.assertEqual(rc, 1)
        self.assertIn(paths[2], err)

    def test_bad_input_is_refused(self):
        for args in (["-n", "x", "http://a/"], ["-c", "0", "http://a/"],
                     ["-D", "1", "-r", "1", "http://a/"], ["ftp://a/"],
                     ["http://a/{5..1}"], ["-n", "1", "-c", "2", "http://a/"],
                     []):
            rc, out, err = run_tool([loadgen_bin()] + args)
            self.assertEqual(rc, 1, args)
            self.assertTrue(err.startswith("loadgen: "), err)
            self.assertEqual(out, "")

    def test_help_and_version(self):
        rc, out, _ = run_tool([loadgen_bin(), "--help"])
        self.assertEqual(rc, 0)
        for opt in ("-n,", "-c,", "-t,", "-m,", "-i,", "-H,", "-d,", "-r,",
                    "--rate-period", "-D,", "--warm-up-time", "-T,", "-N,",
                    "-B,", "--connect-to", "--h1", "-p,", "--npn-list",
                    "--log-file", "--rps", "--json", "-v,", "--version",
                    "--fail-if", "--arrival-rate", "--merge"):
            self.assertIn(opt, out)
        rc, out, _ = run_tool([loadgen_bin(), "--version"])
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^loadgen \d+\.\d+\.\d+")


class _DelayHandler(http.server.BaseHTTPRequestHandler):
    """Answers after a delay taken in turn from a fixed table of 100
    (whatever the path), and records the paths asked for."""
    protocol_version = "HTTP/1.1"
    # Head and body are two writes: without this, Nagle holds the body
    # until the client's delayed ACK (40 ms), which would be measured.
    disable_nagle_algorithm = True
    # 60 x 5 ms, 20 x 20 ms, 15 x 50 ms, 5 x 100 ms: p50, p75, p90, p99
    # each fall inside one band, away from its edges.
    TABLE = [0.005] * 60 + [0.020] * 20 + [0.050] * 15 + [0.100] * 5

    def do_GET(self):
        srv = self.server
        with srv.lock:
            i = srv.count
            srv.count += 1
            srv.paths.append(self.path)
        # Spread the slow ones (a fixed permutation of the table); /slow
        # always takes 50 ms, /fast no time.
        if self.path.startswith("/slow"):
            time.sleep(0.050)
        elif self.path.startswith("/fast"):
            pass
        else:
            time.sleep(self.TABLE[(i * 37) % 100])
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class _DelayServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 20 clients connect at once

    def handle_error(self, request, client_address):
        pass  # clients that time out on purpose break pipes


class TestLatencyAndTemplates(unittest.TestCase):
    def setUp(self):
        self.srv = _DelayServer(("127.0.0.1", 0), _DelayHandler)
        self.srv.lock = threading.Lock()
        self.srv.count = 0
        self.srv.paths = []
        t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        t.start()
        self.addCleanup(self.srv.server_close)
        self.addCleanup(self.srv.shutdown)
        self.port = self.srv.server_address[1]

    def test_percentiles_follow_the_delays(self):
        path = tempfile.mktemp(suffix=".json")
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        rc, out, err = run_tool([loadgen_bin(), "--h1", "-n", "400", "-c",
                                 "20", "--json", path,
                                 f"http://127.0.0.1:{self.port}/d"])
        self.assertEqual(rc, 0, err)
        got = fmt.check_summary(out)
        self.assertEqual(got["succeeded"], 400, out)
        with open(path) as f:
            p = json.load(f)["latency_percentiles_us"]
        # Each percentile sits in its delay band: at least the delay, and
        # below the next band (a loaded machine adds some; the max is
        # whatever the slowest answer took).
        for name, lo, hi in (("p50", 5e3, 20e3), ("p75", 20e3, 50e3),
                             ("p90", 50e3, 100e3), ("p99", 100e3, 150e3)):
            self.assertGreaterEqual(p[name], lo * 0.98, (name, p, out))
            self.assertLess(p[name], hi, (name, p, out))
        self.assertGreaterEqual(p["max"], p["p99"])
        self.assertGreaterEqual(p["p99.9"], p["p99"])
        # The text shows the same values under the percentile header.
        i = got["after"].index(next(l for l in got["after"]
                                    if l.startswith("latency         :")))
        self.assertEqual(got["after"][i].split()[2:],
                         ["p50", "p75", "p90", "p99", "p99.9", "max"])
        self.assertTrue(got["after"][i + 1].startswith("time for request:"))

    def test_template_walks_round_robin(self):
        rc, out, err = run_tool(
            [loadgen_bin(), "--h1", "-n", "7", "-c", "1",
             f"http://127.0.0.1:{self.port}/o/{{1..3}}/a", "/plain"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.srv.paths,
                         ["/o/1/a", "/o/2/a", "/o/3/a", "/plain", "/o/1/a",
                          "/o/2/a", "/o/3/a"])

    def test_log_file(self):
        path = tempfile.mktemp()
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        rc, out, err = run_tool([loadgen_bin(), "--h1", "-n", "10",
                                 "--log-file", path,
                                 f"http://127.0.0.1:{self.port}/x"])
        self.assertEqual(rc, 0, err)
        with open(path) as f:
            rows = [l.split("\t") for l in f.read().splitlines()]
        self.assertEqual(len(rows), 10)
        now_us = time.time() * 1e6
        for start, status, dur in rows:
            self.assertLess(abs(int(start) - now_us), 60e6)
            self.assertEqual(status, "200")
            self.assertGreaterEqual(int(dur), 4000)

    def test_arrival_rate_has_no_coordinated_omission(self):
        """One connection answers 20 requests/s; asking for 100/s makes a
        queue. The closed model hides it (every request 'takes' 50 ms);
        --arrival-rate times each request from when it was due."""
        url = f"http://127.0.0.1:{self.port}/slow"
        path = tempfile.mktemp(suffix=".json")
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        rc, out, err = run_tool([loadgen_bin(), "--h1", "-n", "30", "--json",
                                 path, url])
        self.assertEqual(rc, 0, err)
        with open(path) as f:
            closed = json.load(f)["latency_percentiles_us"]
        rc, out, err = run_tool([loadgen_bin(), "--h1", "-n", "30",
                                 "--arrival-rate", "100", "--json", path,
                                 url])
        self.assertEqual(rc, 0, err)
        self.assertEqual(fmt.check_summary(out)["succeeded"], 30, out)
        with open(path) as f:
            open_ = json.load(f)["latency_percentiles_us"]
        self.assertLess(closed["max"], 500e3, closed)
        # The 30th request was due at 290 ms and answered after ~1.5 s.
        self.assertGreater(open_["max"], 900e3, open_)
        self.assertGreater(open_["p50"], closed["p50"] * 4, (open_, closed))

    def test_per_uri_statistics(self):
        path = tempfile.mktemp(suffix=".json")
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        rc, out, err = run_tool(
            [loadgen_bin(), "--h1", "-n", "40", "-c", "2", "--json", path,
             f"http://127.0.0.1:{self.port}/slow", "/fast/{1..3}"])
        self.assertEqual(rc, 0, err)
        with open(path) as f:
            per = json.load(f)["per_uri"]
        self.assertEqual([u["uri"] for u in per], ["/slow", "/fast/{1..3}"])
        self.assertEqual([u["done"] for u in per], [10, 30])
        self.assertEqual([u["succeeded"] for u in per], [10, 30])
        self.assertGreaterEqual(per[0]["latency_percentiles_us"]["p50"],
                                49e3)
        self.assertLess(per[1]["latency_percentiles_us"]["p50"], 40e3)
        lines = fmt.check_summary(out)["after"]
        i = next(k for k, l in enumerate(lines)
                 if l.startswith("per URI         :"))
        self.assertEqual(lines[i + 1], "  /slow")
        self.assertEqual(lines[i + 2].split()[:3], ["10", "10", "0"])
        self.assertEqual(lines[i + 3], "  /fast/{1..3}")

    @unittest.skipUnless(shutil.which("script"), "script(1) needed")
    def test_live_progress_on_a_terminal(self):
        """stderr on a pseudo-terminal gets a status line a second, erased
        at the end; stdout (a file) is h2load's output, untouched."""
        out_path = tempfile.mktemp()
        self.addCleanup(lambda: os.path.exists(out_path) and
                        os.unlink(out_path))
        cmd = (f"{loadgen_bin()} --h1 -n 30 --rps 20 "
               f"http://127.0.0.1:{self.port}/fast > {out_path}")
        r = run(["script", "-qec", cmd, "/dev/null"], timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        tty = r.stdout.decode()
        self.assertRegex(tty, r"\r\[loadgen\] 1s  \d+/30 done \(\d+%\)")
        self.assertTrue(tty.rstrip("\r\n").endswith("\r\x1b[K"), repr(tty))
        with open(out_path) as f:
            got = fmt.check_summary(f.read())
        self.assertEqual(got["succeeded"], 30)

    def test_fail_if(self):
        url = f"http://127.0.0.1:{self.port}/slow"
        rc, out, err = run_tool([loadgen_bin(), "--h1", "-n", "4",
                                 "--fail-if", "p99 > 10ms", "--fail-if",
                                 "failed>0", url])
        self.assertEqual(rc, 3, out + err)
        self.assertRegex(out, r"\nfail-if p99>10ms: FAILED \(p99 is "
                              r"\d+\.\d\dms\)\n")
        self.assertIn("fail-if failed>0: ok (failed is 0)", out)
        rc, out, err = run_tool([loadgen_bin(), "--h1", "-n", "4",
                                 "--fail-if", "p99>10s", "--fail-if",
                                 "errored>=1%", url])
        self.assertEqual(rc, 0, out + err)
        rc, out, err = run_tool([loadgen_bin(), "--fail-if", "p99~1s", url])
        self.assertEqual(rc, 1)
        self.assertIn("--fail-if", err)

    def test_inactivity_timeout(self):
        # Every answer takes >= 5 ms; -N 1ms cannot be met.
        rc, out, err = run_tool([loadgen_bin(), "--h1", "-n", "5", "-N",
                                 "1ms", f"http://127.0.0.1:{self.port}/x"])
        self.assertEqual(rc, 0, err)
        got = fmt.check_summary(out)
        self.assertEqual((got["timeout"], got["errored"], got["succeeded"]),
                         (1, 5, 0), out)


@unittest.skipUnless(H2LOAD, "h2load needed")
class TestAgainstObjectd(ServerTestCase):
    def both(self, args):
        rc, out, err = run_tool([H2LOAD] + args)
        self.assertEqual(rc, 0, err)
        ref = fmt.check_summary(out)
        rc, out, err = run_tool([loadgen_bin()] + args)
        self.assertEqual(rc, 0, err)
        got = fmt.check_summary(out)
        got["text"] = out
        return ref, got

    def test_same_counts_h2c_and_h1(self):
        srv = self.start_server(access_log="off")
        url = f"http://127.0.0.1:{srv.port}"
        for extra in ([], ["--h1"]):
            ref, got = self.both(["-n", "400", "-c", "4", "-m", "10"] +
                                 extra + [f"{url}/healthz",
                                          f"{url}/api/v1/nothing-here"])
            for k in ("total", "succeeded", "failed", "errored", "2xx",
                      "4xx", "5xx", "bytes_data", "protocol"):
                self.assertEqual(got[k], ref[k], (k, extra, got["text"]))
            self.assertEqual(got["succeeded"], 200)

    def test_goaway_and_close_recovery(self):
        srv = self.start_server("--max-requests-per-connection", "100",
                                access_log="off")
        url = f"http://127.0.0.1:{srv.port}/healthz"
        for extra, what in (([], "GOAWAY(NO_ERROR)"),
                            (["--h1"], "Connection: close")):
            rc, out, err = run_tool([loadgen_bin(), "-n", "1000", "-c", "2",
                                     "-m", "10"] + extra + [url])
            self.assertEqual(rc, 0, err)
            got = fmt.check_summary(out)
            self.assertEqual((got["succeeded"], got["failed"]), (1000, 0),
                             out)
            self.assertIn(f"server closed 10 connections with {what} after "
                          f"100 requests each", got["after"], out)


if __name__ == "__main__":
    harness.main()
