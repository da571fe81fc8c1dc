"""PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch, JSON patch (RFC 6902).

Strategic merge follows the Pod schema's patch strategies for the lists the
simulator cares about (containers, volumes, env, ports, mounts... merged by
their key) and supports the ``$patch: delete|replace`` directives; every
other list is replaced, like merge patch.
"""

import copy
import json

from kstatus import ApiError, bad_request

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "volumeMounts": "mountPath", "ports": "containerPort",
    "imagePullSecrets": "name", "ownerReferences": "uid", "conditions": "type",
    "containerStatuses": "name", "initContainerStatuses": "name",
}


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, MERGE_KEYS[key])
        else:
            result[key] = strategic_merge(result.get(key), value)
    return result


def _merge_list(current, patch, key):
    out = [copy.deepcopy(x) for x in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise bad_request("map: %s does not contain declared merge key: %s" % (item, key))
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
        elif idx is None:
            out.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request("invalid JSON pointer: %s" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    for p in parts:
        if isinstance(doc, list):
            doc = doc[int(p)]
        else:
            doc = doc[p]
    return doc


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        try:
            parts = _pointer(op.get("path", ""))
            parent, last = (_walk(doc, parts[:-1]), parts[-1]) if parts else (None, None)
            if kind in ("add", "replace", "test") and "value" not in op:
                raise bad_request("Unexpected kind: missing value")
            if kind == "test":
                if _walk(doc, parts) != op["value"]:
                    raise ApiError(422, "the server rejected our request due to an error in our request",
                                   "Invalid")
            elif kind == "remove":
                _remove(parent, last)
            elif kind in ("add", "replace"):
                if kind == "replace":
                    _walk(doc, parts)
                _set(parent, last, copy.deepcopy(op["value"]), kind == "add")
            elif kind in ("move", "copy"):
                src = _pointer(op.get("from", ""))
                value = copy.deepcopy(_walk(doc, src))
                if kind == "move":
                    _remove(_walk(doc, src[:-1]), src[-1])
                _set(parent, last, value, True)
            else:
                raise bad_request("Unexpected kind: %s" % kind)
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, "the server rejected our request due to an error in our request",
                           "Invalid", {"causes": [{"reason": "FieldValueInvalid",
                                                   "message": "jsonpatch %s operation does not apply: doc is "
                                                   "missing path: %s" % (kind, op.get("path"))}]}) from None
    return doc


def _remove(parent, last):
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        del parent[last]


def _set(parent, last, value, insert):
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif insert:
            parent.insert(int(last), value)
        else:
            parent[int(last)] = value
    else:
        parent[last] = value


PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def apply(content_type, current, body):
    """Apply a PATCH body of ``content_type`` to ``current`` (a dict)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in PATCH_TYPES:
        raise ApiError(415, "the body of the request was in an unknown format - accepted media types "
                            "include: " + ", ".join(PATCH_TYPES), "UnsupportedMediaType")
    try:
        patch = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        if ctype == "application/apply-patch+yaml":
            raise ApiError(415, "the simulator accepts apply patches only in JSON form",
                           "UnsupportedMediaType") from None
        raise bad_request("error decoding patch: invalid JSON") from None
    if ctype == "application/json-patch+json":
        return json_patch(current, patch)
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                          % type(patch).__name__)
    if ctype == "application/merge-patch+json":
        return merge_patch(current, patch)
    return strategic_merge(current, patch)
