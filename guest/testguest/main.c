/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ring 3's entry (boot.S irets here): read hvm_start_info, parse the
 * command line, find the virtio-mmio devices, route their interrupts, run
 * the test that test=NAME names, end the VM.
 */
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "cmdline.h"
#include "console.h"
#include "irq.h"
#include "layout.h"
#include "lib.h"
#include "machine.h"
#include "tap.h"
#include "tests.h"

/* xen/include/public/arch-x86/hvm/start_info.h */
#define HVM_START_MAGIC 0x336ec578
struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr; /* version 1 */
    uint32_t memmap_entries;
    uint32_t reserved;
};

/* The identity map covers the first 4 GiB (boot.S). */
#define MAPPED_END 0x100000000ull

static const struct {
    const char *name;
    void (*run)(struct guest *);
} tests[] = {
    {"boot", test_boot},
    {"transport", test_transport},
    {"rng", test_rng},
    {"snapshot", test_snapshot},
    {"blk", test_blk},
    {"blkbench", test_blkbench},
    {"vsock", test_vsock},
};

static struct guest guest;

__attribute__((noreturn)) void tg_main(uint32_t start_info_paddr);

struct virtio_dev *guest_need_device(struct guest *g, uint32_t id, const char *what)
{
    for (unsigned i = 0; i < g->ndev; i++)
        if (id == 0 || g->dev[i].device_id == id)
            return &g->dev[i];
    tap_plan(1);
    if (g->cmd.ndev == 0)
        tap_check(false, what, "no virtio-mmio device on the command line");
    else if (g->ndev == 0)
        tap_check(false, what, "none of the command line's %u virtio-mmio transports has a device",
                  g->cmd.ndev);
    else
        tap_check(false, what, "none of the %u virtio-mmio devices has device id %u", g->ndev, id);
    return NULL;
}

static void probe_devices(struct guest *g, uint32_t apic_id)
{
    for (unsigned i = 0; i < g->cmd.ndev; i++) {
        const struct cmdline_device *c = &g->cmd.dev[i];
        if (c->base >= MAPPED_END || c->size > MAPPED_END - c->base || c->size < 0x100) {
            tap_diag("virtio-mmio %lu@0x%lx:%u: outside the guest's 4 GiB identity map or too "
                     "small, skipped", c->size, c->base, c->irq);
            continue;
        }
        struct virtio_dev *d = &g->dev[g->ndev];
        memset(d, 0, sizeof(*d));
        d->base = c->base;
        d->size = c->size;
        d->irq = c->irq;
        bool present = virtio_mmio_probe(d);
        tap_diag("virtio-mmio %lu@0x%lx:%u: magic 0x%08x, version %u, device id %u, vendor id "
                 "0x%08x%s",
                 c->size, c->base, c->irq, virtio_mmio_read(d, VIRTIO_MMIO_MAGIC_VALUE),
                 d->version, d->device_id, d->vendor_id, present ? "" : ": no device, skipped");
        if (!present)
            continue;
        d->vector = (uint8_t)(VEC_DEVICE_BASE + g->ndev);
        const char *why;
        if (!ioapic_route(d->irq, d->vector, apic_id, &why))
            tap_diag("  GSI %u not routed: %s", d->irq, why);
        g->ndev++;
    }
}

__attribute__((noreturn)) void tg_main(uint32_t start_info_paddr)
{
    bool tsc_known = clock_init();
    console_init();
    tap_version();

    const struct hvm_start_info *si = (const struct hvm_start_info *)(uintptr_t)start_info_paddr;
    if (si->magic != HVM_START_MAGIC) {
        tap_plan(1);
        tap_check(false, "PVH start info", "magic 0x%08x at 0x%x, expected 0x%08x", si->magic,
                  start_info_paddr, HVM_START_MAGIC);
        machine_exit();
    }
    const char *cmdline = "";
    if (si->cmdline_paddr && si->cmdline_paddr < MAPPED_END)
        cmdline = (const char *)(uintptr_t)si->cmdline_paddr;
    cmdline_parse(cmdline, &guest.cmd);
    tap_diag("command line: %s", cmdline);
    for (unsigned i = 0; i < guest.cmd.nerror; i++) {
        char tok[128];
        unsigned n = guest.cmd.error_len[i] < sizeof(tok) - 1 ? guest.cmd.error_len[i] : sizeof(tok) - 1;
        memcpy(tok, guest.cmd.error[i], n);
        tok[n] = '\0';
        tap_diag("command line: cannot parse '%s', ignored", tok);
    }
    if (guest.cmd.dropped)
        tap_diag("command line: %u virtio-mmio devices beyond the first %u ignored",
                 guest.cmd.dropped, CMDLINE_MAX_DEVICES);

    tap_diag("TSC %lu kHz%s", clock_tsc_khz(), tsc_known ? "" : " (assumed: CPUID does not say)");
    uint32_t apic_id = lapic_init();
    probe_devices(&guest, apic_id);

    const char *name = guest.cmd.test;
    bool found = false;
    for (unsigned i = 0; name && i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (str_eq_n(name, guest.cmd.test_len, tests[i].name)) {
            tests[i].run(&guest);
            found = true;
        }
    }
    if (!found) {
        char want[64];
        unsigned n = name ? (guest.cmd.test_len < sizeof(want) - 1 ? guest.cmd.test_len : sizeof(want) - 1) : 0;
        if (name)
            memcpy(want, name, n);
        want[n] = '\0';
        char known[64];
        size_t k = 0;
        for (unsigned i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
            k += str_format(known + k, sizeof(known) - k, "%s%s", i ? ", " : "", tests[i].name);
        tap_plan(1);
        tap_check(false, "test=NAME names a test", "%s%s%s (known: %s)",
                  name ? "unknown test '" : "no test= on the command line", want, name ? "'" : "",
                  known);
    }
    tap_done();
    tap_diag("%u failed, %lu us since the guest's first ring-3 instruction", tap_failures(),
             clock_us());
    machine_exit();
}
