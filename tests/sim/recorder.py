"""core/v1 Events as the scheduler and kubelet record them.

A repeated event (same object, reason, message, source) is aggregated like
client-go's event correlator: ``count`` grows and ``lastTimestamp`` moves, which
shows up as MODIFIED on an events watch.  The oldest events are dropped beyond
``cap`` (the real API server expires them after an hour).
"""

import collections
import secrets
import time
import uuid

from kstatus import rfc3339


class Recorder:
    def __init__(self, store, cap=20000):
        self.store = store
        self.cap = cap
        self.index = {}
        self.order = collections.deque()

    def record(self, pod, type_, reason, message, component="kubelet", host="", field_path=""):
        meta = pod["metadata"]
        ns = meta["namespace"]
        key = (meta["uid"], reason, message, component, field_path)
        existing = self.index.get(key)
        now = rfc3339()
        if existing and self.store.get("events", ns, existing):
            def bump(ev):
                ev["count"] = ev.get("count", 1) + 1
                ev["lastTimestamp"] = now
            self.store.mutate("events", ns, existing, bump)
            return
        name = "%s.%x" % (meta["name"], time.time_ns() + secrets.randbits(16))
        involved = {"kind": "Pod", "namespace": ns, "name": meta["name"], "uid": meta["uid"],
                    "apiVersion": "v1", "resourceVersion": meta.get("resourceVersion", "")}
        if field_path:
            involved["fieldPath"] = field_path
        source = {"component": component}
        if host:
            source["host"] = host
        self.store.create("events", {
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "uid": str(uuid.uuid4()), "creationTimestamp": now},
            "involvedObject": involved, "reason": reason, "message": message, "source": source,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": type_,
            "eventTime": None, "reportingComponent": component, "reportingInstance": host})
        self.index[key] = name
        self.order.append((ns, name, key))
        while len(self.order) > self.cap:
            old_ns, old_name, old_key = self.order.popleft()
            self.index.pop(old_key, None)
            self.store.remove("events", old_ns, old_name)
