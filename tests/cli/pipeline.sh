#!/bin/sh
# `kubeagent check JENKINSFILE`: the pod templates of a Jenkinsfile checked
# like config templates, with the config's clouds and templates as parents.
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

rm -rf "$d"
done_testing
