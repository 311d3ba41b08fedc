#!/usr/bin/env bash
# The benchmark (not a test): elastic vs gobgpd (configured as lelastic configures it) vs the real
# lelastic, in network namespaces with four FRR route servers. Run as root from the repository:
#
#   integration/bench.sh
#
# Prints one table: start-up time to the route at the route servers, memory and CPU at idle with
# four sessions, and the time to get 10,000 prefixes to the route servers. About 3–4 minutes.
#
# lelastic: LELASTIC_BIN=/path/to/lelastic, or it is built into a temporary directory with
# LELASTIC_BUILD (default /work/shared/peers/lelastic/build.sh) when that builder exists; without
# either, its column reads n/a. BENCH_IDLE_SECS (60) and BENCH_RUNS (3) shorten or lengthen runs.
#
# Installs what it lacks (frr, gobgpd, iproute2, procps, a C linker). Removes everything it
# created, also on Ctrl-C.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
    echo "bench.sh: run as root (the benchmark creates network namespaces)" >&2
    exit 1
fi

# --- prerequisites: install only what is missing -------------------------------------------------
missing=()
[ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] && command -v vtysh >/dev/null || missing+=(frr)
command -v gobgpd >/dev/null && command -v gobgp >/dev/null || missing+=(gobgpd)
command -v ip >/dev/null || missing+=(iproute2)
command -v sysctl >/dev/null || missing+=(procps)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
    echo "bench.sh: cargo not found; install Rust (https://rustup.rs) and run again" >&2
    exit 1
fi

scratch=$(mktemp -d)
bench_pid=""
netns_before=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)

# Namespaces that appeared during this run and carry the benchmark's tag: el-<pid mod 100000><letter>-…
# (the lab's naming), or el-bench… .
leftover_namespaces() {
    [ -n "$bench_pid" ] || return 0
    local tag=$((bench_pid % 100000))
    comm -13 <(echo "$netns_before") <(ip netns list 2>/dev/null | awk '{print $1}' | sort) |
        grep -E "^el-(bench|${tag}[a-z])" || true
}

cleanup() {
    local rc=$?
    trap - INT TERM EXIT
    if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
        # The benchmark stops between steps on SIGTERM and removes its lab; give it a bounded time.
        kill -TERM "$bench_pid" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$bench_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$bench_pid" 2>/dev/null || true
    fi
    local ns pid tag
    for ns in $(leftover_namespaces); do
        # Processes still running inside a namespace this run created are this run's.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$ns" 2>/dev/null || true
        echo "bench.sh: removed leftover namespace $ns"
    done
    if [ -n "$bench_pid" ]; then
        tag=$((bench_pid % 100000))
        rm -rf /var/run/frr/el-"${tag}"[a-z]-rs* /tmp/el-"${tag}"[a-z] 2>/dev/null || true
    fi
    rm -rf "$scratch"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- lelastic ------------------------------------------------------------------------------------
lelastic=${LELASTIC_BIN:-}
if [ -z "$lelastic" ]; then
    builder=${LELASTIC_BUILD:-/work/shared/peers/lelastic/build.sh}
    if [ -x "$builder" ]; then
        echo "bench.sh: building lelastic with $builder (set LELASTIC_BIN to skip)…"
        "$builder" "$scratch/lelastic" >/dev/null
        lelastic="$scratch/lelastic"
    else
        echo "bench.sh: no lelastic (set LELASTIC_BIN, or LELASTIC_BUILD to its build script)"
    fi
elif [ ! -x "$lelastic" ]; then
    echo "bench.sh: LELASTIC_BIN=$lelastic is not an executable" >&2
    exit 1
fi

# --- build ---------------------------------------------------------------------------------------
echo "bench.sh: building (cargo build --release --locked)…"
cargo build --release --locked --quiet --bin elastic
bench_bin=$(cargo bench --locked --no-run --bench bench 2>&1 |
    sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
if [ ! -x "$bench_bin" ]; then
    echo "bench.sh: could not find the benchmark executable" >&2
    exit 1
fi

# --- run -----------------------------------------------------------------------------------------
LELASTIC_BIN="$lelastic" "$bench_bin" &
bench_pid=$!
wait "$bench_pid"
