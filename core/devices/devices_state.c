/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot records of the core's port devices (docs/SNAPSHOT.md): the
 * UART's registers and unread input, the i8042's command byte and output
 * buffer. Written and read with the vCPUs paused.
 */
#include "devices_state.h"

#include <errno.h>
#include <string.h>

static int bad(int rc)
{
    return rc == -ENOENT ? -ENOENT : -EBADMSG;
}

int serial_save(struct serial *s, struct plugvm_record_writer *w)
{
    const struct plugvm_record_writer_ops *o = w->ops;
    pthread_mutex_lock(&s->lock);
    o->begin(w, DEVICES_TAG_SERIAL, DEVICES_VERSION_SERIAL);
    uint8_t regs[8] = {s->ier, s->iir_thre_pending, s->lcr, s->mcr, s->scr, s->dll, s->dlm, s->fcr};
    o->put_bytes(w, regs, sizeof(regs));
    o->put_u8(w, s->irq_pending);
    o->put_u32(w, s->rx_count);
    for (unsigned i = 0; i < s->rx_count; i++)
        o->put_u8(w, s->rx[(s->rx_head + i) % SERIAL_FIFO_SIZE]);
    pthread_mutex_unlock(&s->lock);
    return o->end(w);
}

int serial_restore(struct serial *s, struct plugvm_record_reader *r)
{
    const struct plugvm_record_reader_ops *o = r->ops;
    uint32_t version, count;
    uint8_t regs[8], pending, rx[SERIAL_FIFO_SIZE];
    int rc = o->open(r, DEVICES_TAG_SERIAL, &version);
    if (rc)
        return bad(rc);
    if (version != DEVICES_VERSION_SERIAL)
        return -EINVAL;
    if (o->get_bytes(r, regs, sizeof(regs)) || o->get_u8(r, &pending) || o->get_u32(r, &count) ||
        count > SERIAL_FIFO_SIZE || o->get_bytes(r, rx, count) || o->close(r))
        return -EBADMSG;
    pthread_mutex_lock(&s->lock);
    s->ier = regs[0];
    s->iir_thre_pending = regs[1];
    s->lcr = regs[2];
    s->mcr = regs[3];
    s->scr = regs[4];
    s->dll = regs[5];
    s->dlm = regs[6];
    s->fcr = regs[7];
    s->irq_pending = pending;
    memcpy(s->rx, rx, count);
    s->rx_head = 0;
    s->rx_count = count;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int i8042_save(struct i8042 *k, struct plugvm_record_writer *w)
{
    const struct plugvm_record_writer_ops *o = w->ops;
    pthread_mutex_lock(&k->lock);
    o->begin(w, DEVICES_TAG_I8042, DEVICES_VERSION_I8042);
    o->put_u8(w, k->ctr);
    o->put_u8(w, k->out);
    o->put_u8(w, k->out_full);
    o->put_u8(w, k->pending_cmd);
    pthread_mutex_unlock(&k->lock);
    return o->end(w);
}

int i8042_restore(struct i8042 *k, struct plugvm_record_reader *r)
{
    const struct plugvm_record_reader_ops *o = r->ops;
    uint32_t version;
    uint8_t b[4];
    int rc = o->open(r, DEVICES_TAG_I8042, &version);
    if (rc)
        return bad(rc);
    if (version != DEVICES_VERSION_I8042)
        return -EINVAL;
    if (o->get_bytes(r, b, sizeof(b)) || o->close(r))
        return -EBADMSG;
    pthread_mutex_lock(&k->lock);
    k->ctr = b[0];
    k->out = b[1];
    k->out_full = b[2];
    k->pending_cmd = b[3];
    pthread_mutex_unlock(&k->lock);
    return 0;
}
