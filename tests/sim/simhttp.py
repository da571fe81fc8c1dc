"""A small asyncio HTTP/1.1 server core for the project's test simulators.

Generic: it knows nothing about Kubernetes or Jenkins.  One connection is one
``asyncio.Protocol``; requests on it are handled one after the other (pipelined
requests wait in the buffer).  An application is a single callable

    handler(request) -> Response | Stream | Upgrade | awaitable of one of them

Plain ``Response`` objects returned synchronously are written at once, which
keeps the common path cheap (no task per request).  Return a coroutine when the
answer needs to wait for something.

* ``Response(status, body, headers, content_type)`` - a complete answer.
* ``Stream(status, producer, headers, content_type)`` - a chunked answer;
  ``await producer(out)`` writes with ``out.write(bytes)`` / ``await out.drain()``
  and returns to end the body.  ``out.abort()`` cuts the connection without the
  terminating chunk.  When the client goes away the producer task is cancelled.
* ``Upgrade(producer, status=101, headers)`` - writes the status line and headers,
  then hands the raw connection to ``await producer(raw)`` (``raw.read()`` returns
  bytes, ``b""`` at EOF; ``raw.write``, ``await raw.drain()``, ``raw.close()``).
  This is how a WebSocket endpoint is added.

Limits (all per ``Limits``): header block size (431), body size (the
application's ``too_large`` callback builds the answer, then the connection is
closed without reading the body), idle keep-alive time and the time a client
may take to send one request.  Malformed requests get Go net/http's plain
``400 Bad Request`` and the connection is closed.

``Server.connections`` lets an owner abort every connection (simulated restarts).
"""

import asyncio
import email.utils
import inspect
import time
import urllib.parse

REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
    202: "Accepted", 204: "No Content", 301: "Moved Permanently", 302: "Found",
    304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Entity",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


class Limits:
    """Hard caps applied to every connection of a ``Server``."""

    def __init__(self, max_header=65536, max_body=3 * 1024 * 1024,
                 idle_timeout=120.0, request_timeout=30.0):
        self.max_header = max_header
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout


class Request:
    """One parsed request.  ``headers`` maps lower-case names to values (repeated
    headers joined with ", "); ``query`` maps names to lists of values (``+`` is a
    space, as in Go)."""

    __slots__ = ("method", "target", "path", "raw_query", "version", "headers",
                 "body", "conn", "_query", "started")

    def __init__(self, method, target, version, headers, body, conn):
        self.method = method
        self.target = target
        path, _, raw_query = target.partition("?")
        self.path = urllib.parse.unquote(path)
        self.raw_query = raw_query
        self.version = version
        self.headers = headers
        self.body = body
        self.conn = conn
        self._query = None
        self.started = time.monotonic()

    @property
    def query(self):
        if self._query is None:
            self._query = urllib.parse.parse_qs(self.raw_query, keep_blank_values=True)
        return self._query

    def arg(self, name, default=None):
        """First value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def peer_cert(self):
        """The verified TLS client certificate as returned by ``ssl.getpeercert()``."""
        return self.conn.transport.get_extra_info("peercert")

    def is_upgrade(self):
        return "upgrade" in self.headers.get("connection", "").lower() and "upgrade" in self.headers


class Response:
    __slots__ = ("status", "body", "headers", "content_type", "close")

    def __init__(self, status, body=b"", headers=(), content_type="application/json", close=False):
        self.status = status
        self.body = body
        self.headers = headers
        self.content_type = content_type
        self.close = close


class Stream:
    __slots__ = ("status", "producer", "headers", "content_type")

    def __init__(self, status, producer, headers=(), content_type="application/json"):
        self.status = status
        self.producer = producer
        self.headers = headers
        self.content_type = content_type


class Upgrade:
    __slots__ = ("status", "producer", "headers")

    def __init__(self, producer, status=101, headers=()):
        self.status = status
        self.producer = producer
        self.headers = headers


class _Date:
    """The ``Date`` header value, formatted once per second."""
    second = 0
    value = b""

    @classmethod
    def get(cls):
        now = int(time.time())
        if now != cls.second:
            cls.second = now
            cls.value = email.utils.formatdate(now, usegmt=True).encode()
        return cls.value


def _head(status, headers, content_type, length=None, chunked=False, close=False):
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, "Unknown").encode())]
    if content_type:
        parts.append(b"Content-Type: " + content_type.encode() + b"\r\n")
    for name, value in headers:
        parts.append(("%s: %s\r\n" % (name, value)).encode("latin-1", "replace"))
    parts.append(b"Date: " + _Date.get() + b"\r\n")
    if chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif length is not None:
        parts.append(b"Content-Length: %d\r\n" % length)
    if close:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


class _Out:
    """Writer handed to a ``Stream`` producer."""

    def __init__(self, conn):
        self._conn = conn

    @property
    def closed(self):
        return self._conn.closed

    def write(self, data):
        if data and not self._conn.closed:
            self._conn.transport.write(b"%x\r\n%b\r\n" % (len(data), data))

    async def drain(self):
        await self._conn.drain()

    def abort(self):
        self._conn.abort()


class _Raw:
    """The connection after an ``Upgrade``."""

    def __init__(self, conn):
        self._conn = conn
        self._queue = asyncio.Queue()
        self._eof = False

    def feed(self, data):
        self._queue.put_nowait(data)

    def feed_eof(self):
        self._queue.put_nowait(b"")

    async def read(self):
        if self._eof:
            return b""
        data = await self._queue.get()
        if not data:
            self._eof = True
        return data

    def write(self, data):
        if not self._conn.closed:
            self._conn.transport.write(data)

    async def drain(self):
        await self._conn.drain()

    def close(self):
        self._conn.close()

    @property
    def closed(self):
        return self._conn.closed


class BadRequest(Exception):
    pass


class _Connection(asyncio.Protocol):
    def __init__(self, server):
        self.server = server
        self.transport = None
        self.buf = bytearray()
        self.busy = False
        self.closed = False
        self.raw = None
        self.task = None
        self.timer = None
        self.paused_writing = False
        self.drain_waiters = []
        self.discard = 0

    # --- asyncio callbacks -------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        self.tls = transport.get_extra_info("sslcontext") is not None
        self.server.connections.add(self)
        self._arm(self.server.limits.idle_timeout)

    def connection_lost(self, exc):
        self.closed = True
        self.server.connections.discard(self)
        if self.timer:
            self.timer.cancel()
        if self.raw:
            self.raw.feed_eof()
        elif self.task and not self.task.done():
            self.task.cancel()
        self._wake_drainers()

    def data_received(self, data):
        if self.raw:
            self.raw.feed(bytes(data))
            return
        if self.discard:
            self.discard -= min(self.discard, len(data))
            if not self.discard:
                self.close()
            return
        self.buf += data
        if len(self.buf) > self.server.limits.max_header + self.server.limits.max_body + 65536:
            self.transport.pause_reading()
        if not self.busy:
            self._process()

    def eof_received(self):
        """Half-close: keep the write side open for the answer (not possible over TLS)."""
        if self.raw:
            self.raw.feed_eof()
        elif not self.busy:
            self.close()
        return None if self.tls else True

    def pause_writing(self):
        self.paused_writing = True

    def resume_writing(self):
        self.paused_writing = False
        self._wake_drainers()

    # --- helpers -----------------------------------------------------------
    def _wake_drainers(self):
        waiters, self.drain_waiters = self.drain_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def drain(self):
        if self.closed:
            raise ConnectionResetError("client went away")
        if self.paused_writing:
            fut = asyncio.get_running_loop().create_future()
            self.drain_waiters.append(fut)
            await fut
            if self.closed:
                raise ConnectionResetError("client went away")

    def _arm(self, seconds):
        if self.timer:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self.abort) if seconds else None

    def close(self):
        if not self.closed:
            self.closed = True
            self.transport.close()

    def abort(self):
        if not self.closed:
            self.closed = True
            self.transport.abort()

    def _fail(self, status, text=None):
        body = (text if text is not None else "%d %s" % (status, REASONS[status])).encode()
        self.transport.write(_head(status, (), "text/plain; charset=utf-8", len(body), close=True) + body)
        self.close()

    # --- parsing -----------------------------------------------------------
    def _process(self):
        while not self.busy and not self.closed and self.buf:
            try:
                req = self._parse()
            except BadRequest:
                self._fail(400)
                return
            if req is None:
                return
            self._dispatch(req)

    def _parse(self):
        limits = self.server.limits
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > limits.max_header:
                self._fail(431)
            else:
                self._arm(limits.request_timeout)
            return None
        if end > limits.max_header:
            self._fail(431)
            return None
        lines = bytes(self.buf[:end]).split(b"\r\n")
        try:
            method, target, version = lines[0].decode("latin-1").split(" ")
        except ValueError:
            raise BadRequest() from None
        if not version.startswith("HTTP/1.") or not method.isalpha() or not target.startswith("/"):
            raise BadRequest()
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise BadRequest()
            key = name.lower()
            value = value.strip()
            headers[key] = headers[key] + ", " + value if key in headers else value
        pos = end + 4
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if chunked:
            body, pos = self._chunked_body(pos, headers, method, target, version)
            if body is None:
                return None
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise BadRequest() from None
            if length < 0:
                raise BadRequest()
            if length > limits.max_body:
                self._too_large(method, target, version, headers, length - (len(self.buf) - pos))
                return None
            if len(self.buf) - pos < length:
                self._continue(headers)
                self._arm(limits.request_timeout)
                return None
            body = bytes(self.buf[pos:pos + length])
            pos += length
        del self.buf[:pos]
        if self.timer:
            self.timer.cancel()
            self.timer = None
        return Request(method, target, version, headers, body, self)

    def _continue(self, headers):
        if headers.get("expect", "").lower() == "100-continue" and "expect-sent" not in headers:
            headers["expect-sent"] = "1"
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _chunked_body(self, pos, headers, method, target, version):
        parts = []
        total = 0
        while True:
            eol = self.buf.find(b"\r\n", pos)
            if eol < 0:
                self._continue(headers)
                return None, pos
            try:
                size = int(bytes(self.buf[pos:eol]).split(b";")[0], 16)
            except ValueError:
                raise BadRequest() from None
            total += size
            if total > self.server.limits.max_body:
                self._too_large(method, target, version, headers, 0)
                return None, pos
            start = eol + 2
            if size == 0:
                trailer_end = self.buf.find(b"\r\n\r\n", eol)
                if self.buf[start:start + 2] == b"\r\n":
                    return b"".join(parts), start + 2
                if trailer_end < 0:
                    return None, pos
                return b"".join(parts), trailer_end + 4
            if len(self.buf) < start + size + 2:
                self._continue(headers)
                return None, pos
            parts.append(bytes(self.buf[start:start + size]))
            pos = start + size + 2

    def _too_large(self, method, target, version, headers, unread):
        """Answer an oversized body, then swallow up to 8x the limit of what the
        client still sends (so it can read the answer) and close."""
        req = Request(method, target, version, headers, b"", self)
        resp = self.server.too_large(req)
        self.busy = True
        self.buf.clear()
        if 0 < unread <= 8 * self.server.limits.max_body:
            self.discard = unread
            self._arm(self.server.limits.request_timeout)
        else:
            resp.close = True
        self._write_response(req, resp)

    # --- dispatch ----------------------------------------------------------
    def _dispatch(self, req):
        try:
            result = self.server.handler(req)
        except Exception as exc:  # an application bug must not kill the server
            result = self.server.internal_error(req, exc)
        if inspect.isawaitable(result):
            self.busy = True
            self.task = asyncio.ensure_future(self._finish_async(req, result))
        else:
            self._deliver(req, result)

    async def _finish_async(self, req, awaitable):
        try:
            result = await awaitable
        except asyncio.CancelledError:
            return
        except Exception as exc:
            result = self.server.internal_error(req, exc)
        self.busy = False
        self.task = None
        self._deliver(req, result)

    def _deliver(self, req, result):
        if self.closed:
            return
        if isinstance(result, Response):
            self._write_response(req, result)
            if not self.closed:
                self._arm(self.server.limits.idle_timeout)
                self._process()
            return
        self.busy = True
        if isinstance(result, Stream):
            self.task = asyncio.ensure_future(self._run_stream(req, result))
        else:
            self.task = asyncio.ensure_future(self._run_upgrade(req, result))

    def _keep_alive(self, req):
        conn = req.headers.get("connection", "").lower()
        if req.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn

    def _write_response(self, req, resp):
        close = resp.close or self.discard or not self._keep_alive(req)
        body = resp.body
        head = _head(resp.status, resp.headers, resp.content_type if body or resp.status >= 200 else None,
                     len(body), close=close)
        self.transport.write(head + body if req.method != "HEAD" else head)
        self.server.log(req, resp.status, len(body))
        if close and not self.discard:
            self.close()

    async def _run_stream(self, req, stream):
        self.transport.write(_head(stream.status, stream.headers, stream.content_type, chunked=True))
        self.server.log(req, stream.status, -1)
        out = _Out(self)
        try:
            await stream.producer(out)
        except (asyncio.CancelledError, ConnectionError):
            self.abort()
            return
        except Exception as exc:
            self.server.report(req, exc)
            self.abort()
            return
        if self.closed:
            return
        self.transport.write(b"0\r\n\r\n")
        self.busy = False
        self.task = None
        if not self._keep_alive(req):
            self.close()
            return
        self._arm(self.server.limits.idle_timeout)
        self._process()

    async def _run_upgrade(self, req, upgrade):
        self.transport.write(_head(upgrade.status, upgrade.headers, None))
        self.server.log(req, upgrade.status, -1)
        self.raw = _Raw(self)
        if self.timer:
            self.timer.cancel()
            self.timer = None
        if self.buf:
            self.raw.feed(bytes(self.buf))
            self.buf.clear()
        try:
            await upgrade.producer(self.raw)
        except (asyncio.CancelledError, ConnectionError):
            pass
        except Exception as exc:
            self.server.report(req, exc)
        self.close()


def _plain_error(status, text):
    return Response(status, text.encode(), content_type="text/plain; charset=utf-8")


class Server:
    """Owns the listening socket(s) and the application callbacks.

    ``too_large(req)`` and ``internal_error(req, exc)`` build the answers for
    oversized bodies and application exceptions; ``log_line`` (if set) is called
    with one formatted line per request."""

    def __init__(self, handler, limits=None, too_large=None, internal_error=None, log_line=None):
        self.handler = handler
        self.limits = limits or Limits()
        self.too_large = too_large or (lambda req: _plain_error(413, "request body too large"))
        self._internal_error = internal_error or (lambda req, exc: _plain_error(500, "internal error"))
        self.log_line = log_line
        self.connections = set()
        self.servers = []

    def internal_error(self, req, exc):
        self.report(req, exc)
        return self._internal_error(req, exc)

    def report(self, req, exc):
        import traceback
        traceback.print_exception(type(exc), exc, exc.__traceback__)

    def log(self, req, status, length):
        if self.log_line:
            ms = (time.monotonic() - req.started) * 1000
            self.log_line("%s %s %d %s %.1fms" % (req.method, req.path, status,
                                                  "stream" if length < 0 else length, ms))

    async def listen(self, host, port, ssl=None):
        """Start listening; returns the bound port."""
        srv = await asyncio.get_running_loop().create_server(
            lambda: _Connection(self), host, port, ssl=ssl, reuse_address=True)
        self.servers.append(srv)
        return srv.sockets[0].getsockname()[1]

    def abort_all(self):
        for conn in list(self.connections):
            conn.abort()

    async def close(self):
        for srv in self.servers:
            srv.close()
        self.abort_all()
        for srv in self.servers:
            await srv.wait_closed()
