/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst, "64-bit
 * boot protocol") and the PVH boot ABI (xen/include/public/arch-x86/hvm/
 * start_info.h; Linux's arch/x86/platform/pvh).
 */
#include "boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asm/bootparam.h>

#include "acpi.h"
#include "devices/vmgenid.h"
#include "e820.h"
#include "kernel.h"
#include "layout.h"
#include "mptable.h"
#include "util/error.h"

/* PVH's start-of-day structure, version 1 (with the memory map). */
#define HVM_START_MAGIC 0x336ec578
struct hvm_start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry {
    uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_table_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};

/* Bits of control registers set at entry (Intel SDM vol. 3A §2.5). */
#define CR0_PE 0x1ull
#define CR0_ET 0x10ull
#define CR0_PG 0x80000000ull
#define CR4_PAE 0x20ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull

/* Protocol 2.03+ tells the highest initrd address; older kernels get the
 * protocol's documented default. */
#define INITRD_ADDR_MAX_DEFAULT 0x37ffffffull

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
    return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
           ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
           (uint64_t)(limit & 0x0000ffffu);
}

/* The segment register contents the CPU would load from gdt_entry(). */
static struct plugvm_x86_segment segment(uint16_t flags, uint16_t selector, uint32_t limit)
{
    bool g = (flags >> 15) & 1;
    return (struct plugvm_x86_segment){
        .base = 0,
        .limit = g ? (limit << 12) | 0xfff : limit,
        .selector = selector,
        .type = flags & 0xf,
        .s = (flags >> 4) & 1,
        .dpl = (flags >> 5) & 3,
        .present = (flags >> 7) & 1,
        .avl = (flags >> 12) & 1,
        .l = (flags >> 13) & 1,
        .db = (flags >> 14) & 1,
        .g = g,
    };
}

/* Access/flags words: P, DPL 0, S, type; then G, D/B, L. */
#define GDT_CODE32 0xc09b /* 32-bit execute/read, accessed, 4 KiB granular */
#define GDT_CODE64 0xa09b /* 64-bit (L=1, D=0) execute/read */
#define GDT_DATA 0xc093   /* read/write, accessed */
#define GDT_TSS 0x008b    /* 32-bit busy TSS, byte granular */

static int write_gdt(const struct guest_mem *m, struct plugvm_x86_regs *r, bool long_mode)
{
    const uint64_t gdt[] = {
        0,
        gdt_entry(GDT_CODE32, 0, 0xfffff),
        gdt_entry(GDT_CODE64, 0, 0xfffff),
        gdt_entry(GDT_DATA, 0, 0xfffff),
        gdt_entry(GDT_TSS, 0, 0x67),
    };
    void *p = guest_mem_ptr(m, X86_GDT_ADDR, sizeof(gdt));
    void *idt = guest_mem_ptr(m, X86_IDT_ADDR, 8);
    if (!p || !idt)
        return -1;
    memcpy(p, gdt, sizeof(gdt));
    memset(idt, 0, 8);
    r->gdt = (struct plugvm_x86_dtable){X86_GDT_ADDR, sizeof(gdt) - 1};
    r->idt = (struct plugvm_x86_dtable){X86_IDT_ADDR, 0};
    r->cs = long_mode ? segment(GDT_CODE64, X86_SEL_CODE64, 0xfffff)
                      : segment(GDT_CODE32, X86_SEL_CODE32, 0xfffff);
    r->ds = r->es = r->fs = r->gs = r->ss = segment(GDT_DATA, X86_SEL_DATA, 0xfffff);
    r->tr = segment(GDT_TSS, X86_SEL_TSS, 0x67);
    r->ldt = (struct plugvm_x86_segment){.unusable = 1, .type = 2, .present = 1, .limit = 0xffff};
    return 0;
}

/* Identity map of the first 4 GiB with 2 MiB pages: the 64-bit protocol
 * wants the kernel, zero page, command line and initrd mapped 1:1. */
static int write_page_tables(const struct guest_mem *m)
{
    uint64_t *pml4 = guest_mem_ptr(m, X86_PML4_ADDR, 4096);
    uint64_t *pdpt = guest_mem_ptr(m, X86_PDPT_ADDR, 4096);
    uint64_t *pd = guest_mem_ptr(m, X86_PD_ADDR, 4 * 4096);
    if (!pml4 || !pdpt || !pd)
        return -1;
    memset(pml4, 0, 4096);
    memset(pdpt, 0, 4096);
    pml4[0] = X86_PDPT_ADDR | 0x3; /* present, writable */
    for (uint64_t i = 0; i < 4; i++)
        pdpt[i] = (X86_PD_ADDR + i * 4096) | 0x3;
    for (uint64_t i = 0; i < 4 * 512; i++)
        pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
    return 0;
}

static int load_initrd(const struct x86_boot_config *bc, const struct guest_mem *m,
                       uint64_t kernel_end, uint64_t addr_max, struct x86_boot_result *out,
                       char *err, size_t errlen)
{
    int fd = open(bc->initrd, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pv_fail(err, errlen, "%s: cannot open initrd: %s", bc->initrd, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pv_fail(err, errlen, "%s: initrd is not a regular file", bc->initrd);
    }
    uint64_t size = (uint64_t)st.st_size;
    /* Highest page-aligned place that ends at or below both the protocol's
     * initrd_addr_max and the end of low RAM, above the kernel. */
    uint64_t top = guest_mem_low_size(m);
    if (addr_max + 1 < top)
        top = addr_max + 1;
    if (size > top || ((top - size) & ~0xfffull) < kernel_end) {
        close(fd);
        return pv_fail(err, errlen,
                    "%s: initrd of %llu bytes does not fit in guest RAM between the kernel's end "
                    "(0x%llx) and 0x%llx: raise vm.memory_mib",
                    bc->initrd, (unsigned long long)size, (unsigned long long)kernel_end,
                    (unsigned long long)top);
    }
    uint64_t addr = (top - size) & ~0xfffull;
    uint8_t *dst = guest_mem_ptr(m, addr, size);
    for (uint64_t done = 0; done < size;) {
        ssize_t n = read(fd, dst + done, size - done);
        if (n <= 0) {
            close(fd);
            return pv_fail(err, errlen, "%s: cannot read initrd: %s", bc->initrd,
                        n < 0 ? strerror(errno) : "file shrank while being read");
        }
        done += (uint64_t)n;
    }
    close(fd);
    out->initrd_addr = addr;
    out->initrd_size = size;
    return 0;
}

static int setup_linux64(const struct x86_boot_config *bc, const struct guest_mem *m,
                         const struct x86_kernel_image *k, uint64_t rsdp,
                         struct x86_boot_result *out, char *err,
                         size_t errlen)
{
    struct boot_params *bp = guest_mem_ptr(m, X86_ZERO_PAGE_ADDR, sizeof(*bp));
    if (!bp)
        return pv_fail(err, errlen, "guest RAM too small for the zero page");
    memset(bp, 0, sizeof(*bp));
    size_t cmdlen = strlen(bc->cmdline);
    if (k->has_setup_header) {
        bp->hdr = k->hdr;
        /* Protocol 2.06+: the kernel says how long a command line it takes. */
        if (k->hdr.version >= 0x206 && cmdlen > k->hdr.cmdline_size)
            return pv_fail(err, errlen,
                        "%s: the command line is %zu bytes; this kernel accepts at most %u",
                        bc->kernel, cmdlen, k->hdr.cmdline_size);
    } else {
        /* A bare vmlinux has no setup header: write the fields a boot
         * loader is expected to provide, as for protocol 2.10. */
        bp->hdr.boot_flag = 0xaa55;
        bp->hdr.header = 0x53726448; /* "HdrS" */
        bp->hdr.version = 0x20a;
        bp->hdr.kernel_alignment = 0x1000000;
        bp->hdr.initrd_addr_max = 0x7fffffff;
    }
    bp->hdr.type_of_loader = 0xff; /* undefined loader */
    bp->hdr.loadflags |= LOADED_HIGH;
    bp->hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_ADDR;
    bp->hdr.cmdline_size = (uint32_t)cmdlen;
    bp->acpi_rsdp_addr = rsdp; /* read by kernels of protocol 2.14+ */

    uint64_t addr_max = bp->hdr.version >= 0x203 ? bp->hdr.initrd_addr_max : INITRD_ADDR_MAX_DEFAULT;
    if (bc->initrd) {
        if (load_initrd(bc, m, k->end, addr_max, out, err, errlen))
            return -1;
        bp->hdr.ramdisk_image = (uint32_t)out->initrd_addr;
        bp->hdr.ramdisk_size = (uint32_t)out->initrd_size;
        bp->ext_ramdisk_image = (uint32_t)(out->initrd_addr >> 32);
        bp->ext_ramdisk_size = (uint32_t)(out->initrd_size >> 32);
    }

    struct e820_entry e[X86_E820_MAX];
    size_t n = x86_e820_build(m, e);
    for (size_t i = 0; i < n; i++)
        bp->e820_table[i] = (struct boot_e820_entry){e[i].addr, e[i].size, e[i].type};
    bp->e820_entries = (uint8_t)n;

    struct plugvm_x86_regs *r = &out->regs;
    if (write_gdt(m, r, true) || write_page_tables(m))
        return pv_fail(err, errlen, "guest RAM too small for the boot tables");
    r->rip = k->entry64;
    r->rsi = X86_ZERO_PAGE_ADDR;
    r->rsp = r->rbp = X86_BOOT_STACK_ADDR;
    r->cr0 = CR0_PE | CR0_ET | CR0_PG;
    r->cr3 = X86_PML4_ADDR;
    r->cr4 = CR4_PAE;
    r->efer = EFER_LME | EFER_LMA;
    out->entry = X86_ENTRY_LINUX64;
    return 0;
}

static int setup_pvh(const struct x86_boot_config *bc, const struct guest_mem *m,
                     const struct x86_kernel_image *k, uint64_t rsdp, struct x86_boot_result *out,
                     char *err,
                     size_t errlen)
{
    struct e820_entry e[X86_E820_MAX];
    size_t n = x86_e820_build(m, e);
    uint64_t memmap_addr = X86_PVH_INFO_ADDR + sizeof(struct hvm_start_info);
    uint64_t modlist_addr = memmap_addr + X86_E820_MAX * sizeof(struct hvm_memmap_table_entry);
    struct hvm_start_info *si = guest_mem_ptr(m, X86_PVH_INFO_ADDR, sizeof(*si));
    struct hvm_memmap_table_entry *mm =
        guest_mem_ptr(m, memmap_addr, n * sizeof(struct hvm_memmap_table_entry));
    struct hvm_modlist_entry *mod = guest_mem_ptr(m, modlist_addr, sizeof(*mod));
    if (!si || !mm || !mod)
        return pv_fail(err, errlen, "guest RAM too small for hvm_start_info");
    memset(si, 0, sizeof(*si));
    for (size_t i = 0; i < n; i++)
        mm[i] = (struct hvm_memmap_table_entry){e[i].addr, e[i].size, e[i].type, 0};
    si->magic = HVM_START_MAGIC;
    si->version = 1;
    si->cmdline_paddr = X86_CMDLINE_ADDR;
    si->memmap_paddr = memmap_addr;
    si->memmap_entries = (uint32_t)n;
    si->rsdp_paddr = rsdp;
    if (bc->initrd) {
        /* PVH places no address limit; stay below 4 GiB for 32-bit
         * entry code. */
        if (load_initrd(bc, m, k->end, 0xffffffffull, out, err, errlen))
            return -1;
        *mod = (struct hvm_modlist_entry){out->initrd_addr, out->initrd_size, 0, 0};
        si->nr_modules = 1;
        si->modlist_paddr = modlist_addr;
    }
    struct plugvm_x86_regs *r = &out->regs;
    if (write_gdt(m, r, false))
        return pv_fail(err, errlen, "guest RAM too small for the boot tables");
    r->rip = k->pvh_entry;
    r->rbx = X86_PVH_INFO_ADDR;
    r->cr0 = CR0_PE | CR0_ET;
    out->entry = X86_ENTRY_PVH;
    return 0;
}

int x86_boot_setup(const struct x86_boot_config *bc, const struct guest_mem *m,
                   struct x86_boot_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t cmdlen = strlen(bc->cmdline);
    if (cmdlen >= X86_CMDLINE_MAX)
        return pv_fail(err, errlen, "command line is %zu bytes; at most %llu fit", cmdlen,
                    X86_CMDLINE_MAX - 1);
    struct x86_kernel_image k;
    if (x86_kernel_load(bc->kernel, m, &k, err, errlen))
        return -1;
    if (k.start < X86_HIGH_MEMORY)
        return pv_fail(err, errlen, "%s: kernel loads at 0x%llx, below 1 MiB where plugvm keeps its "
                    "boot tables", bc->kernel, (unsigned long long)k.start);
    char *cmd = guest_mem_ptr(m, X86_CMDLINE_ADDR, X86_CMDLINE_MAX);
    if (!cmd)
        return pv_fail(err, errlen, "guest RAM too small for the command line");
    memset(cmd, 0, X86_CMDLINE_MAX);
    memcpy(cmd, bc->cmdline, cmdlen);
    /* Both: the MADT for ACPI kernels, the MP table for kernels without
     * ACPI. Linux prefers the MADT when it finds both. */
    if (x86_mptable_write(m, bc->vcpus))
        return pv_fail(err, errlen, "cannot write the MP table for %u vCPUs", bc->vcpus);
    uint64_t rsdp = 0;
    if (bc->acpi && !(rsdp = x86_acpi_write(m, bc->vcpus, bc->devs, bc->ndevs)))
        return pv_fail(err, errlen, "cannot write the ACPI tables for %u vCPUs and %zu devices",
                       bc->vcpus, bc->ndevs);
    /* The DSDT's VGEN reads its first ID here (devices/vmgenid.h). */
    int rc;
    if (bc->acpi && (rc = vmgenid_renew(m, X86_VMGENID_ADDR, NULL)))
        return pv_fail(err, errlen, "cannot write the VM generation ID: %s", strerror(-rc));
    /* A Linux kernel with a setup header takes the 64-bit boot protocol
     * (the protocol Linux documents and tests most); a plain ELF with a PVH
     * note takes PVH; a plain ELF without one is treated as a vmlinux. */
    if (!k.has_setup_header && k.pvh_entry)
        return setup_pvh(bc, m, &k, rsdp, out, err, errlen);
    return setup_linux64(bc, m, &k, rsdp, out, err, errlen);
}
