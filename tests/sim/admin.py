"""The admin API (plain HTTP, loopback only, JSON): fault injection and control for tests.

See README.md "Admin API" for the list of endpoints and bodies.
"""

import asyncio
import json

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
            ("GET", "/healthz"): lambda body: _ok(),
            ("GET", "/stats"): lambda body: _ok(self.sim.stats.snapshot()),
            ("POST", "/reset-stats"): self.reset_stats,
            ("GET", "/faults"): lambda body: _ok([f.view() for f in self.sim.faults.rules]),
            ("POST", "/faults"): self.add_fault,
            ("DELETE", "/faults"): self.clear_faults,
            ("POST", "/drop-watches"): self.drop_watches,
            ("POST", "/restart"): self.restart,
            ("POST", "/compact"): self.compact,
            ("POST", "/rotate-token"): self.rotate_token,
            ("POST", "/evict"): self.evict,
            ("POST", "/secrets"): self.put_config_object,
            ("DELETE", "/secrets"): self.delete_config_object,
            ("POST", "/rbac"): self.grant,
            ("GET", "/pods"): self.pods,
            ("GET", "/agents"): self.agents,
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
            return route(body)
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, "%s: %s" % (type(exc).__name__, exc))

    def reset_stats(self, body):
        self.sim.stats.reset()
        return _ok()

    def add_fault(self, body):
        return _ok(self.sim.faults.add(body).view(), 201)

    def clear_faults(self, body):
        self.sim.faults.clear()
        return _ok()

    def drop_watches(self, body):
        watchers = self.sim.store.all_watchers()
        for w in watchers:
            w.drop()
        return _ok({"dropped": len(watchers)})

    def restart(self, body):
        """Simulated API-server restart: history forgotten, watches cut, optionally all connections."""
        self.sim.store.compact()
        for w in self.sim.store.all_watchers():
            w.drop()
        if body.get("dropConnections"):
            asyncio.get_running_loop().call_soon(self.sim.api_server.abort_all)
        return _ok({"resourceVersion": str(self.sim.store.rv)})

    def compact(self, body):
        self.sim.store.compact()
        return _ok({"resourceVersion": str(self.sim.store.rv)})

    def rotate_token(self, body):
        token = self.sim.auth.rotate(body["name"], float(body.get("graceMs", 0)) / 1000.0)
        return _ok({"name": body["name"], "length": len(token)})

    def evict(self, body):
        ns, name = body.get("namespace", "ci"), body["name"]
        rec = self.sim.store.get("pods", ns, name)
        if rec is None:
            return _error(404, "pod %s/%s not found" % (ns, name))
        if body.get("api"):
            self.sim.kubelet.mark_disruption(rec.obj, "EvictionByEvictionAPI", "Eviction API: evicting")
            self.sim.api.delete_pod(self.sim.store.get("pods", ns, name), body.get("gracePeriodSeconds"))
            return _ok()
        containers = [c["name"] for c in rec.obj["spec"]["containers"]]
        message = body.get("message") or (
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 9Gi. "
            "Container %s was using 12Gi, request is 0, has larger consumption of ephemeral-storage. "
            % containers[0])
        if not self.sim.kubelet.evict(rec.obj, message):
            return _error(409, "pod is not running on a node")
        return _ok()

    def put_config_object(self, body):
        kind = {"Secret": "secret", "ConfigMap": "configMap"}[body.get("kind", "Secret")]
        data = {str(k): str(v) for k, v in (body.get("data") or {}).items()}
        self.sim.kubelet.config_objects[(kind, body.get("namespace", "ci"), body["name"])] = data
        return _ok(None, 201)

    def delete_config_object(self, body):
        kind = {"Secret": "secret", "ConfigMap": "configMap"}[body.get("kind", "Secret")]
        self.sim.kubelet.config_objects.pop((kind, body.get("namespace", "ci"), body["name"]), None)
        return _ok()

    def grant(self, body):
        subject = ("group", body["group"]) if body.get("group") else ("user", body["user"])
        self.sim.auth.grant(subject, body.get("namespace"), body.get("apiGroup", ""),
                            body["resources"], body["verbs"], body.get("resourceNames"))
        return _ok(None, 201)

    def pods(self, body):
        return Response(200, b"[" + b",".join(rec.raw for rec in self.sim.store.list("pods")) + b"]")

    def agents(self, body):
        return _ok([dict(namespace=k[0], pod=k[1], container=k[2], **v)
                    for k, v in sorted(self.sim.kubelet.agents.items())])

    KNOBS = {"kubeletDelayMs": ("kubelet", "delay"), "backoffUnitMs": ("kubelet", "backoff_unit"),
             "graceCapMs": ("kubelet", "grace_cap"), "agentRetryDelayMs": ("kubelet", "agent_retry_delay"),
             "bookmarkIntervalMs": ("api", "bookmark_interval"), "continueTtlMs": ("api", "continue_ttl"),
             "tooLargeWaitMs": ("api", "too_large_wait")}

    def _target(self, which):
        return self.sim.kubelet.config if which == "kubelet" else self.sim.api.settings

    EXEC_PROTOCOLS = ("v5,v4", "v5", "v4")

    def config(self):
        doc = {k: int(getattr(self._target(w), a) * 1000) for k, (w, a) in self.KNOBS.items()}
        doc["agentAttempts"] = self.sim.kubelet.config.agent_attempts
        ex = self.sim.api.exec_settings
        doc.update(execProtocols=ex.protocols, execMessageBytes=ex.message_bytes,
                   execFragmentBytes=ex.fragment_bytes, execCloseWaitMs=int(ex.close_wait * 1000))
        return doc

    def set_config(self, body):
        ex = self.sim.api.exec_settings
        for key, value in body.items():
            if key == "agentAttempts":
                self.sim.kubelet.config.agent_attempts = int(value)
            elif key == "execProtocols":
                if value not in self.EXEC_PROTOCOLS:
                    raise ValueError("execProtocols must be one of %s" % ", ".join(self.EXEC_PROTOCOLS))
                ex.protocols = value
            elif key == "execMessageBytes":
                ex.message_bytes = max(1, int(value))
            elif key == "execFragmentBytes":
                ex.fragment_bytes = max(0, int(value))
            elif key == "execCloseWaitMs":
                ex.close_wait = float(value) / 1000.0
            elif key in self.KNOBS:
                which, attr = self.KNOBS[key]
                setattr(self._target(which), attr, float(value) / 1000.0)
            else:
                raise KeyError(key)
        return _ok(self.config())
