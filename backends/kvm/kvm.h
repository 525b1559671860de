/* SPDX-License-Identifier: Apache-2.0 */
/* The KVM backend's private types, shared by its files. */
#ifndef PLUGVM_KVM_H
#define PLUGVM_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <plugvm/backend.h>

#define KVM_MAX_CPUID_ENTRIES 256

struct plugvm_vm {
    int kvm_fd;
    int vm_fd;
    const struct plugvm_host *host;
    uint32_t nvcpus;
    size_t run_size;
    struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, masks applied */
    struct plugvm_cpuid_mask *masks; /* the config's cpuid_disable, for restores */
    size_t nmasks;
    /* Snapshots (snapshot.c), on the control thread: */
    struct kvm_msr_list *msr_index; /* KVM_GET_MSR_INDEX_LIST, at the first vcpu_save */
    bool msr_refusals_logged;       /* the unreadable MSRs have been named */
    size_t xsave_size;              /* bytes of KVM's XSAVE area; 0 until asked */
};

struct plugvm_vcpu {
    struct plugvm_vm *vm;
    uint32_t index;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    atomic_bool thread_known;
    atomic_bool kicked;
    /* The last exit (port I/O, MMIO) is done by KVM only at the next
     * KVM_RUN: a kick must not skip that run, or a snapshot would catch
     * the instruction half done (KVM API: "userspace should ensure that
     * the operation is completed"). */
    bool exit_pending;
    char error[256];
};

#define kvm_log(vm, level, ...) (vm)->host->log((vm)->host, level, __VA_ARGS__)

/* cpuid.c: builds vCPU `index`'s table from the VM's (topology leaves, APIC
 * IDs) and sets it. 0 or -errno. */
int kvm_vcpu_set_cpuid(struct plugvm_vcpu *v);
void kvm_apply_cpuid_masks(struct kvm_cpuid2 *c, const struct plugvm_cpuid_mask *m, size_t n);
/* Sets vCPU `id`'s APIC IDs and the topology of `n` vCPUs (one socket, one
 * thread per core) in the leaves that describe them. */
void kvm_cpuid_patch_topology(struct kvm_cpuid2 *c, uint32_t id, uint32_t n);
/* Judges a snapshot's CPUID before KVM_SET_CPUID2 applies it (KVM itself
 * takes almost any bits): no bit the config's masks turn off, and in the
 * feature registers (leaves 1, 7, 0xd.1, 0x80000001) no bit `allowed` (the
 * VM's table: KVM_GET_SUPPORTED_CPUID with the masks applied) lacks, but
 * those KVM or plugvm change at run time. 0, or -1 with why. */
int kvm_cpuid_check_saved(const struct kvm_cpuid2 *allowed, const struct plugvm_cpuid_mask *m,
                          size_t nmasks, const struct kvm_cpuid2 *saved, char *why, size_t len);

/* regs.c */
int kvm_vcpu_set_regs(struct plugvm_vcpu *v, const struct plugvm_x86_regs *r);
void kvm_vcpu_dump(struct plugvm_vcpu *v, char *buf, size_t len);
int kvm_vcpu_set_boot_msrs(struct plugvm_vcpu *v);
int kvm_vcpu_set_lint(struct plugvm_vcpu *v);

/* run.c */
int kvm_vcpu_run(struct plugvm_vcpu *v, struct plugvm_exit *e);
void kvm_vcpu_kick(struct plugvm_vcpu *v);
int kvm_install_kick_signal(void);

#endif
