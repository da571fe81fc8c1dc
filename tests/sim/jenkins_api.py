"""The Jenkins HTTP interface: authentication, crumbs, routing and handlers.

Reference jenkins-rest.md, by section:

* §1 — basic auth with user + API token (no crumb needed) or password (POSTs
  need a crumb bound to the session cookie ``JSESSIONID.<8 hex>``); 401 with
  ``WWW-Authenticate: Basic realm="Jenkins"`` for wrong credentials; 403 with
  ``X-You-Are-Authenticated-As``, ``X-Required-Permission`` and one
  ``X-Permission-Implied-By`` per implying permission; anonymous gets 403 too.
* §2 — ``/queue/api/json``, ``/queue/item/ID/api/json`` (left items for
  ``left_item_ttl``), ``/queue/item/ID/``, ``POST /queue/cancelItem``.
* §2.7 — ``tree=``/``depth=``/``pretty=``; ``X-Jenkins`` and
  ``X-Jenkins-Session`` on every ``api/json`` answer and on the root page.
* §3 — ``/label/EXPR/api/json``.
* §4 — ``POST /computer/doCreateItem`` (302; 400 + ``X-Error``; 403; 500 for
  an unknown type or launcher class).
* §5 — ``/computer/NAME/jenkins-agent.jnlp`` and ``slave-agent.jnlp``.
* §6 — ``/computer/api/json``, ``/computer/NAME/api/json``, ``config.xml``,
  ``doDelete``, ``toggleOffline``, ``changeOfflineCause``, ``doDisconnect``
  (POST only: 405 on GET).
* jobs, folders and runs: ``/job/A/job/B/[N/]api/json``.
* the agent endpoints: ``/login``, ``/tcpSlaveAgentListener/``, ``/wsagents/``.

While the controller restarts, every request gets 503 (``HudsonIsLoading``).
"""

import asyncio
import base64
import hashlib
import html
import json
import secrets
import urllib.parse

import jenkins_model as M
from jenkins_export import Obj, Prop, TreeSyntaxError, export, pruner_for
from jenkins_labels import check_good_name
from simhttp import Response

PERMISSION_TITLES = {
    M.READ: "Overall/Read", M.ADMINISTER: "Overall/Administer", M.ITEM_READ: "Job/Read",
    M.ITEM_CANCEL: "Job/Cancel", M.COMPUTER_CREATE: "Agent/Create", M.COMPUTER_CONNECT: "Agent/Connect",
    M.COMPUTER_DISCONNECT: "Agent/Disconnect", M.COMPUTER_DELETE: "Agent/Delete",
    M.COMPUTER_CONFIGURE: "Agent/Configure", M.COMPUTER_EXTENDED_READ: "Agent/ExtendedRead",
}
POST_ONLY = ("doDelete", "toggleOffline", "changeOfflineCause", "doDisconnect")
NODE_TYPES = ("hudson.slaves.DumbSlave", "hudson.slaves.DumbSlave$DescriptorImpl")


class HttpError(Exception):
    def __init__(self, status, text, headers=(), x_error=None):
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = list(headers)
        self.x_error = x_error


class Denied(Exception):
    def __init__(self, user, perm):
        super().__init__(perm)
        self.user = user
        self.perm = perm


def _page(status, title, text, headers=()):
    body = ("<html><head><title>%s</title></head><body><h2>HTTP ERROR %d %s</h2><p>%s</p></body></html>\n"
            % (html.escape(title), status, html.escape(title), html.escape(text))).encode()
    return Response(status, body, headers=tuple(headers), content_type="text/html;charset=utf-8")


class Session:
    def __init__(self, user):
        self.user = user
        self.id = secrets.token_urlsafe(18)


class Api:
    def __init__(self, ctl, agents, stats, faults, prefix="", jnlp_host=None):
        self.ctl = ctl
        self.agents = agents
        self.stats = stats
        self.faults = faults
        self.prefix = prefix.rstrip("/")
        self.jnlp_host = jnlp_host
        self.phase = "up"             # "up" or "loading" (503)
        self.crumb_salt = secrets.token_bytes(16)
        self.new_sessions()
        self.identity = base64.b64encode(hashlib.sha256(ctl.key).digest() * 8).decode()

    def new_sessions(self):
        self.cookie_name = "JSESSIONID." + secrets.token_hex(4)
        self.sessions = {}

    # --- entry point -------------------------------------------------------------------
    def handle(self, req):
        raw_path = req.target.partition("?")[0]
        if self.prefix:
            if raw_path != self.prefix and not raw_path.startswith(self.prefix + "/"):
                self.stats.count(req.method, "(outside the context path)", 404)
                return _page(404, "Not Found", "Not Found")
            raw_path = raw_path[len(self.prefix):] or "/"
        segs = [urllib.parse.unquote(s) for s in raw_path.split("/") if s]
        template, handler, args = self.route(req.method, segs)
        fault = self.faults.take(req)
        if fault is not None and fault.close:
            req.conn.abort()
            self.stats.count(req.method, template, 0)
            return Response(500, b"")
        if fault is not None and fault.latency:
            return self._delayed(req, fault, template, handler, args)
        if fault is not None and fault.status is not None:
            resp = self._fault_answer(fault)
        else:
            resp = self._serve(req, handler, args)
        self.stats.count(req.method, template, resp.status)
        return resp

    async def _delayed(self, req, fault, template, handler, args):
        await asyncio.sleep(fault.latency)
        resp = self._fault_answer(fault) if fault.status is not None else self._serve(req, handler, args)
        self.stats.count(req.method, template, resp.status)
        return resp

    @staticmethod
    def _fault_answer(fault):
        headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
        titles = {500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        status = int(fault.status)
        return _page(status, titles.get(status, "Error"), fault.message or "injected fault", headers)

    def _serve(self, req, handler, args):
        if self.phase == "loading":
            return _page(503, "Service Unavailable", "Jenkins is getting ready to work")
        try:
            user, by_token = self.authenticate(req)
            if req.method == "POST" and not by_token:
                self.check_crumb(req, user)
            return handler(req, user, *args)
        except HttpError as e:
            headers = list(e.headers)
            if e.x_error is not None:
                headers.append(("X-Error", e.x_error))
            return _page(e.status, {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                                    404: "Not Found", 405: "Method Not Allowed", 422: "Unprocessable Entity",
                                    500: "Server Error"}.get(e.status, "Error"), e.text, headers)
        except Denied as d:
            return self._denied(d.user, d.perm)

    # --- authentication and crumbs (§1) -----------------------------------------------
    def authenticate(self, req):
        """(user, authenticated by API token).  Wrong credentials: 401."""
        auth = req.headers.get("authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                name, sep, secret = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise HttpError(401, "Invalid authorization header",
                                [("WWW-Authenticate", 'Basic realm="Jenkins"')]) from None
            user = self.ctl.users.get(name)
            if user is not None and sep:
                if any(secrets.compare_digest(secret, t) for t in user.tokens):
                    return user, True
                if user.password is not None and secrets.compare_digest(secret, user.password):
                    return user, False
            raise HttpError(401, "Invalid password/token for user: %s" % name,
                            [("WWW-Authenticate", 'Basic realm="Jenkins"')])
        session = self._session(req)
        if session is not None:
            return self.ctl.users.get(session.user, M.ANONYMOUS), False
        return M.ANONYMOUS, False

    def _session(self, req):
        for part in req.headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.cookie_name:
                return self.sessions.get(value)
        return None

    def crumb_for(self, user, session):
        return hashlib.sha256(self.crumb_salt + ("%s;%s" % (user.name, session.id)).encode()).hexdigest()

    def check_crumb(self, req, user):
        sent = req.headers.get("jenkins-crumb") or req.arg("Jenkins-Crumb") or self._form(req).get("Jenkins-Crumb")
        session = self._session(req)
        if sent and session is not None and session.user == user.name and \
                secrets.compare_digest(sent, self.crumb_for(user, session)):
            return
        raise HttpError(403, "No valid crumb was included in the request")

    def _denied(self, user, perm):
        headers = [("X-You-Are-Authenticated-As", user.name),
                   ("X-You-Are-In-Group-Disabled", "JENKINS-39402: use -Dhudson.security.AccessDeniedException2."
                                                   "REPORT_GROUP_HEADERS=true or use /whoAmI to diagnose"),
                   ("X-Required-Permission", perm)]
        headers += [("X-Permission-Implied-By", p) for p in M.implied_chain(perm)]
        text = "%s is missing the %s permission" % (user.name, PERMISSION_TITLES.get(perm, perm))
        return _page(403, "Forbidden", "Access Denied: " + text, headers)

    @staticmethod
    def need(user, perm):
        if not user.has(perm):
            raise Denied(user, perm)

    # --- helpers ----------------------------------------------------------------------
    def locale(self, req):
        best, best_q = None, -1.0
        for part in req.headers.get("accept-language", "").split(","):
            tag, _, params = part.strip().partition(";")
            if not tag:
                continue
            q = 1.0
            if params.strip().startswith("q="):
                try:
                    q = float(params.strip()[2:])
                except ValueError:
                    q = 0.0
            if q > best_q:
                best, best_q = tag.split("-")[0].lower(), q
        return best if best in M.MESSAGES else self.ctl.default_locale

    def jenkins_headers(self):
        return (("X-Jenkins", M.VERSION), ("X-Jenkins-Session", self.ctl.session_hash))

    def api(self, req, bean):
        if req.arg("jsonp") is not None:
            raise HttpError(403, "jsonp is not allowed")
        try:
            depth = int(req.arg("depth", "0"))
        except ValueError:
            raise HttpError(500, "java.lang.NumberFormatException: For input string: \"%s\"" % req.arg("depth"))
        try:
            pruner = pruner_for(req.arg("tree"), depth)
        except TreeSyntaxError:
            raise HttpError(500, "Malformed tree expression") from None
        doc = export(bean, pruner)
        pretty = req.arg("pretty") == "true"
        body = json.dumps(doc, ensure_ascii=False, indent=2 if pretty else None,
                          separators=None if pretty else (",", ":")).encode("utf-8")
        return Response(200, body, headers=self.jenkins_headers(), content_type="application/json;charset=utf-8")

    def _form(self, req):
        if req.method != "POST" or not req.body:
            return {}
        ctype = req.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype:
            return {}
        try:
            q = urllib.parse.parse_qs(req.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return {}
        return {k: v[0] for k, v in q.items()}

    def param(self, req, name):
        value = req.arg(name)
        return value if value is not None else self._form(req).get(name)

    def redirect(self, path):
        return Response(302, b"", headers=(("Location", self.ctl.root_url() + path),), content_type=None)

    # --- routing ----------------------------------------------------------------------
    def route(self, method, segs):
        """(stats template, handler, args)."""
        n = len(segs)
        api = lambda i: segs[i:] == ["api", "json"]
        if n == 0:
            return "/", self.h_root_page, ()
        head = segs[0]
        if api(0):
            return "/api/json", self.h_root_api, ()
        if head == "login" and n == 1:
            return "/login", self.h_login, ()
        if head == "whoAmI" and api(1):
            return "/whoAmI/api/json", self.h_whoami, ()
        if head == "crumbIssuer" and api(1):
            return "/crumbIssuer/api/json", self.h_crumb, ()
        if head == "tcpSlaveAgentListener" and n == 1:
            return "/tcpSlaveAgentListener/", self.h_tcp_listener, ()
        if head == "wsagents" and n == 1:
            return "/wsagents/", self.h_wsagents, ()
        if head == "queue":
            if api(1):
                return "/queue/api/json", self.h_queue, ()
            if n >= 3 and segs[1] == "item":
                if api(3):
                    return "/queue/item/{id}/api/json", self.h_queue_item, (segs[2],)
                if n == 3:
                    return "/queue/item/{id}/", self.h_queue_item_page, (segs[2],)
            if n == 2 and segs[1] == "cancelItem":
                return "/queue/cancelItem", self.post_only(method, self.h_cancel), ()
        if head == "computer":
            if api(1):
                return "/computer/api/json", self.h_computers, ()
            if n == 2 and segs[1] == "doCreateItem":
                if method != "POST":   # @POST: a GET does not dispatch
                    return "/computer/doCreateItem", self.h_not_found, ()
                return "/computer/doCreateItem", self.h_create, ()
            if n >= 2:
                name = segs[1]
                if api(2):
                    return "/computer/{name}/api/json", self.h_computer, (name,)
                if n == 3 and segs[2] in ("jenkins-agent.jnlp", "slave-agent.jnlp"):
                    return "/computer/{name}/" + segs[2], self.h_jnlp, (name,)
                if n == 3 and segs[2] == "config.xml":
                    return "/computer/{name}/config.xml", self.h_config_xml, (name,)
                if n == 3 and segs[2] in POST_ONLY:
                    return "/computer/{name}/" + segs[2], self.post_only(method, self.h_node_action), \
                        (name, segs[2])
        if head == "label" and n >= 2 and api(2):
            return "/label/{expr}/api/json", self.h_label, (segs[1],)
        if head == "job":
            names, i = [], 0
            while i + 1 < n and segs[i] == "job":
                names.append(segs[i + 1])
                i += 2
            rest = segs[i:]
            full = "/".join(names)
            if rest in ([], ["api", "json"]):
                return "/job/{job}/" + "/".join(rest), self.h_job, (full, bool(rest))
            if rest and (rest[0].isdigit() or rest[0] == "lastBuild") and rest[1:] in ([], ["api", "json"]):
                return "/job/{job}/{number}/" + "/".join(rest[1:]), self.h_run, (full, rest[0], bool(rest[1:]))
        return "(unknown)", self.h_not_found, ()

    def post_only(self, method, handler):
        if method == "POST":
            return handler

        def refuse(req, user, *args):
            raise HttpError(405, "This URL requires POST", [("Allow", "POST")])
        return refuse

    # --- handlers: root, login, whoAmI, crumbs -----------------------------------------
    def h_not_found(self, req, user, *args):
        self.need(user, M.READ)
        raise HttpError(404, "Not Found")

    def h_root_page(self, req, user):
        self.need(user, M.READ)
        body = b"<html><head><title>Dashboard [Jenkins]</title></head><body>Jenkins</body></html>\n"
        return Response(200, body, headers=self.jenkins_headers() + (("X-Hudson", "1.395"),),
                        content_type="text/html;charset=utf-8")

    def h_login(self, req, user):
        body = b"<html><head><title>Sign in [Jenkins]</title></head><body>Sign in</body></html>\n"
        return Response(200, body, content_type="text/html;charset=utf-8")

    def h_whoami(self, req, user):
        anonymous = user is M.ANONYMOUS
        authorities = ["anonymous"] if anonymous else ["authenticated"]
        return self.api(req, Obj("hudson.security.WhoAmI", [
            Prop("anonymous", anonymous), Prop("authenticated", True),
            Prop("authorities", authorities), Prop("details", None), Prop("name", user.name),
            Prop("toString", "%s: %s" % ("AnonymousAuthenticationToken" if anonymous else
                                         "UsernamePasswordAuthenticationToken", user.name))]))

    def h_crumb(self, req, user):
        self.need(user, M.READ)
        session = self._session(req)
        extra = ()
        if session is None or session.user != user.name:
            session = Session(user.name)
            self.sessions[session.id] = session
            extra = (("Set-Cookie", "%s=%s; Path=/; HttpOnly" % (self.cookie_name, session.id)),)
        resp = self.api(req, Obj("hudson.security.csrf.DefaultCrumbIssuer", [
            Prop("crumb", self.crumb_for(user, session)), Prop("crumbRequestField", "Jenkins-Crumb")]))
        resp.headers = resp.headers + extra
        return resp

    def h_root_api(self, req, user):
        self.need(user, M.READ)
        ctl = self.ctl
        tops = sorted({name.split("/")[0] for name in ctl.jobs})
        jobs = [self._top_item_brief(t) for t in tops]
        bean = Obj("hudson.model.Hudson", [
            Prop("assignedLabels", [Obj("hudson.model.labels.LabelAtom", [Prop("name", "built-in", 2)])]),
            Prop("description", None), Prop("jobs", jobs, poly=True), Prop("mode", "NORMAL"),
            Prop("nodeDescription", ctl.built_in.description), Prop("nodeName", ""),
            Prop("numExecutors", ctl.built_in.num_executors),
            Prop("overallLoad", Obj("hudson.model.OverallLoadStatistics", [])),
            Prop("primaryView", Obj("hudson.model.AllView", [Prop("name", "all", 2),
                                                              Prop("url", ctl.root_url(), 2)]), poly=True),
            Prop("quietDownReason", None), Prop("quietingDown", ctl.quieting_down),
            Prop("slaveAgentPort", ctl.agent_port),
            Prop("unlabeledLoad", Obj("jenkins.model.UnlabeledLoadStatistics", [])),
            Prop("url", ctl.root_url()), Prop("useCrumbs", True), Prop("useSecurity", True),
            Prop("views", [Obj("hudson.model.AllView", [Prop("name", "all", 2), Prop("url", ctl.root_url(), 2)])],
                 poly=True),
        ])
        return self.api(req, bean)

    def _top_item_brief(self, full):
        """An item as a parent lists it: name, url (and color for jobs)."""
        name = full.rsplit("/", 1)[-1]
        job = self.ctl.jobs.get(full)
        if job is not None:
            return Obj(job.cls(), [Prop("name", name, 999), Prop("url", job.url(), 999),
                                   Prop("color", "notbuilt", 2)])
        return Obj("com.cloudbees.hudson.plugins.folder.Folder", [
            Prop("name", name, 999), Prop("url", self.ctl.root_url() + M.job_url_path(full), 999)])

    # --- handlers: queue (§2) -----------------------------------------------------------
    def item_bean(self, it, user, locale):
        ctl = self.ctl
        actions = []
        if not isinstance(it.task, M.Block):
            actions.append(Obj("hudson.model.CauseAction", [Prop("causes", [Obj(
                "hudson.model.Cause$UserIdCause", [Prop("shortDescription", "Started by user admin", 3),
                                                   Prop("userId", "admin", 3), Prop("userName", "admin", 3)])],
                3, poly=True)]))
            if it.params:
                actions.append(Obj("hudson.model.ParametersAction", [Prop("parameters", [
                    Obj("hudson.model.StringParameterValue", [Prop("name", k, 3), Prop("value", v, 3)])
                    for k, v in sorted(it.params.items())], 3, poly=True)]))
        V = 999
        props = [
            Prop("actions", actions, V, poly=True), Prop("blocked", it.state == M.BLOCKED, V),
            Prop("buildable", it.state == M.BUILDABLE, V), Prop("id", it.id, V),
            Prop("inQueueSince", it.since, V), Prop("params", it.params_text(), V),
            Prop("stuck", ctl.stuck(it), V), Prop("task", it.task_bean(), V, poly=True),
            Prop("url", "queue/item/%d/" % it.id, V), Prop("why", ctl.why(it, locale), V),
        ]
        if it.state == M.WAITING:
            props.append(Prop("timestamp", it.timestamp, V))
        if it.state in (M.BLOCKED, M.BUILDABLE):
            props.append(Prop("buildableStartMilliseconds", it.buildable_since or it.since, V))
        if it.state == M.BUILDABLE:
            props.append(Prop("pending", False, V))
        if it.state == M.LEFT:
            props.append(Prop("cancelled", it.cancelled, V))
            props.append(Prop("executable", it.executable if user.has(M.ITEM_READ) else None, V, poly=True))
        return Obj(M.ITEM_CLASS[it.state], props)

    def h_queue(self, req, user):
        self.need(user, M.READ)
        locale = self.locale(req)
        visible = [i for i in self.ctl.queue_items() if user.has(M.ITEM_READ)]
        return self.api(req, Obj("hudson.model.Queue", [
            Prop("discoverableItems", [], inline=True),
            Prop("items", lambda: [self.item_bean(i, user, locale) for i in visible], inline=True, poly=True)]))

    def _item(self, text, user):
        try:
            item_id = int(text)
        except ValueError:
            raise HttpError(404, "Not Found") from None
        it = self.ctl.item(item_id)
        if it is None or not user.has(M.ITEM_READ):
            raise HttpError(404, "Not Found")
        return it

    def h_queue_item(self, req, user, text):
        self.need(user, M.READ)
        return self.api(req, self.item_bean(self._item(text, user), user, self.locale(req)))

    def h_queue_item_page(self, req, user, text):
        self.need(user, M.READ)
        self._item(text, user)
        body = (b"Queue item exists. For details check, for example, " +
                ("%squeue/item/%s/api/json?tree=cancelled,executable[url]" % (self.ctl.root_url(), text)).encode())
        return Response(200, body, content_type="text/plain;charset=utf-8")

    def h_cancel(self, req, user):
        self.need(user, M.READ)
        text = self.param(req, "id") or ""
        try:
            item_id = int(text)
        except ValueError:
            raise HttpError(404, "Provided id (%s) not found" % text) from None
        it = next((i for i in self.ctl.items if i.id == item_id), None)
        if it is None or not user.has(M.ITEM_READ):
            raise HttpError(404, "Provided id (%d) not found" % item_id)
        if not user.has(M.ITEM_CANCEL):
            raise HttpError(422, "Item for id (%d) is not cancellable" % item_id)
        self.ctl.cancel(it)
        return Response(204, b"", content_type=None)

    # --- handlers: computers (§4, §5, §6) --------------------------------------------------
    def _computer(self, name):
        if name in (M.BUILT_IN, "(master)"):
            return self.ctl.computers[""]
        comp = self.ctl.computers.get(name) if name else None
        if comp is None:
            raise HttpError(404, "Not Found")
        return comp

    def h_computers(self, req, user):
        self.need(user, M.READ)
        ctl = self.ctl
        comps = [ctl.computers[""]] + [ctl.computers[n] for n in sorted(ctl.computers) if n]
        read = ctl.can_read(user)
        online = [c for c in comps if c.online()]
        return self.api(req, Obj("hudson.model.ComputerSet", [
            Prop("busyExecutors", sum(1 for c in online for e in c.executors if not e.idle())),
            Prop("computer", lambda: [c.bean(read) for c in comps], inline=True, poly=True),
            Prop("displayName", "Nodes"),
            Prop("totalExecutors", sum(len(c.executors) for c in online)),
        ]))

    def h_computer(self, req, user, name):
        self.need(user, M.READ)
        return self.api(req, self._computer(name).bean(self.ctl.can_read(user)))

    def h_jnlp(self, req, user, name):
        comp = self.ctl.computers.get(name) if name else None
        if comp is None:
            raise HttpError(404, "Not Found")
        self.need(user, M.COMPUTER_CONNECT)
        node = comp.node
        root = self.ctl.root_url()
        args = [self.ctl.secret_of(name), name]
        if node.launcher.get("webSocket"):
            args.append("-webSocket")
        if node.launcher.get("tunnel"):
            args += ["-tunnel", node.launcher["tunnel"]]
        work = node.launcher.get("workDirSettings") or {}
        if not work.get("disabled"):
            args += ["-workDir", work.get("workDirPath") or node.remote_fs,
                     "-internalDir", work.get("internalDir") or "remoting"]
            if work.get("failIfWorkDirIsMissing"):
                args.append("-failIfWorkDirIsMissing")
        args += ["-url", root]
        esc = lambda s: html.escape(s, quote=True)
        doc = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               '<jnlp codebase="%scomputer/%s/" spec="1.0+">\n'
               '  <information>\n    <title>Agent for %s</title>\n    <vendor>Jenkins project</vendor>\n'
               '    <homepage href="https://jenkins.io/"/>\n  </information>\n'
               '  <security>\n    <all-permissions/>\n  </security>\n'
               '  <resources>\n    <j2se version="1.8+"/>\n    <jar href="%sjnlpJars/remoting.jar"/>\n'
               '    <property name="hudson.showWindowsServiceInstallLink" value="true"/>\n  </resources>\n'
               '  <application-desc main-class="hudson.remoting.jnlp.Main">\n%s  </application-desc>\n'
               '</jnlp>\n') % (esc(root), esc(urllib.parse.quote(name)), esc(name), esc(root),
                              "".join("    <argument>%s</argument>\n" % esc(a) for a in args))
        return Response(200, doc.encode("utf-8"), content_type="application/x-java-jnlp-file")

    def h_config_xml(self, req, user, name):
        self.need(user, M.READ)
        comp = self._computer(name)
        if comp.built_in:
            raise HttpError(404, "Not Found")
        self.need(user, M.COMPUTER_EXTENDED_READ)
        n = comp.node
        e = lambda s: html.escape(str(s), quote=False)
        launcher = n.launcher
        ws = "\n    <webSocket>true</webSocket>" if launcher.get("webSocket") else ""
        tunnel = "\n    <tunnel>%s</tunnel>" % e(launcher["tunnel"]) if launcher.get("tunnel") else ""
        temp = ""
        if n.temp_offline:
            temp = '\n  <temporaryOfflineCause class="%s">\n    <timestamp>%d</timestamp>\n' \
                   '    <description>%s</description>\n  </temporaryOfflineCause>' % (
                       e(n.temp_offline.cls), n.temp_offline.timestamp, e(n.temp_offline.description))
        doc = ("<?xml version='1.1' encoding='UTF-8'?>\n<slave>\n  <name>%s</name>\n"
               "  <description>%s</description>\n  <remoteFS>%s</remoteFS>\n  <numExecutors>%d</numExecutors>\n"
               "  <mode>%s</mode>\n  <retentionStrategy class=\"%s\"/>\n"
               "  <launcher class=\"%s\">%s%s\n  </launcher>\n  <label>%s</label>\n  <nodeProperties/>%s\n"
               "</slave>\n") % (e(n.name), e(n.description), e(n.remote_fs), n.num_executors, n.mode,
                                e(n.retention), e(launcher["class"]), ws, tunnel, e(n.label_string), temp)
        return Response(200, doc.encode("utf-8"), content_type="application/xml;charset=utf-8")

    def h_create(self, req, user):
        """``ComputerSet.doDoCreateItem`` (§4.1)."""
        self.need(user, M.READ)
        self.need(user, M.COMPUTER_CREATE)
        name = (self.param(req, "name") or "").strip()
        if not name:
            raise HttpError(400, "Query parameter 'name' is required", x_error="Query parameter 'name' is required")
        problem = check_good_name(name)
        if problem:
            raise HttpError(400, problem, x_error=problem)
        if name in self.ctl.nodes:
            text = "Agent called \u2018%s\u2019 already exists" % name
            raise HttpError(400, text, x_error=text)
        form = self.param(req, "json")
        if not form:
            raise HttpError(400, "This page expects a form submission", x_error="This page expects a form submission")
        node_type = self.param(req, "type") or ""
        if node_type not in NODE_TYPES:
            raise HttpError(500, "java.lang.NullPointerException: Cannot invoke \"hudson.model.Descriptor"
                                 ".newInstance(...)\" because the descriptor of type '%s' is null" % node_type)
        try:
            doc = json.loads(form)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise HttpError(500, "net.sf.json.JSONException: %s" % exc) from None
        self.ctl.add_node(self._bind_node(name, doc))
        return self.redirect("computer/")

    def _bind_node(self, name, doc):
        def cls_of(obj):
            if not isinstance(obj, dict):
                return None
            return obj.get("$class") or obj.get("stapler-class")

        launcher = doc.get("launcher")
        if launcher is None:
            launcher = {"$class": M.JNLP_LAUNCHER}
        lcls = cls_of(launcher)
        if lcls != M.JNLP_LAUNCHER:
            raise HttpError(500, "java.lang.IllegalArgumentException: Failed to instantiate class %s" % lcls)
        retention = doc.get("retentionStrategy")
        rcls = cls_of(retention) if retention is not None else M.RETENTIONS[0]
        if rcls not in M.RETENTIONS:
            raise HttpError(500, "java.lang.IllegalArgumentException: Failed to instantiate class %s" % rcls)
        mode = doc.get("mode", "NORMAL")
        if mode not in ("NORMAL", "EXCLUSIVE"):
            raise HttpError(500, "java.lang.IllegalArgumentException: No enum constant "
                                 "hudson.model.Node.Mode.%s" % mode)
        try:
            executors = int(doc.get("numExecutors", 1))
        except (TypeError, ValueError):
            raise HttpError(400, "Invalid number of executors", x_error="Invalid number of executors") from None
        return M.Node(name, str(doc.get("nodeDescription") or ""), executors, str(doc.get("remoteFS") or ""),
                      str(doc.get("labelString") or ""), mode,
                      {"class": lcls, "webSocket": bool(launcher.get("webSocket")),
                       "tunnel": launcher.get("tunnel") or None, "workDirSettings": launcher.get("workDirSettings")},
                      rcls)

    def h_node_action(self, req, user, name, action):
        self.need(user, M.READ)
        comp = self._computer(name)
        node = comp.node
        message = (self.param(req, "offlineMessage") or "").strip() or None
        if action == "doDelete":
            if comp.built_in:
                raise HttpError(400, "Cannot delete the built-in node")
            self.need(user, M.COMPUTER_DELETE)
            self.ctl.remove_node(name)
            return self.redirect("computer/")
        if action == "toggleOffline":
            if node.temp_offline is None:
                self.need(user, M.COMPUTER_DISCONNECT)
                self.ctl.set_temp_offline(node, M.OfflineCause.user(user.name, message))
            else:
                self.need(user, M.COMPUTER_CONNECT)
                self.ctl.set_temp_offline(node, None)
            return self.redirect("computer/%s/" % urllib.parse.quote(comp.url_name()))
        if action == "changeOfflineCause":
            self.need(user, M.COMPUTER_DISCONNECT)
            self.ctl.set_temp_offline(node, M.OfflineCause.user(user.name, message))
            return self.redirect("computer/%s/" % urllib.parse.quote(comp.url_name()))
        self.need(user, M.COMPUTER_DISCONNECT)        # doDisconnect
        if comp.channel is not None:
            ch = comp.channel
            ch.close(message or "")
            self.agents._detach(ch)
        return self.redirect("computer/%s/" % urllib.parse.quote(comp.url_name()))

    # --- handlers: labels, jobs, runs ----------------------------------------------------------
    def h_label(self, req, user, expr):
        self.need(user, M.READ)
        return self.api(req, self.ctl.label_bean(expr))

    def h_job(self, req, user, full, is_api):
        self.need(user, M.READ)
        if not user.has(M.ITEM_READ):
            raise HttpError(404, "Not Found")
        job = self.ctl.jobs.get(full)
        if job is None:
            if full not in self.ctl.folders():
                raise HttpError(404, "Not Found")
            bean = self._folder_bean(full)
        else:
            bean = job.bean(self.ctl)
        if not is_api:
            return Response(200, b"<html><body>%s</body></html>\n" % html.escape(full).encode(),
                            content_type="text/html;charset=utf-8")
        return self.api(req, bean)

    def _folder_bean(self, full):
        depth = full.count("/") + 1
        children = sorted({n.split("/")[depth] for n in self.ctl.jobs
                           if n.startswith(full + "/") and n.count("/") >= depth})
        return Obj("com.cloudbees.hudson.plugins.folder.Folder", [
            Prop("actions", []), Prop("description", None), Prop("displayName", full.rsplit("/", 1)[-1]),
            Prop("fullDisplayName", " \u00bb ".join(full.split("/"))), Prop("fullName", full),
            Prop("jobs", [self._top_item_brief(full + "/" + c) for c in children], poly=True),
            Prop("name", full.rsplit("/", 1)[-1], 999),
            Prop("url", self.ctl.root_url() + M.job_url_path(full), 999)])

    def h_run(self, req, user, full, number, is_api):
        self.need(user, M.READ)
        job = self.ctl.jobs.get(full)
        if job is None or not user.has(M.ITEM_READ):
            raise HttpError(404, "Not Found")
        if number == "lastBuild":
            run = job.runs[max(job.runs)] if job.runs else None
        else:
            run = job.runs.get(int(number))
        if run is None:
            raise HttpError(404, "Not Found")
        if not is_api:
            return Response(200, b"<html><body>%s</body></html>\n" % html.escape(run.display()).encode(),
                            content_type="text/html;charset=utf-8")
        return self.api(req, run.bean())

    # --- handlers: agent endpoints ----------------------------------------------------------
    def h_tcp_listener(self, req, user):
        if self.ctl.agent_port < 0:
            raise HttpError(404, "Not Found")
        headers = [("X-Jenkins-JNLP-Port", str(self.ctl.agent_port)),
                   ("X-Jenkins-Agent-Protocols", "JNLP4-connect, Ping"),
                   ("X-Instance-Identity", self.identity)] + list(self.jenkins_headers())
        if self.jnlp_host:
            headers.append(("X-Jenkins-JNLP-Host", self.jnlp_host))
        return Response(200, b"Jenkins\n", headers=tuple(headers), content_type="text/plain;charset=utf-8")

    def h_wsagents(self, req, user):
        return self.agents.websocket(req)
