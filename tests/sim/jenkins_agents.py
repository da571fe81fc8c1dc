"""Inbound agent connections: the server side of tests/sim/agent.py.

Two transports (tests/sim/README.md, "Inbound agents"; reference §5.3-§5.4):

* WebSocket: ``GET /wsagents/`` with ``Upgrade: websocket``, ``Node-Name``,
  ``Secret-Key`` and ``X-Remoting-Capability``.  Missing headers: 400 "This
  endpoint is only for use from agent.jar in WebSocket mode"; unknown name:
  400 "no such agent"; a node that is not inbound, a wrong secret or a name
  already connected: 403.  Accepted: 101, then the socket is the channel
  (pings answered, a close frame or EOF ends it).
* TCP: ``GET /tcpSlaveAgentListener/`` advertises the port in
  ``X-Jenkins-JNLP-Port``; the agent sends ``JNLP4-connect-sim NODE SECRET``
  and gets ``OK`` or ``ERROR <reason>`` (then the connection is closed).

A channel makes its computer online; when it ends the computer goes offline.
The controller closes channels itself when a node is deleted, on a restart,
or through the admin API.
"""

import asyncio
import base64
import hashlib
import hmac
import struct

from simhttp import Response, Upgrade

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SERVER_CAPABILITY = base64.b64encode(b"jenkins-sim-remoting-capability").decode()


def _text(status, text):
    return Response(status, (text + "\n").encode(), content_type="text/plain;charset=utf-8")


class Channel:
    """One connected agent.  ``close()`` is called by the controller."""

    def __init__(self, kind, node, closer):
        self.kind = kind
        self.node = node
        self._closer = closer
        self.closed = False

    def close(self, reason=""):
        if not self.closed:
            self.closed = True
            self._closer(reason)


class Agents:
    def __init__(self, ctl):
        self.ctl = ctl
        self.channels = {}      # node name -> Channel
        self.tcp_server = None
        self.attempts = {"ws": 0, "tcp": 0, "refused": 0}

    def check(self, name, secret):
        """None when the agent may connect, else (http status, reason)."""
        comp = self.ctl.computers.get(name) if name else None
        if comp is None or comp.built_in:
            return 400, "no such agent"
        if not comp.node.inbound():
            return 403, "%s is not an inbound agent" % name
        if not hmac.compare_digest(secret.encode(), self.ctl.secret_of(name).encode()):
            return 403, "Authorization failure"
        if comp.channel is not None:
            return 403, "%s is already connected to this controller. Rejecting this connection." % name
        return None

    def _attach(self, channel):
        self.channels[channel.node] = channel
        self.ctl.connect(channel.node, channel)

    def _detach(self, channel):
        if self.channels.get(channel.node) is channel:
            del self.channels[channel.node]
        channel.closed = True
        self.ctl.disconnect(channel.node, channel)

    def close_all(self, reason):
        for ch in list(self.channels.values()):
            ch.close(reason)
            self._detach(ch)

    # --- WebSocket -------------------------------------------------------------
    def websocket(self, req):
        self.attempts["ws"] += 1
        h = req.headers
        if "websocket" not in h.get("upgrade", "").lower() or not h.get("sec-websocket-key"):
            return _text(400, "This endpoint is only for use from agent.jar in WebSocket mode")
        name, secret, cap = h.get("node-name"), h.get("secret-key"), h.get("x-remoting-capability")
        if not name or secret is None or cap is None:
            return _text(400, "This endpoint is only for use from agent.jar in WebSocket mode")
        refusal = self.check(name, secret)
        if refusal:
            self.attempts["refused"] += 1
            return _text(*refusal)
        accept = base64.b64encode(hashlib.sha1((h["sec-websocket-key"] + WS_GUID).encode()).digest()).decode()
        headers = (("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept),
                   ("X-Remoting-Capability", SERVER_CAPABILITY))
        return Upgrade(lambda raw: self._ws_session(raw, name), headers=headers)

    async def _ws_session(self, raw, name):
        def closer(reason):
            raw.write(_frame(0x8, struct.pack("!H", 1000) + reason.encode()[:100]))
            raw.close()

        channel = Channel("ws", name, closer)
        if self.check(name, self.ctl.secret_of(name)) is not None:   # raced with a delete or a twin
            raw.close()
            return
        self._attach(channel)
        buf = b""
        try:
            while True:
                data = await raw.read()
                if not data:
                    break
                buf += data
                frames, buf = _parse_frames(buf)
                done = False
                for opcode, payload in frames:
                    if opcode == 0x9:
                        raw.write(_frame(0xA, payload))
                    elif opcode == 0x8:
                        if not channel.closed:
                            raw.write(_frame(0x8, payload[:2]))
                        done = True
                if done:
                    break
        finally:
            self._detach(channel)
            raw.close()

    # --- TCP ---------------------------------------------------------------------
    async def listen_tcp(self, host, port):
        self.tcp_server = await asyncio.start_server(self._tcp_session, host, port, reuse_address=True)
        return self.tcp_server.sockets[0].getsockname()[1]

    async def stop_tcp(self):
        if self.tcp_server is not None:
            self.tcp_server.close()
            await self.tcp_server.wait_closed()
            self.tcp_server = None

    async def _tcp_session(self, reader, writer):
        self.attempts["tcp"] += 1
        try:
            line = await asyncio.wait_for(reader.readline(), 10.0)
        except (asyncio.TimeoutError, OSError, ValueError):
            writer.close()
            return
        parts = line.decode("utf-8", "replace").strip().split(" ")
        if len(parts) != 3 or parts[0] != "JNLP4-connect-sim":
            writer.write(b"ERROR Unknown protocol\n")
            writer.close()
            return
        name, secret = parts[1], parts[2]
        refusal = self.check(name, secret)
        if refusal:
            self.attempts["refused"] += 1
            text = "Unknown client name: %s" % name if refusal[1] == "no such agent" else refusal[1]
            writer.write(("ERROR %s\n" % text).encode())
            writer.close()
            return
        writer.write(b"OK\n")
        channel = Channel("tcp", name, lambda reason: writer.close())
        self._attach(channel)
        try:
            while await reader.read(4096):
                pass
        except OSError:
            pass
        finally:
            self._detach(channel)
            writer.close()


def _parse_frames(buf):
    """Complete frames in buf (client frames are masked); returns (frames, rest)."""
    frames = []
    while len(buf) >= 2:
        b1, b2 = buf[0], buf[1]
        size = b2 & 0x7F
        pos = 2
        if size == 126:
            if len(buf) < 4:
                break
            size = struct.unpack("!H", buf[2:4])[0]
            pos = 4
        elif size == 127:
            if len(buf) < 10:
                break
            size = struct.unpack("!Q", buf[2:10])[0]
            pos = 10
        mask = None
        if b2 & 0x80:
            if len(buf) < pos + 4:
                break
            mask = buf[pos:pos + 4]
            pos += 4
        if len(buf) < pos + size:
            break
        payload = buf[pos:pos + size]
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        frames.append((b1 & 0x0F, payload))
        buf = buf[pos + size:]
    return frames, buf


def _frame(opcode, payload):
    """An unmasked server frame."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload
