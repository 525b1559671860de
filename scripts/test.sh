#!/bin/bash
# test.sh: the README's second command, and what CI runs. Installs what is
# missing, builds, makes the guest images, runs the whole ctest suite, then
# the suite again (but for the real-kernel tests) in an ASan+UBSan build
# made with clang, which adds the libFuzzer targets (label fuzz, bounded).
# The tests that run VMs (label vm) run as one batch through
# tests/vmhost/ctest-batch.sh: directly where this host has a usable KVM,
# else all in one nested VM host (QEMU TCG with SVM; tests/vmhost/README.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
"$top/scripts/images.sh" "$build"
echo "== where VMs run: $("$top/tests/vmhost/run.sh" --why --need kvm "$build") (Linux guests: $("$top/tests/vmhost/run.sh" --why --need hw "$build"))"
# Labels are regular expressions: ^vm$, as "kvm" holds "vm".
(cd "$build" && ctest --output-on-failure -LE '^vm$')
"$top/tests/vmhost/ctest-batch.sh" "$build" -L '^vm$'

asan=$build-asan
CC=clang cmake -S "$top" -B "$asan" -DCMAKE_BUILD_TYPE=Debug -DPLUGVM_SANITIZE=ON >/dev/null
cmake --build "$asan" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1
# The nested host boots the kernel the first build fetched.
export VMHOST_LINUX=$build/cache/linux
(cd "$asan" && ctest --output-on-failure -LE '^(vm|linux|e2e)$')
"$top/tests/vmhost/ctest-batch.sh" "$asan" -L '^vm$' -LE '^(linux|e2e)$'
