/* SPDX-License-Identifier: Apache-2.0 */
/* Error messages for the caller to print: the core's parsers and loaders
 * return -1 with a message in a caller's buffer rather than logging, so
 * the caller decides how and whether it is shown (and tests can check it). */
#ifndef PLUGVM_CORE_ERROR_H
#define PLUGVM_CORE_ERROR_H

#include <stddef.h>

/* Formats into err (errlen bytes, always NUL-terminated when errlen > 0);
 * returns -1, so `return pv_fail(err, len, ...)` reads as a failure. */
int pv_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
