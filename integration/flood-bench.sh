#!/usr/bin/env bash
# The API flood benchmark (not a test): 100 WatchStatus streams and 5000 idle TCP connections to
# the gRPC API of a daemon under `ulimit -n 1024`, in network namespaces with FRR route servers.
# Prints whether the probe failed, whether the address stayed announced, the descriptors the
# daemon held and how soon `elastic status` answered after the flood. Run as root:
#
#   integration/flood-bench.sh
#   ELASTIC_BASELINE_BIN=/path/to/older/elastic integration/flood-bench.sh   # side by side
#
# FLOOD_SECS (20) sets how long the flood lasts. About 1 minute per daemon. Installs what it lacks
# (frr, iproute2, procps, curl). Removes everything it created, also on Ctrl-C.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
    echo "flood-bench.sh: run as root (the benchmark creates network namespaces)" >&2
    exit 1
fi

missing=()
[ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] && command -v vtysh >/dev/null || missing+=(frr)
command -v ip >/dev/null || missing+=(iproute2)
command -v sysctl >/dev/null || missing+=(procps)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    echo "flood-bench.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# shellcheck source=integration/lab-run.sh
. "$repo/integration/lab-run.sh"
lab_run_begin flood-bench.sh
trap 'lab_run_cleanup' EXIT
trap 'exit 130' INT TERM

echo "flood-bench.sh: building (cargo build --release --locked)…"
cargo build --release --locked --quiet --bin elastic
bench_bin=$(cargo bench --locked --no-run --bench flood 2>&1 |
    sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
if [ ! -x "$bench_bin" ]; then
    echo "flood-bench.sh: could not find the benchmark executable" >&2
    exit 1
fi
"$bench_bin" &
lab_pid=$!
wait "$lab_pid"
