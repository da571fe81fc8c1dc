#!/bin/sh
# Golden files: every template of every config/examples/*.yaml renders to
# exactly tests/golden/<example>.yaml (and inheritance.yaml with --explain to
# tests/golden/inheritance.explain.yaml).  To regenerate after an intended
# change, run this and review the diff:
#     KA_GOLDEN_UPDATE=1 make check TESTS=tests/cli/golden.sh && git diff tests/golden
. "$top_srcdir/tests/cli/lib.sh"

cd "$top_srcdir" || exit 1
SOURCE_DATE_EPOCH=0
# a cloud without jenkinsUrl (demo.yaml: kubeagentd takes the controller's
# own root URL) renders with this one, as the plugin does from the variable
KUBERNETES_JENKINS_URL=http://jenkins.example.com/
export SOURCE_DATE_EPOCH KUBERNETES_JENKINS_URL
out=$(tmpdir)

# render_all EXAMPLE: every template of it, one YAML document each
render_all() {
        "$KUBEAGENT" check -c "$1" | sed -n 's/^  template \([^:]*\):.*/\1/p' | while read -r t; do
                echo "---"
                echo "# kubeagent render -c $1 -t $t --name $t-agent --secret s3cr3t"
                "$KUBEAGENT" render -c "$1" -t "$t" --name "$t-agent" --secret s3cr3t || echo "# exit $?"
        done
}

n_examples=0
for f in config/examples/*.yaml; do
        name=$(basename "$f" .yaml)
        render_all "$f" > "$out/$name.yaml" 2>&1
        expect_golden "$out/$name.yaml" "tests/golden/$name.yaml" "$name renders as tests/golden/$name.yaml"
        n_examples=$((n_examples + 1))
done
expect_eq "$(ls tests/golden/*.yaml | grep -cv '\.explain\.yaml$')" "$n_examples" "one golden file per example, no stale ones"

"$KUBEAGENT" render -c config/examples/inheritance.yaml -t java17 --name java17-agent --secret s3cr3t --explain \
        > "$out/explain.yaml" 2>&1
expect_golden "$out/explain.yaml" tests/golden/inheritance.explain.yaml "--explain names where every value comes from"

rm -rf "$out"
done_testing
