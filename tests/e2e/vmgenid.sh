#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# vmgenid.sh PLUGVM CFG LIMIT OUT_DIR
# The host's side of the e2e case `vmgenid` (tests/e2e/README.md): the
# `snapshot` case's steps (snapshot.sh) on Debian's generic kernel, whose
# vmgenid driver (CONFIG_VMGENID=y; the cloud kernel has none) must see
# the restored VM's new generation ID: the guest's kernel logs
# "crng reseeded due to virtual machine fork" after the restore and not
# before it.
E2E_VMGENID_DRIVER=1 exec sh "$(dirname "$0")/snapshot.sh" "$@"
