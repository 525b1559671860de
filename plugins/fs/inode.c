/* SPDX-License-Identifier: Apache-2.0 */
#include "inode.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <unistd.h>

#define ROOT_SLOT 1u

static uint32_t hash_key(dev_t dev, ino_t ino, uint32_t nbuckets)
{
    uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;
    return (uint32_t)(h >> 32) & (nbuckets - 1);
}

static void hash_insert(struct fs_inodes *t, struct fs_inode *i)
{
    uint32_t b = hash_key(i->dev, i->ino, t->nbuckets);
    i->hnext = t->buckets[b];
    t->buckets[b] = i;
}

static void hash_remove(struct fs_inodes *t, struct fs_inode *i)
{
    struct fs_inode **pp = &t->buckets[hash_key(i->dev, i->ino, t->nbuckets)];
    while (*pp && *pp != i)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = i->hnext;
    i->hnext = NULL;
}

static struct fs_inode *hash_find(struct fs_inodes *t, dev_t dev, ino_t ino)
{
    for (struct fs_inode *i = t->buckets[hash_key(dev, ino, t->nbuckets)]; i; i = i->hnext)
        if (i->dev == dev && i->ino == ino)
            return i;
    return NULL;
}

/* Slot index and generation of a nodeid; 0 when it cannot name a live
 * slot. */
static uint32_t slot_of(struct fs_inodes *t, uint64_t nodeid)
{
    uint32_t idx = (uint32_t)nodeid, gen = (uint32_t)(nodeid >> 32);
    if (idx == 0 || idx >= t->nslots || !t->slots[idx].ino || t->slots[idx].gen != gen)
        return 0;
    return idx;
}

int fs_inodes_init(struct fs_inodes *t, int root_fd, const struct stat *st)
{
    *t = (struct fs_inodes){0};
    t->cap = 64;
    t->nbuckets = 64;
    t->slots = calloc(t->cap, sizeof(*t->slots));
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    struct fs_inode *root = calloc(1, sizeof(*root));
    if (!t->slots || !t->buckets || !root) {
        free(t->slots);
        free(t->buckets);
        free(root);
        return -ENOMEM;
    }
    pthread_mutex_init(&t->lock, NULL);
    *root = (struct fs_inode){.fd = root_fd, .dev = st->st_dev, .ino = st->st_ino,
                              .type = st->st_mode & S_IFMT, .nodeid = FUSE_ROOT_ID,
                              .nlookup = 1, .refs = 1, .hashed = true};
    t->slots[ROOT_SLOT] = (struct fs_inode_slot){.ino = root, .gen = 0};
    t->nslots = 2;
    t->count = 1;
    hash_insert(t, root);
    return 0;
}

static void free_record(struct fs_inode *i)
{
    close(i->fd);
    free(i);
}

void fs_inodes_fini(struct fs_inodes *t)
{
    if (!t->slots)
        return;
    for (uint32_t k = 1; k < t->nslots; k++)
        if (t->slots[k].ino)
            free_record(t->slots[k].ino);
    free(t->slots);
    free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    *t = (struct fs_inodes){0};
}

struct fs_inode *fs_inode_get(struct fs_inodes *t, uint64_t nodeid)
{
    pthread_mutex_lock(&t->lock);
    uint32_t idx = slot_of(t, nodeid);
    struct fs_inode *i = idx ? t->slots[idx].ino : NULL;
    if (i)
        i->refs++;
    pthread_mutex_unlock(&t->lock);
    return i;
}

void fs_inode_put(struct fs_inodes *t, struct fs_inode *i)
{
    if (!i)
        return;
    pthread_mutex_lock(&t->lock);
    bool last = --i->refs == 0;
    pthread_mutex_unlock(&t->lock);
    if (last)
        free_record(i);
}

/* Takes the record out of the table: its slot's generation moves on at
 * once, so its nodeid is stale from here even while a request still uses
 * the record. Called with the lock held; returns whether the table's ref
 * was the last one (the caller frees then, outside the lock). */
static bool unhash(struct fs_inodes *t, struct fs_inode *i)
{
    uint32_t idx = (uint32_t)i->nodeid;
    hash_remove(t, i);
    i->hashed = false;
    i->nlookup = 0;
    t->slots[idx].ino = NULL;
    /* Generation 0 belongs to the root's nodeid; skipping it keeps any
     * other slot from ever issuing a nodeid of the form 0:idx. */
    if (++t->slots[idx].gen == 0)
        t->slots[idx].gen = 1;
    t->slots[idx].next_free = t->free_head;
    t->free_head = idx;
    t->count--;
    return --i->refs == 0;
}

static int grow(struct fs_inodes *t)
{
    if (t->cap >= FS_MAX_INODES)
        return -ENFILE;
    uint32_t ncap = t->cap * 2;
    struct fs_inode_slot *ns = realloc(t->slots, ncap * sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (uint32_t k = t->cap; k < ncap; k++)
        ns[k] = (struct fs_inode_slot){.gen = 1};
    t->slots = ns;
    t->cap = ncap;
    /* Buckets follow the slots so chains stay short. */
    struct fs_inode **nb = calloc(ncap, sizeof(*nb));
    if (nb) {
        struct fs_inode **ob = t->buckets;
        uint32_t on = t->nbuckets;
        t->buckets = nb;
        t->nbuckets = ncap;
        for (uint32_t b = 0; b < on; b++)
            for (struct fs_inode *i = ob[b], *n; i; i = n) {
                n = i->hnext;
                hash_insert(t, i);
            }
        free(ob);
    }
    return 0;
}

int fs_inode_add(struct fs_inodes *t, int fd, const struct stat *st, bool must_exist,
                 uint64_t *nodeid)
{
    pthread_mutex_lock(&t->lock);
    struct fs_inode *i = hash_find(t, st->st_dev, st->st_ino);
    if (i) {
        i->nlookup++;
        *nodeid = i->nodeid;
        pthread_mutex_unlock(&t->lock);
        close(fd);
        return 0;
    }
    int err = must_exist ? -ENOENT : 0;
    uint32_t idx = 0;
    if (!err) {
        if (t->free_head) {
            idx = t->free_head;
            t->free_head = t->slots[idx].next_free;
        } else if (t->nslots < t->cap || !(err = grow(t))) {
            idx = t->nslots++;
            t->slots[idx].gen = 1;
        }
    }
    if (!err) {
        i = malloc(sizeof(*i));
        if (!i) {
            t->slots[idx].next_free = t->free_head;
            t->free_head = idx;
            err = -ENOMEM;
        }
    }
    if (err) {
        pthread_mutex_unlock(&t->lock);
        close(fd);
        return err;
    }
    *i = (struct fs_inode){.fd = fd, .dev = st->st_dev, .ino = st->st_ino,
                           .type = st->st_mode & S_IFMT,
                           .nodeid = (uint64_t)t->slots[idx].gen << 32 | idx,
                           .nlookup = 1, .refs = 1, .hashed = true};
    t->slots[idx].ino = i;
    hash_insert(t, i);
    t->count++;
    *nodeid = i->nodeid;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

int fs_inode_ref(struct fs_inodes *t, struct fs_inode *i)
{
    pthread_mutex_lock(&t->lock);
    int err = i->hashed ? 0 : -ESTALE;
    if (!err)
        i->nlookup++;
    pthread_mutex_unlock(&t->lock);
    return err;
}

void fs_inode_forget(struct fs_inodes *t, uint64_t nodeid, uint64_t n)
{
    pthread_mutex_lock(&t->lock);
    uint32_t idx = slot_of(t, nodeid);
    struct fs_inode *i = idx ? t->slots[idx].ino : NULL;
    bool last = false;
    if (i && idx != ROOT_SLOT) {
        /* A count larger than what we handed out is the guest's mistake;
         * it ends the record rather than wrapping to a huge count. */
        i->nlookup = n >= i->nlookup ? 0 : i->nlookup - n;
        if (!i->nlookup)
            last = unhash(t, i);
    }
    pthread_mutex_unlock(&t->lock);
    if (last)
        free_record(i);
}

void fs_inodes_drop_all(struct fs_inodes *t)
{
    pthread_mutex_lock(&t->lock);
    struct fs_inode *dead = NULL;
    for (uint32_t k = ROOT_SLOT + 1; k < t->nslots; k++) {
        struct fs_inode *i = t->slots[k].ino;
        if (i && unhash(t, i)) {
            i->hnext = dead;
            dead = i;
        }
    }
    pthread_mutex_unlock(&t->lock);
    while (dead) {
        struct fs_inode *n = dead->hnext;
        free_record(dead);
        dead = n;
    }
}

uint32_t fs_inodes_count(struct fs_inodes *t)
{
    pthread_mutex_lock(&t->lock);
    uint32_t c = t->count;
    pthread_mutex_unlock(&t->lock);
    return c;
}

uint64_t fs_inode_find(struct fs_inodes *t, dev_t dev, ino_t ino)
{
    pthread_mutex_lock(&t->lock);
    struct fs_inode *i = hash_find(t, dev, ino);
    uint64_t nodeid = i ? i->nodeid : 0;
    pthread_mutex_unlock(&t->lock);
    return nodeid;
}

static uint32_t next_gen(uint32_t gen)
{
    return gen + 1 ? gen + 1 : 1; /* 0 is the root's, as in unhash() */
}

int fs_inodes_seed(struct fs_inodes *t, const struct fs_inode_seed *v, uint32_t n, uint32_t *bad)
{
    /* Checked first: the root's hnext is rewritten below, which is safe
     * only while it is alone in its chain (no request runs meanwhile). */
    if (fs_inodes_count(t) != 1)
        return -EBUSY;
    uint32_t top = ROOT_SLOT + 1, live = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t idx = (uint32_t)v[k].nodeid;
        if (idx <= ROOT_SLOT || idx >= FS_MAX_INODES || !(v[k].nodeid >> 32) || !v[k].nlookup) {
            *bad = k;
            return -EINVAL;
        }
        top = idx + 1 > top ? idx + 1 : top;
        live += v[k].fd >= 0;
    }
    uint32_t cap = 64;
    while (cap < top)
        cap *= 2; /* as grow() would have: FS_MAX_INODES is a power of two */
    /* Built aside and swapped in, so a refusal halfway leaves the table as
     * it was. */
    struct fs_inode_slot *slots = calloc(cap, sizeof(*slots));
    struct fs_inodes nt = {.nbuckets = cap, .buckets = calloc(cap, sizeof(struct fs_inode *))};
    struct fs_inode **recs = calloc(n ? n : 1, sizeof(*recs));
    int err = slots && nt.buckets && recs ? 0 : -ENOMEM;
    for (uint32_t k = 0; !err && k < n; k++)
        if (v[k].fd >= 0 && !(recs[k] = malloc(sizeof(**recs))))
            err = -ENOMEM;
    struct fs_inode *root = t->slots[ROOT_SLOT].ino;
    if (!err) {
        for (uint32_t k = ROOT_SLOT + 1; k < cap; k++)
            slots[k].gen = 1;
        slots[ROOT_SLOT].ino = root;
        hash_insert(&nt, root);
    }
    /* next_free marks a slot taken until the free list is built. */
    for (uint32_t k = 0; !err && k < n; k++) {
        uint32_t idx = (uint32_t)v[k].nodeid, gen = (uint32_t)(v[k].nodeid >> 32);
        struct fs_inode *i = recs[k];
        if (slots[idx].next_free)
            err = -EINVAL;
        else if (i && hash_find(&nt, v[k].dev, v[k].ino))
            err = -EEXIST;
        if (err) {
            *bad = k;
            break;
        }
        /* A lost inode's slot moves on to the generation no nodeid the
         * guest holds has. */
        slots[idx] = (struct fs_inode_slot){.ino = i, .gen = i ? gen : next_gen(gen),
                                            .next_free = 1};
        if (!i)
            continue;
        *i = (struct fs_inode){.fd = v[k].fd, .dev = v[k].dev, .ino = v[k].ino, .type = v[k].type,
                               .nodeid = v[k].nodeid, .nlookup = v[k].nlookup, .refs = 1,
                               .hashed = true};
        hash_insert(&nt, i);
    }
    if (err) {
        root->hnext = NULL; /* the old table's only record, alone in its chain */
        for (uint32_t k = 0; recs && k < n; k++)
            free(recs[k]);
        free(recs);
        free(slots);
        free(nt.buckets);
        return err;
    }
    uint32_t head = 0;
    for (uint32_t k = top - 1; k > ROOT_SLOT; k--) {
        slots[k].next_free = 0;
        if (!slots[k].ino) {
            slots[k].next_free = head;
            head = k;
        }
    }
    pthread_mutex_lock(&t->lock);
    free(t->slots);
    free(t->buckets);
    t->slots = slots;
    t->nslots = top;
    t->cap = cap;
    t->free_head = head;
    t->buckets = nt.buckets;
    t->nbuckets = cap;
    t->count = 1 + live;
    pthread_mutex_unlock(&t->lock);
    free(recs);
    return 0;
}
