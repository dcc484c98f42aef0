"""h2load 1.52's output layout as regular expressions, written from the
real outputs kept in fixtures/h2load/ (captured from Debian's h2load
against nginx), and a checker that applies them in order.

loadgen's output must pass the same checker: that is how the tests show
it prints h2load's summary, not something that merely resembles it.
"""

import os
import re

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "fixtures", "h2load")

# h2load's number formats: util::format_duration and util::utos_funit.
DUR = r"(?:\d+us|\d+\.\d\dms|\d+\.\d\ds)"
SIZE = r"(?:\d+|\d+\.\d\d[KMG])"

START = re.compile(r"^starting benchmark\.\.\.$")
SPAWN = re.compile(
    r"^spawning thread #(\d+): (\d+) total client\(s\)\. "
    r"(?:(\d+) total requests|Timing-based test with (\S+) of warm-up "
    r"time and (\S+) of main duration for measurements\.)$")
APP_PROTO = re.compile(r"^Application protocol: (h2c|h2|http/1\.1)$")
TLS_PROTO = re.compile(r"^TLS Protocol: (TLSv1\.[0-3])$")
CIPHER = re.compile(r"^Cipher: ([A-Z0-9_-]+)$")
TEMP_KEY = re.compile(r"^Server Temp Key: (\S+) (\d+) bits$")
PROGRESS = re.compile(r"^progress: (\d+)% done$")
FINISHED = re.compile(
    rf"^finished in ({DUR}), (\d+\.\d\d) req/s, ({SIZE})B/s$")
REQUESTS = re.compile(
    r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
    r"(\d+) failed, (\d+) errored, (\d+) timeout$")
STATUS = re.compile(
    r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx$")
TRAFFIC = re.compile(
    rf"^traffic: ({SIZE})B \((\d+)\) total, ({SIZE})B \((\d+)\) headers "
    rf"\(space savings (\d+\.\d\d)%\), ({SIZE})B \((\d+)\) data$")
TABLE_HEAD = re.compile(
    r"^                     min         max         mean         sd        "
    r"\+/- sd$")
# Fixed-width columns: setw(10) values two spaces apart, setw(9) percent.
TIME_ROW = re.compile(
    r"^(time for request|time for connect|time to 1st byte): "
    r"([ 0-9.a-z]{10})  ([ 0-9.a-z]{10})  ([ 0-9.a-z]{10})  "
    r"([ 0-9.a-z]{10})([ 0-9.]{9})%$")
RPS_ROW = re.compile(
    r"^req/s           : ([ 0-9.]{10})  ([ 0-9.]{10})  ([ 0-9.]{10})  "
    r"([ 0-9.]{10})([ 0-9.]{9})%$")
DUR_FULL = re.compile(rf"^{DUR}$")
DEC_FULL = re.compile(r"^\d+\.\d\d$")


class FormatError(AssertionError):
    pass


def _need(cond, msg):
    if not cond:
        raise FormatError(msg)


def check_summary(text):
    """Checks |text| line by line against h2load's layout and returns the
    figures as a dict. Raises FormatError naming the first line that does
    not fit."""
    lines = text.splitlines()
    _need(lines and START.match(lines[0]),
          f"first line is not 'starting benchmark...': {lines[:1]}")
    i = 1
    spawned = 0
    while i < len(lines) and SPAWN.match(lines[i]):
        spawned += 1
        i += 1
    _need(spawned > 0, f"no 'spawning thread' line at line {i + 1}")
    # The summary block starts after an empty line, then exactly 9 lines.
    try:
        fin = next(k for k in range(i, len(lines))
                   if FINISHED.match(lines[k]))
    except StopIteration:
        raise FormatError("no 'finished in' line")
    _need(lines[fin - 1] == "", "no empty line before 'finished in'")
    out = {"threads": spawned, "preamble": lines[i:fin - 1]}
    m = FINISHED.match(lines[fin])
    out["finished_in"], out["req_per_s"] = m.group(1), float(m.group(2))
    m = REQUESTS.match(lines[fin + 1])
    _need(m, f"bad requests line: {lines[fin + 1]!r}")
    keys = ("total", "started", "done", "succeeded", "failed", "errored",
            "timeout")
    out.update(zip(keys, map(int, m.groups())))
    m = STATUS.match(lines[fin + 2])
    _need(m, f"bad status codes line: {lines[fin + 2]!r}")
    out.update(zip(("2xx", "3xx", "4xx", "5xx"), map(int, m.groups())))
    m = TRAFFIC.match(lines[fin + 3])
    _need(m, f"bad traffic line: {lines[fin + 3]!r}")
    out["bytes_total"] = int(m.group(2))
    out["bytes_headers"] = int(m.group(4))
    out["space_savings"] = float(m.group(5))
    out["bytes_data"] = int(m.group(7))
    _need(TABLE_HEAD.match(lines[fin + 4]),
          f"bad table header: {lines[fin + 4]!r}")
    for k, label in enumerate(("time for request", "time for connect",
                               "time to 1st byte")):
        m = TIME_ROW.match(lines[fin + 5 + k])
        _need(m and m.group(1) == label,
              f"bad '{label}' row: {lines[fin + 5 + k]!r}")
        for v in m.groups()[1:5]:
            _need(DUR_FULL.match(v.strip()), f"bad duration {v!r}")
        _need(DEC_FULL.match(m.group(6).strip()), "bad +/- sd")
        out[label] = [v.strip() for v in m.groups()[1:]]
    m = RPS_ROW.match(lines[fin + 8])
    _need(m, f"bad req/s row: {lines[fin + 8]!r}")
    for v in m.groups():
        _need(DEC_FULL.match(v.strip()), f"bad req/s value {v!r}")
    out["after"] = lines[fin + 9:]
    for line in out["preamble"]:
        _need(any(r.match(line) for r in (APP_PROTO, TLS_PROTO, CIPHER,
                                          TEMP_KEY, PROGRESS))
              or line.startswith(("progress: ", "Warm-up ", "Main benchmark",
                                  "Stopped all clients",
                                  "Process Request Failure:")),
              f"unexpected line before the summary: {line!r}")
    protos = [APP_PROTO.match(l) for l in out["preamble"]]
    protos = [m.group(1) for m in protos if m]
    out["protocol"] = protos[0] if protos else None
    return out


def fixtures():
    """{name: text} of the captured h2load outputs."""
    out = {}
    for name in sorted(os.listdir(FIXTURES)):
        if name.endswith(".txt"):
            with open(os.path.join(FIXTURES, name)) as f:
                out[name] = f.read()
    return out
