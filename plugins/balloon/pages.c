/* SPDX-License-Identifier: Apache-2.0 */
#include "pages.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool test_bit(const uint64_t *b, uint64_t i)
{
    return (b[i / 64] >> (i % 64)) & 1;
}

static void set_bit(uint64_t *b, uint64_t i, bool on)
{
    if (on)
        b[i / 64] |= 1ull << (i % 64);
    else
        b[i / 64] &= ~(1ull << (i % 64));
}

int balloon_pages_init(struct balloon_pages *p, const struct plugvm_host *h, uint64_t ram_bytes)
{
    memset(p, 0, sizeof(*p));
    p->host = h;
    /* PFNs up to RAM's size plus 4 GiB: room for a layout that puts RAM
     * around holes of up to 4 GiB in all (x86's is 1 GiB below 4 GiB).
     * gpa_to_hva decides what is RAM; this only bounds the bitmap. */
    p->npfn = ram_bytes / BALLOON_PAGE + (4ull << 30) / BALLOON_PAGE;
    p->inflated = calloc((size_t)((p->npfn + 63) / 64), sizeof(uint64_t));
    if (!p->inflated)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    return 0;
}

void balloon_pages_fini(struct balloon_pages *p)
{
    if (!p->inflated)
        return;
    free(p->inflated);
    p->inflated = NULL;
    pthread_mutex_destroy(&p->lock);
}

void balloon_pages_clear(struct balloon_pages *p)
{
    pthread_mutex_lock(&p->lock);
    memset(p->inflated, 0, (size_t)((p->npfn + 63) / 64) * sizeof(uint64_t));
    p->count = 0;
    pthread_mutex_unlock(&p->lock);
}

uint64_t balloon_pages_count(struct balloon_pages *p)
{
    pthread_mutex_lock(&p->lock);
    uint64_t n = p->count;
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* Adjacent inflated pages, discarded in one call. */
struct run {
    uint8_t *hva;
    uint64_t len, first_pfn;
};

static void refuse(struct balloon_refusals *r, uint32_t *counter, uint64_t pfn)
{
    if (!r->outside && !r->twice && !r->not_inflated && !r->failed)
        r->first_pfn = pfn;
    (*counter)++;
}

static void flush(struct balloon_pages *p, struct run *run, struct balloon_refusals *r)
{
    if (!run->len)
        return;
    if (p->host->discard_ram(p->host, run->hva, run->len)) {
        /* Cannot happen for pages gpa_to_hva gave; kept out of the set so
         * that the count stays what the host really got. */
        for (uint64_t i = 0; i < run->len / BALLOON_PAGE; i++) {
            set_bit(p->inflated, run->first_pfn + i, false);
            p->count--;
            refuse(r, &r->failed, run->first_pfn + i);
        }
    }
    run->len = 0;
}

static uint32_t one_pfn(struct balloon_pages *p, uint32_t pfn, bool deflate, struct run *run,
                        struct balloon_refusals *r)
{
    uint64_t gpa = (uint64_t)pfn << 12;
    uint8_t *hva = pfn < p->npfn ? p->host->gpa_to_hva(p->host, gpa, BALLOON_PAGE) : NULL;
    if (!hva) {
        refuse(r, &r->outside, pfn);
        return 0;
    }
    bool in = test_bit(p->inflated, pfn);
    if (deflate) {
        if (!in) {
            refuse(r, &r->not_inflated, pfn);
            return 0;
        }
        /* Nothing to map: the page faults back in, zeroed (or as the
         * snapshot had it), the first time the guest touches it. */
        set_bit(p->inflated, pfn, false);
        p->count--;
        return 1;
    }
    if (in) {
        refuse(r, &r->twice, pfn);
        return 0;
    }
    set_bit(p->inflated, pfn, true);
    p->count++;
    if (run->len && run->hva + run->len == hva && run->first_pfn + run->len / BALLOON_PAGE == pfn) {
        run->len += BALLOON_PAGE;
    } else {
        flush(p, run, r);
        *run = (struct run){hva, BALLOON_PAGE, pfn};
    }
    return 1;
}

uint32_t balloon_pages_serve(struct balloon_pages *p, const struct plugvm_chain *c, bool deflate,
                             struct balloon_refusals *r)
{
    memset(r, 0, sizeof(*r));
    uint32_t done = 0;
    struct run run = {0};
    uint8_t part[4];
    unsigned have = 0; /* bytes of a PFN split across two buffers */
    pthread_mutex_lock(&p->lock);
    for (uint16_t i = 0; i < c->niov; i++) {
        const struct plugvm_iov *v = &c->iov[i];
        if (v->writable)
            break; /* readable buffers come first; the rest are not PFNs */
        const uint8_t *b = v->addr;
        for (uint32_t k = 0; k < v->len; k++) {
            part[have++] = b[k];
            if (have == 4) {
                uint32_t pfn = (uint32_t)part[0] | (uint32_t)part[1] << 8 |
                               (uint32_t)part[2] << 16 | (uint32_t)part[3] << 24;
                done += one_pfn(p, pfn, deflate, &run, r);
                have = 0;
            }
        }
    }
    flush(p, &run, r);
    pthread_mutex_unlock(&p->lock);
    r->partial = have;
    return done;
}

/* The first inflated PFN at or after i, or npfn: a word at a time, since
 * the bitmap covers RAM plus 4 GiB and is mostly empty. */
static uint64_t next_set(const struct balloon_pages *p, uint64_t i)
{
    while (i < p->npfn) {
        uint64_t word = p->inflated[i / 64] >> (i % 64);
        if (word)
            return i + (uint64_t)__builtin_ctzll(word);
        i = (i / 64 + 1) * 64;
    }
    return p->npfn;
}

/* How many PFNs from i on (i inflated) are inflated. */
static uint64_t run_length(const struct balloon_pages *p, uint64_t i)
{
    uint64_t n = 0;
    while (i + n < p->npfn) {
        uint64_t at = i + n, word = ~p->inflated[at / 64] >> (at % 64);
        if (word) {
            n += (uint64_t)__builtin_ctzll(word);
            break;
        }
        n += 64 - at % 64;
    }
    return i + n > p->npfn ? p->npfn - i : n;
}

int balloon_pages_save(struct balloon_pages *p, struct plugvm_record_writer *w)
{
    const struct plugvm_record_writer_ops *o = w->ops;
    pthread_mutex_lock(&p->lock);
    uint32_t runs = 0;
    for (uint64_t i = next_set(p, 0); i < p->npfn; i = next_set(p, i + run_length(p, i)))
        runs++;
    int rc = o->put_u64(w, p->npfn);
    rc = rc ? rc : o->put_u64(w, p->count);
    rc = rc ? rc : o->put_u32(w, runs);
    for (uint64_t i = next_set(p, 0); i < p->npfn && !rc;) {
        uint64_t n = run_length(p, i);
        rc = o->put_u64(w, i);
        rc = rc ? rc : o->put_u64(w, n);
        i = next_set(p, i + n);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int restore_runs(struct balloon_pages *p, struct plugvm_record_reader *r, const char **why)
{
    const struct plugvm_record_reader_ops *o = r->ops;
    uint64_t npfn, count, sum = 0;
    uint32_t runs;
    *why = "it is truncated";
    if (o->get_u64(r, &npfn) || o->get_u64(r, &count) || o->get_u32(r, &runs))
        return -EBADMSG;
    if (npfn != p->npfn) {
        *why = "it was saved for another size of guest RAM";
        return -EBADMSG;
    }
    uint64_t end = 0;
    for (uint32_t k = 0; k < runs; k++) {
        uint64_t first, n;
        if (o->get_u64(r, &first) || o->get_u64(r, &n))
            return -EBADMSG;
        /* In order, apart, inside: what save writes, and nothing else. */
        if (n == 0 || first < end || first > npfn || n > npfn - first) {
            *why = "a run of pages is empty, out of order or past guest RAM";
            return -EBADMSG;
        }
        for (uint64_t i = first; i < first + n; i++)
            set_bit(p->inflated, i, true);
        end = first + n + 1;
        sum += n;
    }
    if (sum != count) {
        *why = "its runs do not add up to its page count";
        return -EBADMSG;
    }
    p->count = count;
    return 0;
}

int balloon_pages_restore(struct balloon_pages *p, struct plugvm_record_reader *r, const char **why)
{
    int rc = restore_runs(p, r, why);
    if (rc)
        balloon_pages_clear(p); /* nothing half-restored */
    return rc;
}
