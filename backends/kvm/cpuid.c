/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-vCPU CPUID. KVM_GET_SUPPORTED_CPUID gives what the host can offer;
 * each vCPU then needs its own APIC ID and a topology that agrees with the
 * vCPU count, or Linux miscounts CPUs (leaf 0xB/0x1F, Intel SDM vol. 2A;
 * AMD APM vol. 3, leaves 0x80000008 and 0x8000001E). plugvm presents one
 * socket with `vcpus` cores of one thread each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, uint32_t reg)
{
    switch (reg) {
    case PLUGVM_CPUID_EAX: return &e->eax;
    case PLUGVM_CPUID_EBX: return &e->ebx;
    case PLUGVM_CPUID_ECX: return &e->ecx;
    default: return &e->edx;
    }
}

void kvm_apply_cpuid_masks(struct kvm_cpuid2 *c, const struct plugvm_cpuid_mask *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < c->nent; j++) {
            struct kvm_cpuid_entry2 *e = &c->entries[j];
            bool indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
            if (e->function == m[i].leaf && (!indexed || e->index == m[i].index))
                *reg_of(e, m[i].reg) &= ~(1u << m[i].bit);
        }
}

/* Bits needed to number n things (ceil(log2(n))). */
static uint32_t bits_for(uint32_t n)
{
    uint32_t b = 0;
    while ((1u << b) < n)
        b++;
    return b;
}

void kvm_cpuid_patch_topology(struct kvm_cpuid2 *c, uint32_t id, uint32_t n)
{
    uint32_t core_bits = bits_for(n);

    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        switch (e->function) {
        case 0x1:
            /* EBX[31:24] initial APIC ID, [23:16] logical processors per
             * package; ECX[31] "running under a hypervisor". */
            e->ebx = (e->ebx & 0x0000ffffu) | (id << 24) | ((n > 255 ? 255 : n) << 16);
            e->ecx |= 1u << 31;
            if (n > 1)
                e->edx |= 1u << 28; /* HTT: the [23:16] field is valid */
            break;
        case 0x4:
            /* EAX[31:26]: cores per package - 1; [25:14]: logical
             * processors sharing this cache - 1 (L3 shared by all, others
             * private). */
            if (e->eax & 0x1f) {
                uint32_t level = (e->eax >> 5) & 7, share = level == 3 ? n - 1 : 0;
                e->eax = (e->eax & 0x3fffu) | (share << 14) | ((n - 1) << 26);
            }
            break;
        case 0xb:
        case 0x1f:
            /* Subleaf 0: SMT level, 1 thread per core. Subleaf 1: core
             * level, n cores. EDX: x2APIC ID at every subleaf. */
            if (e->index == 0) {
                e->eax = 0;
                e->ebx = 1;
                e->ecx = (1u << 8) | 0;
            } else if (e->index == 1) {
                e->eax = core_bits;
                e->ebx = n;
                e->ecx = (2u << 8) | 1;
            } else {
                e->eax = e->ebx = 0;
                e->ecx = e->index;
            }
            e->edx = id;
            break;
        case 0x80000008:
            /* ECX[7:0]: cores - 1; [15:12]: APIC ID bits for the core. */
            e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | (n - 1);
            break;
        case 0x8000001e:
            /* EAX: extended APIC ID; EBX[7:0] core ID, [15:8] threads per
             * core - 1; ECX[7:0] node ID, [10:8] nodes per socket - 1. */
            e->eax = id;
            e->ebx = id & 0xff;
            e->ecx = 0;
            break;
        }
    }
}

static const char *const reg_names[] = {"EAX", "EBX", "ECX", "EDX"};

static const struct kvm_cpuid_entry2 *find_entry(const struct kvm_cpuid2 *c, uint32_t function,
                                           uint32_t index)
{
    for (uint32_t i = 0; i < c->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &c->entries[i];
        bool indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
        if (e->function == function && (!indexed || e->index == index))
            return e;
    }
    return NULL;
}

int kvm_vcpu_set_cpuid(struct plugvm_vcpu *v)
{
    const struct kvm_cpuid2 *src = v->vm->cpuid;
    size_t bytes = sizeof(*src) + src->nent * sizeof(src->entries[0]);
    struct kvm_cpuid2 *c = malloc(bytes);
    if (!c)
        return -ENOMEM;
    memcpy(c, src, bytes);
    kvm_cpuid_patch_topology(c, v->index, v->vm->nvcpus);
    int rc = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
    /* Read back on vCPU 0: under KVM over PVM, KVM_GET_CPUID2 shows host
     * CPU features on (AVX, XSAVE on an EPYC) that were not set and that
     * KVM_GET_SUPPORTED_CPUID never listed. The config's vm.cpuid_disable is
     * then not kept, and the user is told, once per VM. */
    c->nent = src->nent;
    if (!rc && v->index == 0 && ioctl(v->fd, KVM_GET_CPUID2, c) == 0) {
        const struct plugvm_cpuid_mask *m = v->vm->masks;
        for (size_t i = 0; i < v->vm->nmasks; i++) {
            const struct kvm_cpuid_entry2 *e = find_entry(c, m[i].leaf, m[i].index);
            if (e && m[i].reg <= PLUGVM_CPUID_EDX && (*reg_of((struct kvm_cpuid_entry2 *)e, m[i].reg) >> m[i].bit & 1))
                kvm_log(v->vm, PLUGVM_LOG_WARN,
                        "vm.cpuid_disable: CPUID leaf 0x%x.%u %s bit %u stays on: this host's KVM shows "
                        "the guest the host CPU's own CPUID (KVM over PVM) and cannot hide it",
                        m[i].leaf, m[i].index, reg_names[m[i].reg], m[i].bit);
        }
    }
    free(c);
    return rc;
}


static uint32_t reg_value(const struct kvm_cpuid_entry2 *e, uint32_t reg)
{
    return *reg_of((struct kvm_cpuid_entry2 *)e, reg);
}

/*
 * The feature registers a saved CPUID is held to: each bit on there must
 * be one this host's KVM offers with the config's masks applied. `dynamic`
 * bits are left out: KVM changes them as the guest runs (OSXSAVE and OSPKE
 * follow CR4, the APIC bits the APIC base MSR, MONITOR the MISC_ENABLE
 * MSR), and plugvm sets HTT and "hypervisor" itself (patch_topology).
 */
static const struct {
    uint32_t function, index, reg, dynamic;
} feature_regs[] = {
    {0x1, 0, PLUGVM_CPUID_ECX, 1u << 3 | 1u << 27 | 1u << 31},
    {0x1, 0, PLUGVM_CPUID_EDX, 1u << 9 | 1u << 28},
    {0x7, 0, PLUGVM_CPUID_EBX, 0},
    {0x7, 0, PLUGVM_CPUID_ECX, 1u << 4},
    {0x7, 0, PLUGVM_CPUID_EDX, 0},
    {0x7, 1, PLUGVM_CPUID_EAX, 0},
    {0xd, 1, PLUGVM_CPUID_EAX, 0},
    {0x80000001, 0, PLUGVM_CPUID_ECX, 0},
    {0x80000001, 0, PLUGVM_CPUID_EDX, 1u << 9},
};

int kvm_cpuid_check_saved(const struct kvm_cpuid2 *allowed, const struct plugvm_cpuid_mask *m,
                          size_t nmasks, const struct kvm_cpuid2 *saved, char *why, size_t len)
{
    /* The config's word first: a state file must not turn on what
     * cpuid_disable turned off, whatever the host could do. */
    for (size_t i = 0; i < nmasks; i++) {
        const struct kvm_cpuid_entry2 *e = find_entry(saved, m[i].leaf, m[i].index);
        /* Unless the host itself keeps it on for every vCPU (KVM over PVM,
         * whose read-back CPUID is the host's): then the running guest saw
         * it on too, and kvm_vcpu_set_cpuid said so at boot. */
        const struct kvm_cpuid_entry2 *a = find_entry(allowed, m[i].leaf, m[i].index);
        bool forced = a && m[i].reg <= PLUGVM_CPUID_EDX && (reg_value(a, m[i].reg) >> m[i].bit & 1);
        if (e && !forced && m[i].reg <= PLUGVM_CPUID_EDX && (reg_value(e, m[i].reg) >> m[i].bit & 1)) {
            snprintf(why, len, "CPUID leaf 0x%x.%u %s bit %u is on, and the config's "
                     "vm.cpuid_disable turns it off", m[i].leaf, m[i].index,
                     reg_names[m[i].reg], m[i].bit);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof(feature_regs) / sizeof(feature_regs[0]); i++) {
        const struct kvm_cpuid_entry2 *e = find_entry(saved, feature_regs[i].function, feature_regs[i].index);
        if (!e)
            continue;
        const struct kvm_cpuid_entry2 *a = find_entry(allowed, feature_regs[i].function, feature_regs[i].index);
        uint32_t have = a ? reg_value(a, feature_regs[i].reg) : 0;
        uint32_t extra = reg_value(e, feature_regs[i].reg) & ~feature_regs[i].dynamic & ~have;
        if (extra) {
            snprintf(why, len, "CPUID leaf 0x%x.%u %s has bits 0x%08x on that this host's KVM "
                     "does not offer with this config", feature_regs[i].function,
                     feature_regs[i].index, reg_names[feature_regs[i].reg], extra);
            return -1;
        }
    }
    return 0;
}
