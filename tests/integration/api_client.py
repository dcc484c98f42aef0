"""A small JSON-over-HTTP/1.1 client for objectd's /api/v1 (stdlib only).

    c = ApiClient(port)
    status, headers, body = c.request("POST", "/objects", {"type": "t", ...})

`path` is taken verbatim when it starts with "/api/" or names an operations
endpoint (/healthz, /readyz, /metrics, /debug/); any other path is put under
the API prefix ("/objects/1" -> "/api/v1/objects/1").

`body`: None (no body), bytes/str (sent as they are), or anything else
(JSON-encoded compactly). A JSON body gets "Content-Type: application/json"
unless `headers` names a Content-Type (give Content-Type None to send none).

Returns an ApiResponse, a (status, headers, body) tuple: headers is a dict
with lower-cased names (repeated fields joined with ", "), body the parsed
JSON when the response is JSON (application/json or */*+json) and parses,
else the raw bytes (b"" when there is none). `.raw` keeps the raw body bytes.

One keep-alive connection per client; not thread-safe (one client per
thread). A GET/HEAD that finds the reused connection closed by the server is
retried once on a fresh connection; other methods never are (a retried POST
could create twice).
"""

import http.client
import json
import socket

API_PREFIX = "/api/v1"
_VERBATIM = ("/api/", "/healthz", "/readyz", "/metrics", "/debug/")


class ApiResponse(tuple):
    """(status, headers, body) with .status/.headers/.body/.raw."""

    def __new__(cls, status, headers, body, raw):
        self = super().__new__(cls, (status, headers, body))
        self.raw = raw
        return self

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    def __repr__(self):
        raw = self.raw if len(self.raw) <= 600 else self.raw[:600] + b"..."
        return f"<HTTP {self[0]} headers={self[1]!r} body={raw!r}>"


def encode_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


class ApiClient:
    def __init__(self, port, host="127.0.0.1", timeout=10.0,
                 prefix=API_PREFIX, author=None):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.prefix = prefix
        self.author = author  # default X-Author, if any
        self._conn = None
        self._used = False

    # -- connection --

    def _connect(self):
        self.close()
        self._conn = http.client.HTTPConnection(self.host, self.port,
                                                timeout=self.timeout)
        self._conn.connect()
        self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._used = False

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def url(self, path):
        if path.startswith(_VERBATIM) or not self.prefix:
            return path
        return self.prefix + path

    # -- requests --

    def request(self, method, path, body=None, headers=None):
        hdrs = {}
        if self.author is not None:
            hdrs["X-Author"] = self.author
        user = dict(headers or {})
        names = {k.lower() for k in user}
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = encode_json(body)
            if "content-type" not in names:
                hdrs["Content-Type"] = "application/json"
        for k, v in user.items():
            for old in [h for h in hdrs if h.lower() == k.lower()]:
                del hdrs[old]
            if v is not None:
                hdrs[k] = v
        if data is not None:
            hdrs["Content-Length"] = str(len(data))
        target = self.url(path)
        retry = method in ("GET", "HEAD")
        while True:
            if self._conn is None:
                self._connect()
            reused = self._used
            try:
                self._conn.request(method, target, body=data, headers=hdrs)
                resp = self._conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError):
                self.close()
                if retry and reused:
                    retry = False
                    continue
                raise
            except Exception:
                self.close()
                raise
            self._used = True
            break
        rh = {}
        for k, v in resp.getheaders():
            k = k.lower()
            rh[k] = f"{rh[k]}, {v}" if k in rh else v
        if resp.will_close:
            self.close()
        ctype = rh.get("content-type", "").split(";")[0].strip().lower()
        parsed = raw
        if raw and (ctype == "application/json" or ctype.endswith("+json")):
            try:
                parsed = json.loads(raw.decode("utf-8"))
            except ValueError:
                parsed = raw
        return ApiResponse(resp.status, rh, parsed, raw)

    # -- conveniences --

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, body=None, headers=None):
        return self.request("POST", path, body, headers)

    def put(self, path, body=None, headers=None):
        return self.request("PUT", path, body, headers)

    def patch(self, path, body=None, headers=None):
        return self.request("PATCH", path, body, headers)

    def delete(self, path, headers=None):
        return self.request("DELETE", path, headers=headers)


def request(port, method, path, body=None, headers=None, **kw):
    """One request on a fresh connection."""
    with ApiClient(port, **kw) as c:
        return c.request(method, path, body, headers)
