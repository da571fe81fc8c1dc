#!/bin/sh
# `kubeagent check`: the shipped configs pass; every bad input is reported
# with file:line:col and exit 2.
. "$top_srcdir/tests/cli/lib.sh"

out=$("$KUBEAGENT" check -c "$top_srcdir/config/kubeagent.yaml" 2>&1); rc=$?
expect_eq "$rc" 0 "the installed default config passes check"
expect_match "$out" "cloud kubernetes: server autodetected, namespace jenkins-agents" "one line per cloud"
expect_match "$out" "  template default: label kubeagent, EXCLUSIVE" "one line per template"
expect_match "$out" "OK, 1 cloud, 1 template, 0 warnings" "a summary"

for f in "$top_srcdir"/config/examples/*.yaml; do
        [ -e "$f" ] || continue
        out=$("$KUBEAGENT" check -c "$f" 2>&1); rc=$?
        expect_eq "$rc" 0 "example $(basename "$f") passes check"
        expect_no_match "$out" ": warning:" "example $(basename "$f") has no warnings"
done

d=$(tmpdir)
cat > "$d/bad.yaml" <<'YAML'
jenkins:
  clouds:
    - kubernetes:
        name: k
        containerCap: lots
        templates:
          - name: t
            label: x
            nodeProperties: []
            containers:
              - {name: Bad_Name, image: alpine}
          - name: u
            nodeProperties: []
            volumes: [{hostPathVolume: {mountPath: /m}}]
            yaml: |
              spec:
                containers: [{name: a, image: [}]
YAML
out=$("$KUBEAGENT" check -c "$d/bad.yaml" 2>&1); rc=$?
expect_eq "$rc" 2 "errors exit 2"
expect_match "$out" "bad.yaml:5:23: error: \"containerCap\": expected an integer" "a bad number is located"
expect_match "$out" "bad.yaml:9:13: warning: \"nodeProperties\" only has a meaning inside Jenkins; ignored (and 1 more time)" \
        "a Jenkins-only key warns"
expect_no_match "$out" "bad.yaml:13:13: warning" "once"
expect_match "$out" "bad.yaml:11:24: error: container name \"Bad_Name\" must match RFC 1123" "a bad container name"
expect_match "$out" "bad.yaml:14:40: error: missing required key \"hostPath\"" "a volume plugin's required key"
expect_match "$out" "bad.yaml:17:48: error: yaml: did not find expected node content" "a broken yaml fragment, located in the config file"
expect_match "$out" "bad.yaml: 4 errors, 1 warning" "a count"

out=$("$KUBEAGENT" check -c "$d/missing.yaml" 2>&1); rc=$?
expect_eq "$rc" 2 "a missing file exits 2"
expect_match "$out" "missing.yaml: error: No such file or directory" "and says so"

printf 'jenkins: [\n' > "$d/broken.yaml"
out=$("$KUBEAGENT" check -c "$d/broken.yaml" 2>&1); rc=$?
expect_eq "$rc" 2 "broken YAML exits 2"
expect_match "$out" "broken.yaml:2:1: error:" "located"

out=$("$KUBEAGENT" -c "$d/bad.yaml" check 2>&1); rc=$?
expect_eq "$rc" 2 "-c also works before the command name"

printf 'kubeagent:\n  http: {listen: "0.0.0.0:9090"}\n  templates: {maxTemplates: 5}\n' > "$d/api.yaml"
out=$("$KUBEAGENT" check -c "$d/api.yaml" 2>&1); rc=$?
expect_eq "$rc" 2 "the registration API beyond loopback without tokenFile fails check"
expect_match "$out" "api.yaml:3:14: error: the template registration API needs tokenFile" "located at the block"
printf 'a-token-of-the-api\n' > "$d/api-token"
printf '  templates: {tokenFile: api-token, maxTemplates: 5, expireAfter: 30m}\n' > "$d/t.yaml"
printf 'kubeagent:\n  http: {listen: "0.0.0.0:9090"}\n' | cat - "$d/t.yaml" > "$d/api.yaml"
out=$("$KUBEAGENT" check -c "$d/api.yaml" 2>&1); rc=$?
expect_eq "$rc" 0 "with a token file it passes"
expect_match "$out" "templates: registration at /v1/templates, bearer token required, unused ones expire after 1800s" \
        "and says how the API is guarded"
expect_no_match "$out" "a-token-of-the-api" "never showing the token"

out=$("$KUBEAGENT" check --nosuch 2>&1); rc=$?
expect_eq "$rc" 2 "an unknown option exits 2"
rm -rf "$d"
done_testing
