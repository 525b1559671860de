# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Sourced by the out-of-tree tests (tests/plugins, tests/embed):
# staged_install NAME makes tmp, a folder in the build tree (removed at
# exit), and installs the build there with DESTDIR, at the prefix the
# build was configured for, as a package is staged: nothing installed may
# depend on being at that prefix. Sets tmp, prefix (where the tree is) and
# libdir (GNUInstallDirs' CMAKE_INSTALL_LIBDIR). Expects build and fail().
staged_install() {
    # In the build tree, not /tmp: the VM step may run in the nested VM
    # host, which sees this host's files but has a /tmp of its own.
    # shellcheck disable=SC2154 # build is the sourcing script's
    tmp=$(mktemp -d "$build/tests/$1.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
    prefix=$tmp/root$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")
    DESTDIR=$tmp/root cmake --install "$build" >"$tmp/install.log" 2>&1 ||
        fail "cmake --install: $(tail -5 "$tmp/install.log")"
}
