#!/bin/sh
# `kubeagent render` from the outside: options, output forms, and every bad
# input answered with a located message and exit 2.
. "$top_srcdir/tests/cli/lib.sh"

ex="$top_srcdir/config/examples"
SOURCE_DATE_EPOCH=1700000000
export SOURCE_DATE_EPOCH

out=$("$KUBEAGENT" render -c "$ex/maven.yaml" -t maven --name maven-1 --secret s3cr3t -o yaml); ok $? "render -t"
expect_match "$out" "apiVersion: v1
kind: Pod" "a Pod"
expect_match "$out" "  name: maven-1" "named exactly --name"
expect_match "$out" "kubernetes.jenkins.io/last-refresh: \"1700000000000\"" "SOURCE_DATE_EPOCH"
expect_match "$out" "value: s3cr3t" "--secret"

out=$("$KUBEAGENT" render -t maven -c "$ex/maven.yaml" --name m -o json); ok $? "-c after the command, -o json"
expect_match "$out" '"kind":	"Pod"' "json"
echo "$out" | "$PYTHON3" -c 'import json,sys; p=json.load(sys.stdin); assert p["metadata"]["name"] == "m"'
ok $? "the json parses"
expect_match "$out" '"value":	"<agent-secret>"' "a placeholder secret without --secret"

out=$("$KUBEAGENT" -c "$ex/maven.yaml" render -l 'java && !windows' --name m); ok $? "render -l EXPRESSION"
expect_match "$out" "jenkins/label: maven_java" "the template the expression selects"
out=$("$KUBEAGENT" render -c "$ex/maven.yaml" -t maven --jenkins-url https://other.example.com --name m)
expect_match "$out" "value: https://other.example.com/" "--jenkins-url overrides the cloud's"
out=$("$KUBEAGENT" render -c "$ex/maven.yaml" -t maven)
name1=$(printf '%s\n' "$out" | sed -n 's/^  name: //p')
name2=$("$KUBEAGENT" render -c "$ex/maven.yaml" -t maven | sed -n 's/^  name: //p')
case "$name1" in
maven-[a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9]) ok 0 "without --name: template name and a random suffix" ;;
*) ok 1 "without --name: template name and a random suffix (got: $name1)" ;;
esac
[ "$name1" != "$name2" ]; ok $? "a new suffix each time ($name1, $name2)"

out=$("$KUBEAGENT" render -c "$ex/inheritance.yaml" -t java17 --explain --name j)
expect_match "$out" "image: gradle:8-jdk17  # template java17 containers build image (" "--explain, yaml"
out=$("$KUBEAGENT" render -c "$ex/inheritance.yaml" -t java17 --explain --name j -o json)
expect_match "$out" '"spec.restartPolicy":	"decorator: default restart policy"' "--explain, json"

out=$("$KUBEAGENT" render -c "$ex/maven.yaml" -l gradle 2>&1); rc=$?
expect_eq "$rc" 2 "no matching template: exit 2"
expect_match "$out" 'no template matches the label expression "gradle"' "says so"
expect_match "$out" "cloud kubernetes, template maven: label maven java" "listing templates and labels"
out=$("$KUBEAGENT" render -c "$ex/maven.yaml" -t nosuch 2>&1); rc=$?
expect_eq "$rc" 2 "no template of that name: exit 2"
out=$("$KUBEAGENT" render -c "$ex/maven.yaml" -l 'a &&' 2>&1); rc=$?
expect_eq "$rc" 2 "a bad label expression: exit 2"
expect_match "$out" "expected a label, '!' or '(' at the end at column 5" "with its column"
out=$("$KUBEAGENT" render -c "$ex/maven.yaml" -t maven --name Bad_Name 2>&1); rc=$?
expect_eq "$rc" 2 "a bad agent name: exit 2"
out=$("$KUBEAGENT" render -c "$ex/maven.yaml" --cloud nosuch -t maven 2>&1); rc=$?
expect_eq "$rc" 2 "an unknown cloud: exit 2"
expect_match "$out" 'no cloud named "nosuch"' "says so"
out=$("$KUBEAGENT" render -c "$ex/maven.yaml" 2>&1); rc=$?
expect_eq "$rc" 2 "neither -t nor -l: exit 2"
out=$("$KUBEAGENT" render -c "$ex/maven.yaml" -t maven -o xml 2>&1); rc=$?
expect_eq "$rc" 2 "a bad output format: exit 2"

d=$(tmpdir)
cat > "$d/nourl.yaml" <<'YAML'
jenkins:
  clouds:
    - kubernetes:
        name: k
        templates:
          - name: t
            yaml: |
              spec:
                containers: [{name: a, image: a}]
YAML
out=$(env -u KUBERNETES_JENKINS_URL "$KUBEAGENT" render -c "$d/nourl.yaml" -t t 2>&1); rc=$?
expect_eq "$rc" 2 "no Jenkins URL: exit 2"
expect_match "$out" "nourl.yaml:6:13: error: no Jenkins URL for the agents of template t: set jenkinsUrl on cloud k" \
        "located at the template"
out=$("$KUBEAGENT" render -c "$d/nourl.yaml" -t t --jenkins-url http://j --name x); ok $? "unless --jenkins-url"
printf 'jenkins:\n  clouds:\n    - kubernetes: {name: k, templates: [{name: t, containers: [{name: A}]}]}\n' \
        > "$d/bad.yaml"
out=$("$KUBEAGENT" render -c "$d/bad.yaml" -t t 2>&1); rc=$?
expect_eq "$rc" 2 "a bad config: exit 2"
expect_match "$out" "bad.yaml:3:71: error: container name \"A\" must match RFC 1123" "located"
rm -rf "$d"
done_testing
