"""Object storage with one global resourceVersion, a bounded event history and watchers.

Like etcd behind the API server: every write takes the next resourceVersion
(global across kinds), is kept in a history of ``history`` events, and is
offered to every open watcher of that kind.  The history also lets ``state_at``
rebuild the exact contents of a kind at an older resourceVersion, which is how
paged lists serve one consistent snapshot.  ``compact()`` forgets the history
(older versions then answer 410 Expired).

Objects are stored as ``Rec`` (the dict plus its JSON bytes, encoded once per
write) and must be treated as immutable: writers pass a new dict.
"""

import asyncio
import collections
import copy

from kstatus import dumps, gone


class Rec:
    __slots__ = ("obj", "raw", "rv")

    def __init__(self, obj, rv):
        obj["metadata"]["resourceVersion"] = str(rv)
        self.obj = obj
        self.rv = rv
        self.raw = dumps(obj)


class Event:
    __slots__ = ("rv", "kind", "key", "type", "rec", "old")

    def __init__(self, rv, kind, key, type_, rec, old):
        self.rv = rv
        self.kind = kind
        self.key = key
        self.type = type_
        self.rec = rec
        self.old = old


def key_of(obj):
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])


def with_rv(rec, rv):
    """A copy of ``rec`` carrying another resourceVersion."""
    obj = dict(rec.obj)
    obj["metadata"] = dict(obj["metadata"])
    return Rec(obj, rv)


class Watcher:
    """One open watch: receives matching events as ready-to-send lines.

    ``match(obj)`` decides selector membership; an object that stops matching
    is reported as DELETED (with its previous content), one that starts
    matching as ADDED, as the API server's watch cache does.  ``encode(type,
    rec)`` builds one line.  A watcher that falls more than ``max_backlog``
    events behind is closed, like a slow watcher in the real cacher."""

    max_backlog = 10000

    def __init__(self, store, kind, namespace, match, encode):
        self.store = store
        self.kind = kind
        self.namespace = namespace
        self.match = match
        self.encode = encode
        self.lines = collections.deque()
        self.wakeup = asyncio.Event()
        self.overflow = False
        self.dropped = False

    def _in_scope(self, key):
        return self.namespace is None or key[0] == self.namespace

    def offer(self, ev):
        if not self._in_scope(ev.key):
            return
        new_ok = ev.type != "DELETED" and self.match(ev.rec.obj)
        old_ok = ev.old is not None and self.match(ev.old.obj)
        if ev.type == "DELETED":
            line = self.encode("DELETED", ev.rec) if old_ok else None
        elif new_ok and old_ok:
            line = self.encode("MODIFIED", ev.rec)
        elif new_ok:
            line = self.encode("ADDED", ev.rec)
        elif old_ok:
            line = self.encode("DELETED", with_rv(ev.old, ev.rv))
        else:
            line = None
        if line is None:
            return
        if len(self.lines) >= self.max_backlog:
            self.overflow = True
        else:
            self.lines.append(line)
        self.wakeup.set()

    def drop(self):
        """Make the stream end abruptly (admin ``/drop-watches``)."""
        self.dropped = True
        self.wakeup.set()

    def close(self):
        self.store.watchers[self.kind].discard(self)


class Store:
    def __init__(self, kinds, history=5000, start_rv=1000):
        self.rv = start_rv
        self.objects = {kind: {} for kind in kinds}
        self.history = collections.deque()
        self.history_cap = max(1, history)
        self.floor = start_rv
        self.watchers = {kind: set() for kind in kinds}
        self.on_removed = []

    def next_rv(self):
        self.rv += 1
        return self.rv

    # --- reads -------------------------------------------------------------
    def get(self, kind, namespace, name):
        return self.objects[kind].get((namespace, name))

    def list(self, kind, namespace=None):
        items = self.objects[kind]
        keys = sorted(k for k in items if namespace is None or k[0] == namespace)
        return [items[k] for k in keys]

    def state_at(self, kind, rv):
        """``{key: Rec}`` of ``kind`` as it was at ``rv`` (raises 410 if forgotten)."""
        if rv < self.floor:
            raise gone("too old resource version: %d (%d)" % (rv, self.floor))
        state = dict(self.objects[kind])
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            if ev.kind != kind:
                continue
            if ev.old is None:
                state.pop(ev.key, None)
            else:
                state[ev.key] = ev.old
        return state

    def events_after(self, kind, rv):
        return [ev for ev in self.history if ev.rv > rv and ev.kind == kind]

    # --- writes ------------------------------------------------------------
    def _emit(self, kind, key, type_, rec, old):
        ev = Event(rec.rv, kind, key, type_, rec, old)
        self.history.append(ev)
        while len(self.history) > self.history_cap:
            self.floor = self.history.popleft().rv
        for w in list(self.watchers[kind]):
            w.offer(ev)

    def create(self, kind, obj):
        rec = Rec(obj, self.next_rv())
        key = key_of(obj)
        self.objects[kind][key] = rec
        self._emit(kind, key, "ADDED", rec, None)
        return rec

    def update(self, kind, obj):
        key = key_of(obj)
        old = self.objects[kind][key]
        rec = Rec(obj, self.next_rv())
        self.objects[kind][key] = rec
        self._emit(kind, key, "MODIFIED", rec, old)
        return rec

    def mutate(self, kind, namespace, name, fn, uid=None):
        """Apply ``fn(obj_copy)`` to the stored object and write it if ``fn``
        returns something other than False; returns the new Rec or None."""
        old = self.objects[kind].get((namespace, name))
        if old is None or (uid and old.obj["metadata"].get("uid") != uid):
            return None
        obj = copy.deepcopy(old.obj)
        if fn(obj) is False:
            return old
        return self.update(kind, obj)

    def remove(self, kind, namespace, name):
        key = (namespace, name)
        old = self.objects[kind].pop(key, None)
        if old is None:
            return None
        rec = with_rv(old, self.next_rv())
        self._emit(kind, key, "DELETED", rec, old)
        for fn in self.on_removed:
            fn(kind, rec.obj)
        return rec

    def compact(self):
        """Forget all history: watches and continue tokens from before now get 410."""
        self.history.clear()
        self.floor = self.rv

    # --- watch -------------------------------------------------------------
    def watch(self, kind, namespace, match, encode):
        w = Watcher(self, kind, namespace, match, encode)
        self.watchers[kind].add(w)
        return w

    def all_watchers(self):
        return [w for ws in self.watchers.values() for w in ws]
