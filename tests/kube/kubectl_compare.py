#!/usr/bin/env python3
"""kubeconfig resolution: kubeagent against the real kubectl.

For a corpus of kubeconfigs (several files through KUBECONFIG, --kubeconfig
alone, relative paths, same names in several files, contexts, namespaces,
a missing file in the list), kubeagent's kubeconfig plugin (through
tests/kube/kcresolve) must resolve the same server, user credentials and
namespace, proxy-url and impersonation (as, as-uid, as-groups,
as-user-extra) as `kubectl config view --minify --flatten -o json`.  kubectl is
taken from PATH; without it the test is skipped.  Prints TAP.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

TOP_BUILD = os.environ.get("top_builddir", ".")
RESOLVE = os.path.join(TOP_BUILD, "tests", "kube", "kcresolve")
n = 0
failed = 0


def ok(cond, name, diag=None):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, name))
    if not cond:
        failed += 1
        if diag:
            for line in str(diag).splitlines():
                print("# " + line)


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(d):
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=ca", cwd=d)
    for who in ("alice", "bob"):
        openssl("req", "-x509", *key, "-keyout", who + ".key", "-out", who + ".crt", "-days", "30",
                "-subj", "/CN=" + who, cwd=d)


def b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def corpus(d):
    """(name, env KUBECONFIG or None, --kubeconfig or None, --context or None, token files by user)"""
    write(d + "/tokens/t1", "token-from-file-1\n")
    write(d + "/a/config", """apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster: {server: "https://a.example:6443", certificate-authority: ../ca.crt}
- name: only-a
  cluster: {server: "https://only-a.example/prefix/", insecure-skip-tls-verify: true}
users:
- name: alice
  user: {client-certificate: ../alice.crt, client-key: ../alice.key}
- name: tok
  user: {token: inline-token-a}
contexts:
- name: ctx-a
  context: {cluster: shared, user: alice, namespace: team-a}
- name: ctx-nons
  context: {cluster: only-a, user: tok}
""")
    write(d + "/b/nested/config", """apiVersion: v1
kind: Config
current-context: ctx-b
clusters:
- name: shared
  cluster: {server: "https://b.example:6443"}
- name: only-b
  cluster: {server: "https://10.0.0.2:443", certificate-authority-data: %s, tls-server-name: api.internal}
users:
- name: alice
  user: {token: should-not-win}
- name: bob
  user: {client-certificate-data: %s, client-key-data: %s}
- name: filetok
  user: {tokenFile: ../../tokens/t1}
contexts:
- name: ctx-b
  context: {cluster: only-b, user: bob, namespace: team-b}
- name: ctx-file
  context: {cluster: shared, user: filetok, namespace: team-f}
- name: ctx-a
  context: {cluster: only-b, user: bob, namespace: loser}
""" % (b64(d + "/ca.crt"), b64(d + "/bob.crt"), b64(d + "/bob.key")))
    write(d + "/c/config", """apiVersion: v1
kind: Config
current-context: ctx-c
clusters:
- name: c
  cluster: {server: "https://c.example:8443", certificate-authority: ca-c.crt}
users:
- name: basic
  user: {username: admin, password: pa55word}
contexts:
- name: ctx-c
  context: {cluster: c, user: basic, namespace: team-c}
- name: ctx-nouser
  context: {cluster: c, namespace: anon}
""")
    write(d + "/p/config", """apiVersion: v1
kind: Config
current-context: ctx-http
clusters:
- name: via-http
  cluster: {server: "https://p.example:6443", proxy-url: "http://user:proxy-pass@proxy.example:3128"}
- name: via-socks
  cluster: {server: "https://10.0.0.9:6443", proxy-url: "socks5://proxy.example:1080", insecure-skip-tls-verify: true}
users:
- name: imp
  user:
    token: imp-token
    as: alice
    as-uid: "1234"
    as-groups: [team-a, team-b]
    as-user-extra: {scopes: [openid, profile], "acme.com/project": [p1]}
- name: shared-imp
  user: {token: from-p, as: carol}
contexts:
- name: ctx-http
  context: {cluster: via-http, user: imp, namespace: team-p}
- name: ctx-socks
  context: {cluster: via-socks, user: shared-imp}
""")
    write(d + "/q/config", """apiVersion: v1
kind: Config
current-context: ctx-q
clusters:
- name: via-socks
  cluster: {server: "https://q.example:6443", proxy-url: "http://should-not-win:1"}
users:
- name: shared-imp
  user: {token: from-q, as: mallory, as-groups: [should-not-win]}
- name: q-user
  user: {client-certificate: ../alice.crt, client-key: ../alice.key, as: "system:serviceaccount:ci:kubeagent"}
contexts:
- name: ctx-q
  context: {cluster: via-socks, user: q-user, namespace: team-q}
""")
    shutil.copy(d + "/ca.crt", d + "/c/ca-c.crt")
    a, b, c = d + "/a/config", d + "/b/nested/config", d + "/c/config"
    p, q = d + "/p/config", d + "/q/config"
    missing = d + "/missing/config"
    files = {"filetok": d + "/b/nested"}
    return files, [
        ("two files: current-context from the second, cluster name from the first", a + ":" + b, None, None),
        ("two files: --context defined in both, the first wins", a + ":" + b, None, "ctx-a"),
        ("two files in the other order: the context of the first file wins", b + ":" + a, None, "ctx-a"),
        ("tokenFile relative to its file", a + ":" + b, None, "ctx-file"),
        ("no namespace in the context", a + ":" + b, None, "ctx-nons"),
        ("a missing file in the list is skipped", missing + ":" + c, None, None),
        ("basic auth", c + ":" + a, None, None),
        ("a context without a user", c, None, "ctx-nouser"),
        ("--kubeconfig alone ignores KUBECONFIG", a + ":" + c, b, None),
        ("--kubeconfig with --context", None, b, "ctx-file"),
        ("three files, data fields and tls-server-name", a + ":" + c + ":" + b, None, "ctx-b"),
        ("duplicate entries in KUBECONFIG", c + ":" + c + ":" + a, None, None),
        ("proxy-url with credentials, and every impersonation field", None, p, None),
        ("socks5 proxy-url, impersonation from the first file only", p + ":" + q, None, "ctx-socks"),
        ("proxy-url and as from the first file's entries, a certificate user", q + ":" + p, None, None),
    ]


def kubectl(env, path, context):
    cmd = ["kubectl", "config", "view", "--minify", "--flatten", "-o", "json"]
    if path:
        cmd += ["--kubeconfig", path]
    if context:
        cmd += ["--context", context]
    res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    if res.returncode != 0:
        return None, res.stderr.strip()
    return json.loads(res.stdout), None


def ours(env, path, context):
    # through the test wrapper: under make check-valgrind, valgrind's report
    # is on stderr and the exit status is 99
    cmd = ["sh", os.path.join(os.environ.get("top_srcdir", "."), "tests", "testwrapper.sh"), RESOLVE]
    if path:
        cmd += ["--kubeconfig", path]
    if context:
        cmd += ["--context", context]
    res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    if res.returncode == 99:
        return {"error": "memory errors or leaks under valgrind:\n" + res.stderr}
    try:
        return json.loads(res.stdout)
    except ValueError:
        return {"error": "no JSON: " + res.stdout + res.stderr}


def pem(data_b64):
    return base64.b64decode(data_b64).decode() if data_b64 else None


def compare(name, want, got, token_dirs):
    if "error" in got:
        ok(False, name + ": kubeagent resolves it", got["error"])
        return
    cluster = want["clusters"][0]["cluster"]
    ctx = want["contexts"][0]["context"]
    users = want.get("users") or [{"name": None, "user": {}}]
    user_name, user = users[0]["name"], users[0]["user"]
    ok(got.get("server") == cluster["server"].rstrip("/"), name + ": server",
       "kubectl %s, kubeagent %s" % (cluster["server"], got.get("server")))
    ok((got.get("namespace") or "default") == (ctx.get("namespace") or "default"), name + ": namespace",
       "kubectl %s, kubeagent %s" % (ctx.get("namespace"), got.get("namespace")))
    ok(got.get("ca") == pem(cluster.get("certificate-authority-data")), name + ": cluster CA")
    ok(got.get("insecure") == bool(cluster.get("insecure-skip-tls-verify")), name + ": insecure flag")
    ok(got.get("tlsServerName") == cluster.get("tls-server-name"), name + ": tls-server-name")
    token = user.get("token")
    if user.get("tokenFile"):
        with open(os.path.join(token_dirs[user_name], user["tokenFile"])) as f:
            token = f.read().strip()
    ok(got.get("token") == token, name + ": token", "kubectl %r, kubeagent %r" % (token, got.get("token")))
    ok(got.get("clientCertificate") == pem(user.get("client-certificate-data")), name + ": client certificate")
    ok(got.get("clientKey") == pem(user.get("client-key-data")), name + ": client key")
    ok(got.get("username") == user.get("username") and got.get("password") == user.get("password"),
       name + ": basic auth")
    ok(got.get("proxyUrl") == cluster.get("proxy-url"), name + ": proxy-url",
       "kubectl %s, kubeagent %s" % (cluster.get("proxy-url"), got.get("proxyUrl")))
    ok(got.get("as") == user.get("as") and got.get("asUid") == user.get("as-uid"), name + ": as, as-uid",
       "kubectl %s/%s, kubeagent %s/%s" % (user.get("as"), user.get("as-uid"), got.get("as"), got.get("asUid")))
    ok(got.get("asGroups") == user.get("as-groups"), name + ": as-groups",
       "kubectl %s, kubeagent %s" % (user.get("as-groups"), got.get("asGroups")))
    ok(got.get("asUserExtra") == user.get("as-user-extra"), name + ": as-user-extra",
       "kubectl %s, kubeagent %s" % (user.get("as-user-extra"), got.get("asUserExtra")))
    desc = got.get("description", "")
    ok(("user %s)" % user_name) in desc if user_name else "user -)" in desc, name + ": the same user entry",
       "kubectl user %s; kubeagent: %s" % (user_name, desc))


def main():
    if not shutil.which("kubectl"):
        print("1..0 # SKIP kubectl is not on PATH (Debian: kubernetes-client)")
        return 0
    if not os.access(RESOLVE, os.X_OK):
        print("1..0 # SKIP %s is not built" % RESOLVE)
        return 0
    d = tempfile.mkdtemp(prefix="ka-kubectl-")
    try:
        make_pki(d)
        token_dirs, cases = corpus(d)
        for name, kubeconfig_env, path, context in cases:
            env = dict(os.environ, HOME=d + "/home")
            env.pop("KUBERNETES_SERVICE_HOST", None)
            if kubeconfig_env:
                env["KUBECONFIG"] = kubeconfig_env
            else:
                env.pop("KUBECONFIG", None)
            want, why = kubectl(env, path, context)
            if want is None:
                ok(False, name + ": kubectl resolves it", why)
                continue
            compare(name, want, ours(env, path, context), token_dirs)
        # both refuse what cannot be resolved
        env = dict(os.environ, HOME=d + "/home", KUBECONFIG=d + "/a/config")
        want, why = kubectl(env, None, "nosuch")
        got = ours(env, None, "nosuch")
        ok(want is None and "error" in got and 'context "nosuch" does not exist' in got["error"],
           "an unknown context is refused by both", "kubectl: %s; kubeagent: %s" % (why, got))
    finally:
        shutil.rmtree(d)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
