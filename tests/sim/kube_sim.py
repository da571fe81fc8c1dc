#!/usr/bin/env python3
"""kubesim: a Kubernetes API server simulator for kubeagent's tests.

    python3 tests/sim/kube_sim.py --dir STATEDIR [--host 127.0.0.1] [--port 0]
        [--admin-port 0] [--kubelet-delay-ms N] [--history N] [--seed N] [--verbose]

Generates credentials and kubeconfigs in STATEDIR, serves the API over HTTPS
and the admin API over HTTP, writes STATEDIR/ready.json and prints
``READY <api-port> <admin-port>``.  SIGTERM/SIGINT stop it cleanly.
Documentation: tests/sim/README.md.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import execws  # noqa: E402
import pki  # noqa: E402
import simhttp  # noqa: E402
from admin import Admin  # noqa: E402
from api import Api, Settings  # noqa: E402
from auth import Auth, _atomic_write  # noqa: E402
from control import Faults, Stats  # noqa: E402
from kubelet import Config, Kubelet  # noqa: E402
from recorder import Recorder  # noqa: E402
from store import Store  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description="Kubernetes API simulator")
    p.add_argument("--dir", required=True, help="state directory (created if missing)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="API port (0 = any free port)")
    p.add_argument("--admin-port", type=int, default=0, help="admin port (0 = any free port)")
    p.add_argument("--kubelet-delay-ms", type=int, default=20, help="delay of each kubelet step")
    p.add_argument("--history", type=int, default=5000, help="watch events kept for resuming watches")
    p.add_argument("--seed", type=int, default=None, help="seed for generated names and node choice")
    p.add_argument("--verbose", action="store_true", help="log one line per request to stderr")
    return p.parse_args(argv)


class Sim:
    """Wires the parts together; the admin API reaches everything through it."""

    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.dir)
        os.makedirs(self.dir, exist_ok=True)
        pki.ensure_pki(self.dir)
        rng = random.Random(args.seed)
        self.store = Store(("pods", "events", "persistentvolumeclaims", "namespaces", "nodes"), args.history)
        self.auth = Auth(self.dir)
        self.stats = Stats()
        self.faults = Faults()
        self.kubelet = Kubelet(self.store, Recorder(self.store), Config(delay=args.kubelet_delay_ms / 1000.0), rng)
        log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
        self.api = Api(self.store, self.auth, self.kubelet, self.stats, self.faults, Settings(), rng)
        self.api.exec_settings = execws.Settings()
        self.api.upgrade_handlers["exec"] = execws.handler
        self.api_server = simhttp.Server(self.api.handle, too_large=self.api.too_large,
                                         internal_error=self.api.internal_error, log_line=log)
        self.admin_server = simhttp.Server(Admin(self).handle, log_line=log)

    def tls_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(self.dir, "server.crt"), os.path.join(self.dir, "server.key"))
        ctx.load_verify_locations(os.path.join(self.dir, "ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    async def run(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        port = await self.api_server.listen(self.args.host, self.args.port, self.tls_context())
        admin_port = await self.admin_server.listen("127.0.0.1", self.args.admin_port)
        self.api.port = port
        pki.write_client_files(self.dir, port, self.auth)
        _atomic_write(os.path.join(self.dir, "ready.json"), json.dumps({
            "api": "https://%s:%d" % (self.args.host, port), "admin": "http://127.0.0.1:%d" % admin_port,
            "pid": os.getpid(), "dir": self.dir}) + "\n", 0o644)
        print("READY %d %d" % (port, admin_port), flush=True)
        await stop.wait()
        await self.api_server.close()
        await self.admin_server.close()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        sim = Sim(args)
    except (RuntimeError, OSError) as exc:
        print("kube_sim: %s" % exc, file=sys.stderr)
        return 1
    asyncio.run(sim.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
