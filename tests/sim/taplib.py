"""TAP reporting for the simulators' Python self-tests.

``Tap.check(name, fn)`` runs one check (it passes unless ``fn`` raises; the
exception is the diagnosis), ``Tap.report()`` prints ``1..N`` and one
``ok``/``not ok`` line per check and returns the number of failures.
``expect(cond, message, *args)`` raises AssertionError with the message.
"""


class Tap:
    def __init__(self):
        self.results = []

    def check(self, name, fn):
        """Run ``fn``; it passes unless it raises (AssertionError carries the diagnosis)."""
        try:
            fn()
            self.results.append((True, name, None))
        except Exception as exc:  # every failure is reported, none stops the run
            self.results.append((False, name, "%s: %s" % (type(exc).__name__, exc)))

    def skip(self, name, why):
        self.results.append((True, name + " # SKIP " + why, None))

    def report(self):
        print("1..%d" % len(self.results))
        failed = 0
        for i, (ok, name, diag) in enumerate(self.results, 1):
            print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
            if not ok:
                failed += 1
                for line in diag.splitlines():
                    print("# " + line)
        return failed


def expect(cond, message="", *args):
    if not cond:
        raise AssertionError(message % args if args else message)
