#!/bin/sh
# kubeagentd: reads its config, loads plugins, logs them, stops on signals.
. "$top_srcdir/tests/cli/lib.sh"
d=$(tmpdir)
trap 'rm -rf "$d"' EXIT

printf 'kubeagent: {http: {listen: "127.0.0.1:0"}}\n' > "$d/k.yaml"
# wait for the "ready" line (an event), then SIGTERM
mkfifo "$d/log"
"$KUBEAGENTD" -c "$d/k.yaml" --log-level info 2>"$d/log" &
pid=$!
exec 3<"$d/log"
ready=no
while IFS= read -r line <&3; do
        printf '%s\n' "$line" >> "$d/all.log"
        case "$line" in *"ready:"*) ready=yes; break ;; esac
done
expect_eq "$ready" yes "kubeagentd reports ready"
all=$(cat "$d/all.log")
expect_match "$all" "loaded retention plugin on-failure" "logs the plugins it loaded"
kill -TERM "$pid"
cat <&3 >> "$d/all.log"
exec 3<&-
wait "$pid"; rc=$?
expect_eq "$rc" 0 "exits 0 on SIGTERM"

"$KUBEAGENTD" -c "$d/nonexistent.yaml" 2>"$d/err"; rc=$?
expect_eq "$rc" 2 "a missing config exits 2"
expect_match "$(cat "$d/err")" "nonexistent.yaml: No such file or directory" "and names the file"

printf 'a: [1\n' > "$d/bad.yaml"
"$KUBEAGENTD" -c "$d/bad.yaml" 2>"$d/err"; rc=$?
expect_eq "$rc" 2 "a broken config exits 2"
expect_match "$(cat "$d/err")" "bad.yaml:2:1:" "with file:line:col"

KUBEAGENT_PLUGIN_PATH="$KA_TEST_PLUGIN_DIR" "$KUBEAGENTD" -c "$d/k.yaml" 2>"$d/err"; rc=$?
expect_eq "$rc" 1 "refused plugins stop the daemon with 1"
expect_match "$(cat "$d/err")" "test-twin.so: a plugin named \"test-good\" is already loaded" "naming each refusal"

printf 'kubeagent:\n  http: {listen: "0.0.0.0:0"}\n  templates: {expireAfter: 10m}\n' > "$d/open.yaml"
"$KUBEAGENTD" -c "$d/open.yaml" 2>"$d/err"; rc=$?
expect_eq "$rc" 2 "the registration API beyond loopback without a token: refuses to start with 2"
expect_match "$(cat "$d/err")" "open.yaml:3:14: the template registration API needs tokenFile" "located, saying why"

"$KUBEAGENTD" --log-format json -c "$d/k.yaml" --bogus 2>/dev/null; rc=$?
expect_eq "$rc" 2 "an unknown option exits 2"
done_testing
