"""Server-side printing: ``meta.k8s.io/v1`` Table answers for ``kubectl get``.

Pods get the columns and the STATUS logic of the API server's pod printer
(Init:x/y, CrashLoopBackOff, Completed, Terminating...); other kinds get the
default Name / Created At table.
"""

import time

from kstatus import parse_rfc3339

POD_COLUMNS = [
    ("Name", "string", "name", 0), ("Ready", "string", "", 0), ("Status", "string", "", 0),
    ("Restarts", "string", "", 0), ("Age", "string", "", 0), ("IP", "string", "", 1),
    ("Node", "string", "", 1), ("Nominated Node", "string", "", 1), ("Readiness Gates", "string", "", 1),
]
EVENT_COLUMNS = [("Last Seen", "string", "", 0), ("Type", "string", "", 0), ("Reason", "string", "", 0),
                 ("Object", "string", "", 0), ("Message", "string", "", 0)]
DEFAULT_COLUMNS = [("Name", "string", "name", 0), ("Created At", "date", "", 0)]


def _columns(cols):
    return [{"name": n, "type": t, "format": f, "description": n, "priority": p} for n, t, f, p in cols]


def age(stamp, now=None):
    if not stamp:
        return "<unknown>"
    secs = int((now or time.time()) - parse_rfc3339(stamp))
    if secs < 0:
        return "0s"
    if secs < 120:
        return "%ds" % secs
    if secs < 600:
        return "%dm%ds" % (secs // 60, secs % 60) if secs % 60 else "%dm" % (secs // 60)
    if secs < 3 * 3600:
        return "%dm" % (secs // 60)
    if secs < 48 * 3600:
        return "%dh" % (secs // 3600)
    return "%dd" % (secs // 86400)


def pod_status_text(pod):
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    reason = status.get("reason") or status.get("phase", "")
    restarts = 0
    initializing = False
    inits = spec.get("initContainers") or []
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or "ExitCode:%d" % term.get("exitCode", 0))
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = "Init:%d/%d" % (i, len(inits))
        initializing = True
        break
    ready = 0
    if not initializing:
        restarts = 0
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            state = cs.get("state") or {}
            wait, term, run = state.get("waiting"), state.get("terminated"), state.get("running")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = "ExitCode:%d" % term.get("exitCode", 0)
            elif run and cs.get("ready"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_cond = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
            reason = "Running" if ready_cond and ready_cond[0].get("status") == "True" else "NotReady"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason, ready, restarts


def pod_cells(pod):
    reason, ready, restarts = pod_status_text(pod)
    status = pod.get("status") or {}
    gates = pod.get("spec", {}).get("readinessGates")
    return [pod["metadata"]["name"], "%d/%d" % (ready, len(pod["spec"].get("containers") or [])), reason,
            str(restarts), age(pod["metadata"].get("creationTimestamp")), status.get("podIP") or "<none>",
            pod["spec"].get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            "%d/%d" % (0, len(gates)) if gates else "<none>"]


def event_cells(ev):
    inv = ev.get("involvedObject") or {}
    return [age(ev.get("lastTimestamp") or ev["metadata"].get("creationTimestamp")), ev.get("type", ""),
            ev.get("reason", ""), "%s/%s" % (inv.get("kind", "").lower(), inv.get("name", "")),
            ev.get("message", "")]


def _partial(obj):
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(resource, objs, rv, include_object="Metadata", with_columns=True):
    if resource == "pods":
        cols, cells = POD_COLUMNS, pod_cells
    elif resource == "events":
        cols, cells = EVENT_COLUMNS, event_cells
    else:
        cols, cells = DEFAULT_COLUMNS, lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")]
    rows = []
    for obj in objs:
        row = {"cells": cells(obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial(obj)
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(rv)},
            "columnDefinitions": _columns(cols) if with_columns else [], "rows": rows}


def wants_table(accept):
    return "as=Table" in (accept or "")
