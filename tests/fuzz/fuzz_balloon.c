/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: what a hostile guest and a damaged snapshot feed the
 * balloon (plugins/balloon/pages.c, stats.c). The input is a list of
 * steps: a byte picking inflate, deflate, statistics or a snapshot record
 * to restore, a length byte, then that many bytes (split in two buffers
 * at a point the input picks). Guest RAM is 1 MiB at GPA 0 and 1 MiB at
 * 4 MiB, a hole between; whatever the input, discard_ram is only ever
 * asked for pages inside it, and the balloon's page count matches the
 * pages a save writes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pages.h"
#include "record/record.h"
#include "stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIB (1u << 20)
static uint8_t ram[2 * MIB];

static void *gpa_to_hva(const struct plugvm_host *h, uint64_t gpa, uint64_t len)
{
    (void)h;
    if (gpa < MIB && len <= MIB - gpa)
        return ram + gpa;
    if (gpa >= 4 * MIB && gpa - 4 * MIB < MIB && len <= MIB - (gpa - 4 * MIB))
        return ram + MIB + (gpa - 4 * MIB);
    return NULL;
}

static uint64_t ram_bytes(const struct plugvm_host *h)
{
    (void)h;
    return sizeof(ram);
}

static int discard_ram(const struct plugvm_host *h, void *hva, uint64_t len)
{
    (void)h;
    uint8_t *p = hva;
    if (p < ram || len > sizeof(ram) || (uint64_t)(p - ram) > sizeof(ram) - len ||
        (p - ram) % 4096 || len % 4096)
        abort(); /* a release outside guest RAM, or of part of a page */
    memset(p, 0, len);
    return 0;
}

static void host_log(const struct plugvm_host *h, enum plugvm_log_level l, const char *fmt, ...)
{
    (void)h;
    (void)l;
    (void)fmt;
}

static const struct plugvm_host host = {
    .size = sizeof(struct plugvm_host), .log = host_log, .gpa_to_hva = gpa_to_hva,
    .ram_bytes = ram_bytes, .discard_ram = discard_ram,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct balloon_pages p;
    if (balloon_pages_init(&p, &host, ram_bytes(&host)))
        return 0;
    struct balloon_stats st = {0};
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t op = data[i] & 3, split = data[i + 1], len = data[i + 2];
        i += 3;
        if (len > size - i)
            len = (uint8_t)(size - i);
        /* Copies: the buffers are guest memory the plugin must not write. */
        uint8_t a[256], b[256];
        uint8_t cut = len ? split % (len + 1) : 0;
        memcpy(a, data + i, cut);
        memcpy(b, data + i + cut, len - cut);
        struct plugvm_iov iov[2] = {{a, cut, false}, {b, (uint32_t)(len - cut), split & 0x80}};
        struct plugvm_chain c = {.niov = 2, .iov = iov};
        struct balloon_refusals r;
        if (op == 0 || op == 1) {
            uint64_t before = balloon_pages_count(&p);
            uint32_t n = balloon_pages_serve(&p, &c, op == 1, &r);
            uint64_t after = balloon_pages_count(&p);
            if ((op == 0 && after != before + n) || (op == 1 && after + n != before))
                abort();
        } else if (op == 2) {
            balloon_stats_read(&st, &c);
        } else {
            struct record_buf_reader rd;
            if (record_reader_init(&rd, data + i, len) == 0) {
                const char *why;
                uint32_t version;
                struct balloon_pages q;
                if (balloon_pages_init(&q, &host, ram_bytes(&host)) == 0) {
                    if (rd.handle.ops->open(&rd.handle, 1, &version) == 0 &&
                        balloon_pages_restore(&q, &rd.handle, &why) != 0 &&
                        balloon_pages_count(&q) != 0)
                        abort(); /* a refused record left pages behind */
                    balloon_pages_fini(&q);
                }
            }
        }
        i += len;
    }
    /* The record of what is inflated reads back to the same count. */
    struct record_buf_writer w;
    record_writer_init(&w);
    w.handle.ops->begin(&w.handle, 1, 1);
    if (balloon_pages_save(&p, &w.handle) || w.handle.ops->end(&w.handle))
        abort();
    struct record_buf_reader rd;
    uint32_t version;
    struct balloon_pages q;
    const char *why;
    if (record_reader_init(&rd, w.data, w.len) || rd.handle.ops->open(&rd.handle, 1, &version) ||
        balloon_pages_init(&q, &host, ram_bytes(&host)) || balloon_pages_restore(&q, &rd.handle, &why) ||
        balloon_pages_count(&q) != balloon_pages_count(&p))
        abort();
    balloon_pages_fini(&q);
    record_writer_fini(&w);
    balloon_pages_fini(&p);
    return 0;
}
