/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time from the TSC, for bounding every wait. Ring 3 reads the TSC
 * directly (CR4.TSD is clear).
 */
#ifndef TESTGUEST_CLOCK_H
#define TESTGUEST_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Finds the TSC's rate: CPUID leaf 0x15 (TSC/crystal ratio and crystal
 * frequency), else leaf 0x16 (base frequency in MHz), else the hypervisor
 * leaf 0x40000010 (TSC kHz, VMware's and QEMU's convention), else an
 * assumed 3 GHz: timeouts are generous, a wrong guess only stretches or
 * shortens them. Returns whether the rate was found rather than assumed. */
bool clock_init(void);
uint64_t clock_tsc_khz(void);

/* Microseconds since clock_init(). */
uint64_t clock_us(void);

#endif
