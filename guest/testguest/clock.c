/* SPDX-License-Identifier: Apache-2.0 */
#include "clock.h"

#include "io.h"

#define ASSUMED_TSC_KHZ 3000000

static uint64_t tsc_khz = ASSUMED_TSC_KHZ;
static uint64_t tsc_start;

bool clock_init(void)
{
    uint32_t r[4];
    bool found = false;
    tsc_start = rdtsc();
    cpuid(0, 0, r);
    uint32_t max_leaf = r[0];
    if (max_leaf >= 0x15) {
        cpuid(0x15, 0, r); /* EAX denominator, EBX numerator, ECX crystal Hz */
        if (r[0] && r[1] && r[2]) {
            tsc_khz = (uint64_t)r[2] * r[1] / r[0] / 1000;
            found = true;
        }
    }
    if (!found && max_leaf >= 0x16) {
        cpuid(0x16, 0, r); /* EAX: base frequency, MHz */
        if (r[0] & 0xffff) {
            tsc_khz = (uint64_t)(r[0] & 0xffff) * 1000;
            found = true;
        }
    }
    if (!found) {
        cpuid(1, 0, r);
        if (r[2] & (1u << 31)) { /* a hypervisor: its leaves */
            cpuid(0x40000000, 0, r);
            if (r[0] >= 0x40000010) {
                cpuid(0x40000010, 0, r);
                if (r[0]) {
                    tsc_khz = r[0];
                    found = true;
                }
            }
        }
    }
    return found;
}

uint64_t clock_tsc_khz(void)
{
    return tsc_khz;
}

uint64_t clock_us(void)
{
    return (rdtsc() - tsc_start) * 1000 / tsc_khz;
}
