#!/bin/sh
# kubeagent pods, logs and exec (the WebSocket path) through proxies, against
# the Kubernetes API simulator and tests/sim/proxy_sim.py over real sockets:
# a kubeconfig's proxy-url (HTTP CONNECT with credentials, SOCKS5), and the
# environment (HTTPS_PROXY, NO_PROXY...) decided as kubectl decides it — each
# environment case is also run through kubectl when it is on PATH, and both
# must take the same way.  The API server is named kubesim.test, a name only
# the proxies can resolve (--map), so a connection that bypasses the proxy
# fails instead of passing unnoticed.  Proxy passwords never show.
. "${top_srcdir:-.}/tests/cli/lib.sh"
. "${top_srcdir:-.}/tests/cli/kubesim.sh"
d=$(tmpdir)
trap 'proxysim_stop HP; proxysim_stop SP; kubesim_stop; rm -rf "$d"' EXIT
if ! kubesim_start "$d/sim"; then
        echo "1..0 # SKIP $KUBESIM_WHY"
        exit 0
fi
s=$d/sim
export HOME=$d/home
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT HTTPS_PROXY https_proxy HTTP_PROXY http_proxy \
        NO_PROXY no_proxy ALL_PROXY all_proxy
mkdir -p "$HOME"
K=$KUBEAGENT
HPASS=proxy-pass-1
SPASS=socks-pass-2
proxysim_start HP --auth "kp:$HPASS" --map kubesim.test=127.0.0.1 || { echo "1..0 # SKIP proxy_sim.py did not start"; exit 0; }
proxysim_start SP --socks5 --auth "ks:$SPASS" --map kubesim.test=127.0.0.1 || { echo "1..0 # SKIP proxy_sim.py did not start"; exit 0; }
TARGET=kubesim.test:$KUBESIM_PORT

kubesim_api POST /api/v1/namespaces/ci/pods \
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"agent-p","labels":{"jenkins":"slave"}},"spec":{"containers":[{"name":"jnlp","image":"busybox:1.36","command":["sh","-c","echo hello; sleep 600"]}]}}' >/dev/null
kubesim_wait_phase agent-p Running
ok $? "agent-p runs"

# kubeconfig FILE [PROXY-URL]: the admin token, server kubesim.test (verified as localhost)
kubeconfig() {
        awk -v port="$KUBESIM_PORT" -v proxy="${2:-}" '
                /^    server:/ { print "    server: https://kubesim.test:" port; print "    tls-server-name: localhost"
                                 if (proxy != "") print "    proxy-url: " proxy; next }
                { print }' "$s/kubeconfig-token" >"$1"
}

# --- proxy-url: HTTP CONNECT with credentials --------------------------------
kubeconfig "$d/http.yaml" "http://kp:$HPASS@127.0.0.1:$HP_PORT"
proxysim_tunnels HP >/dev/null
out=$("$K" --kubeconfig "$d/http.yaml" pods 2>&1); rc=$?
expect_eq "$rc" 0 "proxy-url: pods exits 0"
expect_match "$out" "agent-p" "proxy-url: pods lists the agent pod"
expect_eq "$(proxysim_tunnels HP "$TARGET")" 1 "proxy-url: pods went through the proxy (one tunnel)"
out=$("$K" --kubeconfig "$d/http.yaml" logs agent-p 2>&1)
expect_eq "$out" "hello" "proxy-url: logs"
expect_eq "$(proxysim_tunnels HP "$TARGET")" 1 "proxy-url: logs went through the proxy"
out=$("$K" --kubeconfig "$d/http.yaml" exec agent-p -- sh -c 'echo out; echo err >&2; exit 3' 2>&1); rc=$?
expect_eq "$rc.$out" "3.out
err" "proxy-url: exec over the WebSocket: output and exit status"
tn=$(proxysim_tunnels HP "$TARGET")
ok $([ "$tn" -ge 1 ] && echo 0 || echo 1) "proxy-url: exec went through the proxy ($tn tunnels)"

out=$("$K" --kubeconfig "$d/http.yaml" --log-http pods 2>&1 >/dev/null)
expect_match "$out" "> proxy: http://kp:********@127.0.0.1:$HP_PORT" "--log-http: the proxy, password masked"
expect_no_match "$out" "$HPASS" "--log-http: the proxy password is never shown"

kubeconfig "$d/badpass.yaml" "http://kp:wrong-pass-9@127.0.0.1:$HP_PORT"
proxysim_tunnels HP >/dev/null
out=$("$K" --kubeconfig "$d/badpass.yaml" pods 2>&1); rc=$?
expect_eq "$rc" 1 "proxy-url with a wrong password: exit 1"
expect_match "$out" "the proxy refused its credentials (407 Proxy Authentication Required)" "407: said plainly"
expect_no_match "$out" "wrong-pass-9" "407: the password is not in the error"
proxysim_tunnels HP >/dev/null
expect_eq "$PROXYSIM_REFUSED" 1 "407: not retried"
out=$("$K" --kubeconfig "$d/badpass.yaml" exec agent-p -- true 2>&1); rc=$?
expect_eq "$rc" 1 "exec through a proxy that refuses: exit 1"
expect_match "$out" "407" "exec through a proxy that refuses: says why"
expect_no_match "$out" "wrong-pass-9" "exec: the password is not in the error"

kubeconfig "$d/ftp.yaml" "ftp://127.0.0.1:$HP_PORT"
out=$("$K" --kubeconfig "$d/ftp.yaml" pods 2>&1); rc=$?
expect_eq "$rc" 2 "proxy-url of another scheme: exit 2"
expect_match "$out" "$d/ftp.yaml:8:5: invalid 'proxy-url' \"ftp://127.0.0.1:$HP_PORT\" for cluster \"kubesim\": unsupported scheme \"ftp\", must be http, https, or socks5" \
        "proxy-url of another scheme: kubectl's message, with the place"

# --- proxy-url: SOCKS5 ------------------------------------------------------
kubeconfig "$d/socks.yaml" "socks5://ks:$SPASS@127.0.0.1:$SP_PORT"
out=$("$K" --kubeconfig "$d/socks.yaml" pods 2>&1); rc=$?
expect_eq "$rc" 0 "socks5 proxy-url: pods"
expect_eq "$(proxysim_tunnels SP "$TARGET")" 1 "socks5: the proxy resolved the name (as Go's SOCKS5 dialer)"
out=$("$K" --kubeconfig "$d/socks.yaml" exec agent-p -- echo via-socks 2>&1); rc=$?
expect_eq "$rc.$out" "0.via-socks" "socks5 proxy-url: exec"
tn=$(proxysim_tunnels SP "$TARGET")
ok $([ "$tn" -ge 1 ] && echo 0 || echo 1) "socks5: exec went through the proxy ($tn tunnels)"

# --- the environment, as kubectl ------------------------------------------------
kubeconfig "$d/env.yaml"
GOOD="kp:$HPASS@127.0.0.1:$HP_PORT"
have_kubectl=false
command -v kubectl >/dev/null 2>&1 && have_kubectl=true
# env_case NAME WANT(proxy|direct) KUBECONFIG VAR=VALUE...
env_case() {
        name=$1 want=$2 kc=$3
        shift 3
        out=$(env "$@" "$K" --kubeconfig "$kc" pods 2>&1)
        tn=$(proxysim_tunnels HP)
        got=direct
        [ "$tn" -gt 0 ] && got=proxy
        expect_eq "$got" "$want" "environment, $name: $want"
        expect_no_match "$out" "$HPASS" "environment, $name: the proxy password is never shown"
        if $have_kubectl; then
                env "$@" kubectl --kubeconfig "$kc" --request-timeout 5s get pods >/dev/null 2>&1
                tn=$(proxysim_tunnels HP)
                got=direct
                [ "$tn" -gt 0 ] && got=proxy
                expect_eq "$got" "$want" "environment, $name: kubectl agrees"
        else
                skip "kubectl is not on PATH" "environment, $name: kubectl agrees"
        fi
}
env_case "HTTPS_PROXY (no scheme: http)" proxy "$d/env.yaml" "HTTPS_PROXY=$GOOD"
env_case "https_proxy" proxy "$d/env.yaml" "https_proxy=http://$GOOD"
env_case "HTTPS_PROXY wins over https_proxy" proxy "$d/env.yaml" "HTTPS_PROXY=http://$GOOD" "https_proxy=http://127.0.0.1:$SP_PORT"
env_case "HTTP_PROXY is not for https" direct "$d/env.yaml" "HTTP_PROXY=http://$GOOD" "http_proxy=http://$GOOD"
env_case "ALL_PROXY is not used" direct "$d/env.yaml" "ALL_PROXY=http://$GOOD" "all_proxy=http://$GOOD"
env_case "NO_PROXY=test (a parent domain)" direct "$d/env.yaml" "HTTPS_PROXY=$GOOD" "NO_PROXY=example.com, test"
env_case "NO_PROXY=.kubesim.test (subdomains only)" proxy "$d/env.yaml" "HTTPS_PROXY=$GOOD" "NO_PROXY=.kubesim.test"
env_case "NO_PROXY=*.test" direct "$d/env.yaml" "HTTPS_PROXY=$GOOD" "NO_PROXY=*.test"
env_case "NO_PROXY on another port" proxy "$d/env.yaml" "HTTPS_PROXY=$GOOD" "NO_PROXY=kubesim.test:1"
env_case "NO_PROXY on this port" direct "$d/env.yaml" "HTTPS_PROXY=$GOOD" "NO_PROXY=KubeSim.Test:$KUBESIM_PORT"
env_case "NO_PROXY=*" direct "$d/env.yaml" "HTTPS_PROXY=$GOOD" "NO_PROXY=*"
env_case "no_proxy" direct "$d/env.yaml" "HTTPS_PROXY=$GOOD" "no_proxy=kubesim.test"
env_case "NO_PROXY wins over no_proxy" proxy "$d/env.yaml" "HTTPS_PROXY=$GOOD" "NO_PROXY=other.test" "no_proxy=kubesim.test"
env_case "a loopback server is never proxied" direct "$s/kubeconfig-token" "HTTPS_PROXY=$GOOD"
kubeconfig "$d/wins.yaml" "http://$GOOD"
env_case "proxy-url wins over the environment" proxy "$d/wins.yaml" "HTTPS_PROXY=http://127.0.0.1:$SP_PORT" "NO_PROXY=*"

out=$(HTTPS_PROXY=$GOOD "$K" --kubeconfig "$d/env.yaml" exec agent-p -- echo via-env 2>&1); rc=$?
expect_eq "$rc.$out" "0.via-env" "HTTPS_PROXY: exec"
tn=$(proxysim_tunnels HP "$TARGET")
ok $([ "$tn" -ge 1 ] && echo 0 || echo 1) "HTTPS_PROXY: exec went through the proxy ($tn tunnels)"
out=$(HTTPS_PROXY="http://kp:env-wrong-7@127.0.0.1:$HP_PORT" "$K" --kubeconfig "$d/env.yaml" --log-http pods 2>&1); rc=$?
expect_eq "$rc" 1 "HTTPS_PROXY with a wrong password: exit 1"
expect_no_match "$out" "env-wrong-7" "HTTPS_PROXY with a wrong password: never shown"
expect_match "$out" "(through proxy http://kp:********@127.0.0.1:$HP_PORT): the proxy refused its credentials" \
        "HTTPS_PROXY with a wrong password: the proxy is named, its password masked"

done_testing
