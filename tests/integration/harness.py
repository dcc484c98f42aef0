"""Shared helpers for objectd's integration tests (Python 3.11 stdlib only).

What lives here:
  * locating the objectd binary (env OBJECTD_BIN, else build/objectd under
    the repository root);
  * Server: starts objectd on an ephemeral port, learns the port from the
    JSON "listening" log line on stderr (stderr and stdout are drained by
    background threads so the pipes never fill), stops/kills it, reads its
    access log;
  * Conn: a raw-socket client that sends bytes and reads complete HTTP/1.1
    responses (Content-Length, chunked, read-until-close), keeps leftover
    bytes for pipelining, and detects a server-side close;
  * helpers to run external tools (curl, h2load) with a timeout;
  * main(): a tiny unittest runner whose LAST printed line is exactly
    "N passed, N failed" and whose exit status is non-zero on any failure
    or error.

Every wait is bounded by a timeout, and every server started through this
module is killed, and its temp dir removed, at the latest when the process
exits (atexit, watchdog).
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Generous default timeouts (seconds). Tests pass tighter ones where the
# contract promises a bound.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 5.0


# --------------------------------------------------------------------------
# Binary discovery


def objectd_bin():
    """Path of the objectd binary: $OBJECTD_BIN (relative paths are tried
    against the current directory, then the repository root), else
    build/objectd under the repository root. May not exist."""
    env = os.environ.get("OBJECTD_BIN")
    if env:
        p = Path(env)
        if p.is_absolute():
            return p
        if (Path.cwd() / p).exists():
            return (Path.cwd() / p).resolve()
        return REPO_ROOT / p
    return REPO_ROOT / "build" / "objectd"


def require_binary():
    """Raises a clear error when the binary is missing/not executable."""
    p = objectd_bin()
    if not p.is_file() or not os.access(p, os.X_OK):
        raise FileNotFoundError(
            f"objectd binary not found or not executable at {p} "
            f"(build it, or set OBJECTD_BIN)")
    return p


def tool_path(name, fallback=None):
    """Absolute path of an external tool, or None."""
    p = shutil.which(name)
    if p:
        return p
    if fallback and os.access(fallback, os.X_OK):
        return fallback
    return None


# --------------------------------------------------------------------------
# Process registry: whatever happens, no objectd outlives the test run.

_LIVE = set()
_LIVE_LOCK = threading.Lock()


# Server.tmpdir of every Server not cleaned up yet; kill_all removes them.
_TMPDIRS = set()


def _register(proc):
    with _LIVE_LOCK:
        _LIVE.add(proc)


def _unregister(proc):
    with _LIVE_LOCK:
        _LIVE.discard(proc)


def kill_all():
    with _LIVE_LOCK:
        procs = list(_LIVE)
        tmpdirs = list(_TMPDIRS)
        _TMPDIRS.clear()
    for p in procs:
        try:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        except Exception:
            pass
        _unregister(p)
    # Temp dirs of servers that never got cleanup() (a class fixture that
    # failed, a watchdog abort): removed after their processes are dead so
    # no run leaves objectd-it-* behind in /tmp.
    for d in tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(kill_all)


# --------------------------------------------------------------------------
# JSON log helpers


def field(obj, dotted, default=None):
    """ECS field lookup: the flat dotted key first ("server.port"), then the
    nested form ({"server": {"port": ...}})."""
    if not isinstance(obj, dict):
        return default
    if dotted in obj:
        return obj[dotted]
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def parse_json_lines(text):
    """Returns (records, bad_lines) for newline-separated JSON objects."""
    records, bad = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if isinstance(obj, dict):
            records.append(obj)
        else:
            bad.append(line)
    return records, bad


class _LineReader(threading.Thread):
    """Drains a pipe line by line into a list (so the pipe never fills)."""

    def __init__(self, pipe, name):
        super().__init__(name=name, daemon=True)
        self.pipe = pipe
        self.lines = []  # decoded lines without the trailing newline
        self.cond = threading.Condition()
        self.eof = False

    def run(self):
        try:
            for raw in iter(self.pipe.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    def snapshot(self):
        with self.cond:
            return list(self.lines)

    def wait_for(self, pred, timeout):
        """Waits until pred(line) holds for some line; returns that line or
        None on timeout/EOF. Lines are re-checked from the start."""
        deadline = time.monotonic() + timeout
        checked = 0
        with self.cond:
            while True:
                while checked < len(self.lines):
                    line = self.lines[checked]
                    checked += 1
                    if pred(line):
                        return line
                if self.eof:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.1))


def _json_or_none(line):
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


# --------------------------------------------------------------------------
# Server process


class ServerError(Exception):
    pass


class Server:
    """One objectd process.

    Server(args=[...], debug_echo=True, access_log=True).start() runs
        objectd serve --listen 127.0.0.1:0 --threads 2 --access-log FILE ...
    `access_log` may be True (a fresh temp file), a path, "-", "off" or None
    (flag omitted). `listen`/`threads` None omit those flags. `raw_argv`
    replaces the whole argument list (the binary is still prepended).

    The admin listener gets a port of its own (127.0.0.1:0, through
    OBJECTD_ADMIN_LISTEN so that raw_argv servers get one too): tests never
    collide with each other or with `make run` on 9090. `admin_port` is
    learnt from the "admin listening" line (None when it is off).
    """

    def __init__(self, args=(), *, debug_echo=False, access_log=True,
                 listen="127.0.0.1:0", threads=2, env=None, subcommand="serve",
                 raw_argv=None):
        self.bin = require_binary()
        self.tmpdir = tempfile.mkdtemp(prefix="objectd-it-")
        with _LIVE_LOCK:
            _TMPDIRS.add(self.tmpdir)
        if access_log is True:
            access_log = os.path.join(self.tmpdir, "access.log")
        self.access_log_path = access_log
        if raw_argv is not None:
            argv = [str(self.bin)] + list(raw_argv)
        else:
            argv = [str(self.bin)]
            if subcommand:
                argv.append(subcommand)
            if listen is not None:
                argv += ["--listen", listen]
            if threads is not None:
                argv += ["--threads", str(threads)]
            if access_log is not None:
                argv += ["--access-log", str(access_log)]
            if debug_echo:
                argv.append("--debug-echo")
            argv += list(args)
        self.argv = argv
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("OBJECTD_"):
                del self.env[k]  # no leakage from the caller's environment
        self.env["OBJECTD_ADMIN_LISTEN"] = "127.0.0.1:0"
        if env:
            self.env.update(env)
        self.proc = None
        self.port = None
        self.admin_port = None
        self.address = None
        self.listening = []  # parsed "listening" records
        self._err = None
        self._out = None
        self.expect_exit = False

    # -- lifecycle --

    def start(self, timeout=START_TIMEOUT, listeners=1):
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=self.env, cwd=self.tmpdir)
        _register(self.proc)
        self._err = _LineReader(self.proc.stderr, "objectd-stderr")
        self._out = _LineReader(self.proc.stdout, "objectd-stdout")
        self._err.start()
        self._out.start()

        deadline = time.monotonic() + timeout
        while True:
            recs = [r for r in (_json_or_none(l) for l in self._err.snapshot())
                    if r and r.get("message") == "listening"]
            if len(recs) >= listeners:
                self.listening = recs
                break
            if time.monotonic() >= deadline or self.proc.poll() is not None:
                time.sleep(0.05)  # let the reader collect the last lines
                rc = self.proc.poll()
                self.kill()
                raise ServerError(
                    f"objectd did not log 'listening' within {timeout}s "
                    f"(exit status {rc}); argv={self.argv}\n"
                    f"stderr tail:\n{self.stderr_tail()}")
            time.sleep(0.01)
        rec = self.listening[0]
        port = field(rec, "server.port")
        try:
            self.port = int(port)
        except (TypeError, ValueError):
            self.kill()
            raise ServerError(f"listening line without a usable server.port: {rec}")
        self.address = field(rec, "server.address") or "127.0.0.1"
        # The admin listener opens right after the others, before
        # "started"; wait for whichever comes (bounded), it may be off.
        while time.monotonic() < deadline:
            recs = [r for r in (_json_or_none(l) for l in self._err.snapshot())
                    if r]
            admin = [r for r in recs if r.get("message") == "admin listening"]
            if admin:
                self.admin_port = int(field(admin[0], "server.port"))
                break
            if any(r.get("message") in ("started", "stopped") for r in recs) \
                    or self.proc.poll() is not None:
                break
            time.sleep(0.01)
        return self

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Exit status, or None if still running after `timeout`."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends `sig` and waits; returns the exit status, or None when it
        had to be killed after `timeout`."""
        if self.proc is None:
            return None
        self.expect_exit = True
        if self.proc.poll() is not None:
            rc = self.proc.returncode
        else:
            self.proc.send_signal(sig)
            rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
        self._finish_readers()
        _unregister(self.proc)
        return rc

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._finish_readers()
        _unregister(self.proc)

    def _finish_readers(self):
        for r in (self._err, self._out):
            if r is not None:
                r.join(timeout=2)

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        with _LIVE_LOCK:
            _TMPDIRS.discard(self.tmpdir)

    # -- output --

    def stderr_lines(self):
        return self._err.snapshot() if self._err else []

    def stdout_lines(self):
        return self._out.snapshot() if self._out else []

    def stderr_tail(self, n=30):
        return "\n".join(self.stderr_lines()[-n:])

    def log_records(self):
        return [r for r in (_json_or_none(l) for l in self.stderr_lines()) if r]

    def wait_stdout(self, pred, timeout):
        return self._out.wait_for(pred, timeout) if self._out else None

    def access_entries(self):
        """Parsed access-log records (file mode). Raises ValueError on a
        line that is not a JSON object."""
        if not self.access_log_path or self.access_log_path in ("-", "off"):
            raise ValueError("access log is not a file")
        try:
            with open(self.access_log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        # A partially written last line may be in flight while running.
        if self.alive() and text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        recs, bad = parse_json_lines(text)
        if bad:
            raise ValueError(f"non-JSON access-log line(s): {bad[:3]!r}")
        return recs

    def wait_access(self, pred, timeout=2.0):
        """Polls the access log until pred(entries) is true; returns the
        entries (last read, even on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.access_entries()
            if pred(entries) or time.monotonic() >= deadline:
                return entries
            time.sleep(0.05)


# --------------------------------------------------------------------------
# Raw HTTP/1.1 client


class ConnectionClosed(Exception):
    """The peer closed (or reset) before a complete response arrived."""

    def __init__(self, msg, partial=b""):
        super().__init__(f"{msg}; received so far: {partial[:300]!r}")
        self.partial = partial


class ResponseTimeout(Exception):
    def __init__(self, msg, partial=b""):
        super().__init__(f"{msg}; received so far: {partial[:300]!r}")
        self.partial = partial


class Response:
    def __init__(self, version, status, reason, headers, body, raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value), as received
        self.body = body
        self.raw = raw

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_token(self, name, token):
        """Whether a comma-separated header (e.g. Connection) has token."""
        token = token.lower()
        for v in self.header_all(name):
            if token in [t.strip().lower() for t in v.split(",")]:
                return True
        return False

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return (f"<Response {self.status} {self.reason!r} "
                f"headers={self.headers!r} body={self.body[:200]!r}>")


def build_request(method, path, headers=None, body=None, version="HTTP/1.1",
                  host="127.0.0.1", content_length=True):
    """Bytes of one request. `headers` is a list of (name, value) pairs
    (order kept). Host is added first unless host is None; Content-Length
    is added for a bytes body unless content_length is False or one of the
    headers already frames it."""
    lines = [f"{method} {path} {version}"]
    hdrs = list(headers or [])
    names = {k.lower() for k, _ in hdrs}
    if host is not None and "host" not in names:
        lines.append(f"Host: {host}")
    if body is not None and content_length and not (
            names & {"content-length", "transfer-encoding"}):
        hdrs.append(("Content-Length", str(len(body))))
    for k, v in hdrs:
        lines.append(f"{k}: {v}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is not None:
        data += body
    return data


def chunked(body, chunk_size=4096):
    """`body` in chunked transfer-coding, including the last chunk."""
    out = bytearray()
    for i in range(0, len(body), chunk_size):
        piece = body[i:i + chunk_size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


class Conn:
    """A client connection that keeps unread bytes between responses."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        """Sends all of `data`. Returns False (instead of raising) if the
        peer has closed/reset the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_slowly(self, data, step=1, delay=0.005, deadline=None):
        """Sends `data` in `step`-byte pieces with `delay` between them;
        stops early (returns False) on a closed connection or deadline."""
        for i in range(0, len(data), step):
            if deadline is not None and time.monotonic() > deadline:
                return False
            if not self.send(data[i:i + step]):
                return False
            time.sleep(delay)
        return True

    def _fill(self, deadline):
        """Reads more bytes into buf. Returns False on EOF/reset; raises
        socket.timeout when the deadline passes."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _need(self, n, deadline, what):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionClosed(f"connection closed while reading {what}",
                                       bytes(self.buf))

    def _read_line(self, deadline, what):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if not self._fill(deadline):
                raise ConnectionClosed(f"connection closed while reading {what}",
                                       bytes(self.buf))

    def read_response(self, timeout=IO_TIMEOUT, head=False, skip_1xx=False):
        """Reads one complete response. `head`: the request was HEAD (no
        body follows whatever the framing headers say). 1xx responses are
        returned as such unless skip_1xx."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                resp = self._read_one(deadline, head)
            except socket.timeout:
                raise ResponseTimeout(
                    f"no complete response within {timeout}s", bytes(self.buf))
            if skip_1xx and 100 <= resp.status < 200:
                continue
            return resp

    def _read_one(self, deadline, head):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if not self._fill(deadline):
                raise ConnectionClosed("connection closed before a response head",
                                       bytes(self.buf))
        head_bytes = bytes(self.buf[:end + 4])
        del self.buf[:end + 4]
        lines = head_bytes[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise AssertionError(f"malformed status line: {lines[0]!r}")
        version, status, reason = m.group(1), int(m.group(2)), m.group(3) or ""
        headers = []
        for l in lines[1:]:
            k, sep, v = l.partition(":")
            if not sep:
                raise AssertionError(f"malformed response header line: {l!r}")
            headers.append((k, v.strip()))
        resp = Response(version, status, reason, headers, b"", head_bytes)
        if head or 100 <= status < 200 or status in (204, 304):
            return resp
        te = ",".join(resp.header_all("Transfer-Encoding")).lower()
        if "chunked" in te:
            body = bytearray()
            raw = bytearray()
            while True:
                line = self._read_line(deadline, "a chunk size")
                raw += line + b"\r\n"
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:  # trailers
                        t = self._read_line(deadline, "trailers")
                        raw += t + b"\r\n"
                        if t == b"":
                            break
                    break
                self._need(size + 2, deadline, "chunk data")
                body += self.buf[:size]
                raw += self.buf[:size + 2]
                del self.buf[:size + 2]
            resp.body = bytes(body)
            resp.raw += bytes(raw)
            return resp
        cl = resp.header("Content-Length")
        if cl is not None:
            n = int(cl)
            self._need(n, deadline, f"a {n}-byte body")
            resp.body = bytes(self.buf[:n])
            del self.buf[:n]
            resp.raw += resp.body
            return resp
        # Neither: the body runs until the connection closes.
        while self._fill(deadline):
            pass
        resp.body = bytes(self.buf)
        self.buf.clear()
        resp.raw += resp.body
        return resp

    def read_until_close(self, timeout=2.0):
        """Reads until EOF or timeout. Returns (data, closed) where data are
        all bytes not yet consumed by read_response()."""
        deadline = time.monotonic() + timeout
        closed = False
        try:
            while self._fill(deadline):
                pass
            closed = True
        except socket.timeout:
            closed = False
        data = bytes(self.buf)
        self.buf.clear()
        return data, closed

    def wait_closed(self, timeout=2.0):
        """True when the server closed the connection within `timeout`
        (extra bytes are discarded; use read_until_close to see them)."""
        return self.read_until_close(timeout)[1]

    def peek_bytes(self, timeout):
        """Waits up to `timeout` for any bytes; returns what is buffered
        (b"" if nothing arrived). Does not raise on EOF."""
        deadline = time.monotonic() + timeout
        if not self.buf:
            try:
                self._fill(deadline)
            except socket.timeout:
                pass
        return bytes(self.buf)


def request(port, method, path, headers=None, body=None, head=None,
            timeout=IO_TIMEOUT, **kw):
    """One request on a fresh connection; returns the Response."""
    with Conn(port, timeout=timeout) as c:
        c.send(build_request(method, path, headers, body, **kw))
        return c.read_response(timeout=timeout,
                               head=(method == "HEAD") if head is None else head)


def admin_get(srv, path, timeout=IO_TIMEOUT):
    """GET |path| on the server's admin listener; returns the Response."""
    if srv.admin_port is None:
        raise ServerError("this server has no admin listener")
    return request(srv.admin_port, "GET", path, timeout=timeout)


def free_port():
    """A port that was free a moment ago (small race, fine for tests)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------
# External tools


def run(cmd, timeout, **kw):
    """subprocess.run with captured output and a hard timeout (the child is
    killed on timeout and TimeoutExpired re-raised)."""
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, **kw)


_H2LOAD_REQ = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
    r"(\d+) failed, (\d+) errored, (\d+) timeout")
_H2LOAD_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")


def parse_h2load(text):
    """Parses h2load's summary into a dict (None when absent)."""
    m = _H2LOAD_REQ.search(text)
    if not m:
        return None
    keys = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    out = dict(zip(keys, map(int, m.groups())))
    s = _H2LOAD_STATUS.search(text)
    if s:
        out.update(zip(("2xx", "3xx", "4xx", "5xx"), map(int, s.groups())))
    out["requests_line"] = m.group(0)
    return out


# --------------------------------------------------------------------------
# Test base class and runner


class ServerTestCase(unittest.TestCase):
    """start_server() registers the server for cleanup: it is killed after
    the test whatever happens; a server that died on its own during the
    test (crash) turns the test into an error."""

    def start_server(self, *args, **kw):
        srv = Server(args, **kw)
        self.addCleanup(self._cleanup_server, srv)
        srv.start()
        return srv

    def _cleanup_server(self, srv):
        died = (srv.proc is not None and srv.proc.poll() is not None
                and not srv.expect_exit)
        rc = srv.proc.returncode if srv.proc is not None else None
        tail = srv.stderr_tail(15) if died else ""
        srv.cleanup()
        if died:
            raise AssertionError(
                f"objectd exited unexpectedly during the test (status {rc}; "
                f"negative = killed by that signal)\nstderr tail:\n{tail}")

    def connect(self, srv, timeout=IO_TIMEOUT):
        c = Conn(srv.port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def assertProblem(self, resp, status):
        """Asserts an RFC 9457 problem+json error response with `status`."""
        self.assertEqual(resp.status, status, resp)
        ctype = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/problem+json", resp)
        try:
            doc = resp.json()
        except ValueError as e:
            self.fail(f"problem body is not JSON ({e}): {resp.body!r}")
        self.assertIsInstance(doc, dict, resp.body)
        for k in ("type", "title", "detail"):
            self.assertIn(k, doc, f"problem+json lacks {k!r}: {doc}")
            self.assertIsInstance(doc[k], str, f"{k} not a string: {doc}")
        self.assertIn("status", doc, f"problem+json lacks 'status': {doc}")
        self.assertIs(type(doc["status"]), int, f"status not an int: {doc}")
        self.assertEqual(doc["status"], status, doc)
        return doc


class _CountingResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0
        self._t0 = {}

    def startTest(self, test):
        self._t0[test.id()] = time.monotonic()
        super().startTest(test)

    def addSuccess(self, test):
        self.passed += 1
        super().addSuccess(test)

    def stopTest(self, test):
        super().stopTest(test)
        t0 = self._t0.pop(test.id(), None)
        if t0 is not None and self.showAll:
            self.stream.writeln(f"    ({time.monotonic() - t0:.2f}s)")
            self.stream.flush()


def _failed_tests(result):
    """Number of distinct tests that failed or errored (a test with several
    failing subTests counts once; errors in class/module fixtures count
    once each)."""
    ids = set()
    for test, _ in result.failures + result.errors:
        parent = getattr(test, "test_case", test)  # _SubTest -> its test
        ids.add(parent.id())
    for test in result.unexpectedSuccesses:
        ids.add(test.id())
    return len(ids)


def main(watchdog=300.0):
    """Runs the tests of the __main__ module (or the names given on the
    command line, e.g. `TestSmuggling.test_cl_te`). Prints the unittest
    report to stdout, then exactly "N passed, N failed" as the last line;
    exits 1 on any failure/error, else 0. A watchdog kills everything if
    the whole run exceeds `watchdog` seconds (env OBJECTD_IT_WATCHDOG)."""
    watchdog = float(os.environ.get("OBJECTD_IT_WATCHDOG", watchdog))
    names = [a for a in sys.argv[1:] if not a.startswith("-")]
    verbosity = 1 if "-q" in sys.argv[1:] else 2
    loader = unittest.TestLoader()
    module = sys.modules["__main__"]
    if names:
        suite = loader.loadTestsFromNames(names, module)
    else:
        suite = loader.loadTestsFromModule(module)

    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity,
                                     resultclass=_CountingResult)
    state = {"result": None}
    orig_make = runner._makeResult

    def make_result():
        r = orig_make()
        state["result"] = r
        return r

    runner._makeResult = make_result

    def on_watchdog():
        r = state["result"]
        passed = r.passed if r else 0
        failed = _failed_tests(r) if r else 0
        kill_all()
        sys.stdout.write(f"\nWATCHDOG: test run exceeded {watchdog:.0f}s; "
                         f"servers killed, aborting\n")
        sys.stdout.write(f"{passed} passed, {failed + 1} failed\n")
        sys.stdout.flush()
        os._exit(1)

    timer = threading.Timer(watchdog, on_watchdog)
    timer.daemon = True
    timer.start()
    t0 = time.monotonic()
    try:
        result = runner.run(suite)
    finally:
        timer.cancel()
        kill_all()
    failed = _failed_tests(result)
    sys.stderr.flush()
    if result.skipped:
        print(f"{len(result.skipped)} skipped")
    print(f"wall time {time.monotonic() - t0:.1f}s")
    print(f"{result.passed} passed, {failed} failed")
    sys.stdout.flush()
    sys.exit(1 if failed else 0)
