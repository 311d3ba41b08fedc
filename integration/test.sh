#!/usr/bin/env bash
# The whole test suite, as root on Debian 12: installs what it lacks (route servers, iproute2,
# cargo-deb), then formatting, lints, unit tests, the integration tests (network namespaces, real
# FRR, BIRD 2 and GoBGP route servers) and the Debian package (integration/package-test.sh: built,
# installed on this machine, checked, purged).
#
#   sudo integration/test.sh            # from the repository root
#   ELASTIC_BIN=/path/to/lelastic integration/test.sh   # point the integration tests elsewhere
#
# Leaves no namespace or process behind: each test removes its lab, also when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "integration/test.sh: run as root (the integration tests create network namespaces)" >&2
    exit 1
fi

# Debian package → a program it ships.
declare -A need=(
    [frr]=/usr/lib/frr/bgpd
    [bird2]=/usr/sbin/bird
    [gobgpd]=/usr/bin/gobgpd
    [keepalived]=/usr/sbin/keepalived
    [iproute2]=/usr/sbin/ip
    [procps]=/usr/sbin/sysctl
    [systemd]=/usr/bin/systemd-analyze
)
missing=()
for pkg in "${!need[@]}"; do
    [ -x "${need[$pkg]}" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The packages start system-wide FRR/BIRD services where an init system runs them; the lab runs
# its own instances in namespaces and wants no other daemon holding port 179 or /run/frr.
integration/stop-system-daemons.sh

if ! command -v cargo >/dev/null 2>&1; then
    echo "integration/test.sh: cargo not found (install Rust 1.95 or newer)" >&2
    exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# --workspace: the daemon and the lab crate (integration/lab) alike.
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace

# The Debian package: built with cargo-deb (not packaged in Debian 12), installed, checked, purged.
if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "installing cargo-deb"
    cargo install --locked --quiet cargo-deb --version 3.8.0
fi
integration/package-test.sh
