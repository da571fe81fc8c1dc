"""Authentication (bearer tokens, client certificates, exec-plugin tokens) and RBAC.

Identities:

=================================  ==========================================  ==========================
credential                         user                                        rights
=================================  ==========================================  ==========================
token ``token-admin``              ``admin`` (group ``system:masters``)        everything
client cert ``admin.crt``          ``admin`` (O=``system:masters``)            everything
token ``token-restricted``         ``restricted``                              get/list/watch pods, get
                                                                               pods/log, events in ``ci``
token ``sa-token``                 ``system:serviceaccount:ci:kubeagent``      the Role of reference §8
client cert in ``client*.p12``     ``cert-user``                               the same Role
exec plugin token                  ``exec-user``                               the same Role
=================================  ==========================================  ==========================

Every authenticated user may create selfsubjectaccessreviews and
selfsubjectreviews.  Rules can be added at run time (admin ``/rbac``).
Client certificates are verified by the TLS layer against the cluster CA; the
subject CN is the user and each O a group, as in kube-apiserver.

Exec-plugin tokens are ``kse.<unix expiry>.<hex HMAC-SHA256(key, expiry)>``:
self-describing, so the plugin script can mint them and the server rejects
them once expired.
"""

import hashlib
import hmac
import os
import secrets
import time

import urllib.parse

from kstatus import ApiError, forbidden

AGENT_ROLE = [
    ("", "pods", ("create", "delete", "get", "list", "watch", "patch")),
    ("", "pods/exec", ("create", "get")),
    ("", "pods/log", ("get",)),
    ("", "events", ("get", "list", "watch")),
    ("", "secrets", ("get",)),
]
RESTRICTED_ROLE = [
    ("", "pods", ("get", "list", "watch")),
    ("", "pods/log", ("get",)),
    ("", "events", ("get", "list", "watch")),
]
SELF_REVIEWS = [
    ("authorization.k8s.io", "selfsubjectaccessreviews", ("create",)),
    ("authorization.k8s.io", "selfsubjectrulesreviews", ("create",)),
    ("authentication.k8s.io", "selfsubjectreviews", ("create",)),
]
SA_USER = "system:serviceaccount:ci:kubeagent"
TOKEN_FILES = {"admin": "token-admin", "restricted": "token-restricted", "sa": "sa-token"}


class User:
    __slots__ = ("name", "groups", "uid", "extra")

    def __init__(self, name, groups=(), uid=None, extra=None):
        self.name = name
        self.groups = list(groups) + ([] if "system:authenticated" in groups else ["system:authenticated"])
        self.uid = uid
        self.extra = extra or {}


class Rule:
    __slots__ = ("subject", "namespace", "group", "resource", "verbs", "names")

    def __init__(self, subject, namespace, group, resource, verbs, names=None):
        self.subject = subject
        self.namespace = namespace
        self.group = group
        self.resource = resource
        self.verbs = set(verbs)
        self.names = set(names) if names else None   # resourceNames; None = any

    def allows(self, user, verb, group, resource, namespace, name=None):
        kind, who = self.subject
        if kind == "user" and who != user.name:
            return False
        if kind == "group" and who not in user.groups:
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        if self.names is not None and name not in self.names:
            return False
        return ((self.group in ("*", group)) and (self.resource in ("*", resource))
                and ("*" in self.verbs or verb in self.verbs))


class Auth:
    def __init__(self, statedir):
        self.statedir = statedir
        self.tokens = {}          # token -> (User, expires_at or None)
        self.current = {}         # name -> token
        self.users = {"admin": User("admin", ["system:masters"]),
                      "restricted": User("restricted"),
                      "sa": User(SA_USER, ["system:serviceaccounts", "system:serviceaccounts:ci"])}
        self.exec_key = self._load_or_make("exec-plugin.key")
        self.rules = [Rule(("group", "system:masters"), None, "*", "*", ["*"])]
        for group, resource, verbs in SELF_REVIEWS:
            self.rules.append(Rule(("group", "system:authenticated"), None, group, resource, verbs))
        for who in (SA_USER, "cert-user", "exec-user"):
            for group, resource, verbs in AGENT_ROLE:
                self.rules.append(Rule(("user", who), "ci", group, resource, verbs))
        for group, resource, verbs in RESTRICTED_ROLE:
            self.rules.append(Rule(("user", "restricted"), "ci", group, resource, verbs))
        for name, fname in TOKEN_FILES.items():
            token = self._load_or_make(fname)
            self.current[name] = token
            self.tokens[token] = (self.users[name], None)
        self._write_token("sa", self.current["sa"])

    def _load_or_make(self, fname):
        path = os.path.join(self.statedir, fname)
        try:
            with open(path) as f:
                value = f.read().strip()
            if value:
                return value
        except OSError:
            pass
        value = secrets.token_hex(24)
        _atomic_write(path, value + "\n")
        return value

    def _write_token(self, name, token):
        _atomic_write(os.path.join(self.statedir, TOKEN_FILES[name]), token + "\n")
        if name == "sa":
            os.makedirs(os.path.join(self.statedir, "incluster"), exist_ok=True)
            _atomic_write(os.path.join(self.statedir, "incluster", "token"), token + "\n")

    def rotate(self, name, grace_seconds=0.0):
        """Replace token ``name``; the old one stays valid for ``grace_seconds``."""
        name = {fname: key for key, fname in TOKEN_FILES.items()}.get(name, name)
        if name not in self.current:
            raise KeyError(name)
        old = self.current[name]
        user = self.tokens[old][0]
        self.tokens[old] = (user, time.time() + grace_seconds)
        token = secrets.token_hex(24)
        self.current[name] = token
        self.tokens[token] = (user, None)
        self._write_token(name, token)
        return token

    # --- authentication ----------------------------------------------------
    def authenticate(self, req):
        """The requesting User, or None (=> 401).  The client certificate wins
        over a bearer token, as kube-apiserver orders its authenticators."""
        cert = req.peer_cert()
        if cert:
            return _cert_user(cert)
        header = req.headers.get("authorization", "")
        if not header[:7].lower() == "bearer ":
            return None
        token = header[7:].strip()
        entry = self.tokens.get(token)
        if entry:
            user, expires = entry
            if expires is not None and time.time() > expires:
                del self.tokens[token]
                return None
            return user
        if token.startswith("kse."):
            return self._exec_user(token)
        return None

    def _exec_user(self, token):
        try:
            _, expiry, sig = token.split(".")
            expires = int(expiry)
        except ValueError:
            return None
        want = hmac.new(self.exec_key.encode(), expiry.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig) or time.time() > expires:
            return None
        return User("exec-user")

    # --- authorization -----------------------------------------------------
    def allowed(self, user, verb, group, resource, namespace, name=None):
        return any(r.allows(user, verb, group, resource, namespace, name) for r in self.rules)

    def check(self, user, verb, group, resource, subresource, namespace, name):
        """Raise the API server's 403 if ``user`` may not do this."""
        full = resource + ("/" + subresource if subresource else "")
        if self.allowed(user, verb, group, full, namespace, name or None):
            return
        where = ('in the namespace "%s"' % namespace) if namespace else "at the cluster scope"
        raise forbidden(resource, name, 'User "%s" cannot %s resource "%s" in API group "%s" %s'
                        % (user.name, verb, full, group, where), group)

    def grant(self, subject, namespace, group, resources, verbs, names=None):
        for resource in resources:
            self.rules.append(Rule(subject, namespace, group, resource, verbs, names))

    # --- impersonation -----------------------------------------------------
    def impersonate(self, user, headers):
        """The user a request acts as: ``user`` itself, or whom its
        Impersonate-* headers name once ``user`` may impersonate each of
        them (kube-apiserver's WithImpersonation).  Raises the real 403, or
        500 for groups, extra or uid without a user.  Repeated headers
        arrive joined with ", " (simhttp), so values are split there."""
        def values(name):
            v = headers.get(name)
            return [x for x in v.split(", ")] if v else []
        requested = []           # (kind, namespace, name, extra key)
        name = headers.get("impersonate-user", "")
        if name:
            parts = name.split(":")
            if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"] and parts[2] and parts[3]:
                requested.append(("ServiceAccount", parts[2], parts[3], None))
            else:
                requested.append(("User", None, name, None))
        requested += [("Group", None, g, None) for g in values("impersonate-group")]
        for header in sorted(headers):
            if header.startswith("impersonate-extra-"):
                key = urllib.parse.unquote(header[len("impersonate-extra-"):])
                requested += [("UserExtra", None, v, key) for v in values(header)]
        uid = headers.get("impersonate-uid", "")
        if uid:
            requested.append(("UID", None, uid, None))
        if not requested:
            return user
        if not name:
            raise ApiError(500, "Internal Server Error: requested %s without impersonating a user"
                           % ", ".join("%s %s" % (k, n) for k, _, n, _ in requested), "InternalError", {})
        username, groups, extra, groups_given = name, [], {}, bool(values("impersonate-group"))
        for kind, ns, obj, key in requested:
            if kind == "ServiceAccount":
                self.check(user, "impersonate", "", "serviceaccounts", None, ns, obj)
                if not groups_given:
                    groups += ["system:serviceaccounts", "system:serviceaccounts:" + ns]
            elif kind == "User":
                self.check(user, "impersonate", "", "users", None, None, obj)
            elif kind == "Group":
                self.check(user, "impersonate", "", "groups", None, None, obj)
                groups.append(obj)
            elif kind == "UserExtra":
                self.check(user, "impersonate", "authentication.k8s.io", "userextras", key, None, obj)
                extra.setdefault(key, []).append(obj)
            else:
                self.check(user, "impersonate", "authentication.k8s.io", "uids", None, None, obj)
        return User(username, groups, uid or None, extra)


def _cert_user(cert):
    name, groups = None, []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    return User(name, groups) if name else None


def _atomic_write(path, text, mode=0o600):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
