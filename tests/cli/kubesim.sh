# tests/cli/kubesim.sh — start the Kubernetes API simulator for a shell test.
# Source after lib.sh:  kubesim_start DIR  sets KUBESIM_PID, KUBESIM_PORT,
# KUBESIM_ADMIN, KUBESIM_DIR and KUBESIM_SERVER, or returns 1 (skip: the
# reason is in KUBESIM_WHY).  kubesim_stop stops it by PID.  kubesim_api
# METHOD PATH [JSON] calls the API as admin; kubesim_admin the admin API.
kubesim_start() {
        KUBESIM_DIR=$1
        sim="${top_srcdir:-.}/tests/sim/kube_sim.py"
        py=${PYTHON3:-python3}
        if [ ! -r "$sim" ] || ! command -v "$py" >/dev/null 2>&1; then
                KUBESIM_WHY="the Kubernetes API simulator or python3 is missing"
                return 1
        fi
        mkfifo "$KUBESIM_DIR.ready"
        "$py" "$sim" --dir "$KUBESIM_DIR" >"$KUBESIM_DIR.ready" 2>"$KUBESIM_DIR.log" &
        KUBESIM_PID=$!
        # wait for the READY line; if the simulator dies first, the read sees EOF
        line=
        read -r line <"$KUBESIM_DIR.ready" || true
        rm -f "$KUBESIM_DIR.ready"
        set -- $line
        if [ "${1:-}" != READY ]; then
                KUBESIM_WHY="the simulator did not start: $(tail -n 3 "$KUBESIM_DIR.log")"
                kubesim_stop
                return 1
        fi
        KUBESIM_PORT=$2
        KUBESIM_ADMIN=$3
        KUBESIM_SERVER="https://127.0.0.1:$2"
}
kubesim_stop() {
        [ -n "${KUBESIM_PID:-}" ] || return 0
        kill "$KUBESIM_PID" 2>/dev/null
        wait "$KUBESIM_PID" 2>/dev/null
        KUBESIM_PID=
}
# kubesim_api METHOD PATH [JSON]: the API as admin; prints the body, returns 0 on 2xx
kubesim_api() {
        "${PYTHON3:-python3}" - "$KUBESIM_DIR" "$KUBESIM_SERVER" "$@" <<'PY'
import ssl, sys, urllib.request, urllib.error
d, server, method, path = sys.argv[1:5]
body = sys.argv[5].encode() if len(sys.argv) > 5 else None
ctx = ssl.create_default_context(cafile=d + "/ca.crt")
token = open(d + "/token-admin").read().strip()
req = urllib.request.Request(server + path, data=body, method=method,
                             headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
try:
    print(urllib.request.urlopen(req, context=ctx).read().decode())
except urllib.error.HTTPError as e:
    print(e.read().decode())
    sys.exit(1)
PY
}
kubesim_admin() {  # kubesim_admin METHOD PATH [JSON]
        "${PYTHON3:-python3}" - "$KUBESIM_ADMIN" "$@" <<'PY'
import sys, urllib.request
port, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else b""
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=body, method=method)
print(urllib.request.urlopen(req).read().decode())
PY
}
# kubesim_wait_until POD EXPR: watch the pod until the Python expression EXPR
# holds, over the pod `p`, its status `st` and its container states `cs` (by name)
kubesim_wait_until() {
        "${PYTHON3:-python3}" - "$KUBESIM_DIR" "$KUBESIM_SERVER" "$1" "$2" <<'PY'
import json, ssl, sys, urllib.request
d, server, name, expr = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=d + "/ca.crt")
token = open(d + "/token-admin").read().strip()
url = server + "/api/v1/namespaces/ci/pods?watch=1&timeoutSeconds=30&fieldSelector=metadata.name%3D" + name
req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
for line in urllib.request.urlopen(req, context=ctx):
    p = json.loads(line)["object"]
    st = p.get("status", {})
    cs = {c["name"]: c.get("state", {}) for c in st.get("containerStatuses", []) + st.get("initContainerStatuses", [])}
    if eval(expr):
        sys.exit(0)
sys.exit(1)
PY
}
# kubesim_wait_phase POD PHASE: watch the pod until it reaches PHASE
kubesim_wait_phase() {
        kubesim_wait_until "$1" "st.get('phase') == '$2'"
}
# proxysim_start NAME [ARGS...]: start tests/sim/proxy_sim.py with ARGS; sets
# NAME_PID and NAME_PORT, or returns 1.  proxysim_stop NAME stops it by PID.
proxysim_start() {
        name=$1
        shift
        mkfifo "$KUBESIM_DIR.$name.ready"
        "${PYTHON3:-python3}" "${top_srcdir:-.}/tests/sim/proxy_sim.py" "$@" >"$KUBESIM_DIR.$name.ready" \
                2>"$KUBESIM_DIR.$name.log" &
        eval "${name}_PID=\$!"
        line=
        read -r line <"$KUBESIM_DIR.$name.ready" || true
        rm -f "$KUBESIM_DIR.$name.ready"
        set -- $line
        if [ "${1:-}" != READY ]; then
                proxysim_stop "$name"
                return 1
        fi
        eval "${name}_PORT=\$2"
}
proxysim_stop() {
        eval "pid=\${${1}_PID:-}"
        [ -n "$pid" ] || return 0
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        eval "${1}_PID="
}
# proxysim_tunnels NAME [TARGET]: tunnels the proxy opened (to TARGET, or in
# all) since the last call, which zeroes them; then "refused" is in
# PROXYSIM_REFUSED
proxysim_tunnels() {
        eval "port=\$${1}_PORT"
        out=$("${PYTHON3:-python3}" - "$port" "${2:-}" <<'PY'
import json, socket, sys
port, target = sys.argv[1:3]
c = socket.create_connection(("127.0.0.1", int(port)))
c.sendall(b"POST /reset-stats HTTP/1.1\r\nHost: proxy\r\nContent-Length: 0\r\n\r\n")
data = b""
while True:
    chunk = c.recv(65536)
    if not chunk:
        break
    data += chunk
s = json.loads(data.split(b"\r\n\r\n", 1)[1])
t = s["tunnels"]
print(t.get(target, 0) if target else sum(t.values()), s["refused"])
PY
)
        set -- $out
        PROXYSIM_REFUSED=$2
        echo "$1"
}
