#!/bin/bash
# test.sh: the README's second command, and what CI runs. Installs what is
# missing, builds, makes the guest images, runs the whole ctest suite, then
# the suite again (but for the slow real-kernel test) in an ASan+UBSan build
# made with clang, which adds the libFuzzer targets (label fuzz, bounded).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
"$top/scripts/images.sh" "$build"
(cd "$build" && ctest --output-on-failure)
asan=$build-asan
CC=clang cmake -S "$top" -B "$asan" -DCMAKE_BUILD_TYPE=Debug -DPLUGVM_SANITIZE=ON >/dev/null
cmake --build "$asan" -j"$(nproc)"
(cd "$asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -LE "linux|e2e")
