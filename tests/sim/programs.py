"""What a simulated container runs: a small, safe shell interpreter.

Nothing is ever executed on the host.  Two entry points:

* ``program_for(container, env)`` - a container's main process (kubelet.py):
  the inbound-agent entrypoint (``agent.AgentProgram``) when the container has
  no command (or ``jenkins-agent``) and its env has JENKINS_URL,
  JENKINS_SECRET and JENKINS_AGENT_NAME/JENKINS_NAME; the image's own
  long-running process when there is no command; otherwise the command, run as
  PID 1 by ``Main``.  An executable the image lacks cannot start
  (``StartError``, exit code 128, runc's message).
* ``start_exec(ctx, argv, io)`` - a process started in a running container
  (the exec subresource, execws.py).  Raises ``StartError`` with the runtime's
  message when the image lacks the executable.

Executables an image provides (``image_has``): the shells ``sh``, ``ash``,
``dash`` and ``bash`` (no ``bash`` in images whose name contains ``busybox``
or ``alpine``) and the utilities below; an image whose reference contains
``distroless`` has none of them.

The shell language (a POSIX sh subset): simple commands with ``NAME=value``
prefixes, quoting (``'...'``, ``"..."``, ``\\``), ``$NAME``, ``${NAME}``,
``${NAME:-word}``, ``$?``, ``$$``, ``$#``, ``$@``, ``$*``, ``$0``-``$9``,
``$(...)`` and backquotes, field splitting, ``*`` globs over the virtual files,
pipelines (``|``, ``!``), ``&&``, ``||``, ``;``, ``&`` (run in the
foreground), newlines, comments, ``( ... )``, ``{ ...; }``, ``while``/
``until``, ``for``, ``if``/``elif``/``else``, and the redirections ``<``,
``>``, ``>>``, ``N>&M``, ``N<&M`` (files: ``/dev/null``, ``/dev/zero``,
``/dev/stdout``, ``/dev/stderr`` and ``/proc``; writing any other file fails
with "Read-only file system").  Shell builtins: ``cd``, ``pwd``, ``export``,
``unset``, ``exit``, ``exec``, ``set -e``/``+e``, ``trap``, ``read``,
``wait``, and (also as executables) ``echo``, ``printf``, ``true``,
``false``, ``:``, ``kill``.  Utilities, each run as a process: ``sleep N|
infinity``, ``cat``, ``head -n|-c``, ``tail -n|-f``, ``seq``, ``grep
[-lqvcFEis]``, ``cut -d -f|-c``, ``wc [-lwc]``, ``env [-i] [-u N] [N=V]...
[CMD...]``, ``printenv``, ``hostname``, ``date``.  A shell run without
``-c`` reads its script from stdin line by line, executing each complete
command as it arrives (what the Jenkins plugin's ``container`` step relies on).
Errors use dash's wording (``sh: 1: X: not found``, status 127); ``bash``
uses bash's (``bash: line 1: X: command not found``).

Processes: every utility run and every exec'd process gets a PID in its
container's ``ProcTable`` with its argv and environment, visible as
``/proc/PID/environ`` and ``/proc/PID/cmdline``; ``kill`` delivers signals
(a killed process ends with 128+signal).  PID 1 is the container's main
process: like the kernel, it only reacts to signals it handles (a shell with a
``trap``, the image default and the inbound agent); a stopped container takes
every exec'd process with it (137).  Pipelines run their stages concurrently
over bounded pipes; a stage writing into a closed pipe ends with 141.
"""

import asyncio
import fnmatch
import re
import time

SHELLS = ("sh", "bash", "ash", "dash")
SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "PIPE": 13, "TERM": 15}
SIGNAMES = {v: k for k, v in SIGNALS.items()}
PIPE_BYTES = 65536
CAPTURE_BYTES = 16 << 20


class StartError(Exception):
    """The runtime cannot start the process."""


class Exit(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Incomplete(Exception):
    """The text ends inside a construct (more lines may complete it)."""


class ShellSyntax(Exception):
    def __init__(self, line, text):
        super().__init__(text)
        self.line = line


class ShellError(Exception):
    """A failure the shell reports and survives (redirections, bad builtin use)."""

    def __init__(self, text, status=2):
        super().__init__(text)
        self.status = status


# --- byte streams ---------------------------------------------------------------
class Pipe:
    """A bounded byte pipe: ``write`` waits for room, ``read`` for data; EOF after
    ``close_write``; ``write`` raises BrokenPipeError once the reader is gone."""

    def __init__(self, capacity=PIPE_BYTES):
        self.capacity = capacity
        self.buf = bytearray()
        self.eof = False
        self.reader_gone = False
        self._waiters = []

    def _wake(self):
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _wait(self):
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        await fut

    async def write(self, data):
        if self.reader_gone:
            raise BrokenPipeError()
        self.buf += data
        self._wake()
        while len(self.buf) > self.capacity and not self.reader_gone:
            await self._wait()

    def close_write(self):
        self.eof = True
        self._wake()

    def close_read(self):
        self.reader_gone = True
        self.buf.clear()
        self._wake()

    async def read(self, n=PIPE_BYTES):
        while not self.buf and not self.eof:
            await self._wait()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        self._wake()
        return data

    async def readline(self):
        while b"\n" not in self.buf and not self.eof:
            await self._wait()
        end = self.buf.find(b"\n")
        end = len(self.buf) if end < 0 else end + 1
        data = bytes(self.buf[:end])
        del self.buf[:end]
        self._wake()
        return data


class BytesReader:
    def __init__(self, data=b""):
        self.data = data
        self.pos = 0

    async def read(self, n=PIPE_BYTES):
        data = self.data[self.pos:self.pos + n]
        self.pos += len(data)
        return data

    async def readline(self):
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end + 1
        data = self.data[self.pos:end]
        self.pos = end
        return data


class ZeroReader:
    """``/dev/zero``."""
    _block = bytes(PIPE_BYTES)

    async def read(self, n=PIPE_BYTES):
        await asyncio.sleep(0)
        return self._block[:n] if n < PIPE_BYTES else self._block

    async def readline(self):
        return await self.read()


class NullSink:
    async def write(self, data):
        pass


class Capture:
    """Output kept in memory (command substitution), capped."""

    def __init__(self, cap=CAPTURE_BYTES):
        self.buf = bytearray()
        self.cap = cap

    async def write(self, data):
        if len(self.buf) + len(data) > self.cap:
            raise ShellError("command substitution output over %d bytes" % self.cap)
        self.buf += data

    def text(self):
        return self.buf.decode("utf-8", "replace")


class LogSink:
    """A container's stdout/stderr: the container log."""

    def __init__(self, ctx, stream):
        self.ctx = ctx
        self.stream = stream

    async def write(self, data):
        self.ctx.log(data.decode("utf-8", "replace"), self.stream, newline=False)
        await asyncio.sleep(0)


class IO:
    __slots__ = ("stdin", "out", "err")

    def __init__(self, stdin, out, err):
        self.stdin = stdin
        self.out = out
        self.err = err


# --- processes --------------------------------------------------------------------
class Process:
    def __init__(self, pid, argv, env):
        self.pid = pid
        self.argv = list(argv)
        self.env = dict(env)
        self.task = None
        self.signo = None
        self.trapped = None
        self.traps = {}
        self.deliver = None

    def signal(self, signo):
        """Deliver a signal: PID 1 hands it to its program; a trap's action ends
        the process with the action's exit status; otherwise 128+signal."""
        if self.deliver is not None:
            self.deliver(signo)
            return
        action = self.traps.get(SIGNAMES.get(signo)) if signo != 9 else None
        if action == "":
            return
        self.signo, self.trapped = signo, action
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def killed_status(self):
        if self.trapped is not None:
            m = re.search(r"\bexit\s+(\d+)", self.trapped)
            if m:
                return int(m.group(1)) & 255
        return 128 + (self.signo or 9)

    def environ(self):
        return b"".join(("%s=%s" % kv).encode() + b"\0" for kv in self.env.items())

    def cmdline(self):
        return b"".join(a.encode() + b"\0" for a in self.argv)


class ProcTable:
    """The processes of one container instance; PID 1 is its main process."""

    def __init__(self):
        self.procs = {}
        self.next_pid = 1

    def start(self, argv, env):
        proc = Process(self.next_pid, argv, env)
        self.next_pid += 1
        self.procs[proc.pid] = proc
        return proc

    def end(self, proc):
        self.procs.pop(proc.pid, None)

    def kill_all(self):
        """The container stopped: every other process dies with it."""
        for proc in list(self.procs.values()):
            if proc.pid != 1:
                proc.signo = 9
                if proc.task is not None:
                    proc.task.cancel()


def image_has(image, name):
    base = name.rsplit("/", 1)[-1]
    if "distroless" in image:
        return False
    repo = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    if base == "bash" and ("busybox" in repo or "alpine" in repo):
        return False
    return base in SHELLS or base in UTILITIES


def start_error(argv0):
    if "/" in argv0:
        why = "stat %s: no such file or directory" % argv0
    else:
        why = "executable file not found in $PATH"
    return 'exec: "%s": %s: unknown' % (argv0, why)


async def spawn(ctx, argv, env, io, cwd):
    """Run ``argv`` as a new process of ``ctx``; returns its exit status."""
    proc = ctx.procs.start(argv, env)
    proc.task = asyncio.ensure_future(execve(ctx, proc, argv, io, cwd))
    try:
        return await exit_status(proc)
    finally:
        proc.task.cancel()
        ctx.procs.end(proc)


async def exit_status(proc):
    """Wait for a process; its exit status (128+signal when it was killed)."""
    await asyncio.wait({proc.task})
    return proc.killed_status() if proc.task.cancelled() else proc.task.result()


async def execve(ctx, proc, argv, io, cwd):
    """Run ``argv`` in ``proc`` (which already exists)."""
    name = argv[0].rsplit("/", 1)[-1]
    try:
        if name in SHELLS:
            return await Shell(ctx, proc, argv[0], proc.env, cwd).main(argv[1:], io)
        return await UTILITIES[name](Cmd(ctx, proc, argv, io, cwd, name))
    except BrokenPipeError:
        return 128 + SIGNALS["PIPE"]


def start_exec(ctx, argv, io):
    """Start an exec'd process; ``exit_status(proc)`` waits for it (the caller
    removes it from ``ctx.procs`` with ``ctx.procs.end(proc)``)."""
    if not argv or not image_has(ctx.image, argv[0]):
        raise StartError(start_error(argv[0] if argv else ""))
    proc = ctx.procs.start(argv, ctx.env)
    proc.task = asyncio.ensure_future(execve(ctx, proc, argv, io, ctx.workdir))
    return proc


# --- container main programs ---------------------------------------------------------
class Forever:
    """An image's default long-running process: stops (143) on SIGTERM."""
    handles_sigterm = True

    async def run(self, ctx):
        await ctx.sigterm.wait()
        return 143


class Main:
    """A container command run as PID 1 (signals it does not handle are ignored)."""
    handles_sigterm = False

    def __init__(self, argv):
        self.argv = argv

    async def run(self, ctx):
        proc = ctx.procs.procs[1]
        io = IO(ctx.stdin(), LogSink(ctx, "stdout"), LogSink(ctx, "stderr"))
        body = asyncio.ensure_future(execve(ctx, proc, self.argv, io, ctx.workdir))
        term = asyncio.ensure_future(ctx.sigterm.wait())
        try:
            while True:
                done, _ = await asyncio.wait({body, term} if term else {body},
                                             return_when=asyncio.FIRST_COMPLETED)
                if body in done:
                    return body.result()
                term = None
                action = proc.traps.get("TERM")
                if action is not None and action != "":
                    body.cancel()
                    proc.signo, proc.trapped = 15, action
                    return proc.killed_status()
                ctx.sigterm.clear()
                term = asyncio.ensure_future(ctx.sigterm.wait())
        finally:
            body.cancel()
            if term:
                term.cancel()


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
    if not image_has(container.get("image", ""), argv[0]):
        raise StartError("failed to create containerd task: failed to create shim task: OCI runtime create "
                         "failed: runc create failed: unable to start container process: "
                         + start_error(argv[0]))
    return Main(argv)


# --- lexer ----------------------------------------------------------------------------
class Word:
    """``parts``: (kind, value, quoted) with kind ``lit``, ``var`` or ``cmd``."""
    __slots__ = ("parts", "line")

    def __init__(self, line):
        self.parts = []
        self.line = line

    def add(self, kind, value, quoted):
        if kind == "lit" and self.parts and self.parts[-1][0] == "lit" and self.parts[-1][2] == quoted:
            self.parts[-1] = ("lit", self.parts[-1][1] + value, quoted)
        else:
            self.parts.append((kind, value, quoted))

    def plain(self):
        """The text of an unquoted, expansion-free word (keywords, fd numbers), else None."""
        if len(self.parts) == 1 and self.parts[0][0] == "lit" and not self.parts[0][2]:
            return self.parts[0][1]
        return None

    def assignment(self):
        if not self.parts or self.parts[0][0] != "lit" or self.parts[0][2]:
            return None
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=", self.parts[0][1])
        if not m:
            return None
        value = Word(self.line)
        rest = self.parts[0][1][m.end():]
        if rest:
            value.add("lit", rest, False)
        value.parts.extend(self.parts[1:])
        return m.group(1), value


OPERATORS = ("&&", "||", ";", "&", "|", "(", ")")
REDIRECTS = (">>", ">&", "<&", ">|", ">", "<")
SPECIAL_VARS = "?$#@*!-0123456789"


class Lexer:
    def __init__(self, text):
        self.text = text
        self.i = 0
        self.line = 1
        self.toks = []
        self.word = None

    def run(self):
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c in " \t":
                self.flush()
                self.i += 1
            elif c == "\n":
                self.flush()
                self.toks.append(("nl", "\n", self.line))
                self.line += 1
                self.i += 1
            elif c == "#" and self.word is None:
                end = text.find("\n", self.i)
                self.i = len(text) if end < 0 else end
            elif c == "\\":
                if self.i + 1 >= len(text):
                    raise Incomplete()
                if text[self.i + 1] == "\n":
                    self.line += 1
                else:
                    self.cur().add("lit", text[self.i + 1], True)
                self.i += 2
            elif c == "'":
                end = text.find("'", self.i + 1)
                if end < 0:
                    raise Incomplete("quote")
                self.cur().add("lit", text[self.i + 1:end], True)
                self.line += text.count("\n", self.i, end)
                self.i = end + 1
            elif c == '"':
                self.dquote()
            elif c == "`":
                self.cur().add("cmd", self.backquote(), False)
            elif c == "$":
                self.dollar(False)
            elif c in "<>":
                fd = None
                if self.word is not None and self.word.plain() is not None and self.word.plain().isdigit():
                    fd = int(self.word.plain())
                    self.word = None
                self.flush()
                op = next(o for o in REDIRECTS if text.startswith(o, self.i))
                self.i += len(op)
                self.toks.append(("redir", (fd, op), self.line))
            elif c in ";&|()":
                self.flush()
                op = next(o for o in OPERATORS if text.startswith(o, self.i))
                self.i += len(op)
                self.toks.append(("op", op, self.line))
            else:
                self.cur().add("lit", c, False)
                self.i += 1
        self.flush()
        return self.toks

    def cur(self):
        if self.word is None:
            self.word = Word(self.line)
        return self.word

    def flush(self):
        if self.word is not None:
            self.toks.append(("word", self.word, self.word.line))
            self.word = None

    def dquote(self):
        text, word = self.text, self.cur()
        word.add("lit", "", True)
        self.i += 1
        while True:
            if self.i >= len(text):
                raise Incomplete("quote")
            c = text[self.i]
            if c == '"':
                self.i += 1
                return
            if c == "\\" and self.i + 1 < len(text) and text[self.i + 1] in '$`"\\\n':
                if text[self.i + 1] != "\n":
                    word.add("lit", text[self.i + 1], True)
                else:
                    self.line += 1
                self.i += 2
            elif c == "$":
                self.dollar(True)
            elif c == "`":
                word.add("cmd", self.backquote(), True)
            else:
                if c == "\n":
                    self.line += 1
                word.add("lit", c, True)
                self.i += 1

    def backquote(self):
        text, out = self.text, []
        i = self.i + 1
        while True:
            if i >= len(text):
                raise Incomplete("quote")
            c = text[i]
            if c == "`":
                self.i = i + 1
                return "".join(out)
            if c == "\\" and i + 1 < len(text) and text[i + 1] in "$`\\":
                out.append(text[i + 1])
                i += 2
                continue
            out.append(c)
            i += 1

    def dollar(self, quoted):
        text, word = self.text, self.cur()
        i = self.i + 1
        c = text[i] if i < len(text) else ""
        if c == "(":
            if text.startswith("((", i):
                raise ShellSyntax(self.line, "arithmetic expansion is not supported by kubesim")
            end = _matching_paren(text, i + 1)
            word.add("cmd", text[i + 1:end], quoted)
            self.line += text.count("\n", i, end)
            self.i = end + 1
        elif c == "{":
            end = text.find("}", i)
            if end < 0:
                raise Incomplete("quote")
            word.add("var", text[i + 1:end], quoted)
            self.i = end + 1
        elif c and c in SPECIAL_VARS:
            word.add("var", c, quoted)
            self.i = i + 1
        else:
            m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(text, i)
            if m:
                word.add("var", m.group(0), quoted)
                self.i = m.end()
            else:
                word.add("lit", "$", quoted)
                self.i = i


def _matching_paren(text, i):
    depth, quote = 1, None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
        elif c == "\\":
            i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise Incomplete("quote")


# --- parser ---------------------------------------------------------------------------
class Node:
    def __init__(self, kind, line, **kw):
        self.kind = kind
        self.line = line
        self.__dict__.update(kw)


class Parser:
    def __init__(self, toks):
        self.toks = toks
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def keyword(self, tok, words):
        return tok is not None and tok[0] == "word" and tok[1].plain() in words

    def unexpected(self, tok):
        if tok is None:
            raise Incomplete()
        text = tok[1] if tok[0] in ("op", "nl") else (tok[1][1] if tok[0] == "redir" else tok[1].plain() or "word")
        raise ShellSyntax(tok[2], '"%s" unexpected' % ("newline" if tok[0] == "nl" else text))

    def expect(self, word):
        tok = self.peek()
        if not self.keyword(tok, (word,)):
            if tok is None:
                raise Incomplete()
            raise ShellSyntax(tok[2], '"%s" unexpected (expecting "%s")'
                              % (tok[1].plain() if tok[0] == "word" else tok[1], word))
        self.take()

    def skip_newlines(self):
        while self.peek() is not None and self.peek()[0] == "nl":
            self.take()

    def program(self):
        node = self.list_(())
        if self.peek() is not None:
            self.unexpected(self.peek())
        return node

    def list_(self, stops):
        items = []
        line = self.peek()[2] if self.peek() else 1
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok is None or self.keyword(tok, stops) or (tok[0] == "op" and tok[1] == ")"):
                break
            items.append(self.and_or())
            tok = self.peek()
            if tok is not None and (tok[0] == "nl" or (tok[0] == "op" and tok[1] in (";", "&"))):
                self.take()
                continue
            break
        return Node("list", line, items=items)

    def and_or(self):
        first = self.pipeline()
        rest = []
        while self.peek() is not None and self.peek()[0] == "op" and self.peek()[1] in ("&&", "||"):
            op = self.take()[1]
            self.skip_newlines()
            rest.append((op, self.pipeline()))
        return Node("and_or", first.line, first=first, rest=rest)

    def pipeline(self):
        tok = self.peek()
        negate = self.keyword(tok, ("!",))
        if negate:
            self.take()
        cmds = [self.command()]
        while self.peek() is not None and self.peek()[0] == "op" and self.peek()[1] == "|":
            self.take()
            self.skip_newlines()
            cmds.append(self.command())
        return Node("pipeline", cmds[0].line, cmds=cmds, negate=negate)

    def command(self):
        tok = self.peek()
        if tok is None:
            raise Incomplete()
        line = tok[2]
        if self.keyword(tok, ("while", "until")):
            self.take()
            cond = self.list_(("do",))
            self.expect("do")
            body = self.list_(("done",))
            self.expect("done")
            return Node("while", line, cond=cond, body=body, until=tok[1].plain() == "until")
        if self.keyword(tok, ("for",)):
            self.take()
            name = self.peek()
            if name is None:
                raise Incomplete()
            if name[0] != "word" or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name[1].plain() or ""):
                self.unexpected(name)
            self.take()
            words = None
            self.skip_newlines()
            if self.keyword(self.peek(), ("in",)):
                self.take()
                words = []
                while self.peek() is not None and self.peek()[0] == "word":
                    words.append(self.take()[1])
                if self.peek() is None:
                    raise Incomplete()
                if self.peek()[0] == "op" and self.peek()[1] == ";" or self.peek()[0] == "nl":
                    self.take()
            self.skip_newlines()
            self.expect("do")
            body = self.list_(("done",))
            self.expect("done")
            return Node("for", line, name=name[1].plain(), words=words, body=body)
        if self.keyword(tok, ("if",)):
            self.take()
            branches = []
            otherwise = None
            while True:
                cond = self.list_(("then",))
                self.expect("then")
                branches.append((cond, self.list_(("elif", "else", "fi"))))
                nxt = self.peek()
                if self.keyword(nxt, ("elif",)):
                    self.take()
                    continue
                if self.keyword(nxt, ("else",)):
                    self.take()
                    otherwise = self.list_(("fi",))
                self.expect("fi")
                return Node("if", line, branches=branches, otherwise=otherwise)
        if tok[0] == "op" and tok[1] == "(":
            self.take()
            body = self.list_(())
            tok = self.peek()
            if tok is None:
                raise Incomplete()
            if tok[0] != "op" or tok[1] != ")":
                self.unexpected(tok)
            self.take()
            return Node("subshell", line, body=body, redirs=self.redirs())
        if self.keyword(tok, ("{",)):
            self.take()
            body = self.list_(("}",))
            self.expect("}")
            return Node("group", line, body=body, redirs=self.redirs())
        if self.keyword(tok, ("do", "done", "then", "fi", "elif", "else", "}")) or tok[0] in ("op", "nl"):
            self.unexpected(tok)
        return self.simple()

    def redirs(self):
        out = []
        while self.peek() is not None and self.peek()[0] == "redir":
            out.append(self.redirect())
        return out

    def redirect(self):
        tok = self.take()
        fd, op = tok[1]
        target = self.peek()
        if target is None:
            raise Incomplete()
        if target[0] != "word":
            self.unexpected(target)
        self.take()
        if fd is None:
            fd = 0 if op in ("<", "<&") else 1
        return fd, op, target[1]

    def simple(self):
        line = self.peek()[2]
        assigns, words, redirs = [], [], []
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok[0] == "word":
                a = tok[1].assignment() if not words else None
                if a:
                    assigns.append(a)
                else:
                    words.append(tok[1])
                self.take()
            elif tok[0] == "redir":
                redirs.append(self.redirect())
            else:
                break
        return Node("simple", line, assigns=assigns, words=words, redirs=redirs)


def parse(text):
    return Parser(Lexer(text).run()).program()


# --- the shell ---------------------------------------------------------------------------
class Shell:
    def __init__(self, ctx, proc, arg0, env, cwd):
        self.ctx = ctx
        self.proc = proc
        self.arg0 = arg0
        self.bash = arg0.rsplit("/", 1)[-1] == "bash"
        self.vars = dict(env)
        self.exported = set(env)
        self.cwd = cwd
        self.args = []
        self.status = 0
        self.errexit = False
        self.line = 1
        self.line_base = 0
        self.sub_status = 0

    # --- entry points ----
    async def main(self, args, io):
        script = None
        args = list(args)
        while args and args[0].startswith("-") and len(args[0]) > 1:
            opt = args.pop(0)
            if opt == "--":
                break
            if "c" in opt:
                if not args:
                    await self.say(io, "-c requires an argument", line=0)
                    return 2
                script = args.pop(0)
            if "e" in opt:
                self.errexit = True
        if script is None and args:
            await self.say(io, "cannot open %s: No such file" % args[0], line=0)
            return 2
        if script is not None and args:
            self.arg0 = args[0]
            args = args[1:]
        self.args = args
        try:
            if script is not None:
                return await self.run_text(script, io)
            return await self.run_stdin(io)
        except Exit as e:
            return e.code
        except BrokenPipeError:
            return 128 + SIGNALS["PIPE"]

    async def run_text(self, text, io, line_base=0):
        try:
            node = parse(text)
        except Incomplete as e:
            what = "Unterminated quoted string" if e.args and e.args[0] == "quote" else "end of file unexpected"
            await self.say(io, "Syntax error: " + what, line=line_base + text.count("\n") + 1)
            self.status = 2
            return 2
        except ShellSyntax as e:
            await self.say(io, "Syntax error: " + str(e), line=line_base + e.line)
            self.status = 2
            return 2
        self.line_base = line_base
        await self.run(node, io)
        return self.status

    async def run_stdin(self, io):
        """Read the script from stdin, running each complete command as it arrives."""
        pending, first, lines = "", 1, 0
        while True:
            data = await io.stdin.readline()
            if data:
                lines += 1
                pending += data.decode("utf-8", "replace")
                try:
                    parse(pending)
                except Incomplete:
                    continue
                except ShellSyntax:
                    await self.run_text(pending, io, first - 1)
                    return 2
            elif not pending.strip():
                return self.status
            await self.run_text(pending, io, first - 1)
            if not data:
                return self.status
            pending, first = "", lines + 1

    async def say(self, io, text, line=None):
        line = self.line if line is None else line
        if self.bash:
            msg = "%s: line %d: %s\n" % (self.arg0, line, text) if line else "%s: %s\n" % (self.arg0, text)
        else:
            msg = "%s: %d: %s\n" % (self.arg0, line, text)
        await io.err.write(msg.encode())

    # --- execution ----
    async def run(self, node, io):
        return await getattr(self, "_" + node.kind)(node, io)

    async def _list(self, node, io):
        for item in node.items:
            await self.run(item, io)
            if self.errexit and self.status != 0:
                raise Exit(self.status)

    async def _and_or(self, node, io):
        errexit, self.errexit = self.errexit, False if node.rest else self.errexit
        try:
            await self.run(node.first, io)
            for op, pipe in node.rest:
                if (op == "&&") == (self.status == 0):
                    await self.run(pipe, io)
        finally:
            self.errexit = errexit

    async def _pipeline(self, node, io):
        if len(node.cmds) == 1:
            await self.run(node.cmds[0], io)
        else:
            pipes = [Pipe() for _ in node.cmds[1:]]
            stages = []
            for k, cmd in enumerate(node.cmds):
                stdin = pipes[k - 1] if k else io.stdin
                out = pipes[k] if k < len(pipes) else io.out
                stages.append(asyncio.ensure_future(self._stage(cmd, IO(stdin, out, io.err), k, len(pipes))))
            try:
                results = await asyncio.gather(*stages)
            finally:
                for s in stages:
                    s.cancel()
            self.status = results[-1]
        if node.negate:
            self.status = 0 if self.status else 1

    async def _stage(self, cmd, io, k, n_pipes):
        sub = self.fork()
        try:
            await sub.run(cmd, io)
        except Exit as e:
            sub.status = e.code
        except BrokenPipeError:
            sub.status = 128 + SIGNALS["PIPE"]
        finally:
            if k < n_pipes:
                io.out.close_write()
            if k:
                io.stdin.close_read()
        return sub.status

    def fork(self):
        sub = Shell(self.ctx, self.proc, self.arg0, {}, self.cwd)
        sub.vars = dict(self.vars)
        sub.exported = set(self.exported)
        sub.args = list(self.args)
        sub.status = self.status
        sub.errexit = self.errexit
        sub.line = self.line
        sub.line_base = self.line_base
        return sub

    async def _subshell(self, node, io):
        sub = self.fork()
        try:
            await sub.run(node.body, await self.redirect(node.redirs, io))
        except Exit as e:
            sub.status = e.code
        except ShellError as e:
            await self.say(io, str(e))
            sub.status = e.status
        self.status = sub.status

    async def _group(self, node, io):
        try:
            io = await self.redirect(node.redirs, io)
        except ShellError as e:
            await self.say(io, str(e))
            self.status = e.status
            return
        await self.run(node.body, io)

    async def _while(self, node, io):
        status = 0
        while True:
            errexit, self.errexit = self.errexit, False
            try:
                await self.run(node.cond, io)
            finally:
                self.errexit = errexit
            if (self.status == 0) == node.until:
                break
            await self.run(node.body, io)
            status = self.status
            await asyncio.sleep(0)
        self.status = status

    async def _for(self, node, io):
        if node.words is None:
            values = list(self.args)
        else:
            values = []
            for w in node.words:
                values.extend(await self.expand(w, io))
        self.status = 0
        for v in values:
            self.vars[node.name] = v
            await self.run(node.body, io)
            await asyncio.sleep(0)

    async def _if(self, node, io):
        for cond, body in node.branches:
            errexit, self.errexit = self.errexit, False
            try:
                await self.run(cond, io)
            finally:
                self.errexit = errexit
            if self.status == 0:
                await self.run(body, io)
                return
        self.status = 0
        if node.otherwise is not None:
            await self.run(node.otherwise, io)

    async def _simple(self, node, io):
        self.line = self.line_base + node.line
        self.sub_status = 0
        try:
            argv = []
            for w in node.words:
                argv.extend(await self.expand(w, io))
            values = [(name, await self.expand_one(w, io)) for name, w in node.assigns]
            io = await self.redirect(node.redirs, io)
        except ShellError as e:
            await self.say(io, str(e))
            self.status = e.status
            return
        if not argv:
            for name, value in values:
                self.vars[name] = value
            self.status = self.sub_status
            return
        await self.command(argv, dict(values), io)

    async def command(self, argv, temp, io):
        name = argv[0]
        builtin = BUILTINS.get(name)
        if builtin is not None:
            try:
                self.status = await builtin(self, argv, io)
            except ShellError as e:
                await self.say(io, "%s: %s" % (name, e))
                self.status = e.status
            return
        if name in INLINE:
            self.status = await UTILITIES[name](Cmd(self.ctx, self.proc, argv, io, self.cwd, self.prefix(name)))
            return
        if not image_has(self.ctx.image, name):
            if self.bash:
                await self.say(io, "%s: command not found" % name)
            else:
                await self.say(io, "%s: not found" % name)
            self.status = 127
            return
        env = {k: self.vars[k] for k in self.exported if k in self.vars}
        env.update(temp)
        self.status = await spawn(self.ctx, argv, env, io, self.cwd)

    def prefix(self, name):
        if self.bash:
            return "%s: line %d: %s" % (self.arg0, self.line, name)
        return "%s: %d: %s" % (self.arg0, self.line, name)

    # --- expansion ----
    async def value(self, name, io):
        if name.startswith("#") and len(name) > 1:
            return str(len(await self.value(name[1:], io)))
        default = None
        if ":-" in name:
            name, default = name.split(":-", 1)
        if name == "?":
            v = str(self.status)
        elif name == "$":
            v = str(self.proc.pid)
        elif name == "#":
            v = str(len(self.args))
        elif name in ("@", "*"):
            v = " ".join(self.args)
        elif name == "0":
            v = self.arg0
        elif name.isdigit():
            k = int(name)
            v = self.args[k - 1] if k <= len(self.args) else ""
        elif name in ("!", "-"):
            v = ""
        else:
            v = self.vars.get(name, "")
        if default is not None and v == "":
            w = Lexer(default).run()
            v = " ".join([" ".join(await self.expand(t[1], io)) for t in w if t[0] == "word"])
        return v

    async def substitute(self, text, io):
        sub = self.fork()
        cap = Capture()
        try:
            await sub.run_text(text, IO(io.stdin, cap, io.err), self.line - 1)
        except Exit as e:
            sub.status = e.code
        self.sub_status = sub.status
        return cap.text().rstrip("\n")

    async def expand(self, word, io):
        """A word to its fields (field splitting of unquoted expansions, globs)."""
        fields, cur, glob = [], None, False
        for kind, val, quoted in word.parts:
            if kind == "lit":
                cur = (cur or "") + val
                glob = glob or (not quoted and "*" in val)
                continue
            if kind == "var" and val == "@" and quoted:
                if self.args:
                    cur = (cur or "") + self.args[0]
                    for a in self.args[1:]:
                        fields.append(cur)
                        cur = a
                continue
            text = await self.value(val, io) if kind == "var" else await self.substitute(val, io)
            if quoted:
                cur = (cur or "") + text
                continue
            for k, piece in enumerate(re.split(r"[ \t\n]+", text)):
                if k > 0 and cur is not None:
                    fields.append(cur)
                    cur = None
                if piece:
                    cur = (cur or "") + piece
        if cur is not None:
            fields.append(cur)
        if glob:
            out = []
            for f in fields:
                matches = sorted(p for p in self.ctx_paths() if fnmatch.fnmatchcase(p, f)) if "*" in f else []
                out.extend(matches or [f])
            fields = out
        return fields

    async def expand_one(self, word, io):
        return " ".join(await self.expand_quoted(word, io))

    async def expand_quoted(self, word, io):
        """Assignment values and redirection targets: no field splitting, no globs."""
        text = ""
        for kind, val, _ in word.parts:
            if kind == "lit":
                text += val
            elif kind == "var":
                text += await self.value(val, io)
            else:
                text += await self.substitute(val, io)
        return [text]

    def ctx_paths(self):
        paths = ["/dev/null", "/dev/zero"]
        for pid in sorted(self.ctx.procs.procs):
            paths += ["/proc/%d/cmdline" % pid, "/proc/%d/environ" % pid]
        return paths

    async def redirect(self, redirs, io):
        if not redirs:
            return io
        fds = {0: io.stdin, 1: io.out, 2: io.err}
        for fd, op, target in redirs:
            path = await self.expand_one(target, io)
            if op in (">&", "<&"):
                if path == "-":
                    fds[fd] = NullSink() if fd else BytesReader()
                elif path.isdigit() and int(path) in fds:
                    fds[fd] = fds[int(path)]
                else:
                    raise ShellError("%s: Bad file descriptor" % path)
            elif op == "<":
                fds[fd] = open_file(self.ctx, path)
                if fds[fd] is None:
                    raise ShellError("cannot open %s: No such file" % path)
            elif path == "/dev/null":
                fds[fd] = NullSink()
            elif path in ("/dev/stdout", "/dev/stderr"):
                fds[fd] = fds[1 if path == "/dev/stdout" else 2]
            else:
                raise ShellError("cannot create %s: Read-only file system" % path)
        return IO(fds[0], fds[1], fds[2])


def open_file(ctx, path):
    """A reader for a virtual file, or None."""
    if path == "/dev/null":
        return BytesReader()
    if path == "/dev/zero":
        return ZeroReader()
    m = re.match(r"^/proc/(\d+)/(environ|cmdline)$", path)
    if m:
        proc = ctx.procs.procs.get(int(m.group(1)))
        if proc is not None:
            return BytesReader(proc.environ() if m.group(2) == "environ" else proc.cmdline())
    return None


# --- shell builtins ----------------------------------------------------------------------
async def _cd(sh, argv, io):
    target = argv[1] if len(argv) > 1 else sh.vars.get("HOME", "/")
    if not target.startswith("/"):
        target = sh.cwd.rstrip("/") + "/" + target
    parts = []
    for p in target.split("/"):
        if p == "..":
            parts = parts[:-1]
        elif p and p != ".":
            parts.append(p)
    sh.cwd = "/" + "/".join(parts)
    sh.vars["PWD"] = sh.cwd
    return 0


async def _export(sh, argv, io):
    for arg in argv[1:]:
        if arg == "-p":
            continue
        name, eq, value = arg.partition("=")
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ShellError("bad variable name", 2)
        if eq:
            sh.vars[name] = value
        sh.exported.add(name)
    return 0


async def _unset(sh, argv, io):
    for name in argv[1:]:
        sh.vars.pop(name, None)
        sh.exported.discard(name)
    return 0


async def _exit(sh, argv, io):
    if len(argv) > 1:
        if not argv[1].lstrip("-").isdigit():
            raise ShellError("Illegal number: %s" % argv[1])
        raise Exit(int(argv[1]) & 255)
    raise Exit(sh.status)


async def _exec(sh, argv, io):
    if len(argv) == 1:
        return 0
    await sh.command(argv[1:], {}, io)
    raise Exit(sh.status)


async def _set(sh, argv, io):
    for opt in argv[1:]:
        if opt in ("-e", "+e"):
            sh.errexit = opt == "-e"
        elif opt not in ("-x", "+x", "-u", "+u"):
            raise ShellError("Illegal option %s" % opt)
    return 0


async def _trap(sh, argv, io):
    if len(argv) < 3:
        return 0
    action = None if argv[1] == "-" else argv[1]
    for sig in argv[2:]:
        name = sig.upper()[3:] if sig.upper().startswith("SIG") else sig.upper()
        if name.isdigit():
            name = SIGNAMES.get(int(name), name)
        if action is None:
            sh.proc.traps.pop(name, None)
        else:
            sh.proc.traps[name] = action
    return 0


async def _read(sh, argv, io):
    names = [a for a in argv[1:] if a != "-r"] or ["REPLY"]
    line = await io.stdin.readline()
    if not line:
        return 1
    fields = line.decode("utf-8", "replace").rstrip("\n").split(None, len(names) - 1)
    for k, name in enumerate(names):
        sh.vars[name] = fields[k] if k < len(fields) else ""
    return 0


async def _wait(sh, argv, io):
    return 0


BUILTINS = {"cd": _cd, "export": _export, "unset": _unset, "exit": _exit, "exec": _exec, "set": _set,
            "trap": _trap, "read": _read, "wait": _wait}
INLINE = ("echo", "printf", "true", "false", ":", "kill", "pwd")


# --- utilities -----------------------------------------------------------------------------
class Cmd:
    """What a utility sees: argv, its streams, its process, its container."""

    def __init__(self, ctx, proc, argv, io, cwd, prefix):
        self.ctx = ctx
        self.proc = proc
        self.argv = argv
        self.args = argv[1:]
        self.io = io
        self.cwd = cwd
        self.prefix = prefix

    async def out(self, data):
        await self.io.out.write(data.encode() if isinstance(data, str) else data)

    async def error(self, text, status=1):
        await self.io.err.write(("%s: %s\n" % (self.prefix, text)).encode())
        return status

    def open(self, path):
        return self.io.stdin if path == "-" else open_file(self.ctx, path)


async def _echo(cmd):
    args = cmd.args
    newline = not (args and args[0] == "-n")
    await cmd.out(" ".join(args if newline else args[1:]) + ("\n" if newline else ""))
    return 0


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unescape(text):
    return re.sub(r"\\(0[0-7]{0,3}|.)", lambda m: chr(int(m.group(1), 8)) if m.group(1)[0] == "0"
                  else _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


async def _printf(cmd):
    if not cmd.args:
        return await cmd.error("usage: printf format [arg ...]", 2)
    fmt, args = cmd.args[0], list(cmd.args[1:])
    spec = re.compile(r"%([-+ 0#]*\d*(?:\.\d+)?)([sdibcxXo%])")
    out = []
    while True:
        used = [False]

        def conv(m):
            flags, kind = m.groups()
            if kind == "%":
                return "%"
            used[0] = True
            arg = args.pop(0) if args else ""
            if kind in "di":
                try:
                    return ("%" + flags + "d") % int(arg or "0")
                except ValueError:
                    return "0"
            if kind in "xXo":
                return ("%" + flags + kind) % int(arg or "0")
            if kind == "c":
                return arg[:1]
            if kind == "b":
                return _unescape(arg)
            return ("%" + flags + "s") % arg
        out.append(spec.sub(conv, _unescape(fmt)))
        if not args or not used[0]:
            break
    await cmd.out("".join(out))
    return 0


async def _true(cmd):
    return 0


async def _false(cmd):
    return 1


async def _pwd(cmd):
    await cmd.out(cmd.cwd + "\n")
    return 0


async def _kill(cmd):
    args, signo = list(cmd.args), 15
    if not args:
        return await cmd.error("Usage: kill [-s sigspec | -signum | -sigspec] [pid | job]... or\n"
                               "kill -l [exitstatus]", 2)
    if args[0] == "-s" and len(args) > 1:
        args = args[1:]
        args[0] = "-" + args[0]
    if args[0].startswith("-") and len(args[0]) > 1 and args[0] != "--":
        name = args.pop(0)[1:].upper()
        name = name[3:] if name.startswith("SIG") else name
        signo = int(name) if name.isdigit() else SIGNALS.get(name)
        if signo is None:
            return await cmd.error("invalid signal number or name: %s" % name, 2)
    elif args[0] == "--":
        args.pop(0)
    status = 0
    for arg in args:
        if not arg.isdigit():
            status = await cmd.error("Illegal number: %s" % arg, 2)
            continue
        proc = cmd.ctx.procs.procs.get(int(arg))
        if proc is None:
            status = await cmd.error("No such process")
            continue
        proc.signal(signo)
    await asyncio.sleep(0)
    return status


async def _sleep(cmd):
    if not cmd.args:
        return await cmd.error("missing operand")
    if cmd.args[0] == "infinity":
        await asyncio.Event().wait()
    m = re.match(r"^(\d+(?:\.\d*)?)([smhd]?)$", cmd.args[0])
    if not m:
        return await cmd.error("invalid time interval '%s'" % cmd.args[0])
    await asyncio.sleep(float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)])
    return 0


async def _each_input(cmd, files):
    """Yield (name, reader) for each operand (stdin when none); reports missing files."""
    for path in files or ["-"]:
        r = cmd.open(path)
        if r is None:
            yield path, None
        else:
            yield path, r


async def _cat(cmd):
    status = 0
    files = [a for a in cmd.args if a != "-u"]
    async for path, r in _each_input(cmd, files):
        if r is None:
            status = await cmd.error("%s: No such file or directory" % path)
            continue
        while True:
            data = await r.read()
            if not data:
                break
            await cmd.out(data)
    return status


def _count_arg(args, flag, default):
    """``-n N``, ``-nN`` (and ``-N`` for ``-n``) parsing for head/tail; returns
    (count, rest) or raises ValueError."""
    count, rest, k = default, [], 0
    while k < len(args):
        a = args[k]
        if a == flag:
            count = int(args[k + 1].lstrip("+"))
            k += 2
            continue
        if a.startswith(flag) and len(a) > 2:
            count = int(a[2:].lstrip("+"))
        elif flag == "-n" and re.match(r"^-\d+$", a):
            count = int(a[1:])
        else:
            rest.append(a)
        k += 1
    return count, rest


async def _head(cmd):
    try:
        nbytes, args = _count_arg(cmd.args, "-c", None)
        lines, files = _count_arg(args, "-n", 10)
    except (ValueError, IndexError):
        return await cmd.error("invalid number", 1)
    async for path, r in _each_input(cmd, files):
        if r is None:
            return await cmd.error("cannot open '%s' for reading: No such file or directory" % path)
        if nbytes is not None:
            left = nbytes
            while left > 0:
                data = await r.read(min(left, PIPE_BYTES))
                if not data:
                    break
                left -= len(data)
                await cmd.out(data)
        else:
            left = lines
            while left > 0:
                data = await r.readline()
                if not data:
                    break
                left -= 1
                await cmd.out(data)
    return 0


async def _tail(cmd):
    if "-f" in cmd.args or "-F" in cmd.args:
        await asyncio.Event().wait()
    try:
        lines, files = _count_arg(cmd.args, "-n", 10)
    except (ValueError, IndexError):
        return await cmd.error("invalid number of lines", 1)
    async for path, r in _each_input(cmd, files):
        if r is None:
            return await cmd.error("cannot open '%s' for reading: No such file or directory" % path)
        data = bytearray()
        while True:
            chunk = await r.read()
            if not chunk:
                break
            data += chunk
            if len(data) > CAPTURE_BYTES:
                del data[:len(data) - CAPTURE_BYTES]
        kept = bytes(data).splitlines(keepends=True)[-lines:] if lines else []
        await cmd.out(b"".join(kept))
    return 0


async def _seq(cmd):
    try:
        nums = [int(a) for a in cmd.args]
    except ValueError:
        return await cmd.error("invalid argument", 1)
    if len(nums) == 1:
        first, step, last = 1, 1, nums[0]
    elif len(nums) == 2:
        first, step, last = nums[0], 1, nums[1]
    elif len(nums) == 3:
        first, step, last = nums
    else:
        return await cmd.error("missing operand", 1)
    if step == 0:
        return await cmd.error("invalid Zero increment value: '0'", 1)
    numbers = range(first, last + (1 if step > 0 else -1), step)
    for k in range(0, len(numbers), 8192):
        await cmd.out("\n".join(map(str, numbers[k:k + 8192])) + "\n")
    return 0


async def _grep(cmd):
    opts, args = set(), []
    for a in cmd.args:
        if a.startswith("-") and len(a) > 1 and not args:
            opts.update(a[1:])
        else:
            args.append(a)
    if not args:
        return await cmd.error("usage: grep [-lqvcFEis] PATTERN [FILE...]", 2)
    pattern, files = args[0], args[1:]
    flags = re.I if "i" in opts else 0
    if "F" in opts:
        rx = re.compile(re.escape(pattern).encode(), flags)
    elif "E" in opts:
        rx = re.compile(pattern.encode(), flags)
    else:
        bre = re.sub(r"\\([(){}|+?])|([(){}|+?])", lambda m: m.group(1) or "\\" + m.group(2), pattern)
        rx = re.compile(bre.encode(), flags)
    found, status = False, 0
    async for path, r in _each_input(cmd, files):
        if r is None:
            if "s" not in opts:
                await cmd.error("%s: No such file or directory" % path)
            status = 2
            continue
        name = "(standard input)" if path == "-" else path
        prefix = name.encode() + b":" if len(files) > 1 else b""
        count = 0
        while True:
            ln = await r.readline()
            if not ln:
                break
            ln = ln[:-1] if ln.endswith(b"\n") else ln
            if bool(rx.search(ln)) == ("v" in opts):
                continue
            count += 1
            if "q" in opts:
                return 0
            if "l" in opts:
                await cmd.out(name + "\n")
                break
            if "c" not in opts:
                await cmd.out(prefix + ln + b"\n")
        if "c" in opts:
            await cmd.out(prefix + b"%d\n" % count)
        found = found or count > 0
    return status if status else (0 if found else 1)


def _ranges(spec):
    out = []
    for part in spec.split(","):
        lo, dash, hi = part.partition("-")
        a = int(lo) if lo else 1
        b = (int(hi) if hi else None) if dash else a
        if a < 1 or (b is not None and b < a):
            raise ValueError(spec)
        out.append((a, b))
    return out


async def _cut(cmd):
    delim, fields, chars, files = "\t", None, None, []
    args = list(cmd.args)
    try:
        while args:
            a = args.pop(0)
            if a in ("-d", "-f", "-c"):
                value = args.pop(0)
            elif a[:2] in ("-d", "-f", "-c") and len(a) > 2:
                value = a[2:]
            else:
                files.append(a)
                continue
            if a.startswith("-d"):
                delim = value
            elif a.startswith("-f"):
                fields = _ranges(value)
            else:
                chars = _ranges(value)
    except (IndexError, ValueError):
        return await cmd.error("invalid field list or missing argument", 1)
    if (fields is None) == (chars is None) or len(delim) != 1:
        return await cmd.error("you must specify a list of bytes, characters, or fields", 1)

    def pick(items, ranges):
        return [items[k - 1] for k in range(1, len(items) + 1) if any(k >= a and (b is None or k <= b)
                                                                     for a, b in ranges)]
    async for path, r in _each_input(cmd, files):
        if r is None:
            await cmd.error("%s: No such file or directory" % path)
            continue
        while True:
            line = await r.readline()
            if not line:
                break
            text = line.decode("utf-8", "replace").rstrip("\n")
            if chars is not None:
                await cmd.out("".join(pick(list(text), chars)) + "\n")
            elif delim not in text:
                await cmd.out(text + "\n")
            else:
                await cmd.out(delim.join(pick(text.split(delim), fields)) + "\n")
    return 0


async def _wc(cmd):
    opts = "".join(a[1:] for a in cmd.args if a.startswith("-")) or "lwc"
    counts = {"l": 0, "w": 0, "c": 0}
    in_word = False
    while True:
        chunk = await cmd.io.stdin.read()
        if not chunk:
            break
        counts["l"] += chunk.count(b"\n")
        counts["c"] += len(chunk)
        words = chunk.split()
        counts["w"] += len(words) - (1 if words and in_word and not chunk[:1].isspace() else 0)
        in_word = not chunk[-1:].isspace()
    picked = [counts[k] for k in "lwc" if k in opts]
    await cmd.out((" ".join("%7d" % n for n in picked) if len(picked) > 1 else str(picked[0])) + "\n")
    return 0


async def _env(cmd):
    args, env = list(cmd.args), dict(cmd.proc.env)
    while args:
        a = args[0]
        if a in ("-i", "-"):
            env = {}
        elif a == "-u" and len(args) > 1:
            env.pop(args.pop(1), None)
        elif "=" in a and not a.startswith("="):
            name, _, value = a.partition("=")
            env[name] = value
        else:
            break
        args.pop(0)
    if not args:
        await cmd.out("".join("%s=%s\n" % kv for kv in sorted(env.items())))
        return 0
    if not image_has(cmd.ctx.image, args[0]):
        return await cmd.error("'%s': No such file or directory" % args[0], 127)
    cmd.proc.env = env
    cmd.proc.argv = args
    return await execve(cmd.ctx, cmd.proc, args, cmd.io, cmd.cwd)


async def _printenv(cmd):
    env = cmd.proc.env
    if not cmd.args:
        await cmd.out("".join("%s=%s\n" % kv for kv in sorted(env.items())))
        return 0
    status = 0
    for name in cmd.args:
        if name in env:
            await cmd.out(env[name] + "\n")
        else:
            status = 1
    return status


async def _hostname(cmd):
    await cmd.out(cmd.ctx.hostname + "\n")
    return 0


async def _date(cmd):
    await cmd.out(time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()) + "\n")
    return 0


UTILITIES = {"echo": _echo, "printf": _printf, "true": _true, "false": _false, ":": _true, "pwd": _pwd,
             "kill": _kill, "sleep": _sleep, "cat": _cat, "head": _head, "tail": _tail, "seq": _seq,
             "grep": _grep, "cut": _cut, "wc": _wc, "env": _env, "printenv": _printenv,
             "hostname": _hostname, "date": _date}
