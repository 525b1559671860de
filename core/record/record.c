/* SPDX-License-Identifier: Apache-2.0 */
#include "record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NO_RECORD SIZE_MAX

static struct record_buf_writer *W(struct plugvm_record_writer *w)
{
    return w->impl;
}

static int reserve(struct record_buf_writer *w, size_t more)
{
    if (w->len + more <= w->cap)
        return 0;
    if (more > SIZE_MAX / 2 - w->len)
        return -ENOMEM;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + more)
        cap *= 2;
    uint8_t *p = realloc(w->data, cap);
    if (!p)
        return -ENOMEM;
    w->data = p;
    w->cap = cap;
    return 0;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int append(struct plugvm_record_writer *h, const void *data, size_t len)
{
    struct record_buf_writer *w = W(h);
    if (w->error)
        return w->error;
    if (w->open_at == NO_RECORD)
        return w->error = -EINVAL;
    if (len > UINT32_MAX || w->len - w->open_at - RECORD_HEADER_SIZE > UINT32_MAX - len)
        return w->error = -EFBIG;
    int rc = reserve(w, len);
    if (rc)
        return w->error = rc;
    memcpy(w->data + w->len, data, len);
    w->len += len;
    return 0;
}

static int put_uint(struct plugvm_record_writer *h, uint64_t v, size_t n)
{
    uint8_t b[8];
    put_le(b, v, n);
    return append(h, b, n);
}

static int w_begin(struct plugvm_record_writer *h, uint32_t tag, uint32_t version)
{
    struct record_buf_writer *w = W(h);
    if (w->error)
        return w->error;
    if (w->open_at != NO_RECORD || tag == 0)
        return w->error = -EINVAL;
    int rc = reserve(w, RECORD_HEADER_SIZE);
    if (rc)
        return w->error = rc;
    put_le(w->data + w->len, tag, 4);
    put_le(w->data + w->len + 4, version, 4);
    put_le(w->data + w->len + 8, 0, 4);
    w->open_at = w->len;
    w->len += RECORD_HEADER_SIZE;
    return 0;
}

static int w_u8(struct plugvm_record_writer *h, uint8_t v) { return put_uint(h, v, 1); }
static int w_u16(struct plugvm_record_writer *h, uint16_t v) { return put_uint(h, v, 2); }
static int w_u32(struct plugvm_record_writer *h, uint32_t v) { return put_uint(h, v, 4); }
static int w_u64(struct plugvm_record_writer *h, uint64_t v) { return put_uint(h, v, 8); }
static int w_bytes(struct plugvm_record_writer *h, const void *d, size_t len)
{
    return append(h, d, len);
}

static int w_end(struct plugvm_record_writer *h)
{
    struct record_buf_writer *w = W(h);
    if (w->error)
        return w->error;
    if (w->open_at == NO_RECORD)
        return w->error = -EINVAL;
    put_le(w->data + w->open_at + 8, w->len - w->open_at - RECORD_HEADER_SIZE, 4);
    w->open_at = NO_RECORD;
    return 0;
}

static const struct plugvm_record_writer_ops writer_ops = {
    .size = sizeof(struct plugvm_record_writer_ops),
    .begin = w_begin, .put_u8 = w_u8, .put_u16 = w_u16, .put_u32 = w_u32, .put_u64 = w_u64,
    .put_bytes = w_bytes, .end = w_end,
};

void record_writer_init(struct record_buf_writer *w)
{
    memset(w, 0, sizeof(*w));
    w->handle.ops = &writer_ops;
    w->handle.impl = w;
    w->open_at = NO_RECORD;
}

void record_writer_fini(struct record_buf_writer *w)
{
    free(w->data);
    w->data = NULL;
    w->len = w->cap = 0;
}

/* --- Reader --- */

static struct record_buf_reader *R(struct plugvm_record_reader *r)
{
    return r->impl;
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int r_open(struct plugvm_record_reader *h, uint32_t tag, uint32_t *version)
{
    struct record_buf_reader *r = R(h);
    /* record_reader_init checked every header, so no bound can fail here. */
    for (size_t at = r->next; at < r->len;) {
        uint32_t t = (uint32_t)get_le(r->data + at, 4);
        uint32_t len = (uint32_t)get_le(r->data + at + 8, 4);
        size_t end = at + RECORD_HEADER_SIZE + len;
        if (t == tag) {
            if (at != r->next && !r->skipped_tag)
                r->skipped_tag = (uint32_t)get_le(r->data + r->next, 4);
            *version = (uint32_t)get_le(r->data + at + 4, 4);
            r->body = at + RECORD_HEADER_SIZE;
            r->end = end;
            r->next = end;
            return 0;
        }
        at = end;
    }
    return -ENOENT;
}

static int take(struct plugvm_record_reader *h, void *out, size_t n)
{
    struct record_buf_reader *r = R(h);
    if (!r->end)
        return -EINVAL;
    if (n > r->end - r->body)
        return -EBADMSG;
    memcpy(out, r->data + r->body, n);
    r->body += n;
    return 0;
}

#define GET_UINT(name, type, n)                                                                    \
    static int name(struct plugvm_record_reader *h, type *v)                                       \
    {                                                                                              \
        uint8_t b[n];                                                                              \
        int rc = take(h, b, n);                                                                    \
        if (rc == 0)                                                                               \
            *v = (type)get_le(b, n);                                                               \
        return rc;                                                                                 \
    }
GET_UINT(r_u8, uint8_t, 1)
GET_UINT(r_u16, uint16_t, 2)
GET_UINT(r_u32, uint32_t, 4)
GET_UINT(r_u64, uint64_t, 8)

static int r_bytes(struct plugvm_record_reader *h, void *d, size_t len)
{
    return take(h, d, len);
}

static size_t r_remaining(struct plugvm_record_reader *h)
{
    struct record_buf_reader *r = R(h);
    return r->end ? r->end - r->body : 0;
}

static int r_close(struct plugvm_record_reader *h)
{
    struct record_buf_reader *r = R(h);
    if (!r->end)
        return -EINVAL;
    size_t left = r->end - r->body;
    r->body = r->end = 0;
    return left ? -EBADMSG : 0;
}

static const struct plugvm_record_reader_ops reader_ops = {
    .size = sizeof(struct plugvm_record_reader_ops),
    .open = r_open, .get_u8 = r_u8, .get_u16 = r_u16, .get_u32 = r_u32, .get_u64 = r_u64,
    .get_bytes = r_bytes, .remaining = r_remaining, .close = r_close,
};

int record_reader_init(struct record_buf_reader *r, const uint8_t *data, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->handle.ops = &reader_ops;
    r->handle.impl = r;
    for (size_t at = 0; at < len;) {
        if (len - at < RECORD_HEADER_SIZE)
            return -EBADMSG;
        uint32_t body = (uint32_t)get_le(data + at + 8, 4);
        if (body > len - at - RECORD_HEADER_SIZE)
            return -EBADMSG;
        at += RECORD_HEADER_SIZE + body;
    }
    r->data = data;
    r->len = len;
    return 0;
}

bool record_reader_unread(const struct record_buf_reader *r, uint32_t *tag)
{
    if (r->skipped_tag) {
        *tag = r->skipped_tag;
        return true;
    }
    if (r->next < r->len) {
        *tag = (uint32_t)get_le(r->data + r->next, 4);
        return true;
    }
    return false;
}
