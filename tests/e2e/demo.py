#!/usr/bin/env python3
"""make demo -- kubeagent end to end on one machine, in about half a minute.

Starts the Kubernetes simulator and the Jenkins simulator (tests/sim/) on
free loopback ports, then the real kubeagentd on config/examples/demo.yaml
pointed at them, queues a burst of builds for the labels of the example's
templates, shows live progress, and ends with a summary table: builds, pods
created and deleted, the latency of each phase of an agent's life (p50 and
p99), and the API requests kubeagent made per agent.  It exits 0 when every
build finished and no pod, node or agent is left; whatever it started is
stopped by PID, on Ctrl-C too.

    python3 tests/e2e/demo.py [--builds N] [--example CONFIG] [--build-dir DIR] [--keep]

The same run, with assertions, is the end-to-end test tests/e2e/test_burst.py.
"""

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import stack as S  # noqa: E402

# /v1/agents states (core/provision/table.h) as the demo counts them.
BUCKETS = (("pending", ("registering",)), ("creating", ("creating", "starting")), ("running", ("running",)),
           ("online", ("online", "idle")), ("building", ("busy",)), ("done", ("ending", "ended")))
STATE_BUCKET = {state: bucket for bucket, states in BUCKETS for state in states}

# Requests to the Jenkins simulator that come from the agents, not from kubeagent.
AGENT_PATHS = ("/login", "/wsagents/", "/tcpSlaveAgentListener/")

# The phases of an agent's life in the latency table: (name, from, to).
PHASES = (("queued → node created", "queued", "node"), ("node created → pod created", "node", "pod"),
          ("pod created → agent online", "pod", "online"), ("agent online → build running", "online", "running"),
          ("build done → pod deleted", "done", "deleted"), ("queued → build running", "queued", "running"))


class Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# ---- the workload ---------------------------------------------------------------------------------

def served_labels(status):
    """The labels of the daemon's templates (/v1/status), in config order."""
    out = []
    for cloud in status["clouds"]:
        for t in cloud["templates"]:
            if t["label"] and t["label"] not in out:
                out.append(t["label"])
    return out


def burst(labels, n, seed=1):
    """n builds spread over labels: pipelines, every third one free-style,
    running 0.5 to 2.5 s each."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = labels[i % len(labels)]
        job = "demo/" + re.sub(r"[^A-Za-z0-9-]+", "-", label) + "-app"
        spec = {"job": job, "label": label, "durationMs": rng.randint(500, 2500), "afterMs": 20}
        if i % 3 == 2:
            spec.update(job=job + "-freestyle", kind="freestyle", params={"N": str(i)}, concurrent=True)
        out.append(spec)
    return out


# ---- what the run looks like --------------------------------------------------------------------

class Progress:
    """Counts from the daemon (/v1/agents) and the Jenkins simulator, taken
    once per tick."""

    def __init__(self, stack, total):
        self.stack = stack
        self.total = total
        self.seen = set()       # every agent name /v1/agents ever showed
        self.started = time.time()
        self.counts = dict.fromkeys([b for b, _ in BUCKETS], 0)
        self.builds = {"queued": 0, "running": 0, "finished": 0, "results": {}}
        self.agents = []
        self.nodes = []

    def sample(self):
        agents = self.stack.daemon.agents()
        if agents is not None:
            self.agents = agents
        counts = dict.fromkeys(self.counts, 0)
        live = set()
        for a in self.agents:
            live.add(a["name"])
            counts[STATE_BUCKET.get(a["state"], "pending")] += 1
        self.seen |= live
        counts["done"] += len(self.seen - live)
        self.counts = counts
        self.builds = self.stack.jenkins.stats()["builds"]
        self.nodes = [n["name"] for n in self.stack.jenkins.agent_nodes()]
        self.stack.jenkins.poll_events()

    def finished(self):
        """Every build finished; no agent, node or pod left."""
        with self.stack.watch.cond:
            pods = self.stack.watch.live_names()
        return (self.builds["finished"] >= self.total and self.builds["queued"] == 0 and not self.agents
                and not self.nodes and not pods)

    def still(self):
        """What is not finished yet, for a timeout message."""
        with self.stack.watch.cond:
            pods = sorted(self.stack.watch.live_names())
        queue = [(i["id"], i["why"]) for i in self.stack.jenkins.queue()]
        return ("%d/%d builds finished; queue %s; agents %s; nodes %s; pods %s"
                % (self.builds["finished"], self.total, queue,
                   sorted((a["name"], a["state"]) for a in self.agents), self.nodes, pods))


class Display:
    """Live progress: redrawn in place on a terminal, a plain line at most
    once a second (when something changed) otherwise."""

    def __init__(self, out, tty):
        self.out = out
        self.tty = tty
        self.drawn = 0
        self.last = None
        self.last_at = 0.0
        utf8 = (getattr(out, "encoding", "") or "").lower().replace("-", "") == "utf8"
        self.full, self.empty = ("█", "░") if utf8 else ("#", ".")

    def lines(self, p):
        b = p.builds
        elapsed = time.time() - p.started
        width = 32
        filled = min(width, int(width * b["finished"] / p.total)) if p.total else width
        bar = self.full * filled + self.empty * (width - filled)
        agents = "  ".join("%s %d" % (k, v) for k, v in p.counts.items())
        return ["builds  [%s] %3d/%d done  %d running  %d queued  %5.1f s"
                % (bar, b["finished"], p.total, b["running"], b["queued"], elapsed),
                "agents  " + agents]

    def note(self, text):
        """A line of text above the live lines."""
        self.out.write(text + "\n")
        self.out.flush()

    def update(self, p, force=False):
        lines = self.lines(p)
        if self.tty:
            if self.drawn:
                self.out.write("\x1b[%dF" % self.drawn)
            for line in lines:
                self.out.write(line + "\x1b[K\n")
            self.drawn = len(lines)
        else:
            key = (p.builds["finished"], p.builds["running"], p.builds["queued"], tuple(p.counts.values()))
            now = time.time()
            if key == self.last or (now - self.last_at < 1.0 and not force):
                return
            self.last, self.last_at = key, now
            b = p.builds
            self.out.write("%5.1f s  builds %d/%d done, %d running, %d queued | agents %s\n"
                           % (now - p.started, b["finished"], p.total, b["running"], b["queued"],
                              ", ".join("%s %d" % kv for kv in p.counts.items())))
        self.out.flush()


# ---- the summary ------------------------------------------------------------------------------------

def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    return v[max(0, math.ceil(p / 100.0 * len(v)) - 1)]


def build_times(builds, events, pods):
    """Per build that ran on an agent: the times (Unix s) of the moments of
    PHASES, from the Jenkins simulator's events and the pod watch."""
    first = {}
    for e in events:
        kind = e["event"]
        if kind in ("node-created", "agent-connected", "node-deleted"):
            first.setdefault((kind, e["node"]), e["time"])
        elif kind == "queued":
            first.setdefault(("queued", e["item"]), e["time"])
        elif kind in ("started", "block-started", "block-finished", "finished"):
            first.setdefault((kind, e["job"], e["number"]), e["time"])
    by_name = {name: rec for (ns, name), rec in pods.items()}
    out = []
    for b in builds:
        node = b.get("builtOn")
        if not node:
            continue
        run = (b["job"], b["number"])
        pipeline = b["kind"] == "pipeline"
        pod = by_name.get(node, {})
        t = {"queued": first.get(("started",) + run) if pipeline else first.get(("queued", b["queueId"])),
             "node": first.get(("node-created", node)), "pod": pod.get("added"),
             "online": first.get(("agent-connected", node)),
             "running": first.get(("block-started" if pipeline else "started",) + run),
             "done": first.get(("block-finished" if pipeline else "finished",) + run), "deleted": pod.get("deleted")}
        out.append(t)
    return out


def _requests(stats, exclude=()):
    """A simulator's request counts as {"METHOD /path": n}, without exclude's paths."""
    out = {}
    for key, n in stats["requests"].items():
        method, path, _code = key.split(" ")
        if path in exclude:
            continue
        out["%s %s" % (method, path)] = out.get("%s %s" % (method, path), 0) + n
    return out


def summarize(stack, total, elapsed, status):
    """Everything the summary table shows, as a dict (the tests check it).
    status: the daemon's /v1/status (for the caps)."""
    builds = stack.jenkins.builds()
    jst = stack.jenkins.stats()
    kst = stack.kube.stats()
    stack.jenkins.poll_events()
    with stack.watch.cond:
        pods = dict(stack.watch.pods)
        max_active = dict(stack.watch.max_active)
        own = stack.watch.requests
        left = sorted(stack.watch.live_names())
    kreq = _requests(kst)
    kreq["GET /api/v1/pods"] = kreq.get("GET /api/v1/pods", 0) - own      # the demo's own watch
    kreq = {k: v for k, v in kreq.items() if v > 0}
    jreq = _requests(jst, AGENT_PATHS)
    created = kreq.get("POST /api/v1/namespaces/{namespace}/pods", 0)
    deleted = sum(v for k, v in kst["requests"].items()
                  if k.startswith("DELETE /api/v1/namespaces/{namespace}/pods/{name} 2"))
    agents = max(1, created)
    times = build_times(builds, stack.jenkins.events, pods)
    latency = []
    for name, a, b in PHASES:
        d = [(t[b] - t[a]) * 1000.0 for t in times if t[a] is not None and t[b] is not None and t[b] >= t[a]]
        latency.append((name, percentile(d, 50) if d else None, percentile(d, 99) if d else None, len(d)))
    results = {}
    for b in builds:
        if not b["building"]:
            results[b["result"]] = results.get(b["result"], 0) + 1
    nodes = {k: sum(1 for e in stack.jenkins.events if e["event"] == k and e["node"] != S.ANCHOR_NODE)
             for k in ("node-created", "node-deleted")}
    caps = {c.get("namespace") or c["name"]: (c["name"], c["containerCap"]) for c in status["clouds"]}
    return {"total": total, "elapsed": elapsed, "builds": builds, "results": results,
            "finished": sum(results.values()), "pods_created": created, "pods_deleted": deleted,
            "pods_left": left, "pods": pods, "max_active": max_active, "caps": caps,
            "nodes_created": nodes["node-created"], "nodes_deleted": nodes["node-deleted"],
            "nodes_left": [n["name"] for n in stack.jenkins.agent_nodes()], "latency": latency,
            "kube_requests": kreq, "jenkins_requests": jreq, "agents": agents}


def _top(reqs, agents, n=4):
    items = sorted(reqs.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ["%s %.1f" % (k.replace("/api/v1/namespaces/{namespace}/", ""), v / agents) for k, v in items[:n]]
    rest = sum(v for _, v in items[n:])
    if rest:
        shown.append("other %.1f" % (rest / agents))
    return shown


def print_summary(s, out):
    w = out.write
    w("\n")
    w("kubeagent demo: %d builds in %.1f s\n\n" % (s["total"], s["elapsed"]))
    res = ", ".join("%d %s" % (v, k) for k, v in sorted(s["results"].items()))
    rows = [("builds", "%d queued, %d finished%s" % (s["total"], s["finished"], ": " + res if res else "")),
            ("pods", "%d created, %d deleted, %d left" % (s["pods_created"], s["pods_deleted"], len(s["pods_left"]))),
            ("Jenkins nodes", "%d created, %d deleted, %d left"
             % (s["nodes_created"], s["nodes_deleted"], len(s["nodes_left"]))),
            ("most pods at once", ", ".join(
                "%s %d (containerCap %s)" % (s["caps"].get(ns, (ns, None))[0], n, s["caps"].get(ns, (ns, "-"))[1])
                for ns, n in sorted(s["max_active"].items())) or "-")]
    for k, v in rows:
        w("  %-26s %s\n" % (k, v))
    w("\n  %-34s %8s %8s\n" % ("latency per agent (ms)", "p50", "p99"))
    for name, p50, p99, n in s["latency"]:
        fmt = lambda v: "%8.0f" % v if v is not None else "%8s" % "-"  # noqa: E731
        w("    %-32s %s %s\n" % (name, fmt(p50), fmt(p99)))
    kr, jr = s["kube_requests"], s["jenkins_requests"]
    w("\n  API requests per agent\n")
    w("    %-32s %8.1f   %s\n" % ("kubeagent → Kubernetes", sum(kr.values()) / s["agents"],
                                  ", ".join(_top(kr, s["agents"]))))
    w("    %-32s %8.1f   %s\n" % ("kubeagent → Jenkins", sum(jr.values()) / s["agents"],
                                  ", ".join(_top(jr, s["agents"]))))
    w("\n")
    out.flush()


# ---- the run ----------------------------------------------------------------------------------------

def configure(stack, example, poll="200ms"):
    """A config folder: the example, and a file with what depends on this
    machine (the Jenkins frontend, the HTTP endpoint).  The cluster is found
    as kubeagentd finds one when a cloud names no credentials: $KUBECONFIG,
    here the simulator's, with its service account."""
    conf = os.path.join(stack.dir, "config")
    os.makedirs(conf, exist_ok=True)
    shutil.copyfile(example, os.path.join(conf, "00-" + os.path.basename(example)))
    with open(os.path.join(conf, "10-simulators.yaml"), "w") as f:
        json.dump({"kubeagent": {"http": {"listen": S.Daemon.LISTEN}, "bus": S.FAST_BUS},
                   "frontends": {"jenkins": stack.frontend_config(poll)}}, f, indent=2)
    stack.daemon.env["KUBECONFIG"] = stack.kube.path("kubeconfig-tokenfile")
    for ns in ("default", "other"):       # the simulator grants the service account `ci` only
        stack.kube.grant(ns)
    return conf


def run(stack, example, n, display=None, timeout=300.0, tick=0.2):
    """Start the daemon on the example, queue n builds for its labels, follow
    them until everything is finished (or timeout), and return summarize()'s
    dict with "labels", "complete" (whether it finished) and "still" (what
    was left)."""
    conf = configure(stack, example)
    stack.start_daemon(conf)
    status = stack.daemon.status()
    labels = served_labels(status)
    if display:
        display.note("Kubernetes API %s, Jenkins %s, kubeagentd %s/v1/agents\nqueueing %d builds for %s\n"
                     % (stack.kube.server, stack.jenkins.url, stack.daemon.base, n, ", ".join(labels)))
    progress = Progress(stack, n)
    for spec in burst(labels, n):
        stack.jenkins.queue_builds(**spec)
    end = time.time() + timeout
    while True:
        progress.sample()
        if display:
            display.update(progress)
        if progress.finished() or time.time() >= end:
            break
        time.sleep(tick)        # the display's refresh, not a synchronisation
    if display:
        display.update(progress, force=True)
    s = summarize(stack, n, time.time() - progress.started, status)
    s["labels"] = labels
    s["complete"] = progress.finished()
    s["still"] = None if s["complete"] else progress.still()
    return s


def main():
    ap = argparse.ArgumentParser(description="kubeagent end to end against the simulators")
    ap.add_argument("--builds", type=int, default=60, help="builds to queue (default 60)")
    ap.add_argument("--example", default=os.path.join(S.TOP, "config", "examples", "demo.yaml"),
                    help="the config whose templates serve the builds")
    ap.add_argument("--build-dir", help="where kubeagent was built (default: this tree)")
    ap.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    ap.add_argument("--keep", action="store_true", help="keep the state folder (logs, config)")
    args = ap.parse_args()

    def stop(signum, frame):
        raise Interrupted(signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    out = sys.stdout
    state = tempfile.mkdtemp(prefix="kubeagent-demo-")
    stack = S.Stack(state, S.environment(args.build_dir), kube_args=["--kubelet-delay-ms", "50"])
    rc = 1
    try:
        out.write("kubeagent demo: %d builds on the templates of %s\n" % (args.builds, os.path.relpath(args.example)))
        out.write("starting the Kubernetes and Jenkins simulators and kubeagentd (state in %s)\n" % state)
        out.flush()
        stack.start_sims()
        s = run(stack, args.example, args.builds, Display(out, out.isatty()), args.timeout)
        print_summary(s, out)
        if s["complete"]:
            rc = 0
        else:
            out.write("not finished after %.0f s: %s\n" % (args.timeout, s["still"]))
    except KeyboardInterrupt:
        out.write("\ninterrupted (SIGINT); stopping everything\n")
        rc = 128 + signal.SIGINT
    except Interrupted as exc:
        out.write("\ninterrupted (%s); stopping everything\n" % exc)
        rc = 128 + exc.signum
    except (S.Timeout, RuntimeError, OSError) as exc:
        out.write("\ndemo failed: %s\n" % exc)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):   # nothing may cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        problems = stack.stop()
        for p in problems:
            out.write("problem: %s\n" % p)
        if problems and rc == 0:
            rc = 1
        if rc != 0 or args.keep:
            out.write("logs and config kept in %s (kubeagentd.log, kubesim.log, jenkinssim.log)\n" % state)
        else:
            shutil.rmtree(state, ignore_errors=True)
        out.flush()
    return rc


if __name__ == "__main__":
    sys.exit(main())
