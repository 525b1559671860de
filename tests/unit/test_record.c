/* SPDX-License-Identifier: Apache-2.0 */
/* Record writer/reader round trips, and every misuse and truncation is
 * refused without reading past the record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "record/record.h"

static void write_two(struct record_buf_writer *bw)
{
    struct plugvm_record_writer *w = &bw->handle;
    assert_int_equal(w->ops->begin(w, 7, 3), 0);
    assert_int_equal(w->ops->put_u8(w, 0xab), 0);
    assert_int_equal(w->ops->put_u16(w, 0xbeef), 0);
    assert_int_equal(w->ops->put_u32(w, 0xdeadbeef), 0);
    assert_int_equal(w->ops->put_u64(w, 0x0123456789abcdefull), 0);
    assert_int_equal(w->ops->put_bytes(w, "plugvm", 6), 0);
    assert_int_equal(w->ops->end(w), 0);
    assert_int_equal(w->ops->begin(w, 9, 1), 0);
    assert_int_equal(w->ops->put_u32(w, 42), 0);
    assert_int_equal(w->ops->end(w), 0);
}

static void round_trip(void **state)
{
    (void)state;
    struct record_buf_writer bw;
    record_writer_init(&bw);
    write_two(&bw);
    assert_int_equal(bw.len, 12 + 1 + 2 + 4 + 8 + 6 + 12 + 4);

    struct record_buf_reader br;
    assert_int_equal(record_reader_init(&br, bw.data, bw.len), 0);
    struct plugvm_record_reader *r = &br.handle;
    uint32_t version;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    char bytes[6];
    assert_int_equal(r->ops->open(r, 7, &version), 0);
    assert_int_equal(version, 3);
    assert_int_equal(r->ops->remaining(r), 21);
    assert_int_equal(r->ops->get_u8(r, &u8), 0);
    assert_int_equal(u8, 0xab);
    assert_int_equal(r->ops->get_u16(r, &u16), 0);
    assert_int_equal(u16, 0xbeef);
    assert_int_equal(r->ops->get_u32(r, &u32), 0);
    assert_int_equal(u32, 0xdeadbeef);
    assert_int_equal(r->ops->get_u64(r, &u64), 0);
    assert_true(u64 == 0x0123456789abcdefull);
    assert_int_equal(r->ops->get_bytes(r, bytes, 6), 0);
    assert_memory_equal(bytes, "plugvm", 6);
    assert_int_equal(r->ops->close(r), 0);
    assert_int_equal(r->ops->open(r, 9, &version), 0);
    assert_int_equal(r->ops->get_u32(r, &u32), 0);
    assert_int_equal(u32, 42);
    assert_int_equal(r->ops->close(r), 0);
    /* No third record with either tag. */
    assert_int_equal(r->ops->open(r, 7, &version), -ENOENT);
    record_writer_fini(&bw);
}

static void reader_never_reads_past_record(void **state)
{
    (void)state;
    struct record_buf_writer bw;
    record_writer_init(&bw);
    write_two(&bw);
    struct record_buf_reader br;
    assert_int_equal(record_reader_init(&br, bw.data, bw.len), 0);
    struct plugvm_record_reader *r = &br.handle;
    uint32_t version, u32 = 0x55;
    uint64_t u64 = 0x66;
    assert_int_equal(r->ops->open(r, 9, &version), 0);
    assert_int_equal(r->ops->get_u64(r, &u64), -EBADMSG); /* 4 bytes left, 8 asked */
    assert_true(u64 == 0x66);                               /* untouched */
    assert_int_equal(r->ops->get_u32(r, &u32), 0);
    assert_int_equal(r->ops->get_u32(r, &u32), -EBADMSG);
    assert_int_equal(r->ops->close(r), 0);
    /* Unread bytes at close are a layout mismatch. */
    br.next = 0;
    assert_int_equal(r->ops->open(r, 7, &version), 0);
    assert_int_equal(r->ops->close(r), -EBADMSG);
    /* Gets without an open record. */
    assert_int_equal(r->ops->get_u32(r, &u32), -EINVAL);
    assert_int_equal(r->ops->close(r), -EINVAL);
    record_writer_fini(&bw);
}

static void truncated_buffers_refused(void **state)
{
    (void)state;
    struct record_buf_writer bw;
    record_writer_init(&bw);
    write_two(&bw);
    struct record_buf_reader br;
    for (size_t len = 1; len < bw.len; len++) {
        int rc = record_reader_init(&br, bw.data, len);
        /* Only a cut exactly between records is well formed. */
        if (len == 12 + 21)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, -EBADMSG);
    }
    /* A length field claiming more than there is. */
    uint8_t bad[16] = {1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(record_reader_init(&br, bad, sizeof(bad)), -EBADMSG);
    record_writer_fini(&bw);
}

static void writer_misuse(void **state)
{
    (void)state;
    struct record_buf_writer bw;
    record_writer_init(&bw);
    struct plugvm_record_writer *w = &bw.handle;
    assert_int_equal(w->ops->put_u32(w, 1), -EINVAL); /* no record open */
    assert_int_equal(w->ops->end(w), -EINVAL);         /* errors are sticky */
    record_writer_fini(&bw);

    record_writer_init(&bw);
    assert_int_equal(w->ops->begin(w, 0, 1), -EINVAL); /* tag 0 */
    record_writer_fini(&bw);

    record_writer_init(&bw);
    assert_int_equal(w->ops->begin(w, 1, 1), 0);
    assert_int_equal(w->ops->begin(w, 2, 1), -EINVAL); /* nested */
    record_writer_fini(&bw);
}

/* A record nobody opened is reported: passed over, or left at the end. */
static void unread_records_reported(void **state)
{
    (void)state;
    struct record_buf_writer bw;
    record_writer_init(&bw);
    write_two(&bw); /* tags 7 and 9 */
    struct record_buf_reader br;
    uint32_t version, tag = 0;
    assert_int_equal(record_reader_init(&br, bw.data, bw.len), 0);
    assert_true(record_reader_unread(&br, &tag));
    assert_int_equal(tag, 7);
    assert_int_equal(br.handle.ops->open(&br.handle, 9, &version), 0);
    assert_true(record_reader_unread(&br, &tag));
    assert_int_equal(tag, 7);
    assert_int_equal(record_reader_init(&br, bw.data, bw.len), 0);
    assert_int_equal(br.handle.ops->open(&br.handle, 7, &version), 0);
    assert_true(record_reader_unread(&br, &tag));
    assert_int_equal(tag, 9);
    assert_int_equal(br.handle.ops->open(&br.handle, 9, &version), 0);
    assert_false(record_reader_unread(&br, &tag));
    record_writer_fini(&bw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(reader_never_reads_past_record),
        cmocka_unit_test(truncated_buffers_refused),
        cmocka_unit_test(writer_misuse),
        cmocka_unit_test(unread_records_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
