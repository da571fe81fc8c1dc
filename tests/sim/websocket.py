"""RFC 6455 framing shared by the simulators (server and client side).

* ``accept_key(key)`` - the ``Sec-WebSocket-Accept`` value for a request key.
* ``frame(opcode, payload, fin=True, mask=False)`` - one encoded frame; clients
  pass ``mask=True`` (a fresh random key per frame).
* ``Parser(expect_masked)`` - incremental decoder: ``feed(data)`` returns the
  complete frames as ``(fin, opcode, payload)`` (payload unmasked) and raises
  ``ProtocolError(code, text)`` for what RFC 6455 says must fail the
  connection: reserved bits or opcodes, a fragmented or oversized control
  frame, a wrong masking direction, a frame above ``max_frame``, or a
  non-minimal length encoding.
* ``Messages`` - reassembles data frames into messages (continuation frames,
  interleaved control frames) on top of a ``Parser``.

Unmasking XORs the payload as one big integer, so megabytes of stdin stay cheap.
"""

import base64
import hashlib
import os
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CONTROL = (CLOSE, PING, PONG)


class ProtocolError(Exception):
    def __init__(self, code, text):
        super().__init__(text)
        self.code = code


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def _xor(payload, mask):
    n = len(payload)
    if not n:
        return payload
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def frame(opcode, payload, fin=True, mask=False):
    size = len(payload)
    b1 = (0x80 if fin else 0) | opcode
    m = 0x80 if mask else 0
    if size < 126:
        head = struct.pack("!BB", b1, m | size)
    elif size < 65536:
        head = struct.pack("!BBH", b1, m | 126, size)
    else:
        head = struct.pack("!BBQ", b1, m | 127, size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + _xor(payload, key)


def close_payload(code, reason=""):
    return struct.pack("!H", code) + reason.encode()[:123]


class Parser:
    def __init__(self, expect_masked, max_frame=16 << 20):
        self.expect_masked = expect_masked
        self.max_frame = max_frame
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        frames = []
        while True:
            got = self._one()
            if got is None:
                return frames
            frames.append(got)

    def _one(self):
        buf = self.buf
        if len(buf) < 2:
            return None
        b1, b2 = buf[0], buf[1]
        fin, opcode, masked, size = bool(b1 & 0x80), b1 & 0x0F, bool(b2 & 0x80), b2 & 0x7F
        if b1 & 0x70:
            raise ProtocolError(1002, "reserved bits set")
        if opcode not in (CONT, TEXT, BINARY) + CONTROL:
            raise ProtocolError(1002, "reserved opcode %d" % opcode)
        if opcode in CONTROL and (not fin or size > 125):
            raise ProtocolError(1002, "fragmented or oversized control frame")
        if masked != self.expect_masked:
            raise ProtocolError(1002, "client frame not masked" if self.expect_masked else "server frame masked")
        pos = 2
        if size == 126:
            if len(buf) < 4:
                return None
            size = struct.unpack_from("!H", buf, 2)[0]
            pos = 4
            if size < 126:
                raise ProtocolError(1002, "non-minimal length")
        elif size == 127:
            if len(buf) < 10:
                return None
            size = struct.unpack_from("!Q", buf, 2)[0]
            pos = 10
            if size < 65536 or size >> 63:
                raise ProtocolError(1002, "non-minimal or invalid length")
        if size > self.max_frame:
            raise ProtocolError(1009, "frame of %d bytes is too big" % size)
        key = None
        if masked:
            if len(buf) < pos + 4:
                return None
            key = bytes(buf[pos:pos + 4])
            pos += 4
        if len(buf) < pos + size:
            return None
        payload = bytes(buf[pos:pos + size])
        del buf[:pos + size]
        if key:
            payload = _xor(payload, key)
        return fin, opcode, payload


class Messages:
    """Data messages and control frames, in arrival order, from raw bytes."""

    def __init__(self, expect_masked, max_message=16 << 20):
        self.parser = Parser(expect_masked, max_message)
        self.max_message = max_message
        self.opcode = None
        self.parts = []
        self.size = 0

    def feed(self, data):
        """Returns ``(opcode, payload)`` items: whole TEXT/BINARY messages and each control frame."""
        out = []
        for fin, opcode, payload in self.parser.feed(data):
            if opcode in CONTROL:
                out.append((opcode, payload))
                continue
            if opcode == CONT and self.opcode is None:
                raise ProtocolError(1002, "continuation frame without a message")
            if opcode != CONT and self.opcode is not None:
                raise ProtocolError(1002, "new message inside a fragmented one")
            if opcode != CONT:
                self.opcode = opcode
            self.size += len(payload)
            if self.size > self.max_message:
                raise ProtocolError(1009, "message too big")
            self.parts.append(payload)
            if fin:
                out.append((self.opcode, b"".join(self.parts)))
                self.opcode, self.parts, self.size = None, [], 0
        return out
