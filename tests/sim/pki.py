"""Certificates (via the ``openssl`` command), kubeconfigs and the in-cluster directory.

``ensure_pki(dir)`` creates whatever is missing (keys are EC P-256 for speed);
an existing state directory keeps its CA and certificates across restarts of
the simulator.  ``write_client_files(dir, port)`` rewrites everything that
names the API port: the kubeconfigs, ``incluster/env`` and the exec plugin.
"""

import base64
import os
import secrets
import subprocess
import tempfile

from auth import _atomic_write

KEY_OPTS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def _openssl(*args, cwd):
    res = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], res.stderr.strip()))


def _ca(d, name, cn):
    _openssl("req", "-x509", *KEY_OPTS, "-keyout", name + ".key", "-out", name + ".crt",
             "-days", "3650", "-subj", "/CN=" + cn,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", cwd=d)


def _leaf(d, name, subj, ext, ca="ca"):
    _openssl("req", "-new", *KEY_OPTS, "-keyout", name + ".key", "-out", name + ".csr",
             "-subj", subj, cwd=d)
    with tempfile.NamedTemporaryFile("w", dir=d, suffix=".ext", delete=False) as f:
        f.write(ext)
    try:
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
                 "-set_serial", str(secrets.randbits(63)), "-days", "3650", "-out", name + ".crt",
                 "-extfile", f.name, cwd=d)
    finally:
        os.unlink(f.name)
        os.unlink(os.path.join(d, name + ".csr"))


SERVER_EXT = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
CLIENT_EXT = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=clientAuth\n")


def ensure_server_pki(d, ca_cn="kubesim-ca", server_cn="kube-apiserver"):
    """The CA and the server certificate only (``ca.crt``, ``server.crt``/``.key``)."""
    have = lambda name: os.path.exists(os.path.join(d, name))
    if not have("ca.crt"):
        _ca(d, "ca", ca_cn)
    if not have("server.crt"):
        _leaf(d, "server", "/CN=" + server_cn, SERVER_EXT)


def ensure_pki(d):
    have = lambda name: os.path.exists(os.path.join(d, name))
    ensure_server_pki(d)
    if not have("other-ca.crt"):
        _ca(d, "other-ca", "unrelated-ca")
    if not have("other-client.crt"):
        _leaf(d, "other-client", "/CN=admin/O=system:masters", CLIENT_EXT, ca="other-ca")
    if not have("admin.crt"):
        _leaf(d, "admin", "/O=system:masters/CN=admin", CLIENT_EXT)
    if not have("cert-user.crt"):
        _leaf(d, "cert-user", "/CN=cert-user", CLIENT_EXT)
    if not have("client.p12.pass"):
        _atomic_write(os.path.join(d, "client.p12.pass"), secrets.token_hex(8) + "\n")
    with open(os.path.join(d, "client.p12.pass")) as f:
        password = f.read().strip()
    for out, extra in (("client.p12", []), ("client-legacy.p12", ["-legacy"])):
        if not have(out):
            _openssl("pkcs12", "-export", *extra, "-in", "cert-user.crt", "-inkey", "cert-user.key",
                     "-certfile", "ca.crt", "-name", "cert-user", "-out", out,
                     "-passout", "pass:" + password, cwd=d)


def _b64file(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return base64.b64encode(f.read()).decode()


def _kubeconfig(server, cluster_fields, user_fields):
    lines = ["apiVersion: v1", "kind: Config", "clusters:", "- name: kubesim", "  cluster:",
             "    server: " + server]
    lines += ["    " + line for line in cluster_fields]
    lines += ["users:", "- name: kubesim-user", "  user:"]
    lines += ["    " + line for line in user_fields]
    lines += ["contexts:", "- name: kubesim", "  context:", "    cluster: kubesim",
              "    user: kubesim-user", "    namespace: ci", "current-context: kubesim",
              "preferences: {}", ""]
    return "\n".join(lines)


EXEC_PLUGIN = r"""#!/bin/sh
# kubesim exec credential plugin: mints a short-lived token the simulator accepts
# (kse.<expiry>.<hmac>) and records every call in exec-plugin.calls.
dir=$(cd "$(dirname "$0")" && pwd)
ttl=${KUBESIM_EXEC_TTL:-60}
now=$(date +%s)
exp=$((now + ttl))
echo "$now" >> "$dir/exec-plugin.calls"
sig=$(printf '%s' "$exp" | openssl dgst -sha256 -hmac "$(cat "$dir/exec-plugin.key")" -r | cut -d' ' -f1)
stamp=$(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ)
printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false},"status":{"token":"kse.%s.%s","expirationTimestamp":"%s"}}\n' "$exp" "$sig" "$stamp"
"""


def write_client_files(d, port, auth):
    """(Re)write kubeconfigs, the exec plugin and incluster/ for API port ``port``."""
    server = "https://127.0.0.1:%d" % port
    ca = os.path.join(d, "ca.crt")
    plugin = os.path.join(d, "exec-plugin.sh")
    _atomic_write(plugin, EXEC_PLUGIN, 0o755)
    token = auth.current["admin"]
    configs = {
        "kubeconfig-token": (["certificate-authority: " + ca], ["token: " + token]),
        "kubeconfig-tokenfile": (["certificate-authority: " + ca],
                                 ["tokenFile: " + os.path.join(d, "sa-token")]),
        "kubeconfig-cert": (["certificate-authority: " + ca],
                            ["client-certificate: " + os.path.join(d, "admin.crt"),
                             "client-key: " + os.path.join(d, "admin.key")]),
        "kubeconfig-cert-data": (["certificate-authority-data: " + _b64file(d, "ca.crt")],
                                 ["client-certificate-data: " + _b64file(d, "admin.crt"),
                                  "client-key-data: " + _b64file(d, "admin.key")]),
        "kubeconfig-exec": (["certificate-authority: " + ca],
                            ["exec:", "  apiVersion: client.authentication.k8s.io/v1",
                             "  command: " + plugin, "  interactiveMode: Never",
                             "  env:", "  - name: KUBESIM_EXEC_TTL", '    value: "60"']),
        "kubeconfig-insecure": (["insecure-skip-tls-verify: true"], ["token: " + token]),
    }
    for name, (cluster, user) in configs.items():
        _atomic_write(os.path.join(d, name), _kubeconfig(server, cluster, user))
    inc = os.path.join(d, "incluster")
    os.makedirs(inc, exist_ok=True)
    with open(ca) as f:
        _atomic_write(os.path.join(inc, "ca.crt"), f.read(), 0o644)
    _atomic_write(os.path.join(inc, "namespace"), "ci", 0o644)
    _atomic_write(os.path.join(inc, "env"),
                  "KUBERNETES_SERVICE_HOST=127.0.0.1\nKUBERNETES_SERVICE_PORT=%d\n" % port, 0o644)
