#!/usr/bin/env bash
# The soak benchmark (not a test): route server 1 restarted 15 times about 6 s apart (time until
# the route is back each time, the retry delays the daemon logged, RSS and descriptors before and
# after), then 100 SIGHUPs in 10 s, then a reload adding 10,000 addresses to the configuration
# and a reload of that configuration unchanged. In network namespaces with FRR route servers.
# Run as root:
#
#   integration/soak-bench.sh
#   ELASTIC_BIN=/path/to/elastic integration/soak-bench.sh   # another daemon binary
#
# About 4 minutes. Installs what it lacks (frr, iproute2, procps, curl). Removes everything it
# created, also on Ctrl-C.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
    echo "soak-bench.sh: run as root (the benchmark creates network namespaces)" >&2
    exit 1
fi

missing=()
[ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] && command -v vtysh >/dev/null || missing+=(frr)
command -v ip >/dev/null || missing+=(iproute2)
command -v sysctl >/dev/null || missing+=(procps)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    echo "soak-bench.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# shellcheck source=integration/lab-run.sh
. "$repo/integration/lab-run.sh"
lab_run_begin soak-bench.sh
trap 'lab_run_cleanup' EXIT
trap 'exit 130' INT TERM

echo "soak-bench.sh: building (cargo build --release --locked)…"
cargo build --release --locked --quiet --bin elastic
bench_bin=$(cargo bench --locked --no-run --bench soak 2>&1 |
    sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
if [ ! -x "$bench_bin" ]; then
    echo "soak-bench.sh: could not find the benchmark executable" >&2
    exit 1
fi
"$bench_bin" &
lab_pid=$!
wait "$lab_pid"
