/* SPDX-License-Identifier: Apache-2.0 */
#include "handle.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

void fs_handles_init(struct fs_handles *t)
{
    *t = (struct fs_handles){0};
    pthread_mutex_init(&t->lock, NULL);
}

static void free_handle(struct fs_handle *h)
{
    close(h->fd);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void fs_handles_fini(struct fs_handles *t)
{
    for (uint32_t k = 1; k < t->nslots; k++)
        if (t->slots[k].h)
            free_handle(t->slots[k].h);
    free(t->slots);
    pthread_mutex_destroy(&t->lock);
    *t = (struct fs_handles){0};
}

int fs_handle_add(struct fs_handles *t, int fd, bool dir, uint64_t *fh)
{
    struct fs_handle *h = malloc(sizeof(*h));
    if (!h) {
        close(fd);
        return -ENOMEM;
    }
    *h = (struct fs_handle){.fd = fd, .dir = dir, .refs = 1};
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_lock(&t->lock);
    uint32_t idx = 0;
    int err = 0;
    if (t->free_head) {
        idx = t->free_head;
        t->free_head = t->slots[idx].next_free;
    } else if (t->nslots == 0 || t->nslots == t->cap) {
        uint32_t ncap = t->cap ? t->cap * 2 : 64;
        struct fs_handle_slot *ns = ncap > FS_MAX_HANDLES ? NULL : realloc(t->slots, ncap * sizeof(*ns));
        if (!ns) {
            err = ncap > FS_MAX_HANDLES ? -ENFILE : -ENOMEM;
        } else {
            for (uint32_t k = t->cap; k < ncap; k++)
                ns[k] = (struct fs_handle_slot){.gen = 1};
            t->slots = ns;
            t->cap = ncap;
            if (!t->nslots)
                t->nslots = 1;
        }
    }
    if (!err && !idx)
        idx = t->nslots++;
    if (err) {
        pthread_mutex_unlock(&t->lock);
        free_handle(h);
        return err;
    }
    h->fh = (uint64_t)t->slots[idx].gen << 32 | idx;
    t->slots[idx].h = h;
    t->count++;
    *fh = h->fh;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

static struct fs_handle *find(struct fs_handles *t, uint64_t fh, bool dir)
{
    uint32_t idx = (uint32_t)fh, gen = (uint32_t)(fh >> 32);
    if (idx == 0 || idx >= t->nslots)
        return NULL;
    struct fs_handle *h = t->slots[idx].h;
    if (!h || t->slots[idx].gen != gen || h->dir != dir)
        return NULL;
    return h;
}

struct fs_handle *fs_handle_get(struct fs_handles *t, uint64_t fh, bool dir)
{
    pthread_mutex_lock(&t->lock);
    struct fs_handle *h = find(t, fh, dir);
    if (h)
        h->refs++;
    pthread_mutex_unlock(&t->lock);
    return h;
}

void fs_handle_put(struct fs_handles *t, struct fs_handle *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&t->lock);
    bool last = --h->refs == 0;
    pthread_mutex_unlock(&t->lock);
    if (last)
        free_handle(h);
}

/* With the lock held: out of the table; true when the caller must free. */
static bool unlink_slot(struct fs_handles *t, uint32_t idx)
{
    struct fs_handle *h = t->slots[idx].h;
    t->slots[idx].h = NULL;
    if (++t->slots[idx].gen == 0)
        t->slots[idx].gen = 1;
    t->slots[idx].next_free = t->free_head;
    t->free_head = idx;
    t->count--;
    return --h->refs == 0;
}

int fs_handle_remove(struct fs_handles *t, uint64_t fh, bool dir)
{
    pthread_mutex_lock(&t->lock);
    struct fs_handle *h = find(t, fh, dir);
    bool last = h && unlink_slot(t, (uint32_t)fh);
    pthread_mutex_unlock(&t->lock);
    if (last)
        free_handle(h);
    return h ? 0 : -EBADF;
}

void fs_handles_drop_all(struct fs_handles *t)
{
    struct fs_handle *dead = NULL;
    pthread_mutex_lock(&t->lock);
    for (uint32_t k = 1; k < t->nslots; k++) {
        struct fs_handle *h = t->slots[k].h;
        if (h && unlink_slot(t, k)) {
            h->next = dead;
            dead = h;
        }
    }
    pthread_mutex_unlock(&t->lock);
    while (dead) {
        struct fs_handle *n = dead->next;
        free_handle(dead);
        dead = n;
    }
}

uint32_t fs_handles_count(struct fs_handles *t)
{
    pthread_mutex_lock(&t->lock);
    uint32_t c = t->count;
    pthread_mutex_unlock(&t->lock);
    return c;
}

int fs_handles_seed(struct fs_handles *t, const struct fs_handle_seed *v, uint32_t n)
{
    if (fs_handles_count(t))
        return -EBUSY;
    if (!n)
        return 0;
    uint32_t top = 1;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t idx = (uint32_t)v[k].fh;
        if (idx == 0 || idx >= FS_MAX_HANDLES || !(v[k].fh >> 32))
            return -EINVAL;
        top = idx + 1 > top ? idx + 1 : top;
    }
    uint32_t cap = 64;
    while (cap < top)
        cap *= 2; /* as fs_handle_add() would have grown it */
    /* Built aside and swapped in: a refusal leaves the table as it was. */
    struct fs_handle_slot *slots = calloc(cap, sizeof(*slots));
    struct fs_handle **hs = calloc(n, sizeof(*hs));
    int err = slots && hs ? 0 : -ENOMEM;
    for (uint32_t k = 0; !err && k < n; k++)
        if (v[k].fd >= 0 && !(hs[k] = malloc(sizeof(**hs))))
            err = -ENOMEM;
    for (uint32_t k = 1; !err && k < cap; k++)
        slots[k].gen = 1;
    /* next_free marks a slot taken until the free list is built. */
    for (uint32_t k = 0; !err && k < n; k++) {
        uint32_t idx = (uint32_t)v[k].fh, gen = (uint32_t)(v[k].fh >> 32);
        if (slots[idx].next_free) {
            err = -EINVAL;
            break;
        }
        /* A lost fh's slot moves on past the generation the guest holds. */
        uint32_t g = hs[k] ? gen : gen + 1 ? gen + 1 : 1;
        slots[idx] = (struct fs_handle_slot){.h = hs[k], .gen = g, .next_free = 1};
    }
    if (err) {
        for (uint32_t k = 0; hs && k < n; k++)
            free(hs[k]);
        free(hs);
        free(slots);
        return err;
    }
    uint32_t head = 0, live = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (!hs[k])
            continue;
        *hs[k] = (struct fs_handle){.fd = v[k].fd, .dir = v[k].dir, .refs = 1, .fh = v[k].fh};
        pthread_mutex_init(&hs[k]->lock, NULL);
        live++;
    }
    for (uint32_t k = top - 1; k > 0; k--) {
        slots[k].next_free = 0;
        if (!slots[k].h) {
            slots[k].next_free = head;
            head = k;
        }
    }
    pthread_mutex_lock(&t->lock);
    free(t->slots);
    t->slots = slots;
    t->nslots = top;
    t->cap = cap;
    t->free_head = head;
    t->count = live;
    pthread_mutex_unlock(&t->lock);
    free(hs);
    return 0;
}
