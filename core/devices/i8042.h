/* SPDX-License-Identifier: Apache-2.0 */
/*
 * i8042 keyboard controller, only as much as Linux needs: its probe (read
 * and write the command byte, self-test) answers, and the CPU reset pulse
 * (command 0xFE on port 0x64) that Linux's reboot uses ends the VM, as on
 * Firecracker. No keyboard or mouse is attached.
 */
#ifndef PLUGVM_CORE_I8042_H
#define PLUGVM_CORE_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "iobus.h"

struct i8042 {
    pthread_mutex_t lock;
    void (*reset)(void *arg); /* called on the reset command */
    void *reset_arg;
    uint8_t ctr;           /* controller command byte */
    uint8_t out;           /* output buffer */
    bool out_full;
    uint8_t pending_cmd;   /* a command waiting for its data byte on 0x60 */
};

void i8042_init(struct i8042 *k, void (*reset)(void *), void *arg);
/* Ports 0x60 (data) and 0x64 (status/command): two io_devices. */
struct io_device i8042_data_device(struct i8042 *k);
struct io_device i8042_cmd_device(struct i8042 *k);

#endif
