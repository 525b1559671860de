#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run.sh [--need kvm|hw] [--why] BUILD_DIR COMMAND [ARG...]
# Runs COMMAND where a usable KVM is, and returns its exit status (77, a
# test's skip, passes through): directly on this host when its KVM will
# do, else inside the nested VM host, a QEMU (TCG, no KVM needed) machine
# with an SVM-capable CPU whose kernel loads kvm_amd, so that /dev/kvm
# there is real. tests/vmhost/README.md says what runs where and why.
#
#   --need kvm  (default) any usable KVM: the freestanding test guest runs
#               even on KVM over PVM, which emulates guest kernel code.
#   --need hw   KVM that runs guest kernel code in hardware (vmx or svm, no
#               kvm_pvm): what Linux guests need to boot.
#   --why       print where COMMAND would run and why, and exit 0.
#
# In the nested host COMMAND runs in this host's own file system tree
# (virtiofs, read-write), in the same folder, with the same environment;
# its stdout and stderr come back as two streams as it writes them. The
# outer machine's boot is paid once per call, so callers batch: a whole
# `ctest` run through one call costs one boot (scripts/test.sh does this),
# and inside it each test's own call finds a usable KVM and runs directly.
# An outer machine that fails (hangs: no heartbeat for VMHOST_SILENCE
# seconds; panics; ends without the command's status) is started again
# once, and that is reported; a command that ran and failed is never rerun.
#
# BUILD_DIR gives plugvm (core/plugvm check, the backend's probe) and the
# outer kernel: VMHOST_LINUX, else BUILD_DIR/cache/linux, else the source
# tree's build/cache/linux (scripts/images.sh fetches it).
# Environment: VMHOST_TIER=direct|nested forces a tier; VMHOST_MEM_MIB
# (default 6144), VMHOST_CPUS (1), VMHOST_SILENCE (120), VMHOST_QUIET=1,
# VMHOST_TCG_THREAD (single; multi is faster and hangs), QEMU.
# Exit status: COMMAND's; 77 when neither tier is possible (says why); 125
# when the nested host failed twice.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
need=kvm why_only=0
while [ $# -gt 0 ]; do
    case $1 in
        --need) need=${2:-}; shift 2 ;;
        --why) why_only=1; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
case $need in kvm|hw) ;; *) echo "vmhost: error: --need takes kvm or hw" >&2; exit 2 ;; esac
[ $# -ge 1 ] || { echo "usage: $0 [--need kvm|hw] [--why] BUILD_DIR COMMAND [ARG...]" >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || { echo "vmhost: error: $1 is not a folder" >&2; exit 2; }
shift
[ $why_only = 1 ] || [ $# -ge 1 ] || { echo "usage: $0 [--need kvm|hw] [--why] BUILD_DIR COMMAND [ARG...]" >&2; exit 2; }
note() { echo "vmhost: $*" >&2; }
# Where and when, not what went wrong: VMHOST_QUIET=1 (scripts/setup.sh,
# which says it once itself) leaves these out.
info() { [ "${VMHOST_QUIET:-0}" = 1 ] || note "$@"; }
skip() { echo "SKIP: $*"; exit 77; }

# --- Where: this host, when its KVM will do ---
tier=${VMHOST_TIER:-} why=
if [ -z "$tier" ]; then
    plugvm=$build/core/plugvm
    [ -x "$plugvm" ] || skip "$plugvm is not built: it tells whether this host's KVM is usable"
    if ! probe=$("$plugvm" check 2>&1); then
        tier=nested why="no usable KVM here (${probe#kvm: cannot run VMs here: })"
    elif [ $need = kvm ]; then
        tier=direct why="KVM is usable here"
    elif [ -d /sys/module/kvm_pvm ]; then
        tier=nested why="this host's KVM is KVM over PVM (/sys/module/kvm_pvm): it emulates guest kernel code"
    elif ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
        tier=nested why="no vmx or svm in /proc/cpuinfo: no hardware virtualization for guest kernel code"
    else
        tier=direct why="hardware KVM (vmx/svm, /dev/kvm usable)"
    fi
else
    why="VMHOST_TIER=$tier"
fi
case $tier in direct|nested) ;; *) echo "vmhost: error: VMHOST_TIER must be direct or nested" >&2; exit 2 ;; esac
if [ $why_only = 1 ]; then echo "$tier: $why"; exit 0; fi
# The command learns where it runs (PLUGVM_VMHOST=direct|nested): the e2e
# snapshot case accepts a known failure of the nested host's emulation.
# Inside the nested host, every call is direct, and it stays "nested".
if [ $tier = direct ]; then
    [ "${PLUGVM_VMHOST:-}" = nested ] || export PLUGVM_VMHOST=direct
    exec "$@"
fi
export PLUGVM_VMHOST=nested

# --- The nested host ---
qemu=${QEMU:-$(command -v qemu-system-x86_64)} ||
    skip "the nested VM host needs qemu-system-x86_64 ($why; scripts/deps.sh installs it)"
vfsd=
for p in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do [ -x "$p" ] && vfsd=$p && break; done
[ -n "$vfsd" ] || skip "the nested VM host needs virtiofsd (qemu-system-common) ($why)"
[ "$(id -u)" -eq 0 ] || skip "the nested VM host shares this host's files with virtiofsd, which needs root ($why)"
linux=${VMHOST_LINUX:-}
if [ -z "$linux" ]; then
    for d in "$build/cache/linux" "$repo/build/cache/linux"; do
        [ -f "$d/kernel-version" ] && [ -e "$d/vmlinuz" ] && linux=$d && break
    done
fi
[ -n "$linux" ] && [ -e "$linux/vmlinuz" ] ||
    skip "no kernel for the nested VM host: run scripts/images.sh $build ($why)"
initrd=$("$here/make-initramfs.sh" "$linux" "$build/vmhost") || exit 1

mem=${VMHOST_MEM_MIB:-6144} cpus=${VMHOST_CPUS:-1} silence=${VMHOST_SILENCE:-120}
# Under TCG the outer kernel reads the host's TSC; told its rate, it skips a
# calibration that can hang there: the host kernel's own figure when it can
# be read, else /proc/cpuinfo's.
tsc_khz=$( (dmesg 2>/dev/null | grep -oE 'tsc: Refined TSC clocksource calibration: [0-9.]+ MHz|tsc: Detected [0-9.]+ MHz' |
            tail -n 1 | grep -oE '[0-9.]+ MHz'
            grep -m1 '^cpu MHz' /proc/cpuinfo | grep -oE '[0-9.]+') | head -n 1 | awk '{ printf "%d", $1 * 1000 }')
tsc_arg=; [ -n "$tsc_khz" ] && [ "$tsc_khz" -gt 0 ] && tsc_arg="tsc_early_khz=$tsc_khz"

ctl=
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    [ -n "$ctl" ] && rm -rf "$ctl"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# outer ATTEMPT: one outer machine runs the command; sets $status (the
# command's, or empty) and $failure (why the machine failed, or empty).
outer() {
    local n=$1
    ctl=$(mktemp -d /var/tmp/vmhost.XXXXXX)
    # The command's TMPDIR there: a fresh ext4 scratch disk (sparse here),
    # not this host's /tmp through virtiofs, where every write is a round
    # trip; ext4, not tmpfs, as the outer 6.1 kernel's tmpfs refuses O_DIRECT.
    truncate -s 64G "$ctl/scratch.img"
    mke2fs -q -F -t ext4 -O ^has_journal -E nodiscard,lazy_itable_init=1 "$ctl/scratch.img" ||
        { echo "vmhost: error: mke2fs of the scratch disk failed" >&2; exit 1; }
    export -p >"$ctl/env"
    local cwd=$PWD
    declare -p cmd cwd >"$ctl/cmd"
    : >"$ctl/stdout"; : >"$ctl/stderr"
    "$vfsd" --socket-path="$ctl/vfs.sock" -o source=/ -o cache=auto -o xattr \
        -o sandbox=chroot -o log_level=err </dev/null >"$ctl/virtiofsd.log" 2>&1 &
    local vpid=$!
    pids=($vpid)
    local i
    for i in $(seq 100); do [ -S "$ctl/vfs.sock" ] && break; sleep 0.05; done
    local t0=$SECONDS
    # One vCPU on one TCG thread: with two on multi-threaded TCG the outer
    # kernel deadlocked every few tests (both vCPUs spinning in
    # native_queued_spin_lock_slowpath, interrupts off), and with two on one
    # thread a one-vCPU Linux inside stopped after its PCI probe, every time
    # (README.md here). pc machine: its i8042 resets it when init runs
    # `reboot -f` (reboot=k), and -no-reboot makes that QEMU's exit.
    # vhost-user (virtiofs) needs guest RAM in shared memory.
    "$qemu" -accel "tcg,thread=${VMHOST_TCG_THREAD:-single}" -cpu EPYC,+svm -smp "$cpus" -m "$mem" -machine pc,memory-backend=mem \
        -object "memory-backend-memfd,id=mem,size=${mem}M,share=on" \
        -chardev "socket,id=vfs,path=$ctl/vfs.sock" -device vhost-user-fs-pci,chardev=vfs,tag=host \
        -drive "file=$ctl/scratch.img,if=none,id=scratch,format=raw,cache=unsafe,discard=unmap" \
        -device virtio-blk-pci,drive=scratch \
        -nodefaults -no-user-config -display none -serial "file:$ctl/console" -no-reboot \
        -monitor "unix:$ctl/monitor,server=on,wait=off" \
        -kernel "$linux/vmlinuz" -initrd "$initrd" \
        -append "console=ttyS0 quiet panic=-1 softlockup_panic=1 reboot=k $tsc_arg vmhost_ctl=$ctl" \
        </dev/null >"$ctl/qemu.log" 2>&1 &
    local qpid=$!
    pids+=($qpid)
    # The command's two streams, as they grow.
    tail -n +1 -F --pid=$qpid "$ctl/stdout" 2>/dev/null &
    local t1=$!
    tail -n +1 -F --pid=$qpid "$ctl/stderr" >&2 2>/dev/null &
    local t2=$!
    pids+=($t1 $t2)
    local hung=0 beat started=0
    while kill -0 $qpid 2>/dev/null; do
        sleep 1
        if [ -f "$ctl/heartbeat" ]; then
            [ $started = 1 ] || { started=1; info "nested host up after $((SECONDS - t0)) s; running: ${cmd[*]}"; }
            beat=$(stat -c %Y "$ctl/heartbeat")
            if [ $(( $(date +%s) - beat )) -ge "$silence" ]; then
                hung=1
                # Where the outer vCPUs are, for the report.
                printf 'info registers -a\ninfo status\n' |
                    timeout 5 python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read()); time.sleep(1); s.settimeout(2); print(s.recv(65536).decode(errors="replace"))' \
                    "$ctl/monitor" >"$ctl/registers" 2>&1
                kill -KILL $qpid
            fi
        elif [ $((SECONDS - t0)) -ge "$silence" ]; then
            hung=1; kill -KILL $qpid
        fi
    done
    wait $qpid
    local qst=$?
    wait $t1 $t2 2>/dev/null
    kill $vpid 2>/dev/null; wait $vpid 2>/dev/null
    status= failure=
    if [ -f "$ctl/status" ]; then
        status=$(cat "$ctl/status")
        return
    fi
    if [ $hung = 1 ]; then failure="no heartbeat for ${silence} s: the outer machine hung (QEMU killed)"
    elif [ -f "$ctl/outer-error" ]; then failure="its init failed: $(cat "$ctl/outer-error")"
    elif grep -q 'soft lockup' "$ctl/console"; then failure="the outer kernel locked up"
    elif grep -q 'Kernel panic' "$ctl/console"; then failure="the outer kernel panicked"
    else failure="it ended (QEMU status $qst) without the command's status"
    fi
    [ -s "$ctl/registers" ] && cp "$ctl/registers" "/tmp/vmhost-hang-$(date +%s).txt" &&
        note "the outer vCPUs' registers at the hang: /tmp/vmhost-hang-*.txt"
    note "outer machine $n failed: $failure; its console's last lines:"
    tail -n 15 "$ctl/console" | tr -d '\r' | sed 's/^/vmhost:   /' >&2
    grep -v "TCG doesn't support requested feature" "$ctl/qemu.log" "$ctl/virtiofsd.log" | sed 's/^/vmhost:   /' >&2
    rm -rf "$ctl"; ctl=
}

cmd=("$@")
info "nested host ($why)"
for attempt in 1 2; do
    outer $attempt
    if [ -n "$status" ]; then
        [ $attempt = 1 ] || note "the command ran in a second outer machine (the first failed: $first)"
        exit "$status"
    fi
    first=$failure
    [ $attempt = 1 ] && note "starting the nested host again (once)"
done
note "the nested host failed twice; the command has no verdict"
exit 125
