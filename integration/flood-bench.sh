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
# shellcheck source=integration/lab-run.sh
. "$repo/integration/lab-run.sh"

lab_require_root flood-bench.sh

missing=()
[ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] && command -v vtysh >/dev/null || missing+=(frr)
command -v ip >/dev/null || missing+=(iproute2)
command -v sysctl >/dev/null || missing+=(procps)
command -v curl >/dev/null || missing+=(curl)
lab_install flood-bench.sh "${missing[@]}"

lab_run_begin flood-bench.sh
trap 'lab_run_cleanup' EXIT
trap 'exit 130' INT TERM

lab_build_bench flood-bench.sh flood --bin elastic
"$bench_bin" &
lab_pid=$!
wait "$lab_pid"
