/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TAP version 13 on COM1 (testanything.org/tap-version-13-specification):
 * the version line, a plan, one line per check, diagnostics as `# ` lines.
 */
#ifndef TESTGUEST_TAP_H
#define TESTGUEST_TAP_H

#include <stdbool.h>

void tap_version(void);
void tap_plan(unsigned n);
/* `1..0 # SKIP reason`: nothing to run here. */
void tap_plan_skip_all(const char *reason);

/* `ok K - desc` or `not ok K - desc # detail` (detail formatted, printed
 * only when the check fails). Returns ok. */
bool tap_check(bool ok, const char *desc, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* `ok K - desc # SKIP reason`. */
void tap_skip(const char *desc, const char *reason_fmt, ...) __attribute__((format(printf, 2, 3)));
/* `# text`. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* `Bail out! reason`: nothing after this makes sense to run. */
void tap_bail_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* After a test: checks that it ran as many checks as it planned. */
void tap_done(void);

unsigned tap_failures(void);

#endif
