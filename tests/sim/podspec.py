"""Decoding, defaulting and validation of Pods and PersistentVolumeClaims.

``decode`` parses a request body like the API server's codec: malformed JSON
and (with ``fieldValidation=Strict``) unknown or duplicate fields are a 400;
otherwise unknown fields are dropped and reported as ``Warning`` texts.  The
schema below lists the fields of Pod/PVC that exist in v1; deep structures the
simulator does not interpret (affinity, probes, securityContext...) are opaque.

``validate_pod`` returns field errors with the real message texts (the common
mistakes a template renderer makes); ``default_pod`` fills what the API server
and its admission plugins add on create.
"""

import json
import re

from kstatus import FieldError, bad_request

ANY = "*"
OWNER_REF = {"apiVersion": ANY, "kind": ANY, "name": ANY, "uid": ANY, "controller": ANY,
             "blockOwnerDeletion": ANY}
META = {"name": ANY, "generateName": ANY, "namespace": ANY, "selfLink": ANY, "uid": ANY,
        "resourceVersion": ANY, "generation": ANY, "creationTimestamp": ANY,
        "deletionTimestamp": ANY, "deletionGracePeriodSeconds": ANY, "labels": ANY,
        "annotations": ANY, "ownerReferences": [OWNER_REF], "finalizers": ANY, "managedFields": ANY}
KEY_REF = {"name": ANY, "key": ANY, "optional": ANY}
CONTAINER = {
    "name": ANY, "image": ANY, "command": ANY, "args": ANY, "workingDir": ANY,
    "ports": [{"name": ANY, "hostPort": ANY, "containerPort": ANY, "protocol": ANY, "hostIP": ANY}],
    "envFrom": [{"prefix": ANY, "configMapRef": {"name": ANY, "optional": ANY},
                 "secretRef": {"name": ANY, "optional": ANY}}],
    "env": [{"name": ANY, "value": ANY,
             "valueFrom": {"fieldRef": ANY, "resourceFieldRef": ANY, "configMapKeyRef": KEY_REF,
                           "secretKeyRef": KEY_REF, "fileKeyRef": ANY}}],
    "resources": {"limits": ANY, "requests": ANY, "claims": ANY}, "resizePolicy": ANY,
    "restartPolicy": ANY,
    "volumeMounts": [{"name": ANY, "readOnly": ANY, "recursiveReadOnly": ANY, "mountPath": ANY,
                      "subPath": ANY, "mountPropagation": ANY, "subPathExpr": ANY}],
    "volumeDevices": ANY, "livenessProbe": ANY, "readinessProbe": ANY, "startupProbe": ANY,
    "lifecycle": ANY, "terminationMessagePath": ANY, "terminationMessagePolicy": ANY,
    "imagePullPolicy": ANY, "securityContext": ANY, "stdin": ANY, "stdinOnce": ANY, "tty": ANY,
}
VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs",
    "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
    "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
    "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos", "csi",
    "ephemeral", "image")
VOLUME = dict({"name": ANY}, **{s: ANY for s in VOLUME_SOURCES})
POD_SPEC = {
    "volumes": [VOLUME], "initContainers": [CONTAINER], "containers": [CONTAINER],
    "ephemeralContainers": ANY, "restartPolicy": ANY, "terminationGracePeriodSeconds": ANY,
    "activeDeadlineSeconds": ANY, "dnsPolicy": ANY, "nodeSelector": ANY, "serviceAccountName": ANY,
    "serviceAccount": ANY, "automountServiceAccountToken": ANY, "nodeName": ANY, "hostNetwork": ANY,
    "hostPID": ANY, "hostIPC": ANY, "shareProcessNamespace": ANY, "securityContext": ANY,
    "imagePullSecrets": ANY, "hostname": ANY, "subdomain": ANY, "affinity": ANY,
    "schedulerName": ANY, "tolerations": ANY, "hostAliases": ANY, "priorityClassName": ANY,
    "priority": ANY, "dnsConfig": ANY, "readinessGates": ANY, "runtimeClassName": ANY,
    "enableServiceLinks": ANY, "preemptionPolicy": ANY, "overhead": ANY,
    "topologySpreadConstraints": ANY, "setHostnameAsFQDN": ANY, "os": ANY, "hostUsers": ANY,
    "schedulingGates": ANY, "resourceClaims": ANY, "resources": ANY,
}
POD = {"apiVersion": ANY, "kind": ANY, "metadata": META, "spec": POD_SPEC, "status": ANY}
PVC = {"apiVersion": ANY, "kind": ANY, "metadata": META, "status": ANY,
       "spec": {"accessModes": ANY, "selector": ANY, "resources": {"limits": ANY, "requests": ANY},
                "volumeName": ANY, "storageClassName": ANY, "volumeMode": ANY, "dataSource": ANY,
                "dataSourceRef": ANY, "volumeAttributesClassName": ANY}}
SCHEMAS = {"Pod": POD, "PersistentVolumeClaim": PVC}
GO_TYPES = {"Pod": "v1.Pod", "PersistentVolumeClaim": "v1.PersistentVolumeClaim"}


def _strip_unknown(obj, schema, path, unknown):
    if schema == ANY or obj is None:
        return
    if isinstance(schema, list):
        if not isinstance(obj, list):
            raise TypeError("%s of type []" % path)
        for i, item in enumerate(obj):
            _strip_unknown(item, schema[0], "%s[%d]" % (path, i), unknown)
        return
    if not isinstance(obj, dict):
        raise TypeError("%s of type struct" % path)
    for key in list(obj):
        sub = "%s.%s" % (path, key) if path else key
        if key not in schema:
            unknown.append(sub)
            del obj[key]
        else:
            _strip_unknown(obj[key], schema[key], sub, unknown)


def decode(body, kind, validation):
    """Parse ``body`` as a ``kind``; returns ``(obj, warnings)`` or raises 400."""
    duplicates = []

    def pairs(items):
        seen = {}
        for k, v in items:
            if k in seen:
                duplicates.append(k)
            seen[k] = v
        return seen
    try:
        obj = json.loads(body.decode("utf-8") if body else "", object_pairs_hook=pairs)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("couldn't get version/kind; json parse error: %s" % _go_json_error(exc, body))
    prefix = '%s in version "v1" cannot be handled as a %s: ' % (kind, kind)
    if not isinstance(obj, dict):
        raise bad_request(prefix + "json: cannot unmarshal %s into Go value of type %s"
                          % (type(obj).__name__.replace("list", "array").replace("str", "string"),
                             GO_TYPES[kind]))
    if obj.get("kind") not in (None, "", kind):
        raise bad_request("the kind in the data (%s) does not match the expected kind (%s)"
                          % (obj.get("kind"), kind))
    if obj.get("apiVersion") not in (None, "", "v1"):
        raise bad_request("the API version in the data (%s) does not match the expected API version (v1)"
                          % obj.get("apiVersion"))
    unknown = []
    try:
        _strip_unknown(obj, SCHEMAS[kind], "", unknown)
    except TypeError as exc:
        raise bad_request(prefix + "json: cannot unmarshal value into Go struct field %s" % exc)
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    problems = ['unknown field "%s"' % f for f in unknown] + ['duplicate field "%s"' % f for f in duplicates]
    if problems and validation == "Strict":
        raise bad_request(prefix + "strict decoding error: " + ", ".join(problems))
    if validation == "Ignore":
        problems = []
    obj["apiVersion"] = "v1"
    obj["kind"] = kind
    return obj, problems


def _go_json_error(exc, body):
    if not body or not body.strip():
        return "unexpected end of JSON input"
    if isinstance(exc, json.JSONDecodeError):
        if exc.pos >= len(body.strip()):
            return "unexpected end of JSON input"
        return "invalid character %r looking for beginning of value" % body.decode("utf-8", "replace")[exc.pos]
    return "invalid UTF-8"


# --- quantities ---------------------------------------------------------------
_QTY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_SUFFIX = {"": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "P": 1e15, "E": 1e18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40,
           "Pi": 2 ** 50, "Ei": 2 ** 60}


def quantity(value):
    """Parse a resource quantity ("100m", "1Gi", 2) into a float."""
    text = str(value).strip()
    m = _QTY.match(text)
    if not m:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    number, suffix = m.groups()
    try:
        num = float(number)
    except ValueError:
        raise ValueError("unable to parse quantity's suffix") from None
    if suffix in _SUFFIX:
        return num * _SUFFIX[suffix]
    if suffix[:1] in "eE":
        return num * 10 ** int(suffix[1:])
    raise ValueError("unable to parse quantity's suffix")


def check_quantities(pod):
    """Malformed quantities fail decoding (400), like the real codec."""
    for c in all_containers(pod):
        for section in ("requests", "limits"):
            for res, value in ((c.get("resources") or {}).get(section) or {}).items():
                try:
                    quantity(value)
                except ValueError as exc:
                    raise bad_request('Pod in version "v1" cannot be handled as a Pod: %s' % exc)


def all_containers(pod):
    spec = pod.get("spec") or {}
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


# --- validation ---------------------------------------------------------------
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QNAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                     "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                         "'-' or '.', and must start and end with an alphanumeric character (e.g. "
                         "'example.com', regex used for validation is "
                         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                   "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                   "'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
QNAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
             "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
             "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
ENV_NAME_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"


def _supported(values):
    return "supported values: " + ", ".join('"%s"' % v for v in values)


def dns_subdomain(errs, field, name):
    if len(name) > 253:
        errs.append(FieldError("FieldValueInvalid", field, name, "must be no more than 253 characters"))
    elif not _SUBDOMAIN.match(name):
        errs.append(FieldError("FieldValueInvalid", field, name, DNS1123_SUBDOMAIN_MSG))


def dns_label(errs, field, name):
    if not name:
        errs.append(FieldError("FieldValueRequired", field))
    elif len(name) > 63:
        errs.append(FieldError("FieldValueInvalid", field, name, "must be no more than 63 characters"))
    elif not _LABEL.match(name):
        errs.append(FieldError("FieldValueInvalid", field, name, DNS1123_LABEL_MSG))


def validate_meta(meta):
    errs = []
    name = meta.get("name") or ""
    if not name:
        errs.append(FieldError("FieldValueRequired", "metadata.name", None,
                               "name or generateName is required"))
    else:
        dns_subdomain(errs, "metadata.name", name)
    annotations = meta.get("annotations") or {}
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > 262144:
        errs.append(FieldError("FieldValueTooLong", "metadata.annotations", None, "must have at most 262144 bytes"))
    for key, value in (meta.get("labels") or {}).items():
        qname = key.split("/")[-1]
        if len(qname) > 63 or not _QNAME.match(qname) or key.count("/") > 1:
            errs.append(FieldError("FieldValueInvalid", "metadata.labels", key, QNAME_MSG))
        if not isinstance(value, str) or len(value) > 63:
            errs.append(FieldError("FieldValueInvalid", "metadata.labels", value,
                                   "must be no more than 63 characters"))
        elif not _LABEL_VALUE.match(value):
            errs.append(FieldError("FieldValueInvalid", "metadata.labels", value, LABEL_VALUE_MSG))
    return errs


def _validate_container(errs, c, path, volumes, names, init):
    name = c.get("name") or ""
    dns_label(errs, path + ".name", name)
    if name and name in names:
        errs.append(FieldError("FieldValueDuplicate", path + ".name", name))
    names.add(name)
    image = c.get("image") or ""
    if not image:
        errs.append(FieldError("FieldValueRequired", path + ".image"))
    elif image != image.strip():
        errs.append(FieldError("FieldValueInvalid", path + ".image", image,
                               "must not have leading or trailing whitespace"))
    policy = c.get("imagePullPolicy")
    if policy and policy not in ("Always", "IfNotPresent", "Never"):
        errs.append(FieldError("FieldValueNotSupported", path + ".imagePullPolicy", policy,
                               _supported(("Always", "IfNotPresent", "Never"))))
    if c.get("restartPolicy") and not init:
        errs.append(FieldError("FieldValueForbidden", path + ".restartPolicy", None,
                               "may not be set for non-init containers"))
    for i, port in enumerate(c.get("ports") or []):
        p = "%s.ports[%d]" % (path, i)
        cp = port.get("containerPort")
        if not cp:
            errs.append(FieldError("FieldValueRequired", p + ".containerPort"))
        elif not isinstance(cp, int) or not 1 <= cp <= 65535:
            errs.append(FieldError("FieldValueInvalid", p + ".containerPort", cp,
                                   "must be between 1 and 65535, inclusive"))
        hp = port.get("hostPort")
        if hp and (not isinstance(hp, int) or not 1 <= hp <= 65535):
            errs.append(FieldError("FieldValueInvalid", p + ".hostPort", hp,
                                   "must be between 1 and 65535, inclusive"))
        proto = port.get("protocol", "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            errs.append(FieldError("FieldValueNotSupported", p + ".protocol", proto,
                                   _supported(("SCTP", "TCP", "UDP"))))
    for i, env in enumerate(c.get("env") or []):
        p = "%s.env[%d]" % (path, i)
        ename = env.get("name") or ""
        if not ename:
            errs.append(FieldError("FieldValueRequired", p + ".name"))
        elif "=" in ename or not all(" " <= ch <= "~" for ch in ename):
            errs.append(FieldError("FieldValueInvalid", p + ".name", ename, ENV_NAME_MSG))
        source = env.get("valueFrom")
        if source:
            if env.get("value"):
                errs.append(FieldError("FieldValueInvalid", p + ".valueFrom", "",
                                       "may not be specified when `value` is not empty"))
            for ref in ("secretKeyRef", "configMapKeyRef"):
                if ref in source:
                    if not (source[ref] or {}).get("key"):
                        errs.append(FieldError("FieldValueRequired", "%s.valueFrom.%s.key" % (p, ref)))
                    if not (source[ref] or {}).get("name"):
                        errs.append(FieldError("FieldValueRequired", "%s.valueFrom.%s.name" % (p, ref)))
    paths = set()
    for i, mount in enumerate(c.get("volumeMounts") or []):
        p = "%s.volumeMounts[%d]" % (path, i)
        mname = mount.get("name") or ""
        if not mname:
            errs.append(FieldError("FieldValueRequired", p + ".name"))
        elif mname not in volumes:
            errs.append(FieldError("FieldValueNotFound", p + ".name", mname))
        mpath = mount.get("mountPath") or ""
        if not mpath:
            errs.append(FieldError("FieldValueRequired", p + ".mountPath"))
        elif mpath in paths:
            errs.append(FieldError("FieldValueInvalid", p + ".mountPath", mpath, "must be unique"))
        paths.add(mpath)
    res = c.get("resources") or {}
    for resource, limit in (res.get("limits") or {}).items():
        request = (res.get("requests") or {}).get(resource)
        if request is not None and quantity(request) > quantity(limit):
            errs.append(FieldError("FieldValueInvalid", "%s.resources.requests" % path, str(request),
                                   "must be less than or equal to %s limit of %s" % (resource, limit)))


def validate_pod(pod):
    errs = validate_meta(pod["metadata"])
    spec = pod.get("spec") or {}
    volumes = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        p = "spec.volumes[%d]" % i
        vname = vol.get("name") or ""
        dns_label(errs, p + ".name", vname)
        if vname and vname in volumes:
            errs.append(FieldError("FieldValueDuplicate", p + ".name", vname))
        volumes.add(vname)
        sources = [s for s in VOLUME_SOURCES if vol.get(s) is not None]
        if not sources:
            errs.append(FieldError("FieldValueRequired", p, None, "must specify a volume type"))
        for extra in sources[1:]:
            errs.append(FieldError("FieldValueForbidden", "%s.%s" % (p, extra), None,
                                   "may not specify more than 1 volume type"))
    names = set()
    for i, c in enumerate(spec.get("initContainers") or []):
        _validate_container(errs, c, "spec.initContainers[%d]" % i, volumes, names, True)
    containers = spec.get("containers") or []
    if not containers:
        errs.append(FieldError("FieldValueRequired", "spec.containers"))
    for i, c in enumerate(containers):
        _validate_container(errs, c, "spec.containers[%d]" % i, volumes, names, False)
    policy = spec.get("restartPolicy", "Always")
    if policy not in ("Always", "OnFailure", "Never"):
        errs.append(FieldError("FieldValueNotSupported", "spec.restartPolicy", policy,
                               _supported(("Always", "OnFailure", "Never"))))
    dns = spec.get("dnsPolicy", "ClusterFirst")
    if dns not in ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"):
        errs.append(FieldError("FieldValueNotSupported", "spec.dnsPolicy", dns,
                               _supported(("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"))))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or deadline < 1):
        errs.append(FieldError("FieldValueInvalid", "spec.activeDeadlineSeconds", deadline,
                               "must be between 1 and 2147483647, inclusive"))
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and not isinstance(grace, int):
        errs.append(FieldError("FieldValueInvalid", "spec.terminationGracePeriodSeconds", grace,
                               "must be an integer"))
    return errs


MUTABLE_NOTE = ("pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                "(allow it to be set to 1 if it was previously negative)")


def validate_pod_update(old, new):
    """Field errors for changes an update may not make."""
    errs = validate_meta(new["metadata"])
    a, b = json.loads(json.dumps(old["spec"])), json.loads(json.dumps(new["spec"]))
    for spec in (a, b):
        for c in all_containers({"spec": spec}):
            c.pop("image", None)
        spec.pop("activeDeadlineSeconds", None)
        spec.pop("tolerations", None)
    if a != b:
        errs.append(FieldError("FieldValueForbidden", "spec", None, MUTABLE_NOTE))
    return errs


# --- defaults -----------------------------------------------------------------
def _pull_policy(image):
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return "IfNotPresent"
    tag = name.split(":", 1)[1] if ":" in name else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_container(c, token_mount):
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", _pull_policy(c.get("image", "")))
    res = c.setdefault("resources", {})
    if res.get("limits"):
        requests = res.setdefault("requests", {})
        for k, v in res["limits"].items():
            requests.setdefault(k, v)
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    if token_mount:
        mounts = c.setdefault("volumeMounts", [])
        if not any(m.get("mountPath") == token_mount["mountPath"] for m in mounts):
            mounts.append(dict(token_mount))


def qos_class(pod):
    containers = all_containers(pod)
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or quantity(req.get(r, lim[r])) != quantity(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def default_pod(pod, suffix):
    """Fill API-server and admission defaults; ``suffix`` names the token volume."""
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = sa
    spec["serviceAccount"] = sa
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for taint in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == taint for t in tolerations):
            tolerations.append({"key": taint, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": 300})
    token_mount = None
    if spec.get("automountServiceAccountToken") is not False:
        vname = "kube-api-access-" + suffix
        spec.setdefault("volumes", []).append({"name": vname, "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
            "defaultMode": 420}})
        token_mount = {"name": vname, "readOnly": True,
                       "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    for vol in spec.get("volumes") or []:
        for kind in ("secret", "configMap"):
            if isinstance(vol.get(kind), dict):
                vol[kind].setdefault("defaultMode", 420)
    for c in all_containers(pod):
        _default_container(c, token_mount)
    pod["status"] = {"phase": "Pending", "qosClass": qos_class(pod)}


def validate_pvc(pvc):
    errs = validate_meta(pvc["metadata"])
    spec = pvc.get("spec") or {}
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(FieldError("FieldValueRequired", "spec.accessModes", None,
                               "at least 1 access mode is required"))
    for mode in modes:
        if mode not in ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"):
            errs.append(FieldError("FieldValueNotSupported", "spec.accessModes", mode,
                                   _supported(("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                               "ReadWriteOncePod"))))
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        errs.append(FieldError("FieldValueRequired", "spec.resources[storage]"))
    return errs


def default_pvc(pvc):
    spec = pvc.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    spec.setdefault("storageClassName", "standard")
    pvc["status"] = {"phase": "Pending"}
