#!/usr/bin/env python3
"""TAP tests of the Kubernetes API simulator, over real sockets.

Starts ``kube_sim.py`` on free ports, drives it with raw HTTPS requests
(``http.client``/``ssl``) and with ``kubectl`` when it is on PATH (those checks
are reported as ``# SKIP`` otherwise), and runs a tiny fake Jenkins for the
inbound-agent checks.  Prints ``1..N`` and one ``ok``/``not ok`` line per check.
"""

import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from taplib import Tap, expect  # noqa: E402

NS = "/api/v1/namespaces/ci"


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)


class Sim:
    """A running simulator plus client helpers."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kubesim-test-")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "kube_sim.py"), "--dir", self.dir, "--kubelet-delay-ms", "5",
             "--history", "200", "--seed", "7"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        parts = line.split()
        if len(parts) != 3 or parts[0] != "READY":
            raise RuntimeError("simulator did not start: %r %s" % (line, self.proc.stderr.read()))
        self.ready_line = line
        self.port, self.admin_port = int(parts[1]), int(parts[2])
        self.ssl = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.crt"))
        self.token = self.read("token-admin")

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read().strip()

    def connect(self, context=None, timeout=10):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=context or self.ssl, timeout=timeout)

    def api(self, method, path, body=None, token=None, headers=None, context=None, raw=False):
        conn = self.connect(context)
        hdrs = dict(headers or {})
        if token is not False:
            hdrs["Authorization"] = "Bearer " + (token or self.token)
        if body is not None and not raw:
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        reply = Reply(resp.status, resp.headers, resp.read())
        conn.close()
        return reply

    def admin(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
        conn.request(method, path, body=json.dumps(body) if body is not None else None)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, json.loads(data) if data else None

    def watch(self, path, token=None):
        conn = self.connect(timeout=15)
        conn.request("GET", path, headers={"Authorization": "Bearer " + (token or self.token)})
        return conn, conn.getresponse()

    def create(self, pod, ns="ci"):
        r = self.api("POST", "/api/v1/namespaces/%s/pods" % ns, pod)
        expect(r.status == 201, "create %s: %d %s", pod["metadata"], r.status, r.body[:300])
        return r.json

    def wait_pod(self, name, pred, timeout=15.0, ns="ci"):
        """Watch one pod until ``pred(pod)`` holds; returns that pod (event-driven, no polling)."""
        sel = urllib.parse.quote("metadata.name=" + name)
        conn, resp = self.watch("/api/v1/namespaces/%s/pods?watch=1&fieldSelector=%s&timeoutSeconds=%d"
                                % (ns, sel, int(timeout) + 1))
        last = None
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                line = resp.readline()
                if not line:
                    break
                ev = json.loads(line)
                last = ev["object"]
                if ev["type"] != "DELETED" and pred(last):
                    return last
        finally:
            conn.close()
        raise AssertionError("pod %s never reached the expected state; last: %s"
                             % (name, json.dumps((last or {}).get("status"))[:600]))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        self.proc.stdout.close()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def pod(name, containers=None, **spec):
    spec.setdefault("containers", containers or [{"name": "main", "image": "busybox:1.36",
                                                   "command": ["sleep", "infinity"]}])
    labels = spec.pop("labels", None)
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def cstate(p, name=None, key="containerStatuses"):
    for cs in (p.get("status") or {}).get(key) or []:
        if name is None or cs["name"] == name:
            return cs
    return {}


def waiting_reason(p, name=None):
    return (cstate(p, name).get("state") or {}).get("waiting", {}).get("reason")


# --- fake Jenkins for inbound agents -------------------------------------------
class FakeJenkins:
    """Accepts agent ``good``/``s3cret`` over WebSocket (/wsagents/) and the TCP protocol."""

    def __init__(self):
        self.log = []
        self.open = {}
        self.advertised = None
        jenkins = self

        class Http(socketserver.StreamRequestHandler):
            def handle(self):
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                lines = head.decode().split("\r\n")
                path = lines[0].split(" ")[1]
                hdrs = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
                jenkins.log.append(("http", path, hdrs))
                if path == "/login":
                    self.answer(200, "ok")
                elif path == "/tcpSlaveAgentListener/":
                    self.answer(200, "Jenkins", {"X-Jenkins-JNLP-Port": str(jenkins.advertised or jenkins.tcp_port)})
                elif path == "/wsagents/":
                    name, secret = hdrs.get("node-name"), hdrs.get("secret-key")
                    if name != "good" and name != "wrongsecret":
                        return self.answer(400, "no such agent")
                    if secret != "s3cret":
                        return self.answer(403, "wrong secret")
                    accept = base64.b64encode(hashlib.sha1(
                        (hdrs["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
                    self.request.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
                    jenkins.hold("ws:" + name, self.request)
                else:
                    self.answer(404, "not found")

            def answer(self, code, text, extra=None):
                head = "HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n" % (code, len(text))
                for k, v in (extra or {}).items():
                    head += "%s: %s\r\n" % (k, v)
                self.request.sendall((head + "\r\n" + text).encode())

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline().decode().split()
                jenkins.log.append(("tcp", line))
                if len(line) == 3 and line[1] == "good" and line[2] == "s3cret":
                    self.request.sendall(b"OK\n")
                    jenkins.hold("tcp:" + line[1], self.request)
                else:
                    self.request.sendall(b"ERROR Unknown client name: %s\n" % line[1].encode())

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.http = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Http)
        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tcp)
        self.tcp_port = self.tcp.server_address[1]
        self.url = "http://127.0.0.1:%d/" % self.http.server_address[1]
        for srv in (self.http, self.tcp):
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def hold(self, key, sock):
        event = threading.Event()
        self.open[key] = event
        sock.settimeout(20)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        event.set()

    def close(self):
        for srv in (self.http, self.tcp):
            srv.shutdown()
            srv.server_close()


def agent_pod(name, jenkins_url, agent, secret, websocket=True, extra=()):
    env = [{"name": "JENKINS_URL", "value": jenkins_url}, {"name": "JENKINS_SECRET", "value": secret},
           {"name": "JENKINS_AGENT_NAME", "value": agent}]
    if websocket:
        env.append({"name": "JENKINS_WEB_SOCKET", "value": "true"})
    env += [{"name": k, "value": v} for k, v in extra]
    return pod(name, [{"name": "jnlp", "image": "jenkins/inbound-agent:3355.v388858a_47b_33-3-jdk21",
                       "env": env}], restartPolicy="Never")


# --- the checks ------------------------------------------------------------------
def run(t, sim):
    s = sim

    def startup():
        with open(os.path.join(s.dir, "ready.json")) as f:
            ready = json.load(f)
        expect(ready["api"] == "https://127.0.0.1:%d" % s.port, "ready.json api: %s", ready)
        expect(ready["admin"] == "http://127.0.0.1:%d" % s.admin_port and ready["pid"] == s.proc.pid, "%s", ready)
        for name in ("ca.crt", "ca.key", "server.crt", "other-ca.crt", "admin.crt", "admin.key", "client.p12",
                     "client-legacy.p12", "client.p12.pass", "token-admin", "token-restricted", "sa-token",
                     "kubeconfig-token", "kubeconfig-tokenfile", "kubeconfig-cert", "kubeconfig-cert-data",
                     "kubeconfig-exec", "kubeconfig-insecure", "exec-plugin.sh", "incluster/token",
                     "incluster/ca.crt", "incluster/namespace", "incluster/env"):
            expect(os.path.exists(os.path.join(s.dir, name)), "missing %s", name)
        env = s.read("incluster/env")
        expect("KUBERNETES_SERVICE_PORT=%d" % s.port in env and s.read("incluster/namespace") == "ci", env)
    t.check("READY line, ready.json and generated files", startup)

    def certs():
        text = subprocess.run(["openssl", "x509", "-in", os.path.join(s.dir, "server.crt"), "-noout", "-text"],
                              capture_output=True, text=True).stdout
        expect("IP Address:127.0.0.1" in text and "DNS:localhost" in text, "SAN missing")
        pw = "pass:" + s.read("client.p12.pass")
        ok = subprocess.run(["openssl", "pkcs12", "-in", os.path.join(s.dir, "client.p12"), "-noout",
                             "-passin", pw], capture_output=True)
        expect(ok.returncode == 0, "modern p12 unreadable: %s", ok.stderr)
        legacy = subprocess.run(["openssl", "pkcs12", "-in", os.path.join(s.dir, "client-legacy.p12"), "-noout",
                                 "-passin", pw], capture_output=True)
        legacy_ok = subprocess.run(["openssl", "pkcs12", "-legacy", "-in", os.path.join(s.dir, "client-legacy.p12"),
                                    "-noout", "-passin", pw], capture_output=True)
        expect(legacy.returncode != 0 and legacy_ok.returncode == 0, "legacy p12 should need -legacy")
    t.check("server certificate SANs; modern and legacy PKCS#12", certs)

    def no_credentials():
        r = s.api("GET", NS + "/pods", token=False)
        expect(r.status == 401 and r.json["reason"] == "Unauthorized" and r.json["message"] == "Unauthorized",
               "%d %s", r.status, r.body)
        r = s.api("GET", NS + "/pods", token="not-a-token")
        expect(r.status == 401 and r.json["kind"] == "Status" and r.json["code"] == 401, "%s", r.body)
    t.check("401 Unauthorized without or with a wrong token", no_credentials)

    def forbidden():
        restricted = s.read("token-restricted")
        r = s.api("POST", NS + "/pods", pod("x"), token=restricted)
        want = ('pods is forbidden: User "restricted" cannot create resource "pods" in API group "" '
                'in the namespace "ci"')
        expect(r.status == 403 and r.json["message"] == want and r.json["reason"] == "Forbidden", "%s", r.body)
        expect(s.api("GET", NS + "/pods", token=restricted).status == 200, "restricted may list")
        r = s.api("GET", NS + "/pods/x/exec?command=ls", token=restricted)
        expect(r.status == 403 and 'cannot get resource "pods/exec"' in r.json["message"]
               and r.json["message"].startswith('pods "x" is forbidden'), "%s", r.body)
        sa = s.read("sa-token")
        r = s.api("GET", "/api/v1/namespaces/other/pods", token=sa)
        expect(r.status == 403 and 'cannot list resource "pods" in API group "" in the namespace "other"'
               in r.json["message"], "%s", r.body)
    t.check("403 Forbidden with the real message", forbidden)

    def cert_auth():
        ctx = ssl.create_default_context(cafile=os.path.join(s.dir, "ca.crt"))
        ctx.load_cert_chain(os.path.join(s.dir, "admin.crt"), os.path.join(s.dir, "admin.key"))
        r = s.api("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, token=False, context=ctx)
        info = r.json["status"]["userInfo"]
        expect(r.status == 201 and info["username"] == "admin" and "system:masters" in info["groups"], "%s", r.body)
        bad = ssl.create_default_context(cafile=os.path.join(s.dir, "ca.crt"))
        bad.load_cert_chain(os.path.join(s.dir, "other-client.crt"), os.path.join(s.dir, "other-client.key"))
        try:
            r = s.api("GET", NS + "/pods", token=False, context=bad)
            raise AssertionError("certificate of another CA accepted: %d" % r.status)
        except (ssl.SSLError, ConnectionError):
            pass
        other = ssl.create_default_context(cafile=os.path.join(s.dir, "other-ca.crt"))
        try:
            s.api("GET", "/version", context=other)
            raise AssertionError("server verified against the wrong CA")
        except ssl.SSLCertVerificationError:
            pass
    t.check("client certificates: CN/O identity, other CA refused both ways", cert_auth)

    def exec_plugin():
        out = subprocess.run([os.path.join(s.dir, "exec-plugin.sh")], capture_output=True, text=True,
                             env=dict(os.environ, KUBESIM_EXEC_TTL="30"))
        cred = json.loads(out.stdout)
        expect(cred["apiVersion"] == "client.authentication.k8s.io/v1" and cred["kind"] == "ExecCredential",
               out.stdout)
        expect(cred["status"]["expirationTimestamp"].endswith("Z"), out.stdout)
        r = s.api("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, token=cred["status"]["token"])
        expect(r.status == 201 and r.json["status"]["userInfo"]["username"] == "exec-user", "%s", r.body)
        expect(len(s.read("exec-plugin.calls").splitlines()) == 1, "calls not recorded")
        expired = subprocess.run([os.path.join(s.dir, "exec-plugin.sh")], capture_output=True, text=True,
                                 env=dict(os.environ, KUBESIM_EXEC_TTL="-5"))
        token = json.loads(expired.stdout)["status"]["token"]
        expect(s.api("GET", NS + "/pods", token=token).status == 401, "expired exec token accepted")
    t.check("exec credential plugin: token accepted, calls counted, expiry enforced", exec_plugin)

    def rotation():
        old = s.read("sa-token")
        expect(s.api("GET", NS + "/pods", token=old).status == 200, "sa-token rejected")
        st, _ = s.admin("POST", "/rotate-token", {"name": "sa-token", "graceMs": 0})
        new = s.read("sa-token")
        expect(st == 200 and new != old and s.read("incluster/token") == new, "token files not rewritten")
        expect(s.api("GET", NS + "/pods", token=old).status == 401, "old token still valid")
        expect(s.api("GET", NS + "/pods", token=new).status == 200, "new token rejected")
    t.check("token rotation through the admin API", rotation)

    def create_defaults():
        p = s.create(pod("defaults"))
        meta, spec = p["metadata"], p["spec"]
        expect(meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"].endswith("Z"), "%s", meta)
        expect(spec["restartPolicy"] == "Always" and spec["terminationGracePeriodSeconds"] == 30
               and spec["dnsPolicy"] == "ClusterFirst" and spec["schedulerName"] == "default-scheduler"
               and spec["serviceAccountName"] == "default", "%s", spec)
        expect(p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}, "%s", p["status"])
        c = spec["containers"][0]
        expect(c["imagePullPolicy"] == "IfNotPresent" and c["terminationMessagePath"] == "/dev/termination-log",
               "%s", c)
        g = s.create({"metadata": {"generateName": "agent-"}, "spec": pod("x")["spec"]})
        expect(g["metadata"]["name"].startswith("agent-") and len(g["metadata"]["name"]) == 11, g["metadata"])
        running = s.wait_pod("defaults", lambda q: q["status"].get("phase") == "Running")
        conds = {c["type"]: c["status"] for c in running["status"]["conditions"]}
        expect(conds.get("Ready") == "True" and conds.get("PodScheduled") == "True"
               and running["status"]["podIP"] and running["spec"]["nodeName"], "%s", running["status"])
        expect(cstate(running)["state"]["running"]["startedAt"], "no startedAt")
    t.check("create: 201 with defaults, generateName, kubelet reaches Running/Ready", create_defaults)

    def create_errors():
        r = s.api("POST", NS + "/pods", pod("defaults"))
        expect(r.status == 409 and r.json["reason"] == "AlreadyExists" and r.json["message"] ==
               'pods "defaults" already exists' and r.json["details"] == {"name": "defaults", "kind": "pods"},
               "%s", r.body)
        stale = pod("stale")
        stale["metadata"]["resourceVersion"] = "1234"
        r = s.api("POST", NS + "/pods", stale)
        expect(r.status == 500 and "reason" not in r.json and r.json["message"] ==
               "resourceVersion should not be set on objects to be created", "%s", r.body)
        r = s.api("POST", "/api/v1/namespaces/nope/pods", pod("x"))
        expect(r.status == 404 and r.json["message"] == 'namespaces "nope" not found', "%s", r.body)
        r = s.api("POST", NS + "/pods", b"{not json", raw=True, headers={"Content-Type": "application/json"})
        expect(r.status == 400 and r.json["reason"] == "BadRequest", "%s", r.body)
        r = s.api("GET", NS + "/pods/missing")
        expect(r.status == 404 and r.json["message"] == 'pods "missing" not found'
               and r.json["details"]["kind"] == "pods", "%s", r.body)
    t.check("409 AlreadyExists, 500 resourceVersion set, 404 namespace, 400 malformed JSON, 404 pod",
            create_errors)

    def invalid():
        bad = pod("Bad_Name", [
            {"name": "a", "image": "busybox", "volumeMounts": [{"name": "missing", "mountPath": "/x"}],
             "ports": [{"containerPort": 70000}], "env": [{"name": "A=B", "value": "1"}]},
            {"name": "a"}], restartPolicy="Sometimes",
            volumes=[{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}])
        r = s.api("POST", NS + "/pods", bad)
        body = r.json
        expect(r.status == 422 and body["reason"] == "Invalid", "%d %s", r.status, r.body)
        fields = {(c["field"], c["reason"]) for c in body["details"]["causes"]}
        want = {("metadata.name", "FieldValueInvalid"), ("spec.volumes[1].name", "FieldValueDuplicate"),
                ("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound"),
                ("spec.containers[0].ports[0].containerPort", "FieldValueInvalid"),
                ("spec.containers[0].env[0].name", "FieldValueInvalid"),
                ("spec.containers[1].name", "FieldValueDuplicate"),
                ("spec.containers[1].image", "FieldValueRequired"),
                ("spec.restartPolicy", "FieldValueNotSupported")}
        expect(want <= fields, "missing causes: %s", want - fields)
        expect(body["message"].startswith('Pod "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name": '
                                          "a lowercase RFC 1123 subdomain"), body["message"])
        expect('spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", '
               '"Never"' in body["message"], body["message"])
        expect("spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, "
               "inclusive" in body["message"], body["message"])
        r = s.api("POST", NS + "/pods", pod("x", [{"name": "Bad", "image": "busybox"}]))
        expect(r.json["message"] == 'Pod "x" is invalid: spec.containers[0].name: Invalid value: "Bad": a '
               "lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
               "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
               "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')", r.json["message"])
    t.check("422 Invalid with details.causes and real messages", invalid)

    def field_validation():
        doc = pod("strict")
        doc["spec"]["foo"] = 1
        doc["spec"]["containers"][0]["bar"] = 2
        r = s.api("POST", NS + "/pods?fieldValidation=Strict", doc)
        expect(r.status == 400 and r.json["message"] == 'Pod in version "v1" cannot be handled as a Pod: strict '
               'decoding error: unknown field "spec.containers[0].bar", unknown field "spec.foo"', "%s", r.body)
        r = s.api("POST", NS + "/pods", doc)
        warnings = r.headers.get_all("Warning") or []
        expect(r.status == 201 and '299 - "unknown field \\"spec.foo\\""' in warnings, "%s", warnings)
        r = s.api("POST", NS + "/pods?dryRun=All", pod("dry"))
        expect(r.status == 201 and r.json["metadata"]["name"] == "dry", "%s", r.body)
        expect(s.api("GET", NS + "/pods/dry").status == 404, "dry-run pod was stored")
    t.check("fieldValidation Strict 400, Warn headers, dryRun=All", field_validation)

    def selectors():
        for name, labels in (("sel-a", {"app": "a", "tier": "web"}), ("sel-b", {"app": "b"}),
                             ("sel-c", {"other": "x"})):
            s.create(pod(name, labels=labels))

        def names(query):
            r = s.api("GET", NS + "/pods?" + query)
            expect(r.status == 200, "%s: %s", query, r.body)
            return sorted(i["metadata"]["name"] for i in r.json["items"] if i["metadata"]["name"].startswith("sel-"))
        q = urllib.parse.quote
        expect(names("labelSelector=" + q("app=a")) == ["sel-a"], "app=a")
        expect(names("labelSelector=" + q("app!=a")) == ["sel-b", "sel-c"], "app!=a")
        expect(names("labelSelector=" + q("app in (a,b)")) == ["sel-a", "sel-b"], "in")
        expect(names("labelSelector=" + q("app notin (a),app")) == ["sel-b"], "notin")
        expect(names("labelSelector=" + q("!app")) == ["sel-c"], "!app")
        expect(names("labelSelector=" + q("tier,app==a")) == ["sel-a"], "exists")
        expect(names("fieldSelector=" + q("metadata.name=sel-b")) == ["sel-b"], "field name")
        r = s.api("GET", NS + "/pods?fieldSelector=" + q("spec.foo=x"))
        expect(r.status == 400 and r.json["message"] == "field label not supported: spec.foo", "%s", r.body)
        r = s.api("GET", "/api/v1/pods?labelSelector=" + q("app=b"))
        expect([i["metadata"]["name"] for i in r.json["items"]] == ["sel-b"], "all-namespace list")
    t.check("label selectors (all operators), field selectors, 400 on unsupported field", selectors)

    def paging():
        full = s.api("GET", NS + "/pods").json
        seen, token, rvs = [], "", set()
        for _ in range(20):
            r = s.api("GET", NS + "/pods?limit=2" + ("&continue=" + token if token else "")).json
            seen += [i["metadata"]["name"] for i in r["items"]]
            rvs.add(r["metadata"]["resourceVersion"])
            token = r["metadata"].get("continue")
            if not token:
                break
            s.create(pod("paging-%d" % len(seen)))
        expect(seen == [i["metadata"]["name"] for i in full["items"]], "pages %s != %s", seen,
               [i["metadata"]["name"] for i in full["items"]])
        expect(len(rvs) == 1, "pages carried different resourceVersions: %s", rvs)
        r = s.api("GET", NS + "/pods?limit=1").json
        s.create(pod("paging-after"))
        s.admin("POST", "/compact")
        r = s.api("GET", NS + "/pods?limit=1&continue=" + r["metadata"]["continue"])
        expect(r.status == 410 and r.json["reason"] == "Expired" and r.json["metadata"].get("continue"),
               "%d %s", r.status, r.body[:200])
    t.check("paging: limit/continue with one consistent RV; 410 after compaction", paging)

    def watch_stream():
        rv = s.api("GET", NS + "/pods").json["metadata"]["resourceVersion"]
        conn, resp = s.watch(NS + "/pods?watch=1&resourceVersion=%s&labelSelector=w%%3D1" % rv)
        expect(resp.status == 200 and resp.headers["Transfer-Encoding"] == "chunked", "not chunked")
        s.create(pod("watched", labels={"w": "1"}))
        types = []
        for _ in range(50):
            ev = json.loads(resp.readline())
            types.append((ev["type"], ev["object"]["status"].get("phase")))
            if ev["object"]["status"].get("phase") == "Running":
                break
        expect(types[0] == ("ADDED", "Pending") and types[-1] == ("MODIFIED", "Running"), "%s", types)
        s.api("PATCH", NS + "/pods/watched", {"metadata": {"labels": {"w": "2"}}},
              headers={"Content-Type": "application/merge-patch+json"})
        ev = json.loads(resp.readline())
        expect(ev["type"] == "DELETED" and ev["object"]["metadata"]["labels"]["w"] == "1", "%s", ev["type"])
        conn.close()
    t.check("watch: chunked events from a resourceVersion; leaving the selector is DELETED", watch_stream)

    def bookmarks():
        s.admin("POST", "/config", {"bookmarkIntervalMs": 300})
        started = time.time()
        conn, resp = s.watch(NS + "/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&"
                                  "resourceVersion=%s" % s.api("GET", NS + "/pods").json["metadata"]["resourceVersion"])
        events = []
        while True:
            line = resp.readline()
            if not line:
                break
            events.append(json.loads(line))
        took = time.time() - started
        conn.close()
        s.admin("POST", "/config", {"bookmarkIntervalMs": 60000})
        marks = [e for e in events if e["type"] == "BOOKMARK"]
        expect(len(marks) >= 2 and 0.9 < took < 3, "bookmarks %d, took %.2f", len(marks), took)
        expect(set(marks[0]["object"]["metadata"]) == {"resourceVersion", "creationTimestamp"}, "%s", marks[0])
    t.check("watch bookmarks at the configured interval and before timeoutSeconds", bookmarks)

    def watch_410():
        old = s.api("GET", NS + "/pods").json["metadata"]["resourceVersion"]
        for i in range(3):
            s.create(pod("churn-%d" % i))
        s.admin("POST", "/compact")
        conn, resp = s.watch(NS + "/pods?watch=1&resourceVersion=" + old)
        ev = json.loads(resp.readline())
        expect(resp.status == 200 and ev["type"] == "ERROR" and ev["object"]["code"] == 410
               and ev["object"]["reason"] == "Expired" and "too old resource version" in ev["object"]["message"],
               "%s", ev)
        expect(resp.readline() == b"", "stream should end after the ERROR event")
        conn.close()
        s.admin("POST", "/config", {"tooLargeWaitMs": 100})
        r = s.api("GET", NS + "/pods?watch=1&resourceVersion=99999999")
        expect(r.status == 504 and r.json["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge",
               "%d %s", r.status, r.body)
    t.check("watch: 410 Expired ERROR event inside 200; 504 ResourceVersionTooLarge", watch_410)

    def patches():
        mp = {"Content-Type": "application/merge-patch+json"}
        r = s.api("PATCH", NS + "/pods/sel-a", {"metadata": {"labels": {"x": "1"}}}, headers=mp)
        expect(r.status == 200 and r.json["metadata"]["labels"] == {"app": "a", "tier": "web", "x": "1"}, r.body)
        r = s.api("PATCH", NS + "/pods/sel-a", {"metadata": {"annotations": {"n": "v"}, "labels": {"x": None}}},
                  headers={"Content-Type": "application/strategic-merge-patch+json"})
        expect(r.status == 200 and "x" not in r.json["metadata"]["labels"]
               and r.json["metadata"]["annotations"] == {"n": "v"}, r.body)
        r = s.api("PATCH", NS + "/pods/sel-a", [{"op": "replace", "path": "/metadata/labels/app", "value": "z"}],
                  headers={"Content-Type": "application/json-patch+json"})
        expect(r.status == 200 and r.json["metadata"]["labels"]["app"] == "z", r.body)
        r = s.api("PATCH", NS + "/pods/sel-a", {"spec": {"restartPolicy": "Never"}}, headers=mp)
        expect(r.status == 422 and "pod updates may not change fields" in r.json["message"], r.body)
    t.check("patch: merge, strategic merge, json-patch; forbidden spec change 422", patches)

    def deletion():
        p = s.api("GET", NS + "/pods/sel-b").json
        r = s.api("DELETE", NS + "/pods/sel-b", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                 "preconditions": {"uid": "0000"}})
        expect(r.status == 409 and r.json["reason"] == "Conflict" and "Precondition failed: UID" in
               r.json["message"], r.body)
        s.wait_pod("sel-b", lambda q: q["status"].get("phase") == "Running")
        conn, resp = s.watch(NS + "/pods?watch=1&fieldSelector=metadata.name%3Dsel-b")
        json.loads(resp.readline())
        r = s.api("DELETE", NS + "/pods/sel-b", {"preconditions": {"uid": p["metadata"]["uid"]},
                                                 "gracePeriodSeconds": 5})
        expect(r.status == 200 and r.json["kind"] == "Pod" and r.json["metadata"]["deletionTimestamp"]
               and r.json["metadata"]["deletionGracePeriodSeconds"] == 5, r.body)
        seq = []
        while True:
            ev = json.loads(resp.readline())
            seq.append((ev["type"], ev["object"]["status"]["phase"]))
            if ev["type"] == "DELETED":
                break
        conn.close()
        expect(seq[0][0] == "MODIFIED" and ("MODIFIED", "Failed") in seq and seq[-1][0] == "DELETED", "%s", seq)
        expect(s.api("DELETE", NS + "/pods/sel-b").status == 404, "second delete")
        s.create(pod("unsched", nodeSelector={"disk": "ssd"}))
        r = s.api("DELETE", NS + "/pods/unsched")
        expect(r.status == 200 and not r.json["metadata"].get("deletionTimestamp"), r.body)
        expect(s.api("GET", NS + "/pods/unsched").status == 404, "unscheduled pod not removed at once")
    t.check("delete: uid precondition 409, graceful MODIFIED..DELETED, unscheduled immediate", deletion)

    def command_exit():
        s.create(pod("exit3", [{"name": "main", "image": "busybox", "command": ["sh", "-c", "echo hi; exit 3"]}],
                     restartPolicy="Never"))
        p = s.wait_pod("exit3", lambda q: q["status"].get("phase") in ("Failed", "Succeeded"))
        term = cstate(p)["state"]["terminated"]
        expect(p["status"]["phase"] == "Failed" and term["exitCode"] == 3 and term["reason"] == "Error"
               and term["finishedAt"], "%s", term)
        r = s.api("GET", NS + "/pods/exit3/log")
        expect(r.status == 200 and r.body == b"hi\n" and r.headers["Content-Type"].startswith("text/plain"), r.body)
        s.create(pod("ok0", [{"name": "main", "image": "busybox", "command": ["true"]}], restartPolicy="Never"))
        p = s.wait_pod("ok0", lambda q: q["status"].get("phase") == "Succeeded")
        expect(cstate(p)["state"]["terminated"]["reason"] == "Completed", "%s", cstate(p))
        s.create(pod("crash", [{"name": "main", "image": "busybox", "command": ["false"]}]))
        p = s.wait_pod("crash", lambda q: waiting_reason(q) == "CrashLoopBackOff")
        cs = cstate(p)
        expect(cs["restartCount"] >= 1 and cs["lastState"]["terminated"]["exitCode"] == 1
               and "back-off 10s restarting failed container=main" in cs["state"]["waiting"]["message"], "%s", cs)
    t.check("containers: exit codes, Completed/Error, logs, CrashLoopBackOff", command_exit)

    def init_containers():
        s.create(pod("withinit", initContainers=[{"name": "init", "image": "busybox",
                                                  "command": ["sh", "-c", "echo init; sleep 0.3"]}]))
        p = s.wait_pod("withinit", lambda q: cstate(q, key="initContainerStatuses").get("state", {}).get("running"))
        cond = [c for c in p["status"]["conditions"] if c["type"] == "Initialized"][0]
        expect(p["status"]["phase"] == "Pending" and cond["status"] == "False"
               and cond["reason"] == "ContainersNotInitialized" and waiting_reason(p) == "PodInitializing",
               "%s", p["status"])
        p = s.wait_pod("withinit", lambda q: q["status"].get("phase") == "Running")
        init = cstate(p, key="initContainerStatuses")["state"]["terminated"]
        expect(init["exitCode"] == 0 and init["reason"] == "Completed", "%s", init)
        r = s.api("GET", NS + "/pods/withinit/log?container=init")
        expect(r.body == b"init\n", r.body)
    t.check("init containers run to completion before the app containers", init_containers)

    def image_failures():
        s.create(pod("nope", [{"name": "main", "image": "registry.example.com/team/nope:1"}]))
        p = s.wait_pod("nope", lambda q: waiting_reason(q) == "ErrImagePull")
        expect("not found" in cstate(p)["state"]["waiting"]["message"], "%s", cstate(p))
        p = s.wait_pod("nope", lambda q: waiting_reason(q) == "ImagePullBackOff")
        expect(cstate(p)["state"]["waiting"]["message"] == 'Back-off pulling image "registry.example.com/team/nope:1"',
               "%s", cstate(p))
        s.create(pod("badimg", [{"name": "main", "image": "Busybox:latest"}]))
        p = s.wait_pod("badimg", lambda q: waiting_reason(q) == "InvalidImageName")
        expect("repository name must be lowercase" in cstate(p)["state"]["waiting"]["message"], "%s", cstate(p))
        r = s.api("GET", NS + "/pods/nope/log")
        expect(r.status == 400 and r.json["message"].startswith('container "main" in pod "nope" is waiting to start'),
               r.body)
    t.check("image pull: ErrImagePull, ImagePullBackOff message, InvalidImageName", image_failures)

    def scheduling():
        s.create(pod("huge", [{"name": "main", "image": "busybox", "resources": {"requests": {"cpu": "64"}}}]))
        p = s.wait_pod("huge", lambda q: any(c.get("reason") == "Unschedulable" for c in q["status"].get(
            "conditions", [])))
        cond = [c for c in p["status"]["conditions"] if c["type"] == "PodScheduled"][0]
        expect(cond["status"] == "False" and cond["message"].startswith("0/3 nodes are available: 3 Insufficient cpu."),
               "%s", cond)
        evs = s.api("GET", NS + "/events?fieldSelector=" + urllib.parse.quote("involvedObject.name=huge")).json
        expect(any(e["reason"] == "FailedScheduling" and e["type"] == "Warning" for e in evs["items"]), "%s", evs)
    t.check("Unschedulable condition and FailedScheduling event", scheduling)

    def deadline_eviction():
        s.create(pod("deadline", activeDeadlineSeconds=1))
        p = s.wait_pod("deadline", lambda q: q["status"].get("phase") == "Failed", timeout=5)
        expect(p["status"]["reason"] == "DeadlineExceeded" and p["status"]["message"] ==
               "Pod was active on the node longer than the specified deadline", "%s", p["status"])
        s.create(pod("evictme"))
        s.wait_pod("evictme", lambda q: q["status"].get("phase") == "Running")
        st, _ = s.admin("POST", "/evict", {"namespace": "ci", "name": "evictme"})
        p = s.wait_pod("evictme", lambda q: q["status"].get("phase") == "Failed")
        expect(st == 200 and p["status"]["reason"] == "Evicted" and
               p["status"]["message"].startswith("The node was low on resource"), "%s", p["status"])
        s.create(pod("evictapi"))
        s.wait_pod("evictapi", lambda q: q["status"].get("phase") == "Running")
        s.admin("POST", "/evict", {"namespace": "ci", "name": "evictapi", "api": True})
        p = s.api("GET", NS + "/pods/evictapi").json
        conds = [c for c in p["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        expect(conds and conds[0]["reason"] == "EvictionByEvictionAPI" and p["metadata"]["deletionTimestamp"],
               "%s", p["status"])
    t.check("activeDeadlineSeconds, kubelet eviction, Eviction API variant", deadline_eviction)

    def config_error():
        c = {"name": "main", "image": "busybox", "command": ["sh", "-c", "echo $TOKEN; sleep 60"],
             "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}]}
        s.create(pod("needsecret", [c]))
        p = s.wait_pod("needsecret", lambda q: waiting_reason(q) == "CreateContainerConfigError")
        expect(cstate(p)["state"]["waiting"]["message"] == 'secret "creds" not found', "%s", cstate(p))
        st, _ = s.admin("POST", "/secrets", {"namespace": "ci", "name": "creds", "data": {"token": "abc"}})
        s.wait_pod("needsecret", lambda q: q["status"].get("phase") == "Running", timeout=5)
        expect(st == 201 and s.api("GET", NS + "/pods/needsecret/log").body == b"abc\n", "env not resolved")
    t.check("CreateContainerConfigError until the secret exists", config_error)

    def logs():
        two = pod("two", [{"name": "a", "image": "busybox", "command": ["sh", "-c", "echo 1; echo 2; echo 3; sleep 1"]},
                          {"name": "b", "image": "busybox", "command": ["cat"], "tty": True}])
        s.create(two)
        r = s.api("GET", NS + "/pods/two/log")
        expect(r.status == 400 and r.json["message"] ==
               "a container name must be specified for pod two, choose one of: [a b]", r.body)
        r = s.api("GET", NS + "/pods/two/log?container=zz")
        expect(r.status == 400 and r.json["message"] == "container zz is not valid for pod two", r.body)
        s.wait_pod("two", lambda q: q["status"].get("phase") == "Running")
        r = s.api("GET", NS + "/pods/two/log?container=a&tailLines=2&timestamps=true")
        lines = r.body.decode().splitlines()
        expect(len(lines) == 2 and lines[1].endswith(" 3") and lines[0].split(" ")[0].endswith("Z"), lines)
        expect(s.api("GET", NS + "/pods/two/log?container=a&limitBytes=3").body == b"1\n2", "limitBytes")
        conn, resp = s.watch(NS + "/pods/two/log?container=a&follow=true")
        started = time.time()
        body = resp.read()
        expect(body == b"1\n2\n3\n" and time.time() - started < 3, "follow: %r", body)
        conn.close()
        r = s.api("GET", NS + "/pods/two/log?container=a&tailLines=-1")
        expect(r.status == 422, "negative tailLines")
        r = s.api("GET", NS + "/pods/two/log?container=b&previous=true")
        expect(r.status == 400 and r.json["message"] ==
               'previous terminated container "b" in pod "two" not found', r.body)
        s.wait_pod("two", lambda q: cstate(q, "a")["restartCount"] >= 1)
        r = s.api("GET", NS + "/pods/two/log?container=a&previous=true")
        expect(r.status == 200 and r.body == b"1\n2\n3\n", "previous: %s", r.body)
    t.check("logs: container required, unknown container, tail/timestamps/limit, follow ends", logs)

    def exec_hook():
        r = s.api("GET", NS + "/pods/two/exec?command=ls&container=b&stdout=true")
        expect(r.status == 400 and r.json["message"] == "Upgrade request required", r.body)
    t.check("exec without upgrade: 400 Upgrade request required", exec_hook)

    def pvc_gc():
        owner = s.create(pod("owner"))
        pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "ws-owner", "ownerReferences": [
                   {"apiVersion": "v1", "kind": "Pod", "name": "owner", "uid": owner["metadata"]["uid"]}]},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
        r = s.api("POST", NS + "/persistentvolumeclaims", pvc)
        expect(r.status == 201, r.body)
        r = s.api("POST", NS + "/persistentvolumeclaims", {"metadata": {"name": "bad"}, "spec": {}})
        expect(r.status == 422 and "spec.accessModes: Required value" in r.json["message"], r.body)
        s.api("DELETE", NS + "/pods/owner?gracePeriodSeconds=0")
        expect(s.api("GET", NS + "/persistentvolumeclaims/ws-owner").status == 404, "PVC not collected")
        claim = {"metadata": {"name": "used"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": "1Gi"}}}}
        expect(s.api("POST", NS + "/persistentvolumeclaims", claim).status == 201, "claim")
        s.create(pod("user", volumes=[{"name": "ws", "persistentVolumeClaim": {"claimName": "used"}}]))
        s.wait_pod("user", lambda q: q["status"].get("phase") == "Running")
        got = s.api("GET", NS + "/persistentvolumeclaims/used").json
        expect(got["status"]["phase"] == "Bound" and got["spec"]["volumeName"].startswith("pvc-"), "%s", got)
        r = s.api("DELETE", NS + "/persistentvolumeclaims/used")
        expect(r.status == 200 and r.json["metadata"]["deletionTimestamp"]
               and s.api("GET", NS + "/persistentvolumeclaims/used").status == 200, "pvc-protection: %s", r.body)
        s.api("DELETE", NS + "/pods/user?gracePeriodSeconds=0")
        expect(s.api("GET", NS + "/persistentvolumeclaims/used").status == 404, "claim kept after its pod left")
    t.check("PVC: validation, binding, ownerReferences GC, pvc-protection", pvc_gc)

    jenkins = FakeJenkins()

    def agents_ws():
        s.create(agent_pod("ag-ws", jenkins.url, "good", "s3cret"))
        deadline = time.time() + 5
        while time.time() < deadline and "ws:good" not in jenkins.open:
            time.sleep(0.02)
        expect("ws:good" in jenkins.open, "agent never connected: %s", jenkins.log)
        ws = [h for kind, path, h in (x for x in jenkins.log if x[0] == "http") if path == "/wsagents/"][-1]
        expect(ws["node-name"] == "good" and ws["secret-key"] == "s3cret" and "x-remoting-capability" in ws, ws)
        _, agents = s.admin("GET", "/agents")
        expect(any(a["pod"] == "ag-ws" and a["state"] == "connected" for a in agents), "%s", agents)
        s.api("DELETE", NS + "/pods/ag-ws")
        expect(jenkins.open["ws:good"].wait(5), "socket not closed when the pod was deleted")
    t.check("inbound agent over WebSocket: headers, held open, closed on delete", agents_ws)

    def agents_refused():
        s.admin("POST", "/config", {"agentRetryDelayMs": 20, "agentAttempts": 3})
        s.create(agent_pod("ag-bad", jenkins.url, "wrongsecret", "nope"))
        s.create(agent_pod("ag-unknown", jenkins.url, "ghost", "s3cret", websocket=False))
        s.create(agent_pod("ag-down", "http://127.0.0.1:1/", "good", "s3cret"))
        for name, text in (("ag-bad", "403"), ("ag-unknown", "Unknown client name"), ("ag-down", "Connection refused")):
            p = s.wait_pod(name, lambda q: q["status"].get("phase") == "Failed")
            expect(cstate(p)["state"]["terminated"]["exitCode"] == 255, "%s: %s", name, cstate(p))
            log = s.api("GET", NS + "/pods/%s/log" % name).body.decode()
            expect(text in log and "SEVERE" in log, "%s log: %s", name, log[-400:])
    t.check("inbound agent refused (403, unknown TCP name, no answer) exits 255 with logs", agents_refused)

    def agents_tcp():
        jenkins.advertised = 1
        s.create(agent_pod("ag-tcp", jenkins.url, "ghost", "s3cret", websocket=False,
                           extra=[("JENKINS_NAME", "good"), ("JENKINS_TUNNEL", "127.0.0.1:%d" % jenkins.tcp_port)]))
        deadline = time.time() + 5
        while time.time() < deadline and "tcp:good" not in jenkins.open:
            time.sleep(0.02)
        expect("tcp:good" in jenkins.open, "no TCP connection: %s", jenkins.log[-3:])
        expect(any(x[0] == "http" and x[1] == "/tcpSlaveAgentListener/" for x in jenkins.log), "no discovery")
        s.api("DELETE", NS + "/pods/ag-tcp")
        expect(jenkins.open["tcp:good"].wait(5), "TCP connection not closed on delete")
    t.check("inbound agent over TCP: discovery, JENKINS_NAME, JENKINS_TUNNEL, closed on delete", agents_tcp)
    jenkins.close()

    def faults():
        st, f = s.admin("POST", "/faults", {"match": {"verb": "POST", "path": NS + "/pods"}, "status": 503,
                                             "retryAfter": 2, "count": 1})
        r = s.api("POST", NS + "/pods", pod("faulted"))
        expect(st == 201 and r.status == 503 and r.headers["Retry-After"] == "2"
               and r.json["details"]["retryAfterSeconds"] == 2, "%d %s", r.status, r.body)
        expect(s.api("POST", NS + "/pods", pod("faulted")).status == 201, "fault not consumed")
        s.admin("POST", "/faults", {"match": {"path": NS + "/pods/faulted"}, "latencyMs": 300, "count": 1})
        started = time.time()
        r = s.api("GET", NS + "/pods/faulted")
        expect(r.status == 200 and time.time() - started >= 0.3, "latency not applied")
        s.admin("DELETE", "/faults")
    t.check("fault injection: 503 + Retry-After once, latency", faults)

    def drop_and_restart():
        rv = s.api("GET", NS + "/pods").json["metadata"]["resourceVersion"]
        tls = s.ssl.wrap_socket(socket.create_connection(("127.0.0.1", s.port)), server_hostname="127.0.0.1")
        tls.sendall(("GET %s/pods?watch=1&resourceVersion=%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
                     "\r\n\r\n" % (NS, rv, s.token)).encode())
        head = tls.recv(4096)
        _, stats = s.admin("GET", "/stats")
        expect(head.startswith(b"HTTP/1.1 200") and stats["openWatches"] >= 1, "%s", stats)
        st, doc = s.admin("POST", "/drop-watches")
        tail = b""
        try:
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                tail += chunk
        except (ssl.SSLError, ConnectionError):
            pass
        tls.close()
        expect(doc["dropped"] >= 1 and not (head + tail).endswith(b"0\r\n\r\n"), "stream ended cleanly")
        rv = s.api("GET", NS + "/pods").json["metadata"]["resourceVersion"]
        s.create(pod("after-restart-0"))
        st, _ = s.admin("POST", "/restart", {})
        r = s.api("GET", NS + "/pods?watch=1&resourceVersion=" + rv)
        expect(st == 200 and json.loads(r.body.splitlines()[0])["object"]["code"] == 410, r.body[:200])
        expect(s.api("GET", NS + "/pods/after-restart-0").status == 200, "objects lost on restart")
    t.check("drop-watches cuts streams; restart forgets history (410), keeps objects", drop_and_restart)

    def robustness():
        big = b"x" * (3 * 1024 * 1024 + 10)
        r = s.api("POST", NS + "/pods", big, raw=True, headers={"Content-Type": "application/json"})
        expect(r.status == 413 and r.json["reason"] == "RequestEntityTooLarge", "%d", r.status)
        raw = socket.create_connection(("127.0.0.1", s.port))
        tls = s.ssl.wrap_socket(raw, server_hostname="127.0.0.1")
        tls.sendall(b"GARBAGE\r\n\r\n")
        answer = tls.recv(200)
        tls.close()
        expect(answer.startswith(b"HTTP/1.1 400 Bad Request"), answer)
        vanish = socket.create_connection(("127.0.0.1", s.port))
        vanish.close()
        expect(s.api("GET", "/version").status == 200, "server unhealthy after bad clients")
    t.check("413 for huge bodies, 400 for malformed HTTP, survives vanishing clients", robustness)

    def stats():
        s.admin("POST", "/reset-stats")
        s.api("GET", NS + "/pods/faulted")
        s.api("GET", NS + "/pods/faulted")
        _, doc = s.admin("GET", "/stats")
        expect(doc["requests"].get("GET /api/v1/namespaces/{namespace}/pods/{name} 200") == 2, "%s", doc)
    t.check("stats by method, path template and code", stats)

    kubectl = shutil.which("kubectl")
    if not kubectl:
        for name in ("kubectl get/create/logs/describe/delete", "kubectl auth can-i / whoami",
                     "kubectl get -w"):
            t.skip(name, "kubectl not on PATH")
        return

    def kc(*args, config="kubeconfig-token", timeout=20):
        res = subprocess.run([kubectl, "--kubeconfig", os.path.join(s.dir, config)] + list(args),
                             capture_output=True, text=True, timeout=timeout)
        return res.returncode, res.stdout + res.stderr

    def kubectl_basics():
        manifest = os.path.join(s.dir, "kc-pod.json")
        with open(manifest, "w") as f:
            json.dump(pod("kc-pod", [{"name": "main", "image": "busybox",
                                      "command": ["sh", "-c", "echo from-kubectl; sleep 60"]}]), f)
        rc, out = kc("create", "-f", manifest)
        expect(rc == 0 and "pod/kc-pod created" in out, out)
        s.wait_pod("kc-pod", lambda q: q["status"].get("phase") == "Running")
        rc, out = kc("get", "pods", "kc-pod")
        expect(rc == 0 and "Running" in out and "1/1" in out, out)
        rc, out = kc("logs", "kc-pod")
        expect(rc == 0 and out.strip() == "from-kubectl", out)
        rc, out = kc("describe", "pod", "kc-pod")
        expect(rc == 0 and "Started container main" in out and "Successfully assigned ci/kc-pod" in out, out)
        rc, out = kc("delete", "pod", "kc-pod", "--grace-period=1")
        expect(rc == 0 and 'pod "kc-pod" deleted' in out, out)
        rc, out = kc("get", "pods", "--kubeconfig", os.path.join(s.dir, "kubeconfig-cert-data"))
        expect(rc == 0, out)
    t.check("kubectl get/create/logs/describe/delete", kubectl_basics)

    def kubectl_auth():
        rc, out = kc("auth", "can-i", "create", "pods", config="kubeconfig-tokenfile")
        expect(rc == 0 and out.strip() == "yes", out)
        rc, out = kc("auth", "can-i", "delete", "pods", "-n", "other", config="kubeconfig-tokenfile")
        expect(rc != 0 and out.strip().startswith("no"), out)
        rc, out = kc("auth", "whoami", config="kubeconfig-exec")
        expect(rc == 0 and "exec-user" in out, out)
        rc, out = kc("auth", "whoami", config="kubeconfig-cert")
        expect(rc == 0 and "system:masters" in out, out)
    t.check("kubectl auth can-i / whoami", kubectl_auth)

    def kubectl_watch():
        proc = subprocess.Popen([kubectl, "--kubeconfig", os.path.join(s.dir, "kubeconfig-insecure"), "get",
                                 "pods", "-w", "--request-timeout=3s"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        first = proc.stdout.readline()
        s.create(pod("kc-watched"))
        seen = ""
        deadline = time.time() + 5
        while time.time() < deadline:
            line = proc.stdout.readline()
            seen += line
            if "kc-watched" in line and "Running" in line:
                break
        proc.terminate()
        proc.wait(5)
        proc.stdout.close()
        expect(first.startswith("NAME") and "kc-watched" in seen and "Running" in seen, first + seen)
    t.check("kubectl get -w", kubectl_watch)


def main(checks=run):
    """Run `checks(tap, sim)` against a fresh simulator (other test files pass theirs)."""
    t = Tap()
    started = time.time()
    sim = Sim()
    try:
        checks(t, sim)
    finally:
        rc = sim.stop()
    t.check("SIGTERM stops the simulator with status 0", lambda: expect(rc == 0, "exit status %s", rc))
    failed = t.report()
    print("# %d checks in %.1fs" % (len(t.results), time.time() - started))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
