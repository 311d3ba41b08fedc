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
# shellcheck source=integration/lab-run.sh
. "$repo/integration/lab-run.sh"

lab_require_root soak-bench.sh

missing=()
[ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] && command -v vtysh >/dev/null || missing+=(frr)
command -v ip >/dev/null || missing+=(iproute2)
command -v sysctl >/dev/null || missing+=(procps)
command -v curl >/dev/null || missing+=(curl)
lab_install soak-bench.sh "${missing[@]}"

lab_run_begin soak-bench.sh
trap 'lab_run_cleanup' EXIT
trap 'exit 130' INT TERM

lab_build_bench soak-bench.sh soak --bin elastic
"$bench_bin" &
lab_pid=$!
wait "$lab_pid"
