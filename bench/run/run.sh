#!/bin/bash
# `plugvm run --image` benchmark (issue 15): for the test image
# (tests/run/make-image.py: busybox), the time from starting
#   plugvm run --image IMAGE -- true        to its exit, and
#   plugvm run --image IMAGE -- echo hi     to its first stdout byte
# (bench/restore's firstbyte: stdout and stderr on separate pipes), for a
# cold boot (--no-snapshot) and for a run restored from the image's cached
# snapshot, p50/p90 over N runs each, all in this one run; beside crun
# running the same root file system without a VM (the container floor),
# where crun is installed. Prints the commands, then the table with the
# ratios restored/cold and restored/crun. Without a usable KVM here it
# runs itself inside the nested VM host (bench/README.md).
# usage: run.sh BUILD_DIR        env: N (runs per case, 20)
set -u
export LC_ALL=C
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
export VMHOST_QUIET=1
bench_vmhost "$build" "$0" "$@"
N=${N:-20}
plugvm=$build/core/plugvm firstbyte=$build/bench/restore/firstbyte
[ -x "$firstbyte" ] || { echo "bench-run: $firstbyte missing (cmake --build $build --target bench-run)" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-run.XXXXXX")
trap 'rm -rf "$dir"' EXIT
python3 "$here/../../tests/run/make-image.py" "$dir/img" /bin/busybox || exit 1
"$plugvm" image --cache "$dir/cache" import -q "$dir/img:box" >/dev/null || exit 1
img=img:box
now() { echo "${EPOCHREALTIME/./}"; } # microseconds
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if (i<1) i=1; printf "%.1f", a[i]/1000}'; }
# exit_time FILE CMD...: N runs, microseconds to exit, each into FILE.
exit_time() {
    local f=$1; shift
    for _ in $(seq "$N"); do
        local t0; t0=$(now)
        "$@" >/dev/null 2>"$dir/err" </dev/null || { echo "failed: $(q "$@"): $(head -c 300 "$dir/err")" >&2; exit 1; }
        echo $(($(now) - t0)) >>"$f"
    done
}
# first_byte FILE CMD...: N runs, microseconds to the first stdout byte.
first_byte() {
    local f=$1; shift
    for _ in $(seq "$N"); do
        local l; l=$("$firstbyte" -t 120 -l 1 -- "$@" 2>"$dir/err") || { echo "failed: $(q "$@"): $(head -c 300 "$dir/err")" >&2; exit 1; }
        l=${l#first_byte_ms=}; l=${l%% *}
        awk -v m="$l" 'BEGIN {printf "%d\n", m * 1000}' >>"$f"
    done
}
cold=("$plugvm" run --cache "$dir/cache" --image "$img" --no-snapshot)
warm=("$plugvm" run --cache "$dir/cache" --image "$img")
echo "cold:     $(q "${cold[@]}") -- true | -- echo hi"
echo "restored: $(q "${warm[@]}") -- true | -- echo hi   (snapshot made by one run first)"
"${warm[@]}" -- true || exit 1 # makes the image's snapshot
exit_time "$dir/cold.true" "${cold[@]}" -- true
first_byte "$dir/cold.echo" "${cold[@]}" -- echo hi
exit_time "$dir/warm.true" "${warm[@]}" -- true
first_byte "$dir/warm.echo" "${warm[@]}" -- echo hi
crun=0
if command -v crun >/dev/null && command -v umoci >/dev/null && [ "$(id -u)" = 0 ]; then
    umoci unpack --image "$dir/img:box" "$dir/bundle" >/dev/null 2>&1 &&
        (cd "$dir/bundle" && crun spec --rootless >/dev/null 2>&1 || true) && crun=1
    if [ $crun = 1 ]; then
        echo "floor:    crun --cgroup-manager=disabled run --bundle BUNDLE ID (umoci unpack of the same image; its config's args set per case)"
        setargs() { python3 - "$dir/bundle/config.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["process"]["args"] = sys.argv[2:]; c["process"]["terminal"] = False
json.dump(c, open(p, "w"))
PY
        }
        # No cgroup of its own: the floor is namespaces and the exec, and
        # the nested host's /sys/fs/cgroup is not one crun can use.
        cr=(crun --cgroup-manager=disabled run --bundle "$dir/bundle" "b$$")
        setargs /bin/true
        if msg=$("${cr[@]}" 2>&1 </dev/null); then
            exit_time "$dir/crun.true" "${cr[@]}"
            setargs /bin/echo hi
            first_byte "$dir/crun.echo" "${cr[@]}"
        else
            crun=0
            echo "floor:    crun cannot run here ($(echo "$msg" | head -c 200)): no container floor in this run"
        fi
    fi
fi
[ $crun = 1 ] || [ -n "${msg:-}" ] || echo "floor:    crun not installed (or umoci, or not root): no container floor in this run"
echo
echo "N=$N per case; load $(load)"
bench_where
printf '%-28s %10s %10s %10s %10s %14s\n' case "cold p50" "cold p90" "rest. p50" "rest. p90" "restored/cold"
for c in true echo; do
    cp50=$(pct 50 <"$dir/cold.$c") cp90=$(pct 90 <"$dir/cold.$c")
    wp50=$(pct 50 <"$dir/warm.$c") wp90=$(pct 90 <"$dir/warm.$c")
    name=$([ $c = true ] && echo "-- true, to exit (ms)" || echo "-- echo hi, first byte (ms)")
    printf '%-28s %10s %10s %10s %10s %14s\n' "$name" "$cp50" "$cp90" "$wp50" "$wp90" \
        "$(awk -v a="$wp50" -v b="$cp50" 'BEGIN {printf "%.2f", a / b}')"
    if [ $crun = 1 ]; then
        f50=$(pct 50 <"$dir/crun.$c")
        printf '%-28s %10s %10s %10s %10s %14s\n' "  crun (floor) p50" "$f50" "" "" "" \
            "restored/crun $(awk -v a="$wp50" -v b="$f50" 'BEGIN {printf "%.1f", a / b}')"
    fi
done
