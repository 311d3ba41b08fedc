#!/usr/bin/env bash
# The demo: primary/secondary failover of a shared address, in network namespaces, with real FRR
# route servers. Run as root from anywhere in the repository:
#
#   integration/demo.sh
#
# On a fresh Debian 12 with Rust it installs what it lacks (frr, iproute2, procps, a C linker), builds
# the release binaries and runs the demo program (integration/demo.rs, ~20 s). Everything it creates
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
netns_before=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
demo_pid=""

# Namespaces that appeared during this run and carry the demo's tag: el-<pid mod 100000><letter>-…
# (the lab's naming), or el-demo… .
leftover_namespaces() {
    [ -n "$demo_pid" ] || return 0
    local tag=$((demo_pid % 100000))
    comm -13 <(echo "$netns_before") <(ip netns list 2>/dev/null | awk '{print $1}' | sort) |
        grep -E "^el-(demo|${tag}[a-z])" || true
}

cleanup() {
    local rc=$?
    trap - INT TERM EXIT
    if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
        # The demo stops between steps on SIGTERM and removes its lab; give it a bounded time.
        kill -TERM "$demo_pid" 2>/dev/null || true
        for _ in $(seq 1 200); do
            kill -0 "$demo_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$demo_pid" 2>/dev/null || true
    fi
    local ns pid tag
    for ns in $(leftover_namespaces); do
        # Processes still running inside a namespace this run created are this run's.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$ns" 2>/dev/null || true
        echo "demo.sh: removed leftover namespace $ns"
    done
    if [ -n "$demo_pid" ]; then
        tag=$((demo_pid % 100000))
        rm -rf /var/run/frr/el-"${tag}"[a-z]-rs* /tmp/el-"${tag}"[a-z] 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ELASTIC_BIN / LABNET_BIN name the binaries explicitly (the demo would find them next to itself).
ELASTIC_BIN="$release/elastic" LABNET_BIN="$release/examples/labnet" "$release/examples/demo" &
demo_pid=$!
wait "$demo_pid"
