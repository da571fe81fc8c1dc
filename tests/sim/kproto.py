"""Just enough Kubernetes protobuf to read the review requests kubectl sends that way.

``kubectl auth can-i`` and ``kubectl auth whoami`` POST their bodies as
``application/vnd.kubernetes.protobuf``: the ``k8s\\0`` magic, then a
``runtime.Unknown`` whose ``raw`` field holds the object.  ``review_spec``
turns such a body into the JSON ``spec`` of a SelfSubjectAccessReview.
Answers are sent as JSON, which the client also accepts.
"""

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


def _fields(data):
    """Yield ``(field number, value)``; length-delimited values are bytes."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i:i + size], i + size
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire)
        yield number, value


def _varint(data, i):
    shift = result = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated protobuf varint")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def unwrap(body):
    """The ``raw`` object bytes of a protobuf-encoded request body."""
    if not body.startswith(MAGIC):
        raise ValueError("missing protobuf magic")
    for number, value in _fields(body[len(MAGIC):]):
        if number == 2:
            return value
    return b""


RESOURCE_ATTRS = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}
NON_RESOURCE_ATTRS = {1: "path", 2: "verb"}


def review_spec(body):
    spec = {}
    for number, value in _fields(unwrap(body)):
        if number != 2:
            continue
        for sub, attrs in _fields(value):
            names = RESOURCE_ATTRS if sub == 1 else NON_RESOURCE_ATTRS if sub == 2 else None
            if names is None:
                continue
            key = "resourceAttributes" if sub == 1 else "nonResourceAttributes"
            spec[key] = {names[n]: v.decode() for n, v in _fields(attrs) if n in names}
    return spec
