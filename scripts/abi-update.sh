#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# abi-update.sh BUILD_DIR: writes the ABI records that ctest's abi.plugin
# and abi.libplugvm compare the build with: tests/abi/plugin-abi.xml from
# BUILD_DIR's probe (target plugvm_abi_probe), tests/abi/libplugvm-abi.xml
# from its libplugvm.so. Run it only for a change of an ABI that is meant,
# with the version bump docs/ABI.md asks for.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
cmake --build "$build" --target plugvm_abi_probe plugvm_shared
"$top/tests/abi/check.sh" plugin "$build/tests/libplugvm_abi_probe.so" "$top/tests/abi/plugin-abi.xml" --update
"$top/tests/abi/check.sh" libplugvm "$build/core/libplugvm.so" "$top/tests/abi/libplugvm-abi.xml" --update
