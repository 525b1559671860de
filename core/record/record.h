/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The core's implementation of the record writer and reader
 * (include/plugvm/record.h) over a memory buffer. Each record is laid out
 * as: tag (u32 LE), version (u32 LE), body length in bytes (u32 LE), body.
 * The snapshot file wraps these buffers with owners and CRC32s
 * (docs/SNAPSHOT.md, with snapshots).
 */
#ifndef PLUGVM_CORE_RECORD_H
#define PLUGVM_CORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugvm/record.h>

#define RECORD_HEADER_SIZE 12

struct record_buf_writer {
    struct plugvm_record_writer handle;
    uint8_t *data;
    size_t len, cap;
    size_t open_at; /* offset of the open record's header, or SIZE_MAX */
    int error;      /* first error; sticky */
};

/* Starts an empty writer. Free with record_writer_fini. */
void record_writer_init(struct record_buf_writer *w);
void record_writer_fini(struct record_buf_writer *w);

struct record_buf_reader {
    struct plugvm_record_reader handle;
    const uint8_t *data;
    size_t len;
    size_t next;      /* where open() searches from */
    size_t body, end; /* the open record's body [body, end); end 0 = none open */
    uint32_t skipped_tag; /* the first record open() passed over, 0 if none */
};

/* Whether a record was left unread: one open() passed over (records are
 * found in order) or one after the last opened. *tag gets its tag. A
 * restore refuses such a section: a record this plugvm does not know. */
bool record_reader_unread(const struct record_buf_reader *r, uint32_t *tag);

/* Reads records from data[0..len) (not copied; must outlive the reader).
 * -EBADMSG when the buffer is not a well-formed sequence of records (a
 * header or body running past len). */
int record_reader_init(struct record_buf_reader *r, const uint8_t *data, size_t len);

#endif
