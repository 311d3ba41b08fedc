#!/usr/bin/env bash
# The demo: primary/secondary failover of a shared address, in network namespaces, with real FRR
# route servers. Run as root from anywhere in the repository:
#
#   integration/demo.sh
#
# On a fresh Debian 12 with Rust it installs what it lacks (frr, iproute2, procps, a C linker), builds
# the release binaries and runs the demo program (integration/demo.rs, ~30 s: planned stop, A back,
# A's host frozen and dropped by route server 1's BFD). Everything it creates
# is removed afterwards, also on Ctrl-C: the demo cleans up itself, and this script then deletes any
# namespace the demo created and did not remove (and the processes left in it).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
    echo "demo.sh: run as root (the demo creates network namespaces)" >&2
    exit 1
fi

# --- prerequisites: install only what is missing -------------------------------------------------
missing=()
[ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] && command -v vtysh >/dev/null || missing+=(frr)
command -v ip >/dev/null || missing+=(iproute2)
command -v sysctl >/dev/null || missing+=(procps)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "demo.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
    echo "demo.sh: cargo not found; install Rust (https://rustup.rs) and run again" >&2
    exit 1
fi

# --- build ---------------------------------------------------------------------------------------
echo "demo.sh: building (cargo build --release --locked)…"
cargo build --release --locked --quiet --bin elastic --example demo --example labnet
target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target_dir=${target_dir:-$repo/target}
release="$target_dir/release"

# --- run, with a cleanup that only touches what this run created ----------------------------------
# shellcheck source=integration/lab-run.sh
. "$repo/integration/lab-run.sh"
lab_run_begin demo.sh

cleanup() {
    local rc=$?
    trap - INT TERM EXIT
    lab_run_cleanup
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ELASTIC_BIN / LABNET_BIN name the binaries explicitly (the demo would find them next to itself).
ELASTIC_BIN="$release/elastic" LABNET_BIN="$release/examples/labnet" "$release/examples/demo" &
lab_pid=$!
wait "$lab_pid"
