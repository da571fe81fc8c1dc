#!/bin/sh
# `kubeagent plugins`, the plugin ABI from the outside: every plugin
# exports only its entry symbol, listing and help come from the key tables.
. "$top_srcdir/tests/cli/lib.sh"

out=$("$KUBEAGENT" plugins 2>&1); rc=$?
ok $rc "kubeagent plugins succeeds"
expect_match "$out" "KIND        NAME" "has a header"
expect_match "$out" "retention   on-failure " "lists the on-failure retention plugin"
expect_match "$out" "onFailure/OnFailure" "shows the symbols a retention plugin serves"

json=$("$KUBEAGENT" plugins -o json); ok $? "plugins -o json"
expect_match "$json" '"name":	"never"' "json lists plugins"

out=$("$KUBEAGENT" plugins --help on-failure); ok $? "plugins --help NAME"
expect_match "$out" "on-failure $(sed -n 's/^AC_INIT(\[kubeagent\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")" "help names the plugin and version"
expect_match "$out" "Selected with: podRetention: onFailure/OnFailure" "help shows how to select it"

out=$("$KUBEAGENT" plugins --help no-such 2>&1); rc=$?
expect_eq "$rc" 2 "help for an unknown plugin exits 2"
expect_match "$out" 'no plugin named "no-such"' "and says so"

# the test folder holds refused plugins: listing still works, exit 1, reasons printed
out=$(KUBEAGENT_PLUGIN_PATH="$KA_TEST_PLUGIN_DIR" "$KUBEAGENT" plugins 2>&1); rc=$?
expect_eq "$rc" 1 "refused plugins make 'plugins' exit 1"
expect_match "$out" "volume      test-good " "the good one is listed"
expect_match "$out" "testVolume: path, mountPath, readOnly" "with its config keys"
expect_match "$out" "test-wrong-abi.so: built for plugin ABI version 99" "wrong ABI reason printed"
expect_match "$out" "init failed: cannot reach the license server" "failed init reason printed"

out=$(KUBEAGENT_PLUGIN_PATH="$KA_TEST_PLUGIN_DIR" "$KUBEAGENT" plugins --help test-good 2>/dev/null)
expect_match "$out" "path            string           required" "help prints the key table"
expect_match "$out" "timeout         duration         default: 2s" "with defaults"

# only kubeagent_plugin_entry is exported by any plugin
for so in "$top_builddir"/plugins/.libs/*.so "$KA_TEST_PLUGIN_DIR"/test-good.so; do
        syms=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^_' | sort -u | tr '\n' ' ')
        case "$so" in
        *test-not-a-plugin.so) continue ;;
        esac
        expect_eq "$syms" "kubeagent_plugin_entry " "$(basename "$so") exports only kubeagent_plugin_entry"
done

# a config's pluginPath adds a folder before the built-in one
d=$(tmpdir)
mkdir "$d/p"
cp "$KA_TEST_PLUGIN_DIR/test-good.so" "$d/p/"
printf 'kubeagent:\n  pluginPath: p\n' > "$d/k.yaml"
out=$(env -u KUBEAGENT_PLUGIN_PATH "$KUBEAGENT" -c "$d/k.yaml" plugins 2>&1)
expect_match "$out" "test-good" "kubeagent.pluginPath is searched (relative to the config file)"
printf 'kubeagent:\n  pluginPath: [p, {x: 1}]\n' > "$d/k.yaml"
out=$(env -u KUBEAGENT_PLUGIN_PATH "$KUBEAGENT" -c "$d/k.yaml" plugins 2>&1)
expect_match "$out" "k.yaml:2:19: error: kubeagent.pluginPath: expected a folder or a list of folders" "bad pluginPath located"
rm -rf "$d"

out=$("$KUBEAGENT" nosuch 2>&1); rc=$?
expect_eq "$rc" 2 "unknown command exits 2"
out=$("$KUBEAGENT" --version); ok $? "--version"
expect_match "$out" "kubeagent " "--version prints the version"
out=$("$KUBEAGENT" --help); ok $? "--help"
expect_match "$out" "Exit status: 0 success, 1 runtime failure, 2 usage or config error." "--help documents exit codes"
done_testing
