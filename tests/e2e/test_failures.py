#!/usr/bin/env python3
"""End to end, what goes wrong and what is kept: the real kubeagentd with
both simulators, one config, one scenario after the other.

- onFailure: the pod of a build that failed because its pod failed (evicted
  in the middle of the build) is kept, marked kubeagent.io/kept; the pod of a
  build that succeeded is deleted; both nodes go.
- idleMinutes: six builds queued at once for a template with instanceCap 2
  run on its two agents, which stay online and idle afterwards.
- an image that cannot be pulled (the agent's): the agent fails after its back-offs, its
  node shows the reason as its offline cause, kubeagent does not try again
  while the build waits, and the cloud's only slot (containerCap 1) is free
  for another template's build at once; cancelling the build lets the node go.
- a folder-restricted cloud: a job of an allowed folder is served, a job
  outside it is refused (the reason in the log) and gets no node and no pod.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sim"))

import stack as S  # noqa: E402
from taplib import expect  # noqa: E402

WAIT = 60       # seconds any one thing may take (sanitizers, a loaded machine)

CLOUDS = [
    {"name": "retain", "namespace": "ci", "templates": [
        {"name": "flaky", "label": "flaky", "podRetention": "onFailure"},
        {"name": "reuse", "label": "reuse", "idleMinutes": 1, "instanceCap": 2}]},
    {"name": "tight", "namespace": "ci", "containerCap": 1, "templates": [
        {"name": "broken", "label": "broken", "containers": [{"name": "jnlp", "image": "jenkins/inbound-agent:nope"}]},
        {"name": "fine", "label": "fine"}]},
    {"name": "secure", "namespace": "other", "usageRestricted": True, "allowedFolders": ["team-a"],
     "templates": [{"name": "secure", "label": "secure"}]},
]


def freestyle(st, job, label, duration_ms=300, **kw):
    """Queue one free-style build; its queue item id."""
    return st.jenkins.queue_builds(job=job, kind="freestyle", label=label, durationMs=duration_ms, **kw)[0]


def pods_of(st, template):
    """Names of every pod of a template seen so far (agent names begin with it)."""
    with st.watch.cond:
        return sorted(n for (ns, n) in st.watch.pods if n.startswith("kubeagent-%s-" % template))


def on_failure(t, st):
    freestyle(st, "flaky/evicted", "flaky", duration_ms=600000)
    freestyle(st, "flaky/fine", "flaky")
    started = st.jenkins.wait_event("flaky/evicted to start", lambda e: e["event"] == "started"
                                    and e["job"] == "flaky/evicted", WAIT)
    victim = started["node"]
    st.kube.admin("POST", "/evict", {"namespace": "ci", "name": victim})
    run = st.jenkins.wait_finished("flaky/evicted", WAIT)
    kept = st.watch.wait("the evicted pod to be kept", lambda w: (w.pod(victim)["obj"]["metadata"].get(
        "annotations", {}).get(S.KEPT_ANNOTATION) and w.pod(victim)), WAIT)
    fine = st.jenkins.wait_finished("flaky/fine", WAIT)
    gone = st.watch.wait("the succeeded build's pod to be deleted", lambda w: w.pod(fine["builtOn"])
                         and w.pod(fine["builtOn"])["deleted"], WAIT)
    S.wait_for("both nodes to go", lambda: not {victim, fine["builtOn"]} & {n["name"] for n in st.jenkins.nodes()},
               WAIT)
    t.check("onFailure: the pod of a build that failed with it (evicted) is kept, marked kubeagent.io/kept",
            lambda: (expect(run["result"] == "FAILURE", "the evicted build: %s", run),
                     expect(kept["obj"]["status"]["phase"] == "Failed" and not kept["deleted"], "pod: %s",
                            kept["obj"]["status"])))
    t.check("onFailure: the pod of a build that succeeded is deleted; both nodes are deleted",
            lambda: expect(fine["result"] == "SUCCESS" and gone, "build %s", fine))


def idle_minutes(t, st):
    st.jenkins.queue_builds(job="reuse/app", kind="freestyle", label="reuse", durationMs=300, count=6)
    runs = S.wait_for("six reuse builds to finish", lambda: (lambda r: len(r) == 6 and r)(
        [b for b in st.jenkins.builds() if b["job"] == "reuse/app" and not b["building"]]), WAIT)
    nodes = [b["builtOn"] for b in runs]
    t.check("idleMinutes: 6 builds queued at once ran on the template's 2 agents (instanceCap 2), one pod each",
            lambda: (expect(all(b["result"] == "SUCCESS" for b in runs), "results %s", runs),
                     expect(len(set(nodes)) == 2, "nodes used: %s", nodes),
                     expect(pods_of(st, "reuse") == sorted(set(nodes)), "pods %s for nodes %s",
                            pods_of(st, "reuse"), sorted(set(nodes)))))

    def idle():
        agents = {a["name"]: a["state"] for a in st.daemon.agents() or [] if a["name"] in nodes}
        return agents if agents == dict.fromkeys(set(nodes), "idle") else None
    agents = S.wait_for("both agents to be idle", idle, WAIT)

    def stay():
        n = {x["name"]: x for x in st.jenkins.nodes() if x["name"] in nodes}
        with st.watch.cond:
            live = st.watch.live_names()
        expect(len(agents) == 2, "agents: %s", agents)
        expect(len(n) == 2 and all(x["online"] and not x["temporarilyOffline"] for x in n.values()),
               "nodes: %s", n)
        expect(set(nodes) <= live, "pods gone: %s", set(nodes) - live)
    t.check("  and stay: idle, their nodes online (not marked single-use), their pods running", stay)


def unpullable(t, st):
    st.kube.admin("POST", "/config", {"backoffUnitMs": 50})
    item = freestyle(st, "tight/broken", "broken")
    node = S.wait_for("the broken agent's node to show why", lambda: next(
        (n for n in st.jenkins.agent_nodes() if n["name"].startswith("kubeagent-broken-")
         and "ImagePullBackOff" in n["offlineCauseReason"]), None), WAIT)
    t.check("an image that cannot be pulled: the node is offline with the reason as its cause", lambda: (
        expect(node["temporarilyOffline"] and "jenkins/inbound-agent:nope" in node["offlineCauseReason"],
               "node: %s", node)))
    st.daemon.wait_log("kubeagent to give up on the build's item", "cannot serve queue item %d" % item, WAIT)

    freestyle(st, "tight/other", "fine")
    other = st.jenkins.wait_finished("tight/other", WAIT)
    t.check("  its slot is free at once: another template of the cloud (containerCap 1) serves a build",
            lambda: expect(other["result"] == "SUCCESS" and other["builtOn"].startswith("kubeagent-fine-"),
                           "build: %s", other))
    waiting = [q for q in st.jenkins.queue() if q["id"] == item]
    t.check("  kubeagent does not try again while the build waits: one pod, the build still queued",
            lambda: (expect(pods_of(st, "broken") == [node["name"]], "pods: %s", pods_of(st, "broken")),
                     expect(waiting, "the build left the queue: %s", st.jenkins.queue())))
    st.jenkins.cancel(item)
    S.wait_for("the failed node to go once nothing waits for it",
               lambda: node["name"] not in {n["name"] for n in st.jenkins.nodes()}, WAIT)
    gone = st.watch.wait("its pod to be deleted", lambda w: w.pod(node["name"])["deleted"], WAIT)
    t.check("  once the build is cancelled the node is deleted, and the pod is", lambda: expect(gone, "pod"))


def folders(t, st):
    freestyle(st, "team-a/app", "secure")
    refused = freestyle(st, "team-b/app", "secure")
    ok_run = st.jenkins.wait_finished("team-a/app", WAIT)
    line = st.daemon.wait_log("the refusal", "cannot serve queue item %d" % refused, WAIT)
    t.check("a folder-restricted cloud serves a job of an allowed folder", lambda: expect(
        ok_run["result"] == "SUCCESS" and ok_run["builtOn"].startswith("kubeagent-secure-"), "build %s", ok_run))
    t.check("  and refuses one outside its folders, saying why", lambda: expect(
        "Kubernetes cloud secure is not allowed for folder containing job team-b/app" in line, "log: %s", line))
    st.jenkins.poll_events()
    created = [e["node"] for e in st.jenkins.events if e["event"] == "node-created"
               and e["node"].startswith("kubeagent-secure-")]
    t.check("  which gets no node and no pod, and still waits", lambda: (
        expect(pods_of(st, "secure") == [ok_run["builtOn"]], "pods: %s", pods_of(st, "secure")),
        expect(created == [ok_run["builtOn"]], "nodes created: %s", created),
        expect(any(q["id"] == refused for q in st.jenkins.queue()), "queue: %s", st.jenkins.queue())))
    st.jenkins.cancel(refused)


def setup(st):
    st.start_sims()
    st.kube.grant("other")
    st.start_daemon(st.write_config(CLOUDS))


if __name__ == "__main__":
    sys.exit(S.run_test("ka-e2e-failures-", setup, [("onFailure", on_failure), ("idleMinutes", idle_minutes),
                                                    ("an unpullable image", unpullable),
                                                    ("a folder-restricted cloud", folders)]))
