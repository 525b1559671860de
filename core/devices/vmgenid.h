/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM generation ID (Microsoft's "Virtual Machine Generation ID"
 * specification, 2012; the device Linux's drivers/virt/vmgenid.c, Windows,
 * QEMU, Hyper-V and Firecracker agree on): 16 bytes of guest memory that
 * change whenever the VM may have been duplicated, so that a guest whose
 * memory two restored clones share learns it and reseeds its random number
 * generator (Linux: add_vmfork_randomness, "crng reseeded due to virtual
 * machine fork") instead of handing both clones the same keys.
 *
 * The ACPI side is in core/boot/x86/acpi.c: the DSDT's \_SB.VGEN device
 * (_CID "VM_Gen_Counter", ADDR = the ID's guest-physical address) and a
 * Generic Event Device (ACPI0013, §5.6.9) whose _EVT, on GSI
 * X86_GED_GSI, does Notify (VGEN, 0x80): the notification the spec asks
 * for after the ID changes. plugvm writes a fresh ID at boot and at every
 * restore of a snapshot, then raises that GSI once the restored machine
 * state is in place and before any vCPU runs. The ID lives in guest RAM
 * (in the e820-reserved BIOS area), so a snapshot carries it like any other
 * memory and has no record of its own.
 */
#ifndef PLUGVM_CORE_VMGENID_H
#define PLUGVM_CORE_VMGENID_H

#include <stdint.h>

#include "memory/guest_mem.h"
#include "plugvm/backend.h"

#define VMGENID_SIZE 16 /* bytes: a GUID */

/* Writes VMGENID_SIZE fresh random bytes (getrandom) at guest-physical
 * `gpa` and copies them to `id` (may be NULL). The old ID is never kept:
 * an all-zero or repeated ID is as likely as a collision of two random
 * GUIDs. 0, -EFAULT when [gpa, gpa + 16) is not guest RAM, or -errno from
 * getrandom (the guest memory is then unchanged). Any thread; the caller
 * keeps vCPUs from running meanwhile (the guest reads the 16 bytes
 * without a lock). */
int vmgenid_renew(const struct guest_mem *m, uint64_t gpa, uint8_t id[VMGENID_SIZE]);

/* The ACPI notification: one edge on `gsi` (the GED's interrupt) through
 * the backend's irq_line, high then low, as an edge-triggered
 * Interrupt () descriptor wants. Call it once the interrupt controller's
 * state is restored (or set up at boot): a pulse before KVM_SET_IRQCHIP
 * and KVM_SET_LAPIC would be overwritten. 0 or the backend's -errno. */
int vmgenid_notify(const struct plugvm_backend_ops *be, struct plugvm_vm *bvm, uint32_t gsi);

#endif
