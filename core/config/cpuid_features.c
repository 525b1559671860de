/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Named CPUID feature bits a config may hide from the guest
 * (`cpuid_disable`). Bit positions from the Intel SDM vol. 2A, CPUID, and
 * the names Linux prints in /proc/cpuinfo.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

static const struct {
    const char *name;
    struct plugvm_cpuid_mask bit;
} features[] = {
    {"cx16", {0x1, 0, PLUGVM_CPUID_ECX, 13}},
    {"xsave", {0x1, 0, PLUGVM_CPUID_ECX, 26}},
    {"avx", {0x1, 0, PLUGVM_CPUID_ECX, 28}},
    {"x2apic", {0x1, 0, PLUGVM_CPUID_ECX, 21}},
    {"tsc_deadline_timer", {0x1, 0, PLUGVM_CPUID_ECX, 24}},
    {"pcid", {0x1, 0, PLUGVM_CPUID_ECX, 17}},
    {"rdrand", {0x1, 0, PLUGVM_CPUID_ECX, 30}},
    {"mtrr", {0x1, 0, PLUGVM_CPUID_EDX, 12}},
    {"avx2", {0x7, 0, PLUGVM_CPUID_EBX, 5}},
    {"avx512f", {0x7, 0, PLUGVM_CPUID_EBX, 16}},
    {"rdseed", {0x7, 0, PLUGVM_CPUID_EBX, 18}},
    {"smap", {0x7, 0, PLUGVM_CPUID_EBX, 20}},
    {"smep", {0x7, 0, PLUGVM_CPUID_EBX, 7}},
    {"invpcid", {0x7, 0, PLUGVM_CPUID_EBX, 10}},
    {"fsgsbase", {0x7, 0, PLUGVM_CPUID_EBX, 0}},
    {"la57", {0x7, 0, PLUGVM_CPUID_ECX, 16}},
    {"waitpkg", {0x7, 0, PLUGVM_CPUID_ECX, 5}},
    {"arch_capabilities", {0x7, 0, PLUGVM_CPUID_EDX, 29}},
    {"xsaveopt", {0xd, 1, PLUGVM_CPUID_EAX, 0}},
    {"xsavec", {0xd, 1, PLUGVM_CPUID_EAX, 1}},
    {"xsaves", {0xd, 1, PLUGVM_CPUID_EAX, 3}},
    {"pdpe1gb", {0x80000001, 0, PLUGVM_CPUID_EDX, 26}},
    {"rdtscp", {0x80000001, 0, PLUGVM_CPUID_EDX, 27}},
};

static int reg_lookup(const char *s, uint32_t *reg)
{
    static const char *const regs[] = {"eax", "ebx", "ecx", "edx"};
    for (uint32_t i = 0; i < 4; i++)
        if (strcasecmp(s, regs[i]) == 0) {
            *reg = i;
            return 0;
        }
    return -1;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int cpuid_feature_lookup(const char *name, struct plugvm_cpuid_mask *out)
{
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
        if (strcasecmp(features[i].name, name) == 0) {
            *out = features[i].bit;
            return 0;
        }
    /* Raw form LEAF:INDEX:REG:BIT, for bits without a name here. */
    char buf[64];
    if (strlen(name) >= sizeof(buf))
        return -1;
    strcpy(buf, name);
    char *parts[4];
    char *save = NULL, *p = buf;
    for (int i = 0; i < 4; i++, p = NULL) {
        parts[i] = strtok_r(p, ":", &save);
        if (!parts[i])
            return -1;
    }
    if (strtok_r(NULL, ":", &save))
        return -1;
    struct plugvm_cpuid_mask m;
    if (parse_u32(parts[0], &m.leaf) || parse_u32(parts[1], &m.index) ||
        reg_lookup(parts[2], &m.reg) || parse_u32(parts[3], &m.bit) || m.bit > 31)
        return -1;
    *out = m;
    return 0;
}

const char *cpuid_feature_names(void)
{
    static char names[512];
    if (!names[0]) {
        size_t n = 0;
        for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
            n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? " " : "",
                                  features[i].name);
    }
    return names;
}
