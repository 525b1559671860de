# SPDX-License-Identifier: Apache-2.0
# What the benchmarks' run.sh scripts share; sourced, not run.

# q ARG...: the arguments quoted for a shell, to print the exact command a
# figure came from.
q() {
    local a out=
    for a in "$@"; do
        [[ $a =~ ^[A-Za-z0-9_./,=:+-]+$ ]] || a="'${a//\'/\'\\\'\'}'"
        out+="$a "
    done
    echo "${out% }"
}

# The load averages (1, 5, 15 min): each table says how busy the machine was.
load() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_vmhost BUILD_DIR SCRIPT ARG...: where this host has no usable KVM,
# runs SCRIPT again inside the nested VM host (tests/vmhost/run.sh: QEMU
# TCG with SVM, this host's files through virtiofs), so that plugvm and
# QEMU are measured side by side in there; returns where the run is already
# placed (PLUGVM_VMHOST, which run.sh sets, says where).
bench_vmhost() {
    local build=$1; shift
    [ -n "${PLUGVM_VMHOST:-}" ] && return 0
    exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../tests/vmhost/run.sh" --need kvm "$build" "$@"
}
# bench_start ARG...: a run.sh's start: exactly one argument, the build
# folder, made absolute in $build; $repo, the source tree; then
# bench_vmhost (the script again in the nested host where this host has
# no usable KVM). Export VMHOST_* settings before it.
bench_start() {
    [ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
    build=$(cd "$1" && pwd) || exit 2
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    bench_vmhost "$build" "$0" "$build"
}
# bench_where: the tables' line on where the figures come from, when that
# is the nested host: its absolute times are TCG's, not a machine's.
bench_where() {
    [ "${PLUGVM_VMHOST:-}" = nested ] &&
        echo "   nested (TCG-emulated host): compare ratios only"
    return 0
}
