/* SPDX-License-Identifier: Apache-2.0 */
#include "serial.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* Register offsets and bits (PC16550D datasheet, table 2). */
#define UART_RBR_THR 0
#define UART_IER 1
#define UART_IIR_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define IER_RDI 0x01  /* received data available interrupt */
#define IER_THRI 0x02 /* transmitter holding register empty interrupt */
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10
#define MSR_DCD 0x80
#define MSR_DSR 0x20
#define MSR_CTS 0x10

static uint8_t iir(const struct serial *s)
{
    uint8_t fifo = (s->fcr & 1) ? IIR_FIFO : 0;
    if ((s->ier & IER_RDI) && s->rx_count)
        return IIR_RDI | fifo;
    if ((s->ier & IER_THRI) && s->iir_thre_pending)
        return IIR_THRI | fifo;
    return IIR_NONE | fifo;
}

/* Called with the lock held after any change. ISA IRQ 4 is edge-triggered:
 * pulse it when an interrupt condition appears, not on every access while
 * one is pending, or the guest sees interrupts it already served. */
static void update_irq(struct serial *s)
{
    bool pending = !(iir(s) & IIR_NONE);
    if (pending && !s->irq_pending && s->raise_irq)
        s->raise_irq(s->irq_arg);
    s->irq_pending = pending;
}

/*
 * stdout may be a pipe or terminal nobody reads. A plain blocking write()
 * there held this vCPU, with the UART's lock, for good, and teardown's
 * join of the vCPU never returned: SIGTERM and --timeout could not end
 * plugvm. So wait for room in slices of SERIAL_OUT_POLL_MS, and drop the
 * byte once serial_close_output() was called. A console that went away
 * (EPIPE with SIGPIPE ignored, EIO) drops output and never stops the guest.
 */
static void write_out(struct serial *s, uint8_t c)
{
    while (!atomic_load(&s->out_closed)) {
        struct pollfd p = {.fd = s->out_fd, .events = POLLOUT};
        int r = poll(&p, 1, SERIAL_OUT_POLL_MS);
        if (r == 0 || (r < 0 && errno == EINTR))
            continue;
        if (r < 0 || (p.revents & POLLNVAL))
            return;
        ssize_t n = write(s->out_fd, &c, 1);
        if (n == 1 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return;
    }
}

void serial_close_output(struct serial *s)
{
    atomic_store(&s->out_closed, true);
}

static void serial_read(void *opaque, uint16_t port, uint8_t *data, uint8_t size)
{
    struct serial *s = opaque;
    uint8_t v = 0;
    pthread_mutex_lock(&s->lock);
    switch (port - SERIAL_COM1_BASE) {
    case UART_RBR_THR:
        if (s->lcr & LCR_DLAB) {
            v = s->dll;
        } else if (s->rx_count) {
            v = s->rx[s->rx_head];
            s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
            s->rx_count--;
        }
        break;
    case UART_IER:
        v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
        break;
    case UART_IIR_FCR:
        v = iir(s);
        /* Reading IIR while it reports THRE clears that condition. */
        if ((v & 0x0f) == IIR_THRI)
            s->iir_thre_pending = 0;
        break;
    case UART_LCR: v = s->lcr; break;
    case UART_MCR: v = s->mcr; break;
    case UART_LSR:
        v = LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
        break;
    case UART_MSR:
        /* In loopback, MCR's outputs appear as the modem inputs (Linux's
         * autoconfig tests this). */
        v = (s->mcr & MCR_LOOP) ? (uint8_t)(((s->mcr & 0x0c) << 4) | ((s->mcr & 0x01) << 5) |
                                            ((s->mcr & 0x02) << 3))
                                : (MSR_DCD | MSR_DSR | MSR_CTS);
        break;
    case UART_SCR: v = s->scr; break;
    }
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
    memset(data, 0, size);
    data[0] = v;
}

static void serial_write(void *opaque, uint16_t port, const uint8_t *data, uint8_t size)
{
    (void)size;
    struct serial *s = opaque;
    uint8_t v = data[0];
    pthread_mutex_lock(&s->lock);
    switch (port - SERIAL_COM1_BASE) {
    case UART_RBR_THR:
        if (s->lcr & LCR_DLAB) {
            s->dll = v;
        } else if (s->mcr & MCR_LOOP) {
            if (s->rx_count < SERIAL_FIFO_SIZE) {
                s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = v;
                s->rx_count++;
            }
            s->iir_thre_pending = 1;
        } else {
            /* The byte leaves at once, so THR is empty again at once. */
            write_out(s, v);
            s->iir_thre_pending = 1;
        }
        break;
    case UART_IER:
        if (s->lcr & LCR_DLAB) {
            s->dlm = v;
        } else {
            /* Enabling THRI with THR empty raises it (the datasheet's
             * behaviour Linux's driver relies on to start transmitting). */
            if (!(s->ier & IER_THRI) && (v & IER_THRI))
                s->iir_thre_pending = 1;
            s->ier = v & 0x0f;
        }
        break;
    case UART_IIR_FCR:
        s->fcr = v;
        if (v & 0x02) /* clear RX FIFO */
            s->rx_head = s->rx_count = 0;
        break;
    case UART_LCR: s->lcr = v; break;
    case UART_MCR: s->mcr = v & 0x1f; break;
    case UART_SCR: s->scr = v; break;
    }
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
}

void serial_init(struct serial *s, int out_fd, void (*raise_irq)(void *), void *irq_arg)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->out_fd = out_fd;
    atomic_init(&s->out_closed, out_fd < 0);
    s->raise_irq = raise_irq;
    s->irq_arg = irq_arg;
    s->lcr = 0x03; /* 8N1 */
    s->mcr = 0x08; /* OUT2: the PC wiring that gates the IRQ line */
}

void serial_fini(struct serial *s)
{
    pthread_mutex_destroy(&s->lock);
}

struct io_device serial_io_device(struct serial *s)
{
    return (struct io_device){.name = "serial (COM1)", .base = SERIAL_COM1_BASE, .len = 8,
                              .read = serial_read, .write = serial_write, .opaque = s};
}

size_t serial_input(struct serial *s, const uint8_t *data, size_t len)
{
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    while (n < len && s->rx_count < SERIAL_FIFO_SIZE) {
        s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = data[n++];
        s->rx_count++;
    }
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
    return n;
}
