#!/bin/sh
# Impersonation against the Kubernetes API simulator: a kubeconfig user's as,
# as-uid, as-groups and as-user-extra, and the global --as, --as-group and
# --as-uid, go out as Impersonate-* headers on requests and on the exec
# WebSocket; the simulator authorises them like kube-apiserver (the
# `impersonate` verb on users, groups, uids and userextras, else the real
# 403) and then acts as the impersonated user.  kubectl, when on PATH, must
# see the same identity.
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
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT HTTPS_PROXY https_proxy NO_PROXY no_proxy
mkdir -p "$HOME"
K=$KUBEAGENT
SA=system:serviceaccount:ci:kubeagent

kubesim_api POST /api/v1/namespaces/ci/pods \
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"agent-i","labels":{"jenkins":"slave"}},"spec":{"containers":[{"name":"jnlp","image":"busybox:1.36","command":["sh","-c","echo hi; sleep 600"]}]}}' >/dev/null
kubesim_wait_phase agent-i Running
ok $? "agent-i runs"

# user FILE BASE-KUBECONFIG YAML-LINES: the base kubeconfig with lines added to its user
user() {
        awk -v add="$3" '{ print } /^  user:$/ { print add }' "$2" >"$1"
}

# --- a kubeconfig user that impersonates (admin may impersonate anyone) -------
user "$d/as.yaml" "$s/kubeconfig-token" "    as: restricted
    as-uid: \"42\"
    as-groups: [team-a]
    as-user-extra: {scopes: [openid, profile], \"acme.com/project\": [p1]}"
out=$("$K" --kubeconfig "$d/as.yaml" doctor 2>&1); rc=$?
expect_match "$out" "ok    authenticated as: restricted (uid 42) (groups: team-a, system:authenticated) (extra acme.com/project: p1) (extra scopes: openid, profile)" \
        "as, as-uid, as-groups, as-user-extra: doctor shows the impersonated identity (SelfSubjectReview)"
expect_eq "$rc" 1 "doctor as restricted: exit 1 (the RBAC of the impersonated user applies)"
expect_match "$out" "FAIL  pods create: not allowed" "doctor as restricted: restricted's rights, not admin's"
expect_match "$out" "ok    pods list: allowed" "doctor as restricted: what restricted may do"
out=$("$K" --kubeconfig "$d/as.yaml" --log-http pods 2>&1)
expect_match "$out" "agent-i" "pods as restricted: allowed"
expect_match "$out" "> Impersonate-User: restricted" "--log-http: Impersonate-User"
expect_match "$out" "> Impersonate-Uid: 42" "--log-http: Impersonate-Uid"
expect_match "$out" "> Impersonate-Group: team-a" "--log-http: Impersonate-Group"
expect_match "$out" "> Impersonate-Extra-acme.com%2Fproject: p1" "--log-http: Impersonate-Extra-, key percent-encoded as client-go"
out=$("$K" --kubeconfig "$d/as.yaml" exec agent-i -- echo no 2>&1); rc=$?
expect_eq "$rc" 1 "exec as restricted: refused (the WebSocket carries the impersonation)"
expect_match "$out" "User \"restricted\" cannot" "exec as restricted: restricted is named"
if command -v kubectl >/dev/null 2>&1; then
        out=$(kubectl --kubeconfig "$d/as.yaml" auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.uid} {.status.userInfo.groups} {.status.userInfo.extra.scopes}' 2>&1)
        expect_eq "$out" 'restricted 42 ["team-a","system:authenticated"] ["openid","profile"]' \
                "kubectl sees the same identity through the simulator"
else
        skip "kubectl is not on PATH" "kubectl sees the same identity through the simulator"
fi

# --- the CLI flags -------------------------------------------------------------
out=$("$K" --kubeconfig "$s/kubeconfig-token" --as "$SA" exec agent-i -- echo as-sa 2>&1); rc=$?
expect_eq "$rc.$out" "0.as-sa" "--as a service account: exec works with its rights"
out=$("$K" --kubeconfig "$s/kubeconfig-token" --as "$SA" doctor 2>&1)
expect_match "$out" "authenticated as: $SA (groups: system:serviceaccounts, system:serviceaccounts:ci, system:authenticated)" \
        "--as a service account: its groups, as kube-apiserver adds them"
out=$("$K" --kubeconfig "$d/as.yaml" --as "$SA" --as-group team-b --as-group team-c --as-uid 7 doctor 2>&1)
expect_match "$out" "authenticated as: $SA (uid 7) (groups: team-b, team-c, system:authenticated) (extra acme.com/project: p1)" \
        "--as, --as-group, --as-uid override the kubeconfig's (extra kept, groups replaced)"
out=$("$K" --kubeconfig "$s/kubeconfig-token" --as-group team-b pods 2>&1); rc=$?
expect_eq "$rc" 1 "--as-group without a user: refused"
expect_match "$out" "requesting uid, groups or user-extra without impersonating a user" "--as-group without a user: kubectl's words"
out=$("$K" --kubeconfig "$s/kubeconfig-token" --as "$(printf 'x\r\nX-Evil: 1')" pods 2>&1); rc=$?
expect_eq "$rc" 1 "a line break in an impersonation value: refused"
expect_match "$out" "cannot be sent in an HTTP header" "a line break in an impersonation value: says why"

# --- forbidden, then granted (RBAC with resourceNames) ------------------------
out=$("$K" --kubeconfig "$s/kubeconfig-tokenfile" --as restricted pods 2>&1); rc=$?
expect_eq "$rc" 1 "the service account may not impersonate: exit 1"
expect_match "$out" "users \"restricted\" is forbidden: User \"$SA\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope" \
        "the service account may not impersonate: the API server's 403"
kubesim_admin POST /rbac "{\"user\": \"$SA\", \"namespace\": null, \"resources\": [\"users\"], \"verbs\": [\"impersonate\"], \"resourceNames\": [\"restricted\"]}" >/dev/null
out=$("$K" --kubeconfig "$s/kubeconfig-tokenfile" --as restricted doctor 2>&1)
expect_match "$out" "ok    authenticated as: restricted (groups: system:authenticated)" "granted users/restricted: acts as restricted"
out=$("$K" --kubeconfig "$s/kubeconfig-tokenfile" --as admin pods 2>&1); rc=$?
expect_eq "$rc" 1 "granted only restricted: admin is still refused"
expect_match "$out" "users \"admin\" is forbidden" "granted only restricted: the 403 names admin"
out=$("$K" --kubeconfig "$s/kubeconfig-tokenfile" --as restricted --as-group team-x pods 2>&1)
expect_match "$out" "groups \"team-x\" is forbidden: User \"$SA\" cannot impersonate resource \"groups\" in API group \"\" at the cluster scope" \
        "a group needs impersonate on groups"
out=$("$K" --kubeconfig "$s/kubeconfig-tokenfile" --as restricted --as-uid 42 pods 2>&1)
expect_match "$out" "uids.authentication.k8s.io \"42\" is forbidden: User \"$SA\" cannot impersonate resource \"uids\" in API group \"authentication.k8s.io\" at the cluster scope" \
        "a uid needs impersonate on uids.authentication.k8s.io"
user "$d/extra.yaml" "$s/kubeconfig-tokenfile" "    as: restricted
    as-user-extra: {scopes: [openid]}"
out=$("$K" --kubeconfig "$d/extra.yaml" pods 2>&1)
expect_match "$out" "userextras.authentication.k8s.io \"openid\" is forbidden: User \"$SA\" cannot impersonate resource \"userextras/scopes\" in API group \"authentication.k8s.io\" at the cluster scope" \
        "an extra needs impersonate on userextras/KEY"

# --- kubeconfig errors -----------------------------------------------------------
user "$d/badgroups.yaml" "$s/kubeconfig-token" "    as: restricted
    as-groups: team-a"
out=$("$K" --kubeconfig "$d/badgroups.yaml" pods 2>&1); rc=$?
expect_eq "$rc" 2 "as-groups that is not a list: exit 2"
expect_match "$out" "badgroups.yaml:" "as-groups that is not a list: the file"
expect_match "$out" "as-groups must be a list of strings" "as-groups that is not a list: the problem"

done_testing
