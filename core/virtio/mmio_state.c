/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transport's part of a snapshot: driver-written registers, the
 * device status, interrupt status, and each queue's addresses and
 * cursors (docs/SNAPSHOT.md). The device's own state is its plugin's
 * record; nothing here knows what the device is.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "virtio/mmio.h"

int virtio_mmio_save(struct virtio_mmio *t, struct plugvm_record_writer *w, char *err,
                     size_t errlen)
{
    const struct plugvm_record_writer_ops *o = w->ops;
    pthread_mutex_lock(&t->lock);
    struct virtq_cursors cur[VIRTIO_MMIO_MAX_QUEUES];
    for (uint32_t q = 0; q < t->num_queues; q++) {
        if (!virtq_get_cursors(&t->vq[q], &cur[q])) {
            pthread_mutex_unlock(&t->lock);
            return pv_fail(err, errlen, "queue %u has a request in flight: the device was not "
                           "quiesced", q);
        }
    }
    o->begin(w, VIRTIO_MMIO_RECORD_TAG, VIRTIO_MMIO_RECORD_VERSION);
    o->put_u32(w, t->device_id);
    o->put_u32(w, t->num_queues);
    o->put_u32(w, t->dev_features_sel);
    o->put_u32(w, t->drv_features_sel);
    o->put_u32(w, t->queue_sel);
    o->put_u32(w, t->shm_sel);
    o->put_u64(w, t->driver_features);
    o->put_u32(w, t->status);
    o->put_u32(w, atomic_load(&t->interrupt_status));
    o->put_u32(w, atomic_load(&t->config_generation));
    o->put_u8(w, atomic_load(&t->needs_reset));
    for (uint32_t q = 0; q < t->num_queues; q++) {
        o->put_u32(w, t->qreg[q].num);
        o->put_u64(w, t->qreg[q].desc);
        o->put_u64(w, t->qreg[q].driver);
        o->put_u64(w, t->qreg[q].device);
        o->put_u8(w, t->qreg[q].ready);
        o->put_u16(w, cur[q].last_avail);
        o->put_u16(w, cur[q].used_idx);
        o->put_u16(w, cur[q].signalled_used);
        o->put_u8(w, cur[q].signalled_valid);
        o->put_u8(w, cur[q].broken);
    }
    pthread_mutex_unlock(&t->lock);
    int rc = o->end(w);
    return rc ? pv_fail(err, errlen, "cannot write the transport record: %s", strerror(-rc)) : 0;
}

int virtio_mmio_restore(struct virtio_mmio *t, struct plugvm_record_reader *r, char *err,
                        size_t errlen)
{
    const struct plugvm_record_reader_ops *o = r->ops;
    uint32_t version, device_id, nq, sel[4], status, isr, gen;
    uint64_t features;
    uint8_t needs_reset;
    if (o->open(r, VIRTIO_MMIO_RECORD_TAG, &version))
        return pv_fail(err, errlen, "no virtio-mmio transport record");
    if (version != VIRTIO_MMIO_RECORD_VERSION)
        return pv_fail(err, errlen, "virtio-mmio transport record version %u; this plugvm "
                       "reads version %u", version, VIRTIO_MMIO_RECORD_VERSION);
    if (o->get_u32(r, &device_id) || o->get_u32(r, &nq) || o->get_u32(r, &sel[0]) ||
        o->get_u32(r, &sel[1]) || o->get_u32(r, &sel[2]) || o->get_u32(r, &sel[3]) ||
        o->get_u64(r, &features) || o->get_u32(r, &status) || o->get_u32(r, &isr) ||
        o->get_u32(r, &gen) || o->get_u8(r, &needs_reset))
        return pv_fail(err, errlen, "the virtio-mmio transport record is truncated");
    if (device_id != t->device_id || nq != t->num_queues)
        return pv_fail(err, errlen, "the snapshot has virtio device %u with %u queues here; "
                       "the config gives device %u with %u queues", device_id, nq,
                       t->device_id, t->num_queues);
    if (features & ~t->offered)
        return pv_fail(err, errlen, "the driver had accepted features 0x%llx that this device "
                       "does not offer (0x%llx)", (unsigned long long)features,
                       (unsigned long long)t->offered);
    if (status & ~0xffu)
        return pv_fail(err, errlen, "device status 0x%x is not a status", status);
    /* The live transport reaches DRIVER_OK, or a ready queue, only through
     * FEATURES_OK, and reads the rings with EVENT_IDX and INDIRECT_DESC
     * only from features it accepted; a record saying otherwise (written
     * before that held, or not by plugvm) would have the rings read with
     * features the driver never had accepted. */
    bool negotiated = status & VIRTIO_STATUS_FEATURES_OK;
    if ((status & VIRTIO_STATUS_DRIVER_OK) && !negotiated)
        return pv_fail(err, errlen, "device status 0x%x has DRIVER_OK without FEATURES_OK",
                       status);

    pthread_mutex_lock(&t->lock);
    t->dev_features_sel = sel[0];
    t->drv_features_sel = sel[1];
    t->queue_sel = sel[2];
    t->shm_sel = sel[3];
    t->driver_features = features;
    bool ev = features & (1ull << VIRTIO_F_EVENT_IDX);
    bool ind = features & (1ull << VIRTIO_F_INDIRECT_DESC);
    int failed = 0;
    for (uint32_t q = 0; q < nq && !failed; q++) {
        uint32_t num;
        uint8_t ready, valid, broken;
        struct virtq_cursors c;
        if (o->get_u32(r, &num) || o->get_u64(r, &t->qreg[q].desc) ||
            o->get_u64(r, &t->qreg[q].driver) || o->get_u64(r, &t->qreg[q].device) ||
            o->get_u8(r, &ready) || o->get_u16(r, &c.last_avail) || o->get_u16(r, &c.used_idx) ||
            o->get_u16(r, &c.signalled_used) || o->get_u8(r, &valid) || o->get_u8(r, &broken)) {
            failed = pv_fail(err, errlen, "the virtio-mmio transport record is truncated at "
                             "queue %u", q);
            break;
        }
        t->qreg[q].num = num;
        if (!ready)
            continue;
        if (!negotiated) {
            failed = pv_fail(err, errlen, "queue %u is ready but the device status 0x%x has no "
                             "FEATURES_OK", q, status);
            break;
        }
        if (num == 0 || num > t->queue_max ||
            virtq_setup(&t->vq[q], t->mem, (uint16_t)num, t->qreg[q].desc, t->qreg[q].driver,
                        t->qreg[q].device, ev, ind)) {
            failed = pv_fail(err, errlen, "queue %u: %u entries at 0x%llx/0x%llx/0x%llx do not "
                             "fit this device and guest memory", q, num,
                             (unsigned long long)t->qreg[q].desc,
                             (unsigned long long)t->qreg[q].driver,
                             (unsigned long long)t->qreg[q].device);
            break;
        }
        c.signalled_valid = valid;
        c.broken = broken;
        virtq_set_cursors(&t->vq[q], &c);
        t->qreg[q].ready = true;
    }
    if (!failed && o->close(r))
        failed = pv_fail(err, errlen, "the virtio-mmio transport record has bytes this plugvm "
                         "does not read");
    if (!failed && (status & VIRTIO_STATUS_DRIVER_OK) && !needs_reset &&
        t->be->activate(t->dev, features & ~VIRTIO_TRANSPORT_FEATURES_MASK) != 0)
        failed = pv_fail(err, errlen, "the device could not be activated with features 0x%llx",
                         (unsigned long long)features);
    if (failed) {
        /* As virtio_mmio_init left it: a caller that went on anyway must
         * find a device in reset, not selectors of a device it never had. */
        for (uint32_t q = 0; q < nq; q++) {
            virtq_reset(&t->vq[q]);
            memset(&t->qreg[q], 0, sizeof(t->qreg[q]));
        }
        t->driver_features = 0;
        t->dev_features_sel = t->drv_features_sel = t->queue_sel = t->shm_sel = 0;
        pthread_mutex_unlock(&t->lock);
        return -1;
    }
    t->status = status;
    atomic_store(&t->interrupt_status, isr);
    atomic_store(&t->config_generation, gen);
    atomic_store(&t->needs_reset, needs_reset != 0);
    pthread_mutex_unlock(&t->lock);
    return 0;
}
