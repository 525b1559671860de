#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# host.sh FUSE_BRIDGE FS_POSIX
# plugins/fs's FUSE server under the host kernel's FUSE client
# (tests/fs/fuse_bridge.c): a temporary share with a canary beside it,
# mounted; every POSIX group of guest/e2e/fs-posix.c run in it (the same
# program the e2e case `fs` runs in a guest over virtio-fs); then the
# canary must be unchanged and the share empty. TAP on stdout. Skips (77)
# where this host cannot mount FUSE (no /dev/fuse, or mount refused: not
# root, or a container without CAP_SYS_ADMIN), saying which.
set -u
bridge=$1 posix=$2
[ -c /dev/fuse ] || { echo "1..0 # SKIP no /dev/fuse on this host"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP mounting FUSE with allow_other needs root"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/plugvm-fs-host.XXXXXX")
# The mount point one level deeper than the share: fs-posix's race
# symlink "../.." (from race/) leads the client, which resolves it, to
# $work/m, and only a server that followed it on the host to $work, where
# the canary is.
mkdir -p "$work/share" "$work/m/nt"
mnt=$work/m/nt
echo "canary-8f3e: outside the share" >"$work/canary.txt"
before=$(sha256sum <"$work/canary.txt")
"$bridge" "$work/share" "$mnt" >"$work/bridge.out" 2>"$work/bridge.err" &
pid=$!
cleanup() { umount "$mnt" 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q mounted "$work/bridge.out" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if ! grep -q mounted "$work/bridge.out"; then
    msg=$(cat "$work/bridge.err")
    case $msg in *"Operation not permitted"*) echo "1..0 # SKIP cannot mount FUSE here: $msg"; exit 77 ;; esac
    echo "Bail out! the bridge did not mount: $msg"; exit 1
fi
groups="chmod chown link mkdir mkfifo open rename rmdir symlink truncate unlink utimensat xattr locks mmap fsync many race"
echo "1..$(($(echo $groups | wc -w) + 2))"
n=0 failed=0
for g in $groups; do
    n=$((n + 1))
    out=$(timeout 120 "$posix" "$mnt" "$g" 2>&1)
    case $out in
        "ok $g"*) echo "ok $n - ${out#ok }" ;;
        *) failed=$((failed + 1)); echo "not ok $n - $g"; echo "$out" | sed 's/^/#   /' ;;
    esac
done
n=$((n + 1))
if [ "$(sha256sum <"$work/canary.txt")" = "$before" ]; then echo "ok $n - the canary beside the share is unchanged"
else failed=$((failed + 1)); echo "not ok $n - the canary changed"; fi
n=$((n + 1))
left=$(ls -A "$work/share")
if [ -z "$left" ]; then echo "ok $n - the share is empty after the groups cleaned up"
else failed=$((failed + 1)); echo "not ok $n - left in the share: $left"; fi
[ -s "$work/bridge.err" ] && sed 's/^/# bridge: /' "$work/bridge.err"
[ $failed -eq 0 ]
