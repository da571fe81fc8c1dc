"""Kubernetes ``Status`` error bodies and the JSON/time helpers every module uses.

``ApiError`` carries a ready-made Status; handlers raise it and the router turns
it into a response.  The constructors mirror apimachinery's ``NewNotFound``,
``NewAlreadyExists``, ``NewInvalid``... including their message texts.
"""

import datetime
import json
import time

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(obj):
    """Compact JSON as bytes."""
    return _encoder.encode(obj).encode()


REASON_BY_CODE = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


def status_body(code, message, reason=None, details=None, metadata=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {},
            "status": "Failure", "message": message}
    reason = REASON_BY_CODE.get(code, "") if reason is None else reason
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = details
    body["code"] = code
    return body


class ApiError(Exception):
    def __init__(self, code, message, reason=None, details=None, headers=(), metadata=None):
        super().__init__(message)
        self.code = code
        self.headers = tuple(headers)
        self.body = status_body(code, message, reason, details, metadata)


def _details(name, kind, group=""):
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = kind
    return d


def not_found(resource, name, group=""):
    gr = resource + ("." + group if group else "")
    return ApiError(404, '%s "%s" not found' % (gr, name), details=_details(name, resource, group))


def already_exists(resource, name, group=""):
    gr = resource + ("." + group if group else "")
    return ApiError(409, '%s "%s" already exists' % (gr, name), "AlreadyExists",
                    _details(name, resource, group))


def conflict(resource, name, why):
    return ApiError(409, 'Operation cannot be fulfilled on %s "%s": %s' % (resource, name, why),
                    "Conflict", _details(name, resource))


def bad_request(message):
    return ApiError(400, message, "BadRequest")


def gone(message, metadata=None):
    return ApiError(410, message, "Expired", metadata=metadata)


def forbidden(resource, name, reason_text, group=""):
    gr = resource + ("." + group if group else "")
    prefix = '%s "%s"' % (gr, name) if name else gr
    return ApiError(403, "%s is forbidden: %s" % (prefix, reason_text), "Forbidden",
                    _details(name, resource, group))


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def too_large_rv(requested, current):
    return ApiError(504, "Too large resource version: %s, current: %d" % (requested, current),
                    "Timeout", {"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}],
                                "retryAfterSeconds": 1})


class FieldError:
    """One entry of a field.ErrorList; ``body()`` is Go's ``ErrorBody()``."""

    TYPES = {
        "FieldValueNotFound": "Not found", "FieldValueRequired": "Required value",
        "FieldValueDuplicate": "Duplicate value", "FieldValueInvalid": "Invalid value",
        "FieldValueNotSupported": "Unsupported value", "FieldValueForbidden": "Forbidden",
        "FieldValueTooLong": "Too long", "FieldValueTooMany": "Too many",
    }
    NO_VALUE = ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong")

    def __init__(self, kind, field, value=None, detail=""):
        self.kind = kind
        self.field = field
        self.value = value
        self.detail = detail

    def body(self):
        text = self.TYPES[self.kind]
        if self.kind not in self.NO_VALUE:
            text += ": " + go_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self):
        return "%s: %s" % (self.field, self.body())


def go_value(value):
    """Render a value the way ``%#v``-ish field errors print it."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def invalid(kind, name, errors, resource=None):
    if len(errors) == 1:
        agg = str(errors[0])
    else:
        agg = "[" + ", ".join(str(e) for e in errors) + "]"
    details = {"name": name, "kind": kind,
               "causes": [{"reason": e.kind, "message": e.body(), "field": e.field} for e in errors]}
    return ApiError(422, '%s "%s" is invalid: %s' % (kind, name, agg), "Invalid", details)


def rfc3339(ts=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if ts is None else ts))


def rfc3339nano(ts):
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d000Z" % dt.microsecond


def parse_rfc3339(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
