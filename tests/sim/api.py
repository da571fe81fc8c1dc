"""The Kubernetes REST API: routing, authn/authz, pods, PVCs, events, watch, logs, reviews.

Order per request, as in kube-apiserver: fault injection (test hook) →
authentication (401) → routing (404 for unknown paths) → RBAC (403) →
the resource handler.  Every error is a ``Status`` body (``kstatus.ApiError``).

``upgrade_handlers`` maps a pod subresource (``exec``, ``attach``,
``portforward``) to ``fn(api, req, pod, container) -> simhttp.Upgrade`` for
WebSocket upgrade requests; without a handler, and for every non-upgrade
request, the answer is the real server's 400 ``Upgrade request required``.
A WebSocket upgrade (GET) needs ``create`` on the subresource besides ``get``,
as with 1.35's AuthorizePodWebsocketUpgradeCreatePermission.
"""

import asyncio
import base64
import json
import random
import time
import uuid

import discovery
import kproto
import patch as patching
import podspec
from kstatus import (ApiError, already_exists, bad_request, conflict, dumps, gone, invalid, not_found,
                     parse_rfc3339, rfc3339, rfc3339nano, status_body, too_large_rv, unauthorized, FieldError)
from kselectors import parse_fields, parse_labels
from simhttp import Response, Stream
from tables import table, wants_table

NAMESPACED = ("pods", "events", "persistentvolumeclaims")
CLUSTER = ("namespaces", "nodes")
KINDS = {"pods": "Pod", "events": "Event", "persistentvolumeclaims": "PersistentVolumeClaim",
         "namespaces": "Namespace", "nodes": "Node"}
NAMESPACES = ("ci", "default", "other", "kube-system", "kube-public", "kube-node-lease")
NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
PUBLIC = ("/healthz", "/livez", "/readyz", "/version")
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list.")


def flag(req, name):
    """apimachinery boolean query decoding: absent/0/false => False, anything else True."""
    values = req.query.get(name)
    return bool(values) and values[0].lower() not in ("0", "false")


def int_arg(req, name, default=None):
    value = req.arg(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request('invalid value for %s: strconv.ParseInt: parsing "%s": invalid syntax'
                          % (name, value)) from None


def parse_rv(text):
    try:
        value = int(text)
        if value < 0:
            raise ValueError
        return value
    except ValueError:
        raise bad_request('resourceVersion: Invalid value: "%s": strconv.ParseUint: parsing "%s": invalid syntax'
                          % (text, text)) from None


def error_response(err):
    return Response(err.code, dumps(err.body), err.headers)


class Settings:
    """API timing knobs (seconds); changeable through the admin API."""

    def __init__(self):
        self.bookmark_interval = 60.0
        self.continue_ttl = 300.0
        self.too_large_wait = 3.0


class Api:
    def __init__(self, store, auth, kubelet, stats, faults, settings, rng, verbose=None):
        self.store = store
        self.auth = auth
        self.kubelet = kubelet
        self.stats = stats
        self.faults = faults
        self.settings = settings
        self.rng = rng
        self.port = 0
        self.upgrade_handlers = {}
        self.exec_settings = None
        self.verbose = verbose
        for ns in NAMESPACES:
            store.create("namespaces", {
                "kind": "Namespace", "apiVersion": "v1",
                "metadata": {"name": ns, "uid": str(uuid.uuid4()), "creationTimestamp": rfc3339(),
                             "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        for node in kubelet.nodes.values():
            store.create("nodes", {
                "kind": "Node", "apiVersion": "v1",
                "metadata": {"name": node.name, "uid": str(uuid.uuid4()), "creationTimestamp": rfc3339(),
                             "labels": dict(node.labels)},
                "spec": {"podCIDR": node.pod_net + ".0/24"},
                "status": {"capacity": {"cpu": str(node.cpu), "memory": "%dKi" % (node.memory // 1024),
                                        "pods": "110"},
                           "allocatable": {"cpu": str(node.cpu), "memory": "%dKi" % (node.memory // 1024),
                                           "pods": "110"},
                           "addresses": [{"type": "InternalIP", "address": node.ip},
                                         {"type": "Hostname", "address": node.name}],
                           "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "kubelet is posting ready status"}],
                           "nodeInfo": {"kubeletVersion": discovery.VERSION["gitVersion"],
                                        "containerRuntimeVersion": "containerd://1.7.24",
                                        "operatingSystem": "linux", "architecture": "amd64"}}})

    # --- entry points --------------------------------------------------------
    def too_large(self, req):
        self.stats.count(req.method, "(body too large)", 413)
        return error_response(ApiError(413, "Request entity too large: limit is %d"
                                       % req.conn.server.limits.max_body, "RequestEntityTooLarge"))

    def internal_error(self, req, exc):
        return error_response(ApiError(500, "Internal error occurred: %s" % exc, "InternalError"))

    def handle(self, req):
        fault = self.faults.take(req) if self.faults.rules else None
        if fault is not None:
            return self._faulted(req, fault)
        return self._serve(req)

    async def _faulted(self, req, fault):
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.close:
            req.conn.abort()
            return Response(500)
        if fault.status:
            code = int(fault.status)
            headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
            details = {"retryAfterSeconds": int(fault.retry_after)} if fault.retry_after is not None else None
            message = fault.message or {429: "Too many requests, please try again later.",
                                        503: "the server is currently unable to handle the request",
                                        504: "the server was unable to return a response in the time allotted, "
                                             "but may still be processing the request"}.get(
                code, "Internal error occurred: injected fault")
            self.stats.count(req.method, "(fault)", code)
            return error_response(ApiError(code, message, details=details, headers=headers))
        result = self._serve(req)
        return (await result) if asyncio.iscoroutine(result) else result

    def _serve(self, req):
        template, verb = req.path, None
        try:
            user = self.auth.authenticate(req)
            if user is None and not (req.path in PUBLIC and "authorization" not in req.headers):
                raise unauthorized()
            if user is not None:
                user = self.auth.impersonate(user, req.headers)
            template, verb, result = self._route(req, user)
        except ApiError as err:
            result = error_response(err)
        if asyncio.iscoroutine(result):
            return self._count_later(req, template, verb, result)
        self.stats.count(req.method, template, result.status, verb)
        return result

    async def _count_later(self, req, template, verb, coro):
        try:
            result = await coro
        except ApiError as err:
            result = error_response(err)
        self.stats.count(req.method, template, result.status, verb)
        return result

    # --- routing -------------------------------------------------------------
    def _route(self, req, user):
        parts = [p for p in req.path.split("/") if p]
        method = req.method
        n = len(parts)
        if n == 1 and parts[0] in ("healthz", "livez", "readyz"):
            return req.path, None, Response(200, b"ok", content_type="text/plain; charset=utf-8")
        if parts == ["version"]:
            return "/version", None, Response(200, dumps(discovery.VERSION))
        if parts == ["api"]:
            return "/api", None, Response(200, discovery.api_versions(self.port))
        if parts == ["api", "v1"]:
            return "/api/v1", None, Response(200, discovery.core_resources())
        if parts == ["openapi", "v3"]:
            return "/openapi/v3", None, Response(200, discovery.openapi_v3_root())
        if parts == ["openapi", "v3", "api", "v1"]:
            return "/openapi/v3/api/v1", None, Response(200, discovery.openapi_v3_core())
        if parts == ["apis"]:
            return "/apis", None, Response(200, discovery.api_groups())
        if n >= 2 and parts[0] == "apis" and parts[1] in discovery.GROUPS:
            if n == 2:
                return "/apis/{group}", None, Response(200, discovery.api_group(parts[1]))
            if n == 3 and parts[2] == "v1":
                return "/apis/{group}/v1", None, Response(200, discovery.group_resources(parts[1]))
            if n == 4 and parts[2] == "v1" and method == "POST":
                return "/apis/%s/v1/%s" % (parts[1], parts[3]), "create", self._review(req, user, parts[1],
                                                                                        parts[3])
        if n >= 3 and parts[:2] == ["api", "v1"]:
            if parts[2] == "namespaces" and n >= 5:
                ns, resource = parts[3], parts[4]
                name = parts[5] if n >= 6 else None
                sub = parts[6] if n == 7 else None
                if resource in NAMESPACED and n <= 7 and (sub is None or resource == "pods"):
                    template = "/api/v1/namespaces/{namespace}/" + resource + ("/{name}" if name else "") + (
                        "/" + sub if sub else "")
                    verb, result = self._resource(req, user, resource, ns, name, sub)
                    return template, verb, result
            elif n <= 4 and (parts[2] in NAMESPACED + CLUSTER):
                resource = parts[2]
                name = parts[3] if n == 4 else None
                if name and resource in NAMESPACED:
                    raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
                template = "/api/v1/" + resource + ("/{name}" if name else "")
                verb, result = self._resource(req, user, resource, None, name, None)
                return template, verb, result
        raise ApiError(404, "the server could not find the requested resource", "NotFound", {})

    def _verb(self, req, name, sub):
        method = req.method
        if sub in ("exec", "attach", "portforward"):
            return "create" if method == "POST" else "get"
        if sub == "eviction":
            return "create"
        if method in ("GET", "HEAD"):
            if flag(req, "watch"):
                return "watch"
            return "get" if name else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())

    def _resource(self, req, user, resource, ns, name, sub):
        verb = self._verb(req, name, sub)
        self.auth.check(user, verb, "", resource, sub, ns, name or "")
        if sub in ("exec", "attach", "portforward") and verb == "get" and req.is_upgrade() and \
                req.headers.get("upgrade", "").lower() == "websocket":
            self.auth.check(user, "create", "", resource, sub, ns, name or "")
        if req.body and req.headers.get("content-type", "").startswith(kproto.CONTENT_TYPE):
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types "
                                "include: application/json, application/yaml", "UnsupportedMediaType")
        if sub is None:
            handler = {
                "get": self._get, "list": self._list, "watch": self._watch, "create": self._create,
                "delete": self._delete, "patch": self._patch, "update": self._update,
            }.get(verb)
            if handler is None or (resource in CLUSTER and verb not in ("get", "list", "watch")) or (
                    resource == "events" and verb in ("patch", "update")):
                raise ApiError(405, "the server does not allow this method on the requested resource",
                               "MethodNotAllowed", {})
            return verb, handler(req, resource, ns, name)
        if sub == "log" and verb == "get":
            return verb, self._log(req, ns, name)
        if sub in ("exec", "attach", "portforward"):
            return verb, self._upgrade(req, ns, name, sub)
        if sub == "status" and verb == "get":
            return verb, self._get(req, resource, ns, name)
        if sub == "eviction" and req.method == "POST":
            return verb, self._evict(req, ns, name)
        raise ApiError(405, "the server does not allow this method on the requested resource",
                       "MethodNotAllowed", {})

    # --- reads ---------------------------------------------------------------
    def _obj(self, resource, ns, name):
        rec = self.store.get(resource, ns or "", name)
        if rec is None:
            raise not_found(resource, name)
        return rec

    def _get(self, req, resource, ns, name):
        rec = self._obj(resource, ns, name)
        if wants_table(req.headers.get("accept")):
            return Response(200, dumps(table(resource, [rec.obj], rec.rv, req.arg("includeObject", "Metadata"))))
        return Response(200, rec.raw)

    def _list(self, req, resource, ns, name):
        label = parse_labels(req.arg("labelSelector"))
        field = parse_fields(req.arg("fieldSelector"), resource)
        limit = int_arg(req, "limit", 0)
        token = req.arg("continue")
        rv_text = req.arg("resourceVersion")
        if token:
            if rv_text not in (None, ""):
                raise bad_request("specifying resource version is not allowed when using continue")
            snap_rv, start, created = self._decode_continue(token)
            if snap_rv < self.store.floor or time.time() - created > self.settings.continue_ttl:
                fresh = self._encode_continue(self.store.rv, start)
                raise gone(CONTINUE_EXPIRED, {"continue": fresh})
            state = self.store.state_at(resource, snap_rv)
        else:
            start, snap_rv = None, self.store.rv
            if rv_text not in (None, "", "0"):
                requested = parse_rv(rv_text)
                if requested > self.store.rv:
                    return self._wait_rv(requested, lambda: self._list(req, resource, ns, name))
                exact = req.arg("resourceVersionMatch") == "Exact" or (
                    limit and req.arg("resourceVersionMatch") is None)
                if exact:
                    snap_rv = requested
                    state = self.store.state_at(resource, requested)
                else:
                    state = self.store.objects[resource]
            else:
                state = self.store.objects[resource]
        keys = sorted(k for k in state if (ns is None or k[0] == ns) and (start is None or k > start))
        items, more, remaining = [], None, 0
        for key in keys:
            rec = state[key]
            if not (label(rec.obj) and field(rec.obj)):
                continue
            if limit and len(items) >= limit:
                remaining += 1
                more = more or items[-1]
                continue
            items.append(rec)
        meta = {"resourceVersion": str(snap_rv)}
        if more is not None:
            last = items[-1].obj["metadata"]
            meta["continue"] = self._encode_continue(snap_rv, (last.get("namespace", ""), last["name"]))
            meta["remainingItemCount"] = remaining
        if wants_table(req.headers.get("accept")):
            body = table(resource, [r.obj for r in items], snap_rv, req.arg("includeObject", "Metadata"))
            body["metadata"] = meta
            return Response(200, dumps(body))
        head = dumps({"kind": KINDS[resource] + "List", "apiVersion": "v1", "metadata": meta})
        return Response(200, head[:-1] + b',"items":[' + b",".join(r.raw for r in items) + b"]}")

    def _encode_continue(self, rv, key):
        doc = {"v": "meta.k8s.io/v1", "rv": rv, "start": "%s/%s\u0000" % key, "t": int(time.time())}
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    def _decode_continue(self, token):
        try:
            doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            ns, _, name = doc["start"].rstrip("\u0000").partition("/")
            return int(doc["rv"]), (ns, name), doc.get("t", 0)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                              "(version meta.k8s.io/v1)") from None

    async def _wait_rv(self, requested, then):
        deadline = time.monotonic() + self.settings.too_large_wait
        while self.store.rv < requested and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.store.rv < requested:
            raise too_large_rv(requested, self.store.rv)
        result = then()
        return (await result) if asyncio.iscoroutine(result) else result

    # --- watch ---------------------------------------------------------------
    def _watch(self, req, resource, ns, name):
        """List-then-watch stream; a name in the URL (the old single-object form) filters on it."""
        label = parse_labels(req.arg("labelSelector"))
        by_field = parse_fields(req.arg("fieldSelector"), resource)
        field = by_field if name is None else (lambda obj: obj["metadata"]["name"] == name and by_field(obj))
        rv_text = req.arg("resourceVersion")
        timeout = int_arg(req, "timeoutSeconds", 0) or random.uniform(1800, 3600)
        bookmarks = flag(req, "allowWatchBookmarks")
        initial_events = flag(req, "sendInitialEvents")
        start_rv = None
        if rv_text not in (None, "", "0"):
            start_rv = parse_rv(rv_text)
            if start_rv > self.store.rv:
                return self._wait_rv(start_rv, lambda: self._watch(req, resource, ns, name))
        as_table = wants_table(req.headers.get("accept"))
        include = req.arg("includeObject", "Metadata")
        first = [True]

        def encode(type_, rec):
            if as_table and type_ != "BOOKMARK":
                obj = dumps(table(resource, [rec.obj], rec.rv, include, first[0]))
                first[0] = False
            else:
                obj = rec.raw
            return b'{"type":"' + type_.encode() + b'","object":' + obj + b"}\n"

        match = (lambda obj: label(obj) and field(obj))
        if start_rv is not None and start_rv < self.store.floor:
            err = status_body(410, "too old resource version: %d (%d)" % (start_rv, self.store.floor), "Expired")
            line = b'{"type":"ERROR","object":' + dumps(err) + b"}\n"

            async def expired(out):
                out.write(line)
            return Stream(200, expired)
        watcher = self.store.watch(resource, ns, match, encode)
        initial = []
        if start_rv is None or initial_events:
            for rec in self.store.list(resource, ns):
                if match(rec.obj):
                    initial.append(encode("ADDED", rec))
            if initial_events and bookmarks:
                initial.append(self._bookmark(resource, {"k8s.io/initial-events-end": "true"}))
        else:
            for ev in self.store.events_after(resource, start_rv):
                watcher.offer(ev)
        self.stats.open_watches += 1
        return Stream(200, lambda out: self._stream(out, watcher, initial, timeout, bookmarks, resource))

    def _bookmark(self, resource, annotations=None):
        meta = {"resourceVersion": str(self.store.rv), "creationTimestamp": None}
        if annotations:
            meta["annotations"] = annotations
        obj = {"kind": KINDS[resource], "apiVersion": "v1", "metadata": meta}
        if resource == "pods":
            obj.update(spec={"containers": None}, status={})
        return b'{"type":"BOOKMARK","object":' + dumps(obj) + b"}\n"

    async def _stream(self, out, watcher, initial, timeout, bookmarks, resource):
        try:
            for line in initial:
                out.write(line)
            start = time.monotonic()
            deadline = start + timeout
            final_bookmark = deadline - min(2.0, timeout * 0.25)
            next_bookmark = start + self.settings.bookmark_interval
            while True:
                if watcher.dropped:
                    out.abort()
                    return
                if watcher.lines:
                    out.write(b"".join(watcher.lines))
                    watcher.lines.clear()
                    await out.drain()
                if watcher.overflow:
                    return
                now = time.monotonic()
                if now >= deadline:
                    return
                if bookmarks and now >= min(next_bookmark, final_bookmark):
                    out.write(self._bookmark(resource))
                    if now >= final_bookmark:
                        final_bookmark = float("inf")
                    next_bookmark = now + self.settings.bookmark_interval
                    continue
                wake = min(deadline, next_bookmark, final_bookmark) if bookmarks else deadline
                watcher.wakeup.clear()
                if watcher.lines or watcher.dropped:
                    continue
                try:
                    await asyncio.wait_for(watcher.wakeup.wait(), max(0.0, wake - now))
                except asyncio.TimeoutError:
                    pass
        finally:
            watcher.close()
            self.stats.open_watches -= 1

    # --- writes --------------------------------------------------------------
    def _options(self, req):
        validation = req.arg("fieldValidation", "Warn") or "Warn"
        if validation not in ("Ignore", "Warn", "Strict"):
            raise bad_request('fieldValidation: Unsupported value: "%s": supported values: "Ignore", "Strict", '
                              '"Warn"' % validation)
        dry = req.query.get("dryRun") or []
        for value in dry:
            if value != "All":
                raise ApiError(422, 'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["%s"]: '
                                    'supported values: "All"' % value, "Invalid")
        return validation, bool(dry)

    def _create(self, req, resource, ns, name):
        if resource not in ("pods", "persistentvolumeclaims"):
            raise ApiError(405, "the server does not allow this method on the requested resource",
                           "MethodNotAllowed", {})
        validation, dry = self._options(req)
        kind = KINDS[resource]
        obj, warnings = podspec.decode(req.body, kind, validation)
        meta = obj["metadata"]
        if meta.get("namespace") and meta["namespace"] != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on "
                              "the request")
        if resource == "pods":
            podspec.check_quantities(obj)
        if not self.store.get("namespaces", "", ns):
            raise not_found("namespaces", ns)
        if str(meta.get("resourceVersion", "")).isdigit() and int(meta["resourceVersion"]) > 0:
            raise ApiError(500, "resourceVersion should not be set on objects to be created", "")
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                    "deletionGracePeriodSeconds", "selfLink", "managedFields"):
            meta.pop(key, None)
        meta["namespace"] = ns
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"][:58] + "".join(self.rng.choice(NAME_CHARS) for _ in range(5))
        if resource == "pods":
            podspec.default_pod(obj, "".join(self.rng.choice(NAME_CHARS) for _ in range(5)))
            errs = podspec.validate_pod(obj)
        else:
            podspec.default_pvc(obj)
            meta.setdefault("finalizers", ["kubernetes.io/pvc-protection"])
            errs = podspec.validate_pvc(obj)
        if errs:
            raise invalid(kind, meta.get("name", ""), errs)
        if self.store.get(resource, ns, meta["name"]):
            err = already_exists(resource, meta["name"])
            if meta.get("generateName"):
                err.body["message"] += ", the server was not able to generate a unique name for the object"
                err.body["details"]["retryAfterSeconds"] = 1
            raise err
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339()
        headers = [("Warning", '299 - "%s"' % w.replace('"', '\\"')) for w in warnings]
        if dry:
            return Response(201, dumps(obj), headers)
        rec = self.store.create(resource, obj)
        if resource == "pods":
            self.kubelet.start(rec.obj)
        else:
            self.kubelet.bind_claim(rec.obj)
        return Response(201, rec.raw, headers)

    def _delete_options(self, req):
        opts = {}
        if req.body and req.body.strip():
            try:
                opts = json.loads(req.body)
            except ValueError:
                raise bad_request("couldn't get version/kind; json parse error: invalid JSON") from None
            if not isinstance(opts, dict):
                raise bad_request("json: cannot unmarshal into Go value of type v1.DeleteOptions")
        grace = opts.get("gracePeriodSeconds", int_arg(req, "gracePeriodSeconds"))
        policy = opts.get("propagationPolicy") or req.arg("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(422, 'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                                '"%s": supported values: "Foreground", "Background", "Orphan", "nil"' % policy,
                           "Invalid")
        orphan = opts.get("orphanDependents", req.arg("orphanDependents"))
        if orphan in (True, "true"):
            policy = "Orphan"
        dry = opts.get("dryRun") or req.query.get("dryRun") or []
        return grace, policy, opts.get("preconditions") or {}, bool(dry), orphan in (False, "false")

    def _delete(self, req, resource, ns, name):
        if resource not in ("pods", "persistentvolumeclaims"):
            raise ApiError(405, "the server does not allow this method on the requested resource",
                           "MethodNotAllowed", {})
        grace, policy, pre, dry, accepted = self._delete_options(req)
        rec = self._obj(resource, ns, name)
        meta = rec.obj["metadata"]
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise conflict(resource, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                           % (pre["uid"], meta["uid"]))
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise conflict(resource, name, "Precondition failed: ResourceVersion in precondition: %s, "
                           "ResourceVersion in object meta: %s" % (pre["resourceVersion"], meta["resourceVersion"]))
        if resource == "persistentvolumeclaims":
            return self._delete_claim(rec, dry)
        resp = self.delete_pod(rec, grace, policy, dry)
        if accepted and self.store.get("pods", ns, name):
            resp.status = 202
        return resp

    def delete_pod(self, rec, grace, policy=None, dry=False):
        """Delete with the pod grace-period rules; the answer's body is the Pod."""
        pod = rec.obj
        meta = pod["metadata"]
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        if grace < 0:
            grace = 1
        phase = pod.get("status", {}).get("phase")
        if not pod["spec"].get("nodeName") or phase in ("Succeeded", "Failed"):
            grace = 0
        if meta.get("deletionTimestamp") and grace >= meta.get("deletionGracePeriodSeconds", 0):
            return Response(200, rec.raw)
        if dry:
            obj = json.loads(rec.raw)
            if grace:
                obj["metadata"]["deletionTimestamp"] = rfc3339(time.time() + grace)
                obj["metadata"]["deletionGracePeriodSeconds"] = grace
            return Response(200, dumps(obj))
        if policy == "Orphan":
            self.kubelet.orphaned.add(meta["uid"])
        if grace == 0:
            final = self.store.remove("pods", meta["namespace"], meta["name"])
            return Response(200, final.raw)

        def mark(obj):
            obj["metadata"]["deletionTimestamp"] = rfc3339(time.time() + grace)
            obj["metadata"]["deletionGracePeriodSeconds"] = grace
        new = self.store.mutate("pods", meta["namespace"], meta["name"], mark, meta["uid"])
        self.kubelet.delete(new.obj, grace)
        return Response(200, new.raw)

    def _delete_claim(self, rec, dry):
        meta = rec.obj["metadata"]
        obj = json.loads(rec.raw)
        obj["metadata"].setdefault("deletionTimestamp", rfc3339())
        obj["metadata"].setdefault("deletionGracePeriodSeconds", 0)
        if dry:
            return Response(200, dumps(obj))
        in_use = any(
            (v.get("persistentVolumeClaim") or {}).get("claimName") == meta["name"]
            for pod in self.store.list("pods", meta["namespace"]) for v in pod.obj["spec"].get("volumes") or [])
        if in_use:
            return Response(200, self.store.update("persistentvolumeclaims", obj).raw)
        final = self.store.remove("persistentvolumeclaims", meta["namespace"], meta["name"])
        return Response(200, final.raw)

    def _check_update(self, resource, old, new, validation):
        obj, warnings = podspec.decode(dumps(new), KINDS[resource], validation)
        meta, old_meta = obj["metadata"], old.obj["metadata"]
        if meta.get("name", old_meta["name"]) != old_meta["name"]:
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                              % (meta.get("name"), old_meta["name"]))
        rv = meta.get("resourceVersion")
        if rv and rv != old_meta["resourceVersion"]:
            raise conflict(resource, old_meta["name"], "the object has been modified; please apply your changes "
                                                       "to the latest version and try again")
        for key in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                    "deletionGracePeriodSeconds", "generateName"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        obj["status"] = old.obj.get("status")
        if resource == "pods":
            errs = podspec.validate_pod_update(old.obj, obj)
            if errs:
                raise invalid("Pod", old_meta["name"], errs)
        elif obj.get("spec") != old.obj.get("spec"):
            raise invalid(KINDS[resource], old_meta["name"], [FieldError(
                "FieldValueForbidden", "spec", None, "spec is immutable after creation except "
                "resources.requests and volumeAttributesClassName for bound claims")])
        return obj, warnings

    def _store_update(self, resource, old, obj, warnings, dry):
        headers = [("Warning", '299 - "%s"' % w.replace('"', '\\"')) for w in warnings]
        obj["metadata"]["resourceVersion"] = old.obj["metadata"]["resourceVersion"]
        if obj == old.obj or dry:
            return Response(200, dumps(obj) if dry else old.raw, headers)
        return Response(200, self.store.update(resource, obj).raw, headers)

    def _patch(self, req, resource, ns, name):
        if resource not in ("pods", "persistentvolumeclaims"):
            raise ApiError(405, "the server does not allow this method on the requested resource",
                           "MethodNotAllowed", {})
        validation, dry = self._options(req)
        old = self._obj(resource, ns, name)
        new = patching.apply(req.headers.get("content-type", ""), json.loads(old.raw), req.body)
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
            raise bad_request("the patch removed the object's metadata")
        obj, warnings = self._check_update(resource, old, new, validation)
        return self._store_update(resource, old, obj, warnings, dry)

    def _update(self, req, resource, ns, name):
        if resource not in ("pods", "persistentvolumeclaims"):
            raise ApiError(405, "the server does not allow this method on the requested resource",
                           "MethodNotAllowed", {})
        validation, dry = self._options(req)
        old = self._obj(resource, ns, name)
        obj, _ = podspec.decode(req.body, KINDS[resource], validation)
        if not obj["metadata"].get("resourceVersion"):
            raise ApiError(422, '%s "%s" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be '
                                'specified for an update' % (KINDS[resource], name), "Invalid")
        obj, warnings = self._check_update(resource, old, obj, validation)
        return self._store_update(resource, old, obj, warnings, dry)

    def _evict(self, req, ns, name):
        rec = self._obj("pods", ns, name)
        self.kubelet.mark_disruption(rec.obj, "EvictionByEvictionAPI", "Eviction API: evicting")
        rec = self.store.get("pods", ns, name)
        grace = None
        try:
            body = json.loads(req.body or b"{}")
            grace = ((body or {}).get("deleteOptions") or {}).get("gracePeriodSeconds")
        except ValueError:
            raise bad_request("couldn't get version/kind; json parse error: invalid JSON") from None
        self.delete_pod(rec, grace)
        return Response(201, dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                    "code": 201}))

    # --- logs ----------------------------------------------------------------
    def _container(self, pod, name):
        spec = pod["spec"]
        regular = [c["name"] for c in spec.get("containers") or []]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        pod_name = pod["metadata"]["name"]
        if not name:
            if len(regular) == 1:
                return regular[0]
            msg = "a container name must be specified for pod %s, choose one of: [%s]" % (pod_name, " ".join(regular))
            if inits:
                msg += " or one of the init containers: [%s]" % " ".join(inits)
            raise bad_request(msg)
        if name not in regular + inits:
            raise bad_request("container %s is not valid for pod %s" % (name, pod_name))
        return name

    def _log(self, req, ns, name):
        pod = self._obj("pods", ns, name).obj
        container = self._container(pod, req.arg("container"))
        tail = int_arg(req, "tailLines")
        limit = int_arg(req, "limitBytes")
        since = int_arg(req, "sinceSeconds")
        since_time = req.arg("sinceTime")
        errs = []
        if tail is not None and tail < 0:
            errs.append(FieldError("FieldValueInvalid", "tailLines", tail, "must be greater than or equal to 0"))
        if limit is not None and limit < 1:
            errs.append(FieldError("FieldValueInvalid", "limitBytes", limit, "must be greater than 0"))
        if since is not None and since < 1:
            errs.append(FieldError("FieldValueInvalid", "sinceSeconds", since, "must be greater than 0"))
        if since is not None and since_time:
            errs.append(FieldError("FieldValueForbidden", "", None,
                                   "at most one of `sinceTime` or `sinceSeconds` may be specified"))
        if errs:
            raise invalid("PodLogOptions", name, errs)
        text = "text/plain"
        if not pod["spec"].get("nodeName"):
            return Response(200, b"", content_type=text)
        worker = self.kubelet.worker(pod["metadata"]["uid"])
        cs = next((c for c in (worker.inits + worker.containers) if c.name == container), None) if worker else None
        if cs is None:
            raise bad_request('container "%s" in pod "%s" is terminated' % (container, name))
        if flag(req, "previous"):
            if not cs.last_state.get("terminated"):
                raise bad_request('previous terminated container "%s" in pod "%s" not found' % (container, name))
            run = cs.runs[-2] if (cs.running or cs.terminated) and len(cs.runs) > 1 else cs.runs[-1]
        else:
            if not cs.runs:
                reason = (cs.state.get("waiting") or {}).get("reason", "ContainerCreating")
                reason = {"ErrImagePull": "image can't be pulled",
                          "ImagePullBackOff": "trying and failing to pull image"}.get(reason, reason)
                raise bad_request('container "%s" in pod "%s" is waiting to start: %s' % (container, name, reason))
            run = cs.runs[-1]
        cutoff = time.time() - since if since else (parse_rfc3339(since_time) if since_time else None)
        stamps = flag(req, "timestamps")

        def render(lines):
            return b"".join(((rfc3339nano(ts) + " ") if stamps else "").encode() + line.encode()
                            for ts, line in lines if cutoff is None or ts >= cutoff)
        lines = run.lines[-tail:] if tail else ([] if tail == 0 else list(run.lines))
        body = render(lines)
        if limit is not None:
            body = body[:limit]
        if not flag(req, "follow") or run.done or (limit is not None and len(body) >= limit):
            return Response(200, body, content_type=text)

        async def follow(out):
            sent = len(run.lines)
            budget = None if limit is None else limit - len(body)
            out.write(body)
            while True:
                changed = run.changed
                if len(run.lines) == sent and not run.done:
                    await changed.wait()
                fresh = render(run.lines[sent:])
                sent = len(run.lines)
                if budget is not None:
                    fresh = fresh[:budget]
                    budget -= len(fresh)
                out.write(fresh)
                await out.drain()
                if run.done or budget == 0:
                    return
        return Stream(200, follow, content_type=text)

    # --- exec / attach / portforward -----------------------------------------
    def _upgrade(self, req, ns, name, sub):
        pod = self._obj("pods", ns, name).obj
        container = self._container(pod, req.arg("container")) if sub != "portforward" else None
        if not pod["spec"].get("nodeName"):
            raise bad_request("pod %s does not have a host assigned" % name)
        handler = self.upgrade_handlers.get(sub)
        if req.is_upgrade() and handler is not None:
            return handler(self, req, pod, container)
        raise bad_request("Upgrade request required")

    # --- reviews -------------------------------------------------------------
    def _review(self, req, user, group, resource):
        self.auth.check(user, "create", group, resource, None, None, "")
        try:
            if req.headers.get("content-type", "").startswith(kproto.CONTENT_TYPE):
                spec = kproto.review_spec(req.body)
            else:
                spec = json.loads(req.body or b"{}").get("spec") or {}
        except (ValueError, AttributeError, UnicodeDecodeError):
            raise bad_request("couldn't get version/kind; json parse error: invalid request body") from None
        if resource == "selfsubjectreviews":
            return Response(201, dumps({
                "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": rfc3339()},
                "status": {"userInfo": dict({"username": user.name, "groups": user.groups},
                                            **({"uid": user.uid} if user.uid else {}),
                                            **({"extra": user.extra} if user.extra else {}))}}))
        if resource == "selfsubjectaccessreviews":
            attrs = spec.get("resourceAttributes")
            if attrs:
                full = attrs.get("resource", "") + ("/" + attrs["subresource"] if attrs.get("subresource") else "")
                allowed = self.auth.allowed(user, attrs.get("verb", ""), attrs.get("group", ""), full,
                                            attrs.get("namespace") or None, attrs.get("name") or None)
            else:
                allowed = True
            status = {"allowed": allowed}
            if allowed:
                status["reason"] = "RBAC: allowed by kubesim rules for %s" % user.name
            return Response(201, dumps({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                                        "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}))
        raise ApiError(404, "the server could not find the requested resource", "NotFound", {})

