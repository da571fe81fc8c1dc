"""The pod ``exec`` subresource over WebSocket (reference kubernetes-api.md §5).

Registered as ``api.upgrade_handlers["exec"]``; api.py has already authorized
the request (``get`` and, for a WebSocket upgrade, ``create`` on pods/exec)
and checked the pod, the container name and the node.  Two servers answer,
as in a real cluster (``Settings.protocols``):

* the API server's stream translator (``v5.channel.k8s.io`` only), used when
  the client offers v5: it completes the handshake first, so a container that
  is not running or bad stream flags arrive later as an ``InternalError``
  Status on channel 3 (``unable to upgrade connection: container not found
  ("c")``);
* the kubelet, behind the API server's upgrade proxy, for every other request:
  ``channel.k8s.io``, ``base64.channel.k8s.io``, ``v4.channel.k8s.io``,
  ``v4.base64.channel.k8s.io`` or no protocol.  It refuses bad stream flags
  (400) and a container that is not running (500 ``container not found``)
  before the handshake, in plain text.

Handshake failures are golang.org/x/net/websocket's raw answers: 405 ``bad
method``, 400 ``not websocket protocol``, 400 ``mismatch challenge/response``
(no key), 400 ``missing or bad WebSocket Version`` (with
``Sec-WebSocket-Version: 13``) and 403 with an empty body when no offered
subprotocol is supported; the connection is closed after each.

After ``101``: one empty message on the lowest writable channel, then the
process's output (channel 1 stdout, 2 stderr; messages of at most
``message_bytes``, split into continuation frames of ``fragment_bytes`` when
set), stdin from channel 0 (v5: ``[255, 0]`` closes it), resizes on channel 4
ignored, pings answered.  At the end the exit status goes on channel 3 (a
``Status``: Success, or NonZeroExitCode with an ExitCode cause; v1/base64 only
send a message on failure), then a close frame; the translator (v5) waits up
to ``close_wait`` for the client's close frame, the kubelet closes at once.
A client that goes away does not stop the process: it runs on (its output
discarded) until it ends or is killed, as in a real container.
"""

import asyncio
import base64
import json
import os

import programs
import websocket as ws
from kstatus import bad_request
from simhttp import Response, Upgrade

V5 = "v5.channel.k8s.io"
KUBELET_PROTOCOLS = ("channel.k8s.io", "base64.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


class Settings:
    """Exec knobs; changeable through the admin API (``exec*`` keys of /config)."""

    def __init__(self):
        self.protocols = "v5,v4"       # "v5,v4" (1.30+), "v4" (no translator), "v5" (translator only)
        self.message_bytes = 32768     # largest output message (Go's io.Copy buffer)
        self.fragment_bytes = 0        # 0: one frame per message
        self.close_wait = 15.0         # seconds the translator waits for the client's close frame


def _flag(req, name):
    values = req.query.get(name)
    return bool(values) and values[0].lower() not in ("0", "false")


def _raw_refusal(status, text=b"", headers=()):
    async def write(raw):
        raw.write(text)
    return Upgrade(write, status, headers)


def _handshake_error(req):
    """x/net/websocket's checks of the upgrade request, or None."""
    h = req.headers
    if req.method != "GET":
        return _raw_refusal(405, b"bad method")
    if h.get("upgrade", "").lower() != "websocket" or "upgrade" not in h.get("connection", "").lower():
        return _raw_refusal(400, b"not websocket protocol")
    if not h.get("sec-websocket-key"):
        return _raw_refusal(400, b"mismatch challenge/response")
    if h.get("sec-websocket-version") != "13":
        return _raw_refusal(400, b"missing or bad WebSocket Version", [("Sec-WebSocket-Version", "13")])
    return None


def _container_state(api, pod, name):
    worker = api.kubelet.worker(pod["metadata"]["uid"])
    if worker is None:
        return None
    for cs in worker.containers + worker.inits:
        if cs.name == name and cs.running:
            return cs
    return None


def _internal_error(text):
    return {"metadata": {}, "status": "Failure", "message": "Internal error occurred: " + text,
            "reason": "InternalError", "details": {"causes": [{"message": text}]}, "code": 500}


def handler(api, req, pod, container):
    if req.headers.get("upgrade", "").lower() != "websocket":
        raise bad_request("Upgrade request required")    # SPDY is not simulated
    settings = api.exec_settings
    offered = [p.strip() for p in req.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    streams = {"stdin": _flag(req, "stdin"), "stdout": _flag(req, "stdout"), "stderr": _flag(req, "stderr"),
               "tty": _flag(req, "tty")}
    if streams["tty"]:
        streams["stderr"] = False
    argv = req.query.get("command") or []
    cs = _container_state(api, pod, container)
    no_streams = "you must specify at least 1 of stdin, stdout, stderr"
    translator = settings.protocols == "v5" or (settings.protocols == "v5,v4" and V5 in offered)
    refusal = _handshake_error(req)
    if translator:
        if refusal:
            return refusal
        if V5 not in offered:
            return _raw_refusal(403)
        failure = None
        if not (streams["stdin"] or streams["stdout"] or streams["stderr"]):
            failure = "unable to upgrade connection: " + no_streams
        elif cs is None:
            failure = 'unable to upgrade connection: container not found ("%s")' % container
        return _upgrade(req, V5, Session(settings, V5, streams, argv, cs, failure))
    if not (streams["stdin"] or streams["stdout"] or streams["stderr"]):
        return Response(400, no_streams.encode(), content_type="text/plain; charset=utf-8", close=True)
    if cs is None:
        return Response(500, ('container not found ("%s")' % container).encode(),
                        content_type="text/plain; charset=utf-8", close=True)
    if refusal:
        return refusal
    chosen = next((p for p in offered or [""] if p in KUBELET_PROTOCOLS or p == ""), None)
    if chosen is None:
        return _raw_refusal(403)
    return _upgrade(req, chosen, Session(settings, chosen, streams, argv, cs, None))


def _upgrade(req, protocol, session):
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Accept", ws.accept_key(req.headers["sec-websocket-key"]))]
    if protocol:
        headers.append(("Sec-WebSocket-Protocol", protocol))
    return Upgrade(session.run, 101, headers)


class Sink:
    """A process's stdout or stderr: messages on one channel."""

    def __init__(self, session, channel):
        self.session = session
        self.channel = channel

    async def write(self, data):
        await self.session.send(self.channel, data)


class Session:
    def __init__(self, settings, protocol, streams, argv, cs, failure):
        self.settings = settings
        self.protocol = protocol
        self.base64 = "base64" in protocol
        self.json_status = protocol.startswith("v4") or protocol == V5
        self.streams = streams
        self.argv = argv
        self.cs = cs
        self.failure = failure
        self.raw = None
        self.gone = False
        self.client_closed = asyncio.Event()
        self.close_sent = False

    # --- output ----
    def _message(self, channel, data):
        if self.base64:
            opcode, payload = ws.TEXT, bytes([0x30 + channel]) + base64.b64encode(data)
        else:
            opcode, payload = ws.BINARY, bytes([channel]) + data
        step = self.settings.fragment_bytes
        if not step or len(payload) <= step:
            return ws.frame(opcode, payload)
        frames = []
        for off in range(0, len(payload), step):
            last = off + step >= len(payload)
            frames.append(ws.frame(opcode if off == 0 else ws.CONT, payload[off:off + step], fin=last))
        return b"".join(frames)

    async def send(self, channel, data):
        size = self.settings.message_bytes
        for off in range(0, len(data), size):
            if self.gone:
                return
            self.raw.write(self._message(channel, data[off:off + size]))
            try:
                await self.raw.drain()
            except ConnectionError:
                self.gone = True

    def _close(self, code):
        if not self.close_sent and not self.gone:
            self.close_sent = True
            self.raw.write(ws.frame(ws.CLOSE, ws.close_payload(code)))

    # --- input ----
    async def pump(self, stdin):
        """Client frames: stdin, the v5 close signal, resize, ping, close."""
        messages = ws.Messages(expect_masked=True)
        try:
            while True:
                data = await self.raw.read()
                if not data:
                    return
                try:
                    items = messages.feed(data)
                except ws.ProtocolError as e:
                    self._close(e.code)
                    return
                for opcode, payload in items:
                    if opcode == ws.PING:
                        self.raw.write(ws.frame(ws.PONG, payload))
                    elif opcode == ws.CLOSE:
                        self._close(int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1000)
                        self.client_closed.set()
                        return
                    elif opcode in (ws.TEXT, ws.BINARY) and payload:
                        stdin = await self._data(opcode, payload, stdin)
        finally:
            self.gone = True
            self.client_closed.set()
            if stdin is not None:
                stdin.close_write()

    async def _data(self, opcode, payload, stdin):
        if self.base64:
            if opcode != ws.TEXT:
                return stdin
            channel = payload[0] - 0x30
            try:
                data = base64.b64decode(payload[1:], validate=True)
            except ValueError:
                return stdin
        else:
            channel, data = payload[0], payload[1:]
        if channel == STDIN and stdin is not None:
            try:
                await stdin.write(data)
            except BrokenPipeError:
                return None
        elif channel == CLOSE and self.protocol == V5 and data == bytes([STDIN]) and stdin is not None:
            stdin.close_write()
            return None
        return stdin

    # --- the session ----
    async def run(self, raw):
        self.raw = raw
        first = STDOUT if self.streams["stdout"] else STDERR if self.streams["stderr"] else ERROR
        self._empty(first)
        stdin = programs.Pipe() if self.streams["stdin"] else None
        pump = asyncio.ensure_future(self.pump(stdin))
        try:
            if self.failure:
                status = _internal_error(self.failure)
            else:
                status = await self._execute(stdin)
            await self._status(status)
            self._close(1000)
            if self.protocol == V5:
                try:
                    await asyncio.wait_for(self.client_closed.wait(), self.settings.close_wait)
                except asyncio.TimeoutError:
                    pass
        finally:
            pump.cancel()

    def _empty(self, channel):
        self.raw.write(ws.frame(ws.TEXT, bytes([0x30 + channel])) if self.base64
                       else ws.frame(ws.BINARY, bytes([channel])))

    async def _execute(self, stdin):
        ctx = self.cs.ctx
        out = Sink(self, STDOUT) if self.streams["stdout"] or self.streams["tty"] else programs.NullSink()
        err = Sink(self, STDERR) if self.streams["stderr"] else out if self.streams["tty"] else programs.NullSink()
        reader = stdin if stdin is not None else programs.BytesReader()
        try:
            proc = programs.start_exec(ctx, self.argv, programs.IO(reader, out, err))
        except programs.StartError as e:
            return _internal_error('error executing command in container: failed to exec in container: failed '
                                   'to start exec "%s": OCI runtime exec failed: exec failed: unable to start '
                                   'container process: %s' % (os.urandom(32).hex(), e))
        try:
            code = await programs.exit_status(proc)
        finally:
            ctx.procs.end(proc)
            if stdin is not None:
                stdin.close_read()
        if code == 0:
            return {"metadata": {}, "status": "Success"}
        if self.protocol == V5:
            text = "command terminated with exit code %d" % code
        else:
            text = "error executing command [%s], exit code %d" % (" ".join(self.argv), code)
        return {"metadata": {}, "status": "Failure", "message": "command terminated with non-zero exit code: " + text,
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}

    async def _status(self, status):
        if self.json_status:
            await self.send(ERROR, json.dumps(status, separators=(",", ":")).encode())
        elif status["status"] != "Success":
            await self.send(ERROR, status["message"].encode())
