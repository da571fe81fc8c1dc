#!/usr/bin/env python3
"""`make demo`'s driver, tests/e2e/demo.py: its parts in-process (the
workload, percentiles, the phases of each build from the simulators' events,
the live display on a terminal and off one, the summary table), then the
command itself: a short run exits 0 and leaves no process behind, and Ctrl-C
in the middle stops everything, keeps the logs and exits 130.
"""

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sim"))

import demo  # noqa: E402
import stack as S  # noqa: E402
from taplib import Tap, expect  # noqa: E402


class FakeProgress:
    def __init__(self, finished, running, queued, counts):
        self.total = 10
        self.started = time.time() - 3.5
        self.builds = {"finished": finished, "running": running, "queued": queued}
        self.counts = dict(zip([b for b, _ in demo.BUCKETS], counts))


def units(t):
    def burst():
        b = demo.burst(["maven", "a && b"], 7)
        expect([x["label"] for x in b] == ["maven", "a && b"] * 3 + ["maven"], "labels in turn: %s", b)
        expect(b[2]["kind"] == "freestyle" and b[5]["kind"] == "freestyle" and "kind" not in b[0],
               "every third a free-style job: %s", b)
        expect(b[1]["job"] == "demo/a-b-app", "job names from labels: %s", b[1]["job"])
        expect(b[2]["params"] != b[5]["params"], "free-style builds differ (else Jenkins merges them)")
        expect(all(500 <= x["durationMs"] <= 2500 for x in b), "durations 0.5 to 2.5 s")
        expect(demo.burst(["x"], 5) == demo.burst(["x"], 5), "the same burst every time")
    t.check("burst(): builds spread over the labels, pipelines and free-style", burst)

    t.check("percentile(): nearest rank", lambda: (
        expect(demo.percentile([5], 99) == 5, "one value"),
        expect(demo.percentile(list(range(1, 101)), 50) == 50, "p50 of 1..100"),
        expect(demo.percentile(list(range(1, 101)), 99) == 99, "p99 of 1..100"),
        expect(demo.percentile([3, 1, 2], 50) == 2, "unsorted input")))

    t.check("served_labels(): the templates' labels from /v1/status, in order, once each", lambda: expect(
        demo.served_labels({"clouds": [{"templates": [{"label": "a"}, {"label": ""}, {"label": "b"}]},
                                       {"templates": [{"label": "a"}, {"label": "c"}]}]}) == ["a", "b", "c"],
        "labels"))

    def phases():
        ev = [{"event": "queued", "item": 7, "time": 10.0},
              {"event": "started", "job": "j", "number": 1, "node": "", "time": 10.1},
              {"event": "node-created", "node": "n1", "time": 10.3},
              {"event": "agent-connected", "node": "n1", "time": 11.0},
              {"event": "agent-connected", "node": "n1", "time": 19.0},     # a reconnect: not the first
              {"event": "block-started", "job": "j", "number": 1, "node": "n1", "time": 11.1},
              {"event": "block-finished", "job": "j", "number": 1, "node": "n1", "time": 12.0},
              {"event": "queued", "item": 9, "time": 10.0},
              {"event": "node-created", "node": "n2", "time": 10.5},
              {"event": "started", "job": "f", "number": 4, "node": "n2", "item": 9, "time": 11.5},
              {"event": "finished", "job": "f", "number": 4, "result": "SUCCESS", "time": 12.5}]
        builds = [{"job": "j", "number": 1, "kind": "pipeline", "queueId": 7, "builtOn": "n1"},
                  {"job": "f", "number": 4, "kind": "freestyle", "queueId": 9, "builtOn": "n2"},
                  {"job": "x", "number": 1, "kind": "pipeline", "queueId": 3, "builtOn": None}]
        pods = {("ci", "n1"): {"added": 10.4, "deleted": 13.0}, ("other", "n2"): {"added": 10.6, "deleted": None}}
        got = demo.build_times(builds, ev, pods)
        expect(len(got) == 2, "a build that never ran on an agent has no times: %s", got)
        expect(got[0] == {"queued": 10.1, "node": 10.3, "pod": 10.4, "online": 11.0, "running": 11.1,
                          "done": 12.0, "deleted": 13.0}, "a pipeline: queued when its run started, its "
               "block's start and end: %s", got[0])
        expect(got[1]["queued"] == 10.0 and got[1]["running"] == 11.5 and got[1]["done"] == 12.5
               and got[1]["deleted"] is None, "a free-style build: its queue item, its run: %s", got[1])
    t.check("build_times(): each phase of a build's agent from the simulators' events and the pod watch", phases)

    def tty():
        out = io.StringIO()
        d = demo.Display(out, tty=True)
        d.update(FakeProgress(2, 3, 5, [1, 2, 0, 1, 3, 2]))
        d.update(FakeProgress(4, 3, 3, [0, 1, 1, 0, 3, 4]))
        text = out.getvalue()
        expect(text.count("\x1b[2F") == 1, "the second draw goes back up two lines: %r", text)
        expect(text.count("\x1b[K\n") == 4, "each line cleared to its end: %r", text)
        expect(re.search(r"builds  \[.{32}\]   4/10 done  3 running  3 queued", text), "the bar: %r", text)
        expect("agents  pending 0  creating 1  running 1  online 0  building 3  done 4" in text,
               "the counts: %r", text)
    t.check("on a terminal: a bar and the counts, redrawn in place", tty)

    def plain():
        out = io.StringIO()
        d = demo.Display(out, tty=False)
        d.update(FakeProgress(2, 3, 5, [1, 2, 0, 1, 3, 2]))
        d.update(FakeProgress(2, 3, 5, [1, 2, 0, 1, 3, 2]))      # nothing changed
        d.update(FakeProgress(3, 3, 4, [1, 2, 0, 1, 3, 3]))      # changed, but within the second
        d.update(FakeProgress(3, 3, 4, [1, 2, 0, 1, 3, 3]), force=True)
        lines = out.getvalue().splitlines()
        expect("\x1b" not in out.getvalue(), "no terminal codes")
        expect(len(lines) == 2, "a line when something changed, at most one a second: %s", lines)
        expect(lines[0].endswith("builds 2/10 done, 3 running, 5 queued | agents pending 1, creating 2, "
                                 "running 0, online 1, building 3, done 2"), "line: %s", lines[0])
    t.check("off a terminal: plain lines, only when something changed", plain)

    def summary():
        s = {"total": 3, "elapsed": 4.2, "results": {"SUCCESS": 2, "FAILURE": 1}, "finished": 3,
             "pods_created": 3, "pods_deleted": 3, "pods_left": [], "nodes_created": 3, "nodes_deleted": 2,
             "nodes_left": ["n3"], "max_active": {"ci": 2}, "caps": {"ci": ("kubernetes", 2)},
             "latency": [(name, 10.0, 20.0, 3) for name, _, _ in demo.PHASES[:-1]] + [("queued → build running",
                                                                                        None, None, 0)],
             "kube_requests": {"POST /pods": 3, "DELETE /pods/{name}": 3, "GET /version": 1},
             "jenkins_requests": {"GET /queue/api/json": 30}, "agents": 3}
        out = io.StringIO()
        demo.print_summary(s, out)
        text = out.getvalue()
        for want in (r"3 builds in 4\.2 s", r"builds +3 queued, 3 finished: 1 FAILURE, 2 SUCCESS",
                     r"pods +3 created, 3 deleted, 0 left", r"Jenkins nodes +3 created, 2 deleted, 1 left",
                     r"most pods at once +kubernetes 2 \(containerCap 2\)", r"node created → pod created +10 +20\n",
                     r"queued → build running +- +-\n", r"kubeagent → Kubernetes +2\.3 +DELETE /pods/\{name\} 1\.0, "
                     r"POST /pods 1\.0, GET /version 0\.3\n", r"kubeagent → Jenkins +10\.0 +GET /queue/api/json 10\.0"):
            expect(re.search(want, text), "lacks %r:\n%s", want, text)
    t.check("the summary table", summary)


def group_left(pgid):
    """Processes still in process group pgid."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    out.append(int(pid))
            except (OSError, IndexError, ValueError):
                pass
    return out


def command(t):
    env = dict(os.environ, TMPDIR=tempfile.mkdtemp(prefix="ka-e2e-demo-"))
    argv = [sys.executable, os.path.join(HERE, "demo.py"), "--builds", "6", "--timeout", "120"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    out, _ = p.communicate(timeout=300)
    text = out.decode(errors="replace")
    t.check("demo.py --builds 6: exits 0 with the summary", lambda: (
        expect(p.returncode == 0, "exit %s:\n%s", p.returncode, text),
        expect("6 queued, 6 finished: 6 SUCCESS" in text and "6 created, 6 deleted, 0 left" in text,
               "summary:\n%s", text)))
    t.check("  and leaves no process behind, nor its state folder", lambda: (
        expect(not group_left(p.pid), "still running: %s", group_left(p.pid)),
        expect(not os.listdir(env["TMPDIR"]), "left: %s", os.listdir(env["TMPDIR"]))))

    argv = [sys.executable, os.path.join(HERE, "demo.py"), "--builds", "40", "--timeout", "120"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    seen = []
    for line in p.stdout:                       # wait until builds are under way
        seen.append(line.decode(errors="replace"))
        if " s  builds " in seen[-1]:
            break
    os.killpg(p.pid, signal.SIGINT)             # Ctrl-C: the whole foreground group
    out, _ = p.communicate(timeout=120)
    text = "".join(seen) + out.decode(errors="replace")
    t.check("Ctrl-C in the middle: exit 130, everything stopped", lambda: (
        expect(p.returncode == 130 and "interrupted (SIGINT); stopping everything" in text, "exit %s:\n%s",
               p.returncode, text),
        expect(not group_left(p.pid), "still running: %s", group_left(p.pid))))
    kept = os.listdir(env["TMPDIR"])
    t.check("  the logs are kept, and said where", lambda: expect(
        len(kept) == 1 and os.path.exists(os.path.join(env["TMPDIR"], kept[0], "kubeagentd.log"))
        and "logs and config kept in %s" % os.path.join(env["TMPDIR"], kept[0]) in text, "%s\n%s", kept, text))
    shutil.rmtree(env["TMPDIR"], ignore_errors=True)


def main():
    t = Tap()
    units(t)
    command(t)
    return 1 if t.report() else 0


if __name__ == "__main__":
    sys.exit(main())
