/* SPDX-License-Identifier: Apache-2.0 */
#include "console.h"

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "lib.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_FCR 2
#define UART_LSR 5
#define UART_FCR_ENABLE_CLEAR 0x07 /* FIFOs on, both cleared */
#define UART_LSR_THRE 0x20         /* transmit holding register / FIFO empty */
#define UART_FIFO_SIZE 16

/* The 16550A's transmit FIFO takes 16 bytes once THRE says it is empty:
 * one status read per 16 bytes rather than per byte (each port access is
 * an exit to the VMM). The wait is bounded: a UART that never drains must
 * not hang the guest, losing output is the lesser evil. */
void console_init(void)
{
    outb(COM1 + UART_FCR, UART_FCR_ENABLE_CLEAR);
}

static void wait_thr_empty(void)
{
    for (unsigned i = 0; i < 1000000; i++) {
        if (inb(COM1 + UART_LSR) & UART_LSR_THRE)
            return;
        cpu_relax();
    }
}

void console_write(const char *s, size_t n)
{
    while (n) {
        wait_thr_empty();
        size_t chunk = n < UART_FIFO_SIZE ? n : UART_FIFO_SIZE;
        /* One instruction for the chunk: where ring 3 port I/O traps
         * (idt.S, gp_trap), one trap rather than sixteen. */
        const char *p = s;
        size_t c = chunk;
        __asm__ volatile("rep outsb" : "+S"(p), "+c"(c) : "d"(COM1 + UART_THR) : "memory");
        s += chunk;
        n -= chunk;
    }
}

void console_puts(const char *s)
{
    console_write(s, strlen(s));
}

struct sink {
    char *buf;
    size_t size, len;
};

static void sink_put(struct sink *k, char c)
{
    if (k->len + 1 < k->size)
        k->buf[k->len] = c;
    k->len++;
}

static void sink_num(struct sink *k, uint64_t v, unsigned base, int width, char pad, bool neg)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    for (int i = n; i < width; i++)
        sink_put(k, pad);
    while (n)
        sink_put(k, tmp[--n]);
}

size_t str_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink k = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            sink_put(&k, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        int lng = 0;
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = strlen(s);
            for (size_t i = n; i < (size_t)width; i++)
                sink_put(&k, ' ');
            while (*s)
                sink_put(&k, *s++);
            break;
        }
        case 'c':
            sink_put(&k, (char)va_arg(ap, int));
            break;
        case 'd': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            sink_num(&k, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            sink_num(&k, v, *fmt == 'x' ? 16 : 10, width, pad, false);
            break;
        }
        case 'p':
            sink_put(&k, '0');
            sink_put(&k, 'x');
            sink_num(&k, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 16, '0', false);
            break;
        case '%':
            sink_put(&k, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            sink_put(&k, '%');
            sink_put(&k, *fmt);
            break;
        }
    }
    if (size)
        buf[k.len < size ? k.len : size - 1] = '\0';
    return k.len < size ? k.len : (size ? size - 1 : 0);
}

size_t str_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = str_vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void console_vprintf(const char *fmt, va_list ap)
{
    char buf[512];
    size_t n = str_vformat(buf, sizeof(buf), fmt, ap);
    console_write(buf, n);
}

void console_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    console_vprintf(fmt, ap);
    va_end(ap);
}
