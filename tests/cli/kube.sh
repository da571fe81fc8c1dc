#!/bin/sh
# kubeagent pods, logs and doctor against the Kubernetes API simulator,
# through every credential plugin: token, certificate (PKCS#12 and PEM),
# service-account, kubeconfig (--kubeconfig, --context, KUBECONFIG).
. "${top_srcdir:-.}/tests/cli/lib.sh"
. "${top_srcdir:-.}/tests/cli/kubesim.sh"
d=$(tmpdir)
trap 'kubesim_stop; rm -rf "$d"' EXIT
if ! kubesim_start "$d/sim"; then
        echo "1..0 # SKIP $KUBESIM_WHY"
        exit 0
fi
s=$d/sim
export HOME=$d/home KUBECONFIG=
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
mkdir -p "$HOME"
K=$KUBEAGENT

pod() {  # pod NAME IMAGE [SPEC-EXTRA-JSON]
        kubesim_api POST /api/v1/namespaces/ci/pods \
                "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\",\"labels\":{\"jenkins\":\"slave\"}},\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"jnlp\",\"image\":\"$2\"${3:-}}]}}" >/dev/null
}
pod agent-ok busybox:1.36 ',"command":["sh","-c","echo line1; echo line2; echo line3"]'
pod agent-pull example.com/nope/agent:1
kubesim_api POST /api/v1/namespaces/ci/pods \
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"not-an-agent"},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}' >/dev/null
# wait (on the server, not a clock) until agent-ok has finished
kubesim_wait_phase agent-ok Succeeded
ok $? "agent-ok ran to completion"

config() {  # config FILE CREDENTIALS-YAML
        cat >"$1" <<YAML
credentials:
  c: $2
jenkins:
  clouds:
    - kubernetes:
        name: sim
        serverUrl: "$KUBESIM_SERVER"
        credentialsId: c
        namespace: ci
YAML
}

check_plugin() {  # check_plugin NAME CONFIG
        out=$("$K" -c "$2" pods 2>&1); rc=$?
        expect_eq "$rc" 0 "$1: pods exits 0"
        expect_match "$out" "agent-ok" "$1: pods lists the agent pods"
        expect_no_match "$out" "not-an-agent" "$1: and only them (label jenkins=slave)"
        expect_match "$out" "kubesim-node-" "$1: with their node"
        line=$(printf '%s\n' "$out" | grep '^agent-pull ')
        case "$line" in
        *ErrImagePull*|*ImagePullBackOff*) ok 0 "$1: the reason a pod is not running" ;;
        *) ok 1 "$1: the reason a pod is not running (got: $line)" ;;
        esac
        out=$("$K" -c "$2" logs agent-ok 2>&1); rc=$?
        expect_eq "$rc" 0 "$1: logs exits 0"
        expect_eq "$out" "line1
line2
line3" "$1: logs prints the container log"
        out=$("$K" -c "$2" doctor 2>&1); rc=$?
        expect_match "$out" "ok    connection: $KUBESIM_SERVER" "$1: doctor reaches the server"
        expect_match "$out" "Kubernetes v" "$1: doctor shows the server version"
        expect_match "$out" "ok    authenticated as: " "$1: doctor says who we are"
}

config "$d/token.yaml" "{type: token, tokenFile: $s/sa-token, caFile: $s/ca.crt}"
check_plugin token "$d/token.yaml"
out=$("$K" -c "$d/token.yaml" doctor 2>&1); rc=$?
expect_eq "$rc" 0 "token (service account rights): doctor exits 0"
expect_match "$out" "system:serviceaccount:ci:kubeagent" "doctor: the service account's name"
expect_match "$out" "ok    pods/exec create: allowed" "doctor: one line per permission"
expect_match "$out" "0 checks failed" "doctor: the summary"

config "$d/p12.yaml" "{type: certificate, p12File: $s/client.p12, passwordFile: $s/client.p12.pass, caFile: $s/ca.crt}"
check_plugin "certificate (PKCS#12)" "$d/p12.yaml"
config "$d/legacy.yaml" "{type: certificate, p12File: $s/client-legacy.p12, passwordFile: $s/client.p12.pass, caFile: $s/ca.crt}"
out=$("$K" -c "$d/legacy.yaml" pods 2>&1)
expect_match "$out" "agent-ok" "certificate (legacy PKCS#12): pods"
config "$d/pem.yaml" "{type: certificate, certFile: $s/admin.crt, keyFile: $s/admin.key, caFile: $s/ca.crt}"
check_plugin "certificate (PEM)" "$d/pem.yaml"

export KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$KUBESIM_PORT
config "$d/sa.yaml" "{type: service-account, dir: $s/incluster}"
sed -i '/serverUrl/d' "$d/sa.yaml"
check_plugin service-account "$d/sa.yaml"
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT

config "$d/kc.yaml" "{type: kubeconfig, path: $s/kubeconfig-exec}"
sed -i '/serverUrl/d' "$d/kc.yaml"
check_plugin "kubeconfig (exec plugin)" "$d/kc.yaml"

# no config file: --kubeconfig, --context, KUBECONFIG autodetection
out=$("$K" --kubeconfig "$s/kubeconfig-cert" pods 2>&1)
expect_match "$out" "agent-ok" "--kubeconfig: pods"
out=$("$K" --kubeconfig "$s/kubeconfig-cert-data" --context kubesim logs agent-ok --tail 1 2>&1)
expect_eq "$out" "line3" "--kubeconfig --context: logs --tail 1"
out=$("$K" --kubeconfig "$s/kubeconfig-token" --context nosuch pods 2>&1); rc=$?
expect_eq "$rc" 2 "--context that does not exist: exit 2"
expect_match "$out" 'context "nosuch" does not exist' "--context that does not exist: says so"
out=$(KUBECONFIG="$d/missing:$s/kubeconfig-tokenfile" "$K" pods 2>&1)
expect_match "$out" "agent-ok" "KUBECONFIG list, autodetected: pods"
out=$("$K" pods 2>&1); rc=$?
expect_eq "$rc" 2 "no credentials anywhere: exit 2"
expect_match "$out" "no Kubernetes credentials found" "no credentials anywhere: says what to do"

# logs options and errors
out=$("$K" -c "$d/token.yaml" logs agent-ok --limit-bytes 3 2>&1)
expect_eq "$out" "lin" "logs --limit-bytes"
out=$("$K" -c "$d/token.yaml" logs agent-ok --since 3600 -c jnlp 2>&1)
expect_match "$out" "line2" "logs --since -c"
out=$("$K" -c "$d/token.yaml" logs agent-ok -f 2>&1); rc=$?
expect_eq "$rc.$out" "0.line1
line2
line3" "logs -f of a finished container ends"
out=$("$K" -c "$d/token.yaml" logs agent-ok -c nosuch 2>&1); rc=$?
expect_eq "$rc" 1 "logs of an unknown container: exit 1"
expect_match "$out" "container nosuch is not valid for pod agent-ok" "logs: the server's reason"
out=$("$K" -c "$d/token.yaml" logs no-such-pod 2>&1); rc=$?
expect_eq "$rc" 1 "logs of a missing pod: exit 1"
expect_match "$out" "not found (404" "logs of a missing pod: says so"
out=$("$K" -c "$d/token.yaml" logs 2>&1); rc=$?
expect_eq "$rc" 2 "logs without a pod: usage, exit 2"
out=$("$K" -c "$d/token.yaml" logs agent-ok --tail x 2>&1); rc=$?
expect_eq "$rc" 2 "logs --tail x: exit 2"

# namespace and selector
out=$("$K" -c "$d/pem.yaml" -n default pods 2>&1)
expect_match "$out" "no agent pods (jenkins=slave) in namespace default" "-n overrides the cloud's namespace"

# doctor with too few rights, and with a server it cannot trust
config "$d/restricted.yaml" "{type: token, tokenFile: $s/token-restricted, caFile: $s/ca.crt}"
out=$("$K" -c "$d/restricted.yaml" doctor 2>&1); rc=$?
expect_eq "$rc" 1 "doctor with missing permissions: exit 1"
expect_match "$out" "FAIL  pods create: not allowed" "doctor: FAIL lines"
expect_match "$out" "fix: grant verb \"create\" on \"pods\" in namespace ci to restricted" "doctor: with the fix"
expect_match "$out" "ok    pods/log get: allowed" "doctor: ok lines next to them"
config "$d/wrongca.yaml" "{type: token, tokenFile: $s/sa-token, caFile: $s/other-ca.crt}"
out=$("$K" -c "$d/wrongca.yaml" doctor 2>&1); rc=$?
expect_eq "$rc" 1 "doctor against an untrusted server: exit 1"
expect_match "$out" "FAIL  connection:" "doctor: the connection fails"
expect_match "$out" "fix: the server's certificate is not signed by the CA kubeagent trusts" "doctor: and how to fix it"

# --log-http: requests shown, credentials not
out=$("$K" -c "$d/token.yaml" --log-http pods 2>&1 >/dev/null)
expect_match "$out" "> GET $KUBESIM_SERVER/api/v1/namespaces/ci/pods?" "--log-http: the request"
expect_match "$out" "> Authorization: Bearer ********" "--log-http: Authorization redacted"
expect_no_match "$out" "$(cat "$s/sa-token")" "--log-http: the token is never shown"
expect_match "$out" "< 200" "--log-http: the answer"

done_testing
