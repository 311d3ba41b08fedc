#!/usr/bin/env bash
# The Debian package, built with cargo-deb and tested on this machine, as root (integration/test.sh
# runs it last; CI has a fresh machine, so installing and purging here is safe):
#
#   sudo integration/package-test.sh
#
# Builds target/debian/elastic_<version>-<revision>_<arch>.deb, checks its contents and maintainer
# scripts (no systemd runs in CI, so the scripts are checked by what they say), installs it with
# dpkg -i, verifies the installed unit, checks every installed example config, then dpkg -r and
# dpkg -P and checks that nothing is left behind. Refuses to run where an elastic package or
# /usr/sbin/elastic already exists: an operator's installation is not ours to replace.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "package-test: FAIL: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root (dpkg -i)"
command -v cargo-deb >/dev/null 2>&1 || fail "cargo-deb not found: cargo install cargo-deb --locked"
if dpkg-query -W -f='${Status}' elastic 2>/dev/null | grep -q 'installed\|config-files'; then
    fail "a package named elastic is already on this machine; refusing to replace it"
fi
[ ! -e /usr/sbin/elastic ] || fail "/usr/sbin/elastic exists and is not from a package; refusing to overwrite it"

work=$(mktemp -d /tmp/el-package.XXXXXX)
installed=0
cleanup() {
    if [ "$installed" -eq 1 ]; then
        dpkg -P elastic >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

rm -f target/debian/elastic_*.deb
cargo deb --locked
debs=(target/debian/elastic_*.deb)
[ "${#debs[@]}" -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one target/debian/elastic_*.deb, found: ${debs[*]}"
deb=${debs[0]}
echo "package-test: built $deb ($(du -k "$deb" | cut -f1) KiB)"

# --- contents --------------------------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's#^\./#/#' >"$work/contents"
has() { grep -qx "$1" "$work/contents" || fail "the package lacks $1"; }
has /usr/sbin/elastic
has /etc/default/elastic
has /usr/share/doc/elastic/README.md
has /usr/share/doc/elastic/elastic-usage.txt
has /usr/share/doc/elastic/copyright
for f in configs/*.yaml; do has "/usr/share/doc/elastic/examples/$(basename "$f")"; done
for f in configs/frr/* configs/bird/* configs/gobgp/*; do
    has "/usr/share/doc/elastic/examples/route-servers/${f#configs/}"
done
unit_path=$(grep -E '^(/usr)?/lib/systemd/system/elastic\.service$' "$work/contents" || true)
[ -n "$unit_path" ] || fail "the package has no elastic.service under /lib/systemd/system"
if grep -q '^/etc/elastic/' "$work/contents"; then
    fail "the package ships files in /etc/elastic (a live config would announce on install)"
fi

# The unit in the package is the repository's, with its ExecStart at the installed binary.
dpkg-deb --fsys-tarfile "$deb" | tar -xO ".$unit_path" >"$work/unit"
cmp -s "$work/unit" systemd/elastic.service || fail "the packaged unit differs from systemd/elastic.service"
grep -qx 'ExecStart=/usr/sbin/elastic $ELASTIC_ARGS' "$work/unit" || fail "ExecStart is not /usr/sbin/elastic"

# --- control files ---------------------------------------------------------------------------
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/default/elastic "$work/control/conffiles" || fail "/etc/default/elastic is not a conffile"
for script in postinst prerm postrm; do
    [ -x "$work/control/$script" ] || fail "no $script maintainer script"
done
postinst=$work/control/postinst
# Installing enables nothing and starts nothing. Debhelper's enable fragment runs
# `deb-systemd-helper enable` whenever `was-enabled` says so, which is true on a first install;
# without it, enable runs only for a unit already known from an earlier install
# (`debian-installed`), to restore the operator's choice on upgrade. Its start fragment would
# call `deb-systemd-invoke start` (or `$_dh_action`).
awk '/deb-systemd-helper debian-installed/ { guarded = 1 }
     /deb-systemd-helper enable/ && !guarded { bad = 1 }
     END { exit bad }' "$postinst" || fail "postinst enables the unit on a first install"
if grep -Eq 'deb-systemd-invoke (start|\$_dh_action)' "$postinst"; then fail "postinst starts the unit"; fi
# An upgrade ($2 = the old version) restarts a running daemon (try-restart: only if it runs).
grep -B1 'deb-systemd-invoke try-restart elastic.service' "$postinst" | grep -q 'if \[ -n "\$2" \]' ||
    fail "postinst does not restart a running daemon on upgrade (and only then)"
# Removing stops it.
grep -Eq 'deb-systemd-invoke stop .*elastic\.service' "$work/control/prerm" || fail "prerm does not stop the unit on remove"
# Purging forgets the unit's enable state and removes the run-time state.
grep -q 'deb-systemd-helper purge' "$work/control/postrm" || fail "postrm does not purge the unit's state"
grep -q '/var/lib/private/elastic' "$work/control/postrm" || fail "postrm leaves the state directory behind on purge"

# --- install ---------------------------------------------------------------------------------
installed=1
dpkg -i "$deb"
dpkg-query -W -f='${Status}\n' elastic | grep -qx 'install ok installed' || fail "dpkg -i did not install it"
dpkg -L elastic >"$work/files"
[ -x /usr/sbin/elastic ] || fail "/usr/sbin/elastic is not executable after install"
[ ! -e /etc/elastic/elastic.yaml ] || fail "installing created /etc/elastic/elastic.yaml"
for wants in /etc/systemd/system/*.wants/elastic.service; do
    [ ! -e "$wants" ] || fail "installing enabled the unit: $wants"
done
systemd-analyze verify "$unit_path" || fail "systemd-analyze verify $unit_path"
/usr/sbin/elastic -h >"$work/usage"
cmp -s "$work/usage" /usr/share/doc/elastic/elastic-usage.txt ||
    fail "/usr/share/doc/elastic/elastic-usage.txt is not what elastic -h prints (regenerate it: target/release/elastic -h > packaging/elastic-usage.txt)"
checked=0
for example in /usr/share/doc/elastic/examples/*.yaml; do
    /usr/sbin/elastic check-config -config "$example" >/dev/null ||
        fail "elastic check-config -config $example"
    checked=$((checked + 1))
done
[ "$checked" -gt 0 ] || fail "no example config was installed"
echo "package-test: installed; unit verified; $checked example configs pass check-config"

# --- remove and purge ------------------------------------------------------------------------
dpkg -r elastic
dpkg-query -W -f='${Status}\n' elastic | grep -qx 'deinstall ok config-files' ||
    fail "after dpkg -r the package is not in config-files state"
[ ! -e /usr/sbin/elastic ] || fail "dpkg -r left /usr/sbin/elastic"
[ ! -e "$unit_path" ] || fail "dpkg -r left $unit_path"
[ -e /etc/default/elastic ] || fail "dpkg -r removed the conffile /etc/default/elastic (only purge may)"
dpkg -P elastic
installed=0
if dpkg-query -W elastic >/dev/null 2>&1; then fail "dpkg -P left the package known to dpkg"; fi
left=()
while read -r path; do
    # Directories the package shares with the system (/usr, /etc/default, …) stay, of course.
    if [ -e "$path" ] && [ ! -d "$path" ]; then left+=("$path"); fi
done <"$work/files"
for path in /usr/share/doc/elastic /etc/default/elastic /var/lib/private/elastic /var/lib/elastic \
    /var/lib/systemd/deb-systemd-helper-enabled/elastic.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-masked/elastic.service; do
    [ ! -e "$path" ] || left+=("$path")
done
[ "${#left[@]}" -eq 0 ] || fail "dpkg -P left behind: ${left[*]}"
echo "package-test: ok (dpkg -i, verify, check-config, dpkg -r, dpkg -P: nothing left)"
