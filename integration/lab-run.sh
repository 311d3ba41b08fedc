# Sourced by demo.sh, bench.sh, failover-bench.sh, flood-bench.sh and soak-bench.sh, which each run
# one lab program in the background. The program removes its lab itself on SIGTERM; whatever it could not remove (it was
# killed or crashed) is removed here: namespaces that appeared during this run and carry the
# program's tag (the lab names them el-<pid mod 100000><letter>-…), the processes inside them, its
# FRR pathspaces and its /tmp directory. Nothing else is touched.
#
#   lab_run_begin NAME     before starting the program (records the namespaces that exist)
#   lab_pid=$!             right after starting it in the background
#   lab_run_cleanup        from the script's EXIT trap
#
# And the benchmarks' common start:
#   lab_require_root NAME             exits unless run as root
#   lab_install NAME PACKAGE...       apt-get installs the packages named (nothing if none)
#   lab_build_bench NAME BENCH ARG... builds `cargo build --release --locked --quiet ARG...`, then
#                                     sets bench_bin to the executable of bench target BENCH

lab_name=""
lab_pid=""
lab_netns_before=""

lab_run_begin() {
    lab_name=$1
    lab_netns_before=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
}

lab_leftover_namespaces() {
    [ -n "$lab_pid" ] || return 0
    local tag=$((lab_pid % 100000))
    comm -13 <(echo "$lab_netns_before") <(ip netns list 2>/dev/null | awk '{print $1}' | sort) |
        grep -E "^el-${tag}[a-z]" || true
}

lab_run_cleanup() {
    if [ -n "$lab_pid" ] && kill -0 "$lab_pid" 2>/dev/null; then
        # The program stops between steps on SIGTERM and removes its lab; give it 30 s at most.
        kill -TERM "$lab_pid" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$lab_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$lab_pid" 2>/dev/null || true
    fi
    local ns pid tag
    for ns in $(lab_leftover_namespaces); do
        # Processes still running inside a namespace this run created are this run's.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$ns" 2>/dev/null || true
        echo "$lab_name: removed leftover namespace $ns"
    done
    if [ -n "$lab_pid" ]; then
        tag=$((lab_pid % 100000))
        rm -rf /var/run/frr/el-"${tag}"[a-z]-rs* /tmp/el-"${tag}"[a-z] 2>/dev/null || true
    fi
}

lab_require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "$1: run as root (the benchmark creates network namespaces)" >&2
        exit 1
    fi
}

lab_install() {
    local name=$1
    shift
    [ $# -gt 0 ] || return 0
    echo "$name: installing $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

bench_bin=""

lab_build_bench() {
    local name=$1 bench=$2
    shift 2
    echo "$name: building (cargo build --release --locked)…"
    cargo build --release --locked --quiet "$@"
    bench_bin=$(cargo bench --locked --no-run --bench "$bench" 2>&1 |
        sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
    if [ ! -x "$bench_bin" ]; then
        echo "$name: could not find the benchmark executable" >&2
        exit 1
    fi
}
