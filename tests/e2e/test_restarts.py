#!/usr/bin/env python3
"""End to end, restarts in the middle of a burst: the real kubeagentd with
both simulators.

- Jenkins restarts while builds run and others wait (reference
  jenkins-rest.md §10: agents disconnected, running pipeline blocks queued
  again for their node by name, a new session): every build still finishes,
  each on the node it started on, and no pod or node is left.
- kubeagentd is killed with SIGKILL while agents are being planned, started
  and used, more builds are queued while it is down, and it is started
  again: it adopts what exists, every build finishes, and no pod or node is
  left -- nothing lost, nothing created twice.
"""

import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sim"))

import stack as S  # noqa: E402
from taplib import expect  # noqa: E402

WAIT = 120
CLOUDS = [{"name": "kubernetes", "namespace": "ci", "containerCap": 8,
           "templates": [{"name": "app", "label": "app"}]}]


def queue(st, job, n, seed):
    rng = random.Random(seed)
    for _ in range(n):
        st.jenkins.queue_builds(job=job, label="app", durationMs=rng.randint(1500, 3000), afterMs=20)


def runs(st, job):
    return [b for b in st.jenkins.builds() if b["job"] == job]


def all_finished(st, job, n):
    r = runs(st, job)
    return r if len(r) == n and not any(b["building"] for b in r) else None


def wait_all_finished(st, job, n):
    """Every build of job finished; on a timeout, say which did not and what waits."""
    try:
        return S.wait_for("every build to finish", lambda: all_finished(st, job, n), WAIT)
    except S.Timeout as e:
        unfinished = [(b["number"], b.get("builtOn")) for b in runs(st, job) if b["building"]]
        st.jenkins.poll_events()
        nodes = {node for _, node in unfinished} | {n["name"] for n in st.jenkins.agent_nodes()}
        events = [e for e in st.jenkins.events if e.get("node") in nodes]
        raise S.Timeout("%s\n  %d runs, building (number, node): %s\n  their nodes' events: %s\n  queue: %s\n  %s" % (
            e, len(runs(st, job)), unfinished, events, S._short(st.jenkins.queue(), 1500), left(st))) from None


def nothing_left(st):
    """No agent in kubeagentd's table, no agent node in Jenkins, no pod."""
    with st.watch.cond:
        pods = st.watch.live_names()
    agents = st.daemon.agents()
    nodes = [n["name"] for n in st.jenkins.agent_nodes()]
    return None if pods or agents or nodes else True


def left(st):
    with st.watch.cond:
        pods = sorted(st.watch.live_names())
    return "agents %s, nodes %s, pods %s" % ([(a["name"], a["state"]) for a in st.daemon.agents() or []],
                                             [n["name"] for n in st.jenkins.agent_nodes()], pods)


def started_blocks(st, job):
    st.jenkins.poll_events()
    return [e for e in st.jenkins.events if e["event"] == "block-started" and e["job"] == job]


def jenkins_restart(t, st):
    job, n = "restart/app", 16
    queue(st, job, n, 1)
    S.wait_for("four builds to run", lambda: len(started_blocks(st, job)) >= 4, WAIT)
    st.jenkins.admin("POST", "/restart", {"downMs": 500, "loadingMs": 500})
    before = {(e["number"], e["node"]) for e in started_blocks(st, job)}
    S.wait_for("Jenkins to be up again", lambda: st.jenkins.admin("GET", "/healthz")["phase"] == "up", WAIT)
    done = wait_all_finished(st, job, n)
    requeued = [e for e in st.jenkins.events if e["event"] == "block-requeued" and e["job"] == job]
    t.check("Jenkins restarts in the middle: builds were running and were queued again for their nodes",
            lambda: expect(requeued and {(e["number"], e["node"]) for e in requeued} <= before,
                           "requeued %s; running before %s", requeued, before))
    t.check("  every build finishes SUCCESS, a resumed one on the node it started on", lambda: (
        expect(all(b["result"] == "SUCCESS" for b in done), "results: %s",
               [(b["number"], b["result"]) for b in done]),
        expect(all(dict(before).get(b["number"], b["builtOn"]) == b["builtOn"] for b in done),
               "moved: %s", [(b["number"], dict(before)[b["number"]], b["builtOn"]) for b in done
                             if b["number"] in dict(before) and dict(before)[b["number"]] != b["builtOn"]])))
    S.wait_for("nothing to be left", lambda: nothing_left(st), WAIT)
    t.check("  and no pod, node or agent is left", lambda: expect(nothing_left(st), left(st)))


def kill9(t, st):
    job, n, more = "kill9/app", 16, 4
    kube_before = st.kube.stats()["requests"]
    with st.watch.cond:
        seen_before = dict(st.watch.created)
    queue(st, job, n, 2)
    S.wait_for("four builds to run", lambda: len(started_blocks(st, job)) >= 4, WAIT)
    st.kill9_daemon()
    with st.watch.cond:
        pods_at_kill = len(st.watch.live_names())
    queue(st, job, more, 3)
    st.start_daemon(st.config)
    done = wait_all_finished(st, job, n + more)
    t.check("kubeagentd killed (SIGKILL) in the middle with %d pods, more builds queued while it is down, "
            "started again: every build finishes SUCCESS" % pods_at_kill,
            lambda: expect(pods_at_kill and all(b["result"] == "SUCCESS" for b in done), "results: %s",
                           [(b["number"], b["result"]) for b in done]))
    S.wait_for("nothing to be left", lambda: nothing_left(st), WAIT)
    t.check("  and no pod, node or agent is left (orphans collected)", lambda: expect(nothing_left(st), left(st)))
    key = "POST /api/v1/namespaces/{namespace}/pods 201"
    created = st.kube.stats()["requests"].get(key, 0) - kube_before.get(key, 0)
    with st.watch.cond:
        names = {k: v - seen_before.get(k, 0) for k, v in st.watch.created.items() if v > seen_before.get(k, 0)}
    # (one node per build is not asked: while kubeagentd is down nothing takes a
    # single-use node offline when its build starts, so Jenkins may give it a
    # second build once the first ends -- which then runs to its end)
    t.check("  nothing created twice: no pod name created twice", lambda: expect(
        created == len(names) and all(v == 1 for v in names.values()), "%d pods created, names seen: %s",
        created, names))


def setup(st):
    st.start_sims()
    # inbound agents retry for a long time (remoting keeps trying): they
    # outlast a controller restart, as the real ones do
    st.kube.admin("POST", "/config", {"agentAttempts": 1000})
    st.start_daemon(st.write_config(CLOUDS))


if __name__ == "__main__":
    sys.exit(S.run_test("ka-e2e-restarts-", setup, [("a Jenkins restart", jenkins_restart),
                                                    ("kill -9 of kubeagentd", kill9)]))
