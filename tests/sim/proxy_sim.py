#!/usr/bin/env python3
"""proxysim: a forward proxy for kubeagent's tests, counting what goes through it.

    python3 tests/sim/proxy_sim.py [--host 127.0.0.1] [--port 0] [--socks5]
        [--auth USER:PASS] [--map NAME=ADDRESS]...

HTTP mode (default) serves ``CONNECT host:port`` tunnels, as HTTPS clients
(kubectl, libcurl) use a proxy for an https:// server.  ``--socks5`` serves
SOCKS5 (RFC 1928) CONNECT instead, with an address, IPv4 or IPv6 target.
``--auth`` demands credentials: ``Proxy-Authorization: Basic`` (else 407 with
``Proxy-Authenticate``) or SOCKS5 username/password (RFC 1929; else the
method is refused).  ``--map`` makes the proxy reach NAME at ADDRESS, so a
test can use a host name that is not loopback (Go never proxies loopback
from the environment) and still land on a local server.

A plain ``GET /stats`` to the proxy port (in either mode) answers JSON:
``{"tunnels": {"host:port": n}, "refused": n, "failed": n}`` where host is
the target exactly as the client named it (a SOCKS5 client that resolves
names itself shows an address), ``refused`` counts missing or wrong
credentials and ``failed`` targets that could not be reached.
``POST /reset-stats`` answers the same and zeroes them.

Once listening it prints ``READY <port>``.  SIGTERM or SIGINT: exit 0.
Standard library only.  Documentation: tests/sim/README.md.
"""

import argparse
import asyncio
import base64
import ipaddress
import json
import signal
import socket
import struct
import sys

MAX_HEAD = 16 << 10


class Proxy:
    def __init__(self, args):
        self.socks5 = args.socks5
        self.auth = args.auth
        self.map = dict(m.split("=", 1) for m in args.map)
        self.tunnels = {}
        self.refused = 0
        self.failed = 0

    def stats(self):
        return {"tunnels": self.tunnels, "refused": self.refused, "failed": self.failed}

    async def serve(self, reader, writer):
        try:
            first = await reader.readexactly(1)
            if self.socks5 and first == b"\x05":
                await self.socks(reader, writer)
            else:
                await self.http(first, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def open(self, host, port):
        """Connect to the target; None when it cannot be reached."""
        try:
            return await asyncio.open_connection(self.map.get(host, host), port)
        except OSError:
            self.failed += 1
            return None

    def count(self, host, port):
        key = "%s:%d" % (("[%s]" % host) if ":" in host else host, port)
        self.tunnels[key] = self.tunnels.get(key, 0) + 1

    async def pipe(self, reader, writer, up_reader, up_writer):
        async def copy(src, dst):
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                try:
                    dst.write_eof()
                except (OSError, RuntimeError):
                    pass
        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        up_writer.close()

    # --- HTTP ----------------------------------------------------------------
    async def http(self, first, reader, writer):
        head = first + await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            raise ValueError("head too large")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if method in ("GET", "POST") and target in ("/stats", "/reset-stats"):
            body = json.dumps(self.stats())
            if target == "/reset-stats":
                self.tunnels, self.refused, self.failed = {}, 0, 0
            self.answer(writer, "200 OK", body, "application/json")
            return
        if method != "CONNECT":
            self.answer(writer, "405 Method Not Allowed", "proxysim only tunnels (CONNECT)\n")
            return
        if self.auth:
            given = headers.get("proxy-authorization", "")
            want = "Basic " + base64.b64encode(self.auth.encode()).decode()
            if given != want:
                self.refused += 1
                self.answer(writer, "407 Proxy Authentication Required", "proxy credentials required\n",
                            extra='Proxy-Authenticate: Basic realm="proxysim"\r\n')
                return
        host, _, port = target.rpartition(":")
        host = host[1:-1] if host.startswith("[") else host
        if not host or not port.isdigit():
            self.answer(writer, "400 Bad Request", "CONNECT needs host:port\n")
            return
        up = await self.open(host, int(port))
        if up is None:
            self.answer(writer, "502 Bad Gateway", "cannot reach %s\n" % target)
            return
        self.count(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await self.pipe(reader, writer, *up)

    @staticmethod
    def answer(writer, status, body, content_type="text/plain", extra=""):
        data = body.encode()
        writer.write(("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n"
                      % (status, content_type, len(data), extra)).encode() + data)

    # --- SOCKS5 --------------------------------------------------------------
    async def socks(self, reader, writer):
        (n,) = await reader.readexactly(1)
        methods = await reader.readexactly(n)
        want = 0x02 if self.auth else 0x00
        if want not in methods:
            self.refused += 1
            writer.write(b"\x05\xff")
            return
        writer.write(bytes([5, want]))
        if self.auth:
            ver, ulen = await reader.readexactly(2)
            user = await reader.readexactly(ulen)
            (plen,) = await reader.readexactly(1)
            password = await reader.readexactly(plen)
            if ver != 1 or (user + b":" + password).decode("latin-1") != self.auth:
                self.refused += 1
                writer.write(b"\x01\x01")
                return
            writer.write(b"\x01\x00")
        ver, cmd, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif atyp == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        elif atyp == 3:
            (hl,) = await reader.readexactly(1)
            host = (await reader.readexactly(hl)).decode("latin-1")
        else:
            writer.write(b"\x05\x08\x00\x01" + bytes(6))
            return
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if ver != 5 or cmd != 1:
            writer.write(b"\x05\x07\x00\x01" + bytes(6))
            return
        up = await self.open(host, port)
        if up is None:
            writer.write(b"\x05\x05\x00\x01" + bytes(6))
            return
        self.count(host, port)
        writer.write(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0))
        await writer.drain()
        await self.pipe(reader, writer, *up)


async def run(args):
    proxy = Proxy(args)
    server = await asyncio.start_server(proxy.serve, args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("READY %d" % server.sockets[0].getsockname()[1], flush=True)
    await stop.wait()
    server.close()


def main():
    p = argparse.ArgumentParser(description="forward proxy (HTTP CONNECT or SOCKS5) that counts tunnels")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--socks5", action="store_true", help="speak SOCKS5 instead of HTTP CONNECT")
    p.add_argument("--auth", help="USER:PASS the client must present")
    p.add_argument("--map", action="append", default=[], metavar="NAME=ADDRESS",
                   help="reach NAME at ADDRESS (repeatable)")
    asyncio.run(run(p.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
