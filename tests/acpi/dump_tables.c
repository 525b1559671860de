/* SPDX-License-Identifier: Apache-2.0 */
/* Writes plugvm's ACPI tables for 2 vCPUs and N virtio-mmio devices (3 by
 * default; device i at 0xd0000000 + i * 0x1000, 0x1000 bytes, GSI 5 + i)
 * into 64 MiB of guest RAM, then dumps them to DIR/<signature>.dat for
 * acpica.sh to check with iasl and acpiexec.
 * usage: dump_tables DIR [N] */
#include <stdio.h>
#include <stdlib.h>

#include "boot/x86/acpi.h"
#include "memory/guest_mem.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: dump_tables DIR [NDEVS]\n");
        return 2;
    }
    unsigned long ndevs = 3;
    if (argc == 3) {
        char *end;
        ndevs = strtoul(argv[2], &end, 10);
        if (*end || end == argv[2] || ndevs > X86_ACPI_MAX_VIRTIO_MMIO) {
            fprintf(stderr, "dump_tables: NDEVS must be 0..%d\n", X86_ACPI_MAX_VIRTIO_MMIO);
            return 2;
        }
    }
    struct acpi_virtio_mmio devs[X86_ACPI_MAX_VIRTIO_MMIO];
    for (unsigned long i = 0; i < ndevs; i++)
        devs[i] = (struct acpi_virtio_mmio){
            .base = 0xd0000000ull + i * 0x1000, .size = 0x1000, .gsi = (uint32_t)(5 + i)};

    struct guest_mem m;
    int rc = guest_mem_init(&m, 64ull << 20);
    if (rc) {
        fprintf(stderr, "dump_tables: guest_mem_init: error %d\n", rc);
        return 1;
    }
    int status = 0;
    uint64_t rsdp = x86_acpi_write(&m, 2, devs, ndevs);
    char err[512];
    if (!rsdp) {
        fprintf(stderr, "dump_tables: the tables for %lu devices do not fit\n", ndevs);
        status = 1;
    } else if (x86_acpi_dump(&m, rsdp, argv[1], err, sizeof(err))) {
        fprintf(stderr, "dump_tables: %s\n", err);
        status = 1;
    }
    guest_mem_fini(&m);
    return status;
}
