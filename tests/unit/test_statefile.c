/* SPDX-License-Identifier: Apache-2.0 */
/* The snapshot state file (core/snapshot/statefile.c): a round trip of
 * three owners' records, and every damage refused with the record named:
 * each truncation, each flipped byte, a foreign version or owner, bytes
 * after the end; many owners parsed and found in O(n log n). */
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

static struct statefile_owner many_owner(uint32_t j)
{
    /* Distinct for distinct j (an odd multiplier is a bijection on u32),
     * and in no order the parser could lean on. */
    return (struct statefile_owner){1 + j % 4, j * 2654435761u};
}

static uint8_t *put_record(uint8_t *r, struct statefile_owner o, uint32_t tag, uint32_t body)
{
    put32(r, o.kind);
    put32(r + 4, o.index);
    put32(r + 8, tag);
    put32(r + 12, 1);
    put32(r + 16, 4);
    put32(r + 24, body);
    put32(r + 20, (uint32_t)crc32(crc32(crc32(0, Z_NULL, 0), r, 20), r + 24, 4));
    return r + 28;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* 20000 owners, each with two records far apart in the file: each owner's
 * records come back together and in order, sections in the order owners
 * first appear, and parsing plus a lookup of every owner costs O(n log n)
 * owner comparisons. Scanning every owner per record and per lookup (the
 * old parser) made about 10^9 here. */
static void many_owners(void **state)
{
    (void)state;
    enum { N = 20000, RECORDS = 2 * N };
    size_t len = 64 + (size_t)RECORDS * 28;
    uint8_t *d = calloc(1, len);
    assert_non_null(d);
    memcpy(d, STATEFILE_MAGIC, 8);
    put32(d + 8, 1);
    put32(d + 12, 64);
    memcpy(d + 16, "x86_64", 6);
    memcpy(d + 32, "kvm", 3);
    put32(d + 48, 1u << 20);
    put32(d + 56, RECORDS);
    reseal_header(d);
    uint8_t *r = d + 64;
    for (uint32_t j = 0; j < N; j++)
        r = put_record(r, many_owner(j), 1, j);
    for (uint32_t j = N; j-- > 0;)
        r = put_record(r, many_owner(j), 2, ~j);
    assert_ptr_equal(r, d + len);

    statefile_owner_compares = 0;
    struct statefile sf;
    char err[256];
    assert_int_equal(statefile_parse(&sf, "state", d, len, err, sizeof(err)), 0);
    assert_int_equal(sf.nsections, N);
    for (uint32_t j = 0; j < N; j++) {
        struct statefile_owner o = many_owner(j);
        assert_true(sf.sections[j].owner.kind == o.kind && sf.sections[j].owner.index == o.index);
        const struct statefile_section *s = statefile_find(&sf, o);
        assert_ptr_equal(s, &sf.sections[j]);
        assert_int_equal(s->len, 2 * (RECORD_HEADER_SIZE + 4));
        assert_int_equal(get32(s->data), 1);
        assert_int_equal(get32(s->data + RECORD_HEADER_SIZE), j);
        assert_int_equal(get32(s->data + RECORD_HEADER_SIZE + 4), 2);
        assert_int_equal(get32(s->data + 2 * RECORD_HEADER_SIZE + 4), ~j);
    }
    assert_null(statefile_find(&sf, (struct statefile_owner){3, 1}));
    /* log2(40000) < 16: a few n log n passes fit in 64 comparisons a record. */
    if (statefile_owner_compares > 64ull * RECORDS)
        fail_msg("%llu owner comparisons for %d records and %d lookups: not O(n log n)",
                 statefile_owner_compares, RECORDS, N);
    statefile_free(&sf);

    /* A header claiming 2^32 - 1 records over a short file: refused as
     * truncated, with nothing allocated by the claim. */
    put32(d + 56, UINT32_MAX);
    reseal_header(d);
    assert_int_equal(statefile_parse(&sf, "state", d, 64 + 28, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated: record 2 of 4294967295 is missing"));
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(truncation_refused),
        cmocka_unit_test(damage_refused),
        cmocka_unit_test(foreign_refused),
        cmocka_unit_test(many_owners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
