#!/bin/sh
# The deployment files: the systemd unit verifies and is hardened, the
# Kubernetes manifests fit together (and their config passes check), and the
# Dockerfile installs what the build needs and what the binaries load.
. "$top_srcdir/tests/cli/lib.sh"
cfg=$top_srcdir/config
d=$(tmpdir)

# ---- systemd ----
unit=$cfg/systemd/kubeagentd.service
if command -v systemd-analyze >/dev/null 2>&1; then
        sed "s|/usr/bin/kubeagentd|$top_builddir/core/daemon/kubeagentd|" "$unit" > "$d/kubeagentd.service"
        out=$(systemd-analyze verify --man=no "$d/kubeagentd.service" 2>&1); rc=$?
        expect_eq "$rc" 0 "systemd-analyze verify accepts the unit"
        [ "$rc" -eq 0 ] || printf '# %s\n' "$out"
        if systemd-analyze security --help 2>&1 | grep -q -- --threshold; then
                out=$(systemd-analyze security --offline=yes --threshold=20 "$d/kubeagentd.service" 2>&1); rc=$?
                expect_eq "$rc" 0 "systemd-analyze security: exposure at most 2.0"
                [ "$rc" -eq 0 ] || printf '%s\n' "$out" | tail -3 | sed 's/^/# /'
        else
                skip "systemd-analyze has no --threshold" "exposure at most 2.0"
        fi
else
        skip "no systemd-analyze" "systemd-analyze verify accepts the unit"
        skip "no systemd-analyze" "systemd-analyze security: exposure at most 2.0"
fi
text=$(cat "$unit")
for key in "User=kubeagent" "NoNewPrivileges=yes" "ProtectSystem=strict" "CapabilityBoundingSet=" \
           "RestartPreventExitStatus=2"; do
        expect_match "$text" "$key" "the unit sets $key"
done
# kubeagentd logs and ignores SIGHUP: no ExecReload until it reloads
if "$KUBEAGENTD" --help | grep -qi reload; then
        expect_match "$text" "ExecReload=" "kubeagentd reloads: the unit says how"
else
        expect_no_match "$text" "ExecReload=" "no ExecReload while kubeagentd does not reload"
fi
user=$(sed -n 's/^u \([a-z]*\) .*/\1/p' "$cfg/systemd/kubeagent.sysusers")
expect_eq "$user" "kubeagent" "sysusers creates the unit's user"

# ---- Kubernetes ----
dep=$cfg/kubernetes/deployment.yml
rbac=$cfg/kubernetes/rbac.yaml
sa=$(awk '/^kind: ServiceAccount/{f=1} f && /^  name:/{print $2; exit}' "$rbac")
expect_match "$(cat "$dep")" "serviceAccountName: $sa" "the Deployment runs as rbac.yaml's ServiceAccount ($sa)"
expect_no_match "$(cat "$dep")" "kind: Role" "the RBAC objects are not duplicated"
# the config embedded in the ConfigMap
awk '/^  kubeagent.yaml: \|/{f=1; next} f && /^---/{exit} f{sub(/^    /, ""); print}' "$dep" > "$d/kubeagent.yaml"
out=$("$KUBEAGENT" check -c "$d/kubeagent.yaml" 2>&1); rc=$?
expect_eq "$rc" 0 "the ConfigMap's kubeagent.yaml passes check"
expect_no_match "$out" ": warning:" "  without warnings"
token=$(sed -n 's/^ *tokenFile: //p' "$d/kubeagent.yaml")
mount=$(awk '/- name: jenkins$/{f=1} f && /mountPath:/{print $2; exit}' "$dep")
expect_eq "$(dirname "$token")" "$mount" "tokenFile lies in the mounted Secret"
expect_match "$(cat "$dep")" "mountPath: /etc/kubeagent" "the config is mounted where the image reads it"
expect_match "$(sed -n 's/^CMD //p' "$top_srcdir/Dockerfile")" "/etc/kubeagent/kubeagent.yaml" \
        "the image reads /etc/kubeagent/kubeagent.yaml"

# ---- Dockerfile ----
docker=$top_srcdir/Dockerfile
build_stage=$(awk '/^FROM .* AS build/{f=1} /^FROM / && !/AS build/{f=0} f' "$docker")
runtime_stage=$(awk '/^FROM / && !/AS build/{f=1} f' "$docker")
# the Debian packages configure asks for (KA_DEP's third argument)
for p in $(sed -n 's/^KA_DEP(\[[A-Z]*\], *\[[^]]*\], *\[\([a-z0-9.-]*\)\]).*/\1/p' "$top_srcdir/configure.ac"); do
        expect_match "$build_stage" " $p" "the build stage installs $p"
done
if command -v dpkg >/dev/null 2>&1 && command -v readelf >/dev/null 2>&1; then
        pkgs=
        for f in "$top_builddir"/core/daemon/.libs/kubeagentd "$top_builddir"/core/daemon/kubeagentd \
                 "$top_builddir"/core/cli/.libs/kubeagent "$top_builddir"/core/cli/kubeagent \
                 "$top_builddir"/plugins/.libs/*.so; do
                [ -f "$f" ] && readelf -h "$f" >/dev/null 2>&1 || continue
                for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
                        path=$(ldd "$f" | awk -v l="$lib" '$1 == l {print $3}')
                        [ -n "$path" ] || continue
                        pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null)
                        pkgs="$pkgs ${pkg%%:*}"
                done
        done
        for p in $(printf '%s\n' $pkgs | sort -u); do
                case $p in
                libc6 | libasan* | libubsan* | libgcc-s* | libstdc++*) continue ;;   # base image, sanitizers
                esac
                expect_match "$runtime_stage" " $p" "the image installs $p (a library kubeagent loads)"
        done
else
        skip "no dpkg or readelf" "the image installs the libraries kubeagent loads"
fi
expect_match "$runtime_stage" "USER 10001" "the image runs as a non-root user"
expect_eq "$(grep -c '^FROM debian:bookworm' "$docker")" 2 "both stages are Debian bookworm"
rm -rf "$d"
done_testing
