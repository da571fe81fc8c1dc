"""What a simulated container runs: a tiny, safe interpreter for ``command``+``args``.

Nothing is ever executed on the host.  ``program_for(container, env)`` picks:

* the inbound-agent entrypoint (``agent.AgentProgram``) when the container has no
  command (or ``jenkins-agent``) and its env has JENKINS_URL, JENKINS_SECRET and
  JENKINS_AGENT_NAME/JENKINS_NAME;
* no command otherwise: the image's own long-running process (runs until killed);
* ``sh|bash|ash|dash -c SCRIPT``: the script, statements separated by ``;``,
  newlines, ``&&``, ``||``, plus ``while COND; do ...; done``;
* any other command: one statement of the same language.

Statements: ``echo [-n]``, ``printf``, ``sleep N|infinity``, ``exit N``,
``true``, ``false``, ``cat`` (blocks when the container has stdin or tty, else
sees EOF and returns 0), ``tail -f ...`` (blocks), ``env``/``printenv [VAR]``,
``hostname``, ``date``, ``trap ... TERM``.  ``$VAR``/``${VAR}``/``$?`` expand
from the container env.  An unknown command in a script prints
``sh: 1: NAME: not found`` and sets status 127; an unknown executable as the
container command cannot start (``StartError``, exit code 128), as with runc.

A shell running as PID 1 ignores SIGTERM unless it set a ``trap``: deleting its
pod then takes the grace period and ends with exit code 137 (SIGKILL).
"""

import asyncio
import re
import shlex
import time

SHELLS = ("sh", "bash", "ash", "dash")
BUILTINS = ("echo", "printf", "sleep", "exit", "true", "false", "cat", "tail", "env", "printenv",
            "hostname", "date", "trap", ":")


class StartError(Exception):
    """The runtime cannot start the container's process."""


class Exit(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Forever:
    """An image's default long-running process: stops (143) on SIGTERM."""
    handles_sigterm = True

    async def run(self, ctx):
        await ctx.sigterm.wait()
        return 143


def _agent_env(env):
    return env.get("JENKINS_URL") and env.get("JENKINS_SECRET") and (
        env.get("JENKINS_AGENT_NAME") or env.get("JENKINS_NAME"))


def program_for(container, env):
    command = list(container.get("command") or [])
    args = list(container.get("args") or [])
    if (not command or command[0].rsplit("/", 1)[-1] == "jenkins-agent") and _agent_env(env):
        from agent import AgentProgram
        return AgentProgram(env)
    if not command:
        return Forever()
    argv = command + args
    exe = argv[0].rsplit("/", 1)[-1]
    if exe in SHELLS:
        if len(argv) >= 3 and argv[1] == "-c":
            return Script(argv[2], exe)
        return Script("cat", exe)
    if exe not in BUILTINS:
        raise StartError('failed to create containerd task: failed to create shim task: OCI runtime create '
                         'failed: runc create failed: unable to start container process: exec: "%s": '
                         'executable file not found in $PATH: unknown' % argv[0])
    return Script(" ".join(shlex.quote(a) for a in argv), "sh")


_VAR = re.compile(r"\$(\?|\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")


class Script:
    def __init__(self, text, shell):
        self.shell = shell
        lexer = shlex.shlex(text.replace("\n", " ; "), posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            self.tokens = list(lexer)
        except ValueError:
            self.tokens = None
        self.handles_sigterm = "trap" in (self.tokens or []) and any(
            t in ("TERM", "SIGTERM", "15") for t in self.tokens)
        self.trap_code = 143
        self.status = 0

    async def run(self, ctx):
        if self.tokens is None:
            ctx.log("%s: 1: Syntax error: Unterminated quoted string" % self.shell, "stderr")
            return 2
        self.ctx = ctx
        body = asyncio.ensure_future(self._seq(self.tokens, 0, ()))
        term = asyncio.ensure_future(ctx.sigterm.wait())
        try:
            while True:
                waiting = {body, term} if self.handles_sigterm else {body}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if body in done:
                    try:
                        body.result()
                    except Exit as e:
                        return e.code
                    except (ValueError, IndexError):
                        ctx.log("%s: 1: Syntax error: unexpected end of file" % self.shell, "stderr")
                        return 2
                    return self.status
                if term in done:
                    body.cancel()
                    return self.trap_code
        finally:
            body.cancel()
            term.cancel()

    def _expand(self, word):
        def sub(m):
            name = m.group(1).strip("{}")
            return str(self.status) if name == "?" else self.ctx.env.get(name, "")
        return _VAR.sub(sub, word)

    async def _seq(self, toks, i, stops):
        """Run statements from ``toks[i]`` until a token in ``stops``; returns the index."""
        skip = False
        while i < len(toks) and toks[i] not in stops:
            if toks[i] == "while":
                i = await self._while(toks, i + 1)
                continue
            j = i
            while j < len(toks) and toks[j] not in (";", "&&", "||", "&", "|") and toks[j] not in stops:
                j += 1
            if not skip and j > i:
                await self._command([self._expand(t) for t in toks[i:j]])
            sep = toks[j] if j < len(toks) else ";"
            skip = (sep == "&&" and self.status != 0) or (sep == "||" and self.status == 0)
            i = j + 1 if j < len(toks) and toks[j] not in stops else j
        return i

    async def _while(self, toks, i):
        do = toks.index("do", i)
        done = _matching_done(toks, do)
        while True:
            await self._seq(toks[i:do], 0, ())
            if self.status != 0:
                break
            await self._seq(toks[do + 1:done], 0, ())
            await asyncio.sleep(0)
        self.status = 0
        return done + 1

    async def _command(self, argv):
        argv = [a for a in argv if not re.match(r"^\d?>&?\d?$|^\d?>", a)]
        if not argv:
            return
        name, args = argv[0].rsplit("/", 1)[-1], argv[1:]
        ctx = self.ctx
        self.status = 0
        if name == "echo":
            newline = not (args and args[0] == "-n")
            text = " ".join(args[1:] if not newline else args)
            ctx.log(text, newline=newline)
        elif name == "printf":
            fmt = args[0] if args else ""
            text = fmt.replace("\\n", "\n").replace("\\t", "\t")
            for a in args[1:]:
                text = text.replace("%s", a, 1).replace("%d", a, 1)
            ctx.log(text, newline=False)
        elif name == "sleep":
            if args and args[0] == "infinity":
                await asyncio.Event().wait()
            try:
                await asyncio.sleep(float((args or ["0"])[0].rstrip("s")))
            except ValueError:
                ctx.log("sleep: invalid time interval '%s'" % args[0], "stderr")
                self.status = 1
        elif name == "exit":
            raise Exit(int(args[0]) & 255 if args and args[0].lstrip("-").isdigit() else self.status)
        elif name == "false":
            self.status = 1
        elif name in ("cat", "tail"):
            if name == "tail" and "-f" not in args:
                return
            if name == "tail" or ctx.stdin_open:
                await asyncio.Event().wait()
        elif name in ("env", "printenv"):
            if args:
                if args[0] in ctx.env:
                    ctx.log(ctx.env[args[0]])
                else:
                    self.status = 1
            else:
                for k, v in sorted(ctx.env.items()):
                    ctx.log("%s=%s" % (k, v))
        elif name == "hostname":
            ctx.log(ctx.hostname)
        elif name == "date":
            ctx.log(time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()))
        elif name == "trap":
            m = re.search(r"exit (\d+)", " ".join(args))
            self.trap_code = int(m.group(1)) if m else 143
        elif name in ("true", ":"):
            pass
        else:
            ctx.log("%s: 1: %s: not found" % (self.shell, argv[0]), "stderr")
            self.status = 127


def _matching_done(toks, do):
    depth = 0
    for k in range(do + 1, len(toks)):
        if toks[k] == "do":
            depth += 1
        elif toks[k] == "done":
            if depth == 0:
                return k
            depth -= 1
    raise ValueError("unterminated while")
