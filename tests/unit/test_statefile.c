/* SPDX-License-Identifier: Apache-2.0 */
/* The snapshot state file (core/snapshot/statefile.c): a round trip of
 * three owners' records, and every damage refused with the record named:
 * each truncation, each flipped byte, a foreign version or owner, bytes
 * after the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "snapshot/statefile.h"

struct image {
    uint8_t *data;
    size_t len;
};

static void owner_records(struct record_buf_writer *w, uint32_t seed, unsigned n)
{
    record_writer_init(w);
    for (unsigned i = 0; i < n; i++) {
        w->handle.ops->begin(&w->handle, 1 + i, 2);
        w->handle.ops->put_u32(&w->handle, seed + i);
        w->handle.ops->put_bytes(&w->handle, "abcdefgh", i);
        assert_int_equal(w->handle.ops->end(&w->handle), 0);
    }
}

/* A state file with the core (2 records), vCPU 0 (1) and devices[3] (3). */
static struct image make(void)
{
    struct record_buf_writer core, cpu, dev;
    owner_records(&core, 100, 2);
    owner_records(&cpu, 200, 1);
    owner_records(&dev, 300, 3);
    struct statefile_section s[] = {
        {{STATEFILE_OWNER_CORE, 0}, core.data, core.len},
        {{STATEFILE_OWNER_BACKEND, 1}, cpu.data, cpu.len},
        {{STATEFILE_OWNER_DEVICE, 3}, dev.data, dev.len},
    };
    struct statefile_header h = {.arch = "x86_64", .backend = "kvm", .memory_bytes = 256u << 20};
    FILE *f = tmpfile();
    char err[256];
    assert_int_equal(statefile_write(fileno(f), &h, s, 3, err, sizeof(err)), 0);
    struct image im;
    im.len = (size_t)ftell(f);
    if (im.len == 0) { /* write(2) bypassed stdio's position */
        im.len = (size_t)lseek(fileno(f), 0, SEEK_END);
    }
    im.data = malloc(im.len);
    assert_int_equal(pread(fileno(f), im.data, im.len, 0), (ssize_t)im.len);
    fclose(f);
    record_writer_fini(&core);
    record_writer_fini(&cpu);
    record_writer_fini(&dev);
    return im;
}

static void round_trip(void **state)
{
    (void)state;
    struct image im = make();
    assert_int_equal(im.len, 64 + 6 * 24 + 4 * 6 + (0 + 1) + 0 + (0 + 1 + 2));
    struct statefile sf;
    char err[256];
    assert_int_equal(statefile_parse(&sf, "state", im.data, im.len, err, sizeof(err)), 0);
    assert_string_equal(sf.header.arch, "x86_64");
    assert_string_equal(sf.header.backend, "kvm");
    assert_true(sf.header.memory_bytes == 256u << 20);
    assert_int_equal(sf.nsections, 3);
    const struct statefile_section *d = statefile_find(&sf, (struct statefile_owner){3, 3});
    assert_non_null(d);
    assert_null(statefile_find(&sf, (struct statefile_owner){3, 2}));
    struct record_buf_reader r;
    assert_int_equal(record_reader_init(&r, d->data, d->len), 0);
    uint32_t version, v;
    char bytes[8];
    assert_int_equal(r.handle.ops->open(&r.handle, 3, &version), 0);
    assert_int_equal(version, 2);
    assert_int_equal(r.handle.ops->get_u32(&r.handle, &v), 0);
    assert_int_equal(v, 302);
    assert_int_equal(r.handle.ops->get_bytes(&r.handle, bytes, 2), 0);
    assert_memory_equal(bytes, "ab", 2);
    assert_int_equal(r.handle.ops->close(&r.handle), 0);
    statefile_free(&sf);
    free(im.data);
}

static void truncation_refused(void **state)
{
    (void)state;
    struct image im = make();
    char err[256];
    for (size_t len = 0; len < im.len; len++) {
        struct statefile sf;
        if (statefile_parse(&sf, "state", im.data, len, err, sizeof(err)) != -1)
            fail_msg("a state file cut to %zu of %zu bytes was accepted", len, im.len);
        assert_non_null(strstr(err, "state:"));
    }
    struct statefile sf;
    statefile_parse(&sf, "state", im.data, im.len - 1, err, sizeof(err));
    assert_non_null(strstr(err, "truncated: record 6 (devices[3], tag 3)"));
    free(im.data);
}

/* Any single flipped bit is caught: by a CRC, the magic, or a check. */
static void damage_refused(void **state)
{
    (void)state;
    struct image im = make();
    char err[256];
    for (size_t i = 0; i < im.len; i++) {
        for (unsigned b = 0; b < 8; b += 3) {
            im.data[i] ^= (uint8_t)(1u << b);
            struct statefile sf;
            if (statefile_parse(&sf, "state", im.data, im.len, err, sizeof(err)) != -1)
                fail_msg("byte %zu bit %u flipped was accepted", i, b);
            im.data[i] ^= (uint8_t)(1u << b);
        }
    }
    im.data[64 + 24 + 1] ^= 1; /* the first record's body */
    struct statefile sf;
    statefile_parse(&sf, "state", im.data, im.len, err, sizeof(err));
    assert_non_null(strstr(err, "record 1 (core, tag 1): CRC32 does not match"));
    free(im.data);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void reseal_header(uint8_t *d)
{
    put32(d + 60, (uint32_t)crc32(crc32(0, Z_NULL, 0), d, 60));
}

static void foreign_refused(void **state)
{
    (void)state;
    struct image im = make();
    char err[256];
    struct statefile sf;
    /* Another format version, with a valid CRC: refused by name. */
    put32(im.data + 8, 2);
    reseal_header(im.data);
    assert_int_equal(statefile_parse(&sf, "state", im.data, im.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "format version 2; this plugvm reads version 1"));
    put32(im.data + 8, 1);
    reseal_header(im.data);
    /* An unknown owner kind, with a valid record CRC. */
    uint8_t *r = im.data + 64;
    put32(r, 9);
    put32(r + 20, (uint32_t)crc32(crc32(crc32(0, Z_NULL, 0), r, 20), r + 24, 4));
    assert_int_equal(statefile_parse(&sf, "state", im.data, im.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "record 1: unknown owner kind 9"));
    free(im.data);
    /* Bytes after the last record. */
    im = make();
    uint8_t *more = realloc(im.data, im.len + 3);
    assert_non_null(more);
    assert_int_equal(statefile_parse(&sf, "state", more, im.len + 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "3 bytes after the last of its 6 records"));
    memcpy(more, "NOTPLUGV", 8);
    assert_int_equal(statefile_parse(&sf, "state", more, im.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a plugvm state file"));
    free(more);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(truncation_refused),
        cmocka_unit_test(damage_refused),
        cmocka_unit_test(foreign_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
