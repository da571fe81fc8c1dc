"""Request statistics and fault injection shared by the API and the admin server.

``Stats`` counts requests by ``"METHOD /path/{template} CODE"`` and by
Kubernetes verb, and tracks open watches.  ``Faults`` holds rules added with
admin ``POST /faults``; the API consults ``take(req)`` before serving anything.
"""

import collections
import itertools


class Stats:
    def __init__(self):
        self.reset()
        self.open_watches = 0

    def reset(self):
        self.requests = collections.Counter()
        self.verbs = collections.Counter()
        self.total = 0

    def count(self, method, template, code, verb=None):
        self.total += 1
        self.requests["%s %s %d" % (method, template, code)] += 1
        if verb:
            self.verbs[verb] += 1

    def snapshot(self):
        return {"total": self.total, "openWatches": self.open_watches,
                "requests": dict(sorted(self.requests.items())), "verbs": dict(sorted(self.verbs.items()))}


class Fault:
    """One rule: ``match`` (``verb`` = HTTP method, ``path`` exact, ``pathPrefix``,
    ``query`` substring, ``watch`` bool) and an effect: ``status`` (+``retryAfter``,
    ``message``), ``latencyMs`` and/or ``close`` (drop the connection).  ``count``
    limits how many requests it hits (default: unlimited)."""

    ids = itertools.count(1)

    def __init__(self, spec):
        self.id = next(self.ids)
        match = spec.get("match") or {}
        self.method = match.get("verb")
        self.path = match.get("path")
        self.prefix = match.get("pathPrefix")
        self.query = match.get("query")
        self.watch = match.get("watch")
        self.status = spec.get("status")
        self.retry_after = spec.get("retryAfter")
        self.message = spec.get("message")
        self.latency = (spec.get("latencyMs") or 0) / 1000.0
        self.close = bool(spec.get("close"))
        self.remaining = spec.get("count", -1)
        self.hits = 0
        if self.status is not None and not 400 <= int(self.status) <= 599:
            raise ValueError("status must be 4xx or 5xx")
        self.spec = spec

    def matches(self, req):
        if self.method and req.method != self.method.upper():
            return False
        if self.path and req.path != self.path:
            return False
        if self.prefix and not req.path.startswith(self.prefix):
            return False
        if self.query and self.query not in req.raw_query:
            return False
        if self.watch is not None:
            is_watch = "watch=" in req.raw_query and not any(
                x in req.raw_query for x in ("watch=false", "watch=0"))
            if bool(self.watch) != is_watch:
                return False
        return True

    def view(self):
        return dict(self.spec, id=self.id, hits=self.hits, remaining=self.remaining)


class Faults:
    def __init__(self):
        self.rules = []

    def add(self, spec):
        fault = Fault(spec)
        self.rules.append(fault)
        return fault

    def clear(self):
        self.rules = []

    def take(self, req):
        """The first rule matching ``req`` (its counter is consumed), or None."""
        for fault in self.rules:
            if fault.remaining != 0 and fault.matches(req):
                fault.hits += 1
                if fault.remaining > 0:
                    fault.remaining -= 1
                return fault
        return None
