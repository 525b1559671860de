/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KVM backend's snapshot records (include/plugvm/record.h): one record
 * per piece of KVM state, each with its own tag and version. The VM's tags
 * and the vCPUs' tags are disjoint, so a record handed to the wrong owner
 * is refused as missing rather than read as something else. Every record is
 * version 1; the layouts are in docs/SNAPSHOT.md ("Owners' records", kvm).
 *
 * Records are written in the order restore applies them, because a
 * reader's open() only searches forward from the last record it opened.
 */
#ifndef PLUGVM_KVM_SNAPSHOT_H
#define PLUGVM_KVM_SNAPSHOT_H

#include <plugvm/backend.h>
#include <plugvm/record.h>

/* VM (owner index 0 in the state file). */
#define KVM_REC_PIC_MASTER 1 /* struct kvm_pic_state, KVM_GET_IRQCHIP chip 0 */
#define KVM_REC_PIC_SLAVE 2  /* struct kvm_pic_state, KVM_GET_IRQCHIP chip 1 */
#define KVM_REC_IOAPIC 3     /* struct kvm_ioapic_state, KVM_GET_IRQCHIP chip 2 */
#define KVM_REC_PIT 4        /* struct kvm_pit_state2, KVM_GET_PIT2 */
#define KVM_REC_CLOCK 5      /* struct kvm_clock_data, KVM_GET_CLOCK */

/* vCPU (owner index 1 + n). */
#define KVM_REC_TSC 16       /* u32 kHz (0 = unknown), u64 MSR_IA32_TSC */
#define KVM_REC_MP_STATE 17  /* u32 KVM_MP_STATE_* */
#define KVM_REC_REGS 18      /* struct kvm_regs */
#define KVM_REC_SREGS 19     /* struct kvm_sregs */
#define KVM_REC_XSAVE 20     /* u32 length, then the struct kvm_xsave area */
#define KVM_REC_XCRS 21      /* struct kvm_xcrs */
#define KVM_REC_DEBUGREGS 22 /* struct kvm_debugregs */
#define KVM_REC_LAPIC 23     /* struct kvm_lapic_state */
#define KVM_REC_MSRS 24      /* u32 n, then n x (u32 index, u64 value) */
#define KVM_REC_EVENTS 25    /* struct kvm_vcpu_events */
/* u32 n, then n x struct kvm_cpuid_entry2 (KVM_GET_CPUID2): the CPUID the
 * guest ran with. Written first, as restore sets it first. */
#define KVM_REC_CPUID 26

#define KVM_REC_VERSION 1

int kvm_vm_save(struct plugvm_vm *vm, struct plugvm_record_writer *w);
int kvm_vm_restore(struct plugvm_vm *vm, struct plugvm_record_reader *r);
int kvm_vcpu_save(struct plugvm_vcpu *v, struct plugvm_record_writer *w);
int kvm_vcpu_restore(struct plugvm_vcpu *v, struct plugvm_record_reader *r);

#endif
