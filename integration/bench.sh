#!/usr/bin/env bash
# The benchmark (not a test): elastic vs gobgpd (configured as lelastic configures it) vs the real
# lelastic, in network namespaces with four FRR route servers. Run as root from the repository:
#
#   integration/bench.sh
#
# Prints one table: start-up time to the route at the route servers, memory and CPU at idle with
# four sessions, and the time to get 10,000 prefixes to the route servers. About 3–4 minutes.
#
# lelastic: LELASTIC_BIN=/path/to/lelastic, or LELASTIC_BUILD=/path/to/a/script that builds it
# and writes the binary to the path it is given (`script OUT`); without either, its column reads
# n/a. BENCH_IDLE_SECS (60) and BENCH_RUNS (3) shorten or lengthen runs.
#
# Installs what it lacks (frr, gobgpd, iproute2, procps, a C linker). Removes everything it
# created, also on Ctrl-C.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# shellcheck source=integration/lab-run.sh
. "$repo/integration/lab-run.sh"

lab_require_root bench.sh

# --- prerequisites: install only what is missing -------------------------------------------------
missing=()
[ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] && command -v vtysh >/dev/null || missing+=(frr)
command -v gobgpd >/dev/null && command -v gobgp >/dev/null || missing+=(gobgpd)
command -v ip >/dev/null || missing+=(iproute2)
command -v sysctl >/dev/null || missing+=(procps)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
lab_install bench.sh "${missing[@]}"
if ! command -v cargo >/dev/null; then
    echo "bench.sh: cargo not found; install Rust (https://rustup.rs) and run again" >&2
    exit 1
fi

scratch=$(mktemp -d)
lab_run_begin bench.sh

cleanup() {
    local rc=$?
    trap - INT TERM EXIT
    lab_run_cleanup
    rm -rf "$scratch"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- lelastic ------------------------------------------------------------------------------------
lelastic=${LELASTIC_BIN:-}
if [ -z "$lelastic" ]; then
    builder=${LELASTIC_BUILD:-}
    if [ -n "$builder" ] && [ -x "$builder" ]; then
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
lab_build_bench bench.sh bench --bin elastic

# --- run -----------------------------------------------------------------------------------------
LELASTIC_BIN="$lelastic" "$bench_bin" &
lab_pid=$!
wait "$lab_pid"
