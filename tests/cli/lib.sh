# tests/cli/lib.sh — TAP helpers for shell tests.  Source it, call the
# checks, end with `done_testing`.
n=0
failed=0
ok() {  # ok CONDITION-EXIT-STATUS NAME
        n=$((n + 1))
        if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
# expect_match TEXT PATTERN NAME: TEXT contains PATTERN (fixed string)
expect_match() {
        n=$((n + 1))
        case "$1" in
        *"$2"*) echo "ok $n - $3" ;;
        *) echo "not ok $n - $3"; printf '# expected to contain: %s\n# got:\n' "$2"; printf '%s\n' "$1" | sed 's/^/#   /'
           failed=$((failed + 1)) ;;
        esac
}
expect_no_match() {
        n=$((n + 1))
        case "$1" in
        *"$2"*) echo "not ok $n - $3"; printf '# expected not to contain: %s\n' "$2"; failed=$((failed + 1)) ;;
        *) echo "ok $n - $3" ;;
        esac
}
expect_eq() {  # expect_eq GOT WANT NAME
        n=$((n + 1))
        if [ "$1" = "$2" ]; then echo "ok $n - $3"; else
                echo "not ok $n - $3"; printf '# got: %s\n# expected: %s\n' "$1" "$2"; failed=$((failed + 1)); fi
}
# expect_golden GOT-FILE GOLDEN-FILE NAME: the same text; with KA_GOLDEN_UPDATE
# set, GOT-FILE is first copied over the golden file (then review the diff).
expect_golden() {
        [ -n "$KA_GOLDEN_UPDATE" ] && cp "$1" "$2"
        n=$((n + 1))
        if diff -u "$2" "$1" > "$1.diff" 2>&1; then echo "ok $n - $3"; else
                echo "not ok $n - $3"; sed 's/^/# /' "$1.diff" | head -60; failed=$((failed + 1)); fi
        rm -f "$1.diff"
}
skip() { n=$((n + 1)); echo "ok $n - $2 # SKIP $1"; }
done_testing() {
        [ -z "${ka_vg:-}" ] || valgrind_verdict
        echo "1..$n"
        [ "$failed" -eq 0 ]
}
tmpdir() { mktemp -d "${TMPDIR:-/tmp}/ka-test-XXXXXX"; }

# Under make check-valgrind (KA_VALGRIND set), $KUBEAGENT and $KUBEAGENTD
# run under valgrind through tests/testwrapper.sh, each run reporting to a
# file of its own; done_testing then adds a test that every report is empty.
if [ -n "${KA_VALGRIND:-}" ]; then
        ka_vg=${KA_VALGRIND_LOGDIR:-${TMPDIR:-/tmp}}/$(basename "$0" .sh).$$
        mkdir -p "$ka_vg"
        for ka_v in KUBEAGENT KUBEAGENTD; do
                eval "ka_real=\$$ka_v"
                ka_run=$ka_vg/$(basename "$ka_real")
                printf '#!/bin/sh\nKA_VALGRIND_LOG=%s exec /bin/sh %s %s "$@"\n' "'$ka_run.%p.vg'" \
                        "'$top_srcdir/tests/testwrapper.sh'" "'$ka_real'" >"$ka_run"
                chmod +x "$ka_run"
                eval "$ka_v=\$ka_run"
        done
fi
valgrind_verdict() {
        ka_runs=0
        ka_bad=
        for ka_f in "$ka_vg"/*.vg; do
                [ -e "$ka_f" ] || continue
                ka_runs=$((ka_runs + 1))
                [ -s "$ka_f" ] && ka_bad="$ka_bad $ka_f"
        done
        if [ -z "$ka_bad" ]; then
                ok 0 "valgrind: $ka_runs runs of kubeagent/kubeagentd without memory errors or leaks"
        else
                ok 1 "valgrind: memory errors or leaks in kubeagent/kubeagentd (reports in $ka_vg)"
                for ka_f in $ka_bad; do
                        sed 's/^/# /' "$ka_f"
                done
        fi
}
