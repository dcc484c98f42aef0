"""Integration tests of the revisioned-objects API (/api/v1/objects).

Every test lives in ObjectsApiTests (a mixin) and runs against each store
backend:

  * TestObjectsSQLite      always; one fresh database file per class
                           (--db sqlite:<tmpdir>/objectd.db), plus the
                           SQLite-only checks (pending migrations, --sync);
  * TestObjectsPostgreSQL  when OBJECTD_TEST_PG_URI names a postgresql://
                           database that is empty or ours (e.g. the URI that
                           `scripts/pg-test-server start DIR` prints).

The PostgreSQL database is shared by every test and may outlive the run,
so no test depends on another one or on the database being empty: each
test uses object types with a random suffix (list queries always filter on
them) and explicit ids drawn at random from [2^40, 2^62).

Run: python3 tests/integration/test_api_objects.py [-q] [Class.test_name]
The last line printed is "N passed, N failed".
"""

import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, ServerTestCase, run  # noqa: E402
from api_client import ApiClient, encode_json  # noqa: E402

PG_URI = os.environ.get("OBJECTD_TEST_PG_URI") or None
CURL = harness.tool_path("curl")

OBJECT_KEYS = {"id", "revision", "type", "name", "attributes", "created_at",
               "updated_at", "updated_by", "deleted"}
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
LINK_NEXT_RE = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
MAX_ID = 2 ** 63 - 1


def rand_id():
    return 2 ** 40 + secrets.randbelow(2 ** 62 - 2 ** 40)


def parse_ts(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def fmt_ts(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def q(s):
    return urllib.parse.quote(str(s), safe="")


def child_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBJECTD_")}
    return env


def bad_log_records(srv, start=0):
    """stderr lines (from index `start`) that are not JSON - sanitizer
    reports, assertion messages -, and records at error level or worse (or
    mentioning corruption)."""
    odd = []
    for line in srv.stderr_lines()[start:]:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            odd.append(line)
            continue
        if not isinstance(rec, dict):
            odd.append(line)
            continue
        level = str(harness.field(rec, "log.level", "")).lower()
        text = line.lower()
        if level in ("error", "fatal", "critical", "alert", "emerg", "panic") \
                or "corrupt" in text or "malformed" in text:
            odd.append(line)
    return odd


class ObjectsApiTests:
    """The tests; mixed into one concrete class per backend."""

    backend = None  # "sqlite" | "postgresql"
    fresh_db_is_private = True  # fresh_db() gives an empty database

    # -- backend hooks (overridden) --

    @classmethod
    def class_db(cls):
        raise NotImplementedError

    @classmethod
    def fresh_db(cls, name):
        """A database URI for a test that runs servers of its own."""
        raise NotImplementedError

    # -- fixtures --

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix=f"objectd-api-{cls.backend}-")
        cls.db = cls.class_db()
        cls.srv = None
        try:
            cls._start_class_server()
        except BaseException:
            if cls.srv is not None:
                cls.srv.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def _start_class_server(cls):
        if cls.srv is not None:
            cls.srv.cleanup()
        srv = Server(["--db", cls.db])
        cls.srv = srv
        srv.start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv is not None:
            cls.srv.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        if not self.srv.alive():
            # An earlier test crashed it (and failed); start a new one so
            # that the remaining tests still say something.
            type(self)._start_class_server()
        self.addCleanup(self._check_class_server, self.srv,
                        len(self.srv.stderr_lines()))
        self.c = self.client()
        self.suffix = secrets.token_hex(4)
        self.type = f"it.{self.backend}-{self.suffix}"

    def _check_class_server(self, srv, first_line):
        if not srv.alive():
            raise AssertionError(
                f"objectd ({self.backend}) died during the test (status "
                f"{srv.proc.returncode})\nstderr tail:\n{srv.stderr_tail(20)}")
        time.sleep(0.02)  # let the stderr reader catch up
        odd = bad_log_records(srv, first_line)
        if odd:
            raise AssertionError(
                f"objectd ({self.backend}) wrote {len(odd)} odd stderr "
                f"line(s) during the test:\n" + "\n".join(odd[:20]))

    def client(self, srv=None, **kw):
        c = ApiClient((srv or self.srv).port, **kw)
        self.addCleanup(c.close)
        return c

    # -- assertion helpers --

    def assertProblemResp(self, r, status, pointers=None):
        """r is an RFC 9457 problem (status); with `pointers`, its errors[]
        name exactly that set of JSON pointers."""
        self.assertEqual(r.status, status, r)
        ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/problem+json", r)
        doc = r.body
        self.assertIsInstance(doc, dict, r)
        for k in ("type", "title", "detail"):
            self.assertIsInstance(doc.get(k), str, f"problem lacks {k!r}: {r}")
        self.assertIs(type(doc.get("status")), int, r)
        self.assertEqual(doc["status"], status, r)
        if pointers is not None:
            errs = doc.get("errors")
            self.assertIsInstance(errs, list, r)
            for e in errs:
                self.assertIsInstance(e, dict, r)
                self.assertIsInstance(e.get("pointer"), str, r)
                self.assertIsInstance(e.get("detail"), str, r)
            self.assertEqual({e["pointer"] for e in errs}, set(pointers), r)
        return doc

    def assertObjectShape(self, o, r=None):
        self.assertIsInstance(o, dict, r)
        self.assertEqual(set(o), OBJECT_KEYS, r or o)
        self.assertIs(type(o["id"]), int, o)
        self.assertIs(type(o["revision"]), int, o)
        self.assertGreater(o["id"], 0, o)
        self.assertGreater(o["revision"], 0, o)
        self.assertIsInstance(o["type"], str, o)
        self.assertIsInstance(o["name"], str, o)
        self.assertIsInstance(o["attributes"], dict, o)
        self.assertIsInstance(o["updated_by"], str, o)
        self.assertIs(type(o["deleted"]), bool, o)
        self.assertRegex(o["created_at"], TS_RE)
        self.assertRegex(o["updated_at"], TS_RE)

    def assertObjectResp(self, r, status, oid=None, rev=None):
        """A JSON object response with the strong ETag of its revision."""
        self.assertEqual(r.status, status, r)
        ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/json", r)
        o = r.body
        self.assertObjectShape(o, r)
        if oid is not None:
            self.assertEqual(o["id"], oid, r)
        if rev is not None:
            self.assertEqual(o["revision"], rev, r)
        self.assertEqual(r.headers.get("etag"), self.etag(o), r)
        return o

    @staticmethod
    def etag(o_or_id, rev=None):
        if rev is None:
            return f'"{o_or_id["id"]}-{o_or_id["revision"]}"'
        return f'"{o_or_id}-{rev}"'

    def assertNotFound(self, oid):
        r = self.c.get(f"/objects/{oid}")
        self.assertProblemResp(r, 404)

    def assertTypeEmpty(self, typ=None):
        r = self.c.get(f"/objects?type={q(typ or self.type)}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["items"], [], r)

    # -- request helpers --

    def create(self, name="obj", attributes=None, typ=None, oid=None,
               author=None, client=None):
        body = {"type": typ or self.type, "name": name}
        if attributes is not None:
            body["attributes"] = attributes
        if oid is not None:
            body["id"] = oid
        headers = {"X-Author": author} if author else None
        r = (client or self.c).post("/objects", body, headers)
        o = self.assertObjectResp(r, 201, oid=oid, rev=1)
        loc = urllib.parse.urlsplit(r.headers.get("location", ""))
        self.assertEqual(loc.path, f"/api/v1/objects/{o['id']}", r)
        self.assertEqual(o["type"], body["type"], r)
        self.assertEqual(o["name"], name, r)
        self.assertEqual(o["attributes"], attributes or {}, r)
        self.assertEqual(o["updated_by"], author or "anonymous", r)
        self.assertIs(o["deleted"], False, r)
        return o

    def put(self, o, name=None, attributes=None, typ=None, headers=None,
            client=None):
        body = {"type": typ or o["type"], "name": name or o["name"],
                "attributes": o["attributes"] if attributes is None
                else attributes}
        r = (client or self.c).put(f"/objects/{o['id']}", body, headers)
        return r

    def put_ok(self, o, **kw):
        r = self.put(o, **kw)
        return self.assertObjectResp(r, 200, oid=o["id"],
                                     rev=o["revision"] + 1)

    def get_obj(self, oid, query="", status=200, client=None):
        r = (client or self.c).get(f"/objects/{oid}{query}")
        if status != 200:
            self.assertProblemResp(r, status)
            return None
        return self.assertObjectResp(r, 200, oid=oid)

    def next_link(self, r):
        link = r.headers.get("link")
        if not link:
            return None
        m = LINK_NEXT_RE.search(link)
        self.assertIsNotNone(m, f"Link without rel=next: {link!r}")
        u = urllib.parse.urlsplit(m.group(1))
        return u.path + (f"?{u.query}" if u.query else "")

    def walk(self, first_path, max_pages=500):
        """Follows Link rel=next from first_path; returns (items, pages).
        Checks that next_cursor and Link agree on every page."""
        items, pages, path = [], [], first_path
        while path is not None:
            r = self.c.get(path)
            self.assertEqual(r.status, 200, f"{path}: {r}")
            doc = r.body
            self.assertIsInstance(doc, dict, r)
            self.assertIn("items", doc, r)
            self.assertIn("next_cursor", doc, r)
            nxt = self.next_link(r)
            if doc["next_cursor"] is None:
                self.assertIsNone(nxt, f"Link rel=next on the last page: {r}")
            else:
                self.assertIsInstance(doc["next_cursor"], str, r)
                self.assertIsNotNone(nxt, f"next_cursor but no Link: {r}")
            items.extend(doc["items"])
            pages.append(doc["items"])
            self.assertLess(len(pages), max_pages, "pagination does not end")
            path = nxt
        return items, pages

    def revisions(self, oid, limit=None):
        path = f"/objects/{oid}/revisions"
        if limit:
            path += f"?limit={limit}"
        return self.walk(path)[0]

    # ================================================================
    # Operations endpoints

    def test_healthz_and_readyz(self):
        r = self.c.get("/healthz")
        self.assertEqual(r.status, 200, r)
        r = self.c.get("/readyz")
        self.assertEqual(r.status, 200, r)

    # ================================================================
    # Create

    def test_create_minimal_and_read_back(self):
        o = self.create(name="first")
        self.assertEqual(o["created_at"], o["updated_at"], o)
        g = self.get_obj(o["id"])
        self.assertEqual(g, o)
        # Server-assigned ids differ.
        o2 = self.create(name="second")
        self.assertNotEqual(o["id"], o2["id"])

    def test_create_full_with_explicit_id_and_author(self):
        oid = rand_id()
        attrs = {"colour": "red", "n": 3, "nested": {"a": [1, 2, {"b": None}]}}
        o = self.create(name="full", attributes=attrs, oid=oid, author="alice")
        self.assertEqual(self.get_obj(oid), o)

    def test_create_existing_id_is_409_and_changes_nothing(self):
        oid = rand_id()
        o = self.create(name="original", oid=oid)
        r = self.c.post("/objects", {"type": self.type, "name": "dup",
                                     "id": oid})
        self.assertProblemResp(r, 409)
        self.assertEqual(self.get_obj(oid), o)
        self.assertEqual(len(self.revisions(oid)), 1)

    def test_create_largest_id(self):
        """id 2^63-1 is valid, and server-assigned ids keep working after
        it (on a database of its own: the id is unique per database)."""
        if not self.fresh_db_is_private:
            self.skipTest("creating id 2^63-1 in a shared database would "
                          "exhaust its id sequence for every later test")
        srv = self.start_server("--db", self.fresh_db("maxid"))
        c = self.client(srv)
        o = self.create(name="max", oid=MAX_ID, client=c)
        self.assertEqual(c.get(f"/objects/{MAX_ID}").body, o)
        r = c.post("/objects", {"type": self.type, "name": "max", "id": MAX_ID})
        self.assertProblemResp(r, 409)
        for i in range(3):
            with self.subTest(auto_id_after_max=i):
                o2 = self.create(name=f"auto{i}", client=c)
                self.assertNotEqual(o2["id"], MAX_ID)

    def test_create_validation_lists_every_invalid_field(self):
        cases = [
            ({"type": "bad type!", "name": "", "attributes": [1], "id": 0,
              "foo": 1}, {"/type", "/name", "/attributes", "/id", "/foo"}),
            ({}, {"/type", "/name"}),
            ({"name": "x"}, {"/type"}),
            ({"type": self.type}, {"/name"}),
            ({"type": 5, "name": ["x"]}, {"/type", "/name"}),
            ({"type": None, "name": None}, {"/type", "/name"}),
            ({"type": "", "name": "x"}, {"/type"}),
            ({"type": "a" * 65, "name": "x"}, {"/type"}),
            ({"type": "ünïcode", "name": "x"}, {"/type"}),
            ({"type": "a/b", "name": "x"}, {"/type"}),
            ({"type": self.type, "name": "a\nb"}, {"/name"}),
            ({"type": self.type, "name": "a\tb"}, {"/name"}),
            ({"type": self.type, "name": "a\u0000b"}, {"/name"}),
            ({"type": self.type, "name": "a\u001fb"}, {"/name"}),
            ({"type": self.type, "name": "a\u007fb"}, {"/name"}),
            ({"type": self.type, "name": "x" * 257}, {"/name"}),
            ({"type": self.type, "name": "é" * 129}, {"/name"}),  # 258 bytes
            ({"type": self.type, "name": "x", "attributes": "s"},
             {"/attributes"}),
            ({"type": self.type, "name": "x", "attributes": [1, 2]},
             {"/attributes"}),
            ({"type": self.type, "name": "x", "attributes": 7},
             {"/attributes"}),
            ({"type": self.type, "name": "x", "id": -1}, {"/id"}),
            ({"type": self.type, "name": "x", "id": 1.5}, {"/id"}),
            ({"type": self.type, "name": "x", "id": "12"}, {"/id"}),
            ({"type": self.type, "name": "x", "id": True}, {"/id"}),
            ({"type": self.type, "name": "x", "revision": 1}, {"/revision"}),
            ({"type": self.type, "name": "x", "Type": "t"}, {"/Type"}),
        ]
        for body, ptrs in cases:
            with self.subTest(body=repr(body)[:80]):
                r = self.c.post("/objects", body)
                self.assertProblemResp(r, 422, ptrs)
        for body in ([], [1, 2], [{"type": self.type, "name": "x"}]):
            with self.subTest(body=body):
                r = self.c.post("/objects", body)
                self.assertProblemResp(r, 422, {""})
        self.assertTypeEmpty()

    def test_pointers_escape_member_names(self):
        """errors[].pointer is an RFC 6901 JSON pointer: '~' -> '~0' and
        '/' -> '~1' in member names."""
        for member, ptr in (("a/b", "/a~1b"), ("m~n", "/m~0n"),
                            ("~/", "/~0~1")):
            with self.subTest(member=member):
                r = self.c.post("/objects", {"type": self.type, "name": "x",
                                             member: 1})
                self.assertProblemResp(r, 422, {ptr})
        self.assertTypeEmpty()

    def test_scalar_json_body_is_422_not_400(self):
        """A scalar is well-formed JSON (RFC 8259), so a scalar body breaks
        a rule (422, pointer "") rather than the syntax (400)."""
        o = self.create(name="target")
        for body in ("str", 42, None, True):
            with self.subTest(method="POST", body=body):
                r = self.c.post("/objects", encode_json(body),
                                {"Content-Type": "application/json"})
                self.assertProblemResp(r, 422, {""})
            with self.subTest(method="PUT", body=body):
                r = self.c.put(f"/objects/{o['id']}", encode_json(body),
                               {"Content-Type": "application/json"})
                self.assertProblemResp(r, 422, {""})
            with self.subTest(method="PATCH", body=body):
                r = self.c.patch(
                    f"/objects/{o['id']}", encode_json(body),
                    {"Content-Type": "application/merge-patch+json"})
                self.assertProblemResp(r, 422)
        self.assertEqual(self.get_obj(o["id"]), o)
        r = self.c.get(f"/objects?type={q(self.type)}")
        self.assertEqual([x["id"] for x in r.body["items"]], [o["id"]], r)

    def test_out_of_range_numbers_are_not_syntax_errors(self):
        """Numbers outside int64/double are well-formed JSON: an id of 2^63
        or more breaks the id rule (422 /id); in attributes they are either
        kept or refused with 422 - never 400 "malformed JSON"."""
        for big in (2 ** 63, 2 ** 64, 10 ** 30):
            with self.subTest(id=big):
                r = self.c.post("/objects", {"type": self.type, "name": "x",
                                             "id": big})
                self.assertProblemResp(r, 422, {"/id"})
        self.assertTypeEmpty()
        for raw in (b'{"n":18446744073709551616}', b'{"n":1e400}'):
            with self.subTest(attributes=raw):
                r = self.c.post(
                    "/objects",
                    b'{"type":"%s","name":"x","attributes":%s}'
                    % (self.type.encode(), raw),
                    {"Content-Type": "application/json"})
                self.assertIn(r.status, (201, 422), r)
                if r.status == 422:
                    self.assertProblemResp(r, 422)

    def test_create_boundaries_accepted(self):
        ok = [
            {"type": "a" * 64, "name": "x"},
            {"type": "Az09_.-", "name": "x"},
            {"type": self.type, "name": "x" * 256},
            {"type": self.type, "name": "é" * 128},  # 256 bytes
            {"type": self.type, "name": "日本語 ok ✓"},
            {"type": self.type, "name": "x", "attributes": {}},
        ]
        for body in ok:
            with self.subTest(body=repr(body)[:60]):
                t = body["type"]
                if t != self.type:
                    body = dict(body, type=f"{t[:56]}{self.suffix}"
                                if len(t) == 64 else f"{t}{self.suffix}")
                r = self.c.post("/objects", body)
                o = self.assertObjectResp(r, 201, rev=1)
                self.assertEqual(o["name"], body["name"])
                self.assertEqual(o["type"], body["type"])

    def test_attributes_size_limit(self):
        # Canonical '{"k":"xxx..."}' is 8 + n bytes; the limit is 64 KiB.
        at = {"k": "x" * (65536 - 8)}
        self.assertEqual(len(encode_json(at)), 65536)
        r = self.c.post("/objects", {"type": self.type, "name": "at-limit",
                                     "attributes": at})
        o = self.assertObjectResp(r, 201, rev=1)
        self.assertEqual(o["attributes"], at)
        over = {"k": "x" * (65536 - 7)}
        oid = rand_id()
        r = self.c.post("/objects", {"type": self.type, "name": "over",
                                     "attributes": over, "id": oid})
        self.assertProblemResp(r, 422, {"/attributes"})
        self.assertNotFound(oid)
        # The same limit on PUT.
        r = self.put(o, attributes=over)
        self.assertProblemResp(r, 422, {"/attributes"})
        self.assertEqual(self.get_obj(o["id"])["revision"], 1)

    def test_malformed_json_is_400(self):
        bodies = [b'{"type":', b"{'type': 'x'}", b'{"type":"t","name":"n"} x',
                  b"", b"   ", b'{"type":"t","name":"n",}', b"NaN",
                  b'{"type":"t","name":"\xff\xfe"}',
                  b'{"type":"t","name":"n","attributes":{"a":NaN}}']
        for b in bodies:
            with self.subTest(body=b):
                r = self.c.post("/objects", b,
                                {"Content-Type": "application/json"})
                self.assertProblemResp(r, 400)
        self.assertTypeEmpty()

    def test_content_type_415(self):
        body = encode_json({"type": self.type, "name": "x"})
        for ct in (None, "text/plain", "application/x-www-form-urlencoded",
                   "application/jsonx", "json", "text/json"):
            with self.subTest(content_type=ct):
                r = self.c.post("/objects", body, {"Content-Type": ct})
                self.assertProblemResp(r, 415)
        self.assertTypeEmpty()
        for ct in ("application/json; charset=utf-8", "Application/JSON",
                   "application/json;charset=UTF-8"):
            with self.subTest(content_type=ct):
                r = self.c.post("/objects", body, {"Content-Type": ct})
                self.assertObjectResp(r, 201, rev=1)

    def test_canonical_attributes(self):
        raw = (b'{"type":"%s","name":"canon","attributes": {\n'
               b'  "z" : [ 1 , 0.1, -2.5, 12345678901234567, 100.5,'
               b' 0.30000000000000004 ],\n'
               b'  "a" : { "y": true, "b": null, "x": "s" },\n'
               b'  "B" : false, "aa": 1, "a b": {} }}' % self.type.encode())
        canon = (b'{"B":false,"a":{"b":null,"x":"s","y":true},"a b":{},'
                 b'"aa":1,"z":[1,0.1,-2.5,12345678901234567,100.5,'
                 b'0.30000000000000004]}')
        r = self.c.post("/objects", raw, {"Content-Type": "application/json"})
        o = self.assertObjectResp(r, 201, rev=1)
        self.assertIn(b'"attributes":' + canon, r.raw)
        self.assertEqual(o["attributes"], json.loads(canon))
        oid = o["id"]
        for path in (f"/objects/{oid}", f"/objects/{oid}?revision=1",
                     f"/objects/{oid}/revisions/1", f"/objects/{oid}/revisions",
                     f"/objects?type={q(self.type)}"):
            with self.subTest(path=path):
                r = self.c.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertIn(b'"attributes":' + canon, r.raw)
        # A merge patch result is canonical too.
        r = self.c.patch(f"/objects/{oid}",
                         b'{"attributes": {"zz": 0.1, "A": [ 0.5 ]}}',
                         {"Content-Type": "application/merge-patch+json"})
        self.assertObjectResp(r, 200, oid=oid, rev=2)
        canon2 = canon[:1] + b'"A":[0.5],' + canon[1:-1] + b',"zz":0.1}'
        self.assertIn(b'"attributes":' + canon2, r.raw)

    # ================================================================
    # Read

    def test_get_revision_and_conditional(self):
        o1 = self.create(name="v1", attributes={"v": 1})
        oid = o1["id"]
        o2 = self.put_ok(o1, name="v2", attributes={"v": 2})
        self.assertEqual(o2["created_at"], o1["created_at"])
        self.assertGreaterEqual(o2["updated_at"], o1["updated_at"])
        self.assertEqual(self.get_obj(oid, "?revision=1"), o1)
        self.assertEqual(self.get_obj(oid, "?revision=2"), o2)
        self.assertEqual(self.get_obj(oid), o2)
        self.get_obj(oid, "?revision=3", status=404)
        # If-None-Match
        for inm in (self.etag(o2), f"W/{self.etag(o2)}", "*",
                    f'"nope", {self.etag(o2)}'):
            with self.subTest(if_none_match=inm):
                r = self.c.get(f"/objects/{oid}", {"If-None-Match": inm})
                self.assertEqual(r.status, 304, r)
                self.assertEqual(r.headers.get("etag"), self.etag(o2), r)
                self.assertEqual(r.raw, b"", r)
        for inm in (self.etag(o1), f'"{oid}-99"', '"other"'):
            with self.subTest(if_none_match=inm):
                r = self.c.get(f"/objects/{oid}", {"If-None-Match": inm})
                self.assertEqual(self.assertObjectResp(r, 200), o2)
        # On an old revision, its own ETag.
        r = self.c.get(f"/objects/{oid}?revision=1",
                       {"If-None-Match": self.etag(o1)})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.headers.get("etag"), self.etag(o1), r)

    def test_get_as_of(self):
        o1 = self.create(name="v1")
        oid = o1["id"]
        time.sleep(0.01)
        o2 = self.put_ok(o1, name="v2")
        t1, t2 = parse_ts(o1["updated_at"]), parse_ts(o2["updated_at"])
        self.assertGreater(t2, t1)
        us = dt.timedelta(microseconds=1)
        cases = [(fmt_ts(t1), o1), (fmt_ts(t2 - us), o1), (fmt_ts(t2), o2),
                 (t2.astimezone(dt.timezone(dt.timedelta(hours=2)))
                  .isoformat(timespec="microseconds"), o2),
                 (t1.astimezone(dt.timezone(-dt.timedelta(hours=5, minutes=30)))
                  .isoformat(timespec="microseconds"), o1),
                 ("2999-01-01T00:00:00Z", o2)]
        for as_of, want in cases:
            with self.subTest(as_of=as_of):
                self.assertEqual(self.get_obj(oid, f"?as_of={q(as_of)}"), want)
        with self.subTest(as_of="before creation"):
            self.get_obj(oid, f"?as_of={q(fmt_ts(t1 - us))}", status=404)
        self.get_obj(oid, "?as_of=2000-01-01T00:00:00Z", status=404)

    def test_get_bad_query_is_400(self):
        o = self.create()
        oid = o["id"]
        cases = [("revision", v) for v in
                 ("abc", "0", "-1", "1.5", "", "9223372036854775808", "1x")]
        cases += [("as_of", v) for v in
                  ("yesterday", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z",
                   "2024-01-01T00:00:00", "2024-01-01", "", "1700000000",
                   "2024-01-01T25:00:00Z")]
        for name, v in cases:
            with self.subTest(param=name, value=v):
                r = self.c.get(f"/objects/{oid}?{name}={q(v)}")
                doc = self.assertProblemResp(r, 400)
                self.assertIsInstance(doc.get("errors"), list, r)
                self.assertGreaterEqual(len(doc["errors"]), 1, r)
                self.assertEqual(doc["errors"][0].get("pointer"), f"?{name}", r)
        r = self.c.get(f"/objects/{oid}?revision=1&as_of=2999-01-01T00:00:00Z")
        self.assertProblemResp(r, 400)
        for qs in ("foo=1", "revision=1&foo=1", "rev=1"):
            with self.subTest(query=qs):
                self.assertProblemResp(self.c.get(f"/objects/{oid}?{qs}"), 400)

    def test_unknown_object_404(self):
        oid = rand_id()
        self.assertNotFound(oid)
        body = {"type": self.type, "name": "x"}
        self.assertProblemResp(self.c.put(f"/objects/{oid}", body), 404)
        self.assertProblemResp(
            self.c.patch(f"/objects/{oid}", {"name": "y"},
                         {"Content-Type": "application/merge-patch+json"}), 404)
        self.assertProblemResp(self.c.delete(f"/objects/{oid}"), 404)
        self.assertProblemResp(self.c.get(f"/objects/{oid}/revisions"), 404)
        self.assertProblemResp(self.c.get(f"/objects/{oid}/revisions/1"), 404)
        self.assertProblemResp(self.c.post(f"/objects/{oid}/revert?to=1"), 404)
        self.assertNotFound(oid)  # PUT did not create it

    def test_bad_id_in_path_is_400(self):
        body = {"type": self.type, "name": "x"}
        for bad in ("abc", "0", "-1", "007", "9223372036854775808",
                    "99999999999999999999", "1.5", "1e3", "+1", "0x10"):
            with self.subTest(id=bad):
                self.assertProblemResp(self.c.get(f"/objects/{bad}"), 400)
                self.assertProblemResp(self.c.put(f"/objects/{bad}", body), 400)
                self.assertProblemResp(
                    self.c.patch(f"/objects/{bad}", {"name": "y"}), 400)
                self.assertProblemResp(self.c.delete(f"/objects/{bad}"), 400)
                self.assertProblemResp(
                    self.c.get(f"/objects/{bad}/revisions"), 400)
                self.assertProblemResp(
                    self.c.post(f"/objects/{bad}/revert?to=1"), 400)
        r = self.c.get(f"/objects/{MAX_ID}")
        self.assertIn(r.status, (200, 404), r)
        self.assertTypeEmpty()

    # ================================================================
    # PUT

    def test_put_replaces_and_honours_if_match(self):
        o1 = self.create(name="v1", attributes={"keep": 1, "drop": 2},
                         author="alice")
        oid = o1["id"]
        r = self.c.put(f"/objects/{oid}",
                       {"type": self.type, "name": "v2",
                        "attributes": {"keep": 1}},
                       {"X-Author": "bob", "If-Match": self.etag(o1)})
        o2 = self.assertObjectResp(r, 200, oid=oid, rev=2)
        self.assertEqual(o2["name"], "v2")
        self.assertEqual(o2["attributes"], {"keep": 1})
        self.assertEqual(o2["updated_by"], "bob")
        self.assertEqual(o2["created_at"], o1["created_at"])
        # Full replace: no attributes means none.
        r = self.c.put(f"/objects/{oid}", {"type": self.type, "name": "v3"})
        o3 = self.assertObjectResp(r, 200, oid=oid, rev=3)
        self.assertEqual(o3["attributes"], {})
        self.assertEqual(o3["updated_by"], "anonymous")
        # Stale, weak (If-Match compares strongly), foreign: 412, no write.
        for im in (self.etag(o1), self.etag(o2), f"W/{self.etag(o3)}",
                   f'"{oid}-99"', '"garbage"', f'"{oid + 1}-3"'):
            with self.subTest(if_match=im):
                r = self.put(o3, name="stale", headers={"If-Match": im})
                self.assertProblemResp(r, 412)
        self.assertEqual(self.get_obj(oid), o3)
        # A list containing the current ETag, and "*".
        r = self.put(o3, name="v4",
                     headers={"If-Match": f'"x", {self.etag(o3)}'})
        o4 = self.assertObjectResp(r, 200, oid=oid, rev=4)
        r = self.put(o4, name="v5", headers={"If-Match": "*"})
        o5 = self.assertObjectResp(r, 200, oid=oid, rev=5)
        # The id in the body must be the path's.
        r = self.c.put(f"/objects/{oid}",
                       {"id": oid, "type": self.type, "name": "v6"})
        self.assertObjectResp(r, 200, oid=oid, rev=6)
        r = self.c.put(f"/objects/{oid}",
                       {"id": oid + 1, "type": self.type, "name": "bad"})
        self.assertProblemResp(r, 422, {"/id"})
        self.assertEqual(self.get_obj(oid)["revision"], 6)
        names = [x["name"] for x in self.revisions(oid)]
        self.assertEqual(names, ["v6", "v5", "v4", "v3", "v2", "v1"])
        self.assertEqual(o5["name"], "v5")

    def test_put_errors_write_nothing(self):
        o = self.create(name="v1")
        oid = o["id"]
        path = f"/objects/{oid}"
        self.assertProblemResp(
            self.c.put(path, {"type": "bad type", "name": "", "x": 1}), 422,
            {"/type", "/name", "/x"})
        self.assertProblemResp(self.c.put(path, [1]), 422, {""})
        self.assertProblemResp(
            self.c.put(path, b'{"type":', {"Content-Type": "application/json"}),
            400)
        self.assertProblemResp(
            self.c.put(path, encode_json({"type": self.type, "name": "x"}),
                       {"Content-Type": "text/plain"}), 415)
        self.assertProblemResp(
            self.c.put(path, {"type": self.type, "name": "x"},
                       {"X-Author": "a" * 129}), 400)
        self.assertEqual(self.get_obj(oid), o)
        self.assertEqual(len(self.revisions(oid)), 1)

    # ================================================================
    # PATCH

    def test_patch_merge(self):
        o1 = self.create(name="p1", attributes={
            "a": 1, "b": {"c": 1, "d": 2}, "e": [1, 2], "f": "keep"})
        oid = o1["id"]
        r = self.c.patch(
            f"/objects/{oid}",
            {"name": "p2", "attributes": {"a": None, "b": {"c": None, "x": 3},
                                          "e": [3], "g": {"h": None, "i": 1}}},
            {"Content-Type": "application/merge-patch+json",
             "X-Author": "carol"})
        o2 = self.assertObjectResp(r, 200, oid=oid, rev=2)
        self.assertEqual(o2["name"], "p2")
        self.assertEqual(o2["type"], self.type)
        self.assertEqual(o2["updated_by"], "carol")
        self.assertEqual(o2["attributes"], {"b": {"d": 2, "x": 3}, "e": [3],
                                            "f": "keep", "g": {"i": 1}})
        self.assertEqual(o2["created_at"], o1["created_at"])
        # application/json is accepted too; If-Match as for PUT.
        r = self.c.patch(f"/objects/{oid}", {"attributes": {"f": None}},
                         {"Content-Type": "application/json",
                          "If-Match": self.etag(o2)})
        o3 = self.assertObjectResp(r, 200, oid=oid, rev=3)
        self.assertEqual(o3["attributes"], {"b": {"d": 2, "x": 3}, "e": [3],
                                            "g": {"i": 1}})
        r = self.c.patch(f"/objects/{oid}", {"name": "stale"},
                         {"Content-Type": "application/merge-patch+json",
                          "If-Match": self.etag(o2)})
        self.assertProblemResp(r, 412)
        r = self.c.patch(f"/objects/{oid}", {"type": f"{self.type}.x"},
                         {"Content-Type": "application/merge-patch+json",
                          "If-Match": "*"})
        o4 = self.assertObjectResp(r, 200, oid=oid, rev=4)
        self.assertEqual(o4["type"], f"{self.type}.x")
        self.assertEqual(o4["name"], "p2")
        self.assertEqual(self.get_obj(oid), o4)

    def test_patch_errors_write_nothing(self):
        o = self.create(name="p1", attributes={"a": 1})
        oid = o["id"]
        path = f"/objects/{oid}"
        mp = {"Content-Type": "application/merge-patch+json"}
        cases = [({"name": None}, {"/name"}), ({"type": None}, {"/type"}),
                 ({"name": None, "type": "bad type"}, {"/name", "/type"}),
                 ({"name": ""}, {"/name"}), ({"name": "a\nb"}, {"/name"}),
                 ({"attributes": 5}, {"/attributes"}),
                 ({"attributes": [1]}, {"/attributes"}),
                 ({"foo": 1}, {"/foo"}),
                 ({"attributes": {"big": "x" * 65536}}, {"/attributes"})]
        for patch, ptrs in cases:
            with self.subTest(patch=repr(patch)[:60]):
                self.assertProblemResp(self.c.patch(path, patch, mp), 422, ptrs)
        for patch in ([1], []):
            with self.subTest(patch=patch):
                self.assertProblemResp(self.c.patch(path, patch, mp), 422)
        self.assertProblemResp(self.c.patch(path, b'{"name":', mp), 400)
        self.assertProblemResp(
            self.c.patch(path, encode_json({"name": "x"}),
                         {"Content-Type": "text/plain"}), 415)
        self.assertProblemResp(
            self.c.patch(path, encode_json({"name": "x"}),
                         {"Content-Type": None}), 415)
        self.assertEqual(self.get_obj(oid), o)
        self.assertEqual(len(self.revisions(oid)), 1)

    def test_concurrent_patches_lose_nothing(self):
        """Unconditional merge patches from 4 clients: every one applies
        (no lost update, no error). A 409 is retried by the client so that
        the lost-update check still runs, then reported."""
        o = self.create(name="counter", attributes={})
        oid = o["id"]
        errors, conflicts = [], []
        per_thread = 20

        def worker(t):
            c = ApiClient(self.srv.port)
            try:
                for i in range(per_thread):
                    for _attempt in range(20):
                        r = c.patch(
                            f"/objects/{oid}", {"attributes": {f"t{t}-{i}": i}},
                            {"Content-Type": "application/merge-patch+json"})
                        if r.status != 409:
                            break
                        conflicts.append(r)
                    if r.status != 200:
                        errors.append(r)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
            finally:
                c.close()

        ths = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(30)
        self.assertEqual(errors[:3], [], f"{len(errors)} PATCHes failed")
        final = self.get_obj(oid)
        self.assertEqual(final["attributes"],
                         {f"t{t}-{i}": i for t in range(4)
                          for i in range(per_thread)},
                         "a concurrent PATCH was lost")
        self.assertEqual(final["revision"], 1 + 4 * per_thread)
        self.assertEqual(len(conflicts), 0,
                         f"{len(conflicts)} answers 409 to {4 * per_thread} "
                         f"unconditional PATCHes (no If-Match) from 4 clients; "
                         f"first: {conflicts[:1]}")

    # ================================================================
    # DELETE

    def test_delete_tombstone(self):
        o1 = self.create(name="d1", attributes={"x": 1})
        oid = o1["id"]
        o2 = self.put_ok(o1, name="d2")
        other = self.create(name="other")
        r = self.c.delete(f"/objects/{oid}", {"If-Match": self.etag(o1)})
        self.assertProblemResp(r, 412)
        r = self.c.delete(f"/objects/{oid}",
                          {"If-Match": self.etag(o2), "X-Author": "dave"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"", r)
        self.assertEqual(r.headers.get("etag"), self.etag(oid, 3), r)
        self.assertNotFound(oid)
        self.assertProblemResp(
            self.c.get(f"/objects/{oid}", {"If-None-Match": "*"}), 404)
        self.assertEqual(self.get_obj(oid, "?revision=2"), o2)
        self.assertEqual(self.get_obj(oid, "?revision=1"), o1)
        r = self.c.get(f"/objects?type={q(self.type)}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["id"] for x in r.body["items"]], [other["id"]], r)
        revs = self.revisions(oid)
        self.assertEqual([x["revision"] for x in revs], [3, 2, 1])
        tomb = revs[0]
        self.assertObjectShape(tomb)
        self.assertIs(tomb["deleted"], True, tomb)
        self.assertEqual(tomb["updated_by"], "dave", tomb)
        self.assertEqual(revs[1], o2)
        self.assertEqual(revs[2], o1)
        r = self.c.get(f"/objects/{oid}/revisions/3")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, tomb)
        # Writes on a deleted object: 404, nothing appended.
        self.assertProblemResp(self.put(o2, name="zombie"), 404)
        self.assertProblemResp(
            self.c.patch(f"/objects/{oid}", {"name": "zombie"},
                         {"Content-Type": "application/merge-patch+json"}), 404)
        self.assertProblemResp(self.c.delete(f"/objects/{oid}"), 404)
        # Its id stays taken.
        r = self.c.post("/objects", {"type": self.type, "name": "again",
                                     "id": oid})
        self.assertProblemResp(r, 409)
        self.assertEqual(len(self.revisions(oid)), 3)

    # ================================================================
    # Revisions

    def test_revisions_list_and_paging(self):
        o = self.create(name="r1", author="a1")
        oid = o["id"]
        objs = [o]
        for i in range(2, 8):
            r = self.put(objs[-1], name=f"r{i}", headers={"X-Author": f"a{i}"})
            objs.append(self.assertObjectResp(r, 200, oid=oid, rev=i))
        want = list(reversed(objs))
        r = self.c.get(f"/objects/{oid}/revisions")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["items"], want)
        self.assertIsNone(r.body["next_cursor"], r)
        self.assertIsNone(r.headers.get("link"), r)
        items, pages = self.walk(f"/objects/{oid}/revisions?limit=3")
        self.assertEqual(items, want)
        self.assertEqual([len(p) for p in pages], [3, 3, 1])
        # The cursor parameter directly.
        r = self.c.get(f"/objects/{oid}/revisions?limit=2")
        cur = r.body["next_cursor"]
        self.assertIsInstance(cur, str, r)
        r = self.c.get(f"/objects/{oid}/revisions?limit=2&cursor={q(cur)}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["revision"] for x in r.body["items"]], [5, 4], r)
        for n in range(1, 8):
            r = self.c.get(f"/objects/{oid}/revisions/{n}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, objs[n - 1])
            self.assertEqual(r.body["updated_by"], f"a{n}")
        self.assertProblemResp(self.c.get(f"/objects/{oid}/revisions/8"), 404)
        for bad in ("0", "abc", "-1"):
            with self.subTest(n=bad):
                self.assertProblemResp(
                    self.c.get(f"/objects/{oid}/revisions/{bad}"), 400)
        for qs in ("limit=0", "limit=1001", "limit=abc", "limit=-1",
                   "cursor=garbage", "cursor=Zm9vYmFy", "cursor="):
            with self.subTest(query=qs):
                self.assertProblemResp(
                    self.c.get(f"/objects/{oid}/revisions?{qs}"), 400)

    # ================================================================
    # Revert

    def test_revert(self):
        o1 = self.create(name="orig", attributes={"v": 1})
        oid = o1["id"]
        o2 = self.put_ok(o1, name="second", attributes={"v": 2})
        o3 = self.put_ok(o2, name="third", attributes={"v": 3},
                         typ=f"{self.type}.b")
        path = f"/objects/{oid}/revert"
        r = self.c.post(f"{path}?to=1", headers={"X-Author": "erin"})
        o4 = self.assertObjectResp(r, 200, oid=oid, rev=4)
        for k in ("type", "name", "attributes"):
            self.assertEqual(o4[k], o1[k], k)
        self.assertEqual(o4["updated_by"], "erin")
        self.assertEqual(o4["created_at"], o1["created_at"])
        self.assertEqual(self.get_obj(oid), o4)
        # If-Match
        r = self.c.post(f"{path}?to=2", headers={"If-Match": self.etag(o3)})
        self.assertProblemResp(r, 412)
        r = self.c.post(f"{path}?to=2", headers={"If-Match": self.etag(o4)})
        o5 = self.assertObjectResp(r, 200, oid=oid, rev=5)
        self.assertEqual((o5["name"], o5["attributes"]), ("second", {"v": 2}))
        # Bad / missing / unknown targets write nothing.
        for qs in ("", "?to=", "?to=abc", "?to=0", "?to=-1", "?to=1.5",
                   "?from=1"):
            with self.subTest(query=qs):
                self.assertProblemResp(self.c.post(f"{path}{qs}"), 400)
        self.assertProblemResp(self.c.post(f"{path}?to=99"), 404)
        self.assertEqual(self.get_obj(oid), o5)
        # Deleted: revert to the tombstone is 422; to a live one revives.
        r = self.c.delete(f"/objects/{oid}")
        self.assertEqual(r.status, 204, r)
        self.assertProblemResp(self.c.post(f"{path}?to=6"), 422)
        self.assertNotFound(oid)
        r = self.c.post(f"{path}?to=3")
        o7 = self.assertObjectResp(r, 200, oid=oid, rev=7)
        self.assertIs(o7["deleted"], False)
        for k in ("type", "name", "attributes"):
            self.assertEqual(o7[k], o3[k], k)
        self.assertEqual(self.get_obj(oid), o7)
        self.assertEqual([x["revision"] for x in self.revisions(oid)],
                         [7, 6, 5, 4, 3, 2, 1])

    # ================================================================
    # List

    def test_list_paging_matches_brute_force(self):
        types = [f"{self.type}-{k}" for k in ("a", "b", "c")]
        counts = {types[0]: 60, types[1]: 40, types[2]: 20}
        plan = [t for t in types for _ in range(counts[t])]
        # Interleave the types deterministically.
        plan = [plan[(i * 37) % len(plan)] for i in range(len(plan))]
        self.assertEqual(sorted(plan), sorted(t for t in types
                                              for _ in range(counts[t])))
        latest = {}
        for i, t in enumerate(plan):
            oid = rand_id() if i % 4 == 0 else None
            o = self.create(name=f"n{i}", attributes={"i": i}, typ=t, oid=oid)
            latest[o["id"]] = o
        ids = list(latest)
        for k, oid in enumerate(ids):
            if k % 7 == 3:  # updates move objects in updated_at order
                latest[oid] = self.put_ok(latest[oid], name=f"u{k}")
        deleted = set()
        for k, oid in enumerate(ids):
            if k % 11 == 5:
                r = self.c.delete(f"/objects/{oid}")
                self.assertEqual(r.status, 204, r)
                deleted.add(oid)
        live = [o for oid, o in latest.items() if oid not in deleted]

        def expect(t, order, after=None, before=None):
            xs = [o for o in live if o["type"] == t
                  and (after is None or o["updated_at"] > after)
                  and (before is None or o["updated_at"] < before)]
            if order == "id":
                return sorted(xs, key=lambda o: o["id"])
            xs.sort(key=lambda o: (o["updated_at"], o["id"]))
            return xs if order == "updated_at" else xs[::-1]

        def check(got, want, order):
            got_ids = [o["id"] for o in got]
            self.assertEqual(len(got_ids), len(set(got_ids)),
                             "an object was visited twice")
            self.assertEqual(set(got_ids), {o["id"] for o in want})
            if order != "id" and len({o["updated_at"] for o in want}) \
                    != len(want):
                # updated_at ties: the tie-break order is the server's.
                ts = [o["updated_at"] for o in got]
                self.assertEqual(ts, [o["updated_at"] for o in want])
                self.assertEqual(sorted(got, key=lambda o: o["id"]),
                                 sorted(want, key=lambda o: o["id"]))
            else:
                self.assertEqual(got, want)

        for t in types:
            for order in ("id", "updated_at", "-updated_at"):
                with self.subTest(type=t, order=order):
                    got, pages = self.walk(
                        f"/objects?type={q(t)}&order={q(order)}&limit=7")
                    self.assertTrue(all(len(p) == 7 for p in pages[:-1]),
                                    [len(p) for p in pages])
                    check(got, expect(t, order), order)
        # Default limit is 50.
        t0 = types[0]
        n0 = len(expect(t0, "id"))
        self.assertGreater(n0, 50)
        r = self.c.get(f"/objects?type={q(t0)}&order=id")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body["items"]), 50)
        self.assertIsInstance(r.body["next_cursor"], str)
        got, pages = self.walk(f"/objects?type={q(t0)}&order=id")
        self.assertEqual([len(p) for p in pages], [50, n0 - 50])
        check(got, expect(t0, "id"), "id")
        # The cursor parameter (not only the Link URL) continues the walk.
        r = self.c.get(f"/objects?type={q(t0)}&order=-updated_at&limit=10")
        cur = r.body["next_cursor"]
        r2 = self.c.get(f"/objects?type={q(t0)}&order=-updated_at&limit=10"
                        f"&cursor={q(cur)}")
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r.body["items"] + r2.body["items"],
                         expect(t0, "-updated_at")[:20])
        # limit=1000 answers everything at once.
        r = self.c.get(f"/objects?type={q(t0)}&order=id&limit=1000")
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["next_cursor"], r)
        self.assertIsNone(r.headers.get("link"), r)
        check(r.body["items"], expect(t0, "id"), "id")
        # updated_after / updated_before, with pivots strictly between two
        # timestamps so that > and >= agree.
        ts = sorted({o["updated_at"] for o in live if o["type"] == t0})
        lo = fmt_ts(parse_ts(ts[len(ts) // 3]) + dt.timedelta(microseconds=1))
        hi = fmt_ts(parse_ts(ts[2 * len(ts) // 3]) + dt.timedelta(microseconds=1))
        self.assertNotIn(lo, ts)
        self.assertNotIn(hi, ts)
        for after, before in ((lo, None), (None, hi), (lo, hi)):
            for order in ("updated_at", "-updated_at", "id"):
                with self.subTest(after=after, before=before, order=order):
                    qs = f"type={q(t0)}&order={order}&limit=6"
                    if after:
                        qs += f"&updated_after={q(after)}"
                    if before:
                        qs += f"&updated_before={q(before)}"
                    got, _ = self.walk(f"/objects?{qs}")
                    want = expect(t0, order, after, before)
                    self.assertGreater(len(want), 0)
                    check(got, want, order)

    def test_list_bad_parameters_400(self):
        self.create(name="a")
        self.create(name="b")
        self.create(name="c")
        base = f"/objects?type={q(self.type)}"
        for qs in ("limit=0", "limit=1001", "limit=abc", "limit=-1", "limit=",
                   "order=name", "order=", "order=+id", "cursor=garbage!",
                   "cursor=Zm9vYmFy", "updated_after=yesterday",
                   "updated_before=2024-13-01T00:00:00Z"):
            with self.subTest(query=qs):
                self.assertProblemResp(self.c.get(f"{base}&{qs}"), 400)
        for t in ("bad type", "a" * 65, "x/y", "", "ü"):
            with self.subTest(type=t):
                self.assertProblemResp(self.c.get(f"/objects?type={q(t)}"), 400)
        for qs in ("foo=1", "sort=id"):
            with self.subTest(unknown=qs):
                self.assertProblemResp(self.c.get(f"{base}&{qs}"), 400)
        # A cursor is only valid with the order it was made for.
        for made, used in (("id", "updated_at"), ("id", "-updated_at"),
                           ("updated_at", "-updated_at"),
                           ("-updated_at", "id")):
            with self.subTest(cursor_from=made, used_with=used):
                r = self.c.get(f"{base}&order={q(made)}&limit=1")
                self.assertEqual(r.status, 200, r)
                cur = r.body["next_cursor"]
                self.assertIsInstance(cur, str, r)
                r = self.c.get(f"{base}&order={q(used)}&limit=1&cursor={q(cur)}")
                self.assertProblemResp(r, 400)

    # ================================================================
    # X-Author

    def test_x_author(self):
        o = self.create(name="a", author="alice@example.com")
        self.assertEqual(self.get_obj(o["id"])["updated_by"],
                         "alice@example.com")
        r = self.put(o, name="b", headers={"X-Author": "b" * 128})
        o2 = self.assertObjectResp(r, 200, rev=2)
        self.assertEqual(o2["updated_by"], "b" * 128)
        r = self.put(o2, name="c")
        self.assertEqual(self.assertObjectResp(r, 200, rev=3)["updated_by"],
                         "anonymous")
        oid = rand_id()
        for author in ("a" * 129, "a\x01b", "a\x7fb", "a\tb", "\x1b[31m"):
            with self.subTest(author=author[:10]):
                r = self.c.post("/objects", {"type": self.type, "name": "x",
                                             "id": oid},
                                {"X-Author": author})
                self.assertEqual(r.status, 400, r)
                r = self.c.put(f"/objects/{o['id']}",
                               {"type": self.type, "name": "x"},
                               {"X-Author": author})
                self.assertEqual(r.status, 400, r)
                r = self.c.delete(f"/objects/{o['id']}", {"X-Author": author})
                self.assertEqual(r.status, 400, r)
        self.assertNotFound(oid)
        self.assertEqual(self.get_obj(o["id"])["revision"], 3)

    # ================================================================
    # Races: compare-and-set under contention (8 threads x 100 rounds)

    def test_if_match_race(self):
        o = self.create(name="race")
        oid = o["id"]
        threads, rounds = 8, 100
        deadline = time.monotonic() + 25
        lock = threading.Lock()
        wins, conflicts, errors = [], [0], []
        barrier = threading.Barrier(threads)

        def worker(t):
            c = ApiClient(self.srv.port, timeout=15)
            try:
                barrier.wait(10)
                for i in range(rounds):
                    if time.monotonic() > deadline:
                        break
                    g = c.get(f"/objects/{oid}")
                    if g.status != 200:
                        errors.append(("GET", g))
                        continue
                    etag = g.headers.get("etag")
                    base = g.body["revision"]
                    if etag != f'"{oid}-{base}"':
                        errors.append(("ETag", g))
                    name = f"t{t}-r{i}"
                    r = c.put(f"/objects/{oid}",
                              {"type": self.type, "name": name,
                               "attributes": {"t": t, "i": i}},
                              {"If-Match": etag, "X-Author": f"t{t}"})
                    if r.status == 200:
                        with lock:
                            wins.append((base, r.body["revision"], name,
                                         r.headers.get("etag")))
                    elif r.status == 412:
                        with lock:
                            conflicts[0] += 1
                    else:
                        errors.append(("PUT", r))
            except Exception as e:  # noqa: BLE001
                errors.append(("exception", repr(e)))
            finally:
                c.close()

        ths = [threading.Thread(target=worker, args=(t,))
               for t in range(threads)]
        t0 = time.monotonic()
        for t in ths:
            t.start()
        for t in ths:
            t.join(40)
        took = time.monotonic() - t0
        self.assertFalse(any(t.is_alive() for t in ths), "workers hung")
        self.assertEqual(errors[:5], [], f"{len(errors)} unexpected answers")
        self.assertGreater(len(wins), 0)
        self.assertGreaterEqual(conflicts[0], 1,
                                f"no 412 in {len(wins)} contended PUTs")
        for base, new, _name, etag in wins:
            self.assertEqual(new, base + 1, "new revision is not If-Match + 1")
            self.assertEqual(etag, f'"{oid}-{new}"')
        revs = [w[1] for w in wins]
        self.assertEqual(len(revs), len(set(revs)), "a revision was repeated")
        final = self.get_obj(oid)
        self.assertEqual(final["revision"], 1 + len(wins))
        history = self.revisions(oid, limit=1000)
        self.assertEqual(len(history), 1 + len(wins))
        self.assertEqual([h["revision"] for h in history],
                         list(range(1 + len(wins), 0, -1)))
        by_rev = {w[1]: w[2] for w in wins}
        for h in history[:-1]:
            self.assertEqual(h["name"], by_rev[h["revision"]],
                             f"revision {h['revision']} is not the PUT that "
                             f"was acknowledged for it")
        self.assertLess(took, 40)
        print(f"\n    race ({self.backend}): {len(wins)} PUTs won, "
              f"{conflicts[0]} got 412, {took:.1f}s", end="")

    # ================================================================
    # Durability: acknowledged writes survive kill -9

    def _write_acknowledged(self, srv, n, typ):
        c = self.client(srv)
        acked = []  # the acknowledged objects (every revision)
        heads = []
        for i in range(n):
            if i % 2 == 0 or not heads:
                o = self.create(name=f"w{i}", attributes={"i": i}, typ=typ,
                                oid=rand_id() if i % 6 == 0 else None,
                                client=c)
                heads.append(o)
            else:
                k = (i * 7) % len(heads)
                r = self.put(heads[k], name=f"w{i}", attributes={"i": i},
                             client=c)
                o = self.assertObjectResp(r, 200, oid=heads[k]["id"],
                                          rev=heads[k]["revision"] + 1)
                heads[k] = o
            acked.append(o)
        c.close()
        return acked, heads

    def _check_all_readable(self, srv, acked, heads):
        c = self.client(srv)
        missing = []
        for o in acked:
            r = c.get(f"/objects/{o['id']}?revision={o['revision']}")
            if r.status != 200 or r.body != o:
                missing.append((o["id"], o["revision"], r.status))
        self.assertEqual(missing[:10], [],
                         f"{len(missing)} of {len(acked)} acknowledged "
                         f"revisions lost or changed after kill -9")
        for h in heads:
            r = c.get(f"/objects/{h['id']}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, h)
        c.close()

    def test_durability_after_kill_9(self):
        db = self.fresh_db("durability")
        srv = self.start_server("--db", db)
        acked, heads = self._write_acknowledged(srv, 200, self.type)
        self.assertEqual(len(acked), 200)
        odd_before = bad_log_records(srv)
        srv.expect_exit = True
        srv.kill()  # SIGKILL, no chance to flush anything
        self.assertEqual(srv.proc.returncode, -signal.SIGKILL)
        srv2 = self.start_server("--db", db)
        self._check_all_readable(srv2, acked, heads)
        r = self.client(srv2).get(f"/objects?type={q(self.type)}&limit=1000")
        self.assertEqual(r.status, 200, r)
        items = r.body["items"]
        self.assertEqual(sorted(x["id"] for x in items),
                         sorted(h["id"] for h in heads))
        if self.backend == "sqlite":
            self.assertEqual(odd_before, [], "odd log lines before the kill")
            self.assertEqual(bad_log_records(srv2), [],
                             "odd log lines after restarting on the database")

    # ================================================================
    # HTTP/2 (h2c with prior knowledge): the same calls answer the same.

    @unittest.skipIf(CURL is None, "curl is not installed")
    def test_h2c_same_answers(self):
        port = self.srv.port
        ct = ("Content-Type", "application/json")
        v, st, h, raw = _curl(port, "POST", "/objects",
                              {"type": self.type, "name": "over h2",
                               "attributes": {"b": 2, "a": 0.1}},
                              [ct, ("X-Author", "h2-user")])
        self.assertEqual((v, st), ("2", 201), raw)
        o = json.loads(raw)
        self.assertObjectShape(o)
        oid = o["id"]
        self.assertEqual(h.get("etag"), self.etag(oid, 1), h)
        self.assertEqual(urllib.parse.urlsplit(h.get("location", "")).path,
                         f"/api/v1/objects/{oid}", h)
        self.assertEqual(o["updated_by"], "h2-user")
        self.assertIn(b'"attributes":{"a":0.1,"b":2}', raw)
        r1 = self.c.get(f"/objects/{oid}")
        self.assertEqual(r1.body, o)
        v, st, h, raw = _curl(port, "GET", f"/objects/{oid}")
        self.assertEqual((v, st), ("2", 200))
        self.assertEqual(raw, r1.raw)
        self.assertEqual(h.get("etag"), r1.headers.get("etag"))
        v, st, h, raw = _curl(port, "GET", f"/objects/{oid}",
                              headers=[("If-None-Match", self.etag(oid, 1))])
        self.assertEqual((v, st, raw), ("2", 304, b""))
        self.assertEqual(h.get("etag"), self.etag(oid, 1))
        v, st, h, raw = _curl(port, "PUT", f"/objects/{oid}",
                              {"type": self.type, "name": "h2 put",
                               "attributes": {"a": 0.1, "b": 3}},
                              [ct, ("If-Match", self.etag(oid, 1))])
        self.assertEqual((v, st), ("2", 200), raw)
        self.assertEqual(json.loads(raw)["revision"], 2)
        v, st, h, raw = _curl(port, "PUT", f"/objects/{oid}",
                              {"type": self.type, "name": "stale"},
                              [ct, ("If-Match", self.etag(oid, 1))])
        self.assertEqual((v, st), ("2", 412), raw)
        v, st, h, raw = _curl(port, "PATCH", f"/objects/{oid}",
                              {"attributes": {"b": None}},
                              [("Content-Type", "application/merge-patch+json")])
        self.assertEqual((v, st), ("2", 200), raw)
        self.assertEqual(json.loads(raw)["attributes"], {"a": 0.1})
        v, st, h, raw = _curl(port, "POST", "/objects",
                              {"type": "bad type", "name": ""}, [ct])
        self.assertEqual((v, st), ("2", 422), raw)
        doc = json.loads(raw)
        self.assertEqual({e["pointer"] for e in doc["errors"]},
                         {"/type", "/name"})
        v, st, h, raw = _curl(port, "GET", f"/objects/{oid}/revisions")
        self.assertEqual((v, st), ("2", 200), raw)
        self.assertEqual([x["revision"] for x in json.loads(raw)["items"]],
                         [3, 2, 1])
        v, st, h, raw = _curl(port, "DELETE", f"/objects/{oid}")
        self.assertEqual((v, st, raw), ("2", 204, b""))
        self.assertEqual(h.get("etag"), self.etag(oid, 4))
        v, st, h, raw = _curl(port, "GET", f"/objects/{oid}")
        self.assertEqual((v, st), ("2", 404), raw)


class TestObjectsSQLite(ObjectsApiTests, ServerTestCase):
    backend = "sqlite"

    @classmethod
    def class_db(cls):
        return f"sqlite:{cls.tmp}/objectd.db"

    @classmethod
    def fresh_db(cls, name):
        d = tempfile.mkdtemp(prefix=f"{name}-", dir=cls.tmp)
        return f"sqlite:{d}/objectd.db"

    def test_sqlite_sync_normal(self):
        db = self.fresh_db("sync")
        srv = self.start_server("--db", db, "--sync", "normal")
        r = self.client(srv).get("/readyz")
        self.assertEqual(r.status, 200, r)
        acked, heads = self._write_acknowledged(srv, 20, self.type)
        srv.expect_exit = True
        srv.kill()
        srv2 = self.start_server("--db", db, "--sync", "full")
        self._check_all_readable(srv2, acked, heads)
        self.assertEqual(bad_log_records(srv), [])
        self.assertEqual(bad_log_records(srv2), [])

    def test_sqlite_bad_sync_value_rejected(self):
        srv = Server(["--db", self.fresh_db("badsync"), "--sync", "sometimes"])
        self.addCleanup(srv.cleanup)
        try:
            srv.start(timeout=5)
        except harness.ServerError:
            self.assertNotIn(srv.proc.returncode, (None, 0))
        else:
            self.fail("objectd started with --sync sometimes")

    def test_sqlite_pending_migrations(self):
        db = self.fresh_db("migrate")
        srv = self.start_server("--db", db, "--migrate", "off")
        c = self.client(srv)
        r = c.get("/readyz")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.body, {"status": "migrations pending"}, r)
        self.assertEqual(c.get("/healthz").status, 200)
        binary = str(harness.require_binary())
        p = run([binary, "migrate", "--db", db], timeout=30, env=child_env())
        self.assertEqual(p.returncode, 0,
                         f"objectd migrate failed: {p.stderr.decode()[-2000:]}")
        srv.stop()
        srv2 = self.start_server("--db", db, "--migrate", "off")
        c2 = self.client(srv2)
        r = c2.get("/readyz")
        self.assertEqual(r.status, 200, r)
        o = self.create(name="after-migrate", client=c2)
        self.assertEqual(c2.get(f"/objects/{o['id']}").body, o)
        # Migrating again changes nothing and succeeds.
        p = run([binary, "migrate", "--db", db], timeout=30, env=child_env())
        self.assertEqual(p.returncode, 0, p.stderr.decode()[-2000:])
        self.assertEqual(c2.get(f"/objects/{o['id']}").body, o)


@unittest.skipUnless(
    PG_URI, "OBJECTD_TEST_PG_URI is not set (start a throw-away server with "
            "`scripts/pg-test-server start DIR` and export the URI it prints)")
class TestObjectsPostgreSQL(ObjectsApiTests, ServerTestCase):
    backend = "postgresql"
    fresh_db_is_private = False

    @classmethod
    def class_db(cls):
        return PG_URI

    @classmethod
    def fresh_db(cls, name):
        return PG_URI  # shared; tests isolate themselves by type and id


# ------------------------------------------------------------------------
# curl over h2c

def _curl(port, method, path, body=None, headers=()):
    """(http_version, status, headers {lower: value}, raw body) via curl."""
    tmp = tempfile.mkdtemp(prefix="objectd-h2-")
    try:
        hfile, bfile = os.path.join(tmp, "h"), os.path.join(tmp, "b")
        cmd = [CURL, "-q", "-sS", "--noproxy", "*", "--http2-prior-knowledge",
               "-X", method, "-D", hfile, "-o", bfile, "-w",
               "%{http_version} %{http_code}"]
        for k, v in headers:
            cmd += ["-H", f"{k}: {v}"]
        if body is not None:
            data = body if isinstance(body, bytes) else encode_json(body)
            dfile = os.path.join(tmp, "d")
            with open(dfile, "wb") as f:
                f.write(data)
            cmd += ["--data-binary", f"@{dfile}"]
        cmd.append(f"http://127.0.0.1:{port}/api/v1{path}")
        p = run(cmd, timeout=20)
        if p.returncode != 0:
            raise AssertionError(f"curl failed: {p.stderr.decode()}")
        version, status = p.stdout.decode().split()
        with open(hfile, "rb") as f:
            head = f.read().decode("latin-1").split("\r\n\r\n")
        blocks = [b for b in head if b.strip()]
        hdrs = {}
        for line in blocks[-1].split("\r\n")[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        raw = b""
        if os.path.exists(bfile):  # curl writes no file for an empty body
            with open(bfile, "rb") as f:
                raw = f.read()
        return version, int(status), hdrs, raw
    finally:
        shutil.rmtree(tmp, ignore_errors=True)



if __name__ == "__main__":
    harness.main(watchdog=240)
