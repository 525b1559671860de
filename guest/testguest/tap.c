/* SPDX-License-Identifier: Apache-2.0 */
#include "tap.h"

#include <stdarg.h>

#include "console.h"

static unsigned next_test = 1;
static unsigned planned;
static unsigned failures;
static bool bailed;

void tap_version(void)
{
    console_puts("TAP version 13\n");
}

void tap_plan(unsigned n)
{
    planned = n;
    console_printf("1..%u\n", n);
}

void tap_plan_skip_all(const char *reason)
{
    console_printf("1..0 # SKIP %s\n", reason);
}

bool tap_check(bool ok, const char *desc, const char *detail_fmt, ...)
{
    if (ok) {
        console_printf("ok %u - %s\n", next_test++, desc);
        return true;
    }
    char detail[256];
    va_list ap;
    va_start(ap, detail_fmt);
    str_vformat(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    console_printf("not ok %u - %s # %s\n", next_test++, desc, detail);
    failures++;
    return false;
}

void tap_skip(const char *desc, const char *reason_fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, reason_fmt);
    str_vformat(reason, sizeof(reason), reason_fmt, ap);
    va_end(ap);
    console_printf("ok %u - %s # SKIP %s\n", next_test++, desc, reason);
}

void tap_diag(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    str_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    console_printf("# %s\n", line);
}

void tap_bail_out(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    str_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    console_printf("Bail out! %s\n", line);
    failures++;
    bailed = true;
}

void tap_done(void)
{
    /* A test that printed more or fewer lines than it planned is a bug in
     * the test: say so rather than leave the harness to guess. */
    if (!bailed && next_test - 1 != planned)
        tap_bail_out("planned %u checks, ran %u", planned, next_test - 1);
}

unsigned tap_failures(void)
{
    return failures;
}
