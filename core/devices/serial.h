/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 8250/16550A UART (COM1: ports 0x3f8-0x3ff, ISA IRQ 4): the guest's
 * console. Transmitted bytes go to an output fd (stdout); bytes fed with
 * serial_input() arrive in the receive FIFO and raise the RX interrupt.
 * Register semantics follow the TI/National PC16550D datasheet.
 */
#ifndef PLUGVM_CORE_SERIAL_H
#define PLUGVM_CORE_SERIAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iobus.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_FIFO_SIZE 64

struct serial {
    pthread_mutex_t lock;
    int out_fd;
    /* Pulses the interrupt line (edge, ISA). */
    void (*raise_irq)(void *arg);
    void *irq_arg;
    uint8_t ier, iir_thre_pending, lcr, mcr, scr, dll, dlm, fcr;
    uint8_t rx[SERIAL_FIFO_SIZE];
    unsigned rx_head, rx_count;
    bool irq_pending; /* the last level update_irq saw */
    atomic_bool out_closed; /* serial_close_output() was called */
};

/* How long a vCPU writing to a full output waits between looks at
 * out_closed: the most serial_close_output() takes to free it. */
#define SERIAL_OUT_POLL_MS 100

void serial_init(struct serial *s, int out_fd, void (*raise_irq)(void *), void *irq_arg);
void serial_fini(struct serial *s);
/* From now on transmitted bytes are dropped, and a vCPU waiting for room
 * on the output fd gives up within SERIAL_OUT_POLL_MS: teardown calls it
 * before joining the vCPUs, so a stdout nobody reads cannot hold them.
 * Any thread. */
void serial_close_output(struct serial *s);
/* The io_device for iobus_add. */
struct io_device serial_io_device(struct serial *s);
/* Queues up to len bytes of input; returns how many fit (the rest should be
 * offered again later). Any thread. */
size_t serial_input(struct serial *s, const uint8_t *data, size_t len);

#endif
