/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"


#include <stdio.h>
#include <string.h>

int pv_log_level = PLUGVM_LOG_WARN;

void pv_vlog(enum plugvm_log_level level, const char *prefix, const char *fmt, va_list ap)
{
    if ((int)level > pv_log_level)
        return;
    /* One buffer, one write: lines from vCPU threads and workers must not
     * interleave mid-line. */
    char line[1024];
    int n = snprintf(line, sizeof(line), "plugvm: %s%s", prefix ? prefix : "",
                     level == PLUGVM_LOG_ERROR ? "error: " : level == PLUGVM_LOG_WARN ? "warning: " : "");
    if (n < 0)
        return;
    if ((size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    size_t len = strnlen(line, sizeof(line) - 2);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

void pv_log(enum plugvm_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pv_vlog(level, NULL, fmt, ap);
    va_end(ap);
}
