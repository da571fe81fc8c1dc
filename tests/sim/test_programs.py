#!/usr/bin/env python3
"""TAP tests of the simulator's container interpreter (programs.py), in-process.

Each case starts a process the way the exec endpoint does (``start_exec``) in a
fake container and compares its exit status, stdout and stderr.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import programs as P  # noqa: E402


class Ctx:
    def __init__(self, image="busybox:1.36"):
        self.env = {"HOME": "/root", "FOO": "bar baz"}
        self.image = image
        self.workdir = "/w"
        self.hostname = "pod-1"
        self.procs = P.ProcTable()
        self.procs.start(["sleep", "infinity"], self.env)


async def run(argv, stdin=b"", image="busybox:1.36", ctx=None):
    ctx = ctx or Ctx(image)
    out, err = P.Capture(), P.Capture()
    try:
        proc = P.start_exec(ctx, argv, P.IO(P.BytesReader(stdin), out, err))
    except P.StartError as e:
        return "StartError", str(e), ""
    code = await P.exit_status(proc)
    ctx.procs.end(proc)
    return code, out.text(), err.text()


SCRIPT = b"""cd "/work/space"
export A='it'\\''s'
export B='two
lines'
"printenv" "A"
"printenv" "B"
"pwd"
"sh" "-c" "exit 4"
exit
"""

CASES = [
    ("echo, stderr redirection, exit", ["sh", "-c", "echo out; echo err >&2; exit 3"], b"", (3, "out\n", "err\n")),
    ("unknown command: 127 (dash wording)", ["sh", "-c", "nosuch x"], b"", (127, "", "sh: 1: nosuch: not found\n")),
    ("unknown command: 127 (bash wording)", ["bash", "-c", "\n\nnosuch"], b"",
     (127, "", "bash: line 3: nosuch: command not found\n"), "maven:3.9"),
    ("quoting and expansion", ["sh", "-c", "echo '$HOME' \"$HOME\" $FOO \"$FOO\" a\\ b"], b"",
     (0, "$HOME /root bar baz bar baz a b\n", "")),
    ("cd, pwd, relative paths", ["sh", "-c", "pwd; cd /tmp && pwd; cd ../usr/./lib; pwd; cd; pwd"], b"",
     (0, "/w\n/tmp\n/usr/lib\n/root\n", "")),
    ("cat echoes stdin", ["cat"], b"abc\x00\xffdef", (0, "abc\x00\ufffd" + "def", "")),
    ("the plugin's script on stdin", ["sh"], SCRIPT, (4, "it's\ntwo\nlines\n/work/space\n", "")),
    ("pipelines, seq, head, tail, wc", ["sh", "-c", "seq 3 | tail -1; seq 1 100000 | wc -l; "
                                       "cat /dev/zero | head -c 70000 | wc -c; seq 5 | head -2"], b"",
     (0, "3\n100000\n70000\n1\n2\n", "")),
    ("for, if/elif, until, $(...), backquotes", ["sh", "-c",
     "for p in $(echo 1 2) `echo 3`; do printf '%s-' $p; done; echo; if false; then echo no; elif true; then "
     "echo yes; else echo never; fi; until true; do :; done"], b"", (0, "1-2-3-\nyes\n", "")),
    ("&&, ||, !, $?", ["sh", "-c", "false && echo no; false || echo yes; ! true; echo $?; x=$(exit 3); echo $?"],
     b"", (0, "yes\n1\n3\n", "")),
    ("positional parameters and defaults", ["sh", "-c", 'echo $0 $# $1 "$@" ${2:-two} ${#1}', "name", "a1"], b"",
     (0, "name 1 a1 a1 two 2\n", "")),
    ("read", ["sh", "-c", 'read a b; echo "[$b][$a]"; read c || echo eof'], b"one two three\n",
     (0, "[two three][one]\neof\n", "")),
    ("set -e and sh -e", ["sh", "-ec", "false; echo notreached"], b"", (1, "", "")),
    ("syntax errors", ["sh", "-c", "echo 'open"], b"", (2, "", "sh: 1: Syntax error: Unterminated quoted string\n")),
    ("syntax error on stdin stops the shell", ["sh"], b"echo a\nfi\necho b\n",
     (2, "a\n", 'sh: 2: Syntax error: "fi" unexpected\n')),
    ("multi-line constructs on stdin", ["sh"], b"echo a\nwhile true\ndo echo b; exit 5\ndone\necho c\n",
     (5, "a\nb\n", "")),
    ("read-only file system", ["sh", "-c", "echo x > /tmp/f; echo $?; echo y > /dev/null"], b"",
     (0, "2\n", "sh: 1: cannot create /tmp/f: Read-only file system\n")),
    ("kill errors", ["sh", "-c", "kill; echo $?; kill 99; echo $?"], b"",
     (0, "2\n1\n", "sh: 1: kill: Usage: kill [-s sigspec | -signum | -sigspec] [pid | job]... or\n"
                   "kill -l [exitstatus]\nsh: 1: kill: No such process\n")),
    ("printf reuses its format", ["printf", "%s=%d\\n", "a", "1", "b", "2"], b"", (0, "a=1\nb=2\n", "")),
    ("env sets variables for a command; env -i", ["env", "-i", "X=1", "printenv"], b"", (0, "X=1\n", "")),
    ("env: missing command is 127", ["env", "nosuch"], b"", (127, "", "env: 'nosuch': No such file or directory\n")),
    ("grep -l over /proc and cut", ["sh", "-c", "grep -l 'FOO=bar baz' /proc/*/environ | cut -d / -f 3"], b"",
     (0, "1\n2\n", "")),
    ("grep -c, -v, -q, BRE", ["sh", "-c", "seq 20 | grep -c 1; seq 3 | grep -v 2; seq 3 | grep -q 4; echo $?; "
                              "echo 'a+b' | grep 'a+b'"], b"", (0, "11\n1\n3\n1\na+b\n", "")),
    ("a writer into a closed pipe ends with 141", ["sh", "-c", "seq 1 1000000 | head -1; echo done"], b"",
     (0, "1\ndone\n", "")),
    ("unknown executable cannot start", ["nosuch"], b"",
     ("StartError", 'exec: "nosuch": executable file not found in $PATH: unknown', "")),
    ("busybox has no bash", ["/bin/bash"], b"",
     ("StartError", 'exec: "/bin/bash": stat /bin/bash: no such file or directory: unknown', "")),
]


async def kill_cases(tap):
    ctx = Ctx()
    out = P.Capture()
    stdin = P.Pipe()
    first = P.start_exec(ctx, ["sh"], P.IO(stdin, out, P.Capture()))
    await stdin.write(b"export M='m1'\n\"sleep\" \"100\"\nexit\n")
    await asyncio.sleep(0.05)
    code, _, _ = await run(["sh", "-c", "kill $(grep -l 'M=m1' /proc/*/environ | cut -d / -f 3)"], ctx=ctx)
    status = await asyncio.wait_for(P.exit_status(first), 5)
    tap(code == 0 and status == 143, "kill by marker ends the marked child, the shell exits with its status")
    direct = P.start_exec(ctx, ["env", "M=m2", "sleep", "100"], P.IO(P.BytesReader(), P.Capture(), P.Capture()))
    await asyncio.sleep(0.01)
    await run(["sh", "-c", "kill -TERM $(grep -l M=m2 /proc/*/environ | cut -d / -f 3)"], ctx=ctx)
    tap(await asyncio.wait_for(P.exit_status(direct), 5) == 143, "env-started process killed by its marker")
    trapped = P.start_exec(ctx, ["sh", "-c", "trap 'exit 7' TERM; sleep 100"],
                           P.IO(P.BytesReader(), P.Capture(), P.Capture()))
    await asyncio.sleep(0.01)
    trapped.signal(15)
    tap(await asyncio.wait_for(P.exit_status(trapped), 5) == 7, "a trap decides the exit status")
    pid1 = ctx.procs.procs[1]
    got = []
    pid1.deliver = got.append
    await run(["kill", "-9", "1"], ctx=ctx)
    tap(got == [9] and 1 in ctx.procs.procs, "signals to PID 1 go to the container's program")
    left = P.start_exec(ctx, ["sleep", "100"], P.IO(P.BytesReader(), P.Capture(), P.Capture()))
    await asyncio.sleep(0)
    ctx.procs.kill_all()
    tap(await asyncio.wait_for(P.exit_status(left), 5) == 137, "a stopped container kills its exec'd processes")


async def main():
    results = []

    def tap(ok, name):
        results.append((ok, name))

    for name, argv, stdin, want, *image in CASES:
        got = await asyncio.wait_for(run(argv, stdin, *image), 10)
        tap(got == want, name + ("" if got == want else " # got %r" % (got,)))
    await kill_cases(tap)
    print("1..%d" % len(results))
    for i, (ok, name) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
