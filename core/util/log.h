/* SPDX-License-Identifier: Apache-2.0 */
/* The core's log: one line per call to stderr, prefixed "plugvm: ". */
#ifndef PLUGVM_CORE_LOG_H
#define PLUGVM_CORE_LOG_H

#include <stdarg.h>

#include <plugvm/log.h>

/* Lines above this level are dropped; set from -v / -vv. */
extern int pv_log_level;

void pv_log(enum plugvm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pv_vlog(enum plugvm_log_level level, const char *prefix, const char *fmt, va_list ap);

#define pv_err(...) pv_log(PLUGVM_LOG_ERROR, __VA_ARGS__)
#define pv_warn(...) pv_log(PLUGVM_LOG_WARN, __VA_ARGS__)
#define pv_info(...) pv_log(PLUGVM_LOG_INFO, __VA_ARGS__)
#define pv_debug(...) pv_log(PLUGVM_LOG_DEBUG, __VA_ARGS__)

#endif
