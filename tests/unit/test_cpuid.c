/* SPDX-License-Identifier: Apache-2.0 */
/* The KVM backend's CPUID shaping: masks from cpuid_disable and per-vCPU
 * APIC IDs and topology (built from backends/kvm/cpuid.c directly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masks_clear_only_their_bit),
        cmocka_unit_test(topology_per_vcpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
