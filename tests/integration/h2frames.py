"""A small raw HTTP/2 client for objectd's conformance tests (Python 3.11
stdlib only), written from RFC 9113 (HTTP/2) and RFC 7541 (HPACK).

What lives here:
  * constants: frame types, flags, error codes, SETTINGS identifiers;
  * frame encoding (any length/flags/stream id, including invalid ones on
    purpose) and decoding (Frame);
  * HPACK: integer and string primitives, a Huffman coder (RFC 7541
    Appendix B, rebuilt as the canonical code from its code lengths), an
    encoder that emits literal header fields without indexing (plus
    helpers to craft invalid representations) and a full decoder (static
    table, dynamic table, size updates, Huffman) for responses;
  * H2Conn: one client connection (prior knowledge, cleartext) that sends
    frames, reads them with a timeout, tracks per-stream responses
    (decoded header blocks, DATA, END_STREAM, RST_STREAM) and waits for
    the events a conformance test asserts: GOAWAY, close, RST_STREAM, a
    PING ACK.

Every read is bounded by a timeout (2 s unless told otherwise).
"""

import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TIMEOUT = 2.0

# Frame types (RFC 9113 section 6).
DATA = 0x0
HEADERS = 0x1
PRIORITY = 0x2
RST_STREAM = 0x3
SETTINGS = 0x4
PUSH_PROMISE = 0x5
PING = 0x6
GOAWAY = 0x7
WINDOW_UPDATE = 0x8
CONTINUATION = 0x9

FRAME_NAMES = {
    DATA: "DATA", HEADERS: "HEADERS", PRIORITY: "PRIORITY",
    RST_STREAM: "RST_STREAM", SETTINGS: "SETTINGS",
    PUSH_PROMISE: "PUSH_PROMISE", PING: "PING", GOAWAY: "GOAWAY",
    WINDOW_UPDATE: "WINDOW_UPDATE", CONTINUATION: "CONTINUATION",
}

# Flags.
FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20

# Error codes (RFC 9113 section 7).
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
SETTINGS_TIMEOUT = 0x4
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
CONNECT_ERROR = 0xA
ENHANCE_YOUR_CALM = 0xB
INADEQUATE_SECURITY = 0xC
HTTP_1_1_REQUIRED = 0xD

ERROR_NAMES = {
    0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR",
    0x3: "FLOW_CONTROL_ERROR", 0x4: "SETTINGS_TIMEOUT",
    0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR", 0x7: "REFUSED_STREAM",
    0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xA: "CONNECT_ERROR",
    0xB: "ENHANCE_YOUR_CALM", 0xC: "INADEQUATE_SECURITY",
    0xD: "HTTP_1_1_REQUIRED",
}

# SETTINGS identifiers (RFC 9113 section 6.5.2).
SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_ENABLE_PUSH = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE = 0x6

DEFAULT_MAX_FRAME_SIZE = 16384
DEFAULT_WINDOW = 65535
MAX_WINDOW = 2 ** 31 - 1


def error_name(code):
    return ERROR_NAMES.get(code, f"0x{code:x}")


# --------------------------------------------------------------------------
# Frames


def frame(ftype, flags, stream_id, payload=b"", length=None, reserved=False):
    """Bytes of one frame. `length` overrides the length field (to lie about
    it); `reserved` sets the reserved bit of the stream identifier."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    sid = (stream_id & 0x7FFFFFFF) | (0x80000000 if reserved else 0)
    return struct.pack(">I", n)[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def pad_payload(body, pad_length, pad_field=None):
    """PADDED payload: Pad Length octet, body, pad_length zero octets.
    `pad_field` overrides the Pad Length octet (to make it invalid)."""
    field = pad_length if pad_field is None else pad_field
    return bytes([field]) + body + b"\0" * pad_length


def data_frame(stream_id, data=b"", end_stream=False, pad=None,
               pad_field=None, flags=0):
    flags |= FLAG_END_STREAM if end_stream else 0
    payload = data
    if pad is not None:
        flags |= FLAG_PADDED
        payload = pad_payload(data, pad, pad_field)
    return frame(DATA, flags, stream_id, payload)


def priority_fields(depends_on=0, weight=16, exclusive=False):
    """Stream Dependency (E bit + 31 bits) and Weight (weight-1 octet)."""
    dep = (depends_on & 0x7FFFFFFF) | (0x80000000 if exclusive else 0)
    return struct.pack(">IB", dep, weight - 1)


def headers_frame(stream_id, block, end_stream=True, end_headers=True,
                  pad=None, pad_field=None, priority=None, flags=0):
    """HEADERS; `priority` is a (depends_on, weight, exclusive) tuple."""
    flags |= FLAG_END_STREAM if end_stream else 0
    flags |= FLAG_END_HEADERS if end_headers else 0
    body = block
    if priority is not None:
        flags |= FLAG_PRIORITY
        body = priority_fields(*priority) + block
    if pad is not None:
        flags |= FLAG_PADDED
        body = pad_payload(body, pad, pad_field)
    return frame(HEADERS, flags, stream_id, body)


def continuation_frame(stream_id, block, end_headers=True):
    return frame(CONTINUATION, FLAG_END_HEADERS if end_headers else 0,
                 stream_id, block)


def priority_frame(stream_id, depends_on=0, weight=16, exclusive=False):
    return frame(PRIORITY, 0, stream_id,
                 priority_fields(depends_on, weight, exclusive))


def rst_stream_frame(stream_id, code=CANCEL):
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


def settings_frame(settings=(), ack=False, stream_id=0):
    """`settings`: iterable of (identifier, value); dicts work too."""
    if isinstance(settings, dict):
        settings = settings.items()
    payload = b"".join(struct.pack(">HI", k, v) for k, v in settings)
    return frame(SETTINGS, FLAG_ACK if ack else 0, stream_id, payload)


def ping_frame(data=b"\0" * 8, ack=False, stream_id=0):
    return frame(PING, FLAG_ACK if ack else 0, stream_id, data)


def goaway_frame(last_stream_id=0, code=NO_ERROR, debug=b"", stream_id=0):
    return frame(GOAWAY, 0, stream_id,
                 struct.pack(">II", last_stream_id & 0x7FFFFFFF, code) + debug)


def window_update_frame(stream_id, increment):
    return frame(WINDOW_UPDATE, 0, stream_id,
                 struct.pack(">I", increment & 0xFFFFFFFF))


class Frame:
    """One received frame."""

    def __init__(self, ftype, flags, stream_id, payload):
        self.type = ftype
        self.flags = flags
        self.stream_id = stream_id
        self.payload = payload

    @property
    def name(self):
        return FRAME_NAMES.get(self.type, f"type-0x{self.type:x}")

    def has(self, flag):
        return bool(self.flags & flag)

    @property
    def ack(self):
        return self.type in (SETTINGS, PING) and self.has(FLAG_ACK)

    @property
    def end_stream(self):
        return self.type in (DATA, HEADERS) and self.has(FLAG_END_STREAM)

    @property
    def error_code(self):
        if self.type == RST_STREAM and len(self.payload) >= 4:
            return struct.unpack(">I", self.payload[:4])[0]
        if self.type == GOAWAY and len(self.payload) >= 8:
            return struct.unpack(">I", self.payload[4:8])[0]
        return None

    @property
    def last_stream_id(self):
        if self.type == GOAWAY and len(self.payload) >= 4:
            return struct.unpack(">I", self.payload[:4])[0] & 0x7FFFFFFF
        return None

    @property
    def increment(self):
        if self.type == WINDOW_UPDATE and len(self.payload) == 4:
            return struct.unpack(">I", self.payload)[0] & 0x7FFFFFFF
        return None

    @property
    def settings(self):
        if self.type != SETTINGS:
            return []
        p = self.payload
        return [struct.unpack(">HI", p[i:i + 6]) for i in range(0, len(p) - 5, 6)]

    def data(self):
        """DATA payload without padding."""
        if self.type != DATA:
            return b""
        p = self.payload
        if self.has(FLAG_PADDED):
            return p[1:len(p) - p[0]]
        return p

    def header_block_fragment(self):
        p = self.payload
        if self.type == CONTINUATION:
            return p
        if self.type != HEADERS:
            return b""
        start, end = 0, len(p)
        if self.has(FLAG_PADDED):
            start, end = 1, len(p) - p[0]
        if self.has(FLAG_PRIORITY):
            start += 5
        return p[start:end]

    def __repr__(self):
        extra = ""
        if self.type in (RST_STREAM, GOAWAY) and self.error_code is not None:
            extra = f" {error_name(self.error_code)}"
            if self.type == GOAWAY:
                extra += (f" last_stream_id={self.last_stream_id}"
                          f" debug={self.payload[8:]!r}")
        elif self.type == SETTINGS:
            extra = f" {self.settings}"
        elif self.type == WINDOW_UPDATE:
            extra = f" +{self.increment}"
        elif self.type == DATA:
            extra = f" {len(self.payload)} bytes"
        return (f"<{self.name} flags=0x{self.flags:x} stream={self.stream_id}"
                f"{extra}>")


# --------------------------------------------------------------------------
# HPACK primitives (RFC 7541 section 5)


class HPACKError(Exception):
    pass


def encode_int(value, prefix_bits, first=0):
    """Integer with an N-bit prefix (5.1); `first` holds the high bits of the
    first octet (the representation's pattern)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_int(data, pos, prefix_bits):
    """-> (value, new position)."""
    if pos >= len(data):
        raise HPACKError("truncated integer")
    limit = (1 << prefix_bits) - 1
    value = data[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        if pos >= len(data):
            raise HPACKError("truncated integer")
        b = data[pos]
        pos += 1
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos
        if shift > 63:
            raise HPACKError("integer overflow")


# Huffman code (RFC 7541 Appendix B). The code is canonical: sorting the
# symbols by (code length, symbol) and counting up gives every code, so the
# lengths alone define it. Symbols 0..255, then EOS (256).
_HUFFMAN_LENGTHS = (
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    30,
)
EOS = 256


def _build_huffman():
    assert len(_HUFFMAN_LENGTHS) == 257
    codes = [0] * 257
    code, prev_len = 0, 0
    for sym in sorted(range(257), key=lambda s: (_HUFFMAN_LENGTHS[s], s)):
        n = _HUFFMAN_LENGTHS[sym]
        code <<= n - prev_len
        codes[sym] = code
        code += 1
        prev_len = n
    # A complete prefix code ends exactly at 2**30 (Kraft equality).
    assert code == 1 << 30, "Huffman code lengths are not a complete code"
    decode = {(_HUFFMAN_LENGTHS[s], codes[s]): s for s in range(257)}
    return codes, decode


HUFFMAN_CODES, _HUFFMAN_DECODE = _build_huffman()


def huffman_encode(data, eos_padding=True, extra=()):
    """Huffman-encodes `data` (bytes). `extra`: symbols (e.g. EOS) appended
    before padding, for crafting invalid strings. Padding uses the most
    significant bits of EOS (all ones) unless eos_padding is False (zeros)."""
    bits, nbits = 0, 0
    for sym in list(data) + list(extra):
        n = _HUFFMAN_LENGTHS[sym]
        bits = (bits << n) | HUFFMAN_CODES[sym]
        nbits += n
    pad = (-nbits) % 8
    bits = (bits << pad) | (((1 << pad) - 1) if eos_padding else 0)
    nbits += pad
    return bits.to_bytes(nbits // 8, "big") if nbits else b""


def huffman_decode(data):
    """Decodes a Huffman string; raises HPACKError for EOS in the string,
    padding longer than 7 bits, or padding that is not EOS's prefix
    (RFC 7541 section 5.2)."""
    out = bytearray()
    code, n = 0, 0
    for byte in data:
        for i in range(7, -1, -1):
            code = (code << 1) | ((byte >> i) & 1)
            n += 1
            sym = _HUFFMAN_DECODE.get((n, code))
            if sym is not None:
                if sym == EOS:
                    raise HPACKError("EOS symbol in a Huffman string")
                out.append(sym)
                code, n = 0, 0
            elif n > 30:
                raise HPACKError("invalid Huffman code")
    if n > 7:
        raise HPACKError("Huffman padding longer than 7 bits")
    if code != (1 << n) - 1:
        raise HPACKError("Huffman padding is not the EOS prefix")
    return bytes(out)


def _b(s):
    return s.encode("latin-1") if isinstance(s, str) else bytes(s)


def encode_str(s, huffman=False):
    """String literal (5.2)."""
    s = _b(s)
    if huffman:
        h = huffman_encode(s)
        return encode_int(len(h), 7, 0x80) + h
    return encode_int(len(s), 7, 0x00) + s


def raw_huffman_str(encoded):
    """String literal with the H bit and an already encoded (possibly
    invalid) Huffman payload."""
    return encode_int(len(encoded), 7, 0x80) + encoded


# --------------------------------------------------------------------------
# HPACK tables (RFC 7541 Appendix A, section 4)

STATIC_TABLE = (
    (b":authority", b""), (b":method", b"GET"), (b":method", b"POST"),
    (b":path", b"/"), (b":path", b"/index.html"), (b":scheme", b"http"),
    (b":scheme", b"https"), (b":status", b"200"), (b":status", b"204"),
    (b":status", b"206"), (b":status", b"304"), (b":status", b"400"),
    (b":status", b"404"), (b":status", b"500"), (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"), (b"accept-language", b""),
    (b"accept-ranges", b""), (b"accept", b""),
    (b"access-control-allow-origin", b""), (b"age", b""), (b"allow", b""),
    (b"authorization", b""), (b"cache-control", b""),
    (b"content-disposition", b""), (b"content-encoding", b""),
    (b"content-language", b""), (b"content-length", b""),
    (b"content-location", b""), (b"content-range", b""),
    (b"content-type", b""), (b"cookie", b""), (b"date", b""), (b"etag", b""),
    (b"expect", b""), (b"expires", b""), (b"from", b""), (b"host", b""),
    (b"if-match", b""), (b"if-modified-since", b""), (b"if-none-match", b""),
    (b"if-range", b""), (b"if-unmodified-since", b""),
    (b"last-modified", b""), (b"link", b""), (b"location", b""),
    (b"max-forwards", b""), (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""), (b"range", b""), (b"referer", b""),
    (b"refresh", b""), (b"retry-after", b""), (b"server", b""),
    (b"set-cookie", b""), (b"strict-transport-security", b""),
    (b"transfer-encoding", b""), (b"user-agent", b""), (b"vary", b""),
    (b"via", b""), (b"www-authenticate", b""),
)
assert len(STATIC_TABLE) == 61


def entry_size(name, value):
    return 32 + len(name) + len(value)


class Decoder:
    """HPACK decoder (one per direction of a connection)."""

    def __init__(self, max_table_size=4096):
        self.max_allowed = max_table_size  # SETTINGS_HEADER_TABLE_SIZE
        self.max_size = max_table_size
        self.table = []  # newest first
        self.size = 0

    def _evict(self):
        while self.size > self.max_size and self.table:
            n, v = self.table.pop()
            self.size -= entry_size(n, v)

    def _add(self, name, value):
        self.table.insert(0, (name, value))
        self.size += entry_size(name, value)
        self._evict()

    def lookup(self, index):
        if index == 0:
            raise HPACKError("index 0")
        if index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        i = index - len(STATIC_TABLE) - 1
        if i >= len(self.table):
            raise HPACKError(f"index {index} beyond the table")
        return self.table[i]

    def _string(self, data, pos):
        if pos >= len(data):
            raise HPACKError("truncated string")
        huff = bool(data[pos] & 0x80)
        n, pos = decode_int(data, pos, 7)
        if pos + n > len(data):
            raise HPACKError("truncated string")
        raw = data[pos:pos + n]
        return (huffman_decode(raw) if huff else bytes(raw)), pos + n

    def decode(self, block):
        """-> list of (name, value) bytes pairs."""
        out = []
        pos = 0
        seen_field = False
        while pos < len(block):
            b = block[pos]
            if b & 0x80:  # indexed header field
                idx, pos = decode_int(block, pos, 7)
                out.append(self.lookup(idx))
                seen_field = True
            elif b & 0xC0 == 0x40:  # literal with incremental indexing
                idx, pos = decode_int(block, pos, 6)
                name = self.lookup(idx)[0] if idx else None
                if name is None:
                    name, pos = self._string(block, pos)
                value, pos = self._string(block, pos)
                self._add(name, value)
                out.append((name, value))
                seen_field = True
            elif b & 0xE0 == 0x20:  # dynamic table size update
                if seen_field:
                    raise HPACKError("table size update after a field")
                size, pos = decode_int(block, pos, 5)
                if size > self.max_allowed:
                    raise HPACKError("table size update over the limit")
                self.max_size = size
                self._evict()
            else:  # literal without indexing (0000) / never indexed (0001)
                idx, pos = decode_int(block, pos, 4)
                name = self.lookup(idx)[0] if idx else None
                if name is None:
                    name, pos = self._string(block, pos)
                value, pos = self._string(block, pos)
                out.append((name, value))
                seen_field = True
        return out


def literal(name, value, name_index=None, huffman=False, mode="without"):
    """One literal header field. mode: "without" (0000, not indexed),
    "never" (0001), "incremental" (01). `name_index` refers to a table
    entry for the name instead of a literal name."""
    prefix, first = {"without": (4, 0x00), "never": (4, 0x10),
                     "incremental": (6, 0x40)}[mode]
    if name_index is not None:
        out = encode_int(name_index, prefix, first)
    else:
        out = encode_int(0, prefix, first) + encode_str(name, huffman)
    return out + encode_str(value, huffman)


def indexed(index):
    """Indexed header field representation (6.1)."""
    return encode_int(index, 7, 0x80)


def table_size_update(size):
    """Dynamic table size update (6.3)."""
    return encode_int(size, 5, 0x20)


def encode_headers(headers, huffman=False):
    """Header block from (name, value) pairs: every field a literal without
    indexing with a literal name (order and case kept as given)."""
    return b"".join(literal(n, v, huffman=huffman) for n, v in headers)


def request_headers(method="GET", path="/healthz", authority="127.0.0.1",
                    scheme="http", extra=()):
    """The usual request pseudo-headers (None drops one) and extra fields."""
    hs = []
    for n, v in ((":method", method), (":scheme", scheme), (":path", path),
                 (":authority", authority)):
        if v is not None:
            hs.append((n, v))
    return hs + list(extra)


# --------------------------------------------------------------------------
# Connection


class Timeout(AssertionError):
    pass


class StreamState:
    def __init__(self, stream_id):
        self.id = stream_id
        self.header_blocks = []  # decoded blocks: [[(name, value), ...], ...]
        self.data = bytearray()
        self.data_frames = []    # payload lengths of each DATA frame
        self.ended = False       # END_STREAM received
        self.reset = None        # RST_STREAM error code
        self.frames = []

    @property
    def headers(self):
        return self.header_blocks[0] if self.header_blocks else []

    @property
    def status(self):
        for n, v in self.headers:
            if n == b":status":
                return int(v)
        return None

    def header(self, name):
        name = _b(name).lower()
        for n, v in self.headers:
            if n == name:
                return v
        return None

    @property
    def trailers(self):
        return self.header_blocks[1] if len(self.header_blocks) > 1 else None

    @property
    def done(self):
        return self.ended or self.reset is not None

    def __repr__(self):
        return (f"<stream {self.id} status={self.status} "
                f"body={bytes(self.data)[:60]!r} ended={self.ended} "
                f"reset={None if self.reset is None else error_name(self.reset)}>")


class H2Conn:
    """One HTTP/2 client connection with prior knowledge.

    Received frames are processed in order: header blocks are reassembled
    and HPACK-decoded (keeping the decoder in sync), DATA is collected per
    stream, SETTINGS from the server are ACKed automatically (auto_ack),
    and everything lands in `frames`. `closed` becomes True on EOF/reset.
    """

    def __init__(self, port, host="127.0.0.1", timeout=TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False
        self.frames = []
        self.streams = {}
        self.decoder = Decoder()
        self.server_settings = {}
        self.server_settings_received = False
        self.settings_acks = 0
        self.goaway = None  # the last GOAWAY frame
        self.auto_ack = True
        self._pending_block = None  # (stream id, bytearray, end_stream)
        self.max_frame_size = DEFAULT_MAX_FRAME_SIZE  # the server's
        self.initial_window = DEFAULT_WINDOW  # the server's, for our sends

    # -- plumbing --

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

    def send(self, *chunks):
        """Sends bytes; False (not an exception) if the peer is gone."""
        try:
            self.sock.sendall(b"".join(chunks))
            return True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            return False

    def stream(self, stream_id):
        s = self.streams.get(stream_id)
        if s is None:
            s = self.streams[stream_id] = StreamState(stream_id)
        return s

    def _fill(self, deadline):
        if self.closed:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def read_frame(self, timeout=None):
        """Next frame (processed), or None at EOF. Raises Timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while len(self.buf) < 9:
                if not self._fill(deadline):
                    return None
            n = int.from_bytes(self.buf[:3], "big")
            while len(self.buf) < 9 + n:
                if not self._fill(deadline):
                    return None
        except socket.timeout:
            raise Timeout("no frame within the timeout; frames so far: "
                          f"{self.frames[-8:]!r}") from None
        ftype, flags, sid = struct.unpack(">BBI", self.buf[3:9])
        f = Frame(ftype, flags, sid & 0x7FFFFFFF, bytes(self.buf[9:9 + n]))
        del self.buf[:9 + n]
        self._process(f)
        return f

    def _process(self, f):
        self.frames.append(f)
        if f.type == SETTINGS:
            if f.ack:
                self.settings_acks += 1
            else:
                for k, v in f.settings:
                    self.server_settings[k] = v
                    if k == SETTINGS_MAX_FRAME_SIZE:
                        self.max_frame_size = v
                    elif k == SETTINGS_INITIAL_WINDOW_SIZE:
                        self.initial_window = v
                self.server_settings_received = True
                if self.auto_ack:
                    self.send(settings_frame(ack=True))
        elif f.type == GOAWAY:
            self.goaway = f
        elif f.type in (HEADERS, CONTINUATION):
            s = self.stream(f.stream_id)
            s.frames.append(f)
            if f.type == HEADERS:
                self._pending_block = (f.stream_id, bytearray(), f.end_stream)
            if self._pending_block is not None:
                self._pending_block[1].extend(f.header_block_fragment())
                if f.has(FLAG_END_HEADERS):
                    sid, block, end = self._pending_block
                    self._pending_block = None
                    self.stream(sid).header_blocks.append(
                        self.decoder.decode(bytes(block)))
                    if end:
                        self.stream(sid).ended = True
        elif f.type == DATA:
            s = self.stream(f.stream_id)
            s.frames.append(f)
            s.data += f.data()
            s.data_frames.append(len(f.payload))
            if f.end_stream:
                s.ended = True
        elif f.type == RST_STREAM:
            s = self.stream(f.stream_id)
            s.frames.append(f)
            s.reset = f.error_code

    def wait_for(self, pred, timeout=None, what="the expected frame"):
        """Reads until a frame satisfies pred; returns it, or None if the
        connection closed first. Raises Timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(f"timed out waiting for {what}; frames so far: "
                              f"{self.frames[-8:]!r}")
            f = self.read_frame(left)
            if f is None:
                return None
            if pred(f):
                return f

    def read_raw_until_close(self, timeout=None):
        """Raw bytes (not parsed as frames) until EOF or the timeout;
        returns (bytes, closed)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while self._fill(deadline):
                pass
        except socket.timeout:
            pass
        data = bytes(self.buf)
        self.buf.clear()
        return data, self.closed

    def read_until_close(self, timeout=None):
        """Reads (and processes) frames until EOF; returns True if the
        connection closed within the timeout."""
        try:
            while self.read_frame(timeout) is not None:
                pass
            return True
        except Timeout:
            return False

    # -- handshake --

    def send_preface(self, settings=()):
        return self.send(PREFACE, settings_frame(settings))

    def handshake(self, settings=(), wait_ack=True, timeout=None):
        """Client preface + SETTINGS; waits for the server's SETTINGS (which
        is ACKed) and, if wait_ack, the ACK of ours. Returns self."""
        self.send_preface(settings)
        first = self.read_frame(timeout)
        if first is None or first.type != SETTINGS or first.ack:
            raise AssertionError(f"server's first frame is not SETTINGS: {first!r}")
        if wait_ack:
            self.wait_for(lambda f: f.type == SETTINGS and f.ack, timeout,
                          "the SETTINGS ACK")
        return self

    # -- requests --

    def send_headers(self, stream_id, headers=None, end_stream=True,
                     huffman=False, **kw):
        """HEADERS from (name, value) pairs (default: GET /healthz)."""
        if headers is None:
            headers = request_headers()
        return self.send(headers_frame(stream_id, encode_headers(headers, huffman),
                                       end_stream=end_stream, **kw))

    def send_data(self, stream_id, data=b"", end_stream=True, **kw):
        return self.send(data_frame(stream_id, data, end_stream=end_stream, **kw))

    def request(self, stream_id, method="GET", path="/healthz", body=None,
                extra=()):
        hs = request_headers(method, path, extra=extra)
        if body is None:
            return self.send_headers(stream_id, hs, end_stream=True)
        return (self.send_headers(stream_id, hs, end_stream=False) and
                self.send_data(stream_id, body, end_stream=True))

    def wait_stream(self, stream_id, timeout=None):
        """Reads until the stream ends (END_STREAM or RST_STREAM); returns its
        StreamState. Raises Timeout; AssertionError if the connection ends
        first."""
        s = self.stream(stream_id)
        if s.done:
            return s
        f = self.wait_for(lambda f: self.stream(stream_id).done, timeout,
                          f"the end of stream {stream_id}")
        if f is None:
            raise AssertionError(
                f"connection closed before stream {stream_id} ended; "
                f"GOAWAY={self.goaway!r}; frames: {self.frames[-8:]!r}")
        return s

    def ping(self, data=b"pingpong", timeout=None):
        """Sends a PING and waits for its ACK; returns True when answered,
        False when the connection closed first."""
        if not self.send(ping_frame(data)):
            return False
        f = self.wait_for(lambda f: f.type == PING and f.ack and
                          f.payload == data, timeout, "the PING ACK")
        return f is not None

    # -- error outcomes --

    def wait_goaway_or_close(self, timeout=None):
        """Reads until a GOAWAY arrives and the connection closes (or the
        timeout passes). Returns (goaway frame or None, closed)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if self.read_frame(left) is None:
                    break
        except Timeout:
            pass
        return self.goaway, self.closed

    def wait_stream_error(self, stream_id, timeout=None):
        """Reads until RST_STREAM on the stream, a GOAWAY, or EOF. Returns
        ("rst", code), ("goaway", code) or ("closed", None)."""
        s = self.stream(stream_id)
        if s.reset is not None:
            return ("rst", s.reset)
        f = self.wait_for(lambda f: (f.type == RST_STREAM and f.stream_id == stream_id)
                          or f.type == GOAWAY, timeout,
                          f"RST_STREAM on stream {stream_id} or GOAWAY")
        if f is None:
            return ("closed", None)
        if f.type == RST_STREAM:
            return ("rst", f.error_code)
        return ("goaway", f.error_code)
