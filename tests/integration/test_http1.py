#!/usr/bin/env python3
"""Integration tests for objectd's HTTP/1.1 server, written against the
contract (see the test-class docstrings). Run:

    python3 tests/integration/test_http1.py            # everything
    python3 tests/integration/test_http1.py TestSmuggling   # one class

The binary is $OBJECTD_BIN or build/objectd. The last line printed is
"N passed, N failed"; the exit status is non-zero on any failure.
"""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (Conn, ServerTestCase, build_request, chunked,  # noqa: E402
                     field, free_port, parse_h2load, run)

HEALTH_BODY = b'{"status":"ok"}\n'
READY_BODY = b'{"status":"ready"}\n'
DRAIN_BODY = b'{"status":"draining"}\n'
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

CURL = harness.tool_path("curl")
H2LOAD = harness.tool_path("h2load", "/usr/bin/h2load")


def is_int(v):
    return type(v) is int  # bool is not an int here


def media_type(resp):
    return (resp.header("Content-Type") or "").split(";")[0].strip().lower()


def curl_cmd(*args):
    # -q: ignore ~/.curlrc; never go through a proxy.
    return [CURL, "-q", "--noproxy", "*", "--max-time", "15", "-sS", *args]


def parse_header_block(text):
    """Last response head in a curl -D/-I dump -> (status, {lower name: v})."""
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
    lines = blocks[-1].splitlines()
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs


# ==========================================================================
class TestBasics(ServerTestCase):
    """Routes, status codes, keep-alive and connection closing, on raw
    sockets."""

    def test_healthz_get(self):
        srv = self.start_server()
        c = self.connect(srv)
        c.send(build_request("GET", "/healthz"))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(media_type(r), "application/json", r)
        self.assertEqual(r.body, HEALTH_BODY)
        self.assertEqual(r.header("Content-Length"), "16", r)

    def test_healthz_head_has_no_body(self):
        srv = self.start_server()
        c = self.connect(srv)
        c.send(build_request("HEAD", "/healthz", [("Connection", "close")]))
        r = c.read_response(head=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Length"), "16", r)
        self.assertEqual(media_type(r), "application/json", r)
        rest, closed = c.read_until_close(2.0)
        self.assertEqual(rest, b"", "bytes after a HEAD response head")
        self.assertTrue(closed, "Connection: close not honoured after HEAD")

    def test_readyz(self):
        srv = self.start_server()
        r = harness.request(srv.port, "GET", "/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(media_type(r), "application/json", r)
        self.assertEqual(r.body, READY_BODY)

    def test_404_problem_json(self):
        srv = self.start_server()
        c = self.connect(srv)
        c.send(build_request("GET", "/no/such/path"))
        r = c.read_response()
        self.assertProblem(r, 404)
        self.assertEqual(r.header("Content-Length"), str(len(r.body)), r)

    def test_405_with_allow(self):
        srv = self.start_server(debug_echo=True)
        c = self.connect(srv)
        c.send(build_request("POST", "/healthz", body=b""))
        r = c.read_response()
        self.assertProblem(r, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD", r)

        c.send(build_request("DELETE", "/readyz"))
        r = c.read_response()
        self.assertProblem(r, 405)
        allow = [t.strip() for t in (r.header("Allow") or "").split(",")]
        self.assertIn("GET", allow, r)

        c.send(build_request("GET", "/debug/echo"))
        r = c.read_response()
        self.assertProblem(r, 405)
        allow = [t.strip() for t in (r.header("Allow") or "").split(",")]
        self.assertIn("POST", allow, r)

    def test_debug_echo_is_404_without_flag(self):
        srv = self.start_server()
        r = harness.request(srv.port, "POST", "/debug/echo", body=b"hello")
        self.assertProblem(r, 404)

    def test_debug_echo_echoes_binary(self):
        srv = self.start_server(debug_echo=True)
        body = bytes(range(256)) * 8
        r = harness.request(srv.port, "POST", "/debug/echo", body=body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(media_type(r), "application/octet-stream", r)
        self.assertEqual(r.body, body)

    def test_keep_alive_is_default(self):
        srv = self.start_server()
        c = self.connect(srv)
        for i in range(3):
            c.send(build_request("GET", "/healthz"))
            r = c.read_response()
            self.assertEqual(r.status, 200, f"request {i}: {r}")
            self.assertEqual(r.body, HEALTH_BODY)
            self.assertFalse(r.has_token("Connection", "close"), r)
            time.sleep(0.05)

    def test_connection_close_honoured(self):
        srv = self.start_server()
        c = self.connect(srv)
        # A second request pipelined after the "close" one must be ignored.
        c.send(build_request("GET", "/healthz", [("Connection", "close")])
               + build_request("GET", "/readyz"))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, HEALTH_BODY)
        self.assertTrue(r.has_token("Connection", "close"),
                        f"response lacks Connection: close: {r}")
        rest, closed = c.read_until_close(2.0)
        self.assertEqual(rest, b"", "request after Connection: close answered")
        self.assertTrue(closed, "server did not close after Connection: close")

    def test_http10_closes(self):
        srv = self.start_server()
        c = self.connect(srv)
        c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, HEALTH_BODY)
        rest, closed = c.read_until_close(2.0)
        self.assertEqual(rest, b"")
        self.assertTrue(closed, "HTTP/1.0 connection not closed after response")


# ==========================================================================
class TestWire(ServerTestCase):
    """Pipelining, split requests, request bodies and 100-continue."""

    def test_pipelining_10_mixed(self):
        srv = self.start_server(debug_echo=True)
        echo1 = b"pipelined body \x00\x01\xff\r\n\r\nGET / HTTP/1.1\r\n"
        echo2 = os.urandom(3000)
        reqs = [
            ("GET", "/healthz", build_request("GET", "/healthz")),
            ("GET", "/readyz", build_request("GET", "/readyz")),
            ("HEAD", "/healthz", build_request("HEAD", "/healthz")),
            ("POST", "/debug/echo", build_request("POST", "/debug/echo", body=echo1)),
            ("GET", "/nope", build_request("GET", "/nope")),
            ("GET", "/healthz", build_request("GET", "/healthz")),
            ("POST", "/debug/echo", build_request(
                "POST", "/debug/echo", [("Transfer-Encoding", "chunked")],
                body=chunked(echo2, 1000))),
            ("POST", "/healthz", build_request("POST", "/healthz", body=b"")),
            ("GET", "/readyz", build_request("GET", "/readyz")),
            ("GET", "/healthz", build_request("GET", "/healthz")),
        ]
        expect = [(200, HEALTH_BODY), (200, READY_BODY), (200, b""),
                  (200, echo1), (404, None), (200, HEALTH_BODY), (200, echo2),
                  (405, None), (200, READY_BODY), (200, HEALTH_BODY)]
        c = self.connect(srv)
        c.send(b"".join(r[2] for r in reqs))
        for i, ((method, path, _), (status, body)) in enumerate(zip(reqs, expect)):
            r = c.read_response(head=(method == "HEAD"))
            self.assertEqual(r.status, status, f"response #{i} ({method} {path}): {r}")
            if body is not None:
                self.assertEqual(r.body, body, f"response #{i} ({method} {path})")
            if method == "HEAD":
                self.assertEqual(r.header("Content-Length"), "16", r)
        # Still open and in sync afterwards.
        c.send(build_request("GET", "/healthz"))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, HEALTH_BODY))
        # The access log records them in order.
        want = [(m, p) for m, p, _ in reqs] + [("GET", "/healthz")]
        entries = srv.wait_access(lambda e: len(e) >= len(want), 2.0)
        got = [(field(e, "http.request.method"), field(e, "url.path")) for e in entries]
        self.assertEqual(got, want)

    def test_request_split_byte_by_byte(self):
        srv = self.start_server(debug_echo=True)
        c = self.connect(srv)
        data = (build_request("GET", "/healthz", [("X-Split", "yes")])
                + build_request("POST", "/debug/echo", body=b"hello, slow world"))
        deadline = time.monotonic() + 10
        self.assertTrue(c.send_slowly(data, step=1, delay=0.004, deadline=deadline),
                        "connection closed while sending byte by byte")
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, HEALTH_BODY), r)
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"hello, slow world"), r)

    def test_chunked_body_with_extensions_and_trailers(self):
        srv = self.start_server(debug_echo=True)
        c = self.connect(srv)
        body = (b"5;ext=1\r\nhello\r\n"
                b"7\r\n, world\r\n"
                b"0\r\nX-Trailer: t\r\n\r\n")
        c.send(build_request("POST", "/debug/echo",
                             [("Transfer-Encoding", "chunked")], body=body))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"hello, world"), r)
        c.send(build_request("GET", "/healthz"))
        self.assertEqual(c.read_response().status, 200)

    def test_100_continue_before_body(self):
        srv = self.start_server(debug_echo=True)
        c = self.connect(srv)
        body = b"hello world"
        c.send(build_request("POST", "/debug/echo",
                             [("Expect", "100-continue"),
                              ("Content-Length", str(len(body)))]))
        interim = c.read_response(timeout=2.0)
        self.assertEqual(interim.status, 100, interim)
        self.assertEqual(interim.raw, CONTINUE)
        c.send(body)
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, body), r)
        c.send(build_request("GET", "/healthz"))
        self.assertEqual(c.read_response().status, 200)

    def test_expect_oversize_gets_413_without_100_and_close(self):
        srv = self.start_server("--max-body-bytes", "1k", debug_echo=True)
        c = self.connect(srv)
        c.send(build_request("POST", "/debug/echo",
                             [("Expect", "100-continue"), ("Content-Length", "2048")]))
        r = c.read_response(timeout=3.0)
        self.assertNotEqual(r.status, 100, "100 Continue sent for a body it rejects")
        self.assertProblem(r, 413)
        self.assertTrue(c.wait_closed(2.0), "connection not closed after 413")

    def test_413_content_length_over_limit(self):
        srv = self.start_server("--max-body-bytes", "1k", debug_echo=True)
        # At the limit: accepted.
        body = b"x" * 1024
        r = harness.request(srv.port, "POST", "/debug/echo", body=body)
        self.assertEqual((r.status, r.body), (200, body), r)
        # One over: 413 and close, without the server needing the body.
        c = self.connect(srv)
        c.send(build_request("POST", "/debug/echo", [("Content-Length", "1025")]))
        r = c.read_response(timeout=3.0)
        self.assertProblem(r, 413)
        self.assertTrue(c.wait_closed(2.0), "connection not closed after 413")

    def test_413_default_limit_is_8m(self):
        srv = self.start_server(debug_echo=True)
        c = self.connect(srv)
        c.send(build_request("POST", "/debug/echo",
                             [("Expect", "100-continue"),
                              ("Content-Length", str(8 * 1024 * 1024))]))
        r = c.read_response(timeout=3.0)
        self.assertEqual(r.status, 100, f"8 MiB body (= default limit) not accepted: {r}")
        c.close()
        c = self.connect(srv)
        c.send(build_request("POST", "/debug/echo",
                             [("Expect", "100-continue"),
                              ("Content-Length", str(8 * 1024 * 1024 + 1))]))
        r = c.read_response(timeout=3.0)
        self.assertProblem(r, 413)

    def test_413_chunked_over_limit(self):
        srv = self.start_server("--max-body-bytes", "1k", debug_echo=True)
        # Exactly 1024 bytes chunked: accepted.
        body = os.urandom(1024)
        c = self.connect(srv)
        c.send(build_request("POST", "/debug/echo", [("Transfer-Encoding", "chunked")],
                             body=chunked(body, 400)))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, body), r)
        # Growing past it (3 x 400 bytes, no last chunk): 413 and close.
        c = self.connect(srv)
        piece = b"190\r\n" + b"y" * 400 + b"\r\n"
        c.send(build_request("POST", "/debug/echo", [("Transfer-Encoding", "chunked")])
               + piece * 3)
        r = c.read_response(timeout=3.0)
        self.assertProblem(r, 413)
        self.assertTrue(c.wait_closed(2.0), "connection not closed after chunked 413")


# ==========================================================================
class TestHeadLimits(ServerTestCase):
    """--max-header-bytes and --max-headers -> 431 then close."""

    def test_431_header_bytes_small_limit(self):
        srv = self.start_server("--max-header-bytes", "1k")
        ok = build_request("GET", "/healthz", [("X-Pad", "p" * 700)])
        self.assertLess(len(ok), 1024)
        r = harness.request(srv.port, "GET", "/healthz", [("X-Pad", "p" * 700)])
        self.assertEqual(r.status, 200, f"{len(ok)}-byte head under 1k limit: {r}")
        c = self.connect(srv)
        c.send(build_request("GET", "/healthz", [("X-Big", "b" * 1500)]))
        r = c.read_response(timeout=3.0)
        self.assertProblem(r, 431)
        self.assertTrue(c.wait_closed(2.0), "connection not closed after 431")

    def test_431_header_bytes_default_16k(self):
        srv = self.start_server()
        r = harness.request(srv.port, "GET", "/healthz", [("X-Pad", "p" * 15000)])
        self.assertEqual(r.status, 200, f"15000-byte header under 16k default: {r}")
        c = self.connect(srv)
        c.send(build_request("GET", "/healthz", [("X-Big", "b" * 20000)]))
        r = c.read_response(timeout=3.0)
        self.assertProblem(r, 431)
        self.assertTrue(c.wait_closed(2.0), "connection not closed after 431")

    def test_431_too_many_headers_small_limit(self):
        srv = self.start_server("--max-headers", "10")
        few = [(f"X-H{i}", "v") for i in range(8)]  # + Host = 9
        r = harness.request(srv.port, "GET", "/healthz", few)
        self.assertEqual(r.status, 200, f"9 headers with limit 10: {r}")
        c = self.connect(srv)
        c.send(build_request("GET", "/healthz", [(f"X-H{i}", "v") for i in range(20)]))
        r = c.read_response(timeout=3.0)
        self.assertProblem(r, 431)
        self.assertTrue(c.wait_closed(2.0), "connection not closed after 431")

    def test_431_too_many_headers_default_100(self):
        srv = self.start_server()
        r = harness.request(srv.port, "GET", "/healthz",
                            [(f"X-H{i}", "v") for i in range(60)])
        self.assertEqual(r.status, 200, f"61 headers with default limit 100: {r}")
        c = self.connect(srv)
        c.send(build_request("GET", "/healthz", [(f"X-H{i}", "v") for i in range(150)]))
        r = c.read_response(timeout=3.0)
        self.assertProblem(r, 431)
        self.assertTrue(c.wait_closed(2.0), "connection not closed after 431")


# ==========================================================================
FOLLOW = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

# name -> (request bytes, expected status). Each is followed by FOLLOW in the
# same write, which must never be answered.
SMUGGLING = {
    "cl_and_te": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "te_and_cl": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
    "two_differing_cl": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         b"Content-Length: 6\r\n\r\nhello!", 400),
    "differing_cl_list": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 5, 6\r\n\r\nhello!", 400),
    "chunk_size_not_hex": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    "chunk_size_17_hex_digits": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n"
                                 b"00000000000000005\r\nhello\r\n0\r\n\r\n", 400),
    "obs_fold_space": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n", 400),
    "obs_fold_tab": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tfolded\r\n\r\n", 400),
    "bare_cr_in_header": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
    "bare_cr_in_request_line": (b"GET /healthz\rX HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "bad_method_token": (b"G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "bad_header_name_token": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ba(d: 1\r\n\r\n", 400),
    "cl_30_digits": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 123456789012345678901234567890\r\n\r\n", 400),
    "cl_negative": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    "cl_not_a_number": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 5x\r\n\r\nhello", 400),
    "space_before_colon": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length : 5\r\n\r\nhello", 400),
    "te_gzip_501": (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: gzip\r\n\r\nhello", 501),
    "http_1_2_505": (b"GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n", 505),
    "missing_host_http11": (b"GET /healthz HTTP/1.1\r\nUser-Agent: t\r\n\r\n", 400),
}


class TestSmuggling(ServerTestCase):
    """Every ambiguous framing shape: the error status, problem+json, the
    connection closed within 2 s, and the request pipelined behind it never
    answered. A test method per shape is generated below."""

    def check_shape(self, data, status):
        srv = self.start_server(debug_echo=True)
        c = self.connect(srv)
        c.send(data + FOLLOW)
        r = c.read_response(timeout=3.0)
        self.assertProblem(r, status)
        rest, closed = c.read_until_close(2.0)
        self.assertNotIn(b"HTTP/1.", rest,
                         "the request pipelined after the bad one was answered")
        self.assertEqual(rest, b"", "bytes after the error response")
        self.assertTrue(closed, "connection not closed within 2 s of the error")
        # The server is still fine for everyone else.
        r = harness.request(srv.port, "GET", "/healthz")
        self.assertEqual(r.status, 200)


def _make_smuggling_test(data, status):
    def test(self):
        self.check_shape(data, status)
    test.__doc__ = f"{data[:60]!r} -> {status}"
    return test


for _name, (_data, _status) in SMUGGLING.items():
    setattr(TestSmuggling, f"test_{_name}", _make_smuggling_test(_data, _status))


# ==========================================================================
class TestTimeouts(ServerTestCase):

    def test_slowloris_gets_408(self):
        srv = self.start_server("--header-timeout", "1s")
        c = self.connect(srv)
        t0 = time.monotonic()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        other_served_in = None
        got = b""
        while time.monotonic() - t0 < 4.0:
            got = c.peek_bytes(0.3)
            if got or c.eof:
                break
            if other_served_in is None and time.monotonic() - t0 > 0.4:
                t1 = time.monotonic()
                r = harness.request(srv.port, "GET", "/healthz", timeout=2.0)
                other_served_in = time.monotonic() - t1
                self.assertEqual(r.status, 200, "normal client not served during slowloris")
            if not c.send(b"a"):
                break
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(other_served_in, "normal client never tried (408 too early?)")
        self.assertLess(other_served_in, 1.0)
        self.assertTrue(got, f"no 408 within {elapsed:.1f}s of trickling "
                             f"(eof={c.eof}) with --header-timeout 1s")
        r = c.read_response(timeout=1.0)
        self.assertProblem(r, 408)
        self.assertGreaterEqual(elapsed, 0.8, "408 before the header timeout")
        self.assertLessEqual(elapsed, 3.0, "408 came too late")
        self.assertTrue(c.wait_closed(2.0), "connection not closed after 408")

    def test_idle_keepalive_closed_silently(self):
        srv = self.start_server("--idle-timeout", "1s")
        c = self.connect(srv)
        c.send(build_request("GET", "/healthz"))
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertFalse(r.has_token("Connection", "close"), r)
        t0 = time.monotonic()
        rest, closed = c.read_until_close(3.5)
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, "idle connection still open 3.5 s after --idle-timeout 1s")
        self.assertEqual(rest, b"", "idle close was not silent")
        self.assertGreaterEqual(elapsed, 0.7, f"closed after only {elapsed:.2f}s")

    def test_activity_resets_idle_timer(self):
        srv = self.start_server("--idle-timeout", "1s")
        c = self.connect(srv)
        for i in range(4):  # ~2 s in total, 0.5 s apart
            c.send(build_request("GET", "/healthz"))
            r = c.read_response()
            self.assertEqual(r.status, 200, f"request {i}: {r}")
            time.sleep(0.5)


# ==========================================================================
@unittest.skipIf(H2LOAD is None, "h2load not installed")
class TestLoad(ServerTestCase):

    def test_h2load_10000(self):
        srv = self.start_server()
        url = f"http://127.0.0.1:{srv.port}/healthz"
        p = run([H2LOAD, "--h1", "-n", "10000", "-c", "4", url], timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        h = parse_h2load(out)
        self.assertIsNotNone(h, f"unparsable h2load output:\n{out}\n{p.stderr!r}")
        self.assertEqual(h["requests_line"],
                         "requests: 10000 total, 10000 started, 10000 done, "
                         "10000 succeeded, 0 failed, 0 errored, 0 timeout", out)
        self.assertEqual(h.get("2xx"), 10000, out)
        self.assertEqual(srv.stop(), 0, "exit status after SIGTERM")
        entries = srv.access_entries()
        hz = [e for e in entries if field(e, "url.path") == "/healthz"]
        self.assertEqual(len(hz), 10000, "access-log /healthz lines")
        bad = [e for e in hz if field(e, "http.response.status_code") != 200
               or field(e, "http.request.method") != "GET"
               or field(e, "network.protocol.name") != "http/1.1"]
        self.assertEqual(bad[:3], [], "access-log lines with unexpected fields")


# ==========================================================================
class TestShutdown(ServerTestCase):

    @unittest.skipIf(H2LOAD is None, "h2load not installed")
    def test_sigterm_during_load(self):
        srv = self.start_server()
        url = f"http://127.0.0.1:{srv.port}/healthz"
        h2 = subprocess.Popen([H2LOAD, "--h1", "-n", "200000", "-c", "8", url],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)
            self.assertIsNone(h2.poll(), "h2load finished before SIGTERM")
            t0 = time.monotonic()
            srv.expect_exit = True
            srv.send_signal(signal.SIGTERM)
            rc = srv.wait_exit(10)
            took = time.monotonic() - t0
            try:
                out, err = h2.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                h2.kill()
                out, err = h2.communicate(timeout=5)
                self.fail("h2load still running 20 s after objectd got SIGTERM")
        finally:
            if h2.poll() is None:
                h2.kill()
                h2.wait(5)
        self.assertEqual(rc, 0, f"objectd exit status after SIGTERM under load "
                                f"(None = still running after 10 s); took {took:.1f}s\n"
                                f"{srv.stderr_tail()}")
        text = out.decode("utf-8", "replace")
        h = parse_h2load(text)
        self.assertIsNotNone(h, f"unparsable h2load output:\n{text}\n{err!r}")
        srv.stop()
        entries = srv.access_entries()
        logged_2xx = sum(1 for e in entries
                         if is_int(field(e, "http.response.status_code"))
                         and 200 <= field(e, "http.response.status_code") < 300)
        self.assertGreater(h["succeeded"], 0, text)
        self.assertEqual(logged_2xx, h["succeeded"],
                         f"2xx in access log vs h2load succeeded; h2load: "
                         f"{h['requests_line']}")

    def _partial_inflight(self, srv):
        """A connection that finished one request and has sent part of the
        next head (GET /readyz) - in flight, not idle."""
        c = self.connect(srv)
        c.send(build_request("GET", "/healthz"))
        self.assertEqual(c.read_response().status, 200)
        c.send(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.2)
        return c

    def test_sigterm_inflight_readyz_503_and_stop_accepting(self):
        srv = self.start_server("--drain-timeout", "10s")
        c = self._partial_inflight(srv)
        srv.expect_exit = True
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        self.assertIsNone(srv.proc.poll(), "exited with a request in flight")
        # No new connections are served during the drain.
        try:
            with Conn(srv.port, timeout=1.0) as n:
                n.send(build_request("GET", "/healthz"))
                try:
                    r = n.read_response(timeout=1.0)
                    self.fail(f"new connection served during drain: {r}")
                except (harness.ConnectionClosed, harness.ResponseTimeout):
                    pass
        except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
            pass
        # The in-flight request completes: /readyz says draining + close.
        c.send(b"\r\n")
        r = c.read_response(timeout=3.0)
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.body, DRAIN_BODY)
        self.assertTrue(r.has_token("Connection", "close"), r)
        self.assertTrue(c.wait_closed(2.0), "connection not closed after draining 503")
        rc = srv.wait_exit(3.0)
        self.assertEqual(rc, 0, "exit status once nothing is in flight "
                                "(None = still running 3 s later)")

    def test_sigterm_idle_connection_readyz(self):
        """An idle keep-alive connection during drain: either closed by the
        server (it is idle) or answered 503 draining with Connection: close;
        never 200 ready."""
        srv = self.start_server()
        c = self.connect(srv)
        c.send(build_request("GET", "/readyz"))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, READY_BODY))
        srv.expect_exit = True
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        c.send(build_request("GET", "/readyz"))
        try:
            r = c.read_response(timeout=2.0)
        except harness.ConnectionClosed as e:
            self.assertEqual(e.partial, b"")
        else:
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.body, DRAIN_BODY)
            self.assertTrue(r.has_token("Connection", "close"), r)
            self.assertTrue(c.wait_closed(2.0))
        self.assertEqual(srv.wait_exit(5.0), 0)

    def test_sigterm_closes_idle_connections_and_exits_fast(self):
        srv = self.start_server()  # default --drain-timeout 30s
        conns = []
        for _ in range(3):
            c = self.connect(srv)
            c.send(build_request("GET", "/healthz"))
            self.assertEqual(c.read_response().status, 200)
            conns.append(c)
        t0 = time.monotonic()
        srv.expect_exit = True
        srv.send_signal(signal.SIGTERM)
        for i, c in enumerate(conns):
            rest, closed = c.read_until_close(3.0)
            self.assertTrue(closed, f"idle connection {i} not closed on SIGTERM")
            self.assertEqual(rest, b"")
        rc = srv.wait_exit(5.0)
        self.assertEqual(rc, 0, "exit status (None = still running after 5 s "
                                "with only idle connections)")
        self.assertLess(time.monotonic() - t0, 5.0)

    def test_sigint_exits_zero(self):
        srv = self.start_server()
        harness.request(srv.port, "GET", "/healthz")
        self.assertEqual(srv.stop(signal.SIGINT, timeout=5.0), 0)

    def test_drain_timeout_bounds_exit(self):
        srv = self.start_server("--drain-timeout", "1s")
        c = self._partial_inflight(srv)  # never completed
        t0 = time.monotonic()
        srv.expect_exit = True
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait_exit(4.0)
        took = time.monotonic() - t0
        self.assertIsNotNone(rc, "still running 4 s after SIGTERM with --drain-timeout 1s")
        self.assertLess(took, 3.0)
        c.close()


# ==========================================================================
class TestLogs(ServerTestCase):

    def test_stderr_is_ecs_json(self):
        srv = self.start_server()
        lines = srv.stderr_lines()
        self.assertTrue(lines)
        ts = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
        for line in lines:
            rec = harness._json_or_none(line)
            self.assertIsNotNone(rec, f"stderr line is not a JSON object: {line!r}")
            for k in ("@timestamp", "log.level", "message"):
                self.assertIn(k, rec, f"log line lacks flat key {k!r}: {line}")
                self.assertIsInstance(rec[k], str, line)
            self.assertRegex(rec["@timestamp"], ts)
        rec = srv.listening[0]
        self.assertIn("server.port", rec)
        self.assertTrue(is_int(rec["server.port"]), rec)
        self.assertGreater(rec["server.port"], 0)
        self.assertEqual(rec.get("server.address"), "127.0.0.1", rec)

    def test_access_log_fields(self):
        srv = self.start_server(debug_echo=True)
        c = self.connect(srv)
        c.send(build_request("GET", "/healthz"))
        c.read_response()
        c.send(build_request("GET", "/nope"))
        c.read_response()
        c.send(build_request("HEAD", "/healthz"))
        c.read_response(head=True)
        c.send(build_request("POST", "/debug/echo", body=b"0123456789"))
        c.read_response()
        t0 = time.monotonic()
        entries = srv.wait_access(lambda e: len(e) >= 4, 2.0)
        self.assertEqual(len(entries), 4, entries)
        self.assertLess(time.monotonic() - t0, 1.0,
                        "access lines not flushed within 1 s (contract: 200 ms)")
        for e in entries:
            for k in ("http.request.method", "url.path", "http.response.status_code",
                      "http.response.body.bytes", "event.duration",
                      "network.protocol.name"):
                self.assertIn(k, e, f"access line lacks {k!r}: {e}")
            self.assertTrue(is_int(e["http.response.status_code"]), e)
            self.assertTrue(is_int(e["http.response.body.bytes"]), e)
            self.assertTrue(is_int(e["event.duration"]), e)
            self.assertGreaterEqual(e["event.duration"], 0, e)
            self.assertEqual(e["network.protocol.name"], "http/1.1", e)
        g, nf, hd, po = entries
        self.assertEqual((g["http.request.method"], g["url.path"], g.get("http.route"),
                          g["http.response.status_code"], g["http.response.body.bytes"]),
                         ("GET", "/healthz", "/healthz", 200, 16))
        self.assertEqual((nf["url.path"], nf["http.response.status_code"]), ("/nope", 404))
        self.assertIn(nf.get("http.route"), (None, ""), nf)
        self.assertEqual((hd["http.request.method"], hd["http.response.status_code"]),
                         ("HEAD", 200))
        self.assertEqual((po["http.request.method"], po.get("http.route"),
                          po["http.response.body.bytes"]), ("POST", "/debug/echo", 10))

    def test_access_log_to_stdout(self):
        srv = self.start_server(access_log="-")
        harness.request(srv.port, "GET", "/readyz")
        line = srv.wait_stdout(
            lambda l: field(harness._json_or_none(l) or {}, "url.path") == "/readyz", 2.0)
        self.assertIsNotNone(line, f"no access line on stdout: {srv.stdout_lines()[:5]}")

    def test_access_log_off(self):
        srv = self.start_server(access_log="off")
        harness.request(srv.port, "GET", "/healthz")
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(os.path.join(srv.tmpdir, "off")),
                         "--access-log off created a file named 'off'")
        self.assertEqual([l for l in srv.stdout_lines() if "/healthz" in l], [])


# ==========================================================================
@unittest.skipIf(CURL is None, "curl not installed")
class TestCurl(ServerTestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="objectd-curl-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.tmp, ignore_errors=True))

    def path(self, name):
        return os.path.join(self.tmp, name)

    def test_curl_get_healthz(self):
        srv = self.start_server()
        p = run(curl_cmd("-D", self.path("h"), "-o", self.path("b"), "-w", "%{http_code}",
                         f"http://127.0.0.1:{srv.port}/healthz"), timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"200")
        with open(self.path("b"), "rb") as f:
            self.assertEqual(f.read(), HEALTH_BODY)
        with open(self.path("h")) as f:
            status, hdrs = parse_header_block(f.read())
        self.assertEqual(status, 200)
        self.assertEqual(hdrs.get("content-type", "").split(";")[0].strip(),
                         "application/json", hdrs)

    def test_curl_two_urls_one_connection(self):
        srv = self.start_server()
        url = f"http://127.0.0.1:{srv.port}/healthz"
        p = run(curl_cmd("-v", "-o", "/dev/null", "-o", "/dev/null",
                         "-w", "%{http_code} %{num_connects}\n", url, url), timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = [l.split() for l in p.stdout.decode().splitlines() if l.strip()]
        self.assertEqual([r[0] for r in rows], ["200", "200"], p.stdout)
        self.assertEqual(sum(int(r[1]) for r in rows), 1,
                         f"curl opened more than one connection: {p.stdout!r}")
        self.assertIn(b"Re-using existing connection", p.stderr)

    def test_curl_head(self):
        srv = self.start_server()
        url = f"http://127.0.0.1:{srv.port}/healthz"
        # Two HEADs on one connection: a stray body would desynchronise it.
        p = run(curl_cmd("-I", "-w", "%{num_connects}\n", url, url), timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        text = p.stdout.decode("latin-1")
        blocks = [b for b in re.split(r"\r\n\r\n", text) if b.strip()]
        first = blocks[0]
        status, hdrs = parse_header_block(first)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs.get("content-length"), "16", hdrs)
        self.assertEqual(text.count("HTTP/1.1 200"), 2, text)
        self.assertNotIn('{"status"', text, "HEAD response carried a body")
        connects = [int(x) for x in re.findall(r"^(\d+)\s*$", text, re.M)]
        self.assertEqual(sum(connects), 1, text)

    def test_curl_chunked_upload_200k(self):
        srv = self.start_server(debug_echo=True)
        data = random.Random(1234).randbytes(200 * 1024)
        with open(self.path("in"), "wb") as f:
            f.write(data)
        p = run(curl_cmd("-v", "-H", "Transfer-Encoding: chunked",
                         "-H", "Content-Type: application/octet-stream",
                         "--data-binary", "@" + self.path("in"), "-o", self.path("out"),
                         "-w", "%{http_code}", f"http://127.0.0.1:{srv.port}/debug/echo"),
                timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertIn(b"> Transfer-Encoding: chunked", p.stderr)
        self.assertEqual(p.stdout, b"200")
        with open(self.path("out"), "rb") as f:
            echoed = f.read()
        self.assertEqual(len(echoed), len(data))
        self.assertTrue(echoed == data, "echoed bytes differ")

    def test_curl_expect_100_continue(self):
        srv = self.start_server(debug_echo=True)
        data = random.Random(99).randbytes(64 * 1024)
        with open(self.path("in"), "wb") as f:
            f.write(data)
        t0 = time.monotonic()
        p = run(curl_cmd("-v", "-H", "Expect: 100-continue", "--expect100-timeout", "5",
                         "--data-binary", "@" + self.path("in"), "-o", self.path("out"),
                         "-w", "%{http_code}", f"http://127.0.0.1:{srv.port}/debug/echo"),
                timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertIn(b"< HTTP/1.1 100 Continue", p.stderr)
        self.assertLess(took, 4.0, "curl waited for its expect100 timeout")
        self.assertEqual(p.stdout, b"200")
        with open(self.path("out"), "rb") as f:
            self.assertTrue(f.read() == data, "echoed bytes differ")


# ==========================================================================
HELP_DEFAULTS = {
    "--max-header-bytes": r"16384|16\s?[kK]",
    "--max-headers": r"\b100\b",
    "--max-body-bytes": r"\b8\s?[mM]|8388608",
    "--header-timeout": r"\b10\s?s|\b10\b",
    "--idle-timeout": r"\b60\s?s|\b60\b|\b1m\b",
    "--drain-timeout": r"\b30\s?s|\b30\b",
}
HELP_FLAGS = ["--listen", "--threads", "--access-log", "--debug-echo", "--config",
              *HELP_DEFAULTS]


class TestConfig(ServerTestCase):

    def bin(self):
        return str(harness.require_binary())

    def run_bin(self, *args, timeout=5, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("OBJECTD_")}
        e.update(env or {})
        try:
            return run([self.bin(), *args], timeout=timeout, env=e)
        except subprocess.TimeoutExpired:
            self.fail(f"objectd {' '.join(args)} still running after {timeout}s "
                      f"(expected it to exit)")

    def test_help_lists_flags_and_defaults(self):
        p = self.run_bin("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        text = (p.stdout + p.stderr).decode("utf-8", "replace")
        lines = text.splitlines()
        for flag in HELP_FLAGS:
            pat = re.compile(re.escape(flag) + r"(?![\w-])")
            idx = [i for i, l in enumerate(lines) if pat.search(l)]
            self.assertTrue(idx, f"--help does not mention {flag}:\n{text}")
            if flag in HELP_DEFAULTS:
                i = idx[0]
                near = "\n".join(lines[i:i + 3])
                self.assertRegex(near, HELP_DEFAULTS[flag],
                                 f"default of {flag} not shown near:\n{near}")

    def test_unknown_flag_exits_2(self):
        for args in (("--no-such-flag",),
                     ("serve", "--listen", "127.0.0.1:0", "--access-log", "off",
                      "--no-such-flag")):
            with self.subTest(args=args):
                p = self.run_bin(*args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(b"no-such-flag", p.stderr)

    def test_bad_values_exit_2(self):
        cases = [("--threads", "abc", b"threads"),
                 ("--max-body-bytes", "1x", b"max-body-bytes"),
                 ("--header-timeout", "soon", b"header-timeout")]
        for flag, value, name in cases:
            with self.subTest(flag=flag, value=value):
                p = self.run_bin("serve", "--listen", "127.0.0.1:0", "--access-log",
                                 "off", flag, value)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(name, p.stderr)

    def expect_verdict(self, srv, length):
        """Status of the first response to a POST head with Expect and
        Content-Length `length` (100 = accepted, 413 = rejected)."""
        with Conn(srv.port) as c:
            c.send(build_request("POST", "/debug/echo",
                                 [("Expect", "100-continue"),
                                  ("Content-Length", str(length))]))
            return c.read_response(timeout=3.0).status

    def test_size_units(self):
        for value, limit in (("2k", 2048), ("1m", 1024 * 1024), ("1500", 1500)):
            with self.subTest(value=value):
                srv = self.start_server("--max-body-bytes", value, debug_echo=True)
                self.assertEqual(self.expect_verdict(srv, limit), 100)
                self.assertEqual(self.expect_verdict(srv, limit + 1), 413)
                srv.stop()

    def test_duration_units(self):
        for value, lo, hi in (("500ms", 0.3, 1.4), ("1", 0.7, 2.5)):
            with self.subTest(value=value):
                srv = self.start_server("--idle-timeout", value)
                c = self.connect(srv)
                c.send(build_request("GET", "/healthz"))
                self.assertEqual(c.read_response().status, 200)
                t0 = time.monotonic()
                _, closed = c.read_until_close(hi + 0.5)
                took = time.monotonic() - t0
                self.assertTrue(closed, f"--idle-timeout {value}: not closed")
                self.assertGreaterEqual(took, lo, f"--idle-timeout {value}")
                self.assertLessEqual(took, hi, f"--idle-timeout {value}")
                srv.stop()

    def test_env_listen(self):
        port = free_port()
        srv = self.start_server(listen=None, env={"OBJECTD_LISTEN": f"127.0.0.1:{port}"})
        self.assertEqual(srv.port, port)
        self.assertEqual(harness.request(port, "GET", "/healthz").status, 200)

    def test_bare_objectd_serves(self):
        srv = self.start_server(raw_argv=[], env={"OBJECTD_LISTEN": "127.0.0.1:0"})
        self.assertGreater(srv.port, 0)
        r = harness.request(srv.port, "GET", "/healthz")
        self.assertEqual((r.status, r.body), (200, HEALTH_BODY))

    def test_config_file_and_flag_override(self):
        port = free_port()
        tmp = tempfile.mkdtemp(prefix="objectd-cfg-")
        self.addCleanup(lambda: __import__("shutil").rmtree(tmp, ignore_errors=True))
        cfg = os.path.join(tmp, "objectd.conf")
        with open(cfg, "w") as f:
            f.write("# objectd test configuration\n"
                    f"listen = 127.0.0.1:{port}\n"
                    "\n"
                    "   # indented comment\n"
                    "max-body-bytes = 1k\n"
                    "threads = 2\n")
        srv = self.start_server("--config", cfg, listen=None, threads=None,
                                access_log="off", debug_echo=True)
        self.assertEqual(srv.port, port, "listen from the config file ignored")
        self.assertEqual(self.expect_verdict(srv, 1024), 100)
        self.assertEqual(self.expect_verdict(srv, 1025), 413,
                         "max-body-bytes from the config file ignored")
        srv.stop()
        srv2 = self.start_server("--config", cfg, "--max-body-bytes", "4k",
                                 "--listen", "127.0.0.1:0", listen=None, threads=None,
                                 access_log="off", debug_echo=True)
        self.assertNotEqual(srv2.port, port, "--listen did not override the config file")
        self.assertEqual(self.expect_verdict(srv2, 4096), 100,
                         "--max-body-bytes did not override the config file")


if __name__ == "__main__":
    harness.main()
