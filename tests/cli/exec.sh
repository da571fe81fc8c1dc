#!/bin/sh
# kubeagent exec against the Kubernetes API simulator: output and exit
# codes, stderr apart, stdin, large and fragmented output, v4 and v5
# servers, the plugin's shell mode and workspace remapping, clear errors
# (no pod, no container, not running, no shell, RBAC), every credential
# plugin, interrupts (the kill-by-marker exec, 130/143) and retries.
. "${top_srcdir:-.}/tests/cli/lib.sh"
. "${top_srcdir:-.}/tests/cli/kubesim.sh"
d=$(tmpdir)
trap 'kubesim_stop; rm -rf "$d"' EXIT
if ! kubesim_start "$d/sim"; then
        echo "1..0 # SKIP $KUBESIM_WHY"
        exit 0
fi
s=$d/sim
export HOME=$d/home
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT POD_NAME JENKINS_AGENT_NAME
mkdir -p "$HOME"
K=$KUBEAGENT

kubesim_api POST /api/v1/namespaces/ci/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ex"},
  "spec":{"restartPolicy":"Never","containers":[
    {"name":"main","image":"busybox:1.36","command":["sleep","infinity"]},
    {"name":"maven","image":"maven:3.9","command":["cat"],"tty":true,"workingDir":"/src",
     "env":[{"name":"GREETING","value":"hello from maven"}]},
    {"name":"quick","image":"busybox:1.36","command":["true"]}]}}' >/dev/null
kubesim_api POST /api/v1/namespaces/ci/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"solo"},
  "spec":{"containers":[{"name":"only","image":"busybox:1.36","command":["sleep","infinity"]}]}}' >/dev/null
kubesim_api POST /api/v1/namespaces/ci/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pulling"},
  "spec":{"containers":[{"name":"c","image":"example.com/nope/app:1"}]}}' >/dev/null
kubesim_wait_until ex "'running' in cs.get('main', {}) and 'running' in cs.get('maven', {}) and 'terminated' in cs.get('quick', {})"
ok $? "the test pod runs (main, maven) with one container done (quick)"
kubesim_wait_until solo "'running' in cs.get('only', {})"

cat >"$d/token.yaml" <<YAML
credentials:
  c: {type: token, tokenFile: $s/sa-token, caFile: $s/ca.crt}
jenkins:
  clouds:
    - kubernetes: {name: sim, serverUrl: "$KUBESIM_SERVER", credentialsId: c, namespace: ci}
YAML
X() { "$K" -c "$d/token.yaml" exec "$@"; }

# ---- output and exit codes ----
out=$(X ex -c main -- sh -c 'echo out; echo err >&2; exit 3' 2>"$d/err"); rc=$?
expect_eq "$rc.$out" "3.out" "exit code 3 and stdout"
expect_eq "$(cat "$d/err")" "err" "stderr apart, on stderr"
out=$(X ex -c main -- true 2>&1); rc=$?
expect_eq "$rc.$out" "0." "exit code 0, no output"
out=$(X ex -c main -- false 2>&1); rc=$?
expect_eq "$rc" 1 "exit code 1"
out=$(X ex -c main -- nosuch-command 2>&1); rc=$?
expect_eq "$rc" 127 "a command that is not in the image: 127"
expect_match "$out" "nosuch-command" "... and says which"
out=$(X ex -c main -- sh -c 'exit 127' 2>&1); rc=$?
expect_eq "$rc" 127 "exit code 127 from a shell"
out=$(X solo -- hostname 2>&1); rc=$?
expect_eq "$rc.$out" "0.solo" "a pod with one container needs no -c"
out=$(X ex -c maven -- printenv GREETING 2>&1)
expect_eq "$out" "hello from maven" "the container's own environment"
out=$(X ex -c main -- printf '%s|' 'two words' '$HOME' '"q"' "it's" 2>&1)
expect_eq "$out" "two words|\$HOME|\"q\"|it's|" "arguments arrive exactly, no shell in between"

# ---- stdin ----
out=$(printf 'line one\nline two\n' | X ex -c main -i -- cat 2>&1); rc=$?
expect_eq "$rc.$out" "0.line one
line two" "-i: stdin echoed by cat, which ends at EOF"
out=$(printf 'abc' | X ex -c main -- cat 2>&1); rc=$?
expect_eq "$rc.$out" "0." "without -i the command gets no stdin"

# ---- large output, fragmented frames ----
X ex -c main -- seq 1 400000 >"$d/seq.out" 2>&1; rc=$?
seq 1 400000 >"$d/seq.want"
cmp -s "$d/seq.out" "$d/seq.want"; ok $? "400000 lines (2.6 MB) arrive intact (exit $rc)"
kubesim_admin POST /config '{"execFragmentBytes": 1000}' >/dev/null
bytes=$(X ex -c main -- head -c 5000000 /dev/zero | wc -c)
expect_eq "$bytes" 5000000 "5 MB in frames of 1000 bytes (continuation frames) arrive intact"
kubesim_admin POST /config '{"execFragmentBytes": 0}' >/dev/null

# ---- v5 and v4 servers ----
kubesim_admin POST /config '{"execProtocols": "v4"}' >/dev/null
out=$(printf 'x' | X ex -c main -- sh -c 'echo v4; exit 4' 2>&1); rc=$?
expect_eq "$rc.$out" "4.v4" "a v4-only server: output and exit code"
out=$(X ex -c main --cwd /tmp -- pwd 2>&1); rc=$?
expect_eq "$rc.$out" "0./tmp" "a v4-only server: the shell script on stdin ends with exit"
kubesim_admin POST /config '{"execProtocols": "v5"}' >/dev/null
out=$(printf 'to v5\n' | X ex -c main -i -- cat 2>&1); rc=$?
expect_eq "$rc.$out" "0.to v5" "a v5-only server: stdin closed with [255,0]"
kubesim_admin POST /config '{"execProtocols": "v5,v4"}' >/dev/null
"$K" --log-http -c "$d/token.yaml" exec ex -c main -- true 2>"$d/http"
expect_match "$(cat "$d/http")" "> GET https://127.0.0.1:$KUBESIM_PORT/api/v1/namespaces/ci/pods/ex/exec?command=env" "--log-http shows the exec request"
expect_match "$(cat "$d/http")" "Authorization: Bearer ********" "... never the token"
expect_no_match "$(cat "$d/http")" "$(cat "$s/sa-token")" "... (the token is not in the output)"

# ---- the plugin's shell mode ----
out=$(X ex -c maven --shell sh --cwd /home/jenkins/agent/workspace/job --env 'QUOTED=it'"'"'s "q" $x' \
      --env "WS=/home/jenkins/agent/workspace/job" -- sh -c 'pwd; echo "$QUOTED"; echo "$WS"' 2>&1); rc=$?
expect_eq "$rc.$out" "0./src/workspace/job
it's \"q\" \$x
/src/workspace/job" "--shell: cd, exports with quotes, workspace paths remapped to the container's workingDir"
out=$(X ex -c main --env 'WILL.NOT=x' -- true 2>&1); rc=$?
expect_eq "$rc" 2 "--env with a bad name: usage error"
expect_match "$out" 'environment variable "WILL.NOT"' "... naming it"
out=$(X ex -c main --shell /bin/bash -- echo hi 2>&1); rc=$?
expect_eq "$rc" 127 "a shell missing from the image: 127"
expect_match "$out" "process exited immediately after creation" "... with the plugin's words"
expect_match "$out" 'stat /bin/bash: no such file or directory' "... and the runtime's"
out=$(X ex -c maven --shell bash -- sh -c 'echo $0' 2>&1)
expect_eq "$out" "sh" "--shell bash in an image that has it"

# ---- the pod kubeagent runs in ----
mkdir -p "$d/work" && cd "$d/work" || exit 1
out=$(POD_NAME=ex "$K" -c "$d/token.yaml" exec -c main -- pwd 2>&1); rc=$?
expect_eq "$rc.$out" "0.$d/work" "no POD: \$POD_NAME, and the current directory"
out=$(HOSTNAME=solo "$K" -c "$d/token.yaml" exec -- hostname 2>&1); rc=$?
expect_eq "$rc.$out" "0.solo" "no POD: \$HOSTNAME"
out=$(HOSTNAME=gone "$K" -c "$d/token.yaml" exec -- true 2>&1); rc=$?
expect_eq "$rc" 1 "no POD, and no such pod"
expect_match "$out" 'no pod "gone" in namespace ci (the name came from $HOSTNAME' "... says where the name came from"
cd "$d" || exit 1

# ---- clear errors ----
out=$(X nopod -c main -- true 2>&1); rc=$?
expect_eq "$rc.$out" '1.kubeagent: no pod "nopod" in namespace ci' "no such pod"
out=$(X ex -c nope -- true 2>&1); rc=$?
expect_eq "$rc.$out" '1.kubeagent: pod ci/ex has no container "nope" (it has: main, maven, quick)' "no such container"
out=$(X ex -- true 2>&1); rc=$?
expect_eq "$rc" 2 "several containers and no -c: usage error"
expect_match "$out" "choose one with -c: main, maven, quick" "... listing them"
out=$(X ex -c quick -- true 2>&1); rc=$?
expect_eq "$rc.$out" "1.kubeagent: container quick in pod ci/ex is not running (terminated: Completed, exit code 0)" \
        "a container that is not running"
out=$(X pulling -- true 2>&1); rc=$?
expect_match "$rc.$out" "1.kubeagent: container c in pod ci/pulling is not running (waiting: " "a pod that never started"
out=$(X ex -c main 2>&1); rc=$?
expect_eq "$rc" 2 "no command: usage error"
expect_match "$out" "put it after --" "... saying where it goes"

cat >"$d/restricted.yaml" <<YAML
credentials:
  c: {type: token, tokenFile: $s/token-restricted, caFile: $s/ca.crt}
jenkins:
  clouds:
    - kubernetes: {name: sim, serverUrl: "$KUBESIM_SERVER", credentialsId: c, namespace: ci}
YAML
out=$("$K" -c "$d/restricted.yaml" exec ex -c main -- true 2>&1); rc=$?
expect_eq "$rc" 1 "RBAC: refused"
expect_match "$out" 'cannot get resource "pods/exec"' "RBAC: the server's words"
expect_match "$out" "needs both get and create on pods/exec" "RBAC: what to grant"
kubesim_admin POST /rbac '{"user": "restricted", "namespace": "ci", "resources": ["pods/exec"], "verbs": ["get"]}' >/dev/null
out=$("$K" -c "$d/restricted.yaml" exec ex -c main -- true 2>&1); rc=$?
expect_eq "$rc" 1 "RBAC with get only: refused"
expect_match "$out" 'cannot create resource "pods/exec"' "RBAC: create is needed too (WebSocket)"

# ---- every credential plugin ----
cred() {  # cred NAME CREDENTIALS-YAML [SERVER-URL]
        cat >"$d/$1.yaml" <<YAML
credentials:
  c: $2
jenkins:
  clouds:
    - kubernetes: {name: sim, serverUrl: "${3-}", credentialsId: c, namespace: ci}
YAML
}
cred p12 "{type: certificate, p12File: $s/client.p12, passwordFile: $s/client.p12.pass, caFile: $s/ca.crt}" \
        "$KUBESIM_SERVER"
cred pem "{type: certificate, certFile: $s/admin.crt, keyFile: $s/admin.key, caFile: $s/ca.crt}" "$KUBESIM_SERVER"
cred kc "{type: kubeconfig, path: $s/kubeconfig-exec}"
cred sa "{type: service-account, dir: $s/incluster}"
for c in p12 pem kc; do
        out=$("$K" -c "$d/$c.yaml" exec ex -c main -- echo "via $c" 2>&1); rc=$?
        expect_eq "$rc.$out" "0.via $c" "credentials: $c"
done
out=$("$K" --kubeconfig "$s/kubeconfig-cert-data" exec ex -c main -- echo via kubeconfig 2>&1)
expect_eq "$out" "via kubeconfig" "credentials: --kubeconfig with inline certificate data"
mkdir -p "$d/work/ws" && cd "$d/work/ws" || exit 1
out=$(KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$KUBESIM_PORT POD_NAME=ex \
      "$K" -c "$d/sa.yaml" exec -c main -- pwd 2>&1); rc=$?
expect_eq "$rc.$out" "0.$d/work/ws" "in a pod: service account, own pod from the environment, current directory"
cd "$d" || exit 1

# ---- interrupts: the plugin's kill-by-marker exec, then 130 / 143 ----
interrupt() {  # interrupt SIGNAL [EXEC-ARGS...]: runs the command in the background, signals it once it started
        sig=$1; shift
        rm -f "$d/fifo"; mkfifo "$d/fifo"
        "$K" -c "$d/token.yaml" exec "$@" >"$d/fifo" 2>"$d/interrupt.err" &
        pid=$!
        exec 3<"$d/fifo"
        read -r first <&3
        kill -"$sig" "$pid"
        wait "$pid"; rc=$?
        exec 3<&-
}
interrupt INT ex -c main -- sh -c 'echo started; sleep 30; echo never'
expect_eq "$first.$rc" "started.130" "Ctrl-C: exit 130"
expect_match "$(cat "$d/interrupt.err")" "interrupted; stopping the command in the container" "... says so"
out=$(X ex -c main -- sh -c "grep -l 'slee[p].30' /proc/*/cmdline | wc -l" 2>&1)
expect_eq "$out" 0 "... and the remote command was killed"
interrupt TERM ex -c main --cwd /tmp -- sh -c 'echo started; sleep 30; echo never'
expect_eq "$first.$rc" "started.143" "SIGTERM in shell mode: exit 143"
out=$(X ex -c main -- sh -c "grep -l 'slee[p].30' /proc/*/cmdline | wc -l" 2>&1)
expect_eq "$out" 0 "... and the remote command was killed"

# ---- retries ----
kubesim_admin POST /faults '{"match": {"path": "/api/v1/namespaces/ci/pods/ex/exec"}, "status": 503, "count": 1}' >/dev/null
out=$(X ex -c main -- echo after a retry 2>"$d/retry.err"); rc=$?
expect_eq "$rc.$out" "0.after a retry" "a 503 is retried"
expect_match "$(cat "$d/retry.err")" "trying again in 2 s (attempt 2 of 5)" "... saying when and how often"

done_testing
