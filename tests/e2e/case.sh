#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# case.sh PLUGVM CASE CFG_DIR IMAGE_PATH PLUGIN_PATH LIMIT OUT_DIR
# Run one e2e case: plugvm boots CFG_DIR/CASE.cfg (Debian's kernel and the
# e2e initramfs, found through IMAGE_PATH; device plugins through
# PLUGIN_PATH), with the guest's console in OUT_DIR/console and plugvm's
# stderr (-v) in OUT_DIR/stderr, stopped after LIMIT seconds.
#
# The case passes when plugvm exits 0 AND the console holds
# "E2E-RESULT CASE ok": the guest's init writes 0 to the exit port only
# after its checks pass, and the line tells that exit from a guest that
# merely reset (a panic with panic=-1, or init's `reboot -f` fallback).
# Cases with a host side (blk, blk_ro) go through host.sh, next to this
# script: `prepare` makes the disk image and the config to boot
# (OUT_DIR/CASE.cfg, from CFG_DIR/CASE.cfg), `check` judges the image after
# a passing run; the case then passes only if that check does too.
# The case `snapshot` runs plugvm twice, through snapshot.sh next to this
# script (boot, snapshot, kill, restore, talk to the restored guest): it
# passes when snapshot.sh does and the restored guest printed its ok line;
# snapshot.sh's line (the times, or what failed) goes in the result;
# `vmgenid` and `fs_snapshot` likewise through vmgenid.sh and
# fs_snapshot.sh (snapshot.sh on the generic kernel, and on a share).
# The case `power` runs plugvm eight times through power.sh the same way,
# and `vsock` twice (boot, then restore) through vsock.sh.
# Prints one line "E2E-CASE CASE ok|fail SECONDS detail" (SECONDS: plugvm's
# run alone), and on failure the console's last 30 lines and plugvm's
# stderr, each line prefixed "# ".
# Exit status: 0 pass, 1 fail.
#
# POSIX sh (it ran under busybox sh in an earlier outer VM); now always
# in this host's own userland, directly or inside the nested VM host.
set -u
[ $# -eq 7 ] || { echo "usage: $0 PLUGVM CASE CFG_DIR IMAGE_PATH PLUGIN_PATH LIMIT OUT_DIR" >&2; exit 2; }
plugvm=$1 case=$2 cfgdir=$3 images=$4 plugins=$5 limit=$6 out=$7

uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; } # centiseconds
cs_secs() { echo "$(($1 / 100)).$(printf '%02d' $(($1 % 100)))"; }
hostsh=$(dirname "$0")/host.sh
mkdir -p "$out"
rm -f "$out/$case.cfg" "$out/check-rest"
t0=$(uptime_cs)
# Each host step gets 30 s (it takes about one): one that hangs is then
# this case's failure, not a silent outer VM that run-case.sh takes for hung.
prep=$(timeout -k 5 30 sh "$hostsh" prepare "$case" "$cfgdir" "$out" 2>&1) ||
    { echo "E2E-CASE $case fail 0.00 the host could not prepare the case (status $?): $prep"; exit 1; }
cfg=$cfgdir/$case.cfg hosted=0
[ -f "$out/$case.cfg" ] && cfg=$out/$case.cfg hosted=1
t1=$(uptime_cs)
# plugvm's --timeout stops the VM (status 124); timeout(1) is for a plugvm
# that does not stop at all.
extra=
if [ "$case" = snapshot ] || [ "$case" = vmgenid ] || [ "$case" = fs_snapshot ] || [ "$case" = power ] ||
    [ "$case" = vsock ] || [ "$case" = balloon ]; then
    # Each of its steps is bounded (plugvm's --timeout, its own waits).
    extra=$(PLUGVM_IMAGE_PATH=$images PLUGVM_PLUGIN_PATH=$plugins \
        sh "$(dirname "$0")/$case.sh" "$plugvm" "$cfg" "$limit" "$out")
    status=$?
else
    PLUGVM_IMAGE_PATH=$images PLUGVM_PLUGIN_PATH=$plugins \
        timeout -k 5 $((limit + 15)) "$plugvm" run -v --timeout "$limit" "$cfg" \
        </dev/null >"$out/console" 2>"$out/stderr"
    status=$?
fi
t2=$(uptime_cs)
secs=$(cs_secs $((t2 - t1)))

result=$(tr -d '\r' <"$out/console" | grep -o "E2E-RESULT $case .*" | tail -n 1)
case $status in
    0) why="plugvm exit status 0" ;;
    124) why="timed out after ${limit}s (plugvm status 124)" ;;
    *) why="plugvm exit status $status" ;;
esac
# snapshot.sh's or power.sh's line: on success details for the result, else the reason.
if [ -n "$extra" ] && [ $status -ne 0 ]; then why=$extra extra=
elif [ -n "$extra" ]; then extra="; $extra"
fi
if [ $status -eq 0 ] && [ "${result#E2E-RESULT $case ok}" != "$result" ]; then
    [ $hosted = 1 ] || { echo "E2E-CASE $case ok $secs ${result#E2E-RESULT $case ok }$extra"; exit 0; }
    chk=$(timeout -k 5 30 sh "$hostsh" check "$case" "$cfgdir" "$out" 2>&1)
    st=$?
    # 124 coreutils' timeout, 143 or 137 busybox's (SIGTERM, SIGKILL)
    [ $st -ge 124 ] && chk="host.sh check did not finish in 30 s (status $st); $chk"
    t3=$(uptime_cs)
    host="host before ($(cs_secs $((t1 - t0))) s): $prep; host after ($(cs_secs $((t3 - t2))) s): $(echo "$chk" | head -n 1)"
    if [ $st -eq 0 ]; then
        echo "E2E-CASE $case ok $secs ${result#E2E-RESULT $case ok }; $host"
        exit 0
    fi
    why="the guest passed, the host's check of the image failed"
    result="$result; $host"
    [ "$(echo "$chk" | wc -l)" -gt 1 ] && echo "$chk" | tail -n +2 | sed 's/^/# /' >"$out/check-rest"
fi
echo "E2E-CASE $case fail $secs $why; ${result:-no E2E-RESULT line}"
[ -f "$out/check-rest" ] && cat "$out/check-rest"
grep -q 'triple fault' "$out/stderr" &&
    echo "# plugvm saw the guest triple-fault. In the nested tier that can be the emulator's doing (README: Known failures); on hardware KVM it is a bug to chase."
echo "# --- $case: the guest console's last 30 lines ---"
tr -d '\r' <"$out/console" | tail -n 30 | sed 's/^/# /'
echo "# --- $case: plugvm's stderr (last 30 lines) ---"
tail -n 30 "$out/stderr" | sed 's/^/# /'
exit 1
