#!/bin/bash
# deps.sh: installs, with apt-get, every Debian package plugvm's build,
# tests, examples and benchmarks need. Quick when they are all present.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev libconfig-dev libarchive-dev
      libcmocka-dev libevent-dev libjansson-dev libssl-dev libext2fs-dev zlib1g-dev busybox-static cpio gzip lz4 acpica-tools qemu-system-x86 e2fsprogs fio
      python3 socat umoci crun zstd scdoc groff-base lintian rpm debootstrap abigail-tools)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
