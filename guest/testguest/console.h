/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Output on COM1 (8250/16550A at 0x3f8) and a small printf. Used from ring
 * 3 (IOPL 3) by everything, and from ring 0 by the exception report.
 */
#ifndef TESTGUEST_CONSOLE_H
#define TESTGUEST_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

void console_init(void);
void console_write(const char *s, size_t n);
void console_puts(const char *s);

/* Formats: %s %c %d %u %x %%, with the l or ll length modifiers (64-bit),
 * a zero-pad flag and a width (%08x), and %p (0x + 16 hex digits). */
void console_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_vprintf(const char *fmt, va_list ap);
/* The same into a buffer, always NUL-terminated; returns the length. */
size_t str_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
size_t str_vformat(char *buf, size_t size, const char *fmt, va_list ap);

#endif
