#!/bin/sh
# `kubeagent check JENKINSFILE` and `kubeagent render JENKINSFILE`: the pod
# templates of a Jenkinsfile checked like config templates and rendered by
# the same code, with the config's clouds and templates as parents.
#
# Every tests/pipelines/NAME.groovy renders (with tests/pipelines/kubeagent.yaml)
# to exactly tests/pipelines/NAME.pods.yaml, and each example Jenkinsfile of
# config/examples (with inheritance.yaml) to tests/pipelines/example-*.pods.yaml.
# To regenerate after an intended change, run this and review the diff:
#     KA_GOLDEN_UPDATE=1 make check TESTS=tests/cli/pipeline.sh && git diff tests/pipelines
. "$top_srcdir/tests/cli/lib.sh"

p="$top_srcdir/tests/pipelines"
d=$(tmpdir)

out=$("$KUBEAGENT" check "$p/readme-nesting.groovy" 2>&1); rc=$?
expect_eq "$rc" 0 "a README example passes check"
expect_match "$out" "readme-nesting.groovy:2:1 podTemplate: label docker, 1 container" "one line per block"
expect_match "$out" "readme-nesting.groovy:3:5 podTemplate: label maven, 2 containers, inheritFrom docker-" \
        "the nested block inherits the enclosing one: both containers"
expect_match "$out" "readme-nesting.groovy: OK, 2 pod templates, 0 warnings" "a summary"

out=$("$KUBEAGENT" check "$p/bad-readme-inherit.groovy" 2>&1); rc=$?
expect_eq "$rc" 2 "a syntax error exits 2"
expect_match "$out" "bad-readme-inherit.groovy:2:55: error: unexpected \"containers\"; expected ',' or ')'" \
        "the README's missing comma is located"

out=$("$KUBEAGENT" check "$p/bad-container-names.groovy" 2>&1); rc=$?
expect_eq "$rc" 2 "bad container names exit 2"
expect_match "$out" "bad-container-names.groovy:17:11: error: Container Names MUST match RFC 1123 - They can only contain lowercase letters, numbers or dashes: badcontainername_!, badcontainername2_!" \
        "the plugin's message, every bad name of the YAML"
expect_no_match "$out" "yaml: container name" "and not the template check's second message about the same names"

out=$("$KUBEAGENT" check "$p/bad-template-validation.groovy" 2>&1); rc=$?
expect_eq "$rc" 2 "template validation errors exit 2"
expect_match "$out" "bad-template-validation.groovy:5:34: error: yaml: did not find expected node content" \
        "a YAML error inside a Groovy string, at its place in the Jenkinsfile"
expect_match "$out" "bad-template-validation.groovy:7:47: error: missing required key \"serverAddress\"" \
        "a volume plugin's required key, at the volume"

cat > "$d/k.yaml" <<'YAML'
jenkins:
  clouds:
    - kubernetes:
        name: first
        namespace: one
        templates:
          - name: mypod
            label: mypod
            containers:
              - {name: maven, image: "maven:3.3.9-jdk-8-alpine", command: cat, ttyEnabled: true}
              - {name: golang, image: "golang:1.8.0", command: cat, ttyEnabled: true}
    - kubernetes:
        name: second
YAML
out=$("$KUBEAGENT" check -c "$d/k.yaml" "$p/readme-inherit.groovy" 2>&1); rc=$?
expect_eq "$rc" 0 "inheritFrom a template of the config"
expect_match "$out" "readme-inherit.groovy:4:1 podTemplate: label anotherpod, cloud first, 2 containers, inheritFrom mypod" \
        "the config's template is the parent: its containers are combined"
expect_match "$out" "OK, 1 pod template, 0 warnings" "without warnings"

out=$("$KUBEAGENT" check -c "$d/k.yaml" --cloud second "$p/readme-inherit.groovy" 2>&1); rc=$?
expect_eq "$rc" 0 "--cloud picks the cloud of blocks that name none"
expect_match "$out" "readme-inherit.groovy:4:47: warning: inheritFrom: no template named \"mypod\" in cloud \"second\"; ignored" \
        "a parent missing from that cloud is a located warning, as the plugin ignores it"

out=$("$KUBEAGENT" check -c "$d/k.yaml" "$p/readme-all-options.groovy" 2>&1); rc=$?
expect_eq "$rc" 2 "a block naming a cloud the config lacks"
expect_match "$out" "readme-all-options.groovy:3:1: error: Cloud does not exist: kubernetes" "the plugin's message"

out=$("$KUBEAGENT" check "$d/none.groovy" 2>&1); rc=$?
expect_eq "$rc" 2 "a missing Jenkinsfile exits 2"
expect_match "$out" "none.groovy: No such file or directory" "and says so"

printf 'node { sh "true" }\n' > "$d/plain.groovy"
out=$("$KUBEAGENT" check "$d/plain.groovy" 2>&1); rc=$?
expect_eq "$rc" 0 "a Jenkinsfile without pod templates is fine"
expect_match "$out" "no podTemplate step or kubernetes agent found" "and says it has none"

# ---- render ----
SOURCE_DATE_EPOCH=0
export SOURCE_DATE_EPOCH
unset KUBERNETES_JENKINS_URL

out=$("$KUBEAGENT" render "$p/readme-nesting.groovy" 2>&1); rc=$?
expect_eq "$rc" 0 "render without a config: a default cloud"
expect_eq "$(printf '%s\n' "$out" | grep -c '^apiVersion: v1$')" 2 "one pod per block"
expect_match "$out" "---
# $p/readme-nesting.groovy:2:1: podTemplate, label docker
apiVersion: v1" "each after a comment naming its block"
expect_match "$out" "value: <agent-secret>" "the secret is a placeholder"
expect_match "$out" "name: maven-nbhjw-agent" "agent names end in a placeholder suffix"
expect_match "$out" "value: <jenkins-url>/" "the Jenkins URL is a placeholder without a config"
expect_match "$out" "kubernetes.jenkins.io/last-refresh: \"0\"" "timestamps honour SOURCE_DATE_EPOCH"

out=$("$KUBEAGENT" render "$p/readme-nesting.groovy" --name agent-1 --secret s3cr3t --jenkins-url http://j:8080 2>&1)
expect_match "$out" "  name: agent-1" "--name names the pods"
expect_match "$out" "value: s3cr3t" "--secret gives the secret"
expect_match "$out" "value: http://j:8080/" "--jenkins-url gives the URL"

"$KUBEAGENT" render -o json -c "$p/kubeagent.yaml" "$p/run-in-two-pods.groovy" > "$d/list.json" 2>&1; rc=$?
expect_eq "$rc" 0 "render -o json"
got=$("$PYTHON3" -c '
import json, sys
l = json.load(open(sys.argv[1]))
print(l["apiVersion"], l["kind"], l["metadata"], [i["metadata"]["labels"]["jenkins/label"] for i in l["items"]])
' "$d/list.json" 2>&1)
expect_eq "$got" "v1 List {'resourceVersion': ''} ['first', 'second']" "a List of the pods in source order, as kubectl prints one"

out=$("$KUBEAGENT" render -c "$p/kubeagent.yaml" -t mypod "$p/readme-nesting.groovy" 2>&1); rc=$?
expect_eq "$rc" 2 "a template and a Jenkinsfile together is a usage error"
expect_match "$out" "give exactly one of -t TEMPLATE, -l LABEL-EXPRESSION and a Jenkinsfile" "saying so"

out=$("$KUBEAGENT" render "$p/bad-readme-inherit.groovy" 2>&1); rc=$?
expect_eq "$rc" 2 "a bad Jenkinsfile renders nothing and exits 2"
expect_no_match "$out" "apiVersion" "nothing at all"

printf "podTemplate(cloud: 'other') { }\n" > "$d/other.groovy"
out=$("$KUBEAGENT" render "$d/other.groovy" 2>&1); rc=$?
expect_eq "$rc" 0 "without a config, a block naming a cloud renders in the default one"
expect_match "$out" "other.groovy:1:1: warning: cloud other: without a config (-c), kubeagent uses a default cloud" \
        "with a warning"

# the goldens
cd "$p" || exit 1
for f in *.groovy; do
        name=${f%.groovy}
        {
                echo "# kubeagent render -c kubeagent.yaml $f --secret s3cr3t"
                "$KUBEAGENT" render -c kubeagent.yaml "$f" --secret s3cr3t 2>&1 || echo "# exit $?"
        } > "$d/$name.pods.yaml"
        expect_golden "$d/$name.pods.yaml" "$name.pods.yaml" "$f renders as $name.pods.yaml"
done
cd "$top_srcdir" || exit 1
for f in config/examples/Jenkinsfile.*; do
        name=example-${f##*.}
        {
                echo "# kubeagent render -c config/examples/inheritance.yaml $f --secret s3cr3t"
                "$KUBEAGENT" render -c config/examples/inheritance.yaml "$f" --secret s3cr3t 2>&1 || echo "# exit $?"
        } > "$d/$name.pods.yaml"
        expect_golden "$d/$name.pods.yaml" "tests/pipelines/$name.pods.yaml" "$f renders as tests/pipelines/$name.pods.yaml"
        out=$("$KUBEAGENT" check -c config/examples/inheritance.yaml "$f" 2>&1); rc=$?
        expect_eq "$rc" 0 "$f passes check"
        expect_match "$out" "0 warnings" "$f has no warnings"
done
expect_eq "$(ls tests/pipelines/*.pods.yaml | wc -l)" "$(($(ls tests/pipelines/*.groovy | wc -l) + $(ls config/examples/Jenkinsfile.* | wc -l)))" \
        "one golden render per Jenkinsfile, no stale ones"

rm -rf "$d"
done_testing
