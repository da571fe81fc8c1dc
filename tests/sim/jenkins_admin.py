"""The Jenkins simulator's admin API (plain HTTP, loopback only, JSON).

Tests use it to queue builds, add static nodes and users, cut agent
connections, restart the controller, inject faults and read statistics.
See tests/sim/README.md, "Jenkins simulator", for every endpoint.
"""

import asyncio
import json
import secrets

import jenkins_model as M
from jenkins_labels import LabelSyntaxError, check_good_name
from kstatus import dumps
from simhttp import Response


def _ok(doc=None, status=200):
    return Response(status, dumps(doc if doc is not None else {"ok": True}))


def _error(status, message):
    return Response(status, dumps({"error": message}))


class Admin:
    def __init__(self, sim):
        self.sim = sim
        self.routes = {
            ("GET", "/healthz"): lambda body: _ok({"ok": True, "phase": self.sim.phase()}),
            ("GET", "/stats"): lambda body: _ok(self.stats()),
            ("POST", "/reset-stats"): self.reset_stats,
            ("POST", "/builds"): self.queue_builds,
            ("GET", "/builds"): lambda body: _ok(self.builds()),
            ("GET", "/queue"): lambda body: _ok(self.queue()),
            ("GET", "/nodes"): lambda body: _ok(self.nodes()),
            ("POST", "/nodes"): self.add_node,
            ("POST", "/disconnect"): self.disconnect,
            ("POST", "/restart"): self.restart,
            ("POST", "/quiet-down"): self.quiet_down,
            ("POST", "/users"): self.add_user,
            ("POST", "/revoke-token"): self.revoke_token,
            ("GET", "/faults"): lambda body: _ok([f.view() for f in self.sim.faults.rules]),
            ("POST", "/faults"): lambda body: _ok(self.sim.faults.add(body).view(), 201),
            ("DELETE", "/faults"): self.clear_faults,
            ("GET", "/events"): self.events,
            ("GET", "/config"): lambda body: _ok(self.config()),
            ("POST", "/config"): self.set_config,
        }

    def handle(self, req):
        route = self.routes.get((req.method, req.path))
        if route is None:
            return _error(404, "no such admin endpoint: %s %s" % (req.method, req.path))
        try:
            body = json.loads(req.body) if req.body.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            if req.method == "GET":
                body = dict(body, **{k: v[0] for k, v in req.query.items()})
            return route(body)
        except (ValueError, KeyError, TypeError, LabelSyntaxError) as exc:
            return _error(400, "%s: %s" % (type(exc).__name__, exc))

    # --- statistics ---------------------------------------------------------------------
    def stats(self):
        ctl = self.sim.ctl
        comps = [c for n, c in ctl.computers.items() if n]
        doc = self.sim.stats.snapshot()
        doc.pop("openWatches", None)
        doc.pop("verbs", None)
        doc["builds"] = ctl.build_stats()
        doc["nodes"] = {"total": len(ctl.nodes), "online": sum(1 for c in comps if c.online()),
                        "connected": sum(1 for c in comps if c.channel is not None),
                        "temporarilyOffline": sum(1 for n in ctl.nodes.values() if n.temp_offline),
                        "created": ctl.counters["created"], "deleted": ctl.counters["deleted"]}
        doc["agents"] = dict(self.sim.agents.attempts)
        return doc

    def reset_stats(self, body):
        self.sim.stats.reset()
        return _ok()

    # --- builds and queue ------------------------------------------------------------------
    def queue_builds(self, body):
        count = int(body.pop("count", 1))
        out = []
        for i in range(count):
            spec = dict(body)
            if count > 1 and spec.get("kind", M.PIPELINE) == M.FREESTYLE and "params" not in spec:
                spec["params"] = {"N": str(i)}
            item, coalesced = self.sim.ctl.schedule(spec)
            out.append({"id": item.id, "coalesced": coalesced})
        return _ok({"items": out}, 201)

    def builds(self):
        out = []
        for job in self.sim.ctl.jobs.values():
            for r in sorted(job.runs.values(), key=lambda r: r.number):
                out.append({"job": job.full_name, "kind": job.kind, "number": r.number, "url": r.url(),
                            "queueId": r.queue_id, "building": r.building, "result": r.result,
                            "builtOn": r.built_on if job.kind == M.FREESTYLE else
                            (r.block.node_name if r.block else None),
                            "started": r.started, "finished": r.finished})
        return out

    def queue(self):
        ctl = self.sim.ctl
        return [{"id": i.id, "state": i.state, "why": ctl.why(i, "en"), "job": i.task_job().full_name,
                 "label": i.label.expression() if i.label else None, "stuck": ctl.stuck(i),
                 "block": isinstance(i.task, M.Block)} for i in ctl.queue_items()]

    # --- nodes ------------------------------------------------------------------------------
    def nodes(self):
        ctl = self.sim.ctl
        out = []
        for name in sorted(ctl.nodes):
            n = ctl.nodes[name]
            c = ctl.computers.get(name)
            out.append({"name": name, "labels": n.label_string, "mode": n.mode, "numExecutors": n.num_executors,
                        "remoteFS": n.remote_fs, "description": n.description, "retention": n.retention,
                        "webSocket": bool(n.launcher.get("webSocket")), "tunnel": n.launcher.get("tunnel"),
                        "connected": c.channel.kind if c is not None and c.channel is not None else None,
                        "online": bool(c and c.online()), "idle": bool(c and c.idle()),
                        "temporarilyOffline": n.temp_offline is not None,
                        "offlineCauseReason": M.offline_cause_reason(c.offline_cause()) if c else ""})
        return out

    def add_node(self, body):
        name = body["name"]
        problem = check_good_name(name)
        if problem or name in self.sim.ctl.nodes:
            raise ValueError(problem or "node %s exists" % name)
        launcher = {"class": M.JNLP_LAUNCHER, "webSocket": bool(body.get("webSocket"))}
        node = M.Node(name, body.get("description", ""), int(body.get("executors", 1)),
                      body.get("remoteFS", "/home/jenkins/agent"), body.get("labels", ""),
                      body.get("mode", "NORMAL"), launcher)
        if body.get("mode", "NORMAL") not in ("NORMAL", "EXCLUSIVE"):
            raise ValueError("mode must be NORMAL or EXCLUSIVE")
        self.sim.ctl.add_node(node)
        return _ok({"name": name, "secret": self.sim.ctl.secret_of(name)}, 201)

    def disconnect(self, body):
        ch = self.sim.agents.channels.get(body["node"])
        if ch is None:
            return _error(404, "%s is not connected" % body["node"])
        ch.close("disconnected by the admin API")
        self.sim.agents._detach(ch)
        return _ok()

    # --- controller --------------------------------------------------------------------------
    def restart(self, body):
        settings = self.sim.ctl.settings
        down = float(body.get("downMs", settings.restart_down * 1000)) / 1000.0
        loading = float(body.get("loadingMs", settings.restart_loading * 1000)) / 1000.0
        if self.sim.restarting:
            return _error(409, "already restarting")
        self.sim.restarting = True
        asyncio.ensure_future(self.sim.restart(down, loading))
        return _ok({"phase": self.sim.phase()}, 202)

    def quiet_down(self, body):
        self.sim.ctl.quieting_down = bool(body.get("on", True))
        self.sim.ctl.schedule_maintain()
        return _ok()

    def add_user(self, body):
        name = body["name"]
        perms = body.get("permissions", [])
        unknown = [p for p in perms if p not in M.KNOWN_PERMISSIONS]
        if unknown:
            raise ValueError("unknown permissions: %s" % ", ".join(unknown))
        token = "11" + secrets.token_hex(16)
        password = secrets.token_hex(8)
        self.sim.ctl.users[name] = M.User(name, perms, password, [token])
        return _ok({"name": name, "token": token, "password": password}, 201)

    def revoke_token(self, body):
        user = self.sim.ctl.users[body["user"]]
        token = "11" + secrets.token_hex(16)
        user.tokens = [token]
        self.sim.write_credentials()
        return _ok({"user": user.name, "length": len(token)})

    def clear_faults(self, body):
        self.sim.faults.clear()
        return _ok()

    def events(self, body):
        since = int(body.get("since", 0))
        return _ok([e for e in self.sim.events if e["seq"] > since])

    KNOBS = {"maintainMs": "maintain", "resumeTimeoutMs": "resume_timeout",
             "nodeRemovedTimeoutMs": "node_removed_timeout", "leftItemTtlMs": "left_item_ttl",
             "restartDownMs": "restart_down", "restartLoadingMs": "restart_loading"}

    def config(self):
        s = self.sim.ctl.settings
        doc = {k: int(getattr(s, a) * 1000) for k, a in self.KNOBS.items()}
        doc["builtInExecutors"] = self.sim.ctl.built_in.num_executors
        return doc

    def set_config(self, body):
        for key, value in body.items():
            if key == "builtInExecutors":
                self.sim.ctl.set_built_in_executors(int(value))
            elif key in self.KNOBS:
                setattr(self.sim.ctl.settings, self.KNOBS[key], float(value) / 1000.0)
            else:
                raise KeyError(key)
        return _ok(self.config())
