/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU primitives: port I/O, device-register access, barriers, the TSC.
 * Ring 3 uses all of these: port I/O because boot.S drops to ring 3 with
 * IOPL 3, MMIO because the page tables map everything with U/S set.
 */
#ifndef TESTGUEST_IO_H
#define TESTGUEST_IO_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* Device registers: one 32-bit access each, never merged, split or
 * reordered by the compiler (virtio 1.2 §4.2.2: the driver MUST use only
 * 32-bit wide and aligned reads and writes for the control registers).
 * The memory clobber keeps ring writes ordered before a QueueNotify and
 * ring reads after an InterruptStatus read; on x86 the uncached mapping
 * keeps the CPU from reordering them. */
static inline uint32_t mmio_read32(uint64_t addr)
{
    uint32_t v;
    __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
    __asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

static inline uint8_t mmio_read8(uint64_t addr)
{
    uint8_t v;
    __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(addr) : "memory");
    return v;
}

/* Barriers for memory shared with a device (virtio 1.2 §2.7.13). x86 keeps
 * stores in order with stores and loads with loads (TSO), so the
 * write and read barriers only stop the compiler; a store followed by a
 * load of another location can pass it, so the full barrier is mfence. */
static inline void barrier(void) { __asm__ volatile("" : : : "memory"); }
static inline void virtio_wmb(void) { barrier(); }
static inline void virtio_rmb(void) { barrier(); }
static inline void virtio_mb(void) { __asm__ volatile("mfence" : : : "memory"); }

static inline void cpu_relax(void) { __asm__ volatile("pause" : : : "memory"); }

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

#endif
