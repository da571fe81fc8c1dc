"""The fake cluster: scheduler, kubelet, PVC binder and garbage collector.

Each created pod gets a ``PodWorker`` that walks it through the real sequence,
one step per ``delay`` seconds, writing the pod status (one MODIFIED per
change) and recording events as the real components do:

1. scheduling onto one of ``NODES`` (nodeSelector, cpu/memory requests against
   a node's allocatable, referenced PVCs must exist), else PodScheduled=False
   ``Unschedulable`` and ``FailedScheduling`` events, retried with backoff;
2. sandbox: hostIP, podIP, startTime, containers waiting ``ContainerCreating``;
3. per container: image (``InvalidImageName``; ``ErrImagePull`` then
   ``ImagePullBackOff`` with growing back-off for images whose repository or
   tag contains ``nope``, ``doesnotexist`` or ``nonexistent``; ``Pulling`` /
   ``Pulled``, cached per node), env/volume references to secrets and config
   maps (``CreateContainerConfigError`` / ``FailedMount`` until they exist),
   ``Created``, ``Started``; init containers run to completion first;
4. the container's program (``programs.py``) decides when it exits; restarts
   follow ``restartPolicy`` with ``CrashLoopBackOff``; the phase follows the
   kubelet's ``getPhase`` rules.

Back-offs are scaled: the nominal 10 s, 20 s, ... 5 m steps (shown in messages)
last ``backoff_unit`` x 1, 2, ... 30.  A graceful delete stops containers
(SIGTERM; programs that ignore it are killed after the grace period, capped at
``grace_cap``), moves the pod to its terminal phase, then removes it.
"""

import asyncio
import hashlib
import json
import re
import time
import uuid

from kstatus import rfc3339
from podspec import quantity
from programs import BytesReader, Pipe, ProcTable, StartError, program_for


class Node:
    def __init__(self, name, ip, cpu, memory, zone, pod_net):
        self.name = name
        self.ip = ip
        self.pod_net = pod_net
        self.cpu = cpu
        self.memory = memory
        self.labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                       "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": zone}
        self.images = set()
        self.next_ip = 1

    def next_pod_ip(self):
        self.next_ip = self.next_ip % 250 + 1
        return "%s.%d" % (self.pod_net, self.next_ip + 1)


NODE_SPECS = [("kubesim-node-1", "172.18.0.2", 8, 32 * 2 ** 30, "zone-a", "10.244.1"),
              ("kubesim-node-2", "172.18.0.3", 8, 32 * 2 ** 30, "zone-b", "10.244.2"),
              ("kubesim-node-3", "172.18.0.4", 4, 16 * 2 ** 30, "zone-a", "10.244.3")]
FAILING_WORDS = ("nope", "doesnotexist", "nonexistent")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
                     r"(?::[0-9]+)?$")
_REMAINDER = re.compile(r"^(?P<path>%s(?:/%s)*)(?::(?P<tag>[\w][\w.-]{0,127}))?"
                        r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
                        % (_COMPONENT, _COMPONENT))


def parse_image(image):
    """``(normalized reference, None)`` or ``(None, kubelet error text)`` for an image string."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain = first
    else:
        domain, rest = "docker.io", image
    m = _REMAINDER.match(rest)
    if not m or not _DOMAIN.match(domain):
        why = ": repository name must be lowercase" if _REMAINDER.match(rest.lower()) else ""
        return None, ('Failed to apply default image tag "%s": couldn\'t parse image name "%s": '
                      "invalid reference format%s" % (image, image, why))
    path = m.group("path")
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    tag = m.group("tag") or ("" if m.group("digest") else "latest")
    ref = "%s/%s" % (domain, path) + (":" + tag if tag else "")
    if m.group("digest"):
        ref += "@" + m.group("digest")
    return ref, None


def pod_requests(pod):
    totals = {"cpu": 0.0, "memory": 0.0}
    spec = pod["spec"]
    for c in spec.get("containers") or []:
        for r in totals:
            totals[r] += quantity(((c.get("resources") or {}).get("requests") or {}).get(r, 0))
    for c in spec.get("initContainers") or []:
        for r in totals:
            totals[r] = max(totals[r], quantity(((c.get("resources") or {}).get("requests") or {}).get(r, 0)))
    return totals


class ContainerRun:
    """Log of one container instance; followers wait on ``changed``."""

    max_lines = 20000
    max_partial = 16384     # the runtime splits longer lines, like containerd

    def __init__(self):
        self.lines = []
        self.partial = ""
        self.done = False
        self.changed = asyncio.Event()

    def write(self, text, newline=True):
        text = self.partial + text
        self.partial = ""
        parts = text.split("\n")
        if not newline:
            self.partial = parts.pop()
        now = time.time()
        for p in parts:
            self.lines.append((now, p + "\n"))
        while len(self.partial) > self.max_partial:
            self.lines.append((now, self.partial[:self.max_partial]))
            self.partial = self.partial[self.max_partial:]
        del self.lines[:-self.max_lines]
        self._wake()

    def finish(self):
        if self.partial:
            self.lines.append((time.time(), self.partial))
            self.partial = ""
        self.done = True
        self._wake()

    def _wake(self):
        self.changed.set()
        self.changed = asyncio.Event()


class Ctx:
    """What a program sees of its container: env, image, working directory, the
    process table (PID 1 is the main program; signals to it set ``sigterm``)."""

    def __init__(self, worker, cs, env):
        self.env = env
        self.stdin_open = bool(cs.spec.get("stdin") or cs.spec.get("tty"))
        self.sigterm = asyncio.Event()
        self.hostname = worker.name
        self.image = cs.spec.get("image", "")
        self.workdir = cs.spec.get("workingDir") or "/"
        self.procs = ProcTable()
        init = self.procs.start(list(cs.spec.get("command") or []) + list(cs.spec.get("args") or []), env)
        init.deliver = lambda signo: self.sigterm.set() if signo in (1, 2, 15) else None
        self.run = cs.runs[-1]
        cfg = worker.kubelet.config
        self.agent_attempts = cfg.agent_attempts
        self.agent_retry_delay = cfg.agent_retry_delay
        self._agent_key = (worker.ns, worker.name, cs.name)
        self._agents = worker.kubelet.agents

    def log(self, text, stream="stdout", newline=True):
        self.run.write(text, newline)

    def stdin(self):
        """The main program's stdin: open forever with ``stdin``/``tty``, else at EOF."""
        return Pipe() if self.stdin_open else BytesReader()

    def agent_state(self, state, failures):
        entry = self._agents.setdefault(self._agent_key, {"attempts": 0})
        if state == "connecting":
            entry["attempts"] += 1
        entry.update(state=state, failures=failures)


class CState:
    """Runtime state of one container of a pod."""

    def __init__(self, spec, init, waiting):
        self.spec = spec
        self.name = spec["name"]
        self.init = init
        self.state = {"waiting": {"reason": waiting}}
        self.last_state = {}
        self.restarts = 0
        self.runs = []
        self.image = spec.get("image", "")
        self.image_id = ""
        self.container_id = ""
        self.ctx = None
        self.program = None
        self.proc = None

    @property
    def running(self):
        return "running" in self.state

    @property
    def terminated(self):
        return self.state.get("terminated")

    def status(self):
        st = {"name": self.name, "state": self.state, "lastState": self.last_state,
              "ready": self.running and not self.init, "restartCount": self.restarts,
              "image": self.image, "imageID": self.image_id}
        if self.container_id:
            st["containerID"] = self.container_id
        st["started"] = self.running
        return st


class PodWorker:
    def __init__(self, kubelet, pod):
        meta = pod["metadata"]
        self.kubelet = kubelet
        self.ns = meta["namespace"]
        self.name = meta["name"]
        self.uid = meta["uid"]
        self.spec = pod["spec"]
        self.node = None
        self.pod_ip = None
        self.start_time = None
        self.phase = "Pending"
        self.reason = None
        self.message = None
        self.conditions = {}
        self.inits = [CState(c, True, "PodInitializing") for c in self.spec.get("initContainers") or []]
        first = "PodInitializing" if self.inits else "ContainerCreating"
        self.containers = [CState(c, False, first) for c in self.spec.get("containers") or []]
        self.tasks = []
        self.terminating = False
        self.main = asyncio.ensure_future(self._guard(self.run()))

    # --- helpers -------------------------------------------------------------
    @property
    def cfg(self):
        return self.kubelet.config

    def current(self):
        rec = self.kubelet.store.get("pods", self.ns, self.name)
        return rec.obj if rec and rec.obj["metadata"]["uid"] == self.uid else None

    def event(self, type_, reason, message, field_path="", component="kubelet"):
        pod = self.current()
        if pod:
            host = self.node.name if self.node else ""
            self.kubelet.recorder.record(pod, type_, reason, message, component, host, field_path)

    def cevent(self, cs, type_, reason, message):
        kind = "initContainers" if cs.init else "containers"
        self.event(type_, reason, message, "spec.%s{%s}" % (kind, cs.name))

    async def step(self):
        await asyncio.sleep(self.cfg.delay)

    def backoff(self, n):
        nominal = min(10 * 2 ** n, 300)
        return nominal, self.cfg.backoff_unit * nominal / 10.0

    def set_condition(self, type_, status, reason=None, message=None):
        old = self.conditions.get(type_)
        if old and old["status"] == status and old.get("reason") == reason and old.get("message") == message:
            return
        cond = {"type": type_, "status": status, "lastProbeTime": None,
                "lastTransitionTime": old["lastTransitionTime"] if old and old["status"] == status else rfc3339()}
        if reason:
            cond["reason"] = reason
        if message:
            cond["message"] = message
        self.conditions[type_] = cond

    async def _guard(self, coro):
        try:
            await coro
        except asyncio.CancelledError:
            pass

    # --- status --------------------------------------------------------------
    def compute_phase(self):
        if self.phase in ("Succeeded", "Failed"):
            return self.phase
        policy = self.spec.get("restartPolicy", "Always")
        for cs in self.inits:
            term = cs.terminated
            if term and term["exitCode"] != 0 and policy == "Never":
                return "Failed"
            if not (term and term["exitCode"] == 0):
                return "Pending"
        running = waiting = stopped = succeeded = 0
        for cs in self.containers:
            if cs.running:
                running += 1
            elif cs.terminated:
                stopped += 1
                succeeded += cs.terminated["exitCode"] == 0
            elif cs.last_state.get("terminated"):
                stopped += 1
            else:
                waiting += 1
        if waiting:
            return "Pending"
        if running:
            return "Running"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Running" if policy == "OnFailure" else "Failed"

    def publish(self):
        """Write the pod status computed from the worker's state (one MODIFIED if it changed)."""
        self.phase = self.compute_phase()
        if self.start_time:
            inits_done = all(cs.terminated and cs.terminated["exitCode"] == 0 for cs in self.inits)
            pending_init = [cs.name for cs in self.inits if not (cs.terminated and cs.terminated["exitCode"] == 0)]
            if inits_done:
                self.set_condition("Initialized", "True")
            else:
                self.set_condition("Initialized", "False", "ContainersNotInitialized",
                                   "containers with incomplete status: [%s]" % " ".join(pending_init))
            unready = [cs.name for cs in self.containers if not cs.running]
            if self.phase in ("Succeeded", "Failed"):
                reason = "PodCompleted"
                self.set_condition("Ready", "False", reason)
                self.set_condition("ContainersReady", "False", reason)
            elif unready:
                msg = "containers with unready status: [%s]" % " ".join(unready)
                self.set_condition("Ready", "False", "ContainersNotReady", msg)
                self.set_condition("ContainersReady", "False", "ContainersNotReady", msg)
            else:
                self.set_condition("Ready", "True")
                self.set_condition("ContainersReady", "True")

        def write(pod):
            if self.node and pod["spec"].get("nodeName") != self.node.name:
                pod["spec"]["nodeName"] = self.node.name
                changed = True
            else:
                changed = False
            st = dict(pod.get("status") or {})
            st["phase"] = self.phase
            for key, value in (("reason", self.reason), ("message", self.message)):
                if value:
                    st[key] = value
            order = ("DisruptionTarget", "PodReadyToStartContainers", "Initialized", "Ready",
                     "ContainersReady", "PodScheduled")
            st["conditions"] = [dict(self.conditions[t]) for t in order if t in self.conditions]
            if self.node and self.start_time:
                st["hostIP"] = self.node.ip
                st["hostIPs"] = [{"ip": self.node.ip}]
                st["podIP"] = self.pod_ip
                st["podIPs"] = [{"ip": self.pod_ip}]
                st["startTime"] = self.start_time
                if self.inits:
                    st["initContainerStatuses"] = [cs.status() for cs in self.inits]
                st["containerStatuses"] = [cs.status() for cs in self.containers]
            st = json.loads(json.dumps(st))
            if st == pod.get("status") and not changed:
                return False
            pod["status"] = st
        self.kubelet.store.mutate("pods", self.ns, self.name, write, self.uid)

    # --- lifecycle -----------------------------------------------------------
    async def run(self):
        await self.step()
        if not await self.schedule():
            return
        await self.step()
        self.pod_ip = self.node.next_pod_ip()
        self.start_time = rfc3339()
        self.set_condition("PodReadyToStartContainers", "True")
        self.publish()
        deadline = self.spec.get("activeDeadlineSeconds")
        if deadline:
            self.tasks.append(asyncio.ensure_future(self._guard(self.deadline(deadline))))
        await self.mount_volumes()
        for cs in self.inits:
            while True:
                code = await self.run_container(cs)
                if code == 0:
                    break
                if self.spec.get("restartPolicy") == "Never":
                    self.publish()
                    return
                await self.crash_backoff(cs)
        for cs in self.containers:
            cs.state = {"waiting": {"reason": "ContainerCreating"}}
        self.publish()
        loops = [asyncio.ensure_future(self.container_loop(cs)) for cs in self.containers]
        self.tasks.extend(loops)
        await asyncio.gather(*loops)

    async def schedule(self):
        if self.spec.get("nodeName"):
            self.node = self.kubelet.nodes.get(self.spec["nodeName"])
            return self.node is not None
        if self.spec.get("schedulerName", "default-scheduler") != "default-scheduler":
            return False
        attempt = 0
        while True:
            pod = self.current()
            if pod is None:
                return False
            node, why = self.kubelet.pick_node(pod)
            if node:
                break
            self.set_condition("PodScheduled", "False", "Unschedulable", why)
            self.publish()
            self.event("Warning", "FailedScheduling", why, component="default-scheduler")
            await asyncio.sleep(self.backoff(attempt)[1])
            attempt += 1
        self.node = node
        self.set_condition("PodScheduled", "True")
        self.publish()
        self.event("Normal", "Scheduled", "Successfully assigned %s/%s to %s" % (self.ns, self.name, node.name),
                   component="default-scheduler")
        return True

    async def mount_volumes(self):
        attempt = 0
        while True:
            missing = None
            for vol in self.spec.get("volumes") or []:
                for kind, field in (("secret", "secretName"), ("configMap", "name")):
                    src = vol.get(kind)
                    if src and not src.get("optional") and self.kubelet.config_object(
                            kind, self.ns, src.get(field, "")) is None:
                        label = "secret" if kind == "secret" else "configmap"
                        missing = 'MountVolume.SetUp failed for volume "%s" : %s "%s" not found' % (
                            vol["name"], label, src.get(field, ""))
            if not missing:
                return
            self.event("Warning", "FailedMount", missing)
            await asyncio.sleep(self.backoff(attempt)[1])
            attempt += 1

    def resolve_env(self, cs):
        """``(env dict, error text)`` for a container, like the kubelet's makeEnvironmentVariables."""
        env = {"HOSTNAME": self.name, "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
        fields = {"metadata.name": self.name, "metadata.namespace": self.ns, "metadata.uid": self.uid,
                  "spec.nodeName": self.node.name, "spec.serviceAccountName": self.spec.get("serviceAccountName"),
                  "status.hostIP": self.node.ip, "status.podIP": self.pod_ip}
        for src in cs.spec.get("envFrom") or []:
            for kind, ref in (("secret", src.get("secretRef")), ("configMap", src.get("configMapRef"))):
                if ref is None:
                    continue
                data = self.kubelet.config_object(kind, self.ns, ref.get("name", ""))
                if data is None:
                    if ref.get("optional"):
                        continue
                    return None, '%s "%s" not found' % (kind.lower(), ref.get("name", ""))
                for k, v in data.items():
                    env[src.get("prefix", "") + k] = v
        for item in cs.spec.get("env") or []:
            source = item.get("valueFrom")
            if not source:
                env[item["name"]] = _expand(item.get("value", ""), env)
                continue
            for kind, key in (("secret", "secretKeyRef"), ("configMap", "configMapKeyRef")):
                ref = source.get(key)
                if ref is None:
                    continue
                data = self.kubelet.config_object(kind, self.ns, ref.get("name", ""))
                label = "Secret" if kind == "secret" else "ConfigMap"
                if data is None:
                    if ref.get("optional"):
                        break
                    return None, '%s "%s" not found' % (kind.lower(), ref.get("name", ""))
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        break
                    return None, "couldn't find key %s in %s %s/%s" % (ref.get("key"), label, self.ns, ref["name"])
                env[item["name"]] = data[ref["key"]]
            if "fieldRef" in source:
                env[item["name"]] = str(fields.get(source["fieldRef"].get("fieldPath"), ""))
        return env, None

    async def pull(self, cs):
        image = cs.spec.get("image", "")
        ref, error = parse_image(image)
        if error:
            cs.state = {"waiting": {"reason": "InvalidImageName", "message": error}}
            self.publish()
            self.cevent(cs, "Warning", "InspectFailed", error)
            self.cevent(cs, "Warning", "Failed", "Error: InvalidImageName")
            await asyncio.Event().wait()
        policy = cs.spec.get("imagePullPolicy", "IfNotPresent")
        present = ref in self.node.images
        if policy == "Never" and not present:
            msg = 'Container image "%s" is not present with pull policy of Never' % image
            cs.state = {"waiting": {"reason": "ErrImageNeverPull", "message": msg}}
            self.publish()
            self.cevent(cs, "Warning", "ErrImageNeverPull", msg)
            await asyncio.Event().wait()
        if present and policy != "Always":
            self.cevent(cs, "Normal", "Pulled", 'Container image "%s" already present on machine' % image)
        else:
            repo_and_tag = ref.split("/", 1)[1]
            attempt = 0
            while any(w in repo_and_tag for w in FAILING_WORDS):
                self.cevent(cs, "Normal", "Pulling", 'Pulling image "%s"' % image)
                await self.step()
                detail = ('rpc error: code = NotFound desc = failed to pull and unpack image "%s": failed to '
                          'resolve reference "%s": %s: not found' % (ref, ref, ref))
                cs.state = {"waiting": {"reason": "ErrImagePull", "message": detail}}
                self.publish()
                self.cevent(cs, "Warning", "Failed", 'Failed to pull image "%s": %s' % (image, detail))
                self.cevent(cs, "Warning", "Failed", "Error: ErrImagePull")
                await self.step()
                msg = 'Back-off pulling image "%s"' % image
                cs.state = {"waiting": {"reason": "ImagePullBackOff", "message": msg}}
                self.publish()
                self.cevent(cs, "Normal", "BackOff", msg)
                self.cevent(cs, "Warning", "Failed", "Error: ImagePullBackOff")
                await asyncio.sleep(self.backoff(attempt)[1])
                attempt += 1
            self.cevent(cs, "Normal", "Pulling", 'Pulling image "%s"' % image)
            started = time.monotonic()
            await self.step()
            took = time.monotonic() - started
            self.cevent(cs, "Normal", "Pulled", 'Successfully pulled image "%s" in %.3fs (%.3fs including '
                        "waiting). Image size: %d bytes." % (image, took, took, 1000000 + len(image) * 4099))
            self.node.images.add(ref)
        cs.image = ref
        cs.image_id = ref.split(":")[0].split("@")[0] + "@sha256:" + hashlib.sha256(ref.encode()).hexdigest()

    async def run_container(self, cs):
        """Pull, configure, start and run one container instance; returns its exit code."""
        await self.pull(cs)
        attempt = 0
        while True:
            env, error = self.resolve_env(cs)
            if not error:
                break
            cs.state = {"waiting": {"reason": "CreateContainerConfigError", "message": error}}
            self.publish()
            self.cevent(cs, "Warning", "Failed", "Error: " + error)
            await asyncio.sleep(self.backoff(attempt)[1])
            attempt += 1
        await self.step()
        cs.container_id = "containerd://" + uuid.uuid4().hex + uuid.uuid4().hex
        run = ContainerRun()
        cs.runs.append(run)
        del cs.runs[:-2]
        try:
            cs.program = program_for(cs.spec, env)
        except StartError as exc:
            run.finish()
            cs.state = {"terminated": {"exitCode": 128, "reason": "StartError", "message": str(exc),
                                       "startedAt": "1970-01-01T00:00:00Z", "finishedAt": rfc3339(),
                                       "containerID": cs.container_id}}
            self.publish()
            self.cevent(cs, "Warning", "Failed", "Error: " + str(exc))
            return 128
        self.cevent(cs, "Normal", "Created", "Created container %s" % cs.name)
        cs.state = {"running": {"startedAt": rfc3339()}}
        cs.ctx = Ctx(self, cs, env)
        cs.proc = asyncio.ensure_future(_exit_code(cs.program, cs.ctx))
        self.publish()
        self.cevent(cs, "Normal", "Started", "Started container %s" % cs.name)
        code = await asyncio.shield(cs.proc)
        self.stop_container(cs, code)
        self.publish()
        return code

    def stop_container(self, cs, code):
        """Record the end of the running instance (idempotent)."""
        if not cs.running:
            return
        cs.runs[-1].finish()
        cs.ctx.procs.kill_all()
        cs.state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                   "startedAt": cs.state["running"]["startedAt"], "finishedAt": rfc3339(),
                                   "containerID": cs.container_id}}

    async def crash_backoff(self, cs):
        nominal, wait = self.backoff(cs.restarts)
        cs.last_state = {"terminated": cs.state["terminated"]}
        cs.restarts += 1
        msg = "back-off %s restarting failed container=%s pod=%s_%s(%s)" % (
            _duration(nominal), cs.name, self.name, self.ns, self.uid)
        cs.state = {"waiting": {"reason": "CrashLoopBackOff", "message": msg}}
        self.publish()
        self.cevent(cs, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)"
                    % (cs.name, self.name, self.ns, self.uid))
        await asyncio.sleep(wait)

    async def container_loop(self, cs):
        policy = self.spec.get("restartPolicy", "Always")
        while True:
            code = await self.run_container(cs)
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                return
            await self.crash_backoff(cs)

    async def deadline(self, seconds):
        await asyncio.sleep(seconds)
        msg = "Pod was active on the node longer than the specified deadline"
        self.event("Normal", "DeadlineExceeded", msg)
        self.fail("DeadlineExceeded", msg)

    def fail(self, reason, message, condition=None):
        """Kill every container now and make the pod Failed (deadline, node-pressure eviction)."""
        if self.phase in ("Succeeded", "Failed") or self.terminating:
            return
        self.stop_tasks()
        if condition:
            self.set_condition("DisruptionTarget", "True", condition, message)
        for cs in self.inits + self.containers:
            if cs.running:
                self.cevent(cs, "Normal", "Killing", "Stopping container %s" % cs.name)
                cs.proc.cancel()
                self.stop_container(cs, 137)
        self.phase, self.reason, self.message = "Failed", reason, message
        self.publish()

    def stop_tasks(self):
        for task in self.tasks + [self.main]:
            if task is not asyncio.current_task():
                task.cancel()

    async def terminate(self, grace):
        """Graceful deletion: SIGTERM, wait (capped), SIGKILL, terminal phase, removal."""
        if self.terminating:
            return
        self.stop_tasks()
        self.terminating = True
        running = [cs for cs in self.inits + self.containers if cs.running]
        for cs in running:
            self.cevent(cs, "Normal", "Killing", "Stopping container %s" % cs.name)
            cs.ctx.sigterm.set()
        if running:
            await asyncio.wait([cs.proc for cs in running], timeout=min(grace, self.cfg.grace_cap))
        else:
            await self.step()
        for cs in running:
            if cs.proc.done() and not cs.proc.cancelled():
                self.stop_container(cs, cs.proc.result())
            else:
                cs.proc.cancel()
                self.stop_container(cs, 137)
        if self.phase not in ("Succeeded", "Failed"):
            ok = bool(self.start_time) and all(
                cs.terminated and cs.terminated["exitCode"] == 0 for cs in self.containers)
            self.phase = "Succeeded" if ok else "Failed"
        self.publish()
        await self.step()
        self.kubelet.finish_deletion(self)

    def kill(self):
        """Forget the pod at once (force deletion): stop everything silently."""
        self.terminating = True
        self.stop_tasks()
        for cs in self.inits + self.containers:
            if cs.running:
                cs.proc.cancel()
                cs.runs[-1].finish()
                cs.ctx.procs.kill_all()


async def _exit_code(program, ctx):
    """Run a program; a simulator bug inside it ends the container (exit 1) instead of the pod worker."""
    try:
        return await program.run(ctx)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        ctx.log("kubesim: container program failed: %r" % exc, "stderr")
        return 1


def _duration(seconds):
    if seconds < 60:
        return "%ds" % seconds
    return "%dm%ds" % (seconds // 60, seconds % 60)


def _expand(value, env):
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), value)


class Config:
    """Timing knobs (seconds); all may be changed at run time through the admin API."""

    def __init__(self, delay=0.02, backoff_unit=0.2, grace_cap=1.0, agent_attempts=5, agent_retry_delay=0.2):
        self.delay = delay
        self.backoff_unit = backoff_unit
        self.grace_cap = grace_cap
        self.agent_attempts = agent_attempts
        self.agent_retry_delay = agent_retry_delay


class Kubelet:
    """All nodes' kubelets plus the scheduler, PVC binder and garbage collector."""

    def __init__(self, store, recorder, config, rng):
        self.store = store
        self.recorder = recorder
        self.config = config
        self.rng = rng
        self.nodes = {spec[0]: Node(*spec) for spec in NODE_SPECS}
        self.workers = {}
        self.config_objects = {}
        self.agents = {}
        self.orphaned = set()
        store.on_removed.append(self._removed)

    def config_object(self, kind, namespace, name):
        """Data of a Secret (``kind="secret"``) or ConfigMap (``"configMap"``), or None."""
        return self.config_objects.get((kind, namespace, name))

    def start(self, pod):
        self.workers[pod["metadata"]["uid"]] = PodWorker(self, pod)

    def worker(self, uid):
        return self.workers.get(uid)

    def delete(self, pod, grace):
        """The API server accepted a delete: ``grace`` 0 means already removed."""
        w = self.workers.get(pod["metadata"]["uid"])
        if w is None:
            return
        if grace == 0:
            w.kill()
        else:
            asyncio.ensure_future(w.terminate(grace))

    def finish_deletion(self, worker):
        rec = self.store.get("pods", worker.ns, worker.name)
        if rec and rec.obj["metadata"]["uid"] == worker.uid:
            self.store.remove("pods", worker.ns, worker.name)

    def evict(self, pod, message):
        """Node-pressure eviction by the kubelet."""
        w = self.workers.get(pod["metadata"]["uid"])
        if w is None or not w.node:
            return False
        w.event("Warning", "Evicted", message)
        w.fail("Evicted", message, "TerminationByKubelet")
        return True

    def mark_disruption(self, pod, reason, message):
        w = self.workers.get(pod["metadata"]["uid"])
        if w:
            w.set_condition("DisruptionTarget", "True", reason, message)
            w.publish()

    def pick_node(self, pod):
        """A node for ``pod`` or ``(None, FailedScheduling message)``."""
        for vol in pod["spec"].get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and not self.store.get("persistentvolumeclaims", pod["metadata"]["namespace"], claim):
                return None, ('0/%d nodes are available: persistentvolumeclaim "%s" not found. preemption: 0/%d '
                              "nodes are available: %d Preemption is not helpful for scheduling."
                              % (len(self.nodes), claim, len(self.nodes), len(self.nodes)))
        want = pod["spec"].get("nodeSelector") or {}
        requests = pod_requests(pod)
        fits, reasons, selector_miss = [], {}, 0
        for node in self.nodes.values():
            if any(node.labels.get(k) != v for k, v in want.items()):
                reasons["node(s) didn't match Pod's node affinity/selector"] = \
                    reasons.get("node(s) didn't match Pod's node affinity/selector", 0) + 1
                selector_miss += 1
                continue
            short = [r for r, cap in (("cpu", node.cpu), ("memory", node.memory)) if requests[r] > cap]
            for r in short:
                reasons["Insufficient " + r] = reasons.get("Insufficient " + r, 0) + 1
            if not short:
                fits.append(node)
        if fits:
            return self.rng.choice(fits), None
        n = len(self.nodes)
        text = ", ".join("%d %s" % (count, why) for why, count in sorted(reasons.items()))
        if selector_miss == n:
            tail = "%d Preemption is not helpful for scheduling." % n
        else:
            tail = "%d No preemption victims found for incoming pod." % n
        return None, "0/%d nodes are available: %s. preemption: 0/%d nodes are available: %s" % (n, text, n, tail)

    def bind_claim(self, pvc):
        meta = pvc["metadata"]

        async def bind():
            await asyncio.sleep(self.config.delay)

            def bound(obj):
                obj["spec"]["volumeName"] = "pvc-" + meta["uid"]
                obj["status"] = {"phase": "Bound", "accessModes": obj["spec"].get("accessModes", []),
                                 "capacity": {"storage": obj["spec"]["resources"]["requests"]["storage"]}}
            self.store.mutate("persistentvolumeclaims", meta["namespace"], meta["name"], bound, meta["uid"])
        asyncio.ensure_future(bind())

    def _removed(self, kind, obj):
        """Garbage collection and pvc-protection after a pod or claim is gone."""
        if kind not in ("pods", "persistentvolumeclaims"):
            return
        meta = obj["metadata"]
        ns = meta["namespace"]
        if kind == "pods":
            w = self.workers.pop(meta["uid"], None)
            if w:
                w.kill()
            self._release_claims(ns)
        if meta["uid"] in self.orphaned:
            self.orphaned.discard(meta["uid"])
            return
        for dep_kind in ("pods", "persistentvolumeclaims"):
            for rec in self.store.list(dep_kind, ns):
                refs = rec.obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == meta["uid"] for r in refs):
                    self.store.remove(dep_kind, ns, rec.obj["metadata"]["name"])

    def _release_claims(self, ns):
        """Remove claims marked for deletion that no pod uses any more."""
        used = {(v.get("persistentVolumeClaim") or {}).get("claimName")
                for rec in self.store.list("pods", ns) for v in rec.obj["spec"].get("volumes") or []}
        for rec in self.store.list("persistentvolumeclaims", ns):
            meta = rec.obj["metadata"]
            if meta.get("deletionTimestamp") and meta["name"] not in used:
                self.store.remove("persistentvolumeclaims", ns, meta["name"])


