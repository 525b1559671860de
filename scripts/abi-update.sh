#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# abi-update.sh BUILD_DIR: writes tests/abi/plugin-abi.xml, the record of
# the plugin ABI that ctest's abi.plugin compares the build with, from
# BUILD_DIR's probe (target plugvm_abi_probe). Run it only for a change
# of the ABI that is meant, with the version bump docs/ABI.md asks for.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
cmake --build "$build" --target plugvm_abi_probe
exec "$top/tests/abi/check.sh" "$build/tests/libplugvm_abi_probe.so" "$top/tests/abi/plugin-abi.xml" --update
