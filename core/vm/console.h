/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of the serial console: an fd (the CLI's stdin, or one an
 * embedding program gives) feeds the UART's receive FIFO on a thread of
 * its own. The user's terminal is put in raw mode, so that keys reach the
 * guest as typed, and restored by console_stop. There Ctrl-A x stops the
 * VM, as in QEMU, because Ctrl-C goes to the guest.
 */
#ifndef PLUGVM_CORE_CONSOLE_H
#define PLUGVM_CORE_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <termios.h>

#include "devices/serial.h"

struct console {
    struct serial *serial;
    void (*quit)(void *arg); /* Ctrl-A x */
    void *quit_arg;
    int in_fd;
    bool terminal; /* raw mode set: Ctrl-A x is seen */
    bool termios_saved;
    struct termios saved_termios;
    int stop_pipe[2];
    pthread_t thread;
    bool started;
};

/* Reads in_fd (not closed here) into s until console_stop. terminal: in_fd
 * is the user's terminal: raw mode while the VM runs, Ctrl-A x calls
 * quit(arg). 0, or a negative errno. */
int console_start(struct console *c, struct serial *s, int in_fd, bool terminal,
                  void (*quit)(void *), void *arg);
void console_stop(struct console *c);

#endif
