/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-vCPU CPUID. KVM_GET_SUPPORTED_CPUID gives what the host can offer;
 * each vCPU then needs its own APIC ID and a topology that agrees with the
 * vCPU count, or Linux miscounts CPUs (leaf 0xB/0x1F, Intel SDM vol. 2A;
 * AMD APM vol. 3, leaves 0x80000008 and 0x8000001E). plugvm presents one
 * socket with `vcpus` cores of one thread each.
 */
#include <errno.h>
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
    free(c);
    return rc;
}
