/* SPDX-License-Identifier: Apache-2.0 */
/* Time since plugvm started, for restore and snapshot timings. */
#ifndef PLUGVM_CORE_CLOCK_H
#define PLUGVM_CORE_CLOCK_H

/* Milliseconds (CLOCK_MONOTONIC) since the process started: since its
 * constructors ran, just after the dynamic linker. */
double pv_ms_since_start(void);

#endif
