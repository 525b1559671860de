/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's exit status port (opt-in, vm.exit_port): a byte written to
 * I/O port 0xf4 ends the VM and becomes plugvm's exit status, so a test
 * guest's result reaches whoever started plugvm. The port and its use
 * follow QEMU's isa-debug-exit (iobase 0xf4), which test guests already
 * know; the status is the byte itself rather than QEMU's (v << 1) | 1, so
 * 0 means success. From a Linux guest's shell:
 *   printf '\x03' | dd of=/dev/port bs=1 seek=244 count=1
 */
#ifndef PLUGVM_CORE_EXIT_PORT_H
#define PLUGVM_CORE_EXIT_PORT_H

#include <stdint.h>

#include "iobus.h"

#define EXIT_PORT_NUMBER 0xf4

struct exit_port {
    void (*exit)(void *arg, uint8_t status);
    void *arg;
};

struct io_device exit_port_device(struct exit_port *d);

#endif
