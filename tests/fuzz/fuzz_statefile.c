/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: a snapshot's state file as a damaged or hostile file
 * may hold it. statefile_parse must refuse or accept without reading
 * past the input; what it accepts is then handed, owner by owner, to the
 * core's restores (COM1, the i8042, a virtio-mmio transport), which must
 * refuse or apply it without reading past a record or setting a queue up
 * outside guest RAM. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "devices/devices_state.h"
#include "record/record.h"
#include "snapshot/statefile.h"
#include "virtio/mmio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int activate(void *d, uint64_t f) { (void)d; (void)f; return 0; }
static void reset(void *d) { (void)d; }
static void notify(void *d, uint32_t q) { (void)d; (void)q; }
static void cfg_rw(void *d, uint32_t o, void *p, uint32_t l) { (void)d; (void)o; (void)p; (void)l; }
static void cfg_w(void *d, uint32_t o, const void *p, uint32_t l) { (void)d; (void)o; (void)p; (void)l; }
static void irq(void *d) { (void)d; }
static const struct virtio_mmio_backend be = {activate, reset, notify, cfg_rw, cfg_w, irq};

static void noirq(void *arg) { (void)arg; }

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fix_crcs(uint8_t *d, size_t size)
{
    put32(d + 60, (uint32_t)crc32(crc32(0, Z_NULL, 0), d, 60));
    size_t at = STATEFILE_HEADER_SIZE;
    while (size - at >= STATEFILE_RECORD_HEADER_SIZE) {
        uint32_t len = get32(d + at + 16);
        if (len > size - at - STATEFILE_RECORD_HEADER_SIZE)
            break;
        uLong c = crc32(crc32(0, Z_NULL, 0), d + at, 20);
        put32(d + at + 20, (uint32_t)crc32(c, d + at + 24, len));
        at += STATEFILE_RECORD_HEADER_SIZE + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem mem;
    if (!mem.base && guest_mem_init(&mem, 1u << 20))
        abort();
    struct statefile sf;
    char err[512];
    /* An exact-size copy, so any read past the end is ASan's to catch. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    /* Most mutations only break a CRC. With the file's magic intact, the
     * CRCs are made right again half the time, so the fuzzer also reaches
     * the records' contents and the restores. */
    if (size >= STATEFILE_HEADER_SIZE && (copy[8 + 3] & 0x80) == 0 && (size & 1)) {
        fix_crcs(copy, size);
    }
    int rc = statefile_parse(&sf, "state", copy, size, err, sizeof(err));
    free(copy);
    if (rc)
        return 0;
    for (size_t i = 0; i < sf.nsections; i++) {
        const struct statefile_section *s = &sf.sections[i];
        struct record_buf_reader r;
        if (record_reader_init(&r, s->data, s->len))
            abort(); /* the parser promised well-formed records */
        if (s->owner.kind == STATEFILE_OWNER_CORE) {
            struct serial ser;
            struct i8042 k;
            serial_init(&ser, -1, noirq, NULL);
            i8042_init(&k, NULL, NULL);
            serial_restore(&ser, &r.handle);
            i8042_restore(&k, &r.handle);
            if (ser.rx_count > SERIAL_FIFO_SIZE)
                abort();
            serial_fini(&ser);
        } else if (s->owner.kind == STATEFILE_OWNER_TRANSPORT) {
            struct virtio_mmio t;
            if (virtio_mmio_init(&t, &mem, &be, NULL, 2, 1ull << 5, 2, 256, 60))
                abort();
            virtio_mmio_restore(&t, &r.handle, err, sizeof(err));
            virtio_mmio_destroy(&t);
        }
        uint32_t tag;
        record_reader_unread(&r, &tag);
    }
    statefile_free(&sf);
    return 0;
}
