"""Label and field selectors (list/watch ``labelSelector`` and ``fieldSelector``).

Both parsers return a predicate ``match(obj) -> bool`` or raise a 400 ApiError
with the API server's wording.  Label selectors support ``=``, ``==``, ``!=``,
``in``, ``notin``, existence and ``!key``; field selectors ``=``, ``==`` and
``!=`` on the fields each kind declares in ``FIELDS``.
"""

import re

from kstatus import bad_request

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                  r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)")


def _always(obj):
    return True


def _tokens(text):
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            break
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _fail(text, why):
    return bad_request('unable to parse requirement: %s' % why if text is None
                       else 'couldn\'t parse the selector string "%s": unable to parse requirement: %s'
                       % (text, why))


def parse_labels(text):
    """Parse a label selector; returns a predicate on objects."""
    if text is None or not text.strip():
        return _always
    toks = _tokens(text)
    reqs = []
    i = 0
    while i < len(toks):
        negate = toks[i] == "!"
        if negate:
            i += 1
        if i >= len(toks):
            raise _fail(text, "found '', expected: identifier")
        key = toks[i]
        if not _KEY.match(key) or len(key.split("/")[-1]) > 63:
            raise _fail(text, 'key: Invalid value: "%s": name part must consist of alphanumeric '
                        "characters, '-', '_' or '.', and must start and end with an alphanumeric character" % key)
        i += 1
        op = toks[i] if i < len(toks) else ","
        if negate:
            if op != ",":
                raise _fail(text, "found '%s', expected: ','" % op)
            reqs.append(("!", key, None))
        elif op == ",":
            reqs.append(("exists", key, None))
        elif op in ("=", "==", "!="):
            i += 1
            value = toks[i] if i < len(toks) and toks[i] not in (",", "(", ")") else ""
            if value:
                i += 1
            if not _VALUE.match(value) or len(value) > 63:
                raise _fail(text, 'values[0][%s]: Invalid value: "%s": a valid label must be an empty string '
                            "or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                            "with an alphanumeric character" % (key, value))
            reqs.append(("!=" if op == "!=" else "=", key, value))
        elif op in ("in", "notin"):
            i += 1
            if i >= len(toks) or toks[i] != "(":
                raise _fail(text, "found '%s', expected: '('" % (toks[i] if i < len(toks) else ""))
            i += 1
            values = set()
            while i < len(toks) and toks[i] != ")":
                if toks[i] != ",":
                    values.add(toks[i])
                i += 1
            if i >= len(toks):
                raise _fail(text, "found '', expected: ')'")
            i += 1
            reqs.append((op, key, values))
        else:
            raise _fail(text, "found '%s', expected: in, notin, =, ==, !=, gt, lt" % op)
        if i < len(toks):
            if toks[i] != ",":
                raise _fail(text, "found '%s', expected: ','" % toks[i])
            i += 1
    return lambda obj: _labels_match(reqs, obj["metadata"].get("labels") or {})


def _labels_match(reqs, labels):
    for op, key, value in reqs:
        present = key in labels
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and present and labels[key] == value:
            return False
        if op == "in" and (not present or labels[key] not in value):
            return False
        if op == "notin" and present and labels[key] in value:
            return False
    return True


def _path(obj, dotted):
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


FIELDS = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"),
    "persistentvolumeclaims": (),
    "namespaces": ("status.phase",),
    "nodes": ("spec.unschedulable",),
}


def _field_value(obj, field):
    if field == "source":
        return (obj.get("source") or {}).get("component", "")
    if field == "spec.hostNetwork":
        return _text(bool(_path(obj, field)))
    return _text(_path(obj, field))


def parse_fields(text, resource):
    """Parse a field selector for ``resource``; unknown fields are a 400."""
    if text is None or not text.strip():
        return _always
    allowed = ("metadata.name", "metadata.namespace") + FIELDS.get(resource, ())
    reqs = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        for op in ("!=", "==", "="):
            if op in part:
                field, value = part.split(op, 1)
                break
        else:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (text, part))
        field = field.strip()
        if field not in allowed:
            raise bad_request("field label not supported: %s" % field)
        reqs.append((op != "!=", field, value.strip()))
    return lambda obj: all((_field_value(obj, f) == v) == eq for eq, f, v in reqs)
