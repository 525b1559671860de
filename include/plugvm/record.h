/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot records: how the core, the backend and every device save and
 * restore their state. Nothing is saved any other way.
 *
 * A record is a tag (chosen by its owner, unique within the owner), a
 * version (bumped by the owner when the body's layout changes) and a body of
 * typed fields written in order. Integers are stored little-endian with the
 * width written; readers get them back in the same order. The state file
 * adds the owner, the body length and a CRC32 around each record
 * (docs/SNAPSHOT.md). A reader never reads past its record: every get fails
 * with -EBADMSG on truncation and leaves the output untouched.
 *
 * Threading: a writer or reader is used by one thread at a time: the one
 * the core called save() or restore() on.
 */
#ifndef PLUGVM_RECORD_H
#define PLUGVM_RECORD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct plugvm_record_writer;
struct plugvm_record_reader;

/*
 * Writer. Call begin, then any number of put_*, then end; repeat for more
 * records. Errors (returned by end, or by any call after a failure):
 *   -EINVAL  put without begin, begin inside a record, tag 0.
 *   -ENOMEM  out of memory.
 *   -EFBIG   body longer than 4 GiB - 1 bytes.
 */
struct plugvm_record_writer_ops {
    uint32_t size; /* sizeof(struct plugvm_record_writer_ops) of the provider */
    int (*begin)(struct plugvm_record_writer *w, uint32_t tag, uint32_t version);
    int (*put_u8)(struct plugvm_record_writer *w, uint8_t v);
    int (*put_u16)(struct plugvm_record_writer *w, uint16_t v);
    int (*put_u32)(struct plugvm_record_writer *w, uint32_t v);
    int (*put_u64)(struct plugvm_record_writer *w, uint64_t v);
    /* len bytes from data (host pointer), as they are. */
    int (*put_bytes)(struct plugvm_record_writer *w, const void *data, size_t len);
    int (*end)(struct plugvm_record_writer *w);
};

struct plugvm_record_writer {
    const struct plugvm_record_writer_ops *ops;
    void *impl;
};

/*
 * Reader. open() positions the reader at the owner's next record with
 * `tag` and returns its version in *version, so the owner can read older
 * layouts; then get_* read the fields in the order they were put; close()
 * fails with -EBADMSG if bytes are left unread (a layout mismatch).
 * Errors:
 *   -ENOENT   no (further) record with that tag for this owner.
 *   -EBADMSG  a get past the end of the record, or unread bytes at close.
 *   -EINVAL   get without open.
 */
struct plugvm_record_reader_ops {
    uint32_t size; /* sizeof(struct plugvm_record_reader_ops) of the provider */
    int (*open)(struct plugvm_record_reader *r, uint32_t tag, uint32_t *version);
    int (*get_u8)(struct plugvm_record_reader *r, uint8_t *v);
    int (*get_u16)(struct plugvm_record_reader *r, uint16_t *v);
    int (*get_u32)(struct plugvm_record_reader *r, uint32_t *v);
    int (*get_u64)(struct plugvm_record_reader *r, uint64_t *v);
    /* Exactly len bytes into data (host pointer). */
    int (*get_bytes)(struct plugvm_record_reader *r, void *data, size_t len);
    /* Bytes left unread in the open record (0 when none is open). */
    size_t (*remaining)(struct plugvm_record_reader *r);
    int (*close)(struct plugvm_record_reader *r);
};

struct plugvm_record_reader {
    const struct plugvm_record_reader_ops *ops;
    void *impl;
};

#ifdef __cplusplus
}
#endif

#endif /* PLUGVM_RECORD_H */
