"""kubeagentd with both simulators: what `make demo` and the end-to-end tests run.

    stack = Stack(state_dir)
    stack.start_sims()                      # kube_sim.py and jenkins_sim.py, free ports
    stack.start_daemon(config_path)         # the real kubeagentd, waited on until /readyz says so
    ...                                     # queue builds, wait on the simulators and /v1/agents
    problems = stack.stop()                 # every process by PID; sanitizer reports, bad exits

Everything here waits on state it can observe -- the simulators' admin APIs,
the Kubernetes watch, the daemon's HTTP endpoint -- with a deadline, never on
time alone.  Processes are started from the calling thread with
`setpriv --pdeathsig TERM`, so none outlives this one, even if it is killed.

Only the Python standard library is used.  The binaries: $KUBEAGENTD and
$KUBEAGENT_PLUGIN_PATH as `make check` sets them (tests/Makefile.inc), else
the build given to environment().
"""

import http.client
import json
import os
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SIM_DIR = os.path.join(TOP, "tests", "sim")

# The label kubeagent puts on every pod it creates, and the annotation on
# a pod its retention policy kept (core/bus/PROTOCOL.md).
CLOUD_LABEL = "kubeagent.io/cloud"
KEPT_ANNOTATION = "kubeagent.io/kept"
# The node the Jenkins frontend keeps so that Jenkins names the labels
# pipelines wait for (plugins/frontends/jenkins/frontend.c, need_anchor()):
# "<namePrefix>anchor", never an agent.
ANCHOR_NODE = "kubeagent-anchor"

# kubeagentd's bus timings for one process: no worker elsewhere can hold
# leases, so the core's start-up grace (renewInterval + resendInterval +
# reconnectIntervalMax, 16 s by default) can be short.
FAST_BUS = {"leaseDuration": "4s", "renewInterval": "1s", "resendInterval": "200ms", "reconnectIntervalMax": "500ms"}

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: UndefinedBehavior")


class Timeout(AssertionError):
    """A wait ran out; the message says what was awaited and what was seen last."""


def wait_for(what, fn, timeout, interval=0.05):
    """Call fn until it returns something true and return that; raise Timeout
    naming `what` (and fn's last value) after `timeout` seconds.  For state
    that can only be read (an admin API), not watched."""
    end = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= end:
            raise Timeout("timed out after %.0f s waiting for %s (last: %s)" % (timeout, what, _short(last)))
        time.sleep(interval)


def _short(v, n=300):
    s = repr(v)
    return s if len(s) <= n else s[:n] + "..."


def _spawn(argv, stdout, stderr, env=None, pass_fds=()):
    """Start argv so that it dies with this process (SIGTERM when we go)."""
    return subprocess.Popen(["setpriv", "--pdeathsig", "TERM", "--"] + argv, stdout=stdout, stderr=stderr,
                            stdin=subprocess.DEVNULL, env=env, close_fds=True, pass_fds=pass_fds)


def _terminate(proc, timeout):
    """SIGTERM, wait (SIGKILL after timeout seconds); the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _read_line(f, timeout):
    """One line from a pipe, or b"" at EOF or after timeout seconds."""
    if not select.select([f], [], [], timeout)[0]:
        return b""
    return f.readline()


def _http(method, url, body=None, headers=None, context=None, timeout=10):
    """(status, body bytes, headers) of one request; raises OSError when the
    server cannot be reached."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=context, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path + ("?" + u.query if u.query else "")
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    hdrs = dict(headers or {})
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path or "/", body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.headers
    finally:
        conn.close()


class SimProcess:
    """One simulator (tests/sim/SCRIPT) on free loopback ports."""

    def __init__(self, script, state_dir, args=()):
        self.script = script
        self.dir = state_dir
        self.args = list(args)
        self.proc = None
        self.port = self.admin_port = None
        self.log_path = state_dir + ".log"

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        log = open(self.log_path, "ab")
        argv = [sys.executable, os.path.join(SIM_DIR, self.script), "--dir", self.dir] + self.args
        self.proc = _spawn(argv, subprocess.PIPE, log)
        log.close()
        line = self.proc.stdout.readline().decode(errors="replace").split()
        if len(line) != 3 or line[0] != "READY":
            self.stop()
            raise RuntimeError("%s did not start: %s" % (self.script, self.log_tail()))
        self.port, self.admin_port = int(line[1]), int(line[2])
        with open(os.path.join(self.dir, "ready.json")) as f:
            self.ready = json.load(f)

    def log_tail(self, n=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name)) as f:
            return f.read().strip()

    def admin(self, method, path, body=None):
        """An admin API call: its JSON answer; raises on a status >= 400."""
        status, data, _ = _http(method, "http://127.0.0.1:%d%s" % (self.admin_port, path),
                                body if body is not None else ({} if method == "POST" else None))
        doc = json.loads(data) if data.strip() else None
        if status >= 400:
            raise RuntimeError("%s admin %s %s: %d %s" % (self.script, method, path, status, data[:300]))
        return doc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, then the exit status (0 expected)."""
        if self.proc is None:
            return 0
        rc = _terminate(self.proc, 10)
        self.proc.stdout.close()
        self.proc = None
        return rc


class KubeSim(SimProcess):
    def __init__(self, state_dir, args=()):
        super().__init__("kube_sim.py", state_dir, args)

    def start(self):
        super().start()
        self.server = self.ready["api"]
        self.ctx = ssl.create_default_context(cafile=self.path("ca.crt"))
        self.token = self.read("token-admin")

    def api(self, method, path, body=None):
        """The Kubernetes API as admin: (status, JSON)."""
        status, data, _ = _http(method, self.server + path, body,
                                {"Authorization": "Bearer " + self.token}, self.ctx)
        return status, (json.loads(data) if data.strip() else None)

    def stats(self):
        return self.admin("GET", "/stats")

    def grant(self, namespace, user="system:serviceaccount:ci:kubeagent"):
        """The Role of config/kubernetes/rbac.yaml for user in another namespace
        (the simulator gives it in `ci` only)."""
        for resources, verbs in ((["pods"], ["create", "delete", "get", "list", "watch", "patch"]),
                                 (["pods/exec"], ["create", "get"]), (["pods/log"], ["get"]),
                                 (["events"], ["get", "list", "watch"])):
            self.admin("POST", "/rbac", {"user": user, "namespace": namespace, "apiGroup": "",
                                         "resources": resources, "verbs": verbs})


class JenkinsSim(SimProcess):
    def __init__(self, state_dir, args=()):
        super().__init__("jenkins_sim.py", state_dir, args)
        self.seq = 0
        self.events = []

    def start(self):
        super().start()
        self.url = self.ready["url"]

    def queue_builds(self, **spec):
        """POST /builds: the queue item ids."""
        return [i["id"] for i in self.admin("POST", "/builds", spec)["items"]]

    def builds(self):
        return self.admin("GET", "/builds")

    def nodes(self):
        return self.admin("GET", "/nodes")

    def agent_nodes(self):
        """The nodes of agents (without the frontend's placeholder node)."""
        return [n for n in self.nodes() if n["name"] != ANCHOR_NODE]

    def queue(self):
        return self.admin("GET", "/queue")

    def stats(self):
        return self.admin("GET", "/stats")

    def poll_events(self):
        """Take in the controller events since the last call; returns the new ones."""
        new = self.admin("GET", "/events?since=%d" % self.seq)
        if new:
            self.seq = new[-1]["seq"]
            self.events.extend(new)
        return new

    def wait_event(self, what, pred, timeout):
        """The first controller event (old or new) for which pred holds."""
        def found():
            self.poll_events()
            return next((e for e in self.events if pred(e)), None)
        return wait_for(what, found, timeout)

    def run_of(self, job, number=1):
        """The run job #number (admin /builds), or None."""
        return next((b for b in self.builds() if b["job"] == job and b["number"] == number), None)

    def wait_finished(self, job, timeout, number=1):
        """Until job #number is no longer building: the run."""
        return wait_for("%s #%d to finish" % (job, number),
                        lambda: next((b for b in [self.run_of(job, number)] if b and not b["building"]), None),
                        timeout)

    def cancel(self, item):
        """Cancel a queue item through the controller's HTTP interface, as admin."""
        import base64
        auth = base64.b64encode(("admin:%s" % self.read("token-admin")).encode()).decode()
        status, data, _ = _http("POST", "%squeue/cancelItem?id=%d" % (self.url, item), b"",
                                {"Authorization": "Basic " + auth})
        if status != 204:
            raise RuntimeError("cancelling queue item %d: %d %s" % (item, status, data[:200]))

class PodWatch:
    """Every pod carrying kubeagent's cloud label, in every namespace, followed
    on a Kubernetes watch from its own thread: when each was added and
    deleted (Unix seconds, as seen here: comparable with the
    Jenkins simulator's event times), and how many were active (existing
    and not being deleted) at most per namespace.  Read it under `cond`.
    `requests` counts the API requests it made (to tell them from
    kubeagent's)."""

    def __init__(self, kube):
        self.kube = kube
        self.cond = threading.Condition()
        self.pods = {}         # (namespace, name) -> {uid, obj, added, deleted} of the last pod of that name
        self.created = {}      # (namespace, name) -> how many pods of that name were seen
        self.live = {}         # namespace -> names of the pods that exist
        self.active = {}       # namespace -> names of the pods that exist and are not being deleted
        self.max_active = {}   # namespace -> the most active at once
        self.error = None
        self.stopping = False
        self.requests = 0
        self.thread = threading.Thread(target=self._run, name="pod-watch", daemon=True)

    def start(self):
        self._rv = self._list()
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True

    def _list(self):
        self.requests += 1
        status, doc = self.kube.api("GET", "/api/v1/pods?labelSelector=" + urllib.parse.quote(CLOUD_LABEL))
        if status != 200:
            raise RuntimeError("listing pods: %d %s" % (status, doc))
        with self.cond:
            for p in doc["items"]:
                self._seen("ADDED", p)
            self.cond.notify_all()
        return doc["metadata"]["resourceVersion"]

    def _run(self):
        while not self.stopping:
            try:
                self._watch()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                if self.stopping or not self.kube.alive():
                    return
                with self.cond:
                    self.error = "watch: %s" % exc
                    self.cond.notify_all()
                return

    def _watch(self):
        u = urllib.parse.urlsplit(self.kube.server)
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=self.kube.ctx, timeout=120)
        path = ("/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=60&labelSelector=%s"
                "&resourceVersion=%s" % (urllib.parse.quote(CLOUD_LABEL), self._rv))
        self.requests += 1
        conn.request("GET", path, headers={"Authorization": "Bearer " + self.kube.token})
        resp = conn.getresponse()
        if resp.status != 200:
            raise ValueError("watch answered %d" % resp.status)
        try:
            while not self.stopping:
                line = resp.readline()
                if not line:
                    return              # the server ended the stream: watch again from _rv
                ev = json.loads(line)
                obj = ev.get("object") or {}
                if ev.get("type") == "ERROR":
                    self._rv = self._list()     # 410 Gone: list again
                    return
                self._rv = obj.get("metadata", {}).get("resourceVersion", self._rv)
                if ev.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                    with self.cond:
                        self._seen(ev["type"], obj)
                        self.cond.notify_all()
        finally:
            conn.close()

    def _seen(self, kind, p):
        now = time.time()
        md = p["metadata"]
        key = (md["namespace"], md["name"])
        rec = self.pods.get(key)
        if rec is None or (rec["uid"] != md.get("uid")):
            rec = self.pods[key] = {"uid": md.get("uid"), "added": now, "deleted": None}
            self.created[key] = self.created.get(key, 0) + 1
        rec["obj"] = p
        ns, name = md["namespace"], md["name"]
        live = self.live.setdefault(ns, set())
        active = self.active.setdefault(ns, set())
        if kind == "DELETED":
            rec["deleted"] = now
            live.discard(name)
        else:
            live.add(name)
        if kind == "DELETED" or md.get("deletionTimestamp"):
            active.discard(name)
        else:
            active.add(name)
        self.max_active[ns] = max(self.max_active.get(ns, 0), len(active))

    def live_names(self):
        """The pods that exist now (under cond)."""
        return set().union(*self.live.values()) if self.live else set()

    def wait(self, what, pred, timeout):
        """Block until pred(self) holds, checked after every watch event under
        cond; its value.  Raises Timeout naming `what` otherwise."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                got = pred(self)
                if got:
                    return got
                if self.error:
                    raise RuntimeError(self.error)
                left = end - time.monotonic()
                if left <= 0:
                    raise Timeout("timed out after %.0f s waiting for %s (pods: %s)"
                                  % (timeout, what, _short(sorted(self.live_names()))))
                self.cond.wait(left)

    def pod(self, name):
        """The last pod of that name seen, in any namespace: its record
        ({uid, obj, added, deleted}) or None (under cond)."""
        return next((rec for (ns, n), rec in self.pods.items() if n == name), None)


class Daemon:
    """The real kubeagentd on a config, its log in a file.  The config must
    set kubeagent.http.listen to LISTEN (any free loopback port): the port it
    got comes back on --ready-fd."""

    LISTEN = "127.0.0.1:0"

    def __init__(self, binary, log_path, env=None):
        self.binary = binary
        self.log_path = log_path
        self.env = env
        self.base = None
        self.proc = None
        self.runs = 0

    def start(self, config, log_level="debug", timeout=60):
        """Start it and wait for its READY line (the HTTP endpoint listens)."""
        log = open(self.log_path, "ab")
        self.runs += 1
        log.write(b"==== kubeagentd start %d ====\n" % self.runs)
        log.flush()
        argv = [self.binary, "-c", config, "--log-level", log_level]
        env = self.env
        if os.environ.get("KA_VALGRIND"):
            # make check-valgrind: under memcheck, as tests/testwrapper.sh runs it for the shell tests
            argv = [os.path.join(TOP, "tests", "testwrapper.sh")] + argv
            env = dict(env or os.environ, KA_VALGRIND_LOG=self.log_path + ".valgrind-%p")
        rfd, wfd = os.pipe()
        try:
            self.proc = _spawn(argv + ["--ready-fd", str(wfd)], subprocess.DEVNULL, log, env, pass_fds=(wfd,))
        finally:
            os.close(wfd)
            log.close()
        with os.fdopen(rfd, "rb") as r:
            ready = _read_line(r, timeout).split()
        if len(ready) != 2 or ready[0] != b"READY":
            rc = self.proc.poll()
            raise RuntimeError("kubeagentd did not start (exit status %s):\n%s" % (rc, self.log_tail()))
        self.base = "http://127.0.0.1:%d" % int(ready[1])

    def get(self, path):
        """(status, body) of GET path; (0, b"") while nothing answers."""
        if self.base is None:
            return 0, b""
        try:
            status, data, _ = _http("GET", self.base + path, timeout=5)
            return status, data
        except OSError:
            return 0, b""

    def wait_ready(self, timeout):
        """Until /readyz answers 200 (every cloud listed, the frontends synced,
        the worker connected)."""
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("kubeagentd exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            return self.get("/readyz")[0] == 200
        wait_for("kubeagentd to be ready (/readyz)", ready, timeout)

    def agents(self):
        """/v1/agents, or None while it does not answer."""
        status, data = self.get("/v1/agents")
        return json.loads(data) if status == 200 else None

    def status(self):
        """/v1/status: clouds with their templates and caps, frontends, bus peers."""
        status, data = self.get("/v1/status")
        if status != 200:
            raise RuntimeError("kubeagentd /v1/status: %d %s" % (status, data[:200]))
        return json.loads(data)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "".join(self.log_text().splitlines(True)[-n:])

    def wait_log(self, what, text, timeout):
        """Until its log has a line containing text: that line."""
        return wait_for(what, lambda: next((x for x in self.log_text().splitlines() if text in x), None), timeout)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        self.base = None

    def stop(self):
        """SIGTERM; the exit status (0 expected), or None if it was not running."""
        if self.proc is None:
            return None
        rc = _terminate(self.proc, 30)
        self.proc = None
        self.base = None
        return rc


def environment(top_builddir=None):
    """Where the build is: $KUBEAGENTD and $KUBEAGENT_PLUGIN_PATH (as `make
    check` sets them), else the build under top_builddir (default: this tree)."""
    b = top_builddir or TOP
    return {"kubeagentd": os.environ.get("KUBEAGENTD") or os.path.join(b, "core", "daemon", "kubeagentd"),
            "plugins": os.environ.get("KUBEAGENT_PLUGIN_PATH") or os.path.join(b, "plugins", ".libs")}


class Stack:
    """Both simulators and kubeagentd under one state folder."""

    def __init__(self, state_dir, build=None, kube_args=(), jenkins_args=()):
        self.dir = state_dir
        self.build = build or environment()
        os.makedirs(state_dir, exist_ok=True)
        self.kube = KubeSim(os.path.join(state_dir, "kubesim"), kube_args)
        self.jenkins = JenkinsSim(os.path.join(state_dir, "jenkinssim"), jenkins_args)
        env = dict(os.environ, KUBEAGENT_PLUGIN_PATH=self.build["plugins"])
        self.daemon = Daemon(self.build["kubeagentd"], os.path.join(state_dir, "kubeagentd.log"), env)
        self.watch = None
        self.config = None         # the last write_config()
        self.daemon_exits = []     # of the runs before the current one (None: killed)

    def start_sims(self):
        self.kube.start()
        self.jenkins.start()
        self.watch = PodWatch(self.kube).start()

    def frontend_config(self, poll="200ms"):
        return {"url": self.jenkins.url, "user": "kubeagent", "tokenFile": self.jenkins.path("token-kubeagent"),
                "pollInterval": poll}

    def write_config(self, clouds, gc_period="2s", poll="200ms"):
        """A config (JSON is YAML) for the simulators with these clouds, each
        with credentials `sim`: the simulator's service account, which has
        the Role of config/kubernetes/rbac.yaml; the Jenkins frontend's
        pollInterval `poll`.  Its path."""
        doc = {"kubeagent": {"http": {"listen": Daemon.LISTEN}, "bus": FAST_BUS,
                             "provision": {"gcPeriod": gc_period}},
               "frontends": {"jenkins": self.frontend_config(poll)},
               "credentials": {"sim": {"type": "kubeconfig", "path": self.kube.path("kubeconfig-tokenfile")}},
               "jenkins": {"clouds": [{"kubernetes": dict(c, credentialsId="sim")} for c in clouds]}}
        self.config = os.path.join(self.dir, "kubeagent.yaml")
        with open(self.config, "w") as f:
            json.dump(doc, f, indent=2)
        return self.config

    def start_daemon(self, config, ready_timeout=60):
        self.daemon.start(config, timeout=ready_timeout)
        self.daemon.wait_ready(ready_timeout)

    def kill9_daemon(self):
        self.daemon.kill9()
        self.daemon_exits.append(None)

    def stop(self):
        """Stop everything; the problems found (empty: all clean)."""
        problems = []
        if self.watch:
            self.watch.stop()
        self.daemon_exits.append(self.daemon.stop())
        for i, rc in enumerate(self.daemon_exits):
            if rc not in (0, None):
                problems.append("kubeagentd (run %d) exited with %s%s" % (i + 1, rc, " (valgrind found errors: "
                                "%s.valgrind-*)" % self.daemon.log_path if rc == 99 else ""))
        log = self.daemon.log_text()
        for mark in SANITIZER_MARKS:
            if mark in log:
                at = log.index(mark)
                problems.append("kubeagentd's log has a sanitizer report:\n" + log[max(0, at - 200):at + 3000])
                break
        for sim in (self.jenkins, self.kube):
            r = sim.stop()
            if r != 0:
                problems.append("%s exited with %s: %s" % (sim.script, r, sim.log_tail()))
        return problems


def run_test(prefix, setup, scenarios):
    """The frame of an end-to-end test program: a Stack in a fresh state
    folder (kubelet steps of 20 ms), setup(stack), then each (name, fn) of
    scenarios as fn(tap, stack) -- an exception fails that scenario, with
    the end of kubeagentd's log, and the next one still runs -- then
    everything stopped: kubeagentd must exit 0 without a sanitizer report,
    the simulators 0.  Prints the TAP report; removes the state folder when
    all passed, else names it.  Returns the exit status."""
    sys.path.insert(0, SIM_DIR)
    from taplib import Tap, expect
    t = Tap()
    st = Stack(tempfile.mkdtemp(prefix=prefix), kube_args=["--kubelet-delay-ms", "20"])

    def failed(name, exc):
        t.check(name, lambda: expect(False, "%s: %s\n--- kubeagentd's log ends:\n%s", type(exc).__name__, exc,
                                     st.daemon.log_tail()))
    try:
        setup(st)
        for name, fn in scenarios:
            try:
                fn(t, st)
            except Exception as exc:  # reported as the scenario's failure
                failed("%s runs" % name, exc)
    except Exception as exc:  # reported as a failed check
        failed("the stack starts", exc)
    problems = st.stop()
    t.check("kubeagentd stops with 0 on SIGTERM, no sanitizer report; the simulators exit 0",
            lambda: expect(not problems, "\n".join(problems)))
    if t.report():
        print("# state and logs kept in %s" % st.dir)
        return 1
    shutil.rmtree(st.dir, ignore_errors=True)
    return 0
