/* SPDX-License-Identifier: Apache-2.0 */
#include "statefile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "util/error.h"
#include "util/fileio.h"

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t crc(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, a, (uInt)alen);
    /* Bodies are below 4 GiB (the codec's u32 length), so one call each. */
    if (blen)
        c = crc32(c, b, (uInt)blen);
    return (uint32_t)c;
}

const char *statefile_owner_name(struct statefile_owner o, char *buf, size_t len)
{
    switch (o.kind) {
    case STATEFILE_OWNER_CORE:
        snprintf(buf, len, "core");
        break;
    case STATEFILE_OWNER_BACKEND:
        if (o.index == 0)
            snprintf(buf, len, "backend");
        else
            snprintf(buf, len, "vCPU %u", o.index - 1);
        break;
    case STATEFILE_OWNER_DEVICE:
        snprintf(buf, len, "devices[%u]", o.index);
        break;
    case STATEFILE_OWNER_TRANSPORT:
        snprintf(buf, len, "devices[%u] transport", o.index);
        break;
    default:
        snprintf(buf, len, "owner kind %u", o.kind);
    }
    return buf;
}

/* Walks a section in the codec's layout; false at its end. */
static bool next_record(const struct statefile_section *s, size_t *at, uint32_t *tag,
                        uint32_t *version, const uint8_t **body, uint32_t *len)
{
    if (s->len - *at < RECORD_HEADER_SIZE)
        return false;
    const uint8_t *p = s->data + *at;
    *tag = (uint32_t)get_le(p, 4);
    *version = (uint32_t)get_le(p + 4, 4);
    *len = (uint32_t)get_le(p + 8, 4);
    if (*len > s->len - *at - RECORD_HEADER_SIZE)
        return false;
    *body = p + RECORD_HEADER_SIZE;
    *at += RECORD_HEADER_SIZE + *len;
    return true;
}

int statefile_write(int fd, const struct statefile_header *h, const struct statefile_section *s,
                    size_t n, char *err, size_t errlen)
{
    size_t total = STATEFILE_HEADER_SIZE, count = 0;
    for (size_t i = 0; i < n; i++) {
        size_t at = 0;
        uint32_t tag, version, len;
        const uint8_t *body;
        while (next_record(&s[i], &at, &tag, &version, &body, &len)) {
            total += STATEFILE_RECORD_HEADER_SIZE + len;
            count++;
        }
        if (at != s[i].len) {
            char o[32];
            return pv_fail(err, errlen, "state file: the records of %s are malformed",
                           statefile_owner_name(s[i].owner, o, sizeof(o)));
        }
    }
    if (count > UINT32_MAX)
        return pv_fail(err, errlen, "state file: too many records");
    uint8_t *buf = calloc(1, total);
    if (!buf)
        return pv_fail(err, errlen, "state file: out of memory for %zu bytes", total);
    memcpy(buf, STATEFILE_MAGIC, 8);
    put_le(buf + 8, STATEFILE_VERSION, 4);
    put_le(buf + 12, STATEFILE_HEADER_SIZE, 4);
    memcpy(buf + 16, h->arch, strnlen(h->arch, STATEFILE_NAME_MAX));
    memcpy(buf + 32, h->backend, strnlen(h->backend, STATEFILE_NAME_MAX));
    put_le(buf + 48, h->memory_bytes, 8);
    put_le(buf + 56, count, 4);
    put_le(buf + 60, crc(buf, 60, NULL, 0), 4);
    size_t out = STATEFILE_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        size_t at = 0;
        uint32_t tag, version, len;
        const uint8_t *body;
        while (next_record(&s[i], &at, &tag, &version, &body, &len)) {
            uint8_t *r = buf + out;
            put_le(r, s[i].owner.kind, 4);
            put_le(r + 4, s[i].owner.index, 4);
            put_le(r + 8, tag, 4);
            put_le(r + 12, version, 4);
            put_le(r + 16, len, 4);
            put_le(r + 20, crc(r, 20, body, len), 4);
            memcpy(r + STATEFILE_RECORD_HEADER_SIZE, body, len);
            out += STATEFILE_RECORD_HEADER_SIZE + len;
        }
    }
    int rc = write_all(fd, buf, total);
    int e = errno;
    free(buf);
    if (rc) {
        errno = e;
        return pv_fail(err, errlen, "state file: write: %s", strerror(e));
    }
    return 0;
}

_Thread_local unsigned long long statefile_owner_compares;

static int owner_cmp(struct statefile_owner a, struct statefile_owner b)
{
    statefile_owner_compares++;
    if (a.kind != b.kind)
        return a.kind < b.kind ? -1 : 1;
    return a.index < b.index ? -1 : a.index > b.index;
}

/* statefile_find used to walk every section per lookup, and the parser
 * every section per record: quadratic in the owners a hostile file names
 * (issue 12). A binary search over the owner-ordered index instead. */
const struct statefile_section *statefile_find(const struct statefile *sf,
                                               struct statefile_owner owner)
{
    size_t lo = 0, hi = sf->nsections;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = owner_cmp(sf->sections[sf->by_owner[mid]].owner, owner);
        if (c == 0)
            return &sf->sections[sf->by_owner[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void statefile_free(struct statefile *sf)
{
    free(sf->sections);
    free(sf->by_owner);
    free(sf->storage);
    memset(sf, 0, sizeof(*sf));
}

/* A record met by pass 1: its owner, number in the file, offset, body length. */
struct rec {
    struct statefile_owner owner;
    uint32_t n;
    size_t at;
    uint32_t blen;
};

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    int c = owner_cmp(x->owner, y->owner);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* One owner's section, with its first record's number (file order) and
 * its place in owner order. */
struct group {
    struct statefile_section sec;
    uint32_t first;
    size_t rank;
};

static int group_cmp(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    statefile_owner_compares++;
    return (x->first > y->first) - (x->first < y->first);
}

int statefile_parse(struct statefile *sf, const char *path, const uint8_t *data, size_t len,
                    char *err, size_t errlen)
{
    memset(sf, 0, sizeof(*sf));
    if (len < STATEFILE_HEADER_SIZE)
        return pv_fail(err, errlen, "%s: %zu bytes, shorter than the %u-byte header: truncated",
                       path, len, STATEFILE_HEADER_SIZE);
    if (memcmp(data, STATEFILE_MAGIC, 8) != 0)
        return pv_fail(err, errlen, "%s: not a plugvm state file (no \"%s\" magic)", path,
                       STATEFILE_MAGIC);
    uint32_t version = (uint32_t)get_le(data + 8, 4);
    if (version != STATEFILE_VERSION)
        return pv_fail(err, errlen, "%s: state file format version %u; this plugvm reads "
                       "version %u", path, version, STATEFILE_VERSION);
    if (get_le(data + 60, 4) != crc(data, 60, NULL, 0))
        return pv_fail(err, errlen, "%s: the header's CRC32 does not match: the file is damaged",
                       path);
    if (get_le(data + 12, 4) != STATEFILE_HEADER_SIZE)
        return pv_fail(err, errlen, "%s: header of %u bytes, expected %u", path,
                       (unsigned)get_le(data + 12, 4), STATEFILE_HEADER_SIZE);
    memcpy(sf->header.arch, data + 16, STATEFILE_NAME_MAX);
    memcpy(sf->header.backend, data + 32, STATEFILE_NAME_MAX);
    sf->header.arch[STATEFILE_NAME_MAX - 1] = sf->header.backend[STATEFILE_NAME_MAX - 1] = '\0';
    sf->header.memory_bytes = get_le(data + 48, 8);
    uint32_t count = (uint32_t)get_le(data + 56, 4);

    /* Pass 1: every record's bounds, CRC and owner. Each record takes at
     * least its 24-byte header, so no more than that many are allocated
     * for, whatever `count` claims: one more would be past the end. */
    size_t cap = (len - STATEFILE_HEADER_SIZE) / STATEFILE_RECORD_HEADER_SIZE;
    if (cap > count)
        cap = count;
    struct rec *recs = malloc((cap ? cap : 1) * sizeof(*recs));
    if (!recs)
        return pv_fail(err, errlen, "%s: out of memory for %zu records", path, cap);
    size_t at = STATEFILE_HEADER_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        if (len - at < STATEFILE_RECORD_HEADER_SIZE) {
            free(recs);
            return pv_fail(err, errlen, "%s: truncated: record %u of %u is missing", path, i + 1,
                           count);
        }
        const uint8_t *r = data + at;
        struct statefile_owner o = {(uint32_t)get_le(r, 4), (uint32_t)get_le(r + 4, 4)};
        uint32_t tag = (uint32_t)get_le(r + 8, 4), blen = (uint32_t)get_le(r + 16, 4);
        char on[32];
        statefile_owner_name(o, on, sizeof(on));
        if (blen > len - at - STATEFILE_RECORD_HEADER_SIZE) {
            free(recs);
            return pv_fail(err, errlen, "%s: truncated: record %u (%s, tag %u) says %u bytes, "
                           "%zu remain", path, i + 1, on, tag, blen,
                           len - at - STATEFILE_RECORD_HEADER_SIZE);
        }
        if (get_le(r + 20, 4) != crc(r, 20, r + STATEFILE_RECORD_HEADER_SIZE, blen)) {
            free(recs);
            return pv_fail(err, errlen, "%s: record %u (%s, tag %u): CRC32 does not match: the "
                           "file is damaged", path, i + 1, on, tag);
        }
        if (o.kind < STATEFILE_OWNER_CORE || o.kind > STATEFILE_OWNER_TRANSPORT) {
            free(recs);
            return pv_fail(err, errlen, "%s: record %u: unknown owner kind %u", path, i + 1,
                           o.kind);
        }
        recs[i] = (struct rec){o, i, at, blen};
        at += STATEFILE_RECORD_HEADER_SIZE + blen;
    }
    if (at != len) {
        free(recs);
        return pv_fail(err, errlen, "%s: %zu bytes after the last of its %u records", path,
                       len - at, count);
    }

    /* Pass 2: the records ordered by owner, then file order (n log n),
     * each owner's run copied contiguously in the codec's layout. */
    qsort(recs, count, sizeof(*recs), rec_cmp);
    size_t ngroups = 0, total = 0;
    for (size_t i = 0; i < count; i++) {
        if (i == 0 || owner_cmp(recs[i - 1].owner, recs[i].owner))
            ngroups++;
        total += RECORD_HEADER_SIZE + recs[i].blen;
    }
    struct group *groups = calloc(ngroups ? ngroups : 1, sizeof(*groups));
    struct statefile_section *secs = calloc(ngroups ? ngroups : 1, sizeof(*secs));
    size_t *by_owner = calloc(ngroups ? ngroups : 1, sizeof(*by_owner));
    uint8_t *store = malloc(total ? total : 1);
    if (!groups || !secs || !by_owner || !store) {
        free(groups);
        free(secs);
        free(by_owner);
        free(store);
        free(recs);
        return pv_fail(err, errlen, "%s: out of memory", path);
    }
    size_t k = 0, off = 0;
    for (size_t i = 0; i < count; i++) {
        if (i > 0 && owner_cmp(recs[i - 1].owner, recs[i].owner))
            k++;
        struct group *g = &groups[k];
        if (!g->sec.data) {
            g->sec = (struct statefile_section){.owner = recs[i].owner, .data = store + off};
            g->first = recs[i].n;
            g->rank = k;
        }
        const uint8_t *r = data + recs[i].at;
        uint8_t *d = store + off;
        memcpy(d, r + 8, 8); /* tag, version */
        put_le(d + 8, recs[i].blen, 4);
        memcpy(d + RECORD_HEADER_SIZE, r + STATEFILE_RECORD_HEADER_SIZE, recs[i].blen);
        off += RECORD_HEADER_SIZE + recs[i].blen;
        g->sec.len += RECORD_HEADER_SIZE + recs[i].blen;
    }
    free(recs);
    /* Sections in file order (restore names the first foreign owner met);
     * by_owner keeps the owner order for statefile_find. */
    qsort(groups, ngroups, sizeof(*groups), group_cmp);
    for (size_t j = 0; j < ngroups; j++) {
        secs[j] = groups[j].sec;
        by_owner[groups[j].rank] = j;
    }
    free(groups);
    sf->sections = secs;
    sf->nsections = ngroups;
    sf->by_owner = by_owner;
    sf->storage = store;
    return 0;
}
