#!/usr/bin/env python3
"""Load generator for the Kubernetes API simulator: GET of one pod over TLS keep-alive.

    python3 bench/kube_sim_bench.py [--connections 8] [--duration 5] [--processes 1]

Starts its own simulator in a temporary directory, creates one pod, then each
client process opens ``--connections`` keep-alive HTTPS connections (asyncio
streams) and sends ``GET /api/v1/namespaces/ci/pods/bench`` back to back for
``--duration`` seconds.  Prints requests per second and the status codes seen.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "..", "tests", "sim", "kube_sim.py")
PATH = "/api/v1/namespaces/ci/pods/bench"


async def _connection(port, cafile, token, until, counts):
    ctx = ssl.create_default_context(cafile=cafile)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1")
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nAccept: application/json\r\n\r\n"
               % (PATH, token)).encode()
    while time.monotonic() < until:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        start = head.find(b"Content-Length: ") + 16
        length = int(head[start:head.find(b"\r\n", start)])
        await reader.readexactly(length)
        counts[status] = counts.get(status, 0) + 1
    writer.close()


def _client(port, cafile, token, connections, duration, out):
    counts = {}
    until = time.monotonic() + duration

    async def main():
        await asyncio.gather(*(_connection(port, cafile, token, until, counts) for _ in range(connections)))
    asyncio.run(main())
    out.put(counts)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=8, help="keep-alive connections per client process")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of load")
    p.add_argument("--processes", type=int, default=1, help="client processes")
    args = p.parse_args()
    statedir = tempfile.mkdtemp(prefix="kubesim-bench-")
    sim = subprocess.Popen([sys.executable, SIM, "--dir", statedir, "--kubelet-delay-ms", "0"],
                           stdout=subprocess.PIPE, text=True)
    try:
        _, port, admin = sim.stdout.readline().split()
        port = int(port)
        cafile = os.path.join(statedir, "ca.crt")
        with open(os.path.join(statedir, "token-admin")) as f:
            token = f.read().strip()
        ctx = ssl.create_default_context(cafile=cafile)
        body = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench"},
                           "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}).encode()
        req = urllib.request.Request("https://127.0.0.1:%d/api/v1/namespaces/ci/pods" % port, data=body,
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
        urllib.request.urlopen(req, context=ctx).read()
        time.sleep(0.2)
        out = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=_client, args=(port, cafile, token, args.connections,
                                                                args.duration, out))
                 for _ in range(args.processes)]
        started = time.monotonic()
        for proc in procs:
            proc.start()
        totals = {}
        for _ in procs:
            for code, n in out.get().items():
                totals[code] = totals.get(code, 0) + n
        for proc in procs:
            proc.join()
        elapsed = time.monotonic() - started
        total = sum(totals.values())
        print("%d requests in %.1fs over %d connection(s) x %d process(es): %.0f requests/s; codes %s"
              % (total, elapsed, args.connections, args.processes, total / elapsed, totals))
    finally:
        sim.terminate()
        sim.wait(10)
        shutil.rmtree(statedir, ignore_errors=True)


if __name__ == "__main__":
    main()
