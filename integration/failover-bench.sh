#!/usr/bin/env bash
# The failover benchmark (not a test): the gap a client sees when the primary's SERVICE dies
# (the host stays up), for elastic with default probes, 100 ms probes / fall 2, a process probe,
# a listen probe, 1 s and 100 ms exec probes, ExaBGP's healthcheck, keepalived VRRP, gobgpd
# configured as lelastic (which never fails over) and elastic in VRRP mode beside keepalived on the
# same L2 segment (exec probe 1 s / fall 2 and a process probe, at adverts of 1 s and 100 ms); then
# each setup's CPU seconds per minute at idle (whole process tree), its idle RSS (VmRSS of the
# primary host's processes but the service: keepalived's whole tree), and elastic's own cost per
# exec check (/bin/true every 100 ms). Then a planned stop (SIGTERM to the VRRP master: elastic
# VRRP at 1 s and 100 ms adverts, keepalived; both send priority 0). Then,
# on the same lab, when the primary HOST freezes (every process in it stopped, everything it sends
# dropped, its link up), for elastic with defaults (hold 9 s), with hold_time: 3s and with BFD at
# 300 ms × 3 and 100 ms × 3 (each in a lab of its own whose first route server runs FRR's bfdd at
# those intervals), ExaBGP (hold-time 9), gobgpd as lelastic, keepalived VRRP (advert 1 s) and
# elastic VRRP (advert 1 s and 100 ms).
# All in network namespaces with four FRR route servers (or BIRD 2: FAILOVER_RS below). Run as root from the repository:
#
#   integration/failover-bench.sh
#
# Prints one table per scenario (median and max of 3 runs each). About 25 minutes (one idle
# minute per service-death setup). FAILOVER_RUNS (3) sets the runs per setup; FAILOVER_SCENARIOS
# (e.g. "host-freeze") picks the scenarios: service-death, host-freeze, planned-stop (all by
# default); FAILOVER_ONLY (e.g. "elastic-fast,exabgp") picks setups in each: elastic-defaults,
# elastic-fast, elastic-process, elastic-listen, elastic-exec, elastic-exec-fast, exec-cost,
# elastic-vrrp-process, elastic-vrrp-process-fast (service death only), elastic-hold3, elastic-bfd300, elastic-bfd100 (host
# freeze only), exabgp, gobgpd, keepalived, keepalived-fast (advert 0.1, VRRPv3), elastic-vrrp
# (advert 1 s), elastic-vrrp-fast (advert 100 ms; these four VRRP keys in every scenario, the
# only ones of planned-stop). FAILOVER_IDLE (60) sets the idle seconds measured per service-death
# setup; 0 skips the CPU figures. FAILOVER_RS=bird runs the lab with four BIRD 2 route servers
# instead of FRR (frr by default; the first exports to the router's kernel); it runs the
# service-death scenario only (host freeze reads FRR's bfdd and bgpd's log), so set
# FAILOVER_SCENARIOS=service-death with it. FAILOVER_VRRP_PRIORITIES ("150,100") sets the VRRP
# priorities of the primary and the backup (keepalived's and elastic's alike): the backup's decides
# how long it waits after a priority-0 advert, (256 − backup) / 256 × advert. FAILOVER_VRRP_VMAC=1
# runs elastic's VRRP instances with use_vmac: true.
#
# Installs what it lacks (frr, bird2 with FAILOVER_RS=bird, gobgpd, exabgp, keepalived, iproute2,
# procps, a C linker) without letting the packages start their system services. Removes everything it created, also on Ctrl-C.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# shellcheck source=integration/lab-run.sh
. "$repo/integration/lab-run.sh"

lab_require_root failover-bench.sh

# --- prerequisites: install only what is missing -------------------------------------------------
missing=()
[ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] && command -v vtysh >/dev/null || missing+=(frr)
if [ "${FAILOVER_RS:-frr}" = bird ]; then
    command -v bird >/dev/null && command -v birdc >/dev/null || missing+=(bird2)
fi
command -v gobgpd >/dev/null && command -v gobgp >/dev/null || missing+=(gobgpd)
[ -x /usr/sbin/exabgp ] && /usr/bin/python3 -m exabgp --version >/dev/null 2>&1 || missing+=(exabgp)
command -v keepalived >/dev/null || missing+=(keepalived)
command -v ip >/dev/null || missing+=(iproute2)
command -v sysctl >/dev/null || missing+=(procps)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "failover-bench.sh: installing ${missing[*]}"
    # exabgp, keepalived and frr would start system-wide services in the root namespace: a
    # policy-rc.d that says no keeps them stopped (only when none is in place already).
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\n# failover-bench.sh: no service starts while installing\nexit 101\n' >"$policy"
        chmod 755 "$policy"
    fi
    apt-get update -qq
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || status=$?
    [ -z "$policy" ] || rm -f "$policy"
    [ "$status" -eq 0 ] || exit "$status"
fi
if ! command -v cargo >/dev/null; then
    echo "failover-bench.sh: cargo not found; install Rust (https://rustup.rs) and run again" >&2
    exit 1
fi

lab_run_begin failover-bench.sh

cleanup() {
    local rc=$?
    trap - INT TERM EXIT
    lab_run_cleanup
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ---------------------------------------------------------------------------------------
lab_build_bench failover-bench.sh failover --bin elastic --example labnet

# --- run -----------------------------------------------------------------------------------------
"$bench_bin" &
lab_pid=$!
wait "$lab_pid"
