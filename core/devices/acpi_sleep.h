/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hardware-reduced ACPI sleep registers (ACPI 6.4 §4.8.3.7): the
 * FADT's SLEEP_CONTROL_REG (I/O port 0x600) and SLEEP_STATUS_REG (0x601),
 * one byte each, as Cloud Hypervisor places them. A hardware-reduced
 * platform has no PM1 control block, so this is how the guest asks for a
 * sleep state: it writes SLP_TYPx (bits 4:2, the value of the DSDT's \_S5
 * package) with SLP_EN (bit 5) to the control register. Only S5 (soft
 * off) is offered; its write ends the VM as a power-off (status 0), which
 * is what Linux's `poweroff` does last (acpi_hw_extended_sleep). Other
 * sleep types are ignored: the DSDT names none. The status register reads
 * 0 (WAK_STS clear: nothing wakes the guest) and ignores writes (Linux
 * writes WAK_STS to clear it before sleeping).
 * No state: a snapshot has nothing of it to save.
 */
#ifndef PLUGVM_CORE_ACPI_SLEEP_H
#define PLUGVM_CORE_ACPI_SLEEP_H

#include <stdint.h>

#include "iobus.h"

#define ACPI_SLEEP_CONTROL_PORT 0x600
#define ACPI_SLEEP_STATUS_PORT 0x601
/* SLP_TYPx for S5, as the DSDT's \_S5 package gives it (QEMU's GED and
 * Cloud Hypervisor use 5 too). */
#define ACPI_SLP_TYP_S5 5

struct acpi_sleep {
    void (*poweroff)(void *arg); /* called on an S5 request, on a vCPU thread */
    void *arg;
};

/* Both registers as one io_device over ports 0x600-0x601. */
struct io_device acpi_sleep_device(struct acpi_sleep *s);

#endif
