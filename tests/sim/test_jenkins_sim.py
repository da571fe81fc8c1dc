#!/usr/bin/env python3
"""TAP tests of the Jenkins controller simulator, over real sockets.

Starts ``jenkins_sim.py`` on free ports and checks it against reference
jenkins-rest.md: authentication and crumbs, ``tree``/``depth``, every core
``why`` form, label expressions, node creation, the agent secret, inbound
agents over WebSocket and TCP (raw, and with tests/sim/agent.py, the program
the Kubernetes simulator's kubelet runs), builds, offline marks, deletion,
faults, restart, and a second simulator with a context path over TLS.
"""

import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jenkins_labels as L  # noqa: E402
from agent import AgentProgram  # noqa: E402
from jenkins_export import TreeSyntaxError, parse_tree  # noqa: E402
from taplib import Tap, expect  # noqa: E402

PLACEHOLDER = "org.jenkinsci.plugins.workflow.support.steps.ExecutorStepExecution$PlaceholderTask"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


class Sim:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="jenkinssim-test-")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "jenkins_sim.py"), "--dir", self.dir]
                                     + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        parts = line.split()
        if len(parts) != 3 or parts[0] != "READY":
            raise RuntimeError("simulator did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port, self.admin_port = int(parts[1]), int(parts[2])
        with open(os.path.join(self.dir, "ready.json")) as f:
            self.ready = json.load(f)
        self.url = self.ready["url"]
        parsed = urllib.parse.urlsplit(self.url)
        self.base = parsed.path
        self.tls = parsed.scheme == "https"
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.crt")) if self.tls else None
        self.token = self.read("token-kubeagent")

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read().strip()

    def auth(self, user="kubeagent", secret=None):
        secret = secret if secret is not None else self.read("token-" + user)
        return "Basic " + base64.b64encode(("%s:%s" % (user, secret)).encode()).decode()

    def req(self, method, path, body=None, auth=True, headers=None):
        """path is relative to the root URL (no leading slash)."""
        if self.tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        hdrs = {"Accept-Language": "en"}
        if auth is True:
            hdrs["Authorization"] = self.auth()
        elif auth:
            hdrs["Authorization"] = auth
        hdrs.update(headers or {})
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        conn.request(method, self.base + path, body=body, headers=hdrs)
        resp = conn.getresponse()
        reply = Reply(resp.status, resp.headers, resp.read())
        conn.close()
        return reply

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body=body if body is not None else b"", **kw)

    def admin(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
        conn.request(method, path, body=json.dumps(body) if body is not None else None)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, json.loads(data) if data else None

    def queue(self, tree="items[id,why,blocked,buildable,stuck,task[url,name]]"):
        return self.get("queue/api/json?tree=" + urllib.parse.quote(tree)).json["items"]

    def build(self, **spec):
        status, doc = self.admin("POST", "/builds", spec)
        expect(status == 201, "queue build: %s %s", status, doc)
        return doc["items"][0]["id"]

    def node(self, name, **kw):
        status, doc = self.admin("POST", "/nodes", dict(kw, name=name))
        expect(status == 201, "add node: %s %s", status, doc)
        return doc["secret"]

    def computer(self, name, tree="displayName,offline,temporarilyOffline,idle,offlineCauseReason,"
                                  "executors[idle,currentExecutable[url,number]]"):
        return self.get("computer/%s/api/json?tree=%s" % (urllib.parse.quote(name), urllib.parse.quote(tree)))

    def wait(self, what, fn, timeout=8.0):
        """Poll fn until it returns something true; its last value on timeout raises."""
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            value = fn()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("timed out waiting for %s (last: %r)" % (what, value))

    def why(self, item_id):
        for it in self.queue():
            if it["id"] == item_id:
                return it["why"]
        return None

    def run_api(self, url, tree="number,building,result"):
        path = url[len(self.url):] if url.startswith(self.url) else url
        return self.get(path + "api/json?tree=" + tree).json

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


# --- inbound agents ------------------------------------------------------------------

class Agent:
    """tests/sim/agent.py (what the fake kubelet runs) on a thread of its own."""

    def __init__(self, env, attempts=3):
        self.env = env
        self.attempts = attempts
        self.states = []
        self.logs = []
        self.rc = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def _main(self):
        agent = self

        class Ctx:
            agent_attempts = agent.attempts
            agent_retry_delay = 0.05

            def __init__(self):
                self.sigterm = asyncio.Event()

            def log(self, text, stream):
                agent.logs.append(text)

            def agent_state(self, state, failures):
                agent.states.append(state)

        async def main():
            self.loop = asyncio.get_running_loop()
            self.ctx = Ctx()
            self.ready.set()
            self.rc = await AgentProgram(self.env).run(self.ctx)

        asyncio.run(main())

    def stop(self):
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.ctx.sigterm.set)
        self.thread.join(5)
        return self.rc


def ws_handshake(sim, name, secret, capability=True, key=None):
    """A raw WebSocket upgrade to /wsagents/; returns (status, headers, body, socket)."""
    sock = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    key = key or base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %swsagents/ HTTP/1.1" % sim.base, "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
    if name is not None:
        lines.append("Node-Name: " + name)
    if secret is not None:
        lines.append("Secret-Key: " + secret)
    if capability:
        lines.append("X-Remoting-Capability: " + base64.b64encode(b"cap").decode())
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    status = int(head_lines[0].split(" ")[1])
    headers = {}
    for line in head_lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status != 101:
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            rest += sock.recv(4096)
        sock.close()
        return status, headers, rest.decode(), None
    headers["_expected_accept"] = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    return status, headers, rest, sock


def ws_send(sock, opcode, payload=b""):
    mask = os.urandom(4)
    sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask +
                 bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def ws_recv(sock):
    head = sock.recv(2)
    size = head[1] & 0x7F
    payload = b""
    while len(payload) < size:
        payload += sock.recv(size - len(payload))
    return head[0] & 0x0F, payload


def tcp_connect(sim, name, secret):
    sock = socket.create_connection(("127.0.0.1", sim.ready["agentPort"]), timeout=5)
    sock.sendall(("JNLP4-connect-sim %s %s\n" % (name, secret)).encode())
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = sock.recv(100)
        if not chunk:
            break
        answer += chunk
    return answer.decode().strip(), sock


JSON_NODE = {"nodeDescription": "test node", "numExecutors": "1", "remoteFS": "/home/jenkins/agent",
             "labelString": "linux docker", "mode": "EXCLUSIVE",
             "retentionStrategy": {"stapler-class": "hudson.slaves.RetentionStrategy$Always"},
             "nodeProperties": {"stapler-class-bag": "true"},
             "launcher": {"stapler-class": "hudson.slaves.JNLPLauncher", "webSocket": True}}


def create_form(name, **over):
    doc = dict(JSON_NODE, name=name, **over)
    return {"name": name, "type": "hudson.slaves.DumbSlave$DescriptorImpl", "json": json.dumps(doc)}


# --- checks ------------------------------------------------------------------------------

def check_labels(t):
    def canonical():
        cases = {
            "linux && docker": "linux&&docker",
            "linux && (docker || podman)": "linux&&(docker||podman)",
            "a && b || c": "a&&b||c",
            "a || b && c": "a||b&&c",
            "!a && !(b || c)": "!a&&!(b||c)",
            "a -> b": "a->b",
            "a <-> b <-> c": "a<->b<->c",
            "((a))": "((a))",
            '"x y" && z': '"x y"&&z',
            '"plain"': "plain",
            "a-b && c": "a-b&&c",
            '"a:b" || c': '"a:b"||c',
        }
        for text, want in cases.items():
            got = L.parse(text).expression()
            expect(got == want, "%r printed %r, want %r", text, got, want)
        expect(L.parse('"x y"').display() == "x y", "a lone atom's name is raw")
    t.check("label expressions: canonical text as Jenkins prints it in why", canonical)

    def evaluation():
        atoms = {"linux", "docker", "n1"}
        table = {"linux": True, "windows": False, "!windows": True, "linux&&docker": True,
                 "linux&&windows": False, "windows||docker": True, "windows->gpu": True, "linux->gpu": False,
                 "linux<->docker": True, "linux<->windows": False, "!(linux&&windows)": True,
                 "n1": True, "linux && (windows || docker)": True, '"linux"': True}
        for text, want in table.items():
            expect(L.parse(text).matches(atoms) == want, "%r on %s", text, atoms)
    t.check("label expressions: atoms, quoted atoms, !, &&, ||, ->, <->, parentheses", evaluation)

    def errors():
        for bad in ("a->b->c", "(a", "a)", "a & b", "", "a &&", "'a'", '"open'):
            try:
                L.parse(bad)
            except L.LabelSyntaxError:
                continue
            raise AssertionError("%r parsed" % bad)
        expect(L.node_labels('linux "big box" docker') == ["linux", "big box", "docker"], "node label string")
    t.check("label expressions: syntax errors; node label strings with quotes", errors)

    def tree_syntax():
        parse_tree("a,b[c,d],e[f[g]]{0,2},*")
        for bad in ("a[", "a]", ",a", "a{x}", "a[b]]", "a{1"):
            try:
                parse_tree(bad)
            except TreeSyntaxError:
                continue
            raise AssertionError("tree %r parsed" % bad)
    t.check("tree= parser accepts Stapler's grammar and rejects malformed trees", tree_syntax)


def check_auth(t, s):
    def token():
        r = s.get("api/json?tree=url,useCrumbs,slaveAgentPort,quietingDown")
        expect(r.status == 200, "status %s", r.status)
        expect(r.json == {"_class": "hudson.model.Hudson", "url": s.url, "useCrumbs": True,
                          "slaveAgentPort": s.ready["agentPort"], "quietingDown": False}, r.text)
        expect(r.headers["X-Jenkins"] and re.fullmatch("[0-9a-f]{8}", r.headers["X-Jenkins-Session"]),
               "X-Jenkins headers: %s", dict(r.headers))
    t.check("user + API token: 200 with X-Jenkins and X-Jenkins-Session", token)

    def bad():
        r = s.get("api/json", auth=s.auth(secret="0123456789abcdef"))
        expect(r.status == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="Jenkins"', "%s %s", r.status,
               dict(r.headers))
        r = s.get("api/json", auth=s.auth("nobody", "x"))
        expect(r.status == 401, "unknown user: %s", r.status)
        r = s.get("api/json", auth=False)
        expect(r.status == 403 and r.headers["X-Required-Permission"] == "hudson.model.Hudson.Read"
               and r.headers["X-You-Are-Authenticated-As"] == "anonymous", "anonymous: %s %s", r.status,
               dict(r.headers))
    t.check("wrong token 401 with WWW-Authenticate; anonymous 403 (Overall/Read)", bad)

    def denied():
        r = s.post("computer/doCreateItem", create_form("by-reader"), auth=s.auth("reader"))
        expect(r.status == 403, "status %s", r.status)
        expect(r.headers["X-Required-Permission"] == "hudson.model.Computer.Create", dict(r.headers))
        implied = r.headers.get_all("X-Permission-Implied-By")
        expect("hudson.model.Hudson.Administer" in implied, "implied-by: %s", implied)
        expect(r.headers["X-You-Are-Authenticated-As"] == "reader", "as: %s", dict(r.headers))
        expect(s.get("computer/by-reader/api/json").status == 404, "nothing created")
    t.check("a user lacking Computer.Create: 403 with X-Required-Permission and X-Permission-Implied-By",
            denied)

    def whoami():
        doc = s.get("whoAmI/api/json").json
        expect(doc["name"] == "kubeagent" and doc["authenticated"] and not doc["anonymous"], doc)
        doc = s.get("whoAmI/api/json", auth=False).json
        expect(doc["name"] == "anonymous" and doc["anonymous"], doc)
    t.check("/whoAmI/api/json for a user and for anonymous", whoami)

    def crumbs():
        pw = s.auth("kubeagent", s.read("password-kubeagent"))
        expect(s.get("api/json?tree=url", auth=pw).status == 200, "password works for GET")
        r = s.post("computer/doCreateItem", create_form("pw-1"), auth=pw)
        expect(r.status == 403 and "No valid crumb" in r.text, "no crumb: %s %s", r.status, r.text)
        c = s.get("crumbIssuer/api/json", auth=pw)
        doc = c.json
        expect(doc["_class"] == "hudson.security.csrf.DefaultCrumbIssuer" and
               doc["crumbRequestField"] == "Jenkins-Crumb" and re.fullmatch("[0-9a-f]{64}", doc["crumb"]), doc)
        cookie = c.headers["Set-Cookie"].split(";")[0]
        expect(re.fullmatch(r"JSESSIONID\.[0-9a-f]{8}=.+", cookie), "cookie %s", cookie)
        r = s.post("computer/doCreateItem", create_form("pw-1"), auth=pw, headers={"Jenkins-Crumb": doc["crumb"]})
        expect(r.status == 403, "crumb without its session: %s", r.status)
        r = s.post("computer/doCreateItem", create_form("pw-1"), auth=pw,
                   headers={"Jenkins-Crumb": doc["crumb"], "Cookie": cookie})
        expect(r.status == 302, "crumb + cookie: %s %s", r.status, r.text)
        form = dict(create_form("pw-2"), **{"Jenkins-Crumb": doc["crumb"]})
        r = s.post("computer/doCreateItem", form, auth=pw, headers={"Cookie": cookie})
        expect(r.status == 302, "crumb as a form field: %s", r.status)
        r = s.post("computer/pw-2/doDelete")
        expect(r.status == 302, "an API token needs no crumb: %s", r.status)
        s.post("computer/pw-1/doDelete")
    t.check("password auth: POST needs a crumb bound to the session cookie; a token needs none", crumbs)


def check_export(t, s):
    s.node("exp-1", labels="exp", executors=2)
    s.build(job="exp-job", label="exp-nothing", durationMs=100)

    def depth():
        doc = s.get("computer/api/json").json
        expect(doc["_class"] == "hudson.model.ComputerSet" and doc["displayName"] == "Nodes", doc.keys())
        comp = [c for c in doc["computer"] if c["displayName"] == "exp-1"][0]
        expect(comp["_class"] == "hudson.slaves.SlaveComputer", comp["_class"])
        expect(comp["executors"] == [{}, {}], "default depth: executors %s", comp["executors"])
        expect({"name": "exp"} in comp["assignedLabels"] and {"name": "exp-1"} in comp["assignedLabels"],
               comp["assignedLabels"])
        expect(doc["computer"][0]["_class"] == "hudson.model.Hudson$MasterComputer", "built-in first")
        comp = [c for c in s.get("computer/api/json?depth=1").json["computer"] if c["displayName"] == "exp-1"][0]
        expect(comp["executors"][0] == {"currentExecutable": None, "idle": True, "likelyStuck": False,
                                        "number": 0, "progress": -1}, comp["executors"][0])
        q = s.get("queue/api/json").json
        mine = [i for i in q["items"] if i["task"]["_class"] == PLACEHOLDER]
        expect(mine and mine[0]["task"] == {"_class": PLACEHOLDER}, "placeholder at depth 0: %s", mine)
        expect(q["discoverableItems"] == [] and "why" in mine[0] and "params" in mine[0], mine[0])
    t.check("depth=0/1 pruning as Stapler: executors [{}], PlaceholderTask only _class", depth)

    def tree():
        names = [c["displayName"] for c in s.get("computer/api/json?tree=computer[displayName]").json["computer"]]
        r = s.get("computer/api/json?tree=computer[displayName]{1,3}")
        expect(r.json == {"_class": "hudson.model.ComputerSet",
                          "computer": [{"_class": "hudson.slaves.SlaveComputer", "displayName": n}
                                       for n in names[1:3]]}, r.text)
        expect(names[1:] == sorted(names[1:]) and names[0] == "Built-In Node", names)
        r = s.get("computer/exp-1/api/json?tree=executors[*]{0}")
        expect(len(r.json["executors"]) == 1 and "idle" in r.json["executors"][0], r.text)
        r = s.get("computer/exp-1/api/json?tree=nosuchfield,displayName")
        expect(r.json == {"_class": "hudson.slaves.SlaveComputer", "displayName": "exp-1"}, r.text)
        r = s.get("computer/exp-1/api/json?tree=assignedLabels")
        expect(r.json["assignedLabels"][0] == {}, "named without children: %s", r.text)
        r = s.get("computer/api/json?tree=computer[displayName")
        expect(r.status == 500 and "Malformed tree expression" in r.text, "%s %s", r.status, r.text)
        expect(s.get("computer/api/json?depth=x").status == 500, "non-integer depth")
        expect(s.get("computer/api/json?jsonp=f").status == 403, "jsonp refused")
        expect(s.get("computer/api/json?pretty=true&tree=displayName").text.startswith("{\n"), "pretty")
    t.check("tree= selects, ranges, '*', unknown names absent; malformed tree 500; jsonp 403", tree)


def check_create(t, s):
    def create():
        r = s.post("computer/doCreateItem", create_form("kc-1"))
        expect(r.status == 302 and r.headers["Location"] == s.url + "computer/", "%s %s", r.status,
               dict(r.headers))
        doc = s.get("computer/kc-1/api/json?tree=displayName,numExecutors,offline,temporarilyOffline,idle,"
                    "offlineCauseReason,offlineCause,jnlpAgent,launchSupported,assignedLabels[name]").json
        expect(doc == {"_class": "hudson.slaves.SlaveComputer", "displayName": "kc-1", "numExecutors": 1,
                       "offline": True, "temporarilyOffline": False, "idle": True, "offlineCauseReason": "",
                       "offlineCause": None, "jnlpAgent": True, "launchSupported": False,
                       "assignedLabels": [{"name": "docker"}, {"name": "kc-1"}, {"name": "linux"}]}, doc)
        status, nodes = s.admin("GET", "/nodes")
        mine = [n for n in nodes if n["name"] == "kc-1"][0]
        expect(mine["mode"] == "EXCLUSIVE" and mine["remoteFS"] == "/home/jenkins/agent" and mine["webSocket"] and
               mine["retention"] == "hudson.slaves.RetentionStrategy$Always", mine)
        r = s.post("computer/doCreateItem", create_form("kc-2", launcher={"$class": "hudson.slaves.JNLPLauncher"}),
                   headers={})
        expect(r.status == 302, "$class accepted too: %s", r.status)
        xml = s.get("computer/kc-1/config.xml")
        expect(xml.status == 200 and "<mode>EXCLUSIVE</mode>" in xml.text and "<label>linux docker</label>"
               in xml.text, xml.text)
    t.check("doCreateItem as python-jenkins sends it: 302, the node as configured", create)

    def refusals():
        r = s.post("computer/doCreateItem", create_form("kc-1"))
        # Jetty writes header values as ISO-8859-1 and replaces other characters with '?';
        # the page body carries the text in UTF-8
        expect(r.status == 400 and r.headers["X-Error"] == "Agent called ?kc-1? already exists" and
               "Agent called \u2018kc-1\u2019 already exists" in r.text, "%s %s", r.status, dict(r.headers))
        r = s.post("computer/doCreateItem", create_form("a:b"))
        expect(r.status == 400 and r.headers["X-Error"] == "?:? is an unsafe character", dict(r.headers))
        r = s.post("computer/doCreateItem", create_form("ends."))
        expect(r.status == 400 and r.headers["X-Error"] == "A name cannot end with ?.?", dict(r.headers))
        r = s.post("computer/doCreateItem", {"type": "hudson.slaves.DumbSlave", "json": "{}"})
        expect(r.status == 400 and r.headers["X-Error"] == "Query parameter 'name' is required", dict(r.headers))
        r = s.post("computer/doCreateItem", {"name": "nojson", "type": "hudson.slaves.DumbSlave"})
        expect(r.status == 400 and "expects a form submission" in r.headers["X-Error"], dict(r.headers))
        r = s.post("computer/doCreateItem", dict(create_form("badtype"), type="hudson.slaves.NoSuchSlave"))
        expect(r.status == 500, "unknown type: %s", r.status)
        r = s.post("computer/doCreateItem", create_form("badl", launcher={"$class": "hudson.plugins.sshslaves."
                                                                                    "SSHLauncher"}))
        expect(r.status == 500, "unknown launcher class: %s", r.status)
        expect(s.get("computer/doCreateItem").status == 404, "GET does not dispatch")
        expect(s.get("computer/badtype/api/json").status == 404, "nothing created on errors")
    t.check("doCreateItem refusals: 400 + X-Error (duplicate, unsafe, no name, no json), 500, never 409",
            refusals)

    def jnlp():
        key = bytes.fromhex(s.read("secret.key"))
        want = hmac.new(key, b"kc-1", hashlib.sha256).hexdigest()
        r = s.get("computer/kc-1/jenkins-agent.jnlp")
        expect(r.status == 200 and r.headers["Content-Type"].startswith("application/x-java-jnlp-file"),
               "%s %s", r.status, dict(r.headers))
        args = re.findall(r"<argument>([^<]*)</argument>", r.text)
        expect(args[0] == want and re.fullmatch("[0-9a-f]{64}", args[0]) and args[1] == "kc-1", args)
        expect("-webSocket" in args and args[args.index("-workDir") + 1] == "/home/jenkins/agent" and
               args[args.index("-url") + 1] == s.url, args)
        expect(s.get("computer/kc-1/slave-agent.jnlp").text == r.text, "legacy URL serves the same")
        r = s.get("computer/nosuch/jenkins-agent.jnlp")
        expect(r.status == 404, "unknown node: %s", r.status)
        r = s.get("computer/kc-1/jenkins-agent.jnlp", auth=s.auth("reader"))
        expect(r.status == 403 and r.headers["X-Required-Permission"] == "hudson.model.Computer.Connect",
               "%s %s", r.status, dict(r.headers))
        expect("secret" not in s.get("computer/kc-1/api/json?depth=2").text.lower() or
               want not in s.get("computer/kc-1/api/json?depth=2").text, "the secret is not in api/json")
    t.check("jenkins-agent.jnlp: secret = HMAC-SHA256(name), 64 hex; slave-agent.jnlp; 404; 403 without Connect",
            jnlp)


def check_agents(t, s):
    secret = s.node("ag-1", labels="agents")
    s.node("ag-2", labels="agents")

    def ws_refusals():
        st, _, body, _ = ws_handshake(s, "ag-1", secret, capability=False)
        expect(st == 400 and "only for use from agent.jar" in body, "%s %s", st, body)
        st, _, body, _ = ws_handshake(s, "ghost", secret)
        expect(st == 400 and "no such agent" in body, "%s %s", st, body)
        st, _, body, _ = ws_handshake(s, "ag-1", "0" * 64)
        expect(st == 403, "wrong secret: %s %s", st, body)
    t.check("/wsagents/: missing headers 400, unknown name 400 'no such agent', wrong secret 403", ws_refusals)

    def ws_connect():
        st, hdrs, _, sock = ws_handshake(s, "ag-1", secret)
        expect(st == 101 and hdrs["sec-websocket-accept"] == hdrs["_expected_accept"], "%s %s", st, hdrs)
        s.wait("ag-1 online", lambda: not s.computer("ag-1").json["offline"])
        st2, _, body, _ = ws_handshake(s, "ag-1", secret)
        expect(st2 == 403 and "already connected" in body, "second connection: %s %s", st2, body)
        answer, tsock = tcp_connect(s, "ag-1", secret)
        expect(answer.startswith("ERROR") and "already connected" in answer, answer)
        tsock.close()
        ws_send(sock, 0x9, b"hi")
        expect(ws_recv(sock) == (0xA, b"hi"), "ping answered with pong")
        ws_send(sock, 0x8, b"\x03\xe8")
        expect(ws_recv(sock)[0] == 0x8, "close answered")
        sock.close()
        s.wait("ag-1 offline", lambda: s.computer("ag-1").json["offline"])
        reason = s.computer("ag-1").json["offlineCauseReason"]
        expect("Connection was broken" in reason, reason)
    t.check("/wsagents/: 101 with Sec-WebSocket-Accept, online, twin refused, ping/pong, close -> offline",
            ws_connect)

    def tcp():
        r = s.get("tcpSlaveAgentListener/", auth=False)
        expect(r.status == 200 and r.headers["X-Jenkins-JNLP-Port"] == str(s.ready["agentPort"]) and
               "JNLP4-connect" in r.headers["X-Jenkins-Agent-Protocols"] and r.headers["X-Instance-Identity"],
               "%s %s", r.status, dict(r.headers))
        answer, sock = tcp_connect(s, "ghost", secret)
        expect(answer == "ERROR Unknown client name: ghost", answer)
        sock.close()
        answer, sock = tcp_connect(s, "ag-1", "f" * 64)
        expect(answer == "ERROR Authorization failure", answer)
        sock.close()
        answer, sock = tcp_connect(s, "ag-1", secret)
        expect(answer == "OK", answer)
        s.wait("ag-1 online over TCP", lambda: not s.computer("ag-1").json["offline"])
        sock.close()
        s.wait("ag-1 offline", lambda: s.computer("ag-1").json["offline"])
    t.check("TCP agent port: discovery headers, unknown name / wrong secret refused, OK -> online, EOF -> offline",
            tcp)

    def real_agent():
        env = {"JENKINS_URL": s.url, "JENKINS_SECRET": secret, "JENKINS_AGENT_NAME": "ag-1",
               "JENKINS_WEB_SOCKET": "true"}
        a = Agent(env)
        s.wait("agent.py over WebSocket", lambda: not s.computer("ag-1").json["offline"])
        b = Agent({"JENKINS_URL": s.url, "JENKINS_SECRET": s.read("secret.key") and
                   hmac.new(bytes.fromhex(s.read("secret.key")), b"ag-2", hashlib.sha256).hexdigest(),
                   "JENKINS_AGENT_NAME": "ag-2"})
        s.wait("agent.py over TCP", lambda: not s.computer("ag-2").json["offline"])
        status, nodes = s.admin("GET", "/nodes")
        via = {n["name"]: n["connected"] for n in nodes}
        expect(via["ag-1"] == "ws" and via["ag-2"] == "tcp", via)
        expect(a.stop() == 143 and b.stop() == 143, "agents stopped: %s %s", a.rc, b.rc)
        s.wait("both offline", lambda: s.computer("ag-1").json["offline"] and s.computer("ag-2").json["offline"])
        bad = Agent({"JENKINS_URL": s.url, "JENKINS_SECRET": "nope", "JENKINS_AGENT_NAME": "ag-1",
                     "JENKINS_WEB_SOCKET": "true"}, attempts=2)
        bad.thread.join(10)
        expect(bad.rc == 255 and any("HTTP 403" in line for line in bad.logs), "%s %s", bad.rc, bad.logs[-2:])
        wrong_url = Agent({"JENKINS_URL": "http://127.0.0.1:1/", "JENKINS_SECRET": secret,
                           "JENKINS_AGENT_NAME": "ag-1"}, attempts=2)
        wrong_url.thread.join(10)
        expect(wrong_url.rc == 255 and s.computer("ag-1").json["offline"], "a wrong JENKINS_URL never connects")
    t.check("tests/sim/agent.py (the kubelet's inbound agent) connects over WebSocket and TCP; wrong env never does",
            real_agent)


def check_queue(t, s):
    """Every core why form (§2.4).  Runs on a fresh simulator: no agents at first."""
    def no_agents():
        item = s.build(job="team-a/app", label="linux && (docker || podman)", durationMs=200)
        it = s.wait("block item", lambda: [i for i in s.queue() if i["task"]["_class"] == PLACEHOLDER])[0]
        expect(it["why"] == "Waiting for next available executor", it["why"])
        expect(it["task"]["url"] == "job/team-a/job/app/1/" and it["task"]["name"] == "part of team-a \u00bb app #1",
               it["task"])
        expect(it["buildable"] and not it["blocked"] and it["stuck"], it)
        left = s.get("queue/item/%d/api/json?tree=cancelled,executable[url,number]" % item).json
        expect(left["_class"] == "hudson.model.Queue$LeftItem" and left["executable"]["number"] == 1 and
               left["executable"]["url"] == s.url + "job/team-a/job/app/1/", left)
        return it["id"]
    ids = {}
    t.check("no agents at all: 'Waiting for next available executor'; folder task URL; left flyweight item",
            lambda: ids.setdefault("block", no_agents()))

    def forms():
        block = ids["block"]
        s.node("solo", labels="solo")
        expect(s.why(block) == "There are no nodes with the label \u2018linux&&(docker||podman)\u2019",
               s.why(block))
        s.node("n1", labels="linux docker")
        expect(s.why(block) == "\u2018n1\u2019 is offline", s.why(block))
        s.node("n2", labels="linux podman")
        expect(s.why(block) == "All nodes of label \u2018linux&&(docker||podman)\u2019 are offline", s.why(block))
        r = s.get("queue/api/json?tree=items[id,why]", headers={"Accept-Language": "de-DE,de;q=0.9"})
        whys = [i["why"] for i in r.json["items"] if i["id"] == block]
        expect(whys == ["Alle Knoten des Labels \u201elinux&&(docker||podman)\u201c sind offline"], whys)
    t.check("why: no nodes with the label / single node named offline / all nodes offline; German without en",
            forms)

    def busy():
        block = ids["block"]
        conns = [tcp_connect(s, n, hmac.new(bytes.fromhex(s.read("secret.key")), n.encode(),
                                            hashlib.sha256).hexdigest())[1] for n in ("n1", "n2")]
        ids["conns"] = conns
        s.wait("block started", lambda: s.why(block) is None)
        s.build(job="team-a/app", label="linux && (docker || podman)", durationMs=3000)
        s.build(job="team-a/app", label="linux && (docker || podman)", durationMs=3000)
        s.wait("n1 and n2 busy", lambda: not s.computer("n1").json["idle"] and not s.computer("n2").json["idle"])
        waiting = s.wait("third block", lambda: [i for i in s.queue() if i["task"]["_class"] == PLACEHOLDER])
        expect(waiting[0]["why"] == "Waiting for next available executor on \u2018linux&&(docker||podman)\u2019",
               waiting[0]["why"])
        item = s.build(job="only-n1", kind="freestyle", label="docker", durationMs=10)
        expect(s.wait("why", lambda: s.why(item)) == "Waiting for next available executor on \u2018n1\u2019",
               s.why(item))
        ids["only-n1"] = item
    t.check("why: 'Waiting for next available executor on' a label (>=2 busy) and on a node (1 busy)", busy)

    def reserved():
        s.node("excl", labels="special", mode="EXCLUSIVE")
        answer, sock = tcp_connect(s, "excl", hmac.new(bytes.fromhex(s.read("secret.key")), b"excl",
                                                       hashlib.sha256).hexdigest())
        ids["conns"].append(sock)
        s.wait("excl online", lambda: not s.computer("excl").json["offline"])
        item = s.build(job="anywhere", kind="freestyle", durationMs=10)
        why = s.wait("why", lambda: s.why(item))
        expect("\u2018excl\u2019 is reserved for jobs with matching label expression" in why, why)
        ids["anywhere"] = item
    t.check("why: composite reasons ('reserved for jobs with matching label expression')", reserved)

    def quiet_and_blocked():
        item = s.build(job="slow", kind="freestyle", label="special", durationMs=1500, params={"A": "1"})
        s.wait("slow running", lambda: s.why(item) is None)
        other = s.build(job="slow", kind="freestyle", label="special", durationMs=10, params={"A": "2"})
        it = s.wait("blocked", lambda: [i for i in s.queue() if i["id"] == other])[0]
        expect(it["blocked"] and not it["buildable"] and
               re.fullmatch(r"Build #1 is already in progress \(ETA: [0-9.]+ sec\)", it["why"]), it)
        status, doc = s.admin("POST", "/builds", {"job": "slow", "kind": "freestyle", "label": "special",
                                                  "params": {"A": "2"}})
        expect(doc["items"][0] == {"id": other, "coalesced": True}, "same parameters coalesce: %s", doc)
        q2 = s.build(job="nowhere", kind="freestyle", label="no-such-label", durationMs=10)
        q = s.build(job="quiet", kind="freestyle", label="special", quietPeriodMs=5000)
        why = s.why(q)
        expect(re.fullmatch(r"In the quiet period\. Expires in [0-9.]+ sec", why or ""), why)
        it = [i for i in s.get("queue/api/json").json["items"] if i["id"] == q][0]
        expect(it["_class"] == "hudson.model.Queue$WaitingItem" and "timestamp" in it, it)
        s.admin("POST", "/quiet-down", {"on": True})
        try:
            expect(s.why(q2) == "Jenkins is about to shut down", s.why(q2))
            expect(s.get("api/json?tree=quietingDown").json["quietingDown"], "root api shows quietingDown")
        finally:
            s.admin("POST", "/quiet-down", {"on": False})
        r = s.post("queue/cancelItem?id=%d" % q)
        expect(r.status == 422, "kubeagent lacks Item.Cancel: %s", r.status)
        r = s.post("queue/cancelItem?id=%d" % q, auth=s.auth("admin"))
        expect(r.status == 204, "cancel: %s", r.status)
        r = s.post("queue/cancelItem?id=%d" % q, auth=s.auth("admin"))
        expect(r.status == 404 and "Provided id (%d) not found" % q in r.text, r.text)
        expect(s.get("queue/cancelItem?id=1").status == 405, "GET cancelItem is 405")
        left = s.get("queue/item/%d/api/json" % q).json
        expect(left["cancelled"] and left["_class"] == "hudson.model.Queue$LeftItem", left)
    t.check("why: blocked (build in progress, ETA), quiet period, about to shut down; coalescing; cancelItem",
            quiet_and_blocked)

    def order_and_items():
        items = s.get("queue/api/json?tree=items[id,buildable,blocked]").json["items"]
        buildable = [i["id"] for i in items if i["buildable"]]
        expect(buildable == sorted(buildable, reverse=True), "buildable newest first: %s", items)
        r = s.get("queue/item/%d/" % ids["anywhere"])
        expect(r.status == 200 and r.text.startswith("Queue item exists."), r.text)
        expect(s.get("queue/item/999999/api/json").status == 404, "unknown item 404")
    t.check("queue order (waiting, blocked, buildable newest first); /queue/item/ID/", order_and_items)


def check_builds(t, s):
    key = bytes.fromhex(s.read("secret.key"))
    sec = lambda n: hmac.new(key, n.encode(), hashlib.sha256).hexdigest()

    def freestyle():
        s.node("fs-1", labels="fs")
        answer, sock = tcp_connect(s, "fs-1", sec("fs-1"))
        item = s.build(job="folder/pack", kind="freestyle", label="fs", durationMs=400, result="FAILURE")
        it = s.wait("started", lambda: s.get("queue/item/%d/api/json" % item).json.get("executable"))
        run_url = it["url"]
        expect(run_url == s.url + "job/folder/job/pack/1/", run_url)
        exe = s.computer("fs-1").json["executors"][0]
        expect(not exe["idle"] and exe["currentExecutable"] == {"_class": "hudson.model.FreeStyleBuild",
                                                                 "number": 1, "url": run_url}, exe)
        r = s.run_api(run_url, "number,building,result,builtOn,queueId")
        expect(r["building"] and r["result"] is None and r["builtOn"] == "fs-1" and r["queueId"] == item, r)
        s.wait("finished", lambda: not s.run_api(run_url)["building"])
        r = s.run_api(run_url)
        expect(r["result"] == "FAILURE", r)
        expect(s.computer("fs-1").json["executors"][0]["idle"], "executor idle again")
        job = s.get("job/folder/job/pack/api/json?tree=name,fullName,labelExpression,builds[number]").json
        expect(job["fullName"] == "folder/pack" and job["labelExpression"] == "fs" and
               job["builds"] == [{"_class": "hudson.model.FreeStyleBuild", "number": 1}], job)
        expect(s.get("job/folder/api/json?tree=jobs[name]").json["jobs"][0]["name"] == "pack", "folder lists jobs")
        sock.close()
    t.check("free-style build: executor currentExecutable, run building then result, builtOn, folders", freestyle)

    def pipeline():
        s.node("pl-1", labels="pl")
        answer, sock = tcp_connect(s, "pl-1", sec("pl-1"))
        s.build(job="team-b/pipe", label="pl", durationMs=300, afterMs=600, result="UNSTABLE")
        exe = s.wait("block on pl-1", lambda: s.computer("pl-1").json["executors"][0]["currentExecutable"])
        expect(exe["_class"] == PLACEHOLDER + "$PlaceholderExecutable" and
               exe["url"] == s.url + "job/team-b/job/pipe/1/" and exe["number"] == 1, exe)
        built_in = s.get("computer/(built-in)/api/json?tree=oneOffExecutors[currentExecutable[url]]").json
        expect(any(e["currentExecutable"] and e["currentExecutable"]["url"] == exe["url"]
                   for e in built_in["oneOffExecutors"]), "the run itself is on the built-in one-off executor")
        s.wait("block ended", lambda: s.computer("pl-1").json["idle"])
        expect(s.run_api(exe["url"])["building"], "the run still builds after its node block")
        s.wait("run finished", lambda: not s.run_api(exe["url"])["building"])
        expect(s.run_api(exe["url"], "result,inProgress")["result"] == "UNSTABLE", "pipeline result")
        sock.close()
    t.check("pipeline: node block on the agent (PlaceholderExecutable), run continues, then its result", pipeline)

    def assignment():
        socks = []
        for name, labels, mode in (("as-a", "x y", "NORMAL"), ("as-b", "x", "EXCLUSIVE")):
            s.node(name, labels=labels, mode=mode)
            socks.append(tcp_connect(s, name, sec(name))[1])
        i1 = s.build(job="needs-x-not-y", kind="freestyle", label="x && !y", durationMs=50)
        run = s.wait("started", lambda: s.get("queue/item/%d/api/json" % i1).json.get("executable"))
        expect(s.run_api(run["url"], "builtOn")["builtOn"] == "as-b", "x && !y ran on as-b")
        i2 = s.build(job="unlabelled", kind="freestyle", durationMs=50)
        run = s.wait("started", lambda: s.get("queue/item/%d/api/json" % i2).json.get("executable"))
        expect(s.run_api(run["url"], "builtOn")["builtOn"] not in ("as-b", "excl"),
               "EXCLUSIVE nodes never take unlabelled builds")
        i3 = s.build(job="to-x", kind="freestyle", label="as-a || as-b -> y", durationMs=50)
        run = s.wait("started", lambda: s.get("queue/item/%d/api/json" % i3).json.get("executable"))
        expect(s.run_api(run["url"], "builtOn")["builtOn"] == "as-a", "self-label and -> evaluated")
        for sock in socks:
            sock.close()
    t.check("queued builds go to nodes whose labels satisfy the expression; NORMAL/EXCLUSIVE honoured", assignment)

    def offline_marks():
        s.node("tmp-1", labels="tmp")
        ans, sock = tcp_connect(s, "tmp-1", sec("tmp-1"))
        s.wait("online", lambda: not s.computer("tmp-1").json["offline"])
        item = s.build(job="long", kind="freestyle", label="tmp", durationMs=600)
        run = s.wait("started", lambda: s.get("queue/item/%d/api/json" % item).json.get("executable"))
        r = s.post("computer/tmp-1/changeOfflineCause",
                   {"offlineMessage": "single-use agent: retiring after its build"})
        expect(r.status == 302 and r.headers["Location"] == s.url + "computer/tmp-1/", "%s %s", r.status,
               dict(r.headers))
        c = s.computer("tmp-1").json
        expect(c["offline"] and c["temporarilyOffline"] and
               c["offlineCauseReason"] == "single-use agent: retiring after its build", c)
        expect(s.get("computer/tmp-1/api/json?tree=offlineCause[description]").json["offlineCause"][
            "description"] == "Disconnected by kubeagent : single-use agent: retiring after its build", "cause")
        nxt = s.build(job="next", kind="freestyle", label="tmp", durationMs=10)
        expect(s.wait("why", lambda: s.why(nxt)) == "\u2018tmp-1\u2019 is offline", s.why(nxt))
        s.wait("running build continues", lambda: not s.run_api(run["url"])["building"])
        expect(s.run_api(run["url"])["result"] == "SUCCESS", "the build finished normally")
        expect(s.why(nxt) is not None, "nothing new was assigned")
        expect(s.get("computer/tmp-1/toggleOffline").status == 405, "GET toggleOffline 405")
        r = s.post("computer/tmp-1/toggleOffline", auth=s.auth("reader"))
        expect(r.status == 403 and r.headers["X-Required-Permission"] == "hudson.model.Computer.Connect", r.status)
        expect(s.post("computer/tmp-1/toggleOffline").status == 302, "toggle back")
        s.wait("next runs", lambda: s.why(nxt) is None)
        r = s.post("computer/tmp-1/toggleOffline", {"offlineMessage": "ImagePullBackOff: image maven:nope not found"})
        c = s.computer("tmp-1").json
        expect(c["temporarilyOffline"] and c["offlineCauseReason"] == "ImagePullBackOff: image maven:nope not found",
               c)
        expect(s.post("computer/tmp-1/changeOfflineCause", auth=s.auth("reader")).status == 403, "Disconnect perm")
        sock.close()
    t.check("changeOfflineCause/toggleOffline: temporarily offline with the reason, running build goes on, "
            "nothing new assigned; 405 on GET; permissions", offline_marks)

    def delete():
        s.node("del-1", labels="del")
        ans, sock = tcp_connect(s, "del-1", sec("del-1"))
        s.wait("online", lambda: not s.computer("del-1").json["offline"])
        expect(s.get("computer/del-1/doDelete").status == 405, "GET doDelete 405")
        r = s.post("computer/del-1/doDelete", auth=s.auth("reader"))
        expect(r.status == 403 and r.headers["X-Required-Permission"] == "hudson.model.Computer.Delete", r.status)
        r = s.post("computer/del-1/doDelete")
        expect(r.status == 302 and r.headers["Location"] == s.url + "computer/", "%s %s", r.status, dict(r.headers))
        expect(s.get("computer/del-1/api/json").status == 404, "gone")
        expect(s.post("computer/del-1/doDelete").status == 404, "second delete 404")
        sock.settimeout(5)
        expect(sock.recv(10) == b"", "the agent's connection is closed")
        sock.close()
    t.check("doDelete: 302, then 404; 405 on GET; Computer.Delete; the agent is disconnected", delete)


def check_faults_and_stats(t, s):
    def faults():
        status, rule = s.admin("POST", "/faults", {"match": {"path": "/queue/api/json"}, "status": 503, "count": 1})
        expect(status == 201, rule)
        expect(s.get("queue/api/json").status == 503, "fault answered")
        expect(s.get("queue/api/json").status == 200, "count honoured")
        s.admin("POST", "/faults", {"match": {"path": "/whoAmI/api/json"}, "close": True, "count": 1})
        try:
            s.get("whoAmI/api/json")
            raise AssertionError("connection not dropped")
        except (http.client.HTTPException, ConnectionError):
            pass
        s.admin("DELETE", "/faults")
    t.check("faults: injected 503 and dropped connections", faults)

    def stats():
        status, doc = s.admin("GET", "/stats")
        req = doc["requests"]
        expect(req.get("GET /computer/{name}/api/json 200", 0) > 0 and req.get("POST /computer/doCreateItem 302", 0)
               > 0 and req.get("GET /queue/api/json 200", 0) > 0, sorted(req)[:20])
        expect(doc["builds"]["finished"] > 0 and "SUCCESS" in doc["builds"]["results"], doc["builds"])
        expect(doc["nodes"]["created"] >= doc["nodes"]["deleted"] > 0, doc["nodes"])
    t.check("GET /stats: requests by method + path template + code, builds by state", stats)


def check_restart(t, s):
    key = bytes.fromhex(s.read("secret.key"))
    sec = lambda n: hmac.new(key, n.encode(), hashlib.sha256).hexdigest()

    def restart():
        s.node("rs-1", labels="rs")
        agent = Agent({"JENKINS_URL": s.url, "JENKINS_SECRET": sec("rs-1"), "JENKINS_AGENT_NAME": "rs-1",
                       "JENKINS_WEB_SOCKET": "true"}, attempts=1000)
        s.wait("online", lambda: not s.computer("rs-1").json["offline"])
        s.node("rs-2", labels="rs2")
        ans, sock2 = tcp_connect(s, "rs-2", sec("rs-2"))
        s.build(job="resume-me", label="rs", durationMs=1500, result="SUCCESS")
        fs = s.build(job="lost", kind="freestyle", label="rs2", durationMs=5000)
        exe = s.wait("block running", lambda: s.computer("rs-1").json["executors"][0]["currentExecutable"])
        fs_run = s.wait("fs running", lambda: s.get("queue/item/%d/api/json" % fs).json.get("executable"))
        waiting = s.build(job="waits", kind="freestyle", label="nothing-has-this", durationMs=10)
        before = s.get("api/json?tree=url").headers["X-Jenkins-Session"]
        pw = s.auth("kubeagent", s.read("password-kubeagent"))
        c = s.get("crumbIssuer/api/json", auth=pw)
        crumb, cookie = c.json["crumb"], c.headers["Set-Cookie"].split(";")[0]
        status, doc = s.admin("POST", "/restart", {"downMs": 300, "loadingMs": 400})
        expect(status == 202, doc)
        s.wait("loading", lambda: s.admin("GET", "/healthz")[1]["phase"] == "loading")
        r = s.get("api/json")
        expect(r.status == 503 and "X-Jenkins-Session" not in r.headers, "503 while loading: %s", r.status)
        s.wait("up", lambda: s.admin("GET", "/healthz")[1]["phase"] == "up")
        after = s.get("api/json?tree=url").headers["X-Jenkins-Session"]
        expect(after != before, "X-Jenkins-Session changed")
        r = s.post("computer/rs-2/toggleOffline", auth=pw, headers={"Jenkins-Crumb": crumb, "Cookie": cookie})
        expect(r.status == 403, "the old session's crumb is dead: %s", r.status)
        expect(s.computer("rs-1").status == 200 and s.computer("rs-2").status == 200, "nodes restored")
        expect(s.why(waiting) == "There are no nodes with the label \u2018nothing-has-this\u2019", "queue restored")
        r = s.run_api(fs_run["url"])
        expect(not r["building"] and r["result"] == "ABORTED", "running free-style build lost: %s", r)
        sock2.close()
        # the agent reconnects by itself; the pipeline block was re-queued for its node by name
        s.wait("agent back", lambda: not s.computer("rs-1").json["offline"], timeout=10)
        s.wait("block resumed on rs-1", lambda: s.computer("rs-1").json["executors"][0]["currentExecutable"])
        s.wait("run finished", lambda: not s.run_api(exe["url"])["building"], timeout=10)
        expect(s.run_api(exe["url"])["result"] == "SUCCESS", "resumed run result")
        agent.stop()
    t.check("restart: down then 503, new X-Jenkins-Session and sessions, nodes and queue kept, free-style lost, "
            "pipeline block resumes when its agent reconnects", restart)

    def resume_timeout():
        s.admin("POST", "/config", {"resumeTimeoutMs": 1500})
        s.node("rs-3", labels="rs3")
        ans, sock = tcp_connect(s, "rs-3", sec("rs-3"))
        s.build(job="never-resumes", label="rs3", durationMs=5000)
        exe = s.wait("block running", lambda: s.computer("rs-3").json["executors"][0]["currentExecutable"])
        s.admin("POST", "/restart", {"downMs": 0, "loadingMs": 0})
        s.wait("up", lambda: s.admin("GET", "/healthz")[1]["phase"] == "up" and s.get("api/json").status == 200)
        sock.close()
        items = s.wait("re-queued block", lambda: [i for i in s.queue() if i["task"].get("url") ==
                                                   exe["url"][len(s.url):]])
        expect(items[0]["why"] == "\u2018rs-3\u2019 is offline", "why names the node: %s", items[0]["why"])
        s.post("computer/rs-3/changeOfflineCause", {"offlineMessage": "single-use"})
        s.wait("aborted after the timeout", lambda: not s.run_api(exe["url"])["building"], timeout=6)
        expect(s.run_api(exe["url"])["result"] == "ABORTED", "aborted")
    t.check("restart: a re-queued block waits for its node by name ('N is offline'), aborts after the timeout",
            resume_timeout)


def check_prefix_tls(t):
    def prefixed():
        s = Sim("--prefix", "/jenkins", "--tls", "--agent-port", "-1")
        try:
            expect(s.url.startswith("https://127.0.0.1:") and s.url.endswith("/jenkins/"), s.url)
            r = s.get("api/json?tree=url,slaveAgentPort")
            expect(r.status == 200 and r.json["url"] == s.url and r.json["slaveAgentPort"] == -1, r.text)
            expect(s.get("tcpSlaveAgentListener/", auth=False).status == 404, "TCP port disabled: 404")
            r = s.post("computer/doCreateItem", create_form("pre-1"))
            expect(r.status == 302 and r.headers["Location"] == s.url + "computer/", dict(r.headers))
            conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=s.ctx, timeout=5)
            conn.request("GET", "/api/json", headers={"Authorization": s.auth()})
            expect(conn.getresponse().status == 404, "outside the context path")
            conn.close()
            secret = re.findall(r"<argument>([^<]*)</argument>", s.get("computer/pre-1/jenkins-agent.jnlp").text)[0]
            a = Agent({"JENKINS_URL": s.url, "JENKINS_SECRET": secret, "JENKINS_AGENT_NAME": "pre-1",
                       "JENKINS_WEB_SOCKET": "true"})
            s.wait("agent over wss", lambda: not s.computer("pre-1").json["offline"])
            a.stop()
        finally:
            expect(s.stop() == 0, "second simulator stops with 0")
    t.check("--prefix /jenkins --tls: root URL, 404 outside the context path, agents over wss", prefixed)


def check_with_kubesim(t, s):
    """The Kubernetes simulator's kubelet runs the agent container against this simulator."""
    import test_kube_sim as K

    def pods():
        k = K.Sim()
        try:
            expect(s.post("computer/doCreateItem", create_form("pod-agent-1")).status == 302, "node created")
            secret = re.findall(r"<argument>([^<]*)</argument>",
                                s.get("computer/pod-agent-1/jenkins-agent.jnlp").text)[0]
            k.create(K.agent_pod("pod-agent-1", s.url, "pod-agent-1", secret))
            s.wait("pod's agent online", lambda: not s.computer("pod-agent-1").json["offline"], timeout=15)
            k.create(K.agent_pod("pod-wrong", s.url, "pod-agent-1", "0" * 64, websocket=False))
            k.create(K.agent_pod("pod-elsewhere", "http://127.0.0.1:1/", "pod-agent-1", secret))
            for name in ("pod-wrong", "pod-elsewhere"):
                p = k.wait_pod(name, lambda p: K.cstate(p).get("state", {}).get("terminated"), timeout=20)
                expect(K.cstate(p)["state"]["terminated"]["exitCode"] == 255, "%s exits 255", name)
            expect(k.api("DELETE", "/api/v1/namespaces/ci/pods/pod-agent-1").status == 200, "pod deleted")
            s.wait("offline after the pod is deleted", lambda: s.computer("pod-agent-1").json["offline"], timeout=15)
        finally:
            k.stop()
    t.check("with kube_sim: a pod with the right name, secret and JENKINS_URL brings its node online; "
            "a wrong secret or URL never does; deleting the pod takes it offline", pods)


def main():
    t = Tap()
    started = time.time()
    check_labels(t)
    s = Sim()
    try:
        t.check("READY line and ready.json", lambda: expect(
            s.ready["url"] == "http://127.0.0.1:%d/" % s.port and s.ready["agentPort"] > 0 and
            s.ready["admin"] == "http://127.0.0.1:%d" % s.admin_port, s.ready))
        check_queue(t, s)
        check_auth(t, s)
        check_export(t, s)
        check_create(t, s)
        check_agents(t, s)
        check_builds(t, s)
        check_faults_and_stats(t, s)
        check_restart(t, s)
        check_with_kubesim(t, s)
    finally:
        rc = s.stop()
    t.check("SIGTERM stops the simulator with status 0", lambda: expect(rc == 0, "exit status %s", rc))
    check_prefix_tls(t)
    failed = t.report()
    print("# %d checks in %.1fs" % (len(t.results), time.time() - started))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
