/* SPDX-License-Identifier: Apache-2.0 */
/* The launch record, both ways (guest/init/launch.h). */
#include "launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

struct out {
    uint8_t *buf;
    size_t len, cap;
};

static int field(struct out *o, uint16_t tag, const void *p, size_t len)
{
    if (len > LAUNCH_MAX || o->len + 6 + len > LAUNCH_HEADER + (size_t)LAUNCH_MAX)
        return -1;
    if (o->len + 6 + len > o->cap) {
        size_t cap = o->cap * 2 > o->len + 6 + len ? o->cap * 2 : o->len + 6 + len + 256;
        uint8_t *b = realloc(o->buf, cap);
        if (!b)
            return -1;
        o->buf = b;
        o->cap = cap;
    }
    put16(o->buf + o->len, tag);
    put32(o->buf + o->len + 2, (uint32_t)len);
    if (len)
        memcpy(o->buf + o->len + 6, p, len);
    o->len += 6 + len;
    return 0;
}

static int str(struct out *o, uint16_t tag, const char *s)
{
    return field(o, tag, s, strlen(s));
}

int launch_encode(const struct launch *l, uint8_t **buf, size_t *len)
{
    struct out o = {0};
    if (!l->argc || l->argc > LAUNCH_STRINGS_MAX || l->nenv > LAUNCH_STRINGS_MAX || l->nvolumes > LAUNCH_VOLUMES_MAX ||
        l->entropy_len > LAUNCH_ENTROPY_MAX || !l->cwd || !l->user)
        return -1;
    o.cap = 4096;
    if (!(o.buf = malloc(o.cap)))
        return -1;
    memcpy(o.buf, LAUNCH_MAGIC, 4);
    put16(o.buf + 4, LAUNCH_VERSION);
    put16(o.buf + 6, l->flags);
    o.len = LAUNCH_HEADER;
    int rc = 0;
    for (size_t i = 0; !rc && i < l->argc; i++)
        rc = str(&o, LAUNCH_ARG, l->argv[i]);
    for (size_t i = 0; !rc && i < l->nenv; i++)
        rc = str(&o, LAUNCH_ENV, l->env[i]);
    for (size_t i = 0; !rc && i < l->nvolumes; i++)
        rc = str(&o, LAUNCH_VOLUME, l->volumes[i]);
    if (!rc)
        rc = str(&o, LAUNCH_CWD, l->cwd);
    if (!rc)
        rc = str(&o, LAUNCH_USER, l->user);
    if (!rc && l->hostname && l->hostname[0])
        rc = str(&o, LAUNCH_HOSTNAME, l->hostname);
    if (!rc && (l->flags & LAUNCH_F_TTY)) {
        uint8_t ws[4];
        put16(ws, l->rows);
        put16(ws + 2, l->cols);
        rc = field(&o, LAUNCH_WINSIZE, ws, 4);
    }
    if (!rc && l->entropy_len)
        rc = field(&o, LAUNCH_ENTROPY, l->entropy, l->entropy_len);
    if (!rc && l->clock_ns) {
        uint8_t c[8];
        put32(c, (uint32_t)l->clock_ns);
        put32(c + 4, (uint32_t)(l->clock_ns >> 32));
        rc = field(&o, LAUNCH_CLOCK, c, 8);
    }
    if (rc) {
        free(o.buf);
        return -1;
    }
    put32(o.buf + 8, (uint32_t)(o.len - LAUNCH_HEADER));
    *buf = o.buf;
    *len = o.len;
    return 0;
}

size_t launch_size(const uint8_t *buf, size_t n)
{
    if (n < LAUNCH_HEADER || memcmp(buf, LAUNCH_MAGIC, 4) || get16(buf + 4) != LAUNCH_VERSION)
        return 0;
    uint32_t len = get32(buf + 8);
    return len > LAUNCH_MAX ? 0 : LAUNCH_HEADER + (size_t)len;
}

static int bad(char *err, size_t errlen, const char *why, unsigned tag, size_t at)
{
    snprintf(err, errlen, "launch record: %s (field %u at byte %zu)", why, tag, at);
    return -1;
}

/* Walks the fields: counts strings and their bytes (copy == NULL), or
 * copies them into l (copy: the arena's string area). */
static int walk(const uint8_t *buf, size_t len, struct launch *l, size_t *nargs, size_t *nenv, size_t *nvol,
                size_t *bytes, char *copy, char *err, size_t errlen)
{
    size_t at = LAUNCH_HEADER;
    unsigned seen = 0;
    *nargs = *nenv = *nvol = *bytes = 0;
    while (at < len) {
        if (len - at < 6)
            return bad(err, errlen, "a field header cut short", 0, at);
        uint16_t tag = get16(buf + at);
        uint32_t flen = get32(buf + at + 2);
        const uint8_t *p = buf + at + 6;
        if (flen > len - at - 6)
            return bad(err, errlen, "a field longer than the record", tag, at);
        bool string = (tag >= LAUNCH_ARG && tag <= LAUNCH_HOSTNAME) || tag == LAUNCH_VOLUME;
        if (tag >= LAUNCH_CWD && tag <= LAUNCH_CLOCK) {
            if (seen & (1u << tag))
                return bad(err, errlen, "a field given twice", tag, at);
            seen |= 1u << tag;
        }
        if (string && memchr(p, '\0', flen))
            return bad(err, errlen, "a NUL inside a string", tag, at);
        switch (tag) {
        case LAUNCH_ARG:
        case LAUNCH_ENV: {
            size_t *count = tag == LAUNCH_ARG ? nargs : nenv;
            if (++*count > LAUNCH_STRINGS_MAX)
                return bad(err, errlen, "more than 4096 strings", tag, at);
            if (copy) {
                char **v = tag == LAUNCH_ARG ? l->argv : l->env;
                v[*count - 1] = copy + *bytes;
            }
            break;
        }
        case LAUNCH_VOLUME:
            if (++*nvol > LAUNCH_VOLUMES_MAX)
                return bad(err, errlen, "more than 16 volumes", tag, at);
            if (flen < 4 || (memcmp(p, "ro:", 3) && memcmp(p, "rw:", 3)) ||
                (p[3] != '/' && (flen < 7 || memcmp(p + 3, "fs:/", 4))))
                return bad(err, errlen, "a volume not \"ro:/PATH\", \"rw:/PATH\", \"ro:fs:/PATH\" or \"rw:fs:/PATH\"",
                           tag, at);
            if (copy)
                l->volumes[*nvol - 1] = copy + *bytes;
            break;
        case LAUNCH_CWD:
            if (!flen || p[0] != '/')
                return bad(err, errlen, "the working directory is not an absolute path", tag, at);
            if (copy)
                l->cwd = copy + *bytes;
            break;
        case LAUNCH_USER:
            if (copy)
                l->user = copy + *bytes;
            break;
        case LAUNCH_HOSTNAME:
            if (flen > 64)
                return bad(err, errlen, "a hostname over 64 bytes", tag, at);
            if (copy)
                l->hostname = copy + *bytes;
            break;
        case LAUNCH_WINSIZE:
            if (flen != 4)
                return bad(err, errlen, "a window size not of 4 bytes", tag, at);
            l->rows = get16(p);
            l->cols = get16(p + 2);
            break;
        case LAUNCH_ENTROPY:
            if (!flen || flen > LAUNCH_ENTROPY_MAX)
                return bad(err, errlen, "entropy not of 1 to 256 bytes", tag, at);
            memcpy(l->entropy, p, flen);
            l->entropy_len = flen;
            break;
        case LAUNCH_CLOCK:
            if (flen != 8)
                return bad(err, errlen, "a clock not of 8 bytes", tag, at);
            l->clock_ns = (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
            break;
        default:
            break; /* a newer host's field */
        }
        if (string) {
            if (copy) {
                memcpy(copy + *bytes, p, flen);
                copy[*bytes + flen] = '\0';
            }
            *bytes += (size_t)flen + 1;
        }
        at += 6 + (size_t)flen;
    }
    if (!*nargs)
        return bad(err, errlen, "no argv", LAUNCH_ARG, at);
    if (!(seen & (1u << LAUNCH_CWD)) || !(seen & (1u << LAUNCH_USER)))
        return bad(err, errlen, "no working directory or no user", LAUNCH_CWD, at);
    return 0;
}

int launch_decode(const uint8_t *buf, size_t len, struct launch *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (launch_size(buf, len) != len) {
        snprintf(err, errlen, "launch record: not a version %d record of %zu bytes", LAUNCH_VERSION, len);
        return -1;
    }
    size_t nargs, nenv, nvol, bytes;
    if (walk(buf, len, out, &nargs, &nenv, &nvol, &bytes, NULL, err, errlen))
        return -1;
    /* One arena: the three pointer arrays, then every string. */
    size_t ptrs = (nargs + 1 + nenv + 1 + nvol + 1) * sizeof(char *);
    char **arena = malloc(ptrs + bytes + 1);
    if (!arena) {
        snprintf(err, errlen, "launch record: out of memory");
        return -1;
    }
    out->arena = arena;
    out->argv = arena;
    out->env = arena + nargs + 1;
    out->volumes = out->env + nenv + 1;
    char *strings = (char *)arena + ptrs;
    strings[bytes] = '\0';
    out->hostname = strings + bytes; /* "" unless given */
    walk(buf, len, out, &nargs, &nenv, &nvol, &bytes, strings, err, errlen);
    out->argv[nargs] = NULL;
    out->env[nenv] = NULL;
    out->volumes[nvol] = NULL;
    out->nvolumes = nvol;
    out->argc = nargs;
    out->nenv = nenv;
    out->flags = get16(buf + 6);
    return 0;
}

void launch_free(struct launch *l)
{
    free(l->arena);
    memset(l, 0, sizeof(*l));
}
