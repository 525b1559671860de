/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot state file (docs/SNAPSHOT.md): a header naming the machine,
 * then every owner's records, each with its owner and a CRC32. Owners
 * (the core, the backend, each device) write and read their records
 * through the record codec (core/record); this file only frames them.
 * Reading checks everything before any owner sees a byte: a short file, a
 * bad CRC, a foreign format version or architecture, an owner this
 * machine lacks are refused with the record named.
 */
#ifndef PLUGVM_CORE_STATEFILE_H
#define PLUGVM_CORE_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "record/record.h"

#define STATEFILE_MAGIC "PLUGVMST"
#define STATEFILE_VERSION 1u
#define STATEFILE_HEADER_SIZE 64u
#define STATEFILE_RECORD_HEADER_SIZE 24u
#define STATEFILE_NAME_MAX 16 /* bytes of architecture and backend names, NUL-padded */

/* Who a record belongs to. */
enum statefile_owner_kind {
    STATEFILE_OWNER_CORE = 1,    /* index 0 */
    STATEFILE_OWNER_BACKEND = 2, /* index 0: the VM; 1 + n: vCPU n */
    STATEFILE_OWNER_DEVICE = 3,  /* index: devices[index] of the config: its plugin's records */
    STATEFILE_OWNER_TRANSPORT = 4, /* index: devices[index]'s virtio-mmio transport */
};

struct statefile_owner {
    uint32_t kind;
    uint32_t index;
};

struct statefile_header {
    char arch[STATEFILE_NAME_MAX];    /* "x86_64" */
    char backend[STATEFILE_NAME_MAX]; /* "kvm" */
    uint64_t memory_bytes;            /* guest RAM, bytes: the memory file's size */
};

/* One owner's records as the record codec laid them out (tag, version,
 * length, body; record_buf_writer's buffer). */
struct statefile_section {
    struct statefile_owner owner;
    const uint8_t *data;
    size_t len;
};

/* Writes the header and the sections' records to fd, from its current
 * offset. 0, or -1 with err naming what failed (errno kept). */
int statefile_write(int fd, const struct statefile_header *h, const struct statefile_section *s,
                    size_t n, char *err, size_t errlen);

/* A state file read and checked: the header, and per owner a buffer in
 * the record codec's layout for record_reader_init. */
struct statefile {
    struct statefile_header header;
    struct statefile_section *sections; /* one per owner met, in file order */
    size_t nsections;
    size_t *by_owner;                   /* sections' indices in owner order (statefile_find) */
    uint8_t *storage;                   /* the sections' bytes */
};

/* Reads `len` bytes at `data` (the file's contents; `path` names it in
 * messages). Refuses, with err naming the file and the record (its number,
 * owner and tag) or header field: a wrong magic, a format version other
 * than STATEFILE_VERSION, a bad header or record CRC, a length running
 * past the file (truncation), an unknown owner kind, bytes after the last
 * record. 0 or -1. */
int statefile_parse(struct statefile *sf, const char *path, const uint8_t *data, size_t len,
                    char *err, size_t errlen);
void statefile_free(struct statefile *sf);

/* The section of `owner`, or NULL. O(log n). */
const struct statefile_section *statefile_find(const struct statefile *sf,
                                               struct statefile_owner owner);

/* Owner comparisons made by statefile_parse and statefile_find in this
 * thread, for tests that parsing and lookups stay O(n log n). */
extern _Thread_local unsigned long long statefile_owner_compares;

/* "core", "backend", "vCPU 2", "device 3": an owner for messages. */
const char *statefile_owner_name(struct statefile_owner o, char *buf, size_t len);

#endif
