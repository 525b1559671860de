/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hypervisor backends: KVM, HVF, WHP. A backend creates a VM, maps guest
 * memory, runs vCPUs until an exit the core must handle, and saves and
 * restores what only it can see (vCPU registers, interrupt controllers,
 * clocks). The core owns everything above: boot, devices, the MMIO and
 * port-I/O buses.
 *
 * Threading: vm_create, map_memory, vcpu_create, destroy, save and restore
 * run on the core's control thread. vcpu_run, vcpu_set_regs and vcpu_dump
 * run on that vCPU's own thread only. vcpu_kick, irq_line and the
 * eventfd registrations may be called from any thread.
 */
#ifndef PLUGVM_BACKEND_H
#define PLUGVM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugvm/host.h>
#include <plugvm/record.h>

#ifdef __cplusplus
extern "C" {
#endif

struct plugvm_vm;   /* backend-private */
struct plugvm_vcpu; /* backend-private */

/* Where a CPUID feature bit lives (Intel SDM vol. 2A, CPUID). */
enum plugvm_cpuid_reg { PLUGVM_CPUID_EAX = 0, PLUGVM_CPUID_EBX, PLUGVM_CPUID_ECX, PLUGVM_CPUID_EDX };

/* One CPUID bit the guest must not see (cleared in every vCPU's table):
 * leaf (EAX input), index (ECX input; ignored for leaves without
 * subleaves), reg, bit 0..31. The config's `cpuid_disable` list becomes
 * these (docs/CONFIG.md); like Firecracker's CPU templates they also make a
 * guest's view portable between hosts. */
struct plugvm_cpuid_mask {
    uint32_t leaf;
    uint32_t index;
    uint32_t reg;
    uint32_t bit;
};

/* A piece of guest RAM: guest-physical [gpa, gpa + size) backed by host
 * memory at hva. gpa, size and hva are 4 KiB aligned; size in bytes. */
struct plugvm_mem_region {
    uint64_t gpa;
    uint64_t size;
    void *hva;
};

/* Parameters of vm_create.
 *   vcpus       1..64 vCPUs to be created with vcpu_create (indices 0..n-1;
 *               APIC ID = index).
 *   masks       nmasks CPUID bits to hide (may be NULL when nmasks is 0).
 *   regions     nregions pieces of guest RAM, mapped as slots 0..n-1 before
 *               anything else is set up (on KVM a memslot registered first
 *               costs ~0.1 ms, after the irqchip and PIT ~4 ms:
 *               restore-floor measurements). Host memory must stay mapped
 *               until vm_destroy.
 */
struct plugvm_vm_params {
    uint32_t vcpus;
    const struct plugvm_cpuid_mask *masks;
    size_t nmasks;
    const struct plugvm_mem_region *regions;
    size_t nregions;
    /* Zero: room for a later 1.x minor's parameters (zero = today's
     * behaviour). */
    uint64_t reserved[4];
};

/* x86 segment register as the architecture defines its descriptor cache
 * (Intel SDM vol. 3A §3.4.5): base (linear address), limit (bytes - 1, byte
 * granular here whatever g says), selector, type (4 bits), s, dpl, present,
 * avl, l (64-bit code), db (default operand size), g. unusable marks a null
 * segment. */
struct plugvm_x86_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint8_t type, present, dpl, db, s, l, g, avl, unusable;
};

/* Descriptor table register (GDTR / IDTR): base is a guest linear address,
 * limit is its size in bytes - 1. */
struct plugvm_x86_dtable {
    uint64_t base;
    uint16_t limit;
};

/* Every register a boot sets (the Linux boot protocol's 64-bit entry, or
 * PVH's 32-bit protected-mode entry). */
struct plugvm_x86_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
    struct plugvm_x86_segment cs, ds, es, fs, gs, ss, tr, ldt;
    struct plugvm_x86_dtable gdt, idt;
    uint64_t cr0, cr2, cr3, cr4, cr8, efer;
    /* Zero: room for a later 1.x minor (both sides declare these on
     * their own stacks, so the size cannot grow within a major). */
    uint64_t reserved[8];
};

/* Why vcpu_run returned. */
enum plugvm_exit_reason {
    PLUGVM_EXIT_IO = 1,       /* port I/O: the `io` member */
    PLUGVM_EXIT_MMIO,         /* MMIO outside RAM: the `mmio` member */
    PLUGVM_EXIT_HLT,          /* HLT with no interrupt controller in the backend */
    PLUGVM_EXIT_SHUTDOWN,     /* triple fault (x86): a reset */
    PLUGVM_EXIT_RESET,        /* guest asked for a reset (PSCI, ACPI) */
    PLUGVM_EXIT_POWEROFF,     /* guest asked for power off */
    PLUGVM_EXIT_INTR,         /* vcpu_kick or a signal interrupted the run */
    PLUGVM_EXIT_ERROR,        /* the hypervisor failed: `error` says why */
};

/*
 * One exit. Data pointers point into the backend's per-vCPU buffers and
 * stay valid until the next vcpu_run on that vCPU; for reads (port IN,
 * MMIO read) the core writes the value there before calling vcpu_run again.
 *   io:    port 0..65535, size 1/2/4 bytes, count >= 1 (string I/O: data
 *          holds size*count bytes), is_write, data.
 *   mmio:  gpa, len 1..8 bytes, is_write, data (little-endian).
 *   error: a one-line description (static or in the vCPU's buffer).
 */
struct plugvm_exit {
    uint32_t reason; /* enum plugvm_exit_reason */
    union {
        struct {
            uint16_t port;
            uint8_t size;
            bool is_write;
            uint32_t count;
            uint8_t *data;
        } io;
        struct {
            uint64_t gpa;
            uint32_t len;
            bool is_write;
            uint8_t *data;
        } mmio;
        struct {
            const char *what;
        } error;
        /* Room for the members of exit reasons a later 1.x minor adds:
         * the core declares the struct, the backend fills it. */
        uint64_t reserved[8];
    };
};

/* Flags of ioeventfd. */
#define PLUGVM_IOEVENTFD_DATAMATCH 0x1u
#define PLUGVM_IOEVENTFD_DEASSIGN 0x2u

/* Flags of map_memory. */
#define PLUGVM_MEM_READONLY 0x1u

struct plugvm_backend_ops {
    uint32_t size; /* sizeof(struct plugvm_backend_ops) of the backend */

    /* Whether this host can run VMs with the backend. 0 when it can; else a
     * negative errno and a reason in why (len bytes, NUL-terminated), e.g.
     * "/dev/kvm: No such file or directory". May also fill `note` with a
     * one-line warning to show the user when it can, but slowly (empty when
     * none). Any thread. */
    int (*probe)(char *why, size_t len, char *note, size_t note_len);

    /* Creates a VM with its interrupt controllers and timers. `host` is for
     * logging; it outlives the VM. 0 or negative errno (logged). */
    int (*vm_create)(const struct plugvm_host *host, const struct plugvm_vm_params *params,
                     struct plugvm_vm **out);
    /* Frees the VM; every vCPU must have been destroyed first. */
    void (*vm_destroy)(struct plugvm_vm *vm);

    /* Maps `size` bytes of host memory at `hva` (page aligned) as guest
     * RAM at guest-physical `gpa` (page aligned) in slot `slot` (0..31,
     * chosen by the core; vm_create's regions took 0..nregions-1). The memory must stay mapped until unmap or
     * vm_destroy. 0, -EINVAL (alignment, overlap), -ENOSPC (slot). */
    int (*map_memory)(struct plugvm_vm *vm, uint32_t slot, uint64_t gpa, void *hva, uint64_t size,
                      uint32_t flags);

    /* Creates vCPU `index` (0..vcpus-1) with CPUID, topology and the boot
     * MSRs set. 0 or negative errno. */
    int (*vcpu_create)(struct plugvm_vm *vm, uint32_t index, struct plugvm_vcpu **out);
    void (*vcpu_destroy)(struct plugvm_vcpu *vcpu);
    /* Sets all registers in *regs. vCPU thread (or before it starts). */
    int (*vcpu_set_regs)(struct plugvm_vcpu *vcpu, const struct plugvm_x86_regs *regs);
    /* Puts a secondary vCPU in the state its platform expects before it
     * is started by the boot vCPU (x86: wait-for-SIPI). */
    int (*vcpu_set_waiting)(struct plugvm_vcpu *vcpu);
    /* Runs the vCPU until an exit the core must handle; fills *exit. 0, or
     * negative errno when the run itself failed (exit->reason is then
     * PLUGVM_EXIT_ERROR). vCPU thread only. */
    int (*vcpu_run)(struct plugvm_vcpu *vcpu, struct plugvm_exit *exit);
    /* Makes vcpu_run return PLUGVM_EXIT_INTR soon (now if running, else at
     * its next call). Any thread; async-signal-safe. */
    void (*vcpu_kick)(struct plugvm_vcpu *vcpu);
    /* Writes a register dump (multi-line text) into buf (len bytes). */
    void (*vcpu_dump)(struct plugvm_vcpu *vcpu, char *buf, size_t len);

    /* Sets interrupt line `gsi` to level (1 asserted, 0 deasserted); for
     * edge-triggered sources the core pulses 1 then 0. Any thread. */
    int (*irq_line)(struct plugvm_vm *vm, uint32_t gsi, int level);

    /* Optional. Signals eventfd `fd` when the guest writes `len` bytes (1,
     * 2, 4 or 8) to guest-physical `gpa`, without an MMIO exit (KVM
     * ioeventfd); with PLUGVM_IOEVENTFD_DATAMATCH only when the value
     * written equals `datamatch` (so one doorbell register can serve many
     * queues). PLUGVM_IOEVENTFD_DEASSIGN removes a registration made with
     * the same arguments. 0, -ENOSYS when unsupported, or negative errno. */
    int (*ioeventfd)(struct plugvm_vm *vm, uint64_t gpa, uint32_t len, uint64_t datamatch,
                     uint32_t flags, int fd);
    /* Optional. Raises `gsi` (edge) whenever eventfd `fd` is written (KVM
     * irqfd). 0, -ENOSYS. */
    int (*irqfd)(struct plugvm_vm *vm, uint32_t gsi, int fd, bool deassign);

    /* Optional (check with PLUGVM_HAS): the state only the backend sees, as
     * records (record.h) through the writer or reader the core hands over,
     * one per owner (the VM, each vCPU). Tags, versions and layouts are the
     * backend's (docs/SNAPSHOT.md lists KVM's).
     *   vm_save      the VM's own state (KVM: PICs, IOAPIC, PIT, kvmclock).
     *   vcpu_save    one vCPU's (KVM: registers, FPU/XSAVE, XCRs, debug
     *                registers, LAPIC, MSRs, pending events, MP state, TSC).
     *                The vCPU must be stopped: its last vcpu_run returned
     *                PLUGVM_EXIT_INTR after a vcpu_kick (which completes the
     *                port or MMIO exit before it; else -EBUSY), and it does
     *                not run again until the save returns. Save the VM and
     *                all its vCPUs during one stop, so their clocks agree.
     *   vcpu_restore into a vCPU just made by vcpu_create, never run, of a VM
     *                created with the saved VM's vcpus, CPUID masks and RAM
     *                layout, its RAM already holding the saved contents; in
     *                place of vcpu_set_regs / vcpu_set_waiting.
     *   vm_restore   after every vCPU's vcpu_restore and before any vcpu_run:
     *                KVM sets kvmclock last, counting guest time from then.
     * A restore reads and checks all of its owner's records before it
     * changes anything, so a refused one leaves the VM or vCPU as it was.
     * 0, or a negative errno with a log line (host->log) naming the record:
     * -ENOENT a record missing; -EBADMSG one of the wrong size or malformed;
     * -ENOTSUP a record version the backend cannot read, or state this host
     * cannot take (KVM: a TSC rate it cannot scale to); -EBUSY (vcpu_save)
     * the vCPU was not stopped; -ENOMEM; or the hypervisor call's errno.
     * Control thread, with every vCPU of the VM stopped. */
    int (*vm_save)(struct plugvm_vm *vm, struct plugvm_record_writer *w);
    int (*vm_restore)(struct plugvm_vm *vm, struct plugvm_record_reader *r);
    int (*vcpu_save)(struct plugvm_vcpu *vcpu, struct plugvm_record_writer *w);
    int (*vcpu_restore)(struct plugvm_vcpu *vcpu, struct plugvm_record_reader *r);
};

#ifdef __cplusplus
}
#endif

#endif /* PLUGVM_BACKEND_H */
