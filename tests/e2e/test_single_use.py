#!/usr/bin/env python3
"""End to end, single-use agents whose builds are far shorter than the
Jenkins frontend's pollInterval (2 s here; builds of 600 ms): the real
kubeagentd with both simulators.

Eight builds (pipelines and free-style jobs) wait for one template whose
cloud runs two pods at a time, so whenever a build ends others wait for its
label.  Jenkins hands an idle online node the next of them at once: only
kubeagent taking the node offline before its first build ends keeps it
single-use.  Each build must run on a node of its own, and every node and
pod must go afterwards.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sim"))

import stack as S  # noqa: E402
from taplib import expect  # noqa: E402

WAIT = 60       # seconds any one thing may take (sanitizers, a loaded machine)
POLL = "2s"
DURATION_MS = 600
JOBS = ["quick/pipe-%d" % i for i in range(1, 5)] + ["quick/free-%d" % i for i in range(1, 5)]
CLOUDS = [{"name": "kubernetes", "namespace": "ci", "containerCap": 2,
           "templates": [{"name": "quick", "label": "quick"}]}]


def short_builds(t, st):
    for job in JOBS:
        kind = "freestyle" if "/free-" in job else "pipeline"
        st.jenkins.queue_builds(job=job, kind=kind, label="quick", durationMs=DURATION_MS, afterMs=20,
                                concurrent=True)
    runs = S.wait_for("the %d builds to finish" % len(JOBS), lambda: (lambda r: len(r) == len(JOBS) and r)(
        [b for b in st.jenkins.builds() if b["job"] in JOBS and not b["building"]]), 3 * WAIT)
    nodes = [b["builtOn"] for b in runs]
    t.check("%d builds of %d ms with pollInterval %s: all SUCCESS" % (len(JOBS), DURATION_MS, POLL),
            lambda: expect(all(b["result"] == "SUCCESS" for b in runs), "runs %s", runs))
    t.check("each ran on a node of its own: no single-use node ran two builds",
            lambda: expect(all(nodes) and len(set(nodes)) == len(JOBS), "builds per node: %s",
                           {n: nodes.count(n) for n in set(nodes)}))
    S.wait_for("every node to go", lambda: not st.jenkins.agent_nodes(), WAIT)
    st.watch.wait("every pod to be deleted", lambda w: not w.live_names(), WAIT)
    with st.watch.cond:
        pods = {name for (ns, name) in st.watch.pods}
    t.check("every node and pod is deleted afterwards; one pod per build",
            lambda: expect(pods == set(nodes), "pods %s, nodes %s", sorted(pods), sorted(set(nodes))))


def setup(st):
    st.start_sims()
    st.start_daemon(st.write_config(CLOUDS, poll=POLL))


if __name__ == "__main__":
    sys.exit(S.run_test("ka-e2e-single-use-", setup, [("short single-use builds", short_builds)]))
