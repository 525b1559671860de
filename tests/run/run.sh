#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run.sh PLUGVM SOURCE_DIR BUILD_DIR
# End-to-end test of `plugvm run --image` (issue 15) with Debian's cloud
# kernel, the real vsock and blk drivers, and plugvm-init. The image is
# built here (tests/run/make-image.py: busybox, users "root" and "app")
# and imported into a private cache; every case is one or more plugvm
# runs judged by what the process printed and plugvm's exit status.
# TAP on stdout; exit 1 when a case failed, 77 when the guest images are
# missing (scripts/images.sh makes them).
set -u
[ $# -eq 3 ] || { echo "usage: $0 PLUGVM SOURCE_DIR BUILD_DIR" >&2; exit 2; }
plugvm=$1 src=$2 build=$3
for f in debian-cloud-vmlinuz plugvm-init.cpio.gz; do
    [ -e "$build/images/$f" ] || { echo "1..0 # SKIP $build/images/$f missing: run scripts/images.sh $build"; exit 77; }
done
command -v mke2fs >/dev/null || { echo "1..0 # SKIP mke2fs missing (apt-get install e2fsprogs)"; exit 77; }
[ -x /bin/busybox ] || { echo "1..0 # SKIP /bin/busybox missing (apt-get install busybox-static)"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/plugvm-run-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cache=$work/cache
# The kernel and initramfs through PLUGVM_IMAGE_PATH, from copies: the
# last case changes the initramfs to see the image's snapshot remade.
mkdir "$work/images"
ln -s "$(readlink -f "$build/images/debian-cloud-vmlinuz")" "$work/images/debian-cloud-vmlinuz"
cp "$build/images/plugvm-init.cpio.gz" "$work/images/"
export PLUGVM_IMAGE_PATH=$work/images
python3 "$src/tests/run/make-image.py" "$work/img" /bin/busybox || { echo "Bail out! cannot build the image"; exit 1; }
"$plugvm" image --cache "$cache" import -q "$work/img:box" >/dev/null || { echo "Bail out! import failed"; exit 1; }
img=img:box

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
# run OUT ERR ARGS...: plugvm run --image with this test's cache; status in $rc.
run() {
    local out=$1 err=$2
    shift 2
    timeout 300 "$plugvm" run --cache "$cache" --image "$@" >"$out" 2>"$err" </dev/null
    rc=$?
}
# check NAME WANT_RC WANT_OUT ARGS...: stdout must be WANT_OUT exactly.
check() {
    local name=$1 want_rc=$2 want=$3
    shift 3
    run "$work/out" "$work/err" "$@"
    local got
    got=$(tr -d '\r' <"$work/out") # a terminal (-t) ends lines with \r\n
    if [ "$rc" = "$want_rc" ] && [ "$got" = "$want" ]; then
        ok "$name"
    else
        not_ok "$name" "status $rc (wanted $want_rc)" "stdout: $(head -c 400 "$work/out" | tr '\n' '|')" \
            "wanted: $(echo "$want" | tr '\n' '|')" "stderr: $(head -c 600 "$work/err" | tr '\n' '|')"
    fi
}
# check_err NAME WANT_RC REGEX ARGS...: stderr must match REGEX.
check_err() {
    local name=$1 want_rc=$2 re=$3
    shift 3
    run "$work/out" "$work/err" "$@"
    if [ "$rc" = "$want_rc" ] && grep -qE -- "$re" "$work/err"; then
        ok "$name: $(head -n1 "$work/err")"
    else
        not_ok "$name" "status $rc (wanted $want_rc)" "stderr: $(head -c 600 "$work/err" | tr '\n' '|')" "wanted: /$re/"
    fi
}

# Exit statuses, as docker gives them.
check "the image's Cmd" 0 "hello from the image" "$img"
snaps() { ls -d "$cache"/sha256-*/snapshots/*/ 2>/dev/null | wc -l; }
[ "$(snaps)" = 1 ] && ok "the first run snapshotted the image's VM" || not_ok "one snapshot after the first run" "$(snaps) found"
check "exit 1" 1 "" "$img" -- false
check "--no-snapshot: booted" 3 "booted" "$img" --no-snapshot -- sh -c 'echo booted; exit 3'
check "exit 42" 42 "" "$img" -- sh -c 'exit 42'
check "killed by SIGKILL: 137" 137 "" "$img" -- sh -c 'kill -9 $$'

# Env, WorkingDir and User: the image's, then the overrides.
check "image's Env, WorkingDir, root" 0 "uid=0(root) gid=0(root) groups=0(root)
/srv
HOME=/root
IMAGE_VAR=from-image
PATH=/bin" "$img" -- sh -c 'id; pwd; env | grep -E "^(HOME|IMAGE_VAR|PATH)=" | sort'
printf '# a comment\nFROM_FILE=1\nIMAGE_VAR=from-file\n' >"$work/env"
check "-u app -w -e --env-file" 0 "uid=1000(app) gid=1000(app) groups=50(staff),1000(app)
/home/app/work
FROM_FILE=1
FROM_FLAG=2
HOME=/home/app
IMAGE_VAR=from-flag" "$img" -u app -w /home/app/work --env-file "$work/env" -e FROM_FLAG=2 -e IMAGE_VAR=from-flag \
    -- sh -c 'id; pwd; env | grep -E "^(FROM_|HOME|IMAGE_VAR)" | sort'
check "--entrypoint drops the image's Cmd" 0 "a b" "$img" --entrypoint echo -- a b
check "-u 1000:50 (numbers)" 0 "1000:50" "$img" -u 1000:50 -- sh -c 'echo $(id -u):$(id -g)'
check "-t: a terminal of 24x80, stdout and stderr on it" 0 "/dev/pts/0
24 80
to stderr" "$img" -t -- sh -c 'tty; stty size; echo to stderr >&2'

# -t on a real terminal (script(1)'s pty): the process's terminal starts
# at the host terminal's size, and follows it when the host's changes
# (SIGWINCH -> a WINCH line -> TIOCSWINSZ in the guest). The resize comes
# after the first answer, the line that lets the process go on 2 s later:
# the WINCH and stdin travel on separate vsock connections.
if command -v script >/dev/null; then
    mkfifo "$work/tin"
    cat >"$work/tty.sh" <<'SH'
stty rows 37 cols 101
tty >"$1"
exec "$2" run --cache "$3" --image "$4" -t -i -- sh -c 'stty size; read x; stty size'
SH
    script -qefc "sh $work/tty.sh $work/pty $plugvm $cache $img" /dev/null <"$work/tin" >"$work/out" 2>&1 &
    pid=$!
    exec 5>"$work/tin"
    for _ in $(seq 1200); do grep -q "37 101" "$work/out" && break; sleep 0.1; done
    stty -F "$(cat "$work/pty" 2>/dev/null)" rows 50 cols 120 2>>"$work/out"
    sleep 2
    printf '\n' >&5
    for _ in $(seq 600); do grep -q "50 120" "$work/out" && break; sleep 0.1; done
    exec 5>&-
    wait $pid
    rc=$?
    got=$(tr -d '\r' <"$work/out" | grep -E '^[0-9]+ [0-9]+$' | tr '\n' ' ')
    if [ "$rc" = 0 ] && [ "$got" = "37 101 50 120 " ]; then
        ok "-t on a terminal: 37x101 at the start, 50x120 after the host's terminal was resized"
    else
        not_ok "-t window size" "status $rc, sizes seen: '$got' (wanted 37 101, then 50 120)" \
            "output: $(head -c 600 "$work/out" | tr '\r\n' '||')"
    fi
else
    ok "# SKIP -t window size: script(1) missing (apt-get install bsdutils)"
fi

# Stdio: 4 MiB through stdin and back, stdout and stderr apart.
head -c 4194304 /dev/urandom >"$work/in.bin"
timeout 300 "$plugvm" run --cache "$cache" --image "$img" -i -- sh -c 'echo MARKER >&2; cat' \
    <"$work/in.bin" >"$work/out.bin" 2>"$work/err"
rc=$?
want=$(sha256sum <"$work/in.bin" | cut -d' ' -f1)
got=$(sha256sum <"$work/out.bin" | cut -d' ' -f1)
if [ "$rc" = 0 ] && [ "$got" = "$want" ] && [ "$(cat "$work/err")" = MARKER ]; then
    ok "4 MiB through stdin came back on stdout (sha256 $want), stderr apart"
else
    not_ok "4 MiB stdin -> stdout" "status $rc, $(stat -c %s "$work/out.bin") bytes, sha256 $got (wanted $want)" \
        "stderr: $(head -c 300 "$work/err" | tr '\n' '|')"
fi
check "no -i: stdin reads end of file" 0 "0" "$img" -- sh -c 'wc -c'

# SIGTERM to plugvm reaches the process's handler; its status comes back.
"$plugvm" run --cache "$cache" --image "$img" -- sh -c \
    'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 1; done' >"$work/out" 2>"$work/err" </dev/null &
pid=$!
for _ in $(seq 1200); do grep -q ready "$work/out" && break; sleep 0.1; done
kill -TERM $pid
wait $pid
rc=$?
if [ "$rc" = 7 ] && grep -q "got TERM" "$work/out"; then
    ok "SIGTERM reached the process's handler (status 7)"
else
    not_ok "SIGTERM forwarded" "status $rc (wanted 7)" "stdout: $(tr '\n' '|' <"$work/out")" \
        "stderr: $(head -c 400 "$work/err" | tr '\n' '|')"
fi

# A process that ignores SIGTERM: 10 s later the VM is stopped, status 137.
"$plugvm" run --cache "$cache" --image "$img" -- sh -c 'trap "" TERM; echo ready; while :; do sleep 1; done' \
    >"$work/out" 2>"$work/err" </dev/null &
pid=$!
for _ in $(seq 1200); do grep -q ready "$work/out" && break; sleep 0.1; done
t0=$(date +%s)
kill -TERM $pid
wait $pid
rc=$? took=$(($(date +%s) - t0))
if [ "$rc" = 137 ] && [ $took -ge 9 ] && [ $took -le 30 ] && grep -q "had not ended 10 s after the signal" "$work/err"; then
    ok "SIGTERM ignored: the VM stopped ${took} s later, status 137"
else
    not_ok "SIGTERM ignored: stop after 10 s" "status $rc after $took s" "stderr: $(head -c 400 "$work/err" | tr '\n' '|')"
fi

# A volume written in one run is read in the next.
mke2fs -q -t ext4 -F "$work/vol.ext4" 16M
check "a volume written" 0 "" "$img" --volume "$work/vol.ext4:/data" -- sh -c 'echo persisted >/data/f'
check "the volume read back in the next run" 0 "persisted" "$img" --volume "$work/vol.ext4:/data:ro" -- cat /data/f
check "a read-only volume refuses writes" 1 "" "$img" --volume "$work/vol.ext4:/data:ro" -- sh -c 'echo x >/data/g 2>/dev/null'
e2fsck -fn "$work/vol.ext4" >"$work/fsck" 2>&1 && ok "e2fsck -fn: the volume is clean" ||
    not_ok "e2fsck -fn on the volume" "$(tail -n3 "$work/fsck" | tr '\n' '|')"

# A host directory as a volume (virtio-fs, the fs plugin): the host's file
# read, the process's file on the host at once, beside an image volume; a
# relative path works; :ro refuses writes.
mkdir "$work/share" && echo "from the host" >"$work/share/in.txt"
cd "$work" || exit 1
check "a directory volume (virtio-fs) beside an ext4 one" 0 "from the host
persisted" "$img" --volume share:/srv/share --volume "$work/vol.ext4:/data:ro" -- \
    sh -c 'cat /srv/share/in.txt /data/f; echo "from the guest" >/srv/share/out.txt'
cd - >/dev/null || exit 1
got=$(cat "$work/share/out.txt" 2>&1)
[ "$got" = "from the guest" ] && ok "the process's file is in the host directory" ||
    not_ok "the process's file in the host directory" "out.txt: $got"
check "a read-only directory volume refuses writes" 1 "from the host" "$img" --volume "$work/share:/s:ro" -- \
    sh -c 'cat /s/in.txt; echo x >/s/new 2>/dev/null'
[ ! -e "$work/share/new" ] && ok "nothing written through :ro" || not_ok "a write through :ro reached the host"

# The guest's clock: within 1 s of the host's when the process starts,
# the host's read as the line arrives.
"$plugvm" run --cache "$cache" --image "$img" -- sh -c 'date +%s; sleep 2' >"$work/out" 2>"$work/err" </dev/null &
pid=$!
for _ in $(seq 3000); do [ -s "$work/out" ] && break; sleep 0.02; done
host=$(date +%s) guest=$(head -n1 "$work/out")
wait $pid
rc=$?
if [ "$rc" = 0 ] && [ -n "$guest" ] && [ $((host - guest)) -le 1 ] && [ $((guest - host)) -le 1 ]; then
    ok "the guest's clock within 1 s of the host's (guest $guest, host $host)"
else
    not_ok "guest clock" "status $rc, guest $guest, host $host"
fi

# Clones restored from one snapshot do not share their randomness: the
# host's entropy is added and the crng reseeded before the process runs.
for i in 1 2; do
    run "$work/rand$i" "$work/err" "$img" -- sh -c 'cat /proc/sys/kernel/random/uuid; head -c 16 /dev/urandom | od -An -tx1'
done
if [ "$rc" = 0 ] && [ -s "$work/rand1" ] && [ "$(sed -n 1p "$work/rand1")" != "$(sed -n 1p "$work/rand2")" ] &&
    [ "$(sed -n 2p "$work/rand1")" != "$(sed -n 2p "$work/rand2")" ]; then
    ok "two restored runs: different uuid ($(sed -n 1p "$work/rand1") / $(sed -n 1p "$work/rand2")) and urandom"
else
    not_ok "two restored runs differ" "$(tr '\n' '|' <"$work/rand1")" "$(tr '\n' '|' <"$work/rand2")"
fi

# Bad input: plugvm's own errors are 125, named.
check_err "command not found: 127" 127 'exec: "nope": executable file not found in \$PATH' "$img" -- nope
check_err "not executable: 126" 126 'exec: "/srv/data.txt": Permission denied' "$img" -- /srv/data.txt
check_err "no such user: 125" 125 'user "nobody": no such user' "$img" -u nobody -- true
check_err "working directory is a file: 125" 125 'working directory /srv/data.txt: not a directory' "$img" -w /srv/data.txt -- true
check_err "a missing volume file: 125" 125 "--volume $work/none.ext4: No such file" "$img" --volume "$work/none.ext4:/data" -- true
python3 -c 'import fcntl, sys, time; f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(600)' \
    "$work/vol.ext4" >"$work/lock" &
lockpid=$!
for _ in $(seq 100); do grep -q locked "$work/lock" && break; sleep 0.1; done
check_err "a locked volume: 125" 125 "the image is in use" "$img" --volume "$work/vol.ext4:/data" -- true
kill $lockpid
check_err "an image that cannot be imported: 125" 125 "image $work/nothing: not in the image cache" "$work/nothing" -- true

# The same through a config file: vm.image and a process group, relative
# names beside the file, the default cache ($XDG_CACHE_HOME).
printf 'A=from-file\n' >"$work/app.env"
cat >"$work/box.cfg" <<'CFG'
vm = { image = "img:box"; memory_mib = 256; };
process = { args = ["sh", "-c", "echo $A $B; pwd; id -un"]; env = ["B=from-cfg"]; env_file = "app.env";
            workdir = "/tmp"; user = "app"; };
CFG
XDG_CACHE_HOME=$work/xdg timeout 300 "$plugvm" run "$work/box.cfg" >"$work/out" 2>"$work/err" </dev/null
rc=$?
if [ "$rc" = 0 ] && [ "$(cat "$work/out")" = "from-file from-cfg
/tmp
app" ]; then
    ok "a config file with vm.image and process runs the image"
else
    not_ok "config file with vm.image" "status $rc" "stdout: $(tr '\n' '|' <"$work/out")" "stderr: $(head -c 400 "$work/err" | tr '\n' '|')"
fi
printf 'vm = { image = "img:box"; cmdline = "x"; };\n' >"$work/bad.cfg"
"$plugvm" run "$work/bad.cfg" >/dev/null 2>"$work/err"
rc=$?
[ "$rc" = 125 ] && grep -q "bad.cfg:1: setting 'vm.cmdline': not with vm.image" "$work/err" &&
    ok "a config's vm setting that does not go with vm.image is refused, named" ||
    not_ok "vm.cmdline with vm.image refused" "status $rc" "$(cat "$work/err")"

# A changed initramfs (plugvm-init) makes another snapshot; the old one is
# never used.
touch -d '@1000000000' "$work/images/plugvm-init.cpio.gz"
check "after init changed: runs" 0 "hello from the image" "$img"
[ "$(snaps)" = 2 ] && ok "a changed init made a new snapshot" || not_ok "a new snapshot after init changed" "$(snaps) found"

echo "1..$n"
[ $failed = 0 ]
