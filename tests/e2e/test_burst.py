#!/usr/bin/env python3
"""End to end, the happy path: the real kubeagentd with both simulators
serves a burst of 50 builds over three labels and two clouds -- what
`make demo` runs (tests/e2e/demo.py), with assertions.

Each build gets a fresh pod (its own node, never reused), the pod is deleted
after the build, the caps hold, nothing is left (pod, node, agent), and the
requests kubeagent makes per agent are the few the lifecycle needs.
"""

import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sim"))

import demo  # noqa: E402
import stack as S  # noqa: E402
from taplib import expect  # noqa: E402

BUILDS = 50
EXAMPLE = os.path.join(S.TOP, "config", "examples", "demo.yaml")


def burst(t, st):
    out = io.StringIO()
    s = demo.run(st, EXAMPLE, BUILDS, demo.Display(out, tty=False), timeout=300)
    checks(t, st, s, out.getvalue())


def checks(t, st, s, progress):
    builds = s["builds"]

    t.check("%d builds over three labels and two clouds" % BUILDS, lambda: (
        expect(s["labels"] == ["maven", "nodejs", "docker"], "labels %s", s["labels"]),
        expect(len(s["caps"]) == 2, "clouds %s", s["caps"]),
        expect(len(builds) == BUILDS, "%d builds", len(builds))))

    t.check("every build finished SUCCESS; then no agent, node or pod was left",
            lambda: expect(s["complete"] and s["results"] == {"SUCCESS": BUILDS}, "results %s; still: %s",
                           s["results"], s["still"]))

    def fresh_pod():
        nodes = [b["builtOn"] for b in builds]
        expect(all(nodes) and len(set(nodes)) == BUILDS, "builds per node: %s",
               {n: nodes.count(n) for n in nodes if nodes.count(n) > 1} or nodes)
        pods = {name for (ns, name) in s["pods"]}
        expect(pods == set(nodes), "pods without a build: %s; builds without a pod: %s", pods - set(nodes),
               set(nodes) - pods)
    t.check("each build ran on a node of its own, whose pod was created for it", fresh_pod)

    def right_cloud():
        for b in builds:
            want = "other" if b["job"].startswith("demo/docker") else "ci"
            pod = s["pods"].get((want, b["builtOn"]))
            expect(pod is not None, "%s (label of %s) did not run in namespace %s", b["builtOn"], b["job"], want)
    t.check("maven and nodejs ran in cloud kubernetes (ci), docker in cloud docker-builds (other)", right_cloud)

    t.check("every pod was deleted after its build: %d created, %d deleted, none left" % (BUILDS, BUILDS),
            lambda: (expect(s["pods_created"] == BUILDS and s["pods_deleted"] == BUILDS and not s["pods_left"],
                            "created %d, deleted %d, left %s", s["pods_created"], s["pods_deleted"], s["pods_left"]),
                     expect(all(p["deleted"] for p in s["pods"].values()), "pods never deleted: %s",
                            [k for k, p in s["pods"].items() if not p["deleted"]])))

    t.check("every Jenkins node was deleted: %d created, %d deleted, none left" % (BUILDS, BUILDS),
            lambda: expect(s["nodes_created"] == BUILDS and s["nodes_deleted"] == BUILDS and not s["nodes_left"],
                           "created %d, deleted %d, left %s", s["nodes_created"], s["nodes_deleted"], s["nodes_left"]))

    def caps():
        for ns, most in s["max_active"].items():
            cloud, cap = s["caps"][ns]
            expect(most <= cap, "cloud %s had %d pods at once, containerCap %d", cloud, most, cap)
            expect(most == cap, "cloud %s never reached its containerCap %d (at most %d): the burst did not "
                   "press it", cloud, cap, most)
    t.check("each cloud's containerCap held, and was reached", caps)

    def requests():
        k, j, n = s["kube_requests"], s["jenkins_requests"], BUILDS
        per_pod = {key: v for key, v in k.items() if "{name}" in key}
        expect(k.get("POST /api/v1/namespaces/{namespace}/pods") == n, "pod creates: %s", k)
        expect(per_pod == {"DELETE /api/v1/namespaces/{namespace}/pods/{name}": n},
               "per pod, only its delete (no polling of pods): %s", per_pod)
        for key in ("POST /computer/doCreateItem", "GET /computer/{name}/jenkins-agent.jnlp",
                    "POST /computer/{name}/doDelete"):
            expect(j.get(key, 0) - (1 if key == "POST /computer/doCreateItem" else 0) == n,
                   "%s: %d for %d agents (and the placeholder node)", key, j.get(key, 0), n)
        per_node = {key: v for key, v in j.items() if "{name}" in key and v > 2 * n}
        expect(not per_node, "no polling of single nodes: %s", per_node)
    t.check("kubeagent's requests: one create and one delete per pod, no pod or node polled on its own", requests)

    def latency():
        for name, p50, p99, count in s["latency"]:
            expect(count == BUILDS, "%s measured for %d builds", name, count)
            expect(p50 is not None and 0 <= p50 <= p99, "%s: p50 %s p99 %s", name, p50, p99)
    t.check("every phase of every agent's life was seen (latency table complete)", latency)

    def display():
        lines = [x for x in progress.splitlines() if " s  builds " in x]
        expect(lines and "\x1b" not in progress, "no terminal codes when stdout is not a terminal")
        expect("builds %d/%d done" % (BUILDS, BUILDS) in lines[-1], "last progress line: %s", lines[-1])
        expect("building" in lines[0] and "done" in lines[0], "counts on every line: %s", lines[0])
        text = io.StringIO()
        demo.print_summary(s, text)
        for want in ("%d queued, %d finished: %d SUCCESS" % (BUILDS, BUILDS, BUILDS),
                     "%d created, %d deleted, 0 left" % (BUILDS, BUILDS), "pod created → agent online",
                     "kubeagent → Kubernetes"):
            expect(want in text.getvalue(), "summary lacks %r:\n%s", want, text.getvalue())
    t.check("progress lines without terminal codes, and the summary table", display)


if __name__ == "__main__":
    sys.exit(S.run_test("ka-e2e-burst-", lambda st: st.start_sims(), [("the burst", burst)]))
