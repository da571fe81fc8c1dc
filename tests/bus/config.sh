#!/bin/sh
# kubeagent.bus in `kubeagent check` and kubeagentd: located errors, and a
# tcp bus is refused without a usable key.
. "$top_srcdir/tests/cli/lib.sh"
d=$(tmpdir)
trap 'rm -rf "$d"' EXIT

check() {  # check FILE: output (stdout+stderr) in $out, exit status in $rc
        out=$("$KUBEAGENT" check -c "$1" 2>&1); rc=$?
}

printf 'kubeagent:\n  bus:\n    workers: tcp://*:7070\n' > "$d/nokey.yaml"
check "$d/nokey.yaml"
expect_eq "$rc" 2 "check: a tcp bus without keyFile is an error"
expect_match "$out" "nokey.yaml:3:5: error: a tcp:// bus needs keyFile" "check: blames the tcp address with file:line:col"
"$KUBEAGENTD" -c "$d/nokey.yaml" 2>"$d/err"; rc=$?
expect_eq "$rc" 2 "kubeagentd refuses to start a tcp bus without a key"
expect_match "$(cat "$d/err")" "nokey.yaml:3:5: a tcp:// bus needs keyFile" "kubeagentd: says where and why"

openssl rand -hex 32 > "$d/bus.key" 2>/dev/null || printf '%064d\n' 7 > "$d/bus.key"
chmod 644 "$d/bus.key"
printf 'kubeagent:\n  bus:\n    workers: tcp://*:7070\n    keyFile: bus.key\n' > "$d/open.yaml"
check "$d/open.yaml"
expect_eq "$rc" 2 "check: a key file others can read is an error"
expect_match "$out" "open.yaml:4:5: error: bus key file $d/bus.key: mode 0644 lets others read or change it" \
        "check: blames keyFile and says how to fix it"
"$KUBEAGENTD" -c "$d/open.yaml" 2>"$d/err"; rc=$?
expect_eq "$rc" 2 "kubeagentd refuses it too"
chmod 600 "$d/bus.key"
check "$d/open.yaml"
expect_eq "$rc" 0 "check: a tcp bus with a good key passes"
expect_match "$out" "bus: workers tcp://*:7070, frontends inproc://kubeagent-frontends, sealed" "check: summarises the bus"
expect_no_match "$out" "$(cat "$d/bus.key")" "check: never shows the key"

printf 'kubeagent:\n  bus:\n    keyFile: missing.key\n' > "$d/missing.yaml"
check "$d/missing.yaml"
expect_eq "$rc" 2 "check: a missing key file is an error"
expect_match "$out" "missing.yaml:3:5: error: bus key file $d/missing.key: No such file or directory" \
        "check: names the key file (resolved against the config's folder)"

printf 'kubeagent:\n  bus:\n    leaseDuration: 10\n    renewInterval: 6\n    leaseDuratoin: 3\n' > "$d/typo.yaml"
check "$d/typo.yaml"
expect_eq "$rc" 2 "check: an unknown bus key is an error"
expect_match "$out" "typo.yaml:5:5: error: unknown key \"leaseDuratoin\" (did you mean \"leaseDuration\"?)" \
        "check: with a suggestion"

printf 'kubeagent:\n  bus:\n    leaseDuration: 10\n    renewInterval: 6\n' > "$d/renew.yaml"
check "$d/renew.yaml"
expect_eq "$rc" 2 "check: renewing less often than every half lease is an error"
expect_match "$out" "renew.yaml:4:5: error: renewInterval must be more than 0 and at most half of leaseDuration" \
        "check: blames renewInterval"

printf 'kubeagent:\n  bus:\n    frontends: ws://x:80\n' > "$d/ws.yaml"
check "$d/ws.yaml"
expect_match "$out" "ws.yaml:3:5: error: bus address \"ws://x:80\": websocket transports are not supported" \
        "check: refuses a websocket address"

printf 'kubeagent: {}\n' > "$d/default.yaml"
check "$d/default.yaml"
expect_eq "$rc" 0 "check: no bus block means the in-process defaults"
expect_match "$out" "bus: workers inproc://kubeagent-workers, frontends inproc://kubeagent-frontends, in clear (local only)" \
        "check: shows them"
done_testing
