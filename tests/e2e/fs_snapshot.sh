#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# fs_snapshot.sh PLUGVM CFG LIMIT OUT_DIR
# The host's side of the e2e case `fs_snapshot` (tests/e2e/README.md): the
# `snapshot` case's steps (snapshot.sh) with the guest's init on a
# virtio-fs share, holding a file open and its current directory there
# across the snapshot, a SIGKILL and the restore in a new plugvm: the
# answers must go on reading the file's next lines and listing the
# directory (the fs plugin's record carries the FUSE session).
E2E_FS_SNAPSHOT=1 exec sh "$(dirname "$0")/snapshot.sh" "$@"
