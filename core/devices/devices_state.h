/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot records of COM1 and the i8042, owned by the core
 * (docs/SNAPSHOT.md gives their layout). Call with the vCPUs paused.
 * Restores return 0, -ENOENT (no such record), -EINVAL (a version this
 * plugvm does not read) or -EBADMSG (truncated or malformed); on error
 * the device is left as it was.
 */
#ifndef PLUGVM_CORE_DEVICES_STATE_H
#define PLUGVM_CORE_DEVICES_STATE_H

#include <plugvm/record.h>

#include "i8042.h"
#include "serial.h"

/* The core's record tags: devices here, the VM's own from 16 up. */
#define DEVICES_TAG_SERIAL 1
#define DEVICES_VERSION_SERIAL 1
#define DEVICES_TAG_I8042 2
#define DEVICES_VERSION_I8042 1

int serial_save(struct serial *s, struct plugvm_record_writer *w);
int serial_restore(struct serial *s, struct plugvm_record_reader *r);
int i8042_save(struct i8042 *k, struct plugvm_record_writer *w);
int i8042_restore(struct i8042 *k, struct plugvm_record_reader *r);

#endif
