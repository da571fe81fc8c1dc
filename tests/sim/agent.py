"""The ``jenkins/inbound-agent`` entrypoint, as a simulated container program.

Reads JENKINS_URL, JENKINS_SECRET, JENKINS_AGENT_NAME (JENKINS_NAME overrides
it), JENKINS_WEB_SOCKET, JENKINS_TUNNEL and JENKINS_DIRECT_CONNECTION and does
what remoting does (protocol details in README.md, "Inbound agents"):

* WebSocket (``JENKINS_WEB_SOCKET=true``): ``GET <url>login`` until 200, then
  ``GET <url>wsagents/`` with ``Upgrade: websocket``, ``Node-Name``,
  ``Secret-Key`` and ``X-Remoting-Capability``; expects 101 and keeps the
  socket open (answers pings, notices a close frame or EOF).
* TCP: ``GET <url>tcpSlaveAgentListener/`` and reads ``X-Jenkins-JNLP-Port``
  (and ``X-Jenkins-JNLP-Host``); ``JENKINS_TUNNEL=host:port`` overrides
  either part; ``JENKINS_DIRECT_CONNECTION=host:port`` skips the HTTP step.
  Then connects and sends ``JNLP4-connect-sim NODE SECRET\\n``, expects
  ``OK\\n`` and holds the connection open.

Every refusal is written to the container log in remoting's java.util.logging
format; after ``attempts`` consecutive failures the program exits 255, as
remoting's ``System.exit(-1)``.  A connection the server closes is retried the
same way.  SIGTERM closes the connection and exits 143.
"""

import asyncio
import base64
import os
import ssl
import time
import urllib.parse

import websocket as ws

REMOTING_VERSION = "3355.v388858a_47b_33"


class Refused(Exception):
    """One failed connection attempt; the text is what remoting would log."""


def _jul(logger, method, level, text):
    stamp = time.strftime("%b %d, %Y %I:%M:%S %p", time.gmtime()).replace(" 0", " ")
    return "%s %s %s\n%s: %s" % (stamp, logger, method, level, text)


async def _open(host, port, tls, timeout):
    ctx = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), timeout)
    except asyncio.TimeoutError:
        raise Refused("java.net.SocketTimeoutException: Connect timed out") from None
    except OSError as exc:
        raise Refused("java.net.ConnectException: Connection refused (%s)" % (exc.strerror or exc)) from None


async def _read_head(reader, timeout):
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        raise Refused("java.io.IOException: Unexpected end of HTTP response") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ")[1])
    except (IndexError, ValueError):
        raise Refused("java.io.IOException: Invalid HTTP response: %s" % lines[0]) from None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def _read_body(reader, headers, timeout, cap=65536):
    try:
        if "content-length" in headers:
            return await asyncio.wait_for(reader.readexactly(min(int(headers["content-length"]), cap)), timeout)
        if "chunked" in headers.get("transfer-encoding", ""):
            out = b""
            while len(out) < cap:
                size = int((await asyncio.wait_for(reader.readline(), timeout)).split(b";")[0], 16)
                if size == 0:
                    break
                out += await asyncio.wait_for(reader.readexactly(size + 2), timeout)
            return out
        return await asyncio.wait_for(reader.read(cap), timeout)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, OSError):
        return b""


class AgentProgram:
    handles_sigterm = True
    connect_timeout = 2.0

    def __init__(self, env):
        url = env["JENKINS_URL"]
        self.url = url if url.endswith("/") else url + "/"
        self.secret = env["JENKINS_SECRET"]
        self.name = env.get("JENKINS_NAME") or env.get("JENKINS_AGENT_NAME")
        self.websocket = env.get("JENKINS_WEB_SOCKET") == "true"
        self.tunnel = env.get("JENKINS_TUNNEL", "")
        self.direct = env.get("JENKINS_DIRECT_CONNECTION", "")
        parsed = urllib.parse.urlsplit(self.url)
        self.tls = parsed.scheme == "https"
        self.host = parsed.hostname or "localhost"
        self.port = parsed.port or (443 if self.tls else 80)
        self.base = parsed.path or "/"
        self.writer = None

    # --- main loop -----------------------------------------------------------
    async def run(self, ctx):
        self.ctx = ctx
        try:
            return await self._run()
        finally:
            await self._close()

    async def _run(self):
        ctx = self.ctx
        self._log("hudson.remoting.jnlp.Main createEngine", "INFO", "Setting up agent: %s" % self.name)
        self._log("hudson.remoting.Engine startEngine", "INFO", "Using Remoting version: " + REMOTING_VERSION)
        failures = 0
        while True:
            ctx.agent_state("connecting", failures)
            try:
                lost = await self._connect()
            except Refused as exc:
                failures += 1
                self._log("hudson.remoting.jnlp.Main$CuiListener error", "SEVERE", str(exc))
                if failures >= ctx.agent_attempts:
                    self._log("hudson.remoting.jnlp.Main$CuiListener error", "SEVERE",
                              "Giving up after %d attempts; exiting" % failures)
                    ctx.agent_state("failed", failures)
                    return 255
                if await self._sleep_or_term(ctx.agent_retry_delay):
                    return 143
                continue
            failures = 0
            self._log("hudson.remoting.jnlp.Main$CuiListener status", "INFO", "Connected")
            ctx.agent_state("connected", 0)
            term = asyncio.ensure_future(ctx.sigterm.wait())
            done, _ = await asyncio.wait({lost, term}, return_when=asyncio.FIRST_COMPLETED)
            if term in done:
                lost.cancel()
                self._log("hudson.remoting.jnlp.Main$CuiListener status", "INFO", "Terminated")
                return 143
            term.cancel()
            self._log("hudson.remoting.jnlp.Main$CuiListener status", "INFO",
                      "Terminated: connection closed by the controller; reconnecting")
            ctx.agent_state("disconnected", 0)

    async def _sleep_or_term(self, delay):
        try:
            await asyncio.wait_for(self.ctx.sigterm.wait(), delay)
            return True
        except asyncio.TimeoutError:
            return False

    def _log(self, where, level, text):
        logger, method = where.split(" ")
        self.ctx.log(_jul(logger, method, level, text), "stderr")

    async def _close(self):
        """Close the connection to the controller (a WebSocket says goodbye first)."""
        if self.writer:
            if self.websocket:
                try:
                    self.writer.write(ws.frame(ws.CLOSE, ws.close_payload(1000), mask=True))
                except (OSError, RuntimeError):
                    pass
            self.writer.close()
            self.writer = None

    async def _connect(self):
        """One attempt; returns a future that completes when the connection is lost."""
        try:
            return await self._attempt()
        except ValueError as exc:
            raise Refused("java.lang.NumberFormatException: %s" % exc) from None

    async def _attempt(self):
        if self.websocket:
            return await self._connect_ws()
        if self.direct:
            host, _, port = self.direct.rpartition(":")
            return await self._connect_tcp(host or self.host, int(port))
        self._log("hudson.remoting.jnlp.Main$CuiListener status", "INFO", "Locating server among [%s]" % self.url)
        status, headers, body = await self._get("tcpSlaveAgentListener/")
        if status != 200 or "x-jenkins-jnlp-port" not in headers:
            raise Refused("%stcpSlaveAgentListener/ is invalid: %d %s" % (self.url, status,
                                                                         body.decode("utf-8", "replace").strip()))
        host = headers.get("x-jenkins-jnlp-host") or self.host
        port = headers["x-jenkins-jnlp-port"]
        if self.tunnel:
            thost, _, tport = self.tunnel.rpartition(":")
            host, port = thost or host, tport or port
        self._log("hudson.remoting.jnlp.Main$CuiListener status", "INFO",
                  "Agent discovery successful\n  Agent address: %s\n  Agent port:    %s" % (host, port))
        return await self._connect_tcp(host, int(port))

    async def _get(self, path, extra=(), keep=False):
        reader, writer = await _open(self.host, self.port, self.tls, self.connect_timeout)
        lines = ["GET %s%s HTTP/1.1" % (self.base, path), "Host: %s:%d" % (self.host, self.port),
                 "User-Agent: kubesim-remoting/" + REMOTING_VERSION]
        lines += ["%s: %s" % h for h in extra]
        if not keep:
            lines.append("Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, headers = await _read_head(reader, 5.0)
        if keep and status == 101:
            return status, headers, (reader, writer)
        body = await _read_body(reader, headers, 5.0)
        writer.close()
        return status, headers, body

    async def _connect_ws(self):
        status, _, _ = await self._get("login")
        if status != 200:
            raise Refused("Failed to connect to %slogin: HTTP %d" % (self.url, status))
        key = base64.b64encode(os.urandom(16)).decode()
        status, headers, rest = await self._get("wsagents/", (
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"), ("Node-Name", self.name), ("Secret-Key", self.secret),
            ("X-Remoting-Capability", base64.b64encode(b"kubesim-capability").decode())), keep=True)
        if status != 101:
            raise Refused("Failed to connect to %swsagents/: HTTP %d %s"
                          % (self.url, status, rest.decode("utf-8", "replace").strip()))
        reader, writer = rest
        if headers.get("sec-websocket-accept") != ws.accept_key(key):
            writer.close()
            raise Refused("Failed to connect to %swsagents/: bad Sec-WebSocket-Accept" % self.url)
        self.writer = writer
        return asyncio.ensure_future(self._ws_pump(reader, writer))

    async def _ws_pump(self, reader, writer):
        parser = ws.Parser(expect_masked=False)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                for _, opcode, payload in parser.feed(data):
                    if opcode == ws.PING:
                        writer.write(ws.frame(ws.PONG, payload, mask=True))
                    elif opcode == ws.CLOSE:
                        writer.write(ws.frame(ws.CLOSE, payload[:2], mask=True))
                        return
        except (ws.ProtocolError, OSError):
            return
        finally:
            writer.close()
            self.writer = None

    async def _connect_tcp(self, host, port):
        self._log("hudson.remoting.jnlp.Main$CuiListener status", "INFO", "Connecting to %s:%d" % (host, port))
        reader, writer = await _open(host, port, False, self.connect_timeout)
        writer.write(("JNLP4-connect-sim %s %s\n" % (self.name, self.secret)).encode())
        try:
            answer = await asyncio.wait_for(reader.readline(), 5.0)
        except (asyncio.TimeoutError, OSError):
            answer = b""
        if answer != b"OK\n":
            writer.close()
            text = answer.decode("utf-8", "replace").strip() or "connection closed"
            raise Refused("The server rejected the connection: %s" % text)
        self.writer = writer
        return asyncio.ensure_future(self._tcp_pump(reader, writer))

    async def _tcp_pump(self, reader, writer):
        try:
            while await reader.read(4096):
                pass
        except OSError:
            pass
        finally:
            writer.close()
            self.writer = None

