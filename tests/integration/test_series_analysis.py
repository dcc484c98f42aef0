"""Integration tests of observations, events and the analysis
(/api/v1/objects/{id}/observations, /events, /analysis).

The analysis is checked against an independent computation: the test reads
the raw readings and events back through the list endpoints (following the
cursors) and recomputes every statistic of docs/analysis.md with its own
Python code (exact rational arithmetic where it matters, math.fsum for
means), sharing nothing with src/analysis/.

Classes:

  * TestSeriesSQLite       always; one fresh SQLite file per class;
  * TestSeriesPostgreSQL   when OBJECTD_TEST_PG_URI names a postgresql://
                           database (e.g. what `scripts/pg-test-server start
                           DIR` prints); shared, so every object has a
                           random id;
  * TestSeededWorkload     `objectd seed --objects 3` into SQLite files (and,
                           when PG is available and psql is installed, into
                           a fresh PostgreSQL database made for the run and
                           dropped after it): determinism across seeds and
                           backends, the independent check of object 2, the
                           pretty size, --analysis-cache off, h2load.

Run: python3 tests/integration/test_series_analysis.py [-q] [Class.test]
The last line printed is "N passed, N failed".
"""

import calendar
import collections
import datetime as dt
import gzip
import json
import math
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
from decimal import Decimal
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, ServerTestCase, run  # noqa: E402
from api_client import ApiClient, encode_json  # noqa: E402

PG_URI = os.environ.get("OBJECTD_TEST_PG_URI") or None
CURL = harness.tool_path("curl")
H2LOAD = harness.tool_path("h2load")
PSQL = harness.tool_path("psql")

US = 1_000_000
MIN_US = 60 * US
HOUR_US = 3600 * US
DAY_US = 86400 * US
EPOCH = dt.datetime(1970, 1, 1)

LIST_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
AN_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LINK_NEXT_RE = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
    r"([Zz]|[+-]\d\d:\d\d)$")

# Member order, docs/analysis.md "The fields".
TOP_KEYS = ["object", "window", "revisions", "metrics", "events"]
OBJECT_KEYS = ["id", "revision", "type", "name", "attributes", "updated_at",
               "updated_by"]
REVS_KEYS = ["count_in_window", "authors_in_window", "recent"]
REV_KEYS = ["revision", "updated_at", "author", "deleted", "changed"]
METRIC_KEYS = ["count", "min", "max", "mean", "stddev", "p50", "p90", "p99",
               "first", "last", "trend_per_day", "daily", "hourly",
               "anomalies"]
DAILY_KEYS = ["date", "count", "min", "max", "mean"]
HOURLY_KEYS = ["hour", "count", "min", "max", "mean"]
ANOM_KEYS = ["ts", "value", "z"]
EVENTS_KEYS = ["count", "by_kind", "by_severity", "recent"]
EVENT_KEYS = ["ts", "kind", "severity", "message", "data"]

REL = 1e-9  # relative tolerance for mean, stddev, trend, z
SEED_TIMEOUT = 20  # seconds; seeding 3 objects takes about one
H2LOAD_TIMEOUT = 20  # seconds; 100 analyses take well under one


# --------------------------------------------------------------------------
# Times (integer microseconds since the epoch, never floats)


def us_of(s):
    m = _RFC3339.match(s)
    if not m:
        raise ValueError(f"not an RFC 3339 date-time: {s!r}")
    y, mo, d, h, mi, se = map(int, m.groups()[:6])
    frac = (m.group(7) or "")[:6].ljust(6, "0")
    secs = calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0))
    off = m.group(8)
    if off not in ("Z", "z"):
        sign = 1 if off[0] == "+" else -1
        secs -= sign * (int(off[1:3]) * 3600 + int(off[4:6]) * 60)
    return secs * US + int(frac)


def iso_us(us):
    return (EPOCH + dt.timedelta(microseconds=us)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def iso_ms(us):
    """The analysis form: milliseconds, truncated towards the past."""
    ms = us // 1000
    t = EPOCH + dt.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_offset(us, minutes):
    """RFC 3339 with a numeric offset (same instant)."""
    t = EPOCH + dt.timedelta(microseconds=us + minutes * MIN_US)
    sign = "+" if minutes >= 0 else "-"
    a = abs(minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{sign}{a // 60:02d}:{a % 60:02d}"


def date_of(us):
    return (EPOCH + dt.timedelta(days=us // DAY_US)).strftime("%Y-%m-%d")


def hour_of(us):
    return (EPOCH + dt.timedelta(hours=us // HOUR_US)).strftime(
        "%Y-%m-%dT%H:00:00Z")


def q(s):
    return urllib.parse.quote(str(s), safe="")


def rand_id():
    return 2 ** 40 + secrets.randbelow(2 ** 62 - 2 ** 40)


def child_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("OBJECTD_")}


# --------------------------------------------------------------------------
# Numbers as JavaScript's String(x) writes them


def js_number(x):
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    d = Decimal(repr(abs(x))).normalize()  # repr: shortest round trip
    _, digs, exp = d.as_tuple()
    s = "".join(map(str, digs))
    k = len(s)
    n = exp + k
    if k <= n <= 21:
        body = s + "0" * (n - k)
    elif 0 < n <= 21:
        body = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + s
    else:
        e = n - 1
        body = (s[0] + ("." + s[1:] if k > 1 else "") + "e"
                + ("+" if e >= 0 else "-") + str(abs(e)))
    return sign + body


def load_checked(raw):
    """Parses an analysis body; returns (doc, number tokens that are not in
    JavaScript's shortest form, e.g. "-0", "1.0", "1e21")."""
    tokens = []

    def pf(s):
        tokens.append(s)
        return float(s)

    def pi(s):
        tokens.append(s)
        return int(s)

    def pc(s):
        raise ValueError(f"non-JSON constant {s}")

    doc = json.loads(raw.decode("utf-8"), parse_float=pf, parse_int=pi,
                     parse_constant=pc)
    bad = []
    for s in tokens:
        if re.fullmatch(r"-?\d+", s) and abs(int(s)) >= 2 ** 53:
            continue  # exact integers (ids) beyond double precision
        v = float(s)
        if not math.isfinite(v) or js_number(v) != s:
            bad.append(s)
    return doc, bad


# --------------------------------------------------------------------------
# The pretty form, derived independently from the compact one


class _Compact:
    """A strict parser for compact JSON (no whitespace outside strings)
    that keeps every scalar's text verbatim."""

    NUM = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")

    def __init__(self, text):
        self.s = text
        self.i = 0

    def fail(self, what):
        raise ValueError(f"compact JSON: {what} at offset {self.i}: "
                         f"{self.s[max(0, self.i - 40):self.i + 40]!r}")

    def string(self):
        s, i = self.s, self.i
        if s[i] != '"':
            self.fail("string expected")
        j = i + 1
        while s[j] != '"':
            j += 2 if s[j] == "\\" else 1
        self.i = j + 1
        return s[i:j + 1]

    def value(self):
        s = self.s
        c = s[self.i]
        if c == "{":
            self.i += 1
            members = []
            if s[self.i] == "}":
                self.i += 1
                return ("obj", members)
            while True:
                k = self.string()
                if s[self.i] != ":":
                    self.fail("':' expected")
                self.i += 1
                members.append((k, self.value()))
                if s[self.i] == ",":
                    self.i += 1
                    continue
                if s[self.i] == "}":
                    self.i += 1
                    return ("obj", members)
                self.fail("',' or '}' expected")
        if c == "[":
            self.i += 1
            elems = []
            if s[self.i] == "]":
                self.i += 1
                return ("arr", elems)
            while True:
                elems.append(self.value())
                if s[self.i] == ",":
                    self.i += 1
                    continue
                if s[self.i] == "]":
                    self.i += 1
                    return ("arr", elems)
                self.fail("',' or ']' expected")
        if c == '"':
            return ("lit", self.string())
        for lit in ("true", "false", "null"):
            if s.startswith(lit, self.i):
                self.i += len(lit)
                return ("lit", lit)
        m = self.NUM.match(s, self.i)
        if not m:
            self.fail("value expected")
        self.i = m.end()
        return ("lit", m.group(0))


def _emit(v, ind, out):
    kind, x = v
    if kind == "lit":
        out.append(x)
    elif kind == "arr":
        if all(e[0] == "lit" for e in x):
            out.append("[" + ", ".join(e[1] for e in x) + "]")
            return
        out.append("[\n")
        for j, e in enumerate(x):
            out.append("  " * (ind + 1))
            _emit(e, ind + 1, out)
            out.append(",\n" if j < len(x) - 1 else "\n")
        out.append("  " * ind + "]")
    else:
        if not x:
            out.append("{}")
            return
        out.append("{\n")
        for j, (k, e) in enumerate(x):
            out.append("  " * (ind + 1) + k + ": ")
            _emit(e, ind + 1, out)
            out.append(",\n" if j < len(x) - 1 else "\n")
        out.append("  " * ind + "}")


def pretty_of_compact(raw):
    """What docs/analysis.md says pretty=true writes for this compact body:
    two-space indent, one member per line, arrays of scalars on one line."""
    text = raw.decode("utf-8")
    if not text.endswith("\n"):
        raise ValueError("compact body does not end with a newline")
    p = _Compact(text[:-1])
    tree = p.value()
    if p.i != len(p.s):
        p.fail("trailing bytes")
    out = []
    _emit(tree, 0, out)
    return ("".join(out) + "\n").encode("utf-8")


# --------------------------------------------------------------------------
# The independent computation (docs/analysis.md), from raw rows


def _close(got, exp, floor=0.0):
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    return abs(got - exp) <= REL * abs(exp) + floor


def _exact_mean_var(vals):
    fr = [Fraction(v) for v in vals]
    mean = sum(fr, Fraction(0)) / len(fr)
    var = sum(((f - mean) ** 2 for f in fr), Fraction(0)) / len(fr)
    return mean, var


def _nearest_rank(sorted_vals, qnum, qden):
    n = len(sorted_vals)
    rank = -((-qnum * n) // qden)  # ceil(q * n), exactly
    return sorted_vals[max(rank, 1) - 1]


def _slope_per_day(rows):
    """Exact least-squares slope (value units per day) and the natural scale
    of its rounding error (sd(value) / sd(time in days))."""
    n = len(rows)
    if n < 2:
        return 0.0, 0.0
    t0 = rows[0][0]
    ts = [t - t0 for t, _ in rows]
    ys = [Fraction(v) for _, v in rows]
    st, sy = sum(ts), sum(ys, Fraction(0))
    sty = sum((t * y for t, y in zip(ts, ys)), Fraction(0))
    stt = sum(t * t for t in ts)
    den = n * stt - st * st
    if den == 0:
        return 0.0, 0.0
    slope = Fraction(n * sty - st * sy) * DAY_US / den
    var_y = _exact_mean_var([v for _, v in rows])[1]
    sd_t_days = math.sqrt(den) / n / DAY_US
    return float(slope), math.sqrt(float(var_y)) / sd_t_days


def _buckets(rows, keyf):
    groups = collections.OrderedDict()
    for t, v in rows:
        groups.setdefault(keyf(t), []).append((t, v))
    return groups


def expected_metric(rows, frm, to):
    """rows: [(ts_us, value)] of one metric in the window, sorted by ts."""
    vals = [v for _, v in rows]
    n = len(vals)
    s = sorted(vals)
    mean_x, var_x = _exact_mean_var(vals)
    slope, slope_scale = _slope_per_day(rows)
    scale = max(abs(v) for v in vals)
    m = {
        "count": n, "min": s[0], "max": s[-1],
        "mean": math.fsum(vals) / n,
        "stddev": math.sqrt(float(var_x)),
        "p50": _nearest_rank(s, 1, 2), "p90": _nearest_rank(s, 9, 10),
        "p99": _nearest_rank(s, 99, 100),
        "first": rows[0][1], "last": rows[-1][1],
        "trend_per_day": slope, "_trend_floor": 1e-11 * slope_scale,
        "_floor": 1e-13 * scale,
    }
    days = _buckets(rows, lambda t: t // DAY_US)
    m["daily"] = [{"date": date_of(rs[0][0]), "count": len(rs),
                   "min": min(v for _, v in rs), "max": max(v for _, v in rs),
                   "mean": math.fsum(v for _, v in rs) / len(rs)}
                  for rs in days.values()]
    lo = to - 7 * DAY_US
    hours = _buckets([(t, v) for t, v in rows if lo < t <= to],
                     lambda t: t // HOUR_US)
    m["hourly"] = [{"hour": hour_of(rs[0][0]), "count": len(rs),
                    "min": min(v for _, v in rs), "max": max(v for _, v in rs),
                    "mean": math.fsum(v for _, v in rs) / len(rs)}
                   for rs in hours.values()]
    # Anomalies: |value - day mean| > 3 sd of the day (population).
    cands, unsure = [], []
    for rs in days.values():
        dmean, dvar = _exact_mean_var([v for _, v in rs])
        if dvar == 0:
            continue
        dsd = math.sqrt(float(dvar))
        for t, v in rs:
            z = float(Fraction(v) - dmean) / dsd
            if abs(abs(z) - 3) <= 1e-9:
                unsure.append((t, v, z))  # too close to call
            elif abs(z) > 3:
                cands.append((t, v, z))
    cands.sort(key=lambda c: (-abs(c[2]), c[0]))
    kept = cands[:50]
    if len(cands) > 50 and abs(abs(cands[49][2]) - abs(cands[50][2])) <= \
            1e-9 * abs(cands[49][2]):
        # The 50th and 51st are equal within rounding: either may be kept.
        edge = abs(cands[49][2])
        unsure += [c for c in cands if abs(abs(c[2]) - edge) <= 1e-9 * edge]
        kept = [c for c in kept if abs(abs(c[2]) - edge) > 1e-9 * edge]
    m["anomalies"] = sorted(kept)
    m["_anomalies_unsure"] = unsure
    m["_anomaly_candidates"] = len(cands)
    return m


def expected_metrics(readings, frm, to):
    """readings: [(metric, ts_us, value)]; window [frm, to] in us."""
    by = {}
    for metric, t, v in readings:
        if frm <= t <= to:
            by.setdefault(metric, []).append((t, v))
    return {metric: expected_metric(sorted(by[metric]), frm, to)
            for metric in sorted(by, key=lambda k: k.encode())}


def canon(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def changed_names(new, old):
    if old is None:
        return sorted(new, key=lambda k: k.encode())
    names = set(new) | set(old)
    return sorted((k for k in names if (k in new) != (k in old)
                   or canon(new[k]) != canon(old[k])),
                  key=lambda k: k.encode())


def first_difference(a, b):
    """Where two analysis bodies first differ: a JSON path and both values
    (or the byte offset when they parse equal)."""
    try:
        x, y = json.loads(a), json.loads(b)
    except ValueError:
        x = y = None

    def walk(u, v, path):
        if type(u) is not type(v):
            return path, u, v
        if isinstance(u, dict):
            if list(u) != list(v):
                return path + " (members)", list(u), list(v)
            for k in u:
                d = walk(u[k], v[k], f"{path}.{k}")
                if d:
                    return d
            return None
        if isinstance(u, list):
            for i, (p, q2) in enumerate(zip(u, v)):
                d = walk(p, q2, f"{path}[{i}]")
                if d:
                    return d
            if len(u) != len(v):
                return path + " (length)", len(u), len(v)
            return None
        return None if u == v else (path, u, v)

    d = walk(x, y, "$") if x is not None else None
    if d:
        return f"first difference at {d[0]}: {str(d[1])[:200]} vs {str(d[2])[:200]}"
    i = next((i for i, (p, q2) in enumerate(zip(a, b)) if p != q2),
             min(len(a), len(b)))
    return (f"bodies differ from byte {i}: {a[max(0, i - 60):i + 60]!r} vs "
            f"{b[max(0, i - 60):i + 60]!r}")


class Mismatches(list):
    def add(self, where, got, exp):
        self.append(f"{where}: analysis has {got!r}, expected {exp!r}")


def compare_analysis(doc, *, readings, events, revisions, obj, frm, to):
    """Every difference between an analysis and the independent computation,
    as messages. `revisions`: all of the object's revisions, newest first
    (as GET /revisions lists them); `obj`: GET /objects/{id}."""
    out = Mismatches()

    def keys(where, d, expected):
        if not isinstance(d, dict) or list(d) != expected:
            out.add(f"{where} members", list(d) if isinstance(d, dict) else d,
                    expected)
            return False
        return True

    if not keys("top level", doc, TOP_KEYS):
        return out
    # object
    o = doc["object"]
    if keys("object", o, OBJECT_KEYS):
        for k in ("id", "revision", "type", "name", "updated_by"):
            if o[k] != obj[k] or type(o[k]) is not type(obj[k]):
                out.add(f"object.{k}", o[k], obj[k])
        if o["attributes"] != obj["attributes"]:
            out.add("object.attributes", o["attributes"], obj["attributes"])
        elif list(o["attributes"]) != sorted(o["attributes"],
                                             key=lambda k: k.encode()):
            out.add("object.attributes key order", list(o["attributes"]),
                    sorted(o["attributes"]))
        if o["updated_at"] != iso_ms(us_of(obj["updated_at"])):
            out.add("object.updated_at", o["updated_at"],
                    iso_ms(us_of(obj["updated_at"])))
    # window
    w = doc["window"]
    if keys("window", w, ["from", "to"]):
        if (w["from"], w["to"]) != (iso_ms(frm), iso_ms(to)):
            out.add("window", (w["from"], w["to"]), (iso_ms(frm), iso_ms(to)))
    # revisions
    r = doc["revisions"]
    if keys("revisions", r, REVS_KEYS):
        inw = [x for x in revisions if frm <= us_of(x["updated_at"]) <= to]
        if r["count_in_window"] != len(inw):
            out.add("revisions.count_in_window", r["count_in_window"], len(inw))
        authors = collections.Counter(x["updated_by"] for x in inw)
        exp_auth = [{"author": a, "count": authors[a]}
                    for a in sorted(authors, key=lambda a: a.encode())]
        if r["authors_in_window"] != exp_auth:
            out.add("revisions.authors_in_window", r["authors_in_window"],
                    exp_auth)
        by_rev = {x["revision"]: x for x in revisions}
        exp_recent = []
        for x in revisions[:20]:
            prev = by_rev.get(x["revision"] - 1)
            exp_recent.append({
                "revision": x["revision"],
                "updated_at": iso_ms(us_of(x["updated_at"])),
                "author": x["updated_by"], "deleted": x["deleted"],
                "changed": changed_names(x["attributes"],
                                         prev["attributes"] if prev else None)})
        if any(list(e) != REV_KEYS for e in r["recent"]
               if isinstance(e, dict)):
            out.add("revisions.recent members", r["recent"][:1], REV_KEYS)
        if r["recent"] != exp_recent:
            out.add("revisions.recent", r["recent"], exp_recent)
    # metrics
    exp = expected_metrics(readings, frm, to)
    got = doc["metrics"]
    if not isinstance(got, dict) or list(got) != list(exp):
        out.add("metrics names", list(got) if isinstance(got, dict) else got,
                list(exp))
    else:
        for name, e in exp.items():
            _compare_metric(out, f"metrics[{name!r}]", got[name], e)
    # events
    ev = doc["events"]
    if keys("events", ev, EVENTS_KEYS):
        inw = [x for x in events if frm <= us_of(x["ts"]) <= to]
        if ev["count"] != len(inw) or type(ev["count"]) is not int:
            out.add("events.count", ev["count"], len(inw))
        for field, name in (("kind", "by_kind"), ("severity", "by_severity")):
            c = collections.Counter(x[field] for x in inw)
            e = {k: c[k] for k in sorted(c, key=lambda k: k.encode())}
            if ev[name] != e or list(ev[name]) != list(e):
                out.add(f"events.{name}", ev[name], e)
        _compare_recent_events(out, ev["recent"], inw)
    return out


def _compare_metric(out, where, g, e):
    if not isinstance(g, dict) or list(g) != METRIC_KEYS:
        out.add(f"{where} members", list(g) if isinstance(g, dict) else g,
                METRIC_KEYS)
        return
    if type(g["count"]) is not int or g["count"] != e["count"]:
        out.add(f"{where}.count", g["count"], e["count"])
    for k in ("min", "max", "p50", "p90", "p99", "first", "last"):
        if isinstance(g[k], bool) or g[k] != e[k]:
            out.add(f"{where}.{k}", g[k], e[k])
    for k in ("mean", "stddev"):
        if not _close(g[k], e[k], e["_floor"]):
            out.add(f"{where}.{k}", g[k], e[k])
    if not _close(g["trend_per_day"], e["trend_per_day"], e["_trend_floor"]):
        out.add(f"{where}.trend_per_day", g["trend_per_day"],
                e["trend_per_day"])
    for kind, bkeys, tkey in (("daily", DAILY_KEYS, "date"),
                              ("hourly", HOURLY_KEYS, "hour")):
        gb, eb = g[kind], e[kind]
        if not isinstance(gb, list) or len(gb) != len(eb):
            out.add(f"{where}.{kind} ({len(eb)} buckets expected)",
                    [b.get(tkey) for b in gb] if isinstance(gb, list) else gb,
                    [b[tkey] for b in eb])
            continue
        for i, (x, y) in enumerate(zip(gb, eb)):
            w = f"{where}.{kind}[{i}] ({y[tkey]})"
            if not isinstance(x, dict) or list(x) != bkeys:
                out.add(f"{w} members", x, bkeys)
                continue
            for k in (tkey, "count", "min", "max"):
                if x[k] != y[k] or isinstance(x[k], bool):
                    out.add(f"{w}.{k}", x[k], y[k])
            if not _close(x["mean"], y["mean"], e["_floor"]):
                out.add(f"{w}.mean", x["mean"], y["mean"])
    ga = g["anomalies"]
    if not isinstance(ga, list) or any(
            not isinstance(a, dict) or list(a) != ANOM_KEYS for a in ga):
        out.add(f"{where}.anomalies shape", ga, ANOM_KEYS)
        return
    ts = [a["ts"] for a in ga]
    if ts != sorted(ts):
        out.add(f"{where}.anomalies order (by time)", ts, sorted(ts))
    unsure = {iso_ms(t): (v, z) for t, v, z in e["_anomalies_unsure"]}
    want = {iso_ms(t): (v, z) for t, v, z in e["anomalies"]}
    have = {a["ts"]: (a["value"], a["z"]) for a in ga}
    for t, (v, z) in want.items():
        if t not in have:
            out.add(f"{where}.anomalies: missing {t} (value {v}, z {z})",
                    None, (v, z))
        elif have[t][0] != v or not _close(have[t][1], z):
            out.add(f"{where}.anomalies[{t}]", have[t], (v, z))
    for t, (v, z) in have.items():
        if t not in want and t not in unsure:
            out.add(f"{where}.anomalies: unexpected {t}", (v, z), None)
    if not unsure and len(ga) != len(want):
        out.add(f"{where}.anomalies count", len(ga), len(want))
    if len(ga) > 50:
        out.add(f"{where}.anomalies count (at most 50)", len(ga), 50)


def _compare_recent_events(out, got, inw):
    exp = sorted(inw, key=lambda x: -us_of(x["ts"]))
    if not isinstance(got, list) or any(
            not isinstance(x, dict) or list(x) != EVENT_KEYS for x in got):
        out.add("events.recent shape", got[:2] if isinstance(got, list) else got,
                EVENT_KEYS)
        return
    n = min(100, len(exp))
    if len(got) != n:
        out.add("events.recent length", len(got), n)
        return
    gts = [us_of(x["ts"]) for x in got]
    if gts != sorted(gts, reverse=True):
        out.add("events.recent order (newest first)", [x["ts"] for x in got],
                "non-increasing times")
    # Compare per time; a tie group cut by the 100 limit is compared loosely.
    cut = us_of(exp[n - 1]["ts"]) if len(exp) > n else None

    def key(x):
        return (iso_ms(us_of(x["ts"])), x["kind"], x["severity"],
                x["message"], canon(x["data"]))

    g = sorted(key(x) for x in got if us_of(x["ts"]) != cut)
    e = sorted(key(x) for x in exp[:n] if us_of(x["ts"]) != cut)
    if g != e:
        diff = sorted(set(g) ^ set(e))[:6]
        out.add("events.recent (symmetric difference)", diff, [])


# --------------------------------------------------------------------------
# Synthetic data set

SYN_BASE = us_of("2026-03-01T00:00:00Z")
SYN_NEWEST = us_of("2026-03-03T23:55:00.250750Z")  # a temp spike, the newest
SYN_FROM = SYN_NEWEST - 30 * DAY_US


def synthetic_readings():
    """{day: [(metric, ts_us, value, json_value)]} for days 0..2, and the
    extras (vib, flat, single, spikes, old readings) as separate lists."""
    rnd = random.Random(20260301)
    days = {0: [], 1: [], 2: []}
    for d in range(3):
        for i in range(144):
            t = SYN_BASE + d * DAY_US + i * 10 * MIN_US
            f = i / 144
            temp = round(20 + 5 * math.sin(2 * math.pi * f) + 0.5 * (d + f)
                         + rnd.uniform(-0.3, 0.3), 3)
            power = 100 + 30 * math.sin(2 * math.pi * (f - 0.25)) + \
                rnd.gauss(0, 2)
            hum = round(-5 + 10 * math.cos(2 * math.pi * f) + rnd.uniform(-1, 1))
            if (d, i) == (0, 80):
                temp += 25
            if (d, i) == (1, 18):
                power -= 80
            if (d, i) == (2, 121):
                power += 120
            if (d, i) == (2, 30):
                hum += 60
            days[d] += [("temp", t, temp), ("power.kw", t, power),
                        ("hum-1", t, int(hum))]
    # vib: one reading a minute for two days, 30 spikes a day - more than 50
    # anomalies in all, so the cap and the |z| ranking matter.
    vib = []
    for d in range(2):
        spikes = set(rnd.sample(range(1440), 30))
        for i in range(1440):
            t = SYN_BASE + d * DAY_US + i * MIN_US
            v = round(rnd.gauss(0, 1), 4)
            if i in spikes:
                v = round(rnd.choice((-1, 1)) * rnd.uniform(30, 70), 4)
            vib.append(("vib", t, v))
    flat = [("flat", SYN_BASE + k * HOUR_US + 5 * MIN_US, -0.0 if k % 2 else 0.0)
            for k in range(5)]
    single = [("single", SYN_BASE + 36 * HOUR_US + 123000, 1.5e-7)]
    spikes = [("temp", us_of("2026-03-02T09:07:30.123999Z"), 61.25),
              ("temp", SYN_NEWEST, 55.5)]
    old = [("temp", SYN_FROM, 7.75),             # exactly at the window start
           ("temp", SYN_FROM - 1, 1e21),         # 1 us before: outside
           ("temp", SYN_FROM - 10 * DAY_US, -3.0)]
    return days, vib, flat, single, spikes, old


def synthetic_events():
    kinds = ["alarm", "door.open", "maint_1"]
    sevs = [None, "debug", "info", "warning", "error", "critical"]
    datas = ["<omit>", None, {"b": 1, "a": [1, 2, {"z": None}]},
             [1, "x", True], 3.25, "str ü", {"nested": {"deep": [{"k": 1}]}}]
    evs = []
    for j in range(45):
        e = {"ts": iso_ms(SYN_BASE + j * 95 * MIN_US + 7000 + j),
             "kind": kinds[j % 3]}
        if sevs[j % 6] is not None:
            e["severity"] = sevs[j % 6]
        if j % 4:
            e["message"] = f"event {j} \u00fc\u20ac \"quoted\""
        if datas[j % 7] != "<omit>":
            e["data"] = datas[j % 7]
        evs.append(e)
    outside = {"ts": iso_ms(SYN_FROM - DAY_US), "kind": "alarm",
               "severity": "error", "message": "before the window"}
    at_from = {"ts": iso_us(SYN_FROM), "kind": "maint_1",
               "message": "at the window start"}
    return evs, outside, at_from


def event_as_listed(e):
    t = e["ts"] * 1000 if isinstance(e["ts"], int) else us_of(e["ts"])
    return {"ts": iso_us(t), "kind": e["kind"],
            "severity": e.get("severity", "info"),
            "message": e.get("message", ""), "data": e.get("data")}


# --------------------------------------------------------------------------
# The tests, mixed into one class per backend


class SeriesHelpers:
    """Request and checking helpers (self.c, self.srv set by the class)."""

    backend = None

    def client(self, srv=None, **kw):
        c = ApiClient((srv or self.srv).port, **kw)
        self.addCleanup(c.close)
        return c

    # -- helpers --

    def assertProblem(self, r, status, pointers=None):
        self.assertEqual(r.status, status, r)
        ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/problem+json", r)
        doc = r.body
        self.assertIsInstance(doc, dict, r)
        self.assertEqual(doc.get("status"), status, r)
        for k in ("type", "title", "detail"):
            self.assertIsInstance(doc.get(k), str, r)
        if pointers is not None:
            errs = doc.get("errors")
            self.assertIsInstance(errs, list, r)
            self.assertEqual(sorted(e.get("pointer") for e in errs),
                             sorted(pointers), r)
        return doc

    def create(self, attributes=None, author=None, c=None):
        body = {"type": self.type, "name": "series", "id": rand_id()}
        if attributes is not None:
            body["attributes"] = attributes
        r = (c or self.c).post("/objects", body,
                               {"X-Author": author} if author else None)
        self.assertEqual(r.status, 201, r)
        return r.body

    def post_obs(self, oid, rows, ndjson=False, c=None):
        if ndjson:
            data = b"".join(encode_json(x) + b"\n" for x in rows)
            return (c or self.c).post(f"/objects/{oid}/observations", data,
                                      {"Content-Type": "application/x-ndjson"})
        return (c or self.c).post(f"/objects/{oid}/observations", rows)

    def post_json(self, path, data):
        """Posts raw bytes as application/json."""
        return self.c.post(path, data, {"Content-Type": "application/json"})

    def post_ok(self, path, rows, ins, rep, unch, ndjson=False):
        if ndjson:
            data = b"".join(encode_json(x) + b"\n" for x in rows)
            r = self.c.post(path, data,
                            {"Content-Type": "application/x-ndjson"})
        else:
            r = self.c.post(path, rows)
        self.assertEqual(r.status, 200, r)
        b = r.body
        self.assertEqual(list(b), ["inserted", "replaced", "unchanged",
                                   "change_seq"], r)
        self.assertEqual((b["inserted"], b["replaced"], b["unchanged"]),
                         (ins, rep, unch), r)
        self.assertIs(type(b["change_seq"]), int, r)
        return b["change_seq"]

    def next_link(self, r):
        link = r.headers.get("link")
        if not link:
            return None
        m = LINK_NEXT_RE.search(link)
        self.assertIsNotNone(m, f"Link without rel=next: {link!r}")
        u = urllib.parse.urlsplit(m.group(1))
        return u.path + (f"?{u.query}" if u.query else "")

    def walk(self, path, c=None):
        """All items of a list, following next_cursor (odd pages) and the
        Link header (even pages); checks that they agree."""
        c = c or self.c
        items, pages = [], 0
        while path is not None:
            r = c.get(path)
            self.assertEqual(r.status, 200, f"{path}: {r}")
            doc = r.body
            self.assertEqual(set(doc), {"items", "next_cursor"}, r)
            link = self.next_link(r)
            pages += 1
            self.assertLess(pages, 2000, "pagination does not end")
            items.extend(doc["items"])
            if doc["next_cursor"] is None:
                self.assertIsNone(link, f"Link rel=next on the last page: {r}")
                break
            self.assertIsNotNone(link, f"next_cursor but no Link: {r}")
            lq = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
            self.assertEqual(lq.get("cursor"), [doc["next_cursor"]], link)
            for k, v in urllib.parse.parse_qsl(path.partition("?")[2]):
                if k == "cursor":
                    continue
                lv = lq.get(k, [None])[0]
                same = (lv is not None and us_of(lv) == us_of(v)) \
                    if k in ("from", "to") else lv == v
                self.assertTrue(same, f"Link rel=next drops or changes the "
                                      f"{k}={v} of {path}: {link}")
            if pages % 2:
                base, _, query = path.partition("?")
                params = [(k, v) for k, v in urllib.parse.parse_qsl(query)
                          if k != "cursor"]
                params.append(("cursor", doc["next_cursor"]))
                path = base + "?" + urllib.parse.urlencode(params)
            else:
                path = link
        return items, pages

    def readings(self, oid, limit=1000, c=None):
        items, _ = self.walk(f"/objects/{oid}/observations?limit={limit}", c)
        return items

    def raw_state(self, oid, c=None):
        """(readings [(metric, ts_us, value)], events, revisions, object)."""
        c = c or self.c
        items = self.readings(oid, 1000, c)
        for x in items:
            self.assertEqual(list(x), ["metric", "ts", "value"], x)
            self.assertRegex(x["ts"], LIST_TS_RE)
        keys = [(us_of(x["ts"]), x["metric"].encode()) for x in items]
        self.assertEqual(keys, sorted(keys), "observations not ordered by "
                                             "(ts, metric)")
        self.assertEqual(len(set(keys)), len(keys), "duplicate readings")
        readings = [(x["metric"], us_of(x["ts"]), float(x["value"]))
                    for x in items]
        events, _ = self.walk(f"/objects/{oid}/events?limit=37", c)
        ekeys = [(us_of(x["ts"]), x["kind"].encode()) for x in events]
        self.assertEqual(ekeys, sorted(ekeys), "events not ordered by "
                                               "(ts, kind)")
        revisions, _ = self.walk(f"/objects/{oid}/revisions?limit=7", c)
        r = c.get(f"/objects/{oid}")
        self.assertEqual(r.status, 200, r)
        return readings, events, revisions, r.body

    def analysis(self, oid, query="", headers=None, c=None, status=200):
        r = (c or self.c).get(f"/objects/{oid}/analysis{query}", headers)
        self.assertEqual(r.status, status, r)
        return r

    def check_analysis(self, r, state, frm, to, label):
        """Independent check of an analysis response (compact)."""
        ctype = r.headers.get("content-type", "").split(";")[0].strip()
        self.assertEqual(ctype, "application/json", r)
        self.assertTrue(r.raw.endswith(b"}\n"), r.raw[-20:])
        doc, bad = load_checked(r.raw)
        self.assertEqual(bad, [], f"{label}: numbers not in shortest "
                                  f"JavaScript form")
        times = [doc["object"]["updated_at"], doc["window"]["from"],
                 doc["window"]["to"]]
        times += [x["updated_at"] for x in doc["revisions"]["recent"]]
        times += [x["ts"] for x in doc["events"]["recent"]]
        times += [a["ts"] for m in doc["metrics"].values()
                  for a in m["anomalies"]]
        bad_times = [t for t in times if not AN_TS_RE.match(str(t))]
        self.assertEqual(bad_times, [], f"{label}: times not in the form "
                                        f"2026-11-29T07:50:40.123Z")
        readings, events, revisions, obj = state
        out = compare_analysis(doc, readings=readings, events=events,
                               revisions=revisions, obj=obj, frm=frm, to=to)
        self.assertEqual(out, [], f"{label}: {len(out)} mismatch(es) with the "
                                  f"independent computation:\n"
                         + "\n".join(out[:25]))
        return doc


class SeriesTests(SeriesHelpers):
    """The tests; mixed into one class per backend."""

    @classmethod
    def class_db(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix=f"objectd-series-{cls.backend}-")
        cls.db = cls.class_db()
        cls.srv = None
        cls._syn = None
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
        cls.srv = Server(["--db", cls.db])
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv is not None:
            cls.srv.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        if not self.srv.alive():
            type(self)._start_class_server()
        self.addCleanup(self._check_alive, self.srv)
        self.c = self.client()
        self.type = f"it.series-{self.backend}-{secrets.token_hex(4)}"

    def _check_alive(self, srv):
        if not srv.alive():
            raise AssertionError(
                f"objectd ({self.backend}) died during the test (status "
                f"{srv.proc.returncode})\nstderr tail:\n{srv.stderr_tail(20)}")

    # ================================================================
    # Observations: ingest

    def test_observations_counts_and_idempotence(self):
        oid = self.create()["id"]
        path = f"/objects/{oid}/observations"
        t0 = us_of("2026-05-01T00:00:00Z")
        rows = [{"metric": "a", "ts": iso_us(t0), "value": 1.5},
                {"metric": "b", "ts": iso_us(t0), "value": -2},
                {"metric": "a", "ts": (t0 + MIN_US) // 1000, "value": 3e-5}]
        c1 = self.post_ok(path, rows, 3, 0, 0)
        self.assertGreater(c1, 0)
        # Exactly the same again: nothing changes, change_seq not bumped.
        self.assertEqual(self.post_ok(path, rows, 0, 0, 3), c1)
        # The same instants and values written differently are the same
        # readings: an offset, epoch milliseconds, 1.5 vs 1.50, -2 vs -2.0.
        same = [{"metric": "a", "ts": iso_offset(t0, 150), "value": 1.50},
                {"metric": "b", "ts": t0 // 1000, "value": -2.0},
                {"metric": "a", "ts": iso_offset(t0 + MIN_US, -480),
                 "value": 0.00003}]
        self.assertEqual(self.post_ok(path, same, 0, 0, 3, ndjson=True), c1)
        # A new value replaces; a new (metric, ts) inserts.
        mixed = [{"metric": "a", "ts": iso_us(t0), "value": 1.75},
                 {"metric": "b", "ts": iso_us(t0), "value": -2},
                 {"metric": "c", "ts": iso_us(t0), "value": 0}]
        c2 = self.post_ok(path, mixed, 1, 1, 1)
        self.assertGreater(c2, c1)
        c3 = self.post_ok(path, [{"metric": "a", "ts": iso_us(t0),
                                  "value": 1.5}], 0, 1, 0, ndjson=True)
        self.assertGreater(c3, c2)
        items = self.readings(oid)
        self.assertEqual(items, [
            {"metric": "a", "ts": "2026-05-01T00:00:00.000000Z", "value": 1.5},
            {"metric": "b", "ts": "2026-05-01T00:00:00.000000Z", "value": -2},
            {"metric": "c", "ts": "2026-05-01T00:00:00.000000Z", "value": 0},
            {"metric": "a", "ts": "2026-05-01T00:01:00.000000Z",
             "value": 3e-5}])
        # Microseconds are kept.
        self.post_ok(path, [{"metric": "a", "ts": "2026-05-01T00:00:00.000001Z",
                             "value": 9}], 1, 0, 0)
        items = self.readings(oid)
        self.assertEqual(items[3], {"metric": "a", "ts":
                                    "2026-05-01T00:00:00.000001Z", "value": 9})
        # NDJSON with CRLF line ends and a blank line.
        data = (b'{"metric":"d","ts":"2026-05-01T00:00:00Z","value":1}\r\n\r\n'
                b'{"metric":"d","ts":"2026-05-01T00:00:01Z","value":2}')
        r = self.c.post(path, data, {"Content-Type": "application/x-ndjson"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["inserted"], 2, r)

    def test_observations_big_batch(self):
        oid = self.create()["id"]
        t0 = us_of("2026-04-01T00:00:00Z") // 1000
        rows = [{"metric": "m", "ts": t0 + i, "value": i % 97}
                for i in range(100000)]
        r = self.post_obs(oid, rows)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["inserted"], 100000, r)
        rows.append({"metric": "m", "ts": t0 + 100000, "value": 1})
        r = self.post_obs(oid, rows)
        self.assertProblem(r, 422)
        r = self.c.get(f"/objects/{oid}/observations?limit=1&"
                       f"from={q(iso_us((t0 + 99999) * 1000))}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body["items"]), 1, r)
        self.assertIsNone(r.body["next_cursor"], r)

    def test_observations_rejected(self):
        oid = self.create()["id"]
        path = f"/objects/{oid}/observations"
        ok = {"metric": "m", "ts": "2026-05-01T00:00:00Z", "value": 1}
        good = [dict(ok, ts=f"2026-05-01T00:0{i}:00Z") for i in range(5)]
        cases = [
            ("value a string", good[:3] + [dict(ok, value="1")], ["/3/value"]),
            ("value null", [dict(ok, value=None)], ["/0/value"]),
            ("value true", [dict(ok, value=True)], ["/0/value"]),
            ("value missing", [{"metric": "m", "ts": ok["ts"]}], ["/0/value"]),
            ("metric empty", [dict(ok, metric="")], ["/0/metric"]),
            ("metric with a space", good[:1] + [dict(ok, metric="a b")],
             ["/1/metric"]),
            ("metric 65 chars", [dict(ok, metric="m" * 65)], ["/0/metric"]),
            ("metric not a string", [dict(ok, metric=5)], ["/0/metric"]),
            ("metric missing", [{"ts": ok["ts"], "value": 1}], ["/0/metric"]),
            ("ts not a time", good[:2] + [dict(ok, ts="yesterday")],
             ["/2/ts"]),
            ("ts without offset", [dict(ok, ts="2026-05-01T00:00:00")],
             ["/0/ts"]),
            ("ts a fraction of ms", [dict(ok, ts=1777593600000.5)], ["/0/ts"]),
            ("ts bad date", [dict(ok, ts="2026-02-30T00:00:00Z")], ["/0/ts"]),
            ("ts missing", [{"metric": "m", "value": 1}], ["/0/ts"]),
            ("unknown member", good[:1] + [dict(ok, extra=1)], ["/1/extra"]),
            ("several", [dict(ok, metric=""), ok, dict(ok, ts=None, value="x")],
             ["/0/metric", "/2/ts", "/2/value"]),
        ]
        for label, rows, ptrs in cases:
            with self.subTest(label):
                self.assertProblem(self.post_obs(oid, rows), 422, ptrs)
                self.assertProblem(self.post_obs(oid, rows, ndjson=True), 422,
                                   ptrs)
        with self.subTest("element not an object"):
            self.assertProblem(self.post_obs(oid, [ok, 1]), 422, ["/1"])
        with self.subTest("NDJSON line not an object (well-formed JSON)"):
            self.assertProblem(self.post_obs(oid, [ok, 1], ndjson=True), 422,
                               ["/1"])
        with self.subTest("value overflows a double"):
            body = b'[{"metric":"m","ts":"2026-05-01T00:00:00Z","value":1e400}]'
            self.assertProblem(self.post_json(path, body), 422, ["/0/value"])
        with self.subTest("empty batch"):
            self.assertProblem(self.post_json(path, b"[]"), 422)
        with self.subTest("malformed JSON"):
            self.assertProblem(self.post_json(path, b'[{"metric":"m",'), 400)
            self.assertProblem(self.c.post(
                path, b'{"metric":"m","ts":"2026-05-01T00:00:00Z","value":1}\n'
                      b'{"metric":', {"Content-Type": "application/x-ndjson"}),
                400)
        with self.subTest("not an array"):
            self.assertProblem(self.c.post(path, ok), 422, [""])
            self.assertProblem(self.post_json(path, b"5"), 422, [""])
        with self.subTest("content type"):
            self.assertProblem(self.c.post(path, encode_json(good),
                                           {"Content-Type": "text/plain"}), 415)
            self.assertProblem(self.c.post(path, encode_json(good),
                                           {"Content-Type": None}), 415)
        # Nothing of any of these was written.
        self.assertEqual(self.readings(oid), [])
        with self.subTest("unknown object"):
            self.assertProblem(self.post_obs(rand_id(), good), 404)
            r = self.c.get(f"/objects/{rand_id()}/observations")
            self.assertProblem(r, 404)
        with self.subTest("bad path id"):
            self.assertProblem(self.post_obs("0", good), 400)
            self.assertProblem(self.post_obs("abc", good), 400)
        with self.subTest("deleted object"):
            r = self.c.delete(f"/objects/{oid}")
            self.assertEqual(r.status, 204, r)
            self.assertProblem(self.post_obs(oid, good), 404)

    # ================================================================
    # Observations: listing

    def test_observations_listing(self):
        oid = self.create()["id"]
        t0 = us_of("2026-06-01T00:00:00Z")
        rows = []
        for i in range(1001 // 3 + 1):
            for m in ("zeta", "Alpha", "b.2"):
                rows.append({"metric": m, "ts": iso_us(t0 + i * MIN_US),
                             "value": i + 0.25})
        rows = rows[:1001]
        random.Random(5).shuffle(rows)
        self.post_ok(f"/objects/{oid}/observations", rows, 1001, 0, 0)
        exp = sorted(((us_of(x["ts"]), x["metric"].encode(), x["value"])
                      for x in rows))
        # Default limit 1000.
        r = self.c.get(f"/objects/{oid}/observations")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body["items"]), 1000)
        self.assertIsInstance(r.body["next_cursor"], str)
        self.assertIsNotNone(self.next_link(r), r.headers)
        # Pages of 7, by cursor and by Link.
        items, pages = self.walk(f"/objects/{oid}/observations?limit=7")
        self.assertEqual(pages, 143)
        got = [(us_of(x["ts"]), x["metric"].encode(), x["value"])
               for x in items]
        self.assertEqual(got, exp)
        for x in items:
            self.assertRegex(x["ts"], LIST_TS_RE)
        # One page of up to 10000.
        r = self.c.get(f"/objects/{oid}/observations?limit=10000")
        self.assertEqual(len(r.body["items"]), 1001, r)
        self.assertIsNone(r.body["next_cursor"])
        self.assertNotIn("link", r.headers)
        # Filters (each followed through cursors and Link headers).
        frm, to = t0 + 100 * MIN_US, t0 + 200 * MIN_US - 1
        filters = [
            ("metric=b.2&limit=50", lambda e: e[1] == b"b.2"),
            (f"limit=30&from={q(iso_us(frm))}&to={q(iso_us(to))}",
             lambda e: frm <= e[0] <= to),
            (f"limit=30&metric=zeta&from={q(iso_offset(frm, 60))}&"
             f"to={q(iso_us(to))}",
             lambda e: frm <= e[0] <= to and e[1] == b"zeta"),
            (f"limit=1000&from={q(iso_us(frm))}", lambda e: frm <= e[0]),
        ]
        for query, keep in filters:
            with self.subTest(query):
                items, _ = self.walk(f"/objects/{oid}/observations?{query}")
                self.assertEqual([(us_of(x["ts"]), x["metric"].encode(),
                                   x["value"]) for x in items],
                                 [e for e in exp if keep(e)])
        # Bad parameters.
        for bad in ("limit=0", "limit=10001", "limit=x", "cursor=nonsense",
                    "from=yesterday", "metric=a%20b", "bogus=1"):
            with self.subTest(bad):
                r = self.c.get(f"/objects/{oid}/observations?{bad}")
                self.assertProblem(r, 400)

    # ================================================================
    # Events

    def test_events_ingest_and_listing(self):
        oid = self.create()["id"]
        path = f"/objects/{oid}/events"
        t0 = us_of("2026-07-01T12:00:00Z")
        evs = [
            {"ts": iso_us(t0), "kind": "door.open"},
            {"ts": iso_us(t0), "kind": "alarm", "severity": "critical",
             "message": "too hot", "data": {"b": [1, {"y": None}], "a": 2.5}},
            {"ts": (t0 + HOUR_US) // 1000, "kind": "alarm", "severity": "debug",
             "data": [1, "two", False]},
            {"ts": iso_us(t0 - HOUR_US), "kind": "m_1", "severity": "warning",
             "message": "\u00e9" * 512, "data": None},
            {"ts": iso_us(t0 + 2 * HOUR_US), "kind": "x", "severity": "error",
             "data": "text"},
            {"ts": iso_us(t0 + 3 * HOUR_US), "kind": "x", "severity": "info",
             "data": 0},
        ]
        c1 = self.post_ok(path, evs, 6, 0, 0)
        self.assertEqual(self.post_ok(path, evs, 0, 0, 6, ndjson=True), c1)
        # Equal data in another member order is the same event.
        same = [dict(evs[1], data={"a": 2.5, "b": [1, {"y": None}]})]
        self.assertEqual(self.post_ok(path, same, 0, 0, 1), c1)
        c2 = self.post_ok(path, [dict(evs[4], message="changed")], 0, 1, 0)
        self.assertGreater(c2, c1)
        c3 = self.post_ok(path, [dict(evs[5], data=1)], 0, 1, 0)
        self.assertGreater(c3, c2)
        evs[4]["message"] = "changed"
        evs[5]["data"] = 1
        exp = sorted((event_as_listed(e) for e in evs),
                     key=lambda e: (us_of(e["ts"]), e["kind"].encode()))
        items, _ = self.walk(f"{path}?limit=2")
        for x in items:
            self.assertEqual(list(x), EVENT_KEYS, x)
            self.assertRegex(x["ts"], LIST_TS_RE)
        self.assertEqual(items, exp)
        self.assertEqual(self.walk(path)[0], exp)
        items, _ = self.walk(f"{path}?kind=alarm&limit=1")
        self.assertEqual(items, [e for e in exp if e["kind"] == "alarm"])
        frm, to = iso_us(t0), iso_us(t0 + 2 * HOUR_US)
        for lim in (1000, 1):
            with self.subTest(f"from/to, limit={lim}"):
                items, _ = self.walk(f"{path}?from={q(frm)}&to={q(to)}"
                                     f"&limit={lim}")
                self.assertEqual(items, [e for e in exp if us_of(frm)
                                         <= us_of(e["ts"]) <= us_of(to)])
        for bad in ("limit=0", "limit=10001", "cursor=zz", "kind=a%20b",
                    "from=x", "metric=a"):
            with self.subTest(bad):
                self.assertProblem(self.c.get(f"{path}?{bad}"), 400)
        # Invalid batches write nothing.
        ok = {"ts": iso_us(t0 + DAY_US), "kind": "k"}
        cases = [
            ("severity", [ok, dict(ok, kind="k2", severity="fatal")],
             ["/1/severity"]),
            ("message too long", [dict(ok, message="\u00e9" * 512 + "x")],
             ["/0/message"]),
            ("message not a string", [dict(ok, message=5)], ["/0/message"]),
            ("kind", [dict(ok, kind="no space")], ["/0/kind"]),
            ("kind missing", [{"ts": ok["ts"]}], ["/0/kind"]),
            ("ts", [dict(ok, ts="2026-07-01")], ["/0/ts"]),
            ("ts missing", [{"kind": "k"}], ["/0/ts"]),
            ("unknown member", [dict(ok, value=1)], ["/0/value"]),
        ]
        for label, rows, ptrs in cases:
            with self.subTest(label):
                self.assertProblem(self.c.post(path, rows), 422, ptrs)
        self.assertProblem(self.c.post(path, ok), 422, [""])
        self.assertProblem(self.post_json(path, b"[{"), 400)
        self.assertProblem(self.c.post(path, encode_json([ok]),
                                       {"Content-Type": "text/csv"}), 415)
        self.assertEqual(self.walk(path)[0], exp)
        self.assertProblem(self.c.post(f"/objects/{rand_id()}/events", [ok]),
                           404)
        self.assertProblem(self.c.get(f"/objects/{rand_id()}/events"), 404)
        self.assertEqual(self.c.delete(f"/objects/{oid}").status, 204)
        self.assertProblem(self.c.post(path, [ok]), 404)

    # ================================================================
    # The analysis: the synthetic data set

    def synthetic(self):
        """Creates (once per class) the synthetic object and returns
        (oid, state)."""
        cls = type(self)
        if cls._syn is not None:
            if isinstance(cls._syn, BaseException):
                raise AssertionError(f"the synthetic fixture failed earlier: "
                                     f"{cls._syn}")
            return cls._syn
        try:
            cls._syn = self._build_synthetic()
        except BaseException as e:
            cls._syn = e
            raise
        return cls._syn

    def _build_synthetic(self):
        o = self.create({"floor": 1, "zone": "a", "tags": ["x", "y"],
                         "limits": {"max": 90}}, author="alice")
        oid = o["id"]
        c = self.c
        r = c.patch(f"/objects/{oid}", {"attributes": {"zone": "b"}},
                    {"Content-Type": "application/merge-patch+json",
                     "X-Author": "bob"})
        self.assertEqual(r.status, 200, r)
        r = c.put(f"/objects/{oid}", {"type": self.type, "name": "renamed",
                                      "attributes": r.body["attributes"]},
                  {"X-Author": "bob"})
        self.assertEqual(r.status, 200, r)
        r = c.patch(f"/objects/{oid}",
                    {"attributes": {"limits": {"min": 1}, "floor": None,
                                    "new": True}},
                    {"Content-Type": "application/merge-patch+json",
                     "X-Author": "carol"})
        self.assertEqual(r.status, 200, r)
        path = f"/objects/{oid}/observations"
        days, vib, flat, single, spikes, old = synthetic_readings()

        def as_rows(lst, tsf):
            return [{"metric": m, "ts": tsf(t), "value": v} for m, t, v in lst]

        expected = {}

        def note(lst):
            for m, t, v in lst:
                expected[(m, t)] = float(v)

        # The newest day first, then older ones: late data.
        seqs = [self.post_ok(path, as_rows(days[2], iso_us), 432, 0, 0)]
        note(days[2])
        seqs.append(self.post_ok(path, as_rows(days[0], lambda t: t // 1000),
                                 432, 0, 0, ndjson=True))
        note(days[0])
        seqs.append(self.post_ok(path, as_rows(days[1],
                                               lambda t: iso_offset(t, 60)),
                                 432, 0, 0))
        note(days[1])
        seqs.append(self.post_ok(path, as_rows(vib, iso_us), 2880, 0, 0))
        note(vib)
        # Duplicates: the same again changes nothing.
        self.assertEqual(self.post_ok(path, as_rows(days[0], iso_us), 0, 0,
                                      432), seqs[-1])
        # Corrections: 40 readings of day 1 get new values.
        fixed = [(m, t, round(v + 0.5, 6)) for m, t, v in days[1][::10]
                 if m == "power.kw"][:40]
        self.assertEqual(len(fixed), 15)
        moved = fixed + [(m, t, v) for m, t, v in days[1][1::10]][:25]
        seqs.append(self.post_ok(path, as_rows(moved, iso_us), 0, 15, 25,
                                 ndjson=True))
        note(moved)
        seqs.append(self.post_ok(path, as_rows(flat + single + spikes, iso_us),
                                 8, 0, 0))
        note(flat + single + spikes)
        seqs.append(self.post_ok(path, as_rows(old, iso_us), 3, 0, 0))
        note(old)
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), len(seqs), seqs)
        # Events.
        evs, outside, at_from = synthetic_events()
        epath = f"/objects/{oid}/events"
        self.post_ok(epath, evs[:20], 20, 0, 0, ndjson=True)
        self.post_ok(epath, evs[20:] + [outside, at_from], 27, 0, 0)
        self.post_ok(epath, evs, 0, 0, 45)
        evs[7] = dict(evs[7], message="replaced", severity="error")
        self.post_ok(epath, [evs[7]], 0, 1, 0)
        # Stored later, at the time of evs[10]: newest first among equals.
        tie = {"ts": evs[10]["ts"], "kind": "aaa", "severity": "warning",
               "data": {"tie": True}}
        self.post_ok(epath, [tie], 1, 0, 0)
        all_events = evs + [outside, at_from, tie]
        state = self.raw_state(oid)
        # The store holds exactly what was written.
        got = {(m, t): v for m, t, v in state[0]}
        self.assertEqual(len(got), len(expected))
        diff = [k for k in expected if got.get(k) != expected[k]]
        self.assertEqual(diff[:10], [], "readings differ from those posted")
        exp_events = sorted((event_as_listed(e) for e in all_events),
                            key=lambda e: (us_of(e["ts"]), e["kind"].encode()))
        self.assertEqual(state[1], exp_events)
        self.assertEqual([x["revision"] for x in state[2]], [4, 3, 2, 1])
        return oid, state, tie

    def test_synthetic_analysis_default_window(self):
        oid, state, tie = self.synthetic()
        r = self.analysis(oid)
        doc = self.check_analysis(r, state, SYN_FROM, SYN_NEWEST, "default")
        m = doc["metrics"]
        # Sanity of the fixture itself: the interesting cases are present.
        self.assertEqual(list(m), ["flat", "hum-1", "power.kw", "single",
                                   "temp", "vib"])
        self.assertEqual(m["temp"]["daily"][0],
                         {"date": "2026-02-01", "count": 1, "min": 7.75,
                          "max": 7.75, "mean": 7.75})
        self.assertEqual(m["temp"]["count"], 432 + 3)
        self.assertEqual(m["vib"]["count"], 2880)
        self.assertEqual(len(m["vib"]["anomalies"]), 50)
        exp_vib = expected_metrics(state[0], SYN_FROM, SYN_NEWEST)["vib"]
        self.assertGreater(exp_vib["_anomaly_candidates"], 50)
        self.assertEqual(m["flat"]["stddev"], 0)
        self.assertEqual(m["flat"]["anomalies"], [])
        self.assertEqual(m["single"]["trend_per_day"], 0)
        self.assertEqual(m["single"]["stddev"], 0)
        self.assertEqual(doc["window"], {"from": "2026-02-01T23:55:00.250Z",
                                         "to": "2026-03-03T23:55:00.250Z"})
        self.assertEqual(doc["revisions"]["count_in_window"], 0)
        self.assertEqual(doc["revisions"]["recent"][0]["changed"],
                         ["floor", "limits", "new"])
        self.assertEqual(doc["revisions"]["recent"][1]["changed"], [])
        self.assertEqual(doc["revisions"]["recent"][3]["changed"],
                         ["floor", "limits", "tags", "zone"])
        self.assertEqual(doc["events"]["count"], 47)
        self.assertIn(b'"stddev":0,', r.raw)
        self.assertIn(b'"min":1.5e-7,', r.raw)
        # pretty: the same value, laid out as documented.
        rp = self.analysis(oid, "?pretty=true")
        self.assertEqual(rp.raw, pretty_of_compact(r.raw))
        self.assertEqual(json.loads(rp.raw), json.loads(r.raw))
        rf = self.analysis(oid, "?pretty=false")
        self.assertEqual(rf.raw, r.raw)
        # Ties in time: events are kept in (ts, kind) order - an event's
        # key - so among equal times "recent" (newest first) lists kinds
        # in descending order, whichever was posted first.
        rec = doc["events"]["recent"]
        at = [x["kind"] for x in rec if x["ts"] == iso_ms(us_of(tie["ts"]))]
        self.assertEqual(at, ["door.open", "aaa"],
                         "events.recent: of events with the same time, the "
                         "greater kind comes first")

    def test_synthetic_analysis_explicit_windows(self):
        oid, state, _ = self.synthetic()
        revs = state[2]
        now = max(us_of(x["updated_at"]) for x in revs)
        windows = [
            ("2026-03-01T12:00:00Z", "2026-03-02T12:00:00Z"),
            ("2026-01-01T00:00:00Z", iso_us(now + HOUR_US)),  # revisions too
            ("2026-03-02T09:07:30.123999Z", "2026-03-02T09:07:30.123999Z"),
            ("2026-03-01T01:00:00+01:00", "2026-03-03T00:00:00Z"),
            ("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),  # empty
        ]
        for frm, to in windows:
            with self.subTest(window=(frm, to)):
                r = self.analysis(oid, f"?from={q(frm)}&to={q(to)}")
                doc = self.check_analysis(r, state, us_of(frm), us_of(to),
                                          f"window {frm}..{to}")
                if to.startswith("2025"):
                    self.assertEqual(doc["metrics"], {})
                    self.assertEqual(doc["events"]["count"], 0)
                rp = self.analysis(oid, f"?from={q(frm)}&to={q(to)}"
                                        f"&pretty=true")
                self.assertEqual(rp.raw, pretty_of_compact(r.raw))
        r = self.analysis(oid, f"?from=2026-01-01T00:00:00Z&to="
                               f"{q(iso_us(now + HOUR_US))}")
        doc = json.loads(r.raw)
        self.assertEqual(doc["revisions"]["count_in_window"], 4)
        self.assertEqual(doc["revisions"]["authors_in_window"],
                         [{"author": "alice", "count": 1},
                          {"author": "bob", "count": 2},
                          {"author": "carol", "count": 1}])
        self.assertEqual(doc["metrics"]["temp"]["hourly"], [])
        self.assertEqual(doc["metrics"]["temp"]["count"], 432 + 2 + 3)

    def test_analysis_parameters(self):
        oid, _, _ = self.synthetic()
        for bad in ("from=2026-03-01T00:00:00Z", "to=2026-03-01T00:00:00Z",
                    "from=yesterday&to=2026-03-01T00:00:00Z",
                    "from=2026-03-01T00:00:00Z&to=soon",
                    "pretty=maybe", "bogus=1"):
            with self.subTest(bad):
                self.assertProblem(self.c.get(f"/objects/{oid}/analysis?{bad}"),
                                   400)
        self.assertProblem(self.c.get(f"/objects/{rand_id()}/analysis"), 404)
        self.assertProblem(self.c.get("/objects/0/analysis"), 400)
        empty = self.create()["id"]
        r = self.analysis(empty)
        doc, bad = load_checked(r.raw)
        self.assertEqual(bad, [])
        self.assertEqual(list(doc), TOP_KEYS)
        self.assertEqual(doc["metrics"], {})
        self.assertEqual(doc["events"]["count"], 0)
        self.assertEqual(self.c.delete(f"/objects/{empty}").status, 204)
        self.assertProblem(self.c.get(f"/objects/{empty}/analysis"), 404)

    def test_analysis_encodings(self):
        oid, _, _ = self.synthetic()
        ident = self.analysis(oid)
        self.assertGreater(len(ident.raw), 1024)
        self.assertNotIn("content-encoding", ident.headers)
        self.assertIn("accept-encoding", ident.headers.get("vary", "").lower())
        etags = {"identity": ident.headers.get("etag")}
        self.assertTrue(etags["identity"], ident.headers)
        for path in (f"/objects/{oid}/analysis",
                     f"/objects/{oid}/analysis?pretty=true"):
            plain = self.c.get(path).raw
            r = self.c.get(path, {"Accept-Encoding": "gzip"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers.get("content-encoding"), "gzip", r)
            self.assertIn("accept-encoding", r.headers.get("vary", "").lower())
            self.assertEqual(gzip.decompress(r.raw), plain)
            self.assertLess(len(r.raw), len(plain))
            r = self.c.get(path, {"Accept-Encoding": "identity"})
            self.assertNotIn("content-encoding", r.headers)
            self.assertEqual(r.raw, plain)
        r = self.c.get(f"/objects/{oid}/analysis", {"Accept-Encoding": "gzip"})
        etags["gzip"] = r.headers.get("etag")
        r304 = self.c.get(f"/objects/{oid}/analysis",
                          {"Accept-Encoding": "gzip",
                           "If-None-Match": etags["gzip"]})
        self.assertEqual(r304.status, 304, r304)
        self.assertEqual(r304.raw, b"")
        if CURL is None:
            self.skipTest("curl is not installed (br, zstd)")
        for coding in ("br", "zstd"):
            for h2 in (False, True):
                with self.subTest(coding=coding, h2=h2):
                    st, h, raw = curl_get(self.srv.port,
                                          f"/api/v1/objects/{oid}/analysis",
                                          coding, decode=False, h2=h2)
                    self.assertEqual(st, 200)
                    self.assertEqual(h.get("content-encoding"), coding, h)
                    self.assertIn("accept-encoding", h.get("vary", "").lower())
                    self.assertLess(len(raw), len(ident.raw))
                    etags[coding] = h.get("etag")
                    st, h, dec = curl_get(self.srv.port,
                                          f"/api/v1/objects/{oid}/analysis",
                                          coding, decode=True, h2=h2)
                    self.assertEqual(st, 200)
                    self.assertEqual(dec, ident.raw)
        self.assertEqual(len(set(etags.values())), 4, etags)

    def test_analysis_cache_off_same_bytes(self):
        oid, _, _ = self.synthetic()
        srv = Server(["--db", self.db, "--analysis-cache", "off"])
        self.addCleanup(srv.cleanup)
        srv.start()
        c2 = self.client(srv)
        queries = ["", "?pretty=true",
                   "?from=2026-03-01T12:00:00Z&to=2026-03-02T12:00:00Z",
                   "?from=2026-03-01T12:00:00Z&to=2026-03-02T12:00:00Z"
                   "&pretty=true"]
        for qs in queries:
            with self.subTest(qs):
                a = self.analysis(oid, qs)
                self.analysis(oid, qs)  # now cached in the class server
                b = self.analysis(oid, qs, c=c2)
                b2 = self.analysis(oid, qs, c=c2)
                self.assertEqual(a.raw, b.raw)
                self.assertEqual(b.raw, b2.raw)
                g = self.analysis(oid, qs, headers={"Accept-Encoding": "gzip"},
                                  c=c2)
                self.assertEqual(gzip.decompress(g.raw), a.raw)

    # ================================================================
    # The analysis: ETag, 304, late data

    def test_analysis_etag_and_late_data(self):
        oid = self.create({"k": 1})["id"]
        path = f"/objects/{oid}/observations"
        t0 = us_of("2026-08-10T00:00:00Z")
        rows = [{"metric": m, "ts": iso_us(t0 + i * 10 * MIN_US),
                 "value": round(10 + math.sin(i / 9) * (3 if m == "a" else 7),
                                4)}
                for i in range(144) for m in ("a", "b")]
        self.post_ok(path, rows, 288, 0, 0)
        r1 = self.analysis(oid)
        e1 = r1.headers.get("etag")
        self.assertRegex(e1 or "", r'^"[^"]+"$', r1.headers)
        self.assertIn("accept-encoding", r1.headers.get("vary", "").lower())
        self.check_analysis(r1, self.raw_state(oid), t0 + 143 * 10 * MIN_US
                            - 30 * DAY_US, t0 + 143 * 10 * MIN_US, "first")
        r = self.analysis(oid, headers={"If-None-Match": e1}, status=304)
        self.assertEqual(r.raw, b"")
        self.assertEqual(r.headers.get("etag"), e1)
        # Another representation never matches this ETag.
        rp = self.analysis(oid, "?pretty=true", {"If-None-Match": e1})
        self.assertNotEqual(rp.headers.get("etag"), e1)
        # An unchanged post changes nothing: still 304.
        self.post_ok(path, rows[:10], 0, 0, 10)
        self.analysis(oid, headers={"If-None-Match": e1}, status=304)
        seen = [e1]
        bodies = [r1.raw]

        def changed(label, frm, to):
            r = self.analysis(oid, headers={"If-None-Match": seen[-1]})
            e = r.headers.get("etag")
            self.assertNotIn(e, seen, f"{label}: ETag did not change")
            self.assertNotEqual(r.raw, bodies[-1], label)
            doc = self.check_analysis(r, self.raw_state(oid), frm, to, label)
            seen.append(e)
            bodies.append(r.raw)
            self.analysis(oid, headers={"If-None-Match": e}, status=304)
            return doc

        newest = t0 + 143 * 10 * MIN_US
        # A late reading, older than all others, inside the window.
        self.post_ok(path, [{"metric": "a", "ts": iso_us(t0 - 5 * DAY_US),
                             "value": 99.5}], 1, 0, 0)
        doc = changed("late reading", newest - 30 * DAY_US, newest)
        self.assertEqual(doc["metrics"]["a"]["count"], 145)
        self.assertEqual(doc["metrics"]["a"]["first"], 99.5)
        self.assertEqual(doc["metrics"]["a"]["max"], 99.5)
        # A late reading outside the window changes the ETag, not the numbers
        # (the body is still checked to be fresh: count unchanged).
        self.post_ok(path, [{"metric": "a", "ts": iso_us(t0 - 40 * DAY_US),
                             "value": -1}], 1, 0, 0)
        r = self.analysis(oid, headers={"If-None-Match": seen[-1]})
        self.assertNotEqual(r.headers.get("etag"), seen[-1])
        self.assertEqual(r.raw, bodies[-1])
        seen.append(r.headers.get("etag"))
        # A replaced value.
        self.post_ok(path, [dict(rows[5], value=-50)], 0, 1, 0)
        doc = changed("replaced value", newest - 30 * DAY_US, newest)
        self.assertEqual(doc["metrics"]["b"]["min"], -50)
        # A newer reading moves the default window.
        self.post_ok(path, [{"metric": "b", "ts": iso_us(newest + DAY_US),
                             "value": 1}], 1, 0, 0)
        doc = changed("newer reading", newest + DAY_US - 30 * DAY_US,
                      newest + DAY_US)
        # An event and a revision.
        self.post_ok(f"/objects/{oid}/events",
                     [{"ts": iso_us(newest), "kind": "late",
                       "severity": "critical"}], 1, 0, 0)
        doc = changed("event", newest + DAY_US - 30 * DAY_US, newest + DAY_US)
        self.assertEqual(doc["events"]["by_severity"], {"critical": 1})
        r = self.c.patch(f"/objects/{oid}", {"attributes": {"k": 2}},
                         {"Content-Type": "application/merge-patch+json"})
        self.assertEqual(r.status, 200, r)
        doc = changed("revision", newest + DAY_US - 30 * DAY_US,
                      newest + DAY_US)
        self.assertEqual(doc["object"]["revision"], 2)
        # Deleted: 404, also for a conditional request.
        self.assertEqual(self.c.delete(f"/objects/{oid}").status, 204)
        self.assertProblem(self.c.get(f"/objects/{oid}/analysis"), 404)
        self.assertProblem(self.c.get(f"/objects/{oid}/analysis",
                                      {"If-None-Match": seen[-1]}), 404)


class TestSeriesSQLite(SeriesTests, ServerTestCase):
    backend = "sqlite"

    @classmethod
    def class_db(cls):
        return f"sqlite:{cls.tmp}/objectd.db"


@unittest.skipUnless(
    PG_URI, "OBJECTD_TEST_PG_URI is not set (start a throw-away server with "
            "`scripts/pg-test-server start DIR` and export the URI it prints)")
class TestSeriesPostgreSQL(SeriesTests, ServerTestCase):
    backend = "postgresql"

    @classmethod
    def class_db(cls):
        return PG_URI


# --------------------------------------------------------------------------
# curl (br and zstd, which the stdlib cannot decode)


def curl_get(port, path, accept_encoding, decode, h2=False):
    tmp = tempfile.mkdtemp(prefix="objectd-curl-")
    try:
        hfile, bfile = os.path.join(tmp, "h"), os.path.join(tmp, "b")
        cmd = [CURL, "-q", "-sS", "--noproxy", "*", "-D", hfile, "-o", bfile,
               "-w", "%{http_code}", "-H", f"Accept-Encoding: {accept_encoding}"]
        if decode:
            cmd.append("--compressed")
        if h2:
            cmd.append("--http2-prior-knowledge")
        cmd.append(f"http://127.0.0.1:{port}{path}")
        p = run(cmd, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"curl failed: {p.stderr.decode()}")
        with open(hfile, "rb") as f:
            blocks = [b for b in f.read().decode("latin-1").split("\r\n\r\n")
                      if b.strip()]
        hdrs = {}
        for line in blocks[-1].split("\r\n")[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        raw = b""
        if os.path.exists(bfile):
            with open(bfile, "rb") as f:
                raw = f.read()
        return int(p.stdout.decode()), hdrs, raw
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# The seeded standard workload, scaled down to 3 objects


def _pg_admin(sql):
    p = run([PSQL, PG_URI, "-v", "ON_ERROR_STOP=1", "-Atqc", sql], timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"psql {sql!r}: {p.stderr.decode()[-500:]}")
    return p.stdout.decode()


class TestSeededWorkload(SeriesHelpers, ServerTestCase):
    """objectd seed --objects 3: SQLite files a, b (same --seed), c (another
    --seed), and a fresh PostgreSQL database when possible (same --seed)."""

    backend = "seeded"
    SEED, OTHER_SEED = 11, 12

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="objectd-seeded-")
        cls.servers = {}
        cls.pg_db = None
        cls.pg_error = None
        try:
            binary = str(harness.require_binary())
            dbs = {"a": (f"sqlite:{cls.tmp}/a.db", cls.SEED),
                   "b": (f"sqlite:{cls.tmp}/b.db", cls.SEED),
                   "c": (f"sqlite:{cls.tmp}/c.db", cls.OTHER_SEED)}
            if PG_URI and PSQL:
                name = f"objectd_it_seed_{secrets.token_hex(4)}"
                try:
                    _pg_admin(f"CREATE DATABASE {name}")
                    cls.pg_db = name
                    u = urllib.parse.urlsplit(PG_URI)
                    dbs["pg"] = (urllib.parse.urlunsplit(
                        u._replace(path="/" + name)), cls.SEED)
                except RuntimeError as e:
                    cls.pg_error = str(e)
            elif PG_URI:
                cls.pg_error = "psql is not installed: no fresh database"
            cls.dbs = dbs
            cls.seed_problems = {}
            for key, (db, seed) in list(dbs.items()):
                argv = [binary, "seed", "--db", db, "--objects", "3",
                        "--seed", str(seed)]
                try:
                    p = run(argv, timeout=SEED_TIMEOUT, env=child_env())
                except subprocess.TimeoutExpired as e:
                    # Say so (test_seed_exits), and if the data is all there
                    # still check what can be checked.
                    tail = (e.stderr or b"").decode("utf-8", "replace")[-600:]
                    cls.seed_problems[key] = (
                        f"`objectd seed --db {db} ...` did not exit within "
                        f"{SEED_TIMEOUT}s (killed); stderr: {tail}")
                    continue
                if p.returncode != 0:
                    msg = (f"objectd seed --db {db} failed ({p.returncode}): "
                           f"{p.stderr.decode()[-1500:]}")
                    if key != "pg":
                        raise RuntimeError(msg)
                    cls.seed_problems[key] = msg
                    cls.pg_error = msg
                    del dbs[key]
            for key, (db, _) in dbs.items():
                srv = Server(["--db", db])
                cls.servers[key] = srv
                srv.start()
            for key in list(cls.seed_problems):
                if key in cls.servers and not cls._seed_complete(key):
                    if key != "pg":
                        raise RuntimeError(cls.seed_problems[key])
                    cls.pg_error = (cls.seed_problems[key]
                                    + "; and the data is incomplete")
                    cls.servers.pop(key).cleanup()
            srv = Server(["--db", dbs["a"][0], "--analysis-cache", "off"])
            cls.servers["a-nocache"] = srv
            srv.start()
            cls.srv = cls.servers["a"]
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def _seed_complete(cls, key):
        """Whether the seeded database behind servers[key] holds the whole
        workload (3 objects of 20 revisions, 6 x 1440 readings, 200
        events), read through the API."""
        with ApiClient(cls.servers[key].port) as c:
            for oid in (1, 2, 3):
                r = c.get(f"/objects/{oid}")
                if r.status != 200 or r.body.get("revision") != 20:
                    return False
                r = c.get(f"/objects/{oid}/observations?limit=10000")
                if r.status != 200 or len(r.body["items"]) != 8640:
                    return False
                r = c.get(f"/objects/{oid}/events?limit=10000")
                if r.status != 200 or len(r.body["items"]) != 200:
                    return False
        return True

    @classmethod
    def _teardown(cls):
        for srv in cls.servers.values():
            srv.cleanup()
        cls.servers = {}
        if cls.pg_db:
            try:
                _pg_admin(f"DROP DATABASE IF EXISTS {cls.pg_db} WITH (FORCE)")
            except RuntimeError:
                pass
            cls.pg_db = None
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._teardown()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        for key, srv in self.servers.items():
            self.assertTrue(srv.alive(), f"server {key} is not running:\n"
                                         f"{srv.stderr_tail(20)}")
        self.c = self.client()
        self.type = "seeded"

    def fetch(self, key, oid, query="", headers=None):
        c = self.client(self.servers[key])
        r = c.get(f"/objects/{oid}/analysis{query}", headers)
        self.assertEqual(r.status, 200, f"{key}: {r}")
        return r

    def test_seed_deterministic_sqlite(self):
        for oid in (1, 2, 3):
            for query in ("", "?pretty=true"):
                a = self.fetch("a", oid, query).raw
                b = self.fetch("b", oid, query).raw
                c = self.fetch("c", oid, query).raw
                self.assertTrue(a == b, f"object {oid}{query}: same --seed, "
                                        f"different analyses; "
                                        + first_difference(a, b))
                self.assertNotEqual(a, c, f"object {oid}{query}: another "
                                          f"--seed, the same analysis")

    def need_pg(self):
        if "pg" in self.servers:
            return
        if not PG_URI:
            self.skipTest("OBJECTD_TEST_PG_URI is not set")
        if not PSQL:
            self.skipTest("psql is not installed: no fresh PostgreSQL "
                          "database to seed")
        self.fail(f"no seeded PostgreSQL database: {self.pg_error}")

    def test_seed_exits(self):
        self.assertEqual(self.seed_problems, {})

    def test_seed_postgresql_matches_sqlite(self):
        self.need_pg()
        for oid in (1, 2, 3):
            for query in ("", "?pretty=true",
                          "?from=2025-12-20T00:00:00Z&to=2025-12-27T12:00:00Z"):
                a = self.fetch("a", oid, query).raw
                p = self.fetch("pg", oid, query).raw
                self.assertTrue(a == p, f"object {oid}{query}: SQLite and "
                                        f"PostgreSQL analyses differ; "
                                        + first_difference(a, p))

    def _check_object2(self, key):
        c = self.client(self.servers[key])
        state = self.raw_state(2, c)
        readings = state[0]
        per_metric = collections.Counter(m for m, _, _ in readings)
        # The standard per-object shape (SPEC section 4).
        self.assertEqual(len(per_metric), 6, per_metric)
        self.assertEqual(set(per_metric.values()), {1440}, per_metric)
        self.assertEqual(len(state[1]), 200)
        self.assertEqual(len(state[2]), 20)
        newest = max(t for _, t, _ in readings)
        r = c.get("/objects/2/analysis")
        self.assertEqual(r.status, 200, r)
        doc = self.check_analysis(r, state, newest - 30 * DAY_US, newest,
                                  f"{key} object 2")
        self.assertGreater(doc["events"]["count"], 100)
        self.assertEqual(len(doc["events"]["recent"]), 100)
        rp = c.get("/objects/2/analysis?pretty=true")
        self.assertEqual(rp.raw, pretty_of_compact(r.raw))
        # A window of its own: the last 10 days, minus half a day.
        frm, to = newest - 10 * DAY_US, newest - 12 * HOUR_US
        r = c.get(f"/objects/2/analysis?from={q(iso_us(frm))}&to="
                  f"{q(iso_us(to))}")
        self.assertEqual(r.status, 200, r)
        self.check_analysis(r, state, frm, to, f"{key} object 2, 10 days")

    def test_seed_object2_independent_sqlite(self):
        self._check_object2("a")

    def test_seed_object2_independent_postgresql(self):
        self.need_pg()
        self._check_object2("pg")

    def test_seed_pretty_size(self):
        for oid in (1, 2, 3):
            r = self.fetch("a", oid, "?pretty=true")
            lines = r.raw.count(b"\n")
            self.assertTrue(5000 <= lines <= 15000,
                            f"object {oid}: {lines} lines pretty")

    def test_seed_cache_off_same_bytes(self):
        for oid in (1, 2, 3):
            for query in ("", "?pretty=true"):
                a = self.fetch("a", oid, query).raw
                n = self.fetch("a-nocache", oid, query).raw
                self.assertTrue(a == n, f"object {oid}{query}: --analysis-"
                                        f"cache off differs; "
                                        + first_difference(a, n))
                for h in ({"Accept-Encoding": "gzip"},):
                    g = self.fetch("a-nocache", oid, query, h)
                    self.assertEqual(g.headers.get("content-encoding"), "gzip")
                    self.assertEqual(gzip.decompress(g.raw), a)

    def test_seed_h2load(self):
        if H2LOAD is None:
            self.skipTest("h2load is not installed")
        port = self.servers["a"].port
        urls = []
        for i in range(100):
            oid = 1 + i % 3
            query = ("", "?pretty=true",
                     "?from=2025-12-20T00:00:00Z&to=2025-12-27T00:00:00Z")[i % 7 % 3]
            urls.append(f"http://127.0.0.1:{port}/api/v1/objects/{oid}/"
                        f"analysis{query}")
        ufile = os.path.join(self.tmp, "urls.txt")
        with open(ufile, "w") as f:
            f.write("\n".join(urls) + "\n")
        argv = [H2LOAD, "-c", "1", "-m", "100", "-n", "100", "-i", ufile]
        try:
            p = run(argv, timeout=H2LOAD_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode("utf-8", "replace")
            self.fail(f"`h2load -c 1 -m 100 -n 100 -i FILE` (100 analyses on "
                      f"one HTTP/2 connection; about a second when healthy) "
                      f"did not finish within {H2LOAD_TIMEOUT}s; its output "
                      f"so far:\n{out[-800:]}")
        out = p.stdout.decode("utf-8", "replace")
        res = harness.parse_h2load(out)
        self.assertIsNotNone(res, f"no h2load summary:\n{out}\n"
                                  f"{p.stderr.decode()}")
        self.assertEqual((res["succeeded"], res["failed"], res["errored"]),
                         (100, 0, 0), out)
        self.assertEqual(res.get("2xx"), 100, out)
        self.assertTrue(self.servers["a"].alive())
        self.assertEqual(self.client().get("/healthz").status, 200)


if __name__ == "__main__":
    harness.main(watchdog=240)
