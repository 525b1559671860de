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

static void set_used_flags(const struct virtq *q, uint16_t v)
{
    *(volatile uint16_t *)q->used = v;
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
    free(q->pop_pos);
    q->inflight = NULL;
    q->scratch = NULL;
    q->pop_pos = NULL;
}

void virtq_reset(struct virtq *q)
{
    pthread_mutex_lock(&q->lock);
    drop_inflight(q);
    q->ready = q->broken = q->event_idx = q->indirect = q->signalled_valid = false;
    q->no_notify = false;
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
    uint16_t *pop_pos = calloc(num, sizeof(*pop_pos));
    if (!scratch || !inflight || !pop_pos) {
        free(scratch);
        free(inflight);
        free(pop_pos);
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
    q->pop_pos = pop_pos;
    q->last_avail = q->used_idx = q->signalled_used = 0;
    q->signalled_valid = false;
    q->no_notify = false;
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
    /* Notifications on, whatever the saved VM's device had asked: the
     * restored device starts without that wish (it may ask again), and a
     * suppression left in the rings would keep the driver from ever
     * notifying it. */
    q->no_notify = false;
    if (q->event_idx)
        set_avail_event(q, q->last_avail);
    else
        set_used_flags(q, 0);
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
        /* Padding included: it is the struct's room to grow (host.h), so
         * it must read as zero to a plugin of a later minor. */
        struct plugvm_iov *v = &q->scratch[n++];
        memset(v, 0, sizeof(*v));
        v->addr = hva;
        v->len = d.len;
        v->writable = w;
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
    struct plugvm_chain c = {0};
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
    q->pop_pos[head] = q->last_avail;
    q->last_avail++;
    if (q->event_idx && !q->no_notify) {
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

int virtq_push_many(struct virtq *q, const struct plugvm_chain *const *c, const uint32_t *written,
                    uint32_t n)
{
    pthread_mutex_lock(&q->lock);
    if (!q->ready || n > q->num) {
        pthread_mutex_unlock(&q->lock);
        return -EINVAL;
    }
    /* Every chain checked before any is pushed: each in flight, none
     * twice (a chain is taken out of flight as it is checked, and put
     * back if a later one fails), so a bad batch changes nothing. */
    uint32_t ok = 0;
    for (; ok < n; ok++) {
        const struct plugvm_chain *x = c[ok];
        if (x->head >= q->num || !q->inflight[x->head] || q->inflight[x->head] != x->iov)
            break;
        q->inflight[x->head] = NULL;
    }
    if (ok < n) {
        while (ok--)
            q->inflight[c[ok]->head] = c[ok]->iov;
        pthread_mutex_unlock(&q->lock);
        return -EINVAL;
    }
    uint16_t idx = q->used_idx;
    for (uint32_t i = 0; i < n; i++, idx++) {
        uint32_t w = written[i] > c[i]->writable_bytes ? c[i]->writable_bytes : written[i];
        free(c[i]->iov);
        volatile uint8_t *e = q->used + 4 + 8 * (size_t)(idx & (q->num - 1));
        *(volatile uint32_t *)e = c[i]->head;
        *(volatile uint32_t *)(e + 4) = w;
    }
    /* §2.7.13.3.1: the entries are visible before the index that publishes
     * them; one index store publishes the whole batch. */
    atomic_thread_fence(memory_order_release);
    q->used_idx = idx;
    *used_idx_ptr(q) = idx;
    pthread_mutex_unlock(&q->lock);
    return 0;
}

int virtq_push(struct virtq *q, const struct plugvm_chain *c, uint32_t written)
{
    return virtq_push_many(q, &c, &written, 1);
}

int virtq_unpop(struct virtq *q, const struct plugvm_chain *c)
{
    pthread_mutex_lock(&q->lock);
    /* Only the chain taken at the avail slot just before last_avail, as
     * our own record says (pop_pos), never the guest's ring, which it may
     * have rewritten since: the next pop then reads that slot again. */
    if (!q->ready || c->head >= q->num || !q->inflight[c->head] ||
        q->inflight[c->head] != c->iov || q->pop_pos[c->head] != (uint16_t)(q->last_avail - 1)) {
        pthread_mutex_unlock(&q->lock);
        return -EINVAL;
    }
    free(q->inflight[c->head]);
    q->inflight[c->head] = NULL;
    q->last_avail--;
    if (q->event_idx && !q->no_notify)
        set_avail_event(q, q->last_avail);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

int virtq_set_notify(struct virtq *q, bool enable)
{
    pthread_mutex_lock(&q->lock);
    if (!q->ready) {
        pthread_mutex_unlock(&q->lock);
        return -EINVAL;
    }
    q->no_notify = !enable;
    /* §2.7.7 / §2.7.10: with EVENT_IDX, avail_event is left behind while
     * off (the driver notifies only when its index passes it) and brought
     * to last_avail when back on; without it, the used ring's flag. */
    if (q->event_idx) {
        if (enable)
            set_avail_event(q, q->last_avail);
    } else {
        set_used_flags(q, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
    }
    /* The wish must be visible before we look at the avail index, or a
     * chain added in between gets neither a notify nor a look. */
    atomic_thread_fence(memory_order_seq_cst);
    int more = !q->broken && avail_idx(q) != q->last_avail;
    pthread_mutex_unlock(&q->lock);
    return enable ? more : 0;
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
