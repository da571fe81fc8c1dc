"""The simulated controller: users, nodes and computers, jobs and runs, the queue.

Behaviour follows reference jenkins-rest.md; section numbers below refer to it.

* Users carry API tokens, a password and a set of permission ids (§1.4); a
  permission is also held through the permissions that imply it.
* Nodes are inbound (JNLP) agents; a node with executors has a computer whose
  channel is the agent connection (``offline = temporarilyOffline or no
  channel``).  The built-in node always has a computer (its one-off executors
  run pipeline runs, which are flyweight tasks).
* The queue keeps waiting (quiet period), blocked, buildable and left items.
  ``why`` is computed when asked, with the core texts of §2.4 in English (and
  German, to show why a client must send ``Accept-Language: en``).  A
  buildable item goes to an idle executor of an online, accepting computer
  whose node can take it (label expression over the node's atoms plus its
  self-label, EXCLUSIVE mode refusing unlabelled tasks).
* Free-style builds run on the agent's executor; a pipeline run runs on the
  built-in one-off executor and queues one ``node(label)`` block
  (``PlaceholderTask``) whose executable occupies the agent's executor.  After
  the block starts, its task label becomes the node name (§2.3).
* A restart (§10) keeps nodes (with their temporarily-offline cause, §6.5)
  and the queue, drops every channel, aborts running free-style builds and
  re-queues running pipeline blocks for their node by name, for at most
  ``resume_timeout`` seconds.

Everything runs on one asyncio loop; nothing here blocks.
"""

import asyncio
import hashlib
import hmac
import secrets
import time
import urllib.parse

from jenkins_export import Obj, Prop
from jenkins_labels import LabelSyntaxError, check_good_name, escape, node_labels, parse

VERSION = "2.541.2"

# ---- permissions (§1.4) -----------------------------------------------------

READ = "hudson.model.Hudson.Read"
ADMINISTER = "hudson.model.Hudson.Administer"
ITEM_READ = "hudson.model.Item.Read"
ITEM_CANCEL = "hudson.model.Item.Cancel"
COMPUTER_CREATE = "hudson.model.Computer.Create"
COMPUTER_CONNECT = "hudson.model.Computer.Connect"
COMPUTER_DISCONNECT = "hudson.model.Computer.Disconnect"
COMPUTER_DELETE = "hudson.model.Computer.Delete"
COMPUTER_CONFIGURE = "hudson.model.Computer.Configure"
COMPUTER_EXTENDED_READ = "hudson.model.Computer.ExtendedRead"
COMPUTER_BUILD = "hudson.model.Computer.Build"

FULL = "hudson.security.Permission.FullControl"
_GENERIC = "hudson.security.Permission."
# permission -> the permission that implies it (Permission.impliedBy chains)
IMPLIED_BY = {
    READ: _GENERIC + "GenericRead", ITEM_READ: _GENERIC + "GenericRead",
    _GENERIC + "GenericRead": ADMINISTER,
    ITEM_CANCEL: _GENERIC + "GenericUpdate", _GENERIC + "GenericUpdate": _GENERIC + "GenericWrite",
    COMPUTER_CREATE: _GENERIC + "GenericCreate", _GENERIC + "GenericCreate": _GENERIC + "GenericWrite",
    COMPUTER_DELETE: _GENERIC + "GenericDelete", _GENERIC + "GenericDelete": _GENERIC + "GenericWrite",
    COMPUTER_CONFIGURE: _GENERIC + "GenericConfigure", _GENERIC + "GenericConfigure": _GENERIC + "GenericWrite",
    _GENERIC + "GenericWrite": ADMINISTER,
    COMPUTER_EXTENDED_READ: COMPUTER_CONFIGURE,
    COMPUTER_CONNECT: COMPUTER_DISCONNECT, COMPUTER_DISCONNECT: ADMINISTER,
    COMPUTER_BUILD: ADMINISTER, ADMINISTER: FULL,
}
KNOWN_PERMISSIONS = sorted(set(IMPLIED_BY) | {FULL})


def implied_chain(perm):
    out, p = [], IMPLIED_BY.get(perm)
    while p:
        out.append(p)
        p = IMPLIED_BY.get(p)
    return out


class User:
    def __init__(self, name, permissions, password, tokens):
        self.name = name
        self.permissions = set(permissions)
        self.password = password
        self.tokens = list(tokens)

    def has(self, perm):
        return perm in self.permissions or any(p in self.permissions for p in implied_chain(perm))


ANONYMOUS = User("anonymous", (), None, ())

# ---- messages (§2.4) ----------------------------------------------------------

Q_OPEN, Q_CLOSE = "\u2018", "\u2019"
MESSAGES = {
    "en": {
        "LabelHasNoNodes": "There are no nodes with the label \u2018{0}\u2019",
        "AllNodesOffline": "All nodes of label \u2018{0}\u2019 are offline",
        "NodeOffline": "\u2018{0}\u2019 is offline",
        "WaitingForNextAvailableExecutor": "Waiting for next available executor",
        "WaitingForNextAvailableExecutorOn": "Waiting for next available executor on \u2018{0}\u2019",
        "HudsonIsAboutToShutDown": "Jenkins is about to shut down",
        "InQuietPeriod": "In the quiet period. Expires in {0}",
        "FinishedWaiting": "Finished waiting",
        "BuildInProgress": "Build #{0} is already in progress{1}",
        "ETA": " (ETA: {0})",
        "NodeReserved": "\u2018{0}\u2019 is reserved for jobs with matching label expression",
        "LabelMissing": "\u2018{0}\u2019 doesn\u2019t have label \u2018{1}\u2019",
        "NotAcceptingTasks": "\u2018{0}\u2019 is not accepting tasks",
    },
    # German is here only so tests can show that a client without
    # Accept-Language: en gets texts it cannot parse.
    "de": {
        "LabelHasNoNodes": "Es gibt keine Knoten mit dem Label \u201e{0}\u201c",
        "AllNodesOffline": "Alle Knoten des Labels \u201e{0}\u201c sind offline",
        "NodeOffline": "\u201e{0}\u201c ist offline",
        "WaitingForNextAvailableExecutor": "Warte auf den n\u00e4chsten freien Build-Prozessor",
        "WaitingForNextAvailableExecutorOn": "Warte auf den n\u00e4chsten freien Build-Prozessor auf \u201e{0}\u201c",
        "HudsonIsAboutToShutDown": "Jenkins wird heruntergefahren",
        "InQuietPeriod": "In Ruhe-Periode. Endet in {0}",
        "BuildInProgress": "Build #{0} ist bereits in Arbeit{1}",
        "ETA": " (ETA:{0})",
    },
}


def msg(locale, key, *args):
    text = MESSAGES.get(locale, MESSAGES["en"]).get(key) or MESSAGES["en"][key]
    for i, a in enumerate(args):
        text = text.replace("{%d}" % i, str(a))
    return text


def time_span(ms):
    """``Util.getTimeSpanString`` (English units)."""
    ms = max(0, int(ms))
    hours, rest = divmod(ms, 3600000)
    minutes, rest = divmod(rest, 60000)
    seconds, millis = divmod(rest, 1000)
    if hours:
        return "%d hr" % hours + (" %d min" % minutes if hours < 10 else "")
    if minutes:
        return "%d min" % minutes + (" %d sec" % seconds if minutes < 10 else "")
    if seconds >= 10:
        return "%d sec" % seconds
    if seconds >= 1:
        return "%s sec" % _num(seconds + (millis // 100) / 10)
    if millis >= 100:
        return "%s sec" % _num((millis // 10) / 100)
    return "%d ms" % millis


def _num(x):
    return ("%.2f" % x).rstrip("0").rstrip(".")


def now_ms():
    return int(time.time() * 1000)


# ---- nodes and computers (§4, §6) ---------------------------------------------

BUILT_IN = "(built-in)"
JNLP_LAUNCHER = "hudson.slaves.JNLPLauncher"
RETENTIONS = ("hudson.slaves.RetentionStrategy$Always", "hudson.slaves.RetentionStrategy$Demand")
PLACEHOLDER = "org.jenkinsci.plugins.workflow.support.steps.ExecutorStepExecution$PlaceholderTask"


class OfflineCause:
    """``OfflineCause$UserCause`` (temporarily offline) or ``$ChannelTermination``."""

    def __init__(self, cls, description, reason):
        self.cls = cls
        self.description = description
        self.reason = reason
        self.timestamp = now_ms()

    @classmethod
    def user(cls, user, message):
        text = "Disconnected by %s" % user + (" : %s" % message if message else "")
        return cls("hudson.slaves.OfflineCause$UserCause", text, message or "")

    @classmethod
    def channel(cls):
        text = "Connection was broken: java.nio.channels.ClosedChannelException"
        return cls("hudson.slaves.OfflineCause$ChannelTermination", text, text)

    def bean(self):
        return Obj(self.cls, [Prop("description", self.description), Prop("timestamp", self.timestamp)])


class Executor:
    def __init__(self, computer, number, one_off=False):
        self.computer = computer
        self.number = number
        self.one_off = one_off
        self.work = None   # a Run (free-style / pipeline flyweight) or a Block

    def idle(self):
        return self.work is None

    def bean(self, can_read):
        work = self.work
        current = None
        if work is not None and can_read(work.job):
            current = work.executable_bean()
        return Obj("hudson.model.Executor" if not self.one_off else "hudson.model.OneOffExecutor", [
            Prop("currentExecutable", current, poly=True), Prop("idle", work is None),
            Prop("likelyStuck", False), Prop("number", self.number),
            Prop("progress", work.progress() if work is not None else -1)])


class Node:
    def __init__(self, name, description="", num_executors=1, remote_fs="", label_string="", mode="NORMAL",
                 launcher=None, retention="hudson.slaves.RetentionStrategy$Always"):
        self.name = name
        self.description = description
        self.num_executors = num_executors
        self.remote_fs = remote_fs
        self.label_string = label_string
        self.mode = mode
        self.launcher = launcher or {"class": JNLP_LAUNCHER}
        self.retention = retention
        self.temp_offline = None   # OfflineCause while temporarily offline (persisted, 2.482+)

    def atoms(self):
        return set(node_labels(self.label_string)) | ({self.name} if self.name else set())

    def inbound(self):
        return self.launcher.get("class") == JNLP_LAUNCHER


class Computer:
    def __init__(self, ctl, node, built_in=False):
        self.ctl = ctl
        self.node = node
        self.built_in = built_in
        self.executors = [Executor(self, i) for i in range(node.num_executors)]
        self.one_off = []
        self.channel = None     # an object with close(), set while an agent is connected
        self.channel_cause = None
        self.connected_at = None

    @property
    def name(self):
        return self.node.name

    def display_name(self):
        return "Built-In Node" if self.built_in else self.node.name

    def offline(self):
        if self.built_in:
            return self.node.temp_offline is not None
        return self.node.temp_offline is not None or self.channel is None

    def online(self):
        return not self.offline()

    def idle(self):
        return not self.one_off and all(e.idle() for e in self.executors)

    def offline_cause(self):
        return self.node.temp_offline or (self.channel_cause if self.channel is None else None)

    def url_name(self):
        return BUILT_IN if self.built_in else self.node.name

    def bean(self, can_read):
        cause = self.offline_cause()
        labels = sorted(self.ctl.node_atoms(self.node))
        props = [
            Prop("actions", []),
            Prop("assignedLabels", lambda: [self.ctl.label_bean(a) for a in labels]),
            Prop("description", self.node.description),
            Prop("displayName", self.display_name()),
            Prop("executors", lambda: [e.bean(can_read) for e in self.executors]),
            Prop("icon", "symbol-computer" + ("-offline" if self.offline() else "")),
            Prop("iconClassName", "symbol-computer" + ("-offline" if self.offline() else "")),
            Prop("idle", self.idle()),
            Prop("jnlpAgent", not self.built_in and self.node.inbound()),
            Prop("launchSupported", self.built_in or not self.node.inbound()),
            Prop("loadStatistics", Obj("hudson.model.Label$1", []), poly=True),
            Prop("manualLaunchAllowed", True),
            Prop("monitorData", lambda: self.monitor_data()),
            Prop("numExecutors", self.node.num_executors),
            Prop("offline", self.offline()),
            Prop("offlineCause", cause.bean() if cause else None, poly=True),
            Prop("offlineCauseReason", offline_cause_reason(cause)),
            Prop("oneOffExecutors", lambda: [e.bean(can_read) for e in self.one_off]),
            Prop("temporarilyOffline", self.node.temp_offline is not None),
        ]
        if not self.built_in:
            props.append(Prop("absoluteRemotePath", self.node.remote_fs if self.channel else None))
        return Obj("hudson.model.Hudson$MasterComputer" if self.built_in else "hudson.slaves.SlaveComputer", props)

    def monitor_data(self):
        if self.offline():
            return {"hudson.node_monitors.ArchitectureMonitor": None,
                    "hudson.node_monitors.ResponseTimeMonitor": None}
        return {"hudson.node_monitors.ArchitectureMonitor": "Linux (amd64)",
                "hudson.node_monitors.ResponseTimeMonitor": {"_class": "hudson.node_monitors.ResponseTimeMonitor$Data",
                                                             "timestamp": now_ms(), "average": 12}}


def offline_cause_reason(cause):
    """``Computer.getOfflineCauseReason``: the user's message without "Disconnected by X : "."""
    if cause is None:
        return ""
    return cause.reason


# ---- jobs, runs and node blocks (§6.3, §7) ----------------------------------------

FREESTYLE, PIPELINE = "freestyle", "pipeline"
RESULTS = ("SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED")


def job_url_path(full_name):
    return "".join("job/%s/" % urllib.parse.quote(seg, safe="") for seg in full_name.split("/"))


class Job:
    def __init__(self, ctl, full_name, kind):
        self.ctl = ctl
        self.full_name = full_name
        self.name = full_name.rsplit("/", 1)[-1]
        self.kind = kind
        self.label = None           # free-style: the assigned label expression (text as configured)
        self.concurrent = kind == PIPELINE
        self.next_number = 1
        self.runs = {}

    def cls(self):
        return "hudson.model.FreeStyleProject" if self.kind == FREESTYLE else \
            "org.jenkinsci.plugins.workflow.job.WorkflowJob"

    def url(self):
        return self.ctl.root_url() + job_url_path(self.full_name)

    def display(self):
        return " \u00bb ".join(self.full_name.split("/"))

    def running(self):
        return [r for r in self.runs.values() if r.building]

    def bean(self, ctl):
        runs = sorted(self.runs.values(), key=lambda r: -r.number)
        brief = lambda r: Obj(r.cls(), [Prop("number", r.number, 999), Prop("url", r.url(), 999)])
        color = "notbuilt"
        done = [r for r in runs if not r.building]
        if done:
            color = {"SUCCESS": "blue", "UNSTABLE": "yellow", "FAILURE": "red",
                     "ABORTED": "aborted", "NOT_BUILT": "notbuilt"}[done[0].result]
        if any(r.building for r in runs):
            color += "_anime"
        props = [
            Prop("actions", []), Prop("buildable", True),
            Prop("builds", lambda: [brief(r) for r in runs], poly=True),
            Prop("color", color, 2), Prop("concurrentBuild", self.concurrent),
            Prop("description", None), Prop("displayName", self.name),
            Prop("fullDisplayName", self.display()), Prop("fullName", self.full_name),
            Prop("inQueue", any(i.task_job() is self for i in ctl.queue_items())),
            Prop("lastBuild", brief(runs[0]) if runs else None, poly=True),
            Prop("name", self.name, 999), Prop("nextBuildNumber", self.next_number),
            Prop("url", self.url(), 999),
        ]
        if self.kind == FREESTYLE:
            props.append(Prop("labelExpression", self.label))
        return Obj(self.cls(), props)


class Run:
    """A build.  Free-style: it is the executable on an agent executor.  Pipeline:
    it runs on a one-off executor of the built-in node and owns a Block."""

    def __init__(self, job, number, spec, queue_id):
        self.job = job
        self.number = number
        self.spec = spec
        self.queue_id = queue_id
        self.building = True
        self.result = None
        self.started = now_ms()
        self.finished = None
        self.built_on = None
        self.block = None
        self.executor = None
        self.timer = None

    def cls(self):
        return "hudson.model.FreeStyleBuild" if self.job.kind == FREESTYLE else \
            "org.jenkinsci.plugins.workflow.job.WorkflowRun"

    def url(self):
        return self.job.url() + "%d/" % self.number

    def rel_url(self):
        return job_url_path(self.job.full_name) + "%d/" % self.number

    def display(self):
        return "%s #%d" % (self.job.display(), self.number)

    def progress(self):
        if self.spec["durationMs"] <= 0:
            return 99
        return min(99, int((now_ms() - self.started) * 100 / self.spec["durationMs"]))

    def executable_bean(self):
        return Obj(self.cls(), [Prop("number", self.number, 2), Prop("url", self.url(), 2),
                                Prop("displayName", "#%d" % self.number), Prop("fullDisplayName", self.display()),
                                Prop("building", self.building), Prop("result", self.result),
                                Prop("timestamp", self.started)])

    def bean(self):
        duration = (self.finished - self.started) if self.finished else 0
        props = [
            Prop("actions", []), Prop("building", self.building), Prop("description", None),
            Prop("displayName", "#%d" % self.number), Prop("duration", duration),
            Prop("estimatedDuration", self.spec["durationMs"]), Prop("fullDisplayName", self.display()),
            Prop("id", str(self.number)), Prop("keepLog", False), Prop("number", self.number),
            Prop("queueId", self.queue_id), Prop("result", self.result), Prop("timestamp", self.started),
            Prop("url", self.url()),
        ]
        if self.job.kind == FREESTYLE:
            props.append(Prop("builtOn", self.built_on or ""))
        else:
            props.append(Prop("inProgress", self.building))
        return Obj(self.cls(), props)


class Block:
    """A pipeline ``node(label) { ... }`` block: the executable on an agent executor."""

    def __init__(self, run, label_text):
        self.run = run
        self.job = run.job
        self.label_text = label_text
        self.remaining = run.spec["durationMs"]   # ms still to run
        self.node_name = None
        self.executor = None
        self.started = None
        self.timer = None

    def progress(self):
        return self.run.progress()

    def executable_bean(self):
        r = self.run
        return Obj(PLACEHOLDER + "$PlaceholderExecutable", [
            Prop("number", r.number), Prop("url", r.url()), Prop("displayName", "#%d" % r.number),
            Prop("fullDisplayName", r.display()), Prop("estimatedDuration", r.spec["durationMs"]),
            Prop("timestamp", r.started)])


# ---- queue items (§2) ----------------------------------------------------------

WAITING, BLOCKED, BUILDABLE, LEFT = "waiting", "blocked", "buildable", "left"
ITEM_CLASS = {WAITING: "hudson.model.Queue$WaitingItem", BLOCKED: "hudson.model.Queue$BlockedItem",
              BUILDABLE: "hudson.model.Queue$BuildableItem", LEFT: "hudson.model.Queue$LeftItem"}


class Item:
    """A queue item.  ``task`` is a Job (free-style, or the pipeline's flyweight
    WorkflowJob task) or a Block (a pipeline node block)."""

    def __init__(self, item_id, task, label, spec, quiet_ms):
        self.id = item_id
        self.task = task
        self.label = label              # parsed Label or None
        self.spec = spec
        self.params = spec.get("params") or {}
        self.since = now_ms()
        self.timestamp = self.since + quiet_ms
        self.state = WAITING if quiet_ms > 0 else BUILDABLE
        self.buildable_since = None if quiet_ms > 0 else self.since
        self.cancelled = False
        self.executable = None
        self.left_at = None
        self.resume_deadline = None     # a re-queued block after a restart: give up then

    def task_job(self):
        return self.task.job if isinstance(self.task, Block) else self.task

    def task_bean(self):
        t = self.task
        if isinstance(t, Block):
            name = "part of %s" % t.run.display()
            return Obj(PLACEHOLDER, [Prop("url", t.run.rel_url()), Prop("name", name),
                                     Prop("fullDisplayName", name)])
        props = [Prop("name", t.name, 999), Prop("url", t.url(), 999), Prop("color", "notbuilt", 2),
                 Prop("fullName", t.full_name), Prop("fullDisplayName", t.display())]
        if t.kind == FREESTYLE:
            props.append(Prop("labelExpression", t.label))
        return Obj(t.cls(), props)

    def params_text(self):
        return "".join("\n%s=%s" % kv for kv in sorted(self.params.items()))


# ---- the controller ----------------------------------------------------------------

class Settings:
    """Knobs (seconds).  ``maintain`` is the periodic queue maintenance."""

    def __init__(self):
        self.maintain = 0.5
        self.resume_timeout = 300.0       # ExecutorPickle.timeoutForNodeMillis
        self.node_removed_timeout = 300.0
        self.left_item_ttl = 300.0
        self.restart_down = 0.3
        self.restart_loading = 0.3


class Controller:
    def __init__(self, secret_key, users, default_locale="en"):
        self.key = secret_key
        self.users = {u.name: u for u in users}
        self.default_locale = default_locale
        self.settings = Settings()
        self.url = "http://127.0.0.1/"
        self.agent_port = -1
        self.quieting_down = False
        self.session_hash = secrets.token_hex(4)
        self.nodes = {}            # name -> Node (agents only)
        self.built_in = Node("", "the Jenkins controller's built-in node", 0, "", "", "NORMAL")
        self.computers = {}        # name -> Computer ("" = built-in)
        self.computers[""] = Computer(self, self.built_in, built_in=True)
        self.jobs = {}             # full name -> Job
        self.items = []            # live items (waiting, blocked, buildable)
        self.left = {}             # id -> left item (kept left_item_ttl)
        self.next_id = 1
        self.listeners = []        # callables(event, **kw) for the admin view
        self._maintain_pending = False
        self._periodic = None
        self.counters = {"created": 0, "deleted": 0}

    # --- plumbing ----------------------------------------------------------
    def start(self):
        self._periodic = asyncio.get_running_loop().call_later(self.settings.maintain, self._tick)

    def _tick(self):
        self.maintain()
        self._periodic = asyncio.get_running_loop().call_later(self.settings.maintain, self._tick)

    def schedule_maintain(self):
        if not self._maintain_pending:
            self._maintain_pending = True
            asyncio.get_running_loop().call_soon(self._run_maintain)

    def _run_maintain(self):
        self._maintain_pending = False
        self.maintain()

    def root_url(self):
        return self.url

    def secret_of(self, name):
        """The inbound secret: HMAC-SHA256 of the node name, 64 hex chars (§5.3)."""
        return hmac.new(self.key, name.encode("utf-8"), hashlib.sha256).hexdigest()

    def can_read(self, user):
        return lambda job: user.has(ITEM_READ)

    # --- labels ----------------------------------------------------------------
    def all_nodes(self):
        """Nodes matching labels: the built-in node and every agent."""
        return [self.built_in] + [self.nodes[n] for n in sorted(self.nodes)]

    def node_atoms(self, node):
        return node.atoms() | {"built-in"} if node is self.built_in else node.atoms()

    def label_nodes(self, label):
        return [n for n in self.all_nodes() if label.matches(self.node_atoms(n))]

    def computer_of(self, node):
        return self.computers.get("" if node is self.built_in else node.name)

    def label_offline(self, label):
        for n in self.label_nodes(label):
            c = self.computer_of(n)
            if c is not None and not c.offline():
                return False
        return True

    def label_idle_executors(self, label):
        count = 0
        for n in self.label_nodes(label):
            c = self.computer_of(n)
            if c is not None and c.online():
                count += sum(1 for e in c.executors if e.idle())
        return count

    def label_bean(self, text):
        try:
            label = parse(text)
        except LabelSyntaxError:
            label = parse('"%s"' % text.replace("\\", "\\\\").replace('"', '\\"'))
        nodes = self.label_nodes(label)
        comps = [c for c in (self.computer_of(n) for n in nodes) if c is not None]
        online = [c for c in comps if c.online()]
        if len(nodes) == 1:
            description = nodes[0].description
        elif nodes:
            description = "group of " + ",".join(n.name or "built-in" for n in nodes)
        else:
            description = "invalid label"
        return Obj("hudson.model.labels.LabelAtom" if label.kind == 0 else "hudson.model.labels.LabelExpression", [
            Prop("name", label.display(), 2), Prop("actions", []),
            Prop("busyExecutors", sum(1 for c in online for e in c.executors if not e.idle())),
            Prop("clouds", []), Prop("description", description),
            Prop("idleExecutors", sum(1 for c in online for e in c.executors if e.idle())),
            Prop("nodes", [Obj("hudson.model.Hudson" if n is self.built_in else "hudson.slaves.DumbSlave",
                               [Prop("nodeName", n.name)]) for n in nodes], poly=True),
            Prop("offline", not online), Prop("tiedJobs", []),
            Prop("totalExecutors", sum(len(c.executors) for c in online)),
        ])

    # --- nodes ------------------------------------------------------------------
    def add_node(self, node):
        self.nodes[node.name] = node
        self.counters["created"] += 1
        if node.num_executors > 0:
            self.computers[node.name] = Computer(self, node)
        self.emit("node-created", node=node.name)
        self.schedule_maintain()

    def remove_node(self, name):
        node = self.nodes.pop(name)
        self.counters["deleted"] += 1
        comp = self.computers.pop(name, None)
        if comp is not None:
            if comp.channel is not None:
                comp.channel.close("Node is being removed")
                comp.channel = None
            for e in comp.executors:
                self._executor_lost(e, removed=True)
        self.emit("node-deleted", node=name)
        self.schedule_maintain()
        return node

    def connect(self, name, channel):
        comp = self.computers[name]
        comp.channel = channel
        comp.channel_cause = None
        comp.connected_at = now_ms()
        self.emit("agent-connected", node=name)
        self.resume_block_if_waiting(comp)
        self.schedule_maintain()

    def disconnect(self, name, channel):
        comp = self.computers.get(name)
        if comp is None or comp.channel is not channel:
            return
        comp.channel = None
        comp.channel_cause = OfflineCause.channel()
        for e in comp.executors:
            self._executor_lost(e, removed=False)
        self.emit("agent-disconnected", node=name)
        self.schedule_maintain()

    def _executor_lost(self, e, removed):
        """The agent under a busy executor went away."""
        w = e.work
        if w is None:
            return
        if isinstance(w, Run):      # a free-style build fails when its channel closes
            self._cancel_timer(w)
            e.work = None
            self._finish_run(w, "FAILURE" if not removed else "ABORTED")
        elif removed:               # pipeline block: interrupted after the node-removed timer
            self._cancel_timer(w)
            loop = asyncio.get_running_loop()
            w.timer = loop.call_later(self.settings.node_removed_timeout, self._block_abandoned, w)

    def set_built_in_executors(self, n):
        comp = self.computers[""]
        self.built_in.num_executors = n
        while len(comp.executors) < n:
            comp.executors.append(Executor(comp, len(comp.executors)))
        while len(comp.executors) > n and comp.executors[-1].idle():
            comp.executors.pop()
        self.schedule_maintain()

    def set_temp_offline(self, node, cause):
        node.temp_offline = cause
        self.emit("temporarily-offline" if cause else "back-online", node=node.name)
        self.schedule_maintain()

    # --- jobs and scheduling --------------------------------------------------------
    def job(self, full_name, kind):
        job = self.jobs.get(full_name)
        if job is None:
            job = self.jobs[full_name] = Job(self, full_name, kind)
        elif job.kind != kind:
            raise ValueError("job %s is a %s job" % (full_name, job.kind))
        return job

    def folders(self):
        out = set()
        for name in self.jobs:
            parts = name.split("/")
            for i in range(1, len(parts)):
                out.add("/".join(parts[:i]))
        return out

    def schedule(self, spec):
        """Queue a build (admin API).  Returns the queue item (may be an existing
        one: a job already in the queue with the same parameters is coalesced)."""
        kind = spec.get("kind", PIPELINE)
        if kind not in (FREESTYLE, PIPELINE):
            raise ValueError("kind must be freestyle or pipeline")
        if spec.get("result", "SUCCESS") not in RESULTS:
            raise ValueError("result must be one of %s" % ", ".join(RESULTS))
        label_text = spec.get("label")
        label = parse(label_text) if label_text else None
        spec = dict(spec, kind=kind, result=spec.get("result", "SUCCESS"),
                    durationMs=int(spec.get("durationMs", 100)), afterMs=int(spec.get("afterMs", 20)))
        for seg in str(spec.get("job", "")).split("/"):
            problem = check_good_name(seg)
            if problem:
                raise ValueError("bad job name %r: %s" % (spec.get("job"), problem))
        job = self.job(spec["job"], kind)
        if kind == FREESTYLE:
            job.label = label_text or None
            if "concurrent" in spec:
                job.concurrent = bool(spec["concurrent"])
            for it in self.items:
                if it.task is job and it.params == (spec.get("params") or {}):
                    return it, True
        item = Item(self.next_id, job, label if kind == FREESTYLE else None, spec,
                    int(spec.get("quietPeriodMs", 0)))
        self.next_id += 1
        self.items.append(item)
        if item.state == WAITING:
            asyncio.get_running_loop().call_later((item.timestamp - now_ms()) / 1000.0, self.schedule_maintain)
        self.emit("queued", item=item.id, job=job.full_name)
        self.schedule_maintain()
        return item, False

    def queue_items(self):
        """``Queue.getItems()`` order: waiting, blocked, buildable (newest first)."""
        waiting = [i for i in self.items if i.state == WAITING]
        blocked = [i for i in self.items if i.state == BLOCKED]
        buildable = [i for i in self.items if i.state == BUILDABLE]
        return waiting + blocked + buildable[::-1]

    def item(self, item_id):
        for it in self.items:
            if it.id == item_id:
                return it
        return self.left.get(item_id)

    def cancel(self, item):
        self.items.remove(item)
        item.cancelled = True
        self._leave(item)
        if isinstance(item.task, Block):   # a cancelled node block aborts its run
            run = item.task.run
            self._finish_run(run, "ABORTED")
        self.emit("cancelled", item=item.id)

    def _leave(self, item):
        item.state = LEFT
        item.left_at = now_ms()
        self.left[item.id] = item
        cutoff = item.left_at - self.settings.left_item_ttl * 1000
        for old in [k for k, v in self.left.items() if v.left_at < cutoff]:
            del self.left[old]

    # --- queue maintenance -------------------------------------------------------------
    def maintain(self):
        now = now_ms()
        for it in list(self.items):
            if it.resume_deadline is not None and now >= it.resume_deadline:
                self.cancel(it)
                continue
            if it.state == WAITING and now >= it.timestamp:
                it.state = BUILDABLE
                it.buildable_since = now
            if it.state in (BLOCKED, BUILDABLE) and isinstance(it.task, Job) and it.task.kind == FREESTYLE:
                blocked = not it.task.concurrent and it.task.running()
                it.state = BLOCKED if blocked else BUILDABLE
                if it.buildable_since is None:
                    it.buildable_since = now
        if self.quieting_down:
            return
        for it in sorted((i for i in self.items if i.state == BUILDABLE), key=lambda i: i.buildable_since):
            if isinstance(it.task, Job) and it.task.kind == PIPELINE:
                self._start_pipeline(it)
                continue
            executor = self._offer(it)
            if executor is not None:
                self._start(it, executor)

    def _can_take(self, node, item):
        """``Node.canTake`` + the JobOffer checks; None or the reason text."""
        label = item.label
        if label is not None and not label.matches(self.node_atoms(node)):
            return "LabelMissing", (node.name, label.display())
        if label is None and node.mode == "EXCLUSIVE":
            return "NodeReserved", (node.name,)
        comp = self.computer_of(node)
        if comp is None or comp.offline():
            return "NodeOffline", (comp.display_name() if comp else node.name,)
        return None

    def _offer(self, item):
        for node in self.all_nodes():
            comp = self.computer_of(node)
            if comp is None or self._can_take(node, item) is not None:
                continue
            for e in comp.executors:
                if e.idle():
                    return e
        return None

    def _start(self, item, executor):
        self.items.remove(item)
        node = executor.computer.node
        if isinstance(item.task, Block):
            block = item.task
            block.node_name = node.name
            block.executor = executor
            block.started = now_ms()
            executor.work = block
            item.executable = block.executable_bean()
            block.label_text = node.name       # labelIsSelfLabel: a restart re-queues for this node
            self._arm(block, block.remaining / 1000.0, self._block_done)
            self.emit("block-started", job=block.job.full_name, number=block.run.number, node=node.name)
        else:
            job = item.task
            run = Run(job, job.next_number, item.spec, item.id)
            job.next_number += 1
            job.runs[run.number] = run
            run.built_on = node.name
            run.executor = executor
            executor.work = run
            item.executable = run.executable_bean()
            self._arm(run, run.spec["durationMs"] / 1000.0, self._freestyle_done)
            self.emit("started", job=job.full_name, number=run.number, node=node.name, item=item.id)
        self._leave(item)

    def _start_pipeline(self, item):
        """A pipeline run is a flyweight task: it starts at once on the built-in
        node's one-off executor, then queues its node block."""
        self.items.remove(item)
        job = item.task
        run = Run(job, job.next_number, item.spec, item.id)
        job.next_number += 1
        job.runs[run.number] = run
        comp = self.computers[""]
        run.executor = Executor(comp, len(comp.one_off), one_off=True)
        run.executor.work = run
        comp.one_off.append(run.executor)
        item.executable = run.executable_bean()
        self._leave(item)
        self.emit("started", job=job.full_name, number=run.number, node="", item=item.id)
        label_text = item.spec.get("label")
        run.block = Block(run, label_text)
        block_item = Item(self.next_id, run.block, parse(label_text) if label_text else None, item.spec, 0)
        self.next_id += 1
        self.items.append(block_item)
        self.emit("queued", item=block_item.id, job=job.full_name)
        self.schedule_maintain()

    def _arm(self, work, seconds, fn):
        self._cancel_timer(work)
        work.timer = asyncio.get_running_loop().call_later(max(0.0, seconds), fn, work)

    @staticmethod
    def _cancel_timer(work):
        if work.timer is not None:
            work.timer.cancel()
            work.timer = None

    def _freestyle_done(self, run):
        run.timer = None
        if run.executor is not None:
            run.executor.work = None
        self._finish_run(run, run.spec["result"])

    def _block_done(self, block):
        block.timer = None
        comp = block.executor.computer if block.executor else None
        if comp is not None and comp.channel is None and not comp.built_in:
            # the step cannot finish while the agent is away: wait for it
            block.remaining = 0
            self._arm(block, self.settings.resume_timeout, self._block_abandoned)
            return
        self._end_block(block)
        run = block.run
        self._arm(run, run.spec["afterMs"] / 1000.0, lambda r: self._finish_run(r, r.spec["result"]))

    def _block_abandoned(self, block):
        block.timer = None
        self._end_block(block)
        self._finish_run(block.run, "ABORTED")

    def _end_block(self, block):
        if block.executor is not None:
            block.executor.work = None
            block.executor = None
        self.emit("block-finished", job=block.job.full_name, number=block.run.number, node=block.node_name)
        self.schedule_maintain()

    def resume_block_if_waiting(self, comp):
        """An agent came back while its block waited for it (remaining == 0)."""
        for e in comp.executors:
            w = e.work
            if isinstance(w, Block) and w.remaining == 0 and w.timer is not None:
                self._cancel_timer(w)
                self._block_done(w)

    def _finish_run(self, run, result):
        if not run.building:
            return
        self._cancel_timer(run)
        if run.block is not None:
            b = run.block
            self._cancel_timer(b)
            if b.executor is not None:
                b.executor.work = None
                b.executor = None
            for it in [i for i in self.items if i.task is b]:
                self.items.remove(it)
                it.cancelled = True
                self._leave(it)
        run.building = False
        run.result = result
        run.finished = now_ms()
        if run.executor is not None and run.executor.one_off:
            comp = run.executor.computer
            if run.executor in comp.one_off:
                comp.one_off.remove(run.executor)
        run.executor = None
        self.emit("finished", job=run.job.full_name, number=run.number, result=result)
        self.schedule_maintain()

    # --- why (§2.4) --------------------------------------------------------------------
    def why(self, item, locale):
        if item.state == LEFT:
            return None
        if item.state == WAITING:
            diff = item.timestamp - now_ms()
            return msg(locale, "InQuietPeriod", time_span(diff)) if diff > 0 else msg(locale, "FinishedWaiting")
        if item.state == BLOCKED:
            run = item.task.running()[0]
            eta = "N/A"
            if run.spec["durationMs"] > 0:
                eta = time_span(max(0, run.started + run.spec["durationMs"] - now_ms()))
            return msg(locale, "BuildInProgress", run.number, msg(locale, "ETA", eta))
        if self.quieting_down:
            return msg(locale, "HudsonIsAboutToShutDown")
        label = item.label
        if not self.nodes:                      # no agents at all: the label is not mentioned
            label = None
        if label is not None:
            nodes = self.label_nodes(label)
            if self.label_offline(label):
                if len(nodes) != 1:
                    return msg(locale, "LabelHasNoNodes" if not nodes else "AllNodesOffline", label.display())
                return msg(locale, "NodeOffline", self.computer_of(nodes[0]).display_name()
                           if self.computer_of(nodes[0]) else nodes[0].name)
            causes = self._refusals(item, locale)
            if causes and self.label_idle_executors(label) > 0:
                return self._composite(causes)
            if len(nodes) != 1:
                return msg(locale, "WaitingForNextAvailableExecutorOn", label.display())
            comp = self.computer_of(nodes[0])
            return msg(locale, "WaitingForNextAvailableExecutorOn", comp.display_name() if comp else nodes[0].name)
        causes = self._refusals(item, locale)
        idle = sum(1 for c in self.computers.values() if c.online() for e in c.executors if e.idle())
        if causes and idle > 0:
            return self._composite(causes)
        return msg(locale, "WaitingForNextAvailableExecutor")

    def _refusals(self, item, locale):
        """The JobOffer refusals of the last maintenance: one per idle executor."""
        out = []
        for node in self.all_nodes():
            comp = self.computer_of(node)
            if comp is None:
                continue
            idle = [e for e in comp.executors if e.idle()]
            if not idle:
                continue
            why = self._can_take(node, item)
            if why is not None:
                out.append(msg(locale, why[0], *why[1]))
        return out

    @staticmethod
    def _composite(causes):
        unique = sorted(set(causes))
        if len(unique) > 5:
            return "; ".join(unique[:5]) + "; ... and %d more" % (len(unique) - 5)
        return "; ".join(unique)

    def stuck(self, item):
        if item.state != BUILDABLE:
            return False
        if item.label is not None and self.label_offline(item.label):
            return True
        elapsed = now_ms() - (item.buildable_since or item.since)
        d = item.spec.get("durationMs", -1)
        return elapsed > max(d, 60000) * 10 if d >= 0 else elapsed > 24 * 3600 * 1000

    # --- restart (§10) ----------------------------------------------------------------
    def restart_state(self):
        """What a controller restart keeps and loses.  Channels are closed by the caller."""
        self.session_hash = secrets.token_hex(4)
        self.quieting_down = False
        for comp in self.computers.values():
            comp.channel = None
            comp.channel_cause = None
            for e in comp.executors:
                w = e.work
                e.work = None
                if isinstance(w, Run):          # running free-style builds are lost
                    self._finish_run(w, "ABORTED")
                elif isinstance(w, Block):      # pipeline blocks wait for their node, by name
                    self._cancel_timer(w)
                    if w.started is not None:
                        w.remaining = max(0, w.remaining - (now_ms() - w.started))
                    w.executor = None
                    item = Item(self.next_id, w, parse(_quote_if_needed(w.node_name)), w.run.spec, 0)
                    self.next_id += 1
                    item.resume_deadline = now_ms() + int(self.settings.resume_timeout * 1000)
                    self.items.append(item)
                    self.emit("block-requeued", job=w.job.full_name, number=w.run.number, node=w.node_name)
        self.schedule_maintain()

    # --- events -------------------------------------------------------------------------
    def emit(self, event, **kw):
        for fn in self.listeners:
            fn(event, kw)

    def build_stats(self):
        queued = len(self.items)
        running = finished = 0
        results = {}
        for job in self.jobs.values():
            for r in job.runs.values():
                if r.building:
                    running += 1
                else:
                    finished += 1
                    results[r.result] = results.get(r.result, 0) + 1
        return {"queued": queued, "running": running, "finished": finished, "results": results}


def _quote_if_needed(name):
    return escape(name)
