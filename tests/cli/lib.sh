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
done_testing() { echo "1..$n"; [ "$failed" -eq 0 ]; }
tmpdir() { mktemp -d "${TMPDIR:-/tmp}/ka-test-XXXXXX"; }
