#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# host.sh prepare|check CASE CFG_DIR OUT_DIR
# The host's side of the e2e cases that have one (tests/e2e/README.md):
# "host" is wherever plugvm runs, so this runs next to case.sh, on this
# machine in the direct tier and inside the outer VM in the nested one.
# For any other case both steps do nothing.
#
#   prepare  before plugvm starts: make the case's disk image in OUT_DIR
#            and write OUT_DIR/CASE.cfg, which is CFG_DIR/CASE.cfg with
#            @DISK@ replaced by the image's path and @SECTORS@ by its size
#            in 512-byte sectors. case.sh then boots that config.
#   check    after the guest reported ok: judge the image.
#
#   blk      prepare: a fresh 64 MiB ext4 image (mke2fs).
#            check: `e2fsck -fn` finds it clean (status 0), and each file
#            the guest listed ("E2E-BLK-FILE PATH SIZE SHA256" on its
#            console) reads back through debugfs with that size and
#            hash; /hello.txt and /dir/seq.txt hold exactly what the
#            guest's init writes there. Shows the image's allocated KiB
#            before and after (the guest's fstrim punches holes).
#   fs       prepare: OUT_DIR/share (for @SHARE@) with hello.txt and
#            symlinks to /, .. and ../canary.txt; the canary beside it.
#            check: guest.txt holds what the guest wrote, the share holds
#            nothing else new, the canary is unchanged (content, mtime).
#   fs_snapshot  prepare: OUT_DIR/share with lines.txt and dir/a.txt.
#   blk_ro   prepare: a 16 MiB ext4 image made with two files in it
#            (mke2fs -d), and its SHA-256.
#            check: the image is byte for byte what it was, and still clean;
#            the guest's E2E-BLK-FILE lines give both files' sizes and hashes.
#
# Prints one line of details on stdout (case.sh appends it to the case's
# result), and on failure why, on stdout too. Exit status 0 or 1.
#
# POSIX sh and busybox applets only: in the outer VM this runs under
# busybox sh. The e2fsprogs tools are looked for in bin/ next to this
# script (the outer VM's /e2e/bin), then /sbin and /usr/sbin, never as
# busybox (which has an `mke2fs` applet of its own, linked in /sbin there).
set -u
[ $# -eq 4 ] || { echo "usage: $0 prepare|check CASE CFG_DIR OUT_DIR" >&2; exit 2; }
step=$1 case=$2 cfgdir=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)

tool() { # NAME: the path of an e2fsprogs program
    for d in "$here/bin" /sbin /usr/sbin; do
        [ -x "$d/$1" ] || continue
        case $(readlink -f "$d/$1") in */busybox) continue ;; esac
        echo "$d/$1"
        return 0
    done
    echo "host.sh: $1 (e2fsprogs) not found" >&2
    return 1
}
fail() { echo "$*"; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
img=$out/disk.img
# kib: the image's allocated KiB (the guest's discards punch holes in it).
kib() { echo $(($(stat -c %b "$img") * $(stat -c %B "$img") / 1024)); }

# write_cfg: OUT_DIR/CASE.cfg for the image.
write_cfg() {
    sectors=0
    [ -f "$img" ] && sectors=$(($(stat -c %s "$img") / 512))
    sed -e "s|@DISK@|$img|g" -e "s|@SECTORS@|$sectors|g" -e "s|@SHARE@|$out/share|g" \
        "$cfgdir/$case.cfg" >"$out/$case.cfg" ||
        fail "cannot write $out/$case.cfg"
}

# mkfs SIZE [mke2fs options]: a fresh ext4 image. Inode tables and the
# journal are written now (no lazy init), so the guest's kernel does not
# zero them behind the test's back, and nothing is discarded.
mkfs() {
    size=$1; shift
    mke2fs=$(tool mke2fs) || exit 1
    rm -f "$img"
    o=$("$mke2fs" -q -F -t ext4 -L plugvm-e2e -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
          "$@" "$img" "$size" 2>&1) || fail "mke2fs: $o"
}

# fsck: e2fsck -fn IMAGE must find nothing to fix.
fsck() {
    e2fsck=$(tool e2fsck) || exit 1
    o=$("$e2fsck" -fn "$img" 2>&1)
    st=$?
    [ $st -eq 0 ] || { echo "e2fsck -fn: status $st:"; echo "$o" | tail -n 15 | sed 's/^/    /'; exit 1; }
    summary=$(echo "$o" | tail -n 1)   # "plugvm-e2e: 14/16384 files (0.0% non-contiguous), ..."
}

prepare_blk() {
    mkfs 64M
    kib >"$out/disk.kib"
    write_cfg
    echo "mke2fs: 64 MiB ext4"
}

prepare_blk_ro() {
    d=$out/fill
    rm -rf "$d" && mkdir -p "$d" || fail "mkdir $d"
    echo "hello from the plugvm host" >"$d/hello.txt"
    # 1 MiB that is not all zeros: the same bytes every run.
    seq 1 200000 | head -c 1048576 >"$d/data.bin"
    mkfs 16M -d "$d"
    sha "$img" >"$out/disk.sha256"
    write_cfg
    echo "mke2fs -d: 16 MiB ext4 with hello.txt and data.bin, sha256 $(cut -c1-16 "$out/disk.sha256")..."
}

# fs: OUT/share, the directory the guest mounts, with a file, and
# symlinks that would lead outside it if the host followed them; the
# canary beside it, outside the share.
prepare_fs() {
    rm -rf "$out/share" && mkdir -p "$out/share" || fail "mkdir $out/share"
    echo "hello from the plugvm host" >"$out/share/hello.txt"
    echo "canary-8f3e: outside the share" >"$out/canary.txt"
    ln -s / "$out/share/root" && ln -s .. "$out/share/up" && ln -s ../../.. "$out/share/up3" &&
        ln -s ../canary.txt "$out/share/esc" ||
        fail "cannot make the symlinks in $out/share"
    sha "$out/canary.txt" >"$out/canary.sha256"
    stat -c %Y "$out/canary.txt" >"$out/canary.mtime"
    write_cfg
    echo "share: hello.txt, symlinks root -> /, up -> .., up3 -> ../../.., esc -> ../canary.txt"
}

# fs_snapshot: OUT/share with lines.txt (line-1 ... line-100) and dir/a.txt.
prepare_fs_snapshot() {
    rm -rf "$out/share" && mkdir -p "$out/share/dir" || fail "mkdir $out/share/dir"
    seq 1 100 | sed 's/^/line-/' >"$out/share/lines.txt"
    echo a >"$out/share/dir/a.txt"
    write_cfg
    echo "share: lines.txt (100 lines), dir/a.txt"
}

check_fs() {
    got=$(cat "$out/share/guest.txt" 2>&1)
    [ "$got" = "hello from the guest" ] || fail "guest.txt on the host reads '$got'"
    [ "$(sha "$out/canary.txt")" = "$(cat "$out/canary.sha256")" ] &&
        [ "$(stat -c %Y "$out/canary.txt")" = "$(cat "$out/canary.mtime")" ] || fail "the canary outside the share changed"
    left=$(cd "$out/share" && ls -A | sort | tr '\n' ' ')
    [ "$left" = "esc guest.txt hello.txt root up up3 " ] || fail "the share holds '$left' after the guest's run"
    echo "guest.txt on the host as the guest wrote it; the share holds only what it should; the canary outside is unchanged"
}

check_blk() {
    fsck
    debugfs=$(tool debugfs) || exit 1
    tr -d '\r' <"$out/console" | grep '^E2E-BLK-FILE ' >"$out/files"
    # The files init writes with known contents; big.bin's is random.
    echo "hello from plugvm blk" >"$out/want.hello.txt"
    seq 1 2000 >"$out/want.seq.txt"
    n=0
    while read -r _ path size hash; do
        f=$out/got$(echo "$path" | tr '/' '_')
        rm -f "$f"
        e=$("$debugfs" -R "dump $path $f" "$img" 2>&1 >/dev/null | grep -v '^debugfs [0-9]')
        [ -s "$f" ] || fail "debugfs cannot read $path: $e"
        gsize=$(stat -c %s "$f") ghash=$(sha "$f")
        [ "$gsize" = "$size" ] && [ "$ghash" = "$hash" ] ||
            fail "$path: the guest wrote $size bytes, sha256 $hash; debugfs reads $gsize bytes, sha256 $ghash"
        case $path in
            /hello.txt) cmp -s "$f" "$out/want.hello.txt" || fail "$path is not what init writes: $(head -c 80 "$f")" ;;
            /dir/seq.txt) cmp -s "$f" "$out/want.seq.txt" || fail "$path is not the output of seq 1 2000" ;;
        esac
        n=$((n + 1))
    done <"$out/files"
    [ $n -eq 3 ] || fail "the guest listed $n files (E2E-BLK-FILE lines), not 3"
    echo "e2fsck -fn clean ($summary); debugfs reads the 3 files as the guest wrote them; image: $(cat "$out/disk.kib") KiB allocated before, $(kib) after"
}

check_blk_ro() {
    now=$(sha "$img")
    [ "$now" = "$(cat "$out/disk.sha256")" ] ||
        fail "the read-only image changed: sha256 $(cat "$out/disk.sha256") before, $now after"
    fsck
    # What the guest read: the files put in the image, byte for byte.
    for f in hello.txt data.bin; do
        want="E2E-BLK-FILE /$f $(stat -c %s "$out/fill/$f") $(sha "$out/fill/$f")"
        tr -d '\r' <"$out/console" | grep -qx "$want" || fail "the guest did not read /$f as the host wrote it (want '$want')"
    done
    echo "image unchanged (sha256), e2fsck -fn clean, the guest read both files as written"
}

case $step/$case in
    prepare/blk) prepare_blk ;;
    prepare/blk_ro) prepare_blk_ro ;;
    prepare/fs) prepare_fs ;;
    prepare/fs_snapshot) prepare_fs_snapshot ;;
    check/fs) check_fs ;;
    check/blk) check_blk ;;
    check/blk_ro) check_blk_ro ;;
    prepare/* | check/*) ;;
    *) echo "usage: $0 prepare|check CASE CFG_DIR OUT_DIR" >&2; exit 2 ;;
esac
