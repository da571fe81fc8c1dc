#!/usr/bin/env python3
"""TAP tests of simhttp, the HTTP/1.1 server core shared by the simulators.

Runs a server in-process on a free loopback port with one handler of each
kind (plain, awaitable, chunked stream, upgrade) and talks to it over raw
sockets.
"""

import asyncio
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import simhttp  # noqa: E402

RESULTS = []


def check(name, fn):
    try:
        fn()
        RESULTS.append((True, name, ""))
    except Exception as exc:  # reported as "not ok", the run goes on
        RESULTS.append((False, name, "%s: %s" % (type(exc).__name__, exc)))


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def handler(req):
    if req.path == "/plain":
        return simhttp.Response(200, b"hello " + req.arg("who", "world").encode(), content_type="text/plain")
    if req.path == "/echo":
        return simhttp.Response(200, req.body, content_type="application/octet-stream")
    if req.path == "/slow":
        async def later():
            await asyncio.sleep(0.05)
            return simhttp.Response(202, b"late")
        return later()
    if req.path == "/stream":
        async def produce(out):
            for i in range(3):
                out.write(b"line %d\n" % i)
                await out.drain()
        return simhttp.Stream(200, produce, content_type="text/plain")
    if req.path == "/upgrade" and req.is_upgrade():
        async def echo(raw):
            while True:
                data = await raw.read()
                if not data:
                    return
                raw.write(data.upper())
        return simhttp.Upgrade(echo, headers=[("Upgrade", "shout"), ("Connection", "Upgrade")])
    if req.path == "/boom":
        raise RuntimeError("handler bug")
    return simhttp.Response(404, b"nope", content_type="text/plain")


class ServerThread:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        limits = simhttp.Limits(max_header=4096, max_body=1024, idle_timeout=5, request_timeout=0.5)
        self.server = simhttp.Server(handler, limits=limits)
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.port = self.loop.run_until_complete(self.server.listen("127.0.0.1", 0))
            ready.set()
            self.loop.run_forever()
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def exchange(port, data, until=b"", timeout=3):
    """Send ``data``; read until ``until`` appears or the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    got = b""
    try:
        while not (until and until in got):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    return got


def main():
    srv = ServerThread()
    p = srv.port

    def plain():
        got = exchange(p, b"GET /plain?who=a+b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        expect(got.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 9\r\n" in got
               and got.endswith(b"hello a b") and b"Connection: close" in got, got)
    check("plain response; '+' in a query is a space", plain)

    def keepalive():
        req = b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
        got = exchange(p, req * 3 + b"GET /slow HTTP/1.1\r\n\r\n", until=b"late")
        expect(got.count(b"hello world") == 3 and got.endswith(b"late") and b"202 Accepted" in got, got)
    check("keep-alive, pipelining, awaitable handler keeps order", keepalive)

    def body():
        got = exchange(p, b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde")
        expect(got.endswith(b"abcde"), got)
        got = exchange(p, b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                          b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        expect(got.endswith(b"abcde"), got)
        got = exchange(p, b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
                          b"Connection: close\r\n\r\n", until=b"100 Continue")
        expect(got.startswith(b"HTTP/1.1 100 Continue"), got)
    check("bodies: Content-Length, chunked, Expect: 100-continue", body)

    def stream():
        got = exchange(p, b"GET /stream HTTP/1.1\r\nConnection: close\r\n\r\n")
        expect(b"Transfer-Encoding: chunked" in got and got.endswith(b"7\r\nline 2\n\r\n0\r\n\r\n"), got)
    check("chunked stream ends with the terminating chunk", stream)

    def upgrade():
        s = socket.create_connection(("127.0.0.1", p), timeout=3)
        s.sendall(b"GET /upgrade HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\nearly")
        got = b""
        while b"EARLY" not in got:
            got += s.recv(4096)
        s.sendall(b"more")
        got += s.recv(4096)
        s.close()
        expect(got.startswith(b"HTTP/1.1 101 Switching Protocols") and got.endswith(b"EARLYMORE"), got)
    check("upgrade hands over the raw connection, buffered bytes first", upgrade)

    def limits():
        got = exchange(p, b"POST /echo HTTP/1.1\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000)
        expect(got.startswith(b"HTTP/1.1 413"), got)
        got = exchange(p, b"GET /plain HTTP/1.1\r\nX: " + b"a" * 5000 + b"\r\n\r\n")
        expect(got.startswith(b"HTTP/1.1 431"), got)
        got = exchange(p, b"NOT HTTP\r\n\r\n")
        expect(got.startswith(b"HTTP/1.1 400 Bad Request") and got.endswith(b"400 Bad Request"), got)
        started = time.time()
        got = exchange(p, b"GET /plain HTTP/1.1\r\nHost:")
        expect(got == b"" and time.time() - started < 2, "slow request not cut: %r" % got)
        got = exchange(p, b"GET /boom HTTP/1.1\r\nConnection: close\r\n\r\n")
        expect(got.startswith(b"HTTP/1.1 500"), got)
    check("limits: 413 body, 431 headers, 400 malformed, request timeout, 500 on handler bug", limits)

    srv.stop()
    print("1..%d" % len(RESULTS))
    for i, (ok, name, diag) in enumerate(RESULTS, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
        if diag:
            print("# " + diag)
    return 0 if all(ok for ok, _, _ in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
