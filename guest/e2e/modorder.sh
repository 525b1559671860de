#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# modorder.sh MODDIR MODULE...
# Print, one a line and relative to MODDIR (a kernel package's
# lib/modules/VERSION), the .ko files to insmod so that MODULE... load:
# each module after everything it depends on, no file twice. A MODULE built
# into the kernel (listed in MODDIR/modules.builtin) is skipped with a note
# on stderr; one that is neither a module nor built in is an error.
#
# The dependencies come from modules.dep. Debian's linux-image package does
# not ship one (its postinst runs depmod), and kmod may be absent, so the
# busybox-static `depmod` writes it, into a scratch copy of the tree.
set -euo pipefail

die() { echo "modorder: error: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: $0 MODDIR MODULE..."
moddir=$1; shift
bb=/bin/busybox
[ -d "$moddir/kernel" ] || die "$moddir/kernel: not a kernel module tree"
[ -x "$bb" ] || die "$bb missing (apt-get install busybox-static)"
ver=$(basename "$moddir")

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/lib/modules/$ver"
# Hard links when the scratch folder is on the same file system, else a copy.
cp -al "$moddir/kernel" "$scratch/lib/modules/$ver/" 2>/dev/null ||
    cp -a "$moddir/kernel" "$scratch/lib/modules/$ver/"
"$bb" depmod -b "$scratch" "$ver" || die "busybox depmod failed on $moddir"
dep=$scratch/lib/modules/$ver/modules.dep
[ -s "$dep" ] || die "depmod wrote no modules.dep for $moddir"

# Module names treat - and _ alike (kvm-amd is kvm_amd).
awk -v builtin="$moddir/modules.builtin" -v want="$*" '
function norm(p,   n) { n = p; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); return n }
function emit(path,   i, n, d) {
    if (path in done) return
    if (path in visiting) { print "modorder: error: dependency loop at " path > "/dev/stderr"; exit 1 }
    visiting[path] = 1
    n = split(deps[path], d, " ")
    for (i = 1; i <= n; i++) emit(d[i])
    done[path] = 1
    print path
}
{
    p = $1; sub(/:$/, "", p)
    deps[p] = ""
    for (i = 2; i <= NF; i++) deps[p] = deps[p] " " $i
    byname[norm(p)] = p
}
END {
    while ((getline line < builtin) > 0) isbuiltin[norm(line)] = 1
    n = split(want, w, " ")
    for (i = 1; i <= n; i++) {
        m = w[i]; gsub(/-/, "_", m)
        if (m in byname) emit(byname[m])
        else if (m in isbuiltin) print "modorder: note: " w[i] " is built into the kernel" > "/dev/stderr"
        else { print "modorder: error: no module " w[i] " in " FILENAME > "/dev/stderr"; exit 1 }
    }
}' "$dep"
