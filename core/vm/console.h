/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of the serial console: stdin feeds the UART's receive FIFO
 * on a thread of its own. A terminal is put in raw mode, so that keys reach
 * the guest as typed, and restored on every way out (console_stop, and an
 * atexit handler for exits that skip it). Ctrl-A x stops the VM, as in
 * QEMU, because Ctrl-C goes to the guest.
 */
#ifndef PLUGVM_CORE_CONSOLE_H
#define PLUGVM_CORE_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>

#include "devices/serial.h"

struct console {
    struct serial *serial;
    void (*quit)(void *arg); /* Ctrl-A x */
    void *quit_arg;
    int stop_pipe[2];
    pthread_t thread;
    bool started;
};

int console_start(struct console *c, struct serial *s, void (*quit)(void *), void *arg);
void console_stop(struct console *c);

#endif
