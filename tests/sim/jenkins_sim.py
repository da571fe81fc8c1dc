#!/usr/bin/env python3
"""jenkinssim: a Jenkins controller simulator for kubeagent's tests.

    python3 tests/sim/jenkins_sim.py --dir STATEDIR [--host 127.0.0.1] [--port 0]
        [--admin-port 0] [--agent-port 0] [--prefix /jenkins] [--tls]
        [--default-locale en] [--verbose]

Writes credentials into STATEDIR, serves the Jenkins HTTP interface (and the
inbound-agent TCP port), the admin API over loopback HTTP, writes
STATEDIR/ready.json and prints ``READY <port> <admin-port>``.  SIGTERM/SIGINT
stop it cleanly.  Documentation: tests/sim/README.md, "Jenkins simulator".
"""

import argparse
import asyncio
import json
import os
import secrets
import signal
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jenkins_model as M  # noqa: E402
import simhttp  # noqa: E402
from auth import _atomic_write  # noqa: E402
from control import Faults, Stats  # noqa: E402
from jenkins_admin import Admin  # noqa: E402
from jenkins_agents import Agents  # noqa: E402
from jenkins_api import Api  # noqa: E402

# The users every simulator has: name -> permissions.  Their API tokens and
# passwords are in STATEDIR/token-NAME and STATEDIR/password-NAME.
USERS = {
    "admin": [M.ADMINISTER],
    # what kubeagent needs (reference §1.4)
    "kubeagent": [M.READ, M.ITEM_READ, M.COMPUTER_CREATE, M.COMPUTER_CONNECT, M.COMPUTER_DISCONNECT,
                  M.COMPUTER_DELETE, M.COMPUTER_CONFIGURE],
    "reader": [M.READ, M.ITEM_READ],
}


def parse_args(argv):
    p = argparse.ArgumentParser(description="Jenkins controller simulator")
    p.add_argument("--dir", required=True, help="state directory (created if missing)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="HTTP port (0 = any free port)")
    p.add_argument("--admin-port", type=int, default=0, help="admin port (0 = any free port)")
    p.add_argument("--agent-port", type=int, default=0, help="inbound TCP agent port (0 = any, -1 = disabled)")
    p.add_argument("--prefix", default="", help="context path, e.g. /jenkins")
    p.add_argument("--tls", action="store_true", help="serve HTTPS with STATEDIR/ca.crt's server certificate")
    p.add_argument("--default-locale", default="en", choices=sorted(M.MESSAGES),
                   help="language of texts for requests without Accept-Language")
    p.add_argument("--verbose", action="store_true", help="log one line per request to stderr")
    return p.parse_args(argv)


def _load_or_make(path, make):
    try:
        with open(path) as f:
            value = f.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = make()
    _atomic_write(path, value + "\n")
    return value


class Sim:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.dir)
        os.makedirs(self.dir, exist_ok=True)
        key = bytes.fromhex(_load_or_make(os.path.join(self.dir, "secret.key"), lambda: secrets.token_hex(32)))
        users = []
        for name, perms in USERS.items():
            token = _load_or_make(os.path.join(self.dir, "token-" + name), lambda: "11" + secrets.token_hex(16))
            password = _load_or_make(os.path.join(self.dir, "password-" + name), lambda: secrets.token_hex(8))
            users.append(M.User(name, perms, password, [token]))
        self.ctl = M.Controller(key, users, args.default_locale)
        self.stats = Stats()
        self.faults = Faults()
        self.agents = Agents(self.ctl)
        prefix = "/" + args.prefix.strip("/") if args.prefix.strip("/") else ""
        self.api = Api(self.ctl, self.agents, self.stats, self.faults, prefix)
        self.prefix = prefix
        self.events = []
        self.seq = 0
        self.ctl.listeners.append(self._record)
        self.restarting = False
        log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
        self.api_server = simhttp.Server(self.api.handle, log_line=log)
        self.admin_server = simhttp.Server(Admin(self).handle, log_line=log)
        self.ssl = None
        if args.tls:
            import pki
            pki.ensure_server_pki(self.dir, "jenkinssim-ca", "jenkins")
            self.ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
            self.ssl.load_cert_chain(os.path.join(self.dir, "server.crt"), os.path.join(self.dir, "server.key"))
            self.ssl.set_alpn_protocols(["http/1.1"])
        self.port = self.agent_port = None
        self.listening = False

    def _record(self, event, kw):
        self.seq += 1
        self.events.append(dict(kw, seq=self.seq, event=event, time=time.time()))
        if len(self.events) > 20000:
            del self.events[:5000]

    def write_credentials(self):
        for user in self.ctl.users.values():
            if user.name in USERS:
                _atomic_write(os.path.join(self.dir, "token-" + user.name), user.tokens[0] + "\n")

    def phase(self):
        if self.restarting and not self.listening:
            return "down"
        return self.api.phase

    async def _listen(self):
        self.port = await self.api_server.listen(self.args.host, self.port or self.args.port, self.ssl)
        self.listening = True
        if self.args.agent_port >= 0:
            self.agent_port = await self.agents.listen_tcp(self.args.host, self.agent_port or self.args.agent_port)
            self.ctl.agent_port = self.agent_port

    async def restart(self, down, loading):
        """A controller restart (§10): down (connections refused) then loading (503)."""
        self.restarting = True
        self._record("restart", {})
        try:
            self.ctl.restart_state()
            self.agents.close_all("Jenkins is restarting")
            self.api.new_sessions()
            self.listening = False
            await self.api_server.close()
            await self.agents.stop_tcp()
            await asyncio.sleep(down)
            self.api.phase = "loading"
            await self._listen()
            await asyncio.sleep(loading)
            self.api.phase = "up"
            self.ctl.schedule_maintain()
            self._record("started", {"session": self.ctl.session_hash})
        finally:
            self.restarting = False

    async def run(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self._listen()
        admin_port = await self.admin_server.listen("127.0.0.1", self.args.admin_port)
        scheme = "https" if self.ssl else "http"
        self.ctl.url = "%s://%s:%d%s/" % (scheme, self.args.host, self.port, self.prefix)
        self.ctl.start()
        _atomic_write(os.path.join(self.dir, "ready.json"), json.dumps({
            "url": self.ctl.url, "admin": "http://127.0.0.1:%d" % admin_port,
            "agentPort": self.ctl.agent_port, "pid": os.getpid(), "dir": self.dir}) + "\n", 0o644)
        print("READY %d %d" % (self.port, admin_port), flush=True)
        await stop.wait()
        self.agents.close_all("Jenkins is shutting down")
        await self.api_server.close()
        await self.agents.stop_tcp()
        await self.admin_server.close()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        sim = Sim(args)
    except (RuntimeError, OSError, ValueError) as exc:
        print("jenkins_sim: %s" % exc, file=sys.stderr)
        return 1
    asyncio.run(sim.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
