#!/usr/bin/env python3
"""TAP tests of the simulator's exec subresource (WebSocket), over real TLS sockets.

Starts ``kube_sim.py``, creates one pod and drives ``.../pods/ex/exec`` with a
small WebSocket client built on ``websocket.py``: handshakes and their
refusals, v5/v4/v1/base64 channel protocols, the channel-3 Status, stdin and
the v5 close signal, large and fragmented output, the kill-by-marker flow of
the Jenkins plugin, RBAC, and framing errors.  ``kubectl exec`` is checked too
when kubectl is on PATH.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import websocket as ws  # noqa: E402
import test_kube_sim  # noqa: E402
from test_kube_sim import NS, cstate, expect, pod  # noqa: E402

BOTH = ("v5.channel.k8s.io", "v4.channel.k8s.io")


def exec_path(command, container="main", pod_name="ex", **flags):
    query = [("command", c) for c in command] + [("container", container)]
    for name in ("stdin", "stdout", "stderr", "tty"):
        if flags.get(name, name in ("stdout", "stderr")):
            query.append((name, "true"))
    return NS + "/pods/%s/exec?%s" % (pod_name, urllib.parse.urlencode(query, quote_via=urllib.parse.quote))


class Ws:
    """One exec request: the handshake answer, then frames until the server closes."""

    def __init__(self, s, path, protocols=BOTH, token=None, method="GET", version="13", key=True):
        raw = socket.create_connection(("127.0.0.1", s.port), timeout=15)
        self.sock = s.ssl.wrap_socket(raw, server_hostname="127.0.0.1")
        self.key = base64.b64encode(os.urandom(16)).decode()
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % s.port,
                 "Authorization: Bearer " + (token or s.token), "Connection: Upgrade", "Upgrade: websocket",
                 "Sec-WebSocket-Version: " + version]
        if key:
            lines.append("Sec-WebSocket-Key: " + self.key)
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("no handshake answer: %r" % buf)
            buf += chunk
        head, self.rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        self.body = b""
        if self.status != 101:
            size = int(self.headers.get("content-length", "-1"))
            self.body = self.rest
            while size < 0 or len(self.body) < size:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.body += chunk
            self.sock.close()
            return
        want = ws.accept_key(self.key)
        expect(self.headers.get("sec-websocket-accept") == want, "bad accept %s", self.headers)
        self.protocol = self.headers.get("sec-websocket-protocol", "")
        self.messages = ws.Messages(expect_masked=False)
        self.pending = []

    def send(self, channel, data=b""):
        self.sock.sendall(ws.frame(ws.BINARY, bytes([channel]) + data, mask=True))

    def next(self):
        """The next (opcode, payload), or None at EOF."""
        while not self.pending:
            data, self.rest = (self.rest, b"") if self.rest else (self.sock.recv(262144), b"")
            if not data:
                return None
            self.pending.extend(self.messages.feed(data))
        return self.pending.pop(0)

    def run(self, answer_close=True):
        """Read to the end: ({channel: bytes}, [messages], close code, status or None)."""
        out, order, code = {}, [], None
        while True:
            item = self.next()
            if item is None:
                break
            opcode, payload = item
            if opcode == ws.CLOSE:
                code = int.from_bytes(payload[:2], "big")
                if answer_close:
                    self.sock.sendall(ws.frame(ws.CLOSE, payload[:2], mask=True))
                break
            if opcode == ws.TEXT:
                channel, payload = payload[0] - 0x30, base64.b64decode(payload[1:])
            else:
                channel, payload = payload[0], payload[1:]
            order.append((channel, len(payload)))
            out[channel] = out.get(channel, b"") + payload
        self.sock.close()
        status = out.get(3)
        if status and status.startswith(b"{"):
            status = json.loads(status)
        return out, order, code, status


def exit_code(status):
    if status["status"] == "Success":
        return 0
    causes = status.get("details", {}).get("causes", [])
    expect(status.get("reason") == "NonZeroExitCode", "not an exit code: %s", status)
    return int(next(c["message"] for c in causes if c.get("reason") == "ExitCode"))


def run(t, s):
    s.create(pod("ex", [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "infinity"]},
                        {"name": "maven", "image": "maven:3.9", "command": ["cat"], "tty": True,
                         "workingDir": "/home/jenkins/agent", "env": [{"name": "GREETING", "value": "hi"}]},
                        {"name": "quick", "image": "busybox", "command": ["true"]}], restartPolicy="Never"))
    s.wait_pod("ex", lambda q: cstate(q, "main").get("state", {}).get("running")
               and cstate(q, "maven").get("state", {}).get("running")
               and cstate(q, "quick").get("state", {}).get("terminated"))

    def v5_output():
        w = Ws(s, exec_path(["sh", "-c", "echo out; echo err >&2; echo $GREETING; pwd; exit 3"], "maven"))
        expect(w.status == 101 and w.protocol == "v5.channel.k8s.io", "%d %s", w.status, w.headers)
        out, order, code, status = w.run()
        expect(order[0] == (1, 0), "first message is not the empty stdout message: %s", order)
        expect(out[1] == b"out\nhi\n/home/jenkins/agent\n" and out[2] == b"err\n", "%s", out)
        expect(exit_code(status) == 3 and code == 1000, "%s %s", status, code)
        w = Ws(s, exec_path(["true"]))
        out, _, _, status = w.run()
        expect(status == {"metadata": {}, "status": "Success"}, "%s", status)
    t.check("v5: stdout/stderr apart, empty first message, NonZeroExitCode 3, Success, close 1000", v5_output)

    def not_found_127():
        out, _, _, status = Ws(s, exec_path(["sh", "-c", "nosuch arg"])).run()
        expect(exit_code(status) == 127 and out[2] == b"sh: 1: nosuch: not found\n", "%s %s", out, status)
        out, _, _, status = Ws(s, exec_path(["env", "X=1", "nosuch"])).run()
        expect(exit_code(status) == 127 and b"'nosuch': No such file" in out[2], "%s", out)
        out, _, _, status = Ws(s, exec_path(["false"])).run()
        expect(exit_code(status) == 1, "%s", status)
    t.check("exit codes 127 (shell and env) and 1", not_found_127)

    def stdin_v5():
        w = Ws(s, exec_path(["cat"], stdin=True))
        w.send(0, b"hello ")
        w.send(0, b"world\n")
        w.send(255, b"\x00")
        out, _, _, status = w.run()
        expect(out[1] == b"hello world\n" and exit_code(status) == 0, "%s %s", out, status)
    t.check("v5: stdin echoed by cat, [255,0] closes stdin", stdin_v5)

    def v4_protocols():
        w = Ws(s, exec_path(["sh"], stdin=True), protocols=("v4.channel.k8s.io",))
        expect(w.status == 101 and w.protocol == "v4.channel.k8s.io", "%d %s", w.status, w.headers)
        w.send(0, b'cd "/tmp"\nexport K=\'it\'\\\'\'s\'\n"printenv" "K"\n"pwd"\nexit 4\n')
        out, _, code, status = w.run(answer_close=False)
        expect(out[1] == b"it's\n/tmp\n" and exit_code(status) == 4 and code == 1000, "%s %s", out, status)
        expect("error executing command [sh], exit code 4" in status["message"], status["message"])
        w = Ws(s, exec_path(["sh", "-c", "echo a; exit 2"]), protocols=("v4.base64.channel.k8s.io",))
        out, _, _, status = w.run()
        expect(w.protocol == "v4.base64.channel.k8s.io" and out[1] == b"a\n" and exit_code(status) == 2, "%s", out)
        w = Ws(s, exec_path(["sh", "-c", "exit 5"]), protocols=None)
        out, _, _, status = w.run()
        expect(w.protocol == "" and status.startswith(b"command terminated with non-zero exit code"), "%s", out)
        out, _, _, status = Ws(s, exec_path(["true"]), protocols=("channel.k8s.io",)).run()
        expect(status is None, "v1 success sends no status: %s", out)
    t.check("kubelet path: v4 (script on stdin), v4.base64, no protocol and v1 (text errors only)", v4_protocols)

    def refusals():
        w = Ws(s, exec_path(["true"]), protocols=("v9.channel.k8s.io",))
        expect(w.status == 403 and w.body == b"", "unknown protocol: %d %r", w.status, w.body)
        w = Ws(s, exec_path(["true"]), version="12")
        expect(w.status == 400 and w.body == b"missing or bad WebSocket Version"
               and w.headers.get("sec-websocket-version") == "13", "%d %r", w.status, w.body)
        w = Ws(s, exec_path(["true"]), key=False)
        expect(w.status == 400 and w.body == b"mismatch challenge/response", "%d %r", w.status, w.body)
        w = Ws(s, exec_path(["true"], stdout=False, stderr=False), protocols=("v4.channel.k8s.io",))
        expect(w.status == 400 and w.body == b"you must specify at least 1 of stdin, stdout, stderr", "%r", w.body)
        out, _, _, status = Ws(s, exec_path(["true"], stdout=False, stderr=False)).run()
        expect(status["reason"] == "InternalError" and "at least 1 of stdin" in status["message"], "%s", status)
    t.check("handshake refusals: unknown protocol 403, version, key, no streams (400 / channel 3)", refusals)

    def server_versions():
        try:
            expect(s.admin("POST", "/config", {"execProtocols": "v4"})[0] == 200, "config")
            w = Ws(s, exec_path(["true"]))
            expect(w.protocol == "v4.channel.k8s.io" and exit_code(w.run()[3]) == 0, "v4 server: %s", w.headers)
            w = Ws(s, exec_path(["true"]), protocols=("v5.channel.k8s.io",))
            expect(w.status == 403, "v4 server accepted v5: %d", w.status)
            expect(s.admin("POST", "/config", {"execProtocols": "v5"})[0] == 200, "config")
            w = Ws(s, exec_path(["true"], "quick"), protocols=("v4.channel.k8s.io",))
            expect(w.status == 403, "v5 server accepted v4: %d", w.status)
            w = Ws(s, exec_path(["true"]))
            expect(w.protocol == "v5.channel.k8s.io" and exit_code(w.run()[3]) == 0, "v5 server: %s", w.headers)
            expect(s.admin("POST", "/config", {"execProtocols": "v6"})[0] == 400, "bad value accepted")
        finally:
            s.admin("POST", "/config", {"execProtocols": "v5,v4"})
    t.check("v4-only and v5-only servers negotiate or refuse (403)", server_versions)

    def not_running():
        w = Ws(s, exec_path(["true"], "quick"), protocols=("v4.channel.k8s.io",))
        expect(w.status == 500 and w.body == b'container not found ("quick")', "%d %r", w.status, w.body)
        w = Ws(s, exec_path(["true"], "quick"))
        expect(w.status == 101, "translator answers 101 first: %d", w.status)
        out, _, _, status = w.run()
        expect(status["reason"] == "InternalError" and status["message"] ==
               'Internal error occurred: unable to upgrade connection: container not found ("quick")', "%s", status)
        w = Ws(s, exec_path(["true"], "nope"))
        expect(w.status == 400 and json.loads(w.body)["message"] == "container nope is not valid for pod ex", "%r",
               w.body)
        w = Ws(s, exec_path(["true"], pod_name="absent"))
        expect(w.status == 404 and json.loads(w.body)["message"] == 'pods "absent" not found', "%r", w.body)
    t.check("container not running (500 text / channel-3 InternalError), unknown container, no pod", not_running)

    def missing_executable():
        out, order, _, status = Ws(s, exec_path(["/bin/bash"], stdin=True)).run()
        expect(status["reason"] == "InternalError" and 'exec: "/bin/bash": stat /bin/bash: no such file or '
               'directory' in status["message"] and order == [(1, 0), (3, len(out[3]))], "%s %s", status, order)
        out, _, _, status = Ws(s, exec_path(["nosuch"], "maven")).run()
        expect('exec: "nosuch": executable file not found in $PATH' in status["message"], "%s", status)
        out, _, _, status = Ws(s, exec_path(["bash", "-c", "echo $0"], "maven")).run()
        expect(out[1] == b"bash\n", "maven has bash: %s", out)
    t.check("missing shell or executable: InternalError Status on channel 3", missing_executable)

    def rbac():
        restricted = s.read("token-restricted")
        w = Ws(s, exec_path(["true"]), token=restricted)
        body = json.loads(w.body)
        expect(w.status == 403 and body["message"] == 'pods "ex" is forbidden: User "restricted" cannot get '
               'resource "pods/exec" in API group "" in the namespace "ci"', "%s", w.body)
        st, _ = s.admin("POST", "/rbac", {"user": "restricted", "namespace": "ci", "resources": ["pods/exec"],
                                          "verbs": ["get"]})
        expect(st == 201, "grant")
        w = Ws(s, exec_path(["true"]), token=restricted)
        expect(w.status == 403 and 'cannot create resource "pods/exec"' in json.loads(w.body)["message"], "%s",
               w.body)
        out, _, _, status = Ws(s, exec_path(["true"]), token=s.read("sa-token")).run()
        expect(exit_code(status) == 0, "the service account may exec")
    t.check("RBAC: pods/exec get, then create, are required for a WebSocket exec", rbac)

    def large_output():
        w = Ws(s, exec_path(["seq", "1", "300000"]))
        out, order, _, status = w.run()
        want = "".join("%d\n" % i for i in range(1, 300001)).encode()
        expect(out[1] == want and exit_code(status) == 0, "seq output differs (%d bytes)", len(out.get(1, b"")))
        expect(max(n for ch, n in order) == 32768, "messages not capped at 32 KiB")
        st, cfg = s.admin("POST", "/config", {"execFragmentBytes": 1000, "execMessageBytes": 65536})
        expect(st == 200 and cfg["execFragmentBytes"] == 1000, "%s", cfg)
        try:
            w = Ws(s, exec_path(["head", "-c", "5000000", "/dev/zero"]))
            frames = []
            parser = ws.Parser(expect_masked=False)
            data = w.rest
            while True:
                for f in parser.feed(data):
                    frames.append(f)
                if frames and frames[-1][1] == ws.CLOSE:
                    break
                data = w.sock.recv(262144)
                if not data:
                    break
            w.sock.close()
            stdout, message = 0, b""
            for fin, op, p in frames:
                if op in (ws.BINARY, ws.CONT):
                    message += p
                    if fin:
                        stdout += len(message) - 1 if message[0] == 1 else 0
                        message = b""
            conts = sum(1 for fin, op, p in frames if op == ws.CONT)
            expect(stdout == 5000000, "stdout bytes %d", stdout)
            expect(conts > 4000 and all(len(p) <= 1000 for _, _, p in frames), "not fragmented: %d", conts)
        finally:
            s.admin("POST", "/config", {"execFragmentBytes": 0, "execMessageBytes": 32768})
    t.check("large output: 300000 lines intact, 32 KiB messages, fragmented frames", large_output)

    def kill_marker():
        marker = "KUBEAGENT_EXEC_MARKER=m-%d" % os.getpid()
        w = Ws(s, exec_path(["sh"], "maven", stdin=True))
        w.send(0, ("export %s\n\"sleep\" \"30\"\nexit\n" % marker).encode())
        expect(w.next() == (ws.BINARY, b"\x01"), "no start message")
        started = time.time()
        kill = Ws(s, exec_path(["sh", "-c", "kill $(grep -l '%s' /proc/*/environ | cut -d / -f 3)" % marker],
                               "maven"))
        _, _, _, kstatus = kill.run()
        out, _, _, status = w.run()
        expect(exit_code(kstatus) == 0 and exit_code(status) == 143 and time.time() - started < 5,
               "kill %s, first %s", kstatus, status)
        direct = Ws(s, exec_path(["env", marker, "sleep", "30"], "maven"))
        direct.sock.close()
        kill = Ws(s, exec_path(["sh", "-c", "grep -l '%s' /proc/*/environ | wc -l; kill $(grep -l '%s' "
                                            "/proc/*/environ | cut -d / -f 3)" % (marker, marker)], "maven"))
        out, _, _, kstatus = kill.run()
        expect(out[1] == b"1\n" and exit_code(kstatus) == 0, "a disconnected exec keeps running: %s", out)
    t.check("kill by marker: the plugin's second exec ends the first with 143, even after a disconnect",
            kill_marker)

    def framing():
        w = Ws(s, exec_path(["cat"], stdin=True))
        w.sock.sendall(ws.frame(ws.PING, b"are you there", mask=True))
        expect(w.next() == (ws.BINARY, b"\x01") and w.next() == (ws.PONG, b"are you there"), "no pong")
        w.sock.sendall(ws.frame(ws.BINARY, b"\x00unmasked"))
        item = w.next()
        expect(item is not None and item[0] == ws.CLOSE and item[1][:2] == b"\x03\xea", "unmasked: %s", item)
        w.sock.close()
    t.check("ping answered; an unmasked client frame is closed with 1002", framing)

    kubectl = shutil.which("kubectl")
    if not kubectl:
        t.skip("kubectl exec", "kubectl not on PATH")
        return

    def kubectl_exec():
        env = dict(os.environ, KUBECONFIG=os.path.join(s.dir, "kubeconfig-token"))
        res = subprocess.run([kubectl, "exec", "-i", "ex", "-c", "maven", "--", "sh", "-c", "cat; exit 3"],
                             input="from kubectl\n", capture_output=True, text=True, timeout=20, env=env)
        expect(res.returncode == 3 and res.stdout == "from kubectl\n", "%d %r %r", res.returncode, res.stdout,
               res.stderr)
    t.check("kubectl exec -i (v5, stdin close, exit code)", kubectl_exec)



if __name__ == "__main__":
    sys.exit(test_kube_sim.main(run))
