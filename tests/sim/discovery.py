"""Discovery documents: /version, /api, /api/v1, /apis and the two review groups.

Served as legacy (unaggregated) discovery: clients that ask for aggregated
discovery get plain JSON back and fall back, as they do against older servers.
"""

from kstatus import dumps

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.4-kubesim", "gitCommit": "0" * 40,
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.8",
           "compiler": "gc", "platform": "linux/amd64"}


def _res(name, kind, verbs, namespaced=True, short=(), singular=""):
    doc = {"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": list(verbs)}
    if short:
        doc["shortNames"] = list(short)
    if "/" not in name and kind in ("Pod", "PersistentVolumeClaim", "Event"):
        doc["categories"] = ["all"] if kind == "Pod" else []
    return doc


RW = ("create", "delete", "get", "list", "patch", "update", "watch")
CORE = [
    _res("events", "Event", ("get", "list", "watch"), short=("ev",), singular="event"),
    _res("namespaces", "Namespace", ("get", "list", "watch"), False, ("ns",), "namespace"),
    _res("nodes", "Node", ("get", "list", "watch"), False, ("no",), "node"),
    _res("persistentvolumeclaims", "PersistentVolumeClaim", RW,
         short=("pvc",), singular="persistentvolumeclaim"),
    _res("pods", "Pod", RW, short=("po",), singular="pod"),
    _res("pods/attach", "PodAttachOptions", ("create", "get")),
    _res("pods/exec", "PodExecOptions", ("create", "get")),
    _res("pods/log", "Pod", ("get",)),
    _res("pods/portforward", "PodPortForwardOptions", ("create", "get")),
]
GROUPS = {
    "authentication.k8s.io": [_res("selfsubjectreviews", "SelfSubjectReview", ("create",), False)],
    "authorization.k8s.io": [
        _res("selfsubjectaccessreviews", "SelfSubjectAccessReview", ("create",), False),
        _res("selfsubjectrulesreviews", "SelfSubjectRulesReview", ("create",), False)],
}


def api_versions(port):
    return dumps({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:%d" % port}]})


def core_resources():
    return dumps({"kind": "APIResourceList", "groupVersion": "v1", "resources": CORE})


def _group(name):
    gv = {"groupVersion": name + "/v1", "version": "v1"}
    return {"name": name, "versions": [gv], "preferredVersion": gv}


def api_groups():
    return dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in GROUPS]})


def api_group(name):
    return dumps(dict({"kind": "APIGroup", "apiVersion": "v1"}, **_group(name)))


def group_resources(name):
    return dumps({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": name + "/v1",
                  "resources": GROUPS[name]})


def _openapi_paths():
    """PATCH operations carrying the ``fieldValidation`` parameter: what kubectl's
    query-parameter verifier looks for before it relies on server-side validation."""
    params = [{"name": n, "in": "query", "schema": {"type": "string"}}
              for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
    paths = {}
    for res in CORE:
        if "/" in res["name"] or "patch" not in res["verbs"] and "create" not in res["verbs"]:
            continue
        prefix = "/api/v1/namespaces/{namespace}/" if res["namespaced"] else "/api/v1/"
        gvk = {"group": "", "version": "v1", "kind": res["kind"]}
        op = {"operationId": "patch" + res["kind"], "parameters": params,
              "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk,
              "responses": {"200": {"description": "OK"}}}
        post = dict(op, operationId="create" + res["kind"], **{"x-kubernetes-action": "post"})
        paths[prefix + res["name"] + "/{name}"] = {"patch": op}
        paths[prefix + res["name"]] = {"post": post}
    return paths


OPENAPI_HASH = "kubesim0001"


def openapi_v3_root():
    return dumps({"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=" + OPENAPI_HASH}}})


def openapi_v3_core():
    return dumps({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
                  "paths": _openapi_paths(), "components": {"schemas": {}}})
