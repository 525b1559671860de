/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshots of a VM (snapshot.c writes them; restore.c reads them). */
#ifndef PLUGVM_CORE_VM_SNAPSHOT_H
#define PLUGVM_CORE_VM_SNAPSHOT_H

#include <stddef.h>

struct vm;

/* The core's record of the machine (owner core, docs/SNAPSHOT.md); COM1
 * and the i8042 have tags 1 and 2 (devices/devices_state.h). */
#define SNAPSHOT_TAG_VM 16
#define SNAPSHOT_VERSION_VM 1

/* Writes a snapshot of the paused VM to folder `dir` (created; an older
 * snapshot there is replaced only once the new one is complete and
 * durable). 0, or -1 with err; nothing of a failed snapshot is left. On
 * the thread that paused the VM. */
int vm_snapshot(struct vm *vm, const char *dir, char *err, size_t errlen);

#endif
