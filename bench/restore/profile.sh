#!/bin/bash
# Where a plugvm restore spends its time (bench/restore/README.md,
# "Profile"). Takes one snapshot of the test guest (test=snapshot) with
# SIZE MiB of RAM, then:
#   1. the process start without plugvm's work: `plugvm --version` against
#      /bin/true, under `perf stat` (no tracing: true figures);
#   2. R restores under `strace -f --seccomp-bpf` (only the syscalls named
#      below are stopped at, to keep the tracer's cost down), each ended 1 s
#      after it starts; from the traces, the median time of each phase of
#      the restore and of each KVM ioctl. Tracing slows every traced
#      syscall (tens of µs here), so the phases are longer than untraced:
#      compare them with one another, not with run.sh's figures.
# usage: profile.sh BUILD_DIR [SIZE_MIB]     env: R (restores, 10), KEEP=1
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [SIZE_MIB]" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
size=${2:-256} R=${R:-10}
plugvm=$build/core/plugvm guest=$build/images/testguest.elf
command -v strace >/dev/null || { echo "profile.sh: strace is needed (apt-get install strace)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bench-restore-profile.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "files kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# The snapshot.
truncate -s 4M "$tmp/src.img"
cat >"$tmp/vm.cfg" <<CFG
vm = { vcpus = 1; memory_mib = $size; kernel = "$guest"; cmdline = "test=snapshot"; };
devices = ( { plugin = "blk"; path = "$tmp/src.img"; } );
CFG
"$plugvm" run --api "$tmp/sock" --timeout 600 "$tmp/vm.cfg" </dev/null >"$tmp/src.out" 2>"$tmp/src.err" &
pid=$!
for _ in $(seq 600); do grep -aq '^count 50' "$tmp/src.out" && break; sleep 0.05; done
grep -aq '^count 50' "$tmp/src.out" || { echo "profile.sh: the VM did not count to 50" >&2; exit 1; }
"$plugvm" pause --api "$tmp/sock" && "$plugvm" snapshot --api "$tmp/sock" --to "$tmp/snap" || exit 1
cp --sparse=always "$tmp/src.img" "$tmp/snap.img"
kill -9 "$pid"; { wait "$pid"; } 2>/dev/null; pid=

echo "== profile of plugvm restore, $size MiB ($(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "1. Process start, untraced (perf stat -r 30): plugvm --version does nothing but start"
echo "   ($(ldd "$plugvm" | grep -c '=>') shared libraries) and print; /bin/true links libc alone."
if command -v perf >/dev/null; then
    for cmd in "$plugvm --version" "/bin/true"; do
        # shellcheck disable=SC2086 # the command's words
        perf stat -r 30 -e page-faults,task-clock $cmd 2>&1 >/dev/null |
            awk -v c="${cmd##*/}" '/page-faults/ { pf = $1 } /task-clock/ { tc = $1 }
                /elapsed/ { printf "   %-18s %s ms elapsed, %s ms CPU, %s page faults\n", c, $1 * 1000, tc, pf }'
    done
else
    echo "   (perf not installed: apt-get install linux-perf)"
fi
echo

# The traced restores. The vCPU thread's first KVM_RUN and the guest's
# first byte (write to fd 1) end the interesting part.
for i in $(seq "$R"); do
    cp --sparse=always "$tmp/snap.img" "$tmp/run.img"
    # strace ends by the tracee's SIGKILL: quietly, without bash's "Killed".
    { strace -f --seccomp-bpf -ttt -T -o "$tmp/trace.$i" \
        -e trace=execve,openat,ioctl,clone3,write \
        timeout -s KILL 1 "$plugvm" restore -v --set "devices[0].path=$tmp/run.img" "$tmp/snap" \
        </dev/null >"$tmp/run.out" 2>"$tmp/run.err"; } 2>/dev/null
    grep -aq '^count' "$tmp/run.out" || { echo "profile.sh: restore $i: no count: $(head -c 200 "$tmp/run.out")" >&2; exit 1; }
done

echo "2. $R restores under strace; median ms (min-max) of each phase, from the trace's"
echo "   timestamps (phase = from one event to the next):"
for i in $(seq "$R"); do
    awk -v snap="$tmp/snap" '
        function t(s) { return s * 1000 }
        # Lines: PID EPOCH.FRAC syscall(...) = R <DUR>
        $3 ~ /^execve\("/ && $3 ~ /plugvm"/ && !exec { exec = t($2) }
        !exec { next }
        index($0, snap "/vm.cfg\"") && $3 ~ /^openat/ && !cfg { cfg = t($2) }
        index($0, "plugvm-kvm.so") && $3 ~ /^openat/ && !plug { plug = t($2) }
        index($0, snap "/state\"") && !state { state = t($2) }
        /KVM_CREATE_VM/ && !vm { vm = t($2) }
        $3 ~ /^clone3/ && !clone { clone = t($2) }
        /KVM_RUN/ && !run { run = t($2) }
        $3 ~ /^write\(1,/ && !out { out = t($2) }
        END {
            if (!(exec && cfg && plug && state && vm && clone && run && out)) exit 1
            printf "start %.3f\n", cfg - exec
            printf "config %.3f\n", plug - cfg
            printf "plugins %.3f\n", state - plug
            printf "state %.3f\n", vm - state
            printf "vm %.3f\n", clone - vm
            printf "threads %.3f\n", run - clone
            printf "guest %.3f\n", out - run
            printf "total %.3f\n", out - exec
        }' "$tmp/trace.$i" || echo "bad 1"
done >"$tmp/phases"
# Each KVM ioctl's own time (strace -T), summed per run.
for i in $(seq "$R"); do
    grep -o 'ioctl([0-9]*, KVM_[A-Z0-9_]*.*<[0-9.]*>' "$tmp/trace.$i" | grep -v KVM_RUN |
        sed -E 's/ioctl\([0-9]*, (KVM_[A-Z0-9_]*).*<([0-9.]*)>/\1 \2/' |
        awk '{ s[$1] += $2 * 1000 } END { for (k in s) printf "%s %.3f\n", k, s[k] }'
done >"$tmp/ioctls"
stats() { # KEY FILE: "median (min-max)"
    awk -v k="$1" '$1 == k { print $2 }' "$2" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%.2f (%.2f-%.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
grep -q '^bad' "$tmp/phases" && echo "   (some traces lacked an event and were left out)"
row() { printf '   %-60s %s\n' "$1" "$(stats "$2" "$tmp/phases")"; }
row "exec to opening the snapshot's vm.cfg (ld.so: the libraries)" start
row "config parse, --set, plugin search (to dlopen of kvm)" config
row "dlopen of the kvm and blk plugins (to the state file)" plugins
row "state file, memory mapping, blk open, records (to CREATE_VM)" state
row "KVM_CREATE_VM to the first thread (VM, vCPU, state set)" vm
row "threads started to the vCPU's first KVM_RUN" threads
row "first KVM_RUN to the guest's first byte on stdout" guest
row "total: exec to the first byte" total
echo
echo "   KVM ioctls, ms per restore, median (min-max), the largest first:"
awk '{ print $1 }' "$tmp/ioctls" | sort -u | while read -r k; do
    printf '%s %s\n' "$(awk -v k="$k" '$1 == k { print $2 }' "$tmp/ioctls" | sort -g |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" "$k"
done | sort -rg | while read -r _ k; do
    printf '   %-28s %s\n' "$k" "$(stats "$k" "$tmp/ioctls")"
done
