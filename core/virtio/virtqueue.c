/* SPDX-License-Identifier: Apache-2.0 */
#include "virtqueue.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Ring field accessors. The guest may change any of these at any moment;
 * volatile makes each a single load or store (no tearing, no refetch). */
static uint16_t avail_flags(const struct virtq *q) { return q->avail[0]; }
static uint16_t avail_idx(const struct virtq *q) { return q->avail[1]; }
static uint16_t avail_ring(const struct virtq *q, uint16_t i) { return q->avail[2 + i]; }
static uint16_t used_event(const struct virtq *q) { return q->avail[2 + q->num]; }

static volatile uint16_t *used_idx_ptr(const struct virtq *q)
{
    return (volatile uint16_t *)(q->used + 2);
}

static void set_avail_event(const struct virtq *q, uint16_t v)
{
    *(volatile uint16_t *)(q->used + 4 + 8 * (size_t)q->num) = v;
}

void virtq_init(struct virtq *q)
{
    memset(q, 0, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
}

static void drop_inflight(struct virtq *q)
{
    if (q->inflight)
        for (uint32_t i = 0; i < q->num; i++)
            free(q->inflight[i]);
    free(q->inflight);
    free(q->scratch);
    q->inflight = NULL;
    q->scratch = NULL;
}

void virtq_reset(struct virtq *q)
{
    pthread_mutex_lock(&q->lock);
    drop_inflight(q);
    q->ready = q->broken = q->event_idx = q->indirect = q->signalled_valid = false;
    q->num = 0;
    q->desc = NULL;
    q->avail = NULL;
    q->used = NULL;
    q->last_avail = q->used_idx = q->signalled_used = 0;
    pthread_mutex_unlock(&q->lock);
}

void virtq_destroy(struct virtq *q)
{
    virtq_reset(q);
    pthread_mutex_destroy(&q->lock);
}

int virtq_setup(struct virtq *q, const struct guest_mem *mem, uint16_t num, uint64_t desc_gpa,
                uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect)
{
    if (num == 0 || (num & (num - 1)) || num > 32768)
        return -EINVAL;
    /* §2.7: alignment 16 for the table, 2 for the driver area, 4 for the
     * device area; sizes with the event fields included. */
    if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
        return -EINVAL;
    void *desc = guest_mem_ptr(mem, desc_gpa, 16ull * num);
    void *avail = guest_mem_ptr(mem, avail_gpa, 6 + 2ull * num);
    void *used = guest_mem_ptr(mem, used_gpa, 6 + 8ull * num);
    if (!desc || !avail || !used)
        return -EINVAL;
    struct plugvm_iov *scratch = calloc(num, sizeof(*scratch));
    struct plugvm_iov **inflight = calloc(num, sizeof(*inflight));
    if (!scratch || !inflight) {
        free(scratch);
        free(inflight);
        return -ENOMEM;
    }
    pthread_mutex_lock(&q->lock);
    drop_inflight(q);
    q->mem = mem;
    q->num = num;
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    q->event_idx = event_idx;
    q->indirect = indirect;
    q->scratch = scratch;
    q->inflight = inflight;
    q->last_avail = q->used_idx = q->signalled_used = 0;
    q->signalled_valid = false;
    q->broken = false;
    q->ready = true;
    pthread_mutex_unlock(&q->lock);
    return 0;
}

uint32_t virtq_avail_count(struct virtq *q)
{
    pthread_mutex_lock(&q->lock);
    uint32_t n = 0;
    if (q->ready && !q->broken) {
        uint16_t idx = avail_idx(q);
        n = (uint16_t)(idx - q->last_avail);
        if (n > q->num)
            n = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

bool virtq_get_cursors(struct virtq *q, struct virtq_cursors *c)
{
    pthread_mutex_lock(&q->lock);
    bool idle = true;
    for (uint32_t i = 0; q->inflight && i < q->num; i++)
        idle &= q->inflight[i] == NULL;
    *c = (struct virtq_cursors){q->last_avail, q->used_idx, q->signalled_used,
                                q->signalled_valid, q->broken};
    pthread_mutex_unlock(&q->lock);
    return idle;
}

void virtq_set_cursors(struct virtq *q, const struct virtq_cursors *c)
{
    pthread_mutex_lock(&q->lock);
    q->last_avail = c->last_avail;
    q->used_idx = c->used_idx;
    q->signalled_used = c->signalled_used;
    q->signalled_valid = c->signalled_valid;
    q->broken = c->broken;
    pthread_mutex_unlock(&q->lock);
}

/* Walks the chain at `head` into q->scratch. Returns the number of
 * buffers, or -1 when the chain is invalid. Bounded: at most num
 * descriptors are visited in all, so a loop cannot hang us (§2.7.5.3.1:
 * a chain is never longer than the queue size). */
static int walk(struct virtq *q, uint16_t head, struct plugvm_chain *c)
{
    const volatile uint8_t *table = (const volatile uint8_t *)q->desc;
    uint32_t table_len = q->num, i = head, n = 0;
    bool in_indirect = false, seen_writable = false;
    uint64_t readable = 0, writable = 0;
    for (;;) {
        if (i >= table_len)
            return -1;
        /* One copy, then only the copy is looked at: the guest may rewrite
         * the descriptor while we check it. Indirect tables need no
         * alignment (§2.7.5.3), hence a byte copy. */
        struct virtq_desc d;
        memcpy(&d, (const void *)(table + (size_t)i * sizeof(d)), sizeof(d));
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            /* §2.7.5.3: only with the feature, never nested, never with
             * NEXT, a whole number of descriptors. */
            if (!q->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT) || d.len == 0 ||
                d.len % sizeof(struct virtq_desc) || d.len / sizeof(struct virtq_desc) > q->num)
                return -1;
            table = guest_mem_ptr(q->mem, d.addr, d.len);
            if (!table)
                return -1;
            table_len = d.len / sizeof(struct virtq_desc);
            in_indirect = true;
            i = 0;
            continue;
        }
        if (n == q->num)
            return -1;
        void *hva = guest_mem_ptr(q->mem, d.addr, d.len);
        if (!hva)
            return -1;
        bool w = d.flags & VIRTQ_DESC_F_WRITE;
        if (!w && seen_writable)
            return -1; /* §2.7.4.2: readable buffers come first */
        seen_writable |= w;
        if (w)
            writable += d.len;
        else
            readable += d.len;
        if (readable > UINT32_MAX || writable > UINT32_MAX)
            return -1;
        q->scratch[n++] = (struct plugvm_iov){hva, d.len, w};
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        i = d.next;
    }
    c->head = head;
    c->niov = (uint16_t)n;
    c->readable_bytes = (uint32_t)readable;
    c->writable_bytes = (uint32_t)writable;
    return (int)n;
}

int virtq_pop(struct virtq *q, struct plugvm_chain *out)
{
    pthread_mutex_lock(&q->lock);
    int rc;
    if (!q->ready) {
        rc = -ENODEV;
        goto out;
    }
    if (q->broken) {
        rc = -EIO;
        goto out;
    }
    uint16_t idx = avail_idx(q);
    if (idx == q->last_avail) {
        rc = 0;
        goto out;
    }
    /* §2.7.6: the driver cannot have more than num entries outstanding. */
    if ((uint16_t)(idx - q->last_avail) > q->num)
        goto broken;
    /* §2.7.13.3: read the ring entry only after seeing the index. */
    atomic_thread_fence(memory_order_acquire);
    uint16_t head = avail_ring(q, q->last_avail & (q->num - 1));
    if (head >= q->num || q->inflight[head])
        goto broken;
    struct plugvm_chain c;
    int n = walk(q, head, &c);
    if (n < 0)
        goto broken;
    c.iov = malloc((size_t)(n ? n : 1) * sizeof(*c.iov));
    if (!c.iov) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(c.iov, q->scratch, (size_t)n * sizeof(*c.iov));
    q->inflight[head] = c.iov;
    q->last_avail++;
    if (q->event_idx) {
        /* §2.7.10: ask to be notified when the driver adds past this one. */
        set_avail_event(q, q->last_avail);
        atomic_thread_fence(memory_order_seq_cst);
    }
    *out = c;
    rc = 1;
    goto out;
broken:
    q->broken = true;
    rc = -EIO;
out:
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int virtq_push(struct virtq *q, const struct plugvm_chain *c, uint32_t written)
{
    pthread_mutex_lock(&q->lock);
    if (!q->ready || c->head >= q->num || !q->inflight[c->head] ||
        q->inflight[c->head] != c->iov) {
        pthread_mutex_unlock(&q->lock);
        return -EINVAL;
    }
    if (written > c->writable_bytes)
        written = c->writable_bytes;
    free(q->inflight[c->head]);
    q->inflight[c->head] = NULL;
    volatile uint8_t *e = q->used + 4 + 8 * (size_t)(q->used_idx & (q->num - 1));
    *(volatile uint32_t *)e = c->head;
    *(volatile uint32_t *)(e + 4) = written;
    /* §2.7.13.3.1: the entry is visible before the index that publishes it. */
    atomic_thread_fence(memory_order_release);
    *used_idx_ptr(q) = ++q->used_idx;
    pthread_mutex_unlock(&q->lock);
    return 0;
}

/* §2.7.10.1 vring_need_event: whether used_event lies in (old, new]. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_interrupt(struct virtq *q)
{
    pthread_mutex_lock(&q->lock);
    bool want = false;
    if (q->ready) {
        /* The used index must be visible before we read the driver's
         * suppression state, or both sides may decide not to act. */
        atomic_thread_fence(memory_order_seq_cst);
        uint16_t old = q->signalled_used, now = q->used_idx;
        if (q->event_idx)
            want = !q->signalled_valid || need_event(used_event(q), now, old);
        else
            want = !(avail_flags(q) & VIRTQ_AVAIL_F_NO_INTERRUPT);
        if (want) {
            q->signalled_used = now;
            q->signalled_valid = true;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return want;
}
