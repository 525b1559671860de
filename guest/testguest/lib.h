/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The few libc functions the guest needs. gcc and clang may emit calls to
 * memset, memcpy and memcmp even with -ffreestanding, so these names are
 * the standard ones.
 */
#ifndef TESTGUEST_LIB_H
#define TESTGUEST_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Whether the n bytes at s equal the NUL-terminated word. */
bool str_eq_n(const char *s, size_t n, const char *word);

#endif
