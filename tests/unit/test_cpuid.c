/* SPDX-License-Identifier: Apache-2.0 */
/* The KVM backend's CPUID shaping: masks from cpuid_disable and per-vCPU
 * APIC IDs and topology (built from backends/kvm/cpuid.c directly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kvm.h"

static struct kvm_cpuid2 *table(void)
{
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 8 * sizeof(c->entries[0]));
    struct kvm_cpuid_entry2 e[] = {
        {.function = 1, .ebx = 0x00000800, .ecx = 0xffffffff, .edx = 0xffffffff},
        {.function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .edx = 0xffffffff},
        {.function = 7, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .edx = 0xffffffff},
        {.function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX},
        {.function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX},
        {.function = 0x80000008, .ecx = 0x7007},
        {.function = 0x8000001e},
    };
    c->nent = sizeof(e) / sizeof(e[0]);
    for (uint32_t i = 0; i < c->nent; i++)
        c->entries[i] = e[i];
    return c;
}

static void masks_clear_only_their_bit(void **state)
{
    (void)state;
    struct kvm_cpuid2 *c = table();
    const struct plugvm_cpuid_mask m[] = {
        {1, 0, PLUGVM_CPUID_ECX, 13}, /* cx16 */
        {7, 0, PLUGVM_CPUID_EDX, 29}, /* arch_capabilities: subleaf 0 only */
    };
    kvm_apply_cpuid_masks(c, m, 2);
    assert_int_equal(c->entries[0].ecx, 0xffffffffu & ~(1u << 13));
    assert_int_equal(c->entries[0].edx, 0xffffffffu);
    assert_int_equal(c->entries[1].edx, 0xffffffffu & ~(1u << 29));
    assert_int_equal(c->entries[2].edx, 0xffffffffu);
    free(c);
}

static void topology_per_vcpu(void **state)
{
    (void)state;
    for (uint32_t n = 1; n <= 64; n++) {
        for (uint32_t id = 0; id < n; id += (n > 8 ? 7 : 1)) {
            struct kvm_cpuid2 *c = table();
            kvm_cpuid_patch_topology(c, id, n);
            assert_int_equal(c->entries[0].ebx >> 24, id);          /* initial APIC ID */
            assert_int_equal((c->entries[0].ebx >> 16) & 0xff, n);  /* logical CPUs */
            assert_int_equal(c->entries[0].ebx & 0xffff, 0x0800);   /* CLFLUSH size kept */
            assert_true(c->entries[0].ecx & (1u << 31));            /* hypervisor */
            assert_int_equal(c->entries[3].edx, id);                /* x2APIC ID, SMT level */
            assert_int_equal(c->entries[3].ebx, 1);
            assert_int_equal(c->entries[4].edx, id);
            assert_int_equal(c->entries[4].ebx, n);                 /* cores in the package */
            assert_true((1u << c->entries[4].eax) >= n);            /* ID shift covers them */
            assert_int_equal(c->entries[5].ecx & 0xff, n - 1);
            assert_int_equal(c->entries[6].eax, id);
            free(c);
        }
    }
}

/* A snapshot's CPUID is judged before it is applied. */
static void saved_cpuid_checked(void **state)
{
    (void)state;
    char why[256];
    const struct plugvm_cpuid_mask m[] = {{1, 0, PLUGVM_CPUID_ECX, 13}}; /* cx16 off */
    struct kvm_cpuid2 *allowed = table();
    allowed->entries[0].ecx = 0x0000ffffu & ~(1u << 13); /* what the host offers, masked */
    allowed->entries[1].ebx = 0x1u;
    kvm_apply_cpuid_masks(allowed, m, 1);

    /* What plugvm booted the vCPU with, after KVM's run-time changes. */
    struct kvm_cpuid2 *saved = table();
    saved->entries[0].ecx = allowed->entries[0].ecx | 1u << 27 | 1u << 31 | 1u << 3;
    saved->entries[0].edx = 1u << 9 | 1u << 28;
    saved->entries[1].ebx = 0x1u;
    saved->entries[1].edx = 0;
    saved->entries[2].edx = 0;
    assert_int_equal(kvm_cpuid_check_saved(allowed, m, 1, saved, why, sizeof(why)), 0);

    /* A bit the config turns off. */
    saved->entries[0].ecx |= 1u << 13;
    assert_int_equal(kvm_cpuid_check_saved(allowed, m, 1, saved, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "leaf 0x1.0 ECX bit 13 is on, and the config's vm.cpuid_disable"));
    saved->entries[0].ecx &= ~(1u << 13);

    /* ... unless the host keeps it on whatever was set (KVM over PVM's
     * read-back CPUID is the host CPU's): the guest saw it on, and the
     * restored one will too. */
    allowed->entries[0].ecx |= 1u << 13;
    saved->entries[0].ecx |= 1u << 13;
    assert_int_equal(kvm_cpuid_check_saved(allowed, m, 1, saved, why, sizeof(why)), 0);
    allowed->entries[0].ecx &= ~(1u << 13);
    saved->entries[0].ecx &= ~(1u << 13);

    /* A feature this host does not offer (leaf 7 EBX bit 5, subleaf 0). */
    saved->entries[1].ebx |= 1u << 5;
    assert_int_equal(kvm_cpuid_check_saved(allowed, m, 1, saved, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "leaf 0x7.0 EBX has bits 0x00000020 on"));
    saved->entries[1].ebx &= ~(1u << 5);

    /* One in a leaf the host does not have at all. */
    saved->entries[6].function = 0x80000001;
    saved->entries[6].edx = 1u << 20;
    assert_int_equal(kvm_cpuid_check_saved(allowed, m, 1, saved, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "leaf 0x80000001.0 EDX"));
    free(saved);
    free(allowed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masks_clear_only_their_bit),
        cmocka_unit_test(topology_per_vcpu), cmocka_unit_test(saved_cpuid_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
